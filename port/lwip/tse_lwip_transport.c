/*
 * tse_lwip_transport.c - the outer connection of a tunnel over lwIP's raw
 * TCP API (NO_SYS=1), and a driver for one main loop (tse/lwip_port.h).
 *
 * lwIP's callbacks (connected, recv, err) only record: a received pbuf is
 * chained onto the connection, an error is noted.  The engine is called
 * from tse_lwip_driver_poll() only, never from inside lwIP's input
 * processing: the engine's on_packet feeds the tunnel netif, i.e. lwIP's
 * input again, and tcp_input() is not re-entrant.
 *
 * Flow control: received bytes are acknowledged to TCP (tcp_recved(), which
 * opens the window) only when the engine has taken them.
 */
#include <string.h>

#include "lwip/opt.h"
#include "lwip/def.h"
#include "lwip/dns.h"
#include "lwip/ip_addr.h"
#include "lwip/pbuf.h"
#include "lwip/sys.h"
#include "lwip/tcp.h"

#include "lwip_keepalive.h"
#include "tse/error.h"
#include "tse/lwip_port.h"

/* ---- lwIP callbacks: record only -------------------------------------------- */

static void conn_detach(tse_lwip_conn *c)
{
    if (c->pcb != NULL) {
        tcp_arg(c->pcb, NULL);
        tcp_recv(c->pcb, NULL);
        tcp_sent(c->pcb, NULL);
        tcp_err(c->pcb, NULL);
        tcp_poll(c->pcb, NULL, 0);
    }
}

static void conn_fail(tse_lwip_conn *c, int err)
{
    if (c->state != TSE_LWIP_CONN_FAILED) {
        c->state = TSE_LWIP_CONN_FAILED;
        c->err = err;
    }
}

/* The PCB is already freed by lwIP when this runs. */
static void on_err(void *arg, err_t err)
{
    tse_lwip_conn *c = (tse_lwip_conn *)arg;
    if (c == NULL) {
        return;
    }
    c->pcb = NULL;
    if (c->state == TSE_LWIP_CONN_CONNECTING) {
        c->port->stats.refused++;
        conn_fail(c, TSE_ERR_TRANSPORT_REFUSED);
    } else {
        c->port->stats.resets++;
        /* ERR_ABRT on a connection we did not abort: lwIP gave up on the
         * path (keep-alive probes or retransmissions unanswered,
         * tcp_slowtmr); its PCB has the top priority, so it is not one
         * lwIP kills to free memory (lwip_keepalive.h) */
        conn_fail(c, err == ERR_RST    ? TSE_ERR_TRANSPORT_RESET
                     : err == ERR_ABRT ? TSE_ERR_TRANSPORT_TIMEOUT
                                       : TSE_ERR_TRANSPORT_IO);
    }
}

static err_t on_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
    tse_lwip_conn *c = (tse_lwip_conn *)arg;
    (void)pcb;
    if (c == NULL) {
        if (p != NULL) {
            pbuf_free(p);
        }
        return ERR_OK;
    }
    if (p == NULL) {
        c->eof = 1; /* FIN: reported once the queued bytes are read */
        return ERR_OK;
    }
    if (err != ERR_OK) {
        pbuf_free(p);
        return ERR_OK;
    }
    if (c->rx == NULL) {
        c->rx = p;
        c->rx_off = 0;
    } else {
        pbuf_cat(c->rx, p);
    }
    c->port->stats.bytes_in += p->tot_len;
    return ERR_OK;
}

static err_t on_connected(void *arg, struct tcp_pcb *pcb, err_t err)
{
    tse_lwip_conn *c = (tse_lwip_conn *)arg;
    (void)pcb;
    if (c != NULL && c->state == TSE_LWIP_CONN_CONNECTING) {
        if (err == ERR_OK) {
            c->state = TSE_LWIP_CONN_UP;
        } else {
            conn_fail(c, TSE_ERR_TRANSPORT_REFUSED);
        }
    }
    return ERR_OK;
}

/* Open the PCB to an address (resolved or literal). */
static void conn_connect(tse_lwip_conn *c, const ip_addr_t *addr)
{
    tse_lwip_port *p = c->port;
    err_t e;
    c->pcb = tcp_new_ip_type(IP_GET_TYPE(addr));
    if (c->pcb == NULL) {
        conn_fail(c, TSE_ERR_TRANSPORT_IO);
        return;
    }
    if (p->cfg.uplink != NULL) {
        /* out of the uplink, never into the tunnel (see lwip_port.h) */
        tcp_bind_netif(c->pcb, p->cfg.uplink);
    }
    tcp_arg(c->pcb, c);
    tcp_err(c->pcb, on_err);
    tcp_recv(c->pcb, on_recv);
    tcp_nagle_disable(c->pcb); /* the engine writes whole records */
    tse_lwip_tcp_keepalive(c->pcb);
    c->state = TSE_LWIP_CONN_CONNECTING;
    e = tcp_connect(c->pcb, addr, c->remote_port, on_connected);
    if (e != ERR_OK) {
        conn_detach(c);
        tcp_abort(c->pcb);
        c->pcb = NULL;
        conn_fail(c, e == ERR_RTE ? TSE_ERR_TRANSPORT_REFUSED : TSE_ERR_TRANSPORT_IO);
    }
}

static void conn_free(tse_lwip_conn *c)
{
    if (c->rx != NULL) {
        pbuf_free(c->rx);
    }
    memset(c, 0, sizeof(*c));
}

#if LWIP_DNS
static void on_dns(const char *name, const ip_addr_t *addr, void *arg)
{
    tse_lwip_conn *c = (tse_lwip_conn *)arg;
    (void)name;
    if (c->state == TSE_LWIP_CONN_ORPHAN) {
        conn_free(c); /* closed while resolving */
        return;
    }
    if (c->state != TSE_LWIP_CONN_RESOLVING) {
        return;
    }
    if (addr == NULL) {
        c->port->stats.resolve_fail++;
        conn_fail(c, TSE_ERR_TRANSPORT_RESOLVE);
        return;
    }
    c->port->stats.resolved++;
    conn_connect(c, addr);
}
#endif

/* ---- the table -------------------------------------------------------------- */

static int t_connect_start(void *user, const char *host, uint16_t port, tse_port_conn **out)
{
    tse_lwip_port *p = (tse_lwip_port *)user;
    tse_lwip_conn *c = NULL;
    ip_addr_t addr;
    size_t i, n;

    if (p == NULL || host == NULL || out == NULL || port == 0) {
        return TSE_ERR_INVALID_ARG;
    }
    n = strlen(host);
    if (n == 0 || n > TSE_LWIP_PORT_HOST_MAX) {
        return TSE_ERR_TRANSPORT_RESOLVE;
    }
    for (i = 0; i < TSE_LWIP_PORT_CONNS; i++) {
        if (p->conns[i].state == TSE_LWIP_CONN_FREE) {
            c = &p->conns[i];
            break;
        }
    }
    if (c == NULL) {
        return TSE_ERR_NO_MEMORY;
    }
    memset(c, 0, sizeof(*c));
    c->port = p;
    c->remote_port = port;
    memcpy(c->host, host, n + 1);
    p->stats.connects++;

    if (ipaddr_aton(host, &addr)) {
#if LWIP_IPV4 && LWIP_IPV6
        if (p->cfg.ip_type == IPADDR_TYPE_V4 && !IP_IS_V4(&addr)) {
            memset(c, 0, sizeof(*c));
            return TSE_ERR_TRANSPORT_RESOLVE;
        }
#endif
        conn_connect(c, &addr);
    } else {
#if LWIP_DNS
        err_t e;
        c->state = TSE_LWIP_CONN_RESOLVING;
        e = dns_gethostbyname_addrtype(c->host, &addr, on_dns, c,
                                       p->cfg.ip_type == IPADDR_TYPE_V4
                                           ? LWIP_DNS_ADDRTYPE_IPV4
                                           : LWIP_DNS_ADDRTYPE_DEFAULT);
        if (e == ERR_OK) { /* cached, or a literal dns_ understood */
            p->stats.resolved++;
            conn_connect(c, &addr);
        } else if (e != ERR_INPROGRESS) {
            p->stats.resolve_fail++;
            memset(c, 0, sizeof(*c));
            return TSE_ERR_TRANSPORT_RESOLVE;
        }
#else
        memset(c, 0, sizeof(*c));
        return TSE_ERR_TRANSPORT_RESOLVE; /* no DNS: literal addresses only */
#endif
    }
    if (c->state == TSE_LWIP_CONN_FAILED && c->pcb == NULL && c->err == TSE_ERR_TRANSPORT_IO) {
        memset(c, 0, sizeof(*c));
        return TSE_ERR_NO_MEMORY; /* no PCB */
    }
    *out = (tse_port_conn *)c;
    return TSE_OK;
}

static int t_connect_poll(void *user, tse_port_conn *pc)
{
    tse_lwip_conn *c = (tse_lwip_conn *)pc;
    (void)user;
    if (c == NULL) {
        return TSE_ERR_INVALID_ARG;
    }
    switch (c->state) {
    case TSE_LWIP_CONN_UP:
        return TSE_OK;
    case TSE_LWIP_CONN_FAILED:
        return c->err;
    case TSE_LWIP_CONN_RESOLVING:
    case TSE_LWIP_CONN_CONNECTING:
        return TSE_ERR_WOULD_BLOCK;
    default:
        return TSE_ERR_INVALID_ARG;
    }
}

static int32_t t_send(void *user, tse_port_conn *pc, const uint8_t *buf, size_t len)
{
    tse_lwip_conn *c = (tse_lwip_conn *)pc;
    u16_t room;
    err_t e;
    (void)user;
    if (c == NULL || (buf == NULL && len > 0)) {
        return TSE_ERR_INVALID_ARG;
    }
    if (c->state == TSE_LWIP_CONN_FAILED) {
        return c->err;
    }
    if (c->state != TSE_LWIP_CONN_UP || c->pcb == NULL) {
        return TSE_ERR_TRANSPORT_IO;
    }
    if (len == 0) {
        return 0;
    }
    room = tcp_sndbuf(c->pcb);
    if (tcp_sndqueuelen(c->pcb) >= TCP_SND_QUEUELEN) {
        room = 0;
    }
    if (len > room) {
        len = room;
    }
    if (len == 0) {
        c->port->stats.send_full++;
        return 0;
    }
    e = tcp_write(c->pcb, buf, (u16_t)len, TCP_WRITE_FLAG_COPY);
    if (e == ERR_MEM) {
        c->port->stats.send_full++;
        return 0;
    }
    if (e != ERR_OK) {
        conn_fail(c, TSE_ERR_TRANSPORT_IO);
        return TSE_ERR_TRANSPORT_IO;
    }
    (void)tcp_output(c->pcb);
    c->port->stats.bytes_out += (uint32_t)len;
    return (int32_t)len;
}

/* Drop @p n read bytes from the front of the receive chain and open the
 * window by as much. */
static void rx_drop(tse_lwip_conn *c, size_t n)
{
    size_t left = n;
    while (left > 0 && c->rx != NULL) {
        size_t avail = (size_t)c->rx->len - c->rx_off;
        if (left < avail) {
            c->rx_off = (u16_t)(c->rx_off + left);
            left = 0;
        } else {
            struct pbuf *next = c->rx->next;
            left -= avail;
            /* unlink the head: the chain's reference to next is ours now */
            c->rx->next = NULL;
            c->rx->tot_len = c->rx->len;
            pbuf_free(c->rx);
            c->rx = next;
            c->rx_off = 0;
        }
    }
    if (c->pcb != NULL) {
        while (n > 0) {
            u16_t k = n > 0xffffu ? 0xffffu : (u16_t)n;
            tcp_recved(c->pcb, k);
            n -= k;
        }
    }
}

static int32_t t_recv(void *user, tse_port_conn *pc, uint8_t *buf, size_t len)
{
    tse_lwip_conn *c = (tse_lwip_conn *)pc;
    size_t got = 0;
    (void)user;
    if (c == NULL || (buf == NULL && len > 0)) {
        return TSE_ERR_INVALID_ARG;
    }
    if (len > INT32_MAX) {
        len = INT32_MAX;
    }
    while (got < len && c->rx != NULL) {
        size_t avail = (size_t)c->rx->len - c->rx_off;
        size_t k = len - got < avail ? len - got : avail;
        memcpy(buf + got, (const uint8_t *)c->rx->payload + c->rx_off, k);
        got += k;
        rx_drop(c, k);
    }
    if (got > 0) {
        return (int32_t)got;
    }
    if (c->state == TSE_LWIP_CONN_FAILED) {
        return c->err;
    }
    if (c->eof) {
        return TSE_ERR_TRANSPORT_CLOSED;
    }
    return 0;
}

static void t_close(void *user, tse_port_conn *pc)
{
    tse_lwip_conn *c = (tse_lwip_conn *)pc;
    (void)user;
    if (c == NULL || c->state == TSE_LWIP_CONN_FREE) {
        return;
    }
    if (c->pcb != NULL) {
        struct tcp_pcb *pcb = c->pcb;
        conn_detach(c);
        c->pcb = NULL;
        /* an orderly FIN; lwIP finishes it (and TIME_WAIT) on its own */
        if (tcp_close(pcb) != ERR_OK) {
            tcp_abort(pcb);
        }
    }
    if (c->state == TSE_LWIP_CONN_RESOLVING) {
        if (c->rx != NULL) {
            pbuf_free(c->rx);
            c->rx = NULL;
        }
        c->state = TSE_LWIP_CONN_ORPHAN; /* on_dns() frees the slot */
        return;
    }
    conn_free(c);
}

static tse_time_ms t_now_ms(void *user)
{
    return tse_lwip_now((tse_lwip_port *)user);
}

static int t_entropy(void *user, uint8_t *buf, size_t len)
{
    tse_lwip_port *p = (tse_lwip_port *)user;
    return p->cfg.entropy(p->cfg.entropy_user, buf, len);
}

/* ---- public ------------------------------------------------------------------ */

void tse_lwip_port_config_default(tse_lwip_port_config *c)
{
    if (c != NULL) {
        memset(c, 0, sizeof(*c));
        c->ip_type = IPADDR_TYPE_V4;
    }
}

int tse_lwip_port_init(tse_lwip_port *p, const tse_lwip_port_config *cfg)
{
    if (p == NULL || cfg == NULL || cfg->entropy == NULL) {
        return TSE_ERR_INVALID_ARG;
    }
    memset(p, 0, sizeof(*p));
    p->cfg = *cfg;
    p->table.version = TSE_PORT_VERSION;
    p->table.user = p;
    p->table.connect_start = t_connect_start;
    p->table.connect_poll = t_connect_poll;
    p->table.send = t_send;
    p->table.recv = t_recv;
    p->table.close = t_close;
    p->table.now_ms = t_now_ms;
    p->table.entropy = t_entropy;
    p->last_now = sys_now();
    return TSE_OK;
}

const tse_port *tse_lwip_port_table(tse_lwip_port *p)
{
    return p != NULL ? &p->table : NULL;
}

tse_time_ms tse_lwip_now(tse_lwip_port *p)
{
    uint32_t now = sys_now();
    if (now < p->last_now) {
        p->now_high += UINT64_C(1) << 32; /* sys_now() wrapped */
    }
    p->last_now = now;
    return p->now_high | now;
}

void tse_lwip_port_deinit(tse_lwip_port *p)
{
    size_t i;
    if (p == NULL) {
        return;
    }
    for (i = 0; i < TSE_LWIP_PORT_CONNS; i++) {
        tse_lwip_conn *c = &p->conns[i];
        if (c->state == TSE_LWIP_CONN_FREE) {
            continue;
        }
        t_close(p, (tse_port_conn *)c);
        if (c->state == TSE_LWIP_CONN_ORPHAN) {
            /* lwIP's DNS may still call back: keep the slot marked; the
             * port storage must then outlive that (or lwIP is torn down) */
            continue;
        }
    }
}

/* ---- the driver ---------------------------------------------------------------- */

int tse_lwip_driver_init(tse_lwip_driver *d, tse_lwip_port *p, tse_tunnel *t)
{
    if (d == NULL || p == NULL || t == NULL) {
        return TSE_ERR_INVALID_ARG;
    }
    memset(d, 0, sizeof(*d));
    d->port = p;
    d->t = t;
    return TSE_OK;
}

static void drv_drop(tse_lwip_driver *d)
{
    if (d->conn != NULL) {
        t_close(d->port, d->conn);
        d->conn = NULL;
    }
    d->connecting = 0;
}

/* Feed the received chain to the engine without copying it. */
static int drv_feed(tse_lwip_driver *d, tse_time_ms now)
{
    tse_lwip_conn *c = (tse_lwip_conn *)d->conn;
    int rc = TSE_OK;
    while (c->rx != NULL && d->conn != NULL) {
        size_t k = (size_t)c->rx->len - c->rx_off;
        rc = tse_tunnel_recv_outer(d->t, (const uint8_t *)c->rx->payload + c->rx_off, k, now);
        rx_drop(c, k);
        if (rc != TSE_OK || (tse_tunnel_want(d->t) & TSE_WANT_DISCONNECT)) {
            break;
        }
    }
    return rc;
}

int tse_lwip_driver_poll(tse_lwip_driver *d)
{
    int last = TSE_OK, rc, round;
    tse_time_ms now;

    if (d == NULL) {
        return TSE_ERR_INVALID_ARG;
    }
    d->polls++;
    now = tse_lwip_now(d->port);
    /* Bounded: each round makes progress or stops. */
    for (round = 0; round < 16; round++) {
        unsigned w = tse_tunnel_want(d->t);
        int progress = 0;

        if (w & TSE_WANT_DISCONNECT) {
            drv_drop(d);
            rc = tse_tunnel_transport_closed(d->t, 0, now);
            last = rc < 0 ? rc : last;
            continue;
        }
        if ((w & TSE_WANT_CONNECT) && d->conn == NULL) {
            const char *host = NULL;
            uint16_t port = 0;
            if (tse_tunnel_connect_target(d->t, &host, &port) == TSE_OK) {
                rc = t_connect_start(d->port, host, port, &d->conn);
                if (rc != TSE_OK) {
                    d->conn = NULL;
                    rc = tse_tunnel_transport_closed(d->t, rc, now);
                    last = rc < 0 ? rc : last;
                } else {
                    d->connecting = 1;
                }
                continue;
            }
        }
        if (d->conn != NULL && d->connecting) {
            rc = t_connect_poll(d->port, d->conn);
            if (rc == TSE_OK) {
                d->connecting = 0;
                rc = tse_tunnel_transport_connected(d->t, now);
                last = rc < 0 ? rc : last;
                progress = 1;
            } else if (rc != TSE_ERR_WOULD_BLOCK) {
                drv_drop(d);
                rc = tse_tunnel_transport_closed(d->t, rc, now);
                last = rc < 0 ? rc : last;
                continue;
            }
        }
        if (d->conn != NULL && !d->connecting) {
            tse_lwip_conn *c = (tse_lwip_conn *)d->conn;
            const uint8_t *out;
            size_t n;
            if (c->rx != NULL) {
                rc = drv_feed(d, now);
                last = rc < 0 ? rc : last;
                progress = 1;
            } else if (c->state == TSE_LWIP_CONN_FAILED || c->eof) {
                int err = c->state == TSE_LWIP_CONN_FAILED ? c->err : TSE_ERR_TRANSPORT_CLOSED;
                drv_drop(d);
                rc = tse_tunnel_transport_closed(d->t, err, now);
                last = rc < 0 ? rc : last;
                continue;
            }
            while (d->conn != NULL && (n = tse_tunnel_outer_pending(d->t, &out)) > 0) {
                int32_t k = t_send(d->port, d->conn, out, n);
                if (k <= 0) {
                    break; /* no room (the tcp_sent ACKs make some), or failed:
                              the next round reports it */
                }
                tse_tunnel_outer_consume(d->t, (size_t)k);
                progress = 1;
            }
        }
        if (tse_tunnel_expiry(d->t) <= now) {
            rc = tse_tunnel_handle_expiry(d->t, now);
            last = rc < 0 ? rc : last;
            progress = 1;
        }
        if (!progress) {
            break;
        }
    }
    return last;
}

tse_time_ms tse_lwip_driver_next(const tse_lwip_driver *d)
{
    return d != NULL ? tse_tunnel_expiry(d->t) : TSE_TIME_NEVER;
}

void tse_lwip_driver_deinit(tse_lwip_driver *d)
{
    if (d != NULL) {
        drv_drop(d);
    }
}
