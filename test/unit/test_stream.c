/* The stream API (tse/stream.h) against mem_tscf as a plain mbed TLS
 * server (app_raw: its plaintext is recorded and optionally echoed), with
 * its HTTP CONNECT front, in virtual time: echo directly and through a
 * proxy with Basic and Digest, the specific error of every failure (proxy
 * refusal, authentication, certificate, pin, timeouts, dead peer, TCP cut,
 * clean close both ways), no byte lost with a full send buffer or a full
 * receive buffer, any chunking, one allocation. */
#include <stdint.h>
#include <string.h>

#include "tse/stream.h"
#include "mem_tscf.h"
#include "test_pki.h"
#include "tt.h"

#define T0 1000
#define CONNECT_HANG 1

/* ---- the driver: plays the port, virtual clock --------------------------- */

typedef struct ev_rec {
    int type;
    int error;
    int proxy_status;
    int via_proxy;
    unsigned tls_version;
    char detail[256];
    tse_time_ms at;
} ev_rec;

typedef struct sd {
    tse_stream *st;
    mem_tscf *peer;
    mt_cfg cfg;
    tse_stream_settings s;
    mt_alloc alloc;
    tse_time_ms now;
    int connect_mode;           /* 0 ok, CONNECT_HANG, or a TSE_ERR_TRANSPORT_* */
    int connected;
    unsigned connects;
    size_t chunk;               /* bytes per move, 0 = all */
    uint8_t pend[65536];        /* peer -> stream bytes not yet consumed */
    size_t pend_len;
    ev_rec ev[64];
    size_t n_ev;
    int auto_read;              /* read on DATA into got[] */
    uint8_t got[200000];
    size_t got_len;
    uint64_t prng;
    int new_rc;
} sd;

static sd D;

static void on_event(void *user, const tse_stream_event *e)
{
    sd *d = user;
    if (d->n_ev < sizeof(d->ev) / sizeof(d->ev[0])) {
        ev_rec *r = &d->ev[d->n_ev++];
        memset(r, 0, sizeof(*r));
        r->type = e->type;
        r->error = e->error;
        r->proxy_status = e->proxy_status;
        r->via_proxy = e->via_proxy;
        r->tls_version = e->tls_version;
        r->at = d->now;
        if (e->detail != NULL) {
            strncpy(r->detail, e->detail, sizeof(r->detail) - 1);
        }
    }
    if (e->type == TSE_STREAM_EV_DATA && d->auto_read) {
        for (int i = 0; i < 1000; i++) {
            int n = tse_stream_recv(d->st, d->got + d->got_len, sizeof(d->got) - d->got_len,
                                    d->now);
            if (n <= 0) break;
            d->got_len += (size_t)n;
        }
    }
}

static int entropy(void *user, uint8_t *buf, size_t len)
{
    sd *d = user;
    for (size_t i = 0; i < len; i++) {
        d->prng = d->prng * 6364136223846793005ull + 1442695040888963407ull;
        buf[i] = (uint8_t)(d->prng >> 56);
    }
    return 0;
}

static const tse_stream_callbacks CB = { on_event, entropy };

static const ev_rec *find_ev(int type, size_t nth)
{
    for (size_t i = 0; i < D.n_ev; i++) {
        if (D.ev[i].type == type && nth-- == 0) return &D.ev[i];
    }
    return NULL;
}

static size_t count_ev(int type)
{
    size_t n = 0;
    for (size_t i = 0; i < D.n_ev; i++) n += D.ev[i].type == type;
    return n;
}

static void dump(void)
{
    for (size_t i = 0; i < D.n_ev; i++)
        fprintf(stderr, "  ev %d err %d (%s) at %llu %s\n", D.ev[i].type, D.ev[i].error,
                tse_strerror(D.ev[i].error), (unsigned long long)D.ev[i].at, D.ev[i].detail);
}

static int fail_mark;

static void teardown(void)
{
    if (tt_failed_checks != fail_mark) dump(); /* this test failed: its events */
    fail_mark = tt_failed_checks;
    if (D.st != NULL) tse_stream_del(D.st);
    if (D.peer != NULL) mem_tscf_free(D.peer);
    D.st = NULL;
    D.peer = NULL;
}

/* Defaults: the peer as a TLS echo server for "tscf.test", the stream to
 * it with the test CA. */
static void setup(void)
{
    const test_pki *pki = test_pki_get();
    teardown();
    memset(&D, 0, sizeof(D));
    D.now = T0;
    D.prng = 42;
    mt_cfg_default(&D.cfg);
    D.cfg.app_raw = 1;
    D.cfg.app_echo = 1;
    tse_stream_settings_default(&D.s);
    D.s.host = "tscf.test";
    D.s.ca = (const uint8_t *)pki->ca_pem;
    D.s.ca_len = strlen(pki->ca_pem) + 1;
    D.s.connect_timeout_ms = 3000;
    D.s.proxy_timeout_ms = 4000;
    D.s.tls_timeout_ms = 5000;
}

static int start(void)
{
    D.peer = mem_tscf_new(&D.cfg);
    mem_tscf_set_clock(D.peer, &D.now);
    D.new_rc = tse_stream_new(&D.st, &D.s, &CB, mt_mem(&D.alloc), &D);
    if (D.new_rc != TSE_OK) return D.new_rc;
    return tse_stream_start(D.st, D.now);
}

/* One step of the port; 1 if something moved. */
static int step(void)
{
    unsigned w = tse_stream_want(D.st);
    int progress = 0;
    if (w & TSE_WANT_DISCONNECT) {
        if (D.connected) mem_tscf_conn_close(D.peer);
        D.connected = 0;
        D.pend_len = 0;
        tse_stream_transport_closed(D.st, 0, D.now);
        return 1;
    }
    if (w & TSE_WANT_CONNECT) {
        const char *h;
        uint16_t p;
        if (tse_stream_connect_target(D.st, &h, &p) != TSE_OK) return 0;
        D.connects++;
        if (D.connect_mode == CONNECT_HANG) return 1;
        if (D.connect_mode < 0) {
            tse_stream_transport_closed(D.st, D.connect_mode, D.now);
            return 1;
        }
        mem_tscf_conn_open(D.peer);
        D.connected = 1;
        tse_stream_transport_connected(D.st, D.now);
        return 1;
    }
    if (!D.connected) return 0;
    {
        const uint8_t *p;
        size_t n = tse_stream_outer_pending(D.st, &p);
        if (n > 0) {
            if (D.chunk && n > D.chunk) n = D.chunk;
            mem_tscf_conn_input(D.peer, p, n);
            tse_stream_outer_consume(D.st, n, D.now);
            progress = 1;
        }
    }
    if (D.pend_len == 0) {
        const uint8_t *q;
        size_t n = mem_tscf_conn_output(D.peer, &q);
        if (n > sizeof(D.pend)) n = sizeof(D.pend);
        if (n > 0) {
            memcpy(D.pend, q, n);
            D.pend_len = n;
            mem_tscf_conn_consume(D.peer, n);
            progress = 1;
        }
    }
    if (D.pend_len > 0 && (tse_stream_want(D.st) & TSE_WANT_READ)) {
        size_t n = D.chunk && D.pend_len > D.chunk ? D.chunk : D.pend_len;
        int r = tse_stream_recv_outer(D.st, D.pend, n, D.now);
        if (r < 0) {
            D.pend_len = 0;
        } else if (r > 0) {
            memmove(D.pend, D.pend + r, D.pend_len - (size_t)r);
            D.pend_len -= (size_t)r;
            progress = 1;
        }
    }
    if (D.connected && D.pend_len == 0 && mem_tscf_conn_want_close(D.peer)) {
        const uint8_t *q;
        if (mem_tscf_conn_output(D.peer, &q) == 0) {
            mem_tscf_conn_close(D.peer);
            D.connected = 0;
            tse_stream_transport_closed(D.st, TSE_ERR_TRANSPORT_CLOSED, D.now);
            progress = 1;
        }
    }
    return progress;
}

static void pump(void)
{
    for (int i = 0; i < 100000 && step(); i++) {
    }
}

/* Run @p ms of virtual time: move bytes, fire the timers on the way. */
static void run(tse_time_ms ms)
{
    tse_time_ms end = D.now + ms;
    for (int i = 0; i < 10000; i++) {
        tse_time_ms e;
        pump();
        e = tse_stream_expiry(D.st);
        if (e > end) break;
        if (e > D.now) D.now = e;
        tse_stream_handle_expiry(D.st, D.now);
    }
    pump();
    D.now = end;
}

static void send_all(const uint8_t *data, size_t len)
{
    size_t off = 0;
    for (int i = 0; i < 100000 && off < len; i++) {
        size_t n = len - off;
        size_t space = tse_stream_send_space(D.st);
        if (n > space) n = space;
        if (n > 0 && tse_stream_send(D.st, data + off, n, D.now) == TSE_OK) off += n;
        pump();
    }
}

/* ---- tests ------------------------------------------------------------------ */

TT_TEST(echo_direct)
{
    static const char req[] = "OPTIONS sip:pcscf.test SIP/2.0\r\n\r\n";
    const ev_rec *up;
    uint8_t buf[256];
    setup();
    TT_EQ_INT(start(), TSE_OK);
    /* queued before the connection exists: waits for TLS */
    TT_EQ_INT(tse_stream_send(D.st, (const uint8_t *)req, sizeof(req) - 1, D.now), TSE_OK);
    TT_EQ_INT(tse_stream_get_state(D.st), TSE_STREAM_CONNECTING);
    run(100);
    TT_EQ_INT(tse_stream_get_state(D.st), TSE_STREAM_UP);
    up = find_ev(TSE_STREAM_EV_UP, 0);
    TT_ASSERT(up != NULL);
    TT_EQ_INT(up->via_proxy, 0);
    TT_ASSERT(up->tls_version == 0x0303 || up->tls_version == 0x0304);
    /* SNI is the host */
    TT_ASSERT(mem_tscf_seen(D.peer)->sni_present);
    TT_ASSERT(strcmp(mem_tscf_seen(D.peer)->sni, "tscf.test") == 0);
    TT_EQ_INT(mem_tscf_seen(D.peer)->app_len, sizeof(req) - 1);
    TT_EQ_MEM(mem_tscf_seen(D.peer)->app, req, sizeof(req) - 1);
    TT_ASSERT(count_ev(TSE_STREAM_EV_DATA) >= 1);
    TT_EQ_INT(tse_stream_readable(D.st), sizeof(req) - 1);
    TT_EQ_INT(tse_stream_recv(D.st, buf, sizeof(buf), D.now), (int)(sizeof(req) - 1));
    TT_EQ_MEM(buf, req, sizeof(req) - 1);
    TT_EQ_INT(tse_stream_recv(D.st, buf, sizeof(buf), D.now), TSE_ERR_WOULD_BLOCK);
    /* one allocation, and nothing left after del */
    TT_EQ_INT(D.alloc.total, 1);
    teardown();
    TT_EQ_INT(D.alloc.live, 0);
}

/* Any cut of the byte stream (1 byte at a time both ways): the same bytes. */
TT_TEST(one_byte_chunks)
{
    uint8_t msg[3000];
    setup();
    D.chunk = 1;
    D.auto_read = 1;
    for (size_t i = 0; i < sizeof(msg); i++) msg[i] = (uint8_t)(i * 7 + 3);
    TT_EQ_INT(start(), TSE_OK);
    run(100);
    TT_EQ_INT(tse_stream_get_state(D.st), TSE_STREAM_UP);
    send_all(msg, sizeof(msg));
    run(100);
    TT_EQ_INT(D.got_len, sizeof(msg));
    TT_EQ_MEM(D.got, msg, sizeof(msg));
    teardown();
}

static void through_proxy(int mode, const char *user, const char *pass)
{
    const ev_rec *up;
    static const char hello[] = "hello through the proxy";
    setup();
    D.cfg.proxy = mode;
    D.cfg.proxy_user = "alice";
    D.cfg.proxy_pass = "s3cret";
    D.s.proxy_host = "proxy.test";
    D.s.proxy_port = 3128;
    D.s.proxy_user = user;
    D.s.proxy_pass = pass;
    D.auto_read = 1;
    TT_EQ_INT(start(), TSE_OK);
    TT_EQ_INT(tse_stream_send(D.st, (const uint8_t *)hello, sizeof(hello) - 1, D.now), TSE_OK);
    run(100);
    if (tse_stream_get_state(D.st) != TSE_STREAM_UP && D.n_ev > 0) {
        fprintf(stderr, "last event %d error %d %s\n", D.ev[D.n_ev - 1].type,
                D.ev[D.n_ev - 1].error, D.ev[D.n_ev - 1].detail);
    }
    TT_EQ_INT(tse_stream_get_state(D.st), TSE_STREAM_UP);
    up = find_ev(TSE_STREAM_EV_UP, 0);
    TT_ASSERT(up != NULL && up->via_proxy == 1);
    /* CONNECT to the stream's host and port */
    TT_ASSERT(mem_tscf_seen(D.peer)->n_heads >= 1);
    TT_ASSERT(strncmp(mem_tscf_seen(D.peer)->heads[0], "CONNECT tscf.test:443 HTTP/1.1\r\n", 32) == 0);
    TT_EQ_INT(D.got_len, sizeof(hello) - 1);
    TT_EQ_MEM(D.got, hello, sizeof(hello) - 1);
    teardown();
}

TT_TEST(proxy_plain) { through_proxy(MT_PROXY_200, NULL, NULL); }
TT_TEST(proxy_basic)
{
    through_proxy(MT_PROXY_407_BASIC, "alice", "s3cret");
}
TT_TEST(proxy_digest)
{
    through_proxy(MT_PROXY_407_DIGEST_SHA256, "alice", "s3cret");
}

/* A 407 with "Connection: close": the answer goes on a new connection. */
TT_TEST(proxy_407_then_close)
{
    setup();
    D.cfg.proxy = MT_PROXY_407_DIGEST_MD5;
    D.cfg.proxy_user = "alice";
    D.cfg.proxy_pass = "s3cret";
    D.cfg.proxy_close_after_407 = 1;
    D.s.proxy_host = "proxy.test";
    D.s.proxy_user = "alice";
    D.s.proxy_pass = "s3cret";
    TT_EQ_INT(start(), TSE_OK);
    run(100);
    TT_EQ_INT(tse_stream_get_state(D.st), TSE_STREAM_UP);
    TT_EQ_INT(D.connects, 2);
    TT_EQ_INT(mem_tscf_seen(D.peer)->auth_ok, 1);
    teardown();
}

/* The failure event, with the stream DOWN, no byte of the application
 * sent to anyone, and the connection closed. */
static const ev_rec *fails_with(int err)
{
    const ev_rec *e = find_ev(TSE_STREAM_EV_DOWN, 0);
    if (e == NULL || e->error != err) {
        fprintf(stderr, "expected DOWN %d (%s), got %d (%s) %s\n", err, tse_strerror(err),
                e ? e->error : 0, e ? tse_strerror(e->error) : "-", e ? e->detail : "");
        return NULL;
    }
    if (tse_stream_get_state(D.st) != TSE_STREAM_DOWN || tse_stream_last_error(D.st) != err ||
        count_ev(TSE_STREAM_EV_DOWN) != 1 || count_ev(TSE_STREAM_EV_UP) != 0 ||
        mem_tscf_seen(D.peer)->app_len != 0 || D.connected) {
        fprintf(stderr, "state %d, downs %zu, ups %zu, app bytes %zu, connected %d\n",
                tse_stream_get_state(D.st), count_ev(TSE_STREAM_EV_DOWN),
                count_ev(TSE_STREAM_EV_UP), mem_tscf_seen(D.peer)->app_len, D.connected);
        return NULL;
    }
    return e;
}

static void proxy_fails(int mode, const char *user, int err, int status)
{
    const ev_rec *e;
    setup();
    D.cfg.proxy = mode;
    D.cfg.proxy_user = "alice";
    D.cfg.proxy_pass = "s3cret";
    D.s.proxy_host = "proxy.test";
    D.s.proxy_user = user;
    D.s.proxy_pass = user != NULL ? "wrong" : NULL;
    TT_EQ_INT(start(), TSE_OK);
    TT_EQ_INT(tse_stream_send(D.st, (const uint8_t *)"x", 1, D.now), TSE_OK);
    run(100);
    e = fails_with(err);
    TT_ASSERT(e != NULL);
    TT_EQ_INT(e->proxy_status, status);
    /* nothing is lost silently: the queued byte is not delivered, and the
     * application learns it from the error; recv reports it too */
    {
        uint8_t b[4];
        TT_EQ_INT(tse_stream_recv(D.st, b, sizeof(b), D.now), err);
        TT_EQ_INT(tse_stream_send(D.st, b, 1, D.now), TSE_ERR_STATE);
    }
    teardown();
}

TT_TEST(proxy_refuses) { proxy_fails(MT_PROXY_403, NULL, TSE_ERR_PROXY_STATUS, 403); }
TT_TEST(proxy_auth_required)
{
    proxy_fails(MT_PROXY_407_BASIC, NULL, TSE_ERR_PROXY_AUTH_REQUIRED, 407);
}
TT_TEST(proxy_auth_wrong)
{
    proxy_fails(MT_PROXY_407_BASIC, "alice", TSE_ERR_PROXY_AUTH_FAILED, 407);
}
TT_TEST(proxy_garbage) { proxy_fails(MT_PROXY_GARBAGE, NULL, TSE_ERR_PROXY_MALFORMED, 0); }

static void cert_fails(const char *pem, const char *key, const uint8_t *pin, int err)
{
    const ev_rec *e;
    setup();
    if (pem != NULL) {
        D.cfg.cert_pem = pem;
        D.cfg.key_pem = key;
    }
    D.s.pin_sha256 = pin;
    TT_EQ_INT(start(), TSE_OK);
    TT_EQ_INT(tse_stream_send(D.st, (const uint8_t *)"secret", 6, D.now), TSE_OK);
    run(100);
    e = fails_with(err);
    TT_ASSERT(e != NULL);
    TT_ASSERT(e->detail[0] != '\0');
    teardown();
}

TT_TEST(cert_untrusted)
{
    const test_pki *p = test_pki_get();
    cert_fails(p->untrusted_ca_server_pem, p->untrusted_ca_server_key, NULL,
               TSE_ERR_TLS_CERT_UNTRUSTED);
}
TT_TEST(cert_wrong_name)
{
    const test_pki *p = test_pki_get();
    cert_fails(p->wrong_name_pem, p->wrong_name_key, NULL, TSE_ERR_TLS_CERT_NAME);
}
TT_TEST(cert_expired)
{
    const test_pki *p = test_pki_get();
    cert_fails(p->expired_pem, p->expired_key, NULL, TSE_ERR_TLS_CERT_EXPIRED);
}
TT_TEST(pin_mismatch)
{
    uint8_t pin[32];
    memcpy(pin, test_pki_get()->server_spki_sha256, 32);
    pin[0] ^= 0x80;
    cert_fails(NULL, NULL, pin, TSE_ERR_TLS_PIN);
}

/* Verification is on by default: no trust anchors = no stream. */
TT_TEST(no_ca_no_stream)
{
    setup();
    D.s.ca = NULL;
    D.s.ca_len = 0;
    TT_EQ_INT(start(), TSE_ERR_TLS_CONFIG);
    TT_EQ_INT(D.alloc.live, 0);
    teardown();
}

/* The lab switch works and says so. */
TT_TEST(insecure_warns)
{
    const test_pki *p = test_pki_get();
    setup();
    D.cfg.cert_pem = p->untrusted_ca_server_pem;
    D.cfg.key_pem = p->untrusted_ca_server_key;
    D.s.ca = NULL;
    D.s.ca_len = 0;
    D.s.tls_insecure_lab_only_skip_verify = 1;
    TT_EQ_INT(start(), TSE_OK);
    run(100);
    TT_EQ_INT(tse_stream_get_state(D.st), TSE_STREAM_UP);
    TT_EQ_INT(count_ev(TSE_STREAM_EV_WARNING), 1);
    teardown();
}

TT_TEST(timeouts)
{
    const ev_rec *e;
    setup();
    D.connect_mode = CONNECT_HANG;
    TT_EQ_INT(start(), TSE_OK);
    run(10000);
    e = find_ev(TSE_STREAM_EV_DOWN, 0);
    TT_ASSERT(e != NULL);
    TT_EQ_INT(e->error, TSE_ERR_TRANSPORT_TIMEOUT);
    TT_EQ_INT(e->at, T0 + 3000);

    setup();
    D.cfg.tls_silent = 1;
    TT_EQ_INT(start(), TSE_OK);
    run(10000);
    e = find_ev(TSE_STREAM_EV_DOWN, 0);
    TT_ASSERT(e != NULL);
    TT_EQ_INT(e->error, TSE_ERR_TLS_TIMEOUT);
    TT_EQ_INT(e->at, T0 + 5000);
    TT_EQ_INT(D.connected, 0);

    setup();
    D.cfg.proxy = MT_PROXY_RAW;
    D.cfg.proxy_raw = "HTTP/1.1 200 OK\r\n"; /* the head never ends */
    D.cfg.proxy_raw_len = strlen(D.cfg.proxy_raw);
    D.s.proxy_host = "proxy.test";
    TT_EQ_INT(start(), TSE_OK);
    run(10000);
    e = find_ev(TSE_STREAM_EV_DOWN, 0);
    TT_ASSERT(e != NULL);
    TT_EQ_INT(e->error, TSE_ERR_PROXY_TIMEOUT);
    TT_EQ_INT(e->at, T0 + 4000);

    setup();
    D.connect_mode = TSE_ERR_TRANSPORT_REFUSED;
    TT_EQ_INT(start(), TSE_OK);
    run(100);
    e = find_ev(TSE_STREAM_EV_DOWN, 0);
    TT_ASSERT(e != NULL);
    TT_EQ_INT(e->error, TSE_ERR_TRANSPORT_REFUSED);
    TT_EQ_INT(D.connects, 1); /* a stream does not reconnect */
    teardown();
}

/* A peer that takes our bytes and never answers: dead after dead_peer_ms
 * from the send; a peer that answers is not. */
TT_TEST(dead_peer)
{
    const ev_rec *e;
    tse_time_ms sent;
    setup();
    D.cfg.app_echo = 0;
    D.s.dead_peer_ms = 5000;
    TT_EQ_INT(start(), TSE_OK);
    run(100);
    TT_EQ_INT(tse_stream_get_state(D.st), TSE_STREAM_UP);
    run(60000); /* idle: no data sent, not judged */
    TT_EQ_INT(tse_stream_get_state(D.st), TSE_STREAM_UP);
    sent = D.now;
    TT_EQ_INT(tse_stream_send(D.st, (const uint8_t *)"ping", 4, D.now), TSE_OK);
    run(4000);
    TT_EQ_INT(tse_stream_get_state(D.st), TSE_STREAM_UP);
    run(2000);
    e = find_ev(TSE_STREAM_EV_DOWN, 0);
    TT_ASSERT(e != NULL);
    TT_EQ_INT(e->error, TSE_ERR_STREAM_DEAD_PEER);
    TT_EQ_INT(e->at, sent + 5000);
    TT_EQ_INT(D.connected, 0);
    TT_ASSERT(tse_err_is_retryable(TSE_ERR_STREAM_DEAD_PEER));

    setup();
    D.s.dead_peer_ms = 5000;
    D.auto_read = 1;
    TT_EQ_INT(start(), TSE_OK);
    run(100);
    for (int i = 0; i < 10; i++) {
        TT_EQ_INT(tse_stream_send(D.st, (const uint8_t *)"ping", 4, D.now), TSE_OK);
        run(4000);
    }
    TT_EQ_INT(tse_stream_get_state(D.st), TSE_STREAM_UP);
    TT_EQ_INT(D.got_len, 40);
    teardown();
}

/* A full send buffer refuses, takes nothing, says when it has room, and
 * every byte taken arrives once, in order. */
TT_TEST(full_send_buffer)
{
    static uint8_t msg[20000];
    size_t off = 0, refused = 0;
    setup();
    D.s.send_buf = 1000;
    D.auto_read = 1;
    for (size_t i = 0; i < sizeof(msg); i++) msg[i] = (uint8_t)(i ^ (i >> 8));
    TT_EQ_INT(start(), TSE_OK);
    /* before the connection: 1000 bytes fit, then it is full */
    TT_EQ_INT(tse_stream_send(D.st, msg, 1000, D.now), TSE_OK);
    TT_EQ_INT(tse_stream_send(D.st, msg + 1000, 1, D.now), TSE_ERR_QUEUE_FULL);
    TT_EQ_INT(tse_stream_send(D.st, msg, 1001, D.now), TSE_ERR_BUFFER_TOO_SMALL);
    TT_EQ_INT(tse_stream_send_space(D.st), 0);
    off = 1000;
    run(100);
    TT_EQ_INT(tse_stream_get_state(D.st), TSE_STREAM_UP);
    TT_ASSERT(count_ev(TSE_STREAM_EV_WRITABLE) >= 1);
    /* the port stalls: the ciphertext buffer and then the send buffer fill */
    for (int i = 0; i < 1000 && off < sizeof(msg); i++) {
        size_t n = sizeof(msg) - off < 700 ? sizeof(msg) - off : 700;
        int rc = tse_stream_send(D.st, msg + off, n, D.now);
        if (rc == TSE_ERR_QUEUE_FULL) {
            refused++;
            pump(); /* the port drains: room again */
            continue;
        }
        TT_EQ_INT(rc, TSE_OK);
        off += n;
    }
    run(100);
    TT_ASSERT(refused > 0);
    TT_EQ_INT(D.got_len, sizeof(msg));
    TT_EQ_MEM(D.got, msg, sizeof(msg));
    TT_EQ_INT(mem_tscf_seen(D.peer)->app_len, sizeof(msg));
    teardown();
}

/* The application does not read: the receive buffer fills, the stream
 * stops taking ciphertext (no READ interest), and when it reads, every
 * byte comes, once, in order. */
TT_TEST(full_recv_buffer)
{
    static uint8_t msg[30000], out[30000];
    size_t got = 0;
    setup();
    D.s.recv_buf = 300;
    for (size_t i = 0; i < sizeof(msg); i++) msg[i] = (uint8_t)(i * 31 + (i >> 9));
    TT_EQ_INT(start(), TSE_OK);
    run(100);
    send_all(msg, sizeof(msg));
    run(100);
    TT_EQ_INT(mem_tscf_seen(D.peer)->app_len, sizeof(msg)); /* all echoed */
    TT_EQ_INT(tse_stream_readable(D.st), 300);
    TT_EQ_INT(tse_stream_want(D.st) & TSE_WANT_READ, 0);
    TT_ASSERT(D.pend_len > 0); /* the rest waits in the port */
    for (int i = 0; i < 100000 && got < sizeof(out); i++) {
        int n = tse_stream_recv(D.st, out + got, 77, D.now);
        if (n == TSE_ERR_WOULD_BLOCK) {
            pump();
            continue;
        }
        TT_ASSERT(n > 0);
        got += (size_t)n;
    }
    TT_EQ_INT(got, sizeof(msg));
    TT_EQ_MEM(out, msg, sizeof(msg));
    TT_EQ_INT(tse_stream_get_state(D.st), TSE_STREAM_UP);
    teardown();
}

/* The peer's close_notify: everything it sent is read, then EOF. */
TT_TEST(peer_closes_cleanly)
{
    uint8_t b[64];
    setup();
    TT_EQ_INT(start(), TSE_OK);
    run(100);
    TT_EQ_INT(tse_stream_send(D.st, (const uint8_t *)"bye", 3, D.now), TSE_OK);
    pump();
    TT_EQ_INT(mem_tscf_close_notify(D.peer), 0);
    run(100);
    TT_EQ_INT(tse_stream_get_state(D.st), TSE_STREAM_DOWN);
    TT_EQ_INT(tse_stream_last_error(D.st), TSE_ERR_STREAM_EOF);
    TT_EQ_INT(D.connected, 0);
    TT_EQ_INT(tse_stream_recv(D.st, b, sizeof(b), D.now), 3);
    TT_EQ_MEM(b, "bye", 3);
    TT_EQ_INT(tse_stream_recv(D.st, b, sizeof(b), D.now), TSE_ERR_STREAM_EOF);
    teardown();
}

/* TCP ends without close_notify (a cut): not EOF, data may be missing. */
TT_TEST(tcp_cut)
{
    const ev_rec *e;
    setup();
    TT_EQ_INT(start(), TSE_OK);
    run(100);
    mem_tscf_conn_close(D.peer);
    D.connected = 0;
    tse_stream_transport_closed(D.st, TSE_ERR_TRANSPORT_RESET, D.now);
    e = find_ev(TSE_STREAM_EV_DOWN, 0);
    TT_ASSERT(e != NULL);
    TT_EQ_INT(e->error, TSE_ERR_TRANSPORT_RESET);

    setup();
    TT_EQ_INT(start(), TSE_OK);
    run(100);
    mem_tscf_conn_close(D.peer);
    D.connected = 0;
    tse_stream_transport_closed(D.st, 0, D.now);
    e = find_ev(TSE_STREAM_EV_DOWN, 0);
    TT_ASSERT(e != NULL);
    TT_EQ_INT(e->error, TSE_ERR_TRANSPORT_CLOSED);
    TT_ASSERT(strstr(e->detail, "close_notify") != NULL);
    teardown();
}

/* A corrupt record from the server: TSE_ERR_TLS_RECORD, what came before
 * stays readable. */
TT_TEST(corrupt_record)
{
    uint8_t b[16];
    setup();
    TT_EQ_INT(start(), TSE_OK);
    run(100);
    TT_EQ_INT(tse_stream_send(D.st, (const uint8_t *)"one", 3, D.now), TSE_OK);
    run(100);
    mem_tscf_corrupt_next(D.peer);
    TT_EQ_INT(tse_stream_send(D.st, (const uint8_t *)"two", 3, D.now), TSE_OK);
    run(100);
    TT_EQ_INT(tse_stream_last_error(D.st), TSE_ERR_TLS_RECORD);
    TT_EQ_INT(tse_stream_recv(D.st, b, sizeof(b), D.now), 3);
    TT_EQ_MEM(b, "one", 3);
    TT_EQ_INT(tse_stream_recv(D.st, b, sizeof(b), D.now), TSE_ERR_TLS_RECORD);
    teardown();
}

/* Our close: what is queued goes first, then close_notify, then the
 * connection is closed. */
TT_TEST(close_gracefully)
{
    static uint8_t msg[5000];
    setup();
    memset(msg, 'q', sizeof(msg));
    D.cfg.app_echo = 0;
    TT_EQ_INT(start(), TSE_OK);
    run(100);
    TT_EQ_INT(tse_stream_send(D.st, msg, sizeof(msg) < 4096 ? sizeof(msg) : 4096, D.now), TSE_OK);
    TT_EQ_INT(tse_stream_close(D.st, D.now), TSE_OK);
    TT_EQ_INT(tse_stream_send(D.st, msg, 1, D.now), TSE_ERR_STATE);
    run(100);
    TT_EQ_INT(mem_tscf_seen(D.peer)->app_len, 4096);
    TT_ASSERT(mem_tscf_seen(D.peer)->close_notify);
    TT_EQ_INT(tse_stream_get_state(D.st), TSE_STREAM_DOWN);
    TT_EQ_INT(tse_stream_last_error(D.st), TSE_ERR_CLOSED);
    TT_EQ_INT(D.connected, 0);
    teardown();
}

TT_TEST(settings_and_memory)
{
    tse_stream_settings s;
    tse_stream *st = NULL;
    mt_alloc a;
    setup();
    tse_stream_settings_default(&s);
    TT_EQ_INT(s.port, 443);
    TT_EQ_INT(tse_stream_settings_check(&s), TSE_ERR_INVALID_ARG);
    s.host = "";
    TT_EQ_INT(tse_stream_settings_check(&s), TSE_ERR_SETTING_SERVER);
    s.host = "h";
    s.proxy_host = "p";
    s.proxy_user = "u";
    TT_EQ_INT(tse_stream_settings_check(&s), TSE_ERR_SETTING_PROXY);
    s.proxy_user = NULL;
    s.recv_buf = 10;
    TT_EQ_INT(tse_stream_settings_check(&s), TSE_ERR_SETTING_QUEUE);
    s.recv_buf = 4096;
    TT_EQ_INT(tse_stream_settings_check(&s), TSE_OK);
    TT_EQ_INT(tse_stream_new(&st, &D.s, NULL, mt_mem(&D.alloc), &D), TSE_ERR_INVALID_ARG);
    /* the one allocation failing */
    memset(&a, 0, sizeof(a));
    a.fail_at = 1;
    TT_EQ_INT(tse_stream_new(&st, &D.s, &CB, mt_mem(&a), &D), TSE_ERR_NO_MEMORY);
    TT_ASSERT(st == NULL);
    TT_EQ_INT(a.live, 0);
    TT_ASSERT(tse_stream_footprint(&D.s) > D.s.send_buf + D.s.recv_buf);
    /* NULL-safe getters */
    TT_EQ_INT(tse_stream_want(NULL), 0);
    TT_EQ_INT(tse_stream_get_state(NULL), TSE_STREAM_DOWN);
    TT_EQ_INT(tse_stream_last_error(NULL), TSE_ERR_INVALID_ARG);
    TT_ASSERT(strcmp(tse_stream_state_name(TSE_STREAM_UP), "UP") == 0);
    TT_ASSERT(strcmp(tse_strerror(TSE_ERR_STREAM_EOF), "unknown error") != 0);
    tse_stream_del(NULL);
    teardown();
}

/* A TLS configuration shared with tunnels (tse_tls_config_new()). */
TT_TEST(shared_tls_config)
{
    tse_settings ts;
    tse_tls_config *tc = NULL;
    setup();
    tse_settings_default(&ts);
    ts.ca = D.s.ca;
    ts.ca_len = D.s.ca_len;
    TT_EQ_INT(tse_tls_config_new(&tc, &ts, entropy, &D, mt_mem(&D.alloc), NULL), TSE_OK);
    D.s.ca = NULL;
    D.s.ca_len = 0;
    D.s.tls_config = tc;
    TT_EQ_INT(start(), TSE_OK);
    run(100);
    TT_EQ_INT(tse_stream_get_state(D.st), TSE_STREAM_UP);
    teardown();
    tse_tls_config_del(tc);
    TT_EQ_INT(D.alloc.live, 0);
}

int main(void)
{
    TT_RUN(echo_direct);
    TT_RUN(one_byte_chunks);
    TT_RUN(proxy_plain);
    TT_RUN(proxy_basic);
    TT_RUN(proxy_digest);
    TT_RUN(proxy_407_then_close);
    TT_RUN(proxy_refuses);
    TT_RUN(proxy_auth_required);
    TT_RUN(proxy_auth_wrong);
    TT_RUN(proxy_garbage);
    TT_RUN(cert_untrusted);
    TT_RUN(cert_wrong_name);
    TT_RUN(cert_expired);
    TT_RUN(pin_mismatch);
    TT_RUN(no_ca_no_stream);
    TT_RUN(insecure_warns);
    TT_RUN(timeouts);
    TT_RUN(dead_peer);
    TT_RUN(full_send_buffer);
    TT_RUN(full_recv_buffer);
    TT_RUN(peer_closes_cleanly);
    TT_RUN(tcp_cut);
    TT_RUN(corrupt_record);
    TT_RUN(close_gracefully);
    TT_RUN(settings_and_memory);
    TT_RUN(shared_tls_config);
    teardown();
    return TT_DONE();
}
