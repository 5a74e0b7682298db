/* tse-cli --sip-tls / --turn: TR 33.830 8.3 ("reuse of existing
 * solutions") for bring-up, over the stream API (tse/stream.h) and its
 * POSIX driver (tse_posix_stream.h).
 *
 *   --sip-tls HOST[:PORT]   SIP OPTIONS over TLS (default port 443) to a
 *                           P-CSCF, directly or through --proxy; prints
 *                           the response's status line.
 *   --turn HOST[:PORT] --turn-user U --turn-pass P [--turn-tls | --turn-tcp]
 *                           a TURN allocation over TLS (default port 443)
 *                           or plain TCP (port 3478; the stream's
 *                           plain_tcp), directly or through --proxy, or
 *                           over UDP (neither; port 3478), then one
 *                           datagram to a UDP peer through the relay and
 *                           back: the peer is this program's own UDP echo
 *                           on --turn-peer-bind (default 127.0.0.1), or
 *                           --turn-peer IP:PORT, an echo elsewhere.
 *   --turn-peer-tcp IP:PORT  with --turn-tcp or --turn-tls: an RFC 6062 TCP
 *                           allocation instead (the MSRP case): Connect to
 *                           a TCP echo at IP:PORT through the relay, a
 *                           second stream to the server bound to it
 *                           (ConnectionBind), 32 bytes there and back.
 */
#include "posix_feature.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "json_out.h"
#include "sip_probe.h"
#include "stream_cli.h"
#include "tse/stream.h"
#include "tse/turn.h"
#include "tse_posix.h"
#include "tse_posix_stream.h"

#define EXIT_USAGE 2

struct sopts {
    const char *sip_tls, *turn, *turn_user, *turn_pass, *turn_peer, *turn_peer_bind;
    const char *turn_peer_tcp;
    int turn_tls, turn_tcp;
    const char *ca_file, *sni, *pin_hex, *proxy_url, *marker;
    int insecure, json;
    long timeout_ms;
};

struct sapp {
    struct sopts o;
    char host[TSE_POSIX_HOST_MAX];
    uint16_t port;
    tse_stream *st;
    tse_time_ms t0;
    int up, down, down_err;
    /* SIP */
    tse_sip_ids ids;
    uint8_t rx[8192];
    size_t rx_len;
    int sip_status;
    long sip_ms;              /* when the final response came */
    char status_line[256];
    /* TURN */
    tse_turn turn;
    uint8_t turn_tx[4096], turn_rx[4096];
    int allocated, permitted, echoed, turn_failed, turn_closed, turn_started, asked;
    tse_time_ms probe_sent;
    int turn_err;
    tse_turn_addr peer, relayed;
    int peer_fd;
    uint8_t probe[32];
    /* RFC 6062 (--turn-peer-tcp): the data connection, its own stream */
    int connect_sent, connected;
    uint32_t connection_id;
    tse_stream *dst;
    tse_posix_stream *dps;
    int data_up, data_down, bound;
    uint8_t bind_txid[12];
    uint8_t drx[1024];
    size_t drx_len;
};

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

static void die_usage(const char *fmt, const char *arg)
{
    fprintf(stderr, "tse-cli: error: ");
    fprintf(stderr, fmt, arg ? arg : "");
    fprintf(stderr, " (try --help)\n");
    exit(EXIT_USAGE);
}

static long since(const struct sapp *a)
{
    return (long)(tse_posix_now_ms() - a->t0);
}

static const char *tls_name(uint16_t v)
{
    return v == 0x0304 ? "1.3" : v == 0x0303 ? "1.2" : "?";
}

int stream_cli_wanted(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--sip-tls") == 0 || strncmp(argv[i], "--sip-tls=", 10) == 0 ||
            strcmp(argv[i], "--turn") == 0 || strncmp(argv[i], "--turn=", 7) == 0)
            return 1;
    }
    return 0;
}

static void usage(void)
{
    fputs(
"usage: tse-cli --sip-tls HOST[:PORT] --ca FILE [options]\n"
"       tse-cli --turn HOST[:PORT] --turn-user U --turn-pass P\n"
"               [--turn-tls --ca FILE | --turn-tcp] [options]\n"
"TR 33.830 8.3 over a TLS stream (default port 443), directly or through an\n"
"HTTP CONNECT proxy (TURN also over plain TCP or UDP, default port 3478):\n"
"  --sip-tls HOST[:PORT]  SIP OPTIONS over TLS; prints the status line\n"
"  --turn HOST[:PORT]     TURN allocation, then one datagram through the\n"
"                         relay to a UDP echo peer and back\n"
"  --turn-user U, --turn-pass P   long-term credentials\n"
"  --turn-tls             TURN over TLS (default: over UDP, without --proxy)\n""  --turn-tcp             TURN over plain TCP (RFC 8656; port 3478), with or\n"
"                         without --proxy; no TLS, so no --ca\n"
"  --turn-peer IP:PORT    an external UDP echo as the peer (default: our own,\n"
"                         on --turn-peer-bind IP, default 127.0.0.1)\n"
"  --turn-peer-tcp IP:PORT  RFC 6062: a TCP allocation, Connect to this TCP\n"
"                         echo, a data connection bound to it, 32 bytes\n"
"                         there and back (with --turn-tcp or --turn-tls)\n"
"  --ca FILE              trust anchors, PEM or DER\n"
"  --sni NAME             name sent and verified (default: HOST)\n"
"  --pin HEX              SHA-256 of the server's SubjectPublicKeyInfo\n"
"  --insecure-lab-only    DO NOT VERIFY the server certificate (lab only)\n"
"  --proxy URL            http://[user:pass@]host[:port] (default port 1080)\n"
"  --proxy-marker LINE    extra CONNECT header\n"
"  --timeout-ms MS        give up after this long (default 15000)\n"
"  --json                 one JSON object per event on stdout\n"
"Exit status: 0 answered (SIP: any final response; TURN: the datagram came\n"
"back), 1 failure, 2 bad usage.\n", stdout);
}

static void parse(struct sapp *a, int argc, char **argv)
{
    struct sopts *o = &a->o;
    o->timeout_ms = 15000;
    o->turn_peer_bind = "127.0.0.1";
    for (int i = 1; i < argc; i++) {
        const char *name = argv[i], *val = NULL;
        char nbuf[64];
        const char *eq = strchr(name, '=');
        if (strncmp(name, "--", 2) != 0)
            die_usage("unexpected argument '%s'", name);
        if (eq && (size_t)(eq - name) < sizeof nbuf) {
            memcpy(nbuf, name, (size_t)(eq - name));
            nbuf[eq - name] = 0;
            val = eq + 1;
            name = nbuf;
        }
        if (strcmp(name, "--help") == 0) {
            usage();
            exit(0);
        } else if (strcmp(name, "--json") == 0) {
            o->json = 1;
        } else if (strcmp(name, "--insecure-lab-only") == 0) {
            o->insecure = 1;
        } else if (strcmp(name, "--turn-tls") == 0) {
            o->turn_tls = 1;
        } else if (strcmp(name, "--turn-tcp") == 0) {
            o->turn_tcp = 1;
        } else {
            const char **dst = NULL;
            if (!val) {
                if (i + 1 >= argc)
                    die_usage("%s needs a value", name);
                val = argv[++i];
            }
            if (strcmp(name, "--sip-tls") == 0) dst = &o->sip_tls;
            else if (strcmp(name, "--turn") == 0) dst = &o->turn;
            else if (strcmp(name, "--turn-user") == 0) dst = &o->turn_user;
            else if (strcmp(name, "--turn-pass") == 0) dst = &o->turn_pass;
            else if (strcmp(name, "--turn-peer") == 0) dst = &o->turn_peer;
            else if (strcmp(name, "--turn-peer-bind") == 0) dst = &o->turn_peer_bind;
            else if (strcmp(name, "--turn-peer-tcp") == 0) dst = &o->turn_peer_tcp;
            else if (strcmp(name, "--ca") == 0) dst = &o->ca_file;
            else if (strcmp(name, "--sni") == 0) dst = &o->sni;
            else if (strcmp(name, "--pin") == 0) dst = &o->pin_hex;
            else if (strcmp(name, "--proxy") == 0) dst = &o->proxy_url;
            else if (strcmp(name, "--proxy-marker") == 0) dst = &o->marker;
            else if (strcmp(name, "--timeout-ms") == 0) {
                char *end;
                o->timeout_ms = strtol(val, &end, 10);
                if (*end || o->timeout_ms < 1 || o->timeout_ms > 600000)
                    die_usage("--timeout-ms: expected 1..600000, got '%s'", val);
                continue;
            } else
                die_usage("unknown option '%s' in --sip-tls / --turn mode", name);
            *dst = val;
        }
    }
    if (!!o->sip_tls + !!o->turn != 1)
        die_usage("--sip-tls and --turn: one at a time%s", NULL);
    if (tse_posix_parse_hostport(o->sip_tls ? o->sip_tls : o->turn, a->host, sizeof a->host,
                                 &a->port, o->turn && !o->turn_tls ? 3478 : 443) != 0)
        die_usage("bad HOST[:PORT] '%s'", o->sip_tls ? o->sip_tls : o->turn);
    if (o->turn_tls && o->turn_tcp)
        die_usage("--turn-tls and --turn-tcp: one at a time%s", NULL);
    if (o->turn && !o->turn_tls) {
        /* no TLS at all: no trust anchors to ask for; over TCP none
         * accepted either (the stream refuses them: plain_tcp) */
        if (o->sni || o->pin_hex || (o->turn_tcp && (o->ca_file || o->insecure)))
            die_usage("--sni and --pin (and, with --turn-tcp, --ca and --insecure-lab-only) "
                      "need --turn-tls: TURN over UDP or plain TCP has no TLS%s", NULL);
        if (!o->turn_tcp && o->proxy_url)
            die_usage("--proxy needs --turn-tls or --turn-tcp (TURN over UDP "
                      "cannot go through HTTP CONNECT)%s", NULL);
    } else if (!o->ca_file && !o->insecure) {
        die_usage("--ca FILE is required (or --insecure-lab-only in a lab)%s", NULL);
    }
    if (o->turn) {
        if (!o->turn_user || !o->turn_pass)
            die_usage("--turn needs --turn-user and --turn-pass%s", NULL);
        if (o->turn_peer_tcp && !o->turn_tls && !o->turn_tcp)
            die_usage("--turn-peer-tcp needs --turn-tcp or --turn-tls (RFC 6062 "
                      "allocations live on a stream)%s", NULL);
        if (o->turn_peer_tcp && o->turn_peer)
            die_usage("--turn-peer and --turn-peer-tcp: one at a time%s", NULL);
    } else if (o->turn_user || o->turn_pass || o->turn_tls || o->turn_tcp || o->turn_peer ||
               o->turn_peer_tcp) {
        die_usage("--turn-* options go with --turn%s", NULL);
    }
}

static int parse_pin(const char *hex, uint8_t out[32])
{
    size_t n = 0;
    for (const char *p = hex; *p; p++) {
        unsigned v;
        if (*p == ':')
            continue;
        if (n >= 64 || sscanf(p, "%1x", &v) != 1)
            return -1;
        out[n / 2] = (uint8_t)(n % 2 ? out[n / 2] | v : v << 4);
        n++;
    }
    return n == 64 ? 0 : -1;
}

/* ---- output ----------------------------------------------------------------- */

static void report_failure(struct sapp *a, const char *what, int err, int proxy_status,
                           const char *detail)
{
    if (a->o.json) {
        cli_json j;
        cli_json_begin(&j);
        cli_json_str(&j, "event", "error");
        cli_json_str(&j, "stage", what);
        cli_json_int(&j, "t_ms", since(a));
        cli_json_int(&j, "error", err);
        cli_json_str(&j, "error_name", tse_strerror(err));
        if (proxy_status)
            cli_json_int(&j, "proxy_status", proxy_status);
        if (detail)
            cli_json_str(&j, "detail", detail);
        puts(cli_json_end(&j));
    }
    fprintf(stderr, "tse-cli: error: %s: %s (%d)%s%s\n", what, tse_strerror(err), err,
            detail ? ": " : "", detail ? detail : "");
}

static void on_stream_event(void *user, const tse_stream_event *ev)
{
    struct sapp *a = user;
    switch (ev->type) {
    case TSE_STREAM_EV_UP:
        a->up = 1;
        if (a->o.json) {
            cli_json j;
            cli_json_begin(&j);
            cli_json_str(&j, "event", "stream_up");
            cli_json_int(&j, "t_ms", since(a));
            cli_json_str(&j, "host", a->host);
            cli_json_int(&j, "port", a->port);
            cli_json_bool(&j, "via_proxy", ev->via_proxy);
            cli_json_str(&j, "transport", ev->tls_version ? "tls" : "tcp");
            if (ev->tls_version) {
                cli_json_str(&j, "tls_version", tls_name(ev->tls_version));
                cli_json_str(&j, "tls_suite", ev->tls_suite);
            }
            puts(cli_json_end(&j));
        } else if (!ev->tls_version) {
            printf("TCP up to %s port %u%s\n", a->host, (unsigned)a->port,
                   ev->via_proxy ? " through the proxy" : "");
        } else {
            printf("TLS %s up to %s port %u%s (%s)\n", tls_name(ev->tls_version), a->host,
                   (unsigned)a->port, ev->via_proxy ? " through the proxy" : "",
                   ev->tls_suite ? ev->tls_suite : "?");
        }
        break;
    case TSE_STREAM_EV_DOWN:
        a->down = 1;
        a->down_err = ev->error;
        if (ev->error != TSE_ERR_CLOSED && !(a->sip_status >= 200 || a->echoed))
            report_failure(a, a->up ? "stream" : "connect", ev->error, ev->proxy_status,
                           ev->detail);
        break;
    case TSE_STREAM_EV_WARNING:
        fprintf(stderr, "tse-cli: WARNING: %s\n", ev->detail ? ev->detail : "");
        break;
    default:
        break;
    }
}

/* ---- SIP OPTIONS over TLS ------------------------------------------------------ */

static int sip_start(struct sapp *a)
{
    tse_sip_options_params sp;
    char req[1024];
    size_t n = 0;
    int rc;
    memset(&sp, 0, sizeof sp);
    sp.host = a->host;
    sp.port = a->port;
    sp.transport = TSE_SIP_TLS;
    sp.user_agent = "tse-cli/" TSE_VERSION_STRING;
    rc = tse_sip_options_build(&sp, tse_posix_entropy, NULL, req, sizeof req, &n, &a->ids);
    if (rc != TSE_OK)
        return rc;
    /* queued now, sent as soon as TLS is up */
    return tse_stream_send(a->st, (const uint8_t *)req, n, tse_posix_now_ms());
}

/* Read what arrived; 1 when a final response is in. */
static int sip_poll(struct sapp *a)
{
    for (int guard = 0; guard < 64; guard++) {
        tse_sip_response r;
        size_t used = 0;
        int n, rc;
        if (a->rx_len == sizeof a->rx)
            return -1;
        n = tse_stream_recv(a->st, a->rx + a->rx_len, sizeof a->rx - a->rx_len,
                            tse_posix_now_ms());
        if (n > 0)
            a->rx_len += (size_t)n;
        rc = tse_sip_response_parse(a->rx, a->rx_len, TSE_SIP_TLS, &a->ids, &r, &used);
        if (rc == TSE_OK) {
            size_t ll = 0;
            while (ll < a->rx_len && ll + 1 < sizeof a->status_line && a->rx[ll] != '\r')
                ll++;
            memcpy(a->status_line, a->rx, ll);
            a->status_line[ll] = 0;
            memmove(a->rx, a->rx + used, a->rx_len - used);
            a->rx_len -= used;
            if (r.status >= 200) {
                a->sip_status = r.status;
                a->sip_ms = since(a);
                return 1;
            }
            continue; /* provisional */
        }
        if (rc != TSE_ERR_WOULD_BLOCK) {
            report_failure(a, "sip", rc, 0, "the answer is not a SIP response to our OPTIONS");
            return -1;
        }
        if (n <= 0)
            return 0;
    }
    return 0;
}

/* ---- TURN over TLS --------------------------------------------------------------- */

static void addr_str(const tse_turn_addr *x, char *out, size_t cap)
{
    char ip[64] = "?";
    inet_ntop(x->family == 6 ? AF_INET6 : AF_INET, x->addr, ip, sizeof ip);
    snprintf(out, cap, x->family == 6 ? "[%s]:%u" : "%s:%u", ip, x->port);
}

static void on_turn_event(void *user, const tse_turn_event *ev)
{
    struct sapp *a = user;
    char s[80];
    cli_json j;
    switch (ev->type) {
    case TSE_TURN_EV_ALLOCATED:
        a->allocated = 1;
        a->relayed = ev->relayed;
        addr_str(&ev->relayed, s, sizeof s);
        if (a->o.json) {
            cli_json_begin(&j);
            cli_json_str(&j, "event", "turn_allocated");
            cli_json_int(&j, "t_ms", since(a));
            cli_json_str(&j, "relayed", s);
            cli_json_int(&j, "lifetime_s", ev->lifetime_s);
            puts(cli_json_end(&j));
        } else {
            printf("TURN allocation granted: relayed %s, lifetime %u s\n", s,
                   (unsigned)ev->lifetime_s);
        }
        break;
    case TSE_TURN_EV_PERMISSION:
        a->permitted = 1;
        break;
    case TSE_TURN_EV_FAILED:
        a->turn_failed = 1;
        a->turn_err = ev->err;
        if (a->o.json) {
            cli_json_begin(&j);
            cli_json_str(&j, "event", "error");
            cli_json_str(&j, "stage", "turn");
            cli_json_int(&j, "t_ms", since(a));
            cli_json_int(&j, "method", ev->method);
            cli_json_int(&j, "error", ev->err);
            cli_json_str(&j, "error_name", tse_strerror(ev->err));
            cli_json_int(&j, "stun_code", ev->stun_code);
            puts(cli_json_end(&j));
        }
        fprintf(stderr, "tse-cli: error: TURN request 0x%03x failed: %s (%d), STUN code %d\n",
                (unsigned)ev->method, tse_strerror(ev->err), ev->err, ev->stun_code);
        break;
    case TSE_TURN_EV_CONNECTED:
        a->connected = 1;
        a->connection_id = ev->connection_id;
        addr_str(&ev->peer, s, sizeof s);
        if (a->o.json) {
            cli_json_begin(&j);
            cli_json_str(&j, "event", "turn_connected");
            cli_json_int(&j, "t_ms", since(a));
            cli_json_str(&j, "peer", s);
            cli_json_int(&j, "connection_id", (long long)ev->connection_id);
            puts(cli_json_end(&j));
        } else {
            printf("TURN Connect to %s: connection %u\n", s, (unsigned)ev->connection_id);
        }
        break;
    case TSE_TURN_EV_CLOSED:
        a->turn_closed = 1;
        break;
    default:
        break;
    }
}

static void on_turn_data(void *user, const tse_turn_addr *peer, const uint8_t *data, size_t len)
{
    struct sapp *a = user;
    char s[80];
    if (len != sizeof a->probe || memcmp(data, a->probe, len) != 0 ||
        peer->port != a->peer.port || memcmp(peer->addr, a->peer.addr, 16) != 0)
        return; /* not our datagram coming back */
    a->echoed = 1;
    addr_str(peer, s, sizeof s);
    if (a->o.json) {
        cli_json j;
        cli_json_begin(&j);
        cli_json_str(&j, "event", "turn_echo");
        cli_json_int(&j, "t_ms", since(a));
        cli_json_str(&j, "peer", s);
        cli_json_int(&j, "bytes", (long long)len);
        puts(cli_json_end(&j));
    } else {
        printf("datagram relayed to %s and back (%zu bytes)\n", s, len);
    }
}

static int peer_setup(struct sapp *a)
{
    struct sockaddr_in sin;
    socklen_t sl = sizeof sin;
    memset(&a->peer, 0, sizeof a->peer);
    a->peer_fd = -1;
    if (a->o.turn_peer || a->o.turn_peer_tcp) {
        const char *v = a->o.turn_peer ? a->o.turn_peer : a->o.turn_peer_tcp;
        char h[64];
        uint16_t p;
        if (tse_posix_parse_hostport(v, h, sizeof h, &p, 0) != 0 || p == 0 ||
            inet_pton(AF_INET, h, a->peer.addr) != 1)
            die_usage("--turn-peer / --turn-peer-tcp: expected IPV4:PORT, got '%s'", v);
        a->peer.family = 4;
        a->peer.port = p;
        return 0;
    }
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    if (inet_pton(AF_INET, a->o.turn_peer_bind, &sin.sin_addr) != 1)
        die_usage("--turn-peer-bind: expected an IPv4 address, got '%s'", a->o.turn_peer_bind);
    a->peer_fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (a->peer_fd < 0 || bind(a->peer_fd, (struct sockaddr *)&sin, sizeof sin) != 0 ||
        getsockname(a->peer_fd, (struct sockaddr *)&sin, &sl) != 0) {
        fprintf(stderr, "tse-cli: error: UDP echo peer: %s\n", strerror(errno));
        return -1;
    }
    a->peer.family = 4;
    a->peer.port = ntohs(sin.sin_port);
    memcpy(a->peer.addr, &sin.sin_addr, 4);
    return 0;
}

/* Our own UDP echo peer: send back what the relay sent. */
static void peer_echo(struct sapp *a)
{
    for (int i = 0; i < 16; i++) {
        uint8_t b[2048];
        struct sockaddr_storage from;
        socklen_t fl = sizeof from;
        ssize_t n = recvfrom(a->peer_fd, b, sizeof b, MSG_DONTWAIT, (struct sockaddr *)&from, &fl);
        if (n < 0)
            return;
        (void)sendto(a->peer_fd, b, (size_t)n, 0, (struct sockaddr *)&from, fl);
    }
}

/* Move bytes between the TURN client and the stream. */
static void turn_pump(struct sapp *a)
{
    tse_time_ms now = tse_posix_now_ms();
    for (int guard = 0; guard < 64; guard++) {
        uint8_t b[2048];
        int n = tse_stream_recv(a->st, b, sizeof b, now);
        if (n <= 0)
            break;
        if (tse_turn_recv(&a->turn, b, (size_t)n, now) != TSE_OK &&
            tse_turn_get_state(&a->turn) == TSE_TURN_FAILED) {
            a->turn_failed = 1;
            a->turn_err = tse_turn_error(&a->turn);
            report_failure(a, "turn", a->turn_err, 0, "the TURN stream is broken");
            return;
        }
    }
    for (int guard = 0; guard < 64; guard++) {
        const uint8_t *p;
        size_t n = tse_turn_pending(&a->turn, &p), space = tse_stream_send_space(a->st);
        if (n == 0 || space == 0)
            break;
        if (n > space)
            n = space;
        if (tse_stream_send(a->st, p, n, now) != TSE_OK)
            break;
        tse_turn_consume(&a->turn, n);
    }
    if (tse_turn_expiry(&a->turn) <= now)
        tse_turn_handle_expiry(&a->turn, now);
}

static int turn_init(struct sapp *a, tse_turn_transport tp)
{
    tse_turn_settings ts;
    tse_turn_settings_default(&ts);
    ts.transport = tp;
    ts.username = a->o.turn_user;
    ts.password = a->o.turn_pass;
    ts.entropy = tse_posix_entropy;
    ts.on_event = on_turn_event;
    ts.on_data = on_turn_data;
    ts.user = a;
    if (a->o.turn_peer_tcp)
        ts.relay_protocol = TSE_TURN_RELAY_TCP; /* RFC 6062 */
    if (tse_posix_entropy(NULL, a->probe, sizeof a->probe) != 0)
        return TSE_ERR_DETECT_ENTROPY;
    return tse_turn_init(&a->turn, &ts, a->turn_tx, sizeof a->turn_tx,
                         tp == TSE_TURN_STREAM ? a->turn_rx : NULL,
                         tp == TSE_TURN_STREAM ? sizeof a->turn_rx : 0);
}

/* What to do next once something was exchanged: a permission and the
 * datagram once allocated (over UDP after the permission is confirmed,
 * and again every 500 ms until it comes back: datagrams may be lost or
 * reordered; over a stream at once, the server handles them in order),
 * deallocation once it came back.  1 when finished. */
static int turn_script(struct sapp *a, int datagram)
{
    tse_time_ms now = tse_posix_now_ms();
    int st = tse_turn_get_state(&a->turn);
    if (a->allocated && !a->asked && st == TSE_TURN_ALLOCATED) {
        a->asked = 1;
        tse_turn_create_permission(&a->turn, &a->peer, now);
        if (!datagram && !a->o.turn_peer_tcp) {
            tse_turn_send(&a->turn, &a->peer, a->probe, sizeof a->probe, now);
            a->probe_sent = now;
        }
    }
    /* RFC 6062 4.3: Connect once the permission is there; the data
     * connection follows TSE_TURN_EV_CONNECTED (tcp_data_step()) */
    if (a->o.turn_peer_tcp && a->permitted && !a->connect_sent && st == TSE_TURN_ALLOCATED) {
        a->connect_sent = 1;
        tse_turn_connect(&a->turn, &a->peer, now);
    }
    if (datagram && a->permitted && !a->echoed && st == TSE_TURN_ALLOCATED &&
        (a->probe_sent == 0 || now - a->probe_sent >= 500)) {
        tse_turn_send(&a->turn, &a->peer, a->probe, sizeof a->probe, now);
        a->probe_sent = now;
    }
    if (a->echoed && !a->turn_closed && st == TSE_TURN_ALLOCATED)
        tse_turn_close(&a->turn, now);
    st = tse_turn_get_state(&a->turn);
    return a->turn_failed || a->turn_closed ||
           (a->echoed && st != TSE_TURN_ALLOCATED && st != TSE_TURN_CLOSING);
}

/* TURN over UDP (--turn without --turn-tls): no stream, no proxy. */
static int turn_udp_main(struct sapp *a)
{
    struct addrinfo hints, *res = NULL;
    char portstr[8];
    tse_time_ms deadline = a->t0 + (tse_time_ms)a->o.timeout_ms;
    int fd, rc;
    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_DGRAM;
    snprintf(portstr, sizeof portstr, "%u", (unsigned)a->port);
    if (getaddrinfo(a->host, portstr, &hints, &res) != 0 || res == NULL) {
        report_failure(a, "connect", TSE_ERR_TRANSPORT_RESOLVE, 0, a->host);
        return 1;
    }
    fd = socket(res->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, res->ai_addr, res->ai_addrlen) != 0) {
        report_failure(a, "connect", TSE_ERR_TRANSPORT_IO, 0, strerror(errno));
        freeaddrinfo(res);
        if (fd >= 0)
            close(fd);
        return 1;
    }
    freeaddrinfo(res);
    rc = tse_turn_allocate(&a->turn, tse_posix_now_ms());
    /* bounded: by --timeout-ms (and each poll by 200 ms) */
    while (rc == TSE_OK && !g_stop) {
        struct pollfd p[2];
        const uint8_t *out;
        size_t n;
        tse_time_ms now = tse_posix_now_ms(), e;
        int timeout = 200, np = 1;
        if (now >= deadline) {
            report_failure(a, "turn", TSE_ERR_TURN_TIMEOUT, 0, "no answer within --timeout-ms");
            break;
        }
        while ((n = tse_turn_pending(&a->turn, &out)) > 0) {
            if (send(fd, out, n, 0) < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                break; /* other errors (ICMP refused): the retransmission retries */
            tse_turn_consume(&a->turn, n);
        }
        e = tse_turn_expiry(&a->turn);
        if (e != TSE_TIME_NEVER && e <= now)
            timeout = 0;
        else if (e != TSE_TIME_NEVER && e - now < 200)
            timeout = (int)(e - now);
        p[0].fd = fd;
        p[0].events = POLLIN;
        if (a->peer_fd >= 0) {
            p[1].fd = a->peer_fd;
            p[1].events = POLLIN;
            np = 2;
        }
        if (poll(p, (nfds_t)np, timeout) < 0 && errno != EINTR)
            break;
        if (np == 2 && (p[1].revents & POLLIN))
            peer_echo(a);
        if (p[0].revents & POLLIN) {
            uint8_t b[2048];
            ssize_t r = recv(fd, b, sizeof b, 0);
            if (r > 0)
                (void)tse_turn_recv(&a->turn, b, (size_t)r, tse_posix_now_ms());
        }
        now = tse_posix_now_ms();
        if (tse_turn_expiry(&a->turn) <= now)
            tse_turn_handle_expiry(&a->turn, now);
        if (turn_script(a, 1))
            break;
    }
    /* the deallocation request, if any is left */
    {
        const uint8_t *out;
        size_t n;
        while ((n = tse_turn_pending(&a->turn, &out)) > 0) {
            (void)send(fd, out, n, 0);
            tse_turn_consume(&a->turn, n);
        }
    }
    close(fd);
    if (a->peer_fd >= 0)
        close(a->peer_fd);
    return a->echoed && !a->turn_failed ? 0 : 1;
}

/* ---- RFC 6062: the data connection (--turn-peer-tcp) ------------------------------- */

static void on_data_event(void *user, const tse_stream_event *ev)
{
    struct sapp *a = user;
    if (ev->type == TSE_STREAM_EV_UP) {
        a->data_up = 1;
    } else if (ev->type == TSE_STREAM_EV_DOWN) {
        a->data_down = 1;
        if (!a->echoed && ev->error != TSE_ERR_CLOSED)
            report_failure(a, "turn-data", ev->error, ev->proxy_status, ev->detail);
    } else if (ev->type == TSE_STREAM_EV_WARNING) {
        fprintf(stderr, "tse-cli: WARNING: %s\n", ev->detail ? ev->detail : "");
    }
}

/* RFC 6062 4.3: a new connection to the server, made exactly as the
 * control connection (same settings: TCP or TLS, same proxy), whose
 * first bytes are the ConnectionBind request (queued until it is up). */
static int tcp_data_open(struct sapp *a, const tse_stream_settings *s)
{
    static const tse_stream_callbacks dcb = { on_data_event, tse_posix_entropy };
    uint8_t req[1024];
    size_t n = 0;
    tse_time_ms now = tse_posix_now_ms();
    int rc = tse_turn_connection_bind_request(&a->turn, a->connection_id, req, sizeof req, &n,
                                              a->bind_txid);
    if (rc == TSE_OK)
        rc = tse_stream_new(&a->dst, s, &dcb, tse_posix_mem(), a);
    if (rc == TSE_OK)
        rc = tse_posix_stream_new(&a->dps, a->dst, NULL);
    if (rc == TSE_OK)
        rc = tse_stream_start(a->dst, now);
    if (rc == TSE_OK)
        rc = tse_stream_send(a->dst, req, n, now);
    if (rc != TSE_OK) {
        report_failure(a, "turn-data", rc, 0, "cannot open the data connection");
        return -1;
    }
    return 0;
}

/* The data connection's bytes: the ConnectionBind response, then the
 * peer's (our 32 bytes echoed).  -1 on a failure (reported). */
static int tcp_data_step(struct sapp *a)
{
    tse_time_ms now = tse_posix_now_ms();
    for (int guard = 0; guard < 16 && a->drx_len < sizeof a->drx; guard++) {
        int n = tse_stream_recv(a->dst, a->drx + a->drx_len, sizeof a->drx - a->drx_len, now);
        if (n <= 0)
            break;
        a->drx_len += (size_t)n;
    }
    if (!a->bound && a->drx_len > 0) {
        size_t used = 0;
        int rc = tse_turn_connection_bind_response(&a->turn, a->bind_txid, a->drx, a->drx_len,
                                                   &used);
        if (rc == TSE_ERR_WOULD_BLOCK)
            return 0;
        if (rc != TSE_OK) {
            report_failure(a, "turn-data", rc, 0, "ConnectionBind failed");
            return -1;
        }
        a->bound = 1;
        memmove(a->drx, a->drx + used, a->drx_len - used);
        a->drx_len -= used;
        if (a->o.json) {
            cli_json j;
            cli_json_begin(&j);
            cli_json_str(&j, "event", "turn_bound");
            cli_json_int(&j, "t_ms", since(a));
            cli_json_int(&j, "connection_id", (long long)a->connection_id);
            puts(cli_json_end(&j));
        } else {
            printf("data connection bound (connection %u)\n", (unsigned)a->connection_id);
        }
        /* the data connection is now a pipe to the peer */
        rc = tse_stream_send(a->dst, a->probe, sizeof a->probe, now);
        if (rc != TSE_OK) {
            report_failure(a, "turn-data", rc, 0, "cannot send to the peer");
            return -1;
        }
    }
    if (a->bound && !a->echoed && a->drx_len >= sizeof a->probe) {
        char ps[80];
        if (memcmp(a->drx, a->probe, sizeof a->probe) != 0) {
            report_failure(a, "turn-data", TSE_ERR_PROTO_UNEXPECTED, 0,
                           "the peer's bytes are not ours echoed");
            return -1;
        }
        a->echoed = 1;
        addr_str(&a->peer, ps, sizeof ps);
        if (a->o.json) {
            cli_json j;
            cli_json_begin(&j);
            cli_json_str(&j, "event", "turn_echo");
            cli_json_int(&j, "t_ms", since(a));
            cli_json_str(&j, "peer", ps);
            cli_json_str(&j, "relay", "tcp");
            cli_json_int(&j, "bytes", (long long)sizeof a->probe);
            puts(cli_json_end(&j));
        } else {
            printf("bytes relayed to TCP peer %s and back (%zu bytes)\n", ps, sizeof a->probe);
        }
        tse_stream_close(a->dst, now);
    }
    if (a->data_down && !a->echoed)
        return -1;
    return 0;
}

/* ---- main --------------------------------------------------------------------------- */

int stream_cli_main(int argc, char **argv)
{
    static struct sapp app;
    struct sapp *a = &app;
    tse_stream_settings s;
    tse_stream_callbacks cb = { on_stream_event, tse_posix_entropy };
    tse_posix_proxy px;
    tse_posix_stream *ps = NULL;
    uint8_t *ca = NULL, pin[32];
    size_t ca_len = 0;
    tse_time_ms deadline;
    struct sigaction sa;
    int rc, ok = 0, closing = 0;

    setvbuf(stdout, NULL, _IOLBF, 0);
    parse(a, argc, argv);
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (a->o.turn && !a->o.turn_tls && !a->o.turn_tcp) {
        /* TURN over UDP: no stream */
        a->t0 = tse_posix_now_ms();
        if (turn_init(a, TSE_TURN_DATAGRAM) != TSE_OK || peer_setup(a) != 0)
            return 1;
        return turn_udp_main(a);
    }
    tse_stream_settings_default(&s);
    s.host = a->host;
    s.port = a->port;
    s.sni = a->o.sni;
    s.plain_tcp = a->o.turn_tcp; /* RFC 8656 3.1: TURN over TCP, no TLS */
    if (a->o.ca_file) {
        ca = tse_posix_read_key_file(a->o.ca_file, &ca_len);
        if (!ca) {
            fprintf(stderr, "tse-cli: error: cannot read --ca %s (%s)\n", a->o.ca_file,
                    strerror(errno));
            return 1;
        }
        s.ca = ca;
        s.ca_len = ca_len;
    }
    if (a->o.pin_hex) {
        if (parse_pin(a->o.pin_hex, pin) != 0)
            die_usage("--pin: expected 64 hex digits (colons allowed), got '%s'", a->o.pin_hex);
        s.pin_sha256 = pin;
    }
    if (a->o.insecure) {
        s.ca = NULL;
        s.ca_len = 0;
        s.tls_insecure_lab_only_skip_verify = 1;
    }
    if (a->o.proxy_url) {
        const char *why = NULL;
        if (tse_posix_parse_proxy_url(a->o.proxy_url, &px, &why) != 0)
            die_usage("--proxy: %s", why);
        s.proxy_host = px.host;
        s.proxy_port = px.port;
        if (px.has_auth) {
            s.proxy_user = px.user;
            s.proxy_pass = px.pass;
        }
    }
    s.proxy_marker_header = a->o.marker;
    s.connect_timeout_ms = s.proxy_timeout_ms = s.tls_timeout_ms = (uint32_t)a->o.timeout_ms;
    if (s.plain_tcp)
        s.tls_timeout_ms = 1000; /* only bounds the close */
    s.dead_peer_ms = (uint32_t)a->o.timeout_ms;
    s.recv_buf = 8192;
    a->t0 = tse_posix_now_ms();
    deadline = a->t0 + (tse_time_ms)a->o.timeout_ms;

    rc = tse_stream_new(&a->st, &s, &cb, tse_posix_mem(), a);
    if (rc != TSE_OK) {
        free(ca);
        report_failure(a, "setup", rc, 0, NULL);
        return 1;
    }
    if (a->o.turn && (turn_init(a, TSE_TURN_STREAM) != TSE_OK || peer_setup(a) != 0)) {
        tse_stream_del(a->st);
        free(ca);
        return 1;
    }
    if (tse_posix_stream_new(&ps, a->st, NULL) != TSE_OK || tse_stream_start(a->st, a->t0) != TSE_OK) {
        tse_stream_del(a->st);
        free(ca);
        return 1;
    }
    if (a->o.sip_tls && (rc = sip_start(a)) != TSE_OK) {
        report_failure(a, "sip", rc, 0, "cannot build the OPTIONS request");
        g_stop = 1;
    }

    /* bounded: by --timeout-ms (and each step by 200 ms) */
    while (!g_stop && tse_stream_get_state(a->st) != TSE_STREAM_DOWN) {
        struct pollfd extra[1];
        size_t nx = 0;
        tse_time_ms now = tse_posix_now_ms();
        if (now >= deadline) {
            report_failure(a, a->up ? (a->o.sip_tls ? "sip" : "turn") : "connect",
                           TSE_ERR_TRANSPORT_TIMEOUT, 0, "no answer within --timeout-ms");
            break;
        }
        if (a->peer_fd >= 0) {
            extra[0].fd = a->peer_fd;
            extra[0].events = POLLIN;
            nx = 1;
        }
        if (tse_posix_stream_step(ps, nx ? extra : NULL, nx, a->dps ? 20 : 200) != TSE_OK)
            break;
        if (a->dps && tse_posix_stream_step(a->dps, NULL, 0, 0) != TSE_OK)
            break;
        if (nx && (extra[0].revents & POLLIN))
            peer_echo(a);
        if (!a->up || closing)
            continue;
        if (a->o.sip_tls) {
            int r = sip_poll(a);
            if (r != 0) {
                ok = r > 0;
                closing = 1;
                tse_stream_close(a->st, tse_posix_now_ms());
            }
            continue;
        }
        /* TURN */
        if (!a->turn_started) {
            a->turn_started = 1;
            tse_turn_allocate(&a->turn, tse_posix_now_ms());
        }
        turn_pump(a);
        (void)turn_script(a, 0);
        turn_pump(a);
        if (a->connected && !a->dst && !a->turn_failed && tcp_data_open(a, &s) != 0)
            a->turn_failed = 1;
        if (a->dst && !a->turn_failed && tcp_data_step(a) != 0)
            a->turn_failed = 1;
        if (turn_script(a, 0)) {
            ok = a->echoed && !a->turn_failed;
            closing = 1;
            tse_stream_close(a->st, tse_posix_now_ms());
        }
    }
    /* let close_notify go out (bounded: 1 s) */
    for (int i = 0; i < 10 && tse_stream_get_state(a->st) != TSE_STREAM_DOWN; i++)
        tse_posix_stream_step(ps, NULL, 0, 100);
    for (int i = 0; i < 10 && (tse_stream_want(a->st) & TSE_WANT_WRITE); i++)
        tse_posix_stream_step(ps, NULL, 0, 100);

    if (a->o.sip_tls && a->sip_status >= 200) {
        if (a->o.json) {
            cli_json j;
            cli_json_begin(&j);
            cli_json_str(&j, "event", "sip_response");
            cli_json_int(&j, "t_ms", a->sip_ms);
            cli_json_int(&j, "status", a->sip_status);
            cli_json_str(&j, "status_line", a->status_line);
            puts(cli_json_end(&j));
        } else {
            printf("%s\n", a->status_line);
        }
    }
    for (int i = 0; i < 10 && a->dst && tse_stream_get_state(a->dst) != TSE_STREAM_DOWN; i++)
        tse_posix_stream_step(a->dps, NULL, 0, 100);
    tse_posix_stream_del(a->dps);
    tse_stream_del(a->dst);
    tse_posix_stream_del(ps);
    tse_stream_del(a->st);
    free(ca);
    if (a->peer_fd >= 0)
        close(a->peer_fd);
    return ok ? 0 : 1;
}
