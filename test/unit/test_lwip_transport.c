/* test_lwip_transport.c - the outer connection over lwIP's raw TCP API
 * (port/lwip/tse_lwip_transport.c, include/tse/lwip_port.h) with lwIP
 * NO_SYS=1 on a virtual clock, against the in-memory TSCF.
 *
 * One lwIP stack, three netifs:
 *   up   192.0.2.2/24     the device's uplink
 *   sv   203.0.113.1/24   the TSCF's side of the "wire"; its link is DOWN
 *                         so that lwIP never routes to it (input is still
 *                         accepted): the only way to 203.0.113.1 is a PCB
 *                         bound to "up"
 *   tn   the tunnel netif (tse/lwip_netif.h), lwIP's DEFAULT netif
 * "up" and "sv" are wired back to back in memory (IP packets copied between
 * their output and the other's input).  The TSCF listens on 203.0.113.1:443
 * (a PCB bound to sv) and is mem_tscf at byte level.  An unbound outer
 * connection would route into the tunnel it carries: the tests check it
 * never does. */
#include "tt.h"

#if defined(TSE_TEST_NO_LWIP_NETIF)

int main(void)
{
    printf("test_lwip_transport: no NO_SYS=1 lwIP in this configuration\n");
    (void)tt_failed_checks;
    return TT_DONE();
}

#else

#include "lwip/init.h"
#include "lwip/ip.h"
#include "lwip/ip_addr.h"
#include "lwip/netif.h"
#include "lwip/pbuf.h"
#include "lwip/prot/ip4.h"
#include "lwip/prot/tcp.h"
#include "lwip/stats.h"
#include "lwip/sys.h"
#include "lwip/tcp.h"
#include "lwip/timeouts.h"
#include "lwip/udp.h"

#include "lwip_tscf.h"
#include "mem_tscf.h"
#include "tse/lwip_netif.h"
#include "tse/lwip_port.h"
#include "tse/tse.h"

static tse_time_ms vnow = 1000;

u32_t sys_now(void)
{
    return (u32_t)vnow;
}

/* ---- the wire ------------------------------------------------------------- */

#define WIRE_MAX 256
typedef struct wpkt {
    uint8_t b[1600];
    u16_t len;
} wpkt;
typedef struct wire {
    wpkt q[WIRE_MAX];
    unsigned head, n;
    unsigned total, syns;
    ip4_addr_t last_dst;
} wire;

static struct netif up_if, sv_if, dflt_if;
static wire to_sv, to_up; /* what up sent, what sv sent */
static unsigned dflt_out;

static err_t wire_push(wire *w, struct pbuf *p)
{
    wpkt *k;
    const struct ip_hdr *ih;
    if (w->n == WIRE_MAX || p->tot_len > sizeof(k->b)) {
        return ERR_MEM;
    }
    k = &w->q[(w->head + w->n) % WIRE_MAX];
    k->len = pbuf_copy_partial(p, k->b, p->tot_len, 0);
    w->n++;
    w->total++;
    ih = (const struct ip_hdr *)k->b;
    ip4_addr_copy(w->last_dst, ih->dest);
    if (IPH_PROTO(ih) == IP_PROTO_TCP && k->len >= 40 && (k->b[33] & TCP_SYN)) {
        w->syns++;
    }
    return ERR_OK;
}

static err_t up_output(struct netif *n, struct pbuf *p, const ip4_addr_t *a)
{
    (void)n; (void)a;
    return wire_push(&to_sv, p);
}
static err_t sv_output(struct netif *n, struct pbuf *p, const ip4_addr_t *a)
{
    (void)n; (void)a;
    return wire_push(&to_up, p);
}
static err_t dflt_output(struct netif *n, struct pbuf *p, const ip4_addr_t *a)
{
    (void)n; (void)p; (void)a;
    dflt_out++;
    return ERR_OK;
}
static err_t up_init(struct netif *n)
{
    n->output = up_output;
    n->mtu = 1500;
    n->name[0] = 'u'; n->name[1] = 'p';
    return ERR_OK;
}
static err_t sv_init(struct netif *n)
{
    n->output = sv_output;
    n->mtu = 1500;
    n->name[0] = 's'; n->name[1] = 'v';
    return ERR_OK;
}
static err_t dflt_init(struct netif *n)
{
    n->output = dflt_output;
    n->mtu = 1500;
    n->name[0] = 'd'; n->name[1] = 'f';
    return ERR_OK;
}

/* Deliver everything queued; 1 if anything moved. */
static int black_hole; /* the path died: every packet is lost */
static unsigned lost;

static int wire_deliver(wire *w, struct netif *to)
{
    int moved = 0;
    while (w->n > 0) {
        wpkt *k = &w->q[w->head];
        struct pbuf *p;
        w->head = (w->head + 1) % WIRE_MAX;
        w->n--;
        if (black_hole) {
            lost++;
            continue;
        }
        p = pbuf_alloc(PBUF_RAW, k->len, PBUF_POOL);
        if (p == NULL) {
            continue; /* a drop: TCP retransmits */
        }
        pbuf_take(p, k->b, k->len);
        if (to->input(p, to) != ERR_OK) {
            pbuf_free(p);
        }
        moved = 1;
    }
    return moved;
}

/* ---- the TSCF behind sv (support/lwip/lwip_tscf.c) ------------------------ */

static mem_tscf *peer;
static lwip_tscf tscf; /* flushed by loop_once() */

/* ---- the device ----------------------------------------------------------- */

static tse_lwip_port port;
static tse_lwip_driver drv;
static tse_lwip_netif tn;
static tse_tunnel *tunnel;
static mt_rec rec;
static mt_alloc alloc;

static tse_time_ms clock_ms(void *user)
{
    (void)user;
    return vnow;
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

/* One round of the "main loop"; time moves only when nothing else did. */
static void loop_once(void)
{
    int moved = 0;
    moved |= wire_deliver(&to_sv, &sv_if);
    moved |= wire_deliver(&to_up, &up_if);
    lwip_tscf_flush(&tscf);
    if (tunnel != NULL) {
        (void)tse_lwip_driver_poll(&drv);
    }
    moved |= to_sv.n > 0 || to_up.n > 0;
    sys_check_timeouts();
    if (!moved) {
        vnow += 5;
    }
}

static int run_until(int (*pred)(void), tse_time_ms max_ms)
{
    tse_time_ms end = vnow + max_ms;
    unsigned guard = 0;
    while (!pred()) {
        if (vnow >= end || ++guard > 2000000u) {
            return 0;
        }
        loop_once();
    }
    return 1;
}

static int is_up(void) { return tse_tunnel_state(tunnel) == TSE_STATE_UP; }
static int is_closed(void) { return tse_tunnel_state(tunnel) == TSE_STATE_CLOSED; }
static int two_ups(void) { return mt_rec_count(&rec, TSE_EV_TUNNEL_UP) >= 2; }

static int port_init(struct netif *uplink)
{
    tse_lwip_port_config pc;
    tse_lwip_port_config_default(&pc);
    pc.uplink = uplink;
    pc.entropy = entropy;
    pc.entropy_user = &rec;
    return tse_lwip_port_init(&port, &pc);
}

/* ---- tests ------------------------------------------------------------------ */

/* With a default netif that would take it, the SYN leaves through the
 * uplink the port is bound to; unbound, it goes to the default netif. */
TT_TEST(outer_connection_is_bound_to_the_uplink)
{
    const tse_port *t;
    tse_port_conn *c = NULL;
    ip4_addr_t a, m, g;
    unsigned syns = to_sv.syns;

    IP4_ADDR(&a, 10, 9, 9, 9); IP4_ADDR(&m, 255, 255, 255, 0); ip4_addr_set_zero(&g);
    TT_ASSERT(netif_add(&dflt_if, &a, &m, &g, NULL, dflt_init, ip4_input) != NULL);
    netif_set_up(&dflt_if);
    netif_set_link_up(&dflt_if);
    netif_set_default(&dflt_if);

    TT_EQ_INT(port_init(&up_if), TSE_OK);
    t = tse_lwip_port_table(&port);
    TT_EQ_INT(t->version, TSE_PORT_VERSION);
    TT_EQ_INT(t->connect_start(t->user, "198.51.100.9", 443, &c), TSE_OK);
    TT_EQ_INT(t->connect_poll(t->user, c), TSE_ERR_WOULD_BLOCK);
    TT_EQ_INT(to_sv.syns, syns + 1);
    TT_EQ_INT(ip4_addr_get_u32(&to_sv.last_dst), PP_HTONL(0xc6336409UL));
    TT_EQ_INT(dflt_out, 0);
    t->close(t->user, c);
    to_sv.n = 0;

    /* the control: unbound, lwIP routes it to the default netif */
    TT_EQ_INT(port_init(NULL), TSE_OK);
    TT_EQ_INT(t->connect_start(t->user, "198.51.100.9", 443, &c), TSE_OK);
    TT_EQ_INT(dflt_out, 1);
    TT_EQ_INT(to_sv.syns, syns + 1);
    t->close(t->user, c);
    netif_set_default(NULL);
    netif_remove(&dflt_if);
}

TT_TEST(names_without_dns_and_bad_arguments)
{
    const tse_port *t;
    tse_port_conn *c = NULL;
    TT_EQ_INT(port_init(&up_if), TSE_OK);
    t = tse_lwip_port_table(&port);
#if !LWIP_DNS
    TT_EQ_INT(t->connect_start(t->user, "tscf.test", 443, &c), TSE_ERR_TRANSPORT_RESOLVE);
#endif
    TT_EQ_INT(t->connect_start(t->user, "", 443, &c), TSE_ERR_TRANSPORT_RESOLVE);
    TT_EQ_INT(t->connect_start(t->user, "203.0.113.1", 0, &c), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(t->connect_start(t->user, NULL, 443, &c), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_lwip_port_init(&port, NULL), TSE_ERR_INVALID_ARG);
    t->close(t->user, NULL); /* ignored */
}

/* No listener on 444: sv's RST makes the connect fail as REFUSED. */
TT_TEST(refused_connect)
{
    const tse_port *t;
    tse_port_conn *c = NULL;
    int i, rc = TSE_ERR_WOULD_BLOCK;
    uint8_t b[8];
    TT_EQ_INT(port_init(&up_if), TSE_OK);
    t = tse_lwip_port_table(&port);
    TT_EQ_INT(t->connect_start(t->user, "203.0.113.1", 444, &c), TSE_OK);
    for (i = 0; i < 100 && rc == TSE_ERR_WOULD_BLOCK; i++) {
        loop_once();
        rc = t->connect_poll(t->user, c);
    }
    TT_EQ_INT(rc, TSE_ERR_TRANSPORT_REFUSED);
    TT_EQ_INT(t->send(t->user, c, b, sizeof(b)), TSE_ERR_TRANSPORT_REFUSED);
    TT_EQ_INT(t->recv(t->user, c, b, sizeof(b)), TSE_ERR_TRANSPORT_REFUSED);
    TT_EQ_INT(port.stats.refused, 1);
    t->close(t->user, c);
}

/* Connect through the table to the TSCF's port and wait until the
 * listener has the connection; TSE_OK or what connect_poll said. */
static int connect_tscf(const tse_port **t, tse_port_conn **c)
{
    int i, rc = port_init(&up_if);
    if (rc != TSE_OK) return rc;
    *t = tse_lwip_port_table(&port);
    rc = (*t)->connect_start((*t)->user, "203.0.113.1", 443, c);
    if (rc != TSE_OK) return rc;
    rc = TSE_ERR_WOULD_BLOCK;
    for (i = 0; i < 100 && rc == TSE_ERR_WOULD_BLOCK; i++) {
        loop_once();
        rc = (*t)->connect_poll((*t)->user, *c);
    }
    for (i = 0; i < 10 && rc == TSE_OK && tscf.conn == NULL; i++) loop_once(); /* our ACK arrives */
    return rc;
}

/* The table's own send/recv against a raw echo-less listener: bytes move,
 * partial reads work, FIN is CLOSED after the data. */
TT_TEST(table_send_recv_and_fin)
{
    const tse_port *t;
    tse_port_conn *c = NULL;
    int i;
    uint8_t b[64];
    const uint8_t *d;
    int32_t n;
    TT_EQ_INT(connect_tscf(&t, &c), TSE_OK);
    TT_ASSERT(tscf.conn != NULL);
    /* the peer's proxy/TLS state machine takes anything; check the wire */
    mem_tscf_cfg(peer)->tls_silent = 1;
    TT_EQ_INT(t->send(t->user, c, (const uint8_t *)"hello", 5), 5);
    TT_EQ_INT(t->recv(t->user, c, b, sizeof(b)), 0);
    /* the server side writes 10 bytes, then FIN */
    TT_EQ_INT(tcp_write(tscf.conn, "0123456789", 10, TCP_WRITE_FLAG_COPY), ERR_OK);
    tcp_output(tscf.conn);
    for (i = 0; i < 20; i++) loop_once();
    TT_EQ_INT(t->recv(t->user, c, b, 4), 4);
    TT_EQ_MEM(b, "0123", 4);
    lwip_tscf_close(&tscf);
    for (i = 0; i < 20; i++) loop_once();
    n = t->recv(t->user, c, b, sizeof(b));
    TT_EQ_INT(n, 6);
    TT_EQ_MEM(b, "456789", 6);
    TT_EQ_INT(t->recv(t->user, c, b, sizeof(b)), TSE_ERR_TRANSPORT_CLOSED);
    t->close(t->user, c);
    mem_tscf_cfg(peer)->tls_silent = 0;
    (void)d;
    for (i = 0; i < 50; i++) loop_once();
}

/* A path that dies while idle (the peer vanishes, nothing comes back):
 * TCP keep-alive finds it, and the port says TIMEOUT, 30 s after the last
 * sign of life (20 s idle, two probes 5 s apart; lwip_keepalive.h) -- not
 * before the probes had their chance.  The probes themselves are on the
 * wire. */
TT_TEST(dead_idle_path_is_a_timeout)
{
    const tse_port *t;
    tse_port_conn *c = NULL;
    int i, rc = TSE_ERR_WOULD_BLOCK;
    uint8_t b[16];
    tse_time_ms died, gone = 0;
    unsigned guard;
    TT_EQ_INT(connect_tscf(&t, &c), TSE_OK);
    TT_ASSERT(tscf.conn != NULL);
    mem_tscf_cfg(peer)->tls_silent = 1;
    for (i = 0; i < 20; i++) loop_once(); /* the handshake's last ACK */
    black_hole = 1;
    lost = 0;
    died = vnow;
    for (guard = 0; guard < 20000u && vnow < died + 40000; guard++) {
        loop_once();
        rc = t->recv(t->user, c, b, sizeof(b));
        if (rc != TSE_ERR_WOULD_BLOCK && rc != 0) {
            gone = vnow;
            break;
        }
    }
    if (gone == 0) fprintf(stderr, "no verdict: rc %d after %u ms\n", rc, (unsigned)(vnow - died));
    TT_EQ_INT(rc, TSE_ERR_TRANSPORT_TIMEOUT);
    TT_ASSERT(gone >= died + 29000 && gone <= died + 31500);
    TT_ASSERT(lost >= 2); /* the keep-alive probes (and the last RST) */
    t->close(t->user, c);
    black_hole = 0;
    /* the server's side of the dead connection: drop it quietly */
    if (tscf.conn != NULL) {
        lwip_tscf_close(&tscf);
    }
    for (i = 0; i < 50; i++) loop_once();
    mem_tscf_cfg(peer)->tls_silent = 0;
}

static struct udp_pcb *upcb;
static unsigned echoes;
static void udp_rx(void *arg, struct udp_pcb *pcb, struct pbuf *p, const ip_addr_t *addr, u16_t prt)
{
    (void)arg; (void)pcb; (void)addr; (void)prt;
    if (p->tot_len == 11) echoes++;
    pbuf_free(p);
}
static int got_echo(void) { return echoes > 0; }

/* The whole tunnel: TCP through lwIP, TLS, configuration, an inner UDP
 * packet through the tunnel netif (the default netif) and its echo, while
 * every outer segment leaves through the uplink. */
TT_TEST(tunnel_over_lwip_tcp)
{
    tse_settings s;
    tse_callbacks cb = { on_event, on_packet, entropy, NULL };
    tse_lwip_netif_config nc;
    mt_cfg *cfg = mem_tscf_cfg(peer);
    ip_addr_t dst;
    struct pbuf *p;
    const mt_seen *seen = mem_tscf_seen(peer);
    unsigned conns = seen->conns;

    cfg->echo = 1;
    TT_EQ_INT(port_init(&up_if), TSE_OK);
    mt_rec_init(&rec);
    mt_settings_default(&s);
    s.server_host = "203.0.113.1";
    s.sni = "tscf.test";
    s.backoff_initial_ms = 200;
    TT_EQ_INT(tse_tunnel_new(&tunnel, &s, &cb, mt_mem(&alloc), &rec), TSE_OK);
    tse_lwip_netif_config_default(&nc);
    nc.now_ms = clock_ms;
    nc.set_default = 1;
    TT_EQ_INT(tse_lwip_netif_add(&tn, tunnel, &nc), TSE_OK);
    TT_EQ_INT(tse_lwip_driver_init(&drv, &port, tunnel), TSE_OK);
    TT_EQ_INT(tse_tunnel_start(tunnel, vnow), TSE_OK);
    if (!run_until(is_up, 60000)) {
        mt_rec_dump(&rec);
        TT_ASSERT(0);
    }
    TT_EQ_INT(seen->conns, conns + 1);
    TT_EQ_INT(seen->handshakes >= 1, 1);
    TT_ASSERT(netif_is_link_up(&tn.netif));
    TT_ASSERT(netif_default == &tn.netif);

    upcb = udp_new();
    TT_ASSERT(upcb != NULL);
    TT_EQ_INT(udp_bind(upcb, IP_ADDR_ANY, 7), ERR_OK);
    udp_recv(upcb, udp_rx, NULL);
    IP_ADDR4(&dst, 198, 18, 0, 1);
    p = pbuf_alloc(PBUF_TRANSPORT, 11, PBUF_RAM);
    TT_ASSERT(p != NULL);
    memcpy(p->payload, "inner hello", 11);
    TT_EQ_INT(udp_sendto(upcb, p, &dst, 7), ERR_OK);
    pbuf_free(p);
    TT_ASSERT(run_until(got_echo, 10000));
    /* only the inner packet went into the tunnel: no outer segment looped */
    TT_EQ_INT(seen->pkts_total, 1);
    TT_EQ_INT(ip4_addr_get_u32(&to_sv.last_dst), PP_HTONL(0xcb007101UL));
    TT_ASSERT(port.stats.bytes_out > 0 && port.stats.bytes_in > 0);
}

/* The TSCF side resets TCP: the engine hears RESET and comes back. */
TT_TEST(reset_then_reconnect)
{
    unsigned resets = port.stats.resets;
    TT_ASSERT(tscf.conn != NULL);
    tcp_abort(tscf.conn); /* lwip_tscf's err callback cleared tscf.conn */
    TT_ASSERT(tscf.conn == NULL);
    TT_ASSERT(run_until(two_ups, 60000));
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
    int i;
    TT_EQ_INT(tse_tunnel_close(tunnel, vnow), TSE_OK);
    TT_ASSERT(run_until(is_closed, 30000));
    TT_EQ_INT(mem_tscf_count_cms(peer, 0) > 0, 1);
    tse_lwip_driver_deinit(&drv);
    for (i = 0; i < 200; i++) loop_once(); /* FINs, TIME_WAIT timers */
    TT_EQ_INT(port.conns[0].state, TSE_LWIP_CONN_FREE);
    TT_EQ_INT(port.conns[1].state, TSE_LWIP_CONN_FREE);
}

int main(void)
{
    ip4_addr_t a, m, g;
    mt_cfg cfg;

    lwip_init();
    ip4_addr_set_zero(&g);
    IP4_ADDR(&m, 255, 255, 255, 0);
    IP4_ADDR(&a, 192, 0, 2, 2);
    netif_add(&up_if, &a, &m, &g, NULL, up_init, ip4_input);
    netif_set_up(&up_if);
    netif_set_link_up(&up_if);
    IP4_ADDR(&a, 203, 0, 113, 1);
    netif_add(&sv_if, &a, &m, &g, NULL, sv_init, ip4_input);
    netif_set_up(&sv_if); /* link stays down: never a route */

    mt_cfg_default(&cfg);
    peer = mem_tscf_new(&cfg);
    mem_tscf_set_clock(peer, &vnow);
    if (lwip_tscf_listen(&tscf, peer, &sv_if, 443, 0, NULL) != 0) {
        fprintf(stderr, "bind failed\n");
        return 1;
    }

    TT_RUN(outer_connection_is_bound_to_the_uplink);
    TT_RUN(names_without_dns_and_bad_arguments);
    TT_RUN(refused_connect);
    TT_RUN(table_send_recv_and_fin);
    TT_RUN(dead_idle_path_is_a_timeout);
    TT_RUN(tunnel_over_lwip_tcp);
    if (tunnel != NULL && is_up()) {
        TT_RUN(reset_then_reconnect);
        TT_RUN(release_and_clean_up);
    }
    if (upcb != NULL) {
        udp_remove(upcb);
    }
    tse_lwip_driver_deinit(&drv);
    tse_lwip_port_deinit(&port);
    tse_lwip_netif_remove(&tn);
    tse_tunnel_del(tunnel);
    lwip_tscf_stop(&tscf);
    mem_tscf_free(peer);
    if (alloc.live != 0) {
        fprintf(stderr, "leak: %ld live allocations\n", alloc.live);
        return 1;
    }
    return TT_DONE();
}

#endif
