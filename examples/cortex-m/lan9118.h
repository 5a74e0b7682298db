/* lan9118.h - a polled lwIP driver for the SMSC LAN9118 Ethernet controller
 * (as QEMU emulates it on the MPS2 boards at 0x40200000). */
#ifndef TSE_CM_LAN9118_H
#define TSE_CM_LAN9118_H

#include "lwip/err.h"
#include "lwip/netif.h"

/* netif_add() init function; netif->state is the register base. */
err_t lan9118_netif_init(struct netif *n);
/* Move received frames into lwIP (netif->input); returns frames moved. */
int lan9118_poll(struct netif *n);

typedef struct lan9118_stats {
    uint32_t rx, tx, rx_drop, tx_drop;
} lan9118_stats;
extern lan9118_stats lan9118_counters;

#endif
