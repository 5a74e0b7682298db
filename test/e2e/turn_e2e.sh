#!/bin/sh
# turn_e2e.sh TURN_PROBE
# libtse's TURN client against coturn (Debian package coturn, installed by
# .ci/install-deps): our own turnserver instances on loopback high ports
# with their own configuration (long-term credentials, no TLS, no CLI),
# pid and log in a temp dir, killed on exit.  Scenarios: UDP and TCP
# allocations with a refresh, a permission, a Send indication and a
# ChannelData round trip through a UDP echo peer; an RFC 6062 TCP
# allocation with Connect/ConnectionBind to a TCP echo peer; a wrong
# password and an unknown user (must fail with the right error); a server
# whose nonces live 2 s (438 Stale Nonce must be taken and retried).
# Exit 77 if turnserver is missing.
set -u
PROBE=$1
TURNSERVER=$(command -v turnserver || true)
if [ -z "$TURNSERVER" ]; then
    echo "SKIP: turnserver (coturn) not installed"
    exit 77
fi
d=$(mktemp -d /tmp/tse-turn-e2e.XXXXXX)
pids=""
stop() {
    [ -n "$1" ] || return 0
    if kill -0 "$1" 2>/dev/null; then
        kill "$1" 2>/dev/null
        i=0
        while kill -0 "$1" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
        kill -9 "$1" 2>/dev/null
    fi
    wait "$1" 2>/dev/null
}
cleanup() {
    for p in $pids; do stop "$p"; done
    rm -rf "$d"
}
trap cleanup EXIT INT TERM

REALM=tse.test
USER=alice
PASS=wonderland

# start_server NAME BASE STALE_NONCE_SECONDS: our own turnserver on
# 127.0.0.1:BASE with relay ports BASE+10..BASE+210; sets $PORT and $pid.
start_server() {
    name=$1 base=$2 stale=$3
    PORT=$base
    {
        echo "listening-ip=127.0.0.1"
        echo "relay-ip=127.0.0.1"
        echo "listening-port=$PORT"
        echo "min-port=$((base + 10))"
        echo "max-port=$((base + 210))"
        echo "lt-cred-mech"
        echo "user=$USER:$PASS"
        echo "realm=$REALM"
        echo "fingerprint"
        echo "no-tls"
        echo "no-dtls"
        echo "no-cli"
        echo "no-rfc5780"
        echo "no-stun-backward-compatibility"
        echo "allow-loopback-peers"
        echo "no-multicast-peers"
        echo "denied-peer-ip=192.0.2.0-192.0.2.255"
        echo "stale-nonce=$stale"
        echo "max-allocate-lifetime=3600"
        echo "userdb=$d/$name.db"
        echo "pidfile=$d/$name.pid"
        echo "log-file=$d/$name.log"
        echo "simple-log"
        echo "no-stdout-log"
        echo "verbose"
    } >"$d/$name.conf"
    "$TURNSERVER" -c "$d/$name.conf" >"$d/$name.stdout" 2>&1 &
    pid=$!
    pids="$pids $pid"
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

# A port block of our own, picked from the PID so that parallel runs do
# not collide; another block on a clash (bounded: 3 tries).
start_or_fail() {
    name=$1 offset=$2 stale=$3
    for try in 0 1 2; do
        if start_server "$name" $((20000 + ($$ * 7 + offset + try * 4111) % 40000)) "$stale"; then
            echo "turnserver $name (pid $pid) on 127.0.0.1:$PORT"
            return 0
        fi
        stop "$pid"
    done
    echo "FAIL: turnserver $name did not start"
    tail -n 30 "$d/$name.stdout" "$d/$name.log" 2>/dev/null
    exit 1
}

start_or_fail main 0 600
MAIN_PORT=$PORT
start_or_fail stale 300 2
STALE_PORT=$PORT

failed=0
out=""
run() {
    name=$1 port=$2
    shift 2
    if out=$(timeout 40 "$PROBE" --server "127.0.0.1:$port" "$@" 2>&1); then
        echo "ok   $name"
        echo "$out" | sed 's/^/     /'
    else
        echo "FAIL $name"
        echo "$out" | sed 's/^/     /'
        failed=$((failed + 1))
    fi
}

# 192.0.2.0/24 is a denied peer range: 403 to that permission, the rest goes on
run udp          "$MAIN_PORT" --user $USER --pass $PASS --refresh --forbidden-peer 192.0.2.1
run tcp          "$MAIN_PORT" --user $USER --pass $PASS --tcp --refresh --forbidden-peer 192.0.2.1
run tcp-relay    "$MAIN_PORT" --user $USER --pass $PASS --tcp --tcp-relay
# a wrong password: 401 again after the credentials (TSE_ERR_TURN_UNAUTHORIZED)
run wrong-pass   "$MAIN_PORT" --user $USER --pass not-it --expect-error -1000
run unknown-user "$MAIN_PORT" --user mallory --pass $PASS --tcp --expect-error -1000
# nonces that live 2 s: after a 3 s pause the refresh gets 438 Stale Nonce
# and is retried with the new nonce; the rest goes on
for t in udp tcp; do
    flag=""
    [ $t = tcp ] && flag=--tcp
    run stale-nonce-$t "$STALE_PORT" --user $USER --pass $PASS $flag --pause-ms 3000 \
        --refresh --timeout-ms 20000
    if ! echo "$out" | grep -q '"stale_nonces":[1-9]'; then
        echo "FAIL stale-nonce-$t: no 438 Stale Nonce was seen"
        failed=$((failed + 1))
    fi
done

if [ $failed -ne 0 ]; then
    for f in "$d"/*.log; do echo "== $f"; tail -n 40 "$f"; done
    echo "$failed check(s) failed"
    exit 1
fi
echo "all TURN scenarios passed"
exit 0
