/* The ciphertext buffer between the TLS layer and the port (outbuf.h). */
#include "outbuf.h"

#include <string.h>

void tse_outbuf_init(tse_outbuf *b, uint8_t *mem, size_t cap)
{
    b->buf = mem;
    b->cap = cap;
    b->off = 0;
    b->len = 0;
}

void tse_outbuf_clear(tse_outbuf *b)
{
    b->off = 0;
    b->len = 0;
}

size_t tse_outbuf_pending(const tse_outbuf *b, const uint8_t **p)
{
    if (p != NULL) {
        *p = b->buf + b->off;
    }
    return b->len - b->off;
}

void tse_outbuf_consume(tse_outbuf *b, size_t n)
{
    size_t have = b->len - b->off;
    b->off += n < have ? n : have;
    if (b->off == b->len) {
        b->off = 0;
        b->len = 0;
    }
}

size_t tse_outbuf_reserve(tse_outbuf *b, uint8_t **p)
{
    if (b->off == b->len) {
        b->off = 0;
        b->len = 0;
    } else if (b->off > 0 && b->cap - b->len < b->off) {
        /* more room at the front than at the end: move the rest down */
        memmove(b->buf, b->buf + b->off, b->len - b->off);
        b->len -= b->off;
        b->off = 0;
    }
    if (p != NULL) {
        *p = b->buf + b->len;
    }
    return b->cap - b->len;
}

void tse_outbuf_commit(tse_outbuf *b, size_t n)
{
    size_t room = b->cap - b->len;
    b->len += n < room ? n : room;
}

size_t tse_outbuf_append(tse_outbuf *b, const uint8_t *data, size_t len)
{
    uint8_t *p;
    size_t room = tse_outbuf_reserve(b, &p);
    if (len > room && b->off > 0) {
        /* reserve() keeps the bytes where they are while the end has more
         * room than the front; a caller that checked cap - pending (the
         * stream's send buffer) must get all of it, so move them down */
        memmove(b->buf, b->buf + b->off, b->len - b->off);
        b->len -= b->off;
        b->off = 0;
        p = b->buf + b->len;
        room = b->cap - b->len;
    }
    if (len > room) {
        len = room;
    }
    memcpy(p, data, len);
    b->len += len;
    return len;
}
