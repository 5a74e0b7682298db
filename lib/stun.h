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
/* TURN (RFC 8656 18) and TURN TCP allocations (RFC 6062 6.2) */
#define TSE_STUN_ATTR_CHANNEL_NUMBER 0x000Cu
#define TSE_STUN_ATTR_LIFETIME 0x000Du
#define TSE_STUN_ATTR_XOR_PEER_ADDRESS 0x0012u
#define TSE_STUN_ATTR_DATA 0x0013u
#define TSE_STUN_ATTR_XOR_RELAYED_ADDRESS 0x0016u
#define TSE_STUN_ATTR_REQUESTED_ADDRESS_FAMILY 0x0017u
#define TSE_STUN_ATTR_EVEN_PORT 0x0018u
#define TSE_STUN_ATTR_REQUESTED_TRANSPORT 0x0019u
#define TSE_STUN_ATTR_DONT_FRAGMENT 0x001Au
#define TSE_STUN_ATTR_RESERVATION_TOKEN 0x0022u
#define TSE_STUN_ATTR_CONNECTION_ID 0x002Au
#define TSE_STUN_ATTR_PASSWORD_ALGORITHMS 0x8002u
#define TSE_STUN_ATTR_ALTERNATE_SERVER 0x8023u

/* Methods (RFC 8489 18.2, RFC 8656 17, RFC 6062 6.1) */
#define TSE_STUN_METHOD_BINDING 0x001u
#define TSE_STUN_METHOD_ALLOCATE 0x003u
#define TSE_STUN_METHOD_REFRESH 0x004u
#define TSE_STUN_METHOD_SEND 0x006u
#define TSE_STUN_METHOD_DATA 0x007u
#define TSE_STUN_METHOD_CREATE_PERMISSION 0x008u
#define TSE_STUN_METHOD_CHANNEL_BIND 0x009u
#define TSE_STUN_METHOD_CONNECT 0x00Au
#define TSE_STUN_METHOD_CONNECTION_BIND 0x00Bu
#define TSE_STUN_METHOD_CONNECTION_ATTEMPT 0x00Cu

/* Classes (RFC 8489 5) */
#define TSE_STUN_CLASS_REQUEST 0
#define TSE_STUN_CLASS_INDICATION 1
#define TSE_STUN_CLASS_SUCCESS 2
#define TSE_STUN_CLASS_ERROR 3

/** HMAC-SHA1 output, the MESSAGE-INTEGRITY value (RFC 8489 14.5). */
#define TSE_STUN_INTEGRITY_LEN 20u
/** Longest USERNAME / REALM / NONCE values the parser accepts
 *  (RFC 8489 14.3, 14.9, 14.10). */
#define TSE_STUN_USERNAME_MAX 513u
#define TSE_STUN_TEXT_MAX 763u

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

/** Message type from method and class (RFC 8489 5, figure 3). */
uint16_t tse_stun_type(uint16_t method, int cls);
/** The method bits of a message type. */
uint16_t tse_stun_method(uint16_t type);
/** The class bits of a message type (TSE_STUN_CLASS_*). */
int tse_stun_class(uint16_t type);

/**
 * A message under construction in the caller's buffer.  Errors are sticky
 * (the first one is kept) and reported by tse_stun_writer_finish(), so a
 * caller adds attributes without checking each.
 */
typedef struct tse_stun_writer {
    uint8_t *buf;
    size_t cap;
    size_t len;
    int err;
} tse_stun_writer;

/** Start a message of @p type with transaction ID @p txid (12 bytes). */
void tse_stun_writer_init(tse_stun_writer *w, uint8_t *buf, size_t cap,
                          uint16_t type, const uint8_t txid[TSE_STUN_TXID_LEN]);
/** Append an attribute (value copied, zero padding to 4 bytes). */
void tse_stun_put_attr(tse_stun_writer *w, uint16_t type, const void *value,
                       size_t len);
/** Append a 4-byte attribute holding @p v (big-endian). */
void tse_stun_put_u32(tse_stun_writer *w, uint16_t type, uint32_t v);
/** Append an XOR-*-ADDRESS attribute (RFC 8489 14.2). */
void tse_stun_put_xor_addr(tse_stun_writer *w, uint16_t type, const tse_stun_addr *a);
/** Append MESSAGE-INTEGRITY: HMAC-SHA1 keyed with @p key (RFC 8489 14.5). */
void tse_stun_put_integrity(tse_stun_writer *w, const uint8_t *key, size_t key_len);
/** Append MESSAGE-INTEGRITY-SHA256 (32 bytes, RFC 8489 14.6). */
void tse_stun_put_integrity_sha256(tse_stun_writer *w, const uint8_t *key,
                                   size_t key_len);
/** Append FINGERPRINT (RFC 8489 14.7); it must be the last attribute. */
void tse_stun_put_fingerprint(tse_stun_writer *w);
/** @return TSE_OK and the length, or the first error
 *  (TSE_ERR_BUFFER_TOO_SMALL, TSE_ERR_INVALID_ARG). */
int tse_stun_writer_finish(const tse_stun_writer *w, size_t *out_len);

/** Flags of tse_stun_msg::present */
#define TSE_STUN_HAS_XOR_MAPPED (1u << 0)
#define TSE_STUN_HAS_RELAYED (1u << 1)
#define TSE_STUN_HAS_PEER (1u << 2)
#define TSE_STUN_HAS_LIFETIME (1u << 3)
#define TSE_STUN_HAS_CHANNEL (1u << 4)
#define TSE_STUN_HAS_CONNECTION_ID (1u << 5)
#define TSE_STUN_HAS_ERROR (1u << 6)
#define TSE_STUN_HAS_REALM (1u << 7)
#define TSE_STUN_HAS_NONCE (1u << 8)
#define TSE_STUN_HAS_DATA (1u << 9)
#define TSE_STUN_HAS_USERNAME (1u << 10)
#define TSE_STUN_HAS_INTEGRITY (1u << 11)
#define TSE_STUN_HAS_INTEGRITY_SHA256 (1u << 12)
#define TSE_STUN_HAS_FINGERPRINT (1u << 13)
#define TSE_STUN_HAS_REQUESTED_TRANSPORT (1u << 14)

/** Any STUN message, decoded (values point into the message). */
typedef struct tse_stun_msg {
    const uint8_t *raw;       /**< the message */
    size_t len;               /**< its length (20 + header length) */
    uint16_t type;
    uint16_t method;
    int cls;                  /**< TSE_STUN_CLASS_* */
    const uint8_t *txid;      /**< 12 bytes inside raw */
    unsigned present;         /**< TSE_STUN_HAS_* */
    tse_stun_addr xor_mapped, relayed, peer;
    uint32_t lifetime;
    uint16_t channel;
    uint32_t connection_id;
    uint8_t requested_transport;
    int error_code;           /**< 300..699 */
    const uint8_t *reason;
    size_t reason_len;
    const uint8_t *realm, *nonce, *data, *username;
    size_t realm_len, nonce_len, data_len, username_len;
    size_t integrity_off;     /**< offset of the MESSAGE-INTEGRITY attribute */
    size_t integrity256_off;  /**< offset of MESSAGE-INTEGRITY-SHA256 */
    size_t integrity256_len;  /**< its value length (16..32) */
    uint16_t unknown_required; /**< first unknown comprehension-required
                                    attribute type, 0 if none */
} tse_stun_msg;

/**
 * @brief Decode one whole STUN message of any method and class.
 *
 * Strict: @p len must be exactly 20 + the header length (a multiple of
 * 4); every attribute must fit and the known ones must have their exact
 * sizes and valid values; a FINGERPRINT must be last and verify;
 * attributes after MESSAGE-INTEGRITY(-SHA256) other than
 * MESSAGE-INTEGRITY-SHA256 and FINGERPRINT are ignored (RFC 8489 14.5).
 * Of a repeated attribute the first counts.  Unknown comprehension-required
 * attributes are reported in @p out->unknown_required, not refused (what
 * that means depends on the class).  Integrity is not checked here
 * (tse_stun_check_integrity()).
 *
 * @return TSE_OK or TSE_ERR_STUN_TRUNCATED / _NOT_STUN / _LENGTH / _ATTR /
 *         _FINGERPRINT / TSE_ERR_INVALID_ARG; @p out is zeroed first.
 */
int tse_stun_parse(const uint8_t *msg, size_t len, tse_stun_msg *out);

/**
 * @brief Check MESSAGE-INTEGRITY (HMAC-SHA1) of a parsed message, or
 *        MESSAGE-INTEGRITY-SHA256 when that is present instead.
 * @return TSE_OK, TSE_ERR_TURN_INTEGRITY (absent or wrong)
 */
int tse_stun_check_integrity(const tse_stun_msg *m, const uint8_t *key, size_t key_len);

/**
 * @brief Long-term credential key (RFC 8489 9.2.2):
 *        MD5(username ":" realm ":" password).  The password is used as
 *        given (no SASLprep / OpaqueString: ASCII passwords only).
 * @return TSE_OK or TSE_ERR_INVALID_ARG
 */
int tse_stun_long_term_key(const uint8_t *user, size_t user_len,
                           const uint8_t *realm, size_t realm_len,
                           const uint8_t *pass, size_t pass_len, uint8_t key[16]);

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
