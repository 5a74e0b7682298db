#!/bin/sh
# run-lwip-bench.sh BUILD_DIR [SECONDS]
#
# One run, three figures and their ratios (written up in docs/bench-lwip.md):
#  1. the ceiling: raw mbed TLS record throughput between two processes on
#     loopback (tse-bench-tls), records of 16384, 1402 (an inner 1400-byte
#     packet + 2 bytes of TSCF framing) and 202 bytes (a 172-byte RTP-like
#     payload in UDP/IPv4 + framing);
#  2. inner TCP throughput: lwip-nosys and lwip-sys --tcp-send through the
#     tunnel to tscf-server --tun, received by the kernel in a second
#     network namespace (test/e2e/netns/lab.py tcp-sink; needs root,
#     otherwise skipped);
#  3. 172-byte packets per second through lwIP + tunnel + server: --rtp
#     --pps 0 (a window of 64 outstanding packets) against tscf-server
#     --echo's built-in UDP echo on loopback; counted when they come back.
# SECONDS (default 5) per TLS/RTP measurement; the TCP transfer is 200 MB.
# Use an optimised build (the default RelWithDebInfo).  Prints a Markdown
# summary at the end.  TSE_BENCH_CLIENT_ARGS is appended to the lwIP
# clients' command lines (e.g. "--outq 65536").
set -u
B=${1:?usage: run-lwip-bench.sh BUILD_DIR [SECONDS]}
SECS=${2:-5}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
SERVER=$B/examples/tscf-server/tscf-server
NOSYS=$B/examples/lwip-nosys/lwip-nosys
SYS=$B/examples/lwip-sys/lwip-sys
TLSB=$B/test/bench/tse-bench-tls
for f in "$SERVER" "$TLSB"; do [ -x "$f" ] || { echo "missing $f (build first)"; exit 2; }; done
D=$(mktemp -d /tmp/tse-bench.XXXXXX)
UE=tse-bue-$$ CORE=tse-bcore-$$
BG=""
. "$ROOT/test/lib/procs.sh" # tse_stop, tse_wait_exit: bounded
cleanup() {
    # shellcheck disable=SC2086
    [ -n "$BG" ] && tse_stop $BG
    for ns in "$UE" "$CORE"; do
        if ip netns list 2>/dev/null | grep -q "^$ns"; then
            for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
            ip netns del "$ns" 2>/dev/null
        fi
    done
    rm -rf "$D"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
sh "$ROOT/test/e2e/gen_certs.sh" "$D" || exit 1
field() { sed -n 's/.*"'"$2"'":"\{0,1\}\([^",}]*\)"\{0,1\}[,}].*/\1/p' "$1" | tail -n 1; }

echo "== machine: $(nproc) CPUs ($(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -n 1)), $(uname -r)"
grep -q 'CMAKE_BUILD_TYPE:STRING=\(Release\|RelWithDebInfo\)' "$B/CMakeCache.txt" 2>/dev/null ||
    echo "   WARNING: $B is not an optimised build"

# ---- 1. TLS ceiling ----------------------------------------------------------
for r in 16384 1402 202; do
    "$TLSB" --cert "$D/server.pem" --key "$D/server.key" --ca "$D/ca.pem" --record $r \
        --seconds "$SECS" >"$D/tls_$r.json" || echo '{}' >"$D/tls_$r.json"
    echo "tls record $r: $(cat "$D/tls_$r.json")"
done

# ---- 3. packets per second (loopback, tscf-server --echo) --------------------------
"$SERVER" --listen 127.0.0.1:0 --cert "$D/server.pem" --key "$D/server.key" --echo \
    --ready-file "$D/ready" 2>"$D/echo-server.log" &
BG="$BG $!"
i=0; while [ ! -s "$D/ready" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
ADDR=$(head -n 1 "$D/ready")
for c in nosys sys; do
    eval bin=\$$(echo $c | tr a-z A-Z)
    echo '{}' >"$D/rtp_$c.json"
    [ -x "$bin" ] || continue
    timeout $((SECS + 40)) "$bin" --server "$ADDR" --ca "$D/ca.pem" --sni tscf.test --json \
        --rtp 198.18.0.1:7 --pps 0 --window 64 --seconds "$SECS" ${TSE_BENCH_CLIENT_ARGS:-} \
        >"$D/rtp_$c.json" 2>/dev/null
    echo "rtp flood lwip-$c: $(cat "$D/rtp_$c.json")"
done

# ---- 2. inner TCP throughput (network namespaces, tscf-server --tun) ---------------
TCP_OK=0
if [ "$(id -u)" = 0 ] && [ -c /dev/net/tun ] && command -v python3 >/dev/null 2>&1 &&
   ip netns add "$UE" 2>/dev/null && ip netns add "$CORE"; then
    PY=$(command -v python3)
    ip -n "$UE" link set lo up; ip -n "$CORE" link set lo up
    ip link add veue netns "$UE" type veth peer name vecore netns "$CORE"
    ip -n "$UE" addr add 198.51.100.2/24 dev veue; ip -n "$UE" link set veue up
    ip -n "$CORE" addr add 198.51.100.1/24 dev vecore; ip -n "$CORE" link set vecore up
    ip netns exec "$CORE" "$SERVER" --listen 198.51.100.1:443 --cert "$D/server.pem" \
        --key "$D/server.key" --tun tscf0 --ready-file "$D/ready2" 2>"$D/tun-server.log" &
    BG="$BG $!"
    i=0; while [ ! -s "$D/ready2" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
    TCP_OK=1
    for c in nosys sys; do
        eval bin=\$$(echo $c | tr a-z A-Z)
        echo '{}' >"$D/tcp_$c.json"
        [ -x "$bin" ] || continue
        rm -f "$D/sink" "$D/sink.ready"
        ip netns exec "$CORE" "$PY" "$ROOT/test/e2e/netns/lab.py" tcp-sink 198.18.0.1 5001 \
            "$D/sink" 200 2>"$D/sink.log" &
        SP=$!
        i=0; while [ ! -s "$D/sink.ready" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
        ip netns exec "$UE" timeout 200 "$bin" --server 198.51.100.1:443 --ca "$D/ca.pem" \
            --sni tscf.test --json --tcp-send 198.18.0.1:5001 --bytes 200M ${TSE_BENCH_CLIENT_ARGS:-} \
            >"$D/tcp_$c.json" 2>/dev/null
        tse_wait_exit "$SP" 30 || tse_stop "$SP"
        echo "tcp lwip-$c: $(cat "$D/tcp_$c.json")"
        echo "   sink: $(cat "$D/sink" 2>/dev/null)"
    done
else
    echo "inner TCP: skipped (needs root, /dev/net/tun, python3 and ip netns)"
fi

# ---- summary ------------------------------------------------------------------------
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b == 0) print "-"; else printf "%.1f %%", 100 * a / b }'; }
T16=$(field "$D/tls_16384.json" mbps) T1402=$(field "$D/tls_1402.json" mbps)
R202=$(field "$D/tls_202.json" records_per_s)
echo
PK16=$(awk -v m="$T16" 'BEGIN { if (m == "") print ""; else printf "%.0f", m * 1e6 / 8 / 202 }')
echo "| measurement | lwip-nosys (NO_SYS=1) | lwip-sys (NO_SYS=0) | ceiling (raw mbed TLS, one way) | share of the ceiling, nosys / sys |"
echo "|---|---|---|---|---|"
if [ $TCP_OK = 1 ]; then
    TN=$(field "$D/tcp_nosys.json" mbps) TS=$(field "$D/tcp_sys.json" mbps)
    echo "| inner TCP goodput, Mbit/s | ${TN:--} | ${TS:--} | $T1402 with 1402-byte records ($T16 with 16 KiB) | $(ratio "$TN" "$T1402") / $(ratio "$TS" "$T1402") |"
fi
PN=$(field "$D/rtp_nosys.json" pps_back) PS=$(field "$D/rtp_sys.json" pps_back)
echo "| 172-byte UDP packets/s, echoed back | ${PN:--} | ${PS:--} | $R202 one 202-byte record per packet | $(ratio "$PN" "$R202") / $(ratio "$PS" "$R202") |"
echo "| (same, against the byte ceiling) | | | ${PK16:--} packets/s if packed into 16 KiB records | $(ratio "$PN" "$PK16") / $(ratio "$PS" "$PK16") |"
echo "TLS: $(field "$D/tls_1402.json" version) $(field "$D/tls_1402.json" suite), mbed TLS $(field "$D/tls_1402.json" mbedtls)"
