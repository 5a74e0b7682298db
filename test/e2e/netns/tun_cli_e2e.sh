#!/bin/sh
# tun_cli_e2e.sh SCENARIO TSE_CLI TSCF_SERVER GEN_CERTS
#
# tse-cli --tun: the tunnel as a Linux TUN interface in the UE namespace,
# used by unmodified kernel programs (ping, python UDP sockets, iperf3):
#
#   netns UE   198.51.100.2/24 --veth-- 198.51.100.1/24  netns CORE
#   tse-cli --tun tse0 (198.18.0.2) ==TLS==> tscf-server --tun tscf0 (198.18.0.1/24)
#
# SCENARIO:
#   traffic    ping 198.18.0.1 and (--ipv6) fd00:7473:6366::1 through tse0 (no
#              link-local address on it), 50 UDP datagrams to an echo,
#              iperf3 TCP up and down (3 s each); the --route prefixes and
#              the default route (0/1 + 128/1) are on tse0 and the TSCF has
#              its host route outside it; the JSON has tun_up; SIGTERM ->
#              exit 0, the interface and every route gone, the server
#              logged the client's release
#   priority   voice beside a bulk upload in the same tunnel (issue 9): an
#              8 s iperf3 TCP upload through tse0 and, from its 2nd second,
#              150 RTP-like 172-byte datagrams at 50/s marked EF
#              (test/bench/tunbench.py).  tse-cli's statistics at exit show
#              every voice datagram in the real-time class and none refused
#              or expired there, while the bulk class took the upload; the
#              far side got >= 95 % of the voice with a one-way p99 under
#              100 ms (a sanity bound for a loaded CI machine; the figures
#              themselves are the benchmark's, docs/bench-tun.md)
#   kill       SIGKILL of tse-cli: the interface and its routes are gone
#   deleted    the interface deleted under a running tse-cli (ip link del):
#              it releases the tunnel and exits 1 with a TUN error; the
#              TSCF host route of --route default is removed
#   reconnect  --reconnect through a relay (lab.py relay) that cuts the
#              outer connection: the interface stays (same index, same
#              address), the tunnel resumes, ping works again
#   kernel-ring  no tse-cli: what Linux's tun driver does when nobody reads
#              (the premise of the TUN reader's policy, tse_tun.h): 2000
#              non-blocking UDP sends into an unread TUN all succeed (no
#              EAGAIN, no qdisc backpressure), the device keeps at most
#              txqueuelen packets and counts the rest as tx_dropped
#   args       bad arguments exit 2 with a clear message: bad IFNAME, bad
#              prefix, host bits set, --mtu out of range, --route without
#              --tun; an interface name in use by a non-TUN device fails
#              with exit 1 and says so
#
# Exit 77 (ctest SKIP_RETURN_CODE) without root, ip netns, /dev/net/tun,
# python3, ping or (traffic) iperf3.  Everything started is stopped and
# both namespaces removed on exit; every wait is bounded.
set -u
SC=$1 CLI=$2 SERVER=$3 GEN=$4
HERE=$(cd "$(dirname "$0")" && pwd)

skip() { echo "SKIP: $*"; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root (network namespaces, TUN)"
command -v ip >/dev/null 2>&1 || skip "no ip (iproute2)"
[ -c /dev/net/tun ] || skip "no /dev/net/tun"
PY=$(command -v python3) || skip "no python3"
command -v ping >/dev/null 2>&1 || skip "no ping (apt-get install iputils-ping)"
{ [ $SC = traffic ] || [ $SC = priority ]; } && { command -v iperf3 >/dev/null 2>&1 || skip "no iperf3"; }
[ -x "$CLI" ] || { echo "no tse-cli $CLI"; exit 1; }

UE=tse-tue-$$ CORE=tse-tcore-$$
ip netns add "$UE" 2>/dev/null || skip "cannot create network namespaces (ip netns add)"
ip netns add "$CORE" || { ip netns del "$UE"; skip "cannot create network namespaces"; }
D=$(mktemp -d /tmp/tse-tun.XXXXXX)
BG=""
cleanup() {
    rc=$?
    for p in $BG; do kill "$p" 2>/dev/null; done
    for p in $BG; do
        n=50; while kill -0 "$p" 2>/dev/null && [ $n -gt 0 ]; do sleep 0.1; n=$((n - 1)); done
        kill -9 "$p" 2>/dev/null; wait "$p" 2>/dev/null
    done
    for ns in "$UE" "$CORE"; do
        for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
        ip netns del "$ns" 2>/dev/null
    done
    if [ $rc != 0 ] && [ $rc != 77 ]; then
        for f in "$D"/*.log "$D"/*.json; do [ -f "$f" ] && { echo "--- $f"; tail -n 40 "$f"; }; done
    fi
    rm -rf "$D"
    exit $rc
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

fail() { echo "FAIL: $*"; exit 1; }
wait_for() { # wait_for SECONDS COMMAND...: poll every 0.1 s
    n=$(($1 * 10)); shift
    while [ $n -gt 0 ]; do "$@" && return 0; sleep 0.1; n=$((n - 1)); done
    return 1
}
# wait_exit PID SECONDS: the exit status of PID, or fail after SECONDS
wait_exit() {
    n=$(($2 * 10))
    while kill -0 "$1" 2>/dev/null && [ $n -gt 0 ]; do sleep 0.1; n=$((n - 1)); done
    kill -0 "$1" 2>/dev/null && { kill -9 "$1"; wait "$1" 2>/dev/null; fail "pid $1 did not exit within $2 s"; }
    wait "$1"
}
drop_bg() { BG=$(echo " $BG " | sed "s/ $1 / /"); }
ue() { ip netns exec "$UE" "$@"; }
has_link() { ip -n "$UE" link show dev tse0 >/dev/null 2>&1; }
no_link() { ! has_link; }
routes() { ip -n "$UE" route show; }

# ---- the lab ------------------------------------------------------------------
ip -n "$UE" link set lo up && ip -n "$CORE" link set lo up || fail "lo"
ip link add veue netns "$UE" type veth peer name vecore netns "$CORE" || fail "veth"
ip -n "$UE" addr add 198.51.100.2/24 dev veue && ip -n "$UE" link set veue up &&
ip -n "$CORE" addr add 198.51.100.1/24 dev vecore && ip -n "$CORE" link set vecore up || fail "addresses"

if [ $SC = kernel-ring ]; then
    echo "kernel $(uname -r)"
    ue "$PY" - <<'EOF' || fail "kernel-ring"
import fcntl, json, os, socket, struct, subprocess, sys
TUNSETIFF, IFF_TUN, IFF_NO_PI = 0x400454CA, 0x0001, 0x1000
fd = os.open("/dev/net/tun", os.O_RDWR)
fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", b"tring0", IFF_TUN | IFF_NO_PI))
for c in (["ip", "addr", "add", "198.18.1.2/24", "dev", "tring0"],
          ["ip", "link", "set", "tring0", "up"]):
    subprocess.check_call(c)
def link():
    return json.loads(subprocess.check_output(["ip", "-s", "-j", "link", "show", "tring0"]))[0]
qlen = link()["txqlen"]
qdisc = subprocess.check_output(["tc", "qdisc", "show", "dev", "tring0"]).decode().strip() \
    if subprocess.call(["sh", "-c", "command -v tc >/dev/null"]) == 0 else "?"
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setblocking(False)
sent = again = 0
for i in range(2000):
    try:
        s.sendto(b"x" * 100, ("198.18.1.9", 9))
        sent += 1
    except BlockingIOError:
        again += 1
st = link()["stats64"]["tx"]
print("txqueuelen %d, qdisc %s: %d sent, %d EAGAIN; device tx_packets %d, tx_dropped %d"
      % (qlen, qdisc, sent, again, st["packets"], st["dropped"]))
ok = again == 0 and sent == 2000 and st["packets"] <= qlen + 50 and st["dropped"] >= sent - qlen - 50
sys.exit(0 if ok else 1)
EOF
    echo "PASS kernel-ring: tun drops at its ring instead of pushing back"
    exit 0
fi

if [ $SC = args ]; then
    bad() { # bad EXPECTED_STATUS GREP ARGS...
        want=$1 pat=$2; shift 2
        ue "$CLI" --server 198.51.100.1:443 --insecure-lab-only "$@" >"$D/args.out" 2>"$D/args.err"
        st=$?
        [ $st = "$want" ] || { cat "$D/args.err"; fail "$* -> exit $st, expected $want"; }
        grep -q -- "$pat" "$D/args.err" || { cat "$D/args.err"; fail "$*: message lacks '$pat'"; }
        echo "ok ($st): $* -> $(grep error "$D/args.err" | head -n 1)"
    }
    bad 2 "not a valid interface name" --tun "bad/name"
    bad 2 "not a valid interface name" --tun "waytoolonginterfacename"
    bad 2 "not a valid interface name" --tun ""
    bad 2 "expected default, default6 or ADDR/LEN" --tun tse0 --route 203.0.113.0/33
    bad 2 "expected default, default6 or ADDR/LEN" --tun tse0 --route 203.0.113.1/24
    bad 2 "expected default, default6 or ADDR/LEN" --tun tse0 --route nonsense
    bad 2 "expected a number from 576 to 2048" --tun tse0 --mtu 100
    bad 2 "expected a number from 576 to 2048" --tun tse0 --mtu 9000
    bad 2 "expected a number from 576 to 2048" --tun tse0 --mtu 1400x
    bad 2 "go with --tun" --route 203.0.113.0/24
    bad 2 "go with --tun" --mtu 1400
    bad 2 "one tunnel" --tun tse0 --tunnels 2
    bad 2 "use ping(8)" --tun tse0 --ping 198.18.0.1
    # a name taken by a device that is not a TUN: the kernel refuses it
    ip -n "$UE" link add tse0 type veth peer name tsep0 || fail "veth tse0"
    bad 1 "bad interface name or name in use" --tun tse0
    ip -n "$UE" link del tse0
    no_link || fail "tse0 left behind"
    echo "PASS args"
    exit 0
fi

sh "$GEN" "$D" >/dev/null 2>&1 || fail "certificates"
ip netns exec "$CORE" "$SERVER" --listen 198.51.100.1:443 --cert "$D/server.pem" --key "$D/server.key" \
    --tun tscf0 --pool6 fd00:7473:6366::/64 --persist 60 --ready-file "$D/ready" 2>"$D/server.log" &
SPID=$!
BG="$BG $SPID"
wait_for 10 test -s "$D/ready" || fail "tscf-server did not start"
wait_for 5 sh -c "ip -n $CORE -4 addr show dev tscf0 | grep -q 198.18.0.1/24" || fail "no 198.18.0.1 on tscf0"
SRV=198.51.100.1:443

if [ $SC = reconnect ]; then
    ip netns exec "$CORE" "$PY" "$HERE/lab.py" relay 198.51.100.1 8443 198.51.100.1 443 "$D/relay.state" 120 \
        2>"$D/relay.log" &
    RELAY=$!
    BG="$BG $RELAY"
    wait_for 10 test -s "$D/relay.state" || fail "relay did not start"
    SRV=198.51.100.1:8443
fi

# tse-cli itself is $! (ip execs it): signals go to it alone
start_cli() {
    ip netns exec "$UE" "$CLI" --server "$SRV" --ca "$D/ca.pem" --sni tscf.test --json \
        --tun tse0 "$@" >"$D/out.json" 2>"$D/client.log" &
    CL=$!
    BG="$BG $CL"
    wait_for 30 grep -q '"event":"tun_up"' "$D/out.json" || fail "no tun_up"
    grep '"event":"tun_up"' "$D/out.json"
}
check_up() {
    ip -n "$UE" -4 addr show dev tse0 | grep -q "inet 198.18.0.2/24" || fail "tse0 lacks 198.18.0.2/24"
    ip -n "$UE" link show dev tse0 | grep -q "mtu $1 " || fail "tse0 MTU is not $1"
    ip -n "$UE" link show dev tse0 | grep -q "UP" || fail "tse0 is not up"
}
ping_ok() { ue ping -n -c 3 -i 0.2 -W 2 -I tse0 198.18.0.1; }

case $SC in
traffic)
    ip netns exec "$CORE" "$PY" "$HERE/lab.py" udp-echo 198.18.0.1 40000 "$D/echo.count" 60 2>"$D/echo.log" &
    BG="$BG $!"
    wait_for 10 test -s "$D/echo.count" || fail "udp echo did not start"
    start_cli --ipv6 --route 203.0.113.0/24 --route default --route 2001:db8:7::/48 --mtu 1380
    check_up 1380
    ip -n "$UE" -6 addr show dev tse0 | grep -q "inet6 fd00:7473:6366::" || fail "tse0 lacks the inner IPv6 address"
    ip -n "$UE" -6 addr show dev tse0 | grep -q "fe80:" && fail "tse0 has a link-local address"
    ip -n "$UE" -6 route show | grep -q "^2001:db8:7::/48 dev tse0" || fail "no IPv6 --route via tse0"
    grep -q '"ipv6":"fd00:7473:6366::[0-9a-f:]*/64"' "$D/out.json" || fail "tun_up lacks the IPv6 address"
    grep -q '"event":"tun_up","name":"tse0"' "$D/out.json" || fail "tun_up lacks the name"
    grep -q '"ipv4":"198.18.0.2/24"' "$D/out.json" || fail "tun_up lacks the address"
    grep -q '"mtu":1380' "$D/out.json" || fail "tun_up lacks the MTU"
    routes
    routes | grep -q "^203.0.113.0/24 dev tse0" || fail "no route 203.0.113.0/24 via tse0"
    routes | grep -q "^0.0.0.0/1 dev tse0" || fail "no 0.0.0.0/1 via tse0"
    routes | grep -q "^128.0.0.0/1 dev tse0" || fail "no 128.0.0.0/1 via tse0"
    routes | grep -q "^198.51.100.1 dev veue" || fail "no host route for the TSCF outside the tunnel"
    ue ip route get 192.0.2.7 | grep -q "dev tse0" || fail "default traffic does not use tse0"
    ue ip route get 198.51.100.1 | grep -q "dev veue" || fail "the TSCF is routed into the tunnel"
    ping_ok || fail "ping 198.18.0.1 through tse0"
    ue ping -6 -n -c 3 -i 0.2 -W 2 fd00:7473:6366::1 || fail "ping fd00:7473:6366::1 through tse0"
    # UDP: 50 datagrams of 172 bytes from a kernel socket, all echoed
    ue "$PY" - <<'EOF' || fail "UDP exchange"
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(3)
got = 0
for i in range(50):
    s.sendto(bytes([i]) * 172, ("198.18.0.1", 40000))
    d, a = s.recvfrom(2048)
    if d == bytes([i]) * 172 and a[0] == "198.18.0.1":
        got += 1
print("udp: %d of 50 echoed" % got)
sys.exit(0 if got == 50 else 1)
EOF
    # iperf3 TCP, up then down
    ip netns exec "$CORE" iperf3 -s -B 198.18.0.1 -p 5201 >"$D/iperf3s.log" 2>&1 &
    IPS=$!
    BG="$BG $IPS"
    wait_for 10 sh -c "ip netns exec $CORE ss -ltn | grep -q 198.18.0.1:5201" || fail "iperf3 server"
    for dir in up down; do
        r=""; [ $dir = down ] && r=-R
        ue timeout 30 iperf3 -c 198.18.0.1 -p 5201 -t 3 $r -J >"$D/iperf3_$dir.json" 2>&1 ||
            fail "iperf3 $dir"
        "$PY" -c 'import json,sys; j=json.load(open(sys.argv[1])); e=j["end"]
r=e["sum_received"]; print("iperf3 %s: %.1f Mbit/s, %d bytes received" % (sys.argv[2], r["bits_per_second"]/1e6, r["bytes"]))
sys.exit(0 if r["bytes"] > 100000 else 1)' "$D/iperf3_$dir.json" $dir || fail "iperf3 $dir moved too little"
    done
    kill "$IPS"; wait "$IPS" 2>/dev/null; drop_bg "$IPS"
    kill -TERM "$CL"
    wait_exit "$CL" 15; st=$?; drop_bg "$CL"
    cat "$D/out.json" | tail -n 3
    [ $st = 0 ] || fail "tse-cli exit status $st after SIGTERM"
    no_link || fail "tse0 still exists after exit"
    routes | grep -q "tse0\|203.0.113\|0.0.0.0/1\|128.0.0.0/1" && fail "routes left: $(routes)"
    routes | grep -q "^198.51.100.1 " && fail "the TSCF host route is left"
    ip -n "$UE" -6 route show | grep -q "2001:db8:7" && fail "IPv6 route left"
    grep -q '"event":"tun_down"' "$D/out.json" || fail "no tun_down"
    wait_for 5 grep -q "released by the client" "$D/server.log" || fail "the server logged no release"
    ;;
priority)
    TB="$HERE/../../bench/tunbench.py"
    start_cli
    check_up 1400
    ip netns exec "$CORE" iperf3 -s -B 198.18.0.1 -p 5201 >"$D/iperf3s.log" 2>&1 &
    IPS=$!
    BG="$BG $IPS"
    wait_for 10 sh -c "ip netns exec $CORE ss -ltn | grep -q 198.18.0.1:5201" || fail "iperf3 server"
    ip netns exec "$CORE" "$PY" "$TB" voice-recv 40000 150 20 "$D/voice.ready" "$D/voice.out" \
        2>"$D/voice.log" &
    VR=$!
    BG="$BG $VR"
    wait_for 10 test -s "$D/voice.ready" || fail "voice receiver did not start"
    ue timeout 60 iperf3 -c 198.18.0.1 -p 5201 -t 8 -J >"$D/bulk.json" 2>&1 &
    IPC=$!
    BG="$BG $IPC"
    sleep 2
    ue timeout 30 "$PY" "$TB" voice-send 198.18.0.1 40000 50 150 172 || fail "voice-send"
    wait_exit "$VR" 30 || fail "voice receiver"
    drop_bg "$VR"
    wait_exit "$IPC" 60 || fail "iperf3 upload"
    drop_bg "$IPC"
    kill -TERM "$CL"
    wait_exit "$CL" 15; st=$?; drop_bg "$CL"
    [ $st = 0 ] || fail "tse-cli exit status $st after SIGTERM"
    "$PY" - "$D/voice.out" "$D/out.json" "$D/bulk.json" <<'EOF' || fail "voice beside bulk"
import json, sys
got, lost, jitter, p50, p99 = open(sys.argv[1]).read().split()
got, lost = int(got), int(lost)
ev = [json.loads(l) for l in open(sys.argv[2]) if l.startswith("{")]
st = [e for e in ev if e.get("event") == "stats"][-1]
td = [e for e in ev if e.get("event") == "tun_down"][-1]
bulk = json.load(open(sys.argv[3]))["end"]["sum_received"]
print("voice: %d of 150 delivered, jitter %s ms, one-way p50 %s / p99 %s ms" % (got, jitter, p50, p99))
print("bulk: %.0f Mbit/s, %d bytes" % (bulk["bits_per_second"] / 1e6, bulk["bytes"]))
print("classes (control, real-time, bulk): packets %s, refused (class full) %s; "
      "real-time expired %d; TUN reader dropped %d, kicks %d"
      % (st["class_packets"], st["class_full_drops"], st["rt_stale_drops"],
         td["drops_queue_full"], td["kicks"]))
bad = []
if st["class_packets"][1] < got:
    bad.append("fewer real-time packets (%d) than voice delivered (%d): voice was not classed"
               % (st["class_packets"][1], got))
if st["class_full_drops"][1] or st["rt_stale_drops"]:
    bad.append("the real-time class refused or expired packets")
if st["class_packets"][2] < 1000 or bulk["bytes"] < 1000000:
    bad.append("the upload did not go through the bulk class")
if got < 143:
    bad.append("voice lost: %d of 150" % lost)
if float(p99) >= 100:
    bad.append("voice one-way p99 %s ms" % p99)
for b in bad:
    print("FAIL: " + b)
sys.exit(1 if bad else 0)
EOF
    ;;
kill)
    start_cli --route 203.0.113.0/24
    check_up 1400
    ping_ok || fail "ping 198.18.0.1 through tse0"
    kill -9 "$CL"; wait "$CL" 2>/dev/null; drop_bg "$CL"
    wait_for 5 no_link || fail "tse0 still exists after SIGKILL"
    routes | grep -q "tse0\|203.0.113" && fail "routes left after SIGKILL: $(routes)"
    echo "interface and routes gone after SIGKILL"
    ;;
deleted)
    start_cli --route default
    routes | grep -q "^198.51.100.1 dev veue" || fail "no host route for the TSCF"
    ip -n "$UE" link del tse0 || fail "ip link del tse0"
    wait_exit "$CL" 15; st=$?; drop_bg "$CL"
    cat "$D/client.log"
    [ $st = 1 ] || fail "tse-cli exit status $st, expected 1"
    grep -q "TUN: read or write on the device failed" "$D/client.log" || fail "no TUN error reported"
    routes | grep -q "^198.51.100.1 " && fail "the TSCF host route is left"
    wait_for 5 grep -q "released by the client" "$D/server.log" || fail "the server logged no release"
    ;;
reconnect)
    start_cli --reconnect --route 203.0.113.0/24
    check_up 1400
    idx=$(ip -n "$UE" -o link show dev tse0 | cut -d: -f1)
    ping_ok || fail "ping before the cut"
    for k in 1 2; do
        kill -USR1 "$RELAY"
        wait_for 10 sh -c "[ \"\$(cut -d' ' -f2 $D/relay.state)\" = $k ]" || fail "relay did not cut"
        wait_for 30 sh -c "[ \$(grep -c '\"resumed\":true' $D/out.json) -ge $k ]" || fail "no resume after cut $k"
        has_link || fail "tse0 disappeared after cut $k"
        [ "$(ip -n "$UE" -o link show dev tse0 | cut -d: -f1)" = "$idx" ] || fail "tse0 was re-created"
        check_up 1400
        routes | grep -q "^203.0.113.0/24 dev tse0" || fail "route lost after cut $k"
        ping_ok || fail "ping after cut $k"
        echo "cut $k: resumed, tse0 kept (index $idx), ping works"
    done
    [ "$(grep -c '"event":"tun_up"' "$D/out.json")" = 1 ] || fail "tun_up more than once (same address)"
    kill -TERM "$CL"
    wait_exit "$CL" 15; st=$?; drop_bg "$CL"
    [ $st = 0 ] || fail "tse-cli exit status $st after SIGTERM"
    no_link || fail "tse0 still exists after exit"
    ;;
*)
    fail "unknown scenario $SC"
    ;;
esac
echo "PASS $SC"
exit 0
