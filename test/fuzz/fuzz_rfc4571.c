/* libFuzzer: RFC 4571 framing and the media demultiplexer (lib/rfc4571.c).
 *
 * Input: byte 0 = decoder cap (1 + 2 * byte, so 1..511), byte 1 = cut
 * pattern, the rest = a stream.
 * 1. The stream decoded in pieces (sizes from the cut pattern) gives the
 *    same packets and the same final code as decoded whole, every packet
 *    lies inside the input or the decoder's buffer (ASan sees a read past
 *    a copy of the input that has no slack), and `consumed` never exceeds
 *    what was fed.
 * 2. Round trip: the rest read as packets (1-byte length, then that many
 *    bytes) encodes to a stream that decodes to exactly those packets;
 *    every classification is a known kind.
 */
#include "tse/rfc4571.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c) do { if (!(c)) { \
    fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #c); \
    abort(); } } while (0)

#define MAXP 64

typedef struct result {
    size_t n;                 /* packets */
    size_t len[MAXP];
    uint32_t sum[MAXP];       /* a cheap digest of the bytes */
    int rc;                   /* final code */
} result;

static uint32_t digest(const uint8_t *p, size_t n)
{
    uint32_t h = 2166136261u;
    size_t i;
    for (i = 0; i < n; i++)
        h = (h ^ p[i]) * 16777619u;
    return h;
}

static void run(const uint8_t *s, size_t n, size_t cap, unsigned cut, result *r)
{
    uint8_t *buf = malloc(cap);
    tse_rfc4571_decoder d;
    size_t off = 0;
    unsigned step = 0;
    CHECK(buf);
    memset(r, 0, sizeof *r);
    CHECK(tse_rfc4571_decoder_init(&d, buf, cap) == TSE_OK);
    r->rc = TSE_ERR_WOULD_BLOCK;
    while (off < n && r->n < MAXP) {
        size_t piece = cut ? 1u + ((cut >> (step++ % 8)) & 7u) : n - off;
        /* each piece in its own exact-size heap copy: any read past it is
         * an ASan report */
        uint8_t *copy;
        size_t pos = 0;
        if (piece > n - off)
            piece = n - off;
        copy = malloc(piece ? piece : 1);
        CHECK(copy);
        memcpy(copy, s + off, piece);
        while (pos < piece) {
            const uint8_t *p;
            size_t pl, used;
            int rc = tse_rfc4571_decode(&d, copy + pos, piece - pos, &used, &p, &pl);
            CHECK(used <= piece - pos);
            pos += used;
            r->rc = rc;
            if (rc == TSE_OK) {
                CHECK(pl <= cap);
                CHECK(pl == 0 ? p == NULL
                              : (p == buf || (p >= copy && p + pl <= copy + piece)));
                if (r->n < MAXP) {
                    r->len[r->n] = pl;
                    r->sum[r->n] = digest(p, pl);
                    r->n++;
                }
                (void)tse_rfc4571_classify(p, pl);
                if (r->n == MAXP)
                    break;
                continue;
            }
            if (rc == TSE_ERR_WOULD_BLOCK)
                CHECK(pos == piece);
            else
                CHECK(rc == TSE_ERR_RFC4571_TOO_BIG);
            break;
        }
        free(copy);
        off += piece;
        if (r->rc != TSE_OK && r->rc != TSE_ERR_WOULD_BLOCK)
            break;
    }
    free(buf);
}

static void round_trip(const uint8_t *s, size_t n)
{
    uint8_t stream[2 * 256 + 4096];
    const uint8_t *pk[MAXP];
    size_t pl[MAXP], np = 0, off = 0, w = 0, k, i;
    uint8_t buf[255];
    tse_rfc4571_decoder d;
    while (off < n && np < MAXP) {
        size_t l = s[off++];
        if (l > n - off)
            l = n - off;
        pk[np] = s + off;
        pl[np] = l;
        CHECK(w + 2 + l <= sizeof stream);
        CHECK(tse_rfc4571_encode(stream + w, sizeof stream - w, l ? s + off : NULL, l, &k)
              == TSE_OK);
        CHECK(k == 2 + l);
        w += k;
        off += l;
        np++;
    }
    CHECK(tse_rfc4571_decoder_init(&d, buf, sizeof buf) == TSE_OK);
    off = 0;
    for (i = 0; i < np; i++) {
        const uint8_t *p;
        size_t len, used;
        CHECK(tse_rfc4571_decode(&d, stream + off, w - off, &used, &p, &len) == TSE_OK);
        off += used;
        CHECK(len == pl[i]);
        CHECK(len == 0 || memcmp(p, pk[i], len) == 0);
        k = (size_t)tse_rfc4571_classify(p, len);
        CHECK(k <= TSE_DEMUX_RTCP);
    }
    CHECK(off == w);
    CHECK(tse_rfc4571_decoder_at_eof(&d) == TSE_OK);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    result whole, cut;
    size_t cap, i;
    if (size < 2)
        return 0;
    cap = 1u + 2u * data[0];
    run(data + 2, size - 2, cap, 0, &whole);
    run(data + 2, size - 2, cap, data[1] | 1u, &cut);
    CHECK(whole.n == cut.n);
    for (i = 0; i < whole.n; i++) {
        CHECK(whole.len[i] == cut.len[i]);
        CHECK(whole.sum[i] == cut.sum[i]);
    }
    if (whole.n < MAXP)
        CHECK(whole.rc == cut.rc);
    round_trip(data + 2, size - 2);
    return 0;
}
