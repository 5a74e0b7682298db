/* uplink_tun.h - an lwIP netif (NO_SYS=0) whose wire is a Linux TUN device:
 * lwIP's uplink in examples/lwip-sys/lwip_sys_netconn.c.  IP packets, no
 * link layer.  Its own translation unit: <linux/if_tun.h> and <net/if.h>
 * do not mix with lwIP's socket headers. */
#ifndef LWIP_SYS_UPLINK_TUN_H
#define LWIP_SYS_UPLINK_TUN_H

#include "lwip/netif.h"

/* Attach to the TUN device @p name (it must exist: `ip tuntap add mode
 * tun`), add @p n to lwIP with @p addr/24 and gateway @p gw, up, and start
 * a reader thread that posts each packet to the tcpip thread.  Not from the
 * tcpip thread.  0 on success, -1 (printed). */
int uplink_tun_add(struct netif *n, const char *name, const ip4_addr_t *addr,
                   const ip4_addr_t *gw);

/* Stop the reader thread, remove @p n, close the device. */
void uplink_tun_remove(struct netif *n);

#endif
