/* tse_posix_set_socket_hook(): called with the new socket and its
 * destination before connect(); a refusal fails the attempt with
 * TSE_ERR_TRANSPORT_IO; NULL removes it.  Loopback sockets only; every
 * wait is a bounded poll(). */
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE 1
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tse_posix.h"
#include "sock_util.h"
#include "tt.h"

static const tse_port *P;

struct seen {
    int calls;
    int fd;
    int family;
    uint16_t port;
    uint32_t addr;
    int was_nonblocking;
    int refuse;
};

static int hook(void *user, int fd, const struct sockaddr *dst, socklen_t len)
{
    struct seen *s = user;
    s->calls++;
    s->fd = fd;
    s->family = dst->sa_family;
    if (dst->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)(const void *)dst;
        s->port = ntohs(a->sin_port);
        s->addr = ntohl(a->sin_addr.s_addr);
    }
    s->was_nonblocking = (fcntl(fd, F_GETFL) & O_NONBLOCK) != 0;
    return s->refuse ? -1 : 0;
}


static int finish_connect(tse_port_conn *c)
{
    int i, rc = TSE_ERR_WOULD_BLOCK;
    for (i = 0; i < 500 && rc == TSE_ERR_WOULD_BLOCK; i++) {
        struct pollfd fds[TSE_POSIX_MAX_ATTEMPTS];
        size_t n = tse_posix_conn_pollfds(c, fds, TSE_POSIX_MAX_ATTEMPTS);
        rc = P->connect_poll(P->user, c);
        if (rc != TSE_ERR_WOULD_BLOCK)
            break;
        (void)poll(fds, (nfds_t)n, 10);
    }
    return rc;
}

TT_TEST(hook_sees_socket_before_connect)
{
    struct seen s;
    uint16_t port = 0;
    tse_port_conn *c = NULL;
    int lfd = tu_listen4(&port, 4);
    TT_ASSERT(lfd >= 0);
    memset(&s, 0, sizeof s);
    s.fd = -1;
    tse_posix_set_socket_hook(hook, &s);
    TT_EQ_INT(P->connect_start(P->user, "127.0.0.1", port, &c), TSE_OK);
    TT_EQ_INT(finish_connect(c), TSE_OK);
    TT_EQ_INT(s.calls, 1);
    TT_EQ_INT(s.family, AF_INET);
    TT_EQ_INT(s.port, port);
    TT_EQ_INT(s.addr, INADDR_LOOPBACK);
    TT_ASSERT(s.was_nonblocking); /* options are set before the hook */
    TT_EQ_INT(s.fd, tse_posix_conn_fd(c)); /* the very socket that connected */
    P->close(P->user, c);
    tse_posix_set_socket_hook(NULL, NULL);
    close(lfd);
}

TT_TEST(hook_refusal_fails_the_attempt)
{
    struct seen s;
    uint16_t port = 0;
    tse_port_conn *c = NULL;
    int lfd = tu_listen4(&port, 4), rc, a;
    TT_ASSERT(lfd >= 0);
    memset(&s, 0, sizeof s);
    s.refuse = 1;
    tse_posix_set_socket_hook(hook, &s);
    rc = P->connect_start(P->user, "127.0.0.1", port, &c);
    /* the only address was refused: connect_start itself fails */
    TT_EQ_INT(rc, TSE_ERR_TRANSPORT_IO);
    TT_EQ_INT(s.calls, 1);
    /* nothing reached the listener */
    {
        struct pollfd p;
        p.fd = lfd;
        p.events = POLLIN;
        p.revents = 0;
        TT_EQ_INT(poll(&p, 1, 100), 0);
    }
    /* removed: connects again, the hook is not called */
    tse_posix_set_socket_hook(NULL, NULL);
    c = NULL;
    TT_EQ_INT(P->connect_start(P->user, "127.0.0.1", port, &c), TSE_OK);
    TT_EQ_INT(finish_connect(c), TSE_OK);
    TT_EQ_INT(s.calls, 1);
    a = accept(lfd, NULL, NULL);
    TT_ASSERT(a >= 0);
    close(a);
    P->close(P->user, c);
    close(lfd);
}

int main(void)
{
    P = tse_posix_port();
    TT_RUN(hook_sees_socket_before_connect);
    TT_RUN(hook_refusal_fails_the_attempt);
    return TT_DONE();
}
