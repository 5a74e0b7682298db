/**
 * @file outq.h
 * @brief The outbound scheduler: what a tunnel endpoint has to send, by
 *        class, waiting for the TLS layer (docs/scheduler.md).
 *
 * The engine uses it for the TSE's uplink; it is public so that a TSCF
 * (examples/tscf-server) schedules its downlink the same way.  Not
 * thread-safe; no allocation (the caller provides the storage).
 *
 *   control    Annex A control messages: always first
 *   real-time  UDP, ICMP, DSCP EF / AF4x / CS3-CS5, small TCP segments
 *              (tse_sched_settings): before bulk, dropped when older than
 *              the deadline instead of being sent late
 *   bulk       everything else; a bounded queue that refuses when full
 *              (TSE_ERR_QUEUE_FULL), so inner TCP senses the bottleneck
 *
 * TR 33.830 4.9: one TCP connection carries every stream, so what the
 * engine hands to TLS next decides who waits.  Each class is a ring of
 * whole units (a CM or an IP packet), back to back as they go on the wire,
 * so a chunk of a ring is written to TLS without a copy.  A chunk ends on
 * a unit boundary when at least one whole unit fits; a unit that has to
 * be split (ring wrap, record limit) keeps its class until it is complete
 * (units of different classes never interleave inside the stream).
 *
 * Storage is the caller's (part of the tunnel's one allocation):
 * tse_outq_footprint() bytes.
 */
#ifndef TSE_OUTQ_H_PUBLIC
#define TSE_OUTQ_H_PUBLIC

#include <stddef.h>
#include <stdint.h>

#include "tse/tse.h"

/** One class's ring of whole units.  Fields are private. */
typedef struct tse_ring {
    /** @privatesection */
    uint8_t *buf;
    size_t cap, head, len;
} tse_ring;

/** The scheduler's state (caller storage, tse_outq_init()).  Fields are
 *  private; the engine copies the counters into tse_stats. */
typedef struct tse_outq {
    /** @privatesection */
    tse_ring ring[TSE_CLASS_COUNT];
    /* enqueue time of each real-time unit, FIFO parallel to its ring */
    uint32_t *rt_time;
    size_t rt_tcap, rt_thead, rt_tlen;
    tse_sched_settings pol;
    /* a unit split across chunks: its class and the bytes still due */
    int cur;
    size_t cur_left;
    /* the last peek, repeated while pinned (TLS asked for the same data) */
    int pinned;
    int peek_cls;
    size_t peek_len;
    /* real-time bytes sent since the last bulk chunk (starvation guard) */
    size_t rt_run;
    /* counters (copied into tse_stats by the engine) */
    uint64_t units[TSE_CLASS_COUNT];
    uint64_t bytes[TSE_CLASS_COUNT];
    uint64_t full_drops[TSE_CLASS_COUNT];
    uint64_t stale_drops;
} tse_outq;

/** @brief Bytes of storage tse_outq_init() needs for these sizes.
 *  @param cm_size    control queue, bytes
 *  @param rt_size    real-time queue, bytes
 *  @param bulk_size  bulk queue, bytes
 *  @return the byte count */
TSE_API size_t tse_outq_footprint(size_t cm_size, size_t rt_size, size_t bulk_size);

/** @brief Carve the rings out of @p mem (tse_outq_footprint() bytes,
 *         aligned for uint32_t).  @p pol is copied.
 *  @param[out] q     the scheduler (caller storage)
 *  @param[in]  pol   the policy (copied)
 *  @param[in]  mem   storage, owned by the caller, valid while @p q is used
 *  @param cm_size, rt_size, bulk_size  as for tse_outq_footprint() */
TSE_API void tse_outq_init(tse_outq *q, const tse_sched_settings *pol, uint8_t *mem,
                           size_t cm_size, size_t rt_size, size_t bulk_size);

/** @brief Drop everything queued (the connection is gone).  Counters stay.
 *  @param q  the scheduler */
TSE_API void tse_outq_clear(tse_outq *q);

/** @brief The class an inner IP packet (already validated) belongs to
 *         under the policy; small TCP packets are real-time only while
 *         the real-time queue is at most half full (rt_small_tcp).
 *  @param q    the scheduler (its policy and the real-time queue's fill)
 *  @param pkt  the packet
 *  @param len  its length
 *  @return TSE_CLASS_REALTIME or TSE_CLASS_BULK */
TSE_API tse_class tse_outq_classify(const tse_outq *q, const uint8_t *pkt, size_t len);

/** @brief Queue one unit of class @p cls (copied).  A real-time packet
 *         larger than its whole ring is queued as bulk.
 *  @param q     the scheduler
 *  @param cls   a tse_class below TSE_CLASS_COUNT
 *  @param unit  the unit (a CM or an IP packet)
 *  @param len   its length
 *  @param now   milliseconds, for the real-time deadline
 *  @return TSE_OK, or TSE_ERR_QUEUE_FULL (no room, or @p len 0: nothing
 *          taken; counted) */
TSE_API int tse_outq_push(tse_outq *q, tse_class cls, const uint8_t *unit, size_t len,
                          uint32_t now);

/** @brief Queue one IP packet behind a header, as one unit: the TS 24.322
 *         envelope (tse_frame_unit()'s 3 octets, Type 1 then the Length of
 *         header + packet) without copying the packet twice.  Otherwise as
 *         tse_outq_push(); the queue tells units apart by their first
 *         nibble, so @p hdr must be such an envelope (first nibble 0).
 *  @param q     the scheduler
 *  @param cls   a tse_class below TSE_CLASS_COUNT
 *  @param hdr   the envelope header (NULL with @p hlen 0: none)
 *  @param hlen  its length
 *  @param unit  the packet
 *  @param len   its length
 *  @param now   milliseconds, for the real-time deadline
 *  @return TSE_OK, or TSE_ERR_QUEUE_FULL (no room for @p hlen + @p len,
 *          or @p len 0: nothing taken; counted) */
TSE_API int tse_outq_push_framed(tse_outq *q, tse_class cls, const uint8_t *hdr,
                                 size_t hlen, const uint8_t *unit, size_t len,
                                 uint32_t now);

/** @brief Free bytes in @p cls's ring.
 *  @param q    the scheduler
 *  @param cls  the class
 *  @return the bytes (0 for a bad class, or when the real-time queue has
 *          no free slot) */
TSE_API size_t tse_outq_space(const tse_outq *q, tse_class cls);

/** @brief Bytes queued in @p cls's ring, or in all of them.
 *  @param q    the scheduler
 *  @param cls  the class, or TSE_CLASS_COUNT for all
 *  @return the bytes (0 for a bad class) */
TSE_API size_t tse_outq_queued(const tse_outq *q, tse_class cls);

/** @brief Choose the next chunk to encrypt: at most @p max bytes, or
 *         @p max_bulk for bulk (0: no bulk now).  Real-time units older
 *         than the deadline at @p now are dropped first.  The chunk stays
 *         queued until tse_outq_commit().  While pinned, returns the same
 *         chunk again.
 *  @param q         the scheduler
 *  @param now       milliseconds, for the deadline
 *  @param max       largest chunk
 *  @param max_bulk  largest bulk chunk (0: none now)
 *  @param[out] p    the chunk, inside a ring
 *  @param[out] cls  its class
 *  @return its length (0 = nothing to send now) */
TSE_API size_t tse_outq_peek(tse_outq *q, uint32_t now, size_t max, size_t max_bulk,
                             const uint8_t **p, tse_class *cls);

/** @brief The TLS layer must be given the last peek again (mbed TLS's
 *         rule after WANT_WRITE): the next peek returns it unchanged.
 *  @param q  the scheduler */
TSE_API void tse_outq_pin(tse_outq *q);

/** @brief @p n bytes (<= the last peek) of the last peek were taken by TLS.
 *  @param q  the scheduler
 *  @param n  bytes taken */
TSE_API void tse_outq_commit(tse_outq *q, size_t n);

#endif /* TSE_OUTQ_H_PUBLIC */
