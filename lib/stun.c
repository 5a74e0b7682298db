/* STUN Binding request encoder and strict response decoder (RFC 8489),
 * for the NAT-traversal probe of the detection (TR 33.830 8.4.2). */
#include "tse/config.h"
#if TSE_CONFIG_DETECT /* the whole file */

#include "stun.h"

#include <string.h>

static uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}

static uint32_t rd32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
           ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

static void wr16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void wr32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

uint32_t tse_stun_crc32(const uint8_t *data, size_t len)
{
    /* Bitwise CRC-32: a probe hashes a few dozen bytes, a table is not
     * worth its 1 KiB on a small target. */
    uint32_t crc = 0xFFFFFFFFu;
    size_t i;
    int k;
    for (i = 0; i < len; i++) {
        crc ^= data[i];
        for (k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    return crc ^ 0xFFFFFFFFu;
}

int tse_stun_binding_request(uint8_t *buf, size_t cap,
                             int (*entropy)(void *user, uint8_t *buf, size_t len),
                             void *ent_user, int fingerprint,
                             uint8_t txid[TSE_STUN_TXID_LEN], size_t *out_len)
{
    size_t need = TSE_STUN_HEADER_LEN + (fingerprint ? 8u : 0u);
    if (!buf || !entropy || !txid || !out_len)
        return TSE_ERR_INVALID_ARG;
    if (cap < need)
        return TSE_ERR_BUFFER_TOO_SMALL;
    if (entropy(ent_user, txid, TSE_STUN_TXID_LEN) != 0)
        return TSE_ERR_DETECT_ENTROPY;
    wr16(buf, TSE_STUN_BINDING_REQUEST);
    wr16(buf + 2, (uint16_t)(need - TSE_STUN_HEADER_LEN));
    wr32(buf + 4, TSE_STUN_MAGIC_COOKIE);
    memcpy(buf + 8, txid, TSE_STUN_TXID_LEN);
    if (fingerprint) {
        /* RFC 8489 14.7: CRC over the message up to the attribute, with
         * the header length already counting the FINGERPRINT itself. */
        uint8_t *a = buf + TSE_STUN_HEADER_LEN;
        wr16(a, TSE_STUN_ATTR_FINGERPRINT);
        wr16(a + 2, 4);
        wr32(a + 4, tse_stun_crc32(buf, TSE_STUN_HEADER_LEN) ^ TSE_STUN_FINGERPRINT_XOR);
    }
    *out_len = need;
    return TSE_OK;
}

/* RFC 8489 14.1 / 14.2: family, port, address; XOR'd with the cookie
 * (and for IPv6 with cookie || transaction ID) when @p xor_hdr is set. */
static int parse_address(const uint8_t *v, uint16_t vlen, const uint8_t *xor_hdr,
                         tse_stun_addr *out)
{
    size_t alen, i;
    if (vlen < 4)
        return TSE_ERR_STUN_ATTR;
    if (v[1] == 0x01)
        alen = 4;
    else if (v[1] == 0x02)
        alen = 16;
    else
        return TSE_ERR_STUN_ATTR;
    if (vlen != 4 + alen)
        return TSE_ERR_STUN_ATTR;
    memset(out, 0, sizeof *out); /* an IPv4 address leaves 12 bytes unused */
    out->family = alen == 4 ? 4 : 6;
    out->port = rd16(v + 2);
    memcpy(out->addr, v + 4, alen);
    if (xor_hdr) {
        /* xor_hdr points at the magic cookie; the 12-byte transaction ID
         * follows it, exactly the 16-byte mask IPv6 needs. */
        out->port ^= (uint16_t)(TSE_STUN_MAGIC_COOKIE >> 16);
        for (i = 0; i < alen; i++)
            out->addr[i] ^= xor_hdr[i];
    }
    return TSE_OK;
}

/* Comprehension-required attributes this decoder understands (or knows
 * it may ignore in a response to an unauthenticated Binding request). */
static int known_required(uint16_t t)
{
    switch (t) {
    case TSE_STUN_ATTR_MAPPED_ADDRESS:
    case TSE_STUN_ATTR_USERNAME:
    case TSE_STUN_ATTR_MESSAGE_INTEGRITY:
    case TSE_STUN_ATTR_ERROR_CODE:
    case TSE_STUN_ATTR_UNKNOWN_ATTRIBUTES:
    case TSE_STUN_ATTR_REALM:
    case TSE_STUN_ATTR_NONCE:
    case TSE_STUN_ATTR_MESSAGE_INTEGRITY_SHA256:
    case TSE_STUN_ATTR_PASSWORD_ALGORITHM:
    case TSE_STUN_ATTR_USERHASH:
    case TSE_STUN_ATTR_XOR_MAPPED_ADDRESS:
        return 1;
    default:
        return 0;
    }
}

int tse_stun_parse_response(const uint8_t *msg, size_t len,
                            const uint8_t txid[TSE_STUN_TXID_LEN],
                            tse_stun_response *out)
{
    uint16_t type, mlen;
    size_t off;
    int have_xor = 0, have_mapped = 0, have_error = 0, after_integrity = 0;
    int unknown_required = 0;
    tse_stun_addr mapped;

    if (!out)
        return TSE_ERR_INVALID_ARG;
    memset(out, 0, sizeof *out);
    if (!msg || !txid)
        return TSE_ERR_INVALID_ARG;
    if (len < TSE_STUN_HEADER_LEN)
        return TSE_ERR_STUN_TRUNCATED;
    /* RFC 8489 5: the two most significant bits are zero, then the cookie. */
    if ((msg[0] & 0xC0) != 0 || rd32(msg + 4) != TSE_STUN_MAGIC_COOKIE)
        return TSE_ERR_STUN_NOT_STUN;
    type = rd16(msg);
    mlen = rd16(msg + 2);
    if (mlen % 4 != 0)
        return TSE_ERR_STUN_LENGTH;
    if ((size_t)mlen + TSE_STUN_HEADER_LEN > len)
        return TSE_ERR_STUN_TRUNCATED;
    if ((size_t)mlen + TSE_STUN_HEADER_LEN != len)
        return TSE_ERR_STUN_LENGTH; /* a datagram is one message */
    if (type != TSE_STUN_BINDING_SUCCESS && type != TSE_STUN_BINDING_ERROR)
        return TSE_ERR_STUN_TYPE;
    if (memcmp(msg + 8, txid, TSE_STUN_TXID_LEN) != 0)
        return TSE_ERR_STUN_TXID;
    out->type = type;

    off = TSE_STUN_HEADER_LEN;
    while (off < len) {
        uint16_t at, alen;
        size_t padded;
        const uint8_t *v;
        if (len - off < 4)
            return TSE_ERR_STUN_ATTR;
        at = rd16(msg + off);
        alen = rd16(msg + off + 2);
        padded = ((size_t)alen + 3u) & ~(size_t)3u;
        if (padded > len - off - 4)
            return TSE_ERR_STUN_ATTR;
        v = msg + off + 4;

        if (at == TSE_STUN_ATTR_FINGERPRINT) {
            if (alen != 4)
                return TSE_ERR_STUN_ATTR;
            /* RFC 8489 14.7: it is the last attribute. */
            if (off + 8 != len)
                return TSE_ERR_STUN_FINGERPRINT;
            if ((tse_stun_crc32(msg, off) ^ TSE_STUN_FINGERPRINT_XOR) != rd32(v))
                return TSE_ERR_STUN_FINGERPRINT;
            out->has_fingerprint = 1;
        } else if (after_integrity) {
            /* RFC 8489 14.5: ignored after MESSAGE-INTEGRITY. */
        } else if (at == TSE_STUN_ATTR_MESSAGE_INTEGRITY ||
                   at == TSE_STUN_ATTR_MESSAGE_INTEGRITY_SHA256) {
            if ((at == TSE_STUN_ATTR_MESSAGE_INTEGRITY && alen != 20) ||
                (at == TSE_STUN_ATTR_MESSAGE_INTEGRITY_SHA256 &&
                 (alen < 16 || alen > 32 || alen % 4 != 0)))
                return TSE_ERR_STUN_ATTR;
            out->has_integrity = 1;
            after_integrity = 1;
        } else if (at == TSE_STUN_ATTR_XOR_MAPPED_ADDRESS ||
                   at == TSE_STUN_ATTR_MAPPED_ADDRESS) {
            int is_xor = at == TSE_STUN_ATTR_XOR_MAPPED_ADDRESS;
            int rc = parse_address(v, alen, is_xor ? msg + 4 : NULL, &mapped);
            if (rc != TSE_OK)
                return rc;
            /* RFC 8489 14.1: MAPPED-ADDRESS only for backwards
             * compatibility; an XOR-MAPPED-ADDRESS wins wherever it is.
             * Of repeated ones, the first counts. */
            if (is_xor && !have_xor) {
                out->mapped = mapped;
                out->mapped_is_xor = 1;
            } else if (!is_xor && !have_xor && !have_mapped) {
                out->mapped = mapped;
            }
            if (is_xor)
                have_xor = 1;
            else
                have_mapped = 1;
        } else if (at == TSE_STUN_ATTR_ERROR_CODE) {
            /* RFC 8489 14.8: 21 reserved bits, class 3..6, number 0..99,
             * reason phrase below 128 characters (763 bytes). */
            unsigned cls, num;
            if (alen < 4 || alen > 4 + 763)
                return TSE_ERR_STUN_ATTR;
            cls = v[2] & 0x07u;
            num = v[3];
            if (cls < 3 || cls > 6 || num > 99)
                return TSE_ERR_STUN_ATTR;
            if (!have_error) {
                out->error_code = (int)(cls * 100 + num);
                out->reason = v + 4;
                out->reason_len = (size_t)alen - 4;
                have_error = 1;
            }
        } else if (at < 0x8000u && !known_required(at)) {
            unknown_required = 1;
        }
        off += 4 + padded;
    }

    if (type == TSE_STUN_BINDING_ERROR) {
        if (!have_error)
            return TSE_ERR_STUN_ATTR;
        memset(&out->mapped, 0, sizeof out->mapped);
        out->mapped_is_xor = 0;
        return TSE_ERR_STUN_ERROR_RESPONSE;
    }
    /* RFC 8489 7.3.3: an unknown comprehension-required attribute in a
     * success response fails the transaction. */
    if (unknown_required)
        return TSE_ERR_STUN_UNKNOWN_ATTR;
    if (have_error)
        return TSE_ERR_STUN_ATTR; /* ERROR-CODE has no place in a success */
    if (!have_xor && !have_mapped)
        return TSE_ERR_STUN_NO_ADDRESS;
    return TSE_OK;
}

#else
/* ISO C: a translation unit is not empty */
typedef int tse_stun_compiled_out;
#endif /* TSE_CONFIG_DETECT */
