/*
 * lwip-nosys: lwIP (NO_SYS=1, raw API) as the inner IP stack of a tunnel.
 *
 *   lwip-nosys --server HOST:PORT --ca CA.pem [--sni NAME] [--json]
 *              [--reconnect] [--backoff-max MS] [--outq BYTES] [--timeout S]
 *              [--ping A.B.C.D [--count N] [--interval MS]
 *               | --sip-options sip:HOST[:PORT][;transport=tcp]
 *               | --tcp-send HOST:PORT [--bytes N] [--seed N]
 *               | --rtp HOST:PORT [--seconds S] [--pps N] [--window N]]
 *
 * One thread does everything: port/posix's poll driver runs the tunnel,
 * its per-round tick runs lwIP's timers (sys_check_timeouts()) and the
 * inner application's (lwapp_poll(); examples/lwip-apps, raw API).  The tunnel's
 * on_event / on_packet feed the netif (include/tse/lwip_netif.h), whose
 * output calls tse_tunnel_send_packet() directly - no locks, no queues.
 *
 * The application starts when the tunnel is first up; when it has finished
 * the tunnel is released.  With --reconnect the tunnel resumes after a cut
 * (same TSID, and with tscf-server --persist the same inner address), and
 * TCP connections inside survive.  Without an application option it pings
 * the TSCF's inner address 198.18.0.1 (--count times, default 3).
 *
 * Between events the loop sleeps until the next deadline (the tunnel's,
 * lwIP's next timeout, the application's): no fixed tick.  SIGUSR1 prints
 * "driver: keep-alives R/S; N wake-ups" (keep-alive responses / keep-alives
 * and dead-peer probes sent, poll returns so far), for the idle cost.
 *
 * Output: the application's result line (text, or with --json one JSON
 * object: ping_done, sip_reply, tcp_done, rtp_done); tunnel events on
 * stdout (text) or stderr (--json).  Exit status 0 iff the application
 * succeeded.
 */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lwip/init.h"
#include "lwip/ip_addr.h"
#include "lwip/sys.h"
#include "lwip/timeouts.h"

#include "tse/lwip_netif.h"
#include "tse/tse.h"
#include "tse_posix.h"

#include "lwapp_cli.h"
#include "lwip_apps.h"

/* lwIP's clock (NO_SYS=1: the application provides it): the same monotonic
 * clock the tunnel's driver uses. */
u32_t sys_now(void)
{
    return (u32_t)tse_posix_now_ms();
}

typedef struct app {
    tse_tunnel *t;
    tse_posix_driver *drv;
    tse_lwip_netif tn;
    lwapp_cli cli;
    lwapp run;
    int started, app_done, closed;
    int kick;       /* a callback woke the driver for tick() this round */
    unsigned ups;
} app;

static app g;
static volatile sig_atomic_t g_usr1; /* SIGUSR1: print the wake-up count */
static tse_posix_driver *volatile g_drv;

/* SIGUSR1 prints how often the loop woke up (the idle cost); the handler
 * wakes the poll, which may otherwise sleep until the next deadline. */
static void on_usr1(int sig)
{
    (void)sig;
    g_usr1 = 1;
    if (g_drv != NULL) {
        (void)tse_posix_driver_wake(g_drv);
    }
}

/* A callback changed what tick() decides (lwIP's input, an event) after
 * this round's tick ran: make the round's poll, or the next one, return at
 * once so tick() runs again.  One pipe write per round at most. */
static void kick_tick(app *a)
{
    if (!a->kick) {
        a->kick = 1;
        (void)tse_posix_driver_wake(a->drv);
    }
}

static void logf_(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(g.cli.json ? stderr : stdout, fmt, ap);
    va_end(ap);
    fflush(g.cli.json ? stderr : stdout);
}

static tse_time_ms netif_clock(void *user)
{
    (void)user;
    return tse_posix_now_ms();
}

static void on_done(void *user, lwapp *r)
{
    app *a = (app *)user;
    (void)r;
    a->app_done = 1;
}

static void on_event(void *user, const tse_event *ev)
{
    app *a = (app *)user;
    kick_tick(a);
    tse_lwip_netif_on_event(&a->tn, ev);
    switch (ev->type) {
    case TSE_EV_TUNNEL_UP:
        a->ups++;
        logf_("tunnel up: inner address %u.%u.%u.%u, TSID %llu%s\n", ev->config->ipv4[0],
              ev->config->ipv4[1], ev->config->ipv4[2], ev->config->ipv4[3],
              (unsigned long long)ev->config->tsid, ev->config->resumed ? " (resumed)" : "");
        if (a->started && ev->config->resumed) {
            lwapp_link_up(&a->run); /* same thread: lwIP's context */
        }
        if (!a->started) {
            a->started = 1;
            /* the netif has its address now: start the application (it
             * reports failures through on_done) */
            (void)lwapp_start(&a->run, &a->cli.spec, on_done, a);
        }
        break;
    case TSE_EV_ADDR_CHANGED:
        logf_("inner address changed\n");
        break;
    case TSE_EV_TUNNEL_DOWN:
        logf_("tunnel down: %s%s%s\n", tse_strerror(ev->error), ev->detail ? ": " : "",
              ev->detail ? ev->detail : "");
        break;
    case TSE_EV_WARNING:
        logf_("warning: %s\n", ev->detail ? ev->detail : "");
        break;
    case TSE_EV_STATE:
        if (ev->state == TSE_STATE_CLOSED) {
            a->closed = 1;
        }
        break;
    default:
        break;
    }
}

static void on_packet(void *user, const uint8_t *pkt, size_t len)
{
    app *a = (app *)user;
    kick_tick(a); /* lwIP's input ran: its timers and the application may have moved */
    tse_lwip_netif_on_packet(&a->tn, pkt, len);
}

/* The driver calls this every round, in its (the only) thread. */
static tse_time_ms tick(void *user, tse_time_ms now)
{
    app *a = (app *)user;
    u32_t sleep_ms;
    u32_t app_ms = LWAPP_POLL_DONE;
    sys_check_timeouts();
    if (a->started && !a->app_done) {
        app_ms = lwapp_poll(&a->run);
    }
    if (a->app_done && tse_tunnel_state(a->t) != TSE_STATE_RELEASING &&
        tse_tunnel_state(a->t) != TSE_STATE_CLOSED) {
        tse_tunnel_close(a->t, now);
    }
    sleep_ms = lwapp_lwip_sleeptime(); /* not lwIP's idle housekeeping */
    if (app_ms != LWAPP_POLL_DONE && (sleep_ms == SYS_TIMEOUTS_SLEEPTIME_INFINITE || app_ms < sleep_ms)) {
        sleep_ms = app_ms;
    }
    return sleep_ms == SYS_TIMEOUTS_SLEEPTIME_INFINITE ? TSE_TIME_NEVER : now + sleep_ms;
}

/* poll(2) milliseconds until @p at (never negative: -1 is "no limit") */
static int wait_ms(tse_time_ms at, tse_time_ms now)
{
    if (at == TSE_TIME_NEVER) {
        return -1;
    }
    if (at <= now) {
        return 0;
    }
    return at - now > 86400000u ? 86400000 : (int)(at - now);
}

int main(int argc, char **argv)
{
    app *a = &g;
    char err[160], line[1024];
    uint8_t *ca;
    size_t ca_len = 0;
    tse_settings s;
    tse_callbacks cb;
    tse_lwip_netif_config nc;
    tse_time_ms deadline, close_deadline = TSE_TIME_NEVER;
    int rc;

    if (lwapp_cli_parse(argc, argv, &a->cli, NULL, NULL, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s\nusage: %s\n%s", err, argv[0], lwapp_cli_usage());
        return 2;
    }
    if (a->cli.spec.kind == LWAPP_NONE) {
        a->cli.spec.kind = LWAPP_PING;
        IP_ADDR4(&a->cli.spec.addr, 198, 18, 0, 1);
    }
    if ((ca = tse_posix_read_key_file(a->cli.ca_file, &ca_len)) == NULL) {
        fprintf(stderr, "cannot read %s\n", a->cli.ca_file);
        return 2;
    }

    lwip_init();

    /* the tunnel */
    tse_settings_default(&s);
    s.server_host = a->cli.server_host;
    s.server_port = a->cli.server_port;
    s.sni = a->cli.sni;
    s.ca = ca;
    s.ca_len = ca_len;
    s.auto_reconnect = a->cli.reconnect;
    if (a->cli.backoff_max_ms != 0) {
        s.backoff_max_ms = a->cli.backoff_max_ms;
        if (s.backoff_initial_ms > s.backoff_max_ms) {
            s.backoff_initial_ms = s.backoff_max_ms;
        }
    }
    if (a->cli.outq != 0) {
        s.outq_size = a->cli.outq;
    }
    memset(&cb, 0, sizeof(cb));
    cb.on_event = on_event;
    cb.on_packet = on_packet;
    cb.entropy = tse_posix_entropy;
    rc = tse_tunnel_new(&a->t, &s, &cb, tse_posix_mem(), a);
    free(ca);
    if (rc != TSE_OK) {
        fprintf(stderr, "tse_tunnel_new: %s\n", tse_strerror(rc));
        return 1;
    }

    /* the netif: the default route of lwIP goes into the tunnel */
    tse_lwip_netif_config_default(&nc);
    nc.now_ms = netif_clock;
    nc.set_default = 1;
    rc = tse_lwip_netif_add(&a->tn, a->t, &nc);
    if (rc != TSE_OK) {
        fprintf(stderr, "tse_lwip_netif_add: %s\n", tse_strerror(rc));
        return 1;
    }

    if ((rc = tse_posix_driver_new(&a->drv)) != TSE_OK ||
        (rc = tse_posix_driver_add(a->drv, a->t)) != TSE_OK ||
        (rc = tse_tunnel_start(a->t, tse_posix_now_ms())) != TSE_OK) {
        fprintf(stderr, "start: %s\n", tse_strerror(rc));
        return 1;
    }
    tse_posix_driver_set_tick(a->drv, tick, a);
    logf_("connecting to %s port %u; lwIP %s (NO_SYS=1), netif MTU %u\n", a->cli.server_host,
          (unsigned)a->cli.server_port, LWIP_VERSION_STRING, (unsigned)a->tn.netif.mtu);

    g_drv = a->drv;
    {
        struct sigaction sa;
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_usr1;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGUSR1, &sa, NULL);
    }
    deadline = tse_posix_now_ms() + 1000u * (tse_time_ms)lwapp_cli_default_timeout(&a->cli);
    while (!a->closed) {
        tse_time_ms now = tse_posix_now_ms();
        tse_time_ms wake_at;
        if (g_usr1) {
            tse_stats st;
            g_usr1 = 0;
            tse_tunnel_get_stats(a->t, &st);
            fprintf(a->cli.json ? stderr : stdout, "driver: keep-alives %u/%u; %llu wake-ups\n",
                    st.keepalive_responses, st.keepalives_sent,
                    (unsigned long long)tse_posix_driver_polls(a->drv));
            fflush(a->cli.json ? stderr : stdout);
        }
        if (now >= deadline && !a->app_done) {
            logf_("overall timeout\n");
            if (a->started) {
                lwapp_abort(&a->run);
            }
            a->app_done = 1;
            if (!a->started) {
                break;
            }
        }
        if (a->app_done && close_deadline == TSE_TIME_NEVER) {
            close_deadline = now + 5000; /* the release may go unanswered */
        }
        if (now >= close_deadline) {
            break;
        }
        /* Sleep until the next thing to do, not a fixed tick: the driver
         * takes the tunnel's deadline (tse_tunnel_expiry(): keep-alive,
         * timeouts) and tick()'s (lwIP's next timeout, the application's);
         * this loop adds its own two.  A callback that ran after the tick
         * (lwIP input, an event) wakes the poll (kick_tick()). */
        wake_at = a->app_done ? close_deadline : deadline;
        a->kick = 0;
        if (tse_posix_driver_run_once(a->drv, wait_ms(wake_at, now)) != TSE_OK) {
            break;
        }
    }
    if (a->run.done) {
        lwapp_format(&a->run, a->cli.json, line, sizeof(line));
        printf("%s\n", line);
    } else {
        printf(a->cli.json ? "{\"event\":\"error\",\"error\":\"the tunnel did not come up\"}\n"
                           : "the tunnel did not come up\n");
    }
    fflush(stdout);

    {
        tse_lwip_netif_stats st;
        tse_lwip_netif_get_stats(&a->tn, &st);
        fprintf(a->cli.json ? stderr : stdout, "netif: tx %lu (queue full %lu, not up %lu, other %lu), rx %lu "
                "(no pbuf %lu, input refused %lu)\n",
                (unsigned long)st.tx_packets, (unsigned long)st.tx_queue_full,
                (unsigned long)st.tx_not_up, (unsigned long)st.tx_other_err,
                (unsigned long)st.rx_packets, (unsigned long)st.rx_no_pbuf,
                (unsigned long)st.rx_input_err);
        fprintf(a->cli.json ? stderr : stdout, "driver: %llu wake-ups\n",
                (unsigned long long)tse_posix_driver_polls(a->drv));
    }
    tse_lwip_netif_remove(&a->tn);
    tse_posix_driver_remove(a->drv, a->t);
    tse_tunnel_del(a->t);
    g_drv = NULL;
    tse_posix_driver_del(a->drv);
    return a->run.done && a->run.ok ? 0 : 1;
}
