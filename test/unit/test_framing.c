/* Stream deframer and unit framing: every error, exact-cap boundaries,
 * streams of mixed units cut every way (whole, byte by byte, random cuts
 * from a fixed PRNG seed), the zero-copy path, and the FTT envelope. */
#include <limits.h>
#include <stdint.h>

#include "tse/cm.h"
#include "tse/error.h"
#include "tse/framing.h"
#include "tt.h"

#include <stdlib.h>

static uint32_t rng_state;
static uint32_t rnd(void)
{
    /* xorshift32: deterministic across platforms */
    uint32_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    rng_state = x;
    return x;
}

static size_t mk_ipv4(uint8_t *p, size_t total, unsigned ihl_words)
{
    size_t i;
    p[0] = (uint8_t)(0x40 | ihl_words);
    p[1] = 0;
    p[2] = (uint8_t)(total >> 8);
    p[3] = (uint8_t)total;
    for (i = 4; i < total; i++)
        p[i] = (uint8_t)(i * 7 + total);
    return total;
}

static size_t mk_ipv6(uint8_t *p, size_t payload)
{
    size_t i, total = 40 + payload;
    p[0] = 0x60;
    p[1] = 0;
    p[2] = 0;
    p[3] = 0;
    p[4] = (uint8_t)(payload >> 8);
    p[5] = (uint8_t)payload;
    for (i = 6; i < total; i++)
        p[i] = (uint8_t)(i * 13 + payload);
    return total;
}

/* A CM with @p ntlv TLVs of @p tlvlen bytes each (contents irrelevant to
 * the deframer). */
static size_t mk_cm(uint8_t *p, unsigned ntlv, unsigned tlvlen)
{
    size_t n = 16;
    unsigned i;
    memset(p, 0, 16);
    p[0] = 0x10;
    p[1] = 7;
    p[2] = (uint8_t)(ntlv >> 8);
    p[3] = (uint8_t)ntlv;
    for (i = 0; i < ntlv; i++) {
        p[n++] = 8;
        p[n++] = (uint8_t)tlvlen;
        memset(p + n, (int)i, tlvlen);
        n += tlvlen;
    }
    return n;
}

/* Feed all of in[0..len) in one go; expect exactly one unit, zero copy. */
static void one_unit_whole(int profile, size_t cap, const uint8_t *in, size_t len,
                           int kind, size_t off, size_t ulen)
{
    uint8_t *buf = malloc(cap);
    uint8_t *copy = malloc(len);
    tse_deframer d;
    tse_unit u;
    size_t c;
    TT_ASSERT(buf != NULL && copy != NULL);
    memcpy(copy, in, len);
    TT_EQ_INT(tse_deframer_init(&d, profile, buf, cap), TSE_OK);
    TT_EQ_INT(tse_deframer_feed(&d, copy, len, &c, &u), 1);
    TT_EQ_INT(c, len);
    TT_EQ_INT(u.kind, kind);
    TT_EQ_INT(u.len, ulen);
    TT_ASSERT(u.data == copy + off); /* zero copy */
    TT_EQ_INT(tse_deframer_pending(&d), 0);
    TT_EQ_INT(tse_deframer_feed(&d, copy + len, 0, &c, &u), 0);
    free(buf);
    free(copy);
}

/* Feed one byte at a time (each in its own exact-size allocation, so ASan
 * sees any read past len); expect the same unit, from the buffer. */
static void one_unit_bytewise(int profile, size_t cap, const uint8_t *in, size_t len,
                              int kind, size_t off, size_t ulen)
{
    uint8_t *buf = malloc(cap + 8);
    tse_deframer d;
    tse_unit u;
    size_t i, c;
    TT_ASSERT(buf != NULL);
    memset(buf + cap, 0xcc, 8);
    TT_EQ_INT(tse_deframer_init(&d, profile, buf, cap), TSE_OK);
    for (i = 0; i < len; i++) {
        uint8_t *b = malloc(1);
        int r;
        *b = in[i];
        r = tse_deframer_feed(&d, b, 1, &c, &u);
        free(b);
        TT_EQ_INT(c, 1);
        if (i + 1 < len) {
            TT_EQ_INT(r, 0);
            TT_EQ_INT(tse_deframer_pending(&d), i + 1);
        } else {
            TT_EQ_INT(r, 1);
        }
    }
    TT_EQ_INT(u.kind, kind);
    TT_EQ_INT(u.len, ulen);
    TT_ASSERT(u.data == buf + off);
    TT_EQ_MEM(u.data, in + off, ulen);
    TT_EQ_INT(tse_deframer_pending(&d), 0);
    for (i = 0; i < 8; i++)
        TT_EQ_INT(buf[cap + i], 0xcc); /* never wrote past cap */
    free(buf);
}

/* Expect @p err for in[0..len), whole and byte by byte, and that the error
 * is sticky and cleared by reset. */
static void expect_error(int profile, size_t cap, const uint8_t *in, size_t len, int err)
{
    uint8_t *buf = malloc(cap);
    tse_deframer d;
    tse_unit u;
    size_t i, c;
    int r = 0;
    TT_ASSERT(buf != NULL);
    TT_EQ_INT(tse_deframer_init(&d, profile, buf, cap), TSE_OK);
    TT_EQ_INT(tse_deframer_feed(&d, in, len, &c, &u), err);
    TT_EQ_INT(tse_deframer_feed(&d, in, len, &c, &u), err); /* sticky */
    TT_EQ_INT(c, 0);
    TT_EQ_INT(tse_deframer_pending(&d), 0);
    tse_deframer_reset(&d);
    for (i = 0; i < len && r == 0; i++)
        r = tse_deframer_feed(&d, in + i, 1, &c, &u);
    TT_EQ_INT(r, err);
    TT_EQ_INT(tse_deframer_pending(&d), 0);
    r = tse_deframer_feed(&d, in, 0, &c, &u);
    TT_EQ_INT(r, err);
    tse_deframer_reset(&d);
    TT_EQ_INT(tse_deframer_feed(&d, in, 0, &c, &u), 0);
    free(buf);
}

TT_TEST(init_and_args)
{
    uint8_t buf[64], in[1] = {0x45};
    tse_deframer d;
    tse_unit u;
    size_t c = 7;
    TT_EQ_INT(tse_deframer_init(NULL, TSE_FRAMING_TSCF, buf, 64), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_deframer_init(&d, TSE_FRAMING_TSCF, NULL, 64), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_deframer_init(&d, TSE_FRAMING_TSCF, buf, 39), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_deframer_init(&d, -1, buf, 64), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_deframer_init(&d, 2, buf, 64), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_deframer_init(&d, TSE_FRAMING_FTT, buf, 40), TSE_OK);
    TT_EQ_INT(tse_deframer_init(&d, TSE_FRAMING_TSCF, buf, 40), TSE_OK);
    TT_EQ_INT(tse_deframer_feed(&d, NULL, 1, &c, &u), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(c, 0);
    TT_EQ_INT(tse_deframer_feed(&d, in, 1, NULL, &u), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_deframer_feed(&d, in, 1, &c, NULL), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_deframer_feed(NULL, in, 1, &c, &u), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_deframer_feed(&d, NULL, 0, &c, &u), 0);
    /* INVALID_ARG is not sticky */
    TT_EQ_INT(tse_deframer_feed(&d, in, 1, &c, &u), 0);
    TT_EQ_INT(c, 1);
    TT_EQ_INT(tse_deframer_pending(&d), 1);
    TT_EQ_INT(tse_deframer_pending(NULL), 0);
    tse_deframer_reset(&d);
    TT_EQ_INT(tse_deframer_pending(&d), 0);
    tse_deframer_reset(NULL);
}

TT_TEST(single_units)
{
    uint8_t p[2000];
    size_t n;
    n = mk_cm(p, 0, 0);
    one_unit_whole(TSE_FRAMING_TSCF, 1500, p, n, TSE_UNIT_CM, 0, 16);
    one_unit_bytewise(TSE_FRAMING_TSCF, 1500, p, n, TSE_UNIT_CM, 0, 16);
    n = mk_cm(p, 5, 9);
    one_unit_whole(TSE_FRAMING_TSCF, 1500, p, n, TSE_UNIT_CM, 0, 16 + 5 * 11);
    one_unit_bytewise(TSE_FRAMING_TSCF, 1500, p, n, TSE_UNIT_CM, 0, 16 + 5 * 11);
    n = mk_cm(p, 3, 0); /* empty TLVs */
    one_unit_bytewise(TSE_FRAMING_TSCF, 1500, p, n, TSE_UNIT_CM, 0, 22);
    n = mk_ipv4(p, 20, 5);
    one_unit_whole(TSE_FRAMING_TSCF, 1500, p, n, TSE_UNIT_IPV4, 0, 20);
    one_unit_bytewise(TSE_FRAMING_TSCF, 1500, p, n, TSE_UNIT_IPV4, 0, 20);
    n = mk_ipv4(p, 60, 15); /* IHL 15 = 60-byte header, no payload */
    one_unit_bytewise(TSE_FRAMING_TSCF, 1500, p, n, TSE_UNIT_IPV4, 0, 60);
    n = mk_ipv4(p, 1500, 6);
    one_unit_whole(TSE_FRAMING_TSCF, 1500, p, n, TSE_UNIT_IPV4, 0, 1500);
    n = mk_ipv6(p, 0);
    one_unit_whole(TSE_FRAMING_TSCF, 1500, p, n, TSE_UNIT_IPV6, 0, 40);
    one_unit_bytewise(TSE_FRAMING_TSCF, 1500, p, n, TSE_UNIT_IPV6, 0, 40);
    n = mk_ipv6(p, 1000);
    one_unit_bytewise(TSE_FRAMING_TSCF, 1500, p, n, TSE_UNIT_IPV6, 0, 1040);
}

TT_TEST(error_nibble)
{
    unsigned v;
    for (v = 0; v < 16; v++) {
        uint8_t p[64];
        if (v == 1 || v == 4 || v == 6)
            continue;
        memset(p, 0, sizeof(p));
        p[0] = (uint8_t)(v << 4 | 5);
        expect_error(TSE_FRAMING_TSCF, 1500, p, 1, TSE_ERR_FRAME_NIBBLE);
        expect_error(TSE_FRAMING_TSCF, 1500, p, sizeof(p), TSE_ERR_FRAME_NIBBLE);
    }
}

TT_TEST(error_ipv4_ihl)
{
    unsigned ihl;
    for (ihl = 0; ihl < 5; ihl++) {
        uint8_t p[40];
        mk_ipv4(p, 40, ihl);
        /* known from the first byte */
        expect_error(TSE_FRAMING_TSCF, 1500, p, 1, TSE_ERR_FRAME_IPV4_IHL);
        expect_error(TSE_FRAMING_TSCF, 1500, p, 40, TSE_ERR_FRAME_IPV4_IHL);
    }
}

TT_TEST(error_ipv4_length)
{
    uint8_t p[64];
    size_t t;
    for (t = 0; t < 20; t++) {
        mk_ipv4(p, 64, 5);
        p[2] = 0;
        p[3] = (uint8_t)t;
        expect_error(TSE_FRAMING_TSCF, 1500, p, 4, TSE_ERR_FRAME_IPV4_LENGTH);
        expect_error(TSE_FRAMING_TSCF, 1500, p, 64, TSE_ERR_FRAME_IPV4_LENGTH);
    }
    mk_ipv4(p, 60, 15);
    p[3] = 59; /* total length below IHL*4 = 60 */
    expect_error(TSE_FRAMING_TSCF, 1500, p, 60, TSE_ERR_FRAME_IPV4_LENGTH);
    /* three bytes cannot tell yet */
    {
        uint8_t buf[64];
        tse_deframer d;
        tse_unit u;
        size_t c;
        TT_EQ_INT(tse_deframer_init(&d, TSE_FRAMING_TSCF, buf, sizeof(buf)), TSE_OK);
        TT_EQ_INT(tse_deframer_feed(&d, p, 3, &c, &u), 0);
        TT_EQ_INT(tse_deframer_feed(&d, p + 3, 1, &c, &u), TSE_ERR_FRAME_IPV4_LENGTH);
    }
}

/* Exactly cap is accepted, cap + 1 is TOO_BIG, for each kind and both
 * paths; TOO_BIG is reported as soon as the length is known. */
TT_TEST(cap_boundary)
{
    static uint8_t p[70000];
    const size_t caps[] = {40, 41, 100, 1500, 65535 + 40};
    size_t i;
    for (i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
        size_t cap = caps[i], n;
        if (cap <= 65535) {
            n = mk_ipv4(p, cap, 5);
            one_unit_whole(TSE_FRAMING_TSCF, cap, p, n, TSE_UNIT_IPV4, 0, cap);
            one_unit_bytewise(TSE_FRAMING_TSCF, cap, p, n, TSE_UNIT_IPV4, 0, cap);
            mk_ipv4(p, cap + 1, 5);
            expect_error(TSE_FRAMING_TSCF, cap, p, 4, TSE_ERR_FRAME_TOO_BIG);
        }
        n = mk_ipv6(p, cap - 40);
        one_unit_whole(TSE_FRAMING_TSCF, cap, p, n, TSE_UNIT_IPV6, 0, cap);
        one_unit_bytewise(TSE_FRAMING_TSCF, cap, p, n, TSE_UNIT_IPV6, 0, cap);
        if (cap < 65535 + 40) {
            mk_ipv6(p, cap - 39);
            expect_error(TSE_FRAMING_TSCF, cap, p, 6, TSE_ERR_FRAME_TOO_BIG);
        }
        /* CM of exactly cap: 16 + TLVs; one TLV of cap - 18 (if <= 255) */
        if (cap - 18 <= 255) {
            n = mk_cm(p, 1, (unsigned)(cap - 18));
            TT_EQ_INT(n, cap);
            one_unit_whole(TSE_FRAMING_TSCF, cap, p, n, TSE_UNIT_CM, 0, cap);
            one_unit_bytewise(TSE_FRAMING_TSCF, cap, p, n, TSE_UNIT_CM, 0, cap);
            n = mk_cm(p, 1, (unsigned)(cap - 17));
            expect_error(TSE_FRAMING_TSCF, cap, p, 18, TSE_ERR_FRAME_TOO_BIG);
        }
    }
}

/* A CM whose TLVs walked so far exceed cap fails before the rest arrives. */
TT_TEST(cm_too_big_walk)
{
    static uint8_t p[16 + 65535 * 2];
    size_t n;
    /* 6 TLVs of 255 bytes, cap 1300: once the 5th TLV header is read
     * (16 + 4*257 + 2 bytes) the unit is known to be at least
     * 16 + 5*257 = 1301 bytes, above cap - no need to wait for the rest. */
    n = mk_cm(p, 6, 255);
    expect_error(TSE_FRAMING_TSCF, 1300, p, 16 + 4 * 257 + 2, TSE_ERR_FRAME_TOO_BIG);
    expect_error(TSE_FRAMING_TSCF, 1300, p, n, TSE_ERR_FRAME_TOO_BIG);
    /* 65535 empty TLVs: 16 + 131070 bytes, far above 1500: known once the
     * walk passes cap, after about 1500 bytes */
    n = mk_cm(p, 65535, 0);
    expect_error(TSE_FRAMING_TSCF, 1500, p, 1500, TSE_ERR_FRAME_TOO_BIG);
    expect_error(TSE_FRAMING_TSCF, 1500, p, n, TSE_ERR_FRAME_TOO_BIG);
    /* and the same CM passes with a big enough buffer */
    one_unit_whole(TSE_FRAMING_TSCF, n, p, n, TSE_UNIT_CM, 0, n);
}

struct ref {
    int kind;
    size_t off, len;
};

#define MAX_REFS 400
static uint8_t stream[MAX_REFS * 1600];
static struct ref refs[MAX_REFS];

/* A stream of @p count random units no longer than @p maxu bytes on the
 * wire, recording where each unit's bytes are. */
static size_t build_stream(int profile, unsigned count, size_t maxu, int *nrefs)
{
    size_t n = 0;
    unsigned i;
    for (i = 0; i < count; i++) {
        unsigned k = rnd() % (profile == TSE_FRAMING_FTT ? 2 : 3);
        size_t hdr = profile == TSE_FRAMING_FTT ? 3 : 0;
        size_t maxp = maxu - hdr, len;
        uint8_t *p = stream + n + hdr;
        if (k == 0) {
            len = mk_ipv4(p, 20 + rnd() % (maxp - 20 + 1), 5 + rnd() % 11);
            if ((size_t)(p[0] & 15) * 4 > len)
                p[0] = 0x45;
            refs[i].kind = TSE_UNIT_IPV4;
        } else if (k == 1) {
            len = mk_ipv6(p, rnd() % (maxp - 40 + 1));
            refs[i].kind = TSE_UNIT_IPV6;
        } else {
            unsigned t = 0, ntlv = rnd() % 8;
            len = 16;
            memset(p, 0, 16);
            p[0] = 0x10;
            p[1] = (uint8_t)(1 + rnd() % 8);
            while (t < ntlv) {
                unsigned l = rnd() % 40;
                if (len + 2 + l > maxp)
                    break;
                p[len] = (uint8_t)rnd();
                p[len + 1] = (uint8_t)l;
                memset(p + len + 2, (int)rnd(), l);
                len += 2 + l;
                t++;
            }
            p[2] = 0;
            p[3] = (uint8_t)t;
            refs[i].kind = TSE_UNIT_CM;
        }
        if (hdr) {
            int w = tse_frame_unit(profile, refs[i].kind, p, len, stream + n, len + hdr);
            if (w != (int)(len + hdr))
                return 0;
        }
        refs[i].off = n + hdr;
        refs[i].len = len;
        n += hdr + len;
    }
    *nrefs = (int)count;
    return n;
}

enum { WHOLE, BYTES, CUTS };

static void deliver(int profile, size_t cap, size_t n, int nrefs, int mode)
{
    uint8_t *buf = malloc(cap + 8);
    tse_deframer d;
    size_t pos = 0;
    int k = 0, steps = 0;
    TT_ASSERT(buf != NULL);
    memset(buf + cap, 0xcc, 8);
    TT_EQ_INT(tse_deframer_init(&d, profile, buf, cap), TSE_OK);
    while (pos < n) {
        size_t clen = mode == WHOLE ? n : mode == BYTES ? 1 : 1 + rnd() % 3000;
        size_t cpos = 0;
        uint8_t *chunk;
        if (clen > n - pos)
            clen = n - pos;
        chunk = malloc(clen); /* exact size: ASan catches reads past len */
        TT_ASSERT(chunk != NULL);
        memcpy(chunk, stream + pos, clen);
        while (cpos < clen) {
            tse_unit u;
            size_t c;
            int r = tse_deframer_feed(&d, chunk + cpos, clen - cpos, &c, &u);
            TT_ASSERT(++steps < 10000000);
            TT_ASSERT(r == 0 || r == 1);
            TT_ASSERT(c <= clen - cpos);
            TT_ASSERT(tse_deframer_pending(&d) <= cap);
            if (r == 1) {
                int zero_copy = u.data >= chunk + cpos && u.data < chunk + clen;
                TT_ASSERT(k < nrefs);
                TT_EQ_INT(u.kind, refs[k].kind);
                TT_EQ_INT(u.len, refs[k].len);
                TT_EQ_MEM(u.data, stream + refs[k].off, u.len);
                /* zero copy exactly when the unit started at a unit
                 * boundary of this call with nothing buffered */
                if (mode == WHOLE) {
                    TT_ASSERT(zero_copy);
                } else if (mode == BYTES) {
                    TT_ASSERT(!zero_copy);
                }
                if (!zero_copy) {
                    TT_ASSERT(u.data == buf + tse_frame_overhead(profile));
                }
                k++;
            } else {
                TT_EQ_INT(c, clen - cpos);
            }
            cpos += c;
        }
        free(chunk);
        pos += clen;
    }
    TT_EQ_INT(k, nrefs);
    TT_EQ_INT(tse_deframer_pending(&d), 0);
    for (k = 0; k < 8; k++)
        TT_EQ_INT(buf[cap + k], 0xcc);
    free(buf);
}

TT_TEST(mixed_stream_tscf)
{
    int nrefs = 0, round;
    size_t n;
    rng_state = 0xC0FFEEu;
    n = build_stream(TSE_FRAMING_TSCF, MAX_REFS, 1500, &nrefs);
    TT_ASSERT(n > 0);
    deliver(TSE_FRAMING_TSCF, 1500, n, nrefs, WHOLE);
    deliver(TSE_FRAMING_TSCF, 1500, n, nrefs, BYTES);
    for (round = 0; round < 20; round++)
        deliver(TSE_FRAMING_TSCF, 1500, n, nrefs, CUTS);
    /* small units, small cap */
    n = build_stream(TSE_FRAMING_TSCF, MAX_REFS, 64, &nrefs);
    TT_ASSERT(n > 0);
    deliver(TSE_FRAMING_TSCF, 64, n, nrefs, WHOLE);
    deliver(TSE_FRAMING_TSCF, 64, n, nrefs, BYTES);
    for (round = 0; round < 20; round++)
        deliver(TSE_FRAMING_TSCF, 64, n, nrefs, CUTS);
}

TT_TEST(mixed_stream_ftt)
{
    int nrefs = 0, round;
    size_t n;
    rng_state = 0xFEEDu;
    n = build_stream(TSE_FRAMING_FTT, MAX_REFS, 1503, &nrefs);
    TT_ASSERT(n > 0);
    deliver(TSE_FRAMING_FTT, 1503, n, nrefs, WHOLE);
    deliver(TSE_FRAMING_FTT, 1503, n, nrefs, BYTES);
    for (round = 0; round < 20; round++)
        deliver(TSE_FRAMING_FTT, 1503, n, nrefs, CUTS);
}

/* Units, then garbage: the units before the error come out, then the
 * error, wherever the stream is cut. */
TT_TEST(error_after_units)
{
    uint8_t s[200], buf[100];
    size_t n = 0, cut;
    n += mk_ipv4(s + n, 30, 5);
    n += mk_cm(s + n, 1, 2);
    s[n++] = 0x70;
    for (cut = 1; cut <= n; cut++) {
        tse_deframer d;
        tse_unit u;
        size_t c, pos = 0;
        int units = 0, r = 0, guard = 0;
        TT_EQ_INT(tse_deframer_init(&d, TSE_FRAMING_TSCF, buf, sizeof(buf)), TSE_OK);
        while (pos < n && r >= 0 && guard++ < 1000) {
            size_t l = n - pos < cut ? n - pos : cut;
            r = tse_deframer_feed(&d, s + pos, l, &c, &u);
            pos += c;
            if (r == 1)
                units++;
        }
        TT_EQ_INT(units, 2);
        TT_EQ_INT(r, TSE_ERR_FRAME_NIBBLE);
        TT_EQ_INT(pos, n - 1);
    }
}

TT_TEST(ftt_errors)
{
    uint8_t p[100];
    unsigned t;
    size_t l;
    mk_ipv4(p + 3, 40, 5);
    p[1] = 0;
    p[2] = 43;
    for (t = 0; t < 256; t++) {
        if (t == 1)
            continue;
        p[0] = (uint8_t)t;
        expect_error(TSE_FRAMING_FTT, 100, p, 1, TSE_ERR_FRAME_ENVELOPE);
        expect_error(TSE_FRAMING_FTT, 100, p, 43, TSE_ERR_FRAME_ENVELOPE);
    }
    p[0] = 1;
    for (l = 0; l <= 3; l++) {
        p[2] = (uint8_t)l;
        expect_error(TSE_FRAMING_FTT, 100, p, 3, TSE_ERR_FRAME_ENVELOPE);
    }
    p[2] = 101; /* envelope above cap */
    expect_error(TSE_FRAMING_FTT, 100, p, 3, TSE_ERR_FRAME_TOO_BIG);
    p[2] = 100; /* exactly cap */
    mk_ipv4(p + 3, 97, 5);
    one_unit_whole(TSE_FRAMING_FTT, 100, p, 100, TSE_UNIT_IPV4, 3, 97);
    one_unit_bytewise(TSE_FRAMING_FTT, 100, p, 100, TSE_UNIT_IPV4, 3, 97);
    p[1] = 0xff; /* 65280 + 100: too big */
    expect_error(TSE_FRAMING_FTT, 100, p, 3, TSE_ERR_FRAME_TOO_BIG);
    p[1] = 0;
    /* inner first nibble must be 4 or 6: a CM cannot travel in FTT */
    for (t = 0; t < 16; t++) {
        p[3] = (uint8_t)(t << 4 | 5);
        if (t == 4 || t == 6)
            continue;
        expect_error(TSE_FRAMING_FTT, 100, p, 4, TSE_ERR_FRAME_NIBBLE);
        expect_error(TSE_FRAMING_FTT, 100, p, 100, TSE_ERR_FRAME_NIBBLE);
    }
    /* smallest envelope: 4 bytes, a 1-byte "packet" */
    p[2] = 4;
    p[3] = 0x60;
    one_unit_whole(TSE_FRAMING_FTT, 40, p, 4, TSE_UNIT_IPV6, 3, 1);
}

TT_TEST(frame_unit)
{
    uint8_t pkt[100], out[120], cm[16];
    size_t n = mk_ipv4(pkt, 100, 5);
    mk_cm(cm, 0, 0);
    TT_EQ_INT(tse_frame_overhead(TSE_FRAMING_TSCF), 0);
    TT_EQ_INT(tse_frame_overhead(TSE_FRAMING_FTT), 3);
    TT_EQ_INT(tse_frame_overhead(7), 0);
    /* TSCF: as-is */
    TT_EQ_INT(tse_frame_unit(TSE_FRAMING_TSCF, TSE_UNIT_IPV4, pkt, n, out, 100), 100);
    TT_EQ_MEM(out, pkt, 100);
    TT_EQ_INT(tse_frame_unit(TSE_FRAMING_TSCF, TSE_UNIT_IPV4, pkt, n, out, 99),
              TSE_ERR_BUFFER_TOO_SMALL);
    TT_EQ_INT(tse_frame_unit(TSE_FRAMING_TSCF, TSE_UNIT_CM, cm, 16, out, 16), 16);
    TT_EQ_MEM(out, cm, 16);
    /* FTT: Type 1, Length incl. header, then the packet */
    TT_EQ_INT(tse_frame_unit(TSE_FRAMING_FTT, TSE_UNIT_IPV4, pkt, n, out, 103), 103);
    TT_EQ_INT(out[0], 1);
    TT_EQ_INT(out[1], 0);
    TT_EQ_INT(out[2], 103);
    TT_EQ_MEM(out + 3, pkt, 100);
    TT_EQ_INT(tse_frame_unit(TSE_FRAMING_FTT, TSE_UNIT_IPV4, pkt, n, out, 102),
              TSE_ERR_BUFFER_TOO_SMALL);
    TT_EQ_INT(tse_frame_unit(TSE_FRAMING_FTT, TSE_UNIT_CM, cm, 16, out, 100),
              TSE_ERR_INVALID_ARG);
    /* in place: out aliases data */
    memcpy(out, pkt, 100);
    TT_EQ_INT(tse_frame_unit(TSE_FRAMING_FTT, TSE_UNIT_IPV4, out, 100, out, 120), 103);
    TT_EQ_MEM(out + 3, pkt, 100);
    /* bad arguments */
    TT_EQ_INT(tse_frame_unit(2, TSE_UNIT_IPV4, pkt, n, out, 120), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_frame_unit(TSE_FRAMING_TSCF, 5, pkt, n, out, 120), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_frame_unit(TSE_FRAMING_TSCF, TSE_UNIT_IPV6, pkt, n, out, 120),
              TSE_ERR_INVALID_ARG); /* nibble 4, kind 6 */
    TT_EQ_INT(tse_frame_unit(TSE_FRAMING_TSCF, TSE_UNIT_IPV4, pkt, 0, out, 120),
              TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_frame_unit(TSE_FRAMING_TSCF, TSE_UNIT_IPV4, NULL, 10, out, 120),
              TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_frame_unit(TSE_FRAMING_TSCF, TSE_UNIT_IPV4, pkt, n, NULL, 120),
              TSE_ERR_INVALID_ARG);
    /* FTT Length is 16 bits: 65532 + 3 fits, 65533 + 3 does not */
    {
        static uint8_t big[65536], bout[65540];
        big[0] = 0x60;
        TT_EQ_INT(tse_frame_unit(TSE_FRAMING_FTT, TSE_UNIT_IPV6, big, 65532, bout,
                                 sizeof(bout)), 65535);
        TT_EQ_INT(bout[1], 0xff);
        TT_EQ_INT(bout[2], 0xff);
        TT_EQ_INT(tse_frame_unit(TSE_FRAMING_FTT, TSE_UNIT_IPV6, big, 65533, bout,
                                 sizeof(bout)), TSE_ERR_INVALID_ARG);
    }
}

/* A real CM from the codec goes through the deframer and decodes. */
TT_TEST(codec_through_deframer)
{
    tse_cm m, back;
    uint8_t wire[TSE_CM_MAX_ENCODED * 2], buf[TSE_CM_MAX_ENCODED];
    size_t n, c, i;
    tse_deframer d;
    tse_unit u;
    memset(&m, 0, sizeof(m));
    m.type = TSE_CM_CONFIG_RESPONSE;
    m.tsid = 77;
    m.seq = 3;
    m.present = TSE_CM_HAS_RESPONSE_CODE | TSE_CM_HAS_IPV4_ADDRESS | TSE_CM_HAS_PADDING;
    m.padding_len = 255;
    TT_EQ_INT(tse_cm_encode(&m, wire, sizeof(wire), &n), TSE_OK);
    memcpy(wire + n, wire, n);
    TT_EQ_INT(tse_deframer_init(&d, TSE_FRAMING_TSCF, buf, sizeof(buf)), TSE_OK);
    TT_EQ_INT(tse_deframer_feed(&d, wire, 5, &c, &u), 0);
    TT_EQ_INT(tse_deframer_feed(&d, wire + 5, 2 * n - 5, &c, &u), 1);
    TT_EQ_INT(c, n - 5);
    TT_EQ_INT(u.kind, TSE_UNIT_CM);
    TT_EQ_INT(tse_cm_decode(&back, u.data, u.len), TSE_OK);
    TT_EQ_INT(back.padding_len, 255);
    i = 5 + c;
    TT_EQ_INT(tse_deframer_feed(&d, wire + i, 2 * n - i, &c, &u), 1);
    TT_ASSERT(u.data == wire + n); /* zero copy */
    TT_EQ_INT(tse_cm_decode(&back, u.data, u.len), TSE_OK);
    TT_EQ_INT(back.seq, 3);
}

/* A deframer that was never initialised (zeroed, no buffer) is refused,
 * and so is a length the output size could not be computed for. */
TT_TEST(uninitialised_and_huge_lengths)
{
    tse_deframer d;
    tse_unit u;
    uint8_t in[1] = {0x45}, out[64];
    size_t c = 7;
    memset(&d, 0, sizeof d);
    TT_EQ_INT(tse_deframer_feed(&d, in, 1, &c, &u), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(c, 0);
    TT_EQ_INT(tse_deframer_pending(&d), 0);
    /* len is checked before data is read: no overread possible */
    TT_EQ_INT(tse_frame_unit(TSE_FRAMING_TSCF, TSE_UNIT_IPV4, in, (size_t)INT_MAX + 1u, out, sizeof out),
              TSE_ERR_INVALID_ARG);
    /* INT_MAX itself is representable: refused for the small output only */
    TT_EQ_INT(tse_frame_unit(TSE_FRAMING_TSCF, TSE_UNIT_IPV4, in, (size_t)INT_MAX, out, sizeof out),
              TSE_ERR_BUFFER_TOO_SMALL);
    TT_EQ_INT(tse_frame_unit(TSE_FRAMING_FTT, TSE_UNIT_IPV4, in, SIZE_MAX, out, sizeof out),
              TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_frame_unit(TSE_FRAMING_TSCF, TSE_UNIT_IPV4, in, 1, NULL, sizeof out),
              TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_frame_overhead(7), 0);
}

int main(void)
{
    TT_RUN(init_and_args);
    TT_RUN(uninitialised_and_huge_lengths);
    TT_RUN(single_units);
    TT_RUN(error_nibble);
    TT_RUN(error_ipv4_ihl);
    TT_RUN(error_ipv4_length);
    TT_RUN(cap_boundary);
    TT_RUN(cm_too_big_walk);
    TT_RUN(mixed_stream_tscf);
    TT_RUN(mixed_stream_ftt);
    TT_RUN(error_after_units);
    TT_RUN(ftt_errors);
    TT_RUN(frame_unit);
    TT_RUN(codec_through_deframer);
    return TT_DONE();
}
