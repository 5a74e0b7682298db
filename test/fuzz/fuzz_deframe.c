/* libFuzzer: the deframer must not depend on how the stream is cut.
 *
 * Input: byte 0 picks the profile, bytes 1-2 the cap (40 .. 4135), byte 3
 * the cut pattern; the rest is the stream.  The stream is deframed whole,
 * then again in chunks cut by a PRNG seeded from byte 3 (each chunk in its
 * own exact-size allocation, so ASan sees any read past len), and byte by
 * byte for short streams.  Every run must give the same units (kind, len,
 * bytes) and end in the same state (same error, or same pending count).
 * Each unit is also checked against its own header.
 */
#include "tse/error.h"
#include "tse/framing.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c) do { if (!(c)) { \
    fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #c); \
    abort(); } } while (0)

#define MAX_CAP (40 + 4095)

struct unit_rec {
    int kind;
    size_t off; /* into the arena */
    size_t len;
};

/* Units of the reference (whole) run.  The stream is at most the input
 * size, and every unit's bytes come from it, so the arena never needs
 * more than the input. */
static uint8_t one_byte[1];
static struct unit_rec *ref_units;
static uint8_t *ref_arena;
static size_t ref_count;

struct run {
    int profile;
    size_t cap;
    tse_deframer d;
    uint8_t buf[MAX_CAP + 8];
    size_t seen; /* units compared or recorded */
    int record;
    int result; /* last feed result: 0 or the sticky error */
};

static void check_unit(const struct run *r, const tse_unit *u)
{
    const uint8_t *p = u->data;
    CHECK(u->len >= 1 && u->len + tse_frame_overhead(r->profile) <= r->cap);
    CHECK(u->kind == (p[0] >> 4));
    switch (u->kind) {
    case TSE_UNIT_CM: {
        size_t off = 16;
        unsigned i, count;
        CHECK(r->profile == TSE_FRAMING_TSCF);
        CHECK(u->len >= 16);
        count = (unsigned)p[2] << 8 | p[3];
        for (i = 0; i < count; i++) {
            CHECK(off + 2 <= u->len);
            off += 2u + p[off + 1];
        }
        CHECK(off == u->len);
        break;
    }
    case TSE_UNIT_IPV4:
        if (r->profile == TSE_FRAMING_TSCF) {
            CHECK(u->len >= 20 && (p[0] & 15) >= 5);
            CHECK(u->len == ((size_t)p[2] << 8 | p[3]));
        }
        break;
    case TSE_UNIT_IPV6:
        if (r->profile == TSE_FRAMING_TSCF)
            CHECK(u->len == 40 + ((size_t)p[4] << 8 | p[5]));
        break;
    default:
        CHECK(0);
    }
    if (r->profile == TSE_FRAMING_FTT) {
        const uint8_t *h = p - 3; /* the envelope is still in view */
        CHECK(h[0] == 1);
        CHECK(((size_t)h[1] << 8 | h[2]) == u->len + 3);
    }
}

static void on_unit(struct run *r, const tse_unit *u)
{
    check_unit(r, u);
    if (r->record) {
        size_t at = ref_count == 0 ? 0
                    : ref_units[ref_count - 1].off + ref_units[ref_count - 1].len;
        ref_units[ref_count].kind = u->kind;
        ref_units[ref_count].off = at;
        ref_units[ref_count].len = u->len;
        memcpy(ref_arena + at, u->data, u->len);
        ref_count++;
    } else {
        const struct unit_rec *e;
        CHECK(r->seen < ref_count);
        e = &ref_units[r->seen];
        CHECK(u->kind == e->kind);
        CHECK(u->len == e->len);
        CHECK(memcmp(u->data, ref_arena + e->off, u->len) == 0);
    }
    r->seen++;
}

/* Feed one chunk; returns 0 or the sticky error. */
static int feed_chunk(struct run *r, const uint8_t *in, size_t len, int whole)
{
    size_t pos = 0;
    unsigned guard = 0;
    while (pos < len) {
        tse_unit u;
        size_t c;
        int x = tse_deframer_feed(&r->d, in + pos, len - pos, &c, &u);
        CHECK(++guard <= len + 1);
        CHECK(c <= len - pos);
        CHECK(tse_deframer_pending(&r->d) <= r->cap);
        if (x < 0) {
            size_t c2;
            CHECK(x <= TSE_ERR_FRAME_NIBBLE && x >= TSE_ERR_FRAME_ENVELOPE);
            CHECK(tse_deframer_pending(&r->d) == 0);
            /* sticky */
            CHECK(tse_deframer_feed(&r->d, in, len, &c2, &u) == x && c2 == 0);
            return x;
        }
        if (x == 1) {
            CHECK(c > 0);
            if (whole) /* whole stream, unit boundary: zero copy */
                CHECK(u.data >= in + pos && u.data + u.len <= in + len);
            on_unit(r, &u);
        } else {
            CHECK(x == 0 && c == len - pos);
        }
        pos += c;
    }
    return 0;
}

static void start(struct run *r, int profile, size_t cap, int record)
{
    memset(r->buf, 0, sizeof(r->buf));
    r->profile = profile;
    r->cap = cap;
    r->seen = 0;
    r->record = record;
    r->result = 0;
    CHECK(tse_deframer_init(&r->d, profile, r->buf, cap) == TSE_OK);
}

static void finish(struct run *r, int ref_result, size_t ref_pending)
{
    size_t i;
    CHECK(r->seen == ref_count);
    CHECK(r->result == ref_result);
    CHECK(tse_deframer_pending(&r->d) == ref_pending);
    for (i = r->cap; i < r->cap + 8; i++)
        CHECK(r->buf[i] == 0); /* nothing written past cap */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct run whole, cut;
    int profile, ref_result;
    size_t cap, n, pos, ref_pending;
    const uint8_t *s;
    uint32_t rng;
    unsigned maxchunk;

    if (size < 4)
        return 0;
    profile = data[0] & 1 ? TSE_FRAMING_FTT : TSE_FRAMING_TSCF;
    cap = 40 + (((size_t)data[1] << 8 | data[2]) % 4096);
    maxchunk = 1u + (data[3] & 0x3f) * (data[3] & 0x40 ? 32u : 1u);
    rng = 0x9E3779B9u ^ data[3];
    s = data + 4;
    n = size - 4;

    free(ref_units);
    free(ref_arena);
    ref_units = calloc(n + 1, sizeof(*ref_units));
    ref_arena = malloc(n + 1);
    CHECK(ref_units != NULL && ref_arena != NULL);
    ref_count = 0;

    /* reference: the whole stream in one buffer */
    start(&whole, profile, cap, 1);
    whole.result = feed_chunk(&whole, s, n, 1);
    ref_result = whole.result;
    ref_pending = tse_deframer_pending(&whole.d);

    /* cut at PRNG points */
    start(&cut, profile, cap, 0);
    for (pos = 0; pos < n && cut.result == 0;) {
        size_t l;
        uint8_t *chunk;
        rng ^= rng << 13;
        rng ^= rng >> 17;
        rng ^= rng << 5;
        l = 1 + rng % maxchunk;
        if (l > n - pos)
            l = n - pos;
        chunk = malloc(l);
        CHECK(chunk != NULL);
        memcpy(chunk, s + pos, l);
        cut.result = feed_chunk(&cut, chunk, l, 0);
        free(chunk);
        pos += l;
    }
    finish(&cut, ref_result, ref_pending);

    /* byte by byte, for short streams; through a 1-byte global, which
     * ASan surrounds with a redzone, instead of a malloc per byte */
    if (n <= 2048) {
        start(&cut, profile, cap, 0);
        for (pos = 0; pos < n && cut.result == 0; pos++) {
            one_byte[0] = s[pos];
            cut.result = feed_chunk(&cut, one_byte, 1, 0);
        }
        finish(&cut, ref_result, ref_pending);
    }
    return 0;
}
