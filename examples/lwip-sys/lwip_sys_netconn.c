/*
 * lwip-sys-netconn: the whole tunnel over lwIP NO_SYS=0, outer connection
 * included: lwIP's uplink is a Linux TUN device, the outer TCP connection
 * to the TSCF is a netconn bound to it (include/tse/lwip_netconn.h), and
 * the tunnel netif is lwIP's DEFAULT netif.
 *
 *   lwip-sys-netconn --uplink TUN --addr A.B.C.D --gw A.B.C.D
 *                    --server ADDR:PORT --ca CA.pem [--sni NAME]
 *                    [--text STRING] [--timeout S]
 *
 * Threads: lwIP's tcpip thread; the uplink's reader (uplink_tun.c); the MAIN
 * thread, which owns the tunnel and runs the netconn port's driver
 * (tse_lwip_nc_driver_poll() / tse_lwip_nc_wait()); and, once the tunnel
 * is up, an APPLICATION thread that sends a UDP datagram through lwIP's
 * sockets to 198.18.0.1 port 7 (tscf-server --echo's responder) and waits
 * for it to come back (udp_echo_app.c).  Exit status 0 when it did and the
 * tunnel was released cleanly.
 *
 * Routing: with the TSCF off the uplink's subnet (the e2e test puts it on
 * 203.0.113.1 behind gateway 192.0.2.1), the default route is the tunnel
 * netif, i.e. the tunnel itself: only the binding of the outer netconn to
 * the uplink takes the TLS connection out of the TUN device.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lwip/init.h"
#include "lwip/ip_addr.h"
#include "lwip/tcpip.h"

#include "tse/lwip_netconn.h"
#include "tse/lwip_netif.h"
#include "tse/tse.h"
#include "tse_posix.h"

#include "udp_echo_app.h"
#include "uplink_tun.h"

static tse_lwip_nc_port port;
static tse_lwip_nc_driver drv;
static tse_lwip_netif tn;
static struct netif uplink;
static tse_tunnel *tunnel;
static volatile int app_done, app_rc = -1, tcpip_ready;
static const char *text = "hello through a netconn tunnel";

static void on_event(void *user, const tse_event *ev)
{
    (void)user;
    tse_lwip_netif_on_event(&tn, ev);
    if (ev->type == TSE_EV_TUNNEL_UP) {
        printf("[driver] tunnel up\n");
    } else if (ev->type == TSE_EV_TUNNEL_DOWN) {
        printf("[driver] tunnel down: %s\n", tse_strerror(ev->error));
    }
    fflush(stdout);
}

static void on_packet(void *user, const uint8_t *pkt, size_t len)
{
    (void)user;
    (void)tse_lwip_netif_on_packet(&tn, pkt, len);
}

static tse_time_ms clock_ms(void *user)
{
    (void)user;
    return tse_lwip_nc_now(&port);
}

static void *app_main(void *arg)
{
    (void)arg;
    app_rc = udp_echo_app_run(text, 3, 1000);
    app_done = 1;
    tse_lwip_nc_wake(&port); /* the driver loop checks app_done */
    return NULL;
}

static void on_tcpip_ready(void *arg)
{
    (void)arg;
    tcpip_ready = 1;
}

/* Drive until @p pred or @p ms. */
static int drive(int (*pred)(void), unsigned ms)
{
    tse_time_ms end = tse_lwip_nc_now(&port) + ms;
    while (!pred() && tse_lwip_nc_now(&port) < end) {
        tse_time_ms next;
        (void)tse_lwip_nc_driver_poll(&drv);
        if (pred()) {
            break; /* the poll did it (an event): do not sleep first */
        }
        next = tse_lwip_nc_driver_next(&drv);
        (void)tse_lwip_nc_wait(&port, next < end ? next : end);
    }
    return pred();
}

static int is_up(void) { return tse_tunnel_state(tunnel) == TSE_STATE_UP; }
static int is_closed(void) { return tse_tunnel_state(tunnel) == TSE_STATE_CLOSED; }
static int is_app_done(void) { return app_done; }

static int usage(const char *argv0)
{
    fprintf(stderr,
            "usage: %s --uplink TUN --addr A.B.C.D --gw A.B.C.D --server ADDR:PORT "
            "--ca CA.pem [--sni NAME] [--text STRING] [--timeout S]\n",
            argv0);
    return 2;
}

int main(int argc, char **argv)
{
    const char *tun = NULL, *addr = NULL, *gw = NULL, *server = NULL, *ca_file = NULL;
    const char *sni = NULL;
    char host[64];
    unsigned timeout_s = 20, i;
    unsigned long sport;
    ip4_addr_t a4, g4;
    tse_settings s;
    tse_callbacks cb;
    tse_lwip_netif_config nc;
    tse_lwip_nc_config pc;
    pthread_t app;
    uint8_t *ca;
    size_t ca_len = 0;
    const char *colon;
    int rc, result = 1, app_started = 0;
    struct timespec ts = { 0, 10 * 1000 * 1000 };

    setvbuf(stdout, NULL, _IOLBF, 0); /* lines from two threads, in order */
    for (i = 1; i + 1 < (unsigned)argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        if (strcmp(k, "--uplink") == 0) tun = v;
        else if (strcmp(k, "--addr") == 0) addr = v;
        else if (strcmp(k, "--gw") == 0) gw = v;
        else if (strcmp(k, "--server") == 0) server = v;
        else if (strcmp(k, "--ca") == 0) ca_file = v;
        else if (strcmp(k, "--sni") == 0) sni = v;
        else if (strcmp(k, "--text") == 0) text = v;
        else if (strcmp(k, "--timeout") == 0) timeout_s = (unsigned)strtoul(v, NULL, 10);
        else return usage(argv[0]);
    }
    if (i != (unsigned)argc || !tun || !addr || !gw || !server || !ca_file ||
        !ip4addr_aton(addr, &a4) || !ip4addr_aton(gw, &g4) ||
        (colon = strrchr(server, ':')) == NULL || (size_t)(colon - server) >= sizeof(host) ||
        (sport = strtoul(colon + 1, NULL, 10)) == 0 || sport > 65535 || timeout_s == 0) {
        return usage(argv[0]);
    }
    memcpy(host, server, (size_t)(colon - server));
    host[colon - server] = '\0';
    if ((ca = tse_posix_read_key_file(ca_file, &ca_len)) == NULL) {
        fprintf(stderr, "cannot read %s\n", ca_file);
        return 2;
    }

    tcpip_init(on_tcpip_ready, NULL);
    for (i = 0; i < 500 && !tcpip_ready; i++) {
        nanosleep(&ts, NULL);
    }
    if (!tcpip_ready || uplink_tun_add(&uplink, tun, &a4, &g4) != 0) {
        free(ca);
        return 1;
    }

    tse_settings_default(&s);
    s.server_host = host;
    s.server_port = (uint16_t)sport;
    s.sni = sni;
    s.ca = ca;
    s.ca_len = ca_len;
    s.auto_reconnect = 0;
    memset(&cb, 0, sizeof(cb));
    cb.on_event = on_event;
    cb.on_packet = on_packet;
    cb.entropy = tse_posix_entropy;
    rc = tse_tunnel_new(&tunnel, &s, &cb, tse_posix_mem(), NULL);
    free(ca);
    if (rc != TSE_OK) {
        fprintf(stderr, "tse_tunnel_new: %s\n", tse_strerror(rc));
        return 1;
    }
    tse_lwip_nc_config_default(&pc);
    pc.uplink = &uplink; /* the tunnel netif below is the default route */
    pc.entropy = tse_posix_entropy;
    if ((rc = tse_lwip_nc_init(&port, &pc)) != TSE_OK) {
        fprintf(stderr, "tse_lwip_nc_init: %s\n", tse_strerror(rc));
        return 1;
    }
    tse_lwip_netif_config_default(&nc);
    nc.now_ms = clock_ms;
    nc.notify = tse_lwip_nc_wake_cb;
    nc.user = &port;
    nc.set_default = 1;
    if ((rc = tse_lwip_netif_add(&tn, tunnel, &nc)) != TSE_OK ||
        (rc = tse_lwip_nc_driver_init(&drv, &port, tunnel, &tn)) != TSE_OK ||
        (rc = tse_tunnel_start(tunnel, tse_lwip_nc_now(&port))) != TSE_OK) {
        fprintf(stderr, "setup: %s\n", tse_strerror(rc));
        return 1;
    }
    printf("[main] lwIP %s NO_SYS=0; outer connection to %s:%lu over netconn, bound to "
           "the uplink %s (%s); default netif: the tunnel\n",
           LWIP_VERSION_STRING, host, sport, tun, addr);
    fflush(stdout);

    if (!drive(is_up, timeout_s * 1000u)) {
        printf("[main] tunnel not up: %s\n", tse_strerror(tse_tunnel_last_error(tunnel)));
    } else if (pthread_create(&app, NULL, app_main, NULL) != 0) {
        printf("[main] pthread_create failed\n");
    } else {
        app_started = 1;
        (void)drive(is_app_done, 5000); /* 3 x 1 s at most; longer: a lost wake-up */
        if (app_done && app_rc == 0) {
            result = 0;
        }
        printf("[main] UDP echo through the tunnel: %s\n", app_rc == 0 ? "ok" : "FAILED");
    }
    (void)tse_tunnel_close(tunnel, tse_lwip_nc_now(&port));
    if (!drive(is_closed, 5000)) {
        printf("[main] release did not finish\n");
        result = 1;
    }
    if (app_started) {
        /* the app thread ends within its 3 x 1 s receive timeouts */
        pthread_join(app, NULL);
    }
    printf("[main] outer bytes: %u out, %u in; connects %u, driver wake-ups %u\n",
           (unsigned)port.stats.bytes_out, (unsigned)port.stats.bytes_in,
           (unsigned)port.stats.connects, (unsigned)port.stats.wakes);
    tse_lwip_nc_driver_deinit(&drv);
    tse_lwip_nc_deinit(&port);
    tse_lwip_netif_remove(&tn);
    tse_tunnel_del(tunnel);
    uplink_tun_remove(&uplink);
    fflush(stdout);
    return result;
}
