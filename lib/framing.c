/* Stream framing: the TLS-plaintext byte stream <-> units (CM, IPv4, IPv6).
 *
 * Each wire profile is one row of a small table: how to learn a unit's
 * length from its first bytes (incrementally), and how to frame a unit for
 * sending.  The feed loop is the same for every profile:
 *   - nothing buffered and the whole unit in the caller's input: hand out a
 *     pointer into the input (zero copy);
 *   - otherwise copy into the caller's buffer exactly as many bytes as the
 *     length walk asks for, so that we never take a byte of the next unit
 *     and never hold more than cap bytes.
 */
#include "tse/config.h"
#include "tse/framing.h"
#include "tse/error.h"

#include <assert.h>
#include <limits.h>
#include <string.h>

#define CM_HEADER_LEN 16u
#define IPV4_MIN_HEADER 20u
#define IPV6_HEADER_LEN 40u
#define FTT_HEADER_LEN 3u
#define FTT_TYPE_PACKET 1u

/* Length walk over the first @p n bytes of the current unit at @p p (the
 * caller's input or the deframer's buffer; the walk state in @p d makes it
 * resume where it stopped, so each byte is looked at once).
 * Returns a negative error; 0 when the length is known (d->need set); or a
 * positive count: the unit has at least that many bytes and the walk needs
 * them all to go on.  That count never exceeds d->cap, and stays far below
 * INT_MAX (a CM is at most 16 + 65535 * 257 bytes). */
typedef int (*unit_length_fn)(tse_deframer *d, const uint8_t *p, size_t n);
/* Write one unit framed for sending; bytes written or a negative error. */
typedef int (*frame_fn)(int kind, const uint8_t *data, size_t len,
                        uint8_t *out, size_t cap);

struct profile_ops {
    unit_length_fn unit_length;
    frame_fn frame;
    size_t overhead; /* bytes before the unit's own first byte */
};

static int ip_length(tse_deframer *d, const uint8_t *p, size_t n, size_t base)
{
    size_t len;

    switch (p[base] >> 4) {
    case 4: {
        /* RFC 791: IHL in 32-bit words, at least 5; Total Length counts the
         * header. */
        size_t ihl = (size_t)(p[base] & 0x0f) * 4u;
        if (ihl < IPV4_MIN_HEADER)
            return TSE_ERR_FRAME_IPV4_IHL;
        if (n < base + 4)
            return (int)(base + 4);
        len = ((size_t)p[base + 2] << 8) | p[base + 3];
        if (len < IPV4_MIN_HEADER || len < ihl)
            return TSE_ERR_FRAME_IPV4_LENGTH;
        break;
    }
    case 6:
        /* RFC 8200: Payload Length excludes the 40-byte fixed header. */
        if (n < base + 6)
            return (int)(base + 6);
        len = IPV6_HEADER_LEN + (((size_t)p[base + 4] << 8) | p[base + 5]);
        break;
    default:
        return TSE_ERR_FRAME_NIBBLE;
    }
    if (base + len > d->cap)
        return TSE_ERR_FRAME_TOO_BIG;
    d->need = base + len;
    return 0;
}

/* TR 33.830 Annex A: the first nibble says CM (CM_Version 1), IPv4 or IPv6
 * (table A.1.3: "Versions 4 and 6 reserved for IP payload"). */
static int tscf_unit_length(tse_deframer *d, const uint8_t *p, size_t n)
{
    assert(n > 0); /* the feed loop calls it only with bytes in hand */
    if ((p[0] >> 4) != TSE_UNIT_CM)
        return ip_length(d, p, n, 0);

    /* CM: 16-byte header, then TLV_Count TLVs of 2 + length bytes.  Walk
     * the TLV headers as they arrive; the unit is at least walk_off bytes
     * (plus 2 while TLVs remain), so exceeding cap is known early. */
    if (d->walk_off == 0) {
        if (n < CM_HEADER_LEN)
            return (int)CM_HEADER_LEN;
        d->walk_off = CM_HEADER_LEN;
        d->walk_left = ((uint32_t)p[2] << 8) | p[3];
    }
    while (d->walk_left > 0) {
        if (d->walk_off + 2 > d->cap)
            return TSE_ERR_FRAME_TOO_BIG;
        if (n < d->walk_off + 2)
            return (int)(d->walk_off + 2);
        d->walk_off += 2u + p[d->walk_off + 1];
        d->walk_left--;
    }
    if (d->walk_off > d->cap)
        return TSE_ERR_FRAME_TOO_BIG;
    d->need = d->walk_off;
    return 0;
}

static int tscf_frame(int kind, const uint8_t *data, size_t len,
                      uint8_t *out, size_t cap)
{
    if (len > cap)
        return TSE_ERR_BUFFER_TOO_SMALL;
    memmove(out, data, len);
    return (int)len;
}

/* TS 24.322: octet 1 Type (1 = one IPv4 or IPv6 packet), octets 2-3 Length
 * of the whole envelope including these 3 octets (> 3), then the packet.
 * The envelope Length is authoritative; the inner IP header is not
 * cross-checked here, only its version nibble. */
#if TSE_CONFIG_FTT
static int ftt_unit_length(tse_deframer *d, const uint8_t *p, size_t n)
{
    size_t len;

    assert(n > 0);
    if (p[0] != FTT_TYPE_PACKET)
        return TSE_ERR_FRAME_ENVELOPE;
    if (n < FTT_HEADER_LEN)
        return (int)FTT_HEADER_LEN;
    len = ((size_t)p[1] << 8) | p[2];
    if (len <= FTT_HEADER_LEN)
        return TSE_ERR_FRAME_ENVELOPE;
    if (len > d->cap)
        return TSE_ERR_FRAME_TOO_BIG;
    if (n < FTT_HEADER_LEN + 1)
        return (int)(FTT_HEADER_LEN + 1);
    if ((p[FTT_HEADER_LEN] >> 4) != TSE_UNIT_IPV4 &&
        (p[FTT_HEADER_LEN] >> 4) != TSE_UNIT_IPV6)
        return TSE_ERR_FRAME_NIBBLE;
    d->need = len;
    return 0;
}

static int ftt_frame(int kind, const uint8_t *data, size_t len,
                     uint8_t *out, size_t cap)
{
    size_t total = FTT_HEADER_LEN + len;

    if (kind == TSE_UNIT_CM || len == 0 || total > 0xFFFFu)
        return TSE_ERR_INVALID_ARG;
    if (total > cap)
        return TSE_ERR_BUFFER_TOO_SMALL;
    memmove(out + FTT_HEADER_LEN, data, len);
    out[0] = FTT_TYPE_PACKET;
    out[1] = (uint8_t)(total >> 8);
    out[2] = (uint8_t)total;
    return (int)total;
}

#endif /* TSE_CONFIG_FTT */

static const struct profile_ops profiles[] = {
    /* TSE_FRAMING_TSCF */ {tscf_unit_length, tscf_frame, 0},
#if TSE_CONFIG_FTT
    /* TSE_FRAMING_FTT */ {ftt_unit_length, ftt_frame, FTT_HEADER_LEN},
#endif
};
#define N_PROFILES (sizeof(profiles) / sizeof(profiles[0]))

static const struct profile_ops *ops_of(int profile)
{
    if (profile < 0 || (size_t)profile >= N_PROFILES)
        return NULL;
    return &profiles[profile];
}

static void start_unit(tse_deframer *d)
{
    d->have = 0;
    d->need = 0;
    d->walk_off = 0;
    d->walk_left = 0;
}

int tse_deframer_init(tse_deframer *d, int profile, uint8_t *buf, size_t cap)
{
    if (d == NULL || buf == NULL || ops_of(profile) == NULL || cap < 40)
        return TSE_ERR_INVALID_ARG;
    memset(d, 0, sizeof(*d));
    d->profile = profile;
    d->buf = buf;
    d->cap = cap;
    return TSE_OK;
}

void tse_deframer_reset(tse_deframer *d)
{
    if (d == NULL)
        return;
    start_unit(d);
    d->error = 0;
}

size_t tse_deframer_pending(const tse_deframer *d)
{
    return d == NULL ? 0 : d->have;
}

static int fail(tse_deframer *d, int err)
{
    d->error = err;
    start_unit(d); /* nothing is held after an error */
    return err;
}

static void emit(const struct profile_ops *ops, const uint8_t *p, size_t len,
                 tse_unit *unit)
{
    unit->kind = p[ops->overhead] >> 4;
    unit->data = p + ops->overhead;
    unit->len = len - ops->overhead;
}

int tse_deframer_feed(tse_deframer *d, const uint8_t *in, size_t len,
                      size_t *consumed, tse_unit *unit)
{
    const struct profile_ops *ops;
    size_t off = 0;
    int r;

    if (consumed != NULL)
        *consumed = 0;
    if (d == NULL || consumed == NULL || unit == NULL || (in == NULL && len > 0))
        return TSE_ERR_INVALID_ARG;
    ops = ops_of(d->profile);
    if (ops == NULL || d->buf == NULL)
        return TSE_ERR_INVALID_ARG;
    if (d->error != 0)
        return d->error;

    if (d->have == 0) {
        /* Zero-copy fast path: walk the caller's input directly. */
        if (len == 0)
            return 0;
        r = ops->unit_length(d, in, len);
        if (r < 0)
            return fail(d, r);
        if (r == 0 && d->need <= len) {
            emit(ops, in, d->need, unit);
            *consumed = d->need;
            start_unit(d);
            return 1;
        }
        /* Incomplete: every byte given belongs to this unit (the walk asked
         * for more than len, or need > len), and len < cap. */
        assert(len < d->cap);
        memcpy(d->buf, in, len);
        d->have = len;
        *consumed = len;
        return 0;
    }

    /* Buffered path: resume the walk (it only looks at new bytes). */
    for (;;) {
        size_t target, take;

        r = ops->unit_length(d, d->buf, d->have);
        if (r < 0) {
            *consumed = off;
            return fail(d, r);
        }
        target = r == 0 ? d->need : (size_t)r;
        assert(target <= d->cap && target >= d->have);
        if (r == 0 && d->have == d->need) {
            emit(ops, d->buf, d->need, unit);
            *consumed = off;
            d->have = 0; /* the unit stays readable in buf until next call */
            d->need = 0;
            d->walk_off = 0;
            d->walk_left = 0;
            return 1;
        }
        if (off == len) {
            *consumed = off;
            return 0;
        }
        take = target - d->have;
        if (take > len - off)
            take = len - off;
        memcpy(d->buf + d->have, in + off, take);
        d->have += take;
        off += take;
    }
}

int tse_frame_unit(int profile, int kind, const uint8_t *data, size_t len,
                   uint8_t *out, size_t cap)
{
    const struct profile_ops *ops = ops_of(profile);

    if (ops == NULL || out == NULL || (data == NULL && len > 0) ||
        (kind != TSE_UNIT_CM && kind != TSE_UNIT_IPV4 && kind != TSE_UNIT_IPV6) ||
        len > (size_t)INT_MAX - ops->overhead)
        return TSE_ERR_INVALID_ARG;
    /* The unit must say what it is: its first nibble is its kind. */
    if (len == 0 || (data[0] >> 4) != kind)
        return TSE_ERR_INVALID_ARG;
    return ops->frame(kind, data, len, out, cap);
}

size_t tse_frame_overhead(int profile)
{
    const struct profile_ops *ops = ops_of(profile);
    return ops == NULL ? 0 : ops->overhead;
}
