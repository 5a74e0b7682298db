/* The poll(2) driver: runs many tunnels (and some application fds) in one
 * thread, translating the engine's wants into socket operations. */
#include "posix_feature.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include "tse_posix.h"

struct drv_tunnel {
    tse_tunnel *t;
    tse_port_conn *conn;  /* NULL: no outer connection */
    int connected;        /* conn finished connecting */
    size_t write_left;    /* bytes flush() may still send this phase */
};

struct drv_fd {
    int fd;
    short events;
    tse_posix_fd_cb cb;
    void *user;
};

struct tse_posix_driver {
    const tse_port *port;
    struct drv_tunnel *tun;
    size_t ntun, captun;
    struct drv_fd *afd;
    size_t nafd, capafd;
    tse_posix_tick_cb tick;
    void *tick_user;
    tse_time_ms tick_next;
    /* scratch for run_once(): pollfds and, per entry, its tunnel index */
    struct pollfd *pfd;
    size_t *owner;
    size_t cappfd, capowner;
    size_t ntunfds;       /* entries of the last prepare() that are tunnels' */
    int wake[2];          /* self-pipe: tse_posix_driver_wake() */
    uint64_t polls;       /* poll(2) returns: the wake-ups it costs */
    uint8_t rbuf[16384];
};

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
    size_t ncap;
    void *np;
    if (need <= *cap)
        return 0;
    ncap = *cap ? *cap * 2 : 8;
    while (ncap < need)
        ncap *= 2;
    if (ncap > SIZE_MAX / elem)
        return -1;
    np = realloc(*p, ncap * elem);
    if (!np)
        return -1;
    *p = np;
    *cap = ncap;
    return 0;
}

int tse_posix_driver_new(tse_posix_driver **out)
{
    tse_posix_driver *d;
    if (!out)
        return TSE_ERR_INVALID_ARG;
    d = calloc(1, sizeof *d);
    if (!d)
        return TSE_ERR_NO_MEMORY;
    if (pipe(d->wake) < 0) {
        free(d);
        return TSE_ERR_NO_MEMORY;
    }
    for (int i = 0; i < 2; i++) {
        int fl = fcntl(d->wake[i], F_GETFL, 0);
        (void)fcntl(d->wake[i], F_SETFL, fl | O_NONBLOCK);
        (void)fcntl(d->wake[i], F_SETFD, FD_CLOEXEC);
    }
    d->port = tse_posix_port();
    d->tick_next = TSE_TIME_NEVER;
    *out = d;
    return TSE_OK;
}

static void drop_conn(tse_posix_driver *d, struct drv_tunnel *dt)
{
    if (dt->conn)
        d->port->close(d->port->user, dt->conn);
    dt->conn = NULL;
    dt->connected = 0;
}

void tse_posix_driver_del(tse_posix_driver *d)
{
    size_t i;
    if (!d)
        return;
    for (i = 0; i < d->ntun; i++)
        drop_conn(d, &d->tun[i]);
    close(d->wake[0]);
    close(d->wake[1]);
    free(d->tun);
    free(d->afd);
    free(d->pfd);
    free(d->owner);
    free(d);
}

int tse_posix_driver_add(tse_posix_driver *d, tse_tunnel *t)
{
    size_t i;
    if (!d || !t)
        return TSE_ERR_INVALID_ARG;
    for (i = 0; i < d->ntun; i++)
        if (d->tun[i].t == t)
            return TSE_ERR_INVALID_ARG;
    if (grow((void **)&d->tun, &d->captun, d->ntun + 1, sizeof *d->tun) < 0)
        return TSE_ERR_NO_MEMORY;
    d->tun[d->ntun].t = t;
    d->tun[d->ntun].conn = NULL;
    d->tun[d->ntun].connected = 0;
    d->tun[d->ntun].write_left = TSE_POSIX_WRITE_BUDGET;
    d->ntun++;
    return TSE_OK;
}

int tse_posix_driver_remove(tse_posix_driver *d, tse_tunnel *t)
{
    size_t i;
    if (!d || !t)
        return TSE_ERR_INVALID_ARG;
    for (i = 0; i < d->ntun; i++) {
        if (d->tun[i].t != t)
            continue;
        drop_conn(d, &d->tun[i]);
        memmove(&d->tun[i], &d->tun[i + 1], (d->ntun - i - 1) * sizeof *d->tun);
        d->ntun--;
        d->ntunfds = 0; /* any prepared owner map is stale now */
        return TSE_OK;
    }
    return TSE_ERR_INVALID_ARG;
}

size_t tse_posix_driver_count(const tse_posix_driver *d)
{
    return d ? d->ntun : 0;
}

int tse_posix_driver_watch_fd(tse_posix_driver *d, int fd, short events,
                              tse_posix_fd_cb cb, void *user)
{
    size_t i;
    if (!d || fd < 0 || !cb)
        return TSE_ERR_INVALID_ARG;
    for (i = 0; i < d->nafd; i++) {
        if (d->afd[i].fd == fd) {
            d->afd[i].events = events;
            d->afd[i].cb = cb;
            d->afd[i].user = user;
            return TSE_OK;
        }
    }
    if (grow((void **)&d->afd, &d->capafd, d->nafd + 1, sizeof *d->afd) < 0)
        return TSE_ERR_NO_MEMORY;
    d->afd[d->nafd].fd = fd;
    d->afd[d->nafd].events = events;
    d->afd[d->nafd].cb = cb;
    d->afd[d->nafd].user = user;
    d->nafd++;
    return TSE_OK;
}

int tse_posix_driver_unwatch_fd(tse_posix_driver *d, int fd)
{
    size_t i;
    if (!d)
        return TSE_ERR_INVALID_ARG;
    for (i = 0; i < d->nafd; i++) {
        if (d->afd[i].fd == fd) {
            memmove(&d->afd[i], &d->afd[i + 1], (d->nafd - i - 1) * sizeof *d->afd);
            d->nafd--;
            return TSE_OK;
        }
    }
    return TSE_ERR_INVALID_ARG;
}

void tse_posix_driver_set_tick(tse_posix_driver *d, tse_posix_tick_cb cb,
                               void *user)
{
    if (!d)
        return;
    d->tick = cb;
    d->tick_user = user;
    d->tick_next = cb ? 0 : TSE_TIME_NEVER;
}

/* The outer connection is gone: tell the engine why. */
static void conn_failed(tse_posix_driver *d, struct drv_tunnel *dt, int err,
                        tse_time_ms now)
{
    drop_conn(d, dt);
    (void)tse_tunnel_transport_closed(dt->t, err, now);
}

/* The connect finished: bound the kernel's unsent bytes as the tunnel's
 * scheduler asks (best effort: without TCP_NOTSENT_LOWAT only the
 * engine's own bound holds), then tell the engine. */
static void connected(struct drv_tunnel *dt, tse_time_ms now)
{
    const tse_sched_settings *sp = tse_tunnel_sched(dt->t);
    dt->connected = 1;
    if (sp && sp->notsent_lowat > 0)
        (void)tse_posix_conn_set_notsent_lowat(dt->conn, sp->notsent_lowat);
    (void)tse_tunnel_transport_connected(dt->t, now);
}

/* Send what the engine has until it is empty or the socket is full.
 * Returns 0, or -1 if the connection failed (already reported). */
static int flush(tse_posix_driver *d, struct drv_tunnel *dt, tse_time_ms now)
{
    int rounds;
    /* bounded: each round moves > 0 bytes or stops */
    for (rounds = 0; rounds < 64; rounds++) {
        const uint8_t *p = NULL;
        size_t n;
        int32_t w;
        if (dt->write_left == 0)
            return 0; /* budget spent: let the application's fds (a TUN
                       * reader) run before encrypting more */
        n = tse_tunnel_outer_pending(dt->t, &p);
        if (n == 0 || !p)
            return 0;
        w = d->port->send(d->port->user, dt->conn, p, n);
        if (w < 0) {
            conn_failed(d, dt, w, now);
            return -1;
        }
        if (w == 0)
            return 0; /* EAGAIN: wait for POLLOUT */
        dt->write_left -= (size_t)w < dt->write_left ? (size_t)w : dt->write_left;
        tse_tunnel_outer_consume(dt->t, (size_t)w);
    }
    return 0;
}

static int state_has_no_connection(tse_state s)
{
    return s == TSE_STATE_IDLE || s == TSE_STATE_BACKOFF ||
           s == TSE_STATE_PAUSED || s == TSE_STATE_CLOSED;
}

/* Bring the tunnel's socket in line with what the engine wants, send what
 * is pending and run its due timers.  Bounded: a confused engine cannot
 * make the driver spin. */
static void service(tse_posix_driver *d, struct drv_tunnel *dt, tse_time_ms now)
{
    int i;
    for (i = 0; i < 16; i++) {
        unsigned w = tse_tunnel_want(dt->t);
        tse_time_ms exp;

        if (w & TSE_WANT_DISCONNECT) {
            /* Also while a connect is in progress: the engine's connect
             * timeout expired, or the application closed the tunnel. */
            drop_conn(d, dt);
            (void)tse_tunnel_transport_closed(dt->t, 0, now);
            continue;
        }
        if (w & TSE_WANT_CONNECT) {
            const char *host = NULL;
            uint16_t port = 0;
            int rc;
            /* A connection the engine no longer knows about is stale. */
            drop_conn(d, dt);
            /* marks the connect as started: TSE_WANT_CONNECT clears */
            rc = tse_tunnel_connect_target(dt->t, &host, &port);
            if (rc == TSE_OK)
                rc = d->port->connect_start(d->port->user, host, port, &dt->conn);
            if (rc != TSE_OK) {
                dt->conn = NULL;
                if (rc > TSE_ERR_TRANSPORT_RESOLVE || rc < TSE_ERR_TRANSPORT_IO)
                    rc = TSE_ERR_TRANSPORT_IO; /* e.g. out of memory */
                (void)tse_tunnel_transport_closed(dt->t, rc, now);
                continue;
            }
            dt->connected = 0;
        }
        if (dt->conn && !dt->connected &&
            now >= tse_posix_conn_deadline(dt->conn)) {
            /* time for the next happy-eyeballs attempt */
            int rc = d->port->connect_poll(d->port->user, dt->conn);
            if (rc == TSE_OK) {
                connected(dt, now);
                continue;
            }
            if (rc != TSE_ERR_WOULD_BLOCK) {
                conn_failed(d, dt, rc, now);
                continue;
            }
        }
        if (dt->conn && dt->connected && (w & TSE_WANT_WRITE)) {
            if (flush(d, dt, now) < 0)
                continue;
        }
        if (dt->conn && !(w & (TSE_WANT_READ | TSE_WANT_WRITE | TSE_WANT_CONNECT)) &&
            state_has_no_connection(tse_tunnel_state(dt->t))) {
            /* The engine dropped the connection without asking for
             * DISCONNECT (e.g. it went straight to CLOSED): don't leak it. */
            drop_conn(d, dt);
        }
        exp = tse_tunnel_expiry(dt->t);
        if (exp != TSE_TIME_NEVER && now >= exp) {
            (void)tse_tunnel_handle_expiry(dt->t, now);
            continue;
        }
        break;
    }
}

int tse_posix_driver_kick(tse_posix_driver *d, tse_tunnel *t)
{
    size_t i;
    if (!d || !t)
        return TSE_ERR_INVALID_ARG;
    for (i = 0; i < d->ntun; i++) {
        if (d->tun[i].t == t) {
            d->tun[i].write_left = TSE_POSIX_WRITE_BUDGET;
            service(d, &d->tun[i], d->port->now_ms(d->port->user));
            return TSE_OK;
        }
    }
    return TSE_ERR_INVALID_ARG;
}

/* Read until EAGAIN, an error, or the per-round budget (fairness). */
static void read_some(tse_posix_driver *d, struct drv_tunnel *dt, tse_time_ms now)
{
    size_t budget = TSE_POSIX_READ_BUDGET;
    while (budget > 0 && dt->conn && dt->connected) {
        size_t want = budget < sizeof d->rbuf ? budget : sizeof d->rbuf;
        int32_t r = d->port->recv(d->port->user, dt->conn, d->rbuf, want);
        if (r == 0)
            return;
        if (r < 0) {
            conn_failed(d, dt, r, now);
            return;
        }
        budget -= (size_t)r;
        if (tse_tunnel_recv_outer(dt->t, d->rbuf, (size_t)r, now) != TSE_OK)
            return; /* the engine wants DISCONNECT; service() does it */
        if (!(tse_tunnel_want(dt->t) & TSE_WANT_READ))
            return;
    }
}

size_t tse_posix_driver_pollfd_max(const tse_posix_driver *d)
{
    return d ? d->ntun * TSE_POSIX_MAX_ATTEMPTS : 0;
}

static tse_time_ms min_time(tse_time_ms a, tse_time_ms b)
{
    return a < b ? a : b;
}

static int prepare_into(tse_posix_driver *d, struct pollfd *fds, size_t max,
                        size_t *owner, size_t *n, tse_time_ms *deadline,
                        tse_time_ms now)
{
    size_t i, k = 0;
    tse_time_ms dl = TSE_TIME_NEVER;
    for (i = 0; i < d->ntun; i++) {
        struct drv_tunnel *dt = &d->tun[i];
        size_t got, j;
        unsigned w;
        dt->write_left = TSE_POSIX_WRITE_BUDGET;
        service(d, dt, now);
        w = tse_tunnel_want(dt->t);
        dl = min_time(dl, tse_tunnel_expiry(dt->t));
        if (!dt->conn)
            continue;
        if (!dt->connected)
            dl = min_time(dl, tse_posix_conn_deadline(dt->conn));
        if (max - k < (dt->connected ? 1u : (size_t)TSE_POSIX_MAX_ATTEMPTS))
            return TSE_ERR_BUFFER_TOO_SMALL;
        got = tse_posix_conn_pollfds(dt->conn, fds + k, max - k);
        for (j = 0; j < got; j++) {
            if (dt->connected) {
                if (w & TSE_WANT_READ)
                    fds[k + j].events |= POLLIN;
                if (w & TSE_WANT_WRITE)
                    fds[k + j].events |= POLLOUT;
            }
            if (owner)
                owner[k + j] = i;
        }
        k += got;
    }
    *n = k;
    *deadline = dl;
    return TSE_OK;
}

static int to_timeout(tse_time_ms deadline, tse_time_ms now)
{
    if (deadline == TSE_TIME_NEVER)
        return -1;
    if (deadline <= now)
        return 0;
    if (deadline - now > (tse_time_ms)INT_MAX)
        return INT_MAX;
    return (int)(deadline - now);
}

int tse_posix_driver_prepare(tse_posix_driver *d, struct pollfd *fds,
                             size_t max, size_t *n, int *timeout_ms)
{
    tse_time_ms now, dl;
    int rc;
    if (!d || !n || !timeout_ms || (!fds && max))
        return TSE_ERR_INVALID_ARG;
    if (grow((void **)&d->owner, &d->capowner, max, sizeof *d->owner) < 0)
        return TSE_ERR_NO_MEMORY;
    now = d->port->now_ms(d->port->user);
    rc = prepare_into(d, fds, max, d->owner, n, &dl, now);
    if (rc != TSE_OK)
        return rc;
    d->ntunfds = *n;
    *timeout_ms = to_timeout(dl, now);
    return TSE_OK;
}

static void process_tunnels(tse_posix_driver *d, const struct pollfd *fds,
                            size_t n, const size_t *owner, tse_time_ms now)
{
    size_t i;
    for (i = 0; i < d->ntun; i++)
        d->tun[i].write_left = TSE_POSIX_WRITE_BUDGET;
    for (i = 0; i < n; i++) {
        struct drv_tunnel *dt;
        short re = fds[i].revents;
        if (!re || owner[i] >= d->ntun)
            continue;
        dt = &d->tun[owner[i]];
        if (!dt->conn)
            continue; /* closed while handling an earlier entry */
        if (!dt->connected) {
            int rc = d->port->connect_poll(d->port->user, dt->conn);
            if (rc == TSE_OK) {
                connected(dt, now);
            } else if (rc != TSE_ERR_WOULD_BLOCK) {
                conn_failed(d, dt, rc, now);
            }
            continue;
        }
        if (fds[i].fd != tse_posix_conn_fd(dt->conn))
            continue; /* stale entry */
        if (re & (POLLIN | POLLHUP | POLLERR))
            read_some(d, dt, now);
        if (re & POLLNVAL) {
            conn_failed(d, dt, TSE_ERR_TRANSPORT_IO, now);
            continue;
        }
        if (dt->conn && dt->connected && (re & POLLOUT))
            (void)flush(d, dt, now);
    }
    for (i = 0; i < d->ntun; i++)
        service(d, &d->tun[i], now);
}

int tse_posix_driver_process(tse_posix_driver *d, const struct pollfd *fds,
                             size_t n)
{
    if (!d || (!fds && n) || n > d->ntunfds)
        return TSE_ERR_INVALID_ARG;
    process_tunnels(d, fds, n, d->owner, d->port->now_ms(d->port->user));
    d->ntunfds = 0;
    return TSE_OK;
}

int tse_posix_driver_run_once(tse_posix_driver *d, int max_wait_ms)
{
    tse_time_ms now, dl;
    size_t need, n = 0, i;
    int timeout, r, rc;

    if (!d)
        return TSE_ERR_INVALID_ARG;
    now = d->port->now_ms(d->port->user);
    /* every round, so the application reacts to what the last round
     * brought (a tunnel came up...) without waiting for its deadline */
    d->tick_next = d->tick ? d->tick(d->tick_user, now) : TSE_TIME_NEVER;

    need = d->ntun * TSE_POSIX_MAX_ATTEMPTS + d->nafd + 1; /* + the wake pipe */
    if (grow((void **)&d->pfd, &d->cappfd, need, sizeof *d->pfd) < 0 ||
        grow((void **)&d->owner, &d->capowner, need, sizeof *d->owner) < 0)
        return TSE_ERR_NO_MEMORY;
    rc = prepare_into(d, d->pfd, d->ntun * TSE_POSIX_MAX_ATTEMPTS, d->owner,
                      &n, &dl, now);
    if (rc != TSE_OK)
        return rc;
    for (i = 0; i < d->nafd; i++) {
        d->pfd[n + i].fd = d->afd[i].fd;
        d->pfd[n + i].events = d->afd[i].events;
        d->pfd[n + i].revents = 0;
    }
    d->pfd[n + d->nafd].fd = d->wake[0];
    d->pfd[n + d->nafd].events = POLLIN;
    d->pfd[n + d->nafd].revents = 0;
    dl = min_time(dl, d->tick_next);
    timeout = to_timeout(dl, now);
    if (max_wait_ms >= 0 && (timeout < 0 || timeout > max_wait_ms))
        timeout = max_wait_ms;

    r = poll(d->pfd, (nfds_t)(n + d->nafd + 1), timeout);
    d->polls++;
    /* A signal handler that calls tse_posix_driver_wake() both interrupts
     * poll and fills the pipe: empty it now too, or the next round would
     * return at once for a wake-up already served (two per signal). */
    if ((d->pfd[n + d->nafd].revents & POLLIN) || (r < 0 && errno == EINTR)) {
        int e = errno;
        uint8_t junk[64];
        while (read(d->wake[0], junk, sizeof junk) > 0) {
        }
        errno = e;
    }
    if (r < 0) {
        if (errno == EINTR)
            return TSE_OK;
        return TSE_ERR_TRANSPORT_IO;
    }
    now = d->port->now_ms(d->port->user);
    {
        /* callbacks may (un)watch fds: work on a snapshot of this round */
        size_t nafd = d->nafd;
        process_tunnels(d, d->pfd, n, d->owner, now);
        for (i = 0; i < nafd && i < d->nafd; i++) {
            short re = d->pfd[n + i].revents;
            if (re && d->afd[i].fd == d->pfd[n + i].fd)
                d->afd[i].cb(d->afd[i].user, d->afd[i].fd, re);
        }
    }
    return TSE_OK;
}

int tse_posix_driver_wake(tse_posix_driver *d)
{
    static const uint8_t one = 1;
    if (!d)
        return TSE_ERR_INVALID_ARG;
    /* async-signal-safe; a full pipe already holds a wake-up */
    if (write(d->wake[1], &one, 1) < 0 && errno != EAGAIN)
        return TSE_ERR_TRANSPORT_IO;
    return TSE_OK;
}

uint64_t tse_posix_driver_polls(const tse_posix_driver *d)
{
    return d ? d->polls : 0;
}

int tse_posix_driver_run(tse_posix_driver *d, const volatile sig_atomic_t *stop)
{
    if (!d)
        return TSE_ERR_INVALID_ARG;
    /* Sleeps until the next deadline (a keep-alive, a timeout): nothing
     * polls an idle tunnel.  Ends when *stop is set (a signal interrupts
     * poll; another thread calls tse_posix_driver_wake()) or when every
     * tunnel is CLOSED. */
    while (!(stop && *stop)) {
        size_t i, open = 0;
        int rc;
        for (i = 0; i < d->ntun; i++)
            if (tse_tunnel_state(d->tun[i].t) != TSE_STATE_CLOSED)
                open++;
        if (open == 0)
            return TSE_OK;
        rc = tse_posix_driver_run_once(d, -1);
        if (rc != TSE_OK)
            return rc;
    }
    return TSE_OK;
}
