/**
 * @file framing.h
 * @brief Split the TLS-plaintext byte stream into units (CM, IPv4, IPv6).
 *
 * Wire profiles:
 *  - TSE_FRAMING_TSCF (TR 33.830 Annex A): units back to back; the first
 *    nibble says the kind (1 = CM, 4 = IPv4, 6 = IPv6) and the unit's own
 *    header gives its length (CM: header + TLV_Count TLVs; IPv4: total
 *    length; IPv6: 40 + payload length).
 *  - TSE_FRAMING_FTT (TS 24.322): every packet in an envelope: octet 1
 *    Type (= 1, one IPv4 or IPv6 packet), octets 2-3 Length of the whole
 *    envelope including these 3 octets (> 3), then the packet.  The
 *    deframer yields the inner packet (kind from its first nibble, 4 or 6;
 *    the inner IP header is not cross-checked against Length); no CMs.
 *
 * The deframer is incremental: feed it any fragment (one byte at a time
 * works); it never reads past what it was given and never holds more than
 * @c cap bytes, in the caller's buffer.  A CM's length is found by walking
 * its TLV headers as they arrive, never re-walking from the start.
 *
 * Errors, checked as soon as the bytes that show them have arrived, in
 * wire order (so the result does not depend on how the stream was cut):
 *   TSCF: first nibble not 1/4/6 -> TSE_ERR_FRAME_NIBBLE; IPv4 IHL < 5 ->
 *   TSE_ERR_FRAME_IPV4_IHL; IPv4 total length < 20 or < IHL*4 ->
 *   TSE_ERR_FRAME_IPV4_LENGTH; unit longer than cap -> TSE_ERR_FRAME_TOO_BIG
 *   (for a CM, as soon as the TLVs walked so far exceed cap).
 *   FTT: Type != 1 or Length <= 3 -> TSE_ERR_FRAME_ENVELOPE; Length > cap
 *   -> TSE_ERR_FRAME_TOO_BIG; inner first nibble not 4/6 ->
 *   TSE_ERR_FRAME_NIBBLE.
 */
#ifndef TSE_FRAMING_H
#define TSE_FRAMING_H

#include <stddef.h>
#include <stdint.h>

#include "tse/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/** How units are delimited in the TLS plaintext stream. */
enum tse_framing_profile {
    TSE_FRAMING_TSCF = 0, /**< TR 33.830 Annex A: units back to back, each
                               delimited by its own length (CM, IP header) */
    TSE_FRAMING_FTT = 1   /**< TS 24.322 envelope: type and length before
                               each IP packet (no CMs) */
};

/** What a unit is; its first nibble on the wire. */
enum tse_unit_kind {
    TSE_UNIT_CM = 1,   /**< a control message (CM_Version 1) */
    TSE_UNIT_IPV4 = 4, /**< an IPv4 packet */
    TSE_UNIT_IPV6 = 6  /**< an IPv6 packet */
};

/** One complete unit.  @c data stays valid until the next call on the
 *  deframer (it points into the caller's input or the deframer's buffer). */
typedef struct tse_unit {
    int kind;              /**< enum tse_unit_kind */
    const uint8_t *data;   /**< the unit, without framing */
    size_t len;            /**< its length */
} tse_unit;

/** Deframer state.  Fields are private; use the functions. */
typedef struct tse_deframer {
    /** @privatesection */
    int profile;
    uint8_t *buf;          /* caller's buffer, holds a partial unit */
    size_t cap;            /* = maximum unit size */
    size_t have;           /* bytes buffered */
    size_t need;           /* total unit length once known, else 0 */
    /* CM length walk: offset of next TLV header, TLVs still to walk */
    size_t walk_off;
    uint32_t walk_left;
    int error;             /* sticky: after an error the stream is lost */
} tse_deframer;

/**
 * @brief Initialise. @p buf (owned by the caller, valid for the deframer's
 *        life) bounds the unit size: units longer than @p cap fail with
 *        TSE_ERR_FRAME_TOO_BIG.  @p cap must be at least 40.  @p cap counts
 *        the bytes on the wire, i.e. includes tse_frame_overhead(profile):
 *        to accept IP packets up to M bytes, pass M + tse_frame_overhead().
 * @param[out] d        the deframer (caller storage)
 * @param[in]  profile  enum tse_framing_profile
 * @param[in]  buf      holds a partial unit
 * @param[in]  cap      its size: the largest unit accepted
 * @return TSE_OK or TSE_ERR_INVALID_ARG (bad profile, NULL, cap too small)
 */
TSE_API int tse_deframer_init(tse_deframer *d, int profile, uint8_t *buf, size_t cap);

/** @brief Drop any partial unit and a sticky error.
 *  @param d  the deframer (NULL: nothing) */
TSE_API void tse_deframer_reset(tse_deframer *d);

/**
 * @brief Consume bytes until one unit is complete.
 *
 * @param[in]  d         the deframer
 * @param[in]  in        bytes from the stream
 * @param[in]  len       how many
 * @param[out] consumed  bytes of @p in taken (always set)
 * @param[out] unit      the unit when 1 is returned
 * Zero copy: when nothing is buffered and the whole unit is inside @p in,
 * @p unit->data points into @p in; otherwise bytes are copied into the
 * deframer's buffer and @p unit->data points there.
 *
 * @return 1 a unit is complete (call again with the rest of the input);
 *         0 all input consumed, need more;
 *         TSE_ERR_FRAME_NIBBLE, TSE_ERR_FRAME_IPV4_IHL,
 *         TSE_ERR_FRAME_IPV4_LENGTH, TSE_ERR_FRAME_TOO_BIG,
 *         TSE_ERR_FRAME_ENVELOPE (FTT) - sticky, the stream cannot be resynced:
 *         every later call returns the same error (consumed 0) until
 *         tse_deframer_reset(); nothing is held (pending 0).
 *         TSE_ERR_INVALID_ARG for NULL arguments (not sticky).
 */
TSE_API int tse_deframer_feed(tse_deframer *d, const uint8_t *in, size_t len,
                              size_t *consumed, tse_unit *unit);

/** @brief Bytes of a partial unit currently held.
 *  @param d  the deframer
 *  @return the byte count (0 for NULL) */
TSE_API size_t tse_deframer_pending(const tse_deframer *d);

/**
 * @brief Frame one unit for sending under @p profile (a no-op copy for
 *        TSCF; the envelope for FTT).  Returns bytes written or a negative
 *        error (TSE_ERR_BUFFER_TOO_SMALL, TSE_ERR_INVALID_ARG: bad profile
 *        or kind, empty unit, first nibble of @p data not @p kind, a CM
 *        under FTT, envelope above 65535 bytes).  @p out may alias @p data.
 * @param profile  enum tse_framing_profile
 * @param kind     enum tse_unit_kind of the unit
 * @param data     the unit
 * @param len      its length
 * @param out      where the framed unit goes
 * @param cap      bytes available at @p out
 * @return the bytes written (len + tse_frame_overhead()),
 *         TSE_ERR_BUFFER_TOO_SMALL or TSE_ERR_INVALID_ARG
 */
TSE_API int tse_frame_unit(int profile, int kind, const uint8_t *data, size_t len,
                           uint8_t *out, size_t cap);

/** @brief Header overhead tse_frame_unit() adds under @p profile.
 *  @param profile  enum tse_framing_profile
 *  @return the bytes (0 for TSE_FRAMING_TSCF and for an unknown profile) */
TSE_API size_t tse_frame_overhead(int profile);

#ifdef __cplusplus
}
#endif
#endif /* TSE_FRAMING_H */
