/*
 * lwip-nosys: lwIP (NO_SYS=1, raw API) as the inner IP stack of a tunnel.
 *
 *   lwip-nosys --server HOST:PORT --ca CA.pem [--sni NAME] [--count N]
 *
 * One thread does everything: port/posix's poll driver runs the tunnel,
 * its per-round tick runs lwIP's timers (sys_check_timeouts()) and the
 * application (a raw-API ping).  The tunnel's on_event / on_packet feed
 * the netif (include/tse/lwip_netif.h), whose output calls
 * tse_tunnel_send_packet() directly - no locks, no queues.
 *
 * Against `tscf-server --echo` it pings the TSCF's inner address
 * 198.18.0.1 N times (default 3) through lwIP and exits 0 if every echo
 * was answered.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lwip/def.h"
#include "lwip/inet_chksum.h"
#include "lwip/init.h"
#include "lwip/ip_addr.h"
#include "lwip/pbuf.h"
#include "lwip/prot/icmp.h"
#include "lwip/raw.h"
#include "lwip/sys.h"
#include "lwip/timeouts.h"

#include "tse/lwip_netif.h"
#include "tse/tse.h"
#include "tse_posix.h"

#define PING_ID 0x7453          /* "tS" */
#define PING_INTERVAL_MS 1000
#define PING_DATA 32
#define OVERALL_TIMEOUT_MS 20000

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
    struct raw_pcb *ping;
    ip_addr_t target;
    unsigned count, sent, answered;
    tse_time_ms next_ping, sent_at[64];
    int up, failed, done;
} app;

static tse_time_ms netif_clock(void *user)
{
    (void)user;
    return tse_posix_now_ms();
}

static void on_event(void *user, const tse_event *ev)
{
    app *a = (app *)user;
    tse_lwip_netif_on_event(&a->tn, ev);
    switch (ev->type) {
    case TSE_EV_TUNNEL_UP:
        printf("tunnel up: inner address %u.%u.%u.%u, TSID %llu%s\n",
               ev->config->ipv4[0], ev->config->ipv4[1], ev->config->ipv4[2],
               ev->config->ipv4[3], (unsigned long long)ev->config->tsid,
               ev->config->resumed ? " (resumed)" : "");
        a->up = 1;
        break;
    case TSE_EV_ADDR_CHANGED:
        printf("inner address changed\n");
        break;
    case TSE_EV_TUNNEL_DOWN:
        printf("tunnel down: %s%s%s\n", tse_strerror(ev->error),
               ev->detail ? ": " : "", ev->detail ? ev->detail : "");
        a->up = 0;
        break;
    case TSE_EV_WARNING:
        printf("warning: %s\n", ev->detail ? ev->detail : "");
        break;
    case TSE_EV_STATE:
        if (ev->state == TSE_STATE_CLOSED) {
            a->failed = a->answered < a->count;
            a->done = 1;
        }
        break;
    default:
        break;
    }
}

static void on_packet(void *user, const uint8_t *pkt, size_t len)
{
    app *a = (app *)user;
    tse_lwip_netif_on_packet(&a->tn, pkt, len);
}

/* raw PCB receive: IPv4 raw PCBs see the packet from the IP header on. */
static u8_t ping_recv(void *arg, struct raw_pcb *pcb, struct pbuf *p,
                      const ip_addr_t *addr)
{
    app *a = (app *)arg;
    struct icmp_echo_hdr h;
    u16_t ihl;
    (void)pcb;
    if (p->tot_len < 20 + sizeof(h)) {
        return 0;
    }
    ihl = (u16_t)((((const u8_t *)p->payload)[0] & 0x0f) * 4);
    if (pbuf_copy_partial(p, &h, sizeof(h), ihl) != sizeof(h) ||
        h.type != ICMP_ER || lwip_ntohs(h.id) != PING_ID) {
        return 0; /* not ours: let lwIP have it */
    }
    {
        unsigned seq = lwip_ntohs(h.seqno);
        tse_time_ms rtt = seq < 64 ? tse_posix_now_ms() - a->sent_at[seq] : 0;
        printf("%u bytes from %s: icmp_seq=%u time=%llu ms (through lwIP and the tunnel)\n",
               (unsigned)(p->tot_len - ihl), ipaddr_ntoa(addr), seq,
               (unsigned long long)rtt);
    }
    a->answered++;
    pbuf_free(p);
    return 1;
}

static void ping_send(app *a, tse_time_ms now)
{
    struct pbuf *p = pbuf_alloc(PBUF_IP, (u16_t)(sizeof(struct icmp_echo_hdr) + PING_DATA),
                                PBUF_RAM);
    struct icmp_echo_hdr *h;
    err_t e;
    if (p == NULL) {
        return;
    }
    h = (struct icmp_echo_hdr *)p->payload;
    memset(h, 0, p->len);
    ICMPH_TYPE_SET(h, ICMP_ECHO);
    ICMPH_CODE_SET(h, 0);
    h->id = lwip_htons(PING_ID);
    h->seqno = lwip_htons((u16_t)a->sent);
    memset((u8_t *)h + sizeof(*h), 'a' + (int)(a->sent % 26), PING_DATA);
    h->chksum = inet_chksum(h, p->len);
    if (a->sent < 64) {
        a->sent_at[a->sent] = now;
    }
    e = raw_sendto(a->ping, p, &a->target);
    pbuf_free(p);
    if (e != ERR_OK) {
        printf("raw_sendto: lwIP error %d\n", (int)e);
    }
    a->sent++;
}

/* The driver calls this every round, in its (the only) thread. */
static tse_time_ms tick(void *user, tse_time_ms now)
{
    app *a = (app *)user;
    tse_time_ms next = TSE_TIME_NEVER;
    u32_t sleep_ms;

    sys_check_timeouts();
    if (a->up && a->sent < a->count && now >= a->next_ping) {
        ping_send(a, now);
        a->next_ping = now + PING_INTERVAL_MS;
    }
    if (a->answered >= a->count ||
        (a->sent >= a->count && now >= a->next_ping + 2000)) {
        if (tse_tunnel_state(a->t) != TSE_STATE_RELEASING &&
            tse_tunnel_state(a->t) != TSE_STATE_CLOSED) {
            tse_tunnel_close(a->t, now);
        }
    }
    if (a->up && a->sent < a->count) {
        next = a->next_ping;
    }
    sleep_ms = sys_timeouts_sleeptime();
    if (sleep_ms != SYS_TIMEOUTS_SLEEPTIME_INFINITE && now + sleep_ms < next) {
        next = now + sleep_ms;
    }
    return next;
}

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
    *len = (size_t)n + 1; /* PEM: with the NUL */
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
    const char *ca_file = NULL, *sni = NULL, *host;
    uint16_t port;
    uint8_t *ca;
    size_t ca_len = 0;
    tse_settings s;
    tse_callbacks cb;
    tse_lwip_netif_config nc;
    tse_time_ms deadline;
    int i, rc;

    a.count = 3;
    for (i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--server") == 0) server = argv[i + 1];
        else if (strcmp(argv[i], "--ca") == 0) ca_file = argv[i + 1];
        else if (strcmp(argv[i], "--sni") == 0) sni = argv[i + 1];
        else if (strcmp(argv[i], "--count") == 0) a.count = (unsigned)atoi(argv[i + 1]);
        else break;
    }
    if (i != argc || server == NULL || ca_file == NULL || a.count == 0 ||
        a.count > 64 || split_hostport(server, &host, &port) != 0) {
        fprintf(stderr, "usage: %s --server HOST:PORT --ca CA.pem [--sni NAME] [--count 1..64]\n",
                argv[0]);
        return 2;
    }
    if ((ca = read_file(ca_file, &ca_len)) == NULL) {
        fprintf(stderr, "cannot read %s\n", ca_file);
        return 2;
    }

    /* lwIP, and a raw PCB for ICMP */
    lwip_init();
    IP_ADDR4(&a.target, 198, 18, 0, 1);
    a.ping = raw_new(IP_PROTO_ICMP);
    if (a.ping == NULL) {
        return 1;
    }
    raw_recv(a.ping, ping_recv, &a);

    /* the tunnel */
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

    /* the netif: the default route of lwIP goes into the tunnel */
    tse_lwip_netif_config_default(&nc);
    nc.now_ms = netif_clock;
    nc.set_default = 1;
    rc = tse_lwip_netif_add(&a.tn, a.t, &nc);
    if (rc != TSE_OK) {
        fprintf(stderr, "tse_lwip_netif_add: %s\n", tse_strerror(rc));
        return 1;
    }

    if ((rc = tse_posix_driver_new(&a.drv)) != TSE_OK ||
        (rc = tse_posix_driver_add(a.drv, a.t)) != TSE_OK ||
        (rc = tse_tunnel_start(a.t, tse_posix_now_ms())) != TSE_OK) {
        fprintf(stderr, "start: %s\n", tse_strerror(rc));
        return 1;
    }
    tse_posix_driver_set_tick(a.drv, tick, &a);
    printf("connecting to %s port %u; lwIP %s (NO_SYS=1), netif MTU %u\n", host,
           (unsigned)port, LWIP_VERSION_STRING, (unsigned)a.tn.netif.mtu);

    deadline = tse_posix_now_ms() + OVERALL_TIMEOUT_MS;
    while (!a.done && tse_posix_now_ms() < deadline) {
        if (tse_posix_driver_run_once(a.drv, 200) != TSE_OK) {
            break;
        }
    }
    printf("%u sent, %u answered\n", a.sent, a.answered);

    tse_lwip_netif_remove(&a.tn);
    raw_remove(a.ping);
    tse_posix_driver_remove(a.drv, a.t);
    tse_tunnel_del(a.t);
    tse_posix_driver_del(a.drv);
    return a.answered >= a.count ? 0 : 1;
}
