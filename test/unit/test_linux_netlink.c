/* The Linux TUN port's pure parts: rtnetlink request building and reply
 * parsing (port/linux/tun_netlink.h), netmask -> prefix length, --route
 * parsing, interface names.  No kernel involved. */
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE 1
#include <errno.h>
#include <string.h>

#include <arpa/inet.h>
#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include "tse_tun.h"
#include "tt.h"
#include "tun_netlink.h"

/* aligned buffers for the header casts */
typedef union { struct nlmsghdr h; uint8_t b[TSE_NL_MSG_MAX]; } msgbuf;

/* Find attribute @p type in the message (after @p fixed bytes of family
 * header); returns its payload and length, or NULL. */
static const uint8_t *attr(const msgbuf *m, size_t fixed, unsigned type, size_t *len)
{
    size_t off = NLMSG_LENGTH(0) + NLMSG_ALIGN(fixed);
    while (off + sizeof(struct rtattr) <= m->h.nlmsg_len) {
        const struct rtattr *a = (const struct rtattr *)(const void *)(m->b + off);
        if (a->rta_len < sizeof *a || off + a->rta_len > m->h.nlmsg_len)
            return NULL;
        if (a->rta_type == type) {
            *len = a->rta_len - RTA_LENGTH(0);
            return m->b + off + RTA_LENGTH(0);
        }
        off += RTA_ALIGN(a->rta_len);
    }
    return NULL;
}

TT_TEST(prefix_from_mask)
{
    uint8_t m4[4] = { 255, 255, 255, 0 }, m16[16];
    TT_EQ_INT(tse_tun_prefix_from_mask(m4, 4), 24);
    memset(m4, 255, 4);
    TT_EQ_INT(tse_tun_prefix_from_mask(m4, 4), 32);
    memset(m4, 0, 4);
    TT_EQ_INT(tse_tun_prefix_from_mask(m4, 4), 0);
    m4[0] = 255; m4[1] = 240;
    TT_EQ_INT(tse_tun_prefix_from_mask(m4, 4), 12);
    m4[1] = 0xF1; /* a hole: not a netmask */
    TT_EQ_INT(tse_tun_prefix_from_mask(m4, 4), -1);
    m4[0] = 0; m4[1] = 255; /* leading zero */
    TT_EQ_INT(tse_tun_prefix_from_mask(m4, 4), -1);
    memset(m16, 0, 16);
    memset(m16, 0xFF, 8);
    TT_EQ_INT(tse_tun_prefix_from_mask(m16, 16), 64);
    m16[8] = 0x80;
    TT_EQ_INT(tse_tun_prefix_from_mask(m16, 16), 65);
    memset(m16, 0xFF, 16);
    TT_EQ_INT(tse_tun_prefix_from_mask(m16, 16), 128);
    m16[15] = 0xFE;
    TT_EQ_INT(tse_tun_prefix_from_mask(m16, 16), 127);
    TT_EQ_INT(tse_tun_prefix_from_mask(m16, 8), -1);
    TT_EQ_INT(tse_tun_prefix_from_mask(NULL, 4), -1);
}

TT_TEST(route_parse)
{
    tse_tun_route r;
    static const uint8_t net[4] = { 203, 0, 113, 0 };
    TT_EQ_INT(tse_tun_route_parse("default", &r), TSE_OK);
    TT_EQ_INT(r.family, 4);
    TT_EQ_INT(r.prefix_len, 0);
    TT_EQ_INT(tse_tun_route_parse("default6", &r), TSE_OK);
    TT_EQ_INT(r.family, 6);
    TT_EQ_INT(r.prefix_len, 0);
    TT_EQ_INT(tse_tun_route_parse("203.0.113.0/24", &r), TSE_OK);
    TT_EQ_INT(r.family, 4);
    TT_EQ_INT(r.prefix_len, 24);
    TT_EQ_MEM(r.addr, net, 4);
    TT_EQ_INT(tse_tun_route_parse("192.0.2.7", &r), TSE_OK);
    TT_EQ_INT(r.prefix_len, 32);
    TT_EQ_INT(tse_tun_route_parse("0.0.0.0/0", &r), TSE_OK);
    TT_EQ_INT(r.prefix_len, 0);
    TT_EQ_INT(tse_tun_route_parse("2001:db8::/32", &r), TSE_OK);
    TT_EQ_INT(r.family, 6);
    TT_EQ_INT(r.prefix_len, 32);
    TT_EQ_INT(tse_tun_route_parse("::/0", &r), TSE_OK);
    TT_EQ_INT(r.prefix_len, 0);
    /* refused */
    TT_EQ_INT(tse_tun_route_parse("203.0.113.1/24", &r), TSE_ERR_INVALID_ARG); /* host bits */
    TT_EQ_INT(tse_tun_route_parse("203.0.113.0/33", &r), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_tun_route_parse("2001:db8::/129", &r), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_tun_route_parse("2001:db8::1/64", &r), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_tun_route_parse("203.0.113.0/", &r), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_tun_route_parse("203.0.113.0/-1", &r), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_tun_route_parse("203.0.113.0/24x", &r), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_tun_route_parse("/24", &r), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_tun_route_parse("example.net/24", &r), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_tun_route_parse("", &r), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_tun_route_parse(NULL, &r), TSE_ERR_INVALID_ARG);
}

TT_TEST(names)
{
    TT_ASSERT(tse_tun_name_valid("tse0"));
    TT_ASSERT(tse_tun_name_valid("tse%d"));
    TT_ASSERT(tse_tun_name_valid("a23456789012345")); /* 15 */
    TT_ASSERT(!tse_tun_name_valid("a234567890123456")); /* 16 */
    TT_ASSERT(!tse_tun_name_valid(""));
    TT_ASSERT(!tse_tun_name_valid("."));
    TT_ASSERT(!tse_tun_name_valid(".."));
    TT_ASSERT(!tse_tun_name_valid("a/b"));
    TT_ASSERT(!tse_tun_name_valid("a:1"));
    TT_ASSERT(!tse_tun_name_valid("a b"));
    TT_ASSERT(!tse_tun_name_valid(NULL));
}

TT_TEST(build_addr)
{
    msgbuf m;
    static const uint8_t a4[4] = { 198, 18, 0, 2 }, a6[16] = { 0xfd, 0, 0x74, 0x73, [15] = 2 };
    const struct ifaddrmsg *ifa = (const struct ifaddrmsg *)NLMSG_DATA(&m.h);
    const uint8_t *p;
    size_t n, al;
    n = tse_nl_build_addr(m.b, sizeof m.b, 77, 1, AF_INET, 5, a4, 24);
    TT_ASSERT(n > 0);
    TT_EQ_INT(n, m.h.nlmsg_len);
    TT_EQ_INT(m.h.nlmsg_type, RTM_NEWADDR);
    TT_EQ_INT(m.h.nlmsg_seq, 77);
    TT_EQ_INT(m.h.nlmsg_flags, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE);
    TT_EQ_INT(ifa->ifa_family, AF_INET);
    TT_EQ_INT(ifa->ifa_prefixlen, 24);
    TT_EQ_INT(ifa->ifa_index, 5);
    TT_EQ_INT(ifa->ifa_flags, 0);
    p = attr(&m, sizeof *ifa, IFA_LOCAL, &al);
    TT_ASSERT(p && al == 4);
    TT_EQ_MEM(p, a4, 4);
    p = attr(&m, sizeof *ifa, IFA_ADDRESS, &al);
    TT_ASSERT(p && al == 4);
    TT_EQ_MEM(p, a4, 4);
    /* IPv6: no DAD; deletion has no CREATE/REPLACE */
    n = tse_nl_build_addr(m.b, sizeof m.b, 78, 0, AF_INET6, 5, a6, 64);
    TT_ASSERT(n > 0);
    TT_EQ_INT(m.h.nlmsg_type, RTM_DELADDR);
    TT_EQ_INT(m.h.nlmsg_flags, NLM_F_REQUEST | NLM_F_ACK);
    TT_EQ_INT(ifa->ifa_flags, IFA_F_NODAD);
    p = attr(&m, sizeof *ifa, IFA_LOCAL, &al);
    TT_ASSERT(p && al == 16);
    TT_EQ_MEM(p, a6, 16);
    /* bad arguments and a buffer too small */
    TT_EQ_INT(tse_nl_build_addr(m.b, sizeof m.b, 1, 1, AF_INET, 5, a4, 33), 0);
    TT_EQ_INT(tse_nl_build_addr(m.b, sizeof m.b, 1, 1, AF_INET, 0, a4, 24), 0);
    TT_EQ_INT(tse_nl_build_addr(m.b, sizeof m.b, 1, 1, 99, 5, a4, 24), 0);
    TT_EQ_INT(tse_nl_build_addr(m.b, 30, 1, 1, AF_INET, 5, a4, 24), 0);
}

TT_TEST(build_route)
{
    msgbuf m;
    static const uint8_t half[4] = { 128, 0, 0, 0 }, gw[4] = { 198, 51, 100, 254 };
    const struct rtmsg *rt = (const struct rtmsg *)NLMSG_DATA(&m.h);
    const uint8_t *p;
    uint32_t oif;
    size_t n, al;
    n = tse_nl_build_route(m.b, sizeof m.b, 9, TSE_NL_ADD_REPLACE, AF_INET, half, 1, 7, NULL);
    TT_ASSERT(n > 0);
    TT_EQ_INT(m.h.nlmsg_type, RTM_NEWROUTE);
    TT_EQ_INT(m.h.nlmsg_flags, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE);
    TT_EQ_INT(rt->rtm_family, AF_INET);
    TT_EQ_INT(rt->rtm_dst_len, 1);
    TT_EQ_INT(rt->rtm_table, RT_TABLE_MAIN);
    TT_EQ_INT(rt->rtm_protocol, RTPROT_STATIC);
    TT_EQ_INT(rt->rtm_type, RTN_UNICAST);
    TT_EQ_INT(rt->rtm_scope, RT_SCOPE_LINK);
    p = attr(&m, sizeof *rt, RTA_DST, &al);
    TT_ASSERT(p && al == 4);
    TT_EQ_MEM(p, half, 4);
    p = attr(&m, sizeof *rt, RTA_OIF, &al);
    TT_ASSERT(p && al == 4);
    memcpy(&oif, p, 4);
    TT_EQ_INT(oif, 7);
    TT_ASSERT(attr(&m, sizeof *rt, RTA_GATEWAY, &al) == NULL);
    /* an exclusion: via a gateway, universe scope, must not exist yet */
    n = tse_nl_build_route(m.b, sizeof m.b, 10, TSE_NL_ADD_EXCL, AF_INET, gw, 32, 3, gw);
    TT_ASSERT(n > 0);
    TT_EQ_INT(m.h.nlmsg_flags, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL);
    TT_EQ_INT(rt->rtm_scope, RT_SCOPE_UNIVERSE);
    p = attr(&m, sizeof *rt, RTA_GATEWAY, &al);
    TT_ASSERT(p && al == 4);
    TT_EQ_MEM(p, gw, 4);
    /* deletion matches any scope */
    n = tse_nl_build_route(m.b, sizeof m.b, 11, TSE_NL_DEL, AF_INET, half, 1, 7, NULL);
    TT_ASSERT(n > 0);
    TT_EQ_INT(m.h.nlmsg_type, RTM_DELROUTE);
    TT_EQ_INT(m.h.nlmsg_flags, NLM_F_REQUEST | NLM_F_ACK);
    TT_EQ_INT(rt->rtm_scope, RT_SCOPE_NOWHERE);
    TT_EQ_INT(tse_nl_build_route(m.b, sizeof m.b, 1, 5, AF_INET, half, 1, 7, NULL), 0);
    TT_EQ_INT(tse_nl_build_route(m.b, sizeof m.b, 1, TSE_NL_DEL, AF_INET6, half, 129, 7, NULL), 0);
}

TT_TEST(build_link_and_getroute)
{
    msgbuf m;
    const struct ifinfomsg *ifi = (const struct ifinfomsg *)NLMSG_DATA(&m.h);
    const struct rtmsg *rt = (const struct rtmsg *)NLMSG_DATA(&m.h);
    static const uint8_t dst[4] = { 192, 0, 2, 1 };
    const uint8_t *p;
    uint32_t mtu;
    size_t n, al;
    n = tse_nl_build_link(m.b, sizeof m.b, 3, 4, 1380, 1);
    TT_ASSERT(n > 0);
    TT_EQ_INT(m.h.nlmsg_type, RTM_NEWLINK);
    TT_EQ_INT(ifi->ifi_index, 4);
    TT_EQ_INT(ifi->ifi_flags & IFF_UP, IFF_UP);
    TT_EQ_INT(ifi->ifi_change, IFF_UP);
    p = attr(&m, sizeof *ifi, IFLA_MTU, &al);
    TT_ASSERT(p && al == 4);
    memcpy(&mtu, p, 4);
    TT_EQ_INT(mtu, 1380);
    n = tse_nl_build_link(m.b, sizeof m.b, 3, 4, 0, 0); /* neither */
    TT_ASSERT(n > 0);
    TT_EQ_INT(ifi->ifi_change, 0);
    TT_ASSERT(attr(&m, sizeof *ifi, IFLA_MTU, &al) == NULL);
    /* address generation "none": nested IFLA_AF_SPEC / AF_INET6 */
    n = tse_nl_build_addrgen_none(m.b, sizeof m.b, 4, 4);
    TT_ASSERT(n > 0);
    p = attr(&m, sizeof *ifi, IFLA_AF_SPEC, &al);
    TT_ASSERT(p && al == 12); /* AF_INET6 header 4 + (4 + 1 padded to 8) */
    {
        const struct rtattr *in6 = (const struct rtattr *)(const void *)p;
        const struct rtattr *mode = (const struct rtattr *)(const void *)(p + 4);
        TT_EQ_INT(in6->rta_type, AF_INET6);
        TT_EQ_INT(in6->rta_len, 12);
        TT_EQ_INT(mode->rta_type, IFLA_INET6_ADDR_GEN_MODE);
        TT_EQ_INT(mode->rta_len, 5);
        TT_EQ_INT(p[8], IN6_ADDR_GEN_MODE_NONE);
    }
    n = tse_nl_build_getroute(m.b, sizeof m.b, 5, AF_INET, dst);
    TT_ASSERT(n > 0);
    TT_EQ_INT(m.h.nlmsg_type, RTM_GETROUTE);
    TT_EQ_INT(m.h.nlmsg_flags, NLM_F_REQUEST);
    TT_EQ_INT(rt->rtm_dst_len, 32);
    p = attr(&m, sizeof *rt, RTA_DST, &al);
    TT_ASSERT(p && al == 4);
    TT_EQ_MEM(p, dst, 4);
}

/* A reply buffer: NLMSG_ERROR for @p seq with @p error, after an
 * unrelated message. */
static size_t make_ack(uint8_t *b, uint32_t seq, int error)
{
    struct nlmsghdr *h = (struct nlmsghdr *)(void *)b;
    struct nlmsgerr *e;
    size_t off;
    memset(b, 0, 256);
    h->nlmsg_len = NLMSG_LENGTH(4);
    h->nlmsg_type = RTM_NEWLINK;
    h->nlmsg_seq = seq + 100;
    off = NLMSG_ALIGN(h->nlmsg_len);
    h = (struct nlmsghdr *)(void *)(b + off);
    h->nlmsg_len = NLMSG_LENGTH(sizeof *e);
    h->nlmsg_type = NLMSG_ERROR;
    h->nlmsg_seq = seq;
    e = (struct nlmsgerr *)NLMSG_DATA(h);
    e->error = error;
    return off + NLMSG_ALIGN(h->nlmsg_len);
}

TT_TEST(parse_ack)
{
    union { struct nlmsghdr h; uint8_t b[256]; } r;
    size_t n;
    int err = -1;
    n = make_ack(r.b, 42, 0);
    TT_EQ_INT(tse_nl_parse_ack(r.b, n, 42, &err), 1);
    TT_EQ_INT(err, 0);
    n = make_ack(r.b, 42, -EEXIST);
    TT_EQ_INT(tse_nl_parse_ack(r.b, n, 42, &err), 1);
    TT_EQ_INT(err, EEXIST);
    TT_EQ_INT(tse_nl_parse_ack(r.b, n, 43, &err), 0); /* someone else's */
    /* truncated: the error message cut in the middle */
    TT_EQ_INT(tse_nl_parse_ack(r.b, n - 4, 42, &err), -1);
    /* a length field that lies */
    r.h.nlmsg_len = 4000;
    TT_EQ_INT(tse_nl_parse_ack(r.b, n, 42, &err), -1);
    r.h.nlmsg_len = 8; /* below a header */
    TT_EQ_INT(tse_nl_parse_ack(r.b, n, 42, &err), -1);
}

TT_TEST(parse_route)
{
    union { struct nlmsghdr h; uint8_t b[256]; } r;
    struct rtmsg *rt;
    struct rtattr *a;
    static const uint8_t gw[4] = { 198, 51, 100, 254 };
    uint32_t oif = 6;
    tse_nl_route out;
    int err = 0;
    size_t off;
    memset(r.b, 0, sizeof r.b);
    r.h.nlmsg_type = RTM_NEWROUTE;
    r.h.nlmsg_seq = 7;
    rt = (struct rtmsg *)NLMSG_DATA(&r.h);
    rt->rtm_family = AF_INET;
    rt->rtm_type = RTN_UNICAST;
    off = NLMSG_LENGTH(sizeof *rt);
    a = (struct rtattr *)(void *)(r.b + off);
    a->rta_type = RTA_OIF;
    a->rta_len = RTA_LENGTH(4);
    memcpy(RTA_DATA(a), &oif, 4);
    off += RTA_ALIGN(a->rta_len);
    a = (struct rtattr *)(void *)(r.b + off);
    a->rta_type = RTA_GATEWAY;
    a->rta_len = RTA_LENGTH(4);
    memcpy(RTA_DATA(a), gw, 4);
    off += RTA_ALIGN(a->rta_len);
    r.h.nlmsg_len = (uint32_t)off;
    TT_EQ_INT(tse_nl_parse_route(r.b, off, 7, AF_INET, &out, &err), 1);
    TT_EQ_INT(out.oif, 6);
    TT_EQ_INT(out.has_gw, 1);
    TT_EQ_MEM(out.gw, gw, 4);
    TT_EQ_INT(out.type, RTN_UNICAST);
    TT_EQ_INT(tse_nl_parse_route(r.b, off, 8, AF_INET, &out, &err), 0);
    /* wrong family in the answer: malformed */
    TT_EQ_INT(tse_nl_parse_route(r.b, off, 7, AF_INET6, &out, &err), -1);
    /* an attribute running past the message */
    a->rta_len = 40;
    TT_EQ_INT(tse_nl_parse_route(r.b, off, 7, AF_INET, &out, &err), -1);
    /* an error answer: ENETUNREACH */
    off = make_ack(r.b, 7, -ENETUNREACH);
    TT_EQ_INT(tse_nl_parse_route(r.b, off, 7, AF_INET, &out, &err), 2);
    TT_EQ_INT(err, ENETUNREACH);
}

TT_TEST(error_names)
{
    /* the new range has names of its own */
    TT_ASSERT(strcmp(tse_strerror(TSE_ERR_NETLINK_ROUTE), "unknown error") != 0);
    TT_ASSERT(strcmp(tse_strerror(TSE_ERR_TUN_NAME), tse_strerror(TSE_ERR_TUN_OPEN)) != 0);
    TT_ASSERT(strcmp(tse_strerror(TSE_ERR_NO_ROUTE), "unknown error") != 0);
    TT_ASSERT(!tse_err_is_retryable(TSE_ERR_TUN_PERMISSION));
}

int main(void)
{
    TT_RUN(prefix_from_mask);
    TT_RUN(route_parse);
    TT_RUN(names);
    TT_RUN(build_addr);
    TT_RUN(build_route);
    TT_RUN(build_link_and_getroute);
    TT_RUN(parse_ack);
    TT_RUN(parse_route);
    TT_RUN(error_names);
    return TT_DONE();
}
