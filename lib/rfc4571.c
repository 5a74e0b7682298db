/* RTP/RTCP framing over a byte stream (RFC 4571) and the first-byte
 * demultiplexer of a shared media transport (RFC 5761 4, RFC 7983 5). */
#include "tse/rfc4571.h"

#include <string.h>

int tse_rfc4571_header(uint8_t hdr[TSE_RFC4571_HEADER_LEN], size_t len)
{
    if (!hdr)
        return TSE_ERR_INVALID_ARG;
    if (len > TSE_RFC4571_MAX_PACKET)
        return TSE_ERR_RFC4571_TOO_BIG;
    hdr[0] = (uint8_t)(len >> 8);
    hdr[1] = (uint8_t)len;
    return TSE_OK;
}

int tse_rfc4571_encode(uint8_t *out, size_t cap, const uint8_t *pkt, size_t len,
                       size_t *out_len)
{
    int rc;
    if (!out || !out_len || (!pkt && len > 0))
        return TSE_ERR_INVALID_ARG;
    *out_len = 0;
    if (len > TSE_RFC4571_MAX_PACKET)
        return TSE_ERR_RFC4571_TOO_BIG;
    if (cap < TSE_RFC4571_HEADER_LEN || cap - TSE_RFC4571_HEADER_LEN < len)
        return TSE_ERR_BUFFER_TOO_SMALL;
    rc = tse_rfc4571_header(out, len);
    if (rc != TSE_OK)
        return rc;
    if (len > 0)
        memcpy(out + TSE_RFC4571_HEADER_LEN, pkt, len);
    *out_len = TSE_RFC4571_HEADER_LEN + len;
    return TSE_OK;
}

int tse_rfc4571_decoder_init(tse_rfc4571_decoder *d, uint8_t *buf, size_t cap)
{
    if (!d)
        return TSE_ERR_INVALID_ARG;
    memset(d, 0, sizeof *d);
    if (!buf || cap == 0 || cap > TSE_RFC4571_MAX_PACKET)
        return TSE_ERR_INVALID_ARG;
    d->buf = buf;
    d->cap = cap;
    return TSE_OK;
}

int tse_rfc4571_decode(tse_rfc4571_decoder *d, const uint8_t *in, size_t len,
                       size_t *consumed, const uint8_t **pkt, size_t *pkt_len)
{
    size_t off = 0;

    if (consumed)
        *consumed = 0;
    if (pkt)
        *pkt = NULL;
    if (pkt_len)
        *pkt_len = 0;
    if (!d || !consumed || !pkt || !pkt_len || (!in && len > 0) || !d->buf)
        return TSE_ERR_INVALID_ARG;
    if (d->error)
        return d->error;

    while (d->hdr_have < TSE_RFC4571_HEADER_LEN) {
        if (off == len) {
            *consumed = off;
            return TSE_ERR_WOULD_BLOCK;
        }
        d->hdr[d->hdr_have++] = in[off++];
        if (d->hdr_have == TSE_RFC4571_HEADER_LEN) {
            d->need = ((size_t)d->hdr[0] << 8) | d->hdr[1];
            d->have = 0;
            /* Refused before any of the packet is read: a peer cannot
             * make us hold more than the configured maximum. */
            if (d->need > d->cap) {
                d->error = TSE_ERR_RFC4571_TOO_BIG;
                *consumed = off;
                return d->error;
            }
        }
    }

    if (d->have == 0 && len - off >= d->need) {
        /* The whole packet is in the caller's input: no copy. */
        *pkt = d->need > 0 ? in + off : NULL;
        *pkt_len = d->need;
        off += d->need;
    } else {
        size_t take = d->need - d->have;
        if (take > len - off)
            take = len - off;
        if (take > 0)
            memcpy(d->buf + d->have, in + off, take);
        d->have += take;
        off += take;
        if (d->have < d->need) {
            *consumed = off;
            return TSE_ERR_WOULD_BLOCK;
        }
        *pkt = d->buf;
        *pkt_len = d->need;
    }
    d->hdr_have = 0;
    d->need = 0;
    d->have = 0;
    *consumed = off;
    return TSE_OK;
}

int tse_rfc4571_decoder_at_eof(const tse_rfc4571_decoder *d)
{
    if (!d)
        return TSE_ERR_INVALID_ARG;
    if (d->error)
        return d->error;
    return d->hdr_have == 0 ? TSE_OK : TSE_ERR_RFC4571_TRUNCATED;
}

tse_demux_kind tse_rfc4571_classify(const uint8_t *pkt, size_t len)
{
    uint8_t b;
    if (len == 0)
        return TSE_DEMUX_NULL;
    if (!pkt)
        return TSE_DEMUX_UNKNOWN;
    b = pkt[0];
    /* RFC 7983 5: the first byte's range says the protocol. */
    if (b <= 3) {
        /* RFC 8489 5: 20-byte header with the magic cookie 0x2112A442 */
        if (len >= 20 && pkt[4] == 0x21 && pkt[5] == 0x12 && pkt[6] == 0xA4 &&
            pkt[7] == 0x42)
            return TSE_DEMUX_STUN;
        return TSE_DEMUX_UNKNOWN;
    }
    if (b >= 16 && b <= 19)
        return TSE_DEMUX_ZRTP;
    if (b >= 20 && b <= 63)
        return len >= 13 ? TSE_DEMUX_DTLS : TSE_DEMUX_UNKNOWN;
    if (b >= 64 && b <= 79)
        return len >= 4 ? TSE_DEMUX_TURN_CHANNEL : TSE_DEMUX_UNKNOWN;
    if (b >= 128 && b <= 191) {
        /* RFC 5761 4: the second octet 192..223 is an RTCP packet type
         * (RTP payload types 64..95 are not used with rtcp-mux). */
        if (len >= 2 && pkt[1] >= 192 && pkt[1] <= 223)
            return len >= 8 ? TSE_DEMUX_RTCP : TSE_DEMUX_UNKNOWN;
        return len >= 12 ? TSE_DEMUX_RTP : TSE_DEMUX_UNKNOWN;
    }
    return TSE_DEMUX_UNKNOWN;
}

int tse_rtcp_mux_pt_ok(unsigned pt)
{
    return pt <= 127 && !(pt >= 64 && pt <= 95);
}
