/**
 * @file tse_posix_stream.h
 * @brief A poll(2) driver for one TLS byte stream (tse/stream.h) on a
 *        tse_port: port/posix's by default.
 *
 * It does what the stream wants (connect, send, receive, disconnect) with
 * the port table's functions, keeps the ciphertext the stream could not
 * take yet (its receive buffer was full) and feeds it again when the
 * stream has room, and runs the stream's timers.  Either call
 * tse_posix_stream_step() in a loop, or, in an application's own loop,
 * tse_posix_stream_prepare() before poll(2) and tse_posix_stream_process()
 * after it.
 *
 * Threading: a driver and its stream are one thread's.  Never blocks
 * except in poll(2) inside tse_posix_stream_step() (bounded by the
 * caller's wait and the stream's next deadline).
 *
 * @code
 *   tse_posix_stream *ps; tse_posix_stream_new(&ps, st, NULL);
 *   tse_stream_start(st, tse_posix_now_ms());
 *   while (tse_stream_get_state(st) != TSE_STREAM_DOWN && !stop)
 *       tse_posix_stream_step(ps, NULL, 0, 1000);
 *   tse_posix_stream_del(ps); tse_stream_del(st);
 * @endcode
 */
#ifndef TSE_POSIX_STREAM_H
#define TSE_POSIX_STREAM_H

#include <poll.h>
#include <stddef.h>

#include "tse/port.h"
#include "tse/stream.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The driver of one stream (tse_posix_stream_new()); opaque. */
typedef struct tse_posix_stream tse_posix_stream;

/** Most pollfd entries tse_posix_stream_prepare() fills. */
#define TSE_POSIX_STREAM_POLLFD_MAX 8

/**
 * @brief Create the driver of @p st (created by the application, which
 *        keeps it; start it before or after).
 * @param[out] out   the driver
 * @param[in]  st    the stream
 * @param[in]  port  the port table, or NULL for tse_posix_port() (a table
 *                   of another version is refused)
 * @return TSE_OK, TSE_ERR_INVALID_ARG, TSE_ERR_NO_MEMORY
 */
TSE_API int tse_posix_stream_new(tse_posix_stream **out, tse_stream *st,
                                 const tse_port *port);

/** @brief Close the connection, if any, WITHOUT telling the stream, and
 *         free the driver (then tse_stream_del()).  NULL is fine.
 *  @param ps  the driver */
TSE_API void tse_posix_stream_del(tse_posix_stream *ps);

/**
 * @brief Service the stream (connect, disconnect, send, feed kept
 *        ciphertext, timers) and describe what to wait for.
 * @param[in]  ps          the driver
 * @param[out] fds         room for TSE_POSIX_STREAM_POLLFD_MAX entries
 * @param[in]  max         entries at @p fds
 * @param[out] n           entries written (0: nothing to wait on but time)
 * @param[out] timeout_ms  ms until the next deadline, -1 = none
 * @return TSE_OK, TSE_ERR_INVALID_ARG, TSE_ERR_BUFFER_TOO_SMALL
 */
TSE_API int tse_posix_stream_prepare(tse_posix_stream *ps, struct pollfd *fds, size_t max,
                                     size_t *n, int *timeout_ms);

/**
 * @brief Handle what poll(2) reported for the entries prepare() filled
 *        (passed back unchanged but for revents), then service again.
 * @param ps   the driver
 * @param fds  the entries
 * @param n    their number
 * @return TSE_OK, TSE_ERR_INVALID_ARG
 */
TSE_API int tse_posix_stream_process(tse_posix_stream *ps, const struct pollfd *fds, size_t n);

/**
 * @brief One round: prepare(), poll(2) the stream's fds and the caller's
 *        @p extra ones (their revents are set on return) for at most
 *        @p max_wait_ms (and not past the stream's next deadline), then
 *        process().  Once the stream is DOWN and its connection closed,
 *        returns at once unless there are @p extra fds to wait for.
 * @param ps           the driver
 * @param extra        the application's fds, or NULL
 * @param n_extra      their number (at most 8)
 * @param max_wait_ms  longest sleep; -1 = until the next deadline
 * @return TSE_OK (also when a signal interrupted poll),
 *         TSE_ERR_INVALID_ARG, TSE_ERR_TRANSPORT_IO (poll failed)
 */
TSE_API int tse_posix_stream_step(tse_posix_stream *ps, struct pollfd *extra, size_t n_extra,
                                  int max_wait_ms);

#ifdef __cplusplus
}
#endif
#endif /* TSE_POSIX_STREAM_H */
