/* lan9118.c - a polled lwIP netif driver for the SMSC LAN9118 (register
 * interface as in its datasheet, and as QEMU's hw/net/lan9118.c models
 * it): PIO through the TX/RX data FIFOs, no interrupts, no DMA. */
#include "lan9118.h"

#include <string.h>

#include "lwip/etharp.h"
#include "lwip/pbuf.h"
#include "netif/ethernet.h"

#define R(n, off) (*(volatile uint32_t *)((uintptr_t)(n)->state + (off)))

#define RX_DATA_FIFO 0x00
#define TX_DATA_FIFO 0x20
#define RX_STATUS_FIFO 0x40
#define TX_STATUS_FIFO 0x48
#define ID_REV 0x50
#define INT_EN 0x5c
#define BYTE_TEST 0x64
#define TX_CFG 0x70
#define HW_CFG 0x74
#define RX_FIFO_INF 0x7c
#define TX_FIFO_INF 0x80
#define PMT_CTRL 0x84
#define MAC_CSR_CMD 0xa4
#define MAC_CSR_DATA 0xa8

#define MAC_CR 1
#define ADDRH 2
#define ADDRL 3

#define TX_CFG_TX_ON (1u << 1)
#define HW_CFG_SRST (1u << 0)
#define MAC_CR_RXEN (1u << 2)
#define MAC_CR_TXEN (1u << 3)
#define CSR_BUSY (1u << 31)
#define CSR_READ (1u << 30)

lan9118_stats lan9118_counters;

static uint32_t mac_read(struct netif *n, uint32_t idx)
{
    int guard = 100000;
    R(n, MAC_CSR_CMD) = CSR_BUSY | CSR_READ | idx;
    while ((R(n, MAC_CSR_CMD) & CSR_BUSY) && --guard > 0) {
    }
    return R(n, MAC_CSR_DATA);
}

static void mac_write(struct netif *n, uint32_t idx, uint32_t v)
{
    int guard = 100000;
    R(n, MAC_CSR_DATA) = v;
    R(n, MAC_CSR_CMD) = CSR_BUSY | idx;
    while ((R(n, MAC_CSR_CMD) & CSR_BUSY) && --guard > 0) {
    }
}

static err_t lan_output(struct netif *n, struct pbuf *p)
{
    static uint32_t frame[(1536 + 3) / 4];
    uint32_t len = p->tot_len, i, words;
    uint32_t st;

    if (len > sizeof(frame) || (R(n, TX_FIFO_INF) & 0xffffu) < len + 8) {
        lan9118_counters.tx_drop++;
        return ERR_MEM;
    }
    pbuf_copy_partial(p, frame, (u16_t)len, 0);
    /* command A: first + last segment, buffer size; command B: tag, length */
    R(n, TX_DATA_FIFO) = (1u << 13) | (1u << 12) | len;
    R(n, TX_DATA_FIFO) = (len << 16) | len;
    words = (len + 3) / 4;
    for (i = 0; i < words; i++) {
        R(n, TX_DATA_FIFO) = frame[i];
    }
    /* drain the TX status FIFO so that it never fills */
    while ((R(n, TX_FIFO_INF) >> 16) & 0xffu) {
        st = R(n, TX_STATUS_FIFO);
        (void)st;
    }
    lan9118_counters.tx++;
    return ERR_OK;
}

int lan9118_poll(struct netif *n)
{
    static uint32_t frame[(1536 + 4 + 3) / 4];
    int moved = 0;
    while (moved < 16 && ((R(n, RX_FIFO_INF) >> 16) & 0xffu) != 0) {
        uint32_t st = R(n, RX_STATUS_FIFO);
        uint32_t len = (st >> 16) & 0x3fffu; /* with the 4-byte FCS */
        uint32_t words = (len + 3) / 4, i;
        struct pbuf *p;
        if (words > sizeof(frame) / 4) {
            /* cannot be on a 1500-byte link: discard word by word */
            for (i = 0; i < words; i++) {
                (void)R(n, RX_DATA_FIFO);
            }
            lan9118_counters.rx_drop++;
            continue;
        }
        for (i = 0; i < words; i++) {
            frame[i] = R(n, RX_DATA_FIFO);
        }
        moved++;
        if ((st & (1u << 15)) || len < 4 + 14) {
            lan9118_counters.rx_drop++;
            continue;
        }
        len -= 4;
        p = pbuf_alloc(PBUF_RAW, (u16_t)len, PBUF_POOL);
        if (p == NULL) {
            lan9118_counters.rx_drop++;
            continue;
        }
        pbuf_take(p, frame, (u16_t)len);
        if (n->input(p, n) != ERR_OK) {
            pbuf_free(p);
            lan9118_counters.rx_drop++;
            continue;
        }
        lan9118_counters.rx++;
    }
    return moved;
}

err_t lan9118_netif_init(struct netif *n)
{
    int guard = 100000;
    uint32_t lo, hi;
    if (R(n, BYTE_TEST) != 0x87654321u) {
        return ERR_IF;
    }
    R(n, HW_CFG) = HW_CFG_SRST;
    while ((R(n, HW_CFG) & HW_CFG_SRST) && --guard > 0) {
    }
    guard = 100000;
    while (!(R(n, PMT_CTRL) & 1u) && --guard > 0) {
    }
    R(n, INT_EN) = 0;
    /* the MAC address QEMU was given (-nic ...,mac=) */
    lo = mac_read(n, ADDRL);
    hi = mac_read(n, ADDRH);
    n->hwaddr[0] = (u8_t)lo;
    n->hwaddr[1] = (u8_t)(lo >> 8);
    n->hwaddr[2] = (u8_t)(lo >> 16);
    n->hwaddr[3] = (u8_t)(lo >> 24);
    n->hwaddr[4] = (u8_t)hi;
    n->hwaddr[5] = (u8_t)(hi >> 8);
    n->hwaddr_len = 6;
    mac_write(n, MAC_CR, mac_read(n, MAC_CR) | MAC_CR_RXEN | MAC_CR_TXEN);
    R(n, TX_CFG) = TX_CFG_TX_ON;

    n->name[0] = 'e';
    n->name[1] = 'n';
    n->mtu = 1500;
    n->flags = NETIF_FLAG_BROADCAST | NETIF_FLAG_ETHARP | NETIF_FLAG_ETHERNET;
    n->output = etharp_output;
    n->linkoutput = lan_output;
    return ERR_OK;
}
