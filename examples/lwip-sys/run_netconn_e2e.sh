#!/bin/sh
# run_netconn_e2e.sh TSCF_SERVER GEN_CERTS LWIP_SYS_NETCONN
# The outer connection over lwIP NO_SYS=0 against the real tscf-server
# (ctest e2e_lwip_sys_netconn; root: a network namespace).  In namespace
# tselw<pid>: a TUN device tselw0 (192.0.2.1/24, lwIP's uplink is
# 192.0.2.2 behind it) and tscf-server --echo on 203.0.113.1 (off the
# uplink's subnet, on lo), so that lwIP's default route - the tunnel netif -
# would take the TLS connection if the netconn were not bound to the
# uplink.  Exit 77 (skip) without root or /dev/net/tun.
set -eu
SERVER=$1 GEN=$2 EXAMPLE=$3
if [ "$(id -u)" != 0 ] || [ ! -c /dev/net/tun ] || ! command -v ip >/dev/null; then
    echo "skip: needs root, /dev/net/tun and ip(8)"
    exit 77
fi
NS=tselw$$
TMP=$(mktemp -d /tmp/tse-lwip-netconn.XXXXXX)
. "$(cd "$(dirname "$GEN")" && pwd)/../lib/procs.sh"
PID=""
cleanup() {
    rc=$?
    if [ -n "$PID" ]; then tse_stop "$PID" || true; fi
    ip netns del "$NS" 2>/dev/null || true
    rm -rf "$TMP"
    exit $rc
}
trap cleanup EXIT INT TERM
ip netns add "$NS"
ip -n "$NS" link set lo up
ip -n "$NS" addr add 203.0.113.1/32 dev lo
ip -n "$NS" tuntap add mode tun name tselw0
ip -n "$NS" addr add 192.0.2.1/24 dev tselw0
ip -n "$NS" link set tselw0 up
sh "$GEN" "$TMP"
ip netns exec "$NS" "$SERVER" --listen 203.0.113.1:4433 --cert "$TMP/server.pem" \
    --key "$TMP/server.key" --echo --ready-file "$TMP/ready" 2>"$TMP/server.log" &
PID=$!
i=0
while [ ! -s "$TMP/ready" ] && [ $i -lt 100 ]; do
    kill -0 "$PID" 2>/dev/null || { cat "$TMP/server.log"; exit 1; }
    sleep 0.1
    i=$((i + 1))
done
[ -s "$TMP/ready" ] || { echo "tscf-server did not start"; cat "$TMP/server.log"; exit 1; }
status=0
timeout -k 10 60 ip netns exec "$NS" "$EXAMPLE" --uplink tselw0 --addr 192.0.2.2 --gw 192.0.2.1 \
    --server 203.0.113.1:4433 --ca "$TMP/ca.pem" --sni tscf.test || status=$?
[ $status -eq 0 ] || { echo "--- tscf-server log"; cat "$TMP/server.log"; }
exit $status
