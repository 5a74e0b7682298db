/* tse-cli --tun: the tunnel as a Linux TUN interface.  See tun_cli.h and
 * port/linux/tse_tun.h. */
#include "posix_feature.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_out.h"
#include "tun_cli.h"

#ifdef TSE_CLI_TUN
#include "tse_tun.h"

#define CLI_TUN_MTU_MAX 2048 /* tse_settings::max_unit's default */
/* Bulk queue for a kernel's inner TCP (docs/scheduler.md): the kernel's
 * TCP sends whole windows at once, which a 16 KiB queue turns into drops. */
#define TSE_CLI_TUN_QUEUE (256u * 1024u)

static struct {
    const char *name;
    tse_tun_config cfg;
    char route_text[TSE_TUN_MAX_ROUTES][48];
    int mtu_given;
    int json;
    tse_tun *tun;
    tse_tunnel *t;
    int err;           /* configuration failure to report */
    int err_taken;
    char err_detail[256];
    int announced;     /* tun_up printed for the current addresses */
} S;

static int cfg_ready;

static void ensure_cfg(void)
{
    if (!cfg_ready) {
        tse_tun_config_default(&S.cfg);
        cfg_ready = 1;
    }
}

int tun_cli_option(const char *name, const char *val, char *err, size_t cap)
{
    ensure_cfg();
    if (!strcmp(name, "--tun")) {
        if (!tse_tun_name_valid(val)) {
            snprintf(err, cap, "--tun: '%s' is not a valid interface name "
                     "(1 to 15 characters, no '/', ':' or spaces)", val);
            return -1;
        }
        S.name = val;
        return 1;
    }
    if (!strcmp(name, "--route")) {
        tse_tun_route r;
        if (S.cfg.nroutes == TSE_TUN_MAX_ROUTES) {
            snprintf(err, cap, "--route: at most %d routes", TSE_TUN_MAX_ROUTES);
            return -1;
        }
        if (tse_tun_route_parse(val, &r) != TSE_OK) {
            snprintf(err, cap, "--route: expected default, default6 or ADDR/LEN with "
                     "the host bits zero (e.g. 203.0.113.0/24), got '%s'", val);
            return -1;
        }
        snprintf(S.route_text[S.cfg.nroutes], sizeof S.route_text[0], "%s", val);
        S.cfg.routes[S.cfg.nroutes++] = r;
        return 1;
    }
    if (!strcmp(name, "--mtu")) {
        char *end;
        long v;
        errno = 0;
        v = strtol(val, &end, 10);
        if (errno || end == val || *end || v < TSE_TUN_MTU_MIN || v > CLI_TUN_MTU_MAX) {
            snprintf(err, cap, "--mtu: expected a number from %d to %d, got '%s'",
                     TSE_TUN_MTU_MIN, CLI_TUN_MTU_MAX, val);
            return -1;
        }
        S.cfg.mtu = (unsigned)v;
        S.mtu_given = 1;
        return 1;
    }
    return 0;
}

int tun_cli_enabled(void)
{
    return S.name != NULL;
}

const char *tun_cli_ifname(void)
{
    return S.name;
}

int tun_cli_validate(long tunnels, int has_inner_app, char *err, size_t cap)
{
    ensure_cfg();
    if (!S.name) {
        if (S.cfg.nroutes || S.mtu_given) {
            snprintf(err, cap, "--route and --mtu go with --tun");
            return -1;
        }
        return 0;
    }
    if (tunnels > 1) {
        snprintf(err, cap, "--tun runs one tunnel (no --tunnels)");
        return -1;
    }
    if (has_inner_app) {
        snprintf(err, cap, "--tun: the interface carries the traffic; use ping(8) and "
                 "other programs instead of --ping, --sip-options, --tcp-send, --rtp");
        return -1;
    }
    return 0;
}

void tun_cli_settings(tse_settings *s)
{
    if (S.name && s->outq_size < TSE_CLI_TUN_QUEUE)
        s->outq_size = TSE_CLI_TUN_QUEUE;
}

/* The POSIX port calls this before every outer connect: keep the TSCF or
 * proxy out of a default route through the interface. */
static int socket_hook(void *user, int fd, const struct sockaddr *dst, socklen_t len)
{
    int rc;
    (void)user;
    (void)fd;
    if (!S.tun)
        return 0;
    rc = tse_tun_exclude(S.tun, dst, len);
    if (rc != TSE_OK) {
        fprintf(stderr, "tse-cli: warning: cannot keep the outer connection out of the "
                "tunnel: %s (%s)\n", tse_strerror(rc), tse_tun_error_detail(S.tun));
        return -1; /* it would loop into the tunnel: fail this attempt */
    }
    return 0;
}

int tun_cli_open(tse_posix_driver *d, tse_tunnel *t, int json, char *err, size_t cap)
{
    int rc;
    ensure_cfg();
    S.json = json;
    S.t = t;
    rc = tse_tun_create(&S.tun, S.name, &S.cfg);
    if (rc != TSE_OK) {
        snprintf(err, cap, "creating TUN interface %s", S.name);
        return rc;
    }
    rc = tse_tun_attach_driver(S.tun, d, t);
    if (rc != TSE_OK) {
        snprintf(err, cap, "watching TUN interface %s", S.name);
        tse_tun_del(S.tun);
        S.tun = NULL;
        return rc;
    }
    tse_posix_set_socket_hook(socket_hook, NULL);
    return TSE_OK;
}

static void fmt_addr(char *buf, size_t cap, int af, const uint8_t *a, const uint8_t *mask)
{
    char s[INET6_ADDRSTRLEN];
    if (!inet_ntop(af, a, s, sizeof s))
        snprintf(s, sizeof s, "?");
    snprintf(buf, cap, "%s/%d", s, tse_tun_prefix_from_mask(mask, af == AF_INET ? 4 : 16));
}

static void announce(const tse_tunnel_config *c, int changed)
{
    char v4[64], v6[80], routes[TSE_TUN_MAX_ROUTES * 48 + 8];
    size_t i, off = 0;
    fmt_addr(v4, sizeof v4, AF_INET, c->ipv4, c->ipv4_mask);
    if (c->has_ipv6)
        fmt_addr(v6, sizeof v6, AF_INET6, c->ipv6, c->ipv6_mask);
    routes[0] = '\0';
    for (i = 0; i < S.cfg.nroutes; i++) {
        int w = snprintf(routes + off, sizeof routes - off, "%s%s", i ? "," : "",
                         S.route_text[i]);
        if (w < 0 || (size_t)w >= sizeof routes - off)
            break;
        off += (size_t)w;
    }
    if (S.json) {
        cli_json j;
        cli_json_begin(&j);
        cli_json_str(&j, "event", "tun_up");
        cli_json_str(&j, "name", tse_tun_name(S.tun));
        cli_json_int(&j, "ifindex", tse_tun_ifindex(S.tun));
        cli_json_str(&j, "ipv4", v4);
        if (c->has_ipv6)
            cli_json_str(&j, "ipv6", v6);
        cli_json_int(&j, "mtu", tse_tun_mtu(S.tun));
        cli_json_str(&j, "routes", routes);
        cli_json_bool(&j, "changed", changed);
        puts(cli_json_end(&j));
    } else {
        printf("tun up: %s, %s%s%s, mtu %u%s%s%s\n", tse_tun_name(S.tun), v4,
               c->has_ipv6 ? ", " : "", c->has_ipv6 ? v6 : "", tse_tun_mtu(S.tun),
               S.cfg.nroutes ? ", routes " : "", routes, changed ? " (address changed)" : "");
    }
}

void tun_cli_on_event(const tse_event *ev)
{
    int rc;
    if (!S.tun || S.err)
        return;
    rc = tse_tun_on_event(S.tun, ev);
    if (rc != TSE_OK) {
        S.err = rc;
        snprintf(S.err_detail, sizeof S.err_detail, "%s", tse_tun_error_detail(S.tun));
        return;
    }
    if (ev->config && ev->type == TSE_EV_TUNNEL_UP && !S.announced) {
        S.announced = 1;
        announce(ev->config, 0);
    } else if (ev->config && ev->type == TSE_EV_ADDR_CHANGED) {
        announce(ev->config, 1);
    }
}

void tun_cli_on_packet(const uint8_t *pkt, size_t len)
{
    if (S.tun)
        (void)tse_tun_on_packet(S.tun, pkt, len); /* drops are counted */
}

int tun_cli_take_error(int *code, char *detail, size_t cap)
{
    tse_tun_stats st;
    if (!S.tun)
        return 0;
    tse_tun_get_stats(S.tun, &st);
    if (!S.err && st.read_errors) {
        /* the interface was deleted under us: nothing to carry any more */
        S.err = TSE_ERR_TUN_IO;
        snprintf(S.err_detail, sizeof S.err_detail, "%s", tse_tun_error_detail(S.tun));
    }
    if (!S.err || S.err_taken)
        return 0;
    S.err_taken = 1;
    *code = S.err;
    snprintf(detail, cap, "%s", S.err_detail);
    return 1;
}

void tun_cli_close(void)
{
    tse_tun_stats st;
    if (!S.tun)
        return;
    tse_posix_set_socket_hook(NULL, NULL);
    tse_tun_get_stats(S.tun, &st);
    if (S.json) {
        cli_json j;
        cli_json_begin(&j);
        cli_json_str(&j, "event", "tun_down");
        cli_json_str(&j, "name", tse_tun_name(S.tun));
        cli_json_int(&j, "packets_read", (long long)st.packets_read);
        cli_json_int(&j, "bytes_read", (long long)st.bytes_read);
        cli_json_int(&j, "packets_sent", (long long)st.packets_sent);
        cli_json_int(&j, "packets_written", (long long)st.packets_written);
        cli_json_int(&j, "bytes_written", (long long)st.bytes_written);
        cli_json_int(&j, "drops_queue_full", (long long)st.drops_queue_full);
        cli_json_int(&j, "drops_not_up", (long long)st.drops_not_up);
        cli_json_int(&j, "drops_invalid", (long long)st.drops_invalid);
        cli_json_int(&j, "drops_write", (long long)(st.drops_write_again + st.drops_write_error));
        cli_json_int(&j, "kicks", (long long)st.kicks);
        puts(cli_json_end(&j));
    }
    tse_tun_del(S.tun);
    S.tun = NULL;
}

#else /* no port/linux */

int tun_cli_option(const char *name, const char *val, char *err, size_t cap)
{
    (void)val;
    if (strcmp(name, "--tun") && strcmp(name, "--route") && strcmp(name, "--mtu"))
        return 0;
    snprintf(err, cap, "%s: TUN interfaces need the Linux port (port/linux); "
             "this tse-cli was built without it", name);
    return -1;
}

int tun_cli_enabled(void) { return 0; }

const char *tun_cli_ifname(void) { return NULL; }

int tun_cli_validate(long tunnels, int has_inner_app, char *err, size_t cap)
{
    (void)tunnels; (void)has_inner_app; (void)err; (void)cap;
    return 0;
}

int tun_cli_open(tse_posix_driver *d, tse_tunnel *t, int json, char *err, size_t cap)
{
    (void)d; (void)t; (void)json;
    snprintf(err, cap, "no TUN support");
    return TSE_ERR_STATE;
}

void tun_cli_settings(tse_settings *s) { (void)s; }
void tun_cli_on_event(const tse_event *ev) { (void)ev; }
void tun_cli_on_packet(const uint8_t *pkt, size_t len) { (void)pkt; (void)len; }

int tun_cli_take_error(int *code, char *detail, size_t cap)
{
    (void)code; (void)detail; (void)cap;
    return 0;
}

void tun_cli_close(void) {}

#endif
