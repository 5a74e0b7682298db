#!/usr/bin/env python3
"""dissector_cases.py TSCF_LUA

tools/wireshark/tscf.lua on crafted control messages that a session with
tscf-server does not produce: each CM is one frame of a pcap-ng file on a
LINKTYPE_USER0 interface (as tse-cli --pcap writes them), read back with
tshark -T pdml.  Checks IPv6 TLVs, every Response_Code name, reserved and
unknown TLV types, Padding, a TLV of the wrong length (expert info), a
truncated CM and a unit of an unknown version (both malformed).
Exit 77 (skipped) without tshark."""
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

lua = sys.argv[1]
if shutil.which("tshark") is None:
    print("skip: no tshark")
    sys.exit(77)

TSID = bytes.fromhex("0102030405060708")


def tlv(t, v):
    return bytes([t, len(v)]) + v


def cm(type_, tlvs, tsid=TSID, seq=7, first=0x10, count=None):
    body = b"".join(tlvs)
    return bytes([first, type_]) + struct.pack(">H", len(tlvs) if count is None else count) + tsid + \
        struct.pack(">I", seq) + body


V6 = bytes.fromhex("20010db8000000000000000000000042")
M6 = bytes.fromhex("ffffffffffffffff0000000000000000")
frames = [
    # 1: a Configuration_Response with both address families
    cm(2, [tlv(3, b"\x00\x00"), tlv(4, bytes([198, 18, 0, 9])), tlv(5, bytes([255, 255, 255, 0])),
           tlv(18, V6), tlv(19, M6), tlv(6, b"\x00\x1e")]),
] + [
    # 2-7: each Response_Code of table A.1.5-2 in a Release_Response
    cm(6, [tlv(3, struct.pack(">H", rc))]) for rc in range(6)
] + [
    # 8: reserved types 1 and 23, Padding of 5
    cm(7, [tlv(1, b"\xaa"), tlv(23, b"\x01\x02\x03"), tlv(8, b"\x00" * 5)]),
    # 9: Response_Code of length 1 (table A.1.5-1 says 2)
    cm(8, [tlv(3, b"\x00")]),
    # 10: TLV_Count 2, one TLV present
    cm(2, [tlv(3, b"\x00\x00")], count=2),
    # 11: first nibble 2: neither a CM (1) nor IP (4, 6)
    cm(1, [], first=0x20),
]

d = tempfile.mkdtemp(prefix="tse-dissect-cases.")
try:
    path = os.path.join(d, "cases.pcapng")

    def block(btype, body):
        body += b"\x00" * ((4 - len(body) % 4) % 4)
        n = 12 + len(body)
        return struct.pack("<II", btype, n) + body + struct.pack("<I", n)

    with open(path, "wb") as f:
        f.write(block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1)))
        f.write(block(1, struct.pack("<HHI", 147, 0, 0)))  # LINKTYPE_USER0
        for i, data in enumerate(frames):
            ts = 1700000000000000 + i
            f.write(block(6, struct.pack("<IIIII", 0, ts >> 32, ts & 0xFFFFFFFF, len(data), len(data))
                          + data + b"\x00" * ((4 - len(data) % 4) % 4)))
    out = subprocess.run(["tshark", "-r", path, "-X", "lua_script:" + lua, "-T", "pdml"],
                         capture_output=True, text=True, timeout=120)
    if out.returncode != 0:
        print(out.stderr)
        sys.exit(1)
    root = ET.fromstring(out.stdout)
finally:
    shutil.rmtree(d)

failed = 0


def check(cond, what):
    global failed
    print(("ok   " if cond else "FAIL ") + what)
    failed += 0 if cond else 1


pkts = []
for pkt in root.iter("packet"):
    fl = {}
    shown = {}
    for f in pkt.iter("field"):
        fl.setdefault(f.get("name"), []).append(f.get("show"))
        shown.setdefault(f.get("name"), []).append(f.get("showname"))
    pkts.append((fl, shown))
check(len(pkts) == len(frames), "%d frames" % len(pkts))

f, s = pkts[0]
check(f.get("tscf_tunnel.ipv6_address") == ["2001:db8::42"], "Internal_IPv6_Address 2001:db8::42")
check(f.get("tscf_tunnel.ipv6_netmask") == ["ffff:ffff:ffff:ffff::"], "Internal_IPv6_Netmask /64")
check(f.get("tscf_tunnel.ipv4_address") == ["198.18.0.9"] and f.get("tscf_tunnel.keepalive_interval") == ["30"],
      "Internal_IPv4_Address, Keep_Alive_Interval 30 in the same CM")
check(f.get("tscf_tunnel.tlv.type") == ["3", "4", "5", "18", "19", "6"], "the 6 TLVs in order")
check(f.get("tscf_tunnel.cm.tsid") == ["0x0102030405060708"] and f.get("tscf_tunnel.cm.sequence") == ["7"],
      "TSID and Sequence")

names = ["Success", "Invalid tunnel session ID", "Source IP address is blacklisted",
         "Out of tunnel resources", "Service Unavailable", "Version_Not_Supported"]
for rc in range(6):
    f, s = pkts[1 + rc]
    check(f.get("tscf_tunnel.cm.type") == ["6"] and f.get("tscf_tunnel.response_code") == [str(rc)]
          and names[rc] in s["tscf_tunnel.response_code"][0],
          "Response_Code %d: %s" % (rc, s.get("tscf_tunnel.response_code")))

f, s = pkts[7]
check(f.get("tscf_tunnel.tlv.type") == ["1", "23", "8"], "reserved TLV types 1 and 23, Padding")
check(f.get("tscf_tunnel.tlv.value") == ["aa", "010203"] or f.get("tscf_tunnel.tlv.value") == ["aa", "01:02:03"],
      "reserved TLVs: raw values %s" % f.get("tscf_tunnel.tlv.value"))
check(any("Reserved" in x for x in s.get("tscf_tunnel.tlv.type", [])), "reserved types named Reserved")
check(f.get("tscf_tunnel.padding") is not None and f.get("tscf_tunnel.tlv.length")[2] == "5", "Padding of 5")

f, s = pkts[8]
check(f.get("tscf_tunnel.response_code") is None and f.get("tscf_tunnel.tlv.value") is not None,
      "Response_Code of length 1: not decoded as a code, raw value")
check("tscf_tunnel.tlv.bad_length" in f or "_ws.expert" in f, "... with expert info (wrong length)")

f, s = pkts[9]
check(f.get("tscf_tunnel.cm.type") is None and "_ws.expert" in f, "truncated CM: malformed")
f, s = pkts[10]
check(f.get("tscf_tunnel.cm.type") is None and "_ws.expert" in f, "first nibble 2: malformed")

sys.exit(1 if failed else 0)
