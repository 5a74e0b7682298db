/*
 * lwipopts.h - the lwIP configuration libtse builds lwIP 2.2 with.
 *
 * lwIP is the inner IP stack of the tunnel: its only network interface is a
 * point-to-point netif whose "wire" is the TSCF tunnel (inner IP packets are
 * carried in TLS to the TSCF).  So: IPv4 and IPv6, TCP, UDP, ICMP, raw; no
 * link layer (no Ethernet, ARP, DHCP, AutoIP, IGMP, SLAAC, DNS).
 *
 * NO_SYS is not set here but on the compiler command line, because the
 * project builds lwIP twice (cmake/TseDeps.cmake):
 *   tse_lwip_nosys  NO_SYS=1: raw API only, driven from one thread or a main
 *                   loop; the integrator provides sys_now().
 *   tse_lwip_sys    NO_SYS=0: tcpip thread, netconn and BSD-like sockets
 *                   API (lwip_socket(), ...), sys_arch from lwIP's unix port.
 * Code that includes lwIP headers must be compiled with the same NO_SYS as the
 * library it links; linking the CMake targets tse_dep_lwip_nosys /
 * tse_dep_lwip_sys takes care of that.
 *
 * Not used with TSE_DEPS=system: Debian's liblwip is compiled with Debian's
 * own /usr/include/lwip/lwipopts.h (NO_SYS=0, malloc-backed pools, Ethernet
 * on), and code built against it must read lwIP's options at compile time
 * (NO_SYS, LWIP_IPV6, ...) rather than assume these values.
 *
 * RAM budget with these values (64-bit host; roughly 3/4 of it on 32-bit):
 *   heap (MEM_SIZE)                     32 KiB  PBUF_RAM pbufs: TCP segments
 *                                               being sent, packets queued
 *                                               towards the tunnel
 *   pbuf pool PBUF_POOL_SIZE x ~1.5 KiB  24 KiB  received inner packets
 *                                      (48 KiB with NO_SYS=0, see below)
 *   pcbs, segments, timeouts, netconns  ~10 KiB
 * i.e. about 66 KiB of static RAM for the whole inner stack (measured with
 * nm on x86-64, lwIP 2.2.1, NO_SYS=1: 66,586 bytes of .data/.bss).
 */
#ifndef TSE_LWIPOPTS_H
#define TSE_LWIPOPTS_H

#if !defined(NO_SYS)
#error "port/lwip/lwipopts.h: compile with -DNO_SYS=1 or -DNO_SYS=0 (link tse_dep_lwip_nosys or tse_dep_lwip_sys)"
#endif

/* ---- protocols ------------------------------------------------------------ */
#define LWIP_IPV4                   1
#define LWIP_IPV6                   1
#define LWIP_TCP                    1
#define LWIP_UDP                    1
#define LWIP_ICMP                   1
#define LWIP_ICMP6                  1
#define LWIP_RAW                    1
#define LWIP_UDPLITE                0
/* Inner packets may be larger than the tunnel MTU the TSCF assigns. */
#define IP_REASSEMBLY               1
#define IP_FRAG                     1
#define LWIP_IPV6_REASS             1
#define LWIP_IPV6_FRAG              1
/* 64-bit hosts: the reassembly helper does not fit in the fragment header */
#define IPV6_FRAG_COPYHEADER        1
#define IP_FORWARD                  0
#define LWIP_IPV6_FORWARD           0

/* ---- no link layer: the netif is a point-to-point tunnel ------------------ */
#define LWIP_ARP                    0
#define LWIP_ETHERNET               0
#define LWIP_DHCP                   0
#define LWIP_AUTOIP                 0
#define LWIP_ACD                    0
#define LWIP_IGMP                   0
/* NO_SYS=0: the outer connection over netconn (tse/lwip_netconn.h) resolves
 * the TSCF's name with lwIP's DNS.  NO_SYS=1 keeps it off: its cyclic timer
 * would wake the idle loops every second (docs/idle.md). */
#ifndef LWIP_DNS                    /* the tests turn it on for NO_SYS=1 */
#if NO_SYS
#define LWIP_DNS                    0
#else
#define LWIP_DNS                    1
#endif
#endif
#define LWIP_IPV6_MLD               0
#define LWIP_IPV6_AUTOCONFIG        0   /* the address comes from the TSCF (CM) */
#define LWIP_IPV6_DHCP6             0
#define LWIP_IPV6_SEND_ROUTER_SOLICIT 0
#define LWIP_IPV6_DUP_DETECT_ATTEMPTS 0
#define PBUF_LINK_HLEN              0
#define PBUF_LINK_ENCAPSULATION_HLEN 0
#define LWIP_HAVE_LOOPIF            0
#define LWIP_NETIF_LOOPBACK         0
#define LWIP_NETIF_STATUS_CALLBACK  1
#define LWIP_NETIF_LINK_CALLBACK    1

/* ---- memory ----------------------------------------------------------------
 * lwIP's own heap and pools (not malloc): sized for one tunnel carrying IMS
 * signalling (SIP over TCP/UDP, a few connections) and media (RTP/UDP). */
#if defined(__LP64__) || defined(_WIN64)
#define MEM_ALIGNMENT               8
#else
#define MEM_ALIGNMENT               4
#endif
#define MEM_LIBC_MALLOC             0
#define MEMP_MEM_MALLOC             0
#define MEM_SIZE                    (32 * 1024)
#if NO_SYS
#define PBUF_POOL_SIZE              16   /* x PBUF_POOL_BUFSIZE (~1.5 KiB) */
#else
/* NO_SYS=0: received packets wait in the tcpip thread's mailbox until that
 * thread runs; on a starved CPU (CI beside a CPU hog) 16 ran out and the
 * paced RTP test lost a few packets ("no pbuf").  32 holds ~50 ms of a
 * busy stream for the thread to catch up. */
#define PBUF_POOL_SIZE              32
#endif
#define MEMP_NUM_PBUF               16   /* PBUF_ROM/REF headers */
#define MEMP_NUM_RAW_PCB            2
#define MEMP_NUM_UDP_PCB            8
#define MEMP_NUM_TCP_PCB            8
#define MEMP_NUM_TCP_PCB_LISTEN     4
#define MEMP_NUM_TCP_SEG            32   /* >= TCP_SND_QUEUELEN */
#define MEMP_NUM_REASSDATA          4
#define MEMP_NUM_FRAG_PBUF          8

/* ---- TCP ------------------------------------------------------------------ */
/* The largest MSS; lwIP lowers it to fit the netif MTU the tunnel sets. */
#define TCP_MSS                     1460
#define TCP_WND                     (4 * TCP_MSS)
#define TCP_SND_BUF                 (4 * TCP_MSS)
#define LWIP_TCP_KEEPALIVE          1

/* ---- threading ------------------------------------------------------------ */
#if NO_SYS
#define LWIP_SOCKET                 0
#define LWIP_NETCONN                0
#define LWIP_NETIF_API              0
/* Single-threaded use: no critical sections needed (an integrator feeding
 * packets from an interrupt turns this on and provides sys_arch_protect). */
#define SYS_LIGHTWEIGHT_PROT        0
#else
#define LWIP_SOCKET                 1
#define LWIP_NETCONN                1
#define LWIP_NETIF_API              1
/* Only lwip_socket(), lwip_connect(), ...: never macros named socket(),
 * connect(), ... that would hijack the host's own socket calls. */
#define LWIP_COMPAT_SOCKETS         0
#define LWIP_POSIX_SOCKETS_IO_NAMES 0
#define LWIP_SO_RCVTIMEO            1
#define LWIP_SO_SNDTIMEO            1
#define SYS_LIGHTWEIGHT_PROT        1
#define LWIP_TCPIP_CORE_LOCKING     1
#define TCPIP_MBOX_SIZE             16
#define TCPIP_THREAD_STACKSIZE      0   /* pthreads: the default stack */
#define TCPIP_THREAD_PRIO           0
#define DEFAULT_THREAD_STACKSIZE    0
#define DEFAULT_RAW_RECVMBOX_SIZE   8
#define DEFAULT_UDP_RECVMBOX_SIZE   8
#define DEFAULT_TCP_RECVMBOX_SIZE   8
#define DEFAULT_ACCEPTMBOX_SIZE     4
#define MEMP_NUM_NETCONN            8
#define MEMP_NUM_NETBUF             8
#define MEMP_NUM_TCPIP_MSG_API      8
#define MEMP_NUM_TCPIP_MSG_INPKT    16
/* Catch calls into the core from a thread that does not hold the core lock
 * (the checks are implemented by the unix port's sys_arch.c). */
void sys_check_core_locking(void);
#define LWIP_ASSERT_CORE_LOCKED()   sys_check_core_locking()
#endif

/* ---- diagnostics ---------------------------------------------------------- */
#define LWIP_STATS                  1   /* counters the tests read */
#define LWIP_STATS_DISPLAY          0

#endif /* TSE_LWIPOPTS_H */
