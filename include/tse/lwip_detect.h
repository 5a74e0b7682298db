/**
 * @file lwip_detect.h
 * @brief The detection probes (lib/detect.c: SIP OPTIONS over UDP and TCP,
 *        STUN) over lwIP's raw API (NO_SYS=1), in the same main loop as
 *        tse/lwip_port.h.
 *
 * The detector (tse/detect.h) is sans-I/O; this runner carries out its
 * orders with lwIP: UDP probes are udp_pcbs (bound to the uplink when
 * tse_lwip_port_config::uplink is set, like the outer connection, so a
 * tunnel netif that is the default netif does not swallow them), the
 * SIP-over-TCP probe is a connection of the tse_lwip_port's transport table
 * (bound the same way).  Tunnel probes are the application's: it brings a
 * tse_tunnel up (tse_lwip_driver) when tse_lwip_detect_config::tunnel_start
 * asks and reports with tse_lwip_detect_tunnel_up() /
 * tse_lwip_detect_tunnel_failed(); without tunnel_start they fail as
 * TSE_ERR_DETECT_NOT_CONFIGURED (configure no tscf_host then).
 *
 * Hosts are literal addresses or names.  The SIP-over-TCP probe resolves
 * through the port's transport table (tse/lwip_port.h); a UDP probe (SIP,
 * STUN) to a name asks lwIP's DNS without blocking (dns_gethostbyname_
 * addrtype(), IPv4 when tse_lwip_port_config::ip_type is IPADDR_TYPE_V4)
 * and sends once the answer comes; a lookup that fails or times out in
 * lwIP fails the probe with TSE_ERR_TRANSPORT_RESOLVE, and the detector's
 * probe timeout bounds it in any case.  Closing the probe or
 * tse_lwip_detect_deinit() while a query is in flight is safe: lwIP's late
 * callback finds no runner (it is given a token, never a pointer).  Without
 * LWIP_DNS a name fails its probe with TSE_ERR_TRANSPORT_RESOLVE.
 *
 * Threading: NO_SYS=1, the main loop.  A UDP answer is handed to the
 * detector from lwIP's input (udp recv callback): the detector's on_event
 * may run there, and must not feed lwIP's input.
 *
 * @code
 *   tse_lwip_detect_init(&ld, &ds, &cfg);    // cfg.port = &port (its uplink binds)
 *   tse_lwip_detect_start(&ld);
 *   while (!tse_lwip_detect_done(&ld)) {
 *       ethernetif_poll(&uplink); sys_check_timeouts();
 *       tse_lwip_detect_poll(&ld);
 *       // sleep until an interrupt or tse_lwip_detect_next(&ld)
 *   }
 *   r = tse_lwip_detect_result(&ld);  tse_lwip_detect_deinit(&ld);
 * @endcode
 */
#ifndef TSE_LWIP_DETECT_H
#define TSE_LWIP_DETECT_H

#include "lwip/opt.h"
#include "lwip/udp.h"

#include "tse/detect.h"
#include "tse/lwip_port.h"

#ifdef __cplusplus
extern "C" {
#endif

#if !LWIP_UDP
#error "tse/lwip_detect.h needs LWIP_UDP"
#endif

/** Settings of tse_lwip_detect_init(). */
typedef struct tse_lwip_detect_config {
    /** Required: the port whose transport table carries SIP over TCP and
     *  whose uplink the UDP probes are bound to; its clock and entropy are
     *  the detector's. */
    tse_lwip_port *port;
    /** Required: the detector's steps and result. */
    void (*on_event)(void *user, const tse_detect_event *ev);
    /** Optional: start a tunnel probe (a->host, a->port, a->proxy_host);
     *  return TSE_OK or an error (the probe then fails with it). */
    int (*tunnel_start)(void *user, tse_probe_id probe, const tse_detect_action *a);
    /** Optional: stop a tunnel probe the detector no longer needs. */
    void (*tunnel_close)(void *user, tse_probe_id probe);
    void *user;                /**< passed to the three */
} tse_lwip_detect_config;

/** The runner (caller storage; fields private). */
typedef struct tse_lwip_detect {
    /** @privatesection */
    tse_detect det;
    tse_lwip_detect_config cfg;
    struct udp_pcb *udp[TSE_PROBE_COUNT];
    tse_detect_addr local[TSE_PROBE_COUNT];
    tse_port_conn *tcp;
    int tcp_probe, tcp_connected;
    uint8_t out[TSE_DETECT_REQ_MAX];
    size_t out_len, out_off;
    uint32_t udp_sent, udp_recv;   /* datagrams, for the tests */
    uint32_t dns_token[TSE_PROBE_COUNT]; /* a UDP probe's query in flight, 0 none */
    uint16_t dns_port[TSE_PROBE_COUNT];
    const uint8_t *dns_data[TSE_PROBE_COUNT]; /* what to send once resolved */
    size_t dns_len[TSE_PROBE_COUNT];
    struct tse_lwip_detect *dns_next;    /* among the runners waiting for DNS */
    uint32_t resolved, resolve_fail;     /* names, for the tests */
} tse_lwip_detect;

/** @brief Prepare (after tse_lwip_port_init()).  @p s is copied (its
 *  strings are not: keep them until the detection is done).
 *  @param[out] ld   the runner (caller storage)
 *  @param[in]  s    the detector's settings (tse/detect.h)
 *  @param[in]  cfg  the runner's settings (copied)
 *  @return TSE_OK, TSE_ERR_INVALID_ARG, or tse_detect_init()'s error */
int tse_lwip_detect_init(tse_lwip_detect *ld, const tse_detect_settings *s,
                         const tse_lwip_detect_config *cfg);
/** @brief Start the probes (tse_detect_start()) and carry out the first
 *  orders.
 *  @param ld  the runner
 *  @return tse_detect_start()'s result */
int tse_lwip_detect_start(tse_lwip_detect *ld);
/** @brief Carry out the detector's orders, move SIP-over-TCP bytes, fire
 *  its timers.  Call it from the main loop after lwIP's input and timers.
 *  @param ld  the runner
 *  @return TSE_OK or TSE_ERR_INVALID_ARG */
int tse_lwip_detect_poll(tse_lwip_detect *ld);
/** @brief When tse_lwip_detect_poll() must run next at the latest.
 *  @param ld  the runner
 *  @return the time, or TSE_TIME_NEVER */
tse_time_ms tse_lwip_detect_next(const tse_lwip_detect *ld);
/** @brief Whether the result event fired.
 *  @param ld  the runner
 *  @return 1 or 0 */
int tse_lwip_detect_done(const tse_lwip_detect *ld);
/** @brief The result.
 *  @param ld  the runner
 *  @return the result, NULL before it is known */
const tse_detect_result *tse_lwip_detect_result(const tse_lwip_detect *ld);
/** @brief The application's tunnel probe came up.
 *  @param ld     the runner
 *  @param probe  TSE_PROBE_TUNNEL_1 or _2
 *  @return tse_detect_tunnel_up()'s result */
int tse_lwip_detect_tunnel_up(tse_lwip_detect *ld, tse_probe_id probe);
/** @brief The application's tunnel probe failed.
 *  @param ld      the runner
 *  @param probe   TSE_PROBE_TUNNEL_1 or _2
 *  @param err     its TSE_EV_TUNNEL_DOWN error (negative)
 *  @param status  the proxy's HTTP status, or 0
 *  @return tse_detect_probe_failed()'s result */
int tse_lwip_detect_tunnel_failed(tse_lwip_detect *ld, tse_probe_id probe, int err, int status);
/** @brief Close every probe's PCB and connection (tunnels: tunnel_close)
 *  and forget its DNS queries; after it the storage may go even while lwIP
 *  still resolves a name for it.
 *  @param ld  the runner (NULL: nothing) */
void tse_lwip_detect_deinit(tse_lwip_detect *ld);

#ifdef __cplusplus
}
#endif
#endif /* TSE_LWIP_DETECT_H */
