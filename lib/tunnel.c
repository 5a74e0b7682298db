/*
 * The TSE state machine (TR 33.830 8.4, Annex A): outer connection ->
 * [HTTP CONNECT] -> TLS -> Configuration_Request/Response -> UP with
 * keep-alive -> release; failures back off and resume the tunnel.
 *
 * Sans-I/O: fed bytes and time by a port (include/tse/tse.h).
 */
#include <string.h>

#include "http_connect.h"
#include "log.h"
#include "tse/outq.h"
#include "tls_session.h"
#include "tse/cm.h"
#include "tse/config.h"
#include "tse/detect.h"
#include "tse/framing.h"
#include "tse/tse.h"

/* TSE_OUTER_BUF_SIZE (the ciphertext buffer), TSE_CM_QUEUE_SIZE (the
 * control class's queue: a few encoded CMs; inner packets have queues of
 * their own, so a full bulk queue never blocks a Keep_Alive or a Release)
 * and TSE_READ_CHUNK: include/tse/config.h. */

enum conn_state { CONN_NONE = 0, CONN_WANTED, CONN_STARTED, CONN_OPEN };

struct tse_tunnel {
    tse_settings s;
    tse_callbacks cb;
    tse_mem mem;
    void *user;

    tse_state state;
    int conn;               /* enum conn_state */
    int need_disconnect;    /* the port must close the connection */
    int linger;             /* ... after sending what is pending */
    int closing;            /* tse_tunnel_close() called */
    int last_error;
    tse_time_ms now;        /* last time the port told us */

    tse_time_ms t_phase;    /* timeout of the current phase */
    tse_time_ms t_backoff;  /* reconnect time in BACKOFF */
    tse_time_ms last_tx;    /* last unit queued (keep-alive silence) */
    tse_time_ms last_rx;    /* last unit received (dead-peer probe) */
    tse_time_ms t_ka_resp;  /* Keep_Alive_Response deadline */
    int ka_outstanding;
    uint32_t ka_seq;
    int config_outstanding;
    uint32_t config_seq;
    int release_outstanding;
    uint32_t release_seq;
    uint32_t next_seq;
    uint32_t attempt;       /* consecutive failed attempts */
    tse_time_ms t_up;       /* when the tunnel last came UP */
    int early_warned;       /* early inner packet reported (per connection) */

    int resume_valid;       /* a previous tunnel may be resumed */
    uint64_t resume_tsid;
    uint8_t resume_ipv4[4];
    uint8_t resume_ipv6[16];

    tse_tunnel_config cfg;
    int cfg_valid;

    tse_hc hc;
    tse_tls_conf *own_conf; /* the tunnel's own TLS configuration, in its
                               allocation; NULL with a shared tls_config */
    tse_tls tls;
    tse_deframer df;

    tse_outq oq;            /* outbound scheduler (outq.h) */
    int pumping;            /* pump() is running: nested calls only queue */
    int release_due;        /* close(): Release_Request once packets are out */
    uint8_t *outer;         /* TSE_OUTER_BUF_SIZE */
    uint8_t *unit_buf;      /* max_unit */

    /* The outer path, chosen per attempt (docs/engine.md "Outer paths"):
     * a round tries each TSCF port once, starting at path_home (the port
     * that last worked, or the one path_cache gave for the network). */
    uint16_t ports[2];
    uint8_t nports;
    uint8_t path;           /* index into ports: the current/next attempt */
    uint8_t path_home;      /* where rounds start */
    uint8_t path_tried;     /* ports that failed in this round */
    uint8_t path_cached;    /* this round started from path_cache */
    uint8_t hc_stale;       /* set hc up again before the next CONNECT */
    uint8_t conn_via_proxy; /* the current connection: through the proxy */
    uint16_t conn_port;     /* ... and to this TSCF port */
#if TSE_CONFIG_DETECT_CACHE && TSE_CONFIG_MULTIPATH
    uint8_t netid_len;      /* the network (tse_tunnel_network_changed()) */
    uint8_t netid[TSE_DETECT_NETID_MAX];
#endif
#if TSE_CONFIG_PROXY
    /* the proxy of later attempts (tse_tunnel_set_outer_path()); s.proxy_*
     * point here or are NULL */
    char px_host[TSE_HC_MAX_HOST + 1];
    char px_user[TSE_HC_MAX_CRED + 1];
    char px_pass[TSE_HC_MAX_CRED + 1];
#endif

    tse_stats stats;
    tse_time_ms t_ka_sent;  /* the outstanding Keep_Alive left (its RTT) */
    tse_logger lg;          /* tse_settings::log, log_user, log_level */
    uint8_t rbuf[TSE_READ_CHUNK];
};

/* The tunnel's log (lib/log.h): LOGT at error/warn/info, DBG at debug. */
#define LOGT(t, lvl, ...) TSE_LOG(&(t)->lg, lvl, __VA_ARGS__)
#define DBG(t, ...) TSE_LOG_DBG(&(t)->lg, __VA_ARGS__)

/* The TS 24.322 profile: no control messages (docs/engine.md "FTT profile") */
#define FTT(t) (TSE_CONFIG_FTT && (t)->s.framing == TSE_FRAMING_FTT)

/* In the HTTP CONNECT phase (never without TSE_CONFIG_PROXY: the
 * compiler drops the proxy's code then) */
#define IN_PROXY(t) (TSE_CONFIG_PROXY && (t)->state == TSE_STATE_PROXY)

/* Dotted-quad arguments for "%u.%u.%u.%u" */
#define IPV4_ARGS(a) (unsigned)(a)[0], (unsigned)(a)[1], (unsigned)(a)[2], (unsigned)(a)[3]

/* ---- small helpers ---------------------------------------------------- */

/* Out of line: helpers called from many places, which -Os would copy
 * into each of them, and read_records() (docs/footprint.md). */
#if defined(__GNUC__)
#define OUT_OF_LINE __attribute__((noinline))
#else
#define OUT_OF_LINE
#endif

OUT_OF_LINE static tse_time_ms add_ms(tse_time_ms now, uint32_t ms)
{
    return (TSE_TIME_NEVER - now < ms) ? TSE_TIME_NEVER : now + ms;
}

/* A 64-bit counter of tse_stats grows by n. */
OUT_OF_LINE static void count(uint64_t *c, size_t n)
{
    *c += n;
}

/* The current phase ends ms from now. */
static void set_phase(tse_tunnel *t, uint32_t ms)
{
    t->t_phase = add_ms(t->now, ms);
}

static size_t str_size(const char *s)
{
    return s != NULL ? strlen(s) + 1 : 0;
}

static char *str_copy(char **dst_area, const char *s)
{
    char *d;
    size_t n;
    if (s == NULL) {
        return NULL;
    }
    n = strlen(s) + 1;
    d = *dst_area;
    memcpy(d, s, n);
    *dst_area += n;
    return d;
}

static void emit(tse_tunnel *t, tse_event *ev)
{
    ev->state = t->state;
    t->cb.on_event(t->user, ev);
}

/* An event of type about the state the tunnel is in now (old_state),
 * with err; every other field zero. */
OUT_OF_LINE static void ev_init(tse_event *ev, const tse_tunnel *t, tse_event_type type, int err)
{
    memset(ev, 0, sizeof(*ev));
    ev->type = type;
    ev->old_state = t->state;
    ev->error = err;
}

static void set_state(tse_tunnel *t, tse_state st)
{
    tse_event ev;
    if (t->state == st) {
        return;
    }
    ev_init(&ev, t, TSE_EV_STATE, 0);
    if (t->state == TSE_STATE_UP) {
        t->stats.up_ms += t->now - t->t_up;
    }
    DBG(t, "state %s -> %s", tse_state_name(t->state), tse_state_name(st));
    t->state = st;
    emit(t, &ev);
}

static void warn(tse_tunnel *t, const char *text)
{
    tse_event ev;
    ev_init(&ev, t, TSE_EV_WARNING, 0);
    ev.detail = text;
    LOGT(t, TSE_LOG_WARN, "%s", text);
    emit(t, &ev);
}

/* The TLS layer's text about its last failure, or NULL. */
static const char *tls_detail(const tse_tunnel *t)
{
    return t->tls.detail[0] ? t->tls.detail : NULL;
}

/* A control message's name as an event's detail (NULL without strings) */
static const char *cm_name(uint8_t type)
{
    return TSE_CONFIG_STRINGS ? tse_cm_type_name(type) : NULL;
}

/* ---- outbound ------------------------------------------------------- */

static int connected_phase(const tse_tunnel *t);
static void fail(tse_tunnel *t, int err, const char *detail);
static void fail_ex(tse_tunnel *t, int err, const char *detail, int status, int linger);
static void cm_header(tse_cm *m, uint8_t type, uint64_t tsid, uint32_t seq);

/* The optional on_trace callback: a unit queued (outbound) or received. */
static void trace(tse_tunnel *t, int outbound, int kind, const uint8_t *unit, size_t len)
{
    if (t->cb.on_trace != NULL) {
        t->cb.on_trace(t->user, outbound, kind, unit, len);
    }
}

/* Encode a control message into its queue (no sending). */
static int queue_cm(tse_tunnel *t, const tse_cm *m)
{
    uint8_t buf[TSE_CM_MAX_ENCODED];
    size_t n = 0;
    int rc = tse_cm_encode(m, buf, sizeof(buf), &n);
    if (rc != TSE_OK) {
        return rc;
    }
    rc = tse_outq_push(&t->oq, TSE_CLASS_CONTROL, buf, n, (uint32_t)t->now);
    if (rc == TSE_OK) {
        t->last_tx = t->now;
        t->stats.cm_out[m->type < TSE_STATS_CM_TYPES ? m->type : 0]++;
        DBG(t, "sending %s seq %u", tse_cm_type_name(m->type), (unsigned)m->seq);
        trace(t, 1, TSE_UNIT_CM, buf, n);
    } else {
        DBG(t, "cannot queue %s: %s", tse_cm_type_name(m->type), tse_strerror(rc));
    }
    return rc;
}

/* A graceful close lets the packets queued before it go first: the
 * Release_Request follows the last of them (control messages otherwise
 * overtake packets). */
static void queue_due_release(tse_tunnel *t)
{
    tse_cm m;
    if (!t->release_due ||
        tse_outq_queued(&t->oq, TSE_CLASS_REALTIME) > 0 ||
        tse_outq_queued(&t->oq, TSE_CLASS_BULK) > 0) {
        return;
    }
    t->release_due = 0;
    cm_header(&m, TSE_CM_RELEASE_REQUEST, t->cfg.tsid, t->release_seq);
    (void)queue_cm(t, &m); /* cannot fail: the release is the last CM */
}

static size_t min_size(size_t a, size_t b)
{
    return a < b ? a : b;
}

/* Move queued units into TLS records, by priority (outq.h), while less
 * than a record (sched.record_max) waits in the ciphertext buffer.  Bulk
 * only goes when the buffer is empty, so a real-time packet waits behind
 * at most one bulk record in the engine (TR 33.830 4.9).  Runs from the
 * calls that change the tunnel, never from a query. */
static void pump(tse_tunnel *t)
{
    if (t->pumping || t->conn != CONN_OPEN ||
        !(connected_phase(t) || (t->need_disconnect && t->linger))) {
        return;
    }
    t->pumping = 1;
    /* bounded: each round takes a record's worth or ends */
    for (int guard = 0; guard < 64; guard++) {
        const uint8_t *p = NULL;
        tse_class cls;
        size_t pend = tse_tls_pending(&t->tls, NULL);
        size_t room, bulk, n;
        int w;
        if (pend >= t->s.sched.record_max) {
            /* a record's worth waits for the port already: what goes
             * next is chosen when it has drained, and real-time packets
             * wait under their deadline here, not in the buffer */
            break;
        }
        room = tse_tls_max_chunk(&t->tls);
        bulk = pend == 0 ? min_size(room, t->s.sched.record_max) : 0;
        queue_due_release(t);
        n = tse_outq_peek(&t->oq, (uint32_t)t->now, room, bulk, &p, &cls);
        if (n == 0) {
            break;
        }
        w = tse_tls_write(&t->tls, p, n);
        if (w == TSE_ERR_WOULD_BLOCK) {
            tse_outq_pin(&t->oq); /* mbed TLS wants the same data again */
            break;
        }
        if (w < 0) {
            t->pumping = 0;
            fail(t, w, tls_detail(t));
            return;
        }
        tse_outq_commit(&t->oq, (size_t)w);
        count(&t->stats.records_out, 1);
    }
    t->pumping = 0;
}

static void clear_queue(tse_tunnel *t)
{
    count(&t->stats.queue_cleared_drops, tse_outq_queued(&t->oq, TSE_CLASS_COUNT));
    tse_outq_clear(&t->oq);
}

/* Queue a control message (its own queue) and send it if possible. */
static int send_cm(tse_tunnel *t, const tse_cm *m)
{
    int rc = queue_cm(t, m);
    if (rc == TSE_OK) {
        pump(t);
    }
    return rc;
}

OUT_OF_LINE static void cm_header(tse_cm *m, uint8_t type, uint64_t tsid, uint32_t seq)
{
    memset(m, 0, sizeof(*m));
    m->type = type;
    m->tsid = tsid;
    m->seq = seq;
}

/* ---- connection teardown and retry policy ----------------------------- */

static uint32_t backoff_delay(tse_tunnel *t)
{
    uint32_t base = t->s.backoff_initial_ms;
    uint32_t half, r = 0;
    for (uint32_t i = 0; i < t->attempt && base < t->s.backoff_max_ms; i++) {
        base = (base > UINT32_MAX / 2) ? UINT32_MAX : base * 2;
    }
    if (base > t->s.backoff_max_ms) {
        base = t->s.backoff_max_ms;
    }
    /* "equal jitter": half fixed, half random, so that many clients cut
     * off together do not come back together */
    half = base / 2;
    if (t->cb.entropy(t->user, (uint8_t *)&r, sizeof(r)) != 0) {
        r = 0;
    }
    return half + (half ? r % (half + 1) : 0);
}

static void drop_connection(tse_tunnel *t, int linger)
{
    if (t->conn != CONN_NONE) {
        t->need_disconnect = 1;
        t->linger = linger;
        if (linger) {
            set_phase(t, t->s.release_timeout_ms);
        }
    }
    if (!linger) {
        clear_queue(t);
    }
    t->ka_outstanding = 0;
    t->config_outstanding = 0;
    t->release_outstanding = 0;
    t->release_due = 0;
    tse_deframer_reset(&t->df);
}

/* ---- outer paths ------------------------------------------------------ */

/* Without TSE_CONFIG_MULTIPATH there is one port and no path cache: the
 * compiler drops the port switching and the cache code. */
#if TSE_CONFIG_MULTIPATH
#define NPORTS(t) ((unsigned)(t)->nports)
#define PATH_CACHE TSE_CONFIG_DETECT_CACHE
#else
#define NPORTS(t) 1u
#define PATH_CACHE 0
#endif

/* Failures that another port may not have: the network's, the proxy's,
 * and a certificate some middlebox put on one port. */
static int path_error(int err)
{
    switch (err) {
    case TSE_ERR_TLS_CERT_UNTRUSTED:
    case TSE_ERR_TLS_CERT_EXPIRED:
    case TSE_ERR_TLS_CERT_NAME:
    case TSE_ERR_TLS_CERT_OTHER:
    case TSE_ERR_TLS_PIN:
        return 1;
    case TSE_ERR_NETWORK_CHANGED:
        return 0;
    default:
        return tse_err_is_retryable(err);
    }
}

/* A connection on ports[path] failed in phase `was` with err: forget a
 * cached path that failed, then move to the next port if this round has
 * one left (1) or not (0). */
static int path_failed(tse_tunnel *t, tse_state was, int err)
{
    if (!TSE_CONFIG_MULTIPATH ||
        (was != TSE_STATE_CONNECTING && was != TSE_STATE_PROXY && was != TSE_STATE_TLS)) {
        /* one port and no cache (path_cached stays 0); or the path
         * worked: the TSCF or the tunnel failed */
        return 0;
    }
#if PATH_CACHE
    if (t->path_cached && t->path_tried == 0 && t->s.path_cache != NULL) {
        LOGT(t, TSE_LOG_INFO, "the path cached for this network failed: forgetting it");
        (void)tse_detect_cache_invalidate(t->s.path_cache, t->netid, t->netid_len);
    }
#endif
    t->path_cached = 0;
    if (!path_error(err) || t->path_tried + 1u >= NPORTS(t)) {
        return 0;
    }
    t->path_tried++;
    t->path = (uint8_t)((t->path + 1u) % NPORTS(t));
    t->hc_stale = 1;
    return 1;
}

/* Start a round of ports at index `from`.  (Without TSE_CONFIG_MULTIPATH
 * the path_* fields stay 0: one port, no cache.) */
static void path_round(tse_tunnel *t, unsigned from, int cached)
{
    if (TSE_CONFIG_MULTIPATH) {
        t->path = (uint8_t)(from < NPORTS(t) ? from : 0);
        t->path_tried = 0;
        t->path_cached = (uint8_t)cached;
    }
    t->hc_stale = 1;
}

/* The port index where path_cache says the tunnel worked on the current
 * network, with the proxy choice it has now; -1 if none. */
static int path_from_cache(tse_tunnel *t)
{
#if PATH_CACHE
    tse_detect_result r;
    int via;
    unsigned i;
    if (t->s.path_cache == NULL || t->netid_len == 0 ||
        tse_detect_cache_lookup(t->s.path_cache, t->netid, t->netid_len, &r) != TSE_OK) {
        return -1;
    }
    via = r.path == TSE_PATH_TUNNEL_VIA_PROXY;
    if ((r.path != TSE_PATH_TUNNEL_DIRECT && !via) || via != (t->s.proxy_host != NULL)) {
        return -1;
    }
    for (i = 0; i < t->nports; i++) {
        if (t->ports[i] == r.tunnel_port) {
            return (int)i;
        }
    }
#else
    (void)t;
#endif
    return -1;
}

/* The tunnel came up: this port is home, and the network remembers it
 * (unless detection found IMS reachable without a tunnel there). */
static void path_worked(tse_tunnel *t)
{
    if (!TSE_CONFIG_MULTIPATH) {
        return; /* one port, no cache (path_round()) */
    }
    t->path_home = t->path;
    t->path_tried = 0;
    t->path_cached = 0;
#if PATH_CACHE
    if (t->s.path_cache != NULL && t->netid_len != 0) {
        tse_detect_result r;
        if (tse_detect_cache_lookup(t->s.path_cache, t->netid, t->netid_len, &r) == TSE_OK &&
            r.path != TSE_PATH_TUNNEL_DIRECT && r.path != TSE_PATH_TUNNEL_VIA_PROXY) {
            return;
        }
        memset(&r, 0, sizeof(r));
        r.path = t->conn_via_proxy ? TSE_PATH_TUNNEL_VIA_PROXY : TSE_PATH_TUNNEL_DIRECT;
        r.tunnel_port = t->conn_port;
        r.tunnel_probe = t->path == 0 ? TSE_PROBE_TUNNEL_1 : TSE_PROBE_TUNNEL_2;
        (void)tse_detect_cache_store(t->s.path_cache, t->netid, t->netid_len, &r);
    }
#endif
}

/* (Re)initialise the CONNECT layer for the current connection's port and
 * the proxy credentials of now. */
static void hc_setup(tse_tunnel *t)
{
    tse_hc_params hp;
    memset(&hp, 0, sizeof(hp));
    hp.target_host = t->s.server_host;
    hp.target_port = t->conn_port;
    hp.user_agent = t->s.user_agent;
    hp.marker_header = t->s.proxy_marker_header;
    hp.user = t->s.proxy_user;
    hp.pass = t->s.proxy_pass;
    hp.entropy = t->cb.entropy;
    hp.entropy_user = t->user;
    tse_hc_init(&t->hc, &hp);
    t->hc_stale = 0;
}

/* The log line of a TUNNEL_DOWN: what failed where, and why.  A release
 * we asked for is news, not a failure. */
static void log_down(tse_tunnel *t, const tse_event *ev)
{
#if TSE_CONFIG_LOG
    int lvl = ev->error == TSE_ERR_CLOSED ? TSE_LOG_INFO : TSE_LOG_WARN;
    if (t->lg.fn == NULL || lvl > t->lg.level) {
        return;
    }
    if (ev->proxy_status != 0) {
        LOGT(t, lvl, "%s: %s (HTTP %d)%s%s", tse_state_name(ev->old_state),
             tse_strerror(ev->error), ev->proxy_status, ev->detail ? ": " : "",
             ev->detail ? ev->detail : "");
    } else if (ev->response_code != 0) {
        LOGT(t, lvl, "%s: %s (Response_Code %d)%s%s", tse_state_name(ev->old_state),
             tse_strerror(ev->error), ev->response_code, ev->detail ? ": " : "",
             ev->detail ? ev->detail : "");
    } else {
        LOGT(t, lvl, "%s: %s%s%s", tse_state_name(ev->old_state),
             tse_strerror(ev->error), ev->detail ? ": " : "",
             ev->detail ? ev->detail : "");
    }
#else
    (void)t;
    (void)ev;
#endif
}

/* The current connection failed with err: report, then CLOSED, PAUSED,
 * or BACKOFF per the retry policy.  detail: a text for humans or NULL;
 * status: the proxy's HTTP status in PROXY, else the TSCF's
 * Response_Code, 0 if none; linger: send what is pending first. */
static void fail_ex(tse_tunnel *t, int err, const char *detail, int status, int linger)
{
    tse_event ev;
    uint32_t delay = 0;

    t->last_error = err;
    drop_connection(t, linger);

    ev_init(&ev, t, TSE_EV_TUNNEL_DOWN, err);
    if (IN_PROXY(t)) {
        ev.proxy_status = status;
    } else {
        ev.response_code = status;
    }
    ev.detail = detail;
    log_down(t, &ev);
    emit(t, &ev);
    if (t->state == TSE_STATE_CLOSED) {
        return; /* the application closed from the callback */
    }

    if (err == TSE_ERR_SERVER_RELEASED || err == TSE_ERR_REJECT_INVALID_TSID) {
        t->resume_valid = 0; /* that tunnel is gone: start a fresh one */
    }
    if (t->closing) {
        set_state(t, TSE_STATE_CLOSED);
        return;
    }
    if (path_failed(t, ev.old_state, err)) {
        /* another port is left in this round: try it at once */
        LOGT(t, TSE_LOG_INFO, "trying TSCF port %u next, at once (port %u failed)",
             (unsigned)t->ports[t->path], (unsigned)t->conn_port);
    } else {
        int retry;
        if (TSE_CONFIG_MULTIPATH && (t->path != t->path_home || t->path_tried != 0)) {
            /* every port failed: the next round starts where the last worked */
            t->path = t->path_home;
            t->path_tried = 0;
            t->hc_stale = 1;
        }
        /* A tunnel that lasted backoff_stable_ms was a success: the backoff
         * starts over.  One that broke sooner counts as a failed attempt, so
         * a TSCF that configures and at once breaks the tunnel is retried
         * later and later, not every second for ever. */
        if (ev.old_state == TSE_STATE_UP && t->now - t->t_up >= t->s.backoff_stable_ms) {
            t->attempt = 0;
        }
        retry = t->s.auto_reconnect && tse_err_is_retryable(err);
        if (TSE_CONFIG_PROXY && err == TSE_ERR_PROXY_STATUS && ev.proxy_status < 500) {
            retry = 0; /* 4xx: the proxy refuses us; only 5xx is transient */
        }
        if (!retry && err != TSE_ERR_CLOSED) {
            LOGT(t, TSE_LOG_ERROR, "not reconnecting: %s",
                 !t->s.auto_reconnect ? "auto_reconnect is off"
                                      : "that failure is not transient");
        }
        if (retry && t->s.max_retries != 0 && t->attempt >= t->s.max_retries) {
            LOGT(t, TSE_LOG_ERROR, "giving up after %u failed attempts (max_retries)",
                 (unsigned)t->attempt);
            t->last_error = TSE_ERR_RETRIES_EXHAUSTED;
            ev_init(&ev, t, TSE_EV_TUNNEL_DOWN, TSE_ERR_RETRIES_EXHAUSTED);
            emit(t, &ev);
            retry = 0;
        }
        if (!retry) {
            set_state(t, TSE_STATE_CLOSED);
            return;
        }
        /* A resume refused as unknown TSID is retried at once as a new tunnel */
        if (err != TSE_ERR_REJECT_INVALID_TSID || t->attempt != 0) {
            delay = backoff_delay(t);
        }
        t->attempt++;
        LOGT(t, TSE_LOG_INFO, "reconnecting in %u ms (attempt %u%s)", (unsigned)delay,
             (unsigned)t->attempt, t->resume_valid ? ", resuming the tunnel" : "");
    }
    t->stats.reconnects++;
    t->t_backoff = add_ms(t->now, delay);
    set_state(t, TSE_STATE_BACKOFF);
    ev_init(&ev, t, TSE_EV_RECONNECT, err);
    ev.retry_in_ms = delay;
    emit(t, &ev);
}

static void fail(tse_tunnel *t, int err, const char *detail)
{
    fail_ex(t, err, detail, 0, 0);
}

/* ---- phases ----------------------------------------------------------- */

static void enter_connecting(tse_tunnel *t)
{
    uint32_t ms = t->s.connect_timeout_ms;
    if (t->path_tried + 1u < NPORTS(t) && t->s.path_timeout_ms != 0 &&
        t->s.path_timeout_ms < ms) {
        ms = t->s.path_timeout_ms; /* another port is left to try */
    }
    t->conn = CONN_WANTED;
    set_phase(t, ms);
    set_state(t, TSE_STATE_CONNECTING);
}

static int send_config_request(tse_tunnel *t)
{
    tse_cm m;
    uint64_t tsid = t->resume_valid ? t->resume_tsid : TSE_CM_TSID_NONE;
    cm_header(&m, TSE_CM_CONFIG_REQUEST, tsid, t->next_seq++);
    m.present = TSE_CM_HAS_IPV4_ADDRESS | TSE_CM_HAS_IPV4_NETMASK;
    /* A.1.9 / resume: ask for the previous inner address again */
    memcpy(m.ipv4_addr, t->resume_valid ? t->resume_ipv4 : t->s.request_ipv4, 4);
    memcpy(m.ipv4_mask, t->s.request_ipv4_mask, 4);
    if (TSE_CONFIG_IPV6 && t->s.request_ipv6) {
        m.present |= TSE_CM_HAS_IPV6_ADDRESS | TSE_CM_HAS_IPV6_NETMASK;
        memcpy(m.ipv6_addr,
               t->resume_valid ? t->resume_ipv6 : t->s.request_ipv6_addr, 16);
        memcpy(m.ipv6_mask, t->s.request_ipv6_mask, 16);
    }
    if (t->s.request_keepalive_s != 0) {
        m.present |= TSE_CM_HAS_KEEPALIVE;
        m.keepalive_s = t->s.request_keepalive_s;
    }
    t->config_outstanding = 1;
    t->config_seq = m.seq;
    set_phase(t, t->s.config_timeout_ms);
    return send_cm(t, &m);
}

static void adopt_config(tse_tunnel *t, const tse_cm *m);

/* FTT: the tunnel is the TLS connection (TS 24.322 has no control
 * messages).  A configured inner address (request_ipv4) is used as it
 * is; otherwise the engine waits, in CONFIGURING and at most
 * config_timeout_ms, for the server's first packet: its destination is
 * the inner address (docs/engine.md "FTT profile"). */
static void adopt_ftt(tse_tunnel *t, const uint8_t addr[4], const uint8_t mask[4])
{
    tse_cm m;
    memset(&m, 0, sizeof(m));
    m.tsid = TSE_CM_TSID_NONE; /* no TSID in this profile */
    m.present = TSE_CM_HAS_IPV4_ADDRESS | TSE_CM_HAS_IPV4_NETMASK;
    memcpy(m.ipv4_addr, addr, 4);
    memcpy(m.ipv4_mask, mask, 4);
    adopt_config(t, &m);
}

static void ftt_tls_up(tse_tunnel *t)
{
    static const uint8_t any[4] = { 0, 0, 0, 0 };
    LOGT(t, TSE_LOG_INFO, "TLS 1.%u up, %s; FTT profile: %s",
         (unsigned)(t->cfg.tls_version & 0xff) - 1u, t->cfg.tls_suite,
         memcmp(t->s.request_ipv4, any, 4) != 0 ? "configured inner address"
                                                : "waiting for the first packet");
    set_state(t, TSE_STATE_CONFIGURING);
    if (t->state != TSE_STATE_CONFIGURING) {
        return; /* the application closed from the callback */
    }
    if (memcmp(t->s.request_ipv4, any, 4) != 0) {
        adopt_ftt(t, t->s.request_ipv4, t->s.request_ipv4_mask);
        return;
    }
    set_phase(t, t->s.config_timeout_ms);
}

static void tls_step(tse_tunnel *t)
{
    int rc = tse_tls_handshake(&t->tls);
    if (rc == TSE_ERR_WOULD_BLOCK) {
        return;
    }
    if (rc != TSE_OK) {
        /* linger: the alert mbed TLS queued tells the server why */
        fail_ex(t, rc, tls_detail(t), 0, 1);
        return;
    }
    if (t->tls.cf->insecure) {
        warn(t, TSE_TEXT("TLS verification is OFF (lab-only): the TSCF is not authenticated"));
    }
    if (TSE_CONFIG_KEYLOG && t->s.tls_keylog != NULL) {
        warn(t, TSE_TEXT("TLS key log is ON (tls_keylog): whoever reads it can decrypt the tunnel"));
    }
    t->early_warned = 0;
    t->cfg.tls_version = tse_tls_version(&t->tls);
    t->cfg.tls_suite = tse_tls_suite(&t->tls);
    if (FTT(t)) {
        ftt_tls_up(t);
        return;
    }
    LOGT(t, TSE_LOG_INFO, "TLS 1.%u up, %s; sending Configuration_Request%s",
         (unsigned)(t->cfg.tls_version & 0xff) - 1u, t->cfg.tls_suite,
         t->resume_valid ? " to resume the tunnel" : "");
    set_state(t, TSE_STATE_CONFIGURING);
    rc = send_config_request(t);
    if (rc != TSE_OK) {
        fail(t, rc, cm_name(TSE_CM_CONFIG_REQUEST)); /* could not queue it */
    }
}

static void enter_tls(tse_tunnel *t)
{
    int rc = tse_tls_start(&t->tls);
    if (rc != TSE_OK) {
        fail(t, rc, NULL);
        return;
    }
    set_phase(t, t->s.tls_timeout_ms);
    set_state(t, TSE_STATE_TLS);
    tls_step(t);
}

static void send_proxy_request(tse_tunnel *t)
{
    uint8_t *p = NULL;
    size_t room = tse_tls_raw_reserve(&t->tls, &p);
    int n = tse_hc_request(&t->hc, p, room);
    if (n < 0) {
        fail(t, n, TSE_TEXT("cannot build the CONNECT request"));
        return;
    }
    tse_tls_raw_commit(&t->tls, (size_t)n);
}

/* ---- inbound ---------------------------------------------------------- */

static void adopt_config(tse_tunnel *t, const tse_cm *m)
{
    tse_event ev;
    uint8_t old4[4];
    int has6 = TSE_CONFIG_IPV6 && (m->present & TSE_CM_HAS_IPV6_ADDRESS) != 0;
    /* compared with the last tunnel, resumed or not: the application's
     * sockets are bound to those addresses */
    int changed = t->cfg_valid &&
                  (memcmp(t->cfg.ipv4, m->ipv4_addr, 4) != 0 ||
                   t->cfg.has_ipv6 != has6 ||
                   (has6 && memcmp(t->cfg.ipv6, m->ipv6_addr, 16) != 0));
    int resumed = t->resume_valid && m->tsid == t->resume_tsid;

    memcpy(old4, t->cfg.ipv4, 4);
    t->cfg.tsid = m->tsid;
    memcpy(t->cfg.ipv4, m->ipv4_addr, 4);
    if (m->present & TSE_CM_HAS_IPV4_NETMASK) {
        memcpy(t->cfg.ipv4_mask, m->ipv4_mask, 4);
    } else {
        memset(t->cfg.ipv4_mask, 0xff, 4);
    }
    t->cfg.has_ipv6 = has6;
    if (t->cfg.has_ipv6) {
        memcpy(t->cfg.ipv6, m->ipv6_addr, 16);
        if (m->present & TSE_CM_HAS_IPV6_NETMASK) {
            memcpy(t->cfg.ipv6_mask, m->ipv6_mask, 16);
        } else {
            memset(t->cfg.ipv6_mask, 0xff, 16);
        }
    }
    /* A.1.8.1: the TSCF assigns the interval; else ours if configured
     * on both sides */
    t->cfg.keepalive_s = (m->present & TSE_CM_HAS_KEEPALIVE)
                             ? m->keepalive_s : t->s.request_keepalive_s;
    if (FTT(t)) {
        t->cfg.keepalive_s = 0; /* TS 24.322 has no keep-alive message */
    }
    t->cfg.resumed = resumed;
    t->cfg.via_proxy = t->conn_via_proxy;
    t->cfg.server_port = t->conn_port;
    t->cfg_valid = 1;
    path_worked(t);

    /* FTT: no TSID, nothing to resume; a cut means a new tunnel */
    t->resume_valid = !FTT(t);
    t->resume_tsid = m->tsid;
    memcpy(t->resume_ipv4, m->ipv4_addr, 4);
    if (t->cfg.has_ipv6) {
        memcpy(t->resume_ipv6, m->ipv6_addr, 16);
    }
    t->t_up = t->now; /* the backoff restarts once it lasts (fail_ex) */
    if (resumed) {
        t->stats.resumes++;
    }
    t->stats.ups++;
    if (FTT(t)) {
        LOGT(t, TSE_LOG_INFO, "FTT tunnel up: inner %u.%u.%u.%u/%u.%u.%u.%u",
             IPV4_ARGS(t->cfg.ipv4), IPV4_ARGS(t->cfg.ipv4_mask));
    } else {
        LOGT(t, TSE_LOG_INFO,
             "tunnel up: inner %u.%u.%u.%u/%u.%u.%u.%u%s, TSID 0x%llx (%s), keep-alive %u s",
             IPV4_ARGS(t->cfg.ipv4), IPV4_ARGS(t->cfg.ipv4_mask),
             t->cfg.has_ipv6 ? " and IPv6" : "", (unsigned long long)t->cfg.tsid,
             resumed ? "resumed" : "new", (unsigned)t->cfg.keepalive_s);
    }
    if (changed) {
        LOGT(t, TSE_LOG_WARN,
             "inner address changed from %u.%u.%u.%u to %u.%u.%u.%u%s: "
             "the application must rebind",
             IPV4_ARGS(old4), IPV4_ARGS(t->cfg.ipv4),
             memcmp(old4, t->cfg.ipv4, 4) == 0 ? " (IPv6 changed)" : "");
    }
    t->config_outstanding = 0;
    t->t_phase = TSE_TIME_NEVER;
    t->last_tx = t->now;
    t->last_rx = t->now;
    set_state(t, TSE_STATE_UP);

    ev_init(&ev, t, TSE_EV_TUNNEL_UP, 0);
    ev.old_state = TSE_STATE_CONFIGURING;
    ev.config = &t->cfg;
    emit(t, &ev);
    if (changed && t->state == TSE_STATE_UP) {
        ev.type = TSE_EV_ADDR_CHANGED;
        emit(t, &ev);
    }
}

static int reject_error(uint16_t code)
{
    switch (code) {
    case TSE_RC_INVALID_TSID: return TSE_ERR_REJECT_INVALID_TSID;
    case TSE_RC_BLACKLISTED: return TSE_ERR_REJECT_BLACKLISTED;
    case TSE_RC_NO_RESOURCES: return TSE_ERR_REJECT_NO_RESOURCES;
    case TSE_RC_UNAVAILABLE: return TSE_ERR_REJECT_UNAVAILABLE;
    case TSE_RC_VERSION_NOT_SUPPORTED: return TSE_ERR_REJECT_VERSION;
    default: return TSE_ERR_REJECT_OTHER;
    }
}

/* Why an assigned inner address cannot be ours (the TSE sends from it
 * and the TSCF routes to it), or NULL if it is unicast: not unspecified,
 * "this network", loopback, multicast, reserved or broadcast (RFC 6890),
 * nor an IPv6 unspecified, loopback, multicast or IPv4-mapped one (RFC
 * 4291 2.5.2, 2.5.3, 2.5.5.2, 2.7).  The texts say what the address is,
 * not where it came from: a Configuration_Response, or in the FTT
 * profile the server's first packet (the error says the rest). */
static const char *bad_ipv4(const uint8_t a[4])
{
    if ((a[0] | a[1] | a[2] | a[3]) == 0) {
        return TSE_TEXT_NZ("inner IPv4 is unspecified (0.0.0.0)");
    }
    if (a[0] == 0) {
        return TSE_TEXT_NZ("inner IPv4 is in 0.0.0.0/8 (this network)");
    }
    if (a[0] == 127) {
        return TSE_TEXT_NZ("inner IPv4 is loopback (127.0.0.0/8)");
    }
    if (a[0] >= 224 && a[0] < 240) {
        return TSE_TEXT_NZ("inner IPv4 is multicast (224.0.0.0/4)");
    }
    if ((a[0] & a[1] & a[2] & a[3]) == 255) {
        return TSE_TEXT_NZ("inner IPv4 is broadcast (255.255.255.255)");
    }
    if (a[0] >= 240) {
        return TSE_TEXT_NZ("inner IPv4 is reserved (240.0.0.0/4)");
    }
    return NULL;
}

#if TSE_CONFIG_IPV6
static const char *bad_ipv6(const uint8_t a[16])
{
    static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
    uint8_t head = 0;
    for (int i = 0; i < 15; i++) {
        head |= a[i];
    }
    if (head == 0 && a[15] == 0) {
        return TSE_TEXT_NZ("inner IPv6 is unspecified (::)");
    }
    if (head == 0 && a[15] == 1) {
        return TSE_TEXT_NZ("inner IPv6 is loopback (::1)");
    }
    if (a[0] == 0xff) {
        return TSE_TEXT_NZ("inner IPv6 is multicast (ff00::/8)");
    }
    if (memcmp(a, mapped, sizeof(mapped)) == 0) {
        return TSE_TEXT_NZ("inner IPv6 is IPv4-mapped (::ffff:0:0/96)");
    }
    return NULL;
}
#endif

static void on_config_response(tse_tunnel *t, const tse_cm *m)
{
    const char *why;
    if (t->state != TSE_STATE_CONFIGURING) {
        fail(t, TSE_ERR_PROTO_UNEXPECTED, cm_name(m->type));
        return;
    }
    if (!t->config_outstanding || m->seq != t->config_seq) {
        fail(t, TSE_ERR_PROTO_SEQUENCE, cm_name(m->type));
        return;
    }
    /* A.1.4: the response assigns the TSID.  A success that answers a
     * resume with another TSID is a new tunnel (the TSCF no longer knew
     * the old one): adopt_config() reports resumed=0 and any address
     * change, rather than insisting on a TSID the server forgot. */
    if (m->response_code != TSE_RC_SUCCESS) {
        fail_ex(t, reject_error(m->response_code), NULL, m->response_code, 0);
        return;
    }
    if (!(m->present & TSE_CM_HAS_IPV4_ADDRESS) || m->tsid == TSE_CM_TSID_NONE) {
        fail(t, TSE_ERR_PROTO_NO_ADDRESS,
             TSE_TEXT("no IPv4 address or no TSID"));
        return;
    }
    why = bad_ipv4(m->ipv4_addr);
#if TSE_CONFIG_IPV6
    if (why == NULL && (m->present & TSE_CM_HAS_IPV6_ADDRESS)) {
        why = bad_ipv6(m->ipv6_addr);
    }
#endif
    if (why != NULL) {
        fail(t, TSE_ERR_PROTO_NO_ADDRESS, why);
        return;
    }
    adopt_config(t, m);
}

/* A Keep_Alive_Response came: its round trip into the statistics
 * (last, min, and RFC 6298's SRTT with gain 1/8). */
static void ka_rtt_sample(tse_tunnel *t)
{
    tse_time_ms d = t->now - t->t_ka_sent;
    uint32_t rtt = d > UINT32_MAX ? UINT32_MAX : (uint32_t)d;
    tse_stats *st = &t->stats;
    if (st->keepalive_responses == 1 || st->ka_rtt_srtt_ms == 0) {
        st->ka_rtt_srtt_ms = rtt;
    } else {
        st->ka_rtt_srtt_ms = st->ka_rtt_srtt_ms - st->ka_rtt_srtt_ms / 8u + rtt / 8u;
    }
    if (st->keepalive_responses == 1 || rtt < st->ka_rtt_min_ms) {
        st->ka_rtt_min_ms = rtt;
    }
    st->ka_rtt_last_ms = rtt;
    DBG(t, "Keep_Alive_Response after %u ms (smoothed %u ms)", (unsigned)rtt,
        (unsigned)st->ka_rtt_srtt_ms);
}

static void handle_cm(tse_tunnel *t, const tse_cm *m)
{
    tse_cm r;
    int up = t->state == TSE_STATE_UP || t->state == TSE_STATE_RELEASING;

    if (m->type == TSE_CM_CONFIG_RESPONSE) {
        on_config_response(t, m);
        return;
    }
    if (!up) {
        fail(t, TSE_ERR_PROTO_UNEXPECTED, cm_name(m->type));
        return;
    }
    /* A.1.4: messages without the expected TSID are dropped and the
     * tunnel terminated */
    if (m->tsid != t->cfg.tsid) {
        fail(t, TSE_ERR_PROTO_TSID, cm_name(m->type));
        return;
    }
    switch (m->type) {
    case TSE_CM_KEEPALIVE_RESPONSE:
        if (!t->ka_outstanding || m->seq != t->ka_seq) {
            fail(t, TSE_ERR_PROTO_SEQUENCE, cm_name(m->type));
            return;
        }
        t->ka_outstanding = 0;
        t->stats.keepalive_responses++;
        ka_rtt_sample(t);
        if ((m->present & TSE_CM_HAS_RESPONSE_CODE) &&
            m->response_code != TSE_RC_SUCCESS) {
            fail_ex(t, reject_error(m->response_code), cm_name(m->type), m->response_code, 0);
        }
        return;
    case TSE_CM_KEEPALIVE:
        /* the TSCF probing us: answer with the same sequence (A.1.8) */
        cm_header(&r, TSE_CM_KEEPALIVE_RESPONSE, t->cfg.tsid, m->seq);
        r.present = TSE_CM_HAS_RESPONSE_CODE;
        (void)send_cm(t, &r);
        return;
    case TSE_CM_RELEASE_RESPONSE:
        if (!t->release_outstanding || m->seq != t->release_seq) {
            fail(t, TSE_ERR_PROTO_SEQUENCE, cm_name(m->type));
            return;
        }
        t->resume_valid = 0;
        /* RFC 8446 6.1: end TLS cleanly, and send it before closing;
         * inner packets still queued have nowhere to go */
        clear_queue(t);
        tse_tls_close_notify(&t->tls);
        fail_ex(t, TSE_ERR_CLOSED, NULL, 0, 1);
        return;
    case TSE_CM_RELEASE_REQUEST:
        cm_header(&r, TSE_CM_RELEASE_RESPONSE, t->cfg.tsid, m->seq);
        r.present = TSE_CM_HAS_RESPONSE_CODE;
        (void)send_cm(t, &r);
        fail_ex(t, TSE_ERR_SERVER_RELEASED, cm_name(m->type), 0, 1); /* answer first */
        return;
    default:
        fail(t, TSE_ERR_PROTO_UNEXPECTED, cm_name(m->type));
        return;
    }
}

static int valid_packet(const uint8_t *p, size_t len);

static void handle_unit(tse_tunnel *t, const tse_unit *u)
{
    t->last_rx = t->now;
    trace(t, 0, u->kind, u->data, u->len);
    if (u->kind == TSE_UNIT_CM) {
        tse_cm m;
        int rc = tse_cm_decode(&m, u->data, u->len);
        if (rc != TSE_OK) {
            fail(t, rc, TSE_TEXT("malformed control message"));
            return;
        }
        t->stats.unknown_tlvs += m.unknown_tlvs;
        t->stats.cm_in[m.type < TSE_STATS_CM_TYPES ? m.type : 0]++;
        DBG(t, "received %s seq %u%s", tse_cm_type_name(m.type), (unsigned)m.seq,
            m.unknown_tlvs ? " (reserved TLVs skipped)" : "");
        handle_cm(t, &m);
        return;
    }
    if (FTT(t) && !valid_packet(u->data, u->len)) {
        /* TS 24.322: Length is the envelope's, so the packet inside must
         * be exactly one whole packet; if its own header disagrees, the
         * Length (and where the next envelope starts) cannot be trusted */
        fail(t, TSE_ERR_FRAME_ENVELOPE,
             TSE_TEXT("envelope Length disagrees with the packet's own length"));
        return;
    }
    if (FTT(t) && t->state == TSE_STATE_CONFIGURING && u->kind == TSE_UNIT_IPV4) {
        /* the server's first packet: its IPv4 destination (header octets
         * 17-20, RFC 791 3.1) is our inner address */
        static const uint8_t host[4] = { 255, 255, 255, 255 };
        const char *why = bad_ipv4(u->data + 16);
        if (why != NULL) {
            fail(t, TSE_ERR_PROTO_NO_ADDRESS, why);
            return;
        }
        adopt_ftt(t, u->data + 16, host);
        if (t->state != TSE_STATE_UP) {
            return;
        }
    }
    if (t->state != TSE_STATE_UP && t->state != TSE_STATE_RELEASING) {
        /* before the Configuration_Response there is no inner address to
         * deliver to: dropped, counted, and said once per connection */
        t->stats.early_packets++;
        if (!t->early_warned) {
            t->early_warned = 1;
            warn(t, TSE_TEXT("inner packets before the Configuration_Response dropped "
                             "(tse_stats.early_packets)"));
        }
        return;
    }
    count(&t->stats.packets_in, 1);
    count(&t->stats.bytes_in, u->len);
    t->cb.on_packet(t->user, u->data, u->len);
}

static int connected_phase(const tse_tunnel *t)
{
    return t->state == TSE_STATE_CONFIGURING || t->state == TSE_STATE_UP ||
           t->state == TSE_STATE_RELEASING;
}

/* Out of line: inlined into tse_tunnel_recv_outer(), its only caller
 * without the proxy, its frame would sit under the TLS handshake's. */
OUT_OF_LINE static void read_records(tse_tunnel *t)
{
    /* bounded: each round consumes input or ends */
    for (int guard = 0; guard < 1 << 16; guard++) {
        int n;
        size_t off = 0;
        if (!connected_phase(t) || t->need_disconnect) {
            return;
        }
        n = tse_tls_read(&t->tls, t->rbuf, sizeof(t->rbuf));
        if (n == TSE_ERR_WOULD_BLOCK) {
            return;
        }
        if (n < 0) {
            fail(t, n, tls_detail(t));
            return;
        }
        if (tse_tls_read_ends_record(&t->tls)) {
            count(&t->stats.records_in, 1);
        }
        while (off < (size_t)n && connected_phase(t) && !t->need_disconnect) {
            size_t used = 0;
            tse_unit u;
            int rc = tse_deframer_feed(&t->df, t->rbuf + off, (size_t)n - off,
                                       &used, &u);
            off += used;
            if (rc < 0) {
                fail(t, rc, TSE_TEXT("malformed unit"));
                return;
            }
            if (rc == 1) {
                handle_unit(t, &u);
            }
        }
    }
}

static void proxy_input(tse_tunnel *t, const uint8_t *data, size_t len)
{
    for (int guard = 0; guard < 16 && t->state == TSE_STATE_PROXY; guard++) {
        size_t used = 0;
        int rc = tse_hc_feed(&t->hc, data, len, &used);
        data += used;
        len -= used;
        if (rc == TSE_HC_NEED_MORE) {
            return;
        }
        if (rc == TSE_HC_ESTABLISHED) {
            LOGT(t, TSE_LOG_INFO, "proxy: CONNECT %s port %u established (HTTP %d)",
                 t->s.server_host, (unsigned)t->s.server_port, tse_hc_status(&t->hc));
            /* bytes glued after the head are the server's TLS records */
            enter_tls(t);
            if (t->state == TSE_STATE_TLS && len > 0) {
                tse_tls_set_input(&t->tls, data, len);
                tls_step(t);
                read_records(t);
                tse_tls_set_input(&t->tls, NULL, 0);
            }
            return;
        }
        if (rc == TSE_HC_RESEND) {
            LOGT(t, TSE_LOG_INFO, "proxy: HTTP %d, answering its challenge on the same connection",
                 tse_hc_status(&t->hc));
            tse_hc_restart(&t->hc);
            send_proxy_request(t);
            set_phase(t, t->s.proxy_timeout_ms);
            continue;
        }
        if (rc == TSE_HC_RECONNECT) {
            LOGT(t, TSE_LOG_INFO, "proxy: HTTP %d and the connection closes: "
                 "reconnecting to answer its challenge", tse_hc_status(&t->hc));
            drop_connection(t, 0);
            enter_connecting(t); /* at once, not a failure */
            return;
        }
        fail_ex(t, rc, tse_hc_reason(&t->hc), tse_hc_status(&t->hc), 0);
        return;
    }
}

/* ---- public API ------------------------------------------------------- */

void tse_settings_default(tse_settings *s)
{
    memset(s, 0, sizeof(*s));
    s->server_port = 443;
    s->proxy_port = 8080;
    s->user_agent = "libtse/" TSE_VERSION_STRING;
    memset(s->request_ipv4_mask, 0xff, 4);
    memset(s->request_ipv6_mask, 0xff, 16);
    s->connect_timeout_ms = 10000;
    s->proxy_timeout_ms = 10000;
    s->tls_timeout_ms = 15000;
    s->config_timeout_ms = 10000;
    s->ka_response_timeout_ms = 0; /* scales with the interval */
    s->dpd_idle_ms = 20000;
    s->release_timeout_ms = 3000;
    s->auto_reconnect = 1;
    s->backoff_initial_ms = 1000;
    s->backoff_max_ms = 60000;
    s->max_retries = 0;
    s->backoff_stable_ms = 30000;
    s->path_timeout_ms = 2000;
    s->outq_size = 16384;
    s->max_unit = 2048;
    s->framing = TSE_FRAMING_TSCF;
    s->sched.fifo = 0;
    s->sched.rt_queue_size = 4096;
    s->sched.rt_deadline_ms = 150;
    s->sched.rt_dscp = TSE_DSCP_RT_DEFAULT;
    s->sched.rt_udp = 1;
    s->sched.rt_icmp = 1;
    s->sched.rt_small_tcp = 80;
    s->sched.record_max = 4096;
    s->sched.notsent_lowat = 8192;
    s->log_level = TSE_LOG_INFO;
}

/* Room for a string in the tunnel's fixed buffers (NULL fits). */
static int str_fits(const char *str, size_t max)
{
    size_t i;
    if (str == NULL) {
        return 1;
    }
    for (i = 0; i <= max; i++) {
        if (str[i] == '\0') {
            return 1;
        }
    }
    return 0;
}

/* The proxy half of tse_settings_check() and tse_tunnel_set_outer_path(). */
static int proxy_check(const char *host, uint16_t port, const char *user, const char *pass)
{
    if ((host != NULL && port == 0) || (user != NULL) != (pass != NULL)) {
        return TSE_ERR_SETTING_PROXY;
    }
    if (!TSE_CONFIG_PROXY) {
        /* compiled out (tse/config.h): no proxy, and its credentials,
         * which nothing would use, are not kept either */
        return host != NULL ? TSE_ERR_SETTING_PROXY : TSE_OK;
    }
    if (!str_fits(host, TSE_HC_MAX_HOST) || !str_fits(user, TSE_HC_MAX_CRED) ||
        !str_fits(pass, TSE_HC_MAX_CRED)) {
        return TSE_ERR_SETTING_PROXY;
    }
    return TSE_OK;
}

int tse_settings_check(const tse_settings *s)
{
    int rc;
    if (s == NULL || s->server_host == NULL) {
        return TSE_ERR_INVALID_ARG;
    }
    if (s->server_host[0] == '\0' || s->server_port == 0) {
        return TSE_ERR_SETTING_SERVER;
    }
    if (s->framing != TSE_FRAMING_TSCF &&
        !(TSE_CONFIG_FTT && s->framing == TSE_FRAMING_FTT)) {
        return TSE_ERR_SETTING_PROFILE; /* unknown, or FTT compiled out */
    }
    /* FTT: the envelope's Length (16 bits) counts its 3 octets too */
    if (s->max_unit < 576 || s->max_unit + tse_frame_overhead(s->framing) > 65535) {
        return TSE_ERR_SETTING_MAX_UNIT;
    }
    if (s->outq_size < s->max_unit + tse_frame_overhead(s->framing)) {
        return TSE_ERR_SETTING_QUEUE;
    }
    if (s->backoff_initial_ms == 0 || s->backoff_max_ms < s->backoff_initial_ms) {
        return TSE_ERR_SETTING_BACKOFF;
    }
    rc = proxy_check(s->proxy_host, s->proxy_port, s->proxy_user, s->proxy_pass);
    if (rc != TSE_OK) {
        return rc;
    }
    if (s->server_port_2 == s->server_port ||
        (!TSE_CONFIG_MULTIPATH && s->server_port_2 != 0) ||
        (!PATH_CACHE && s->path_cache != NULL)) {
        return TSE_ERR_SETTING_PATH;
    }
    if (s->sched.record_max < 256) {
        return TSE_ERR_SETTING_SCHED;
    }
    if (s->tls_config != NULL &&
        (s->ca != NULL || s->client_cert != NULL || s->client_key != NULL ||
         s->tls_insecure_lab_only_skip_verify)) {
        return TSE_ERR_SETTING_TLS;
    }
    /* (unsigned: a negative level is out of range too, and with short
     * enums (arm-none-eabi) a signed test would be always false) */
    if ((unsigned)s->log_level > (unsigned)TSE_LOG_DEBUG ||
        (s->log != NULL && s->log_level == TSE_LOG_DEBUG && !TSE_CONFIG_LOG_DEBUG)) {
        return TSE_ERR_SETTING_LOG; /* out of range, or debug compiled out */
    }
    if (tse_tls_debug_check(s) != TSE_OK ||
        (!TSE_CONFIG_KEYLOG && s->tls_keylog != NULL)) {
        return TSE_ERR_SETTING_LOG; /* ... or the key log compiled out */
    }
    if (!TSE_CONFIG_IPV6 && s->request_ipv6) {
        return TSE_ERR_INVALID_ARG; /* compiled out (tse/config.h) */
    }
    return TSE_OK;
}

/* The tunnel's one allocation: the struct, its own TLS configuration
 * unless it shares one, then the queues' rings, the ciphertext buffer, the
 * inbound unit buffer and the strings. */
static size_t own_conf_size(const tse_settings *s)
{
    return s->tls_config != NULL ? 0 : (sizeof(tse_tls_conf) + 7u) & ~(size_t)7u;
}

static size_t queues_size(const tse_settings *s)
{
    /* rounded so that what follows stays aligned */
    size_t n = tse_outq_footprint(TSE_CM_QUEUE_SIZE, s->sched.rt_queue_size,
                                  s->outq_size);
    return (n + 7u) & ~(size_t)7u;
}

size_t tse_tunnel_footprint(const tse_settings *s)
{
    size_t n = sizeof(struct tse_tunnel) + own_conf_size(s) + queues_size(s) +
               TSE_OUTER_BUF_SIZE + s->max_unit + tse_frame_overhead(s->framing);
    /* (the proxy's strings have fixed room in the struct: they change) */
    n += str_size(s->server_host) + str_size(s->sni) + str_size(s->user_agent) +
         str_size(s->proxy_marker_header);
    return n;
}

#if TSE_CONFIG_PROXY
/* Copy str (NULL: none) into a fixed buffer that proxy_check() showed
 * it fits. */
static const char *keep_str(char *buf, const char *str)
{
    if (str == NULL) {
        return NULL;
    }
    memcpy(buf, str, strlen(str) + 1u);
    return buf;
}
#endif

/* Keep the proxy of later attempts (checked by proxy_check()). */
static void set_proxy(tse_tunnel *t, const char *host, uint16_t port, const char *user,
                      const char *pass)
{
#if TSE_CONFIG_PROXY
    memset(t->px_pass, 0, sizeof(t->px_pass));
    t->s.proxy_host = keep_str(t->px_host, host);
    t->s.proxy_user = keep_str(t->px_user, user);
    t->s.proxy_pass = keep_str(t->px_pass, pass);
#else
    (void)host;
    (void)user;
    (void)pass;
    t->s.proxy_host = t->s.proxy_user = t->s.proxy_pass = NULL;
#endif
    t->s.proxy_port = port;
}

int tse_tunnel_new(tse_tunnel **out, const tse_settings *s,
                   const tse_callbacks *cb, const tse_mem *mem, void *user)
{
    tse_tunnel *t;
    uint8_t *area;
    char *strs;
    const char *sni;
    tse_tls_conf *cf;
    size_t unit_cap;
    int rc;

    if (out == NULL || s == NULL || cb == NULL || mem == NULL ||
        mem->calloc == NULL || mem->free == NULL || cb->on_event == NULL ||
        cb->on_packet == NULL || cb->entropy == NULL) {
        return TSE_ERR_INVALID_ARG;
    }
    rc = tse_settings_check(s);
    if (rc != TSE_OK) {
        return rc;
    }
    *out = NULL;
    t = mem->calloc(mem->user, 1, tse_tunnel_footprint(s));
    if (t == NULL) {
        return TSE_ERR_NO_MEMORY;
    }
    t->s = *s;
    t->cb = *cb;
    t->mem = *mem;
    t->user = user;
    tse_tls_init(&t->tls); /* from here on, tse_tunnel_del() undoes it all */
    area = (uint8_t *)(t + 1);
    if (s->tls_config == NULL) {
        t->own_conf = (tse_tls_conf *)(void *)area;
        tse_tls_conf_init(t->own_conf);
    }
    area += own_conf_size(s);
    tse_outq_init(&t->oq, &s->sched, area, TSE_CM_QUEUE_SIZE,
                  s->sched.rt_queue_size, s->outq_size);
    area += queues_size(s);
    t->outer = area;
    area += TSE_OUTER_BUF_SIZE;
    t->unit_buf = area;
    unit_cap = s->max_unit + tse_frame_overhead(s->framing);
    area += unit_cap;
    strs = (char *)area;
    t->s.server_host = str_copy(&strs, s->server_host);
    t->s.sni = str_copy(&strs, s->sni);
    set_proxy(t, s->proxy_host, s->proxy_port, s->proxy_user, s->proxy_pass);
    t->s.user_agent = str_copy(&strs, s->user_agent);
    t->s.proxy_marker_header = str_copy(&strs, s->proxy_marker_header);
    /* key material is parsed now and not kept */
    t->s.ca = NULL;
    t->s.pin_sha256 = NULL;
    t->s.client_cert = t->s.client_key = NULL;
    t->lg.fn = TSE_CONFIG_LOG ? s->log : NULL;
    t->lg.user = s->log_user;
    t->lg.t = t;
    t->lg.level = (int)s->log_level;
    t->state = TSE_STATE_IDLE;
    t->next_seq = 1;
    t->t_phase = t->t_backoff = TSE_TIME_NEVER;

    rc = tse_deframer_init(&t->df, s->framing, t->unit_buf, unit_cap);

    /* verify against the host we connect to unless told otherwise; an
     * IP literal is matched against the IP SAN and not sent as SNI */
    sni = t->s.sni != NULL ? t->s.sni : t->s.server_host;
    cf = t->own_conf;
    if (s->tls_config != NULL) {
        cf = tse_tls_config_conf(s->tls_config);
    } else if (rc == TSE_OK) {
        tse_tls_conf_params cp;
        tse_tls_conf_params_from(&cp, s, cb->entropy, user);
        cp.log = &t->lg; /* mbed TLS debug lines name this tunnel */
        rc = tse_tls_conf_setup(cf, &cp);
    }
    if (rc == TSE_OK) {
        rc = tse_tls_setup(&t->tls, cf, sni, s->pin_sha256, t->outer,
                           TSE_OUTER_BUF_SIZE);
    }
#if TSE_CONFIG_KEYLOG
    if (rc == TSE_OK) {
        rc = tse_tls_set_keylog(&t->tls, s->tls_keylog, s->tls_keylog_user,
                                s->tls_config == NULL);
    }
#endif
    if (rc != TSE_OK) {
        tse_tunnel_del(t);
        return rc;
    }

    t->ports[0] = s->server_port;
    t->ports[1] = s->server_port_2;
    t->nports = s->server_port_2 != 0 ? 2 : 1;
    t->conn_port = s->server_port;
    if (TSE_CONFIG_PROXY) {
        hc_setup(t);
    }

    *out = t;
    return TSE_OK;
}

void tse_tunnel_del(tse_tunnel *t)
{
    tse_mem mem;
    if (t == NULL) {
        return;
    }
    mem = t->mem;
    tse_tls_free(&t->tls);
    if (t->own_conf != NULL) {
        tse_tls_conf_free(t->own_conf);
    }
#if TSE_CONFIG_PROXY
    /* the password lives inside the allocation: do not leave it */
    memset(t->px_pass, 0, sizeof(t->px_pass));
#endif
    mem.free(mem.user, t);
}

int tse_tunnel_start(tse_tunnel *t, tse_time_ms now)
{
    if (t == NULL) {
        return TSE_ERR_INVALID_ARG;
    }
    if (t->state != TSE_STATE_IDLE) {
        return TSE_ERR_STATE;
    }
    t->now = now;
    enter_connecting(t);
    return TSE_OK;
}

unsigned tse_tunnel_want(const tse_tunnel *t)
{
    unsigned w = 0;
    if (t == NULL) {
        return 0;
    }
    if (t->need_disconnect) {
        if (t->linger && tse_tls_pending(&t->tls, NULL) > 0) {
            return TSE_WANT_WRITE;
        }
        return TSE_WANT_DISCONNECT;
    }
    if (t->state == TSE_STATE_CONNECTING && t->conn == CONN_WANTED) {
        return TSE_WANT_CONNECT;
    }
    if (t->conn == CONN_OPEN) {
        w |= TSE_WANT_READ;
        /* queued units are moved into records whenever the buffer has
         * room (pump()), so pending ciphertext is all there is to send */
        if (tse_tls_pending(&t->tls, NULL) > 0) {
            w |= TSE_WANT_WRITE;
        }
    }
    return w;
}

int tse_tunnel_connect_target(tse_tunnel *t, const char **host,
                              uint16_t *port)
{
    if (t == NULL || host == NULL || port == NULL) {
        return TSE_ERR_INVALID_ARG;
    }
    if (t->state != TSE_STATE_CONNECTING || t->conn == CONN_NONE ||
        t->conn == CONN_OPEN) {
        return TSE_ERR_STATE;
    }
    t->conn_port = t->ports[t->path];
    t->conn_via_proxy = TSE_CONFIG_PROXY && t->s.proxy_host != NULL;
    if (t->conn_via_proxy) {
        *host = t->s.proxy_host;
        *port = t->s.proxy_port;
        LOGT(t, TSE_LOG_INFO, "connecting to %s port %u through proxy %s port %u",
             t->s.server_host, (unsigned)t->conn_port, *host, (unsigned)*port);
    } else {
        *host = t->s.server_host;
        *port = t->conn_port;
        LOGT(t, TSE_LOG_INFO, "connecting to %s port %u", *host, (unsigned)*port);
    }
    t->conn = CONN_STARTED;
    return TSE_OK;
}

int tse_tunnel_transport_connected(tse_tunnel *t, tse_time_ms now)
{
    if (t == NULL) {
        return TSE_ERR_INVALID_ARG;
    }
    t->now = now;
    if (t->state != TSE_STATE_CONNECTING || t->conn != CONN_STARTED) {
        return TSE_ERR_STATE;
    }
    t->conn = CONN_OPEN;
    clear_queue(t);
    tse_deframer_reset(&t->df);
    tse_tls_discard(&t->tls);
    if (TSE_CONFIG_PROXY && t->conn_via_proxy) {
        set_phase(t, t->s.proxy_timeout_ms);
        set_state(t, TSE_STATE_PROXY);
        if (t->hc_stale) {
            hc_setup(t); /* another port or proxy than the last CONNECT */
        }
        tse_hc_restart(&t->hc);
        send_proxy_request(t);
    } else {
        enter_tls(t);
    }
    return TSE_OK;
}

int tse_tunnel_transport_closed(tse_tunnel *t, int err, tse_time_ms now)
{
    int was;
    if (t == NULL || err > 0) {
        return TSE_ERR_INVALID_ARG;
    }
    t->now = now;
    was = t->conn;
    t->conn = CONN_NONE;
    if (t->need_disconnect) {
        /* the port acknowledges the close we asked for */
        t->need_disconnect = 0;
        t->linger = 0;
        clear_queue(t);
        if (t->state == TSE_STATE_CONNECTING) {
            t->conn = CONN_WANTED;
        }
        return TSE_OK;
    }
    if (was == CONN_NONE) {
        return TSE_OK;
    }
    if (err == 0) {
        err = TSE_ERR_TRANSPORT_CLOSED;
    }
    switch (t->state) {
#if TSE_CONFIG_PROXY
    case TSE_STATE_PROXY: {
        int rc = tse_hc_on_close(&t->hc);
        if (rc == TSE_HC_RECONNECT) {
            enter_connecting(t);
            return TSE_OK;
        }
        fail(t, err == TSE_ERR_TRANSPORT_CLOSED ? rc : err,
             TSE_TEXT("the proxy closed the connection"));
        return TSE_OK;
    }
#endif
    case TSE_STATE_RELEASING:
        t->resume_valid = 0;
        fail(t, TSE_ERR_CLOSED, NULL);
        return TSE_OK;
    case TSE_STATE_CONNECTING:
    case TSE_STATE_TLS:
    case TSE_STATE_CONFIGURING:
    case TSE_STATE_UP:
        fail(t, err, NULL);
        return TSE_OK;
    default:
        return TSE_OK;
    }
}

int tse_tunnel_recv_outer(tse_tunnel *t, const uint8_t *data, size_t len,
                          tse_time_ms now)
{
    if (t == NULL || (data == NULL && len > 0)) {
        return TSE_ERR_INVALID_ARG;
    }
    t->now = now;
    if (t->conn != CONN_OPEN || t->need_disconnect || len == 0) {
        return TSE_OK; /* late bytes of a connection being closed */
    }
    count(&t->stats.outer_bytes_in, len);
    if (IN_PROXY(t)) {
        proxy_input(t, data, len);
    } else if (t->state == TSE_STATE_TLS || connected_phase(t)) {
        tse_tls_set_input(&t->tls, data, len);
        if (t->state == TSE_STATE_TLS) {
            tls_step(t);
        }
        read_records(t);
        tse_tls_set_input(&t->tls, NULL, 0);
    }
    return t->need_disconnect ? t->last_error : TSE_OK;
}

size_t tse_tunnel_outer_pending(const tse_tunnel *t, const uint8_t **data)
{
    if (t == NULL || data == NULL) {
        return 0;
    }
    return tse_tls_pending(&t->tls, data);
}

void tse_tunnel_outer_consume(tse_tunnel *t, size_t n)
{
    size_t pend;
    if (t == NULL) {
        return;
    }
    pend = tse_tls_pending(&t->tls, NULL);
    count(&t->stats.outer_bytes_out, n < pend ? n : pend);
    tse_tls_consume(&t->tls, n);
    if (t->conn == CONN_OPEN && !t->need_disconnect && t->state == TSE_STATE_TLS) {
        tls_step(t); /* the handshake may have waited for room */
    }
    pump(t);
}

tse_time_ms tse_tunnel_expiry(const tse_tunnel *t)
{
    tse_time_ms e = TSE_TIME_NEVER;
    if (t == NULL) {
        return TSE_TIME_NEVER;
    }
    if (t->need_disconnect) {
        return t->linger ? t->t_phase : TSE_TIME_NEVER;
    }
    switch (t->state) {
    case TSE_STATE_CONNECTING:
    case TSE_STATE_PROXY:
    case TSE_STATE_TLS:
    case TSE_STATE_CONFIGURING:
    case TSE_STATE_RELEASING:
        e = t->t_phase;
        break;
    case TSE_STATE_BACKOFF:
        e = t->t_backoff;
        break;
    case TSE_STATE_UP:
        if (FTT(t)) {
            break; /* no control messages: no keep-alive, no CM probe */
        }
        if (t->ka_outstanding) {
            e = t->t_ka_resp;
        } else if (t->cfg.keepalive_s != 0) {
            uint32_t ka = (uint32_t)t->cfg.keepalive_s * 1000u;
            /* A.1.8 NOTE: after a whole interval with nothing sent; and,
             * so that a peer that died under one-way traffic is noticed
             * ("either side that stops hearing the other terminates"),
             * after two intervals with nothing received. */
            tse_time_ms tx_due = add_ms(t->last_tx, ka);
            tse_time_ms rx_due = add_ms(t->last_rx, 2 * ka);
            e = tx_due < rx_due ? tx_due : rx_due;
        } else if (t->s.dpd_idle_ms != 0) {
            /* no keep-alive negotiated: probe a path that has been silent
             * for dpd_idle_ms (dead-peer detection, as OpenConnect's DPD) */
            e = add_ms(t->last_rx, t->s.dpd_idle_ms);
        }
        break;
    default:
        break;
    }
    return e;
}

/* Floor of the automatic Keep_Alive_Response timeout: one RTT on a bad
 * mobile link must not look like a dead peer. */
#define TSE_KA_RESPONSE_MIN_MS 2000u

/* ka_response_timeout_ms, or by default one negotiated interval (at
 * least TSE_KA_RESPONSE_MIN_MS): a peer that dies is then declared dead
 * about two intervals after its last sign of life (one interval of
 * silence before the Keep_Alive, one waiting for its answer). */
static uint32_t ka_response_timeout(const tse_tunnel *t)
{
    uint32_t ka = (uint32_t)t->cfg.keepalive_s * 1000u;
    if (t->s.ka_response_timeout_ms != 0) {
        return t->s.ka_response_timeout_ms;
    }
    if (ka == 0) {
        /* a dead-peer probe: half the idle time (20 s + 10 s by default) */
        ka = t->s.dpd_idle_ms / 2;
    }
    return ka > TSE_KA_RESPONSE_MIN_MS ? ka : TSE_KA_RESPONSE_MIN_MS;
}

static void send_keepalive(tse_tunnel *t)
{
    tse_cm m;
    cm_header(&m, TSE_CM_KEEPALIVE, t->cfg.tsid, t->next_seq++);
    if (send_cm(t, &m) != TSE_OK) {
        /* The queue is full of unsent bytes, so the link is not silent:
         * try again after another interval instead of spinning (both
         * deadlines of tse_tunnel_expiry() move past now). */
        uint32_t ka = (uint32_t)t->cfg.keepalive_s * 1000u;
        t->last_tx = t->now;
        if (t->now > ka && t->last_rx < t->now - ka) {
            t->last_rx = t->now - ka;
        }
        return;
    }
    t->ka_outstanding = 1;
    t->ka_seq = m.seq;
    t->t_ka_sent = t->now;
    t->t_ka_resp = add_ms(t->now, ka_response_timeout(t));
    t->stats.keepalives_sent++;
}

/* The failure when a phase's deadline (t_phase) passes */
static const int16_t phase_timeout[] = {
    [TSE_STATE_CONNECTING] = TSE_ERR_TRANSPORT_TIMEOUT,
    [TSE_STATE_PROXY] = TSE_ERR_PROXY_TIMEOUT,
    [TSE_STATE_TLS] = TSE_ERR_TLS_TIMEOUT,
    [TSE_STATE_CONFIGURING] = TSE_ERR_PROTO_TIMEOUT,
    [TSE_STATE_RELEASING] = TSE_ERR_RELEASE_TIMEOUT,
};

int tse_tunnel_handle_expiry(tse_tunnel *t, tse_time_ms now)
{
    if (t == NULL) {
        return TSE_ERR_INVALID_ARG;
    }
    t->now = now;
    if (now < tse_tunnel_expiry(t)) {
        return TSE_OK;
    }
    if (t->need_disconnect) {
        t->linger = 0; /* give up sending what is left */
        return TSE_OK;
    }
    switch (t->state) {
    case TSE_STATE_RELEASING:
        t->resume_valid = 0;
        /* FALLTHROUGH */
    case TSE_STATE_CONNECTING:
    case TSE_STATE_PROXY:
    case TSE_STATE_TLS:
    case TSE_STATE_CONFIGURING:
        fail(t, phase_timeout[t->state], NULL);
        break;
    case TSE_STATE_BACKOFF:
        enter_connecting(t);
        break;
    case TSE_STATE_UP:
        if (t->ka_outstanding) {
            fail(t, TSE_ERR_KEEPALIVE_TIMEOUT, NULL);
        } else {
            /* A.1.8 NOTE: only after a silence of the whole interval */
            DBG(t, "%s: sending a Keep_Alive",
                t->cfg.keepalive_s != 0 ? "keep-alive interval elapsed"
                                        : "no traffic for dpd_idle_ms (dead-peer probe)");
            send_keepalive(t);
        }
        break;
    default:
        break;
    }
    return TSE_OK;
}

static int valid_packet(const uint8_t *p, size_t len)
{
    if (len < 20) {
        return 0;
    }
    if ((p[0] >> 4) == 4) {
        size_t total = ((size_t)p[2] << 8) | p[3];
        size_t ihl = (size_t)(p[0] & 0x0f) * 4;
        return ihl >= 20 && ihl <= total && total == len;
    }
    if ((p[0] >> 4) == 6) {
        return len >= 40 && (((size_t)p[4] << 8) | p[5]) + 40 == len;
    }
    return 0;
}

static int check_packet(tse_tunnel *t, const uint8_t *pkt, size_t len,
                        tse_time_ms now)
{
    if (t == NULL || pkt == NULL) {
        return TSE_ERR_INVALID_ARG;
    }
    t->now = now;
    if (t->state != TSE_STATE_UP) {
        return TSE_ERR_NOT_UP;
    }
    if (len > t->s.max_unit || !valid_packet(pkt, len)) {
        return TSE_ERR_PACKET_INVALID;
    }
    return TSE_OK;
}

static int queue_packet(tse_tunnel *t, const uint8_t *pkt, size_t len,
                        tse_class cls)
{
    int rc;
    if (FTT(t)) {
        /* TS 24.322 envelope: Type 1, then the Length of the whole
         * envelope (max_unit + 3 <= 65535: tse_settings_check()) */
        uint8_t env[3];
        size_t total = len + sizeof(env);
        env[0] = 1;
        env[1] = (uint8_t)(total >> 8);
        env[2] = (uint8_t)total;
        rc = tse_outq_push_framed(&t->oq, cls, env, sizeof(env), pkt, len,
                                  (uint32_t)t->now);
    } else {
        rc = tse_outq_push(&t->oq, cls, pkt, len, (uint32_t)t->now);
    }
    if (rc != TSE_OK) {
        count(&t->stats.queue_full_drops, 1);
        DBG(t, "%s packet of %u bytes refused: %s",
            cls == TSE_CLASS_REALTIME ? "real-time" : "bulk", (unsigned)len,
            tse_strerror(rc));
        return rc;
    }
    t->last_tx = t->now;
    count(&t->stats.packets_out, 1);
    count(&t->stats.bytes_out, len);
    trace(t, 1, pkt[0] >> 4 == 6 ? TSE_UNIT_IPV6 : TSE_UNIT_IPV4, pkt, len);
    pump(t);
    return TSE_OK;
}

int tse_tunnel_send_packet(tse_tunnel *t, const uint8_t *pkt, size_t len,
                           tse_time_ms now)
{
    int rc = check_packet(t, pkt, len, now);
    if (rc != TSE_OK) {
        return rc;
    }
    return queue_packet(t, pkt, len, tse_outq_classify(&t->oq, pkt, len));
}

int tse_tunnel_send_packet_class(tse_tunnel *t, const uint8_t *pkt,
                                 size_t len, tse_class cls, tse_time_ms now)
{
    int rc = check_packet(t, pkt, len, now);
    if (rc != TSE_OK) {
        return rc;
    }
    if (cls != TSE_CLASS_REALTIME && cls != TSE_CLASS_BULK) {
        return TSE_ERR_INVALID_ARG;
    }
    return queue_packet(t, pkt, len, cls);
}

tse_class tse_tunnel_classify(const tse_tunnel *t, const uint8_t *pkt,
                              size_t len)
{
    if (t == NULL || pkt == NULL) {
        return TSE_CLASS_BULK;
    }
    return tse_outq_classify(&t->oq, pkt, len);
}

size_t tse_tunnel_queue_space(const tse_tunnel *t)
{
    return tse_tunnel_class_space(t, TSE_CLASS_BULK);
}

size_t tse_tunnel_class_space(const tse_tunnel *t, tse_class cls)
{
    if (t == NULL || (cls != TSE_CLASS_REALTIME && cls != TSE_CLASS_BULK)) {
        return 0;
    }
    return tse_outq_space(&t->oq, cls);
}

const tse_sched_settings *tse_tunnel_sched(const tse_tunnel *t)
{
    return t != NULL ? &t->s.sched : NULL;
}

int tse_tunnel_close(tse_tunnel *t, tse_time_ms now)
{
    tse_cm m;
    if (t == NULL) {
        return TSE_ERR_INVALID_ARG;
    }
    t->now = now;
    t->closing = 1;
    switch (t->state) {
    case TSE_STATE_CLOSED:
    case TSE_STATE_RELEASING:
        return TSE_OK;
    case TSE_STATE_UP:
        if (FTT(t)) {
            /* TS 24.322 has no release message: what is queued goes into
             * records, then TLS ends cleanly (RFC 8446 6.1) */
            LOGT(t, TSE_LOG_INFO, "closing the FTT tunnel (TLS close_notify)");
            pump(t);
            clear_queue(t); /* what did not fit goes nowhere after it */
            tse_tls_close_notify(&t->tls);
            fail_ex(t, TSE_ERR_CLOSED, NULL, 0, 1);
            return TSE_OK;
        }
        LOGT(t, TSE_LOG_INFO, "releasing the tunnel (Configuration_Release_Request)");
        cm_header(&m, TSE_CM_RELEASE_REQUEST, t->cfg.tsid, t->next_seq++);
        if (tse_outq_space(&t->oq, TSE_CLASS_CONTROL) >= TSE_CM_MAX_ENCODED) {
            t->release_outstanding = 1;
            t->release_seq = m.seq;
            t->release_due = 1;
            set_phase(t, t->s.release_timeout_ms);
            set_state(t, TSE_STATE_RELEASING);
            if (t->state == TSE_STATE_RELEASING) {
                pump(t);
            }
            return TSE_OK;
        }
        /* fall through: cannot queue, close hard */
        /* FALLTHROUGH */
    default:
        drop_connection(t, 0);
        t->last_error = TSE_ERR_CLOSED;
        set_state(t, TSE_STATE_CLOSED);
        return TSE_OK;
    }
}

int tse_tunnel_reconnect(tse_tunnel *t, tse_time_ms now)
{
    if (t == NULL) {
        return TSE_ERR_INVALID_ARG;
    }
    t->now = now;
    if (t->state == TSE_STATE_CLOSED || t->state == TSE_STATE_IDLE ||
        t->state == TSE_STATE_RELEASING || t->state == TSE_STATE_PAUSED) {
        return TSE_ERR_STATE;
    }
    LOGT(t, TSE_LOG_INFO, "reconnecting now (tse_tunnel_reconnect)");
    drop_connection(t, 0);
    path_round(t, t->path_home, 0);
    t->attempt = 0;
    t->stats.reconnects++;
    enter_connecting(t);
    return TSE_OK;
}

int tse_tunnel_network_changed(tse_tunnel *t, const uint8_t *network_id,
                               size_t len, tse_time_ms now)
{
    tse_event ev;
    int from;
    if (t == NULL || len > TSE_DETECT_NETID_MAX || (network_id == NULL && len > 0)) {
        return TSE_ERR_INVALID_ARG;
    }
    t->now = now;
    if (t->state == TSE_STATE_CLOSED || t->state == TSE_STATE_RELEASING) {
        return TSE_ERR_STATE;
    }
#if PATH_CACHE
    if (len > 0) {
        memcpy(t->netid, network_id, len);
    }
    t->netid_len = (uint8_t)len;
#endif
    from = path_from_cache(t);
    /* a new network: the port that worked on the last one proves nothing */
    path_round(t, from >= 0 ? (unsigned)from : 0u, from >= 0);
    t->path_home = t->path;
    LOGT(t, TSE_LOG_INFO, "network changed: %s TSCF port %u%s%s", from >= 0 ? "cached path," : "trying",
         (unsigned)t->ports[t->path], t->s.proxy_host != NULL ? " through proxy " : "",
         t->s.proxy_host != NULL ? t->s.proxy_host : "");
    if (t->state == TSE_STATE_IDLE || t->state == TSE_STATE_PAUSED) {
        return TSE_OK;
    }
    drop_connection(t, 0);
    t->last_error = TSE_ERR_NETWORK_CHANGED;
    t->attempt = 0;
    t->stats.reconnects++;
    if (t->state == TSE_STATE_UP) {
        ev_init(&ev, t, TSE_EV_TUNNEL_DOWN, TSE_ERR_NETWORK_CHANGED);
        log_down(t, &ev);
        emit(t, &ev);
        if (t->state != TSE_STATE_UP) {
            return TSE_OK; /* the application closed it from the callback */
        }
    }
    enter_connecting(t);
    return TSE_OK;
}

int tse_tunnel_set_outer_path(tse_tunnel *t, const tse_outer_path *p)
{
    int rc;
    if (t == NULL || p == NULL) {
        return TSE_ERR_INVALID_ARG;
    }
    if (!TSE_CONFIG_MULTIPATH) {
        return TSE_ERR_SETTING_PATH; /* compiled out (tse/config.h) */
    }
    if (p->server_port == 0) {
        return TSE_ERR_SETTING_SERVER;
    }
    rc = proxy_check(p->proxy_host, p->proxy_port, p->proxy_user, p->proxy_pass);
    if (rc != TSE_OK) {
        return rc;
    }
    if (p->server_port_2 == p->server_port) {
        return TSE_ERR_SETTING_PATH;
    }
    if (t->state == TSE_STATE_CLOSED) {
        return TSE_ERR_STATE;
    }
    t->ports[0] = p->server_port;
    t->ports[1] = p->server_port_2;
    t->nports = p->server_port_2 != 0 ? 2 : 1;
    if (t->path >= t->nports) {
        t->path = 0;
    }
    if (t->path_home >= t->nports) {
        t->path_home = 0;
    }
    if (t->path_tried + 1u > t->nports) {
        t->path_tried = 0;
    }
    set_proxy(t, p->proxy_host, p->proxy_port, p->proxy_user, p->proxy_pass);
    t->hc_stale = 1;
    LOGT(t, TSE_LOG_INFO, "outer path for the next attempts: TSCF port %u%s%s%s%s",
         (unsigned)p->server_port, p->server_port_2 != 0 ? " then another" : "",
         p->proxy_host != NULL ? ", through proxy " : ", direct",
         p->proxy_host != NULL ? p->proxy_host : "",
         p->proxy_user != NULL ? " with credentials" : "");
    return TSE_OK;
}

int tse_tunnel_set_auto_reconnect(tse_tunnel *t, int on)
{
    if (t == NULL) {
        return TSE_ERR_INVALID_ARG;
    }
    t->s.auto_reconnect = on != 0;
    return TSE_OK;
}

int tse_tunnel_pause(tse_tunnel *t, tse_time_ms now)
{
    if (t == NULL) {
        return TSE_ERR_INVALID_ARG;
    }
    t->now = now;
    if (t->state == TSE_STATE_CLOSED || t->state == TSE_STATE_IDLE ||
        t->state == TSE_STATE_RELEASING) {
        return TSE_ERR_STATE;
    }
    if (t->state == TSE_STATE_PAUSED) {
        return TSE_OK;
    }
    drop_connection(t, 0);
    set_state(t, TSE_STATE_PAUSED);
    return TSE_OK;
}

int tse_tunnel_resume(tse_tunnel *t, tse_time_ms now)
{
    if (t == NULL) {
        return TSE_ERR_INVALID_ARG;
    }
    t->now = now;
    if (t->state != TSE_STATE_PAUSED) {
        return TSE_ERR_STATE;
    }
    t->attempt = 0;
    if (!t->path_cached) {
        path_round(t, t->path_home, 0);
    }
    enter_connecting(t);
    return TSE_OK;
}

tse_state tse_tunnel_state(const tse_tunnel *t)
{
    return t != NULL ? t->state : TSE_STATE_CLOSED;
}

const tse_tunnel_config *tse_tunnel_get_config(const tse_tunnel *t)
{
    return t != NULL && t->cfg_valid ? &t->cfg : NULL;
}

void tse_tunnel_get_stats(const tse_tunnel *t, tse_stats *out)
{
    if (out == NULL) {
        return;
    }
    if (t == NULL) {
        memset(out, 0, sizeof(*out));
        return;
    }
    *out = t->stats;
    out->up_since = t->state == TSE_STATE_UP ? t->t_up : TSE_TIME_NEVER;
    for (int c = 0; c < TSE_CLASS_COUNT; c++) {
        out->class_packets[c] = t->oq.units[c];
        out->class_bytes[c] = t->oq.bytes[c];
        out->class_full_drops[c] = t->oq.full_drops[c];
    }
    out->rt_stale_drops = t->oq.stale_drops;
}

int tse_tunnel_last_error(const tse_tunnel *t)
{
    return t != NULL ? t->last_error : TSE_ERR_INVALID_ARG;
}

const char *tse_state_name(tse_state s)
{
#if !TSE_CONFIG_STRINGS
    (void)s;
    return ""; /* names compiled out (tse/config.h), like tse_strerror() */
#else
    /* in tse_state order: a packed list rather than a switch and its
     * table of pointers */
    static const char names[] = "IDLE\0CONNECTING\0PROXY\0TLS\0CONFIGURING\0UP\0"
                                "RELEASING\0BACKOFF\0PAUSED\0CLOSED\0?";
    const char *p = names;
    unsigned i = (unsigned)s <= (unsigned)TSE_STATE_CLOSED ? (unsigned)s : TSE_STATE_CLOSED + 1u;
    while (i-- > 0) {
        p += strlen(p) + 1;
    }
    return p;
#endif
}
