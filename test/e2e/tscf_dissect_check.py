#!/usr/bin/env python3
"""tscf_dissect_check.py PDML CLIENT_PORT INNER_ADDR TSID_HEX KEEPALIVE

Asserts, field by field, what tools/wireshark/tscf.lua made of a decrypted
tse-cli <-> tscf-server session (tshark -T pdml, see dissector_e2e.sh):
the units in order, each CM's header fields and TLVs, and the ICMP echo
packets inside.  Prints one line per unit, then ok/FAIL lines; exit 1 on any
failure."""
import sys
import xml.etree.ElementTree as ET

pdml, client_port, inner, tsid_hex, ka = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
tsid = "0x" + tsid_hex.lower().rjust(16, "0")
failed = 0


def check(cond, what):
    global failed
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failed += 1


def fields(elem):
    """name -> [show, ...] of every field under elem (nested TLVs too)"""
    out = {}
    for f in elem.iter("field"):
        out.setdefault(f.get("name"), []).append(f.get("show"))
    return out


units = []  # (frame, direction, kind, fields) in capture order
for pkt in ET.parse(pdml).getroot().iter("packet"):
    protos = pkt.findall("proto")
    frame = next(p for p in protos if p.get("name") == "frame")
    num = fields(frame)["frame.number"][0]
    tcp = next((p for p in protos if p.get("name") == "tcp"), None)
    direction = "?"
    if tcp is not None:
        direction = "TSE->TSCF" if fields(tcp)["tcp.srcport"][0] == client_port else "TSCF->TSE"
    # the protocols after each tscf_tunnel unit until the next belong to it
    cur = None
    for p in protos:
        if p.get("name") == "tscf_tunnel":
            f = fields(p)
            cur = {"kind": f.get("tscf_tunnel.unit.kind", ["?"])[0], "f": f, "inner": {}}
            units.append((num, direction, cur))
        elif cur is not None:
            for k, v in fields(p).items():
                cur["inner"].setdefault(k, []).extend(v)

for num, direction, u in units:
    f = u["f"]
    if u["kind"] == "1":
        print("     frame %s %s CM type=%s tsid=%s unassigned=%s seq=%s rc=%s addr=%s mask=%s ka=%s" % (
            num, direction, f.get("tscf_tunnel.cm.type"), f.get("tscf_tunnel.cm.tsid"),
            f.get("tscf_tunnel.cm.tsid_unassigned"), f.get("tscf_tunnel.cm.sequence"),
            f.get("tscf_tunnel.response_code"), f.get("tscf_tunnel.ipv4_address"),
            f.get("tscf_tunnel.ipv4_netmask"), f.get("tscf_tunnel.keepalive_interval")))
    else:
        i = u["inner"]
        print("     frame %s %s IPv%s %s -> %s icmp.type=%s" % (
            num, direction, u["kind"], i.get("ip.src"), i.get("ip.dst"), i.get("icmp.type")))

cms = [(n, d, u["f"]) for n, d, u in units if u["kind"] == "1"]
pkts = [(n, d, u["inner"]) for n, d, u in units if u["kind"] in ("4", "6")]


def one(f, name):
    v = f.get("tscf_tunnel." + name)
    return v[0] if v and len(v) == 1 else v


def cm_of(type_, direction):
    return [f for n, d, f in cms if one(f, "cm.type") == str(type_) and d == direction]


# every CM's fixed header fields
check(all(one(f, "cm.version") == "1" and one(f, "cm.indication") == "0" and one(f, "cm.reserved") == "0"
          for _, _, f in cms) and len(cms) > 0,
      "every CM: CM_Version 1, CM_Indication 0, Reserved 0 (%d CMs)" % len(cms))
check(all(int(one(f, "cm.tlv_count")) == len(f.get("tscf_tunnel.tlv.type", [])) for _, _, f in cms),
      "every CM: TLV_Count = the TLVs dissected")

req = cm_of(1, "TSE->TSCF")
check(len(req) == 1, "one Configuration_Request TSE->TSCF")
if req:
    f = req[0]
    check(one(f, "cm.tsid") == "0xffffffffffffffff" and one(f, "cm.tsid_unassigned") == "1",
          "Configuration_Request: TSID all ones (tsid_unassigned)")
    check(one(f, "cm.sequence") == "1", "Configuration_Request: Sequence 1")
    check(one(f, "ipv4_address") == "0.0.0.0" and one(f, "ipv4_netmask") == "255.255.255.255",
          "Configuration_Request: Internal_IPv4_Address 0.0.0.0, Netmask 255.255.255.255")
    check(one(f, "keepalive_interval") == ka, "Configuration_Request: Keep_Alive_Interval %s" % ka)
    check(f.get("tscf_tunnel.response_code") is None, "Configuration_Request: no Response_Code")

resp = cm_of(2, "TSCF->TSE")
check(len(resp) == 1, "one Configuration_Response TSCF->TSE")
if resp:
    f = resp[0]
    check(one(f, "cm.tsid") == tsid and one(f, "cm.tsid_unassigned") == "0",
          "Configuration_Response: TSID %s (as tse-cli reported)" % tsid)
    check(one(f, "cm.sequence") == "1", "Configuration_Response: Sequence 1 (the request's)")
    check(one(f, "response_code") == "0", "Configuration_Response: Response_Code 0 (Success)")
    check(one(f, "ipv4_address") == inner, "Configuration_Response: Internal_IPv4_Address %s" % inner)
    check(one(f, "ipv4_netmask") == "255.255.255.0", "Configuration_Response: Internal_IPv4_Netmask 255.255.255.0")
    check(one(f, "keepalive_interval") == ka, "Configuration_Response: Keep_Alive_Interval %s" % ka)

kas, kars = cm_of(7, "TSE->TSCF"), cm_of(8, "TSCF->TSE")
check(len(kas) >= 1, "Keep_Alive TSE->TSCF (%d)" % len(kas))
check([one(f, "cm.sequence") for f in kas] == [one(f, "cm.sequence") for f in kars],
      "each Keep_Alive_Response carries its Keep_Alive's Sequence %s" % [one(f, "cm.sequence") for f in kars])
check(all(one(f, "cm.tsid") == tsid and int(one(f, "cm.tlv_count")) == 0 for f in kas + kars),
      "Keep_Alive / Keep_Alive_Response: the assigned TSID, no TLVs")

rel, relr = cm_of(5, "TSE->TSCF"), cm_of(6, "TSCF->TSE")
check(len(rel) == 1 and len(relr) == 1, "one Configuration_Release_Request and one Response")
if rel and relr:
    check(one(rel[0], "cm.tsid") == tsid and one(relr[0], "cm.tsid") == tsid, "Release: the assigned TSID")
    check(one(rel[0], "cm.sequence") == one(relr[0], "cm.sequence"), "Release_Response: the request's Sequence")
    check(one(relr[0], "response_code") == "0", "Configuration_Release_Response: Response_Code 0 (Success)")

# the order of the control procedures
order = [one(f, "cm.type") for _, _, f in cms]
check(order[:2] == ["1", "2"] and order[-2:] == ["5", "6"],
      "Configuration first, Release last (%s)" % " ".join(order))

# ICMP inside
reqs = [i for n, d, i in pkts if d == "TSE->TSCF" and i.get("icmp.type") == ["8"]
        and i.get("ip.src") == [inner] and i.get("ip.dst") == ["198.18.0.1"]]
reps = [i for n, d, i in pkts if d == "TSCF->TSE" and i.get("icmp.type") == ["0"]
        and i.get("ip.src") == ["198.18.0.1"] and i.get("ip.dst") == [inner]]
check(len(reqs) == 2, "2 ICMP echo requests %s -> 198.18.0.1 inside TSE->TSCF" % inner)
check(len(reps) == 2, "2 ICMP echo replies 198.18.0.1 -> %s inside TSCF->TSE" % inner)
check(len(pkts) == 4, "no other inner packets (%d)" % len(pkts))

sys.exit(1 if failed else 0)
