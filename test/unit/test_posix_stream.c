/* The POSIX stream driver (port/posix/tse_posix_stream.h) over real
 * loopback TCP, with mem_tscf as the TLS echo server in this thread: 60 kB
 * through a 256-byte receive buffer read slowly (the driver keeps the
 * ciphertext the stream cannot take, and stops reading the socket), a
 * refused connect, and a server that goes away without close_notify.
 * No root needed; every wait is bounded (wall clock). */
#include "posix_feature.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mem_tscf.h"
#include "test_pki.h"
#include "tse/stream.h"
#include "tse_posix.h"
#include "tse_posix_stream.h"
#include "tt.h"

static struct {
    int downs, err, ups;
} E;

static void on_event(void *user, const tse_stream_event *ev)
{
    (void)user;
    if (ev->type == TSE_STREAM_EV_UP) E.ups++;
    if (ev->type == TSE_STREAM_EV_DOWN) {
        E.downs++;
        E.err = ev->error;
    }
}

static const tse_stream_callbacks CB = { on_event, tse_posix_entropy };

static int listener(uint16_t *port)
{
    struct sockaddr_in a;
    socklen_t l = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 4) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &l) != 0)
        return -1;
    *port = ntohs(a.sin_port);
    return fd;
}

static void settings(tse_stream_settings *s, uint16_t port)
{
    const test_pki *pki = test_pki_get();
    tse_stream_settings_default(s);
    s->host = "127.0.0.1";
    s->port = port;
    s->sni = "tscf.test";
    s->ca = (const uint8_t *)pki->ca_pem;
    s->ca_len = strlen(pki->ca_pem) + 1;
    s->recv_buf = 256;
    s->connect_timeout_ms = 3000;
    s->tls_timeout_ms = 3000;
}

/* The server side: accept, then move bytes between the socket and
 * mem_tscf. */
typedef struct srv {
    int lfd, cfd;
    mem_tscf *peer;
    tse_time_ms clock;
} srv;

static void srv_step(srv *v, const struct pollfd *p)
{
    v->clock = tse_posix_now_ms();
    if (v->cfd < 0 && (p[0].revents & POLLIN)) {
        v->cfd = accept(v->lfd, NULL, NULL);
        if (v->cfd >= 0) {
            fcntl(v->cfd, F_SETFL, fcntl(v->cfd, F_GETFL) | O_NONBLOCK);
            mem_tscf_conn_open(v->peer);
        }
    }
    if (v->cfd >= 0) {
        uint8_t b[4096];
        const uint8_t *o;
        size_t n;
        for (int i = 0; i < 64; i++) {
            ssize_t r = recv(v->cfd, b, sizeof b, 0);
            if (r <= 0) break;
            mem_tscf_conn_input(v->peer, b, (size_t)r);
        }
        while ((n = mem_tscf_conn_output(v->peer, &o)) > 0) {
            ssize_t w = send(v->cfd, o, n, MSG_NOSIGNAL);
            if (w <= 0) break;
            mem_tscf_conn_consume(v->peer, (size_t)w);
        }
    }
}

TT_TEST(echo_through_real_sockets)
{
    static uint8_t msg[60000], got[60000];
    size_t sent = 0, have = 0, full = 0;
    tse_stream_settings s;
    tse_stream *st = NULL;
    tse_posix_stream *ps = NULL;
    mt_cfg cfg;
    srv v;
    uint16_t port = 0;
    tse_time_ms end;
    memset(&E, 0, sizeof E);
    memset(&v, 0, sizeof v);
    v.cfd = -1;
    v.lfd = listener(&port);
    TT_ASSERT(v.lfd >= 0);
    mt_cfg_default(&cfg);
    cfg.app_raw = 1;
    cfg.app_echo = 1;
    v.peer = mem_tscf_new(&cfg);
    mem_tscf_set_clock(v.peer, &v.clock);
    for (size_t i = 0; i < sizeof msg; i++) msg[i] = (uint8_t)(i * 13 + (i >> 10));
    settings(&s, port);
    TT_EQ_INT(tse_stream_new(&st, &s, &CB, tse_posix_mem(), NULL), TSE_OK);
    TT_EQ_INT(tse_posix_stream_new(&ps, st, NULL), TSE_OK);
    TT_EQ_INT(tse_stream_start(st, tse_posix_now_ms()), TSE_OK);
    end = tse_posix_now_ms() + 20000;
    while (have < sizeof msg && tse_posix_now_ms() < end &&
           tse_stream_get_state(st) != TSE_STREAM_DOWN) {
        struct pollfd p[2];
        size_t np = 1;
        int n;
        p[0].fd = v.lfd;
        p[0].events = POLLIN;
        if (v.cfd >= 0) {
            p[1].fd = v.cfd;
            p[1].events = POLLIN;
            np = 2;
        }
        /* no sleep while the reader has work */
        TT_EQ_INT(tse_posix_stream_step(ps, p, np, tse_stream_readable(st) > 0 ? 0 : 20), TSE_OK);
        if (tse_stream_readable(st) == 256 && !(tse_stream_want(st) & TSE_WANT_READ))
            full++;
        srv_step(&v, p);
        if (sent < sizeof msg) {
            size_t k = sizeof msg - sent, sp = tse_stream_send_space(st);
            if (k > sp) k = sp;
            if (k > 0 && tse_stream_send(st, msg + sent, k, tse_posix_now_ms()) == TSE_OK)
                sent += k;
        }
        /* a slow reader: 100 bytes per round */
        n = tse_stream_recv(st, got + have, 100, tse_posix_now_ms());
        if (n > 0) have += (size_t)n;
    }
    TT_EQ_INT(E.ups, 1);
    TT_EQ_INT(E.downs, 0);
    TT_EQ_INT(have, sizeof msg);
    TT_EQ_MEM(got, msg, sizeof msg);
    TT_ASSERT(full > 0); /* the receive buffer was full: the driver held back */
    /* graceful close: the server sees close_notify */
    TT_EQ_INT(tse_stream_close(st, tse_posix_now_ms()), TSE_OK);
    end = tse_posix_now_ms() + 5000;
    while (tse_posix_now_ms() < end && !mem_tscf_seen(v.peer)->close_notify) {
        struct pollfd p[2] = { { v.lfd, POLLIN, 0 }, { v.cfd, POLLIN, 0 } };
        tse_posix_stream_step(ps, p, 2, 20);
        srv_step(&v, p);
    }
    TT_ASSERT(mem_tscf_seen(v.peer)->close_notify);
    TT_EQ_INT(tse_stream_last_error(st), TSE_ERR_CLOSED);
    tse_posix_stream_del(ps);
    tse_stream_del(st);
    mem_tscf_free(v.peer);
    close(v.cfd);
    close(v.lfd);
}

TT_TEST(refused_and_cut)
{
    tse_stream_settings s;
    tse_stream *st = NULL;
    tse_posix_stream *ps = NULL;
    uint16_t port = 0;
    tse_time_ms end;
    int lfd, cfd = -1;
    /* a port nobody listens on */
    memset(&E, 0, sizeof E);
    lfd = listener(&port);
    TT_ASSERT(lfd >= 0);
    close(lfd);
    settings(&s, port);
    TT_EQ_INT(tse_stream_new(&st, &s, &CB, tse_posix_mem(), NULL), TSE_OK);
    TT_EQ_INT(tse_posix_stream_new(&ps, st, NULL), TSE_OK);
    TT_EQ_INT(tse_stream_start(st, tse_posix_now_ms()), TSE_OK);
    end = tse_posix_now_ms() + 5000;
    while (tse_posix_now_ms() < end && tse_stream_get_state(st) != TSE_STREAM_DOWN)
        tse_posix_stream_step(ps, NULL, 0, 50);
    TT_EQ_INT(E.err, TSE_ERR_TRANSPORT_REFUSED);
    tse_posix_stream_del(ps);
    tse_stream_del(st);

    /* a server that accepts and closes at once (no TLS, no close_notify) */
    memset(&E, 0, sizeof E);
    lfd = listener(&port);
    TT_ASSERT(lfd >= 0);
    settings(&s, port);
    TT_EQ_INT(tse_stream_new(&st, &s, &CB, tse_posix_mem(), NULL), TSE_OK);
    TT_EQ_INT(tse_posix_stream_new(&ps, st, NULL), TSE_OK);
    TT_EQ_INT(tse_stream_start(st, tse_posix_now_ms()), TSE_OK);
    end = tse_posix_now_ms() + 5000;
    while (tse_posix_now_ms() < end && tse_stream_get_state(st) != TSE_STREAM_DOWN) {
        struct pollfd p[1] = { { lfd, POLLIN, 0 } };
        tse_posix_stream_step(ps, p, 1, 50);
        if (cfd < 0 && (p[0].revents & POLLIN)) {
            cfd = accept(lfd, NULL, NULL);
            if (cfd >= 0) close(cfd);
        }
    }
    TT_ASSERT(cfd >= 0);
    TT_ASSERT(E.err == TSE_ERR_TRANSPORT_CLOSED || E.err == TSE_ERR_TRANSPORT_RESET);
    TT_EQ_INT(E.ups, 0);
    tse_posix_stream_del(ps);
    tse_stream_del(st);
    close(lfd);
}

int main(void)
{
    TT_RUN(echo_through_real_sockets);
    TT_RUN(refused_and_cut);
    return TT_DONE();
}
