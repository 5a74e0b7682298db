/**
 * @file turn.h
 * @brief A sans-I/O TURN client (RFC 8656) with TCP allocations (RFC 6062).
 *
 * TR 33.830 8.3 ("reuse of existing solutions") sends media through a
 * TURN server over TLS on port 443, through an HTTP CONNECT proxy when
 * there is one, and MSRP through TURN TCP allocations.  This client is
 * the TURN part: it never opens a socket, reads a clock or allocates.
 * The caller owns the transport to the server:
 *
 *  - TSE_TURN_DATAGRAM (UDP): each tse_turn_recv() is one datagram; each
 *    tse_turn_pending() is one datagram to send.
 *  - TSE_TURN_STREAM (TCP, TLS, TLS through a proxy -- any byte stream):
 *    tse_turn_recv() takes any fragment of the stream; STUN messages and
 *    ChannelData (padded to 4 bytes, RFC 8656 12.5) are framed back to
 *    back; tse_turn_pending() shows the bytes to write.  A TLS stream is
 *    "bytes in / bytes out" like TCP: feed the decrypted bytes, encrypt
 *    what tse_turn_pending() shows.
 *
 * Long-term credentials (RFC 8489 9.2): the first Allocate goes out
 * without credentials; the 401 brings REALM and NONCE; every later request
 * carries USERNAME, REALM, NONCE and MESSAGE-INTEGRITY (HMAC-SHA1 with
 * MD5(user:realm:password)); a 438 Stale Nonce takes the new nonce and
 * retries (at most TSE_TURN_STALE_RETRIES times per request).  Success
 * responses must carry a valid MESSAGE-INTEGRITY: over UDP a bad one is
 * dropped as if never received, over a stream it fails the request
 * (RFC 8489 9.2.5).
 *
 * Timers: retransmission over UDP (RTO doubling, Rc sends, then Rm*RTO,
 * RFC 8489 6.2.1), a 39.5 s timeout over a stream, Refresh of the
 * allocation a minute before its lifetime ends (half-way for a lifetime
 * under two minutes), CreatePermission every 4 minutes for each
 * permission (they last 5, RFC 8656 9), ChannelBind every 9 minutes for
 * each channel (they last 10, RFC 8656 12).  Call tse_turn_handle_expiry()
 * at tse_turn_expiry().
 *
 * Threading: one client is one thread's.  Callbacks run inside the call
 * that caused them; from a callback you may call every function except
 * tse_turn_init() and tse_turn_recv() (the data passed to on_data may live
 * in the receive buffer that a nested tse_turn_recv() would overwrite).
 *
 * @code
 *   tse_turn_settings s; tse_turn_settings_default(&s);
 *   s.transport = TSE_TURN_DATAGRAM; s.username = "u"; s.password = "p";
 *   s.entropy = my_random; s.on_event = on_event; s.on_data = on_data;
 *   static uint8_t tx[4096], rx[2048]; static tse_turn turn;
 *   tse_turn_init(&turn, &s, tx, sizeof tx, rx, sizeof rx);
 *   tse_turn_allocate(&turn, now());
 *   for (;;) {
 *       const uint8_t *p; size_t n;
 *       while ((n = tse_turn_pending(&turn, &p)) > 0 && send(fd, p, n) == n)
 *           tse_turn_consume(&turn, n);
 *       poll(fd, tse_turn_expiry(&turn) - now());
 *       if (readable) { n = recv(fd, buf); tse_turn_recv(&turn, buf, n, now()); }
 *       if (now() >= tse_turn_expiry(&turn)) tse_turn_handle_expiry(&turn, now());
 *   }
 *   // on_event(TSE_TURN_EV_ALLOCATED): tse_turn_create_permission(), tse_turn_send() ...
 * @endcode
 */
#ifndef TSE_TURN_H
#define TSE_TURN_H

#include <stddef.h>
#include <stdint.h>

#include "tse/error.h"
#include "tse/tse.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Compile-time bounds (override with -D). */
#ifndef TSE_TURN_MAX_PERMISSIONS
#define TSE_TURN_MAX_PERMISSIONS 8  /**< peers (IP addresses) with a permission */
#endif
#ifndef TSE_TURN_MAX_CHANNELS
#define TSE_TURN_MAX_CHANNELS 8     /**< bound channels */
#endif
#ifndef TSE_TURN_MAX_TRANSACTIONS
#define TSE_TURN_MAX_TRANSACTIONS 8 /**< requests in flight */
#endif
#ifndef TSE_TURN_CRED_MAX
#define TSE_TURN_CRED_MAX 128       /**< longest username and password (bytes) */
#endif
#ifndef TSE_TURN_REALM_MAX
#define TSE_TURN_REALM_MAX 256      /**< longest REALM and NONCE kept (bytes) */
#endif
#ifndef TSE_TURN_STALE_RETRIES
#define TSE_TURN_STALE_RETRIES 3    /**< 438 Stale Nonce retries per request */
#endif

/** The first channel number the client binds (RFC 8656 12: 0x4000..0x4FFF). */
#define TSE_TURN_CHANNEL_MIN 0x4000u
/** The last channel number (RFC 8656 12). */
#define TSE_TURN_CHANNEL_MAX 0x4FFFu

/** A transport address (host byte order port, network order address). */
typedef struct tse_turn_addr {
    int family;       /**< 4 or 6 */
    uint16_t port;    /**< the port */
    uint8_t addr[16]; /**< 4 or 16 bytes used; the rest zero */
} tse_turn_addr;

/** The transport to the TURN server. */
typedef enum tse_turn_transport {
    TSE_TURN_DATAGRAM = 0, /**< UDP: messages are datagrams */
    TSE_TURN_STREAM = 1    /**< TCP or TLS: a byte stream */
} tse_turn_transport;

/** REQUESTED-TRANSPORT values (IANA protocol numbers). */
#define TSE_TURN_RELAY_UDP 17u
#define TSE_TURN_RELAY_TCP 6u  /**< RFC 6062; needs a TSE_TURN_STREAM transport */

/** Client states. */
typedef enum tse_turn_state {
    TSE_TURN_IDLE = 0,    /**< initialised, tse_turn_allocate() not called */
    TSE_TURN_ALLOCATING,  /**< Allocate in flight (with or without credentials) */
    TSE_TURN_ALLOCATED,   /**< relayed address granted and kept fresh */
    TSE_TURN_CLOSING,     /**< Refresh with lifetime 0 in flight */
    TSE_TURN_CLOSED,      /**< deallocated */
    TSE_TURN_FAILED       /**< allocation refused, expired or stream lost */
} tse_turn_state;

/** Events (tse_turn_event::type). */
typedef enum tse_turn_event_type {
    TSE_TURN_EV_ALLOCATED = 1, /**< relayed, mapped, lifetime_s set */
    TSE_TURN_EV_REFRESHED,     /**< lifetime_s set */
    TSE_TURN_EV_PERMISSION,    /**< permission installed for peer (its IP) */
    TSE_TURN_EV_CHANNEL,       /**< channel bound to peer: ChannelData in use */
    TSE_TURN_EV_CONNECTED,     /**< RFC 6062 Connect succeeded: connection_id */
    TSE_TURN_EV_CONNECTION_ATTEMPT, /**< RFC 6062: a peer connected: peer, connection_id */
    TSE_TURN_EV_FAILED,        /**< a request failed: method, err, stun_code, peer */
    TSE_TURN_EV_CLOSED         /**< the allocation is gone (after tse_turn_close()) */
} tse_turn_event_type;

/** Request methods named in events. */
typedef enum tse_turn_method {
    TSE_TURN_M_ALLOCATE = 0x003,          /**< Allocate */
    TSE_TURN_M_REFRESH = 0x004,           /**< Refresh */
    TSE_TURN_M_CREATE_PERMISSION = 0x008, /**< CreatePermission */
    TSE_TURN_M_CHANNEL_BIND = 0x009,      /**< ChannelBind */
    TSE_TURN_M_CONNECT = 0x00A            /**< Connect (RFC 6062) */
} tse_turn_method;

/** What happened.  Valid only during the callback. */
typedef struct tse_turn_event {
    tse_turn_event_type type; /**< what happened; says which fields are set */
    int method;              /**< tse_turn_method of the request (FAILED) */
    int err;                 /**< TSE_ERR_TURN_* (FAILED) */
    int stun_code;           /**< ERROR-CODE 300..699 of an error response, else 0 */
    tse_turn_addr relayed;   /**< ALLOCATED */
    tse_turn_addr mapped;    /**< ALLOCATED: XOR-MAPPED-ADDRESS (family 0 if absent) */
    tse_turn_addr peer;      /**< PERMISSION, CHANNEL, CONNECTED, CONNECTION_ATTEMPT, FAILED */
    uint32_t lifetime_s;     /**< ALLOCATED, REFRESHED */
    uint16_t channel;        /**< CHANNEL */
    uint32_t connection_id;  /**< CONNECTED, CONNECTION_ATTEMPT */
} tse_turn_event;

/** Configuration.  Strings are copied by tse_turn_init(). */
typedef struct tse_turn_settings {
    tse_turn_transport transport; /**< to the server: datagram (default) or stream */
    uint8_t relay_protocol;      /**< TSE_TURN_RELAY_UDP (default) or _TCP */
    const char *username;        /**< required, at most TSE_TURN_CRED_MAX bytes */
    const char *password;        /**< required, at most TSE_TURN_CRED_MAX bytes (ASCII) */
    uint32_t lifetime_s;         /**< LIFETIME to ask for; 0 = server's default */
    uint32_t rto_ms;             /**< UDP initial retransmission timeout (500) */
    uint32_t max_tx;             /**< UDP sends per request, Rc (7) */
    uint32_t stream_timeout_ms;  /**< stream transaction timeout, Ti (39500) */
    int fingerprint;             /**< 1 (default): FINGERPRINT on every message */
    /** Fills transaction IDs; 0 on success.  Required. */
    int (*entropy)(void *user, uint8_t *buf, size_t len);
    /** Allocation, permission, channel, failure events.  Optional. */
    void (*on_event)(void *user, const tse_turn_event *ev);
    /** Data relayed from @p peer (Data indication or ChannelData); @p data
     *  points into the caller's input or the receive buffer, valid only
     *  during the callback.  Optional. */
    void (*on_data)(void *user, const tse_turn_addr *peer, const uint8_t *data,
                    size_t len);
    void *user;                  /**< passed to the callbacks */
} tse_turn_settings;

/** Counters. */
typedef struct tse_turn_stats {
    uint64_t tx_msgs;          /**< STUN messages sent */
    uint64_t rx_msgs;          /**< STUN messages received */
    uint64_t tx_channel_data;  /**< ChannelData messages sent */
    uint64_t rx_channel_data;  /**< ChannelData messages received */
    uint64_t retransmits;      /**< requests sent again (UDP) */
    uint64_t dropped;        /**< malformed or unmatched datagrams, unknown channels */
    uint64_t integrity_drops; /**< responses dropped for a bad MESSAGE-INTEGRITY */
    uint64_t stale_nonces;   /**< 438 Stale Nonce answers taken (request retried) */
} tse_turn_stats;

/** A transaction (private state, declared here so the caller can
 *  provide the storage). */
typedef struct tse_turn_txn_ {
    /** @privatesection */
    int used;
    uint16_t method;
    uint8_t txid[12];
    int authed;              /* carried credentials */
    int stale;               /* 438 retries so far */
    tse_turn_addr peer;
    uint16_t channel;
    uint32_t lifetime;       /* Refresh / Allocate LIFETIME; UINT32_MAX = none */
    tse_time_ms next_tx;     /* UDP retransmission, or TSE_TIME_NEVER */
    tse_time_ms deadline;    /* give up */
    uint32_t rto;
    uint32_t sends;
} tse_turn_txn_;

/** A permission (private). */
typedef struct tse_turn_perm_ {
    /** @privatesection */
    int used, installed, pending;
    tse_turn_addr peer;      /* matched by IP only: permissions are per IP (RFC 8656 9) */
    tse_time_ms refresh_at;
} tse_turn_perm_;

/** A channel (private). */
typedef struct tse_turn_chan_ {
    /** @privatesection */
    int used, bound, pending;
    uint16_t number;
    tse_turn_addr peer;
    tse_time_ms refresh_at;
} tse_turn_chan_;

/** A TURN client.  Fields are private; use the functions. */
typedef struct tse_turn {
    /** @privatesection */
    tse_turn_settings s;
    char user[TSE_TURN_CRED_MAX + 1], pass[TSE_TURN_CRED_MAX + 1];
    uint8_t realm[TSE_TURN_REALM_MAX], nonce[TSE_TURN_REALM_MAX];
    size_t realm_len, nonce_len;
    int have_key;
    uint8_t key[16];
    int state;
    int error;
    tse_turn_addr relayed, mapped;
    uint32_t lifetime_s;
    tse_time_ms refresh_at, expires_at;
    int refresh_pending;
    tse_turn_txn_ txn[TSE_TURN_MAX_TRANSACTIONS];
    tse_turn_perm_ perm[TSE_TURN_MAX_PERMISSIONS];
    tse_turn_chan_ chan[TSE_TURN_MAX_CHANNELS];
    uint8_t *tx;             /* caller's output queue */
    size_t tx_cap, tx_head, tx_tail;
    uint8_t *rx;             /* caller's stream reassembly buffer */
    size_t rx_cap, rx_have;
    tse_turn_stats stats;
} tse_turn;

/** @brief Defaults: datagram, UDP relay, RTO 500 ms, Rc 7, Ti 39.5 s,
 *         fingerprint on, server's lifetime.
 *  @param[out] s  the settings */
TSE_API void tse_turn_settings_default(tse_turn_settings *s);

/**
 * @brief Initialise a client in caller-provided storage.
 *
 * @param[out] c       the client (caller's storage, e.g. static)
 * @param[in]  s       settings; strings are copied
 * @param[in]  tx      output queue (owned by the caller, valid for the
 *                     client's life): holds requests and data waiting for
 *                     the transport; at least 1024 bytes, and room for the
 *                     largest datagram you send plus 64
 * @param[in]  tx_cap  its size
 * @param[in]  rx      stream reassembly buffer (stream transport only;
 *                     may be NULL for datagrams): the largest message
 *                     accepted, e.g. 1500 for media
 * @param[in]  rx_cap  its size (0 with @p rx NULL)
 * @return TSE_OK, TSE_ERR_INVALID_ARG (NULL, no entropy, credentials
 *         missing or too long, TCP relay over datagrams, buffers too small)
 */
TSE_API int tse_turn_init(tse_turn *c, const tse_turn_settings *s, uint8_t *tx, size_t tx_cap,
                          uint8_t *rx, size_t rx_cap);

/** @brief Send the Allocate request.
 *  @param c    the client
 *  @param now  the clock
 *  @return TSE_OK, TSE_ERR_INVALID_ARG (NULL), TSE_ERR_STATE (not IDLE),
 *          TSE_ERR_QUEUE_FULL, TSE_ERR_DETECT_ENTROPY */
TSE_API int tse_turn_allocate(tse_turn *c, tse_time_ms now);

/**
 * @brief Feed what the transport received.
 *
 * Datagram: one whole datagram; a malformed or unexpected one is dropped
 * (counted in stats.dropped) and its decoding error returned, the client
 * goes on.  Stream: any fragment; a framing error loses the stream: the
 * client is FAILED and every later call returns the same error.
 * @param c     the client
 * @param data  the datagram, or the stream's bytes
 * @param len   their number
 * @param now   the clock
 * @return TSE_OK, a TSE_ERR_STUN_* / TSE_ERR_TURN_* code (see above),
 *         TSE_ERR_INVALID_ARG
 */
TSE_API int tse_turn_recv(tse_turn *c, const uint8_t *data, size_t len, tse_time_ms now);

/**
 * @brief What to send next: one datagram, or the contiguous bytes of the
 *        stream.  @p out points into the output queue, valid until the
 *        next call that changes the client.
 * @param[in]  c    the client
 * @param[out] out  the bytes
 * @return their number (0 = nothing; also for NULL)
 */
TSE_API size_t tse_turn_pending(const tse_turn *c, const uint8_t **out);

/** @brief Drop @p n sent bytes (datagram: the whole datagram, whatever
 *         @p n is).
 *  @param c  the client
 *  @param n  bytes sent */
TSE_API void tse_turn_consume(tse_turn *c, size_t n);

/** @brief The next time tse_turn_handle_expiry() must run.
 *  @param c  the client
 *  @return the time, or TSE_TIME_NEVER (nothing due, or NULL) */
TSE_API tse_time_ms tse_turn_expiry(const tse_turn *c);

/** @brief Run retransmissions, timeouts and refreshes due at @p now.
 *  @param c    the client
 *  @param now  the clock
 *  @return TSE_OK, TSE_ERR_INVALID_ARG (NULL), or the client's fatal
 *          error once it has FAILED (tse_turn_error()) */
TSE_API int tse_turn_handle_expiry(tse_turn *c, tse_time_ms now);

/**
 * @brief Install (and keep refreshing) a permission for @p peer's IP
 *        address.  TSE_TURN_EV_PERMISSION follows.
 * @param c     the client
 * @param peer  the peer
 * @param now   the clock
 * @return TSE_OK (also when already installed or in flight),
 *         TSE_ERR_TURN_NOT_ALLOCATED, TSE_ERR_TURN_TABLE_FULL (no
 *         permission or transaction slot), TSE_ERR_QUEUE_FULL,
 *         TSE_ERR_DETECT_ENTROPY, TSE_ERR_INVALID_ARG (NULL, bad address)
 */
TSE_API int tse_turn_create_permission(tse_turn *c, const tse_turn_addr *peer, tse_time_ms now);

/**
 * @brief Bind a channel to @p peer (installs its permission too);
 *        TSE_TURN_EV_CHANNEL follows, after which tse_turn_send() to the
 *        peer uses ChannelData.  Not for TCP allocations.
 * @param c     the client
 * @param peer  the peer
 * @param now   the clock
 * @return as tse_turn_create_permission(), and TSE_ERR_STATE for a TCP relay
 */
TSE_API int tse_turn_bind_channel(tse_turn *c, const tse_turn_addr *peer, tse_time_ms now);

/**
 * @brief Send @p len bytes to @p peer through the relay: ChannelData when
 *        a channel is bound, else a Send indication.
 * @param c     the client
 * @param peer  the peer
 * @param data  the payload
 * @param len   its length
 * @param now   the clock
 * @return TSE_OK, TSE_ERR_DETECT_ENTROPY (Send indication), TSE_ERR_TURN_NOT_ALLOCATED, TSE_ERR_TURN_NO_PERMISSION
 *         (no permission requested for the peer), TSE_ERR_QUEUE_FULL
 *         (output queue has no room: drain it and retry),
 *         TSE_ERR_INVALID_ARG (NULL, bad address, too big for one
 *         message), TSE_ERR_STATE
 *         (TCP relay: peer data goes on the data connection)
 */
TSE_API int tse_turn_send(tse_turn *c, const tse_turn_addr *peer, const uint8_t *data,
                          size_t len, tse_time_ms now);

/**
 * @brief RFC 6062 4.3: ask the server to open a TCP connection from the
 *        relayed address to @p peer (needs a permission for it and a TCP
 *        allocation).  TSE_TURN_EV_CONNECTED with the CONNECTION-ID
 *        follows; then open a new connection to the server and use
 *        tse_turn_connection_bind_request() on it.
 * @param c     the client
 * @param peer  the peer
 * @param now   the clock
 * @return TSE_OK, TSE_ERR_INVALID_ARG (NULL, bad address), TSE_ERR_STATE
 *         (not a TCP allocation), TSE_ERR_TURN_NOT_ALLOCATED,
 *         TSE_ERR_TURN_TABLE_FULL (every transaction slot busy), TSE_ERR_QUEUE_FULL, TSE_ERR_DETECT_ENTROPY
 */
TSE_API int tse_turn_connect(tse_turn *c, const tse_turn_addr *peer, tse_time_ms now);

/**
 * @brief RFC 6062 4.3/4.4: the ConnectionBind request for a new data
 *        connection to the server, with the client's credentials.
 *
 * @param[in]  c              the client (its credentials)
 * @param[in]  connection_id  from TSE_TURN_EV_CONNECTED or _CONNECTION_ATTEMPT
 * @param[out] out      the request, to write first on the data connection
 * @param[in]  cap      bytes available at @p out
 * @param[out] out_len  the request's length
 * @param[out] txid     its transaction ID, for the response check
 * @return TSE_OK, TSE_ERR_INVALID_ARG (NULL),
 *         TSE_ERR_TURN_NOT_ALLOCATED (no credentials yet),
 *         TSE_ERR_BUFFER_TOO_SMALL, TSE_ERR_DETECT_ENTROPY
 */
TSE_API int tse_turn_connection_bind_request(tse_turn *c, uint32_t connection_id, uint8_t *out,
                                             size_t cap, size_t *out_len, uint8_t txid[12]);

/**
 * @brief Check the response that starts the data connection's byte stream.
 *
 * @param[in]  c         the client (its key, for MESSAGE-INTEGRITY)
 * @param[in]  txid      from tse_turn_connection_bind_request()
 * @param[in]  in        bytes received on the data connection so far
 * @param[in]  len       their number
 * @param[out] consumed  the response's length on TSE_OK: the bytes after
 *                       it are already the peer's
 * @return TSE_OK (bound: the connection is now a raw pipe to the peer),
 *         TSE_ERR_WOULD_BLOCK (need more bytes), TSE_ERR_TURN_* for an
 *         error response (a 438 updates the nonce: close, reconnect and
 *         build a new request), TSE_ERR_TURN_INTEGRITY,
 *         TSE_ERR_STUN_* (malformed, wrong transaction)
 */
TSE_API int tse_turn_connection_bind_response(tse_turn *c, const uint8_t txid[12],
                                              const uint8_t *in, size_t len, size_t *consumed);

/**
 * @brief Refresh the allocation now instead of at its timer (e.g. after the
 *        network changed); TSE_TURN_EV_REFRESHED follows.
 * @param c    the client
 * @param now  the clock
 * @return TSE_OK (also when a Refresh is already in flight),
 *         TSE_ERR_INVALID_ARG (NULL), TSE_ERR_TURN_NOT_ALLOCATED,
 *         TSE_ERR_TURN_TABLE_FULL (every transaction slot busy), TSE_ERR_QUEUE_FULL, TSE_ERR_DETECT_ENTROPY
 */
TSE_API int tse_turn_refresh(tse_turn *c, tse_time_ms now);

/** @brief Deallocate (Refresh with LIFETIME 0); TSE_TURN_EV_CLOSED follows.
 *  @param c    the client
 *  @param now  the clock
 *  @return TSE_OK, TSE_ERR_INVALID_ARG (NULL), TSE_ERR_STATE (nothing
 *          allocated), TSE_ERR_TURN_TABLE_FULL (every transaction slot busy), TSE_ERR_QUEUE_FULL, TSE_ERR_DETECT_ENTROPY */
TSE_API int tse_turn_close(tse_turn *c, tse_time_ms now);

/** @brief The current state.
 *  @param c  the client
 *  @return enum tse_turn_state (TSE_TURN_FAILED for NULL) */
TSE_API int tse_turn_get_state(const tse_turn *c);
/** @brief The fatal error.
 *  @param c  the client
 *  @return the TSE_ERR_* once FAILED, else 0 (TSE_ERR_INVALID_ARG for NULL) */
TSE_API int tse_turn_error(const tse_turn *c);
/** @brief The relayed address.
 *  @param[in]  c    the client
 *  @param[out] out  the address
 *  @return TSE_OK, TSE_ERR_TURN_NOT_ALLOCATED, TSE_ERR_INVALID_ARG (NULL) */
TSE_API int tse_turn_relayed(const tse_turn *c, tse_turn_addr *out);
/** @brief Counters.
 *  @param c  the client
 *  @return the counters, inside @p c (NULL for NULL) */
TSE_API const tse_turn_stats *tse_turn_get_stats(const tse_turn *c);

/**
 * @brief Frame ChannelData (RFC 8656 12.4) into @p out: channel, length,
 *        data, and zero padding to 4 bytes when @p pad (stream transports).
 * @param[in]  channel  the channel number
 * @param[in]  data     the payload
 * @param[in]  len      its length
 * @param[in]  pad      1: pad to a multiple of 4
 * @param[out] out      the message
 * @param[in]  cap      bytes available at @p out
 * @param[out] out_len  the message's length
 * @return TSE_OK, TSE_ERR_INVALID_ARG (channel outside 0x4000..0x4FFF,
 *         @p len above 65535), TSE_ERR_BUFFER_TOO_SMALL
 */
TSE_API int tse_turn_channel_data(uint16_t channel, const uint8_t *data, size_t len, int pad,
                                  uint8_t *out, size_t cap, size_t *out_len);

#ifdef __cplusplus
}
#endif
#endif /* TSE_TURN_H */
