/**
 * @file tse_tun.h
 * @brief The Linux TUN port of libtse: the tunnel as an OS network
 *        interface, so that unmodified applications on the kernel's IP
 *        stack use it (the file-descriptor model of Android's VpnService).
 *
 * A tse_tun is one TUN device (IFF_TUN | IFF_NO_PI: raw IPv4/IPv6 packets,
 * no packet-information header), either
 *  - created by name on /dev/net/tun (tse_tun_create()), non-blocking and
 *    close-on-exec, NOT persistent: the kernel removes the interface, its
 *    addresses and every route through it when the fd is closed, also when
 *    the process dies; or
 *  - an already-open TUN fd (tse_tun_attach()), e.g. the one Android's
 *    VpnService.Builder.establish() returns.  Then the port configures
 *    nothing unless tse_tun_config::configure asks for it (on Android the
 *    Builder has done it).
 *
 * @par What the port configures (tse_tun_config::configure), via rtnetlink
 * Every request carries NLM_F_ACK and its acknowledgement is checked; a
 * refusal is mapped to TSE_ERR_NETLINK_LINK / _ADDR / _ROUTE (EPERM and
 * EACCES to TSE_ERR_TUN_PERMISSION), the kernel's errno and the request
 * are kept for tse_tun_error_detail().
 *  - At create/attach: the MTU (RTM_NEWLINK IFLA_MTU) and link up.
 *  - On TSE_EV_TUNNEL_UP / TSE_EV_ADDR_CHANGED (tse_tun_on_event()): the
 *    inner IPv4 address with the prefix length of the negotiated netmask
 *    (RTM_NEWADDR; the kernel adds the subnet's route through the device
 *    itself, so "the inner subnet" is routed by default), and the IPv6
 *    address (IFA_F_NODAD) if one was negotiated.  When a resume brought
 *    a different address the new one is added first, then the old one is
 *    deleted (RTM_DELADDR), then the new one is set again (in the same
 *    subnet it was a secondary address, which the kernel deletes with the
 *    primary unless promote_secondaries is set), then the routes are
 *    added again (NLM_F_REPLACE, idempotent; the kernel flushes a device's
 *    IPv4 routes when its last IPv4 address goes).  The same address again
 *    (an ordinary resume) touches nothing.
 *  - The routes of tse_tun_config::routes (RTM_NEWROUTE, main table,
 *    protocol "static", scope link, through the device).  A prefix length
 *    of 0 (the default route) is installed as two halves, 0.0.0.0/1 +
 *    128.0.0.0/1 (IPv6 ::/1 + 8000::/1), see "Default route" below.  IPv6
 *    routes are skipped while the tunnel has no IPv6 address.
 *  - At tse_tun_del(): every route and address it added is deleted
 *    (RTM_DELROUTE / RTM_DELADDR), the exclusion routes included; then a
 *    created device is closed, which removes the interface.
 *
 * @par Default route and the outer connection
 * A default route through the tunnel must not capture the tunnel's own
 * outer TCP connection (to the TSCF or the HTTP proxy).  The port does it
 * with two /1 halves plus a host route for each outer peer:
 *  - the halves are more specific than any existing default route, so they
 *    win without the existing default being replaced or deleted; removing
 *    them (or the device disappearing after a crash) restores routing
 *    exactly as it was, with nothing to restore;
 *  - tse_tun_exclude() looks up the route the kernel uses for the peer now
 *    (RTM_GETROUTE: output interface and gateway) and adds that path as a
 *    /32 (/128) host route, more specific than the halves.  Call it for
 *    every outer destination before connecting: tse-cli does it from the
 *    POSIX port's socket hook (tse_posix_set_socket_hook()).  When the
 *    lookup answers with this TUN device (the halves are already in
 *    place), the last path found for that family before is used.
 * Policy routing (fwmark rules) would need no per-peer routes but leaves
 * rules behind after a crash and needs the mark on the socket; a host
 * route left behind after a crash (the only thing that can be, since the
 * device's own routes vanish with it) only pins the path the kernel would
 * take anyway.  A host route that already exists (EEXIST) is used and not
 * deleted at the end.  On Android, protect() replaces all of this.
 *
 * @par Packets, and what happens when the tunnel cannot take one
 * tse_tun_process() reads packets until the fd has none left (EAGAIN) or
 * TSE_TUN_READ_BATCH packets were read, and hands each to
 * tse_tunnel_send_packet().  Linux's tun driver has no backpressure
 * towards the sender: it has no qdisc flow control (tun_net_xmit() puts
 * the packet in the queue's ring and drops it, counted in the interface's
 * tx_dropped, when the ring of tx_queue_len packets is full; it never
 * stops the queue).  Leaving packets in the ring would therefore not slow
 * a sender down, it would only make a voice packet wait behind bulk ones
 * and then have the kernel drop whatever arrives next.  So the reader
 * keeps reading: a packet the tunnel refuses with TSE_ERR_QUEUE_FULL (its
 * class's queue is full) is dropped and counted (drops_queue_full), which
 * is the bottleneck drop inner TCP reacts to, and the next packet, maybe
 * a voice packet of another class, still gets its chance.  A bulk packet
 * is dropped at once: encrypting to make room for it would keep the
 * reader from the ring, and the ring, a FIFO in front of the scheduler,
 * would become the queue voice waits in (docs/bench-tun.md, "Where the
 * delay sits").  For a real-time packet, with the POSIX driver
 * (tse_tun_attach_driver()), the reader first lets the driver move the
 * queue to the socket (tse_posix_driver_kick()) and retries the packet
 * once before dropping it.  The driver in turn encrypts at most
 * TSE_POSIX_WRITE_BUDGET bytes per phase of a round before the reader
 * runs again, and TSE_TUN_READ_BATCH is above the kernel's default ring
 * (txqueuelen 500), so every wake-up can empty the ring into the
 * classes.  Packets while the tunnel is not up are
 * dropped (drops_not_up), invalid ones too (drops_invalid).
 * Inbound (tse_tun_on_packet()): each packet is written to the fd with
 * one write(2) straight from the engine's buffer (no copy).  A TUN fd
 * takes one packet per write; writev() would glue buffers into ONE
 * packet, so batching inbound packets would need IFF_VNET_HDR with GSO,
 * which inner packets from a TSCF do not come as.  EAGAIN (the kernel's
 * backlog is full) drops the packet (drops_write_again); the write never
 * blocks.
 *
 * @par Threading
 * A tse_tun is used from the thread that runs its tunnel (the driver's),
 * like the tunnel itself; different tse_tun are independent.  Netlink
 * requests are synchronous: each waits for the kernel's acknowledgement,
 * which the kernel sends before the request returns in practice (bounded
 * by a 2 s receive timeout, then TSE_ERR_NETLINK).
 *
 * @par Ownership
 * The tse_tun is allocated by tse_tun_create()/_attach() and freed by
 * tse_tun_del().  A created fd is the port's; an attached fd stays the
 * caller's unless tse_tun_config::close_fd.  The tunnel stays the
 * application's; the tse_tun only borrows it (between
 * tse_tun_set_tunnel() or tse_tun_attach_driver() and tse_tun_del()).
 *
 * @code
 *   tse_tun_config tc; tse_tun_config_default(&tc);
 *   tse_tun *tun; tse_tun_create(&tun, "tse0", &tc);
 *   // tse_callbacks: on_event -> tse_tun_on_event(tun, ev);
 *   //                on_packet -> tse_tun_on_packet(tun, pkt, len);
 *   tse_tun_attach_driver(tun, driver, tunnel);
 *   tse_tunnel_start(tunnel, tse_posix_now_ms());
 *   tse_posix_driver_run(driver, &stop);
 *   tse_tun_del(tun);  // routes and addresses removed, interface gone
 * @endcode
 */
#ifndef TSE_TUN_H
#define TSE_TUN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "tse/tse.h"
#include "tse_posix.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Most packets read from the fd per tse_tun_process() call: above the
 *  kernel's default ring of 500 (txqueuelen), so one call can empty it,
 *  and bounded for fairness with the tunnel's socket and other fds. */
#ifndef TSE_TUN_READ_BATCH
#define TSE_TUN_READ_BATCH 512
#endif
/** Most routes in tse_tun_config::routes. */
#define TSE_TUN_MAX_ROUTES 16
/** Most outer peers tse_tun_exclude() remembers. */
#define TSE_TUN_MAX_EXCLUDES 8
/** Default MTU: as the lwIP netif (1400: an inner packet plus its TLS
 *  record fits one outer TCP segment on a 1500-byte IPv6 path). */
#define TSE_TUN_MTU_DEFAULT 1400
/** MTU bounds accepted by tse_tun_config::mtu (IPv4 needs 576, IPv6
 *  1280: below it the kernel refuses IPv6 addresses).  Keep the MTU at or
 *  below the tunnel's tse_settings::max_unit (default 2048): larger packets
 *  are refused by the engine (drops_invalid). */
#define TSE_TUN_MTU_MIN 576
/** Largest MTU accepted by tse_tun_config::mtu. */
#define TSE_TUN_MTU_MAX 65535

/** A route through the tunnel: @p prefix_len 0 is the default route. */
typedef struct tse_tun_route {
    int family;          /**< 4 or 6 */
    uint8_t addr[16];    /**< network address (4 bytes used for IPv4) */
    uint8_t prefix_len;  /**< 0..32 / 0..128 */
} tse_tun_route;

/** Settings of tse_tun_create() / tse_tun_attach() (tse_tun_config_default()). */
typedef struct tse_tun_config {
    /** Set MTU, link, addresses and routes through netlink.  Default 1;
     *  tse_tun_attach() with 0 only moves packets. */
    int configure;
    /** Interface MTU; default TSE_TUN_MTU_DEFAULT; 0 = leave it. */
    unsigned mtu;
    /** Routes to add while the tunnel is up (copied); the inner subnet
     *  needs none (the kernel adds it with the address). */
    tse_tun_route routes[TSE_TUN_MAX_ROUTES];
    size_t nroutes;      /**< entries used in routes */
    /** tse_tun_attach(): close the fd in tse_tun_del().  Default 0. */
    int close_fd;
} tse_tun_config;

/** Counters; see "Packets" above. */
typedef struct tse_tun_stats {
    uint64_t packets_read;       /**< packets read from the fd */
    uint64_t bytes_read;         /**< their bytes */
    uint64_t packets_sent;       /**< packets taken by the tunnel */
    uint64_t bytes_sent;         /**< their bytes */
    uint64_t packets_written;    /**< packets written to the fd */
    uint64_t bytes_written;      /**< their bytes */
    uint64_t drops_queue_full;   /**< tunnel answered TSE_ERR_QUEUE_FULL */
    uint64_t drops_not_up;       /**< tunnel not up (TSE_ERR_NOT_UP) */
    uint64_t drops_invalid;      /**< TSE_ERR_PACKET_INVALID (too big, not IP) */
    uint64_t drops_write_again;  /**< inbound: the fd said EAGAIN */
    uint64_t drops_write_error;  /**< inbound: other write errors */
    uint64_t read_errors;        /**< read() failed other than EAGAIN */
    uint64_t kicks;              /**< queue drained mid-batch for a
                                      *   real-time packet (driver mode) */
} tse_tun_stats;

/** A TUN interface carrying one tunnel; opaque. */
typedef struct tse_tun tse_tun;

/** @brief Defaults: configure 1, mtu TSE_TUN_MTU_DEFAULT, no routes.
 *  @param[out] c  the settings */
TSE_API void tse_tun_config_default(tse_tun_config *c);

/**
 * @brief Parse "default", "A.B.C.D/N", "A.B.C.D" (/32), "X::Y/N", "::/0"
 *        ("default6" = ::/0) into @p r.  Host bits must be zero.
 * @param[in]  s  the text
 * @param[out] r  the route
 * @return TSE_OK, TSE_ERR_INVALID_ARG (NULL, or not one of those forms)
 */
TSE_API int tse_tun_route_parse(const char *s, tse_tun_route *r);

/** @brief Whether @p name is a valid interface name (1..IFNAMSIZ-1 bytes,
 *         no '/', ':', whitespace, not "." or "..").
 *  @param name  the name
 *  @return 1 if valid, else 0 (also for NULL) */
TSE_API int tse_tun_name_valid(const char *name);

/**
 * @brief Prefix length of a contiguous netmask of @p len bytes (4 or 16).
 * @param mask  the netmask
 * @param len   4 or 16
 * @return 0..len*8, or -1 if the mask is not contiguous.
 */
TSE_API int tse_tun_prefix_from_mask(const uint8_t *mask, size_t len);

/**
 * @brief Create the TUN interface @p name (a kernel pattern like "tse%d"
 *        is allowed; tse_tun_name() tells the result) and, with
 *        @p c->configure, set its MTU and bring it up.
 * @param[out] out  the port; NULL on failure
 * @param[in]  name the interface name or pattern
 * @param[in]  c    configuration (copied); NULL = defaults
 * @return TSE_OK; TSE_ERR_INVALID_ARG (NULL, mtu out of range, bad route);
 *         TSE_ERR_TUN_NAME (invalid name, or a non-TUN / busy device of
 *         that name); TSE_ERR_TUN_PERMISSION (EPERM/EACCES);
 *         TSE_ERR_TUN_OPEN (no /dev/net/tun, other ioctl failures);
 *         TSE_ERR_NETLINK, TSE_ERR_NETLINK_LINK; TSE_ERR_NO_MEMORY.
 */
TSE_API int tse_tun_create(tse_tun **out, const char *name, const tse_tun_config *c);

/**
 * @brief Use an open TUN fd (IFF_TUN | IFF_NO_PI expected).  It is made
 *        non-blocking.  Its name and index come from TUNGETIFF.
 * @param[out] out  the port; NULL on failure
 * @param[in]  fd   the TUN fd (closed by tse_tun_del() only with close_fd)
 * @param[in]  c    configuration (copied); NULL = defaults
 * @return as tse_tun_create(); TSE_ERR_INVALID_ARG also for fd < 0;
 *         TSE_ERR_TUN_OPEN if it is not a TUN fd and @p c->configure is
 *         set (without configure, any packet fd is accepted).
 */
TSE_API int tse_tun_attach(tse_tun **out, int fd, const tse_tun_config *c);

/**
 * @brief Remove every route and address the port added, close a created
 *        (or close_fd) fd, unwatch it from the driver, free.  NULL is
 *        fine.  Not from an engine callback.
 * @param tun  the port
 */
TSE_API void tse_tun_del(tse_tun *tun);

/** @brief The TUN fd (to poll for POLLIN in an application's own loop).
 *  @param tun  the port
 *  @return the fd (-1 for NULL) */
TSE_API int tse_tun_fd(const tse_tun *tun);
/** @brief Interface name.
 *  @param tun  the port
 *  @return the name; "" if unknown (attached without TUNGETIFF, or NULL) */
TSE_API const char *tse_tun_name(const tse_tun *tun);
/** @brief Interface index.
 *  @param tun  the port
 *  @return the index (0 if unknown) */
TSE_API int tse_tun_ifindex(const tse_tun *tun);
/** @brief The configured MTU.
 *  @param tun  the port
 *  @return the MTU (0: left as it was, or NULL) */
TSE_API unsigned tse_tun_mtu(const tse_tun *tun);

/** @brief The tunnel whose packets this interface carries (borrowed; NULL
 *         to detach).  tse_tun_attach_driver() sets it too.
 *  @param tun  the port
 *  @param t    the tunnel, or NULL */
TSE_API void tse_tun_set_tunnel(tse_tun *tun, tse_tunnel *t);

/**
 * @brief Integrate with the POSIX driver: watch the fd for POLLIN
 *        (tse_posix_driver_watch_fd()), read with tse_tun_process() when
 *        it is readable, drain the tunnel to its socket with
 *        tse_posix_driver_kick() when its queue fills mid-batch.  @p t must
 *        have been added to @p d.  tse_tun_del() unwatches.
 * @param tun  the port
 * @param d    the driver
 * @param t    the tunnel
 * @return TSE_OK, TSE_ERR_INVALID_ARG (NULL, or no fd), TSE_ERR_NO_MEMORY
 */
TSE_API int tse_tun_attach_driver(tse_tun *tun, tse_posix_driver *d, tse_tunnel *t);

/**
 * @brief Read up to TSE_TUN_READ_BATCH packets and queue them in the
 *        tunnel (see "Packets").  For applications with their own loop:
 *        call it when the fd is readable, then send what the tunnel has
 *        pending.
 * @param tun  the port
 * @param now  the tunnel's clock
 * @return the number of packets read (0: none was waiting); or
 *         TSE_ERR_INVALID_ARG (NULL);
 *         TSE_ERR_TUN_IO if read() failed other than with EAGAIN/EINTR
 *         (e.g. the interface was deleted: EBADFD/EIO), TSE_ERR_STATE if
 *         no tunnel is set.
 */
TSE_API int tse_tun_process(tse_tun *tun, tse_time_ms now);

/**
 * @brief Forward every tse_event of the tunnel here (from on_event).
 *        Applies addresses and routes on TSE_EV_TUNNEL_UP and
 *        TSE_EV_ADDR_CHANGED (if configure); other events are ignored.
 *        The addresses and routes stay while the tunnel reconnects.
 * @param tun  the port
 * @param ev   the event
 * @return TSE_OK, or the first netlink error of this event (also kept for
 *         tse_tun_last_error() / tse_tun_error_detail()): TSE_ERR_NETLINK,
 *         TSE_ERR_NETLINK_ADDR, TSE_ERR_NETLINK_ROUTE,
 *         TSE_ERR_TUN_PERMISSION, TSE_ERR_INVALID_ARG (a netmask that is
 *         not contiguous).
 */
TSE_API int tse_tun_on_event(tse_tun *tun, const tse_event *ev);

/**
 * @brief Write one inbound packet to the fd (from on_packet).
 * @param tun  the port
 * @param pkt  the packet
 * @param len  its length
 * @return TSE_OK, TSE_ERR_INVALID_ARG (NULL), TSE_ERR_WOULD_BLOCK (EAGAIN: dropped and counted),
 *         TSE_ERR_TUN_IO (other error: dropped and counted).
 */
TSE_API int tse_tun_on_packet(tse_tun *tun, const uint8_t *pkt, size_t len);

/**
 * @brief Keep the outer connection to @p dst out of the default route:
 *        add a host route via the path the kernel uses for it now (see
 *        "Default route").  A no-op (TSE_OK) unless a default route of
 *        that family is in tse_tun_config::routes and configure is set.
 *        Suitable as (part of) a tse_posix_socket_hook.
 * @param tun  the port
 * @param dst  the outer peer's address
 * @param len  its length
 * @return TSE_OK; TSE_ERR_NO_ROUTE (no route to it, or it would use this
 *         device with no earlier path known); TSE_ERR_NETLINK,
 *         TSE_ERR_NETLINK_ROUTE, TSE_ERR_TUN_PERMISSION;
 *         TSE_ERR_INVALID_ARG (not AF_INET/AF_INET6);
 *         TSE_ERR_BUFFER_TOO_SMALL (more than TSE_TUN_MAX_EXCLUDES peers).
 */
TSE_API int tse_tun_exclude(tse_tun *tun, const struct sockaddr *dst, socklen_t len);

/** @brief Counters so far.
 *  @param tun       the port
 *  @param[out] out  the counters */
TSE_API void tse_tun_get_stats(const tse_tun *tun, tse_tun_stats *out);

/** @brief The last error of a netlink or TUN call.
 *  @param tun  the port
 *  @return the TSE_ERR_* (0 if none; TSE_ERR_INVALID_ARG for NULL) */
TSE_API int tse_tun_last_error(const tse_tun *tun);

/** @brief Human text for the last error: the request and the kernel's
 *         errno, e.g. "RTM_NEWROUTE 0.0.0.0/1: Network is unreachable".
 *         Never NULL; valid until the next call on @p tun.
 *  @param tun  the port
 *  @return the text ("" when there was no error) */
TSE_API const char *tse_tun_error_detail(const tse_tun *tun);

/* ---- network changes (rtnetlink) ----------------------------------------- */

/** Watches the network the outer connection uses (tse_netwatch_new()). */
typedef struct tse_netwatch tse_netwatch;

/** Called (from the driver's run_once()) when the network changed and
 *  settled: @p id (@p len bytes, for tse_tunnel_network_changed()) and a
 *  human description ("eth0 via 192.0.2.1 src 192.0.2.2"), both valid
 *  during the call. */
typedef void (*tse_netwatch_cb)(void *user, const uint8_t *id, size_t len,
                                const char *desc);

/**
 * @brief Watch rtnetlink for route, address and link changes.  The
 *        network's identity is the main table's IPv4 default route outside
 *        @p exclude_ifname (the tunnel's TUN, whose routes must not count):
 *        its output interface and gateway, and that interface's first IPv4
 *        address.  Events restart a @p settle_ms timer (a change is a burst
 *        of messages); when it fires, a new identity runs @p cb.  No
 *        default route (the device is between networks): nothing is
 *        reported until one appears.  The identity at creation is the
 *        baseline.
 * @param[out] out             the watcher (tse_netwatch_del())
 * @param[in]  exclude_ifname  the tunnel's interface, or NULL
 * @param[in]  settle_ms       quiet time before a change counts (e.g. 300)
 * @param[in]  cb              required
 * @param[in]  user            passed to @p cb
 * @return TSE_OK, TSE_ERR_INVALID_ARG, TSE_ERR_NO_MEMORY, TSE_ERR_NETLINK
 */
TSE_API int tse_netwatch_new(tse_netwatch **out, const char *exclude_ifname,
                             uint32_t settle_ms, tse_netwatch_cb cb, void *user);

/** @brief Have @p d poll the watcher's two fds (the netlink socket and
 *         its settle timer).
 *  @param w  the watcher
 *  @param d  the driver
 *  @return TSE_OK, TSE_ERR_INVALID_ARG (NULL, or attached already),
 *          TSE_ERR_NO_MEMORY */
TSE_API int tse_netwatch_attach(tse_netwatch *w, tse_posix_driver *d);

/**
 * @brief The network's identity now (blocking rtnetlink dumps, a few ms).
 * @param w          the watcher
 * @param[out] id    at least 12 bytes
 * @param cap        room in @p id
 * @param[out] len   bytes written
 * @param[out] desc  optional human description
 * @param desc_cap   its room
 * @return TSE_OK, TSE_ERR_WOULD_BLOCK (no IPv4 default route with an
 *         address outside the excluded interface), TSE_ERR_NETLINK,
 *         TSE_ERR_INVALID_ARG
 */
TSE_API int tse_netwatch_identity(tse_netwatch *w, uint8_t *id, size_t cap, size_t *len,
                                  char *desc, size_t desc_cap);

/** @brief Changes reported so far.
 *  @param w  the watcher
 *  @return the count (0 for NULL) */
TSE_API unsigned long tse_netwatch_changes(const tse_netwatch *w);

/** @brief Detach and free.  NULL is fine.
 *  @param w  the watcher */
TSE_API void tse_netwatch_del(tse_netwatch *w);

#ifdef __cplusplus
}
#endif
#endif /* TSE_TUN_H */
