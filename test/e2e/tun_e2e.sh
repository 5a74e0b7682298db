#!/bin/sh
# tun_e2e.sh TSCF_SERVER TSCF_PROBE
# tscf-server --tun in a private network namespace (unshare -n): the Linux
# kernel behind the TUN device answers pings to the server's inner
# addresses 198.18.0.1 and fd00:7473:6366::1.  Skipped (77) without root,
# unshare or /dev/net/tun.
set -u
SERVER=$1
PROBE=$2
HERE=$(cd "$(dirname "$0")" && pwd)
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root"; exit 77; }
[ -c /dev/net/tun ] || { echo "SKIP: no /dev/net/tun"; exit 77; }
command -v unshare >/dev/null 2>&1 && command -v ip >/dev/null 2>&1 ||
    { echo "SKIP: needs unshare and ip"; exit 77; }
unshare -n true 2>/dev/null || { echo "SKIP: cannot create a network namespace"; exit 77; }
d=$(mktemp -d /tmp/tscf-tun.XXXXXX)
trap 'rm -rf "$d"' EXIT
sh "$HERE/gen_certs.sh" "$d" || exit 1
PROCS="$HERE/../lib/procs.sh"
export SERVER PROBE d PROCS
timeout -k 10 120 unshare -n sh -c '
. "$PROCS" # tse_stop: TERM, a bounded wait, then KILL
ip link set lo up
"$SERVER" --listen 127.0.0.1:0 --cert "$d/server.pem" --key "$d/server.key" \
    --ready-file "$d/ready" --tun tscf0 --pool6 fd00:7473:6366::/64 2>"$d/server.log" &
sp=$!
i=0
while [ ! -s "$d/ready" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
a=$(head -n1 "$d/ready")
rc=0
ip -4 addr show dev tscf0 | grep -q "198.18.0.1/24" || { echo "FAIL: TUN address"; rc=1; }
"$PROBE" --server "$a" --ca "$d/ca.pem" ping 198.18.0.1 || rc=1
"$PROBE" --server "$a" --ca "$d/ca.pem" ipv6 fd00:7473:6366::1 || rc=1
tse_stop "$sp"
[ "$TSE_RC" = 0 ] || rc=1
[ $rc = 0 ] || cat "$d/server.log"
exit $rc
'
