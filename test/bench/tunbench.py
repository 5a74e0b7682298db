#!/usr/bin/env python3
"""tunbench.py: the small measuring tools of tun-vs-openconnect.sh.

  tunbench.py wait-addr IFNAME PREFIX TIMEOUT_S READY_FILE PID_FILE
      Started before the client: writes READY_FILE once running, then
      polls (every 2 ms) until IFNAME has an IPv4 address starting with
      PREFIX and prints the time (seconds since the epoch) it saw it, so
      the caller's set-up time does not include this script's start-up.
      Exit 1 on timeout, or as soon as the process whose PID the caller
      wrote to PID_FILE (the client) has exited.
  tunbench.py voice-recv PORT EXPECTED TIMEOUT_S READY_FILE OUT_FILE
      Receive the voice stream on UDP PORT (all addresses) until EXPECTED
      packets came or TIMEOUT_S passed; write
      "received lost jitter_ms owd_med_ms owd_p99_ms" to OUT_FILE.  Jitter
      is RFC 3550 6.4.1's interarrival jitter estimate
      (J += (|D| - J) / 16), averaged over the stream; the one-way delay
      is exact because sender and receiver share the host's clock.
  tunbench.py voice-send HOST PORT PPS COUNT SIZE
      Send COUNT datagrams of SIZE bytes (a sequence number and the send
      time, then zeros) at PPS packets per second on an absolute schedule.
  tunbench.py ping-stats FILE
      From `ping` output: "median_ms p99_ms loss_pct" of the replies.
  tunbench.py iperf tcp|udp FILE
      From `iperf3 -J` output: the receiver's Mbit/s (tcp), or the
      receiver's packets per second (udp, the datagram size from the test).
  tunbench.py proc PID
      "peak_rss_mib cpu_seconds" of a running process (VmHWM; utime+stime).
  tunbench.py table RESULTS [--require CLIENT...] [--out FILE]
      The medians per client and figure from RESULTS lines
      "REP CLIENT FIGURE VALUE", as a Markdown table with the ratio of the
      first client to the second.  With --require, exit 1 when a listed
      client lacks any figure (the --quick smoke test).
"""
import fcntl
import json
import math
import os
import re
import socket
import struct
import sys
import time

SIOCGIFADDR = 0x8915


def ifaddr(sock, name):
    try:
        r = fcntl.ioctl(sock.fileno(), SIOCGIFADDR,
                        struct.pack("256s", name.encode()[:15]))
    except OSError:
        return None
    return socket.inet_ntoa(r[20:24])


def alive(pid):
    try:
        with open("/proc/%s/stat" % pid) as f:
            st = f.read()
    except OSError:
        return False
    return st[st.rindex(")") + 2] != "Z"


def wait_addr(name, prefix, timeout, ready, pidfile):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    end = time.monotonic() + float(timeout)
    with open(ready + ".tmp", "w") as f:
        f.write("%d\n" % os.getpid())
    os.rename(ready + ".tmp", ready)
    pid = None
    while time.monotonic() < end:
        a = ifaddr(s, name)
        if a and a.startswith(prefix):
            print("%.6f" % time.time())
            return 0
        if pid is None:
            try:
                with open(pidfile) as f:
                    pid = f.read().strip() or None
            except OSError:
                pass
        elif not alive(pid):
            sys.stderr.write("wait-addr: process %s exited\n" % pid)
            return 1
        time.sleep(0.002)
    return 1


def pct(sorted_vals, p):
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_vals:
        return float("nan")
    k = max(0, min(len(sorted_vals) - 1, int(math.ceil(p / 100.0 * len(sorted_vals))) - 1))
    return sorted_vals[k]


def voice_recv(port, expected, timeout, ready, out):
    expected = int(expected)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    s.bind(("0.0.0.0", int(port)))
    with open(ready + ".tmp", "w") as f:
        f.write("%d\n" % os.getpid())
    os.rename(ready + ".tmp", ready)
    end = time.monotonic() + float(timeout)
    seen = set()
    owd = []
    jit = 0.0
    jsum = 0.0
    jn = 0
    prev = None  # (send_ns, recv_ns)
    while len(seen) < expected:
        left = end - time.monotonic()
        if left <= 0:
            break
        s.settimeout(left)
        try:
            data = s.recv(65536)
        except socket.timeout:
            break
        r = time.time_ns()
        if len(data) < 12:
            continue
        seq, snd = struct.unpack("!IQ", data[:12])
        if seq in seen:
            continue
        seen.add(seq)
        owd.append((r - snd) / 1e6)
        if prev is not None:
            d = ((r - prev[1]) - (snd - prev[0])) / 1e6
            jit += (abs(d) - jit) / 16.0
            jsum += jit
            jn += 1
        prev = (snd, r)
    owd.sort()
    res = "%d %d %.3f %.3f %.3f\n" % (
        len(seen), expected - len(seen), jsum / jn if jn else float("nan"),
        pct(owd, 50), pct(owd, 99))
    with open(out + ".tmp", "w") as f:
        f.write(res)
    os.rename(out + ".tmp", out)
    return 0


def voice_send(host, port, pps, count, size):
    pps, count, size = float(pps), int(count), int(size)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    # voice is marked EF (DSCP 46), as a softphone marks RTP
    s.setsockopt(socket.IPPROTO_IP, socket.IP_TOS, 46 << 2)
    pad = bytes(max(0, size - 12))
    t0 = time.monotonic()
    errors = 0
    for i in range(count):
        due = t0 + i / pps
        now = time.monotonic()
        if due > now:
            time.sleep(due - now)
        try:
            s.sendto(struct.pack("!IQ", i, time.time_ns()) + pad, (host, int(port)))
        except OSError:
            errors += 1  # counted as lost by the receiver
    if errors:
        sys.stderr.write("voice-send: %d of %d sends failed\n" % (errors, count))
    return 0


def ping_stats(path):
    times = []
    sent = None
    with open(path) as f:
        for line in f:
            m = re.search(r"time=([0-9.]+) ms", line)
            if m:
                times.append(float(m.group(1)))
            m = re.search(r"(\d+) packets transmitted", line)
            if m:
                sent = int(m.group(1))
    if not times or not sent:
        return 1
    times.sort()
    print("%.3f %.3f %.2f" % (pct(times, 50), pct(times, 99),
                              100.0 * (sent - len(times)) / sent))
    return 0


def iperf(kind, path):
    with open(path) as f:
        j = json.load(f)
    if "error" in j:
        sys.stderr.write("iperf3: %s\n" % j["error"])
        return 1
    rx = j["end"]["sum_received"]
    if kind == "tcp":
        print("%.1f" % (rx["bits_per_second"] / 1e6))
    else:
        size = j["start"]["test_start"]["blksize"]
        print("%.0f" % (rx["bytes"] / size / rx["seconds"]))
    return 0


def proc(pid):
    hwm = None
    with open("/proc/%s/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                hwm = int(line.split()[1]) / 1024.0
    with open("/proc/%s/stat" % pid) as f:
        st = f.read()
    fields = st[st.rindex(")") + 2:].split()
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = (int(fields[11]) + int(fields[12])) / float(ticks)
    print("%.2f %.2f" % (hwm, cpu))
    return 0


# figure -> (label, unit, better); the table keeps this order
FIGURES = [
    ("setup_ms", "set-up to inner address", "ms", "lower"),
    ("tcp_up", "TCP up (iperf3)", "Mbit/s", "higher"),
    ("tcp_down", "TCP down (iperf3 -R)", "Mbit/s", "higher"),
    ("udp172_pps", "172-byte UDP delivered", "pkt/s", "higher"),
    ("ping_idle_med", "ping -s 172 idle, median", "ms", "lower"),
    ("ping_idle_p99", "ping -s 172 idle, p99", "ms", "lower"),
    ("rtp_idle_jitter", "RTP 50 pps idle, jitter", "ms", "lower"),
    ("rtp_idle_loss", "RTP 50 pps idle, loss", "%", "lower"),
    ("ping_bulk_med", "ping under bulk TCP, median", "ms", "lower"),
    ("ping_bulk_p99", "ping under bulk TCP, p99", "ms", "lower"),
    ("ping_bulk_loss", "ping under bulk TCP, loss", "%", "lower"),
    ("rtp_bulk_jitter", "RTP under bulk, jitter", "ms", "lower"),
    ("rtp_bulk_loss", "RTP under bulk, loss", "%", "lower"),
    ("rtp_bulk_owd_med", "RTP under bulk, one-way median", "ms", "lower"),
    ("rtp_bulk_owd_p99", "RTP under bulk, one-way p99", "ms", "lower"),
    ("bulk_with_voice", "bulk TCP up beside voice", "Mbit/s", "higher"),
    ("imp_ping_med", "loss+RTT: ping under bulk, median", "ms", "lower"),
    ("imp_ping_p99", "loss+RTT: ping under bulk, p99", "ms", "lower"),
    ("imp_ping_loss", "loss+RTT: ping under bulk, loss", "%", "lower"),
    ("imp_rtp_jitter", "loss+RTT: RTP under bulk, jitter", "ms", "lower"),
    ("imp_rtp_loss", "loss+RTT: RTP under bulk, loss", "%", "lower"),
    ("imp_rtp_owd_p99", "loss+RTT: RTP under bulk, one-way p99", "ms", "lower"),
    ("imp_bulk", "loss+RTT: bulk TCP up beside voice", "Mbit/s", "higher"),
    ("rss_mib", "client peak RSS (VmHWM)", "MiB", "lower"),
    ("cpu_s", "client CPU (one clean session)", "s", "lower"),
]


def median(vals):
    v = sorted(vals)
    n = len(v)
    if n == 0:
        return None
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2.0


def fmt(x):
    if x is None:
        return "—"
    if isinstance(x, float) and math.isnan(x):
        return "nan"
    a = abs(x)
    if a >= 100:
        return "%.0f" % x
    if a >= 10:
        return "%.1f" % x
    if a >= 1:
        return "%.2f" % x
    return "%.3f" % x


def table(args):
    path = args[0]
    require, out = [], None
    i = 1
    while i < len(args):
        if args[i] == "--require":
            i += 1
            while i < len(args) and not args[i].startswith("--"):
                require.append(args[i])
                i += 1
        elif args[i] == "--out":
            out = args[i + 1]
            i += 2
        else:
            sys.stderr.write("table: unknown argument %s\n" % args[i])
            return 2
    vals, clients, reps = {}, [], set()
    with open(path) as f:
        for line in f:
            p = line.split()
            if len(p) != 4:
                continue
            rep, client, fig, v = p
            try:
                x = float(v)
            except ValueError:
                continue
            if client not in clients:
                clients.append(client)
            reps.add(rep)
            vals.setdefault((client, fig), []).append(x)
    for c in require:
        if c not in clients:
            clients.append(c)
    names = {"tse": "tse-cli --tun", "oc": "OpenConnect"}
    hdr = ["figure", "unit", "better"] + [names.get(c, c) for c in clients]
    ratio = len(clients) >= 2
    if ratio:
        hdr.append("%s / %s" % (names.get(clients[0], clients[0]), names.get(clients[1], clients[1])))
    lines = ["| " + " | ".join(hdr) + " |", "|" + "---|" * len(hdr)]
    missing = []
    for key, label, unit, better in FIGURES:
        row = [label, unit, better]
        meds = []
        for c in clients:
            m = median(vals.get((c, key), []))
            meds.append(m)
            row.append(fmt(m))
            if m is None and c in require:
                missing.append("%s %s" % (c, key))
        if ratio:
            a, b = meds[0], meds[1]
            if a is None or b is None or b == 0 or math.isnan(a) or math.isnan(b):
                row.append("—")
            else:
                row.append("%.2f" % (a / b))
        lines.append("| " + " | ".join(row) + " |")
    text = "\n".join(lines) + "\n\nMedians of %d repetition(s).\n" % len(reps)
    sys.stdout.write(text)
    if out:
        with open(out, "w") as f:
            f.write(text)
    if missing:
        sys.stdout.write("MISSING: %s\n" % ", ".join(missing))
        return 1
    return 0


def main():
    a = sys.argv[1:]
    if not a:
        sys.stderr.write(__doc__)
        return 2
    cmd, a = a[0], a[1:]
    try:
        if cmd == "wait-addr" and len(a) == 5:
            return wait_addr(*a)
        if cmd == "voice-recv" and len(a) == 5:
            return voice_recv(*a)
        if cmd == "voice-send" and len(a) == 5:
            return voice_send(*a)
        if cmd == "ping-stats" and len(a) == 1:
            return ping_stats(*a)
        if cmd == "iperf" and len(a) == 2:
            return iperf(*a)
        if cmd == "proc" and len(a) == 1:
            return proc(*a)
        if cmd == "table" and a:
            return table(a)
    except (OSError, ValueError, KeyError) as e:
        sys.stderr.write("tunbench.py %s: %s\n" % (cmd, e))
        return 1
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main())
