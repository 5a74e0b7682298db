#!/bin/sh
# soak_cycles.sh TSCF_SERVER SOAK_CLIENT GEN_CERTS [CYCLES]
#
# CYCLES (default $TSE_SOAK_CYCLES, else 300) connect / ping / release
# cycles of ONE long-lived soak-client process against ONE long-running
# tscf-server --echo on loopback.  Each cycle is a whole tunnel: TCP
# connect, TLS handshake, Configuration_Request/Response, one ICMP echo
# through the tunnel answered by the server, Configuration_Release_Request
# answered with Response_Code 0, CLOSED, tunnel freed (soak_client.c).
#
# Pass when:
#   1. every cycle passed (zero failures; the first failure stops the run);
#   2. RSS is flat on both sides.  soak-client samples VmRSS of itself and
#      of the server (/proc/PID/status) about 500 times.  The rule: drop
#      the first 10 % of the cycles (warm-up: allocator arenas, TLS
#      tables), split the rest into four equal quarters by cycle number;
#      for each process, max(VmRSS in the 4th quarter) may exceed
#      max(VmRSS in the 2nd quarter) by at most TSE_SOAK_SLACK_KB (default
#      256 kB).  A steady leak of L bytes per cycle adds L x 0.45 x CYCLES
#      between the two: at 10,000 cycles anything from about 60 bytes per
#      cycle fails (100 bytes: 450 kB); at the CI's 300 cycles, from
#      about 2 kB per cycle.  The rule needs CYCLES >= 40 (else it is
#      skipped, and said so);
#   3. the server counted N connections, configurations, releases and
#      echoes, holds no tunnel at the end, and exits 0 on SIGTERM (in
#      the ASan build LeakSanitizer runs then, and in the client at its
#      exit: a leak of unreachable memory fails there, whatever the RSS).
#
# ASan: its quarantine keeps freed memory for up to 256 MB, which would
# read as growth; both processes run with quarantine_size_mb=4 (set
# TSE_SOAK_ASAN_OPTIONS to change it).
#
# Environment: TSE_SOAK_CYCLES, TSE_SOAK_SLACK_KB, TSE_SOAK_TIMEOUT (whole
# run, s, default 300), TSE_SOAK_CYCLE_TIMEOUT (one cycle, s, default 30),
# TSE_SOAK_KEEP=DIR (copy the samples and logs there),
# TSE_SOAK_GROW_BYTES=B (soak-client keeps B more bytes each cycle: the
# test of this test, which must then fail with "RSS rule: client grew").
# Every wait is bounded; everything started is stopped on exit.
set -u
SERVER=$1 CLIENT=$2 GEN=$3
N=${4:-${TSE_SOAK_CYCLES:-300}}
SLACK=${TSE_SOAK_SLACK_KB:-256}
TOTAL=${TSE_SOAK_TIMEOUT:-300}
CYT=${TSE_SOAK_CYCLE_TIMEOUT:-30}
GROW=${TSE_SOAK_GROW_BYTES:-0}
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../lib/procs.sh" # tse_stop, tse_wait_exit: every wait bounded

command -v openssl >/dev/null 2>&1 || { echo "SKIP: no openssl"; exit 77; }
D=$(mktemp -d /tmp/tse-soak.XXXXXX)
SRV_PID=""
cleanup() {
    rc=$?
    [ -n "$SRV_PID" ] && tse_stop "$SRV_PID"
    if [ $rc != 0 ]; then
        for f in "$D"/*.log; do [ -f "$f" ] && { echo "--- $f"; tail -n 30 "$f"; }; done
    fi
    if [ -n "${TSE_SOAK_KEEP:-}" ]; then
        mkdir -p "$TSE_SOAK_KEEP" && cp "$D"/samples "$D"/*.log "$TSE_SOAK_KEEP"/ 2>/dev/null
    fi
    rm -rf "$D"
    exit $rc
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
fail() { echo "FAIL: $*"; exit 1; }

ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}${TSE_SOAK_ASAN_OPTIONS:-quarantine_size_mb=4}"
export ASAN_OPTIONS

sh "$GEN" "$D" || fail "certificates"
# keep-alive 0: a slow cycle under load is never a keep-alive exchange
"$SERVER" --listen 127.0.0.1:0 --cert "$D/server.pem" --key "$D/server.key" --echo \
    --keepalive 0 --stats-interval 3600 --ready-file "$D/ready" \
    2>"$D/server.log" &
SRV_PID=$!
n=300
while [ ! -s "$D/ready" ] && [ $n -gt 0 ] && tse_alive $SRV_PID; do sleep 0.1; n=$((n - 1)); done
[ -s "$D/ready" ] || fail "tscf-server did not start"
ADDR=$(head -n 1 "$D/ready")
echo "tscf-server pid $SRV_PID on $ADDR; $N cycles"

start=$(date +%s)
timeout -k 10 "$TOTAL" "$CLIENT" --server "$ADDR" --ca "$D/ca.pem" --sni tscf.test \
    --cycles "$N" --peer-pid "$SRV_PID" --samples "$D/samples" \
    --cycle-timeout "$CYT" --grow-bytes "$GROW" >"$D/client.out" 2>"$D/client.log"
st=$?
cat "$D/client.out"
[ $st = 124 ] || [ $st = 137 ] && fail "soak-client did not finish within $TOTAL s"
[ $st = 0 ] || fail "soak-client exit status $st: $(tail -n 1 "$D/client.log")"
grep -q "^soak: cycles=$N failed=0 " "$D/client.out" || fail "not $N passed cycles"
tse_alive $SRV_PID || fail "tscf-server died"

# 2. the RSS rule
if [ "$N" -ge 40 ]; then
    awk -v n="$N" -v slack="$SLACK" '
        { cyc[NR] = $1; c[NR] = $3; p[NR] = $4 }
        END {
            w = int(n / 10); span = n - w
            b0 = w + span / 4; b1 = w + span / 2; d0 = w + 3 * span / 4
            for (i = 1; i <= NR; i++) {
                if (cyc[i] > b0 && cyc[i] <= b1) { nb++; if (c[i] > cb) cb = c[i]; if (p[i] > pb) pb = p[i] }
                if (cyc[i] > d0) { nd++; if (c[i] > cd) cd = c[i]; if (p[i] > pd) pd = p[i] }
            }
            if (nb == 0 || nd == 0) { print "FAIL: RSS rule: no samples in a quarter"; exit 1 }
            printf "RSS rule (max of cycles %d..%d vs %d..%d, slack %d kB): client %d -> %d kB, server %d -> %d kB\n",
                   b0 + 1, b1, d0 + 1, n, slack, cb, cd, pb, pd
            bad = 0
            if (cd - cb > slack) { printf "FAIL: RSS rule: client grew by %d kB\n", cd - cb; bad = 1 }
            if (pd - pb > slack) { printf "FAIL: RSS rule: server grew by %d kB\n", pd - pb; bad = 1 }
            exit bad
        }' "$D/samples" || exit 1
else
    echo "RSS rule skipped: $N cycles (< 40) are too few"
fi

# 3. the server's view, and its clean exit (LeakSanitizer in ASan builds)
tse_stop $SRV_PID
SRV_PID=""
[ "$TSE_RC" = 0 ] || fail "tscf-server exit status $TSE_RC"
grep -q 'Sanitizer' "$D/server.log" "$D/client.log" && fail "sanitizer report"
stats=$(grep ' stats conns=' "$D/server.log" | tail -n 1)
echo "server: ${stats#* stats }"
field() { echo "$stats" | sed -n "s/.* $1=\([0-9]*\).*/\1/p"; }
for f in accepted configured released echo; do
    [ "$(field $f)" = "$N" ] || fail "the server counted $f=$(field $f), not $N"
done
[ "$(field tunnels)" = 0 ] && [ "$(field persistent)" = 0 ] || fail "tunnels left on the server"
echo "wall time: $(($(date +%s) - start)) s"
echo "PASS: $N cycles"
exit 0
