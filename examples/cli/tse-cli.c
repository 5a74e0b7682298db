/*
 * tse-cli: bring up one or many TSCF tunnels (TR 33.830 8.4), print the
 * negotiated configuration, optionally ping through them or run an inner
 * application (SIP OPTIONS, a TCP stream, an RTP-like stream).
 *
 * Runs on the POSIX port's poll driver: one thread, all tunnels.
 * See usage() for the options and the exit codes.
 *
 * Inner traffic (TSE_CLI_LWIP, the builds with a NO_SYS=1 lwIP): with one
 * tunnel, lwIP is the inner IP stack.  The tunnel's netif
 * (include/tse/lwip_netif.h) takes the negotiated addresses; --ping sends
 * its echo requests through an lwIP raw PCB and gets the replies from it;
 * --sip-options / --tcp-send / --rtp run examples/lwip-apps' applications.
 * The driver's tick runs lwIP's timers and the application's (no threads).
 * With --tunnels N > 1, and in builds without NO_SYS=1 lwIP, --ping builds
 * the IP packets itself (icmp_echo.c) and hands them to the tunnel.
 */
#include "posix_feature.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>

#include "detect_cli.h"
#include "stream_cli.h"
#include "icmp_echo.h"
#include "json_out.h"
#include "stats_cli.h"
#include "keylog_out.h"
#include "pcap_out.h"
#include "roam_cli.h"
#include "tun_cli.h"
#include "tse/tse.h"
#include "tse_posix.h"

#ifdef TSE_CLI_LWIP
#include "lwip/init.h"
#include "lwip/ip_addr.h"
#include "lwip/pbuf.h"
#include "lwip/raw.h"
#include "lwip/sys.h"
#include "lwip/timeouts.h"
#include "tse/lwip_netif.h"
#include "lwip_apps.h"
#endif

#define PING_RING 1024u        /* outstanding pings remembered per tunnel */
#define MAX_PAYLOAD 1400u

/* exit codes */
#define EXIT_FAIL 1            /* tunnel failed, no reply, timeout */
#define EXIT_USAGE 2           /* bad command line or unreadable file */

struct opts {
    char server_host[TSE_POSIX_HOST_MAX];
    uint16_t server_port;
    uint16_t server_port_2;    /* --port2: 0 = none */
    const char *ca_file, *sni, *proxy_url, *marker, *pin_hex;
    const char *cert_file, *key_file;
    int no_proxy_env;
    int keepalive_s;           /* -1: not requested */
    int framing;               /* --profile: enum tse_framing_profile */
    const char *ping;
    int ping_family;           /* 4 or 6 */
    uint8_t ping_dst[16];
    long count;                /* 0 = until stopped */
    long interval_ms, ping_timeout_ms, size;
    long timeout_s;            /* 0 = none */
    long backoff_max_ms;       /* 0 = the library's default */
    long dpd_idle_ms;          /* -1 = the library's default */
    long tunnels;
    long parallel;             /* most tunnels in bring-up at once */
    /* inner applications (lwIP builds): --sip-options, --tcp-send, --rtp */
    const char *sip_uri, *tcp_send, *rtp, *bytes, *seed;
    int rtp_tcp;               /* --rtp-tcp: rtp is over TCP (RFC 4571) */
    long seconds, pps, window;
    int json, verbose, insecure, reconnect, ipv6;
};

struct ping_slot {
    uint16_t seq;
    int outstanding;
    tse_time_ms sent_at;       /* ms, the driver's clock (timeouts) */
    uint64_t sent_us;          /* us, for the RTT */
};

struct app;

struct tun {
    struct app *app;
    long idx;
    tse_tunnel *t;
    tse_state state, last_phase;
    int started;               /* tse_tunnel_start() called */
    int up_count;              /* times it came up */
    int closing;               /* we called tse_tunnel_close() */
    int done;                  /* reached CLOSED */
    int failed;                /* CLOSED by an error, not by us */
    int local_fail;            /* we gave up on it (reason/detail say why) */
    const char *reason;        /* for local_fail: instead of tse_strerror() */
    int err;
    char detail[256];
    /* pings */
    uint16_t ident, next_seq, ip_id;
    uint16_t oldest;           /* no ping before this seq is outstanding */
    long sent, replies, timeouts;
    tse_time_ms next_ping_at;
    double rtt_min, rtt_max, rtt_sum;
    struct ping_slot ring[PING_RING];
};

struct app {
    struct opts o;
    tse_posix_driver *drv;
    tse_tls_config *tls_shared;  /* --tunnels N > 1: one TLS configuration */
    struct tun *tun;
    long ntun;
    int via_proxy;
    tse_posix_proxy px;
    tse_time_ms t0, deadline, hard_deadline;
    int closing_all;
    int timed_out;
    int kick;                  /* a callback woke the driver for app_tick() */
    long next_start;           /* first tunnel not started yet */
    int use_lwip;              /* one tunnel in an lwIP build: lwIP is the inner stack */
#ifdef TSE_CLI_LWIP
    tse_lwip_netif tn;
    struct raw_pcb *ping_pcb;
    ip_addr_t ping_addr;
    int has_app;               /* --sip-options / --tcp-send / --rtp */
    lwapp_spec spec;
    lwapp run;
    int app_started, app_done, app_reported;
#endif
};

static volatile sig_atomic_t g_signals;
static volatile sig_atomic_t g_usr1;   /* SIGUSR1: print the statistics */
static struct app *g_app;              /* for the log's tunnel numbers */
static const char *g_pcap_file; /* --pcap FILE */
static pcap_out *g_pcap;

/* Microseconds of CLOCK_MONOTONIC: RTTs on loopback are well below 1 ms. */
static uint64_t now_us(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        return 0;
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)(ts.tv_nsec / 1000);
}

/* The loop sleeps until its next deadline, which may be never (an idle
 * tunnel without keep-alive): a signal that lands between the loop's checks
 * and poll(2) would not interrupt it, so the handler also writes the
 * driver's wake-up pipe (async-signal-safe). */
static tse_posix_driver *volatile g_drv;

static void on_signal(int sig)
{
    if (sig == SIGUSR1)
        g_usr1 = 1;
    else if (g_signals < 100)
        g_signals++;
    if (g_drv != NULL)
        (void)tse_posix_driver_wake(g_drv);
}

/* A callback changed what app_tick() decides (an event, an echo reply,
 * lwIP's input), after this round's tick ran: make the round's poll, or
 * the next one, return at once so the tick runs again.  One pipe write
 * per round at most. */
static void kick_tick(struct app *a)
{
    if (!a->kick) {
        a->kick = 1;
        (void)tse_posix_driver_wake(a->drv);
    }
}

/* The log's "#N": tunnel numbers only when there are several. */
static long tunnel_index(const tse_tunnel *t)
{
    if (g_app == NULL || g_app->ntun < 2)
        return -1;
    for (long i = 0; i < g_app->ntun; i++)
        if (g_app->tun[i].t == t)
            return i;
    return -1;
}

/* Every tunnel's statistics, one line each (SIGUSR1, and at exit with
 * --json or --verbose). */
static void print_stats(const struct app *a)
{
    for (long i = 0; i < a->ntun; i++)
        if (a->tun[i].t != NULL)
            stats_cli_print(a->tun[i].t, a->ntun > 1 ? i : -1, a->o.json,
                            (unsigned long long)tse_posix_driver_polls(a->drv));
}

/* ---- output --------------------------------------------------------------- */

static void die_usage(const char *fmt, const char *arg)
{
    fprintf(stderr, "tse-cli: error: ");
    fprintf(stderr, fmt, arg ? arg : "");
    fprintf(stderr, " (try --help)\n");
    exit(EXIT_USAGE);
}

static void json_emit(cli_json *j)
{
    puts(cli_json_end(j));
}

static void json_head(cli_json *j, const struct tun *u, const char *event)
{
    cli_json_begin(j);
    cli_json_str(j, "event", event);
    if (u && u->app->ntun > 1)
        cli_json_int(j, "tunnel", u->idx);
}

/* Human-readable line prefix for multi-tunnel runs. */
static void human_prefix(const struct tun *u)
{
    if (u->app->ntun > 1)
        printf("[%ld] ", u->idx);
}

static int human_quiet(const struct tun *u)
{
    return u->app->ntun > 1 && !u->app->o.verbose;
}

/* The one-line failure report (stderr), plus a JSON error event. */
static void report_error(const struct app *a, const char *reason,
                         const char *detail)
{
    if (a->o.json) {
        cli_json j;
        char buf[512];
        if (detail && *detail)
            snprintf(buf, sizeof buf, "%s (%s)", reason, detail);
        else
            snprintf(buf, sizeof buf, "%s", reason);
        cli_json_begin(&j);
        cli_json_str(&j, "event", "error");
        cli_json_str(&j, "reason", buf);
        json_emit(&j);
    }
    if (detail && *detail)
        fprintf(stderr, "tse-cli: error: %s (%s)\n", reason, detail);
    else
        fprintf(stderr, "tse-cli: error: %s\n", reason);
}

static void fmt_ipv4(char *buf, size_t cap, const uint8_t *a)
{
    snprintf(buf, cap, "%u.%u.%u.%u", a[0], a[1], a[2], a[3]);
}

static void fmt_ipv6(char *buf, size_t cap, const uint8_t *a)
{
    if (!inet_ntop(AF_INET6, a, buf, (socklen_t)cap))
        snprintf(buf, cap, "?");
}

static const char *tls_name(uint16_t v)
{
    switch (v) {
    case 0x0303: return "TLSv1.2";
    case 0x0304: return "TLSv1.3";
    default: return "unknown";
    }
}

static void print_config(struct tun *u, const tse_tunnel_config *c, int changed)
{
    const struct app *a = u->app;
    char v4[16], m4[16], v6[INET6_ADDRSTRLEN], m6[INET6_ADDRSTRLEN];
    char tsid[17];
    fmt_ipv4(v4, sizeof v4, c->ipv4);
    fmt_ipv4(m4, sizeof m4, c->ipv4_mask);
    fmt_ipv6(v6, sizeof v6, c->ipv6);
    fmt_ipv6(m6, sizeof m6, c->ipv6_mask);
    snprintf(tsid, sizeof tsid, "%016llx", (unsigned long long)c->tsid);
    if (a->o.framing == TSE_FRAMING_FTT)
        snprintf(tsid, sizeof tsid, "none (FTT)"); /* TS 24.322 has no TSID */
    if (a->o.json) {
        cli_json j;
        json_head(&j, u, changed ? "addr_changed" : "tunnel_up");
        cli_json_str(&j, "inner_ipv4", v4);
        cli_json_str(&j, "netmask", m4);
        if (c->has_ipv6) {
            cli_json_str(&j, "inner_ipv6", v6);
            cli_json_str(&j, "netmask6", m6);
        }
        cli_json_int(&j, "keepalive", c->keepalive_s);
        cli_json_str(&j, "tsid", tsid);
        cli_json_str(&j, "profile", a->o.framing == TSE_FRAMING_FTT ? "ftt" : "tscf");
        cli_json_str(&j, "tls", tls_name(c->tls_version));
        cli_json_str(&j, "suite", c->tls_suite ? c->tls_suite : "");
        cli_json_bool(&j, "via_proxy", c->via_proxy);
        cli_json_int(&j, "port", c->server_port);
        cli_json_bool(&j, "resumed", c->resumed);
        json_emit(&j);
        return;
    }
    if (human_quiet(u))
        return;
    human_prefix(u);
    printf("%s: inner %s/%s", changed ? "address changed" : "tunnel up", v4, m4);
    if (c->has_ipv6)
        printf(", ipv6 %s/%s", v6, m6);
    if (c->keepalive_s)
        printf(", keep-alive %u s", (unsigned)c->keepalive_s);
    else
        printf(", no keep-alive");
    printf(", tsid %s, %s %s, %s%s%s%s\n", tsid, tls_name(c->tls_version),
           c->tls_suite ? c->tls_suite : "?",
           c->via_proxy ? "via proxy " : "direct",
           c->via_proxy ? a->px.host : "",
           c->resumed ? ", resumed" : "",
           (a->o.insecure ? ", CERTIFICATE NOT VERIFIED" : ""));
}

/* ---- engine callbacks ------------------------------------------------------ */

#ifdef TSE_CLI_LWIP
static void app_done_cb(void *user, lwapp *r)
{
    struct app *a = user;
    (void)r;
    a->app_done = 1; /* reported and the tunnel released from app_tick() */
}
#endif

static void on_event(void *user, const tse_event *ev)
{
    struct tun *u = user;
    cli_json j;
#ifdef TSE_CLI_LWIP
    struct app *a = u->app;
    if (a->use_lwip) {
        tse_lwip_netif_on_event(&a->tn, ev);
        if (ev->type == TSE_EV_TUNNEL_UP && a->has_app) {
            if (!a->app_started) {
                /* the netif has its addresses now; failures come back
                 * through app_done_cb() */
                a->app_started = 1;
                (void)lwapp_start(&a->run, &a->spec, app_done_cb, a);
            } else if (ev->config && ev->config->resumed) {
                lwapp_link_up(&a->run); /* retransmit in-flight TCP data now */
            }
        }
    }
#else
    const struct app *a = u->app;
#endif

    kick_tick(u->app); /* app_tick() reacts in the next round, not at its deadline */
    tun_cli_on_event(ev); /* --tun: addresses and routes first */
    switch (ev->type) {
    case TSE_EV_STATE:
        u->state = ev->state;
        if (ev->state != TSE_STATE_BACKOFF && ev->state != TSE_STATE_CLOSED &&
            ev->state != TSE_STATE_IDLE)
            u->last_phase = ev->state;
        if (ev->state == TSE_STATE_CLOSED) {
            u->done = 1;
            if (u->closing && u->up_count && !a->o.json && !a->o.verbose &&
                !human_quiet(u)) {
                human_prefix(u);
                printf("tunnel released\n");
            }
        }
        if (a->o.json) {
            json_head(&j, u, "state");
            cli_json_str(&j, "state", tse_state_name(ev->state));
            cli_json_str(&j, "from", tse_state_name(ev->old_state));
            json_emit(&j);
        } else if (a->o.verbose) {
            human_prefix(u);
            printf("state: %s -> %s\n", tse_state_name(ev->old_state),
                   tse_state_name(ev->state));
        }
        break;
    case TSE_EV_TUNNEL_UP:
    case TSE_EV_ADDR_CHANGED:
        if (ev->type == TSE_EV_TUNNEL_UP) {
            u->up_count++;
            u->next_ping_at = 0; /* first ping at once */
        }
        if (ev->config)
            print_config(u, ev->config, ev->type == TSE_EV_ADDR_CHANGED);
        break;
    case TSE_EV_TUNNEL_DOWN:
        if (u->local_fail)
            break; /* keep our own reason for giving up; this is our close */
        u->err = ev->error;
        if (ev->detail)
            snprintf(u->detail, sizeof u->detail, "%s", ev->detail);
        else if (ev->proxy_status)
            snprintf(u->detail, sizeof u->detail, "proxy replied %d", ev->proxy_status);
        else if (ev->response_code)
            snprintf(u->detail, sizeof u->detail, "TSCF Response_Code %d", ev->response_code);
        else
            snprintf(u->detail, sizeof u->detail, "during %s",
                     tse_state_name(u->last_phase));
        if (a->o.json) {
            json_head(&j, u, "tunnel_down");
            cli_json_str(&j, "error", tse_strerror(ev->error));
            cli_json_int(&j, "code", ev->error);
            cli_json_str(&j, "detail", u->detail);
            if (ev->proxy_status)
                cli_json_int(&j, "proxy_status", ev->proxy_status);
            if (ev->response_code)
                cli_json_int(&j, "response_code", ev->response_code);
            cli_json_bool(&j, "retryable", tse_err_is_retryable(ev->error));
            json_emit(&j);
        } else if ((a->o.verbose || a->o.reconnect) && !u->closing) {
            human_prefix(u);
            printf("tunnel down: %s (%s)\n", tse_strerror(ev->error), u->detail);
        }
        break;
    case TSE_EV_WARNING:
        if (a->o.json) {
            json_head(&j, u, "warning");
            cli_json_str(&j, "detail", ev->detail ? ev->detail : "");
            json_emit(&j);
        }
        if (a->o.verbose || u->idx == 0)
            fprintf(stderr, "tse-cli: warning: %s\n", ev->detail ? ev->detail : "(no detail)");
        break;
    case TSE_EV_RECONNECT:
        if (a->o.json) {
            json_head(&j, u, "reconnect");
            cli_json_int(&j, "retry_in_ms", ev->retry_in_ms);
            cli_json_str(&j, "error", tse_strerror(ev->error));
            json_emit(&j);
        } else if (a->o.verbose || a->o.reconnect) {
            human_prefix(u);
            printf("reconnecting in %lu ms\n", (unsigned long)ev->retry_in_ms);
        }
        break;
    default:
        break;
    }
}

/* An inner IP packet that may be one of our echo replies: report it.
 * Returns 1 if it was an echo reply of ours (also a late one). */
static int handle_echo_reply(struct tun *u, const uint8_t *pkt, size_t len)
{
    const struct app *a = u->app;
    cli_echo_reply r;
    struct ping_slot *s;
    double rtt;
    char from[INET6_ADDRSTRLEN];

    if (cli_echo_reply_parse(pkt, len, &r) != 0 || r.ident != u->ident ||
        r.family != a->o.ping_family)
        return 0;
    s = &u->ring[r.seq % PING_RING];
    if (!s->outstanding || s->seq != r.seq)
        return 1; /* duplicate or too late */
    s->outstanding = 0;
    /* the driver runs on_packet right after the read: wire + engine time */
    rtt = (double)(now_us() - s->sent_us) / 1000.0;
    u->replies++;
    if (u->replies == 1 || rtt < u->rtt_min)
        u->rtt_min = rtt;
    if (rtt > u->rtt_max)
        u->rtt_max = rtt;
    u->rtt_sum += rtt;
    if (r.family == 4)
        fmt_ipv4(from, sizeof from, r.src);
    else
        fmt_ipv6(from, sizeof from, r.src);
    if (a->o.json) {
        cli_json j;
        json_head(&j, u, "ping_reply");
        cli_json_int(&j, "seq", r.seq);
        cli_json_num(&j, "rtt_ms", rtt, 2);
        cli_json_str(&j, "from", from);
        cli_json_int(&j, "bytes", (long long)(r.payload_len + CLI_ICMP_HDR));
        cli_json_int(&j, "ttl", r.ttl);
        json_emit(&j);
    } else if (!human_quiet(u)) {
        human_prefix(u);
        printf("%zu bytes from %s: icmp_seq=%u ttl=%u time=%.2f ms\n",
               r.payload_len + CLI_ICMP_HDR, from, (unsigned)r.seq,
               (unsigned)r.ttl, rtt);
    }
    return 1;
}

static void on_packet(void *user, const uint8_t *pkt, size_t len)
{
    struct tun *u = user;
    const struct app *a = u->app;
    if (tun_cli_enabled()) {
        tun_cli_on_packet(pkt, len); /* --tun: to the kernel */
        return;
    }
    kick_tick(u->app); /* an echo reply, lwIP's input: app_tick() may act */
#ifdef TSE_CLI_LWIP
    if (a->use_lwip) {
        /* lwIP's input; echo replies come back through ping_recv() */
        (void)tse_lwip_netif_on_packet(&u->app->tn, pkt, len);
        return;
    }
#endif
    if (handle_echo_reply(u, pkt, len) == 0 && a->o.verbose && !a->o.json) {
        human_prefix(u);
        printf("inner packet: %zu bytes (not one of our echo replies)\n", len);
    }
}

/* --pcap: every CM and inner packet of every tunnel, both ways */
static void on_trace(void *user, int outbound, int kind, const uint8_t *unit, size_t len)
{
    enum pcap_out_dir dir = outbound ? PCAP_OUT_OUT : PCAP_OUT_IN;
    (void)user;
    if (kind == TSE_UNIT_CM)
        pcap_out_cm(g_pcap, dir, unit, len);
    else
        pcap_out_packet(g_pcap, dir, unit, len);
}

#ifdef TSE_CLI_LWIP
/* lwIP's clock (NO_SYS=1: the application provides it): the driver's. */
u32_t sys_now(void)
{
    return (u32_t)tse_posix_now_ms();
}

static tse_time_ms netif_clock(void *user)
{
    (void)user;
    return tse_posix_now_ms();
}

/* lwIP raw PCB input (ICMP / ICMPv6): p->payload is the IP header. */
static u8_t ping_recv(void *arg, struct raw_pcb *pcb, struct pbuf *p, const ip_addr_t *addr)
{
    struct tun *u = arg;
    uint8_t buf[CLI_IPV6_HDR + CLI_ICMP_HDR + MAX_PAYLOAD + 64];
    u16_t n = p->tot_len > sizeof buf ? (u16_t)sizeof buf : p->tot_len;
    (void)pcb;
    (void)addr;
    if (pbuf_copy_partial(p, buf, n, 0) != n || !handle_echo_reply(u, buf, n))
        return 0; /* not ours: lwIP goes on with it */
    pbuf_free(p);
    return 1;
}

/* Send the ICMP part of an echo request built by icmp_echo.c (IP header of
 * hlen bytes skipped; lwIP writes its own, with the same source address, so
 * the ICMPv6 checksum over the pseudo-header stays valid). */
static int lwip_send_echo(struct app *a, const uint8_t *pkt, size_t n, size_t hlen)
{
    struct pbuf *p;
    err_t e;
    if (a->ping_pcb == NULL || n <= hlen)
        return TSE_ERR_NOT_UP;
    p = pbuf_alloc(PBUF_IP, (u16_t)(n - hlen), PBUF_RAM);
    if (p == NULL)
        return TSE_ERR_QUEUE_FULL;
    memcpy(p->payload, pkt + hlen, n - hlen);
    e = raw_sendto(a->ping_pcb, p, &a->ping_addr);
    pbuf_free(p);
    if (e == ERR_OK)
        return TSE_OK;
    return e == ERR_MEM || e == ERR_BUF ? TSE_ERR_QUEUE_FULL : TSE_ERR_NOT_UP;
}
#endif

/* ---- pinging and the run loop ---------------------------------------------- */

static int pings_finished(const struct tun *u)
{
    if (!u->app->o.ping || u->app->o.count <= 0 || u->sent < u->app->o.count)
        return 0;
    return u->oldest == u->next_seq; /* nothing outstanding */
}

static void close_tunnel(struct tun *u, tse_time_ms now)
{
    if (u->closing || u->done)
        return;
    u->closing = 1;
    if (!u->started) {
        u->done = 1; /* never started: nothing to release */
        return;
    }
    (void)tse_tunnel_close(u->t, now);
}

/* Start tunnels while fewer than --parallel are in bring-up: hundreds of
 * simultaneous handshakes all progress in lock-step on a busy CPU and can
 * all miss their TLS timeout together; a ramp brings them up steadily. */
static void start_more(struct app *a, tse_time_ms now)
{
    long i, busy = 0;
    if (a->closing_all || a->next_start >= a->ntun)
        return;
    for (i = 0; i < a->next_start; i++) {
        const struct tun *u = &a->tun[i];
        if (u->started && !u->up_count && !u->done)
            busy++;
    }
    while (busy < a->o.parallel && a->next_start < a->ntun) {
        struct tun *u = &a->tun[a->next_start++];
        int rc = tse_tunnel_start(u->t, now);
        u->started = 1;
        if (rc != TSE_OK) {
            u->done = 1;
            u->err = rc;
            snprintf(u->detail, sizeof u->detail, "tse_tunnel_start");
            continue;
        }
        busy++;
    }
}

static tse_time_ms tmin(tse_time_ms a, tse_time_ms b)
{
    return a < b ? a : b;
}

/* Send due pings, expire old ones.  Returns the tunnel's next deadline. */
static tse_time_ms ping_tick(struct tun *u, tse_time_ms now)
{
    const struct opts *o = &u->app->o;
    tse_time_ms next = TSE_TIME_NEVER;
    uint16_t q;

    /* only the window [oldest, next_seq) can hold outstanding pings; older
     * ones were overwritten (and counted lost) when the ring wrapped */
    if ((uint16_t)(u->next_seq - u->oldest) > PING_RING)
        u->oldest = (uint16_t)(u->next_seq - PING_RING);
    for (q = u->oldest; q != u->next_seq; q++) {
        struct ping_slot *s = &u->ring[q % PING_RING];
        tse_time_ms due;
        if (!s->outstanding || s->seq != q) {
            if (q == u->oldest)
                u->oldest++;
            continue;
        }
        due = s->sent_at + (tse_time_ms)o->ping_timeout_ms;
        if (now >= due) {
            s->outstanding = 0;
            if (q == u->oldest)
                u->oldest++;
            u->timeouts++;
            if (o->json) {
                cli_json j;
                json_head(&j, u, "ping_timeout");
                cli_json_int(&j, "seq", s->seq);
                json_emit(&j);
            } else if (!human_quiet(u)) {
                human_prefix(u);
                printf("no reply for icmp_seq=%u within %ld ms\n",
                       (unsigned)s->seq, o->ping_timeout_ms);
            }
        } else {
            next = tmin(next, due);
        }
    }

    if (u->state == TSE_STATE_UP && !u->closing &&
        (o->count <= 0 || u->sent < o->count)) {
        const tse_tunnel_config *c = tse_tunnel_get_config(u->t);
        if (c && o->ping_family == 6 && !c->has_ipv6 && !u->local_fail) {
            u->local_fail = 1;
            u->err = TSE_ERR_PROTO_NO_ADDRESS;
            u->reason = "no inner IPv6 address";
            snprintf(u->detail, sizeof u->detail,
                     "--ping %s needs one; the TSCF assigned none", o->ping);
            close_tunnel(u, now);
            return next;
        }
        if (u->next_ping_at <= now && c) {
            uint8_t pkt[CLI_IPV6_HDR + CLI_ICMP_HDR + MAX_PAYLOAD];
            uint8_t pl[MAX_PAYLOAD];
            uint16_t seq = u->next_seq;
            size_t n, k;
            for (k = 0; k < (size_t)o->size; k++)
                pl[k] = (uint8_t)(0x10 + k);
            if (o->ping_family == 4)
                n = cli_icmp4_echo_request(pkt, sizeof pkt, c->ipv4, o->ping_dst,
                                           u->ip_id, u->ident, seq, pl, (size_t)o->size);
            else
                n = cli_icmp6_echo_request(pkt, sizeof pkt, c->ipv6, o->ping_dst,
                                           u->ident, seq, pl, (size_t)o->size);
            if (n > 0) {
                int rc;
#ifdef TSE_CLI_LWIP
                if (u->app->use_lwip)
                    rc = lwip_send_echo(u->app, pkt, n,
                                        o->ping_family == 4 ? CLI_IPV4_HDR : CLI_IPV6_HDR);
                else
#endif
                rc = tse_tunnel_send_packet(u->t, pkt, n, now);
                if (rc == TSE_OK) {
                    struct ping_slot *s = &u->ring[seq % PING_RING];
                    if (s->outstanding) /* ring wrapped: count it lost */
                        u->timeouts++;
                    s->seq = seq;
                    s->outstanding = 1;
                    s->sent_at = now;
                    s->sent_us = now_us();
                    u->sent++;
                    u->next_seq++;
                    u->ip_id++;
                    /* keep the cadence, but no burst after a stall */
                    if (u->next_ping_at == 0 ||
                        now - u->next_ping_at >= (tse_time_ms)o->interval_ms)
                        u->next_ping_at = now + (tse_time_ms)o->interval_ms;
                    else
                        u->next_ping_at += (tse_time_ms)o->interval_ms;
                    next = tmin(next, now + (tse_time_ms)o->ping_timeout_ms);
                } else if (rc == TSE_ERR_QUEUE_FULL || u->app->use_lwip) {
                    u->next_ping_at = now + 10; /* retry when drained */
                }
            }
        }
        if (o->count <= 0 || u->sent < o->count)
            next = tmin(next, u->next_ping_at);
    }
    if (pings_finished(u))
        close_tunnel(u, now);
    return next;
}

static tse_time_ms app_tick(void *user, tse_time_ms now)
{
    struct app *a = user;
    tse_time_ms next = TSE_TIME_NEVER;
    long i;

    if (g_signals && !a->closing_all) {
        a->closing_all = 1;
        for (i = 0; i < a->ntun; i++)
            close_tunnel(&a->tun[i], now);
    }
    if (a->deadline != TSE_TIME_NEVER && now >= a->deadline && !a->closing_all) {
        a->timed_out = 1;
        a->closing_all = 1;
        for (i = 0; i < a->ntun; i++)
            close_tunnel(&a->tun[i], now);
    }
    if (!a->closing_all && tun_cli_take_error(&a->tun[0].err, a->tun[0].detail,
                                              sizeof a->tun[0].detail)) {
        /* --tun: the interface could not be configured (or vanished) */
        a->tun[0].local_fail = 1;
        a->tun[0].reason = tse_strerror(a->tun[0].err);
        a->closing_all = 1;
        close_tunnel(&a->tun[0], now);
    }
    if (a->closing_all && a->hard_deadline == TSE_TIME_NEVER)
        a->hard_deadline = now + 5000; /* release_timeout_ms (3 s) + margin */
    start_more(a, now);
#ifdef TSE_CLI_LWIP
    if (a->use_lwip) {
        u32_t sleep_ms;
        sys_check_timeouts();
        sleep_ms = lwapp_lwip_sleeptime(); /* not lwIP's idle housekeeping */
        if (a->app_started && !a->app_done) {
            u32_t app_ms = lwapp_poll(&a->run);
            if (app_ms != LWAPP_POLL_DONE && app_ms < sleep_ms)
                sleep_ms = app_ms;
        }
        if (a->app_done && !a->app_reported) {
            char line[1024];
            a->app_reported = 1;
            lwapp_format(&a->run, a->o.json, line, sizeof line);
            puts(line);
            close_tunnel(&a->tun[0], now);
        }
        if (sleep_ms != SYS_TIMEOUTS_SLEEPTIME_INFINITE)
            next = tmin(next, now + sleep_ms);
    }
#endif
    if (a->o.ping)
        for (i = 0; i < a->ntun; i++)
            next = tmin(next, ping_tick(&a->tun[i], now));
    if (!a->closing_all)
        next = tmin(next, a->deadline);
    for (i = 0; i < a->ntun; i++)
        if (!a->tun[i].done)
            break;
    if (i == a->ntun)
        return now; /* all closed (maybe just now): don't let poll sleep */
    return tmin(next, a->hard_deadline);
}

/* ---- setup -------------------------------------------------------------------- */

static int parse_pin(const char *hex, uint8_t out[32])
{
    size_t k = 0;
    while (*hex) {
        int hi, lo;
        if (*hex == ':') {
            hex++;
            continue;
        }
        if (k == 32 || !hex[1])
            return -1;
        hi = (*hex >= '0' && *hex <= '9') ? *hex - '0' :
             (*hex >= 'a' && *hex <= 'f') ? *hex - 'a' + 10 :
             (*hex >= 'A' && *hex <= 'F') ? *hex - 'A' + 10 : -1;
        lo = (hex[1] >= '0' && hex[1] <= '9') ? hex[1] - '0' :
             (hex[1] >= 'a' && hex[1] <= 'f') ? hex[1] - 'a' + 10 :
             (hex[1] >= 'A' && hex[1] <= 'F') ? hex[1] - 'A' + 10 : -1;
        if (hi < 0 || lo < 0)
            return -1;
        out[k++] = (uint8_t)(hi * 16 + lo);
        hex += 2;
    }
    return k == 32 ? 0 : -1;
}

static long parse_long(const char *opt, const char *v, long lo, long hi)
{
    char *end;
    long x;
    errno = 0;
    x = strtol(v, &end, 10);
    if (errno || end == v || *end || x < lo || x > hi) {
        char msg[160];
        snprintf(msg, sizeof msg, "%s: expected a number from %ld to %ld, got '%%s'",
                 opt, lo, hi);
        die_usage(msg, v);
    }
    return x;
}

static void usage(void)
{
    printf(
"usage: tse-cli --server HOST[:PORT] --ca FILE [options]\n"
"\n"
"Bring up a TSCF tunnel (3GPP TR 33.830 8.4), print the negotiated\n"
"configuration, and optionally ping through it.\n"
"\n"
"  --server HOST[:PORT]  TSCF (port 443 by default); IPv6 as [addr]:port\n"
"  --profile P           tscf (default: TR 33.830 Annex A control messages) or\n"
"                        ftt (TS 24.322 envelopes, no control messages; the\n"
"                        inner address is the server's first packet's\n"
"                        destination, a cut brings up a new tunnel)\n"
"  --port2 N             second TSCF port, tried at once when a connection on the\n"
"                        first fails (TR 33.830 8.4.2: 443, then 80)\n"
"  --control FIFO        read network changes from FIFO (created if missing), one\n"
"                        per line: 'network ID [proxy HOST:PORT | direct]'; the\n"
"                        tunnel resumes at once on the new path (roam_cli.h)\n"
"  --network ID          with --control: the network at the start\n"
"  --watch-network       move the tunnel when rtnetlink shows another network\n"
"                        (default route, gateway or address outside the TUN)\n"
"  --ca FILE             trust anchors, PEM or DER\n"
"  --sni NAME            TLS server name and certificate name to verify\n"
"  --pin SHA256HEX       also require this SHA-256 of the server's public key\n"
"  --cert FILE --key FILE  client certificate and key\n"
"  --insecure-lab-only   DO NOT VERIFY the server certificate (lab only)\n"
"  --proxy URL           http://[user:pass@]host[:port] (default port 1080);\n"
"                        default: https_proxy/HTTPS_PROXY/all_proxy/ALL_PROXY\n"
"                        unless no_proxy/NO_PROXY exempts the server\n"
"  --no-proxy            ignore the proxy environment variables\n"
"  --proxy-marker LINE   extra CONNECT header, e.g. 'X-IMS-Tunnel: tscf'\n"
"  --keepalive SECONDS   request this Keep_Alive_Interval\n"
"  --dpd-idle MS         without a keep-alive: probe a path silent this long, dead\n"
"                        1.5 x MS after its last sign of life (default 20000; 0 off)\n"
"  --ipv6                also request an inner IPv6 address\n"
"  --reconnect           reconnect and resume after a failure (default: exit)\n"
"  --backoff-max MS      longest wait before a reconnect (default 60000; below\n"
"                        1000 the first wait too)\n"
"  --ping ADDR           send ICMP echo requests to ADDR through the tunnel\n"
"  --count N             stop after N pings (replies or timeouts), then release\n"
"  --interval MS         between pings (default 1000)\n"
"  --ping-timeout MS     a reply later than this is lost (default 2000)\n"
"  --size BYTES          echo payload (default 56)\n"
"  --sip-options URI     sip:ADDR[:PORT][;transport=tcp]: send a SIP OPTIONS over\n"
"                        UDP (retransmitted, T1 500 ms) or TCP, report the status\n"
"  --tcp-send ADDR:PORT  stream --bytes N (default 1M; k/M/G, Ki/Mi/Gi) pseudo-\n"
"                        random bytes (--seed N) over TCP; report SHA-256, Mbit/s\n"
"  --rtp-tcp ADDR:PORT   the same stream over TCP with RFC 4571 framing and an\n"
"                        RTCP report every 50 packets on it (rtcp-mux; W.3)\n"
"  --rtp ADDR:PORT       RTP-like UDP stream to an echo (--seconds S, --pps N,\n"
"                        0 = flood with --window N outstanding)\n"
"                        (these three: the lwIP NO_SYS=1 build only; one tunnel)\n"
"  --tun IFNAME          be the Linux TUN interface IFNAME: inner address,\n"
"                        netmask and MTU set on it; kernel programs use it\n"
"  --route PREFIX        also route PREFIX (ADDR/LEN, default, default6) through\n"
"                        --tun (repeatable; the outer connection stays outside)\n"
"  --mtu N               --tun interface MTU (576..2048, default 1400)\n"
"  --tunnels N           bring up N tunnels in this process (each pings)\n"
"  --parallel N          at most N tunnels in bring-up at once (default 16)\n"
"  --timeout SECONDS     give up after this long (default: none)\n"
"  --json                one JSON object per event on stdout\n"
"  --verbose             state changes and other details\n"
"  --pcap FILE           write the inner packets and the control messages, both\n"
"                        ways, to FILE (pcap-ng; examples/common/pcap_out.h)\n"
"  --log LEVEL           the library's log on stderr: error, warn, info or debug\n"
"                        (debug needs a build with -DTSE_LOG_DEBUG=ON)\n"
"  --tls-debug N         mbed TLS's debug output (0-4) in that log (debug builds)\n"
"  --detect ...          find the path that works (tse-cli --detect --help)\n"
"  --sip-tls HOST[:PORT] SIP OPTIONS over TLS, --turn HOST[:PORT] ... --turn-tls\n"
"                        a TURN allocation over TLS (tse-cli --sip-tls x --help)\n"
"  --version, --help\n"
"\n"
"Without --ping or an application (and with --tun) the tunnel stays up\n"
"until SIGINT/SIGTERM, which release it (and remove the --tun interface);\n"
"with one, it is released when the pings or the\n"
"application are done.  With one tunnel in the lwIP build, lwIP is the inner\n"
"IP stack (pings included); with --tunnels N > 1 pings are built directly.\n"
"SIGUSR1 prints every tunnel's statistics (a JSON line with --json); --json\n"
"and --verbose also print them at exit.\n"
"Exit status: 0 success (with --ping: every tunnel got a reply; with an\n"
"application: it succeeded), 1 failure, 2 bad usage.  Names resolve in a\n"
"thread (the loop never waits for DNS; at most 5 s).\n"
"SSLKEYLOGFILE=FILE in the environment appends the TLS secrets to FILE (NSS key\n"
"log format, for Wireshark), with a warning: debugging only.\n");
}

static void parse_args(struct opts *o, int argc, char **argv)
{
    int i;
    const char *server = NULL;
    memset(o, 0, sizeof *o);
    o->keepalive_s = -1;
    o->dpd_idle_ms = -1;
    o->interval_ms = 1000;
    o->ping_timeout_ms = 2000;
    o->size = 56;
    o->tunnels = 1;
    o->parallel = 16;
    o->pps = -1;

    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = NULL;
        char name[64];
        const char *eq = strchr(a, '=');
        if (strncmp(a, "--", 2) != 0)
            die_usage("unexpected argument '%s'", a);
        if (eq && (size_t)(eq - a) < sizeof name) {
            memcpy(name, a, (size_t)(eq - a));
            name[eq - a] = '\0';
            val = eq + 1;
        } else {
            snprintf(name, sizeof name, "%s", a);
        }
#define FLAG(n) (strcmp(name, n) == 0)
#define NEED_VAL() do { if (!val) { if (i + 1 >= argc) die_usage("%s needs a value", name); \
                                    val = argv[++i]; } } while (0)
        if (FLAG("--help")) {
            usage();
            exit(0);
        } else if (FLAG("--version")) {
            printf("tse-cli %s\n", TSE_VERSION_STRING);
#ifdef TSE_CLI_LWIP
            printf("inner stack: lwIP %s (NO_SYS=1); --sip-options, --tcp-send, --rtp available\n",
                   LWIP_VERSION_STRING);
#else
            printf("inner stack: none (pings built directly); no --sip-options, --tcp-send, --rtp\n");
#endif
            exit(0);
        } else if (FLAG("--json")) {
            o->json = 1;
        } else if (FLAG("--verbose")) {
            o->verbose = 1;
        } else if (FLAG("--insecure-lab-only")) {
            o->insecure = 1;
        } else if (FLAG("--reconnect")) {
            o->reconnect = 1;
        } else if (FLAG("--ipv6")) {
            o->ipv6 = 1;
        } else if (FLAG("--no-proxy")) {
            o->no_proxy_env = 1;
        } else if (FLAG("--watch-network")) {
            char msg[160];
            if (roam_cli_option(name, NULL, msg, sizeof msg) < 0)
                die_usage("%s", msg);
        } else {
            NEED_VAL();
            if (FLAG("--server")) server = val;
            else if (FLAG("--ca")) o->ca_file = val;
            else if (FLAG("--profile")) {
                if (strcmp(val, "tscf") == 0) o->framing = TSE_FRAMING_TSCF;
                else if (strcmp(val, "ftt") == 0) o->framing = TSE_FRAMING_FTT;
                else die_usage("--profile: tscf or ftt, not '%s'", val);
            }
            else if (FLAG("--sni")) o->sni = val;
            else if (FLAG("--port2")) o->server_port_2 = (uint16_t)parse_long(name, val, 1, 65535);
            else if (FLAG("--pin")) o->pin_hex = val;
            else if (FLAG("--cert")) o->cert_file = val;
            else if (FLAG("--key")) o->key_file = val;
            else if (FLAG("--proxy")) o->proxy_url = val;
            else if (FLAG("--proxy-marker")) o->marker = val;
            else if (FLAG("--keepalive")) o->keepalive_s = (int)parse_long(name, val, 0, 65535);
            else if (FLAG("--ping")) o->ping = val;
            else if (FLAG("--count")) o->count = parse_long(name, val, 1, 1000000000L);
            else if (FLAG("--interval")) o->interval_ms = parse_long(name, val, 1, 3600000L);
            else if (FLAG("--ping-timeout")) o->ping_timeout_ms = parse_long(name, val, 1, 3600000L);
            else if (FLAG("--size")) o->size = parse_long(name, val, 0, MAX_PAYLOAD);
            else if (FLAG("--timeout")) o->timeout_s = parse_long(name, val, 1, 86400L * 365);
            else if (FLAG("--backoff-max")) o->backoff_max_ms = parse_long(name, val, 100, 3600000L);
            else if (FLAG("--dpd-idle")) o->dpd_idle_ms = parse_long(name, val, 0, 3600000L);
            else if (FLAG("--tunnels")) o->tunnels = parse_long(name, val, 1, 100000L);
            else if (FLAG("--parallel")) o->parallel = parse_long(name, val, 1, 100000L);
            else if (FLAG("--sip-options")) o->sip_uri = val;
            else if (FLAG("--tcp-send")) o->tcp_send = val;
            else if (FLAG("--rtp")) o->rtp = val;
            else if (FLAG("--rtp-tcp")) { o->rtp = val; o->rtp_tcp = 1; }
            else if (FLAG("--bytes")) o->bytes = val;
            else if (FLAG("--seed")) o->seed = val;
            else if (FLAG("--seconds")) o->seconds = parse_long(name, val, 1, 86400L);
            else if (FLAG("--pps")) o->pps = parse_long(name, val, 0, 100000L);
            else if (FLAG("--window")) o->window = parse_long(name, val, 1, 65535L);
            else if (FLAG("--pcap")) g_pcap_file = val;
            else {
                char msg[256];
                int r = stats_cli_option(name, val, msg, sizeof msg);
                if (r == 0)
                    r = tun_cli_option(name, val, msg, sizeof msg);
                if (r == 0)
                    r = roam_cli_option(name, val, msg, sizeof msg);
                if (r < 0)
                    die_usage("%s", msg);
                if (r == 0)
                    die_usage("unknown option '%s'", name);
            }
        }
#undef FLAG
#undef NEED_VAL
    }
    if (!server)
        die_usage("--server is required%s", NULL);
    if (tse_posix_parse_hostport(server, o->server_host, sizeof o->server_host,
                           &o->server_port, 443) != 0)
        die_usage("--server: bad HOST[:PORT] '%s'", server);
    if (!o->ca_file && !o->insecure)
        die_usage("--ca FILE is required (or --insecure-lab-only in a lab)%s", NULL);
    if ((o->cert_file != NULL) != (o->key_file != NULL))
        die_usage("--cert and --key go together%s", NULL);
    if (o->count && !o->ping)
        die_usage("--count needs --ping%s", NULL);
    if (!!o->ping + !!o->sip_uri + !!o->tcp_send + !!o->rtp > 1)
        die_usage("--ping, --sip-options, --tcp-send and --rtp: one at a time%s", NULL);
    if ((o->bytes || o->seed) && !o->tcp_send)
        die_usage("--bytes and --seed go with --tcp-send%s", NULL);
    if ((o->seconds || o->pps >= 0 || o->window) && !o->rtp)
        die_usage("--seconds, --pps and --window go with --rtp%s", NULL);
    {
        char msg[256];
        if (tun_cli_validate(o->tunnels, o->ping || o->sip_uri || o->tcp_send || o->rtp,
                             msg, sizeof msg) != 0)
            die_usage("%s", msg);
    }
    {
        char msg[128];
        if (roam_cli_validate(o->tunnels, msg, sizeof msg) != 0)
            die_usage("%s", msg);
    }
    if (o->server_port_2 != 0 && o->server_port_2 == o->server_port)
        die_usage("--port2 must differ from the --server port%s", NULL);
    if ((o->sip_uri || o->tcp_send || o->rtp) && o->tunnels > 1)
        die_usage("--sip-options, --tcp-send and --rtp run in one tunnel (no --tunnels)%s", NULL);
#ifndef TSE_CLI_LWIP
    if (o->sip_uri || o->tcp_send || o->rtp)
        die_usage("--sip-options, --tcp-send and --rtp need the lwIP NO_SYS=1 build "
                  "(TSE_DEPS=debian-src or custom); this tse-cli was built without it%s", NULL);
#endif
    if (o->ping) {
        if (inet_pton(AF_INET, o->ping, o->ping_dst) == 1)
            o->ping_family = 4;
        else if (inet_pton(AF_INET6, o->ping, o->ping_dst) == 1)
            o->ping_family = 6;
        else
            die_usage("--ping: '%s' is not an IPv4 or IPv6 address", o->ping);
        if (o->ping_family == 6)
            o->ipv6 = 1;
    }
}

#ifdef TSE_CLI_LWIP
/* The lwIP application's spec from --sip-options / --tcp-send / --rtp. */
static void build_spec(struct app *a)
{
    const struct opts *o = &a->o;
    lwapp_spec *sp = &a->spec;
    lwapp_spec_default(sp);
    if (o->sip_uri) {
        if (lwapp_parse_sip_uri(o->sip_uri, sp) != 0)
            die_usage("--sip-options: expected sip:ADDR[:PORT][;transport=tcp|udp] "
                      "(ADDR a literal address), got '%s'", o->sip_uri);
    } else if (o->tcp_send) {
        sp->kind = LWAPP_TCP_SEND;
        if (lwapp_parse_hostport(o->tcp_send, &sp->addr, &sp->port) != 0)
            die_usage("--tcp-send: expected ADDR:PORT, got '%s'", o->tcp_send);
        if (o->bytes && lwapp_parse_bytes(o->bytes, &sp->bytes) != 0)
            die_usage("--bytes: expected a count with an optional k/M/G/Ki/Mi/Gi, got '%s'", o->bytes);
        if (o->seed) {
            char *end;
            errno = 0;
            sp->seed = strtoull(o->seed, &end, 10);
            if (errno || end == o->seed || *end)
                die_usage("--seed: expected a number, got '%s'", o->seed);
        }
    } else if (o->rtp) {
        sp->kind = o->rtp_tcp ? LWAPP_RTP_TCP : LWAPP_RTP;
        if (lwapp_parse_hostport(o->rtp, &sp->addr, &sp->port) != 0)
            die_usage(o->rtp_tcp ? "--rtp-tcp: expected ADDR:PORT, got '%s'"
                                 : "--rtp: expected ADDR:PORT, got '%s'", o->rtp);
        if (o->seconds)
            sp->seconds = (unsigned)o->seconds;
        if (o->pps >= 0) /* 0 = flood */
            sp->pps = (unsigned)o->pps;
        if (o->window)
            sp->window = (unsigned)o->window;
    }
    a->has_app = sp->kind != LWAPP_NONE;
}
#endif

int main(int argc, char **argv)
{
    static struct app app;
    struct app *a = &app;
    struct opts *o = &a->o;
    tse_settings s;
    tse_callbacks cb;
    uint8_t *ca = NULL, *cert = NULL, *key = NULL;
    size_t ca_len = 0, cert_len = 0, key_len = 0;
    uint8_t pin[32];
    struct sigaction sa;
    long i, nup = 0, nreplied = 0, nfailed = 0, sent = 0, replies = 0, lost = 0;
    int rc, exit_code = 0;
    const struct tun *first_failed = NULL;
    double rmin = 0, rmax = 0, rsum = 0;

    setvbuf(stdout, NULL, _IOLBF, 0);
    if (detect_cli_wanted(argc, argv))
        return detect_cli_main(argc, argv); /* --detect mode: detect_cli.c */
    if (stream_cli_wanted(argc, argv))
        return stream_cli_main(argc, argv); /* --sip-tls / --turn: stream_cli.c */
    parse_args(o, argc, argv);
#ifdef TSE_CLI_LWIP
    build_spec(a);
    a->use_lwip = o->tunnels == 1 && !tun_cli_enabled();
#endif

    /* files */
    if (o->ca_file) {
        ca = tse_posix_read_key_file(o->ca_file, &ca_len);
        if (!ca) {
            fprintf(stderr, "tse-cli: error: cannot read --ca %s (%s)\n", o->ca_file, strerror(errno));
            return EXIT_USAGE;
        }
    }
    if (o->cert_file) {
        cert = tse_posix_read_key_file(o->cert_file, &cert_len);
        key = tse_posix_read_key_file(o->key_file, &key_len);
        if (!cert || !key) {
            fprintf(stderr, "tse-cli: error: cannot read --cert/--key (%s)\n", strerror(errno));
            return EXIT_USAGE;
        }
    }
    if (o->pin_hex && parse_pin(o->pin_hex, pin) != 0)
        die_usage("--pin: expected 64 hex digits (colons allowed), got '%s'", o->pin_hex);

    /* proxy: --proxy, else the environment as curl reads it */
    if (o->proxy_url) {
        const char *why = NULL;
        if (tse_posix_parse_proxy_url(o->proxy_url, &a->px, &why) != 0)
            die_usage("--proxy: %s", why);
        a->via_proxy = 1;
    } else if (!o->no_proxy_env) {
        const char *why = NULL, *var = NULL;
        rc = tse_posix_proxy_from_env(NULL, NULL, o->server_host, &a->px, &why, &var);
        if (rc < 0) {
            fprintf(stderr, "tse-cli: error: %s: %s (set --no-proxy to ignore it)\n",
                    var ? var : "proxy variable", why ? why : "invalid");
            return EXIT_USAGE;
        }
        a->via_proxy = rc == 1;
    }

    tse_settings_default(&s);
    s.server_host = o->server_host;
    s.server_port = o->server_port;
    s.server_port_2 = o->server_port_2;
    s.framing = o->framing;
    if (o->dpd_idle_ms >= 0)
        s.dpd_idle_ms = (uint32_t)o->dpd_idle_ms;
    s.sni = o->sni;
    if (a->via_proxy)
        (void)tse_posix_proxy_settings(&a->px, &s);
    s.proxy_marker_header = o->marker;
    s.ca = ca;
    s.ca_len = ca_len;
    if (o->pin_hex)
        s.pin_sha256 = pin;
    if (cert) {
        s.client_cert = cert;
        s.client_cert_len = cert_len;
        s.client_key = key;
        s.client_key_len = key_len;
    }
    if (o->insecure) {
        s.tls_insecure_lab_only_skip_verify = 1;
        fprintf(stderr,
                "tse-cli: WARNING: --insecure-lab-only: the server certificate is NOT verified.\n"
                "tse-cli: WARNING: anyone on the path can impersonate the TSCF. Never use this outside a lab.\n");
    }
    if (o->keepalive_s >= 0)
        s.request_keepalive_s = (uint16_t)o->keepalive_s;
    s.request_ipv6 = o->ipv6;
    s.auto_reconnect = o->reconnect;
    if (o->backoff_max_ms > 0) {
        s.backoff_max_ms = (uint32_t)o->backoff_max_ms;
        if (s.backoff_initial_ms > s.backoff_max_ms)
            s.backoff_initial_ms = s.backoff_max_ms;
    }
    tun_cli_settings(&s);
    roam_cli_settings(&s); /* --control: the per-network path cache */
    g_app = a;
    stats_cli_settings(&s, tunnel_index);
    rc = tse_settings_check(&s);
    if (rc == TSE_ERR_SETTING_LOG) {
        fprintf(stderr, "tse-cli: error: --log debug / --tls-debug: %s (this tse-cli %s)\n",
                tse_strerror(rc), "was built without -DTSE_LOG_DEBUG=ON, or mbed TLS without "
                "MBEDTLS_DEBUG_C");
        free(ca);
        free(cert);
        free(key);
        return EXIT_USAGE;
    }
    s.tls_keylog_user = keylog_open_env("tse-cli", &rc);
    if (rc) {
        free(ca);
        free(cert);
        free(key);
        return EXIT_USAGE;
    }
    if (s.tls_keylog_user)
        s.tls_keylog = keylog_write;

    memset(&cb, 0, sizeof cb);
    cb.on_event = on_event;
    cb.on_packet = on_packet;
    cb.entropy = tse_posix_entropy;
    if (g_pcap_file) {
        char err[256];
        g_pcap = pcap_out_open(g_pcap_file, "tse-cli", err, sizeof err);
        if (!g_pcap) {
            fprintf(stderr, "tse-cli: error: --pcap %s\n", err);
            free(ca);
            free(cert);
            free(key);
            return EXIT_USAGE;
        }
        cb.on_trace = on_trace;
    }

    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; /* no SA_RESTART: poll returns EINTR at once */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    rc = tse_posix_driver_new(&a->drv);
    if (rc != TSE_OK) {
        report_error(a, tse_strerror(rc), "creating the driver");
        return EXIT_FAIL;
    }
    g_drv = a->drv;
    a->ntun = o->tunnels;
    a->tun = calloc((size_t)a->ntun, sizeof *a->tun);
    if (!a->tun) {
        report_error(a, tse_strerror(TSE_ERR_NO_MEMORY), "tunnel table");
        return EXIT_FAIL;
    }
    if (a->ntun > 1 && !s.tls_keylog) {
        /* many tunnels, one TLS configuration: the anchors are parsed once
         * and one mbedtls_ssl_config serves every session (docs/engine.md) */
        const char *why = NULL;
        rc = tse_tls_config_new(&a->tls_shared, &s, tse_posix_entropy, NULL,
                                tse_posix_mem(), &why);
        if (rc != TSE_OK) {
            report_error(a, tse_strerror(rc), why ? why : "TLS configuration");
            return EXIT_FAIL;
        }
        s.tls_config = a->tls_shared;
        s.ca = NULL;
        s.ca_len = 0;
        s.client_cert = s.client_key = NULL;
        s.client_cert_len = s.client_key_len = 0;
        s.tls_insecure_lab_only_skip_verify = 0;
    }
    a->t0 = tse_posix_now_ms();
    a->deadline = o->timeout_s ? a->t0 + (tse_time_ms)o->timeout_s * 1000u : TSE_TIME_NEVER;
    a->hard_deadline = TSE_TIME_NEVER;

    if (!o->json && (o->verbose || a->ntun == 1)) {
        if (a->via_proxy)
            printf("connecting to %s port %u via proxy %s port %u\n", o->server_host,
                   (unsigned)o->server_port, a->px.host, (unsigned)a->px.port);
        else
            printf("connecting to %s port %u (direct)\n", o->server_host,
                   (unsigned)o->server_port);
    }
    for (i = 0; i < a->ntun; i++) {
        struct tun *u = &a->tun[i];
        u->app = a;
        u->idx = i;
        u->ident = (uint16_t)(((unsigned)getpid() + (unsigned)i * 7919u) & 0xFFFFu);
        u->next_seq = 1;
        u->oldest = 1;
        u->ip_id = (uint16_t)(i * 13u);
        rc = tse_tunnel_new(&u->t, &s, &cb, tse_posix_mem(), u);
        if (rc == TSE_OK)
            rc = tse_posix_driver_add(a->drv, u->t);
        if (rc != TSE_OK) {
            char d[64];
            snprintf(d, sizeof d, "creating tunnel %ld", i);
            report_error(a, tse_strerror(rc), d);
            return EXIT_FAIL;
        }
    }
    if (tun_cli_enabled()) {
        char d[128];
        rc = tun_cli_open(a->drv, a->tun[0].t, o->json, d, sizeof d);
        if (rc != TSE_OK) {
            report_error(a, tse_strerror(rc), d);
            return EXIT_FAIL;
        }
    }
    if (roam_cli_enabled()) {
        char d[TSE_POSIX_HOST_MAX + 64];
        if (roam_cli_open(a->drv, a->tun[0].t, &s, o->json, d, sizeof d) != 0) {
            report_error(a, "cannot open the control FIFO", d);
            return EXIT_FAIL;
        }
    }
#ifdef TSE_CLI_LWIP
    if (a->use_lwip) {
        /* lwIP is tunnel 0's inner stack: its default route is the tunnel */
        tse_lwip_netif_config nc;
        lwip_init();
        tse_lwip_netif_config_default(&nc);
        nc.now_ms = netif_clock;
        nc.set_default = 1;
        rc = tse_lwip_netif_add(&a->tn, a->tun[0].t, &nc);
        if (rc != TSE_OK) {
            report_error(a, tse_strerror(rc), "adding the lwIP netif");
            return EXIT_FAIL;
        }
        if (o->ping) {
            if (ipaddr_aton(o->ping, &a->ping_addr) == 0) {
                report_error(a, "lwIP does not parse the --ping address", o->ping);
                return EXIT_FAIL;
            }
            a->ping_pcb = o->ping_family == 4 ? raw_new(IP_PROTO_ICMP)
                                              : raw_new_ip_type(IPADDR_TYPE_V6, IP6_NEXTH_ICMP6);
            if (a->ping_pcb == NULL) {
                report_error(a, tse_strerror(TSE_ERR_NO_MEMORY), "lwIP raw PCB");
                return EXIT_FAIL;
            }
            raw_recv(a->ping_pcb, ping_recv, &a->tun[0]);
        }
        if (o->verbose && !o->json)
            printf("inner stack: lwIP %s (NO_SYS=1), netif MTU %u\n", LWIP_VERSION_STRING,
                   (unsigned)a->tn.netif.mtu);
    }
#endif
    tse_posix_driver_set_tick(a->drv, app_tick, a); /* starts the tunnels */

    /* Run until every tunnel is CLOSED; bounded by --timeout, the signals,
     * and the hard deadline after a close. */
    for (;;) {
        long open = 0;
        for (i = 0; i < a->ntun; i++)
            if (!a->tun[i].done)
                open++;
        if (open == 0)
            break;
        if (g_signals >= 2)
            break; /* second Ctrl-C: leave now */
        if (g_usr1) {
            g_usr1 = 0;
            print_stats(a);
        }
        if (a->hard_deadline != TSE_TIME_NEVER && tse_posix_now_ms() >= a->hard_deadline)
            break;
        /* single-tunnel runs end at the first failure (no --reconnect).
         * No cap on the sleep: app_tick() returns every deadline of this
         * loop (pings, --timeout, lwIP's timers, the hard deadline), the
         * driver adds the tunnels' (keep-alive...), and the signals wake
         * the poll (on_signal).  An engine callback that ran after this
         * round's tick (an event, a reply) wakes the poll (kick_tick()), so
         * the tick sees it at once. */
        a->kick = 0;
        rc = tse_posix_driver_run_once(a->drv, -1);
        if (rc != TSE_OK) {
            report_error(a, tse_strerror(rc), "poll");
            exit_code = EXIT_FAIL;
            break;
        }
    }

#ifdef TSE_CLI_LWIP
    if (a->has_app && a->app_started && !a->app_done)
        lwapp_abort(&a->run); /* the tunnel ended first: report what there is */
    if (a->has_app && a->app_done && !a->app_reported) {
        char line[1024];
        a->app_reported = 1;
        lwapp_format(&a->run, o->json, line, sizeof line);
        puts(line);
    }
#endif
    for (i = 0; i < a->ntun; i++) {
        struct tun *u = &a->tun[i];
        if (u->up_count)
            nup++;
        if (u->replies)
            nreplied++;
        if ((u->done && !u->closing && u->err != 0) || u->local_fail) {
            u->failed = 1;
            nfailed++;
            if (!first_failed)
                first_failed = u;
        }
        if (u->replies) {
            if (!replies || u->rtt_min < rmin)
                rmin = u->rtt_min;
            if (u->rtt_max > rmax)
                rmax = u->rtt_max;
            rsum += u->rtt_sum;
        }
        sent += u->sent;
        replies += u->replies;
        lost += u->timeouts;
    }

    if (o->ping) {
        if (o->json) {
            cli_json j;
            cli_json_begin(&j);
            cli_json_str(&j, "event", "summary");
            cli_json_int(&j, "tunnels", a->ntun);
            cli_json_int(&j, "tunnels_up", nup);
            cli_json_int(&j, "sent", sent);
            cli_json_int(&j, "replies", replies);
            cli_json_int(&j, "lost", lost);
            if (replies) {
                cli_json_num(&j, "rtt_min_ms", rmin, 2);
                cli_json_num(&j, "rtt_avg_ms", rsum / (double)replies, 2);
                cli_json_num(&j, "rtt_max_ms", rmax, 2);
            }
            json_emit(&j);
        } else {
            printf("--- %s ping statistics ---\n", o->ping);
            if (a->ntun > 1)
                printf("%ld tunnels, %ld up, %ld with replies\n", a->ntun, nup, nreplied);
            printf("%ld packets transmitted, %ld received, %ld lost", sent, replies, lost);
            if (replies)
                printf(", rtt min/avg/max = %.2f/%.2f/%.2f ms", rmin,
                       rsum / (double)replies, rmax);
            printf("\n");
        }
    }

    if (exit_code == 0) {
        if (a->timed_out && (nup < a->ntun || (o->ping && nreplied < a->ntun)
#ifdef TSE_CLI_LWIP
                             || (a->has_app && !(a->app_done && a->run.ok))
#endif
                             )) {
            char d[96];
            snprintf(d, sizeof d, "--timeout %ld s: %ld of %ld tunnels up", o->timeout_s,
                     nup, a->ntun);
#ifdef TSE_CLI_LWIP
            if (a->has_app && nup == a->ntun)
                snprintf(d, sizeof d, "--timeout %ld s: the inner application did not finish",
                         o->timeout_s);
#endif
            report_error(a, "timed out", d);
            exit_code = EXIT_FAIL;
        } else if (first_failed) {
            char d[400];
            if (a->ntun > 1)
                snprintf(d, sizeof d, "%s; %ld of %ld tunnels failed, first: #%ld",
                         first_failed->detail, nfailed, a->ntun, first_failed->idx);
            else
                snprintf(d, sizeof d, "%s", first_failed->detail);
            report_error(a, first_failed->reason ? first_failed->reason
                                                 : tse_strerror(first_failed->err), d);
            exit_code = EXIT_FAIL;
#ifdef TSE_CLI_LWIP
        } else if (a->has_app && !(a->app_done && a->run.ok)) {
            report_error(a, "inner application failed",
                         !a->app_started ? "not started" : a->run.error);
            exit_code = EXIT_FAIL;
#endif
        } else if (o->ping && nreplied < a->ntun) {
            char d[96];
            snprintf(d, sizeof d, "%ld of %ld tunnels got an echo reply", nreplied, a->ntun);
            report_error(a, "no echo reply", d);
            exit_code = EXIT_FAIL;
        } else if (g_signals >= 2) {
            exit_code = EXIT_FAIL; /* forced out before the release finished */
        }
    }

    if (o->json || o->verbose)
        print_stats(a);
#ifdef TSE_CLI_LWIP
    if (a->use_lwip) {
        if (a->ping_pcb)
            raw_remove(a->ping_pcb);
        tse_lwip_netif_remove(&a->tn);
    }
#endif
    roam_cli_close();
    tun_cli_close(); /* --tun: routes, addresses and the interface go */
    for (i = 0; i < a->ntun; i++) {
        tse_posix_driver_remove(a->drv, a->tun[i].t);
        tse_tunnel_del(a->tun[i].t);
    }
    g_drv = NULL;
    tse_posix_driver_del(a->drv);
    tse_tls_config_del(a->tls_shared); /* after the last tunnel using it */
    pcap_out_close(g_pcap);
    if (s.tls_keylog_user)
        fclose(s.tls_keylog_user);
    free(a->tun);
    free(ca);
    free(cert);
    free(key);
    return exit_code;
}
