/* tse-cli: ICMP / ICMPv6 echo building and reply parsing, checksums. */
#include <stdint.h>
#include <string.h>

#include "icmp_echo.h"
#include "tt.h"

/* Independent one's-complement sum used to check the code under test. */
static uint32_t ones_sum(const uint8_t *p, size_t n, uint32_t s)
{
    size_t i;
    for (i = 0; i < n; i++)
        s += (i & 1) ? p[i] : (uint32_t)p[i] << 8;
    while (s >> 16)
        s = (s & 0xFFFF) + (s >> 16);
    return s;
}

TT_TEST(checksum_vectors)
{
    /* RFC 1071 4.1 example: sum 0xddf2, checksum 0x220d */
    static const uint8_t rfc[] = { 0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7 };
    /* a well-known IPv4 header, checksum field zeroed: 0xb861 */
    static const uint8_t ip[] = { 0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00,
                                  0x40, 0x11, 0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01,
                                  0xc0, 0xa8, 0x00, 0xc7 };
    static const uint8_t odd[] = { 0x01, 0x02, 0x03 }; /* 0x0102 + 0x0300 */
    TT_EQ_INT(cli_inet_checksum(rfc, sizeof rfc, 0), 0x220d);
    TT_EQ_INT(cli_inet_checksum(ip, sizeof ip, 0), 0xb861);
    TT_EQ_INT(cli_inet_checksum(odd, sizeof odd, 0), (uint16_t)~0x0402);
    TT_EQ_INT(cli_inet_checksum(NULL, 0, 0), 0xFFFF);
}

static const uint8_t SRC4[4] = { 198, 18, 0, 2 };
static const uint8_t DST4[4] = { 198, 18, 0, 1 };

/* Turn an echo request into the reply a host would send. */
static void make_reply4(uint8_t *p, size_t len)
{
    uint8_t tmp[4];
    size_t ihl = (size_t)(p[0] & 0xF) * 4;
    memcpy(tmp, p + 12, 4);
    memcpy(p + 12, p + 16, 4);
    memcpy(p + 16, tmp, 4);
    p[8] = 63;
    p[10] = p[11] = 0;
    {
        uint16_t c = cli_inet_checksum(p, ihl, 0);
        p[10] = (uint8_t)(c >> 8);
        p[11] = (uint8_t)c;
    }
    p[ihl] = 0;
    p[ihl + 2] = p[ihl + 3] = 0;
    {
        uint16_t c = cli_inet_checksum(p + ihl, len - ihl, 0);
        p[ihl + 2] = (uint8_t)(c >> 8);
        p[ihl + 3] = (uint8_t)c;
    }
}

TT_TEST(icmp4_request_layout)
{
    uint8_t pl[56], pkt[128];
    size_t i, n;
    for (i = 0; i < sizeof pl; i++)
        pl[i] = (uint8_t)(0x10 + i);
    n = cli_icmp4_echo_request(pkt, sizeof pkt, SRC4, DST4, 0x1234, 0xbeef, 7,
                               pl, sizeof pl);
    TT_EQ_INT(n, 20 + 8 + 56);
    TT_EQ_INT(pkt[0], 0x45);
    TT_EQ_INT((pkt[2] << 8) | pkt[3], 84);
    TT_EQ_INT((pkt[4] << 8) | pkt[5], 0x1234);
    TT_EQ_INT(pkt[6] | pkt[7], 0);
    TT_EQ_INT(pkt[8], 64);
    TT_EQ_INT(pkt[9], 1);
    TT_EQ_MEM(pkt + 12, SRC4, 4);
    TT_EQ_MEM(pkt + 16, DST4, 4);
    TT_EQ_INT(ones_sum(pkt, 20, 0), 0xFFFF);        /* header checksum valid */
    TT_EQ_INT(pkt[20], 8);
    TT_EQ_INT(pkt[21], 0);
    TT_EQ_INT((pkt[24] << 8) | pkt[25], 0xbeef);
    TT_EQ_INT((pkt[26] << 8) | pkt[27], 7);
    TT_EQ_INT(ones_sum(pkt + 20, 64, 0), 0xFFFF);   /* ICMP checksum valid */
    TT_EQ_MEM(pkt + 28, pl, sizeof pl);
    /* an odd payload length still checksums right */
    n = cli_icmp4_echo_request(pkt, sizeof pkt, SRC4, DST4, 1, 2, 3, pl, 5);
    TT_EQ_INT(n, 33);
    TT_EQ_INT(ones_sum(pkt + 20, 13, 0), 0xFFFF);
    /* room checks */
    TT_EQ_INT(cli_icmp4_echo_request(pkt, 83, SRC4, DST4, 0, 0, 0, pl, 56), 0);
    TT_EQ_INT(cli_icmp4_echo_request(pkt, 84, SRC4, DST4, 0, 0, 0, pl, 56), 84);
    TT_EQ_INT(cli_icmp4_echo_request(pkt, sizeof pkt, SRC4, DST4, 0, 0, 0, NULL, 4), 0);
}

TT_TEST(icmp4_reply_parse)
{
    uint8_t pl[16], pkt[128], bad[128];
    cli_echo_reply r;
    size_t n, i;
    memset(pl, 0xA5, sizeof pl);
    n = cli_icmp4_echo_request(pkt, sizeof pkt, SRC4, DST4, 9, 0x4242, 65535, pl, sizeof pl);
    TT_ASSERT(n > 0);
    TT_EQ_INT(cli_echo_reply_parse(pkt, n, &r), -1);   /* a request, not a reply */
    make_reply4(pkt, n);
    TT_EQ_INT(cli_echo_reply_parse(pkt, n, &r), 0);
    TT_EQ_INT(r.family, 4);
    TT_EQ_MEM(r.src, DST4, 4);
    TT_EQ_MEM(r.dst, SRC4, 4);
    TT_EQ_INT(r.ident, 0x4242);
    TT_EQ_INT(r.seq, 65535);
    TT_EQ_INT(r.ttl, 63);
    TT_EQ_INT(r.payload_len, sizeof pl);
    TT_EQ_MEM(r.payload, pl, sizeof pl);
    /* trailing bytes beyond the IPv4 total length are ignored */
    pkt[n] = pkt[n + 1] = pkt[n + 2] = pkt[n + 3] = 0xEE;
    TT_EQ_INT(cli_echo_reply_parse(pkt, n + 4, &r), 0);
    TT_EQ_INT(r.payload_len, sizeof pl);

    /* every single-bit flip in header or ICMP part is caught */
    for (i = 0; i < n * 8; i++) {
        memcpy(bad, pkt, n);
        bad[i / 8] ^= (uint8_t)(1u << (i % 8));
        if (cli_echo_reply_parse(bad, n, &r) == 0) {
            /* only flips that keep it a valid reply may pass: none can,
             * since both checksums cover everything but TTL/ID changes
             * also change the header checksum */
            TT_ASSERT(!"bit flip accepted");
        }
    }
    TT_EQ_INT(cli_echo_reply_parse(pkt, n - 1, &r), -1);   /* truncated */
    TT_EQ_INT(cli_echo_reply_parse(pkt, 19, &r), -1);
    TT_EQ_INT(cli_echo_reply_parse(pkt, 0, &r), -1);
    TT_EQ_INT(cli_echo_reply_parse(NULL, 10, &r), -1);

    /* a fragment (MF set), checksums fixed up, is refused */
    memcpy(bad, pkt, n);
    bad[6] = 0x20;
    bad[10] = bad[11] = 0;
    {
        uint16_t c = cli_inet_checksum(bad, 20, 0);
        bad[10] = (uint8_t)(c >> 8);
        bad[11] = (uint8_t)c;
    }
    TT_EQ_INT(cli_echo_reply_parse(bad, n, &r), -1);
    /* DF alone is fine */
    bad[6] = 0x40;
    bad[10] = bad[11] = 0;
    {
        uint16_t c = cli_inet_checksum(bad, 20, 0);
        bad[10] = (uint8_t)(c >> 8);
        bad[11] = (uint8_t)c;
    }
    TT_EQ_INT(cli_echo_reply_parse(bad, n, &r), 0);
}

TT_TEST(icmp6_request_and_reply)
{
    uint8_t s[16] = { 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2 };
    uint8_t d[16] = { 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 };
    uint8_t pl[9] = { 1, 2, 3, 4, 5, 6, 7, 8, 9 };
    uint8_t pkt[128], pseudo[40];
    cli_echo_reply r;
    size_t n = cli_icmp6_echo_request(pkt, sizeof pkt, s, d, 0x0102, 0x0304, pl, sizeof pl);
    uint32_t sum;
    TT_EQ_INT(n, 40 + 8 + 9);
    TT_EQ_INT(pkt[0] >> 4, 6);
    TT_EQ_INT((pkt[4] << 8) | pkt[5], 17);
    TT_EQ_INT(pkt[6], 58);
    TT_EQ_INT(pkt[7], 64);
    TT_EQ_INT(pkt[40], 128);
    /* checksum over the RFC 8200 8.1 pseudo-header, computed independently */
    memcpy(pseudo, s, 16);
    memcpy(pseudo + 16, d, 16);
    memset(pseudo + 32, 0, 8);
    pseudo[35] = 17;
    pseudo[39] = 58;
    sum = ones_sum(pseudo, 40, 0);
    TT_EQ_INT(ones_sum(pkt + 40, 17, sum), 0xFFFF);
    TT_EQ_INT(cli_echo_reply_parse(pkt, n, &r), -1); /* request */

    /* reply: swap addresses (pseudo sum unchanged), type 129 */
    memcpy(pkt + 8, d, 16);
    memcpy(pkt + 24, s, 16);
    pkt[40] = 129;
    pkt[42] = pkt[43] = 0;
    {
        uint16_t c = (uint16_t)~ones_sum(pkt + 40, 17, sum);
        pkt[42] = (uint8_t)(c >> 8);
        pkt[43] = (uint8_t)c;
    }
    TT_EQ_INT(cli_echo_reply_parse(pkt, n, &r), 0);
    TT_EQ_INT(r.family, 6);
    TT_EQ_MEM(r.src, d, 16);
    TT_EQ_INT(r.ident, 0x0102);
    TT_EQ_INT(r.seq, 0x0304);
    TT_EQ_INT(r.payload_len, 9);
    /* a changed address breaks the pseudo-header checksum */
    pkt[39] ^= 1;
    TT_EQ_INT(cli_echo_reply_parse(pkt, n, &r), -1);
    pkt[39] ^= 1;
    TT_EQ_INT(cli_echo_reply_parse(pkt, n - 1, &r), -1);
    pkt[6] = 0; /* hop-by-hop header first: not followed */
    TT_EQ_INT(cli_echo_reply_parse(pkt, n, &r), -1);
}

int main(void)
{
    TT_RUN(checksum_vectors);
    TT_RUN(icmp4_request_layout);
    TT_RUN(icmp4_reply_parse);
    TT_RUN(icmp6_request_and_reply);
    return TT_DONE();
}
