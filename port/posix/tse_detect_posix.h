/**
 * @file tse_detect_posix.h
 * @brief Runs the sans-I/O detector (tse/detect.h) on POSIX sockets: UDP
 *        and TCP probes on non-blocking sockets, tunnel probes as real
 *        tse_tunnel objects on a poll driver (tse_posix.h), all in one
 *        poll(2) loop in the calling thread.
 *
 * What it does with the detector's orders:
 *  - UDP_SEND: the first send resolves the host without blocking the
 *    loop (a literal at once, the application's resolver hook, or a
 *    resolver thread: the port's, TSE_POSIX_RESOLVE_TIMEOUT_MS), then
 *    opens a UDP socket and connect()s it to the first address that
 *    takes, so that getsockname() gives the address the datagrams leave
 *    from (the STUN probe's NAT check) and only the server's answers are
 *    received; the datagram waits for the address (a retransmission
 *    meanwhile replaces it), later sends are retransmissions on the same
 *    socket.  An ICMP "port unreachable" (ECONNREFUSED on a connected UDP
 *    socket) fails the probe with TSE_ERR_TRANSPORT_REFUSED.
 *  - TCP_CONNECT / TCP_SEND: tse_posix_port()'s happy-eyeballs connect;
 *    bytes are copied, so partial sends are finished later.
 *  - TUNNEL_START: tse_tunnel_new() from the @c tunnel template with
 *    server_host/server_port/proxy_host/proxy_port from the order,
 *    auto_reconnect = 0 and no server_port_2 (a probe that fails must
 *    fail, on its own port), added to the runner's driver and started.
 *    Its path_cache is the template's, else the detection's cache; with
 *    the detection's network_id the probe knows its network
 *    (tse_tunnel_network_changed() before the start), so the winner
 *    finds the network's path there after a later network change.  TSE_EV_TUNNEL_UP ->
 *    tse_detect_tunnel_up(); TSE_EV_TUNNEL_DOWN -> tse_detect_probe_failed()
 *    with the engine's error and the proxy's HTTP status.
 *  - REUSE_START (TR 33.830 8.3, TSE_CONFIG_DETECT_REUSE): a tse_stream
 *    from the @c reuse_stream template to host:port, through the order's
 *    proxy, driven by tse_posix_stream in the same poll loop.  For
 *    TSE_PROBE_SIP_TLS it sends SIP OPTIONS (queued at once, sent when TLS
 *    is up); a final response -> tse_detect_reuse_ok() with its status.
 *    For TSE_PROBE_TURN_TLS it runs a TURN Allocate (tse/turn.h, long-term
 *    credentials turn_user / turn_pass) once TLS is up; the allocation
 *    -> tse_detect_reuse_ok().  A stream that goes down first, a TURN
 *    error or a reply that is not SIP -> tse_detect_probe_failed() with
 *    the stream's error (TSE_ERR_TRANSPORT_* / _PROXY_* / _TLS_*, the
 *    proxy's status) or the TURN error and STUN code.  CLOSE cuts the
 *    stream (no close_notify, no deallocation: the server lets the
 *    allocation expire).
 *  - CLOSE: the socket is closed, or the tunnel removed and deleted
 *    (without a release: it never carried traffic).
 *
 * The winning tunnel stays up after the decision: tse_posix_detect_tunnel()
 * returns it, now with the template's auto_reconnect and both tunnel
 * ports (the winner's first: tse_tunnel_set_outer_path()), so it
 * reconnects and roams like any tunnel; tse_posix_detect_driver() returns
 * the driver that runs it.  From
 * the decision on, that tunnel's events and inner packets go to the
 * @c tunnel_cb given in the configuration (before, the runner consumes
 * them).  Both stay owned by the runner: tse_posix_detect_del() removes
 * and deletes them.
 *
 * Bounds: tse_posix_detect_run() returns after the decision, after
 * @c max_ms, or when @c *stop becomes non-zero, whichever comes first;
 * each poll(2) sleeps at most 1000 ms.  Memory: one heap block for the
 * runner plus the tunnels' own (tse_posix_mem()); nothing is kept after
 * tse_posix_detect_del().
 *
 * Threading: one runner from one thread; its callbacks run inside
 * tse_posix_detect_run() (or, after the decision, inside the driver's
 * run_once()).
 */
#ifndef TSE_DETECT_POSIX_H
#define TSE_DETECT_POSIX_H

#include <signal.h>
#include <stdint.h>

#include "tse/detect.h"
#if TSE_CONFIG_DETECT_REUSE
#include "tse/stream.h"
#endif
#include "tse/tse.h"
#include "tse_posix.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Settings of tse_posix_detect_new(). */
typedef struct tse_posix_detect_config {
    /** Required: hosts, ports and timers of the detection.  Copied by
     *  tse_posix_detect_new(); its strings must outlive the runner. */
    const tse_detect_settings *detect;
    /** Template of the tunnel probes (CA, SNI, pin, proxy credentials,
     *  keep-alive, timeouts...).  Copied; its strings and buffers are
     *  copied by tse_tunnel_new() and need only live during
     *  tse_posix_detect_run().  NULL: no tunnel can be started (tunnel
     *  probes fail with TSE_ERR_INVALID_ARG). */
    const tse_settings *tunnel;
    /** Required: the detector's steps and result (tse_detect_callbacks'
     *  on_event); NULL entropy means tse_posix_entropy. */
    void (*on_event)(void *user, const tse_detect_event *ev);
    void *user;                /**< passed to on_event */
    /** Optional: where the WINNING tunnel's events and packets go after
     *  the decision (on_event / on_packet; entropy is ignored: the
     *  tunnels use tse_posix_entropy).  User pointer: tunnel_user. */
    const tse_callbacks *tunnel_cb;
    void *tunnel_user;         /**< passed to tunnel_cb's callbacks */
#if TSE_CONFIG_DETECT_REUSE
    /** Template of the TR 33.830 8.3 probes' TLS streams (CA, SNI, pin,
     *  proxy credentials, timeouts; tse/stream.h): host, port, proxy_host
     *  and proxy_port come from the detector's order.  Copied; its strings
     *  and buffers must outlive tse_posix_detect_run().  NULL: the 8.3
     *  probes fail at once with TSE_ERR_DETECT_NOT_CONFIGURED. */
    const tse_stream_settings *reuse_stream;
    /** TURN long-term credentials of the TURN-over-TLS probe. */
    const char *turn_user;
    const char *turn_pass;     /**< its password */
#endif
    /** Optional stop flag (e.g. set by a signal handler). */
    const volatile sig_atomic_t *stop;
} tse_posix_detect_config;

/** A detection runner on the POSIX port; opaque. */
typedef struct tse_posix_detect tse_posix_detect;

/**
 * @brief Create a runner (and its driver) and initialise the detector.
 * @param[out] out  the runner (free with tse_posix_detect_del())
 * @param[in]  cfg  settings (copied)
 * @return TSE_OK, TSE_ERR_INVALID_ARG (NULL, no detect settings or
 *         on_event, or what tse_detect_init() refuses), TSE_ERR_NO_MEMORY
 */
TSE_API int tse_posix_detect_new(tse_posix_detect **out, const tse_posix_detect_config *cfg);

/**
 * @brief Start the detection (if not started) and run it until the
 *        decision, @p max_ms milliseconds, or the stop flag.
 * @param pd      the runner
 * @param max_ms  longest run of this call
 * @return TSE_OK (decision made: tse_posix_detect_result();
 *         also when it was already made before the call),
 *         TSE_ERR_DETECT_TIMEOUT (@p max_ms passed first; call again to
 *         go on), TSE_ERR_DETECT_CANCELLED (stop flag),
 *         TSE_ERR_TRANSPORT_IO (poll failed), TSE_ERR_NO_MEMORY,
 *         TSE_ERR_INVALID_ARG, or tse_detect_start()'s error
 */
TSE_API int tse_posix_detect_run(tse_posix_detect *pd, uint32_t max_ms);

/** @brief The result once decided.
 *  @param pd  the runner
 *  @return the result, valid until tse_posix_detect_del(); NULL before
 *          the decision */
TSE_API const tse_detect_result *tse_posix_detect_result(const tse_posix_detect *pd);

/** @brief The winning tunnel (UP when the decision was made).
 *  @param pd  the runner
 *  @return the tunnel (owned by the runner), or NULL when no tunnel won
 *          (or @p pd is NULL) */
TSE_API tse_tunnel *tse_posix_detect_tunnel(tse_posix_detect *pd);

/** @brief The driver that runs the winning tunnel (never NULL for a
 *         runner); keep calling tse_posix_driver_run_once() on it.
 *  @param pd  the runner
 *  @return the driver (owned by the runner; NULL only for @p pd NULL) */
TSE_API tse_posix_driver *tse_posix_detect_driver(tse_posix_detect *pd);

/** @brief Sockets and tunnels open now (0 after the decision except the
 *         winner; for tests).
 *  @param pd  the runner
 *  @return the count */
TSE_API unsigned tse_posix_detect_open_count(const tse_posix_detect *pd);

/** @brief Close every socket, remove and delete every tunnel (the winner
 *         too: release it first with tse_tunnel_close() if the TSCF
 *         should know), free the driver and the runner.  NULL is fine.
 *  @param pd  the runner */
TSE_API void tse_posix_detect_del(tse_posix_detect *pd);

#ifdef __cplusplus
}
#endif
#endif /* TSE_DETECT_POSIX_H */
