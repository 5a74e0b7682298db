#!/bin/sh
# dissector_e2e.sh TSCF_SERVER TSE_CLI GEN_CERTS LUA CHECKER
# tools/wireshark/tscf.lua on a real session: tse-cli <-> tscf-server on
# loopback (bring-up, two pings 2.5 s apart with a 1 s keep-alive so that
# Keep_Alives flow, release), captured with dumpcap; tshark decrypts it with
# tse-cli's SSLKEYLOGFILE, dissects it with the Lua script (Decode As: TCP
# port -> TLS, TLS port -> tscf_tunnel), and CHECKER
# (tscf_dissect_check.py) asserts every CM field and the ICMP inside.
# Then: the heuristic alone (no Decode As) finds the same CMs; the
# dissector reads tse-cli --pcap's CM interface (LINKTYPE_USER0) the same;
# without the key log nothing is dissected as TSCF.
# Root (capture on lo); exit 77 (skipped) without root, tshark, dumpcap or
# python3.
set -u
SERVER=$1
CLI=$2
GEN=$3
LUA=$4
CHECK=$5
if [ "$(id -u)" != 0 ] || ! command -v tshark >/dev/null 2>&1 || ! command -v dumpcap >/dev/null 2>&1 ||
   ! command -v python3 >/dev/null 2>&1; then
    echo "skip: needs root, tshark, dumpcap and python3"; exit 77
fi
d=$(mktemp -d /tmp/tse-dissect.XXXXXX)
spid="" cpid=""
stop() { # PID: SIGTERM, then SIGKILL after 5 s
    kill "$1" 2>/dev/null
    i=0
    while kill -0 "$1" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
    kill -9 "$1" 2>/dev/null
    wait "$1" 2>/dev/null
}
cleanup() {
    [ -n "$cpid" ] && stop "$cpid"
    [ -n "$spid" ] && stop "$spid"
    rm -rf "$d"
}
trap cleanup EXIT INT TERM
failed=0
ok()   { echo "ok   $1"; }
fail() { echo "FAIL $1"; failed=$((failed + 1)); }

sh "$GEN" "$d" || { echo "FAIL: certificate generation"; exit 1; }
"$SERVER" --listen 127.0.0.1:0 --cert "$d/server.pem" --key "$d/server.key" \
    --ready-file "$d/ready" --echo --keepalive 1 2>"$d/server.log" &
spid=$!
i=0
while [ ! -s "$d/ready" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
[ -s "$d/ready" ] || { echo "FAIL: tscf-server did not start"; cat "$d/server.log"; exit 1; }
ADDR=$(head -n1 "$d/ready")
PORT=${ADDR##*:}

dumpcap -q -i lo -f "tcp port $PORT" -w "$d/cap.pcapng" 2>"$d/dumpcap.log" &
cpid=$!
i=0
while ! grep -q "Capturing on" "$d/dumpcap.log" && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
grep -q "Capturing on" "$d/dumpcap.log" || { echo "FAIL: dumpcap did not start"; cat "$d/dumpcap.log"; exit 1; }

if SSLKEYLOGFILE="$d/keys.log" timeout 60 "$CLI" --server "$ADDR" --ca "$d/ca.pem" --sni tscf.test \
       --ping 198.18.0.1 --count 2 --interval 2500 --keepalive 1 --pcap "$d/cli.pcapng" \
       >"$d/out" 2>"$d/err" && grep -q "2 received" "$d/out"; then
    ok "tse-cli session (keep-alive 1 s, 2 pings, release)"
else
    fail "tse-cli session"; cat "$d/out" "$d/err"
fi
sleep 0.5 # the last segments reach the capture
stop "$cpid"; cpid=""
# "tunnel up: inner 198.18.0.2/255.255.255.0, keep-alive 1 s, tsid 36df2d98f94cfea9, ..."
INNER=$(sed -n 's/^tunnel up: inner \([0-9.]*\)\/.*/\1/p' "$d/out" | head -n1)
TSID=$(sed -n 's/^tunnel up: .* tsid \([0-9a-f]*\),.*/\1/p' "$d/out" | head -n1)
CPORT=$(tshark -r "$d/cap.pcapng" -Y "tcp.dstport == $PORT" -T fields -e tcp.srcport 2>/dev/null | head -n1)
echo "     inner $INNER, TSID $TSID, TSE port $CPORT, TSCF port $PORT"

ts() { tshark -r "$@" -o "tls.keylog_file:$d/keys.log" -X "lua_script:$LUA" 2>"$d/tshark.err"; }
DA="-d tcp.port==$PORT,tls -d tls.port==$PORT,tscf_tunnel"
echo "     tshark (Decode As):"
# shellcheck disable=SC2086
ts "$d/cap.pcapng" $DA -Y "tscf_tunnel" | sed 's/^/       /'
# shellcheck disable=SC2086
ts "$d/cap.pcapng" $DA -Y "tscf_tunnel" -T pdml >"$d/cap.pdml"
if python3 "$CHECK" "$d/cap.pdml" "$CPORT" "$INNER" "$TSID" 1; then ok "field-by-field checks"
else fail "field-by-field checks"; sed 's/^/     /' "$d/tshark.err" | head; fi

types() { tr -s ',\n' ' ' | sed 's/ $//'; }
da=$(ts "$d/cap.pcapng" $DA -Y "tscf_tunnel.cm.type" -T fields -e tscf_tunnel.cm.type | types)
heur=$(ts "$d/cap.pcapng" -d "tcp.port==$PORT,tls" -Y "tscf_tunnel.cm.type" -T fields -e tscf_tunnel.cm.type | types)
[ -n "$da" ] && [ "$heur" = "$da" ] && ok "heuristic alone: the same CMs ($heur)" || fail "heuristic: '$heur' vs '$da'"
pcap=$(ts "$d/cli.pcapng" -Y "tscf_tunnel.cm.type" -T fields -e tscf_tunnel.cm.type | types)
[ "$pcap" = "$da" ] && ok "tse-cli --pcap's CM interface: the same CMs" || fail "--pcap: '$pcap' vs '$da'"
n=$(tshark -r "$d/cap.pcapng" -o "tls.keylog_file:/dev/null" -X "lua_script:$LUA" -d "tcp.port==$PORT,tls" \
        -Y tscf_tunnel 2>/dev/null | grep -c .)
[ "$n" -eq 0 ] && ok "without the key log: nothing dissected as TSCF" || fail "without keys: $n TSCF frames"

[ $failed -eq 0 ] && echo "dissector: all passed" || echo "dissector: $failed failed"
[ $failed -eq 0 ]
