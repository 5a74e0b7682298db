/**
 * @file stream.h
 * @brief A TLS byte stream to HOST:PORT, optionally through an HTTP
 *        CONNECT proxy: SIP over TLS to a P-CSCF on 443 and TURN over TLS
 *        on 443 (TR 33.830 8.3, steps 1 and 2).
 *
 * Sans-I/O like the tunnel engine (tse.h), driven the same way with the
 * same port table (tse/port.h): the stream says what it wants
 * (tse_stream_want(): TSE_WANT_CONNECT, _READ, _WRITE, _DISCONNECT) and
 * when (tse_stream_expiry()); the driver moves bytes and time.  The outer
 * path is the tunnel's, built from the same layers: TCP -> [HTTP CONNECT,
 * Basic or Digest proxy authentication] -> TLS (the tunnel's profile:
 * TLS 1.3 / 1.2, AEAD with ECDHE; SNI = the host unless it is an IP
 * literal; chain and name verification required by default).  No
 * framing: the application reads and writes plaintext bytes.
 * tse_stream_settings::plain_tcp drops the TLS layer (TURN over TCP).
 *
 * Memory: one allocation in tse_stream_new() (struct, TLS configuration
 * unless shared, ciphertext buffer, send and receive buffers, strings),
 * plus what mbed TLS allocates itself for its records (as the tunnel).
 *
 * Nothing is lost: tse_stream_send() takes bytes only when they fit in the
 * send buffer (else TSE_ERR_QUEUE_FULL, nothing taken); bytes sent before
 * TLS is up wait in it.  Received plaintext waits in the receive buffer
 * until tse_stream_recv(); when it is full the stream stops taking
 * ciphertext (tse_stream_recv_outer() returns what it consumed, and
 * TSE_WANT_READ clears) until the application has read.
 *
 * A stream is one connection: it does not reconnect.  When it fails
 * (TSE_STREAM_EV_DOWN) create a new one.
 *
 * Threading: one stream is one thread's.  Callbacks run inside the call
 * that caused them; from a callback you may call tse_stream_send(),
 * tse_stream_recv(), tse_stream_close() and the getters, not
 * tse_stream_del().
 *
 * @code
 *   tse_stream_settings s; tse_stream_settings_default(&s);
 *   s.host = "pcscf.example.net"; s.port = 443; s.ca = pem; s.ca_len = n;
 *   tse_stream_callbacks cb = { on_event, my_entropy };
 *   tse_stream *st; tse_stream_new(&st, &s, &cb, &mem, app);
 *   tse_stream_start(st, now());
 *   tse_stream_send(st, (const uint8_t *)req, strlen(req), now()); // queued
 *   // drive it: port/posix/tse_posix_stream.h, or your loop:
 *   //  want CONNECT: tse_stream_connect_target(); connect;
 *   //                tse_stream_transport_connected()
 *   //  readable:     n = tse_stream_recv_outer(st, buf, len, now()) -> keep
 *   //                buf[n..len) and feed it again after tse_stream_recv()
 *   //  writable:     tse_stream_outer_pending() / _consume()
 *   //  on_event(TSE_STREAM_EV_DATA): tse_stream_recv(st, out, cap, now())
 * @endcode
 */
#ifndef TSE_STREAM_H
#define TSE_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "tse/error.h"
#include "tse/export.h"
#include "tse/tse.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A stream (tse_stream_new()); opaque. */
typedef struct tse_stream tse_stream;

/** Stream states. */
typedef enum tse_stream_state {
    TSE_STREAM_IDLE = 0,     /**< created, not started */
    TSE_STREAM_CONNECTING,   /**< waiting for the port's TCP connect */
    TSE_STREAM_PROXY,        /**< HTTP CONNECT exchange with the proxy */
    TSE_STREAM_TLS,          /**< TLS handshake */
    TSE_STREAM_UP,           /**< plaintext flows both ways */
    TSE_STREAM_CLOSING,      /**< tse_stream_close(): sending what is queued
                                  and close_notify */
    TSE_STREAM_DOWN          /**< terminal: closed or failed
                                  (tse_stream_last_error() says which) */
} tse_stream_state;

/** What an event reports (tse_stream_event::type). */
typedef enum tse_stream_event_type {
    TSE_STREAM_EV_UP = 1,    /**< TLS established: tls_version, tls_suite
                                  (plain_tcp: TCP and CONNECT done,
                                  tls_version 0, tls_suite NULL) */
    TSE_STREAM_EV_DATA,      /**< plaintext is waiting: tse_stream_recv() */
    TSE_STREAM_EV_WRITABLE,  /**< send buffer room again after a
                                  TSE_ERR_QUEUE_FULL */
    TSE_STREAM_EV_DOWN,      /**< the stream ended: error says why */
    TSE_STREAM_EV_WARNING    /**< something to log loudly (insecure mode) */
} tse_stream_event_type;

/** An event; valid only during the callback. */
typedef struct tse_stream_event {
    tse_stream_event_type type; /**< what happened */
    tse_stream_state state;     /**< the state now */
    /** DOWN: TSE_ERR_STREAM_EOF (the peer's close_notify; with
     *  plain_tcp the peer's FIN), TSE_ERR_CLOSED
     *  (tse_stream_close() done), or the failure: TSE_ERR_TRANSPORT_*
     *  (TRANSPORT_CLOSED: TCP ended without close_notify),
     *  TSE_ERR_PROXY_* (proxy_status set), TSE_ERR_TLS_* (certificate,
     *  pin, alert...), TSE_ERR_TRANSPORT_TIMEOUT / TSE_ERR_PROXY_TIMEOUT /
     *  TSE_ERR_TLS_TIMEOUT, TSE_ERR_STREAM_DEAD_PEER. */
    int error;
    int proxy_status;           /**< HTTP status for TSE_ERR_PROXY_* */
    int via_proxy;              /**< UP: 1 if through HTTP CONNECT */
    uint16_t tls_version;       /**< UP: 0x0303 TLS 1.2, 0x0304 TLS 1.3 */
    const char *tls_suite;      /**< UP: cipher suite name (static) */
    const char *detail;         /**< human text (reason phrase, certificate
                                     failure...) or NULL */
} tse_stream_event;

/** The application's callbacks (copied by tse_stream_new()). */
typedef struct tse_stream_callbacks {
    /** Required: events; @p user is tse_stream_new()'s. */
    void (*on_event)(void *user, const tse_stream_event *ev);
    /** Required: fill @p buf with @p len random bytes, 0 on success
     *  (mbed TLS's DRBG, the Digest cnonce).  Same contract as
     *  tse_callbacks::entropy. */
    int (*entropy)(void *user, uint8_t *buf, size_t len);
} tse_stream_callbacks;

/** Settings; fill with tse_stream_settings_default() first.  Strings and
 *  key material are copied or parsed by tse_stream_new(). */
typedef struct tse_stream_settings {
    const char *host;          /**< name or literal address (required) */
    uint16_t port;             /**< default 443 */
    const char *sni;           /**< default: host if it is a name; also the
                                    name verified in the certificate */

    const char *proxy_host;    /**< NULL = connect directly */
    uint16_t proxy_port;       /**< default 8080 */
    const char *proxy_user;    /**< Basic/Digest credentials, or NULL */
    const char *proxy_pass;    /**< its password (with proxy_user) */
    const char *user_agent;    /**< default "libtse/<version>" */
    const char *proxy_marker_header; /**< as tse_settings (default NULL) */

    /** 1: plain TCP, no TLS at all (TURN over TCP, RFC 8656 3.1, to port
     *  3478; RFC 6062).  0 (default): TLS with verification.  Named so
     *  that a zeroed struct is never plaintext.  With it set, every TLS
     *  field below (ca, pin_sha256, client_cert, client_key, tls_config,
     *  tls_insecure_lab_only_skip_verify) and sni must be unset
     *  (TSE_ERR_SETTING_TLS); the proxy works as with TLS.  Nothing of
     *  TLS is set up or allocated; tls_timeout_ms only bounds
     *  tse_stream_close(). */
    int plain_tcp;

    const uint8_t *ca;         /**< trust anchors, PEM (with its NUL) or DER */
    size_t ca_len;             /**< bytes at ca */
    const uint8_t *pin_sha256; /**< 32-byte SHA-256 of the server's
                                    SubjectPublicKeyInfo, or NULL */
    const uint8_t *client_cert; /**< optional client certificate */
    size_t client_cert_len;     /**< its length */
    const uint8_t *client_key;  /**< its key */
    size_t client_key_len;      /**< its length */
    /** A configuration shared with tunnels or other streams
     *  (tse_tls_config_new()); then ca, client_cert, client_key and the
     *  insecure switch must be unset (TSE_ERR_SETTING_TLS). */
    tse_tls_config *tls_config;
    /** LAB ONLY: skip certificate verification.  Emits
     *  TSE_STREAM_EV_WARNING when the connection is made. */
    int tls_insecure_lab_only_skip_verify;

    uint32_t connect_timeout_ms; /**< TCP connect (default 10000) */
    uint32_t proxy_timeout_ms;   /**< CONNECT reply (default 10000) */
    uint32_t tls_timeout_ms;     /**< TLS handshake (default 15000) */
    /** Dead peer: once application bytes were sent (encrypted for the
     *  port), nothing at all received for this long ends the stream with
     *  TSE_ERR_STREAM_DEAD_PEER.  0 (default) = off: a stream that only
     *  sends (media one way) must not be judged dead. */
    uint32_t dead_peer_ms;

    size_t send_buf;  /**< plaintext send buffer, bytes (default 4096, >= 256) */
    size_t recv_buf;  /**< plaintext receive buffer, bytes (default 4096, >= 256) */
} tse_stream_settings;

/** @brief Fill @p s with the defaults documented on each field.
 *  @param[out] s  the settings */
TSE_API void tse_stream_settings_default(tse_stream_settings *s);

/**
 * @brief Check @p s as tse_stream_new() will, without allocating.
 * @param s  the settings
 * @return TSE_OK, TSE_ERR_INVALID_ARG (@p s or host NULL),
 *         TSE_ERR_SETTING_SERVER (host empty or port 0),
 *         TSE_ERR_SETTING_PROXY (proxy_port 0, user without password or
 *         the reverse, a proxy with TSE_CONFIG_PROXY 0),
 *         TSE_ERR_SETTING_TLS (tls_config with own key material;
 *         plain_tcp with any TLS setting or sni),
 *         TSE_ERR_SETTING_QUEUE (a buffer below 256 bytes)
 */
TSE_API int tse_stream_settings_check(const tse_stream_settings *s);

/** @brief Bytes tse_stream_new() allocates for @p s (without mbed TLS's
 *         own record buffers).
 *  @param s  the settings
 *  @return the bytes (0 for NULL) */
TSE_API size_t tse_stream_footprint(const tse_stream_settings *s);

/**
 * @brief Create a stream: the one allocation through @p mem, the TLS
 *        configuration (trust anchors parsed) unless shared.
 * @param[out] out   the stream
 * @param[in]  s     settings (copied)
 * @param[in]  cb    callbacks (copied); both required
 * @param[in]  mem   allocator (copied)
 * @param[in]  user  passed to the callbacks
 * @return TSE_OK, TSE_ERR_INVALID_ARG, a TSE_ERR_SETTING_* of
 *         tse_stream_settings_check(), TSE_ERR_NO_MEMORY,
 *         TSE_ERR_TLS_CONFIG (bad anchors or key, entropy failed)
 */
TSE_API int tse_stream_new(tse_stream **out, const tse_stream_settings *s,
                           const tse_stream_callbacks *cb, const tse_mem *mem,
                           void *user);

/** @brief Free everything (the connection, if any, is the driver's to
 *         close).  NULL is fine.  Not from a callback.
 *  @param st  the stream */
TSE_API void tse_stream_del(tse_stream *st);

/** @brief Begin: the stream will want a connection.
 *  @param st   the stream
 *  @param now  the clock
 *  @return TSE_OK, TSE_ERR_INVALID_ARG (NULL), TSE_ERR_STATE (started) */
TSE_API int tse_stream_start(tse_stream *st, tse_time_ms now);

/** @brief What the stream wants the driver to do (TSE_WANT_* bits of
 *         tse.h).  A query.  READ is clear while the receive buffer is
 *         full.
 *  @param st  the stream
 *  @return the bits (0 for NULL) */
TSE_API unsigned tse_stream_want(const tse_stream *st);

/** @brief Where to open the TCP connection (the proxy, or host:port).
 *         Call once when TSE_WANT_CONNECT is set (it clears).
 *  @param[in]  st    the stream
 *  @param[out] host  name or literal address (valid for the stream's life)
 *  @param[out] port  its port
 *  @return TSE_OK, TSE_ERR_INVALID_ARG, TSE_ERR_STATE (no connect wanted) */
TSE_API int tse_stream_connect_target(tse_stream *st, const char **host,
                                      uint16_t *port);

/** @brief The driver's connect succeeded.
 *  @param st   the stream
 *  @param now  the clock
 *  @return TSE_OK, TSE_ERR_INVALID_ARG, TSE_ERR_STATE (no connect started) */
TSE_API int tse_stream_transport_connected(tse_stream *st, tse_time_ms now);

/**
 * @brief The connection is gone: the connect failed, a reset, EOF, or the
 *        driver closed it because TSE_WANT_DISCONNECT was set.
 * @param st   the stream
 * @param err  TSE_ERR_TRANSPORT_* for the cause; 0 when acknowledging
 *             TSE_WANT_DISCONNECT
 * @param now  the clock
 * @return TSE_OK (a failure is reported as TSE_STREAM_EV_DOWN),
 *         TSE_ERR_INVALID_ARG (@p st NULL or @p err positive)
 */
TSE_API int tse_stream_transport_closed(tse_stream *st, int err, tse_time_ms now);

/**
 * @brief Feed bytes received on the connection.  Takes what it can: all
 *        of them unless the receive buffer filled up, in which case the
 *        caller keeps data[n..len) and feeds it again once
 *        tse_stream_recv() made room (TSE_WANT_READ is set again then).
 * @param st    the stream
 * @param data  the bytes (not retained)
 * @param len   their number
 * @param now   the clock
 * @return bytes consumed (0..len), TSE_ERR_INVALID_ARG, or the error that
 *         ended the stream (also reported as TSE_STREAM_EV_DOWN)
 */
TSE_API int tse_stream_recv_outer(tse_stream *st, const uint8_t *data, size_t len,
                                  tse_time_ms now);

/** @brief Bytes to send on the connection (a query).
 *  @param[in]  st    the stream
 *  @param[out] data  points into the stream's ciphertext buffer, valid
 *                    until the next call that changes the stream
 *  @return their number (0 = nothing, also for NULL) */
TSE_API size_t tse_stream_outer_pending(const tse_stream *st, const uint8_t **data);

/** @brief @p n of the pending bytes were sent (clamped).  Then the stream
 *         encrypts more of its send buffer, or steps a handshake that
 *         waited for room: may fire callbacks.
 *  @param st   the stream (NULL: nothing)
 *  @param n    bytes sent
 *  @param now  the clock */
TSE_API void tse_stream_outer_consume(tse_stream *st, size_t n, tse_time_ms now);

/** @brief When tse_stream_handle_expiry() must run next.  A query.
 *  @param st  the stream
 *  @return the time, or TSE_TIME_NEVER (also for NULL) */
TSE_API tse_time_ms tse_stream_expiry(const tse_stream *st);

/** @brief Run due timers (connect, proxy, TLS timeouts, dead peer); a
 *         timeout is reported as TSE_STREAM_EV_DOWN.
 *  @param st   the stream
 *  @param now  the clock
 *  @return TSE_OK, TSE_ERR_INVALID_ARG (NULL) */
TSE_API int tse_stream_handle_expiry(tse_stream *st, tse_time_ms now);

/**
 * @brief Queue plaintext for the peer: copied into the send buffer whole,
 *        or not at all.  Allowed from tse_stream_start() on (bytes wait
 *        until TLS is up).
 * @param st    the stream
 * @param data  the bytes (copied)
 * @param len   their number (at most send_buf; 0 does nothing)
 * @param now   the clock
 * @return TSE_OK (all taken), TSE_ERR_QUEUE_FULL (not enough room now,
 *         nothing taken: TSE_STREAM_EV_WRITABLE follows when the port has
 *         drained it; tse_stream_send_space() says how much fits),
 *         TSE_ERR_BUFFER_TOO_SMALL (@p len above send_buf: it never fits),
 *         TSE_ERR_INVALID_ARG, TSE_ERR_STATE (IDLE, CLOSING or DOWN)
 */
TSE_API int tse_stream_send(tse_stream *st, const uint8_t *data, size_t len,
                            tse_time_ms now);

/** @brief Bytes tse_stream_send() would take now.
 *  @param st  the stream
 *  @return the bytes (0 for NULL or a stream that no longer sends) */
TSE_API size_t tse_stream_send_space(const tse_stream *st);

/**
 * @brief Take received plaintext.
 * @param st   the stream
 * @param buf  filled with up to @p cap bytes
 * @param cap  room at @p buf
 * @param now  the clock
 * @return bytes (> 0); TSE_ERR_WOULD_BLOCK (nothing now); once the stream
 *         is DOWN and everything received was read: its
 *         tse_stream_last_error() (TSE_ERR_STREAM_EOF after a clean close
 *         by the peer); TSE_ERR_INVALID_ARG
 */
TSE_API int tse_stream_recv(tse_stream *st, uint8_t *buf, size_t cap, tse_time_ms now);

/** @brief Plaintext bytes waiting for tse_stream_recv().
 *  @param st  the stream
 *  @return the bytes (0 for NULL) */
TSE_API size_t tse_stream_readable(const tse_stream *st);

/**
 * @brief Graceful close: what is queued is sent, then close_notify, then
 *        the stream wants DISCONNECT and goes DOWN with TSE_ERR_CLOSED.
 *        Before TLS is up it goes DOWN at once.
 * @param st   the stream
 * @param now  the clock
 * @return TSE_OK (also when already closing or DOWN), TSE_ERR_INVALID_ARG
 */
TSE_API int tse_stream_close(tse_stream *st, tse_time_ms now);

/** @brief The state (TSE_STREAM_DOWN for NULL).  A query.
 *  @param st  the stream
 *  @return the state */
TSE_API tse_stream_state tse_stream_get_state(const tse_stream *st);

/** @brief Why the stream is DOWN (0 while it is not; TSE_ERR_INVALID_ARG
 *         for NULL).
 *  @param st  the stream
 *  @return the TSE_ERR_* */
TSE_API int tse_stream_last_error(const tse_stream *st);

/** @brief A state's name ("IDLE", "CONNECTING", ... "DOWN"; "?" for an
 *         unknown value).
 *  @param s  the state
 *  @return the name (static) */
TSE_API const char *tse_stream_state_name(tse_stream_state s);

#ifdef __cplusplus
}
#endif
#endif /* TSE_STREAM_H */
