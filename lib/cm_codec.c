/* TSCF Control Messages (TR 33.830 Annex A.1): encode and decode.
 *
 * Pure functions over caller buffers: no allocation, no state.  The decoder
 * is strict about everything the TR fixes (header bits, TLV sizes, the
 * netmask/address pairing, Response_Code in responses) and lenient about
 * what it leaves open (TLV order, reserved TLV types, Padding anywhere).
 */
#include "tse/cm.h"
#include "tse/config.h"
#include "tse/error.h"
#include "byteorder.h"

#include <string.h>

static int known_type(uint8_t type)
{
    switch (type) {
    case TSE_CM_CONFIG_REQUEST:
    case TSE_CM_CONFIG_RESPONSE:
    case TSE_CM_RELEASE_REQUEST:
    case TSE_CM_RELEASE_RESPONSE:
    case TSE_CM_KEEPALIVE:
    case TSE_CM_KEEPALIVE_RESPONSE:
        return 1;
    default:
        return 0;
    }
}

int tse_cm_is_response(uint8_t type)
{
    return type == TSE_CM_CONFIG_RESPONSE || type == TSE_CM_RELEASE_RESPONSE ||
           type == TSE_CM_KEEPALIVE_RESPONSE;
}

/* Responses that must carry Response_Code.  Table A.1.5-1 says it is "not
 * optional in responses" and A.1.5-2 that every response carries one, but
 * table A.1.8-2 gives Keep_Alive_Response TLV_Count 0 ("No additional TLVs
 * in KAM response").  The specific table wins for type 8: Response_Code is
 * optional there, required for types 2 (table A.1.6-4) and 6 (A.1.7-3). */
static int needs_response_code(uint8_t type)
{
    return type == TSE_CM_CONFIG_RESPONSE || type == TSE_CM_RELEASE_RESPONSE;
}

/* The rules between TLVs, for the decoder (which error) and the encoder
 * (which refuses what the decoder would refuse). */
static int check_tlv_set(uint8_t type, uint32_t pr)
{
    /* Table A.1.5-1: a netmask "MUST be used only with" its address. */
    if (((pr & TSE_CM_HAS_IPV4_NETMASK) && !(pr & TSE_CM_HAS_IPV4_ADDRESS)) ||
        ((pr & TSE_CM_HAS_IPV6_NETMASK) && !(pr & TSE_CM_HAS_IPV6_ADDRESS)))
        return TSE_ERR_CM_MASK_WITHOUT_ADDR;
    if (needs_response_code(type) && !(pr & TSE_CM_HAS_RESPONSE_CODE))
        return TSE_ERR_CM_NO_RESPONSE_CODE;
    return TSE_OK;
}

const char *tse_cm_type_name(uint8_t type)
{
#if !TSE_CONFIG_STRINGS
    (void)type;
    return ""; /* names compiled out (tse/config.h), like tse_strerror() */
#else
    /* The names in Message_Type order (TR 33.830 A.1.1), "" for the
     * unassigned 0, 3 and 4: a packed list rather than a switch and its
     * table of pointers. */
    static const char names[] =
        "\0Configuration_Request\0Configuration_Response\0\0\0"
        "Configuration_Release_Request\0Configuration_Release_Response\0"
        "Keep_Alive\0Keep_Alive_Response";
    const char *p = names;
    unsigned i = type <= TSE_CM_KEEPALIVE_RESPONSE ? type : 0;
    while (i-- > 0) {
        while (*p++ != '\0') {
        }
    }
    return *p != '\0' ? p : "unknown";
#endif
}

/* For a known fixed-size TLV: its presence bit, required length and where
 * its value goes.  Returns 0 for Padding and reserved types. */
static uint32_t tlv_slot(tse_cm *m, uint8_t t, size_t *want, uint8_t **dst)
{
    switch (t) {
    case TSE_TLV_RESPONSE_CODE:
        *want = 2; *dst = NULL;
        return TSE_CM_HAS_RESPONSE_CODE;
    case TSE_TLV_IPV4_ADDRESS:
        *want = 4; *dst = m->ipv4_addr;
        return TSE_CM_HAS_IPV4_ADDRESS;
    case TSE_TLV_IPV4_NETMASK:
        *want = 4; *dst = m->ipv4_mask;
        return TSE_CM_HAS_IPV4_NETMASK;
    case TSE_TLV_KEEPALIVE_INTERVAL:
        *want = 2; *dst = NULL;
        return TSE_CM_HAS_KEEPALIVE;
    case TSE_TLV_IPV6_ADDRESS:
        *want = 16; *dst = m->ipv6_addr;
        return TSE_CM_HAS_IPV6_ADDRESS;
    case TSE_TLV_IPV6_NETMASK:
        *want = 16; *dst = m->ipv6_mask;
        return TSE_CM_HAS_IPV6_NETMASK;
    default:
        return 0;
    }
}

int tse_cm_decode(tse_cm *out, const uint8_t *buf, size_t len)
{
    size_t off;
    uint32_t i, count;

    if (out == NULL || (buf == NULL && len > 0))
        return TSE_ERR_INVALID_ARG;
    memset(out, 0, sizeof(*out));

    /* Header, table A.1.3: checked in byte order so that each defect maps
     * to exactly one error. */
    if (len < TSE_CM_HEADER_LEN)
        return TSE_ERR_CM_TRUNCATED;
    if ((buf[0] >> 4) != TSE_CM_VERSION)
        return TSE_ERR_CM_VERSION;
    if (((buf[0] >> 2) & 3u) != 0)
        return TSE_ERR_CM_INDICATION;
    if ((buf[0] & 3u) != 0)
        return TSE_ERR_CM_RESERVED;
    if (!known_type(buf[1]))
        return TSE_ERR_CM_TYPE;
    out->type = buf[1];
    count = tse_be16_get(buf + 2);
    out->tsid = ((uint64_t)tse_be32_get(buf + 4) << 32) | tse_be32_get(buf + 8);
    out->seq = tse_be32_get(buf + 12);

    off = TSE_CM_HEADER_LEN;
    for (i = 0; i < count; i++) {
        uint8_t t;
        size_t l, want = 0;
        uint8_t *dst = NULL;
        uint32_t bit;
        const uint8_t *v;

        if (off == len)
            return TSE_ERR_CM_TLV_COUNT; /* fewer TLVs than TLV_Count */
        if (len - off < 2)
            return TSE_ERR_CM_TLV_OVERRUN;
        t = buf[off];
        l = buf[off + 1];
        if (len - off - 2 < l)
            return TSE_ERR_CM_TLV_OVERRUN;
        v = buf + off + 2;
        off += 2 + l;

        if (t == TSE_TLV_PADDING) {
            /* Table A.1.5-1: any length, for alignment; may repeat.  The
             * sum saturates (a 16-bit field cannot hold 65535 * 255). */
            unsigned long sum = (unsigned long)out->padding_len + l;
            out->padding_len = (uint16_t)(sum > 0xFFFFu ? 0xFFFFu : sum);
            out->present |= TSE_CM_HAS_PADDING;
            continue;
        }
        bit = tlv_slot(out, t, &want, &dst);
        if (bit == 0) {
            /* Reserved types (0-2, 7, 9-17, 20-255): skip, for forward
             * compatibility, and remember that we did. */
            if (out->unknown_tlvs == 0)
                out->first_unknown_tlv = t;
            out->unknown_tlvs++;
            continue;
        }
        if (l != want)
            return TSE_ERR_CM_TLV_LENGTH;
        if (out->present & bit)
            return TSE_ERR_CM_DUPLICATE_TLV;
        out->present |= bit;
        if (dst != NULL)
            memcpy(dst, v, want);
        else if (t == TSE_TLV_RESPONSE_CODE)
            out->response_code = tse_be16_get(v);
        else
            out->keepalive_s = tse_be16_get(v);
    }
    if (off != len)
        return TSE_ERR_CM_TLV_COUNT; /* bytes after the counted TLVs */

    return check_tlv_set(out->type, out->present);
}

static uint8_t *put_tlv(uint8_t *p, uint8_t type, const uint8_t *v, uint8_t l)
{
    p[0] = type;
    p[1] = l;
    if (v != NULL)
        memcpy(p + 2, v, l);
    else
        memset(p + 2, 0, l);
    return p + 2 + l;
}

/* The fixed-size TLVs in the order they are encoded (Padding goes last). */
static const uint8_t encode_order[] = {
    TSE_TLV_RESPONSE_CODE, TSE_TLV_IPV4_ADDRESS, TSE_TLV_IPV4_NETMASK,
    TSE_TLV_IPV6_ADDRESS, TSE_TLV_IPV6_NETMASK, TSE_TLV_KEEPALIVE_INTERVAL
};

int tse_cm_encode(const tse_cm *m, uint8_t *buf, size_t cap, size_t *written)
{
    uint32_t pr;
    size_t need = TSE_CM_HEADER_LEN, want, i;
    uint16_t count = 0;
    uint8_t tmp[2];
    uint8_t *p, *dst;
    /* tlv_slot() only hands out pointers into *m: read, never written */
    tse_cm *mm = (tse_cm *)(uintptr_t)m;

    if (written != NULL)
        *written = 0;
    if (m == NULL || written == NULL || (buf == NULL && cap > 0))
        return TSE_ERR_INVALID_ARG;
    pr = m->present;
    if (!known_type(m->type))
        return TSE_ERR_INVALID_ARG;
    /* Refuse what the decoder would refuse, so encode output always
     * decodes back to the same message. */
    if (check_tlv_set(m->type, pr) != TSE_OK ||
        ((pr & TSE_CM_HAS_PADDING) && m->padding_len > 255))
        return TSE_ERR_INVALID_ARG;

    /* one table for both passes (size, then bytes): the decoder's */
    for (i = 0; i < sizeof(encode_order); i++) {
        if (pr & tlv_slot(mm, encode_order[i], &want, &dst)) {
            need += 2 + want;
            count++;
        }
    }
    if (pr & TSE_CM_HAS_PADDING) { need += 2u + m->padding_len; count++; }
    if (need > cap)
        return TSE_ERR_BUFFER_TOO_SMALL;

    p = buf;
    p[0] = (uint8_t)(TSE_CM_VERSION << 4); /* CM_Indication 0, reserved 0 */
    p[1] = m->type;
    tse_be16_put(p + 2, count);
    tse_be32_put(p + 4, (uint32_t)(m->tsid >> 32));
    tse_be32_put(p + 8, (uint32_t)m->tsid);
    tse_be32_put(p + 12, m->seq);
    p += TSE_CM_HEADER_LEN;

    for (i = 0; i < sizeof(encode_order); i++) {
        uint8_t t = encode_order[i];
        if (!(pr & tlv_slot(mm, t, &want, &dst)))
            continue;
        if (dst == NULL) { /* the two 16-bit values */
            tse_be16_put(tmp, t == TSE_TLV_RESPONSE_CODE ? m->response_code : m->keepalive_s);
            dst = tmp;
        }
        p = put_tlv(p, t, dst, (uint8_t)want);
    }
    if (pr & TSE_CM_HAS_PADDING)
        p = put_tlv(p, TSE_TLV_PADDING, NULL, (uint8_t)m->padding_len);

    *written = (size_t)(p - buf);
    return TSE_OK;
}
