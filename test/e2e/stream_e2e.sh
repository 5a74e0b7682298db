#!/bin/sh
# stream_e2e.sh TSE_CLI SCENARIO
# TR 33.830 8.3 over the stream API (tse/stream.h) against real peers:
# tse-cli --sip-tls to kamailio with its TLS module (Debian packages
# kamailio, kamailio-tls-modules) and tse-cli --turn --turn-tls to coturn,
# both on TLS port 443, directly and through squid (CONNECT).
#
# Everything runs in a private network namespace of its own (unshare -n:
# its loopback is ours alone, port 443 is free, and the namespace goes
# away with the last process), with a fresh test CA (gen_certs.sh) and
# private configurations in a temporary directory.  Every wait is bounded;
# every process started here is killed on exit.
#
# Scenarios:
#   sip-direct        OPTIONS answered 200 over TLS 1.2+ to 127.0.0.1:443
#   sip-squid         the same through squid (CONNECT 127.0.0.1:443)
#   sip-squid-basic   through squid with Basic proxy authentication; a
#                     wrong password is TSE_ERR_PROXY_AUTH_FAILED
#   sip-squid-digest  through squid with Digest proxy authentication
#   sip-untrusted     a CA that did not sign kamailio's certificate:
#                     TSE_ERR_TLS_CERT_UNTRUSTED, nothing answered
#   sip-refused       squid refuses CONNECT to a port it does not allow:
#                     TSE_ERR_PROXY_STATUS 403
#   turn-direct       a TURN allocation over TLS to coturn on 443, one
#                     datagram through the relay to a UDP echo and back
#   turn-squid        the same through squid
#   turn-udp          tse-cli --turn without --turn-tls: the same over UDP
#                     to coturn's port 3478 (and --proxy is refused there)
#   turn-tcp          tse-cli --turn --turn-tcp: the same over plain TCP to
#                     coturn's port 3478 (the stream's plain_tcp); --ca is
#                     a usage error there
#   turn-tcp-squid    the same through squid (CONNECT 127.0.0.1:3478)
#   turn-tcp-6062     --turn-tcp --turn-peer-tcp: an RFC 6062 TCP
#                     allocation (the MSRP case), Connect to a TCP echo
#                     through the relay, a second plain TCP stream bound
#                     to it (ConnectionBind), 32 bytes there and back
# Exit 0 pass, 1 fail, 77 skipped (not root, or a program is missing).
set -u
CLI=$1
SCENARIO=$2
HERE=$(cd "$(dirname "$0")" && pwd)

skip() { echo "SKIP: $*"; exit 77; }

if [ -z "${TSE_STREAM_E2E_NS:-}" ]; then
    [ "$(id -u)" = 0 ] || skip "needs root (a private network namespace, port 443)"
    command -v unshare >/dev/null 2>&1 || skip "unshare missing"
    TSE_STREAM_E2E_NS=1 exec unshare -n sh "$0" "$@"
fi

d=$(mktemp -d /tmp/tse-stream-e2e.XXXXXX)
chmod 755 "$d"
pids=""
cleanup() {
    for p in $pids; do
        kill "$p" 2>/dev/null
    done
    for p in $pids; do
        i=0
        while kill -0 "$p" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
        kill -9 "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
    rm -rf "$d"
}
trap cleanup EXIT INT TERM

fail() {
    echo "FAIL $SCENARIO: $*"
    for f in "$d"/*.log "$d"/*.out "$d"/*.err; do
        [ -f "$f" ] && { echo "== $f"; tail -n 25 "$f"; }
    done
    exit 1
}

ip link set lo up || skip "cannot bring up loopback in the namespace"

# wait_port PORT [udp]: bounded (10 s)
wait_port() {
    i=0
    while [ $i -lt 100 ]; do
        if [ "${2:-}" = udp ]; then
            ss -lun 2>/dev/null | grep -q "127.0.0.1:$1 " && return 0
        else
            ss -ltn 2>/dev/null | grep -q "127.0.0.1:$1 " && return 0
        fi
        sleep 0.1
        i=$((i + 1))
    done
    return 1
}

sh "$HERE/gen_certs.sh" "$d" || fail "gen_certs.sh"
chmod 644 "$d"/*.key "$d"/*.pem

start_kamailio() {
    command -v kamailio >/dev/null 2>&1 || skip "kamailio not installed"
    mpath=""
    for m in /usr/lib/x86_64-linux-gnu/kamailio/modules /usr/lib/kamailio/modules \
             /usr/lib/*/kamailio/modules; do
        [ -f "$m/tls.so" ] && { mpath=$m; break; }
    done
    [ -n "$mpath" ] || skip "kamailio's TLS module (kamailio-tls-modules) not installed"
    cat >"$d/kamailio-tls.cfg" <<EOF
[server:default]
method = TLSv1.2+
verify_certificate = no
require_certificate = no
private_key = $d/server.key
certificate = $d/server.pem

[client:default]
verify_certificate = no
require_certificate = no
EOF
    cat >"$d/kamailio.cfg" <<EOF
#!KAMAILIO
debug=2
log_stderror=yes
fork=yes
children=1
tcp_children=2
auto_aliases=no
enable_tls=yes
listen=tls:127.0.0.1:443
mpath="$mpath"
loadmodule "tls.so"
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "xlog.so"
loadmodule "textops.so"
modparam("tls", "config", "$d/kamailio-tls.cfg")
request_route {
    xlog("L_NOTICE", "lab: \$rm \$ru from \$si:\$sp over \$pr\n");
    if (is_method("OPTIONS")) {
        sl_send_reply("200", "OK");
        exit;
    }
    sl_send_reply("403", "Forbidden");
}
EOF
    mkdir -p "$d/krun"
    kamailio -f "$d/kamailio.cfg" -DD -E -Y "$d/krun" -P "$d/kamailio.pid" -w "$d" \
        >"$d/kamailio.log" 2>&1 &
    pids="$pids $!"
    wait_port 443 || fail "kamailio did not listen on 127.0.0.1:443"
}

TURN_USER=alice
TURN_PASS=wonderland
start_coturn() {
    command -v turnserver >/dev/null 2>&1 || skip "turnserver (coturn) not installed"
    {
        echo "listening-ip=127.0.0.1"
        echo "relay-ip=127.0.0.1"
        echo "listening-port=3478"
        echo "tls-listening-port=443"
        echo "cert=$d/server.pem"
        echo "pkey=$d/server.key"
        echo "min-port=49160"
        echo "max-port=49200"
        echo "lt-cred-mech"
        echo "user=$TURN_USER:$TURN_PASS"
        echo "realm=tse.test"
        echo "fingerprint"
        echo "no-dtls"
        echo "no-cli"
        echo "no-rfc5780"
        echo "no-stun-backward-compatibility"
        echo "allow-loopback-peers"
        echo "userdb=$d/turn.db"
        echo "pidfile=$d/turn.pid"
        echo "log-file=$d/turn.log"
        echo "simple-log"
        echo "no-stdout-log"
        echo "verbose"
    } >"$d/turnserver.conf"
    turnserver -c "$d/turnserver.conf" >"$d/turnserver.err" 2>&1 &
    pids="$pids $!"
    wait_port 443 || fail "turnserver did not listen on 127.0.0.1:443"
}

# start_squid AUTH (none|basic|digest)
PROXY_PORT=3128
start_squid() {
    command -v squid >/dev/null 2>&1 || skip "squid not installed"
    access="http_access allow localhost"
    authconf=""
    if [ "$1" = basic ]; then
        [ -x /usr/lib/squid/basic_ncsa_auth ] || skip "basic_ncsa_auth missing"
        printf 'carol:%s\n' "$(openssl passwd -apr1 's3cret-c')" >"$d/passwd"
        chmod 644 "$d/passwd"
        authconf="auth_param basic program /usr/lib/squid/basic_ncsa_auth $d/passwd
auth_param basic realm stream-e2e
acl authed proxy_auth REQUIRED"
        access="http_access allow authed"
    elif [ "$1" = digest ]; then
        [ -x /usr/lib/squid/digest_file_auth ] || skip "digest_file_auth missing"
        printf 'dave:s3cret-d\n' >"$d/digest_passwd"
        chmod 644 "$d/digest_passwd"
        authconf="auth_param digest program /usr/lib/squid/digest_file_auth $d/digest_passwd
auth_param digest realm stream-e2e
acl authed proxy_auth REQUIRED"
        access="http_access allow authed"
    fi
    cat >"$d/squid.conf" <<EOF
http_port 127.0.0.1:$PROXY_PORT
pid_filename $d/squid.pid
cache_log $d/squid.log
access_log $d/squid-access.log
cache_store_log none
cache deny all
cache_mem 4 MB
coredump_dir $d
acl SSL_ports port ${SQUID_PORTS:-443}
acl CONNECT method CONNECT
http_access deny CONNECT !SSL_ports
$authconf
$access
http_access deny all
shutdown_lifetime 0 seconds
EOF
    touch "$d/squid.log" "$d/squid-access.log"
    chown proxy "$d/squid.log" "$d/squid-access.log" 2>/dev/null
    squid -N -f "$d/squid.conf" >>"$d/squid.log" 2>&1 &
    pids="$pids $!"
    wait_port $PROXY_PORT || fail "squid did not start"
}

# cli NAME ARGS...: tse-cli with --json, bounded; output in $d/NAME.out
cli() {
    name=$1
    shift
    timeout 30 "$CLI" --json --timeout-ms 10000 "$@" >"$d/$name.out" 2>"$d/$name.err"
}

# jhas FILE PYTHON-EXPR over E(name) = the events of that name
jhas() {
    python3 - "$1" "$2" <<'EOF'
import json, sys
evs = [json.loads(l) for l in open(sys.argv[1]) if l.startswith('{')]
E = lambda n: [e for e in evs if e.get('event') == n]
sys.exit(0 if eval(sys.argv[2]) else 1)
EOF
}

SIP="--sip-tls 127.0.0.1:443 --sni tscf.test --ca $d/ca.pem"
TURN="--turn 127.0.0.1:443 --sni tscf.test --ca $d/ca.pem --turn-tls --turn-user $TURN_USER --turn-pass $TURN_PASS"

case $SCENARIO in
sip-direct)
    start_kamailio
    cli a $SIP || fail "no answer"
    jhas "$d/a.out" "E('sip_response')[0]['status'] == 200 and E('stream_up')[0]['via_proxy'] is False" ||
        fail "no 200 OK"
    grep -q "lab: OPTIONS .* over tls" "$d/kamailio.log" || fail "kamailio did not see OPTIONS over TLS"
    # the name verified is the host's: 127.0.0.1 against the IP SAN (mbed
    # TLS 3.6) is tested by tse-cli's unit tests; here the SNI form
    cat "$d/a.out"
    ;;
sip-squid)
    start_kamailio
    start_squid none
    cli a $SIP --proxy "http://127.0.0.1:$PROXY_PORT" || fail "no answer through squid"
    jhas "$d/a.out" "E('sip_response')[0]['status'] == 200 and E('stream_up')[0]['via_proxy'] is True" ||
        fail "no 200 OK through squid"
    grep -q "CONNECT 127.0.0.1:443" "$d/squid-access.log" || fail "squid did not log the CONNECT"
    cat "$d/a.out"
    ;;
sip-squid-basic)
    start_kamailio
    start_squid basic
    cli a $SIP --proxy "http://carol:s3cret-c@127.0.0.1:$PROXY_PORT" || fail "no answer through squid with Basic"
    jhas "$d/a.out" "E('sip_response')[0]['status'] == 200" || fail "no 200 OK"
    if cli b $SIP --proxy "http://carol:wrong@127.0.0.1:$PROXY_PORT"; then
        fail "a wrong proxy password was accepted"
    fi
    jhas "$d/b.out" "E('error')[0]['error'] == -301 and E('error')[0]['proxy_status'] == 407" ||
        fail "wrong password: not TSE_ERR_PROXY_AUTH_FAILED"
    cat "$d/a.out" "$d/b.out"
    ;;
sip-squid-digest)
    start_kamailio
    start_squid digest
    cli a $SIP --proxy "http://dave:s3cret-d@127.0.0.1:$PROXY_PORT" || fail "no answer through squid with Digest"
    jhas "$d/a.out" "E('sip_response')[0]['status'] == 200 and E('stream_up')[0]['via_proxy'] is True" ||
        fail "no 200 OK"
    grep -q "CONNECT 127.0.0.1:443 .*dave" "$d/squid-access.log" || fail "squid did not log dave's CONNECT"
    cat "$d/a.out"
    ;;
sip-untrusted)
    start_kamailio
    mkdir "$d/other"
    sh "$HERE/gen_certs.sh" "$d/other" || fail "gen_certs.sh"
    if cli a --sip-tls 127.0.0.1:443 --sni tscf.test --ca "$d/other/ca.pem"; then
        fail "a certificate from an untrusted CA was accepted"
    fi
    jhas "$d/a.out" "E('error')[0]['error'] == -401 and not E('stream_up') and not E('sip_response')" ||
        fail "not TSE_ERR_TLS_CERT_UNTRUSTED"
    if grep -q "lab: OPTIONS" "$d/kamailio.log"; then fail "OPTIONS reached kamailio"; fi
    cat "$d/a.out"
    ;;
sip-refused)
    start_kamailio
    start_squid none
    if cli a --sip-tls 127.0.0.1:5061 --sni tscf.test --ca "$d/ca.pem" \
           --proxy "http://127.0.0.1:$PROXY_PORT"; then
        fail "squid let CONNECT to port 5061 through"
    fi
    jhas "$d/a.out" "E('error')[0]['error'] == -300 and E('error')[0]['proxy_status'] == 403" ||
        fail "not TSE_ERR_PROXY_STATUS 403"
    cat "$d/a.out"
    ;;
turn-direct|turn-squid)
    start_coturn
    px=""
    if [ "$SCENARIO" = turn-squid ]; then
        start_squid none
        px="--proxy http://127.0.0.1:$PROXY_PORT"
    fi
    cli a $TURN $px || fail "TURN over TLS failed"
    jhas "$d/a.out" "E('stream_up') and E('turn_allocated')[0]['relayed'].startswith('127.0.0.1:') and E('turn_echo')[0]['bytes'] == 32" ||
        fail "no allocation or no echo"
    if [ "$SCENARIO" = turn-squid ]; then
        jhas "$d/a.out" "E('stream_up')[0]['via_proxy'] is True" || fail "not through the proxy"
        grep -q "CONNECT 127.0.0.1:443" "$d/squid-access.log" || fail "squid did not log the CONNECT"
    fi
    cat "$d/a.out"
    ;;
turn-tcp|turn-tcp-squid)
    start_coturn
    wait_port 3478 || fail "turnserver did not listen on TCP 3478"
    px=""
    if [ "$SCENARIO" = turn-tcp-squid ]; then
        SQUID_PORTS="443 3478" start_squid none
        px="--proxy http://127.0.0.1:$PROXY_PORT"
    fi
    cli a --turn 127.0.0.1 --turn-tcp --turn-user $TURN_USER --turn-pass $TURN_PASS $px ||
        fail "TURN over TCP failed"
    jhas "$d/a.out" "E('stream_up')[0]['transport'] == 'tcp' and 'tls_version' not in E('stream_up')[0] and E('stream_up')[0]['port'] == 3478 and E('turn_allocated')[0]['relayed'].startswith('127.0.0.1:') and E('turn_echo')[0]['bytes'] == 32" ||
        fail "no allocation or no echo over TCP"
    # coturn granted it on a stream connection (our side spoke no TLS:
    # transport "tcp" above), not over UDP
    grep -q "tcp or tls connected to: 127.0.0.1:" "$d/turn.log" ||
        fail "coturn saw no TCP connection"
    grep -Eq "session [0-9]+: realm <tse.test> user <$TURN_USER>: incoming packet ALLOCATE processed, success" "$d/turn.log" ||
        fail "coturn did not log the allocation"
    if [ "$SCENARIO" = turn-tcp-squid ]; then
        jhas "$d/a.out" "E('stream_up')[0]['via_proxy'] is True" || fail "not through the proxy"
        grep -q "CONNECT 127.0.0.1:3478" "$d/squid-access.log" || fail "squid did not log the CONNECT"
    else
        jhas "$d/a.out" "E('stream_up')[0]['via_proxy'] is False" || fail "through a proxy?"
    fi
    cli b --turn 127.0.0.1 --turn-tcp --ca "$d/ca.pem" --turn-user $TURN_USER --turn-pass $TURN_PASS
    [ $? -eq 2 ] || fail "--turn-tcp with --ca was not a usage error"
    cat "$d/a.out"
    ;;
turn-tcp-6062)
    start_coturn
    wait_port 3478 || fail "turnserver did not listen on TCP 3478"
    # the TCP peer: an echo of one connection, bounded (20 s); it prints
    # the running total of what it echoed
    python3 -c '
import socket
s = socket.socket()
s.bind(("127.0.0.1", 5999))
s.listen(1)
s.settimeout(20)
c, _ = s.accept()
c.settimeout(20)
n = 0
while True:
    try:
        b = c.recv(4096)
    except OSError:
        break  # the relay resets it when the allocation goes
    if not b:
        break
    n += len(b)
    c.sendall(b)
    print("echoed", n, flush=True)
' >"$d/echo.log" 2>&1 &
    pids="$pids $!"
    wait_port 5999 || fail "the TCP echo did not listen"
    cli a --turn 127.0.0.1 --turn-tcp --turn-user $TURN_USER --turn-pass $TURN_PASS \
        --turn-peer-tcp 127.0.0.1:5999 || fail "RFC 6062 over TCP failed"
    jhas "$d/a.out" "E('stream_up')[0]['transport'] == 'tcp' and E('turn_allocated') and E('turn_connected')[0]['peer'] == '127.0.0.1:5999' and E('turn_bound')[0]['connection_id'] == E('turn_connected')[0]['connection_id'] and E('turn_echo')[0]['relay'] == 'tcp' and E('turn_echo')[0]['bytes'] == 32" ||
        fail "no TCP allocation, Connect, bind or echo"
    i=0
    while [ $i -lt 50 ] && ! grep -q "echoed" "$d/echo.log"; do sleep 0.1; i=$((i + 1)); done
    [ "$(tail -n 1 "$d/echo.log")" = "echoed 32" ] || fail "the TCP peer did not see exactly our 32 bytes"
    cli b --turn 127.0.0.1 --turn-user $TURN_USER --turn-pass $TURN_PASS --turn-peer-tcp 127.0.0.1:5999
    [ $? -eq 2 ] || fail "--turn-peer-tcp over UDP was not a usage error"
    cat "$d/a.out"
    ;;
turn-udp)
    start_coturn
    wait_port 3478 udp || fail "turnserver did not listen on UDP 3478"
    cli a --turn 127.0.0.1 --turn-user $TURN_USER --turn-pass $TURN_PASS || fail "TURN over UDP failed"
    jhas "$d/a.out" "not E('stream_up') and E('turn_allocated') and E('turn_echo')[0]['bytes'] == 32" ||
        fail "no allocation or no echo over UDP"
    cli b --turn 127.0.0.1 --turn-user $TURN_USER --turn-pass $TURN_PASS --proxy http://127.0.0.1:1
    [ $? -eq 2 ] || fail "--proxy without --turn-tls was not a usage error"
    cat "$d/a.out"
    ;;
*)
    echo "unknown scenario $SCENARIO"
    exit 2
    ;;
esac
echo "PASS $SCENARIO"
exit 0
