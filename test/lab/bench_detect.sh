#!/usr/bin/env bash
# bench_detect.sh: time to decision and time to a working path per firewall
# type (TR 33.830 4.3), with 50 ms of added round-trip time.
#
#   bench_detect.sh TSE_CLI TSCF_SERVER [OUT.md]
#
# Runs the firewall lab (fwlab.sh) LAB_BENCH_RUNS times (default 3) with
# LAB_DELAY_MS=25: the UE-FW link is then delay_wire.py, a user-space relay
# that holds every packet 25 ms in each direction (this kernel has no
# netem), so every round trip from the UE crosses 50 ms of added delay.
# Nothing is computed from counted round trips: the times are measured by
# tse-cli itself (detect_result.elapsed_ms, verify.t_ms).
#
# Writes a Markdown table (median and worst per type) to OUT.md (default
# stdout) and fails if the worst time to a working path is 3000 ms or more
# (LAB_BENCH_LIMIT_MS).  Root only; exit 77 (skip) otherwise.
set -u
CLI=${1:?tse-cli}
SRV=${2:?tscf-server}
OUT=${3:-}
HERE=$(cd "$(dirname "$0")" && pwd)
RUNS=${LAB_BENCH_RUNS:-3}
LIMIT=${LAB_BENCH_LIMIT_MS:-3000}
[ "$(id -u)" = 0 ] || { echo "SKIP: bench_detect: needs root"; exit 77; }
TSV=$(mktemp /tmp/bench-detect.XXXXXX)
trap 'rm -f "$TSV"' EXIT

for r in $(seq 1 "$RUNS"); do
    echo "bench_detect: run $r of $RUNS"
    LAB_DELAY_MS=25 LAB_RESULTS="$TSV" LAB_NATCHECK=0 LAB_REUSE=0 bash "$HERE/fwlab.sh" "$CLI" "$SRV" all |
        grep '^fwlab:'
    rc=${PIPESTATUS[0]}
    if [ "$rc" = 77 ]; then exit 77; fi
    if [ "$rc" != 0 ]; then echo "bench_detect: the lab failed (run $r)"; exit 1; fi
done

python3 - "$TSV" "$RUNS" "$LIMIT" "$OUT" <<'EOF'
import statistics, sys
tsv, runs, limit, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
names = {
    "0": "open (no NAT, no filter)", "1": "1 full-cone NAT", "2": "2 address-restricted cone NAT",
    "3": "3 port-restricted cone NAT", "4": "4 symmetric NAT", "5": "5 only ports 80 and 443",
    "5b": "5 only TCP 80", "6": "6 TCP only", "7": "7 only TCP 443", "8": "8 explicit HTTP proxy (squid)",
    "8a": "8 explicit HTTP proxy (squid, Basic auth)",
    "8b": "8 proxy, wrong credentials (expect none)", "9": "9 DPI: no SIP, only TLS on 443",
}
rows = {}
order = []
for line in open(tsv):
    f = line.rstrip("\n").split("\t")
    if len(f) < 7:
        continue
    t, exp, path, dec, work, st, tun = f[:7]
    if t not in rows:
        rows[t] = []
        order.append(t)
    rows[t].append((exp, path, int(dec), int(work), int(st), int(tun)))
lines = []
lines.append("| type | decision | time to decision, ms (median / worst) | "
             "winning tunnel up, ms (median) | time to working path, ms (median / worst) |")
lines.append("|---|---|---|---|---|")
worst = 0
bad = []
for t in order:
    r = rows[t]
    decs = [x[2] for x in r]
    works = [x[3] for x in r]
    tuns = [x[5] for x in r if x[5] >= 0]
    paths = sorted(set(x[1] for x in r))
    if any(x[1] != x[0] or (x[0] != "none" and x[4] != 200) for x in r):
        bad.append(t)
    if r[0][0] != "none":
        worst = max(worst, max(works))
    lines.append("| %s | %s | %d / %d | %s | %d / %d |" % (
        names.get(t, t), ", ".join(paths), statistics.median(decs), max(decs),
        ("%d" % statistics.median(tuns)) if tuns else "-",
        statistics.median(works), max(works)) if r[0][0] != "none" else
        "| %s | %s | %d / %d | - | - |" % (names.get(t, t), ", ".join(paths),
                                          statistics.median(decs), max(decs)))
lines.append("")
lines.append("%d runs per type, 50 ms added RTT (25 ms each way, user-space relay). "
             "Worst time to a working path: %d ms (limit %d ms)." % (runs, worst, limit))
text = "\n".join(lines) + "\n"
if out:
    with open(out, "w") as f:
        f.write(text)
sys.stdout.write(text)
if bad:
    print("bench_detect: wrong decision or no SIP answer for type(s) %s" % ", ".join(bad))
    sys.exit(1)
if worst >= limit:
    print("bench_detect: worst time to a working path %d ms >= %d ms" % (worst, limit))
    sys.exit(1)
EOF
