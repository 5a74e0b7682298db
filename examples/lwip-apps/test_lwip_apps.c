/*
 * test_lwip_apps: the inner applications (lwip_apps.h) and their command line
 * (lwapp_cli.h) inside ONE lwIP NO_SYS=1 stack on a virtual clock, no tunnel:
 * a netif whose output queues a copy of each packet, fed back to its input
 * by the test loop, so the applications talk to raw-API servers written here
 * on the same address (10.0.0.1).  Faults are injected at the servers
 * (silence, wrong Call-ID, non-2xx, dropped and duplicated echoes) and at the
 * netif (ERR_MEM like a full tunnel queue, dropped packets).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lwip/def.h"
#include "lwip/init.h"
#include "lwip/ip4_frag.h"
#include "lwip/netif.h"
#include "lwip/pbuf.h"
#include "lwip/tcp.h"
#include "lwip/timeouts.h"
#include "lwip/udp.h"

#include "mbedtls/sha256.h"
#include "mbedtls/version.h"

#include "lwapp_cli.h"
#include "lwip_apps.h"
#include "tt.h"

/* ---- virtual clock and the looping netif ---------------------------------- */

static u32_t now_ms = 1000;
u32_t sys_now(void)
{
    return now_ms;
}

#define QLEN 512
static struct pbuf *q[QLEN];
static unsigned q_head, q_len;
static struct netif nif;
static unsigned out_calls, out_refuse_every, out_drop_every, out_refused, out_dropped;

static err_t loop_output(struct netif *n, struct pbuf *p, const ip4_addr_t *dst)
{
    struct pbuf *c;
    (void)n;
    (void)dst;
    out_calls++;
    if (out_refuse_every != 0 && out_calls % out_refuse_every == 0) {
        out_refused++;
        return ERR_MEM; /* like TSE_ERR_QUEUE_FULL through tse_lwip_netif_err() */
    }
    if (out_drop_every != 0 && out_calls % out_drop_every == 0) {
        out_dropped++;
        return ERR_OK; /* lost on the way */
    }
    if (q_len == QLEN || (c = pbuf_clone(PBUF_RAW, PBUF_RAM, p)) == NULL) {
        return ERR_MEM;
    }
    q[(q_head + q_len++) % QLEN] = c;
    return ERR_OK;
}

static err_t loop_init(struct netif *n)
{
    n->name[0] = 't';
    n->name[1] = 't';
    n->output = loop_output;
    n->mtu = 1400;
    n->flags = NETIF_FLAG_LINK_UP;
    return ERR_OK;
}

static void setup(void)
{
    static int done;
    ip4_addr_t a, m, g;
    if (done) {
        return;
    }
    done = 1;
    lwip_init();
    IP4_ADDR(&a, 10, 0, 0, 1);
    IP4_ADDR(&m, 255, 255, 255, 0);
    IP4_ADDR(&g, 0, 0, 0, 0);
    netif_add(&nif, &a, &m, &g, NULL, loop_init, netif_input);
    netif_set_default(&nif);
    netif_set_up(&nif);
    netif_set_link_up(&nif);
}

static void faults(unsigned refuse_every, unsigned drop_every)
{
    out_calls = out_refused = out_dropped = 0;
    out_refuse_every = refuse_every;
    out_drop_every = drop_every;
}

/* Deliver queued packets, run the app's and lwIP's timers, advance 1 ms;
 * until the app is done or max_ms of virtual time passed. */
static void run(lwapp *a, u32_t max_ms)
{
    u32_t end = now_ms + max_ms;
    while (!a->done && (s32_t)(now_ms - end) < 0) {
        unsigned guard = 0;
        while (q_len > 0 && guard++ < 10000) {
            struct pbuf *p = q[q_head];
            q_head = (q_head + 1) % QLEN;
            q_len--;
            if (nif.input(p, &nif) != ERR_OK) {
                pbuf_free(p);
            }
        }
        (void)lwapp_poll(a);
        sys_check_timeouts();
        now_ms++;
    }
    /* let the last segments (FIN, ACKs) settle */
    for (unsigned i = 0; i < 50 && q_len > 0; i++) {
        struct pbuf *p = q[q_head];
        q_head = (q_head + 1) % QLEN;
        q_len--;
        if (nif.input(p, &nif) != ERR_OK) {
            pbuf_free(p);
        }
        sys_check_timeouts();
    }
}

static int done_calls;
static void on_done(void *user, lwapp *a)
{
    (void)user;
    (void)a;
    done_calls++;
}

static void spec_for(lwapp_spec *s, lwapp_kind k, u16_t port)
{
    lwapp_spec_default(s);
    s->kind = k;
    IP_ADDR4(&s->addr, 10, 0, 0, 1);
    s->port = port;
}

static lwapp app; /* big: static */

/* ---- parsing --------------------------------------------------------------- */

TT_TEST(sip_uri_parsing)
{
    lwapp_spec s;
    lwapp_spec_default(&s);
    TT_EQ_INT(lwapp_parse_sip_uri("sip:198.18.0.1", &s), 0);
    TT_EQ_INT(s.port, 5060);
    TT_EQ_INT(s.sip_tcp, 0);
    TT_EQ_INT(s.kind, LWAPP_SIP);
    TT_EQ_INT(lwapp_parse_sip_uri("sip:alice@198.18.0.9:5080;transport=tcp", &s), 0);
    TT_EQ_INT(s.port, 5080);
    TT_EQ_INT(s.sip_tcp, 1);
    TT_ASSERT(ip4_addr_get_u32(ip_2_ip4(&s.addr)) == PP_HTONL(0xc6120009UL));
    TT_EQ_INT(lwapp_parse_sip_uri("sip:198.18.0.1;lr;transport=udp", &s), 0);
    TT_EQ_INT(s.sip_tcp, 0);
    TT_EQ_INT(lwapp_parse_sip_uri("sip:[fd00::1]:5062;transport=tcp", &s), 0);
    TT_EQ_INT(s.port, 5062);
    TT_ASSERT(IP_IS_V6(&s.addr));
    /* refused */
    TT_EQ_INT(lwapp_parse_sip_uri("sips:198.18.0.1", &s), -1);
    TT_EQ_INT(lwapp_parse_sip_uri("sip:", &s), -1);
    TT_EQ_INT(lwapp_parse_sip_uri("sip:ims.example.org", &s), -1); /* no DNS */
    TT_EQ_INT(lwapp_parse_sip_uri("sip:198.18.0.1:0", &s), -1);
    TT_EQ_INT(lwapp_parse_sip_uri("sip:198.18.0.1:65536", &s), -1);
    TT_EQ_INT(lwapp_parse_sip_uri("sip:198.18.0.1:50x", &s), -1);
    TT_EQ_INT(lwapp_parse_sip_uri("sip:198.18.0.1;transport=tls", &s), -1);
    TT_EQ_INT(lwapp_parse_sip_uri("sip:[fd00::1", &s), -1);
    TT_EQ_INT(lwapp_parse_sip_uri(NULL, &s), -1);
}

TT_TEST(hostport_and_bytes_parsing)
{
    ip_addr_t a;
    u16_t p = 0;
    uint64_t b = 0;
    TT_EQ_INT(lwapp_parse_hostport("198.18.0.1:5001", &a, &p), 0);
    TT_EQ_INT(p, 5001);
    TT_EQ_INT(lwapp_parse_hostport("[fd00::1]:7", &a, &p), 0);
    TT_EQ_INT(p, 7);
    TT_EQ_INT(lwapp_parse_hostport("fd00::1:7", &a, &p), -1); /* ambiguous */
    TT_EQ_INT(lwapp_parse_hostport("198.18.0.1", &a, &p), -1);
    TT_EQ_INT(lwapp_parse_hostport("198.18.0.1:", &a, &p), -1);
    TT_EQ_INT(lwapp_parse_hostport("198.18.0.1:99999", &a, &p), -1);
    TT_EQ_INT(lwapp_parse_hostport("host:80", &a, &p), -1);
    TT_EQ_INT(lwapp_parse_bytes("50M", &b), 0);
    TT_ASSERT(b == 50000000ULL);
    TT_EQ_INT(lwapp_parse_bytes("2Gi", &b), 0);
    TT_ASSERT(b == 2147483648ULL);
    TT_EQ_INT(lwapp_parse_bytes("123", &b), 0);
    TT_ASSERT(b == 123);
    TT_EQ_INT(lwapp_parse_bytes("0", &b), -1);
    TT_EQ_INT(lwapp_parse_bytes("-5", &b), -1);
    TT_EQ_INT(lwapp_parse_bytes("5X", &b), -1);
    TT_EQ_INT(lwapp_parse_bytes("99999999999999999999G", &b), -1);
}

TT_TEST(cli_parsing)
{
    lwapp_cli c;
    char err[160];
    char *ok1[] = {"x", "--server", "[::1]:4443", "--ca", "ca.pem", "--json", "--reconnect",
                   "--tcp-send", "198.18.0.1:5001", "--bytes", "50M", "--seed", "7"};
    char *two[] = {"x", "--server", "h:1", "--ca", "c", "--ping", "198.18.0.1", "--rtp", "198.18.0.1:7"};
    char *noserver[] = {"x", "--ca", "c", "--ping", "198.18.0.1"};
    char *badcount[] = {"x", "--server", "h:1", "--ca", "c", "--count", "65"};
    char *novalue[] = {"x", "--server", "h:1", "--ca"};
    char *unknown[] = {"x", "--server", "h:1", "--ca", "c", "--frobnicate", "1"};
    char *backoff[] = {"x", "--server", "h:1", "--ca", "c", "--backoff-max", "1000"};
    char *badbackoff[] = {"x", "--server", "h:1", "--ca", "c", "--backoff-max", "99"};
    char *rtp[] = {"x", "--server", "tscf.test:443", "--ca", "c", "--rtp", "198.18.0.1:40000",
                   "--seconds", "10", "--pps", "0", "--window", "64"};
    TT_EQ_INT(lwapp_cli_parse(13, ok1, &c, NULL, NULL, err, sizeof err), 0);
    TT_ASSERT(strcmp(c.server_host, "::1") == 0);
    TT_EQ_INT(c.server_port, 4443);
    TT_EQ_INT(c.json, 1);
    TT_EQ_INT(c.reconnect, 1);
    TT_EQ_INT(c.spec.kind, LWAPP_TCP_SEND);
    TT_ASSERT(c.spec.bytes == 50000000ULL && c.spec.seed == 7);
    TT_EQ_INT(lwapp_cli_default_timeout(&c), 280);
    TT_EQ_INT(c.backoff_max_ms, 0);
    TT_EQ_INT(lwapp_cli_parse(7, backoff, &c, NULL, NULL, err, sizeof err), 0);
    TT_EQ_INT(c.backoff_max_ms, 1000);
    TT_EQ_INT(lwapp_cli_parse(7, badbackoff, &c, NULL, NULL, err, sizeof err), -1);
    TT_ASSERT(strstr(err, "--backoff-max") != NULL);
    TT_EQ_INT(lwapp_cli_parse(13, rtp, &c, NULL, NULL, err, sizeof err), 0);
    TT_EQ_INT(c.spec.kind, LWAPP_RTP);
    TT_EQ_INT(c.spec.pps, 0);
    TT_EQ_INT(c.spec.window, 64);
    TT_EQ_INT(lwapp_cli_default_timeout(&c), 40);
    TT_EQ_INT(lwapp_cli_parse(9, two, &c, NULL, NULL, err, sizeof err), -1);
    TT_ASSERT(strstr(err, "only one") != NULL);
    TT_EQ_INT(lwapp_cli_parse(5, noserver, &c, NULL, NULL, err, sizeof err), -1);
    TT_EQ_INT(lwapp_cli_parse(7, badcount, &c, NULL, NULL, err, sizeof err), -1);
    TT_EQ_INT(lwapp_cli_parse(4, novalue, &c, NULL, NULL, err, sizeof err), -1);
    TT_EQ_INT(lwapp_cli_parse(7, unknown, &c, NULL, NULL, err, sizeof err), -1);
    TT_ASSERT(strstr(err, "--frobnicate") != NULL);
}

/* ---- ping: lwIP answers its own address ------------------------------------ */

TT_TEST(ping_answered)
{
    lwapp_spec s;
    char line[512];
    setup();
    faults(0, 0);
    spec_for(&s, LWAPP_PING, 0);
    s.count = 3;
    s.interval_ms = 100;
    done_calls = 0;
    TT_EQ_INT(lwapp_start(&app, &s, on_done, NULL), 0);
    run(&app, 5000);
    TT_EQ_INT(done_calls, 1);
    TT_EQ_INT(app.ok, 1);
    TT_EQ_INT(app.sent, 3);
    TT_EQ_INT(app.received, 3);
    lwapp_format(&app, 1, line, sizeof line);
    TT_ASSERT(strstr(line, "\"event\":\"ping_done\"") != NULL && strstr(line, "\"ok\":true") != NULL);
}

TT_TEST(ping_lost_replies_fail)
{
    lwapp_spec s;
    setup();
    faults(0, 2); /* every second packet on the wire is lost */
    spec_for(&s, LWAPP_PING, 0);
    s.count = 4;
    s.interval_ms = 100;
    TT_EQ_INT(lwapp_start(&app, &s, on_done, NULL), 0);
    run(&app, 10000);
    faults(0, 0);
    TT_EQ_INT(app.done, 1);
    TT_EQ_INT(app.ok, 0);
    TT_EQ_INT(app.sent, 4);
    TT_ASSERT(app.received < 4);
    TT_ASSERT(strstr(app.error, "not every echo") != NULL);
}

/* ---- SIP servers ---------------------------------------------------------- */

enum { SIP_ANSWER, SIP_SILENT, SIP_BUSY };
static int sip_mode;
static unsigned sip_requests;
static char sip_last[2048];

static size_t sip_answers(const char *req, size_t len, char *out, size_t outlen)
{
    /* 100 Trying, a 200 for somebody else's Call-ID, then ours */
    char callid[80] = "";
    const char *c = strstr(req, "\r\nCall-ID: ");
    int n;
    if (c != NULL && (size_t)(c - req) < len) {
        const char *e = strstr(c + 11, "\r\n");
        size_t l = e ? (size_t)(e - c - 11) : 0;
        if (l < sizeof callid) {
            memcpy(callid, c + 11, l);
            callid[l] = 0;
        }
    }
    n = snprintf(out, outlen,
                 "SIP/2.0 100 Trying\r\nCall-ID: %s\r\nContent-Length: 0\r\n\r\n"
                 "SIP/2.0 200 OK\r\nCall-ID: someone-else\r\nContent-Length: 0\r\n\r\n"
                 "SIP/2.0 %s\r\ncall-id: %s\r\nContent-Length: 4\r\n\r\nabcd",
                 callid, sip_mode == SIP_BUSY ? "486 Busy Here" : "200 OK", callid);
    return (size_t)n;
}

static void sip_udp_srv(void *arg, struct udp_pcb *pcb, struct pbuf *p, const ip_addr_t *addr, u16_t port)
{
    char req[1024], out[1024];
    u16_t n = pbuf_copy_partial(p, req, sizeof req - 1, 0);
    size_t m;
    const char *msgs[3];
    (void)arg;
    req[n] = 0;
    pbuf_free(p);
    sip_requests++;
    snprintf(sip_last, sizeof sip_last, "%s", req);
    if (sip_mode == SIP_SILENT) {
        return;
    }
    m = sip_answers(req, n, out, sizeof out);
    /* UDP: one datagram per message */
    msgs[0] = out;
    msgs[1] = strstr(out, "SIP/2.0 200 OK\r\nCall-ID: someone");
    msgs[2] = strstr(msgs[1] + 10, "SIP/2.0 ");
    for (int i = 0; i < 3; i++) {
        size_t l = (i < 2 ? (size_t)(msgs[i + 1] - msgs[i]) : (size_t)(out + m - msgs[i]));
        struct pbuf *r = pbuf_alloc(PBUF_TRANSPORT, (u16_t)l, PBUF_RAM);
        memcpy(r->payload, msgs[i], l);
        udp_sendto(pcb, r, addr, port);
        pbuf_free(r);
    }
}

static struct tcp_pcb *srv_conn;
static char tcp_req[2048];
static size_t tcp_req_len;

static err_t sip_tcp_srv_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
    (void)arg;
    (void)err;
    if (p == NULL) {
        tcp_close(pcb);
        srv_conn = NULL;
        return ERR_OK;
    }
    tcp_req_len += pbuf_copy_partial(p, tcp_req + tcp_req_len, (u16_t)(sizeof tcp_req - 1 - tcp_req_len), 0);
    tcp_req[tcp_req_len] = 0;
    tcp_recved(pcb, p->tot_len);
    pbuf_free(p);
    if (strstr(tcp_req, "\r\n\r\n") != NULL && sip_mode != SIP_SILENT) {
        char out[1024];
        size_t m = sip_answers(tcp_req, tcp_req_len, out, sizeof out);
        sip_requests++;
        snprintf(sip_last, sizeof sip_last, "%s", tcp_req);
        /* in two segments, split inside a header line */
        tcp_write(pcb, out, 30, TCP_WRITE_FLAG_COPY);
        tcp_output(pcb);
        tcp_write(pcb, out + 30, (u16_t)(m - 30), TCP_WRITE_FLAG_COPY);
        tcp_output(pcb);
        tcp_req_len = 0;
    }
    return ERR_OK;
}

static err_t sip_tcp_srv_accept(void *arg, struct tcp_pcb *newpcb, err_t err)
{
    (void)arg;
    (void)err;
    srv_conn = newpcb;
    tcp_req_len = 0;
    tcp_recv(newpcb, sip_tcp_srv_recv);
    return ERR_OK;
}

static void sip_servers(void)
{
    static int done;
    struct udp_pcb *u;
    struct tcp_pcb *t;
    if (done) {
        return;
    }
    done = 1;
    u = udp_new();
    udp_bind(u, IP_ADDR_ANY, 5060);
    udp_recv(u, sip_udp_srv, NULL);
    t = tcp_new();
    tcp_bind(t, IP_ADDR_ANY, 5060);
    t = tcp_listen(t);
    tcp_accept(t, sip_tcp_srv_accept);
}

static void sip_case(const char *uri, int mode)
{
    lwapp_spec s;
    lwapp_spec_default(&s);
    setup();
    sip_servers();
    faults(0, 0);
    sip_mode = mode;
    sip_requests = 0;
    if (lwapp_parse_sip_uri(uri, &s) != 0) {
        s.kind = LWAPP_NONE;
    }
    done_calls = 0;
    lwapp_start(&app, &s, on_done, NULL);
    run(&app, 20000);
}

TT_TEST(sip_udp_200)
{
    char line[512];
    sip_case("sip:10.0.0.1:5060", SIP_ANSWER);
    TT_EQ_INT(done_calls, 1);
    TT_EQ_INT(app.ok, 1);
    TT_EQ_INT(app.sip_status, 200);
    TT_EQ_INT(app.sip_retransmits, 0);
    TT_ASSERT(strncmp(sip_last, "OPTIONS sip:10.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1:", 58) == 0);
    TT_ASSERT(strstr(sip_last, "\r\nCSeq: 1 OPTIONS\r\n") != NULL);
    TT_ASSERT(strstr(sip_last, "\r\nContent-Length: 0\r\n\r\n") != NULL);
    lwapp_format(&app, 1, line, sizeof line);
    TT_ASSERT(strstr(line, "\"event\":\"sip_reply\"") != NULL);
    TT_ASSERT(strstr(line, "\"status\":200") != NULL);
    TT_ASSERT(strstr(line, "\"transport\":\"udp\"") != NULL);
}

TT_TEST(sip_udp_486_is_reported_and_fails)
{
    sip_case("sip:10.0.0.1", SIP_BUSY);
    TT_EQ_INT(app.done, 1);
    TT_EQ_INT(app.ok, 0);
    TT_EQ_INT(app.sip_status, 486);
}

TT_TEST(sip_udp_silent_retransmits_then_times_out)
{
    u32_t t0 = now_ms;
    sip_case("sip:10.0.0.1", SIP_SILENT);
    TT_EQ_INT(app.done, 1);
    TT_EQ_INT(app.ok, 0);
    TT_EQ_INT(app.sip_status, 0);
    /* T1 = 500 ms doubling, capped at T2 = 4 s: 0, .5, 1.5, 3.5, 7.5 s < 8 s */
    TT_EQ_INT(app.sip_retransmits, 4);
    TT_EQ_INT(sip_requests, 5);
    TT_ASSERT(now_ms - t0 >= 8000 && now_ms - t0 < 8100);
    TT_ASSERT(strstr(app.error, "no final SIP response") != NULL);
}

TT_TEST(sip_tcp_200_split_response)
{
    char line[512];
    sip_case("sip:10.0.0.1:5060;transport=tcp", SIP_ANSWER);
    TT_EQ_INT(app.ok, 1);
    TT_EQ_INT(app.sip_status, 200);
    TT_ASSERT(strstr(sip_last, "Via: SIP/2.0/TCP 10.0.0.1:") != NULL);
    TT_ASSERT(strstr(sip_last, ";transport=tcp>") != NULL);
    lwapp_format(&app, 1, line, sizeof line);
    TT_ASSERT(strstr(line, "\"transport\":\"tcp\"") != NULL);
}

TT_TEST(sip_tcp_refused)
{
    sip_case("sip:10.0.0.1:5999;transport=tcp", SIP_ANSWER); /* nobody listens: RST */
    TT_EQ_INT(app.done, 1);
    TT_EQ_INT(app.ok, 0);
    TT_EQ_INT(app.sip_status, 0);
    TT_ASSERT(app.error[0] != 0);
}

/* ---- TCP send to a hashing sink --------------------------------------------- */

static mbedtls_sha256_context sink_sha;
static uint64_t sink_bytes;
static u8_t sink_digest[32];
static int sink_closed, sink_answer = 1;

static void sha_init_(mbedtls_sha256_context *c)
{
    mbedtls_sha256_init(c);
#if MBEDTLS_VERSION_MAJOR >= 3
    mbedtls_sha256_starts(c, 0);
#else
    mbedtls_sha256_starts_ret(c, 0);
#endif
}
static void sha_upd_(mbedtls_sha256_context *c, const u8_t *p, size_t n)
{
#if MBEDTLS_VERSION_MAJOR >= 3
    mbedtls_sha256_update(c, p, n);
#else
    mbedtls_sha256_update_ret(c, p, n);
#endif
}
static void sha_fin_(mbedtls_sha256_context *c, u8_t *o)
{
#if MBEDTLS_VERSION_MAJOR >= 3
    mbedtls_sha256_finish(c, o);
#else
    mbedtls_sha256_finish_ret(c, o);
#endif
    mbedtls_sha256_free(c);
}

static err_t sink_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
    (void)arg;
    (void)err;
    if (p == NULL) {
        char hex[66];
        sha_fin_(&sink_sha, sink_digest);
        for (int i = 0; i < 32; i++) {
            snprintf(hex + 2 * i, 3, "%02x", sink_digest[i]);
        }
        hex[64] = '\n';
        hex[65] = 0;
        if (sink_answer) {
            tcp_write(pcb, hex, 65, TCP_WRITE_FLAG_COPY);
            tcp_close(pcb);
        }
        sink_closed = 1;
        return ERR_OK;
    }
    for (struct pbuf *q2 = p; q2 != NULL; q2 = q2->next) {
        sha_upd_(&sink_sha, (const u8_t *)q2->payload, q2->len);
    }
    sink_bytes += p->tot_len;
    tcp_recved(pcb, p->tot_len);
    pbuf_free(p);
    return ERR_OK;
}

static err_t sink_accept(void *arg, struct tcp_pcb *newpcb, err_t err)
{
    (void)arg;
    (void)err;
    sha_init_(&sink_sha);
    sink_bytes = 0;
    sink_closed = 0;
    tcp_recv(newpcb, sink_recv);
    return ERR_OK;
}

/* The generator as documented (xorshift64*, little-endian bytes), written
 * again here: the bytes of a seed are part of the contract. */
static void expected_digest(uint64_t seed, uint64_t n, u8_t out[32])
{
    mbedtls_sha256_context c;
    uint64_t x = seed ? seed : 1, done = 0;
    u8_t b[8];
    sha_init_(&c);
    while (done < n) {
        uint64_t r;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        r = x * 0x2545F4914F6CDD1DULL;
        for (int k = 0; k < 8; k++) {
            b[k] = (u8_t)(r >> (8 * k));
        }
        /* the app draws per 2048-byte chunk: a chunk's tail uses a partial word */
        {
            uint64_t chunk_off = done % 2048, chunk_left = 2048 - chunk_off, left = n - done;
            size_t take = 8;
            if (left < take) take = (size_t)left;
            if (chunk_left < take) take = (size_t)chunk_left;
            sha_upd_(&c, b, take);
            done += take;
        }
    }
    sha_fin_(&c, out);
}

static unsigned last_refused, last_dropped;

static void tcp_case(uint64_t bytes, uint64_t seed, unsigned refuse_every, unsigned drop_every)
{
    static int listening;
    lwapp_spec s;
    setup();
    if (!listening) {
        struct tcp_pcb *t = tcp_new();
        tcp_bind(t, IP_ADDR_ANY, 5001);
        t = tcp_listen(t);
        tcp_accept(t, sink_accept);
        listening = 1;
    }
    faults(refuse_every, drop_every);
    spec_for(&s, LWAPP_TCP_SEND, 5001);
    s.bytes = bytes;
    s.seed = seed;
    s.timeout_ms = 600000;
    done_calls = 0;
    lwapp_start(&app, &s, on_done, NULL);
    run(&app, 600000);
    last_refused = out_refused;
    last_dropped = out_dropped;
    faults(0, 0);
}

TT_TEST(tcp_send_hash_matches)
{
    u8_t want[32];
    char hex[65], line[1024];
    tcp_case(300000, 7, 0, 0);
    TT_EQ_INT(done_calls, 1);
    TT_EQ_INT(app.ok, 1);
    TT_ASSERT(sink_bytes == 300000);
    TT_EQ_INT(sink_closed, 1);
    TT_EQ_MEM(app.sha256, sink_digest, 32);
    expected_digest(7, 300000, want);
    TT_EQ_MEM(app.sha256, want, 32);
    lwapp_sha256_hex(&app, hex);
    TT_ASSERT(strncmp(app.reply, hex, 64) == 0); /* the sink's answer came back */
    lwapp_format(&app, 1, line, sizeof line);
    TT_ASSERT(strstr(line, "\"event\":\"tcp_done\"") != NULL);
    TT_ASSERT(strstr(line, "\"bytes\":300000") != NULL);
    TT_ASSERT(strstr(line, hex) != NULL);
}

TT_TEST(tcp_send_other_seed_other_bytes)
{
    u8_t first[32];
    tcp_case(5000, 1, 0, 0);
    TT_EQ_INT(app.ok, 1);
    memcpy(first, sink_digest, 32);
    tcp_case(5000, 2, 0, 0);
    TT_EQ_INT(app.ok, 1);
    TT_ASSERT(memcmp(first, sink_digest, 32) != 0);
    tcp_case(5000, 1, 0, 0);
    TT_EQ_MEM(first, sink_digest, 32); /* deterministic */
}

TT_TEST(tcp_send_survives_refusals_and_losses)
{
    u8_t want[32];
    /* every 5th packet refused with ERR_MEM (a full tunnel queue), every
     * 13th lost: TCP retries and retransmits; the bytes stay identical */
    tcp_case(200000, 3, 5, 13);
    TT_ASSERT(last_refused > 10 && last_dropped > 10); /* the faults happened */
    TT_EQ_INT(app.ok, 1);
    TT_ASSERT(sink_bytes == 200000);
    expected_digest(3, 200000, want);
    TT_EQ_MEM(sink_digest, want, 32);
    TT_EQ_MEM(app.sha256, want, 32);
}

TT_TEST(tcp_send_refusals_cost_no_retransmission_timeouts)
{
    u32_t t0 = now_ms;
    /* every 3rd packet refused (ERR_MEM), none lost: the application
     * retries within milliseconds; lwIP's retransmission time-out (>= 1 s)
     * is never needed */
    tcp_case(300000, 4, 3, 0);
    TT_EQ_INT(app.ok, 1);
    TT_ASSERT(last_refused > 50);
    TT_ASSERT(app.tcp_stalls > 0);
    TT_ASSERT(app.t_acked - app.t_connected < 1000);
    TT_ASSERT(now_ms - t0 < 1500);
}

TT_TEST(tcp_send_refused_connection)
{
    lwapp_spec s;
    setup();
    faults(0, 0);
    spec_for(&s, LWAPP_TCP_SEND, 5998);
    s.bytes = 1000;
    lwapp_start(&app, &s, on_done, NULL);
    run(&app, 5000);
    TT_EQ_INT(app.done, 1);
    TT_EQ_INT(app.ok, 0);
    TT_ASSERT(app.tcp_acked == 0);
}

TT_TEST(tcp_send_silent_receiver_times_out_cleanly)
{
    /* the sink never closes its side: done 10 s after the last ACK, still ok */
    sink_answer = 0;
    tcp_case(10000, 9, 0, 0);
    sink_answer = 1;
    TT_EQ_INT(app.ok, 1);
    TT_ASSERT(app.reply_len == 0);
    TT_ASSERT(app.t_end - app.t_acked >= 10000);
}

/* ---- RTP-like stream to an echo that drops and duplicates -------------------- */

static unsigned echo_count;
static void echo_srv(void *arg, struct udp_pcb *pcb, struct pbuf *p, const ip_addr_t *addr, u16_t port)
{
    u8_t h[16];
    unsigned idx;
    (void)arg;
    pbuf_copy_partial(p, h, 16, 0);
    idx = ((unsigned)h[12] << 24) | ((unsigned)h[13] << 16) | ((unsigned)h[14] << 8) | h[15];
    echo_count++;
    if (idx % 10 != 3) {
        /* udp_sendto() leaves its header on p: a copy for the duplicate */
        struct pbuf *dup = idx % 25 == 0 ? pbuf_clone(PBUF_TRANSPORT, PBUF_RAM, p) : NULL;
        udp_sendto(pcb, p, addr, port);
        if (dup != NULL) {
            udp_sendto(pcb, dup, addr, port);
            pbuf_free(dup);
        }
    }
    pbuf_free(p);
}

TT_TEST(rtp_counts_losses_and_duplicates)
{
    static struct udp_pcb *u;
    lwapp_spec s;
    u32_t t0;
    char line[600];
    setup();
    faults(0, 0);
    if (u == NULL) {
        u = udp_new();
        udp_bind(u, IP_ADDR_ANY, 40000);
        udp_recv(u, echo_srv, NULL);
    }
    echo_count = 0;
    spec_for(&s, LWAPP_RTP, 40000);
    s.seconds = 2;
    s.pps = 50;
    t0 = now_ms;
    lwapp_start(&app, &s, on_done, NULL);
    run(&app, 10000);
    TT_EQ_INT(app.done, 1);
    TT_EQ_INT(app.sent, 100);            /* 50/s for 2 s, no drift */
    TT_EQ_INT(echo_count, 100);
    TT_EQ_INT(app.received, 90);         /* idx % 10 == 3 dropped */
    TT_EQ_INT(app.rtp_dups, 4);          /* 0, 25, 50, 75 */
    TT_EQ_INT(app.ok, 0);
    TT_ASSERT(now_ms - t0 >= 3500);     /* 2 s of stream + 1.5 s drain */
    lwapp_format(&app, 1, line, sizeof line);
    TT_ASSERT(strstr(line, "\"sent\":100,\"received\":90,\"lost\":10,\"duplicates\":4") != NULL);
}

/* ---- the same stream over TCP, RFC 4571 framing, rtcp-mux ------------------- */

enum { R4571_ECHO = 0, R4571_BYTEWISE, R4571_OVERLONG, R4571_CLOSE };
static int r4571_mode;
static unsigned r4571_frames, r4571_rtcp;
static u8_t r4571_acc[4096];
static size_t r4571_len;

/* The IMS-AGW's echo: frames back as they came (or one byte per write,
 * or an over-long frame, or a close after 20 frames). */
static err_t r4571_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
    (void)arg;
    (void)err;
    if (p == NULL) {
        tcp_close(pcb);
        return ERR_OK;
    }
    r4571_len += pbuf_copy_partial(p, r4571_acc + r4571_len,
                                   (u16_t)(sizeof r4571_acc - r4571_len), 0);
    tcp_recved(pcb, p->tot_len);
    pbuf_free(p);
    while (r4571_len >= 2) {
        size_t n = ((size_t)r4571_acc[0] << 8) | r4571_acc[1], k;
        if (r4571_len < 2 + n) {
            break;
        }
        r4571_frames++;
        if (n >= 2 && r4571_acc[2 + 1] >= 192 && r4571_acc[2 + 1] <= 223) {
            r4571_rtcp++;
        }
        if (r4571_mode == R4571_CLOSE && r4571_frames == 20) {
            tcp_close(pcb);
            return ERR_OK;
        }
        if (r4571_mode == R4571_OVERLONG && r4571_frames == 10) {
            static const u8_t big[2] = { 0x10, 0x00 }; /* 4096 > 172 */
            tcp_write(pcb, big, 2, TCP_WRITE_FLAG_COPY);
        } else if (r4571_mode == R4571_BYTEWISE) {
            for (k = 0; k < 2 + n; k++) {
                tcp_write(pcb, r4571_acc + k, 1, TCP_WRITE_FLAG_COPY);
            }
        } else {
            tcp_write(pcb, r4571_acc, (u16_t)(2 + n), TCP_WRITE_FLAG_COPY);
        }
        tcp_output(pcb);
        memmove(r4571_acc, r4571_acc + 2 + n, r4571_len - 2 - n);
        r4571_len -= 2 + n;
    }
    return ERR_OK;
}

static err_t r4571_accept(void *arg, struct tcp_pcb *newpcb, err_t err)
{
    (void)arg;
    (void)err;
    r4571_len = 0;
    tcp_recv(newpcb, r4571_recv);
    return ERR_OK;
}

static void rtp_tcp_case(int mode, unsigned seconds)
{
    static struct tcp_pcb *l;
    lwapp_spec s;
    setup();
    faults(0, 0);
    if (l == NULL) {
        l = tcp_new();
        tcp_bind(l, IP_ADDR_ANY, 80);
        l = tcp_listen(l);
        tcp_accept(l, r4571_accept);
    }
    r4571_mode = mode;
    r4571_frames = r4571_rtcp = 0;
    spec_for(&s, LWAPP_RTP_TCP, 80);
    s.seconds = seconds;
    s.pps = 50;
    done_calls = 0;
    lwapp_start(&app, &s, on_done, NULL);
    run(&app, 30000);
}

TT_TEST(rtp_tcp_every_packet_back)
{
    char line[700];
    rtp_tcp_case(R4571_ECHO, 2);
    TT_EQ_INT(app.done, 1);
    TT_EQ_INT(done_calls, 1);
    TT_EQ_INT(app.sent, 100);
    TT_EQ_INT(app.received, 100);
    TT_EQ_INT(app.rtcp_sent, 2);  /* after packets 50 and 100 ... */
    TT_EQ_INT(app.rtcp_back, 2);
    TT_EQ_INT(r4571_frames, 102);
    TT_EQ_INT(r4571_rtcp, 2);
    TT_EQ_INT(app.ok, 1);
    lwapp_format(&app, 1, line, sizeof line);
    TT_ASSERT(strstr(line, "\"event\":\"rtp_tcp_done\"") != NULL);
    TT_ASSERT(strstr(line, "\"sent\":100,\"received\":100,\"lost\":0,\"rtcp_sent\":2,\"rtcp_back\":2") != NULL);
}

TT_TEST(rtp_tcp_frames_split_byte_by_byte)
{
    rtp_tcp_case(R4571_BYTEWISE, 1);
    TT_EQ_INT(app.sent, 50);
    TT_EQ_INT(app.received, 50);
    TT_EQ_INT(app.rtcp_back, 1);
    TT_EQ_INT(app.ok, 1);
}

TT_TEST(rtp_tcp_overlong_frame_fails)
{
    rtp_tcp_case(R4571_OVERLONG, 2);
    TT_EQ_INT(app.done, 1);
    TT_EQ_INT(app.ok, 0);
    TT_ASSERT(strstr(app.error, "RFC 4571") != NULL);
    TT_ASSERT(app.rtp_bad >= 1);
}

TT_TEST(rtp_tcp_echo_closing_fails)
{
    rtp_tcp_case(R4571_CLOSE, 2);
    TT_EQ_INT(app.done, 1);
    TT_EQ_INT(app.ok, 0);
    TT_ASSERT(app.received < 100);
}

TT_TEST(rtp_flood_window)
{
    lwapp_spec s;
    setup();
    faults(0, 0);
    echo_count = 0;
    spec_for(&s, LWAPP_RTP, 40000);
    s.seconds = 1;
    s.pps = 0;
    s.window = 8;
    lwapp_start(&app, &s, on_done, NULL);
    run(&app, 10000);
    TT_EQ_INT(app.done, 1);
    TT_ASSERT(app.sent > 100);           /* many more than 50/s */
    TT_ASSERT(app.received > 0);
    TT_EQ_INT(app.ok, 1);                /* losses are the measurement */
    TT_ASSERT(app.sent - app.received >= app.sent / 10 - 1);
}

TT_TEST(bad_spec_reports_through_on_done)
{
    lwapp_spec s;
    setup();
    spec_for(&s, LWAPP_PING, 0);
    s.count = 0;
    done_calls = 0;
    TT_EQ_INT(lwapp_start(&app, &s, on_done, NULL), -1);
    TT_EQ_INT(done_calls, 0);            /* never from inside lwapp_start() */
    TT_EQ_INT(lwapp_poll(&app), LWAPP_POLL_DONE);
    TT_EQ_INT(done_calls, 1);
    TT_EQ_INT(app.ok, 0);
    TT_EQ_INT(lwapp_poll(&app), LWAPP_POLL_DONE);
    TT_EQ_INT(done_calls, 1);            /* once */
}

TT_TEST(abort_and_link_up_are_safe)
{
    lwapp_spec s;
    setup();
    faults(0, 0);
    spec_for(&s, LWAPP_RTP, 40000);
    s.seconds = 5;
    done_calls = 0;
    lwapp_start(&app, &s, on_done, NULL);
    run(&app, 100);
    lwapp_link_up(&app);                 /* not TCP: nothing */
    lwapp_abort(&app);
    TT_EQ_INT(done_calls, 1);
    TT_EQ_INT(app.ok, 0);
    TT_ASSERT(strcmp(app.error, "aborted") == 0);
    lwapp_abort(&app);
    TT_EQ_INT(done_calls, 1);
    run(&app, 100);                      /* the stack runs on without it */
}

int main(void)
{
    TT_RUN(sip_uri_parsing);
    TT_RUN(hostport_and_bytes_parsing);
    TT_RUN(cli_parsing);
    TT_RUN(ping_answered);
    TT_RUN(ping_lost_replies_fail);
    TT_RUN(sip_udp_200);
    TT_RUN(sip_udp_486_is_reported_and_fails);
    TT_RUN(sip_udp_silent_retransmits_then_times_out);
    TT_RUN(sip_tcp_200_split_response);
    TT_RUN(sip_tcp_refused);
    TT_RUN(tcp_send_hash_matches);
    TT_RUN(tcp_send_other_seed_other_bytes);
    TT_RUN(tcp_send_survives_refusals_and_losses);
    TT_RUN(tcp_send_refusals_cost_no_retransmission_timeouts);
    TT_RUN(tcp_send_refused_connection);
    TT_RUN(tcp_send_silent_receiver_times_out_cleanly);
    TT_RUN(rtp_counts_losses_and_duplicates);
    TT_RUN(rtp_flood_window);
    TT_RUN(rtp_tcp_every_packet_back);
    TT_RUN(rtp_tcp_frames_split_byte_by_byte);
    TT_RUN(rtp_tcp_overlong_frame_fails);
    TT_RUN(rtp_tcp_echo_closing_fails);
    TT_RUN(bad_spec_reports_through_on_done);
    TT_RUN(abort_and_link_up_are_safe);
    return TT_DONE();
}
