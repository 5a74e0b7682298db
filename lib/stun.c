/* STUN Binding request encoder and strict response decoder (RFC 8489),
 * for the NAT-traversal probe of the detection (TR 33.830 8.4.2). */
#include "tse/config.h"
#if TSE_CONFIG_DETECT || TSE_CONFIG_TURN /* the whole file */

#include "byteorder.h"
#include "stun.h"

#include <string.h>

#include <mbedtls/md5.h>
#include <mbedtls/sha1.h>
#include <mbedtls/sha256.h>
#include <mbedtls/version.h>

/* mbed TLS 2.28 spells the returning hash functions *_ret; 3.x dropped
 * the suffix.  The contexts are plain structs: no allocation, unlike
 * mbedtls_md_setup() which HMAC through the md layer would need. */
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
#define TSE_SHA1_STARTS(c) mbedtls_sha1_starts(c)
#define TSE_SHA1_UPDATE(c, p, n) mbedtls_sha1_update(c, p, n)
#define TSE_SHA1_FINISH(c, o) mbedtls_sha1_finish(c, o)
#define TSE_SHA256_STARTS(c) mbedtls_sha256_starts(c, 0)
#define TSE_SHA256_UPDATE(c, p, n) mbedtls_sha256_update(c, p, n)
#define TSE_SHA256_FINISH(c, o) mbedtls_sha256_finish(c, o)
#define TSE_MD5_STARTS(c) mbedtls_md5_starts(c)
#define TSE_MD5_UPDATE(c, p, n) mbedtls_md5_update(c, p, n)
#define TSE_MD5_FINISH(c, o) mbedtls_md5_finish(c, o)
#else
#define TSE_SHA1_STARTS(c) mbedtls_sha1_starts_ret(c)
#define TSE_SHA1_UPDATE(c, p, n) mbedtls_sha1_update_ret(c, p, n)
#define TSE_SHA1_FINISH(c, o) mbedtls_sha1_finish_ret(c, o)
#define TSE_SHA256_STARTS(c) mbedtls_sha256_starts_ret(c, 0)
#define TSE_SHA256_UPDATE(c, p, n) mbedtls_sha256_update_ret(c, p, n)
#define TSE_SHA256_FINISH(c, o) mbedtls_sha256_finish_ret(c, o)
#define TSE_MD5_STARTS(c) mbedtls_md5_starts_ret(c)
#define TSE_MD5_UPDATE(c, p, n) mbedtls_md5_update_ret(c, p, n)
#define TSE_MD5_FINISH(c, o) mbedtls_md5_finish_ret(c, o)
#endif

/* The attribute at @p off of a message of @p len bytes (RFC 8489 14): its
 * type, length, value and where the next one starts (after the padding);
 * TSE_ERR_STUN_ATTR if the padded value runs past the message.  The
 * header fits: the callers checked that the header length, a multiple of
 * 4, covers the message, and step from offset 20 in multiples of 4. */
static int attr_at(const uint8_t *msg, size_t len, size_t off, uint16_t *at,
                   uint16_t *alen, const uint8_t **v, size_t *next)
{
    *at = tse_be16_get(msg + off);
    *alen = tse_be16_get(msg + off + 2);
    *v = msg + off + 4;
    *next = off + (((size_t)*alen + 4u + 3u) & ~(size_t)3u); /* header + padded value */
    return *next > len ? TSE_ERR_STUN_ATTR : TSE_OK;
}

/* FINGERPRINT at @p off (length @p alen, value @p v; @p last if nothing
 * follows it): 4 bytes, the last attribute (RFC 8489 14.7), the CRC-32 of
 * what precedes it XOR 0x5354554e. */
static int fingerprint_check(const uint8_t *msg, size_t off, uint16_t alen,
                             const uint8_t *v, int last)
{
    if (alen != 4)
        return TSE_ERR_STUN_ATTR;
    if (!last)
        return TSE_ERR_STUN_FINGERPRINT;
    if ((tse_stun_crc32(msg, off) ^ tse_be32_get(v)) != TSE_STUN_FINGERPRINT_XOR)
        return TSE_ERR_STUN_FINGERPRINT;
    return TSE_OK;
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

typedef char stun_literals[(TSE_STUN_BINDING_REQUEST == 0x0001u &&
                            TSE_STUN_MAGIC_COOKIE == 0x2112A442u &&
                            TSE_STUN_ATTR_FINGERPRINT == 0x8028u) ? 1 : -1];

int tse_stun_binding_request(uint8_t *buf, size_t cap,
                             int (*entropy)(void *user, uint8_t *buf, size_t len),
                             void *ent_user, int fingerprint,
                             uint8_t txid[TSE_STUN_TXID_LEN], size_t *out_len)
{
    size_t extra = fingerprint ? 8u : 0u; /* the FINGERPRINT attribute */
    if (!buf || !entropy || !txid || !out_len)
        return TSE_ERR_INVALID_ARG;
    if (cap < TSE_STUN_HEADER_LEN + extra)
        return TSE_ERR_BUFFER_TOO_SMALL;
    if (entropy(ent_user, txid, TSE_STUN_TXID_LEN) != 0)
        return TSE_ERR_DETECT_ENTROPY;
    /* RFC 8489 5: type, length, magic cookie, transaction ID (the
     * literals spell TSE_STUN_BINDING_REQUEST, TSE_STUN_MAGIC_COOKIE and
     * TSE_STUN_ATTR_FINGERPRINT: stun_literals below) */
    static const uint8_t head[8] = { 0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xA4, 0x42 };
    static const uint8_t fp_attr[4] = { 0x80, 0x28, 0x00, 0x04 };
    memcpy(buf, head, sizeof head);
    buf[3] = (uint8_t)extra;
    memcpy(buf + 8, txid, TSE_STUN_TXID_LEN);
    *out_len = TSE_STUN_HEADER_LEN + extra;
    if (extra) {
        /* RFC 8489 14.7: CRC over the message up to the attribute, with
         * the header length already counting the FINGERPRINT itself. */
        memcpy(buf + TSE_STUN_HEADER_LEN, fp_attr, sizeof fp_attr);
        tse_be32_put(buf + TSE_STUN_HEADER_LEN + 4,
                     tse_stun_crc32(buf, TSE_STUN_HEADER_LEN) ^ TSE_STUN_FINGERPRINT_XOR);
    }
    return TSE_OK;
}

/* RFC 8489 14.1 / 14.2: an address attribute's value is a reserved
 * byte, the family (0x01 IPv4, 0x02 IPv6), the port and 4 or 16 bytes of
 * address. */
static int address_ok(const uint8_t *v, uint16_t vlen)
{
    /* 0x01 with 4 + 4 bytes, 0x02 with 4 + 16 */
    return (vlen == 8 || vlen == 20) && v[1] == 1u + vlen / 16u;
}

/* Decode an address that address_ok() accepted into a zeroed @p out (an
 * IPv4 address leaves the last 12 bytes as they are); XOR'd with the
 * cookie (and for IPv6 with cookie || transaction ID) when @p is_xor.
 * @p hdr points at the magic cookie; the 12-byte transaction ID follows
 * it, exactly the 16-byte mask IPv6 needs. */
static void address_get(const uint8_t *v, const uint8_t *hdr, int is_xor,
                        tse_stun_addr *out)
{
    /* family 0x01: 4 bytes, IPv4; 0x02: 16 bytes, IPv6 */
    size_t alen = (size_t)1 << (2 * v[1]), i;
    uint16_t port = tse_be16_get(v + 2);
    out->family = 2 + 2 * v[1];
    if (is_xor)
        port ^= tse_be16_get(hdr); /* the cookie's high half */
    out->port = port;
    for (i = 0; i < alen; i++)
        out->addr[i] = (uint8_t)(v[4 + i] ^ (is_xor ? hdr[i] : 0u));
}

/* Comprehension-required attributes this decoder understands (or knows
 * it may ignore in a response to an unauthenticated Binding request),
 * all within 0x0001..0x0020: one bit each. */
#define REQ_BIT(t) (1ul << ((t) - 1u))
static int known_required(uint16_t t)
{
    static const uint32_t known =
        REQ_BIT(TSE_STUN_ATTR_MAPPED_ADDRESS) | REQ_BIT(TSE_STUN_ATTR_USERNAME) |
        REQ_BIT(TSE_STUN_ATTR_MESSAGE_INTEGRITY) | REQ_BIT(TSE_STUN_ATTR_ERROR_CODE) |
        REQ_BIT(TSE_STUN_ATTR_UNKNOWN_ATTRIBUTES) | REQ_BIT(TSE_STUN_ATTR_REALM) |
        REQ_BIT(TSE_STUN_ATTR_NONCE) | REQ_BIT(TSE_STUN_ATTR_MESSAGE_INTEGRITY_SHA256) |
        REQ_BIT(TSE_STUN_ATTR_PASSWORD_ALGORITHM) | REQ_BIT(TSE_STUN_ATTR_USERHASH) |
        REQ_BIT(TSE_STUN_ATTR_XOR_MAPPED_ADDRESS);
    return (unsigned)t - 1u < 32u && ((known >> (t - 1u)) & 1u) != 0;
}

int tse_stun_parse_response(const uint8_t *msg, size_t len,
                            const uint8_t txid[TSE_STUN_TXID_LEN],
                            tse_stun_response *out)
{
    const uint8_t *addr = NULL; /* the value of the address that counts */
    uint16_t type, mlen;
    size_t off;
    int addr_xor = 0, unknown_required = 0, rc = TSE_OK;

    if (!out)
        return TSE_ERR_INVALID_ARG;
    memset(out, 0, sizeof *out);
    if (!msg || !txid)
        return TSE_ERR_INVALID_ARG;
    if (len < TSE_STUN_HEADER_LEN)
        return TSE_ERR_STUN_TRUNCATED;
    /* RFC 8489 5: the two most significant bits are zero, then the cookie. */
    if ((msg[0] & 0xC0) != 0 || tse_be32_get(msg + 4) != TSE_STUN_MAGIC_COOKIE)
        return TSE_ERR_STUN_NOT_STUN;
    type = tse_be16_get(msg);
    mlen = tse_be16_get(msg + 2);
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

    /* An ERROR-CODE seen is a non-zero error_code (300..699), a
     * MESSAGE-INTEGRITY has_integrity; the mapped address is decoded at
     * the end, whatever the outcome. */
    off = TSE_STUN_HEADER_LEN;
    while (off < len) {
        uint16_t at, alen;
        size_t next;
        const uint8_t *v;
        rc = attr_at(msg, len, off, &at, &alen, &v, &next);
        if (rc != TSE_OK)
            break;

        if (at == TSE_STUN_ATTR_FINGERPRINT) {
            rc = fingerprint_check(msg, off, alen, v, next == len);
            out->has_fingerprint = rc == TSE_OK;
            break; /* it is the last attribute, or the message fails */
        } else if (out->has_integrity) {
            /* RFC 8489 14.5: ignored after MESSAGE-INTEGRITY. */
        } else if (at == TSE_STUN_ATTR_MESSAGE_INTEGRITY ||
                   at == TSE_STUN_ATTR_MESSAGE_INTEGRITY_SHA256) {
            if (at == TSE_STUN_ATTR_MESSAGE_INTEGRITY
                    ? alen != TSE_STUN_INTEGRITY_LEN
                    : alen < 16 || alen > 32 || alen % 4 != 0) {
                rc = TSE_ERR_STUN_ATTR;
                break;
            }
            out->has_integrity = 1;
        } else if (at == TSE_STUN_ATTR_XOR_MAPPED_ADDRESS ||
                   at == TSE_STUN_ATTR_MAPPED_ADDRESS) {
            /* RFC 8489 14.1: MAPPED-ADDRESS only for backwards
             * compatibility; an XOR-MAPPED-ADDRESS wins wherever it is.
             * Of repeated ones, the first counts. */
            int is_xor = at == TSE_STUN_ATTR_XOR_MAPPED_ADDRESS;
            if (!address_ok(v, alen)) {
                rc = TSE_ERR_STUN_ATTR;
                break;
            }
            if (is_xor ? !addr_xor : !addr) {
                addr = v;
                addr_xor = is_xor;
            }
        } else if (at == TSE_STUN_ATTR_ERROR_CODE) {
            /* RFC 8489 14.8: 21 reserved bits, class 3..6, number 0..99,
             * reason phrase below 128 characters (763 bytes). */
            unsigned cls, num;
            if (alen < 4 || alen > 4 + 763) {
                rc = TSE_ERR_STUN_ATTR;
                break;
            }
            cls = v[2] & 0x07u;
            num = v[3];
            if (cls < 3 || cls > 6 || num > 99) {
                rc = TSE_ERR_STUN_ATTR;
                break;
            }
            if (!out->error_code) {
                out->error_code = (int)(cls * 100 + num);
                out->reason = v + 4;
                out->reason_len = (size_t)alen - 4;
            }
        } else if (at < 0x8000u) { /* comprehension-required (RFC 8489 14) */
            unknown_required |= !known_required(at);
        }
        off = next;
    }

    if (rc != TSE_OK) {
        /* the attribute that failed decides */
    } else if (type & 0x0010u) { /* RFC 8489 5: class bit C0, 0x0111 */
        rc = out->error_code ? TSE_ERR_STUN_ERROR_RESPONSE : TSE_ERR_STUN_ATTR;
    } else if (unknown_required) {
        /* RFC 8489 7.3.3: an unknown comprehension-required attribute in
         * a success response fails the transaction. */
        rc = TSE_ERR_STUN_UNKNOWN_ATTR;
    } else if (out->error_code) {
        rc = TSE_ERR_STUN_ATTR; /* ERROR-CODE has no place in a success */
    } else if (!addr) {
        rc = TSE_ERR_STUN_NO_ADDRESS;
    }
    /* An error response reports no address. */
    if (addr && rc != TSE_ERR_STUN_ERROR_RESPONSE) {
        address_get(addr, msg + 4, addr_xor, &out->mapped);
        out->mapped_is_xor = addr_xor;
    }
    return rc;
}

/* ------------------------------------------------------------------ */
/* Any message: type, writer, HMAC, generic decoder (TURN, RFC 8656)   */
/* The TURN client's alone: not in a build without it (tse/config.h).  */
#if TSE_CONFIG_TURN

uint16_t tse_stun_type(uint16_t method, int cls)
{
    unsigned m = method & 0xFFFu, c = (unsigned)cls & 3u;
    return (uint16_t)(((m & 0xF80u) << 2) | ((m & 0x070u) << 1) | (m & 0x00Fu) |
                      ((c & 1u) << 4) | ((c & 2u) << 7));
}

uint16_t tse_stun_method(uint16_t type)
{
    return (uint16_t)(((type >> 2) & 0xF80u) | ((type >> 1) & 0x070u) | (type & 0x00Fu));
}

int tse_stun_class(uint16_t type)
{
    return (int)(((type >> 4) & 1u) | ((type >> 7) & 2u));
}

/* HMAC (RFC 2104) over two pieces, SHA-1 or SHA-256, without the md
 * layer's heap. */
static void hmac2(int sha256, const uint8_t *key, size_t key_len,
                  const uint8_t *p1, size_t n1, const uint8_t *p2, size_t n2,
                  uint8_t out[32])
{
    uint8_t k[64], pad[64], inner[32];
    size_t dlen = sha256 ? 32u : 20u, i;
    memset(k, 0, sizeof k);
    if (key_len > 64) {
        if (sha256) {
            mbedtls_sha256_context c;
            mbedtls_sha256_init(&c);
            (void)TSE_SHA256_STARTS(&c);
            (void)TSE_SHA256_UPDATE(&c, key, key_len);
            (void)TSE_SHA256_FINISH(&c, k);
            mbedtls_sha256_free(&c);
        } else {
            mbedtls_sha1_context c;
            mbedtls_sha1_init(&c);
            (void)TSE_SHA1_STARTS(&c);
            (void)TSE_SHA1_UPDATE(&c, key, key_len);
            (void)TSE_SHA1_FINISH(&c, k);
            mbedtls_sha1_free(&c);
        }
    } else if (key_len > 0) {
        memcpy(k, key, key_len);
    }
    for (i = 0; i < 64; i++)
        pad[i] = (uint8_t)(k[i] ^ 0x36u);
    if (sha256) {
        mbedtls_sha256_context c;
        mbedtls_sha256_init(&c);
        (void)TSE_SHA256_STARTS(&c);
        (void)TSE_SHA256_UPDATE(&c, pad, 64);
        (void)TSE_SHA256_UPDATE(&c, p1, n1);
        if (n2)
            (void)TSE_SHA256_UPDATE(&c, p2, n2);
        (void)TSE_SHA256_FINISH(&c, inner);
        for (i = 0; i < 64; i++)
            pad[i] = (uint8_t)(k[i] ^ 0x5Cu);
        (void)TSE_SHA256_STARTS(&c);
        (void)TSE_SHA256_UPDATE(&c, pad, 64);
        (void)TSE_SHA256_UPDATE(&c, inner, dlen);
        (void)TSE_SHA256_FINISH(&c, out);
        mbedtls_sha256_free(&c);
    } else {
        mbedtls_sha1_context c;
        mbedtls_sha1_init(&c);
        (void)TSE_SHA1_STARTS(&c);
        (void)TSE_SHA1_UPDATE(&c, pad, 64);
        (void)TSE_SHA1_UPDATE(&c, p1, n1);
        if (n2)
            (void)TSE_SHA1_UPDATE(&c, p2, n2);
        (void)TSE_SHA1_FINISH(&c, inner);
        for (i = 0; i < 64; i++)
            pad[i] = (uint8_t)(k[i] ^ 0x5Cu);
        (void)TSE_SHA1_STARTS(&c);
        (void)TSE_SHA1_UPDATE(&c, pad, 64);
        (void)TSE_SHA1_UPDATE(&c, inner, dlen);
        (void)TSE_SHA1_FINISH(&c, out);
        mbedtls_sha1_free(&c);
    }
    memset(k, 0, sizeof k);
    memset(pad, 0, sizeof pad);
}

/* RFC 8489 14.5/14.6: the HMAC covers the message up to the integrity
 * attribute, with the header length counting through that attribute
 * (value @p vlen).  The header is hashed from a patched copy, so the
 * message itself is never written. */
static void integrity_of(int sha256, const uint8_t *msg, size_t attr_off, size_t vlen,
                         const uint8_t *key, size_t key_len, uint8_t out[32])
{
    uint8_t hdr[TSE_STUN_HEADER_LEN];
    memcpy(hdr, msg, sizeof hdr);
    tse_be16_put(hdr + 2, (uint16_t)(attr_off + 4 + vlen - TSE_STUN_HEADER_LEN));
    hmac2(sha256, key, key_len, hdr, sizeof hdr, msg + TSE_STUN_HEADER_LEN,
          attr_off - TSE_STUN_HEADER_LEN, out);
}

void tse_stun_writer_init(tse_stun_writer *w, uint8_t *buf, size_t cap,
                          uint16_t type, const uint8_t txid[TSE_STUN_TXID_LEN])
{
    memset(w, 0, sizeof *w);
    w->buf = buf;
    w->cap = cap;
    if (!buf || !txid) {
        w->err = TSE_ERR_INVALID_ARG;
        return;
    }
    if (cap < TSE_STUN_HEADER_LEN) {
        w->err = TSE_ERR_BUFFER_TOO_SMALL;
        return;
    }
    tse_be16_put(buf, type);
    tse_be16_put(buf + 2, 0);
    tse_be32_put(buf + 4, TSE_STUN_MAGIC_COOKIE);
    memcpy(buf + 8, txid, TSE_STUN_TXID_LEN);
    w->len = TSE_STUN_HEADER_LEN;
}

/* Reserve an attribute of value length @p vlen; NULL on error. */
static uint8_t *w_reserve(tse_stun_writer *w, uint16_t type, size_t vlen)
{
    size_t padded = (vlen + 3u) & ~(size_t)3u;
    uint8_t *a;
    if (w->err)
        return NULL;
    if (vlen > 0xFFFFu || w->len + 4 + padded - TSE_STUN_HEADER_LEN > 0xFFFFu) {
        w->err = TSE_ERR_INVALID_ARG;
        return NULL;
    }
    if (w->cap - w->len < 4 + padded) {
        w->err = TSE_ERR_BUFFER_TOO_SMALL;
        return NULL;
    }
    a = w->buf + w->len;
    tse_be16_put(a, type);
    tse_be16_put(a + 2, (uint16_t)vlen);
    memset(a + 4 + vlen, 0, padded - vlen);
    w->len += 4 + padded;
    tse_be16_put(w->buf + 2, (uint16_t)(w->len - TSE_STUN_HEADER_LEN));
    return a + 4;
}

void tse_stun_put_attr(tse_stun_writer *w, uint16_t type, const void *value, size_t len)
{
    uint8_t *v;
    if (!w->err && !value && len > 0)
        w->err = TSE_ERR_INVALID_ARG;
    v = w_reserve(w, type, len);
    if (v && len > 0)
        memcpy(v, value, len);
}

void tse_stun_put_u32(tse_stun_writer *w, uint16_t type, uint32_t val)
{
    uint8_t *v = w_reserve(w, type, 4);
    if (v)
        tse_be32_put(v, val);
}

void tse_stun_put_xor_addr(tse_stun_writer *w, uint16_t type, const tse_stun_addr *a)
{
    size_t alen, i;
    uint8_t *v;
    if (!w->err && (!a || (a->family != 4 && a->family != 6)))
        w->err = TSE_ERR_INVALID_ARG;
    alen = a && a->family == 6 ? 16u : 4u;
    v = w_reserve(w, type, 4 + alen);
    if (!v)
        return;
    v[0] = 0;
    v[1] = alen == 4 ? 0x01 : 0x02;
    tse_be16_put(v + 2, (uint16_t)(a->port ^ (TSE_STUN_MAGIC_COOKIE >> 16)));
    for (i = 0; i < alen; i++)
        v[4 + i] = (uint8_t)(a->addr[i] ^ w->buf[4 + i]); /* cookie || txid */
}

static void put_integrity(tse_stun_writer *w, int sha256, const uint8_t *key, size_t key_len)
{
    size_t vlen = sha256 ? 32u : TSE_STUN_INTEGRITY_LEN;
    size_t off = w->len;
    uint8_t mac[32];
    uint8_t *v;
    if (!w->err && !key && key_len > 0)
        w->err = TSE_ERR_INVALID_ARG;
    v = w_reserve(w, sha256 ? TSE_STUN_ATTR_MESSAGE_INTEGRITY_SHA256
                            : TSE_STUN_ATTR_MESSAGE_INTEGRITY, vlen);
    if (!v)
        return;
    integrity_of(sha256, w->buf, off, vlen, key, key_len, mac);
    memcpy(v, mac, vlen);
}

void tse_stun_put_integrity(tse_stun_writer *w, const uint8_t *key, size_t key_len)
{
    put_integrity(w, 0, key, key_len);
}

void tse_stun_put_integrity_sha256(tse_stun_writer *w, const uint8_t *key, size_t key_len)
{
    put_integrity(w, 1, key, key_len);
}

void tse_stun_put_fingerprint(tse_stun_writer *w)
{
    size_t off = w->len;
    uint8_t *v = w_reserve(w, TSE_STUN_ATTR_FINGERPRINT, 4);
    if (v)
        tse_be32_put(v, tse_stun_crc32(w->buf, off) ^ TSE_STUN_FINGERPRINT_XOR);
}

int tse_stun_writer_finish(const tse_stun_writer *w, size_t *out_len)
{
    if (!w || !out_len)
        return TSE_ERR_INVALID_ARG;
    *out_len = 0;
    if (w->err)
        return w->err;
    *out_len = w->len;
    return TSE_OK;
}

int tse_stun_long_term_key(const uint8_t *user, size_t user_len,
                           const uint8_t *realm, size_t realm_len,
                           const uint8_t *pass, size_t pass_len, uint8_t key[16])
{
    mbedtls_md5_context c;
    if ((!user && user_len) || (!realm && realm_len) || (!pass && pass_len) || !key)
        return TSE_ERR_INVALID_ARG;
    mbedtls_md5_init(&c);
    (void)TSE_MD5_STARTS(&c);
    if (user_len)
        (void)TSE_MD5_UPDATE(&c, user, user_len);
    (void)TSE_MD5_UPDATE(&c, (const uint8_t *)":", 1);
    if (realm_len)
        (void)TSE_MD5_UPDATE(&c, realm, realm_len);
    (void)TSE_MD5_UPDATE(&c, (const uint8_t *)":", 1);
    if (pass_len)
        (void)TSE_MD5_UPDATE(&c, pass, pass_len);
    (void)TSE_MD5_FINISH(&c, key);
    mbedtls_md5_free(&c);
    return TSE_OK;
}

int tse_stun_check_integrity(const tse_stun_msg *m, const uint8_t *key, size_t key_len)
{
    uint8_t mac[32];
    uint8_t diff = 0;
    size_t i, vlen, off;
    int sha256;
    if (!m || !m->raw || (!key && key_len))
        return TSE_ERR_INVALID_ARG;
    if (m->present & TSE_STUN_HAS_INTEGRITY) {
        sha256 = 0;
        off = m->integrity_off;
        vlen = TSE_STUN_INTEGRITY_LEN;
    } else if (m->present & TSE_STUN_HAS_INTEGRITY_SHA256) {
        sha256 = 1;
        off = m->integrity256_off;
        vlen = m->integrity256_len;
    } else {
        return TSE_ERR_TURN_INTEGRITY;
    }
    integrity_of(sha256, m->raw, off, vlen, key, key_len, mac);
    for (i = 0; i < vlen; i++) /* constant time */
        diff |= (uint8_t)(mac[i] ^ m->raw[off + 4 + i]);
    return diff == 0 ? TSE_OK : TSE_ERR_TURN_INTEGRITY;
}

/* Comprehension-required attributes the generic decoder knows. */
static int known_required_any(uint16_t t)
{
    switch (t) {
    case TSE_STUN_ATTR_CHANNEL_NUMBER:
    case TSE_STUN_ATTR_LIFETIME:
    case TSE_STUN_ATTR_XOR_PEER_ADDRESS:
    case TSE_STUN_ATTR_DATA:
    case TSE_STUN_ATTR_XOR_RELAYED_ADDRESS:
    case TSE_STUN_ATTR_REQUESTED_ADDRESS_FAMILY:
    case TSE_STUN_ATTR_EVEN_PORT:
    case TSE_STUN_ATTR_REQUESTED_TRANSPORT:
    case TSE_STUN_ATTR_DONT_FRAGMENT:
    case TSE_STUN_ATTR_RESERVATION_TOKEN:
    case TSE_STUN_ATTR_CONNECTION_ID:
        return 1;
    default:
        return known_required(t);
    }
}

static int text_ok(uint16_t alen, size_t max)
{
    return alen <= max;
}

int tse_stun_parse(const uint8_t *msg, size_t len, tse_stun_msg *out)
{
    uint16_t mlen;
    size_t off;
    int after_integrity = 0;

    if (!out)
        return TSE_ERR_INVALID_ARG;
    memset(out, 0, sizeof *out);
    if (!msg)
        return TSE_ERR_INVALID_ARG;
    if (len < TSE_STUN_HEADER_LEN)
        return TSE_ERR_STUN_TRUNCATED;
    if ((msg[0] & 0xC0) != 0 || tse_be32_get(msg + 4) != TSE_STUN_MAGIC_COOKIE)
        return TSE_ERR_STUN_NOT_STUN;
    mlen = tse_be16_get(msg + 2);
    if (mlen % 4 != 0)
        return TSE_ERR_STUN_LENGTH;
    if ((size_t)mlen + TSE_STUN_HEADER_LEN > len)
        return TSE_ERR_STUN_TRUNCATED;
    if ((size_t)mlen + TSE_STUN_HEADER_LEN != len)
        return TSE_ERR_STUN_LENGTH;
    out->raw = msg;
    out->len = len;
    out->type = tse_be16_get(msg);
    out->method = tse_stun_method(out->type);
    out->cls = tse_stun_class(out->type);
    out->txid = msg + 8;

    off = TSE_STUN_HEADER_LEN;
    while (off < len) {
        uint16_t at, alen;
        size_t next;
        const uint8_t *v;
        unsigned flag = 0;
        int rc = attr_at(msg, len, off, &at, &alen, &v, &next);
        if (rc != TSE_OK)
            return rc;

        if (at == TSE_STUN_ATTR_FINGERPRINT) {
            rc = fingerprint_check(msg, off, alen, v, next == len);
            if (rc != TSE_OK)
                return rc;
            out->present |= TSE_STUN_HAS_FINGERPRINT;
        } else if (at == TSE_STUN_ATTR_MESSAGE_INTEGRITY_SHA256) {
            /* RFC 8489 14.6: may follow MESSAGE-INTEGRITY; 16..32, x4 */
            if (alen < 16 || alen > 32 || alen % 4 != 0)
                return TSE_ERR_STUN_ATTR;
            if (!(out->present & TSE_STUN_HAS_INTEGRITY_SHA256)) {
                out->present |= TSE_STUN_HAS_INTEGRITY_SHA256;
                out->integrity256_off = off;
                out->integrity256_len = alen;
            }
            after_integrity = 1;
        } else if (after_integrity) {
            /* RFC 8489 14.5: ignored after MESSAGE-INTEGRITY */
        } else if (at == TSE_STUN_ATTR_MESSAGE_INTEGRITY) {
            if (alen != TSE_STUN_INTEGRITY_LEN)
                return TSE_ERR_STUN_ATTR;
            out->present |= TSE_STUN_HAS_INTEGRITY;
            out->integrity_off = off;
            after_integrity = 1;
        } else {
            switch (at) {
            case TSE_STUN_ATTR_XOR_MAPPED_ADDRESS:
            case TSE_STUN_ATTR_XOR_RELAYED_ADDRESS:
            case TSE_STUN_ATTR_XOR_PEER_ADDRESS:
                if (!address_ok(v, alen))
                    return TSE_ERR_STUN_ATTR;
                flag = at == TSE_STUN_ATTR_XOR_MAPPED_ADDRESS ? TSE_STUN_HAS_XOR_MAPPED
                     : at == TSE_STUN_ATTR_XOR_RELAYED_ADDRESS ? TSE_STUN_HAS_RELAYED
                     : TSE_STUN_HAS_PEER;
                if (!(out->present & flag)) /* still zero: out was cleared */
                    address_get(v, msg + 4, 1,
                                flag == TSE_STUN_HAS_XOR_MAPPED ? &out->xor_mapped
                                : flag == TSE_STUN_HAS_RELAYED ? &out->relayed
                                                               : &out->peer);
                break;
            case TSE_STUN_ATTR_LIFETIME:
            case TSE_STUN_ATTR_CONNECTION_ID:
            case TSE_STUN_ATTR_CHANNEL_NUMBER:
            case TSE_STUN_ATTR_REQUESTED_TRANSPORT:
                if (alen != 4)
                    return TSE_ERR_STUN_ATTR;
                if (at == TSE_STUN_ATTR_LIFETIME) {
                    flag = TSE_STUN_HAS_LIFETIME;
                    if (!(out->present & flag))
                        out->lifetime = tse_be32_get(v);
                } else if (at == TSE_STUN_ATTR_CONNECTION_ID) {
                    flag = TSE_STUN_HAS_CONNECTION_ID;
                    if (!(out->present & flag))
                        out->connection_id = tse_be32_get(v);
                } else if (at == TSE_STUN_ATTR_CHANNEL_NUMBER) {
                    /* RFC 8656 14.1: number, then RFFU (ignored) */
                    flag = TSE_STUN_HAS_CHANNEL;
                    if (!(out->present & flag))
                        out->channel = tse_be16_get(v);
                } else {
                    flag = TSE_STUN_HAS_REQUESTED_TRANSPORT;
                    if (!(out->present & flag))
                        out->requested_transport = v[0];
                }
                break;
            case TSE_STUN_ATTR_ERROR_CODE: {
                unsigned cls, num;
                if (alen < 4 || alen > 4 + TSE_STUN_TEXT_MAX)
                    return TSE_ERR_STUN_ATTR;
                cls = v[2] & 0x07u;
                num = v[3];
                if (cls < 3 || cls > 6 || num > 99)
                    return TSE_ERR_STUN_ATTR;
                flag = TSE_STUN_HAS_ERROR;
                if (!(out->present & flag)) {
                    out->error_code = (int)(cls * 100 + num);
                    out->reason = v + 4;
                    out->reason_len = (size_t)alen - 4;
                }
                break;
            }
            case TSE_STUN_ATTR_REALM:
            case TSE_STUN_ATTR_NONCE:
            case TSE_STUN_ATTR_USERNAME:
                if (!text_ok(alen, at == TSE_STUN_ATTR_USERNAME ? TSE_STUN_USERNAME_MAX
                                                               : TSE_STUN_TEXT_MAX))
                    return TSE_ERR_STUN_ATTR;
                flag = at == TSE_STUN_ATTR_REALM ? TSE_STUN_HAS_REALM
                     : at == TSE_STUN_ATTR_NONCE ? TSE_STUN_HAS_NONCE : TSE_STUN_HAS_USERNAME;
                if (!(out->present & flag)) {
                    if (flag == TSE_STUN_HAS_REALM) {
                        out->realm = v;
                        out->realm_len = alen;
                    } else if (flag == TSE_STUN_HAS_NONCE) {
                        out->nonce = v;
                        out->nonce_len = alen;
                    } else {
                        out->username = v;
                        out->username_len = alen;
                    }
                }
                break;
            case TSE_STUN_ATTR_DATA:
                flag = TSE_STUN_HAS_DATA;
                if (!(out->present & flag)) {
                    out->data = v;
                    out->data_len = alen;
                }
                break;
            default:
                if (at < 0x8000u && !known_required_any(at) && !out->unknown_required)
                    out->unknown_required = at;
                break;
            }
            out->present |= flag;
        }
        off = next;
    }
    return TSE_OK;
}
#endif /* TSE_CONFIG_TURN */

#else
/* ISO C: a translation unit is not empty */
typedef int tse_stun_compiled_out;
#endif /* TSE_CONFIG_DETECT || TSE_CONFIG_TURN */
