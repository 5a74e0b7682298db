/*
 * lwipopts.h - lwIP 2.2 for the Cortex-M example (examples/cortex-m/) and
 * the footprint table (docs/footprint.md).
 *
 * One lwIP, NO_SYS=1, two netifs:
 *   - the uplink: Ethernet (the board's LAN9118) with ARP and a static
 *     IPv4 address; the outer TCP connection of the tunnel runs over it
 *     (port/lwip/tse_lwip_transport.c) and DNS resolves the TSCF's name;
 *   - the tunnel netif (port/lwip/tse_netif.c): lwIP's default netif, its
 *     "wire" is the tunnel.
 * The outer connection's PCB is bound to the uplink netif
 * (tcp_bind_netif(), LWIP_SINGLE_NETIF must be 0), so it never routes into
 * the tunnel it carries.
 *
 * IPv4 only (TSE_CONFIG_IPV6 0 in the example's tse config), no DHCP (the
 * test gives a static address), no sockets, no netconn.
 */
#ifndef TSE_CM_LWIPOPTS_H
#define TSE_CM_LWIPOPTS_H

#define NO_SYS                      1
#define SYS_LIGHTWEIGHT_PROT        0   /* everything in the main loop */
#define LWIP_SOCKET                 0
#define LWIP_NETCONN                0
#define LWIP_NETIF_API              0

#define LWIP_IPV4                   1
#define LWIP_IPV6                   0
#define LWIP_TCP                    1
#define LWIP_UDP                    1
#define LWIP_ICMP                   1
#define LWIP_RAW                    0
#define LWIP_ARP                    1
#define LWIP_ETHERNET               1
#define LWIP_DHCP                   0
#define LWIP_AUTOIP                 0
#define LWIP_ACD                    0
#define LWIP_IGMP                   0
#define LWIP_DNS                    1
#define DNS_TABLE_SIZE              2
#define DNS_MAX_NAME_LENGTH         64
#define IP_REASSEMBLY               0
#define IP_FRAG                     0
#define IP_FORWARD                  0
#define LWIP_SINGLE_NETIF           0
#define LWIP_NETIF_STATUS_CALLBACK  1
#define LWIP_NETIF_LINK_CALLBACK    1
#define LWIP_HAVE_LOOPIF            0
#define LWIP_NETIF_LOOPBACK         0
#define ETH_PAD_SIZE                0

/* ---- memory: lwIP's own heap and pools (no malloc) ----------------------- */
#define MEM_ALIGNMENT               4
#define MEM_LIBC_MALLOC             0
#define MEMP_MEM_MALLOC             0
#define MEM_SIZE                    (10 * 1024)  /* PBUF_RAM: TCP tx, ARP queue */
#define PBUF_POOL_SIZE              10           /* rx frames */
#define PBUF_POOL_BUFSIZE           1536
#define MEMP_NUM_PBUF               8
#define MEMP_NUM_UDP_PCB            3            /* DNS, SIP/UDP, spare */
#define MEMP_NUM_TCP_PCB            3            /* outer TLS, SIP/TCP, spare */
#define MEMP_NUM_TCP_PCB_LISTEN     1
#define MEMP_NUM_TCP_SEG            16
#define MEMP_NUM_ARP_QUEUE          4

#define TCP_MSS                     1360         /* fits the tunnel MTU too */
#define TCP_WND                     (4 * TCP_MSS)
#define TCP_SND_BUF                 (4 * TCP_MSS)
#define TCP_SND_QUEUELEN            16
#define LWIP_TCP_KEEPALIVE          1

#define LWIP_STATS                  0
#define LWIP_STATS_DISPLAY          0
#define LWIP_DEBUG                  0
#define LWIP_NOASSERT               1

#endif /* TSE_CM_LWIPOPTS_H */
