/* turn-probe: libtse's TURN client (include/tse/turn.h) against a real
 * TURN server (coturn in test/e2e/turn_e2e.sh), over UDP or TCP.
 *
 *   turn-probe --server 127.0.0.1:PORT --user U --pass P
 *              [--tcp] [--tcp-relay] [--expect-error N] [--timeout-ms MS]
 *              [--pause-ms MS] [--refresh] [--forbidden-peer IPV4]
 *
 * UDP relay (default): allocate, create a permission for a UDP echo peer
 * this program runs on 127.0.0.1, send one datagram through the relay in
 * a Send indication and get it back in a Data indication, bind a channel,
 * send one through ChannelData and get it back as ChannelData, refresh,
 * then deallocate.
 * --tcp-relay (RFC 6062, needs --tcp): allocate a TCP relay, permission,
 * Connect to a TCP echo peer this program runs, open a data connection,
 * ConnectionBind, send bytes and read them back, deallocate.
 * --expect-error N: the allocation must fail with libtse error N (e.g.
 * -1000 (TSE_ERR_TURN_UNAUTHORIZED) for a wrong password); exit 0 if it does.
 * --pause-ms: idle (serving the loop) that long after the allocation, so
 * that a server with a short nonce lifetime answers the next request with
 * 438 Stale Nonce.  --refresh: refresh the allocation at once and wait for
 * the answer.  --forbidden-peer: a CreatePermission for that address must
 * fail with 403 Forbidden (TSE_ERR_TURN_FORBIDDEN), the allocation going on.
 * Every wait is bounded by --timeout-ms (default 10000) in total.
 * Exit status 0 on success, 1 on failure, 2 on usage errors.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "tse/turn.h"

static tse_time_ms now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (tse_time_ms)ts.tv_sec * 1000u + (tse_time_ms)(ts.tv_nsec / 1000000);
}

static int entropy(void *user, uint8_t *buf, size_t len)
{
    static FILE *f;
    (void)user;
    if (!f)
        f = fopen("/dev/urandom", "rb");
    return f && fread(buf, 1, len, f) == len ? 0 : -1;
}

/* ---- what the callbacks saw ---- */
static struct {
    int allocated, permission, channel, connected, closed, refreshed, failed;
    int fail_err, fail_code, fail_method;
    uint32_t connection_id;
    tse_turn_addr relayed, mapped;
    uint8_t data[2048];
    size_t data_len;
    int data_count;
    tse_turn_addr data_peer;
} G;

static void addr_str(const tse_turn_addr *a, char *out, size_t cap)
{
    char ip[64] = "?";
    inet_ntop(a->family == 6 ? AF_INET6 : AF_INET, a->addr, ip, sizeof ip);
    snprintf(out, cap, a->family == 6 ? "[%s]:%u" : "%s:%u", ip, a->port);
}

static void on_event(void *user, const tse_turn_event *ev)
{
    char a[80];
    (void)user;
    switch (ev->type) {
    case TSE_TURN_EV_ALLOCATED:
        G.allocated = 1;
        G.relayed = ev->relayed;
        G.mapped = ev->mapped;
        addr_str(&ev->relayed, a, sizeof a);
        printf("{\"event\":\"allocated\",\"relayed\":\"%s\",\"lifetime\":%u}\n", a,
               (unsigned)ev->lifetime_s);
        break;
    case TSE_TURN_EV_REFRESHED:
        G.refreshed++;
        printf("{\"event\":\"refreshed\",\"lifetime\":%u}\n", (unsigned)ev->lifetime_s);
        break;
    case TSE_TURN_EV_PERMISSION:
        G.permission = 1;
        addr_str(&ev->peer, a, sizeof a);
        printf("{\"event\":\"permission\",\"peer\":\"%s\"}\n", a);
        break;
    case TSE_TURN_EV_CHANNEL:
        G.channel = ev->channel;
        printf("{\"event\":\"channel\",\"number\":%u}\n", ev->channel);
        break;
    case TSE_TURN_EV_CONNECTED:
        G.connected = 1;
        G.connection_id = ev->connection_id;
        printf("{\"event\":\"connected\",\"connection_id\":%u}\n", (unsigned)ev->connection_id);
        break;
    case TSE_TURN_EV_CONNECTION_ATTEMPT:
        printf("{\"event\":\"connection_attempt\"}\n");
        break;
    case TSE_TURN_EV_FAILED:
        G.failed++;
        G.fail_err = ev->err;
        G.fail_code = ev->stun_code;
        G.fail_method = ev->method;
        printf("{\"event\":\"failed\",\"method\":%d,\"err\":%d,\"error\":\"%s\",\"code\":%d}\n",
               ev->method, ev->err, tse_strerror(ev->err), ev->stun_code);
        break;
    case TSE_TURN_EV_CLOSED:
        G.closed = 1;
        printf("{\"event\":\"closed\"}\n");
        break;
    }
    fflush(stdout);
}

static void on_data(void *user, const tse_turn_addr *peer, const uint8_t *data, size_t len)
{
    (void)user;
    G.data_count++;
    G.data_peer = *peer;
    G.data_len = len < sizeof G.data ? len : sizeof G.data;
    memcpy(G.data, data, G.data_len);
}

/* ---- sockets ---- */
static int g_turn_fd = -1, g_udp_echo = -1, g_tcp_listen = -1, g_tcp_peer = -1;
static int g_stream;
static tse_turn g_c;
static tse_time_ms g_deadline;

static int flush_out(void)
{
    const uint8_t *p;
    size_t n;
    while ((n = tse_turn_pending(&g_c, &p)) > 0) {
        ssize_t w = send(g_turn_fd, p, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return 0;
            perror("send");
            return -1;
        }
        tse_turn_consume(&g_c, (size_t)w);
    }
    return 0;
}

/* One round of the loop: wait for any socket or the client's timer,
 * serve the echo peers, feed the client.  -1 on a transport failure. */
static int step(int extra_fd, int *extra_ready)
{
    struct pollfd p[5];
    int n = 0, i, timeout;
    tse_time_ms t = now_ms(), e;
    if (flush_out() < 0)
        return -1;
    e = tse_turn_expiry(&g_c);
    timeout = 50;
    if (e != TSE_TIME_NEVER && e > t && e - t < 50)
        timeout = (int)(e - t);
    else if (e != TSE_TIME_NEVER && e <= t)
        timeout = 0;
    p[n].fd = g_turn_fd; p[n++].events = POLLIN;
    if (g_udp_echo >= 0) { p[n].fd = g_udp_echo; p[n++].events = POLLIN; }
    if (g_tcp_listen >= 0) { p[n].fd = g_tcp_listen; p[n++].events = POLLIN; }
    if (g_tcp_peer >= 0) { p[n].fd = g_tcp_peer; p[n++].events = POLLIN; }
    if (extra_fd >= 0) { p[n].fd = extra_fd; p[n++].events = POLLIN; }
    if (extra_ready)
        *extra_ready = 0;
    if (poll(p, (nfds_t)n, timeout) < 0 && errno != EINTR) {
        perror("poll");
        return -1;
    }
    for (i = 0; i < n; i++) {
        uint8_t buf[4096];
        ssize_t r;
        if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
            continue;
        if (p[i].fd == g_turn_fd) {
            r = recv(g_turn_fd, buf, sizeof buf, 0);
            if (r < 0 && (errno == EAGAIN || errno == EINTR))
                continue;
            if (r <= 0 && g_stream) {
                fprintf(stderr, "turn-probe: server closed the connection\n");
                return -1;
            }
            if (r < 0) {
                perror("recv");
                return -1;
            }
            (void)tse_turn_recv(&g_c, buf, (size_t)r, now_ms());
        } else if (p[i].fd == g_udp_echo) {
            /* the UDP echo peer: back to whoever sent it (the relay) */
            struct sockaddr_storage from;
            socklen_t fl = sizeof from;
            r = recvfrom(g_udp_echo, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl);
            if (r > 0)
                (void)sendto(g_udp_echo, buf, (size_t)r, 0, (struct sockaddr *)&from, fl);
        } else if (p[i].fd == g_tcp_listen) {
            int fd = accept(g_tcp_listen, NULL, NULL);
            if (fd >= 0) {
                if (g_tcp_peer >= 0)
                    close(g_tcp_peer);
                g_tcp_peer = fd;
            }
        } else if (p[i].fd == g_tcp_peer) {
            /* the TCP echo peer */
            r = recv(g_tcp_peer, buf, sizeof buf, 0);
            if (r > 0) {
                (void)send(g_tcp_peer, buf, (size_t)r, MSG_NOSIGNAL);
            } else {
                close(g_tcp_peer);
                g_tcp_peer = -1;
            }
        } else if (p[i].fd == extra_fd && extra_ready) {
            *extra_ready = 1;
        }
    }
    t = now_ms();
    if (tse_turn_expiry(&g_c) <= t)
        (void)tse_turn_handle_expiry(&g_c, t);
    return flush_out();
}

/* Run the loop until *flag is set, the client fails, or the deadline. */
static int wait_for(const int *flag, const char *what)
{
    while (!*flag) {
        if (now_ms() > g_deadline) {
            fprintf(stderr, "turn-probe: timed out waiting for %s\n", what);
            return -1;
        }
        if (tse_turn_get_state(&g_c) == TSE_TURN_FAILED) {
            fprintf(stderr, "turn-probe: client failed waiting for %s: %s (%d)\n", what,
                    tse_strerror(tse_turn_error(&g_c)), tse_turn_error(&g_c));
            return -1;
        }
        if (G.failed) {
            fprintf(stderr, "turn-probe: request failed waiting for %s: %s (%d, STUN %d)\n",
                    what, tse_strerror(G.fail_err), G.fail_err, G.fail_code);
            return -1;
        }
        if (step(-1, NULL) < 0)
            return -1;
    }
    return 0;
}

static int parse_hostport(const char *s, struct sockaddr_in *sa)
{
    char host[64];
    const char *colon = strrchr(s, ':');
    if (!colon || (size_t)(colon - s) >= sizeof host)
        return -1;
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = 0;
    memset(sa, 0, sizeof *sa);
    sa->sin_family = AF_INET;
    sa->sin_port = htons((uint16_t)atoi(colon + 1));
    return inet_pton(AF_INET, host, &sa->sin_addr) == 1 ? 0 : -1;
}

static tse_turn_addr loopback(uint16_t port)
{
    tse_turn_addr a;
    memset(&a, 0, sizeof a);
    a.family = 4;
    a.port = port;
    a.addr[0] = 127;
    a.addr[3] = 1;
    return a;
}

static int bound_port(int fd)
{
    struct sockaddr_in sa;
    socklen_t l = sizeof sa;
    if (getsockname(fd, (struct sockaddr *)&sa, &l) < 0)
        return -1;
    return ntohs(sa.sin_port);
}

static int listen_loopback(int type)
{
    struct sockaddr_in sa;
    int fd = socket(AF_INET, type, 0);
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 ||
        (type == SOCK_STREAM && listen(fd, 4) < 0)) {
        perror("echo peer");
        return -1;
    }
    return fd;
}

/* Send @p msg to @p peer through the relay and wait for it to come back. */
static int relay_round_trip(const tse_turn_addr *peer, const char *msg, int want_channel)
{
    int before = G.data_count;
    uint64_t cd_before = tse_turn_get_stats(&g_c)->rx_channel_data;
    int rc = tse_turn_send(&g_c, peer, (const uint8_t *)msg, strlen(msg), now_ms());
    if (rc != TSE_OK) {
        fprintf(stderr, "turn-probe: send: %s\n", tse_strerror(rc));
        return -1;
    }
    while (G.data_count == before) {
        if (now_ms() > g_deadline) {
            fprintf(stderr, "turn-probe: no echo for '%s'\n", msg);
            return -1;
        }
        if (step(-1, NULL) < 0)
            return -1;
    }
    if (G.data_len != strlen(msg) || memcmp(G.data, msg, G.data_len) != 0 ||
        G.data_peer.port != peer->port) {
        fprintf(stderr, "turn-probe: echo differs for '%s'\n", msg);
        return -1;
    }
    if (want_channel != (tse_turn_get_stats(&g_c)->rx_channel_data > cd_before)) {
        fprintf(stderr, "turn-probe: echo for '%s' came %s ChannelData\n", msg,
                want_channel ? "without" : "as");
        return -1;
    }
    printf("{\"event\":\"echo\",\"via\":\"%s\",\"bytes\":%zu}\n",
           want_channel ? "channel" : "send-indication", G.data_len);
    fflush(stdout);
    return 0;
}

static int tcp_relay(const struct sockaddr_in *server)
{
    tse_turn_addr peer;
    uint8_t req[1024], txid[12], buf[4096];
    size_t n, have = 0, used = 0;
    int dfd, rc, ready;
    const char *msg = "msrp-over-turn-tcp";

    g_tcp_listen = listen_loopback(SOCK_STREAM);
    if (g_tcp_listen < 0)
        return -1;
    peer = loopback((uint16_t)bound_port(g_tcp_listen));
    if (tse_turn_create_permission(&g_c, &peer, now_ms()) != TSE_OK ||
        wait_for(&G.permission, "permission") < 0)
        return -1;
    if (tse_turn_connect(&g_c, &peer, now_ms()) != TSE_OK ||
        wait_for(&G.connected, "Connect") < 0)
        return -1;
    /* RFC 6062 4.3: a new connection to the server, ConnectionBind first */
    dfd = socket(AF_INET, SOCK_STREAM, 0);
    if (dfd < 0 || connect(dfd, (const struct sockaddr *)server, sizeof *server) < 0) {
        perror("data connection");
        return -1;
    }
    rc = tse_turn_connection_bind_request(&g_c, G.connection_id, req, sizeof req, &n, txid);
    if (rc != TSE_OK || send(dfd, req, n, MSG_NOSIGNAL) != (ssize_t)n) {
        fprintf(stderr, "turn-probe: ConnectionBind: %s\n", tse_strerror(rc));
        return -1;
    }
    for (;;) {
        ssize_t r;
        if (now_ms() > g_deadline) {
            fprintf(stderr, "turn-probe: no ConnectionBind response\n");
            return -1;
        }
        if (step(dfd, &ready) < 0)
            return -1;
        if (!ready)
            continue;
        r = recv(dfd, buf + have, sizeof buf - have, 0);
        if (r <= 0) {
            fprintf(stderr, "turn-probe: data connection closed\n");
            return -1;
        }
        have += (size_t)r;
        rc = tse_turn_connection_bind_response(&g_c, txid, buf, have, &used);
        if (rc == TSE_ERR_WOULD_BLOCK)
            continue;
        if (rc != TSE_OK) {
            fprintf(stderr, "turn-probe: ConnectionBind failed: %s (%d)\n", tse_strerror(rc), rc);
            return -1;
        }
        break;
    }
    printf("{\"event\":\"connection_bound\"}\n");
    /* the data connection is now a pipe to the peer */
    memmove(buf, buf + used, have - used);
    have -= used;
    if (send(dfd, msg, strlen(msg), MSG_NOSIGNAL) != (ssize_t)strlen(msg)) {
        perror("send");
        return -1;
    }
    while (have < strlen(msg)) {
        ssize_t r;
        if (now_ms() > g_deadline) {
            fprintf(stderr, "turn-probe: no TCP echo\n");
            return -1;
        }
        if (step(dfd, &ready) < 0)
            return -1;
        if (!ready)
            continue;
        r = recv(dfd, buf + have, sizeof buf - have, 0);
        if (r <= 0) {
            fprintf(stderr, "turn-probe: data connection closed before the echo\n");
            return -1;
        }
        have += (size_t)r;
    }
    if (memcmp(buf, msg, strlen(msg)) != 0) {
        fprintf(stderr, "turn-probe: TCP echo differs\n");
        return -1;
    }
    printf("{\"event\":\"echo\",\"via\":\"tcp-connection\",\"bytes\":%zu}\n", strlen(msg));
    close(dfd);
    return 0;
}

int main(int argc, char **argv)
{
    const char *server = NULL, *user = NULL, *pass = NULL;
    int use_tcp = 0, tcp_relay_mode = 0, expect_error = 0, do_refresh = 0, i, rc;
    long pause_ms = 0;
    const char *forbidden = NULL;
    long timeout_ms = 10000;
    struct sockaddr_in sa;
    tse_turn_settings s;
    static uint8_t tx[16384], rx[4096];

    for (i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--server") && i + 1 < argc)
            server = argv[++i];
        else if (!strcmp(argv[i], "--user") && i + 1 < argc)
            user = argv[++i];
        else if (!strcmp(argv[i], "--pass") && i + 1 < argc)
            pass = argv[++i];
        else if (!strcmp(argv[i], "--tcp"))
            use_tcp = 1;
        else if (!strcmp(argv[i], "--tcp-relay"))
            tcp_relay_mode = 1;
        else if (!strcmp(argv[i], "--expect-error") && i + 1 < argc)
            expect_error = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--timeout-ms") && i + 1 < argc)
            timeout_ms = atol(argv[++i]);
        else if (!strcmp(argv[i], "--pause-ms") && i + 1 < argc)
            pause_ms = atol(argv[++i]);
        else if (!strcmp(argv[i], "--refresh"))
            do_refresh = 1;
        else if (!strcmp(argv[i], "--forbidden-peer") && i + 1 < argc)
            forbidden = argv[++i];
        else {
            fprintf(stderr, "usage: turn-probe --server IP:PORT --user U --pass P [--tcp] "
                            "[--tcp-relay] [--expect-error N] [--timeout-ms MS] "
                            "[--pause-ms MS] [--refresh] [--forbidden-peer IPV4]\n");
            return 2;
        }
    }
    if (!server || !user || !pass || parse_hostport(server, &sa) < 0 ||
        (tcp_relay_mode && !use_tcp)) {
        fprintf(stderr, "turn-probe: --server IP:PORT, --user and --pass are required; "
                        "--tcp-relay needs --tcp\n");
        return 2;
    }
    g_deadline = now_ms() + (tse_time_ms)timeout_ms;
    g_stream = use_tcp;

    g_turn_fd = socket(AF_INET, use_tcp ? SOCK_STREAM : SOCK_DGRAM, 0);
    if (g_turn_fd < 0 || connect(g_turn_fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        perror("connect to the TURN server");
        return 1;
    }
    if (use_tcp) {
        int one = 1;
        (void)setsockopt(g_turn_fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }

    tse_turn_settings_default(&s);
    s.transport = use_tcp ? TSE_TURN_STREAM : TSE_TURN_DATAGRAM;
    s.relay_protocol = tcp_relay_mode ? TSE_TURN_RELAY_TCP : TSE_TURN_RELAY_UDP;
    s.username = user;
    s.password = pass;
    s.lifetime_s = 300;
    s.entropy = entropy;
    s.on_event = on_event;
    s.on_data = on_data;
    rc = tse_turn_init(&g_c, &s, tx, sizeof tx, rx, sizeof rx);
    if (rc != TSE_OK) {
        fprintf(stderr, "turn-probe: init: %s\n", tse_strerror(rc));
        return 1;
    }
    if (tse_turn_allocate(&g_c, now_ms()) != TSE_OK)
        return 1;

    if (expect_error) {
        while (tse_turn_get_state(&g_c) == TSE_TURN_ALLOCATING && now_ms() <= g_deadline)
            if (step(-1, NULL) < 0)
                return 1;
        if (tse_turn_get_state(&g_c) == TSE_TURN_FAILED && tse_turn_error(&g_c) == expect_error) {
            printf("{\"event\":\"expected_failure\",\"err\":%d,\"code\":%d}\n", expect_error,
                   G.fail_code);
            return 0;
        }
        fprintf(stderr, "turn-probe: wanted error %d, state %d error %d\n", expect_error,
                tse_turn_get_state(&g_c), tse_turn_error(&g_c));
        return 1;
    }
    if (wait_for(&G.allocated, "the allocation") < 0)
        return 1;
    if (pause_ms > 0) {
        tse_time_ms until = now_ms() + (tse_time_ms)pause_ms;
        while (now_ms() < until)
            if (step(-1, NULL) < 0)
                return 1;
    }
    if (forbidden) {
        tse_turn_addr bad = loopback(9);
        if (inet_pton(AF_INET, forbidden, bad.addr) != 1 ||
            tse_turn_create_permission(&g_c, &bad, now_ms()) != TSE_OK)
            return 1;
        while (!G.failed && !G.permission && now_ms() <= g_deadline)
            if (step(-1, NULL) < 0)
                return 1;
        if (!G.failed || G.fail_err != TSE_ERR_TURN_FORBIDDEN || G.fail_code != 403 ||
            tse_turn_get_state(&g_c) != TSE_TURN_ALLOCATED) {
            fprintf(stderr, "turn-probe: permission for %s: wanted 403 Forbidden\n", forbidden);
            return 1;
        }
        G.failed = 0;
        if (tse_turn_send(&g_c, &bad, (const uint8_t *)"x", 1, now_ms()) !=
            TSE_ERR_TURN_NO_PERMISSION) {
            fprintf(stderr, "turn-probe: a refused permission was kept\n");
            return 1;
        }
    }
    if (do_refresh) {
        if (tse_turn_refresh(&g_c, now_ms()) != TSE_OK ||
            wait_for(&G.refreshed, "the refresh") < 0)
            return 1;
    }

    if (tcp_relay_mode) {
        if (tcp_relay(&sa) < 0)
            return 1;
    } else {
        tse_turn_addr peer;
        g_udp_echo = listen_loopback(SOCK_DGRAM);
        if (g_udp_echo < 0)
            return 1;
        peer = loopback((uint16_t)bound_port(g_udp_echo));
        /* nothing may reach the peer before a permission exists */
        if (tse_turn_send(&g_c, &peer, (const uint8_t *)"x", 1, now_ms()) !=
            TSE_ERR_TURN_NO_PERMISSION) {
            fprintf(stderr, "turn-probe: send without permission was accepted\n");
            return 1;
        }
        if (tse_turn_create_permission(&g_c, &peer, now_ms()) != TSE_OK ||
            wait_for(&G.permission, "the permission") < 0)
            return 1;
        if (relay_round_trip(&peer, "hello through a Send indication", 0) < 0)
            return 1;
        if (tse_turn_bind_channel(&g_c, &peer, now_ms()) != TSE_OK ||
            wait_for(&G.channel, "the channel") < 0)
            return 1;
        if (relay_round_trip(&peer, "hello through ChannelData", 1) < 0 ||
            relay_round_trip(&peer, "odd", 1) < 0)
            return 1;
    }

    if (tse_turn_close(&g_c, now_ms()) != TSE_OK || wait_for(&G.closed, "deallocation") < 0)
        return 1;
    {
        const tse_turn_stats *st = tse_turn_get_stats(&g_c);
        printf("{\"event\":\"done\",\"tx_msgs\":%llu,\"rx_msgs\":%llu,\"retransmits\":%llu,"
               "\"dropped\":%llu,\"stale_nonces\":%llu}\n",
               (unsigned long long)st->tx_msgs, (unsigned long long)st->rx_msgs,
               (unsigned long long)st->retransmits, (unsigned long long)st->dropped,
               (unsigned long long)st->stale_nonces);
    }
    return 0;
}
