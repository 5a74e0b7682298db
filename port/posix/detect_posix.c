/*
 * detect_posix.c: the POSIX runner of the detector (see tse_detect_posix.h).
 *
 * One poll(2) loop: the driver's tunnel sockets (tse_posix_driver_prepare /
 * _process) plus the runner's own UDP and TCP probe sockets.  Tunnel
 * callbacks only record what happened; the loop reports it to the detector
 * and carries out the detector's orders outside every callback, so no
 * tunnel is deleted from inside its own callback.
 */
#include "posix_feature.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "posix_resolve.h"
#include "tse_detect_posix.h"
#if TSE_CONFIG_DETECT_REUSE
#include "tse/stream.h"
#include "tse/turn.h"
#include "tse_posix_stream.h"
/* UDP x2, TCP attempts, the two 8.3 probes' streams */
#define OWN_FDS_MAX (2 + TSE_POSIX_MAX_ATTEMPTS + 2 * TSE_POSIX_STREAM_POLLFD_MAX)
#else
#define OWN_FDS_MAX (2 + TSE_POSIX_MAX_ATTEMPTS) /* UDP x2, TCP attempts */
#endif
#define UDP_READS_PER_ROUND 8
#define POLL_MAX_MS 1000

/* IO_UDP_RESOLVING: a UDP probe's name is being resolved (lookup fd
 * polled); its datagram waits in out[] */
enum io_kind { IO_NONE = 0, IO_UDP_RESOLVING, IO_UDP, IO_TCP, IO_TUN, IO_REUSE };

#if TSE_CONFIG_DETECT_REUSE
/* A TR 33.830 8.3 probe: a TLS stream (through the proxy when the order
 * says so) carrying SIP OPTIONS or a TURN Allocate.  Callbacks only
 * record; reuse_service() reports outside them. */
struct reuse_io {
    int probe;
    tse_stream *st;
    tse_posix_stream *ps;
    size_t fd_off, fd_n;       /* this round's pollfd entries */
    int polled;
    int up, down, err, proxy_status, reported;
    /* TURN over TLS (SIP over TLS: the detector builds and parses) */
    tse_turn turn;
    uint8_t ttx[2048], trx[2048];
    int turn_started, allocated, turn_failed, turn_err, stun_code;
};
#endif

struct tun_ctx {
    tse_posix_detect *pd;
    int probe;
    tse_tunnel *t;
    int up, down, reported, winner;
    int err, status;
};

struct probe_io {
    enum io_kind kind;
    int fd;                    /* UDP */
    tse_detect_addr local;     /* UDP: the connected socket's own address */
    tse_port_conn *conn;       /* TCP */
#if TSE_CONFIG_DETECT_REUSE
    struct reuse_io *ru;       /* IO_REUSE */
#endif
    posix_lookup lk;           /* IO_UDP_RESOLVING */
    int connected;
    uint8_t out[TSE_DETECT_REQ_MAX];
    size_t out_len, out_off;
};

struct tse_posix_detect {
    tse_detect det;
    tse_detect_settings ds;
    tse_settings ts;
    int has_ts;
#if TSE_CONFIG_DETECT_REUSE
    tse_stream_settings rs;
    int has_rs;
#endif
    tse_posix_detect_config cfg;
    tse_callbacks app_cb;
    int has_app_cb;
    tse_posix_driver *drv;
    struct probe_io io[TSE_PROBE_COUNT];
    struct tun_ctx tc[TSE_PROBE_COUNT];
    int started;
    tse_tunnel *winner;
    struct pollfd *fds;
    size_t fdcap;
};

/* ---- callbacks ---------------------------------------------------------- */

static void det_event(void *user, const tse_detect_event *ev)
{
    tse_posix_detect *pd = user;
    pd->cfg.on_event(pd->cfg.user, ev);
}

static int det_entropy(void *user, uint8_t *buf, size_t len)
{
    (void)user;
    return tse_posix_entropy(NULL, buf, len);
}

static void tun_event(void *user, const tse_event *ev)
{
    struct tun_ctx *tc = user;
    if (tc->winner) {
        if (tc->pd->has_app_cb && tc->pd->app_cb.on_event)
            tc->pd->app_cb.on_event(tc->pd->cfg.tunnel_user, ev);
        return;
    }
    if (ev->type == TSE_EV_TUNNEL_UP) {
        tc->up = 1;
    } else if (ev->type == TSE_EV_TUNNEL_DOWN ||
               (ev->type == TSE_EV_STATE && ev->state == TSE_STATE_CLOSED)) {
        if (!tc->down) {
            tc->down = 1;
            tc->err = ev->error < 0 ? ev->error : tse_tunnel_last_error(tc->t);
            if (tc->err >= 0)
                tc->err = TSE_ERR_CLOSED;
            tc->status = ev->proxy_status;
        }
    }
}

static void tun_packet(void *user, const uint8_t *pkt, size_t len)
{
    struct tun_ctx *tc = user;
    if (tc->winner && tc->pd->has_app_cb && tc->pd->app_cb.on_packet)
        tc->pd->app_cb.on_packet(tc->pd->cfg.tunnel_user, pkt, len);
}

/* ---- probe I/O ------------------------------------------------------------ */

static void io_close(tse_posix_detect *pd, int i)
{
    struct probe_io *io = &pd->io[i];
    struct tun_ctx *tc = &pd->tc[i];
    if (io->kind == IO_UDP && io->fd >= 0)
        close(io->fd);
    if (io->kind == IO_UDP_RESOLVING)
        posix_lookup_abandon(&io->lk);
    if (io->kind == IO_TCP && io->conn)
        tse_posix_port()->close(tse_posix_port()->user, io->conn);
#if TSE_CONFIG_DETECT_REUSE
    if (io->kind == IO_REUSE && io->ru) {
        /* no close_notify, no Refresh(0): a probe's stream is cut.  An
         * allocation made over TCP/TLS is bound to that connection (its
         * 5-tuple); the server drops it when the connection closes, and
         * at the latest when its lifetime ends */
        tse_posix_stream_del(io->ru->ps);
        tse_stream_del(io->ru->st);
        free(io->ru);
    }
#endif
    if (io->kind == IO_TUN && tc->t) {
        (void)tse_posix_driver_remove(pd->drv, tc->t);
        tse_tunnel_del(tc->t);
        if (pd->winner == tc->t)
            pd->winner = NULL;
    }
    memset(io, 0, sizeof *io);
    io->fd = -1;
    memset(tc, 0, sizeof *tc);
    tc->pd = pd;
    tc->probe = i;
}

static void fail(tse_posix_detect *pd, int i, int err, tse_time_ms now)
{
    io_close(pd, i);
    (void)tse_detect_probe_failed(&pd->det, (tse_probe_id)i, err, 0, now);
}

static void addr_from_sockaddr(const struct sockaddr_storage *ss, tse_detect_addr *a)
{
    memset(a, 0, sizeof *a);
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;
        a->family = 4;
        a->port = ntohs(s4->sin_port);
        memcpy(a->addr, &s4->sin_addr, 4);
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
        a->family = 6;
        a->port = ntohs(s6->sin6_port);
        memcpy(a->addr, &s6->sin6_addr, 16);
    }
}

/* Open and connect() the probe's UDP socket: the first address that takes. */
static int udp_open(struct probe_io *io, const posix_addrs *ad)
{
    int err = TSE_ERR_TRANSPORT_RESOLVE;
    size_t k;
    for (k = 0; k < ad->n; k++) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        int fd = socket(ad->addr[k].ss_family, SOCK_DGRAM, IPPROTO_UDP);
        if (fd < 0) {
            err = tse_posix_err_from_errno(errno);
            continue;
        }
        if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0 ||
            fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0 ||
            connect(fd, (const struct sockaddr *)&ad->addr[k], ad->len[k]) < 0 ||
            getsockname(fd, (struct sockaddr *)&ss, &sl) < 0) {
            err = tse_posix_err_from_errno(errno);
            close(fd);
            continue;
        }
        io->fd = fd;
        io->kind = IO_UDP;
        addr_from_sockaddr(&ss, &io->local);
        return TSE_OK;
    }
    return err;
}

/* Send the probe's datagram; a full socket buffer drops it (the detector
 * retransmits). */
static void udp_send(tse_posix_detect *pd, int i, const uint8_t *data, size_t len,
                     tse_time_ms now)
{
    struct probe_io *io = &pd->io[i];
    if (send(io->fd, data, len, 0) < 0 && errno != EAGAIN && errno != EWOULDBLOCK &&
        errno != ENOBUFS)
        fail(pd, i, tse_posix_err_from_errno(errno), now);
}

/* The UDP probe's name resolved (or not): open the socket, send what
 * waits. */
static void udp_resolved(tse_posix_detect *pd, int i, tse_time_ms now)
{
    struct probe_io *io = &pd->io[i];
    posix_addrs ad;
    int rc = posix_lookup_poll(&io->lk, &ad);
    if (rc == TSE_ERR_WOULD_BLOCK)
        return;
    io->kind = IO_NONE; /* the lookup is over */
    if (rc == TSE_OK)
        rc = udp_open(io, &ad);
    if (rc != TSE_OK) {
        fail(pd, i, rc, now);
        return;
    }
    udp_send(pd, i, io->out, io->out_len, now);
}

static void tcp_flush(tse_posix_detect *pd, int i, tse_time_ms now)
{
    struct probe_io *io = &pd->io[i];
    const tse_port *p = tse_posix_port();
    while (io->connected && io->out_off < io->out_len) {
        int32_t n = p->send(p->user, io->conn, io->out + io->out_off,
                            io->out_len - io->out_off);
        if (n == 0)
            return;
        if (n < 0) {
            fail(pd, i, n, now);
            return;
        }
        io->out_off += (size_t)n;
    }
}

static void tunnel_start(tse_posix_detect *pd, int i, const tse_detect_action *a,
                         tse_time_ms now)
{
    struct tun_ctx *tc = &pd->tc[i];
    tse_settings s;
    tse_callbacks cb;
    int rc;
    if (!pd->has_ts) {
        fail(pd, i, TSE_ERR_INVALID_ARG, now);
        return;
    }
    s = pd->ts;
    s.server_host = a->host;
    s.server_port = a->port;
    s.proxy_host = a->proxy_host;
    if (a->proxy_host)
        s.proxy_port = a->proxy_port;
    s.auto_reconnect = 0;
    s.server_port_2 = 0; /* a probe tries its own port (finish_run adds the other) */
    if (s.path_cache == NULL)
        s.path_cache = pd->ds.cache;
    memset(&cb, 0, sizeof cb);
    cb.on_event = tun_event;
    cb.on_packet = tun_packet;
    cb.entropy = det_entropy;
    memset(tc, 0, sizeof *tc);
    tc->pd = pd;
    tc->probe = i;
    rc = tse_tunnel_new(&tc->t, &s, &cb, tse_posix_mem(), tc);
    if (rc != TSE_OK) {
        tc->t = NULL;
        fail(pd, i, rc, now);
        return;
    }
    pd->io[i].kind = IO_TUN;
    /* the network the probe runs on: a tunnel that comes up there stores
     * its path in the shared cache (tse_settings::path_cache) */
    if (s.path_cache != NULL && pd->ds.network_id != NULL && pd->ds.network_id_len > 0)
        (void)tse_tunnel_network_changed(tc->t, pd->ds.network_id, pd->ds.network_id_len, now);
    rc = tse_posix_driver_add(pd->drv, tc->t);
    if (rc == TSE_OK)
        rc = tse_tunnel_start(tc->t, now);
    if (rc != TSE_OK)
        fail(pd, i, rc, now);
}

#if TSE_CONFIG_DETECT_REUSE
static void reuse_stream_event(void *user, const tse_stream_event *ev)
{
    struct reuse_io *ru = user;
    if (ev->type == TSE_STREAM_EV_UP) {
        ru->up = 1;
    } else if (ev->type == TSE_STREAM_EV_DOWN && !ru->down) {
        ru->down = 1;
        ru->err = ev->error < 0 ? ev->error : TSE_ERR_TRANSPORT_CLOSED;
        ru->proxy_status = ev->proxy_status;
    }
}

static void reuse_turn_event(void *user, const tse_turn_event *ev)
{
    struct reuse_io *ru = user;
    if (ev->type == TSE_TURN_EV_ALLOCATED) {
        ru->allocated = 1;
    } else if (ev->type == TSE_TURN_EV_FAILED && !ru->turn_failed) {
        ru->turn_failed = 1;
        ru->turn_err = ev->err < 0 ? ev->err : TSE_ERR_TURN_TIMEOUT;
        ru->stun_code = ev->stun_code;
    }
}

static void reuse_start(tse_posix_detect *pd, int i, const tse_detect_action *a, tse_time_ms now)
{
    struct probe_io *io = &pd->io[i];
    struct reuse_io *ru;
    tse_stream_settings ss;
    tse_stream_callbacks cb;
    int rc;
    if (!pd->has_rs || !a->host) {
        fail(pd, i, TSE_ERR_DETECT_NOT_CONFIGURED, now);
        return;
    }
    ru = calloc(1, sizeof *ru);
    if (!ru) {
        fail(pd, i, TSE_ERR_NO_MEMORY, now);
        return;
    }
    ru->probe = i;
    io->kind = IO_REUSE;
    io->ru = ru;
    ss = pd->rs;
    ss.host = a->host;
    ss.port = a->port;
    ss.proxy_host = a->proxy_host;
    if (a->proxy_host)
        ss.proxy_port = a->proxy_port;
    memset(&cb, 0, sizeof cb);
    cb.on_event = reuse_stream_event;
    cb.entropy = tse_posix_entropy;
    rc = tse_stream_new(&ru->st, &ss, &cb, tse_posix_mem(), ru);
    if (rc == TSE_OK)
        rc = tse_posix_stream_new(&ru->ps, ru->st, NULL);
    if (rc == TSE_OK)
        rc = tse_stream_start(ru->st, now);
    if (rc == TSE_OK && i == TSE_PROBE_SIP_TLS) {
        /* the detector's OPTIONS, queued: it goes out once TLS is up */
        rc = a->data && a->len ? tse_stream_send(ru->st, a->data, a->len, now)
                               : TSE_ERR_INVALID_ARG;
    } else if (rc == TSE_OK) {
        tse_turn_settings ts;
        tse_turn_settings_default(&ts);
        ts.transport = TSE_TURN_STREAM;
        ts.username = pd->cfg.turn_user;
        ts.password = pd->cfg.turn_pass;
        ts.entropy = tse_posix_entropy;
        ts.on_event = reuse_turn_event;
        ts.user = ru;
        rc = tse_turn_init(&ru->turn, &ts, ru->ttx, sizeof ru->ttx, ru->trx, sizeof ru->trx);
    }
    if (rc != TSE_OK)
        fail(pd, i, rc, now); /* io_close() frees what exists */
}

/* Move bytes between the TURN client and the stream. */
static void reuse_turn_pump(struct reuse_io *ru, tse_time_ms now)
{
    int guard;
    for (guard = 0; guard < 16; guard++) {
        uint8_t b[2048];
        int n = tse_stream_recv(ru->st, b, sizeof b, now);
        if (n <= 0)
            break;
        if (tse_turn_recv(&ru->turn, b, (size_t)n, now) != TSE_OK &&
            tse_turn_get_state(&ru->turn) == TSE_TURN_FAILED && !ru->turn_failed) {
            ru->turn_failed = 1;
            ru->turn_err = tse_turn_error(&ru->turn);
            if (ru->turn_err >= 0)
                ru->turn_err = TSE_ERR_TURN_TIMEOUT;
        }
    }
    for (guard = 0; guard < 16; guard++) {
        const uint8_t *p;
        size_t n = tse_turn_pending(&ru->turn, &p), space = tse_stream_send_space(ru->st);
        if (n == 0 || space == 0)
            break;
        if (n > space)
            n = space;
        if (tse_stream_send(ru->st, p, n, now) != TSE_OK)
            break;
        tse_turn_consume(&ru->turn, n);
    }
    if (tse_turn_expiry(&ru->turn) <= now)
        (void)tse_turn_handle_expiry(&ru->turn, now);
}

/* Look at what an 8.3 probe's stream did; report the outcome once. */
static void reuse_service(tse_posix_detect *pd, int i, tse_time_ms now)
{
    struct reuse_io *ru = pd->io[i].ru;
    int ok = 0, err = TSE_OK, status = 0;
    if (!ru || ru->reported)
        return;
    if (ru->up && i == TSE_PROBE_SIP_TLS) {
        /* the detector parses the answer and finishes the probe itself
         * (then its CLOSE order comes, and this stops) */
        int guard;
        for (guard = 0; guard < 16; guard++) {
            uint8_t b[1024];
            int n = tse_stream_recv(ru->st, b, sizeof b, now);
            if (n <= 0)
                break;
            if (tse_detect_tcp_recv(&pd->det, (tse_probe_id)i, b, (size_t)n, now) != TSE_OK) {
                ru->reported = 1; /* no longer running: decided or finished */
                return;
            }
        }
    } else if (ru->up && !ru->down) {
        if (!ru->turn_started) {
            ru->turn_started = 1;
            (void)tse_turn_allocate(&ru->turn, now);
        }
        reuse_turn_pump(ru, now);
        if (ru->allocated)
            ok = 1;
        else if (ru->turn_failed) {
            err = ru->turn_err;
            status = ru->stun_code;
        }
    }
    if (!ok && err == TSE_OK && ru->down) {
        err = ru->err;
        status = ru->proxy_status;
    }
    if (!ok && err == TSE_OK)
        return;
    ru->reported = 1; /* the detector's CLOSE order frees ru */
    if (ok)
        (void)tse_detect_reuse_ok(&pd->det, (tse_probe_id)i, status, now);
    else
        (void)tse_detect_probe_failed(&pd->det, (tse_probe_id)i, err, status, now);
}
#endif /* TSE_CONFIG_DETECT_REUSE */

/* Carry out every order the detector has. */
static void do_actions(tse_posix_detect *pd)
{
    tse_detect_action a;
    unsigned guard = 0;
    const tse_port *p = tse_posix_port();
    while (guard++ < 64 && tse_detect_next_action(&pd->det, &a)) {
        int i = (int)a.probe;
        struct probe_io *io = &pd->io[i];
        tse_time_ms now = tse_posix_now_ms();
        int rc;
        switch (a.type) {
        case TSE_DETECT_ACT_UDP_SEND:
            if (io->kind == IO_UDP) {
                udp_send(pd, i, a.data, a.len, now); /* a retransmission */
                break;
            }
            if (!a.host || a.len > sizeof io->out) {
                fail(pd, i, a.host ? TSE_ERR_BUFFER_TOO_SMALL : TSE_ERR_INVALID_ARG, now);
                break;
            }
            /* the first send, or a retransmission while resolving: the
             * latest datagram waits for the address */
            memcpy(io->out, a.data, a.len);
            io->out_len = a.len;
            if (io->kind == IO_UDP_RESOLVING)
                break;
            {
                posix_addrs ad;
                rc = posix_lookup_start(&io->lk, a.host, a.port, &ad);
                if (rc == TSE_ERR_WOULD_BLOCK) {
                    io->kind = IO_UDP_RESOLVING;
                    break;
                }
                if (rc == TSE_OK)
                    rc = udp_open(io, &ad);
                if (rc != TSE_OK) {
                    fail(pd, i, rc, now);
                    break;
                }
            }
            udp_send(pd, i, io->out, io->out_len, now);
            break;
        case TSE_DETECT_ACT_TCP_CONNECT:
            io_close(pd, i);
            rc = a.host ? p->connect_start(p->user, a.host, a.port, &io->conn)
                        : TSE_ERR_INVALID_ARG;
            if (rc != TSE_OK) {
                io->conn = NULL;
                fail(pd, i, rc, now);
                break;
            }
            io->kind = IO_TCP;
            break;
        case TSE_DETECT_ACT_TCP_SEND:
            if (io->kind != IO_TCP || a.len > sizeof io->out) {
                fail(pd, i, io->kind != IO_TCP ? TSE_ERR_STATE : TSE_ERR_BUFFER_TOO_SMALL, now);
                break;
            }
            memcpy(io->out, a.data, a.len);
            io->out_len = a.len;
            io->out_off = 0;
            tcp_flush(pd, i, now);
            break;
        case TSE_DETECT_ACT_TUNNEL_START:
            io_close(pd, i);
            tunnel_start(pd, i, &a, now);
            break;
        case TSE_DETECT_ACT_REUSE_START:
            io_close(pd, i);
#if TSE_CONFIG_DETECT_REUSE
            reuse_start(pd, i, &a, now);
#else
            fail(pd, i, TSE_ERR_DETECT_NOT_CONFIGURED, now);
#endif
            break;
        case TSE_DETECT_ACT_CLOSE:
            io_close(pd, i);
            break;
        default:
            break;
        }
    }
}

/* Report what the tunnel callbacks recorded. */
static void tunnel_reports(tse_posix_detect *pd)
{
    int i;
    for (i = TSE_PROBE_TUNNEL_1; i <= TSE_PROBE_TUNNEL_2; i++) {
        struct tun_ctx *tc = &pd->tc[i];
        tse_time_ms now = tse_posix_now_ms();
        if (!tc->t || tc->reported || tc->winner)
            continue;
        if (tc->down) {
            int err = tc->err, status = tc->status;
            tc->reported = 1;
            io_close(pd, i);
            (void)tse_detect_probe_failed(&pd->det, (tse_probe_id)i, err, status, now);
        } else if (tc->up) {
            tc->reported = 1;
            (void)tse_detect_tunnel_up(&pd->det, (tse_probe_id)i, now);
        }
    }
}

/* 1 if a tunnel callback recorded something not yet reported. */
static int tunnels_pending(const tse_posix_detect *pd)
{
    int i;
    for (i = TSE_PROBE_TUNNEL_1; i <= TSE_PROBE_TUNNEL_2; i++) {
        const struct tun_ctx *tc = &pd->tc[i];
        if (tc->t && !tc->reported && !tc->winner && (tc->up || tc->down))
            return 1;
    }
    return 0;
}

/* ---- API -------------------------------------------------------------------- */

int tse_posix_detect_new(tse_posix_detect **out, const tse_posix_detect_config *cfg)
{
    tse_posix_detect *pd;
    tse_detect_callbacks dcb;
    int rc, i;
    if (!out || !cfg || !cfg->detect || !cfg->on_event)
        return TSE_ERR_INVALID_ARG;
    *out = NULL;
    pd = calloc(1, sizeof *pd);
    if (!pd)
        return TSE_ERR_NO_MEMORY;
    pd->cfg = *cfg;
    pd->ds = *cfg->detect;
    if (cfg->tunnel) {
        pd->ts = *cfg->tunnel;
        pd->has_ts = 1;
    }
    if (cfg->tunnel_cb) {
        pd->app_cb = *cfg->tunnel_cb;
        pd->has_app_cb = 1;
    }
#if TSE_CONFIG_DETECT_REUSE
    if (cfg->reuse_stream) {
        pd->rs = *cfg->reuse_stream;
        pd->has_rs = 1;
    }
#endif
    for (i = 0; i < TSE_PROBE_COUNT; i++) {
        pd->io[i].fd = -1;
        pd->tc[i].pd = pd;
        pd->tc[i].probe = i;
    }
    memset(&dcb, 0, sizeof dcb);
    dcb.on_event = det_event;
    dcb.entropy = det_entropy;
    dcb.user = pd;
    rc = tse_detect_init(&pd->det, &pd->ds, &dcb);
    if (rc == TSE_OK)
        rc = tse_posix_driver_new(&pd->drv);
    if (rc != TSE_OK) {
        free(pd);
        return rc;
    }
    *out = pd;
    return TSE_OK;
}

static int grow_fds(tse_posix_detect *pd, size_t need)
{
    struct pollfd *n;
    if (need <= pd->fdcap)
        return 0;
    n = realloc(pd->fds, need * sizeof *n);
    if (!n)
        return -1;
    pd->fds = n;
    pd->fdcap = need;
    return 0;
}

/* After the decision: hand the winner over, close the rest. */
static void finish_run(tse_posix_detect *pd)
{
    const tse_detect_result *r = tse_detect_get_result(&pd->det);
    do_actions(pd);
    if (r && r->tunnel_probe >= 0 && r->tunnel_probe < TSE_PROBE_COUNT &&
        pd->tc[r->tunnel_probe].t && !pd->winner) {
        tse_outer_path op;
        pd->tc[r->tunnel_probe].winner = 1;
        pd->winner = pd->tc[r->tunnel_probe].t;
        /* From now on it is the application's tunnel: it reconnects as the
         * template says, and it has both ports, the one that won first. */
        memset(&op, 0, sizeof op);
        op.server_port = r->tunnel_port;
        op.server_port_2 = r->tunnel_port == pd->ds.tunnel_port_1 ? pd->ds.tunnel_port_2
                                                                  : pd->ds.tunnel_port_1;
        if (op.server_port_2 == op.server_port)
            op.server_port_2 = 0;
        op.proxy_host = pd->ds.proxy_host;
        op.proxy_port = pd->ds.proxy_port;
        if (op.proxy_host != NULL) {
            op.proxy_user = pd->ts.proxy_user;
            op.proxy_pass = pd->ts.proxy_pass;
        }
        (void)tse_tunnel_set_outer_path(pd->winner, &op);
        (void)tse_tunnel_set_auto_reconnect(pd->winner, pd->ts.auto_reconnect);
    }
}

int tse_posix_detect_run(tse_posix_detect *pd, uint32_t max_ms)
{
    const tse_port *p = tse_posix_port();
    tse_time_ms end;
    int rc;
    if (!pd)
        return TSE_ERR_INVALID_ARG;
    if (!pd->started) {
        rc = tse_detect_start(&pd->det, tse_posix_now_ms());
        if (rc != TSE_OK)
            return rc;
        pd->started = 1;
    }
    end = tse_posix_now_ms() + max_ms;
    for (;;) {
        size_t ntun = 0, nfd, k;
        int owner[OWN_FDS_MAX];
        int drv_to, to, i, prc;
        tse_time_ms now, dl;

        do_actions(pd);
        tunnel_reports(pd);
        do_actions(pd);
        if (tse_detect_done(&pd->det)) {
            finish_run(pd);
            return TSE_OK;
        }
        if (pd->cfg.stop && *pd->cfg.stop)
            return TSE_ERR_DETECT_CANCELLED;
        now = tse_posix_now_ms();
        if (now >= end)
            return TSE_ERR_DETECT_TIMEOUT;

        if (grow_fds(pd, tse_posix_driver_pollfd_max(pd->drv) + OWN_FDS_MAX) < 0)
            return TSE_ERR_NO_MEMORY;
        rc = tse_posix_driver_prepare(pd->drv, pd->fds, pd->fdcap, &ntun, &drv_to);
        if (rc != TSE_OK)
            return rc;
        nfd = ntun;
        dl = tse_detect_expiry(&pd->det);
        if (end < dl)
            dl = end;
        for (i = 0; i < TSE_PROBE_COUNT; i++) {
            struct probe_io *io = &pd->io[i];
            if (io->kind == IO_UDP || io->kind == IO_UDP_RESOLVING) {
                pd->fds[nfd].fd = io->kind == IO_UDP ? io->fd : io->lk.fd;
                pd->fds[nfd].events = POLLIN;
                pd->fds[nfd].revents = 0;
                owner[nfd - ntun] = i;
                nfd++;
                if (io->kind == IO_UDP_RESOLVING && io->lk.deadline < dl)
                    dl = io->lk.deadline;
            } else if (io->kind == IO_TCP) {
                size_t m = tse_posix_conn_pollfds(io->conn, pd->fds + nfd,
                                                  pd->fdcap - nfd);
                for (k = 0; k < m; k++) {
                    if (io->connected)
                        pd->fds[nfd + k].events = (short)(POLLIN |
                            (io->out_off < io->out_len ? POLLOUT : 0));
                    pd->fds[nfd + k].revents = 0;
                    owner[nfd - ntun + k] = i;
                }
                nfd += m;
                if (!io->connected && tse_posix_conn_deadline(io->conn) < dl)
                    dl = tse_posix_conn_deadline(io->conn);
            }
#if TSE_CONFIG_DETECT_REUSE
            else if (io->kind == IO_REUSE && io->ru && io->ru->ps) {
                struct reuse_io *ru = io->ru;
                size_t m = 0;
                int sto = -1;
                ru->polled = 0;
                if (tse_posix_stream_prepare(ru->ps, pd->fds + nfd, pd->fdcap - nfd, &m,
                                             &sto) == TSE_OK) {
                    ru->polled = 1;
                    ru->fd_off = nfd;
                    ru->fd_n = m;
                    for (k = 0; k < m; k++)
                        owner[nfd - ntun + k] = i;
                    nfd += m;
                    if (sto >= 0 && tse_posix_now_ms() + (tse_time_ms)sto < dl)
                        dl = tse_posix_now_ms() + (tse_time_ms)sto;
                }
                /* prepare() may have ended the stream (a timer): report it
                 * without sleeping */
                if (ru->down && !ru->reported)
                    dl = tse_posix_now_ms();
            }
#endif
        }
        now = tse_posix_now_ms();
        to = dl == TSE_TIME_NEVER ? POLL_MAX_MS
             : dl <= now ? 0
             : (dl - now > POLL_MAX_MS ? POLL_MAX_MS : (int)(dl - now));
        if (drv_to >= 0 && drv_to < to)
            to = drv_to;
        /* prepare() serviced the tunnels and may have recorded an up or a
         * down: do not sleep, report it after process() (the driver's
         * tunnel set must not change between prepare() and process()) */
        if (tse_detect_want(&pd->det) || tunnels_pending(pd))
            to = 0;

        prc = poll(pd->fds, (nfds_t)nfd, to);
        if (prc < 0 && errno != EINTR)
            return TSE_ERR_TRANSPORT_IO;
        if (prc < 0) {
            for (k = 0; k < nfd; k++)
                pd->fds[k].revents = 0;
        }
        rc = tse_posix_driver_process(pd->drv, pd->fds, ntun);
        if (rc != TSE_OK)
            return rc;

        /* own sockets */
        for (k = ntun; k < nfd; k++) {
            short re = pd->fds[k].revents;
            int pi = owner[k - ntun];
            struct probe_io *io = &pd->io[pi];
            now = tse_posix_now_ms();
            if (io->kind == IO_REUSE)
                continue; /* its stream driver handles its entries below */
            if (io->kind == IO_UDP_RESOLVING && pd->fds[k].fd == io->lk.fd) {
                udp_resolved(pd, pi, now); /* also past the deadline, re = 0 */
                continue;
            }
            if (!re)
                continue;
            if (io->kind == IO_UDP && pd->fds[k].fd == io->fd) {
                int n;
                for (n = 0; n < UDP_READS_PER_ROUND && io->kind == IO_UDP; n++) {
                    uint8_t buf[2048];
                    ssize_t got = recv(io->fd, buf, sizeof buf, 0);
                    if (got < 0) {
                        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                            break;
                        fail(pd, pi, tse_posix_err_from_errno(errno), now);
                        break;
                    }
                    (void)tse_detect_udp_recv(&pd->det, (tse_probe_id)pi, buf, (size_t)got,
                                              &io->local, now);
                    if (tse_detect_done(&pd->det) || tse_detect_want(&pd->det))
                        break; /* the socket may be closed by the next order */
                }
            } else if (io->kind == IO_TCP && io->conn) {
                if (!io->connected) {
                    rc = p->connect_poll(p->user, io->conn);
                    if (rc == TSE_OK) {
                        io->connected = 1;
                        (void)tse_detect_tcp_connected(&pd->det, (tse_probe_id)pi, now);
                    } else if (rc != TSE_ERR_WOULD_BLOCK) {
                        fail(pd, pi, rc, now);
                    }
                    /* other entries of this connection are stale now */
                    while (k + 1 < nfd && owner[k + 1 - ntun] == pi)
                        k++;
                    continue;
                }
                if (re & (POLLIN | POLLHUP | POLLERR | POLLNVAL)) {
                    uint8_t buf[2048];
                    int32_t got = p->recv(p->user, io->conn, buf, sizeof buf);
                    if (got > 0)
                        (void)tse_detect_tcp_recv(&pd->det, (tse_probe_id)pi, buf,
                                                  (size_t)got, now);
                    else if (got < 0)
                        fail(pd, pi, got, now);
                }
                if (io->kind == IO_TCP && (re & POLLOUT))
                    tcp_flush(pd, pi, now);
            }
        }
#if TSE_CONFIG_DETECT_REUSE
        /* the 8.3 probes' streams: their poll results, then what came of them */
        for (i = 0; i < TSE_PROBE_COUNT; i++) {
            struct probe_io *io = &pd->io[i];
            if (io->kind != IO_REUSE || !io->ru || !io->ru->ps)
                continue;
            if (io->ru->polled)
                (void)tse_posix_stream_process(io->ru->ps, pd->fds + io->ru->fd_off, io->ru->fd_n);
            io->ru->polled = 0;
            reuse_service(pd, i, tse_posix_now_ms());
        }
#endif
        /* happy-eyeballs: next TCP attempt due without socket activity */
        for (i = 0; i < TSE_PROBE_COUNT; i++) {
            struct probe_io *io = &pd->io[i];
            now = tse_posix_now_ms();
            if (io->kind == IO_TCP && !io->connected &&
                tse_posix_conn_deadline(io->conn) <= now) {
                rc = p->connect_poll(p->user, io->conn);
                if (rc == TSE_OK) {
                    io->connected = 1;
                    (void)tse_detect_tcp_connected(&pd->det, (tse_probe_id)i, now);
                } else if (rc != TSE_ERR_WOULD_BLOCK) {
                    fail(pd, i, rc, now);
                }
            }
        }
        now = tse_posix_now_ms();
        if (!tse_detect_done(&pd->det) && tse_detect_expiry(&pd->det) <= now)
            (void)tse_detect_handle_expiry(&pd->det, now);
    }
}

const tse_detect_result *tse_posix_detect_result(const tse_posix_detect *pd)
{
    return pd ? tse_detect_get_result(&pd->det) : NULL;
}

tse_tunnel *tse_posix_detect_tunnel(tse_posix_detect *pd)
{
    return pd ? pd->winner : NULL;
}

tse_posix_driver *tse_posix_detect_driver(tse_posix_detect *pd)
{
    return pd ? pd->drv : NULL;
}

unsigned tse_posix_detect_open_count(const tse_posix_detect *pd)
{
    unsigned n = 0;
    int i;
    if (!pd)
        return 0;
    for (i = 0; i < TSE_PROBE_COUNT; i++)
        if (pd->io[i].kind != IO_NONE)
            n++;
    return n;
}

void tse_posix_detect_del(tse_posix_detect *pd)
{
    int i;
    if (!pd)
        return;
    for (i = 0; i < TSE_PROBE_COUNT; i++)
        io_close(pd, i);
    tse_posix_driver_del(pd->drv);
    free(pd->fds);
    free(pd);
}
