#!/usr/bin/env python3
"""py_tscf.py: a small TSCF on Python's ssl module (OpenSSL), for interop.

The point is a TLS server that is not mbed TLS: the TSE must get the tunnel
UP through it, not just the handshake.  It answers Configuration_Request
(TR 33.830 A.1.6), Keep_Alive (A.1.8) and Configuration_Release_Request
(A.1.7), and echoes ICMP echo requests sent to any inner address, so a
`tse-cli --ping` proves packets flow both ways.  One tunnel at a time,
sequentially; every blocking call has a timeout.

  py_tscf.py --cert PEM --key PEM --ready-file F [--tls12-only|--tls13-only]
             [--ciphers OPENSSL-CIPHER-STRING] [--serverpref] [--log F]

The ready file gets "127.0.0.1:PORT" once the socket listens.  Exits on
SIGTERM, or after --lifetime seconds (default 120).
"""
import argparse
import signal
import socket
import ssl
import struct
import sys
import time

CM_CONFIG_REQUEST, CM_CONFIG_RESPONSE = 1, 2
CM_RELEASE_REQUEST, CM_RELEASE_RESPONSE = 5, 6
CM_KEEPALIVE, CM_KEEPALIVE_RESPONSE = 7, 8


def log(msg):
    sys.stderr.write("py_tscf: %s\n" % msg)
    sys.stderr.flush()


def cm(ctype, tsid, seq, tlvs):
    body = b"".join(struct.pack("!BB", t, len(v)) + v for t, v in tlvs)
    return struct.pack("!BBHQI", 0x10, ctype, len(tlvs), tsid, seq) + body


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def icmp_echo_reply(pkt):
    """An IPv4 ICMP echo request -> its reply, or None."""
    ihl = (pkt[0] & 0x0F) * 4
    if pkt[0] >> 4 != 4 or len(pkt) < ihl + 8 or pkt[9] != 1 or pkt[ihl] != 8:
        return None
    hdr = bytearray(pkt[:ihl])
    hdr[12:16], hdr[16:20] = pkt[16:20], pkt[12:16]
    hdr[8] = 64
    hdr[10:12] = b"\0\0"
    hdr[10:12] = struct.pack("!H", checksum(bytes(hdr)))
    icmp = bytearray(pkt[ihl:])
    icmp[0] = 0
    icmp[2:4] = b"\0\0"
    icmp[2:4] = struct.pack("!H", checksum(bytes(icmp)))
    return bytes(hdr) + bytes(icmp)


class Conn:
    def __init__(self, tls):
        self.tls = tls
        self.buf = b""

    def need(self, n, deadline):
        while len(self.buf) < n:
            left = deadline - time.time()
            if left <= 0:
                raise TimeoutError("peer too slow")
            self.tls.settimeout(left)
            d = self.tls.recv(65536)
            if not d:
                raise EOFError("peer closed")
            self.buf += d

    def take(self, n):
        d, self.buf = self.buf[:n], self.buf[n:]
        return d

    def unit(self, deadline):
        """The next unit (kind, bytes): CM = 1, IPv4 = 4, IPv6 = 6."""
        self.need(1, deadline)
        kind = self.buf[0] >> 4
        if kind == 1:
            self.need(16, deadline)
            count = struct.unpack("!H", self.buf[2:4])[0]
            off = 16
            for _ in range(count):
                self.need(off + 2, deadline)
                off += 2 + self.buf[off + 1]
            self.need(off, deadline)
            return 1, self.take(off)
        if kind == 4:
            self.need(4, deadline)
            return 4, self.take(max(20, struct.unpack("!H", self.buf[2:4])[0]))
        if kind == 6:
            self.need(6, deadline)
            return 6, self.take(40 + struct.unpack("!H", self.buf[4:6])[0])
        raise ValueError("bad unit nibble %d" % kind)


def serve_one(tls, tsid, keepalive):
    c = Conn(tls)
    deadline = time.time() + 60
    while True:
        kind, u = c.unit(deadline)
        if kind != 1:
            reply = icmp_echo_reply(u) if kind == 4 else None
            if reply:
                tls.sendall(reply)
            continue
        _, ctype, count, rtsid, seq = struct.unpack("!BBHQI", u[:16])
        if ctype == CM_CONFIG_REQUEST:
            tlvs = [(3, b"\0\0"), (4, bytes([198, 18, 0, 2])),
                    (5, bytes([255, 255, 255, 0]))]
            if keepalive:
                tlvs.append((6, struct.pack("!H", keepalive)))
            tls.sendall(cm(CM_CONFIG_RESPONSE, tsid, seq, tlvs))
            log("tunnel up, TSID %x, %s %s" % (tsid, tls.version(), tls.cipher()[0]))
        elif ctype == CM_KEEPALIVE:
            tls.sendall(cm(CM_KEEPALIVE_RESPONSE, tsid, seq, []))
        elif ctype == CM_RELEASE_REQUEST:
            tls.sendall(cm(CM_RELEASE_RESPONSE, tsid, seq, [(3, b"\0\0")]))
            log("released")
            return


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--ready-file", required=True)
    ap.add_argument("--tls12-only", action="store_true")
    ap.add_argument("--tls13-only", action="store_true")
    ap.add_argument("--ciphers")
    ap.add_argument("--serverpref", action="store_true")
    ap.add_argument("--keepalive", type=int, default=0)
    ap.add_argument("--lifetime", type=float, default=120)
    a = ap.parse_args()

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(a.cert, a.key)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if a.tls12_only:
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    if a.tls13_only:
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    if a.ciphers:
        ctx.set_ciphers(a.ciphers)
    if a.serverpref:
        ctx.options |= ssl.OP_CIPHER_SERVER_PREFERENCE
    else:
        ctx.options &= ~ssl.OP_CIPHER_SERVER_PREFERENCE

    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", 0))
    ls.listen(8)
    with open(a.ready_file + ".tmp", "w") as f:
        f.write("127.0.0.1:%d\n" % ls.getsockname()[1])
    import os
    os.rename(a.ready_file + ".tmp", a.ready_file)

    end = time.time() + a.lifetime
    tsid = 0x1000
    while time.time() < end:
        ls.settimeout(max(0.1, end - time.time()))
        try:
            s, _ = ls.accept()
        except socket.timeout:
            break
        s.settimeout(10)
        tsid += 1
        try:
            with ctx.wrap_socket(s, server_side=True) as tls:
                serve_one(tls, tsid, a.keepalive)
        except (ssl.SSLError, OSError, EOFError, TimeoutError, ValueError) as e:
            log("connection ended: %s" % e)
        finally:
            s.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
