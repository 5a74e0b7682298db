/* Error names and the retry predicate (include/tse/error.h). */
#include "tse/config.h"
#include "tse/error.h"

const char *tse_strerror(int err)
{
#if !TSE_CONFIG_STRINGS
    (void)err;
    return ""; /* names compiled out (tse/config.h) */
#else
    switch (err) {
    case TSE_OK: return "success";
    case TSE_ERR_WOULD_BLOCK: return "would block";
    case TSE_ERR_INVALID_ARG: return "invalid argument";
    case TSE_ERR_NO_MEMORY: return "out of memory";
    case TSE_ERR_BUFFER_TOO_SMALL: return "buffer too small";
    case TSE_ERR_STATE: return "not allowed in this state";
    case TSE_ERR_NOT_UP: return "tunnel is not up";
    case TSE_ERR_QUEUE_FULL: return "outbound queue full";
    case TSE_ERR_PACKET_INVALID: return "not a valid IPv4/IPv6 packet or too big";
    case TSE_ERR_RETRIES_EXHAUSTED: return "reconnect attempts exhausted";
    case TSE_ERR_CLOSED: return "closed by the application";
    case TSE_ERR_NETWORK_CHANGED: return "the network changed: moving the tunnel to the new one";

    case TSE_ERR_SETTING_SERVER: return "settings: server_host empty or server_port 0";
    case TSE_ERR_SETTING_PROFILE: return "settings: framing profile not supported";
    case TSE_ERR_SETTING_MAX_UNIT: return "settings: max_unit outside 576..65535";
    case TSE_ERR_SETTING_QUEUE: return "settings: outq_size below max_unit";
    case TSE_ERR_SETTING_BACKOFF: return "settings: backoff_initial_ms 0 or above backoff_max_ms";
    case TSE_ERR_SETTING_PROXY: return "settings: proxy_port 0, or proxy user and password not both set";
    case TSE_ERR_SETTING_SCHED: return "settings: sched.record_max below 256";
    case TSE_ERR_SETTING_TLS: return "settings: tls_config set together with ca, client certificate, key or insecure";
    case TSE_ERR_SETTING_LOG: return "settings: log_level or tls_debug out of range, or debug logging not compiled in";
    case TSE_ERR_SETTING_PATH: return "settings: server_port_2 equals server_port, proxy host or credentials too long, or path_cache without detection";

    case TSE_ERR_CM_TRUNCATED: return "CM: shorter than the 16-byte header";
    case TSE_ERR_CM_VERSION: return "CM: CM_Version is not 1";
    case TSE_ERR_CM_INDICATION: return "CM: CM_Indication is not 0";
    case TSE_ERR_CM_RESERVED: return "CM: reserved header bits are not 0";
    case TSE_ERR_CM_TYPE: return "CM: unknown CM_Type";
    case TSE_ERR_CM_TLV_COUNT: return "CM: TLV_Count does not match the TLVs present";
    case TSE_ERR_CM_TLV_OVERRUN: return "CM: TLV longer than the bytes left";
    case TSE_ERR_CM_TLV_LENGTH: return "CM: known TLV with the wrong length";
    case TSE_ERR_CM_MASK_WITHOUT_ADDR: return "CM: netmask without its address";
    case TSE_ERR_CM_NO_RESPONSE_CODE: return "CM: response without Response_Code";
    case TSE_ERR_CM_DUPLICATE_TLV: return "CM: the same TLV twice";

    case TSE_ERR_FRAME_NIBBLE: return "framing: first nibble is not 1, 4 or 6";
    case TSE_ERR_FRAME_IPV4_IHL: return "framing: IPv4 IHL below 5";
    case TSE_ERR_FRAME_IPV4_LENGTH: return "framing: IPv4 total length below its header";
    case TSE_ERR_FRAME_TOO_BIG: return "framing: unit above the maximum size";
    case TSE_ERR_FRAME_ENVELOPE: return "framing: invalid envelope type or length";

    case TSE_ERR_TRANSPORT_RESOLVE: return "transport: name resolution failed";
    case TSE_ERR_TRANSPORT_REFUSED: return "transport: connection refused or unreachable";
    case TSE_ERR_TRANSPORT_TIMEOUT: return "transport: connect timed out";
    case TSE_ERR_TRANSPORT_RESET: return "transport: connection reset";
    case TSE_ERR_TRANSPORT_CLOSED: return "transport: peer closed the connection";
    case TSE_ERR_TRANSPORT_IO: return "transport: socket error";

/* A module compiled out (tse/config.h) never reports its codes: they are
 * "unknown error" then, and their names are not in the image. */
#if TSE_CONFIG_PROXY
    case TSE_ERR_PROXY_STATUS: return "proxy: CONNECT refused (non-2xx status)";
    case TSE_ERR_PROXY_AUTH_FAILED: return "proxy: authentication failed (407 after credentials)";
    case TSE_ERR_PROXY_AUTH_REQUIRED: return "proxy: authentication required, no credentials configured";
    case TSE_ERR_PROXY_AUTH_SCHEME: return "proxy: no supported authentication scheme (Basic, Digest)";
    case TSE_ERR_PROXY_MALFORMED: return "proxy: malformed HTTP reply";
    case TSE_ERR_PROXY_TOO_LARGE: return "proxy: reply head too large";
    case TSE_ERR_PROXY_CLOSED: return "proxy: closed before a complete reply";
    case TSE_ERR_PROXY_TIMEOUT: return "proxy: no reply in time";
#endif

    case TSE_ERR_TLS_HANDSHAKE: return "TLS: handshake failed";
    case TSE_ERR_TLS_CERT_UNTRUSTED: return "TLS: certificate not trusted (unknown CA)";
    case TSE_ERR_TLS_CERT_EXPIRED: return "TLS: certificate expired or not yet valid";
    case TSE_ERR_TLS_CERT_NAME: return "TLS: certificate name mismatch";
    case TSE_ERR_TLS_PIN: return "TLS: public-key pin mismatch";
    case TSE_ERR_TLS_CERT_OTHER: return "TLS: certificate rejected";
    case TSE_ERR_TLS_ALERT: return "TLS: fatal alert from peer";
    case TSE_ERR_TLS_CONFIG: return "TLS: bad configuration (trust anchors, key)";
    case TSE_ERR_TLS_RECORD: return "TLS: corrupt or unexpected record";
    case TSE_ERR_TLS_TIMEOUT: return "TLS: handshake timed out";
    case TSE_ERR_TLS_VERSION: return "TLS: no protocol version in common with the server";
    case TSE_ERR_TLS_NO_COMMON: return "TLS: no cipher suite, group or signature in common";

    case TSE_ERR_PROTO_UNEXPECTED: return "TSCF: unexpected control message";
    case TSE_ERR_PROTO_TSID: return "TSCF: unexpected tunnel session ID";
    case TSE_ERR_PROTO_SEQUENCE: return "TSCF: response matches no outstanding request";
    case TSE_ERR_PROTO_NO_ADDRESS: return "TSCF: success response without a usable inner address";
    case TSE_ERR_PROTO_TIMEOUT: return "TSCF: no Configuration_Response in time";
    case TSE_ERR_KEEPALIVE_TIMEOUT: return "TSCF: no Keep_Alive_Response, peer dead";
    case TSE_ERR_RELEASE_TIMEOUT: return "TSCF: no Configuration_Release_Response in time";
    case TSE_ERR_SERVER_RELEASED: return "TSCF: tunnel released by the server";

    case TSE_ERR_REJECT_INVALID_TSID: return "TSCF rejected: invalid tunnel session ID (1)";
    case TSE_ERR_REJECT_BLACKLISTED: return "TSCF rejected: source address blacklisted (2)";
    case TSE_ERR_REJECT_NO_RESOURCES: return "TSCF rejected: out of tunnel resources (3)";
    case TSE_ERR_REJECT_UNAVAILABLE: return "TSCF rejected: service unavailable (4)";
    case TSE_ERR_REJECT_VERSION: return "TSCF rejected: version not supported (5)";
    case TSE_ERR_REJECT_OTHER: return "TSCF rejected: unknown response code";

#if TSE_CONFIG_DETECT || TSE_CONFIG_TURN /* the STUN codec */
    case TSE_ERR_STUN_TRUNCATED: return "STUN: truncated message";
    case TSE_ERR_STUN_NOT_STUN: return "STUN: not a STUN message (magic cookie)";
    case TSE_ERR_STUN_LENGTH: return "STUN: bad message length";
    case TSE_ERR_STUN_TYPE: return "STUN: not a Binding response";
    case TSE_ERR_STUN_TXID: return "STUN: transaction ID mismatch";
    case TSE_ERR_STUN_ATTR: return "STUN: malformed attribute";
    case TSE_ERR_STUN_UNKNOWN_ATTR: return "STUN: unknown comprehension-required attribute";
    case TSE_ERR_STUN_FINGERPRINT: return "STUN: FINGERPRINT mismatch";
    case TSE_ERR_STUN_NO_ADDRESS: return "STUN: success response without mapped address";
    case TSE_ERR_STUN_ERROR_RESPONSE: return "STUN: Binding error response";
#endif
#if TSE_CONFIG_DETECT
    case TSE_ERR_SIP_MALFORMED: return "SIP: malformed response";
    case TSE_ERR_SIP_TOO_LARGE: return "SIP: response too large";
    case TSE_ERR_SIP_MISMATCH: return "SIP: response does not match the request";
    case TSE_ERR_DETECT_TIMEOUT: return "probe: no answer in time";
    case TSE_ERR_DETECT_CANCELLED: return "probe: cancelled";
    case TSE_ERR_DETECT_NOT_CONFIGURED: return "probe: not configured";
    case TSE_ERR_DETECT_NO_PATH: return "detection: no usable path";
    case TSE_ERR_DETECT_NOT_CACHED: return "detection: network not cached";
    case TSE_ERR_DETECT_ENTROPY: return "probe: entropy source failed";
#endif

#if TSE_CONFIG_HOST_PORT /* the Linux TUN and netlink port */
    case TSE_ERR_TUN_OPEN: return "TUN: cannot open or set up /dev/net/tun";
    case TSE_ERR_TUN_NAME: return "TUN: bad interface name or name in use";
    case TSE_ERR_TUN_PERMISSION: return "TUN: not permitted (needs CAP_NET_ADMIN)";
    case TSE_ERR_TUN_IO: return "TUN: read or write on the device failed";
    case TSE_ERR_NETLINK: return "netlink: socket error or malformed reply";
    case TSE_ERR_NETLINK_LINK: return "netlink: MTU or link state refused";
    case TSE_ERR_NETLINK_ADDR: return "netlink: address refused";
    case TSE_ERR_NETLINK_ROUTE: return "netlink: route refused";
    case TSE_ERR_NO_ROUTE: return "netlink: no route to the host to exclude";
#endif
#if TSE_CONFIG_TURN

    case TSE_ERR_TURN_UNAUTHORIZED: return "TURN: 401 Unauthorized after credentials were sent";
    case TSE_ERR_TURN_STALE_NONCE: return "TURN: 438 Stale Nonce repeated";
    case TSE_ERR_TURN_FORBIDDEN: return "TURN: 403 Forbidden";
    case TSE_ERR_TURN_ALLOC_MISMATCH: return "TURN: 437 Allocation Mismatch";
    case TSE_ERR_TURN_WRONG_CREDENTIALS: return "TURN: 441 Wrong Credentials";
    case TSE_ERR_TURN_UNSUPPORTED_TRANSPORT: return "TURN: 442 Unsupported Transport Protocol";
    case TSE_ERR_TURN_PEER_FAMILY: return "TURN: 440/443 address family not supported or mismatch";
    case TSE_ERR_TURN_QUOTA: return "TURN: 486 Allocation Quota Reached";
    case TSE_ERR_TURN_CAPACITY: return "TURN: 508 Insufficient Capacity";
    case TSE_ERR_TURN_CONNECTION_EXISTS: return "TURN: 446 Connection Already Exists";
    case TSE_ERR_TURN_CONNECTION_FAILED: return "TURN: 447 Connection Timeout or Failure";
    case TSE_ERR_TURN_BAD_REQUEST: return "TURN: 400 Bad Request";
    case TSE_ERR_TURN_UNKNOWN_ATTRIBUTE: return "TURN: 420 Unknown Attribute";
    case TSE_ERR_TURN_TRY_ALTERNATE: return "TURN: 300 Try Alternate (not followed)";
    case TSE_ERR_TURN_SERVER_ERROR: return "TURN: 500 Server Error";
    case TSE_ERR_TURN_ERROR_OTHER: return "TURN: error response";
    case TSE_ERR_TURN_TIMEOUT: return "TURN: no response in time";
    case TSE_ERR_TURN_INTEGRITY: return "TURN: response integrity missing or wrong";
    case TSE_ERR_TURN_NO_RELAYED: return "TURN: Allocate success without relayed address or lifetime";
    case TSE_ERR_TURN_REALM: return "TURN: challenge without usable REALM or NONCE";
    case TSE_ERR_TURN_MALFORMED: return "TURN: malformed STUN message on the stream";
    case TSE_ERR_TURN_CHANNEL_DATA: return "TURN: malformed ChannelData";
    case TSE_ERR_TURN_TOO_BIG: return "TURN: message larger than the receive buffer";
    case TSE_ERR_TURN_NO_PERMISSION: return "TURN: no permission for the peer";
    case TSE_ERR_TURN_TABLE_FULL: return "TURN: permission, channel or transaction table full";
    case TSE_ERR_TURN_NOT_ALLOCATED: return "TURN: no allocation";
    case TSE_ERR_TURN_EXPIRED: return "TURN: allocation expired";
    case TSE_ERR_TURN_BAD_RESPONSE: return "TURN: success response incomplete";
#endif

    case TSE_ERR_RFC4571_TOO_BIG: return "RFC 4571: frame above the maximum size";
    case TSE_ERR_RFC4571_TRUNCATED: return "RFC 4571: stream ended inside a frame";
#if TSE_CONFIG_STREAM
    case TSE_ERR_STREAM_EOF: return "stream: the peer closed it cleanly (close_notify)";
    case TSE_ERR_STREAM_DEAD_PEER: return "stream: no answer from the peer (dead peer)";
#endif
    default: return "unknown error";
    }
#endif
}

int tse_err_is_retryable(int err)
{
    switch (err) {
    case TSE_ERR_NETWORK_CHANGED:
    case TSE_ERR_TRANSPORT_RESOLVE:
    case TSE_ERR_TRANSPORT_REFUSED:
    case TSE_ERR_TRANSPORT_TIMEOUT:
    case TSE_ERR_TRANSPORT_RESET:
    case TSE_ERR_TRANSPORT_CLOSED:
    case TSE_ERR_TRANSPORT_IO:
    case TSE_ERR_PROXY_CLOSED:
    case TSE_ERR_PROXY_TIMEOUT:
    case TSE_ERR_PROXY_STATUS:      /* 502/503/504 from the proxy are transient */
    case TSE_ERR_TLS_HANDSHAKE:
    case TSE_ERR_TLS_ALERT:
    case TSE_ERR_TLS_RECORD:
    case TSE_ERR_TLS_TIMEOUT:
    case TSE_ERR_PROTO_UNEXPECTED:
    case TSE_ERR_PROTO_TSID:
    case TSE_ERR_PROTO_SEQUENCE:
    case TSE_ERR_PROTO_NO_ADDRESS:
    case TSE_ERR_PROTO_TIMEOUT:
    case TSE_ERR_KEEPALIVE_TIMEOUT:
    case TSE_ERR_SERVER_RELEASED:
    case TSE_ERR_REJECT_INVALID_TSID: /* retried as a fresh tunnel */
    case TSE_ERR_REJECT_NO_RESOURCES:
    case TSE_ERR_REJECT_UNAVAILABLE:
    case TSE_ERR_FRAME_NIBBLE:
    case TSE_ERR_FRAME_IPV4_IHL:
    case TSE_ERR_FRAME_IPV4_LENGTH:
    case TSE_ERR_FRAME_TOO_BIG:
    case TSE_ERR_FRAME_ENVELOPE:
    case TSE_ERR_CM_TRUNCATED:
    case TSE_ERR_CM_VERSION:
    case TSE_ERR_CM_INDICATION:
    case TSE_ERR_CM_RESERVED:
    case TSE_ERR_CM_TYPE:
    case TSE_ERR_CM_TLV_COUNT:
    case TSE_ERR_CM_TLV_OVERRUN:
    case TSE_ERR_CM_TLV_LENGTH:
    case TSE_ERR_CM_MASK_WITHOUT_ADDR:
    case TSE_ERR_CM_NO_RESPONSE_CODE:
    case TSE_ERR_CM_DUPLICATE_TLV:
    case TSE_ERR_TURN_TIMEOUT:
    case TSE_ERR_TURN_CAPACITY:
    case TSE_ERR_TURN_SERVER_ERROR:
    case TSE_ERR_TURN_ALLOC_MISMATCH:
    case TSE_ERR_TURN_STALE_NONCE:
    case TSE_ERR_TURN_EXPIRED:
    case TSE_ERR_TURN_MALFORMED:
    case TSE_ERR_TURN_CONNECTION_FAILED:
    case TSE_ERR_STREAM_DEAD_PEER:
        return 1;
    default:
        return 0;
    }
}
