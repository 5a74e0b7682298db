/* tse-cli --control FIFO: network changes for a running tunnel (roam_cli.h). */
#define _POSIX_C_SOURCE 200809L
#include "roam_cli.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "json_out.h"
#include "tse/detect.h"
#include "tun_cli.h"
#ifdef TSE_CLI_TUN
#include "tse_tun.h"
#endif

#define ROAM_LINE_MAX 600
#define ROAM_CACHE_SLOTS 8

static struct {
    const char *path;             /* --control */
    const char *first;            /* --network: the network at the start */
    int watch;                    /* --watch-network */
#ifdef TSE_CLI_TUN
    tse_netwatch *nw;
#endif
    int opened;                   /* fd and keep_fd are open */
    int fd, keep_fd;              /* the FIFO, and our own writer on it (no EOF) */
    tse_posix_driver *drv;
    tse_tunnel *t;
    int json;
    tse_outer_path path_now;      /* ports and proxy of the next attempts */
    tse_posix_proxy px;           /* path_now's proxy strings */
    size_t len;
    char line[ROAM_LINE_MAX];
    int overlong;                 /* dropping the rest of a too-long line */
    tse_detect_cache cache;
    tse_detect_cache_entry slots[ROAM_CACHE_SLOTS];
} R;


int roam_cli_option(const char *name, const char *val, char *err, size_t cap)
{
    if (strcmp(name, "--network") == 0) {
        if (val == NULL || val[0] == '\0' || strlen(val) > TSE_DETECT_NETID_MAX) {
            snprintf(err, cap, "--network needs an ID of 1 to %u bytes",
                     (unsigned)TSE_DETECT_NETID_MAX);
            return -1;
        }
        R.first = val;
        return 1;
    }
    if (strcmp(name, "--watch-network") == 0) {
#ifdef TSE_CLI_TUN
        R.watch = 1;
        return 1;
#else
        snprintf(err, cap, "--watch-network needs the Linux port (rtnetlink); "
                 "this tse-cli was built without it");
        return -1;
#endif
    }
    if (strcmp(name, "--control") != 0)
        return 0;
    if (val == NULL || val[0] == '\0') {
        snprintf(err, cap, "--control needs a FIFO path");
        return -1;
    }
    R.path = val;
    return 1;
}

int roam_cli_enabled(void)
{
    return R.path != NULL || R.watch;
}

int roam_cli_validate(long tunnels, char *err, size_t cap)
{
    if (R.first != NULL && !roam_cli_enabled()) {
        snprintf(err, cap, "--network goes with --control");
        return -1;
    }
    if (roam_cli_enabled() && tunnels > 1) {
        snprintf(err, cap, "--control and --watch-network drive one tunnel (no --tunnels)");
        return -1;
    }
    return 0;
}

void roam_cli_settings(tse_settings *s)
{
    if (!roam_cli_enabled())
        return;
    (void)tse_detect_cache_init(&R.cache, R.slots, ROAM_CACHE_SLOTS);
    s->path_cache = &R.cache;
}

static void say_error(const char *what, const char *cmd)
{
    if (R.json) {
        cli_json j;
        char buf[ROAM_LINE_MAX + 96];
        snprintf(buf, sizeof buf, "--control: %s: '%s'", what, cmd);
        cli_json_begin(&j);
        cli_json_str(&j, "event", "error");
        cli_json_str(&j, "reason", buf);
        puts(cli_json_end(&j));
    } else {
        fprintf(stderr, "tse-cli: --control: %s: '%s'\n", what, cmd);
    }
}

/* "network ID [proxy HOSTPORT|URL | direct]" */
static void command(char *cmd)
{
    char copy[ROAM_LINE_MAX];
    char *word[5];
    int n = 0, rc;
    char *save = NULL, *w;
    tse_outer_path p = R.path_now;
    tse_posix_proxy px = R.px;
    const char *why = NULL;

    snprintf(copy, sizeof copy, "%s", cmd);
    for (w = strtok_r(cmd, " \t\r", &save); w && n < 5; w = strtok_r(NULL, " \t\r", &save))
        word[n++] = w;
    if (n == 0)
        return; /* blank line */
    if (strcmp(word[0], "network") != 0 || n < 2 || n > 4) {
        say_error("expected 'network ID [proxy HOST:PORT | direct]'", copy);
        return;
    }
    if (strlen(word[1]) > TSE_DETECT_NETID_MAX) {
        say_error("network ID too long", copy);
        return;
    }
    if (n == 3 && strcmp(word[2], "direct") == 0) {
        p.proxy_host = p.proxy_user = p.proxy_pass = NULL;
        p.proxy_port = 0;
    } else if (n == 4 && strcmp(word[2], "proxy") == 0) {
        if (strstr(word[3], "://") != NULL) {
            if (tse_posix_parse_proxy_url(word[3], &px, &why) != 0) {
                say_error(why ? why : "bad proxy URL", copy);
                return;
            }
        } else {
            memset(&px, 0, sizeof px);
            if (tse_posix_parse_hostport(word[3], px.host, sizeof px.host, &px.port,
                                         TSE_POSIX_PROXY_DEFAULT_PORT) != 0) {
                say_error("bad proxy HOST:PORT", copy);
                return;
            }
        }
    } else if (n != 2) {
        say_error("expected 'network ID [proxy HOST:PORT | direct]'", copy);
        return;
    }
    if (n == 4 || (n == 2 && p.proxy_host != NULL)) {
        p.proxy_host = px.host;
        p.proxy_port = px.port;
        p.proxy_user = px.has_auth ? px.user : NULL;
        p.proxy_pass = px.has_auth ? px.pass : NULL;
    }
    rc = tse_tunnel_set_outer_path(R.t, &p);
    if (rc != TSE_OK) {
        say_error(tse_strerror(rc), copy);
        return;
    }
    R.px = px;
    R.path_now = p;
    if (p.proxy_host != NULL) {
        R.path_now.proxy_host = R.px.host;
        R.path_now.proxy_user = R.px.has_auth ? R.px.user : NULL;
        R.path_now.proxy_pass = R.px.has_auth ? R.px.pass : NULL;
    }
    if (R.json) {
        cli_json j;
        char proxy[TSE_POSIX_HOST_MAX + 8];
        cli_json_begin(&j);
        cli_json_str(&j, "event", "network_changed");
        cli_json_str(&j, "network", word[1]);
        if (p.proxy_host != NULL) {
            snprintf(proxy, sizeof proxy, "%s:%u", p.proxy_host, (unsigned)p.proxy_port);
            cli_json_str(&j, "proxy", proxy);
        }
        cli_json_int(&j, "at_ms", (long long)tse_posix_now_ms());
        puts(cli_json_end(&j));
    } else {
        printf("network changed to %s%s%s: resuming the tunnel\n", word[1],
               p.proxy_host ? ", proxy " : ", direct", p.proxy_host ? p.proxy_host : "");
    }
    /* acknowledged first: the events of the move follow */
    rc = tse_tunnel_network_changed(R.t, (const uint8_t *)word[1], strlen(word[1]),
                                    tse_posix_now_ms());
    if (rc != TSE_OK) {
        say_error(tse_strerror(rc), copy);
        return;
    }
    (void)tse_posix_driver_kick(R.drv, R.t);
}

#ifdef TSE_CLI_TUN
/* --watch-network: rtnetlink saw another network settle. */
static void on_network(void *user, const uint8_t *id, size_t len, const char *desc)
{
    char hex[2 * 16 + 1];
    size_t k;
    int rc;
    (void)user;
    for (k = 0; k < len && k < 16; k++)
        snprintf(hex + 2 * k, 3, "%02x", id[k]);
    if (R.json) {
        cli_json j;
        cli_json_begin(&j);
        cli_json_str(&j, "event", "network_changed");
        cli_json_str(&j, "network", hex);
        cli_json_str(&j, "seen", desc);
        cli_json_int(&j, "at_ms", (long long)tse_posix_now_ms());
        puts(cli_json_end(&j));
    } else {
        printf("network changed: %s: resuming the tunnel\n", desc);
    }
    rc = tse_tunnel_network_changed(R.t, id, len, tse_posix_now_ms());
    if (rc != TSE_OK)
        say_error(tse_strerror(rc), desc);
    (void)tse_posix_driver_kick(R.drv, R.t);
}
#endif

static void on_fifo(void *user, int fd, short revents)
{
    char buf[512];
    ssize_t n;
    int guard;
    (void)user;
    (void)revents;
    for (guard = 0; guard < 64; guard++) {
        n = read(fd, buf, sizeof buf);
        if (n <= 0)
            return; /* EAGAIN (our own writer keeps EOF away) */
        for (ssize_t i = 0; i < n; i++) {
            if (buf[i] == '\n') {
                if (!R.overlong) {
                    R.line[R.len] = '\0';
                    command(R.line);
                }
                R.len = 0;
                R.overlong = 0;
            } else if (R.len + 1 < sizeof R.line) {
                R.line[R.len++] = buf[i];
            } else if (!R.overlong) {
                R.overlong = 1;
                R.line[R.len] = '\0';
                say_error("line too long, ignored", R.line);
            }
        }
    }
}

static int fifo_open(char *err, size_t cap)
{
    struct stat st;
    if (mkfifo(R.path, 0600) != 0 && errno != EEXIST) {
        snprintf(err, cap, "--control %s: mkfifo: %s", R.path, strerror(errno));
        return -1;
    }
    R.opened = 1;
    R.keep_fd = -1;
    R.fd = open(R.path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (R.fd < 0 || fstat(R.fd, &st) != 0 || !S_ISFIFO(st.st_mode)) {
        snprintf(err, cap, "--control %s: %s", R.path,
                 R.fd < 0 ? strerror(errno) : "not a FIFO");
        return -1;
    }
    /* our own writer: the FIFO never reads EOF when a writer goes */
    R.keep_fd = open(R.path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    if (R.keep_fd < 0) {
        snprintf(err, cap, "--control %s: %s", R.path, strerror(errno));
        return -1;
    }
    if (tse_posix_driver_watch_fd(R.drv, R.fd, POLLIN, on_fifo, NULL) != TSE_OK) {
        snprintf(err, cap, "--control %s: cannot watch it", R.path);
        return -1;
    }
    return 0;
}

int roam_cli_open(tse_posix_driver *d, tse_tunnel *t, const tse_settings *s, int json,
                  char *err, size_t cap)
{
    if (!roam_cli_enabled())
        return 0;
    R.fd = R.keep_fd = -1;
    R.drv = d;
    R.t = t;
    R.json = json;
    memset(&R.path_now, 0, sizeof R.path_now);
    R.path_now.server_port = s->server_port;
    R.path_now.server_port_2 = s->server_port_2;
    if (s->proxy_host != NULL) {
        snprintf(R.px.host, sizeof R.px.host, "%s", s->proxy_host);
        R.px.port = s->proxy_port;
        R.px.has_auth = s->proxy_user != NULL;
        snprintf(R.px.user, sizeof R.px.user, "%s", s->proxy_user ? s->proxy_user : "");
        snprintf(R.px.pass, sizeof R.px.pass, "%s", s->proxy_pass ? s->proxy_pass : "");
        R.path_now.proxy_host = R.px.host;
        R.path_now.proxy_port = R.px.port;
        R.path_now.proxy_user = R.px.has_auth ? R.px.user : NULL;
        R.path_now.proxy_pass = R.px.has_auth ? R.px.pass : NULL;
    }
    if (R.first != NULL &&
        tse_tunnel_network_changed(t, (const uint8_t *)R.first, strlen(R.first),
                                   tse_posix_now_ms()) != TSE_OK) {
        snprintf(err, cap, "--network %s: refused", R.first);
        return -1;
    }
#ifdef TSE_CLI_TUN
    if (R.watch) {
        uint8_t id[16];
        size_t len = 0;
        int rc = tse_netwatch_new(&R.nw, tun_cli_ifname(), 300, on_network, NULL);
        if (rc == TSE_OK)
            rc = tse_netwatch_attach(R.nw, d);
        if (rc != TSE_OK) {
            snprintf(err, cap, "--watch-network: %s", tse_strerror(rc));
            roam_cli_close();
            return -1;
        }
        /* the network at the start (unless --network named it) */
        if (R.first == NULL &&
            tse_netwatch_identity(R.nw, id, sizeof id, &len, NULL, 0) == TSE_OK)
            (void)tse_tunnel_network_changed(t, id, len, tse_posix_now_ms());
    }
#endif
    if (R.path != NULL && fifo_open(err, cap) != 0) {
        roam_cli_close();
        return -1;
    }
    return 0;
}

void roam_cli_close(void)
{
#ifdef TSE_CLI_TUN
    tse_netwatch_del(R.nw);
    R.nw = NULL;
#endif
    if (R.drv && R.fd >= 0)
        (void)tse_posix_driver_unwatch_fd(R.drv, R.fd);
    if (R.opened) {
        if (R.fd >= 0)
            close(R.fd);
        if (R.keep_fd >= 0)
            close(R.keep_fd);
    }
    R.opened = 0;
    R.fd = R.keep_fd = -1;
    R.drv = NULL;
}
