/* The Linux TUN port against the real kernel, in a private network
 * namespace (unshare(CLONE_NEWNET); nothing outside it is touched and the
 * namespace dies with the process): creating and attaching devices, the
 * addresses and routes applied on TUNNEL_UP / ADDR_CHANGED and removed at
 * the end, the kernel refusing an address, route exclusion without a path,
 * and the packet path both ways (bounded batches of reads, one write per
 * packet delivered to a kernel socket).  Exit 77 without root. */
#define _GNU_SOURCE 1
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/if_tun.h>

#include "tse_tun.h"
#include "tt.h"
#include "tun_netlink.h"

static tse_tunnel *T; /* never started: send_packet answers NOT_UP */

static void ev_cb(void *u, const tse_event *ev) { (void)u; (void)ev; }
static void pkt_cb(void *u, const uint8_t *p, size_t n) { (void)u; (void)p; (void)n; }

static int ifreq_ioctl(unsigned long req, const char *name, struct ifreq *ifr)
{
    int s = socket(AF_INET, SOCK_DGRAM, 0), r;
    if (s < 0)
        return -1;
    memset(ifr, 0, sizeof *ifr);
    snprintf(ifr->ifr_name, sizeof ifr->ifr_name, "%s", name);
    r = ioctl(s, req, ifr);
    close(s);
    return r;
}

static int if_mtu(const char *name)
{
    struct ifreq ifr;
    return ifreq_ioctl(SIOCGIFMTU, name, &ifr) == 0 ? ifr.ifr_mtu : -1;
}

static int if_up(const char *name)
{
    struct ifreq ifr;
    return ifreq_ioctl(SIOCGIFFLAGS, name, &ifr) == 0 && (ifr.ifr_flags & IFF_UP);
}

/* The primary IPv4 address as a.b.c.d, or "" */
static const char *if_addr(const char *name)
{
    static char buf[INET_ADDRSTRLEN];
    struct ifreq ifr;
    buf[0] = '\0';
    if (ifreq_ioctl(SIOCGIFADDR, name, &ifr) == 0)
        inet_ntop(AF_INET, &((struct sockaddr_in *)(void *)&ifr.ifr_addr)->sin_addr, buf,
                  sizeof buf);
    return buf;
}

/* Output interface the kernel picks for @p dst (0: none). */
static int route_oif(const char *dst)
{
    tse_nl nl;
    tse_nl_route r;
    uint8_t a[16];
    int kerr = 0, af = strchr(dst, ':') ? AF_INET6 : AF_INET;
    if (inet_pton(af, dst, a) != 1 || tse_nl_open(&nl) < 0)
        return -1;
    if (tse_nl_get_route(&nl, af, a, &r, &kerr) < 0 || kerr)
        r.oif = 0;
    tse_nl_close(&nl);
    return r.oif;
}

/* Can a UDP socket bind to @p addr (is it a local address)? */
static int can_bind(const char *addr)
{
    struct sockaddr_in6 s6;
    struct sockaddr_in s4;
    int af = strchr(addr, ':') ? AF_INET6 : AF_INET, fd, r;
    fd = socket(af, SOCK_DGRAM, 0);
    if (fd < 0)
        return 0;
    if (af == AF_INET) {
        memset(&s4, 0, sizeof s4);
        s4.sin_family = AF_INET;
        inet_pton(AF_INET, addr, &s4.sin_addr);
        r = bind(fd, (struct sockaddr *)&s4, sizeof s4);
    } else {
        memset(&s6, 0, sizeof s6);
        s6.sin6_family = AF_INET6;
        inet_pton(AF_INET6, addr, &s6.sin6_addr);
        r = bind(fd, (struct sockaddr *)&s6, sizeof s6);
    }
    close(fd);
    return r == 0;
}

static tse_event up_event(tse_tunnel_config *c, const char *a4, int plen, const char *a6)
{
    tse_event ev;
    int i;
    memset(c, 0, sizeof *c);
    inet_pton(AF_INET, a4, c->ipv4);
    for (i = 0; i < plen; i++)
        c->ipv4_mask[i / 8] |= (uint8_t)(0x80u >> (i % 8));
    if (a6) {
        c->has_ipv6 = 1;
        inet_pton(AF_INET6, a6, c->ipv6);
        memset(c->ipv6_mask, 0xFF, 8);
    }
    memset(&ev, 0, sizeof ev);
    ev.type = TSE_EV_TUNNEL_UP;
    ev.state = TSE_STATE_UP;
    ev.config = c;
    return ev;
}

static int wait_readable(int fd, int ms)
{
    struct pollfd p;
    p.fd = fd;
    p.events = POLLIN;
    p.revents = 0;
    return poll(&p, 1, ms) == 1;
}

static void send_udp(int n, const char *dst)
{
    struct sockaddr_in a;
    uint8_t payload[100];
    int fd = socket(AF_INET, SOCK_DGRAM, 0), i;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons(9);
    inet_pton(AF_INET, dst, &a.sin_addr);
    memset(payload, 0x5A, sizeof payload);
    for (i = 0; i < n; i++)
        (void)sendto(fd, payload, sizeof payload, 0, (struct sockaddr *)&a, sizeof a);
    close(fd);
}

static uint16_t ip_checksum(const uint8_t *h, size_t n)
{
    uint32_t s = 0;
    size_t i;
    for (i = 0; i + 1 < n; i += 2)
        s += (uint32_t)(h[i] << 8 | h[i + 1]);
    while (s >> 16)
        s = (s & 0xFFFF) + (s >> 16);
    return (uint16_t)~s;
}

TT_TEST(create_errors)
{
    tse_tun *a = NULL, *b = NULL;
    tse_tun_config c;
    tse_tun_config_default(&c);
    TT_EQ_INT(tse_tun_create(&a, "bad/name", &c), TSE_ERR_TUN_NAME);
    TT_ASSERT(a == NULL);
    TT_EQ_INT(tse_tun_create(&a, "a234567890123456", &c), TSE_ERR_TUN_NAME);
    c.mtu = 100;
    TT_EQ_INT(tse_tun_create(&a, "tut9", &c), TSE_ERR_INVALID_ARG);
    tse_tun_config_default(&c);
    c.nroutes = 1;
    c.routes[0].family = 4;
    c.routes[0].addr[3] = 1; /* host bits under /24 */
    c.routes[0].prefix_len = 24;
    TT_EQ_INT(tse_tun_create(&a, "tut9", &c), TSE_ERR_INVALID_ARG);
    tse_tun_config_default(&c);
    TT_EQ_INT(tse_tun_create(&a, "tut9", &c), TSE_OK);
    /* the same name while the first is open: busy */
    TT_EQ_INT(tse_tun_create(&b, "tut9", &c), TSE_ERR_TUN_NAME);
    TT_ASSERT(b == NULL);
    TT_ASSERT(if_nametoindex("tut9") > 0);
    tse_tun_del(a);
    TT_EQ_INT(if_nametoindex("tut9"), 0);
    TT_EQ_INT(tse_tun_attach(&a, -1, &c), TSE_ERR_INVALID_ARG);
}

TT_TEST(configure_apply_readdress_remove)
{
    tse_tun *tun = NULL;
    tse_tun_config c;
    tse_tunnel_config cfg;
    tse_event ev;
    int idx;
    tse_tun_config_default(&c);
    c.mtu = 1380;
    TT_EQ_INT(tse_tun_route_parse("203.0.113.0/24", &c.routes[0]), TSE_OK);
    TT_EQ_INT(tse_tun_route_parse("default", &c.routes[1]), TSE_OK);
    c.nroutes = 2;
    TT_EQ_INT(tse_tun_create(&tun, "tut0", &c), TSE_OK);
    idx = tse_tun_ifindex(tun);
    TT_ASSERT(idx > 0);
    TT_ASSERT(!strcmp(tse_tun_name(tun), "tut0"));
    TT_EQ_INT(if_mtu("tut0"), 1380);
    TT_ASSERT(if_up("tut0"));
    /* no routes before the tunnel is up */
    TT_ASSERT(route_oif("203.0.113.5") != idx);

    ev = up_event(&cfg, "198.18.0.2", 24, NULL);
    TT_EQ_INT(tse_tun_on_event(tun, &ev), TSE_OK);
    TT_ASSERT(!strcmp(if_addr("tut0"), "198.18.0.2"));
    TT_EQ_INT(route_oif("198.18.0.77"), idx);   /* the subnet, by the kernel */
    TT_EQ_INT(route_oif("203.0.113.5"), idx);   /* --route */
    TT_EQ_INT(route_oif("192.0.2.1"), idx);     /* 0/1 */
    TT_EQ_INT(route_oif("203.0.113.255"), idx);
    TT_EQ_INT(route_oif("198.51.100.1"), idx);  /* 128/1 */
    /* the same address again (a resume): nothing changes */
    TT_EQ_INT(tse_tun_on_event(tun, &ev), TSE_OK);
    TT_ASSERT(!strcmp(if_addr("tut0"), "198.18.0.2"));

    /* no path to exclude a peer by: only the tunnel routes to it */
    {
        struct sockaddr_in peer;
        memset(&peer, 0, sizeof peer);
        peer.sin_family = AF_INET;
        inet_pton(AF_INET, "192.0.2.1", &peer.sin_addr);
        TT_EQ_INT(tse_tun_exclude(tun, (struct sockaddr *)&peer, sizeof peer), TSE_ERR_NO_ROUTE);
        TT_EQ_INT(tse_tun_last_error(tun), TSE_ERR_NO_ROUTE);
        TT_ASSERT(strstr(tse_tun_error_detail(tun), "RTM_GETROUTE") != NULL);
        TT_EQ_INT(tse_tun_exclude(tun, (struct sockaddr *)&peer, 4), TSE_ERR_INVALID_ARG);
    }

    /* a resume with another address: new in, old out, routes kept */
    ev = up_event(&cfg, "198.18.0.3", 24, NULL);
    ev.type = TSE_EV_ADDR_CHANGED;
    TT_EQ_INT(tse_tun_on_event(tun, &ev), TSE_OK);
    TT_ASSERT(!strcmp(if_addr("tut0"), "198.18.0.3"));
    TT_ASSERT(!can_bind("198.18.0.2"));
    TT_ASSERT(can_bind("198.18.0.3"));
    TT_EQ_INT(route_oif("203.0.113.5"), idx);
    TT_EQ_INT(route_oif("192.0.2.1"), idx);

    /* a netmask with a hole is refused, the address stays */
    ev = up_event(&cfg, "198.18.0.4", 24, NULL);
    cfg.ipv4_mask[3] = 1;
    TT_EQ_INT(tse_tun_on_event(tun, &ev), TSE_ERR_INVALID_ARG);
    TT_ASSERT(!strcmp(if_addr("tut0"), "198.18.0.3"));

    /* IPv6 too (no DAD: usable at once) */
    ev = up_event(&cfg, "198.18.0.3", 24, "fd00:7473:6366::2");
    TT_EQ_INT(tse_tun_on_event(tun, &ev), TSE_OK);
    TT_ASSERT(can_bind("fd00:7473:6366::2"));
    TT_EQ_INT(route_oif("fd00:7473:6366::99"), idx);

    /* everything goes, the interface too */
    tse_tun_del(tun);
    TT_EQ_INT(if_nametoindex("tut0"), 0);
    TT_ASSERT(route_oif("203.0.113.5") != idx);
    TT_ASSERT(!can_bind("198.18.0.3"));
}

TT_TEST(kernel_refusal_is_reported)
{
    tse_tun *tun = NULL;
    tse_tun_config c;
    tse_tunnel_config cfg;
    tse_event ev;
    tse_tun_config_default(&c);
    c.mtu = 576; /* below IPv6's minimum: the kernel refuses IPv6 addresses */
    TT_EQ_INT(tse_tun_create(&tun, "tut2", &c), TSE_OK);
    ev = up_event(&cfg, "198.18.0.2", 32, "fd00:7473:6366::2");
    TT_EQ_INT(tse_tun_on_event(tun, &ev), TSE_ERR_NETLINK_ADDR);
    TT_ASSERT(strstr(tse_tun_error_detail(tun), "RTM_NEWADDR fd00:7473:6366::2/64") != NULL);
    TT_ASSERT(!strcmp(if_addr("tut2"), "198.18.0.2")); /* IPv4 went in first */
    tse_tun_del(tun);
    TT_EQ_INT(if_nametoindex("tut2"), 0);
}

TT_TEST(packets_both_ways)
{
    tse_tun *tun = NULL;
    tse_tun_config c;
    tse_tunnel_config cfg;
    tse_tun_stats st;
    tse_event ev;
    int total = 0, i, r, rx;
    tse_tun_config_default(&c);
    TT_EQ_INT(tse_tun_create(&tun, "tut1", &c), TSE_OK);
    ev = up_event(&cfg, "198.18.0.2", 24, NULL);
    TT_EQ_INT(tse_tun_on_event(tun, &ev), TSE_OK);
    TT_EQ_INT(tse_tun_process(tun, 0), TSE_ERR_STATE); /* no tunnel yet */
    tse_tun_set_tunnel(tun, T);

    /* 200 datagrams into the interface: read in batches of at most
     * TSE_TUN_READ_BATCH, all offered to the tunnel (not up: dropped) */
    send_udp(200, "198.18.0.50");
    for (i = 0; i < 20 && total < 200; i++) {
        if (!wait_readable(tse_tun_fd(tun), 1000))
            break;
        r = tse_tun_process(tun, 0);
        TT_ASSERT(r >= 0 && r <= TSE_TUN_READ_BATCH);
        total += r;
    }
    TT_EQ_INT(total, 200);
    TT_EQ_INT(tse_tun_process(tun, 0), 0); /* drained: EAGAIN, no block */
    tse_tun_get_stats(tun, &st);
    TT_EQ_INT(st.packets_read, 200);
    TT_EQ_INT(st.bytes_read, 200 * (20 + 8 + 100));
    TT_EQ_INT(st.drops_not_up, 200);
    TT_EQ_INT(st.packets_sent, 0);

    /* inbound: one IPv4/UDP packet written to the fd reaches a socket */
    rx = socket(AF_INET, SOCK_DGRAM, 0);
    TT_ASSERT(rx >= 0);
    {
        struct sockaddr_in a;
        uint8_t p[20 + 8 + 5], got[64];
        uint16_t ck;
        memset(&a, 0, sizeof a);
        a.sin_family = AF_INET;
        a.sin_port = htons(6000);
        inet_pton(AF_INET, "198.18.0.2", &a.sin_addr);
        TT_ASSERT(bind(rx, (struct sockaddr *)&a, sizeof a) == 0);
        memset(p, 0, sizeof p);
        p[0] = 0x45;
        p[3] = sizeof p;
        p[8] = 64;
        p[9] = 17;
        inet_pton(AF_INET, "198.18.0.9", p + 12);
        inet_pton(AF_INET, "198.18.0.2", p + 16);
        ck = ip_checksum(p, 20);
        p[10] = (uint8_t)(ck >> 8);
        p[11] = (uint8_t)ck;
        p[20] = 5000 >> 8; p[21] = 5000 & 0xFF;
        p[22] = 6000 >> 8; p[23] = 6000 & 0xFF;
        p[25] = 8 + 5; /* UDP checksum 0: none (IPv4) */
        memcpy(p + 28, "hello", 5);
        TT_EQ_INT(tse_tun_on_packet(tun, p, sizeof p), TSE_OK);
        TT_ASSERT(wait_readable(rx, 2000));
        TT_EQ_INT(recv(rx, got, sizeof got, 0), 5);
        TT_EQ_MEM(got, "hello", 5);
    }
    close(rx);
    tse_tun_get_stats(tun, &st);
    TT_EQ_INT(st.packets_written, 1);
    TT_EQ_INT(st.bytes_written, 33);
    tse_tun_del(tun);
}

TT_TEST(attach_configures_only_when_asked)
{
    struct ifreq ifr;
    tse_tun *tun = NULL;
    tse_tun_config c;
    tse_tunnel_config cfg;
    tse_event ev;
    int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
    TT_ASSERT(fd >= 0);
    memset(&ifr, 0, sizeof ifr);
    ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "tut3");
    TT_ASSERT(ioctl(fd, TUNSETIFF, &ifr) == 0);

    /* the VpnService model: the fd is configured already; hands off */
    tse_tun_config_default(&c);
    c.configure = 0;
    TT_EQ_INT(tse_tun_attach(&tun, fd, &c), TSE_OK);
    TT_ASSERT(!strcmp(tse_tun_name(tun), "tut3"));
    TT_ASSERT(fcntl(fd, F_GETFL) & O_NONBLOCK);
    ev = up_event(&cfg, "198.18.0.2", 24, NULL);
    TT_EQ_INT(tse_tun_on_event(tun, &ev), TSE_OK);
    TT_ASSERT(!strcmp(if_addr("tut3"), ""));
    TT_ASSERT(!if_up("tut3"));
    tse_tun_del(tun);
    TT_ASSERT(fcntl(fd, F_GETFD) >= 0); /* still the caller's */
    TT_ASSERT(if_nametoindex("tut3") > 0);

    /* asked to configure: addresses in, and out again at the end; the
     * interface lives on with the caller's fd */
    tse_tun_config_default(&c);
    TT_EQ_INT(tse_tun_attach(&tun, fd, &c), TSE_OK);
    TT_ASSERT(if_up("tut3"));
    TT_EQ_INT(tse_tun_on_event(tun, &ev), TSE_OK);
    TT_ASSERT(!strcmp(if_addr("tut3"), "198.18.0.2"));
    tse_tun_del(tun);
    TT_ASSERT(!strcmp(if_addr("tut3"), ""));
    TT_ASSERT(if_nametoindex("tut3") > 0);

    /* close_fd: the port closes it, the interface goes */
    c.close_fd = 1;
    TT_EQ_INT(tse_tun_attach(&tun, fd, &c), TSE_OK);
    tse_tun_del(tun);
    TT_ASSERT(fcntl(fd, F_GETFD) < 0 && errno == EBADF);
    TT_EQ_INT(if_nametoindex("tut3"), 0);
}

int main(void)
{
    tse_settings s;
    tse_callbacks cb = { ev_cb, pkt_cb, tse_posix_entropy, NULL };
    int rc;
    if (geteuid() != 0) {
        printf("SKIP: needs root (a network namespace and TUN devices)\n");
        return 77;
    }
    if (access("/dev/net/tun", R_OK | W_OK) != 0) {
        printf("SKIP: no /dev/net/tun\n");
        return 77;
    }
    if (unshare(CLONE_NEWNET) != 0) {
        printf("SKIP: unshare(CLONE_NEWNET): %s\n", strerror(errno));
        return 77;
    }
    tse_settings_default(&s);
    s.server_host = "192.0.2.1";
    s.tls_insecure_lab_only_skip_verify = 1;
    rc = tse_tunnel_new(&T, &s, &cb, tse_posix_mem(), NULL);
    if (rc != TSE_OK) {
        fprintf(stderr, "tse_tunnel_new: %s\n", tse_strerror(rc));
        return 1;
    }
    TT_RUN(create_errors);
    TT_RUN(configure_apply_readdress_remove);
    TT_RUN(kernel_refusal_is_reported);
    TT_RUN(packets_both_ways);
    TT_RUN(attach_configures_only_when_asked);
    tse_tunnel_del(T);
    return TT_DONE();
}
