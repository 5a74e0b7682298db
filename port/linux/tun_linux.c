/* The Linux TUN port: a TUN device as the tunnel's interface on the OS's
 * IP stack, configured through rtnetlink.  See tse_tun.h. */
#include "posix_feature.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/if_tun.h>
#include <linux/rtnetlink.h>

#include "tse_tun.h"
#include "tun_netlink.h"

/* Routes the port may add: each configured route (a default one as two
 * halves) plus the exclusions. */
#define ADDED_MAX (2 * TSE_TUN_MAX_ROUTES + TSE_TUN_MAX_EXCLUDES)
/* Largest packet read from the fd: an IPv4/IPv6 packet is at most 64 KiB. */
#define READ_BUF 65536

struct added_route {
    int family;           /* AF_INET / AF_INET6 */
    uint8_t dst[16];
    int plen;
    int oif;
    int has_gw;
    uint8_t gw[16];
    int ours;             /* we created it: delete it at the end */
    int exclusion;
};

struct tse_tun {
    int fd;
    int close_fd;
    int ifindex;
    char name[IF_NAMESIZE];
    tse_tun_config cfg;
    tse_tunnel *t;
    tse_posix_driver *drv;
    int watched;
    tse_nl nl;
    int nl_ok;
    /* what is applied */
    int have4, plen4, have6, plen6;
    uint8_t a4[4], a6[16];
    int routes_applied, routes_have6;
    struct added_route added[ADDED_MAX];
    size_t nadded;
    /* the outer path per family (0: IPv4, 1: IPv6) before the default */
    int path_known[2];
    tse_nl_route path[2];
    int last_err;
    char detail[192];
    tse_tun_stats st;
    uint8_t buf[READ_BUF];
};

/* ---- small helpers -------------------------------------------------------- */

void tse_tun_config_default(tse_tun_config *c)
{
    if (!c)
        return;
    memset(c, 0, sizeof *c);
    c->configure = 1;
    c->mtu = TSE_TUN_MTU_DEFAULT;
}

int tse_tun_name_valid(const char *name)
{
    size_t i, n;
    if (!name)
        return 0;
    n = strlen(name);
    if (n == 0 || n >= IF_NAMESIZE || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return 0;
    for (i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)name[i];
        if (ch <= ' ' || ch >= 0x7f || ch == '/' || ch == ':')
            return 0;
    }
    return 1;
}

int tse_tun_prefix_from_mask(const uint8_t *mask, size_t len)
{
    size_t i;
    int plen = 0, ended = 0;
    if (!mask || (len != 4 && len != 16))
        return -1;
    for (i = 0; i < len; i++) {
        int b;
        for (b = 7; b >= 0; b--) {
            if (mask[i] & (1u << b)) {
                if (ended)
                    return -1;
                plen++;
            } else {
                ended = 1;
            }
        }
    }
    return plen;
}

static int host_bits_zero(const uint8_t *a, size_t len, int plen)
{
    size_t i;
    for (i = 0; i < len; i++) {
        int first = (int)i * 8; /* first bit of this byte */
        uint8_t keep;
        if (plen >= first + 8)
            continue;
        keep = plen <= first ? 0 : (uint8_t)(0xFFu << (8 - (plen - first)));
        if (a[i] & (uint8_t)~keep)
            return 0;
    }
    return 1;
}

int tse_tun_route_parse(const char *s, tse_tun_route *r)
{
    char addr[INET6_ADDRSTRLEN + 1];
    const char *slash;
    size_t alen;
    long plen;
    if (!s || !r)
        return TSE_ERR_INVALID_ARG;
    memset(r, 0, sizeof *r);
    if (strcmp(s, "default") == 0) {
        r->family = 4;
        return TSE_OK;
    }
    if (strcmp(s, "default6") == 0) {
        r->family = 6;
        return TSE_OK;
    }
    slash = strchr(s, '/');
    alen = slash ? (size_t)(slash - s) : strlen(s);
    if (alen == 0 || alen >= sizeof addr)
        return TSE_ERR_INVALID_ARG;
    memcpy(addr, s, alen);
    addr[alen] = '\0';
    if (inet_pton(AF_INET, addr, r->addr) == 1)
        r->family = 4;
    else if (inet_pton(AF_INET6, addr, r->addr) == 1)
        r->family = 6;
    else
        return TSE_ERR_INVALID_ARG;
    plen = r->family == 4 ? 32 : 128;
    if (slash) {
        const char *p = slash + 1;
        long v = 0;
        if (!*p || strlen(p) > 3)
            return TSE_ERR_INVALID_ARG;
        for (; *p; p++) {
            if (*p < '0' || *p > '9')
                return TSE_ERR_INVALID_ARG;
            v = v * 10 + (*p - '0');
        }
        if (v > plen)
            return TSE_ERR_INVALID_ARG;
        plen = v;
    }
    if (!host_bits_zero(r->addr, r->family == 4 ? 4 : 16, (int)plen))
        return TSE_ERR_INVALID_ARG;
    r->prefix_len = (uint8_t)plen;
    return TSE_OK;
}

static int af_of(int family)
{
    return family == 4 ? AF_INET : AF_INET6;
}

static size_t alen_of(int af)
{
    return af == AF_INET ? 4u : 16u;
}

static void fmt_prefix(char *buf, size_t cap, int af, const uint8_t *a, int plen)
{
    char s[INET6_ADDRSTRLEN];
    if (!inet_ntop(af, a, s, sizeof s))
        snprintf(s, sizeof s, "?");
    snprintf(buf, cap, "%s/%d", s, plen);
}

static int set_err(tse_tun *tun, int code, const char *op, const char *what, int e)
{
    tun->last_err = code;
    snprintf(tun->detail, sizeof tun->detail, "%s%s%s: %s", op, what ? " " : "",
             what ? what : "", e ? strerror(e) : tse_strerror(code));
    return code;
}

static int map_errno(int e, int dflt)
{
    return e == EPERM || e == EACCES ? TSE_ERR_TUN_PERMISSION : dflt;
}

static int nl_ready(tse_tun *tun)
{
    int r;
    if (tun->nl_ok)
        return TSE_OK;
    r = tse_nl_open(&tun->nl);
    if (r < 0)
        return set_err(tun, map_errno(-r, TSE_ERR_NETLINK), "netlink socket", NULL, -r);
    tun->nl_ok = 1;
    return TSE_OK;
}

/* Send a request and check its acknowledgement.  @p ok_errno is an errno
 * that counts as success (0: none). */
static int request(tse_tun *tun, const uint8_t *msg, size_t n, int dflt,
                   const char *op, const char *what, int ok_errno, int *kerr_out)
{
    int kerr = 0, r;
    if (n == 0)
        return set_err(tun, TSE_ERR_INVALID_ARG, op, what, 0);
    r = tse_nl_transact(&tun->nl, msg, n, &kerr);
    if (kerr_out)
        *kerr_out = kerr;
    if (r < 0)
        return set_err(tun, map_errno(-r, TSE_ERR_NETLINK), op, what, -r);
    if (kerr && kerr != ok_errno)
        return set_err(tun, map_errno(kerr, dflt), op, what, kerr);
    return TSE_OK;
}

/* ---- link, addresses, routes ------------------------------------------------ */

static int link_up(tse_tun *tun)
{
    uint8_t msg[TSE_NL_MSG_MAX];
    size_t n;
    int rc = nl_ready(tun);
    if (rc != TSE_OK)
        return rc;
    /* before link up, so no link-local address is ever made; best effort
     * (a kernel without IPv6 refuses it, and then there is nothing to stop) */
    n = tse_nl_build_addrgen_none(msg, sizeof msg, tse_nl_next_seq(&tun->nl), tun->ifindex);
    (void)request(tun, msg, n, TSE_ERR_NETLINK_LINK, "RTM_NEWLINK addrgenmode", tun->name,
                  0, NULL);
    tun->last_err = 0;
    n = tse_nl_build_link(msg, sizeof msg, tse_nl_next_seq(&tun->nl), tun->ifindex,
                          tun->cfg.mtu, 1);
    return request(tun, msg, n, TSE_ERR_NETLINK_LINK, "RTM_NEWLINK", tun->name, 0, NULL);
}

static int addr_op(tse_tun *tun, int add, int af, const uint8_t *a, int plen)
{
    uint8_t msg[TSE_NL_MSG_MAX];
    char what[64];
    size_t n;
    fmt_prefix(what, sizeof what, af, a, plen);
    n = tse_nl_build_addr(msg, sizeof msg, tse_nl_next_seq(&tun->nl), add, af,
                          tun->ifindex, a, plen);
    /* deleting an address that is already gone is fine */
    return request(tun, msg, n, TSE_ERR_NETLINK_ADDR, add ? "RTM_NEWADDR" : "RTM_DELADDR",
                   what, add ? 0 : EADDRNOTAVAIL, NULL);
}

static int route_op(tse_tun *tun, int kind, const struct added_route *r, int *kerr)
{
    uint8_t msg[TSE_NL_MSG_MAX];
    char what[64];
    size_t n;
    fmt_prefix(what, sizeof what, r->family, r->dst, r->plen);
    n = tse_nl_build_route(msg, sizeof msg, tse_nl_next_seq(&tun->nl), kind, r->family,
                           r->dst, r->plen, r->oif, r->has_gw ? r->gw : NULL);
    return request(tun, msg, n, TSE_ERR_NETLINK_ROUTE,
                   kind == TSE_NL_DEL ? "RTM_DELROUTE" : "RTM_NEWROUTE", what,
                   kind == TSE_NL_DEL ? ESRCH : kind == TSE_NL_ADD_EXCL ? EEXIST : 0, kerr);
}

static struct added_route *find_added(tse_tun *tun, int af, const uint8_t *dst, int plen)
{
    size_t i;
    for (i = 0; i < tun->nadded; i++) {
        struct added_route *r = &tun->added[i];
        if (r->family == af && r->plen == plen && memcmp(r->dst, dst, alen_of(af)) == 0)
            return r;
    }
    return NULL;
}

/* Add (or replace) one route through the device and remember it. */
static int add_dev_route(tse_tun *tun, int af, const uint8_t *dst, int plen)
{
    struct added_route tmp, *r = find_added(tun, af, dst, plen);
    int rc;
    memset(&tmp, 0, sizeof tmp);
    tmp.family = af;
    memcpy(tmp.dst, dst, alen_of(af));
    tmp.plen = plen;
    tmp.oif = tun->ifindex;
    tmp.ours = 1;
    if (!r && tun->nadded == ADDED_MAX)
        return set_err(tun, TSE_ERR_BUFFER_TOO_SMALL, "route table", NULL, 0);
    rc = route_op(tun, TSE_NL_ADD_REPLACE, &tmp, NULL);
    if (rc != TSE_OK)
        return rc;
    if (!r)
        tun->added[tun->nadded++] = tmp;
    return TSE_OK;
}

static int apply_routes(tse_tun *tun)
{
    size_t i;
    for (i = 0; i < tun->cfg.nroutes; i++) {
        const tse_tun_route *cr = &tun->cfg.routes[i];
        int af = af_of(cr->family), rc;
        if (af == AF_INET6 && !tun->have6)
            continue; /* no IPv6 in this tunnel */
        if (cr->prefix_len == 0) {
            /* the default route as two halves (see tse_tun.h) */
            uint8_t half[16];
            memset(half, 0, sizeof half);
            rc = add_dev_route(tun, af, half, 1);
            if (rc == TSE_OK) {
                half[0] = 0x80;
                rc = add_dev_route(tun, af, half, 1);
            }
        } else {
            rc = add_dev_route(tun, af, cr->addr, cr->prefix_len);
        }
        if (rc != TSE_OK)
            return rc;
    }
    tun->routes_applied = 1;
    tun->routes_have6 = tun->have6;
    return TSE_OK;
}

/* Bring the device's addresses in line with @p c; add the routes again
 * when anything changed.  New before old: deleting the last IPv4 address
 * first would flush the device's IPv4 routes. */
static int apply_config(tse_tun *tun, const tse_tunnel_config *c)
{
    int p4, p6 = 0, changed = 0, rc;
    p4 = tse_tun_prefix_from_mask(c->ipv4_mask, 4);
    if (p4 < 0)
        return set_err(tun, TSE_ERR_INVALID_ARG, "IPv4 netmask", "not contiguous", 0);
    if (c->has_ipv6) {
        p6 = tse_tun_prefix_from_mask(c->ipv6_mask, 16);
        if (p6 < 0)
            return set_err(tun, TSE_ERR_INVALID_ARG, "IPv6 netmask", "not contiguous", 0);
    }
    rc = nl_ready(tun);
    if (rc != TSE_OK)
        return rc;
    if (!tun->have4 || memcmp(tun->a4, c->ipv4, 4) != 0 || tun->plen4 != p4) {
        int had = tun->have4;
        uint8_t old[4];
        int oldp = tun->plen4;
        memcpy(old, tun->a4, 4);
        rc = addr_op(tun, 1, AF_INET, c->ipv4, p4);
        if (rc != TSE_OK)
            return rc;
        tun->have4 = 1;
        memcpy(tun->a4, c->ipv4, 4);
        tun->plen4 = p4;
        if (had && (memcmp(old, c->ipv4, 4) != 0 || oldp != p4)) {
            rc = addr_op(tun, 0, AF_INET, old, oldp);
            /* In the same subnet the new address was a secondary one, and
             * deleting the primary deletes its secondaries too (unless
             * promote_secondaries is set): put it back (REPLACE). */
            if (rc == TSE_OK)
                rc = addr_op(tun, 1, AF_INET, c->ipv4, p4);
            if (rc != TSE_OK)
                return rc;
        }
        changed = 1;
    }
    if (c->has_ipv6 && (!tun->have6 || memcmp(tun->a6, c->ipv6, 16) != 0 || tun->plen6 != p6)) {
        int had = tun->have6;
        uint8_t old[16];
        int oldp = tun->plen6;
        memcpy(old, tun->a6, 16);
        rc = addr_op(tun, 1, AF_INET6, c->ipv6, p6);
        if (rc != TSE_OK)
            return rc;
        tun->have6 = 1;
        memcpy(tun->a6, c->ipv6, 16);
        tun->plen6 = p6;
        if (had && (memcmp(old, c->ipv6, 16) != 0 || oldp != p6)) {
            rc = addr_op(tun, 0, AF_INET6, old, oldp);
            if (rc != TSE_OK)
                return rc;
        }
        changed = 1;
    } else if (!c->has_ipv6 && tun->have6) {
        rc = addr_op(tun, 0, AF_INET6, tun->a6, tun->plen6);
        if (rc != TSE_OK)
            return rc;
        tun->have6 = 0;
        changed = 1;
    }
    if (changed || !tun->routes_applied || tun->routes_have6 != tun->have6)
        return apply_routes(tun);
    return TSE_OK;
}

/* Undo everything: routes (last added first), then addresses.  Errors are
 * recorded but do not stop the clean-up. */
static void unconfigure(tse_tun *tun)
{
    size_t i;
    if (!tun->nl_ok)
        return;
    for (i = tun->nadded; i-- > 0;)
        if (tun->added[i].ours)
            (void)route_op(tun, TSE_NL_DEL, &tun->added[i], NULL);
    tun->nadded = 0;
    if (tun->have6)
        (void)addr_op(tun, 0, AF_INET6, tun->a6, tun->plen6);
    if (tun->have4)
        (void)addr_op(tun, 0, AF_INET, tun->a4, tun->plen4);
    tun->have4 = tun->have6 = 0;
    tun->routes_applied = 0;
}

/* ---- create / attach / delete ----------------------------------------------- */

static int check_config(const tse_tun_config *c)
{
    size_t i;
    if (c->mtu && (c->mtu < TSE_TUN_MTU_MIN || c->mtu > TSE_TUN_MTU_MAX))
        return TSE_ERR_INVALID_ARG;
    if (c->nroutes > TSE_TUN_MAX_ROUTES)
        return TSE_ERR_INVALID_ARG;
    for (i = 0; i < c->nroutes; i++) {
        const tse_tun_route *r = &c->routes[i];
        if ((r->family != 4 && r->family != 6) ||
            r->prefix_len > (r->family == 4 ? 32 : 128) ||
            !host_bits_zero(r->addr, r->family == 4 ? 4 : 16, r->prefix_len))
            return TSE_ERR_INVALID_ARG;
    }
    return TSE_OK;
}

static int new_tun(tse_tun **out, const tse_tun_config *c)
{
    tse_tun_config def;
    tse_tun *tun;
    if (!c) {
        tse_tun_config_default(&def);
        c = &def;
    }
    if (check_config(c) != TSE_OK)
        return TSE_ERR_INVALID_ARG;
    tun = calloc(1, sizeof *tun);
    if (!tun)
        return TSE_ERR_NO_MEMORY;
    tun->cfg = *c;
    tun->fd = -1;
    tun->nl.fd = -1;
    *out = tun;
    return TSE_OK;
}

static int set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return -1;
    return 0;
}

/* Last steps of create/attach: index, MTU and link up. */
static int finish_open(tse_tun *tun, tse_tun **out)
{
    int rc;
    if (tun->name[0])
        tun->ifindex = (int)if_nametoindex(tun->name);
    if (tun->cfg.configure) {
        if (tun->ifindex <= 0) {
            rc = set_err(tun, TSE_ERR_TUN_OPEN, "if_nametoindex", tun->name, errno);
            goto fail;
        }
        rc = link_up(tun);
        if (rc != TSE_OK)
            goto fail;
    }
    *out = tun;
    return TSE_OK;
fail:
    tse_tun_del(tun);
    return rc;
}

int tse_tun_create(tse_tun **out, const char *name, const tse_tun_config *c)
{
    struct ifreq ifr;
    tse_tun *tun;
    int rc;
    if (!out)
        return TSE_ERR_INVALID_ARG;
    *out = NULL;
    if (!tse_tun_name_valid(name))
        return TSE_ERR_TUN_NAME;
    rc = new_tun(&tun, c);
    if (rc != TSE_OK)
        return rc;
    tun->close_fd = 1;
    tun->fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (tun->fd < 0) {
        rc = map_errno(errno, TSE_ERR_TUN_OPEN);
        free(tun);
        return rc;
    }
    memset(&ifr, 0, sizeof ifr);
    ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
    memcpy(ifr.ifr_name, name, strlen(name));
    if (ioctl(tun->fd, TUNSETIFF, &ifr) < 0) {
        int e = errno;
        /* EBUSY: a TUN of that name is attached elsewhere; EINVAL: a
         * device of that name that is not a TUN, or a bad name */
        rc = e == EBUSY || e == EINVAL || e == EEXIST ? TSE_ERR_TUN_NAME
                                                      : map_errno(e, TSE_ERR_TUN_OPEN);
        tse_tun_del(tun);
        return rc;
    }
    memcpy(tun->name, ifr.ifr_name, sizeof tun->name);
    tun->name[sizeof tun->name - 1] = '\0';
    return finish_open(tun, out);
}

int tse_tun_attach(tse_tun **out, int fd, const tse_tun_config *c)
{
    struct ifreq ifr;
    tse_tun *tun;
    int rc;
    if (!out || fd < 0)
        return TSE_ERR_INVALID_ARG;
    *out = NULL;
    rc = new_tun(&tun, c);
    if (rc != TSE_OK)
        return rc;
    tun->fd = fd;
    tun->close_fd = tun->cfg.close_fd;
    if (set_nonblock(fd) < 0) {
        rc = TSE_ERR_INVALID_ARG; /* not an open fd */
        tun->close_fd = 0;
        tse_tun_del(tun);
        return rc;
    }
    memset(&ifr, 0, sizeof ifr);
    if (ioctl(fd, TUNGETIFF, &ifr) == 0) {
        memcpy(tun->name, ifr.ifr_name, sizeof tun->name);
        tun->name[sizeof tun->name - 1] = '\0';
    } else if (tun->cfg.configure) {
        rc = set_err(tun, TSE_ERR_TUN_OPEN, "TUNGETIFF", NULL, errno);
        tse_tun_del(tun);
        return rc;
    }
    return finish_open(tun, out);
}

void tse_tun_del(tse_tun *tun)
{
    if (!tun)
        return;
    if (tun->cfg.configure)
        unconfigure(tun);
    if (tun->drv && tun->watched && tun->fd >= 0)
        (void)tse_posix_driver_unwatch_fd(tun->drv, tun->fd);
    if (tun->close_fd && tun->fd >= 0)
        close(tun->fd); /* a created device disappears with its last fd */
    tse_nl_close(&tun->nl);
    free(tun);
}

int tse_tun_fd(const tse_tun *tun)
{
    return tun ? tun->fd : -1;
}

const char *tse_tun_name(const tse_tun *tun)
{
    return tun ? tun->name : "";
}

int tse_tun_ifindex(const tse_tun *tun)
{
    return tun ? tun->ifindex : 0;
}

unsigned tse_tun_mtu(const tse_tun *tun)
{
    return tun ? tun->cfg.mtu : 0;
}

void tse_tun_set_tunnel(tse_tun *tun, tse_tunnel *t)
{
    if (tun)
        tun->t = t;
}

/* ---- packets ---------------------------------------------------------------- */

int tse_tun_process(tse_tun *tun, tse_time_ms now)
{
    int n = 0, i;
    if (!tun)
        return TSE_ERR_INVALID_ARG;
    if (!tun->t)
        return TSE_ERR_STATE;
    for (i = 0; i < TSE_TUN_READ_BATCH; i++) {
        ssize_t r = read(tun->fd, tun->buf, sizeof tun->buf);
        int rc;
        if (r < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            tun->st.read_errors++;
            return set_err(tun, TSE_ERR_TUN_IO, "read", tun->name, errno);
        }
        if (r == 0)
            break;
        n++;
        tun->st.packets_read++;
        tun->st.bytes_read += (uint64_t)r;
        rc = tse_tunnel_send_packet(tun->t, tun->buf, (size_t)r, now);
        if (rc == TSE_ERR_QUEUE_FULL && tun->drv &&
            tse_tunnel_classify(tun->t, tun->buf, (size_t)r) != TSE_CLASS_BULK) {
            /* real-time: let the driver move the queue to the socket, then
             * once more.  Bulk is dropped at once (see "Packets" in
             * tse_tun.h): encrypting for it here would leave the ring,
             * voice included, waiting. */
            tun->st.kicks++;
            (void)tse_posix_driver_kick(tun->drv, tun->t);
            rc = tse_tunnel_send_packet(tun->t, tun->buf, (size_t)r, now);
        }
        switch (rc) {
        case TSE_OK:
            tun->st.packets_sent++;
            tun->st.bytes_sent += (uint64_t)r;
            break;
        case TSE_ERR_QUEUE_FULL:
            tun->st.drops_queue_full++; /* the bottleneck drop; keep reading */
            break;
        case TSE_ERR_NOT_UP:
            tun->st.drops_not_up++;
            break;
        default:
            tun->st.drops_invalid++;
            break;
        }
    }
    return n;
}

int tse_tun_on_packet(tse_tun *tun, const uint8_t *pkt, size_t len)
{
    int tries;
    if (!tun || !pkt)
        return TSE_ERR_INVALID_ARG;
    for (tries = 0; tries < 3; tries++) {
        ssize_t w = write(tun->fd, pkt, len);
        if (w >= 0) {
            tun->st.packets_written++;
            tun->st.bytes_written += (uint64_t)w;
            return TSE_OK;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            tun->st.drops_write_again++;
            return TSE_ERR_WOULD_BLOCK;
        }
        break;
    }
    tun->st.drops_write_error++;
    return set_err(tun, TSE_ERR_TUN_IO, "write", tun->name, errno);
}

static void on_fd(void *user, int fd, short revents)
{
    tse_tun *tun = user;
    int rc = 0;
    (void)fd;
    if (revents & POLLNVAL) {
        rc = set_err(tun, TSE_ERR_TUN_IO, "poll", tun->name, EBADF);
    } else if (revents & (POLLIN | POLLERR | POLLHUP)) {
        rc = tse_tun_process(tun, tse_posix_now_ms());
    }
    if (rc == TSE_ERR_TUN_IO && tun->watched) {
        /* a dead fd would make every poll return at once */
        (void)tse_posix_driver_unwatch_fd(tun->drv, tun->fd);
        tun->watched = 0;
    }
}

int tse_tun_attach_driver(tse_tun *tun, tse_posix_driver *d, tse_tunnel *t)
{
    int rc;
    if (!tun || !d || !t || tun->fd < 0)
        return TSE_ERR_INVALID_ARG;
    rc = tse_posix_driver_watch_fd(d, tun->fd, POLLIN, on_fd, tun);
    if (rc != TSE_OK)
        return rc;
    tun->drv = d;
    tun->t = t;
    tun->watched = 1;
    return TSE_OK;
}

/* ---- events, exclusions ------------------------------------------------------ */

int tse_tun_on_event(tse_tun *tun, const tse_event *ev)
{
    if (!tun || !ev)
        return TSE_ERR_INVALID_ARG;
    if (!tun->cfg.configure)
        return TSE_OK;
    switch (ev->type) {
    case TSE_EV_TUNNEL_UP:
    case TSE_EV_ADDR_CHANGED:
        if (!ev->config)
            return TSE_OK;
        return apply_config(tun, ev->config);
    default:
        return TSE_OK;
    }
}

int tse_tun_exclude(tse_tun *tun, const struct sockaddr *dst, socklen_t len)
{
    const uint8_t *a;
    struct added_route r;
    tse_nl_route nr;
    size_t i;
    int af, fi, wanted = 0, kerr = 0, rc;
    if (!tun || !dst)
        return TSE_ERR_INVALID_ARG;
    af = dst->sa_family;
    if (af == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in))
        a = (const uint8_t *)&((const struct sockaddr_in *)(const void *)dst)->sin_addr;
    else if (af == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6))
        a = ((const struct sockaddr_in6 *)(const void *)dst)->sin6_addr.s6_addr;
    else
        return TSE_ERR_INVALID_ARG;
    if (!tun->cfg.configure)
        return TSE_OK;
    for (i = 0; i < tun->cfg.nroutes; i++)
        if (af_of(tun->cfg.routes[i].family) == af && tun->cfg.routes[i].prefix_len == 0)
            wanted = 1;
    if (!wanted)
        return TSE_OK;
    if (find_added(tun, af, a, (int)alen_of(af) * 8))
        return TSE_OK; /* already excluded */
    rc = nl_ready(tun);
    if (rc != TSE_OK)
        return rc;
    fi = af == AF_INET ? 0 : 1;
    rc = tse_nl_get_route(&tun->nl, af, a, &nr, &kerr);
    if (rc < 0)
        return set_err(tun, TSE_ERR_NETLINK, "RTM_GETROUTE", NULL, -rc);
    if (kerr)
        return set_err(tun, TSE_ERR_NO_ROUTE, "RTM_GETROUTE", NULL, kerr);
    if (nr.type == RTN_LOCAL)
        return TSE_OK; /* a local address never goes through the device */
    if (nr.type != RTN_UNICAST || nr.oif <= 0)
        return set_err(tun, TSE_ERR_NO_ROUTE, "RTM_GETROUTE", "not a unicast route", 0);
    if (nr.oif == tun->ifindex) {
        if (!tun->path_known[fi])
            return set_err(tun, TSE_ERR_NO_ROUTE, "RTM_GETROUTE",
                           "only through the tunnel itself", 0);
        nr = tun->path[fi];
    } else {
        tun->path[fi] = nr;
        tun->path_known[fi] = 1;
    }
    if (tun->nadded == ADDED_MAX)
        return set_err(tun, TSE_ERR_BUFFER_TOO_SMALL, "exclusions", NULL, 0);
    memset(&r, 0, sizeof r);
    r.family = af;
    memcpy(r.dst, a, alen_of(af));
    r.plen = (int)alen_of(af) * 8;
    r.oif = nr.oif;
    r.has_gw = nr.has_gw;
    memcpy(r.gw, nr.gw, sizeof r.gw);
    r.exclusion = 1;
    rc = route_op(tun, TSE_NL_ADD_EXCL, &r, &kerr);
    if (rc != TSE_OK)
        return rc;
    r.ours = kerr != EEXIST; /* someone else's host route: use, keep */
    tun->added[tun->nadded++] = r;
    return TSE_OK;
}

void tse_tun_get_stats(const tse_tun *tun, tse_tun_stats *out)
{
    if (!out)
        return;
    if (!tun) {
        memset(out, 0, sizeof *out);
        return;
    }
    *out = tun->st;
}

int tse_tun_last_error(const tse_tun *tun)
{
    return tun ? tun->last_err : TSE_ERR_INVALID_ARG;
}

const char *tse_tun_error_detail(const tse_tun *tun)
{
    return tun && tun->last_err ? tun->detail : "";
}
