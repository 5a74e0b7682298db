/*
 * The outbound scheduler (outq.h, docs/scheduler.md): per-class rings of
 * whole units, control first, then real-time, then bulk.
 */
#include "tse/outq.h"

#include <string.h>

#include "tse/cm.h"
#include "tse/error.h"

/* Smallest real-time unit counted on (IPv4 + UDP headers): bounds the
 * number of real-time units, hence the enqueue-time FIFO.  Smaller ones
 * are taken while slots last. */
#define MIN_UNIT 28u

/* After this many real-time bytes in a row while bulk waits, one bulk
 * chunk goes: a UDP flood must not starve inner TCP for ever. */
#define RT_RUN_RECORDS 8u

static size_t rt_slots(size_t rt_size)
{
    return rt_size / MIN_UNIT;
}

size_t tse_outq_footprint(size_t cm_size, size_t rt_size, size_t bulk_size)
{
    return rt_slots(rt_size) * sizeof(uint32_t) + cm_size + rt_size + bulk_size;
}

void tse_outq_init(tse_outq *q, const tse_sched_settings *pol, uint8_t *mem,
                   size_t cm_size, size_t rt_size, size_t bulk_size)
{
    size_t sizes[TSE_CLASS_COUNT];
    memset(q, 0, sizeof(*q));
    q->pol = *pol;
    q->rt_time = (uint32_t *)(void *)mem;
    q->rt_tcap = rt_slots(rt_size);
    mem += q->rt_tcap * sizeof(uint32_t);
    sizes[TSE_CLASS_CONTROL] = cm_size;
    sizes[TSE_CLASS_REALTIME] = rt_size;
    sizes[TSE_CLASS_BULK] = bulk_size;
    for (int c = 0; c < TSE_CLASS_COUNT; c++) {
        q->ring[c].buf = mem;
        q->ring[c].cap = sizes[c];
        mem += sizes[c];
    }
}

void tse_outq_clear(tse_outq *q)
{
    for (int c = 0; c < TSE_CLASS_COUNT; c++) {
        q->ring[c].head = 0;
        q->ring[c].len = 0;
    }
    q->rt_thead = q->rt_tlen = 0;
    q->cur_left = 0;
    q->pinned = 0;
    q->peek_len = 0;
    q->rt_run = 0;
}

/* ---- units in a ring ---------------------------------------------------- */

static uint8_t ring_byte(const tse_ring *r, size_t i)
{
    return r->buf[(r->head + i) % r->cap];
}

/* A 16-bit big-endian field @p i bytes after the head */
static size_t ring_be16(const tse_ring *r, size_t i)
{
    return ((size_t)ring_byte(r, i) << 8) | ring_byte(r, i + 1);
}

/* Length of the unit that starts @p i bytes after the head.  The ring
 * holds only whole units that the engine validated (IP) or encoded (CM),
 * or an IP packet in its TS 24.322 envelope (tse_outq_push_framed()), so
 * the header is complete and consistent. */
static size_t unit_len(const tse_ring *r, size_t i)
{
    uint8_t v = (uint8_t)(ring_byte(r, i) >> 4);
    size_t n = TSE_CM_HEADER_LEN;
    if (v == 0) {
        /* TS 24.322 envelope: Type 1 (first nibble 0), then the Length of
         * the whole envelope in octets 2-3 */
        return ring_be16(r, i + 1);
    }
    if (v == 4) {
        return ring_be16(r, i + 2);
    }
    if (v == 6) {
        return 40u + ring_be16(r, i + 4);
    }
    /* TR 33.830 A.1.1: 16-byte header, TLV_Count in bytes 2-3, then TLVs
     * of type (1), length (1), value */
    for (size_t k = ring_be16(r, i + 2); k > 0 && n < r->len; k--) {
        n += 2u + ring_byte(r, i + n + 1);
    }
    return n;
}

static void ring_put(tse_ring *r, const uint8_t *data, size_t len)
{
    size_t tail = (r->head + r->len) % r->cap;
    size_t first = r->cap - tail;
    if (first > len) {
        first = len;
    }
    memcpy(r->buf + tail, data, first);
    memcpy(r->buf, data + first, len - first);
    r->len += len;
}

static void ring_drop(tse_ring *r, size_t n)
{
    r->head = (r->head + n) % r->cap;
    r->len -= n;
    if (r->len == 0) {
        r->head = 0; /* keeps the next chunks contiguous */
    }
}

static void rt_pop_time(tse_outq *q)
{
    if (q->rt_tlen > 0) {
        q->rt_thead = (q->rt_thead + 1) % q->rt_tcap;
        q->rt_tlen--;
    }
}

/* ---- classification -------------------------------------------------- */

tse_class tse_outq_classify(const tse_outq *q, const uint8_t *pkt, size_t len)
{
    const tse_sched_settings *s = &q->pol;
    unsigned dscp, proto;

    if (s->fifo || len < 20) {
        return TSE_CLASS_BULK;
    }
    if ((pkt[0] >> 4) == 4) {
        dscp = pkt[1] >> 2;          /* RFC 2474: the TOS octet's top 6 bits */
        proto = pkt[9];
    } else {
        /* IPv6 Traffic Class: bits 4-11 of the first word */
        dscp = ((unsigned)(pkt[0] & 0x0f) << 2) | (pkt[1] >> 6);
        proto = pkt[6];              /* extension headers: bulk unless marked */
    }
    if ((s->rt_dscp >> dscp) & 1u) {
        return TSE_CLASS_REALTIME;
    }
    if ((proto == 17 && s->rt_udp) || ((proto == 1 || proto == 58) && s->rt_icmp)) {
        return TSE_CLASS_REALTIME;
    }
    if (proto == 6 && len <= s->rt_small_tcp) {
        /* Pure ACKs and SYNs go ahead of bulk only while the real-time
         * queue is at most half full: the ACKs of a fast transfer arrive
         * by the thousand per second and must never fill the room voice
         * needs.  Beyond that they wait as bulk (docs/scheduler.md). */
        const tse_ring *r = &q->ring[TSE_CLASS_REALTIME];
        if ((r->len + len) * 2 <= r->cap && (q->rt_tlen + 1) * 2 <= q->rt_tcap) {
            return TSE_CLASS_REALTIME;
        }
    }
    return TSE_CLASS_BULK;
}

/* ---- queueing ---------------------------------------------------------- */

size_t tse_outq_space(const tse_outq *q, tse_class cls)
{
    if ((unsigned)cls >= (unsigned)TSE_CLASS_COUNT) {
        return 0;
    }
    if (cls == TSE_CLASS_REALTIME && q->rt_tlen == q->rt_tcap) {
        return 0;
    }
    return q->ring[cls].cap - q->ring[cls].len;
}

size_t tse_outq_queued(const tse_outq *q, tse_class cls)
{
    if (cls == TSE_CLASS_COUNT) {
        return q->ring[0].len + q->ring[1].len + q->ring[2].len;
    }
    if ((unsigned)cls > (unsigned)TSE_CLASS_COUNT) {
        return 0;
    }
    return q->ring[cls].len;
}

int tse_outq_push(tse_outq *q, tse_class cls, const uint8_t *unit, size_t len,
                  uint32_t now)
{
    static const uint8_t no_header[1] = { 0 };
    return tse_outq_push_framed(q, cls, no_header, 0, unit, len, now);
}

int tse_outq_push_framed(tse_outq *q, tse_class cls, const uint8_t *hdr, size_t hlen,
                         const uint8_t *unit, size_t len, uint32_t now)
{
    tse_ring *r;
    size_t total = hlen + len;
    if (cls == TSE_CLASS_REALTIME && total > q->ring[cls].cap) {
        cls = TSE_CLASS_BULK; /* could never fit: better late than never */
    }
    r = &q->ring[cls];
    if (len == 0 || tse_outq_space(q, cls) < total) {
        q->full_drops[cls]++;
        return TSE_ERR_QUEUE_FULL;
    }
    if (hlen > 0) {
        ring_put(r, hdr, hlen);
    }
    ring_put(r, unit, len);
    len = total;
    if (cls == TSE_CLASS_REALTIME) {
        q->rt_time[(q->rt_thead + q->rt_tlen) % q->rt_tcap] = now;
        q->rt_tlen++;
    }
    q->units[cls]++;
    q->bytes[cls] += len;
    return TSE_OK;
}

/* Real-time units that waited longer than the deadline are worth nothing
 * to a jitter buffer: drop them rather than delay the fresh ones. */
static void drop_stale(tse_outq *q, uint32_t now)
{
    tse_ring *r = &q->ring[TSE_CLASS_REALTIME];
    uint32_t dl = q->pol.rt_deadline_ms;
    if (dl == 0 || (q->cur_left > 0 && q->cur == TSE_CLASS_REALTIME)) {
        return;
    }
    while (q->rt_tlen > 0 && r->len > 0 &&
           (uint32_t)(now - q->rt_time[q->rt_thead]) > dl) {
        ring_drop(r, unit_len(r, 0));
        rt_pop_time(q);
        q->stale_drops++;
    }
}

static size_t min_size(size_t a, size_t b)
{
    return a < b ? a : b;
}

size_t tse_outq_peek(tse_outq *q, uint32_t now, size_t max, size_t max_bulk,
                     const uint8_t **p, tse_class *cls)
{
    tse_class c;
    tse_ring *r;
    size_t contig, lim, n = 0;

    if (q->pinned) {
        r = &q->ring[q->peek_cls];
        *p = r->buf + r->head;
        *cls = (tse_class)q->peek_cls;
        return q->peek_len;
    }
    if (q->cur_left > 0) {
        c = (tse_class)q->cur;
    } else {
        int bulk_due;
        drop_stale(q, now);
        bulk_due = q->ring[TSE_CLASS_BULK].len > 0 && max_bulk > 0 &&
                   q->rt_run >= RT_RUN_RECORDS * max_bulk;
        if (q->ring[TSE_CLASS_CONTROL].len > 0) {
            c = TSE_CLASS_CONTROL;
        } else if (q->ring[TSE_CLASS_REALTIME].len > 0 && !bulk_due) {
            c = TSE_CLASS_REALTIME;
        } else if (q->ring[TSE_CLASS_BULK].len > 0) {
            c = TSE_CLASS_BULK;
        } else {
            return 0;
        }
    }
    lim = c == TSE_CLASS_BULK ? min_size(max, max_bulk) : max;
    r = &q->ring[c];
    contig = min_size(r->cap - r->head, r->len);
    if (lim == 0 || contig == 0) {
        return 0;
    }
    if (q->cur_left > 0) {
        n = min_size(min_size(q->cur_left, contig), lim);
    } else {
        /* whole units while they fit: the record ends on a boundary */
        while (n < contig) {
            size_t ul = unit_len(r, n);
            if (ul > contig - n || ul > lim - n) {
                break;
            }
            n += ul;
        }
        if (n == 0) {
            n = min_size(contig, lim); /* the first unit must be split */
        }
    }
    q->peek_cls = c;
    q->peek_len = n;
    *p = r->buf + r->head;
    *cls = c;
    return n;
}

void tse_outq_pin(tse_outq *q)
{
    if (q->peek_len > 0) {
        q->pinned = 1;
    }
}

void tse_outq_commit(tse_outq *q, size_t n)
{
    tse_class c = (tse_class)q->peek_cls;
    tse_ring *r = &q->ring[c];
    size_t done = 0;

    q->pinned = 0;
    if (n > q->peek_len) {
        n = q->peek_len;
    }
    q->peek_len = 0;
    if (n == 0) {
        return;
    }
    if (q->cur_left > 0) {
        done = min_size(n, q->cur_left);
        q->cur_left -= done;
        if (q->cur_left == 0 && c == TSE_CLASS_REALTIME) {
            rt_pop_time(q);
        }
    }
    while (done < n) {
        size_t ul = unit_len(r, done);
        if (ul <= n - done) {
            done += ul;
            if (c == TSE_CLASS_REALTIME) {
                rt_pop_time(q);
            }
        } else {
            q->cur = c;
            q->cur_left = ul - (n - done);
            done = n;
        }
    }
    ring_drop(r, n);
    if (c == TSE_CLASS_BULK) {
        q->rt_run = 0;
    } else if (c == TSE_CLASS_REALTIME) {
        q->rt_run += n;
    }
}
