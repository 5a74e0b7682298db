#!/usr/bin/env python3
"""lab.py: the core-side helpers of the namespace tests (test/e2e/netns).

  lab.py tcp-sink   ADDR PORT OUT [LIFETIME_S]
      Accept ONE TCP connection, SHA-256 everything until EOF, write
      "BYTES SHA256HEX" to OUT (atomically), send "SHA256HEX\\n" back, close.
      While receiving, OUT.progress holds the byte count (every 0.1 s).
  lab.py udp-echo   ADDR PORT OUT [LIFETIME_S]
      Echo every UDP datagram to its sender; OUT holds "DATAGRAMS BYTES"
      (rewritten every 0.2 s and at exit).
  lab.py relay      LISTEN_ADDR LISTEN_PORT TARGET_ADDR TARGET_PORT OUT [LIFETIME_S
                    [CUT_EVERY CUTS]]
      A TCP relay.  SIGUSR1 cuts every open connection (RST to both sides,
      like a NAT losing its state); later connections are relayed normally.
      With CUT_EVERY > 0 the relay also cuts by itself each time another
      CUT_EVERY bytes have gone from the accepted (client) side to the
      target, counted over all connections, CUTS times at most: the cuts
      land in the middle of the data and cannot be outrun by the transfer
      (after a cut nothing flows until the client is back).
      OUT holds "ACCEPTED CUTS" (rewritten on every change).

Every helper exits after LIFETIME_S (default 240) seconds at the latest.
"""
import hashlib
import os
import select
import signal
import socket
import struct
import sys
import time


def write_atomic(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.rename(tmp, path)


def listen(addr, port, kind):
    s = socket.socket(socket.AF_INET, kind)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port))
    if kind == socket.SOCK_STREAM:
        s.listen(8)
    return s


def tcp_sink(addr, port, out, lifetime):
    end = time.monotonic() + lifetime
    ls = listen(addr, int(port), socket.SOCK_STREAM)
    write_atomic(out + ".ready", "ready\n")
    ls.settimeout(max(1.0, end - time.monotonic()))
    c, _ = ls.accept()
    c.settimeout(1.0)
    h = hashlib.sha256()
    n = 0
    last = 0.0
    while time.monotonic() < end:
        try:
            data = c.recv(262144)
        except socket.timeout:
            data = None
        if data == b"":
            break
        if data:
            h.update(data)
            n += len(data)
        now = time.monotonic()
        if now - last >= 0.1:
            write_atomic(out + ".progress", "%d\n" % n)
            last = now
    else:
        write_atomic(out + ".progress", "%d\n" % n)
        sys.stderr.write("tcp-sink: lifetime over after %d bytes\n" % n)
        return 1
    write_atomic(out + ".progress", "%d\n" % n)
    hx = h.hexdigest()
    write_atomic(out, "%d %s\n" % (n, hx))
    try:
        c.sendall((hx + "\n").encode())
        c.shutdown(socket.SHUT_WR)
        c.settimeout(5.0)
        while c.recv(4096):
            pass
    except OSError:
        pass
    c.close()
    return 0


def udp_echo(addr, port, out, lifetime):
    end = time.monotonic() + lifetime
    s = listen(addr, int(port), socket.SOCK_DGRAM)
    count = 0
    nbytes = 0
    last = 0.0
    write_atomic(out, "0 0\n")
    while time.monotonic() < end:
        r, _, _ = select.select([s], [], [], 0.2)
        if r:
            data, peer = s.recvfrom(65536)
            count += 1
            nbytes += len(data)
            s.sendto(data, peer)
        now = time.monotonic()
        if now - last >= 0.2:
            write_atomic(out, "%d %d\n" % (count, nbytes))
            last = now
    write_atomic(out, "%d %d\n" % (count, nbytes))
    return 0


def rfc4571_echo(addr, port, out, lifetime):
    """W.3's IMS-AGW played by an echo: TCP, every RFC 4571 frame (16-bit
    length, then the packet) sent back as it came; counts frames, RTP and
    RTCP (RFC 5761 4: second byte 192..223) and framing errors."""
    end = time.monotonic() + lifetime
    s = listen(addr, int(port), socket.SOCK_STREAM)
    frames = rtp = rtcp = bad = 0
    conns = {}  # socket -> bytes not yet a whole frame
    write_atomic(out, "0 0 0 0\n")
    last = 0.0
    while time.monotonic() < end:
        r, _, _ = select.select([s] + list(conns), [], [], 0.2)
        for c in r:
            if c is s:
                n, _ = s.accept()
                conns[n] = b""
                continue
            try:
                data = c.recv(65536)
            except OSError:
                data = b""
            if not data:
                if conns.pop(c):
                    bad += 1  # ended in the middle of a frame
                c.close()
                continue
            buf = conns[c] + data
            while len(buf) >= 2:
                n = (buf[0] << 8) | buf[1]
                if len(buf) < 2 + n:
                    break
                pkt = buf[2:2 + n]
                frames += 1
                if n >= 2 and pkt[0] >> 6 == 2:
                    if 192 <= pkt[1] <= 223:
                        rtcp += 1
                    else:
                        rtp += 1
                c.sendall(buf[:2 + n])
                buf = buf[2 + n:]
            conns[c] = buf
        now = time.monotonic()
        if now - last >= 0.2:
            write_atomic(out, "%d %d %d %d\n" % (frames, rtp, rtcp, bad))
            last = now
    write_atomic(out, "%d %d %d %d\n" % (frames, rtp, rtcp, bad))
    return 0


def relay(laddr, lport, taddr, tport, out, lifetime, cut_every=0, max_cuts=0):
    end = time.monotonic() + lifetime
    ls = listen(laddr, int(lport), socket.SOCK_STREAM)
    state = {"cut": False}
    signal.signal(signal.SIGUSR1, lambda *_: state.__setitem__("cut", True))
    peer = {}
    clients = set()  # the accepted sides: what they send counts as upstream
    upstream = 0
    accepted = 0
    cuts = 0
    write_atomic(out, "0 0\n")

    def rst(s):
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        s.close()

    while time.monotonic() < end:
        if state["cut"]:
            state["cut"] = False
            for s in list(peer):
                rst(s)
            peer.clear()
            clients.clear()
            cuts += 1
            write_atomic(out, "%d %d\n" % (accepted, cuts))
            sys.stderr.write("relay: cut %d after %d bytes upstream\n" % (cuts, upstream))
        try:
            r, _, _ = select.select([ls] + list(peer), [], [], 0.05)
        except InterruptedError:
            continue
        for s in r:
            if s is ls:
                c, _ = ls.accept()
                try:
                    u = socket.create_connection((taddr, int(tport)), timeout=5)
                except OSError:
                    c.close()
                    continue
                # a NAT adds no Nagle delay: forward small records at once
                for x in (c, u):
                    x.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                peer[c] = u
                peer[u] = c
                clients.add(c)
                accepted += 1
                write_atomic(out, "%d %d\n" % (accepted, cuts))
                continue
            if s not in peer:
                continue
            try:
                data = s.recv(262144)
            except OSError:
                data = b""
            other = peer[s]
            if not data:
                for x in (s, other):
                    peer.pop(x, None)
                    clients.discard(x)
                    x.close()
                continue
            try:
                other.setblocking(True)
                other.sendall(data)
            except OSError:
                for x in (s, other):
                    peer.pop(x, None)
                    clients.discard(x)
                    x.close()
                continue
            if s in clients:
                upstream += len(data)
                if cut_every > 0 and cuts < max_cuts and upstream >= (cuts + 1) * cut_every:
                    state["cut"] = True
    return 0


def main():
    if len(sys.argv) < 2:
        sys.stderr.write(__doc__)
        return 2
    cmd, a = sys.argv[1], sys.argv[2:]
    if cmd == "tcp-sink" and len(a) in (3, 4):
        return tcp_sink(a[0], a[1], a[2], float(a[3]) if len(a) > 3 else 240.0)
    if cmd == "udp-echo" and len(a) in (3, 4):
        return udp_echo(a[0], a[1], a[2], float(a[3]) if len(a) > 3 else 240.0)
    if cmd == "rfc4571-echo" and len(a) in (3, 4):
        return rfc4571_echo(a[0], a[1], a[2], float(a[3]) if len(a) > 3 else 240.0)
    if cmd == "relay" and len(a) in (5, 6, 8):
        return relay(a[0], a[1], a[2], a[3], a[4], float(a[5]) if len(a) > 5 else 240.0,
                     int(a[6]) if len(a) > 6 else 0, int(a[7]) if len(a) > 7 else 0)
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main())
