/*
 * lwip-sys: lwIP (NO_SYS=0: tcpip thread, socket API) as the inner IP stack
 * of a tunnel.
 *
 *   lwip-sys --server HOST:PORT --ca CA.pem [--sni NAME] [--text STRING]
 *            [--json] [--reconnect] [--backoff-max MS] [--outq BYTES]
 *            [--timeout S]
 *            [--ping A.B.C.D [--count N] [--interval MS]
 *             | --sip-options sip:HOST[:PORT][;transport=tcp]
 *             | --tcp-send HOST:PORT [--bytes N] [--seed N]
 *             | --rtp HOST:PORT [--seconds S] [--pps N] [--window N]]
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
 *    tunnel is up, then either
 *    - runs one of examples/lwip-apps' applications (--ping, --sip-options,
 *      --tcp-send, --rtp): they are raw-API code, so the main thread
 *      starts them and calls their lwapp_poll() every 10 ms under lwIP's
 *      core lock (LOCK_TCPIP_CORE()); their PCB callbacks run in the tcpip
 *      thread.  on_done (either thread, core lock held) signals the main
 *      thread through a mutex/condition; it prints the result (text, or one
 *      JSON object with --json); or
 *    - without such an option, uses lwIP's BSD-style sockets
 *      (udp_echo_app.c): a UDP datagram to 198.18.0.1 port 7 (tscf-server
 *      --echo's responder) must come back.
 *    Exit status 0 when the application succeeded.
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

#include "lwapp_cli.h"
#include "lwip_apps.h"
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
    int app_done;              /* guarded by mu; set from the tcpip thread */
    lwapp run;                 /* used in the tcpip thread until app_done */
    lwapp_cli cli;
    const char *text;
} app;

/* ---- tcpip thread: the raw-API application -------------------------------- */

static void app_done_cb(void *user, lwapp *r)
{
    app *a = (app *)user;
    (void)r;
    pthread_mutex_lock(&a->mu);
    a->app_done = 1;
    pthread_cond_broadcast(&a->cv);
    pthread_mutex_unlock(&a->mu);
}

static void app_start_cb(void *ctx)
{
    app *a = (app *)ctx;
    (void)lwapp_start(&a->run, &a->cli.spec, app_done_cb, a);
}

static void app_poll_cb(void *ctx)
{
    app *a = (app *)ctx;
    (void)lwapp_poll(&a->run);
}

static void app_abort_cb(void *ctx)
{
    app *a = (app *)ctx;
    lwapp_abort(&a->run);
}

/* Run fn inside lwIP's core from the main thread: under the core lock when
 * lwIP has one (both lwIP builds here do), else as a tcpip message. */
static int in_lwip(tcpip_callback_fn fn, app *a)
{
#if LWIP_TCPIP_CORE_LOCKING
    LOCK_TCPIP_CORE();
    fn(a);
    UNLOCK_TCPIP_CORE();
    return 0;
#else
    return tcpip_callback(fn, a) == ERR_OK ? 0 : -1;
#endif
}

static void deadline_in(struct timespec *ts, long ms)
{
    clock_gettime(CLOCK_REALTIME, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

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

/* tcpip thread (posted by the driver thread on a resume) */
static void app_link_up_cb(void *ctx)
{
    app *a = (app *)ctx;
    lwapp_link_up(&a->run);
}


static void on_event(void *user, const tse_event *ev)
{
    app *a = (app *)user;
    tse_lwip_netif_on_event(&a->tn, ev);
    pthread_mutex_lock(&a->mu);
    switch (ev->type) {
    case TSE_EV_TUNNEL_UP:
        fprintf(a->cli.json ? stderr : stdout, "[driver] tunnel up: inner address %u.%u.%u.%u%s\n",
               ev->config->ipv4[0], ev->config->ipv4[1], ev->config->ipv4[2],
               ev->config->ipv4[3], ev->config->resumed ? " (resumed)" : "");
        a->up = 1;
        if (ev->config->resumed) {
            /* the raw-API application lives in lwIP's core: post it there
             * (an lwapp not started yet is zeroed: a no-op) */
            (void)tcpip_callback(app_link_up_cb, a);
        }
        break;
    case TSE_EV_TUNNEL_DOWN:
        fprintf(a->cli.json ? stderr : stdout, "[driver] tunnel down: %s%s%s\n", tse_strerror(ev->error),
               ev->detail ? ": " : "", ev->detail ? ev->detail : "");
        a->up = 0;
        if (!a->cli.reconnect) {
            a->down_err = ev->error;
        }
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
    {
        tse_lwip_netif_stats st;
        tse_lwip_netif_get_stats(&a->tn, &st);
        fprintf(a->cli.json ? stderr : stdout, "netif: tx %lu (queue full %lu, not up %lu, other %lu), rx %lu "
                "(no pbuf %lu, input refused %lu)\n",
                (unsigned long)st.tx_packets, (unsigned long)st.tx_queue_full,
                (unsigned long)st.tx_not_up, (unsigned long)st.tx_other_err,
                (unsigned long)st.rx_packets, (unsigned long)st.rx_no_pbuf,
                (unsigned long)st.rx_input_err);
    }
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

static int extra_opt(void *u, const char *opt, const char *val)
{
    app *a = (app *)u;
    if (strcmp(opt, "--text") == 0 && strlen(val) <= 400) {
        a->text = val;
        return 0;
    }
    return -1;
}

int main(int argc, char **argv)
{
    static app a;
    char err[160], line[1024];
    uint8_t *ca;
    size_t ca_len = 0;
    tse_settings s;
    tse_callbacks cb;
    tse_lwip_netif_config nc;
    struct timespec until;
    int rc, up, result = 1;

    a.text = "hello through the tunnel";
    if (lwapp_cli_parse(argc, argv, &a.cli, extra_opt, &a, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s\nusage: %s [--text STRING]\n%s", err, argv[0], lwapp_cli_usage());
        return 2;
    }
    if ((ca = tse_posix_read_key_file(a.cli.ca_file, &ca_len)) == NULL) {
        fprintf(stderr, "cannot read %s\n", a.cli.ca_file);
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
    s.server_host = a.cli.server_host;
    s.server_port = a.cli.server_port;
    s.sni = a.cli.sni;
    s.ca = ca;
    s.ca_len = ca_len;
    s.auto_reconnect = a.cli.reconnect;
    if (a.cli.backoff_max_ms != 0) {
        s.backoff_max_ms = a.cli.backoff_max_ms;
        if (s.backoff_initial_ms > s.backoff_max_ms) {
            s.backoff_initial_ms = s.backoff_max_ms;
        }
    }
    if (a.cli.outq != 0) {
        s.outq_size = a.cli.outq;
    }
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
    fprintf(a.cli.json ? stderr : stdout,
            "[main] connecting to %s port %u; lwIP %s (NO_SYS=0), netif MTU %u\n",
            a.cli.server_host, (unsigned)a.cli.server_port, LWIP_VERSION_STRING,
            (unsigned)a.tn.netif.mtu);
    fflush(stdout);
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

    if (!up) {
        printf(a.cli.json ? "{\"event\":\"error\",\"error\":\"the tunnel did not come up\"}\n"
                          : "[main] the tunnel did not come up\n");
    } else if (a.cli.spec.kind == LWAPP_NONE) {
        result = udp_echo_app_run(a.text, 3, 2000) == 0 ? 0 : 1;
        printf("[main] %s\n", result == 0 ? "echo received" : "FAILED");
    } else if (in_lwip(app_start_cb, &a) != 0) {
        printf("[main] cannot start the application\n");
    } else {
        /* the application's timers: lwapp_poll() every 10 ms, in lwIP */
        tse_time_ms end = tse_posix_now_ms() + 1000u * (tse_time_ms)lwapp_cli_default_timeout(&a.cli);
        int done = 0, aborted = 0;
        for (;;) {
            struct timespec ts;
            (void)in_lwip(app_poll_cb, &a);
            deadline_in(&ts, 10);
            pthread_mutex_lock(&a.mu);
            if (!a.app_done) {
                (void)pthread_cond_timedwait(&a.cv, &a.mu, &ts);
            }
            done = a.app_done;
            pthread_mutex_unlock(&a.mu);
            if (done) {
                break;
            }
            if (tse_posix_now_ms() >= end) {
                if (aborted) {
                    break;
                }
                fprintf(stderr, "[main] overall timeout\n");
                (void)in_lwip(app_abort_cb, &a);
                aborted = 1;
                end = tse_posix_now_ms() + 5000;
            }
        }
        if (done) {
            /* on_done happened-before (the mutex): the result is stable */
            lwapp_format(&a.run, a.cli.json, line, sizeof(line));
            printf("%s\n", line);
            result = a.run.ok ? 0 : 1;
        } else {
            printf("[main] the application did not finish\n");
        }
    }
    fflush(stdout);

    pthread_mutex_lock(&a.mu);
    a.stop = 1;
    pthread_mutex_unlock(&a.mu);
    netif_notify(&a); /* wake the driver so its tick sees stop */
    pthread_join(a.driver, NULL);
    close(a.wake[0]);
    close(a.wake[1]);
    return result;
}
