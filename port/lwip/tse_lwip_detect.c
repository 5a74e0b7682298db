/*
 * tse_lwip_detect.c - the detector's orders carried out over lwIP's raw API
 * (NO_SYS=1): UDP probes on udp_pcbs, SIP over TCP through the port's
 * transport table, tunnel probes handed to the application
 * (tse/lwip_detect.h).  The model is port/posix/detect_posix.c.
 */
#include <string.h>

#include "lwip/opt.h"
#include "lwip/ip.h"
#include "lwip/ip_addr.h"
#include "lwip/netif.h"
#include "lwip/pbuf.h"
#include "lwip/udp.h"

#include "tse/error.h"
#include "tse/lwip_detect.h"

#define UDP_RX_MAX 1500

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

/* The probe's PCB, connected to host:port and bound to the uplink; its
 * local address is the one its datagrams leave from (the STUN NAT check). */
static int udp_open(tse_lwip_detect *ld, int i, const char *host, uint16_t port)
{
    struct netif *uplink = ld->cfg.port->cfg.uplink, *out;
    ip_addr_t dst;
    struct udp_pcb *pcb;
    if (host == NULL || !ipaddr_aton(host, &dst)) {
        return TSE_ERR_TRANSPORT_RESOLVE; /* literal addresses only */
    }
    pcb = udp_new_ip_type(IP_GET_TYPE(&dst));
    if (pcb == NULL) {
        return TSE_ERR_NO_MEMORY;
    }
    if (uplink != NULL) {
        udp_bind_netif(pcb, uplink); /* not into a default tunnel netif */
    }
    if (udp_bind(pcb, IP_ANY_TYPE, 0) != ERR_OK || udp_connect(pcb, &dst, port) != ERR_OK) {
        udp_remove(pcb);
        return TSE_ERR_TRANSPORT_IO;
    }
    out = uplink != NULL ? uplink : ip_route(IP_ANY_TYPE, &dst);
    memset(&ld->local[i], 0, sizeof(ld->local[i]));
    if (out != NULL && IP_IS_V4(&dst)) {
        ld->local[i].family = 4;
        memcpy(ld->local[i].addr, &ip_2_ip4(netif_ip_addr4(out))->addr, 4);
    }
    ld->local[i].port = pcb->local_port;
    udp_recv(pcb, on_udp, ld);
    ld->udp[i] = pcb;
    return TSE_OK;
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
        struct pbuf *p;
        switch (a.type) {
        case TSE_DETECT_ACT_UDP_SEND:
            if (ld->udp[i] == NULL && (rc = udp_open(ld, i, a.host, a.port)) != TSE_OK) {
                probe_fail(ld, i, rc);
                break;
            }
            p = pbuf_alloc(PBUF_TRANSPORT, (u16_t)a.len, PBUF_RAM);
            if (p == NULL) {
                break; /* a lost datagram: the detector retransmits */
            }
            pbuf_take(p, a.data, (u16_t)a.len);
            if (udp_send(ld->udp[i], p) == ERR_OK) {
                ld->udp_sent++;
            }
            pbuf_free(p);
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
