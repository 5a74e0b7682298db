#!/usr/bin/env python3
"""natcheck.py: check what kind of NAT the firewall lab's FW emulates
(TR 33.830 4.3 types 1-4), in the spirit of RFC 4787 / RFC 5780 tests.

  natcheck.py server ADDR_A ADDR_C READY_FILE [LIFETIME_S]   (in NET)
  natcheck.py client ADDR_A ADDR_C                           (in the UE)

The client sends, from ONE UDP socket:
  1. "p1" to A = ADDR_A:3479.  The server answers three times: from A
     ("a"), from ADDR_A:3480 (same address, other port: "b") and from
     ADDR_C:3479 (other address: "c"), each carrying the source port the
     server saw.
  2. then "p2" to B = ADDR_C:3481; the server answers from B with the
     source port it saw.
It prints "mapping=same|differs a=0|1 b=0|1 c=0|1": mapping is whether
both servers saw the same outside port (endpoint-independent mapping);
a/b/c say which answers got through (filtering).  Expected:
  full cone            mapping=same    a=1 b=1 c=1
  address-restricted   mapping=same    a=1 b=1 c=0
  port-restricted      mapping=same    a=1 b=0 c=0
  symmetric            mapping=differs a=1 b=0 c=0
Every wait is bounded (1.5 s per step; the server exits after LIFETIME_S).
"""
import os
import select
import socket
import sys
import time


def udp(addr, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port))
    return s


def server(a, c, ready, lifetime):
    sa, sb, sc, sB = udp(a, 3479), udp(a, 3480), udp(c, 3479), udp(c, 3481)
    with open(ready + ".tmp", "w") as f:
        f.write("ready\n")
    os.rename(ready + ".tmp", ready)
    end = time.monotonic() + lifetime
    while time.monotonic() < end:
        r, _, _ = select.select([sa, sB], [], [], 0.5)
        for s in r:
            data, peer = s.recvfrom(2048)
            port = str(peer[1]).encode()
            if s is sa and data == b"p1":
                sa.sendto(b"a " + port, peer)
                sb.sendto(b"b " + port, peer)
                sc.sendto(b"c " + port, peer)
            elif s is sB and data == b"p2":
                sB.sendto(b"m " + port, peer)
    return 0


def collect(s, until_keys, seconds):
    got = {}
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        r, _, _ = select.select([s], [], [], max(0.0, end - time.monotonic()))
        if not r:
            break
        data = s.recv(2048).decode(errors="replace").split()
        if len(data) == 2:
            got[data[0]] = data[1]
        if until_keys and all(k in got for k in until_keys):
            break
    return got


def client(a, c):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", 0))
    first = {}
    for _ in range(3):  # the first datagram may be lost while ARP resolves
        s.sendto(b"p1", (a, 3479))
        first.update(collect(s, ["a", "b", "c"], 1.5))
        if "a" in first:
            break
    second = {}
    for _ in range(3):
        s.sendto(b"p2", (c, 3481))
        second = collect(s, ["m"], 1.5)
        if "m" in second:
            break
    mapping = "same" if first.get("a") and first.get("a") == second.get("m") else "differs"
    print("mapping=%s a=%d b=%d c=%d" % (mapping, "a" in first, "b" in first, "c" in first))
    return 0


def main():
    if len(sys.argv) >= 5 and sys.argv[1] == "server":
        life = float(sys.argv[5]) if len(sys.argv) > 5 else 20.0
        return server(sys.argv[2], sys.argv[3], sys.argv[4], life)
    if len(sys.argv) == 4 and sys.argv[1] == "client":
        return client(sys.argv[2], sys.argv[3])
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main())
