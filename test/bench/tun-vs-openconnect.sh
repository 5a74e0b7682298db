#!/bin/sh
# tun-vs-openconnect.sh [--quick] [--reps N] [--clients "tse oc"] [--out FILE]
#                       [--cli TSE_CLI] [--server TSCF_SERVER] BUILD_DIR
#
# libtse's TUN client (tse-cli --tun + tscf-server --tun) against
# OpenConnect + ocserv (AnyConnect protocol, TLS over TCP only: ocserv has
# no udp-port, openconnect runs with --no-dtls), on the same lab, in the
# same run, alternating, medians over the repetitions (docs/bench-tun.md):
#
#   netns UE  198.51.100.2 --veth--------------------- 198.51.100.1  netns CORE
#             203.0.113.2  --delay wire (25 ms each way, 203.0.113.1  iperf3 -s, voice receiver
#                            1% random loss each way)               tscf-server --tun tscf0 (198.18.0.1)
#   tse-cli --tun tse0  (198.18.0.x)                                or ocserv (vpns0 198.18.1.1)
#   openconnect, oc0    (198.18.1.x)
#
# Per repetition and client, one session over the clean veth:
#   set-up time (client start -> inner IPv4 address on its interface);
#   iperf3 TCP up and down; iperf3 -u -l 172 at 1 Gbit/s offered (the
#   receiver's packets/s); ping -s 172 (50/s) and a 50 pps 172-byte RTP-like
#   stream (tunbench.py voice-send/-recv: RFC 3550 jitter, loss, one-way
#   delay), idle and beside one bulk iperf3 TCP upload in the same tunnel
#   (and that upload's own Mbit/s); then the client's peak RSS (VmHWM) and
#   CPU seconds for the session.
# Then one session per client over the delay wire (test/lab/delay_wire.py,
# user space because this kernel has no sch_netem; nftables
# `numgen random mod 100 < 1 drop` on the wire in both directions): the
# same ping/RTP figures beside a bulk upload.
#
# --quick: 1 repetition of 2-4 s measurements, and exit 1 unless every
# figure was produced for every client (the ctest smoke test
# bench_tun_vs_openconnect_quick).  Full run: 5 repetitions (--reps),
# about 25 minutes.  Exit 77 when something it needs is missing (root,
# iproute2, nft, python3, iperf3, ping, /dev/net/tun; openconnect and
# ocserv for "oc"; a tse-cli with --tun for "tse").  Both namespaces and
# every process are removed on exit; every wait is bounded.
#
# Environment: BENCH_QDISC, BENCH_TXQLEN (unset: the kernel's default qdisc
# and ring length on the TUN devices of both sides), BENCH_MTU (1400; the inner MTU of both tunnels),
# BENCH_DELAY_MS (25, one way), BENCH_LOSS_PCT (1, each way).
set -u
QUICK=0 REPS="" CLIENTS="tse oc" OUT="" CLI="" SERVER=""
while [ $# -gt 1 ]; do
    case $1 in
    --cli) CLI=$2; shift 2 ;;
    --server) SERVER=$2; shift 2 ;;
    --quick) QUICK=1; shift ;;
    --reps) REPS=$2; shift 2 ;;
    --clients) CLIENTS=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    *) break ;;
    esac
done
[ $# = 1 ] || { echo "usage: tun-vs-openconnect.sh [--quick] [--reps N] [--clients \"tse oc\"] [--out FILE] [--cli PATH] [--server PATH] BUILD_DIR"; exit 2; }
B=$1
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
TB="$HERE/tunbench.py"
CLI=${CLI:-$B/examples/cli/tse-cli}
SERVER=${SERVER:-$B/examples/tscf-server/tscf-server}
MTU=${BENCH_MTU:-1400}
DELAY_MS=${BENCH_DELAY_MS:-25}
LOSS_PCT=${BENCH_LOSS_PCT:-1}
if [ $QUICK = 1 ]; then
    T_TCP=2 T_UDP=2 T_VOICE=3 T_IMP=4 REPS=${REPS:-1}
else
    T_TCP=10 T_UDP=10 T_VOICE=15 T_IMP=20 REPS=${REPS:-5}
fi

skip() { echo "SKIP: $*"; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root (network namespaces, TUN)"
for t in ip nft python3 iperf3 ping ss timeout; do
    command -v $t >/dev/null 2>&1 || skip "no $t"
done
[ -c /dev/net/tun ] || skip "no /dev/net/tun"
for c in $CLIENTS; do
    case $c in
    tse)
        [ -x "$CLI" ] && [ -x "$SERVER" ] || { echo "missing $CLI or $SERVER (build first)"; exit 2; }
        "$CLI" --help 2>&1 | grep -qE -- '--tun([ =]|$)' || skip "this tse-cli has no --tun"
        ;;
    oc)
        command -v openconnect >/dev/null 2>&1 && command -v ocserv >/dev/null 2>&1 ||
            skip "no openconnect/ocserv (apt-get install openconnect ocserv)"
        ;;
    *) echo "unknown client $c (tse, oc)"; exit 2 ;;
    esac
done

UE=tse-bue-$$ CORE=tse-bcore-$$
ip netns add "$UE" 2>/dev/null || skip "cannot create network namespaces"
ip netns add "$CORE" || { ip netns del "$UE"; skip "cannot create network namespaces"; }
D=$(mktemp -d /tmp/tse-tunbench.XXXXXX)
RES=$D/results
: >"$RES"
BG=""
cleanup() {
    rc=$?
    BG="$BG ${CLPID:-} ${SRVPID:-}"
    for p in $BG; do kill "$p" 2>/dev/null; done
    n=50
    while [ $n -gt 0 ]; do
        alive=""
        for p in $BG; do kill -0 "$p" 2>/dev/null && alive=1; done
        [ -z "$alive" ] && break
        sleep 0.1; n=$((n - 1))
    done
    for ns in "$UE" "$CORE"; do
        for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
    done
    for p in $BG; do kill -9 "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    for ns in "$UE" "$CORE"; do ip netns del "$ns" 2>/dev/null; done
    if [ $rc != 0 ] && [ $rc != 77 ]; then
        for f in "$D"/*.log; do [ -f "$f" ] && { echo "--- $f"; tail -n 30 "$f"; }; done
    fi
    if [ -n "${KEEP:-}" ]; then echo "kept $D"; else rm -rf "$D"; fi
    exit $rc
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

fail() { echo "FAIL: $*"; exit 1; }
log() { echo "[$(date -u +%H:%M:%S)] $*"; }
# wait_for SECONDS COMMAND...: poll every 0.05 s
# (sh has no local variables: helpers use names starting with _)
wait_for() {
    _wn=$(($1 * 20)); shift
    while [ $_wn -gt 0 ]; do "$@" && return 0; sleep 0.05; _wn=$((_wn - 1)); done
    return 1
}
# stop PID [SECONDS]: SIGTERM, bounded wait, SIGKILL; returns the exit status
stop() {
    kill "$1" 2>/dev/null
    wait_for "${2:-10}" sh -c "! kill -0 $1 2>/dev/null" || kill -9 "$1" 2>/dev/null
    wait "$1" 2>/dev/null
}
# reap PID SECONDS: wait for a process that ends by itself, SIGKILL after SECONDS
reap() {
    wait_for "$2" sh -c "! kill -0 $1 2>/dev/null" || { kill -9 "$1" 2>/dev/null; echo "(killed $1 after $2 s)"; }
    wait "$1" 2>/dev/null
}
# (background processes are started with a plain `ip netns exec`, never
# through these functions, so that $! is the process itself: ip execs it)
UEX() { ip netns exec "$UE" "$@"; }
COREX() { ip netns exec "$CORE" "$@"; }
put() { echo "$REP $C $1 $2" >>"$RES"; }

# ---- the lab ------------------------------------------------------------------
log "machine: $(nproc) CPUs ($(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -n 1)), kernel $(uname -r), TCP congestion control $(ip netns exec "$UE" sysctl -n net.ipv4.tcp_congestion_control)"
log "clients: $CLIENTS; $REPS repetition(s); TCP ${T_TCP} s, UDP ${T_UDP} s, voice ${T_VOICE} s, impaired ${T_IMP} s; MTU $MTU"
ip -n "$UE" link set lo up && ip -n "$CORE" link set lo up || fail "lo"
ip link add veue netns "$UE" type veth peer name vecore netns "$CORE" || fail "veth"
ip -n "$UE" addr add 198.51.100.2/24 dev veue && ip -n "$UE" link set veue up &&
ip -n "$CORE" addr add 198.51.100.1/24 dev vecore && ip -n "$CORE" link set vecore up || fail "veth addresses"
# the impaired path: a user-space wire with a fixed delay, random loss by nftables
python3 "$ROOT/test/lab/delay_wire.py" "$UE" dwue "$CORE" dwcore "$DELAY_MS" "$D/wire.ready" 7200 \
    2>"$D/wire.log" &
BG="$BG $!"
wait_for 10 test -f "$D/wire.ready" || fail "delay wire did not start"
ip -n "$UE" addr add 203.0.113.2/24 dev dwue && ip -n "$UE" link set dwue up &&
ip -n "$CORE" addr add 203.0.113.1/24 dev dwcore && ip -n "$CORE" link set dwcore up || fail "wire addresses"
UEX nft -f - <<EOF || fail "nft loss rules"
table inet tunbench_loss {
    chain out {
        type filter hook output priority 0;
        oifname "dwue" numgen random mod 100 < $LOSS_PCT counter drop
    }
    chain in {
        type filter hook input priority 0;
        iifname "dwue" numgen random mod 100 < $LOSS_PCT counter drop
    }
}
EOF

sh "$ROOT/test/e2e/gen_certs.sh" "$D" || fail "certificates"
# ocserv: password login from its own file, TCP (CSTP) only
echo "bench:*:$(openssl passwd -6 -salt tunbench benchpass)" >"$D/ocpasswd"
echo benchpass >"$D/ocpass"
# its workers run as nobody and must reach the sec-mod socket
mkdir -p "$D/ocrun" && chmod 711 "$D" && chmod 755 "$D/ocrun"
cat >"$D/ocserv.conf" <<EOF
auth = "plain[passwd=$D/ocpasswd]"
tcp-port = 443
run-as-user = nobody
run-as-group = nogroup
socket-file = $D/ocrun/ocserv.sock
pid-file = $D/ocserv.pid
server-cert = $D/server.pem
server-key = $D/server.key
isolate-workers = false
max-clients = 16
max-same-clients = 0
keepalive = 300
dpd = 90
mobile-dpd = 1800
try-mtu-discovery = false
mtu = $MTU
tls-priorities = "NORMAL:%SERVER_PRECEDENCE"
auth-timeout = 240
min-reauth-time = 1
max-ban-score = 0
cookie-timeout = 300
deny-roaming = false
rekey-time = 172800
rekey-method = ssl
use-occtl = false
device = vpns
predictable-ips = true
ipv4-network = 198.18.1.0
ipv4-netmask = 255.255.255.0
ping-leases = false
cisco-client-compat = false
dtls-legacy = false
EOF
# openconnect's --script: only the interface, address and route (no
# vpnc-script: it would rewrite the machine's resolv.conf)
cat >"$D/oc-script.sh" <<'EOF'
#!/bin/sh
if [ "$reason" = connect ]; then
    ip link set dev "$TUNDEV" up mtu "${INTERNAL_IP4_MTU:-1400}"
    ip addr add "$INTERNAL_IP4_ADDRESS/32" dev "$TUNDEV"
    ip route add 198.18.1.0/24 dev "$TUNDEV"
fi
exit 0
EOF
chmod 755 "$D/oc-script.sh"

ip netns exec "$CORE" iperf3 -s -p 5201 >"$D/iperf_5201.log" 2>&1 &
BG="$BG $!"
ip netns exec "$CORE" iperf3 -s -p 5202 >"$D/iperf_5202.log" 2>&1 &
BG="$BG $!"
wait_for 10 sh -c "ip netns exec $CORE ss -ltn | grep -q ':5202 '" || fail "iperf3 servers"

# ---- servers and clients ---------------------------------------------------------
SRVPID="" CLPID=""
server_start() { # CLIENT
    case $1 in
    tse)
        rm -f "$D/ready"
        ip netns exec "$CORE" "$SERVER" --listen 198.51.100.1:443 --listen 203.0.113.1:443 --cert "$D/server.pem" \
            --key "$D/server.key" --tun tscf0 --ready-file "$D/ready" --log-level warn \
            >>"$D/tscf-server.log" 2>&1 &
        SRVPID=$!
        wait_for 10 test -s "$D/ready" || fail "tscf-server did not start"
        wait_for 5 sh -c "ip -n $CORE -4 addr show dev tscf0 2>/dev/null | grep -q 198.18.0.1/24" ||
            fail "no 198.18.0.1 on tscf0"
        ;;
    oc)
        ip netns exec "$CORE" ocserv -f -c "$D/ocserv.conf" >>"$D/ocserv.log" 2>&1 &
        SRVPID=$!
        wait_for 10 sh -c "ip netns exec $CORE ss -ltn | grep -q ':443 '" || fail "ocserv did not start"
        ;;
    esac
    sleep 1 # both servers finish their start-up (ocserv's sec-mod loads the key)
}
server_stop() {
    [ -n "$SRVPID" ] && stop "$SRVPID" 10
    SRVPID=""
    # ocserv's sec-mod and workers (by process name, only in our namespace)
    for p in $(ip netns pids "$CORE" 2>/dev/null); do
        case $(cat /proc/$p/comm 2>/dev/null) in ocserv*) kill -9 "$p" 2>/dev/null ;; esac
    done
    wait_for 5 sh -c "! ip netns exec $CORE ss -ltn | grep -q ':443 '" || true
}
# client_start CLIENT OUTER_IP: sets CLPID, IFN, TARGET; records setup_ms
client_start() {
    case $1 in
    tse) IFN=tse0 TARGET=198.18.0.1 PFX=198.18.0. ;;
    oc) IFN=oc0 TARGET=198.18.1.1 PFX=198.18.1. ;;
    esac
    # the watcher runs before the client starts (python's start-up is not set-up time)
    rm -f "$D/watch.ready" "$D/watch.pid" "$D/watch.out"
    ip netns exec "$UE" python3 "$TB" wait-addr $IFN $PFX 30 "$D/watch.ready" "$D/watch.pid" \
        >"$D/watch.out" 2>>"$D/watch.log" &
    WP=$!
    wait_for 10 test -f "$D/watch.ready" || fail "address watcher"
    t0=$(date +%s.%N)
    case $1 in
    tse)
        ip netns exec "$UE" "$CLI" --server "$2:443" --ca "$D/ca.pem" --sni tscf.test --json --tun $IFN --mtu "$MTU" \
            >>"$D/tse-cli.log" 2>&1 &
        ;;
    oc)
        ip netns exec "$UE" openconnect --protocol=anyconnect --user=bench --passwd-on-stdin --non-inter \
            --no-dtls --disable-ipv6 --cafile "$D/ca.pem" --resolve "tscf.test:$2" \
            --script "$D/oc-script.sh" --interface $IFN "https://tscf.test:443/" <"$D/ocpass" >>"$D/openconnect.log" 2>&1 &
        ;;
    esac
    CLPID=$!
    echo $CLPID >"$D/watch.pid"
    reap $WP 35
    [ -s "$D/watch.out" ] || { stop "$CLPID" 5; fail "$1: no inner address in 30 s"; }
    ms=$(python3 -c "print('%.1f' % (($(cat "$D/watch.out") - $t0) * 1000))")
    # usable: the far end answers
    wait_for 10 sh -c "ip netns exec $UE ping -n -c 1 -W 1 $TARGET >/dev/null 2>&1" ||
        { stop "$CLPID" 5; fail "$1: $TARGET does not answer through the tunnel"; }
    SETUP_MS=$ms
    # BENCH_QDISC (e.g. "pfifo limit 32"; this kernel has no fq_codel): the
    # root qdisc of the client's TUN and of every TUN device on the server
    # side, instead of the kernel's default (pfifo_fast here); BENCH_TXQLEN
    # (e.g. 32): their txqueuelen (the qdisc's and the TUN driver's ring),
    # instead of 500; BENCH_TXQLEN_SIDE (ue, core, both: the default) where
    # these apply
    for dev in $IFN $(ip -n "$CORE" -o link show type tun | awk -F': ' '{print $2}' | cut -d@ -f1); do
        ns=$CORE
        [ "$dev" = "$IFN" ] && ns=$UE
        case ${BENCH_TXQLEN_SIDE:-both} in
        ue) [ "$ns" = "$UE" ] || continue ;;
        core) [ "$ns" = "$CORE" ] || continue ;;
        esac
        if [ -n "${BENCH_TXQLEN:-}" ]; then
            ip -n "$ns" link set dev "$dev" txqueuelen "$BENCH_TXQLEN" || fail "txqueuelen on $dev"
        fi
        if [ -n "${BENCH_QDISC:-}" ]; then
            tc -n "$ns" qdisc replace dev "$dev" root $BENCH_QDISC || fail "tc qdisc on $dev"
        fi
    done
}
client_stop() {
    stop "$CLPID" 10
    CLPID=""
    wait_for 5 sh -c "! ip -n $UE link show $IFN >/dev/null 2>&1" || true
}

# ---- measurements -------------------------------------------------------------------
# settle: wait (at most 15 s) until the tunnel is idle again, i.e. three
# pings in a row come back within 5 ms: a flood leaves seconds of packets
# queued in the outer TCP connection's buffers
settle() {
    _sk=0
    while [ $_sk -lt 15 ]; do
        _mx=$(ip netns exec "$UE" ping -n -q -c 3 -i 0.2 -W 1 $TARGET 2>/dev/null |
             sed -n 's|^rtt [^=]*= [0-9.]*/[0-9.]*/\([0-9.]*\)/.*|\1|p')
        [ -n "$_mx" ] && [ "$(python3 -c "print(1 if $_mx < 5 else 0)")" = 1 ] && return 0
        sleep 0.4; _sk=$((_sk + 1))
    done
    echo "    (the tunnel did not become idle within 15 s)"
}
# iperf3 in the UE against CORE's server on port 5201
m_tcp() { # FIGURE up|down
    r=""; [ "$2" = down ] && r=-R
    UEX timeout $((T_TCP + 20)) iperf3 -c $TARGET -p 5201 -t $T_TCP -O 1 $r -J >"$D/iperf.json" 2>>"$D/iperf.log"
    v=$(python3 "$TB" iperf tcp "$D/iperf.json" 2>>"$D/iperf.log") && put "$1" "$v"
    echo "    $1 ${v:-?} Mbit/s"
}
m_udp() {
    UEX timeout $((T_UDP + 20)) iperf3 -c $TARGET -p 5201 -t $T_UDP -u -l 172 -b 1G -J \
        >"$D/iperf.json" 2>>"$D/iperf.log"
    v=$(python3 "$TB" iperf udp "$D/iperf.json" 2>>"$D/iperf.log") && put udp172_pps "$v"
    echo "    udp172_pps ${v:-?}"
}
# m_voice PREFIX SECONDS BULK: ping -s 172 at 50/s and the 50 pps RTP-like
# stream together, with or without one bulk TCP upload in the same tunnel
m_voice() {
    pre=$1 secs=$2 bulk=$3
    vn=$((secs * 50))
    rm -f "$D/voice.ready" "$D/voice.out"
    ip netns exec "$CORE" python3 "$TB" voice-recv 40000 $vn $((secs + 10)) "$D/voice.ready" "$D/voice.out" 2>>"$D/voice.log" &
    VR=$!
    wait_for 5 test -f "$D/voice.ready" || fail "voice receiver"
    BP=""
    if [ "$bulk" = 1 ]; then
        ip netns exec "$UE" timeout $((secs + 30)) iperf3 -c $TARGET -p 5202 -t $((secs + 4)) -J >"$D/bulk.json" 2>>"$D/iperf.log" &
        BP=$!
        sleep 2 # let it fill the path
    fi
    ip netns exec "$UE" timeout $((secs + 15)) ping -n -s 172 -i 0.02 -c $vn -W 5 $TARGET >"$D/ping.txt" 2>&1 &
    PP=$!
    UEX python3 "$TB" voice-send $TARGET 40000 50 $vn 172
    reap $PP 20
    reap $VR $((secs + 15))
    [ -n "$BP" ] && reap $BP $((secs + 30))
    if s=$(python3 "$TB" ping-stats "$D/ping.txt"); then
        set -- $s
        if [ "$pre" = imp ]; then put imp_ping_med $1; put imp_ping_p99 $2; put imp_ping_loss $3
        else put ping_${pre}_med $1; put ping_${pre}_p99 $2; put ping_${pre}_loss $3; fi
        echo "    ping $pre: median $1 ms, p99 $2 ms, loss $3 %"
    else
        echo "    ping $pre: no replies"
    fi
    if [ -s "$D/voice.out" ]; then
        read -r v_rx v_lost v_jit v_med v_p99 <"$D/voice.out"
        loss=$(python3 -c "print('%.2f' % (100.0 * $v_lost / $vn))")
        case $pre in
        imp) put imp_rtp_jitter "$v_jit"; put imp_rtp_loss "$loss"; put imp_rtp_owd_p99 "$v_p99" ;;
        *) put "rtp_${pre}_jitter" "$v_jit"; put "rtp_${pre}_loss" "$loss"
           [ "$pre" = bulk ] && { put rtp_bulk_owd_med "$v_med"; put rtp_bulk_owd_p99 "$v_p99"; } ;;
        esac
        echo "    rtp $pre: $v_rx received, loss $loss %, jitter $v_jit ms, one-way median $v_med ms p99 $v_p99 ms"
    else
        echo "    rtp $pre: no result"
    fi
    if [ -n "$BP" ]; then
        v=$(python3 "$TB" iperf tcp "$D/bulk.json" 2>>"$D/iperf.log") &&
            { if [ "$pre" = imp ]; then put imp_bulk "$v"; else put bulk_with_voice "$v"; fi; }
        echo "    bulk beside voice: ${v:-?} Mbit/s"
    fi
}

session_clean() { # CLIENT
    C=$1
    log "rep $REP: $C over the veth"
    server_start $C
    client_start $C 198.51.100.1
    put setup_ms "$SETUP_MS"
    echo "    setup_ms $SETUP_MS"
    settle; m_voice idle $T_VOICE 0
    settle; m_tcp tcp_up up
    settle; m_tcp tcp_down down
    settle; m_udp
    settle; m_voice bulk $T_VOICE 1
    if s=$(python3 "$TB" proc "$CLPID"); then
        set -- $s
        put rss_mib $1; put cpu_s $2
        echo "    peak RSS $1 MiB, CPU $2 s"
    fi
    client_stop
    server_stop
}
lossdrops() { # packets dropped so far by the loss rules (both directions)
    ip netns exec "$UE" nft list table inet tunbench_loss | sed -n 's/.*counter packets \([0-9]*\).*/\1/p' |
        awk '{ s += $1 } END { print s + 0 }'
}
session_impaired() { # CLIENT
    C=$1
    log "rep $REP: $C over the delay wire (${DELAY_MS} ms each way, ${LOSS_PCT}% loss each way)"
    server_start $C
    client_start $C 203.0.113.1
    _d0=$(lossdrops)
    m_voice imp $T_IMP 1
    echo "    the wire dropped $(($(lossdrops) - _d0)) packets"
    client_stop
    server_stop
}

REP=1
while [ $REP -le "$REPS" ]; do
    # alternate the order: odd repetitions as given, even ones reversed
    order=$CLIENTS
    [ $((REP % 2)) = 0 ] && order=$(echo $CLIENTS | awk '{for (i = NF; i > 0; i--) printf "%s ", $i}')
    for c in $order; do session_clean $c; done
    for c in $order; do session_impaired $c; done
    REP=$((REP + 1))
done

echo
ver_oc=$(openconnect --version 2>/dev/null | sed -n 's/^OpenConnect version //p' | head -n 1)
ver_ocs=$(ocserv --version 2>&1 | grep -m 1 ocserv)
echo "OpenConnect ${ver_oc:-?} / ${ver_ocs:-ocserv ?}; inner MTU $MTU; impaired path ${DELAY_MS} ms + ${LOSS_PCT}% loss each way"
req=""
[ $QUICK = 1 ] && req="--require $CLIENTS"
if [ -n "$OUT" ]; then
    python3 "$TB" table "$RES" $req --out "$OUT"
else
    python3 "$TB" table "$RES" $req
fi
