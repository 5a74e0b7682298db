# fwlab_lib.sh: the firewall lab's topology, rulesets and squid, shared by
# fwlab.sh (detection per NAT/FW type) and roamlab.sh (roaming between
# types).  Source it (bash) after setting:
#
#   HERE   this directory          D      a scratch directory (mode 755)
#   UE FW NET  namespace names     DELAY  one-way UE-FW delay in ms (0: veth)
#   SRV    tscf-server             NETPIDS TYPEPIDS  lists the helpers append
#                                          the PIDs they start to
#
#   UE  UE_ADDR/24 ---- 192.0.2.1 FW 198.51.100.1 ---- 198.51.100.2 NET
#                                                      203.0.113.10-.13 on lo
#
#   lab_net_up               NET, certificates in $D, tscf-server --tun on
#                            203.0.113.10:443 and :80 (log level
#                            LAB_TSCF_LOG, default warn); not waited for
#   topo_up [UE_ADDR]        UE and FW (and the delay wire), default 192.0.2.2
#   topo_down                stops TYPEPIDS, removes UE and FW
#   rules_for TYPE           the FW's nftables ruleset of a type (table ip lab)
#   describe TYPE            one line about the type
#   start_squid AUTH         squid on 192.0.2.1:3128 in FW (AUTH 1: Basic,
#                            alice:s3cret-lab); waited for
#   wait_for CMD...          CMD until it succeeds, at most 10 s
#   listening NS PROTO ADDR:PORT
#   kill_list "PIDS"         TERM, a bounded wait, KILL (test/lib/procs.sh)
# shellcheck shell=bash
# shellcheck source-path=SCRIPTDIR source=../lib/procs.sh
. "$HERE/../lib/procs.sh"

# kill_list "PIDS": TERM, a bounded wait, then KILL (test/lib/procs.sh)
kill_list() {
    # shellcheck disable=SC2086
    [ -n "$1" ] && TSE_STOP_WAIT=3 tse_stop $1
}

# wait_for CMD...: up to 10 s
wait_for() {
    local i
    for i in $(seq 1 100); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    return 1
}

listening() { # NS PROTO ADDR:PORT
    ip netns exec "$1" ss -Hln"$2" 2>/dev/null | grep -q " $3 "
}

lab_net_up() {
    ip netns add "$NET" || return 1
    ip -n "$NET" link set lo up
    ip -n "$NET" addr add 203.0.113.10/32 dev lo
    ip -n "$NET" addr add 203.0.113.11/32 dev lo
    # TR 33.830 8.3 (fwlab.sh): the P-CSCF's SIP over TLS and the TURN
    # server's TLS, each on its own address because the TSCF has :443
    ip -n "$NET" addr add 203.0.113.12/32 dev lo
    ip -n "$NET" addr add 203.0.113.13/32 dev lo
    ip netns exec "$NET" sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0

    sh "$HERE/../e2e/gen_certs.sh" "$D" || { echo "FAIL: certificates"; return 1; }

    ip netns exec "$NET" "$SRV" --listen 203.0.113.10:443 --listen 203.0.113.10:80 \
        --cert "$D/server.pem" --key "$D/server.key" --tun tltun0 --pool 198.18.0.0/24 \
        --log-level "${LAB_TSCF_LOG:-warn}" >"$D/tscf.log" 2>&1 &
    NETPIDS="$NETPIDS $!"
}

topo_up() { # [UE_ADDR]: the UE's outer address (default 192.0.2.2)
    ip netns add "$UE" || return 1
    ip netns add "$FW" || return 1
    ip -n "$UE" link set lo up
    ip -n "$FW" link set lo up
    if [ "$DELAY" -gt 0 ]; then
        rm -f "$D/wire.ready"
        python3 "$HERE/delay_wire.py" "$UE" ue0 "$FW" fwin "$DELAY" "$D/wire.ready" 600 \
            2>"$D/wire.log" &
        TYPEPIDS="$TYPEPIDS $!"
        wait_for test -f "$D/wire.ready" || { echo "FAIL: delay wire"; cat "$D/wire.log"; return 1; }
    else
        ip link add ue0 netns "$UE" type veth peer name fwin netns "$FW" || return 1
    fi
    ip link add fwout netns "$FW" type veth peer name net0 netns "$NET" || return 1
    ip -n "$UE" addr add "${1:-192.0.2.2}/24" dev ue0
    ip -n "$UE" link set ue0 up
    ip -n "$UE" route add default via 192.0.2.1 dev ue0 onlink
    ip -n "$FW" addr add 192.0.2.1/24 dev fwin
    ip -n "$FW" link set fwin up
    ip -n "$FW" addr add 198.51.100.1/24 dev fwout
    ip -n "$FW" link set fwout up
    ip -n "$FW" route add 203.0.113.0/24 via 198.51.100.2
    ip netns exec "$FW" sysctl -qw net.ipv4.ip_forward=1
    ip -n "$NET" addr add 198.51.100.2/24 dev net0
    ip -n "$NET" link set net0 up
}

topo_down() {
    kill_list "$TYPEPIDS"
    TYPEPIDS=""
    # namespace teardown is asynchronous: delete NET's end of the FW link
    # now, so that the next type can create it again at once
    ip -n "$NET" link del net0 2>/dev/null
    ip netns del "$UE" 2>/dev/null
    ip netns del "$FW" 2>/dev/null
}

# The nftables ruleset of a type (see docs/detect.md, "The firewall lab").
rules_for() {
    local t=$1 snat="oifname \"fwout\" snat to 198.51.100.1" pre="" fwd="" dpi="" extra=""
    case $t in
    0)  snat=""; fwd="iifname \"fwin\" accept" ;;
    1)  # full cone (one inside host): port-preserving SNAT; anything arriving
        # on a high UDP port of the outside address goes to the UE
        pre="iifname \"fwout\" ip daddr 198.51.100.1 udp dport 1024-65535 dnat to 192.0.2.2"
        fwd="iifname \"fwin\" accept
        ct status dnat accept" ;;
    2)  # address-restricted cone: like 1, but only from hosts the UE sent to
        extra="set contacted { type ipv4_addr; flags dynamic, timeout; timeout 300s; }"
        pre="iifname \"fwout\" ip saddr @contacted ip daddr 198.51.100.1 udp dport 1024-65535 dnat to 192.0.2.2"
        fwd="iifname \"fwin\" update @contacted { ip daddr } accept
        ct status dnat accept" ;;
    3)  # port-restricted cone: Linux's own conntrack NAT (port-preserving,
        # endpoint-independent mapping; only the exact peer may answer)
        fwd="iifname \"fwin\" accept" ;;
    4)  # symmetric: a random outside port per connection (5-tuple)
        snat="oifname \"fwout\" snat to 198.51.100.1 fully-random"
        fwd="iifname \"fwin\" accept" ;;
    5)  fwd="iifname \"fwin\" meta l4proto { tcp, udp } th dport { 80, 443 } accept" ;;
    5b) fwd="iifname \"fwin\" tcp dport 80 accept" ;; # only port 80: the second tunnel port wins
    6)  fwd="iifname \"fwin\" meta l4proto tcp accept" ;;
    7)  fwd="iifname \"fwin\" tcp dport 443 accept" ;;
    8|8a|8b) fwd="" ;; # nothing is forwarded: only the proxy on the FW goes out
    9)  # DPI: SIP (request methods and SIP/2.0 responses, first 4 payload
        # bytes) dropped on every UDP/TCP port; on port 443 only TLS records
        # (content types 20-23) pass; everything else is forwarded
        dpi="meta l4proto { tcp, udp } @ih,0,32 { 0x4f505449, 0x52454749, 0x494e5649, 0x53495032, 0x41434b20, 0x42594520, 0x43414e43, 0x53554253, 0x4e4f5449, 0x4d455353, 0x494e464f, 0x50524143, 0x55504441, 0x52454645, 0x5055424c } counter drop
        tcp dport 443 @ih,0,8 != { 0x14, 0x15, 0x16, 0x17 } counter drop
        tcp sport 443 @ih,0,8 != { 0x14, 0x15, 0x16, 0x17 } counter drop"
        fwd="iifname \"fwin\" accept" ;;
    *)  echo "unknown type $t" >&2; return 1 ;;
    esac
    cat <<EOF
table ip lab {
    $extra
    chain filter_fwd {
        type filter hook forward priority 0; policy drop;
        $dpi
        ct state established,related accept
        $fwd
    }
    chain nat_pre {
        type nat hook prerouting priority -100; policy accept;
        $pre
    }
    chain nat_post {
        type nat hook postrouting priority 100; policy accept;
        $snat
    }
}
EOF
}

describe() {
    case $1 in
    0) echo "open (no NAT, no filter)" ;;
    1) echo "full-cone NAT" ;;
    2) echo "address-restricted cone NAT" ;;
    3) echo "port-restricted cone NAT" ;;
    4) echo "symmetric NAT" ;;
    5) echo "only ports 80 and 443 (TCP and UDP)" ;;
    5b) echo "only TCP 80 (the tunnel falls back to the second port)" ;;
    6) echo "TCP only" ;;
    7) echo "only TCP 443" ;;
    8) echo "explicit HTTP proxy only (squid, no auth)" ;;
    8a) echo "explicit HTTP proxy only (squid, Basic auth)" ;;
    8b) echo "explicit HTTP proxy only, WRONG credentials: nothing works" ;;
    9) echo "DPI: SIP dropped on any port, only TLS on 443" ;;
    esac
}

start_squid() { # AUTH (0|1)
    local authconf="" access="http_access allow lan"
    if [ "$1" = 1 ]; then
        [ -x /usr/lib/squid/basic_ncsa_auth ] || { echo "basic_ncsa_auth missing"; return 1; }
        printf 'alice:%s\n' "$(openssl passwd -apr1 's3cret-lab')" >"$D/passwd"
        chmod 644 "$D/passwd"
        authconf="auth_param basic program /usr/lib/squid/basic_ncsa_auth $D/passwd
auth_param basic realm fwlab
acl authed proxy_auth REQUIRED"
        access="http_access allow lan authed"
    fi
    cat >"$D/squid.conf" <<EOF
http_port 192.0.2.1:3128
pid_filename $D/squid.pid
cache_log $D/squid.log
access_log $D/squid-access.log
cache_store_log none
cache deny all
cache_mem 4 MB
coredump_dir $D
cache_effective_user proxy
shutdown_lifetime 0 seconds
$authconf
acl lan src 192.0.2.0/24
acl tscf_ports port 443 80
acl CONNECT method CONNECT
http_access deny !CONNECT
http_access deny CONNECT !tscf_ports
$access
http_access deny all
EOF
    : >"$D/squid.log"
    : >"$D/squid-access.log"
    chown proxy "$D/squid.log" "$D/squid-access.log" 2>/dev/null
    ip netns exec "$FW" squid -N -f "$D/squid.conf" 2>>"$D/squid.log" &
    TYPEPIDS="$TYPEPIDS $!"
    wait_for listening "$FW" t 192.0.2.1:3128 || { echo "squid did not start"; tail "$D/squid.log"; return 1; }
}
