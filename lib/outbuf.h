/*
 * The ciphertext buffer between the TLS layer and the port: bytes that
 * are ready to go out on the outer TCP connection (TLS records, and the
 * CONNECT request before them).  Internal to libtse.
 *
 * One owner: the TLS layer (lib/tls_session.c) holds it.  Its BIO and the
 * CONNECT writer append to it (append, or reserve + commit); the engine
 * hands what is pending to the port and drops what the port sent
 * (pending / consume).  Nobody else moves its cursors.
 *
 * Storage is the caller's (carved from the tunnel's one allocation).
 */
#ifndef TSE_OUTBUF_H
#define TSE_OUTBUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct tse_outbuf {
    uint8_t *buf;
    size_t cap;
    size_t off;   /* first byte not yet sent */
    size_t len;   /* end of the data */
} tse_outbuf;

/* Use @p mem (cap bytes, owned by the caller, outlives @p b); empty. */
void tse_outbuf_init(tse_outbuf *b, uint8_t *mem, size_t cap);

/* Forget everything (a new connection). */
void tse_outbuf_clear(tse_outbuf *b);

/* Bytes waiting for the port; *p points at them (valid until the next
 * call that changes the buffer). */
size_t tse_outbuf_pending(const tse_outbuf *b, const uint8_t **p);

/* The port sent @p n of the pending bytes (clamped to what is pending). */
void tse_outbuf_consume(tse_outbuf *b, size_t n);

/* Contiguous free room at the end, after moving pending bytes to the
 * front when that gains room.  *p (if not NULL) points at it. */
size_t tse_outbuf_reserve(tse_outbuf *b, uint8_t **p);

/* @p n bytes were written at the pointer reserve() gave (n <= its room). */
void tse_outbuf_commit(tse_outbuf *b, size_t n);

/* Append up to @p len bytes, moving pending bytes to the front when the
 * end alone is too short; returns how many fit: all of them when @p len
 * is at most cap minus what is pending (0 = full). */
size_t tse_outbuf_append(tse_outbuf *b, const uint8_t *data, size_t len);

#endif /* TSE_OUTBUF_H */
