/* Name resolution in the POSIX port never blocks the caller:
 *  - a literal IPv4 / IPv6 address ("127.0.0.1", "::1", "[::1]")
 *    connects with no thread and no DNS lookup;
 *  - a name goes to a resolver thread: connect_start() returns at once
 *    with the connection "resolving" (one POLLIN fd, a deadline), and
 *    connect_poll() then connects to what it resolved to, also through
 *    the driver's external-loop API (prepare / process);
 *  - the application's resolver (tse_posix_set_resolver()) is used
 *    instead of DNS when it answers: no thread, no getaddrinfo() for the
 *    name; 0 falls back to the thread, < 0 fails with RESOLVE;
 *  - a thread that cannot be created fails with TSE_ERR_NO_MEMORY and
 *    leaks no fd; close() during resolution does not wait and leaks
 *    nothing (the ASan build checks the memory).
 *
 * pthread_create() and getaddrinfo() are counted through the linker's
 * --wrap (test/CMakeLists.txt), so "no thread" and "no DNS" are measured,
 * not assumed.  A slow DNS server: test_posix_resolve_slow.c (root). */
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE 1
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "test_pki.h"
#include "tse_posix.h"
#include "sock_util.h"
#include "tt.h"

#ifdef TEST_WRAP
/* ---- counting wrappers (-Wl,--wrap=...) ---------------------------------- */
static volatile int threads_started;
static volatile int fail_thread_create;
static int name_lookups; /* getaddrinfo() without AI_NUMERICHOST */
static pthread_mutex_t count_mu = PTHREAD_MUTEX_INITIALIZER;

int __real_pthread_create(pthread_t *th, const pthread_attr_t *attr,
                          void *(*fn)(void *), void *arg);
int __wrap_pthread_create(pthread_t *th, const pthread_attr_t *attr,
                          void *(*fn)(void *), void *arg)
{
    if (fail_thread_create)
        return EAGAIN;
    threads_started++;
    return __real_pthread_create(th, attr, fn, arg);
}

int __real_getaddrinfo(const char *node, const char *service,
                       const struct addrinfo *hints, struct addrinfo **res);
int __wrap_getaddrinfo(const char *node, const char *service,
                       const struct addrinfo *hints, struct addrinfo **res)
{
    if (!hints || !(hints->ai_flags & AI_NUMERICHOST)) {
        pthread_mutex_lock(&count_mu);
        name_lookups++;
        pthread_mutex_unlock(&count_mu);
    }
    return __real_getaddrinfo(node, service, hints, res);
}

static int lookups(void)
{
    int n;
    pthread_mutex_lock(&count_mu);
    n = name_lookups;
    pthread_mutex_unlock(&count_mu);
    return n;
}

/* ---- helpers ------------------------------------------------------------- */
static const tse_port *P;



/* A listener on loopback (IPv4, or IPv6 ::1 with v6 set). */
static int listen_lo(int v6, uint16_t *port)
{
    struct sockaddr_storage ss;
    socklen_t len;
    int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    memset(&ss, 0, sizeof ss);
    if (v6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        a->sin6_addr = in6addr_loopback;
        len = sizeof *a;
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        len = sizeof *a;
    }
    if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, 8) < 0) {
        close(fd);
        return -1;
    }
    (void)getsockname(fd, (struct sockaddr *)&ss, &len);
    *port = ntohs(v6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                     : ((struct sockaddr_in *)&ss)->sin_port);
    return fd;
}

/* Drive connect_poll() as a loop would; bounded (~7 s). */
static int drive(tse_port_conn *c)
{
    int rc = TSE_ERR_WOULD_BLOCK, i;
    for (i = 0; i < 700 && rc == TSE_ERR_WOULD_BLOCK; i++) {
        struct pollfd fds[TSE_POSIX_MAX_ATTEMPTS];
        size_t n = tse_posix_conn_pollfds(c, fds, TSE_POSIX_MAX_ATTEMPTS);
        rc = P->connect_poll(P->user, c);
        if (rc == TSE_ERR_WOULD_BLOCK)
            (void)poll(fds, (nfds_t)n, 10);
    }
    return rc;
}

/* connect_start() + drive(); the port of the peer it reached, or -1. */
static int connect_to(const char *host, uint16_t port, int *rc_out)
{
    tse_port_conn *c = NULL;
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    int rc = P->connect_start(P->user, host, port, &c), got = -1;
    if (rc == TSE_OK) {
        rc = drive(c);
        if (rc == TSE_OK &&
            getpeername(tse_posix_conn_fd(c), (struct sockaddr *)&ss, &len) == 0)
            got = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                 : ((struct sockaddr_in *)&ss)->sin_port);
        P->close(P->user, c);
    }
    *rc_out = rc;
    return got;
}

/* ---- tests --------------------------------------------------------------- */

TT_TEST(literal_addresses_need_no_thread)
{
    uint16_t p4 = 0, p6 = 0;
    int l4 = listen_lo(0, &p4), l6 = listen_lo(1, &p6), rc;
    int th = threads_started, lk = lookups();
    tse_port_conn *c = NULL;
    struct pollfd fds[TSE_POSIX_MAX_ATTEMPTS];
    size_t n, i;

    TT_ASSERT(l4 >= 0);
    /* right after connect_start: connect attempts (POLLOUT), not a
     * resolver's pipe */
    TT_EQ_INT(P->connect_start(P->user, "127.0.0.1", p4, &c), TSE_OK);
    n = tse_posix_conn_pollfds(c, fds, TSE_POSIX_MAX_ATTEMPTS);
    TT_ASSERT(n >= 1);
    for (i = 0; i < n; i++)
        TT_EQ_INT(fds[i].events, POLLOUT);
    TT_EQ_INT(drive(c), TSE_OK);
    P->close(P->user, c);
    TT_EQ_INT(connect_to("127.0.0.1", p4, &rc), p4);
    if (l6 >= 0) {
        TT_EQ_INT(connect_to("::1", p6, &rc), p6);
        TT_EQ_INT(connect_to("[::1]", p6, &rc), p6);
    } else {
        fprintf(stderr, "note: no IPv6 loopback, \"::1\" not tried\n");
    }
    TT_EQ_INT(threads_started, th);
    TT_EQ_INT(lookups(), lk);
    close(l4);
    if (l6 >= 0)
        close(l6);
}

TT_TEST(name_resolves_in_a_thread)
{
    uint16_t p4 = 0;
    int l4 = listen_lo(0, &p4), th = threads_started, lk = lookups(), rc;
    tse_port_conn *c = NULL;
    struct pollfd fds[TSE_POSIX_MAX_ATTEMPTS];
    tse_time_ms t0 = tse_posix_now_ms();

    TT_ASSERT(l4 >= 0);
    TT_EQ_INT(P->connect_start(P->user, "localhost", p4, &c), TSE_OK);
    TT_EQ_INT(threads_started, th + 1);
    /* resolving: one fd to read, a deadline, no socket yet */
    TT_EQ_INT(tse_posix_conn_pollfds(c, fds, TSE_POSIX_MAX_ATTEMPTS), 1);
    TT_EQ_INT(fds[0].events, POLLIN);
    TT_EQ_INT(tse_posix_conn_pollfds(c, fds, 0), 0);
    TT_EQ_INT(tse_posix_conn_fd(c), -1);
    TT_ASSERT(tse_posix_conn_deadline(c) >= t0 + TSE_POSIX_RESOLVE_TIMEOUT_MS);
    TT_ASSERT(tse_posix_conn_deadline(c) <= tse_posix_now_ms() + TSE_POSIX_RESOLVE_TIMEOUT_MS);
    /* the fd turns ready when the thread is done */
    TT_EQ_INT(poll(fds, 1, 5000), 1);
    TT_EQ_INT(drive(c), TSE_OK); /* localhost may be ::1 first: refused, then 127.0.0.1 */
    TT_ASSERT(tse_posix_conn_fd(c) >= 0);
    P->close(P->user, c);
    TT_EQ_INT(lookups(), lk + 1);
    (void)rc;
    close(l4);
}

struct hook_rec {
    int calls;
    char host[64];
    int ret;           /* what to return when not 1 */
};

static int app_resolver(void *user, const char *host, struct sockaddr_storage *a,
                        size_t max)
{
    struct hook_rec *h = user;
    struct sockaddr_in *sin = (struct sockaddr_in *)a;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&a[1];
    h->calls++;
    snprintf(h->host, sizeof h->host, "%s", host);
    if (h->ret != 1)
        return h->ret;
    if (max < 2)
        return -1;
    /* a refusing ::1 (port 1 would be overwritten anyway) and 127.0.0.1:
     * the port is set by the library */
    memset(a, 0, 2 * sizeof *a);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_addr = in6addr_loopback;
    sin->sin_family = AF_INET;
    sin->sin_port = htons(1);
    sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return 2;
}

TT_TEST(application_resolver_is_used)
{
    uint16_t p4 = 0;
    int l4 = listen_lo(0, &p4), th, lk, rc;
    struct hook_rec h;

    TT_ASSERT(l4 >= 0);
    memset(&h, 0, sizeof h);
    h.ret = 1;
    tse_posix_set_resolver(app_resolver, &h);
    th = threads_started;
    lk = lookups();
    /* a name no DNS knows: only the hook can resolve it */
    TT_EQ_INT(connect_to("tscf.by-the-app.invalid", p4, &rc), p4);
    TT_EQ_INT(rc, TSE_OK);
    TT_EQ_INT(h.calls, 1);
    TT_ASSERT(strcmp(h.host, "tscf.by-the-app.invalid") == 0);
    TT_EQ_INT(threads_started, th); /* no thread */
    TT_EQ_INT(lookups(), lk);       /* no DNS */
    /* brackets are stripped; literals never reach the hook */
    TT_EQ_INT(connect_to("127.0.0.1", p4, &rc), p4);
    TT_EQ_INT(h.calls, 1);

    /* < 0: the name does not resolve; still no DNS */
    h.ret = -1;
    TT_EQ_INT(connect_to("tscf.by-the-app.invalid", p4, &rc), -1);
    TT_EQ_INT(rc, TSE_ERR_TRANSPORT_RESOLVE);
    TT_EQ_INT(h.calls, 2);
    TT_EQ_INT(threads_started, th);
    TT_EQ_INT(lookups(), lk);

    /* 0: the application has no answer, the port resolves */
    h.ret = 0;
    TT_EQ_INT(connect_to("localhost", p4, &rc), p4);
    TT_EQ_INT(h.calls, 3);
    TT_EQ_INT(threads_started, th + 1);
    TT_EQ_INT(lookups(), lk + 1);

    tse_posix_set_resolver(NULL, &h);
    TT_EQ_INT(connect_to("tscf.by-the-app.invalid", p4, &rc), -1);
    TT_EQ_INT(h.calls, 3);
    TT_EQ_INT(rc, TSE_ERR_TRANSPORT_RESOLVE);
    close(l4);
}

TT_TEST(thread_creation_failure)
{
    tse_port_conn *c = NULL;
    int before = tu_count_fds();
    fail_thread_create = 1;
    TT_EQ_INT(P->connect_start(P->user, "localhost", 9, &c), TSE_ERR_NO_MEMORY);
    fail_thread_create = 0;
    TT_ASSERT(c == NULL);
    TT_EQ_INT(tu_count_fds(), before); /* the pipe was closed */
}

TT_TEST(close_while_resolving)
{
    tse_port_conn *c[32];
    int before = tu_count_fds(), i, after = -1;
    tse_time_ms t0 = tse_posix_now_ms();
    for (i = 0; i < 32; i++)
        TT_EQ_INT(P->connect_start(P->user, "localhost", 9, &c[i]), TSE_OK);
    for (i = 0; i < 32; i++) {
        if (i % 2)
            (void)P->connect_poll(P->user, c[i]);
        P->close(P->user, c[i]);
    }
    TT_ASSERT(tse_posix_now_ms() - t0 < 1000);
    /* each thread closes its end of the pipe and frees the request (the
     * ASan build's leak check at exit) */
    for (i = 0; i < 100; i++) {
        after = tu_count_fds();
        if (after == before)
            break;
        tu_sleep_ms(20);
    }
    TT_EQ_INT(after, before);
    tu_sleep_ms(100);
}

/* ---- through the driver's external-loop API ------------------------------ */

static void on_event(void *user, const tse_event *ev)
{
    (void)user;
    (void)ev;
}

static void on_packet(void *user, const uint8_t *pkt, size_t len)
{
    (void)user;
    (void)pkt;
    (void)len;
}

static const tse_callbacks CB = { on_event, on_packet, tse_posix_entropy, NULL };

TT_TEST(external_loop_sees_the_resolver)
{
    const test_pki *pki = test_pki_get();
    tse_posix_driver *d = NULL;
    tse_tunnel *t = NULL;
    tse_settings s;
    uint16_t port = 0;
    int lfd = listen_lo(0, &port), cfd = -1, rounds, saw_resolving = 0;
    struct pollfd fds[TSE_POSIX_MAX_ATTEMPTS + 1];

    TT_ASSERT(lfd >= 0);
    tse_settings_default(&s);
    s.server_host = "localhost";
    s.server_port = port;
    s.sni = "tscf.test";
    s.ca = (const uint8_t *)pki->ca_pem;
    s.ca_len = test_pki_len(pki->ca_pem);
    s.auto_reconnect = 0;
    TT_EQ_INT(tse_posix_driver_new(&d), TSE_OK);
    TT_EQ_INT(tse_tunnel_new(&t, &s, &CB, tse_posix_mem(), NULL), TSE_OK);
    TT_EQ_INT(tse_posix_driver_add(d, t), TSE_OK);
    TT_EQ_INT(tse_posix_driver_pollfd_max(d), TSE_POSIX_MAX_ATTEMPTS);
    TT_EQ_INT(tse_tunnel_start(t, tse_posix_now_ms()), TSE_OK);
    for (rounds = 0; rounds < 500 && cfd < 0; rounds++) {
        size_t n = 0;
        int to = -1;
        struct pollfd lp;
        TT_EQ_INT(tse_posix_driver_prepare(d, fds, tse_posix_driver_pollfd_max(d), &n, &to),
                  TSE_OK);
        TT_ASSERT(n <= tse_posix_driver_pollfd_max(d));
        if (rounds == 0) {
            /* the first round started the resolution: one fd to read, and
             * a timeout no later than the resolution's */
            TT_EQ_INT(n, 1);
            TT_EQ_INT(fds[0].events, POLLIN);
            TT_ASSERT(to >= 0 && to <= TSE_POSIX_RESOLVE_TIMEOUT_MS + 50);
            saw_resolving = 1;
        }
        fds[n].fd = lfd;
        fds[n].events = POLLIN;
        fds[n].revents = 0;
        (void)poll(fds, (nfds_t)n + 1, to < 0 || to > 20 ? 20 : to);
        lp = fds[n];
        TT_EQ_INT(tse_posix_driver_process(d, fds, n), TSE_OK);
        if (lp.revents & POLLIN)
            cfd = accept(lfd, NULL, NULL);
    }
    TT_ASSERT(saw_resolving);
    TT_ASSERT(cfd >= 0); /* the connect reached the resolved address */
    (void)tse_posix_driver_remove(d, t);
    tse_tunnel_del(t);
    tse_posix_driver_del(d);
    close(cfd);
    close(lfd);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    P = tse_posix_port();
    TT_RUN(literal_addresses_need_no_thread);
    TT_RUN(name_resolves_in_a_thread);
    TT_RUN(application_resolver_is_used);
    TT_RUN(thread_creation_failure);
    TT_RUN(close_while_resolving);
    TT_RUN(external_loop_sees_the_resolver);
    return TT_DONE();
}
#else
int main(void)
{
    printf("SKIP: needs the linker's --wrap (Linux) to count threads and lookups\n");
    return 77;
}
#endif
