/*
 * A TLS byte stream to HOST:PORT, optionally through an HTTP CONNECT proxy
 * (include/tse/stream.h).  The same layers as the tunnel, stacked the same
 * way and reused, not copied: TCP (the port) -> lib/http_connect (CONNECT,
 * Basic/Digest) -> lib/tls_session (mbed TLS over memory, the tunnel's TLS
 * profile) -> the application's plaintext, with no framing.
 *
 * With plain_tcp the TLS layer is left out: bytes go from the send buffer
 * to the port as they are, and the TLS objects are never set up (the
 * session struct stays zero, its configuration is not allocated).  The
 * ciphertext buffer then exists only for the CONNECT request.
 *
 * Sans-I/O: fed bytes and time.  One allocation (tse_stream_new()).
 */
#include <string.h>

#include "http_connect.h"
#include "outbuf.h"
#include "tls_session.h"
#include "tse/config.h"
#include "tse/stream.h"

#if TSE_CONFIG_STREAM /* the whole file (tse/config.h) */

enum conn_state { CONN_NONE = 0, CONN_WANTED, CONN_STARTED, CONN_OPEN };

/* How long a failing stream may keep sending what explains it (a TLS
 * alert, close_notify) before it wants the connection closed. */
#define LINGER_MS 2000u

struct tse_stream {
    tse_stream_settings s;
    tse_stream_callbacks cb;
    tse_mem mem;
    void *user;

    tse_stream_state state;
    int conn;               /* enum conn_state */
    int need_disconnect;    /* the driver must close the connection */
    int linger;             /* ... after sending what is pending */
    int last_error;         /* why DOWN; 0 before */
    int send_refused;       /* a send found no room: WRITABLE is due */
    int close_sent;         /* close_notify queued */
    int in_recv;            /* tse_stream_recv() runs: no DATA event */
    int feeding;            /* ciphertext is lent to TLS (tls_input()) */
    tse_time_ms now;
    tse_time_ms t_phase;    /* timeout of the phase, or the linger's end */
    tse_time_ms t_dead;     /* dead-peer deadline, TSE_TIME_NEVER if none */

    tse_hc hc;
    tse_tls_conf *own_conf; /* in the allocation; NULL when shared */
    tse_tls tls;            /* owns the ciphertext buffer (TLS mode) */
    tse_outbuf wire;        /* plain_tcp: the CONNECT request only */
    tse_outbuf tx;          /* plaintext waiting for TLS */
    tse_outbuf rx;          /* plaintext waiting for the application */
};

/* ---- small helpers ---------------------------------------------------- */

static tse_time_ms add_ms(tse_time_ms now, uint32_t ms)
{
    return (TSE_TIME_NEVER - now < ms) ? TSE_TIME_NEVER : now + ms;
}

static size_t str_size(const char *s)
{
    return s != NULL ? strlen(s) + 1 : 0;
}

static const char *str_copy(char **area, const char *s)
{
    char *d;
    size_t n;
    if (s == NULL) {
        return NULL;
    }
    n = strlen(s) + 1;
    d = *area;
    memcpy(d, s, n);
    *area += n;
    return d;
}

static size_t align8(size_t n)
{
    return (n + 7u) & ~(size_t)7u;
}

/* Bytes an outbuf holds, and the room it has once compacted. */
static size_t ob_used(const tse_outbuf *b)
{
    return b->len - b->off;
}

static size_t ob_free(const tse_outbuf *b)
{
    return b->cap - ob_used(b);
}

static void emit(tse_stream *st, tse_stream_event *ev)
{
    ev->state = st->state;
    st->cb.on_event(st->user, ev);
}

static void emit_simple(tse_stream *st, tse_stream_event_type type, const char *detail)
{
    tse_stream_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.type = type;
    ev.detail = detail;
    emit(st, &ev);
}

static int flowing(const tse_stream *st)
{
    return (st->state == TSE_STREAM_UP || st->state == TSE_STREAM_CLOSING) &&
           !st->need_disconnect;
}

static const char *tls_detail(const tse_stream *st)
{
    return st->tls.detail[0] != '\0' ? st->tls.detail : NULL;
}

/* The bytes for the port before the application's: TLS records (and the
 * CONNECT request) in the TLS layer's buffer, or with plain_tcp the
 * CONNECT request in the stream's own. */
static tse_outbuf *wire(tse_stream *st)
{
    return st->s.plain_tcp ? &st->wire : &st->tls.out;
}

/* What the port is to send: the wire buffer first; with plain_tcp, once
 * the stream flows, the send buffer itself (no copy). */
static size_t out_pending(const tse_stream *st, const uint8_t **p)
{
    size_t n;
    if (!st->s.plain_tcp) {
        return tse_tls_pending(&st->tls, p);
    }
    n = tse_outbuf_pending(&st->wire, p);
    if (n == 0 && flowing(st)) {
        n = tse_outbuf_pending(&st->tx, p);
    }
    return n;
}

/* The stream ends with @p err: DOWN, the connection dropped (after what
 * is pending when @p linger: the alert that tells the peer why), the
 * event.  What was received stays readable. */
static void fail_ex(tse_stream *st, int err, int proxy_status, const char *detail,
                    int linger)
{
    tse_stream_event ev;
    if (st->state == TSE_STREAM_DOWN) {
        return;
    }
    st->last_error = err;
    st->state = TSE_STREAM_DOWN;
    st->t_dead = TSE_TIME_NEVER;
    if (st->conn != CONN_NONE) {
        st->need_disconnect = 1;
        st->linger = linger && st->conn == CONN_OPEN;
        st->t_phase = st->linger ? add_ms(st->now, LINGER_MS) : TSE_TIME_NEVER;
    } else {
        st->t_phase = TSE_TIME_NEVER;
    }
    memset(&ev, 0, sizeof(ev));
    ev.type = TSE_STREAM_EV_DOWN;
    ev.error = err;
    ev.proxy_status = proxy_status;
    ev.detail = detail;
    emit(st, &ev);
}

static void fail(tse_stream *st, int err, const char *detail)
{
    fail_ex(st, err, 0, detail, 0);
}

/* ---- outbound --------------------------------------------------------- */

/* CLOSING and everything queued went into records: close_notify (RFC
 * 8446 6.1), sent before the connection is closed. */
static void finish_close(tse_stream *st)
{
    if (!st->close_sent && !st->s.plain_tcp) {
        st->close_sent = 1;
        tse_tls_close_notify(&st->tls);
    }
    fail_ex(st, TSE_ERR_CLOSED, 0, NULL, 1);
}

/* plain_tcp: the send buffer is what the port sends; the port having
 * taken @p sent bytes of it made room (WRITABLE), and once it is empty a
 * close completes. */
static void pump_plain(tse_stream *st, size_t sent)
{
    if (!flowing(st)) {
        return;
    }
    if (ob_used(&st->tx) > 0 && st->s.dead_peer_ms != 0 && st->t_dead == TSE_TIME_NEVER) {
        st->t_dead = add_ms(st->now, st->s.dead_peer_ms);
    }
    if (st->state == TSE_STREAM_CLOSING && ob_used(&st->tx) == 0) {
        finish_close(st);
        return;
    }
    if (sent > 0 && st->send_refused) {
        st->send_refused = 0;
        emit_simple(st, TSE_STREAM_EV_WRITABLE, NULL);
    }
}

/* Move queued plaintext into TLS records while the ciphertext buffer has
 * room for one. */
static void pump(tse_stream *st)
{
    int moved = 0;
    if (st->s.plain_tcp) {
        pump_plain(st, 0);
        return;
    }
    /* bounded: each round takes a record's worth or ends */
    for (int guard = 0; guard < 64 && flowing(st); guard++) {
        const uint8_t *p = NULL;
        size_t pend = tse_outbuf_pending(&st->tx, &p);
        size_t room;
        int w;
        if (pend == 0) {
            break;
        }
        room = tse_tls_max_chunk(&st->tls);
        if (room == 0) {
            break;
        }
        w = tse_tls_write(&st->tls, p, pend < room ? pend : room);
        if (w == TSE_ERR_WOULD_BLOCK) {
            break; /* mbed TLS keeps the record; same data next time */
        }
        if (w < 0) {
            fail_ex(st, w, 0, tls_detail(st), 1);
            return;
        }
        tse_outbuf_consume(&st->tx, (size_t)w);
        moved = 1;
        if (st->s.dead_peer_ms != 0 && st->t_dead == TSE_TIME_NEVER) {
            st->t_dead = add_ms(st->now, st->s.dead_peer_ms);
        }
    }
    if (st->state == TSE_STREAM_CLOSING && !st->need_disconnect &&
        ob_used(&st->tx) == 0) {
        finish_close(st);
        return;
    }
    if (moved && st->send_refused && flowing(st)) {
        st->send_refused = 0;
        emit_simple(st, TSE_STREAM_EV_WRITABLE, NULL);
    }
}

/* ---- inbound ---------------------------------------------------------- */

/* Decrypt into the receive buffer while it has room; DATA when something
 * new arrived (not from inside tse_stream_recv()). */
static void read_records(tse_stream *st)
{
    int got = 0;
    /* bounded: each round fills the buffer or ends */
    for (int guard = 0; guard < 1024 && flowing(st); guard++) {
        uint8_t *p = NULL;
        size_t room = tse_outbuf_reserve(&st->rx, &p);
        int n;
        if (room == 0) {
            break; /* full: the rest waits (in mbed TLS or the driver) */
        }
        n = tse_tls_read(&st->tls, p, room);
        if (n == TSE_ERR_WOULD_BLOCK) {
            break;
        }
        if (n == TSE_ERR_TRANSPORT_CLOSED) {
            /* the peer's close_notify: a clean end; answer it */
            st->close_sent = 1;
            tse_tls_close_notify(&st->tls);
            fail_ex(st, TSE_ERR_STREAM_EOF, 0, NULL, 1);
            break;
        }
        if (n < 0) {
            fail_ex(st, n, 0, tls_detail(st), 1);
            break;
        }
        tse_outbuf_commit(&st->rx, (size_t)n);
        got = 1;
    }
    if (got && !st->in_recv) {
        emit_simple(st, TSE_STREAM_EV_DATA, NULL);
    }
}

static void tls_step(tse_stream *st)
{
    tse_stream_event ev;
    int rc = tse_tls_handshake(&st->tls);
    if (rc == TSE_ERR_WOULD_BLOCK) {
        return;
    }
    if (rc != TSE_OK) {
        fail_ex(st, rc, 0, tls_detail(st), 1); /* the alert tells the peer */
        return;
    }
    st->state = TSE_STREAM_UP;
    st->t_phase = TSE_TIME_NEVER;
    if (st->tls.cf->insecure) {
        emit_simple(st, TSE_STREAM_EV_WARNING,
                    TSE_TEXT("TLS certificate verification is OFF (lab-only insecure mode): "
                             "this stream is not authenticated"));
        if (st->state != TSE_STREAM_UP) {
            return;
        }
    }
    memset(&ev, 0, sizeof(ev));
    ev.type = TSE_STREAM_EV_UP;
    ev.via_proxy = st->s.proxy_host != NULL;
    ev.tls_version = tse_tls_version(&st->tls);
    ev.tls_suite = tse_tls_suite(&st->tls);
    emit(st, &ev);
    pump(st);
}

/* Ciphertext in: the handshake, then records.  Returns what TLS took
 * (less than @p len only when the receive buffer is full). */
static size_t tls_input(tse_stream *st, const uint8_t *data, size_t len)
{
    size_t left;
    st->feeding = 1;
    tse_tls_set_input(&st->tls, data, len);
    if (st->state == TSE_STREAM_TLS) {
        tls_step(st);
    }
    read_records(st);
    left = st->tls.in_len;
    tse_tls_set_input(&st->tls, NULL, 0);
    st->feeding = 0;
    /* after a failure the rest is of no use */
    return st->state == TSE_STREAM_DOWN ? len : len - left;
}

/* plain_tcp: bytes in go to the receive buffer as they are, as many as
 * fit (the rest stays with the driver: back-pressure).  Only the driver
 * feeds it (tse_stream_recv() has nothing to pull), so DATA is always
 * due when something came. */
static size_t plain_input(tse_stream *st, const uint8_t *data, size_t len)
{
    size_t n = tse_outbuf_append(&st->rx, data, len);
    if (n > 0) {
        emit_simple(st, TSE_STREAM_EV_DATA, NULL);
    }
    /* closed from the callback: the rest is of no use */
    return st->state == TSE_STREAM_DOWN ? len : n;
}

/* plain_tcp: the connection (and CONNECT) is all there is to set up. */
static void enter_plain_up(tse_stream *st)
{
    tse_stream_event ev;
    st->state = TSE_STREAM_UP;
    st->t_phase = TSE_TIME_NEVER;
    memset(&ev, 0, sizeof(ev));
    ev.type = TSE_STREAM_EV_UP;
    ev.via_proxy = st->s.proxy_host != NULL;
    emit(st, &ev);
    pump(st);
}

static void enter_connecting(tse_stream *st)
{
    st->conn = CONN_WANTED;
    st->t_phase = add_ms(st->now, st->s.connect_timeout_ms);
    st->state = TSE_STREAM_CONNECTING;
}

static void enter_tls(tse_stream *st)
{
    int rc = tse_tls_start(&st->tls);
    if (rc != TSE_OK) {
        fail(st, rc, NULL);
        return;
    }
    st->t_phase = add_ms(st->now, st->s.tls_timeout_ms);
    st->state = TSE_STREAM_TLS;
    tls_step(st);
}

static void send_proxy_request(tse_stream *st)
{
    uint8_t *p = NULL;
    size_t room = tse_outbuf_reserve(wire(st), &p);
    int n = tse_hc_request(&st->hc, p, room);
    if (n < 0) {
        fail(st, n, TSE_TEXT("cannot build the CONNECT request"));
        return;
    }
    tse_outbuf_commit(wire(st), (size_t)n);
}

/* The proxy's reply (lib/http_connect.h); returns the bytes consumed. */
static size_t proxy_input(tse_stream *st, const uint8_t *data, size_t len)
{
    size_t total = len;
    for (int guard = 0; guard < 16 && st->state == TSE_STREAM_PROXY; guard++) {
        size_t used = 0;
        int rc = tse_hc_feed(&st->hc, data, len, &used);
        data += used;
        len -= used;
        if (rc == TSE_HC_NEED_MORE) {
            return total - len;
        }
        if (rc == TSE_HC_ESTABLISHED) {
            /* bytes glued after the head are the server's (TLS records) */
            if (st->s.plain_tcp) {
                enter_plain_up(st);
                /* closed from the UP callback: the rest is of no use */
                len -= flowing(st) ? plain_input(st, data, len) : len;
                return total - len;
            }
            enter_tls(st);
            if (st->state == TSE_STREAM_TLS || flowing(st)) {
                len -= tls_input(st, data, len);
            }
            return total - len;
        }
        if (rc == TSE_HC_RESEND) {
            tse_hc_restart(&st->hc);
            send_proxy_request(st);
            st->t_phase = add_ms(st->now, st->s.proxy_timeout_ms);
            continue;
        }
        if (rc == TSE_HC_RECONNECT) {
            /* the proxy closes after its 407: answer on a new connection */
            st->need_disconnect = 1;
            st->linger = 0;
            tse_outbuf_clear(wire(st));
            enter_connecting(st);
            return total;
        }
        fail_ex(st, rc, tse_hc_status(&st->hc), tse_hc_reason(&st->hc), 0);
        return total;
    }
    return total - len;
}

/* ---- public API ------------------------------------------------------- */

void tse_stream_settings_default(tse_stream_settings *s)
{
    if (s == NULL) {
        return;
    }
    memset(s, 0, sizeof(*s));
    s->port = 443;
    s->proxy_port = 8080;
    s->user_agent = "libtse/" TSE_VERSION_STRING;
    s->connect_timeout_ms = 10000;
    s->proxy_timeout_ms = 10000;
    s->tls_timeout_ms = 15000;
    s->dead_peer_ms = 0;
    s->send_buf = 4096;
    s->recv_buf = 4096;
}

int tse_stream_settings_check(const tse_stream_settings *s)
{
    if (s == NULL || s->host == NULL) {
        return TSE_ERR_INVALID_ARG;
    }
    if (s->host[0] == '\0' || s->port == 0) {
        return TSE_ERR_SETTING_SERVER;
    }
    if ((s->proxy_host != NULL && (s->proxy_port == 0 || s->proxy_host[0] == '\0')) ||
        (s->proxy_user != NULL) != (s->proxy_pass != NULL) ||
        (!TSE_CONFIG_PROXY && s->proxy_host != NULL)) {
        return TSE_ERR_SETTING_PROXY;
    }
    if (s->tls_config != NULL &&
        (s->ca != NULL || s->client_cert != NULL || s->client_key != NULL ||
         s->tls_insecure_lab_only_skip_verify)) {
        return TSE_ERR_SETTING_TLS;
    }
    /* plain TCP with TLS material is a contradiction, not a preference:
     * refuse it rather than guess which one the caller meant */
    if (s->plain_tcp != 0 &&
        (s->plain_tcp != 1 || s->tls_config != NULL || s->ca != NULL ||
         s->pin_sha256 != NULL || s->client_cert != NULL || s->client_key != NULL ||
         s->tls_insecure_lab_only_skip_verify || s->sni != NULL)) {
        return TSE_ERR_SETTING_TLS;
    }
    if (s->send_buf < 256 || s->recv_buf < 256) {
        return TSE_ERR_SETTING_QUEUE;
    }
    return TSE_OK;
}

/* The one allocation: the struct, its own TLS configuration unless it
 * shares one, the ciphertext buffer, the send and receive buffers, the
 * strings. */
static size_t own_conf_size(const tse_stream_settings *s)
{
    return s->tls_config != NULL || s->plain_tcp ? 0 : align8(sizeof(tse_tls_conf));
}

/* The ciphertext buffer; with plain_tcp only the CONNECT request's, and
 * none without a proxy. */
static size_t wire_size(const tse_stream_settings *s)
{
    if (s->plain_tcp) {
        return s->proxy_host != NULL ? TSE_OUTER_BUF_SIZE : 0;
    }
    return TSE_OUTER_BUF_SIZE;
}

size_t tse_stream_footprint(const tse_stream_settings *s)
{
    if (s == NULL) {
        return 0;
    }
    return align8(sizeof(struct tse_stream)) + own_conf_size(s) +
           align8(wire_size(s)) + align8(s->send_buf) + align8(s->recv_buf) +
           str_size(s->host) + str_size(s->sni) + str_size(s->proxy_host) +
           str_size(s->proxy_user) + str_size(s->proxy_pass) +
           str_size(s->user_agent) + str_size(s->proxy_marker_header);
}

int tse_stream_new(tse_stream **out, const tse_stream_settings *s,
                   const tse_stream_callbacks *cb, const tse_mem *mem, void *user)
{
    tse_stream *st;
    uint8_t *area;
    char *strs;
    const char *sni;
    tse_tls_conf *cf;
    tse_hc_params hp;
    int rc;

    if (out == NULL || s == NULL || cb == NULL || mem == NULL || mem->calloc == NULL ||
        mem->free == NULL || cb->on_event == NULL || cb->entropy == NULL) {
        return TSE_ERR_INVALID_ARG;
    }
    *out = NULL;
    rc = tse_stream_settings_check(s);
    if (rc != TSE_OK) {
        return rc;
    }
    st = mem->calloc(mem->user, 1, tse_stream_footprint(s));
    if (st == NULL) {
        return TSE_ERR_NO_MEMORY;
    }
    st->s = *s;
    st->cb = *cb;
    st->mem = *mem;
    st->user = user;
    area = (uint8_t *)st + align8(sizeof(struct tse_stream));
    if (own_conf_size(s) != 0) {
        st->own_conf = (tse_tls_conf *)(void *)area;
        tse_tls_conf_init(st->own_conf);
    }
    area += own_conf_size(s);
    {
        uint8_t *outer = area;
        area += align8(wire_size(s));
        tse_outbuf_init(&st->tx, area, s->send_buf);
        area += align8(s->send_buf);
        tse_outbuf_init(&st->rx, area, s->recv_buf);
        area += align8(s->recv_buf);
        strs = (char *)area;
        st->s.host = str_copy(&strs, s->host);
        st->s.sni = str_copy(&strs, s->sni);
        st->s.proxy_host = str_copy(&strs, s->proxy_host);
        st->s.proxy_user = str_copy(&strs, s->proxy_user);
        st->s.proxy_pass = str_copy(&strs, s->proxy_pass);
        st->s.user_agent = str_copy(&strs, s->user_agent);
        st->s.proxy_marker_header = str_copy(&strs, s->proxy_marker_header);
        /* key material is parsed now and not kept */
        st->s.ca = NULL;
        st->s.pin_sha256 = NULL;
        st->s.client_cert = st->s.client_key = NULL;
        st->state = TSE_STREAM_IDLE;
        st->t_phase = st->t_dead = TSE_TIME_NEVER;

        /* SNI and the name verified: the host unless told otherwise; an
         * IP literal is matched against the IP SAN and not sent */
        sni = st->s.sni != NULL ? st->s.sni : st->s.host;
        if (s->plain_tcp) {
            /* no TLS: st->tls stays zero and is never used */
            tse_outbuf_init(&st->wire, outer, wire_size(s));
            goto plain;
        }
        tse_tls_init(&st->tls);
        if (s->tls_config != NULL) {
            cf = tse_tls_config_conf(s->tls_config);
        } else {
            tse_tls_conf_params cp;
            memset(&cp, 0, sizeof(cp));
            cp.ca = s->ca;
            cp.ca_len = s->ca_len;
            cp.client_cert = s->client_cert;
            cp.client_cert_len = s->client_cert_len;
            cp.client_key = s->client_key;
            cp.client_key_len = s->client_key_len;
            cp.insecure = s->tls_insecure_lab_only_skip_verify;
            cp.entropy = cb->entropy;
            cp.entropy_user = user;
            cf = st->own_conf;
            rc = tse_tls_conf_setup(cf, &cp);
        }
        if (rc == TSE_OK) {
            rc = tse_tls_setup(&st->tls, cf, sni, s->pin_sha256, outer, TSE_OUTER_BUF_SIZE);
        }
    }
    if (rc != TSE_OK) {
        tse_tls_free(&st->tls);
        if (st->own_conf != NULL) {
            tse_tls_conf_free(st->own_conf);
        }
        mem->free(mem->user, st);
        return rc;
    }

plain:
    memset(&hp, 0, sizeof(hp));
    hp.target_host = st->s.host;
    hp.target_port = st->s.port;
    hp.user_agent = st->s.user_agent;
    hp.marker_header = st->s.proxy_marker_header;
    hp.user = st->s.proxy_user;
    hp.pass = st->s.proxy_pass;
    hp.entropy = cb->entropy;
    hp.entropy_user = user;
    tse_hc_init(&st->hc, &hp);

    *out = st;
    return TSE_OK;
}

void tse_stream_del(tse_stream *st)
{
    tse_mem mem;
    if (st == NULL) {
        return;
    }
    mem = st->mem;
    if (!st->s.plain_tcp) {
        tse_tls_free(&st->tls);
    }
    if (st->own_conf != NULL) {
        tse_tls_conf_free(st->own_conf);
    }
    if (st->s.proxy_pass != NULL) {
        /* the password lives inside the allocation: do not leave it */
        memset((char *)(uintptr_t)st->s.proxy_pass, 0, strlen(st->s.proxy_pass));
    }
    /* nor the plaintext */
    memset(st->tx.buf, 0, st->tx.cap);
    memset(st->rx.buf, 0, st->rx.cap);
    mem.free(mem.user, st);
}

int tse_stream_start(tse_stream *st, tse_time_ms now)
{
    if (st == NULL) {
        return TSE_ERR_INVALID_ARG;
    }
    if (st->state != TSE_STREAM_IDLE) {
        return TSE_ERR_STATE;
    }
    st->now = now;
    enter_connecting(st);
    return TSE_OK;
}

unsigned tse_stream_want(const tse_stream *st)
{
    unsigned w = 0;
    if (st == NULL) {
        return 0;
    }
    if (st->need_disconnect) {
        if (st->linger && out_pending(st, NULL) > 0) {
            return TSE_WANT_WRITE;
        }
        return TSE_WANT_DISCONNECT;
    }
    if (st->state == TSE_STREAM_CONNECTING && st->conn == CONN_WANTED) {
        return TSE_WANT_CONNECT;
    }
    if (st->conn == CONN_OPEN && st->state != TSE_STREAM_DOWN) {
        if (ob_free(&st->rx) > 0) {
            w |= TSE_WANT_READ;
        }
        if (out_pending(st, NULL) > 0) {
            w |= TSE_WANT_WRITE;
        }
    }
    return w;
}

int tse_stream_connect_target(tse_stream *st, const char **host, uint16_t *port)
{
    if (st == NULL || host == NULL || port == NULL) {
        return TSE_ERR_INVALID_ARG;
    }
    if (st->state != TSE_STREAM_CONNECTING || st->conn != CONN_WANTED ||
        st->need_disconnect) {
        return TSE_ERR_STATE;
    }
    if (st->s.proxy_host != NULL) {
        *host = st->s.proxy_host;
        *port = st->s.proxy_port;
    } else {
        *host = st->s.host;
        *port = st->s.port;
    }
    st->conn = CONN_STARTED;
    return TSE_OK;
}

int tse_stream_transport_connected(tse_stream *st, tse_time_ms now)
{
    if (st == NULL) {
        return TSE_ERR_INVALID_ARG;
    }
    st->now = now;
    if (st->state != TSE_STREAM_CONNECTING || st->conn != CONN_STARTED) {
        return TSE_ERR_STATE;
    }
    st->conn = CONN_OPEN;
    tse_outbuf_clear(wire(st));
    if (st->s.proxy_host != NULL) {
        st->t_phase = add_ms(now, st->s.proxy_timeout_ms);
        st->state = TSE_STREAM_PROXY;
        tse_hc_restart(&st->hc);
        send_proxy_request(st);
    } else if (st->s.plain_tcp) {
        enter_plain_up(st);
    } else {
        enter_tls(st);
    }
    return TSE_OK;
}

int tse_stream_transport_closed(tse_stream *st, int err, tse_time_ms now)
{
    int was;
    if (st == NULL || err > 0) {
        return TSE_ERR_INVALID_ARG;
    }
    st->now = now;
    was = st->conn;
    st->conn = CONN_NONE;
    if (st->need_disconnect) {
        /* the driver acknowledges the close we asked for */
        st->need_disconnect = 0;
        st->linger = 0;
        if (st->state == TSE_STREAM_CONNECTING) {
            st->conn = CONN_WANTED; /* a proxy that closed after its 407 */
        }
        return TSE_OK;
    }
    if (was == CONN_NONE || st->state == TSE_STREAM_DOWN) {
        return TSE_OK;
    }
    if (err == 0) {
        err = TSE_ERR_TRANSPORT_CLOSED;
    }
    switch (st->state) {
    case TSE_STREAM_PROXY: {
        int rc = tse_hc_on_close(&st->hc);
        if (rc == TSE_HC_RECONNECT) {
            tse_outbuf_clear(wire(st));
            enter_connecting(st);
            return TSE_OK;
        }
        fail_ex(st, err == TSE_ERR_TRANSPORT_CLOSED ? rc : err, tse_hc_status(&st->hc),
                TSE_TEXT("the proxy closed the connection"), 0);
        return TSE_OK;
    }
    case TSE_STREAM_UP:
    case TSE_STREAM_CLOSING:
        if (st->s.plain_tcp && err == TSE_ERR_TRANSPORT_CLOSED) {
            fail(st, TSE_ERR_STREAM_EOF, NULL); /* TCP's FIN is the clean end */
            return TSE_OK;
        }
        fail(st, err, err == TSE_ERR_TRANSPORT_CLOSED
                          ? TSE_TEXT("TCP closed without TLS close_notify: "
                                     "what the peer sent last may be missing")
                          : NULL);
        return TSE_OK;
    default:
        fail(st, err, NULL);
        return TSE_OK;
    }
}

int tse_stream_recv_outer(tse_stream *st, const uint8_t *data, size_t len, tse_time_ms now)
{
    size_t used = len;
    if (st == NULL || (data == NULL && len > 0) || len > INT32_MAX) {
        return TSE_ERR_INVALID_ARG;
    }
    st->now = now;
    if (st->conn != CONN_OPEN || st->need_disconnect || len == 0) {
        return (int)len; /* late bytes of a connection being closed */
    }
    st->t_dead = TSE_TIME_NEVER; /* a sign of life */
    if (st->state == TSE_STREAM_PROXY) {
        used = proxy_input(st, data, len);
    } else if (st->s.plain_tcp) {
        /* an open connection, not closing, past the proxy: UP or CLOSING */
        used = plain_input(st, data, len);
    } else if (st->state == TSE_STREAM_TLS || flowing(st)) {
        used = tls_input(st, data, len);
    }
    if (st->state == TSE_STREAM_DOWN && st->last_error != TSE_ERR_STREAM_EOF &&
        st->last_error != TSE_ERR_CLOSED) {
        return st->last_error;
    }
    return (int)used;
}

size_t tse_stream_outer_pending(const tse_stream *st, const uint8_t **data)
{
    if (st == NULL || data == NULL) {
        return 0;
    }
    return out_pending(st, data);
}

void tse_stream_outer_consume(tse_stream *st, size_t n, tse_time_ms now)
{
    if (st == NULL) {
        return;
    }
    st->now = now;
    if (st->s.plain_tcp) {
        const uint8_t *p = NULL;
        if (tse_outbuf_pending(&st->wire, &p) > 0) {
            tse_outbuf_consume(&st->wire, n);
        } else if (flowing(st)) {
            size_t have = tse_outbuf_pending(&st->tx, &p);
            n = n < have ? n : have;
            tse_outbuf_consume(&st->tx, n);
            pump_plain(st, n);
        }
        return;
    }
    tse_tls_consume(&st->tls, n);
    if (st->conn == CONN_OPEN && !st->need_disconnect && st->state == TSE_STREAM_TLS) {
        tls_step(st); /* the handshake may have waited for room */
    }
    pump(st);
}

tse_time_ms tse_stream_expiry(const tse_stream *st)
{
    if (st == NULL) {
        return TSE_TIME_NEVER;
    }
    if (st->need_disconnect) {
        return st->linger ? st->t_phase : TSE_TIME_NEVER;
    }
    switch (st->state) {
    case TSE_STREAM_CONNECTING:
    case TSE_STREAM_PROXY:
    case TSE_STREAM_TLS:
        return st->t_phase;
    case TSE_STREAM_UP:
        return st->t_dead;
    case TSE_STREAM_CLOSING:
        return st->t_phase < st->t_dead ? st->t_phase : st->t_dead;
    default:
        return TSE_TIME_NEVER;
    }
}

int tse_stream_handle_expiry(tse_stream *st, tse_time_ms now)
{
    if (st == NULL) {
        return TSE_ERR_INVALID_ARG;
    }
    st->now = now;
    if (st->need_disconnect) {
        if (st->linger && now >= st->t_phase) {
            st->linger = 0; /* the peer does not read: close anyway */
        }
        return TSE_OK;
    }
    switch (st->state) {
    case TSE_STREAM_CONNECTING:
        if (now >= st->t_phase) {
            fail(st, TSE_ERR_TRANSPORT_TIMEOUT, TSE_TEXT("TCP connect timed out"));
        }
        break;
    case TSE_STREAM_PROXY:
        if (now >= st->t_phase) {
            fail(st, TSE_ERR_PROXY_TIMEOUT, TSE_TEXT("no complete CONNECT reply in time"));
        }
        break;
    case TSE_STREAM_TLS:
        if (now >= st->t_phase) {
            fail(st, TSE_ERR_TLS_TIMEOUT, TSE_TEXT("TLS handshake did not finish in time"));
        }
        break;
    case TSE_STREAM_UP:
    case TSE_STREAM_CLOSING:
        if (now >= st->t_dead) {
            fail(st, TSE_ERR_STREAM_DEAD_PEER,
                 TSE_TEXT("nothing received from the peer within dead_peer_ms of sending"));
        } else if (st->state == TSE_STREAM_CLOSING && now >= st->t_phase) {
            /* what was queued could not be sent in time: close anyway */
            fail(st, TSE_ERR_CLOSED, TSE_TEXT("closed before everything queued was sent"));
        }
        break;
    default:
        break;
    }
    return TSE_OK;
}

int tse_stream_send(tse_stream *st, const uint8_t *data, size_t len, tse_time_ms now)
{
    if (st == NULL || (data == NULL && len > 0)) {
        return TSE_ERR_INVALID_ARG;
    }
    st->now = now;
    if (st->state == TSE_STREAM_IDLE || st->state == TSE_STREAM_CLOSING ||
        st->state == TSE_STREAM_DOWN) {
        return TSE_ERR_STATE;
    }
    if (len > st->tx.cap) {
        return TSE_ERR_BUFFER_TOO_SMALL;
    }
    if (len > ob_free(&st->tx)) {
        st->send_refused = 1;
        return TSE_ERR_QUEUE_FULL;
    }
    if (len == 0) {
        return TSE_OK;
    }
    (void)tse_outbuf_append(&st->tx, data, len); /* fits: checked above */
    pump(st);
    return TSE_OK;
}

size_t tse_stream_send_space(const tse_stream *st)
{
    if (st == NULL || st->state == TSE_STREAM_IDLE || st->state == TSE_STREAM_CLOSING ||
        st->state == TSE_STREAM_DOWN) {
        return 0;
    }
    return ob_free(&st->tx);
}

int tse_stream_recv(tse_stream *st, uint8_t *buf, size_t cap, tse_time_ms now)
{
    const uint8_t *p = NULL;
    size_t n;
    if (st == NULL || buf == NULL || cap == 0) {
        return TSE_ERR_INVALID_ARG;
    }
    st->now = now;
    n = tse_outbuf_pending(&st->rx, &p);
    if (n == 0) {
        return st->state == TSE_STREAM_DOWN ? st->last_error : TSE_ERR_WOULD_BLOCK;
    }
    if (n > cap) {
        n = cap;
    }
    if (n > INT32_MAX) {
        n = INT32_MAX;
    }
    memcpy(buf, p, n);
    tse_outbuf_consume(&st->rx, n);
    /* plaintext mbed TLS still holds (the buffer was full); from a DATA
     * callback inside tls_input() its own loop goes on reading */
    if (!st->feeding && !st->in_recv && !st->s.plain_tcp) {
        st->in_recv = 1;
        read_records(st);
        st->in_recv = 0;
    }
    return (int)n;
}

size_t tse_stream_readable(const tse_stream *st)
{
    return st != NULL ? ob_used(&st->rx) : 0;
}

int tse_stream_close(tse_stream *st, tse_time_ms now)
{
    if (st == NULL) {
        return TSE_ERR_INVALID_ARG;
    }
    st->now = now;
    switch (st->state) {
    case TSE_STREAM_DOWN:
    case TSE_STREAM_CLOSING:
        return TSE_OK;
    case TSE_STREAM_UP:
        st->state = TSE_STREAM_CLOSING;
        st->t_phase = add_ms(now, st->s.tls_timeout_ms);
        pump(st);
        return TSE_OK;
    default:
        fail(st, TSE_ERR_CLOSED, NULL);
        return TSE_OK;
    }
}

tse_stream_state tse_stream_get_state(const tse_stream *st)
{
    return st != NULL ? st->state : TSE_STREAM_DOWN;
}

int tse_stream_last_error(const tse_stream *st)
{
    return st != NULL ? st->last_error : TSE_ERR_INVALID_ARG;
}

const char *tse_stream_state_name(tse_stream_state s)
{
#if TSE_CONFIG_STRINGS
    switch (s) {
    case TSE_STREAM_IDLE: return "IDLE";
    case TSE_STREAM_CONNECTING: return "CONNECTING";
    case TSE_STREAM_PROXY: return "PROXY";
    case TSE_STREAM_TLS: return "TLS";
    case TSE_STREAM_UP: return "UP";
    case TSE_STREAM_CLOSING: return "CLOSING";
    case TSE_STREAM_DOWN: return "DOWN";
    default: return "?";
    }
#else
    (void)s;
    return "";
#endif
}

#else
/* ISO C wants a translation unit to declare something */
typedef int tse_stream_unused;
#endif /* TSE_CONFIG_STREAM */
