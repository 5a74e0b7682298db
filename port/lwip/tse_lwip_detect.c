/*
 * tse_lwip_detect.c - the detector's orders carried out over lwIP's raw API
 * (NO_SYS=1): UDP probes on udp_pcbs, SIP over TCP through the port's
 * transport table, tunnel probes handed to the application
 * (tse/lwip_detect.h).  The model is port/posix/detect_posix.c.
 *
 * A UDP probe to a name asks lwIP's DNS (LWIP_DNS) without blocking; the
 * PCB opens and the datagram leaves when the answer comes.  lwIP has no way
 * to cancel a query, so its callback never gets a pointer to the runner:
 * it gets a token, looked up among the runners that still wait for one
 * (a runner closed or deinitialised meanwhile is no longer there).
 */
#include <string.h>

#include "lwip/opt.h"
#include "lwip/dns.h"
#include "lwip/ip.h"
#include "lwip/ip_addr.h"
#include "lwip/netif.h"
#include "lwip/pbuf.h"
#include "lwip/udp.h"

#include "tse/error.h"
#include "tse/lwip_detect.h"

#define UDP_RX_MAX 1500

#if LWIP_DNS
static void dns_forget(tse_lwip_detect *ld, int i);
#endif

static tse_time_ms now_of(tse_lwip_detect *ld)
{
    return tse_lwip_now(ld->cfg.port);
}

static void det_event(void *user, const tse_detect_event *ev)
{
    tse_lwip_detect *ld = (tse_lwip_detect *)user;
    ld->cfg.on_event(ld->cfg.user, ev);
}

static int det_entropy(void *user, uint8_t *buf, size_t len)
{
    tse_lwip_detect *ld = (tse_lwip_detect *)user;
    const tse_port *t = tse_lwip_port_table(ld->cfg.port);
    return t->entropy(t->user, buf, len);
}

static void probe_close(tse_lwip_detect *ld, int i)
{
    const tse_port *t = tse_lwip_port_table(ld->cfg.port);
    if (ld->udp[i] != NULL) {
        udp_remove(ld->udp[i]);
        ld->udp[i] = NULL;
    }
#if LWIP_DNS
    if (ld->dns_token[i] != 0) {
        dns_forget(ld, i); /* a late answer finds no one */
    }
#endif
    if (ld->tcp != NULL && ld->tcp_probe == i) {
        t->close(t->user, ld->tcp);
        ld->tcp = NULL;
        ld->tcp_connected = 0;
        ld->out_len = ld->out_off = 0;
    }
    if ((i == TSE_PROBE_TUNNEL_1 || i == TSE_PROBE_TUNNEL_2) && ld->cfg.tunnel_close != NULL) {
        ld->cfg.tunnel_close(ld->cfg.user, (tse_probe_id)i);
    }
}

static void probe_fail(tse_lwip_detect *ld, int i, int err)
{
    probe_close(ld, i);
    (void)tse_detect_probe_failed(&ld->det, (tse_probe_id)i, err, 0, now_of(ld));
}

/* lwIP's input: a datagram on a probe's PCB, to the detector. */
static void on_udp(void *arg, struct udp_pcb *pcb, struct pbuf *p, const ip_addr_t *addr, u16_t port)
{
    tse_lwip_detect *ld = (tse_lwip_detect *)arg;
    uint8_t buf[UDP_RX_MAX];
    int i;
    (void)addr; (void)port;
    for (i = 0; i < TSE_PROBE_COUNT; i++) {
        if (ld->udp[i] == pcb) {
            u16_t n = pbuf_copy_partial(p, buf, sizeof(buf), 0);
            ld->udp_recv++;
            (void)tse_detect_udp_recv(&ld->det, (tse_probe_id)i, buf, n, &ld->local[i],
                                      now_of(ld));
            break;
        }
    }
    pbuf_free(p);
}

/* The probe's PCB, connected to dst:port and bound to the uplink; its
 * local address is the one its datagrams leave from (the STUN NAT check). */
static int udp_open_addr(tse_lwip_detect *ld, int i, const ip_addr_t *dst, uint16_t port)
{
    struct netif *uplink = ld->cfg.port->cfg.uplink, *out;
    struct udp_pcb *pcb;
    pcb = udp_new_ip_type(IP_GET_TYPE(dst));
    if (pcb == NULL) {
        return TSE_ERR_NO_MEMORY;
    }
    if (uplink != NULL) {
        udp_bind_netif(pcb, uplink); /* not into a default tunnel netif */
    }
    if (udp_bind(pcb, IP_ANY_TYPE, 0) != ERR_OK || udp_connect(pcb, dst, port) != ERR_OK) {
        udp_remove(pcb);
        return TSE_ERR_TRANSPORT_IO;
    }
    out = uplink != NULL ? uplink : ip_route(IP_ANY_TYPE, dst);
    memset(&ld->local[i], 0, sizeof(ld->local[i]));
    if (out != NULL && IP_IS_V4(dst)) {
        ld->local[i].family = 4;
        memcpy(ld->local[i].addr, &ip_2_ip4(netif_ip_addr4(out))->addr, 4);
    }
    ld->local[i].port = pcb->local_port;
    udp_recv(pcb, on_udp, ld);
    ld->udp[i] = pcb;
    return TSE_OK;
}

static void udp_send_data(tse_lwip_detect *ld, int i, const uint8_t *data, size_t len)
{
    struct pbuf *p = pbuf_alloc(PBUF_TRANSPORT, (u16_t)len, PBUF_RAM);
    if (p == NULL) {
        return; /* a lost datagram: the detector retransmits */
    }
    pbuf_take(p, data, (u16_t)len);
    if (udp_send(ld->udp[i], p) == ERR_OK) {
        ld->udp_sent++;
    }
    pbuf_free(p);
}

#if LWIP_DNS
static tse_lwip_detect *dns_waiting; /* runners with a query in flight */
static uint32_t dns_last_token;

static void dns_unlink(tse_lwip_detect *ld)
{
    tse_lwip_detect **pp;
    for (pp = &dns_waiting; *pp != NULL; pp = &(*pp)->dns_next) {
        if (*pp == ld) {
            *pp = ld->dns_next;
            break;
        }
    }
    ld->dns_next = NULL;
}

static void dns_forget(tse_lwip_detect *ld, int i)
{
    int k;
    ld->dns_token[i] = 0;
    for (k = 0; k < TSE_PROBE_COUNT; k++) {
        if (ld->dns_token[k] != 0) {
            return;
        }
    }
    dns_unlink(ld);
}

static void on_dns(const char *name, const ip_addr_t *addr, void *arg)
{
    uint32_t token = (uint32_t)(uintptr_t)arg;
    tse_lwip_detect *ld;
    int i, rc;
    (void)name;
    for (ld = dns_waiting; ld != NULL; ld = ld->dns_next) {
        for (i = 0; i < TSE_PROBE_COUNT; i++) {
            if (ld->dns_token[i] == token) {
                break;
            }
        }
        if (i < TSE_PROBE_COUNT) {
            break;
        }
    }
    if (ld == NULL) {
        return; /* the probe closed while its name was being resolved */
    }
    dns_forget(ld, i);
    if (addr == NULL) {
        ld->resolve_fail++;
        probe_fail(ld, i, TSE_ERR_TRANSPORT_RESOLVE);
        return;
    }
    ld->resolved++;
    rc = udp_open_addr(ld, i, addr, ld->dns_port[i]);
    if (rc != TSE_OK) {
        probe_fail(ld, i, rc);
        return;
    }
    udp_send_data(ld, i, ld->dns_data[i], ld->dns_len[i]);
}
#endif

/* Open probe i's PCB to host (a literal, or a name for lwIP's DNS: then
 * TSE_ERR_WOULD_BLOCK, and on_dns() opens it and sends data). */
static int udp_open(tse_lwip_detect *ld, int i, const tse_detect_action *a)
{
    ip_addr_t dst;
    if (a->host == NULL || a->host[0] == '\0') {
        return TSE_ERR_TRANSPORT_RESOLVE;
    }
    if (ipaddr_aton(a->host, &dst)) {
        return udp_open_addr(ld, i, &dst, a->port);
    }
#if LWIP_DNS
    {
        err_t e;
        uint32_t token = ++dns_last_token;
        if (token == 0) {
            token = ++dns_last_token; /* 0 means "none" */
        }
        e = dns_gethostbyname_addrtype(a->host, &dst, on_dns, (void *)(uintptr_t)token,
                                       ld->cfg.port->cfg.ip_type == IPADDR_TYPE_V4
                                           ? LWIP_DNS_ADDRTYPE_IPV4
                                           : LWIP_DNS_ADDRTYPE_DEFAULT);
        if (e == ERR_OK) { /* in lwIP's cache */
            ld->resolved++;
            return udp_open_addr(ld, i, &dst, a->port);
        }
        if (e != ERR_INPROGRESS) {
            ld->resolve_fail++;
            return TSE_ERR_TRANSPORT_RESOLVE;
        }
        dns_unlink(ld); /* once in the list, whatever else it waits for */
        ld->dns_next = dns_waiting;
        dns_waiting = ld;
        ld->dns_token[i] = token;
        ld->dns_port[i] = a->port;
        return TSE_ERR_WOULD_BLOCK;
    }
#else
    return TSE_ERR_TRANSPORT_RESOLVE; /* no LWIP_DNS: literal addresses only */
#endif
}

static void tcp_flush(tse_lwip_detect *ld)
{
    const tse_port *t = tse_lwip_port_table(ld->cfg.port);
    while (ld->tcp != NULL && ld->tcp_connected && ld->out_off < ld->out_len) {
        int32_t n = t->send(t->user, ld->tcp, ld->out + ld->out_off, ld->out_len - ld->out_off);
        if (n == 0) {
            return;
        }
        if (n < 0) {
            probe_fail(ld, ld->tcp_probe, n);
            return;
        }
        ld->out_off += (size_t)n;
    }
}

static void do_actions(tse_lwip_detect *ld)
{
    const tse_port *t = tse_lwip_port_table(ld->cfg.port);
    tse_detect_action a;
    unsigned guard = 0;
    while (guard++ < 64 && tse_detect_next_action(&ld->det, &a)) {
        int i = (int)a.probe, rc;
        switch (a.type) {
        case TSE_DETECT_ACT_UDP_SEND:
            if (ld->udp[i] == NULL) {
                rc = ld->dns_token[i] != 0 ? TSE_ERR_WOULD_BLOCK : udp_open(ld, i, &a);
                if (rc == TSE_ERR_WOULD_BLOCK) {
                    /* sent once resolved; a.data is the probe's request in
                     * the detector, kept until the probe ends (and with it
                     * the lookup, probe_close()) */
                    ld->dns_data[i] = a.data;
                    ld->dns_len[i] = a.len;
                    break;
                }
                if (rc != TSE_OK) {
                    probe_fail(ld, i, rc);
                    break;
                }
            }
            udp_send_data(ld, i, a.data, a.len);
            break;
        case TSE_DETECT_ACT_TCP_CONNECT:
            probe_close(ld, i);
            if (ld->tcp != NULL) {
                probe_fail(ld, i, TSE_ERR_STATE); /* one TCP probe at a time */
                break;
            }
            rc = a.host != NULL ? t->connect_start(t->user, a.host, a.port, &ld->tcp)
                                : TSE_ERR_INVALID_ARG;
            if (rc != TSE_OK) {
                ld->tcp = NULL;
                probe_fail(ld, i, rc);
                break;
            }
            ld->tcp_probe = i;
            ld->tcp_connected = 0;
            break;
        case TSE_DETECT_ACT_TCP_SEND:
            if (ld->tcp == NULL || ld->tcp_probe != i || a.len > sizeof(ld->out)) {
                probe_fail(ld, i, ld->tcp == NULL ? TSE_ERR_STATE : TSE_ERR_BUFFER_TOO_SMALL);
                break;
            }
            memcpy(ld->out, a.data, a.len);
            ld->out_len = a.len;
            ld->out_off = 0;
            tcp_flush(ld);
            break;
        case TSE_DETECT_ACT_TUNNEL_START:
            rc = ld->cfg.tunnel_start != NULL ? ld->cfg.tunnel_start(ld->cfg.user, a.probe, &a)
                                              : TSE_ERR_DETECT_NOT_CONFIGURED;
            if (rc != TSE_OK) {
                (void)tse_detect_probe_failed(&ld->det, a.probe, rc, 0, now_of(ld));
            }
            break;
        case TSE_DETECT_ACT_REUSE_START:
            /* no TLS stream over lwIP yet: the 8.3 probes fail at once
             * (the decision then does not wait for them) */
            (void)tse_detect_probe_failed(&ld->det, a.probe, TSE_ERR_DETECT_NOT_CONFIGURED, 0,
                                          now_of(ld));
            break;
        case TSE_DETECT_ACT_CLOSE:
            probe_close(ld, i);
            break;
        default:
            break;
        }
    }
}

/* The SIP-over-TCP probe's connection: connected?  bytes? */
static void tcp_progress(tse_lwip_detect *ld)
{
    const tse_port *t = tse_lwip_port_table(ld->cfg.port);
    uint8_t buf[512];
    int k;
    if (ld->tcp == NULL) {
        return;
    }
    if (!ld->tcp_connected) {
        int rc = t->connect_poll(t->user, ld->tcp);
        if (rc == TSE_ERR_WOULD_BLOCK) {
            return;
        }
        if (rc != TSE_OK) {
            probe_fail(ld, ld->tcp_probe, rc);
            return;
        }
        ld->tcp_connected = 1;
        (void)tse_detect_tcp_connected(&ld->det, (tse_probe_id)ld->tcp_probe, now_of(ld));
        do_actions(ld); /* the request */
    }
    tcp_flush(ld);
    for (k = 0; k < 16 && ld->tcp != NULL; k++) {
        int32_t n = t->recv(t->user, ld->tcp, buf, sizeof(buf));
        if (n == 0) {
            break;
        }
        if (n < 0) {
            probe_fail(ld, ld->tcp_probe, n);
            break;
        }
        (void)tse_detect_tcp_recv(&ld->det, (tse_probe_id)ld->tcp_probe, buf, (size_t)n,
                                  now_of(ld));
        do_actions(ld); /* a CLOSE once decided */
    }
}

int tse_lwip_detect_init(tse_lwip_detect *ld, const tse_detect_settings *s,
                         const tse_lwip_detect_config *cfg)
{
    tse_detect_callbacks cb;
    if (ld == NULL || s == NULL || cfg == NULL || cfg->port == NULL || cfg->on_event == NULL) {
        return TSE_ERR_INVALID_ARG;
    }
#if LWIP_DNS
    dns_unlink(ld); /* initialised again without tse_lwip_detect_deinit() */
#endif
    memset(ld, 0, sizeof(*ld));
    ld->cfg = *cfg;
    memset(&cb, 0, sizeof(cb));
    cb.on_event = det_event;
    cb.entropy = det_entropy;
    cb.user = ld;
    return tse_detect_init(&ld->det, s, &cb);
}

int tse_lwip_detect_start(tse_lwip_detect *ld)
{
    int rc;
    if (ld == NULL) {
        return TSE_ERR_INVALID_ARG;
    }
    rc = tse_detect_start(&ld->det, now_of(ld));
    if (rc == TSE_OK) {
        do_actions(ld);
    }
    return rc;
}

int tse_lwip_detect_poll(tse_lwip_detect *ld)
{
    if (ld == NULL) {
        return TSE_ERR_INVALID_ARG;
    }
    do_actions(ld);
    tcp_progress(ld);
    if (!tse_detect_done(&ld->det) && tse_detect_expiry(&ld->det) <= now_of(ld)) {
        (void)tse_detect_handle_expiry(&ld->det, now_of(ld));
    }
    do_actions(ld);
    return TSE_OK;
}

tse_time_ms tse_lwip_detect_next(const tse_lwip_detect *ld)
{
    return ld != NULL ? tse_detect_expiry(&ld->det) : TSE_TIME_NEVER;
}

int tse_lwip_detect_done(const tse_lwip_detect *ld)
{
    return ld != NULL && tse_detect_done(&ld->det);
}

const tse_detect_result *tse_lwip_detect_result(const tse_lwip_detect *ld)
{
    return ld != NULL ? tse_detect_get_result(&ld->det) : NULL;
}

int tse_lwip_detect_tunnel_up(tse_lwip_detect *ld, tse_probe_id probe)
{
    int rc;
    if (ld == NULL) {
        return TSE_ERR_INVALID_ARG;
    }
    rc = tse_detect_tunnel_up(&ld->det, probe, now_of(ld));
    do_actions(ld);
    return rc;
}

int tse_lwip_detect_tunnel_failed(tse_lwip_detect *ld, tse_probe_id probe, int err, int status)
{
    int rc;
    if (ld == NULL) {
        return TSE_ERR_INVALID_ARG;
    }
    rc = tse_detect_probe_failed(&ld->det, probe, err, status, now_of(ld));
    do_actions(ld);
    return rc;
}

void tse_lwip_detect_deinit(tse_lwip_detect *ld)
{
    int i;
    if (ld == NULL) {
        return;
    }
    for (i = 0; i < TSE_PROBE_COUNT; i++) {
        probe_close(ld, i);
    }
}
