/* Detection of the IMS access path (TR 33.830 8.4.2, TS 24.229 Annex
 * R.3.1.0 order): parallel probes with staggered starts, decision,
 * per-network cache.  Sans-I/O: the port does what next_action says. */
#include "tse/config.h"
#if TSE_CONFIG_DETECT /* the whole file */

#include "tse/detect.h"

#include <stddef.h>
#include <string.h>

#include "sip_probe.h"
#include "stun.h"

/* A text for humans (steps' and results' reasons): "" without
 * TSE_CONFIG_STRINGS, as tse_strerror() is then. */
#define TXT(s) TSE_TEXT_NZ(s)
#if TSE_CONFIG_STRINGS
#define ERR_TXT(e) tse_strerror(e)
#else
#define ERR_TXT(e) ((void)(e), "")
#endif

/* probe states */
enum { PS_OFF = 0, PS_WAIT, PS_RUN, PS_OK, PS_FAIL, PS_CANCEL };
/* pending orders, by bit number in the order they are given */
enum { A_CLOSE = 1, A_TCP_CONNECT = 2, A_TCP_SEND = 4, A_UDP_SEND = 8, A_TUNNEL = 16,
       A_REUSE = 32 };
/* phases */
enum { PH_INIT = 0, PH_RUN, PH_DONE };
/* "never started" (tse_detect_probe_priv.started), no retransmission */
#define T_NEVER 0xFFFFFFFFu

typedef char sip_ids_fit[(sizeof(tse_sip_ids) <= sizeof(((tse_detect_probe_buf *)0)->ids)) ? 1 : -1];
typedef char stun_req_fit[(TSE_STUN_REQUEST_MAX <= TSE_DETECT_REQ_MAX) ? 1 : -1];
typedef char addr_same[(sizeof(tse_stun_addr) == sizeof(tse_detect_addr) &&
                        offsetof(tse_stun_addr, port) == offsetof(tse_detect_addr, port) &&
                        offsetof(tse_stun_addr, addr) == offsetof(tse_detect_addr, addr)) ? 1 : -1];
typedef char target_fits[(TSE_DETECT_TARGET_MAX >= 10) ? 1 : -1];

/* A SIP probe's transaction ids, in place: the words of
 * tse_detect_probe_buf::ids hold them (tse_sip_ids is characters and a
 * uint32_t, so the storage is aligned and its words are the cseq's
 * type). */
static tse_sip_ids *sip_ids(tse_detect *d, int i)
{
    return (tse_sip_ids *)(void *)d->b[i].ids;
}

/* What each probe reads from the settings (offsets into
 * tse_detect_settings: its host, port and time limit) and the order its
 * start gives the port. */
#define SET(f) ((uint8_t)offsetof(tse_detect_settings, f))
typedef char settings_offsets_fit[(offsetof(tse_detect_settings, tunnel_timeout_ms) < 256) ? 1 : -1];
static const struct probe_def {
    uint8_t host, port, timeout, act;
} defs[TSE_PROBE_COUNT] = {
    {SET(pcscf_host), SET(pcscf_port), SET(sip_timeout_ms), A_UDP_SEND},        /* SIP_UDP */
    {SET(pcscf_host), SET(pcscf_port), SET(sip_timeout_ms), A_TCP_CONNECT},     /* SIP_TCP */
    {SET(stun_host), SET(stun_port), SET(stun_timeout_ms), A_UDP_SEND},         /* STUN_UDP */
    {SET(tscf_host), SET(tunnel_port_1), SET(tunnel_timeout_ms), A_TUNNEL},     /* TUNNEL_1 */
    {SET(tscf_host), SET(tunnel_port_2), SET(tunnel_timeout_ms), A_TUNNEL},     /* TUNNEL_2 */
#if TSE_CONFIG_DETECT_REUSE
    /* the port runs them: TLS stream, then SIP / TURN */
    {SET(pcscf_tls_host), SET(pcscf_tls_port), SET(reuse_timeout_ms), A_REUSE}, /* SIP_TLS */
    {SET(turn_host), SET(turn_port), SET(reuse_timeout_ms), A_REUSE},           /* TURN_TLS */
#endif
};
#define SETTING(d, off, type) (*(const type *)(const void *)((const char *)&(d)->s + (off)))

static void evaluate(tse_detect *d, uint32_t now);

/* The @p i-th of the NUL-separated names in @p list: packed lists
 * rather than switches and their tables of pointers. */
static const char *nth_name(const char *list, unsigned i)
{
    while (i-- > 0)
        list += strlen(list) + 1;
    return list;
}

const char *tse_detect_path_name(tse_detect_path path)
{
    /* in tse_detect_path order; anything else is "none" */
    return nth_name("none\0direct\0nat-traversal\0tunnel-direct\0tunnel-via-proxy\0"
                    "reuse-existing",
                    (unsigned)path <= TSE_PATH_REUSE_EXISTING ? (unsigned)path : 0);
}

const char *tse_detect_probe_name(tse_probe_id probe)
{
    /* in tse_probe_id order, then "?" for anything else */
    return nth_name("sip-udp\0sip-tcp\0stun-udp\0tunnel-1\0tunnel-2\0"
#if TSE_CONFIG_DETECT_REUSE
                    "sip-tls\0turn-tls\0"
#endif
                    "?",
                    (unsigned)probe < TSE_PROBE_COUNT ? (unsigned)probe : TSE_PROBE_COUNT);
}

void tse_detect_settings_default(tse_detect_settings *s)
{
    if (!s)
        return;
    memset(s, 0, sizeof *s);
    s->pcscf_port = 5060;
    s->sip_udp = 1;
    s->sip_tcp = 1;
    s->stun_port = 3478;
    s->stun_fingerprint = 1;
    s->proxy_port = 8080;
    s->tunnel_port_1 = 443;
    s->tunnel_port_2 = 80;
    s->sip_timeout_ms = 2000;
    s->stun_timeout_ms = 2000;
    s->tunnel_timeout_ms = 10000;
    s->udp_rto_ms = 500;
    s->stagger_ms = 250;
    s->pcscf_tls_port = 443;
    s->turn_port = 443;
    s->reuse_timeout_ms = 10000;
}

/* ---- cache ------------------------------------------------------------ */

#if TSE_CONFIG_DETECT_CACHE /* tse/config.h */
/* The entry of network @p id, after checking the arguments every cache
 * call shares: TSE_ERR_INVALID_ARG, or TSE_ERR_DETECT_NOT_CACHED when
 * there is none.  With @p lru, *out is then the one to replace: an
 * unused one (stamp 0) or else the least recently used (stamps count
 * from 1). */
static int cache_find(tse_detect_cache *c, const uint8_t *id, size_t len, int lru,
                      tse_detect_cache_entry **out)
{
    tse_detect_cache_entry *e, *old;
    if (!c || !c->slots || !id || len == 0 || len > TSE_DETECT_NETID_MAX)
        return TSE_ERR_INVALID_ARG;
    old = c->slots;
    for (e = c->slots; e < c->slots + c->n; e++) {
        if (e->used && e->id_len == len && memcmp(e->id, id, len) == 0) {
            *out = e;
            return TSE_OK;
        }
        if (e->stamp < old->stamp)
            old = e;
    }
    *out = lru ? old : NULL;
    return TSE_ERR_DETECT_NOT_CACHED;
}

int tse_detect_cache_init(tse_detect_cache *c, tse_detect_cache_entry *slots, size_t n)
{
    if (!c || !slots || n == 0)
        return TSE_ERR_INVALID_ARG;
    memset(slots, 0, n * sizeof *slots);
    c->slots = slots;
    c->n = n;
    c->clock = 0;
    return TSE_OK;
}

int tse_detect_cache_lookup(tse_detect_cache *c, const uint8_t *net_id, size_t len,
                            tse_detect_result *out)
{
    tse_detect_cache_entry *e;
    int rc = out ? cache_find(c, net_id, len, 0, &e) : TSE_ERR_INVALID_ARG;
    if (rc != TSE_OK)
        return rc;
    e->stamp = ++c->clock;
    memset(out, 0, sizeof *out);
    out->path = (tse_detect_path)e->path;
    out->from_cache = 1;
    out->tunnel_probe = e->tunnel_probe == 0xFF ? -1 : (int)e->tunnel_probe;
    out->tunnel_port = e->tunnel_port;
    out->via_proxy = e->via_proxy;
    out->nat = -1;
    out->reason = TXT("cached decision for this network");
    return TSE_OK;
}

int tse_detect_cache_store(tse_detect_cache *c, const uint8_t *net_id, size_t len,
                           const tse_detect_result *r)
{
    tse_detect_cache_entry *e;
    int rc = r && r->path <= TSE_PATH_REUSE_EXISTING ? cache_find(c, net_id, len, 1, &e)
                                                      : TSE_ERR_INVALID_ARG;
    if (rc == TSE_ERR_INVALID_ARG)
        return rc;
    if (r->path == TSE_PATH_NONE)
        return TSE_ERR_DETECT_NO_PATH;
    memset(e, 0, sizeof *e);
    memcpy(e->id, net_id, len);
    e->id_len = (uint8_t)len;
    e->used = 1;
    e->path = (uint8_t)r->path;
    e->tunnel_probe = r->tunnel_probe < 0 ? 0xFF : (uint8_t)r->tunnel_probe;
    e->tunnel_port = r->tunnel_port;
    e->via_proxy = r->via_proxy ? 1 : 0;
    e->stamp = ++c->clock;
    return TSE_OK;
}

int tse_detect_cache_invalidate(tse_detect_cache *c, const uint8_t *net_id, size_t len)
{
    tse_detect_cache_entry *e;
    int rc = cache_find(c, net_id, len, 0, &e);
    if (rc == TSE_OK)
        memset(e, 0, sizeof *e);
    return rc;
}
#endif /* TSE_CONFIG_DETECT_CACHE */

/* ---- helpers ---------------------------------------------------------- */

static int is_udp(int i)
{
    return i == TSE_PROBE_SIP_UDP || i == TSE_PROBE_STUN_UDP;
}

static int is_tunnel(int i)
{
    return i == TSE_PROBE_TUNNEL_1 || i == TSE_PROBE_TUNNEL_2;
}

/* The TR 33.830 8.3 probes; 0 when compiled out. */
static int is_reuse(int i)
{
#if TSE_CONFIG_DETECT_REUSE
    return i == TSE_PROBE_SIP_TLS || i == TSE_PROBE_TURN_TLS;
#else
    (void)i;
    return 0;
#endif
}

static int is_sip_tls(int i)
{
#if TSE_CONFIG_DETECT_REUSE
    return i == TSE_PROBE_SIP_TLS;
#else
    (void)i;
    return 0;
#endif
}

static const char *probe_host(const tse_detect *d, int i)
{
    return SETTING(d, defs[i].host, char *);
}

static uint16_t probe_port(const tse_detect *d, int i)
{
    return SETTING(d, defs[i].port, uint16_t);
}

/* Times inside the detector are milliseconds after its start (t0) in 32
 * bits; detection lasts seconds.  @p now as such, cut to 0..2^32-1. */
static uint32_t rel(const tse_detect *d, tse_time_ms now)
{
    return now > d->t0 ? (uint32_t)(now - d->t0 > T_NEVER ? T_NEVER : now - d->t0) : 0;
}

/* @p ms after @p t, cut to 2^32-1 (the deadline then fires at t0 +
 * 2^32-1 ms, the latest time the detector knows). */
static uint32_t later(uint32_t t, uint32_t ms)
{
    return t + ms < t ? T_NEVER : t + ms;
}

static void emit(tse_detect *d, tse_detect_event_type type, const tse_detect_step *st)
{
    tse_detect_event ev;
    ev.type = type;
    ev.step = st;
    ev.result = st ? NULL : &d->result;
    d->cb.on_event(d->cb.user, &ev);
}

static void emit_step(tse_detect *d, int i, int done, uint32_t now)
{
    tse_detect_probe_priv *p = &d->p[i];
    const tse_detect_probe_buf *b = &d->b[i];
    tse_detect_step st;
    memset(&st, 0, sizeof st);
    st.probe = (tse_probe_id)i;
    st.name = tse_detect_probe_name((tse_probe_id)i);
    st.target = b->target;
    st.done = done;
    st.reason = (is_tunnel(i) || is_reuse(i)) && d->s.proxy_host ? TXT("started (via proxy)")
                                                                  : TXT("started");
    if (done) {
        st.elapsed_ms = now > p->started ? now - p->started : 0; /* 0: never started */
        st.result = p->result;
        st.status = p->status;
        st.reason = p->reason;
    }
    emit(d, TSE_DETECT_EV_STEP, &st);
}

static void start_probe(tse_detect *d, int i, uint32_t now);
static void reuse_failed(tse_detect *d, int i, int err, uint32_t now);

/* Finish a running (or waiting) probe.  The port is told to close it,
 * except for a tunnel that came up: that one may become the path. */
static void finish(tse_detect *d, int i, int result, int status, const char *reason,
                   uint32_t now)
{
    tse_detect_probe_priv *p = &d->p[i];
    p->pending = p->state == PS_RUN && !(is_tunnel(i) && result == TSE_OK) ? A_CLOSE : 0;
    p->state = result == TSE_OK ? PS_OK : PS_FAIL;
    p->result = result;
    p->status = status;
    p->reason = reason ? reason : ERR_TXT(result);
    emit_step(d, i, 1, now);
    if (result == TSE_OK)
        return;
    reuse_failed(d, i, result, now);
    /* RFC 8305 5: the next attempt starts at once when the previous one
     * failed (only while the detection runs: the callers make sure). */
    if (i == TSE_PROBE_TUNNEL_1 && d->p[TSE_PROBE_TUNNEL_2].state == PS_WAIT)
        start_probe(d, TSE_PROBE_TUNNEL_2, now);
}

static void start_probe(tse_detect *d, int i, uint32_t now)
{
    tse_detect_probe_priv *p = &d->p[i];
    tse_detect_probe_buf *b = &d->b[i];
    int rc = TSE_OK;
    p->state = PS_RUN;
    p->started = now;
    p->deadline = later(now, SETTING(d, defs[i].timeout, uint32_t));
    /* only UDP retransmits; T_NEVER (none) is never before the deadline,
     * so expiry and handle_expiry need not ask which probe it is */
    p->next_tx = is_udp(i) && d->s.udp_rto_ms ? later(now, d->s.udp_rto_ms) : T_NEVER;
    emit_step(d, i, 0, now);
    p->pending = defs[i].act;

    if (i == TSE_PROBE_STUN_UDP) {
        rc = tse_stun_binding_request(b->req, sizeof b->req, d->cb.entropy, d->cb.user,
                                      d->s.stun_fingerprint, (uint8_t *)b->ids, &b->req_len);
    } else if (i <= TSE_PROBE_SIP_TCP || is_sip_tls(i)) {
        tse_sip_options_params sp;
        sp.host = probe_host(d, i);
        sp.port = probe_port(d, i);
        sp.transport = i <= TSE_PROBE_SIP_TCP ? (tse_sip_transport)i : TSE_SIP_TLS;
        sp.local_host = d->s.local_host;
        sp.local_port = is_sip_tls(i) ? 0 : d->s.local_port;
        sp.user_agent = NULL;
        rc = tse_sip_options_build(&sp, d->cb.entropy, d->cb.user, (char *)b->req,
                                   sizeof b->req, &b->req_len, sip_ids(d, i));
    } else if (i == TSE_PROBE_TUNNEL_1 && d->p[TSE_PROBE_TUNNEL_2].state == PS_WAIT) {
        /* RFC 8305 5: the next attempt starts a stagger after this one */
        d->p[TSE_PROBE_TUNNEL_2].start_at = later(now, d->s.stagger_ms);
    }
    if (rc != TSE_OK) {
        p->pending = 0;
        p->state = PS_WAIT; /* nothing was sent: nothing to close */
        finish(d, i, rc, 0, NULL, now);
    }
}

/* ---- decision --------------------------------------------------------- */

enum { V_PENDING = -1, V_FAIL = 0, V_OK = 1 };

static int active(const tse_detect *d, int i)
{
    return d->p[i].state == PS_WAIT || d->p[i].state == PS_RUN;
}

static int sip_verdict(const tse_detect *d)
{
    if (d->s.app_reports_registration)
        return d->app_reg;
    if (d->p[TSE_PROBE_SIP_UDP].state == PS_OK || d->p[TSE_PROBE_SIP_TCP].state == PS_OK)
        return V_OK;
    if (active(d, TSE_PROBE_SIP_UDP) || active(d, TSE_PROBE_SIP_TCP))
        return V_PENDING;
    return V_FAIL;
}

/* Is there a UDP path for media? */
static int udp_verdict(const tse_detect *d)
{
    int i = d->p[TSE_PROBE_STUN_UDP].enabled ? TSE_PROBE_STUN_UDP : TSE_PROBE_SIP_UDP;
    if (d->p[i].state == PS_OK)
        return V_OK;
    if (active(d, i))
        return V_PENDING;
    return V_FAIL;
}

/* TR 33.830 8.3: both SIP over TLS and TURN over TLS must work (the
 * signalling and the media path); V_FAIL when not configured. */
static int reuse_verdict(const tse_detect *d)
{
#if TSE_CONFIG_DETECT_REUSE
    const tse_detect_probe_priv *sip = &d->p[TSE_PROBE_SIP_TLS], *turn = &d->p[TSE_PROBE_TURN_TLS];
    if (!sip->enabled || !turn->enabled)
        return V_FAIL;
    if (sip->state == PS_OK && turn->state == PS_OK)
        return V_OK;
    if (active(d, TSE_PROBE_SIP_TLS) && active(d, TSE_PROBE_TURN_TLS))
        return V_PENDING;
    if (active(d, TSE_PROBE_SIP_TLS) && turn->state == PS_OK)
        return V_PENDING;
    if (active(d, TSE_PROBE_TURN_TLS) && sip->state == PS_OK)
        return V_PENDING;
    return V_FAIL;
#else
    (void)d;
    return V_FAIL;
#endif
}

static int reuse_tried(const tse_detect *d)
{
#if TSE_CONFIG_DETECT_REUSE
    return d->p[TSE_PROBE_SIP_TLS].enabled;
#else
    (void)d;
    return 0;
#endif
}

static void cancel_probe(tse_detect *d, int i, const char *reason, uint32_t now)
{
    tse_detect_probe_priv *p = &d->p[i];
    int was_running = p->state == PS_RUN;
    p->state = PS_CANCEL;
    p->result = TSE_ERR_DETECT_CANCELLED;
    p->status = 0;
    p->reason = reason;
    p->pending = was_running ? A_CLOSE : 0;
    if (!was_running)
        p->started = T_NEVER;
    emit_step(d, i, 1, now);
}

/* One 8.3 probe failed (@p err): remember why, and stop the other, which
 * cannot help any more (8.3 needs both). */
static void reuse_failed(tse_detect *d, int i, int err, uint32_t now)
{
#if TSE_CONFIG_DETECT_REUSE
    int other = i == TSE_PROBE_SIP_TLS ? TSE_PROBE_TURN_TLS : TSE_PROBE_SIP_TLS;
    if (!is_reuse(i))
        return;
    if (d->reuse_error == TSE_OK)
        d->reuse_error = err;
    if (d->phase == PH_RUN && active(d, other))
        cancel_probe(d, other, TXT("cancelled: the other 8.3 probe failed"), now);
#else
    (void)d;
    (void)i;
    (void)err;
    (void)now;
#endif
}

static void decide(tse_detect *d, tse_detect_path path, int winner, const char *reason,
                   uint32_t now)
{
    tse_detect_result *r = &d->result;
    int i;

    memset(r, 0, sizeof *r);
    r->path = path;
    r->elapsed_ms = now;
    r->tunnel_probe = winner;
    r->tunnel_port = winner >= 0 ? probe_port(d, winner) : 0;
    r->nat = d->nat; /* NOLINT(bugprone-signed-char-misuse): -1/0/1, a tri-state, not a character */
    r->mapped = d->mapped;
    r->reason = reason;
    for (i = TSE_PROBE_SIP_UDP; i <= TSE_PROBE_SIP_TCP; i++) {
        if (d->p[i].state == PS_OK && !r->sip_status)
            r->sip_status = d->p[i].status;
        if (d->p[i].state == PS_FAIL && r->sip_error == TSE_OK)
            r->sip_error = d->p[i].result;
    }
#if TSE_CONFIG_DETECT_REUSE
    if (!r->sip_status && d->p[TSE_PROBE_SIP_TLS].state == PS_OK)
        r->sip_status = d->p[TSE_PROBE_SIP_TLS].status; /* over TLS: 8.3 */
#endif
    if (r->sip_status)
        r->sip_error = TSE_OK;
    if (d->p[TSE_PROBE_STUN_UDP].state == PS_FAIL)
        r->stun_error = d->p[TSE_PROBE_STUN_UDP].result;
    for (i = TSE_PROBE_TUNNEL_1; i <= TSE_PROBE_TUNNEL_2; i++)
        if (d->p[i].state == PS_FAIL)
            r->tunnel_error = d->p[i].result;
    r->reuse_error = d->reuse_error;
    r->via_proxy = d->s.proxy_host != NULL &&
                   (path == TSE_PATH_TUNNEL_VIA_PROXY || path == TSE_PATH_REUSE_EXISTING);

    d->phase = PH_DONE;
    /* Cancel what is left; close tunnels that did not win. */
    for (i = 0; i < TSE_PROBE_COUNT; i++) {
        tse_detect_probe_priv *p = &d->p[i];
        if (active(d, i))
            cancel_probe(d, i, TXT("cancelled: decision made"), now);
        else if (p->state == PS_OK && is_tunnel(i) && i != winner)
            p->pending = A_CLOSE;
    }
#if TSE_CONFIG_DETECT_CACHE
    if (d->s.cache && path != TSE_PATH_NONE)
        (void)tse_detect_cache_store(d->s.cache, d->s.network_id, d->s.network_id_len, r);
#endif
    emit(d, TSE_DETECT_EV_RESULT, NULL);
}

static void evaluate(tse_detect *d, uint32_t now)
{
    int sip, udp, reuse, i;
    if (d->phase != PH_RUN)
        return;
    sip = sip_verdict(d);
    udp = udp_verdict(d);
    if (sip == V_OK && udp == V_OK) {
        if (d->nat == 0)
            decide(d, TSE_PATH_DIRECT, -1, TXT("SIP reachable; STUN over UDP shows no NAT"), now);
        else
            decide(d, TSE_PATH_NAT_TRAVERSAL, -1,
                   d->nat == 1 ? TXT("SIP reachable; UDP works through a NAT")
                               : TXT("SIP reachable; UDP works, NAT unknown"), now);
        return;
    }
    if (sip != V_FAIL && udp != V_FAIL)
        return; /* the direct path may still work: it is preferred */

    /* TR 33.830 8.3 before the tunnel: no new node in the path. */
    reuse = reuse_verdict(d);
    if (reuse == V_OK) {
        decide(d, TSE_PATH_REUSE_EXISTING, -1,
               d->s.proxy_host ? TXT("no direct path; SIP and TURN over TLS on 443 work via the proxy")
                               : TXT("no direct path; SIP and TURN over TLS on 443 work"), now);
        return;
    }

    /* TR 33.830 8.4.2: direct access failed; the tunnel decides. */
    for (i = TSE_PROBE_TUNNEL_1; i <= TSE_PROBE_TUNNEL_2; i++) {
        if (d->p[i].state == PS_OK) {
            if (reuse == V_PENDING)
                return; /* preferred: the tunnel that is up waits for it */
            decide(d, d->s.proxy_host ? TSE_PATH_TUNNEL_VIA_PROXY : TSE_PATH_TUNNEL_DIRECT, i,
                   sip == V_FAIL ? TXT("SIP unreachable; TLS tunnel up")
                                 : TXT("no UDP path for media; TLS tunnel up"), now);
            return;
        }
    }
    if (d->p[TSE_PROBE_TUNNEL_1].state == PS_RUN || d->p[TSE_PROBE_TUNNEL_2].state == PS_RUN)
        return;
    for (i = TSE_PROBE_TUNNEL_1; i <= TSE_PROBE_TUNNEL_2; i++) {
        if (d->p[i].state == PS_WAIT) {
            /* no reason to wait for the stagger any more */
            start_probe(d, i, now);
            if (d->phase != PH_RUN || d->p[i].state == PS_RUN)
                return;
        }
    }
    if (!active(d, TSE_PROBE_TUNNEL_1) && !active(d, TSE_PROBE_TUNNEL_2) && reuse != V_PENDING)
        decide(d, TSE_PATH_NONE, -1,
               d->p[TSE_PROBE_TUNNEL_1].enabled || d->p[TSE_PROBE_TUNNEL_2].enabled
                   ? (reuse_tried(d) ? TXT("no direct path, no 8.3 path, and the TLS tunnel failed")
                                     : TXT("no direct path and the TLS tunnel failed"))
                   : (reuse_tried(d) ? TXT("no direct path, no 8.3 path, and no TSCF configured")
                                     : TXT("no direct path and no TSCF configured")), now);
}

/* ---- API -------------------------------------------------------------- */

int tse_detect_init(tse_detect *d, const tse_detect_settings *s,
                    const tse_detect_callbacks *cb)
{
    int i;
    if (!d || !s || !cb || !cb->on_event || !cb->entropy)
        return TSE_ERR_INVALID_ARG;
#if TSE_CONFIG_DETECT_CACHE
    if (s->network_id && (!s->cache || s->network_id_len == 0 ||
                          s->network_id_len > TSE_DETECT_NETID_MAX))
        return TSE_ERR_INVALID_ARG;
#else
    if (s->cache || s->network_id)
        return TSE_ERR_INVALID_ARG; /* compiled out: say so, do not ignore */
#endif
#if !TSE_CONFIG_DETECT_REUSE
    if (s->pcscf_tls_host || s->turn_host)
        return TSE_ERR_INVALID_ARG; /* compiled out: say so, do not ignore */
#endif
    memset(d, 0, sizeof *d);
    d->s = *s;
    d->cb = *cb;
    /* only a registration the application reports is waited for */
    d->app_reg = s->app_reports_registration ? V_PENDING : V_FAIL;
    d->nat = -1;
    for (i = 0; i < TSE_PROBE_COUNT; i++) {
        tse_detect_probe_priv *p = &d->p[i];
        tse_detect_probe_buf *b = &d->b[i];
        const char *host = probe_host(d, i);
        size_t hl = host ? strlen(host) : 0;
        /* a probe runs with its host; a SIP one unless switched off or
         * the application reports its registration; a tunnel with its
         * port (the 8.3 pair: below) */
        p->enabled = host && (i > TSE_PROBE_SIP_TCP || ((i == TSE_PROBE_SIP_UDP ? s->sip_udp
                                                                                 : s->sip_tcp) &&
                                                        !s->app_reports_registration)) &&
                     (!is_tunnel(i) || probe_port(d, i));
        p->started = T_NEVER;
        p->next_tx = T_NEVER;
        p->result = TSE_ERR_DETECT_NOT_CONFIGURED;
        p->reason = ERR_TXT(TSE_ERR_DETECT_NOT_CONFIGURED);
        /* "host:port", a too long host cut so that the port stays */
        (void)tse_sip_hostport(b->target, host,
                               hl > TSE_DETECT_TARGET_MAX - 10 ? TSE_DETECT_TARGET_MAX - 10 : hl,
                               probe_port(d, i), 1);
    }
#if TSE_CONFIG_DETECT_REUSE
    /* one without the other proves nothing: signalling and media */
    d->p[TSE_PROBE_SIP_TLS].enabled = s->pcscf_tls_host && s->turn_host && s->pcscf_tls_port &&
                                      s->turn_port;
    d->p[TSE_PROBE_TURN_TLS].enabled = d->p[TSE_PROBE_SIP_TLS].enabled;
#endif
    return TSE_OK;
}

int tse_detect_start(tse_detect *d, tse_time_ms now)
{
    int i;
    if (!d)
        return TSE_ERR_INVALID_ARG;
    if (d->phase != PH_INIT)
        return TSE_ERR_STATE;
    d->t0 = now;
    d->phase = PH_RUN;
    /* An application that never reports must not stall the detection:
     * its registration gets the SIP probes' time limit. */
    d->app_deadline = d->s.sip_timeout_ms;
#if TSE_CONFIG_DETECT_CACHE
    if (d->s.cache && d->s.network_id &&
        tse_detect_cache_lookup(d->s.cache, d->s.network_id, d->s.network_id_len,
                                &d->result) == TSE_OK) {
        d->phase = PH_DONE;
        emit(d, TSE_DETECT_EV_RESULT, NULL);
        return TSE_OK;
    }
#endif
    for (i = 0; i < TSE_PROBE_COUNT; i++) {
        tse_detect_probe_priv *p = &d->p[i];
        if (!p->enabled) {
            p->state = PS_OFF;
            continue;
        }
        p->state = PS_WAIT;
        /* the tunnels a stagger and two after the direct probes */
        if (is_tunnel(i))
            p->start_at = later(d->s.stagger_ms, i == TSE_PROBE_TUNNEL_2 ? d->s.stagger_ms : 0);
    }
    /* Direct probes start together at once. */
    for (i = 0; i < TSE_PROBE_COUNT && d->phase == PH_RUN; i++)
        if (d->p[i].state == PS_WAIT && d->p[i].start_at == 0)
            start_probe(d, i, 0);
    evaluate(d, 0);
    return TSE_OK;
}

int tse_detect_want(const tse_detect *d)
{
    int i;
    if (!d)
        return 0;
    for (i = 0; i < TSE_PROBE_COUNT; i++)
        if (d->p[i].pending)
            return 1;
    return 0;
}

int tse_detect_next_action(tse_detect *d, tse_detect_action *out)
{
    static const uint8_t type_of[] = {TSE_DETECT_ACT_CLOSE, TSE_DETECT_ACT_TCP_CONNECT,
                                      TSE_DETECT_ACT_TCP_SEND, TSE_DETECT_ACT_UDP_SEND,
                                      TSE_DETECT_ACT_TUNNEL_START, TSE_DETECT_ACT_REUSE_START};
    int i, k;
    if (!d || !out)
        return 0;
    memset(out, 0, sizeof *out);
    for (i = 0; i < TSE_PROBE_COUNT; i++) {
        tse_detect_probe_priv *p = &d->p[i];
        unsigned a;
        if (!p->pending)
            continue;
        for (k = 0; !(p->pending & (1u << k)); k++)
            ; /* the first order, in bit order */
        a = 1u << k;
        /* nothing else matters once closed */
        p->pending = a == A_CLOSE ? 0 : (uint8_t)(p->pending & ~a);
        out->type = (tse_detect_action_type)type_of[k];
        out->probe = (tse_probe_id)i;
        out->host = probe_host(d, i);
        out->port = probe_port(d, i);
        /* the request; for SIP over TLS the OPTIONS to send once TLS is up */
        if ((a & (A_TCP_SEND | A_UDP_SEND)) || (a == A_REUSE && is_sip_tls(i))) {
            out->data = d->b[i].req;
            out->len = d->b[i].req_len;
        }
        if (a & (A_TUNNEL | A_REUSE)) {
            out->proxy_host = d->s.proxy_host;
            out->proxy_port = d->s.proxy_host ? d->s.proxy_port : 0;
        }
        return 1;
    }
    return 0;
}

static int check_running(const tse_detect *d, tse_probe_id probe)
{
    if (!d || (unsigned)probe >= (unsigned)TSE_PROBE_COUNT)
        return TSE_ERR_INVALID_ARG;
    if (d->phase != PH_RUN || d->p[probe].state != PS_RUN)
        return TSE_ERR_STATE;
    return TSE_OK;
}

int tse_detect_udp_recv(tse_detect *d, tse_probe_id probe, const uint8_t *data,
                        size_t len, const tse_detect_addr *local, tse_time_ms when)
{
    uint32_t now;
    int rc = check_running(d, probe);
    if (rc != TSE_OK)
        return rc;
    now = rel(d, when);
    if (!data || !is_udp(probe))
        return TSE_ERR_INVALID_ARG;
    if (probe == TSE_PROBE_SIP_UDP) {
        tse_sip_response r;
        rc = tse_sip_response_parse(data, len, TSE_SIP_UDP, sip_ids(d, probe), &r, NULL);
        /* A stray or broken datagram proves nothing; keep waiting.
         * RFC 3261 8.1.3.2: any final response ends the transaction. */
        if (rc == TSE_OK && r.status >= 200)
            finish(d, probe, TSE_OK, r.status, TXT("SIP final response over UDP"), now);
    } else {
        tse_stun_response r;
        const char *why = TXT("STUN error response: UDP works, NAT assumed");
        rc = tse_stun_parse_response(data, len, (const uint8_t *)d->b[probe].ids, &r);
        if (rc == TSE_OK || rc == TSE_ERR_STUN_ERROR_RESPONSE) {
            /* an error response: UDP reaches the server both ways; only
             * the mapping is unknown */
            d->nat = 1;
            if (rc == TSE_OK) {
                const tse_detect_addr *l = local;
                memcpy(&d->mapped, &r.mapped, sizeof d->mapped);
                why = TXT("STUN answered; local address unknown, NAT assumed");
                if (l && l->family) {
                    why = TXT("STUN answered; mapped address differs: NAT");
                    if (l->family == r.mapped.family && l->port == r.mapped.port &&
                        memcmp(l->addr, r.mapped.addr, l->family == 4 ? 4 : 16) == 0) {
                        d->nat = 0;
                        why = TXT("STUN answered; mapped address is the local one: no NAT");
                    }
                }
            }
            finish(d, probe, TSE_OK, r.error_code, why, now); /* 0 on success */
        }
    }
    evaluate(d, now);
    return TSE_OK;
}

int tse_detect_tcp_connected(tse_detect *d, tse_probe_id probe, tse_time_ms now)
{
    int rc = check_running(d, probe);
    (void)now;
    if (rc != TSE_OK)
        return rc;
    if (probe != TSE_PROBE_SIP_TCP)
        return TSE_ERR_INVALID_ARG;
    d->p[probe].pending |= A_TCP_SEND;
    return TSE_OK;
}

int tse_detect_tcp_recv(tse_detect *d, tse_probe_id probe, const uint8_t *data,
                        size_t len, tse_time_ms when)
{
    uint32_t now;
    int rc = check_running(d, probe);
    uint8_t *rx = d->tcp_rx;
    size_t *rx_len = &d->tcp_rx_len;
    int tls = is_sip_tls(probe);
    if (rc != TSE_OK)
        return rc;
    now = rel(d, when);
    if ((probe != TSE_PROBE_SIP_TCP && !tls) || (!data && len))
        return TSE_ERR_INVALID_ARG;
#if TSE_CONFIG_DETECT_REUSE
    if (tls) {
        rx = d->tls_rx;
        rx_len = &d->tls_rx_len;
    }
#endif
    if (len > TSE_DETECT_TCP_RX_MAX - *rx_len) {
        finish(d, probe, TSE_ERR_SIP_TOO_LARGE, 0, NULL, now);
        evaluate(d, now);
        return TSE_OK;
    }
    if (len)
        memcpy(rx + *rx_len, data, len);
    *rx_len += len;
    for (;;) {
        tse_sip_response r;
        size_t used = 0;
        rc = tse_sip_response_parse(rx, *rx_len, tls ? TSE_SIP_TLS : TSE_SIP_TCP, sip_ids(d, probe),
                                    &r, &used);
        if (rc == TSE_ERR_WOULD_BLOCK)
            break;
        if (rc != TSE_OK) {
            /* a stream cannot resynchronise after garbage */
            finish(d, probe, rc, 0, NULL, now);
            break;
        }
        if (r.status >= 200) {
            finish(d, probe, TSE_OK, r.status,
                   !tls ? TXT("SIP final response over TCP")
                   : d->s.proxy_host ? TXT("SIP final response over TLS via the proxy")
                                     : TXT("SIP final response over TLS"), now);
            break;
        }
        memmove(rx, rx + used, *rx_len - used);
        *rx_len -= used;
    }
    evaluate(d, now);
    return TSE_OK;
}

int tse_detect_tunnel_up(tse_detect *d, tse_probe_id probe, tse_time_ms when)
{
    uint32_t now;
    int rc = check_running(d, probe);
    if (rc != TSE_OK)
        return rc;
    now = rel(d, when);
    if (!is_tunnel(probe))
        return TSE_ERR_INVALID_ARG;
    finish(d, probe, TSE_OK, 0,
           d->s.proxy_host ? TXT("TLS tunnel up via the proxy") : TXT("TLS tunnel up"), now);
    /* one working tunnel is enough: the port-80 fallback that has not
     * started yet would only cost the TSCF a handshake to cancel */
    if (probe == TSE_PROBE_TUNNEL_1 && d->p[TSE_PROBE_TUNNEL_2].state == PS_WAIT)
        d->p[TSE_PROBE_TUNNEL_2].state = PS_OFF;
    evaluate(d, now);
    return TSE_OK;
}

int tse_detect_reuse_ok(tse_detect *d, tse_probe_id probe, int status, tse_time_ms when)
{
    uint32_t now;
    int rc = check_running(d, probe);
    if (rc != TSE_OK)
        return rc;
    now = rel(d, when);
    if (!is_reuse(probe))
        return TSE_ERR_INVALID_ARG;
#if TSE_CONFIG_DETECT_REUSE
    if (probe == TSE_PROBE_TURN_TLS)
        finish(d, probe, TSE_OK, status,
               d->s.proxy_host ? TXT("TURN allocation over TLS granted via the proxy")
                               : TXT("TURN allocation over TLS granted"), now);
    else
        finish(d, probe, TSE_OK, status,
               d->s.proxy_host ? TXT("SIP final response over TLS via the proxy")
                               : TXT("SIP final response over TLS"), now);
#else
    (void)status;
#endif
    evaluate(d, now);
    return TSE_OK;
}

int tse_detect_probe_failed(tse_detect *d, tse_probe_id probe, int err, int status,
                            tse_time_ms when)
{
    uint32_t now;
    int rc = check_running(d, probe);
    const char *why = NULL;
    if (rc != TSE_OK)
        return rc;
    now = rel(d, when);
    if (err >= 0)
        return TSE_ERR_INVALID_ARG;
#if TSE_CONFIG_STRINGS
    if (err == TSE_ERR_TLS_CERT_UNTRUSTED || err == TSE_ERR_TLS_CERT_NAME || err == TSE_ERR_TLS_PIN)
        why = "TLS certificate wrong: intercepted or misconfigured";
    else if (err == TSE_ERR_PROXY_STATUS)
        why = "proxy refused CONNECT (status in step)";
#endif
    /* The port is still told to CLOSE: it frees the probe's resources
     * in one place whatever ended it. */
    finish(d, probe, err, status, why, now);
    evaluate(d, now);
    return TSE_OK;
}

int tse_detect_registration_result(tse_detect *d, int ok, tse_time_ms when)
{
    uint32_t now;
    if (!d)
        return TSE_ERR_INVALID_ARG;
    if (d->phase != PH_RUN || !d->s.app_reports_registration)
        return TSE_ERR_STATE;
    now = rel(d, when);
    d->app_reg = ok ? V_OK : V_FAIL;
    evaluate(d, now);
    return TSE_OK;
}

tse_time_ms tse_detect_expiry(const tse_detect *d)
{
    uint32_t t = T_NEVER;
    int i, any;
    if (!d || d->phase != PH_RUN)
        return TSE_TIME_NEVER;
    any = d->app_reg == V_PENDING;
    if (any)
        t = d->app_deadline;
    for (i = 0; i < TSE_PROBE_COUNT; i++) {
        const tse_detect_probe_priv *p = &d->p[i];
        if (p->state == PS_WAIT) {
            any = 1;
            if (p->start_at < t)
                t = p->start_at;
        }
        if (p->state == PS_RUN) {
            any = 1;
            if (p->deadline < t)
                t = p->deadline;
            if (p->next_tx < t)
                t = p->next_tx;
        }
    }
    /* a time cut to T_NEVER (see later()) is a real one */
    return any ? d->t0 + t : TSE_TIME_NEVER;
}

int tse_detect_handle_expiry(tse_detect *d, tse_time_ms when)
{
    uint32_t now;
    int i;
    if (!d)
        return TSE_ERR_INVALID_ARG;
    now = rel(d, when);
    if (d->phase == PH_RUN && d->app_reg == V_PENDING && d->app_deadline <= now)
        d->app_reg = V_FAIL;
    for (i = 0; i < TSE_PROBE_COUNT && d->phase == PH_RUN; i++) {
        tse_detect_probe_priv *p = &d->p[i];
        if (p->state == PS_WAIT && p->start_at <= now) {
            start_probe(d, i, now);
        } else if (p->state == PS_RUN && p->deadline <= now) {
            finish(d, i, TSE_ERR_DETECT_TIMEOUT, 0, NULL, now);
        } else if (p->state == PS_RUN && p->next_tx <= now) {
            /* RFC 8489 6.2.1 / RFC 3261 17.1.2.2: retransmit, doubling. */
            uint32_t rto = d->s.udp_rto_ms << p->rto_shift;
            p->pending |= A_UDP_SEND;
            if (rto < 0x40000000u) {
                rto *= 2;
                p->rto_shift++;
            }
            p->next_tx = later(now, rto);
        }
    }
    evaluate(d, now);
    return TSE_OK;
}

int tse_detect_done(const tse_detect *d)
{
    return d && d->phase == PH_DONE;
}

const tse_detect_result *tse_detect_get_result(const tse_detect *d)
{
    return d && d->phase == PH_DONE ? &d->result : NULL;
}

#else
/* ISO C: a translation unit is not empty */
typedef int tse_detect_compiled_out;
#endif /* TSE_CONFIG_DETECT */
