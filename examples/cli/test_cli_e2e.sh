#!/bin/sh
# test_cli_e2e.sh TSCF_SERVER TSE_CLI GEN_CERTS
# tse-cli against tscf-server on loopback: ping, JSON, failures with their
# one-line reasons, SIGINT release, proxy from the environment (tscf-server
# consumes a CONNECT itself, TR 4.8.2), 200 tunnels in one process, and
# (lwIP builds) the inner applications against the server's UDP echo.
set -u
SERVER=$1
CLI=$2
GEN=$3
d=$(mktemp -d /tmp/tse-cli-e2e.XXXXXX)
# bounded stops: tse_stop (TERM, bounded wait, KILL), tse_wait_exit
. "$(cd "$(dirname "$GEN")" && pwd)/../lib/procs.sh"
pids=""
cleanup() {
    # shellcheck disable=SC2086
    [ -n "$pids" ] && tse_stop $pids
    rm -rf "$d"
}
trap cleanup EXIT INT TERM

sh "$GEN" "$d" || { echo "FAIL: certificate generation"; exit 1; }
"$SERVER" --listen 127.0.0.1:0 --cert "$d/server.pem" --key "$d/server.key" \
    --ready-file "$d/ready" --echo --keepalive 20 2>"$d/server.log" &
pids="$pids $!"
i=0
while [ ! -s "$d/ready" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
[ -s "$d/ready" ] || { echo "FAIL: tscf-server did not start"; cat "$d/server.log"; exit 1; }
ADDR=$(head -n1 "$d/ready")
PORT=${ADDR##*:}
"$SERVER" --listen 127.0.0.1:0 --cert "$d/server.pem" --key "$d/server.key" \
    --ready-file "$d/ready6" --echo --pool6 fd00:1::/64 2>"$d/server6.log" &
pids="$pids $!"
i=0
while [ ! -s "$d/ready6" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
[ -s "$d/ready6" ] || { echo "FAIL: tscf-server --pool6 did not start"; cat "$d/server6.log"; exit 1; }
ADDR6POOL=$(head -n1 "$d/ready6")
unset https_proxy HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY

failed=0
ok()   { echo "ok   $1"; }
fail() { echo "FAIL $1"; sed 's/^/     /' "$d/out" "$d/err" 2>/dev/null; failed=$((failed + 1)); }
# run NAME EXPECTED_EXIT ARGS... (stdout in $d/out, stderr in $d/err)
run() {
    name=$1; want=$2; shift 2
    timeout 60 "$CLI" "$@" >"$d/out" 2>"$d/err"
    rc=$?
    if [ "$rc" -ne "$want" ]; then echo "     $name: exit $rc, expected $want"; return 1; fi
    return 0
}
has()  { grep -q -- "$2" "$d/$1"; }

C="--ca $d/ca.pem --sni tscf.test"

if run ping 0 --server "$ADDR" $C --ping 198.18.0.1 --count 3 --interval 100 &&
   [ "$(grep -c 'bytes from 198.18.0.1: icmp_seq=' "$d/out")" -eq 3 ] &&
   has out "tunnel up: inner 198.18.0." && has out "3 received" && has out "tunnel released"
then ok ping; else fail "ping output"; fi

if run json 0 --server "$ADDR" $C --ping 198.18.0.1 --count 2 --interval 100 --keepalive 15 --json &&
   has out '"event":"tunnel_up","inner_ipv4":"198.18.0.' && has out '"via_proxy":false' &&
   has out '"tls":"TLSv1.' && [ "$(grep -c '"event":"ping_reply"' "$d/out")" -eq 2 ] &&
   has out '"event":"state","state":"CLOSED"'
then
    if command -v python3 >/dev/null 2>&1; then
        if python3 -c 'import json,sys
for l in open(sys.argv[1]): json.loads(l)' "$d/out"; then ok "json (every line parses)"; else fail "json parse"; fi
    else ok json; fi
else fail "json output"; fi

if run wrong-name 1 --server "$ADDR" --ca "$d/ca.pem" --sni other.test &&
   has err "^tse-cli: error: TLS: certificate name mismatch"
then ok wrong-name; else fail "wrong-name reason"; fi

if run untrusted 1 --server "$ADDR" --ca "$d/server.pem" --sni tscf.test &&
   has err "^tse-cli: error: TLS: certificate not trusted"
then ok untrusted; else fail "untrusted reason"; fi

if run bad-pin 1 --server "$ADDR" $C --pin 0000000000000000000000000000000000000000000000000000000000000000 &&
   has err "^tse-cli: error: TLS: .*pin"
then ok bad-pin; else fail "bad-pin reason"; fi

if run refused 1 --server 127.0.0.1:1 $C && has err "^tse-cli: error: transport: connection refused"
then ok refused; else fail "refused reason"; fi

if run json-error 1 --server 127.0.0.1:1 $C --json && has out '"event":"error","reason":"transport: connection refused'
then ok json-error; else fail "json-error"; fi

if run usage 2 --server "$ADDR" && has err "^tse-cli: error: --ca FILE is required"
then ok usage; else fail usage; fi

if run insecure 0 --server "$ADDR" --insecure-lab-only --ping 198.18.0.1 --count 1 &&
   has err "WARNING: --insecure-lab-only"
then ok insecure-lab-only; else fail insecure-lab-only; fi

if run ping6 0 --server "$ADDR6POOL" $C --ping fd00:1::1 --count 2 --interval 100 &&
   has out "bytes from fd00:1::1: icmp_seq=2" && has out "ipv6 fd00:1::"
then ok ping6; else fail ping6; fi
if run ping6-no-v6 1 --server "$ADDR" $C --ping fd00:1::1 --count 1 &&
   has err "^tse-cli: error: no inner IPv6 address"
then ok ping6-no-v6; else fail ping6-no-v6; fi

# the TSCF consumes the CONNECT itself, so it can play the proxy; the target
# name tscf.test is never resolved on this side
if https_proxy=http://127.0.0.1:$PORT run proxy-env 0 --server "tscf.test:$PORT" $C --ping 198.18.0.1 --count 1 --json &&
   has out '"via_proxy":true' && has out '"state":"PROXY"'
then ok proxy-env; else fail proxy-env; fi
if run proxy-flag 0 --server "tscf.test:$PORT" $C --proxy "http://u:p@127.0.0.1:$PORT" --ping 198.18.0.1 --count 1 &&
   has out "via proxy 127.0.0.1"
then ok proxy-flag; else fail proxy-flag; fi
# no_proxy exempts the server: direct, and tscf.test does not resolve
if https_proxy=http://127.0.0.1:$PORT NO_PROXY=".test" run no-proxy 1 --server "tscf.test:$PORT" $C &&
   has err "name resolution failed"
then ok no_proxy; else fail no_proxy; fi

# SIGINT releases the tunnel and exits 0
"$CLI" --server "$ADDR" $C >"$d/out" 2>"$d/err" &
cpid=$!
i=0
while ! grep -q "tunnel up" "$d/out" && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
pids="$pids $cpid"
tse_stop -INT "$cpid"
rc=$TSE_RC
if [ $rc -eq 0 ] && has out "tunnel released"; then ok sigint; else echo "     exit $rc"; fail sigint; fi

# 200 tunnels in one process, each pinging
if run tunnels-200 0 --server "$ADDR" $C --tunnels 200 --ping 198.18.0.1 --count 2 --interval 200 --timeout 50 &&
   has out "200 tunnels, 200 up, 200 with replies"
then ok "200 tunnels ($(grep 'transmitted' "$d/out"))"; else fail tunnels-200; fi

# Inner applications over lwIP (builds with a NO_SYS=1 lwIP only; tscf-server
# --echo answers ICMP and UDP port 7, nothing else: SIP and TCP to a real
# server are in test/e2e/netns, scenarios cli_*)
if "$CLI" --version | grep -q "inner stack: lwIP"; then
    if run rtp-echo 0 --server "$ADDR" $C --rtp 198.18.0.1:7 --seconds 1 --json &&
       has out '"event":"rtp_done"' && has out '"sent":50,"received":50,"lost":0' &&
       has out '"event":"state","state":"CLOSED"'
    then ok "rtp-echo (lwIP UDP)"; else fail rtp-echo; fi
    if run rtp-text 0 --server "$ADDR" $C --rtp 198.18.0.1:7 --seconds 1 &&
       has out "50 sent, 50 back, 0 lost" && has out "tunnel released"
    then ok rtp-text; else fail rtp-text; fi
    # our OPTIONS comes back as a request, never a response: no final status;
    # --timeout ends it first and the result still says why
    if run sip-unanswered 1 --server "$ADDR" $C --sip-options "sip:198.18.0.1:7" --json --timeout 3 &&
       has out '"event":"sip_reply","uri":"sip:198.18.0.1:7","transport":"udp","status":0' &&
       has out '"ok":false' && has err "^tse-cli: error: timed out (--timeout 3 s: the inner application did not finish)" &&
       has out '"event":"state","state":"CLOSED"'
    then ok sip-unanswered; else fail sip-unanswered; fi
    # nothing answers inner TCP: the SYN goes unanswered, tcp_done says so
    if run tcp-unanswered 1 --server "$ADDR" $C --tcp-send 198.18.0.1:5001 --bytes 1k --timeout 2 --json &&
       has out '"event":"tcp_done","target":"198.18.0.1:5001","bytes":1000,"acked":0' &&
       has out '"ok":false'
    then ok tcp-unanswered; else fail tcp-unanswered; fi
    if run sip-bad-uri 2 --server "$ADDR" $C --sip-options "sip:pbx.example" &&
       has err "^tse-cli: error: --sip-options: expected sip:ADDR"
    then ok sip-bad-uri; else fail sip-bad-uri; fi
    if run app-two 2 --server "$ADDR" $C --sip-options "sip:198.18.0.1" --ping 198.18.0.1 &&
       has err "one at a time"
    then ok app-two; else fail app-two; fi
    if run app-tunnels 2 --server "$ADDR" $C --tcp-send 198.18.0.1:5001 --tunnels 2 &&
       has err "run in one tunnel"
    then ok app-tunnels; else fail app-tunnels; fi
    if run bytes-bad 2 --server "$ADDR" $C --tcp-send 198.18.0.1:5001 --bytes 12q &&
       has err "^tse-cli: error: --bytes"
    then ok bytes-bad; else fail bytes-bad; fi
else
    if run no-lwip 2 --server "$ADDR" $C --sip-options "sip:198.18.0.1" &&
       has err "need the lwIP NO_SYS=1 build"
    then ok "no-lwip (this build has no NO_SYS=1 lwIP)"; else fail no-lwip; fi
fi

[ $failed -eq 0 ] || { echo "$failed scenario(s) failed"; echo "--- server log (tail)"; tail -20 "$d/server.log"; exit 1; }
echo "all tse-cli scenarios passed"
