/* tscf-server internals shared between its files (not part of libtse). */
#ifndef TSCF_SERVER_H
#define TSCF_SERVER_H

#include <stddef.h>
#include <stdint.h>

/* ---- responder.c: the built-in echo responder (--echo) ----------------- */

/** Internet checksum (RFC 1071) of @p len bytes, folded, not complemented,
 *  starting from @p sum. */
uint32_t tscf_csum_add(uint32_t sum, const uint8_t *p, size_t len);
/** Fold and complement. */
uint16_t tscf_csum_fin(uint32_t sum);

/**
 * Answer @p pkt in place when it is an ICMP/ICMPv6 echo request or a UDP
 * datagram to port 7 (echo): swap the addresses (and ports), rewrite the
 * type, recompute every checksum.  Returns the reply length (== len) or 0
 * when the packet is not something the responder answers (fragments, other
 * protocols, bad checksums, IPv6 extension headers).
 */
size_t tscf_echo_reply(uint8_t *pkt, size_t len);

/* ---- ftt.c: the TS 24.322 profile (--profile ftt) ------------------- */

#define TSCF_FTT_ANNOUNCE_LEN 28
#define TSCF_FTT_ENVELOPE_LEN 3

/** The packet that gives a new FTT tunnel its address: an ICMP Echo
 *  Request from @p server4 to @p client4 (checksums set).  Returns its
 *  length, TSCF_FTT_ANNOUNCE_LEN. */
size_t tscf_ftt_announce(uint8_t out[TSCF_FTT_ANNOUNCE_LEN], const uint8_t server4[4],
                         const uint8_t client4[4], uint16_t seq);
/** The TS 24.322 envelope header for a packet of @p packet_len bytes
 *  (packet_len + 3 <= 65535: the caller's max unit). */
void tscf_ftt_envelope(uint8_t env[TSCF_FTT_ENVELOPE_LEN], size_t packet_len);

/* ---- tun_linux.c: the Linux TUN device (--tun NAME) -------------------- */

/**
 * Create (or attach to) TUN device @p name (IFF_TUN | IFF_NO_PI), set it
 * non-blocking, give it @p addr4/@p plen4 (and @p addr6/@p plen6 when
 * @p addr6 is not NULL) and bring it up; the kernel then routes the pools
 * to it.  Returns the fd or -1 with a message on stderr.
 */
int tscf_tun_open(const char *name, const uint8_t addr4[4], int plen4,
                  const uint8_t *addr6, int plen6);

#endif
