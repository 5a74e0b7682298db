#!/usr/bin/env python3
"""delay_wire.py: a user-space "cable" with a fixed one-way delay between two
network namespaces (this kernel has no netem, so tc cannot add delay).

  delay_wire.py NS_A IF_A NS_B IF_B DELAY_MS READY_FILE [LIFETIME_S]

Creates the TUN device IF_A in namespace NS_A and IF_B in NS_B (layer 3,
no packet information header), then copies every IP packet read from one
to the other DELAY_MS milliseconds later, in order.  So a round trip
across the wire takes 2 * DELAY_MS plus a few tens of microseconds of
Python.  The caller configures addresses and routes on the devices after
READY_FILE appears; the devices vanish when this process exits (SIGTERM,
or after LIFETIME_S seconds, default 600).  Needs root (setns, TUNSETIFF).
"""
import ctypes
import fcntl
import heapq
import os
import select
import signal
import struct
import sys
import time

CLONE_NEWNET = 0x40000000
TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000

libc = ctypes.CDLL(None, use_errno=True)


def setns(name):
    fd = os.open("/var/run/netns/" + name, os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            e = ctypes.get_errno()
            raise OSError(e, "setns %s: %s" % (name, os.strerror(e)))
    finally:
        os.close(fd)


def open_tun(name):
    fd = os.open("/dev/net/tun", os.O_RDWR)
    ifr = struct.pack("16sH", name.encode(), IFF_TUN | IFF_NO_PI)
    fcntl.ioctl(fd, TUNSETIFF, ifr)
    os.set_blocking(fd, False)
    return fd


def main():
    if len(sys.argv) < 7:
        sys.stderr.write(__doc__)
        return 2
    ns_a, if_a, ns_b, if_b = sys.argv[1:5]
    delay = float(sys.argv[5]) / 1000.0
    ready = sys.argv[6]
    lifetime = float(sys.argv[7]) if len(sys.argv) > 7 else 600.0
    home = os.open("/proc/self/ns/net", os.O_RDONLY)
    setns(ns_a)
    fa = open_tun(if_a)
    setns(ns_b)
    fb = open_tun(if_b)
    libc.setns(home, CLONE_NEWNET)
    os.close(home)
    peer = {fa: fb, fb: fa}
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    with open(ready + ".tmp", "w") as f:
        f.write("%d\n" % os.getpid())
    os.rename(ready + ".tmp", ready)

    end = time.monotonic() + lifetime
    queue = []  # (due, seq, out_fd, packet)
    seq = 0
    while not stop and time.monotonic() < end:
        now = time.monotonic()
        timeout = 0.5
        if queue:
            timeout = max(0.0, min(timeout, queue[0][0] - now))
        try:
            r, _, _ = select.select([fa, fb], [], [], timeout)
        except InterruptedError:
            continue
        now = time.monotonic()
        for fd in r:
            for _ in range(64):  # bounded burst per wake-up
                try:
                    pkt = os.read(fd, 65535)
                except BlockingIOError:
                    break
                except OSError:
                    break
                if not pkt:
                    break
                seq += 1
                heapq.heappush(queue, (now + delay, seq, peer[fd], pkt))
        now = time.monotonic()
        while queue and queue[0][0] <= now:
            _, _, out, pkt = heapq.heappop(queue)
            try:
                os.write(out, pkt)
            except OSError:
                pass  # device down or queue full: the packet is lost
    return 0


if __name__ == "__main__":
    sys.exit(main())
