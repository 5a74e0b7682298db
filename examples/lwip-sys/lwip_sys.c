/*
 * lwip-sys: lwIP (NO_SYS=0: tcpip thread, socket API) as the inner IP stack
 * of a tunnel.
 *
 *   lwip-sys --server HOST:PORT --ca CA.pem [--sni NAME] [--text STRING]
 *
 * Three threads, and which one calls what:
 *  - the DRIVER thread owns the tunnel: it runs port/posix's poll driver
 *    (tse_posix_driver_run_once()), so every tse_tunnel_* call, and the
 *    tunnel's callbacks on_event / on_packet, happen here.  From them it
 *    calls tse_lwip_netif_on_event() (which changes the netif inside lwIP's
 *    core through tcpip_api_call()) and tse_lwip_netif_on_packet() (which
 *    posts the packet to the tcpip thread with tcpip_input()).  When woken
 *    through the pipe it calls tse_lwip_netif_flush(), which moves packets
 *    lwIP queued into the tunnel.
 *  - lwIP's TCPIP thread runs the stack.  The netif's output runs there: it
 *    queues a pbuf reference under a mutex and calls notify(), which writes
 *    one byte to the pipe the driver polls.  It never touches the tunnel.
 *  - the MAIN (application) thread starts the others, waits until the
 *    tunnel is up, then uses lwIP's BSD-style sockets (udp_echo_app.c): a
 *    UDP datagram to 198.18.0.1 port 7 (tscf-server --echo's responder)
 *    must come back.  Exit status 0 when it did.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lwip/init.h"
#include "lwip/tcpip.h"

#include "tse/lwip_netif.h"
#include "tse/tse.h"
#include "tse_posix.h"

#include "udp_echo_app.h"

#define UP_TIMEOUT_S 15
#define CLOSE_TIMEOUT_MS 5000

typedef struct app {
    tse_tunnel *t;
    tse_posix_driver *drv;
    tse_lwip_netif tn;
    int wake[2];               /* pipe: tcpip thread -> driver thread */
    pthread_t driver;
    pthread_mutex_t mu;        /* guards up, down_err, stop */
    pthread_cond_t cv;
    int up, closed, stop;
    int down_err;
} app;

static tse_time_ms netif_clock(void *user)
{
    (void)user;
    return tse_posix_now_ms();
}

/* tcpip thread: a packet is queued for the tunnel.  Must not block. */
static void netif_notify(void *user)
{
    app *a = (app *)user;
    ssize_t n = write(a->wake[1], "", 1);
    (void)n; /* EAGAIN: the pipe is full, the driver is being woken anyway */
}

/* ---- driver thread ----------------------------------------------------- */

static void on_event(void *user, const tse_event *ev)
{
    app *a = (app *)user;
    tse_lwip_netif_on_event(&a->tn, ev);
    pthread_mutex_lock(&a->mu);
    switch (ev->type) {
    case TSE_EV_TUNNEL_UP:
        printf("[driver] tunnel up: inner address %u.%u.%u.%u%s\n",
               ev->config->ipv4[0], ev->config->ipv4[1], ev->config->ipv4[2],
               ev->config->ipv4[3], ev->config->resumed ? " (resumed)" : "");
        a->up = 1;
        break;
    case TSE_EV_TUNNEL_DOWN:
        printf("[driver] tunnel down: %s%s%s\n", tse_strerror(ev->error),
               ev->detail ? ": " : "", ev->detail ? ev->detail : "");
        a->up = 0;
        a->down_err = ev->error;
        break;
    case TSE_EV_STATE:
        if (ev->state == TSE_STATE_CLOSED) {
            a->closed = 1;
        }
        break;
    default:
        break;
    }
    pthread_cond_broadcast(&a->cv);
    pthread_mutex_unlock(&a->mu);
}

static void on_packet(void *user, const uint8_t *pkt, size_t len)
{
    app *a = (app *)user;
    tse_lwip_netif_on_packet(&a->tn, pkt, len);
}

static void on_wake(void *user, int fd, short revents)
{
    app *a = (app *)user;
    char buf[64];
    (void)revents;
    while (read(fd, buf, sizeof(buf)) > 0) {
    }
    tse_lwip_netif_flush(&a->tn, tse_posix_now_ms());
}

static tse_time_ms tick(void *user, tse_time_ms now)
{
    app *a = (app *)user;
    int stop;
    /* Retry what the tunnel could not take last time (its queue drains as
     * the outer connection writes). */
    if (tse_lwip_netif_flush(&a->tn, now) == TSE_ERR_QUEUE_FULL) {
        return now + 10;
    }
    pthread_mutex_lock(&a->mu);
    stop = a->stop;
    pthread_mutex_unlock(&a->mu);
    if (stop && tse_tunnel_state(a->t) != TSE_STATE_RELEASING &&
        tse_tunnel_state(a->t) != TSE_STATE_CLOSED) {
        tse_tunnel_close(a->t, now);
    }
    return TSE_TIME_NEVER;
}

static void *driver_main(void *arg)
{
    app *a = (app *)arg;
    tse_time_ms stop_at = TSE_TIME_NEVER;
    for (;;) {
        int stop, closed;
        if (tse_posix_driver_run_once(a->drv, 1000) != TSE_OK) {
            break;
        }
        pthread_mutex_lock(&a->mu);
        stop = a->stop;
        closed = a->closed;
        pthread_mutex_unlock(&a->mu);
        if (closed) {
            break;
        }
        if (stop && stop_at == TSE_TIME_NEVER) {
            stop_at = tse_posix_now_ms() + CLOSE_TIMEOUT_MS;
        }
        if (stop && tse_posix_now_ms() >= stop_at) {
            break; /* the release was not answered in time */
        }
    }
    /* Still the driver thread: tear down what it owns. */
    tse_lwip_netif_remove(&a->tn);
    tse_posix_driver_remove(a->drv, a->t);
    tse_tunnel_del(a->t);
    tse_posix_driver_del(a->drv);
    pthread_mutex_lock(&a->mu);
    a->closed = 1;
    pthread_cond_broadcast(&a->cv);
    pthread_mutex_unlock(&a->mu);
    return NULL;
}

/* ---- main (application) thread ----------------------------------------- */

static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf;
    long n;
    if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
        fseek(f, 0, SEEK_SET) != 0 || (buf = malloc((size_t)n + 1)) == NULL) {
        if (f != NULL) {
            fclose(f);
        }
        return NULL;
    }
    if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
        fclose(f);
        free(buf);
        return NULL;
    }
    fclose(f);
    buf[n] = 0;
    *len = (size_t)n + 1;
    return buf;
}

static int split_hostport(char *s, const char **host, uint16_t *port)
{
    char *colon = strrchr(s, ':');
    long p;
    if (colon == NULL) {
        return -1;
    }
    *colon = 0;
    p = strtol(colon + 1, NULL, 10);
    if (p <= 0 || p > 65535) {
        return -1;
    }
    if (s[0] == '[' && colon[-1] == ']') {
        colon[-1] = 0;
        s++;
    }
    *host = s;
    *port = (uint16_t)p;
    return 0;
}

int main(int argc, char **argv)
{
    static app a;
    char *server = NULL;
    const char *ca_file = NULL, *sni = NULL, *host, *text = "hello through the tunnel";
    uint16_t port;
    uint8_t *ca;
    size_t ca_len = 0;
    tse_settings s;
    tse_callbacks cb;
    tse_lwip_netif_config nc;
    struct timespec until;
    int i, rc, up, result = 1;

    for (i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--server") == 0) server = argv[i + 1];
        else if (strcmp(argv[i], "--ca") == 0) ca_file = argv[i + 1];
        else if (strcmp(argv[i], "--sni") == 0) sni = argv[i + 1];
        else if (strcmp(argv[i], "--text") == 0) text = argv[i + 1];
        else break;
    }
    if (i != argc || server == NULL || ca_file == NULL ||
        split_hostport(server, &host, &port) != 0 || strlen(text) > 400) {
        fprintf(stderr, "usage: %s --server HOST:PORT --ca CA.pem [--sni NAME] [--text STRING]\n",
                argv[0]);
        return 2;
    }
    if ((ca = read_file(ca_file, &ca_len)) == NULL) {
        fprintf(stderr, "cannot read %s\n", ca_file);
        return 2;
    }
    pthread_mutex_init(&a.mu, NULL);
    pthread_cond_init(&a.cv, NULL);
    if (pipe(a.wake) != 0 || fcntl(a.wake[0], F_SETFL, O_NONBLOCK) != 0 ||
        fcntl(a.wake[1], F_SETFL, O_NONBLOCK) != 0) {
        perror("pipe");
        return 1;
    }

    /* lwIP's tcpip thread */
    tcpip_init(NULL, NULL);

    /* The tunnel, created here and handed to the driver thread before it
     * first runs (pthread_create orders the two); from then on only the
     * driver thread uses it. */
    tse_settings_default(&s);
    s.server_host = host;
    s.server_port = port;
    s.sni = sni;
    s.ca = ca;
    s.ca_len = ca_len;
    s.auto_reconnect = 0;
    memset(&cb, 0, sizeof(cb));
    cb.on_event = on_event;
    cb.on_packet = on_packet;
    cb.entropy = tse_posix_entropy;
    rc = tse_tunnel_new(&a.t, &s, &cb, tse_posix_mem(), &a);
    free(ca);
    if (rc != TSE_OK) {
        fprintf(stderr, "tse_tunnel_new: %s\n", tse_strerror(rc));
        return 1;
    }
    tse_lwip_netif_config_default(&nc);
    nc.now_ms = netif_clock;
    nc.notify = netif_notify;
    nc.user = &a;
    nc.set_default = 1;
    /* not from the tcpip thread: it enters lwIP's core itself */
    if ((rc = tse_lwip_netif_add(&a.tn, a.t, &nc)) != TSE_OK ||
        (rc = tse_posix_driver_new(&a.drv)) != TSE_OK ||
        (rc = tse_posix_driver_add(a.drv, a.t)) != TSE_OK ||
        (rc = tse_posix_driver_watch_fd(a.drv, a.wake[0], POLLIN, on_wake, &a)) != TSE_OK ||
        (rc = tse_tunnel_start(a.t, tse_posix_now_ms())) != TSE_OK) {
        fprintf(stderr, "setup: %s\n", tse_strerror(rc));
        return 1;
    }
    tse_posix_driver_set_tick(a.drv, tick, &a);
    printf("[main] connecting to %s port %u; lwIP %s (NO_SYS=0), netif MTU %u\n",
           host, (unsigned)port, LWIP_VERSION_STRING, (unsigned)a.tn.netif.mtu);
    if (pthread_create(&a.driver, NULL, driver_main, &a) != 0) {
        fprintf(stderr, "pthread_create failed\n");
        return 1;
    }

    /* wait (bounded) for the tunnel */
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += UP_TIMEOUT_S;
    pthread_mutex_lock(&a.mu);
    while (!a.up && !a.closed && a.down_err == 0) {
        if (pthread_cond_timedwait(&a.cv, &a.mu, &until) == ETIMEDOUT) {
            break;
        }
    }
    up = a.up;
    pthread_mutex_unlock(&a.mu);

    if (up) {
        result = udp_echo_app_run(text, 3, 2000) == 0 ? 0 : 1;
    } else {
        printf("[main] the tunnel did not come up\n");
    }

    pthread_mutex_lock(&a.mu);
    a.stop = 1;
    pthread_mutex_unlock(&a.mu);
    netif_notify(&a); /* wake the driver so its tick sees stop */
    pthread_join(a.driver, NULL);
    close(a.wake[0]);
    close(a.wake[1]);
    printf("[main] %s\n", result == 0 ? "echo received" : "FAILED");
    return result;
}
