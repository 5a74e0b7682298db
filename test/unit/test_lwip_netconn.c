/* test_lwip_netconn.c - the outer connection over lwIP's netconn API
 * (port/lwip/tse_lwip_netconn.c, include/tse/lwip_netconn.h) with lwIP
 * NO_SYS=0: a real tcpip thread, real time, the in-memory TSCF.
 *
 * One lwIP stack, four netifs:
 *   up   192.0.2.2/24     the device's uplink
 *   sv   203.0.113.1/24   the TSCF's side of the "wire" (link DOWN: lwIP
 *                         never routes to it, input is still accepted; the
 *                         only way to 203.0.113.1 is a netconn bound to up)
 *   dn   192.0.2.53/24    a DNS server on the uplink's link (link DOWN too)
 *   tn   the tunnel netif (tse/lwip_netif.h), lwIP's DEFAULT netif
 * up's output goes to dn or sv by destination; their output comes back to
 * up.  Each hop is a copy posted to the tcpip thread (tcpip_input), so TCP
 * runs for real.  The TSCF (mem_tscf) and the DNS server (mem_dns: an A
 * record for TSCF_NAME, NXDOMAIN otherwise) run in the tcpip thread on raw
 * PCBs bound to their netif; the test's main thread is the driver thread.
 * With the system's lwIP (Debian's options: no DNS) the name tests are
 * skipped and literal addresses are used. */
#include "tt.h"

#if defined(TSE_TEST_NO_LWIP_NETIF)

int main(void)
{
    printf("test_lwip_netconn: no NO_SYS=0 lwIP in this configuration\n");
    (void)tt_failed_checks;
    return TT_DONE();
}

#else

#include <pthread.h>
#include <time.h>

#include "lwip/api.h"
#include "lwip/dns.h"
#include "lwip/ip.h"
#include "lwip/ip_addr.h"
#include "lwip/netif.h"
#include "lwip/pbuf.h"
#include "lwip/prot/ip4.h"
#include "lwip/prot/tcp.h"
#include "lwip/sys.h"
#include "lwip/tcp.h"
#include "lwip/tcpip.h"
#include "lwip/udp.h"

#include "lwip_tscf.h"
#include "mem_dns.h"
#include "mem_tscf.h"
#include "tse/lwip_netconn.h"
#include "tse/lwip_netif.h"
#include "tse/tse.h"

#if !LWIP_TCPIP_CORE_LOCKING
#error "this test calls lwIP's raw API from the main thread under LOCK_TCPIP_CORE()"
#endif

#define TSCF_NAME "tscf.test"

/* ---- the wire (tcpip thread) ---------------------------------------------- */

static struct netif up_if, sv_if, dn_if, df_if;
/* Written in the tcpip thread; read under the core lock. */
static unsigned to_sv_syns, to_sv_pkts, to_dn_pkts, df_out;
static ip4_addr_t to_sv_last_dst;

static void hop(struct pbuf *p, struct netif *to)
{
    struct pbuf *q = pbuf_alloc(PBUF_RAW, p->tot_len, PBUF_RAM);
    if (q == NULL) {
        return; /* a drop: TCP retransmits */
    }
    pbuf_copy(q, p);
    if (to->input(q, to) != ERR_OK) {
        pbuf_free(q);
    }
}

static err_t up_output(struct netif *n, struct pbuf *p, const ip4_addr_t *a)
{
    const struct ip_hdr *ih = (const struct ip_hdr *)p->payload;
    (void)n; (void)a;
    if (p->len < IP_HLEN) {
        return ERR_OK;
    }
    if (ip4_addr_netcmp(&ih->dest, netif_ip4_addr(&dn_if), netif_ip4_netmask(&dn_if))) {
        to_dn_pkts++;
        hop(p, &dn_if);
        return ERR_OK;
    }
    to_sv_pkts++;
    ip4_addr_copy(to_sv_last_dst, ih->dest);
    if (IPH_PROTO(ih) == IP_PROTO_TCP && p->len >= 40 &&
        (((const uint8_t *)p->payload)[33] & TCP_SYN)) {
        to_sv_syns++;
    }
    hop(p, &sv_if);
    return ERR_OK;
}
static err_t back_output(struct netif *n, struct pbuf *p, const ip4_addr_t *a)
{
    (void)n; (void)a;
    hop(p, &up_if);
    return ERR_OK;
}
static err_t df_output(struct netif *n, struct pbuf *p, const ip4_addr_t *a)
{
    (void)n; (void)p; (void)a;
    df_out++;
    return ERR_OK;
}
static err_t if_init(struct netif *n)
{
    n->output = n == &up_if ? up_output : n == &df_if ? df_output : back_output;
    n->mtu = 1500;
    n->name[0] = 'x';
    n->name[1] = (char)('0' + (n == &up_if ? 0 : n == &sv_if ? 1 : n == &dn_if ? 2 : 3));
    return ERR_OK;
}

/* ---- the DNS server on dn (tcpip thread, support/lwip/mem_dns.c) ---------- */

static mem_dns dns; /* TSCF_NAME is 203.0.113.1 */

#if LWIP_DNS
/* Main thread: send the withheld answer.  1 if there was one. */
static int dns_release_late(void)
{
    int had;
    LOCK_TCPIP_CORE();
    had = mem_dns_release_late(&dns);
    UNLOCK_TCPIP_CORE();
    return had;
}
#endif

/* ---- the TSCF on sv (tcpip thread, support/lwip/lwip_tscf.c) ------------- */

static mem_tscf *peer;
static tse_time_ms srv_clock;
static lwip_tscf tscf; /* eager: flushed from lwIP's callbacks */

/* ---- the device (main thread = driver thread) ----------------------------- */

static tse_lwip_nc_port port;
static tse_lwip_nc_driver drv;
static tse_lwip_netif tn;
static tse_tunnel *tunnel;
static mt_rec rec;
static mt_alloc alloc;

static tse_time_ms clock_ms(void *user)
{
    (void)user;
    return tse_lwip_nc_now(&port);
}
static void on_event(void *user, const tse_event *ev)
{
    mt_rec_callbacks()->on_event(user, ev);
    tse_lwip_netif_on_event(&tn, ev);
}
static void on_packet(void *user, const uint8_t *pkt, size_t len)
{
    mt_rec_callbacks()->on_packet(user, pkt, len);
    tse_lwip_netif_on_packet(&tn, pkt, len);
}
static int entropy(void *user, uint8_t *buf, size_t len)
{
    return mt_rec_callbacks()->entropy(user, buf, len);
}

static unsigned locked_read(const unsigned *v)
{
    unsigned x;
    LOCK_TCPIP_CORE();
    x = *v;
    UNLOCK_TCPIP_CORE();
    return x;
}

static int port_init(struct netif *uplink)
{
    tse_lwip_nc_config pc;
    tse_lwip_nc_config_default(&pc);
    pc.uplink = uplink;
    pc.entropy = entropy;
    pc.entropy_user = &rec;
    return tse_lwip_nc_init(&port, &pc);
}

/* Poll the table's connect until it is no longer in progress (real time,
 * bounded); the port's semaphore says when to look again. */
static int connect_wait(const tse_port *t, tse_port_conn *c, unsigned max_ms)
{
    tse_time_ms end = tse_lwip_nc_now(&port) + max_ms;
    int rc;
    while ((rc = t->connect_poll(t->user, c)) == TSE_ERR_WOULD_BLOCK &&
           tse_lwip_nc_now(&port) < end) {
        (void)tse_lwip_nc_wait(&port, end);
    }
    return rc;
}

/* Run the driver until @p pred or @p max_ms of real time. */
static int run_until(int (*pred)(void), unsigned max_ms)
{
    tse_time_ms end = tse_lwip_nc_now(&port) + max_ms;

    unsigned guard = 0;
    while (!pred()) {
        tse_time_ms next;
        if (tse_lwip_nc_now(&port) >= end || ++guard > 1000000u) {
            return 0;
        }
        (void)tse_lwip_nc_driver_poll(&drv);
        if (pred()) {
            break;
        }
        /* no polling: only the port's wake-ups (and the engine's
         * deadlines) end the sleep; what pred() watches in the tcpip
         * thread wakes it too (udp_rx) */
        next = tse_lwip_nc_driver_next(&drv);
        (void)tse_lwip_nc_wait(&port, next < end ? next : end);
    }
    return 1;
}

static int is_up(void) { return tse_tunnel_state(tunnel) == TSE_STATE_UP; }
static int is_closed(void) { return tse_tunnel_state(tunnel) == TSE_STATE_CLOSED; }
static int two_ups(void) { return mt_rec_count(&rec, TSE_EV_TUNNEL_UP) >= 2; }

#if LWIP_DNS
static int srv_open(void)
{
    int o;
    LOCK_TCPIP_CORE();
    o = tscf.conn != NULL;
    UNLOCK_TCPIP_CORE();
    return o;
}
#endif

/* ---- tests ------------------------------------------------------------------ */

/* With a default netif that would take it, the SYN to the (off-link) TSCF
 * leaves through the uplink the netconn is bound to; unbound, it goes to
 * the default netif.  (Port 9 has no listener: not forwarded even when
 * lwIP forwards, as Debian's build does.) */
TT_TEST(outer_connection_is_bound_to_the_uplink)
{
    const tse_port *t;
    tse_port_conn *c = NULL;
    ip4_addr_t a, m, g;
    unsigned syns = locked_read(&to_sv_syns);

    IP4_ADDR(&a, 10, 9, 9, 9); IP4_ADDR(&m, 255, 255, 255, 0); ip4_addr_set_zero(&g);
    LOCK_TCPIP_CORE();
    (void)netif_add(&df_if, &a, &m, &g, NULL, if_init, tcpip_input);
    netif_set_up(&df_if);
    netif_set_link_up(&df_if);
    netif_set_default(&df_if);
    UNLOCK_TCPIP_CORE();

    TT_EQ_INT(port_init(&up_if), TSE_OK);
    t = tse_lwip_nc_table(&port);
    TT_EQ_INT(t->version, TSE_PORT_VERSION);
    TT_EQ_INT(t->connect_start(t->user, "203.0.113.1", 9, &c), TSE_OK);
    TT_EQ_INT(locked_read(&to_sv_syns), syns + 1); /* sent inside connect */
    /* sv's RST found the way back: refused, not timed out */
    TT_EQ_INT(connect_wait(t, c, 5000), TSE_ERR_TRANSPORT_REFUSED);
    LOCK_TCPIP_CORE();
    a = to_sv_last_dst;
    UNLOCK_TCPIP_CORE();
    TT_EQ_INT(ip4_addr_get_u32(&a), PP_HTONL(0xcb007101UL));
    TT_EQ_INT(locked_read(&df_out), 0);
    t->close(t->user, c);
    tse_lwip_nc_deinit(&port);

    /* the control: unbound, lwIP routes it to the default netif */
    TT_EQ_INT(port_init(NULL), TSE_OK);
    TT_EQ_INT(t->connect_start(t->user, "203.0.113.1", 9, &c), TSE_OK);
    TT_EQ_INT(locked_read(&df_out), 1); /* the SYN, sent inside connect */
    TT_EQ_INT(locked_read(&to_sv_syns), syns + 1);
    t->close(t->user, c);
    tse_lwip_nc_deinit(&port);
    LOCK_TCPIP_CORE();
    netif_set_default(NULL);
    netif_remove(&df_if);
    UNLOCK_TCPIP_CORE();
}

static void *waker_main(void *arg)
{
    struct timespec ts = { 0, 200 * 1000 * 1000 };
    (void)arg;
    nanosleep(&ts, NULL);
    tse_lwip_nc_wake(&port);
    return NULL;
}

/* tse_lwip_nc_wait() sleeps until the deadline, or less when another
 * thread wakes it; wake-ups before the sleep are not lost. */
TT_TEST(wait_and_wake)
{
    pthread_t th;
    tse_time_ms t0;
    TT_EQ_INT(port_init(&up_if), TSE_OK);
    t0 = tse_lwip_nc_now(&port);
    TT_EQ_INT(tse_lwip_nc_wait(&port, t0 + 100), 0);
    TT_ASSERT(tse_lwip_nc_now(&port) - t0 >= 90);
    tse_lwip_nc_wake(&port);
    tse_lwip_nc_wake(&port); /* coalesced */
    t0 = tse_lwip_nc_now(&port);
    TT_EQ_INT(tse_lwip_nc_wait(&port, t0 + 5000), 1);
    TT_EQ_INT(tse_lwip_nc_wait(&port, t0 + 50), 0);
    TT_EQ_INT(pthread_create(&th, NULL, waker_main, NULL), 0);
    t0 = tse_lwip_nc_now(&port);
    TT_EQ_INT(tse_lwip_nc_wait(&port, t0 + 30000), 1);
    pthread_join(th, NULL);
    TT_ASSERT(tse_lwip_nc_now(&port) - t0 < 2000);
    TT_ASSERT(tse_lwip_nc_now(&port) - t0 >= 150);
    tse_lwip_nc_deinit(&port);
}

TT_TEST(bad_arguments)
{
    const tse_port *t;
    tse_port_conn *c = NULL;
    TT_EQ_INT(port_init(&up_if), TSE_OK);
    t = tse_lwip_nc_table(&port);
#if !LWIP_DNS
    TT_EQ_INT(t->connect_start(t->user, TSCF_NAME, 443, &c), TSE_ERR_TRANSPORT_RESOLVE);
#endif
    TT_EQ_INT(t->connect_start(t->user, "", 443, &c), TSE_ERR_TRANSPORT_RESOLVE);
    TT_EQ_INT(t->connect_start(t->user, "203.0.113.1", 0, &c), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(t->connect_start(t->user, NULL, 443, &c), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_lwip_nc_init(&port, NULL), TSE_ERR_INVALID_ARG);
    t->close(t->user, NULL); /* ignored */
    tse_lwip_nc_deinit(&port);
}

/* No listener on 444: sv's RST makes the connect fail as REFUSED. */
TT_TEST(refused_connect)
{
    const tse_port *t;
    tse_port_conn *c = NULL;
    uint8_t b[8];
    TT_EQ_INT(port_init(&up_if), TSE_OK);
    t = tse_lwip_nc_table(&port);
    TT_EQ_INT(t->connect_start(t->user, "203.0.113.1", 444, &c), TSE_OK);
    TT_EQ_INT(connect_wait(t, c, 5000), TSE_ERR_TRANSPORT_REFUSED);
    TT_EQ_INT(t->send(t->user, c, b, sizeof(b)), TSE_ERR_TRANSPORT_REFUSED);
    TT_EQ_INT(t->recv(t->user, c, b, sizeof(b)), TSE_ERR_TRANSPORT_REFUSED);
    TT_EQ_INT(port.stats.refused, 1);
    t->close(t->user, c);
    TT_EQ_INT(port.conns[0].state, TSE_LWIP_NC_FREE);
    tse_lwip_nc_deinit(&port);
}

#if LWIP_DNS
/* A name through lwIP's DNS (a real query to dn), then the connect; an
 * unknown name is RESOLVE; the driver thread never waits for the answer
 * (the server takes DNS_SLOW_MS for "slow.test"). */
TT_TEST(names_through_lwip_dns)
{
    const tse_port *t;
    tse_port_conn *c = NULL;
    unsigned q0 = locked_read(&dns.queries), acc0 = locked_read(&tscf.accepts);
    tse_time_ms t0;
    int i;
    TT_EQ_INT(port_init(&up_if), TSE_OK);
    t = tse_lwip_nc_table(&port);
    t0 = tse_lwip_nc_now(&port);
    TT_EQ_INT(t->connect_start(t->user, "slow.test", 443, &c), TSE_OK);
    TT_ASSERT(tse_lwip_nc_now(&port) - t0 < 100); /* did not wait */
    /* the query reaches the server, which holds the answer back: the
     * connection stays "in progress" meanwhile */
    for (i = 0; i < 200 && locked_read(&dns.queries) == q0; i++) {
        (void)tse_lwip_nc_wait(&port, tse_lwip_nc_now(&port) + 10);
    }
    TT_EQ_INT(locked_read(&dns.queries), q0 + 1);
    TT_EQ_INT(connect_wait(t, c, 200), TSE_ERR_WOULD_BLOCK);
    TT_ASSERT(dns_release_late());
    TT_EQ_INT(connect_wait(t, c, 5000), TSE_ERR_TRANSPORT_RESOLVE);
    TT_EQ_INT(port.stats.resolve_fail, 1);
    t->close(t->user, c);
    TT_EQ_INT(t->connect_start(t->user, TSCF_NAME, 443, &c), TSE_OK);
    TT_EQ_INT(connect_wait(t, c, 5000), TSE_OK);
    TT_EQ_INT(port.stats.resolved, 1);
    TT_EQ_INT(locked_read(&dns.queries), q0 + 2);
    /* the TSCF side accepted it (our ACK reached sv): then close, and see
     * the FIN arrive there, so that the next test starts clean */
    for (i = 0; i < 200 && locked_read(&tscf.accepts) == acc0; i++) {
        (void)tse_lwip_nc_wait(&port, tse_lwip_nc_now(&port) + 10);
    }
    TT_EQ_INT(locked_read(&tscf.accepts), acc0 + 1);
    t->close(t->user, c);
    for (i = 0; i < 200 && srv_open(); i++) {
        (void)tse_lwip_nc_wait(&port, tse_lwip_nc_now(&port) + 10);
    }
    TT_ASSERT(!srv_open());
    tse_lwip_nc_deinit(&port);
}

/* Closed while the query is outstanding: the slot waits for the answer
 * (which refers to it), then is free; nothing connects. */
TT_TEST(close_while_resolving)
{
    const tse_port *t;
    tse_port_conn *c = NULL;
    unsigned q0 = locked_read(&dns.queries), syns = locked_read(&to_sv_syns);
    int i, state = -1;
    SYS_ARCH_DECL_PROTECT(lev);
    TT_EQ_INT(port_init(&up_if), TSE_OK);
    t = tse_lwip_nc_table(&port);
    TT_EQ_INT(t->connect_start(t->user, "slow.tscf.test", 443, &c), TSE_OK);
    for (i = 0; i < 200 && locked_read(&dns.queries) == q0; i++) {
        (void)tse_lwip_nc_wait(&port, tse_lwip_nc_now(&port) + 10);
    }
    TT_EQ_INT(locked_read(&dns.queries), q0 + 1);
    t->close(t->user, c);
    TT_EQ_INT(port.conns[0].state, TSE_LWIP_NC_ORPHAN);
    TT_ASSERT(dns_release_late());
    for (i = 0; i < 200 && state != TSE_LWIP_NC_FREE; i++) {
        (void)tse_lwip_nc_wait(&port, tse_lwip_nc_now(&port) + 10);
        SYS_ARCH_PROTECT(lev);
        state = port.conns[0].state;
        SYS_ARCH_UNPROTECT(lev);
    }
    TT_EQ_INT(state, TSE_LWIP_NC_FREE);
    TT_EQ_INT(locked_read(&to_sv_syns), syns);
    tse_lwip_nc_deinit(&port);
}
#endif

#define BIG_ECHO 1200 /* an inner packet larger than half a pool pbuf */
static struct udp_pcb *upcb;
static unsigned echoes, big_echoes;
static void udp_rx(void *arg, struct udp_pcb *pcb, struct pbuf *p, const ip_addr_t *addr, u16_t prt)
{
    (void)arg; (void)pcb; (void)addr; (void)prt;
    if (p->tot_len == 11) echoes++;
    if (p->tot_len == BIG_ECHO) big_echoes++;
    pbuf_free(p);
    tse_lwip_nc_wake(&port); /* the driver thread checks got_echo() */
}
static int got_echo(void) { return locked_read(&echoes) > 0; }
static int got_big_echo(void) { return locked_read(&big_echoes) > 0; }

/* The whole tunnel: the TSCF's name through lwIP's DNS, TCP through lwIP
 * (netconn), TLS, configuration, an inner UDP packet through the tunnel
 * netif (the default netif) and its echo, while every outer segment
 * leaves through the uplink. */
TT_TEST(tunnel_over_netconn)
{
    tse_settings s;
    tse_callbacks cb = { on_event, on_packet, entropy, NULL };
    tse_lwip_netif_config nc;
    mt_cfg *cfg = mem_tscf_cfg(peer);
    ip_addr_t dst;
    ip4_addr_t last;
    struct pbuf *p;
    const mt_seen *seen = mem_tscf_seen(peer);
    unsigned pkts, conns, n_conns, n_hs;
    int link, dflt;
    err_t e;

    LOCK_TCPIP_CORE();
    cfg->echo = 1;
    conns = seen->conns;
    UNLOCK_TCPIP_CORE();
    TT_EQ_INT(port_init(&up_if), TSE_OK);
    mt_rec_init(&rec);
    mt_settings_default(&s);
#if LWIP_DNS
    s.server_host = TSCF_NAME;
#else
    s.server_host = "203.0.113.1";
#endif
    s.sni = "tscf.test";
    s.backoff_initial_ms = 200;
    TT_EQ_INT(tse_tunnel_new(&tunnel, &s, &cb, mt_mem(&alloc), &rec), TSE_OK);
    tse_lwip_netif_config_default(&nc);
    nc.now_ms = clock_ms;
    nc.set_default = 1;
    nc.notify = tse_lwip_nc_wake_cb;
    nc.user = &port;
    TT_EQ_INT(tse_lwip_netif_add(&tn, tunnel, &nc), TSE_OK);
    TT_EQ_INT(tse_lwip_nc_driver_init(&drv, &port, tunnel, &tn), TSE_OK);
    TT_EQ_INT(tse_tunnel_start(tunnel, tse_lwip_nc_now(&port)), TSE_OK);
    if (!run_until(is_up, 20000)) {
        mt_rec_dump(&rec);
        TT_ASSERT(0);
    }
    LOCK_TCPIP_CORE();
    n_conns = seen->conns;
    n_hs = seen->handshakes;
    link = netif_is_link_up(&tn.netif);
    dflt = netif_default == &tn.netif;
    pkts = seen->pkts_total;
    upcb = udp_new();
    UNLOCK_TCPIP_CORE();
    TT_EQ_INT(n_conns, conns + 1);
    TT_ASSERT(n_hs >= 1);
    TT_ASSERT(link);
    TT_ASSERT(dflt);
    TT_ASSERT(upcb != NULL);
    LOCK_TCPIP_CORE();
    e = udp_bind(upcb, IP_ADDR_ANY, 7);
    udp_recv(upcb, udp_rx, NULL);
    IP_ADDR4(&dst, 198, 18, 0, 1);
    p = pbuf_alloc(PBUF_TRANSPORT, 11, PBUF_RAM);
    if (p != NULL) {
        memcpy(p->payload, "inner hello", 11);
        e = e == ERR_OK ? udp_sendto(upcb, p, &dst, 7) : e; /* to tn: queued, notify */
        pbuf_free(p);
    }
    UNLOCK_TCPIP_CORE();
    TT_ASSERT(p != NULL);
    TT_EQ_INT(e, ERR_OK);
    TT_ASSERT(run_until(got_echo, 5000));
    LOCK_TCPIP_CORE();
    n_conns = seen->pkts_total;
    last = to_sv_last_dst;
    UNLOCK_TCPIP_CORE();
    /* only the inner packet went into the tunnel: no outer segment looped */
    TT_EQ_INT(n_conns, pkts + 1);
    TT_EQ_INT(ip4_addr_get_u32(&last), PP_HTONL(0xcb007101UL));
    TT_ASSERT(port.stats.bytes_out > 0 && port.stats.bytes_in > 0);
    TT_ASSERT(port.stats.wakes > 0);

    /* a large inner packet both ways (the netif's receive path allocates
     * its pbuf for the whole packet) */
    LOCK_TCPIP_CORE();
    p = pbuf_alloc(PBUF_TRANSPORT, BIG_ECHO, PBUF_RAM);
    if (p != NULL) {
        memset(p->payload, 0x5a, BIG_ECHO);
        e = udp_sendto(upcb, p, &dst, 7);
        pbuf_free(p);
    }
    UNLOCK_TCPIP_CORE();
    TT_ASSERT(p != NULL);
    TT_EQ_INT(e, ERR_OK);
    TT_ASSERT(run_until(got_big_echo, 5000));
}

/* The TSCF side resets TCP: the engine hears RESET and comes back. */
TT_TEST(reset_then_reconnect)
{
    unsigned resets = port.stats.resets;
    int had = 0;
    LOCK_TCPIP_CORE();
    if (tscf.conn != NULL) {
        had = 1;
        tcp_abort(tscf.conn); /* lwip_tscf's err callback cleared tscf.conn */
    }
    UNLOCK_TCPIP_CORE();
    TT_ASSERT(had);
    TT_ASSERT(run_until(two_ups, 20000));
    TT_EQ_INT(port.stats.resets, resets + 1);
    TT_EQ_INT(tse_tunnel_state(tunnel), TSE_STATE_UP);
    {
        const mt_ev *down = mt_rec_nth(&rec, TSE_EV_TUNNEL_DOWN, 0);
        TT_ASSERT(down != NULL);
        TT_EQ_INT(down->error, TSE_ERR_TRANSPORT_RESET);
    }
}

TT_TEST(release_and_clean_up)
{
    size_t cms;
    TT_EQ_INT(tse_tunnel_close(tunnel, tse_lwip_nc_now(&port)), TSE_OK);
    TT_ASSERT(run_until(is_closed, 10000));
    LOCK_TCPIP_CORE();
    cms = mem_tscf_count_cms(peer, 0);
    UNLOCK_TCPIP_CORE();
    TT_ASSERT(cms > 0);
    tse_lwip_nc_driver_deinit(&drv);
    TT_EQ_INT(port.conns[0].state, TSE_LWIP_NC_FREE);
    TT_EQ_INT(port.conns[1].state, TSE_LWIP_NC_FREE);
}

static volatile int tcpip_ready;
static void on_tcpip_ready(void *arg)
{
    (void)arg;
    tcpip_ready = 1;
}

int main(void)
{
    ip4_addr_t a, m, g;
    mt_cfg cfg;
    int i;
    struct timespec ts = { 0, 10 * 1000 * 1000 };

    tcpip_init(on_tcpip_ready, NULL);
    for (i = 0; i < 500 && !tcpip_ready; i++) {
        nanosleep(&ts, NULL);
    }
    if (!tcpip_ready) {
        fprintf(stderr, "tcpip thread did not start\n");
        return 1;
    }
    mt_cfg_default(&cfg);
    peer = mem_tscf_new(&cfg);
    mem_tscf_set_clock(peer, &srv_clock);

    LOCK_TCPIP_CORE();
    srv_clock = sys_now();
    ip4_addr_set_zero(&g);
    IP4_ADDR(&m, 255, 255, 255, 0);
    IP4_ADDR(&a, 192, 0, 2, 2);
    netif_add(&up_if, &a, &m, &g, NULL, if_init, tcpip_input);
    netif_set_up(&up_if);
    netif_set_link_up(&up_if);
    IP4_ADDR(&a, 203, 0, 113, 1);
    netif_add(&sv_if, &a, &m, &g, NULL, if_init, tcpip_input);
    netif_set_up(&sv_if); /* link stays down: never a route */
    IP4_ADDR(&a, 192, 0, 2, 53);
    netif_add(&dn_if, &a, &m, &g, NULL, if_init, tcpip_input);
    netif_set_up(&dn_if); /* link down too */

    if (lwip_tscf_listen(&tscf, peer, &sv_if, 443, 1, &srv_clock) != 0) {
        UNLOCK_TCPIP_CORE();
        fprintf(stderr, "bind failed\n");
        return 1;
    }
    IP4_ADDR(&a, 203, 0, 113, 1);
    if (mem_dns_start(&dns, &dn_if, TSCF_NAME, &a) != 0) {
        UNLOCK_TCPIP_CORE();
        fprintf(stderr, "DNS server failed\n");
        return 1;
    }
#if LWIP_DNS
    {
        ip_addr_t ds;
        IP_ADDR4(&ds, 192, 0, 2, 53);
        dns_setserver(0, &ds);
    }
#endif
    UNLOCK_TCPIP_CORE();

    TT_RUN(outer_connection_is_bound_to_the_uplink);
    TT_RUN(wait_and_wake);
    TT_RUN(bad_arguments);
    TT_RUN(refused_connect);
#if LWIP_DNS
    TT_RUN(names_through_lwip_dns);
    TT_RUN(close_while_resolving);
#endif
    TT_RUN(tunnel_over_netconn);
    if (tunnel != NULL && is_up()) {
        TT_RUN(reset_then_reconnect);
        TT_RUN(release_and_clean_up);
    }
    tse_lwip_nc_driver_deinit(&drv);
    tse_lwip_nc_deinit(&port);
    tse_lwip_netif_remove(&tn);
    tse_tunnel_del(tunnel);
    LOCK_TCPIP_CORE();
    if (upcb != NULL) {
        udp_remove(upcb);
    }
    mem_dns_stop(&dns);
    lwip_tscf_stop(&tscf);
    mem_tscf_free(peer);
    peer = NULL;
    UNLOCK_TCPIP_CORE();
    if (alloc.live != 0) {
        fprintf(stderr, "leak: %ld live allocations\n", alloc.live);
        return 1;
    }
    return TT_DONE();
}

#endif
