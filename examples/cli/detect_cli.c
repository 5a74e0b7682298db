/*
 * tse-cli --detect (see detect_cli.h and usage() below).
 *
 * Detection runs on tse_posix_detect (port/posix).  Output: one line per
 * probe step as it happens, with the time since the start; then the
 * decision and its reasons; for a tunnel decision the tunnel's
 * configuration (the tunnel is the detector's winning probe, kept up).
 * --verify then sends one SIP OPTIONS over the chosen path: over UDP to
 * the P-CSCF for direct / nat-traversal, as an inner IPv4/UDP packet
 * through the tunnel for tunnel-*, and waits for the answer.
 */
#include "posix_feature.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "detect_cli.h"
#include "icmp_echo.h"
#include "json_out.h"
#include "sip_probe.h"
#include "tse/detect.h"
#include "tse/stream.h"
#include "tse/tse.h"
#include "tse_detect_posix.h"
#include "tse_posix.h"

#define EXIT_FAIL 1
#define EXIT_USAGE 2
#define VERIFY_RTO_MS 500u

struct dopts {
    char sip_host[TSE_POSIX_HOST_MAX], stun_host[TSE_POSIX_HOST_MAX], tscf_host[TSE_POSIX_HOST_MAX];
    uint16_t sip_port, stun_port, tscf_port, tscf_port2;
    int has_sip, has_stun, has_tscf, no_sip_tcp, no_sip_udp;
    /* TR 33.830 8.3: the option names of the --sip-tls / --turn mode */
    char sip_tls_host[TSE_POSIX_HOST_MAX], turn_host[TSE_POSIX_HOST_MAX];
    uint16_t sip_tls_port, turn_port;
    int has_reuse;
    const char *turn_user, *turn_pass;
    long reuse_timeout;
    const char *ca_file, *sni, *proxy_url;
    tse_posix_proxy px;
    int via_proxy;
    long sip_timeout, stun_timeout, tunnel_timeout, stagger, rto;
    long timeout_s, hold_s, verify_timeout_ms;
    int json, insecure, verify, hold_set, no_proxy_env;
};

struct dapp {
    struct dopts o;
    tse_time_ms t0;
    /* verify through the tunnel */
    tse_sip_ids ids;
    uint16_t sport;
    int got_status;            /* final SIP status seen, 0 = none yet */
    int tunnel_down, tunnel_err;
};

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

static void dusage(void)
{
    printf(
"usage: tse-cli --detect --sip HOST[:PORT] [--stun HOST[:PORT]]\n"
"               [--server HOST[:PORT] --ca FILE]\n"
"               [--sip-tls HOST[:PORT] --turn HOST[:PORT] --turn-user U --turn-pass P]\n"
"               [options]\n"
"\n"
"Find out whether IMS is blocked on this network and which path works\n"
"(TR 33.830 8.4.2, order of TS 24.229 Annex R.3.1.0): direct, NAT\n"
"traversal, TR 33.830 8.3 (reuse-existing: SIP and TURN over TLS on 443),\n"
"or the TSCF tunnel (through the proxy when one is given, on port 443\n"
"then 80).  Probes run in parallel, staggered.\n"
"\n"
"  --sip HOST[:PORT]     P-CSCF: SIP OPTIONS over UDP and TCP (port 5060)\n"
"  --no-sip-tcp, --no-sip-udp  leave one SIP probe out\n"
"  --stun HOST[:PORT]    STUN server (port 3478): is there a NAT?\n"
"  --server HOST[:PORT]  TSCF for the tunnel probes (first port, 443)\n"
"  --server-port2 N      second tunnel port (default 80; 0 = none)\n"
"  --sip-tls HOST[:PORT] P-CSCF over TLS (port 443) and, both needed:\n"
"  --turn HOST[:PORT]    TURN server over TLS (port 443): the 8.3 probes,\n"
"                        through --proxy when given; --sip may then be left out\n"
"  --turn-user U, --turn-pass P   TURN long-term credentials\n"
"  --reuse-timeout MS    each 8.3 probe (default 10000)\n"
"  --ca FILE, --sni NAME, --insecure-lab-only   as for a tunnel (also\n"
"                        for the 8.3 probes' TLS)\n"
"  --proxy URL           http://[user:pass@]host[:port]: tunnel via this proxy;\n"
"                        default: https_proxy/HTTPS_PROXY/all_proxy/ALL_PROXY\n"
"                        unless no_proxy/NO_PROXY exempts the TSCF\n"
"  --no-proxy            ignore the proxy environment variables\n"
"  --sip-timeout MS      (default 2000)   --stun-timeout MS (default 2000)\n"
"  --tunnel-timeout MS   (default 10000)  --stagger MS (default 250)\n"
"  --rto MS              first UDP retransmission (default 500)\n"
"  --verify              then send SIP OPTIONS over the chosen path and\n"
"                        wait for the answer (the exit status says if it came)\n"
"  --verify-timeout MS   (default 4000)\n"
"  --hold SECONDS        keep a winning tunnel up this long (0 = until\n"
"                        SIGINT/SIGTERM; default: 0, or none with --verify)\n"
"  --timeout SECONDS     bound on the detection (default 30)\n"
"  --json                one JSON object per line: detect_step, detect_result,\n"
"                        tunnel_up, verify, error\n"
"\n"
"Exit status: 0 a path was found (and verified with --verify), 1 none or\n"
"verification failed, 2 bad usage.\n");
}

static void dusage_die(const char *fmt, const char *arg)
{
    fprintf(stderr, "tse-cli: ");
    fprintf(stderr, fmt, arg ? arg : "");
    fprintf(stderr, "\n(tse-cli --detect --help for the options)\n");
    exit(EXIT_USAGE);
}

static long dparse_long(const char *opt, const char *v, long lo, long hi)
{
    char *end;
    long x;
    errno = 0;
    x = strtol(v, &end, 10);
    if (errno || end == v || *end || x < lo || x > hi) {
        fprintf(stderr, "tse-cli: %s: expected a number from %ld to %ld, got '%s'\n", opt, lo,
                hi, v);
        exit(EXIT_USAGE);
    }
    return x;
}

int detect_cli_wanted(int argc, char **argv)
{
    int i;
    for (i = 1; i < argc; i++)
        if (strcmp(argv[i], "--detect") == 0)
            return 1;
    return 0;
}

static void dparse(struct dopts *o, int argc, char **argv)
{
    int i;
    memset(o, 0, sizeof *o);
    o->sip_timeout = 2000;
    o->stun_timeout = 2000;
    o->tunnel_timeout = 10000;
    o->stagger = 250;
    o->rto = 500;
    o->timeout_s = 30;
    o->tscf_port2 = 80;
    o->verify_timeout_ms = 4000;
    o->reuse_timeout = 10000;
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = NULL;
#define IS(n) (strcmp(a, n) == 0)
#define VAL() do { if (i + 1 >= argc) dusage_die("%s needs a value", a); val = argv[++i]; } while (0)
        if (IS("--detect")) {
        } else if (IS("--help")) {
            dusage();
            exit(0);
        } else if (IS("--json")) {
            o->json = 1;
        } else if (IS("--insecure-lab-only")) {
            o->insecure = 1;
        } else if (IS("--verify")) {
            o->verify = 1;
        } else if (IS("--no-sip-tcp")) {
            o->no_sip_tcp = 1;
        } else if (IS("--no-sip-udp")) {
            o->no_sip_udp = 1;
        } else if (IS("--no-proxy")) {
            o->no_proxy_env = 1;
        } else if (IS("--sip")) {
            VAL();
            if (tse_posix_parse_hostport(val, o->sip_host, sizeof o->sip_host, &o->sip_port, 5060))
                dusage_die("--sip: bad HOST[:PORT] '%s'", val);
            o->has_sip = 1;
        } else if (IS("--stun")) {
            VAL();
            if (tse_posix_parse_hostport(val, o->stun_host, sizeof o->stun_host, &o->stun_port, 3478))
                dusage_die("--stun: bad HOST[:PORT] '%s'", val);
            o->has_stun = 1;
        } else if (IS("--server")) {
            VAL();
            if (tse_posix_parse_hostport(val, o->tscf_host, sizeof o->tscf_host, &o->tscf_port, 443))
                dusage_die("--server: bad HOST[:PORT] '%s'", val);
            o->has_tscf = 1;
        } else if (IS("--sip-tls")) {
            VAL();
            if (tse_posix_parse_hostport(val, o->sip_tls_host, sizeof o->sip_tls_host,
                                         &o->sip_tls_port, 443))
                dusage_die("--sip-tls: bad HOST[:PORT] '%s'", val);
        } else if (IS("--turn")) {
            VAL();
            if (tse_posix_parse_hostport(val, o->turn_host, sizeof o->turn_host, &o->turn_port, 443))
                dusage_die("--turn: bad HOST[:PORT] '%s'", val);
        } else if (IS("--turn-user")) {
            VAL();
            o->turn_user = val;
        } else if (IS("--turn-pass")) {
            VAL();
            o->turn_pass = val;
        } else if (IS("--reuse-timeout")) {
            VAL();
            o->reuse_timeout = dparse_long(a, val, 1, 600000);
        } else if (IS("--server-port2")) {
            VAL();
            o->tscf_port2 = (uint16_t)dparse_long(a, val, 0, 65535);
        } else if (IS("--ca")) {
            VAL();
            o->ca_file = val;
        } else if (IS("--sni")) {
            VAL();
            o->sni = val;
        } else if (IS("--proxy")) {
            VAL();
            o->proxy_url = val;
        } else if (IS("--sip-timeout")) {
            VAL();
            o->sip_timeout = dparse_long(a, val, 1, 600000);
        } else if (IS("--stun-timeout")) {
            VAL();
            o->stun_timeout = dparse_long(a, val, 1, 600000);
        } else if (IS("--tunnel-timeout")) {
            VAL();
            o->tunnel_timeout = dparse_long(a, val, 1, 600000);
        } else if (IS("--stagger")) {
            VAL();
            o->stagger = dparse_long(a, val, 0, 60000);
        } else if (IS("--rto")) {
            VAL();
            o->rto = dparse_long(a, val, 0, 60000);
        } else if (IS("--timeout")) {
            VAL();
            o->timeout_s = dparse_long(a, val, 1, 86400);
        } else if (IS("--hold")) {
            VAL();
            o->hold_s = dparse_long(a, val, 0, 86400L * 365);
            o->hold_set = 1;
        } else if (IS("--verify-timeout")) {
            VAL();
            o->verify_timeout_ms = dparse_long(a, val, 1, 600000);
        } else {
            dusage_die("unknown option for --detect: '%s'", a);
        }
#undef IS
#undef VAL
    }
    if (!!o->sip_tls_host[0] != !!o->turn_host[0])
        dusage_die("--sip-tls and --turn go together (TR 33.830 8.3 needs both)%s", NULL);
    o->has_reuse = o->sip_tls_host[0] != 0;
    if (o->has_reuse && (!o->turn_user || !o->turn_pass))
        dusage_die("--turn needs --turn-user and --turn-pass%s", NULL);
    if (!o->has_reuse && (o->turn_user || o->turn_pass))
        dusage_die("--turn-user / --turn-pass go with --turn%s", NULL);
#if !TSE_CONFIG_DETECT_REUSE
    if (o->has_reuse)
        dusage_die("--sip-tls/--turn: this build has no 8.3 detection (TSE_CONFIG_DETECT_REUSE 0)%s", NULL);
#endif
    if (!o->has_sip && !o->has_reuse)
        dusage_die("--detect needs --sip HOST[:PORT] (or --sip-tls and --turn)%s", NULL);
    if (!o->has_sip && o->verify)
        dusage_die("--verify needs --sip (the 8.3 probes verify themselves)%s", NULL);
    if ((o->has_tscf || o->has_reuse) && !o->ca_file && !o->insecure)
        dusage_die("--server, --sip-tls and --turn need --ca FILE (or --insecure-lab-only in a lab)%s", NULL);
    if (o->proxy_url) {
        const char *why = NULL;
        if (!o->has_tscf && !o->has_reuse)
            dusage_die("--proxy needs --server or --sip-tls/--turn%s", NULL);
        if (tse_posix_parse_proxy_url(o->proxy_url, &o->px, &why) != 0)
            dusage_die("--proxy: %s", why);
        o->via_proxy = 1;
    } else if (o->has_tscf && !o->no_proxy_env) {
        /* as the tunnel mode: https_proxy & co. unless no_proxy exempts */
        const char *why = NULL, *var = NULL;
        int rc = tse_posix_proxy_from_env(NULL, NULL, o->tscf_host, &o->px, &why, &var);
        if (rc < 0) {
            fprintf(stderr, "tse-cli: error: %s: %s (set --no-proxy to ignore it)\n",
                    var ? var : "proxy variable", why ? why : "invalid");
            exit(EXIT_USAGE);
        }
        o->via_proxy = rc == 1;
    }
}

/* ---- output -------------------------------------------------------------- */

static unsigned long since(const struct dapp *a)
{
    return (unsigned long)(tse_posix_now_ms() - a->t0);
}

static const char *result_word(int rc)
{
    return rc == TSE_OK ? "ok" : tse_strerror(rc);
}

static void fmt_addr(const tse_detect_addr *m, char *out, size_t cap)
{
    char ip[INET6_ADDRSTRLEN];
    if (m->family == 4 && inet_ntop(AF_INET, m->addr, ip, sizeof ip))
        snprintf(out, cap, "%s:%u", ip, (unsigned)m->port);
    else if (m->family == 6 && inet_ntop(AF_INET6, m->addr, ip, sizeof ip))
        snprintf(out, cap, "[%s]:%u", ip, (unsigned)m->port);
    else
        snprintf(out, cap, "-");
}

static void on_detect_event(void *user, const tse_detect_event *ev)
{
    struct dapp *a = user;
    if (ev->type == TSE_DETECT_EV_STEP) {
        const tse_detect_step *s = ev->step;
        if (a->o.json) {
            cli_json j;
            cli_json_begin(&j);
            cli_json_str(&j, "event", "detect_step");
            cli_json_int(&j, "t_ms", (long long)since(a));
            cli_json_str(&j, "probe", s->name);
            cli_json_str(&j, "target", s->target);
            cli_json_str(&j, "phase", s->done ? "done" : "start");
            if (s->done) {
                cli_json_str(&j, "result", s->result == TSE_OK ? "ok"
                             : s->result == TSE_ERR_DETECT_CANCELLED ? "cancelled" : "failed");
                cli_json_int(&j, "error", s->result);
                cli_json_int(&j, "elapsed_ms", s->elapsed_ms);
                if (s->status)
                    cli_json_int(&j, "status", s->status);
            }
            cli_json_str(&j, "reason", s->reason ? s->reason : "");
            puts(cli_json_end(&j));
        } else if (!s->done) {
            printf("[%5lu ms] %-8s %-28s %s\n", since(a), s->name, s->target,
                   s->reason ? s->reason : "started");
        } else {
            char st[24] = "";
            if (s->status)
                snprintf(st, sizeof st, " (status %d)", s->status);
            printf("[%5lu ms] %-8s %-28s %s after %lu ms%s: %s\n", since(a), s->name,
                   s->target,
                   s->result == TSE_OK ? "OK"
                   : s->result == TSE_ERR_DETECT_CANCELLED ? "cancelled" : "FAILED",
                   (unsigned long)s->elapsed_ms, st, s->reason ? s->reason : "");
        }
    } else if (ev->type == TSE_DETECT_EV_RESULT) {
        const tse_detect_result *r = ev->result;
        char mapped[64];
        fmt_addr(&r->mapped, mapped, sizeof mapped);
        if (a->o.json) {
            cli_json j;
            cli_json_begin(&j);
            cli_json_str(&j, "event", "detect_result");
            cli_json_str(&j, "path", tse_detect_path_name(r->path));
            cli_json_int(&j, "elapsed_ms", r->elapsed_ms);
            cli_json_str(&j, "reason", r->reason ? r->reason : "");
            cli_json_int(&j, "nat", r->nat);
            cli_json_str(&j, "mapped", mapped);
            cli_json_int(&j, "sip_status", r->sip_status);
            cli_json_str(&j, "sip", result_word(r->sip_error));
            cli_json_str(&j, "stun", r->stun_error != TSE_OK ? result_word(r->stun_error)
                                     : r->mapped.family ? "ok" : "-");
            cli_json_str(&j, "tunnel", r->tunnel_probe >= 0 ? "up"
                         : r->tunnel_error != TSE_OK ? result_word(r->tunnel_error) : "-");
            if (r->tunnel_probe >= 0) {
                cli_json_str(&j, "tunnel_probe",
                             tse_detect_probe_name((tse_probe_id)r->tunnel_probe));
                cli_json_int(&j, "tunnel_port", r->tunnel_port);
            }
            if (a->o.has_reuse) /* TR 33.830 8.3: "ok", why not, or "-" (not decided) */
                cli_json_str(&j, "reuse", r->path == TSE_PATH_REUSE_EXISTING ? "ok"
                             : r->reuse_error != TSE_OK ? result_word(r->reuse_error) : "-");
            cli_json_bool(&j, "via_proxy", r->via_proxy);
            puts(cli_json_end(&j));
        } else {
            printf("decision: %s after %lu ms: %s\n", tse_detect_path_name(r->path),
                   (unsigned long)r->elapsed_ms, r->reason ? r->reason : "");
            printf("  sip: %s%s", r->sip_status ? "answered" : "no answer",
                   r->sip_status ? "" : " (");
            if (r->sip_status)
                printf(" (status %d)", r->sip_status);
            else
                printf("%s)", tse_strerror(r->sip_error));
            printf("; stun: %s; nat: %s; mapped %s\n",
                   r->stun_error == TSE_OK ? (r->mapped.family ? "answered" : "-")
                                           : tse_strerror(r->stun_error),
                   r->nat == 1 ? "yes" : r->nat == 0 ? "no" : "unknown", mapped);
            if (r->tunnel_probe >= 0)
                printf("  tunnel: %s, port %u\n",
                       tse_detect_probe_name((tse_probe_id)r->tunnel_probe),
                       (unsigned)r->tunnel_port);
            else if (r->tunnel_error != TSE_OK)
                printf("  tunnel: %s\n", tse_strerror(r->tunnel_error));
            if (r->path == TSE_PATH_REUSE_EXISTING)
                printf("  8.3: SIP and TURN over TLS on 443%s\n",
                       r->via_proxy ? ", through the proxy" : "");
            else if (r->reuse_error != TSE_OK)
                printf("  8.3: %s\n", tse_strerror(r->reuse_error));
        }
    }
}

static void report_error(const struct dapp *a, const char *what, const char *detail)
{
    if (a->o.json) {
        cli_json j;
        cli_json_begin(&j);
        cli_json_str(&j, "event", "error");
        cli_json_str(&j, "error", what);
        cli_json_str(&j, "detail", detail ? detail : "");
        puts(cli_json_end(&j));
    } else {
        fprintf(stderr, "tse-cli: error: %s%s%s\n", what, detail ? ": " : "",
                detail ? detail : "");
    }
}

static void report_verify(const struct dapp *a, const char *via, int status, unsigned long ms,
                          const char *why)
{
    if (a->o.json) {
        cli_json j;
        cli_json_begin(&j);
        cli_json_str(&j, "event", "verify");
        cli_json_int(&j, "t_ms", (long long)since(a));
        cli_json_str(&j, "via", via);
        cli_json_bool(&j, "ok", status > 0);
        cli_json_int(&j, "status", status);
        cli_json_int(&j, "rtt_ms", (long long)ms);
        if (why)
            cli_json_str(&j, "reason", why);
        puts(cli_json_end(&j));
    } else if (status > 0) {
        printf("verify: SIP OPTIONS over %s answered: %d in %lu ms\n", via, status, ms);
    } else {
        printf("verify: SIP OPTIONS over %s NOT answered: %s\n", via, why ? why : "no answer");
    }
}

/* ---- the winning tunnel ------------------------------------------------- */

static void on_tunnel_event(void *user, const tse_event *ev)
{
    struct dapp *a = user;
    if (ev->type == TSE_EV_TUNNEL_DOWN || (ev->type == TSE_EV_STATE &&
                                           ev->state == TSE_STATE_CLOSED)) {
        if (!a->tunnel_down) {
            a->tunnel_down = 1;
            a->tunnel_err = ev->error;
        }
    }
}

static uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}

static void on_tunnel_packet(void *user, const uint8_t *pkt, size_t len)
{
    struct dapp *a = user;
    size_t ihl;
    tse_sip_response resp;
    if (len < 28 || (pkt[0] >> 4) != 4 || pkt[9] != 17)
        return;
    ihl = (size_t)(pkt[0] & 15) * 4u;
    if (ihl < 20 || len < ihl + 8 || rd16(pkt + ihl + 2) != a->sport)
        return;
    if (tse_sip_response_parse(pkt + ihl + 8, len - ihl - 8, TSE_SIP_UDP, &a->ids, &resp,
                               NULL) == TSE_OK && resp.status >= 200)
        a->got_status = resp.status;
}

static void show_tunnel(const struct dapp *a, tse_tunnel *t, const tse_detect_result *r)
{
    const tse_tunnel_config *c = tse_tunnel_get_config(t);
    char ip[INET_ADDRSTRLEN] = "?";
    if (!c)
        return;
    inet_ntop(AF_INET, c->ipv4, ip, sizeof ip);
    if (a->o.json) {
        cli_json j;
        cli_json_begin(&j);
        cli_json_str(&j, "event", "tunnel_up");
        cli_json_int(&j, "t_ms", (long long)since(a));
        cli_json_str(&j, "ipv4", ip);
        cli_json_int(&j, "port", r->tunnel_port);
        cli_json_bool(&j, "via_proxy", c->via_proxy);
        cli_json_str(&j, "tls_suite", c->tls_suite ? c->tls_suite : "");
        cli_json_int(&j, "keepalive_s", c->keepalive_s);
        puts(cli_json_end(&j));
    } else {
        printf("tunnel up: inner address %s, TSCF port %u%s, %s, keep-alive %u s\n", ip,
               (unsigned)r->tunnel_port, c->via_proxy ? " via proxy" : "",
               c->tls_suite ? c->tls_suite : "?", (unsigned)c->keepalive_s);
    }
}

/* IPv4 + UDP around @p payload; UDP checksum over the pseudo-header. */
static size_t build_udp4(uint8_t *buf, size_t cap, const uint8_t src[4], const uint8_t dst[4],
                         uint16_t sport, uint16_t dport, const uint8_t *payload, size_t plen)
{
    size_t tot = 28 + plen;
    uint8_t pseudo[12];
    uint32_t sum;
    uint16_t ck;
    if (tot > cap || tot > 65535)
        return 0;
    memset(buf, 0, 28);
    buf[0] = 0x45;
    buf[2] = (uint8_t)(tot >> 8);
    buf[3] = (uint8_t)tot;
    buf[8] = 64;
    buf[9] = 17;
    memcpy(buf + 12, src, 4);
    memcpy(buf + 16, dst, 4);
    ck = cli_inet_checksum(buf, 20, 0);
    buf[10] = (uint8_t)(ck >> 8);
    buf[11] = (uint8_t)ck;
    buf[20] = (uint8_t)(sport >> 8);
    buf[21] = (uint8_t)sport;
    buf[22] = (uint8_t)(dport >> 8);
    buf[23] = (uint8_t)dport;
    buf[24] = (uint8_t)((8 + plen) >> 8);
    buf[25] = (uint8_t)(8 + plen);
    memcpy(buf + 28, payload, plen);
    memcpy(pseudo, src, 4);
    memcpy(pseudo + 4, dst, 4);
    pseudo[8] = 0;
    pseudo[9] = 17;
    pseudo[10] = buf[24];
    pseudo[11] = buf[25];
    /* pseudo-header is 12 bytes (even): partial sums chain */
    sum = (uint32_t)(uint16_t)~cli_inet_checksum(pseudo, sizeof pseudo, 0);
    ck = cli_inet_checksum(buf + 20, 8 + plen, sum);
    if (ck == 0)
        ck = 0xFFFF;
    buf[26] = (uint8_t)(ck >> 8);
    buf[27] = (uint8_t)ck;
    return tot;
}

static int resolve4(const char *host, uint8_t out[4])
{
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_DGRAM;
    if (getaddrinfo(host, NULL, &hints, &res) != 0 || !res)
        return -1;
    memcpy(out, &((struct sockaddr_in *)res->ai_addr)->sin_addr, 4);
    freeaddrinfo(res);
    return 0;
}

/* SIP OPTIONS through the tunnel (inner UDP) to the P-CSCF. */
static int verify_tunnel(struct dapp *a, tse_posix_detect *pd, tse_tunnel *t)
{
    const tse_tunnel_config *c = tse_tunnel_get_config(t);
    tse_posix_driver *drv = tse_posix_detect_driver(pd);
    uint8_t dst[4], pkt[1600];
    char req[TSE_DETECT_REQ_MAX], src_txt[INET_ADDRSTRLEN];
    size_t rlen = 0, plen;
    tse_sip_options_params sp;
    tse_time_ms start, next_tx, end;
    uint8_t rnd[2];
    if (!c || resolve4(a->o.sip_host, dst) != 0) {
        report_verify(a, "tunnel", 0, 0, "the P-CSCF has no IPv4 address for the inner packet");
        return EXIT_FAIL;
    }
    inet_ntop(AF_INET, c->ipv4, src_txt, sizeof src_txt);
    (void)tse_posix_entropy(NULL, rnd, sizeof rnd);
    a->sport = (uint16_t)(40000u + ((unsigned)rnd[0] << 8 | rnd[1]) % 20000u);
    memset(&sp, 0, sizeof sp);
    sp.host = a->o.sip_host;
    sp.port = a->o.sip_port;
    sp.transport = TSE_SIP_UDP;
    sp.local_host = src_txt;
    sp.local_port = a->sport;
    sp.user_agent = "tse-cli --detect --verify";
    if (tse_sip_options_build(&sp, tse_posix_entropy, NULL, req, sizeof req, &rlen, &a->ids)
        != TSE_OK)
        return EXIT_FAIL;
    plen = build_udp4(pkt, sizeof pkt, c->ipv4, dst, a->sport, a->o.sip_port,
                      (const uint8_t *)req, rlen);
    start = tse_posix_now_ms();
    end = start + (tse_time_ms)a->o.verify_timeout_ms;
    next_tx = start;
    while (!a->got_status && !a->tunnel_down && !g_stop) {
        tse_time_ms now = tse_posix_now_ms();
        tse_time_ms wake;
        if (now >= end)
            break;
        if (now >= next_tx) {
            (void)tse_tunnel_send_packet(t, pkt, plen, now);
            next_tx = now + VERIFY_RTO_MS;
        }
        wake = next_tx < end ? next_tx : end;
        if (tse_posix_driver_run_once(drv, (int)(wake > now ? wake - now : 0)) != TSE_OK)
            break;
    }
    if (a->got_status) {
        report_verify(a, "tunnel", a->got_status, (unsigned long)(tse_posix_now_ms() - start),
                      NULL);
        return 0;
    }
    report_verify(a, "tunnel", 0, 0, a->tunnel_down ? "tunnel went down" : "timed out");
    return EXIT_FAIL;
}

/* SIP OPTIONS over plain UDP to the P-CSCF (direct / NAT traversal). */
static int verify_udp(struct dapp *a)
{
    struct addrinfo hints, *res = NULL;
    char svc[8], req[TSE_DETECT_REQ_MAX];
    uint8_t buf[4096];
    size_t rlen = 0;
    tse_sip_options_params sp;
    tse_sip_ids ids;
    tse_time_ms start, next_tx, end;
    int fd, status = 0;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_DGRAM;
    snprintf(svc, sizeof svc, "%u", (unsigned)a->o.sip_port);
    if (getaddrinfo(a->o.sip_host, svc, &hints, &res) != 0 || !res) {
        report_verify(a, "udp", 0, 0, "cannot resolve the P-CSCF");
        return EXIT_FAIL;
    }
    fd = socket(res->ai_family, SOCK_DGRAM, 0);
    if (fd < 0 || connect(fd, res->ai_addr, res->ai_addrlen) < 0) {
        if (fd >= 0)
            close(fd);
        freeaddrinfo(res);
        report_verify(a, "udp", 0, 0, strerror(errno));
        return EXIT_FAIL;
    }
    freeaddrinfo(res);
    memset(&sp, 0, sizeof sp);
    sp.host = a->o.sip_host;
    sp.port = a->o.sip_port;
    sp.transport = TSE_SIP_UDP;
    sp.user_agent = "tse-cli --detect --verify";
    if (tse_sip_options_build(&sp, tse_posix_entropy, NULL, req, sizeof req, &rlen, &ids)
        != TSE_OK) {
        close(fd);
        return EXIT_FAIL;
    }
    start = tse_posix_now_ms();
    end = start + (tse_time_ms)a->o.verify_timeout_ms;
    next_tx = start;
    while (!status && !g_stop) {
        tse_time_ms now = tse_posix_now_ms(), wake;
        struct pollfd pf;
        if (now >= end)
            break;
        if (now >= next_tx) {
            if (send(fd, req, rlen, 0) < 0 && errno != ECONNREFUSED)
                break;
            next_tx = now + VERIFY_RTO_MS;
        }
        wake = next_tx < end ? next_tx : end;
        pf.fd = fd;
        pf.events = POLLIN;
        pf.revents = 0;
        if (poll(&pf, 1, (int)(wake > now ? wake - now : 0)) == 1) {
            ssize_t n = recv(fd, buf, sizeof buf, 0);
            tse_sip_response resp;
            if (n > 0 && tse_sip_response_parse(buf, (size_t)n, TSE_SIP_UDP, &ids, &resp,
                                                NULL) == TSE_OK && resp.status >= 200)
                status = resp.status;
        }
    }
    close(fd);
    if (status) {
        report_verify(a, "udp", status, (unsigned long)(tse_posix_now_ms() - start), NULL);
        return 0;
    }
    report_verify(a, "udp", 0, 0, "timed out");
    return EXIT_FAIL;
}

int detect_cli_main(int argc, char **argv)
{
    static struct dapp app;
    struct dapp *a = &app;
    struct dopts *o = &a->o;
    tse_detect_settings ds;
    tse_settings ts;
    tse_stream_settings rs;
    tse_callbacks tcb;
    tse_posix_detect_config cfg;
    tse_posix_detect *pd = NULL;
    const tse_detect_result *r;
    tse_tunnel *t;
    uint8_t *ca = NULL;
    size_t ca_len = 0;
    struct sigaction sa;
    int rc, exit_code = 0;

    setvbuf(stdout, NULL, _IOLBF, 0);
    dparse(o, argc, argv);
    if (o->ca_file) {
        ca = tse_posix_read_key_file(o->ca_file, &ca_len);
        if (!ca) {
            fprintf(stderr, "tse-cli: error: cannot read --ca %s (%s)\n", o->ca_file,
                    strerror(errno));
            return EXIT_USAGE;
        }
    }

    tse_detect_settings_default(&ds);
    ds.pcscf_host = o->has_sip ? o->sip_host : NULL;
    ds.pcscf_port = o->sip_port;
    ds.sip_udp = !o->no_sip_udp;
    ds.sip_tcp = !o->no_sip_tcp;
    ds.stun_host = o->has_stun ? o->stun_host : NULL;
    ds.stun_port = o->stun_port;
    ds.tscf_host = o->has_tscf ? o->tscf_host : NULL;
    ds.tunnel_port_1 = o->tscf_port;
    ds.tunnel_port_2 = o->tscf_port2;
    if (o->via_proxy) {
        ds.proxy_host = o->px.host;
        ds.proxy_port = o->px.port;
    }
    ds.sip_timeout_ms = (uint32_t)o->sip_timeout;
    ds.stun_timeout_ms = (uint32_t)o->stun_timeout;
    ds.tunnel_timeout_ms = (uint32_t)o->tunnel_timeout;
    ds.stagger_ms = (uint32_t)o->stagger;
    ds.udp_rto_ms = (uint32_t)o->rto;
    if (o->has_reuse) {
        ds.pcscf_tls_host = o->sip_tls_host;
        ds.pcscf_tls_port = o->sip_tls_port;
        ds.turn_host = o->turn_host;
        ds.turn_port = o->turn_port;
        ds.reuse_timeout_ms = (uint32_t)o->reuse_timeout;
    }

    tse_settings_default(&ts);
    ts.server_host = o->tscf_host;
    ts.sni = o->sni;
    ts.ca = ca;
    ts.ca_len = ca_len;
    if (o->via_proxy && o->px.has_auth) {
        ts.proxy_user = o->px.user;
        ts.proxy_pass = o->px.pass;
    }
    if (o->insecure) {
        ts.tls_insecure_lab_only_skip_verify = 1;
        fprintf(stderr, "tse-cli: WARNING: --insecure-lab-only: the TSCF certificate is NOT "
                        "verified. Never use this outside a lab.\n");
    }

    /* the 8.3 probes' streams: the same trust, name and proxy account */
    tse_stream_settings_default(&rs);
    rs.sni = o->sni;
    rs.ca = o->insecure ? NULL : ca;
    rs.ca_len = o->insecure ? 0 : ca_len;
    rs.tls_insecure_lab_only_skip_verify = o->insecure;
    if (o->via_proxy && o->px.has_auth) {
        rs.proxy_user = o->px.user;
        rs.proxy_pass = o->px.pass;
    }
    rs.connect_timeout_ms = rs.proxy_timeout_ms = rs.tls_timeout_ms = (uint32_t)o->reuse_timeout;

    memset(&tcb, 0, sizeof tcb);
    tcb.on_event = on_tunnel_event;
    tcb.on_packet = on_tunnel_packet;
    tcb.entropy = tse_posix_entropy;
    memset(&cfg, 0, sizeof cfg);
    cfg.detect = &ds;
    cfg.tunnel = &ts;
    cfg.on_event = on_detect_event;
    cfg.user = a;
    cfg.tunnel_cb = &tcb;
    cfg.tunnel_user = a;
    cfg.stop = &g_stop;
#if TSE_CONFIG_DETECT_REUSE
    if (o->has_reuse) {
        cfg.reuse_stream = &rs;
        cfg.turn_user = o->turn_user;
        cfg.turn_pass = o->turn_pass;
    }
#endif

    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    rc = tse_posix_detect_new(&pd, &cfg);
    if (rc != TSE_OK) {
        report_error(a, tse_strerror(rc), "setting up the detection");
        free(ca);
        return EXIT_FAIL;
    }
    if (!o->json)
        printf("detecting: sip %s:%u%s, stun %s, tscf %s%s%s%s%s\n",
               o->has_sip ? o->sip_host : "-", (unsigned)o->sip_port,
               o->no_sip_tcp ? " (udp)" : o->no_sip_udp ? " (tcp)" : " (udp+tcp)",
               o->has_stun ? o->stun_host : "-", o->has_tscf ? o->tscf_host : "-",
               o->via_proxy ? " via proxy " : "", o->via_proxy ? o->px.host : "",
               o->has_reuse ? ", 8.3 sip-tls+turn-tls " : "", o->has_reuse ? o->sip_tls_host : "");
    a->t0 = tse_posix_now_ms();
    rc = tse_posix_detect_run(pd, (uint32_t)o->timeout_s * 1000u);
    r = tse_posix_detect_result(pd);
    if (rc != TSE_OK || !r) {
        report_error(a, rc == TSE_ERR_DETECT_TIMEOUT ? "timed out" : tse_strerror(rc),
                     "detection did not finish");
        tse_posix_detect_del(pd);
        free(ca);
        return EXIT_FAIL;
    }
    if (r->path == TSE_PATH_NONE) {
        tse_posix_detect_del(pd);
        free(ca);
        return EXIT_FAIL;
    }
    t = tse_posix_detect_tunnel(pd);
    if (r->path == TSE_PATH_TUNNEL_DIRECT || r->path == TSE_PATH_TUNNEL_VIA_PROXY) {
        if (!t) {
            report_error(a, "internal", "tunnel decision without a tunnel");
            exit_code = EXIT_FAIL;
        } else {
            show_tunnel(a, t, r);
            if (o->verify)
                exit_code = verify_tunnel(a, pd, t);
            if (exit_code == 0 && (!o->verify || o->hold_set)) {
                tse_time_ms end = o->hold_s ? tse_posix_now_ms() + (tse_time_ms)o->hold_s * 1000u
                                            : TSE_TIME_NEVER;
                if (!o->json)
                    printf("tunnel stays up%s\n", o->hold_s ? " for --hold" : " until SIGINT/SIGTERM");
                while (!g_stop && !a->tunnel_down && tse_posix_now_ms() < end)
                    if (tse_posix_driver_run_once(tse_posix_detect_driver(pd), 1000) != TSE_OK)
                        break;
                if (a->tunnel_down) {
                    report_error(a, tse_strerror(a->tunnel_err), "the tunnel went down");
                    exit_code = EXIT_FAIL;
                }
            }
            /* release (bounded) */
            if (!a->tunnel_down && tse_tunnel_close(t, tse_posix_now_ms()) == TSE_OK) {
                int k;
                for (k = 0; k < 50 && tse_tunnel_state(t) != TSE_STATE_CLOSED; k++)
                    (void)tse_posix_driver_run_once(tse_posix_detect_driver(pd), 100);
            }
        }
    } else if (r->path == TSE_PATH_REUSE_EXISTING) {
        /* its probes were the verification: OPTIONS over TLS answered,
         * TURN allocation granted */
        if (o->verify && !o->json)
            printf("verify: done by the 8.3 probes (SIP OPTIONS over TLS answered)\n");
    } else if (o->verify) {
        exit_code = verify_udp(a);
    }
    tse_posix_detect_del(pd);
    free(ca);
    return exit_code;
}
