/**
 * @file port.h
 * @brief The table a platform port implements: outer transport, clock,
 *        entropy.
 *
 * The engine (tse.h) never includes this header and never calls a port:
 * it is fed bytes and time.  A *driver* (port/posix's poll driver, an
 * lwIP task, an application's own event loop) uses a tse_port to move
 * bytes between the engine and the network and to read the clock.
 *
 * Contracts follow coreMQTT's transport_interface.h: send/recv return
 * bytes moved, 0 means "try again later" and never "disconnected",
 * negative is a TSE_ERR_TRANSPORT_* code; partial transfers are normal.
 * Like c-ares' ares_socket_functions_ex, the table begins with a version
 * so that fields can be appended without breaking old ports.
 *
 * Threading: a port's functions for one connection are called from one
 * thread (the driver's).  Whether different connections may be used from
 * different threads is up to the port and documented there.
 *
 * Example (a driver step, simplified):
 * @code
 *   const tse_port *p = tse_posix_port();
 *   tse_port_conn *c;
 *   int rc = p->connect_start(p->user, host, port, &c);
 *   ... when the port's readiness mechanism says so:
 *   rc = p->connect_poll(p->user, c);     // TSE_OK: connected
 *   int32_t n = p->recv(p->user, c, buf, sizeof buf);
 *   if (n > 0) tse_tunnel_recv_outer(t, buf, (size_t)n, p->now_ms(p->user));
 *   else if (n < 0) { p->close(p->user, c); tse_tunnel_transport_closed(t, n, now); }
 * @endcode
 */
#ifndef TSE_PORT_H
#define TSE_PORT_H

#include <stddef.h>
#include <stdint.h>

#include "tse/error.h"
#include "tse/tse.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The version of struct tse_port described by this header. */
#define TSE_PORT_VERSION 1u

/** One outer connection; defined by each port, opaque to drivers. */
typedef struct tse_port_conn tse_port_conn;

/**
 * @brief A port: the functions a driver needs from a platform.
 *
 * All function pointers are required for version 1.  @c user is passed
 * unchanged as the first argument of every function.
 */
typedef struct tse_port {
    /** TSE_PORT_VERSION of the header the port was written against.  A
     *  driver must refuse a table whose version it does not know. */
    uint32_t version;

    /** Passed to every function below. */
    void *user;

    /**
     * @brief Start opening a TCP connection to @p host : @p port.
     *
     * Must not wait for the TCP handshake.  It MAY block in name
     * resolution if the port documents it (port/posix does:
     * getaddrinfo()).  The connect timeout is NOT the port's job: the
     * engine enforces it and then asks the driver to close().
     *
     * @param[in]  user  the table's @c user
     * @param[in]  host  a DNS name or a literal IPv4 / IPv6 address
     *                   (without brackets); NUL-terminated; only read
     *                   during the call
     * @param[in]  port  TCP port, host byte order
     * @param[out] out   the new connection, set only on TSE_OK; owned by
     *                   the driver until it passes it to close()
     * @return TSE_OK (connection in progress: call connect_poll() when
     *         the port's readiness mechanism reports it, or at the latest
     *         at the time reported by the port),
     *         TSE_ERR_TRANSPORT_RESOLVE, TSE_ERR_TRANSPORT_REFUSED,
     *         TSE_ERR_TRANSPORT_IO, TSE_ERR_NO_MEMORY, TSE_ERR_INVALID_ARG
     */
    int (*connect_start)(void *user, const char *host, uint16_t port,
                         tse_port_conn **out);

    /**
     * @brief Advance a connection started by connect_start().
     * @return TSE_OK: connected, send()/recv() may be used;
     *         TSE_ERR_WOULD_BLOCK: still in progress;
     *         TSE_ERR_TRANSPORT_*: failed for good (every address tried);
     *         the driver must still close() it.
     */
    int (*connect_poll)(void *user, tse_port_conn *c);

    /**
     * @brief Send up to @p len bytes.  Never blocks.
     * @return bytes taken (1..len, partial transfers allowed), 0 = no room
     *         now, try again later (never means "disconnected"), or a
     *         negative TSE_ERR_TRANSPORT_* (RESET, CLOSED, IO).  @p len
     *         above INT32_MAX is treated as INT32_MAX.
     */
    int32_t (*send)(void *user, tse_port_conn *c, const uint8_t *buf,
                    size_t len);

    /**
     * @brief Receive up to @p len bytes.  Never blocks.
     * @return bytes received (1..len), 0 = nothing now, try again later
     *         (never means "disconnected": an orderly close by the peer
     *         is TSE_ERR_TRANSPORT_CLOSED), or a negative
     *         TSE_ERR_TRANSPORT_* (CLOSED, RESET, IO).
     */
    int32_t (*recv)(void *user, tse_port_conn *c, uint8_t *buf, size_t len);

    /**
     * @brief Close and free @p c (connected, connecting or failed).
     *        @p c is invalid afterwards.  NULL is ignored.  Never fails,
     *        never blocks (no lingering).
     */
    void (*close)(void *user, tse_port_conn *c);

    /**
     * @brief Milliseconds of a monotonic clock (never goes back, does not
     *        follow wall-clock changes).  The origin is arbitrary.
     */
    tse_time_ms (*now_ms)(void *user);

    /**
     * @brief Fill @p buf with @p len bytes from a cryptographically secure
     *        source.  Same contract as tse_callbacks::entropy.
     * @return 0 on success, non-zero on failure (buf contents undefined).
     */
    int (*entropy)(void *user, uint8_t *buf, size_t len);
} tse_port;

#ifdef __cplusplus
}
#endif
#endif /* TSE_PORT_H */
