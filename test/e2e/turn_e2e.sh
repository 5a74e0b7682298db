#!/bin/sh
# turn_e2e.sh TURN_PROBE
# libtse's TURN client against coturn (Debian package coturn, installed by
# .ci/install-deps): our own turnserver on loopback high ports with its own
# configuration (long-term credentials, no TLS, no CLI), pid and log in a
# temp dir, killed on exit.  Scenarios: UDP and TCP allocations with a
# permission, a Send indication and ChannelData round trip through a UDP
# echo peer; an RFC 6062 TCP allocation with Connect/ConnectionBind to a
# TCP echo peer; a wrong password and an unknown user (must fail with
# the right error).  Exit 77 if turnserver is missing.
set -u
PROBE=$1
TURNSERVER=$(command -v turnserver || true)
if [ -z "$TURNSERVER" ]; then
    echo "SKIP: turnserver (coturn) not installed"
    exit 77
fi
d=$(mktemp -d /tmp/tse-turn-e2e.XXXXXX)
pid=""
cleanup() {
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        kill "$pid" 2>/dev/null
        i=0
        while kill -0 "$pid" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
        kill -9 "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    fi
    rm -rf "$d"
}
trap cleanup EXIT INT TERM

# A port block of our own: listening port and 200 relay ports, picked from
# the PID so that parallel runs do not collide; retried on a clash.
REALM=tse.test
USER=alice
PASS=wonderland
start_server() {
    base=$1
    PORT=$base
    cat >"$d/turnserver.conf" <<EOF
listening-ip=127.0.0.1
relay-ip=127.0.0.1
listening-port=$PORT
min-port=$((base + 10))
max-port=$((base + 210))
lt-cred-mech
user=$USER:$PASS
realm=$REALM
fingerprint
no-tls
no-dtls
no-cli
no-rfc5780
no-stun-backward-compatibility
allow-loopback-peers
no-multicast-peers
stale-nonce=600
max-allocate-lifetime=3600
userdb=$d/turndb
pidfile=$d/turnserver.pid
log-file=$d/turnserver.log
simple-log
no-stdout-log
verbose
EOF
    "$TURNSERVER" -c "$d/turnserver.conf" >"$d/stdout.log" 2>&1 &
    pid=$!
    # ready when both the UDP and the TCP listener are up (bounded: 10 s)
    i=0
    while [ $i -lt 100 ]; do
        if ! kill -0 "$pid" 2>/dev/null; then return 1; fi
        if ss -ltn 2>/dev/null | grep -q "127.0.0.1:$PORT " &&
           ss -lun 2>/dev/null | grep -q "127.0.0.1:$PORT "; then
            return 0
        fi
        sleep 0.1
        i=$((i + 1))
    done
    return 1
}

started=0
for try in 0 1 2; do
    base=$((20000 + ($$ * 7 + try * 4111) % 40000))
    if start_server "$base"; then started=1; break; fi
    cleanup_pid=$pid
    kill "$cleanup_pid" 2>/dev/null
    wait "$cleanup_pid" 2>/dev/null
    pid=""
done
if [ $started = 0 ]; then
    echo "FAIL: turnserver did not start"
    cat "$d/stdout.log" "$d"/turnserver*.log 2>/dev/null | tail -30
    exit 1
fi
echo "turnserver $pid on 127.0.0.1:$PORT"

failed=0
run() {
    name=$1; shift
    if out=$(timeout 40 "$PROBE" --server "127.0.0.1:$PORT" "$@" 2>&1); then
        echo "ok   $name"
        echo "$out" | sed 's/^/     /'
    else
        echo "FAIL $name"
        echo "$out" | sed 's/^/     /'
        failed=$((failed + 1))
    fi
}

run udp          --user $USER --pass $PASS
run tcp          --user $USER --pass $PASS --tcp
run tcp-relay    --user $USER --pass $PASS --tcp --tcp-relay
# a wrong password: 401 again after the credentials (TSE_ERR_TURN_UNAUTHORIZED)
run wrong-pass   --user $USER --pass not-it --expect-error -900
run unknown-user --user mallory --pass $PASS --tcp --expect-error -900

if [ $failed -ne 0 ]; then
    echo "--- turnserver log (tail) ---"
    cat "$d"/turnserver*.log 2>/dev/null | tail -60
    echo "$failed scenario(s) failed"
    exit 1
fi
echo "all TURN scenarios passed"
exit 0
