/* The POSIX port's connect over several resolved addresses: fallback to
 * the next address on refusal, RFC 8305-style parallel attempt after
 * TSE_POSIX_ATTEMPT_DELAY_MS when the first hangs, failure when all fail.
 *
 * The resolver is replaced: this file defines getaddrinfo()/freeaddrinfo(),
 * which take precedence over the C library's for the whole executable, so
 * "multi.test" resolves to loopback sockets the test controls (each with
 * its own port, whatever port the caller asks for).  Like the real one it
 * answers AI_NUMERICHOST queries for literals only, so a name goes to the
 * port's resolver thread and the attempts start after its answer. */
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE 1
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tse_posix.h"
#include "sock_util.h"
#include "tt.h"

#define MAX_FAKE 4
static uint16_t fake_ports[MAX_FAKE];
static size_t n_fake;
static int resolver_calls;

int getaddrinfo(const char *node, const char *service,
                const struct addrinfo *hints, struct addrinfo **res)
{
    struct addrinfo *head = NULL, **tail = &head;
    size_t i;
    (void)service;
    if (hints && (hints->ai_flags & AI_NUMERICHOST))
        return EAI_NONAME; /* the tests use names only */
    resolver_calls++;
    if (!node || strcmp(node, "multi.test") != 0 || n_fake == 0)
        return EAI_NONAME;
    for (i = 0; i < n_fake; i++) {
        struct addrinfo *ai = calloc(1, sizeof *ai + sizeof(struct sockaddr_in));
        struct sockaddr_in *sa;
        if (!ai)
            return EAI_MEMORY;
        sa = (struct sockaddr_in *)(void *)(ai + 1);
        sa->sin_family = AF_INET;
        sa->sin_port = htons(fake_ports[i]);
        sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        ai->ai_family = AF_INET;
        ai->ai_socktype = SOCK_STREAM;
        ai->ai_protocol = IPPROTO_TCP;
        ai->ai_addrlen = sizeof *sa;
        ai->ai_addr = (struct sockaddr *)sa;
        *tail = ai;
        tail = &ai->ai_next;
    }
    *res = head;
    return 0;
}

void freeaddrinfo(struct addrinfo *ai)
{
    while (ai) {
        struct addrinfo *n = ai->ai_next;
        free(ai);
        ai = n;
    }
}

static const tse_port *P;


/* A port where nobody listens. */
static uint16_t closed_port(void)
{
    uint16_t p = 0;
    int fd = tu_listen4(&p, 1);
    if (fd >= 0)
        close(fd);
    return p;
}

/* The port a connected socket is connected to. */
static uint16_t peer_port(int fd)
{
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    if (getpeername(fd, (struct sockaddr *)&a, &len) < 0)
        return 0;
    return ntohs(a.sin_port);
}

/* Drive connect_poll() like the driver does (poll on the attempts' fds,
 * wake for the next-attempt deadline); bounded to ~5 s. */
static int drive(tse_port_conn *c, int *max_parallel)
{
    int i, rc = TSE_ERR_WOULD_BLOCK;
    for (i = 0; i < 1000; i++) {
        struct pollfd fds[TSE_POSIX_MAX_ATTEMPTS];
        size_t n;
        tse_time_ms dl, now;
        int timeout = 50;
        rc = P->connect_poll(P->user, c);
        if (rc != TSE_ERR_WOULD_BLOCK)
            break;
        n = tse_posix_conn_pollfds(c, fds, TSE_POSIX_MAX_ATTEMPTS);
        if (max_parallel && (int)n > *max_parallel)
            *max_parallel = (int)n;
        dl = tse_posix_conn_deadline(c);
        now = tse_posix_now_ms();
        if (dl != TSE_TIME_NEVER)
            timeout = dl <= now ? 0 : (int)(dl - now < 50 ? dl - now : 50);
        (void)poll(fds, (nfds_t)n, timeout);
    }
    return rc;
}

TT_TEST(falls_back_after_refusal)
{
    uint16_t good = 0;
    int lfd = tu_listen4(&good, 4);
    tse_port_conn *c = NULL;
    TT_ASSERT(lfd >= 0);
    fake_ports[0] = closed_port();
    fake_ports[1] = closed_port();
    fake_ports[2] = good;
    n_fake = 3;
    TT_EQ_INT(P->connect_start(P->user, "multi.test", 443, &c), TSE_OK);
    TT_EQ_INT(drive(c, NULL), TSE_OK);
    TT_EQ_INT(peer_port(tse_posix_conn_fd(c)), good);
    P->close(P->user, c);
    close(lfd);
}

TT_TEST(all_refused)
{
    tse_port_conn *c = NULL;
    int rc;
    fake_ports[0] = closed_port();
    fake_ports[1] = closed_port();
    n_fake = 2;
    rc = P->connect_start(P->user, "multi.test", 443, &c);
    if (rc == TSE_OK) {
        rc = drive(c, NULL);
        TT_EQ_INT(P->connect_poll(P->user, c), rc); /* stays failed */
        P->close(P->user, c);
    }
    TT_EQ_INT(rc, TSE_ERR_TRANSPORT_REFUSED);
}

TT_TEST(parallel_attempt_when_first_hangs)
{
    /* first address: accept queue full, our SYN is dropped (hangs);
     * second: listening.  The second must be tried after the attempt
     * delay while the first is still pending, and win. */
    uint16_t full = 0, good = 0;
    int lfull = tu_listen4(&full, 0), lgood = tu_listen4(&good, 4), filler, maxp = 0, rc;
    struct sockaddr_in a;
    tse_port_conn *c = NULL;
    tse_time_ms t0, el;
    TT_ASSERT(lfull >= 0 && lgood >= 0);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons(full);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    filler = socket(AF_INET, SOCK_STREAM, 0);
    TT_EQ_INT(connect(filler, (struct sockaddr *)&a, sizeof a), 0);
    fake_ports[0] = full;
    fake_ports[1] = good;
    n_fake = 2;
    t0 = tse_posix_now_ms();
    TT_EQ_INT(P->connect_start(P->user, "multi.test", 443, &c), TSE_OK);
    /* one attempt in flight, the next one scheduled */
    TT_ASSERT(tse_posix_conn_deadline(c) != TSE_TIME_NEVER);
    TT_ASSERT(tse_posix_conn_deadline(c) >= t0 + TSE_POSIX_ATTEMPT_DELAY_MS);
    rc = drive(c, &maxp);
    el = tse_posix_now_ms() - t0;
    TT_EQ_INT(rc, TSE_OK);
    TT_EQ_INT(peer_port(tse_posix_conn_fd(c)), good);
    if (maxp == 2) {
        /* the hang was real: both attempts were in flight together */
        TT_ASSERT(el >= TSE_POSIX_ATTEMPT_DELAY_MS - 5);
        TT_ASSERT(el < 2000);
    } else {
        fprintf(stderr, "note: the first attempt did not hang on this kernel "
                "(%d in flight at most)\n", maxp);
    }
    P->close(P->user, c);
    close(filler);
    close(lfull);
    close(lgood);
}

TT_TEST(resolver_failure)
{
    tse_port_conn *c = NULL;
    int before = resolver_calls;
    n_fake = 0;
    /* the name resolves in a thread: the failure comes from connect_poll() */
    TT_EQ_INT(P->connect_start(P->user, "multi.test", 443, &c), TSE_OK);
    TT_EQ_INT(drive(c, NULL), TSE_ERR_TRANSPORT_RESOLVE);
    TT_EQ_INT(P->connect_poll(P->user, c), TSE_ERR_TRANSPORT_RESOLVE); /* stays failed */
    TT_EQ_INT(tse_posix_conn_fd(c), -1);
    P->close(P->user, c);
    TT_EQ_INT(P->connect_start(P->user, "other.test", 443, &c), TSE_OK);
    TT_EQ_INT(drive(c, NULL), TSE_ERR_TRANSPORT_RESOLVE);
    P->close(P->user, c);
    TT_EQ_INT(resolver_calls, before + 2); /* our resolver was the one used */
}

int main(void)
{
    P = tse_posix_port();
    TT_RUN(falls_back_after_refusal);
    TT_RUN(all_refused);
    TT_RUN(parallel_attempt_when_first_hangs);
    TT_RUN(resolver_failure);
    return TT_DONE();
}
