/* mem_tscf.h - an in-memory TSCF (and HTTP proxy) to drive the engine.
 *
 * No sockets, no threads, no sleeps: three pieces, all single-threaded.
 *
 *  - mem_tscf: the peer.  An optional HTTP CONNECT proxy front (scripted
 *    replies, Basic/Digest checks), then an mbed TLS SERVER on in-memory
 *    buffers, then a TSCF responder (TR 33.830 Annex A) that deframes the
 *    TLS plaintext with include/tse/framing.h, decodes CMs with
 *    include/tse/cm.h, answers them according to a script (mt_cfg) and
 *    records everything it received.
 *  - mt_drv: the driver.  It plays the port for one tse_tunnel: answers
 *    TSE_WANT_CONNECT (success, or a scripted failure, or never), moves
 *    bytes both ways in configurable chunk sizes (1 byte works), acknowledges
 *    TSE_WANT_DISCONNECT, and runs a VIRTUAL clock: time moves only when the
 *    test says so, and tse_tunnel_handle_expiry() runs whenever
 *    now >= tse_tunnel_expiry().
 *  - mt_rec: the recorder behind the engine's callbacks (events, inbound
 *    packets, deterministic entropy).
 *
 *   static mt_rec rec;  mt_cfg cfg;  mem_tscf *peer;  mt_drv d;
 *   mt_cfg_default(&cfg);  peer = mem_tscf_new(&cfg);
 *   mt_rec_init(&rec);  mt_settings_default(&s);
 *   tse_tunnel_new(&t, &s, mt_rec_callbacks(&rec), mt_mem(), &rec);
 *   mt_drv_init(&d, t, peer, &rec, 1000);
 *   tse_tunnel_start(t, d.now);
 *   mt_run_until_state(&d, TSE_STATE_UP, 10000);
 *
 * Loop bounds are finite everywhere: a stuck engine makes the helpers
 * return 0 / set d->stuck, never hang.
 */
#ifndef MEM_TSCF_H
#define MEM_TSCF_H

#include <stddef.h>
#include <stdint.h>

#include "tse/cm.h"
#include "tse/tse.h"

/* ---- the peer's script -------------------------------------------------- */

enum mt_proxy_mode {
    MT_PROXY_NONE = 0,          /* no proxy: TLS from the first byte */
    MT_PROXY_200,               /* "HTTP/1.1 200 Connection established" */
    MT_PROXY_200_GLUED,         /* 200 and TLS bytes in the same write: the
                                   server's flight if the client pipelined
                                   its ClientHello, else cfg.glue */
    MT_PROXY_407_BASIC,         /* 407 Basic, then check Basic credentials */
    MT_PROXY_407_DIGEST_MD5,    /* 407 Digest MD5 qop=auth, then check */
    MT_PROXY_407_DIGEST_SHA256, /* 407 Digest SHA-256 qop=auth, then check */
    MT_PROXY_407_TWICE,         /* 407 Basic, and 407 again whatever comes */
    MT_PROXY_403,               /* "HTTP/1.1 403 Forbidden" */
    MT_PROXY_GARBAGE,           /* not HTTP at all */
    MT_PROXY_OVERSIZED,         /* a 200 whose head never ends (> 8 KiB) */
    MT_PROXY_RAW                /* cfg.proxy_raw verbatim */
};

typedef struct mt_cfg {
    /* proxy front */
    int proxy;                      /* enum mt_proxy_mode */
    const char *proxy_user;         /* expected credentials */
    const char *proxy_pass;
    int proxy_close_after_407;      /* "Connection: close" and close after 407 */
    int digest_nonce_per_conn;      /* Digest nonce changes with every TCP
                                       connection (an old one is refused) */
    const uint8_t *glue;            /* MT_PROXY_200_GLUED without pipelining */
    size_t glue_len;
    const char *proxy_raw;          /* MT_PROXY_RAW */
    size_t proxy_raw_len;
    int raw_then_tls;               /* MT_PROXY_RAW: then act as the TLS server */
    const char *proxy_407_body;     /* body of each 407 (NULL: none) */
    int proxy_407_chunked;          /* ... sent with chunked encoding */
    int raw_on_open;                /* MT_PROXY_RAW: send proxy_raw as soon as
                                       the connection opens, then ignore input */

    /* TLS server */
    const char *cert_pem;           /* default: test_pki server ("tscf.test") */
    const char *key_pem;
    const char *client_ca_pem;      /* require a client certificate from
                                       this CA (read when the cert changes) */
    int corrupt_record;             /* flip the last byte of the server's
                                       N-th TLS record (1-based) on every
                                       connection; 0 = never */
    int tls_silent;                 /* swallow the client's TLS bytes, never answer */
    int tls12_only;                 /* offer TLS 1.2 at most */

    /* TSCF */
    uint64_t tsid;                  /* TSID assigned to a new tunnel */
    uint8_t ipv4[4];                /* inner address of a new tunnel */
    uint8_t ipv4_mask[4];
    int assign_ipv6;                /* also assign ipv6/ipv6_mask */
    uint8_t ipv6[16];
    uint8_t ipv6_mask[16];
    uint16_t keepalive_s;           /* Keep_Alive_Interval TLV; 0 = omit */
    int omit_ipv4;                  /* success without an address */
    uint16_t response_code;         /* non-zero: reject Configuration_Request */
    int reject_times;               /* ... that many times (-1 = always) */
    int resume;                     /* accept a known TSID (default 1) */
    int resume_new_addr;            /* on resume, give resume_ipv4 instead */
    uint8_t resume_ipv4[4];
    int ignore_config;              /* never answer Configuration_Request */
    int config_wrong_seq;           /* Configuration_Response seq + 1 */
    int config_wrong_tsid;          /* resumed Configuration_Response carries
                                       another TSID than the request */
    int ka_answer_limit;            /* answer this many Keep_Alives (-1 all) */
    int ka_wrong_tsid;              /* Keep_Alive_Response with a wrong TSID */
    int ka_wrong_seq;               /* Keep_Alive_Response with seq + 1 */
    int ka_code;                    /* Keep_Alive_Response carries a
                                       Response_Code TLV of ka_code - 1
                                       (0 = no TLV, as table A.1.8-2) */
    int ignore_release;             /* never answer Release_Request */
    int close_after_release;        /* close TCP after Release_Response */
    int echo;                       /* send inner packets back, src<->dst */
    const uint8_t *post_config;     /* bytes sent in the SAME TLS record as
                                       a successful Configuration_Response */
    size_t post_config_len;
    int config_split;               /* send the Configuration_Response as
                                       two records: 1 byte, then the rest */
    int config_extra_tlv;           /* append a reserved TLV (type 200) */

    /* TS 24.322 FTT profile instead of TSCF: every packet in an
     * envelope both ways, no CMs (a CM-looking byte is an envelope
     * error); after the handshake the peer sends one ICMP Echo Request
     * from ftt_gw to cfg.ipv4 (the engine's address assignment,
     * docs/engine.md "FTT profile") unless ftt_no_announce */
    int ftt;
    int ftt_no_announce;
    uint8_t ftt_gw[4];              /* default 10.0.0.1 */

    /* not a TSCF: a plain TLS server for the stream API (tse/stream.h) */
    int app_raw;                    /* TLS plaintext is recorded in seen.app,
                                       not deframed */
    int app_echo;                   /* ... and written back */
} mt_cfg;

void mt_cfg_default(mt_cfg *c);

/* ---- what the peer saw -------------------------------------------------- */

#define MT_MAX_CMS 256
#define MT_MAX_PKTS 64
#define MT_PKT_MAX 2048
#define MT_MAX_HEADS 8
#define MT_HEAD_MAX 2048
#define MT_APP_MAX 65536

typedef struct mt_cm_rec {
    tse_cm cm;
    unsigned conn;          /* 1-based connection number */
    tse_time_ms at;
    uint32_t ord;           /* arrival order among all units (CMs+packets) */
} mt_cm_rec;

typedef struct mt_pkt_rec {
    uint8_t data[MT_PKT_MAX];
    size_t len;             /* full length (data holds at most MT_PKT_MAX) */
    unsigned conn;
    tse_time_ms at;
    uint32_t ord;           /* arrival order among all units (peer side) */
} mt_pkt_rec;

typedef struct mem_tscf mem_tscf;

typedef struct mt_seen {
    unsigned conns;               /* TCP connections accepted */
    unsigned handshakes;          /* TLS handshakes completed */
    int tls_error;                /* last mbed TLS error on the server */
    int unit_error;               /* deframer / CM decode error, sticky */
    int close_notify;             /* client sent close_notify */
    int sni_present;              /* last ClientHello carried server_name */
    char sni[256];                /* ... this one */
    mt_cm_rec cms[MT_MAX_CMS];
    size_t n_cms;
    mt_pkt_rec pkts[MT_MAX_PKTS];
    size_t n_pkts;                /* packets recorded (<= MT_MAX_PKTS) */
    uint64_t pkts_total;          /* packets received */
    char heads[MT_MAX_HEADS][MT_HEAD_MAX]; /* proxy request heads */
    size_t n_heads;
    uint32_t units;               /* units received (CMs + packets) */
    unsigned auth_ok, auth_bad;   /* Proxy-Authorization checks */
    char auth_why[128];           /* why the last check failed */
    uint8_t app[MT_APP_MAX];      /* app_raw: plaintext received (all
                                     connections, the first MT_APP_MAX) */
    size_t app_len;               /* bytes received (may exceed MT_APP_MAX) */
} mt_seen;

/* Non-zero while the driver runs the in-memory server (so that a test
 * failing mbed TLS's allocations can spare the server's). */
extern int mt_peer_running;

mem_tscf *mem_tscf_new(const mt_cfg *cfg);
void mem_tscf_free(mem_tscf *p);
/* The live script: change it between steps. */
mt_cfg *mem_tscf_cfg(mem_tscf *p);
const mt_seen *mem_tscf_seen(const mem_tscf *p);
/* Received CMs of @p type (0 = all); and the n-th (0-based) such, or NULL. */
size_t mem_tscf_count_cms(const mem_tscf *p, int type);
const mt_cm_rec *mem_tscf_cm(const mem_tscf *p, int type, size_t nth);

/* Server-initiated messages (need an up TLS connection; return 0 or -1). */
int mem_tscf_send_release(mem_tscf *p);
int mem_tscf_send_cm(mem_tscf *p, const tse_cm *cm);
/* An inner packet (in its envelope under cfg.ftt). */
int mem_tscf_send_packet(mem_tscf *p, const uint8_t *pkt, size_t len);
/* Raw TLS plaintext (e.g. a half unit). */
int mem_tscf_send_plain(mem_tscf *p, const uint8_t *data, size_t len);
/* One zero-length application-data record (RFC 5246 6.2.1 allows them). */
int mem_tscf_send_empty_record(mem_tscf *p);
/* Flip the last byte of the next TLS record the server writes. */
void mem_tscf_corrupt_next(mem_tscf *p);
/* Send a TLS close_notify alert (the server closes TLS cleanly). */
int mem_tscf_close_notify(mem_tscf *p);
/* Negotiated TLS version of the current connection (0x0303 / 0x0304), 0. */
int mem_tscf_tls_version(const mem_tscf *p);
/* The TLS secrets the server derived (its own key export), to compare with
 * tse_settings.tls_keylog's: type is mbed TLS 3's mbedtls_ssl_key_export_type
 * (0 = the TLS 1.2 master secret, also with mbed TLS 2.28). */
#define MT_MAX_SECRETS 16
typedef struct mt_secret {
    int type;
    uint8_t client_random[32];
    uint8_t secret[64];
    size_t len;
} mt_secret;
size_t mem_tscf_secrets(const mem_tscf *p, const mt_secret **out);
/* The TSID / IPv4 the peer last assigned. */
uint64_t mem_tscf_tsid(const mem_tscf *p);

/* ---- byte level: the peer behind a real transport ----------------------
 * For a test whose engine talks to the peer over a real TCP (an lwIP PCB
 * in test_lwip_transport.c) instead of through mt_drv: the test accepts
 * the connection, calls conn_open, feeds what arrives to conn_input,
 * writes what conn_output shows and drops it with conn_consume, and calls
 * conn_close when the TCP connection goes.  The clock is the caller's. */
void mem_tscf_set_clock(mem_tscf *p, const tse_time_ms *clock);
void mem_tscf_conn_open(mem_tscf *p);
void mem_tscf_conn_input(mem_tscf *p, const uint8_t *d, size_t n);
size_t mem_tscf_conn_output(const mem_tscf *p, const uint8_t **data);
void mem_tscf_conn_consume(mem_tscf *p, size_t n);
/* 1 when the peer wants TCP closed (after its output is delivered). */
int mem_tscf_conn_want_close(const mem_tscf *p);
void mem_tscf_conn_close(mem_tscf *p);

/* ---- the engine side: recorder ----------------------------------------- */

#define MT_MAX_EVS 1024
#define MT_MAX_INPKTS 64

typedef struct mt_ev {
    tse_event_type type;
    tse_state state, old_state;
    int error;
    int proxy_status;
    int response_code;
    uint32_t retry_in_ms;
    int has_detail;
    char detail[256];
    int has_config;
    tse_tunnel_config config;
    tse_time_ms at;
} mt_ev;

typedef struct mt_rec {
    mt_ev ev[MT_MAX_EVS];
    size_t n_ev;
    size_t ev_dropped;
    mt_pkt_rec in[MT_MAX_INPKTS];  /* inner packets delivered by on_packet */
    size_t n_in;
    uint64_t in_total;
    uint64_t prng;                 /* deterministic entropy */
    int entropy_fail;              /* make entropy() fail */
    const tse_time_ms *clock;      /* set by mt_drv_init */
    /* optional hook run on each event (after recording) */
    void (*hook)(struct mt_rec *r, const tse_event *ev, void *arg);
    void *hook_arg;
} mt_rec;

void mt_rec_init(mt_rec *r);
/* Callbacks whose user pointer must be the mt_rec. */
const tse_callbacks *mt_rec_callbacks(void);
size_t mt_rec_count(const mt_rec *r, tse_event_type type);
/* n-th (0-based) event of @p type, or NULL; last: the last one, or NULL. */
const mt_ev *mt_rec_nth(const mt_rec *r, tse_event_type type, size_t nth);
const mt_ev *mt_rec_last(const mt_rec *r, tse_event_type type);
/* Print the event log to stderr (for failing tests). */
void mt_rec_dump(const mt_rec *r);

/* A counting allocator (calloc/free); live == 0 after tse_tunnel_del. */
typedef struct mt_alloc {
    long live;
    long total;
    long fail_at;      /* fail the fail_at-th allocation (1-based); 0 never */
    tse_mem mem;       /* filled by mt_mem() */
} mt_alloc;
const tse_mem *mt_mem(mt_alloc *a);

/* Settings for the peer's defaults: server "tscf.test":443, the test CA,
 * short timers so tests run quickly in virtual time. */
void mt_settings_default(tse_settings *s);

/* ---- the engine side: driver ------------------------------------------- */

#define MT_CONNECT_HANG 1   /* never report the connect's outcome */

typedef struct mt_drv {
    tse_tunnel *t;
    mem_tscf *peer;
    mt_rec *rec;
    tse_time_ms now;
    size_t chunk_to_peer;       /* bytes per move, 0 = all */
    size_t chunk_to_engine;
    int connect_result;         /* 0 ok, TSE_ERR_TRANSPORT_*, MT_CONNECT_HANG */
    int connect_fail_times;     /* apply connect_result this many times
                                   (-1 = always), then succeed */
    uint16_t blocked_port;      /* connects to this port (a firewall)... */
    int blocked_result;         /* ... get this (TSE_ERR_TRANSPORT_*,
                                   MT_CONNECT_HANG), every time; 0 = off */
    uint16_t blocked_port_2;    /* a second one, same result */
    int connected;              /* outer TCP is up */
    int connecting;             /* a hanging connect is outstanding */
    unsigned connects;          /* connect attempts */
    unsigned disconnects;       /* TSE_WANT_DISCONNECT acknowledged */
    unsigned expiries;          /* handle_expiry calls */
    char last_host[256];
    uint16_t last_port;
    int last_rc;                /* last negative return of an engine call */
    int stuck;                  /* a loop bound was hit */
    int hold_to_peer;           /* do not move engine -> peer bytes */
    uint64_t chunk_rand;        /* non-zero: each move takes 1..chunk_*
                                   bytes chosen by this PRNG state */
    unsigned flights;           /* engine -> peer flights: moves that
                                   follow a peer -> engine move (or the
                                   first), i.e. round trips the engine
                                   started */
    int last_dir;               /* 1 engine->peer, 2 peer->engine */
    uint64_t bytes_to_peer, bytes_to_engine;
} mt_drv;

void mt_drv_init(mt_drv *d, tse_tunnel *t, mem_tscf *peer, mt_rec *rec,
                 tse_time_ms start);
/* Move bytes / answer wants at the current time until nothing happens. */
void mt_pump(mt_drv *d);
/* At most @p n driver steps at the current time (to stop half-way through
 * a handshake); returns the steps that did something. */
int mt_steps(mt_drv *d, int n);
/* Let @p ms of virtual time pass, firing every expiry on the way. */
void mt_advance(mt_drv *d, tse_time_ms ms);
/* Advance until pred() holds (checked after every step); 1 if it did
 * within @p max_ms, else 0.  d->now is where it stopped. */
int mt_run_until(mt_drv *d, int (*pred)(mt_drv *d, void *arg), void *arg,
                 tse_time_ms max_ms);
int mt_run_until_state(mt_drv *d, tse_state st, tse_time_ms max_ms);
/* Until the n-th (1-based) event of @p type has been recorded. */
int mt_run_until_event(mt_drv *d, tse_event_type type, size_t n,
                       tse_time_ms max_ms);
/* The peer drops TCP: the driver reports TSE_ERR_TRANSPORT_RESET. */
void mt_cut(mt_drv *d);
/* The peer closes TCP (FIN): the driver reports TSE_ERR_TRANSPORT_CLOSED. */
void mt_peer_close(mt_drv *d);

/* ---- a whole test's state in one place --------------------------------- */

typedef struct mt_fix {
    mt_cfg cfg;            /* the peer's script (edit before mt_fix_start) */
    tse_settings s;        /* the engine's settings (idem) */
    mt_rec rec;
    mt_alloc alloc;
    mem_tscf *peer;
    tse_tunnel *t;
    mt_drv d;
    int new_rc;            /* tse_tunnel_new's result */
    /* optional tse_callbacks.on_trace (its user is &rec) */
    void (*on_trace)(void *user, int outbound, int kind, const uint8_t *unit, size_t len);
} mt_fix;

/* Free what a previous (maybe failed) test left, fill the defaults. */
void mt_fix_setup(mt_fix *f);
/* Create the peer and the tunnel, start it at @p start.  Returns
 * tse_tunnel_new's result (the tunnel is started only on TSE_OK). */
int mt_fix_start(mt_fix *f, tse_time_ms start);
/* Delete the tunnel and the peer; returns the allocator's live count
 * after tse_tunnel_del (0 = no leak). */
long mt_fix_teardown(mt_fix *f);

/* A minimal valid IPv4/UDP packet (checksums valid) of @p total bytes
 * (>= 28) from src to dst; payload bytes = seq. */
size_t mt_make_ipv4(uint8_t *out, size_t total, const uint8_t src[4],
                    const uint8_t dst[4], uint8_t seq);

#endif
