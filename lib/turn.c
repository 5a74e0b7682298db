/* The TURN client (RFC 8656) with TCP allocations (RFC 6062): requests,
 * long-term credentials, retransmission and refresh timers, Send/Data
 * indications and ChannelData, over datagrams or a byte stream.  Sans-I/O:
 * see include/tse/turn.h. */
#include "tse/config.h"
#include "tse/turn.h"

#if TSE_CONFIG_TURN /* the whole file */

#include <string.h>

#include "byteorder.h"
#include "stun.h"

#define NO_LIFETIME 0xFFFFFFFFu
#define PERM_REFRESH_MS (240u * 1000u)  /* permissions last 300 s (RFC 8656 9) */
#define CHAN_REFRESH_MS (540u * 1000u)  /* channels last 600 s (RFC 8656 12) */
#define RM 16u                          /* RFC 8489 6.2.1 */
#define MSG_MAX_OVERHEAD 64u            /* Send indication around its DATA */
#define RETRY_MS 5000u                  /* a failed refresh is tried again */

static void to_stun(const tse_turn_addr *a, tse_stun_addr *o)
{
    memset(o, 0, sizeof *o);
    o->family = a->family;
    o->port = a->port;
    memcpy(o->addr, a->addr, a->family == 6 ? 16 : 4);
}

static void from_stun(const tse_stun_addr *a, tse_turn_addr *o)
{
    memset(o, 0, sizeof *o);
    o->family = a->family;
    o->port = a->port;
    memcpy(o->addr, a->addr, a->family == 6 ? 16 : 4);
}

static int addr_ok(const tse_turn_addr *a)
{
    return a && (a->family == 4 || a->family == 6);
}

static int same_ip(const tse_turn_addr *a, const tse_turn_addr *b)
{
    return a->family == b->family && memcmp(a->addr, b->addr, a->family == 6 ? 16 : 4) == 0;
}

static int same_addr(const tse_turn_addr *a, const tse_turn_addr *b)
{
    return same_ip(a, b) && a->port == b->port;
}

static void emit(tse_turn *c, tse_turn_event *ev)
{
    if (c->s.on_event)
        c->s.on_event(c->s.user, ev);
}

/* ------------------------------------------------------------------ */
/* Output queue: datagrams carry a 2-byte length in front (ours only)  */

static int dgram(const tse_turn *c)
{
    return c->s.transport == TSE_TURN_DATAGRAM;
}

/* Room for @p n bytes of message at the tail (compacting first); NULL if
 * the queue cannot take it now. */
static uint8_t *q_reserve(tse_turn *c, size_t n)
{
    size_t need = n + (dgram(c) ? 2u : 0u);
    if (c->tx_cap - c->tx_tail < need && c->tx_head > 0) {
        memmove(c->tx, c->tx + c->tx_head, c->tx_tail - c->tx_head);
        c->tx_tail -= c->tx_head;
        c->tx_head = 0;
    }
    if (c->tx_cap - c->tx_tail < need)
        return NULL;
    return c->tx + c->tx_tail + (dgram(c) ? 2u : 0u);
}

/* Free space for a message being written at the tail. */
static size_t q_room(tse_turn *c)
{
    if (c->tx_head > 0) {
        memmove(c->tx, c->tx + c->tx_head, c->tx_tail - c->tx_head);
        c->tx_tail -= c->tx_head;
        c->tx_head = 0;
    }
    return c->tx_cap - c->tx_tail > 2 ? c->tx_cap - c->tx_tail - (dgram(c) ? 2u : 0u) : 0;
}

static void q_commit(tse_turn *c, size_t n)
{
    if (dgram(c)) {
        tse_be16_put(c->tx + c->tx_tail, (uint16_t)n);
        c->tx_tail += 2;
    }
    c->tx_tail += n;
}

size_t tse_turn_pending(const tse_turn *c, const uint8_t **out)
{
    if (out)
        *out = NULL;
    if (!c || !out || c->tx_head == c->tx_tail)
        return 0;
    if (dgram(c)) {
        *out = c->tx + c->tx_head + 2;
        return tse_be16_get(c->tx + c->tx_head);
    }
    *out = c->tx + c->tx_head;
    return c->tx_tail - c->tx_head;
}

void tse_turn_consume(tse_turn *c, size_t n)
{
    if (!c || c->tx_head == c->tx_tail)
        return;
    if (dgram(c)) {
        c->tx_head += 2u + tse_be16_get(c->tx + c->tx_head);
    } else {
        if (n > c->tx_tail - c->tx_head)
            n = c->tx_tail - c->tx_head;
        c->tx_head += n;
    }
    if (c->tx_head == c->tx_tail)
        c->tx_head = c->tx_tail = 0;
}

/* ------------------------------------------------------------------ */
/* Setup                                                               */

void tse_turn_settings_default(tse_turn_settings *s)
{
    if (!s)
        return;
    memset(s, 0, sizeof *s);
    s->transport = TSE_TURN_DATAGRAM;
    s->relay_protocol = TSE_TURN_RELAY_UDP;
    s->rto_ms = 500;
    s->max_tx = 7;
    s->stream_timeout_ms = 39500;
    s->fingerprint = 1;
}

static size_t bounded_len(const char *s, size_t max)
{
    size_t n = 0;
    while (n <= max && s[n])
        n++;
    return n;
}

int tse_turn_init(tse_turn *c, const tse_turn_settings *s, uint8_t *tx, size_t tx_cap,
                  uint8_t *rx, size_t rx_cap)
{
    size_t ul, pl;
    if (!c)
        return TSE_ERR_INVALID_ARG;
    memset(c, 0, sizeof *c);
    if (!s || !tx || tx_cap < 1024 || tx_cap > 0x7FFFFFFFu || !s->entropy ||
        !s->username || !s->password)
        return TSE_ERR_INVALID_ARG;
    if (s->transport != TSE_TURN_DATAGRAM && s->transport != TSE_TURN_STREAM)
        return TSE_ERR_INVALID_ARG;
    if (s->transport == TSE_TURN_STREAM && (!rx || rx_cap < 64))
        return TSE_ERR_INVALID_ARG;
    if (s->relay_protocol != TSE_TURN_RELAY_UDP && s->relay_protocol != TSE_TURN_RELAY_TCP)
        return TSE_ERR_INVALID_ARG;
    /* RFC 6062 4.1: a TCP allocation is requested over TCP or TLS */
    if (s->relay_protocol == TSE_TURN_RELAY_TCP && s->transport != TSE_TURN_STREAM)
        return TSE_ERR_INVALID_ARG;
    if (s->transport == TSE_TURN_DATAGRAM && (s->rto_ms == 0 || s->max_tx == 0))
        return TSE_ERR_INVALID_ARG;
    if (s->transport == TSE_TURN_STREAM && s->stream_timeout_ms == 0)
        return TSE_ERR_INVALID_ARG;
    ul = bounded_len(s->username, TSE_TURN_CRED_MAX);
    pl = bounded_len(s->password, TSE_TURN_CRED_MAX);
    if (ul == 0 || ul > TSE_TURN_CRED_MAX || pl > TSE_TURN_CRED_MAX)
        return TSE_ERR_INVALID_ARG;
    c->s = *s;
    memcpy(c->user, s->username, ul);
    memcpy(c->pass, s->password, pl);
    c->s.username = c->user;
    c->s.password = c->pass;
    c->tx = tx;
    c->tx_cap = tx_cap;
    c->rx = s->transport == TSE_TURN_STREAM ? rx : NULL;
    c->rx_cap = s->transport == TSE_TURN_STREAM ? rx_cap : 0;
    c->state = TSE_TURN_IDLE;
    return TSE_OK;
}

/* ------------------------------------------------------------------ */
/* Requests                                                            */

static void fail(tse_turn *c, int err)
{
    c->state = TSE_TURN_FAILED;
    if (!c->error)
        c->error = err;
}

/* Encode transaction @p t into the output queue. */
static int encode_request(tse_turn *c, const tse_turn_txn_ *t)
{
    tse_stun_writer w;
    tse_stun_addr a;
    size_t room = q_room(c), n;
    int rc;
    if (room < TSE_STUN_HEADER_LEN)
        return TSE_ERR_QUEUE_FULL;
    tse_stun_writer_init(&w, c->tx + c->tx_tail + (dgram(c) ? 2u : 0u), room,
                         tse_stun_type(t->method, TSE_STUN_CLASS_REQUEST), t->txid);
    switch (t->method) {
    case TSE_STUN_METHOD_ALLOCATE: {
        uint8_t rt[4] = {0, 0, 0, 0};
        rt[0] = c->s.relay_protocol;
        tse_stun_put_attr(&w, TSE_STUN_ATTR_REQUESTED_TRANSPORT, rt, 4);
        if (t->lifetime != NO_LIFETIME)
            tse_stun_put_u32(&w, TSE_STUN_ATTR_LIFETIME, t->lifetime);
        break;
    }
    case TSE_STUN_METHOD_REFRESH:
        if (t->lifetime != NO_LIFETIME)
            tse_stun_put_u32(&w, TSE_STUN_ATTR_LIFETIME, t->lifetime);
        break;
    case TSE_STUN_METHOD_CREATE_PERMISSION:
    case TSE_STUN_METHOD_CONNECT:
        to_stun(&t->peer, &a);
        tse_stun_put_xor_addr(&w, TSE_STUN_ATTR_XOR_PEER_ADDRESS, &a);
        break;
    case TSE_STUN_METHOD_CHANNEL_BIND: {
        uint8_t cn[4] = {0, 0, 0, 0};
        tse_be16_put(cn, t->channel);
        tse_stun_put_attr(&w, TSE_STUN_ATTR_CHANNEL_NUMBER, cn, 4);
        to_stun(&t->peer, &a);
        tse_stun_put_xor_addr(&w, TSE_STUN_ATTR_XOR_PEER_ADDRESS, &a);
        break;
    }
    default:
        return TSE_ERR_INVALID_ARG;
    }
    if (t->authed) {
        /* RFC 8489 9.2.4: USERNAME, REALM, NONCE, then MESSAGE-INTEGRITY */
        tse_stun_put_attr(&w, TSE_STUN_ATTR_USERNAME, c->user, strlen(c->user));
        tse_stun_put_attr(&w, TSE_STUN_ATTR_REALM, c->realm, c->realm_len);
        tse_stun_put_attr(&w, TSE_STUN_ATTR_NONCE, c->nonce, c->nonce_len);
        tse_stun_put_integrity(&w, c->key, sizeof c->key);
    }
    if (c->s.fingerprint)
        tse_stun_put_fingerprint(&w);
    rc = tse_stun_writer_finish(&w, &n);
    if (rc == TSE_ERR_BUFFER_TOO_SMALL)
        return TSE_ERR_QUEUE_FULL;
    if (rc != TSE_OK)
        return rc;
    q_commit(c, n);
    c->stats.tx_msgs++;
    return TSE_OK;
}

static void arm(tse_turn *c, tse_turn_txn_ *t, tse_time_ms now)
{
    t->sends = 1;
    if (dgram(c)) {
        t->rto = c->s.rto_ms;
        if (c->s.max_tx > 1) {
            t->next_tx = now + t->rto;
            t->deadline = TSE_TIME_NEVER;
        } else {
            t->next_tx = TSE_TIME_NEVER;
            t->deadline = now + (tse_time_ms)RM * t->rto;
        }
    } else {
        t->next_tx = TSE_TIME_NEVER;
        t->deadline = now + c->s.stream_timeout_ms;
    }
}

/* Start a transaction: a fresh transaction ID, credentials when we have
 * a key, first transmission queued. */
static int start_txn(tse_turn *c, uint16_t method, const tse_turn_addr *peer,
                     uint16_t channel, uint32_t lifetime, int stale, tse_time_ms now,
                     tse_turn_txn_ **out)
{
    tse_turn_txn_ *t = NULL;
    size_t i;
    int rc;
    for (i = 0; i < TSE_TURN_MAX_TRANSACTIONS; i++) {
        if (!c->txn[i].used) {
            t = &c->txn[i];
            break;
        }
    }
    if (!t)
        return TSE_ERR_TURN_TABLE_FULL;
    memset(t, 0, sizeof *t);
    t->method = method;
    if (peer)
        t->peer = *peer;
    t->channel = channel;
    t->lifetime = lifetime;
    t->stale = stale;
    t->authed = c->have_key;
    if (c->s.entropy(c->s.user, t->txid, sizeof t->txid) != 0)
        return TSE_ERR_DETECT_ENTROPY;
    rc = encode_request(c, t);
    if (rc != TSE_OK)
        return rc;
    t->used = 1;
    arm(c, t, now);
    if (out)
        *out = t;
    return TSE_OK;
}

static uint32_t alloc_lifetime(const tse_turn *c)
{
    return c->s.lifetime_s ? c->s.lifetime_s : NO_LIFETIME;
}

int tse_turn_allocate(tse_turn *c, tse_time_ms now)
{
    int rc;
    if (!c)
        return TSE_ERR_INVALID_ARG;
    if (c->state != TSE_TURN_IDLE)
        return TSE_ERR_STATE;
    rc = start_txn(c, TSE_STUN_METHOD_ALLOCATE, NULL, 0, alloc_lifetime(c), 0, now, NULL);
    if (rc == TSE_OK)
        c->state = TSE_TURN_ALLOCATING;
    return rc;
}

static int allocated(const tse_turn *c)
{
    return c->state == TSE_TURN_ALLOCATED;
}

static tse_turn_perm_ *find_perm(tse_turn *c, const tse_turn_addr *peer)
{
    size_t i;
    for (i = 0; i < TSE_TURN_MAX_PERMISSIONS; i++)
        if (c->perm[i].used && same_ip(&c->perm[i].peer, peer))
            return &c->perm[i];
    return NULL;
}

static tse_turn_chan_ *find_chan_peer(tse_turn *c, const tse_turn_addr *peer)
{
    size_t i;
    for (i = 0; i < TSE_TURN_MAX_CHANNELS; i++)
        if (c->chan[i].used && same_addr(&c->chan[i].peer, peer))
            return &c->chan[i];
    return NULL;
}

static tse_turn_chan_ *find_chan_number(tse_turn *c, uint16_t number)
{
    size_t i;
    for (i = 0; i < TSE_TURN_MAX_CHANNELS; i++)
        if (c->chan[i].used && c->chan[i].number == number)
            return &c->chan[i];
    return NULL;
}

static int send_permission(tse_turn *c, tse_turn_perm_ *p, tse_time_ms now)
{
    int rc = start_txn(c, TSE_STUN_METHOD_CREATE_PERMISSION, &p->peer, 0, NO_LIFETIME, 0,
                       now, NULL);
    if (rc == TSE_OK)
        p->pending = 1;
    return rc;
}

int tse_turn_create_permission(tse_turn *c, const tse_turn_addr *peer, tse_time_ms now)
{
    tse_turn_perm_ *p;
    size_t i;
    int rc;
    if (!c || !addr_ok(peer))
        return TSE_ERR_INVALID_ARG;
    if (!allocated(c))
        return TSE_ERR_TURN_NOT_ALLOCATED;
    p = find_perm(c, peer);
    if (p)
        return TSE_OK;
    for (i = 0; i < TSE_TURN_MAX_PERMISSIONS && !p; i++)
        if (!c->perm[i].used)
            p = &c->perm[i];
    if (!p)
        return TSE_ERR_TURN_TABLE_FULL;
    memset(p, 0, sizeof *p);
    p->peer = *peer; /* the port goes out as given; the server ignores it (RFC 8656 9.1) */
    p->refresh_at = TSE_TIME_NEVER;
    rc = send_permission(c, p, now);
    if (rc == TSE_OK)
        p->used = 1;
    return rc;
}

static int send_bind(tse_turn *c, tse_turn_chan_ *ch, tse_time_ms now)
{
    int rc = start_txn(c, TSE_STUN_METHOD_CHANNEL_BIND, &ch->peer, ch->number, NO_LIFETIME,
                       0, now, NULL);
    if (rc == TSE_OK)
        ch->pending = 1;
    return rc;
}

int tse_turn_bind_channel(tse_turn *c, const tse_turn_addr *peer, tse_time_ms now)
{
    tse_turn_chan_ *ch;
    size_t i;
    int rc;
    if (!c || !addr_ok(peer))
        return TSE_ERR_INVALID_ARG;
    if (c->s.relay_protocol == TSE_TURN_RELAY_TCP)
        return TSE_ERR_STATE;
    if (!allocated(c))
        return TSE_ERR_TURN_NOT_ALLOCATED;
    if (find_chan_peer(c, peer))
        return TSE_OK;
    for (i = 0, ch = NULL; i < TSE_TURN_MAX_CHANNELS && !ch; i++)
        if (!c->chan[i].used)
            ch = &c->chan[i];
    if (!ch)
        return TSE_ERR_TURN_TABLE_FULL;
    memset(ch, 0, sizeof *ch);
    ch->peer = *peer;
    ch->number = (uint16_t)(TSE_TURN_CHANNEL_MIN + (size_t)(ch - c->chan));
    ch->refresh_at = TSE_TIME_NEVER;
    rc = send_bind(c, ch, now);
    if (rc == TSE_OK)
        ch->used = 1;
    return rc;
}

int tse_turn_connect(tse_turn *c, const tse_turn_addr *peer, tse_time_ms now)
{
    if (!c || !addr_ok(peer))
        return TSE_ERR_INVALID_ARG;
    if (c->s.relay_protocol != TSE_TURN_RELAY_TCP)
        return TSE_ERR_STATE;
    if (!allocated(c))
        return TSE_ERR_TURN_NOT_ALLOCATED;
    return start_txn(c, TSE_STUN_METHOD_CONNECT, peer, 0, NO_LIFETIME, 0, now, NULL);
}

int tse_turn_refresh(tse_turn *c, tse_time_ms now)
{
    int rc;
    if (!c)
        return TSE_ERR_INVALID_ARG;
    if (!allocated(c))
        return TSE_ERR_TURN_NOT_ALLOCATED;
    if (c->refresh_pending)
        return TSE_OK;
    rc = start_txn(c, TSE_STUN_METHOD_REFRESH, NULL, 0, alloc_lifetime(c), 0, now, NULL);
    if (rc == TSE_OK)
        c->refresh_pending = 1;
    return rc;
}

int tse_turn_close(tse_turn *c, tse_time_ms now)
{
    size_t i;
    int rc;
    if (!c)
        return TSE_ERR_INVALID_ARG;
    if (c->state != TSE_TURN_ALLOCATED)
        return TSE_ERR_STATE;
    /* pending refreshes and binds no longer matter */
    for (i = 0; i < TSE_TURN_MAX_TRANSACTIONS; i++)
        c->txn[i].used = 0;
    rc = start_txn(c, TSE_STUN_METHOD_REFRESH, NULL, 0, 0, 0, now, NULL);
    if (rc == TSE_OK)
        c->state = TSE_TURN_CLOSING;
    return rc;
}

int tse_turn_channel_data(uint16_t channel, const uint8_t *data, size_t len, int pad,
                          uint8_t *out, size_t cap, size_t *out_len)
{
    size_t total = 4 + len;
    if (!out || !out_len || (!data && len))
        return TSE_ERR_INVALID_ARG;
    *out_len = 0;
    if (channel < TSE_TURN_CHANNEL_MIN || channel > TSE_TURN_CHANNEL_MAX || len > 0xFFFFu)
        return TSE_ERR_INVALID_ARG;
    if (pad)
        total = (total + 3u) & ~(size_t)3u;
    if (cap < total)
        return TSE_ERR_BUFFER_TOO_SMALL;
    tse_be16_put(out, channel);
    tse_be16_put(out + 2, (uint16_t)len);
    if (len)
        memcpy(out + 4, data, len);
    memset(out + 4 + len, 0, total - 4 - len);
    *out_len = total;
    return TSE_OK;
}

int tse_turn_send(tse_turn *c, const tse_turn_addr *peer, const uint8_t *data,
                  size_t len, tse_time_ms now)
{
    tse_turn_chan_ *ch;
    (void)now;
    if (!c || !addr_ok(peer) || (!data && len))
        return TSE_ERR_INVALID_ARG;
    if (c->s.relay_protocol == TSE_TURN_RELAY_TCP)
        return TSE_ERR_STATE;
    if (!allocated(c))
        return TSE_ERR_TURN_NOT_ALLOCATED;
    if (len > 0xFFFFu - MSG_MAX_OVERHEAD)
        return TSE_ERR_INVALID_ARG;
    ch = find_chan_peer(c, peer);
    if (ch && ch->bound) {
        size_t total = (4 + len + 3u) & ~(size_t)3u, n;
        uint8_t *o = q_reserve(c, total);
        if (!o)
            return TSE_ERR_QUEUE_FULL;
        /* RFC 8656 12.5: padded over streams, not over UDP */
        (void)tse_turn_channel_data(ch->number, data, len, !dgram(c), o, total, &n);
        q_commit(c, n);
        c->stats.tx_channel_data++;
        return TSE_OK;
    }
    if (!find_perm(c, peer) && !ch)
        return TSE_ERR_TURN_NO_PERMISSION;
    {
        /* RFC 8656 10.1: Send indication, XOR-PEER-ADDRESS and DATA; an
         * indication carries no credentials. */
        uint8_t txid[TSE_STUN_TXID_LEN];
        tse_stun_writer w;
        tse_stun_addr a;
        size_t need = 20 + 24 + 4 + ((len + 3u) & ~(size_t)3u) + 8, n;
        uint8_t *o = q_reserve(c, need);
        int rc;
        if (!o)
            return TSE_ERR_QUEUE_FULL;
        if (c->s.entropy(c->s.user, txid, sizeof txid) != 0)
            return TSE_ERR_DETECT_ENTROPY;
        tse_stun_writer_init(&w, o, need,
                             tse_stun_type(TSE_STUN_METHOD_SEND, TSE_STUN_CLASS_INDICATION),
                             txid);
        to_stun(peer, &a);
        tse_stun_put_xor_addr(&w, TSE_STUN_ATTR_XOR_PEER_ADDRESS, &a);
        tse_stun_put_attr(&w, TSE_STUN_ATTR_DATA, data, len);
        if (c->s.fingerprint)
            tse_stun_put_fingerprint(&w);
        rc = tse_stun_writer_finish(&w, &n);
        if (rc != TSE_OK)
            return rc;
        q_commit(c, n);
        c->stats.tx_msgs++;
        return TSE_OK;
    }
}

/* ------------------------------------------------------------------ */
/* Responses                                                           */

static int code_to_err(int code)
{
    switch (code) {
    case 300: return TSE_ERR_TURN_TRY_ALTERNATE;
    case 400: return TSE_ERR_TURN_BAD_REQUEST;
    case 401: return TSE_ERR_TURN_UNAUTHORIZED;
    case 403: return TSE_ERR_TURN_FORBIDDEN;
    case 420: return TSE_ERR_TURN_UNKNOWN_ATTRIBUTE;
    case 437: return TSE_ERR_TURN_ALLOC_MISMATCH;
    case 438: return TSE_ERR_TURN_STALE_NONCE;
    case 440:
    case 443: return TSE_ERR_TURN_PEER_FAMILY;
    case 441: return TSE_ERR_TURN_WRONG_CREDENTIALS;
    case 442: return TSE_ERR_TURN_UNSUPPORTED_TRANSPORT;
    case 446: return TSE_ERR_TURN_CONNECTION_EXISTS;
    case 447: return TSE_ERR_TURN_CONNECTION_FAILED;
    case 486: return TSE_ERR_TURN_QUOTA;
    case 500: return TSE_ERR_TURN_SERVER_ERROR;
    case 508: return TSE_ERR_TURN_CAPACITY;
    default: return TSE_ERR_TURN_ERROR_OTHER;
    }
}

static tse_time_ms alloc_refresh_delay(uint32_t lifetime_s)
{
    /* a minute early; half-way when the lifetime is short */
    uint32_t s = lifetime_s >= 120 ? lifetime_s - 60 : lifetime_s / 2;
    return (tse_time_ms)(s ? s : 1) * 1000u;
}

/* A request failed for good: report it and undo its bookkeeping. */
static void txn_failed(tse_turn *c, const tse_turn_txn_ *t, int err, int code,
                       tse_time_ms now)
{
    tse_turn_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = TSE_TURN_EV_FAILED;
    ev.method = t->method;
    ev.err = err;
    ev.stun_code = code;
    ev.peer = t->peer;
    switch (t->method) {
    case TSE_STUN_METHOD_ALLOCATE:
        fail(c, err);
        break;
    case TSE_STUN_METHOD_REFRESH:
        c->refresh_pending = 0;
        if (c->state == TSE_TURN_CLOSING) {
            /* gone either way: the server lets it expire */
            c->state = TSE_TURN_CLOSED;
            emit(c, &ev);
            memset(&ev, 0, sizeof ev);
            ev.type = TSE_TURN_EV_CLOSED;
            emit(c, &ev);
            return;
        }
        /* 437: the allocation no longer exists (RFC 8656 7.4); else try
         * again in a while, until it expires */
        if (err == TSE_ERR_TURN_ALLOC_MISMATCH)
            fail(c, err);
        else
            c->refresh_at = now + RETRY_MS;
        break;
    case TSE_STUN_METHOD_CREATE_PERMISSION: {
        tse_turn_perm_ *p = find_perm(c, &t->peer);
        if (p) {
            p->pending = 0;
            p->refresh_at = now + RETRY_MS;
            if (!p->installed)
                p->used = 0;
        }
        break;
    }
    case TSE_STUN_METHOD_CHANNEL_BIND: {
        tse_turn_chan_ *ch = find_chan_number(c, t->channel);
        if (ch) {
            ch->pending = 0;
            ch->refresh_at = now + RETRY_MS;
            if (!ch->bound)
                ch->used = 0;
        }
        break;
    }
    default:
        break;
    }
    emit(c, &ev);
}

static void txn_success(tse_turn *c, const tse_turn_txn_ *t, const tse_stun_msg *m,
                        tse_time_ms now)
{
    tse_turn_event ev;
    memset(&ev, 0, sizeof ev);
    ev.peer = t->peer;
    switch (t->method) {
    case TSE_STUN_METHOD_ALLOCATE:
        /* RFC 8656 7.3: XOR-RELAYED-ADDRESS and LIFETIME */
        if (!(m->present & TSE_STUN_HAS_RELAYED) || !(m->present & TSE_STUN_HAS_LIFETIME) ||
            m->lifetime == 0) {
            txn_failed(c, t, TSE_ERR_TURN_NO_RELAYED, 0, now);
            return;
        }
        from_stun(&m->relayed, &c->relayed);
        if (m->present & TSE_STUN_HAS_XOR_MAPPED)
            from_stun(&m->xor_mapped, &c->mapped);
        c->lifetime_s = m->lifetime;
        c->expires_at = now + (tse_time_ms)m->lifetime * 1000u;
        c->refresh_at = now + alloc_refresh_delay(m->lifetime);
        c->state = TSE_TURN_ALLOCATED;
        ev.type = TSE_TURN_EV_ALLOCATED;
        ev.relayed = c->relayed;
        ev.mapped = c->mapped;
        ev.lifetime_s = m->lifetime;
        emit(c, &ev);
        return;
    case TSE_STUN_METHOD_REFRESH:
        c->refresh_pending = 0;
        if (c->state == TSE_TURN_CLOSING) {
            c->state = TSE_TURN_CLOSED;
            ev.type = TSE_TURN_EV_CLOSED;
            emit(c, &ev);
            return;
        }
        if (!(m->present & TSE_STUN_HAS_LIFETIME) || m->lifetime == 0) {
            txn_failed(c, t, TSE_ERR_TURN_BAD_RESPONSE, 0, now);
            return;
        }
        c->lifetime_s = m->lifetime;
        c->expires_at = now + (tse_time_ms)m->lifetime * 1000u;
        c->refresh_at = now + alloc_refresh_delay(m->lifetime);
        ev.type = TSE_TURN_EV_REFRESHED;
        ev.lifetime_s = m->lifetime;
        emit(c, &ev);
        return;
    case TSE_STUN_METHOD_CREATE_PERMISSION: {
        tse_turn_perm_ *p = find_perm(c, &t->peer);
        int first;
        if (!p)
            return;
        first = !p->installed;
        p->pending = 0;
        p->installed = 1;
        p->refresh_at = now + PERM_REFRESH_MS;
        if (first) {
            ev.type = TSE_TURN_EV_PERMISSION;
            emit(c, &ev);
        }
        return;
    }
    case TSE_STUN_METHOD_CHANNEL_BIND: {
        tse_turn_chan_ *ch = find_chan_number(c, t->channel);
        int first;
        if (!ch)
            return;
        first = !ch->bound;
        ch->pending = 0;
        ch->bound = 1;
        ch->refresh_at = now + CHAN_REFRESH_MS;
        if (first) {
            ev.type = TSE_TURN_EV_CHANNEL;
            ev.channel = ch->number;
            emit(c, &ev);
        }
        return;
    }
    case TSE_STUN_METHOD_CONNECT:
        if (!(m->present & TSE_STUN_HAS_CONNECTION_ID)) {
            txn_failed(c, t, TSE_ERR_TURN_BAD_RESPONSE, 0, now);
            return;
        }
        ev.type = TSE_TURN_EV_CONNECTED;
        ev.connection_id = m->connection_id;
        emit(c, &ev);
        return;
    default:
        return;
    }
}

/* Take REALM and NONCE from a 401/438 and derive the key. */
static int take_challenge(tse_turn *c, const tse_stun_msg *m, int need_realm)
{
    if (!(m->present & TSE_STUN_HAS_NONCE) || m->nonce_len == 0 ||
        m->nonce_len > TSE_TURN_REALM_MAX)
        return TSE_ERR_TURN_REALM;
    if (m->present & TSE_STUN_HAS_REALM) {
        if (m->realm_len == 0 || m->realm_len > TSE_TURN_REALM_MAX)
            return TSE_ERR_TURN_REALM;
        memcpy(c->realm, m->realm, m->realm_len);
        c->realm_len = m->realm_len;
    } else if (need_realm || !c->have_key) {
        return TSE_ERR_TURN_REALM;
    }
    memcpy(c->nonce, m->nonce, m->nonce_len);
    c->nonce_len = m->nonce_len;
    (void)tse_stun_long_term_key((const uint8_t *)c->user, strlen(c->user), c->realm,
                                 c->realm_len, (const uint8_t *)c->pass, strlen(c->pass),
                                 c->key);
    c->have_key = 1;
    return TSE_OK;
}

static void handle_response(tse_turn *c, tse_turn_txn_ *t, const tse_stun_msg *m,
                            tse_time_ms now)
{
    tse_turn_txn_ done = *t;
    int code = (m->present & TSE_STUN_HAS_ERROR) ? m->error_code : 0;

    if (m->cls == TSE_STUN_CLASS_ERROR && !(m->present & TSE_STUN_HAS_ERROR)) {
        /* an error response must say which error (RFC 8489 14.8) */
        t->used = 0;
        txn_failed(c, &done, TSE_ERR_TURN_BAD_RESPONSE, 0, now);
        return;
    }
    if (m->cls == TSE_STUN_CLASS_ERROR && (code == 401 || code == 438)) {
        int rc;
        t->used = 0;
        /* RFC 8489 9.2.5: 401 to a request without credentials is the
         * challenge; to one with credentials, they were wrong.  438: a new
         * nonce, a bounded number of times. */
        if (code == 401 && done.authed) {
            txn_failed(c, &done, TSE_ERR_TURN_UNAUTHORIZED, code, now);
            return;
        }
        if (code == 438 && done.stale >= TSE_TURN_STALE_RETRIES) {
            txn_failed(c, &done, TSE_ERR_TURN_STALE_NONCE, code, now);
            return;
        }
        rc = take_challenge(c, m, code == 401);
        if (code == 438)
            c->stats.stale_nonces++;
        if (rc != TSE_OK) {
            txn_failed(c, &done, rc, code, now);
            return;
        }
        rc = start_txn(c, done.method, &done.peer, done.channel, done.lifetime,
                       done.stale + (code == 438), now, NULL);
        if (rc != TSE_OK)
            txn_failed(c, &done, rc, code, now);
        return;
    }
    if (done.authed) {
        /* RFC 8489 9.2.5: integrity of every other response */
        if (tse_stun_check_integrity(m, c->key, sizeof c->key) != TSE_OK) {
            c->stats.integrity_drops++;
            if (dgram(c))
                return; /* as if never received: retransmission goes on */
            t->used = 0;
            txn_failed(c, &done, TSE_ERR_TURN_INTEGRITY, code, now);
            return;
        }
    }
    t->used = 0;
    if (m->cls == TSE_STUN_CLASS_ERROR) {
        txn_failed(c, &done, code_to_err(code), code, now);
        return;
    }
    txn_success(c, &done, m, now);
}

static int handle_stun(tse_turn *c, const uint8_t *msg, size_t len, tse_time_ms now)
{
    tse_stun_msg m;
    size_t i;
    int rc = tse_stun_parse(msg, len, &m);
    if (rc != TSE_OK)
        return rc;
    c->stats.rx_msgs++;
    if (m.cls == TSE_STUN_CLASS_INDICATION) {
        if (m.method == TSE_STUN_METHOD_DATA) {
            tse_turn_addr peer;
            /* RFC 8656 10.4: both attributes, else discard */
            if (!(m.present & TSE_STUN_HAS_PEER) || !(m.present & TSE_STUN_HAS_DATA))
                return TSE_ERR_TURN_BAD_RESPONSE;
            from_stun(&m.peer, &peer);
            if (c->s.on_data)
                c->s.on_data(c->s.user, &peer, m.data, m.data_len);
            return TSE_OK;
        }
        if (m.method == TSE_STUN_METHOD_CONNECTION_ATTEMPT) {
            tse_turn_event ev;
            if (!(m.present & TSE_STUN_HAS_PEER) || !(m.present & TSE_STUN_HAS_CONNECTION_ID))
                return TSE_ERR_TURN_BAD_RESPONSE;
            memset(&ev, 0, sizeof ev);
            ev.type = TSE_TURN_EV_CONNECTION_ATTEMPT;
            from_stun(&m.peer, &ev.peer);
            ev.connection_id = m.connection_id;
            emit(c, &ev);
            return TSE_OK;
        }
        return TSE_ERR_STUN_TYPE;
    }
    if (m.cls != TSE_STUN_CLASS_SUCCESS && m.cls != TSE_STUN_CLASS_ERROR)
        return TSE_ERR_STUN_TYPE; /* a client takes no requests */
    for (i = 0; i < TSE_TURN_MAX_TRANSACTIONS; i++) {
        tse_turn_txn_ *t = &c->txn[i];
        if (t->used && memcmp(t->txid, m.txid, TSE_STUN_TXID_LEN) == 0) {
            if (t->method != m.method)
                return TSE_ERR_STUN_TYPE;
            handle_response(c, t, &m, now);
            return TSE_OK;
        }
    }
    return TSE_ERR_STUN_TXID; /* late retransmission's answer, or not ours */
}

/* ChannelData (RFC 8656 12.4, 12.6); @p len is the whole unit. */
static int handle_channel_data(tse_turn *c, const uint8_t *p, size_t len)
{
    uint16_t number = tse_be16_get(p), dlen = tse_be16_get(p + 2);
    tse_turn_chan_ *ch;
    if (number < TSE_TURN_CHANNEL_MIN || number > TSE_TURN_CHANNEL_MAX)
        return TSE_ERR_TURN_CHANNEL_DATA;
    if ((size_t)dlen + 4 > len)
        return TSE_ERR_TURN_CHANNEL_DATA;
    ch = find_chan_number(c, number);
    if (!ch || !ch->bound)
        return TSE_ERR_TURN_CHANNEL_DATA;
    c->stats.rx_channel_data++;
    if (c->s.on_data)
        c->s.on_data(c->s.user, &ch->peer, p + 4, dlen);
    return TSE_OK;
}

/* Length of the unit starting with @p h (4 bytes), 0 if not a unit. */
static size_t unit_len(const uint8_t *h, int *err)
{
    uint16_t l = tse_be16_get(h + 2);
    *err = TSE_OK;
    if ((h[0] & 0xC0) == 0x00) {
        if (l % 4 != 0) {
            *err = TSE_ERR_TURN_MALFORMED;
            return 0;
        }
        return 20u + l;
    }
    if ((h[0] & 0xC0) == 0x40) {
        if (tse_be16_get(h) > TSE_TURN_CHANNEL_MAX) {
            *err = TSE_ERR_TURN_CHANNEL_DATA;
            return 0;
        }
        return (4u + l + 3u) & ~(size_t)3u; /* padded on streams */
    }
    *err = TSE_ERR_TURN_MALFORMED;
    return 0;
}

static int handle_unit(tse_turn *c, const uint8_t *p, size_t len, tse_time_ms now)
{
    if ((p[0] & 0xC0) == 0x40)
        return handle_channel_data(c, p, len);
    return handle_stun(c, p, len, now);
}

/* A unit from the stream was handled with @p rc: a STUN message that does
 * not parse means the framing can no longer be trusted; an unmatched or
 * unexpected message, or ChannelData for an unknown channel, is dropped. */
static int stream_unit(tse_turn *c, const uint8_t *p, size_t len, tse_time_ms now)
{
    int rc = handle_unit(c, p, len, now);
    if (rc == TSE_OK)
        return TSE_OK;
    c->stats.dropped++;
    switch (rc) {
    case TSE_ERR_STUN_TRUNCATED:
    case TSE_ERR_STUN_NOT_STUN:
    case TSE_ERR_STUN_LENGTH:
    case TSE_ERR_STUN_ATTR:
    case TSE_ERR_STUN_FINGERPRINT:
        return TSE_ERR_TURN_MALFORMED;
    default:
        return TSE_OK;
    }
}

static int recv_stream(tse_turn *c, const uint8_t *data, size_t len, tse_time_ms now)
{
    size_t off = 0, need, take;
    int err = TSE_OK;
    while (off < len && c->state != TSE_TURN_FAILED) {
        if (c->rx_have == 0 && len - off >= 4) {
            need = unit_len(data + off, &err);
            if (err)
                goto lost;
            if (len - off >= need) {
                /* the whole unit is in the input: no copy */
                err = stream_unit(c, data + off, need, now);
                if (err)
                    goto lost;
                off += need;
                continue;
            }
        }
        if (c->rx_have < 4) {
            take = 4 - c->rx_have;
            if (take > len - off)
                take = len - off;
            memcpy(c->rx + c->rx_have, data + off, take);
            c->rx_have += take;
            off += take;
            if (c->rx_have < 4)
                break;
        }
        need = unit_len(c->rx, &err);
        if (err)
            goto lost;
        if (need > c->rx_cap) {
            err = TSE_ERR_TURN_TOO_BIG;
            goto lost;
        }
        take = need - c->rx_have;
        if (take > len - off)
            take = len - off;
        memcpy(c->rx + c->rx_have, data + off, take);
        c->rx_have += take;
        off += take;
        if (c->rx_have == need) {
            c->rx_have = 0;
            err = stream_unit(c, c->rx, need, now);
            if (err)
                goto lost;
        }
    }
    return c->state == TSE_TURN_FAILED ? c->error : TSE_OK;
lost:
    fail(c, err);
    return c->error;
}

int tse_turn_recv(tse_turn *c, const uint8_t *data, size_t len, tse_time_ms now)
{
    int rc;
    if (!c || (!data && len))
        return TSE_ERR_INVALID_ARG;
    if (c->state == TSE_TURN_FAILED)
        return c->error;
    if (!dgram(c))
        return recv_stream(c, data, len, now);
    if (len < 4) {
        c->stats.dropped++;
        return TSE_ERR_STUN_TRUNCATED;
    }
    rc = handle_unit(c, data, len, now);
    if (rc != TSE_OK)
        c->stats.dropped++;
    return rc;
}

/* ------------------------------------------------------------------ */
/* Time                                                                */

static tse_time_ms min_t(tse_time_ms a, tse_time_ms b)
{
    return a < b ? a : b;
}

tse_time_ms tse_turn_expiry(const tse_turn *c)
{
    tse_time_ms e = TSE_TIME_NEVER;
    size_t i;
    if (!c || c->state == TSE_TURN_FAILED || c->state == TSE_TURN_CLOSED ||
        c->state == TSE_TURN_IDLE)
        return TSE_TIME_NEVER;
    for (i = 0; i < TSE_TURN_MAX_TRANSACTIONS; i++)
        if (c->txn[i].used)
            e = min_t(e, min_t(c->txn[i].next_tx, c->txn[i].deadline));
    if (c->state == TSE_TURN_ALLOCATED) {
        e = min_t(e, c->expires_at);
        if (!c->refresh_pending)
            e = min_t(e, c->refresh_at);
        for (i = 0; i < TSE_TURN_MAX_PERMISSIONS; i++)
            if (c->perm[i].used && c->perm[i].installed && !c->perm[i].pending)
                e = min_t(e, c->perm[i].refresh_at);
        for (i = 0; i < TSE_TURN_MAX_CHANNELS; i++)
            if (c->chan[i].used && c->chan[i].bound && !c->chan[i].pending)
                e = min_t(e, c->chan[i].refresh_at);
    }
    return e;
}

int tse_turn_handle_expiry(tse_turn *c, tse_time_ms now)
{
    size_t i;
    if (!c)
        return TSE_ERR_INVALID_ARG;
    for (i = 0; i < TSE_TURN_MAX_TRANSACTIONS; i++) {
        tse_turn_txn_ *t = &c->txn[i];
        if (!t->used || c->state == TSE_TURN_FAILED)
            continue;
        if (now >= t->deadline) {
            tse_turn_txn_ done = *t;
            t->used = 0;
            txn_failed(c, &done, TSE_ERR_TURN_TIMEOUT, 0, now);
            continue;
        }
        if (now >= t->next_tx) {
            /* RFC 8489 6.2.1: same bytes again, RTO doubled; after the
             * last send wait Rm * RTO (the initial one). */
            if (encode_request(c, t) == TSE_OK) {
                t->sends++;
                c->stats.retransmits++;
            }
            t->rto *= 2;
            if (t->sends >= c->s.max_tx) {
                t->next_tx = TSE_TIME_NEVER;
                t->deadline = now + (tse_time_ms)RM * c->s.rto_ms;
            } else {
                t->next_tx = now + t->rto;
            }
        }
    }
    if (c->state != TSE_TURN_ALLOCATED)
        return c->state == TSE_TURN_FAILED ? c->error : TSE_OK;
    if (now >= c->expires_at) {
        fail(c, TSE_ERR_TURN_EXPIRED);
        return c->error;
    }
    if (!c->refresh_pending && now >= c->refresh_at) {
        if (start_txn(c, TSE_STUN_METHOD_REFRESH, NULL, 0, alloc_lifetime(c), 0, now, NULL) ==
            TSE_OK)
            c->refresh_pending = 1;
        else
            c->refresh_at = now + 1000u; /* queue or table full: try again soon */
    }
    for (i = 0; i < TSE_TURN_MAX_PERMISSIONS; i++) {
        tse_turn_perm_ *p = &c->perm[i];
        if (p->used && p->installed && !p->pending && now >= p->refresh_at &&
            send_permission(c, p, now) != TSE_OK)
            p->refresh_at = now + 1000u;
    }
    for (i = 0; i < TSE_TURN_MAX_CHANNELS; i++) {
        tse_turn_chan_ *ch = &c->chan[i];
        if (ch->used && ch->bound && !ch->pending && now >= ch->refresh_at &&
            send_bind(c, ch, now) != TSE_OK)
            ch->refresh_at = now + 1000u;
    }
    return TSE_OK;
}

/* ------------------------------------------------------------------ */
/* RFC 6062 data connections                                           */

int tse_turn_connection_bind_request(tse_turn *c, uint32_t connection_id, uint8_t *out,
                                     size_t cap, size_t *out_len, uint8_t txid[12])
{
    tse_stun_writer w;
    if (!c || !out || !out_len || !txid)
        return TSE_ERR_INVALID_ARG;
    *out_len = 0;
    if (!c->have_key || c->s.relay_protocol != TSE_TURN_RELAY_TCP ||
        (c->state != TSE_TURN_ALLOCATED && c->state != TSE_TURN_CLOSING))
        return TSE_ERR_TURN_NOT_ALLOCATED;
    if (c->s.entropy(c->s.user, txid, TSE_STUN_TXID_LEN) != 0)
        return TSE_ERR_DETECT_ENTROPY;
    tse_stun_writer_init(&w, out, cap,
                         tse_stun_type(TSE_STUN_METHOD_CONNECTION_BIND, TSE_STUN_CLASS_REQUEST),
                         txid);
    tse_stun_put_u32(&w, TSE_STUN_ATTR_CONNECTION_ID, connection_id);
    tse_stun_put_attr(&w, TSE_STUN_ATTR_USERNAME, c->user, strlen(c->user));
    tse_stun_put_attr(&w, TSE_STUN_ATTR_REALM, c->realm, c->realm_len);
    tse_stun_put_attr(&w, TSE_STUN_ATTR_NONCE, c->nonce, c->nonce_len);
    tse_stun_put_integrity(&w, c->key, sizeof c->key);
    if (c->s.fingerprint)
        tse_stun_put_fingerprint(&w);
    return tse_stun_writer_finish(&w, out_len);
}

int tse_turn_connection_bind_response(tse_turn *c, const uint8_t txid[12],
                                      const uint8_t *in, size_t len, size_t *consumed)
{
    tse_stun_msg m;
    size_t need;
    int rc;
    if (consumed)
        *consumed = 0;
    if (!c || !txid || !consumed || (!in && len))
        return TSE_ERR_INVALID_ARG;
    if (len < TSE_STUN_HEADER_LEN)
        return TSE_ERR_WOULD_BLOCK;
    need = TSE_STUN_HEADER_LEN + tse_be16_get(in + 2);
    if ((in[0] & 0xC0) != 0 || (need % 4) != 0)
        return TSE_ERR_STUN_NOT_STUN;
    if (len < need)
        return TSE_ERR_WOULD_BLOCK;
    rc = tse_stun_parse(in, need, &m);
    if (rc != TSE_OK)
        return rc;
    if (memcmp(m.txid, txid, TSE_STUN_TXID_LEN) != 0)
        return TSE_ERR_STUN_TXID;
    if (m.method != TSE_STUN_METHOD_CONNECTION_BIND ||
        (m.cls != TSE_STUN_CLASS_SUCCESS && m.cls != TSE_STUN_CLASS_ERROR))
        return TSE_ERR_STUN_TYPE;
    if (m.cls == TSE_STUN_CLASS_ERROR) {
        if (!(m.present & TSE_STUN_HAS_ERROR))
            return TSE_ERR_TURN_BAD_RESPONSE;
        if (m.error_code == 438 && take_challenge(c, &m, 0) == TSE_OK)
            return TSE_ERR_TURN_STALE_NONCE;
        return code_to_err(m.error_code);
    }
    if (tse_stun_check_integrity(&m, c->key, sizeof c->key) != TSE_OK)
        return TSE_ERR_TURN_INTEGRITY;
    *consumed = need;
    return TSE_OK;
}

/* ------------------------------------------------------------------ */
/* Getters                                                             */

int tse_turn_get_state(const tse_turn *c)
{
    return c ? c->state : TSE_TURN_FAILED;
}

int tse_turn_error(const tse_turn *c)
{
    return c ? c->error : TSE_ERR_INVALID_ARG;
}

int tse_turn_relayed(const tse_turn *c, tse_turn_addr *out)
{
    if (!c || !out)
        return TSE_ERR_INVALID_ARG;
    if (c->state != TSE_TURN_ALLOCATED)
        return TSE_ERR_TURN_NOT_ALLOCATED;
    *out = c->relayed;
    return TSE_OK;
}

const tse_turn_stats *tse_turn_get_stats(const tse_turn *c)
{
    return c ? &c->stats : NULL;
}

#endif /* TSE_CONFIG_TURN */
