#!/usr/bin/env python3
"""footprint.py BUILD_DIR [DEVICE_FILE] > table.md  |  --compare OLD NEW

Builds the body of docs/footprint.md from a cross build of
examples/cortex-m (arm-none-eabi-size on the objects, the image's ELF and
its linker map) and the device's own measurements under QEMU (the FOOTPRINT
line run_qemu_e2e.sh saves).  With --compare, checks every figure of NEW
against OLD: exit 1 if one grew by more than 5 % (figures at or below 256
bytes may grow by 16 bytes; a figure missing from NEW is a failure, one
missing from OLD is new and passes).  .ci/check-footprint drives it.
"""
import os
import re
import subprocess
import sys

TOL = 0.05
SMALL, SMALL_SLACK = 256, 16

CORE = ["cm_codec", "framing", "http_connect", "tls_session", "tunnel",
        "outq", "outbuf", "error"]
DETECT = ["detect", "stun", "sip_probe"]


def size_objs(build, target, names, src_dir):
    """{name: (text, data, bss)} for lib/<name>.c objects of a target."""
    out = {}
    for n in names:
        path = None
        for root, _, files in os.walk(os.path.join(build, "CMakeFiles", target + ".dir")):
            for f in files:
                if f == n + ".c.obj" and root.endswith(src_dir):
                    path = os.path.join(root, f)
        if path is None:
            raise SystemExit(f"footprint: no {n}.c.obj in {target}")
        r = subprocess.run(["arm-none-eabi-size", path], capture_output=True, text=True, check=True)
        t, d, b = r.stdout.splitlines()[1].split()[:3]
        out[n] = (int(t), int(d), int(b))
    return out


def map_by_archive(mapfile):
    """flash and RAM bytes of the image per input archive (linker map)."""
    flash, ram = {}, {}
    started = False
    pending = None
    rx = re.compile(r"^\s(\.\S+)?\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S+)$")
    with open(mapfile) as f:
        for line in f:
            if line.startswith("Linker script and memory map"):
                started = True
                continue
            if not started:
                continue
            if line.startswith("/DISCARD/"):
                break
            m = rx.match(line.rstrip("\n"))
            if m is None:
                s = line.strip()
                pending = s if re.match(r"^\.\S+$", s) or s == "COMMON" else None
                continue
            sec = m.group(1) or pending or ""
            pending = None
            size = int(m.group(3), 16)
            src = m.group(4)
            if size == 0 or not (".a(" in src or src.endswith(".obj") or src.endswith(".o")):
                continue
            key = os.path.basename(src.split("(")[0]) if ".a(" in src else "example"
            key = {"libtse_core.a": "libtse core", "libtse_dev_ports.a": "port/lwip",
                   "libtse_dev_lwip.a": "lwIP 2.2", "libtse_dev_mbedtls.a": "mbed TLS 3.6",
                   "libc_nano.a": "newlib-nano", "libgcc.a": "libgcc", "libnosys.a": "newlib-nano"}.get(key, key)
            if sec.startswith((".text", ".rodata", ".isr_vector", ".ARM.exidx", ".ARM.extab")):
                flash[key] = flash.get(key, 0) + size
            elif sec.startswith(".data"):
                flash[key] = flash.get(key, 0) + size
                ram[key] = ram.get(key, 0) + size
            elif sec.startswith((".bss", "COMMON")):
                ram[key] = ram.get(key, 0) + size
    return flash, ram


def elf_sections(elf):
    r = subprocess.run(["arm-none-eabi-size", "-A", elf], capture_output=True, text=True, check=True)
    sec = {}
    for line in r.stdout.splitlines():
        p = line.split()
        if len(p) >= 3 and p[0].startswith(".") and p[1].isdigit():
            sec[p[0]] = int(p[1])
    return sec


def obj_table(title, rows, key):
    lines = [f"| {title} | text | data | bss |", "|---|---:|---:|---:|"]
    tt = td = tb = 0
    for n, (t, d, b) in rows.items():
        lines.append(f"| `{n}` | {t} | {d} | {b} | <!-- fp:{key}.{n} {t} {d} {b} -->")
        tt, td, tb = tt + t, td + d, tb + b
    lines.append(f"| **total** | **{tt}** | **{td}** | **{tb}** | <!-- fp:{key}.total {tt} {td} {tb} -->")
    return lines, tt


def kib(n):
    return f"{n / 1024:.1f} KiB"


def generate(build, device_file):
    core = size_objs(build, "tse_core", CORE, "lib")
    core_s = size_objs(build, "tse_core_str", CORE, "lib")
    core_d = size_objs(build, "tse_core_default", CORE, "lib")
    det = size_objs(build, "tse_core_det", DETECT, "lib")
    det_d = size_objs(build, "tse_core_default", DETECT, "lib")
    ports = size_objs(build, "tse_dev_ports", ["tse_netif", "tse_lwip_transport"], "lwip")
    out = []
    t1, c1 = obj_table("core, device config, no strings", core, "core")
    t2, c2 = obj_table("core, device config, with strings", core_s, "core_str")
    t3, c3 = obj_table("core, library defaults (tse/config.h)", core_d, "core_default")
    t4, c4 = obj_table("detection, device config with TSE_CONFIG_DETECT 1", det, "detect")
    t4d, _ = obj_table("detection, library defaults (the STUN codec with TURN's messages)", det_d,
                       "detect_default")
    t5, c5 = obj_table("lwIP ports (port/lwip)", ports, "ports")
    out += ["### Per object (arm-none-eabi-gcc 12.2, -mcpu=cortex-m4 -mthumb -Os, -ffunction-sections)", ""]
    for t in (t1, t2, t3, t4, t4d, t5):
        out += t + [""]
    sec = elf_sections(os.path.join(build, "tse-mps2.elf"))
    flash = sec.get(".text", 0) + sec.get(".ARM.exidx", 0) + sec.get(".data", 0)
    sram = sec.get(".data", 0) + sec.get(".bss", 0)
    fl, rm = map_by_archive(os.path.join(build, "tse-mps2.map"))
    out += ["### The example image (examples/cortex-m, tse-mps2.elf, --gc-sections)", "",
            "| part | flash | static RAM |", "|---|---:|---:|"]
    for k in sorted(set(fl) | set(rm), key=lambda k: -fl.get(k, 0)):
        label = {"example": "the example (main.c, board.c, lan9118.c)"}.get(k, k)
        tag = re.sub(r"[^a-z0-9]+", "_", k.lower()).strip("_")
        out.append(f"| {label} | {fl.get(k, 0)} | {rm.get(k, 0)} | <!-- fp:image.{tag} {fl.get(k, 0)} {rm.get(k, 0)} -->")
    out.append(f"| **image** | **{flash}** ({kib(flash)}) | **{sram}** ({kib(sram)}) | <!-- fp:image.total {flash} {sram} -->")
    out += ["", "Flash = .text + .ARM.exidx + .data (initial values); static RAM = .data + .bss "
            "(lwIP's pools and heap, the tunnel netif, the port, the drivers' frame buffers).  "
            "The linker script reserves 256 KiB of heap and 32 KiB of stack on top: "
            "what is really used is measured below.", ""]
    out += ["### Measured on the device (QEMU mps2-an386, one tunnel up, SIP OPTIONS through it)", ""]
    dev = {}
    if device_file and os.path.exists(device_file):
        with open(device_file) as f:
            for tok in f.read().split():
                if "=" in tok:
                    k, v = tok.split("=", 1)
                    if v.isdigit():
                        dev[k] = int(v)
    if dev:
        per_tunnel = dev["heap_up"] + dev["netif_static"] + dev["port_static"]
        out += ["| figure | bytes | |", "|---|---:|---|",
                f"| peak heap (high-water mark through the allocator: libtse + mbed TLS) | {dev['heap_peak']} | <!-- fp:device.heap_peak {dev['heap_peak']} -->",
                f"| heap in use while the tunnel is up | {dev['heap_up']} | <!-- fp:device.heap_up {dev['heap_up']} -->",
                f"| peak stack (painting; whole main loop incl. the TLS handshake) | {dev['stack_peak']} | <!-- fp:device.stack_peak {dev['stack_peak']} -->",
                f"| tunnel netif (tse_lwip_netif) + port and driver, static | {dev['netif_static'] + dev['port_static']} | <!-- fp:device.static {dev['netif_static'] + dev['port_static']} -->",
                f"| **RAM per tunnel** (heap while up + netif + port) | **{per_tunnel}** ({kib(per_tunnel)}) | <!-- fp:device.per_tunnel {per_tunnel} -->",
                f"| heap allocations while up (steady state) | {dev.get('allocs_while_up', -1)} | |",
                f"| heap in use after tse_tunnel_del() | {dev.get('heap_end', -1)} | |"]
    else:
        out += ["(not measured: run as root with QEMU; see .ci/check-footprint)"]
    out += [""]
    summary = {"core": c1, "core_str": c2, "detect": c4, "flash": flash,
               "per_tunnel": (dev["heap_up"] + dev["netif_static"] + dev["port_static"]) if dev else None}
    return out, summary


def figures(path):
    fig = {}
    with open(path) as f:
        for m in re.finditer(r"<!-- fp:(\S+) ([0-9 ]+)-->", f.read()):
            fig[m.group(1)] = [int(x) for x in m.group(2).split()]
    return fig


def compare(old, new):
    a, b = figures(old), figures(new)
    bad = 0
    for k, ov in a.items():
        if k not in b:
            if k.startswith("device."):
                print(f"footprint: {k}: not measured this time (skipped)")
                continue
            print(f"footprint: {k}: missing")
            bad += 1
            continue
        for i, (o, n) in enumerate(zip(ov, b[k])):
            limit = o + SMALL_SLACK if o <= SMALL else o * (1 + TOL)
            if n > limit:
                print(f"footprint: {k}[{i}] grew {o} -> {n} (+{(n - o) * 100.0 / max(o, 1):.1f} %, limit {int(limit)})")
                bad += 1
    for k in b:
        if k not in a:
            print(f"footprint: {k}: new figure {b[k]}")
    return 1 if bad else 0


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--compare":
        sys.exit(compare(sys.argv[2], sys.argv[3]))
    build = sys.argv[1]
    device = sys.argv[2] if len(sys.argv) > 2 else None
    body, s = generate(build, device)
    targets = [
        f"- tunnel core without strings: **{s['core']} B** ({kib(s['core'])}); target <= 12 KiB",
        f"- tunnel core with strings: **{s['core_str']} B** ({kib(s['core_str'])}); target <= 16 KiB",
        f"- detection (device config): **{s['detect']} B** ({kib(s['detect'])}); target <= 6 KiB",
        f"- whole image flash: **{s['flash']} B** ({kib(s['flash'])}); target <= 192 KiB",
    ]
    if s["per_tunnel"] is not None:
        targets.append(f"- RAM per tunnel on the device: **{s['per_tunnel']} B** ({kib(s['per_tunnel'])}); target <= 40 KiB")
    print("\n".join(["<!-- footprint:begin (generated by .ci/check-footprint --update) -->", "",
                     "### Against the targets (issue 10)", ""] + targets + [""] + body +
                    ["<!-- footprint:end -->"]))


if __name__ == "__main__":
    main()
