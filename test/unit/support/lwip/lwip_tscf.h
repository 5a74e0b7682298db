/* lwip_tscf.h - the in-memory TSCF (mem_tscf.h) behind a listening
 * tcp_pcb of an in-memory lwIP world, for the lwIP port tests
 * (test_lwip_transport.c, test_lwip_netconn.c).  One connection at a time;
 * a second is refused.
 *
 * Raw API: with NO_SYS=0 call it under LOCK_TCPIP_CORE() (its callbacks
 * run in the tcpip thread).  Compiled into each test with that test's
 * lwIP, as mem_dns.c. */
#ifndef LWIP_TSCF_H
#define LWIP_TSCF_H

#include "lwip/netif.h"
#include "lwip/tcp.h"

#include "mem_tscf.h"

typedef struct lwip_tscf {
    mem_tscf *peer;
    struct tcp_pcb *listener;
    struct tcp_pcb *conn;    /* the accepted connection, or NULL */
    unsigned accepts;
    /* Flush from lwIP's recv / sent / poll callbacks too (NO_SYS=0: no
     * loop of the test's calls lwip_tscf_flush() in the tcpip thread). */
    int eager;
    /* Set to sys_now() before the peer runs (its clock), or NULL. */
    tse_time_ms *clock;
} lwip_tscf;

/* Listen on port of netif (bound to it) for peer.  0 or -1. */
int lwip_tscf_listen(lwip_tscf *s, mem_tscf *peer, struct netif *netif, u16_t port, int eager,
                     tse_time_ms *clock);
/* Write what the peer has to send; close when it wants to and is done. */
void lwip_tscf_flush(lwip_tscf *s);
/* Close the connection in order (FIN), if there is one. */
void lwip_tscf_close(lwip_tscf *s);
/* Abort the connection and close the listener. */
void lwip_tscf_stop(lwip_tscf *s);

#endif
