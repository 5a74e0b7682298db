/* test_lwip_netif_nosys.c - the lwIP netif glue (include/tse/lwip_netif.h)
 * with NO_SYS=1 lwIP (port/lwip/lwipopts.h, TSE_DEPS=debian-src/custom).
 *
 * No server: the tunnel is a real but idle tse_tunnel; the netif's packet
 * sink is replaced through tse_lwip_netif_config::send_packet by a recorder
 * that can also refuse (queue full, not up), and the tunnel's events are
 * synthesised.  lwIP's raw API sends through the netif; packets built here
 * (with checksums computed here) come in through tse_lwip_netif_on_packet(). */
#include "tt.h"

#if defined(TSE_TEST_NO_LWIP_NETIF)

int main(void)
{
    printf("test_lwip_netif_nosys: no NO_SYS=1 lwIP in this configuration\n");
    (void)tt_failed_checks;
    return TT_DONE();
}

#else

#include <stdlib.h>

#include "lwip/init.h"
#include "lwip/ip_addr.h"
#include "lwip/netif.h"
#include "lwip/pbuf.h"
#include "lwip/timeouts.h"
#include "lwip/udp.h"

#include "tse/lwip_netif.h"
#include "tse/tse.h"

#if !NO_SYS
#error "test_lwip_netif_nosys needs the NO_SYS=1 lwIP"
#endif

static u32_t virtual_now_ms;
u32_t sys_now(void)
{
    return virtual_now_ms;
}

/* ---- the fake tunnel side ------------------------------------------------ */

#define MAX_SENT 8
static struct {
    uint8_t pkt[MAX_SENT][2048];
    size_t len[MAX_SENT];
    size_t n;
    int refuse;             /* return this instead of taking the packet */
    tse_tunnel *t_seen;
    tse_time_ms now_seen;
} sink;

static tse_time_ms clock_ms = 5000;
static tse_time_ms test_now(void *user)
{
    (void)user;
    return clock_ms;
}

static int test_send(void *user, tse_tunnel *t, const uint8_t *pkt,
                     size_t len, tse_time_ms now)
{
    (void)user;
    sink.t_seen = t;
    sink.now_seen = now;
    if (sink.refuse != 0) {
        return sink.refuse;
    }
    if (sink.n < MAX_SENT && len <= sizeof(sink.pkt[0])) {
        memcpy(sink.pkt[sink.n], pkt, len);
        sink.len[sink.n] = len;
    }
    sink.n++;
    return TSE_OK;
}

static void ev_cb(void *u, const tse_event *ev) { (void)u; (void)ev; }
static void pkt_cb(void *u, const uint8_t *p, size_t n) { (void)u; (void)p; (void)n; }
static int ent_cb(void *u, uint8_t *b, size_t n)
{
    (void)u;
    memset(b, 0x5a, n);
    return 0;
}
static void *m_calloc(void *u, size_t n, size_t s) { (void)u; return calloc(n, s); }
static void m_free(void *u, void *p) { (void)u; free(p); }

static tse_tunnel *tunnel;
static tse_lwip_netif tn;

static tse_tunnel *make_tunnel(void)
{
    tse_settings s;
    tse_callbacks cb = { ev_cb, pkt_cb, ent_cb, NULL };
    tse_mem mem = { NULL, m_calloc, m_free };
    tse_tunnel *t = NULL;
    tse_settings_default(&s);
    s.server_host = "tscf.test";
    s.tls_insecure_lab_only_skip_verify = 1;
    if (tse_tunnel_new(&t, &s, &cb, &mem, NULL) != TSE_OK) {
        return NULL;
    }
    return t;
}

static void cfg_default(tse_lwip_netif_config *c)
{
    tse_lwip_netif_config_default(c);
    c->now_ms = test_now;
    c->send_packet = test_send;
    c->set_default = 1;
}

static tse_tunnel_config tconf(uint8_t last, int v6)
{
    tse_tunnel_config c;
    memset(&c, 0, sizeof(c));
    c.tsid = 77;
    c.ipv4[0] = 10; c.ipv4[1] = 1; c.ipv4[2] = 2; c.ipv4[3] = last;
    memset(c.ipv4_mask, 255, 4);
    if (v6) {
        static const uint8_t a6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0,
                                        0, 0, 0, 0, 0, 0, 0, 0x42 };
        c.has_ipv6 = 1;
        memcpy(c.ipv6, a6, 16);
        c.ipv6[15] = last;
        memset(c.ipv6_mask, 255, 16);
    }
    return c;
}

static void send_event(tse_event_type type, tse_state st,
                       const tse_tunnel_config *c)
{
    tse_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.type = type;
    ev.state = st;
    ev.config = c;
    ev.error = type == TSE_EV_TUNNEL_DOWN ? TSE_ERR_TRANSPORT_RESET : 0;
    tse_lwip_netif_on_event(&tn, &ev);
}

/* ---- packets built by the test ------------------------------------------- */

static uint16_t csum(const uint8_t *p, size_t n, uint32_t sum)
{
    size_t i;
    for (i = 0; i + 1 < n; i += 2) {
        sum += ((uint32_t)p[i] << 8) | p[i + 1];
    }
    if (n & 1) {
        sum += (uint32_t)p[n - 1] << 8;
    }
    while (sum >> 16) {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    return (uint16_t)~sum;
}

static size_t ipv4_hdr(uint8_t *b, size_t total, uint8_t proto,
                       const uint8_t src[4], const uint8_t dst[4])
{
    uint16_t c;
    memset(b, 0, 20);
    b[0] = 0x45;
    b[2] = (uint8_t)(total >> 8);
    b[3] = (uint8_t)total;
    b[4] = 0x12; b[5] = 0x34;
    b[8] = 64;
    b[9] = proto;
    memcpy(b + 12, src, 4);
    memcpy(b + 16, dst, 4);
    c = csum(b, 20, 0);
    b[10] = (uint8_t)(c >> 8);
    b[11] = (uint8_t)c;
    return 20;
}

static size_t icmp_echo(uint8_t *b, const uint8_t src[4], const uint8_t dst[4],
                        uint16_t id, uint16_t seq)
{
    size_t total = 20 + 8 + 16;
    uint8_t *ic = b + 20;
    uint16_t c;
    ipv4_hdr(b, total, 1, src, dst);
    memset(ic, 0, 24);
    ic[0] = 8; /* echo request */
    ic[4] = (uint8_t)(id >> 8); ic[5] = (uint8_t)id;
    ic[6] = (uint8_t)(seq >> 8); ic[7] = (uint8_t)seq;
    memset(ic + 8, 0xa5, 16);
    c = csum(ic, 24, 0);
    ic[2] = (uint8_t)(c >> 8);
    ic[3] = (uint8_t)c;
    return total;
}

static size_t udp4(uint8_t *b, const uint8_t src[4], const uint8_t dst[4],
                   uint16_t sport, uint16_t dport, const char *payload)
{
    size_t plen = strlen(payload), ulen = 8 + plen, total = 20 + ulen;
    uint8_t *u = b + 20, pseudo[12];
    uint32_t sum = 0;
    uint16_t c;
    size_t i;
    ipv4_hdr(b, total, 17, src, dst);
    u[0] = (uint8_t)(sport >> 8); u[1] = (uint8_t)sport;
    u[2] = (uint8_t)(dport >> 8); u[3] = (uint8_t)dport;
    u[4] = (uint8_t)(ulen >> 8); u[5] = (uint8_t)ulen;
    u[6] = u[7] = 0;
    memcpy(u + 8, payload, plen);
    memcpy(pseudo, src, 4);
    memcpy(pseudo + 4, dst, 4);
    pseudo[8] = 0; pseudo[9] = 17;
    pseudo[10] = (uint8_t)(ulen >> 8); pseudo[11] = (uint8_t)ulen;
    for (i = 0; i < 12; i += 2) {
        sum += ((uint32_t)pseudo[i] << 8) | pseudo[i + 1];
    }
    c = csum(u, ulen, sum);
    if (c == 0) {
        c = 0xffff;
    }
    u[6] = (uint8_t)(c >> 8); u[7] = (uint8_t)c;
    return total;
}

static const uint8_t server4[4] = { 198, 18, 0, 1 };

/* ---- tests ---------------------------------------------------------------- */

TT_TEST(add_rejects_bad_arguments)
{
    static tse_lwip_netif other;
    tse_lwip_netif_config c;
    cfg_default(&c);
    TT_EQ_INT(tse_lwip_netif_add(NULL, tunnel, &c), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_lwip_netif_add(&other, NULL, &c), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_lwip_netif_add(&other, tunnel, NULL), TSE_ERR_INVALID_ARG);
    c.mtu = 575;
    TT_EQ_INT(tse_lwip_netif_add(&other, tunnel, &c), TSE_ERR_INVALID_ARG);
    c.mtu = TSE_LWIP_NETIF_MTU_MAX + 1;
    TT_EQ_INT(tse_lwip_netif_add(&other, tunnel, &c), TSE_ERR_INVALID_ARG);
    cfg_default(&c);
    c.now_ms = NULL;
    TT_EQ_INT(tse_lwip_netif_add(&other, tunnel, &c), TSE_ERR_INVALID_ARG);
    cfg_default(&c);
    c.name[1] = 0;
    TT_EQ_INT(tse_lwip_netif_add(&other, tunnel, &c), TSE_ERR_INVALID_ARG);
    /* nothing was added to lwIP */
    TT_ASSERT(netif_list == NULL || netif_list == &tn.netif);
    /* on a never-added netif these are harmless */
    TT_EQ_INT(tse_lwip_netif_on_packet(&other, (const uint8_t *)"x", 1),
              TSE_ERR_INVALID_ARG);
    tse_lwip_netif_remove(&other);
}

TT_TEST(added_is_up_link_down_without_address)
{
    tse_lwip_netif_config c;
    cfg_default(&c);
    TT_EQ_INT(tse_lwip_netif_add(&tn, tunnel, &c), TSE_OK);
    TT_EQ_INT(tse_lwip_netif_add(&tn, tunnel, &c), TSE_ERR_INVALID_ARG); /* twice */
    TT_ASSERT(netif_is_up(&tn.netif));
    TT_ASSERT(!netif_is_link_up(&tn.netif));
    TT_EQ_INT(tn.netif.mtu, TSE_LWIP_NETIF_MTU_DEFAULT);
    TT_EQ_INT(tn.netif.name[0], 't');
    TT_EQ_INT(tn.netif.name[1], 's');
    TT_ASSERT(netif_default == &tn.netif);
    TT_ASSERT(ip4_addr_isany_val(*netif_ip4_addr(&tn.netif)));
    TT_EQ_INT(tn.netif.flags & (NETIF_FLAG_ETHARP | NETIF_FLAG_BROADCAST), 0);
}

static struct udp_pcb *upcb;
static struct {
    char data[64];
    int n;
    ip_addr_t from;
    u16_t port;
} got;

static void udp_rx(void *arg, struct udp_pcb *pcb, struct pbuf *p,
                   const ip_addr_t *addr, u16_t port)
{
    (void)arg; (void)pcb;
    memset(got.data, 0, sizeof(got.data));
    pbuf_copy_partial(p, got.data, sizeof(got.data) - 1, 0);
    ip_addr_copy(got.from, *addr);
    got.port = port;
    got.n++;
    pbuf_free(p);
}

/* raw-API UDP send of @p text to 198.18.0.1:7, payload in one pbuf with
 * room for the headers (chain = 0) or in a separate pbuf (chain = 1) */
static err_t send_udp4(const char *text, int chain)
{
    ip_addr_t dst;
    struct pbuf *p;
    err_t e;
    size_t len = strlen(text);
    IP_ADDR4(&dst, 198, 18, 0, 1);
    p = pbuf_alloc(chain ? PBUF_RAW : PBUF_TRANSPORT, (u16_t)len, PBUF_RAM);
    if (p == NULL) {
        return ERR_MEM;
    }
    memcpy(p->payload, text, len);
    e = udp_sendto(upcb, p, &dst, 7);
    pbuf_free(p);
    return e;
}

TT_TEST(tunnel_up_sets_addresses_and_link)
{
    tse_tunnel_config c = tconf(3, 1);
    const ip6_addr_t *a6;
    tse_lwip_netif_stats st;
    send_event(TSE_EV_STATE, TSE_STATE_UP, NULL); /* ignored: UP follows */
    TT_ASSERT(!netif_is_link_up(&tn.netif));
    send_event(TSE_EV_TUNNEL_UP, TSE_STATE_UP, &c);
    TT_ASSERT(netif_is_link_up(&tn.netif));
    TT_EQ_INT(ip4_addr_get_u32(netif_ip4_addr(&tn.netif)), PP_HTONL(0x0a010203UL));
    TT_EQ_INT(ip4_addr_get_u32(netif_ip4_netmask(&tn.netif)), 0xffffffffUL);
    a6 = netif_ip6_addr(&tn.netif, 0);
    TT_EQ_MEM(a6->addr, c.ipv6, 16);
    TT_ASSERT(ip6_addr_ispreferred(netif_ip6_addr_state(&tn.netif, 0)));
    tse_lwip_netif_get_stats(&tn, &st);
    TT_EQ_INT(st.addr_changes, 1);

    upcb = udp_new_ip_type(IPADDR_TYPE_ANY);
    TT_ASSERT(upcb != NULL);
    TT_EQ_INT(udp_bind(upcb, IP_ANY_TYPE, 4000), ERR_OK);
    udp_recv(upcb, udp_rx, NULL);
}

TT_TEST(output_single_pbuf_and_chain)
{
    tse_lwip_netif_stats st;
    size_t before = sink.n;
    const uint8_t *p;
    TT_EQ_INT(send_udp4("hello tunnel", 0), ERR_OK);
    TT_EQ_INT(sink.n, before + 1);
    p = sink.pkt[before];
    TT_EQ_INT(sink.len[before], 20 + 8 + 12);
    TT_EQ_INT(p[0], 0x45);
    TT_EQ_INT(p[9], 17);
    TT_EQ_MEM(p + 12, "\x0a\x01\x02\x03", 4);   /* from the tunnel address */
    TT_EQ_MEM(p + 16, server4, 4);
    TT_EQ_INT((p[20] << 8) | p[21], 4000);
    TT_EQ_INT((p[22] << 8) | p[23], 7);
    TT_EQ_MEM(p + 28, "hello tunnel", 12);
    TT_EQ_INT(csum(p, 20, 0), 0);               /* lwIP's header checksum */
    TT_ASSERT(sink.t_seen == tunnel);
    TT_EQ_INT(sink.now_seen, clock_ms);
    tse_lwip_netif_get_stats(&tn, &st);
    TT_EQ_INT(st.tx_packets, 1);
    TT_EQ_INT(st.tx_flattened, 0);

    clock_ms += 10;
    TT_EQ_INT(send_udp4("a chained one", 1), ERR_OK);
    TT_EQ_INT(sink.n, before + 2);
    TT_EQ_INT(sink.len[before + 1], 20 + 8 + 13);
    TT_EQ_MEM(sink.pkt[before + 1] + 28, "a chained one", 13);
    TT_EQ_INT(sink.now_seen, clock_ms);
    tse_lwip_netif_get_stats(&tn, &st);
    TT_EQ_INT(st.tx_packets, 2);
    TT_EQ_INT(st.tx_flattened, 1);
}

TT_TEST(output_errors_map_to_lwip)
{
    tse_lwip_netif_stats st;
    size_t before = sink.n;
    sink.refuse = TSE_ERR_QUEUE_FULL;
    TT_EQ_INT(send_udp4("full", 0), ERR_MEM);
    sink.refuse = TSE_ERR_NOT_UP;
    TT_EQ_INT(send_udp4("not up", 0), ERR_CONN);
    sink.refuse = TSE_ERR_PACKET_INVALID;
    TT_EQ_INT(send_udp4("invalid", 0), ERR_VAL);
    sink.refuse = TSE_ERR_TRANSPORT_IO;
    TT_EQ_INT(send_udp4("other", 0), ERR_IF);
    sink.refuse = 0;
    TT_EQ_INT(sink.n, before);
    tse_lwip_netif_get_stats(&tn, &st);
    TT_EQ_INT(st.tx_queue_full, 1);
    TT_EQ_INT(st.tx_not_up, 1);
    TT_EQ_INT(st.tx_other_err, 2);
    TT_EQ_INT(tse_lwip_netif_err(TSE_OK), ERR_OK);
    TT_EQ_INT(tse_lwip_netif_err(TSE_ERR_QUEUE_FULL), ERR_MEM);
}

TT_TEST(oversized_chain_is_refused_not_overrun)
{
    struct pbuf *a = pbuf_alloc(PBUF_RAW, 1500, PBUF_RAM);
    struct pbuf *b = pbuf_alloc(PBUF_RAW, TSE_LWIP_NETIF_MTU_MAX, PBUF_RAM);
    ip4_addr_t dst;
    size_t before = sink.n;
    err_t e;
    TT_ASSERT(a != NULL && b != NULL);
    pbuf_cat(a, b);
    IP4_ADDR(&dst, 198, 18, 0, 1);
    e = tn.netif.output(&tn.netif, a, &dst);
    pbuf_free(a);
    TT_EQ_INT(e, ERR_BUF);
    TT_EQ_INT(sink.n, before);
}

TT_TEST(inbound_udp_reaches_the_pcb)
{
    uint8_t pkt[128];
    const uint8_t me[4] = { 10, 1, 2, 3 };
    size_t n = udp4(pkt, server4, me, 7, 4000, "echoed back");
    tse_lwip_netif_stats st;
    got.n = 0;
    TT_EQ_INT(tse_lwip_netif_on_packet(&tn, pkt, n), TSE_OK);
    TT_EQ_INT(got.n, 1);
    TT_ASSERT(strcmp(got.data, "echoed back") == 0);
    TT_EQ_INT(got.port, 7);
    TT_ASSERT(IP_IS_V4(&got.from));
    TT_EQ_INT(ip4_addr_get_u32(ip_2_ip4(&got.from)), PP_HTONL(0xc6120001UL));
    tse_lwip_netif_get_stats(&tn, &st);
    TT_EQ_INT(st.rx_packets, 1);

    /* a corrupted UDP checksum: accepted by the netif, dropped by lwIP */
    pkt[n - 1] ^= 0xff;
    TT_EQ_INT(tse_lwip_netif_on_packet(&tn, pkt, n), TSE_OK);
    TT_EQ_INT(got.n, 1);
}

/* lwIP answers an echo request from inside on_packet, straight back into
 * the tunnel (allowed from the tunnel's callbacks). */
TT_TEST(inbound_ping_is_answered_through_the_tunnel)
{
    uint8_t pkt[128];
    const uint8_t me[4] = { 10, 1, 2, 3 };
    size_t n = icmp_echo(pkt, server4, me, 0x77, 9);
    size_t before = sink.n;
    const uint8_t *r;
    TT_EQ_INT(tse_lwip_netif_on_packet(&tn, pkt, n), TSE_OK);
    TT_EQ_INT(sink.n, before + 1);
    r = sink.pkt[before];
    TT_EQ_INT(sink.len[before], n);
    TT_EQ_INT(r[9], 1);
    TT_EQ_MEM(r + 12, me, 4);
    TT_EQ_MEM(r + 16, server4, 4);
    TT_EQ_INT(r[20], 0); /* echo reply */
    TT_EQ_INT((r[24] << 8) | r[25], 0x77);
    TT_EQ_INT((r[26] << 8) | r[27], 9);
    TT_EQ_INT(csum(r + 20, n - 20, 0), 0);
}

TT_TEST(ipv6_output_uses_the_tunnel_address)
{
    ip_addr_t dst;
    struct pbuf *p;
    const uint8_t *r;
    size_t before = sink.n;
    static const uint8_t d6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0xff, 0, 0, 0,
                                    0, 0, 0, 0, 0, 0, 0, 1 };
    memset(&dst, 0, sizeof(dst));
    IP_SET_TYPE_VAL(dst, IPADDR_TYPE_V6);
    memcpy(ip_2_ip6(&dst)->addr, d6, 16);
    p = pbuf_alloc(PBUF_TRANSPORT, 4, PBUF_RAM);
    TT_ASSERT(p != NULL);
    memcpy(p->payload, "six!", 4);
    TT_EQ_INT(udp_sendto(upcb, p, &dst, 7), ERR_OK);
    pbuf_free(p);
    TT_EQ_INT(sink.n, before + 1);
    r = sink.pkt[before];
    TT_EQ_INT(r[0] >> 4, 6);
    TT_EQ_INT(sink.len[before], 40 + 8 + 4);
    TT_EQ_INT(r[6], 17);
    TT_EQ_MEM(r + 8, "\x20\x01\x0d\xb8", 4);
    TT_EQ_INT(r[23], 3);  /* source = 2001:db8::3, the assigned address */
    TT_EQ_MEM(r + 24, d6, 16);
}

TT_TEST(down_drops_the_link_and_routing)
{
    size_t before = sink.n;
    tse_tunnel_config c = tconf(3, 1);
    send_event(TSE_EV_TUNNEL_DOWN, TSE_STATE_BACKOFF, NULL);
    TT_ASSERT(!netif_is_link_up(&tn.netif));
    TT_ASSERT(netif_is_up(&tn.netif));
    /* addresses stay for a resume */
    TT_EQ_INT(ip4_addr_get_u32(netif_ip4_addr(&tn.netif)), PP_HTONL(0x0a010203UL));
    TT_ASSERT(send_udp4("nowhere", 0) != ERR_OK); /* no route */
    TT_EQ_INT(sink.n, before);

    /* back up (resume, same address), then a state change alone drops it */
    send_event(TSE_EV_TUNNEL_UP, TSE_STATE_UP, &c);
    TT_ASSERT(netif_is_link_up(&tn.netif));
    TT_EQ_INT(send_udp4("again", 0), ERR_OK);
    TT_EQ_INT(sink.n, before + 1);
    send_event(TSE_EV_STATE, TSE_STATE_PAUSED, NULL);
    TT_ASSERT(!netif_is_link_up(&tn.netif));
}

TT_TEST(resume_with_a_new_address)
{
    tse_tunnel_config c = tconf(99, 0);
    size_t before = sink.n;
    send_event(TSE_EV_TUNNEL_UP, TSE_STATE_UP, &c);
    send_event(TSE_EV_ADDR_CHANGED, TSE_STATE_UP, &c);
    TT_ASSERT(netif_is_link_up(&tn.netif));
    TT_EQ_INT(ip4_addr_get_u32(netif_ip4_addr(&tn.netif)), PP_HTONL(0x0a010263UL));
    /* no IPv6 in this configuration: the old one is withdrawn */
    TT_ASSERT(ip6_addr_isinvalid(netif_ip6_addr_state(&tn.netif, 0)));
    TT_EQ_INT(send_udp4("new source", 0), ERR_OK);
    TT_EQ_INT(sink.n, before + 1);
    TT_EQ_MEM(sink.pkt[before] + 12, "\x0a\x01\x02\x63", 4);
}

TT_TEST(inbound_without_pbufs_is_dropped_and_counted)
{
    struct pbuf *held[PBUF_POOL_SIZE + 1];
    uint8_t pkt[128];
    const uint8_t me[4] = { 10, 1, 2, 99 };
    size_t n = udp4(pkt, server4, me, 7, 4000, "no room");
    int k = 0, i;
    tse_lwip_netif_stats st0, st;
    tse_lwip_netif_get_stats(&tn, &st0);
    while (k < PBUF_POOL_SIZE + 1) {
        struct pbuf *p = pbuf_alloc(PBUF_RAW, 16, PBUF_POOL);
        if (p == NULL) {
            break;
        }
        held[k++] = p;
    }
    TT_ASSERT(k <= PBUF_POOL_SIZE);
    got.n = 0;
    TT_EQ_INT(tse_lwip_netif_on_packet(&tn, pkt, n), TSE_ERR_NO_MEMORY);
    for (i = 0; i < k; i++) {
        pbuf_free(held[i]);
    }
    TT_EQ_INT(got.n, 0);
    tse_lwip_netif_get_stats(&tn, &st);
    TT_EQ_INT(st.rx_no_pbuf, st0.rx_no_pbuf + 1);
    TT_EQ_INT(tse_lwip_netif_on_packet(&tn, pkt, n), TSE_OK);
    TT_EQ_INT(got.n, 1);
    TT_EQ_INT(tse_lwip_netif_on_packet(&tn, NULL, 1), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_lwip_netif_on_packet(&tn, pkt, 0), TSE_ERR_INVALID_ARG);
}

TT_TEST(remove_takes_it_out_of_lwip)
{
    struct netif *i;
    int found = 0;
    udp_remove(upcb);
    tse_lwip_netif_remove(&tn);
    NETIF_FOREACH(i) {
        if (i == &tn.netif) {
            found = 1;
        }
    }
    TT_ASSERT(!found);
    TT_ASSERT(netif_default == NULL);
    tse_lwip_netif_remove(&tn); /* twice is harmless */
    /* and it can be added again */
    {
        tse_lwip_netif_config c;
        cfg_default(&c);
        c.mtu = 1280;
        TT_EQ_INT(tse_lwip_netif_add(&tn, tunnel, &c), TSE_OK);
        TT_EQ_INT(tn.netif.mtu, 1280);
        tse_lwip_netif_remove(&tn);
    }
}

int main(void)
{
    lwip_init();
    tunnel = make_tunnel();
    if (tunnel == NULL) {
        fprintf(stderr, "tse_tunnel_new failed\n");
        return 1;
    }
    TT_RUN(add_rejects_bad_arguments);
    TT_RUN(added_is_up_link_down_without_address);
    TT_RUN(tunnel_up_sets_addresses_and_link);
    TT_RUN(output_single_pbuf_and_chain);
    TT_RUN(output_errors_map_to_lwip);
    TT_RUN(oversized_chain_is_refused_not_overrun);
    TT_RUN(inbound_udp_reaches_the_pcb);
    TT_RUN(inbound_ping_is_answered_through_the_tunnel);
    TT_RUN(ipv6_output_uses_the_tunnel_address);
    TT_RUN(down_drops_the_link_and_routing);
    TT_RUN(resume_with_a_new_address);
    TT_RUN(inbound_without_pbufs_is_dropped_and_counted);
    TT_RUN(remove_takes_it_out_of_lwip);
    tse_tunnel_del(tunnel);
    return TT_DONE();
}

#endif
