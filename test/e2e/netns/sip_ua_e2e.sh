#!/bin/sh
# sip_ua_e2e.sh MODE TSE_CLI TSCF_SERVER GEN_CERTS
#
# A real SIP user agent, written by no one here (baresip 1.0.0, headless),
# registers with kamailio and calls a sipp UAS that answers and echoes RTP:
#
#   netns UE   198.51.100.2/24 --veth-- 198.51.100.1/24  netns CORE
#   baresip (inner 198.18.0.x)          kamailio 198.18.0.1:5060
#   tse-cli --tun tse0  ==TLS 443==>    tscf-server --tun tscf0 (198.18.0.1/24)
#                                       sipp -sn uas 198.18.0.1:5070, RTP echo :6000
#
# MODE:
#   tun    through the tunnel: tse-cli --tun in UE, tscf-server --tun in CORE
#   plain  no tunnel (a reference for the SIP side alone): 198.18.0.2 and
#          198.18.0.1 on the namespaces' loopbacks, routed over the veth
#   tun-403  the error path, through the tunnel: kamailio answers every
#          REGISTER with 403; baresip must report the registration failed,
#          no contact may be saved and no call placed
#
# Asserts: kamailio saved the REGISTER (its log "saved (200)" and the
# contact in `kamcmd ul.dump`, from the UE's inner address); baresip saw the
# registration, CALL_ESTABLISHED and, after its hangup, CALL_CLOSED; sipp's
# message trace has the INVITE, its 200, the ACK, the BYE and the BYE's 200,
# and sipp counts one successful call; RTP flowed both ways: nftables
# counters on the CORE side of the path (tscf0 in tun mode) count the UE's
# RTP to the echo and the echo's RTP back (at least 3 s of 50 pps each way).
#
# Exit 77 (ctest SKIP_RETURN_CODE) without root, ip netns, nft, python3,
# baresip, kamailio/kamcmd or sipp, and in tun mode without /dev/net/tun or
# a tse-cli that has --tun.  Everything started is stopped and both
# namespaces removed on exit; every wait is bounded.
set -u
MODE=$1 CLI=$2 SERVER=$3 GEN=$4
HERE=$(cd "$(dirname "$0")" && pwd)
CALL_SECONDS=4

skip() { echo "SKIP: $*"; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root (network namespaces, TUN)"
for t in ip nft python3 baresip kamailio kamcmd sipp; do
    command -v $t >/dev/null 2>&1 || skip "no $t (.ci/install-deps installs it)"
done
[ -d /usr/lib/baresip/modules ] || skip "no baresip modules in /usr/lib/baresip/modules"
KAMMOD=""
for m in /usr/lib/x86_64-linux-gnu/kamailio/modules /usr/lib/kamailio/modules \
         /usr/lib/*/kamailio/modules; do
    [ -f "$m/registrar.so" ] && { KAMMOD=$m; break; }
done
[ -n "$KAMMOD" ] || skip "no kamailio modules (registrar.so)"
REJECT=""
case $MODE in
tun-403) REJECT=1; MODE=tun ;;
esac
case $MODE in
tun)
    [ -c /dev/net/tun ] || skip "no /dev/net/tun"
    [ -x "$CLI" ] || { echo "no client $CLI"; exit 1; }
    "$CLI" --help 2>&1 | grep -qE -- '--tun([ =]|$)' || skip "this tse-cli has no --tun"
    ;;
plain) ;;
*) echo "unknown mode $MODE"; exit 2 ;;
esac

UE=tse-sipue-$$ CORE=tse-sipcore-$$
ip netns add "$UE" 2>/dev/null || skip "cannot create network namespaces (ip netns add)"
ip netns add "$CORE" || { ip netns del "$UE"; skip "cannot create network namespaces"; }
D=$(mktemp -d /tmp/tse-sipua.XXXXXX)
BG=""
cleanup() {
    rc=$?
    for p in $BG; do kill "$p" 2>/dev/null; done
    # bounded wait for them, then SIGKILL whatever is left in our namespaces
    n=30
    while [ $n -gt 0 ]; do
        alive=""
        for p in $BG; do kill -0 "$p" 2>/dev/null && alive=1; done
        [ -z "$alive" ] && break
        sleep 0.1; n=$((n - 1))
    done
    for ns in "$UE" "$CORE"; do
        for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
    done
    for p in $BG; do wait "$p" 2>/dev/null; done
    for ns in "$UE" "$CORE"; do ip netns del "$ns" 2>/dev/null; done
    if [ $rc != 0 ] && [ $rc != 77 ]; then
        for f in "$D"/*.log; do [ -f "$f" ] && { echo "--- $f"; tail -n 60 "$f"; }; done
    fi
    if [ -n "${KEEP:-}" ]; then echo "kept $D"; else rm -rf "$D"; fi
    exit $rc
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

fail() { echo "FAIL: $*"; exit 1; }
# wait_for SECONDS COMMAND...: poll every 0.1 s
wait_for() {
    n=$(($1 * 10)); shift
    while [ $n -gt 0 ]; do "$@" && return 0; sleep 0.1; n=$((n - 1)); done
    return 1
}
# background processes are started with a plain `ip netns exec` so that $!
# is the process itself (ip execs it)

# ---- the lab ------------------------------------------------------------------
ip -n "$UE" link set lo up && ip -n "$CORE" link set lo up || fail "lo"
ip link add veue netns "$UE" type veth peer name vecore netns "$CORE" || fail "veth"
ip -n "$UE" addr add 198.51.100.2/24 dev veue && ip -n "$UE" link set veue up &&
ip -n "$CORE" addr add 198.51.100.1/24 dev vecore && ip -n "$CORE" link set vecore up || fail "addresses"

if [ "$MODE" = tun ]; then
    sh "$GEN" "$D" || fail "certificates"
    ip netns exec "$CORE" "$SERVER" --listen 198.51.100.1:443 --cert "$D/server.pem" --key "$D/server.key" \
        --tun tscf0 --ready-file "$D/ready" 2>"$D/server.log" &
    BG="$BG $!"
    wait_for 10 test -s "$D/ready" || fail "tscf-server did not start"
    wait_for 5 sh -c "ip -n $CORE -4 addr show dev tscf0 | grep -q 198.18.0.1/24" || fail "no 198.18.0.1 on tscf0"
    CIF=tscf0
    ip netns exec "$UE" "$CLI" --server 198.51.100.1:443 --ca "$D/ca.pem" --sni tscf.test --json \
        --tun tse0 >"$D/cli.json" 2>"$D/cli.log" &
    CLIPID=$!
    BG="$BG $CLIPID"
    wait_for 20 sh -c "grep -q '\"event\":\"tun_up\"' $D/cli.json || ! kill -0 $CLIPID" 2>/dev/null
    kill -0 "$CLIPID" 2>/dev/null || fail "tse-cli exited"
    grep -q '"event":"tun_up"' "$D/cli.json" || fail "tse-cli: no tun_up event"
    wait_for 5 sh -c "ip -n $UE -4 addr show dev tse0 | grep -q 'inet 198\.18\.0\.'" ||
        fail "no inner address on tse0"
    UEIP=$(ip -n "$UE" -4 -o addr show dev tse0 | sed -n 's/.* inet \(198\.18\.0\.[0-9]*\).*/\1/p' | head -n 1)
    UEIF=tse0
    grep '"event":"tun_up"' "$D/cli.json"
else
    ip -n "$CORE" addr add 198.18.0.1/32 dev lo || fail "core address"
    ip -n "$CORE" route add 198.18.0.2/32 via 198.51.100.2 || fail "core route"
    ip -n "$UE" addr add 198.18.0.2/32 dev lo || fail "ue address"
    ip -n "$UE" route add 198.18.0.0/24 via 198.51.100.1 src 198.18.0.2 || fail "ue route"
    CIF=vecore UEIP=198.18.0.2 UEIF=veue
fi
echo "UE inner address $UEIP on $UEIF; CORE counts on $CIF"

# RTP counters on the CORE side of the path: UE -> echo, echo -> UE
ip netns exec "$CORE" nft -f - <<EOF || fail "nft in CORE"
table inet sipua {
    counter rtp_in { }
    counter rtp_out { }
    chain in { type filter hook input priority 0; iifname "$CIF" udp dport 6000 counter name "rtp_in"; }
    chain out { type filter hook output priority 0; oifname "$CIF" udp sport 6000 counter name "rtp_out"; }
}
EOF
packets() { # packets COUNTER
    ip netns exec "$CORE" nft list counter inet sipua "$1" | sed -n 's/.*packets \([0-9]*\).*/\1/p'
}

# ---- the core: kamailio and the sipp UAS ---------------------------------------
sed -e "s|@SIP_IP@|198.18.0.1|" -e "s|@CTL@|$D/kamctl|" -e "s|@MPATH@|$KAMMOD/|" \
    "$HERE/kamailio.cfg.in" >"$D/kamailio.cfg"
mkdir -p "$D/kamrun"
KAMDEF=""
[ -n "$REJECT" ] && KAMDEF="-A LAB_REJECT_REGISTER"
ip netns exec "$CORE" kamailio $KAMDEF -f "$D/kamailio.cfg" -DD -E -m 32 -M 4 -P "$D/kam.pid" -Y "$D/kamrun" \
    -w "$D" >"$D/kamailio.log" 2>&1 &
BG="$BG $!"
KAM="ip netns exec $CORE kamcmd -s unix:$D/kamctl"
wait_for 15 sh -c "$KAM core.uptime >/dev/null 2>&1" || fail "kamailio did not start"
# the callee: sipp, put into the location table (permanent contact)
$KAM ul.add location bob sip:bob@198.18.0.1:5070 0 1.0 s: 0 0 0 || fail "kamcmd ul.add"

ip netns exec "$CORE" sipp -sf "$HERE/uas_echo.xml" -i 198.18.0.1 -p 5070 -t u1 -mi 198.18.0.1 -mp 6000 -rtp_echo \
    -m 1 -nostdin -timeout 90s -timeout_error -trace_msg -message_file "$D/sipp_msg.log" \
    -trace_stat -stf "$D/sipp_stat.csv" -trace_err -error_file "$D/sipp_err.log" >"$D/sipp.log" 2>&1 &
SIPP=$!
BG="$BG $SIPP"
wait_for 10 sh -c "ip netns exec $CORE ss -lun | grep -q 198.18.0.1:5070" || fail "sipp not listening"

# ---- the UE: baresip ------------------------------------------------------------
B="$D/baresip"
mkdir -p "$B"
cat >"$B/config" <<EOF
poll_method		epoll
sip_listen		$UEIP:5060
net_interface		$UEIF
call_local_timeout	30
call_max_calls		1
audio_player		aubridge,lab
audio_source		ausine,440
audio_alert		aubridge,lab
ausrc_srate		48000
ausrc_channels		2
rtp_ports		20000-20100
rtp_stats		yes
module_path		/usr/lib/baresip/modules
module			g711.so
module			ausine.so
module			aubridge.so
module_tmp		account.so
module_app		menu.so
module_app		ctrl_tcp.so
ctrl_tcp_listen		127.0.0.1:4444
EOF
printf '%s\n' "<sip:alice@198.18.0.1;transport=udp>;regint=300;audio_codecs=PCMU" >"$B/accounts"
: >"$B/contacts"
[ -n "${KEEP:-}" ] && command -v dumpcap >/dev/null && { ip netns exec "$UE" dumpcap -q -i any -f "udp portrange 5060-5070" -w "$D/ue.pcap" >/dev/null 2>&1 & BG="$BG $!"; sleep 1; }
ip netns exec "$UE" baresip -f "$B" -s </dev/null >"$D/baresip.log" 2>&1 &
BG="$BG $!"

CTL_TIMEOUT=60
[ -n "$REJECT" ] && CTL_TIMEOUT=12 # registration is over within a second
ip netns exec "$UE" python3 "$HERE/baresip_ctl.py" 127.0.0.1 4444 "sip:bob@198.18.0.1" $CALL_SECONDS $CTL_TIMEOUT \
    >"$D/ctl.log" 2>&1
ctl=$?
sed -n 's/^\(event [A-Z_]*\).*/\1/p; /^result/p' "$D/ctl.log" | grep -v CALL_RTCP
if [ -n "$REJECT" ]; then
    [ $ctl != 0 ] || fail "baresip registered although kamailio answers 403"
    grep -q "^result registered=no" "$D/ctl.log" || fail "the driver did not report registered=no"
    grep -q "lab: REGISTER sip:alice@198.18.0.1 from $UEIP:.*rejected (403)" "$D/kamailio.log" ||
        fail "kamailio did not reject alice's REGISTER from $UEIP"
    grep -q "saved (200)" "$D/kamailio.log" && fail "kamailio saved a contact"
    $KAM ul.dump >"$D/uldump.txt" 2>&1 || fail "kamcmd ul.dump"
    grep -q "AoR: alice" "$D/uldump.txt" && fail "alice is in the location table"
    grep -q "^INVITE" "$D/sipp_msg.log" 2>/dev/null && fail "a call was placed"
    grep -q "403 Forbidden" "$D/baresip.log" || fail "baresip did not see the 403"
    echo "kamailio rejected the REGISTER from $UEIP with 403; baresip reported it; no contact, no call"
    echo "PASS: sip-ua tun-403"
    exit 0
fi
[ $ctl = 0 ] || fail "baresip: $(tail -n 1 "$D/ctl.log")"

# sipp exits after its one call (-m 1) with 0 when it succeeded
wait_for 20 sh -c "! kill -0 $SIPP 2>/dev/null" || fail "sipp did not finish its call"
wait "$SIPP"; sst=$?
BG=$(echo "$BG" | sed "s/ $SIPP\$//; s/ $SIPP / /")
[ $sst = 0 ] || fail "sipp exit status $sst (the call did not complete)"

# ---- assertions -------------------------------------------------------------------
grep -q "lab: REGISTER sip:alice@198.18.0.1.*from $UEIP:.*saved (200)" "$D/kamailio.log" ||
    fail "kamailio did not save alice's REGISTER from $UEIP"
$KAM ul.dump >"$D/uldump.txt" 2>&1 || fail "kamcmd ul.dump"
grep -A4 "AoR: alice" "$D/uldump.txt" | grep -q "Address: sip:alice[^@]*@$UEIP:" ||
    { cat "$D/uldump.txt"; fail "alice's contact is not in the location table"; }
echo "kamailio: REGISTER saved, contact $(grep -A4 'AoR: alice' "$D/uldump.txt" | sed -n 's/.*Address: //p')"

M="$D/sipp_msg.log"
grep -q "^INVITE sip:bob@198.18.0.1:5070" "$M" || fail "sipp got no INVITE"
grep -A12 "^SIP/2.0 200 OK" "$M" | grep -qi "^CSeq: [0-9]* INVITE" || fail "sipp did not answer the INVITE with 200"
grep -q "^ACK sip:" "$M" || fail "sipp got no ACK"
grep -q "^BYE sip:" "$M" || fail "sipp got no BYE"
grep -A12 "^SIP/2.0 200 OK" "$M" | grep -qi "^CSeq: [0-9]* BYE" || fail "sipp did not answer the BYE with 200"
# the proxy was in the path of the whole dialog, and the UE's requests came
# from its inner address
for m in INVITE ACK BYE; do
    grep -q "lab: $m sip:.* from $UEIP:5060" "$D/kamailio.log" || fail "kamailio did not relay the $m from $UEIP"
done
grep -q "lab: reply 200 OK to [0-9]* INVITE" "$D/kamailio.log" || fail "kamailio did not relay the INVITE's 200"
grep -q "Via: SIP/2.0/UDP 198.18.0.1;branch" "$M" || fail "the INVITE did not come through kamailio"
grep -q "Via: SIP/2.0/UDP $UEIP:5060" "$M" || fail "the UE's requests did not come from $UEIP"
echo "sipp: INVITE answered 200, ACK, BYE answered 200 (all through kamailio)"
# baresip's own RTP statistics at the end of the call: "packets: TX RX"
stats=$(sed -n 's/^packets: *\([0-9]*\) *\([0-9]*\).*/\1 \2/p' "$D/baresip.log" | tail -n 1)
echo "baresip RTP packets sent/received: ${stats:-none}"
set -- $stats
[ "${1:-0}" -ge $((CALL_SECONDS * 50 * 3 / 4)) ] && [ "${2:-0}" -ge $((CALL_SECONDS * 50 * 3 / 4)) ] ||
    fail "baresip's RTP statistics: sent ${1:-?}, received ${2:-?}"

rin=$(packets rtp_in) rout=$(packets rtp_out)
echo "RTP at the core's $CIF: $rin packets UE->echo, $rout packets echo->UE"
min=$((CALL_SECONDS * 50 * 3 / 4))
[ "${rin:-0}" -ge $min ] || fail "only ${rin:-0} RTP packets from the UE (want >= $min)"
[ "${rout:-0}" -ge $min ] || fail "only ${rout:-0} RTP packets back to the UE (want >= $min)"

if [ "$MODE" = tun ]; then
    # the CLI is still up and leaves on SIGTERM with status 0
    kill -0 "$CLIPID" 2>/dev/null || fail "tse-cli exited during the call"
    kill -TERM "$CLIPID"
    wait_for 10 sh -c "! kill -0 $CLIPID 2>/dev/null" || fail "tse-cli did not stop on SIGTERM"
    wait "$CLIPID"; cst=$?
    BG=$(echo "$BG" | sed "s/ $CLIPID\$//; s/ $CLIPID / /")
    [ $cst = 0 ] || fail "tse-cli exit status $cst after SIGTERM"
    ip -n "$UE" link show tse0 >/dev/null 2>&1 && fail "tse0 still exists after tse-cli exited"
fi
echo "PASS: sip-ua $MODE"
exit 0
