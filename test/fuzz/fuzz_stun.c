/* libFuzzer: the STUN Binding response decoder (lib/stun.c).
 *
 * 1. parse(input) with the input's own transaction ID: never crashes, is
 *    deterministic (a second parse gives the same code and fields), and on
 *    success says what a success must say (family 4 or 6).  Every strict
 *    prefix of a message fails (a datagram is one whole message).
 * 2. The input read as fields (family, port, address, transaction ID,
 *    optional junk attribute, fingerprint or not): a response built by the
 *    tiny encoder below parses back to exactly those fields.
 */
#include "stun.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c) do { if (!(c)) { \
    fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #c); \
    abort(); } } while (0)

static int same(const tse_stun_response *a, const tse_stun_response *b)
{
    return a->type == b->type && a->mapped.family == b->mapped.family &&
           a->mapped.port == b->mapped.port &&
           memcmp(a->mapped.addr, b->mapped.addr, 16) == 0 &&
           a->mapped_is_xor == b->mapped_is_xor && a->error_code == b->error_code &&
           a->reason == b->reason && a->reason_len == b->reason_len &&
           a->has_fingerprint == b->has_fingerprint && a->has_integrity == b->has_integrity;
}

static void put16(uint8_t *p, unsigned v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }

static void round_trip(const uint8_t *data, size_t size)
{
    uint8_t m[128], txid[12];
    size_t n = 20, alen, i;
    int v6, fp, junk;
    uint16_t port;
    uint8_t addr[16];
    tse_stun_response r;
    if (size < 1 + 2 + 16 + 12)
        return;
    v6 = data[0] & 1;
    fp = (data[0] >> 1) & 1;
    junk = (data[0] >> 2) & 1;
    port = (uint16_t)((data[1] << 8) | data[2]);
    memcpy(addr, data + 3, 16);
    memcpy(txid, data + 19, 12);
    alen = v6 ? 16 : 4;

    memset(m, 0, sizeof m);
    put16(m, TSE_STUN_BINDING_SUCCESS);
    m[4] = 0x21; m[5] = 0x12; m[6] = 0xa4; m[7] = 0x42;
    memcpy(m + 8, txid, 12);
    if (junk) { /* comprehension-optional, odd length: must be skipped */
        put16(m + n, 0x8123);
        put16(m + n + 2, 3);
        m[n + 4] = 1; m[n + 5] = 2; m[n + 6] = 3;
        n += 8;
    }
    put16(m + n, TSE_STUN_ATTR_XOR_MAPPED_ADDRESS);
    put16(m + n + 2, (unsigned)(4 + alen));
    m[n + 5] = v6 ? 2 : 1;
    put16(m + n + 6, port ^ 0x2112u);
    for (i = 0; i < alen; i++)
        m[n + 8 + i] = addr[i] ^ m[4 + i]; /* cookie || transaction ID */
    n += 8 + alen;
    if (fp) {
        uint32_t c;
        put16(m + 2, (unsigned)(n + 8 - 20));
        c = tse_stun_crc32(m, n) ^ TSE_STUN_FINGERPRINT_XOR;
        put16(m + n, TSE_STUN_ATTR_FINGERPRINT);
        put16(m + n + 2, 4);
        m[n + 4] = (uint8_t)(c >> 24); m[n + 5] = (uint8_t)(c >> 16);
        m[n + 6] = (uint8_t)(c >> 8); m[n + 7] = (uint8_t)c;
        n += 8;
    }
    put16(m + 2, (unsigned)(n - 20));

    CHECK(tse_stun_parse_response(m, n, txid, &r) == TSE_OK);
    CHECK(r.mapped.family == (v6 ? 6 : 4));
    CHECK(r.mapped.port == port);
    CHECK(memcmp(r.mapped.addr, addr, alen) == 0);
    CHECK(r.mapped_is_xor == 1);
    CHECK(r.has_fingerprint == fp);
    /* a changed transaction ID is refused */
    txid[data[0] % 12] ^= 0x80;
    CHECK(tse_stun_parse_response(m, n, txid, &r) == TSE_ERR_STUN_TXID);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t txid[12] = {0};
    tse_stun_response a, b;
    int ra, rb;
    if (size >= 20)
        memcpy(txid, data + 8, 12);
    ra = tse_stun_parse_response(data, size, txid, &a);
    rb = tse_stun_parse_response(data, size, txid, &b);
    CHECK(ra == rb);
    CHECK(same(&a, &b));
    CHECK(ra <= 0);
    if (ra == TSE_OK) {
        CHECK(a.type == TSE_STUN_BINDING_SUCCESS);
        CHECK(a.mapped.family == 4 || a.mapped.family == 6);
        CHECK(size >= 20 && size % 4 == 0);
        CHECK(tse_stun_parse_response(data, size - 4, txid, &b) != TSE_OK);
    } else if (ra == TSE_ERR_STUN_ERROR_RESPONSE) {
        CHECK(a.error_code >= 300 && a.error_code <= 699);
        CHECK(a.reason >= data && a.reason + a.reason_len <= data + size);
    }
    round_trip(data, size);
    return 0;
}
