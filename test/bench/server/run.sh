#!/bin/sh
# tscf-server capacity with keep-alive running (not a ctest test).
#
#   test/bench/server/run.sh [BUILD_DIR]
#
# Builds tscf-server and tscf-load in BUILD_DIR (default
# /tmp/b-bench-server; configured with the project defaults: TSE_DEPS=debian-src,
# RelWithDebInfo) unless they are there, starts tscf-server on 127.0.0.1
# (pool /16, --keepalive $KEEPALIVE) and runs tscf-load, which ramps up to
# each of $STEPS concurrent tunnels (Keep_Alive every $KEEPALIVE s per
# tunnel) and measures, per step, over $WINDOW s: the server's RSS, its CPU
# time per keep-alive answered, and whether every tunnel stayed up.  It
# stops at the first step that fails.  Loopback only; everything it starts
# is stopped and its temporary directory removed on exit.
#
# Environment (defaults): STEPS (1000,2000,5000,10000,15000,19000), WINDOW (30),
# KEEPALIVE (5), INFLIGHT (32 set-ups in flight), SOURCES (4: client
# sockets bound to 127.0.0.1..127.0.0.4), VERIFY (1; 0 = the client skips
# the certificate check), RESULTS (a file to copy the raw output to).
# Steps above the open-file limit (ulimit -n, raised to the hard limit here)
# are dropped: the server needs one descriptor per tunnel.
# Exit status: 0 every step held, 1 a step failed (the largest that held is
# printed), 2 setup problem.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/../../.." && pwd)
B=${1:-/tmp/b-bench-server}
STEPS=${STEPS:-1000,2000,5000,10000,15000,19000}
WINDOW=${WINDOW:-30}
KEEPALIVE=${KEEPALIVE:-5}
INFLIGHT=${INFLIGHT:-32}
SOURCES=${SOURCES:-4}
VERIFY=${VERIFY:-1}

if [ ! -x "$B/examples/tscf-server/tscf-server" ] || [ ! -x "$B/test/bench/server/tscf-load" ]; then
    echo "building tscf-server and tscf-load in $B"
    if [ ! -f "$B/CMakeCache.txt" ]; then
        gen=""
        command -v ninja >/dev/null 2>&1 && gen="-G Ninja"
        # shellcheck disable=SC2086
        cmake -S "$SRC" -B "$B" $gen >"$B.cfg.log" 2>&1 || { echo "cmake failed: $B.cfg.log"; exit 2; }
    fi
    cmake --build "$B" -j2 --target tscf-server tscf-load >"$B.build.log" 2>&1 ||
        { echo "build failed: $B.build.log"; exit 2; }
fi
SERVER=$B/examples/tscf-server/tscf-server
LOAD=$B/test/bench/server/tscf-load
grep -q '^CMAKE_BUILD_TYPE:[A-Z]*=' "$B/CMakeCache.txt" 2>/dev/null &&
    BTYPE=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$B/CMakeCache.txt") || BTYPE=?
DEPS=$(sed -n 's/^TSE_DEPS:[A-Z]*=//p' "$B/CMakeCache.txt" 2>/dev/null || true)

# descriptors: both processes inherit this limit (the server also raises its
# soft limit to the hard one itself)
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
NOFILE=$(ulimit -n)
room=$((NOFILE - 300))
steps=""
for s in $(echo "$STEPS" | tr ',' ' '); do
    if [ "$s" -le "$room" ]; then
        steps="$steps${steps:+,}$s"
    else
        echo "step $s dropped: open-file limit $NOFILE"
    fi
done
[ -n "$steps" ] || { echo "no step fits the open-file limit $NOFILE"; exit 2; }
max=${steps##*,}

d=$(mktemp -d /tmp/tscf-bench.XXXXXX)
SPID=""
LPID=""
. "$SRC/test/lib/procs.sh" # tse_stop: TERM, a bounded wait, then KILL
cleanup() {
    # shellcheck disable=SC2086
    [ -n "$LPID$SPID" ] && tse_stop $LPID $SPID
    rm -rf "$d"
}
trap cleanup EXIT
trap 'exit 2' INT TERM

sh "$SRC/test/e2e/gen_certs.sh" "$d" || { echo "certificate generation failed"; exit 2; }

"$SERVER" --listen 127.0.0.1:0 --cert "$d/server.pem" --key "$d/server.key" \
    --ready-file "$d/ready" --pool 198.18.0.0/16 --keepalive "$KEEPALIVE" \
    --max-tunnels $((max + 100)) 2>"$d/server.log" &
SPID=$!
i=0
while [ ! -s "$d/ready" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
[ -s "$d/ready" ] || { echo "tscf-server did not start"; cat "$d/server.log"; exit 2; }
ADDR=$(head -n1 "$d/ready")

noverify=""
[ "$VERIFY" = 0 ] && noverify="--no-verify"
echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ) $(uname -srm), $(nproc) CPUs ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)), load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# build $B: TSE_DEPS=${DEPS:-?} CMAKE_BUILD_TYPE=${BTYPE:-?}; open-file limit $NOFILE"
echo "# tscf-server --pool 198.18.0.0/16 --keepalive $KEEPALIVE --max-tunnels $((max + 100)) (pid $SPID)"
echo "# tscf-load --steps $steps --keepalive $KEEPALIVE --window $WINDOW --inflight $INFLIGHT --sources $SOURCES $noverify"
: >"$d/load.out"
set +e
# bounded: at most 20 minutes whatever happens
# shellcheck disable=SC2086
timeout -k 10 1200 "$LOAD" --server "$ADDR" --ca "$d/ca.pem" --server-pid "$SPID" --steps "$steps" \
    --keepalive "$KEEPALIVE" --window "$WINDOW" --inflight "$INFLIGHT" --sources "$SOURCES" \
    $noverify >"$d/load.out" 2>"$d/load.err" &
LPID=$!
# the steps as they come (GNU tail stops when tscf-load exits)
tail -n +1 -f --pid="$LPID" "$d/load.out" 2>/dev/null
wait "$LPID" # bounded by timeout -k above
rc=$?
LPID=""
set -e
[ -s "$d/load.err" ] && sed 's/^/# client: /' "$d/load.err"
kato=$(grep -c 'closed: keep-alive timeout' "$d/server.log" || true)
echo "# server log: $kato connection(s) closed by the keep-alive timeout; load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
grep -E ' (warn|error) ' "$d/server.log" | head -n 20 | sed 's/^/# server: /'

# the table (the figures of docs/bench-server.md)
echo
echo "| tunnels | held | server RSS | RSS / tunnel | keep-alives/s | server CPU | CPU / keep-alive | keep-alives/s per core | KA RTT avg / max | set-up CPU server / client |"
echo "|---:|:---:|---:|---:|---:|---:|---:|---:|---:|---:|"
awk '
function v(k,   i, a) { for (i = 1; i <= NF; i++) { split($i, a, "="); if (a[1] == k) return a[2] } return "" }
/^start / { rss0 = v("server_rss0_kb") }
/^step / {
    printf "| %s | %s | %.1f MiB | %.1f KiB | %s | %s %% | %s µs | %s | %s / %s ms | %s / %s ms |\n",
        v("n"), v("ok") == 1 ? "yes" : "**no**", v("rss_kb") / 1024, v("rss_per_tunnel_b") / 1024,
        v("ka_per_s"), v("srv_cpu_pct"), v("srv_cpu_us_per_ka"), v("ka_per_s_per_core"),
        v("rtt_ms_avg"), v("rtt_ms_max"), v("srv_cpu_ms_per_setup"), v("cli_cpu_ms_per_setup")
    if (v("ok") == 1) held = v("n")
}
END { printf "\nidle server RSS %.1f MiB; largest step that held: %s tunnels\n", rss0 / 1024, held == "" ? "none" : held }
' "$d/load.out"
[ -n "${RESULTS:-}" ] && cp "$d/load.out" "$RESULTS"
if [ "$rc" -eq 0 ] && [ "$kato" -eq 0 ]; then
    exit 0
fi
exit 1
