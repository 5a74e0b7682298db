/**
 * @file sip_probe.h
 * @brief SIP OPTIONS probe codec for the direct-access probe (RFC 3261).
 *
 * Internal to libtse (used by lib/detect.c, tests and fuzzers).  Pure:
 * no I/O, no allocation.  Any final response to our OPTIONS (even 404,
 * 405 or 483) proves that SIP reaches a SIP server: that is all the
 * probe wants to know (TR 33.830 8.4.2, "register normally").
 */
#ifndef TSE_SIP_PROBE_H
#define TSE_SIP_PROBE_H

#include <stddef.h>
#include <stdint.h>

#include "tse/config.h"
#include "tse/error.h"

/* TSE_SIP_MAX_HEAD (largest response head: status line + headers) and
 * TSE_SIP_MAX_BODY (largest body: OPTIONS answers may carry SDP):
 * include/tse/config.h. */

typedef enum tse_sip_transport {
    TSE_SIP_UDP = 0,
    TSE_SIP_TCP = 1,
    TSE_SIP_TLS = 2   /* Via SIP/2.0/TLS; parsed as a stream like TCP */
} tse_sip_transport;

/** Parameters of the request. Strings are only read during the call. */
typedef struct tse_sip_options_params {
    const char *host;       /**< P-CSCF name or literal (IPv6 without brackets) */
    uint16_t port;          /**< P-CSCF port (5060) */
    tse_sip_transport transport;
    const char *local_host; /**< Via sent-by host; NULL = "tse.invalid"
                                 (the server answers to the source address
                                 thanks to rport / received) */
    uint16_t local_port;    /**< Via sent-by port; 0 = omitted */
    const char *user_agent; /**< NULL = none */
} tse_sip_options_params;

/** What identifies our transaction; filled by the builder. */
typedef struct tse_sip_ids {
    char branch[8 + 24 + 1];  /**< "z9hG4bK" + 24 hex digits */
    char call_id[32 + 1];     /**< 32 hex digits */
    char from_tag[16 + 1];    /**< 16 hex digits */
    uint32_t cseq;            /**< CSeq number (1) */
} tse_sip_ids;

/** A parsed response; pointers point into the parsed buffer. */
typedef struct tse_sip_response {
    int status;               /**< 100..699 */
    const char *reason;       /**< reason phrase, not NUL-terminated */
    size_t reason_len;
    size_t content_length;    /**< body bytes */
} tse_sip_response;

/** Room for tse_sip_hostport() of a host of up to 255 characters. */
#define TSE_SIP_HOSTPORT_MAX (1 + 255 + 1 + 1 + 5 + 1)

/**
 * @brief "host:port" as it goes into a SIP URI or Via (RFC 3261 19.1.1):
 *        an IPv6 literal (a host with a ':') in brackets, no ":port"
 *        when @p port is 0 unless @p port0; NUL-terminated.  Also the
 *        detection's probe targets.
 * @param[out] dst   room for @p hl + 9 bytes
 * @param[in]  host  the host, or NULL (then @p hl is 0)
 * @param[in]  hl    how many of its characters to write
 * @param[in]  port  the port
 * @param[in]  port0 1: write ":0" for port 0 (a probe target); 0: nothing
 * @return the length written (without the NUL)
 */
size_t tse_sip_hostport(char *dst, const char *host, size_t hl, uint16_t port, int port0);

/**
 * @brief Build an OPTIONS request (RFC 3261 8.1.1, 11) into @p buf.
 *
 * New random branch (z9hG4bK magic cookie, 17.2.3), Call-ID and From tag
 * come from @p entropy; Max-Forwards 70, CSeq 1, Accept:
 * application/sdp, Content-Length 0.
 *
 * @param[in]  p        request parameters
 * @param[in]  entropy  fills random bytes; 0 on success
 * @param[in]  ent_user passed to @p entropy
 * @param[out] buf      the request (not NUL-terminated)
 * @param[in]  cap      size of @p buf (600 bytes suffice for 255-byte names)
 * @param[out] out_len  bytes written
 * @param[out] ids      the transaction identifiers, for the parser
 * @return TSE_OK, TSE_ERR_INVALID_ARG (NULL, empty host or a host with
 *         characters that do not belong in a SIP URI host),
 *         TSE_ERR_BUFFER_TOO_SMALL, TSE_ERR_DETECT_ENTROPY
 */
int tse_sip_options_build(const tse_sip_options_params *p,
                          int (*entropy)(void *user, uint8_t *buf, size_t len),
                          void *ent_user, char *buf, size_t cap,
                          size_t *out_len, tse_sip_ids *ids);

/**
 * @brief Parse one response to the OPTIONS identified by @p ids.
 *
 * Strict and bounded: status line "SIP/2.0 NNN reason", header lines
 * ended by CRLF (folded lines are accepted), a head of at most
 * TSE_SIP_MAX_HEAD bytes.  The top Via's branch, the Call-ID and the
 * CSeq (number and OPTIONS) must match; Call-ID, CSeq and Content-Length
 * may appear only once.  Compact header names (v, i, l) are understood.
 *
 * Over TCP (RFC 3261 18.3) Content-Length is required and frames the
 * message; @p consumed says how many bytes the message took, so a stream
 * can hold several.  Over UDP @p data is one datagram; a Content-Length
 * larger than the rest is an error.
 *
 * @param[out] consumed bytes of the message (head and body); may be NULL
 * @return TSE_OK (@p out set; a 1xx status is provisional, keep reading),
 *         TSE_ERR_WOULD_BLOCK (TCP: incomplete, feed more),
 *         TSE_ERR_SIP_MALFORMED, TSE_ERR_SIP_TOO_LARGE,
 *         TSE_ERR_SIP_MISMATCH, TSE_ERR_INVALID_ARG
 */
int tse_sip_response_parse(const uint8_t *data, size_t len,
                           tse_sip_transport transport, const tse_sip_ids *ids,
                           tse_sip_response *out, size_t *consumed);

#endif /* TSE_SIP_PROBE_H */
