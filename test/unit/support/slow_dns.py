#!/usr/bin/env python3
"""A tiny UDP DNS responder for test/unit/posix_resolve_netns.sh.

  slow_dns.py PORT DELAY READY_FILE

Names starting with "slow": an A record 127.0.0.1 after DELAY seconds
(AAAA: an empty NOERROR answer, also delayed).  Names starting with
"never": no answer at all.  Anything else: NXDOMAIN at once.  Each delayed
answer runs on its own timer, so one slow query does not hold up another.
Writes READY_FILE once the socket is bound.  Runs until killed.
"""
import socket
import struct
import sys
import threading


def parse_question(msg):
    """(id, flags, qname, qtype, end of question) of a query, or None."""
    if len(msg) < 12:
        return None
    qid, flags, qd = struct.unpack("!HHH", msg[:6])
    if qd != 1:
        return None
    pos, labels = 12, []
    while pos < len(msg):
        n = msg[pos]
        pos += 1
        if n == 0:
            break
        if n & 0xC0 or pos + n > len(msg):
            return None
        labels.append(msg[pos:pos + n].decode("ascii", "replace").lower())
        pos += n
    if pos + 4 > len(msg):
        return None
    qtype, _qclass = struct.unpack("!HH", msg[pos:pos + 4])
    return qid, flags, ".".join(labels), qtype, pos + 4


def answer(msg, q, rcode, with_a):
    qid, flags, _name, _qtype, qend = q
    rd = flags & 0x0100
    hdr = struct.pack("!HHHHHH", qid, 0x8000 | 0x0400 | rd | 0x0080 | rcode,
                      1, 1 if with_a else 0, 0, 0)
    out = hdr + msg[12:qend]
    if with_a:
        # name pointer to the question, type A, class IN, TTL 1 s, 4 bytes
        out += struct.pack("!HHHIH", 0xC00C, 1, 1, 1, 4) + bytes([127, 0, 0, 1])
    return out


def main():
    port, delay, ready = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", port))
    with open(ready, "w") as f:
        f.write("ready\n")
    while True:
        msg, peer = s.recvfrom(4096)
        q = parse_question(msg)
        if q is None:
            continue
        name, qtype = q[2], q[3]
        if name.startswith("never"):
            continue
        if name.startswith("slow"):
            reply = answer(msg, q, 0, qtype == 1)
            threading.Timer(delay, s.sendto, (reply, peer)).start()
            continue
        s.sendto(answer(msg, q, 3, False), peer)


if __name__ == "__main__":
    main()
