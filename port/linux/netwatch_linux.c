/* Network changes from rtnetlink (tse_tun.h, "Network changes"): the
 * identity of the network the outer connection uses is the IPv4 default
 * route of the main table outside the tunnel's own interface (its output
 * interface and gateway) and that interface's first IPv4 address.  Route,
 * address and link events restart a settle timer; when it fires the
 * identity is computed again and, if it differs from the last one, the
 * callback runs (tse_tunnel_network_changed()). */
#include "posix_feature.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/socket.h>
#include <sys/timerfd.h>

#include "tse_tun.h"
#include "tun_netlink.h"

#define NW_ID_LEN 12 /* ifindex, gateway, address: 4 bytes each */

struct tse_netwatch {
    int ev_fd;                 /* subscribed to route/address/link groups */
    int timer_fd;              /* the settle timer */
    tse_posix_driver *drv;     /* set by attach */
    char exclude[IF_NAMESIZE]; /* the tunnel's own interface, or "" */
    uint32_t settle_ms;
    tse_netwatch_cb cb;
    void *user;
    int have;                  /* id holds the last identity */
    uint8_t id[NW_ID_LEN];
    char desc[96];
    unsigned long changes;     /* callbacks run */
};

/* One dump request (RTM_GETROUTE or RTM_GETADDR, AF_INET); the replies
 * are handed to fn until NLMSG_DONE.  0, or -errno. */
static int dump(tse_nl *nl, int type, void (*fn)(void *arg, const struct nlmsghdr *h),
                void *arg)
{
    struct {
        struct nlmsghdr h;
        struct rtgenmsg g;
    } req;
    static uint8_t buf[16384];
    uint32_t seq = tse_nl_next_seq(nl);
    int rounds;

    memset(&req, 0, sizeof req);
    req.h.nlmsg_len = NLMSG_LENGTH(sizeof req.g);
    req.h.nlmsg_type = (unsigned short)type;
    req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    req.h.nlmsg_seq = seq;
    req.g.rtgen_family = AF_INET;
    if (send(nl->fd, &req, req.h.nlmsg_len, 0) < 0)
        return -errno;
    for (rounds = 0; rounds < 256; rounds++) {
        ssize_t n = recv(nl->fd, buf, sizeof buf, 0); /* 2 s timeout */
        struct nlmsghdr *h;
        size_t left;
        if (n < 0)
            return errno == EINTR ? -EAGAIN : -errno;
        left = (size_t)n;
        for (h = (struct nlmsghdr *)(void *)buf; NLMSG_OK(h, left); h = NLMSG_NEXT(h, left)) {
            if (h->nlmsg_seq != seq)
                continue;
            if (h->nlmsg_type == NLMSG_DONE)
                return 0;
            if (h->nlmsg_type == NLMSG_ERROR)
                return -EIO;
            fn(arg, h);
        }
    }
    return -EIO;
}

struct pick {
    int exclude;           /* ifindex not to use */
    int oif;
    uint32_t prio;
    uint8_t gw[4];
    int has_addr;
    uint8_t addr[4];
};

static void on_route(void *arg, const struct nlmsghdr *h)
{
    struct pick *p = arg;
    const struct rtmsg *r = NLMSG_DATA(h);
    const struct rtattr *a;
    int len = (int)RTM_PAYLOAD(h), oif = 0;
    uint32_t prio = 0;
    uint8_t gw[4] = { 0, 0, 0, 0 };
    if (h->nlmsg_type != RTM_NEWROUTE || r->rtm_family != AF_INET || r->rtm_dst_len != 0 ||
        r->rtm_table != RT_TABLE_MAIN || r->rtm_type != RTN_UNICAST)
        return;
    for (a = RTM_RTA(r); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
        if (a->rta_type == RTA_OIF && RTA_PAYLOAD(a) >= 4)
            memcpy(&oif, RTA_DATA(a), 4);
        else if (a->rta_type == RTA_GATEWAY && RTA_PAYLOAD(a) >= 4)
            memcpy(gw, RTA_DATA(a), 4);
        else if (a->rta_type == RTA_PRIORITY && RTA_PAYLOAD(a) >= 4)
            memcpy(&prio, RTA_DATA(a), 4);
    }
    if (oif == 0 || oif == p->exclude || (p->oif != 0 && prio >= p->prio))
        return;
    p->oif = oif;
    p->prio = prio;
    memcpy(p->gw, gw, 4);
}

static void on_addr(void *arg, const struct nlmsghdr *h)
{
    struct pick *p = arg;
    const struct ifaddrmsg *m = NLMSG_DATA(h);
    const struct rtattr *a;
    int len = (int)IFA_PAYLOAD(h);
    if (h->nlmsg_type != RTM_NEWADDR || m->ifa_family != AF_INET ||
        (int)m->ifa_index != p->oif || p->has_addr || (m->ifa_flags & IFA_F_SECONDARY))
        return;
    for (a = IFA_RTA(m); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
        if ((a->rta_type == IFA_LOCAL || a->rta_type == IFA_ADDRESS) && RTA_PAYLOAD(a) >= 4) {
            memcpy(p->addr, RTA_DATA(a), 4);
            p->has_addr = 1;
            if (a->rta_type == IFA_LOCAL)
                break;
        }
    }
}

int tse_netwatch_identity(tse_netwatch *w, uint8_t *id, size_t cap, size_t *len,
                          char *desc, size_t desc_cap)
{
    tse_nl nl;
    struct pick p;
    char ifn[IF_NAMESIZE], g[INET_ADDRSTRLEN], s[INET_ADDRSTRLEN];
    uint32_t idx;
    int rc;
    if (!w || !id || !len || cap < NW_ID_LEN)
        return TSE_ERR_INVALID_ARG;
    memset(&p, 0, sizeof p);
    p.exclude = w->exclude[0] ? (int)if_nametoindex(w->exclude) : 0;
    if (tse_nl_open(&nl) != 0)
        return TSE_ERR_NETLINK;
    rc = dump(&nl, RTM_GETROUTE, on_route, &p);
    if (rc == 0 && p.oif != 0)
        rc = dump(&nl, RTM_GETADDR, on_addr, &p);
    tse_nl_close(&nl);
    if (rc != 0)
        return TSE_ERR_NETLINK;
    if (p.oif == 0 || !p.has_addr)
        return TSE_ERR_WOULD_BLOCK; /* no network now */
    idx = (uint32_t)p.oif;
    memcpy(id, &idx, 4);
    memcpy(id + 4, p.gw, 4);
    memcpy(id + 8, p.addr, 4);
    *len = NW_ID_LEN;
    if (desc && desc_cap) {
        if (!if_indextoname(idx, ifn))
            snprintf(ifn, sizeof ifn, "if%u", (unsigned)idx);
        inet_ntop(AF_INET, p.gw, g, sizeof g);
        inet_ntop(AF_INET, p.addr, s, sizeof s);
        snprintf(desc, desc_cap, "%s via %s src %s", ifn, g, s);
    }
    return TSE_OK;
}

int tse_netwatch_new(tse_netwatch **out, const char *exclude_ifname, uint32_t settle_ms,
                     tse_netwatch_cb cb, void *user)
{
    tse_netwatch *w;
    struct sockaddr_nl sa;
    size_t len = 0;
    if (!out || !cb || (exclude_ifname && strlen(exclude_ifname) >= IF_NAMESIZE))
        return TSE_ERR_INVALID_ARG;
    *out = NULL;
    w = calloc(1, sizeof *w);
    if (!w)
        return TSE_ERR_NO_MEMORY;
    w->timer_fd = -1;
    w->settle_ms = settle_ms ? settle_ms : 1;
    w->cb = cb;
    w->user = user;
    if (exclude_ifname)
        snprintf(w->exclude, sizeof w->exclude, "%s", exclude_ifname);
    w->ev_fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE);
    memset(&sa, 0, sizeof sa);
    sa.nl_family = AF_NETLINK;
    sa.nl_groups = RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV4_ROUTE;
    if (w->ev_fd < 0 || bind(w->ev_fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        tse_netwatch_del(w);
        return TSE_ERR_NETLINK;
    }
    w->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (w->timer_fd < 0) {
        tse_netwatch_del(w);
        return TSE_ERR_NO_MEMORY;
    }
    /* the network now is the baseline: only a change is reported */
    if (tse_netwatch_identity(w, w->id, sizeof w->id, &len, w->desc, sizeof w->desc) == TSE_OK)
        w->have = 1;
    *out = w;
    return TSE_OK;
}

/* An event: (re)start the settle timer. */
static void on_events(void *user, int fd, short re)
{
    tse_netwatch *w = user;
    uint8_t buf[8192];
    struct itimerspec it;
    int n, any = 0;
    (void)re;
    for (n = 0; n < 64; n++) {
        if (recv(fd, buf, sizeof buf, 0) <= 0)
            break; /* EAGAIN; ENOBUFS (overrun) also means "something changed" */
        any = 1;
    }
    if (n < 64 && errno == ENOBUFS)
        any = 1;
    if (!any)
        return;
    memset(&it, 0, sizeof it);
    it.it_value.tv_sec = w->settle_ms / 1000;
    it.it_value.tv_nsec = (long)(w->settle_ms % 1000) * 1000000L;
    (void)timerfd_settime(w->timer_fd, 0, &it, NULL);
}

/* Settled: compare and report. */
static void on_timer(void *user, int fd, short re)
{
    tse_netwatch *w = user;
    uint64_t ticks;
    uint8_t id[NW_ID_LEN];
    char desc[sizeof w->desc];
    size_t len = 0;
    (void)re;
    if (read(fd, &ticks, sizeof ticks) != (ssize_t)sizeof ticks)
        return;
    if (tse_netwatch_identity(w, id, sizeof id, &len, desc, sizeof desc) != TSE_OK)
        return; /* no network (or netlink failed): wait for the next event */
    if (w->have && memcmp(id, w->id, sizeof id) == 0)
        return; /* an event that changed nothing we use */
    memcpy(w->id, id, sizeof id);
    memcpy(w->desc, desc, sizeof desc);
    w->have = 1;
    w->changes++;
    w->cb(w->user, w->id, sizeof w->id, w->desc);
}

int tse_netwatch_attach(tse_netwatch *w, tse_posix_driver *d)
{
    int rc;
    if (!w || !d || w->drv)
        return TSE_ERR_INVALID_ARG;
    rc = tse_posix_driver_watch_fd(d, w->ev_fd, POLLIN, on_events, w);
    if (rc == TSE_OK)
        rc = tse_posix_driver_watch_fd(d, w->timer_fd, POLLIN, on_timer, w);
    if (rc != TSE_OK) {
        (void)tse_posix_driver_unwatch_fd(d, w->ev_fd);
        return rc;
    }
    w->drv = d;
    return TSE_OK;
}

unsigned long tse_netwatch_changes(const tse_netwatch *w)
{
    return w ? w->changes : 0;
}

void tse_netwatch_del(tse_netwatch *w)
{
    if (!w)
        return;
    if (w->drv) {
        (void)tse_posix_driver_unwatch_fd(w->drv, w->ev_fd);
        (void)tse_posix_driver_unwatch_fd(w->drv, w->timer_fd);
    }
    if (w->ev_fd >= 0)
        close(w->ev_fd);
    if (w->timer_fd >= 0)
        close(w->timer_fd);
    free(w);
}
