/* test_deps_lwip.c - the lwIP that cmake/TseDeps.cmake provides builds,
 * links and runs: init, pbufs, pools, checksums, PCBs, timers.
 *
 * Linked against tse_dep_lwip: with TSE_DEPS=debian-src/custom the NO_SYS=1
 * build with port/lwip/lwipopts.h (this file then provides sys_now() from a
 * virtual clock), with TSE_DEPS=system Debian's liblwip (NO_SYS=0, Debian's
 * lwipopts.h). */
/* Debian's arch/cc.h relies on POSIX declarations (ssize_t, SSIZE_MAX). */
#define _POSIX_C_SOURCE 200809L
#include "tt.h"

#if defined(TSE_TEST_NO_LWIP)

int main(void)
{
    printf("test_deps_lwip: no lwIP in this configuration (TSE_DEPS=custom without TSE_LWIP_SOURCE_DIR)\n");
    (void)tt_failed_checks;
    return TT_DONE();
}

#else

#include "lwip/opt.h"
#include "lwip/init.h"
#include "lwip/pbuf.h"
#include "lwip/inet_chksum.h"
#include "lwip/ip_addr.h"
#include "lwip/udp.h"
#include "lwip/tcp.h"
#include "lwip/timeouts.h"

#if NO_SYS
static u32_t virtual_now_ms;
u32_t sys_now(void)
{
    return virtual_now_ms;
}
#endif

TT_TEST(version_is_the_configured_one)
{
    TT_EQ_INT(LWIP_VERSION_MAJOR, 2);
#ifdef TSE_TEST_LWIP_VERSION
    /* the headers are those of the tree CMake announced */
    TT_ASSERT(strcmp(LWIP_VERSION_STRING, TSE_TEST_LWIP_VERSION) == 0);
#endif
#ifdef TSE_LWIPOPTS_H
    /* our own options: NO_SYS=1 library, the feature set of lwipopts.h */
    TT_EQ_INT(NO_SYS, 1);
    TT_EQ_INT(LWIP_IPV4, 1);
    TT_EQ_INT(LWIP_IPV6, 1);
    TT_EQ_INT(LWIP_ARP, 0);
    TT_EQ_INT(LWIP_SOCKET, 0);
#endif
}

TT_TEST(init_and_ram_pbufs)
{
    struct pbuf *p;
    lwip_init();
    p = pbuf_alloc(PBUF_RAW, 100, PBUF_RAM);
    TT_ASSERT(p != NULL);
    TT_EQ_INT(p->tot_len, 100);
    TT_EQ_INT(p->len, 100);
    TT_ASSERT(p->next == NULL);
    TT_EQ_INT(pbuf_header(p, 20), 1); /* no room in front of a PBUF_RAW */
    TT_EQ_INT(pbuf_free(p), 1);
}

#ifdef TSE_LWIPOPTS_H
/* Static pools: the pbuf pool holds exactly PBUF_POOL_SIZE buffers and then
 * fails cleanly (no malloc fallback). */
TT_TEST(pbuf_pool_is_bounded)
{
    struct pbuf *held[PBUF_POOL_SIZE + 4];
    int n = 0, i;
    while (n < PBUF_POOL_SIZE + 4) {
        struct pbuf *p = pbuf_alloc(PBUF_RAW, 64, PBUF_POOL);
        if (p == NULL) {
            break;
        }
        held[n++] = p;
    }
    for (i = 0; i < n; i++) {
        pbuf_free(held[i]);
    }
    TT_EQ_INT(n, PBUF_POOL_SIZE);
    /* and they all came back */
    held[0] = pbuf_alloc(PBUF_RAW, 64, PBUF_POOL);
    TT_ASSERT(held[0] != NULL);
    pbuf_free(held[0]);
}
#endif

TT_TEST(ipv4_header_checksum)
{
    /* RFC 1071 style example: a 20-byte IPv4 header, checksum 0xb861 */
    u8_t hdr[20] = {0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
                    0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7};
    u16_t c = inet_chksum(hdr, sizeof hdr);
    memcpy(&hdr[10], &c, 2);
    TT_EQ_INT(hdr[10], 0xb8);
    TT_EQ_INT(hdr[11], 0x61);
    TT_EQ_INT(inet_chksum(hdr, sizeof hdr), 0);
}

TT_TEST(addresses_parse)
{
    ip_addr_t a;
    TT_ASSERT(ipaddr_aton("2001:db8::1", &a));
    TT_ASSERT(IP_IS_V6(&a));
    TT_ASSERT(ipaddr_aton("192.0.2.7", &a));
    TT_ASSERT(IP_IS_V4(&a));
    TT_ASSERT(!ipaddr_aton("not-an-address", &a));
}

TT_TEST(udp_port_in_use_is_refused)
{
    struct udp_pcb *a = udp_new_ip_type(IPADDR_TYPE_ANY);
    struct udp_pcb *b = udp_new_ip_type(IPADDR_TYPE_ANY);
    err_t e1, e2;
    TT_ASSERT(a != NULL && b != NULL);
    e1 = udp_bind(a, IP_ANY_TYPE, 5060);
    e2 = udp_bind(b, IP_ANY_TYPE, 5060);
    udp_remove(a);
    udp_remove(b);
    TT_EQ_INT(e1, ERR_OK);
    TT_EQ_INT(e2, ERR_USE);
}

TT_TEST(tcp_listen_and_close)
{
    struct tcp_pcb *pcb = tcp_new_ip_type(IPADDR_TYPE_ANY);
    struct tcp_pcb *l;
    TT_ASSERT(pcb != NULL);
    TT_EQ_INT(tcp_bind(pcb, IP_ANY_TYPE, 8080), ERR_OK);
    l = tcp_listen(pcb);
    TT_ASSERT(l != NULL);
    TT_EQ_INT(tcp_close(l), ERR_OK);
}

#if NO_SYS
static int fired;
static void on_timeout(void *arg)
{
    *(int *)arg += 1;
}

/* NO_SYS: timers run only from sys_check_timeouts(), on the caller's clock. */
TT_TEST(timeouts_follow_the_virtual_clock)
{
    fired = 0;
    sys_timeout(100, on_timeout, &fired);
    sys_check_timeouts();
    TT_EQ_INT(fired, 0);
    virtual_now_ms += 99;
    sys_check_timeouts();
    TT_EQ_INT(fired, 0);
    virtual_now_ms += 1;
    sys_check_timeouts();
    TT_EQ_INT(fired, 1);
    virtual_now_ms += 1000;
    sys_check_timeouts();
    TT_EQ_INT(fired, 1); /* one-shot */
}
#endif

int main(void)
{
    TT_RUN(version_is_the_configured_one);
    TT_RUN(init_and_ram_pbufs);
#ifdef TSE_LWIPOPTS_H
    TT_RUN(pbuf_pool_is_bounded);
#endif
    TT_RUN(ipv4_header_checksum);
    TT_RUN(addresses_parse);
    TT_RUN(udp_port_in_use_is_refused);
    TT_RUN(tcp_listen_and_close);
#if NO_SYS
    TT_RUN(timeouts_follow_the_virtual_clock);
#endif
    return TT_DONE();
}

#endif
