/* The POSIX poll driver running real tunnels against loopback peers the
 * test plays itself (refusing, black-holing, silent, closing).  The full
 * happy path against tscf-server is examples/cli/test_cli_e2e.sh.
 * Every loop is bounded; waits are poll() inside the driver. */
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE 1
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/socket.h>
#include <unistd.h>

#include "test_pki.h"
#include "tse_posix.h"
#include "sock_util.h"
#include "tt.h"

/* ---- helpers ----------------------------------------------------------- */



struct rec {
    int downs, ups, closed_events;
    int last_error;
    int states[32];
    int nstates;
};

static void on_event(void *user, const tse_event *ev)
{
    struct rec *r = user;
    if (ev->type == TSE_EV_STATE) {
        if (r->nstates < 32)
            r->states[r->nstates++] = ev->state;
        if (ev->state == TSE_STATE_CLOSED)
            r->closed_events++;
    } else if (ev->type == TSE_EV_TUNNEL_DOWN) {
        r->downs++;
        r->last_error = ev->error;
    } else if (ev->type == TSE_EV_TUNNEL_UP) {
        r->ups++;
    }
}

static void on_packet(void *user, const uint8_t *pkt, size_t len)
{
    (void)user;
    (void)pkt;
    (void)len;
}

static const tse_callbacks CB = { on_event, on_packet, tse_posix_entropy, NULL };

static void settings(tse_settings *s, uint16_t port)
{
    const test_pki *pki = test_pki_get();
    tse_settings_default(s);
    s->server_host = "127.0.0.1";
    s->server_port = port;
    s->sni = "tscf.test";
    s->ca = (const uint8_t *)pki->ca_pem;
    s->ca_len = test_pki_len(pki->ca_pem);
    s->auto_reconnect = 0;
    s->connect_timeout_ms = 300;
    s->tls_timeout_ms = 300;
}

/* run_once until every tunnel is CLOSED, at most max_ms of wall time. */
static int run_until_closed(tse_posix_driver *d, tse_tunnel **t, int n, int max_ms)
{
    tse_time_ms end = tse_posix_now_ms() + (tse_time_ms)max_ms;
    int i, rounds;
    for (rounds = 0; rounds < 100000 && tse_posix_now_ms() < end; rounds++) {
        int open = 0;
        for (i = 0; i < n; i++)
            if (tse_tunnel_state(t[i]) != TSE_STATE_CLOSED)
                open++;
        if (open == 0)
            return 1;
        if (tse_posix_driver_run_once(d, 50) != TSE_OK)
            return 0;
    }
    return 0;
}

/* ---- tests --------------------------------------------------------------- */

TT_TEST(args)
{
    tse_posix_driver *d = NULL;
    tse_tunnel *t = NULL;
    tse_settings s;
    struct rec r;
    memset(&r, 0, sizeof r);
    TT_EQ_INT(tse_posix_driver_new(NULL), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_posix_driver_new(&d), TSE_OK);
    settings(&s, 9);
    TT_EQ_INT(tse_tunnel_new(&t, &s, &CB, tse_posix_mem(), &r), TSE_OK);
    TT_EQ_INT(tse_posix_driver_add(d, NULL), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_posix_driver_add(NULL, t), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_posix_driver_add(d, t), TSE_OK);
    TT_EQ_INT(tse_posix_driver_add(d, t), TSE_ERR_INVALID_ARG); /* twice */
    TT_EQ_INT(tse_posix_driver_count(d), 1);
    TT_EQ_INT(tse_posix_driver_remove(d, t), TSE_OK);
    TT_EQ_INT(tse_posix_driver_remove(d, t), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_posix_driver_count(d), 0);
    TT_EQ_INT(tse_posix_driver_watch_fd(d, -1, POLLIN, NULL, NULL), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_posix_driver_unwatch_fd(d, 0), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_posix_driver_run_once(NULL, 0), TSE_ERR_INVALID_ARG);
    /* no tunnels: run() returns at once */
    TT_EQ_INT(tse_posix_driver_run(d, NULL), TSE_OK);
    tse_tunnel_del(t);
    tse_posix_driver_del(d);
    tse_posix_driver_del(NULL);
}

TT_TEST(refused_many_tunnels)
{
    enum { N = 50 };
    tse_posix_driver *d = NULL;
    tse_tunnel *t[N];
    struct rec r[N];
    tse_settings s;
    uint16_t port = 0;
    int lfd = tu_listen4(&port, 1), i, fds0;
    TT_ASSERT(lfd >= 0);
    close(lfd); /* refused from now on */
    memset(r, 0, sizeof r);
    settings(&s, port);
    TT_EQ_INT(tse_posix_driver_new(&d), TSE_OK);
    fds0 = tu_count_fds(); /* the driver's own wake-up pipe is open */
    for (i = 0; i < N; i++) {
        TT_EQ_INT(tse_tunnel_new(&t[i], &s, &CB, tse_posix_mem(), &r[i]), TSE_OK);
        TT_EQ_INT(tse_posix_driver_add(d, t[i]), TSE_OK);
        TT_EQ_INT(tse_tunnel_start(t[i], tse_posix_now_ms()), TSE_OK);
    }
    TT_ASSERT(run_until_closed(d, t, N, 5000));
    for (i = 0; i < N; i++) {
        TT_EQ_INT(r[i].downs, 1);
        TT_EQ_INT(r[i].last_error, TSE_ERR_TRANSPORT_REFUSED);
        TT_EQ_INT(tse_tunnel_last_error(t[i]), TSE_ERR_TRANSPORT_REFUSED);
    }
    TT_EQ_INT(tu_count_fds(), fds0); /* every socket closed */
    for (i = 0; i < N; i++) {
        TT_EQ_INT(tse_posix_driver_remove(d, t[i]), TSE_OK);
        tse_tunnel_del(t[i]);
    }
    tse_posix_driver_del(d);
}

TT_TEST(connect_timeout_disconnects_pending_connect)
{
    /* accept queue full: our SYN is dropped, the connect stays pending
     * until the ENGINE's connect_timeout_ms; the driver must then close
     * the half-open socket when the engine wants DISCONNECT. */
    tse_posix_driver *d = NULL;
    tse_tunnel *t = NULL;
    struct rec r;
    tse_settings s;
    uint16_t port = 0;
    int lfd = tu_listen4(&port, 0), filler, fds0;
    struct sockaddr_in a;
    tse_time_ms t0, el;
    TT_ASSERT(lfd >= 0);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    filler = socket(AF_INET, SOCK_STREAM, 0);
    TT_EQ_INT(connect(filler, (struct sockaddr *)&a, sizeof a), 0);
    memset(&r, 0, sizeof r);
    settings(&s, port);
    TT_EQ_INT(tse_posix_driver_new(&d), TSE_OK);
    fds0 = tu_count_fds(); /* the driver's own wake-up pipe is open */
    TT_EQ_INT(tse_tunnel_new(&t, &s, &CB, tse_posix_mem(), &r), TSE_OK);
    TT_EQ_INT(tse_posix_driver_add(d, t), TSE_OK);
    t0 = tse_posix_now_ms();
    TT_EQ_INT(tse_tunnel_start(t, t0), TSE_OK);
    TT_ASSERT(run_until_closed(d, &t, 1, 5000));
    el = tse_posix_now_ms() - t0;
    if (r.last_error == TSE_ERR_TRANSPORT_TIMEOUT) {
        TT_ASSERT(el >= 290);   /* not before the engine's timeout... */
        TT_ASSERT(el < 2000);   /* ...and not much after */
    } else {
        fprintf(stderr, "note: this kernel answered the queued SYN (%s)\n",
                tse_strerror(r.last_error));
    }
    TT_EQ_INT(tu_count_fds(), fds0);
    tse_posix_driver_remove(d, t);
    tse_tunnel_del(t);
    tse_posix_driver_del(d);
    close(filler);
    close(lfd);
}

/* A peer that accepts, records what it reads, and then either stays
 * silent or closes; run through the driver's watch_fd hook. */
struct peer {
    int lfd, cfd;
    uint8_t first[8];
    size_t got;
    int eof;            /* saw the driver close the connection */
    int close_after_read;
    int ticks;
};

static void peer_conn_cb(void *user, int fd, short re);

static tse_posix_driver *g_drv;

static void peer_listen_cb(void *user, int fd, short re)
{
    struct peer *p = user;
    (void)re;
    p->cfd = accept(fd, NULL, NULL);
    if (p->cfd >= 0)
        tse_posix_driver_watch_fd(g_drv, p->cfd, POLLIN, peer_conn_cb, p);
}

static void peer_conn_cb(void *user, int fd, short re)
{
    struct peer *p = user;
    uint8_t buf[4096];
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    (void)re;
    if (n > 0) {
        size_t k;
        for (k = 0; k < (size_t)n && p->got < sizeof p->first; k++)
            p->first[p->got++] = buf[k];
        if (p->close_after_read) {
            tse_posix_driver_unwatch_fd(g_drv, fd);
            close(fd);
            p->cfd = -1;
        }
    } else {
        p->eof = 1;
        tse_posix_driver_unwatch_fd(g_drv, fd);
        close(fd);
        p->cfd = -1;
    }
}

static tse_time_ms tick(void *user, tse_time_ms now)
{
    struct peer *p = user;
    p->ticks++;
    return now + 1000;
}

static void run_against_peer(int close_after_read, int expect_err)
{
    tse_posix_driver *d = NULL;
    tse_tunnel *t = NULL;
    struct rec r;
    struct peer p;
    tse_settings s;
    uint16_t port = 0;
    int i, fds0;

    memset(&p, 0, sizeof p);
    p.cfd = -1;
    p.close_after_read = close_after_read;
    p.lfd = tu_listen4(&port, 4);
    TT_ASSERT(p.lfd >= 0);
    memset(&r, 0, sizeof r);
    settings(&s, port);
    TT_EQ_INT(tse_posix_driver_new(&d), TSE_OK);
    fds0 = tu_count_fds(); /* the driver's own wake-up pipe is open */
    g_drv = d;
    TT_EQ_INT(tse_posix_driver_watch_fd(d, p.lfd, POLLIN, peer_listen_cb, &p), TSE_OK);
    tse_posix_driver_set_tick(d, tick, &p);
    TT_EQ_INT(tse_tunnel_new(&t, &s, &CB, tse_posix_mem(), &r), TSE_OK);
    TT_EQ_INT(tse_posix_driver_add(d, t), TSE_OK);
    TT_EQ_INT(tse_tunnel_start(t, tse_posix_now_ms()), TSE_OK);
    TT_ASSERT(run_until_closed(d, &t, 1, 5000));
    /* a few more rounds so the peer notices the close */
    for (i = 0; i < 20 && p.cfd >= 0 && !p.eof; i++)
        tse_posix_driver_run_once(d, 50);

    /* the driver sent the engine's ClientHello: a TLS handshake record */
    TT_ASSERT(p.got >= 3);
    TT_EQ_INT(p.first[0], 0x16);
    TT_EQ_INT(p.first[1], 0x03);
    TT_EQ_INT(r.last_error, expect_err);
    TT_EQ_INT(r.downs, 1);
    TT_ASSERT(p.ticks > 0);
    if (!close_after_read)
        TT_EQ_INT(p.eof, 1); /* DISCONNECT on a connected socket closed it */
    tse_posix_driver_remove(d, t);
    tse_tunnel_del(t);
    tse_posix_driver_unwatch_fd(d, p.lfd);
    tse_posix_driver_del(d);
    close(p.lfd);
    if (p.cfd >= 0)
        close(p.cfd);
    TT_EQ_INT(tu_count_fds(), fds0 - 3); /* the listener and the driver's pipe are closed too */
}

TT_TEST(silent_peer_tls_timeout)
{
    run_against_peer(0, TSE_ERR_TLS_TIMEOUT);
}

TT_TEST(peer_closes_during_tls)
{
    run_against_peer(1, TSE_ERR_TRANSPORT_CLOSED);
}

TT_TEST(close_while_connecting)
{
    tse_posix_driver *d = NULL;
    tse_tunnel *t = NULL;
    struct rec r;
    tse_settings s;
    uint16_t port = 0;
    int lfd = tu_listen4(&port, 0), filler, fds0, i;
    struct sockaddr_in a;
    TT_ASSERT(lfd >= 0);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    filler = socket(AF_INET, SOCK_STREAM, 0);
    TT_EQ_INT(connect(filler, (struct sockaddr *)&a, sizeof a), 0);
    memset(&r, 0, sizeof r);
    settings(&s, port);
    s.connect_timeout_ms = 10000;
    TT_EQ_INT(tse_posix_driver_new(&d), TSE_OK);
    fds0 = tu_count_fds(); /* the driver's own wake-up pipe is open */
    TT_EQ_INT(tse_tunnel_new(&t, &s, &CB, tse_posix_mem(), &r), TSE_OK);
    TT_EQ_INT(tse_posix_driver_add(d, t), TSE_OK);
    TT_EQ_INT(tse_tunnel_start(t, tse_posix_now_ms()), TSE_OK);
    for (i = 0; i < 3; i++)
        TT_EQ_INT(tse_posix_driver_run_once(d, 10), TSE_OK);
    TT_EQ_INT(tse_tunnel_state(t), TSE_STATE_CONNECTING);
    TT_EQ_INT(tse_tunnel_close(t, tse_posix_now_ms()), TSE_OK);
    TT_ASSERT(run_until_closed(d, &t, 1, 2000));
    TT_EQ_INT(tse_posix_driver_run_once(d, 0), TSE_OK);
    TT_EQ_INT(tu_count_fds(), fds0);
    tse_posix_driver_remove(d, t);
    tse_tunnel_del(t);
    tse_posix_driver_del(d);
    close(filler);
    close(lfd);
}

TT_TEST(external_loop_api)
{
    /* prepare / poll / process, as an application with its own loop */
    tse_posix_driver *d = NULL;
    tse_tunnel *t = NULL;
    struct rec r;
    tse_settings s;
    struct pollfd fds[TSE_POSIX_MAX_ATTEMPTS];
    uint16_t port = 0;
    int lfd = tu_listen4(&port, 1), rounds, timeout = 0;
    size_t n = 0;
    TT_ASSERT(lfd >= 0);
    close(lfd);
    memset(&r, 0, sizeof r);
    settings(&s, port);
    TT_EQ_INT(tse_posix_driver_new(&d), TSE_OK);
    TT_EQ_INT(tse_tunnel_new(&t, &s, &CB, tse_posix_mem(), &r), TSE_OK);
    TT_EQ_INT(tse_posix_driver_add(d, t), TSE_OK);
    TT_EQ_INT(tse_posix_driver_pollfd_max(d), TSE_POSIX_MAX_ATTEMPTS);
    TT_EQ_INT(tse_tunnel_start(t, tse_posix_now_ms()), TSE_OK);
    TT_EQ_INT(tse_posix_driver_prepare(d, fds, 0, &n, &timeout), TSE_ERR_BUFFER_TOO_SMALL);
    for (rounds = 0; rounds < 200 && tse_tunnel_state(t) != TSE_STATE_CLOSED; rounds++) {
        TT_EQ_INT(tse_posix_driver_prepare(d, fds, TSE_POSIX_MAX_ATTEMPTS, &n, &timeout), TSE_OK);
        if (tse_tunnel_state(t) == TSE_STATE_CLOSED)
            break;
        (void)poll(fds, (nfds_t)n, timeout < 0 || timeout > 50 ? 50 : timeout);
        TT_EQ_INT(tse_posix_driver_process(d, fds, n), TSE_OK);
    }
    TT_EQ_INT(tse_tunnel_state(t), TSE_STATE_CLOSED);
    TT_EQ_INT(r.last_error, TSE_ERR_TRANSPORT_REFUSED);
    /* process() with more entries than prepare() gave is refused */
    TT_EQ_INT(tse_posix_driver_process(d, fds, 3), TSE_ERR_INVALID_ARG);
    tse_posix_driver_remove(d, t);
    tse_tunnel_del(t);
    tse_posix_driver_del(d);
}

static volatile sig_atomic_t g_stop;

TT_TEST(run_returns_on_stop_and_on_closed)
{
    tse_posix_driver *d = NULL;
    tse_tunnel *t = NULL;
    struct rec r;
    tse_settings s;
    uint16_t port = 0;
    int lfd = tu_listen4(&port, 1);
    TT_ASSERT(lfd >= 0);
    close(lfd);
    memset(&r, 0, sizeof r);
    settings(&s, port);
    TT_EQ_INT(tse_posix_driver_new(&d), TSE_OK);
    TT_EQ_INT(tse_tunnel_new(&t, &s, &CB, tse_posix_mem(), &r), TSE_OK);
    TT_EQ_INT(tse_posix_driver_add(d, t), TSE_OK);
    g_stop = 1;
    TT_EQ_INT(tse_posix_driver_run(d, &g_stop), TSE_OK);  /* at once */
    TT_EQ_INT(tse_tunnel_state(t), TSE_STATE_IDLE);
    g_stop = 0;
    TT_EQ_INT(tse_tunnel_start(t, tse_posix_now_ms()), TSE_OK);
    /* returns by itself once the (refused) tunnel is CLOSED */
    TT_EQ_INT(tse_posix_driver_run(d, &g_stop), TSE_OK);
    TT_EQ_INT(tse_tunnel_state(t), TSE_STATE_CLOSED);
    tse_posix_driver_remove(d, t);
    tse_tunnel_del(t);
    tse_posix_driver_del(d);
}

/* Idle cost (issue 13): with nothing due, run() sleeps until woken; a
 * signal handler sets the stop flag and wakes it. */
static tse_posix_driver *g_idle;

static void on_alarm(int sig)
{
    (void)sig;
    g_stop = 1;
    (void)tse_posix_driver_wake(g_idle);
}

TT_TEST(idle_driver_does_not_poll_periodically)
{
    tse_tunnel *t = NULL;
    struct rec r;
    tse_settings s;
    struct sigaction sa;
    struct itimerval it;
    tse_time_ms t0;
    memset(&r, 0, sizeof r);
    settings(&s, 9);
    TT_EQ_INT(tse_posix_driver_new(&g_idle), TSE_OK);
    TT_EQ_INT(tse_tunnel_new(&t, &s, &CB, tse_posix_mem(), &r), TSE_OK);
    TT_EQ_INT(tse_posix_driver_add(g_idle, t), TSE_OK); /* IDLE: nothing due */
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    TT_EQ_INT(sigaction(SIGALRM, &sa, NULL), 0);
    memset(&it, 0, sizeof it);
    it.it_value.tv_sec = 2;
    it.it_value.tv_usec = 200000;
    g_stop = 0;
    t0 = tse_posix_now_ms();
    TT_EQ_INT(setitimer(ITIMER_REAL, &it, NULL), 0);
    TT_EQ_INT(tse_posix_driver_run(g_idle, &g_stop), TSE_OK);
    printf("idle driver: %llu poll wake-ups in %llu ms\n",
           (unsigned long long)tse_posix_driver_polls(g_idle),
           (unsigned long long)(tse_posix_now_ms() - t0));
    TT_ASSERT(tse_posix_now_ms() - t0 >= 2000);
    TT_ASSERT(tse_posix_driver_polls(g_idle) <= 2);
    /* the handler's wake-up was served by the interrupted poll: the next
     * round sleeps (it used to return at once: two wake-ups per signal) */
    t0 = tse_posix_now_ms();
    TT_EQ_INT(tse_posix_driver_run_once(g_idle, 300), TSE_OK);
    TT_ASSERT(tse_posix_now_ms() - t0 >= 250);
    /* a wake-up from outside makes run_once return at once */
    TT_EQ_INT(tse_posix_driver_wake(g_idle), TSE_OK);
    t0 = tse_posix_now_ms();
    TT_EQ_INT(tse_posix_driver_run_once(g_idle, 5000), TSE_OK);
    TT_ASSERT(tse_posix_now_ms() - t0 < 1000);
    TT_EQ_INT(tse_posix_driver_wake(NULL), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_posix_driver_polls(NULL), 0);
    tse_posix_driver_remove(g_idle, t);
    tse_tunnel_del(t);
    tse_posix_driver_del(g_idle);
    g_idle = NULL;
}

int main(void)
{
    TT_RUN(args);
    TT_RUN(refused_many_tunnels);
    TT_RUN(connect_timeout_disconnects_pending_connect);
    TT_RUN(silent_peer_tls_timeout);
    TT_RUN(peer_closes_during_tls);
    TT_RUN(close_while_connecting);
    TT_RUN(external_loop_api);
    TT_RUN(run_returns_on_stop_and_on_closed);
    TT_RUN(idle_driver_does_not_poll_periodically);
    return TT_DONE();
}
