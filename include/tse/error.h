/**
 * @file error.h
 * @brief libtse's one error type.
 *
 * Zero is success; every error is a distinct negative number, grouped by
 * layer (ranges of 100).  tse_strerror() names each one;
 * tse_err_is_retryable() says whether reconnecting may help.
 */
#ifndef TSE_ERROR_H
#define TSE_ERROR_H

#include "tse/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The error codes: TSE_OK and the negative TSE_ERR_* values. */
enum tse_error {
    TSE_OK = 0,

    /* General (-1 .. -99) */
    TSE_ERR_WOULD_BLOCK = -1,       /**< try again later (no data / no room) */
    TSE_ERR_INVALID_ARG = -2,       /**< a public argument was invalid */
    TSE_ERR_NO_MEMORY = -3,         /**< the allocator returned NULL */
    TSE_ERR_BUFFER_TOO_SMALL = -4,  /**< the caller's buffer cannot hold it */
    TSE_ERR_STATE = -5,             /**< not allowed in the current state */
    TSE_ERR_NOT_UP = -6,            /**< the tunnel is not up */
    TSE_ERR_QUEUE_FULL = -7,        /**< outbound queue full: packet not taken */
    TSE_ERR_PACKET_INVALID = -8,    /**< not an IPv4/IPv6 packet, or too big */
    TSE_ERR_RETRIES_EXHAUSTED = -9, /**< gave up after the configured retries */
    TSE_ERR_CLOSED = -10,           /**< closed by the application */
    TSE_ERR_NETWORK_CHANGED = -11,  /**< the connection was dropped because the
                                         network changed (tse_tunnel_network_changed());
                                         the tunnel resumes on the new one */

    /* Control-message decoding (-100 .. -199), TR 33.830 A.1 */
    TSE_ERR_CM_TRUNCATED = -100,       /**< shorter than the 16-byte CM header */
    TSE_ERR_CM_VERSION = -101,         /**< CM_Version is not 1 */
    TSE_ERR_CM_INDICATION = -102,      /**< CM_Indication is not 0 */
    TSE_ERR_CM_RESERVED = -103,        /**< reserved header bits are not 0 */
    TSE_ERR_CM_TYPE = -104,            /**< unknown CM_Type */
    TSE_ERR_CM_TLV_COUNT = -105,       /**< TLV_Count does not match the TLVs present */
    TSE_ERR_CM_TLV_OVERRUN = -106,     /**< a TLV is longer than the bytes left */
    TSE_ERR_CM_TLV_LENGTH = -107,      /**< a known TLV has the wrong length */
    TSE_ERR_CM_MASK_WITHOUT_ADDR = -108, /**< netmask TLV without its address TLV */
    TSE_ERR_CM_NO_RESPONSE_CODE = -109,  /**< response without Response_Code */
    TSE_ERR_CM_DUPLICATE_TLV = -110,     /**< the same known TLV twice */

    /* Stream framing (-150 .. -199) */
    TSE_ERR_FRAME_NIBBLE = -150,       /**< first nibble is not 1, 4 or 6 */
    TSE_ERR_FRAME_IPV4_IHL = -151,     /**< IPv4 IHL below 5 */
    TSE_ERR_FRAME_IPV4_LENGTH = -152,  /**< IPv4 total length below 20 or below IHL*4 */
    TSE_ERR_FRAME_TOO_BIG = -153,      /**< unit above the configured maximum */
    TSE_ERR_FRAME_ENVELOPE = -154,     /**< TS 24.322 envelope type/length invalid */

    /* Outer transport, reported by the port (-200 .. -299) */
    TSE_ERR_TRANSPORT_RESOLVE = -200,  /**< name resolution failed */
    TSE_ERR_TRANSPORT_REFUSED = -201,  /**< connection refused / unreachable */
    TSE_ERR_TRANSPORT_TIMEOUT = -202,  /**< connect timed out */
    TSE_ERR_TRANSPORT_RESET = -203,    /**< connection reset */
    TSE_ERR_TRANSPORT_CLOSED = -204,   /**< peer closed the connection */
    TSE_ERR_TRANSPORT_IO = -205,       /**< other socket error */

    /* HTTP CONNECT proxy (-300 .. -399) */
    TSE_ERR_PROXY_STATUS = -300,       /**< non-2xx reply (status, reason in event) */
    TSE_ERR_PROXY_AUTH_FAILED = -301,  /**< 407 again after credentials were sent */
    TSE_ERR_PROXY_AUTH_REQUIRED = -302, /**< 407 and no credentials configured */
    TSE_ERR_PROXY_AUTH_SCHEME = -303,  /**< no supported scheme offered (Basic/Digest) */
    TSE_ERR_PROXY_MALFORMED = -304,    /**< reply is not valid HTTP/1.x */
    TSE_ERR_PROXY_TOO_LARGE = -305,    /**< reply head above the size limit */
    TSE_ERR_PROXY_CLOSED = -306,       /**< proxy closed before a complete reply */
    TSE_ERR_PROXY_TIMEOUT = -307,      /**< no complete reply in time */

    /* TLS (-400 .. -499) */
    TSE_ERR_TLS_HANDSHAKE = -400,      /**< handshake failed (other reason) */
    TSE_ERR_TLS_CERT_UNTRUSTED = -401, /**< chain does not lead to a trust anchor */
    TSE_ERR_TLS_CERT_EXPIRED = -402,   /**< certificate expired or not yet valid */
    TSE_ERR_TLS_CERT_NAME = -403,      /**< certificate does not match the name */
    TSE_ERR_TLS_PIN = -404,            /**< public-key pin mismatch */
    TSE_ERR_TLS_CERT_OTHER = -405,     /**< certificate rejected (other reason) */
    TSE_ERR_TLS_ALERT = -406,          /**< peer sent a fatal alert (named in the
                                            event's detail) */
    TSE_ERR_TLS_CONFIG = -407,         /**< bad trust anchors, key or settings */
    TSE_ERR_TLS_RECORD = -408,         /**< corrupt or unexpected record */
    TSE_ERR_TLS_TIMEOUT = -409,        /**< handshake did not finish in time */
    TSE_ERR_TLS_VERSION = -410,        /**< no TLS version in common (the server
                                            speaks only TLS 1.1 or older) */
    TSE_ERR_TLS_NO_COMMON = -411,      /**< the server refused every suite, group or
                                            signature offered (CBC-only, RSA key
                                            exchange only, a weak curve...) */

    /* TSCF control procedures (-500 .. -599) */
    TSE_ERR_PROTO_UNEXPECTED = -500,   /**< CM type not expected in this state */
    TSE_ERR_PROTO_TSID = -501,         /**< unexpected TSID (A.1.4) */
    TSE_ERR_PROTO_SEQUENCE = -502,     /**< response matches no outstanding request */
    TSE_ERR_PROTO_NO_ADDRESS = -503,   /**< success response without a usable inner
                                            address: none, or not unicast (detail says) */
    TSE_ERR_PROTO_TIMEOUT = -504,      /**< no Configuration_Response in time */
    TSE_ERR_KEEPALIVE_TIMEOUT = -505,  /**< no Keep_Alive_Response: peer dead */
    TSE_ERR_RELEASE_TIMEOUT = -506,    /**< no Configuration_Release_Response in time */
    TSE_ERR_SERVER_RELEASED = -507,    /**< the TSCF released the tunnel */

    /* TSCF Response_Code != 0 (-600 .. -699), TR 33.830 table A.1.5-2 */
    TSE_ERR_REJECT_INVALID_TSID = -601,  /**< code 1 */
    TSE_ERR_REJECT_BLACKLISTED = -602,   /**< code 2 */
    TSE_ERR_REJECT_NO_RESOURCES = -603,  /**< code 3 */
    TSE_ERR_REJECT_UNAVAILABLE = -604,   /**< code 4 */
    TSE_ERR_REJECT_VERSION = -605,       /**< code 5 */
    TSE_ERR_REJECT_OTHER = -699,         /**< any other non-zero code */

    /* Detection and its probe codecs (-700 .. -799), TR 33.830 8.4.2 */
    TSE_ERR_STUN_TRUNCATED = -700,     /**< STUN: shorter than its header / length */
    TSE_ERR_STUN_NOT_STUN = -701,      /**< STUN: top bits or magic cookie wrong */
    TSE_ERR_STUN_LENGTH = -702,        /**< STUN: length not a multiple of 4 / not the datagram */
    TSE_ERR_STUN_TYPE = -703,          /**< STUN: not a Binding response */
    TSE_ERR_STUN_TXID = -704,          /**< STUN: transaction ID does not match */
    TSE_ERR_STUN_ATTR = -705,          /**< STUN: attribute overrun or bad value */
    TSE_ERR_STUN_UNKNOWN_ATTR = -706,  /**< STUN: unknown comprehension-required attribute */
    TSE_ERR_STUN_FINGERPRINT = -707,   /**< STUN: FINGERPRINT wrong or not last */
    TSE_ERR_STUN_NO_ADDRESS = -708,    /**< STUN: success without a mapped address */
    TSE_ERR_STUN_ERROR_RESPONSE = -709,/**< STUN: Binding error response (code in result) */
    TSE_ERR_SIP_MALFORMED = -720,      /**< SIP: not a valid SIP/2.0 response */
    TSE_ERR_SIP_TOO_LARGE = -721,      /**< SIP: response above the size limit */
    TSE_ERR_SIP_MISMATCH = -722,       /**< SIP: Via branch, Call-ID or CSeq not ours */
    TSE_ERR_DETECT_TIMEOUT = -750,     /**< probe: no answer in time */
    TSE_ERR_DETECT_CANCELLED = -751,   /**< probe: cancelled, a decision was made */
    TSE_ERR_DETECT_NOT_CONFIGURED = -752, /**< probe: skipped, nothing configured */
    TSE_ERR_DETECT_NO_PATH = -753,     /**< detection: no usable path */
    TSE_ERR_DETECT_NOT_CACHED = -754,  /**< detection: network not in the cache */
    TSE_ERR_DETECT_ENTROPY = -755,     /**< probe: the entropy callback failed */

    /* Settings refused by tse_settings_check() / tse_tunnel_new() (-800 .. -899) */
    TSE_ERR_SETTING_SERVER = -800,     /**< server_host empty or server_port 0 */
    TSE_ERR_SETTING_PROFILE = -801,    /**< framing profile the engine does not run */
    TSE_ERR_SETTING_MAX_UNIT = -802,   /**< max_unit outside 576 .. 65535 */
    TSE_ERR_SETTING_QUEUE = -803,      /**< outq_size below max_unit */
    TSE_ERR_SETTING_BACKOFF = -804,    /**< backoff_initial_ms 0 or above backoff_max_ms */
    TSE_ERR_SETTING_PROXY = -805,      /**< proxy_port 0, or user without password (or the reverse) */
    TSE_ERR_SETTING_SCHED = -806,      /**< sched.record_max below 256 */
    TSE_ERR_SETTING_TLS = -807,        /**< tls_config together with ca / client cert / key / insecure */
    TSE_ERR_SETTING_LOG = -808,        /**< log_level or tls_debug out of range, or asking for debug output or a TLS key log the build compiled out */
    TSE_ERR_SETTING_PATH = -809,       /**< server_port_2 equal to server_port, a proxy host or credential above TSE_HC_MAX_HOST / TSE_HC_MAX_CRED, or path_cache with detection compiled out */

    /* TUN device and OS network configuration (-900 .. -999), port/linux */
    TSE_ERR_TUN_OPEN = -900,           /**< /dev/net/tun cannot be opened or set up */
    TSE_ERR_TUN_NAME = -901,           /**< bad interface name, or in use by another device */
    TSE_ERR_TUN_PERMISSION = -902,     /**< not permitted (needs CAP_NET_ADMIN) */
    TSE_ERR_TUN_IO = -903,             /**< read/write on the TUN fd failed */
    TSE_ERR_NETLINK = -904,            /**< rtnetlink socket failed, no or malformed reply */
    TSE_ERR_NETLINK_LINK = -905,       /**< the kernel refused the MTU or link state */
    TSE_ERR_NETLINK_ADDR = -906,       /**< the kernel refused an address */
    TSE_ERR_NETLINK_ROUTE = -907,      /**< the kernel refused a route */
    TSE_ERR_NO_ROUTE = -908,            /**< no route to a host to exclude from the tunnel */

    /* TURN client (-1000 .. -1049), RFC 8656, RFC 6062; error responses
     * map to one code each (the STUN ERROR-CODE is in the event) */
    TSE_ERR_TURN_UNAUTHORIZED = -1000,  /**< 401 again after credentials were sent */
    TSE_ERR_TURN_STALE_NONCE = -1001,   /**< 438 Stale Nonce more often than allowed */
    TSE_ERR_TURN_FORBIDDEN = -1002,     /**< 403 Forbidden */
    TSE_ERR_TURN_ALLOC_MISMATCH = -1003, /**< 437 Allocation Mismatch */
    TSE_ERR_TURN_WRONG_CREDENTIALS = -1004, /**< 441 Wrong Credentials */
    TSE_ERR_TURN_UNSUPPORTED_TRANSPORT = -1005, /**< 442 Unsupported Transport Protocol */
    TSE_ERR_TURN_PEER_FAMILY = -1006,   /**< 440 / 443 address family not supported / mismatch */
    TSE_ERR_TURN_QUOTA = -1007,         /**< 486 Allocation Quota Reached */
    TSE_ERR_TURN_CAPACITY = -1008,      /**< 508 Insufficient Capacity */
    TSE_ERR_TURN_CONNECTION_EXISTS = -1009, /**< 446 Connection Already Exists (RFC 6062) */
    TSE_ERR_TURN_CONNECTION_FAILED = -1010, /**< 447 Connection Timeout or Failure (RFC 6062) */
    TSE_ERR_TURN_BAD_REQUEST = -1011,   /**< 400 Bad Request */
    TSE_ERR_TURN_UNKNOWN_ATTRIBUTE = -1012, /**< 420 Unknown Attribute */
    TSE_ERR_TURN_TRY_ALTERNATE = -1013, /**< 300 Try Alternate (not followed) */
    TSE_ERR_TURN_SERVER_ERROR = -1014,  /**< 500 Server Error */
    TSE_ERR_TURN_ERROR_OTHER = -1015,   /**< any other error response */
    TSE_ERR_TURN_TIMEOUT = -1016,       /**< no response to a request in time */
    TSE_ERR_TURN_INTEGRITY = -1017,     /**< response MESSAGE-INTEGRITY missing or wrong */
    TSE_ERR_TURN_NO_RELAYED = -1018,    /**< Allocate success without relayed address or lifetime */
    TSE_ERR_TURN_REALM = -1019,         /**< 401/438 without a usable REALM or NONCE */
    TSE_ERR_TURN_MALFORMED = -1020,     /**< malformed STUN message on a stream (stream lost) */
    TSE_ERR_TURN_CHANNEL_DATA = -1021,  /**< malformed ChannelData (number or length) */
    TSE_ERR_TURN_TOO_BIG = -1022,       /**< message larger than the receive buffer */
    TSE_ERR_TURN_NO_PERMISSION = -1023, /**< no permission installed for the peer */
    TSE_ERR_TURN_TABLE_FULL = -1024,    /**< permission, channel or transaction table full */
    TSE_ERR_TURN_NOT_ALLOCATED = -1025, /**< needs an allocation first */
    TSE_ERR_TURN_EXPIRED = -1026,       /**< allocation lifetime ran out (refresh failed) */
    TSE_ERR_TURN_BAD_RESPONSE = -1027,  /**< success response missing what its method needs */

    /* RFC 4571 framing (-1050 .. -1059) */
    TSE_ERR_RFC4571_TOO_BIG = -1050,    /**< LENGTH above the configured maximum (or 65535) */
    TSE_ERR_RFC4571_TRUNCATED = -1051,  /**< stream ended inside a frame */

    /* TLS byte stream (-1100 .. -1149), include/tse/stream.h */
    TSE_ERR_STREAM_EOF = -1100,         /**< the peer ended the stream cleanly
                                             (TLS close_notify): everything it
                                             sent was delivered */
    TSE_ERR_STREAM_DEAD_PEER = -1101    /**< nothing received for dead_peer_ms
                                             after bytes were sent: peer presumed
                                             dead */
};

/** @brief A static, human-readable name for @p err.
 *  @param err  TSE_OK or a TSE_ERR_* value (others give a generic text)
 *  @return the name; never NULL ("" when the names are compiled out,
 *          TSE_CONFIG_STRINGS 0 in tse/config.h) */
TSE_API const char *tse_strerror(int err);

/**
 * @brief Whether a tunnel that failed with @p err may succeed if retried
 *        (transport errors, timeouts, out of resources...).  Errors that
 *        retrying cannot fix (certificate, pin, blacklisted, version,
 *        proxy authentication) return 0.
 * @param err  a TSE_ERR_* value
 * @return 1 if retrying may help, else 0
 */
TSE_API int tse_err_is_retryable(int err);

#ifdef __cplusplus
}
#endif
#endif /* TSE_ERROR_H */
