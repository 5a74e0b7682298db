#!/usr/bin/env bash
# fwlab.sh: the firewall lab of the detection (TR 33.830 4.3 NAT/FW types).
#
#   fwlab.sh TSE_CLI TSCF_SERVER TYPE...  (TYPE: 0 1 2 3 4 5 5b 6 7 8 8a 8b 9, or all)
#
# Root only (network namespaces, veth, TUN, nftables); exits 77 (skip) with
# a message otherwise, or when a server program is missing.
#
#   UE  192.0.2.2/24 ---- 192.0.2.1 FW 198.51.100.1 ---- 198.51.100.2 NET
#                                                    servers on 203.0.113.10:
#   coturn STUN udp/3478, kamailio answering OPTIONS on udp+tcp/5060,
#   tscf-server on tcp/443 and tcp/80 with --tun (inner packets reach the
#   kernel of NET, so kamailio also answers through the tunnel); for type 8
#   squid runs on the FW itself (192.0.2.1:3128), with and without auth.
#
# FW is a router whose nftables ruleset emulates the type (see rules_for and
# docs/detect.md for exactly what each one does).  For each type the UE runs
#   tse-cli --detect --json --verify --sip 203.0.113.10 --stun 203.0.113.10
#           --server 203.0.113.10 [--proxy ...]
# and the lab asserts the decision, that SIP OPTIONS is answered over the
# chosen path (UDP, or inner UDP through the tunnel), and the time to the
# decision (under LAB_MAX_DECISION_MS, default 3000).
#
# Environment:
#   LAB_DELAY_MS=N  one-way delay in ms on the UE-FW link, added in user
#                   space by delay_wire.py (two TUN devices and a Python
#                   relay: this kernel has no netem); 0 (default) = a veth.
#   LAB_RESULTS=F   append one TSV line per type: type expected path
#                   decision_ms working_ms verify_status tunnel_up_ms
#                   (working_ms: SIP OPTIONS answered over the chosen path;
#                   tunnel_up_ms: the winning tunnel probe came up, or -1)
#   LAB_NATCHECK=0  skip the NAT-behaviour self-check of types 1-4.
#   LAB_CLI_ARGS=.. more tse-cli options (e.g. "--sip-timeout 1000").
set -u
CLI=${1:?tse-cli}
SRV=${2:?tscf-server}
shift 2
TYPES="$*"
[ -z "$TYPES" ] && TYPES=all
[ "$TYPES" = all ] && TYPES="0 1 2 3 4 5 5b 6 7 8 8a 8b 9"
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=fwlab_lib.sh
. "$HERE/fwlab_lib.sh" # topology, rules_for, squid; tse_stop (test/lib/procs.sh)
DELAY=${LAB_DELAY_MS:-0}
MAXDEC=${LAB_MAX_DECISION_MS:-3000}

skip() { echo "SKIP: fwlab: $*"; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root (network namespaces, nftables); run it as root"
for p in ip nft turnserver kamailio squid openssl python3; do
    command -v "$p" >/dev/null 2>&1 || skip "$p not installed (.ci/install-deps)"
done
[ -c /dev/net/tun ] || skip "/dev/net/tun missing"
KAMMOD=""
for m in /usr/lib/x86_64-linux-gnu/kamailio/modules /usr/lib/*/kamailio/modules /usr/lib/kamailio/modules; do
    [ -f "$m/sl.so" ] && KAMMOD=$m && break
done
[ -n "$KAMMOD" ] || skip "kamailio modules (sl.so) not found"
ip netns add tl-probe-$$ 2>/dev/null || skip "cannot create network namespaces here"
ip netns del tl-probe-$$

ID=$$
UE=tl-ue-$ID
FW=tl-fw-$ID
NET=tl-net-$ID
D=$(mktemp -d /tmp/fwlab.XXXXXX)
chmod 755 "$D"
NETPIDS=""
TYPEPIDS=""
FAILS=0

log() { echo "fwlab: $*"; }

cleanup() {
    topo_down
    kill_list "$NETPIDS"
    if [ -f "$D/kam.pid" ]; then kill "$(cat "$D/kam.pid")" 2>/dev/null; fi
    ip netns del "$NET" 2>/dev/null
    if [ "${LAB_KEEP:-0}" = 1 ]; then echo "fwlab: logs kept in $D"; else rm -rf "$D"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- NET: the servers (once) ----------------------------------------------
# certificates, tscf-server --tun on :443 and :80 (fwlab_lib.sh)
lab_net_up || exit 1

cat >"$D/kamailio.cfg" <<EOF
#!KAMAILIO
debug=1
log_stderror=yes
fork=yes
children=2
tcp_children=2
auto_aliases=no
listen=udp:203.0.113.10:5060
listen=tcp:203.0.113.10:5060
mpath="$KAMMOD"
loadmodule "sl.so"
request_route {
    force_rport();
    if (method == "OPTIONS") {
        sl_send_reply("200", "OK");
        exit;
    }
    sl_send_reply("403", "Lab: OPTIONS only");
}
EOF
mkdir -p "$D/kamrun"
ip netns exec "$NET" kamailio -f "$D/kamailio.cfg" -DD -E -P "$D/kam.pid" -Y "$D/kamrun" \
    -w "$D" >"$D/kamailio.log" 2>&1 &
NETPIDS="$NETPIDS $!"

ip netns exec "$NET" turnserver -n --stun-only --no-cli --no-tls --no-dtls \
    --listening-ip=203.0.113.10 --listening-port=3478 --pidfile="$D/turn.pid" \
    --log-file=stdout --simple-log --no-stdout-log >"$D/coturn.log" 2>&1 &
NETPIDS="$NETPIDS $!"

wait_for listening "$NET" t 203.0.113.10:443 || { echo "FAIL: tscf-server did not start"; cat "$D/tscf.log"; exit 1; }
wait_for listening "$NET" t 203.0.113.10:80 || { echo "FAIL: tscf-server :80"; exit 1; }
wait_for listening "$NET" u 203.0.113.10:5060 || { echo "FAIL: kamailio did not start"; cat "$D/kamailio.log"; exit 1; }
wait_for listening "$NET" t 203.0.113.10:5060 || { echo "FAIL: kamailio tcp"; exit 1; }
wait_for listening "$NET" u 203.0.113.10:3478 || { echo "FAIL: coturn did not start"; cat "$D/coturn.log"; exit 1; }
wait_for ip -n "$NET" addr show dev tltun0 || { echo "FAIL: no TUN in NET"; exit 1; }
log "NET up: tscf-server :443 :80 (--tun), kamailio :5060 udp+tcp, coturn :3478"

# ---- per type: UE and FW (topo_up, rules_for, start_squid: fwlab_lib.sh) ------
expected_for() {
    case $1 in
    0) echo direct ;;
    1|2|3|4) echo nat-traversal ;;
    8|8a) echo tunnel-via-proxy ;;
    8b) echo none ;;
    *) echo tunnel-direct ;;
    esac
}

# NAT behaviour self-check (types 1-4): the UE sends from one UDP socket to
# two servers; answers come from the same address+port, the same address and
# another port, and another address (natcheck.py).
natcheck() { # TYPE
    local t=$1 want got
    case $t in
    1) want="mapping=same a=1 b=1 c=1" ;;
    2) want="mapping=same a=1 b=1 c=0" ;;
    3) want="mapping=same a=1 b=0 c=0" ;;
    4) want="mapping=differs a=1 b=0 c=0" ;;
    *) return 0 ;;
    esac
    rm -f "$D/nc.ready"
    ip netns exec "$NET" python3 "$HERE/natcheck.py" server 203.0.113.10 203.0.113.11 "$D/nc.ready" 20 \
        >"$D/natcheck-server.log" 2>&1 &
    local sp=$!
    wait_for test -f "$D/nc.ready" || { echo "natcheck server did not start"; tse_stop "$sp"; return 1; }
    got=$(ip netns exec "$UE" python3 "$HERE/natcheck.py" client 203.0.113.10 203.0.113.11 2>&1)
    tse_stop "$sp"
    if [ "$got" != "$want" ]; then
        echo "NAT self-check of type $t: got '$got', want '$want'"
        return 1
    fi
    log "type $t NAT self-check: $got"
}

run_type() {
    local t=$1 exp proxy="--no-proxy" out rc path dec vt vst tun tport terr
    exp=$(expected_for "$t")
    log "---- type $t: $(describe "$t"), expect $exp (one-way delay ${DELAY} ms)"
    topo_up || return 1
    if [ "$t" = 0 ]; then
        ip -n "$NET" route add 192.0.2.0/24 via 198.51.100.1
    fi
    rules_for "$t" >"$D/rules-$t.nft" || return 1
    ip netns exec "$FW" nft -f "$D/rules-$t.nft" || { echo "nft refused the ruleset"; cat "$D/rules-$t.nft"; return 1; }
    case $t in
    8) start_squid 0 || return 1; proxy="--proxy http://192.0.2.1:3128" ;;
    8a) start_squid 1 || return 1; proxy="--proxy http://alice:s3cret-lab@192.0.2.1:3128" ;;
    8b) start_squid 1 || return 1; proxy="--proxy http://alice:wrong@192.0.2.1:3128" ;;
    esac
    if [ "${LAB_NATCHECK:-1}" = 1 ]; then
        natcheck "$t" || return 1
    fi
    out="$D/cli-$t.json"
    # shellcheck disable=SC2086
    timeout 40 ip netns exec "$UE" "$CLI" --detect --json --verify \
        --sip 203.0.113.10 --stun 203.0.113.10 --server 203.0.113.10 \
        --ca "$D/ca.pem" --sni tscf.test $proxy --timeout 30 ${LAB_CLI_ARGS:-} \
        >"$out" 2>"$D/cli-$t.err"
    rc=$?
    sed 's/^/    /' "$out"
    path=$(python3 - "$out" <<'EOF'
import json, sys
res = {}
up = {}
for line in open(sys.argv[1]):
    try:
        ev = json.loads(line)
    except ValueError:
        continue
    if ev.get("event") == "detect_step" and ev.get("phase") == "done" and ev.get("result") == "ok":
        up[ev["probe"]] = ev["t_ms"]
    if ev.get("event") == "detect_result":
        res["path"] = ev["path"]; res["dec"] = ev["elapsed_ms"]
        res["tun"] = up.get(ev.get("tunnel_probe", ""), -1)
        res["port"] = ev.get("tunnel_port", 0)
        res["terr"] = ev.get("tunnel", "-").replace(" ", "_")
    if ev.get("event") == "verify":
        res["vt"] = ev["t_ms"]; res["vst"] = ev["status"]
print(res.get("path", "-"), res.get("dec", -1), res.get("vt", -1), res.get("vst", 0),
      res.get("tun", -1), res.get("port", 0), res.get("terr", "-"))
EOF
)
    set -- $path
    path=$1 dec=$2 vt=$3 vst=$4 tun=$5 tport=$6 terr=$7
    if [ -n "${LAB_RESULTS:-}" ]; then
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$t" "$exp" "$path" "$dec" "$vt" "$vst" "$tun" \
            >>"$LAB_RESULTS"
    fi
    if [ "$path" != "$exp" ]; then
        echo "FAIL type $t: decision '$path', expected '$exp' (exit $rc)"; cat "$D/cli-$t.err"; return 1
    fi
    if [ "$exp" = none ]; then
        # 8b: the proxy refuses the credentials; tse-cli must say so and fail
        if [ "$rc" != 1 ] || ! grep -q '"probe":"tunnel-1".*"reason":"[^"]*prox' "$out"; then
            echo "FAIL type $t: expected exit 1 and a proxy failure on tunnel-1 (exit $rc, tunnel: $terr)"
            return 1
        fi
        log "type $t: PASS none (tunnel: $terr), decision $dec ms"
        return 0
    fi
    if [ "$t" = 5b ] && [ "$tport" != 80 ]; then
        echo "FAIL type 5b: the tunnel won on port $tport, expected 80"; return 1
    fi
    if [ "$rc" != 0 ] || [ "$vst" != 200 ]; then
        echo "FAIL type $t: SIP OPTIONS over the chosen path not answered (status $vst, exit $rc)"
        cat "$D/cli-$t.err"; return 1
    fi
    if [ "$dec" -gt "$MAXDEC" ]; then
        echo "FAIL type $t: decision took $dec ms (limit $MAXDEC ms)"; return 1
    fi
    if [ "$t" = 9 ]; then
        # the DPI really dropped SIP (not some other rule)
        local sipdrops
        sipdrops=$(ip netns exec "$FW" nft list chain ip lab filter_fwd |
                   sed -n 's/.*0x4f505449.* counter packets \([0-9]*\) .*/\1/p')
        if [ -z "$sipdrops" ] || [ "$sipdrops" -lt 2 ]; then
            echo "FAIL type 9: the DPI SIP rule dropped '${sipdrops:-?}' packets"; return 1
        fi
        log "type 9: DPI dropped $sipdrops SIP packets"
        # and anything but TLS on 443: plain HTTP to the TSCF's port gets no
        # answer at all (without the DPI, tscf-server answers or closes)
        local plain
        plain=$(ip netns exec "$UE" python3 -c '
import socket
s = socket.create_connection(("203.0.113.10", 443), 3)
s.sendall(b"GET / HTTP/1.0\r\n\r\n")
s.settimeout(1.5)
try:
    print("answered" if s.recv(100) is not None else "answered")
except socket.timeout:
    print("silent")
' 2>&1)
        if [ "$plain" != silent ]; then
            echo "FAIL type 9: plain HTTP on 443 was not dropped ($plain)"; return 1
        fi
        log "type 9: DPI dropped plain HTTP on port 443"
    fi
    log "type $t: PASS $path, decision $dec ms, SIP OPTIONS answered over it at $vt ms"
    return 0
}

for t in $TYPES; do
    if ! run_type "$t"; then
        FAILS=$((FAILS + 1))
        if [ -f "$D/rules-$t.nft" ] && ip netns exec "$FW" true 2>/dev/null; then
            ip netns exec "$FW" nft list ruleset | sed 's/^/    nft: /'
        fi
    fi
    topo_down
done
if [ "$FAILS" -gt 0 ]; then
    echo "fwlab: $FAILS type(s) FAILED"
    exit 1
fi
echo "fwlab: all passed ($TYPES)"
exit 0
