/**
 * @file lwip_netif.h
 * @brief An lwIP network interface whose "wire" is a libtse tunnel.
 *
 * lwIP (2.1 or 2.2, IPv4 and/or IPv6) becomes the inner IP stack of the
 * tunnel: packets lwIP routes to this netif are handed to
 * tse_tunnel_send_packet(); inner packets the tunnel delivers
 * (tse_callbacks::on_packet) are given to lwIP's input.  No link layer: the
 * netif is point-to-point (no ARP, no Ethernet, no neighbour discovery).
 *
 * @par Addresses, link state
 * The netif is administratively up from tse_lwip_netif_add() on, and
 * link-up exactly while the tunnel is up.  Forward the tunnel's events to
 * tse_lwip_netif_on_event():
 *  - TSE_EV_TUNNEL_UP (also after a resume): the IPv4 address and netmask
 *    and, if the TSCF gave one, the IPv6 address (slot 0, PREFERRED, no
 *    DAD, no router solicitation) of tse_tunnel_config are set; then link up.
 *  - TSE_EV_ADDR_CHANGED (a resume gave another address): the new
 *    addresses are set.  lwIP then aborts TCP connections and moves UDP/raw
 *    PCBs bound to the old address, as for any address change.
 *  - TSE_EV_TUNNEL_DOWN, and TSE_EV_STATE into any state other than UP
 *    (reconnect back-off, pause, close): link down.  The addresses stay, so
 *    that sockets bound to them survive a resume with the same address.
 *
 * @par Routing
 * With tse_lwip_netif_config::set_default the netif is made lwIP's default
 * netif: everything without a more specific route goes into the tunnel.
 * Otherwise only destinations inside the assigned IPv4 subnet (address /
 * netmask; with the usual 255.255.255.255 that is none) use it, plus traffic
 * an application binds to it (netif_bind / SO_BINDTODEVICE / a source
 * address).  While the link is down lwIP's routing skips it.
 *
 * @par MTU
 * tse_lwip_netif_config::mtu, default TSE_LWIP_NETIF_MTU_DEFAULT (1400):
 * an inner packet of 1400 bytes plus its TLS record overhead (22 bytes for
 * TLS 1.3 AEAD, 29 for TLS 1.2 GCM) fits one outer TCP segment on a
 * 1500-byte IPv6 path (MSS 1440, 1428 with TCP timestamps), and leaves the
 * TSCF's side of the path room for its own encapsulation.  lwIP fragments
 * larger IPv4/IPv6 packets to this MTU and derives the TCP MSS from it.  It
 * must not exceed the tunnel's tse_settings::max_unit (default 2048; larger
 * packets are refused with TSE_ERR_PACKET_INVALID), nor
 * TSE_LWIP_NETIF_MTU_MAX; IPv6 needs at least 1280.
 *
 * @par Outbound errors (what the netif's output returns to lwIP)
 *  - TSE_ERR_QUEUE_FULL (the tunnel's outbound queue has no room; the
 *    packet is dropped) -> ERR_MEM: lwIP's TCP keeps the segment and
 *    retransmits it, UDP/raw senders see ENOMEM (sockets) or ERR_MEM.
 *  - TSE_ERR_NOT_UP -> ERR_CONN; TSE_ERR_PACKET_INVALID (too big) -> ERR_VAL;
 *    a chain longer than TSE_LWIP_NETIF_MTU_MAX -> ERR_BUF; others -> ERR_IF.
 * Copies: a packet in one pbuf is passed to the tunnel as it is (the engine
 * copies it once into its queue); a pbuf chain is first flattened into the
 * netif's own TSE_LWIP_NETIF_MTU_MAX-byte buffer.
 *
 * @par Threading, NO_SYS=1 (raw API)
 * One thread (the "main loop") runs the tunnel's driver, lwIP's timers
 * (sys_check_timeouts()) and the application's raw-API code.  Everything
 * here is called from it; the netif's output calls tse_tunnel_send_packet()
 * directly, on_packet() calls netif->input (netif_input()) directly, so
 * lwIP may answer (an ICMP echo reply, a TCP ACK) from inside the tunnel's
 * on_packet callback, which tse.h allows.
 *
 * @par Threading, NO_SYS=0 (tcpip thread; netconn / sockets)
 * The tunnel belongs to ONE driver thread (e.g. port/posix's poll driver),
 * which is never lwIP's tcpip thread.  Hand-offs:
 *  - lwIP -> tunnel: the netif's output runs in the tcpip thread (or in an
 *    application thread holding the core lock).  It takes a reference on
 *    the pbuf and puts it in a bounded queue (TSE_LWIP_NETIF_TXQ_LEN
 *    packets) under an lwIP sys_mutex, then calls
 *    tse_lwip_netif_config::notify so the driver thread wakes up; a full
 *    queue drops the packet with ERR_MEM.  The driver thread calls
 *    tse_lwip_netif_flush(), which moves the queued packets into the tunnel
 *    (tse_tunnel_send_packet()) and frees the pbufs; packets the tunnel
 *    cannot take yet (TSE_ERR_QUEUE_FULL) stay queued for the next flush.
 *  - tunnel -> lwIP: tse_lwip_netif_on_packet() runs in the driver thread
 *    (from on_packet), allocates a pbuf and passes it to tcpip_input(),
 *    which posts it to the tcpip thread's mailbox (mailbox full: dropped).
 *  - events: tse_lwip_netif_on_event(), tse_lwip_netif_add() and
 *    tse_lwip_netif_remove() run their netif changes inside the tcpip
 *    thread's core (tcpip_api_call(): under the core lock with
 *    LWIP_TCPIP_CORE_LOCKING, else as a message it waits for).  So they
 *    must NOT be called from the tcpip thread or with the core lock held.
 * The tunnel is never touched from the tcpip thread, lwIP's core never
 * from the driver thread except through those hand-offs.
 *
 * @par Memory
 * tse_lwip_netif is caller-provided storage, zero-initialised before the
 * first tse_lwip_netif_add() (static, or memset to 0), valid until
 * tse_lwip_netif_remove().  Measured on x86-64: 2376 bytes with NO_SYS=1,
 * 2648 with NO_SYS=0 (lwIP 2.2.1 and port/lwip/lwipopts.h; 2816 with
 * Debian's lwIP 2.1.3 and its options), of which TSE_LWIP_NETIF_MTU_MAX is
 * the flattening buffer.  The netif allocates nothing itself; inbound
 * pbufs come from lwIP (PBUF_POOL); with NO_SYS=0 each queued packet holds
 * a reference on lwIP's pbuf until the driver thread flushes it.
 *
 * @code
 *   static tse_lwip_netif tn;
 *   static void on_event(void *u, const tse_event *ev) { tse_lwip_netif_on_event(&tn, ev); }
 *   static void on_packet(void *u, const uint8_t *p, size_t n) { tse_lwip_netif_on_packet(&tn, p, n); }
 *   ...
 *   tse_lwip_netif_config nc; tse_lwip_netif_config_default(&nc);
 *   nc.now_ms = my_clock; nc.set_default = 1;
 *   tse_lwip_netif_add(&tn, tunnel, &nc);
 *   // lwIP traffic to the default route now goes through the tunnel
 * @endcode
 */
#ifndef TSE_LWIP_NETIF_H
#define TSE_LWIP_NETIF_H

#include <stddef.h>
#include <stdint.h>

#include "lwip/opt.h"
#include "lwip/netif.h"
#include "lwip/pbuf.h"
#if !NO_SYS
#include "lwip/sys.h"
#endif

#include "tse/tse.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Default MTU of the netif (see "MTU" above). */
#ifndef TSE_LWIP_NETIF_MTU_DEFAULT
#define TSE_LWIP_NETIF_MTU_DEFAULT 1400
#endif
/** Largest MTU accepted; also the size of the flattening buffer. */
#ifndef TSE_LWIP_NETIF_MTU_MAX
#define TSE_LWIP_NETIF_MTU_MAX 2048
#endif
/** NO_SYS=0: packets queued between the tcpip thread and the driver. */
#ifndef TSE_LWIP_NETIF_TXQ_LEN
#define TSE_LWIP_NETIF_TXQ_LEN 32
#endif

/** Settings of tse_lwip_netif_add(); start from tse_lwip_netif_config_default(). */
typedef struct tse_lwip_netif_config {
    /** MTU in bytes, 576..TSE_LWIP_NETIF_MTU_MAX (0 = default 1400). */
    uint16_t mtu;
    /** Make the netif lwIP's default netif (default 0). */
    int set_default;
    /** Interface name, two letters (default "ts"). */
    char name[2];
    /** Required: the clock the tunnel's driver uses (the `now` passed to
     *  tse_tunnel_send_packet()).  Called where output runs (NO_SYS=1) or
     *  from tse_lwip_netif_flush()'s caller (NO_SYS=0: use its `now`). */
    tse_time_ms (*now_ms)(void *user);
    /** NO_SYS=0: called from the thread running lwIP's output (the tcpip
     *  thread) after a packet was queued; wake the driver thread so it
     *  calls tse_lwip_netif_flush().  Must not block.  May be NULL (then
     *  the driver must flush periodically).  Unused with NO_SYS=1. */
    void (*notify)(void *user);
    /** Optional: replaces tse_tunnel_send_packet() as the packets' sink
     *  (same contract and return codes; @p t is the tunnel given to
     *  tse_lwip_netif_add()).  For tests and for applications that wrap
     *  the tunnel.  NULL = tse_tunnel_send_packet(). */
    int (*send_packet)(void *user, tse_tunnel *t, const uint8_t *pkt,
                       size_t len, tse_time_ms now);
    /** Passed to now_ms, notify and send_packet. */
    void *user;
} tse_lwip_netif_config;

/** Counters (NO_SYS=0: read them from the driver thread; tx_* counters
 *  are updated under the queue lock). */
typedef struct tse_lwip_netif_stats {
    uint32_t tx_packets;      /**< handed to the tunnel */
    uint32_t tx_flattened;    /**< of which were pbuf chains copied first */
    uint32_t tx_queue_full;   /**< refused: tunnel (or NO_SYS=0 queue) full */
    uint32_t tx_not_up;       /**< refused: tunnel not up */
    uint32_t tx_other_err;    /**< refused: invalid, too big, other */
    uint32_t rx_packets;      /**< given to lwIP */
    uint32_t rx_no_pbuf;      /**< dropped: pbuf allocation failed */
    uint32_t rx_input_err;    /**< dropped: lwIP's input refused it */
    uint32_t addr_changes;    /**< addresses (re)applied */
} tse_lwip_netif_stats;

/** The netif and its glue state.  Caller-provided storage; the fields
 *  are private except `netif`, which is the lwIP netif. */
typedef struct tse_lwip_netif {
    struct netif netif;  /**< the lwIP netif */
    /** @privatesection */
    tse_tunnel *tunnel;
    tse_lwip_netif_config cfg;
    tse_lwip_netif_stats stats;
    int added;
#if !NO_SYS
    sys_mutex_t lock;
    struct pbuf *txq[TSE_LWIP_NETIF_TXQ_LEN];
    unsigned txq_head, txq_count;
#endif
    uint8_t flat[TSE_LWIP_NETIF_MTU_MAX];
} tse_lwip_netif;

/** @brief Fill @p c with the defaults documented on each field.
 *  @param[out] c  the configuration */
TSE_API void tse_lwip_netif_config_default(tse_lwip_netif_config *c);

/**
 * @brief Add the netif to lwIP (administratively up, link down, no
 *        address) for tunnel @p t; if @p t is already up its configuration
 *        is applied at once.
 * @param[out] n    caller storage, zeroed before the first add, valid
 *                  until tse_lwip_netif_remove()
 * @param[in]  t    the tunnel (not used from lwIP's threads with NO_SYS=0)
 * @param[in]  cfg  copied
 * @return TSE_OK; TSE_ERR_INVALID_ARG (NULL, no now_ms, bad mtu or name,
 *         already added); TSE_ERR_NO_MEMORY (lwIP refused the netif, or
 *         NO_SYS=0: no mutex).  NO_SYS=0: not from the tcpip thread.
 */
TSE_API int tse_lwip_netif_add(tse_lwip_netif *n, tse_tunnel *t,
                               const tse_lwip_netif_config *cfg);

/** @brief Remove the netif from lwIP and drop queued packets.  Safe on a
 *         netif that was never added (after a memset to 0).  NO_SYS=0:
 *         not from the tcpip thread.
 *  @param n  the netif (NULL: nothing) */
TSE_API void tse_lwip_netif_remove(tse_lwip_netif *n);

/** @brief Apply a tunnel event (see "Addresses, link state").  Call it from
 *         the tunnel's on_event callback for every event.
 *  @param n   the netif
 *  @param ev  the event, as on_event received it */
TSE_API void tse_lwip_netif_on_event(tse_lwip_netif *n, const tse_event *ev);

/**
 * @brief Give an inbound inner packet to lwIP.  Call it from the tunnel's
 *        on_packet callback (the bytes are copied into a pbuf).
 * @param n    the netif
 * @param pkt  the packet, as on_packet received it
 * @param len  its length
 * @return TSE_OK; TSE_ERR_INVALID_ARG (NULL, not added, or empty); TSE_ERR_NO_MEMORY (no pbuf: dropped);
 *         TSE_ERR_WOULD_BLOCK (lwIP's input refused it, e.g. the tcpip
 *         mailbox is full: dropped).  Counted in the stats either way.
 */
TSE_API int tse_lwip_netif_on_packet(tse_lwip_netif *n, const uint8_t *pkt,
                                     size_t len);

/**
 * @brief NO_SYS=0: move packets queued by lwIP into the tunnel.  Call it
 *        from the driver thread when notified, and each driver round.
 *        (NO_SYS=1: nothing is ever queued; returns TSE_OK.)
 * @param n    the netif
 * @param now  the tunnel's clock, for tse_tunnel_send_packet()
 * @return TSE_ERR_INVALID_ARG (@p n NULL), TSE_OK (queue empty), TSE_ERR_QUEUE_FULL (the tunnel is full;
 *         the rest stays queued: flush again after the outer connection
 *         drained).  Packets the tunnel refuses otherwise (not up, invalid)
 *         are dropped and counted.
 */
TSE_API int tse_lwip_netif_flush(tse_lwip_netif *n, tse_time_ms now);

/** @brief Packets waiting in the NO_SYS=0 queue.
 *  @param n  the netif
 *  @return the count (0 with NO_SYS=1, and for NULL) */
TSE_API unsigned tse_lwip_netif_pending(tse_lwip_netif *n);

/** @brief A copy of the counters.
 *  @param n         the netif
 *  @param[out] out  the counters */
TSE_API void tse_lwip_netif_get_stats(tse_lwip_netif *n, tse_lwip_netif_stats *out);

/** @brief lwIP's err_t for a TSE_ERR_* of tse_tunnel_send_packet() (see
 *         "Outbound errors").
 *  @param tse_err  TSE_OK or a TSE_ERR_*
 *  @return ERR_OK, ERR_MEM (TSE_ERR_QUEUE_FULL), ERR_CONN (TSE_ERR_NOT_UP),
 *          ERR_VAL (TSE_ERR_PACKET_INVALID), ERR_BUF
 *          (TSE_ERR_BUFFER_TOO_SMALL), ERR_IF (any other) */
TSE_API int tse_lwip_netif_err(int tse_err);

#ifdef __cplusplus
}
#endif
#endif /* TSE_LWIP_NETIF_H */
