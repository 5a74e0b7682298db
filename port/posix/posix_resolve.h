/* Name resolution that never blocks the caller (internal to the POSIX
 * port): a literal at once, the application's resolver hook
 * (tse_posix_set_resolver()), or getaddrinfo(3) in a short-lived detached
 * thread that signals "done" through a pipe the caller polls.  Used by the
 * outer transport (posix_transport.c) and the detection's UDP probes
 * (detect_posix.c). */
#ifndef TSE_POSIX_RESOLVE_H
#define TSE_POSIX_RESOLVE_H

#include <stdint.h>
#include <sys/socket.h>

#include "tse_posix.h"

/* Addresses in the order they are tried (RFC 8305 4: families
 * interleaved, the resolver's first family first). */
typedef struct posix_addrs {
    size_t n;
    struct sockaddr_storage addr[TSE_POSIX_MAX_ADDRS];
    socklen_t len[TSE_POSIX_MAX_ADDRS];
} posix_addrs;

struct posix_resolve_req;

/* A lookup in progress: the caller's storage. */
typedef struct posix_lookup {
    struct posix_resolve_req *req; /* shared with the thread; NULL = none */
    int fd;                        /* poll it for POLLIN: readable (EOF) when done */
    tse_time_ms deadline;          /* TSE_POSIX_RESOLVE_TIMEOUT_MS after the start */
} posix_lookup;

/* Resolve @p host (no brackets) for @p port.  TSE_OK: @p out is filled
 * (a literal, or the hook answered).  TSE_ERR_WOULD_BLOCK: a thread was
 * started; poll lk->fd and call posix_lookup_poll().  Else
 * TSE_ERR_TRANSPORT_RESOLVE (no address; also when
 * TSE_POSIX_RESOLVE_THREADS_MAX threads are already running) or
 * TSE_ERR_NO_MEMORY. */
int posix_lookup_start(posix_lookup *lk, const char *host, uint16_t port, posix_addrs *out);

/* TSE_OK (@p out filled, lookup over), TSE_ERR_WOULD_BLOCK, or
 * TSE_ERR_TRANSPORT_RESOLVE (no address, or the deadline passed; lookup
 * over). */
int posix_lookup_poll(posix_lookup *lk, posix_addrs *out);

/* Give up a lookup (the thread finishes into memory nobody reads).  Safe
 * on a lookup that is over or was never started (lk->req NULL). */
void posix_lookup_abandon(posix_lookup *lk);

/* Resolver threads running now (tests). */
unsigned posix_lookup_threads(void);

#endif
