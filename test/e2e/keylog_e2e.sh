#!/bin/sh
# keylog_e2e.sh TSCF_SERVER TSE_CLI GEN_CERTS
# SSLKEYLOGFILE in tse-cli (tse_settings.tls_keylog, examples/common/
# keylog_out.c): one tse-cli <-> tscf-server session on loopback captured
# with dumpcap; the key log has the NSS lines of the TLS version used
# (TLS 1.3: the four traffic secrets; TLS 1.2, mbed TLS 2.28: CLIENT_RANDOM),
# each for the client random of the ClientHello in the capture; tshark with
# the key log decrypts the stream (the first application data is the
# Configuration_Request: CM header 1001, TSID all ones) and without it
# does not; tse-cli printed the warning; the file is mode 0600.
# Root (capture on lo); exit 77 (skipped) without root, tshark or dumpcap.
set -u
SERVER=$1
CLI=$2
GEN=$3
if [ "$(id -u)" != 0 ] || ! command -v tshark >/dev/null 2>&1 || ! command -v dumpcap >/dev/null 2>&1; then
    echo "skip: needs root, tshark and dumpcap"; exit 77
fi
d=$(mktemp -d /tmp/tse-keylog.XXXXXX)
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
    --ready-file "$d/ready" --echo 2>"$d/server.log" &
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
       --ping 198.18.0.1 --count 2 --interval 100 >"$d/out" 2>"$d/err" && grep -q "2 received" "$d/out"; then
    ok "tse-cli session with SSLKEYLOGFILE"
else
    fail "tse-cli session"; cat "$d/out" "$d/err"
fi
sleep 0.5 # the last segments reach the capture
stop "$cpid"; cpid=""

if grep -q "WARNING: SSLKEYLOGFILE is set" "$d/err" && grep -q "keys.log" "$d/err"; then ok "loud warning on stderr"
else fail "no warning on stderr: $(cat "$d/err")"; fi
mode=$(stat -c %a "$d/keys.log" 2>/dev/null)
[ "$mode" = 600 ] && ok "key log mode 0600" || fail "key log mode $mode"
echo "     key log:"; sed 's/^\([A-Z_0-9]*\) \(.\{16\}\).* \(.\{8\}\).*/       \1 \2... \3.../' "$d/keys.log"

tls=$(sed -n 's/.*TLSv1\.\([23]\).*/\1/p' "$d/out" | head -n1)
if [ "$tls" = 3 ]; then
    want="CLIENT_HANDSHAKE_TRAFFIC_SECRET SERVER_HANDSHAKE_TRAFFIC_SECRET CLIENT_TRAFFIC_SECRET_0 SERVER_TRAFFIC_SECRET_0"
    len=64 # SHA-256 suites (TLS_AES_128_GCM_SHA256 first): 32-byte secrets
elif [ "$tls" = 2 ]; then
    want="CLIENT_RANDOM"
    len=96 # 48-byte master secret
else
    want=""; fail "TLS version not in tse-cli's output"
fi
for l in $want; do
    n=$(awk -v l="$l" -v n="$len" '$1 == l && length($2) == 64 && length($3) == n' "$d/keys.log" | wc -l)
    [ "$n" -eq 1 ] && ok "TLS 1.$tls: one $l line" || fail "TLS 1.$tls: $n $l lines"
done
n=$(grep -c . "$d/keys.log")
[ "$n" -eq "$(echo $want | wc -w)" ] && ok "no other lines ($n)" || fail "$n lines in the key log"

# the client random of the ClientHello in the capture is the key log's
cr=$(tshark -r "$d/cap.pcapng" -d "tcp.port==$PORT,tls" -Y "tls.handshake.type == 1" -T fields \
       -e tls.handshake.random 2>/dev/null | head -n1 | tr -d ':')
if [ -n "$cr" ] && awk -v c="$cr" '$2 != c { bad = 1 } END { exit bad }' "$d/keys.log"; then
    ok "client random matches the ClientHello ($(echo "$cr" | cut -c1-16)...)"
else
    fail "client random: capture '$cr'"
fi

# decrypt: the first application data is the Configuration_Request
app() { # KEYLOG-OPTION...: the decrypted application bytes, hex
    tshark -r "$d/cap.pcapng" -d "tcp.port==$PORT,tls" "$@" -T fields -e data.data 2>/dev/null | grep . | head -n1
}
first=$(app -o "tls.keylog_file:$d/keys.log")
case "$first" in
    1001????ffffffffffffffff*) ok "decrypted: Configuration_Request, TSID all ones ($(echo "$first" | cut -c1-32)...)" ;;
    *) fail "decrypted first application data: '$first'" ;;
esac
none=$(app -o "tls.keylog_file:/dev/null")
[ -z "$none" ] && ok "without the key log nothing is decrypted" || fail "decrypted without keys: $none"

# a key log that cannot be created: usage error before anything starts
SSLKEYLOGFILE="$d/no/such/dir/keys.log" timeout 20 "$CLI" --server 127.0.0.1:9 --ca "$d/ca.pem" \
    >"$d/out" 2>"$d/err"
rc=$?
if [ $rc -eq 2 ] && grep -q "^tse-cli: error: SSLKEYLOGFILE=.*No such file" "$d/err"; then
    ok "SSLKEYLOGFILE unwritable: exit 2"
else
    fail "SSLKEYLOGFILE unwritable: exit $rc: $(cat "$d/err")"
fi

[ $failed -eq 0 ] && echo "keylog: all passed" || echo "keylog: $failed failed"
[ $failed -eq 0 ]
