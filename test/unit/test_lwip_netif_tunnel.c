/* test_lwip_netif_tunnel.c - lwIP (NO_SYS=1) over a REAL tunnel engine,
 * driven by the in-memory TSCF (support/mem_tscf.h) on a virtual clock:
 * the netif takes its address from the Configuration_Response, lwIP's UDP
 * goes through the engine's TLS to the peer, the peer's echo comes back
 * through on_packet into lwIP; a lost connection drops the link, a resume
 * with another address moves the netif; a full engine queue is ERR_MEM. */
#include "tt.h"

#if defined(TSE_TEST_NO_LWIP_NETIF)

int main(void)
{
    printf("test_lwip_netif_tunnel: no NO_SYS=1 lwIP in this configuration\n");
    (void)tt_failed_checks;
    return TT_DONE();
}

#else

#include "lwip/init.h"
#include "lwip/ip_addr.h"
#include "lwip/netif.h"
#include "lwip/pbuf.h"
#include "lwip/sys.h"
#include "lwip/timeouts.h"
#include "lwip/udp.h"

#include "mem_tscf.h"
#include "tse/lwip_netif.h"
#include "tse/tse.h"

static mt_drv d;
static mt_rec rec;
static mt_alloc alloc;
static mem_tscf *peer;
static tse_tunnel *tunnel;
static tse_lwip_netif tn;
static struct udp_pcb *upcb;

u32_t sys_now(void)
{
    return (u32_t)d.now;
}

static tse_time_ms virtual_now(void *user)
{
    (void)user;
    return d.now;
}

/* The engine's callbacks: recorded by mt_rec, then given to the netif. */
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

static struct {
    char data[1500];
    int n;
    u16_t len;
    ip_addr_t from;
} got;

static void udp_rx(void *arg, struct udp_pcb *pcb, struct pbuf *p,
                   const ip_addr_t *addr, u16_t port)
{
    (void)arg; (void)pcb; (void)port;
    got.len = p->tot_len;
    pbuf_copy_partial(p, got.data, sizeof(got.data), 0);
    ip_addr_copy(got.from, *addr);
    got.n++;
    pbuf_free(p);
}

static err_t send_udp(const char *text, size_t len)
{
    ip_addr_t dst;
    struct pbuf *p;
    err_t e;
    IP_ADDR4(&dst, 198, 18, 0, 1);
    p = pbuf_alloc(PBUF_TRANSPORT, (u16_t)len, PBUF_RAM);
    if (p == NULL) {
        return ERR_MEM;
    }
    memcpy(p->payload, text, len);
    e = udp_sendto(upcb, p, &dst, 7);
    pbuf_free(p);
    return e;
}

static u32_t addr4(void)
{
    return lwip_ntohl(ip4_addr_get_u32(netif_ip4_addr(&tn.netif)));
}

TT_TEST(comes_up_with_the_tscf_address)
{
    tse_lwip_netif_config nc;
    tse_settings s;
    tse_callbacks cb = { on_event, on_packet, entropy, NULL };
    mt_cfg cfg;

    mt_cfg_default(&cfg);
    cfg.echo = 1;
    cfg.ipv4[0] = 10; cfg.ipv4[1] = 20; cfg.ipv4[2] = 30; cfg.ipv4[3] = 40;
    cfg.resume_ipv4[0] = 10; cfg.resume_ipv4[1] = 20; cfg.resume_ipv4[2] = 30;
    cfg.resume_ipv4[3] = 41;
    peer = mem_tscf_new(&cfg);
    TT_ASSERT(peer != NULL);
    mt_rec_init(&rec);
    mt_settings_default(&s);
    TT_EQ_INT(tse_tunnel_new(&tunnel, &s, &cb, mt_mem(&alloc), &rec), TSE_OK);
    mt_drv_init(&d, tunnel, peer, &rec, 1000);

    tse_lwip_netif_config_default(&nc);
    nc.now_ms = virtual_now;
    nc.set_default = 1;
    TT_EQ_INT(tse_lwip_netif_add(&tn, tunnel, &nc), TSE_OK);
    TT_ASSERT(!netif_is_link_up(&tn.netif));

    TT_EQ_INT(tse_tunnel_start(tunnel, d.now), TSE_OK);
    TT_ASSERT(mt_run_until_state(&d, TSE_STATE_UP, 30000));
    TT_ASSERT(netif_is_link_up(&tn.netif));
    TT_EQ_INT(addr4(), 0x0a141e28UL);

    upcb = udp_new();
    TT_ASSERT(upcb != NULL);
    TT_EQ_INT(udp_bind(upcb, IP_ADDR_ANY, 7), ERR_OK);
    udp_recv(upcb, udp_rx, NULL);
}

/* The peer echoes with source and destination swapped; sending from port
 * 7 to port 7 makes the echo land on the same PCB. */
TT_TEST(udp_round_trip_through_the_engine)
{
    const mt_seen *seen = mem_tscf_seen(peer);
    uint64_t before = seen->pkts_total;
    tse_stats st;
    got.n = 0;
    TT_EQ_INT(send_udp("through TLS and back", 20), ERR_OK);
    mt_pump(&d);
    TT_EQ_INT(seen->pkts_total, before + 1);
    TT_EQ_INT(seen->pkts[seen->n_pkts - 1].len, 20 + 8 + 20);
    TT_EQ_MEM(seen->pkts[seen->n_pkts - 1].data + 12, "\x0a\x14\x1e\x28", 4);
    TT_EQ_INT(got.n, 1);
    TT_EQ_INT(got.len, 20);
    TT_EQ_MEM(got.data, "through TLS and back", 20);
    TT_EQ_INT(ip4_addr_get_u32(ip_2_ip4(&got.from)), PP_HTONL(0xc6120001UL));
    tse_tunnel_get_stats(tunnel, &st);
    TT_EQ_INT(st.packets_out, 1);
    TT_EQ_INT(st.packets_in, 1);
}

TT_TEST(full_engine_queue_is_err_mem_then_drains)
{
    static char big[1300];
    tse_lwip_netif_stats st;
    tse_stats es;
    int i, sent = 0, refused = 0;
    memset(big, 'q', sizeof(big));
    /* no pumping: the engine's real-time queue (4 KiB: these are UDP)
     * fills up, after the first records went into its ciphertext buffer */
    for (i = 0; i < 40 && refused == 0; i++) {
        err_t e = send_udp(big, sizeof(big));
        if (e == ERR_OK) {
            sent++;
        } else {
            TT_EQ_INT(e, ERR_MEM);
            refused++;
        }
    }
    TT_EQ_INT(refused, 1);
    TT_ASSERT(sent >= 3 && sent < 40);
    tse_lwip_netif_get_stats(&tn, &st);
    TT_EQ_INT(st.tx_queue_full, 1);
    tse_tunnel_get_stats(tunnel, &es);
    TT_EQ_INT(es.queue_full_drops, 1);
    got.n = 0;
    mt_pump(&d);
    TT_EQ_INT(got.n, sent);   /* all queued ones went round */
    TT_EQ_INT(send_udp(big, sizeof(big)), ERR_OK); /* room again */
    mt_pump(&d);
    TT_EQ_INT(got.n, sent + 1);
}

TT_TEST(lost_connection_then_resume_with_a_new_address)
{
    size_t changed = mt_rec_count(&rec, TSE_EV_ADDR_CHANGED);
    mem_tscf_cfg(peer)->resume_new_addr = 1;
    mt_cut(&d);
    TT_ASSERT(tse_tunnel_state(tunnel) != TSE_STATE_UP);
    TT_ASSERT(!netif_is_link_up(&tn.netif));
    TT_ASSERT(send_udp("lost", 4) != ERR_OK);
    TT_ASSERT(mt_run_until_event(&d, TSE_EV_ADDR_CHANGED, changed + 1, 120000));
    TT_EQ_INT(tse_tunnel_state(tunnel), TSE_STATE_UP);
    TT_ASSERT(netif_is_link_up(&tn.netif));
    TT_EQ_INT(addr4(), 0x0a141e29UL);
    got.n = 0;
    TT_EQ_INT(send_udp("new address", 11), ERR_OK);
    mt_pump(&d);
    TT_EQ_INT(got.n, 1);
    {
        const mt_seen *seen = mem_tscf_seen(peer);
        TT_EQ_MEM(seen->pkts[seen->n_pkts - 1].data + 12, "\x0a\x14\x1e\x29", 4);
    }
}

TT_TEST(close_takes_the_link_down)
{
    TT_EQ_INT(tse_tunnel_close(tunnel, d.now), TSE_OK);
    TT_ASSERT(mt_run_until_state(&d, TSE_STATE_CLOSED, 30000));
    TT_ASSERT(!netif_is_link_up(&tn.netif));
    TT_ASSERT(send_udp("closed", 6) != ERR_OK);
}

int main(void)
{
    lwip_init();
    TT_RUN(comes_up_with_the_tscf_address);
    if (tunnel != NULL && peer != NULL && upcb != NULL) {
        TT_RUN(udp_round_trip_through_the_engine);
        TT_RUN(full_engine_queue_is_err_mem_then_drains);
        TT_RUN(lost_connection_then_resume_with_a_new_address);
        TT_RUN(close_takes_the_link_down);
    }
    if (upcb != NULL) {
        udp_remove(upcb);
    }
    tse_lwip_netif_remove(&tn);
    tse_tunnel_del(tunnel);
    mem_tscf_free(peer);
    if (alloc.live != 0) {
        fprintf(stderr, "leak: %ld live allocations\n", alloc.live);
        return 1;
    }
    return TT_DONE();
}

#endif
