/*
 * tse_lwip_netconn.c - the outer connection of a tunnel over lwIP's netconn
 * API (NO_SYS=0), and a driver for one tunnel in one application thread
 * (tse/lwip_netconn.h).
 *
 * Two threads touch a connection: the driver thread (every netconn call,
 * every engine call) and lwIP's tcpip thread (the netconn event callback,
 * the DNS start and answer).  What the tcpip thread writes (state while
 * resolving, ev_error, ev_connected, the resolved address) is guarded by
 * SYS_ARCH_PROTECT, lwIP's own lock for such state; the tcpip thread then
 * signals the port's semaphore and does nothing else.
 *
 * lwIP 2.1's netconn callback carries no user pointer (2.2's callback_arg
 * does, 2.1's is the socket number): the callback finds the connection by
 * its netconn in the list of ports.  A handful of slots, so a scan.
 *
 * Flow control: received bytes are acknowledged to TCP (netconn_tcp_recvd()
 * with NETCONN_NOAUTORCVD) only when the engine has taken them.
 */
#include <string.h>

#include "lwip/opt.h"
#include "lwip/api.h"
#include "lwip/def.h"
#include "lwip/dns.h"
#include "lwip/ip_addr.h"
#include "lwip/pbuf.h"
#include "lwip/sys.h"
#include "lwip/tcp.h"
#include "lwip/tcpip.h"

#include "lwip_keepalive.h"
#include "tse/error.h"
#include "tse/lwip_netconn.h"

static tse_lwip_nc_port *g_ports; /* guarded by SYS_ARCH_PROTECT */

/* Under SYS_ARCH_PROTECT. */
static void wake_locked(tse_lwip_nc_port *p, int *signal)
{
    if (!p->wake_pending) {
        p->wake_pending = 1;
        p->stats.wakes++;
        *signal = 1;
    }
}

void tse_lwip_nc_wake(tse_lwip_nc_port *p)
{
    int signal = 0;
    SYS_ARCH_DECL_PROTECT(lev);
    if (p == NULL) {
        return;
    }
    SYS_ARCH_PROTECT(lev);
    wake_locked(p, &signal);
    SYS_ARCH_UNPROTECT(lev);
    if (signal) {
        sys_sem_signal(&p->wake);
    }
}

void tse_lwip_nc_wake_cb(void *port)
{
    tse_lwip_nc_wake((tse_lwip_nc_port *)port);
}

/* ---- lwIP's callbacks (tcpip thread): record and wake ---------------------- */

static void on_netconn_event(struct netconn *nc, enum netconn_evt evt, u16_t len)
{
    tse_lwip_nc_port *p, *hit = NULL;
    int signal = 0;
    size_t i;
    SYS_ARCH_DECL_PROTECT(lev);
    (void)len;
    if (evt == NETCONN_EVT_RCVMINUS || evt == NETCONN_EVT_SENDMINUS) {
        return; /* our own reads and writes */
    }
    SYS_ARCH_PROTECT(lev);
    for (p = g_ports; p != NULL && hit == NULL; p = p->next) {
        for (i = 0; i < TSE_LWIP_NC_CONNS; i++) {
            tse_lwip_nc_conn *c = &p->conns[i];
            if (c->nc != nc || nc == NULL) {
                continue;
            }
            if (evt == NETCONN_EVT_ERROR) {
                c->ev_error = 1;
            } else if (evt == NETCONN_EVT_SENDPLUS && c->state == TSE_LWIP_NC_CONNECTING &&
                       !c->ev_error) {
                c->ev_connected = 1; /* lwIP's connected callback */
            }
            hit = p;
            wake_locked(p, &signal);
            break;
        }
    }
    SYS_ARCH_UNPROTECT(lev);
    if (signal) {
        sys_sem_signal(&hit->wake);
    }
}

static void conn_reset(tse_lwip_nc_conn *c)
{
    tse_lwip_nc_port *p = c->port;
    memset(c, 0, sizeof(*c));
    c->port = p;
}

#if LWIP_DNS
/* Under SYS_ARCH_PROTECT: the answer (addr NULL: none) for @p c. */
static void dns_result_locked(tse_lwip_nc_conn *c, const ip_addr_t *addr, int *signal)
{
    if (c->state == TSE_LWIP_NC_ORPHAN) {
        conn_reset(c); /* closed while resolving */
        return;
    }
    if (c->state != TSE_LWIP_NC_RESOLVING) {
        return;
    }
    if (addr == NULL) {
        c->port->stats.resolve_fail++;
        c->state = TSE_LWIP_NC_FAILED;
        c->err = TSE_ERR_TRANSPORT_RESOLVE;
    } else {
        c->port->stats.resolved++;
        ip_addr_copy(c->addr, *addr);
        c->state = TSE_LWIP_NC_RESOLVED;
    }
    wake_locked(c->port, signal);
}

static void on_dns(const char *name, const ip_addr_t *addr, void *arg)
{
    tse_lwip_nc_conn *c = (tse_lwip_nc_conn *)arg;
    tse_lwip_nc_port *p = c->port;
    int signal = 0;
    SYS_ARCH_DECL_PROTECT(lev);
    (void)name;
    SYS_ARCH_PROTECT(lev);
    dns_result_locked(c, addr, &signal);
    SYS_ARCH_UNPROTECT(lev);
    if (signal) {
        sys_sem_signal(&p->wake);
    }
}

/* tcpip thread: start the query (c->host is not written while RESOLVING
 * or ORPHAN). */
static void dns_start(void *arg)
{
    tse_lwip_nc_conn *c = (tse_lwip_nc_conn *)arg;
    tse_lwip_nc_port *p = c->port;
    ip_addr_t addr;
    err_t e;
    int signal = 0;
    SYS_ARCH_DECL_PROTECT(lev);

    SYS_ARCH_PROTECT(lev);
    if (c->state == TSE_LWIP_NC_ORPHAN) {
        conn_reset(c); /* closed before the query started */
        SYS_ARCH_UNPROTECT(lev);
        return;
    }
    SYS_ARCH_UNPROTECT(lev);
    e = dns_gethostbyname_addrtype(c->host, &addr, on_dns, c,
                                   p->cfg.ip_type == IPADDR_TYPE_V4 ? LWIP_DNS_ADDRTYPE_IPV4
                                                                    : LWIP_DNS_ADDRTYPE_DEFAULT);
    if (e == ERR_INPROGRESS) {
        return; /* on_dns() comes, in this thread */
    }
    SYS_ARCH_PROTECT(lev);
    dns_result_locked(c, e == ERR_OK ? &addr : NULL, &signal);
    SYS_ARCH_UNPROTECT(lev);
    if (signal) {
        sys_sem_signal(&p->wake);
    }
}
#endif

/* ---- the table (driver thread) --------------------------------------------- */

static int fail(tse_lwip_nc_conn *c, int err)
{
    SYS_ARCH_DECL_PROTECT(lev);
    SYS_ARCH_PROTECT(lev);
    if (c->state != TSE_LWIP_NC_FAILED) {
        c->state = TSE_LWIP_NC_FAILED;
        c->err = err;
    }
    err = c->err;
    SYS_ARCH_UNPROTECT(lev);
    return err;
}

/* Detach the netconn from the callback's search, then delete it. */
static void nc_drop(tse_lwip_nc_conn *c)
{
    struct netconn *nc = c->nc;
    SYS_ARCH_DECL_PROTECT(lev);
    if (nc == NULL) {
        return;
    }
    SYS_ARCH_PROTECT(lev);
    c->nc = NULL;
    SYS_ARCH_UNPROTECT(lev);
    /* an orderly FIN (lwIP finishes it and TIME_WAIT on its own); a
     * connect in progress is aborted */
    (void)netconn_delete(nc);
}

/* Open the netconn to c->addr: bound to the uplink, non-blocking. */
static int nc_connect(tse_lwip_nc_conn *c)
{
    tse_lwip_nc_port *p = c->port;
    enum netconn_type type = NETCONN_TCP;
    struct netconn *nc;
    err_t e;
    SYS_ARCH_DECL_PROTECT(lev);

#if LWIP_IPV6
    if (IP_IS_V6(&c->addr)) {
        type = NETCONN_TCP_IPV6;
    }
#endif
    nc = netconn_new_with_callback(type, on_netconn_event);
    if (nc == NULL) {
        return fail(c, TSE_ERR_NO_MEMORY);
    }
    SYS_ARCH_PROTECT(lev);
    c->nc = nc;
    c->state = TSE_LWIP_NC_CONNECTING;
    c->ev_error = 0;
    c->ev_connected = 0;
    SYS_ARCH_UNPROTECT(lev);
    if (p->cfg.uplink != NULL) {
        /* out of the uplink, never into the tunnel (see lwip_netconn.h) */
        e = netconn_bind_if(nc, netif_get_index(p->cfg.uplink));
        if (e != ERR_OK) {
            nc_drop(c);
            return fail(c, TSE_ERR_TRANSPORT_IO);
        }
    }
    netconn_set_nonblocking(nc, 1);
    /* no tcpip message: before connect nothing else touches the PCB */
    tcp_nagle_disable(nc->pcb.tcp); /* the engine writes whole records */
    tse_lwip_tcp_keepalive(nc->pcb.tcp); /* lwip_keepalive.h */
    e = netconn_connect(nc, &c->addr, c->remote_port);
    if (e != ERR_OK && e != ERR_INPROGRESS) {
        nc_drop(c);
        p->stats.refused++;
        return fail(c, e == ERR_MEM ? TSE_ERR_NO_MEMORY : TSE_ERR_TRANSPORT_REFUSED);
    }
    return TSE_OK;
}

static int t_connect_start(void *user, const char *host, uint16_t port, tse_port_conn **out)
{
    tse_lwip_nc_port *p = (tse_lwip_nc_port *)user;
    tse_lwip_nc_conn *c = NULL;
    size_t i, n;
    int rc;
    SYS_ARCH_DECL_PROTECT(lev);

    if (p == NULL || host == NULL || out == NULL || port == 0) {
        return TSE_ERR_INVALID_ARG;
    }
    n = strlen(host);
    if (n == 0 || n > TSE_LWIP_NC_HOST_MAX) {
        return TSE_ERR_TRANSPORT_RESOLVE;
    }
    SYS_ARCH_PROTECT(lev); /* an orphan slot is freed in the tcpip thread */
    for (i = 0; i < TSE_LWIP_NC_CONNS; i++) {
        if (p->conns[i].state == TSE_LWIP_NC_FREE) {
            c = &p->conns[i];
            conn_reset(c);
            c->state = TSE_LWIP_NC_FAILED; /* taken; set below */
            break;
        }
    }
    SYS_ARCH_UNPROTECT(lev);
    if (c == NULL) {
        return TSE_ERR_NO_MEMORY;
    }
    c->remote_port = port;
    memcpy(c->host, host, n + 1);

    if (ipaddr_aton(host, &c->addr)) {
#if LWIP_IPV4 && LWIP_IPV6
        if (p->cfg.ip_type == IPADDR_TYPE_V4 && !IP_IS_V4(&c->addr)) {
            conn_reset(c);
            return TSE_ERR_TRANSPORT_RESOLVE;
        }
#endif
        rc = nc_connect(c);
        if (rc == TSE_ERR_NO_MEMORY) {
            conn_reset(c);
            return rc;
        }
    } else {
#if LWIP_DNS
        c->state = TSE_LWIP_NC_RESOLVING;
        if (tcpip_callback(dns_start, c) != ERR_OK) {
            conn_reset(c);
            return TSE_ERR_NO_MEMORY;
        }
#else
        conn_reset(c);
        return TSE_ERR_TRANSPORT_RESOLVE; /* no DNS: literal addresses only */
#endif
    }
    p->stats.connects++;
    *out = (tse_port_conn *)c;
    return TSE_OK;
}

static int t_connect_poll(void *user, tse_port_conn *pc)
{
    tse_lwip_nc_conn *c = (tse_lwip_nc_conn *)pc;
    int state, rc;
    SYS_ARCH_DECL_PROTECT(lev);
    (void)user;
    if (c == NULL) {
        return TSE_ERR_INVALID_ARG;
    }
    SYS_ARCH_PROTECT(lev);
    if (c->state == TSE_LWIP_NC_CONNECTING) {
        if (c->ev_error) {
            c->state = TSE_LWIP_NC_FAILED;
            c->err = TSE_ERR_TRANSPORT_REFUSED;
            c->port->stats.refused++;
        } else if (c->ev_connected) {
            c->state = TSE_LWIP_NC_UP;
        }
    }
    state = c->state;
    rc = c->err;
    SYS_ARCH_UNPROTECT(lev);
    switch (state) {
    case TSE_LWIP_NC_UP:
        return TSE_OK;
    case TSE_LWIP_NC_FAILED:
        return rc;
    case TSE_LWIP_NC_RESOLVED:
        rc = nc_connect(c);
        return rc == TSE_OK ? TSE_ERR_WOULD_BLOCK : rc;
    case TSE_LWIP_NC_RESOLVING:
    case TSE_LWIP_NC_CONNECTING:
        return TSE_ERR_WOULD_BLOCK;
    default:
        return TSE_ERR_INVALID_ARG;
    }
}

static int map_err(err_t e)
{
    switch (e) {
    case ERR_RST:
        return TSE_ERR_TRANSPORT_RESET;
    case ERR_ABRT: /* lwIP gave up on the path (lwip_keepalive.h) */
        return TSE_ERR_TRANSPORT_TIMEOUT;
    case ERR_CLSD:
        return TSE_ERR_TRANSPORT_CLOSED;
    default:
        return TSE_ERR_TRANSPORT_IO;
    }
}

static int32_t t_send(void *user, tse_port_conn *pc, const uint8_t *buf, size_t len)
{
    tse_lwip_nc_conn *c = (tse_lwip_nc_conn *)pc;
    size_t written = 0;
    err_t e;
    (void)user;
    if (c == NULL || (buf == NULL && len > 0)) {
        return TSE_ERR_INVALID_ARG;
    }
    if (c->state == TSE_LWIP_NC_FAILED) {
        return c->err;
    }
    if (c->state != TSE_LWIP_NC_UP || c->nc == NULL) {
        return TSE_ERR_TRANSPORT_IO;
    }
    if (len == 0) {
        return 0;
    }
    if (len > INT32_MAX) {
        len = INT32_MAX;
    }
    e = netconn_write_partly(c->nc, buf, len, NETCONN_COPY | NETCONN_DONTBLOCK, &written);
    if (e == ERR_WOULDBLOCK || e == ERR_MEM || (e == ERR_OK && written == 0)) {
        c->port->stats.send_full++;
        return 0;
    }
    if (e != ERR_OK) {
        c->port->stats.resets++;
        return fail(c, map_err(e));
    }
    c->port->stats.bytes_out += (uint32_t)written;
    return (int32_t)written;
}

/* Drop @p n read bytes from the front of rx and open the window by as much. */
static void rx_drop(tse_lwip_nc_conn *c, size_t n)
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
            c->rx->next = NULL; /* our reference to next is the chain's */
            c->rx->tot_len = c->rx->len;
            pbuf_free(c->rx);
            c->rx = next;
            c->rx_off = 0;
        }
    }
    if (c->nc != NULL && n > 0) {
        (void)netconn_tcp_recvd(c->nc, n);
    }
}

/* Fetch what the netconn has now into c->rx.  TSE_OK (maybe nothing),
 * or the transport error (eof / failed recorded). */
static int rx_fill(tse_lwip_nc_conn *c)
{
    struct pbuf *p = NULL;
    err_t e;
    if (c->rx != NULL || c->eof || c->state != TSE_LWIP_NC_UP || c->nc == NULL) {
        return TSE_OK;
    }
    e = netconn_recv_tcp_pbuf_flags(c->nc, &p, NETCONN_NOAUTORCVD | NETCONN_DONTBLOCK);
    if (e == ERR_OK && p != NULL) {
        c->rx = p;
        c->rx_off = 0;
        c->port->stats.bytes_in += p->tot_len;
        return TSE_OK;
    }
    if (e == ERR_WOULDBLOCK || e == ERR_TIMEOUT) {
        return TSE_OK;
    }
    if (e == ERR_OK || e == ERR_CLSD) {
        c->eof = 1; /* FIN */
        return TSE_ERR_TRANSPORT_CLOSED;
    }
    c->port->stats.resets++;
    return fail(c, map_err(e));
}

static int32_t t_recv(void *user, tse_port_conn *pc, uint8_t *buf, size_t len)
{
    tse_lwip_nc_conn *c = (tse_lwip_nc_conn *)pc;
    size_t got = 0;
    (void)user;
    if (c == NULL || (buf == NULL && len > 0)) {
        return TSE_ERR_INVALID_ARG;
    }
    if (len > INT32_MAX) {
        len = INT32_MAX;
    }
    while (got < len) {
        size_t avail, k;
        if (c->rx == NULL && (rx_fill(c) != TSE_OK || c->rx == NULL)) {
            break;
        }
        avail = (size_t)c->rx->len - c->rx_off;
        k = len - got < avail ? len - got : avail;
        memcpy(buf + got, (const uint8_t *)c->rx->payload + c->rx_off, k);
        got += k;
        rx_drop(c, k);
    }
    if (got > 0) {
        return (int32_t)got;
    }
    if (c->state == TSE_LWIP_NC_FAILED) {
        return c->err;
    }
    if (c->eof) {
        return TSE_ERR_TRANSPORT_CLOSED;
    }
    return c->state == TSE_LWIP_NC_UP ? 0 : TSE_ERR_TRANSPORT_IO;
}

static void t_close(void *user, tse_port_conn *pc)
{
    tse_lwip_nc_conn *c = (tse_lwip_nc_conn *)pc;
    SYS_ARCH_DECL_PROTECT(lev);
    (void)user;
    if (c == NULL) {
        return;
    }
    if (c->rx != NULL) {
        pbuf_free(c->rx);
        c->rx = NULL;
    }
    nc_drop(c);
    SYS_ARCH_PROTECT(lev);
    if (c->state == TSE_LWIP_NC_RESOLVING) {
        c->state = TSE_LWIP_NC_ORPHAN; /* the tcpip thread frees the slot */
    } else if (c->state != TSE_LWIP_NC_ORPHAN) {
        conn_reset(c);
    }
    SYS_ARCH_UNPROTECT(lev);
}

static tse_time_ms t_now_ms(void *user)
{
    return tse_lwip_nc_now((tse_lwip_nc_port *)user);
}

static int t_entropy(void *user, uint8_t *buf, size_t len)
{
    tse_lwip_nc_port *p = (tse_lwip_nc_port *)user;
    return p->cfg.entropy(p->cfg.entropy_user, buf, len);
}

/* ---- public ------------------------------------------------------------------ */

void tse_lwip_nc_config_default(tse_lwip_nc_config *c)
{
    if (c != NULL) {
        memset(c, 0, sizeof(*c));
        c->ip_type = IPADDR_TYPE_V4;
    }
}

int tse_lwip_nc_init(tse_lwip_nc_port *p, const tse_lwip_nc_config *cfg)
{
    size_t i;
    SYS_ARCH_DECL_PROTECT(lev);
    if (p == NULL || cfg == NULL || cfg->entropy == NULL) {
        return TSE_ERR_INVALID_ARG;
    }
    memset(p, 0, sizeof(*p));
    if (sys_sem_new(&p->wake, 0) != ERR_OK) {
        return TSE_ERR_NO_MEMORY;
    }
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
    for (i = 0; i < TSE_LWIP_NC_CONNS; i++) {
        p->conns[i].port = p;
    }
    p->last_now = sys_now();
    SYS_ARCH_PROTECT(lev);
    p->next = g_ports;
    g_ports = p;
    p->registered = 1;
    SYS_ARCH_UNPROTECT(lev);
    return TSE_OK;
}

const tse_port *tse_lwip_nc_table(tse_lwip_nc_port *p)
{
    return p != NULL ? &p->table : NULL;
}

tse_time_ms tse_lwip_nc_now(tse_lwip_nc_port *p)
{
    uint32_t now = sys_now();
    if (now < p->last_now) {
        p->now_high += UINT64_C(1) << 32; /* sys_now() wrapped */
    }
    p->last_now = now;
    return p->now_high | now;
}

int tse_lwip_nc_wait(tse_lwip_nc_port *p, tse_time_ms until)
{
    tse_time_ms now = tse_lwip_nc_now(p);
    u32_t ms, r;
    SYS_ARCH_DECL_PROTECT(lev);
    if (until <= now) {
        ms = 0;
    } else if (until == TSE_TIME_NEVER || until - now > 0x7fffffffu) {
        ms = 0x7fffffffu;
    } else {
        ms = (u32_t)(until - now);
    }
    if (ms == 0) {
        r = sys_arch_sem_wait(&p->wake, 1); /* 0 would mean "forever" */
        if (r == SYS_ARCH_TIMEOUT) {
            return 0;
        }
    } else {
        r = sys_arch_sem_wait(&p->wake, ms);
        if (r == SYS_ARCH_TIMEOUT) {
            return 0;
        }
    }
    SYS_ARCH_PROTECT(lev);
    p->wake_pending = 0;
    SYS_ARCH_UNPROTECT(lev);
    return 1;
}

void tse_lwip_nc_deinit(tse_lwip_nc_port *p)
{
    tse_lwip_nc_port **pp;
    size_t i;
    int orphans = 0;
    SYS_ARCH_DECL_PROTECT(lev);
    if (p == NULL || !p->registered) {
        return;
    }
    for (i = 0; i < TSE_LWIP_NC_CONNS; i++) {
        tse_lwip_nc_conn *c = &p->conns[i];
        if (c->state != TSE_LWIP_NC_FREE) {
            t_close(p, (tse_port_conn *)c);
        }
        orphans |= c->state == TSE_LWIP_NC_ORPHAN;
    }
    if (orphans) {
        return; /* the DNS answer still refers to the slot (see the header) */
    }
    SYS_ARCH_PROTECT(lev);
    for (pp = &g_ports; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == p) {
            *pp = p->next;
            break;
        }
    }
    p->registered = 0;
    SYS_ARCH_UNPROTECT(lev);
    sys_sem_free(&p->wake);
}

/* ---- the driver ---------------------------------------------------------------- */

int tse_lwip_nc_driver_init(tse_lwip_nc_driver *d, tse_lwip_nc_port *p, tse_tunnel *t,
                            tse_lwip_netif *inner)
{
    if (d == NULL || p == NULL || t == NULL) {
        return TSE_ERR_INVALID_ARG;
    }
    memset(d, 0, sizeof(*d));
    d->port = p;
    d->t = t;
    d->inner = inner;
    return TSE_OK;
}

static void drv_drop(tse_lwip_nc_driver *d)
{
    if (d->conn != NULL) {
        t_close(d->port, d->conn);
        d->conn = NULL;
    }
    d->connecting = 0;
}

/* Feed what the netconn has to the engine without copying it.  Returns
 * the engine's last error; *terr gets a transport failure (FIN, reset). */
static int drv_feed(tse_lwip_nc_driver *d, tse_time_ms now, int *terr, int *progress)
{
    tse_lwip_nc_conn *c = (tse_lwip_nc_conn *)d->conn;
    int rc = TSE_OK, k;
    /* bounded: a few pbufs per round, the next round takes the rest */
    for (k = 0; k < 8; k++) {
        size_t n;
        if (c->rx == NULL) {
            *terr = rx_fill(c);
            if (*terr != TSE_OK || c->rx == NULL) {
                break;
            }
        }
        n = (size_t)c->rx->len - c->rx_off;
        rc = tse_tunnel_recv_outer(d->t, (const uint8_t *)c->rx->payload + c->rx_off, n, now);
        rx_drop(c, n);
        *progress = 1;
        if (rc != TSE_OK || (tse_tunnel_want(d->t) & TSE_WANT_DISCONNECT)) {
            break;
        }
    }
    return rc;
}

int tse_lwip_nc_driver_poll(tse_lwip_nc_driver *d)
{
    int last = TSE_OK, rc, round;
    tse_time_ms now;

    if (d == NULL) {
        return TSE_ERR_INVALID_ARG;
    }
    d->polls++;
    now = tse_lwip_nc_now(d->port);
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
            const uint8_t *out;
            size_t n;
            int terr = TSE_OK;
            rc = drv_feed(d, now, &terr, &progress);
            last = rc < 0 ? rc : last;
            if (terr != TSE_OK) {
                drv_drop(d);
                rc = tse_tunnel_transport_closed(d->t, terr, now);
                last = rc < 0 ? rc : last;
                continue;
            }
            if (d->inner != NULL && d->conn != NULL) {
                (void)tse_lwip_netif_flush(d->inner, now); /* QUEUE_FULL: after the drain */
            }
            while (d->conn != NULL && (n = tse_tunnel_outer_pending(d->t, &out)) > 0) {
                int32_t k = t_send(d->port, d->conn, out, n);
                if (k <= 0) {
                    break; /* no room (a SENDPLUS wakes us), or failed: the
                              next round's recv reports it */
                }
                tse_tunnel_outer_consume(d->t, (size_t)k);
                progress = 1;
            }
        } else if (d->inner != NULL) {
            (void)tse_lwip_netif_flush(d->inner, now); /* counted as not up */
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

tse_time_ms tse_lwip_nc_driver_next(const tse_lwip_nc_driver *d)
{
    return d != NULL ? tse_tunnel_expiry(d->t) : TSE_TIME_NEVER;
}

void tse_lwip_nc_driver_deinit(tse_lwip_nc_driver *d)
{
    if (d != NULL) {
        drv_drop(d);
    }
}
