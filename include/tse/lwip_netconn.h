/**
 * @file lwip_netconn.h
 * @brief The outer connection over lwIP's netconn API (NO_SYS=0): the
 *        transport table of tse/port.h, and a driver for one tunnel in one
 *        application thread.
 *
 * For RTOS devices that run lwIP with its tcpip thread.  The outer TCP
 * connection (to the TSCF or the HTTP proxy) is a netconn; names are
 * resolved with lwIP's DNS (when LWIP_DNS is on; literal addresses always
 * work); the clock is sys_now() widened to 64 bits; entropy comes from the
 * integrator (a TRNG).  tse/lwip_port.h is the NO_SYS=1 (raw API) sibling.
 *
 * Why netconn and not lwIP's sockets: the driver thread must sleep until
 * the outer connection has news, OR lwIP queued an inner packet on the
 * tunnel netif (tse_lwip_netif_config::notify), OR the engine's next
 * deadline.  lwIP's sockets can only be waited on with lwip_select() /
 * lwip_poll(), which cannot also wait for a semaphore; a netconn's
 * callback can signal the one semaphore the driver waits on
 * (tse_lwip_nc_wait()).  No socket layer is needed either (LWIP_SOCKET
 * may be 0).
 *
 * Nothing here blocks the driver thread for the network:
 *  - the netconn is non-blocking (netconn_set_nonblocking()): connect
 *    returns at once, recv and write move what they can now;
 *  - names: netconn_gethostbyname() waits for the DNS answer (seconds,
 *    with retries), so the port does not call it; it runs what it runs,
 *    dns_gethostbyname_addrtype(), in the tcpip thread (tcpip_api_call())
 *    with a callback, and connects when the answer is in.  No thread per
 *    resolution.
 *
 * Routing (no loop through the tunnel): when the tunnel netif is lwIP's
 * default netif, set tse_lwip_nc_config::uplink.  Every outer netconn is
 * then bound to it with netconn_bind_if() before netconn_connect(): lwIP
 * (>= 2.1, LWIP_SINGLE_NETIF 0) sends its segments out of that netif
 * whatever the routing table says and takes the source address from it.
 * lwIP's DNS queries are NOT bound: with the tunnel netif as default route
 * the DNS server must be on the uplink's link (or routed out of it with
 * LWIP_HOOK_IP4_ROUTE_SRC), or the TSCF given as a literal address.
 * docs/porting.md has the rest.
 *
 * Threading: the table's functions and the driver are called from ONE
 * thread, never lwIP's tcpip thread (netconn calls from there deadlock).
 * lwIP's callbacks (the netconn event callback, the DNS answer) run in the
 * tcpip thread; they only record and wake the driver thread.
 * tse_lwip_nc_wake() may be called from any thread.
 *
 * Driver thread (NO_SYS=0):
 * @code
 *   tse_lwip_nc_config_default(&pc);
 *   pc.uplink = &eth_netif; pc.entropy = my_trng;
 *   tse_lwip_nc_init(&port, &pc);             // after tcpip_init()
 *   nc.notify = tse_lwip_nc_wake_cb; nc.user = &port;  // the tunnel netif
 *   tse_lwip_netif_add(&tn, tunnel, &nc);
 *   tse_lwip_nc_driver_init(&drv, &port, tunnel, &tn);
 *   tse_tunnel_start(tunnel, tse_lwip_nc_now(&port));
 *   while (!stop) {
 *       tse_lwip_nc_driver_poll(&drv);
 *       tse_lwip_nc_wait(&port, tse_lwip_nc_driver_next(&drv));
 *   }
 *   tse_lwip_nc_driver_deinit(&drv);
 *   tse_lwip_nc_deinit(&port);
 * @endcode
 */
#ifndef TSE_LWIP_NETCONN_H
#define TSE_LWIP_NETCONN_H

#include <stddef.h>
#include <stdint.h>

#include "lwip/opt.h"
#include "lwip/api.h"
#include "lwip/ip_addr.h"
#include "lwip/netif.h"
#include "lwip/pbuf.h"
#include "lwip/sys.h"

#include "tse/lwip_netif.h"
#include "tse/port.h"
#include "tse/tse.h"

#ifdef __cplusplus
extern "C" {
#endif

#if NO_SYS
#error "tse/lwip_netconn.h is the NO_SYS=0 (netconn) port; NO_SYS=1: tse/lwip_port.h"
#endif
#if !LWIP_NETCONN || !LWIP_TCP
#error "tse/lwip_netconn.h needs LWIP_NETCONN and LWIP_TCP"
#endif

/** Outer connections one port holds at a time (one per tunnel, plus one
 *  whose DNS query is still outstanding after a close). */
#ifndef TSE_LWIP_NC_CONNS
#define TSE_LWIP_NC_CONNS 2
#endif
/** Longest host name kept for resolution (DNS_MAX_NAME_LENGTH bounds it
 *  too). */
#ifndef TSE_LWIP_NC_HOST_MAX
#define TSE_LWIP_NC_HOST_MAX 64
#endif

/** Settings of tse_lwip_nc_init(). */
typedef struct tse_lwip_nc_config {
    /** The netif every outer netconn is bound to (netconn_bind_if()), or
     *  NULL for lwIP's routing.  Must be set when the tunnel netif is the
     *  default netif.  It must stay added while the port is used. */
    struct netif *uplink;
    /** Required: a cryptographically secure source (a TRNG); 0 = success. */
    int (*entropy)(void *user, uint8_t *buf, size_t len);
    void *entropy_user;        /**< passed to entropy */
    /** IPADDR_TYPE_V4 (default) or IPADDR_TYPE_ANY (LWIP_IPV6). */
    uint8_t ip_type;
} tse_lwip_nc_config;

/** States of a tse_lwip_nc_conn. */
enum tse_lwip_nc_state {
    TSE_LWIP_NC_FREE = 0,      /**< slot unused */
    TSE_LWIP_NC_RESOLVING,     /**< DNS query outstanding */
    TSE_LWIP_NC_RESOLVED,      /**< answer in (addr), not connecting yet */
    TSE_LWIP_NC_CONNECTING,    /**< SYN sent */
    TSE_LWIP_NC_UP,            /**< connected */
    TSE_LWIP_NC_FAILED,        /**< err says why; the driver must close() */
    TSE_LWIP_NC_ORPHAN         /**< closed while resolving: freed by the
                                    DNS answer (or its timeout) */
};

struct tse_lwip_nc_port;

/** One outer connection (what tse_port_conn points to). */
typedef struct tse_lwip_nc_conn {
    /** @privatesection */
    struct tse_lwip_nc_port *port;
    struct netconn *nc;
    int state;                 /* enum tse_lwip_nc_state; guarded by
                                  SYS_ARCH_PROTECT with the ev_* fields */
    int err;                   /* TSE_ERR_TRANSPORT_* once failed */
    int ev_error;              /* the netconn callback saw NETCONN_EVT_ERROR */
    int ev_connected;          /* ... NETCONN_EVT_SENDPLUS while connecting */
    int eof;                   /* netconn_recv said FIN */
    uint16_t remote_port;
    ip_addr_t addr;            /* the resolved address */
    struct pbuf *rx;           /* received, not yet read */
    uint16_t rx_off;           /* bytes of rx already read */
    char host[TSE_LWIP_NC_HOST_MAX + 1];
} tse_lwip_nc_conn;

/** Counters (read them from the driver thread). */
typedef struct tse_lwip_nc_stats {
    uint32_t connects;         /**< connect_start() calls that went ahead */
    uint32_t resolved;         /**< names resolved by DNS */
    uint32_t resolve_fail;     /**< names that did not resolve */
    uint32_t refused;          /**< connects that failed */
    uint32_t resets;           /**< errors after connect */
    uint32_t bytes_out;        /**< bytes netconn_write_partly() took */
    uint32_t bytes_in;         /**< bytes received */
    uint32_t send_full;        /**< send() found no room (returned 0) */
    uint32_t wakes;            /**< times the driver's semaphore was signalled */
} tse_lwip_nc_stats;

/** The port: its table, settings, connection slots and the driver
 *  thread's wake-up semaphore.  Caller storage. */
typedef struct tse_lwip_nc_port {
    /** @privatesection */
    tse_port table;
    tse_lwip_nc_config cfg;
    tse_lwip_nc_conn conns[TSE_LWIP_NC_CONNS];
    tse_lwip_nc_stats stats;
    sys_sem_t wake;
    int wake_pending;          /* guarded by SYS_ARCH_PROTECT */
    int registered;
    struct tse_lwip_nc_port *next; /* the ports the netconn callback searches */
    uint32_t last_now;
    uint64_t now_high;
} tse_lwip_nc_port;

/** @brief Fill @p c with the defaults documented on each field.
 *  @param[out] c  the settings */
void tse_lwip_nc_config_default(tse_lwip_nc_config *c);

/** @brief Initialise @p p (after tcpip_init()); not from the tcpip thread.
 *  @param[out] p    the port (caller storage, valid until tse_lwip_nc_deinit())
 *  @param[in]  cfg  settings (copied)
 *  @return TSE_OK, TSE_ERR_INVALID_ARG (NULL, or no entropy),
 *          TSE_ERR_NO_MEMORY (no semaphore). */
int tse_lwip_nc_init(tse_lwip_nc_port *p, const tse_lwip_nc_config *cfg);

/** @brief The transport table (include/tse/port.h) of @p p.
 *  @param p  the port
 *  @return the table, inside @p p (NULL for NULL) */
const tse_port *tse_lwip_nc_table(tse_lwip_nc_port *p);

/** @brief Milliseconds of sys_now(), widened to 64 bits.  Driver thread.
 *  @param p  the port (holds the widening state)
 *  @return milliseconds */
tse_time_ms tse_lwip_nc_now(tse_lwip_nc_port *p);

/** @brief Wake the thread sleeping in tse_lwip_nc_wait().  Any thread,
 *  never blocks; wakes coalesce until the sleeper ran.
 *  @param p  the port (NULL: nothing) */
void tse_lwip_nc_wake(tse_lwip_nc_port *p);

/** @brief tse_lwip_nc_wake() with a void pointer: the shape of
 *  tse_lwip_netif_config::notify (set its user to the port).
 *  @param port  the tse_lwip_nc_port */
void tse_lwip_nc_wake_cb(void *port);

/** @brief Sleep until tse_lwip_nc_wake() (lwIP's callbacks call it when a
 *  connection has news) or until @p until (tse_lwip_nc_now()'s clock;
 *  TSE_TIME_NEVER: no limit).  Driver thread.
 *  @param p      the port
 *  @param until  the latest wake-up time
 *  @return 1 if woken, 0 if the time came */
int tse_lwip_nc_wait(tse_lwip_nc_port *p, tse_time_ms until);

/** @brief Close every connection and free the semaphore.  A connection
 *  whose DNS query is outstanding keeps its slot: the port's storage must
 *  then outlive the query (DNS_MAX_RETRIES x 2^n s) or lwIP.
 *  @param p  the port (NULL: nothing) */
void tse_lwip_nc_deinit(tse_lwip_nc_port *p);

/* ---- the driver: one tunnel over one port in one thread ------------------ */

/** The driver of one tunnel (caller storage).  Fields are private. */
typedef struct tse_lwip_nc_driver {
    /** @privatesection */
    tse_lwip_nc_port *port;
    tse_tunnel *t;
    tse_lwip_netif *inner;     /* flushed each poll, or NULL */
    tse_port_conn *conn;
    int connecting;
    uint32_t polls;
} tse_lwip_nc_driver;

/** @brief Drive @p t over @p p.  No allocation.
 *  @param[out] d      the driver (caller storage)
 *  @param[in]  p      the port
 *  @param[in]  t      the tunnel
 *  @param[in]  inner  the tunnel's lwIP netif, whose queued packets each
 *                     poll moves into the tunnel (tse_lwip_netif_flush()),
 *                     or NULL (the application flushes it)
 *  @return TSE_OK, TSE_ERR_INVALID_ARG (NULL) */
int tse_lwip_nc_driver_init(tse_lwip_nc_driver *d, tse_lwip_nc_port *p, tse_tunnel *t,
                            tse_lwip_netif *inner);

/**
 * @brief Do what the tunnel wants: open / close the outer connection,
 *        feed it received bytes, move the inner netif's packets into it,
 *        write its pending bytes, fire its timers.  Bounded work, never
 *        waits for the network.  Driver thread.
 * @param d  the driver
 * @return TSE_OK, TSE_ERR_INVALID_ARG (NULL), or the last error an engine
 *         call returned (informational: the tunnel reports failures through
 *         its events).
 */
int tse_lwip_nc_driver_poll(tse_lwip_nc_driver *d);

/** @brief When tse_lwip_nc_driver_poll() must run next at the latest
 *  (tse_tunnel_expiry()), or TSE_TIME_NEVER; earlier when woken.
 *  @param d  the driver
 *  @return the time (TSE_TIME_NEVER for NULL) */
tse_time_ms tse_lwip_nc_driver_next(const tse_lwip_nc_driver *d);

/** @brief Close the tunnel's outer connection, if any (before
 *  tse_tunnel_del()).
 *  @param d  the driver (NULL: nothing) */
void tse_lwip_nc_driver_deinit(tse_lwip_nc_driver *d);

#ifdef __cplusplus
}
#endif
#endif /* TSE_LWIP_NETCONN_H */
