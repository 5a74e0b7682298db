/*
 * tscf-server: a reference TSCF (3GPP TR 33.830 clause 8.4, Annex A).
 *
 * One process, one epoll loop, non-blocking sockets, mbed TLS as a TLS
 * server.  Each TCP connection may start with an HTTP CONNECT head (TR
 * 4.8.2: with no proxy on the path the TSCF consumes the CONNECT itself),
 * then TLS; the TLS plaintext is split by libtse's deframer into Control
 * Messages (libtse's CM codec) and inner IPv4/IPv6 packets.
 *
 * Policy decisions (documented in README.md next to this file):
 *  - inner IPv4 netmask sent to clients: the pool's mask (default /24), so
 *    the server address (.1) and the other tunnels are on-link for them;
 *  - Keep_Alive_Interval: the smaller non-zero value of the server's
 *    --keepalive and the client's request (0 = no preference);
 *  - a tunnel silent for keepalive + grace (grace = max(5 s, keepalive/2))
 *    loses its connection and becomes persistent (resumable for --persist);
 *  - a Configuration_Request with the TSID of a tunnel that still has a
 *    connection takes the tunnel over (the old connection is closed): a
 *    client whose TCP was cut comes back before the server notices.
 *
 * --profile ftt serves TS 24.322 instead (ftt.c): envelopes, no control
 * messages; the tunnel is the TLS connection, its address is announced by
 * the server's first packet, and it ends with the connection.
 */
#include "pcap_out.h"
#include "tscf.h"

#include "tse/cm.h"
#include "tse/error.h"
#include "tse/framing.h"
#include "tse/outq.h"
#include "tse_posix.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <mbedtls/version.h>
#if MBEDTLS_VERSION_MAJOR >= 3
#include <mbedtls/build_info.h>
#else
#include <mbedtls/config.h>
#endif
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>
#if defined(MBEDTLS_PSA_CRYPTO_C)
#include <psa/crypto.h>
#endif

/* ------------------------------------------------------------------------ */
/* limits                                                                   */

#define HEAD_MAX 4096            /* CONNECT request head, bytes */
#define HANDSHAKE_TIMEOUT_MS 10000
#define CONFIG_TIMEOUT_MS 10000  /* TLS up -> first Configuration_Request */
#define LINGER_MS 2000           /* close-after-flush: wait for the peer's FIN */
#define DRAIN_MS 3000            /* SIGTERM: time for clients to answer the release */
#define CTRL_RESERVE 1024        /* the control messages' output queue, bytes */
/* Plaintext bytes read per connection per wakeup.  Small enough that the
 * TUN (the replies and ACKs going back) and the downlink are serviced
 * every ~0.5 ms of decryption, not after several ms of one upload: a
 * ping under an upload otherwise waited that long and the downlink
 * real-time queue overflowed with ACKs (docs/bench-tun.md). */
#define READ_BUDGET (32 * 1024)
#define MAX_LISTEN 8
#define TSID_BUCKETS 4096

/* ------------------------------------------------------------------------ */
/* configuration                                                            */

static struct {
    struct sockaddr_storage listen[MAX_LISTEN];
    socklen_t listen_len[MAX_LISTEN];
    int nlisten;
    const char *cert, *key;
    uint8_t pool4[4];
    int plen4;
    uint8_t pool6[16];
    int plen6;       /* 0 = no IPv6 */
    unsigned keepalive;
    unsigned persist;
    unsigned max_tunnels;
    unsigned max_conns;
    const char *tun;
    int echo;
    int log_level;   /* 0 error, 1 warn, 2 info, 3 debug */
    int json_log;
    unsigned stats_interval;
    size_t queue_bytes;
    size_t max_unit;
    tse_sched_settings sched;  /* downlink scheduler (libtse's, docs/scheduler.md) */
    const char *ready_file;
    const char *pcap_file;
    int ftt;         /* --profile ftt: TS 24.322 (ftt.c) */
} cfg;

enum { L_ERROR, L_WARN, L_INFO, L_DEBUG };

/* ------------------------------------------------------------------------ */
/* objects                                                                  */

enum { EV_LISTEN = 1, EV_CONN, EV_TUN, EV_SIGNAL };

enum conn_state {
    CS_NEW,        /* first byte not seen yet */
    CS_HEAD,       /* reading a CONNECT head */
    CS_HANDSHAKE,  /* TLS handshake */
    CS_OPEN,       /* TLS up: CMs and packets */
    CS_LINGER,     /* output flushed, FIN sent, draining until peer FIN */
    CS_DEAD
};

struct tunnel;

struct conn {
    int kind;                  /* EV_CONN: must be first */
    int fd;
    enum conn_state state;
    uint32_t events;           /* registered epoll events */
    char peer[64];
    mbedtls_ssl_context ssl;
    int ssl_inited;
    int tls_wants_write;       /* last TLS call returned WANT_WRITE */
    /* CONNECT head; bytes after it are TLS and are read first */
    uint8_t *head;
    size_t head_len, head_off;
    /* plaintext output: the downlink scheduler's class queues (tse/outq.h),
     * control first, then real-time, then bulk, as the TSE's uplink */
    tse_outq oq;
    uint8_t *out;              /* its storage */
    size_t wr_pending;         /* length handed to mbedtls_ssl_write that returned WANT_WRITE */
    int close_after_flush;
    const char *close_reason;
    /* input */
    tse_deframer df;
    uint8_t *dfbuf;
    struct tunnel *tun;
    int64_t deadline;          /* handshake / configuration / linger deadline */
    int64_t last_rx;
    int again;                 /* read budget exhausted: read again soon */
    int dirty;                 /* on the flush list */
    int draining;              /* shutdown: Release_Request sent, answer awaited */
    struct conn *next, *prev;  /* all connections */
    struct conn *dnext;        /* flush list */
};

struct tunnel {
    uint64_t tsid;
    uint32_t slot;             /* host index in the pools */
    int has_v6;
    uint16_t keepalive;
    struct conn *conn;         /* NULL while persistent */
    int64_t persist_until;
    uint64_t rx_pkts, tx_pkts;
    struct tunnel *hnext;      /* TSID hash chain */
    struct tunnel *next, *prev;
};

struct evsrc {
    int kind;                  /* EV_LISTEN, EV_TUN, EV_SIGNAL */
    int fd;
};

static struct {
    int ep;
    struct evsrc listeners[MAX_LISTEN];
    struct evsrc tun, sig;
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg;
    mbedtls_ssl_config conf;
    mbedtls_x509_crt crt;
    mbedtls_pk_context pk;
    struct conn *conns;
    unsigned nconns;
    unsigned nagain;           /* connections with again set: the loop must not sleep */
    struct conn *dirty;
    struct conn *graveyard;
    struct tunnel *tunnels;
    unsigned ntunnels, npersistent;
    struct tunnel *by_tsid[TSID_BUCKETS];
    struct tunnel **by_slot;   /* pool host index -> tunnel */
    uint32_t nslots;           /* 2^(32 - plen4) */
    uint32_t next_slot;
    int stop;
    int draining;              /* first SIGTERM/SIGINT: releasing the tunnels */
    int64_t drain_until;
    uint32_t release_seq;      /* sequence of our Release_Requests */
    int64_t now;
    int64_t last_sweep;
    int64_t ka_hold_until;     /* no keep-alive timeouts before this (after a stall) */
    struct {
        uint64_t accepted, configured, resumed, released, rejected;
        uint64_t pkts_in, pkts_fwd, pkts_echo, pkts_tun_in, pkts_tun_out;
        uint64_t drop_src, drop_queue, drop_noroute, drop_unconfigured, drop_tun;
    } st;
    pcap_out *pcap;            /* --pcap */
} S;

static int ciphersuites[16];

/* ------------------------------------------------------------------------ */
/* utilities                                                                */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void json_escape(FILE *f, const char *s)
{
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch < 0x20)
            fprintf(f, "\\u%04x", ch);
        else
            fputc(ch, f);
    }
}

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static void logm(int level, const char *peer, const char *fmt, ...)
{
    static const char *names[] = { "error", "warn", "info", "debug" };
    char msg[512], ts[96];
    struct timespec rt;
    struct tm tm;
    va_list ap;

    if (level > cfg.log_level)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    clock_gettime(CLOCK_REALTIME, &rt);
    gmtime_r(&rt.tv_sec, &tm);
    snprintf(ts, sizeof ts, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
             rt.tv_nsec / 1000000);
    if (cfg.json_log) {
        fprintf(stderr, "{\"ts\":\"%s\",\"level\":\"%s\"", ts, names[level]);
        if (peer) {
            fputs(",\"peer\":\"", stderr);
            json_escape(stderr, peer);
            fputc('"', stderr);
        }
        fputs(",\"msg\":\"", stderr);
        json_escape(stderr, msg);
        fputs("\"}\n", stderr);
    } else {
        fprintf(stderr, "%s %-5s %s%s%s\n", ts, names[level], peer ? peer : "",
                peer ? " " : "", msg);
    }
}

static const char *tls_err(int ret, char *buf, size_t cap)
{
#if defined(MBEDTLS_ERROR_C)
    char e[128];
    mbedtls_strerror(ret, e, sizeof e);
    snprintf(buf, cap, "-0x%04x %s", (unsigned)-ret, e);
#else
    snprintf(buf, cap, "-0x%04x", (unsigned)-ret);
#endif
    return buf;
}

static void fmt_addr(const struct sockaddr *sa, char *buf, size_t cap)
{
    char h[INET6_ADDRSTRLEN] = "?";
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)(const void *)sa;
        inet_ntop(AF_INET, &s4->sin_addr, h, sizeof h);
        snprintf(buf, cap, "%s:%u", h, ntohs(s4->sin_port));
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)(const void *)sa;
        inet_ntop(AF_INET6, &s6->sin6_addr, h, sizeof h);
        snprintf(buf, cap, "[%s]:%u", h, ntohs(s6->sin6_port));
    } else {
        snprintf(buf, cap, "?");
    }
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void slot_addr4(uint32_t slot, uint8_t out[4])
{
    uint32_t a = be32(cfg.pool4) + slot;
    out[0] = (uint8_t)(a >> 24);
    out[1] = (uint8_t)(a >> 16);
    out[2] = (uint8_t)(a >> 8);
    out[3] = (uint8_t)a;
}

/* IPv6 address of a slot: the pool6 prefix with the slot in the low 32 bits. */
static void slot_addr6(uint32_t slot, uint8_t out[16])
{
    memcpy(out, cfg.pool6, 16);
    out[12] |= (uint8_t)(slot >> 24);
    out[13] |= (uint8_t)(slot >> 16);
    out[14] |= (uint8_t)(slot >> 8);
    out[15] |= (uint8_t)slot;
}

static void mask_of(int plen, uint8_t *out, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        int bits = plen - (int)i * 8;
        out[i] = bits >= 8 ? 0xFF : bits <= 0 ? 0 : (uint8_t)(0xFF << (8 - bits));
    }
}

/* Slot of an IPv4 address in the pool, or -1. */
static int64_t slot_of4(const uint8_t a[4])
{
    uint32_t mask = cfg.plen4 ? 0xFFFFFFFFu << (32 - cfg.plen4) : 0;
    uint32_t v = be32(a);
    if ((v & mask) != be32(cfg.pool4))
        return -1;
    return (int64_t)(v & ~mask);
}

static int64_t slot_of6(const uint8_t a[16])
{
    uint8_t m[16];
    int i;
    uint32_t low;
    if (!cfg.plen6)
        return -1;
    mask_of(cfg.plen6, m, 16);
    for (i = 0; i < 16; i++)
        if ((a[i] & m[i]) != cfg.pool6[i])
            return -1;
    for (i = 0; i < 12; i++)
        if (a[i] & ~m[i])
            return -1; /* host bits above the low 32: not one of ours */
    low = be32(a + 12) & ~be32(m + 12);
    return low < S.nslots ? (int64_t)low : -1;
}

/* ------------------------------------------------------------------------ */
/* tunnels                                                                  */

static struct tunnel *tsid_find(uint64_t tsid)
{
    struct tunnel *t = S.by_tsid[tsid % TSID_BUCKETS];
    while (t && t->tsid != tsid)
        t = t->hnext;
    return t;
}

static void tunnel_free(struct tunnel *t, const char *why)
{
    struct tunnel **pp = &S.by_tsid[t->tsid % TSID_BUCKETS];
    uint8_t a[4];
    char as[INET_ADDRSTRLEN];
    while (*pp != t)
        pp = &(*pp)->hnext;
    *pp = t->hnext;
    if (t->prev)
        t->prev->next = t->next;
    else
        S.tunnels = t->next;
    if (t->next)
        t->next->prev = t->prev;
    S.by_slot[t->slot] = NULL;
    if (!t->conn)
        S.npersistent--;
    else
        t->conn->tun = NULL;
    S.ntunnels--;
    slot_addr4(t->slot, a);
    inet_ntop(AF_INET, a, as, sizeof as);
    logm(L_INFO, t->conn ? t->conn->peer : NULL, "tunnel %016llx (%s) freed: %s",
         (unsigned long long)t->tsid, as, why);
    free(t);
}

static int slot_usable(uint32_t s)
{
    /* network (0), the server's own address (1) and broadcast are not given */
    return s >= 2 && s < S.nslots - 1 && !S.by_slot[s];
}

static struct tunnel *tunnel_new(const uint8_t *want4)
{
    struct tunnel *t;
    uint32_t slot = 0, i;
    uint64_t tsid = 0;
    int found = 0;

    if (want4) {
        int64_t s = slot_of4(want4);
        if (s >= 0 && slot_usable((uint32_t)s)) {
            slot = (uint32_t)s;
            found = 1;
        }
    }
    /* round robin from the last one given, so freed addresses rest a while */
    for (i = 0; !found && i < S.nslots; i++) {
        uint32_t s = (S.next_slot + i) % S.nslots;
        if (slot_usable(s)) {
            slot = s;
            found = 1;
            S.next_slot = s + 1;
        }
    }
    if (!found)
        return NULL;
    do {
        if (mbedtls_ctr_drbg_random(&S.drbg, (unsigned char *)&tsid, sizeof tsid) != 0)
            return NULL;
    } while (tsid == TSE_CM_TSID_NONE || tsid == 0 || tsid_find(tsid));
    t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->tsid = tsid;
    t->slot = slot;
    t->hnext = S.by_tsid[tsid % TSID_BUCKETS];
    S.by_tsid[tsid % TSID_BUCKETS] = t;
    t->next = S.tunnels;
    if (S.tunnels)
        S.tunnels->prev = t;
    S.tunnels = t;
    S.by_slot[slot] = t;
    S.ntunnels++;
    return t;
}

/* ------------------------------------------------------------------------ */
/* connections: epoll interest, output, close                               */

static void conn_update_events(struct conn *c)
{
    struct epoll_event ev;
    uint32_t want = EPOLLIN;
    if (c->state == CS_DEAD)
        return;
    if (c->tls_wants_write || c->wr_pending ||
        (c->state == CS_OPEN && tse_outq_queued(&c->oq, TSE_CLASS_COUNT)))
        want |= EPOLLOUT;
    if (want == c->events)
        return;
    memset(&ev, 0, sizeof ev);
    ev.events = want;
    ev.data.ptr = c;
    if (epoll_ctl(S.ep, EPOLL_CTL_MOD, c->fd, &ev) == 0)
        c->events = want;
}

static void conn_close(struct conn *c, const char *reason)
{
    if (c->state == CS_DEAD)
        return;
    logm(L_INFO, c->peer, "closed: %s", reason);
    if (c->tun) {
        struct tunnel *t = c->tun;
        t->conn = NULL;
        c->tun = NULL;
        if (cfg.persist && !cfg.ftt) {
            t->persist_until = S.now + (int64_t)cfg.persist * 1000;
            S.npersistent++;
            logm(L_INFO, c->peer, "tunnel %016llx persistent for %u s",
                 (unsigned long long)t->tsid, cfg.persist);
        } else {
            S.npersistent++; /* tunnel_free() counts it down */
            tunnel_free(t, cfg.ftt ? "connection closed (FTT: the tunnel is the connection)"
                                   : "connection closed and --persist is 0");
        }
    }
    if (c->again) {
        c->again = 0;
        S.nagain--;
    }
    epoll_ctl(S.ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->fd = -1;
    c->state = CS_DEAD;
    if (c->prev)
        c->prev->next = c->next;
    else
        S.conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    S.nconns--;
    /* freed after the current event batch: callers up the stack may still
     * hold the pointer */
    c->next = S.graveyard;
    S.graveyard = c;
}

static void conn_destroy(struct conn *c)
{
    if (c->ssl_inited)
        mbedtls_ssl_free(&c->ssl);
    free(c->head);
    free(c->out);
    free(c->dfbuf);
    free(c);
}

static void mark_dirty(struct conn *c)
{
    if (!c->dirty && c->state != CS_DEAD) {
        c->dirty = 1;
        c->dnext = S.dirty;
        S.dirty = c;
    }
}

/* Queue one unit for sending, in its class.  Control messages have their
 * own queue; a full one means the client reads nothing, and it is closed.
 * Inner packets are dropped (counted) when their class is full, so a slow
 * client cannot grow our memory. */
static int conn_enqueue(struct conn *c, const uint8_t *p, size_t len, int control)
{
    tse_class cls;
    int rc;
    if (c->state != CS_OPEN || c->close_after_flush)
        return -1;
    cls = control ? TSE_CLASS_CONTROL : tse_outq_classify(&c->oq, p, len);
    if (cfg.ftt && !control) {
        uint8_t env[TSCF_FTT_ENVELOPE_LEN];
        tscf_ftt_envelope(env, len);
        rc = tse_outq_push_framed(&c->oq, cls, env, sizeof env, p, len, (uint32_t)S.now);
    } else {
        rc = tse_outq_push(&c->oq, cls, p, len, (uint32_t)S.now);
    }
    if (rc != TSE_OK) {
        if (control)
            conn_close(c, "output queue full of unread control messages");
        else
            S.st.drop_queue++;
        return -1;
    }
    mark_dirty(c);
    if (control)
        pcap_out_cm(S.pcap, PCAP_OUT_OUT, p, len);
    else
        pcap_out_packet(S.pcap, PCAP_OUT_OUT, p, len);
    return 0;
}

static void conn_linger(struct conn *c)
{
    shutdown(c->fd, SHUT_WR);
    c->state = CS_LINGER;
    c->deadline = S.now + LINGER_MS;
    c->tls_wants_write = 0;
    conn_update_events(c);
}

static void conn_flush(struct conn *c)
{
    /* bounded: each round writes a record or stops */
    for (int guard = 0; guard < 256 && c->state == CS_OPEN; guard++) {
        const uint8_t *p = NULL;
        tse_class cls;
        /* the socket is the TLS BIO here: TCP_NOTSENT_LOWAT (set at
         * accept) makes it refuse early, so what goes next is chosen here
         * rather than queued in the kernel */
        size_t chunk = tse_outq_peek(&c->oq, (uint32_t)S.now, 16384, 16384, &p, &cls);
        int ret;
        if (chunk == 0)
            break;
        ret = mbedtls_ssl_write(&c->ssl, p, chunk);
        if (ret == MBEDTLS_ERR_SSL_WANT_WRITE || ret == MBEDTLS_ERR_SSL_WANT_READ) {
            tse_outq_pin(&c->oq); /* mbed TLS wants the same data again */
            c->wr_pending = chunk;
            c->tls_wants_write = ret == MBEDTLS_ERR_SSL_WANT_WRITE;
            break;
        }
        if (ret < 0) {
            char e[160];
            char reason[200];
            snprintf(reason, sizeof reason, "TLS write: %s", tls_err(ret, e, sizeof e));
            conn_close(c, reason);
            return;
        }
        c->wr_pending = 0;
        c->tls_wants_write = 0;
        tse_outq_commit(&c->oq, (size_t)ret);
    }
    if (c->state == CS_OPEN && c->close_after_flush &&
        !tse_outq_queued(&c->oq, TSE_CLASS_COUNT) && !c->wr_pending) {
        int ret = mbedtls_ssl_close_notify(&c->ssl); /* best effort */
        (void)ret;
        logm(L_DEBUG, c->peer, "flushed, closing: %s", c->close_reason);
        conn_linger(c);
        return;
    }
    conn_update_events(c);
}

/* ------------------------------------------------------------------------ */
/* control messages                                                         */

static void send_cm(struct conn *c, const tse_cm *m)
{
    uint8_t buf[TSE_CM_MAX_ENCODED];
    size_t n = 0;
    int rc = tse_cm_encode(m, buf, sizeof buf, &n);
    if (rc != TSE_OK) {
        logm(L_ERROR, c->peer, "encode %s: %s", tse_cm_type_name(m->type), tse_strerror(rc));
        conn_close(c, "internal encode error");
        return;
    }
    logm(L_DEBUG, c->peer, "-> %s tsid=%016llx seq=%u rc=%d", tse_cm_type_name(m->type),
         (unsigned long long)m->tsid, (unsigned)m->seq,
         (m->present & TSE_CM_HAS_RESPONSE_CODE) ? m->response_code : -1);
    conn_enqueue(c, buf, n, 1);
}

static void send_reject(struct conn *c, uint8_t type, uint64_t tsid, uint32_t seq,
                        uint16_t code, int close_after)
{
    tse_cm r;
    memset(&r, 0, sizeof r);
    r.type = type;
    r.tsid = tsid;
    r.seq = seq;
    r.present = TSE_CM_HAS_RESPONSE_CODE;
    r.response_code = code;
    S.st.rejected++;
    send_cm(c, &r);
    if (close_after && c->state == CS_OPEN) {
        c->close_after_flush = 1;
        c->deadline = S.now + 2 * LINGER_MS; /* a client that never reads */
        c->close_reason = code == TSE_RC_NO_RESOURCES ? "rejected: out of tunnel resources"
                        : code == TSE_RC_VERSION_NOT_SUPPORTED ? "rejected: version not supported"
                        : "rejected";
    }
}

static uint16_t negotiate_keepalive(const tse_cm *req)
{
    unsigned ka = cfg.keepalive;
    if ((req->present & TSE_CM_HAS_KEEPALIVE) && req->keepalive_s &&
        (ka == 0 || req->keepalive_s < ka))
        ka = req->keepalive_s;
    return (uint16_t)ka;
}

static void send_config_ok(struct conn *c, struct tunnel *t, uint32_t seq)
{
    tse_cm r;
    memset(&r, 0, sizeof r);
    r.type = TSE_CM_CONFIG_RESPONSE;
    r.tsid = t->tsid;
    r.seq = seq;
    r.present = TSE_CM_HAS_RESPONSE_CODE | TSE_CM_HAS_IPV4_ADDRESS | TSE_CM_HAS_IPV4_NETMASK |
                TSE_CM_HAS_KEEPALIVE;
    r.response_code = TSE_RC_SUCCESS;
    slot_addr4(t->slot, r.ipv4_addr);
    mask_of(cfg.plen4, r.ipv4_mask, 4);
    if (t->has_v6) {
        r.present |= TSE_CM_HAS_IPV6_ADDRESS | TSE_CM_HAS_IPV6_NETMASK;
        slot_addr6(t->slot, r.ipv6_addr);
        mask_of(cfg.plen6, r.ipv6_mask, 16);
    }
    r.keepalive_s = t->keepalive;
    send_cm(c, &r);
}

static void attach(struct conn *c, struct tunnel *t)
{
    t->conn = c;
    c->tun = t;
    c->deadline = 0;
}

static void describe(struct tunnel *t, char *buf, size_t cap)
{
    uint8_t a[16];
    char s4[INET_ADDRSTRLEN], s6[INET6_ADDRSTRLEN] = "";
    slot_addr4(t->slot, a);
    inet_ntop(AF_INET, a, s4, sizeof s4);
    if (t->has_v6) {
        slot_addr6(t->slot, a);
        inet_ntop(AF_INET6, a, s6, sizeof s6);
    }
    snprintf(buf, cap, "tsid=%016llx addr=%s/%d%s%s keepalive=%u", (unsigned long long)t->tsid,
             s4, cfg.plen4, t->has_v6 ? " addr6=" : "", s6, t->keepalive);
}

/* TR 33.830 A.1.4: a message without the expected TSID is dropped and the
 * tunnel terminated. */
static void terminate_tsid(struct conn *c, const tse_cm *m)
{
    char reason[160];
    snprintf(reason, sizeof reason, "%s with unexpected TSID %016llx (A.1.4)",
             tse_cm_type_name(m->type), (unsigned long long)m->tsid);
    if (c->tun)
        tunnel_free(c->tun, reason);
    conn_close(c, reason);
}

static void handle_config(struct conn *c, const tse_cm *m)
{
    struct tunnel *t;
    char d[160];

    if (m->tsid == TSE_CM_TSID_NONE) {
        const uint8_t *want = NULL;
        static const uint8_t zero[4];
        if (c->tun) {
            terminate_tsid(c, m); /* a second tunnel on one connection */
            return;
        }
        if (S.ntunnels >= cfg.max_tunnels) {
            logm(L_WARN, c->peer, "Configuration_Request rejected: %u tunnels (--max-tunnels)",
                 S.ntunnels);
            send_reject(c, TSE_CM_CONFIG_RESPONSE, m->tsid, m->seq, TSE_RC_NO_RESOURCES, 1);
            return;
        }
        if ((m->present & TSE_CM_HAS_IPV4_ADDRESS) && memcmp(m->ipv4_addr, zero, 4) != 0)
            want = m->ipv4_addr;
        t = tunnel_new(want);
        if (!t) {
            logm(L_WARN, c->peer, "Configuration_Request rejected: address pool exhausted");
            send_reject(c, TSE_CM_CONFIG_RESPONSE, m->tsid, m->seq, TSE_RC_NO_RESOURCES, 1);
            return;
        }
        t->has_v6 = cfg.plen6 && (m->present & TSE_CM_HAS_IPV6_ADDRESS);
        t->keepalive = negotiate_keepalive(m);
        attach(c, t);
        S.st.configured++;
        describe(t, d, sizeof d);
        logm(L_INFO, c->peer, "configured %s", d);
        send_config_ok(c, t, m->seq);
        return;
    }

    t = tsid_find(m->tsid);
    if (c->tun) {
        if (t == c->tun) {
            send_config_ok(c, t, m->seq); /* a retransmission: same answer */
            return;
        }
        terminate_tsid(c, m);
        return;
    }
    if (!t) {
        logm(L_WARN, c->peer, "Configuration_Request for unknown TSID %016llx: Response_Code 1",
             (unsigned long long)m->tsid);
        send_reject(c, TSE_CM_CONFIG_RESPONSE, m->tsid, m->seq, TSE_RC_INVALID_TSID, 0);
        return;
    }
    if (t->conn) {
        struct conn *old = t->conn;
        logm(L_INFO, c->peer, "tunnel %016llx taken over from %s", (unsigned long long)t->tsid,
             old->peer);
        t->conn = NULL;
        old->tun = NULL;
        conn_close(old, "superseded by a resumed connection");
    } else {
        S.npersistent--;
    }
    if (m->present & TSE_CM_HAS_KEEPALIVE)
        t->keepalive = negotiate_keepalive(m);
    attach(c, t);
    S.st.resumed++;
    describe(t, d, sizeof d);
    logm(L_INFO, c->peer, "resumed %s", d);
    send_config_ok(c, t, m->seq);
}

static void handle_cm(struct conn *c, const uint8_t *p, size_t len)
{
    tse_cm m;
    int rc = tse_cm_decode(&m, p, len);
    if (rc != TSE_OK) {
        char reason[160];
        snprintf(reason, sizeof reason, "malformed control message: %s", tse_strerror(rc));
        conn_close(c, reason);
        return;
    }
    logm(L_DEBUG, c->peer, "<- %s tsid=%016llx seq=%u", tse_cm_type_name(m.type),
         (unsigned long long)m.tsid, (unsigned)m.seq);
    switch (m.type) {
    case TSE_CM_CONFIG_REQUEST:
        handle_config(c, &m);
        break;
    case TSE_CM_KEEPALIVE:
        if (!c->tun || m.tsid != c->tun->tsid) {
            terminate_tsid(c, &m);
            return;
        }
        {
            tse_cm r;
            memset(&r, 0, sizeof r);
            r.type = TSE_CM_KEEPALIVE_RESPONSE; /* table A.1.8-2: TLV_Count 0 */
            r.tsid = m.tsid;
            r.seq = m.seq;
            send_cm(c, &r);
        }
        break;
    case TSE_CM_RELEASE_REQUEST:
        if (!c->tun) {
            send_reject(c, TSE_CM_RELEASE_RESPONSE, m.tsid, m.seq, TSE_RC_INVALID_TSID, 0);
            return;
        }
        if (m.tsid != c->tun->tsid) {
            terminate_tsid(c, &m);
            return;
        }
        {
            tse_cm r;
            memset(&r, 0, sizeof r);
            r.type = TSE_CM_RELEASE_RESPONSE;
            r.tsid = m.tsid;
            r.seq = m.seq;
            r.present = TSE_CM_HAS_RESPONSE_CODE;
            r.response_code = TSE_RC_SUCCESS;
            send_cm(c, &r);
            S.st.released++;
            tunnel_free(c->tun, "released by the client");
            c->close_after_flush = 1;
            c->close_reason = "tunnel released";
            c->deadline = S.now + 2 * LINGER_MS; /* a client that never reads */
        }
        break;
    case TSE_CM_RELEASE_RESPONSE:
        if (c->draining && c->tun && m.tsid == c->tun->tsid) {
            /* the answer to our shutdown release (A.1.7) */
            S.st.released++;
            tunnel_free(c->tun, "released on shutdown");
            c->close_after_flush = 1;
            c->close_reason = "tunnel released on shutdown";
            c->deadline = S.now + LINGER_MS;
            break;
        }
        logm(L_WARN, c->peer, "unexpected %s ignored", tse_cm_type_name(m.type));
        break;
    default:
        /* responses (2, 8): we never send those requests */
        logm(L_WARN, c->peer, "unexpected %s ignored", tse_cm_type_name(m.type));
        break;
    }
}

/* ------------------------------------------------------------------------ */
/* inner packets                                                            */

static void deliver_local(struct conn *from, uint8_t *pkt, size_t len)
{
    if (S.tun.fd >= 0) {
        if (write(S.tun.fd, pkt, len) == (ssize_t)len)
            S.st.pkts_tun_out++;
        else
            S.st.drop_tun++;
        return;
    }
    if (cfg.echo && from) {
        if (tscf_echo_reply(pkt, len)) { /* in place: pkt is our copy */
            if (conn_enqueue(from, pkt, len, 0) == 0) {
                S.st.pkts_echo++;
                from->tun->tx_pkts++;
            }
            return;
        }
    }
    S.st.drop_noroute++;
}

/* Route a packet by destination: to a tunnel of the pool, or locally (TUN,
 * echo responder).  @p from is the sending connection (NULL from TUN). */
static void route(struct conn *from, uint8_t *pkt, size_t len, int v6)
{
    int64_t slot = v6 ? slot_of6(pkt + 24) : slot_of4(pkt + 16);
    if (slot >= 0 && slot != 1) {
        struct tunnel *t = S.by_slot[slot];
        if (!t || !t->conn || (v6 && !t->has_v6)) {
            S.st.drop_noroute++; /* unassigned, or persistent with no connection */
            return;
        }
        if (conn_enqueue(t->conn, pkt, len, 0) == 0) {
            t->tx_pkts++;
            if (from)
                S.st.pkts_fwd++;
        }
        return;
    }
    if (!from) {
        S.st.drop_noroute++; /* from TUN to a non-tunnel address */
        return;
    }
    deliver_local(from, pkt, len);
}

static void handle_packet(struct conn *c, const uint8_t *p, size_t len, int kind)
{
    uint8_t pkt[65535];
    struct tunnel *t = c->tun;
    int v6 = kind == TSE_UNIT_IPV6;
    uint8_t a[16];

    S.st.pkts_in++;
    if (!t) {
        S.st.drop_unconfigured++;
        return;
    }
    if ((!v6 && len < 20) || (v6 && len < 40)) {
        S.st.drop_src++;
        return;
    }
    /* the source must be the tunnel's own inner address */
    if (v6) {
        if (!t->has_v6) {
            S.st.drop_src++;
            return;
        }
        slot_addr6(t->slot, a);
        if (memcmp(p + 8, a, 16) != 0) {
            S.st.drop_src++;
            return;
        }
    } else {
        slot_addr4(t->slot, a);
        if (memcmp(p + 12, a, 4) != 0) {
            S.st.drop_src++;
            return;
        }
    }
    t->rx_pkts++;
    memcpy(pkt, p, len);
    route(c, pkt, len, v6);
}

/* A CM header whose first nibble is neither 1, 4 nor 6 stops the deframer.
 * When it is otherwise a request we can answer (a Configuration_Request,
 * Keep_Alive or Release with a 16-byte header in hand), say
 * Version_Not_Supported before closing (table A.1.5-2, code 5). */
static int answer_bad_version(struct conn *c, const uint8_t *p, size_t len)
{
    uint8_t v = p[0] >> 4, type, rtype;
    uint64_t tsid = 0;
    int i;
    if (v == 1 || v == 4 || v == 6 || len < TSE_CM_HEADER_LEN)
        return 0;
    type = p[1];
    if (type == TSE_CM_CONFIG_REQUEST)
        rtype = TSE_CM_CONFIG_RESPONSE;
    else if (type == TSE_CM_RELEASE_REQUEST)
        rtype = TSE_CM_RELEASE_RESPONSE;
    else if (type == TSE_CM_KEEPALIVE)
        rtype = TSE_CM_KEEPALIVE_RESPONSE;
    else
        return 0;
    for (i = 4; i < 12; i++)
        tsid = tsid << 8 | p[i];
    logm(L_WARN, c->peer, "CM_Version %u: Response_Code 5", v);
    send_reject(c, rtype, tsid, be32(p + 12), TSE_RC_VERSION_NOT_SUPPORTED, 1);
    return 1;
}

static void handle_plain(struct conn *c, const uint8_t *p, size_t len)
{
    while (len && c->state == CS_OPEN && !c->close_after_flush) {
        size_t used = 0;
        tse_unit u;
        int rc;
        if (!cfg.ftt && tse_deframer_pending(&c->df) == 0 && answer_bad_version(c, p, len))
            return;
        rc = tse_deframer_feed(&c->df, p, len, &used, &u);
        p += used;
        len -= used;
        if (rc < 0) {
            char reason[160];
            snprintf(reason, sizeof reason, "framing error: %s", tse_strerror(rc));
            conn_close(c, reason);
            return;
        }
        if (rc == 0)
            break;
        if (u.kind == TSE_UNIT_CM) {
            pcap_out_cm(S.pcap, PCAP_OUT_IN, u.data, u.len);
            handle_cm(c, u.data, u.len);
        } else {
            pcap_out_packet(S.pcap, PCAP_OUT_IN, u.data, u.len);
            handle_packet(c, u.data, u.len, u.kind);
        }
    }
}

/* ------------------------------------------------------------------------ */
/* TLS and connection I/O                                                   */

static int bio_send(void *ctx, const unsigned char *buf, size_t len)
{
    struct conn *c = ctx;
    ssize_t n = send(c->fd, buf, len, MSG_NOSIGNAL);
    if (n >= 0)
        return (int)n;
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
        return MBEDTLS_ERR_SSL_WANT_WRITE;
    if (errno == EPIPE || errno == ECONNRESET)
        return MBEDTLS_ERR_NET_CONN_RESET;
    return MBEDTLS_ERR_NET_SEND_FAILED;
}

static int bio_recv(void *ctx, unsigned char *buf, size_t len)
{
    struct conn *c = ctx;
    ssize_t n;
    if (c->head) {
        /* bytes that followed the CONNECT head belong to TLS */
        size_t avail = c->head_len - c->head_off;
        if (avail) {
            if (len > avail)
                len = avail;
            memcpy(buf, c->head + c->head_off, len);
            c->head_off += len;
            if (c->head_off == c->head_len) {
                free(c->head);
                c->head = NULL;
            }
            return (int)len;
        }
        free(c->head);
        c->head = NULL;
    }
    n = recv(c->fd, buf, len, 0);
    if (n >= 0)
        return (int)n;
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
        return MBEDTLS_ERR_SSL_WANT_READ;
    if (errno == ECONNRESET)
        return MBEDTLS_ERR_NET_CONN_RESET;
    return MBEDTLS_ERR_NET_RECV_FAILED;
}

static void conn_read(struct conn *c);

static void start_tls(struct conn *c)
{
    int ret;
    mbedtls_ssl_init(&c->ssl);
    c->ssl_inited = 1;
    ret = mbedtls_ssl_setup(&c->ssl, &S.conf);
    if (ret != 0) {
        char e[160], reason[200];
        snprintf(reason, sizeof reason, "TLS setup: %s", tls_err(ret, e, sizeof e));
        conn_close(c, reason);
        return;
    }
    mbedtls_ssl_set_bio(&c->ssl, c, bio_send, bio_recv, NULL);
    c->state = CS_HANDSHAKE;
    c->deadline = S.now + HANDSHAKE_TIMEOUT_MS;
}

/* TLS is up: the connection's output queues and deframer, then CS_OPEN,
 * where handle_plain() takes what the client sends.  Touches no socket:
 * test/fuzz/fuzz_tscf_cm.c opens connections without one this way.
 * Returns -1 when out of memory (the caller closes). */
static int conn_open(struct conn *c)
{
    c->out = malloc(tse_outq_footprint(CTRL_RESERVE, cfg.sched.rt_queue_size,
                                       cfg.queue_bytes));
    /* FTT: the deframer's cap counts the envelope (tse/framing.h) */
    size_t cap = cfg.max_unit + (cfg.ftt ? TSCF_FTT_ENVELOPE_LEN : 0);
    c->dfbuf = malloc(cap);
    if (c->out)
        tse_outq_init(&c->oq, &cfg.sched, c->out, CTRL_RESERVE,
                      cfg.sched.rt_queue_size, cfg.queue_bytes);
    if (!c->out || !c->dfbuf ||
        tse_deframer_init(&c->df, cfg.ftt ? TSE_FRAMING_FTT : TSE_FRAMING_TSCF, c->dfbuf,
                          cap) != TSE_OK)
        return -1;
    c->state = CS_OPEN;
    c->deadline = S.now + CONFIG_TIMEOUT_MS;
    c->last_rx = S.now;
    return 0;
}

/* FTT: TLS is up, so is the tunnel (TS 24.322 has no configuration
 * exchange): a pool address, announced by the first packet (ftt.c). */
static void ftt_open(struct conn *c)
{
    struct tunnel *t;
    uint8_t pkt[TSCF_FTT_ANNOUNCE_LEN], me[4], you[4];
    char d[160];
    if (S.ntunnels >= cfg.max_tunnels || !(t = tunnel_new(NULL))) {
        logm(L_WARN, c->peer, "FTT connection refused: %s",
             S.ntunnels >= cfg.max_tunnels ? "--max-tunnels reached" : "address pool exhausted");
        conn_close(c, "out of tunnel resources");
        return;
    }
    attach(c, t);
    S.st.configured++;
    describe(t, d, sizeof d);
    logm(L_INFO, c->peer, "FTT tunnel up: %s", d);
    slot_addr4(1, me);
    slot_addr4(t->slot, you);
    tscf_ftt_announce(pkt, me, you, (uint16_t)S.st.configured);
    if (conn_enqueue(c, pkt, sizeof pkt, 0) == 0)
        t->tx_pkts++;
}

static void do_handshake(struct conn *c)
{
    int ret = mbedtls_ssl_handshake(&c->ssl);
    if (ret == MBEDTLS_ERR_SSL_WANT_READ || ret == MBEDTLS_ERR_SSL_WANT_WRITE) {
        c->tls_wants_write = ret == MBEDTLS_ERR_SSL_WANT_WRITE;
        conn_update_events(c);
        return;
    }
    c->tls_wants_write = 0;
    if (ret != 0) {
        char e[160], reason[200];
        snprintf(reason, sizeof reason, "TLS handshake failed: %s", tls_err(ret, e, sizeof e));
        conn_close(c, reason);
        return;
    }
    if (conn_open(c) < 0) {
        conn_close(c, "out of memory");
        return;
    }
    logm(L_INFO, c->peer, "TLS up: %s %s", mbedtls_ssl_get_version(&c->ssl),
         mbedtls_ssl_get_ciphersuite(&c->ssl));
    if (cfg.ftt) {
        ftt_open(c);
        if (c->state == CS_DEAD)
            return;
    }
    conn_update_events(c);
    conn_read(c); /* records may already be buffered */
}

/* CS_HEAD: read the CONNECT head (bounded), answer 200, go on with TLS. */
static void read_head(struct conn *c)
{
    static const char ok[] = "HTTP/1.1 200 Connection established\r\n\r\n";
    static const char bad[] = "HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n";
    ssize_t n;
    size_t i, end = 0;
    char line[128];

    if (!c->head && !(c->head = malloc(HEAD_MAX))) {
        conn_close(c, "out of memory");
        return;
    }
    n = recv(c->fd, c->head + c->head_len, HEAD_MAX - c->head_len, 0);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (n <= 0) {
        conn_close(c, n == 0 ? "peer closed during CONNECT head" : "read error in CONNECT head");
        return;
    }
    /* search from a little before the new bytes for the blank line */
    i = c->head_len >= 3 ? c->head_len - 3 : 0;
    c->head_len += (size_t)n;
    for (; i + 4 <= c->head_len; i++) {
        if (memcmp(c->head + i, "\r\n\r\n", 4) == 0) {
            end = i + 4;
            break;
        }
    }
    if (!end) {
        if (c->head_len == HEAD_MAX) {
            (void)!send(c->fd, bad, sizeof bad - 1, MSG_NOSIGNAL);
            conn_close(c, "CONNECT head above 4096 bytes");
        }
        return;
    }
    for (i = 0; i < sizeof line - 1 && i < end && c->head[i] != '\r'; i++)
        line[i] = (char)c->head[i];
    line[i] = 0;
    if (strncmp(line, "CONNECT ", 8) != 0 || !strstr(line, " HTTP/1.")) {
        (void)!send(c->fd, bad, sizeof bad - 1, MSG_NOSIGNAL);
        conn_close(c, "not a CONNECT request");
        return;
    }
    if (send(c->fd, ok, sizeof ok - 1, MSG_NOSIGNAL) != (ssize_t)(sizeof ok - 1)) {
        conn_close(c, "cannot answer CONNECT");
        return;
    }
    logm(L_INFO, c->peer, "consumed '%s'", line);
    c->head_off = end;
    if (c->head_off == c->head_len) {
        free(c->head);
        c->head = NULL;
        c->head_len = c->head_off = 0;
    }
    start_tls(c);
    if (c->state == CS_HANDSHAKE)
        do_handshake(c);
}

static void conn_read(struct conn *c)
{
    uint8_t buf[16384 + 64];
    size_t total = 0;
    if (c->again) {
        c->again = 0;
        S.nagain--;
    }
    while (c->state == CS_OPEN) {
        int ret = mbedtls_ssl_read(&c->ssl, buf, sizeof buf);
        if (ret > 0) {
            c->last_rx = S.now;
            handle_plain(c, buf, (size_t)ret);
            total += (size_t)ret;
            if (total >= READ_BUDGET) {
                if (c->state == CS_OPEN) { /* handle_plain() may have closed it */
                    c->again = 1; /* fairness: come back after the others */
                    S.nagain++;
                }
                break;
            }
            continue;
        }
        if (ret == MBEDTLS_ERR_SSL_WANT_READ || ret == MBEDTLS_ERR_SSL_WANT_WRITE) {
            c->tls_wants_write = ret == MBEDTLS_ERR_SSL_WANT_WRITE;
            break;
        }
        if (ret == 0 || ret == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY) {
            conn_close(c, ret == 0 ? "peer closed the TCP connection" : "peer sent close_notify");
            return;
        }
#ifdef MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET
        if (ret == MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET)
            continue;
#endif
        {
            char e[160], reason[200];
            snprintf(reason, sizeof reason, "TLS read: %s", tls_err(ret, e, sizeof e));
            conn_close(c, reason);
            return;
        }
    }
    if (c->state == CS_OPEN)
        mark_dirty(c);
}

static void conn_event(struct conn *c, uint32_t ev)
{
    switch (c->state) {
    case CS_NEW: {
        uint8_t b;
        ssize_t n = recv(c->fd, &b, 1, MSG_PEEK);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        if (n <= 0) {
            conn_close(c, "closed before sending anything");
            return;
        }
        if (b == 'C') {
            c->state = CS_HEAD;
            read_head(c);
        } else if (b == 0x16) {
            start_tls(c);
            if (c->state == CS_HANDSHAKE)
                do_handshake(c);
        } else {
            conn_close(c, "neither a TLS handshake nor CONNECT");
        }
        return;
    }
    case CS_HEAD:
        read_head(c);
        return;
    case CS_HANDSHAKE:
        do_handshake(c);
        return;
    case CS_OPEN:
        if (ev & EPOLLOUT)
            conn_flush(c);
        /* a TLS read that wanted to write is retried when writable */
        if (c->state == CS_OPEN && ((ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) || c->tls_wants_write))
            conn_read(c);
        return;
    case CS_LINGER: {
        uint8_t junk[4096];
        ssize_t n = recv(c->fd, junk, sizeof junk, 0);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
            conn_close(c, c->close_reason ? c->close_reason : "done");
        return;
    }
    case CS_DEAD:
        return;
    }
}

static void accept_all(struct evsrc *l)
{
    int i;
    for (i = 0; i < 256; i++) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        struct epoll_event ev;
        struct conn *c;
        int one = 1;
        int fd = accept4(l->fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
                errno != ECONNABORTED)
                logm(L_WARN, NULL, "accept: %s", strerror(errno));
            return;
        }
        if (S.nconns >= cfg.max_conns) {
            char p[64];
            fmt_addr((struct sockaddr *)&ss, p, sizeof p);
            logm(L_WARN, p, "refused: %u connections (--max-conns)", S.nconns);
            close(fd);
            continue;
        }
        c = calloc(1, sizeof *c);
        if (!c) {
            close(fd);
            continue;
        }
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (cfg.ftt) {
            /* TS 24.322 has no keep-alive: TCP's finds a client that is
             * gone (30 s idle, then 3 probes 10 s apart) and frees its
             * address */
            int idle = 30, intvl = 10, cnt = 3;
            setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
            setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
            setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof intvl);
            setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof cnt);
        }
#ifdef TCP_NOTSENT_LOWAT
        if (cfg.sched.notsent_lowat) {
            int lowat = (int)cfg.sched.notsent_lowat;
            setsockopt(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &lowat, sizeof lowat);
        }
#endif
        c->kind = EV_CONN;
        c->fd = fd;
        c->state = CS_NEW;
        c->deadline = S.now + HANDSHAKE_TIMEOUT_MS;
        fmt_addr((struct sockaddr *)&ss, c->peer, sizeof c->peer);
        memset(&ev, 0, sizeof ev);
        ev.events = EPOLLIN;
        ev.data.ptr = c;
        if (epoll_ctl(S.ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
            close(fd);
            free(c);
            continue;
        }
        c->events = EPOLLIN;
        c->next = S.conns;
        if (S.conns)
            S.conns->prev = c;
        S.conns = c;
        S.nconns++;
        S.st.accepted++;
        logm(L_INFO, c->peer, "accepted");
    }
}

static void tun_read_all(void)
{
    uint8_t pkt[65535];
    int i;
    for (i = 0; i < 256; i++) {
        ssize_t n = read(S.tun.fd, pkt, sizeof pkt);
        if (n <= 0)
            return;
        S.st.pkts_tun_in++;
        if ((pkt[0] >> 4) == 4 && n >= 20)
            route(NULL, pkt, (size_t)n, 0);
        else if ((pkt[0] >> 4) == 6 && n >= 40)
            route(NULL, pkt, (size_t)n, 1);
        else
            S.st.drop_noroute++;
    }
}

/* ------------------------------------------------------------------------ */
/* timers (a sweep once a second is plenty at thousands of tunnels)         */

/* A keep-alive timeout is judged by when we last received, which says
 * something about the peer only if we have been reading.  When the loop
 * itself stalled (the process not scheduled, the machine paused: seen on a
 * loaded 2-core VM, docs/bench-server.md), the peers' keep-alives sit unread
 * in the socket buffers and a sweep right after would close healthy
 * tunnels; the timeouts are held until the loop has caught up. */
#define STALL_MS 3000

static void sweep(void)
{
    struct conn *c, *cn;
    struct tunnel *t, *tn;
    int64_t gap = S.last_sweep ? S.now - S.last_sweep : 0;
    S.last_sweep = S.now;
    if (gap > STALL_MS) {
        S.ka_hold_until = S.now + STALL_MS;
        logm(L_WARN, NULL, "event loop stalled for %lld ms: keep-alive timeouts held for %d s",
             (long long)gap, STALL_MS / 1000);
    }
    for (c = S.conns; c; c = cn) {
        cn = c->next;
        if (c->state == CS_OPEN && c->tun) {
            unsigned ka = c->tun->keepalive;
            if (ka && S.now >= S.ka_hold_until) {
                int64_t grace = ka / 2 > 5 ? ka / 2 : 5;
                if (S.now - c->last_rx > ((int64_t)ka + grace) * 1000)
                    conn_close(c, "keep-alive timeout"); /* closes only c */
            }
        } else if (c->deadline && S.now > c->deadline) {
            conn_close(c, c->state == CS_LINGER ? (c->close_reason ? c->close_reason : "linger done")
                        : c->state == CS_OPEN ? (c->close_after_flush ? "peer does not read"
                                                 : "no Configuration_Request in time")
                        : c->state == CS_HANDSHAKE ? "TLS handshake timeout"
                        : "timeout before TLS");
        }
    }
    for (t = S.tunnels; t; t = tn) {
        tn = t->next;
        if (!t->conn && S.now >= t->persist_until)
            tunnel_free(t, "persistence time over");
    }
}

/* First SIGTERM/SIGINT: stop accepting, send Configuration_Release_Request
 * (A.1.7) on every connection with a tunnel up, and keep serving until all
 * have answered and closed or DRAIN_MS passed; clients then see a release,
 * not a dropped connection.  A second signal exits at once. */
static void begin_drain(void)
{
    struct conn *c, *cn;
    unsigned n = 0;
    int i;
    S.draining = 1;
    S.drain_until = S.now + DRAIN_MS;
    for (i = 0; i < cfg.nlisten; i++) {
        if (S.listeners[i].fd >= 0) {
            epoll_ctl(S.ep, EPOLL_CTL_DEL, S.listeners[i].fd, NULL);
            close(S.listeners[i].fd);
            S.listeners[i].fd = -1;
        }
    }
    for (c = S.conns; c; c = cn) {
        cn = c->next;
        if (c->state == CS_OPEN && c->tun && !c->close_after_flush && cfg.ftt) {
            /* TS 24.322 has no release: end TLS cleanly after the queue */
            c->close_after_flush = 1;
            c->close_reason = "server shutting down (FTT)";
            c->deadline = S.now + LINGER_MS;
            mark_dirty(c);
        } else if (c->state == CS_OPEN && c->tun && !c->close_after_flush) {
            tse_cm r;
            memset(&r, 0, sizeof r);
            r.type = TSE_CM_RELEASE_REQUEST; /* table A.1.7-1: no TLVs */
            r.tsid = c->tun->tsid;
            r.seq = ++S.release_seq;
            c->draining = 1;
            n++;
            send_cm(c, &r);
        }
    }
    logm(L_INFO, NULL, "releasing %u tunnels before exiting (at most %d ms)", n, DRAIN_MS);
}

/* Connections still owing the answer to the shutdown release. */
static unsigned drain_left(void)
{
    struct conn *c;
    unsigned n = 0;
    for (c = S.conns; c; c = c->next)
        if (c->draining)
            n++;
    return n;
}

static void log_stats(void)
{
    logm(L_INFO, NULL,
         "stats conns=%u tunnels=%u persistent=%u accepted=%llu configured=%llu resumed=%llu "
         "released=%llu rejected=%llu pkts_in=%llu fwd=%llu echo=%llu tun_in=%llu tun_out=%llu "
         "drop_src=%llu drop_queue=%llu drop_noroute=%llu drop_unconfigured=%llu drop_tun=%llu",
         S.nconns, S.ntunnels, S.npersistent, (unsigned long long)S.st.accepted,
         (unsigned long long)S.st.configured, (unsigned long long)S.st.resumed,
         (unsigned long long)S.st.released, (unsigned long long)S.st.rejected,
         (unsigned long long)S.st.pkts_in, (unsigned long long)S.st.pkts_fwd,
         (unsigned long long)S.st.pkts_echo, (unsigned long long)S.st.pkts_tun_in,
         (unsigned long long)S.st.pkts_tun_out, (unsigned long long)S.st.drop_src,
         (unsigned long long)S.st.drop_queue, (unsigned long long)S.st.drop_noroute,
         (unsigned long long)S.st.drop_unconfigured, (unsigned long long)S.st.drop_tun);
}

/* ------------------------------------------------------------------------ */
/* setup                                                                    */

/* Certificates and keys go through mbed TLS's buffer parsers, read by
 * tse_posix_read_key_file(): they work without MBEDTLS_FS_IO. */
static int setup_tls(void)
{
    unsigned char *pem;
    size_t pem_len = 0;
    static const char pers[] = "tscf-server";
    char e[160];
    int ret, n = 0;

#if defined(MBEDTLS_PSA_CRYPTO_C)
    if (psa_crypto_init() != PSA_SUCCESS) {
        fprintf(stderr, "tscf-server: psa_crypto_init failed\n");
        return -1;
    }
#endif
    mbedtls_entropy_init(&S.entropy);
    mbedtls_ctr_drbg_init(&S.drbg);
    mbedtls_ssl_config_init(&S.conf);
    mbedtls_x509_crt_init(&S.crt);
    mbedtls_pk_init(&S.pk);
    ret = mbedtls_ctr_drbg_seed(&S.drbg, mbedtls_entropy_func, &S.entropy,
                                (const unsigned char *)pers, sizeof pers - 1);
    if (ret != 0)
        goto fail;
    if (!(pem = tse_posix_read_key_file(cfg.cert, &pem_len))) {
        fprintf(stderr, "tscf-server: cannot read %s: %s\n", cfg.cert, strerror(errno));
        return -1;
    }
    ret = mbedtls_x509_crt_parse(&S.crt, pem, pem_len);
    free(pem);
    if (ret != 0) {
        fprintf(stderr, "tscf-server: certificate %s: %s\n", cfg.cert, tls_err(ret, e, sizeof e));
        return -1;
    }
    if (!(pem = tse_posix_read_key_file(cfg.key, &pem_len))) {
        fprintf(stderr, "tscf-server: cannot read %s: %s\n", cfg.key, strerror(errno));
        return -1;
    }
#if MBEDTLS_VERSION_MAJOR >= 3
    ret = mbedtls_pk_parse_key(&S.pk, pem, pem_len, NULL, 0, mbedtls_ctr_drbg_random, &S.drbg);
#else
    ret = mbedtls_pk_parse_key(&S.pk, pem, pem_len, NULL, 0);
#endif
    memset(pem, 0, pem_len);
    free(pem);
    if (ret != 0) {
        fprintf(stderr, "tscf-server: key %s: %s\n", cfg.key, tls_err(ret, e, sizeof e));
        return -1;
    }
    ret = mbedtls_ssl_config_defaults(&S.conf, MBEDTLS_SSL_IS_SERVER, MBEDTLS_SSL_TRANSPORT_STREAM,
                                      MBEDTLS_SSL_PRESET_DEFAULT);
    if (ret != 0)
        goto fail;
    mbedtls_ssl_conf_rng(&S.conf, mbedtls_ctr_drbg_random, &S.drbg);
#if MBEDTLS_VERSION_MAJOR >= 3
    mbedtls_ssl_conf_min_tls_version(&S.conf, MBEDTLS_SSL_VERSION_TLS1_2);
#else
    mbedtls_ssl_conf_min_version(&S.conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
#endif
    /* AEAD with ephemeral key exchange only; TLS 1.3 suites where built */
#ifdef MBEDTLS_TLS1_3_AES_128_GCM_SHA256
    ciphersuites[n++] = MBEDTLS_TLS1_3_AES_128_GCM_SHA256;
    ciphersuites[n++] = MBEDTLS_TLS1_3_AES_256_GCM_SHA384;
    ciphersuites[n++] = MBEDTLS_TLS1_3_CHACHA20_POLY1305_SHA256;
#endif
    ciphersuites[n++] = MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256;
    ciphersuites[n++] = MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384;
    ciphersuites[n++] = MBEDTLS_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256;
    ciphersuites[n++] = MBEDTLS_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256;
    ciphersuites[n++] = MBEDTLS_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384;
    ciphersuites[n++] = MBEDTLS_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256;
    ciphersuites[n] = 0;
    mbedtls_ssl_conf_ciphersuites(&S.conf, ciphersuites);
    ret = mbedtls_ssl_conf_own_cert(&S.conf, &S.crt, &S.pk);
    if (ret != 0)
        goto fail;
    return 0;
fail:
    fprintf(stderr, "tscf-server: TLS setup: %s\n", tls_err(ret, e, sizeof e));
    return -1;
}

static int parse_hostport(const char *s, struct sockaddr_storage *ss, socklen_t *sl)
{
    char host[128];
    const char *colon, *h = s;
    size_t hl;
    long port;
    char *end;
    memset(ss, 0, sizeof *ss);
    if (*s == '[') {
        const char *rb = strchr(s, ']');
        if (!rb || rb[1] != ':')
            return -1;
        h = s + 1;
        hl = (size_t)(rb - h);
        colon = rb + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon)
            return -1;
        hl = (size_t)(colon - s);
    }
    if (hl >= sizeof host)
        return -1;
    memcpy(host, h, hl);
    host[hl] = 0;
    port = strtol(colon + 1, &end, 10);
    if (*end || port < 0 || port > 65535 || end == colon + 1)
        return -1;
    if (*s != '[') {
        struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
        if (hl == 0)
            strcpy(host, "0.0.0.0");
        if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
            return -1;
        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)port);
        *sl = sizeof *s4;
    } else {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
        if (inet_pton(AF_INET6, host, &s6->sin6_addr) != 1)
            return -1;
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)port);
        *sl = sizeof *s6;
    }
    return 0;
}

static int parse_cidr(const char *s, int af, uint8_t *addr, int *plen)
{
    char buf[64];
    const char *slash = strchr(s, '/');
    char *end;
    long p;
    int i, n = af == AF_INET ? 4 : 16;
    uint8_t m[16];
    if (!slash || (size_t)(slash - s) >= sizeof buf)
        return -1;
    memcpy(buf, s, (size_t)(slash - s));
    buf[slash - s] = 0;
    if (inet_pton(af, buf, addr) != 1)
        return -1;
    p = strtol(slash + 1, &end, 10);
    if (*end || end == slash + 1 || p < 0 || p > n * 8)
        return -1;
    *plen = (int)p;
    mask_of(*plen, m, (size_t)n);
    for (i = 0; i < n; i++)
        addr[i] &= m[i]; /* the network address */
    return 0;
}

static int open_listener(int i)
{
    int one = 1, fd;
    struct epoll_event ev;
    struct sockaddr *sa = (struct sockaddr *)&cfg.listen[i];
    char a[64];
    fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (sa->sa_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (bind(fd, sa, cfg.listen_len[i]) < 0 || listen(fd, 1024) < 0) {
        fmt_addr(sa, a, sizeof a);
        fprintf(stderr, "tscf-server: listen %s: %s\n", a, strerror(errno));
        close(fd);
        return -1;
    }
    cfg.listen_len[i] = sizeof cfg.listen[i];
    getsockname(fd, sa, &cfg.listen_len[i]); /* the real port when 0 was asked */
    S.listeners[i].kind = EV_LISTEN;
    S.listeners[i].fd = fd;
    memset(&ev, 0, sizeof ev);
    ev.events = EPOLLIN;
    ev.data.ptr = &S.listeners[i];
    if (epoll_ctl(S.ep, EPOLL_CTL_ADD, fd, &ev) < 0)
        return -1;
    fmt_addr(sa, a, sizeof a);
    logm(L_INFO, NULL, "listening on %s", a);
    return 0;
}

static void usage(FILE *f)
{
    fprintf(f,
        "usage: tscf-server --listen ADDR:PORT --cert FILE --key FILE [options]\n"
        "  --listen ADDR:PORT   address to listen on; [::1]:443 for IPv6; repeatable;\n"
        "                       port 0 picks a free port (see --ready-file)\n"
        "  --cert FILE          server certificate chain (PEM)\n"
        "  --key FILE           its private key (PEM)\n"
        "  --profile P          tscf (default: TR 33.830 Annex A) or ftt (TS 24.322:\n"
        "                       envelopes, no control messages; each TLS connection\n"
        "                       is a tunnel whose address its first packet announces)\n"
        "  --pool CIDR          inner IPv4 pool (default 198.18.0.0/24, /16../30);\n"
        "                       .1 is the server's own address, clients get .2 up\n"
        "  --pool6 CIDR         inner IPv6 pool, prefix /64../96 (default: none)\n"
        "  --keepalive SECONDS  Keep_Alive_Interval offered (default 30, 0 = none)\n"
        "  --persist SECONDS    keep a tunnel after its TCP drops (default 60)\n"
        "  --max-tunnels N      tunnels (active + persistent) before Response_Code 3\n"
        "                       (default 10000)\n"
        "  --max-conns N        TCP connections (default max-tunnels + 256)\n"
        "  --queue BYTES        per-connection bulk output queue (default 32768, 262144\n"
        "                       with --tun); control messages and real-time packets\n"
        "                       (UDP, ICMP, DSCP EF...)\n"
        "                       have queues of their own and go first (docs/scheduler.md)\n"
        "  --fifo               one FIFO for every inner packet (no priority; to compare)\n"
        "  --max-packet BYTES   largest inner packet / CM accepted (default 4096)\n"
        "  --echo               answer ICMP/ICMPv6 echo and UDP port 7 for addresses\n"
        "                       outside the pools and for the server's own address\n"
        "  --tun NAME           route non-tunnel traffic through Linux TUN device NAME\n"
        "  --log-level LEVEL    error, warn, info (default) or debug\n"
        "  --json-log           one JSON object per log line\n"
        "  --stats-interval S   log counters every S seconds (default 0 = never)\n"
        "  --ready-file FILE    write the bound ADDR:PORT lines here once listening\n"
        "  --pcap FILE          write every tunnel's inner packets and control messages,\n"
        "                       both ways, to FILE (pcap-ng; examples/common/pcap_out.h)\n"
        "  -h, --help           this text\n");
}

static int parse_uint(const char *s, unsigned long max, unsigned long *out)
{
    char *end;
    unsigned long v;
    if (!s || !*s)
        return -1;
    errno = 0;
    v = strtoul(s, &end, 10);
    if (*end || errno || v > max || *s == '-')
        return -1;
    *out = v;
    return 0;
}

static int parse_args(int argc, char **argv)
{
    int i;
    unsigned long v;
    int max_conns_set = 0, queue_set = 0;
    cfg.keepalive = 30;
    cfg.persist = 60;
    cfg.max_tunnels = 10000;
    cfg.queue_bytes = 32768;
    cfg.max_unit = 4096;
    {
        tse_settings d; /* the library's own scheduler defaults */
        tse_settings_default(&d);
        cfg.sched = d.sched;
    }
    cfg.log_level = L_INFO;
    parse_cidr("198.18.0.0/24", AF_INET, cfg.pool4, &cfg.plen4);
    for (i = 1; i < argc; i++) {
        const char *o = argv[i], *a = i + 1 < argc ? argv[i + 1] : NULL;
#define NEED_ARG() do { if (!a) { fprintf(stderr, "tscf-server: %s needs a value\n", o); return -1; } i++; } while (0)
#define BAD() do { fprintf(stderr, "tscf-server: bad value for %s: %s\n", o, a); return -1; } while (0)
        if (!strcmp(o, "--listen")) {
            NEED_ARG();
            if (cfg.nlisten == MAX_LISTEN ||
                parse_hostport(a, &cfg.listen[cfg.nlisten], &cfg.listen_len[cfg.nlisten]) < 0)
                BAD();
            cfg.nlisten++;
        } else if (!strcmp(o, "--profile")) {
            NEED_ARG();
            if (!strcmp(a, "ftt"))
                cfg.ftt = 1;
            else if (!strcmp(a, "tscf"))
                cfg.ftt = 0;
            else
                BAD();
        } else if (!strcmp(o, "--cert")) {
            NEED_ARG();
            cfg.cert = a;
        } else if (!strcmp(o, "--key")) {
            NEED_ARG();
            cfg.key = a;
        } else if (!strcmp(o, "--pool")) {
            NEED_ARG();
            if (parse_cidr(a, AF_INET, cfg.pool4, &cfg.plen4) < 0 || cfg.plen4 < 16 || cfg.plen4 > 30)
                BAD();
        } else if (!strcmp(o, "--pool6")) {
            NEED_ARG();
            if (parse_cidr(a, AF_INET6, cfg.pool6, &cfg.plen6) < 0 || cfg.plen6 < 64 || cfg.plen6 > 96)
                BAD();
        } else if (!strcmp(o, "--keepalive")) {
            NEED_ARG();
            if (parse_uint(a, 65535, &v) < 0)
                BAD();
            cfg.keepalive = (unsigned)v;
        } else if (!strcmp(o, "--persist")) {
            NEED_ARG();
            if (parse_uint(a, 86400, &v) < 0)
                BAD();
            cfg.persist = (unsigned)v;
        } else if (!strcmp(o, "--max-tunnels")) {
            NEED_ARG();
            if (parse_uint(a, 1000000, &v) < 0)
                BAD();
            cfg.max_tunnels = (unsigned)v;
        } else if (!strcmp(o, "--max-conns")) {
            NEED_ARG();
            if (parse_uint(a, 1000000, &v) < 0 || v == 0)
                BAD();
            cfg.max_conns = (unsigned)v;
            max_conns_set = 1;
        } else if (!strcmp(o, "--queue")) {
            NEED_ARG();
            if (parse_uint(a, 16u << 20, &v) < 0 || v < 4096)
                BAD();
            cfg.queue_bytes = v;
            queue_set = 1;
        } else if (!strcmp(o, "--max-packet")) {
            NEED_ARG();
            if (parse_uint(a, 65535, &v) < 0 || v < 1280)
                BAD();
            cfg.max_unit = v;
        } else if (!strcmp(o, "--tun")) {
            NEED_ARG();
            cfg.tun = a;
        } else if (!strcmp(o, "--echo")) {
            cfg.echo = 1;
        } else if (!strcmp(o, "--fifo")) {
            cfg.sched.fifo = 1;
        } else if (!strcmp(o, "--log-level")) {
            NEED_ARG();
            if (!strcmp(a, "error")) cfg.log_level = L_ERROR;
            else if (!strcmp(a, "warn")) cfg.log_level = L_WARN;
            else if (!strcmp(a, "info")) cfg.log_level = L_INFO;
            else if (!strcmp(a, "debug")) cfg.log_level = L_DEBUG;
            else BAD();
        } else if (!strcmp(o, "--json-log")) {
            cfg.json_log = 1;
        } else if (!strcmp(o, "--stats-interval")) {
            NEED_ARG();
            if (parse_uint(a, 86400, &v) < 0)
                BAD();
            cfg.stats_interval = (unsigned)v;
        } else if (!strcmp(o, "--ready-file")) {
            NEED_ARG();
            cfg.ready_file = a;
        } else if (!strcmp(o, "--pcap")) {
            NEED_ARG();
            cfg.pcap_file = a;
        } else if (!strcmp(o, "-h") || !strcmp(o, "--help")) {
            usage(stdout);
            exit(0);
        } else {
            fprintf(stderr, "tscf-server: unknown option %s\n", o);
            usage(stderr);
            return -1;
        }
#undef NEED_ARG
#undef BAD
    }
    if (!cfg.nlisten || !cfg.cert || !cfg.key) {
        usage(stderr);
        return -1;
    }
    if (cfg.tun && cfg.echo) {
        fprintf(stderr, "tscf-server: --tun and --echo are exclusive\n");
        return -1;
    }
    if (!max_conns_set)
        cfg.max_conns = cfg.max_tunnels + 256;
    /* With --tun the kernel's TCP stacks are the peers: a downlink queue
     * of 32 KiB dropped a download's packets at every scheduling hiccup
     * (183 vs 558 Mbit/s with 256 KiB, docs/bench-tun.md), as tse-cli
     * --tun's uplink uses 256 KiB for the same reason. */
    if (!queue_set && cfg.tun)
        cfg.queue_bytes = 256u * 1024u;
    if (cfg.ftt && cfg.max_unit > 65535 - TSCF_FTT_ENVELOPE_LEN) {
        fprintf(stderr, "tscf-server: --max-packet above %d with --profile ftt\n",
                65535 - TSCF_FTT_ENVELOPE_LEN);
        return -1;
    }
    if (cfg.queue_bytes < cfg.max_unit + TSCF_FTT_ENVELOPE_LEN)
        cfg.queue_bytes = cfg.max_unit + TSCF_FTT_ENVELOPE_LEN;
    return 0;
}

static void write_ready_file(void)
{
    FILE *f;
    char tmp[512], a[64];
    int i;
    if (!cfg.ready_file)
        return;
    snprintf(tmp, sizeof tmp, "%s.tmp", cfg.ready_file);
    f = fopen(tmp, "w");
    if (!f)
        return;
    for (i = 0; i < cfg.nlisten; i++) {
        fmt_addr((struct sockaddr *)&cfg.listen[i], a, sizeof a);
        fprintf(f, "%s\n", a);
    }
    fclose(f);
    rename(tmp, cfg.ready_file); /* atomically: readers see all or nothing */
}

int main(int argc, char **argv)
{
    sigset_t mask;
    struct epoll_event ev;
    struct rlimit rl;
    int64_t next_sweep, next_stats;
    int i;

    if (parse_args(argc, argv) < 0)
        return 2;
    S.tun.fd = -1;
    S.nslots = 1u << (32 - cfg.plen4);
    S.next_slot = 2;
    S.by_slot = calloc(S.nslots, sizeof *S.by_slot);
    if (!S.by_slot)
        return 1;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max; /* thousands of tunnels need thousands of fds */
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (setup_tls() < 0)
        return 1;
    if (cfg.pcap_file) {
        char err[256];
        S.pcap = pcap_out_open(cfg.pcap_file, "tscf-server", err, sizeof err);
        if (!S.pcap) {
            fprintf(stderr, "tscf-server: --pcap %s\n", err);
            return 1;
        }
    }
    S.ep = epoll_create1(EPOLL_CLOEXEC);
    if (S.ep < 0)
        return 1;

    sigemptyset(&mask);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGTERM);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    signal(SIGPIPE, SIG_IGN);
    S.sig.kind = EV_SIGNAL;
    S.sig.fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    memset(&ev, 0, sizeof ev);
    ev.events = EPOLLIN;
    ev.data.ptr = &S.sig;
    if (S.sig.fd < 0 || epoll_ctl(S.ep, EPOLL_CTL_ADD, S.sig.fd, &ev) < 0)
        return 1;

    if (cfg.tun) {
        uint8_t a4[4], a6[16];
        slot_addr4(1, a4);
        slot_addr6(1, a6);
        S.tun.kind = EV_TUN;
        S.tun.fd = tscf_tun_open(cfg.tun, a4, cfg.plen4, cfg.plen6 ? a6 : NULL, cfg.plen6);
        if (S.tun.fd < 0)
            return 1;
        ev.events = EPOLLIN;
        ev.data.ptr = &S.tun;
        if (epoll_ctl(S.ep, EPOLL_CTL_ADD, S.tun.fd, &ev) < 0)
            return 1;
    }
    for (i = 0; i < cfg.nlisten; i++)
        if (open_listener(i) < 0)
            return 1;
    logm(L_INFO, NULL, "tscf-server up: mbed TLS %s, pool %u.%u.%u.0/%d, keepalive %u s, "
         "persist %u s, max-tunnels %u, %s", MBEDTLS_VERSION_STRING, cfg.pool4[0], cfg.pool4[1],
         cfg.pool4[2], cfg.plen4, cfg.keepalive, cfg.persist, cfg.max_tunnels,
         cfg.echo ? "echo responder" : cfg.tun ? "TUN" : "tunnel-to-tunnel only");
    write_ready_file();

    S.now = now_ms();
    next_sweep = S.now + 1000;
    next_stats = cfg.stats_interval ? S.now + (int64_t)cfg.stats_interval * 1000 : 0;
    while (!S.stop) {
        struct epoll_event evs[256];
        int n, timeout = (int)(next_sweep - S.now);
        struct conn *c, *cn;
        /* a counter, not a walk over every connection: with thousands of
         * tunnels and one keep-alive per wakeup the walks cost more than
         * the keep-alives (docs/bench-server.md) */
        if (S.draining && S.drain_until - S.now < timeout)
            timeout = (int)(S.drain_until - S.now);
        if (S.nagain)
            timeout = 0;
        if (timeout < 0)
            timeout = 0;
        n = epoll_wait(S.ep, evs, 256, timeout);
        S.now = now_ms();
        if (n < 0 && errno != EINTR) {
            logm(L_ERROR, NULL, "epoll_wait: %s", strerror(errno));
            break;
        }
        for (i = 0; i < n; i++) {
            int kind = *(int *)evs[i].data.ptr;
            if (kind == EV_LISTEN) {
                accept_all(evs[i].data.ptr);
            } else if (kind == EV_CONN) {
                conn_event(evs[i].data.ptr, evs[i].events);
            } else if (kind == EV_TUN) {
                tun_read_all();
            } else if (kind == EV_SIGNAL) {
                struct signalfd_siginfo si;
                if (read(S.sig.fd, &si, sizeof si) == (ssize_t)sizeof si) {
                    logm(L_INFO, NULL, "signal %u: exiting", si.ssi_signo);
                    if (S.draining)
                        S.stop = 1; /* the second one: now */
                    else
                        begin_drain();
                }
            }
        }
        for (c = S.nagain ? S.conns : NULL; c; c = cn) {
            cn = c->next;
            if (c->again && c->state == CS_OPEN)
                conn_read(c);
        }
        while (S.dirty) {
            c = S.dirty;
            S.dirty = c->dnext;
            c->dirty = 0;
            if (c->state == CS_OPEN)
                conn_flush(c);
        }
        if (S.now >= next_sweep) {
            sweep();
            next_sweep = S.now + 1000;
        }
        if (next_stats && S.now >= next_stats) {
            log_stats();
            next_stats = S.now + (int64_t)cfg.stats_interval * 1000;
        }
        while (S.graveyard) {
            c = S.graveyard;
            S.graveyard = c->next;
            conn_destroy(c);
        }
        if (S.draining && (drain_left() == 0 || S.now >= S.drain_until)) {
            if (drain_left() != 0)
                logm(L_WARN, NULL, "%u clients did not answer the release in %d ms",
                     drain_left(), DRAIN_MS);
            S.stop = 1;
        }
    }

    log_stats();
    while (S.conns) {
        struct conn *c = S.conns;
        if (c->state == CS_OPEN)
            mbedtls_ssl_close_notify(&c->ssl);
        conn_close(c, "server exiting");
    }
    while (S.graveyard) {
        struct conn *c = S.graveyard;
        S.graveyard = c->next;
        conn_destroy(c);
    }
    while (S.tunnels)
        tunnel_free(S.tunnels, "server exiting");
    for (i = 0; i < cfg.nlisten; i++)
        if (S.listeners[i].fd >= 0)
            close(S.listeners[i].fd);
    if (S.tun.fd >= 0)
        close(S.tun.fd);
    close(S.sig.fd);
    close(S.ep);
    free(S.by_slot);
    mbedtls_ssl_config_free(&S.conf);
    mbedtls_x509_crt_free(&S.crt);
    mbedtls_pk_free(&S.pk);
    mbedtls_ctr_drbg_free(&S.drbg);
    mbedtls_entropy_free(&S.entropy);
    pcap_out_close(S.pcap);
    if (cfg.ready_file)
        unlink(cfg.ready_file);
    return 0;
}
