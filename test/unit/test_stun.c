/* STUN Binding codec: RFC 5769 test vectors, encoder, strict decoder. */
#include <stdint.h>
#include <string.h>

#include "stun.h"
#include "tt.h"

static const uint8_t TXID[12] = {0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86,
                                 0xfa, 0x87, 0xdf, 0xae};

/* RFC 5769 2.1: sample request (short-term credentials). */
static const uint8_t RFC5769_REQ[] = {
    0x00, 0x01, 0x00, 0x58, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01,
    0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x10,
    0x53, 0x54, 0x55, 0x4e, 0x20, 0x74, 0x65, 0x73, 0x74, 0x20, 0x63, 0x6c,
    0x69, 0x65, 0x6e, 0x74, 0x00, 0x24, 0x00, 0x04, 0x6e, 0x00, 0x01, 0xff,
    0x80, 0x29, 0x00, 0x08, 0x93, 0x2f, 0xf9, 0xb1, 0x51, 0x26, 0x3b, 0x36,
    0x00, 0x06, 0x00, 0x09, 0x65, 0x76, 0x74, 0x6a, 0x3a, 0x68, 0x36, 0x76,
    0x59, 0x20, 0x20, 0x20, 0x00, 0x08, 0x00, 0x14, 0x9a, 0xea, 0xa7, 0x0c,
    0xbf, 0xd8, 0xcb, 0x56, 0x78, 0x1e, 0xf2, 0xb5, 0xb2, 0xd3, 0xf2, 0x49,
    0xc1, 0xb5, 0x71, 0xa2, 0x80, 0x28, 0x00, 0x04, 0xe5, 0x7a, 0x3b, 0xcf};

/* RFC 5769 2.2: sample IPv4 response, mapped 192.0.2.1:32853. */
static const uint8_t RFC5769_V4[] = {
    0x01, 0x01, 0x00, 0x3c, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01,
    0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x0b,
    0x74, 0x65, 0x73, 0x74, 0x20, 0x76, 0x65, 0x63, 0x74, 0x6f, 0x72, 0x20,
    0x00, 0x20, 0x00, 0x08, 0x00, 0x01, 0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43,
    0x00, 0x08, 0x00, 0x14, 0x2b, 0x91, 0xf5, 0x99, 0xfd, 0x9e, 0x90, 0xc3,
    0x8c, 0x74, 0x89, 0xf9, 0x2a, 0xf9, 0xba, 0x53, 0xf0, 0x6b, 0xe7, 0xd7,
    0x80, 0x28, 0x00, 0x04, 0xc0, 0x7d, 0x4c, 0x96};

/* RFC 5769 2.3: sample IPv6 response, mapped
 * [2001:db8:1234:5678:11:2233:4455:6677]:32853. */
static const uint8_t RFC5769_V6[] = {
    0x01, 0x01, 0x00, 0x48, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01,
    0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x0b,
    0x74, 0x65, 0x73, 0x74, 0x20, 0x76, 0x65, 0x63, 0x74, 0x6f, 0x72, 0x20,
    0x00, 0x20, 0x00, 0x14, 0x00, 0x02, 0xa1, 0x47, 0x01, 0x13, 0xa9, 0xfa,
    0xa5, 0xd3, 0xf1, 0x79, 0xbc, 0x25, 0xf4, 0xb5, 0xbe, 0xd2, 0xb9, 0xd9,
    0x00, 0x08, 0x00, 0x14, 0xa3, 0x82, 0x95, 0x4e, 0x4b, 0xe6, 0x7b, 0xf1,
    0x17, 0x84, 0xc9, 0x7c, 0x82, 0x92, 0xc2, 0x75, 0xbf, 0xe3, 0xed, 0x41,
    0x80, 0x28, 0x00, 0x04, 0xc8, 0xfb, 0x0b, 0x4c};

static uint8_t g_fill;
static int fill_entropy(void *user, uint8_t *buf, size_t len)
{
    (void)user;
    memset(buf, g_fill, len);
    return 0;
}
static int fail_entropy(void *user, uint8_t *buf, size_t len)
{
    (void)user; (void)buf; (void)len;
    return -1;
}

/* --- a tiny response encoder for tests (attributes appended raw) ------ */
typedef struct msgb { uint8_t b[512]; size_t n; } msgb;

static void mb_start(msgb *m, uint16_t type, const uint8_t *txid)
{
    memset(m, 0, sizeof *m);
    m->b[0] = (uint8_t)(type >> 8); m->b[1] = (uint8_t)type;
    m->b[4] = 0x21; m->b[5] = 0x12; m->b[6] = 0xa4; m->b[7] = 0x42;
    memcpy(m->b + 8, txid, 12);
    m->n = 20;
}
static void mb_setlen(msgb *m)
{
    m->b[2] = (uint8_t)((m->n - 20) >> 8); m->b[3] = (uint8_t)(m->n - 20);
}
static void mb_attr(msgb *m, uint16_t t, const uint8_t *v, uint16_t len)
{
    m->b[m->n] = (uint8_t)(t >> 8); m->b[m->n + 1] = (uint8_t)t;
    m->b[m->n + 2] = (uint8_t)(len >> 8); m->b[m->n + 3] = (uint8_t)len;
    if (len) memcpy(m->b + m->n + 4, v, len);
    m->n += 4 + (((size_t)len + 3) & ~(size_t)3);
    mb_setlen(m);
}
static void mb_fingerprint(msgb *m)
{
    uint32_t c;
    uint8_t v[4];
    m->n += 8;
    mb_setlen(m);
    m->n -= 8;
    c = tse_stun_crc32(m->b, m->n) ^ 0x5354554Eu;
    v[0] = (uint8_t)(c >> 24); v[1] = (uint8_t)(c >> 16); v[2] = (uint8_t)(c >> 8); v[3] = (uint8_t)c;
    mb_attr(m, 0x8028, v, 4);
}
static void xor_v4(uint8_t v[8], const uint8_t ip[4], uint16_t port)
{
    v[0] = 0; v[1] = 1;
    v[2] = (uint8_t)((port >> 8) ^ 0x21); v[3] = (uint8_t)((port & 0xff) ^ 0x12);
    v[4] = ip[0] ^ 0x21; v[5] = ip[1] ^ 0x12; v[6] = ip[2] ^ 0xa4; v[7] = ip[3] ^ 0x42;
}

/* ---------------------------------------------------------------------- */

TT_TEST(crc32_check_value)
{
    /* The CRC-32 check value of "123456789". */
    TT_EQ_INT(tse_stun_crc32((const uint8_t *)"123456789", 9), 0xCBF43926u);
    TT_EQ_INT(tse_stun_crc32(NULL, 0), 0);
}

TT_TEST(rfc5769_request_fingerprint)
{
    /* The sample request's FINGERPRINT covers everything before it. */
    size_t n = sizeof RFC5769_REQ;
    uint32_t want = ((uint32_t)RFC5769_REQ[n - 4] << 24) | ((uint32_t)RFC5769_REQ[n - 3] << 16) |
                    ((uint32_t)RFC5769_REQ[n - 2] << 8) | RFC5769_REQ[n - 1];
    TT_EQ_INT(tse_stun_crc32(RFC5769_REQ, n - 8) ^ TSE_STUN_FINGERPRINT_XOR, want);
}

TT_TEST(rfc5769_ipv4_response)
{
    tse_stun_response r;
    static const uint8_t ip[4] = {192, 0, 2, 1};
    TT_EQ_INT(tse_stun_parse_response(RFC5769_V4, sizeof RFC5769_V4, TXID, &r), TSE_OK);
    TT_EQ_INT(r.type, TSE_STUN_BINDING_SUCCESS);
    TT_EQ_INT(r.mapped.family, 4);
    TT_EQ_INT(r.mapped.port, 32853);
    TT_EQ_MEM(r.mapped.addr, ip, 4);
    {
        /* the unused 12 bytes are zero, so results compare with memcmp */
        static const uint8_t zero[12];
        TT_EQ_MEM(r.mapped.addr + 4, zero, 12);
    }
    TT_EQ_INT(r.mapped_is_xor, 1);
    TT_EQ_INT(r.has_fingerprint, 1);
    TT_EQ_INT(r.has_integrity, 1);
}

TT_TEST(rfc5769_ipv6_response)
{
    tse_stun_response r;
    static const uint8_t ip[16] = {0x20, 0x01, 0x0d, 0xb8, 0x12, 0x34, 0x56, 0x78,
                                   0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77};
    TT_EQ_INT(tse_stun_parse_response(RFC5769_V6, sizeof RFC5769_V6, TXID, &r), TSE_OK);
    TT_EQ_INT(r.mapped.family, 6);
    TT_EQ_INT(r.mapped.port, 32853);
    TT_EQ_MEM(r.mapped.addr, ip, 16);
    TT_EQ_INT(r.has_fingerprint, 1);
}

TT_TEST(rfc5769_every_bit_flip_detected)
{
    /* Any single-bit change before the FINGERPRINT value must be refused
     * (by the structure checks or by the CRC). */
    uint8_t m[sizeof RFC5769_V4];
    tse_stun_response r;
    size_t i;
    int b;
    for (i = 0; i < sizeof m; i++) {
        /* (Not the FINGERPRINT's own type/length: renaming it into an
         * unknown optional attribute legitimately drops it.) */
        if (i >= sizeof m - 8 && i < sizeof m - 4)
            continue;
        for (b = 0; b < 8; b++) {
            memcpy(m, RFC5769_V4, sizeof m);
            m[i] ^= (uint8_t)(1u << b);
            TT_ASSERT(tse_stun_parse_response(m, sizeof m, m + 8, &r) != TSE_OK);
        }
    }
}

TT_TEST(rfc5769_wrong_txid_and_sizes)
{
    tse_stun_response r;
    uint8_t other[12];
    uint8_t big[sizeof RFC5769_V4 + 4];
    memcpy(other, TXID, 12);
    other[11] ^= 1;
    TT_EQ_INT(tse_stun_parse_response(RFC5769_V4, sizeof RFC5769_V4, other, &r), TSE_ERR_STUN_TXID);
    TT_EQ_INT(tse_stun_parse_response(RFC5769_V4, 19, TXID, &r), TSE_ERR_STUN_TRUNCATED);
    TT_EQ_INT(tse_stun_parse_response(RFC5769_V4, sizeof RFC5769_V4 - 4, TXID, &r),
              TSE_ERR_STUN_TRUNCATED);
    memcpy(big, RFC5769_V4, sizeof RFC5769_V4);
    memset(big + sizeof RFC5769_V4, 0, 4);
    TT_EQ_INT(tse_stun_parse_response(big, sizeof big, TXID, &r), TSE_ERR_STUN_LENGTH);
    TT_EQ_INT(tse_stun_parse_response(NULL, 0, TXID, &r), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_stun_parse_response(RFC5769_V4, sizeof RFC5769_V4, TXID, NULL), TSE_ERR_INVALID_ARG);
    /* A request is not a response. */
    TT_EQ_INT(tse_stun_parse_response(RFC5769_REQ, sizeof RFC5769_REQ, TXID, &r), TSE_ERR_STUN_TYPE);
}

TT_TEST(encoder_request)
{
    uint8_t buf[64], txid[12];
    size_t n = 0;
    tse_stun_response r;
    g_fill = 0x5a;
    TT_EQ_INT(tse_stun_binding_request(buf, sizeof buf, fill_entropy, NULL, 0, txid, &n), TSE_OK);
    TT_EQ_INT(n, 20);
    TT_EQ_INT(buf[0], 0x00); TT_EQ_INT(buf[1], 0x01);
    TT_EQ_INT(buf[2], 0x00); TT_EQ_INT(buf[3], 0x00);
    TT_EQ_INT(buf[4], 0x21); TT_EQ_INT(buf[5], 0x12); TT_EQ_INT(buf[6], 0xa4); TT_EQ_INT(buf[7], 0x42);
    TT_EQ_INT(txid[0], 0x5a); TT_EQ_INT(txid[11], 0x5a);
    TT_EQ_MEM(buf + 8, txid, 12);

    TT_EQ_INT(tse_stun_binding_request(buf, sizeof buf, fill_entropy, NULL, 1, txid, &n), TSE_OK);
    TT_EQ_INT(n, 28);
    TT_EQ_INT(buf[3], 8);
    TT_EQ_INT(buf[20], 0x80); TT_EQ_INT(buf[21], 0x28); TT_EQ_INT(buf[23], 4);
    {
        uint32_t c = tse_stun_crc32(buf, 20) ^ 0x5354554Eu;
        TT_EQ_INT(buf[24], (uint8_t)(c >> 24));
        TT_EQ_INT(buf[27], (uint8_t)c);
    }
    /* Our own request parses as a request (type error), proving framing. */
    TT_EQ_INT(tse_stun_parse_response(buf, n, txid, &r), TSE_ERR_STUN_TYPE);

    TT_EQ_INT(tse_stun_binding_request(buf, 27, fill_entropy, NULL, 1, txid, &n), TSE_ERR_BUFFER_TOO_SMALL);
    TT_EQ_INT(tse_stun_binding_request(buf, 19, fill_entropy, NULL, 0, txid, &n), TSE_ERR_BUFFER_TOO_SMALL);
    TT_EQ_INT(tse_stun_binding_request(buf, sizeof buf, fail_entropy, NULL, 1, txid, &n), TSE_ERR_DETECT_ENTROPY);
    TT_EQ_INT(tse_stun_binding_request(buf, sizeof buf, NULL, NULL, 1, txid, &n), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_stun_binding_request(NULL, sizeof buf, fill_entropy, NULL, 1, txid, &n), TSE_ERR_INVALID_ARG);
}

TT_TEST(mapped_address_fallback_and_precedence)
{
    msgb m;
    tse_stun_response r;
    static const uint8_t plain[8] = {0, 1, 0x13, 0x88, 10, 0, 0, 7};
    static const uint8_t ip[4] = {198, 51, 100, 9};
    uint8_t x[8];
    /* MAPPED-ADDRESS only */
    mb_start(&m, 0x0101, TXID);
    mb_attr(&m, 0x0001, plain, 8);
    TT_EQ_INT(tse_stun_parse_response(m.b, m.n, TXID, &r), TSE_OK);
    TT_EQ_INT(r.mapped_is_xor, 0);
    TT_EQ_INT(r.mapped.port, 5000);
    TT_EQ_INT(r.mapped.addr[0], 10); TT_EQ_INT(r.mapped.addr[3], 7);
    TT_EQ_INT(r.has_fingerprint, 0);
    /* MAPPED first, XOR after: XOR wins */
    xor_v4(x, ip, 40000);
    mb_attr(&m, 0x0020, x, 8);
    mb_fingerprint(&m);
    TT_EQ_INT(tse_stun_parse_response(m.b, m.n, TXID, &r), TSE_OK);
    TT_EQ_INT(r.mapped_is_xor, 1);
    TT_EQ_INT(r.mapped.port, 40000);
    TT_EQ_MEM(r.mapped.addr, ip, 4);
    TT_EQ_INT(r.has_fingerprint, 1);
}

TT_TEST(unknown_attributes)
{
    msgb m;
    tse_stun_response r;
    static const uint8_t ip[4] = {203, 0, 113, 5};
    uint8_t x[8], junk[5] = {1, 2, 3, 4, 5};
    xor_v4(x, ip, 1234);
    /* Unknown comprehension-optional (odd length, padded): skipped. */
    mb_start(&m, 0x0101, TXID);
    mb_attr(&m, 0x80FF, junk, 5);
    mb_attr(&m, 0x0020, x, 8);
    mb_fingerprint(&m);
    TT_EQ_INT(tse_stun_parse_response(m.b, m.n, TXID, &r), TSE_OK);
    TT_EQ_INT(r.mapped.port, 1234);
    /* Unknown comprehension-required: the success fails. */
    mb_start(&m, 0x0101, TXID);
    mb_attr(&m, 0x7FFF, junk, 5);
    mb_attr(&m, 0x0020, x, 8);
    TT_EQ_INT(tse_stun_parse_response(m.b, m.n, TXID, &r), TSE_ERR_STUN_UNKNOWN_ATTR);
    /* ... but the same in an error response still yields the code. */
    {
        static const uint8_t ec[8] = {0, 0, 4, 20, 'n', 'o', 'p', 'e'};
        mb_start(&m, 0x0111, TXID);
        mb_attr(&m, 0x7FFF, junk, 5);
        mb_attr(&m, 0x0009, ec, 8);
        TT_EQ_INT(tse_stun_parse_response(m.b, m.n, TXID, &r), TSE_ERR_STUN_ERROR_RESPONSE);
        TT_EQ_INT(r.error_code, 420);
        TT_EQ_INT(r.reason_len, 4);
        TT_EQ_MEM(r.reason, "nope", 4);
    }
}

TT_TEST(error_code_rules)
{
    msgb m;
    tse_stun_response r;
    uint8_t ec[8] = {0, 0, 5, 0, 'o', 'o', 'p', 's'};
    mb_start(&m, 0x0111, TXID);
    mb_attr(&m, 0x0009, ec, 7);
    mb_fingerprint(&m);
    TT_EQ_INT(tse_stun_parse_response(m.b, m.n, TXID, &r), TSE_ERR_STUN_ERROR_RESPONSE);
    TT_EQ_INT(r.error_code, 500);
    TT_EQ_INT(r.reason_len, 3);
    /* class 2 is not an error class */
    ec[2] = 2;
    mb_start(&m, 0x0111, TXID);
    mb_attr(&m, 0x0009, ec, 8);
    TT_EQ_INT(tse_stun_parse_response(m.b, m.n, TXID, &r), TSE_ERR_STUN_ATTR);
    /* number above 99 */
    ec[2] = 4; ec[3] = 100;
    mb_start(&m, 0x0111, TXID);
    mb_attr(&m, 0x0009, ec, 8);
    TT_EQ_INT(tse_stun_parse_response(m.b, m.n, TXID, &r), TSE_ERR_STUN_ATTR);
    /* too short */
    mb_start(&m, 0x0111, TXID);
    mb_attr(&m, 0x0009, ec, 3);
    TT_EQ_INT(tse_stun_parse_response(m.b, m.n, TXID, &r), TSE_ERR_STUN_ATTR);
    /* error response without ERROR-CODE */
    mb_start(&m, 0x0111, TXID);
    TT_EQ_INT(tse_stun_parse_response(m.b, m.n, TXID, &r), TSE_ERR_STUN_ATTR);
    /* ERROR-CODE inside a success response */
    ec[3] = 0;
    mb_start(&m, 0x0101, TXID);
    mb_attr(&m, 0x0009, ec, 8);
    TT_EQ_INT(tse_stun_parse_response(m.b, m.n, TXID, &r), TSE_ERR_STUN_ATTR);
}

TT_TEST(structure_errors)
{
    msgb m;
    tse_stun_response r;
    static const uint8_t ip[4] = {1, 2, 3, 4};
    uint8_t x[8], bad[8];
    xor_v4(x, ip, 1);
    /* success without address */
    mb_start(&m, 0x0101, TXID);
    TT_EQ_INT(tse_stun_parse_response(m.b, m.n, TXID, &r), TSE_ERR_STUN_NO_ADDRESS);
    /* length not a multiple of 4 */
    mb_start(&m, 0x0101, TXID);
    mb_attr(&m, 0x0020, x, 8);
    m.b[3] = 10;
    TT_EQ_INT(tse_stun_parse_response(m.b, 30, TXID, &r), TSE_ERR_STUN_LENGTH);
    /* attribute overruns the message */
    mb_start(&m, 0x0101, TXID);
    mb_attr(&m, 0x0020, x, 8);
    m.b[23] = 12;
    TT_EQ_INT(tse_stun_parse_response(m.b, m.n, TXID, &r), TSE_ERR_STUN_ATTR);
    /* family 3 / wrong length for the family */
    memcpy(bad, x, 8); bad[1] = 3;
    mb_start(&m, 0x0101, TXID);
    mb_attr(&m, 0x0020, bad, 8);
    TT_EQ_INT(tse_stun_parse_response(m.b, m.n, TXID, &r), TSE_ERR_STUN_ATTR);
    bad[1] = 2;
    mb_start(&m, 0x0101, TXID);
    mb_attr(&m, 0x0020, bad, 8);
    TT_EQ_INT(tse_stun_parse_response(m.b, m.n, TXID, &r), TSE_ERR_STUN_ATTR);
    /* top bits set / wrong cookie */
    mb_start(&m, 0x0101, TXID);
    mb_attr(&m, 0x0020, x, 8);
    m.b[0] |= 0x40;
    TT_EQ_INT(tse_stun_parse_response(m.b, m.n, TXID, &r), TSE_ERR_STUN_NOT_STUN);
    m.b[0] &= 0x3f; m.b[7] ^= 1;
    TT_EQ_INT(tse_stun_parse_response(m.b, m.n, TXID, &r), TSE_ERR_STUN_NOT_STUN);
    /* indication type */
    m.b[7] ^= 1; m.b[1] = 0x11; m.b[0] = 0x00;
    TT_EQ_INT(tse_stun_parse_response(m.b, m.n, TXID, &r), TSE_ERR_STUN_TYPE);
    /* FINGERPRINT not last, or wrong */
    mb_start(&m, 0x0101, TXID);
    mb_fingerprint(&m);
    mb_attr(&m, 0x0020, x, 8);
    TT_EQ_INT(tse_stun_parse_response(m.b, m.n, TXID, &r), TSE_ERR_STUN_FINGERPRINT);
    mb_start(&m, 0x0101, TXID);
    mb_attr(&m, 0x0020, x, 8);
    mb_fingerprint(&m);
    m.b[m.n - 1] ^= 0x80;
    TT_EQ_INT(tse_stun_parse_response(m.b, m.n, TXID, &r), TSE_ERR_STUN_FINGERPRINT);
}

TT_TEST(attributes_after_integrity_ignored)
{
    msgb m;
    tse_stun_response r;
    static const uint8_t ip[4] = {9, 9, 9, 9}, ip2[4] = {8, 8, 8, 8};
    uint8_t x[8], x2[8], mi[20];
    memset(mi, 0xAB, sizeof mi);
    xor_v4(x, ip, 7);
    xor_v4(x2, ip2, 8);
    mb_start(&m, 0x0101, TXID);
    mb_attr(&m, 0x0020, x, 8);
    mb_attr(&m, 0x0008, mi, 20);
    mb_attr(&m, 0x7FFE, x2, 8); /* unknown required, but after MI: ignored */
    mb_fingerprint(&m);
    TT_EQ_INT(tse_stun_parse_response(m.b, m.n, TXID, &r), TSE_OK);
    TT_EQ_MEM(r.mapped.addr, ip, 4);
    TT_EQ_INT(r.has_integrity, 1);
    /* MESSAGE-INTEGRITY of the wrong size */
    mb_start(&m, 0x0101, TXID);
    mb_attr(&m, 0x0020, x, 8);
    mb_attr(&m, 0x0008, mi, 16);
    TT_EQ_INT(tse_stun_parse_response(m.b, m.n, TXID, &r), TSE_ERR_STUN_ATTR);
}

TT_TEST(request_null_arguments)
{
    uint8_t buf[64], txid[12];
    size_t n = 99;
    TT_EQ_INT(tse_stun_binding_request(NULL, sizeof buf, fill_entropy, NULL, 1, txid, &n), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_stun_binding_request(buf, sizeof buf, NULL, NULL, 1, txid, &n), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_stun_binding_request(buf, sizeof buf, fill_entropy, NULL, 1, NULL, &n), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_stun_binding_request(buf, sizeof buf, fill_entropy, NULL, 1, txid, NULL), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(n, 99);
    /* exactly the size needed, with and without FINGERPRINT */
    TT_EQ_INT(tse_stun_binding_request(buf, 27, fill_entropy, NULL, 1, txid, &n), TSE_ERR_BUFFER_TOO_SMALL);
    TT_EQ_INT(tse_stun_binding_request(buf, 28, fill_entropy, NULL, 1, txid, &n), TSE_OK);
    TT_EQ_INT(n, 28);
    TT_EQ_INT(tse_stun_binding_request(buf, 19, fill_entropy, NULL, 0, txid, &n), TSE_ERR_BUFFER_TOO_SMALL);
    TT_EQ_INT(tse_stun_binding_request(buf, 20, fill_entropy, NULL, 0, txid, &n), TSE_OK);
    TT_EQ_INT(n, 20);
    TT_EQ_INT(tse_stun_binding_request(buf, 20, fail_entropy, NULL, 0, txid, &n), TSE_ERR_DETECT_ENTROPY);
}

TT_TEST(fingerprint_of_wrong_size)
{
    msgb m;
    tse_stun_response r;
    static const uint8_t ip[4] = {1, 2, 3, 4};
    uint8_t x[8], fp8[8] = {0};
    xor_v4(x, ip, 1);
    mb_start(&m, 0x0101, TXID);
    mb_attr(&m, 0x0020, x, 8);
    mb_attr(&m, 0x8028, fp8, 8);
    TT_EQ_INT(tse_stun_parse_response(m.b, m.n, TXID, &r), TSE_ERR_STUN_ATTR);
}

/* RFC 8489 14.6: MESSAGE-INTEGRITY-SHA256 is 16..32 bytes, a multiple of 4. */
TT_TEST(integrity_sha256_lengths)
{
    static const struct { uint16_t len; int rc; } cases[] = {
        {12, TSE_ERR_STUN_ATTR}, {16, TSE_OK}, {18, TSE_ERR_STUN_ATTR}, {20, TSE_OK},
        {28, TSE_OK}, {32, TSE_OK}, {36, TSE_ERR_STUN_ATTR}};
    static const uint8_t ip[4] = {1, 2, 3, 4};
    uint8_t x[8], mac[40];
    size_t k;
    memset(mac, 0x5a, sizeof mac);
    xor_v4(x, ip, 1);
    for (k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        msgb m;
        tse_stun_response r;
        mb_start(&m, 0x0101, TXID);
        mb_attr(&m, 0x0020, x, 8);
        mb_attr(&m, 0x001C, mac, cases[k].len);
        TT_EQ_INT(tse_stun_parse_response(m.b, m.n, TXID, &r), cases[k].rc);
        if (cases[k].rc == TSE_OK)
            TT_EQ_INT(r.has_integrity, 1);
    }
}

TT_TEST(repeated_addresses_and_error_codes_first_counts)
{
    msgb m;
    tse_stun_response r;
    static const uint8_t p1[8] = {0, 1, 0x00, 0x01, 10, 0, 0, 1};
    static const uint8_t p2[8] = {0, 1, 0x00, 0x02, 10, 0, 0, 2};
    static const uint8_t ip[4] = {198, 51, 100, 1};
    static const uint8_t e1[8] = {0, 0, 4, 1, 'o', 'n', 'e', '!'};
    static const uint8_t e2[8] = {0, 0, 5, 2, 't', 'w', 'o', '!'};
    uint8_t x[8];
    /* two MAPPED-ADDRESS: the first */
    mb_start(&m, 0x0101, TXID);
    mb_attr(&m, 0x0001, p1, 8);
    mb_attr(&m, 0x0001, p2, 8);
    TT_EQ_INT(tse_stun_parse_response(m.b, m.n, TXID, &r), TSE_OK);
    TT_EQ_INT(r.mapped.port, 1);
    TT_EQ_INT(r.mapped.addr[3], 1);
    TT_EQ_INT(r.mapped_is_xor, 0);
    /* XOR first, MAPPED after: XOR still wins */
    xor_v4(x, ip, 4242);
    mb_start(&m, 0x0101, TXID);
    mb_attr(&m, 0x0020, x, 8);
    mb_attr(&m, 0x0001, p2, 8);
    TT_EQ_INT(tse_stun_parse_response(m.b, m.n, TXID, &r), TSE_OK);
    TT_EQ_INT(r.mapped.port, 4242);
    TT_EQ_MEM(r.mapped.addr, ip, 4);
    TT_EQ_INT(r.mapped_is_xor, 1);
    /* two ERROR-CODEs: the first */
    mb_start(&m, 0x0111, TXID);
    mb_attr(&m, 0x0009, e1, 8);
    mb_attr(&m, 0x0009, e2, 8);
    TT_EQ_INT(tse_stun_parse_response(m.b, m.n, TXID, &r), TSE_ERR_STUN_ERROR_RESPONSE);
    TT_EQ_INT(r.error_code, 401);
    TT_EQ_INT(r.reason_len, 4);
    TT_EQ_MEM(r.reason, "one!", 4);
}

/* RFC 8489 9.2.2: key = MD5(username ":" realm ":" password); empty
 * fields are allowed, a NULL field with a length is not. */
TT_TEST(long_term_key_and_null_arguments)
{
    static const uint8_t k_urp[16] = {0x44, 0xad, 0xd2, 0x2b, 0x6f, 0x31, 0x79, 0xb7,
                                      0x51, 0xea, 0xfd, 0x68, 0xee, 0x37, 0x0f, 0x7d};
    static const uint8_t k_empty[16] = {0x45, 0x01, 0xc0, 0x91, 0xb0, 0x36, 0x6d, 0x76,
                                        0xea, 0x32, 0x18, 0xb6, 0xcf, 0xdd, 0x80, 0x97};
    uint8_t key[16];
    size_t n = 5;
    tse_stun_msg m;
    TT_EQ_INT(tse_stun_long_term_key((const uint8_t *)"u", 1, (const uint8_t *)"r", 1,
                                     (const uint8_t *)"p", 1, key), TSE_OK);
    TT_EQ_MEM(key, k_urp, 16);
    TT_EQ_INT(tse_stun_long_term_key(NULL, 0, NULL, 0, NULL, 0, key), TSE_OK);
    TT_EQ_MEM(key, k_empty, 16);
    TT_EQ_INT(tse_stun_long_term_key(NULL, 1, (const uint8_t *)"r", 1, (const uint8_t *)"p", 1, key),
              TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_stun_long_term_key((const uint8_t *)"u", 1, NULL, 1, (const uint8_t *)"p", 1, key),
              TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_stun_long_term_key((const uint8_t *)"u", 1, (const uint8_t *)"r", 1, NULL, 1, key),
              TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_stun_long_term_key((const uint8_t *)"u", 1, (const uint8_t *)"r", 1,
                                     (const uint8_t *)"p", 1, NULL), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_stun_writer_finish(NULL, &n), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(n, 5);
    TT_EQ_INT(tse_stun_parse(RFC5769_V4, sizeof RFC5769_V4, NULL), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_stun_parse(NULL, 20, &m), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_stun_check_integrity(NULL, key, 16), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_stun_parse(RFC5769_V4, sizeof RFC5769_V4, &m), TSE_OK);
    TT_EQ_INT(tse_stun_check_integrity(&m, NULL, 16), TSE_ERR_INVALID_ARG);
}

int main(void)
{
    TT_RUN(crc32_check_value);
    TT_RUN(rfc5769_request_fingerprint);
    TT_RUN(rfc5769_ipv4_response);
    TT_RUN(rfc5769_ipv6_response);
    TT_RUN(rfc5769_every_bit_flip_detected);
    TT_RUN(rfc5769_wrong_txid_and_sizes);
    TT_RUN(encoder_request);
    TT_RUN(mapped_address_fallback_and_precedence);
    TT_RUN(unknown_attributes);
    TT_RUN(error_code_rules);
    TT_RUN(structure_errors);
    TT_RUN(attributes_after_integrity_ignored);
    TT_RUN(request_null_arguments);
    TT_RUN(fingerprint_of_wrong_size);
    TT_RUN(integrity_sha256_lengths);
    TT_RUN(repeated_addresses_and_error_codes_first_counts);
    TT_RUN(long_term_key_and_null_arguments);
    return TT_DONE();
}
