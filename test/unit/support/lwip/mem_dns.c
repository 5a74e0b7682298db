/* mem_dns.c - see mem_dns.h. */
#include <string.h>

#include "mem_dns.h"

/* RFC 1035 4.1: the question's name in dotted form; the offset of its QTYPE
 * in *qtype_at.  0, or -1 for a question this server does not parse. */
static int question_name(const uint8_t *q, size_t n, char *name, size_t cap, size_t *qtype_at)
{
    size_t off = 12, nl = 0;
    while (off < n && q[off] != 0) {
        size_t len = q[off];
        if (len >= 64 || off + 1 + len >= n || nl + len + 2 > cap) {
            return -1; /* compression or too long: not in a query we send */
        }
        if (nl > 0) {
            name[nl++] = '.';
        }
        memcpy(name + nl, q + off + 1, len);
        nl += len;
        off += 1 + len;
    }
    name[nl] = '\0';
    if (off + 5 > n) {
        return -1; /* root label, QTYPE, QCLASS */
    }
    *qtype_at = off + 1;
    return 0;
}

static void dns_rx(void *arg, struct udp_pcb *pcb, struct pbuf *p, const ip_addr_t *from,
                   u16_t from_port)
{
    mem_dns *d = (mem_dns *)arg;
    uint8_t q[512], r[512];
    u16_t n = pbuf_copy_partial(p, q, sizeof(q), 0);
    char name[128];
    size_t at, len;
    int found;
    struct pbuf *out;
    pbuf_free(p);
    d->queries++;
    if (n < 17 || question_name(q, n, name, sizeof(name), &at) != 0) {
        return;
    }
    found = strcmp(name, d->name) == 0 && q[at] == 0 && q[at + 1] == 1; /* type A */
    len = at + 4;
    memcpy(r, q, len);
    r[2] = 0x81;                  /* QR, RD */
    r[3] = found ? 0x80 : 0x83;   /* RA; RCODE 3, NXDOMAIN */
    r[4] = 0; r[5] = 1;           /* QDCOUNT */
    r[6] = 0; r[7] = found ? 1 : 0;
    memset(r + 8, 0, 4);
    if (found) {
        /* the name by pointer to the question, A, IN, TTL 60, RDLENGTH 4 */
        static const uint8_t rr[] = { 0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4 };
        memcpy(r + len, rr, sizeof(rr));
        memcpy(r + len + sizeof(rr), &d->addr.addr, 4);
        len += sizeof(rr) + 4;
    }
    out = pbuf_alloc(PBUF_TRANSPORT, (u16_t)len, PBUF_RAM);
    if (out == NULL) {
        return;
    }
    pbuf_take(out, r, (u16_t)len);
    if (strncmp(name, "slow.", 5) == 0) {
        if (d->late != NULL) {
            pbuf_free(out); /* still slow: the resolver's retries go unanswered */
            return;
        }
        d->late = out;
        ip_addr_copy(d->late_to, *from);
        d->late_port = from_port;
        return;
    }
    (void)udp_sendto(pcb, out, from, from_port);
    pbuf_free(out);
}

int mem_dns_start(mem_dns *d, struct netif *netif, const char *name, const ip4_addr_t *addr)
{
    ip_addr_t local;
    memset(d, 0, sizeof(*d));
    d->name = name;
    ip4_addr_copy(d->addr, *addr);
    d->pcb = udp_new();
    if (d->pcb == NULL) {
        return -1;
    }
    /* its own address: lwIP's resolver takes answers from the server only */
    ip_addr_copy_from_ip4(local, *netif_ip4_addr(netif));
    udp_bind_netif(d->pcb, netif);
    if (udp_bind(d->pcb, &local, 53) != ERR_OK) {
        udp_remove(d->pcb);
        d->pcb = NULL;
        return -1;
    }
    udp_recv(d->pcb, dns_rx, d);
    return 0;
}

int mem_dns_release_late(mem_dns *d)
{
    int had = d->late != NULL;
    if (had) {
        (void)udp_sendto(d->pcb, d->late, &d->late_to, d->late_port);
        pbuf_free(d->late);
        d->late = NULL;
    }
    return had;
}

void mem_dns_stop(mem_dns *d)
{
    if (d->late != NULL) {
        pbuf_free(d->late);
        d->late = NULL;
    }
    if (d->pcb != NULL) {
        udp_remove(d->pcb);
        d->pcb = NULL;
    }
}
