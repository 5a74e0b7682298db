/* lwip_keepalive.h - the TCP options of the outer connection, shared by
 * the raw-API port (tse_lwip_transport.c) and the netconn port
 * (tse_lwip_netconn.c).  Private to port/lwip. */
#ifndef TSE_LWIP_KEEPALIVE_H
#define TSE_LWIP_KEEPALIVE_H

#include "lwip/ip.h"
#include "lwip/tcp.h"

/* A dead path found by TCP itself, as the POSIX port does: the only
 * dead-peer detection of the FTT profile, which has no keep-alive message
 * (docs/engine.md "FTT profile"), and a backstop under TSCF's.  Idle:
 * probes after 20 s, two more 5 s apart; lwIP aborts the connection 30 s
 * after the last sign of life (tcp_slowtmr: keep_idle + keep_cnt *
 * keep_intvl), which the ports report as TSE_ERR_TRANSPORT_TIMEOUT.  lwIP
 * has no TCP_USER_TIMEOUT: unacknowledged data ends the connection after
 * TCP_MAXRTX retransmissions instead (also a timeout).  The PCB gets
 * TCP_PRIO_MAX so that lwIP never kills it to make room for another one:
 * an ERR_ABRT the port did not cause is then always a dead path.  Without
 * LWIP_TCP_KEEPALIVE (docs/porting.md) lwIP's fixed default interval and
 * count apply.  Call before tcp_connect(), on the PCB no one else uses:
 * it writes the PCB's fields as tcp_nagle_disable() does (tcp_setprio()
 * would want the core lock the netconn port does not hold here). */
static inline void tse_lwip_tcp_keepalive(struct tcp_pcb *pcb)
{
    pcb->prio = TCP_PRIO_MAX;
    ip_set_option(pcb, SOF_KEEPALIVE);
    pcb->keep_idle = 20000;
#if LWIP_TCP_KEEPALIVE
    pcb->keep_intvl = 5000;
    pcb->keep_cnt = 2;
#endif
}

#endif /* TSE_LWIP_KEEPALIVE_H */
