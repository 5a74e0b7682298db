/**
 * @file stun.h
 * @brief STUN Binding codec for the NAT-traversal probe (RFC 8489).
 *
 * Internal to libtse (used by lib/detect.c, tests and fuzzers).  Pure:
 * no I/O, no allocation.  The encoder writes one Binding request; the
 * decoder checks one Binding success or error response strictly against
 * the transaction it answers.
 */
#ifndef TSE_STUN_H
#define TSE_STUN_H

#include <stddef.h>
#include <stdint.h>

#include "tse/error.h"

#define TSE_STUN_HEADER_LEN 20u
#define TSE_STUN_MAGIC_COOKIE 0x2112A442u
#define TSE_STUN_TXID_LEN 12u
/** RFC 8489 14.7: CRC-32 of the message XOR this value. */
#define TSE_STUN_FINGERPRINT_XOR 0x5354554Eu
/** Size of a Binding request with FINGERPRINT (header + 8-byte attribute). */
#define TSE_STUN_REQUEST_MAX 28u

/* Message types (RFC 8489 5, 18.2) */
#define TSE_STUN_BINDING_REQUEST 0x0001u
#define TSE_STUN_BINDING_SUCCESS 0x0101u
#define TSE_STUN_BINDING_ERROR 0x0111u

/* Attributes this codec knows (RFC 8489 18.3) */
#define TSE_STUN_ATTR_MAPPED_ADDRESS 0x0001u
#define TSE_STUN_ATTR_USERNAME 0x0006u
#define TSE_STUN_ATTR_MESSAGE_INTEGRITY 0x0008u
#define TSE_STUN_ATTR_ERROR_CODE 0x0009u
#define TSE_STUN_ATTR_UNKNOWN_ATTRIBUTES 0x000Au
#define TSE_STUN_ATTR_REALM 0x0014u
#define TSE_STUN_ATTR_NONCE 0x0015u
#define TSE_STUN_ATTR_MESSAGE_INTEGRITY_SHA256 0x001Cu
#define TSE_STUN_ATTR_PASSWORD_ALGORITHM 0x001Du
#define TSE_STUN_ATTR_USERHASH 0x001Eu
#define TSE_STUN_ATTR_XOR_MAPPED_ADDRESS 0x0020u
#define TSE_STUN_ATTR_SOFTWARE 0x8022u
#define TSE_STUN_ATTR_FINGERPRINT 0x8028u

/** A transport address as STUN carries it. */
typedef struct tse_stun_addr {
    int family;        /**< 4 or 6; 0 = none */
    uint16_t port;     /**< host byte order */
    uint8_t addr[16];  /**< 4 or 16 bytes used, network order; the
                            rest is zero */
} tse_stun_addr;

/** What a Binding response said. */
typedef struct tse_stun_response {
    uint16_t type;            /**< TSE_STUN_BINDING_SUCCESS or _ERROR */
    tse_stun_addr mapped;     /**< for success responses */
    int mapped_is_xor;        /**< 1 if from XOR-MAPPED-ADDRESS */
    int error_code;           /**< 300..699 for error responses, else 0 */
    const uint8_t *reason;    /**< error reason phrase (points into the
                                   message; not NUL-terminated) */
    size_t reason_len;
    int has_fingerprint;      /**< 1 if a (verified) FINGERPRINT was present */
    int has_integrity;        /**< 1 if MESSAGE-INTEGRITY was present (not checked) */
} tse_stun_response;

/** RFC 8489 14.7 / ISO 3309 CRC-32 (reflected, poly 0xEDB88320). */
uint32_t tse_stun_crc32(const uint8_t *data, size_t len);

/**
 * @brief Encode a Binding request (RFC 8489 5, 6).
 *
 * @param[out] buf          where the request goes
 * @param[in]  cap          size of @p buf (TSE_STUN_REQUEST_MAX is enough)
 * @param[in]  entropy      fills the 96-bit transaction ID; 0 on success
 * @param[in]  ent_user     passed to @p entropy
 * @param[in]  fingerprint  1 to append a FINGERPRINT attribute
 * @param[out] txid         the transaction ID used (12 bytes)
 * @param[out] out_len      bytes written
 * @return TSE_OK, TSE_ERR_INVALID_ARG, TSE_ERR_BUFFER_TOO_SMALL,
 *         TSE_ERR_DETECT_ENTROPY
 */
int tse_stun_binding_request(uint8_t *buf, size_t cap,
                             int (*entropy)(void *user, uint8_t *buf, size_t len),
                             void *ent_user, int fingerprint,
                             uint8_t txid[TSE_STUN_TXID_LEN], size_t *out_len);

/**
 * @brief Decode one Binding response that must answer @p txid.
 *
 * The whole datagram is @p msg: the header's length must cover it exactly.
 * Unknown comprehension-optional attributes are skipped; an unknown
 * comprehension-required one fails a success response (RFC 8489 7.3.3).
 * MESSAGE-INTEGRITY is noted, not verified (no credentials in a probe);
 * attributes after it other than FINGERPRINT are ignored (RFC 8489 14.5).
 * A FINGERPRINT must be last and must verify.
 *
 * @return TSE_OK (success response, @p out->mapped set),
 *         TSE_ERR_STUN_ERROR_RESPONSE (error response, @p out->error_code
 *         and reason set), or TSE_ERR_STUN_* / TSE_ERR_INVALID_ARG.
 *         @p out is fully written (zeroed first) in every case.
 */
int tse_stun_parse_response(const uint8_t *msg, size_t len,
                            const uint8_t txid[TSE_STUN_TXID_LEN],
                            tse_stun_response *out);

#endif /* TSE_STUN_H */
