#!/usr/bin/env bash
# cli_detect_loopback.sh: tse-cli --detect on loopback, no root needed
# (the firewall lab, fwlab.sh, needs root; this runs everywhere).
#
#   cli_detect_loopback.sh TSE_CLI TSCF_SERVER
#
#  1. usage errors exit 2 (also of the 8.3 options);
#  2. SIP and STUN ports closed, tscf-server up: tunnel-direct, the tunnel
#     stays up for --hold, JSON events detect_step / detect_result /
#     tunnel_up;
#  3. nothing anywhere: decision none, exit 1, fast (ICMP/RST);
#  4. kamailio and coturn on loopback (skipped if missing): direct, and
#     --verify gets 200 over UDP.
# Exit 77 if python3/openssl is missing.
set -u
CLI=${1:?tse-cli}
SRV=${2:?tscf-server}
HERE=$(cd "$(dirname "$0")" && pwd)
for p in python3 openssl; do
    command -v "$p" >/dev/null 2>&1 || { echo "SKIP: $p missing"; exit 77; }
done
D=$(mktemp -d /tmp/detect-lo.XXXXXX)
# shellcheck source=../lib/procs.sh
. "$HERE/../lib/procs.sh" # tse_stop, tse_wait_exit: every wait bounded
PIDS=""
cleanup() {
    # shellcheck disable=SC2086
    [ -n "$PIDS" ] && tse_stop $PIDS
    rm -rf "$D"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }

free_port() { # a port number free for both UDP and TCP on 127.0.0.1
    python3 - <<'EOF'
import socket
for _ in range(50):
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind(("127.0.0.1", 0))
    p = u.getsockname()[1]
    t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        t.bind(("127.0.0.1", p))
    except OSError:
        continue
    print(p)
    break
EOF
}
json_field() { # FILE EVENT FIELD
    python3 - "$@" <<'EOF'
import json, sys
for line in open(sys.argv[1]):
    try:
        ev = json.loads(line)
    except ValueError:
        continue
    if ev.get("event") == sys.argv[2]:
        print(ev.get(sys.argv[3], ""))
        break
EOF
}

# 1. usage
"$CLI" --detect >/dev/null 2>&1; [ $? = 2 ] || fail "--detect without --sip must exit 2"
"$CLI" --detect --sip 127.0.0.1 --server 127.0.0.1 >/dev/null 2>&1
[ $? = 2 ] || fail "--server without --ca must exit 2"
"$CLI" --detect --sip 127.0.0.1 --bogus >/dev/null 2>&1; [ $? = 2 ] || fail "unknown option must exit 2"
"$CLI" --detect --help | grep -q -- "--verify" || fail "--detect --help"
# TR 33.830 8.3: --sip-tls and --turn together, with credentials and --ca
"$CLI" --detect --sip-tls 127.0.0.1 --insecure-lab-only >/dev/null 2>&1
[ $? = 2 ] || fail "--sip-tls without --turn must exit 2"
"$CLI" --detect --sip-tls 127.0.0.1 --turn 127.0.0.1 --insecure-lab-only >/dev/null 2>&1
[ $? = 2 ] || fail "--turn without --turn-user/--turn-pass must exit 2"
"$CLI" --detect --sip-tls 127.0.0.1 --turn 127.0.0.1 --turn-user u --turn-pass p >/dev/null 2>&1
[ $? = 2 ] || fail "--sip-tls/--turn without --ca must exit 2"
"$CLI" --detect --sip-tls 127.0.0.1 --turn 127.0.0.1 --turn-user u --turn-pass p \
    --insecure-lab-only --verify >/dev/null 2>&1
[ $? = 2 ] || fail "--verify without --sip must exit 2"
"$CLI" --detect --help | grep -q -- "--sip-tls" || fail "--detect --help lacks --sip-tls"
echo "ok 1 usage"

# 2. tunnel-direct
sh "$HERE/../e2e/gen_certs.sh" "$D" || fail "certificates"
SIPP=$(free_port)
STUNP=$(free_port)
TP=$(free_port)
"$SRV" --listen 127.0.0.1:"$TP" --cert "$D/server.pem" --key "$D/server.key" \
    --log-level warn >"$D/tscf.log" 2>&1 &
PIDS="$PIDS $!"
for _ in $(seq 1 50); do
    python3 -c "import socket,sys; socket.create_connection(('127.0.0.1',int(sys.argv[1])),0.2)" "$TP" \
        2>/dev/null && break
    sleep 0.1
done
timeout -k 5 60 "$CLI" --detect --json --sip 127.0.0.1:"$SIPP" --stun 127.0.0.1:"$STUNP" \
    --server 127.0.0.1:"$TP" --server-port2 0 --ca "$D/ca.pem" --sni tscf.test --hold 1 --no-proxy \
    >"$D/t2.json" 2>"$D/t2.err"
rc=$?
[ "$rc" = 0 ] || { cat "$D/t2.json" "$D/t2.err"; fail "tunnel case exit $rc"; }
[ "$(json_field "$D/t2.json" detect_result path)" = tunnel-direct ] || { cat "$D/t2.json"; fail "path"; }
[ -n "$(json_field "$D/t2.json" tunnel_up ipv4)" ] || fail "no tunnel_up event"
n=$(grep -c '"event":"detect_step"' "$D/t2.json")
[ "$n" -ge 8 ] || fail "only $n detect_step events"
echo "ok 2 tunnel-direct ($(json_field "$D/t2.json" detect_result elapsed_ms) ms)"

# text mode shows live steps with elapsed time
timeout -k 5 60 "$CLI" --detect --sip 127.0.0.1:"$SIPP" --stun 127.0.0.1:"$STUNP" \
    --server 127.0.0.1:"$TP" --server-port2 0 --ca "$D/ca.pem" --sni tscf.test --hold 1 --no-proxy \
    >"$D/t2.txt" 2>&1 || fail "text mode"
grep -q '^\[ *[0-9]* ms\] tunnel-1 ' "$D/t2.txt" || { cat "$D/t2.txt"; fail "no live step line"; }
grep -q '^decision: tunnel-direct after [0-9]* ms' "$D/t2.txt" || fail "no decision line"
echo "ok 2b text output"

# 2c. https_proxy from the environment is used (a dead proxy: none), and
#     no_proxy exempts the TSCF (tunnel-direct)
PXP=$(free_port)
https_proxy=http://127.0.0.1:$PXP timeout -k 5 60 "$CLI" --detect --json --sip 127.0.0.1:"$SIPP" \
    --server 127.0.0.1:"$TP" --server-port2 0 --ca "$D/ca.pem" --sni tscf.test >"$D/t2c.json" 2>&1
[ "$(json_field "$D/t2c.json" detect_result path)" = none ] || { cat "$D/t2c.json"; fail "env proxy not used"; }
grep -q '"reason":"started (via proxy)"' "$D/t2c.json" || fail "no 'via proxy' step"
https_proxy=http://127.0.0.1:$PXP no_proxy=127.0.0.1 timeout -k 5 120 "$CLI" --detect --json \
    --sip 127.0.0.1:"$SIPP" --server 127.0.0.1:"$TP" --server-port2 0 --ca "$D/ca.pem" \
    --sni tscf.test --hold 0 >"$D/t2d.json" 2>&1 &
cp=$!
PIDS="$PIDS $cp"
# an ASan build on a loaded machine is slow: up to 30 s for the tunnel,
# and SIGTERM only once it is up (the step tests releasing a held tunnel)
for _ in $(seq 1 300); do grep -q '"event":"tunnel_up"' "$D/t2d.json" && break; sleep 0.1; done
grep -q '"event":"tunnel_up"' "$D/t2d.json" || { cat "$D/t2d.json"; fail "no_proxy: no tunnel in 30 s"; }
# bounded: a tse-cli that does not exit within 20 s of SIGTERM is a failure
# (tse_stop then kills it), never a hang until ctest's timeout
TSE_STOP_WAIT=20 tse_stop "$cp"
rc=$TSE_RC
[ "$rc" = 0 ] || fail "SIGTERM on a held tunnel: exit $rc"
[ "$(json_field "$D/t2d.json" detect_result path)" = tunnel-direct ] || { cat "$D/t2d.json"; fail "no_proxy"; }
echo "ok 2c proxy from the environment, no_proxy; SIGTERM releases a held tunnel"

# 3. none
TP2=$(free_port)
timeout -k 5 60 "$CLI" --detect --json --sip 127.0.0.1:"$SIPP" --stun 127.0.0.1:"$STUNP" \
    --server 127.0.0.1:"$TP2" --server-port2 0 --ca "$D/ca.pem" --no-proxy >"$D/t3.json" 2>&1
rc=$?
[ "$rc" = 1 ] || fail "none must exit 1, got $rc"
[ "$(json_field "$D/t3.json" detect_result path)" = none ] || fail "path none"
ms=$(json_field "$D/t3.json" detect_result elapsed_ms)
[ "$ms" -lt 1000 ] || fail "refused everywhere took $ms ms"
echo "ok 3 none ($ms ms)"

# 4. direct with real servers on loopback
KAMMOD=""
for m in /usr/lib/x86_64-linux-gnu/kamailio/modules /usr/lib/*/kamailio/modules; do
    [ -f "$m/sl.so" ] && KAMMOD=$m && break
done
if ! command -v kamailio >/dev/null 2>&1 || ! command -v turnserver >/dev/null 2>&1 || [ -z "$KAMMOD" ]; then
    echo "ok 4 # SKIP kamailio/coturn missing"
    exit 0
fi
SIPP=$(free_port)
STUNP=$(free_port)
cat >"$D/kamailio.cfg" <<EOF
#!KAMAILIO
debug=1
log_stderror=yes
children=1
tcp_children=1
auto_aliases=no
listen=udp:127.0.0.1:$SIPP
listen=tcp:127.0.0.1:$SIPP
mpath="$KAMMOD"
loadmodule "sl.so"
request_route {
    force_rport();
    if (method == "OPTIONS") { sl_send_reply("200", "OK"); exit; }
    sl_send_reply("403", "OPTIONS only");
}
EOF
mkdir -p "$D/kamrun"
kamailio -f "$D/kamailio.cfg" -DD -E -P "$D/kam.pid" -Y "$D/kamrun" -w "$D" >"$D/kam.log" 2>&1 &
PIDS="$PIDS $!"
turnserver -n --stun-only --no-cli --no-tls --no-dtls --listening-ip=127.0.0.1 \
    --listening-port="$STUNP" --pidfile="$D/turn.pid" --log-file=stdout --simple-log \
    --no-stdout-log >"$D/coturn.log" 2>&1 &
PIDS="$PIDS $!"
for _ in $(seq 1 100); do
    ss -Hlnu 2>/dev/null | grep -q "127.0.0.1:$SIPP " && ss -Hlnt | grep -q "127.0.0.1:$SIPP " &&
        ss -Hlnu | grep -q "127.0.0.1:$STUNP " && break
    sleep 0.1
done
timeout -k 5 60 "$CLI" --detect --json --verify --sip 127.0.0.1:"$SIPP" --stun 127.0.0.1:"$STUNP" \
    >"$D/t4.json" 2>"$D/t4.err"
rc=$?
[ "$rc" = 0 ] || { cat "$D/t4.json" "$D/t4.err" "$D/kam.log"; fail "direct case exit $rc"; }
[ "$(json_field "$D/t4.json" detect_result path)" = direct ] || { cat "$D/t4.json"; fail "path direct"; }
[ "$(json_field "$D/t4.json" verify status)" = 200 ] || fail "verify over UDP"
echo "ok 4 direct + verify"
exit 0
