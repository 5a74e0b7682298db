/*
 * lwip_apps.h - small inner applications written against lwIP's raw API,
 * for the lwIP examples (examples/lwip-nosys, examples/lwip-sys) and for
 * tse-cli: what an IMS client would push through the tunnel.
 *
 *   LWAPP_PING      ICMP echo (IPv4), N requests at an interval
 *   LWAPP_SIP       one SIP OPTIONS request over UDP (retransmitted like a
 *                   non-INVITE client transaction, T1 = 500 ms) or TCP;
 *                   reports the final response's status code
 *   LWAPP_TCP_SEND  N pseudo-random bytes (xorshift64*, seeded) sent on a
 *                   TCP connection, SHA-256 (mbed TLS) of what was sent,
 *                   throughput from connect to the last byte acknowledged;
 *                   then a half-close, and whatever the receiver answers
 *                   before closing (e.g. its own SHA-256 in hex) is kept
 *   LWAPP_RTP       an RTP-like UDP stream: 172-byte payloads (12-byte RTP
 *                   header, PCMU, 160 bytes = 20 ms of audio), paced at
 *                   `pps` per second (50 = real time) or, with pps = 0, as
 *                   fast as a window of `window` outstanding packets allows;
 *                   counts what comes back (a UDP echo) by sequence number;
 *                   success: paced, every packet back; flood, any back
 *                   (losses are then a measurement, not a failure)
 *
 * Threading: every lwapp_* function except lwapp_parse_*(), lwapp_spec_default()
 * and lwapp_format() runs in lwIP's context: the main loop with NO_SYS=1;
 * with NO_SYS=0 the tcpip thread (tcpip_callback()) or any thread holding
 * the core lock (LOCK_TCPIP_CORE(), LWIP_TCPIP_CORE_LOCKING).  The
 * applications use no lwIP timers (lwIP's MEMP_NUM_SYS_TIMEOUT is sized for
 * lwIP's own): the host calls lwapp_poll() when it asks (or more often),
 * and the clock is sys_now().  on_done is called once, in lwIP's
 * context (from a PCB callback or from lwapp_poll()), when the application
 * has finished (successfully or not); after it, the result fields may be
 * read from any thread that synchronised with that call.
 *
 * The applications allocate nothing besides lwIP's PCBs and pbufs.
 */
#ifndef LWIP_APPS_H
#define LWIP_APPS_H

#include <stddef.h>
#include <stdint.h>

#include "lwip/opt.h"
#include "lwip/ip_addr.h"
#include "lwip/tcp.h"
#include "lwip/udp.h"
#include "lwip/raw.h"

#include "mbedtls/sha256.h"
#include "tse/rfc4571.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum lwapp_kind {
    LWAPP_NONE = 0,
    LWAPP_PING,
    LWAPP_SIP,
    LWAPP_TCP_SEND,
    LWAPP_RTP,
    LWAPP_RTP_TCP            /**< the RTP-like stream over TCP: RFC 4571 framing,
                                  RTCP muxed (RFC 5761), TR 33.830 W.3 */
} lwapp_kind;

/** The RTP-like stream's UDP payload size (12-byte header + 160 bytes). */
#define LWAPP_RTP_PAYLOAD 172
/** Largest SIP response kept (headers). */
#define LWAPP_SIP_BUF 2048
/** Bytes of the TCP receiver's answer kept. */
#define LWAPP_TCP_REPLY_MAX 128

/** What to run; fill with lwapp_spec_default() then the parsers. */
typedef struct lwapp_spec {
    lwapp_kind kind;
    ip_addr_t addr;          /**< target */
    u16_t port;              /**< target port (not for PING) */
    unsigned count;          /**< PING: requests (default 3) */
    unsigned interval_ms;    /**< PING: between requests (default 1000) */
    int sip_tcp;             /**< SIP: 1 = transport=tcp */
    char sip_uri[128];       /**< SIP: the Request-URI as given */
    uint64_t bytes;          /**< TCP_SEND: bytes to send (default 1 MB) */
    uint64_t seed;           /**< TCP_SEND: PRNG seed (default 1) */
    unsigned seconds;        /**< RTP: stream duration (default 10) */
    unsigned pps;            /**< RTP: packets per second, 0 = flood (default 50) */
    unsigned window;         /**< RTP flood: outstanding packets (default 32) */
    unsigned timeout_ms;     /**< overall limit; 0 = a default per kind */
} lwapp_spec;

typedef struct lwapp lwapp;
typedef void (*lwapp_done_fn)(void *user, lwapp *a);

/** An application instance: caller storage, zeroed by lwapp_start(). */
struct lwapp {
    lwapp_spec spec;
    lwapp_done_fn on_done;
    void *user;
    int done;                /**< set before on_done */
    int ok;                  /**< 1 = the application's own success criterion */
    char error[96];          /**< why not ok ("" if ok) */
    u32_t t_start, t_end;    /**< sys_now() at start and when done */

    /* PING */
    struct raw_pcb *raw;
    unsigned sent, received;
    u32_t rtt_min, rtt_max, rtt_sum;
    u32_t ping_sent_at[64];

    /* SIP */
    struct udp_pcb *udp;
    struct tcp_pcb *tcp;
    int sip_status;          /**< final status code, 0 = none */
    u32_t sip_rtt_ms;
    unsigned sip_retransmits;
    u32_t sip_next_rtx, sip_rtx_interval;
    char sip_callid[40];
    char sip_req[640];
    size_t sip_req_len;
    char sip_buf[LWAPP_SIP_BUF];
    size_t sip_buf_len;

    /* TCP_SEND */
    uint64_t tcp_generated;  /**< bytes produced by the PRNG (and hashed) */
    uint64_t tcp_written;    /**< bytes given to tcp_write() */
    uint64_t tcp_acked;      /**< bytes acknowledged by the peer */
    uint64_t prng;
    u8_t chunk[2048];
    u16_t chunk_off, chunk_len;
    mbedtls_sha256_context sha;
    u8_t sha256[32];
    u32_t t_connected, t_acked;
    int tcp_shut;            /**< FIN sent */
    int tcp_pump_pending;    /**< a retry is due at tcp_retry_at */
    u32_t tcp_retry_at;
    int start_failed;
    char reply[LWAPP_TCP_REPLY_MAX + 1];
    size_t reply_len;
    unsigned tcp_stalls;     /**< tcp_output() refusals (tunnel queue full, no route) */
    unsigned tcp_relinks;    /**< immediate retransmissions after a resume */

    /* RTP */
    unsigned rtp_dups, rtp_bad;
    u32_t rtp_last_rx;       /**< sys_now() of the last packet back */
    unsigned rtp_lost_flood; /**< flood: packets given up on */
    u32_t rtp_send_end;
    u8_t rtp_seen[65536 / 8];
    int rtp_sending;
    unsigned rtp_send_errors;

    /* RTP over TCP */
    u32_t rtp_t0;            /**< elapsed() when the connection came up */
    unsigned rtcp_sent, rtcp_back;
    tse_rfc4571_decoder r4571;
    u8_t r4571_buf[LWAPP_RTP_PAYLOAD];
};

/** @brief Defaults documented on lwapp_spec. */
void lwapp_spec_default(lwapp_spec *s);

/** @brief "A.B.C.D" or "[v6]" / "v6" literal (no DNS), with ":PORT"
 *         required.  @return 0 or -1. */
int lwapp_parse_hostport(const char *s, ip_addr_t *addr, u16_t *port);

/** @brief sip:HOST[:PORT][;transport=tcp|udp] (HOST a literal address,
 *         IPv6 in brackets; port default 5060).  Fills spec->addr, port,
 *         sip_tcp, sip_uri, kind.  @return 0 or -1. */
int lwapp_parse_sip_uri(const char *uri, lwapp_spec *s);

/** @brief Byte count with an optional k/M/G suffix (powers of 1000) or
 *         Ki/Mi/Gi (powers of 1024).  @return 0 or -1. */
int lwapp_parse_bytes(const char *s, uint64_t *out);

/**
 * @brief Start @p spec in lwIP's context.  @p a is zeroed first.  Returns
 *        at once; on_done is called later (never from inside this call,
 *        even when starting fails: then from the next lwapp_poll()).
 * @return 0, or -1 if the spec is invalid (on_done still follows).
 */
int lwapp_start(lwapp *a, const lwapp_spec *spec, lwapp_done_fn on_done,
                void *user);

/** lwapp_lwip_sleeptime() when lwIP's pending timers have nothing to do. */
#define LWAPP_LWIP_IDLE_MS 3600000u

/**
 * @brief How long a NO_SYS=1 host loop may sleep before it calls
 *        sys_check_timeouts() again: sys_timeouts_sleeptime(), except
 *        when every pending lwIP timer is housekeeping with nothing to
 *        do (no fragments in reassembly, no ND6 neighbours, routers or
 *        prefixes, no active TCP PCB): then LWAPP_LWIP_IDLE_MS, so an idle
 *        inner stack costs no wake-up every second (its 1 s cyclic timers
 *        in this configuration).  Assumes the application sets no lwIP
 *        timeouts of its own (these applications don't).  Any input to
 *        lwIP must make the host call sys_check_timeouts() and ask again.
 *        With NO_SYS=0, or a configuration it does not know (other cyclic
 *        timers, no pool statistics), it is sys_timeouts_sleeptime().
 *        lwIP's context.
 * @return milliseconds, or SYS_TIMEOUTS_SLEEPTIME_INFINITE
 */
u32_t lwapp_lwip_sleeptime(void);

/** lwapp_poll()'s answer once the application has finished. */
#define LWAPP_POLL_DONE 0xffffffffu

/**
 * @brief Timers of the application (pacing, retransmissions, time-outs,
 *        retries after the tunnel refused a packet).  lwIP's context.
 * @return milliseconds until it wants to be called again (at most 10,
 *         except the pinger: until its next echo or the end of its wait,
 *         so that it costs no wake-up in between), or LWAPP_POLL_DONE when
 *         finished.  Calling it earlier is harmless.
 */
u32_t lwapp_poll(lwapp *a);

/**
 * @brief The tunnel is up again after a cut (TSE_EV_TUNNEL_UP with
 *        resumed set): a TCP application retransmits what was in flight at
 *        once instead of waiting for lwIP's backed-off retransmission timer
 *        (lwIP-internal tcp_rexmit_rto()).  lwIP's context.  Harmless at any
 *        other time and on an application that has not started (zeroed) or
 *        has finished.
 */
void lwapp_link_up(lwapp *a);

/** @brief Stop early (lwIP's context): close the PCBs; on_done follows
 *         (with ok = 0, error "aborted") if it has not been called yet. */
void lwapp_abort(lwapp *a);

/**
 * @brief One line describing the finished application: text, or one JSON
 *        object ("event": ping_done | sip_reply | tcp_done | rtp_done).
 *        Any thread, after on_done.  @return snprintf's value.
 */
int lwapp_format(const lwapp *a, int json, char *buf, size_t size);

/** @brief Hex of a->sha256 into @p out (65 bytes). */
void lwapp_sha256_hex(const lwapp *a, char out[65]);

#ifdef __cplusplus
}
#endif
#endif /* LWIP_APPS_H */
