#!/bin/sh
# The POSIX port's resolver thread against a slow DNS server: a network
# namespace whose /etc/resolv.conf (ip netns exec bind-mounts
# /etc/netns/NS/resolv.conf over it) names a responder on the namespace's
# loopback that answers "slow.*" after 1.5 s and never answers "never.*"
# (test/unit/support/slow_dns.py).  Runs test_posix_resolve_slow there.
#   posix_resolve_netns.sh TEST-BINARY SLOW_DNS.PY
# Root only: exit 77 (skipped) otherwise.  Every wait is bounded; the
# namespace and /etc/netns/NS go on exit.
set -u
bin=$1
dns=$2
if [ "$(id -u)" != 0 ]; then
    echo "SKIP: needs root (network namespaces)"
    exit 77
fi
py=$(command -v python3) || { echo "SKIP: no python3"; exit 77; }
command -v ip >/dev/null || { echo "SKIP: no ip(8)"; exit 77; }

ns="tse-resolver-$$"
tmp=$(mktemp -d) || exit 1
rpid=
cleanup() {
    if [ -n "$rpid" ]; then
        kill "$rpid" 2>/dev/null
        i=0
        while kill -0 "$rpid" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
        kill -9 "$rpid" 2>/dev/null
    fi
    ip netns del "$ns" 2>/dev/null
    rm -rf "/etc/netns/$ns" "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

ip netns add "$ns" || { echo "SKIP: cannot create a network namespace"; exit 77; }
ip -n "$ns" link set lo up || exit 1
mkdir -p "/etc/netns/$ns" || exit 1
# timeout:8 > TSE_POSIX_RESOLVE_TIMEOUT_MS (5 s): the "never" case must end
# by the port's own timeout, not by the system resolver's
printf 'nameserver 127.0.0.1\noptions timeout:8 attempts:1\n' >"/etc/netns/$ns/resolv.conf"

ip netns exec "$ns" "$py" "$dns" 53 1.5 "$tmp/ready" &
rpid=$!
i=0
while [ ! -s "$tmp/ready" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
[ -s "$tmp/ready" ] || { echo "FAIL: the DNS responder did not start"; exit 1; }

TSE_RESOLVE_NETNS=1 timeout 90 ip netns exec "$ns" "$bin"
rc=$?
[ $rc -eq 124 ] && echo "FAIL: timed out"
exit $rc
