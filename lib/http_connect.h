/*
 * HTTP CONNECT through an explicit proxy (RFC 9110 9.3.6), with proxy
 * authentication Basic (RFC 7617) and Digest (RFC 7616: MD5, SHA-256,
 * qop=auth).  Internal to libtse; the engine (tunnel.c) drives it.
 *
 * No allocation: the response head is parsed in a fixed buffer inside the
 * struct.  Hashes and base64 come from mbed TLS.
 */
#ifndef TSE_HTTP_CONNECT_H
#define TSE_HTTP_CONNECT_H

#include <stddef.h>
#include <stdint.h>

/* Largest response head accepted (status line + headers + CRLFCRLF). */
#ifndef TSE_HC_MAX_HEAD
#define TSE_HC_MAX_HEAD 4096
#endif
#define TSE_HC_MAX_REASON 64
#define TSE_HC_MAX_CHALLENGE 512

typedef struct tse_hc_params {
    const char *target_host;   /* TSCF host (name, IPv4 or IPv6 literal) */
    uint16_t target_port;
    const char *user_agent;    /* may be NULL: no User-Agent header */
    const char *marker_header; /* full "Name: value" line without CRLF, or NULL */
    const char *user;          /* NULL: no credentials */
    const char *pass;
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

typedef struct tse_hc {
    tse_hc_params p;
    int state;
    int auth_sent;          /* credentials already sent once */
    int status;             /* last status code */
    char reason[TSE_HC_MAX_REASON];
    char challenge[TSE_HC_MAX_CHALLENGE]; /* chosen Proxy-Authenticate value */
    int scheme;             /* 0 none, 1 Basic, 2 Digest-MD5, 3 Digest-SHA256 */
    uint32_t nc;            /* Digest nonce count */
    size_t head_len;
    size_t body_left;       /* 407 body bytes still to skip */
    int conn_close;         /* proxy said Connection: close / no length */
    char head[TSE_HC_MAX_HEAD];
} tse_hc;

/* Initialise; params' strings must outlive the tse_hc. */
void tse_hc_init(tse_hc *hc, const tse_hc_params *p);

/* Write the CONNECT request (with Proxy-Authorization once a 407 was seen)
 * into out.  Returns bytes written, or TSE_ERR_BUFFER_TOO_SMALL /
 * TSE_ERR_INVALID_ARG. */
int tse_hc_request(tse_hc *hc, uint8_t *out, size_t cap);

/* Feed proxy bytes.  *consumed says how many were taken: on
 * TSE_HC_ESTABLISHED, bytes from in+*consumed on are TLS and must not be
 * lost.  Errors: TSE_ERR_PROXY_STATUS (non-2xx, see status/reason),
 * TSE_ERR_PROXY_AUTH_FAILED (407 after credentials were sent),
 * TSE_ERR_PROXY_AUTH_REQUIRED (407, no credentials),
 * TSE_ERR_PROXY_AUTH_SCHEME (no Basic/Digest challenge we support),
 * TSE_ERR_PROXY_MALFORMED, TSE_ERR_PROXY_TOO_LARGE. */
int tse_hc_feed(tse_hc *hc, const uint8_t *in, size_t len, size_t *consumed);

/* The proxy closed the connection: TSE_HC_RECONNECT if a 407 was answered
 * and a retry is due, else TSE_ERR_PROXY_CLOSED. */
int tse_hc_on_close(tse_hc *hc);

/* Reset the parser for the next response (keeps auth state). */
void tse_hc_restart(tse_hc *hc);

static inline int tse_hc_status(const tse_hc *hc) { return hc->status; }
static inline const char *tse_hc_reason(const tse_hc *hc) { return hc->reason; }

#endif /* TSE_HTTP_CONNECT_H */
