/* Name resolution that never blocks the caller (posix_resolve.h). */
#include "posix_feature.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "posix_resolve.h"

#if TSE_POSIX_RESOLVE_TIMEOUT_MS < 1
#error "TSE_POSIX_RESOLVE_TIMEOUT_MS must be at least 1"
#endif
#if TSE_POSIX_RESOLVE_THREADS_MAX < 1
#error "TSE_POSIX_RESOLVE_THREADS_MAX must be at least 1"
#endif

static tse_posix_resolver g_resolver;
static void *g_resolver_user;
static pthread_mutex_t g_threads_mu = PTHREAD_MUTEX_INITIALIZER;
static unsigned g_threads; /* resolver threads running, under g_threads_mu */

void tse_posix_set_resolver(tse_posix_resolver fn, void *user)
{
    g_resolver = fn;
    g_resolver_user = fn ? user : NULL;
}

unsigned posix_lookup_threads(void)
{
    unsigned n;
    pthread_mutex_lock(&g_threads_mu);
    n = g_threads;
    pthread_mutex_unlock(&g_threads_mu);
    return n;
}

/* One name being resolved by a detached thread.  getaddrinfo() cannot be
 * cancelled, so the request is shared: the lookup and the thread each
 * hold a reference and whoever drops the last one frees it.  A lookup
 * abandoned (or timed out) while the thread still runs just drops its
 * reference; the thread finishes into memory nobody reads and frees it.
 * The thread says "done" by closing the write end of a pipe (the read end
 * polls readable/HUP): it never writes, so a read end already closed by
 * an abandoning lookup cannot raise SIGPIPE. */
struct posix_resolve_req {
    pthread_mutex_t mu;
    int refs;                     /* under mu */
    int done;                     /* under mu: rc and res are final */
    int rc;                       /* TSE_OK or TSE_ERR_TRANSPORT_RESOLVE */
    int wfd;                      /* the thread's end of the pipe */
    char port[8];
    posix_addrs res;
    char host[];                  /* NUL-terminated */
};

/* RFC 8305 4: interleave the address families, starting with the family
 * of the first address the resolver returned (its preference). */
static void order_addresses(posix_addrs *out, const struct addrinfo *res)
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

static void resolve_hints(struct addrinfo *hints, int flags)
{
    memset(hints, 0, sizeof *hints);
    hints->ai_family = AF_UNSPEC;
    hints->ai_socktype = SOCK_STREAM; /* one answer per address */
    hints->ai_protocol = IPPROTO_TCP;
    hints->ai_flags = AI_NUMERICSERV | flags;
}

static void req_release(struct posix_resolve_req *r)
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

/* The resolver thread: the only place the port calls getaddrinfo() for a
 * name, so the blocking happens here and not in the driver's thread. */
static void *resolver_main(void *arg)
{
    struct posix_resolve_req *r = arg;
    struct addrinfo hints, *res = NULL;
    posix_addrs out;
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
    /* EAI_MEMORY included: callers report transport errors only, and this
     * name could not be resolved. */
    r->rc = out.n > 0 ? TSE_OK : TSE_ERR_TRANSPORT_RESOLVE;
    r->done = 1;
    close(r->wfd); /* the lookup's poll sees POLLHUP / EOF */
    r->wfd = -1;
    pthread_mutex_unlock(&r->mu);
    req_release(r);
    pthread_mutex_lock(&g_threads_mu);
    g_threads--;
    pthread_mutex_unlock(&g_threads_mu);
    return NULL;
}

static int set_cloexec_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL, 0);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return -1;
    return fcntl(fd, F_SETFD, FD_CLOEXEC);
}

/* Start the thread.  No fallback to resolving in the caller's thread when
 * the thread cannot be created (or too many run): that would bring back
 * the stall this exists to avoid; the engine retries after its back-off. */
static int thread_start(posix_lookup *lk, const char *host, const char *portstr)
{
    size_t hl = strlen(host);
    struct posix_resolve_req *r;
    int p[2], e;
    pthread_attr_t attr;
    pthread_t th;
    sigset_t all, old;

    pthread_mutex_lock(&g_threads_mu);
    if (g_threads >= TSE_POSIX_RESOLVE_THREADS_MAX) {
        pthread_mutex_unlock(&g_threads_mu);
        return TSE_ERR_TRANSPORT_RESOLVE; /* a DNS that hangs must not pile up threads */
    }
    g_threads++;
    pthread_mutex_unlock(&g_threads_mu);

    r = calloc(1, sizeof *r + hl + 1);
    if (!r)
        goto no_req;
    memcpy(r->host, host, hl + 1);
    memcpy(r->port, portstr, strlen(portstr) + 1);
    if (pthread_mutex_init(&r->mu, NULL) != 0) {
        free(r);
        goto no_req;
    }
    if (pipe(p) < 0) {
        e = errno;
        pthread_mutex_destroy(&r->mu);
        free(r);
        pthread_mutex_lock(&g_threads_mu);
        g_threads--;
        pthread_mutex_unlock(&g_threads_mu);
        return (e == EMFILE || e == ENFILE || e == ENOMEM) ? TSE_ERR_NO_MEMORY
                                                             : tse_posix_err_from_errno(e);
    }
    (void)set_cloexec_nonblock(p[0]);
    (void)set_cloexec_nonblock(p[1]);
    r->wfd = p[1];
    r->refs = 2; /* the lookup's and the thread's */
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
    lk->req = r;
    lk->fd = p[0];
    lk->deadline = tse_posix_now_ms() + TSE_POSIX_RESOLVE_TIMEOUT_MS;
    return TSE_ERR_WOULD_BLOCK;

no_thread:
    close(p[0]);
    close(p[1]);
    pthread_mutex_destroy(&r->mu);
    free(r);
no_req:
    pthread_mutex_lock(&g_threads_mu);
    g_threads--;
    pthread_mutex_unlock(&g_threads_mu);
    return TSE_ERR_NO_MEMORY;
}

/* The application's resolver (tse_posix_set_resolver()): > 0 addresses
 * put in out, 0 = let the port resolve, < 0 = failed. */
static int resolve_by_hook(const char *host, uint16_t port, posix_addrs *out)
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
    order_addresses(out, head);
    return out->n > 0 ? 1 : -1;
}

int posix_lookup_start(posix_lookup *lk, const char *host, uint16_t port, posix_addrs *out)
{
    struct addrinfo hints, *res = NULL;
    char portstr[8];
    int g, rc;

    lk->req = NULL;
    lk->fd = -1;
    out->n = 0;
    snprintf(portstr, sizeof portstr, "%u", (unsigned)port);
    /* A literal address: no DNS, so getaddrinfo() returns at once. */
    resolve_hints(&hints, AI_NUMERICHOST);
    g = getaddrinfo(host, portstr, &hints, &res);
    if (g == 0) {
        order_addresses(out, res);
        freeaddrinfo(res);
        return out->n > 0 ? TSE_OK : TSE_ERR_TRANSPORT_RESOLVE;
    }
    if (g == EAI_MEMORY)
        return TSE_ERR_NO_MEMORY;
    if (g_resolver && (rc = resolve_by_hook(host, port, out)) != 0)
        return rc > 0 ? TSE_OK : TSE_ERR_TRANSPORT_RESOLVE;
    return thread_start(lk, host, portstr);
}

void posix_lookup_abandon(posix_lookup *lk)
{
    if (lk->fd >= 0)
        close(lk->fd);
    lk->fd = -1;
    if (lk->req)
        req_release(lk->req);
    lk->req = NULL;
}

int posix_lookup_poll(posix_lookup *lk, posix_addrs *out)
{
    struct posix_resolve_req *r = lk->req;
    int done, rc = TSE_ERR_WOULD_BLOCK;

    if (r == NULL)
        return TSE_ERR_TRANSPORT_RESOLVE;
    pthread_mutex_lock(&r->mu);
    done = r->done;
    if (done) {
        rc = r->rc;
        *out = r->res;
    }
    pthread_mutex_unlock(&r->mu);
    if (!done && tse_posix_now_ms() < lk->deadline)
        return TSE_ERR_WOULD_BLOCK;
    posix_lookup_abandon(lk);
    return done ? rc : TSE_ERR_TRANSPORT_RESOLVE; /* timed out: the thread frees r */
}
