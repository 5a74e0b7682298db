/*
 * tse-mps2: libtse on a Cortex-M4 (QEMU mps2-an386), bare metal, one
 * NO_SYS=1 main loop.
 *
 *   lwIP netif "en" (LAN9118 Ethernet, static IPv4) = the uplink
 *   lwIP netif "ts" (tse/lwip_netif.h) = the tunnel, lwIP's default netif
 *   outer TCP/TLS to the TSCF over "en" (tse/lwip_port.h, bound to "en")
 *
 * It brings the tunnel up, prints its inner address, sends one SIP OPTIONS
 * over UDP through the tunnel, prints the answer's status line, releases
 * the tunnel, prints the measurements (heap high-water mark, heap in use
 * while up, stack by painting) and exits through semihosting:
 *   0  200 OK received and the tunnel released (CLOSED)
 *   1  an answer other than 200
 *   2  the tunnel did not come up, or no answer in time
 *   3  set-up failed (arguments, CA file, allocation)
 *
 * Arguments (semihosting command line, key=value): ip= gw= mask= (the
 * device), server= port= sni= (the TSCF), ca= (a host file, read through
 * semihosting: test scaffolding; a product has its trust anchors in
 * flash), sip= (the SIP target's inner IPv4 address, port 5060).
 */
#include <stdlib.h>
#include <string.h>

#include "lwip/dns.h"
#include "lwip/init.h"
#include "lwip/ip_addr.h"
#include "lwip/netif.h"
#include "lwip/pbuf.h"
#include "lwip/sys.h"
#include "lwip/timeouts.h"
#include "lwip/udp.h"
#include "netif/ethernet.h"

#include "mbedtls/platform.h"
#include "psa/crypto.h"

#include "tse/lwip_netif.h"
#include "tse/lwip_port.h"
#include "tse/tse.h"

#include "board.h"
#include "lan9118.h"

#define OVERALL_MS 90000u

u32_t sys_now(void)
{
    return board_ms();
}

/* mbed TLS's entropy source (MBEDTLS_ENTROPY_HARDWARE_ALT): PSA crypto's
 * DRBG is seeded here.  TEST-ONLY on this board (board.c). */
int mbedtls_hardware_poll(void *data, unsigned char *output, size_t len, size_t *olen);
int mbedtls_hardware_poll(void *data, unsigned char *output, size_t len, size_t *olen)
{
    (void)data;
    if (board_test_entropy(NULL, output, len) != 0) {
        return -1;
    }
    *olen = len;
    return 0;
}

static unsigned long allocs; /* libtse's and mbed TLS's */

static void *tse_mem_calloc_cb(void *user, size_t n, size_t size)
{
    (void)user;
    allocs++;
    return board_calloc(n, size);
}
static void tse_mem_free_cb(void *user, void *p)
{
    (void)user;
    board_free(p);
}

static struct netif eth;
static tse_lwip_netif tn;
static tse_lwip_port port;
static tse_lwip_driver drv;
static tse_tunnel *tunnel;

static struct {
    char ip[16], gw[16], mask[16], server[64], sni[64], ca[128], sip[16];
    unsigned port;
} arg = { "192.0.2.2", "192.0.2.1", "255.255.255.0", "192.0.2.1", "tscf.test", "ca.pem",
          "198.18.0.1", 443 };

static void put_ip(const ip4_addr_t *a)
{
    uart_puts(ip4addr_ntoa(a));
}

/* An error code, and its name when the library has its strings
 * (TSE_CONFIG_STRINGS; this image is built without them). */
static void put_err(int err)
{
    const char *name = tse_strerror(err);
    uart_puts("-");
    uart_putu((uint32_t)-err);
    if (name[0] != '\0') {
        uart_puts(" (");
        uart_puts(name);
        uart_puts(")");
    }
}

/* ---- SIP OPTIONS over UDP through the tunnel --------------------------------- */

static struct {
    struct udp_pcb *pcb;
    ip_addr_t dst;
    char req[512];
    size_t req_len;
    uint32_t next_tx;
    unsigned tx;
    int status;          /* final status code, 0 = none yet */
    char line[96];
} sip;

static void sip_recv(void *a, struct udp_pcb *pcb, struct pbuf *p, const ip_addr_t *addr, u16_t prt)
{
    char b[96];
    u16_t n;
    size_t i;
    (void)a; (void)pcb; (void)addr; (void)prt;
    n = pbuf_copy_partial(p, b, sizeof(b) - 1, 0);
    pbuf_free(p);
    b[n] = 0;
    if (n < 12 || memcmp(b, "SIP/2.0 ", 8) != 0 || b[8] < '1' || b[8] > '6') {
        return;
    }
    if (b[8] == '1') {
        return; /* provisional */
    }
    for (i = 0; i < n && b[i] != '\r' && b[i] != '\n'; i++) {
    }
    b[i] = 0;
    memcpy(sip.line, b, i + 1);
    sip.status = (b[8] - '0') * 100 + (b[9] - '0') * 10 + (b[10] - '0');
}

static void cat(char **w, const char *s)
{
    size_t n = strlen(s);
    memcpy(*w, s, n);
    *w += n;
}

static void hex32(char **w, uint32_t v)
{
    int i;
    for (i = 7; i >= 0; i--) {
        *(*w)++ = "0123456789abcdef"[(v >> (4 * i)) & 15u];
    }
}

static int sip_start(void)
{
    char me[16], *w = sip.req;
    uint8_t r[8];
    uint32_t r1, r2;
    memcpy(me, ip4addr_ntoa(netif_ip4_addr(&tn.netif)), sizeof(me));
    if (!ip4addr_aton(arg.sip, ip_2_ip4(&sip.dst))) {
        return -1;
    }
    IP_SET_TYPE_VAL(sip.dst, IPADDR_TYPE_V4);
    (void)board_test_entropy(NULL, r, sizeof(r));
    memcpy(&r1, r, 4);
    memcpy(&r2, r + 4, 4);
    cat(&w, "OPTIONS sip:"); cat(&w, arg.sip); cat(&w, ":5060 SIP/2.0\r\n");
    cat(&w, "Via: SIP/2.0/UDP "); cat(&w, me); cat(&w, ":5060;rport;branch=z9hG4bK");
    hex32(&w, r1); cat(&w, "\r\n");
    cat(&w, "Max-Forwards: 70\r\n");
    cat(&w, "From: <sip:mcu@"); cat(&w, me); cat(&w, ">;tag="); hex32(&w, r2); cat(&w, "\r\n");
    cat(&w, "To: <sip:"); cat(&w, arg.sip); cat(&w, ":5060>\r\n");
    cat(&w, "Call-ID: "); hex32(&w, r1 ^ r2); cat(&w, "@"); cat(&w, me); cat(&w, "\r\n");
    cat(&w, "CSeq: 1 OPTIONS\r\n");
    cat(&w, "Contact: <sip:mcu@"); cat(&w, me); cat(&w, ":5060>\r\n");
    cat(&w, "User-Agent: libtse-cortex-m\r\n");
    cat(&w, "Accept: application/sdp\r\nContent-Length: 0\r\n\r\n");
    sip.req_len = (size_t)(w - sip.req);

    sip.pcb = udp_new_ip_type(IPADDR_TYPE_V4);
    if (sip.pcb == NULL || udp_bind(sip.pcb, IP4_ADDR_ANY, 5060) != ERR_OK) {
        return -1;
    }
    udp_recv(sip.pcb, sip_recv, NULL);
    sip.next_tx = board_ms();
    return 0;
}

/* RFC 3261 timer E: retransmit at 500 ms, doubling, up to 7 sends. */
static void sip_poll(void)
{
    struct pbuf *p;
    if (sip.pcb == NULL || sip.status != 0 || sip.tx >= 7 ||
        (int32_t)(board_ms() - sip.next_tx) < 0) {
        return;
    }
    p = pbuf_alloc(PBUF_TRANSPORT, (u16_t)sip.req_len, PBUF_RAM);
    if (p != NULL) {
        memcpy(p->payload, sip.req, sip.req_len);
        (void)udp_sendto(sip.pcb, p, &sip.dst, 5060);
        pbuf_free(p);
    }
    sip.next_tx = board_ms() + (500u << (sip.tx < 3 ? sip.tx : 3));
    sip.tx++;
}

/* ---- the tunnel's callbacks --------------------------------------------------- */

static int went_up, down_error;
static size_t heap_up;
static unsigned long allocs_at_up, allocs_steady;

static void *count_calloc(size_t n, size_t size)
{
    allocs++;
    return board_calloc(n, size);
}

static void on_event(void *user, const tse_event *ev)
{
    (void)user;
    tse_lwip_netif_on_event(&tn, ev);
    switch (ev->type) {
    case TSE_EV_TUNNEL_UP:
        went_up = 1;
        uart_puts("tunnel up: inner address ");
        put_ip(netif_ip4_addr(&tn.netif));
        uart_puts(ev->config->tls_version == 0x0304 ? ", TLS 1.3 " : ", TLS 1.2 ");
        uart_puts(ev->config->tls_suite != NULL ? ev->config->tls_suite : "");
        uart_puts("\r\n");
        heap_up = board_heap_live();
        allocs_at_up = allocs;
        break;
    case TSE_EV_TUNNEL_DOWN:
        down_error = ev->error;
        uart_puts("tunnel down: error ");
        put_err(ev->error);
        if (ev->detail != NULL) {
            uart_puts(": ");
            uart_puts(ev->detail);
        }
        uart_puts("\r\n");
        break;
    case TSE_EV_WARNING:
        uart_puts("warning\r\n");
        break;
    default:
        break;
    }
}

static void on_packet(void *user, const uint8_t *pkt, size_t len)
{
    (void)user;
    tse_lwip_netif_on_packet(&tn, pkt, len);
}

static tse_time_ms clock_ms(void *user)
{
    (void)user;
    return tse_lwip_now(&port);
}

/* ---- arguments -------------------------------------------------------------- */

static void set(char *dst, size_t cap, const char *v, size_t n)
{
    if (n >= cap) {
        n = cap - 1;
    }
    memcpy(dst, v, n);
    dst[n] = 0;
}

static void parse_args(void)
{
    static char line[512];
    char *s, *e;
    if (board_cmdline(line, sizeof(line)) <= 0) {
        return;
    }
    for (s = line; *s != 0; s = e) {
        char *eq;
        size_t n;
        while (*s == ' ') {
            s++;
        }
        for (e = s; *e != 0 && *e != ' '; e++) {
        }
        n = (size_t)(e - s);
        eq = memchr(s, '=', n);
        if (eq == NULL) {
            continue;
        }
#define ARG(name, field) \
    if ((size_t)(eq - s) == sizeof(name) - 1 && memcmp(s, name, sizeof(name) - 1) == 0) \
        set(arg.field, sizeof(arg.field), eq + 1, (size_t)(e - eq - 1))
        ARG("ip", ip);
        ARG("gw", gw);
        ARG("mask", mask);
        ARG("server", server);
        ARG("sni", sni);
        ARG("ca", ca);
        ARG("sip", sip);
#undef ARG
        if ((size_t)(eq - s) == 4 && memcmp(s, "port", 4) == 0) {
            arg.port = (unsigned)atoi(eq + 1);
        }
    }
}

static void report(void)
{
    uart_puts("FOOTPRINT heap_peak=");
    uart_putu((uint32_t)board_heap_peak());
    uart_puts(" heap_up=");
    uart_putu((uint32_t)heap_up);
    uart_puts(" heap_end=");
    uart_putu((uint32_t)board_heap_live());
    uart_puts(" allocs_to_up=");
    uart_putu((uint32_t)(went_up ? allocs_at_up : 0));
    uart_puts(" allocs_while_up=");
    uart_putu((uint32_t)allocs_steady);
    uart_puts(" stack_peak=");
    uart_putu((uint32_t)board_stack_peak());
    uart_puts(" netif_static=");
    uart_putu((uint32_t)sizeof(tse_lwip_netif));
    uart_puts(" port_static=");
    uart_putu((uint32_t)(sizeof(tse_lwip_port) + sizeof(tse_lwip_driver)));
    uart_puts("\r\n");
}

int main(void)
{
    tse_settings s;
    tse_callbacks cb;
    tse_mem mem = { NULL, tse_mem_calloc_cb, tse_mem_free_cb };
    tse_lwip_netif_config nc;
    tse_lwip_port_config pc;
    ip4_addr_t ip, gw, mask;
    uint8_t *ca;
    size_t ca_len = 0;
    uint32_t start, close_at = 0;
    int rc, closing = 0, status = 2, sip_started = 0;

    board_init();
    uart_puts("\r\ntse-mps2: libtse " TSE_VERSION_STRING " on Cortex-M4, lwIP " LWIP_VERSION_STRING
              " NO_SYS=1\r\n");
    parse_args();
    mbedtls_platform_set_calloc_free(count_calloc, board_free);

    if ((ca = board_read_file(arg.ca, &ca_len)) == NULL) {
        uart_puts("cannot read the CA file (semihosting)\r\n");
        return 3;
    }

    lwip_init();
    if (!ip4addr_aton(arg.ip, &ip) || !ip4addr_aton(arg.gw, &gw) || !ip4addr_aton(arg.mask, &mask)) {
        uart_puts("bad ip=/gw=/mask=\r\n");
        return 3;
    }
    if (netif_add(&eth, &ip, &mask, &gw, (void *)0x40200000u, lan9118_netif_init,
                  ethernet_input) == NULL) {
        uart_puts("no LAN9118\r\n");
        return 3;
    }
    netif_set_up(&eth);
    netif_set_link_up(&eth);
    dns_setserver(0, &eth.gw); /* names of the TSCF: the gateway resolves them */

    /* the tunnel: small queues for a device */
    tse_settings_default(&s);
    s.server_host = arg.server;
    s.server_port = (uint16_t)arg.port;
    s.sni = arg.sni;
    s.ca = ca;
    s.ca_len = ca_len;
    s.auto_reconnect = 0;
    s.outq_size = 4096;
    s.max_unit = 1600;
    s.sched.rt_queue_size = 2048;
    s.sched.record_max = 1600;
    memset(&cb, 0, sizeof(cb));
    cb.on_event = on_event;
    cb.on_packet = on_packet;
    cb.entropy = board_test_entropy; /* TEST-ONLY (board.c) */
    rc = tse_tunnel_new(&tunnel, &s, &cb, &mem, NULL);
    board_free(ca); /* parsed by tse_tunnel_new */
    if (rc != TSE_OK) {
        uart_puts("tse_tunnel_new: error ");
        put_err(rc);
        uart_puts("\r\n");
        return 3;
    }

    tse_lwip_port_config_default(&pc);
    pc.uplink = &eth; /* never route the outer connection into the tunnel */
    pc.entropy = board_test_entropy;
    if (tse_lwip_port_init(&port, &pc) != TSE_OK || tse_lwip_driver_init(&drv, &port, tunnel) != TSE_OK) {
        return 3;
    }
    tse_lwip_netif_config_default(&nc);
    nc.now_ms = clock_ms;
    nc.set_default = 1;
    nc.mtu = 1300;
    if (tse_lwip_netif_add(&tn, tunnel, &nc) != TSE_OK) {
        uart_puts("tse_lwip_netif_add failed\r\n");
        return 3;
    }

    uart_puts("device ");
    put_ip(&ip);
    uart_puts(", TSCF ");
    uart_puts(arg.server);
    uart_puts(":");
    uart_putu(arg.port);
    uart_puts("\r\n");
    start = board_ms();
    tse_tunnel_start(tunnel, tse_lwip_now(&port));

    for (;;) {
        tse_state st;
        int moved = lan9118_poll(&eth);
        sys_check_timeouts();
        (void)tse_lwip_driver_poll(&drv);
        st = tse_tunnel_state(tunnel);

        if (st == TSE_STATE_UP && !sip_started) {
            sip_started = 1;
            if (sip_start() != 0) {
                uart_puts("SIP set-up failed\r\n");
                status = 3;
                closing = 1;
            }
        }
        sip_poll();
        (void)tse_lwip_driver_poll(&drv); /* what the application sent */

        if (!closing && sip.status != 0) {
            uart_puts("SIP answer: ");
            uart_puts(sip.line);
            uart_puts("\r\n");
            status = sip.status == 200 ? 0 : 1;
            closing = 1;
        }
        if (!closing && sip_started && sip.tx >= 7 && (int32_t)(board_ms() - sip.next_tx) >= 0) {
            uart_puts("SIP: no answer\r\n");
            closing = 1;
        }
        if (!closing && (st == TSE_STATE_CLOSED || st == TSE_STATE_BACKOFF)) {
            uart_puts("the tunnel failed\r\n");
            break;
        }
        if (!closing && board_ms() - start > OVERALL_MS) {
            uart_puts("overall timeout\r\n");
            closing = 1;
        }
        if (closing == 1) {
            allocs_steady = allocs - allocs_at_up;
            closing = 2;
            close_at = board_ms();
            tse_tunnel_close(tunnel, tse_lwip_now(&port));
        }
        if (closing && st == TSE_STATE_CLOSED) {
            uart_puts("tunnel released\r\n");
            break;
        }
        if (closing && board_ms() - close_at > 10000u) {
            uart_puts("release timed out\r\n");
            status = status == 0 ? 2 : status;
            break;
        }
        if (!moved) {
            board_idle();
        }
    }
    if (closing && tse_tunnel_state(tunnel) != TSE_STATE_CLOSED && status == 0) {
        status = 2;
    }
    tse_lwip_driver_deinit(&drv);
    tse_lwip_netif_remove(&tn);
    tse_tunnel_del(tunnel);
    mbedtls_psa_crypto_free(); /* PSA's global state (libtse leaves it) */
    report();
    if (board_heap_live() != 0) {
        uart_puts("leak: heap in use after tse_tunnel_del()\r\n");
        status = status == 0 ? 2 : status;
    }
    uart_puts("exit ");
    uart_putu((uint32_t)status);
    uart_puts("\r\n");
    (void)down_error;
    return status;
}
