/* The outbound scheduler on its own (lib/outq.c): classification, order
 * by class, records that end on unit boundaries, split units that keep
 * their class, the real-time deadline, the starvation guard, and a
 * randomised property run over ring wraps. */
#include <stdint.h>
#include <string.h>

#include "tse/outq.h"
#include "tse/cm.h"
#include "tt.h"

static uint8_t mem[65536];
static tse_outq Q;

static void setup(size_t rt, size_t bulk, const tse_sched_settings *pol)
{
    tse_settings s;
    tse_settings_default(&s);
    if (pol == NULL) {
        pol = &s.sched;
    }
    TT_ASSERT(tse_outq_footprint(512, rt, bulk) <= sizeof(mem));
    tse_outq_init(&Q, pol, mem, 512, rt, bulk);
}

/* IPv4 packet: proto, DSCP, total length; payload bytes = tag. */
static size_t ip4(uint8_t *p, size_t len, uint8_t proto, uint8_t dscp, uint8_t tag)
{
    memset(p, tag, len);
    p[0] = 0x45;
    p[1] = (uint8_t)(dscp << 2);
    p[2] = (uint8_t)(len >> 8);
    p[3] = (uint8_t)len;
    p[9] = proto;
    return len;
}

static size_t ip6(uint8_t *p, size_t len, uint8_t nh, uint8_t dscp, uint8_t tag)
{
    size_t pl = len - 40;
    memset(p, tag, len);
    p[0] = (uint8_t)(0x60 | (dscp >> 2));
    p[1] = (uint8_t)((dscp & 3) << 6);
    p[4] = (uint8_t)(pl >> 8);
    p[5] = (uint8_t)pl;
    p[6] = nh;
    return len;
}

/* A CM with @p tlvs padding TLVs of 3 bytes. */
static size_t cm(uint8_t *p, uint8_t type, unsigned tlvs)
{
    size_t n = TSE_CM_HEADER_LEN;
    memset(p, 0, 16);
    p[0] = 0x10;
    p[1] = type;
    p[3] = (uint8_t)tlvs;
    for (unsigned i = 0; i < tlvs; i++) {
        p[n] = 8;
        p[n + 1] = 3;
        memset(p + n + 2, 0xcc, 3);
        n += 5;
    }
    return n;
}

TT_TEST(classify_follows_the_policy)
{
    uint8_t p[1500];
    tse_settings s;
    setup(4096, 16384, NULL);
    TT_EQ_INT(tse_outq_classify(&Q, p, ip4(p, 200, 17, 0, 1)), TSE_CLASS_REALTIME);
    TT_EQ_INT(tse_outq_classify(&Q, p, ip4(p, 1400, 6, 0, 1)), TSE_CLASS_BULK);
    TT_EQ_INT(tse_outq_classify(&Q, p, ip4(p, 52, 6, 0, 1)), TSE_CLASS_REALTIME);
    TT_EQ_INT(tse_outq_classify(&Q, p, ip4(p, 81, 6, 0, 1)), TSE_CLASS_BULK);
    TT_EQ_INT(tse_outq_classify(&Q, p, ip4(p, 84, 1, 0, 1)), TSE_CLASS_REALTIME);
    TT_EQ_INT(tse_outq_classify(&Q, p, ip4(p, 1400, 6, 46, 1)), TSE_CLASS_REALTIME); /* EF */
    TT_EQ_INT(tse_outq_classify(&Q, p, ip4(p, 1400, 6, 24, 1)), TSE_CLASS_REALTIME); /* CS3 SIP */
    TT_EQ_INT(tse_outq_classify(&Q, p, ip4(p, 1400, 6, 10, 1)), TSE_CLASS_BULK);     /* AF11 */
    TT_EQ_INT(tse_outq_classify(&Q, p, ip6(p, 200, 17, 0, 1)), TSE_CLASS_REALTIME);
    TT_EQ_INT(tse_outq_classify(&Q, p, ip6(p, 1400, 6, 34, 1)), TSE_CLASS_REALTIME); /* AF41 */
    TT_EQ_INT(tse_outq_classify(&Q, p, ip6(p, 1400, 6, 0, 1)), TSE_CLASS_BULK);
    TT_EQ_INT(tse_outq_classify(&Q, p, ip6(p, 120, 58, 0, 1)), TSE_CLASS_REALTIME);
    tse_settings_default(&s);
    s.sched.rt_udp = 0;
    s.sched.rt_small_tcp = 0;
    s.sched.rt_dscp = 0;
    setup(4096, 16384, &s.sched);
    TT_EQ_INT(tse_outq_classify(&Q, p, ip4(p, 200, 17, 46, 1)), TSE_CLASS_BULK);
    TT_EQ_INT(tse_outq_classify(&Q, p, ip4(p, 52, 6, 0, 1)), TSE_CLASS_BULK);
    TT_EQ_INT(tse_outq_classify(&Q, p, ip4(p, 84, 1, 0, 1)), TSE_CLASS_REALTIME);
    tse_settings_default(&s);
    s.sched.fifo = 1;
    setup(4096, 16384, &s.sched);
    TT_EQ_INT(tse_outq_classify(&Q, p, ip4(p, 200, 17, 46, 1)), TSE_CLASS_BULK);
}

TT_TEST(acks_fill_at_most_half_of_realtime)
{
    /* A download's ACKs while the loop is busy: they take the real-time
     * class only up to half of it, then queue as bulk; voice still finds
     * room and goes first. */
    uint8_t p[1500];
    int rt = 0, i;
    setup(4096, 16384, NULL);
    for (i = 0; i < 200; i++) {
        size_t n = ip4(p, 52, 6, 0, 3);
        tse_class c = tse_outq_classify(&Q, p, n);
        if (c == TSE_CLASS_REALTIME)
            rt++;
        TT_EQ_INT(tse_outq_push(&Q, c, p, n, 0), TSE_OK);
    }
    TT_ASSERT(rt > 0);
    TT_ASSERT(tse_outq_queued(&Q, TSE_CLASS_REALTIME) * 2 <= 4096);
    TT_EQ_INT(tse_outq_queued(&Q, TSE_CLASS_BULK), (size_t)(200 - rt) * 52);
    TT_EQ_INT(Q.full_drops[TSE_CLASS_REALTIME], 0);
    /* 10 voice packets still fit, classed real-time */
    for (i = 0; i < 10; i++) {
        size_t n = ip4(p, 172, 17, 46, 4);
        TT_EQ_INT(tse_outq_classify(&Q, p, n), TSE_CLASS_REALTIME);
        TT_EQ_INT(tse_outq_push(&Q, TSE_CLASS_REALTIME, p, n, 0), TSE_OK);
    }
    /* ACKs and voice both ahead of the ACKs that went to bulk */
    {
        const uint8_t *c;
        tse_class cls;
        size_t n = tse_outq_peek(&Q, 0, 100000, 100000, &c, &cls);
        TT_EQ_INT(cls, TSE_CLASS_REALTIME);
        TT_ASSERT(n > 0);
    }
    /* with the real-time queue drained, ACKs are real-time again */
    tse_outq_clear(&Q);
    TT_EQ_INT(tse_outq_classify(&Q, p, ip4(p, 52, 6, 0, 3)), TSE_CLASS_REALTIME);
}

TT_TEST(control_then_realtime_then_bulk_in_whole_units)
{
    uint8_t p[1500];
    const uint8_t *c;
    tse_class cls;
    size_t n;
    setup(4096, 16384, NULL);
    for (int i = 0; i < 4; i++) {
        TT_EQ_INT(tse_outq_push(&Q, TSE_CLASS_BULK, p, ip4(p, 1400, 6, 0, (uint8_t)i), 0), TSE_OK);
    }
    TT_EQ_INT(tse_outq_push(&Q, TSE_CLASS_REALTIME, p, ip4(p, 172, 17, 46, 9), 0), TSE_OK);
    TT_EQ_INT(tse_outq_push(&Q, TSE_CLASS_REALTIME, p, ip4(p, 172, 17, 46, 10), 0), TSE_OK);
    TT_EQ_INT(tse_outq_push(&Q, TSE_CLASS_CONTROL, p, cm(p, 7, 2), 0), TSE_OK);
    /* control first, alone in its ring */
    n = tse_outq_peek(&Q, 0, 8000, 4096, &c, &cls);
    TT_EQ_INT(cls, TSE_CLASS_CONTROL);
    TT_EQ_INT(n, 26);
    tse_outq_commit(&Q, n);
    /* both voice packets in one chunk */
    n = tse_outq_peek(&Q, 0, 8000, 4096, &c, &cls);
    TT_EQ_INT(cls, TSE_CLASS_REALTIME);
    TT_EQ_INT(n, 344);
    TT_EQ_INT(c[20], 9);
    tse_outq_commit(&Q, n);
    /* no bulk while the caller says so */
    TT_EQ_INT(tse_outq_peek(&Q, 0, 8000, 0, &c, &cls), 0);
    /* bulk: whole packets up to the record limit */
    n = tse_outq_peek(&Q, 0, 8000, 4096, &c, &cls);
    TT_EQ_INT(cls, TSE_CLASS_BULK);
    TT_EQ_INT(n, 2800);
    tse_outq_commit(&Q, n);
    TT_EQ_INT(tse_outq_queued(&Q, TSE_CLASS_BULK), 2800);
    TT_EQ_INT(tse_outq_queued(&Q, TSE_CLASS_COUNT), 2800);
}

TT_TEST(split_unit_keeps_its_class)
{
    uint8_t p[1500];
    const uint8_t *c;
    tse_class cls;
    size_t n;
    setup(4096, 16384, NULL);
    TT_EQ_INT(tse_outq_push(&Q, TSE_CLASS_BULK, p, ip4(p, 1400, 6, 0, 1), 0), TSE_OK);
    /* a limit below one unit: the unit is split */
    n = tse_outq_peek(&Q, 0, 8000, 1000, &c, &cls);
    TT_EQ_INT(n, 1000);
    tse_outq_commit(&Q, n);
    /* a voice packet and a CM arrive: the rest of the bulk packet first */
    TT_EQ_INT(tse_outq_push(&Q, TSE_CLASS_REALTIME, p, ip4(p, 172, 17, 46, 9), 0), TSE_OK);
    TT_EQ_INT(tse_outq_push(&Q, TSE_CLASS_CONTROL, p, cm(p, 7, 0), 0), TSE_OK);
    TT_EQ_INT(tse_outq_peek(&Q, 0, 8000, 0, &c, &cls), 0); /* bulk not allowed: wait */
    n = tse_outq_peek(&Q, 0, 8000, 1000, &c, &cls);
    TT_EQ_INT(cls, TSE_CLASS_BULK);
    TT_EQ_INT(n, 400);
    tse_outq_commit(&Q, 300); /* TLS took less */
    n = tse_outq_peek(&Q, 0, 8000, 1000, &c, &cls);
    TT_EQ_INT(cls, TSE_CLASS_BULK);
    TT_EQ_INT(n, 100);
    tse_outq_commit(&Q, n);
    n = tse_outq_peek(&Q, 0, 8000, 1000, &c, &cls);
    TT_EQ_INT(cls, TSE_CLASS_CONTROL);
    tse_outq_commit(&Q, n);
    n = tse_outq_peek(&Q, 0, 8000, 1000, &c, &cls);
    TT_EQ_INT(cls, TSE_CLASS_REALTIME);
    TT_EQ_INT(n, 172);
}

TT_TEST(stale_realtime_is_dropped_and_counted)
{
    uint8_t p[1500];
    const uint8_t *c;
    tse_class cls;
    size_t n;
    setup(4096, 16384, NULL); /* deadline 150 ms */
    TT_EQ_INT(tse_outq_push(&Q, TSE_CLASS_REALTIME, p, ip4(p, 172, 17, 46, 1), 1000), TSE_OK);
    TT_EQ_INT(tse_outq_push(&Q, TSE_CLASS_REALTIME, p, ip4(p, 172, 17, 46, 2), 1100), TSE_OK);
    TT_EQ_INT(tse_outq_push(&Q, TSE_CLASS_REALTIME, p, ip4(p, 172, 17, 46, 3), 1200), TSE_OK);
    n = tse_outq_peek(&Q, 1260, 8000, 4096, &c, &cls); /* 260, 160, 60 ms old */
    TT_EQ_INT(Q.stale_drops, 2);
    TT_EQ_INT(n, 172);
    TT_EQ_INT(c[20], 3);
    tse_outq_commit(&Q, n);
    /* the clock wraps: ages are computed modulo 2^32 */
    TT_EQ_INT(tse_outq_push(&Q, TSE_CLASS_REALTIME, p, ip4(p, 172, 17, 46, 4), UINT32_MAX - 10), TSE_OK);
    n = tse_outq_peek(&Q, 50, 8000, 4096, &c, &cls);
    TT_EQ_INT(n, 172);
    TT_EQ_INT(Q.stale_drops, 2);
}

/* TS 24.322 envelopes (tse_outq_push_framed): each framed packet is one
 * unit of header + packet, measured by the envelope's Length, so records
 * still end on envelope boundaries and a stale one is dropped whole. */
TT_TEST(framed_units_stay_whole)
{
    uint8_t p[1500];
    uint8_t env[3] = { 1, 0, 0 };
    const uint8_t *c;
    tse_class cls;
    size_t n;
    setup(4096, 16384, NULL);
    env[1] = (uint8_t)((1403) >> 8);
    env[2] = (uint8_t)1403;
    for (int i = 0; i < 3; i++) {
        TT_EQ_INT(tse_outq_push_framed(&Q, TSE_CLASS_BULK, env, 3, p,
                                       ip4(p, 1400, 6, 0, (uint8_t)i), 0), TSE_OK);
    }
    TT_EQ_INT(tse_outq_queued(&Q, TSE_CLASS_BULK), 3 * 1403);
    /* a 3000-byte limit takes two whole envelopes, not 3000 bytes */
    n = tse_outq_peek(&Q, 0, 8000, 3000, &c, &cls);
    TT_EQ_INT(cls, TSE_CLASS_BULK);
    TT_EQ_INT(n, 2 * 1403);
    TT_EQ_MEM(c, env, 3);
    TT_EQ_INT(c[3], 0x45);
    TT_EQ_INT(c[1403], 1);
    TT_EQ_INT(c[1403 + 3 + 20], 1); /* the second packet's payload tag */
    tse_outq_commit(&Q, n);
    /* stale real-time envelopes are dropped whole: the fresh one is next */
    env[1] = 0;
    env[2] = 175;
    TT_EQ_INT(tse_outq_push_framed(&Q, TSE_CLASS_REALTIME, env, 3, p, ip4(p, 172, 17, 46, 7), 1000),
              TSE_OK);
    TT_EQ_INT(tse_outq_push_framed(&Q, TSE_CLASS_REALTIME, env, 3, p, ip4(p, 172, 17, 46, 8), 1200),
              TSE_OK);
    n = tse_outq_peek(&Q, 1260, 8000, 4096, &c, &cls);
    TT_EQ_INT(cls, TSE_CLASS_REALTIME);
    TT_EQ_INT(Q.stale_drops, 1);
    TT_EQ_INT(n, 175);
    TT_EQ_INT(c[0], 1);
    TT_EQ_INT(c[3 + 20], 8);
    tse_outq_commit(&Q, n);
    /* no room for header + packet: refused and counted, nothing taken */
    setup(4096, 1500, NULL);
    TT_EQ_INT(tse_outq_push_framed(&Q, TSE_CLASS_BULK, env, 3, p, ip4(p, 1498, 6, 0, 1), 0),
              TSE_ERR_QUEUE_FULL);
    TT_EQ_INT(tse_outq_queued(&Q, TSE_CLASS_BULK), 0);
    TT_EQ_INT(tse_outq_push_framed(&Q, TSE_CLASS_BULK, NULL, 0, p, ip4(p, 1498, 6, 0, 1), 0),
              TSE_OK);
}

TT_TEST(full_classes_refuse_and_count)
{
    uint8_t p[1500];
    int ok = 0;
    setup(1024, 4096, NULL);
    for (int i = 0; i < 10; i++) {
        if (tse_outq_push(&Q, TSE_CLASS_BULK, p, ip4(p, 1000, 6, 0, 1), 0) == TSE_OK) ok++;
    }
    TT_EQ_INT(ok, 4);
    TT_EQ_INT(Q.full_drops[TSE_CLASS_BULK], 6);
    /* real-time has its own room */
    TT_EQ_INT(tse_outq_push(&Q, TSE_CLASS_REALTIME, p, ip4(p, 500, 17, 0, 1), 0), TSE_OK);
    TT_EQ_INT(tse_outq_push(&Q, TSE_CLASS_REALTIME, p, ip4(p, 500, 17, 0, 1), 0), TSE_OK);
    TT_EQ_INT(tse_outq_push(&Q, TSE_CLASS_REALTIME, p, ip4(p, 500, 17, 0, 1), 0), TSE_ERR_QUEUE_FULL);
    TT_EQ_INT(Q.full_drops[TSE_CLASS_REALTIME], 1);
    /* a real-time packet bigger than its whole ring goes as bulk */
    setup(1024, 4096, NULL);
    TT_EQ_INT(tse_outq_push(&Q, TSE_CLASS_REALTIME, p, ip4(p, 1400, 17, 0, 1), 0), TSE_OK);
    TT_EQ_INT(tse_outq_queued(&Q, TSE_CLASS_BULK), 1400);
    /* the enqueue-time slots bound the number of real-time packets */
    setup(1024, 4096, NULL);
    ok = 0;
    for (int i = 0; i < 60; i++) {
        if (tse_outq_push(&Q, TSE_CLASS_REALTIME, p, ip4(p, 20, 17, 0, 1), 0) == TSE_OK) ok++;
    }
    TT_EQ_INT(ok, 1024 / 28);
    tse_outq_clear(&Q);
    TT_EQ_INT(tse_outq_queued(&Q, TSE_CLASS_COUNT), 0);
    TT_EQ_INT(tse_outq_space(&Q, TSE_CLASS_REALTIME), 1024);
}

TT_TEST(realtime_flood_does_not_starve_bulk)
{
    uint8_t p[1500];
    const uint8_t *c;
    tse_class cls;
    size_t n, rt_bytes = 0;
    int bulk_seen = 0;
    setup(4096, 16384, NULL);
    TT_EQ_INT(tse_outq_push(&Q, TSE_CLASS_BULK, p, ip4(p, 1400, 6, 0, 1), 0), TSE_OK);
    for (int i = 0; i < 400 && !bulk_seen; i++) {
        while (tse_outq_push(&Q, TSE_CLASS_REALTIME, p, ip4(p, 172, 17, 0, 2), 0) == TSE_OK) {
        }
        n = tse_outq_peek(&Q, 0, 1000, 1000, &c, &cls);
        if (cls == TSE_CLASS_BULK) bulk_seen = 1;
        else rt_bytes += n;
        tse_outq_commit(&Q, n);
    }
    TT_ASSERT(bulk_seen);
    TT_ASSERT(rt_bytes >= 8 * 1000);
    TT_ASSERT(rt_bytes <= 8 * 1000 + 1000);
}

TT_TEST(pinned_peek_repeats_even_if_control_arrives)
{
    uint8_t p[1500];
    const uint8_t *c, *c2;
    tse_class cls, cls2;
    size_t n, n2;
    setup(4096, 16384, NULL);
    TT_EQ_INT(tse_outq_push(&Q, TSE_CLASS_BULK, p, ip4(p, 1400, 6, 0, 1), 0), TSE_OK);
    n = tse_outq_peek(&Q, 0, 8000, 4096, &c, &cls);
    tse_outq_pin(&Q);
    TT_EQ_INT(tse_outq_push(&Q, TSE_CLASS_CONTROL, p, cm(p, 7, 0), 0), TSE_OK);
    n2 = tse_outq_peek(&Q, 0, 0, 0, &c2, &cls2);
    TT_EQ_INT(n2, n);
    TT_ASSERT(c2 == c);
    TT_EQ_INT(cls2, TSE_CLASS_BULK);
    tse_outq_commit(&Q, n2);
    n = tse_outq_peek(&Q, 0, 8000, 4096, &c, &cls);
    TT_EQ_INT(cls, TSE_CLASS_CONTROL);
}

/* ---- property run: random units, random chunk sizes, ring wraps ------- */

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(uint32_t n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng % n);
}

/* expected per-class sequence tags, and the parser of the output stream */
static uint16_t want[TSE_CLASS_COUNT][4096];
static size_t want_head[TSE_CLASS_COUNT], want_len[TSE_CLASS_COUNT];
static uint8_t unit_buf[2048];
static size_t unit_have, unit_need;
static int out_cls = -1;
static int prop_ok = 1;

static size_t len_of(const uint8_t *u)
{
    if ((u[0] >> 4) == 4) return ((size_t)u[2] << 8) | u[3];
    if ((u[0] >> 4) == 6) return 40u + (((size_t)u[4] << 8) | u[5]);
    return 0;
}

static void emit_bytes(tse_class cls, const uint8_t *c, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (unit_have == 0) {
            out_cls = (int)cls;
        } else if (out_cls != (int)cls) {
            prop_ok = 0; /* a class switch inside a unit */
        }
        unit_buf[unit_have++] = c[i];
        if (unit_have == 6) {
            unit_need = (unit_buf[0] >> 4) == 1 ? TSE_CM_HEADER_LEN : len_of(unit_buf);
        }
        if (unit_have >= 6 && unit_have == unit_need) {
            uint16_t tag = (uint16_t)((unit_buf[unit_have - 2] << 8) | unit_buf[unit_have - 1]);
            if (want_len[out_cls] == 0 || want[out_cls][want_head[out_cls] % 4096] != tag) {
                prop_ok = 0;
            } else {
                want_head[out_cls]++;
                want_len[out_cls]--;
            }
            unit_have = 0;
        }
    }
}

TT_TEST(random_traffic_keeps_units_whole_and_in_order)
{
    uint8_t p[1500];
    uint16_t tag = 0;
    tse_settings s;
    tse_settings_default(&s);
    s.sched.rt_deadline_ms = 0;
    setup(3000, 7000, &s.sched); /* odd sizes: wraps everywhere */
    for (int round = 0; round < 20000 && prop_ok; round++) {
        if (rnd(5) < 2) {
            tse_class cls = (tse_class)rnd(3);
            size_t len;
            tag++;
            if (cls == TSE_CLASS_CONTROL) {
                len = TSE_CM_HEADER_LEN;
                memset(p, 0, len);
                p[0] = 0x10;
                p[1] = 7;
            } else if (rnd(2)) {
                len = ip4(p, 20 + rnd(1400), 17, 0, 0);
            } else {
                len = ip6(p, 40 + rnd(1400), 6, 0, 0);
            }
            p[len - 2] = (uint8_t)(tag >> 8);
            p[len - 1] = (uint8_t)tag;
            if (tse_outq_push(&Q, cls, p, len, 0) == TSE_OK) {
                if (cls == TSE_CLASS_REALTIME && len > 3000) cls = TSE_CLASS_BULK;
                want[cls][(want_head[cls] + want_len[cls]) % 4096] = tag;
                want_len[cls]++;
            }
        } else {
            const uint8_t *c;
            tse_class cls;
            size_t n = tse_outq_peek(&Q, 0, 1 + rnd(3000), rnd(2) ? 1 + rnd(3000) : 0, &c, &cls);
            if (n > 0) {
                size_t take = rnd(4) == 0 ? 1 + rnd((uint32_t)n) : n;
                if (rnd(8) == 0) {
                    tse_outq_pin(&Q);
                    continue;
                }
                emit_bytes(cls, c, take);
                tse_outq_commit(&Q, take);
            }
        }
    }
    /* drain */
    for (int i = 0; i < 100000; i++) {
        const uint8_t *c;
        tse_class cls;
        size_t n = tse_outq_peek(&Q, 0, 3000, 3000, &c, &cls);
        if (n == 0) break;
        emit_bytes(cls, c, n);
        tse_outq_commit(&Q, n);
    }
    TT_ASSERT(prop_ok);
    TT_EQ_INT(tse_outq_queued(&Q, TSE_CLASS_COUNT), 0);
    TT_EQ_INT(unit_have, 0);
    TT_EQ_INT(want_len[0] + want_len[1] + want_len[2], 0);
    fprintf(stderr, "property run: units %llu %llu %llu, full %llu %llu %llu\n", (unsigned long long)Q.units[0], (unsigned long long)Q.units[1], (unsigned long long)Q.units[2], (unsigned long long)Q.full_drops[0], (unsigned long long)Q.full_drops[1], (unsigned long long)Q.full_drops[2]);
    TT_ASSERT(Q.units[0] > 500 && Q.units[1] > 500 && Q.units[2] > 500);
}

int main(void)
{
    TT_RUN(classify_follows_the_policy);
    TT_RUN(acks_fill_at_most_half_of_realtime);
    TT_RUN(control_then_realtime_then_bulk_in_whole_units);
    TT_RUN(split_unit_keeps_its_class);
    TT_RUN(stale_realtime_is_dropped_and_counted);
    TT_RUN(framed_units_stay_whole);
    TT_RUN(full_classes_refuse_and_count);
    TT_RUN(realtime_flood_does_not_starve_bulk);
    TT_RUN(pinned_peek_repeats_even_if_control_arrives);
    TT_RUN(random_traffic_keeps_units_whole_and_in_order);
    return TT_DONE();
}
