#!/bin/sh
# pcap_e2e.sh TSCF_SERVER TSE_CLI GEN_CERTS
# tse-cli --pcap and tscf-server --pcap (examples/common/pcap_out.c) on one
# loopback session: bring-up, two pings 2.5 s apart with a 1 s keep-alive
# (so keep-alives flow in between), release.  tshark reads both files and
# the test checks, in each: the ICMP echo requests and replies on
# interface 0 (LINKTYPE_RAW) with their directions, and the control
# messages on interface 1 (LINKTYPE_USER0): Configuration_Request with the
# all-ones TSID, its Response, Keep_Alive and its Response, the Release
# and its Response, each with its direction (the server's mirrored), and
# timestamps of now.  Then --pcap to a path that cannot be created fails
# with exit 2.  Exit 77 (skipped) without tshark.
set -u
SERVER=$1
CLI=$2
GEN=$3
command -v tshark >/dev/null 2>&1 || { echo "skip: no tshark"; exit 77; }
d=$(mktemp -d /tmp/tse-pcap.XXXXXX)
spid=""
cleanup() {
    if [ -n "$spid" ]; then
        kill "$spid" 2>/dev/null
        i=0
        while kill -0 "$spid" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
        kill -9 "$spid" 2>/dev/null
        wait "$spid" 2>/dev/null
    fi
    rm -rf "$d"
}
trap cleanup EXIT INT TERM
failed=0
ok()   { echo "ok   $1"; }
fail() { echo "FAIL $1"; failed=$((failed + 1)); }

sh "$GEN" "$d" || { echo "FAIL: certificate generation"; exit 1; }
"$SERVER" --listen 127.0.0.1:0 --cert "$d/server.pem" --key "$d/server.key" \
    --ready-file "$d/ready" --echo --keepalive 1 --pcap "$d/server.pcapng" 2>"$d/server.log" &
spid=$!
i=0
while [ ! -s "$d/ready" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
[ -s "$d/ready" ] || { echo "FAIL: tscf-server did not start"; cat "$d/server.log"; exit 1; }
ADDR=$(head -n1 "$d/ready")
t_start=$(date +%s)
if timeout 60 "$CLI" --server "$ADDR" --ca "$d/ca.pem" --sni tscf.test --ping 198.18.0.1 \
       --count 2 --interval 2500 --keepalive 1 --pcap "$d/cli.pcapng" >"$d/out" 2>"$d/err" &&
   grep -q "2 received" "$d/out"; then
    ok "tse-cli session with --pcap"
else
    fail "tse-cli session"; cat "$d/out" "$d/err"
fi
# stop the server: its capture is complete when it exits
kill "$spid"; i=0
while kill -0 "$spid" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
kill -9 "$spid" 2>/dev/null; wait "$spid" 2>/dev/null; spid=""
t_end=$(($(date +%s) + 1))

# fields NAME FILE: one line per frame: interface, direction (1 in, 2 out),
# epoch seconds, ICMP type, the CM bytes in hex (interface 1 as "data")
fields() {
    tshark -r "$1" -o 'uat:user_dlts:"User 0 (DLT=147)","data","0","","0",""' -T fields \
        -E separator=' ' -e frame.interface_id -e frame.packet_flags_direction \
        -e frame.time_epoch -e icmp.type -e data.data 2>"$d/tshark.err" |
        awk '{ d = $2; sub(/^0x0*/, "", d); if (NF == 5 && $1 == 0) { print $1, d, $3, $4 } else { print $1, d, $3, "-", $NF } }'
}

# check WHO FILE IN OUT: IN/OUT are the direction codes of the TSE's
# sending side as seen by WHO (tse-cli: out=2; the server: mirrored)
check() {
    who=$1; f=$2; tse_out=$3; tse_in=$4
    if [ ! -s "$f" ]; then fail "$who: no capture file"; return; fi
    fields "$f" >"$d/$who.txt"
    echo "     $who: $(wc -l <"$d/$who.txt") frames"
    sed 's/^/       /' "$d/$who.txt"
    # count LINE-PATTERN: frames matching an awk condition
    cnt() { awk "$1" "$d/$who.txt" | wc -l; }
    n=$(cnt "\$1 == 0 && \$2 == $tse_out && \$4 == 8"); [ "$n" -eq 2 ] && ok "$who: 2 echo requests TSE->TSCF" || fail "$who: echo requests TSE->TSCF: $n"
    n=$(cnt "\$1 == 0 && \$2 == $tse_in && \$4 == 0"); [ "$n" -eq 2 ] && ok "$who: 2 echo replies TSCF->TSE" || fail "$who: echo replies TSCF->TSE: $n"
    # CM header: version 1 | indication 0, type, reserved, TSID (8), seq (4)
    n=$(cnt "\$1 == 1 && \$2 == $tse_out && \$5 ~ /^1001....ffffffffffffffff00000001/"); [ "$n" -eq 1 ] && ok "$who: Configuration_Request, TSID all ones, seq 1" || fail "$who: Configuration_Request: $n"
    n=$(cnt "\$1 == 1 && \$2 == $tse_in && \$5 ~ /^1002/ && \$5 ~ /030200000404c612/"); [ "$n" -eq 1 ] && ok "$who: Configuration_Response, Response_Code 0, 198.18.x.x" || fail "$who: Configuration_Response: $n"
    n=$(cnt "\$1 == 1 && \$2 == $tse_out && \$5 ~ /^1007/"); [ "$n" -ge 1 ] && ok "$who: Keep_Alive x$n" || fail "$who: no Keep_Alive"
    n2=$(cnt "\$1 == 1 && \$2 == $tse_in && \$5 ~ /^1008/"); [ "$n2" -eq "$n" ] && ok "$who: Keep_Alive_Response x$n2" || fail "$who: Keep_Alive_Response $n2 for $n"
    n=$(cnt "\$1 == 1 && \$2 == $tse_out && \$5 ~ /^1005/"); [ "$n" -eq 1 ] && ok "$who: Configuration_Release_Request" || fail "$who: Release_Request: $n"
    n=$(cnt "\$1 == 1 && \$2 == $tse_in && \$5 ~ /^1006/"); [ "$n" -eq 1 ] && ok "$who: Configuration_Release_Response" || fail "$who: Release_Response: $n"
    n=$(awk -v a="$t_start" -v b="$t_end" '$3 < a || $3 > b' "$d/$who.txt" | wc -l)
    [ "$n" -eq 0 ] && ok "$who: timestamps within the session" || fail "$who: $n timestamps outside $t_start..$t_end"
}
check tse-cli "$d/cli.pcapng" 2 1
check tscf-server "$d/server.pcapng" 1 2

# the file cannot be created: usage error before anything starts
timeout 20 "$CLI" --server 127.0.0.1:9 --ca "$d/ca.pem" --pcap "$d/no/such/dir/x.pcapng" >"$d/out" 2>"$d/err"
rc=$?
if [ $rc -eq 2 ] && grep -q "^tse-cli: error: --pcap .*No such file" "$d/err"; then ok "--pcap unwritable: exit 2"
else fail "--pcap unwritable: exit $rc: $(cat "$d/err")"; fi

[ $failed -eq 0 ] && echo "pcap: all passed" || echo "pcap: $failed failed"
[ $failed -eq 0 ]
