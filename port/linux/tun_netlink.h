/* rtnetlink requests of the Linux TUN port (internal): building and
 * parsing are pure functions over byte buffers (unit-tested without a
 * kernel), tse_nl_transact() / tse_nl_get_route() talk to the kernel. */
#ifndef TSE_TUN_NETLINK_H
#define TSE_TUN_NETLINK_H

#include <stddef.h>
#include <stdint.h>

/* Room for any request built here. */
#define TSE_NL_MSG_MAX 256

typedef struct tse_nl {
    int fd;
    uint32_t seq;
} tse_nl;

/* What RTM_GETROUTE answered for a host. */
typedef struct tse_nl_route {
    int oif;              /* output interface index (0: none) */
    int has_gw;
    uint8_t gw[16];       /* gateway, if has_gw */
    unsigned char type;   /* RTN_UNICAST, RTN_LOCAL, RTN_UNREACHABLE... */
} tse_nl_route;

/* Route request kinds for tse_nl_build_route(). */
enum { TSE_NL_DEL = 0, TSE_NL_ADD_REPLACE = 1, TSE_NL_ADD_EXCL = 2 };

/* family is AF_INET or AF_INET6 in all of these.  Each returns the message
 * length, or 0 if it does not fit @p cap or an argument is out of range. */
size_t tse_nl_build_addr(uint8_t *buf, size_t cap, uint32_t seq, int add,
                         int family, int ifindex, const uint8_t *addr,
                         int plen);
size_t tse_nl_build_route(uint8_t *buf, size_t cap, uint32_t seq, int kind,
                          int family, const uint8_t *dst, int plen, int oif,
                          const uint8_t *gw);
size_t tse_nl_build_link(uint8_t *buf, size_t cap, uint32_t seq, int ifindex,
                         unsigned mtu, int up);
/* RTM_NEWLINK setting IPv6 address generation to "none": no link-local
 * address, so the kernel sends no router solicitations or MLD reports
 * into the tunnel (the TSCF assigns the only IPv6 address). */
size_t tse_nl_build_addrgen_none(uint8_t *buf, size_t cap, uint32_t seq,
                                 int ifindex);
size_t tse_nl_build_getroute(uint8_t *buf, size_t cap, uint32_t seq,
                             int family, const uint8_t *dst);

/* Look for the NLMSG_ERROR acknowledging @p seq in a received buffer.
 * Returns 1 (found; *err = the kernel's errno, 0 = success), 0 (not in
 * this buffer), -1 (malformed). */
int tse_nl_parse_ack(const uint8_t *buf, size_t len, uint32_t seq, int *err);

/* Look for the answer to RTM_GETROUTE @p seq.  Returns 1 (a route, in
 * *out), 2 (an error, *err = errno), 0 (not in this buffer), -1
 * (malformed). */
int tse_nl_parse_route(const uint8_t *buf, size_t len, uint32_t seq,
                       int family, tse_nl_route *out, int *err);

/* Open / close a NETLINK_ROUTE socket (CLOEXEC, 2 s receive timeout).
 * Returns 0 or -errno. */
int tse_nl_open(tse_nl *nl);
void tse_nl_close(tse_nl *nl);

/* Send one request built with sequence number tse_nl_next_seq() and wait
 * for its acknowledgement.  Returns 0 (*kerr = the kernel's errno, 0 on
 * success) or -errno if the socket failed or no reply came in time. */
uint32_t tse_nl_next_seq(tse_nl *nl);
int tse_nl_transact(tse_nl *nl, const uint8_t *msg, size_t len, int *kerr);

/* RTM_GETROUTE for one host.  Returns 0 (*kerr 0 and *out filled, or
 * *kerr = errno such as ENETUNREACH) or -errno (socket failure). */
int tse_nl_get_route(tse_nl *nl, int family, const uint8_t *dst,
                     tse_nl_route *out, int *kerr);

#endif
