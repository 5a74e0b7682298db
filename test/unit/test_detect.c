/* Detection state machine: virtual clock and a scripted port.  Every
 * decision outcome, the staggered/parallel timing (decision time of
 * scripted delays), failure reasons, cache reuse and invalidation. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "tse/detect.h"
#include "tt.h"

/* ---- scripted world ---------------------------------------------------- */

enum { B_SILENT = 0, B_OK, B_NAT, B_FAIL, B_STATUS };
enum { K_RESP = 1, K_CONNECT, K_FAIL, K_APPREG_OK, K_APPREG_FAIL };

typedef struct script {
    int beh;
    uint32_t delay;
    int err, status;
    int after_sends;      /* UDP: answer after this many sends (default 1) */
} script;

typedef struct event {
    tse_time_ms at;
    int probe, kind, done;
} event;

typedef struct step_rec {
    int probe, done, result, status;
    uint32_t elapsed;
    tse_time_ms at;
    char reason[96];
    char target[80];
} step_rec;

typedef struct world {
    script sc[TSE_PROBE_COUNT];
    event ev[64];
    int nev;
    tse_time_ms now;
    tse_time_ms started_at[TSE_PROBE_COUNT];
    int starts[TSE_PROBE_COUNT];
    int sends[TSE_PROBE_COUNT];
    tse_time_ms send_at[TSE_PROBE_COUNT][8];
    int closed[TSE_PROBE_COUNT];
    int actions;
    const char *proxy_seen;
    uint16_t proxy_port_seen;
    const char *reuse_proxy_seen;     /* REUSE_START's proxy */
    const char *host_seen[TSE_PROBE_COUNT];
    uint16_t port_seen[TSE_PROBE_COUNT];
    uint8_t req[TSE_PROBE_COUNT][700];
    size_t req_len[TSE_PROBE_COUNT];
    step_rec steps[64];
    int nsteps;
    int have_result, results;
    tse_detect_result res;
    tse_time_ms result_at;
    int stray_rc;
} world;

static world W;
static uint32_t g_rand = 12345;

static int entropy(void *user, uint8_t *buf, size_t len)
{
    size_t i;
    (void)user;
    for (i = 0; i < len; i++) {
        g_rand = g_rand * 1103515245u + 12345u;
        buf[i] = (uint8_t)(g_rand >> 16);
    }
    return 0;
}

static void on_event(void *user, const tse_detect_event *ev)
{
    world *w = (world *)user;
    if (ev->type == TSE_DETECT_EV_STEP) {
        step_rec *s = &w->steps[w->nsteps < 63 ? w->nsteps++ : 63];
        s->probe = ev->step->probe;
        s->done = ev->step->done;
        s->result = ev->step->result;
        s->status = ev->step->status;
        s->elapsed = ev->step->elapsed_ms;
        s->at = w->now;
        snprintf(s->reason, sizeof s->reason, "%s", ev->step->reason ? ev->step->reason : "");
        snprintf(s->target, sizeof s->target, "%s", ev->step->target ? ev->step->target : "");
    } else {
        w->have_result = 1;
        w->results++;
        w->res = *ev->result;
        w->result_at = w->now;
    }
}

static void add_event(world *w, tse_time_ms at, int probe, int kind)
{
    if (w->nev < 64) {
        w->ev[w->nev].at = at;
        w->ev[w->nev].probe = probe;
        w->ev[w->nev].kind = kind;
        w->ev[w->nev].done = 0;
        w->nev++;
    }
}

static const tse_detect_addr LOCAL = {4, 40000, {10, 0, 0, 2}};

/* a tiny STUN success encoder: XOR-MAPPED-ADDRESS + FINGERPRINT */
static uint32_t crc32(const uint8_t *p, size_t n)
{
    uint32_t c = 0xFFFFFFFFu;
    size_t i;
    int k;
    for (i = 0; i < n; i++) {
        c ^= p[i];
        for (k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
    }
    return ~c;
}

static size_t stun_success(uint8_t *m, const uint8_t *req, const uint8_t ip[4], uint16_t port)
{
    uint32_t c;
    memset(m, 0, 40);
    m[0] = 0x01; m[1] = 0x01; m[3] = 20;
    memcpy(m + 4, req + 4, 16); /* cookie + transaction ID */
    m[20] = 0x00; m[21] = 0x20; m[23] = 8;
    m[25] = 1;
    m[26] = (uint8_t)((port >> 8) ^ 0x21); m[27] = (uint8_t)((port & 0xff) ^ 0x12);
    m[28] = ip[0] ^ 0x21; m[29] = ip[1] ^ 0x12; m[30] = ip[2] ^ 0xa4; m[31] = ip[3] ^ 0x42;
    m[32] = 0x80; m[33] = 0x28; m[35] = 4;
    c = crc32(m, 32) ^ 0x5354554Eu;
    m[36] = (uint8_t)(c >> 24); m[37] = (uint8_t)(c >> 16); m[38] = (uint8_t)(c >> 8); m[39] = (uint8_t)c;
    return 40;
}

static size_t stun_error(uint8_t *m, const uint8_t *req, int code)
{
    memset(m, 0, 32);
    m[0] = 0x01; m[1] = 0x11; m[3] = 8;
    memcpy(m + 4, req + 4, 16);
    m[21] = 0x09; m[23] = 4;
    m[26] = (uint8_t)(code / 100); m[27] = (uint8_t)(code % 100);
    return 28;
}

/* copy header value of "name: " from the request */
static void hdr(const uint8_t *req, size_t len, const char *name, char *out, size_t cap)
{
    char tmp[700];
    const char *p, *e;
    size_t n;
    memcpy(tmp, req, len < sizeof tmp - 1 ? len : sizeof tmp - 1);
    tmp[len < sizeof tmp - 1 ? len : sizeof tmp - 1] = '\0';
    out[0] = '\0';
    p = strstr(tmp, name);
    if (!p)
        return;
    p += strlen(name);
    e = strstr(p, "\r\n");
    n = (size_t)(e - p);
    if (n >= cap)
        n = cap - 1;
    memcpy(out, p, n);
    out[n] = '\0';
}

static size_t sip_resp(char *out, size_t cap, const uint8_t *req, size_t len, int status, int tcp)
{
    char via[200], callid[80];
    hdr(req, len, "\r\nVia: ", via, sizeof via);
    hdr(req, len, "\r\nCall-ID: ", callid, sizeof callid);
    return (size_t)snprintf(out, cap,
                            "SIP/2.0 %d Whatever\r\nVia: %s;received=192.0.2.9\r\nCall-ID: %s\r\n"
                            "CSeq: 1 OPTIONS\r\nTo: <sip:x>;tag=1\r\n%s\r\n",
                            status, via, callid, tcp ? "Content-Length: 0\r\n" : "");
}

static void deliver(world *w, tse_detect *d, event *e)
{
    int i = e->probe;
    script *s = i >= 0 ? &w->sc[i] : NULL;
    int status = s && s->status ? s->status : 200;
    e->done = 1;
    if (e->kind == K_APPREG_OK || e->kind == K_APPREG_FAIL) {
        tse_detect_registration_result(d, e->kind == K_APPREG_OK, w->now);
        return;
    }
    if (e->kind == K_FAIL) {
        w->stray_rc = tse_detect_probe_failed(d, (tse_probe_id)i, s->err, s->status, w->now);
        return;
    }
    switch (i) {
    case TSE_PROBE_SIP_UDP: {
        char buf[1024];
        size_t n = sip_resp(buf, sizeof buf, w->req[i], w->req_len[i], status, 0);
        w->stray_rc = tse_detect_udp_recv(d, (tse_probe_id)i, (const uint8_t *)buf, n, &LOCAL, w->now);
        break;
    }
    case TSE_PROBE_STUN_UDP: {
        uint8_t m[64];
        static const uint8_t pub[4] = {203, 0, 113, 9};
        size_t n;
        if (s->beh == B_STATUS)
            n = stun_error(m, w->req[i], s->status);
        else if (s->beh == B_NAT)
            n = stun_success(m, w->req[i], pub, 61000);
        else
            n = stun_success(m, w->req[i], LOCAL.addr, LOCAL.port);
        w->stray_rc = tse_detect_udp_recv(d, (tse_probe_id)i, m, n, &LOCAL, w->now);
        break;
    }
    case TSE_PROBE_SIP_TCP:
        if (e->kind == K_CONNECT) {
            w->stray_rc = tse_detect_tcp_connected(d, (tse_probe_id)i, w->now);
        } else {
            char buf[2048];
            size_t n = 0, half;
            if (s->beh == B_STATUS) /* a provisional first */
                n = sip_resp(buf, sizeof buf, w->req[i], w->req_len[i], 100, 1);
            n += sip_resp(buf + n, sizeof buf - n, w->req[i], w->req_len[i], status == 100 ? 200 : status, 1);
            half = n / 2 + 3;
            w->stray_rc = tse_detect_tcp_recv(d, (tse_probe_id)i, (const uint8_t *)buf, half, w->now);
            if (w->stray_rc == TSE_OK && !tse_detect_done(d))
                w->stray_rc = tse_detect_tcp_recv(d, (tse_probe_id)i, (const uint8_t *)buf + half, n - half, w->now);
        }
        break;
#if TSE_CONFIG_DETECT_REUSE
    case TSE_PROBE_SIP_TLS: {
        /* the plaintext of the TLS stream, in two pieces, a provisional
         * response first when the script says B_STATUS */
        char buf[2048];
        size_t n = 0, half;
        if (s->beh == B_STATUS)
            n = sip_resp(buf, sizeof buf, w->req[i], w->req_len[i], 100, 1);
        n += sip_resp(buf + n, sizeof buf - n, w->req[i], w->req_len[i], status, 1);
        half = n / 2 + 1;
        w->stray_rc = tse_detect_tcp_recv(d, (tse_probe_id)i, (const uint8_t *)buf, half, w->now);
        if (w->stray_rc == TSE_OK && !tse_detect_done(d))
            w->stray_rc = tse_detect_tcp_recv(d, (tse_probe_id)i, (const uint8_t *)buf + half,
                                              n - half, w->now);
        break;
    }
    case TSE_PROBE_TURN_TLS:
        w->stray_rc = tse_detect_reuse_ok(d, (tse_probe_id)i, 0, w->now);
        break;
#endif
    default:
        w->stray_rc = tse_detect_tunnel_up(d, (tse_probe_id)i, w->now);
        break;
    }
}

static void on_action(world *w, const tse_detect_action *a)
{
    int i = a->probe;
    script *s = &w->sc[i];
    w->actions++;
    switch (a->type) {
    case TSE_DETECT_ACT_UDP_SEND:
        if (w->sends[i] == 0) {
            w->started_at[i] = w->now;
            w->starts[i]++;
        }
        if (w->sends[i] < 8)
            w->send_at[i][w->sends[i]] = w->now;
        w->sends[i]++;
        memcpy(w->req[i], a->data, a->len);
        w->req_len[i] = a->len;
        w->port_seen[i] = a->port;
        if (w->sends[i] == (s->after_sends ? s->after_sends : 1)) {
            if (s->beh == B_FAIL)
                add_event(w, w->now + s->delay, i, K_FAIL);
            else if (s->beh != B_SILENT)
                add_event(w, w->now + s->delay, i, K_RESP);
        }
        break;
    case TSE_DETECT_ACT_TCP_CONNECT:
        w->started_at[i] = w->now;
        w->starts[i]++;
        w->port_seen[i] = a->port;
        if (s->beh == B_FAIL)
            add_event(w, w->now + s->delay, i, K_FAIL);
        else if (s->beh != B_SILENT)
            add_event(w, w->now + s->delay, i, K_CONNECT);
        break;
    case TSE_DETECT_ACT_TCP_SEND:
        w->sends[i]++;
        memcpy(w->req[i], a->data, a->len);
        w->req_len[i] = a->len;
        add_event(w, w->now, i, K_RESP);
        break;
    case TSE_DETECT_ACT_TUNNEL_START:
        w->started_at[i] = w->now;
        w->starts[i]++;
        w->proxy_seen = a->proxy_host;
        w->proxy_port_seen = a->proxy_port;
        w->port_seen[i] = a->port;
        if (s->beh == B_FAIL)
            add_event(w, w->now + s->delay, i, K_FAIL);
        else if (s->beh != B_SILENT)
            add_event(w, w->now + s->delay, i, K_RESP);
        break;
    case TSE_DETECT_ACT_REUSE_START:
        w->started_at[i] = w->now;
        w->starts[i]++;
        w->reuse_proxy_seen = a->proxy_host;
        w->port_seen[i] = a->port;
        w->host_seen[i] = a->host;
        if (a->len && a->len <= sizeof w->req[i]) {
            memcpy(w->req[i], a->data, a->len);
            w->req_len[i] = a->len;
        }
        if (a->proxy_host)
            w->proxy_port_seen = a->proxy_port;
        if (s->beh == B_FAIL)
            add_event(w, w->now + s->delay, i, K_FAIL);
        else if (s->beh != B_SILENT)
            add_event(w, w->now + s->delay, i, K_RESP);
        break;
    case TSE_DETECT_ACT_CLOSE:
        w->closed[i]++;
        break;
    default:
        break;
    }
}

/* Run until nothing is left to do; returns the number of loop turns. */
static int run(world *w, tse_detect *d)
{
    int iter;
    for (iter = 0; iter < 10000; iter++) {
        tse_detect_action a;
        tse_time_ms next;
        int k, guard = 0;
        while (tse_detect_next_action(d, &a) && guard++ < 100)
            on_action(w, &a);
        next = tse_detect_expiry(d);
        for (k = 0; k < w->nev; k++)
            if (!w->ev[k].done && w->ev[k].at < next)
                next = w->ev[k].at;
        if (next == TSE_TIME_NEVER)
            break;
        if (next > w->now)
            w->now = next;
        for (k = 0; k < w->nev; k++)
            if (!w->ev[k].done && w->ev[k].at <= w->now)
                deliver(w, d, &w->ev[k]);
        if (tse_detect_expiry(d) <= w->now)
            tse_detect_handle_expiry(d, w->now);
    }
    return iter;
}

static tse_detect_settings base_settings(void)
{
    tse_detect_settings s;
    tse_detect_settings_default(&s);
    s.pcscf_host = "pcscf.example";
    s.stun_host = "stun.example";
    s.tscf_host = "tscf.example";
    return s;
}

static tse_detect D;

static int setup_and_run(const tse_detect_settings *s)
{
    tse_detect_callbacks cb;
    cb.on_event = on_event;
    cb.entropy = entropy;
    cb.user = &W;
    if (tse_detect_init(&D, s, &cb) != TSE_OK)
        return -1;
    if (tse_detect_start(&D, W.now) != TSE_OK)
        return -2;
    run(&W, &D);
    return 0;
}

static void reset(void)
{
    memset(&W, 0, sizeof W);
    W.now = 1000000; /* not zero: elapsed times must be relative */
}

static const step_rec *find_step(int probe, int done)
{
    int k;
    for (k = 0; k < W.nsteps; k++)
        if (W.steps[k].probe == probe && W.steps[k].done == done)
            return &W.steps[k];
    return NULL;
}

#define T0 1000000u

/* ---- outcomes ----------------------------------------------------------- */

TT_TEST(direct_when_sip_answers_and_no_nat)
{
    tse_detect_settings s = base_settings();
    const step_rec *st;
    reset();
    W.sc[TSE_PROBE_SIP_UDP] = (script){B_OK, 30, 0, 0, 0};
    W.sc[TSE_PROBE_SIP_TCP] = (script){B_OK, 40, 0, 0, 0};
    W.sc[TSE_PROBE_STUN_UDP] = (script){B_OK, 20, 0, 0, 0};
    W.sc[TSE_PROBE_TUNNEL_1] = (script){B_OK, 100, 0, 0, 0};
    TT_EQ_INT(setup_and_run(&s), 0);
    TT_ASSERT(W.have_result);
    TT_EQ_INT(W.results, 1);
    TT_EQ_INT(W.res.path, TSE_PATH_DIRECT);
    TT_EQ_INT(W.res.elapsed_ms, 30);          /* slowest useful probe: SIP at 30 */
    TT_EQ_INT(W.result_at, T0 + 30);
    TT_EQ_INT(W.res.nat, 0);
    TT_EQ_INT(W.res.sip_status, 200);
    TT_EQ_INT(W.res.tunnel_probe, -1);
    TT_EQ_INT(W.res.mapped.port, 40000);
    /* all three direct probes started at once */
    TT_EQ_INT(W.started_at[TSE_PROBE_SIP_UDP], T0);
    TT_EQ_INT(W.started_at[TSE_PROBE_SIP_TCP], T0);
    TT_EQ_INT(W.started_at[TSE_PROBE_STUN_UDP], T0);
    TT_EQ_INT(W.port_seen[TSE_PROBE_SIP_UDP], 5060);
    TT_EQ_INT(W.port_seen[TSE_PROBE_STUN_UDP], 3478);
    /* the tunnel never started; SIP TCP (still connecting) was cancelled */
    TT_EQ_INT(W.starts[TSE_PROBE_TUNNEL_1], 0);
    TT_EQ_INT(W.starts[TSE_PROBE_TUNNEL_2], 0);
    TT_EQ_INT(W.closed[TSE_PROBE_SIP_TCP], 1);
    st = find_step(TSE_PROBE_SIP_TCP, 1);
    TT_ASSERT(st);
    TT_EQ_INT(st->result, TSE_ERR_DETECT_CANCELLED);
    TT_EQ_INT(st->elapsed, 30);
    st = find_step(TSE_PROBE_TUNNEL_1, 1);
    TT_ASSERT(st);
    TT_EQ_INT(st->result, TSE_ERR_DETECT_CANCELLED);
    st = find_step(TSE_PROBE_STUN_UDP, 1);
    TT_ASSERT(st && st->result == TSE_OK && st->elapsed == 20);
    TT_ASSERT(strstr(st->reason, "no NAT"));
    TT_ASSERT(tse_detect_done(&D));
    TT_ASSERT(tse_detect_get_result(&D) != NULL);
    TT_EQ_INT(tse_detect_expiry(&D), TSE_TIME_NEVER);
}

TT_TEST(nat_traversal_when_mapped_differs)
{
    tse_detect_settings s = base_settings();
    static const uint8_t pub[4] = {203, 0, 113, 9};
    reset();
    W.sc[TSE_PROBE_SIP_UDP] = (script){B_OK, 30, 0, 0, 0};
    W.sc[TSE_PROBE_SIP_TCP] = (script){B_OK, 10, 0, 0, 0};
    W.sc[TSE_PROBE_STUN_UDP] = (script){B_NAT, 50, 0, 0, 0};
    TT_EQ_INT(setup_and_run(&s), 0);
    TT_EQ_INT(W.res.path, TSE_PATH_NAT_TRAVERSAL);
    TT_EQ_INT(W.res.elapsed_ms, 50);
    TT_EQ_INT(W.res.nat, 1);
    TT_EQ_INT(W.res.mapped.family, 4);
    TT_EQ_INT(W.res.mapped.port, 61000);
    TT_EQ_MEM(W.res.mapped.addr, pub, 4);
    /* SIP over TCP answered first (10 ms), the UDP probe was cancelled */
    TT_EQ_INT(find_step(TSE_PROBE_SIP_TCP, 1)->result, TSE_OK);
    TT_EQ_INT(find_step(TSE_PROBE_SIP_UDP, 1)->result, TSE_OK);
}

TT_TEST(sip_404_still_proves_reachability)
{
    tse_detect_settings s = base_settings();
    reset();
    s.sip_tcp = 0;
    W.sc[TSE_PROBE_SIP_UDP] = (script){B_OK, 30, 0, 404, 0};
    W.sc[TSE_PROBE_STUN_UDP] = (script){B_OK, 20, 0, 0, 0};
    TT_EQ_INT(setup_and_run(&s), 0);
    TT_EQ_INT(W.res.path, TSE_PATH_DIRECT);
    TT_EQ_INT(W.res.sip_status, 404);
    TT_EQ_INT(find_step(TSE_PROBE_SIP_UDP, 1)->status, 404);
    TT_EQ_INT(W.starts[TSE_PROBE_SIP_TCP], 0);
    TT_EQ_INT(find_step(TSE_PROBE_SIP_TCP, 0) == NULL, 1);
}

TT_TEST(sip_tcp_provisional_then_final_in_chunks)
{
    tse_detect_settings s = base_settings();
    reset();
    s.sip_udp = 0;
    W.sc[TSE_PROBE_SIP_TCP] = (script){B_STATUS, 40, 0, 200, 0};
    W.sc[TSE_PROBE_STUN_UDP] = (script){B_OK, 20, 0, 0, 0};
    TT_EQ_INT(setup_and_run(&s), 0);
    TT_EQ_INT(W.res.path, TSE_PATH_DIRECT);
    TT_EQ_INT(W.res.sip_status, 200);
    TT_EQ_INT(W.res.elapsed_ms, 40);
    TT_EQ_INT(W.sends[TSE_PROBE_SIP_TCP], 1);
    TT_ASSERT(memcmp(W.req[TSE_PROBE_SIP_TCP], "OPTIONS sip:pcscf.example:5060 SIP/2.0", 38) == 0);
}

TT_TEST(tunnel_when_sip_blocked_decides_at_sip_timeout)
{
    tse_detect_settings s = base_settings();
    const step_rec *st;
    reset();
    W.sc[TSE_PROBE_SIP_UDP] = (script){B_SILENT, 0, 0, 0, 0};
    W.sc[TSE_PROBE_SIP_TCP] = (script){B_FAIL, 10, TSE_ERR_TRANSPORT_REFUSED, 0, 0};
    W.sc[TSE_PROBE_STUN_UDP] = (script){B_OK, 20, 0, 0, 0};
    W.sc[TSE_PROBE_TUNNEL_1] = (script){B_OK, 300, 0, 0, 0};
    W.sc[TSE_PROBE_TUNNEL_2] = (script){B_OK, 300, 0, 0, 0};
    TT_EQ_INT(setup_and_run(&s), 0);
    TT_EQ_INT(W.res.path, TSE_PATH_TUNNEL_DIRECT);
    /* worst case = the slowest useful probe (SIP UDP timeout, 2000 ms),
     * not the sum of timeouts: the tunnel was up in parallel at 550 */
    TT_EQ_INT(W.res.elapsed_ms, 2000);
    TT_EQ_INT(W.started_at[TSE_PROBE_TUNNEL_1], T0 + 250);
    TT_EQ_INT(W.started_at[TSE_PROBE_TUNNEL_2], T0 + 500);
    TT_EQ_INT(W.res.tunnel_probe, TSE_PROBE_TUNNEL_1);
    TT_EQ_INT(W.res.tunnel_port, 443);
    TT_EQ_INT(W.port_seen[TSE_PROBE_TUNNEL_1], 443);
    TT_EQ_INT(W.port_seen[TSE_PROBE_TUNNEL_2], 80);
    TT_ASSERT(W.proxy_seen == NULL);
    /* the winner stays up, the loser is closed */
    TT_EQ_INT(W.closed[TSE_PROBE_TUNNEL_1], 0);
    TT_EQ_INT(W.closed[TSE_PROBE_TUNNEL_2], 1);
    /* UDP retransmissions at 0, 500, 1500 (RTO doubling) */
    TT_EQ_INT(W.sends[TSE_PROBE_SIP_UDP], 3);
    TT_EQ_INT(W.send_at[TSE_PROBE_SIP_UDP][1], T0 + 500);
    TT_EQ_INT(W.send_at[TSE_PROBE_SIP_UDP][2], T0 + 1500);
    st = find_step(TSE_PROBE_SIP_UDP, 1);
    TT_ASSERT(st && st->result == TSE_ERR_DETECT_TIMEOUT && st->elapsed == 2000);
    st = find_step(TSE_PROBE_SIP_TCP, 1);
    TT_ASSERT(st && st->result == TSE_ERR_TRANSPORT_REFUSED && st->elapsed == 10);
    TT_EQ_INT(W.res.sip_error, TSE_ERR_DETECT_TIMEOUT);
    TT_ASSERT(strstr(W.res.reason, "SIP unreachable"));
}

TT_TEST(tunnel_starts_at_once_when_direct_fails_fast)
{
    tse_detect_settings s = base_settings();
    reset();
    W.sc[TSE_PROBE_SIP_UDP] = (script){B_FAIL, 5, TSE_ERR_TRANSPORT_REFUSED, 0, 0};
    W.sc[TSE_PROBE_SIP_TCP] = (script){B_FAIL, 5, TSE_ERR_TRANSPORT_RESET, 0, 0};
    W.sc[TSE_PROBE_STUN_UDP] = (script){B_FAIL, 5, TSE_ERR_TRANSPORT_REFUSED, 0, 0};
    W.sc[TSE_PROBE_TUNNEL_1] = (script){B_OK, 300, 0, 0, 0};
    TT_EQ_INT(setup_and_run(&s), 0);
    TT_EQ_INT(W.res.path, TSE_PATH_TUNNEL_DIRECT);
    TT_EQ_INT(W.started_at[TSE_PROBE_TUNNEL_1], T0 + 5); /* not T0 + 250 */
    TT_EQ_INT(W.res.elapsed_ms, 305);
    TT_EQ_INT(W.res.stun_error, TSE_ERR_TRANSPORT_REFUSED);
    TT_EQ_INT(find_step(TSE_PROBE_SIP_TCP, 1)->result, TSE_ERR_TRANSPORT_RESET);
    /* the second tunnel started a stagger after the first, then lost */
    TT_EQ_INT(W.started_at[TSE_PROBE_TUNNEL_2], T0 + 255);
    TT_EQ_INT(W.closed[TSE_PROBE_TUNNEL_2], 1);
}

TT_TEST(second_port_wins_when_first_hangs)
{
    tse_detect_settings s = base_settings();
    reset();
    W.sc[TSE_PROBE_SIP_UDP] = (script){B_FAIL, 5, TSE_ERR_TRANSPORT_REFUSED, 0, 0};
    W.sc[TSE_PROBE_SIP_TCP] = (script){B_FAIL, 5, TSE_ERR_TRANSPORT_REFUSED, 0, 0};
    W.sc[TSE_PROBE_STUN_UDP] = (script){B_SILENT, 0, 0, 0, 0};
    W.sc[TSE_PROBE_TUNNEL_1] = (script){B_SILENT, 0, 0, 0, 0};
    W.sc[TSE_PROBE_TUNNEL_2] = (script){B_OK, 200, 0, 0, 0};
    TT_EQ_INT(setup_and_run(&s), 0);
    TT_EQ_INT(W.res.path, TSE_PATH_TUNNEL_DIRECT);
    TT_EQ_INT(W.res.tunnel_probe, TSE_PROBE_TUNNEL_2);
    TT_EQ_INT(W.res.tunnel_port, 80);
    TT_EQ_INT(W.res.elapsed_ms, 455);
    TT_EQ_INT(W.closed[TSE_PROBE_TUNNEL_1], 1);
    TT_EQ_INT(W.closed[TSE_PROBE_TUNNEL_2], 0);
    TT_EQ_INT(find_step(TSE_PROBE_TUNNEL_1, 1)->result, TSE_ERR_DETECT_CANCELLED);
    TT_EQ_INT(find_step(TSE_PROBE_STUN_UDP, 1)->result, TSE_ERR_DETECT_CANCELLED);
}

TT_TEST(second_port_starts_when_first_refused)
{
    tse_detect_settings s = base_settings();
    reset();
    W.sc[TSE_PROBE_SIP_UDP] = (script){B_FAIL, 5, TSE_ERR_TRANSPORT_REFUSED, 0, 0};
    W.sc[TSE_PROBE_SIP_TCP] = (script){B_FAIL, 5, TSE_ERR_TRANSPORT_REFUSED, 0, 0};
    W.sc[TSE_PROBE_STUN_UDP] = (script){B_FAIL, 5, TSE_ERR_TRANSPORT_REFUSED, 0, 0};
    W.sc[TSE_PROBE_TUNNEL_1] = (script){B_FAIL, 10, TSE_ERR_TRANSPORT_REFUSED, 0, 0};
    W.sc[TSE_PROBE_TUNNEL_2] = (script){B_OK, 100, 0, 0, 0};
    TT_EQ_INT(setup_and_run(&s), 0);
    TT_EQ_INT(W.started_at[TSE_PROBE_TUNNEL_2], T0 + 15);
    TT_EQ_INT(W.res.elapsed_ms, 115);
    TT_EQ_INT(W.res.tunnel_port, 80);
    TT_EQ_INT(W.res.tunnel_error, TSE_ERR_TRANSPORT_REFUSED);
}

TT_TEST(none_with_reasons_through_proxy)
{
    tse_detect_settings s = base_settings();
    const step_rec *st;
    reset();
    s.proxy_host = "proxy.example";
    s.proxy_port = 3128;
    W.sc[TSE_PROBE_SIP_UDP] = (script){B_FAIL, 5, TSE_ERR_TRANSPORT_REFUSED, 0, 0};
    W.sc[TSE_PROBE_SIP_TCP] = (script){B_FAIL, 5, TSE_ERR_TRANSPORT_TIMEOUT, 0, 0};
    W.sc[TSE_PROBE_STUN_UDP] = (script){B_FAIL, 5, TSE_ERR_TRANSPORT_REFUSED, 0, 0};
    W.sc[TSE_PROBE_TUNNEL_1] = (script){B_FAIL, 100, TSE_ERR_TLS_CERT_UNTRUSTED, 0, 0};
    W.sc[TSE_PROBE_TUNNEL_2] = (script){B_FAIL, 50, TSE_ERR_PROXY_STATUS, 403, 0};
    TT_EQ_INT(setup_and_run(&s), 0);
    TT_EQ_INT(W.res.path, TSE_PATH_NONE);
    TT_EQ_INT(W.res.elapsed_ms, 155);
    TT_ASSERT(W.proxy_seen && strcmp(W.proxy_seen, "proxy.example") == 0);
    TT_EQ_INT(W.proxy_port_seen, 3128);
    st = find_step(TSE_PROBE_TUNNEL_1, 1);
    TT_ASSERT(st && st->result == TSE_ERR_TLS_CERT_UNTRUSTED);
    TT_ASSERT(strstr(st->reason, "intercepted"));
    st = find_step(TSE_PROBE_TUNNEL_2, 1);
    TT_ASSERT(st && st->result == TSE_ERR_PROXY_STATUS && st->status == 403);
    TT_EQ_INT(W.res.tunnel_error, TSE_ERR_PROXY_STATUS);
    TT_EQ_INT(W.res.sip_error, TSE_ERR_TRANSPORT_REFUSED);
    TT_EQ_INT(W.res.tunnel_probe, -1);
    /* every started probe was told to close */
    TT_EQ_INT(W.closed[TSE_PROBE_TUNNEL_1], 1);
    TT_EQ_INT(W.closed[TSE_PROBE_TUNNEL_2], 1);
    TT_EQ_INT(W.closed[TSE_PROBE_SIP_TCP], 1);
}

TT_TEST(tunnel_via_proxy_when_everything_direct_is_silent)
{
    tse_detect_settings s = base_settings();
    reset();
    s.proxy_host = "proxy.example";
    W.sc[TSE_PROBE_TUNNEL_1] = (script){B_OK, 400, 0, 0, 0};
    TT_EQ_INT(setup_and_run(&s), 0);
    TT_EQ_INT(W.res.path, TSE_PATH_TUNNEL_VIA_PROXY);
    TT_EQ_INT(W.res.elapsed_ms, 2000);
    TT_EQ_INT(W.proxy_port_seen, 8080);
    TT_EQ_INT(W.res.stun_error, TSE_ERR_DETECT_TIMEOUT);
}

TT_TEST(no_udp_path_means_tunnel_even_if_sip_works)
{
    tse_detect_settings s = base_settings();
    reset();
    s.stun_timeout_ms = 1200;
    W.sc[TSE_PROBE_SIP_UDP] = (script){B_SILENT, 0, 0, 0, 0};
    W.sc[TSE_PROBE_SIP_TCP] = (script){B_OK, 30, 0, 0, 0};
    W.sc[TSE_PROBE_STUN_UDP] = (script){B_SILENT, 0, 0, 0, 0};
    W.sc[TSE_PROBE_TUNNEL_1] = (script){B_OK, 300, 0, 0, 0};
    TT_EQ_INT(setup_and_run(&s), 0);
    TT_EQ_INT(W.res.path, TSE_PATH_TUNNEL_DIRECT);
    TT_EQ_INT(W.res.elapsed_ms, 1200);
    TT_ASSERT(strstr(W.res.reason, "no UDP path"));
    TT_EQ_INT(W.res.sip_status, 200);
}

TT_TEST(no_stun_server_uses_sip_udp_nat_unknown)
{
    tse_detect_settings s = base_settings();
    reset();
    s.stun_host = NULL;
    W.sc[TSE_PROBE_SIP_UDP] = (script){B_OK, 30, 0, 0, 0};
    W.sc[TSE_PROBE_SIP_TCP] = (script){B_SILENT, 0, 0, 0, 0};
    TT_EQ_INT(setup_and_run(&s), 0);
    TT_EQ_INT(W.res.path, TSE_PATH_NAT_TRAVERSAL);
    TT_EQ_INT(W.res.nat, -1);
    TT_EQ_INT(W.res.elapsed_ms, 30);
    TT_EQ_INT(W.starts[TSE_PROBE_STUN_UDP], 0);
}

TT_TEST(stun_error_response_counts_as_udp_with_nat)
{
    tse_detect_settings s = base_settings();
    reset();
    W.sc[TSE_PROBE_SIP_UDP] = (script){B_OK, 30, 0, 0, 0};
    W.sc[TSE_PROBE_STUN_UDP] = (script){B_STATUS, 10, 0, 420, 0};
    TT_EQ_INT(setup_and_run(&s), 0);
    TT_EQ_INT(W.res.path, TSE_PATH_NAT_TRAVERSAL);
    TT_EQ_INT(find_step(TSE_PROBE_STUN_UDP, 1)->status, 420);
}

TT_TEST(stun_retransmitted_until_answered)
{
    tse_detect_settings s = base_settings();
    reset();
    W.sc[TSE_PROBE_SIP_UDP] = (script){B_OK, 30, 0, 0, 0};
    W.sc[TSE_PROBE_STUN_UDP] = (script){B_OK, 10, 0, 0, 3};
    TT_EQ_INT(setup_and_run(&s), 0);
    TT_EQ_INT(W.res.path, TSE_PATH_DIRECT);
    TT_EQ_INT(W.sends[TSE_PROBE_STUN_UDP], 3);
    TT_EQ_INT(W.res.elapsed_ms, 1510);
    /* the same transaction (same bytes) each time, RFC 8489 6.2.1 */
    TT_EQ_INT(W.req_len[TSE_PROBE_STUN_UDP], 28);
    /* the tunnel was started meanwhile (stagger) and then closed */
    TT_EQ_INT(W.starts[TSE_PROBE_TUNNEL_1], 1);
    TT_EQ_INT(W.closed[TSE_PROBE_TUNNEL_1], 1);
}

TT_TEST(direct_preferred_over_an_earlier_tunnel)
{
    tse_detect_settings s = base_settings();
    reset();
    W.sc[TSE_PROBE_SIP_UDP] = (script){B_OK, 900, 0, 0, 0};
    W.sc[TSE_PROBE_STUN_UDP] = (script){B_OK, 20, 0, 0, 0};
    W.sc[TSE_PROBE_TUNNEL_1] = (script){B_OK, 100, 0, 0, 0};
    W.sc[TSE_PROBE_TUNNEL_2] = (script){B_OK, 100, 0, 0, 0};
    TT_EQ_INT(setup_and_run(&s), 0);
    TT_EQ_INT(W.res.path, TSE_PATH_DIRECT);
    TT_EQ_INT(W.res.elapsed_ms, 900);
    TT_EQ_INT(W.closed[TSE_PROBE_TUNNEL_1], 1); /* up at 350, then released */
    /* the port-80 fallback never starts once port 443 is up */
    TT_EQ_INT(W.starts[TSE_PROBE_TUNNEL_2], 0);
    TT_EQ_INT(W.closed[TSE_PROBE_TUNNEL_2], 0);
}

TT_TEST(application_reports_registration)
{
    tse_detect_settings s = base_settings();
    reset();
    s.app_reports_registration = 1;
    W.sc[TSE_PROBE_STUN_UDP] = (script){B_OK, 20, 0, 0, 0};
    add_event(&W, T0 + 120, -1, K_APPREG_OK);
    TT_EQ_INT(setup_and_run(&s), 0);
    TT_EQ_INT(W.res.path, TSE_PATH_DIRECT);
    TT_EQ_INT(W.res.elapsed_ms, 120);
    TT_EQ_INT(W.starts[TSE_PROBE_SIP_UDP], 0);
    TT_EQ_INT(W.starts[TSE_PROBE_SIP_TCP], 0);

    reset();
    W.sc[TSE_PROBE_STUN_UDP] = (script){B_OK, 20, 0, 0, 0};
    W.sc[TSE_PROBE_TUNNEL_1] = (script){B_OK, 100, 0, 0, 0};
    add_event(&W, T0 + 120, -1, K_APPREG_FAIL);
    TT_EQ_INT(setup_and_run(&s), 0);
    TT_EQ_INT(W.res.path, TSE_PATH_TUNNEL_DIRECT);
    /* the failure at 120 starts the tunnel at once, before the stagger */
    TT_EQ_INT(W.started_at[TSE_PROBE_TUNNEL_1], T0 + 120);
    TT_EQ_INT(W.res.elapsed_ms, 220);

    /* no report at all: counts as failed after sip_timeout_ms */
    reset();
    W.sc[TSE_PROBE_STUN_UDP] = (script){B_OK, 20, 0, 0, 0};
    W.sc[TSE_PROBE_TUNNEL_1] = (script){B_OK, 100, 0, 0, 0};
    TT_EQ_INT(setup_and_run(&s), 0);
    TT_EQ_INT(W.results, 1);
    TT_EQ_INT(W.res.path, TSE_PATH_TUNNEL_DIRECT);
    TT_EQ_INT(W.res.elapsed_ms, 2000);
    TT_EQ_INT(tse_detect_registration_result(&D, 1, T0 + 2500), TSE_ERR_STATE);
}

TT_TEST(worst_case_all_silent_is_slowest_probe_not_sum)
{
    tse_detect_settings s = base_settings();
    reset();
    /* every probe silent: SIP 2000, STUN 2000, tunnels 10000 each.  In
     * sequence that would be 24000 ms; in parallel with a 250 ms stagger
     * the last (second tunnel, started at 500) times out at 10500. */
    TT_EQ_INT(setup_and_run(&s), 0);
    TT_EQ_INT(W.res.path, TSE_PATH_NONE);
    TT_EQ_INT(W.res.elapsed_ms, 10500);
    TT_EQ_INT(W.res.tunnel_error, TSE_ERR_DETECT_TIMEOUT);
    TT_EQ_INT(W.res.sip_error, TSE_ERR_DETECT_TIMEOUT);
    TT_EQ_INT(W.res.stun_error, TSE_ERR_DETECT_TIMEOUT);
    TT_EQ_INT(find_step(TSE_PROBE_TUNNEL_1, 1)->elapsed, 10000);
    TT_EQ_INT(W.closed[TSE_PROBE_TUNNEL_1], 1);
    TT_EQ_INT(W.closed[TSE_PROBE_TUNNEL_2], 1);
    TT_EQ_INT(W.closed[TSE_PROBE_SIP_UDP], 1);
    TT_EQ_INT(W.closed[TSE_PROBE_STUN_UDP], 1);
    /* STUN retransmissions at 0, 500, 1500 (the next, 3500, is past 2000) */
    TT_EQ_INT(W.sends[TSE_PROBE_STUN_UDP], 3);
}

TT_TEST(single_tunnel_port)
{
    tse_detect_settings s = base_settings();
    reset();
    s.tunnel_port_2 = 0;
    s.tunnel_timeout_ms = 3000;
    W.sc[TSE_PROBE_SIP_UDP] = (script){B_FAIL, 5, TSE_ERR_TRANSPORT_REFUSED, 0, 0};
    W.sc[TSE_PROBE_SIP_TCP] = (script){B_FAIL, 5, TSE_ERR_TRANSPORT_REFUSED, 0, 0};
    TT_EQ_INT(setup_and_run(&s), 0);
    TT_EQ_INT(W.res.path, TSE_PATH_NONE);
    TT_EQ_INT(W.starts[TSE_PROBE_TUNNEL_2], 0);
    TT_EQ_INT(W.started_at[TSE_PROBE_TUNNEL_1], T0 + 5);
    TT_EQ_INT(W.res.elapsed_ms, 3005);
    TT_EQ_INT(find_step(TSE_PROBE_TUNNEL_2, 0) == NULL, 1);
}

TT_TEST(nothing_configured_is_none_at_once)
{
    tse_detect_settings s;
    reset();
    tse_detect_settings_default(&s);
    TT_EQ_INT(setup_and_run(&s), 0);
    TT_EQ_INT(W.res.path, TSE_PATH_NONE);
    TT_EQ_INT(W.res.elapsed_ms, 0);
    TT_EQ_INT(W.actions, 0);
    TT_ASSERT(strstr(W.res.reason, "no TSCF"));
}

/* ---- port contract and stray input --------------------------------------- */

TT_TEST(stray_input_and_api_errors)
{
    tse_detect_settings s = base_settings();
    tse_detect_callbacks cb;
    tse_detect_action a;
    static const uint8_t junk[] = "SIP/2.0 200 OK\r\nVia: x\r\n\r\n";
    uint8_t stun_req[28];
    int k;
    reset();
    cb.on_event = on_event;
    cb.entropy = entropy;
    cb.user = &W;
    TT_EQ_INT(tse_detect_init(&D, &s, NULL), TSE_ERR_INVALID_ARG);
    cb.entropy = NULL;
    TT_EQ_INT(tse_detect_init(&D, &s, &cb), TSE_ERR_INVALID_ARG);
    cb.entropy = entropy;
    s.network_id = (const uint8_t *)"x";
    s.network_id_len = 1;
    TT_EQ_INT(tse_detect_init(&D, &s, &cb), TSE_ERR_INVALID_ARG); /* id without cache */
    s.network_id = NULL;
    TT_EQ_INT(tse_detect_init(&D, &s, &cb), TSE_OK);
    TT_EQ_INT(tse_detect_udp_recv(&D, TSE_PROBE_SIP_UDP, junk, sizeof junk - 1, NULL, T0), TSE_ERR_STATE);
    TT_EQ_INT(tse_detect_start(&D, T0), TSE_OK);
    TT_EQ_INT(tse_detect_start(&D, T0), TSE_ERR_STATE);
    for (k = 0; k < 10 && tse_detect_next_action(&D, &a); k++)
        if (a.probe == TSE_PROBE_STUN_UDP)
            memcpy(stun_req, a.data, 28);
    TT_EQ_INT(tse_detect_want(&D), 0);
    /* garbage and foreign answers are ignored: probes keep running */
    TT_EQ_INT(tse_detect_udp_recv(&D, TSE_PROBE_SIP_UDP, junk, sizeof junk - 1, &LOCAL, T0 + 1), TSE_OK);
    {
        uint8_t m[64];
        uint8_t other[28];
        memcpy(other, stun_req, 28);
        other[19] ^= 1;
        TT_EQ_INT(tse_detect_udp_recv(&D, TSE_PROBE_STUN_UDP, m, stun_success(m, other, LOCAL.addr, 1), &LOCAL, T0 + 1), TSE_OK);
        TT_EQ_INT(tse_detect_udp_recv(&D, TSE_PROBE_STUN_UDP, m, 3, &LOCAL, T0 + 1), TSE_OK);
    }
    TT_ASSERT(find_step(TSE_PROBE_SIP_UDP, 1) == NULL);
    TT_ASSERT(find_step(TSE_PROBE_STUN_UDP, 1) == NULL);
    /* wrong probe kinds, bad arguments, probes not running */
    TT_EQ_INT(tse_detect_udp_recv(&D, TSE_PROBE_SIP_TCP, junk, 3, NULL, T0 + 1), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_detect_udp_recv(&D, (tse_probe_id)9, junk, 3, NULL, T0 + 1), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_detect_tcp_connected(&D, TSE_PROBE_SIP_UDP, T0 + 1), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_detect_tunnel_up(&D, TSE_PROBE_TUNNEL_1, T0 + 1), TSE_ERR_STATE); /* not started yet */
    TT_EQ_INT(tse_detect_probe_failed(&D, TSE_PROBE_SIP_TCP, 0, 0, T0 + 1), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_detect_registration_result(&D, 1, T0 + 1), TSE_ERR_STATE);
    /* garbage on the TCP stream fails that probe (no resync on a stream) */
    TT_EQ_INT(tse_detect_tcp_connected(&D, TSE_PROBE_SIP_TCP, T0 + 2), TSE_OK);
    TT_EQ_INT(tse_detect_next_action(&D, &a), 1);
    TT_EQ_INT(a.type, TSE_DETECT_ACT_TCP_SEND);
    TT_EQ_INT(tse_detect_tcp_recv(&D, TSE_PROBE_SIP_TCP, (const uint8_t *)"HTTP/1.1 400 Bad\r\n\r\n", 20, T0 + 3), TSE_OK);
    TT_ASSERT(find_step(TSE_PROBE_SIP_TCP, 1) != NULL);
    TT_EQ_INT(find_step(TSE_PROBE_SIP_TCP, 1)->result, TSE_ERR_SIP_MALFORMED);
    TT_EQ_INT(tse_detect_next_action(&D, &a), 1);
    TT_EQ_INT(a.type, TSE_DETECT_ACT_CLOSE);
    TT_EQ_INT(a.probe, TSE_PROBE_SIP_TCP);
    TT_EQ_INT(tse_detect_tcp_recv(&D, TSE_PROBE_SIP_TCP, junk, 3, T0 + 4), TSE_ERR_STATE);
    TT_ASSERT(!tse_detect_done(&D));
    TT_ASSERT(tse_detect_get_result(&D) == NULL);
}

TT_TEST(tcp_response_too_large)
{
    tse_detect_settings s = base_settings();
    tse_detect_callbacks cb;
    tse_detect_action a;
    static uint8_t big[5000];
    reset();
    s.sip_udp = 0;
    cb.on_event = on_event;
    cb.entropy = entropy;
    cb.user = &W;
    TT_EQ_INT(tse_detect_init(&D, &s, &cb), TSE_OK);
    TT_EQ_INT(tse_detect_start(&D, T0), TSE_OK);
    while (tse_detect_next_action(&D, &a)) {}
    TT_EQ_INT(tse_detect_tcp_connected(&D, TSE_PROBE_SIP_TCP, T0), TSE_OK);
    memset(big, 'a', sizeof big);
    memcpy(big, "SIP/2.0 200 OK\r\nX: ", 19);
    TT_EQ_INT(tse_detect_tcp_recv(&D, TSE_PROBE_SIP_TCP, big, 3000, T0 + 1), TSE_OK);
    TT_ASSERT(find_step(TSE_PROBE_SIP_TCP, 1) == NULL); /* incomplete so far */
    TT_EQ_INT(tse_detect_tcp_recv(&D, TSE_PROBE_SIP_TCP, big + 3000, 2000, T0 + 2), TSE_OK);
    TT_EQ_INT(find_step(TSE_PROBE_SIP_TCP, 1)->result, TSE_ERR_SIP_TOO_LARGE);
}

/* ---- random scenarios: invariants ----------------------------------------- */

static uint32_t rnd_state;
static uint32_t rnd(uint32_t n)
{
    rnd_state = rnd_state * 1664525u + 1013904223u;
    return (rnd_state >> 8) % n;
}

TT_TEST(random_scenarios_keep_invariants)
{
    static const int errs[] = {TSE_ERR_TRANSPORT_REFUSED, TSE_ERR_TRANSPORT_RESET,
                               TSE_ERR_TRANSPORT_TIMEOUT, TSE_ERR_PROXY_STATUS,
                               TSE_ERR_TLS_CERT_UNTRUSTED, TSE_ERR_TLS_HANDSHAKE};
    int seed, i;
    for (seed = 1; seed <= 3000; seed++) {
        tse_detect_settings s = base_settings();
        int started[TSE_PROBE_COUNT], finished[TSE_PROBE_COUNT], k;
        rnd_state = (uint32_t)seed;
        reset();
        if (rnd(4) == 0) s.stun_host = NULL;
        if (rnd(3) == 0) s.proxy_host = "proxy.example";
        if (rnd(4) == 0) s.tunnel_port_2 = 0;
        if (rnd(5) == 0) s.sip_tcp = 0;
        if (rnd(6) == 0) s.app_reports_registration = 1;
        if (rnd(8) == 0) s.tscf_host = NULL;
#if TSE_CONFIG_DETECT_REUSE
        if (rnd(3) == 0) {
            s.pcscf_tls_host = "pcscf.example";
            s.turn_host = "turn.example";
        }
#endif
        for (i = 0; i < TSE_PROBE_COUNT; i++) {
            script *sc = &W.sc[i];
            sc->beh = (int)rnd(5);
            sc->delay = rnd(4000);
            sc->err = errs[rnd(6)];
            sc->status = sc->beh == B_STATUS ? (i == TSE_PROBE_STUN_UDP ? 400 + (int)rnd(100) : 404) : 0;
            sc->after_sends = 1 + (int)rnd(3);
        }
        if (s.app_reports_registration && rnd(2))
            add_event(&W, T0 + rnd(3000), -1, rnd(2) ? K_APPREG_OK : K_APPREG_FAIL);
        if (setup_and_run(&s) != 0) {
            TT_ASSERT(0);
        }
        if (W.results != 1) fprintf(stderr, "seed %d app=%d\n", seed, s.app_reports_registration);
        /* always decided, once, within the slowest probe's bound */
        TT_EQ_INT(W.results, 1);
        TT_ASSERT(tse_detect_done(&D));
        TT_ASSERT(W.res.elapsed_ms <= 2 * 250 + 10000);
        /* every started probe finished exactly once */
        memset(started, 0, sizeof started);
        memset(finished, 0, sizeof finished);
        for (k = 0; k < W.nsteps; k++) {
            if (W.steps[k].done) finished[W.steps[k].probe]++;
            else started[W.steps[k].probe]++;
        }
        for (i = 0; i < TSE_PROBE_COUNT; i++) {
            TT_ASSERT(started[i] <= 1 && finished[i] <= 1);
            if (started[i]) TT_EQ_INT(finished[i], 1);
            TT_ASSERT(W.starts[i] <= 1);
            /* everything the port opened is closed, except the winner */
            if (W.starts[i] && i != W.res.tunnel_probe)
                TT_EQ_INT(W.closed[i], 1);
            if (i == W.res.tunnel_probe)
                TT_EQ_INT(W.closed[i], 0);
        }
        /* the decision agrees with the probes */
        switch (W.res.path) {
        case TSE_PATH_DIRECT:
            TT_EQ_INT(W.res.nat, 0);
            TT_ASSERT(s.stun_host != NULL);
            break;
        case TSE_PATH_NAT_TRAVERSAL:
            TT_ASSERT(W.res.nat != 0);
            break;
        case TSE_PATH_TUNNEL_DIRECT:
        case TSE_PATH_TUNNEL_VIA_PROXY:
            TT_ASSERT(W.res.tunnel_probe == TSE_PROBE_TUNNEL_1 || W.res.tunnel_probe == TSE_PROBE_TUNNEL_2);
            TT_EQ_INT(W.res.path == TSE_PATH_TUNNEL_VIA_PROXY, s.proxy_host != NULL);
            TT_EQ_INT(W.sc[W.res.tunnel_probe].beh == B_OK || W.sc[W.res.tunnel_probe].beh == B_NAT ||
                      W.sc[W.res.tunnel_probe].beh == B_STATUS, 1);
            break;
#if TSE_CONFIG_DETECT_REUSE
        case TSE_PATH_REUSE_EXISTING:
            TT_ASSERT(s.pcscf_tls_host != NULL && s.turn_host != NULL);
            TT_EQ_INT(W.res.tunnel_probe, -1);
            TT_EQ_INT(W.res.via_proxy, s.proxy_host != NULL);
            TT_ASSERT(W.sc[TSE_PROBE_SIP_TLS].beh != B_SILENT && W.sc[TSE_PROBE_SIP_TLS].beh != B_FAIL);
            TT_ASSERT(W.sc[TSE_PROBE_TURN_TLS].beh != B_SILENT && W.sc[TSE_PROBE_TURN_TLS].beh != B_FAIL);
            break;
#endif
        default:
            TT_EQ_INT(W.res.tunnel_probe, -1);
            break;
        }
        TT_EQ_INT(tse_detect_expiry(&D), TSE_TIME_NEVER);
        TT_EQ_INT(tse_detect_want(&D), 0);
    }
}

#if TSE_CONFIG_DETECT_CACHE
/* ---- cache ----------------------------------------------------------------- */

TT_TEST(cache_reuse_and_invalidate)
{
    tse_detect_cache cache;
    tse_detect_cache_entry slots[2];
    tse_detect_settings s = base_settings();
    static const uint8_t net_a[] = "ssid:hotel-wifi/bssid:00:11:22:33:44:55";
    int actions_first;
    reset();
    TT_EQ_INT(tse_detect_cache_init(&cache, slots, 2), TSE_OK);
    s.proxy_host = "proxy.example";
    s.cache = &cache;
    s.network_id = net_a;
    s.network_id_len = sizeof net_a - 1;
    W.sc[TSE_PROBE_TUNNEL_1] = (script){B_FAIL, 20, TSE_ERR_TLS_HANDSHAKE, 0, 0};
    W.sc[TSE_PROBE_TUNNEL_2] = (script){B_OK, 100, 0, 0, 0};
    TT_EQ_INT(setup_and_run(&s), 0);
    TT_EQ_INT(W.res.path, TSE_PATH_TUNNEL_VIA_PROXY);
    TT_EQ_INT(W.res.tunnel_port, 80);
    TT_EQ_INT(W.res.from_cache, 0);
    actions_first = W.actions;
    TT_ASSERT(actions_first > 0);

    /* same network: reused at once, nothing probed */
    reset();
    TT_EQ_INT(setup_and_run(&s), 0);
    TT_EQ_INT(W.results, 1);
    TT_EQ_INT(W.res.path, TSE_PATH_TUNNEL_VIA_PROXY);
    TT_EQ_INT(W.res.from_cache, 1);
    TT_EQ_INT(W.res.tunnel_port, 80);
    TT_EQ_INT(W.res.tunnel_probe, TSE_PROBE_TUNNEL_2);
    TT_EQ_INT(W.res.elapsed_ms, 0);
    TT_EQ_INT(W.actions, 0);
    TT_EQ_INT(W.nsteps, 0);

    /* the path failed: invalidate, and the next start probes again */
    TT_EQ_INT(tse_detect_cache_invalidate(&cache, net_a, sizeof net_a - 1), TSE_OK);
    TT_EQ_INT(tse_detect_cache_invalidate(&cache, net_a, sizeof net_a - 1), TSE_ERR_DETECT_NOT_CACHED);
    reset();
    W.sc[TSE_PROBE_SIP_UDP] = (script){B_OK, 30, 0, 0, 0};
    W.sc[TSE_PROBE_STUN_UDP] = (script){B_OK, 20, 0, 0, 0};
    TT_EQ_INT(setup_and_run(&s), 0);
    TT_EQ_INT(W.res.from_cache, 0);
    TT_EQ_INT(W.res.path, TSE_PATH_DIRECT);
    TT_ASSERT(W.actions > 0);
    {
        tse_detect_result r;
        TT_EQ_INT(tse_detect_cache_lookup(&cache, net_a, sizeof net_a - 1, &r), TSE_OK);
        TT_EQ_INT(r.path, TSE_PATH_DIRECT);
        TT_EQ_INT(r.tunnel_probe, -1);
    }
}

TT_TEST(cache_lru_and_errors)
{
    tse_detect_cache cache;
    tse_detect_cache_entry slots[2];
    tse_detect_result r, got;
    uint8_t longid[TSE_DETECT_NETID_MAX + 1];
    memset(&r, 0, sizeof r);
    memset(longid, 7, sizeof longid);
    TT_EQ_INT(tse_detect_cache_init(&cache, slots, 0), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_detect_cache_init(&cache, slots, 2), TSE_OK);
    r.tunnel_probe = -1;
    r.path = TSE_PATH_NONE;
    TT_EQ_INT(tse_detect_cache_store(&cache, (const uint8_t *)"A", 1, &r), TSE_ERR_DETECT_NO_PATH);
    r.path = (tse_detect_path)99;
    TT_EQ_INT(tse_detect_cache_store(&cache, (const uint8_t *)"A", 1, &r), TSE_ERR_INVALID_ARG);
    r.path = TSE_PATH_DIRECT;
    TT_EQ_INT(tse_detect_cache_store(&cache, longid, sizeof longid, &r), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_detect_cache_store(&cache, longid, TSE_DETECT_NETID_MAX, &r), TSE_OK);
    TT_EQ_INT(tse_detect_cache_lookup(&cache, longid, TSE_DETECT_NETID_MAX - 1, &got), TSE_ERR_DETECT_NOT_CACHED);
    TT_EQ_INT(tse_detect_cache_lookup(&cache, longid, 0, &got), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_detect_cache_init(&cache, slots, 2), TSE_OK);
    TT_EQ_INT(tse_detect_cache_store(&cache, (const uint8_t *)"A", 1, &r), TSE_OK);
    r.path = TSE_PATH_NAT_TRAVERSAL;
    TT_EQ_INT(tse_detect_cache_store(&cache, (const uint8_t *)"B", 1, &r), TSE_OK);
    TT_EQ_INT(tse_detect_cache_lookup(&cache, (const uint8_t *)"A", 1, &got), TSE_OK); /* A recent */
    r.path = TSE_PATH_TUNNEL_DIRECT;
    r.tunnel_probe = TSE_PROBE_TUNNEL_1;
    r.tunnel_port = 443;
    TT_EQ_INT(tse_detect_cache_store(&cache, (const uint8_t *)"C", 1, &r), TSE_OK); /* evicts B */
    TT_EQ_INT(tse_detect_cache_lookup(&cache, (const uint8_t *)"B", 1, &got), TSE_ERR_DETECT_NOT_CACHED);
    TT_EQ_INT(tse_detect_cache_lookup(&cache, (const uint8_t *)"A", 1, &got), TSE_OK);
    TT_EQ_INT(got.path, TSE_PATH_DIRECT);
    TT_EQ_INT(tse_detect_cache_lookup(&cache, (const uint8_t *)"C", 1, &got), TSE_OK);
    TT_EQ_INT(got.path, TSE_PATH_TUNNEL_DIRECT);
    TT_EQ_INT(got.tunnel_port, 443);
    TT_EQ_INT(got.tunnel_probe, TSE_PROBE_TUNNEL_1);
    /* a new decision for a known network replaces it, no duplicate */
    r.path = TSE_PATH_DIRECT;
    TT_EQ_INT(tse_detect_cache_store(&cache, (const uint8_t *)"C", 1, &r), TSE_OK);
    TT_EQ_INT(tse_detect_cache_lookup(&cache, (const uint8_t *)"A", 1, &got), TSE_OK);
    TT_EQ_INT(tse_detect_cache_lookup(&cache, (const uint8_t *)"C", 1, &got), TSE_OK);
    TT_EQ_INT(got.path, TSE_PATH_DIRECT);
}
#endif /* TSE_CONFIG_DETECT_CACHE */

TT_TEST(names)
{
    TT_EQ_INT(strcmp(tse_detect_path_name(TSE_PATH_DIRECT), "direct"), 0);
    TT_EQ_INT(strcmp(tse_detect_path_name(TSE_PATH_NAT_TRAVERSAL), "nat-traversal"), 0);
    TT_EQ_INT(strcmp(tse_detect_path_name(TSE_PATH_TUNNEL_DIRECT), "tunnel-direct"), 0);
    TT_EQ_INT(strcmp(tse_detect_path_name(TSE_PATH_TUNNEL_VIA_PROXY), "tunnel-via-proxy"), 0);
    TT_EQ_INT(strcmp(tse_detect_path_name(TSE_PATH_NONE), "none"), 0);
    TT_EQ_INT(strcmp(tse_detect_probe_name(TSE_PROBE_STUN_UDP), "stun-udp"), 0);
    TT_EQ_INT(strcmp(tse_strerror(TSE_ERR_DETECT_TIMEOUT), "probe: no answer in time"), 0);
}

/* ---- adversarial edges: NULLs, boundaries, address comparison ------------ */

static int init_start(const tse_detect_settings *s, tse_time_ms now)
{
    tse_detect_callbacks cb;
    cb.on_event = on_event;
    cb.entropy = entropy;
    cb.user = &W;
    if (tse_detect_init(&D, s, &cb) != TSE_OK)
        return -1;
    return tse_detect_start(&D, now);
}

/* Drain the actions, remembering the request of each UDP probe. */
static void drain(void)
{
    tse_detect_action a;
    int guard = 0;
    while (guard++ < 50 && tse_detect_next_action(&D, &a))
        on_action(&W, &a);
}

static int fail_entropy(void *user, uint8_t *buf, size_t len)
{
    (void)user; (void)buf; (void)len;
    return -1;
}

TT_TEST(null_and_out_of_range_arguments)
{
    tse_detect_settings s = base_settings();
    tse_detect_callbacks cb;
    tse_detect_cache cache, zero;
    tse_detect_cache_entry slots[1];
    tse_detect_result r;
    tse_detect_action a;
    uint8_t longid[TSE_DETECT_NETID_MAX + 1];
    memset(longid, 1, sizeof longid);
    memset(&zero, 0, sizeof zero);
    memset(&r, 0, sizeof r);
    r.path = TSE_PATH_DIRECT;
    reset();
    tse_detect_settings_default(NULL); /* must not crash */
    TT_EQ_INT(strcmp(tse_detect_probe_name(TSE_PROBE_SIP_UDP), "sip-udp"), 0);
    TT_EQ_INT(strcmp(tse_detect_probe_name(TSE_PROBE_SIP_TCP), "sip-tcp"), 0);
    TT_EQ_INT(strcmp(tse_detect_probe_name(TSE_PROBE_TUNNEL_1), "tunnel-1"), 0);
    TT_EQ_INT(strcmp(tse_detect_probe_name(TSE_PROBE_TUNNEL_2), "tunnel-2"), 0);
    TT_EQ_INT(strcmp(tse_detect_probe_name((tse_probe_id)TSE_PROBE_COUNT), "?"), 0);
    TT_EQ_INT(strcmp(tse_detect_path_name((tse_detect_path)77), "none"), 0);
    TT_EQ_INT(strcmp(tse_detect_path_name((tse_detect_path)-1), "none"), 0);
    TT_EQ_INT(strcmp(tse_detect_path_name(TSE_PATH_REUSE_EXISTING), "reuse-existing"), 0);
    TT_EQ_INT(strcmp(tse_detect_probe_name((tse_probe_id)-1), "?"), 0);
#if TSE_CONFIG_DETECT_CACHE
    /* cache API */
    TT_EQ_INT(tse_detect_cache_init(NULL, slots, 1), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_detect_cache_init(&cache, NULL, 1), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_detect_cache_lookup(&zero, (const uint8_t *)"A", 1, &r), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_detect_cache_store(&zero, (const uint8_t *)"A", 1, &r), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_detect_cache_invalidate(&zero, (const uint8_t *)"A", 1), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_detect_cache_init(&cache, slots, 1), TSE_OK);
    TT_EQ_INT(tse_detect_cache_lookup(NULL, (const uint8_t *)"A", 1, &r), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_detect_cache_lookup(&cache, (const uint8_t *)"A", 1, NULL), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_detect_cache_lookup(&cache, NULL, 1, &r), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_detect_cache_lookup(&cache, longid, sizeof longid, &r), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_detect_cache_store(NULL, (const uint8_t *)"A", 1, &r), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_detect_cache_store(&cache, (const uint8_t *)"A", 1, NULL), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_detect_cache_store(&cache, (const uint8_t *)"A", 0, &r), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_detect_cache_invalidate(NULL, (const uint8_t *)"A", 1), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_detect_cache_invalidate(&cache, longid, sizeof longid), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_detect_cache_invalidate(&cache, (const uint8_t *)"A", 1), TSE_ERR_DETECT_NOT_CACHED);
#else
    (void)zero;
    (void)slots;
#endif
    /* init */
    cb.on_event = on_event;
    cb.entropy = entropy;
    cb.user = &W;
    TT_EQ_INT(tse_detect_init(NULL, &s, &cb), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_detect_init(&D, NULL, &cb), TSE_ERR_INVALID_ARG);
    cb.on_event = NULL;
    TT_EQ_INT(tse_detect_init(&D, &s, &cb), TSE_ERR_INVALID_ARG);
    cb.on_event = on_event;
    s.cache = &cache;
    s.network_id = longid;
    s.network_id_len = sizeof longid; /* one byte over the limit */
    TT_EQ_INT(tse_detect_init(&D, &s, &cb), TSE_ERR_INVALID_ARG);
    s.network_id_len = 0;
    TT_EQ_INT(tse_detect_init(&D, &s, &cb), TSE_ERR_INVALID_ARG);
    s.network_id_len = TSE_DETECT_NETID_MAX;
    /* compiled out, a cache or a network id is refused, not ignored */
    TT_EQ_INT(tse_detect_init(&D, &s, &cb), TSE_CONFIG_DETECT_CACHE ? TSE_OK : TSE_ERR_INVALID_ARG);
    s.network_id = NULL;
    s.network_id_len = 0;
    TT_EQ_INT(tse_detect_init(&D, &s, &cb), TSE_CONFIG_DETECT_CACHE ? TSE_OK : TSE_ERR_INVALID_ARG);
    s.cache = NULL;
    s.network_id = longid;
    s.network_id_len = 1;
    TT_EQ_INT(tse_detect_init(&D, &s, &cb), TSE_ERR_INVALID_ARG); /* an id needs a cache */
    s.network_id = NULL;
    TT_EQ_INT(tse_detect_init(&D, &s, &cb), TSE_OK);
    /* the rest of the API on NULL */
    TT_EQ_INT(tse_detect_start(NULL, T0), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_detect_want(NULL), 0);
    TT_EQ_INT(tse_detect_next_action(NULL, &a), 0);
    TT_EQ_INT(tse_detect_next_action(&D, NULL), 0);
    TT_EQ_INT(tse_detect_expiry(NULL), TSE_TIME_NEVER);
    TT_EQ_INT(tse_detect_handle_expiry(NULL, T0), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_detect_registration_result(NULL, 1, T0), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_detect_done(NULL), 0);
    TT_ASSERT(tse_detect_get_result(NULL) == NULL);
    TT_EQ_INT(tse_detect_udp_recv(NULL, TSE_PROBE_SIP_UDP, longid, 1, NULL, T0), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_detect_tcp_connected(&D, (tse_probe_id)-1, T0), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_detect_tunnel_up(&D, (tse_probe_id)TSE_PROBE_COUNT, T0), TSE_ERR_INVALID_ARG);
    /* running probes, wrong input */
    TT_EQ_INT(tse_detect_start(&D, T0), TSE_OK);
    drain();
    TT_EQ_INT(tse_detect_udp_recv(&D, TSE_PROBE_SIP_UDP, NULL, 0, NULL, T0), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_detect_tunnel_up(&D, TSE_PROBE_SIP_UDP, T0), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_detect_probe_failed(&D, TSE_PROBE_SIP_UDP, 0, 0, T0), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_detect_probe_failed(&D, TSE_PROBE_SIP_UDP, 5, 0, T0), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_detect_tcp_connected(&D, TSE_PROBE_SIP_TCP, T0), TSE_OK);
    TT_EQ_INT(tse_detect_tcp_recv(&D, TSE_PROBE_SIP_TCP, NULL, 3, T0), TSE_ERR_INVALID_ARG);
    /* an empty read is not an error and finishes nothing */
    TT_EQ_INT(tse_detect_tcp_recv(&D, TSE_PROBE_SIP_TCP, NULL, 0, T0), TSE_OK);
    TT_ASSERT(find_step(TSE_PROBE_SIP_TCP, 1) == NULL);
    TT_ASSERT(find_step(TSE_PROBE_SIP_UDP, 1) == NULL);
    TT_ASSERT(!tse_detect_done(&D));
}

TT_TEST(ipv6_targets_are_bracketed)
{
    tse_detect_settings s = base_settings();
    const step_rec *st;
    reset();
    s.pcscf_host = "2001:db8::5";
    s.stun_host = "2001:db8::6";
    s.sip_tcp = 0;
    s.tscf_host = NULL;
    TT_EQ_INT(init_start(&s, T0), TSE_OK);
    drain();
    st = find_step(TSE_PROBE_SIP_UDP, 0);
    TT_ASSERT(st != NULL);
    TT_EQ_INT(strcmp(st->target, "[2001:db8::5]:5060"), 0);
    st = find_step(TSE_PROBE_STUN_UDP, 0);
    TT_ASSERT(st != NULL);
    TT_EQ_INT(strcmp(st->target, "[2001:db8::6]:3478"), 0);
    TT_ASSERT(memcmp(W.req[TSE_PROBE_SIP_UDP], "OPTIONS sip:[2001:db8::5]:5060 SIP/2.0\r\n", 40) == 0);
}

TT_TEST(sip_request_that_cannot_be_built_fails_without_sending)
{
    tse_detect_settings s = base_settings();
    const step_rec *st;
    reset();
    /* a P-CSCF name that would inject a header: refused by the builder */
    s.pcscf_host = "pcscf.example\r\nX-Evil: 1";
    s.stun_host = NULL;
    s.tscf_host = NULL;
    TT_EQ_INT(init_start(&s, T0), TSE_OK);
    drain();
    st = find_step(TSE_PROBE_SIP_UDP, 1);
    TT_ASSERT(st != NULL);
    TT_EQ_INT(st->result, TSE_ERR_INVALID_ARG);
    TT_ASSERT(find_step(TSE_PROBE_SIP_TCP, 1) != NULL);
    /* nothing was sent, nothing to close */
    TT_EQ_INT(W.sends[TSE_PROBE_SIP_UDP], 0);
    TT_EQ_INT(W.starts[TSE_PROBE_SIP_TCP], 0);
    TT_EQ_INT(W.closed[TSE_PROBE_SIP_UDP], 0);
    TT_EQ_INT(W.closed[TSE_PROBE_SIP_TCP], 0);
    TT_ASSERT(tse_detect_done(&D));
    TT_EQ_INT(tse_detect_get_result(&D)->path, TSE_PATH_NONE);
}

TT_TEST(entropy_failure_fails_the_udp_probes)
{
    tse_detect_settings s = base_settings();
    tse_detect_callbacks cb;
    reset();
    s.sip_tcp = 0;
    s.tscf_host = NULL;
    cb.on_event = on_event;
    cb.entropy = fail_entropy;
    cb.user = &W;
    TT_EQ_INT(tse_detect_init(&D, &s, &cb), TSE_OK);
    TT_EQ_INT(tse_detect_start(&D, T0), TSE_OK);
    drain();
    TT_ASSERT(find_step(TSE_PROBE_SIP_UDP, 1) != NULL);
    TT_EQ_INT(find_step(TSE_PROBE_SIP_UDP, 1)->result, TSE_ERR_DETECT_ENTROPY);
    TT_ASSERT(find_step(TSE_PROBE_STUN_UDP, 1) != NULL);
    TT_EQ_INT(find_step(TSE_PROBE_STUN_UDP, 1)->result, TSE_ERR_DETECT_ENTROPY);
    TT_EQ_INT(W.actions, 0);
    TT_ASSERT(tse_detect_done(&D));
}

/* The mapped address is compared in full: family, port and address. */
TT_TEST(stun_mapped_address_comparison)
{
    static const tse_detect_addr v6 = {6, 40000, {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2}};
    static const tse_detect_addr other_port = {4, 40001, {10, 0, 0, 2}};
    static const tse_detect_addr unknown = {0, 0, {0}};
    const tse_detect_addr *locals[5];
    static const int nat[5] = {1, 1, 1, 1, 0};
    int k;
    locals[0] = &v6;
    locals[1] = &other_port;
    locals[2] = &unknown;
    locals[3] = NULL;
    locals[4] = &LOCAL;
    for (k = 0; k < 5; k++) {
        tse_detect_settings s = base_settings();
        uint8_t m[64];
        size_t n;
        reset();
        s.tscf_host = NULL;
        s.sip_tcp = 0;
        TT_EQ_INT(init_start(&s, T0), TSE_OK);
        drain();
        n = stun_success(m, W.req[TSE_PROBE_STUN_UDP], LOCAL.addr, LOCAL.port);
        TT_EQ_INT(tse_detect_udp_recv(&D, TSE_PROBE_STUN_UDP, m, n, locals[k], T0 + 5), TSE_OK);
        TT_ASSERT(find_step(TSE_PROBE_STUN_UDP, 1) != NULL);
        /* SIP answers: the decision shows what the comparison found */
        {
            char buf[1024];
            size_t l = sip_resp(buf, sizeof buf, W.req[TSE_PROBE_SIP_UDP], W.req_len[TSE_PROBE_SIP_UDP], 200, 0);
            TT_EQ_INT(tse_detect_udp_recv(&D, TSE_PROBE_SIP_UDP, (const uint8_t *)buf, l, locals[k], T0 + 6), TSE_OK);
        }
        TT_ASSERT(tse_detect_done(&D));
        TT_EQ_INT(W.res.nat, nat[k]);
        TT_EQ_INT(W.res.path, nat[k] ? TSE_PATH_NAT_TRAVERSAL : TSE_PATH_DIRECT);
    }
}

TT_TEST(sip_udp_provisional_keeps_waiting)
{
    tse_detect_settings s = base_settings();
    char buf[1024];
    size_t l;
    reset();
    s.tscf_host = NULL;
    s.sip_tcp = 0;
    s.stun_host = NULL;
    TT_EQ_INT(init_start(&s, T0), TSE_OK);
    drain();
    l = sip_resp(buf, sizeof buf, W.req[TSE_PROBE_SIP_UDP], W.req_len[TSE_PROBE_SIP_UDP], 183, 0);
    TT_EQ_INT(tse_detect_udp_recv(&D, TSE_PROBE_SIP_UDP, (const uint8_t *)buf, l, &LOCAL, T0 + 5), TSE_OK);
    TT_ASSERT(find_step(TSE_PROBE_SIP_UDP, 1) == NULL);
    TT_ASSERT(!tse_detect_done(&D));
    l = sip_resp(buf, sizeof buf, W.req[TSE_PROBE_SIP_UDP], W.req_len[TSE_PROBE_SIP_UDP], 200, 0);
    TT_EQ_INT(tse_detect_udp_recv(&D, TSE_PROBE_SIP_UDP, (const uint8_t *)buf, l, &LOCAL, T0 + 9), TSE_OK);
    TT_EQ_INT(find_step(TSE_PROBE_SIP_UDP, 1)->status, 200);
    TT_EQ_INT(find_step(TSE_PROBE_SIP_UDP, 1)->elapsed, 9);
    TT_ASSERT(tse_detect_done(&D));
    /* after the decision: timers and input do nothing */
    TT_EQ_INT(tse_detect_handle_expiry(&D, T0 + 100000), TSE_OK);
    TT_EQ_INT(W.results, 1);
    TT_EQ_INT(tse_detect_udp_recv(&D, TSE_PROBE_SIP_UDP, (const uint8_t *)buf, l, &LOCAL, T0 + 9), TSE_ERR_STATE);
}

/* rto 0 disables retransmission: one datagram, then the timeout. */
TT_TEST(rto_zero_never_retransmits)
{
    tse_detect_settings s = base_settings();
    reset();
    s.udp_rto_ms = 0;
    s.tscf_host = NULL;
    s.sip_tcp = 0;
    TT_EQ_INT(setup_and_run(&s), 0);
    TT_EQ_INT(W.sends[TSE_PROBE_SIP_UDP], 1);
    TT_EQ_INT(W.sends[TSE_PROBE_STUN_UDP], 1);
    TT_EQ_INT(find_step(TSE_PROBE_SIP_UDP, 1)->result, TSE_ERR_DETECT_TIMEOUT);
    TT_EQ_INT(W.res.path, TSE_PATH_NONE);
    TT_EQ_INT(W.res.elapsed_ms, 2000);
}

/* A huge RTO stops doubling at 2^30 ms instead of overflowing. */
TT_TEST(rto_doubling_saturates)
{
    tse_detect_settings s = base_settings();
    int k;
    reset();
    s.udp_rto_ms = 0x40000000u;
    s.stun_timeout_ms = 0xFFFFFFFFu;
    s.sip_timeout_ms = 0xFFFFFFFFu;
    s.sip_tcp = 0;
    s.tscf_host = NULL;
    TT_EQ_INT(setup_and_run(&s), 0);
    TT_EQ_INT(W.sends[TSE_PROBE_STUN_UDP], 4);
    TT_EQ_INT(W.send_at[TSE_PROBE_STUN_UDP][0], T0);
    for (k = 1; k < 4; k++)
        TT_EQ_INT(W.send_at[TSE_PROBE_STUN_UDP][k] - W.send_at[TSE_PROBE_STUN_UDP][k - 1], 0x40000000u);
    TT_EQ_INT(W.sends[TSE_PROBE_SIP_UDP], 4);
    TT_EQ_INT(find_step(TSE_PROBE_STUN_UDP, 1)->result, TSE_ERR_DETECT_TIMEOUT);
    TT_EQ_INT(find_step(TSE_PROBE_STUN_UDP, 1)->elapsed, 0xFFFFFFFFu);
}

/* An elapsed time beyond 32 bits of milliseconds saturates. */
TT_TEST(elapsed_saturates_at_32_bits)
{
    tse_detect_settings s = base_settings();
    reset();
    s.pcscf_host = NULL;
    s.stun_host = NULL;
    s.tunnel_port_2 = 0;
    s.stagger_ms = 0;
    TT_EQ_INT(init_start(&s, T0), TSE_OK);
    TT_EQ_INT(tse_detect_handle_expiry(&D, T0), TSE_OK);
    drain();
    TT_EQ_INT(W.starts[TSE_PROBE_TUNNEL_1], 1);
    TT_EQ_INT(tse_detect_probe_failed(&D, TSE_PROBE_TUNNEL_1, TSE_ERR_TRANSPORT_RESET, 0,
                                      T0 + 0x200000000ull), TSE_OK);
    TT_EQ_INT(find_step(TSE_PROBE_TUNNEL_1, 1)->elapsed, 0xFFFFFFFFu);
    TT_ASSERT(tse_detect_done(&D));
    TT_EQ_INT(W.res.path, TSE_PATH_NONE);
    TT_EQ_INT(W.res.elapsed_ms, 0xFFFFFFFFu);
}

/* Times are kept as 32-bit ms after the start: a time limit ending
 * beyond 2^32-1 ms ends then (and is still reported, not NEVER). */
TT_TEST(deadline_beyond_32_bits_is_cut)
{
    tse_detect_settings s = base_settings();
    reset();
    s.pcscf_host = NULL;
    s.stun_host = NULL;
    s.stagger_ms = 0xFFFFFFF0u;
    s.tunnel_timeout_ms = 0xFFFFFFFFu;
    TT_EQ_INT(init_start(&s, T0), TSE_OK);
    drain();
    TT_EQ_INT(W.starts[TSE_PROBE_TUNNEL_1], 1);
    TT_EQ_INT(W.starts[TSE_PROBE_TUNNEL_2], 0);
    TT_EQ_INT(tse_detect_expiry(&D), T0 + 0xFFFFFFF0ull);
    /* the second tunnel starts at 2^31 ms: its limit would end at
     * 2^31 + 2^32-1 ms */
    TT_EQ_INT(tse_detect_probe_failed(&D, TSE_PROBE_TUNNEL_1, TSE_ERR_TRANSPORT_RESET, 0,
                                      T0 + 0x80000000ull), TSE_OK);
    drain();
    TT_EQ_INT(W.starts[TSE_PROBE_TUNNEL_2], 1);
    TT_EQ_INT(tse_detect_expiry(&D), T0 + 0xFFFFFFFFull);
    TT_EQ_INT(tse_detect_handle_expiry(&D, T0 + 0xFFFFFFFEull), TSE_OK);
    TT_ASSERT(!tse_detect_done(&D));
    TT_EQ_INT(tse_detect_handle_expiry(&D, T0 + 0xFFFFFFFFull), TSE_OK);
    TT_ASSERT(tse_detect_done(&D));
    TT_EQ_INT(find_step(TSE_PROBE_TUNNEL_2, 1)->result, TSE_ERR_DETECT_TIMEOUT);
    TT_EQ_INT(find_step(TSE_PROBE_TUNNEL_2, 1)->elapsed, 0x7FFFFFFFu);
    TT_EQ_INT(W.res.elapsed_ms, 0xFFFFFFFFu);
    TT_EQ_INT(tse_detect_expiry(&D), TSE_TIME_NEVER);
}

TT_TEST(tscf_without_first_port_uses_second)
{
    tse_detect_settings s = base_settings();
    reset();
    s.pcscf_host = NULL;
    s.stun_host = NULL;
    s.tunnel_port_1 = 0;
    W.sc[TSE_PROBE_TUNNEL_2] = (script){B_OK, 10, 0, 0, 0};
    TT_EQ_INT(setup_and_run(&s), 0);
    TT_EQ_INT(W.starts[TSE_PROBE_TUNNEL_1], 0);
    TT_EQ_INT(W.res.path, TSE_PATH_TUNNEL_DIRECT);
    TT_EQ_INT(W.res.tunnel_probe, TSE_PROBE_TUNNEL_2);
    TT_EQ_INT(W.port_seen[TSE_PROBE_TUNNEL_2], 80);
}

/* The first tunnel port times out when the second is already running or
 * done: nothing is started twice. */
TT_TEST(first_tunnel_timeout_after_second_started)
{
    tse_detect_settings s = base_settings();
    reset();
    s.pcscf_host = NULL;
    s.stun_host = NULL;
    W.sc[TSE_PROBE_TUNNEL_1] = (script){B_SILENT, 0, 0, 0, 0};
    W.sc[TSE_PROBE_TUNNEL_2] = (script){B_FAIL, 50, TSE_ERR_TRANSPORT_REFUSED, 0, 0};
    TT_EQ_INT(setup_and_run(&s), 0);
    TT_EQ_INT(W.starts[TSE_PROBE_TUNNEL_1], 1);
    TT_EQ_INT(W.starts[TSE_PROBE_TUNNEL_2], 1);
    TT_EQ_INT(find_step(TSE_PROBE_TUNNEL_1, 1)->result, TSE_ERR_DETECT_TIMEOUT);
    TT_EQ_INT(find_step(TSE_PROBE_TUNNEL_2, 1)->result, TSE_ERR_TRANSPORT_REFUSED);
    TT_EQ_INT(W.res.path, TSE_PATH_NONE);
    TT_ASSERT(strstr(W.res.reason, "tunnel failed") != NULL);
}

#if TSE_CONFIG_DETECT_CACHE
/* A cache without a network id, and a NONE decision, store nothing. */
TT_TEST(cache_not_written_without_id_or_path)
{
    tse_detect_cache cache;
    tse_detect_cache_entry slots[2];
    tse_detect_settings s = base_settings();
    tse_detect_result got;
    static const uint8_t net[] = "net-1";
    size_t i;
    TT_EQ_INT(tse_detect_cache_init(&cache, slots, 2), TSE_OK);
    reset();
    s.cache = &cache;
    W.sc[TSE_PROBE_SIP_UDP] = (script){B_OK, 10, 0, 0, 0};
    W.sc[TSE_PROBE_STUN_UDP] = (script){B_OK, 10, 0, 0, 0};
    TT_EQ_INT(setup_and_run(&s), 0);
    TT_EQ_INT(W.res.path, TSE_PATH_DIRECT);
    for (i = 0; i < 2; i++)
        TT_EQ_INT(slots[i].used, 0);
    /* with an id but nothing works: NONE is not cached */
    reset();
    s.network_id = net;
    s.network_id_len = sizeof net - 1;
    TT_EQ_INT(setup_and_run(&s), 0);
    TT_EQ_INT(W.res.path, TSE_PATH_NONE);
    TT_EQ_INT(tse_detect_cache_lookup(&cache, net, sizeof net - 1, &got), TSE_ERR_DETECT_NOT_CACHED);
}
#endif /* TSE_CONFIG_DETECT_CACHE */


/* ---- TR 33.830 8.3: reuse-existing ------------------------------------------ */

#if TSE_CONFIG_DETECT_REUSE
static tse_detect_settings reuse_settings(void)
{
    tse_detect_settings s = base_settings();
    s.pcscf_tls_host = "pcscf-tls.example";
    s.turn_host = "turn.example";
    return s;
}

/* Every combination of the two 8.3 probes (answers / fails / silent) with
 * the direct path working or blocked, the tunnel up or failing, and with
 * or without a proxy: the decision follows the ranking direct >
 * reuse-existing > tunnel > none, and the 8.3 probes go where they must. */
TT_TEST(reuse_every_outcome_combination)
{
    static const int behs[] = {B_OK, B_FAIL, B_SILENT};
    int a, b, direct, tun, px, n = 0;
    for (a = 0; a < 3; a++)
    for (b = 0; b < 3; b++)
    for (direct = 0; direct < 2; direct++)
    for (tun = 0; tun < 2; tun++)
    for (px = 0; px < 2; px++) {
        tse_detect_settings s = reuse_settings();
        int reuse_ok = behs[a] == B_OK && behs[b] == B_OK;
        tse_detect_path want;
        reset();
        if (px)
            s.proxy_host = "proxy.example";
        s.reuse_timeout_ms = 3000;
        if (direct) {
            W.sc[TSE_PROBE_SIP_UDP] = (script){B_OK, 40, 0, 0, 0};
            W.sc[TSE_PROBE_STUN_UDP] = (script){B_NAT, 30, 0, 0, 0};
        } /* else: silent until sip_timeout_ms (2000) */
        W.sc[TSE_PROBE_TUNNEL_1] = tun ? (script){B_OK, 100, 0, 0, 0}
                                       : (script){B_FAIL, 100, TSE_ERR_TLS_HANDSHAKE, 0, 0};
        W.sc[TSE_PROBE_TUNNEL_2] = (script){B_FAIL, 100, TSE_ERR_TRANSPORT_REFUSED, 0, 0};
        W.sc[TSE_PROBE_SIP_TLS] = (script){behs[a], 300, TSE_ERR_PROXY_STATUS, 403, 0};
        W.sc[TSE_PROBE_TURN_TLS] = (script){behs[b], 500, TSE_ERR_TLS_CERT_UNTRUSTED, 0, 0};
        TT_EQ_INT(setup_and_run(&s), 0);
        TT_EQ_INT(W.results, 1);
        want = direct ? TSE_PATH_NAT_TRAVERSAL
             : reuse_ok ? TSE_PATH_REUSE_EXISTING
             : tun ? (px ? TSE_PATH_TUNNEL_VIA_PROXY : TSE_PATH_TUNNEL_DIRECT)
             : TSE_PATH_NONE;
        if ((int)W.res.path != (int)want)
            fprintf(stderr, "combination sip-tls=%d turn-tls=%d direct=%d tunnel=%d proxy=%d\n",
                    behs[a], behs[b], direct, tun, px);
        TT_EQ_INT(W.res.path, want);
        /* both 8.3 probes started at once, to the configured targets on
         * 443, through the proxy exactly when there is one */
        TT_EQ_INT(W.started_at[TSE_PROBE_SIP_TLS], T0);
        TT_EQ_INT(W.started_at[TSE_PROBE_TURN_TLS], T0);
        TT_EQ_INT(W.port_seen[TSE_PROBE_SIP_TLS], 443);
        TT_EQ_INT(W.port_seen[TSE_PROBE_TURN_TLS], 443);
        TT_ASSERT(W.host_seen[TSE_PROBE_SIP_TLS] && strcmp(W.host_seen[TSE_PROBE_SIP_TLS], "pcscf-tls.example") == 0);
        TT_ASSERT(W.host_seen[TSE_PROBE_TURN_TLS] && strcmp(W.host_seen[TSE_PROBE_TURN_TLS], "turn.example") == 0);
        TT_EQ_INT(W.reuse_proxy_seen != NULL, px);
        if (px)
            TT_EQ_INT(W.proxy_port_seen, 8080);
        TT_EQ_INT(W.res.via_proxy, px && (want == TSE_PATH_REUSE_EXISTING ||
                                          want == TSE_PATH_TUNNEL_VIA_PROXY));
        if (want == TSE_PATH_REUSE_EXISTING) {
            /* after the slower of the two, the direct path having failed */
            TT_EQ_INT(W.res.elapsed_ms, 2000);
            TT_EQ_INT(W.res.reuse_error, TSE_OK);
            TT_EQ_INT(W.res.tunnel_probe, -1);
            /* a tunnel that came up before is closed: 8.3 is preferred */
            TT_EQ_INT(W.closed[TSE_PROBE_TUNNEL_1], W.starts[TSE_PROBE_TUNNEL_1]);
        }
        if (!direct && !reuse_ok) {
            /* the first failure, or the timeout of a silent probe */
            int first = behs[a] == B_FAIL ? TSE_ERR_PROXY_STATUS
                      : behs[b] == B_FAIL ? TSE_ERR_TLS_CERT_UNTRUSTED : TSE_ERR_DETECT_TIMEOUT;
            TT_EQ_INT(W.res.reuse_error, first);
        }
        /* nothing the port opened is left open but a winning tunnel */
        TT_EQ_INT(W.closed[TSE_PROBE_SIP_TLS], W.starts[TSE_PROBE_SIP_TLS]);
        TT_EQ_INT(W.closed[TSE_PROBE_TURN_TLS], W.starts[TSE_PROBE_TURN_TLS]);
        TT_EQ_INT(tse_detect_want(&D), 0);
        n++;
    }
    TT_EQ_INT(n, 72);
}

/* A tunnel that is up waits for the 8.3 probes still running; they win. */
TT_TEST(reuse_preferred_over_an_earlier_tunnel)
{
    tse_detect_settings s = reuse_settings();
    const step_rec *st;
    reset();
    s.sip_timeout_ms = 500;
    s.stun_host = NULL;
    W.sc[TSE_PROBE_TUNNEL_1] = (script){B_OK, 100, 0, 0, 0};
    W.sc[TSE_PROBE_SIP_TLS] = (script){B_STATUS, 700, 0, 404, 0};
    W.sc[TSE_PROBE_TURN_TLS] = (script){B_OK, 900, 0, 0, 0};
    TT_EQ_INT(setup_and_run(&s), 0);
    TT_EQ_INT(W.res.path, TSE_PATH_REUSE_EXISTING);
    TT_EQ_INT(W.res.elapsed_ms, 900);
    TT_EQ_INT(W.res.via_proxy, 0);
    TT_EQ_INT(W.res.sip_status, 404); /* the P-CSCF's answer over TLS */
    TT_EQ_INT(W.closed[TSE_PROBE_TUNNEL_1], 1); /* up at 350, not kept */
    st = find_step(TSE_PROBE_SIP_TLS, 1);
    TT_ASSERT(st && st->result == TSE_OK && st->status == 404 && st->elapsed == 700);
    st = find_step(TSE_PROBE_TURN_TLS, 1);
    TT_ASSERT(st && st->result == TSE_OK && strstr(st->reason, "TURN"));
    TT_ASSERT(strcmp(tse_detect_path_name(W.res.path), "reuse-existing") == 0);
    /* the detector built the OPTIONS for TLS; TURN's order has no data */
    TT_ASSERT(W.req_len[TSE_PROBE_SIP_TLS] > 0);
    W.req[TSE_PROBE_SIP_TLS][W.req_len[TSE_PROBE_SIP_TLS] - 1] = 0;
    TT_ASSERT(strncmp((const char *)W.req[TSE_PROBE_SIP_TLS], "OPTIONS ", 8) == 0);
    TT_ASSERT(strstr((const char *)W.req[TSE_PROBE_SIP_TLS], "SIP/2.0/TLS ") != NULL);
    TT_EQ_INT(W.req_len[TSE_PROBE_TURN_TLS], 0);
}

/* What comes back over TLS must be a SIP response to our OPTIONS: garbage
 * or a flood fails the probe (and with it the 8.3 path). */
TT_TEST(reuse_sip_tls_garbage_and_overflow)
{
    tse_detect_settings s = reuse_settings();
    tse_detect_callbacks cb;
    static uint8_t big[TSE_DETECT_TCP_RX_MAX + 1];
    const step_rec *st;
    int k;
    for (k = 0; k < 2; k++) {
        reset();
        cb.on_event = on_event;
        cb.entropy = entropy;
        cb.user = &W;
        TT_EQ_INT(tse_detect_init(&D, &s, &cb), TSE_OK);
        TT_EQ_INT(tse_detect_start(&D, T0), TSE_OK);
        if (k == 0)
            TT_EQ_INT(tse_detect_tcp_recv(&D, TSE_PROBE_SIP_TLS,
                                          (const uint8_t *)"HTTP/1.1 200 OK\r\n\r\n", 19, T0 + 10),
                      TSE_OK);
        else
            TT_EQ_INT(tse_detect_tcp_recv(&D, TSE_PROBE_SIP_TLS, big, sizeof big, T0 + 10), TSE_OK);
        st = find_step(TSE_PROBE_SIP_TLS, 1);
        TT_ASSERT(st && st->result != TSE_OK && st->result != TSE_ERR_DETECT_CANCELLED);
        if (k == 1)
            TT_EQ_INT(st->result, TSE_ERR_SIP_TOO_LARGE);
        st = find_step(TSE_PROBE_TURN_TLS, 1);
        TT_ASSERT(st && st->result == TSE_ERR_DETECT_CANCELLED);
        /* the SIP-over-TCP probe's buffer is its own */
        TT_EQ_INT(D.tcp_rx_len, 0);
    }
}

/* The 8.3 path needs both probes: the first failure stops the other one
 * and lets the tunnel decide without waiting for it. */
TT_TEST(reuse_one_failure_cancels_the_other)
{
    tse_detect_settings s = reuse_settings();
    const step_rec *st;
    reset();
    s.sip_timeout_ms = 500;
    s.stun_host = NULL;
    W.sc[TSE_PROBE_TUNNEL_1] = (script){B_OK, 100, 0, 0, 0};
    W.sc[TSE_PROBE_SIP_TLS] = (script){B_OK, 200, 0, 0, 0};
    W.sc[TSE_PROBE_TURN_TLS] = (script){B_FAIL, 600, TSE_ERR_TURN_TIMEOUT, 0, 0};
    W.sc[TSE_PROBE_TURN_TLS].status = 0;
    TT_EQ_INT(setup_and_run(&s), 0);
    TT_EQ_INT(W.res.path, TSE_PATH_TUNNEL_DIRECT);
    TT_EQ_INT(W.res.elapsed_ms, 600);
    TT_EQ_INT(W.res.reuse_error, TSE_ERR_TURN_TIMEOUT);
    TT_EQ_INT(W.closed[TSE_PROBE_TUNNEL_1], 0);

    /* SIP over TLS refused at once: TURN (silent) is cancelled then */
    reset();
    W.sc[TSE_PROBE_SIP_UDP] = (script){B_FAIL, 10, TSE_ERR_TRANSPORT_REFUSED, 0, 0};
    W.sc[TSE_PROBE_SIP_TCP] = (script){B_FAIL, 10, TSE_ERR_TRANSPORT_REFUSED, 0, 0};
    W.sc[TSE_PROBE_SIP_TLS] = (script){B_FAIL, 50, TSE_ERR_TRANSPORT_REFUSED, 0, 0};
    W.sc[TSE_PROBE_TURN_TLS] = (script){B_SILENT, 0, 0, 0, 0};
    W.sc[TSE_PROBE_TUNNEL_1] = (script){B_FAIL, 10, TSE_ERR_TRANSPORT_REFUSED, 0, 0};
    W.sc[TSE_PROBE_TUNNEL_2] = (script){B_FAIL, 10, TSE_ERR_TRANSPORT_REFUSED, 0, 0};
    TT_EQ_INT(setup_and_run(&s), 0);
    TT_EQ_INT(W.res.path, TSE_PATH_NONE);
    TT_EQ_INT(W.res.elapsed_ms, 50);
    TT_EQ_INT(W.res.reuse_error, TSE_ERR_TRANSPORT_REFUSED);
    st = find_step(TSE_PROBE_TURN_TLS, 1);
    TT_ASSERT(st && st->result == TSE_ERR_DETECT_CANCELLED && st->at == T0 + 50);
    TT_ASSERT(strstr(st->reason, "other 8.3"));
    TT_EQ_INT(W.closed[TSE_PROBE_TURN_TLS], 1);

    /* both silent: their own timeout bounds the decision */
    reset();
    s.reuse_timeout_ms = 1500;
    W.sc[TSE_PROBE_TUNNEL_1] = (script){B_OK, 100, 0, 0, 0};
    TT_EQ_INT(setup_and_run(&s), 0);
    TT_EQ_INT(W.res.path, TSE_PATH_TUNNEL_DIRECT);
    TT_EQ_INT(W.res.elapsed_ms, 1500);
    TT_EQ_INT(W.res.reuse_error, TSE_ERR_DETECT_TIMEOUT);
}

/* Without both targets nothing changes: no 8.3 probe, today's decision. */
TT_TEST(reuse_not_tried_without_both_targets)
{
    int k;
    for (k = 0; k < 3; k++) {
        tse_detect_settings s = base_settings();
        reset();
        if (k == 1)
            s.pcscf_tls_host = "pcscf-tls.example";
        if (k == 2)
            s.turn_host = "turn.example";
        W.sc[TSE_PROBE_TUNNEL_1] = (script){B_OK, 100, 0, 0, 0};
        W.sc[TSE_PROBE_SIP_TLS] = (script){B_OK, 10, 0, 0, 0};
        W.sc[TSE_PROBE_TURN_TLS] = (script){B_OK, 10, 0, 0, 0};
        TT_EQ_INT(setup_and_run(&s), 0);
        TT_EQ_INT(W.res.path, TSE_PATH_TUNNEL_DIRECT);
        TT_EQ_INT(W.res.elapsed_ms, 2000);
        TT_EQ_INT(W.starts[TSE_PROBE_SIP_TLS] + W.starts[TSE_PROBE_TURN_TLS], 0);
        TT_ASSERT(find_step(TSE_PROBE_SIP_TLS, 0) == NULL);
        TT_ASSERT(find_step(TSE_PROBE_TURN_TLS, 0) == NULL);
        TT_EQ_INT(W.res.reuse_error, TSE_OK);
    }
}

#if TSE_CONFIG_DETECT_CACHE
/* The cache keeps reuse-existing and whether it went through the proxy. */
TT_TEST(reuse_cached_like_the_other_decisions)
{
    tse_detect_cache cache;
    tse_detect_cache_entry slots[2];
    tse_detect_settings s = reuse_settings();
    tse_detect_result r;
    static const uint8_t net[] = "plmn:00101/cell:7";
    reset();
    TT_EQ_INT(tse_detect_cache_init(&cache, slots, 2), TSE_OK);
    s.proxy_host = "proxy.example";
    s.cache = &cache;
    s.network_id = net;
    s.network_id_len = sizeof net - 1;
    s.sip_timeout_ms = 300;
    W.sc[TSE_PROBE_SIP_TLS] = (script){B_OK, 100, 0, 0, 0};
    W.sc[TSE_PROBE_TURN_TLS] = (script){B_OK, 150, 0, 0, 0};
    TT_EQ_INT(setup_and_run(&s), 0);
    TT_EQ_INT(W.res.path, TSE_PATH_REUSE_EXISTING);
    TT_EQ_INT(W.res.via_proxy, 1);
    TT_EQ_INT(W.res.from_cache, 0);
    /* again on the same network: from the cache, nothing probed */
    reset();
    TT_EQ_INT(setup_and_run(&s), 0);
    TT_EQ_INT(W.results, 1);
    TT_EQ_INT(W.res.path, TSE_PATH_REUSE_EXISTING);
    TT_EQ_INT(W.res.from_cache, 1);
    TT_EQ_INT(W.res.via_proxy, 1);
    TT_EQ_INT(W.res.tunnel_probe, -1);
    TT_EQ_INT(W.actions, 0);
    /* a direct one is stored with via_proxy 0 */
    memset(&r, 0, sizeof r);
    r.path = TSE_PATH_REUSE_EXISTING;
    r.tunnel_probe = -1;
    TT_EQ_INT(tse_detect_cache_store(&cache, net, sizeof net - 1, &r), TSE_OK);
    TT_EQ_INT(tse_detect_cache_lookup(&cache, net, sizeof net - 1, &r), TSE_OK);
    TT_EQ_INT(r.path, TSE_PATH_REUSE_EXISTING);
    TT_EQ_INT(r.via_proxy, 0);
    /* a path beyond the last one is refused */
    r.path = (tse_detect_path)(TSE_PATH_REUSE_EXISTING + 1);
    TT_EQ_INT(tse_detect_cache_store(&cache, net, sizeof net - 1, &r), TSE_ERR_INVALID_ARG);
}
#endif /* TSE_CONFIG_DETECT_CACHE */

TT_TEST(reuse_api_errors_and_names)
{
    tse_detect_settings s = reuse_settings();
    tse_detect_callbacks cb;
    TT_ASSERT(strcmp(tse_detect_path_name(TSE_PATH_REUSE_EXISTING), "reuse-existing") == 0);
    TT_ASSERT(strcmp(tse_detect_probe_name(TSE_PROBE_SIP_TLS), "sip-tls") == 0);
    TT_ASSERT(strcmp(tse_detect_probe_name(TSE_PROBE_TURN_TLS), "turn-tls") == 0);
    reset();
    cb.on_event = on_event;
    cb.entropy = entropy;
    cb.user = &W;
    TT_EQ_INT(tse_detect_init(&D, &s, &cb), TSE_OK);
    /* not started yet */
    TT_EQ_INT(tse_detect_reuse_ok(&D, TSE_PROBE_SIP_TLS, 200, T0), TSE_ERR_STATE);
    TT_EQ_INT(tse_detect_start(&D, T0), TSE_OK);
    TT_EQ_INT(tse_detect_reuse_ok(NULL, TSE_PROBE_SIP_TLS, 200, T0), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_detect_reuse_ok(&D, (tse_probe_id)TSE_PROBE_COUNT, 0, T0), TSE_ERR_INVALID_ARG);
    /* running, but not an 8.3 probe */
    TT_EQ_INT(tse_detect_reuse_ok(&D, TSE_PROBE_SIP_UDP, 200, T0), TSE_ERR_INVALID_ARG);
    /* the other entry points refuse the 8.3 probes */
    TT_EQ_INT(tse_detect_tunnel_up(&D, TSE_PROBE_SIP_TLS, T0), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_detect_tcp_connected(&D, TSE_PROBE_TURN_TLS, T0), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_detect_reuse_ok(&D, TSE_PROBE_SIP_TLS, 200, T0 + 5), TSE_OK);
    TT_EQ_INT(tse_detect_reuse_ok(&D, TSE_PROBE_SIP_TLS, 200, T0 + 6), TSE_ERR_STATE);
    /* a port of 0 leaves 8.3 out */
    s.turn_port = 0;
    reset();
    W.sc[TSE_PROBE_SIP_TLS] = (script){B_OK, 10, 0, 0, 0};
    W.sc[TSE_PROBE_TURN_TLS] = (script){B_OK, 10, 0, 0, 0};
    TT_EQ_INT(setup_and_run(&s), 0);
    TT_EQ_INT(W.starts[TSE_PROBE_SIP_TLS] + W.starts[TSE_PROBE_TURN_TLS], 0);
}
#else
/* Compiled out: the 8.3 settings are refused, not silently ignored. */
TT_TEST(reuse_compiled_out_refuses_its_settings)
{
    tse_detect_settings s = base_settings();
    tse_detect_callbacks cb;
    cb.on_event = on_event;
    cb.entropy = entropy;
    cb.user = &W;
    reset();
    TT_EQ_INT(tse_detect_init(&D, &s, &cb), TSE_OK);
    s.pcscf_tls_host = "pcscf-tls.example";
    TT_EQ_INT(tse_detect_init(&D, &s, &cb), TSE_ERR_INVALID_ARG);
    s.pcscf_tls_host = NULL;
    s.turn_host = "turn.example";
    TT_EQ_INT(tse_detect_init(&D, &s, &cb), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(TSE_PROBE_COUNT, 5);
    TT_EQ_INT(tse_detect_reuse_ok(&D, TSE_PROBE_SIP_TCP, 200, T0), TSE_ERR_STATE);
    /* the name still prints (a cached decision from another build) */
    TT_ASSERT(strcmp(tse_detect_path_name(TSE_PATH_REUSE_EXISTING), "reuse-existing") == 0);
}
#endif /* TSE_CONFIG_DETECT_REUSE */

int main(void)
{
    TT_RUN(direct_when_sip_answers_and_no_nat);
    TT_RUN(nat_traversal_when_mapped_differs);
    TT_RUN(sip_404_still_proves_reachability);
    TT_RUN(sip_tcp_provisional_then_final_in_chunks);
    TT_RUN(tunnel_when_sip_blocked_decides_at_sip_timeout);
    TT_RUN(tunnel_starts_at_once_when_direct_fails_fast);
    TT_RUN(second_port_wins_when_first_hangs);
    TT_RUN(second_port_starts_when_first_refused);
    TT_RUN(none_with_reasons_through_proxy);
    TT_RUN(tunnel_via_proxy_when_everything_direct_is_silent);
    TT_RUN(no_udp_path_means_tunnel_even_if_sip_works);
    TT_RUN(no_stun_server_uses_sip_udp_nat_unknown);
    TT_RUN(stun_error_response_counts_as_udp_with_nat);
    TT_RUN(stun_retransmitted_until_answered);
    TT_RUN(direct_preferred_over_an_earlier_tunnel);
    TT_RUN(application_reports_registration);
    TT_RUN(worst_case_all_silent_is_slowest_probe_not_sum);
    TT_RUN(single_tunnel_port);
    TT_RUN(nothing_configured_is_none_at_once);
    TT_RUN(stray_input_and_api_errors);
    TT_RUN(tcp_response_too_large);
    TT_RUN(random_scenarios_keep_invariants);
#if TSE_CONFIG_DETECT_CACHE
    TT_RUN(cache_reuse_and_invalidate);
    TT_RUN(cache_lru_and_errors);
#endif
    TT_RUN(names);
    TT_RUN(null_and_out_of_range_arguments);
    TT_RUN(ipv6_targets_are_bracketed);
    TT_RUN(sip_request_that_cannot_be_built_fails_without_sending);
    TT_RUN(entropy_failure_fails_the_udp_probes);
    TT_RUN(stun_mapped_address_comparison);
    TT_RUN(sip_udp_provisional_keeps_waiting);
    TT_RUN(rto_zero_never_retransmits);
    TT_RUN(rto_doubling_saturates);
    TT_RUN(elapsed_saturates_at_32_bits);
    TT_RUN(deadline_beyond_32_bits_is_cut);
    TT_RUN(tscf_without_first_port_uses_second);
    TT_RUN(first_tunnel_timeout_after_second_started);
#if TSE_CONFIG_DETECT_CACHE
    TT_RUN(cache_not_written_without_id_or_path);
#endif
#if TSE_CONFIG_DETECT_REUSE
    TT_RUN(reuse_every_outcome_combination);
    TT_RUN(reuse_preferred_over_an_earlier_tunnel);
    TT_RUN(reuse_sip_tls_garbage_and_overflow);
    TT_RUN(reuse_one_failure_cancels_the_other);
    TT_RUN(reuse_not_tried_without_both_targets);
#if TSE_CONFIG_DETECT_CACHE
    TT_RUN(reuse_cached_like_the_other_decisions);
#endif
    TT_RUN(reuse_api_errors_and_names);
#else
    TT_RUN(reuse_compiled_out_refuses_its_settings);
#endif
    return TT_DONE();
}
