/* test_lwip_netif_sys.c - the lwIP netif glue (include/tse/lwip_netif.h)
 * with NO_SYS=0 lwIP: the tcpip thread on one side, this thread playing the
 * tunnel's driver thread on the other.  Runs against Debian's liblwip 2.1.3
 * (TSE_DEPS=system) and the NO_SYS=0 lwIP 2.2.1 build (debian-src).
 *
 * What crosses threads here is exactly what crosses them in an application:
 * output queued by the netif (the test sends under the core lock, as a
 * socket call does), drained by tse_lwip_netif_flush() into a recording
 * sink; inbound packets posted by tse_lwip_netif_on_packet() to the tcpip
 * thread, whose UDP callback signals a semaphore the test waits on with a
 * bounded timeout (no sleeps). */
#include "tt.h"

#if defined(TSE_TEST_NO_LWIP_NETIF)

int main(void)
{
    printf("test_lwip_netif_sys: no NO_SYS=0 lwIP in this configuration\n");
    (void)tt_failed_checks;
    return TT_DONE();
}

#else

#include <stdlib.h>

#include "lwip/ip_addr.h"
#include "lwip/netif.h"
#include "lwip/pbuf.h"
#include "lwip/sys.h"
#include "lwip/tcpip.h"
#include "lwip/udp.h"

#include "tse/lwip_netif.h"
#include "tse/tse.h"

#if NO_SYS
#error "test_lwip_netif_sys needs the NO_SYS=0 lwIP"
#endif

#define WAIT_MS 5000 /* bound on waiting for the tcpip thread */

/* ---- the fake tunnel side (only this thread touches it) ------------------ */

#define MAX_SENT 64
static struct {
    uint8_t pkt[MAX_SENT][256];
    size_t len[MAX_SENT];
    size_t n;
    int refuse;
} sink;

static int notified; /* written by whoever runs lwIP's output */

static tse_time_ms test_now(void *user)
{
    (void)user;
    return 1000;
}

static void test_notify(void *user)
{
    (void)user;
    notified++;
}

static int test_send(void *user, tse_tunnel *t, const uint8_t *pkt,
                     size_t len, tse_time_ms now)
{
    (void)user; (void)t; (void)now;
    if (sink.refuse != 0) {
        return sink.refuse;
    }
    if (sink.n < MAX_SENT && len <= sizeof(sink.pkt[0])) {
        memcpy(sink.pkt[sink.n], pkt, len);
        sink.len[sink.n] = len;
    }
    sink.n++;
    return TSE_OK;
}

static void ev_cb(void *u, const tse_event *ev) { (void)u; (void)ev; }
static void pkt_cb(void *u, const uint8_t *p, size_t n) { (void)u; (void)p; (void)n; }
static int ent_cb(void *u, uint8_t *b, size_t n)
{
    (void)u;
    memset(b, 0x5a, n);
    return 0;
}
static void *m_calloc(void *u, size_t n, size_t s) { (void)u; return calloc(n, s); }
static void m_free(void *u, void *p) { (void)u; free(p); }

static tse_tunnel *tunnel;
static tse_lwip_netif tn;

static tse_tunnel *make_tunnel(void)
{
    tse_settings s;
    tse_callbacks cb = { ev_cb, pkt_cb, ent_cb, NULL };
    tse_mem mem = { NULL, m_calloc, m_free };
    tse_tunnel *t = NULL;
    tse_settings_default(&s);
    s.server_host = "tscf.test";
    s.tls_insecure_lab_only_skip_verify = 1;
    if (tse_tunnel_new(&t, &s, &cb, &mem, NULL) != TSE_OK) {
        return NULL;
    }
    return t;
}

static void send_event(tse_event_type type, tse_state st,
                       const tse_tunnel_config *c)
{
    tse_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.type = type;
    ev.state = st;
    ev.config = c;
    tse_lwip_netif_on_event(&tn, &ev);
}

/* ---- lwIP side ------------------------------------------------------------ */

static sys_sem_t rx_sem;
static struct udp_pcb *upcb;
static struct {
    char data[64];
    int n;
    u16_t port;
} got; /* written in the tcpip thread before rx_sem is signalled */

static void udp_rx(void *arg, struct udp_pcb *pcb, struct pbuf *p,
                   const ip_addr_t *addr, u16_t port)
{
    (void)arg; (void)pcb; (void)addr;
    memset(got.data, 0, sizeof(got.data));
    pbuf_copy_partial(p, got.data, sizeof(got.data) - 1, 0);
    got.port = port;
    got.n++;
    pbuf_free(p);
    sys_sem_signal(&rx_sem);
}

/* Send like a socket call does: under the core lock, from this thread. */
static err_t send_udp4(const char *text)
{
    ip_addr_t dst;
    struct pbuf *p;
    err_t e;
    size_t len = strlen(text);
    IP_ADDR4(&dst, 198, 18, 0, 1);
    LOCK_TCPIP_CORE();
    p = pbuf_alloc(PBUF_TRANSPORT, (u16_t)len, PBUF_RAM);
    if (p == NULL) {
        UNLOCK_TCPIP_CORE();
        return ERR_MEM;
    }
    memcpy(p->payload, text, len);
    e = udp_sendto(upcb, p, &dst, 7);
    pbuf_free(p);
    UNLOCK_TCPIP_CORE();
    return e;
}

static uint16_t csum(const uint8_t *p, size_t n, uint32_t sum)
{
    size_t i;
    for (i = 0; i + 1 < n; i += 2) {
        sum += ((uint32_t)p[i] << 8) | p[i + 1];
    }
    if (n & 1) {
        sum += (uint32_t)p[n - 1] << 8;
    }
    while (sum >> 16) {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    return (uint16_t)~sum;
}

/* IPv4/UDP, UDP checksum 0 (none: allowed for IPv4) */
static size_t udp4(uint8_t *b, const uint8_t src[4], const uint8_t dst[4],
                   uint16_t sport, uint16_t dport, const char *payload)
{
    size_t plen = strlen(payload), ulen = 8 + plen, total = 20 + ulen;
    uint16_t c;
    memset(b, 0, 28);
    b[0] = 0x45;
    b[2] = (uint8_t)(total >> 8); b[3] = (uint8_t)total;
    b[8] = 64; b[9] = 17;
    memcpy(b + 12, src, 4);
    memcpy(b + 16, dst, 4);
    c = csum(b, 20, 0);
    b[10] = (uint8_t)(c >> 8); b[11] = (uint8_t)c;
    b[20] = (uint8_t)(sport >> 8); b[21] = (uint8_t)sport;
    b[22] = (uint8_t)(dport >> 8); b[23] = (uint8_t)dport;
    b[24] = (uint8_t)(ulen >> 8); b[25] = (uint8_t)ulen;
    memcpy(b + 28, payload, plen);
    return total;
}

static const uint8_t server4[4] = { 198, 18, 0, 1 };
static const uint8_t me4[4] = { 10, 7, 0, 2 };

/* ---- tests ---------------------------------------------------------------- */

TT_TEST(add_and_up_through_the_core)
{
    tse_lwip_netif_config c;
    tse_tunnel_config tc;
    tse_lwip_netif_config_default(&c);
    c.now_ms = test_now;
    c.notify = test_notify;
    c.send_packet = test_send;
    c.set_default = 1;
    TT_EQ_INT(tse_lwip_netif_add(&tn, tunnel, &c), TSE_OK);
    TT_ASSERT(netif_is_up(&tn.netif));
    TT_ASSERT(!netif_is_link_up(&tn.netif));
    TT_EQ_INT(tn.netif.mtu, 1400);
    TT_ASSERT(tn.netif.input == tcpip_input);

    memset(&tc, 0, sizeof(tc));
    memcpy(tc.ipv4, me4, 4);
    memset(tc.ipv4_mask, 255, 4);
    send_event(TSE_EV_TUNNEL_UP, TSE_STATE_UP, &tc);
    TT_ASSERT(netif_is_link_up(&tn.netif));
    TT_EQ_INT(ip4_addr_get_u32(netif_ip4_addr(&tn.netif)), PP_HTONL(0x0a070002UL));

    LOCK_TCPIP_CORE();
    upcb = udp_new_ip_type(IPADDR_TYPE_ANY);
    if (upcb != NULL) {
        udp_bind(upcb, IP_ANY_TYPE, 4000);
        udp_recv(upcb, udp_rx, NULL);
    }
    UNLOCK_TCPIP_CORE();
    TT_ASSERT(upcb != NULL);
}

TT_TEST(output_is_queued_then_flushed_by_the_driver)
{
    tse_lwip_netif_stats st;
    int n0 = notified;
    TT_EQ_INT(send_udp4("one"), ERR_OK);
    TT_EQ_INT(send_udp4("two"), ERR_OK);
    /* nothing reaches the tunnel from lwIP's side */
    TT_EQ_INT(sink.n, 0);
    TT_EQ_INT(tse_lwip_netif_pending(&tn), 2);
    TT_EQ_INT(notified, n0 + 2);
    TT_EQ_INT(tse_lwip_netif_flush(&tn, 1000), TSE_OK);
    TT_EQ_INT(tse_lwip_netif_pending(&tn), 0);
    TT_EQ_INT(sink.n, 2);
    TT_EQ_INT(sink.len[0], 20 + 8 + 3);
    TT_EQ_MEM(sink.pkt[0] + 12, me4, 4);
    TT_EQ_MEM(sink.pkt[0] + 16, server4, 4);
    TT_EQ_MEM(sink.pkt[0] + 28, "one", 3);
    TT_EQ_MEM(sink.pkt[1] + 28, "two", 3);
    tse_lwip_netif_get_stats(&tn, &st);
    TT_EQ_INT(st.tx_packets, 2);
}

TT_TEST(full_tunnel_keeps_packets_full_queue_refuses)
{
    tse_lwip_netif_stats st;
    int i;
    size_t before = sink.n;
    TT_EQ_INT(send_udp4("kept"), ERR_OK);
    sink.refuse = TSE_ERR_QUEUE_FULL;
    TT_EQ_INT(tse_lwip_netif_flush(&tn, 1000), TSE_ERR_QUEUE_FULL);
    TT_EQ_INT(tse_lwip_netif_pending(&tn), 1);  /* still there */
    for (i = 1; i < TSE_LWIP_NETIF_TXQ_LEN; i++) {
        TT_EQ_INT(send_udp4("fill"), ERR_OK);
    }
    TT_EQ_INT(tse_lwip_netif_pending(&tn), TSE_LWIP_NETIF_TXQ_LEN);
    TT_EQ_INT(send_udp4("overflow"), ERR_MEM);   /* the hand-off is bounded */
    tse_lwip_netif_get_stats(&tn, &st);
    TT_EQ_INT(st.tx_queue_full, 1);
    sink.refuse = 0;
    TT_EQ_INT(tse_lwip_netif_flush(&tn, 1000), TSE_OK);
    TT_EQ_INT(tse_lwip_netif_pending(&tn), 0);
    TT_EQ_INT(sink.n, before + TSE_LWIP_NETIF_TXQ_LEN);
    TT_EQ_MEM(sink.pkt[before] + 28, "kept", 4);   /* order kept */

    /* refused otherwise: dropped and counted, the queue moves on */
    TT_EQ_INT(send_udp4("x"), ERR_OK);
    sink.refuse = TSE_ERR_NOT_UP;
    TT_EQ_INT(tse_lwip_netif_flush(&tn, 1000), TSE_OK);
    sink.refuse = 0;
    TT_EQ_INT(tse_lwip_netif_pending(&tn), 0);
    tse_lwip_netif_get_stats(&tn, &st);
    TT_EQ_INT(st.tx_not_up, 1);
}

TT_TEST(inbound_is_posted_to_the_tcpip_thread)
{
    uint8_t pkt[128];
    size_t n = udp4(pkt, server4, me4, 7, 4000, "from the tunnel");
    tse_lwip_netif_stats st;
    TT_EQ_INT(tse_lwip_netif_on_packet(&tn, pkt, n), TSE_OK);
    TT_ASSERT(sys_arch_sem_wait(&rx_sem, WAIT_MS) != SYS_ARCH_TIMEOUT);
    TT_EQ_INT(got.n, 1);
    TT_ASSERT(strcmp(got.data, "from the tunnel") == 0);
    TT_EQ_INT(got.port, 7);
    tse_lwip_netif_get_stats(&tn, &st);
    TT_EQ_INT(st.rx_packets, 1);
}

TT_TEST(down_refuses_output_without_queueing)
{
    send_event(TSE_EV_TUNNEL_DOWN, TSE_STATE_BACKOFF, NULL);
    TT_ASSERT(!netif_is_link_up(&tn.netif));
    TT_ASSERT(send_udp4("nowhere") != ERR_OK);
    TT_EQ_INT(tse_lwip_netif_pending(&tn), 0);
}

TT_TEST(remove_frees_queued_packets)
{
    tse_tunnel_config tc;
    struct netif *i;
    int found = 0;
    memset(&tc, 0, sizeof(tc));
    memcpy(tc.ipv4, me4, 4);
    memset(tc.ipv4_mask, 255, 4);
    send_event(TSE_EV_TUNNEL_UP, TSE_STATE_UP, &tc);
    TT_EQ_INT(send_udp4("left behind"), ERR_OK);
    TT_EQ_INT(tse_lwip_netif_pending(&tn), 1);
    LOCK_TCPIP_CORE();
    udp_remove(upcb);
    UNLOCK_TCPIP_CORE();
    tse_lwip_netif_remove(&tn);
    TT_EQ_INT(tse_lwip_netif_pending(&tn), 0);
    LOCK_TCPIP_CORE();
    NETIF_FOREACH(i) {
        if (i == &tn.netif) {
            found = 1;
        }
    }
    UNLOCK_TCPIP_CORE();
    TT_ASSERT(!found);
    TT_EQ_INT(tse_lwip_netif_flush(&tn, 1000), TSE_ERR_INVALID_ARG);
}

int main(void)
{
    tcpip_init(NULL, NULL);
    if (sys_sem_new(&rx_sem, 0) != ERR_OK) {
        return 1;
    }
    tunnel = make_tunnel();
    if (tunnel == NULL) {
        fprintf(stderr, "tse_tunnel_new failed\n");
        return 1;
    }
    TT_RUN(add_and_up_through_the_core);
    TT_RUN(output_is_queued_then_flushed_by_the_driver);
    TT_RUN(full_tunnel_keeps_packets_full_queue_refuses);
    TT_RUN(inbound_is_posted_to_the_tcpip_thread);
    TT_RUN(down_refuses_output_without_queueing);
    TT_RUN(remove_frees_queued_packets);
    tse_tunnel_del(tunnel);
    return TT_DONE();
}

#endif
