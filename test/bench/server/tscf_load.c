/*
 * tscf-load: load client for tscf-server's capacity figure (not a test).
 *
 * One process, one epoll loop, non-blocking sockets: opens tunnels (TCP,
 * TLS, Configuration_Request asking for a Keep_Alive_Interval) with a
 * bounded number of set-ups in flight, then keeps every configured tunnel
 * alive by sending a Keep_Alive each negotiated interval (tunnels keep the
 * phase they were opened with, so keep-alives are spread over the interval)
 * and checking the Keep_Alive_Response (same TSID and sequence).
 *
 * For each step N of --steps it ramps up to N tunnels (the earlier ones stay
 * up), lets them settle for --settle seconds and then measures over
 * --window seconds: the server's CPU time (/proc/PID/schedstat, else
 * utime+stime), its VmRSS, and the keep-alives answered.  One line of
 * key=value pairs per step on stdout.  It stops at the first step where a
 * tunnel could not be set up or was closed (by the server, or given up here
 * after four unanswered keep-alives); exit status 0 when every step held.
 * Keep-alives answered later than the next one was due are counted
 * (ka_late), and their round-trip times reported, but are not a failure.
 *
 *   tscf-load --server 127.0.0.1:PORT --ca CA.pem --server-pid PID
 *             [--sni NAME] [--steps 1000,2000,5000,10000] [--keepalive 5]
 *             [--settle S] [--window S] [--inflight 32] [--sources K]
 *             [--no-verify]
 *
 * --sources K binds the client sockets to 127.0.0.1 .. 127.0.0.K (round
 * robin, IP_BIND_ADDRESS_NO_PORT) so more than one ephemeral port range is
 * available.  --no-verify skips the certificate check (saves client CPU;
 * the server's work is the same).
 */
#include "tse/cm.h"
#include "tse/error.h"
#include "tse/framing.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/ssl.h>
#include <mbedtls/version.h>
#include <mbedtls/x509_crt.h>
#if defined(MBEDTLS_PSA_CRYPTO_C)
#include <psa/crypto.h>
#endif

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

#define MAX_STEPS 16

enum { T_CONNECT, T_HANDSHAKE, T_CONFIG, T_UP, T_DEAD };

struct tn {
    int fd;
    int state;
    mbedtls_ssl_context ssl;
    tse_deframer df;
    uint8_t dfbuf[256];
    uint8_t wbuf[TSE_CM_MAX_ENCODED]; /* a CM mbedtls_ssl_write has not taken yet */
    size_t wlen;
    uint32_t epmask;
    uint32_t seq;
    uint32_t ka_lo;       /* oldest unanswered Keep_Alive sequence (ka_n of them, up to seq) */
    uint32_t ka_n;
    int64_t ka_at[4];     /* send times, by sequence & 3 */
    uint64_t tsid;
    uint16_t ka_s;        /* negotiated interval */
    int64_t t_start;      /* when the TCP connect began */
    int64_t due;          /* next Keep_Alive */
    uint32_t ka_ok_win;   /* answered during the current window */
    struct tn *qnext;
};

static struct {
    struct sockaddr_in srv;
    const char *sni;
    int server_pid;
    int steps[MAX_STEPS], nsteps;
    unsigned ka_req, settle_s, window_s, inflight, sources;
    int verify, have_ca;
} cfg;

static struct {
    int ep;
    int64_t now;
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg;
    mbedtls_ssl_config conf;
    mbedtls_x509_crt ca;
    struct tn **all;
    unsigned nall, cap;
    unsigned opening;     /* in T_CONNECT..T_CONFIG */
    unsigned up;          /* in T_UP */
    unsigned failed;      /* set-ups that failed */
    unsigned lost;        /* configured tunnels that were closed */
    unsigned ka_missed;   /* a Keep_Alive still unanswered when the next was due */
    uint64_t ka_sent, ka_ok;
    int64_t rtt_max, rtt_sum;
    uint64_t rtt_n, rtt_over1s;
    uint64_t setup_ms_sum;
    int64_t setup_ms_max;
    struct tn *qhead, *qtail; /* Keep_Alive schedule, in due order */
    char tls_version[32], first_error[160];
} S;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void set_error(const char *what, int code)
{
    if (!S.first_error[0])
        snprintf(S.first_error, sizeof S.first_error, "%s (%d)", what, code);
}

/* ---- the server's resources ----------------------------------------------- */

/* CPU time of the server in microseconds (schedstat is ns-exact). */
static int64_t server_cpu_us(void)
{
    char path[64], buf[512];
    FILE *f;
    unsigned long long ns, ut, st;
    snprintf(path, sizeof path, "/proc/%d/schedstat", cfg.server_pid);
    f = fopen(path, "r");
    if (f) {
        int ok = fscanf(f, "%llu", &ns) == 1;
        fclose(f);
        if (ok && ns > 0)
            return (int64_t)(ns / 1000);
    }
    snprintf(path, sizeof path, "/proc/%d/stat", cfg.server_pid);
    f = fopen(path, "r");
    if (!f)
        return -1;
    if (!fgets(buf, sizeof buf, f)) {
        fclose(f);
        return -1;
    }
    fclose(f);
    {
        /* fields after the ")" of comm: state is field 3, utime 14, stime 15 */
        char *p = strrchr(buf, ')');
        if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut,
                         &st) != 2)
            return -1;
        return (int64_t)((ut + st) * 1000000ULL / (unsigned long long)sysconf(_SC_CLK_TCK));
    }
}

static long server_rss_kb(void)
{
    char path[64], line[256];
    long kb = -1;
    FILE *f;
    snprintf(path, sizeof path, "/proc/%d/status", cfg.server_pid);
    f = fopen(path, "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
            break;
    fclose(f);
    return kb;
}

static int64_t self_cpu_us(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (int64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000 + ru.ru_utime.tv_usec +
           ru.ru_stime.tv_usec;
}

/* ---- one tunnel ------------------------------------------------------------ */

static int bio_send(void *ctx, const unsigned char *b, size_t n)
{
    struct tn *t = ctx;
    ssize_t r = send(t->fd, b, n, MSG_NOSIGNAL);
    if (r >= 0)
        return (int)r;
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
        return MBEDTLS_ERR_SSL_WANT_WRITE;
    return MBEDTLS_ERR_NET_SEND_FAILED;
}

static int bio_recv(void *ctx, unsigned char *b, size_t n)
{
    struct tn *t = ctx;
    ssize_t r = recv(t->fd, b, n, 0);
    if (r >= 0)
        return (int)r; /* 0 = EOF, which mbed TLS reports as a closed connection */
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
        return MBEDTLS_ERR_SSL_WANT_READ;
    return MBEDTLS_ERR_NET_RECV_FAILED;
}

static void ep_set(struct tn *t, uint32_t mask)
{
    struct epoll_event ev;
    if (t->epmask == mask)
        return;
    memset(&ev, 0, sizeof ev);
    ev.events = mask;
    ev.data.ptr = t;
    epoll_ctl(S.ep, EPOLL_CTL_MOD, t->fd, &ev);
    t->epmask = mask;
}

static void tn_kill(struct tn *t, const char *why, int code)
{
    if (t->state == T_DEAD)
        return;
    if (t->state == T_UP) {
        S.up--;
        S.lost++;
        set_error(why, code);
    } else {
        S.opening--;
        S.failed++;
        set_error(why, code);
    }
    t->state = T_DEAD;
    epoll_ctl(S.ep, EPOLL_CTL_DEL, t->fd, NULL);
    close(t->fd);
    t->fd = -1;
    mbedtls_ssl_free(&t->ssl); /* the struct stays: it may be in the schedule */
}

/* Write the pending CM; 0 done or waiting for EPOLLOUT, -1 dead. */
static int tn_flush(struct tn *t)
{
    while (t->wlen) {
        int r = mbedtls_ssl_write(&t->ssl, t->wbuf, t->wlen);
        if (r == MBEDTLS_ERR_SSL_WANT_WRITE || r == MBEDTLS_ERR_SSL_WANT_READ) {
            ep_set(t, EPOLLIN | EPOLLOUT);
            return 0;
        }
        if (r <= 0) {
            tn_kill(t, "ssl_write", r);
            return -1;
        }
        memmove(t->wbuf, t->wbuf + r, t->wlen - (size_t)r);
        t->wlen -= (size_t)r;
    }
    ep_set(t, EPOLLIN);
    return 0;
}

static int tn_send_cm(struct tn *t, const tse_cm *m)
{
    size_t n;
    if (t->wlen) {
        tn_kill(t, "previous CM still unsent", 0);
        return -1;
    }
    if (tse_cm_encode(m, t->wbuf, sizeof t->wbuf, &n) != TSE_OK) {
        tn_kill(t, "tse_cm_encode", 0);
        return -1;
    }
    t->wlen = n;
    return tn_flush(t);
}

static void sched_push(struct tn *t)
{
    t->qnext = NULL;
    if (S.qtail)
        S.qtail->qnext = t;
    else
        S.qhead = t;
    S.qtail = t;
}

static void on_cm(struct tn *t, const uint8_t *b, size_t n)
{
    tse_cm m;
    int rc = tse_cm_decode(&m, b, n);
    if (rc != TSE_OK) {
        tn_kill(t, "malformed CM from the server", rc);
        return;
    }
    if (t->state == T_CONFIG && m.type == TSE_CM_CONFIG_RESPONSE) {
        int64_t setup;
        if (m.response_code != 0 || m.seq != t->seq) {
            tn_kill(t, "Configuration_Response code", m.response_code);
            return;
        }
        t->tsid = m.tsid;
        t->ka_s = m.keepalive_s ? m.keepalive_s : (uint16_t)cfg.ka_req;
        t->state = T_UP;
        S.opening--;
        S.up++;
        setup = S.now - t->t_start;
        S.setup_ms_sum += (uint64_t)setup;
        if (setup > S.setup_ms_max)
            S.setup_ms_max = setup;
        t->due = S.now + (int64_t)t->ka_s * 1000;
        sched_push(t);
        if (!S.tls_version[0])
            snprintf(S.tls_version, sizeof S.tls_version, "%s", mbedtls_ssl_get_version(&t->ssl));
        return;
    }
    if (t->state == T_UP && m.type == TSE_CM_KEEPALIVE_RESPONSE) {
        int64_t rtt;
        /* answers come in order; a late one (the server was stalled) is
         * still an answer */
        if (!t->ka_n || m.seq != t->ka_lo || m.tsid != t->tsid) {
            tn_kill(t, "unexpected Keep_Alive_Response", (int)m.seq);
            return;
        }
        rtt = S.now - t->ka_at[m.seq & 3];
        t->ka_lo++;
        t->ka_n--;
        t->ka_ok_win++;
        S.ka_ok++;
        S.rtt_sum += rtt;
        S.rtt_n++;
        if (rtt > S.rtt_max)
            S.rtt_max = rtt;
        if (rtt > 1000)
            S.rtt_over1s++;
        return;
    }
    tn_kill(t, "unexpected CM type", m.type);
}

static void tn_read(struct tn *t)
{
    uint8_t buf[2048];
    for (;;) {
        size_t off = 0;
        int r = mbedtls_ssl_read(&t->ssl, buf, sizeof buf);
        if (r == MBEDTLS_ERR_SSL_WANT_READ || r == MBEDTLS_ERR_SSL_WANT_WRITE)
            return;
#ifdef MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET
        if (r == MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET)
            continue;
#endif
        if (r <= 0) {
            tn_kill(t, r == 0 || r == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY ? "closed by the server"
                                                                        : "ssl_read",
                    r);
            return;
        }
        while (off < (size_t)r && t->state != T_DEAD) {
            size_t used = 0;
            tse_unit u;
            int k = tse_deframer_feed(&t->df, buf + off, (size_t)r - off, &used, &u);
            off += used;
            if (k < 0) {
                tn_kill(t, "deframer", k);
                return;
            }
            if (k == 1 && u.kind == TSE_UNIT_CM)
                on_cm(t, u.data, u.len);
            if (k == 0)
                break;
        }
        if (t->state == T_DEAD)
            return;
    }
}

static void tn_handshake(struct tn *t)
{
    int r = mbedtls_ssl_handshake(&t->ssl);
    tse_cm m;
    if (r == MBEDTLS_ERR_SSL_WANT_READ) {
        ep_set(t, EPOLLIN);
        return;
    }
    if (r == MBEDTLS_ERR_SSL_WANT_WRITE) {
        ep_set(t, EPOLLIN | EPOLLOUT);
        return;
    }
    if (r != 0) {
        tn_kill(t, "TLS handshake", r);
        return;
    }
    t->state = T_CONFIG;
    tse_deframer_init(&t->df, TSE_FRAMING_TSCF, t->dfbuf, sizeof t->dfbuf);
    memset(&m, 0, sizeof m);
    m.type = TSE_CM_CONFIG_REQUEST;
    m.tsid = TSE_CM_TSID_NONE;
    m.seq = ++t->seq;
    m.present = TSE_CM_HAS_IPV4_ADDRESS | TSE_CM_HAS_IPV4_NETMASK | TSE_CM_HAS_KEEPALIVE;
    memset(m.ipv4_mask, 0xFF, 4);
    m.keepalive_s = (uint16_t)cfg.ka_req;
    if (tn_send_cm(t, &m) == 0)
        tn_read(t); /* the response may already be in mbed TLS's buffer */
}

static void tn_event(struct tn *t, uint32_t ev)
{
    if (t->state == T_CONNECT) {
        int err = 0;
        socklen_t len = sizeof err;
        if (getsockopt(t->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err) {
            tn_kill(t, "connect", err);
            return;
        }
        t->state = T_HANDSHAKE;
        tn_handshake(t);
        return;
    }
    if (t->state == T_HANDSHAKE) {
        tn_handshake(t);
        return;
    }
    if ((ev & EPOLLOUT) && t->wlen && tn_flush(t) < 0)
        return;
    if (t->state != T_DEAD)
        tn_read(t);
}

static int tn_open(void)
{
    struct tn *t;
    struct epoll_event ev;
    int one = 1, r;
    if (S.nall == S.cap) {
        unsigned nc = S.cap ? S.cap * 2 : 1024;
        struct tn **na = realloc(S.all, nc * sizeof *na);
        if (!na)
            return -1;
        S.all = na;
        S.cap = nc;
    }
    t = calloc(1, sizeof *t);
    if (!t)
        return -1;
    t->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (t->fd < 0) {
        set_error("socket", errno);
        free(t);
        return -1;
    }
    setsockopt(t->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (cfg.sources > 1) {
        struct sockaddr_in src;
        memset(&src, 0, sizeof src);
        src.sin_family = AF_INET;
        src.sin_addr.s_addr = htonl(0x7F000001u + S.nall % cfg.sources);
        setsockopt(t->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
        if (bind(t->fd, (struct sockaddr *)&src, sizeof src) < 0) {
            set_error("bind", errno);
            close(t->fd);
            free(t);
            return -1;
        }
    }
    mbedtls_ssl_init(&t->ssl);
    if (mbedtls_ssl_setup(&t->ssl, &S.conf) != 0 || mbedtls_ssl_set_hostname(&t->ssl, cfg.sni) != 0) {
        set_error("ssl_setup", 0);
        mbedtls_ssl_free(&t->ssl);
        close(t->fd);
        free(t);
        return -1;
    }
    mbedtls_ssl_set_bio(&t->ssl, t, bio_send, bio_recv, NULL);
    t->state = T_CONNECT;
    t->t_start = S.now;
    t->seq = 1000;
    S.all[S.nall++] = t;
    S.opening++;
    memset(&ev, 0, sizeof ev);
    ev.events = EPOLLOUT;
    ev.data.ptr = t;
    t->epmask = EPOLLOUT;
    if (epoll_ctl(S.ep, EPOLL_CTL_ADD, t->fd, &ev) < 0) {
        set_error("epoll_ctl", errno);
        close(t->fd);
        t->fd = -1;
        t->state = T_DEAD;
        S.opening--;
        S.failed++;
        return 0; /* counted */
    }
    r = connect(t->fd, (struct sockaddr *)&cfg.srv, sizeof cfg.srv);
    if (r < 0 && errno != EINPROGRESS)
        tn_kill(t, "connect", errno);
    return 0;
}

/* ---- the loop ----------------------------------------------------------- */

static void keepalives(void)
{
    while (S.qhead && S.qhead->due <= S.now) {
        struct tn *t = S.qhead;
        tse_cm m;
        S.qhead = t->qnext;
        if (!S.qhead)
            S.qtail = NULL;
        if (t->state != T_UP)
            continue; /* dead: leaves the schedule */
        if (t->ka_n)
            S.ka_missed++;
        if (t->ka_n == 4) {
            tn_kill(t, "four Keep_Alives unanswered", 0);
            continue;
        }
        memset(&m, 0, sizeof m);
        m.type = TSE_CM_KEEPALIVE;
        m.tsid = t->tsid;
        m.seq = ++t->seq;
        if (!t->ka_n)
            t->ka_lo = m.seq;
        t->ka_n++;
        t->ka_at[m.seq & 3] = S.now;
        /* the next one is due one interval after this one was due: no drift */
        t->due += (int64_t)t->ka_s * 1000;
        if (t->due <= S.now)
            t->due = S.now + (int64_t)t->ka_s * 1000;
        S.ka_sent++;
        if (tn_send_cm(t, &m) < 0)
            continue;
        sched_push(t);
    }
}

/* Run until @p until (ms), opening tunnels while fewer than @p target exist. */
static void run_until(int64_t until, unsigned target, int stop_when_ramped)
{
    struct epoll_event evs[512];
    for (;;) {
        int n, i, timeout;
        S.now = now_ms();
        while (S.nall < target && S.opening < cfg.inflight)
            if (tn_open() < 0) {
                S.failed++;
                target = S.nall; /* cannot open more */
            }
        keepalives();
        if (stop_when_ramped && S.nall >= target && S.opening == 0)
            return;
        if (S.now >= until)
            return;
        timeout = (int)(until - S.now);
        if (S.qhead && S.qhead->due - S.now < timeout)
            timeout = (int)(S.qhead->due - S.now);
        if (timeout < 0)
            timeout = 0;
        n = epoll_wait(S.ep, evs, 512, timeout);
        S.now = now_ms();
        for (i = 0; i < n; i++)
            tn_event(evs[i].data.ptr, evs[i].events);
    }
}

/* ---- setup ------------------------------------------------------------- */

static int usage(void)
{
    fprintf(stderr, "usage: tscf-load --server IPV4:PORT --ca FILE --server-pid PID [--sni NAME]\n"
                    "       [--steps N,N,...] [--keepalive S] [--settle S] [--window S]\n"
                    "       [--inflight K] [--sources K] [--no-verify]\n");
    return 2;
}

static int parse_args(int argc, char **argv)
{
    int i;
    cfg.sni = "tscf.test";
    cfg.ka_req = 5;
    cfg.window_s = 30;
    cfg.settle_s = 0; /* 0 = keepalive + 2 */
    cfg.inflight = 32;
    cfg.sources = 1;
    cfg.verify = 1;
    cfg.steps[0] = 1000;
    cfg.nsteps = 1;
    for (i = 1; i < argc; i++) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(o, "--no-verify")) {
            cfg.verify = 0;
            continue;
        }
        if (!v)
            return usage();
        i++;
        if (!strcmp(o, "--server")) {
            char host[64];
            const char *c = strrchr(v, ':');
            if (!c || (size_t)(c - v) >= sizeof host)
                return usage();
            memcpy(host, v, (size_t)(c - v));
            host[c - v] = 0;
            cfg.srv.sin_family = AF_INET;
            cfg.srv.sin_port = htons((uint16_t)atoi(c + 1));
            if (inet_pton(AF_INET, host, &cfg.srv.sin_addr) != 1)
                return usage();
        } else if (!strcmp(o, "--ca")) {
            /* buffer API: works without MBEDTLS_FS_IO */
            static unsigned char pem[65536];
            FILE *f = fopen(v, "rb");
            size_t n;
            int ret;
            if (!f) {
                fprintf(stderr, "tscf-load: cannot open %s\n", v);
                return 2;
            }
            n = fread(pem, 1, sizeof pem - 1, f);
            fclose(f);
            pem[n] = 0;
            if ((ret = mbedtls_x509_crt_parse(&S.ca, pem, n + 1)) != 0) {
                fprintf(stderr, "tscf-load: CA %s: -0x%04x\n", v, (unsigned)-ret);
                return 2;
            }
            cfg.have_ca = 1;
        } else if (!strcmp(o, "--sni")) {
            cfg.sni = v;
        } else if (!strcmp(o, "--server-pid")) {
            cfg.server_pid = atoi(v);
        } else if (!strcmp(o, "--steps")) {
            const char *p = v;
            cfg.nsteps = 0;
            while (*p && cfg.nsteps < MAX_STEPS) {
                char *e;
                long s = strtol(p, &e, 10);
                if (e == p || s <= 0 || s > 1000000 ||
                    (cfg.nsteps && s <= cfg.steps[cfg.nsteps - 1]))
                    return usage();
                cfg.steps[cfg.nsteps++] = (int)s;
                p = *e == ',' ? e + 1 : e;
                if (*e && *e != ',')
                    return usage();
            }
        } else if (!strcmp(o, "--keepalive")) {
            cfg.ka_req = (unsigned)atoi(v);
        } else if (!strcmp(o, "--settle")) {
            cfg.settle_s = (unsigned)atoi(v);
        } else if (!strcmp(o, "--window")) {
            cfg.window_s = (unsigned)atoi(v);
        } else if (!strcmp(o, "--inflight")) {
            cfg.inflight = (unsigned)atoi(v);
        } else if (!strcmp(o, "--sources")) {
            cfg.sources = (unsigned)atoi(v);
        } else {
            return usage();
        }
    }
    if (!cfg.srv.sin_port || cfg.server_pid <= 0 || cfg.ka_req == 0 || cfg.ka_req > 65535 ||
        cfg.window_s == 0 || cfg.inflight == 0 || cfg.sources == 0 || cfg.sources > 254)
        return usage();
    if (cfg.verify && !cfg.have_ca)
        return usage();
    if (!cfg.settle_s)
        cfg.settle_s = cfg.ka_req + 2;
    return 0;
}

static int setup_tls(void)
{
#if defined(MBEDTLS_PSA_CRYPTO_C)
    if (psa_crypto_init() != PSA_SUCCESS)
        return -1;
#endif
    if (mbedtls_ctr_drbg_seed(&S.drbg, mbedtls_entropy_func, &S.entropy, NULL, 0) != 0)
        return -1;
    if (mbedtls_ssl_config_defaults(&S.conf, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM,
                                    MBEDTLS_SSL_PRESET_DEFAULT) != 0)
        return -1;
    mbedtls_ssl_conf_authmode(&S.conf, cfg.verify ? MBEDTLS_SSL_VERIFY_REQUIRED
                                                  : MBEDTLS_SSL_VERIFY_NONE);
    mbedtls_ssl_conf_ca_chain(&S.conf, &S.ca, NULL);
    mbedtls_ssl_conf_rng(&S.conf, mbedtls_ctr_drbg_random, &S.drbg);
    return 0;
}

int main(int argc, char **argv)
{
    struct rlimit rl;
    long rss0;
    int st, rc = 0;
    int64_t cpu0;

    signal(SIGPIPE, SIG_IGN);
    mbedtls_entropy_init(&S.entropy);
    mbedtls_ctr_drbg_init(&S.drbg);
    mbedtls_ssl_config_init(&S.conf);
    mbedtls_x509_crt_init(&S.ca);
    st = parse_args(argc, argv);
    if (st)
        return st;
    if (setup_tls() < 0) {
        fprintf(stderr, "tscf-load: TLS setup failed\n");
        return 1;
    }
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    S.ep = epoll_create1(EPOLL_CLOEXEC);
    if (S.ep < 0)
        return 1;
    rss0 = server_rss_kb();
    cpu0 = server_cpu_us();
    if (rss0 < 0 || cpu0 < 0) {
        fprintf(stderr, "tscf-load: cannot read /proc/%d\n", cfg.server_pid);
        return 1;
    }
    printf("start server_pid=%d server_rss0_kb=%ld keepalive_req_s=%u window_s=%u settle_s=%u "
           "inflight=%u sources=%u verify=%d mbedtls=%s fd_limit=%llu\n",
           cfg.server_pid, rss0, cfg.ka_req, cfg.window_s, cfg.settle_s, cfg.inflight,
           cfg.sources, cfg.verify, MBEDTLS_VERSION_STRING, (unsigned long long)rl.rlim_cur);
    fflush(stdout);

    for (st = 0; st < cfg.nsteps; st++) {
        unsigned target = (unsigned)cfg.steps[st], i;
        unsigned new_tunnels = target - S.nall;
        int64_t t0 = now_ms(), c0 = server_cpu_us(), cl0 = self_cpu_us();
        int64_t t1, c1, cl1, t2, c2, cl2, t3, c3, cl3;
        uint64_t ka_ok0, ka_sent0, setup_sum0 = S.setup_ms_sum;
        unsigned lost0 = S.lost, missed0 = S.ka_missed, min_ok = 0xFFFFFFFFu;
        long rss;
        int ok;
        /* ramp (bounded: a set-up takes at most the server's 10 s limits) */
        S.setup_ms_max = 0;
        run_until(t0 + 600000, target, 1);
        t1 = now_ms();
        c1 = server_cpu_us();
        cl1 = self_cpu_us();
        /* settle: every new tunnel through at least one keep-alive */
        run_until(t1 + (int64_t)cfg.settle_s * 1000, target, 0);
        t2 = now_ms();
        c2 = server_cpu_us();
        cl2 = self_cpu_us();
        ka_ok0 = S.ka_ok;
        ka_sent0 = S.ka_sent;
        S.rtt_max = 0;
        S.rtt_sum = 0;
        S.rtt_n = 0;
        S.rtt_over1s = 0;
        for (i = 0; i < S.nall; i++)
            S.all[i]->ka_ok_win = 0;
        run_until(t2 + (int64_t)cfg.window_s * 1000, target, 0);
        t3 = now_ms();
        c3 = server_cpu_us();
        cl3 = self_cpu_us();
        rss = server_rss_kb();
        for (i = 0; i < S.nall; i++)
            if (S.all[i]->state == T_UP && S.all[i]->ka_ok_win < min_ok)
                min_ok = S.all[i]->ka_ok_win;
        if (min_ok == 0xFFFFFFFFu)
            min_ok = 0;
        ok = c3 >= 0 && rss >= 0 && S.failed == 0 && S.up == target && S.lost == lost0 &&
             min_ok >= 1;
        {
            uint64_t ka = S.ka_ok - ka_ok0;
            double win_s = (double)(t3 - t2) / 1000.0;
            double cpu_ms = (double)(c3 - c2) / 1000.0;
            double us_per_ka = ka ? (double)(c3 - c2) / (double)ka : 0.0;
            printf("step n=%u ok=%d up=%u failed=%u lost=%u ka_late=%u tls=%s "
                   "ramp_s=%.1f setup_ms_avg=%.0f setup_ms_max=%lld srv_cpu_ms_per_setup=%.2f "
                   "cli_cpu_ms_per_setup=%.2f "
                   "rss_kb=%ld rss_per_tunnel_b=%.0f "
                   "window_s=%.1f ka_sent=%llu ka_answered=%llu ka_per_s=%.1f min_ka_per_tunnel=%u "
                   "rtt_ms_avg=%.2f rtt_ms_max=%lld rtt_over_1s=%llu "
                   "srv_cpu_ms=%.1f srv_cpu_pct=%.2f srv_cpu_us_per_ka=%.1f ka_per_s_per_core=%.0f "
                   "cli_cpu_pct=%.1f settle_srv_cpu_ms=%.1f%s%s\n",
                   target, ok, S.up, S.failed, S.lost, S.ka_missed - missed0,
                   S.tls_version[0] ? S.tls_version : "-", (double)(t1 - t0) / 1000.0,
                   new_tunnels ? (double)(S.setup_ms_sum - setup_sum0) / new_tunnels : 0.0,
                   (long long)S.setup_ms_max,
                   new_tunnels ? (double)(c1 - c0) / 1000.0 / new_tunnels : 0.0,
                   new_tunnels ? (double)(cl1 - cl0) / 1000.0 / new_tunnels : 0.0, rss,
                   target ? (double)(rss - rss0) * 1024.0 / target : 0.0, win_s,
                   (unsigned long long)(S.ka_sent - ka_sent0), (unsigned long long)ka,
                   (double)ka / win_s, min_ok, S.rtt_n ? (double)S.rtt_sum / (double)S.rtt_n : 0.0,
                   (long long)S.rtt_max, (unsigned long long)S.rtt_over1s, cpu_ms,
                   cpu_ms / 10.0 / win_s, us_per_ka, us_per_ka > 0 ? 1e6 / us_per_ka : 0.0,
                   (double)(cl3 - cl2) / 10000.0 / win_s, (double)(c2 - c1) / 1000.0,
                   S.first_error[0] ? " error=" : "", S.first_error[0] ? "see-stderr" : "");
            fflush(stdout);
        }
        if (S.first_error[0])
            fprintf(stderr, "tscf-load: step %u: first error: %s\n", target, S.first_error);
        if (!ok) {
            rc = 1;
            break;
        }
    }
    printf("done cpu_s_total=%.1f\n", (double)(server_cpu_us() - cpu0) / 1e6);
    fflush(stdout);
    /* exit closes every socket; the server sees the resets */
    return rc;
}
