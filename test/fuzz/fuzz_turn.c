/* libFuzzer: the TURN client (lib/turn.c) fed by an adversarial server.
 *
 * Byte 0 picks the setup: bit 0 stream (else datagram), bit 1 TCP relay
 * (stream only), bit 2 "fix-up" (server messages get the transaction ID
 * of an outstanding request and a valid MESSAGE-INTEGRITY and FINGERPRINT,
 * so the fuzzer reaches the response handling behind the HMAC), bit 3
 * start already allocated with a permission and a channel (through a
 * scripted exchange).  Then records: op, 2-byte length, payload:
 *   op 0: feed the payload (stream: in pieces; datagram: one datagram)
 *   op 1: advance the clock by payload-derived ms and run the timers
 *   op 2: an API call chosen by the payload (send, permission, channel,
 *         connect, close, ConnectionBind request/response)
 *   op 3: drain the output
 * Checks after every step: the state is valid; an error is set exactly
 * when FAILED; everything the client wants sent parses (one STUN message
 * or ChannelData per datagram; a stream of back-to-back units); the
 * expiry is never in the past after the timers ran; the output queue
 * never exceeds its buffer.
 */
#include "stun.h"
#include "tse/turn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c) do { if (!(c)) { \
    fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #c); \
    abort(); } } while (0)

static unsigned g_ctr;
static int ent(void *user, uint8_t *buf, size_t len)
{
    size_t i;
    (void)user;
    g_ctr++;
    for (i = 0; i < len; i++)
        buf[i] = (uint8_t)(g_ctr * 13u + i);
    return 0;
}

static void on_event(void *user, const tse_turn_event *ev)
{
    (void)user;
    CHECK(ev->type >= TSE_TURN_EV_ALLOCATED && ev->type <= TSE_TURN_EV_CLOSED);
    if (ev->type == TSE_TURN_EV_FAILED)
        CHECK(ev->err < 0);
}

static void on_data(void *user, const tse_turn_addr *peer, const uint8_t *d, size_t len)
{
    volatile uint8_t sink = 0;
    size_t i;
    (void)user;
    CHECK(peer->family == 4 || peer->family == 6);
    for (i = 0; i < len; i++) /* ASan: every byte readable */
        sink ^= d[i];
    (void)sink;
}

static tse_turn C;
static uint8_t TX[4096], RX[1024];
static uint8_t KEY[16];
static tse_time_ms NOW;

/* One unit at the start of @p p (n bytes): its length, or 0 if invalid. */
static size_t unit_ok(const uint8_t *p, size_t n, int stream)
{
    if (n < 4)
        return 0;
    if ((p[0] & 0xC0) == 0x40) {
        size_t l = 4u + (size_t)((p[2] << 8) | p[3]);
        uint16_t ch = (uint16_t)((p[0] << 8) | p[1]);
        CHECK(ch >= TSE_TURN_CHANNEL_MIN && ch <= TSE_TURN_CHANNEL_MAX);
        if (stream)
            l = (l + 3u) & ~(size_t)3u;
        CHECK(l <= n);
        return l;
    } else {
        tse_stun_msg m;
        size_t l = 20u + (size_t)((p[2] << 8) | p[3]);
        CHECK(l <= n);
        CHECK(tse_stun_parse(p, l, &m) == TSE_OK);
        CHECK(m.cls == TSE_STUN_CLASS_REQUEST || m.cls == TSE_STUN_CLASS_INDICATION);
        return l;
    }
}

static void check_output(int stream)
{
    const uint8_t *p;
    size_t n = tse_turn_pending(&C, &p);
    CHECK(C.tx_tail <= C.tx_cap && C.tx_head <= C.tx_tail);
    if (n == 0)
        return;
    if (stream) {
        size_t off = 0;
        while (off < n) {
            size_t l = unit_ok(p + off, n - off, 1);
            CHECK(l > 0);
            off += l;
        }
    } else {
        CHECK(unit_ok(p, n, 0) == n);
    }
}

static void check_state(void)
{
    int st = tse_turn_get_state(&C);
    CHECK(st >= TSE_TURN_IDLE && st <= TSE_TURN_FAILED);
    CHECK((st == TSE_TURN_FAILED) == (tse_turn_error(&C) != 0));
}

/* Give a server message the transaction ID of an outstanding request
 * and a valid MESSAGE-INTEGRITY / FINGERPRINT where it has them. */
static size_t fix_up(uint8_t *m, size_t n, size_t cap, unsigned sel)
{
    size_t off = 20, i;
    if (n < 20 || (m[0] & 0xC0) != 0)
        return n;
    for (i = 0; i < TSE_TURN_MAX_TRANSACTIONS; i++) {
        const tse_turn_txn_ *t = &C.txn[(sel + i) % TSE_TURN_MAX_TRANSACTIONS];
        if (t->used) {
            memcpy(m + 8, t->txid, 12);
            break;
        }
    }
    m[4] = 0x21; m[5] = 0x12; m[6] = 0xA4; m[7] = 0x42;
    while (off + 4 <= n) {
        uint16_t at = (uint16_t)((m[off] << 8) | m[off + 1]);
        size_t al = (size_t)((m[off + 2] << 8) | m[off + 3]);
        size_t pad = (al + 3u) & ~(size_t)3u;
        if (at == TSE_STUN_ATTR_MESSAGE_INTEGRITY || at == TSE_STUN_ATTR_FINGERPRINT) {
            tse_stun_writer w;
            size_t out = 0;
            w.buf = m;
            w.cap = cap;
            w.len = off;
            w.err = 0;
            if (at == TSE_STUN_ATTR_MESSAGE_INTEGRITY)
                tse_stun_put_integrity(&w, KEY, sizeof KEY);
            tse_stun_put_fingerprint(&w);
            if (tse_stun_writer_finish(&w, &out) == TSE_OK)
                return out;
            return n;
        }
        if (off + 4 + pad > n)
            break;
        off += 4 + pad;
    }
    return n;
}

static void feed(const uint8_t *p, size_t n, int stream, unsigned cut)
{
    int rc;
    if (!stream) {
        rc = tse_turn_recv(&C, p, n, NOW);
        CHECK(rc <= 0);
        return;
    }
    while (n > 0) {
        size_t piece = cut ? 1u + (cut & 15u) : n;
        if (piece > n)
            piece = n;
        rc = tse_turn_recv(&C, p, piece, NOW);
        CHECK(rc <= 0);
        if (rc != TSE_OK && tse_turn_get_state(&C) == TSE_TURN_FAILED)
            return;
        p += piece;
        n -= piece;
        cut = (cut >> 1) | ((cut & 1u) << 7);
    }
}

/* Scripted: 401, success; permission and channel for 192.0.2.1:9. */
static void drive_allocated(int stream)
{
    static const uint8_t realm[] = "fuzz";
    tse_turn_addr peer;
    int round;
    memset(&peer, 0, sizeof peer);
    peer.family = 4;
    peer.port = 9;
    peer.addr[0] = 192; peer.addr[1] = 0; peer.addr[2] = 2; peer.addr[3] = 1;
    for (round = 0; round < 5; round++) {
        const uint8_t *p;
        size_t n = tse_turn_pending(&C, &p);
        tse_stun_msg m;
        tse_stun_writer w;
        uint8_t b[256];
        size_t bl;
        if (n == 0 || tse_stun_parse(p, n, &m) != TSE_OK)
            return;
        tse_stun_writer_init(&w, b, sizeof b,
                             tse_stun_type(m.method, round == 0 ? TSE_STUN_CLASS_ERROR
                                                                : TSE_STUN_CLASS_SUCCESS),
                             m.txid);
        if (round == 0) {
            static const uint8_t err401[4] = {0, 0, 4, 1};
            tse_stun_put_attr(&w, TSE_STUN_ATTR_ERROR_CODE, err401, 4);
            tse_stun_put_attr(&w, TSE_STUN_ATTR_REALM, realm, 4);
            tse_stun_put_attr(&w, TSE_STUN_ATTR_NONCE, "nonce", 5);
        } else if (m.method == TSE_STUN_METHOD_ALLOCATE) {
            tse_stun_addr a;
            memset(&a, 0, sizeof a);
            a.family = 4;
            a.port = 5000;
            a.addr[0] = 198; a.addr[1] = 51; a.addr[2] = 100; a.addr[3] = 1;
            tse_stun_put_xor_addr(&w, TSE_STUN_ATTR_XOR_RELAYED_ADDRESS, &a);
            tse_stun_put_u32(&w, TSE_STUN_ATTR_LIFETIME, 600);
        }
        if (round > 0)
            tse_stun_put_integrity(&w, KEY, sizeof KEY);
        tse_stun_put_fingerprint(&w);
        tse_turn_consume(&C, n);
        if (tse_stun_writer_finish(&w, &bl) != TSE_OK)
            return;
        (void)tse_turn_recv(&C, b, bl, NOW);
        if (round == 1) {
            (void)tse_turn_create_permission(&C, &peer, NOW);
        } else if (round == 2 && C.s.relay_protocol == TSE_TURN_RELAY_UDP) {
            (void)tse_turn_bind_channel(&C, &peer, NOW);
        }
        (void)stream;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tse_turn_settings s;
    int stream, fixup;
    size_t off = 1;
    uint8_t buf[2048];
    if (size < 1)
        return 0;
    stream = data[0] & 1;
    fixup = (data[0] >> 2) & 1;
    g_ctr = 0;
    NOW = 1000;
    tse_turn_settings_default(&s);
    s.transport = stream ? TSE_TURN_STREAM : TSE_TURN_DATAGRAM;
    s.relay_protocol = (stream && (data[0] & 2)) ? TSE_TURN_RELAY_TCP : TSE_TURN_RELAY_UDP;
    s.username = "user";
    s.password = "pass";
    s.entropy = ent;
    s.on_event = on_event;
    s.on_data = on_data;
    CHECK(tse_turn_init(&C, &s, TX, sizeof TX, RX, sizeof RX) == TSE_OK);
    (void)tse_stun_long_term_key((const uint8_t *)"user", 4, (const uint8_t *)"fuzz", 4,
                                 (const uint8_t *)"pass", 4, KEY);
    CHECK(tse_turn_allocate(&C, NOW) == TSE_OK);
    if (data[0] & 8)
        drive_allocated(stream);
    check_state();

    while (off + 3 <= size) {
        unsigned op = data[off];
        size_t len = (size_t)((data[off + 1] << 8) | data[off + 2]);
        const uint8_t *p = data + off + 3;
        off += 3;
        if (len > size - off)
            len = size - off;
        off += len;
        switch (op & 3u) {
        case 0:
            if (fixup && len <= sizeof buf - 64) {
                size_t n;
                memcpy(buf, p, len);
                n = fix_up(buf, len, sizeof buf, op >> 2);
                /* an exact-size copy: reads past it are ASan reports */
                {
                    uint8_t *copy = malloc(n ? n : 1);
                    CHECK(copy);
                    memcpy(copy, buf, n);
                    feed(copy, n, stream, op >> 2);
                    free(copy);
                }
            } else {
                feed(p, len, stream, op >> 2);
            }
            break;
        case 1: {
            tse_time_ms e;
            NOW += 1u + (len ? (tse_time_ms)p[0] * 997u + (len > 1 ? (tse_time_ms)p[1] * 60000u : 0)
                             : 0);
            (void)tse_turn_handle_expiry(&C, NOW);
            /* nothing is left overdue once the timers ran */
            e = tse_turn_expiry(&C);
            CHECK(e > NOW);
            break;
        }
        case 2: {
            tse_turn_addr peer;
            unsigned what = len ? p[0] : 0;
            memset(&peer, 0, sizeof peer);
            peer.family = (what & 0x80) ? 6 : 4;
            peer.port = (uint16_t)(len > 1 ? p[1] : 7);
            peer.addr[0] = 192; peer.addr[1] = 0; peer.addr[2] = 2;
            peer.addr[3] = (uint8_t)(what & 3u);
            switch ((what >> 2) & 7u) {
            case 0:
                (void)tse_turn_send(&C, &peer, p, len, NOW);
                break;
            case 1:
                (void)tse_turn_create_permission(&C, &peer, NOW);
                break;
            case 2:
                (void)tse_turn_bind_channel(&C, &peer, NOW);
                break;
            case 3:
                (void)tse_turn_connect(&C, &peer, NOW);
                break;
            case 4:
                (void)tse_turn_close(&C, NOW);
                break;
            case 5: {
                uint8_t req[512], txid[12];
                size_t n, used;
                if (tse_turn_connection_bind_request(&C, 1, req, sizeof req, &n, txid) ==
                    TSE_OK) {
                    tse_stun_msg m;
                    CHECK(tse_stun_parse(req, n, &m) == TSE_OK);
                    CHECK(tse_stun_check_integrity(&m, KEY, sizeof KEY) == TSE_OK);
                    if (tse_turn_connection_bind_response(&C, txid, p, len, &used) == TSE_OK)
                        CHECK(used >= 20 && used <= len);
                }
                break;
            }
            default:
                (void)tse_turn_allocate(&C, NOW);
                break;
            }
            break;
        }
        default:
            while (tse_turn_pending(&C, &p) > 0) {
                check_output(stream);
                /* a stream is drained whole (a partial write leaves the
                 * head mid-unit, which check_output cannot follow) */
                tse_turn_consume(&C, stream ? tse_turn_pending(&C, &p) : 0);
            }
            break;
        }
        check_state();
        check_output(stream);
    }
    return 0;
}
