/*
 * HTTP CONNECT through an explicit proxy (RFC 9110 9.3.6), with proxy
 * authentication Basic (RFC 7617) and Digest (RFC 7616: MD5, SHA-256, their
 * -sess variants, qop=auth or the RFC 2069 form without qop).  Internal to
 * libtse; the engine (tunnel.c) drives it:
 *
 *   tse_hc_init(&hc, &params);
 *   n = tse_hc_request(&hc, buf, sizeof buf);     send buf[0..n)
 *   for each chunk received from the proxy:
 *       r = tse_hc_feed(&hc, in, len, &used);
 *       TSE_HC_NEED_MORE    keep reading (all of in was taken)
 *       TSE_HC_ESTABLISHED  in[used..len) is the first TLS data
 *       TSE_HC_RESEND       send tse_hc_request() again on this connection;
 *                           in[used..len) (normally nothing) belongs to the
 *                           next response: feed it again
 *       TSE_HC_RECONNECT    close, reconnect to the proxy, send
 *                           tse_hc_request(); drop the rest of in
 *       < 0                 failed (TSE_ERR_PROXY_*), see tse_hc_status()
 *   on EOF before ESTABLISHED: r = tse_hc_on_close(&hc)
 *
 * Wire decisions (documented here because they are choices):
 * - The request carries no "Proxy-Connection: keep-alive": HTTP/1.1
 *   connections are persistent by default (RFC 9112 9.3) and RFC 9110 7.6.1
 *   / RFC 7230 A.1.2 discourage that header.  A proxy that closes after its
 *   407 anyway is handled by TSE_HC_RECONNECT.
 * - Line endings: CRLF, or a bare LF (RFC 9112 2.2 allows a recipient to
 *   accept it).  A CR not followed by LF is malformed.
 * - A 407 body is skipped when it has a Content-Length (up to
 *   TSE_HC_MAX_SKIP bytes).  A 407 with Transfer-Encoding (chunked or not),
 *   without any length, with "Connection: close" / "Proxy-Connection: close",
 *   or from an HTTP/1.0 proxy without keep-alive gives TSE_HC_RECONNECT:
 *   reconnecting is always correct and keeps this parser small.
 * - 1xx interim responses are skipped (RFC 9110 15.2), except 101, which
 *   cannot answer a CONNECT without Upgrade: TSE_ERR_PROXY_STATUS.
 *   TSE_HC_MAX_HEAD bounds all heads of one reply together (interim + final).
 * - A Digest challenge with "stale=true" after credentials were sent is
 *   answered once more (RFC 7616 3.3: the nonce expired, the credentials
 *   were right); any other second 407 is TSE_ERR_PROXY_AUTH_FAILED, and so
 *   is a 401 after credentials were sent (tinyproxy 1.11 answers wrong
 *   proxy credentials with 401; as TSE_ERR_PROXY_STATUS it would look
 *   retryable).
 * - After a 2xx, a later tse_hc_request() (the engine reconnecting with the
 *   same tse_hc) sends the proven credentials preemptively (Digest: same
 *   nonce, next nc); a 407 to those is answered like a first one.
 *
 * No allocation, no stdio: the response is parsed a line at a time in a
 * fixed buffer inside the struct (which doubles as hashing scratch space
 * while a request is written).  Hashes and base64 come from mbed TLS
 * (mbedtls_md(), mbedtls_base64_encode(): same API in 2.28 and 3.6; the
 * configuration must enable MD5 and SHA-256 for the Digest variants, a
 * missing one just makes such challenges unsupported).
 */
#ifndef TSE_HTTP_CONNECT_H
#define TSE_HTTP_CONNECT_H

#include <stddef.h>
#include <stdint.h>

/* The size knobs (include/tse/config.h):
 *   TSE_HC_MAX_HEAD    largest response head accepted (status line +
 *                      headers + empty line), counted over all interim
 *                      (1xx) heads and the final head together
 *   TSE_HC_MAX_SKIP    largest 407 body skipped to reuse the connection;
 *                      above: reconnect
 *   TSE_HC_MAX_REASON  reason phrase kept
 *   TSE_HC_MAX_PARAM   largest Digest realm / nonce / opaque (unquoted)
 *                      kept from a challenge; a longer one is not supported
 *   TSE_HC_MAX_HOST, TSE_HC_MAX_CRED  largest target host, user, password
 * TSE_CONFIG_DIGEST 0 compiles Digest out (Basic only). */
#include "tse/config.h"

typedef struct tse_hc_params {
    const char *target_host;   /* TSCF host (name, IPv4 or IPv6 literal,
                                  the latter with or without brackets) */
    uint16_t target_port;
    const char *user_agent;    /* may be NULL: no User-Agent header */
    const char *marker_header; /* full "Name: value" line without CRLF, or
                                  NULL (TR 33.830 4.8.4 IMS marker) */
    const char *user;          /* NULL: no credentials */
    const char *pass;          /* NULL with a user: empty password */
    /* fills buf with random bytes (Digest cnonce); 0 on success */
    int (*entropy)(void *user, uint8_t *buf, size_t len);
    void *entropy_user;
} tse_hc_params;

/* Results of tse_hc_feed() besides errors (negative TSE_ERR_PROXY_*). */
enum tse_hc_result {
    TSE_HC_NEED_MORE = 0,   /* head incomplete (or 407 body being skipped) */
    TSE_HC_ESTABLISHED = 1, /* 2xx: bytes after the head belong to TLS */
    TSE_HC_RESEND = 2,      /* 407 answered: send tse_hc_request() again on
                               the same connection */
    TSE_HC_RECONNECT = 3    /* 407 answered but the proxy closes (or will
                               close) the connection: reconnect, then send
                               tse_hc_request() */
};

/* Authentication scheme chosen from the proxy's challenges. */
enum tse_hc_scheme {
    TSE_HC_SCHEME_NONE = 0,
    TSE_HC_SCHEME_BASIC = 1,
    TSE_HC_SCHEME_DIGEST_MD5 = 2,
    TSE_HC_SCHEME_DIGEST_SHA256 = 3
};

/* All fields are private; the caller provides the storage (about 4.7 KB
 * with the default TSE_HC_MAX_HEAD). */
typedef struct tse_hc {
    tse_hc_params p;
    int state;
    int err;                /* sticky error once state is "failed" */
    int status;             /* last status code */
    char reason[TSE_HC_MAX_REASON];
    /* auth */
    int scheme;             /* enum tse_hc_scheme chosen from the last 407 */
    int auth_sent;          /* credentials sent since the last challenge */
    int auth_ok;            /* a 2xx followed them: they are right */
    int auth_preemptive;    /* the last credentials were sent because of
                               auth_ok, not in answer to a 407 */
    int stale_retried;      /* one stale=true re-answer used */
    int retry_pending;      /* an answered 407 may be retried after EOF */
    uint32_t nc;            /* Digest nonce count */
    uint8_t dg_sess;        /* -sess algorithm */
    uint8_t dg_qop;         /* qop=auth offered (else RFC 2069 form) */
    uint8_t dg_userhash;    /* userhash=true (RFC 7616 3.4.4) */
    uint8_t dg_has_opaque;
    char dg_realm[TSE_HC_MAX_PARAM];
    char dg_nonce[TSE_HC_MAX_PARAM];
    char dg_opaque[TSE_HC_MAX_PARAM];
    /* response parser */
    int http_minor;
    int cand_rank;          /* best challenge seen in this 407 (0 none) */
    int cand_stale;         /* it had stale=true */
    int conn_close;         /* Connection/Proxy-Connection: close */
    int keep_alive;         /* Connection/Proxy-Connection: keep-alive */
    int has_te;             /* Transfer-Encoding present */
    int cl_state;           /* 0 none, 1 valid, -1 invalid/conflicting */
    uint64_t cl;            /* Content-Length value */
    uint64_t body_left;     /* 407 body bytes still to skip */
    size_t head_total;      /* head bytes of this reply so far */
    size_t line_len;        /* bytes of the current line in head[] */
    char head[TSE_HC_MAX_HEAD]; /* current line; scratch while requesting */
} tse_hc;

/* Initialise; params' strings must outlive the tse_hc.  Cannot fail:
 * bad parameters are reported by tse_hc_request(). */
void tse_hc_init(tse_hc *hc, const tse_hc_params *p);

/* Write the CONNECT request (with Proxy-Authorization once a 407 was seen)
 * into out and start expecting a new response.  Returns bytes written, or
 * TSE_ERR_BUFFER_TOO_SMALL, or TSE_ERR_INVALID_ARG: CR, LF or any other
 * control character in host, user agent, marker, user or password (header
 * injection is impossible); a host that is not a reg-name, IPv4 or IPv6
 * literal; port 0; a marker that is not "token: value"; ':' in the user for
 * Basic; over-long values; no entropy callback (or it failed) when Digest
 * with qop needs a cnonce.  The response parser is reset either way;
 * the auth state (credentials sent, nonce count) changes only on success. */
int tse_hc_request(tse_hc *hc, uint8_t *out, size_t cap);

/* Feed proxy bytes.  *consumed says how many were taken: on
 * TSE_HC_ESTABLISHED, bytes from in+*consumed on are TLS and must not be
 * lost; on an error it counts the offending byte.  Errors:
 * TSE_ERR_PROXY_STATUS (non-2xx, see status/reason),
 * TSE_ERR_PROXY_AUTH_FAILED (407 or 401 after credentials were sent),
 * TSE_ERR_PROXY_AUTH_REQUIRED (407, no credentials),
 * TSE_ERR_PROXY_AUTH_SCHEME (no Basic/Digest challenge we support),
 * TSE_ERR_PROXY_MALFORMED, TSE_ERR_PROXY_TOO_LARGE.  Errors are sticky
 * (later calls return the same error, consuming nothing); after
 * TSE_HC_ESTABLISHED further calls return TSE_ERR_STATE. */
int tse_hc_feed(tse_hc *hc, const uint8_t *in, size_t len, size_t *consumed);

/* The proxy closed the connection: TSE_HC_RECONNECT if a 407 was answered
 * and a retry is due (at most once per answer), else TSE_ERR_PROXY_CLOSED. */
int tse_hc_on_close(tse_hc *hc);

/* Reset the parser for the next response (keeps auth state). */
void tse_hc_restart(tse_hc *hc);

static inline int tse_hc_status(const tse_hc *hc) { return hc->status; }
static inline const char *tse_hc_reason(const tse_hc *hc) { return hc->reason; }

/* The Digest core, exposed for tests (RFC 7616 3.4.1): writes the lowercase
 * hex response (32 or 64 chars + NUL) into out_hex[65].  qop NULL: RFC 2069
 * form (nc and cnonce unused).  scratch must hold the longest A1/A2/KD
 * string (user, realm, password, nonce, cnonce, uri lengths plus 200).
 * Returns 0 or TSE_ERR_INVALID_ARG / TSE_ERR_BUFFER_TOO_SMALL. */
int tse_hc_digest_response(int scheme, int sess, const char *user,
                           const char *realm, const char *pass,
                           const char *method, const char *uri,
                           const char *nonce, const char *nc,
                           const char *cnonce, const char *qop,
                           char *scratch, size_t scratch_cap,
                           char out_hex[65]);

#endif /* TSE_HTTP_CONNECT_H */
