/* libFuzzer: the stream API (tse/stream.h) as a whole.
 *
 * Built against lib/ compiled with -DTSE_TLS_IDENTITY (lib/tls_identity.c:
 * no cryptography; the first byte after the connection (or the proxy's
 * 2xx) is the "handshake", 0x00 refusing it), so the fuzzer's bytes are
 * the peer's side at every state: the proxy's reply, the handshake, then
 * plaintext.  The virtual clock, connect failures, cuts, partial sends
 * by the port and the application's calls are fuzzed too.
 *
 * Input: byte 0 chooses the settings (proxy with or without credentials,
 * dead-peer timer, buffer sizes, plain_tcp: no TLS layer at all); then
 * operations, one byte each plus their arguments (see run()).
 *
 * Properties, checked after every operation:
 *  - memory: one allocation in tse_stream_new(), none after it, none left
 *    after tse_stream_del();
 *  - tse_stream_recv_outer() consumes 0..len bytes, and returns an error
 *    only when the stream is DOWN;
 *  - events: at most one UP, before any DOWN; exactly one DOWN once DOWN;
 *    nothing after DOWN but what reading leftovers may cause (nothing);
 *  - nothing lost (direct mode): what the application read, followed by
 *    what is readable, is exactly what the peer sent after its handshake
 *    byte (while the stream is not DOWN; a prefix of it after);
 *  - want() never asks to connect outside CONNECTING, expiry() is NEVER
 *    once DOWN without a connection;
 *  - plain_tcp, direct: the port is handed exactly what the application
 *    sent, in order (no handshake byte either way).
 */
#include "tse/stream.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c) do { if (!(c)) { \
    fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #c); \
    abort(); } } while (0)

static struct {
    long live, allocs;
    unsigned ups, downs, events_after_down;
    tse_stream *st;
    /* direct mode: the peer's plaintext, and what the application got */
    int direct, hs_seen;
    uint8_t fed[1 << 16];
    size_t fed_len;
    uint8_t got[1 << 16];
    size_t got_len;
    /* plain_tcp, direct: bytes the application queued, the port took */
    int plain;
    size_t app_sent, port_took;
} G;

/* The application's bytes: byte k of everything it sent is pat_byte(k). */
static uint8_t pat_byte(size_t k)
{
    return (uint8_t)(k * 7u + (k >> 8));
}

static void *f_calloc(void *u, size_t n, size_t s)
{
    (void)u;
    G.allocs++;
    void *p = calloc(n, s);
    if (p != NULL) G.live++;
    return p;
}

static void f_free(void *u, void *p)
{
    (void)u;
    if (p != NULL) G.live--;
    free(p);
}

static const tse_mem MEM = { NULL, f_calloc, f_free };

static int f_entropy(void *u, uint8_t *b, size_t n)
{
    (void)u;
    memset(b, 0x5a, n);
    return 0;
}

static void on_event(void *u, const tse_stream_event *ev)
{
    (void)u;
    if (G.downs > 0) G.events_after_down++;
    if (ev->type == TSE_STREAM_EV_UP) {
        CHECK(G.downs == 0);
        G.ups++;
    }
    if (ev->type == TSE_STREAM_EV_DOWN) {
        CHECK(ev->error < 0);
        G.downs++;
    }
}

static void read_app(size_t cap)
{
    uint8_t b[512];
    int n;
    if (cap > sizeof b) cap = sizeof b;
    n = tse_stream_recv(G.st, b, cap, 0);
    if (n > 0) {
        CHECK((size_t)n <= cap);
        if (G.got_len + (size_t)n <= sizeof G.got) {
            memcpy(G.got + G.got_len, b, (size_t)n);
        }
        G.got_len += (size_t)n;
    } else {
        CHECK(n == TSE_ERR_WOULD_BLOCK ||
              (tse_stream_get_state(G.st) == TSE_STREAM_DOWN && n == tse_stream_last_error(G.st)));
    }
}

static void check(void)
{
    tse_stream_state s = tse_stream_get_state(G.st);
    unsigned w = tse_stream_want(G.st);
    CHECK(G.downs <= 1);
    CHECK((s == TSE_STREAM_DOWN) == (G.downs == 1));
    CHECK(G.events_after_down == 0);
    CHECK(!(w & TSE_WANT_CONNECT) || s == TSE_STREAM_CONNECTING);
    CHECK(G.allocs == 1 && G.live == 1);
    if (G.direct && G.fed_len <= sizeof G.fed && G.got_len <= sizeof G.got) {
        size_t r = tse_stream_readable(G.st);
        CHECK(G.got_len <= G.fed_len);
        CHECK(memcmp(G.got, G.fed, G.got_len) == 0);
        if (s != TSE_STREAM_DOWN) {
            CHECK(G.got_len + r == G.fed_len);
        } else {
            CHECK(G.got_len + r <= G.fed_len);
        }
    }
}

static void run(const uint8_t *d, size_t n)
{
    tse_time_ms now = 1000;
    size_t i = 1;
    uint8_t pend[256];
    size_t pend_len = 0;
    int connected = 0;
    for (int guard = 0; i < n && guard < 4096; guard++) {
        uint8_t op = d[i++];
        uint8_t arg = i < n ? d[i] : 0;
        unsigned w = tse_stream_want(G.st);
        if (w & TSE_WANT_DISCONNECT) {
            connected = 0;
            pend_len = 0;
            CHECK(tse_stream_transport_closed(G.st, 0, now) == TSE_OK);
        }
        switch (op % 8) {
        case 0: { /* the peer sends up to arg bytes of the input */
            size_t k = arg, r0;
            int r;
            i++;
            if (k > n - i) k = n - i;
            if (pend_len + k > sizeof pend) k = sizeof pend - pend_len;
            memcpy(pend + pend_len, d + i, k);
            pend_len += k;
            i += k;
            if (!connected || !(tse_stream_want(G.st) & TSE_WANT_READ)) break;
            r0 = pend_len;
            r = tse_stream_recv_outer(G.st, pend, pend_len, now);
            if (r < 0) {
                CHECK(tse_stream_get_state(G.st) == TSE_STREAM_DOWN);
                pend_len = 0;
                break;
            }
            CHECK((size_t)r <= r0);
            if (G.direct) {
                const uint8_t *p = pend;
                size_t m = (size_t)r;
                if (!G.hs_seen && m > 0) {
                    G.hs_seen = 1;
                    p++;
                    m--;
                }
                if (G.fed_len + m <= sizeof G.fed) memcpy(G.fed + G.fed_len, p, m);
                G.fed_len += m;
            }
            memmove(pend, pend + r, pend_len - (size_t)r);
            pend_len -= (size_t)r;
            break;
        }
        case 1: { /* the port sends part of what is pending */
            const uint8_t *p;
            size_t k = tse_stream_outer_pending(G.st, &p), a = (size_t)arg * 8u;
            i++;
            if (!connected) break;
            if (a > k) a = k;
            if (G.plain && G.direct) {
                for (size_t j = 0; j < a; j++) CHECK(p[j] == pat_byte(G.port_took + j));
                G.port_took += a;
                CHECK(G.port_took <= G.app_sent);
            }
            tse_stream_outer_consume(G.st, a, now);
            break;
        }
        case 2: { /* the application sends */
            static uint8_t pat[2048];
            size_t k = (size_t)arg * 8u;
            int r;
            i++;
            for (size_t j = 0; j < k; j++) pat[j] = pat_byte(G.app_sent + j);
            r = tse_stream_send(G.st, pat, k, now);
            CHECK(r == TSE_OK || r == TSE_ERR_QUEUE_FULL || r == TSE_ERR_STATE ||
                  r == TSE_ERR_BUFFER_TOO_SMALL);
            if (r == TSE_OK) G.app_sent += k;
            break;
        }
        case 3: /* the application reads */
            i++;
            read_app((size_t)arg + 1u);
            break;
        case 4: /* time passes */
            i++;
            now += (tse_time_ms)arg * 100u;
            if (tse_stream_expiry(G.st) <= now) tse_stream_handle_expiry(G.st, now);
            break;
        case 5: /* the connection breaks */
            i++;
            if (connected) {
                connected = 0;
                pend_len = 0;
                tse_stream_transport_closed(G.st, arg & 1 ? TSE_ERR_TRANSPORT_RESET
                                                          : TSE_ERR_TRANSPORT_CLOSED, now);
            }
            break;
        case 6:
            CHECK(tse_stream_close(G.st, now) == TSE_OK);
            break;
        case 7: { /* the port answers a connect */
            const char *h;
            uint16_t p;
            i++;
            if (!(tse_stream_want(G.st) & TSE_WANT_CONNECT)) break;
            CHECK(tse_stream_connect_target(G.st, &h, &p) == TSE_OK);
            if (arg & 1) {
                connected = 1;
                pend_len = 0;
                CHECK(tse_stream_transport_connected(G.st, now) == TSE_OK);
            } else {
                tse_stream_transport_closed(G.st, TSE_ERR_TRANSPORT_REFUSED, now);
            }
            break;
        }
        }
        check();
    }
    /* drain what is readable: it must all be there */
    for (int k = 0; k < 1000 && tse_stream_readable(G.st) > 0; k++) read_app(512);
    check();
    if (tse_stream_get_state(G.st) == TSE_STREAM_DOWN && !(tse_stream_want(G.st) & TSE_WANT_WRITE)) {
        CHECK(tse_stream_expiry(G.st) == TSE_TIME_NEVER || connected);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tse_stream_settings s;
    tse_stream_callbacks cb = { on_event, f_entropy };
    uint8_t mode;
    if (size < 1) return 0;
    memset(&G, 0, sizeof G);
    mode = data[0];
    tse_stream_settings_default(&s);
    s.host = "pcscf.test";
    G.plain = (mode & 32) != 0;
    if (G.plain) {
        s.plain_tcp = 1;
        G.hs_seen = 1; /* no handshake: every byte is the peer's data */
    } else {
        s.tls_insecure_lab_only_skip_verify = 1; /* no anchors in the identity layer */
    }
    s.send_buf = (mode & 4) ? 256 : 4096;
    s.recv_buf = (mode & 8) ? 256 : 4096;
    s.dead_peer_ms = (mode & 16) ? 3000 : 0;
    if (mode & 1) {
        s.proxy_host = "proxy.test";
        s.proxy_port = 3128;
        if (mode & 2) {
            s.proxy_user = "u";
            s.proxy_pass = "p";
        }
    }
    G.direct = !(mode & 1);
    CHECK(tse_stream_new(&G.st, &s, &cb, &MEM, NULL) == TSE_OK);
    CHECK(tse_stream_start(G.st, 1000) == TSE_OK);
    run(data, size);
    tse_stream_del(G.st);
    CHECK(G.live == 0);
    return 0;
}
