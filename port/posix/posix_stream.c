/* The poll(2) driver of one TLS byte stream (tse_posix_stream.h): the
 * stream's wants become calls of a tse_port table; ciphertext the stream
 * could not take yet waits here. */
#include "posix_feature.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "tse_posix.h"
#include "tse_posix_stream.h"

/* Ciphertext read per round at most (fairness with the caller's fds). */
#define READ_BUDGET 65536u

struct tse_posix_stream {
    const tse_port *port;
    tse_stream *st;
    tse_port_conn *conn;  /* NULL: no connection */
    int connecting;       /* conn has not finished connecting */
    size_t in_off, in_len; /* kept ciphertext: in[in_off .. in_off+in_len) */
    uint8_t in[16384];
};

static tse_time_ms now_ms(const tse_posix_stream *ps)
{
    return ps->port->now_ms(ps->port->user);
}

static void drop_conn(tse_posix_stream *ps)
{
    if (ps->conn != NULL) {
        ps->port->close(ps->port->user, ps->conn);
    }
    ps->conn = NULL;
    ps->connecting = 0;
    ps->in_off = ps->in_len = 0;
}

/* The connection failed under the stream: close it, tell the stream. */
static void conn_failed(tse_posix_stream *ps, int err)
{
    drop_conn(ps);
    tse_stream_transport_closed(ps->st, err, now_ms(ps));
}

/* Feed kept ciphertext while the stream takes it; 1 if some went in. */
static int feed_kept(tse_posix_stream *ps)
{
    int moved = 0;
    while (ps->conn != NULL && ps->in_len > 0 &&
           (tse_stream_want(ps->st) & TSE_WANT_READ)) {
        int r = tse_stream_recv_outer(ps->st, ps->in + ps->in_off, ps->in_len, now_ms(ps));
        if (r < 0) {
            ps->in_off = ps->in_len = 0; /* the stream ended */
            return 1;
        }
        if (r == 0) {
            break;
        }
        ps->in_off += (size_t)r;
        ps->in_len -= (size_t)r;
        moved = 1;
    }
    if (ps->in_len == 0) {
        ps->in_off = 0;
    }
    return moved;
}

/* Send what the stream has pending; 1 if some went out. */
static int flush(tse_posix_stream *ps)
{
    int moved = 0;
    for (int guard = 0; guard < 64 && ps->conn != NULL && !ps->connecting; guard++) {
        const uint8_t *p;
        size_t n = tse_stream_outer_pending(ps->st, &p);
        int32_t w;
        if (n == 0) {
            break;
        }
        w = ps->port->send(ps->port->user, ps->conn, p, n);
        if (w < 0) {
            conn_failed(ps, w);
            return 1;
        }
        if (w == 0) {
            break;
        }
        tse_stream_outer_consume(ps->st, (size_t)w, now_ms(ps));
        moved = 1;
    }
    return moved;
}

/* Do what the stream wants until nothing changes (bounded). */
static void service(tse_posix_stream *ps)
{
    for (int guard = 0; guard < 64; guard++) {
        unsigned w = tse_stream_want(ps->st);
        tse_time_ms now = now_ms(ps);
        int moved = 0;
        if (w & TSE_WANT_DISCONNECT) {
            drop_conn(ps);
            tse_stream_transport_closed(ps->st, 0, now);
            continue;
        }
        if (w & TSE_WANT_CONNECT) {
            const char *host;
            uint16_t port;
            int rc;
            if (tse_stream_connect_target(ps->st, &host, &port) != TSE_OK) {
                break;
            }
            drop_conn(ps);
            rc = ps->port->connect_start(ps->port->user, host, port, &ps->conn);
            if (rc != TSE_OK) {
                ps->conn = NULL;
                tse_stream_transport_closed(ps->st, rc, now);
                continue;
            }
            ps->connecting = 1;
            moved = 1;
        }
        if (ps->conn != NULL && ps->connecting) {
            int rc = ps->port->connect_poll(ps->port->user, ps->conn);
            if (rc == TSE_OK) {
                ps->connecting = 0;
                tse_stream_transport_connected(ps->st, now);
                moved = 1;
            } else if (rc != TSE_ERR_WOULD_BLOCK) {
                conn_failed(ps, rc);
                continue;
            }
        }
        moved |= flush(ps);
        moved |= feed_kept(ps);
        if (tse_stream_expiry(ps->st) <= now_ms(ps)) {
            tse_stream_handle_expiry(ps->st, now_ms(ps));
            moved = 1;
        }
        if (!moved) {
            break;
        }
    }
}

/* Read what the socket has while the stream takes it. */
static void read_conn(tse_posix_stream *ps)
{
    size_t budget = READ_BUDGET;
    while (ps->conn != NULL && !ps->connecting && ps->in_len == 0 && budget > 0 &&
           (tse_stream_want(ps->st) & TSE_WANT_READ)) {
        int32_t r = ps->port->recv(ps->port->user, ps->conn, ps->in, sizeof(ps->in));
        if (r < 0) {
            conn_failed(ps, r);
            return;
        }
        if (r == 0) {
            return;
        }
        ps->in_off = 0;
        ps->in_len = (size_t)r;
        budget = budget > (size_t)r ? budget - (size_t)r : 0;
        (void)feed_kept(ps);
        (void)flush(ps); /* the handshake answers at once */
    }
}

int tse_posix_stream_new(tse_posix_stream **out, tse_stream *st, const tse_port *port)
{
    tse_posix_stream *ps;
    if (out == NULL || st == NULL) {
        return TSE_ERR_INVALID_ARG;
    }
    if (port == NULL) {
        port = tse_posix_port();
    }
    if (port->version != TSE_PORT_VERSION) {
        return TSE_ERR_INVALID_ARG;
    }
    ps = calloc(1, sizeof(*ps));
    if (ps == NULL) {
        return TSE_ERR_NO_MEMORY;
    }
    ps->port = port;
    ps->st = st;
    *out = ps;
    return TSE_OK;
}

void tse_posix_stream_del(tse_posix_stream *ps)
{
    if (ps == NULL) {
        return;
    }
    drop_conn(ps);
    free(ps);
}

int tse_posix_stream_prepare(tse_posix_stream *ps, struct pollfd *fds, size_t max, size_t *n,
                             int *timeout_ms)
{
    tse_time_ms e, now;
    if (ps == NULL || (fds == NULL && max > 0) || n == NULL || timeout_ms == NULL) {
        return TSE_ERR_INVALID_ARG;
    }
    service(ps);
    *n = 0;
    e = tse_stream_expiry(ps->st);
    if (ps->conn != NULL && ps->connecting) {
        tse_time_ms d = tse_posix_conn_deadline(ps->conn);
        if (d < e) {
            e = d;
        }
        *n = tse_posix_conn_pollfds(ps->conn, fds, max);
    } else if (ps->conn != NULL) {
        unsigned w = tse_stream_want(ps->st);
        short ev = 0;
        if ((w & TSE_WANT_READ) && ps->in_len == 0) {
            ev |= POLLIN;
        }
        if (w & TSE_WANT_WRITE) {
            ev |= POLLOUT;
        }
        if (max < 1) {
            return TSE_ERR_BUFFER_TOO_SMALL;
        }
        fds[0].fd = tse_posix_conn_fd(ps->conn);
        fds[0].events = ev;
        fds[0].revents = 0;
        *n = 1;
    }
    now = now_ms(ps);
    if (e == TSE_TIME_NEVER) {
        *timeout_ms = -1;
    } else if (e <= now) {
        *timeout_ms = 0;
    } else {
        *timeout_ms = e - now > INT_MAX ? INT_MAX : (int)(e - now);
    }
    return TSE_OK;
}

int tse_posix_stream_process(tse_posix_stream *ps, const struct pollfd *fds, size_t n)
{
    short rev = 0;
    if (ps == NULL || (fds == NULL && n > 0)) {
        return TSE_ERR_INVALID_ARG;
    }
    for (size_t i = 0; i < n; i++) {
        rev |= fds[i].revents;
    }
    if (ps->conn != NULL && ps->connecting) {
        service(ps); /* connect_poll() on any readiness, or its deadline */
    } else if (rev & (POLLIN | POLLHUP | POLLERR)) {
        read_conn(ps);
    }
    service(ps);
    return TSE_OK;
}

int tse_posix_stream_step(tse_posix_stream *ps, struct pollfd *extra, size_t n_extra,
                          int max_wait_ms)
{
    struct pollfd fds[TSE_POSIX_STREAM_POLLFD_MAX + 8];
    size_t n = 0;
    int timeout, rc;
    if (ps == NULL || n_extra > 8 || (extra == NULL && n_extra > 0)) {
        return TSE_ERR_INVALID_ARG;
    }
    rc = tse_posix_stream_prepare(ps, fds, TSE_POSIX_STREAM_POLLFD_MAX, &n, &timeout);
    if (rc != TSE_OK) {
        return rc;
    }
    if (n == 0 && n_extra == 0 && ps->conn == NULL &&
        tse_stream_get_state(ps->st) == TSE_STREAM_DOWN) {
        return TSE_OK; /* nothing can happen any more: do not sleep */
    }
    if (max_wait_ms >= 0 && (timeout < 0 || timeout > max_wait_ms)) {
        timeout = max_wait_ms;
    }
    for (size_t i = 0; i < n_extra; i++) {
        extra[i].revents = 0;
        fds[n + i] = extra[i];
    }
    rc = poll(fds, (nfds_t)(n + n_extra), timeout);
    if (rc < 0 && errno != EINTR) {
        return TSE_ERR_TRANSPORT_IO;
    }
    if (rc < 0) {
        for (size_t i = 0; i < n + n_extra; i++) {
            fds[i].revents = 0;
        }
    }
    for (size_t i = 0; i < n_extra; i++) {
        extra[i].revents = fds[n + i].revents;
    }
    return tse_posix_stream_process(ps, fds, n);
}
