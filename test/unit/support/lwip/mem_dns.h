/* mem_dns.h - a DNS server for the in-memory lwIP worlds of the lwIP port
 * tests (test_lwip_netconn.c, test_lwip_detect.c): one UDP PCB on port 53
 * of a netif, answering one name with an A record and NXDOMAIN to anything
 * else; the answer to a name starting "slow." is withheld until
 * mem_dns_release_late() (and retries of it meanwhile go unanswered).
 *
 * Raw API: with NO_SYS=0 call it under LOCK_TCPIP_CORE() (its input runs
 * in the tcpip thread).  Compiled into each test with that test's lwIP
 * (NO_SYS=1 or 0), not into tse_test_support. */
#ifndef MEM_DNS_H
#define MEM_DNS_H

#include "lwip/ip_addr.h"
#include "lwip/netif.h"
#include "lwip/pbuf.h"
#include "lwip/udp.h"

typedef struct mem_dns {
    struct udp_pcb *pcb;
    const char *name;        /* the one name it knows */
    ip4_addr_t addr;         /* its A record */
    unsigned queries;        /* queries received */
    struct pbuf *late;       /* a withheld answer */
    ip_addr_t late_to;
    u16_t late_port;
} mem_dns;

/* Listen on port 53 of netif's address, bound to netif.  0 or -1. */
int mem_dns_start(mem_dns *d, struct netif *netif, const char *name, const ip4_addr_t *addr);
/* Send the withheld answer: 1 if there was one. */
int mem_dns_release_late(mem_dns *d);
/* Drop the withheld answer (if any) and close the PCB. */
void mem_dns_stop(mem_dns *d);

#endif
