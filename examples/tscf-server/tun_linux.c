/* tscf-server --tun NAME: a Linux TUN device for the inner network.
 * Addresses and link state are set with ip(8); the kernel adds the
 * connected routes for the pools, so packets to tunnel addresses come back
 * to us through the device. */
#include "tscf.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

static int valid_ifname(const char *n)
{
    size_t i, len = strlen(n);
    if (len == 0 || len >= IFNAMSIZ)
        return 0;
    for (i = 0; i < len; i++) {
        char ch = n[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '.'))
            return 0; /* the name goes into a shell command line */
    }
    return 1;
}

static int run(const char *cmd)
{
    int rc = system(cmd);
    if (rc != 0) {
        fprintf(stderr, "tscf-server: '%s' failed (status %d)\n", cmd, rc);
        return -1;
    }
    return 0;
}

int tscf_tun_open(const char *name, const uint8_t addr4[4], int plen4,
                  const uint8_t *addr6, int plen6)
{
    struct ifreq ifr;
    char cmd[256], a4[INET_ADDRSTRLEN], a6[INET6_ADDRSTRLEN];
    int fd, fl;

    if (!valid_ifname(name)) {
        fprintf(stderr, "tscf-server: bad TUN name '%s'\n", name);
        return -1;
    }
    fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "tscf-server: /dev/net/tun: %s\n", strerror(errno));
        return -1;
    }
    memset(&ifr, 0, sizeof ifr);
    ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
    memcpy(ifr.ifr_name, name, strlen(name));
    if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
        fprintf(stderr, "tscf-server: TUNSETIFF %s: %s\n", name, strerror(errno));
        close(fd);
        return -1;
    }
    fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
        close(fd);
        return -1;
    }
    inet_ntop(AF_INET, addr4, a4, sizeof a4);
    snprintf(cmd, sizeof cmd, "ip addr replace %s/%d dev %s", a4, plen4, name);
    if (run(cmd) < 0)
        goto fail;
    if (addr6) {
        inet_ntop(AF_INET6, addr6, a6, sizeof a6);
        snprintf(cmd, sizeof cmd, "ip -6 addr replace %s/%d dev %s nodad", a6, plen6, name);
        if (run(cmd) < 0)
            goto fail;
    }
    snprintf(cmd, sizeof cmd, "ip link set dev %s up", name);
    if (run(cmd) < 0)
        goto fail;
    return fd;
fail:
    close(fd);
    return -1;
}
