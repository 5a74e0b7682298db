/* POSIX outer transport: non-blocking TCP over IPv4/IPv6 with a small
 * happy-eyeballs (RFC 8305) connect, and name resolution that never
 * blocks the caller (posix_resolve.h).  Implements the tse_port table. */
#include "posix_feature.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include "posix_resolve.h"
#include "tse_posix.h"

#ifdef MSG_NOSIGNAL
#define SEND_FLAGS MSG_NOSIGNAL
#else
#define SEND_FLAGS 0
#endif

#if TSE_POSIX_MAX_ATTEMPTS < 1 || TSE_POSIX_MAX_ADDRS < 1
#error "TSE_POSIX_MAX_ATTEMPTS and TSE_POSIX_MAX_ADDRS must be at least 1"
#endif

enum conn_state { CONN_RESOLVING, CONN_CONNECTING, CONN_CONNECTED, CONN_FAILED };

struct tse_port_conn {
    int state;
    int fd;                       /* connected socket, or -1 */
    int last_err;                 /* TSE_ERR_TRANSPORT_* of the last failed attempt */
    size_t next;                  /* next address of addrs to try */
    posix_addrs addrs;            /* resolved addresses */
    int att[TSE_POSIX_MAX_ATTEMPTS]; /* attempts in flight (-1 = free) */
    tse_time_ms next_attempt_at;  /* start the next address at this time */
    posix_lookup lk;              /* CONN_RESOLVING only */
};

static tse_posix_socket_hook g_hook;
static void *g_hook_user;
void tse_posix_set_socket_hook(tse_posix_socket_hook hook, void *user)
{
    g_hook = hook;
    g_hook_user = hook ? user : NULL;
}

int tse_posix_err_from_errno(int e)
{
    switch (e) {
    case ECONNREFUSED:
    case ENETUNREACH:
    case EHOSTUNREACH:
    case ENETDOWN:
#ifdef EHOSTDOWN
    case EHOSTDOWN:
#endif
    case EADDRNOTAVAIL:
        return TSE_ERR_TRANSPORT_REFUSED;
    case ETIMEDOUT:
        return TSE_ERR_TRANSPORT_TIMEOUT;
    case ECONNRESET:
    case EPIPE:
    case ECONNABORTED:
        return TSE_ERR_TRANSPORT_RESET;
    default:
        return TSE_ERR_TRANSPORT_IO;
    }
}

static int set_socket_options(int fd)
{
    int one = 1;
    int fl = fcntl(fd, F_GETFL, 0);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return -1;
    if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
        return -1;
    /* Small inner packets (RTP, SIP) must not wait for Nagle. */
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0)
        return -1;
#ifdef SO_NOSIGPIPE
    (void)setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof one);
#endif
    /* A dead path found by TCP itself: the only dead-peer detection of
     * the FTT profile, which has no keep-alive message (docs/engine.md
     * "FTT profile"), and a backstop under TSCF's.  Idle: probes after
     * 20 s, two more 5 s apart (dead ~30 s after the last sign of life,
     * as the engine's default dpd_idle_ms); data unacknowledged for 30 s
     * ends the connection too (TCP_USER_TIMEOUT, RFC 5482).  Best effort:
     * a system without these options keeps its defaults. */
    (void)setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
#if defined(TCP_KEEPIDLE) && defined(TCP_KEEPINTVL) && defined(TCP_KEEPCNT)
    {
        int idle = 20, intvl = 5, cnt = 2;
        (void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
        (void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof intvl);
        (void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof cnt);
    }
#endif
#ifdef TCP_USER_TIMEOUT
    {
        unsigned int ut = 30000;
        (void)setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &ut, sizeof ut);
    }
#endif
    return 0;
}

static size_t attempts_in_flight(const tse_port_conn *c)
{
    size_t i, n = 0;
    for (i = 0; i < TSE_POSIX_MAX_ATTEMPTS; i++)
        if (c->att[i] >= 0)
            n++;
    return n;
}

/* Start a connect to the next address.  Returns 0 if one is in flight (or
 * connected at once), -1 if no address is left. */
static int start_next_attempt(tse_port_conn *c)
{
    while (c->next < c->addrs.n) {
        size_t slot;
        const struct sockaddr_storage *sa = &c->addrs.addr[c->next];
        socklen_t len = c->addrs.len[c->next];
        int fd;
        c->next++;
        for (slot = 0; slot < TSE_POSIX_MAX_ATTEMPTS; slot++)
            if (c->att[slot] < 0)
                break;
        if (slot == TSE_POSIX_MAX_ATTEMPTS) {
            c->next--;
            return 0;
        }
        fd = socket(sa->ss_family, SOCK_STREAM, IPPROTO_TCP);
        if (fd < 0) {
            c->last_err = tse_posix_err_from_errno(errno);
            continue;
        }
        if (set_socket_options(fd) < 0) {
            c->last_err = tse_posix_err_from_errno(errno);
            close(fd);
            continue;
        }
        if (g_hook && g_hook(g_hook_user, fd, (const struct sockaddr *)sa, len) != 0) {
            c->last_err = TSE_ERR_TRANSPORT_IO;
            close(fd);
            continue;
        }
        if (connect(fd, (const struct sockaddr *)sa, len) == 0 ||
            errno == EINPROGRESS || errno == EINTR) {
            /* In progress (or done at once, e.g. loopback): connect_poll()
             * sees the socket writable either way. */
            c->att[slot] = fd;
            c->next_attempt_at = tse_posix_now_ms() + TSE_POSIX_ATTEMPT_DELAY_MS;
            return 0;
        }
        c->last_err = tse_posix_err_from_errno(errno);
        close(fd);
    }
    return -1;
}

static int p_connect_start(void *user, const char *host, uint16_t port,
                           tse_port_conn **out)
{
    char hostbuf[256];
    tse_port_conn *c;
    size_t i, hl;
    int rc;

    (void)user;
    if (!host || !out || !*host)
        return TSE_ERR_INVALID_ARG;
    /* Accept "[::1]" as well as "::1". */
    hl = strlen(host);
    if (host[0] == '[' && hl >= 2 && host[hl - 1] == ']') {
        if (hl - 2 >= sizeof hostbuf)
            return TSE_ERR_INVALID_ARG;
        memcpy(hostbuf, host + 1, hl - 2);
        hostbuf[hl - 2] = '\0';
        host = hostbuf;
    }
    c = calloc(1, sizeof *c);
    if (!c)
        return TSE_ERR_NO_MEMORY;
    c->state = CONN_CONNECTING;
    c->fd = -1;
    c->lk.fd = -1;
    c->last_err = TSE_ERR_TRANSPORT_REFUSED;
    for (i = 0; i < TSE_POSIX_MAX_ATTEMPTS; i++)
        c->att[i] = -1;

    rc = posix_lookup_start(&c->lk, host, port, &c->addrs);
    if (rc == TSE_ERR_WOULD_BLOCK) {
        c->state = CONN_RESOLVING;
        *out = c; /* connect_poll() takes it from here */
        return TSE_OK;
    }
    if (rc == TSE_OK && start_next_attempt(c) < 0)
        rc = c->last_err;
    if (rc != TSE_OK) {
        free(c);
        return rc;
    }
    *out = c;
    return TSE_OK;
}

static int p_connect_poll(void *user, tse_port_conn *c)
{
    size_t i;
    (void)user;
    if (!c)
        return TSE_ERR_INVALID_ARG;
    if (c->state == CONN_CONNECTED)
        return TSE_OK;
    if (c->state == CONN_FAILED)
        return c->last_err;
    if (c->state == CONN_RESOLVING) {
        int rc = posix_lookup_poll(&c->lk, &c->addrs);
        if (rc == TSE_ERR_WOULD_BLOCK)
            return rc;
        c->state = CONN_CONNECTING;
        if (rc != TSE_OK) {
            c->state = CONN_FAILED;
            c->last_err = rc;
            return rc;
        }
        /* resolved: start the first address now; the loop below finds
         * it pending (or done at once) */
        if (start_next_attempt(c) < 0) {
            c->state = CONN_FAILED;
            return c->last_err;
        }
    }

    for (i = 0; i < TSE_POSIX_MAX_ATTEMPTS; i++) {
        struct pollfd p;
        int err = 0, r;
        socklen_t el = sizeof err;
        if (c->att[i] < 0)
            continue;
        p.fd = c->att[i];
        p.events = POLLOUT;
        p.revents = 0;
        do {
            r = poll(&p, 1, 0);
        } while (r < 0 && errno == EINTR);
        if (r <= 0)
            continue; /* still in progress */
        if (getsockopt(c->att[i], SOL_SOCKET, SO_ERROR, &err, &el) < 0)
            err = errno;
        if (err == 0 && !(p.revents & (POLLERR | POLLNVAL))) {
            size_t j;
            c->fd = c->att[i];
            c->att[i] = -1;
            for (j = 0; j < TSE_POSIX_MAX_ATTEMPTS; j++) {
                if (c->att[j] >= 0) {
                    close(c->att[j]);
                    c->att[j] = -1;
                }
            }
            c->state = CONN_CONNECTED;
            return TSE_OK;
        }
        if (err == 0)
            err = ECONNREFUSED; /* POLLERR without SO_ERROR: treat as refused */
        c->last_err = tse_posix_err_from_errno(err);
        close(c->att[i]);
        c->att[i] = -1;
    }

    /* Start the next address if nothing is pending, or the current attempts
     * have had their head start (RFC 8305 5). */
    if (c->next < c->addrs.n &&
        (attempts_in_flight(c) == 0 || tse_posix_now_ms() >= c->next_attempt_at))
        (void)start_next_attempt(c);
    if (attempts_in_flight(c) == 0) {
        c->state = CONN_FAILED;
        return c->last_err;
    }
    return TSE_ERR_WOULD_BLOCK;
}

static int32_t p_send(void *user, tse_port_conn *c, const uint8_t *buf,
                      size_t len)
{
    ssize_t n;
    (void)user;
    if (!c || (!buf && len))
        return TSE_ERR_INVALID_ARG;
    if (c->state != CONN_CONNECTED)
        return TSE_ERR_TRANSPORT_IO;
    if (len == 0)
        return 0;
    if (len > INT32_MAX)
        len = INT32_MAX;
    do {
        n = send(c->fd, buf, len, SEND_FLAGS);
    } while (n < 0 && errno == EINTR);
    if (n >= 0)
        return (int32_t)n;
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)
        return 0;
    return tse_posix_err_from_errno(errno);
}

static int32_t p_recv(void *user, tse_port_conn *c, uint8_t *buf, size_t len)
{
    ssize_t n;
    (void)user;
    if (!c || (!buf && len))
        return TSE_ERR_INVALID_ARG;
    if (c->state != CONN_CONNECTED)
        return TSE_ERR_TRANSPORT_IO;
    if (len == 0)
        return 0;
    if (len > INT32_MAX)
        len = INT32_MAX;
    do {
        n = recv(c->fd, buf, len, 0);
    } while (n < 0 && errno == EINTR);
    if (n > 0)
        return (int32_t)n;
    if (n == 0)
        return TSE_ERR_TRANSPORT_CLOSED; /* orderly shutdown by the peer */
    if (errno == EAGAIN || errno == EWOULDBLOCK)
        return 0;
    return tse_posix_err_from_errno(errno);
}

static void p_close(void *user, tse_port_conn *c)
{
    size_t i;
    (void)user;
    if (!c)
        return;
    if (c->fd >= 0)
        close(c->fd);
    for (i = 0; i < TSE_POSIX_MAX_ATTEMPTS; i++)
        if (c->att[i] >= 0)
            close(c->att[i]);
    /* never waits for the resolver thread: it frees the request */
    posix_lookup_abandon(&c->lk);
    free(c);
}

static tse_time_ms p_now_ms(void *user)
{
    (void)user;
    return tse_posix_now_ms();
}

static const tse_port posix_port = {
    TSE_PORT_VERSION, NULL,
    p_connect_start, p_connect_poll, p_send, p_recv, p_close,
    p_now_ms, tse_posix_entropy
};

const tse_port *tse_posix_port(void)
{
    return &posix_port;
}

size_t tse_posix_conn_pollfds(const tse_port_conn *c, struct pollfd *fds,
                              size_t max)
{
    size_t i, n = 0;
    if (!c || !fds)
        return 0;
    if (c->state == CONN_CONNECTED) {
        if (max < 1)
            return 0;
        fds[0].fd = c->fd;
        fds[0].events = 0;
        fds[0].revents = 0;
        return 1;
    }
    if (c->state == CONN_RESOLVING) {
        /* the resolver thread closes its end when it is done; none while
         * the lookup waits for a thread (its deadline wakes the loop) */
        if (max < 1 || c->lk.fd < 0)
            return 0;
        fds[0].fd = c->lk.fd;
        fds[0].events = POLLIN;
        fds[0].revents = 0;
        return 1;
    }
    for (i = 0; i < TSE_POSIX_MAX_ATTEMPTS && n < max; i++) {
        if (c->att[i] < 0)
            continue;
        fds[n].fd = c->att[i];
        fds[n].events = POLLOUT;
        fds[n].revents = 0;
        n++;
    }
    return n;
}

tse_time_ms tse_posix_conn_deadline(const tse_port_conn *c)
{
    if (c && c->state == CONN_RESOLVING)
        return c->lk.deadline;
    if (!c || c->state != CONN_CONNECTING || c->next >= c->addrs.n)
        return TSE_TIME_NEVER;
    return c->next_attempt_at;
}

int tse_posix_conn_fd(const tse_port_conn *c)
{
    return (c && c->state == CONN_CONNECTED) ? c->fd : -1;
}

int tse_posix_conn_set_notsent_lowat(tse_port_conn *c, size_t bytes)
{
    int fd = tse_posix_conn_fd(c);
    if (fd < 0 || bytes == 0 || bytes > INT_MAX)
        return TSE_ERR_INVALID_ARG;
#ifdef TCP_NOTSENT_LOWAT
    {
        int v = (int)bytes;
        /* Linux and the BSDs: the socket reports writable, and takes
         * bytes, only while fewer than v are unsent; the rest of the send
         * buffer holds what is in flight.  So a new voice packet queues in
         * the engine's scheduler, not behind megabytes in the kernel. */
        if (setsockopt(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &v, sizeof v) < 0)
            return tse_posix_err_from_errno(errno);
    }
    return TSE_OK;
#else
    return TSE_ERR_STATE; /* not on this OS: the engine's own bound holds */
#endif
}
