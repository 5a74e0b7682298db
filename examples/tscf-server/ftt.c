/*
 * tscf-server --profile ftt: the TS 24.322 side of the server.
 *
 * TS 24.322 puts every inner packet in an envelope (octet 1 Type = 1,
 * octets 2-3 Length of the whole envelope) and has no control messages,
 * so the tunnel is the TLS connection: the server gives it a pool address
 * when TLS is up and tells the client by sending it one packet, an ICMP
 * Echo Request (RFC 792) from the server's own pool address to the
 * client's.  libtse takes that packet's destination as its inner address
 * (docs/engine.md "FTT profile"); the client's stack answers the echo.
 */
#include "tscf.h"

#include <string.h>

size_t tscf_ftt_announce(uint8_t out[TSCF_FTT_ANNOUNCE_LEN], const uint8_t server4[4],
                         const uint8_t client4[4], uint16_t seq)
{
    uint16_t c;
    memset(out, 0, TSCF_FTT_ANNOUNCE_LEN);
    out[0] = 0x45;                    /* IPv4, IHL 5 (RFC 791 3.1) */
    out[3] = TSCF_FTT_ANNOUNCE_LEN;   /* total length */
    out[6] = 0x40;                    /* DF */
    out[8] = 64;                      /* TTL */
    out[9] = 1;                       /* ICMP */
    memcpy(out + 12, server4, 4);
    memcpy(out + 16, client4, 4);
    c = tscf_csum_fin(tscf_csum_add(0, out, 20));
    out[10] = (uint8_t)(c >> 8);
    out[11] = (uint8_t)c;
    out[20] = 8;                      /* Echo Request, code 0 (RFC 792) */
    out[24] = 0x46;                   /* identifier "FT" */
    out[25] = 0x54;
    out[26] = (uint8_t)(seq >> 8);
    out[27] = (uint8_t)seq;
    c = tscf_csum_fin(tscf_csum_add(0, out + 20, TSCF_FTT_ANNOUNCE_LEN - 20));
    out[22] = (uint8_t)(c >> 8);
    out[23] = (uint8_t)c;
    return TSCF_FTT_ANNOUNCE_LEN;
}

void tscf_ftt_envelope(uint8_t env[TSCF_FTT_ENVELOPE_LEN], size_t packet_len)
{
    size_t total = packet_len + TSCF_FTT_ENVELOPE_LEN;
    env[0] = 1;                       /* Type 1: one IPv4 or IPv6 packet */
    env[1] = (uint8_t)(total >> 8);   /* Length of the whole envelope */
    env[2] = (uint8_t)total;
}
