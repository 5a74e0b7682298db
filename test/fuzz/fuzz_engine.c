/* libFuzzer: the whole engine (issue 11).
 *
 * Built against lib/ compiled with -DTSE_TLS_IDENTITY (lib/tls_identity.c:
 * no cryptography), so the fuzzer's bytes are the server's side of the
 * stream at every state: the proxy's reply, the handshake, then control
 * messages and inner packets after configuration.  The virtual clock,
 * connection failures, cuts and the application's calls are fuzzed too.
 *
 * Input: byte 0 chooses the settings (proxy with credentials, keep-alive,
 * IPv6, auto-reconnect, FIFO scheduling, small queues; proxy credentials
 * without a proxy, which would mean nothing, select the TS 24.322 FTT
 * profile instead: the bytes are then envelopes, and the first packet
 * assigns the address); then operations, one byte each plus their arguments (see
 * run()).
 *
 * Properties, checked after every operation:
 *  - memory: one allocation in tse_tunnel_new(), none after it, none left
 *    after tse_tunnel_del() (ASan sees any read past what was fed);
 *  - events in order: every TSE_EV_STATE starts from the state the last one
 *    ended in, nothing leaves CLOSED, TUNNEL_UP only in UP with a usable
 *    configuration, ADDR_CHANGED only after an UP;
 *  - tse_tunnel_outer_pending() is a query: twice the same answer, no
 *    event, no allocation;
 *  - inbound packets handed to the application are whole IPv4/IPv6 packets.
 */
#include "tse/detect.h"
#include "tse/tse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c) do { if (!(c)) { \
    fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #c); \
    abort(); } } while (0)

static struct {
    long live, allocs, allocs_at_new;
    tse_state state;
    int ever_up;
    unsigned events;
    tse_tunnel *t;
} G;

static void *f_calloc(void *u, size_t n, size_t sz)
{
    (void)u;
    G.allocs++;
    G.live++;
    return calloc(n, sz);
}

static void f_free(void *u, void *p)
{
    (void)u;
    if (p != NULL) G.live--;
    free(p);
}

static int f_entropy(void *u, uint8_t *b, size_t n)
{
    (void)u;
    for (size_t i = 0; i < n; i++) b[i] = (uint8_t)(i * 37u + 11u);
    return 0;
}

static int trace; /* FUZZ_ENGINE_TRACE=1: print the events (to check seeds) */

static void on_event(void *u, const tse_event *ev)
{
    (void)u;
    G.events++;
    if (trace) {
        fprintf(stderr, "event %d state %s error %d %s\n", (int)ev->type,
                tse_state_name(ev->state), ev->error, ev->detail ? ev->detail : "");
    }
    switch (ev->type) {
    case TSE_EV_STATE:
        CHECK(ev->old_state == G.state);
        CHECK(ev->state != ev->old_state);
        CHECK(G.state != TSE_STATE_CLOSED);
        G.state = ev->state;
        break;
    case TSE_EV_TUNNEL_UP:
        CHECK(ev->state == TSE_STATE_UP && G.state == TSE_STATE_UP);
        CHECK(ev->config != NULL);
        CHECK((ev->config->ipv4[0] | ev->config->ipv4[1] | ev->config->ipv4[2] |
               ev->config->ipv4[3]) != 0);
        G.ever_up = 1;
        break;
    case TSE_EV_ADDR_CHANGED:
        CHECK(G.ever_up && ev->config != NULL);
        break;
    case TSE_EV_TUNNEL_DOWN:
    case TSE_EV_RECONNECT:
        CHECK(ev->error < 0);
        break;
    default:
        break;
    }
}

static void on_packet(void *u, const uint8_t *p, size_t len)
{
    (void)u;
    CHECK(len >= 20);
    if ((p[0] >> 4) == 4) {
        CHECK((((size_t)p[2] << 8) | p[3]) == len);
    } else {
        CHECK((p[0] >> 4) == 6);
        CHECK((((size_t)p[4] << 8) | p[5]) + 40 == len);
    }
}

static const uint8_t *in;
static size_t in_left;

static unsigned next(void)
{
    if (in_left == 0) return 0;
    in_left--;
    return *in++;
}

static int fail_next_connect;

/* Answer what the engine wants, as a port would (bounded). */
static void service(tse_time_ms now)
{
    for (int i = 0; i < 16; i++) {
        unsigned w = tse_tunnel_want(G.t);
        if (w & TSE_WANT_DISCONNECT) {
            CHECK(tse_tunnel_transport_closed(G.t, 0, now) == TSE_OK);
            continue;
        }
        if (w & TSE_WANT_CONNECT) {
            const char *h = NULL;
            uint16_t port = 0;
            CHECK(tse_tunnel_connect_target(G.t, &h, &port) == TSE_OK);
            CHECK(h != NULL && port != 0);
            if (fail_next_connect) {
                fail_next_connect = 0;
                (void)tse_tunnel_transport_closed(G.t, TSE_ERR_TRANSPORT_REFUSED, now);
            } else {
                (void)tse_tunnel_transport_connected(G.t, now);
            }
            continue;
        }
        break;
    }
}

static void check_query(void)
{
    const uint8_t *p1 = NULL, *p2 = NULL;
    unsigned ev = G.events;
    long allocs = G.allocs;
    size_t n1 = tse_tunnel_outer_pending(G.t, &p1);
    size_t n2 = tse_tunnel_outer_pending(G.t, &p2);
    CHECK(n1 == n2 && p1 == p2);
    CHECK(G.events == ev && G.allocs == allocs);
    if (n1 > 0) {
        volatile uint8_t x = p1[0];
        x = p1[n1 - 1]; /* ASan: the pending bytes are readable */
        (void)x;
    }
}

static size_t make_packet(uint8_t *pkt, size_t cap, unsigned a, unsigned b)
{
    size_t len = 20 + (size_t)a * 6;
    if (len > cap) len = cap;
    memset(pkt, (int)b, len);
    if (b & 1) {
        if (len < 40) len = 40;
        pkt[0] = 0x60;
        pkt[4] = (uint8_t)((len - 40) >> 8);
        pkt[5] = (uint8_t)(len - 40);
        pkt[6] = (uint8_t)(b & 0x80 ? 6 : 17);
    } else {
        pkt[0] = 0x45;
        pkt[2] = (uint8_t)(len >> 8);
        pkt[3] = (uint8_t)len;
        pkt[9] = (uint8_t)(b & 0x80 ? 6 : 17);
    }
    return len;
}

static void run(void)
{
    tse_time_ms now = 1000;
    uint8_t pkt[1600];
    for (int ops = 0; ops < 4096 && in_left > 0; ops++) {
        unsigned op = next() % 15;
        switch (op) {
        case 0: { /* the server sends bytes */
            size_t n = next();
            if (n > in_left) n = in_left;
            (void)tse_tunnel_recv_outer(G.t, in, n, now);
            in += n;
            in_left -= n;
            break;
        }
        case 1: { /* time passes */
            unsigned ms = (next() << 8 | next()) * 8u;
            now += ms;
            for (int k = 0; k < 8 && tse_tunnel_expiry(G.t) <= now; k++) {
                (void)tse_tunnel_handle_expiry(G.t, now);
                service(now);
            }
            break;
        }
        case 2: { /* the application sends a packet */
            unsigned a = next(), b = next();
            size_t len = make_packet(pkt, sizeof(pkt), a, b);
            int rc = tse_tunnel_send_packet(G.t, pkt, len, now);
            CHECK(rc == TSE_OK || rc == TSE_ERR_NOT_UP || rc == TSE_ERR_QUEUE_FULL ||
                  rc == TSE_ERR_PACKET_INVALID);
            break;
        }
        case 3:   /* the port sends everything */
        case 4: { /* ... or part of it */
            const uint8_t *p = NULL;
            size_t n = tse_tunnel_outer_pending(G.t, &p);
            if (op == 4) {
                size_t k = next();
                n = n < k ? n : k;
            }
            tse_tunnel_outer_consume(G.t, n);
            break;
        }
        case 5:
            (void)tse_tunnel_transport_closed(G.t, TSE_ERR_TRANSPORT_RESET, now);
            break;
        case 6:
            CHECK(tse_tunnel_close(G.t, now) == TSE_OK);
            break;
        case 7:
            (void)tse_tunnel_reconnect(G.t, now);
            break;
        case 8:
            (void)tse_tunnel_pause(G.t, now);
            break;
        case 9:
            (void)tse_tunnel_resume(G.t, now);
            break;
        case 10:
            fail_next_connect = 1;
            break;
        case 11:
            (void)tse_tunnel_handle_expiry(G.t, now);
            break;
        case 13: { /* the network changed (one of a few, or unknown) */
            uint8_t id[2];
            unsigned a = next();
            id[0] = (uint8_t)(a & 3);
            id[1] = (uint8_t)(a >> 2);
            (void)tse_tunnel_network_changed(G.t, id, (size_t)(a & 3) % 3, now);
            break;
        }
        case 14: { /* another outer path: ports and proxy */
            tse_outer_path p;
            unsigned a = next();
            memset(&p, 0, sizeof(p));
            p.server_port = (a & 1) ? 80 : 443;
            p.server_port_2 = (a & 2) ? (uint16_t)((a & 1) ? 443 : 80) : 0;
            if (a & 4) {
                p.proxy_host = "proxy2.test";
                p.proxy_port = 8080;
                if (a & 8) {
                    p.proxy_user = "u";
                    p.proxy_pass = "p";
                }
            }
            (void)tse_tunnel_set_outer_path(G.t, &p);
            break;
        }
        default: { /* a packet of an explicit class */
            unsigned a = next(), b = next();
            size_t len = make_packet(pkt, sizeof(pkt), a, b);
            (void)tse_tunnel_send_packet_class(G.t, pkt, len,
                                               (b & 2) ? TSE_CLASS_REALTIME : TSE_CLASS_BULK, now);
            break;
        }
        }
        service(now);
        check_query();
        CHECK(G.allocs == G.allocs_at_new); /* nothing allocated after new */
        CHECK(tse_tunnel_state(G.t) == G.state);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tse_settings s;
    tse_callbacks cb;
    tse_mem mem = { NULL, f_calloc, f_free };
    unsigned flags;
    if (size < 1) return 0;
    trace = getenv("FUZZ_ENGINE_TRACE") != NULL;
    memset(&G, 0, sizeof(G));
    fail_next_connect = 0;
    in = data;
    in_left = size;
    flags = next();
    tse_settings_default(&s);
    s.server_host = "tscf.test";
    s.tls_insecure_lab_only_skip_verify = 1; /* no anchors in the identity build */
    if (flags & 1) {
        s.proxy_host = "proxy.test";
        s.proxy_port = 3128;
        if (flags & 2) {
            s.proxy_user = "user";
            s.proxy_pass = "secret";
        }
    }
    if (flags & 4) s.request_keepalive_s = (uint16_t)(1 + (flags >> 6));
    s.request_ipv6 = (flags & 8) != 0;
    if ((flags & 3) == 2) {
        s.framing = TSE_FRAMING_FTT;
    }
    s.auto_reconnect = (flags & 16) != 0;
    s.sched.fifo = (flags & 32) != 0;
    if (flags & 128) {
        static tse_detect_cache_entry slots[2];
        static tse_detect_cache cache;
        memset(slots, 0, sizeof(slots));
        (void)tse_detect_cache_init(&cache, slots, 2);
        s.server_port_2 = 80;
        s.path_cache = &cache;
    }
    if (flags & 64) {
        s.outq_size = s.max_unit + tse_frame_overhead(s.framing); /* the least allowed */
        s.sched.rt_queue_size = 512;
        s.sched.record_max = 256;
    }
    memset(&cb, 0, sizeof(cb));
    cb.on_event = on_event;
    cb.on_packet = on_packet;
    cb.entropy = f_entropy;
    CHECK(tse_tunnel_new(&G.t, &s, &cb, &mem, NULL) == TSE_OK);
    G.allocs_at_new = G.allocs;
    CHECK(G.allocs == 1);
    G.state = TSE_STATE_IDLE;
    CHECK(tse_tunnel_start(G.t, 1000) == TSE_OK);
    service(1000);
    run();
    (void)tse_tunnel_close(G.t, 1u << 30);
    service(1u << 30);
    tse_tunnel_del(G.t);
    CHECK(G.live == 0);
    return 0;
}
