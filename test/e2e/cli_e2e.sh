#!/bin/sh
# cli_e2e.sh TSCF_SERVER TSE_CLI SCENARIO
#
# Real processes on loopback: tscf-server, tse-cli (asserted through its
# --json events), and where the scenario needs them squid / tinyproxy from
# the Debian packages with a private configuration in a temporary directory
# (CONNECT allowed only to the TSCF's port), or a relay that cuts the TCP
# connection.  Everything started here is killed on exit.
#
# Scenarios: direct squid tinyproxy squid-basic squid-digest tls-untrusted
#            tls-name resume dpd roam max-tunnels tunnels-200 server-shutdown log-stats
#            ftt-direct ftt-squid ftt-cut ftt-dead (the TS 24.322 profile:
#            tscf-server and tse-cli --profile ftt; docs/engine.md "FTT
#            profile"; ftt-dead runs in a network namespace of its own and
#            needs root and nft)
# Exit 0 = pass, 1 = fail, 77 = skipped (a needed program is missing).
set -u
SERVER=$1
CLI=$2
SCENARIO=$3
HERE=$(cd "$(dirname "$0")" && pwd)
d=$(mktemp -d /tmp/tse-e2e-cli.XXXXXX)
chmod 755 "$d"
. "$HERE/../lib/procs.sh" # tse_stop, tse_wait_exit: every wait bounded
pids=""
cleanup() {
    # shellcheck disable=SC2086
    [ -n "$pids" ] && tse_stop $pids
    rm -rf "$d"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

fail() {
    echo "FAIL [$SCENARIO]: $*"
    for f in "$d"/*.out "$d"/*.log; do
        [ -f "$f" ] || continue
        echo "--- $(basename "$f")"
        tail -n 40 "$f"
    done
    exit 1
}
skip() {
    echo "SKIP [$SCENARIO]: $*"
    exit 77
}

# jcheck FILE PYTHON-EXPR: the expression over ev (the JSON events, in
# order) and E(name) (the events of that name) must be true
jcheck() {
    python3 - "$1" "$2" <<'EOF'
import json, sys
ev = []
for line in open(sys.argv[1]):
    line = line.strip()
    if line.startswith("{"):
        try:
            ev.append(json.loads(line))
        except ValueError:
            pass
def E(name):
    return [e for e in ev if e.get("event") == name]
def idx(name, n=0):
    k = [i for i, e in enumerate(ev) if e.get("event") == name]
    return k[n] if len(k) > n else None
sys.exit(0 if eval(sys.argv[2]) else 1)
EOF
}

# noticed DIED_AT DOWN_AT LO HI: say how long after the path died (epoch
# seconds) the tunnel went down; true if LO < that < HI seconds
noticed() {
    python3 - "$SCENARIO" "$@" <<'PYEOF'
import sys
el = float(sys.argv[3]) - float(sys.argv[2])
lo, hi = float(sys.argv[4]), float(sys.argv[5])
print("%s: dead path noticed %.2f s after it died (bounds %g-%g s)" % (sys.argv[1], el, lo, hi))
sys.exit(0 if lo < el < hi else 1)
PYEOF
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# wait_port PORT: until something accepts on 127.0.0.1:PORT (10 s)
wait_port() {
    python3 - "$1" <<'EOF'
import socket, sys, time
end = time.time() + 10
while time.time() < end:
    try:
        socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=0.5).close()
        sys.exit(0)
    except OSError:
        time.sleep(0.1)
sys.exit(1)
EOF
}

sh "$HERE/gen_certs.sh" "$d" || fail "certificate generation"

# start_server NAME ARGS...: sets SRV (127.0.0.1:PORT) and SRV_PORT
start_server() {
    name=$1; shift
    "$SERVER" --listen 127.0.0.1:0 --cert "$d/server.pem" --key "$d/server.key" \
        --ready-file "$d/$name.ready" "$@" 2>"$d/$name.log" &
    pids="$pids $!"
    i=0
    while [ ! -s "$d/$name.ready" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
    [ -s "$d/$name.ready" ] || fail "$name did not start"
    SRV=$(head -n1 "$d/$name.ready")
    SRV_PORT=${SRV##*:}
}

# cli OUTFILE ARGS...: tse-cli against $SRV with the test CA, JSON events
cli() {
    out=$1; shift
    timeout 90 "$CLI" --ca "$d/ca.pem" --sni tscf.test --json "$@" >"$d/$out" 2>"$d/$out.err"
}

# start_squid AUTH (none|basic|digest): sets PROXY_PORT
start_squid() {
    command -v squid >/dev/null 2>&1 || skip "squid not installed"
    PROXY_PORT=$(free_port)
    auth=$1
    access="http_access allow localhost"
    authconf=""
    if [ "$auth" = basic ]; then
        [ -x /usr/lib/squid/basic_ncsa_auth ] || skip "basic_ncsa_auth missing"
        printf 'alice:%s\n' "$(openssl passwd -apr1 's3cret-b')" >"$d/passwd"
        authconf="auth_param basic program /usr/lib/squid/basic_ncsa_auth $d/passwd
auth_param basic realm tscf-e2e
acl authed proxy_auth REQUIRED"
        access="http_access allow authed"
    elif [ "$auth" = digest ]; then
        [ -x /usr/lib/squid/digest_file_auth ] || skip "digest_file_auth missing"
        printf 'bob:s3cret-d\n' >"$d/digest_passwd"
        authconf="auth_param digest program /usr/lib/squid/digest_file_auth $d/digest_passwd
auth_param digest realm tscf-e2e
acl authed proxy_auth REQUIRED"
        access="http_access allow authed"
    fi
    cat >"$d/squid.conf" <<EOF
http_port 127.0.0.1:$PROXY_PORT
pid_filename $d/squid.pid
cache_log $d/squid.log
access_log $d/squid-access.log
cache_store_log none
cache deny all
cache_mem 4 MB
coredump_dir $d
cache_effective_user proxy
shutdown_lifetime 0 seconds
dns_v4_first on
$authconf
acl tscf_port port $SRV_PORT
acl CONNECT method CONNECT
http_access deny !CONNECT
http_access deny CONNECT !tscf_port
http_access deny !localhost
$access
http_access deny all
EOF
    touch "$d/squid.log" "$d/squid-access.log"
    chown proxy "$d" "$d/squid.log" "$d/squid-access.log" 2>/dev/null
    chmod 644 "$d"/passwd "$d"/digest_passwd 2>/dev/null
    squid -N -f "$d/squid.conf" 2>>"$d/squid.log" &
    pids="$pids $!"
    wait_port "$PROXY_PORT" || fail "squid did not start"
}

start_tinyproxy() {
    command -v tinyproxy >/dev/null 2>&1 || skip "tinyproxy not installed"
    PROXY_PORT=$(free_port)
    cat >"$d/tinyproxy.conf" <<EOF
User nobody
Group nogroup
Port $PROXY_PORT
Listen 127.0.0.1
Timeout 60
PidFile "$d/tinyproxy.pid"
LogFile "$d/tinyproxy.log"
LogLevel Info
MaxClients 20
Allow 127.0.0.1
ConnectPort $SRV_PORT
EOF
    touch "$d/tinyproxy.log"
    chown nobody "$d/tinyproxy.log" 2>/dev/null
    chmod 777 "$d"
    tinyproxy -d -c "$d/tinyproxy.conf" >>"$d/tinyproxy.log" 2>&1 &
    pids="$pids $!"
    wait_port "$PROXY_PORT" || fail "tinyproxy did not start"
}

PING="--ping 198.18.0.1 --count 3 --interval 200"
ok3='E("summary")[0]["replies"] == 3 and E("summary")[0]["lost"] == 0'

case "$SCENARIO" in
ftt-direct)
    # bring-up and ping in the FTT profile: the address is the one the
    # server announced (its log says which), no keep-alive, no TSID
    start_server srv --echo --profile ftt
    cli ftt.out --server "$SRV" --no-proxy --profile ftt $PING || fail "tse-cli exit status"
    addr=$(sed -n 's/.*FTT tunnel up: .* addr=\([0-9.]*\)\/.*/\1/p' "$d/srv.log" | head -n 1)
    [ -n "$addr" ] || fail "the server logged no FTT tunnel"
    jcheck "$d/ftt.out" "$ok3 and E('tunnel_up')[0]['inner_ipv4'] == '$addr' and \
E('tunnel_up')[0]['keepalive'] == 0 and E('tunnel_up')[0]['profile'] == 'ftt' and \
E('tunnel_up')[0]['netmask'] == '255.255.255.255'" || fail "FTT bring-up or pings"
    # a TSCF client against an FTT server does not get a tunnel: whichever
    # side reads first refuses the other's unit (the client's
    # Configuration_Request is no envelope, Type 0x10; the server's
    # envelope, first nibble 0, is no TSCF unit: TSE_ERR_FRAME_NIBBLE)
    if cli mixed.out --server "$SRV" --no-proxy --ping 198.18.0.1 --count 1 --timeout 10; then
        fail "a TSCF client got a tunnel from an FTT server"
    fi
    jcheck "$d/mixed.out" "not E('tunnel_up')" || fail "TSCF client: tunnel_up from an FTT server"
    grep -q "framing error" "$d/srv.log" || jcheck "$d/mixed.out" "E('tunnel_down')[0]['code'] == -150" ||
        fail "neither side refused the other's profile"
    ;;
ftt-squid)
    start_server srv --echo --profile ftt
    start_squid none
    cli ftt.out --server "$SRV" --proxy "http://127.0.0.1:$PROXY_PORT" --profile ftt $PING ||
        fail "tse-cli --profile ftt through squid"
    jcheck "$d/ftt.out" "$ok3 and E('tunnel_up')[0]['via_proxy'] is True" ||
        fail "FTT pings through squid not answered"
    grep -q "CONNECT 127.0.0.1:$SRV_PORT" "$d/squid-access.log" || fail "squid logged no CONNECT"
    ;;
ftt-cut)
    # TS 24.322 has no TSID: a cut cannot be resumed.  The relay RSTs the
    # connection 1.5 s in; --reconnect brings up a new tunnel, whose
    # address the server announces again (round robin: another one), and
    # the pings go on from it.
    start_server srv --echo --profile ftt
    python3 "$HERE/relay.py" "$d/relay.port" 127.0.0.1 "$SRV_PORT" 1.5 60 2>"$d/relay.log" &
    pids="$pids $!"
    i=0
    while [ ! -s "$d/relay.port" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
    RP=$(cat "$d/relay.port") || fail "relay did not start"
    cli cut.out --server "127.0.0.1:$RP" --profile ftt --reconnect --backoff-max 1000 \
        --ping 198.18.0.1 --count 16 --interval 400 --timeout 40
    grep -q "cut" "$d/relay.log" || fail "the relay did not cut"
    jcheck "$d/cut.out" "len(E('tunnel_up')) >= 2 and E('tunnel_up')[1]['resumed'] is False and \
E('tunnel_down') and E('addr_changed') and \
E('addr_changed')[0]['inner_ipv4'] == E('tunnel_up')[1]['inner_ipv4'] and \
E('tunnel_up')[1]['inner_ipv4'] != E('tunnel_up')[0]['inner_ipv4'] and \
any(e.get('event') == 'ping_reply' for e in ev[idx('tunnel_up', 1):])" ||
        fail "no new tunnel with its own address, or no replies after it"
    [ "$(grep -c 'FTT tunnel up' "$d/srv.log")" -ge 2 ] || fail "the server did not see a second tunnel"
    grep -q "freed: connection closed (FTT" "$d/srv.log" || fail "the server kept the cut tunnel"
    ;;
direct)
    start_server srv --echo
    cli direct.out --server "$SRV" --no-proxy $PING || fail "tse-cli exit status"
    jcheck "$d/direct.out" "$ok3 and E('tunnel_up')[0]['via_proxy'] is False" ||
        fail "pings not answered"
    ;;
squid|tinyproxy)
    start_server srv --echo
    if [ "$SCENARIO" = squid ]; then start_squid none; else start_tinyproxy; fi
    cli proxy.out --server "$SRV" --proxy "http://127.0.0.1:$PROXY_PORT" $PING ||
        fail "tse-cli through $SCENARIO"
    jcheck "$d/proxy.out" "$ok3 and E('tunnel_up')[0]['via_proxy'] is True" ||
        fail "pings through $SCENARIO not answered"
    # the proxy refuses a CONNECT to any other port
    other=$(free_port)
    if cli other.out --server "127.0.0.1:$other" --proxy "http://127.0.0.1:$PROXY_PORT" \
           --ping 198.18.0.1 --count 1; then
        fail "$SCENARIO let a CONNECT to port $other through"
    fi
    jcheck "$d/other.out" "E('tunnel_down')[0]['code'] == -300" ||
        fail "CONNECT to another port: not a proxy status error"
    ;;
squid-basic|squid-digest)
    start_server srv --echo
    if [ "$SCENARIO" = squid-basic ]; then
        start_squid basic; user=alice; pass=s3cret-b
    else
        start_squid digest; user=bob; pass=s3cret-d
    fi
    P="127.0.0.1:$PROXY_PORT"
    cli good.out --server "$SRV" --proxy "http://$user:$pass@$P" $PING ||
        fail "tse-cli with the right credentials"
    jcheck "$d/good.out" "$ok3 and E('tunnel_up')[0]['via_proxy'] is True" ||
        fail "pings through authenticated squid"
    if cli bad.out --server "$SRV" --proxy "http://$user:wrong@$P" --ping 198.18.0.1 --count 1; then
        fail "wrong credentials accepted"
    fi
    # a 407 again after our credentials: TSE_ERR_PROXY_AUTH_FAILED
    jcheck "$d/bad.out" "E('tunnel_down')[0]['code'] == -301 and not E('tunnel_up')" ||
        fail "wrong credentials: not PROXY_AUTH_FAILED"
    if cli none.out --server "$SRV" --proxy "http://$P" --ping 198.18.0.1 --count 1; then
        fail "no credentials accepted"
    fi
    jcheck "$d/none.out" "E('tunnel_down')[0]['code'] == -302" ||
        fail "no credentials: not PROXY_AUTH_REQUIRED"
    ;;
tls-untrusted)
    start_server srv --echo
    mkdir "$d/other" && sh "$HERE/gen_certs.sh" "$d/other" || fail "second CA"
    if timeout 30 "$CLI" --server "$SRV" --ca "$d/other/ca.pem" --sni tscf.test --json \
           --ping 198.18.0.1 --count 1 >"$d/untrusted.out" 2>&1; then
        fail "a server from another CA was trusted"
    fi
    jcheck "$d/untrusted.out" "E('tunnel_down')[0]['code'] == -401 and not E('tunnel_up')" ||
        fail "untrusted CA: not TLS_CERT_UNTRUSTED"
    grep -q "TLS handshake failed" "$d/srv.log" || fail "server did not log the failed handshake"
    ;;
tls-name)
    start_server srv --echo
    if cli name.out --server "$SRV" --sni wrong.example --ping 198.18.0.1 --count 1; then
        fail "wrong name accepted"
    fi
    # the later --sni wins over the one cli() passes
    jcheck "$d/name.out" "E('tunnel_down')[0]['code'] == -403 and not E('tunnel_up')" ||
        fail "wrong name: not TLS_CERT_NAME"
    ;;
resume)
    start_server srv --echo --persist 60
    python3 "$HERE/relay.py" "$d/relay.port" 127.0.0.1 "$SRV_PORT" 1.5 60 2>"$d/relay.log" &
    pids="$pids $!"
    i=0
    while [ ! -s "$d/relay.port" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
    RP=$(cat "$d/relay.port") || fail "relay did not start"
    cli resume.out --server "127.0.0.1:$RP" --reconnect --ping 198.18.0.1 --count 16 \
        --interval 400 --timeout 40
    grep -q "cut" "$d/relay.log" || fail "the relay did not cut"
    jcheck "$d/resume.out" "len(E('tunnel_up')) >= 2 and E('tunnel_up')[1]['resumed'] is True and \
E('tunnel_up')[1]['inner_ipv4'] == E('tunnel_up')[0]['inner_ipv4'] and \
any(e.get('event') == 'ping_reply' for e in ev[idx('tunnel_up', 1):])" ||
        fail "no resume with the same address, or no replies after it"
    grep -q "resumed tsid=" "$d/srv.log" || fail "server did not log the resume"
    ;;
ftt-dead)
    # TS 24.322 has no keep-alive message: a path that dies without a word
    # is found by TCP itself (the POSIX port's keep-alive and
    # TCP_USER_TIMEOUT, 30 s).  In a network namespace of its own (its own
    # loopback), an nftables rule drops the server port's packets both
    # ways 2 s after the tunnel is up: nothing answers, nothing closes.
    # The tunnel goes down with TRANSPORT_TIMEOUT about 30 s later (not
    # before 25 s: nothing else probes the path), and once the rule is gone
    # --reconnect brings up a new tunnel whose pings are answered.
    if [ -z "${TSE_FTT_NETNS:-}" ]; then
        [ "$(id -u)" = 0 ] || skip "needs root (a network namespace)"
        command -v nft >/dev/null 2>&1 || skip "nft missing"
        ns=tse-fttdead-$$
        ip netns add "$ns" 2>/dev/null || skip "cannot create a network namespace"
        ip -n "$ns" link set lo up
        TSE_FTT_NETNS=$ns timeout 140 ip netns exec "$ns" sh "$0" "$SERVER" "$CLI" "$SCENARIO"
        rc=$?
        ip netns del "$ns"
        exit $rc
    fi
    start_server srv --echo --profile ftt
    timeout 120 "$CLI" --ca "$d/ca.pem" --sni tscf.test --json --server "$SRV" --no-proxy \
        --profile ftt --reconnect --backoff-max 2000 --ping 198.18.0.1 --count 100 \
        --interval 1000 --ping-timeout 1000 --timeout 110 >"$d/dead.out" 2>"$d/dead.err" &
    cpid=$!
    pids="$pids $cpid"
    # wait_event PATTERN N SECS: until the N-th line matching PATTERN
    wait_event() {
        _end=$(($(date +%s) + $3))
        while [ "$(grep -c "$1" "$d/dead.out" 2>/dev/null)" -lt "$2" ] &&
              [ "$(date +%s)" -lt "$_end" ]; do
            sleep 0.1
        done
        [ "$(grep -c "$1" "$d/dead.out" 2>/dev/null)" -ge "$2" ]
    }
    wait_event '"event":"tunnel_up"' 1 20 || fail "no tunnel"
    sleep 2
    nft -f - <<NFT || fail "nft refused the rule"
table inet tse_dead {
    chain in {
        type filter hook input priority 0;
        tcp dport $SRV_PORT drop
        tcp sport $SRV_PORT drop
    }
}
NFT
    drop_at=$(date +%s.%N)
    wait_event '"event":"tunnel_down"' 1 60 || fail "the dead path was not noticed in 60 s"
    down_at=$(date +%s.%N)
    nft delete table inet tse_dead || fail "nft: cannot remove the rule"
    wait_event '"event":"tunnel_up"' 2 40 || fail "no new tunnel after the path came back"
    ups=$(grep -n '"event":"tunnel_up"' "$d/dead.out" | sed -n 2p | cut -d: -f1)
    i=0
    while ! tail -n +"$ups" "$d/dead.out" | grep -q '"event":"ping_reply"' && [ $i -lt 100 ]; do
        sleep 0.1; i=$((i + 1))
    done
    tse_stop "$cpid"
    jcheck "$d/dead.out" "E('tunnel_down')[0]['code'] == -202 and len(E('tunnel_up')) >= 2 and \
E('tunnel_up')[1]['resumed'] is False and \
any(e.get('event') == 'ping_reply' for e in ev[idx('tunnel_up', 1):])" ||
        fail "not TRANSPORT_TIMEOUT, or no new tunnel with answered pings after it"
    # TCP: 30 s
    noticed "$drop_at" "$down_at" 25 40 || fail "dead path not noticed 25-40 s after the drop"
    ;;
dpd)
    # dead-peer detection without a keep-alive (issue 13 item 3): the TSCF
    # negotiates none; the relay blackholes the path 1.5 s after the
    # connection (nothing answers, nothing closes).  With --dpd-idle 3000
    # the probe goes after 3 s of silence and the path is declared dead
    # 2 s later (the response timeout: half the idle time, at least 2 s),
    # then the tunnel resumes over a new connection.
    start_server srv --echo --persist 60 --keepalive 0
    RELAY_MODE=blackhole python3 "$HERE/relay.py" "$d/relay.port" 127.0.0.1 "$SRV_PORT" 1.5 60 \
        2>"$d/relay.log" &
    pids="$pids $!"
    i=0
    while [ ! -s "$d/relay.port" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
    RP=$(cat "$d/relay.port") || fail "relay did not start"
    timeout 60 "$CLI" --ca "$d/ca.pem" --sni tscf.test --json --server "127.0.0.1:$RP" \
        --reconnect --dpd-idle 3000 --ping 198.18.0.1 --count 40 --interval 250 \
        --ping-timeout 1000 --timeout 40 >"$d/dpd.out" 2>"$d/dpd.err" &
    cpid=$!
    pids="$pids $cpid"
    # when the tunnel goes down (polled: 0.1 s resolution, 20 s at most)
    i=0
    while ! grep -q '"code":-505' "$d/dpd.out" 2>/dev/null && [ $i -lt 200 ]; do
        sleep 0.1; i=$((i + 1))
    done
    down_at=$(date +%s.%N)
    tse_wait_exit "$cpid" 45 || fail "tse-cli did not finish"
    grep -q "blackholed 1" "$d/relay.log" || fail "the relay did not blackhole the path"
    at=$(sed -n 's/.*blackholed 1 connection(s) at \([0-9.]*\)/\1/p' "$d/relay.log")
    jcheck "$d/dpd.out" "E('tunnel_up')[0]['keepalive'] == 0 and len(E('tunnel_up')) >= 2 and \
E('tunnel_down')[0]['code'] == -505 and E('tunnel_up')[1]['resumed'] is True and \
any(e.get('event') == 'ping_reply' for e in ev[idx('tunnel_up', 1):])" ||
        fail "no dead-peer detection (KEEPALIVE_TIMEOUT), or no resume after it"
    # dpd_idle 3 s: 5 s
    noticed "$at" "$down_at" 2.5 6.5 || fail "dead path not noticed within 1.5 x dpd_idle"
    ;;
roam)
    # --control: network changes of a running tunnel (issue 13).  The first
    # port is closed: --port2 (the server) is taken at once.  Network B has
    # only squid (which refuses CONNECT to the closed port: 403, then the
    # second port); back on A the cached port is first: no refused connect.
    start_server srv --echo --persist 60
    start_squid none
    closed=$(free_port)
    timeout 60 "$CLI" --ca "$d/ca.pem" --sni tscf.test --json --no-proxy \
        --server "127.0.0.1:$closed" --port2 "$SRV_PORT" --control "$d/ctl" --network A \
        --ping 198.18.0.1 --count 24 --interval 250 --timeout 40 >"$d/roam.out" 2>"$d/roam.err" &
    roam=$!
    pids="$pids $roam"
    # wait_event N: until N tunnel_up events (15 s)
    wait_up() {
        i=0
        while [ "$(grep -c '"tunnel_up"' "$d/roam.out" 2>/dev/null)" -lt "$1" ] && [ $i -lt 150 ]; do
            sleep 0.1; i=$((i + 1))
        done
        [ "$(grep -c '"tunnel_up"' "$d/roam.out")" -ge "$1" ] || fail "tunnel_up #$1 missing"
    }
    wait_up 1
    echo "network B proxy 127.0.0.1:$PROXY_PORT" >"$d/ctl"
    wait_up 2
    echo "bogus command" >"$d/ctl"
    echo "network A direct" >"$d/ctl"
    wait_up 3
    tse_wait_exit "$roam" 45 || fail "tse-cli did not finish"
    jcheck "$d/roam.out" "len(E('tunnel_up')) == 3 and len(E('network_changed')) == 2 and \
all(u['port'] == $SRV_PORT and u['inner_ipv4'] == E('tunnel_up')[0]['inner_ipv4'] and \
u['tsid'] == E('tunnel_up')[0]['tsid'] for u in E('tunnel_up')) and \
[u['via_proxy'] for u in E('tunnel_up')] == [False, True, False] and \
[u['resumed'] for u in E('tunnel_up')] == [False, True, True] and \
E('network_changed')[0]['proxy'] == '127.0.0.1:$PROXY_PORT' and \
any('bogus' in e['reason'] for e in E('error')) and \
not [e for e in ev[idx('network_changed', 1):] if e.get('event') == 'tunnel_down' and e['code'] == -201] and \
any(e.get('event') == 'ping_reply' for e in ev[idx('tunnel_up', 2):]) and \
not E('addr_changed')" || fail "roaming: wrong ports, proxy use, resumes, or no replies after"
    ;;
max-tunnels)
    start_server srv --echo --max-tunnels 1 --persist 0
    timeout 60 "$CLI" --server "$SRV" --ca "$d/ca.pem" --sni tscf.test --json \
        >"$d/holder.out" 2>&1 &
    holder=$!
    pids="$pids $holder"
    i=0
    while ! grep -q tunnel_up "$d/holder.out" 2>/dev/null && [ $i -lt 100 ]; do
        sleep 0.1; i=$((i + 1))
    done
    grep -q tunnel_up "$d/holder.out" || fail "first tunnel not up"
    cli second.out --server "$SRV" --reconnect --timeout 6
    jcheck "$d/second.out" "not E('tunnel_up') and E('tunnel_down')[0]['code'] == -603 and \
E('tunnel_down')[0]['retryable'] is True and len(E('reconnect')) >= 2 and \
E('reconnect')[1]['retry_in_ms'] > E('reconnect')[0]['retry_in_ms'] // 2" ||
        fail "second client did not get code 3 and back off"
    n=$(grep -c "rejected: out of tunnel resources" "$d/srv.log")
    [ "$n" -ge 2 ] && [ "$n" -le 6 ] || fail "$n rejections in 6 s: not backing off"
    # when the first tunnel goes, a backing-off client gets in
    tse_stop "$holder"
    cli third.out --server "$SRV" --reconnect --timeout 20 --ping 198.18.0.1 --count 1 ||
        fail "after the release a new client did not get a tunnel"
    ;;
server-shutdown)
    # SIGTERM to tscf-server: every UP tunnel gets a
    # Configuration_Release_Request first, so the client sees a release
    # (TSE_ERR_SERVER_RELEASED), not a dropped connection; the server
    # exits within its drain bound (3 s) once the clients answered
    "$SERVER" --listen 127.0.0.1:0 --cert "$d/server.pem" --key "$d/server.key" \
        --ready-file "$d/srv.ready" --echo 2>"$d/srv.log" &
    spid=$!
    pids="$pids $spid"
    i=0
    while [ ! -s "$d/srv.ready" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
    [ -s "$d/srv.ready" ] || fail "tscf-server did not start"
    SRV=$(head -n1 "$d/srv.ready")
    for n in 1 2; do
        timeout -k 5 60 "$CLI" --server "$SRV" --ca "$d/ca.pem" --sni tscf.test --json \
            --timeout 50 >"$d/held$n.out" 2>"$d/held$n.err" &
        eval "cpid$n=\$!"
        pids="$pids $!"
    done
    i=0
    while { ! grep -q tunnel_up "$d/held1.out" || ! grep -q tunnel_up "$d/held2.out"; } 2>/dev/null &&
          [ $i -lt 200 ]; do
        sleep 0.1; i=$((i + 1))
    done
    grep -q tunnel_up "$d/held1.out" && grep -q tunnel_up "$d/held2.out" ||
        fail "tunnels not up"
    t0=$(date +%s)
    kill -TERM "$spid"
    # bounded: the server must be gone within 20 s (drain 3 s + ASan room)
    tse_wait_exit "$spid" 20 || fail "tscf-server still running 20 s after SIGTERM"
    [ "$TSE_RC" -eq 0 ] || fail "tscf-server exit status $TSE_RC after SIGTERM"
    for n in 1 2; do
        eval "p=\$cpid$n"
        tse_wait_exit "$p" 20 || fail "client $n still running 20 s after the release"
        jcheck "$d/held$n.out" "E('tunnel_down') and E('tunnel_down')[0]['code'] == -507" ||
            fail "client $n did not see the release (TSE_ERR_SERVER_RELEASED)"
    done
    grep -q "releasing 2 tunnels" "$d/srv.log" || fail "server did not log the release"
    [ "$(grep -c 'freed: released on shutdown' "$d/srv.log")" -eq 2 ] ||
        fail "the server did not see both answers"
    echo "server gone $(( $(date +%s) - t0 )) s after SIGTERM"
    ;;
log-stats)
    # the library's log on stderr (--log) and the statistics line (--json:
    # at exit, and on SIGUSR1), checked against what the run did
    start_server srv --echo
    cli ls.out --server "$SRV" --no-proxy --log info --keepalive 1 \
        --ping 198.18.0.1 --count 3 --interval 2500 || fail "tse-cli --log info"
    for m in "[info] connecting to 127.0.0.1 port $SRV_PORT" "[info] TLS 1." \
             "[info] tunnel up: inner 198.18." "(new), keep-alive 1 s" \
             "[info] releasing the tunnel" "[info] RELEASING: "; do
        grep -qF "$m" "$d/ls.out.err" || fail "log line '$m' missing"
    done
    if grep -q "\[debug\]\|\[warn\]\|\[error\]" "$d/ls.out.err"; then
        fail "lines above --log info, or a warning in a clean run"
    fi
    jcheck "$d/ls.out" "len(E('stats')) == 1 and idx('stats') > idx('summary') and \
E('stats')[0]['cm_out'][1] == 1 and E('stats')[0]['cm_in'][2] == 1 and \
E('stats')[0]['cm_out'][5] == 1 and E('stats')[0]['cm_in'][6] == 1 and \
E('stats')[0]['packets_out'] == 3 and E('stats')[0]['packets_in'] == 3 and \
E('stats')[0]['records_in'] >= 4 and E('stats')[0]['outer_bytes_out'] > 300 and \
E('stats')[0]['outer_bytes_in'] > 300 and E('stats')[0]['keepalives_sent'] >= 2 and \
E('stats')[0]['keepalive_responses'] >= E('stats')[0]['keepalives_sent'] - 1 and \
E('stats')[0]['cm_out'][7] == E('stats')[0]['keepalives_sent'] and \
0 <= E('stats')[0]['ka_rtt_min_ms'] <= E('stats')[0]['ka_rtt_last_ms'] + 1000 and \
E('stats')[0]['ups'] == 1 and 5000 <= E('stats')[0]['up_ms'] < 60000 and \
E('stats')[0]['state'] == 'CLOSED'" || fail "statistics do not match the run"
    # SIGUSR1 while up: one stats line per signal, the tunnel stays up
    # (no timeout(1) around it: it would take the SIGUSR1 itself; --timeout
    # and tse_stop bound it)
    "$CLI" --server "$SRV" --ca "$d/ca.pem" --sni tscf.test --json \
        --no-proxy --timeout 50 >"$d/usr1.out" 2>"$d/usr1.err" &
    upid=$!
    pids="$pids $upid"
    i=0
    while ! grep -q tunnel_up "$d/usr1.out" 2>/dev/null && [ $i -lt 200 ]; do
        sleep 0.1; i=$((i + 1))
    done
    grep -q tunnel_up "$d/usr1.out" || fail "tunnel not up for SIGUSR1"
    kill -USR1 "$upid"
    i=0
    while ! grep -q '"event":"stats"' "$d/usr1.out" && [ $i -lt 100 ]; do
        sleep 0.1; i=$((i + 1))
    done
    kill -USR1 "$upid"
    i=0
    while [ "$(grep -c '"event":"stats"' "$d/usr1.out")" -lt 2 ] && [ $i -lt 100 ]; do
        sleep 0.1; i=$((i + 1))
    done
    kill -TERM "$upid"
    tse_wait_exit "$upid" 20 || fail "tse-cli still running 20 s after SIGTERM"
    jcheck "$d/usr1.out" "len(E('stats')) == 3 and E('stats')[0]['state'] == 'UP' and \
E('stats')[1]['state'] == 'UP' and E('stats')[2]['state'] == 'CLOSED' and \
E('stats')[0]['ups'] == 1 and idx('stats') > idx('tunnel_up')" ||
        fail "SIGUSR1: not one stats line per signal while up, then one at exit"
    # debug lines: a debug build shows them (mbed TLS's too), another
    # refuses --log debug with exit status 2 and says why
    if cli dbg.out --server "$SRV" --no-proxy --log debug --tls-debug 1 \
           --ping 198.18.0.1 --count 1; then
        grep -qF "[debug] sending Configuration_Request seq 1" "$d/dbg.out.err" ||
            fail "debug build: no debug line for the Configuration_Request"
        grep -qF "[debug] mbedtls " "$d/dbg.out.err" || fail "debug build: no mbed TLS debug"
        echo "debug build: $(grep -c '\[debug\]' "$d/dbg.out.err") debug lines"
    else
        rc=$?
        [ $rc -eq 2 ] || fail "--log debug: exit $rc, expected 0 (debug build) or 2"
        grep -q "TSE_LOG_DEBUG" "$d/dbg.out.err" || fail "--log debug refused without saying why"
    fi
    # bad values are usage errors
    cli bad1.out --server "$SRV" --log loud && fail "--log loud accepted"
    [ $? -eq 2 ] || fail "--log loud: not exit 2"
    grep -q "expected error, warn, info or debug" "$d/bad1.out.err" || fail "--log loud: no reason"
    cli bad2.out --server "$SRV" --tls-debug 5 && fail "--tls-debug 5 accepted"
    grep -q "expected 0 to 4" "$d/bad2.out.err" || fail "--tls-debug 5: no reason"
    ;;
tunnels-200)
    start_server srv --echo --pool 198.18.0.0/23
    cli many.out --server "$SRV" --tunnels 200 --ping 198.18.0.1 --count 2 --interval 500 \
        --timeout 80 || fail "tse-cli --tunnels 200 failed"
    jcheck "$d/many.out" "E('summary')[0]['tunnels_up'] == 200 and \
E('summary')[0]['replies'] == 400 and \
len(set(e['inner_ipv4'] for e in E('tunnel_up'))) == 200" ||
        fail "not 200 distinct tunnels with 400 replies"
    ;;
*)
    echo "unknown scenario $SCENARIO"; exit 2 ;;
esac
echo "ok [$SCENARIO]"
exit 0
