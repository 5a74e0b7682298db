/**
 * @file rfc4571.h
 * @brief RTP/RTCP over a byte stream (RFC 4571) and the demultiplexer of
 *        one transport shared by RTP, RTCP (rtcp-mux, RFC 5761), STUN,
 *        DTLS, ZRTP and TURN ChannelData (RFC 7983).
 *
 * TR 33.830 Annex W.3 carries media over TCP port 80 with RFC 4571
 * framing and rtcp-mux toward an IMS-AGW.  RFC 4571 2: every packet is
 * preceded by a 16-bit big-endian LENGTH that equals the packet's size;
 * "Zero is a valid value for LENGTH, and it codes the null packet".
 *
 * Pure: no I/O, no allocation.  The decoder is incremental (feed any
 * fragment, one byte at a time works), never reads past what it was
 * given and never holds more than the caller's buffer.
 *
 * @code
 *   uint8_t rx[1500];
 *   tse_rfc4571_decoder d;
 *   tse_rfc4571_decoder_init(&d, rx, sizeof rx);
 *   while (len > 0) {                       // bytes just read from TCP
 *       const uint8_t *pkt; size_t plen, used;
 *       int rc = tse_rfc4571_decode(&d, in, len, &used, &pkt, &plen);
 *       in += used; len -= used;
 *       if (rc == TSE_ERR_WOULD_BLOCK) break;   // all taken, need more
 *       if (rc < 0) { close the connection; break; }
 *       switch (tse_rfc4571_classify(pkt, plen)) { case TSE_DEMUX_RTP: ... }
 *   }
 * @endcode
 */
#ifndef TSE_RFC4571_H
#define TSE_RFC4571_H

#include <stddef.h>
#include <stdint.h>

#include "tse/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Bytes of the RFC 4571 LENGTH field. */
#define TSE_RFC4571_HEADER_LEN 2u
/** The largest packet a 16-bit LENGTH can frame. */
#define TSE_RFC4571_MAX_PACKET 65535u

/**
 * @brief Frame one packet: write LENGTH and the packet to @p out.
 *
 * @param[out] out      LENGTH + packet (2 + @p len bytes); may not overlap @p pkt
 * @param[in]  cap      size of @p out
 * @param[in]  pkt      the packet (may be NULL when @p len is 0: the null packet)
 * @param[in]  len      0 .. TSE_RFC4571_MAX_PACKET
 * @param[out] out_len  bytes written
 * @return TSE_OK, TSE_ERR_INVALID_ARG (NULL), TSE_ERR_RFC4571_TOO_BIG
 *         (@p len above 65535), TSE_ERR_BUFFER_TOO_SMALL
 */
TSE_API int tse_rfc4571_encode(uint8_t *out, size_t cap, const uint8_t *pkt, size_t len,
                               size_t *out_len);

/**
 * @brief Write only the 2-byte LENGTH (for a caller that sends the packet
 *        from its own buffer, e.g. with writev()).
 * @param[out] hdr  the LENGTH field, network byte order
 * @param[in]  len  the packet's length, 0 .. TSE_RFC4571_MAX_PACKET
 * @return TSE_OK, TSE_ERR_INVALID_ARG (@p hdr NULL),
 *         TSE_ERR_RFC4571_TOO_BIG (@p len above 65535)
 */
TSE_API int tse_rfc4571_header(uint8_t hdr[TSE_RFC4571_HEADER_LEN], size_t len);

/** Decoder state.  Fields are private; use the functions. */
typedef struct tse_rfc4571_decoder {
    /** @privatesection */
    uint8_t *buf;      /* caller's buffer for a packet split across reads */
    size_t cap;        /* = the largest packet accepted */
    uint8_t hdr[2];    /* LENGTH bytes seen so far */
    size_t hdr_have;   /* 0..2 */
    size_t need;       /* packet length once LENGTH is complete */
    size_t have;       /* packet bytes buffered */
    int error;         /* sticky: after an error the stream is lost */
} tse_rfc4571_decoder;

/**
 * @brief Initialise a decoder.  @p buf (owned by the caller, valid for
 *        the decoder's life) holds a packet that arrives in pieces;
 *        @p cap (1 .. 65535) is the largest packet accepted: a LENGTH
 *        above it fails with TSE_ERR_RFC4571_TOO_BIG before any of the
 *        packet is read.
 * @param[out] d    the decoder (caller storage)
 * @param[in]  buf  the buffer
 * @param[in]  cap  its size, 1 .. 65535
 * @return TSE_OK or TSE_ERR_INVALID_ARG (NULL, or @p cap out of range)
 */
TSE_API int tse_rfc4571_decoder_init(tse_rfc4571_decoder *d, uint8_t *buf, size_t cap);

/**
 * @brief Feed stream bytes; stop at the first complete packet.
 *
 * @param[in,out] d        the decoder
 * @param[in]     in       bytes from the stream (NULL allowed when @p len is 0)
 * @param[in]     len      how many
 * @param[out]    consumed bytes of @p in used (always set); feed the rest
 *                         again after handling the packet
 * @param[out]    pkt      the packet: points into @p in when it arrived
 *                         whole in this call, else into the decoder's
 *                         buffer; valid until the next call on @p d or
 *                         until @p in changes.  NULL for the null packet.
 * @param[out]    pkt_len  its length; 0 is the null packet (RFC 4571 2),
 *                         which a receiver normally ignores
 * @return TSE_OK (one packet), TSE_ERR_WOULD_BLOCK (all of @p in taken,
 *         no complete packet yet), TSE_ERR_RFC4571_TOO_BIG (LENGTH above
 *         the decoder's cap; sticky), TSE_ERR_INVALID_ARG
 */
TSE_API int tse_rfc4571_decode(tse_rfc4571_decoder *d, const uint8_t *in, size_t len,
                               size_t *consumed, const uint8_t **pkt, size_t *pkt_len);

/**
 * @brief Whether the stream may end here: call when the peer closed.
 * @param d  the decoder
 * @return TSE_ERR_INVALID_ARG for NULL; TSE_OK at a packet boundary, TSE_ERR_RFC4571_TRUNCATED in the
 *         middle of a frame, or the decoder's sticky error
 */
TSE_API int tse_rfc4571_decoder_at_eof(const tse_rfc4571_decoder *d);

/** What a packet on a shared media transport is. */
typedef enum tse_demux_kind {
    TSE_DEMUX_UNKNOWN = 0,   /**< none of the below (drop it) */
    TSE_DEMUX_NULL,          /**< RFC 4571 null packet (length 0) */
    TSE_DEMUX_STUN,          /**< first byte 0..3 (RFC 7983) with a STUN header */
    TSE_DEMUX_ZRTP,          /**< first byte 16..19 */
    TSE_DEMUX_DTLS,          /**< first byte 20..63 */
    TSE_DEMUX_TURN_CHANNEL,  /**< first byte 64..79: TURN ChannelData */
    TSE_DEMUX_RTP,           /**< version 2, second byte outside 192..223 */
    TSE_DEMUX_RTCP           /**< version 2, second byte 192..223 (RFC 5761 4) */
} tse_demux_kind;

/**
 * @brief Classify one packet by its first bytes (RFC 7983 5, RFC 5761 4).
 *
 * RFC 5761 4: with rtcp-mux, an RTCP packet type (the whole second octet)
 * is 192..223; RTP payload types 64..95 would collide with it (with the
 * marker bit set) and are not used, so a second octet in 192..223 is RTCP.
 * Minimum sizes are checked: RTP 12 bytes, RTCP 8 (header and sender
 * SSRC), STUN 20 with the magic cookie, ChannelData 4, DTLS 13 (record
 * header); anything shorter is TSE_DEMUX_UNKNOWN.
 * @param pkt  the packet (NULL with @p len 0: the null packet)
 * @param len  its length
 * @return its kind
 */
TSE_API tse_demux_kind tse_rfc4571_classify(const uint8_t *pkt, size_t len);

/**
 * @brief Whether RTP payload type @p pt (0..127) may be used on an
 *        rtcp-mux session.
 * @param pt  the payload type
 * @return 1 if usable; 0 for 64..95 (RFC 5761 4) and above 127
 */
TSE_API int tse_rtcp_mux_pt_ok(unsigned pt);

#ifdef __cplusplus
}
#endif
#endif /* TSE_RFC4571_H */
