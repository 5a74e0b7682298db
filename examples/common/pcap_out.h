/*
 * pcap_out: a pcap-ng capture of a tunnel's inner traffic and control
 * messages, for tse-cli --pcap and tscf-server --pcap (one implementation,
 * compiled into both).
 *
 * The file has two interfaces (Wireshark shows them as frame.interface_id):
 *   0  "tunnel"   LINKTYPE_RAW (101): each inner IP packet (IPv4 or IPv6)
 *                 exactly as carried in the tunnel, without the framing
 *   1  "tscf-cm"  LINKTYPE_USER0 (147): each control message of TR 33.830
 *                 Annex A, the 16-byte CM header and its TLVs, without the
 *                 framing (tools/wireshark/tscf.lua dissects it)
 * Timestamps are microseconds of the real-time clock (if_tsresol 6, the
 * default).  Each Enhanced Packet Block carries epb_flags with the
 * direction, from the writing program's point of view: inbound = received
 * from the peer (frame.packet_flags_direction 1), outbound = sent or
 * queued for it (2).
 *
 * Every block is flushed when written, so the file is complete up to the
 * last packet even if the program is killed.  The first write error is
 * reported once on stderr; then the capture stops.
 */
#ifndef TSE_EXAMPLES_PCAP_OUT_H
#define TSE_EXAMPLES_PCAP_OUT_H

#include <stddef.h>
#include <stdint.h>

#define PCAP_OUT_LINKTYPE_RAW 101u
#define PCAP_OUT_LINKTYPE_USER0 147u

enum pcap_out_if { PCAP_OUT_IF_PACKET = 0, PCAP_OUT_IF_CM = 1 };
enum pcap_out_dir { PCAP_OUT_IN = 1, PCAP_OUT_OUT = 2 };

typedef struct pcap_out pcap_out;

/** Create @p path (truncating it) and write the section header and the two
 *  interface descriptions; @p app names the writer (shb_userappl).  NULL
 *  on failure, with the reason in @p err. */
pcap_out *pcap_out_open(const char *path, const char *app, char *err, size_t errcap);

/** One inner IP packet (interface 0). */
void pcap_out_packet(pcap_out *p, enum pcap_out_dir dir, const uint8_t *pkt, size_t len);

/** One control message (interface 1). */
void pcap_out_cm(pcap_out *p, enum pcap_out_dir dir, const uint8_t *cm, size_t len);

/** Blocks written so far (packets + CMs). */
unsigned long pcap_out_count(const pcap_out *p);

/** Close the file and free @p p (NULL is fine). */
void pcap_out_close(pcap_out *p);

#endif
