#!/bin/sh
# server_e2e.sh TSCF_SERVER TSCF_PROBE
# Starts tscf-server on a free loopback port (twice: the echo server and a
# --max-tunnels 2 server) and runs every tscf-probe scenario against it.
set -u
SERVER=$1
PROBE=$2
HERE=$(cd "$(dirname "$0")" && pwd)
d=$(mktemp -d /tmp/tscf-e2e.XXXXXX)
. "$HERE/../lib/procs.sh" # tse_stop, tse_wait_exit: every wait bounded
pids=""
cleanup() {
    # shellcheck disable=SC2086
    [ -n "$pids" ] && tse_stop $pids
    rm -rf "$d"
}
trap cleanup EXIT INT TERM

sh "$HERE/gen_certs.sh" "$d" || { echo "FAIL: certificate generation"; exit 1; }

# start_server NAME ARGS... : sets $addr to the bound 127.0.0.1:PORT
start_server() {
    name=$1; shift
    "$SERVER" --listen 127.0.0.1:0 --cert "$d/server.pem" --key "$d/server.key" \
        --ready-file "$d/$name.ready" --log-level debug "$@" 2>"$d/$name.log" &
    pids="$pids $!"
    i=0
    while [ ! -s "$d/$name.ready" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
    if [ ! -s "$d/$name.ready" ]; then
        echo "FAIL: $name did not start"; cat "$d/$name.log"; exit 1
    fi
    addr=$(head -n1 "$d/$name.ready")
}

start_server main --echo --keepalive 20 --persist 30 --pool6 fd00:7473:6366::/64
MAIN=$addr
start_server small --echo --max-tunnels 2 --persist 0 --keepalive 2
SMALL=$addr

failed=0
run() {
    srv=$1; shift
    if out=$("$PROBE" --server "$srv" --ca "$d/ca.pem" --sni tscf.test -v "$@" 2>&1); then
        echo "ok   $*"
    else
        echo "FAIL $*"; echo "$out" | sed 's/^/     /'; failed=$((failed + 1))
    fi
}

run "$MAIN" config
run "$MAIN" connect
run "$MAIN" keepalive
run "$MAIN" release
run "$MAIN" resume
run "$MAIN" unknown-tsid
run "$MAIN" version
run "$MAIN" malformed
run "$MAIN" wrong-tsid
run "$MAIN" echo
run "$MAIN" forward
run "$MAIN" ipv6 fd00:7473:6366::1
# a client that does not read: echo replies dropped (bounded queue), control kept
run "$MAIN" flood 50000
run "$SMALL" max-tunnels 2
# keepalive 2 s + grace 5 s: a silent tunnel is ended within ~8 s
run "$SMALL" silent 12
# with --persist 0 the two tunnels are gone once their connections close
run "$SMALL" max-tunnels 2

# a wrong name is refused by the client's verification
if "$PROBE" --server "$MAIN" --ca "$d/ca.pem" --sni wrong.test config >/dev/null 2>&1; then
    echo "FAIL wrong SNI name accepted"; failed=$((failed + 1))
else
    echo "ok   wrong name refused"
fi

# the server logged one line per event with the reason for each close
for want in "malformed control message: CM: known TLV with the wrong length" \
            "unexpected TSID" "consumed 'CONNECT " "rejected: out of tunnel resources" \
            "keep-alive timeout"; do
    if ! grep -q "$want" "$d/main.log" "$d/small.log"; then
        echo "FAIL log lacks '$want'"; failed=$((failed + 1))
    fi
done

# SIGTERM: clean exit, status 0
for p in $pids; do kill -TERM "$p"; done
for p in $pids; do
    # bounded (the server drains for at most 3 s; room for ASan)
    if ! tse_wait_exit "$p" 20; then
        echo "FAIL server $p still running 20 s after SIGTERM"; failed=$((failed + 1))
        tse_stop -KILL "$p"
    elif [ "$TSE_RC" -ne 0 ]; then
        echo "FAIL server $p exit status $TSE_RC"; failed=$((failed + 1))
    fi
done
pids=""
if [ $failed -ne 0 ]; then
    echo "--- main.log"; tail -n 60 "$d/main.log"
    echo "--- small.log"; tail -n 30 "$d/small.log"
    echo "$failed failure(s)"
    exit 1
fi
echo "all passed"
