/* The POSIX detection runner (port/posix/detect_posix.c) on loopback:
 * a forked child plays the P-CSCF (SIP OPTIONS over UDP and TCP) and the
 * STUN server; closed ports, silent servers and a TCP peer that hangs up
 * play the failures.  The tunnel's happy path (a real TSCF) is in
 * test/lab (tse-cli --detect against tscf-server).  Every loop is bounded:
 * the runner by max_ms, the child by its lifetime and the parent's pipe. */
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
#include <sys/wait.h>
#include <unistd.h>

#include "tse_detect_posix.h"
#include "tse_posix.h"
#include "sock_util.h"
#include "tt.h"

/* ---- helpers ------------------------------------------------------------ */


static int bound4(int type, uint16_t *port)
{
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, type, 0), one = 1;
    if (fd < 0)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0 ||
        (type == SOCK_STREAM && listen(fd, 8) < 0)) {
        close(fd);
        return -1;
    }
    getsockname(fd, (struct sockaddr *)&a, &len);
    *port = ntohs(a.sin_port);
    return fd;
}

/* A port nobody listens on (bound, then closed). */
static uint16_t closed_port(int type)
{
    uint16_t p = 0;
    int fd = bound4(type, &p);
    if (fd >= 0)
        close(fd);
    return p;
}

/* Copy header lines named @p name (case-sensitive prefix) into @p out. */
static size_t copy_hdr(const char *req, size_t len, const char *name, char *out, size_t cap)
{
    size_t n = 0, nl = strlen(name), i = 0;
    while (i < len) {
        const char *eol = memchr(req + i, '\n', len - i);
        size_t ll = eol ? (size_t)(eol - (req + i)) + 1 : len - i;
        if (ll > nl && strncmp(req + i, name, nl) == 0 && n + ll < cap) {
            memcpy(out + n, req + i, ll);
            n += ll;
        }
        i += ll;
    }
    return n;
}

static size_t sip_answer(const char *req, size_t len, char *out, size_t cap)
{
    size_t n = (size_t)snprintf(out, cap, "SIP/2.0 200 OK\r\n");
    n += copy_hdr(req, len, "Via:", out + n, cap - n);
    n += copy_hdr(req, len, "From:", out + n, cap - n);
    n += copy_hdr(req, len, "To:", out + n, cap - n);
    n += copy_hdr(req, len, "Call-ID:", out + n, cap - n);
    n += copy_hdr(req, len, "CSeq:", out + n, cap - n);
    n += (size_t)snprintf(out + n, cap - n, "Content-Length: 0\r\n\r\n");
    return n;
}

/* Binding success with XOR-MAPPED-ADDRESS of @p from (port + @p lie). */
static size_t stun_answer(const uint8_t *req, size_t len, const struct sockaddr_in *from,
                          int lie, uint8_t *out)
{
    uint16_t port = (uint16_t)(ntohs(from->sin_port) + lie);
    uint32_t addr = ntohl(from->sin_addr.s_addr);
    if (len < 20)
        return 0;
    memcpy(out, req, 20);
    out[0] = 0x01;
    out[1] = 0x01;
    out[2] = 0;
    out[3] = 12;
    out[20] = 0x00; out[21] = 0x20; out[22] = 0; out[23] = 8;
    out[24] = 0; out[25] = 0x01;
    port ^= 0x2112;
    out[26] = (uint8_t)(port >> 8); out[27] = (uint8_t)port;
    addr ^= 0x2112A442u;
    out[28] = (uint8_t)(addr >> 24); out[29] = (uint8_t)(addr >> 16);
    out[30] = (uint8_t)(addr >> 8); out[31] = (uint8_t)addr;
    return 32;
}

struct responder {
    pid_t pid;
    int ctl;                 /* parent's end: closing it stops the child */
    uint16_t sip_port, stun_port;
};

enum { R_ANSWER = 1, R_STUN_LIE = 2, R_SILENT = 4 };

/* Child: SIP over UDP and TCP on one port number, STUN on another. */
static void child_loop(int usip, int tsip, int ustun, int ctl, int mode)
{
    int conns[8], nconn = 0, npolled, i, rounds;
    for (rounds = 0; rounds < 2000; rounds++) { /* 2000 x 10 ms = 20 s max */
        struct pollfd pf[12];
        int n = 0;
        pf[n].fd = ctl; pf[n++].events = POLLIN;
        pf[n].fd = usip; pf[n++].events = POLLIN;
        pf[n].fd = tsip; pf[n++].events = POLLIN;
        pf[n].fd = ustun; pf[n++].events = POLLIN;
        for (i = 0; i < nconn; i++) {
            pf[n].fd = conns[i];
            pf[n++].events = POLLIN;
        }
        npolled = nconn;
        if (poll(pf, (nfds_t)n, 10) <= 0)
            continue;
        if (pf[0].revents)
            break;
        if (pf[1].revents & POLLIN) {
            char req[2048], resp[2048];
            struct sockaddr_in from;
            socklen_t fl = sizeof from;
            ssize_t got = recvfrom(usip, req, sizeof req, 0, (struct sockaddr *)&from, &fl);
            if (got > 0 && !(mode & R_SILENT)) {
                size_t m = sip_answer(req, (size_t)got, resp, sizeof resp);
                sendto(usip, resp, m, 0, (struct sockaddr *)&from, fl);
            }
        }
        if ((pf[2].revents & POLLIN) && nconn < 8) {
            int c = accept(tsip, NULL, NULL);
            if (c >= 0)
                conns[nconn++] = c;
        }
        if (pf[3].revents & POLLIN) {
            uint8_t req[2048], resp[64];
            struct sockaddr_in from;
            socklen_t fl = sizeof from;
            ssize_t got = recvfrom(ustun, req, sizeof req, 0, (struct sockaddr *)&from, &fl);
            if (got > 0 && !(mode & R_SILENT)) {
                size_t m = stun_answer(req, (size_t)got, &from, (mode & R_STUN_LIE) ? 1 : 0, resp);
                if (m)
                    sendto(ustun, resp, m, 0, (struct sockaddr *)&from, fl);
            }
        }
        for (i = 0; i < npolled; i++) {
            if (pf[4 + i].revents) {
                char req[2048], resp[2048];
                ssize_t got = recv(conns[i], req, sizeof req, 0);
                if (got > 0 && !(mode & R_SILENT)) {
                    size_t m = sip_answer(req, (size_t)got, resp, sizeof resp);
                    if (send(conns[i], resp, m, MSG_NOSIGNAL) < 0) {
                        /* peer gone */
                    }
                } else if (got <= 0) {
                    close(conns[i]);
                    conns[i] = conns[--nconn];
                    break; /* pf[] indices changed: poll again */
                }
            }
        }
    }
    _exit(0);
}

static int responder_start(struct responder *r, int mode)
{
    int p[2], usip = -1, tsip = -1, ustun, tries;
    memset(r, 0, sizeof *r);
    /* UDP and TCP on one port number: take a free UDP port and try the
     * same number for TCP; another one if TCP has it in use (bounded) */
    for (tries = 0; tries < 50 && tsip < 0; tries++) {
        struct sockaddr_in a;
        int one = 1;
        usip = bound4(SOCK_DGRAM, &r->sip_port);
        if (usip < 0)
            return -1;
        tsip = socket(AF_INET, SOCK_STREAM, 0);
        setsockopt(tsip, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        memset(&a, 0, sizeof a);
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        a.sin_port = htons(r->sip_port);
        if (bind(tsip, (struct sockaddr *)&a, sizeof a) < 0 || listen(tsip, 8) < 0) {
            close(tsip);
            close(usip);
            tsip = usip = -1;
        }
    }
    if (tsip < 0)
        return -1;
    ustun = bound4(SOCK_DGRAM, &r->stun_port);
    if (ustun < 0 || pipe(p) < 0)
        return -1;
    r->pid = fork();
    if (r->pid < 0)
        return -1;
    if (r->pid == 0) {
        close(p[1]);
        child_loop(usip, tsip, ustun, p[0], mode);
    }
    close(p[0]);
    close(usip);
    close(tsip);
    close(ustun);
    r->ctl = p[1];
    return 0;
}

static void responder_stop(struct responder *r)
{
    int st;
    if (r->pid <= 0)
        return;
    close(r->ctl);
    waitpid(r->pid, &st, 0);
    r->pid = 0;
}

/* ---- recording the runner's events ---------------------------------------- */

struct rec {
    int starts[TSE_PROBE_COUNT], dones[TSE_PROBE_COUNT];
    int step_result[TSE_PROBE_COUNT];
    int results;
    tse_detect_result res;
};

static void on_event(void *user, const tse_detect_event *ev)
{
    struct rec *r = user;
    if (ev->type == TSE_DETECT_EV_STEP) {
        int i = (int)ev->step->probe;
        if (i < 0 || i >= TSE_PROBE_COUNT)
            return;
        if (ev->step->done) {
            r->dones[i]++;
            r->step_result[i] = ev->step->result;
        } else {
            r->starts[i]++;
        }
    } else if (ev->type == TSE_DETECT_EV_RESULT) {
        r->results++;
        r->res = *ev->result;
    }
}

static void base_settings(tse_detect_settings *s, const struct responder *r)
{
    tse_detect_settings_default(s);
    s->pcscf_host = "127.0.0.1";
    s->pcscf_port = r->sip_port;
    s->stun_host = "127.0.0.1";
    s->stun_port = r->stun_port;
    s->sip_timeout_ms = 1500;
    s->stun_timeout_ms = 1500;
    s->udp_rto_ms = 200;
}

static int run_detect(const tse_detect_settings *ds, const tse_settings *ts, struct rec *rec,
                      uint32_t max_ms, tse_posix_detect **keep)
{
    tse_posix_detect_config cfg;
    tse_posix_detect *pd = NULL;
    int rc;
    memset(&cfg, 0, sizeof cfg);
    memset(rec, 0, sizeof *rec);
    cfg.detect = ds;
    cfg.tunnel = ts;
    cfg.on_event = on_event;
    cfg.user = rec;
    rc = tse_posix_detect_new(&pd, &cfg);
    if (rc != TSE_OK)
        return rc;
    rc = tse_posix_detect_run(pd, max_ms);
    if (keep)
        *keep = pd;
    else
        tse_posix_detect_del(pd);
    return rc;
}

/* ---- tests ----------------------------------------------------------------- */

TT_TEST(direct_when_everything_answers_without_nat)
{
    struct responder r;
    tse_detect_settings ds;
    struct rec rec;
    tse_posix_detect *pd = NULL;
    int fds0 = tu_count_fds();
    TT_ASSERT(responder_start(&r, R_ANSWER) == 0);
    base_settings(&ds, &r);
    TT_EQ_INT(run_detect(&ds, NULL, &rec, 5000, &pd), TSE_OK);
    TT_EQ_INT(rec.results, 1);
    TT_EQ_INT(rec.res.path, TSE_PATH_DIRECT);
    TT_EQ_INT(rec.res.nat, 0);
    TT_EQ_INT(rec.res.sip_status, 200);
    TT_EQ_INT(rec.res.mapped.family, 4);
    TT_ASSERT(rec.res.elapsed_ms < 1000);
    TT_EQ_INT(rec.starts[TSE_PROBE_STUN_UDP], 1);
    TT_EQ_INT(rec.dones[TSE_PROBE_STUN_UDP], 1);
    TT_EQ_INT(rec.step_result[TSE_PROBE_STUN_UDP], TSE_OK);
    TT_EQ_INT(rec.starts[TSE_PROBE_SIP_UDP] + rec.starts[TSE_PROBE_SIP_TCP], 2);
    /* decided: every probe socket is closed, no tunnel was handed over */
    TT_EQ_INT(tse_posix_detect_open_count(pd), 0);
    TT_ASSERT(tse_posix_detect_tunnel(pd) == NULL);
    TT_ASSERT(tse_posix_detect_result(pd) != NULL);
    /* run again after the decision: TSE_OK at once */
    TT_EQ_INT(tse_posix_detect_run(pd, 10), TSE_OK);
    tse_posix_detect_del(pd);
    responder_stop(&r);
    TT_EQ_INT(tu_count_fds(), fds0);
}

TT_TEST(nat_traversal_when_stun_sees_another_address)
{
    struct responder r;
    tse_detect_settings ds;
    struct rec rec;
    TT_ASSERT(responder_start(&r, R_ANSWER | R_STUN_LIE) == 0);
    base_settings(&ds, &r);
    TT_EQ_INT(run_detect(&ds, NULL, &rec, 5000, NULL), TSE_OK);
    TT_EQ_INT(rec.res.path, TSE_PATH_NAT_TRAVERSAL);
    TT_EQ_INT(rec.res.nat, 1);
    responder_stop(&r);
}

TT_TEST(sip_only_udp_no_stun_is_nat_unknown)
{
    struct responder r;
    tse_detect_settings ds;
    struct rec rec;
    TT_ASSERT(responder_start(&r, R_ANSWER) == 0);
    base_settings(&ds, &r);
    ds.stun_host = NULL;
    ds.sip_tcp = 0;
    TT_EQ_INT(run_detect(&ds, NULL, &rec, 5000, NULL), TSE_OK);
    TT_EQ_INT(rec.res.path, TSE_PATH_NAT_TRAVERSAL);
    TT_EQ_INT(rec.res.nat, -1);
    TT_EQ_INT(rec.starts[TSE_PROBE_SIP_TCP], 0);
    responder_stop(&r);
}

TT_TEST(refused_everywhere_is_none_fast)
{
    tse_detect_settings ds;
    tse_settings ts;
    struct rec rec;
    struct responder fake;
    int fds0 = tu_count_fds();
    tse_posix_detect *pd = NULL;
    memset(&fake, 0, sizeof fake);
    fake.sip_port = closed_port(SOCK_DGRAM);
    fake.stun_port = closed_port(SOCK_DGRAM);
    base_settings(&ds, &fake);
    ds.tscf_host = "127.0.0.1";
    ds.tunnel_port_1 = closed_port(SOCK_STREAM);
    ds.tunnel_port_2 = closed_port(SOCK_STREAM);
    tse_settings_default(&ts);
    ts.server_host = "127.0.0.1";
    ts.tls_insecure_lab_only_skip_verify = 1;
    TT_EQ_INT(run_detect(&ds, &ts, &rec, 5000, &pd), TSE_OK);
    TT_EQ_INT(rec.res.path, TSE_PATH_NONE);
    /* ICMP port unreachable and TCP RST: no waiting for timeouts */
    TT_ASSERT(rec.res.elapsed_ms < 1000);
    TT_EQ_INT(rec.step_result[TSE_PROBE_SIP_TCP], TSE_ERR_TRANSPORT_REFUSED);
    TT_EQ_INT(rec.step_result[TSE_PROBE_STUN_UDP], TSE_ERR_TRANSPORT_REFUSED);
    TT_EQ_INT(rec.step_result[TSE_PROBE_TUNNEL_1], TSE_ERR_TRANSPORT_REFUSED);
    TT_EQ_INT(rec.step_result[TSE_PROBE_TUNNEL_2], TSE_ERR_TRANSPORT_REFUSED);
    TT_EQ_INT(rec.dones[TSE_PROBE_TUNNEL_2], 1);
    TT_EQ_INT(tse_posix_detect_open_count(pd), 0);
    tse_posix_detect_del(pd);
    TT_EQ_INT(tu_count_fds(), fds0);
}

/* Servers that never answer: the detector's timeouts decide; the runner's
 * max_ms bounds each run() call, and a later call goes on. */
TT_TEST(silent_servers_time_out_and_run_is_bounded)
{
    struct responder r;
    tse_detect_settings ds;
    struct rec rec;
    tse_posix_detect_config cfg;
    tse_posix_detect *pd = NULL;
    tse_time_ms t0;
    int rc, calls = 0;
    TT_ASSERT(responder_start(&r, R_SILENT) == 0);
    base_settings(&ds, &r);
    ds.sip_timeout_ms = 400;
    ds.stun_timeout_ms = 400;
    memset(&cfg, 0, sizeof cfg);
    memset(&rec, 0, sizeof rec);
    cfg.detect = &ds;
    cfg.on_event = on_event;
    cfg.user = &rec;
    TT_EQ_INT(tse_posix_detect_new(&pd, &cfg), TSE_OK);
    t0 = tse_posix_now_ms();
    TT_EQ_INT(tse_posix_detect_run(pd, 50), TSE_ERR_DETECT_TIMEOUT);
    TT_ASSERT(tse_posix_now_ms() - t0 < 300);
    TT_ASSERT(tse_posix_detect_result(pd) == NULL);
    TT_ASSERT(tse_posix_detect_open_count(pd) >= 2); /* UDP sockets + TCP */
    do {
        rc = tse_posix_detect_run(pd, 100);
    } while (rc == TSE_ERR_DETECT_TIMEOUT && ++calls < 50);
    TT_EQ_INT(rc, TSE_OK);
    TT_ASSERT(calls >= 2);
    TT_EQ_INT(rec.res.path, TSE_PATH_NONE);
    TT_EQ_INT(rec.step_result[TSE_PROBE_SIP_UDP], TSE_ERR_DETECT_TIMEOUT);
    TT_EQ_INT(rec.step_result[TSE_PROBE_STUN_UDP], TSE_ERR_DETECT_TIMEOUT);
    TT_ASSERT(rec.res.elapsed_ms >= 400 && rec.res.elapsed_ms < 1500);
    TT_EQ_INT(tse_posix_detect_open_count(pd), 0);
    tse_posix_detect_del(pd);
    responder_stop(&r);
}

/* A "TSCF" that accepts and hangs up at once: the tunnel probe fails with
 * the engine's error (not a timeout), the tunnel is deleted. */
TT_TEST(tunnel_probe_failure_reported_and_cleaned_up)
{
    tse_detect_settings ds;
    tse_settings ts;
    struct rec rec;
    tse_posix_detect *pd = NULL;
    uint16_t lp = 0;
    int lfd = bound4(SOCK_STREAM, &lp);
    int fds0;
    struct responder fake;
    tse_time_ms t0;
    int rc = TSE_ERR_DETECT_TIMEOUT, rounds;
    tse_posix_detect_config cfg;
    TT_ASSERT(lfd >= 0);
    fds0 = tu_count_fds();
    memset(&fake, 0, sizeof fake);
    fake.sip_port = closed_port(SOCK_DGRAM);
    fake.stun_port = closed_port(SOCK_DGRAM);
    base_settings(&ds, &fake);
    ds.tscf_host = "127.0.0.1";
    ds.tunnel_port_1 = lp;
    ds.tunnel_port_2 = 0;
    ds.tunnel_timeout_ms = 3000;
    tse_settings_default(&ts);
    ts.server_host = "127.0.0.1";
    ts.tls_insecure_lab_only_skip_verify = 1;
    memset(&cfg, 0, sizeof cfg);
    memset(&rec, 0, sizeof rec);
    cfg.detect = &ds;
    cfg.tunnel = &ts;
    cfg.on_event = on_event;
    cfg.user = &rec;
    TT_EQ_INT(tse_posix_detect_new(&pd, &cfg), TSE_OK);
    t0 = tse_posix_now_ms();
    for (rounds = 0; rounds < 100 && rc == TSE_ERR_DETECT_TIMEOUT; rounds++) {
        struct pollfd pf = {lfd, POLLIN, 0};
        rc = tse_posix_detect_run(pd, 20);
        if (poll(&pf, 1, 0) == 1) {
            int c = accept(lfd, NULL, NULL);
            if (c >= 0)
                close(c);
        }
    }
    TT_EQ_INT(rc, TSE_OK);
    TT_EQ_INT(rec.res.path, TSE_PATH_NONE);
    TT_ASSERT(rec.step_result[TSE_PROBE_TUNNEL_1] < 0);
    TT_ASSERT(rec.step_result[TSE_PROBE_TUNNEL_1] != TSE_ERR_DETECT_TIMEOUT);
    TT_EQ_INT(rec.starts[TSE_PROBE_TUNNEL_2], 0);
    TT_ASSERT(tse_posix_now_ms() - t0 < 2500);
    TT_EQ_INT(tse_posix_detect_open_count(pd), 0);
    TT_EQ_INT(tse_posix_driver_count(tse_posix_detect_driver(pd)), 0);
    tse_posix_detect_del(pd);
    TT_EQ_INT(tu_count_fds(), fds0);
    close(lfd);
}

TT_TEST(stop_flag_and_bad_arguments)
{
    struct responder r;
    tse_detect_settings ds;
    struct rec rec;
    tse_posix_detect_config cfg;
    tse_posix_detect *pd = NULL;
    volatile sig_atomic_t stop = 1;
    TT_ASSERT(responder_start(&r, R_SILENT) == 0);
    base_settings(&ds, &r);
    memset(&cfg, 0, sizeof cfg);
    cfg.detect = &ds;
    cfg.on_event = on_event;
    cfg.user = &rec;
    cfg.stop = &stop;
    memset(&rec, 0, sizeof rec);
    TT_EQ_INT(tse_posix_detect_new(&pd, &cfg), TSE_OK);
    TT_EQ_INT(tse_posix_detect_run(pd, 5000), TSE_ERR_DETECT_CANCELLED);
    TT_EQ_INT(rec.results, 0);
    tse_posix_detect_del(pd);
    responder_stop(&r);

    TT_EQ_INT(tse_posix_detect_new(NULL, &cfg), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_posix_detect_new(&pd, NULL), TSE_ERR_INVALID_ARG);
    cfg.on_event = NULL;
    TT_EQ_INT(tse_posix_detect_new(&pd, &cfg), TSE_ERR_INVALID_ARG);
    cfg.on_event = on_event;
    cfg.detect = NULL;
    TT_EQ_INT(tse_posix_detect_new(&pd, &cfg), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_posix_detect_run(NULL, 10), TSE_ERR_INVALID_ARG);
    TT_ASSERT(tse_posix_detect_result(NULL) == NULL);
    TT_ASSERT(tse_posix_detect_tunnel(NULL) == NULL);
    TT_EQ_INT(tse_posix_detect_open_count(NULL), 0);
    tse_posix_detect_del(NULL);
}

/* An unresolvable name fails the probes with RESOLVE, not a hang. */
TT_TEST(unresolvable_host)
{
    tse_detect_settings ds;
    struct rec rec;
    struct responder fake;
    memset(&fake, 0, sizeof fake);
    fake.sip_port = 5060;
    fake.stun_port = 3478;
    base_settings(&ds, &fake);
    ds.pcscf_host = "no-such-host.invalid";
    ds.stun_host = "no-such-host.invalid";
    TT_EQ_INT(run_detect(&ds, NULL, &rec, 5000, NULL), TSE_OK);
    TT_EQ_INT(rec.res.path, TSE_PATH_NONE);
    /* every name resolves in the port's resolver threads (never blocking
     * the loop): the probes fail with RESOLVE as their answers come, and
     * the decision ("none": no UDP path or no SIP, and no TSCF) may cancel
     * the rest */
    TT_ASSERT(rec.step_result[TSE_PROBE_SIP_UDP] == TSE_ERR_TRANSPORT_RESOLVE ||
              rec.step_result[TSE_PROBE_SIP_TCP] == TSE_ERR_TRANSPORT_RESOLVE ||
              rec.step_result[TSE_PROBE_STUN_UDP] == TSE_ERR_TRANSPORT_RESOLVE);
    TT_ASSERT(rec.step_result[TSE_PROBE_SIP_UDP] == TSE_ERR_TRANSPORT_RESOLVE ||
              rec.step_result[TSE_PROBE_SIP_UDP] == TSE_ERR_DETECT_CANCELLED);
    TT_ASSERT(rec.step_result[TSE_PROBE_STUN_UDP] == TSE_ERR_TRANSPORT_RESOLVE ||
              rec.step_result[TSE_PROBE_STUN_UDP] == TSE_ERR_DETECT_CANCELLED);
    TT_ASSERT(rec.step_result[TSE_PROBE_SIP_TCP] == TSE_ERR_TRANSPORT_RESOLVE ||
              rec.step_result[TSE_PROBE_SIP_TCP] == TSE_ERR_DETECT_CANCELLED);
}


#if TSE_CONFIG_DETECT_REUSE
/* TR 33.830 8.3 probes on the runner, without a TLS peer (the firewall
 * lab runs them against kamailio and coturn): refused ports fail both at
 * once; without a stream template they fail as not configured; a direct
 * decision closes 8.3 streams still connecting; nothing is left open. */
TT_TEST(reuse_probes_fail_fast_and_are_cleaned_up)
{
    tse_detect_settings ds;
    tse_stream_settings rs;
    tse_posix_detect_config cfg;
    struct rec rec;
    struct responder fake, r;
    tse_posix_detect *pd = NULL;
    uint16_t lp = 0;
    int lfd, fds0 = tu_count_fds(), k;

    /* 1: refused: no wait for the 8.3 timeout */
    memset(&fake, 0, sizeof fake);
    fake.sip_port = closed_port(SOCK_DGRAM);
    fake.stun_port = closed_port(SOCK_DGRAM);
    base_settings(&ds, &fake);
    ds.pcscf_tls_host = "127.0.0.1";
    ds.pcscf_tls_port = closed_port(SOCK_STREAM);
    ds.turn_host = "127.0.0.1";
    ds.turn_port = closed_port(SOCK_STREAM);
    ds.reuse_timeout_ms = 4000;
    tse_stream_settings_default(&rs);
    rs.tls_insecure_lab_only_skip_verify = 1;
    for (k = 0; k < 2; k++) {
        memset(&cfg, 0, sizeof cfg);
        memset(&rec, 0, sizeof rec);
        cfg.detect = &ds;
        cfg.on_event = on_event;
        cfg.user = &rec;
        if (k == 0) {
            cfg.reuse_stream = &rs;
            cfg.turn_user = "alice";
            cfg.turn_pass = "wonderland";
        }
        TT_EQ_INT(tse_posix_detect_new(&pd, &cfg), TSE_OK);
        TT_EQ_INT(tse_posix_detect_run(pd, 6000), TSE_OK);
        TT_EQ_INT(rec.res.path, TSE_PATH_NONE);
        TT_ASSERT(rec.res.elapsed_ms < 1000);
        TT_EQ_INT(rec.starts[TSE_PROBE_SIP_TLS], 1);
        TT_EQ_INT(rec.dones[TSE_PROBE_SIP_TLS], 1);
        TT_EQ_INT(rec.dones[TSE_PROBE_TURN_TLS], 1);
        if (k == 0) {
            /* one failed for itself; the other failed or was cancelled */
            TT_EQ_INT(rec.res.reuse_error, TSE_ERR_TRANSPORT_REFUSED);
            TT_ASSERT(rec.step_result[TSE_PROBE_TURN_TLS] == TSE_ERR_TRANSPORT_REFUSED ||
                      rec.step_result[TSE_PROBE_TURN_TLS] == TSE_ERR_DETECT_CANCELLED);
        } else {
            TT_EQ_INT(rec.res.reuse_error, TSE_ERR_DETECT_NOT_CONFIGURED);
        }
        TT_EQ_INT(tse_posix_detect_open_count(pd), 0);
        tse_posix_detect_del(pd);
        TT_EQ_INT(tu_count_fds(), fds0);
    }

    /* 2: SIP and STUN answer at once; the 8.3 targets accept nothing (a
     * listener never accept()ed: the TLS handshake never ends) */
    lfd = bound4(SOCK_STREAM, &lp);
    TT_ASSERT(lfd >= 0); /* listening, never accept()ing */
    fds0 = tu_count_fds();
    TT_ASSERT(responder_start(&r, R_ANSWER) == 0);
    base_settings(&ds, &r);
    ds.pcscf_tls_host = "127.0.0.1";
    ds.pcscf_tls_port = lp;
    ds.turn_host = "127.0.0.1";
    ds.turn_port = lp;
    memset(&cfg, 0, sizeof cfg);
    memset(&rec, 0, sizeof rec);
    cfg.detect = &ds;
    cfg.on_event = on_event;
    cfg.user = &rec;
    cfg.reuse_stream = &rs;
    cfg.turn_user = "alice";
    cfg.turn_pass = "wonderland";
    TT_EQ_INT(tse_posix_detect_new(&pd, &cfg), TSE_OK);
    TT_EQ_INT(tse_posix_detect_run(pd, 5000), TSE_OK);
    TT_EQ_INT(rec.res.path, TSE_PATH_DIRECT);
    TT_EQ_INT(rec.step_result[TSE_PROBE_SIP_TLS], TSE_ERR_DETECT_CANCELLED);
    TT_EQ_INT(rec.step_result[TSE_PROBE_TURN_TLS], TSE_ERR_DETECT_CANCELLED);
    TT_EQ_INT(tse_posix_detect_open_count(pd), 0);
    tse_posix_detect_del(pd);
    responder_stop(&r);
    TT_EQ_INT(tu_count_fds(), fds0);
    close(lfd);
}
#endif

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    TT_RUN(direct_when_everything_answers_without_nat);
    TT_RUN(nat_traversal_when_stun_sees_another_address);
    TT_RUN(sip_only_udp_no_stun_is_nat_unknown);
    TT_RUN(refused_everywhere_is_none_fast);
    TT_RUN(silent_servers_time_out_and_run_is_bounded);
    TT_RUN(tunnel_probe_failure_reported_and_cleaned_up);
    TT_RUN(stop_flag_and_bad_arguments);
#if TSE_CONFIG_DETECT_REUSE
    /* before unresolvable_host: its abandoned lookup closes its fds later,
     * which would upset an fd count taken meanwhile */
    TT_RUN(reuse_probes_fail_fast_and_are_cleaned_up);
#endif
    TT_RUN(unresolvable_host);
    return TT_DONE();
}
