/* libFuzzer: the CM decoder on arbitrary bytes, and the codec round trip.
 *
 * 1. decode(input): never crashes; on success the message satisfies the
 *    decoder's promises and decode(encode(m)) == m (skipped TLVs aside).
 *    Several Padding TLVs are summed into padding_len; when the sum is
 *    above 255 the encoder (one Padding TLV, at most 255) cannot express
 *    it, so the round trip is checked with padding_len reduced to 255 -
 *    everything else must still match.
 * 2. The input read as a structured tse_cm: any encodable message encodes,
 *    decodes back to the same fields, and re-encodes to the same bytes.
 */
#include "tse/cm.h"
#include "tse/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c) do { if (!(c)) { \
    fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #c); \
    abort(); } } while (0)

#define ALL_PRESENT 0x7fu

static int cm_equal(const tse_cm *a, const tse_cm *b)
{
    return a->type == b->type && a->tsid == b->tsid && a->seq == b->seq &&
           a->present == b->present && a->response_code == b->response_code &&
           a->keepalive_s == b->keepalive_s &&
           memcmp(a->ipv4_addr, b->ipv4_addr, 4) == 0 &&
           memcmp(a->ipv4_mask, b->ipv4_mask, 4) == 0 &&
           memcmp(a->ipv6_addr, b->ipv6_addr, 16) == 0 &&
           memcmp(a->ipv6_mask, b->ipv6_mask, 16) == 0 &&
           a->padding_len == b->padding_len;
}

static void check_decoded(const tse_cm *m)
{
    static const uint8_t zero[16];
    CHECK(strcmp(tse_cm_type_name(m->type), "unknown") != 0);
    CHECK((m->present & ~ALL_PRESENT) == 0);
    CHECK(!(m->present & TSE_CM_HAS_IPV4_NETMASK) || (m->present & TSE_CM_HAS_IPV4_ADDRESS));
    CHECK(!(m->present & TSE_CM_HAS_IPV6_NETMASK) || (m->present & TSE_CM_HAS_IPV6_ADDRESS));
    CHECK(!(m->type == TSE_CM_CONFIG_RESPONSE || m->type == TSE_CM_RELEASE_RESPONSE) ||
          (m->present & TSE_CM_HAS_RESPONSE_CODE));
    /* absent fields are zero */
    if (!(m->present & TSE_CM_HAS_RESPONSE_CODE)) CHECK(m->response_code == 0);
    if (!(m->present & TSE_CM_HAS_KEEPALIVE)) CHECK(m->keepalive_s == 0);
    if (!(m->present & TSE_CM_HAS_PADDING)) CHECK(m->padding_len == 0);
    if (!(m->present & TSE_CM_HAS_IPV4_ADDRESS)) CHECK(memcmp(m->ipv4_addr, zero, 4) == 0);
    if (!(m->present & TSE_CM_HAS_IPV4_NETMASK)) CHECK(memcmp(m->ipv4_mask, zero, 4) == 0);
    if (!(m->present & TSE_CM_HAS_IPV6_ADDRESS)) CHECK(memcmp(m->ipv6_addr, zero, 16) == 0);
    if (!(m->present & TSE_CM_HAS_IPV6_NETMASK)) CHECK(memcmp(m->ipv6_mask, zero, 16) == 0);
    if (m->unknown_tlvs == 0) CHECK(m->first_unknown_tlv == 0);
}

/* encode(m) succeeds, decodes to m, and encoding is deterministic */
static void round_trip(const tse_cm *m)
{
    uint8_t out[TSE_CM_MAX_ENCODED], out2[TSE_CM_MAX_ENCODED];
    size_t n, n2;
    tse_cm back;
    CHECK(tse_cm_encode(m, out, sizeof(out), &n) == TSE_OK);
    CHECK(n >= TSE_CM_HEADER_LEN && n <= TSE_CM_MAX_ENCODED);
    CHECK(tse_cm_encode(m, out, n - 1, &n2) == TSE_ERR_BUFFER_TOO_SMALL);
    CHECK(tse_cm_decode(&back, out, n) == TSE_OK);
    CHECK(back.unknown_tlvs == 0);
    CHECK(cm_equal(&back, m));
    CHECK(tse_cm_encode(&back, out2, sizeof(out2), &n2) == TSE_OK);
    CHECK(n2 == n && memcmp(out, out2, n) == 0);
}

static void decode_arbitrary(const uint8_t *data, size_t size)
{
    tse_cm m;
    int r = tse_cm_decode(&m, data, size);
    if (r != TSE_OK) {
        CHECK(r <= TSE_ERR_CM_TRUNCATED && r >= TSE_ERR_CM_DUPLICATE_TLV);
        CHECK(strncmp(tse_strerror(r), "CM:", 3) == 0);
        return;
    }
    CHECK(size >= TSE_CM_HEADER_LEN);
    CHECK(m.type == data[1]);
    CHECK(m.seq == ((uint32_t)data[12] << 24 | (uint32_t)data[13] << 16 |
                    (uint32_t)data[14] << 8 | data[15]));
    check_decoded(&m);
    if ((m.present & TSE_CM_HAS_PADDING) && m.padding_len > 255)
        m.padding_len = 255; /* several Padding TLVs: see the file comment */
    m.unknown_tlvs = 0;
    m.first_unknown_tlv = 0;
    round_trip(&m);
}

static void encode_structured(const uint8_t *d, size_t size)
{
    static const uint8_t types[] = {1, 2, 5, 6, 7, 8};
    uint8_t raw[62];
    tse_cm m;
    uint8_t out[TSE_CM_MAX_ENCODED];
    size_t n;
    int r;

    memset(raw, 0, sizeof(raw));
    memcpy(raw, d, size < sizeof(raw) ? size : sizeof(raw));
    memset(&m, 0, sizeof(m));
    /* raw[0] picks any type, mostly valid ones; raw[1] the presence bits */
    m.type = (raw[0] & 0x80) ? raw[0] : types[raw[0] % 6];
    m.present = raw[1];
    memcpy(&m.seq, raw + 2, 4);
    memcpy(&m.tsid, raw + 6, 8);
    m.response_code = (uint16_t)(raw[14] << 8 | raw[15]);
    m.keepalive_s = (uint16_t)(raw[16] << 8 | raw[17]);
    memcpy(m.ipv4_addr, raw + 18, 4);
    memcpy(m.ipv4_mask, raw + 22, 4);
    memcpy(m.ipv6_addr, raw + 26, 16);
    memcpy(m.ipv6_mask, raw + 42, 16);
    m.padding_len = (uint16_t)(raw[58] << 8 | raw[59]) % 300;

    r = tse_cm_encode(&m, out, sizeof(out), &n);
    {
        uint32_t p = m.present;
        int encodable =
            strcmp(tse_cm_type_name(m.type), "unknown") != 0 &&
            (!(p & TSE_CM_HAS_IPV4_NETMASK) || (p & TSE_CM_HAS_IPV4_ADDRESS)) &&
            (!(p & TSE_CM_HAS_IPV6_NETMASK) || (p & TSE_CM_HAS_IPV6_ADDRESS)) &&
            (!(m.type == 2 || m.type == 6) || (p & TSE_CM_HAS_RESPONSE_CODE)) &&
            (!(p & TSE_CM_HAS_PADDING) || m.padding_len <= 255);
        CHECK(r == (encodable ? TSE_OK : TSE_ERR_INVALID_ARG));
        if (!encodable)
            return;
    }
    /* what decode gives back: the fields the presence bits select */
    m.present &= ALL_PRESENT;
    if (!(m.present & TSE_CM_HAS_RESPONSE_CODE)) m.response_code = 0;
    if (!(m.present & TSE_CM_HAS_KEEPALIVE)) m.keepalive_s = 0;
    if (!(m.present & TSE_CM_HAS_PADDING)) m.padding_len = 0;
    if (!(m.present & TSE_CM_HAS_IPV4_ADDRESS)) memset(m.ipv4_addr, 0, 4);
    if (!(m.present & TSE_CM_HAS_IPV4_NETMASK)) memset(m.ipv4_mask, 0, 4);
    if (!(m.present & TSE_CM_HAS_IPV6_ADDRESS)) memset(m.ipv6_addr, 0, 16);
    if (!(m.present & TSE_CM_HAS_IPV6_NETMASK)) memset(m.ipv6_mask, 0, 16);
    round_trip(&m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    decode_arbitrary(data, size);
    encode_structured(data, size);
    return 0;
}
