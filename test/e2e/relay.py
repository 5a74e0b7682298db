#!/usr/bin/env python3
"""relay.py LISTEN_PORT_FILE TARGET_HOST TARGET_PORT CUT_AFTER_S [LIFETIME_S]

A TCP relay on 127.0.0.1 for the end-to-end tests.  It binds a free port,
writes it to LISTEN_PORT_FILE, forwards every connection to the target, and
CUT_AFTER_S seconds after the first connection was accepted it cuts every
open connection once (RST to both sides, like a NAT losing its state).
Connections accepted later are relayed normally.  Exits after LIFETIME_S
(default 60) seconds.

RELAY_MODE=blackhole in the environment: instead of the RST, the open
connections go silent (a path that died without telling anyone: what is
sent is read and dropped, nothing comes back, nothing is closed).
"""
import os
import select
import socket
import struct
import sys
import time


def rst(s):
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
    except OSError:
        pass


def main():
    port_file, host, port, cut_after = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    lifetime = float(sys.argv[5]) if len(sys.argv) > 5 else 60.0
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", 0))
    ls.listen(64)
    tmp = port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % ls.getsockname()[1])
    os.rename(tmp, port_file)

    peer = {}  # socket -> its partner
    dead = []  # blackholed sockets: read and dropped
    blackhole = os.environ.get("RELAY_MODE") == "blackhole"
    first = None
    cut_done = False
    end = time.monotonic() + lifetime
    while time.monotonic() < end:
        if first is not None and not cut_done and time.monotonic() >= first + cut_after:
            n = len(peer) // 2
            for s in list(peer):
                if blackhole:
                    dead.append(s)
                else:
                    rst(s)
            peer.clear()
            cut_done = True
            sys.stderr.write("relay: %s %d connection(s) at %.3f\n" %
                             ("blackholed" if blackhole else "cut", n, time.time()))
            sys.stderr.flush()
        r, _, _ = select.select([ls] + list(peer) + dead, [], [], 0.05)
        for s in r:
            if s in dead:
                try:
                    if not s.recv(65536):
                        dead.remove(s)
                        s.close()
                except OSError:
                    dead.remove(s)
                    s.close()
                continue
            if s is ls:
                c, _ = ls.accept()
                try:
                    u = socket.create_connection((host, port), timeout=5)
                except OSError:
                    c.close()
                    continue
                peer[c] = u
                peer[u] = c
                if first is None:
                    first = time.monotonic()
                continue
            if s not in peer:
                continue
            try:
                data = s.recv(65536)
            except OSError:
                data = b""
            other = peer[s]
            if not data:
                for x in (s, other):
                    peer.pop(x, None)
                    x.close()
                continue
            try:
                other.sendall(data)
            except OSError:
                for x in (s, other):
                    peer.pop(x, None)
                    x.close()


if __name__ == "__main__":
    main()
