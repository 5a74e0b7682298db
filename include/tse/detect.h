/**
 * @file detect.h
 * @brief Detection: is IMS blocked on this network, and which path works?
 *        (TR 33.830 8.4.2; order of TS 24.229 Annex R.3.1.0: direct IMS
 *        access, then NA(P)T traversal, then the tunnel.)
 *
 * A sans-I/O state machine like the engine (tse.h).  It never opens a
 * socket or reads a clock: it tells the port what to do
 * (tse_detect_next_action()), the port reports what happened
 * (tse_detect_udp_recv(), tse_detect_tcp_connected(), tse_detect_tcp_recv(),
 * tse_detect_tunnel_up(), tse_detect_probe_failed()) and fires
 * tse_detect_handle_expiry() at tse_detect_expiry().
 *
 * Probes run in parallel with staggered starts (as RFC 8305 does for
 * addresses): SIP OPTIONS over UDP and over TCP to the P-CSCF and a STUN
 * Binding request over UDP start at once; the TLS tunnel to the TSCF on
 * the first port (443) starts after @c stagger_ms, the second (80) one
 * stagger later -- or at once when the direct path is already known to
 * fail, or when the previous tunnel probe failed.  So the decision comes
 * after the slowest *useful* probe, not after the sum of the timeouts.
 *
 * Decision (IMS needs signalling AND a UDP path for media):
 *  - @c direct: SIP reachable and STUN over UDP shows no NAT;
 *  - @c nat-traversal: SIP reachable and STUN over UDP works through a
 *    NAT (also when no STUN server is configured but SIP over UDP works:
 *    the NAT is then unknown and NAT traversal is the safe choice; with
 *    neither a STUN server nor the SIP-over-UDP probe there is no proof
 *    of a UDP path, and the tunnel is chosen);
 *  - @c reuse-existing (TR 33.830 8.3, only when the settings name a
 *    P-CSCF over TLS and a TURN server): SIP unreachable or no UDP path,
 *    and both SIP OPTIONS over TLS to the P-CSCF on 443 answered and a
 *    TURN allocation over TLS on 443 was granted (via the proxy when one
 *    is set).  These two probes start at once with the direct ones; while
 *    they run, a tunnel that came up waits for them;
 *  - @c tunnel-direct / @c tunnel-via-proxy: SIP unreachable or no UDP
 *    path, no 8.3 path, and the TLS tunnel came up (via the proxy when
 *    one is set);
 *  - @c none: nothing works.
 * As soon as the decision is known the other probes are cancelled
 * (TSE_DETECT_ACT_CLOSE).  The winning tunnel probe is NOT closed: it is
 * a real tse_tunnel brought up by the port, which may keep it.
 *
 * Memory: the caller provides the tse_detect storage (16104 bytes on
 * x86-64 with TSE_CONFIG_DETECT_REUSE: seven probes' requests and targets,
 * TSE_DETECT_*_MAX, plus the SIP-over-TCP and SIP-over-TLS receive
 * buffers; 9840 bytes without it: five probes, one buffer) and the cache
 * slots (80 bytes each);
 * nothing is allocated.  Strings in the settings must
 * stay valid until the detection is done.
 *
 * Threading: one detector from one thread.  Callbacks run inside the call
 * that caused them; they must not call back into the same detector
 * except the read-only tse_detect_done() / tse_detect_get_result().
 *
 * @code
 *   tse_detect d;
 *   tse_detect_settings s;
 *   tse_detect_settings_default(&s);
 *   s.pcscf_host = "pcscf.example"; s.stun_host = "stun.example";
 *   s.tscf_host = "tscf.example";
 *   tse_detect_init(&d, &s, &cb);
 *   tse_detect_start(&d, now());
 *   while (!tse_detect_done(&d)) {
 *       tse_detect_action a;
 *       while (tse_detect_next_action(&d, &a)) port_do(&a);   // sockets, tunnels
 *       wait for I/O until tse_detect_expiry(&d);
 *       ... tse_detect_udp_recv(&d, probe, buf, n, &local, now()); ...
 *       tse_detect_handle_expiry(&d, now());
 *   }
 * @endcode
 */
#ifndef TSE_DETECT_H
#define TSE_DETECT_H

#include <stddef.h>
#include <stdint.h>

#include "tse/config.h"
#include "tse/error.h"
#include "tse/tse.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The path the detection chose. */
typedef enum tse_detect_path {
    TSE_PATH_NONE = 0,          /**< nothing works */
    TSE_PATH_DIRECT,            /**< plain IMS access, no NAT */
    TSE_PATH_NAT_TRAVERSAL,     /**< IMS access through a NA(P)T */
    TSE_PATH_TUNNEL_DIRECT,     /**< TSCF tunnel, straight to the TSCF */
    TSE_PATH_TUNNEL_VIA_PROXY,  /**< TSCF tunnel through the HTTP proxy */
    /** TR 33.830 8.3 "reuse of existing solutions": SIP over TLS to the
     *  P-CSCF and media through a TURN server over TLS, both on 443
     *  (through the HTTP proxy when tse_detect_result::via_proxy).  Ranks
     *  after direct / nat-traversal and before the tunnel; only with
     *  TSE_CONFIG_DETECT_REUSE and both targets configured. */
    TSE_PATH_REUSE_EXISTING
} tse_detect_path;

/** The probes, in order of preference. */
typedef enum tse_probe_id {
    TSE_PROBE_SIP_UDP = 0,   /**< SIP OPTIONS to the P-CSCF over UDP */
    TSE_PROBE_SIP_TCP,       /**< SIP OPTIONS to the P-CSCF over TCP */
    TSE_PROBE_STUN_UDP,      /**< STUN Binding request over UDP */
    TSE_PROBE_TUNNEL_1,      /**< TLS tunnel to the TSCF, first port (443) */
    TSE_PROBE_TUNNEL_2,      /**< TLS tunnel to the TSCF, second port (80) */
#if TSE_CONFIG_DETECT_REUSE
    /* TR 33.830 8.3; after the tunnels so that their numbers (kept in
     * caches) do not change; preferred to them all the same */
    TSE_PROBE_SIP_TLS,       /**< SIP OPTIONS over TLS to the P-CSCF (443) */
    TSE_PROBE_TURN_TLS,      /**< TURN Allocate over TLS (443) */
#endif
    TSE_PROBE_COUNT
} tse_probe_id;

/** A transport address (the local address of the STUN socket, the
 *  mapped address STUN saw). */
typedef struct tse_detect_addr {
    int family;        /**< 4 or 6; 0 = unknown */
    uint16_t port;     /**< host byte order */
    uint8_t addr[16];  /**< network order; 4 bytes used for IPv4 */
} tse_detect_addr;

/** Why a decision was taken, and with what. */
typedef struct tse_detect_result {
    tse_detect_path path;      /**< the path chosen */
    int from_cache;            /**< 1: taken from the cache, no probe ran */
    uint32_t elapsed_ms;       /**< start to decision */
    int tunnel_probe;          /**< winning TSE_PROBE_TUNNEL_*, or -1 */
    uint16_t tunnel_port;      /**< its TSCF port, or 0 */
    int nat;                   /**< 1 NAT seen or assumed, 0 none, -1 unknown */
    tse_detect_addr mapped;    /**< what STUN saw (family 0 if nothing) */
    int sip_status;            /**< SIP final status (over UDP or TCP; over
                                    TLS when only that one answered), 0 if none */
    int sip_error;             /**< why SIP failed (TSE_OK if it worked) */
    int stun_error;            /**< why STUN failed (TSE_OK if it worked) */
    int tunnel_error;          /**< last tunnel failure, or TSE_OK */
    int reuse_error;           /**< why the 8.3 path failed (the first of
                                    its two probes to fail), or TSE_OK */
    int via_proxy;             /**< 1: the chosen tunnel or 8.3 path goes
                                    through the HTTP proxy */
    const char *reason;        /**< static human text ("" with
                                    TSE_CONFIG_STRINGS 0) */
} tse_detect_result;

/** One probe step: started, or finished. */
typedef struct tse_detect_step {
    tse_probe_id probe;        /**< which probe */
    const char *name;          /**< "sip-udp", "sip-tcp", "stun-udp",
                                    "tunnel-1", "tunnel-2", "sip-tls",
                                    "turn-tls" (static; the port is in
                                    target) */
    const char *target;        /**< "host:port" (valid during the callback) */
    int done;                  /**< 0: started, 1: finished */
    uint32_t elapsed_ms;       /**< since the probe started (0 when started) */
    int result;                /**< TSE_OK or why it failed: TSE_ERR_DETECT_TIMEOUT,
                                    TSE_ERR_TRANSPORT_*, TSE_ERR_PROXY_*,
                                    TSE_ERR_TLS_* (intercepted / wrong
                                    certificate), TSE_ERR_SIP_*, TSE_ERR_STUN_*,
                                    TSE_ERR_DETECT_CANCELLED / _NOT_CONFIGURED */
    int status;                /**< SIP status, STUN/TURN error code or
                                    proxy HTTP status, when there is one;
                                    else 0 */
    const char *reason;        /**< static human text ("" with
                                    TSE_CONFIG_STRINGS 0) */
} tse_detect_step;

/** What a tse_detect_event carries. */
typedef enum tse_detect_event_type {
    TSE_DETECT_EV_STEP = 1,    /**< @c step is set */
    TSE_DETECT_EV_RESULT       /**< @c result is set; the detection is done */
} tse_detect_event_type;

/** A detection event; valid only during the callback. */
typedef struct tse_detect_event {
    tse_detect_event_type type;       /**< which of the two is set */
    const tse_detect_step *step;      /**< for TSE_DETECT_EV_STEP */
    const tse_detect_result *result;  /**< for TSE_DETECT_EV_RESULT */
} tse_detect_event;

/** The detector's callbacks (copied by tse_detect_init()). */
typedef struct tse_detect_callbacks {
    /** Required: steps and the result. */
    void (*on_event)(void *user, const tse_detect_event *ev);
    /** Required: random bytes for STUN transaction IDs and SIP branches. */
    int (*entropy)(void *user, uint8_t *buf, size_t len);
    void *user;                /**< passed to both */
} tse_detect_callbacks;

/* ---- cache ------------------------------------------------------------ */

/* TSE_DETECT_NETID_MAX: longest opaque network identity (e.g. SSID +
 * BSSID, PLMN, ...), include/tse/config.h.  The tse_detect_cache_*
 * functions are built with TSE_CONFIG_DETECT_CACHE (tse/config.h). */

/** One cache slot; storage belongs to the caller, fields are private. */
typedef struct tse_detect_cache_entry {
    /** @privatesection */
    uint8_t id[TSE_DETECT_NETID_MAX];
    uint8_t id_len;
    uint8_t used;
    uint8_t path;
    uint8_t tunnel_probe;
    uint8_t via_proxy;
    uint16_t tunnel_port;
    uint64_t stamp;
} tse_detect_cache_entry;

/** A decision cache over caller-provided slots (least recently used is
 *  replaced).  Fields are private. */
typedef struct tse_detect_cache {
    /** @privatesection */
    tse_detect_cache_entry *slots;
    size_t n;
    uint64_t clock;
} tse_detect_cache;

/**
 * @brief Set up a cache over @p slots (owned by the caller, valid as long
 *        as the cache is used).
 * @param[out] c      the cache (caller storage)
 * @param[in]  slots  @p n entries
 * @param[in]  n      their number
 * @return TSE_OK or TSE_ERR_INVALID_ARG (NULL, n == 0)
 */
TSE_API int tse_detect_cache_init(tse_detect_cache *c, tse_detect_cache_entry *slots, size_t n);

/**
 * @brief Look up the decision cached for a network.
 * @param[in]  c       the cache
 * @param[in]  net_id  the network's identity (opaque bytes)
 * @param[in]  len     its length, 1 .. TSE_DETECT_NETID_MAX
 * @param[out] out  path, tunnel_probe, tunnel_port, via_proxy and
 *                  from_cache = 1
 * @return TSE_OK, TSE_ERR_DETECT_NOT_CACHED, TSE_ERR_INVALID_ARG
 *         (NULL, empty or over TSE_DETECT_NETID_MAX id)
 */
TSE_API int tse_detect_cache_lookup(tse_detect_cache *c, const uint8_t *net_id, size_t len,
                                    tse_detect_result *out);

/**
 * @brief Remember @p r for a network (replacing its old entry, or the
 *        least recently used one).
 * @param c       the cache
 * @param net_id  the network's identity
 * @param len     its length, 1 .. TSE_DETECT_NETID_MAX
 * @param r       the decision
 * @return TSE_OK, TSE_ERR_DETECT_NO_PATH (a @c none result is not
 *         cached: the next attempt must probe again), TSE_ERR_INVALID_ARG
 */
TSE_API int tse_detect_cache_store(tse_detect_cache *c, const uint8_t *net_id, size_t len,
                                   const tse_detect_result *r);

/**
 * @brief Forget a network's decision: call it when the cached path fails
 *        (a decision is reused until it fails).
 * @param c       the cache
 * @param net_id  the network's identity
 * @param len     its length, 1 .. TSE_DETECT_NETID_MAX
 * @return TSE_OK, TSE_ERR_DETECT_NOT_CACHED, TSE_ERR_INVALID_ARG
 */
TSE_API int tse_detect_cache_invalidate(tse_detect_cache *c, const uint8_t *net_id, size_t len);

/* ---- settings --------------------------------------------------------- */

/** What to probe and how long to wait (tse_detect_settings_default()). */
typedef struct tse_detect_settings {
    /* (a) direct: SIP OPTIONS to the P-CSCF */
    const char *pcscf_host;     /**< NULL: no SIP probes */
    uint16_t pcscf_port;        /**< default 5060 */
    int sip_udp;                /**< default 1 */
    int sip_tcp;                /**< default 1 */
    /** 1: the application registers itself and reports the outcome with
     *  tse_detect_registration_result(); no SIP probes.  No report within
     *  @c sip_timeout_ms counts as a failed registration.  Default 0. */
    int app_reports_registration;
    const char *local_host;     /**< Via sent-by; NULL = "tse.invalid" */
    uint16_t local_port;        /**< Via sent-by port; 0 = none */

    /* (b) NAT traversal: STUN */
    const char *stun_host;      /**< NULL: no STUN probe */
    uint16_t stun_port;         /**< default 3478 */
    int stun_fingerprint;       /**< add FINGERPRINT; default 1 */

    /* (c) proxy and (d) tunnel */
    const char *proxy_host;     /**< NULL: tunnel straight to the TSCF */
    uint16_t proxy_port;        /**< default 8080 */
    const char *tscf_host;      /**< NULL: no tunnel probes */
    uint16_t tunnel_port_1;     /**< default 443 */
    uint16_t tunnel_port_2;     /**< default 80; 0 = only one port */

    /* (e) TR 33.830 8.3, reuse of existing solutions (TSE_CONFIG_DETECT_REUSE):
     * tried only when BOTH targets are set; through proxy_host when set.
     * With the switch off, setting either is TSE_ERR_INVALID_ARG. */
    const char *pcscf_tls_host; /**< P-CSCF for SIP over TLS; NULL: no 8.3 */
    const char *turn_host;      /**< TURN server over TLS; NULL: no 8.3 */
    uint16_t pcscf_tls_port;    /**< default 443 */
    uint16_t turn_port;         /**< default 443 */
    uint32_t reuse_timeout_ms;  /**< each 8.3 probe (connect+proxy+TLS+
                                     answer); default 10000 */

    /* timers, milliseconds */
    uint32_t sip_timeout_ms;    /**< default 2000 */
    uint32_t stun_timeout_ms;   /**< default 2000 */
    uint32_t tunnel_timeout_ms; /**< default 10000 (connect+proxy+TLS+CM) */
    uint32_t udp_rto_ms;        /**< first UDP retransmission, doubled each
                                     time (RFC 8489 6.2.1, RFC 3261 T1);
                                     default 500; 0 = never */
    uint32_t stagger_ms;        /**< between tunnel starts; default 250 */

    /* cache (optional) */
    tse_detect_cache *cache;    /**< NULL: no cache (the only choice
                                     without TSE_CONFIG_DETECT_CACHE) */
    const uint8_t *network_id;  /**< opaque identity of the current network */
    size_t network_id_len;      /**< its length */
} tse_detect_settings;

/** @brief Fill @p s with the defaults documented above (hosts NULL).
 *  @param[out] s  the settings */
TSE_API void tse_detect_settings_default(tse_detect_settings *s);

/* ---- the port's orders ------------------------------------------------ */

/** What the port is asked to do. */
typedef enum tse_detect_action_type {
    TSE_DETECT_ACT_NONE = 0, /**< nothing */
    /** Send @c data as one datagram to host:port (open the probe's UDP
     *  socket first if it has none; later sends are retransmissions). */
    TSE_DETECT_ACT_UDP_SEND,
    /** Start a TCP connection to host:port; report with
     *  tse_detect_tcp_connected() or tse_detect_probe_failed(). */
    TSE_DETECT_ACT_TCP_CONNECT,
    /** Send @c data (all of it) on the probe's TCP connection. */
    TSE_DETECT_ACT_TCP_SEND,
    /** Bring up a real tse_tunnel to host:port, through
     *  proxy_host:proxy_port when proxy_host is set; report with
     *  tse_detect_tunnel_up() or tse_detect_probe_failed(). */
    TSE_DETECT_ACT_TUNNEL_START,
    /** TR 33.830 8.3 probe: open a TLS stream to host:port (certificate
     *  verified), through proxy_host:proxy_port when proxy_host is set.
     *  TSE_PROBE_SIP_TLS: send @c data (SIP OPTIONS) once TLS is up and
     *  pass the plaintext that comes back to tse_detect_tcp_recv(); the
     *  detector parses it.  TSE_PROBE_TURN_TLS (no data): run a TURN
     *  Allocate over the stream (long-term credentials: the port's) and
     *  report the allocation with tse_detect_reuse_ok().  Failures of
     *  either (stream down, proxy refusal, TURN error):
     *  tse_detect_probe_failed(). */
    TSE_DETECT_ACT_REUSE_START,
    /** Stop the probe: close its socket or tunnel; report nothing more. */
    TSE_DETECT_ACT_CLOSE
} tse_detect_action_type;

/** An order; pointers valid until the next call into the detector. */
typedef struct tse_detect_action {
    tse_detect_action_type type;  /**< what to do */
    tse_probe_id probe;           /**< for which probe */
    const char *host;             /**< where to (UDP_SEND, TCP_CONNECT, TUNNEL_START) */
    uint16_t port;                /**< its port */
    const uint8_t *data;          /**< what to send (UDP_SEND, TCP_SEND) */
    size_t len;                   /**< its length */
    const char *proxy_host;       /**< TUNNEL_START, REUSE_START: the HTTP
                                       proxy, or NULL */
    uint16_t proxy_port;          /**< its port */
} tse_detect_action;

/* ---- the detector ----------------------------------------------------- */

/* TSE_DETECT_REQ_MAX (bytes kept per probe request),
 * TSE_DETECT_TCP_RX_MAX (SIP-over-TCP receive buffer) and
 * TSE_DETECT_TARGET_MAX ("host:port" text): include/tse/config.h. */

/** Per-probe bookkeeping; private.  Times are milliseconds after the
 *  detection's start (tse_detect's t0) in 32 bits: detection lasts
 *  seconds; a time beyond t0 + 2^32-1 ms (49.7 days) is cut to that. */
typedef struct tse_detect_probe_priv {
    /** @privatesection */
    uint8_t state, pending, enabled;
    uint8_t rto_shift;      /* the retransmission timer: udp_rto_ms << this */
    int result, status;
    const char *reason;
    uint32_t start_at, started, deadline, next_tx; /* started: ~0 never */
} tse_detect_probe_priv;

/** Per-probe buffers; private. */
typedef struct tse_detect_probe_buf {
    /** @privatesection */
    size_t req_len;
    uint8_t req[TSE_DETECT_REQ_MAX];
    char target[TSE_DETECT_TARGET_MAX];
    uint32_t ids[24]; /* SIP transaction ids / STUN transaction ID (words:
                         lib/detect.c reads the SIP ids in place) */
} tse_detect_probe_buf;

/** A detector.  The caller owns the storage; all fields are private. */
typedef struct tse_detect {
    /** @privatesection */
    uint8_t phase;
    int8_t app_reg;         /* -1 pending, 0 failed or not asked, 1 ok */
    int8_t nat;             /* STUN: -1 unknown, 0 no, 1 yes */
    uint32_t app_deadline;  /* ms after t0 */
    int reuse_error;        /* first 8.3 probe failure */
    tse_time_ms t0;         /* the start */
    tse_detect_probe_priv p[TSE_PROBE_COUNT];
    tse_detect_settings s;
    tse_detect_callbacks cb;
    tse_detect_addr mapped;
    tse_detect_result result;
    /* the buffers last: the fields above stay within short offsets */
    size_t tcp_rx_len;
#if TSE_CONFIG_DETECT_REUSE
    size_t tls_rx_len;      /* the SIP-over-TLS probe's plaintext */
#endif
    tse_detect_probe_buf b[TSE_PROBE_COUNT];
    uint8_t tcp_rx[TSE_DETECT_TCP_RX_MAX];
#if TSE_CONFIG_DETECT_REUSE
    uint8_t tls_rx[TSE_DETECT_TCP_RX_MAX];
#endif
} tse_detect;

/**
 * @brief Prepare a detector (does not start it).  Settings and callbacks
 *        are copied; the strings they point to are not.
 * @param[out] d   the detector (caller storage)
 * @param[in]  s   settings
 * @param[in]  cb  callbacks
 * @return TSE_OK, TSE_ERR_INVALID_ARG (NULL, no on_event / entropy, a
 *         network_id without a cache, or one above TSE_DETECT_NETID_MAX;
 *         a cache or a network_id without TSE_CONFIG_DETECT_CACHE)
 */
TSE_API int tse_detect_init(tse_detect *d, const tse_detect_settings *s,
                            const tse_detect_callbacks *cb);

/**
 * @brief Start at @p now.  With a cached decision for the network the
 *        result event fires at once (from_cache = 1) and no probe runs.
 *        A probe whose request cannot be built (the entropy callback
 *        failed) fails as a step with TSE_ERR_DETECT_ENTROPY; the start
 *        itself does not.
 * @param d    the detector
 * @param now  the clock
 * @return TSE_OK, TSE_ERR_INVALID_ARG (NULL), TSE_ERR_STATE (already
 *         started)
 */
TSE_API int tse_detect_start(tse_detect *d, tse_time_ms now);

/**
 * @brief The next order for the port.
 * @param[in]  d    the detector
 * @param[out] out  the order
 * @return 1 and @p out filled, or 0 when there is nothing to do
 */
TSE_API int tse_detect_next_action(tse_detect *d, tse_detect_action *out);

/** @brief Whether tse_detect_next_action() has something.
 *  @param d  the detector
 *  @return 1 or 0 (0 for NULL) */
TSE_API int tse_detect_want(const tse_detect *d);

/**
 * @brief A datagram arrived on a UDP probe's socket.
 * @param[in] d      the detector
 * @param[in] probe  the probe whose socket received it
 * @param[in] data   the datagram
 * @param[in] len    its length
 * @param[in] local  the socket's local address (for the STUN probe's NAT
 *                   check), or NULL if unknown (NAT is then assumed).  A
 *                   socket bound to the wildcard address must report the
 *                   address its datagrams leave from (connect() the UDP
 *                   socket, then getsockname()), not 0.0.0.0.
 * @return TSE_OK (also for a stray datagram, which is ignored),
 *         TSE_ERR_INVALID_ARG, TSE_ERR_STATE (probe not running)
 * @param[in] now    the clock
 */
TSE_API int tse_detect_udp_recv(tse_detect *d, tse_probe_id probe, const uint8_t *data,
                                size_t len, const tse_detect_addr *local, tse_time_ms now);

/** @brief The SIP-over-TCP probe's connection is up.
 *  @param d      the detector
 *  @param probe  TSE_PROBE_SIP_TCP
 *  @param now    the clock
 *  @return TSE_OK, TSE_ERR_INVALID_ARG (NULL, bad or non-TCP probe),
 *          TSE_ERR_STATE (probe not running) */
TSE_API int tse_detect_tcp_connected(tse_detect *d, tse_probe_id probe, tse_time_ms now);

/** @brief Bytes arrived on the SIP-over-TCP probe's connection, or
 *         plaintext on the SIP-over-TLS probe's stream.
 *  @param d      the detector
 *  @param probe  TSE_PROBE_SIP_TCP or TSE_PROBE_SIP_TLS
 *  @param data   the bytes
 *  @param len    their number
 *  @param now    the clock
 *  @return TSE_OK, TSE_ERR_INVALID_ARG (NULL, bad or non-TCP probe),
 *          TSE_ERR_STATE (probe not running) */
TSE_API int tse_detect_tcp_recv(tse_detect *d, tse_probe_id probe, const uint8_t *data,
                                size_t len, tse_time_ms now);

/** @brief A tunnel probe's tse_tunnel reached TSE_EV_TUNNEL_UP.
 *  @param d      the detector
 *  @param probe  TSE_PROBE_TUNNEL_1 or TSE_PROBE_TUNNEL_2
 *  @param now    the clock
 *  @return TSE_OK, TSE_ERR_INVALID_ARG (NULL, bad or non-tunnel probe),
 *          TSE_ERR_STATE (probe not running) */
TSE_API int tse_detect_tunnel_up(tse_detect *d, tse_probe_id probe, tse_time_ms now);

/**
 * @brief A TR 33.830 8.3 probe worked: the TURN server granted the
 *        allocation, or (for a port that runs its own SIP stack instead
 *        of passing the plaintext to tse_detect_tcp_recv()) the SIP
 *        OPTIONS over TLS got a final response (any: the P-CSCF answered).  The port may close the probe's stream
 *        when told (TSE_DETECT_ACT_CLOSE).
 * @param d       the detector
 * @param probe   TSE_PROBE_SIP_TLS or TSE_PROBE_TURN_TLS
 * @param status  the SIP status (TSE_PROBE_SIP_TLS), else 0
 * @param now     the clock
 * @return TSE_OK, TSE_ERR_INVALID_ARG (NULL, another probe, or
 *         TSE_CONFIG_DETECT_REUSE is 0), TSE_ERR_STATE (probe not running)
 */
TSE_API int tse_detect_reuse_ok(tse_detect *d, tse_probe_id probe, int status, tse_time_ms now);

/**
 * @brief A probe failed in the port: connect refused / reset / timed out
 *        (TSE_ERR_TRANSPORT_*), or a tunnel went down (its TSE_EV_TUNNEL_DOWN
 *        error: TSE_ERR_PROXY_*, TSE_ERR_TLS_*, ...).
 * @param[in] d       the detector
 * @param[in] probe   the probe
 * @param[in] err     the TSE_ERR_* (negative)
 * @param[in] status  the proxy's HTTP status for TSE_ERR_PROXY_*, else 0
 * @param[in] now     the clock
 * @return TSE_OK, TSE_ERR_INVALID_ARG (NULL, bad probe, err >= 0),
 *         TSE_ERR_STATE (probe not running)
 */
TSE_API int tse_detect_probe_failed(tse_detect *d, tse_probe_id probe, int err, int status,
                                    tse_time_ms now);

/**
 * @brief The application's own IMS registration worked (@p ok = 1) or
 *        failed (0).  Takes the place of the SIP probes.
 * @param d    the detector
 * @param ok   1 registered, 0 failed
 * @param now  the clock
 * @return TSE_OK, TSE_ERR_INVALID_ARG (NULL), TSE_ERR_STATE (done, not
 *         started, or app_reports_registration not set)
 */
TSE_API int tse_detect_registration_result(tse_detect *d, int ok, tse_time_ms now);

/** @brief When tse_detect_handle_expiry() must run next.
 *  @param d  the detector
 *  @return the time, or TSE_TIME_NEVER (nothing due, done, or NULL) */
TSE_API tse_time_ms tse_detect_expiry(const tse_detect *d);

/** @brief Run timers due at @p now (starts, retransmissions, timeouts).
 *  @param d    the detector
 *  @param now  the clock
 *  @return TSE_OK, TSE_ERR_INVALID_ARG (NULL) */
TSE_API int tse_detect_handle_expiry(tse_detect *d, tse_time_ms now);

/** @brief Whether the result event has fired.
 *  @param d  the detector
 *  @return 1 once it has, else 0 (0 for NULL) */
TSE_API int tse_detect_done(const tse_detect *d);

/** @brief The result.
 *  @param d  the detector
 *  @return the result (inside @p d), or NULL before it is known */
TSE_API const tse_detect_result *tse_detect_get_result(const tse_detect *d);

/** @brief A path's name.
 *  @param path  the path
 *  @return "direct", "nat-traversal", "tunnel-direct", "tunnel-via-proxy",
 *          "reuse-existing", "none" (static) */
TSE_API const char *tse_detect_path_name(tse_detect_path path);

/** @brief A probe's name.
 *  @param probe  the probe
 *  @return "sip-udp", "sip-tcp", "stun-udp", "tunnel-1", "tunnel-2",
 *          "sip-tls", "turn-tls" or "?" (static) */
TSE_API const char *tse_detect_probe_name(tse_probe_id probe);

#ifdef __cplusplus
}
#endif
#endif /* TSE_DETECT_H */
