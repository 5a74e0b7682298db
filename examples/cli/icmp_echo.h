/* tse-cli: ICMP echo request building and echo reply parsing for IPv4
 * (RFC 791 / RFC 792) and IPv6 (RFC 8200 / RFC 4443), with checksums.
 * Pure functions, unit-tested in test/unit/test_cli_icmp.c. */
#ifndef TSE_CLI_ICMP_ECHO_H
#define TSE_CLI_ICMP_ECHO_H

#include <stddef.h>
#include <stdint.h>

#define CLI_IPV4_HDR 20
#define CLI_IPV6_HDR 40
#define CLI_ICMP_HDR 8

/* RFC 1071 Internet checksum of [p, p+n) added to @p sum (a partial
 * one's-complement sum, 0 to start); returns the folded, complemented
 * 16-bit result in host order. */
uint16_t cli_inet_checksum(const uint8_t *p, size_t n, uint32_t sum);

/* Build IPv4 + ICMP echo request (type 8): TTL 64, DF clear, IP id @p ip_id,
 * identifier @p ident, sequence @p seq, then @p plen payload bytes.
 * Returns the packet length, or 0 if @p cap is too small or the packet
 * would exceed 65535 bytes. */
size_t cli_icmp4_echo_request(uint8_t *buf, size_t cap, const uint8_t src[4],
                              const uint8_t dst[4], uint16_t ip_id,
                              uint16_t ident, uint16_t seq,
                              const uint8_t *payload, size_t plen);

/* Build IPv6 + ICMPv6 echo request (type 128), hop limit 64. */
size_t cli_icmp6_echo_request(uint8_t *buf, size_t cap, const uint8_t src[16],
                              const uint8_t dst[16], uint16_t ident,
                              uint16_t seq, const uint8_t *payload, size_t plen);

typedef struct cli_echo_reply {
    int family;            /* 4 or 6 */
    uint8_t src[16];       /* replier (4 bytes used for IPv4) */
    uint8_t dst[16];
    uint16_t ident, seq;
    uint8_t ttl;           /* TTL / hop limit */
    const uint8_t *payload;  /* points into the packet */
    size_t payload_len;
} cli_echo_reply;

/* If @p pkt is a well-formed ICMP / ICMPv6 echo REPLY (IPv4: header
 * checksum, total length, not a fragment, ICMP checksum; IPv6: payload
 * length, next header 58 directly, ICMPv6 checksum with the pseudo-header),
 * fill @p out and return 0; otherwise return -1 (anything else, including
 * echo requests and corrupt packets). */
int cli_echo_reply_parse(const uint8_t *pkt, size_t len, cli_echo_reply *out);

#endif
