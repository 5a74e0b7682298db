/**
 * @file tse.h
 * @brief libtse: the Tunneled Service Element (TR 33.830 8.4, Annex A).
 *
 * A sans-I/O engine: the port connects the outer TCP connection where the
 * engine asks, feeds it the bytes that arrive (tse_tunnel_recv_outer()),
 * sends what the engine has for it (tse_tunnel_outer_pending() /
 * tse_tunnel_outer_consume()), passes the time (`now`, milliseconds of a
 * monotonic clock), and fires tse_tunnel_handle_expiry() at
 * tse_tunnel_expiry().  The engine never opens a socket, reads a clock,
 * starts a thread, or allocates after tse_tunnel_new().
 *
 * Outer path: TCP -> [HTTP CONNECT through a proxy] -> TLS -> framing ->
 * Configuration_Request / Response -> inner IP packets and keep-alives.
 *
 * Outbound, one owner per buffer: tse_tunnel_send_packet() queues a packet
 * in its class (control, real-time, bulk: tse_sched_settings); the engine
 * moves the next unit by priority into a TLS record in its ciphertext
 * buffer whenever the port has drained it; tse_tunnel_outer_pending() only
 * shows that buffer and tse_tunnel_outer_consume() drops what was sent
 * (and builds the next record).  docs/scheduler.md has the policy.
 *
 * Threading: a tunnel is not thread-safe; call all functions of one tunnel
 * from one thread (or under one lock).  Tunnels are independent.
 * Callbacks run inside the call that caused them; from a callback you may
 * call tse_tunnel_send_packet(), tse_tunnel_state() and the getters, but
 * not tse_tunnel_del().
 *
 * Typical driver loop:
 * @code
 *   tse_tunnel_start(t, now());
 *   for (;;) {
 *       int w = tse_tunnel_want(t);
 *       if (w & TSE_WANT_CONNECT) { tse_tunnel_connect_target(t,&h,&p); start connect; }
 *       if (w & TSE_WANT_DISCONNECT) { close socket; tse_tunnel_transport_closed(t, 0, now()); }
 *       poll(socket for READ if w & TSE_WANT_READ, WRITE if w & TSE_WANT_WRITE,
 *            timeout = tse_tunnel_expiry(t) - now());
 *       on connect done: tse_tunnel_transport_connected(t, now());
 *       on readable:     n = recv(); tse_tunnel_recv_outer(t, buf, n, now());
 *       on writable:     while ((n = tse_tunnel_outer_pending(t, &p)) > 0 &&
 *                               (n = send(p, n)) > 0)
 *                            tse_tunnel_outer_consume(t, n);
 *       if (now() >= tse_tunnel_expiry(t)) tse_tunnel_handle_expiry(t, now());
 *   }
 * @endcode
 */
#ifndef TSE_TSE_H
#define TSE_TSE_H

#include <stddef.h>
#include <stdint.h>

#include "tse/error.h"
#include "tse/export.h"
#include "tse/framing.h" /* enum tse_unit_kind, for on_trace */
#include "tse/version.h"

#ifdef __cplusplus
extern "C" {
#endif

/** @brief The library's version, "MAJOR.MINOR.PATCH" (static): that of the
 *         library linked, which may differ from TSE_VERSION_STRING, that of
 *         the headers compiled against.
 *  @return the version text (static) */
TSE_API const char *tse_version(void);

/** @brief The library's version as TSE_VERSION_NUMBER encodes it:
 *         (MAJOR << 16) | (MINOR << 8) | PATCH.
 *  @return the number */
TSE_API unsigned long tse_version_number(void);

/** Milliseconds of a monotonic clock chosen by the port. */
typedef uint64_t tse_time_ms;
/** "No deadline": the largest tse_time_ms. */
#define TSE_TIME_NEVER UINT64_MAX

/** Allocator used only inside tse_tunnel_new()/tse_tunnel_del() (and by
 *  mbed TLS during the handshake if the port routes it here). */
typedef struct tse_mem {
    void *user;  /**< passed to calloc and free */
    /** Like calloc(): @p n zeroed objects of @p size bytes, or NULL. */
    void *(*calloc)(void *user, size_t n, size_t size);
    /** Like free(): releases what calloc returned. */
    void (*free)(void *user, void *ptr);
} tse_mem;

/** Engine states. */
typedef enum tse_state {
    TSE_STATE_IDLE = 0,       /**< created, not started */
    TSE_STATE_CONNECTING,     /**< waiting for the port's TCP connect */
    TSE_STATE_PROXY,          /**< HTTP CONNECT exchange with the proxy */
    TSE_STATE_TLS,            /**< TLS handshake */
    TSE_STATE_CONFIGURING,    /**< Configuration_Request sent */
    TSE_STATE_UP,             /**< tunnel up: inner packets flow */
    TSE_STATE_RELEASING,      /**< Configuration_Release_Request sent */
    TSE_STATE_BACKOFF,        /**< waiting to reconnect after a failure */
    TSE_STATE_PAUSED,         /**< paused by the application */
    TSE_STATE_CLOSED          /**< terminal: released or failed for good */
} tse_state;

/** Interest bits returned by tse_tunnel_want(). */
enum tse_want {
    TSE_WANT_CONNECT = 1u << 0,    /**< open the outer TCP connection */
    TSE_WANT_READ = 1u << 1,       /**< deliver received bytes */
    TSE_WANT_WRITE = 1u << 2,      /**< bytes are pending to send */
    TSE_WANT_DISCONNECT = 1u << 3  /**< close the outer connection */
};

/** Classes of the outbound scheduler, in the order they are served. */
typedef enum tse_class {
    TSE_CLASS_CONTROL = 0,   /**< Annex A control messages (engine only) */
    TSE_CLASS_REALTIME = 1,  /**< voice, video, signalling: before bulk */
    TSE_CLASS_BULK = 2,      /**< everything else */
    TSE_CLASS_COUNT = 3
} tse_class;

/** DSCP bit for tse_sched_settings::rt_dscp (RFC 2474 codepoint 0..63). */
#define TSE_DSCP_BIT(d) (UINT64_C(1) << (d))
/** Default real-time codepoints: EF (46, RFC 3246: voice), AF41-43 (34,
 *  36, 38: interactive video), CS3 (24: signalling, RFC 4594), CS4 (32),
 *  CS5 (40). */
#define TSE_DSCP_RT_DEFAULT                                                   \
    (TSE_DSCP_BIT(46) | TSE_DSCP_BIT(34) | TSE_DSCP_BIT(36) | TSE_DSCP_BIT(38) | \
     TSE_DSCP_BIT(24) | TSE_DSCP_BIT(32) | TSE_DSCP_BIT(40))

/**
 * The outbound scheduler's policy (TR 33.830 4.9: one TCP connection
 * carries signalling, voice and bulk, so what goes next decides who waits).
 * Control messages always go first, then real-time packets, then bulk.
 * docs/scheduler.md explains each knob and what it costs.
 */
typedef struct tse_sched_settings {
    /** 1: no priority: every inner packet in one FIFO (the bulk queue),
     *  as before the scheduler (for comparison).  Default 0. */
    int fifo;
    /** Real-time queue, bytes (default 4096: 23 voice packets of 172
     *  bytes).  A real-time packet that finds it full is refused
     *  (TSE_ERR_QUEUE_FULL). */
    size_t rt_queue_size;
    /** A real-time packet still queued this long after
     *  tse_tunnel_send_packet() is dropped and counted (rt_stale_drops):
     *  late voice is worse than lost voice.  Default 150 ms; 0 = never. */
    uint32_t rt_deadline_ms;
    /** DSCP codepoints that make a packet real-time (TSE_DSCP_BIT()).
     *  Default TSE_DSCP_RT_DEFAULT. */
    uint64_t rt_dscp;
    /** UDP is real-time whatever its DSCP (RTP, SIP over UDP).  Default 1.
     *  A bulk UDP flow (QUIC) then competes with voice; mark it or clear
     *  this. */
    int rt_udp;
    /** ICMP / ICMPv6 is real-time (ping measures what voice sees).
     *  Default 1. */
    int rt_icmp;
    /** TCP packets of at most this many bytes are real-time: pure ACKs and
     *  SYNs, so a download's ACKs are not stuck behind an upload.  Default
     *  80 (an IPv6 ACK with timestamps is 72 bytes, a SYN 80); 0 = none.
     *  Only while the real-time queue is at most half full: beyond that
     *  they go as bulk, so a flood of ACKs never refuses voice. */
    uint16_t rt_small_tcp;
    /** Largest plaintext of one TLS record of bulk data: a real-time packet
     *  waits behind at most one such record in the engine.  Default 4096;
     *  it is also capped by the ciphertext buffer (TSE_OUTER_BUF_SIZE) and
     *  by mbed TLS's MBEDTLS_SSL_OUT_CONTENT_LEN. */
    size_t record_max;
    /** For ports: unsent bytes the OS socket under the tunnel may hold
     *  (Linux TCP_NOTSENT_LOWAT), so that the choice of what goes next
     *  stays here rather than in a kernel FIFO.  Default 8192; 0 = leave
     *  the OS default.  The engine itself keeps at most one bulk record
     *  in its ciphertext buffer. */
    size_t notsent_lowat;
} tse_sched_settings;

/** The negotiated tunnel configuration (Configuration_Response). */
typedef struct tse_tunnel_config {
    uint64_t tsid;            /**< TSID assigned by the TSCF (A.1.4) */
    uint8_t ipv4[4];          /**< inner IPv4 address */
    uint8_t ipv4_mask[4];     /**< its netmask (255.255.255.255 if absent) */
    int has_ipv6;             /**< 1 if an inner IPv6 address was assigned */
    uint8_t ipv6[16];         /**< inner IPv6 address (with has_ipv6) */
    uint8_t ipv6_mask[16];    /**< its netmask (with has_ipv6) */
    uint16_t keepalive_s;     /**< Keep_Alive_Interval; 0 = none */
    int resumed;              /**< 1 if the previous TSID was accepted */
    int via_proxy;            /**< 1 if the outer path used HTTP CONNECT */
    uint16_t tls_version;     /**< 0x0303 TLS 1.2, 0x0304 TLS 1.3 */
    const char *tls_suite;    /**< cipher suite name (static) */
    uint16_t server_port;     /**< the TSCF port of this connection */
} tse_tunnel_config;

/** What an event reports (tse_event::type). */
typedef enum tse_event_type {
    TSE_EV_STATE = 1,       /**< state changed (old_state -> state) */
    TSE_EV_TUNNEL_UP,       /**< config valid; inner packets may flow */
    TSE_EV_TUNNEL_DOWN,     /**< tunnel lost or closed; error says why */
    TSE_EV_ADDR_CHANGED,    /**< a resume gave a different inner address */
    TSE_EV_WARNING,         /**< something to log loudly (e.g. insecure mode) */
    TSE_EV_RECONNECT        /**< reconnect scheduled in retry_in_ms */
} tse_event_type;

/** An event; valid only during the callback. */
typedef struct tse_event {
    tse_event_type type;              /**< what happened */
    tse_state state;                  /**< the state now */
    tse_state old_state;              /**< the state before (TSE_EV_STATE) */
    int error;                        /**< TSE_ERR_* for DOWN/RECONNECT */
    const tse_tunnel_config *config;  /**< for UP / ADDR_CHANGED */
    int proxy_status;                 /**< HTTP status for TSE_ERR_PROXY_* */
    int response_code;                /**< TSCF Response_Code for REJECT_* */
    uint32_t retry_in_ms;             /**< for RECONNECT */
    const char *detail;               /**< human text (reason phrase, cert
                                           failure...) or NULL */
} tse_event;

/** The application's callbacks (copied by tse_tunnel_new()); each
 *  gets the @p user given to tse_tunnel_new(). */
typedef struct tse_callbacks {
    /** Required: events (state, up, down...). */
    void (*on_event)(void *user, const tse_event *ev);
    /** Required: an inbound inner IP packet; @p pkt valid only during the call. */
    void (*on_packet)(void *user, const uint8_t *pkt, size_t len);
    /** Required: fill @p buf with @p len random bytes; 0 on success.
     *  Seeds mbed TLS's DRBG and the backoff jitter. */
    int (*entropy)(void *user, uint8_t *buf, size_t len);
    /** Optional (NULL: none): a trace of every unit the tunnel carries,
     *  for captures and debugging (tse-cli --pcap).  @p kind is
     *  TSE_UNIT_CM, TSE_UNIT_IPV4 or TSE_UNIT_IPV6 (tse/framing.h);
     *  @p unit is the unit without the framing: a control message's
     *  16-byte header and TLVs (TR 33.830 A.1), or an inner IP packet.
     *  Outbound (@p outbound 1): each CM the engine queues and each packet
     *  tse_tunnel_send_packet() accepts.  Inbound (0): each unit received
     *  from the TSCF, before it is decoded or checked (so malformed CMs
     *  and packets dropped before TSE_STATE_UP too).  @p unit is valid only
     *  during the call; do not call the tunnel's functions from it. */
    void (*on_trace)(void *user, int outbound, int kind, const uint8_t *unit, size_t len);
} tse_callbacks;

/** A TLS configuration that tunnels share (tse_tls_config_new()). */
typedef struct tse_tls_config tse_tls_config;

/** A tunnel (tse_tunnel_new()). */
typedef struct tse_tunnel tse_tunnel;

struct tse_detect_cache; /* tse/detect.h */

/** Levels of the log hook (tse_settings::log), most severe first. */
typedef enum tse_log_level {
    TSE_LOG_ERROR = 0, /**< the tunnel failed for good or gives up */
    TSE_LOG_WARN = 1,  /**< a connection failed (it will be retried), a
                            peer's message was refused, an insecure mode */
    TSE_LOG_INFO = 2,  /**< milestones: connecting, proxy and TLS up,
                            tunnel up with its address, reconnect delays,
                            release */
    TSE_LOG_DEBUG = 3  /**< each control message, keep-alive round trips,
                            state steps, refused packets, and mbed TLS's
                            own debug output (tse_settings::tls_debug).
                            Compiled out unless TSE_CONFIG_LOG_DEBUG is 1
                            (tse/config.h) */
} tse_log_level;

/**
 * The log hook: one line of text (no newline) at @p level, about tunnel
 * @p t (NULL for a message of a shared tse_tls_config, i.e. mbed TLS
 * debug output of a shared configuration).  @p msg is valid only during
 * the call.  It runs inside the library call that made the decision, like
 * the callbacks: it may call the getters of @p t, nothing else of it.
 */
typedef void (*tse_log_fn)(void *user, const tse_tunnel *t, tse_log_level level,
                           const char *msg);

/** Runtime settings; fill with tse_settings_default() first.  Strings and
 *  buffers are copied or parsed by tse_tunnel_new(); they need not outlive it. */
typedef struct tse_settings {
    /* TSCF */
    const char *server_host;   /**< name or literal address (required) */
    uint16_t server_port;      /**< default 443 */
    const char *sni;           /**< default: server_host if it is a name;
                                    also the name verified in the certificate */

    /* HTTP proxy (optional) */
    const char *proxy_host;    /**< NULL = connect directly */
    uint16_t proxy_port;       /**< default 8080 */
    const char *proxy_user;    /**< Basic/Digest credentials, or NULL */
    const char *proxy_pass;    /**< its password, or NULL */
    const char *user_agent;    /**< default "libtse/<version>" */
    /** Extra header line marking the CONNECT as IMS traffic (TR 4.8.4),
     *  e.g. "X-IMS-Tunnel: tscf"; NULL for none.  Default NULL (see README:
     *  no name is standardised and unknown headers can trip DPI). */
    const char *proxy_marker_header;

    /* TLS */
    const uint8_t *ca;         /**< trust anchors, PEM (NUL-terminated) or DER */
    size_t ca_len;             /**< including the NUL for PEM */
    const uint8_t *pin_sha256; /**< 32-byte SHA-256 of the server's
                                    SubjectPublicKeyInfo, or NULL */
    /** @{ */
    /** Optional client certificate (PEM with its NUL, or DER) and length. */
    const uint8_t *client_cert; size_t client_cert_len; /**< optional */
    /** @} */
    /** @{ */
    /** Optional client private key (PEM with its NUL, or DER) and length. */
    const uint8_t *client_key;  size_t client_key_len;  /**< optional */
    /** @} */
    /** LAB ONLY: skip certificate verification.  Emits TSE_EV_WARNING every
     *  time a connection is made with it.  Never ship with this set. */
    int tls_insecure_lab_only_skip_verify;

    /* Control procedures */
    uint8_t request_ipv4[4];     /**< 0.0.0.0 = any */
    uint8_t request_ipv4_mask[4];/**< default 255.255.255.255 */
    int request_ipv6;            /**< include IPv6 address/netmask TLVs */
    uint8_t request_ipv6_addr[16]; /**< :: = any */
    uint8_t request_ipv6_mask[16]; /**< netmask requested with it */
    uint16_t request_keepalive_s;/**< 0 = do not request one */

    /* Timers, milliseconds */
    uint32_t connect_timeout_ms;   /**< TCP connect (enforced by the engine) */
    uint32_t proxy_timeout_ms;     /**< CONNECT reply */
    uint32_t tls_timeout_ms;       /**< TLS handshake */
    uint32_t config_timeout_ms;    /**< Configuration_Response */
    /** Keep_Alive_Response; then the peer is dead.  0 (the default) =
     *  one negotiated keep-alive interval, at least 2 s: a dead TSCF is
     *  noticed about two intervals after its last sign of life (a 2 s
     *  interval: within 4 s).  Any other value is used as it is. */
    uint32_t ka_response_timeout_ms;
    /** Dead-peer detection when the TSCF negotiated no Keep_Alive_Interval
     *  (A.1.8 allows none): after this long with nothing received the
     *  engine sends a Keep_Alive as a probe, and ends the connection
     *  (TSE_ERR_KEEPALIVE_TIMEOUT, then resumes) if no Keep_Alive_Response
     *  comes within ka_response_timeout_ms, by default half of this.  So a
     *  dead path is noticed within 1.5 x dpd_idle_ms: default 20000 ->
     *  30 s.  0 = no probe (a dead path is then noticed only by TCP). */
    uint32_t dpd_idle_ms;
    uint32_t release_timeout_ms;   /**< Configuration_Release_Response */

    /* Reconnect with exponential backoff and jitter */
    int auto_reconnect;            /**< default 1 */
    uint32_t backoff_initial_ms;   /**< default 1000 */
    uint32_t backoff_max_ms;       /**< default 60000 */
    uint32_t max_retries;          /**< 0 = forever; see also backoff_stable_ms */

    /* Buffers */
    size_t outq_size;     /**< bulk queue of the outbound scheduler, bytes
                               (default 16384); must hold max_unit */
    size_t max_unit;      /**< largest inbound unit (default 2048) */
    int framing;          /**< enum tse_framing_profile (default TSCF) */

    /** Outbound scheduler: classes, bounds, deadline, record size. */
    tse_sched_settings sched;

    /** A TLS configuration shared with other tunnels (trust anchors
     *  parsed once, one mbedtls_ssl_config: tse_tls_config_new()), or NULL
     *  (default): the tunnel builds its own from ca, client_cert,
     *  client_key and tls_insecure_lab_only_skip_verify.  When set, those
     *  four must be unset (else TSE_ERR_SETTING_TLS); sni and pin_sha256
     *  stay per tunnel.  It must outlive every tunnel using it, and those
     *  tunnels must be driven from one thread (it holds the DRBG). */
    tse_tls_config *tls_config;
    /** A tunnel that stays UP this long (ms) counts as a success and the
     *  reconnect backoff starts over from backoff_initial_ms; one that
     *  goes down sooner counts as another failed attempt (delays keep
     *  growing, max_retries counts it), so a TSCF that configures the
     *  tunnel and at once breaks it is not hit every second.  Default
     *  30000; 0 = every UP resets the backoff. */
    uint32_t backoff_stable_ms;

    /* Debugging */
    /** Optional (NULL: none): the TLS secrets of every connection, to
     *  decrypt a capture of it (SSLKEYLOGFILE, tse-cli).  Called once per
     *  secret with the fields of one line of the NSS key log format:
     *  @p label "CLIENT_RANDOM" (TLS 1.2: the 48-byte master secret) or
     *  "CLIENT_HANDSHAKE_TRAFFIC_SECRET", "SERVER_HANDSHAKE_TRAFFIC_SECRET",
     *  "CLIENT_TRAFFIC_SECRET_0", "SERVER_TRAFFIC_SECRET_0" (TLS 1.3, with
     *  mbed TLS 3), the connection's 32-byte client random, and the secret.
     *  Runs inside the call that advanced the handshake.  WHOEVER GETS
     *  THESE CAN READ AND FORGE THE TUNNEL'S TRAFFIC: never set it in a
     *  product.  The engine emits TSE_EV_WARNING on every connection while
     *  it is set.  With mbed TLS 2.28 it needs MBEDTLS_SSL_EXPORT_KEYS
     *  and the tunnel's own TLS configuration (no tls_config), else
     *  tse_tunnel_new() fails with TSE_ERR_TLS_CONFIG.  TSE_CONFIG_KEYLOG 0
     *  compiles it out: then it must be NULL (else TSE_ERR_SETTING_LOG). */
    void (*tls_keylog)(void *user, const char *label, const uint8_t client_random[32],
                       const uint8_t *secret, size_t secret_len);
    void *tls_keylog_user;     /**< passed to tls_keylog */

    /** Optional (NULL: none): the library's log, leveled (tse_log_level):
     *  why it connects where it does, why it retries and when, what it
     *  received, what it refused.  Messages above @ref log_level are not
     *  even formatted.  TSE_CONFIG_LOG 0 compiles it out (never called). */
    tse_log_fn log;
    void *log_user;            /**< passed to log */
    /** The most verbose level passed to log.  Default TSE_LOG_INFO.
     *  TSE_LOG_DEBUG needs TSE_CONFIG_LOG_DEBUG (else
     *  TSE_ERR_SETTING_LOG). */
    tse_log_level log_level;
    /** mbed TLS's debug output (mbedtls_ssl_conf_dbg()) routed to log at
     *  TSE_LOG_DEBUG: mbed TLS's threshold, 0 (none, the default) to 4
     *  (everything).  It needs log, log_level TSE_LOG_DEBUG,
     *  TSE_CONFIG_LOG_DEBUG and MBEDTLS_DEBUG_C (else
     *  TSE_ERR_SETTING_LOG).  mbed TLS's threshold is process-wide
     *  (mbedtls_debug_set_threshold()): it is raised, never lowered, and
     *  each configuration filters to its own level.  With a shared
     *  tls_config, set it in the settings given to tse_tls_config_new()
     *  (its messages carry no tunnel). */
    int tls_debug;

    /* Outer paths (chosen per connection attempt; docs/engine.md) */
    /** A second TSCF port, tried when a connection on the first fails
     *  before the tunnel is configured (TR 33.830 8.4.2: 443, then 80), and
     *  the first again after it: each attempt takes the next port at once,
     *  and only when every port has failed does the backoff wait.  The
     *  port that worked is where the next reconnect starts.  0 (the
     *  default) = one port.  Equal to server_port, or any with
     *  TSE_CONFIG_MULTIPATH 0: TSE_ERR_SETTING_PATH.
     *  tse_tunnel_set_outer_path() changes both ports later. */
    uint16_t server_port_2;
    /** The TCP connect timeout while another port is left to try in this
     *  round: a firewall that drops SYNs costs this long, not
     *  connect_timeout_ms (whichever is smaller).  Default 2000. */
    uint32_t path_timeout_ms;
    /** Optional (NULL: none): the decision cache of the detection
     *  (tse/detect.h), shared with it.  tse_tunnel_network_changed() looks
     *  the new network up and starts on the port and proxy choice that
     *  worked there; a tunnel that comes up on a network stores its path
     *  there (unless detection cached a direct decision for it); a cached
     *  path that fails is forgotten.  Must outlive the tunnel; the tunnel
     *  and the detection using it must run on one thread.  Needs
     *  TSE_CONFIG_DETECT_CACHE and TSE_CONFIG_MULTIPATH (else
     *  TSE_ERR_SETTING_PATH). */
    struct tse_detect_cache *path_cache;
} tse_settings;

/** The outer path of later connection attempts
 *  (tse_tunnel_set_outer_path()): the TSCF ports and the HTTP proxy, which
 *  change with the network.  Strings are copied. */
typedef struct tse_outer_path {
    uint16_t server_port;    /**< the first TSCF port (not 0) */
    uint16_t server_port_2;  /**< the second, or 0 (tse_settings::server_port_2) */
    const char *proxy_host;  /**< NULL: straight to the TSCF */
    uint16_t proxy_port;     /**< with proxy_host: not 0 */
    const char *proxy_user;  /**< Basic/Digest credentials, or NULL */
    const char *proxy_pass;  /**< with proxy_user */
} tse_outer_path;

/** Slots of tse_stats::cm_out / cm_in: Message_Types 1..8 and [0]. */
#define TSE_STATS_CM_TYPES 9

/** Counters of one tunnel over its whole life (all its connections). */
typedef struct tse_stats {
    /** @{ */
    /** Inner packets and their bytes, sent and received. */
    uint64_t packets_out, bytes_out, packets_in, bytes_in;
    /** @} */
    uint64_t queue_full_drops;   /**< send_packet calls refused (all classes) */
    /** @{ */
    /** Keep_Alive requests sent, and the responses to them received. */
    uint32_t keepalives_sent, keepalive_responses;
    /** @} */
    /** @{ */
    /** Reconnections (scheduled after a failure, or asked for with
     *  tse_tunnel_reconnect()), and the configurations the TSCF gave as
     *  resumes of the same tunnel (its TSID accepted). */
    uint32_t reconnects, resumes;
    /** @} */
    uint32_t unknown_tlvs;       /**< reserved TLVs skipped */
    /* outbound scheduler, indexed by tse_class */
    uint64_t class_packets[TSE_CLASS_COUNT]; /**< units queued */
    uint64_t class_bytes[TSE_CLASS_COUNT];   /**< bytes queued */
    uint64_t class_full_drops[TSE_CLASS_COUNT]; /**< refused: class full */
    uint64_t rt_stale_drops;     /**< real-time packets past the deadline */
    uint64_t queue_cleared_drops;/**< bytes still queued when a connection dropped */
    uint64_t records_out;        /**< TLS records of tunnel data written */
    /** Inner packets the TSCF sent before its Configuration_Response:
     *  dropped (no inner address yet); the first of each connection also
     *  raises a TSE_EV_WARNING. */
    uint32_t early_packets;

    /* the outer connection */
    uint64_t outer_bytes_out;    /**< ciphertext sent (tse_tunnel_outer_consume()) */
    uint64_t outer_bytes_in;     /**< ciphertext received (tse_tunnel_recv_outer()) */
    uint64_t records_in;         /**< TLS records of tunnel data read */
    /** @{ */
    /** Control messages by Message_Type (TR 33.830 table A.1.2-1: 1
     *  Configuration_Request ... 8 Keep_Alive_Response; [0]: any other
     *  type), sent and received. */
    uint32_t cm_out[TSE_STATS_CM_TYPES];
    uint32_t cm_in[TSE_STATS_CM_TYPES];
    /** @} */
    /** @{ */
    /** Connections that reached TSE_STATE_UP, and milliseconds spent UP
     *  in those that have ended.  up_since: when the current one came UP
     *  (the port's clock), TSE_TIME_NEVER when not UP; the total time up
     *  is up_ms + (now - up_since) while UP. */
    uint32_t ups;
    uint64_t up_ms;
    tse_time_ms up_since;
    /** @} */
    /** @{ */
    /** Keep-alive round trip (Keep_Alive to its Keep_Alive_Response), in
     *  the port's milliseconds: the last, the smallest, and smoothed as
     *  RFC 6298's SRTT (1/8 gain).  0 until the first response. */
    uint32_t ka_rtt_last_ms, ka_rtt_min_ms, ka_rtt_srtt_ms;
    /** @} */
} tse_stats;

/** @brief Fill @p s with the defaults documented on each field.
 *  @param[out] s  the settings */
TSE_API void tse_settings_default(tse_settings *s);

/**
 * @brief Build a TLS configuration for many tunnels, as mbed TLS intends:
 *        the trust anchors, client certificate and key of @p s are parsed
 *        once, one DRBG is seeded from @p entropy, one mbedtls_ssl_config
 *        is set up.  Give it to each tunnel in tse_settings::tls_config
 *        (saves the parse time and the anchors' RAM per tunnel).
 * @param[out] out     the configuration (free with tse_tls_config_del())
 * @param[in]  s       only ca, client_cert, client_key and
 *                     tls_insecure_lab_only_skip_verify are read
 * @param[in]  entropy seeds the configuration's DRBG (as
 *                     tse_callbacks::entropy; 0 = success)
 * @param[in]  entropy_user  passed to @p entropy
 * @param[in]  mem     allocator for the configuration's own struct
 *                     (mbed TLS allocates the parsed certificates itself)
 * @param[out] detail  optional: a static text saying why setup failed
 * @return TSE_OK, TSE_ERR_INVALID_ARG, TSE_ERR_NO_MEMORY,
 *         TSE_ERR_TLS_CONFIG (no or bad anchors, bad key, entropy failed),
 *         TSE_ERR_SETTING_LOG (tls_debug out of range or not available,
 *         as tse_settings_check())
 */
TSE_API int tse_tls_config_new(tse_tls_config **out, const tse_settings *s,
                               int (*entropy)(void *user, uint8_t *buf, size_t len),
                               void *entropy_user, const tse_mem *mem,
                               const char **detail);

/** @brief Free a configuration from tse_tls_config_new() after the last
 *         tunnel using it was deleted.  NULL is fine.
 *  @param c  the configuration */
TSE_API void tse_tls_config_del(tse_tls_config *c);

/**
 * @brief Check @p s as tse_tunnel_new() will, without allocating: one
 *        distinct error per reason a setting is refused.
 * @param s  the settings
 * @return TSE_OK, TSE_ERR_INVALID_ARG (@p s or server_host NULL, or
 *         request_ipv6 with IPv6 compiled out),
 *         TSE_ERR_SETTING_SERVER, TSE_ERR_SETTING_PROFILE,
 *         TSE_ERR_SETTING_MAX_UNIT, TSE_ERR_SETTING_QUEUE,
 *         TSE_ERR_SETTING_BACKOFF, TSE_ERR_SETTING_PROXY,
 *         TSE_ERR_SETTING_SCHED, TSE_ERR_SETTING_TLS, TSE_ERR_SETTING_LOG
 */
TSE_API int tse_settings_check(const tse_settings *s);

/**
 * @brief Create a tunnel.  All memory it will use is allocated here through
 *        @p mem (engine context, queues, TLS contexts).
 * @param[out] out   the tunnel
 * @param[in]  s     settings (copied)
 * @param[in]  cb    callbacks (copied); on_event, on_packet, entropy required
 * @param[in]  mem   allocator (copied); must outlive the tunnel's user
 * @param[in]  user  passed to every callback
 * @return TSE_OK, TSE_ERR_INVALID_ARG (a NULL argument, or a required
 *         callback or allocator function missing), a TSE_ERR_SETTING_* of
 *         tse_settings_check(), TSE_ERR_NO_MEMORY, TSE_ERR_TLS_CONFIG
 */
TSE_API int tse_tunnel_new(tse_tunnel **out, const tse_settings *s,
                           const tse_callbacks *cb, const tse_mem *mem, void *user);

/** @brief Free everything.  NULL is fine.  Not from a callback.
 *  @param t  the tunnel */
TSE_API void tse_tunnel_del(tse_tunnel *t);

/** @brief Begin: the engine will want a connection.
 *  @param t    the tunnel
 *  @param now  the clock
 *  @return TSE_OK, TSE_ERR_INVALID_ARG (NULL), TSE_ERR_STATE (already
 *          started) */
TSE_API int tse_tunnel_start(tse_tunnel *t, tse_time_ms now);

/** @brief Interest: what the engine wants the port to do.  A query.
 *  @param t  the tunnel
 *  @return TSE_WANT_* bits (0 for NULL) */
TSE_API unsigned tse_tunnel_want(const tse_tunnel *t);

/** @brief Where to open the outer TCP connection (proxy or TSCF).
 *  Call it once each time TSE_WANT_CONNECT is set: it marks the connect
 *  as started (TSE_WANT_CONNECT clears).  @p host stays valid for the
 *  tunnel's life.  The engine times the connect out itself
 *  (connect_timeout_ms) and then wants DISCONNECT.
 *  @param[in]  t     the tunnel
 *  @param[out] host  name or literal address to connect to
 *  @param[out] port  its port
 *  @return TSE_OK, TSE_ERR_INVALID_ARG (NULL), TSE_ERR_STATE if no
 *          connect is wanted. */
TSE_API int tse_tunnel_connect_target(tse_tunnel *t, const char **host,
                                      uint16_t *port);

/** @brief The port's connect succeeded.
 *  @param t    the tunnel
 *  @param now  the clock
 *  @return TSE_OK, TSE_ERR_INVALID_ARG (NULL), TSE_ERR_STATE (no connect
 *          was started) */
TSE_API int tse_tunnel_transport_connected(tse_tunnel *t, tse_time_ms now);

/**
 * @brief The outer connection is gone: a connect failure, a reset, EOF, or
 *        the port closing it because TSE_WANT_DISCONNECT was set.
 * @param t    the tunnel
 * @param err  TSE_ERR_TRANSPORT_* for the cause; 0 when acknowledging
 *             TSE_WANT_DISCONNECT.
 * @param now  the clock
 * @return TSE_OK (the failure, if any, is reported as an event),
 *         TSE_ERR_INVALID_ARG (@p t NULL, or @p err positive)
 */
TSE_API int tse_tunnel_transport_closed(tse_tunnel *t, int err, tse_time_ms now);

/**
 * @brief Feed bytes received on the outer connection.  All are consumed;
 *        inbound inner packets are delivered through on_packet before it
 *        returns.
 * @param t     the tunnel
 * @param data  the bytes (not retained)
 * @param len   their number
 * @param now   the clock
 * @return TSE_OK, TSE_ERR_INVALID_ARG (@p t NULL, or @p data NULL with
 *         @p len > 0), or the error that ended the connection (also
 *         reported as an event; the engine then wants DISCONNECT).
 */
TSE_API int tse_tunnel_recv_outer(tse_tunnel *t, const uint8_t *data, size_t len,
                                  tse_time_ms now);

/**
 * @brief Bytes to send on the outer connection (a query: it changes
 *        nothing and fires no callback).
 * @param[in]  t     the tunnel
 * @param[out] data  points into the engine's ciphertext buffer; valid
 *                   until the next call that changes the tunnel
 * @return number of bytes (0 = nothing; also for t or data NULL)
 */
TSE_API size_t tse_tunnel_outer_pending(const tse_tunnel *t, const uint8_t **data);

/**
 * @brief @p n bytes of what outer_pending() returned were sent (clamped
 *        to what was pending).  When the buffer has drained, the engine
 *        moves the next queued units into a TLS record (control first,
 *        then real-time, then one bulk record), or steps a handshake that
 *        waited for room: so this call may fire callbacks (a TLS failure
 *        reports TSE_EV_TUNNEL_DOWN).  Call outer_pending() again after it.
 * @param t  the tunnel (NULL: nothing)
 * @param n  bytes sent
 */
TSE_API void tse_tunnel_outer_consume(tse_tunnel *t, size_t n);

/** @brief The next time tse_tunnel_handle_expiry() must run.  A query.
 *  @param t  the tunnel
 *  @return the time, or TSE_TIME_NEVER (also for NULL) */
TSE_API tse_time_ms tse_tunnel_expiry(const tse_tunnel *t);

/** @brief Run due timers (timeouts, keep-alive, reconnect).  A timeout
 *         is reported as an event (TSE_EV_TUNNEL_DOWN), not returned.
 *  @param t    the tunnel
 *  @param now  the clock
 *  @return TSE_OK, TSE_ERR_INVALID_ARG (NULL) */
TSE_API int tse_tunnel_handle_expiry(tse_tunnel *t, tse_time_ms now);

/**
 * @brief Queue one inner IP packet (IPv4 or IPv6) for the tunnel, in the
 *        class tse_tunnel_classify() gives it.  If the ciphertext buffer
 *        is empty the packet is encrypted at once (may fire callbacks on a
 *        TLS failure, like outer_consume()).
 * @param t    the tunnel
 * @param pkt  the packet (copied)
 * @param len  its length
 * @param now  the clock (the real-time deadline counts from it)
 * @return TSE_OK (copied; the caller keeps @p pkt), TSE_ERR_INVALID_ARG,
 *         TSE_ERR_NOT_UP, TSE_ERR_QUEUE_FULL (its class is full, nothing
 *         taken: retry after the outer connection drains, or drop it),
 *         TSE_ERR_PACKET_INVALID (not one whole IPv4/IPv6 packet, or
 *         above max_unit).
 */
TSE_API int tse_tunnel_send_packet(tse_tunnel *t, const uint8_t *pkt, size_t len,
                                   tse_time_ms now);

/**
 * @brief tse_tunnel_send_packet() with the class chosen by the caller
 *        (an application that knows its voice from its bulk).
 * @param t    the tunnel
 * @param pkt  the packet (copied)
 * @param len  its length
 * @param cls  TSE_CLASS_REALTIME or TSE_CLASS_BULK
 * @param now  the clock
 * @return as tse_tunnel_send_packet(); TSE_ERR_INVALID_ARG for another
 *         class
 */
TSE_API int tse_tunnel_send_packet_class(tse_tunnel *t, const uint8_t *pkt,
                                         size_t len, tse_class cls, tse_time_ms now);

/**
 * @brief The class tse_tunnel_send_packet() would give @p pkt now, under
 *        the tunnel's tse_sched_settings and its real-time queue's fill
 *        (small TCP packets: see rt_small_tcp; TSE_CLASS_BULK for NULL or
 *        short input).  A query.
 * @param t    the tunnel
 * @param pkt  an IP packet
 * @param len  its length
 * @return TSE_CLASS_REALTIME or TSE_CLASS_BULK
 */
TSE_API tse_class tse_tunnel_classify(const tse_tunnel *t, const uint8_t *pkt,
                                      size_t len);

/** @brief Free bytes in the bulk queue.
 *  @param t  the tunnel
 *  @return the bytes (0 for NULL) */
TSE_API size_t tse_tunnel_queue_space(const tse_tunnel *t);

/** @brief Free bytes in @p cls's queue (0 for NULL or a bad class); a
 *         packet of that class and size is taken if it fits.
 *  @param t    the tunnel
 *  @param cls  the class
 *  @return the bytes */
TSE_API size_t tse_tunnel_class_space(const tse_tunnel *t, tse_class cls);

/** @brief The scheduler policy the tunnel runs (ports read
 *         notsent_lowat from it).
 *  @param t  the tunnel
 *  @return the policy, inside the tunnel; NULL for NULL */
TSE_API const tse_sched_settings *tse_tunnel_sched(const tse_tunnel *t);

/** @brief Graceful close: Configuration_Release_Request, wait
 *         release_timeout_ms for the response, then CLOSED.  When the
 *         tunnel is not up (or the request cannot be queued) it closes
 *         at once (TSE_ERR_CLOSED in tse_tunnel_last_error()).
 *  @param t    the tunnel
 *  @param now  the clock
 *  @return TSE_OK (also when already releasing or CLOSED),
 *          TSE_ERR_INVALID_ARG (NULL) */
TSE_API int tse_tunnel_close(tse_tunnel *t, tse_time_ms now);

/** @brief Drop the outer connection now and reconnect at once, resuming
 *         the tunnel (the network changed).
 *  @param t    the tunnel
 *  @param now  the clock
 *  @return TSE_OK, TSE_ERR_INVALID_ARG (NULL), TSE_ERR_STATE (IDLE,
 *          RELEASING, PAUSED or CLOSED) */
TSE_API int tse_tunnel_reconnect(tse_tunnel *t, tse_time_ms now);

/**
 * @brief The device moved to another network (Wi-Fi to cellular, a new
 *        address, another firewall): the current outer connection, if
 *        any, is on a path that is gone.  It is dropped at once (a tunnel
 *        UP reports TSE_EV_TUNNEL_DOWN with TSE_ERR_NETWORK_CHANGED) and
 *        the tunnel reconnects at once, resuming the same TSID and asking
 *        for the same inner address (TSE_EV_ADDR_CHANGED if the TSCF gives
 *        another: the application must rebind, e.g. re-register SIP).
 *        The first attempt goes where tse_settings::path_cache says the
 *        tunnel worked on @p network_id; else to server_port, then
 *        server_port_2, each at once after the other fails.  Set the new
 *        network's proxy first (tse_tunnel_set_outer_path()).  Every
 *        failure is reported as usual (TSE_EV_TUNNEL_DOWN: which port, why),
 *        then the backoff applies once all ports failed.
 *        In IDLE or PAUSED only the network is noted (tse_tunnel_start() /
 *        tse_tunnel_resume() then use it).
 * @param t           the tunnel
 * @param network_id  opaque identity of the new network (SSID + BSSID,
 *                    PLMN, the port's netlink view...); NULL with
 *                    @p len 0: unknown, nothing cached
 * @param len         its length, 0 .. TSE_DETECT_NETID_MAX
 * @param now         the clock
 * @return TSE_OK, TSE_ERR_INVALID_ARG (@p t NULL, @p len too long, or
 *         @p network_id NULL with @p len > 0), TSE_ERR_STATE (RELEASING
 *         or CLOSED)
 */
TSE_API int tse_tunnel_network_changed(tse_tunnel *t, const uint8_t *network_id,
                                       size_t len, tse_time_ms now);

/**
 * @brief Change the outer path of the next connection attempts: TSCF
 *        ports, proxy and its credentials (a network's own proxy).  The
 *        current connection, if any, is left alone: call
 *        tse_tunnel_network_changed() or tse_tunnel_reconnect() to move
 *        it.  Strings are copied into the tunnel (no allocation).
 * @param t  the tunnel
 * @param p  the path
 * @return TSE_OK, TSE_ERR_INVALID_ARG (NULL), TSE_ERR_SETTING_SERVER
 *         (server_port 0), TSE_ERR_SETTING_PROXY (proxy_port 0, a user
 *         without password or the reverse, or proxies compiled out),
 *         TSE_ERR_SETTING_PATH (server_port_2 equal to server_port, a
 *         host or credential too long, or TSE_CONFIG_MULTIPATH 0),
 *         TSE_ERR_STATE (CLOSED)
 */
TSE_API int tse_tunnel_set_outer_path(tse_tunnel *t, const tse_outer_path *p);

/** @brief Turn automatic reconnection on or off after creation (a tunnel
 *         that detection brought up as a probe, with it off, is kept as
 *         the application's tunnel).
 *  @param t   the tunnel
 *  @param on  1 or 0 (tse_settings::auto_reconnect)
 *  @return TSE_OK, TSE_ERR_INVALID_ARG (NULL) */
TSE_API int tse_tunnel_set_auto_reconnect(tse_tunnel *t, int on);

/** @brief Drop the outer connection and stay PAUSED (TSID kept).
 *  @param t    the tunnel
 *  @param now  the clock
 *  @return TSE_OK (also when already PAUSED), TSE_ERR_INVALID_ARG (NULL),
 *          TSE_ERR_STATE (IDLE, RELEASING or CLOSED) */
TSE_API int tse_tunnel_pause(tse_tunnel *t, tse_time_ms now);

/** @brief Leave PAUSED: reconnect and resume.
 *  @param t    the tunnel
 *  @param now  the clock
 *  @return TSE_OK, TSE_ERR_INVALID_ARG (NULL), TSE_ERR_STATE (not PAUSED) */
TSE_API int tse_tunnel_resume(tse_tunnel *t, tse_time_ms now);

/** @brief The state (TSE_STATE_CLOSED for NULL).  A query; the getters
 *         below may be called from a callback.
 *  @param t  the tunnel
 *  @return the state */
TSE_API tse_state tse_tunnel_state(const tse_tunnel *t);
/** @brief The negotiated configuration, or NULL if never up (or @p t NULL);
 *         valid until the tunnel is deleted.
 *  @param t  the tunnel
 *  @return the configuration, or NULL */
TSE_API const tse_tunnel_config *tse_tunnel_get_config(const tse_tunnel *t);
/** @brief Copy the counters into @p out (zeros for a NULL tunnel; nothing
 *         for a NULL @p out).
 *  @param t         the tunnel
 *  @param[out] out  the counters */
TSE_API void tse_tunnel_get_stats(const tse_tunnel *t, tse_stats *out);
/** @brief The error that ended the last connection (0 if none;
 *         TSE_ERR_INVALID_ARG for NULL).
 *  @param t  the tunnel
 *  @return the TSE_ERR_* */
TSE_API int tse_tunnel_last_error(const tse_tunnel *t);

/** @brief A state's name ("IDLE", "CONNECTING", ... "CLOSED").
 *  @param s  the state
 *  @return the name (static; "?" for an unknown value; "" for every
 *          value when TSE_CONFIG_STRINGS is 0, like tse_strerror()) */
TSE_API const char *tse_state_name(tse_state s);

/** @brief Bytes tse_tunnel_new() allocates for @p s (engine + buffers,
 *         without mbed TLS's own record buffers).
 *  @param s  the settings
 *  @return the bytes */
TSE_API size_t tse_tunnel_footprint(const tse_settings *s);

#ifdef __cplusplus
}
#endif
#endif /* TSE_TSE_H */
