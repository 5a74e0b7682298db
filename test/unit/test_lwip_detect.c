/* test_lwip_detect.c - the detection probes over lwIP's raw API
 * (port/lwip/tse_lwip_detect.c, include/tse/lwip_detect.h), lwIP NO_SYS=1
 * on a virtual clock, against real responders on lwIP PCBs.
 *
 * One lwIP stack: the device's uplink "up" 192.0.2.2/24 and the far side
 * "sv" 203.0.113.1/24 wired back to back in memory (sv's link is down: only
 * PCBs bound to up reach it), and a default netif "df" that would swallow
 * anything unbound.  On sv: a SIP server answering OPTIONS over UDP and
 * TCP (port 5060) and a STUN server (3478) whose XOR-MAPPED-ADDRESS is the
 * source it saw, or a scripted "NAT" address.  With LWIP_DNS (the test's
 * lwIP is built with it): "dn" 192.0.2.53/24 on up's link (link down too)
 * is a DNS server (support/lwip/mem_dns.c) that knows PCSCF_NAME. */
#include "tt.h"

#if defined(TSE_TEST_NO_LWIP_NETIF)

int main(void)
{
    printf("test_lwip_detect: no NO_SYS=1 lwIP in this configuration\n");
    (void)tt_failed_checks;
    return TT_DONE();
}

#else

#include "lwip/init.h"
#include "lwip/ip.h"
#include "lwip/ip_addr.h"
#include "lwip/netif.h"
#include "lwip/pbuf.h"
#include "lwip/sys.h"
#include "lwip/tcp.h"
#include "lwip/timeouts.h"
#include "lwip/udp.h"

#include "tse/lwip_detect.h"
#include "tse/lwip_port.h"

#if LWIP_DNS
#include "lwip/dns.h"
#include "mem_dns.h"
#endif

#define PCSCF_NAME "pcscf.test"

static tse_time_ms vnow = 1000;

u32_t sys_now(void)
{
    return (u32_t)vnow;
}

/* ---- the wire ------------------------------------------------------------- */

#define WIRE_MAX 64
typedef struct wire {
    uint8_t b[WIRE_MAX][1600];
    u16_t len[WIRE_MAX];
    unsigned head, n, total;
} wire;

static struct netif up_if, sv_if, df_if, dn_if;
static wire to_sv, to_up, to_dn;
static unsigned df_out;

static err_t push(wire *w, struct pbuf *p)
{
    unsigned k;
    if (w->n == WIRE_MAX || p->tot_len > sizeof(w->b[0])) {
        return ERR_MEM;
    }
    k = (w->head + w->n) % WIRE_MAX;
    w->len[k] = pbuf_copy_partial(p, w->b[k], p->tot_len, 0);
    w->n++;
    w->total++;
    return ERR_OK;
}
static err_t up_output(struct netif *n, struct pbuf *p, const ip4_addr_t *a)
{
    (void)n;
    return push(ip4_addr_cmp(a, netif_ip4_addr(&dn_if)) ? &to_dn : &to_sv, p);
}
static err_t sv_output(struct netif *n, struct pbuf *p, const ip4_addr_t *a)
{
    (void)n; (void)a;
    return push(&to_up, p);
}
static err_t df_output(struct netif *n, struct pbuf *p, const ip4_addr_t *a)
{
    (void)n; (void)p; (void)a;
    df_out++;
    return ERR_OK;
}
static err_t if_init(struct netif *n)
{
    n->output = n == &up_if ? up_output : n == &df_if ? df_output : sv_output;
    n->mtu = 1500;
    n->name[0] = 't';
    n->name[1] = n == &up_if ? 'u' : n == &sv_if ? 's' : n == &dn_if ? 'n' : 'd';
    return ERR_OK;
}
static int deliver(wire *w, struct netif *to)
{
    int moved = 0;
    while (w->n > 0) {
        unsigned k = w->head;
        struct pbuf *p = pbuf_alloc(PBUF_RAW, w->len[k], PBUF_POOL);
        w->head = (w->head + 1) % WIRE_MAX;
        w->n--;
        moved = 1;
        if (p == NULL) {
            continue;
        }
        pbuf_take(p, w->b[k], w->len[k]);
        if (to->input(p, to) != ERR_OK) {
            pbuf_free(p);
        }
    }
    return moved;
}

/* ---- the responders on sv ------------------------------------------------- */

static int sip_on = 1, stun_on = 1;
static int nat_on;                 /* STUN maps to 198.51.100.77:4000 */
static unsigned sip_udp_seen, sip_tcp_seen, stun_seen;
static struct udp_pcb *sip_udp, *stun_udp;
static struct tcp_pcb *sip_listen, *sip_conn;
static char tcp_req[2048];
static size_t tcp_req_len;

static void hdr(const char *req, const char *name, char *out, size_t cap)
{
    const char *p = strstr(req, name), *e;
    size_t n;
    out[0] = '\0';
    if (p == NULL) {
        return;
    }
    p += strlen(name);
    e = strstr(p, "\r\n");
    n = e != NULL ? (size_t)(e - p) : 0;
    if (n >= cap) {
        n = cap - 1;
    }
    memcpy(out, p, n);
    out[n] = '\0';
}

/* A 200 to an OPTIONS request (NUL-terminated). */
static int sip_200(const char *req, char *out, size_t cap, int tcp)
{
    char via[300], callid[120], cseq[60], from[200];
    hdr(req, "\r\nVia: ", via, sizeof(via));
    hdr(req, "\r\nCall-ID: ", callid, sizeof(callid));
    hdr(req, "\r\nCSeq: ", cseq, sizeof(cseq));
    hdr(req, "\r\nFrom: ", from, sizeof(from));
    return snprintf(out, cap,
                    "SIP/2.0 200 OK\r\nVia: %s\r\nFrom: %s\r\nTo: <sip:pcscf>;tag=9\r\n"
                    "Call-ID: %s\r\nCSeq: %s\r\n%s\r\n",
                    via, from, callid, cseq, tcp ? "Content-Length: 0\r\n" : "");
}

static void sip_udp_rx(void *arg, struct udp_pcb *pcb, struct pbuf *p, const ip_addr_t *addr,
                       u16_t port)
{
    char req[1600], resp[1600];
    u16_t n = pbuf_copy_partial(p, req, sizeof(req) - 1, 0);
    int k;
    struct pbuf *r;
    (void)arg;
    pbuf_free(p);
    req[n] = '\0';
    sip_udp_seen++;
    if (!sip_on || strncmp(req, "OPTIONS ", 8) != 0) {
        return;
    }
    k = sip_200(req, resp, sizeof(resp), 0);
    r = pbuf_alloc(PBUF_TRANSPORT, (u16_t)k, PBUF_RAM);
    if (r != NULL) {
        pbuf_take(r, resp, (u16_t)k);
        udp_sendto(pcb, r, addr, port);
        pbuf_free(r);
    }
}

static uint32_t crc32(const uint8_t *p, size_t n)
{
    uint32_t c = 0xFFFFFFFFu;
    size_t i;
    int k;
    for (i = 0; i < n; i++) {
        c ^= p[i];
        for (k = 0; k < 8; k++) {
            c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
        }
    }
    return ~c;
}

/* Binding success: XOR-MAPPED-ADDRESS (what we saw, or the "NAT") and
 * FINGERPRINT (RFC 8489 14.2, 14.7). */
static void stun_rx(void *arg, struct udp_pcb *pcb, struct pbuf *p, const ip_addr_t *addr,
                    u16_t port)
{
    uint8_t q[548], m[40];
    u16_t n = pbuf_copy_partial(p, q, sizeof(q), 0);
    uint8_t ip[4];
    uint32_t c;
    struct pbuf *r;
    u16_t reply_port = port;
    (void)arg;
    pbuf_free(p);
    stun_seen++;
    if (!stun_on || n < 20 || q[0] != 0x00 || q[1] != 0x01) {
        return;
    }
    memcpy(ip, &ip_2_ip4(addr)->addr, 4);
    if (nat_on) {
        ip[0] = 198; ip[1] = 51; ip[2] = 100; ip[3] = 77;
        port = 4000;
    }
    memset(m, 0, sizeof(m));
    m[0] = 0x01; m[1] = 0x01; m[3] = 20;
    memcpy(m + 4, q + 4, 16);
    m[21] = 0x20; m[23] = 8; m[25] = 1;
    m[26] = (uint8_t)((port >> 8) ^ 0x21); m[27] = (uint8_t)((port & 0xff) ^ 0x12);
    m[28] = ip[0] ^ 0x21; m[29] = ip[1] ^ 0x12; m[30] = ip[2] ^ 0xa4; m[31] = ip[3] ^ 0x42;
    m[32] = 0x80; m[33] = 0x28; m[35] = 4;
    c = crc32(m, 32) ^ 0x5354554Eu;
    m[36] = (uint8_t)(c >> 24); m[37] = (uint8_t)(c >> 16); m[38] = (uint8_t)(c >> 8); m[39] = (uint8_t)c;
    r = pbuf_alloc(PBUF_TRANSPORT, sizeof(m), PBUF_RAM);
    if (r != NULL) {
        pbuf_take(r, m, sizeof(m));
        udp_sendto(pcb, r, addr, reply_port);
        pbuf_free(r);
    }
}

static err_t sip_tcp_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
    (void)arg; (void)err;
    if (p == NULL) {
        tcp_recv(pcb, NULL);
        tcp_close(pcb);
        if (sip_conn == pcb) {
            sip_conn = NULL;
        }
        return ERR_OK;
    }
    if (tcp_req_len + p->tot_len < sizeof(tcp_req)) {
        tcp_req_len += pbuf_copy_partial(p, tcp_req + tcp_req_len, p->tot_len, 0);
        tcp_req[tcp_req_len] = '\0';
    }
    tcp_recved(pcb, p->tot_len);
    pbuf_free(p);
    if (strstr(tcp_req, "\r\n\r\n") != NULL) {
        char resp[1600];
        int k = sip_200(tcp_req, resp, sizeof(resp), 1);
        sip_tcp_seen++;
        tcp_req_len = 0;
        tcp_req[0] = '\0';
        tcp_write(pcb, resp, (u16_t)k, TCP_WRITE_FLAG_COPY);
        tcp_output(pcb);
    }
    return ERR_OK;
}
static void sip_tcp_err(void *arg, err_t err)
{
    (void)arg; (void)err;
    sip_conn = NULL;
}
static err_t sip_accept(void *arg, struct tcp_pcb *pcb, err_t err)
{
    (void)arg;
    if (err != ERR_OK || pcb == NULL) {
        return ERR_VAL;
    }
    sip_conn = pcb;
    tcp_req_len = 0;
    tcp_recv(pcb, sip_tcp_recv);
    tcp_err(pcb, sip_tcp_err);
    return ERR_OK;
}

/* ---- the device ------------------------------------------------------------ */

static tse_lwip_port port;
static tse_lwip_detect ld;
static tse_lwip_detect *cur = &ld; /* the runner loop_once() polls */
static int steps_done, results;
#if LWIP_DNS
static mem_dns dns; /* PCSCF_NAME is 203.0.113.1 */
#endif

static int entropy(void *user, uint8_t *buf, size_t len)
{
    static uint32_t x = 0x12345678u;
    size_t i;
    (void)user;
    for (i = 0; i < len; i++) {
        x = x * 1103515245u + 12345u;
        buf[i] = (uint8_t)(x >> 16);
    }
    return 0;
}
static void on_event(void *user, const tse_detect_event *ev)
{
    (void)user;
    if (ev->type == TSE_DETECT_EV_STEP && ev->step->done) {
        steps_done++;
    } else if (ev->type == TSE_DETECT_EV_RESULT) {
        results++;
    }
}

static void loop_once(void)
{
    int moved = deliver(&to_sv, &sv_if);
    moved |= deliver(&to_dn, &dn_if);
    moved |= deliver(&to_up, &up_if);
    sys_check_timeouts();
    if (cur != NULL) {
        (void)tse_lwip_detect_poll(cur);
    }
    moved |= to_sv.n > 0 || to_up.n > 0 || to_dn.n > 0;
    if (!moved) {
        vnow += 5;
    }
}

/* Initialise the port and start a detection on *r: SIP at sip_host,
 * STUN at stun_host.  TSE_OK or the first error. */
static int start(tse_lwip_detect *r, const char *sip_host, const char *stun_host,
                 uint16_t sip_port)
{
    tse_detect_settings s;
    tse_lwip_detect_config c;
    tse_lwip_port_config pc;
    int rc;

    tse_lwip_port_config_default(&pc);
    pc.uplink = &up_if;
    pc.entropy = entropy;
    rc = tse_lwip_port_init(&port, &pc);
    if (rc != TSE_OK) {
        return rc;
    }
    tse_detect_settings_default(&s);
    s.pcscf_host = sip_host;
    s.pcscf_port = sip_port;
    s.stun_host = stun_host;
    memset(&c, 0, sizeof(c));
    c.port = &port;
    c.on_event = on_event;
    steps_done = results = 0;
    rc = tse_lwip_detect_init(r, &s, &c);
    return rc != TSE_OK ? rc : tse_lwip_detect_start(r);
}

/* Run one detection on ld to its result (bounded); the result or NULL. */
static const tse_detect_result *detect_at(const char *sip_host, const char *stun_host,
                                          uint16_t sip_port)
{
    tse_time_ms end = vnow + 20000;
    cur = &ld;
    if (start(&ld, sip_host, stun_host, sip_port) != TSE_OK) {
        return NULL;
    }
    while (!tse_lwip_detect_done(&ld) && vnow < end) {
        loop_once();
    }
    return tse_lwip_detect_result(&ld);
}

static const tse_detect_result *detect(uint16_t sip_port)
{
    return detect_at("203.0.113.1", "203.0.113.1", sip_port);
}

static void finish(void)
{
    int i;
    tse_lwip_detect_deinit(&ld);
    for (i = 0; i < 400; i++) {
        loop_once(); /* FINs, TIME_WAIT */
    }
    tse_lwip_port_deinit(&port);
}

/* SIP answers over UDP and TCP, STUN sees the device's own address:
 * direct.  Every probe left through the uplink (the default netif got
 * nothing) and the responders saw them. */
TT_TEST(direct_when_everything_answers)
{
    const tse_detect_result *r;
    unsigned su = sip_udp_seen, st = sip_tcp_seen, sn = stun_seen;
    sip_on = stun_on = 1;
    nat_on = 0;
    r = detect(5060);
    TT_ASSERT(r != NULL);
    TT_EQ_INT(r->path, TSE_PATH_DIRECT);
    TT_EQ_INT(r->nat, 0);
    TT_EQ_INT(r->mapped.family, 4);
    TT_EQ_INT(r->mapped.addr[0], 192);
    TT_EQ_INT(r->mapped.addr[3], 2);
    TT_EQ_INT(r->sip_status, 200);
    TT_EQ_INT(results, 1);
    TT_ASSERT(sip_udp_seen > su);
    TT_ASSERT(stun_seen > sn);
    TT_EQ_INT(df_out, 0);
    TT_ASSERT(ld.udp_sent >= 2 && ld.udp_recv >= 2);
    (void)st;
    finish();
}

/* STUN reports another address: NAT traversal. */
TT_TEST(nat_traversal_when_stun_sees_a_nat)
{
    const tse_detect_result *r;
    sip_on = stun_on = 1;
    nat_on = 1;
    r = detect(5060);
    TT_ASSERT(r != NULL);
    TT_EQ_INT(r->path, TSE_PATH_NAT_TRAVERSAL);
    TT_EQ_INT(r->nat, 1);
    TT_EQ_INT(r->mapped.addr[0], 198);
    TT_EQ_INT(r->mapped.port, 4000);
    TT_EQ_INT(df_out, 0);
    finish();
}

/* SIP over TCP only (UDP silent): the TCP probe's answer is what makes
 * SIP reachable; STUN still gives the UDP path. */
TT_TEST(sip_over_tcp_alone)
{
    const tse_detect_result *r;
    unsigned st = sip_tcp_seen;
    sip_on = 0; /* the UDP responder is silent; TCP still answers */
    stun_on = 1;
    nat_on = 0;
    r = detect(5060);
    sip_on = 1;
    TT_ASSERT(r != NULL);
    TT_EQ_INT(sip_tcp_seen, st + 1);
    TT_EQ_INT(r->path, TSE_PATH_DIRECT);
    TT_EQ_INT(r->sip_status, 200);
    finish();
}

/* Nothing on 5061 (RST to the TCP probe, no answer over UDP), STUN silent,
 * no TSCF configured: none. */
TT_TEST(none_when_blocked)
{
    const tse_detect_result *r;
    stun_on = 0;
    r = detect(5061);
    stun_on = 1;
    TT_ASSERT(r != NULL);
    TT_EQ_INT(r->path, TSE_PATH_NONE);
    TT_ASSERT(r->sip_error != TSE_OK);
    TT_ASSERT(r->stun_error != TSE_OK);
    TT_EQ_INT(df_out, 0);
    finish();
}

#if LWIP_DNS
/* Both hosts are a name: the UDP probes ask lwIP's DNS and send once it
 * answers, the TCP probe resolves through the port; the answers come back
 * as with literals.  The queries went out of the uplink too. */
TT_TEST(names_resolve_through_lwip_dns)
{
    const tse_detect_result *r;
    unsigned su = sip_udp_seen, sn = stun_seen, q = dns.queries;
    sip_on = stun_on = 1;
    nat_on = 0;
    r = detect_at(PCSCF_NAME, PCSCF_NAME, 5060);
    TT_ASSERT(r != NULL);
    TT_EQ_INT(r->path, TSE_PATH_DIRECT);
    TT_EQ_INT(r->sip_status, 200);
    TT_EQ_INT(r->stun_error, TSE_OK);
    TT_EQ_INT(r->mapped.addr[0], 192);
    TT_EQ_INT(ld.resolved, 2);          /* SIP and STUN over UDP */
    TT_EQ_INT(ld.resolve_fail, 0);
    TT_ASSERT(port.stats.resolved >= 1); /* SIP over TCP */
    TT_ASSERT(dns.queries > q);
    TT_ASSERT(sip_udp_seen > su);
    TT_ASSERT(stun_seen > sn);
    TT_EQ_INT(df_out, 0);
    finish();
}

/* The STUN server's name does not exist (NXDOMAIN): that probe fails as
 * TSE_ERR_TRANSPORT_RESOLVE without sending anything; the detection still
 * decides from the others (SIP answers, no UDP path, no TSCF: none). */
TT_TEST(nxdomain_fails_that_probe_only)
{
    const tse_detect_result *r;
    unsigned sn = stun_seen, q = dns.queries;
    sip_on = stun_on = 1;
    nat_on = 0;
    r = detect_at("203.0.113.1", "nowhere.test", 5060);
    TT_ASSERT(r != NULL);
    TT_EQ_INT(r->stun_error, TSE_ERR_TRANSPORT_RESOLVE);
    TT_EQ_INT(r->sip_status, 200);
    TT_EQ_INT(r->path, TSE_PATH_NONE);
    TT_EQ_INT(ld.resolve_fail, 1);
    TT_EQ_INT(dns.queries, q + 1);
    TT_EQ_INT(stun_seen, sn);
    TT_EQ_INT(results, 1);
    finish();
}

/* The runner is deinitialised and its storage freed while lwIP still
 * resolves a name for it; the answer then comes (ASan: no use after
 * free), and a detection after it works. */
TT_TEST(deinit_while_resolving)
{
    tse_lwip_detect *h = (tse_lwip_detect *)malloc(sizeof(*h));
    const tse_detect_result *r;
    unsigned q = dns.queries;
    int i;
    TT_ASSERT(h != NULL);
    if (h == NULL) {
        return;
    }
    cur = h;
    TT_EQ_INT(start(h, "203.0.113.1", "slow.test", 5060), TSE_OK);
    for (i = 0; i < 50 && dns.queries == q; i++) {
        loop_once();
    }
    TT_EQ_INT(dns.queries, q + 1);
    TT_EQ_INT(tse_lwip_detect_done(h), 0);
    tse_lwip_detect_deinit(h);
    cur = NULL;
    free(h);
    TT_EQ_INT(mem_dns_release_late(&dns), 1);
    for (i = 0; i < 20; i++) {
        loop_once(); /* the answer reaches lwIP's resolver, then no one */
    }
    TT_EQ_INT(to_up.n, 0);
    tse_lwip_port_deinit(&port);
    r = detect(5060);
    TT_ASSERT(r != NULL);
    TT_EQ_INT(r->path, TSE_PATH_DIRECT);
    finish();
}

/* The detector's STUN timeout ends a lookup the DNS server never answers;
 * the late answer then finds no one. */
TT_TEST(probe_timeout_bounds_a_lookup)
{
    const tse_detect_result *r;
    int i;
    r = detect_at("203.0.113.1", "slow.test", 5060);
    TT_ASSERT(r != NULL);
    TT_ASSERT(r->stun_error != TSE_OK);
    TT_ASSERT(r->stun_error != TSE_ERR_TRANSPORT_RESOLVE);
    TT_EQ_INT(r->sip_status, 200);
    TT_EQ_INT(ld.dns_next == NULL, 1);
    TT_EQ_INT(ld.dns_token[TSE_PROBE_STUN_UDP], 0);
    (void)mem_dns_release_late(&dns);
    for (i = 0; i < 20; i++) {
        loop_once();
    }
    TT_EQ_INT(ld.resolved + ld.resolve_fail, 0);
    finish();
}
#else
/* Without LWIP_DNS a name fails its UDP probe as TSE_ERR_TRANSPORT_RESOLVE. */
TT_TEST(names_refused_without_dns)
{
    const tse_detect_result *r = detect_at("203.0.113.1", "stun.test", 5060);
    TT_ASSERT(r != NULL);
    TT_EQ_INT(r->stun_error, TSE_ERR_TRANSPORT_RESOLVE);
    finish();
}
#endif

int main(void)
{
    ip4_addr_t a, m, g;

    lwip_init();
    ip4_addr_set_zero(&g);
    IP4_ADDR(&m, 255, 255, 255, 0);
    IP4_ADDR(&a, 192, 0, 2, 2);
    netif_add(&up_if, &a, &m, &g, NULL, if_init, ip4_input);
    netif_set_up(&up_if);
    netif_set_link_up(&up_if);
    IP4_ADDR(&a, 203, 0, 113, 1);
    netif_add(&sv_if, &a, &m, &g, NULL, if_init, ip4_input);
    netif_set_up(&sv_if); /* link down: never a route */
    IP4_ADDR(&a, 10, 9, 9, 9);
    netif_add(&df_if, &a, &m, &g, NULL, if_init, ip4_input);
    netif_set_up(&df_if);
    netif_set_link_up(&df_if);
    netif_set_default(&df_if); /* the tunnel netif's place */
    IP4_ADDR(&a, 192, 0, 2, 53);
    netif_add(&dn_if, &a, &m, &g, NULL, if_init, ip4_input);
    netif_set_up(&dn_if); /* link down: reached through up's wire only */
#if LWIP_DNS
    {
        ip_addr_t ds;
        IP4_ADDR(&a, 203, 0, 113, 1);
        if (mem_dns_start(&dns, &dn_if, PCSCF_NAME, &a) != 0) {
            return 1;
        }
        IP_ADDR4(&ds, 192, 0, 2, 53);
        dns_setserver(0, &ds);
    }
#endif

    sip_udp = udp_new();
    udp_bind_netif(sip_udp, &sv_if);
    udp_bind(sip_udp, IP_ADDR_ANY, 5060);
    udp_recv(sip_udp, sip_udp_rx, NULL);
    stun_udp = udp_new();
    udp_bind_netif(stun_udp, &sv_if);
    udp_bind(stun_udp, IP_ADDR_ANY, 3478);
    udp_recv(stun_udp, stun_rx, NULL);
    sip_listen = tcp_new();
    tcp_bind_netif(sip_listen, &sv_if);
    tcp_bind(sip_listen, IP_ADDR_ANY, 5060);
    sip_listen = tcp_listen(sip_listen);
    tcp_accept(sip_listen, sip_accept);

    TT_RUN(direct_when_everything_answers);
    TT_RUN(nat_traversal_when_stun_sees_a_nat);
    TT_RUN(sip_over_tcp_alone);
    TT_RUN(none_when_blocked);
#if LWIP_DNS
    TT_RUN(names_resolve_through_lwip_dns);
    TT_RUN(nxdomain_fails_that_probe_only);
    TT_RUN(deinit_while_resolving);
    TT_RUN(probe_timeout_bounds_a_lookup);
    mem_dns_stop(&dns);
#else
    TT_RUN(names_refused_without_dns);
#endif

    udp_remove(sip_udp);
    udp_remove(stun_udp);
    tcp_close(sip_listen);
    return TT_DONE();
}

#endif
