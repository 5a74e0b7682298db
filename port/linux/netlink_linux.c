/* rtnetlink for the Linux TUN port: addresses, routes, MTU / link state,
 * and the route lookup for excluded hosts.  See tun_netlink.h. */
#include "posix_feature.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <netinet/in.h>

#include "tun_netlink.h"

static size_t addr_len(int family)
{
    return family == AF_INET ? 4u : family == AF_INET6 ? 16u : 0u;
}

/* Start a message: header plus @p fixed bytes of family header, zeroed. */
static struct nlmsghdr *msg_start(uint8_t *buf, size_t cap, uint16_t type,
                                  uint16_t flags, uint32_t seq, size_t fixed)
{
    struct nlmsghdr *h = (struct nlmsghdr *)(void *)buf;
    size_t len = NLMSG_LENGTH(fixed);
    if (cap < NLMSG_ALIGN(len))
        return NULL;
    memset(buf, 0, NLMSG_ALIGN(len));
    h->nlmsg_len = (uint32_t)len;
    h->nlmsg_type = type;
    h->nlmsg_flags = flags;
    h->nlmsg_seq = seq;
    h->nlmsg_pid = 0;
    return h;
}

/* Append one attribute.  Returns 0, or -1 if it does not fit. */
static int put_attr(struct nlmsghdr *h, size_t cap, uint16_t type,
                    const void *data, size_t dlen)
{
    size_t off = NLMSG_ALIGN(h->nlmsg_len);
    size_t alen = RTA_LENGTH(dlen);
    struct rtattr *a;
    if (off + RTA_ALIGN(alen) > cap)
        return -1;
    a = (struct rtattr *)(void *)((uint8_t *)h + off);
    memset(a, 0, RTA_ALIGN(alen));
    a->rta_type = type;
    a->rta_len = (unsigned short)alen;
    if (dlen)
        memcpy(RTA_DATA(a), data, dlen);
    h->nlmsg_len = (uint32_t)(off + RTA_ALIGN(alen));
    return 0;
}

size_t tse_nl_build_addr(uint8_t *buf, size_t cap, uint32_t seq, int add,
                         int family, int ifindex, const uint8_t *addr,
                         int plen)
{
    size_t al = addr_len(family);
    struct nlmsghdr *h;
    struct ifaddrmsg *ifa;
    uint16_t flags = NLM_F_REQUEST | NLM_F_ACK;
    if (!buf || !addr || al == 0 || ifindex <= 0 || plen < 0 || plen > (int)al * 8)
        return 0;
    if (add)
        flags |= NLM_F_CREATE | NLM_F_REPLACE;
    h = msg_start(buf, cap, add ? RTM_NEWADDR : RTM_DELADDR, flags, seq, sizeof *ifa);
    if (!h)
        return 0;
    ifa = (struct ifaddrmsg *)NLMSG_DATA(h);
    ifa->ifa_family = (unsigned char)family;
    ifa->ifa_prefixlen = (unsigned char)plen;
    /* the TSCF assigned it: no duplicate address detection to wait for */
    ifa->ifa_flags = family == AF_INET6 ? IFA_F_NODAD : 0;
    ifa->ifa_scope = RT_SCOPE_UNIVERSE;
    ifa->ifa_index = (unsigned)ifindex;
    /* IFA_ADDRESS equal to IFA_LOCAL: no peer address, so the kernel adds
     * the prefix route of the subnet (as ip(8) does) */
    if (put_attr(h, cap, IFA_LOCAL, addr, al) < 0 ||
        put_attr(h, cap, IFA_ADDRESS, addr, al) < 0)
        return 0;
    return h->nlmsg_len;
}

size_t tse_nl_build_route(uint8_t *buf, size_t cap, uint32_t seq, int kind,
                          int family, const uint8_t *dst, int plen, int oif,
                          const uint8_t *gw)
{
    size_t al = addr_len(family);
    struct nlmsghdr *h;
    struct rtmsg *rt;
    uint16_t flags = NLM_F_REQUEST | NLM_F_ACK, type = RTM_NEWROUTE;
    uint32_t o;
    if (!buf || !dst || al == 0 || oif <= 0 || plen < 0 || plen > (int)al * 8)
        return 0;
    switch (kind) {
    case TSE_NL_DEL: type = RTM_DELROUTE; break;
    case TSE_NL_ADD_REPLACE: flags |= NLM_F_CREATE | NLM_F_REPLACE; break;
    case TSE_NL_ADD_EXCL: flags |= NLM_F_CREATE | NLM_F_EXCL; break;
    default: return 0;
    }
    h = msg_start(buf, cap, type, flags, seq, sizeof *rt);
    if (!h)
        return 0;
    rt = (struct rtmsg *)NLMSG_DATA(h);
    rt->rtm_family = (unsigned char)family;
    rt->rtm_dst_len = (unsigned char)plen;
    rt->rtm_table = RT_TABLE_MAIN;
    rt->rtm_protocol = RTPROT_STATIC;
    rt->rtm_type = RTN_UNICAST;
    if (kind == TSE_NL_DEL)
        rt->rtm_scope = RT_SCOPE_NOWHERE; /* matches any scope */
    else
        rt->rtm_scope = gw ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK;
    o = (uint32_t)oif;
    if (put_attr(h, cap, RTA_DST, dst, al) < 0 ||
        put_attr(h, cap, RTA_OIF, &o, sizeof o) < 0)
        return 0;
    if (gw && put_attr(h, cap, RTA_GATEWAY, gw, al) < 0)
        return 0;
    return h->nlmsg_len;
}

size_t tse_nl_build_link(uint8_t *buf, size_t cap, uint32_t seq, int ifindex,
                         unsigned mtu, int up)
{
    struct nlmsghdr *h;
    struct ifinfomsg *ifi;
    if (!buf || ifindex <= 0)
        return 0;
    h = msg_start(buf, cap, RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK, seq, sizeof *ifi);
    if (!h)
        return 0;
    ifi = (struct ifinfomsg *)NLMSG_DATA(h);
    ifi->ifi_family = AF_UNSPEC;
    ifi->ifi_index = ifindex;
    if (up) {
        ifi->ifi_flags = IFF_UP;
        ifi->ifi_change = IFF_UP;
    }
    if (mtu) {
        uint32_t m = mtu;
        if (put_attr(h, cap, IFLA_MTU, &m, sizeof m) < 0)
            return 0;
    }
    return h->nlmsg_len;
}

size_t tse_nl_build_addrgen_none(uint8_t *buf, size_t cap, uint32_t seq,
                                 int ifindex)
{
    struct nlmsghdr *h;
    struct ifinfomsg *ifi;
    struct rtattr *spec, *inet6;
    uint8_t mode = IN6_ADDR_GEN_MODE_NONE;
    if (!buf || ifindex <= 0)
        return 0;
    h = msg_start(buf, cap, RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK, seq, sizeof *ifi);
    if (!h)
        return 0;
    ifi = (struct ifinfomsg *)NLMSG_DATA(h);
    ifi->ifi_family = AF_UNSPEC;
    ifi->ifi_index = ifindex;
    /* IFLA_AF_SPEC { AF_INET6 { IFLA_INET6_ADDR_GEN_MODE: u8 } } */
    spec = (struct rtattr *)(void *)((uint8_t *)h + NLMSG_ALIGN(h->nlmsg_len));
    if (put_attr(h, cap, IFLA_AF_SPEC, NULL, 0) < 0)
        return 0;
    inet6 = (struct rtattr *)(void *)((uint8_t *)h + NLMSG_ALIGN(h->nlmsg_len));
    if (put_attr(h, cap, AF_INET6, NULL, 0) < 0 ||
        put_attr(h, cap, IFLA_INET6_ADDR_GEN_MODE, &mode, sizeof mode) < 0)
        return 0;
    inet6->rta_len = (unsigned short)((uint8_t *)h + h->nlmsg_len - (uint8_t *)inet6);
    spec->rta_len = (unsigned short)((uint8_t *)h + h->nlmsg_len - (uint8_t *)spec);
    return h->nlmsg_len;
}

size_t tse_nl_build_getroute(uint8_t *buf, size_t cap, uint32_t seq,
                             int family, const uint8_t *dst)
{
    size_t al = addr_len(family);
    struct nlmsghdr *h;
    struct rtmsg *rt;
    if (!buf || !dst || al == 0)
        return 0;
    h = msg_start(buf, cap, RTM_GETROUTE, NLM_F_REQUEST, seq, sizeof *rt);
    if (!h)
        return 0;
    rt = (struct rtmsg *)NLMSG_DATA(h);
    rt->rtm_family = (unsigned char)family;
    rt->rtm_dst_len = (unsigned char)(al * 8);
    if (put_attr(h, cap, RTA_DST, dst, al) < 0)
        return 0;
    return h->nlmsg_len;
}

/* Walk the messages of a buffer; calls @p f for each with sequence @p seq.
 * f returns non-zero to stop; that value is returned.  -1: malformed. */
static int walk(const uint8_t *buf, size_t len, uint32_t seq,
                int (*f)(const struct nlmsghdr *h, void *arg), void *arg)
{
    size_t off = 0;
    while (len - off >= sizeof(struct nlmsghdr)) {
        struct nlmsghdr h;
        int r;
        memcpy(&h, buf + off, sizeof h);
        if (h.nlmsg_len < sizeof h || h.nlmsg_len > len - off)
            return -1;
        if (h.nlmsg_seq == seq) {
            r = f((const struct nlmsghdr *)(const void *)(buf + off), arg);
            if (r)
                return r;
        }
        off += NLMSG_ALIGN(h.nlmsg_len);
        if (off > len)
            break;
    }
    return off >= len ? 0 : -1; /* trailing bytes shorter than a header */
}

static int ack_of(const struct nlmsghdr *h, void *arg)
{
    int *err = arg;
    struct nlmsgerr e;
    if (h->nlmsg_type != NLMSG_ERROR)
        return 0;
    if (h->nlmsg_len < NLMSG_LENGTH(sizeof e))
        return -1;
    memcpy(&e, NLMSG_DATA(h), sizeof e);
    *err = e.error < 0 ? -e.error : e.error;
    return 1;
}

int tse_nl_parse_ack(const uint8_t *buf, size_t len, uint32_t seq, int *err)
{
    if (!buf || !err)
        return -1;
    return walk(buf, len, seq, ack_of, err);
}

struct route_arg {
    int family;
    tse_nl_route *out;
    int *err;
};

static int route_of(const struct nlmsghdr *h, void *arg)
{
    struct route_arg *ra = arg;
    struct rtmsg rt;
    size_t al = addr_len(ra->family), off, end;
    if (h->nlmsg_type == NLMSG_ERROR) {
        int r = ack_of(h, ra->err);
        return r == 1 ? 2 : r;
    }
    if (h->nlmsg_type != RTM_NEWROUTE)
        return 0;
    if (h->nlmsg_len < NLMSG_LENGTH(sizeof rt))
        return -1;
    memcpy(&rt, NLMSG_DATA(h), sizeof rt);
    if (rt.rtm_family != ra->family)
        return -1;
    memset(ra->out, 0, sizeof *ra->out);
    ra->out->type = rt.rtm_type;
    off = NLMSG_LENGTH(0) + NLMSG_ALIGN(sizeof rt);
    end = h->nlmsg_len;
    while (end > off && end - off >= sizeof(struct rtattr)) {
        struct rtattr a;
        size_t plen;
        memcpy(&a, (const uint8_t *)h + off, sizeof a);
        if (a.rta_len < sizeof a || a.rta_len > end - off)
            return -1;
        plen = a.rta_len - RTA_LENGTH(0);
        if (a.rta_type == RTA_OIF && plen == 4) {
            uint32_t o;
            memcpy(&o, (const uint8_t *)h + off + RTA_LENGTH(0), 4);
            ra->out->oif = (int)o;
        } else if (a.rta_type == RTA_GATEWAY && plen == al) {
            memcpy(ra->out->gw, (const uint8_t *)h + off + RTA_LENGTH(0), al);
            ra->out->has_gw = 1;
        }
        off += RTA_ALIGN(a.rta_len);
    }
    return 1;
}

int tse_nl_parse_route(const uint8_t *buf, size_t len, uint32_t seq,
                       int family, tse_nl_route *out, int *err)
{
    struct route_arg ra;
    if (!buf || !out || !err || addr_len(family) == 0)
        return -1;
    ra.family = family;
    ra.out = out;
    ra.err = err;
    return walk(buf, len, seq, route_of, &ra);
}

int tse_nl_open(tse_nl *nl)
{
    struct sockaddr_nl sa;
    struct timeval tv;
    if (!nl)
        return -EINVAL;
    nl->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (nl->fd < 0)
        return -errno;
    memset(&sa, 0, sizeof sa);
    sa.nl_family = AF_NETLINK;
    tv.tv_sec = 2;
    tv.tv_usec = 0;
    if (bind(nl->fd, (struct sockaddr *)&sa, sizeof sa) < 0 ||
        setsockopt(nl->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0) {
        int e = errno;
        close(nl->fd);
        nl->fd = -1;
        return -e;
    }
    nl->seq = 1;
    return 0;
}

void tse_nl_close(tse_nl *nl)
{
    if (nl && nl->fd >= 0) {
        close(nl->fd);
        nl->fd = -1;
    }
}

uint32_t tse_nl_next_seq(tse_nl *nl)
{
    return ++nl->seq;
}

static int nl_send(tse_nl *nl, const uint8_t *msg, size_t len)
{
    struct sockaddr_nl k;
    ssize_t w;
    memset(&k, 0, sizeof k);
    k.nl_family = AF_NETLINK;
    do {
        w = sendto(nl->fd, msg, len, 0, (struct sockaddr *)&k, sizeof k);
    } while (w < 0 && errno == EINTR);
    if (w < 0)
        return -errno;
    return (size_t)w == len ? 0 : -EIO;
}

/* Receive until @p parse finds the answer; bounded in messages and by the
 * socket's receive timeout. */
static int nl_wait(tse_nl *nl, uint32_t seq,
                   int (*parse)(const uint8_t *, size_t, uint32_t, void *),
                   void *arg)
{
    /* aligned for the nlmsghdr / rtattr casts */
    union { struct nlmsghdr h; uint8_t b[8192]; } rb;
    int i;
    for (i = 0; i < 32; i++) {
        ssize_t r = recv(nl->fd, rb.b, sizeof rb.b, 0);
        int p;
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return errno == EAGAIN || errno == EWOULDBLOCK ? -ETIMEDOUT : -errno;
        }
        p = parse(rb.b, (size_t)r, seq, arg);
        if (p < 0)
            return -EBADMSG;
        if (p > 0)
            return p;
    }
    return -ETIMEDOUT;
}

static int parse_ack_cb(const uint8_t *b, size_t n, uint32_t seq, void *arg)
{
    return tse_nl_parse_ack(b, n, seq, arg);
}

int tse_nl_transact(tse_nl *nl, const uint8_t *msg, size_t len, int *kerr)
{
    struct nlmsghdr h;
    int r;
    if (!nl || nl->fd < 0 || !msg || len < sizeof h || !kerr)
        return -EINVAL;
    memcpy(&h, msg, sizeof h);
    r = nl_send(nl, msg, len);
    if (r < 0)
        return r;
    *kerr = 0;
    r = nl_wait(nl, h.nlmsg_seq, parse_ack_cb, kerr);
    return r < 0 ? r : 0;
}

struct getroute_arg {
    int family;
    tse_nl_route *out;
    int *kerr;
};

static int parse_route_cb(const uint8_t *b, size_t n, uint32_t seq, void *arg)
{
    struct getroute_arg *g = arg;
    return tse_nl_parse_route(b, n, seq, g->family, g->out, g->kerr);
}

int tse_nl_get_route(tse_nl *nl, int family, const uint8_t *dst,
                     tse_nl_route *out, int *kerr)
{
    uint8_t msg[TSE_NL_MSG_MAX];
    struct getroute_arg g;
    uint32_t seq;
    size_t n;
    int r;
    if (!nl || nl->fd < 0 || !out || !kerr)
        return -EINVAL;
    seq = tse_nl_next_seq(nl);
    n = tse_nl_build_getroute(msg, sizeof msg, seq, family, dst);
    if (n == 0)
        return -EINVAL;
    r = nl_send(nl, msg, n);
    if (r < 0)
        return r;
    *kerr = 0;
    g.family = family;
    g.out = out;
    g.kerr = kerr;
    r = nl_wait(nl, seq, parse_route_cb, &g);
    if (r < 0)
        return r;
    /* an error reply leaves *kerr set; a route leaves it 0 */
    return 0;
}
