#!/usr/bin/env bash
# roamlab.sh: the roaming lab (issue 13 item 6).  A UE holds a tunnel while
# its network changes under it, address and firewall type together.
#
#   roamlab.sh TSE_CLI TSCF_SERVER
#
# Root only (network namespaces, veth, TUN, nftables); exits 77 (skip) with
# a message otherwise, or when a program it needs is missing.
#
# The firewall lab's topology and rulesets (fwlab_lib.sh):
#   UE 192.0.2.x ---- 192.0.2.1 FW 198.51.100.1 ---- 198.51.100.2 NET
#   tscf-server --tun on 203.0.113.10:443 and :80 in NET (inner 198.18.0.1),
#   squid on the FW (192.0.2.1:3128).
# The UE runs
#   tse-cli --tun tse0 --server 203.0.113.10:443 --port2 80 --control FIFO
#           --network netA --json --reconnect --no-proxy ...
# and through tse0 an inner TCP download (LAB_ROAM_BYTES pseudo-random bytes
# from 198.18.0.1, paced so that it spans every change) and an RTP-like
# stream to 198.18.0.1 (50 datagrams/s of 172 bytes: sequence number and
# send time; the receiver records arrival times).  Then, every
# LAB_ROAM_PHASE_S seconds after the tunnel is back, the network changes
# (default plan):
#   netB  type 8  (only squid on the FW)  UE 192.0.2.3  "network netB proxy 192.0.2.1:3128"
#   netC  type 5b (only TCP 80)           UE 192.0.2.4  "network netC direct"
#   netA  type 0  (open, seen before)     UE 192.0.2.2  "network netA" (keeps: direct)
# A change is: the UE's new address added and the old one removed, the FW's
# ruleset replaced (the type's, plus a guard that drops anything to or from
# the UE's other addresses, and the proxy port where the network has no
# proxy), then the command written to the FIFO.
#
# Asserts: a bad command gets an error event and changes nothing; after
# each change's command tse-cli prints network_changed and exactly one
# tunnel_up with resumed true and the expected port and via_proxy (443
# direct, 443 via the proxy, 80 direct, 443 direct); every tunnel_up has the
# same inner_ipv4 and tsid, no addr_changed; the TSCF logged a resume per
# change; the FW's counters saw the UE's packets on each network's path
# (to 443, to squid, to 80, to 443); the download moved during every phase,
# was still running at the last change and arrived byte-identical (SHA-256
# of the bytes against the sender's seed); RTP flowed before the first
# change and again after each; per change the time from the command to the
# first RTP datagram sent after the network changed, and the largest RTP
# inter-arrival gap, stay under LAB_ROAM_MAX_GAP_MS (default 8000: a sanity
# bound for a loaded CI machine; issue 13's targets are 1000 ms for a cached
# network at 50 ms RTT and 3000 ms for a new one: LAB_ROAM_TARGETS=1
# enforces them).  tse-cli exits 0 on SIGTERM.
#
# Environment:
#   LAB_DELAY_MS=N        one-way delay on the UE-FW link (delay_wire.py);
#                         25 gives the targets' 50 ms RTT
#   LAB_RESULTS=F         append one TSV line per change: index network type
#                         ue_addr new|cached port via_proxy delay_ms
#                         cmd_to_rtp_ms max_gap_ms cmd_to_tunnel_up_ms
#                         rtp_lost change_ms (network change to command)
#   LAB_ROAM_PHASE_S=6    time on each network after the tunnel is back
#   LAB_ROAM_BYTES=6291456  size of the inner download
#   LAB_ROAM_PLAN="NAME:TYPE:UE_ADDR ..."  the changes (types 0 5 5b 6 7 8)
#   LAB_ROAM_MAX_GAP_MS=8000, LAB_ROAM_TARGETS=0|1
#   LAB_ROAM_DRY=1        harness self-check without the network-change
#                         interface: tse-cli without --port2/--control, each
#                         change a LAB_ROAM_DRY_OUTAGE_MS (1500) blackout of
#                         the same path; the RTP gap must be seen
#   LAB_ROAM_NETLINK=1    tse-cli --watch-network instead of --control: it
#                         notices the changes itself (rtnetlink); the times
#                         count from the change; direct networks only
#                         (default plan netC:5b:192.0.2.4 netA:0:192.0.2.2)
#   LAB_CLI_ARGS=..       more tse-cli options;  LAB_KEEP=1 keeps the logs
set -u
CLI=${1:?tse-cli}
SRV=${2:?tscf-server}
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=fwlab_lib.sh
. "$HERE/fwlab_lib.sh" # topology, rules_for, squid; tse_stop (test/lib/procs.sh)
PY=python3
DELAY=${LAB_DELAY_MS:-0}
PHASE=${LAB_ROAM_PHASE_S:-6}
BYTES=${LAB_ROAM_BYTES:-6291456}
LIMIT=${LAB_ROAM_MAX_GAP_MS:-8000}
PLAN=${LAB_ROAM_PLAN:-"netB:8:192.0.2.3 netC:5b:192.0.2.4 netA:0:192.0.2.2"}
FIRST=netA:0:192.0.2.2
DRY=${LAB_ROAM_DRY:-0}
NL=${LAB_ROAM_NETLINK:-0}
if [ "$NL" = 1 ]; then
    # rtnetlink cannot tell of a proxy: the direct networks only
    PLAN=${LAB_ROAM_PLAN:-"netC:5b:192.0.2.4 netA:0:192.0.2.2"}
    case " $PLAN " in *:8:*) echo "FAIL: roamlab: LAB_ROAM_NETLINK=1 with a proxy network"; exit 1 ;; esac
fi
WAIT_UP=${LAB_ROAM_WAIT_S:-20} # at most this long for the tunnel after a change

skip() { echo "SKIP: roamlab: $*"; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root (network namespaces, nftables); run it as root"
for p in ip nft squid openssl python3 ping ss timeout; do
    command -v "$p" >/dev/null 2>&1 || skip "$p not installed (.ci/install-deps)"
done
[ -c /dev/net/tun ] || skip "/dev/net/tun missing"
[ -x "$CLI" ] && [ -x "$SRV" ] || { echo "FAIL: roamlab: no $CLI or $SRV"; exit 1; }
ip netns add rl-probe-$$ 2>/dev/null || skip "cannot create network namespaces here"
ip netns del rl-probe-$$

UE=rl-ue-$$
FW=rl-fw-$$
NET=rl-net-$$
D=$(mktemp -d /tmp/roamlab.XXXXXX)
chmod 755 "$D"
NETPIDS=""   # NET's servers (fwlab_lib.sh)
TYPEPIDS=""  # squid, the delay wire (fwlab_lib.sh)
APPPIDS=""   # the traffic
CLIPID=""
STAMPPID=""
RC=1

log() { echo "roamlab: $*"; }
fail() { echo "FAIL: roamlab: $*"; exit 1; }
now_ns() { date +%s%N; }

cleanup() {
    kill_list "$APPPIDS"
    [ -n "$CLIPID" ] && kill_list "$CLIPID"
    [ -n "$STAMPPID" ] && kill_list "$STAMPPID"
    topo_down
    kill_list "$NETPIDS"
    # whatever a helper left in our own namespaces (squid's children)
    for ns in "$UE" "$FW" "$NET"; do
        for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
    done
    ip netns del "$NET" 2>/dev/null
    if [ "$RC" != 0 ]; then
        for f in cli.err cli.json tscf.log fetch.err serve.err rtp-recv.err rtp-send.err squid-access.log wire.log; do
            [ -s "$D/$f" ] && { echo "--- $f"; tail -n 25 "$D/$f"; }
        done
    fi
    if [ "${LAB_KEEP:-0}" = 1 ]; then echo "roamlab: logs kept in $D"; else rm -rf "$D"; fi
}
trap 'RC=$?; cleanup' EXIT
trap 'exit 130' INT TERM

# wait_until SECONDS CMD...: CMD until it succeeds, on a clock deadline
wait_until() {
    local end=$(($(date +%s) + $1)) n=$(($1 * 20 + 20))
    shift
    while [ "$n" -gt 0 ] && [ "$(date +%s)" -le "$end" ]; do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.05
        n=$((n - 1))
    done
    "$@" >/dev/null 2>&1
}

cli_alive() { [ -n "$CLIPID" ] && tse_alive "$CLIPID"; }
# a tse-cli event printed at or after NS: has_event NS 'PATTERN'
has_event() { awk -v t="$1" -v p="$2" '$1 >= t && index($0, p) { f = 1 } END { exit !f }' "$D/cli.json.ts"; }
up_since() { has_event "$1" '"event":"tunnel_up"' || ! cli_alive; }
progress() { cat "$D/fetch.out.progress" 2>/dev/null || echo 0; }

# ---- the FW's ruleset for a network ----------------------------------------
# guard_rules ADDR PROXY BLACKOUT: only the UE's current address passes the
# FW (a moved UE's old connections die, as they do when a handset leaves a
# network, even where conntrack still knows them); without PROXY the proxy
# port is closed; BLACKOUT drops everything (LAB_ROAM_DRY).  The counters
# show which outer path the UE used on this network (read_counters).
guard_rules() {
    local noproxy="" blk=""
    [ "$2" = 1 ] || noproxy='iifname "fwin" tcp dport 3128 drop'
    [ "$3" = 1 ] && blk='iifname "fwin" drop
        oifname "fwin" drop'
    cat <<EOF
table ip roam {
    counter to443 { }
    counter to80 { }
    counter toproxy { }
    chain guard_fwd {
        type filter hook forward priority -10; policy accept;
        iifname "fwin" ip saddr != $1 drop
        oifname "fwin" ip daddr != $1 drop
        iifname "fwin" tcp dport 443 counter name "to443"
        iifname "fwin" tcp dport 80 counter name "to80"
        $blk
    }
    chain guard_in {
        type filter hook input priority -10; policy accept;
        iifname "fwin" ip saddr != $1 drop
        iifname "fwin" tcp dport 3128 counter name "toproxy"
        $noproxy
    }
    chain guard_out {
        type filter hook output priority -10; policy accept;
        oifname "fwin" ip daddr != $1 drop
    }
}
EOF
}

# apply_rules TYPE ADDR [BLACKOUT]: the whole ruleset, replaced atomically
apply_rules() {
    local f="$D/rules-$1-$2.nft" px=0
    [ "$1" = 8 ] && px=1
    { echo "flush ruleset"; rules_for "$1" && guard_rules "$2" "$px" "${3:-0}"; } >"$f" || return 1
    ip netns exec "$FW" nft -f "$f" || { echo "nft refused:"; cat "$f"; return 1; }
}

# move_ue OLD NEW: the UE's outer address changes (the new one first, so
# the default route stays; promote_secondaries keeps the new one when the
# old primary goes)
move_ue() {
    [ "$1" = "$2" ] && return 0
    ip -n "$UE" addr add "$2/24" dev ue0 || return 1
    ip -n "$UE" addr del "$1/24" dev ue0 || return 1
    ip -n "$UE" route replace default via 192.0.2.1 dev ue0 onlink
}

# read_counters: "443=N 80=N proxy=N", the UE's packets to each outer path
# since the ruleset was loaded (before the type's own rules drop any)
read_counters() {
    local c out=""
    for c in to443 to80 toproxy; do
        out="$out ${c#to}=$(ip netns exec "$FW" nft list counter ip roam "$c" 2>/dev/null |
            sed -n 's/.*packets \([0-9]*\).*/\1/p')"
    done
    echo "${out# }"
}
# used_path TYPE COUNTERS: the path the tunnel must have taken carried packets
used_path() {
    local want=443
    case $1 in 8) want=proxy ;; 5b) want=80 ;; esac
    case " $2 " in *" $want=0 "* | *" $want= "*) return 1 ;; esac
    return 0
}

expect_port() { case $1 in 5b) echo 80 ;; *) echo 443 ;; esac; }
expect_via() { case $1 in 8) echo 1 ;; *) echo 0 ;; esac; }

# send_cmd LINE: one command line into tse-cli's control FIFO (bounded:
# the write blocks while nobody reads)
send_cmd() {
    timeout 5 bash -c 'printf "%s\n" "$1" >"$2"' _ "$1" "$D/ctl"
}

# ---- NET, UE, FW ------------------------------------------------------------------
LAB_TSCF_LOG=info lab_net_up || fail "NET"
wait_for listening "$NET" t 203.0.113.10:443 || fail "tscf-server did not start"
wait_for listening "$NET" t 203.0.113.10:80 || fail "tscf-server :80"
wait_for ip -n "$NET" addr show dev tltun0 || fail "no TUN in NET"
wait_for sh -c "ip -n $NET -4 addr show dev tltun0 | grep -q 198.18.0.1/" || fail "no 198.18.0.1 on tltun0"

IFS=: read -r CUR_NAME CUR_TYPE CUR_ADDR <<EOF
$FIRST
EOF
topo_up "$CUR_ADDR" || fail "topology"
ip netns exec "$UE" sysctl -qw net.ipv4.conf.all.promote_secondaries=1 net.ipv4.conf.ue0.promote_secondaries=1
# type 0 does not NAT: NET routes the UE's network back (the NAT types do not need it)
ip -n "$NET" route add 192.0.2.0/24 via 198.51.100.1
apply_rules "$CUR_TYPE" "$CUR_ADDR" || fail "ruleset"
start_squid 0 || fail "squid"

# the lab's own check: each network of the plan lets through exactly its
# outer paths (TCP 443, TCP 80, a CONNECT through squid), so that a failure
# later is tse-cli's and not the lab's; then back to the first network
expect_paths() {
    case $1 in
    0|1|2|3|4|5|6) echo "443=1 80=1 proxy=0" ;;
    5b) echo "443=0 80=1 proxy=0" ;;
    7) echo "443=1 80=0 proxy=0" ;;
    8) echo "443=0 80=0 proxy=1" ;;
    *) echo "unknown type $1" ;;
    esac
}
prev=$CUR_ADDR
for step in $FIRST $PLAN $FIRST; do
    IFS=: read -r name type addr <<EOF
$step
EOF
    move_ue "$prev" "$addr" && apply_rules "$type" "$addr" || fail "$name: network set-up"
    prev=$addr
    got=$(ip netns exec "$UE" "$PY" "$HERE/roamlab.py" paths 192.0.2.1 3128 203.0.113.10 0.7 2>&1)
    [ "$got" = "$(expect_paths "$type")" ] ||
        fail "lab self-check: $name (type $type, UE $addr) lets through '$got', expected '$(expect_paths "$type")'"
done
apply_rules "$CUR_TYPE" "$CUR_ADDR" || fail "ruleset" # the counters from zero
log "lab self-check: $(echo $FIRST $PLAN | wc -w) networks, each lets through exactly its paths"
log "lab up: UE $CUR_ADDR, FW type $CUR_TYPE ($(describe "$CUR_TYPE")), one-way delay $DELAY ms"

# ---- the servers of the inner traffic (NET, at the TSCF's inner address) ---------
RATE=$((BYTES / (PHASE * ($(echo "$PLAN" | wc -w) + 1) + 4)))
ip netns exec "$NET" "$PY" "$HERE/roamlab.py" rtp-recv 198.18.0.1 40000 "$D/rtp-recv.ready" \
    "$D/rtp-recv.out" 400 2>"$D/rtp-recv.err" &
RTPRECV=$!
APPPIDS="$APPPIDS $RTPRECV"
ip netns exec "$NET" "$PY" "$HERE/roamlab.py" tcp-serve 198.18.0.1 5001 "$BYTES" 7 "$RATE" \
    "$D/serve.ready" "$D/serve.out" 400 2>"$D/serve.err" &
SERVE=$!
APPPIDS="$APPPIDS $SERVE"
wait_for test -s "$D/rtp-recv.ready" || fail "RTP receiver did not start"
wait_for test -s "$D/serve.ready" || fail "TCP server did not start"

# ---- tse-cli --tun ---------------------------------------------------------------
if [ "$DRY" = 1 ]; then
    set -- --server 203.0.113.10:443
elif [ "$NL" = 1 ]; then
    set -- --server 203.0.113.10:443 --port2 80 --watch-network
else
    set -- --server 203.0.113.10:443 --port2 80 --control "$D/ctl" --network "$CUR_NAME"
fi
mkfifo "$D/cli.pipe"
"$PY" "$HERE/roamlab.py" stamp "$D/cli.json" 600 <"$D/cli.pipe" &
STAMPPID=$!
# shellcheck disable=SC2086
ip netns exec "$UE" "$CLI" --tun tse0 "$@" --json --reconnect --no-proxy \
    --ca "$D/ca.pem" --sni tscf.test ${LAB_CLI_ARGS:-} >"$D/cli.pipe" 2>"$D/cli.err" &
CLIPID=$!
T_START=$(now_ns)
wait_until 30 up_since 0
cli_alive || { cat "$D/cli.err"; fail "tse-cli exited at start"; }
has_event 0 '"event":"tunnel_up"' || fail "no tunnel_up within 30 s"
grep '"event":"tunnel_up"' "$D/cli.json" | sed 's/^/    /'
log "tunnel up after $((($(now_ns) - T_START) / 1000000)) ms"

if [ "$DRY" != 1 ] && [ "$NL" != 1 ]; then
    wait_until 10 test -p "$D/ctl" || fail "tse-cli made no control FIFO $D/ctl"
fi
wait_until 15 ip netns exec "$UE" ping -n -c 1 -W 1 -I tse0 198.18.0.1 || fail "no ping through tse0"
if [ "$DRY" != 1 ] && [ "$NL" != 1 ]; then
    # a bad command is refused with an error event and changes nothing
    T=$(now_ns)
    send_cmd "network $CUR_NAME proxy" || fail "cannot write to the control FIFO"
    wait_until 5 has_event "$T" '"event":"error"' || fail "no error event for a bad command ('network $CUR_NAME proxy')"
    sleep 0.3
    has_event "$T" '"event":"network_changed"' && fail "tse-cli accepted 'network $CUR_NAME proxy'"
fi

# ---- the traffic -------------------------------------------------------------------
log "inner traffic: $BYTES bytes down at $RATE bytes/s; RTP 50/s up"
if [ "$DRY" = 1 ]; then
    echo "start $(now_ns) $DELAY dry 0" >"$D/timeline"
else
    echo "start $(now_ns) $DELAY $(expect_port "$CUR_TYPE") $(expect_via "$CUR_TYPE")" >"$D/timeline"
fi
ip netns exec "$UE" "$PY" "$HERE/roamlab.py" rtp-send 198.18.0.1 40000 50 172 "$D/rtp-send.out" 400 \
    2>"$D/rtp-send.err" &
RTPSEND=$!
APPPIDS="$APPPIDS $RTPSEND"
ip netns exec "$UE" "$PY" "$HERE/roamlab.py" tcp-fetch 198.18.0.1 5001 "$BYTES" 7 "$D/fetch.out" 300 \
    2>"$D/fetch.err" &
FETCH=$!
APPPIDS="$APPPIDS $FETCH"
wait_until 15 sh -c "[ \$(cat $D/fetch.out.progress 2>/dev/null || echo 0) -gt 0 ]" || fail "the download did not start"
sleep "$PHASE"

# ---- the changes -------------------------------------------------------------------
SEEN=" $CUR_NAME "
HAS_PROXY=0
PREV=0 # the download's bytes at the previous change
i=0
for step in $PLAN; do
    i=$((i + 1))
    IFS=: read -r name type addr <<EOF
$step
EOF
    [ -n "$name" ] && [ -n "$type" ] && [ -n "$addr" ] || fail "bad LAB_ROAM_PLAN step '$step'"
    case " $SEEN " in *" $name "*) kind=cached ;; *) kind=new ;; esac
    SEEN="$SEEN $name "
    B=$(progress)
    echo "progress $i $PREV $B" >>"$D/timeline" # it moved on the previous path
    PREV=$B
    C=$(read_counters)
    echo "paths $((i - 1)) $CUR_TYPE $C" >>"$D/timeline"
    if [ "$DRY" = 1 ]; then
        T_NET=$(now_ns)
        apply_rules "$CUR_TYPE" "$CUR_ADDR" 1 || fail "ruleset"
        sleep "$(echo "${LAB_ROAM_DRY_OUTAGE_MS:-1500}" | awk '{ print $1 / 1000 }')"
        apply_rules "$CUR_TYPE" "$CUR_ADDR" 0 || fail "ruleset"
        T_CMD=$(now_ns)
        echo "change $i dry $CUR_TYPE $CUR_ADDR $kind dry 0 $T_NET $T_CMD" >>"$D/timeline"
        log "change $i: ${LAB_ROAM_DRY_OUTAGE_MS:-1500} ms blackout (dry run)"
    elif [ "$NL" = 1 ]; then
        # tse-cli finds out by itself (rtnetlink): the figures count from
        # the change, when the new network's FW cut the old path; then the
        # UE joins it
        apply_rules "$type" "$addr" || fail "change $i: ruleset"
        T_NET=$(now_ns)
        move_ue "$CUR_ADDR" "$addr" || fail "change $i: UE address $addr"
        T_CMD=$T_NET
        echo "change $i @$name $type $addr $kind $(expect_port "$type") $(expect_via "$type") $T_NET $T_CMD" \
            >>"$D/timeline"
        log "change $i: $name ($kind), type $type ($(describe "$type")), UE $addr (tse-cli --watch-network)"
    else
        if [ "$type" = 8 ]; then
            cmd="network $name proxy 192.0.2.1:3128"
            HAS_PROXY=1
        elif [ "$HAS_PROXY" = 0 ]; then
            cmd="network $name" # the proxy setting kept: none
        else
            cmd="network $name direct"
            HAS_PROXY=0
        fi
        T_NET=$(now_ns)
        move_ue "$CUR_ADDR" "$addr" || fail "change $i: UE address $addr"
        apply_rules "$type" "$addr" || fail "change $i: ruleset"
        T_CMD=$(now_ns)
        send_cmd "$cmd" || fail "change $i: cannot write to the control FIFO"
        echo "change $i $name $type $addr $kind $(expect_port "$type") $(expect_via "$type") $T_NET $T_CMD" \
            >>"$D/timeline"
        log "change $i: $name ($kind), type $type ($(describe "$type")), UE $addr: '$cmd'"
    fi
    if [ "$DRY" != 1 ]; then
        CUR_TYPE=$type CUR_ADDR=$addr
        wait_until "$WAIT_UP" up_since "$T_CMD"
        cli_alive || fail "change $i: tse-cli exited"
        has_event "$T_CMD" '"event":"tunnel_up"' || fail "change $i: the tunnel did not come back within $WAIT_UP s"
        awk -v t="$T_CMD" '$1 >= t { $1 = ""; print "   " $0 }' "$D/cli.json.ts"
    fi
    sleep "$PHASE"
done

# ---- the end: the download completes, the stream stops ----------------------------
# the rest takes about LAB_ROAM_PHASE_S + 4 s at RATE; the bound leaves room
tse_wait_exit "$FETCH" $((BYTES / RATE + 30)) || fail "the download did not finish"
echo "paths $i $CUR_TYPE $(read_counters)" >>"$D/timeline"
FETCH_RC=$TSE_RC
APPPIDS=$(echo " $APPPIDS " | sed "s/ $FETCH / /")
sleep 1
kill_list "$RTPSEND"
sleep 1
echo "end $(now_ns)" >>"$D/timeline"
kill_list "$RTPRECV"
tse_wait_exit "$SERVE" 10
kill -TERM "$CLIPID"
tse_wait_exit "$CLIPID" 15 || fail "tse-cli did not exit within 15 s of SIGTERM"
CLI_RC=$TSE_RC
CLIPID=""
tse_wait_exit "$STAMPPID" 5
STAMPPID=""

FAILS=0
bad() { echo "FAIL: roamlab: $*"; FAILS=$((FAILS + 1)); }
read -r fbytes fsha fwant _ <"$D/fetch.out" 2>/dev/null || bad "no download result"
read -r sbytes ssha <"$D/serve.out" 2>/dev/null || bad "no sender result"
log "download: $fbytes of $BYTES bytes, sha256 ${fsha:-?}, expected ${fwant:-?}, sender's ${ssha:-?}"
[ "$FETCH_RC" = 0 ] && [ "${fbytes:-0}" = "$BYTES" ] && [ "${fsha:-x}" = "${fwant:-y}" ] &&
    [ "${ssha:-z}" = "$fwant" ] && [ "${sbytes:-0}" = "$BYTES" ] ||
    bad "the inner download is not byte-identical (exit $FETCH_RC)"
# it moved during every phase (over every path) and spanned the last change
awk '$1 == "progress" && !($4 > $3) { print "progress " $2 ": " $3 " -> " $4; bad = 1 } END { exit bad }' \
    "$D/timeline" || bad "the download stalled during a phase (bytes at the change -> at the next)"
[ "$PREV" -lt "$BYTES" ] || bad "the download finished before the last change (raise LAB_ROAM_BYTES)"
[ "$CLI_RC" = 0 ] || bad "tse-cli exited $CLI_RC after SIGTERM"
# the FW saw the tunnel on each network's path (packets to 443, 80, squid)
while read -r what k t c; do
    [ "$what" = paths ] || continue
    log "phase $k (type $t): the UE's packets to $c"
    used_path "$t" "$c" || bad "phase $k (type $t): the FW saw no packets on the expected path ($c)"
done <"$D/timeline"
if [ "$DRY" != 1 ]; then
    n=$(grep -c ' resumed ' "$D/tscf.log")
    [ "$n" -ge "$i" ] || bad "the TSCF logged $n resumes for $i changes"
fi
"$PY" "$HERE/roamlab.py" analyze "$D/timeline" "$D/cli.json.ts" "$D/rtp-recv.out" "$D/rtp-send.out" \
    "$LIMIT" "${LAB_ROAM_TARGETS:-0}" ${LAB_RESULTS:+"$LAB_RESULTS"} >"$D/analysis"
[ $? = 0 ] || FAILS=$((FAILS + 1))
cat "$D/analysis"
if [ "$DRY" = 1 ]; then
    # the self-check: every blackout shows as a gap at least that long
    awk -v o="${LAB_ROAM_DRY_OUTAGE_MS:-1500}" '$1 == "roamlab:" && $2 ~ /^[0-9]+$/ {
        n++; if ($11 < o * 0.95) { print "gap " $11 " ms < blackout " o " ms"; b = 1 } }
        END { exit b || n == 0 }' "$D/analysis" || bad "the dry run's blackouts were not measured"
fi
FIG=$(sed -n 's/^roamlab: summary //p' "$D/analysis")
[ "$FAILS" = 0 ] || fail "$FAILS check(s) failed; ${FIG:-no figures}"
if [ "$DRY" = 1 ]; then
    log "PASS (dry run): $i blackouts measured, download byte-identical; $FIG"
else
    log "PASS: $i changes, the tunnel resumed on each path, the inner address kept, download byte-identical; $FIG"
fi
exit 0
