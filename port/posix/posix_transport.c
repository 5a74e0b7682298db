/* POSIX outer transport: non-blocking TCP over IPv4/IPv6 with a small
 * happy-eyeballs (RFC 8305) connect, and name resolution that never
 * blocks the caller (a literal at once, the application's resolver hook,
 * or getaddrinfo() in a short-lived detached thread).  Implements the
 * tse_port table. */
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

#include "tse_posix.h"

#ifdef MSG_NOSIGNAL
#define SEND_FLAGS MSG_NOSIGNAL
#else
#define SEND_FLAGS 0
#endif

#if TSE_POSIX_MAX_ATTEMPTS < 1 || TSE_POSIX_MAX_ADDRS < 1
#error "TSE_POSIX_MAX_ATTEMPTS and TSE_POSIX_MAX_ADDRS must be at least 1"
#endif
#if TSE_POSIX_RESOLVE_TIMEOUT_MS < 1
#error "TSE_POSIX_RESOLVE_TIMEOUT_MS must be at least 1"
#endif

enum conn_state { CONN_RESOLVING, CONN_CONNECTING, CONN_CONNECTED, CONN_FAILED };

/* Addresses in the order they are tried. */
struct addr_list {
    size_t n;
    struct sockaddr_storage addr[TSE_POSIX_MAX_ADDRS];
    socklen_t len[TSE_POSIX_MAX_ADDRS];
};

/* One name being resolved by a detached thread.  getaddrinfo() cannot be
 * cancelled, so the request is shared: the connection and the thread each
 * hold a reference and whoever drops the last one frees it.  A connection
 * closed (or timed out) while the thread still runs just drops its
 * reference; the thread finishes into memory nobody reads and frees it.
 * The thread says "done" by closing the write end of a pipe (the read end
 * polls readable/HUP): it never writes, so a read end already closed by
 * an abandoning connection cannot raise SIGPIPE. */
struct resolve_req {
    pthread_mutex_t mu;
    int refs;                     /* under mu */
    int done;                     /* under mu: rc and res are final */
    int rc;                       /* TSE_OK or TSE_ERR_TRANSPORT_RESOLVE */
    int wfd;                      /* the thread's end of the pipe */
    char port[8];
    struct addr_list res;
    char host[];                  /* NUL-terminated */
};

struct tse_port_conn {
    int state;
    int fd;                       /* connected socket, or -1 */
    int last_err;                 /* TSE_ERR_TRANSPORT_* of the last failed attempt */
    size_t next;                  /* next address of addrs to try */
    struct addr_list addrs;       /* resolved addresses */
    int att[TSE_POSIX_MAX_ATTEMPTS]; /* attempts in flight (-1 = free) */
    tse_time_ms next_attempt_at;  /* start the next address at this time */
    /* CONN_RESOLVING only: */
    struct resolve_req *req;      /* shared with the resolver thread */
    int rfd;                      /* read end of req's pipe, or -1 */
    tse_time_ms resolve_deadline; /* give up on the name at this time */
};

static tse_posix_socket_hook g_hook;
static void *g_hook_user;
static tse_posix_resolver g_resolver;
static void *g_resolver_user;

void tse_posix_set_resolver(tse_posix_resolver fn, void *user)
{
    g_resolver = fn;
    g_resolver_user = fn ? user : NULL;
}

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

/* RFC 8305 4: interleave the address families, starting with the family
 * of the first address the resolver returned (its preference). */
static void order_addresses(struct addr_list *out, const struct addrinfo *res)
{
    const struct addrinfo *a;
    int first = res ? res->ai_family : AF_INET6;
    size_t taken[2] = { 0, 0 };

    out->n = 0;
    while (out->n < TSE_POSIX_MAX_ADDRS) {
        int progressed = 0, fam;
        for (fam = 0; fam < 2 && out->n < TSE_POSIX_MAX_ADDRS; fam++) {
            size_t idx = 0;
            /* the taken[fam]-th usable address of this family */
            for (a = res; a; a = a->ai_next) {
                if (((a->ai_family == first) ? 0 : 1) != fam)
                    continue;
                if (a->ai_addrlen > sizeof(struct sockaddr_storage))
                    continue;
                if (idx++ == taken[fam])
                    break;
            }
            if (a) {
                memcpy(&out->addr[out->n], a->ai_addr, a->ai_addrlen);
                out->len[out->n] = (socklen_t)a->ai_addrlen;
                out->n++;
                taken[fam]++;
                progressed = 1;
            }
        }
        if (!progressed)
            break;
    }
}

static void req_release(struct resolve_req *r)
{
    int last;
    pthread_mutex_lock(&r->mu);
    last = --r->refs == 0;
    pthread_mutex_unlock(&r->mu);
    if (last) {
        pthread_mutex_destroy(&r->mu);
        free(r);
    }
}

static void resolve_hints(struct addrinfo *hints, int flags)
{
    memset(hints, 0, sizeof *hints);
    hints->ai_family = AF_UNSPEC;
    hints->ai_socktype = SOCK_STREAM;
    hints->ai_protocol = IPPROTO_TCP;
    hints->ai_flags = AI_NUMERICSERV | flags;
}

/* The resolver thread: the only place the port calls getaddrinfo() for a
 * name, so the blocking happens here and not in the driver's thread. */
static void *resolver_main(void *arg)
{
    struct resolve_req *r = arg;
    struct addrinfo hints, *res = NULL;
    struct addr_list out;
    int g;

    resolve_hints(&hints, 0);
    out.n = 0;
    g = getaddrinfo(r->host, r->port, &hints, &res);
    if (g == 0) {
        order_addresses(&out, res);
        freeaddrinfo(res);
    }
    pthread_mutex_lock(&r->mu);
    r->res = out;
    /* EAI_MEMORY included: the connect_poll() contract has transport
     * errors only, and this name could not be resolved. */
    r->rc = out.n > 0 ? TSE_OK : TSE_ERR_TRANSPORT_RESOLVE;
    r->done = 1;
    close(r->wfd); /* the connection's poll sees POLLHUP / EOF */
    r->wfd = -1;
    pthread_mutex_unlock(&r->mu);
    req_release(r);
    return NULL;
}

static int set_cloexec_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL, 0);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return -1;
    return fcntl(fd, F_SETFD, FD_CLOEXEC);
}

/* Start resolving @p host in a detached thread; c enters CONN_RESOLVING.
 * No fallback to resolving in this thread when the thread cannot be
 * created: that would bring back the stall this exists to avoid, and the
 * engine retries the connect after its back-off anyway. */
static int resolve_start(tse_port_conn *c, const char *host, const char *portstr)
{
    size_t hl = strlen(host);
    struct resolve_req *r;
    int p[2], e;
    pthread_attr_t attr;
    pthread_t th;
    sigset_t all, old;

    r = calloc(1, sizeof *r + hl + 1);
    if (!r)
        return TSE_ERR_NO_MEMORY;
    memcpy(r->host, host, hl + 1);
    memcpy(r->port, portstr, strlen(portstr) + 1);
    if (pthread_mutex_init(&r->mu, NULL) != 0) {
        free(r);
        return TSE_ERR_NO_MEMORY;
    }
    if (pipe(p) < 0) {
        e = errno;
        pthread_mutex_destroy(&r->mu);
        free(r);
        return (e == EMFILE || e == ENFILE || e == ENOMEM) ? TSE_ERR_NO_MEMORY
                                                             : tse_posix_err_from_errno(e);
    }
    (void)set_cloexec_nonblock(p[0]);
    (void)set_cloexec_nonblock(p[1]);
    r->wfd = p[1];
    r->refs = 2; /* the connection's and the thread's */
    if (pthread_attr_init(&attr) != 0)
        goto no_thread;
    (void)pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    /* The application's signals (SIGINT setting a stop flag, SIGALRM)
     * must interrupt the driver's poll(), not land in the resolver. */
    sigfillset(&all);
    (void)pthread_sigmask(SIG_SETMASK, &all, &old);
    e = pthread_create(&th, &attr, resolver_main, r);
    (void)pthread_sigmask(SIG_SETMASK, &old, NULL);
    (void)pthread_attr_destroy(&attr);
    if (e != 0)
        goto no_thread;
    c->req = r;
    c->rfd = p[0];
    c->state = CONN_RESOLVING;
    c->resolve_deadline = tse_posix_now_ms() + TSE_POSIX_RESOLVE_TIMEOUT_MS;
    return TSE_OK;

no_thread:
    close(p[0]);
    close(p[1]);
    pthread_mutex_destroy(&r->mu);
    free(r);
    return TSE_ERR_NO_MEMORY;
}

/* Leave CONN_RESOLVING: drop our side of the request. */
static void resolve_abandon(tse_port_conn *c)
{
    if (c->rfd >= 0)
        close(c->rfd);
    c->rfd = -1;
    if (c->req)
        req_release(c->req);
    c->req = NULL;
}

/* CONN_RESOLVING: TSE_OK with c->addrs filled (c is CONN_CONNECTING),
 * TSE_ERR_WOULD_BLOCK, or TSE_ERR_TRANSPORT_RESOLVE (no address, or
 * TSE_POSIX_RESOLVE_TIMEOUT_MS passed). */
static int resolve_poll(tse_port_conn *c)
{
    struct resolve_req *r = c->req;
    int done, rc = TSE_ERR_WOULD_BLOCK;

    pthread_mutex_lock(&r->mu);
    done = r->done;
    if (done) {
        rc = r->rc;
        c->addrs = r->res;
    }
    pthread_mutex_unlock(&r->mu);
    if (!done && tse_posix_now_ms() < c->resolve_deadline)
        return TSE_ERR_WOULD_BLOCK;
    resolve_abandon(c);
    if (!done)
        rc = TSE_ERR_TRANSPORT_RESOLVE; /* timed out; the thread frees r */
    if (rc == TSE_OK)
        c->state = CONN_CONNECTING;
    return rc;
}

/* The application's resolver (tse_posix_set_resolver()): > 0 addresses
 * put in c->addrs, 0 = let the port resolve, < 0 = failed. */
static int resolve_by_hook(tse_port_conn *c, const char *host, uint16_t port)
{
    struct sockaddr_storage got[TSE_POSIX_MAX_ADDRS];
    struct addrinfo ai[TSE_POSIX_MAX_ADDRS], *head = NULL, **tail = &head;
    int n = g_resolver(g_resolver_user, host, got, TSE_POSIX_MAX_ADDRS);
    size_t i;

    if (n <= 0)
        return n;
    if ((size_t)n > TSE_POSIX_MAX_ADDRS)
        n = TSE_POSIX_MAX_ADDRS;
    /* as a list for order_addresses(): the same interleaving as for
     * the system resolver's answer */
    for (i = 0; i < (size_t)n; i++) {
        struct sockaddr_storage *sa = &got[i];
        memset(&ai[i], 0, sizeof ai[i]);
        if (sa->ss_family == AF_INET) {
            ((struct sockaddr_in *)(void *)sa)->sin_port = htons(port);
            ai[i].ai_addrlen = sizeof(struct sockaddr_in);
        } else if (sa->ss_family == AF_INET6) {
            ((struct sockaddr_in6 *)(void *)sa)->sin6_port = htons(port);
            ai[i].ai_addrlen = sizeof(struct sockaddr_in6);
        } else {
            continue; /* neither IPv4 nor IPv6: skipped */
        }
        ai[i].ai_family = sa->ss_family;
        ai[i].ai_addr = (struct sockaddr *)(void *)sa;
        *tail = &ai[i];
        tail = &ai[i].ai_next;
    }
    order_addresses(&c->addrs, head);
    return c->addrs.n > 0 ? 1 : -1;
}

static int p_connect_start(void *user, const char *host, uint16_t port,
                           tse_port_conn **out)
{
    struct addrinfo hints, *res = NULL;
    char portstr[8];
    char hostbuf[256];
    tse_port_conn *c;
    size_t i, hl;
    int rc, g;

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
    snprintf(portstr, sizeof portstr, "%u", (unsigned)port);
    c = calloc(1, sizeof *c);
    if (!c)
        return TSE_ERR_NO_MEMORY;
    c->state = CONN_CONNECTING;
    c->fd = -1;
    c->rfd = -1;
    c->last_err = TSE_ERR_TRANSPORT_REFUSED;
    for (i = 0; i < TSE_POSIX_MAX_ATTEMPTS; i++)
        c->att[i] = -1;

    /* A literal address: no DNS, so getaddrinfo() returns at once. */
    resolve_hints(&hints, AI_NUMERICHOST);
    g = getaddrinfo(host, portstr, &hints, &res);
    if (g == 0) {
        order_addresses(&c->addrs, res);
        freeaddrinfo(res);
        rc = c->addrs.n > 0 ? TSE_OK : TSE_ERR_TRANSPORT_RESOLVE;
    } else if (g == EAI_MEMORY) {
        rc = TSE_ERR_NO_MEMORY;
    } else if (g_resolver && (rc = resolve_by_hook(c, host, port)) != 0) {
        rc = rc > 0 ? TSE_OK : TSE_ERR_TRANSPORT_RESOLVE;
    } else {
        rc = resolve_start(c, host, portstr);
        if (rc == TSE_OK) {
            *out = c; /* connect_poll() takes it from here */
            return TSE_OK;
        }
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
        int rc = resolve_poll(c);
        if (rc == TSE_ERR_WOULD_BLOCK)
            return rc;
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
    resolve_abandon(c);
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
        /* the resolver thread closes its end when it is done */
        if (max < 1)
            return 0;
        fds[0].fd = c->rfd;
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
        return c->resolve_deadline;
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
