/*
 * tse_netif.c - the lwIP netif whose wire is a libtse tunnel (include/tse/lwip_netif.h).
 *
 * Compiled once per lwIP build it links: with NO_SYS=1 the netif talks to
 * the tunnel directly; with NO_SYS=0 lwIP's side (tcpip thread) and the
 * tunnel's side (driver thread) meet only in the locked pbuf queue and in
 * tcpip_input() / tcpip_api_call().
 */
#include "tse/lwip_netif.h"

#include <string.h>

#include "lwip/ip.h"
#include "lwip/ip_addr.h"
#include "lwip/err.h"
#if !NO_SYS
#include "lwip/tcpip.h"
#include "lwip/priv/tcpip_priv.h"
/* The driver thread frees pbufs lwIP's thread referenced and allocates
 * inbound ones: lwIP's pools and reference counts must be protected. */
#if !SYS_LIGHTWEIGHT_PROT
#error "tse_netif.c with NO_SYS=0 needs SYS_LIGHTWEIGHT_PROT=1"
#endif
#endif

/* ---- outbound: lwIP -> tunnel ------------------------------------------- */

int tse_lwip_netif_err(int tse_err)
{
    switch (tse_err) {
    case TSE_OK: return ERR_OK;
    /* lwIP treats ERR_MEM from a netif as a transient shortage: TCP keeps
     * the segment for retransmission. */
    case TSE_ERR_QUEUE_FULL: return ERR_MEM;
    case TSE_ERR_NOT_UP: return ERR_CONN;
    case TSE_ERR_PACKET_INVALID: return ERR_VAL;
    case TSE_ERR_BUFFER_TOO_SMALL: return ERR_BUF;
    default: return ERR_IF;
    }
}

static void count_tx(tse_lwip_netif_stats *st, int rc, int flattened)
{
    if (rc == TSE_OK) {
        st->tx_packets++;
        st->tx_flattened += flattened ? 1u : 0u;
    } else if (rc == TSE_ERR_QUEUE_FULL) {
        st->tx_queue_full++;
    } else if (rc == TSE_ERR_NOT_UP) {
        st->tx_not_up++;
    } else {
        st->tx_other_err++;
    }
}

/* Hand one packet to the tunnel: a single pbuf as it is, a chain through
 * the flattening buffer.  Runs where the tunnel lives. */
static int deliver(tse_lwip_netif *n, struct pbuf *p, tse_time_ms now,
                   int *flattened)
{
    const uint8_t *data;
    size_t len = p->tot_len;

    *flattened = 0;
    if (p->next == NULL) {
        data = (const uint8_t *)p->payload;
    } else {
        if (len > sizeof(n->flat)) {
            return TSE_ERR_BUFFER_TOO_SMALL;
        }
        if (pbuf_copy_partial(p, n->flat, (u16_t)len, 0) != len) {
            return TSE_ERR_PACKET_INVALID;
        }
        data = n->flat;
        *flattened = 1;
    }
    if (n->cfg.send_packet != NULL) {
        return n->cfg.send_packet(n->cfg.user, n->tunnel, data, len, now);
    }
    return tse_tunnel_send_packet(n->tunnel, data, len, now);
}

#if NO_SYS

static err_t netif_out(struct netif *nif, struct pbuf *p)
{
    tse_lwip_netif *n = (tse_lwip_netif *)nif->state;
    int flattened;
    int rc = deliver(n, p, n->cfg.now_ms(n->cfg.user), &flattened);
    count_tx(&n->stats, rc, flattened);
    return (err_t)tse_lwip_netif_err(rc);
}

int tse_lwip_netif_flush(tse_lwip_netif *n, tse_time_ms now)
{
    (void)now;
    return n == NULL ? TSE_ERR_INVALID_ARG : TSE_OK;
}

unsigned tse_lwip_netif_pending(tse_lwip_netif *n)
{
    (void)n;
    return 0;
}

void tse_lwip_netif_get_stats(tse_lwip_netif *n, tse_lwip_netif_stats *out)
{
    *out = n->stats;
}

#else /* !NO_SYS */

/* In the tcpip thread (or a thread holding the core lock): queue a
 * reference, never touch the tunnel. */
static err_t netif_out(struct netif *nif, struct pbuf *p)
{
    tse_lwip_netif *n = (tse_lwip_netif *)nif->state;
    int full;

    if (!netif_is_link_up(nif)) {
        sys_mutex_lock(&n->lock);
        n->stats.tx_not_up++;
        sys_mutex_unlock(&n->lock);
        return ERR_CONN;
    }
    sys_mutex_lock(&n->lock);
    full = n->txq_count == TSE_LWIP_NETIF_TXQ_LEN;
    if (full) {
        n->stats.tx_queue_full++;
    } else {
        pbuf_ref(p);
        n->txq[(n->txq_head + n->txq_count) % TSE_LWIP_NETIF_TXQ_LEN] = p;
        n->txq_count++;
    }
    sys_mutex_unlock(&n->lock);
    if (full) {
        return ERR_MEM;
    }
    if (n->cfg.notify != NULL) {
        n->cfg.notify(n->cfg.user);
    }
    return ERR_OK;
}

int tse_lwip_netif_flush(tse_lwip_netif *n, tse_time_ms now)
{
    unsigned budget = TSE_LWIP_NETIF_TXQ_LEN * 2; /* bounds the loop */

    if (n == NULL || !n->added) {
        return TSE_ERR_INVALID_ARG;
    }
    while (budget-- > 0) {
        struct pbuf *p;
        int rc, flattened;

        sys_mutex_lock(&n->lock);
        p = n->txq_count > 0 ? n->txq[n->txq_head] : NULL;
        sys_mutex_unlock(&n->lock);
        if (p == NULL) {
            return TSE_OK;
        }
        /* Only this thread removes entries, so p stays at the head. */
        rc = deliver(n, p, now, &flattened);
        if (rc == TSE_ERR_QUEUE_FULL) {
            return rc; /* keep it for the next flush */
        }
        sys_mutex_lock(&n->lock);
        n->txq[n->txq_head] = NULL;
        n->txq_head = (n->txq_head + 1) % TSE_LWIP_NETIF_TXQ_LEN;
        n->txq_count--;
        count_tx(&n->stats, rc, flattened);
        sys_mutex_unlock(&n->lock);
        pbuf_free(p); /* pbuf_free is thread-safe (SYS_ARCH_PROTECT) */
    }
    return TSE_OK;
}

unsigned tse_lwip_netif_pending(tse_lwip_netif *n)
{
    unsigned c;
    if (n == NULL || !n->added) {
        return 0;
    }
    sys_mutex_lock(&n->lock);
    c = n->txq_count;
    sys_mutex_unlock(&n->lock);
    return c;
}

void tse_lwip_netif_get_stats(tse_lwip_netif *n, tse_lwip_netif_stats *out)
{
    if (n->added) {
        sys_mutex_lock(&n->lock);
        *out = n->stats;
        sys_mutex_unlock(&n->lock);
    } else {
        *out = n->stats;
    }
}

#endif /* NO_SYS */

#if LWIP_IPV4
static err_t netif_out4(struct netif *nif, struct pbuf *p,
                        const ip4_addr_t *next_hop)
{
    (void)next_hop; /* point-to-point: no next hop to resolve */
    return netif_out(nif, p);
}
#endif
#if LWIP_IPV6
static err_t netif_out6(struct netif *nif, struct pbuf *p,
                        const ip6_addr_t *next_hop)
{
    (void)next_hop;
    return netif_out(nif, p);
}
#endif

/* ---- inbound: tunnel -> lwIP -------------------------------------------- */

int tse_lwip_netif_on_packet(tse_lwip_netif *n, const uint8_t *pkt,
                             size_t len)
{
    struct pbuf *p;

    if (n == NULL || pkt == NULL || len == 0 || len > 0xffff || !n->added) {
        return TSE_ERR_INVALID_ARG;
    }
    /* From the pool, as a driver's receive path does; except when lwIP's
     * pools are malloc() anyway (MEMP_MEM_MALLOC): then the exact size from
     * the heap.  Debian's liblwip 2.1.3 is built that way and its pool
     * elements are 616 bytes while pbuf_alloc() hands out one pbuf of up to
     * PBUF_POOL_BUFSIZE (1536 by its installed lwipopts.h): an inner packet
     * above ~590 bytes overflowed the heap (valgrind, test_lwip_netconn's
     * 1200-byte echo, TSE_DEPS=system). */
#if MEMP_MEM_MALLOC
    p = pbuf_alloc(PBUF_RAW, (u16_t)len, PBUF_RAM);
#else
    p = pbuf_alloc(PBUF_RAW, (u16_t)len, PBUF_POOL);
#endif
    if (p == NULL) {
        n->stats.rx_no_pbuf++;
        return TSE_ERR_NO_MEMORY;
    }
    if (pbuf_take(p, pkt, (u16_t)len) != ERR_OK) {
        pbuf_free(p);
        n->stats.rx_no_pbuf++;
        return TSE_ERR_NO_MEMORY;
    }
    /* NO_SYS=1: netif_input() runs the stack now.  NO_SYS=0: tcpip_input()
     * posts it to the tcpip thread; on failure the pbuf is still ours. */
    if (n->netif.input(p, &n->netif) != ERR_OK) {
        pbuf_free(p);
        n->stats.rx_input_err++;
        return TSE_ERR_WOULD_BLOCK;
    }
    n->stats.rx_packets++;
    return TSE_OK;
}

/* ---- control: addresses and link ---------------------------------------- */

/* What one control operation does; runs inside lwIP's core. */
typedef struct ctl {
#if !NO_SYS
    struct tcpip_api_call_data call; /* first: tcpip_api_call's handle */
#endif
    tse_lwip_netif *n;
    int op;                          /* CTL_* */
    const tse_tunnel_config *conf;   /* CTL_APPLY */
    err_t result;
} ctl;

enum { CTL_ADD, CTL_REMOVE, CTL_APPLY, CTL_LINK_DOWN };

static err_t netif_init_cb(struct netif *nif)
{
    tse_lwip_netif *n = (tse_lwip_netif *)nif->state;
    nif->name[0] = n->cfg.name[0];
    nif->name[1] = n->cfg.name[1];
    nif->mtu = n->cfg.mtu;
#if LWIP_IPV4
    nif->output = netif_out4;
#endif
#if LWIP_IPV6
    nif->output_ip6 = netif_out6;
#endif
    nif->flags = 0; /* no broadcast, no ARP, no IGMP/MLD: point-to-point */
    return ERR_OK;
}

static void apply_config(tse_lwip_netif *n, const tse_tunnel_config *c)
{
    struct netif *nif = &n->netif;
#if LWIP_IPV4
    ip4_addr_t a, m, gw;
    IP4_ADDR(&a, c->ipv4[0], c->ipv4[1], c->ipv4[2], c->ipv4[3]);
    IP4_ADDR(&m, c->ipv4_mask[0], c->ipv4_mask[1], c->ipv4_mask[2],
             c->ipv4_mask[3]);
    ip4_addr_set_zero(&gw);
    netif_set_addr(nif, &a, &m, &gw);
#endif
#if LWIP_IPV6
    if (c->has_ipv6) {
        ip6_addr_t a6;
        memset(&a6, 0, sizeof(a6));
        memcpy(&a6.addr, c->ipv6, 16); /* network byte order, as lwIP */
        ip6_addr_assign_zone(&a6, IP6_UNICAST, nif);
        netif_ip6_addr_set(nif, 0, &a6);
        /* The TSCF assigned it: no duplicate address detection. */
        netif_ip6_addr_set_state(nif, 0, IP6_ADDR_PREFERRED);
    } else {
        netif_ip6_addr_set_state(nif, 0, IP6_ADDR_INVALID);
    }
#endif
    n->stats.addr_changes++;
}

static void link_up(tse_lwip_netif *n)
{
    netif_set_link_up(&n->netif);
#if LWIP_IPV6 && LWIP_IPV6_SEND_ROUTER_SOLICIT
    n->netif.rs_count = 0; /* no routers behind a tunnel: no solicitations */
#endif
}

static err_t ctl_run(ctl *c)
{
    tse_lwip_netif *n = c->n;
    switch (c->op) {
    case CTL_ADD: {
#if NO_SYS
        netif_input_fn in = netif_input;
#else
        netif_input_fn in = tcpip_input;
#endif
        if (netif_add_noaddr(&n->netif, n, netif_init_cb, in) == NULL) {
            return ERR_IF;
        }
#if LWIP_IPV6 && LWIP_IPV6_AUTOCONFIG
        netif_set_ip6_autoconfig_enabled(&n->netif, 0);
#endif
        netif_set_up(&n->netif);
        if (n->cfg.set_default) {
            netif_set_default(&n->netif);
        }
        return ERR_OK;
    }
    case CTL_REMOVE:
        netif_set_link_down(&n->netif);
        netif_remove(&n->netif);
        return ERR_OK;
    case CTL_APPLY:
        apply_config(n, c->conf);
        link_up(n);
        return ERR_OK;
    case CTL_LINK_DOWN:
        netif_set_link_down(&n->netif);
        return ERR_OK;
    default:
        return ERR_ARG;
    }
}

#if NO_SYS
static err_t ctl_exec(ctl *c)
{
    return ctl_run(c);
}
#else
static err_t ctl_call(struct tcpip_api_call_data *call)
{
    return ctl_run((ctl *)(void *)call);
}
static err_t ctl_exec(ctl *c)
{
    /* With core locking: runs here under the core lock; else in the tcpip
     * thread while this thread waits. */
    return tcpip_api_call(ctl_call, &c->call);
}
#endif

static err_t ctl_do(tse_lwip_netif *n, int op, const tse_tunnel_config *conf)
{
    ctl c;
    memset(&c, 0, sizeof(c));
    c.n = n;
    c.op = op;
    c.conf = conf;
    return ctl_exec(&c);
}

void tse_lwip_netif_config_default(tse_lwip_netif_config *c)
{
    memset(c, 0, sizeof(*c));
    c->mtu = TSE_LWIP_NETIF_MTU_DEFAULT;
    c->name[0] = 't';
    c->name[1] = 's';
}

int tse_lwip_netif_add(tse_lwip_netif *n, tse_tunnel *t,
                       const tse_lwip_netif_config *cfg)
{
    uint16_t mtu;
    if (n == NULL || t == NULL || cfg == NULL || cfg->now_ms == NULL ||
        cfg->name[0] == 0 || cfg->name[1] == 0) {
        return TSE_ERR_INVALID_ARG;
    }
    mtu = cfg->mtu == 0 ? TSE_LWIP_NETIF_MTU_DEFAULT : cfg->mtu;
    if (mtu < 576 || mtu > TSE_LWIP_NETIF_MTU_MAX) {
        return TSE_ERR_INVALID_ARG;
    }
    if (n->added) {
        return TSE_ERR_INVALID_ARG;
    }
    memset(n, 0, sizeof(*n));
    n->tunnel = t;
    n->cfg = *cfg;
    n->cfg.mtu = mtu;
#if !NO_SYS
    if (sys_mutex_new(&n->lock) != ERR_OK) {
        return TSE_ERR_NO_MEMORY;
    }
#endif
    if (ctl_do(n, CTL_ADD, NULL) != ERR_OK) {
#if !NO_SYS
        sys_mutex_free(&n->lock);
#endif
        return TSE_ERR_NO_MEMORY;
    }
    n->added = 1;
    if (tse_tunnel_state(t) == TSE_STATE_UP && tse_tunnel_get_config(t) != NULL) {
        ctl_do(n, CTL_APPLY, tse_tunnel_get_config(t));
    }
    return TSE_OK;
}

void tse_lwip_netif_remove(tse_lwip_netif *n)
{
    if (n == NULL || !n->added) {
        return;
    }
    ctl_do(n, CTL_REMOVE, NULL);
#if !NO_SYS
    /* lwIP no longer calls netif_out: the queue is ours alone. */
    while (n->txq_count > 0) {
        pbuf_free(n->txq[n->txq_head]);
        n->txq[n->txq_head] = NULL;
        n->txq_head = (n->txq_head + 1) % TSE_LWIP_NETIF_TXQ_LEN;
        n->txq_count--;
    }
    sys_mutex_free(&n->lock);
#endif
    n->added = 0;
}

void tse_lwip_netif_on_event(tse_lwip_netif *n, const tse_event *ev)
{
    if (n == NULL || ev == NULL || !n->added) {
        return;
    }
    switch (ev->type) {
    case TSE_EV_TUNNEL_UP:
    case TSE_EV_ADDR_CHANGED:
        if (ev->config != NULL) {
            ctl_do(n, CTL_APPLY, ev->config);
        }
        break;
    case TSE_EV_TUNNEL_DOWN:
        ctl_do(n, CTL_LINK_DOWN, NULL);
        break;
    case TSE_EV_STATE:
        if (ev->state != TSE_STATE_UP) {
            ctl_do(n, CTL_LINK_DOWN, NULL);
        }
        break;
    default:
        break;
    }
}
