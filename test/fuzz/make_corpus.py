#!/usr/bin/env python3
"""Regenerate the seed corpora from test/vectors/cm.txt.

fuzz_cm_decode/: one file per vector (valid messages and each error).
fuzz_deframe/:   4 control bytes (profile, cap hi/lo, cut pattern) followed
                 by a stream of CMs from the vectors and IPv4/IPv6 packets,
                 TSCF and FTT, plus each framing error.
fuzz_engine/:    whole sessions in fuzz_engine.c's operation language: the
                 handshake byte, a Configuration_Response, packets both
                 ways, keep-alives, releases, cuts, via a proxy or not.
fuzz_rfc4571/:   cap byte, cut byte, an RFC 4571 stream of RTP, RTCP,
                 null, STUN and ChannelData packets, and each error.
fuzz_turn/:      TURN sessions in fuzz_turn.c's record language.
fuzz_tscf_cm/:   client sessions against the reference server (configure,
                 keep-alive, release, resume, take-over, limits, malformed
                 and bad-version CMs, echo packets, timeouts, shutdown
                 drain), in fuzz_tscf_cm.c's record language.
fuzz_netif_input/: inner IPv4/IPv6 packets (ICMP echo, UDP and TCP to
                 lwIP's echo port 7, fragments, bad ones) with clock ticks
                 and tunnel events, in fuzz_netif_input.c's record language.
"""
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
VECTORS = os.path.join(HERE, "..", "vectors", "cm.txt")


def load_vectors(path):
    vecs, cur = [], None
    for line in open(path):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        key, val = [x.strip() for x in line.split(":", 1)]
        if key == "name":
            cur = {"name": val, "hex": b"", "kv": {}}
            vecs.append(cur)
        elif key == "hex":
            cur["hex"] += bytes.fromhex(val)
        else:
            cur["kv"][key] = val
    return vecs


def ipv4(total, ihl=5):
    hdr = bytes([0x40 | ihl, 0]) + struct.pack(">H", total)
    return hdr + bytes((i * 7) & 0xFF for i in range(total - 4))


def ipv6(payload):
    hdr = bytes([0x60, 0, 0, 0]) + struct.pack(">H", payload)
    return hdr + bytes((i * 13) & 0xFF for i in range(40 + payload - 6))


def ftt(pkt):
    return bytes([1]) + struct.pack(">H", len(pkt) + 3) + pkt


def ctl(profile, cap, cut):
    c = cap - 40
    return bytes([profile, c >> 8, c & 0xFF, cut])


def write(d, name, data):
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def main():
    vecs = load_vectors(VECTORS)
    cmdir = os.path.join(HERE, "corpus", "fuzz_cm_decode")
    for v in vecs:
        write(cmdir, v["name"], v["hex"])

    ok_cms = [v["hex"] for v in vecs if v["kv"].get("expect") == "ok"]
    dd = os.path.join(HERE, "corpus", "fuzz_deframe")
    mixed = b"".join(ok_cms[:6]) + ipv4(20) + ipv6(0) + ipv4(100, 6) + ipv6(64)
    write(dd, "tscf_mixed_whole", ctl(0, 1500, 0x00) + mixed)
    write(dd, "tscf_mixed_cut7", ctl(0, 1500, 0x07) + mixed)
    write(dd, "tscf_mixed_cut_big", ctl(0, 1500, 0x45) + mixed)
    write(dd, "tscf_all_cms", ctl(0, 400, 0x03) + b"".join(ok_cms))
    write(dd, "tscf_partial_tail", ctl(0, 1500, 0x02) + mixed + ipv4(200)[:50])
    write(dd, "tscf_cap_exact", ctl(0, 60, 0x01) + ipv4(60) + ipv6(20))
    write(dd, "tscf_cap_plus1", ctl(0, 60, 0x01) + ipv4(20) + ipv4(61))
    write(dd, "tscf_cm_too_big", ctl(0, 40, 0x01) + ok_cms[1])
    write(dd, "tscf_nibble", ctl(0, 1500, 0x05) + ipv4(20) + b"\x70" + bytes(30))
    write(dd, "tscf_ihl", ctl(0, 1500, 0x05) + ipv6(8) + b"\x44" + bytes(30))
    write(dd, "tscf_v4len", ctl(0, 1500, 0x05) + b"\x45\x00\x00\x13" + bytes(30))
    fm = ftt(ipv4(20)) + ftt(ipv6(10)) + ftt(ipv4(300, 7)) + ftt(ipv6(0))
    write(dd, "ftt_mixed_whole", ctl(1, 1500, 0x00) + fm)
    write(dd, "ftt_mixed_cut", ctl(1, 1500, 0x06) + fm)
    write(dd, "ftt_partial_tail", ctl(1, 1500, 0x01) + fm + ftt(ipv4(40))[:10])
    write(dd, "ftt_bad_type", ctl(1, 1500, 0x02) + ftt(ipv4(20)) + b"\x02\x00\x17" + ipv4(20))
    write(dd, "ftt_bad_length", ctl(1, 1500, 0x02) + b"\x01\x00\x03" + ipv4(20))
    write(dd, "ftt_too_big", ctl(1, 100, 0x02) + ftt(ipv4(97)) + ftt(ipv4(98)))
    write(dd, "ftt_inner_cm", ctl(1, 1500, 0x02) + ftt(ok_cms[0]))
    engine_corpus(os.path.join(HERE, "corpus", "fuzz_engine"))
    rfc4571_corpus()
    turn_corpus()
    netif_corpus()
    tscf_cm_corpus()
    return 0


# ---- fuzz_engine's operation language (see fuzz_engine.c run()) ----------
def cm(typ, tsid, seq, tlvs=b"", count=None):
    n = count
    if n is None:
        n, i = 0, 0
        while i < len(tlvs):
            n += 1
            i += 2 + tlvs[i + 1]
    return bytes([0x10, typ]) + struct.pack(">HQI", n, tsid, seq) + tlvs


def tlv(t, v):
    return bytes([t, len(v)]) + v


TSID = 0x0102030405060708
RC_OK = tlv(3, b"\x00\x00")


def feed(b):
    out = b""
    while b:
        out += bytes([0, min(255, len(b))]) + b[:255]
        b = b[255:]
    return out


def wait(ms):
    u = ms // 8
    return bytes([1, (u >> 8) & 0xFF, u & 0xFF])


SEND = bytes([2, 30, 0x02])          # a 200-byte IPv4/UDP packet
SEND_BULK = bytes([2, 230, 0x80])    # a 1400-byte IPv4/TCP packet
DRAIN = bytes([3])


def config_response(seq=1, addr=b"\xc6\x12\x00\x02", ka=2, v6=False, code=0):
    t = tlv(3, struct.pack(">H", code)) + tlv(4, addr) + tlv(5, b"\xff\xff\xff\x00")
    if ka:
        t += tlv(6, struct.pack(">H", ka))
    if v6:
        t += tlv(18, bytes([0x20, 1, 0xd, 0xb8] + [0] * 11 + [2])) + tlv(19, b"\xff" * 8 + b"\x00" * 8)
    return cm(2, TSID, seq, t)


def engine_corpus(d):
    up = feed(b"\x01") + DRAIN + feed(config_response())
    write(d, "up_direct", bytes([0x04]) + up + DRAIN)
    write(d, "up_packets", bytes([0x04]) + up + SEND + SEND_BULK + DRAIN +
          feed(ipv4(60) + ipv6(20)) + SEND + DRAIN)
    write(d, "keepalive_cycle", bytes([0x04]) + up + wait(2100) + DRAIN +
          feed(cm(8, TSID, 2, RC_OK)) + wait(2100) + DRAIN + wait(6000))
    write(d, "server_keepalive_and_release", bytes([0x04]) + up +
          feed(cm(7, TSID, 77)) + DRAIN + feed(cm(5, TSID, 78)) + DRAIN + wait(5000))
    write(d, "client_release", bytes([0x04]) + up + SEND_BULK + bytes([6]) + DRAIN +
          feed(cm(6, TSID, 2, RC_OK)) + DRAIN)
    write(d, "handshake_refused", bytes([0x14]) + feed(b"\x00") + DRAIN + wait(3000))
    write(d, "rejected_then_retry", bytes([0x14]) + feed(b"\x01") + DRAIN +
          feed(config_response(code=3)) + wait(3000) + feed(b"\x01") + DRAIN +
          feed(config_response(seq=2)))
    write(d, "cut_and_resume", bytes([0x14]) + up + SEND + bytes([5]) + wait(3000) +
          feed(b"\x01") + DRAIN + feed(config_response(seq=2, addr=b"\xc6\x12\x00\x09")) + SEND)
    write(d, "ipv6", bytes([0x0c]) + feed(b"\x01") + DRAIN + feed(config_response(v6=True)) +
          bytes([2, 40, 0x03]) + DRAIN)
    proxy = b"HTTP/1.1 200 Connection established\r\n\r\n"
    write(d, "via_proxy", bytes([0x05]) + DRAIN + feed(proxy + b"\x01") + DRAIN +
          feed(config_response()) + SEND + DRAIN)
    write(d, "via_proxy_407", bytes([0x07]) + DRAIN +
          feed(b"HTTP/1.1 407 Auth\r\nProxy-Authenticate: Basic realm=\"x\"\r\n"
               b"Content-Length: 0\r\n\r\n") + DRAIN + feed(proxy + b"\x01") + DRAIN +
          feed(config_response()))
    write(d, "small_queues_fifo", bytes([0x64]) + up + SEND_BULK * 6 + SEND * 4 +
          bytes([4, 100]) + DRAIN + wait(400) + DRAIN)
    write(d, "wrong_tsid", bytes([0x04]) + up + feed(cm(7, TSID + 1, 5)) + DRAIN)
    write(d, "pause_resume", bytes([0x14]) + up + bytes([8]) + wait(100) + bytes([9]) +
          feed(b"\x01") + DRAIN + feed(config_response(seq=2)))
    # the FTT profile (settings byte: credentials without a proxy): the
    # first envelope's packet gives the address, then envelopes both ways
    fup = feed(b"\x01") + DRAIN + feed(ftt(ipv4(60)))
    write(d, "ftt_up_packets", bytes([0x12]) + fup + SEND + SEND_BULK + DRAIN +
          feed(ftt(ipv6(20)) + ftt(ipv4(300))) + SEND + DRAIN)
    write(d, "ftt_cut_new_tunnel", bytes([0x12]) + fup + SEND + bytes([5]) + wait(3000) +
          feed(b"\x01") + DRAIN + feed(ftt(ipv4(80))) + SEND + DRAIN)
    write(d, "ftt_bad_envelope", bytes([0x12]) + fup + feed(bytes([2, 0, 4, 0x45])) + DRAIN +
          wait(3000))
    write(d, "ftt_close", bytes([0x02]) + fup + SEND_BULK + bytes([6]) + DRAIN + wait(4000))


def rfc4571_corpus():
    """fuzz_rfc4571/: cap byte, cut byte, then an RFC 4571 stream."""
    d = os.path.join(HERE, "corpus", "fuzz_rfc4571")
    rtp = bytes([0x80, 0x00, 0x00, 0x01, 0, 0, 0, 0xa0, 0x11, 0x22, 0x33, 0x44]) + b"\xde\xad"
    rtcp = bytes([0x80, 0xc9, 0x00, 0x01, 0x11, 0x22, 0x33, 0x44])
    stun = bytes([0, 1, 0, 0, 0x21, 0x12, 0xa4, 0x42]) + bytes(range(12))
    chan = bytes([0x40, 0x00, 0x00, 0x04, 1, 2, 3, 4])

    def fr(p):
        return struct.pack(">H", len(p)) + p
    mixed = fr(rtp) + fr(b"") + fr(rtcp) + fr(stun) + fr(chan) + fr(rtp)
    write(d, "mixed_whole", bytes([100, 0]) + mixed)
    write(d, "mixed_cut", bytes([100, 0x35]) + mixed)
    write(d, "partial_tail", bytes([100, 0x02]) + mixed + fr(rtp)[:7])
    write(d, "too_big", bytes([5, 0x01]) + fr(rtp[:11]) + fr(rtp))
    write(d, "cap_exact", bytes([6, 0x07]) + fr(rtp[:13]) + fr(rtp[:11]))
    write(d, "nulls", bytes([0, 0x11]) + b"\x00\x00" * 8)


def turn_corpus():
    """fuzz_turn/: setup byte, then records (op, 2-byte length, payload).
    Server messages with placeholder transaction IDs and integrity: the
    harness's fix-up mode (setup bit 2) makes them match."""
    d = os.path.join(HERE, "corpus", "fuzz_turn")

    def attr(t, v):
        return struct.pack(">HH", t, len(v)) + v + bytes((4 - len(v) % 4) % 4)

    def msg(typ, attrs, mi=False, fp=True):
        body = b"".join(attrs)
        if mi:
            body += attr(0x0008, bytes(20))
        if fp:
            body += attr(0x8028, bytes(4))
        return struct.pack(">HHI", typ, len(body), 0x2112A442) + bytes(12) + body

    def xaddr(ip, port):
        x = bytes(a ^ b for a, b in zip(bytes(ip), b"\x21\x12\xa4\x42"))
        return struct.pack(">BBH", 0, 1, port ^ 0x2112) + x

    def rec(op, payload):
        return bytes([op]) + struct.pack(">H", len(payload)) + payload

    err401 = attr(0x0009, bytes([0, 0, 4, 1]) + b"Unauthorized") + attr(0x0014, b"fuzz") + attr(0x0015, b"nonce")
    err438 = attr(0x0009, bytes([0, 0, 4, 38]) + b"Stale") + attr(0x0015, b"nonce2")
    alloc_ok = msg(0x0103, [attr(0x0016, xaddr([198, 51, 100, 1], 5000)),
                            attr(0x0020, xaddr([203, 0, 113, 1], 6000)),
                            attr(0x000D, struct.pack(">I", 600))], mi=True)
    data_ind = msg(0x0017, [attr(0x0012, xaddr([192, 0, 2, 1], 9)), attr(0x0013, b"payload")])
    chan = struct.pack(">HH", 0x4000, 5) + b"hello" + bytes(3)
    conn_att = msg(0x001C, [attr(0x0012, xaddr([192, 0, 2, 1], 9)), attr(0x002A, struct.pack(">I", 7))])
    write(d, "udp_handshake_fixup", bytes([0x04]) + rec(0, msg(0x0113, [err401])) +
          rec(0, alloc_ok) + rec(3, b"") + rec(2, bytes([0x04, 9])) + rec(0, msg(0x0108, [], mi=True)) +
          rec(2, bytes([0x00, 9]) + b"data") + rec(1, bytes([5, 9])) + rec(3, b""))
    write(d, "udp_allocated_traffic", bytes([0x08]) + rec(0, data_ind) + rec(0, chan[:9]) +
          rec(2, bytes([0x00, 9]) + b"x") + rec(3, b"") + rec(1, bytes([200, 4])) + rec(3, b""))
    write(d, "udp_stale_nonce", bytes([0x0C]) + rec(2, bytes([0x05, 1])) + rec(0, msg(0x0118, [err438], mi=True)) +
          rec(3, b"") + rec(0, msg(0x0118, [err438], mi=True)) + rec(1, bytes([1, 0])))
    write(d, "stream_allocated_cut", bytes([0x09]) + rec(0x10, data_ind + chan + data_ind) +
          rec(2, bytes([0x00, 9]) + b"abc") + rec(3, b"") + rec(2, bytes([0x10])) + rec(3, b""))
    write(d, "stream_handshake_fixup", bytes([0x05]) + rec(0x24, msg(0x0113, [err401])) + rec(0, alloc_ok) +
          rec(1, bytes([0, 10])) + rec(3, b""))
    write(d, "tcp_relay_connect", bytes([0x0F]) + rec(2, bytes([0x0C, 9])) +
          rec(0, msg(0x010A, [attr(0x002A, struct.pack(">I", 7))], mi=True)) + rec(0, conn_att) +
          rec(2, bytes([0x14]) + msg(0x010B, [], mi=True)) + rec(3, b""))
    write(d, "stream_garbage", bytes([0x09]) + rec(0, b"\x80\x00\x00\x04abcd"))
    write(d, "udp_timeouts", bytes([0x00]) + rec(1, bytes([255, 0])) * 10)


# ---- fuzz_netif_input's record language -----------------------------------
def inet_csum(b):
    if len(b) % 2:
        b += b"\x00"
    s = sum(struct.unpack(">%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


PEER4, OURS4 = bytes([198, 18, 0, 1]), bytes([198, 18, 0, 2])
PEER6 = bytes([0x20, 1, 0xd, 0xb8] + [0] * 11 + [1])
OURS6 = bytes([0x20, 1, 0xd, 0xb8] + [0] * 11 + [2])


def l4_with_csum(proto, seg, pseudo, off):
    if off is None:
        return seg
    seg = seg[:off] + b"\x00\x00" + seg[off + 2:]
    c = inet_csum(pseudo + seg)
    if proto == 17 and c == 0:
        c = 0xFFFF
    return seg[:off] + struct.pack(">H", c) + seg[off + 2:]


CSUM_OFF4 = {1: 2, 6: 16, 17: 6}
CSUM_OFF6 = {58: 2, 6: 16, 17: 6}


def ip4(proto, seg, ident=1, frag=0, src=PEER4, dst=OURS4, ttl=64):
    pseudo = src + dst + struct.pack(">BBH", 0, proto, len(seg))
    seg = l4_with_csum(proto, seg, b"" if proto == 1 else pseudo, CSUM_OFF4.get(proto))
    return ip4_raw(proto, seg, ident, frag, src, dst, ttl)


def ip4_raw(proto, payload, ident=1, frag=0, src=PEER4, dst=OURS4, ttl=64):
    h = struct.pack(">BBHHHBBH", 0x45, 0, 20 + len(payload), ident, frag, ttl, proto, 0) + src + dst
    h = h[:10] + struct.pack(">H", inet_csum(h)) + h[12:]
    return h + payload


def ip6(nh, seg, src=PEER6, dst=OURS6, csum=True):
    if csum:
        pseudo = src + dst + struct.pack(">IxxxB", len(seg), nh)
        seg = l4_with_csum(nh, seg, pseudo, CSUM_OFF6.get(nh))
    return struct.pack(">IHBB", 0x60000000, len(seg), nh, 64) + src + dst + seg


def icmp_echo(data, v6=False):
    return bytes([128 if v6 else 8, 0, 0, 0, 0x12, 0x34, 0, 1]) + data


def udp(data, dport=7):
    return struct.pack(">HHHH", 40000, dport, 8 + len(data), 0) + data


def tcp(flags, seq=1000, ack=0, data=b"", opts=b"", dport=7):
    off = (20 + len(opts)) // 4
    return struct.pack(">HHIIBBHHH", 40000, dport, seq, ack, off << 4, flags, 8192, 0, 0) + opts + data


def netif_corpus():
    d = os.path.join(HERE, "corpus", "fuzz_netif_input")

    def pkt(b, fix=True):
        return bytes([0 if fix else 1]) + struct.pack(">H", len(b)) + b

    def tick(n):
        return bytes([(n << 2) | 2])

    def ctl(k):
        return bytes([(k << 2) | 3])

    data = bytes(range(64))
    echo4 = icmp_echo(data)
    echo4 = echo4[:2] + struct.pack(">H", inet_csum(echo4)) + echo4[4:]
    write(d, "icmp_echo4", pkt(ip4(1, echo4)))
    write(d, "icmp_echo6", pkt(ip6(58, icmp_echo(data, True))))
    write(d, "udp_echo4", pkt(ip4(17, udp(b"hello"))))
    write(d, "udp_echo6", pkt(ip6(17, udp(b"hello6"))))
    write(d, "udp_closed_port", pkt(ip4(17, udp(b"x", dport=9))) + pkt(ip6(17, udp(b"x", dport=9))))
    mss = b"\x02\x04\x05\xb4"
    write(d, "tcp_syn4", pkt(ip4(6, tcp(0x02, opts=mss))) + tick(1) +
          pkt(ip4(6, tcp(0x10, seq=1001, ack=1))) + pkt(ip4(6, tcp(0x18, seq=1001, data=b"data"))))
    write(d, "tcp_syn6", pkt(ip6(6, tcp(0x02, opts=mss))) + tick(4) + tick(40))
    write(d, "tcp_rst_closed", pkt(ip4(6, tcp(0x02, dport=9))) + pkt(ip6(6, tcp(0x10, dport=9))))
    big = icmp_echo(bytes(i & 0xFF for i in range(1200)))
    big = big[:2] + struct.pack(">H", inet_csum(big)) + big[4:]
    write(d, "frag4_echo", pkt(ip4_raw(1, big[:600], ident=7, frag=0x2000)) +
          pkt(ip4_raw(1, big[600:], ident=7, frag=600 // 8)))
    write(d, "frag4_timeout", pkt(ip4_raw(1, big[:600], ident=8, frag=0x2000)) + tick(63) + tick(63))
    e6 = icmp_echo(bytes(200), True)
    pseudo = PEER6 + OURS6 + struct.pack(">IxxxB", len(e6), 58)
    e6 = l4_with_csum(58, e6, pseudo, 2)
    fh1 = struct.pack(">BBHI", 58, 0, 0x0001, 99)
    fh2 = struct.pack(">BBHI", 58, 0, 104 << 0, 99)
    write(d, "frag6_echo", pkt(ip6(44, fh1 + e6[:104], csum=False)) +
          pkt(ip6(44, fh2 + e6[104:], csum=False)))
    write(d, "link_events", ctl(0) + pkt(ip4(1, echo4)) + ctl(1) + ctl(3) +
          pkt(ip4(1, echo4, dst=bytes([198, 18, 0, 3]))) + ctl(2) + pkt(ip4(17, udp(b"q"))))
    write(d, "bad_packets", pkt(b"\x45" + bytes(10), fix=False) + pkt(b"\x60" + bytes(39)) +
          pkt(b"\x70" + bytes(30)) + pkt(ip4_raw(6, b"\x00" * 3)) + pkt(b"", fix=False))
    bad = ip4(17, udp(b"hello"))
    write(d, "wrong_checksums", pkt(bad[:-1] + bytes([bad[-1] ^ 1]), fix=False) +
          pkt(b"\x45\x00\x00\x1c" + bytes(24), fix=False))


# ---- fuzz_tscf_cm's record language ----------------------------------------
def tscf_cm_corpus():
    d = os.path.join(HERE, "corpus", "fuzz_tscf_cm")
    NONE = 0xFFFFFFFFFFFFFFFF

    def fd(k, b):
        assert len(b) < 256
        return bytes([k << 3, len(b)]) + b

    def fix(k, sel, b):
        return bytes([(k << 3) | 7, sel, len(b)]) + b

    def rd(k):
        return bytes([(k << 3) | 3])

    def gone(k):
        return bytes([(k << 3) | 4])

    def tm(n):
        return bytes([5, n])

    DRAIN_ = bytes([6])
    req = cm(1, NONE, 1, tlv(4, bytes(4)) + tlv(6, struct.pack(">H", 20)))
    req6 = cm(1, NONE, 1, tlv(4, bytes(4)) + tlv(18, bytes(16)))
    want = cm(1, NONE, 1, tlv(4, bytes([198, 18, 0, 9])))
    ka = cm(7, 0, 2)
    rel = cm(5, 0, 3)
    resume = cm(1, 0, 1, tlv(6, struct.pack(">H", 5)))
    echo = icmp_echo(b"ping")
    echo = echo[:2] + struct.pack(">H", inet_csum(echo)) + echo[4:]
    me, srv, other = bytes([198, 18, 0, 2]), bytes([198, 18, 0, 1]), bytes([198, 18, 0, 3])
    write(d, "configure_keepalive_release", bytes([0x00]) + fd(0, req) + rd(0) + fix(0, 0, ka) +
          rd(0) + fix(0, 0, rel) + rd(0) + fd(0, req))
    write(d, "configure_v6_wanted_address", bytes([0x0e]) + fd(0, req6) + rd(0) + fd(1, want) + rd(1))
    write(d, "persist_resume", bytes([0x01]) + fd(0, req) + rd(0) + gone(0) + tm(10) +
          fix(1, 0x80, resume) + rd(1) + fix(1, 0, ka) + rd(1))
    write(d, "persist_expires", bytes([0x01]) + fd(0, req) + gone(0) + tm(255) * 2 + tm(100) +
          fix(1, 0x80, resume) + rd(1))
    write(d, "take_over", bytes([0x01]) + fd(0, req) + fix(1, 0x80, resume) + rd(0) + rd(1) +
          fd(0, req))
    write(d, "max_tunnels", bytes([0x04]) + fd(0, req) + fd(1, req) + rd(1) + fd(2, req) + rd(2))
    write(d, "pool_exhausted", bytes([0x2c]) + fd(0, req) + fd(1, req) + fd(2, req) + rd(2))
    write(d, "unknown_tsid_and_wrong_tsid", bytes([0x0c]) + fd(0, cm(1, 0x1234, 1)) + rd(0) +
          fd(0, req) + fd(0, cm(7, 0x99, 2)) + rd(0) + fd(1, rel) + rd(1))
    write(d, "second_config_same_conn", bytes([0x0c]) + fd(0, req) + fd(0, req) + rd(0))
    write(d, "retransmitted_config", bytes([0x0c]) + fd(0, req) + fix(0, 0, resume) + rd(0))
    write(d, "unexpected_responses", bytes([0x0c]) + fd(0, req) + fix(0, 0, cm(2, 0, 4, RC_OK)) +
          fix(0, 0, cm(8, 0, 5)) + fix(0, 0, cm(6, 0, 6, RC_OK)) + rd(0))
    write(d, "malformed", bytes([0x0c]) + fd(0, b"\x10\x01\x00\x05" + bytes(12)) +
          fd(1, b"\x20\x01\x00\x00" + bytes(12)) + rd(1) + fd(2, b"\x30\x00\x00"))
    write(d, "echo_and_forward", bytes([0x1c]) + fd(0, req) + fd(1, req) + rd(0) + rd(1) +
          fd(0, ip4(1, echo, src=me, dst=srv)) + fd(0, ip4(17, udp(b"hi"), src=me, dst=srv)) +
          fd(0, ip4(17, udp(b"to-3"), src=me, dst=other)) + rd(0) + rd(1) +
          fd(0, ip4(17, udp(b"spoof"), src=other, dst=srv)) + fd(2, ip4(1, echo, src=me, dst=srv)))
    write(d, "echo_v6", bytes([0x1e]) + fd(0, req6) + rd(0) +
          fd(0, ip6(58, icmp_echo(b"p6", True), src=bytes([0x20, 1, 0xd, 0xb8, 0, 5] + [0] * 9 + [2]),
                    dst=bytes([0x20, 1, 0xd, 0xb8, 0, 5] + [0] * 9 + [1]))) + rd(0))
    write(d, "keepalive_timeout", bytes([0x0c]) + fd(0, req) + rd(0) + tm(255) * 2 + fd(1, req) +
          tm(60) + rd(1))
    write(d, "config_timeout", bytes([0x00]) + fd(0, b"") + tm(255))
    write(d, "drain", bytes([0x0d]) + fd(0, req) + fd(1, req) + rd(0) + DRAIN_ + rd(0) + rd(1) +
          fix(0, 0, cm(6, 0, 1, RC_OK)) + rd(0) + tm(20))
    write(d, "queue_full", bytes([0x00]) + fd(0, req) + fix(0, 0, ka * 9) * 10)
    write(d, "split_cm", bytes([0x00]) + fd(0, req[:5]) + fd(0, req[5:]) + rd(0))


if __name__ == "__main__":
    sys.exit(main())
