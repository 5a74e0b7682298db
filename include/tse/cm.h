/**
 * @file cm.h
 * @brief TSCF Control Messages (TR 33.830 Annex A.1): encode and decode.
 *
 * Pure functions over caller-provided buffers; no allocation, no state.
 *
 * Wire format (network byte order):
 *   byte 0    CM_Version (high nibble, = 1) | CM_Indication (2 bits, = 0)
 *             | reserved (2 bits, = 0)
 *   byte 1    CM_Type
 *   bytes 2-3 TLV_Count
 *   bytes 4-11 Tunnel Session ID (TSID)
 *   bytes 12-15 Sequence
 *   then TLV_Count TLVs: type (1 byte), length (1 byte), value.
 */
#ifndef TSE_CM_H
#define TSE_CM_H

#include <stddef.h>
#include <stdint.h>

#include "tse/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/** CM_Version this library speaks (A.1.3). */
#define TSE_CM_VERSION 1u
/** Length of the CM header (A.1.3): the shortest CM. */
#define TSE_CM_HEADER_LEN 16u
/** TSID of a first Configuration_Request (A.1.4: all ones). */
#define TSE_CM_TSID_NONE UINT64_C(0xFFFFFFFFFFFFFFFF)
/** Largest CM that tse_cm_encode() can produce with a padding TLV of 255. */
#define TSE_CM_MAX_ENCODED (TSE_CM_HEADER_LEN + 4u + 6u + 6u + 18u + 18u + 4u + 257u)

/** CM_Type values (TR 33.830 A.1.6 - A.1.8). */
enum tse_cm_type {
    TSE_CM_CONFIG_REQUEST = 1,
    TSE_CM_CONFIG_RESPONSE = 2,
    TSE_CM_RELEASE_REQUEST = 5,
    TSE_CM_RELEASE_RESPONSE = 6,
    TSE_CM_KEEPALIVE = 7,
    TSE_CM_KEEPALIVE_RESPONSE = 8
};

/** TLV types (table A.1.5-1).  0-2, 7, 9-17, 20-22 and 23-255 are reserved. */
enum tse_cm_tlv {
    TSE_TLV_RESPONSE_CODE = 3,
    TSE_TLV_IPV4_ADDRESS = 4,
    TSE_TLV_IPV4_NETMASK = 5,
    TSE_TLV_KEEPALIVE_INTERVAL = 6,
    TSE_TLV_PADDING = 8,
    TSE_TLV_IPV6_ADDRESS = 18,
    TSE_TLV_IPV6_NETMASK = 19
};

/** Response_Code values (table A.1.5-2). */
enum tse_cm_response_code {
    TSE_RC_SUCCESS = 0,
    TSE_RC_INVALID_TSID = 1,
    TSE_RC_BLACKLISTED = 2,
    TSE_RC_NO_RESOURCES = 3,
    TSE_RC_UNAVAILABLE = 4,
    TSE_RC_VERSION_NOT_SUPPORTED = 5
};

/** Bits of tse_cm::present: which optional fields the message carries. */
enum tse_cm_present {
    TSE_CM_HAS_RESPONSE_CODE = 1u << 0,
    TSE_CM_HAS_IPV4_ADDRESS = 1u << 1,
    TSE_CM_HAS_IPV4_NETMASK = 1u << 2,
    TSE_CM_HAS_KEEPALIVE = 1u << 3,
    TSE_CM_HAS_PADDING = 1u << 4,
    TSE_CM_HAS_IPV6_ADDRESS = 1u << 5,
    TSE_CM_HAS_IPV6_NETMASK = 1u << 6
};

/** One Control Message, decoded. */
typedef struct tse_cm {
    uint8_t type;            /**< enum tse_cm_type */
    uint64_t tsid;           /**< Tunnel Session ID */
    uint32_t seq;            /**< Sequence */
    uint32_t present;        /**< enum tse_cm_present bits */
    uint16_t response_code;  /**< valid with TSE_CM_HAS_RESPONSE_CODE */
    uint16_t keepalive_s;    /**< Keep_Alive_Interval, seconds; 0 = none */
    uint8_t ipv4_addr[4];    /**< Internal_IPv4_Address, with TSE_CM_HAS_IPV4_ADDRESS */
    uint8_t ipv4_mask[4];    /**< Internal_IPv4_Netmask, with TSE_CM_HAS_IPV4_NETMASK */
    uint8_t ipv6_addr[16];   /**< Internal_IPv6_Address, with TSE_CM_HAS_IPV6_ADDRESS */
    uint8_t ipv6_mask[16];   /**< Internal_IPv6_Netmask, with TSE_CM_HAS_IPV6_NETMASK */
    /** Encode: length of the Padding TLV's value (with TSE_CM_HAS_PADDING).
     *  Decode: total value bytes of all Padding TLVs seen. */
    uint16_t padding_len;
    /** Decode only: reserved/unknown TLVs skipped (forward compatibility). */
    uint16_t unknown_tlvs;
    /** Decode only: type of the first skipped TLV (valid if unknown_tlvs). */
    uint8_t first_unknown_tlv;
} tse_cm;

/**
 * @brief Decode exactly one CM occupying all of @p buf[0..len).
 *
 * Strict: returns a distinct TSE_ERR_CM_* for each defect (see error.h),
 * checked in this order: length < 16 (TRUNCATED); CM_Version, CM_Indication,
 * reserved bits, CM_Type; then TLV by TLV: buffer ends on a TLV boundary
 * before TLV_Count TLVs (TLV_COUNT), header or value past the end
 * (TLV_OVERRUN), known TLV of the wrong size (TLV_LENGTH), known TLV seen
 * twice (DUPLICATE_TLV); bytes left after TLV_Count TLVs (TLV_COUNT); a
 * netmask without its address (MASK_WITHOUT_ADDR); Configuration_Response or
 * Configuration_Release_Response without Response_Code (NO_RESPONSE_CODE).
 *
 * Response_Code is REQUIRED in types 2 and 6 (tables A.1.5-1 "not optional
 * in responses", A.1.6-4, A.1.7-3) and OPTIONAL in Keep_Alive_Response (8):
 * table A.1.8-2 gives it "TLV_Count 0 - No additional TLVs in KAM
 * response", which is more specific than A.1.5-2's general sentence.
 *
 * Lenient where the TR is silent: TLVs in any order, TLVs in messages whose
 * table lists none (e.g. Keep_Alive) are accepted and reported.  Unknown and
 * reserved TLV types are skipped and counted in @p out->unknown_tlvs;
 * Padding is accepted anywhere, any length, repeated: the lengths are summed
 * into @p out->padding_len (saturating at 65535).  Fields whose presence
 * bit is clear are zero.
 *
 * @param[out] out  the message; fully written on success, unspecified on error
 * @param[in]  buf  the bytes; not retained
 * @param[in]  len  their number, the whole CM
 * @return TSE_OK; TSE_ERR_INVALID_ARG (@p out or @p buf NULL);
 *         TSE_ERR_CM_TRUNCATED, TSE_ERR_CM_VERSION, TSE_ERR_CM_INDICATION,
 *         TSE_ERR_CM_RESERVED, TSE_ERR_CM_TYPE, TSE_ERR_CM_TLV_COUNT,
 *         TSE_ERR_CM_TLV_OVERRUN, TSE_ERR_CM_TLV_LENGTH,
 *         TSE_ERR_CM_DUPLICATE_TLV, TSE_ERR_CM_MASK_WITHOUT_ADDR,
 *         TSE_ERR_CM_NO_RESPONSE_CODE (the defects above)
 */
TSE_API int tse_cm_decode(tse_cm *out, const uint8_t *buf, size_t len);

/**
 * @brief Encode @p m into @p buf.  TLVs are written in the order
 *        Response_Code, IPv4 address, IPv4 netmask, IPv6 address,
 *        IPv6 netmask, Keep_Alive_Interval, Padding (one TLV of
 *        @c padding_len zero bytes).  Fields whose presence bit is clear,
 *        @c unknown_tlvs and @c first_unknown_tlv are ignored.  Whatever
 *        this function writes, tse_cm_decode() accepts and decodes to the
 *        same fields.
 * @param[in]  m       the message
 * @param[out] buf     where to write it
 * @param[in]  cap     bytes available at @p buf (TSE_CM_MAX_ENCODED is
 *                     always enough)
 * @param[out] written bytes written on success (0 on error)
 * @return TSE_OK, TSE_ERR_BUFFER_TOO_SMALL, or TSE_ERR_INVALID_ARG (unknown
 *         type, netmask without address, padding_len > 255, type 2 or 6
 *         without TSE_CM_HAS_RESPONSE_CODE)
 */
TSE_API int tse_cm_encode(const tse_cm *m, uint8_t *buf, size_t cap, size_t *written);

/** @brief Whether @p type is a response type (2, 6, 8).
 *  @param type  a CM_Type
 *  @return 1 for a response type, else 0 */
TSE_API int tse_cm_is_response(uint8_t type);

/** @brief A static name for a CM_Type ("Configuration_Request", ...).
 *  @param type  a CM_Type
 *  @return the name; never NULL (a fixed text for unknown types; "" for
 *          every type when TSE_CONFIG_STRINGS is 0, like tse_strerror()) */
TSE_API const char *tse_cm_type_name(uint8_t type);

#ifdef __cplusplus
}
#endif
#endif /* TSE_CM_H */
