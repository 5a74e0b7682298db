/* The Linux port's network watcher (tse_netwatch_*, tse_tun.h) in a
 * network namespace of its own (unshare(CLONE_NEWNET): nothing outside it
 * is touched, and it goes with the process): veth interfaces with
 * addresses and default routes stand for Wi-Fi and cellular (veth pairs).  A new
 * address, another default route and another interface are each reported
 * once, after the settle time; routes of the excluded interface (the TUN)
 * and unrelated routes are not; the identity of a network seen before
 * comes back the same.  Exit 77 without root. */
#define _GNU_SOURCE 1
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tse_tun.h"
#include "tt.h"

static struct {
    int calls;
    uint8_t id[16];
    size_t len;
    char desc[96];
} G;

static void on_change(void *user, const uint8_t *id, size_t len, const char *desc)
{
    (void)user;
    G.calls++;
    memcpy(G.id, id, len < sizeof G.id ? len : sizeof G.id);
    G.len = len;
    snprintf(G.desc, sizeof G.desc, "%s", desc);
}

static int sh(const char *cmd)
{
    char full[512];
    snprintf(full, sizeof full, "%s >/dev/null 2>&1", cmd);
    return system(full);
}

/* Run the driver for @p ms (bounded rounds). */
static void run_for(tse_posix_driver *d, int ms)
{
    tse_time_ms end = tse_posix_now_ms() + (tse_time_ms)ms;
    int rounds;
    for (rounds = 0; rounds < 10000 && tse_posix_now_ms() < end; rounds++)
        (void)tse_posix_driver_run_once(d, 20);
}

/* Run until the callback count reaches @p n (at most 3 s); the time it took. */
static long until_calls(tse_posix_driver *d, int n)
{
    tse_time_ms t0 = tse_posix_now_ms();
    int rounds;
    for (rounds = 0; rounds < 10000 && G.calls < n && tse_posix_now_ms() - t0 < 3000; rounds++)
        (void)tse_posix_driver_run_once(d, 20);
    return (long)(tse_posix_now_ms() - t0);
}

TT_TEST(watch_changes)
{
    tse_netwatch *w = NULL;
    tse_posix_driver *d = NULL;
    uint8_t idA[16], id[16];
    size_t lenA = 0, len = 0;
    char desc[96];
    long el;

    /* no network yet: nothing to report */
    TT_EQ_INT(tse_netwatch_new(&w, "tw9", 300, on_change, NULL), TSE_OK);
    TT_EQ_INT(tse_netwatch_identity(w, id, sizeof id, &len, NULL, 0), TSE_ERR_WOULD_BLOCK);
    TT_EQ_INT(tse_netwatch_identity(w, id, 4, &len, NULL, 0), TSE_ERR_INVALID_ARG);
    tse_netwatch_del(w);
    w = NULL;

    /* network A: "wifi" 192.0.2.2 via 192.0.2.1 */
    TT_EQ_INT(sh("ip link add wl0 type veth peer name wl0p && ip link set wl0p up && ip link set wl0 up && "
                 "ip addr add 192.0.2.2/24 dev wl0 && ip route add default via 192.0.2.1 dev wl0"), 0);
    TT_EQ_INT(tse_posix_driver_new(&d), TSE_OK);
    TT_EQ_INT(tse_netwatch_new(&w, "tw9", 300, on_change, NULL), TSE_OK);
    TT_EQ_INT(tse_netwatch_attach(w, d), TSE_OK);
    TT_EQ_INT(tse_netwatch_attach(w, d), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_netwatch_identity(w, idA, sizeof idA, &lenA, desc, sizeof desc), TSE_OK);
    TT_EQ_INT(lenA, 12);
    TT_ASSERT(strcmp(desc, "wl0 via 192.0.2.1 src 192.0.2.2") == 0);
    run_for(d, 500);
    TT_EQ_INT(G.calls, 0); /* the baseline is not a change */

    /* unrelated routes and the excluded interface's default route: nothing */
    TT_EQ_INT(sh("ip route add 203.0.113.0/24 via 192.0.2.1 dev wl0"), 0);
    TT_EQ_INT(sh("ip link add tw9 type veth peer name tw9p && ip link set tw9p up && ip link set tw9 up && "
                 "ip addr add 198.18.0.2/32 dev tw9 && "
                 "ip route add default dev tw9 metric 1"), 0);
    run_for(d, 700);
    TT_EQ_INT(G.calls, 0);

    /* a new address on the same link: a change, once, after the settle time */
    TT_EQ_INT(sh("ip addr del 192.0.2.2/24 dev wl0 && ip addr add 192.0.2.3/24 dev wl0 && "
                 "ip route replace default via 192.0.2.1 dev wl0 && "
                 "ip route replace 203.0.113.0/24 via 192.0.2.1 dev wl0"), 0);
    el = until_calls(d, 1);
    printf("new address reported after %ld ms (settle 300 ms): %s\n", el, G.desc);
    TT_EQ_INT(G.calls, 1);
    TT_ASSERT(el >= 250 && el < 1500);
    TT_ASSERT(strstr(G.desc, "src 192.0.2.3") != NULL);
    run_for(d, 600);
    TT_EQ_INT(G.calls, 1);

    /* cellular: another interface takes the default route */
    TT_EQ_INT(sh("ip link add ww0 type veth peer name ww0p && ip link set ww0p up && ip link set ww0 up && "
                 "ip addr add 198.51.100.7/24 dev ww0 && ip route del default via 192.0.2.1 dev wl0 && "
                 "ip route add default via 198.51.100.1 dev ww0"), 0);
    el = until_calls(d, 2);
    printf("new interface reported after %ld ms: %s\n", el, G.desc);
    TT_EQ_INT(G.calls, 2);
    TT_ASSERT(strcmp(G.desc, "ww0 via 198.51.100.1 src 198.51.100.7") == 0);

    /* between networks (no default route), then back on A as it was */
    TT_EQ_INT(sh("ip route del default via 198.51.100.1 dev ww0"), 0);
    run_for(d, 600);
    TT_EQ_INT(G.calls, 2);
    TT_EQ_INT(sh("ip addr del 192.0.2.3/24 dev wl0 && ip addr add 192.0.2.2/24 dev wl0 && "
                 "ip route add default via 192.0.2.1 dev wl0"), 0);
    el = until_calls(d, 3);
    TT_EQ_INT(G.calls, 3);
    TT_EQ_INT(G.len, lenA);
    TT_EQ_MEM(G.id, idA, lenA); /* the same network, the same identity */
    TT_EQ_INT(tse_netwatch_changes(w), 3);

    tse_netwatch_del(w);
    tse_netwatch_del(NULL);
    tse_posix_driver_del(d);
    TT_EQ_INT(tse_netwatch_changes(NULL), 0);
    TT_EQ_INT(tse_netwatch_new(NULL, NULL, 300, on_change, NULL), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_netwatch_new(&w, NULL, 300, NULL, NULL), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_netwatch_new(&w, "a-name-far-too-long-for-an-interface", 300, on_change, NULL),
              TSE_ERR_INVALID_ARG);
}

int main(void)
{
    if (geteuid() != 0) {
        printf("SKIP: needs root (a network namespace)\n");
        return 77;
    }
    if (unshare(CLONE_NEWNET) != 0) {
        printf("SKIP: unshare(CLONE_NEWNET): %s\n", strerror(errno));
        return 77;
    }
    if (sh("ip link set lo up") != 0 || sh("ip link add tprobe type veth peer name tprobep") != 0) {
        printf("SKIP: ip(8) or veth interfaces not available\n");
        return 77;
    }
    (void)sh("ip link del tprobe");
    TT_RUN(watch_changes);
    return TT_DONE();
}
