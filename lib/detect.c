/* Detection of the IMS access path (TR 33.830 8.4.2, TS 24.229 Annex
 * R.3.1.0 order): parallel probes with staggered starts, decision,
 * per-network cache.  Sans-I/O: the port does what next_action says. */
#include "tse/config.h"
#if TSE_CONFIG_DETECT /* the whole file */

#include "tse/detect.h"

#include <string.h>

#include "sip_probe.h"
#include "stun.h"

/* probe states */
enum { PS_OFF = 0, PS_WAIT, PS_RUN, PS_OK, PS_FAIL, PS_CANCEL };
/* pending orders */
enum { A_UDP_SEND = 1, A_TCP_CONNECT = 2, A_TCP_SEND = 4, A_TUNNEL = 8, A_CLOSE = 16,
       A_REUSE = 32 };
/* phases */
enum { PH_INIT = 0, PH_RUN, PH_DONE };

typedef char sip_ids_fit[(sizeof(tse_sip_ids) <= sizeof(((tse_detect_probe_priv *)0)->ids)) ? 1 : -1];
typedef char stun_req_fit[(TSE_STUN_REQUEST_MAX <= TSE_DETECT_REQ_MAX) ? 1 : -1];

static void evaluate(tse_detect *d, tse_time_ms now);
static void reuse_failed(tse_detect *d, int i, int err, tse_time_ms now);

const char *tse_detect_path_name(tse_detect_path path)
{
    switch (path) {
    case TSE_PATH_DIRECT: return "direct";
    case TSE_PATH_NAT_TRAVERSAL: return "nat-traversal";
    case TSE_PATH_TUNNEL_DIRECT: return "tunnel-direct";
    case TSE_PATH_TUNNEL_VIA_PROXY: return "tunnel-via-proxy";
    case TSE_PATH_REUSE_EXISTING: return "reuse-existing";
    default: return "none";
    }
}

const char *tse_detect_probe_name(tse_probe_id probe)
{
    switch (probe) {
    case TSE_PROBE_SIP_UDP: return "sip-udp";
    case TSE_PROBE_SIP_TCP: return "sip-tcp";
    case TSE_PROBE_STUN_UDP: return "stun-udp";
    case TSE_PROBE_TUNNEL_1: return "tunnel-1";
    case TSE_PROBE_TUNNEL_2: return "tunnel-2";
#if TSE_CONFIG_DETECT_REUSE
    case TSE_PROBE_SIP_TLS: return "sip-tls";
    case TSE_PROBE_TURN_TLS: return "turn-tls";
#endif
    default: return "?";
    }
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

static int netid_ok(const uint8_t *id, size_t len)
{
    return id && len > 0 && len <= TSE_DETECT_NETID_MAX;
}

static tse_detect_cache_entry *cache_find(tse_detect_cache *c, const uint8_t *id, size_t len)
{
    size_t i;
    for (i = 0; i < c->n; i++) {
        tse_detect_cache_entry *e = &c->slots[i];
        if (e->used && e->id_len == len && memcmp(e->id, id, len) == 0)
            return e;
    }
    return NULL;
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
    if (!c || !c->slots || !out || !netid_ok(net_id, len))
        return TSE_ERR_INVALID_ARG;
    e = cache_find(c, net_id, len);
    if (!e)
        return TSE_ERR_DETECT_NOT_CACHED;
    e->stamp = ++c->clock;
    memset(out, 0, sizeof *out);
    out->path = (tse_detect_path)e->path;
    out->from_cache = 1;
    out->tunnel_probe = e->tunnel_probe == 0xFF ? -1 : (int)e->tunnel_probe;
    out->tunnel_port = e->tunnel_port;
    out->via_proxy = e->via_proxy;
    out->nat = -1;
    out->reason = "cached decision for this network";
    return TSE_OK;
}

int tse_detect_cache_store(tse_detect_cache *c, const uint8_t *net_id, size_t len,
                           const tse_detect_result *r)
{
    tse_detect_cache_entry *e;
    size_t i;
    if (!c || !c->slots || !r || !netid_ok(net_id, len) ||
        r->path > TSE_PATH_REUSE_EXISTING)
        return TSE_ERR_INVALID_ARG;
    if (r->path == TSE_PATH_NONE)
        return TSE_ERR_DETECT_NO_PATH;
    e = cache_find(c, net_id, len);
    if (!e) {
        e = &c->slots[0];
        for (i = 0; i < c->n; i++) {
            if (!c->slots[i].used) {
                e = &c->slots[i];
                break;
            }
            if (c->slots[i].stamp < e->stamp)
                e = &c->slots[i];
        }
    }
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
    if (!c || !c->slots || !netid_ok(net_id, len))
        return TSE_ERR_INVALID_ARG;
    e = cache_find(c, net_id, len);
    if (!e)
        return TSE_ERR_DETECT_NOT_CACHED;
    memset(e, 0, sizeof *e);
    return TSE_OK;
}

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
#if TSE_CONFIG_DETECT_REUSE
    if (i == TSE_PROBE_SIP_TLS)
        return d->s.pcscf_tls_host;
    if (i == TSE_PROBE_TURN_TLS)
        return d->s.turn_host;
#endif
    if (i == TSE_PROBE_STUN_UDP)
        return d->s.stun_host;
    if (is_tunnel(i))
        return d->s.tscf_host;
    return d->s.pcscf_host;
}

static uint16_t probe_port(const tse_detect *d, int i)
{
    switch (i) {
    case TSE_PROBE_STUN_UDP: return d->s.stun_port;
    case TSE_PROBE_TUNNEL_1: return d->s.tunnel_port_1;
    case TSE_PROBE_TUNNEL_2: return d->s.tunnel_port_2;
#if TSE_CONFIG_DETECT_REUSE
    case TSE_PROBE_SIP_TLS: return d->s.pcscf_tls_port;
    case TSE_PROBE_TURN_TLS: return d->s.turn_port;
#endif
    default: return d->s.pcscf_port;
    }
}

static uint32_t probe_timeout(const tse_detect *d, int i)
{
    if (i == TSE_PROBE_STUN_UDP)
        return d->s.stun_timeout_ms;
    if (is_tunnel(i))
        return d->s.tunnel_timeout_ms;
    if (is_reuse(i))
        return d->s.reuse_timeout_ms;
    return d->s.sip_timeout_ms;
}

static void set_target(tse_detect_probe_priv *p, const char *host, uint16_t port)
{
    size_t n = 0, hl = host ? strlen(host) : 0;
    char digits[6];
    size_t k = sizeof digits;
    int v6 = host && strchr(host, ':') != NULL;
    if (hl > TSE_DETECT_TARGET_MAX - 10)
        hl = TSE_DETECT_TARGET_MAX - 10;
    if (v6)
        p->target[n++] = '[';
    if (hl)
        memcpy(p->target + n, host, hl);
    n += hl;
    if (v6)
        p->target[n++] = ']';
    p->target[n++] = ':';
    do {
        digits[--k] = (char)('0' + port % 10);
        port = (uint16_t)(port / 10);
    } while (port);
    memcpy(p->target + n, digits + k, sizeof digits - k);
    n += sizeof digits - k;
    p->target[n] = '\0';
}

static uint32_t ms_between(tse_time_ms a, tse_time_ms b)
{
    return b > a ? (uint32_t)(b - a > 0xFFFFFFFFu ? 0xFFFFFFFFu : b - a) : 0;
}

static void emit_step(tse_detect *d, int i, int done, tse_time_ms now)
{
    tse_detect_probe_priv *p = &d->p[i];
    tse_detect_step st;
    tse_detect_event ev;
    memset(&st, 0, sizeof st);
    st.probe = (tse_probe_id)i;
    st.name = tse_detect_probe_name((tse_probe_id)i);
    st.target = p->target;
    st.done = done;
    st.elapsed_ms = done && p->started != TSE_TIME_NEVER ? ms_between(p->started, now) : 0;
    st.result = done ? p->result : TSE_OK;
    st.status = done ? p->status : 0;
    st.reason = done ? p->reason
                     : ((is_tunnel(i) || is_reuse(i)) && d->s.proxy_host ? "started (via proxy)"
                                                                         : "started");
    memset(&ev, 0, sizeof ev);
    ev.type = TSE_DETECT_EV_STEP;
    ev.step = &st;
    d->cb.on_event(d->cb.user, &ev);
}

/* Finish a running (or waiting) probe.  The port is told to close it,
 * except for a tunnel that came up: that one may become the path. */
static void finish(tse_detect *d, int i, int result, int status, const char *reason,
                   tse_time_ms now)
{
    tse_detect_probe_priv *p = &d->p[i];
    int was_running = p->state == PS_RUN;
    p->state = result == TSE_OK ? PS_OK : PS_FAIL;
    p->result = result;
    p->status = status;
    p->reason = reason ? reason : tse_strerror(result);
    p->pending = (was_running && !(is_tunnel(i) && result == TSE_OK)) ? A_CLOSE : 0;
    emit_step(d, i, 1, now);
}

static void start_probe(tse_detect *d, int i, tse_time_ms now);

/* RFC 8305 5: the next attempt starts a stagger after the previous one
 * started, or at once when the previous one failed. */
static void tunnel_started(tse_detect *d, int i, tse_time_ms now)
{
    if (i == TSE_PROBE_TUNNEL_1 && d->p[TSE_PROBE_TUNNEL_2].state == PS_WAIT)
        d->p[TSE_PROBE_TUNNEL_2].start_at = now + d->s.stagger_ms;
}

static void start_probe(tse_detect *d, int i, tse_time_ms now)
{
    tse_detect_probe_priv *p = &d->p[i];
    int rc = TSE_OK;
    p->state = PS_RUN;
    p->started = now;
    p->deadline = now + probe_timeout(d, i);
    p->rto = d->s.udp_rto_ms;
    p->next_tx = p->rto ? now + p->rto : TSE_TIME_NEVER;
    emit_step(d, i, 0, now);

    if (i == TSE_PROBE_SIP_UDP || i == TSE_PROBE_SIP_TCP || is_sip_tls(i)) {
        tse_sip_options_params sp;
        tse_sip_ids ids;
        memset(&sp, 0, sizeof sp);
        memset(&ids, 0, sizeof ids);
        sp.host = probe_host(d, i);
        sp.port = probe_port(d, i);
        sp.transport = i == TSE_PROBE_SIP_UDP ? TSE_SIP_UDP
                       : i == TSE_PROBE_SIP_TCP ? TSE_SIP_TCP : TSE_SIP_TLS;
        sp.local_host = d->s.local_host;
        sp.local_port = is_sip_tls(i) ? 0 : d->s.local_port;
        rc = tse_sip_options_build(&sp, d->cb.entropy, d->cb.user, (char *)p->req,
                                   sizeof p->req, &p->req_len, &ids);
        memcpy(p->ids, &ids, sizeof ids);
        p->pending = i == TSE_PROBE_SIP_UDP ? A_UDP_SEND
                     : i == TSE_PROBE_SIP_TCP ? A_TCP_CONNECT : A_REUSE;
    } else if (i == TSE_PROBE_STUN_UDP) {
        rc = tse_stun_binding_request(p->req, sizeof p->req, d->cb.entropy, d->cb.user,
                                      d->s.stun_fingerprint, p->ids, &p->req_len);
        p->pending = A_UDP_SEND;
    } else if (is_reuse(i)) {
        p->pending = A_REUSE; /* the port runs it: TLS stream, SIP / TURN */
    } else {
        p->pending = A_TUNNEL;
        tunnel_started(d, i, now);
    }
    if (rc != TSE_OK) {
        p->pending = 0;
        p->state = PS_WAIT; /* nothing was sent: nothing to close */
        finish(d, i, rc, 0, NULL, now);
        reuse_failed(d, i, rc, now);
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

static void cancel_probe(tse_detect *d, int i, const char *reason, tse_time_ms now)
{
    tse_detect_probe_priv *p = &d->p[i];
    int was_running = p->state == PS_RUN;
    p->state = PS_CANCEL;
    p->result = TSE_ERR_DETECT_CANCELLED;
    p->status = 0;
    p->reason = reason;
    p->pending = was_running ? A_CLOSE : 0;
    if (!was_running)
        p->started = TSE_TIME_NEVER;
    emit_step(d, i, 1, now);
}

/* One 8.3 probe failed (@p err): remember why, and stop the other, which
 * cannot help any more (8.3 needs both). */
static void reuse_failed(tse_detect *d, int i, int err, tse_time_ms now)
{
#if TSE_CONFIG_DETECT_REUSE
    int other = i == TSE_PROBE_SIP_TLS ? TSE_PROBE_TURN_TLS : TSE_PROBE_SIP_TLS;
    if (!is_reuse(i))
        return;
    if (d->reuse_error == TSE_OK)
        d->reuse_error = err;
    if (d->phase == PH_RUN && active(d, other))
        cancel_probe(d, other, "cancelled: the other 8.3 probe failed", now);
#else
    (void)d;
    (void)i;
    (void)err;
    (void)now;
#endif
}

static void decide(tse_detect *d, tse_detect_path path, int winner, const char *reason,
                   tse_time_ms now)
{
    tse_detect_result *r = &d->result;
    tse_detect_event ev;
    int i;

    memset(r, 0, sizeof *r);
    r->path = path;
    r->elapsed_ms = ms_between(d->t0, now);
    r->tunnel_probe = winner;
    r->tunnel_port = winner >= 0 ? probe_port(d, winner) : 0;
    r->nat = d->nat;
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
        if (p->state == PS_WAIT || p->state == PS_RUN) {
            cancel_probe(d, i, "cancelled: decision made", now);
        } else if (p->state == PS_OK && is_tunnel(i) && i != winner) {
            p->pending = A_CLOSE;
        }
    }
    if (d->s.cache && path != TSE_PATH_NONE)
        (void)tse_detect_cache_store(d->s.cache, d->s.network_id, d->s.network_id_len, r);
    memset(&ev, 0, sizeof ev);
    ev.type = TSE_DETECT_EV_RESULT;
    ev.result = r;
    d->cb.on_event(d->cb.user, &ev);
}

static void evaluate(tse_detect *d, tse_time_ms now)
{
    int sip, udp, reuse, i;
    if (d->phase != PH_RUN)
        return;
    sip = sip_verdict(d);
    udp = udp_verdict(d);
    if (sip == V_OK && udp == V_OK) {
        if (d->nat == 0)
            decide(d, TSE_PATH_DIRECT, -1, "SIP reachable; STUN over UDP shows no NAT", now);
        else
            decide(d, TSE_PATH_NAT_TRAVERSAL, -1,
                   d->nat == 1 ? "SIP reachable; UDP works through a NAT"
                               : "SIP reachable; UDP works, NAT unknown", now);
        return;
    }
    if (sip != V_FAIL && udp != V_FAIL)
        return; /* the direct path may still work: it is preferred */

    /* TR 33.830 8.3 before the tunnel: no new node in the path. */
    reuse = reuse_verdict(d);
    if (reuse == V_OK) {
        decide(d, TSE_PATH_REUSE_EXISTING, -1,
               d->s.proxy_host ? "no direct path; SIP and TURN over TLS on 443 work via the proxy"
                               : "no direct path; SIP and TURN over TLS on 443 work", now);
        return;
    }

    /* TR 33.830 8.4.2: direct access failed; the tunnel decides. */
    for (i = TSE_PROBE_TUNNEL_1; i <= TSE_PROBE_TUNNEL_2; i++) {
        if (d->p[i].state == PS_OK) {
            if (reuse == V_PENDING)
                return; /* preferred: the tunnel that is up waits for it */
            decide(d, d->s.proxy_host ? TSE_PATH_TUNNEL_VIA_PROXY : TSE_PATH_TUNNEL_DIRECT, i,
                   sip == V_FAIL ? "SIP unreachable; TLS tunnel up"
                                 : "no UDP path for media; TLS tunnel up", now);
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
                   ? (reuse_tried(d) ? "no direct path, no 8.3 path, and the TLS tunnel failed"
                                     : "no direct path and the TLS tunnel failed")
                   : (reuse_tried(d) ? "no direct path, no 8.3 path, and no TSCF configured"
                                     : "no direct path and no TSCF configured"), now);
}

/* ---- API -------------------------------------------------------------- */

int tse_detect_init(tse_detect *d, const tse_detect_settings *s,
                    const tse_detect_callbacks *cb)
{
    int i;
    if (!d || !s || !cb || !cb->on_event || !cb->entropy)
        return TSE_ERR_INVALID_ARG;
    if (s->network_id && (!s->cache || !netid_ok(s->network_id, s->network_id_len)))
        return TSE_ERR_INVALID_ARG;
#if !TSE_CONFIG_DETECT_REUSE
    if (s->pcscf_tls_host || s->turn_host)
        return TSE_ERR_INVALID_ARG; /* compiled out: say so, do not ignore */
#endif
    memset(d, 0, sizeof *d);
    d->s = *s;
    d->cb = *cb;
    d->app_reg = V_PENDING;
    d->nat = -1;
    d->p[TSE_PROBE_SIP_UDP].enabled = s->pcscf_host && s->sip_udp && !s->app_reports_registration;
    d->p[TSE_PROBE_SIP_TCP].enabled = s->pcscf_host && s->sip_tcp && !s->app_reports_registration;
    d->p[TSE_PROBE_STUN_UDP].enabled = s->stun_host != NULL;
    d->p[TSE_PROBE_TUNNEL_1].enabled = s->tscf_host && s->tunnel_port_1;
    d->p[TSE_PROBE_TUNNEL_2].enabled = s->tscf_host && s->tunnel_port_2;
#if TSE_CONFIG_DETECT_REUSE
    /* one without the other proves nothing: signalling and media */
    d->p[TSE_PROBE_SIP_TLS].enabled = s->pcscf_tls_host && s->turn_host && s->pcscf_tls_port &&
                                      s->turn_port;
    d->p[TSE_PROBE_TURN_TLS].enabled = d->p[TSE_PROBE_SIP_TLS].enabled;
#endif
    for (i = 0; i < TSE_PROBE_COUNT; i++) {
        d->p[i].started = TSE_TIME_NEVER;
        d->p[i].next_tx = TSE_TIME_NEVER;
        d->p[i].result = TSE_ERR_DETECT_NOT_CONFIGURED;
        d->p[i].reason = tse_strerror(TSE_ERR_DETECT_NOT_CONFIGURED);
        set_target(&d->p[i], probe_host(d, i), probe_port(d, i));
    }
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
    d->app_deadline = d->s.app_reports_registration ? now + d->s.sip_timeout_ms : TSE_TIME_NEVER;
    if (d->s.cache && d->s.network_id) {
        tse_detect_result r;
        if (tse_detect_cache_lookup(d->s.cache, d->s.network_id, d->s.network_id_len, &r) == TSE_OK) {
            tse_detect_event ev;
            d->result = r;
            d->phase = PH_DONE;
            memset(&ev, 0, sizeof ev);
            ev.type = TSE_DETECT_EV_RESULT;
            ev.result = &d->result;
            d->cb.on_event(d->cb.user, &ev);
            return TSE_OK;
        }
    }
    for (i = 0; i < TSE_PROBE_COUNT; i++) {
        tse_detect_probe_priv *p = &d->p[i];
        if (!p->enabled) {
            p->state = PS_OFF;
            continue;
        }
        p->state = PS_WAIT;
        p->start_at = is_tunnel(i) ? now + (tse_time_ms)d->s.stagger_ms * (i == TSE_PROBE_TUNNEL_1 ? 1u : 2u)
                                   : now;
    }
    /* Direct probes start together at once. */
    for (i = 0; i < TSE_PROBE_COUNT && d->phase == PH_RUN; i++)
        if (d->p[i].state == PS_WAIT && d->p[i].start_at <= now)
            start_probe(d, i, now);
    evaluate(d, now);
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
    int i;
    static const uint8_t order[] = {A_CLOSE, A_TCP_CONNECT, A_TCP_SEND, A_UDP_SEND, A_TUNNEL,
                                    A_REUSE};
    if (!d || !out)
        return 0;
    memset(out, 0, sizeof *out);
    for (i = 0; i < TSE_PROBE_COUNT; i++) {
        tse_detect_probe_priv *p = &d->p[i];
        size_t k;
        if (!p->pending)
            continue;
        for (k = 0; k < sizeof order; k++) {
            uint8_t a = order[k];
            if (!(p->pending & a))
                continue;
            p->pending = (uint8_t)(p->pending & ~a);
            out->probe = (tse_probe_id)i;
            out->host = probe_host(d, i);
            out->port = probe_port(d, i);
            switch (a) {
            case A_CLOSE:
                out->type = TSE_DETECT_ACT_CLOSE;
                p->pending = 0; /* nothing else matters once closed */
                break;
            case A_TCP_CONNECT: out->type = TSE_DETECT_ACT_TCP_CONNECT; break;
            case A_TCP_SEND:
                out->type = TSE_DETECT_ACT_TCP_SEND;
                out->data = p->req;
                out->len = p->req_len;
                break;
            case A_UDP_SEND:
                out->type = TSE_DETECT_ACT_UDP_SEND;
                out->data = p->req;
                out->len = p->req_len;
                break;
            case A_REUSE:
                out->type = TSE_DETECT_ACT_REUSE_START;
                if (is_sip_tls(i)) { /* the OPTIONS to send once TLS is up */
                    out->data = p->req;
                    out->len = p->req_len;
                }
                out->proxy_host = d->s.proxy_host;
                out->proxy_port = d->s.proxy_host ? d->s.proxy_port : 0;
                break;
            default:
                out->type = TSE_DETECT_ACT_TUNNEL_START;
                out->proxy_host = d->s.proxy_host;
                out->proxy_port = d->s.proxy_host ? d->s.proxy_port : 0;
                break;
            }
            return 1;
        }
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

static int addr_equal(const tse_detect_addr *a, const tse_stun_addr *b)
{
    size_t n = a->family == 4 ? 4 : 16;
    return a->family == b->family && a->port == b->port && memcmp(a->addr, b->addr, n) == 0;
}

int tse_detect_udp_recv(tse_detect *d, tse_probe_id probe, const uint8_t *data,
                        size_t len, const tse_detect_addr *local, tse_time_ms now)
{
    int rc = check_running(d, probe);
    if (rc != TSE_OK)
        return rc;
    if (!data || !is_udp(probe))
        return TSE_ERR_INVALID_ARG;
    if (probe == TSE_PROBE_SIP_UDP) {
        tse_sip_ids ids;
        tse_sip_response r;
        memcpy(&ids, d->p[probe].ids, sizeof ids);
        rc = tse_sip_response_parse(data, len, TSE_SIP_UDP, &ids, &r, NULL);
        /* A stray or broken datagram proves nothing; keep waiting.
         * RFC 3261 8.1.3.2: any final response ends the transaction. */
        if (rc == TSE_OK && r.status >= 200)
            finish(d, probe, TSE_OK, r.status, "SIP final response over UDP", now);
    } else {
        tse_stun_response r;
        rc = tse_stun_parse_response(data, len, d->p[probe].ids, &r);
        if (rc == TSE_OK) {
            d->mapped.family = r.mapped.family;
            d->mapped.port = r.mapped.port;
            memcpy(d->mapped.addr, r.mapped.addr, sizeof d->mapped.addr);
            if (!local || !local->family) {
                d->nat = 1;
                finish(d, probe, TSE_OK, 0, "STUN answered; local address unknown, NAT assumed", now);
            } else if (addr_equal(local, &r.mapped)) {
                d->nat = 0;
                finish(d, probe, TSE_OK, 0, "STUN answered; mapped address is the local one: no NAT", now);
            } else {
                d->nat = 1;
                finish(d, probe, TSE_OK, 0, "STUN answered; mapped address differs: NAT", now);
            }
        } else if (rc == TSE_ERR_STUN_ERROR_RESPONSE) {
            /* UDP reaches the server both ways; only the mapping is unknown. */
            d->nat = 1;
            finish(d, probe, TSE_OK, r.error_code, "STUN error response: UDP works, NAT assumed", now);
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
                        size_t len, tse_time_ms now)
{
    int rc = check_running(d, probe);
    tse_sip_ids ids;
    uint8_t *rx = d->tcp_rx;
    size_t *rx_len = &d->tcp_rx_len;
    int tls = is_sip_tls(probe);
    if (rc != TSE_OK)
        return rc;
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
        reuse_failed(d, probe, TSE_ERR_SIP_TOO_LARGE, now);
        evaluate(d, now);
        return TSE_OK;
    }
    if (len)
        memcpy(rx + *rx_len, data, len);
    *rx_len += len;
    memcpy(&ids, d->p[probe].ids, sizeof ids);
    for (;;) {
        tse_sip_response r;
        size_t used = 0;
        rc = tse_sip_response_parse(rx, *rx_len, tls ? TSE_SIP_TLS : TSE_SIP_TCP, &ids, &r, &used);
        if (rc == TSE_ERR_WOULD_BLOCK)
            break;
        if (rc != TSE_OK) {
            /* a stream cannot resynchronise after garbage */
            finish(d, probe, rc, 0, NULL, now);
            reuse_failed(d, probe, rc, now);
            break;
        }
        if (r.status >= 200) {
            finish(d, probe, TSE_OK, r.status,
                   !tls ? "SIP final response over TCP"
                   : d->s.proxy_host ? "SIP final response over TLS via the proxy"
                                     : "SIP final response over TLS", now);
            break;
        }
        memmove(rx, rx + used, *rx_len - used);
        *rx_len -= used;
    }
    evaluate(d, now);
    return TSE_OK;
}

int tse_detect_tunnel_up(tse_detect *d, tse_probe_id probe, tse_time_ms now)
{
    int rc = check_running(d, probe);
    if (rc != TSE_OK)
        return rc;
    if (!is_tunnel(probe))
        return TSE_ERR_INVALID_ARG;
    finish(d, probe, TSE_OK, 0, d->s.proxy_host ? "TLS tunnel up via the proxy" : "TLS tunnel up", now);
    /* one working tunnel is enough: the port-80 fallback that has not
     * started yet would only cost the TSCF a handshake to cancel */
    if (probe == TSE_PROBE_TUNNEL_1 && d->p[TSE_PROBE_TUNNEL_2].state == PS_WAIT)
        d->p[TSE_PROBE_TUNNEL_2].state = PS_OFF;
    evaluate(d, now);
    return TSE_OK;
}

int tse_detect_reuse_ok(tse_detect *d, tse_probe_id probe, int status, tse_time_ms now)
{
    int rc = check_running(d, probe);
    if (rc != TSE_OK)
        return rc;
    if (!is_reuse(probe))
        return TSE_ERR_INVALID_ARG;
#if TSE_CONFIG_DETECT_REUSE
    if (probe == TSE_PROBE_TURN_TLS)
        finish(d, probe, TSE_OK, status,
               d->s.proxy_host ? "TURN allocation over TLS granted via the proxy"
                               : "TURN allocation over TLS granted", now);
    else
        finish(d, probe, TSE_OK, status,
               d->s.proxy_host ? "SIP final response over TLS via the proxy"
                               : "SIP final response over TLS", now);
#else
    (void)status;
#endif
    evaluate(d, now);
    return TSE_OK;
}

static const char *failure_text(int err)
{
    switch (err) {
    case TSE_ERR_TLS_CERT_UNTRUSTED:
    case TSE_ERR_TLS_CERT_NAME:
    case TSE_ERR_TLS_PIN:
        return "TLS certificate wrong: intercepted or misconfigured";
    case TSE_ERR_PROXY_STATUS:
        return "proxy refused CONNECT (status in step)";
    default:
        return tse_strerror(err);
    }
}

int tse_detect_probe_failed(tse_detect *d, tse_probe_id probe, int err, int status,
                            tse_time_ms now)
{
    int rc = check_running(d, probe);
    if (rc != TSE_OK)
        return rc;
    if (err >= 0)
        return TSE_ERR_INVALID_ARG;
    /* The port is still told to CLOSE: it frees the probe's resources
     * in one place whatever ended it. */
    finish(d, probe, err, status, failure_text(err), now);
    reuse_failed(d, probe, err, now);
    if (probe == TSE_PROBE_TUNNEL_1 && d->p[TSE_PROBE_TUNNEL_2].state == PS_WAIT && d->phase == PH_RUN)
        start_probe(d, TSE_PROBE_TUNNEL_2, now);
    evaluate(d, now);
    return TSE_OK;
}

int tse_detect_registration_result(tse_detect *d, int ok, tse_time_ms now)
{
    if (!d)
        return TSE_ERR_INVALID_ARG;
    if (d->phase != PH_RUN || !d->s.app_reports_registration)
        return TSE_ERR_STATE;
    d->app_reg = ok ? V_OK : V_FAIL;
    evaluate(d, now);
    return TSE_OK;
}

tse_time_ms tse_detect_expiry(const tse_detect *d)
{
    tse_time_ms t = TSE_TIME_NEVER;
    int i;
    if (!d || d->phase != PH_RUN)
        return TSE_TIME_NEVER;
    if (d->app_reg == V_PENDING)
        t = d->app_deadline;
    for (i = 0; i < TSE_PROBE_COUNT; i++) {
        const tse_detect_probe_priv *p = &d->p[i];
        if (p->state == PS_WAIT && p->start_at < t)
            t = p->start_at;
        if (p->state == PS_RUN) {
            if (p->deadline < t)
                t = p->deadline;
            if (is_udp(i) && p->next_tx < t)
                t = p->next_tx;
        }
    }
    return t;
}

int tse_detect_handle_expiry(tse_detect *d, tse_time_ms now)
{
    int i;
    if (!d)
        return TSE_ERR_INVALID_ARG;
    if (d->phase == PH_RUN && d->app_reg == V_PENDING && d->app_deadline <= now)
        d->app_reg = V_FAIL;
    for (i = 0; i < TSE_PROBE_COUNT && d->phase == PH_RUN; i++) {
        tse_detect_probe_priv *p = &d->p[i];
        if (p->state == PS_WAIT && p->start_at <= now) {
            start_probe(d, i, now);
        } else if (p->state == PS_RUN && p->deadline <= now) {
            finish(d, i, TSE_ERR_DETECT_TIMEOUT, 0, NULL, now);
            reuse_failed(d, i, TSE_ERR_DETECT_TIMEOUT, now);
            if (i == TSE_PROBE_TUNNEL_1 && d->p[TSE_PROBE_TUNNEL_2].state == PS_WAIT)
                start_probe(d, TSE_PROBE_TUNNEL_2, now);
        } else if (p->state == PS_RUN && is_udp(i) && p->next_tx <= now) {
            /* RFC 8489 6.2.1 / RFC 3261 17.1.2.2: retransmit, doubling. */
            p->pending |= A_UDP_SEND;
            if (p->rto < 0x40000000u)
                p->rto *= 2;
            p->next_tx = now + p->rto;
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
