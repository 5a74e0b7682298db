/* The built-in responder of tscf-server --echo: ICMP echo, ICMPv6 echo and
 * UDP echo (port 7), answered in place with correct checksums. */
#include "tscf.h"

#include <string.h>

#define IPPROTO_ICMP_ 1
#define IPPROTO_UDP_ 17
#define IPPROTO_ICMPV6_ 58
#define UDP_ECHO_PORT 7

uint32_t tscf_csum_add(uint32_t sum, const uint8_t *p, size_t len)
{
    size_t i;
    for (i = 0; i + 1 < len; i += 2)
        sum += (uint32_t)((p[i] << 8) | p[i + 1]);
    if (len & 1)
        sum += (uint32_t)(p[len - 1] << 8);
    while (sum >> 16)
        sum = (sum & 0xFFFF) + (sum >> 16);
    return sum;
}

uint16_t tscf_csum_fin(uint32_t sum)
{
    while (sum >> 16)
        sum = (sum & 0xFFFF) + (sum >> 16);
    return (uint16_t)~sum;
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}

static void swap_bytes(uint8_t *a, uint8_t *b, size_t n)
{
    uint8_t t[16];
    memcpy(t, a, n);
    memcpy(a, b, n);
    memcpy(b, t, n);
}

/* Pseudo-header sum for UDP/ICMPv6 checksums. */
static uint32_t pseudo4(const uint8_t *ip, uint8_t proto, size_t l4len)
{
    uint32_t s = tscf_csum_add(0, ip + 12, 8);
    s += proto;
    s += (uint32_t)l4len;
    return s;
}

static uint32_t pseudo6(const uint8_t *ip, uint8_t proto, size_t l4len)
{
    uint32_t s = tscf_csum_add(0, ip + 8, 32);
    s += (uint32_t)(l4len >> 16);
    s += (uint32_t)(l4len & 0xFFFF);
    s += proto;
    return s;
}

static size_t reply4(uint8_t *pkt, size_t len)
{
    size_t ihl, l4len;
    uint8_t *l4;
    if (len < 20)
        return 0;
    ihl = (size_t)(pkt[0] & 0x0F) * 4;
    if (ihl < 20 || ihl > len || get16(pkt + 2) != len)
        return 0;
    if (tscf_csum_fin(tscf_csum_add(0, pkt, ihl)) != 0)
        return 0; /* bad header checksum */
    if ((get16(pkt + 6) & 0x3FFF) != 0)
        return 0; /* fragment (MF or offset): not reassembled here */
    l4 = pkt + ihl;
    l4len = len - ihl;
    if (pkt[9] == IPPROTO_ICMP_) {
        if (l4len < 8 || l4[0] != 8 || l4[1] != 0)
            return 0; /* only echo request */
        if (tscf_csum_fin(tscf_csum_add(0, l4, l4len)) != 0)
            return 0;
        l4[0] = 0; /* echo reply */
        put16(l4 + 2, 0);
        put16(l4 + 2, tscf_csum_fin(tscf_csum_add(0, l4, l4len)));
    } else if (pkt[9] == IPPROTO_UDP_) {
        uint16_t ck;
        if (l4len < 8 || get16(l4 + 4) != l4len || get16(l4 + 2) != UDP_ECHO_PORT)
            return 0;
        ck = get16(l4 + 6);
        if (ck != 0 && tscf_csum_fin(pseudo4(pkt, IPPROTO_UDP_, l4len) +
                                     tscf_csum_add(0, l4, l4len)) != 0)
            return 0;
        swap_bytes(l4, l4 + 2, 2);
        if (ck != 0) {
            uint16_t n;
            /* the pseudo-header sum does not change when src/dst swap */
            put16(l4 + 6, 0);
            n = tscf_csum_fin(pseudo4(pkt, IPPROTO_UDP_, l4len) + tscf_csum_add(0, l4, l4len));
            put16(l4 + 6, n ? n : 0xFFFF);
        }
    } else {
        return 0;
    }
    swap_bytes(pkt + 12, pkt + 16, 4);
    pkt[8] = 64; /* TTL */
    put16(pkt + 10, 0);
    put16(pkt + 10, tscf_csum_fin(tscf_csum_add(0, pkt, ihl)));
    return len;
}

static size_t reply6(uint8_t *pkt, size_t len)
{
    size_t l4len;
    uint8_t *l4;
    if (len < 40 || (size_t)get16(pkt + 4) + 40 != len)
        return 0;
    l4 = pkt + 40;
    l4len = len - 40;
    if (pkt[6] == IPPROTO_ICMPV6_) {
        if (l4len < 8 || l4[0] != 128 || l4[1] != 0)
            return 0; /* only echo request */
        if (tscf_csum_fin(pseudo6(pkt, IPPROTO_ICMPV6_, l4len) + tscf_csum_add(0, l4, l4len)) != 0)
            return 0;
        swap_bytes(pkt + 8, pkt + 24, 16);
        l4[0] = 129; /* echo reply */
        put16(l4 + 2, 0);
        put16(l4 + 2, tscf_csum_fin(pseudo6(pkt, IPPROTO_ICMPV6_, l4len) +
                                    tscf_csum_add(0, l4, l4len)));
    } else if (pkt[6] == IPPROTO_UDP_) {
        uint16_t n;
        if (l4len < 8 || get16(l4 + 4) != l4len || get16(l4 + 2) != UDP_ECHO_PORT)
            return 0;
        if (tscf_csum_fin(pseudo6(pkt, IPPROTO_UDP_, l4len) + tscf_csum_add(0, l4, l4len)) != 0)
            return 0; /* the UDP checksum is mandatory in IPv6 */
        swap_bytes(pkt + 8, pkt + 24, 16);
        swap_bytes(l4, l4 + 2, 2);
        put16(l4 + 6, 0);
        n = tscf_csum_fin(pseudo6(pkt, IPPROTO_UDP_, l4len) + tscf_csum_add(0, l4, l4len));
        put16(l4 + 6, n ? n : 0xFFFF);
    } else {
        return 0; /* extension headers and other protocols: not answered */
    }
    pkt[7] = 64; /* hop limit */
    return len;
}

size_t tscf_echo_reply(uint8_t *pkt, size_t len)
{
    if (len < 1)
        return 0;
    if ((pkt[0] >> 4) == 4)
        return reply4(pkt, len);
    if ((pkt[0] >> 4) == 6)
        return reply6(pkt, len);
    return 0;
}
