/* uplink_tun.c - see uplink_tun.h. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <linux/if_tun.h>
#include <net/if.h>
#include <sys/ioctl.h>

#include "lwip/pbuf.h"
#include "lwip/tcpip.h"

#include "uplink_tun.h"

#define TUN_MTU 1500

static int tun_fd = -1;
static volatile int tun_stop;
static pthread_t tun_reader;

/* lwIP's output (tcpip thread): the packet to the kernel. */
static err_t tun_output(struct netif *n, struct pbuf *p, const ip4_addr_t *a)
{
    uint8_t buf[TUN_MTU];
    u16_t len;
    (void)n; (void)a;
    if (p->tot_len > sizeof(buf)) {
        return ERR_BUF;
    }
    len = pbuf_copy_partial(p, buf, p->tot_len, 0);
    if (write(tun_fd, buf, len) != (ssize_t)len) {
        return ERR_IF; /* a drop: TCP retransmits */
    }
    return ERR_OK;
}

static err_t tun_init(struct netif *n)
{
    n->output = tun_output;
    n->mtu = TUN_MTU;
    n->name[0] = 'u';
    n->name[1] = 'p';
    return ERR_OK;
}

/* The kernel's packets to lwIP's input (posted to the tcpip thread). */
static void *reader_main(void *arg)
{
    struct netif *n = (struct netif *)arg;
    uint8_t buf[TUN_MTU + 64];
    while (!tun_stop) {
        struct pollfd pfd = { tun_fd, POLLIN, 0 };
        ssize_t got;
        struct pbuf *p;
        if (poll(&pfd, 1, 200) <= 0) {
            continue;
        }
        got = read(tun_fd, buf, sizeof(buf));
        if (got <= 0 || got > 0xffff) {
            continue;
        }
        p = pbuf_alloc(PBUF_RAW, (u16_t)got, PBUF_RAM);
        if (p == NULL) {
            continue;
        }
        pbuf_take(p, buf, (u16_t)got);
        if (n->input(p, n) != ERR_OK) {
            pbuf_free(p);
        }
    }
    return NULL;
}

int uplink_tun_add(struct netif *n, const char *name, const ip4_addr_t *addr,
                   const ip4_addr_t *gw)
{
    struct ifreq ifr;
    ip4_addr_t mask;
    struct netif *added;
    tun_fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
    if (tun_fd < 0) {
        perror("/dev/net/tun");
        return -1;
    }
    memset(&ifr, 0, sizeof(ifr));
    ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
    snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
    if (ioctl(tun_fd, TUNSETIFF, &ifr) < 0) {
        fprintf(stderr, "TUNSETIFF %s: %s\n", name, strerror(errno));
        close(tun_fd);
        tun_fd = -1;
        return -1;
    }
    IP4_ADDR(&mask, 255, 255, 255, 0);
    LOCK_TCPIP_CORE();
    added = netif_add(n, addr, &mask, gw, NULL, tun_init, tcpip_input);
    if (added != NULL) {
        netif_set_up(n);
        netif_set_link_up(n);
    }
    UNLOCK_TCPIP_CORE();
    if (added == NULL) {
        fprintf(stderr, "netif_add failed\n");
        close(tun_fd);
        tun_fd = -1;
        return -1;
    }
    tun_stop = 0;
    if (pthread_create(&tun_reader, NULL, reader_main, n) != 0) {
        fprintf(stderr, "pthread_create failed\n");
        return -1;
    }
    return 0;
}

void uplink_tun_remove(struct netif *n)
{
    if (tun_fd < 0) {
        return;
    }
    tun_stop = 1;
    pthread_join(tun_reader, NULL);
    LOCK_TCPIP_CORE();
    netif_remove(n);
    UNLOCK_TCPIP_CORE();
    close(tun_fd);
    tun_fd = -1;
}
