/**
 * @file lwip_port.h
 * @brief The outer connection over lwIP's raw TCP API (NO_SYS=1): the
 *        transport table of tse/port.h, and a driver for one main loop.
 *
 * For devices whose only network stack is lwIP.  The tunnel's outer TCP
 * connection (to the TSCF or the HTTP proxy) is an lwIP tcp_pcb; names are
 * resolved with lwIP's DNS (dns_gethostbyname(), when LWIP_DNS is on;
 * literal addresses always work); the clock is sys_now(), widened to 64
 * bits; entropy comes from the integrator (a TRNG).
 *
 * Routing (no loop through the tunnel): when the tunnel netif
 * (tse/lwip_netif.h) is lwIP's default netif, a connection to the TSCF
 * would be routed into the tunnel it is supposed to carry.  Set
 * tse_lwip_port_config::uplink: every outer PCB is then bound to that netif
 * with tcp_bind_netif() (lwIP >= 2.1, LWIP_SINGLE_NETIF 0), so its segments
 * leave through the uplink whatever the routing table says, and only
 * segments arriving on the uplink match it.  docs/porting.md has the rest.
 *
 * Threading: NO_SYS=1, everything from the one main loop (lwIP's context).
 * lwIP's callbacks only record what happened (received pbufs are queued,
 * errors noted): the engine is never entered from inside lwIP's input
 * processing, because the engine's own callbacks feed the tunnel netif,
 * i.e. lwIP's input again (tcp_input is not re-entrant).
 * tse_lwip_driver_poll() does the engine calls.
 *
 * Main loop (NO_SYS=1):
 * @code
 *   tse_lwip_port_init(&port, &pcfg);
 *   tse_lwip_driver_init(&drv, &port, tunnel);
 *   tse_tunnel_start(tunnel, tse_lwip_now(&port));
 *   for (;;) {
 *       ethernetif_poll(&uplink);            // frames -> netif->input
 *       sys_check_timeouts();                // lwIP's timers
 *       tse_lwip_driver_poll(&drv);          // the tunnel
 *       // sleep until the next interrupt or tse_lwip_driver_next()
 *   }
 * @endcode
 */
#ifndef TSE_LWIP_PORT_H
#define TSE_LWIP_PORT_H

#include <stddef.h>
#include <stdint.h>

#include "lwip/opt.h"
#include "lwip/ip_addr.h"
#include "lwip/netif.h"
#include "lwip/pbuf.h"
#include "lwip/tcp.h"

#include "tse/port.h"
#include "tse/tse.h"

#ifdef __cplusplus
extern "C" {
#endif

#if !NO_SYS
#error "tse/lwip_port.h is the NO_SYS=1 (raw API) port"
#endif
#if !LWIP_TCP
#error "tse/lwip_port.h needs LWIP_TCP"
#endif

/** Outer connections one port can hold at a time (one per tunnel, plus
 *  one whose DNS query is still outstanding after a close). */
#ifndef TSE_LWIP_PORT_CONNS
#define TSE_LWIP_PORT_CONNS 2
#endif
/** Longest host name kept for resolution (lwIP's DNS_MAX_NAME_LENGTH
 *  bounds it too). */
#ifndef TSE_LWIP_PORT_HOST_MAX
#define TSE_LWIP_PORT_HOST_MAX 64
#endif

/** Settings of tse_lwip_port_init(). */
typedef struct tse_lwip_port_config {
    /** The netif every outer connection is bound to (tcp_bind_netif()),
     *  or NULL for lwIP's routing.  Must be set when the tunnel netif is
     *  the default netif. */
    struct netif *uplink;
    /** Required: a cryptographically secure source (a TRNG); 0 = success.
     *  The table's entropy() and the tunnel's tse_callbacks::entropy. */
    int (*entropy)(void *user, uint8_t *buf, size_t len);
    void *entropy_user;        /**< passed to entropy */
    /** IPADDR_TYPE_V4 (default) or IPADDR_TYPE_ANY (LWIP_IPV6): the
     *  address families the resolver and the PCB may use. */
    uint8_t ip_type;
} tse_lwip_port_config;

/** States of a tse_lwip_conn. */
enum tse_lwip_conn_state {
    TSE_LWIP_CONN_FREE = 0,    /**< slot unused */
    TSE_LWIP_CONN_RESOLVING,   /**< dns_gethostbyname() outstanding */
    TSE_LWIP_CONN_CONNECTING,  /**< SYN sent */
    TSE_LWIP_CONN_UP,          /**< connected */
    TSE_LWIP_CONN_FAILED,      /**< err says why; the driver must close() */
    TSE_LWIP_CONN_ORPHAN       /**< closed while resolving: freed when the
                                    DNS answer (or timeout) comes */
};

/** One outer connection (what tse_port_conn points to). */
typedef struct tse_lwip_conn {
    /** @privatesection */
    struct tse_lwip_port *port;
    struct tcp_pcb *pcb;
    int state;                 /* enum tse_lwip_conn_state */
    int err;                   /* TSE_ERR_TRANSPORT_* once failed */
    int eof;                   /* peer sent FIN */
    uint16_t remote_port;
    struct pbuf *rx;           /* received, not yet read (a chain) */
    uint16_t rx_off;           /* bytes of rx already read */
    char host[TSE_LWIP_PORT_HOST_MAX + 1];
} tse_lwip_conn;

/** Counters. */
typedef struct tse_lwip_port_stats {
    uint32_t connects;         /**< connect_start() calls that went ahead */
    uint32_t resolved;         /**< names resolved by DNS */
    uint32_t resolve_fail;     /**< names that did not resolve */
    uint32_t refused;          /**< RST to the SYN */
    uint32_t resets;           /**< errors after connect */
    uint32_t bytes_out;        /**< bytes given to tcp_write() */
    uint32_t bytes_in;         /**< bytes received */
    uint32_t send_full;        /**< send() found no room (returned 0) */
} tse_lwip_port_stats;

/** The port: its table, settings and connection slots.  Caller storage. */
typedef struct tse_lwip_port {
    /** @privatesection */
    tse_port table;            /* tse_lwip_port_table() */
    tse_lwip_port_config cfg;
    tse_lwip_conn conns[TSE_LWIP_PORT_CONNS];
    tse_lwip_port_stats stats;
    uint32_t last_now;         /* sys_now() widening */
    uint64_t now_high;
} tse_lwip_port;

/** @brief Fill @p c with the defaults documented on each field.
 *  @param[out] c  the settings */
void tse_lwip_port_config_default(tse_lwip_port_config *c);

/** @brief Initialise @p p (after lwip_init()).
 *  @param[out] p    the port (caller storage, valid while used)
 *  @param[in]  cfg  settings (copied)
 *  @return TSE_OK, TSE_ERR_INVALID_ARG (NULL, or no entropy). */
int tse_lwip_port_init(tse_lwip_port *p, const tse_lwip_port_config *cfg);

/** @brief The transport table (include/tse/port.h) of @p p.
 *  @param p  the port
 *  @return the table, inside @p p (NULL for NULL) */
const tse_port *tse_lwip_port_table(tse_lwip_port *p);

/** @brief Milliseconds of sys_now(), widened to 64 bits (call it at least
 *  once every 49 days: any call of the driver does).
 *  @param p  the port (holds the widening state)
 *  @return milliseconds */
tse_time_ms tse_lwip_now(tse_lwip_port *p);

/** @brief Close every connection (before lwIP goes away).
 *  @param p  the port (NULL: nothing) */
void tse_lwip_port_deinit(tse_lwip_port *p);

/* ---- the driver: one tunnel over one port in one main loop --------------- */

/** The driver of one tunnel (caller storage).  Fields are private. */
typedef struct tse_lwip_driver {
    /** @privatesection */
    tse_lwip_port *port;
    tse_tunnel *t;
    tse_port_conn *conn;       /* the tunnel's outer connection, or NULL */
    int connecting;            /* connect_start() done, not connected yet */
    uint32_t polls;
} tse_lwip_driver;

/** @brief Drive @p t over @p p.  No allocation.
 *  @param[out] d  the driver (caller storage)
 *  @param[in]  p  the port
 *  @param[in]  t  the tunnel
 *  @return TSE_OK, TSE_ERR_INVALID_ARG (NULL) */
int tse_lwip_driver_init(tse_lwip_driver *d, tse_lwip_port *p, tse_tunnel *t);

/**
 * @brief Do what the tunnel wants: open / close the outer connection,
 *        feed it received bytes, push its pending bytes into TCP
 *        (tcp_write() + tcp_output()), fire its timers.  Call it from the
 *        main loop after lwIP's input and timers, and after the
 *        application sent through the tunnel netif.  Bounded work.
 * @param d  the driver
 * @return TSE_OK, TSE_ERR_INVALID_ARG (NULL), or the last error an
 *         engine call returned (tse_tunnel_transport_connected(),
 *         tse_tunnel_transport_closed(), tse_tunnel_recv_outer(),
 *         tse_tunnel_handle_expiry(); informational: the tunnel reports
 *         failures through its events).
 */
int tse_lwip_driver_poll(tse_lwip_driver *d);

/** @brief When tse_lwip_driver_poll() must run next at the latest
 *  (tse_tunnel_expiry()), or TSE_TIME_NEVER; earlier after any input.
 *  @param d  the driver
 *  @return the time (TSE_TIME_NEVER for NULL) */
tse_time_ms tse_lwip_driver_next(const tse_lwip_driver *d);

/** @brief Close the tunnel's outer connection, if any (before
 *  tse_tunnel_del()).
 *  @param d  the driver */
void tse_lwip_driver_deinit(tse_lwip_driver *d);

#ifdef __cplusplus
}
#endif
#endif /* TSE_LWIP_PORT_H */
