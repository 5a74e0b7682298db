/* Error names and the retry predicate (include/tse/error.h). */
#include "tse/config.h"
#include "tse/error.h"

#include <stddef.h>
#include <stdint.h>

#if TSE_CONFIG_STRINGS
/* The names, as one table of blocks: include/tse/error.h numbers its codes
 * in runs of consecutive values (-100 .. -110 for the CM codec, ...), and
 * each block holds the texts of one run, in order from its first (highest)
 * code down, each ended by its NUL.  A table instead of a switch: the code
 * is one loop instead of a compare and a branch per name (about 0.9 KiB on
 * a Cortex-M4).  A module compiled out (tse/config.h) never reports its
 * codes: they are "unknown error" then, and their names are not in the
 * image.  test_api_contracts checks that every code has its own name and
 * that the last code of each block has the right one. */
struct err_block {
    int16_t first;     /* the block's first code (its highest value) */
    uint8_t count;     /* it covers first, first - 1, ..., first - count + 1 */
    const char *names; /* count texts, each ended by "\0" */
};

static const struct err_block blocks[] = {
    { TSE_OK, 12,
      "success\0"
      "would block\0"
      "invalid argument\0"
      "out of memory\0"
      "buffer too small\0"
      "not allowed in this state\0"
      "tunnel is not up\0"
      "outbound queue full\0"
      "not an IPv4/IPv6 packet, or too big\0"
      "reconnect attempts exhausted\0"
      "closed by the application\0"
      "the network changed\0" },
    { TSE_ERR_SETTING_SERVER, 10,
      "settings: no server_host or server_port\0"
      "settings: framing profile not supported\0"
      "settings: max_unit outside 576..65535\0"
      "settings: outq_size below max_unit\0"
      "settings: backoff_initial_ms 0 or > backoff_max_ms\0"
      "settings: proxy_port 0, or user or password missing\0"
      "settings: sched.record_max below 256\0"
      "settings: tls_config and ca/cert/key/insecure\0"
      "settings: log_level/tls_debug/tls_keylog bad or compiled out\0"
      "settings: server_port_2 is server_port, proxy too long, or path_cache compiled out\0" },
    { TSE_ERR_CM_TRUNCATED, 11,
      "CM: shorter than the 16-byte header\0"
      "CM: CM_Version is not 1\0"
      "CM: CM_Indication is not 0\0"
      "CM: reserved header bits are not 0\0"
      "CM: unknown CM_Type\0"
      "CM: TLV_Count does not match the TLVs\0"
      "CM: TLV longer than the bytes left\0"
      "CM: known TLV with the wrong length\0"
      "CM: netmask without its address\0"
      "CM: response without Response_Code\0"
      "CM: the same TLV twice\0" },
    { TSE_ERR_FRAME_NIBBLE, 5,
      "framing: first nibble is not 1, 4 or 6\0"
      "framing: IPv4 IHL below 5\0"
      "framing: IPv4 total length below the header\0"
      "framing: unit above the maximum size\0"
      "framing: invalid envelope type or length\0" },
    { TSE_ERR_TRANSPORT_RESOLVE, 6,
      "transport: name resolution failed\0"
      "transport: connection refused or unreachable\0"
      "transport: connect timed out\0"
      "transport: connection reset\0"
      "transport: peer closed the connection\0"
      "transport: socket error\0" },
#if TSE_CONFIG_PROXY
    { TSE_ERR_PROXY_STATUS, 8,
      "proxy: CONNECT refused (non-2xx status)\0"
      "proxy: authentication failed (407 after credentials)\0"
      "proxy: authentication required, no credentials configured\0"
      "proxy: no supported authentication scheme (Basic, Digest)\0"
      "proxy: malformed HTTP reply\0"
      "proxy: reply head too large\0"
      "proxy: closed before a complete reply\0"
      "proxy: no reply in time\0" },
#endif
    { TSE_ERR_TLS_HANDSHAKE, 12,
      "TLS: handshake failed\0"
      "TLS: certificate not trusted (unknown CA)\0"
      "TLS: certificate expired or not yet valid\0"
      "TLS: certificate name mismatch\0"
      "TLS: public-key pin mismatch\0"
      "TLS: certificate rejected\0"
      "TLS: fatal alert from peer\0"
      "TLS: bad trust anchors, key or settings\0"
      "TLS: corrupt or unexpected record\0"
      "TLS: handshake timed out\0"
      "TLS: no protocol version in common\0"
      "TLS: no cipher suite, group or signature in common\0" },
    { TSE_ERR_PROTO_UNEXPECTED, 8,
      "TSCF: unexpected control message\0"
      "TSCF: unexpected tunnel session ID\0"
      "TSCF: response to no request of ours\0"
      "TSCF: no usable inner address in the response\0"
      "TSCF: no Configuration_Response in time\0"
      "TSCF: no Keep_Alive_Response, peer dead\0"
      "TSCF: no release response in time\0"
      "TSCF: tunnel released by the server\0" },
    { TSE_ERR_REJECT_INVALID_TSID, 5,
      "TSCF rejected: invalid tunnel session ID (1)\0"
      "TSCF rejected: source address blacklisted (2)\0"
      "TSCF rejected: out of tunnel resources (3)\0"
      "TSCF rejected: service unavailable (4)\0"
      "TSCF rejected: version not supported (5)\0" },
    { TSE_ERR_REJECT_OTHER, 1,
      "TSCF rejected: unknown response code\0" },
#if TSE_CONFIG_DETECT || TSE_CONFIG_TURN /* the STUN codec */
    { TSE_ERR_STUN_TRUNCATED, 10,
      "STUN: truncated message\0"
      "STUN: not a STUN message (magic cookie)\0"
      "STUN: bad message length\0"
      "STUN: not a Binding response\0"
      "STUN: transaction ID mismatch\0"
      "STUN: malformed attribute\0"
      "STUN: unknown comprehension-required attribute\0"
      "STUN: FINGERPRINT mismatch\0"
      "STUN: success response without mapped address\0"
      "STUN: Binding error response\0" },
#endif
#if TSE_CONFIG_DETECT
    { TSE_ERR_SIP_MALFORMED, 3,
      "SIP: malformed response\0"
      "SIP: response too large\0"
      "SIP: response does not match the request\0" },
#endif
#if TSE_CONFIG_DETECT
    { TSE_ERR_DETECT_TIMEOUT, 6,
      "probe: no answer in time\0"
      "probe: cancelled\0"
      "probe: not configured\0"
      "detection: no usable path\0"
      "detection: network not cached\0"
      "probe: entropy source failed\0" },
#endif
#if TSE_CONFIG_HOST_PORT /* the Linux TUN and netlink port */
    { TSE_ERR_TUN_OPEN, 9,
      "TUN: cannot open or set up /dev/net/tun\0"
      "TUN: bad interface name or name in use\0"
      "TUN: not permitted (needs CAP_NET_ADMIN)\0"
      "TUN: read or write on the device failed\0"
      "netlink: socket error or malformed reply\0"
      "netlink: MTU or link state refused\0"
      "netlink: address refused\0"
      "netlink: route refused\0"
      "netlink: no route to the host to exclude\0" },
#endif
#if TSE_CONFIG_TURN
    { TSE_ERR_TURN_UNAUTHORIZED, 28,
      "TURN: 401 Unauthorized after credentials were sent\0"
      "TURN: 438 Stale Nonce repeated\0"
      "TURN: 403 Forbidden\0"
      "TURN: 437 Allocation Mismatch\0"
      "TURN: 441 Wrong Credentials\0"
      "TURN: 442 Unsupported Transport Protocol\0"
      "TURN: 440/443 address family not supported or mismatch\0"
      "TURN: 486 Allocation Quota Reached\0"
      "TURN: 508 Insufficient Capacity\0"
      "TURN: 446 Connection Already Exists\0"
      "TURN: 447 Connection Timeout or Failure\0"
      "TURN: 400 Bad Request\0"
      "TURN: 420 Unknown Attribute\0"
      "TURN: 300 Try Alternate (not followed)\0"
      "TURN: 500 Server Error\0"
      "TURN: error response\0"
      "TURN: no response in time\0"
      "TURN: response integrity missing or wrong\0"
      "TURN: Allocate success without relayed address or lifetime\0"
      "TURN: challenge without usable REALM or NONCE\0"
      "TURN: malformed STUN message on the stream\0"
      "TURN: malformed ChannelData\0"
      "TURN: message larger than the receive buffer\0"
      "TURN: no permission for the peer\0"
      "TURN: permission, channel or transaction table full\0"
      "TURN: no allocation\0"
      "TURN: allocation expired\0"
      "TURN: success response incomplete\0" },
#endif
    { TSE_ERR_RFC4571_TOO_BIG, 2,
      "RFC 4571: frame above the maximum size\0"
      "RFC 4571: stream ended inside a frame\0" },
#if TSE_CONFIG_STREAM
    { TSE_ERR_STREAM_EOF, 2,
      "stream: the peer closed it cleanly (close_notify)\0"
      "stream: no answer from the peer (dead peer)\0" },
#endif
};
#endif

const char *tse_strerror(int err)
{
#if !TSE_CONFIG_STRINGS
    (void)err;
    return ""; /* names compiled out (tse/config.h) */
#else
    for (size_t i = 0; i < sizeof(blocks) / sizeof(blocks[0]); i++) {
        int k = blocks[i].first - err;
        if (k >= 0 && k < blocks[i].count) {
            const char *s = blocks[i].names;
            /* skip k texts; an empty one (the literal's own final NUL)
             * means the block has fewer texts than its count */
            while (k-- > 0 && *s != '\0') {
                while (*s++ != '\0') {
                }
            }
            return *s != '\0' ? s : "unknown error";
        }
    }
    return "unknown error";
#endif
}

/* The codes a reconnect may cure, as a bit mask per block of codes (bit
 * k = the block's first code minus k): 40 cases of a switch were 180
 * bytes on a Cortex-M4, this table and its loop about half. */
#define R(first, code) (1ul << ((first) - (code)))
static const struct {
    int16_t first;
    uint32_t mask;
} retryable[] = {
    { TSE_OK, R(TSE_OK, TSE_ERR_NETWORK_CHANGED) },
    /* a corrupt control message or inner packet: a fresh connection */
    { TSE_ERR_CM_TRUNCATED, R(TSE_ERR_CM_TRUNCATED, TSE_ERR_CM_DUPLICATE_TLV - 1) - 1 },
    { TSE_ERR_FRAME_NIBBLE, R(TSE_ERR_FRAME_NIBBLE, TSE_ERR_FRAME_ENVELOPE - 1) - 1 },
    /* every transport failure */
    { TSE_ERR_TRANSPORT_RESOLVE, R(TSE_ERR_TRANSPORT_RESOLVE, TSE_ERR_TRANSPORT_IO - 1) - 1 },
    { TSE_ERR_PROXY_STATUS, R(TSE_ERR_PROXY_STATUS, TSE_ERR_PROXY_CLOSED) |
                            R(TSE_ERR_PROXY_STATUS, TSE_ERR_PROXY_TIMEOUT) |
                            /* 502/503/504 from the proxy are transient */
                            R(TSE_ERR_PROXY_STATUS, TSE_ERR_PROXY_STATUS) },
    { TSE_ERR_TLS_HANDSHAKE, R(TSE_ERR_TLS_HANDSHAKE, TSE_ERR_TLS_HANDSHAKE) |
                             R(TSE_ERR_TLS_HANDSHAKE, TSE_ERR_TLS_ALERT) |
                             R(TSE_ERR_TLS_HANDSHAKE, TSE_ERR_TLS_RECORD) |
                             R(TSE_ERR_TLS_HANDSHAKE, TSE_ERR_TLS_TIMEOUT) },
    /* the TSCF's side: all but a release that timed out */
    { TSE_ERR_PROTO_UNEXPECTED, (R(TSE_ERR_PROTO_UNEXPECTED, TSE_ERR_SERVER_RELEASED - 1) - 1) &
                                ~R(TSE_ERR_PROTO_UNEXPECTED, TSE_ERR_RELEASE_TIMEOUT) },
    /* invalid TSID: retried as a fresh tunnel */
    { TSE_ERR_REJECT_INVALID_TSID, R(TSE_ERR_REJECT_INVALID_TSID, TSE_ERR_REJECT_INVALID_TSID) |
                                   R(TSE_ERR_REJECT_INVALID_TSID, TSE_ERR_REJECT_NO_RESOURCES) |
                                   R(TSE_ERR_REJECT_INVALID_TSID, TSE_ERR_REJECT_UNAVAILABLE) },
    { TSE_ERR_TURN_UNAUTHORIZED, R(TSE_ERR_TURN_UNAUTHORIZED, TSE_ERR_TURN_TIMEOUT) |
                                 R(TSE_ERR_TURN_UNAUTHORIZED, TSE_ERR_TURN_CAPACITY) |
                                 R(TSE_ERR_TURN_UNAUTHORIZED, TSE_ERR_TURN_SERVER_ERROR) |
                                 R(TSE_ERR_TURN_UNAUTHORIZED, TSE_ERR_TURN_ALLOC_MISMATCH) |
                                 R(TSE_ERR_TURN_UNAUTHORIZED, TSE_ERR_TURN_STALE_NONCE) |
                                 R(TSE_ERR_TURN_UNAUTHORIZED, TSE_ERR_TURN_EXPIRED) |
                                 R(TSE_ERR_TURN_UNAUTHORIZED, TSE_ERR_TURN_MALFORMED) |
                                 R(TSE_ERR_TURN_UNAUTHORIZED, TSE_ERR_TURN_CONNECTION_FAILED) },
    { TSE_ERR_STREAM_EOF, R(TSE_ERR_STREAM_EOF, TSE_ERR_STREAM_DEAD_PEER) },
};
#undef R

int tse_err_is_retryable(int err)
{
    for (size_t i = 0; i < sizeof(retryable) / sizeof(retryable[0]); i++) {
        int k = retryable[i].first - err;
        if (k >= 0 && k < 32) {
            return (int)((retryable[i].mask >> k) & 1u);
        }
    }
    return 0;
}
