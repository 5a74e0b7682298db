/* tse-cli: ICMP echo building and parsing (see icmp_echo.h). */
#include "icmp_echo.h"

#include <string.h>

static uint32_t sum_words(const uint8_t *p, size_t n, uint32_t sum)
{
    size_t i;
    for (i = 0; i + 1 < n; i += 2) {
        sum += (uint32_t)((p[i] << 8) | p[i + 1]);
        sum = (sum & 0xFFFFu) + (sum >> 16);
    }
    if (n & 1) {
        sum += (uint32_t)(p[n - 1] << 8);
        sum = (sum & 0xFFFFu) + (sum >> 16);
    }
    return sum;
}

static uint16_t fold(uint32_t sum)
{
    while (sum >> 16)
        sum = (sum & 0xFFFFu) + (sum >> 16);
    return (uint16_t)~sum;
}

uint16_t cli_inet_checksum(const uint8_t *p, size_t n, uint32_t sum)
{
    return fold(sum_words(p, n, sum));
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

size_t cli_icmp4_echo_request(uint8_t *buf, size_t cap, const uint8_t src[4],
                              const uint8_t dst[4], uint16_t ip_id,
                              uint16_t ident, uint16_t seq,
                              const uint8_t *payload, size_t plen)
{
    size_t total = CLI_IPV4_HDR + CLI_ICMP_HDR + plen;
    uint8_t *ip = buf, *icmp = buf + CLI_IPV4_HDR;
    if (!buf || !src || !dst || (plen && !payload))
        return 0;
    if (total > 65535 || total > cap)
        return 0;
    ip[0] = 0x45;              /* version 4, IHL 5 */
    ip[1] = 0;                 /* DSCP/ECN */
    put16(ip + 2, (uint16_t)total);
    put16(ip + 4, ip_id);
    put16(ip + 6, 0);          /* flags/fragment offset */
    ip[8] = 64;                /* TTL */
    ip[9] = 1;                 /* ICMP */
    put16(ip + 10, 0);
    memcpy(ip + 12, src, 4);
    memcpy(ip + 16, dst, 4);
    put16(ip + 10, cli_inet_checksum(ip, CLI_IPV4_HDR, 0));

    icmp[0] = 8;               /* echo request */
    icmp[1] = 0;
    put16(icmp + 2, 0);
    put16(icmp + 4, ident);
    put16(icmp + 6, seq);
    if (plen)
        memcpy(icmp + CLI_ICMP_HDR, payload, plen);
    put16(icmp + 2, cli_inet_checksum(icmp, CLI_ICMP_HDR + plen, 0));
    return total;
}

/* RFC 8200 8.1 pseudo-header sum for ICMPv6 (next header 58). */
static uint32_t pseudo6(const uint8_t *src, const uint8_t *dst, size_t len)
{
    uint8_t tail[8];
    uint32_t s = sum_words(src, 16, 0);
    s = sum_words(dst, 16, s);
    tail[0] = (uint8_t)(len >> 24);
    tail[1] = (uint8_t)(len >> 16);
    tail[2] = (uint8_t)(len >> 8);
    tail[3] = (uint8_t)len;
    tail[4] = tail[5] = tail[6] = 0;
    tail[7] = 58;
    return sum_words(tail, 8, s);
}

size_t cli_icmp6_echo_request(uint8_t *buf, size_t cap, const uint8_t src[16],
                              const uint8_t dst[16], uint16_t ident,
                              uint16_t seq, const uint8_t *payload, size_t plen)
{
    size_t ulen = CLI_ICMP_HDR + plen;
    size_t total = CLI_IPV6_HDR + ulen;
    uint8_t *ip = buf, *icmp = buf + CLI_IPV6_HDR;
    if (!buf || !src || !dst || (plen && !payload))
        return 0;
    if (ulen > 65535 || total > cap)
        return 0;
    ip[0] = 0x60;
    ip[1] = ip[2] = ip[3] = 0; /* traffic class, flow label */
    put16(ip + 4, (uint16_t)ulen);
    ip[6] = 58;                /* ICMPv6 */
    ip[7] = 64;                /* hop limit */
    memcpy(ip + 8, src, 16);
    memcpy(ip + 24, dst, 16);
    icmp[0] = 128;             /* echo request */
    icmp[1] = 0;
    put16(icmp + 2, 0);
    put16(icmp + 4, ident);
    put16(icmp + 6, seq);
    if (plen)
        memcpy(icmp + CLI_ICMP_HDR, payload, plen);
    put16(icmp + 2, cli_inet_checksum(icmp, ulen, pseudo6(src, dst, ulen)));
    return total;
}

static int parse4(const uint8_t *pkt, size_t len, cli_echo_reply *out)
{
    size_t ihl, total;
    const uint8_t *icmp;
    size_t ilen;
    if (len < CLI_IPV4_HDR)
        return -1;
    ihl = (size_t)(pkt[0] & 0x0F) * 4;
    total = get16(pkt + 2);
    if (ihl < CLI_IPV4_HDR || total < ihl + CLI_ICMP_HDR || total > len)
        return -1;
    if (cli_inet_checksum(pkt, ihl, 0) != 0)
        return -1;
    if ((get16(pkt + 6) & 0x3FFF) != 0) /* MF set or offset: a fragment */
        return -1;
    if (pkt[9] != 1)
        return -1;
    icmp = pkt + ihl;
    ilen = total - ihl;
    if (icmp[0] != 0 || icmp[1] != 0) /* echo reply, code 0 */
        return -1;
    if (cli_inet_checksum(icmp, ilen, 0) != 0)
        return -1;
    memset(out, 0, sizeof *out);
    out->family = 4;
    memcpy(out->src, pkt + 12, 4);
    memcpy(out->dst, pkt + 16, 4);
    out->ttl = pkt[8];
    out->ident = get16(icmp + 4);
    out->seq = get16(icmp + 6);
    out->payload = icmp + CLI_ICMP_HDR;
    out->payload_len = ilen - CLI_ICMP_HDR;
    return 0;
}

static int parse6(const uint8_t *pkt, size_t len, cli_echo_reply *out)
{
    size_t plen;
    const uint8_t *icmp;
    if (len < CLI_IPV6_HDR + CLI_ICMP_HDR)
        return -1;
    plen = get16(pkt + 4);
    if (plen < CLI_ICMP_HDR || CLI_IPV6_HDR + plen > len)
        return -1;
    if (pkt[6] != 58) /* extension headers are not followed here */
        return -1;
    icmp = pkt + CLI_IPV6_HDR;
    if (icmp[0] != 129 || icmp[1] != 0)
        return -1;
    if (cli_inet_checksum(icmp, plen, pseudo6(pkt + 8, pkt + 24, plen)) != 0)
        return -1;
    memset(out, 0, sizeof *out);
    out->family = 6;
    memcpy(out->src, pkt + 8, 16);
    memcpy(out->dst, pkt + 24, 16);
    out->ttl = pkt[7];
    out->ident = get16(icmp + 4);
    out->seq = get16(icmp + 6);
    out->payload = icmp + CLI_ICMP_HDR;
    out->payload_len = plen - CLI_ICMP_HDR;
    return 0;
}

int cli_echo_reply_parse(const uint8_t *pkt, size_t len, cli_echo_reply *out)
{
    if (!pkt || !out || len < 1)
        return -1;
    switch (pkt[0] >> 4) {
    case 4: return parse4(pkt, len, out);
    case 6: return parse6(pkt, len, out);
    default: return -1;
    }
}
