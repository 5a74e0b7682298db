#!/bin/sh
# idle-cost.sh - what an idle tunnel costs (issue 13 item 5): wake-ups per
# minute and CPU per hour, for tse-cli (port/posix's poll driver) and for
# the lwIP NO_SYS=1 example loop (lwip-nosys), with the tunnel up and
# nothing to send, at each keep-alive interval given.
#
#   idle-cost.sh --server TSCF_SERVER --gen-certs GEN_CERTS.sh --cli TSE_CLI
#                [--nosys LWIP_NOSYS] [--window S] [--keepalive "30 0"]
#                [--settle S] [--probe S] [--check]
#
# Per program and keep-alive interval KA: a fresh test PKI, tscf-server
# --keepalive KA --echo on a free loopback port, the client brought up, S
# seconds (--settle, default 3) for the set-up to finish, then the window:
# the client's wake-up counter (tse_posix_driver_polls(): tse-cli's stats
# line, lwip-nosys's "driver: ... N wake-ups", both printed on SIGUSR1) and its
# CPU time (/proc/PID/schedstat, nanoseconds, user + system) are read at
# its start and end.  Each SIGUSR1 costs the client one wake-up; the
# figures have the one of the opening read taken off.
#   tse-cli holds the tunnel until SIGTERM (no --ping);
#   lwip-nosys pings the TSCF once at the start and once after the window
#   (--count 2 --interval ...): nothing in between.
# No root, loopback only; every process started is stopped (bounded) and
# the temporary directory removed.
#
# Output: one line per run,
#   idle PROGRAM keepalive=KA window=S wakeups=N per_min=X keepalives=K
#        extra_per_interval=E cpu_ms=C cpu_s_per_hour=H
# keepalives = keep-alives the client sent in the window, with the engine's
# dead-peer probes (without a negotiated Keep_Alive_Interval it probes a
# path silent for tse_settings.dpd_idle_ms, 20 s by default: KA=0 is that
# interval, --probe S); extra_per_interval = wake-ups beyond two per
# keep-alive (its timer, its response) per interval.
#
# --check (the ctest smoke test): exit 1 unless every run has at most
# 2 wake-ups per keep-alive sent, plus 1 per interval of the window (issue
# 13's target: <= 1 wake-up per interval beyond the keep-alive itself),
# plus 2.  Counts, not time: a loaded machine makes them no larger.
set -eu

SERVER="" GEN="" CLI="" NOSYS="" WINDOW=60 KAS="30 0" SETTLE=3 CHECK=0 PROBE=20
while [ $# -gt 0 ]; do
    case $1 in
    --server) SERVER=$2; shift 2 ;;
    --gen-certs) GEN=$2; shift 2 ;;
    --cli) CLI=$2; shift 2 ;;
    --nosys) NOSYS=$2; shift 2 ;;
    --window) WINDOW=$2; shift 2 ;;
    --keepalive) KAS=$2; shift 2 ;;
    --settle) SETTLE=$2; shift 2 ;;
    --probe) PROBE=$2; shift 2 ;;
    --check) CHECK=1; shift ;;
    *) echo "idle-cost.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
[ -n "$SERVER" ] && [ -n "$GEN" ] && [ -n "$CLI" ] || {
    echo "usage: idle-cost.sh --server TSCF_SERVER --gen-certs GEN_CERTS.sh --cli TSE_CLI" \
         "[--nosys LWIP_NOSYS] [--window S] [--keepalive \"30 0\"] [--settle S] [--probe S] [--check]" >&2
    exit 2
}
[ -r /proc/self/schedstat ] || { echo "idle-cost.sh: no /proc/PID/schedstat" >&2; exit 77; }

TMP=$(mktemp -d /tmp/tse-idle-cost.XXXXXX)
. "$(cd "$(dirname "$0")/../lib" && pwd)/procs.sh"
SPID="" CPID="" FAILED=0
cleanup() {
    rc=$?
    [ -z "$CPID" ] || tse_stop "$CPID" || true
    [ -z "$SPID" ] || tse_stop "$SPID" || true
    rm -rf "$TMP"
    exit $rc
}
trap cleanup EXIT
trap 'exit 1' INT TERM
sh "$GEN" "$TMP" >/dev/null

# wait_for FILE REGEX SECS: until a line of FILE matches (bounded)
wait_for() {
    _end=$(($(date +%s) + $3 + 1))
    _n=$(($3 * 20 + 10))
    while ! grep -q "$2" "$1" 2>/dev/null; do
        [ "$_n" -gt 0 ] && [ "$(date +%s)" -lt "$_end" ] || return 1
        tse_alive "$CPID" || return 1
        sleep 0.05
        _n=$((_n - 1))
    done
}

# the client's CPU time so far, ns (user + system)
cpu_ns() { cut -d' ' -f1 "/proc/$1/schedstat"; }

# sample PROGRAM N: SIGUSR1, then the N-th wake-up report of the output
# (and, for tse-cli, the keep-alives sent) into W and KS
sample() {
    kill -USR1 "$CPID"
    wait_for_nth "$2" 10 || { echo "idle-cost.sh: $1 did not report (SIGUSR1)" >&2; return 1; }
    _line=$(grep 'wake-ups' "$TMP/client.out" | sed -n "${2}p")
    W=$(printf '%s\n' "$_line" | sed 's/.* \([0-9][0-9]*\) wake-ups$/\1/')
    KS=$(printf '%s\n' "$_line" | sed -n 's/.*keep-alives [0-9]*\/\([0-9]*\).*/\1/p')
}
wait_for_nth() {
    _end=$(($(date +%s) + $2 + 1))
    _n=$(($2 * 20 + 10))
    while [ "$(grep -c 'wake-ups' "$TMP/client.out" 2>/dev/null || true)" -lt "$1" ]; do
        [ "$_n" -gt 0 ] && [ "$(date +%s)" -lt "$_end" ] || return 1
        sleep 0.05
        _n=$((_n - 1))
    done
}

# run PROGRAM KA
run() {
    prog=$1 ka=$2
    rm -f "$TMP/ready" "$TMP/client.out"
    "$SERVER" --listen 127.0.0.1:0 --cert "$TMP/server.pem" --key "$TMP/server.key" --echo \
        --keepalive "$ka" --ready-file "$TMP/ready" 2>"$TMP/server.log" &
    SPID=$!
    i=0
    while [ ! -s "$TMP/ready" ] && [ $i -lt 100 ]; do
        tse_alive "$SPID" || { cat "$TMP/server.log" >&2; return 1; }
        sleep 0.1
        i=$((i + 1))
    done
    [ -s "$TMP/ready" ] || { echo "idle-cost.sh: tscf-server did not start" >&2; return 1; }
    addr=$(head -n1 "$TMP/ready")
    case $prog in
    tse-cli)
        "$CLI" --server "$addr" --ca "$TMP/ca.pem" --sni tscf.test >"$TMP/client.out" 2>&1 &
        CPID=$!
        up='tunnel up\|^up\b\|inner address' ;;
    lwip-nosys)
        # one echo now, the next after the window (ms)
        iv=$(( (SETTLE + WINDOW + 10) * 1000 ))
        "$NOSYS" --server "$addr" --ca "$TMP/ca.pem" --sni tscf.test --ping 198.18.0.1 \
            --count 2 --interval "$iv" >"$TMP/client.out" 2>&1 &
        CPID=$!
        up='tunnel up' ;;
    esac
    wait_for "$TMP/client.out" "$up" 30 || {
        echo "idle-cost.sh: $prog did not come up" >&2
        cat "$TMP/client.out" "$TMP/server.log" >&2
        return 1
    }
    sleep "$SETTLE"
    sample "$prog" 1 || return 1
    w0=$W ks0=$KS c0=$(cpu_ns "$CPID") t0=$(date +%s%N)
    sleep "$WINDOW"
    c1=$(cpu_ns "$CPID") t1=$(date +%s%N)
    sample "$prog" 2 || return 1
    w1=$W ks1=$KS
    tse_stop "$CPID" || true
    CPID=""
    tse_stop "$SPID" || true
    SPID=""
    # the opening SIGUSR1's own wake-up is in w1 - w0
    iv=$ka
    [ "$ka" -gt 0 ] || iv=$PROBE
    awk -v prog="$prog" -v ka="$ka" -v iv="$iv" -v w0="$w0" -v w1="$w1" -v ks0="$ks0" -v ks1="$ks1" \
        -v c0="$c0" -v c1="$c1" -v t0="$t0" -v t1="$t1" -v check="$CHECK" '
    BEGIN {
        secs = (t1 - t0) / 1e9
        wk = w1 - w0 - 1
        if (ks0 != "" && ks1 != "") kas = ks1 - ks0
        else kas = int(secs / iv)
        intervals = secs / iv
        extra = (wk - 2 * kas) / (intervals < 1 ? 1 : intervals)
        cpu = (c1 - c0) / 1e6
        printf "idle %s keepalive=%s window=%.1f wakeups=%d per_min=%.2f keepalives=%d " \
               "extra_per_interval=%.2f cpu_ms=%.3f cpu_s_per_hour=%.4f\n",
               prog, ka, secs, wk, wk * 60 / secs, kas, extra, cpu, cpu / 1000 * 3600 / secs
        if (check) {
            bound = 2 * kas + int(secs / iv) + 2
            if (wk > bound) {
                printf "idle-cost.sh: %s keepalive=%s: %d wake-ups, bound %d\n", prog, ka, wk, bound
                exit 1
            }
        }
    }' || FAILED=1
}

for ka in $KAS; do
    run tse-cli "$ka" || FAILED=1
    if [ -n "$NOSYS" ]; then
        run lwip-nosys "$ka" || FAILED=1
    fi
done
exit $FAILED
