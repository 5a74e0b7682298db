/* The POSIX port's resolver thread against a slow DNS server: while a
 * name takes 1.5 s to resolve, the driver keeps running (its tick and a
 * watched fd run many times, no round stalls), and the tunnel's connect
 * then goes to the resolved address; a server that never answers fails
 * the connect with TSE_ERR_TRANSPORT_RESOLVE after
 * TSE_POSIX_RESOLVE_TIMEOUT_MS; closing during resolution neither blocks
 * nor leaks (run it in the ASan build).
 *
 * Needs the namespace test/unit/posix_resolve_netns.sh sets up (root):
 * "slow.*" answers after 1.5 s, "never.*" never.  Without
 * TSE_RESOLVE_NETNS=1 in the environment it exits 77 (skipped). */
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE 1
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "test_pki.h"
#include "tse_detect_posix.h"
#include "tse_posix.h"
#include "tt.h"

#define SLOW_MS 1500 /* the responder's delay */

static const tse_port *P;

static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    int n = 0;
    if (!d)
        return -1;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

static void sleep_ms(long ms)
{
    struct timespec ts;
    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (ms % 1000) * 1000000L;
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
}

static int listen4(uint16_t *port)
{
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(fd, 4) < 0) {
        close(fd);
        return -1;
    }
    getsockname(fd, (struct sockaddr *)&a, &len);
    *port = ntohs(a.sin_port);
    return fd;
}

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

static void settings(tse_settings *s, const char *host, uint16_t port)
{
    const test_pki *pki = test_pki_get();
    tse_settings_default(s);
    s->server_host = host;
    s->server_port = port;
    s->sni = "tscf.test";
    s->ca = (const uint8_t *)pki->ca_pem;
    s->ca_len = test_pki_len(pki->ca_pem);
    s->auto_reconnect = 0;
    s->connect_timeout_ms = 10000; /* the resolution counts towards it */
    s->tls_timeout_ms = 10000;
}

/* ---- the driver keeps running while the name resolves ------------------- */

struct loop_rec {
    int sv[2];              /* tick writes sv[1], the watched fd is sv[0] */
    int lfd, cfd;           /* the listener standing for the TSCF, accepted */
    long ticks, fd_cbs;     /* before the connect arrived */
    tse_time_ms last_tick, max_gap, accepted_at, next_write;
};

static tse_time_ms tick(void *user, tse_time_ms now)
{
    struct loop_rec *r = user;
    static const char one = 1;
    if (r->cfd < 0) {
        if (r->last_tick && now - r->last_tick > r->max_gap)
            r->max_gap = now - r->last_tick;
        r->last_tick = now;
        r->ticks++;
        if (now >= r->next_write) {
            /* the watched fd gets a byte every 10 ms */
            (void)write(r->sv[1], &one, 1);
            r->next_write = now + 10;
        }
    }
    return r->next_write;
}

static void on_watched(void *user, int fd, short re)
{
    struct loop_rec *r = user;
    char buf[64];
    (void)re;
    (void)read(fd, buf, sizeof buf); /* poll said readable: does not block */
    if (r->cfd < 0)
        r->fd_cbs++;
}

static void on_listener(void *user, int fd, short re)
{
    struct loop_rec *r = user;
    (void)re;
    if (r->cfd < 0) {
        r->cfd = accept(fd, NULL, NULL);
        r->accepted_at = tse_posix_now_ms();
    }
}

TT_TEST(loop_runs_while_the_name_resolves)
{
    struct loop_rec r;
    tse_posix_driver *d = NULL;
    tse_tunnel *t = NULL;
    tse_settings s;
    uint16_t port = 0;
    tse_time_ms t0, end;
    int rounds;

    memset(&r, 0, sizeof r);
    r.cfd = -1;
    r.lfd = listen4(&port);
    TT_ASSERT(r.lfd >= 0);
    TT_EQ_INT(socketpair(AF_UNIX, SOCK_STREAM, 0, r.sv), 0);
    TT_EQ_INT(tse_posix_driver_new(&d), TSE_OK);
    settings(&s, "slow.test", port);
    TT_EQ_INT(tse_tunnel_new(&t, &s, &CB, tse_posix_mem(), NULL), TSE_OK);
    TT_EQ_INT(tse_posix_driver_add(d, t), TSE_OK);
    TT_EQ_INT(tse_posix_driver_watch_fd(d, r.sv[0], POLLIN, on_watched, &r), TSE_OK);
    TT_EQ_INT(tse_posix_driver_watch_fd(d, r.lfd, POLLIN, on_listener, &r), TSE_OK);
    tse_posix_driver_set_tick(d, tick, &r);
    t0 = tse_posix_now_ms();
    TT_EQ_INT(tse_tunnel_start(t, t0), TSE_OK);
    end = t0 + SLOW_MS + 4000;
    for (rounds = 0; rounds < 100000 && r.cfd < 0 && tse_posix_now_ms() < end; rounds++)
        TT_EQ_INT(tse_posix_driver_run_once(d, 100), TSE_OK);
    printf("slow name: connect reached the resolved address after %lld ms; "
           "meanwhile %ld ticks, %ld watched-fd callbacks, %d rounds, "
           "longest gap between ticks %lld ms\n",
           (long long)(r.accepted_at - t0), r.ticks, r.fd_cbs, rounds,
           (long long)r.max_gap);
    TT_ASSERT(r.cfd >= 0); /* the connect went to 127.0.0.1:port */
    /* it did wait for the slow answer ... */
    TT_ASSERT(r.accepted_at - t0 >= SLOW_MS - 100);
    TT_ASSERT(r.accepted_at - t0 < SLOW_MS + 2000);
    /* ... and the loop ran all along: a tick every ~10 ms, no stall */
    TT_ASSERT(r.ticks >= 50);
    TT_ASSERT(r.fd_cbs >= 50);
    TT_ASSERT(r.max_gap < 200);

    (void)tse_posix_driver_remove(d, t);
    tse_tunnel_del(t);
    tse_posix_driver_del(d);
    close(r.cfd);
    close(r.lfd);
    close(r.sv[0]);
    close(r.sv[1]);
}

/* ---- a server that never answers ---------------------------------------- */

TT_TEST(no_answer_fails_after_the_timeout)
{
    tse_port_conn *c = NULL;
    tse_time_ms t0 = tse_posix_now_ms(), end = t0 + TSE_POSIX_RESOLVE_TIMEOUT_MS + 3000, el;
    int rc = TSE_ERR_WOULD_BLOCK, before = count_fds(), i;

    TT_EQ_INT(P->connect_start(P->user, "never.test", 9, &c), TSE_OK);
    TT_ASSERT(count_fds() >= before + 2); /* the pipe (+ the thread's DNS socket) */
    /* returned at once: the resolution runs in the thread */
    TT_ASSERT(tse_posix_now_ms() - t0 < 100);
    TT_ASSERT(tse_posix_conn_deadline(c) >= t0 + TSE_POSIX_RESOLVE_TIMEOUT_MS);
    while (rc == TSE_ERR_WOULD_BLOCK && tse_posix_now_ms() < end) {
        struct pollfd fds[TSE_POSIX_MAX_ATTEMPTS];
        size_t n = tse_posix_conn_pollfds(c, fds, TSE_POSIX_MAX_ATTEMPTS);
        tse_time_ms dl = tse_posix_conn_deadline(c), now = tse_posix_now_ms();
        (void)poll(fds, (nfds_t)n, dl <= now ? 0 : (int)(dl - now));
        rc = P->connect_poll(P->user, c);
    }
    el = tse_posix_now_ms() - t0;
    printf("no answer: TSE_ERR_TRANSPORT_RESOLVE after %lld ms (timeout %d ms)\n",
           (long long)el, TSE_POSIX_RESOLVE_TIMEOUT_MS);
    TT_EQ_INT(rc, TSE_ERR_TRANSPORT_RESOLVE);
    TT_ASSERT(el >= TSE_POSIX_RESOLVE_TIMEOUT_MS - 10);
    TT_ASSERT(el < TSE_POSIX_RESOLVE_TIMEOUT_MS + 1000);
    TT_EQ_INT(P->connect_poll(P->user, c), TSE_ERR_TRANSPORT_RESOLVE);
    P->close(P->user, c); /* the thread is still in getaddrinfo: it frees */
    /* the system resolver gives up after resolv.conf's 8 s: the abandoned
     * thread then closes its end (and frees the request) */
    for (i = 0; i < 100 && count_fds() != before; i++)
        sleep_ms(50);
    printf("no answer: the abandoned thread ended %lld ms after the start\n",
           (long long)(tse_posix_now_ms() - t0));
    TT_EQ_INT(count_fds(), before);
}

/* ---- close while the name resolves -------------------------------------- */

TT_TEST(close_during_resolution)
{
    tse_posix_driver *d = NULL;
    tse_tunnel *t = NULL;
    tse_settings s;
    tse_port_conn *c[8];
    int before = count_fds(), i, after = -1;
    tse_time_ms t0, el;

    /* port level: close right away and after a while */
    for (i = 0; i < 8; i++)
        TT_EQ_INT(P->connect_start(P->user, "slow.test", 9, &c[i]), TSE_OK);
    sleep_ms(300);
    t0 = tse_posix_now_ms();
    for (i = 0; i < 8; i++) {
        TT_EQ_INT(P->connect_poll(P->user, c[i]), TSE_ERR_WOULD_BLOCK);
        P->close(P->user, c[i]);
    }
    el = tse_posix_now_ms() - t0;
    TT_ASSERT(el < 50); /* close() does not wait for the threads */

    /* driver level: remove a tunnel whose name is resolving */
    TT_EQ_INT(tse_posix_driver_new(&d), TSE_OK);
    settings(&s, "slow.test", 9);
    TT_EQ_INT(tse_tunnel_new(&t, &s, &CB, tse_posix_mem(), NULL), TSE_OK);
    TT_EQ_INT(tse_posix_driver_add(d, t), TSE_OK);
    TT_EQ_INT(tse_tunnel_start(t, tse_posix_now_ms()), TSE_OK);
    for (i = 0; i < 5; i++)
        TT_EQ_INT(tse_posix_driver_run_once(d, 20), TSE_OK);
    TT_EQ_INT(tse_tunnel_state(t), TSE_STATE_CONNECTING);
    t0 = tse_posix_now_ms();
    TT_EQ_INT(tse_posix_driver_remove(d, t), TSE_OK);
    tse_tunnel_del(t);
    tse_posix_driver_del(d);
    TT_ASSERT(tse_posix_now_ms() - t0 < 50);

    /* the answers arrive into abandoned requests: the threads free them
     * (ASan's leak check at exit) and close their pipe ends */
    for (i = 0; i < 60; i++) {
        after = count_fds();
        if (after == before)
            break;
        sleep_ms(50);
    }
    printf("close during resolution: %d fds before, %d after the threads ended\n",
           before, after);
    TT_EQ_INT(after, before);
    sleep_ms(200); /* the last thread's final unlock and free */
}

/* ---- the detection's UDP probe resolves off the loop too ---------------- */

static void det_event(void *user, const tse_detect_event *ev)
{
    (void)user;
    (void)ev;
}

TT_TEST(detection_udp_probe_does_not_block)
{
    tse_posix_detect *pd = NULL;
    tse_posix_detect_config cfg;
    tse_detect_settings ds;
    struct sockaddr_in a;
    socklen_t al = sizeof a;
    char buf[2048];
    tse_time_ms t0, el, got_at = 0;
    int u, i;
    ssize_t n = -1;

    /* the P-CSCF: a UDP socket on 127.0.0.1 ("slow.test" resolves there) */
    u = socket(AF_INET, SOCK_DGRAM, 0);
    TT_ASSERT(u >= 0);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    TT_EQ_INT(bind(u, (struct sockaddr *)&a, sizeof a), 0);
    TT_EQ_INT(getsockname(u, (struct sockaddr *)&a, &al), 0);

    tse_detect_settings_default(&ds);
    ds.pcscf_host = "slow.test";
    ds.pcscf_port = ntohs(a.sin_port);
    ds.sip_tcp = 0;
    ds.sip_timeout_ms = 4000;
    memset(&cfg, 0, sizeof cfg);
    cfg.detect = &ds;
    cfg.on_event = det_event;
    TT_EQ_INT(tse_posix_detect_new(&pd, &cfg), TSE_OK);
    t0 = tse_posix_now_ms();
    /* the runner returns at its bound: the name resolves in a thread
     * (blocking, this took the responder's 1.5 s) */
    TT_EQ_INT(tse_posix_detect_run(pd, 300), TSE_ERR_DETECT_TIMEOUT);
    el = tse_posix_now_ms() - t0;
    printf("detection: run(300 ms) returned after %lld ms while the P-CSCF's name "
           "resolved\n", (long long)el);
    TT_ASSERT(el < 800);
    /* then the OPTIONS goes to the resolved address */
    for (i = 0; i < 60 && n < 0; i++) {
        (void)tse_posix_detect_run(pd, 50);
        n = recv(u, buf, sizeof buf, MSG_DONTWAIT);
        if (n > 0)
            got_at = tse_posix_now_ms();
    }
    TT_ASSERT(n > 8 && memcmp(buf, "OPTIONS ", 8) == 0);
    printf("detection: the SIP OPTIONS arrived %lld ms after the start\n",
           (long long)(got_at - t0));
    TT_ASSERT(got_at - t0 >= SLOW_MS - 100);
    tse_posix_detect_del(pd);
    close(u);
}

/* ---- a capped number of resolver threads -------------------------------- */

TT_TEST(resolver_threads_are_capped)
{
    tse_port_conn *c[TSE_POSIX_RESOLVE_THREADS_MAX + 1];
    tse_port_conn *extra = NULL;
    int i, before = count_fds(), after = -1;

    for (i = 0; i < TSE_POSIX_RESOLVE_THREADS_MAX; i++)
        TT_EQ_INT(P->connect_start(P->user, "slow.test", 9, &c[i]), TSE_OK);
    /* one more name while they all wait: refused at once, no thread */
    TT_EQ_INT(P->connect_start(P->user, "slow.test", 9, &extra), TSE_ERR_TRANSPORT_RESOLVE);
    /* a literal needs no thread and still works */
    TT_EQ_INT(P->connect_start(P->user, "127.0.0.1", 9, &extra), TSE_OK);
    P->close(P->user, extra);
    for (i = 0; i < TSE_POSIX_RESOLVE_THREADS_MAX; i++)
        P->close(P->user, c[i]);
    for (i = 0; i < 80; i++) {
        after = count_fds();
        if (after == before)
            break;
        sleep_ms(50);
    }
    TT_EQ_INT(after, before);
    sleep_ms(200); /* the last thread's final unlock and free */
    /* the threads ended: names resolve again */
    TT_EQ_INT(P->connect_start(P->user, "slow.test", 9, &extra), TSE_OK);
    P->close(P->user, extra);
    for (i = 0; i < 80 && count_fds() != before; i++)
        sleep_ms(50);
    sleep_ms(200);
}

int main(void)
{
    if (!getenv("TSE_RESOLVE_NETNS")) {
        printf("SKIP: run by posix_resolve_netns.sh (root, a namespace "
               "with a slow DNS server)\n");
        return 77;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN);
    P = tse_posix_port();
    /* first: its thread stays in getaddrinfo (resolv.conf timeout 8 s)
     * and has ended before the process does */
    TT_RUN(no_answer_fails_after_the_timeout);
    TT_RUN(loop_runs_while_the_name_resolves);
    TT_RUN(close_during_resolution);
    TT_RUN(detection_udp_probe_does_not_block);
    TT_RUN(resolver_threads_are_capped);
    return TT_DONE();
}
