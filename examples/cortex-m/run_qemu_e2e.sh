#!/bin/sh
# run_qemu_e2e.sh SRC BUILD_DIR TSCF_SERVER GEN_CERTS [SCENARIO]
#
# The Cortex-M4 image (examples/cortex-m) under QEMU mps2-an386, against
# tscf-server and sipp in a network namespace this script creates:
#
#   netns tse-mcu-PID
#     tapN 192.0.2.1/24  <== QEMU's LAN9118 (-nic tap) ==  device 192.0.2.2
#     tscf-server --listen 192.0.2.1:443 --tun tscf0 (198.18.0.1/24)
#     sipp UAS on 198.18.0.1:5060/UDP (answers OPTIONS with 200)
#
# It cross-builds the image first (BUILD_DIR, with
# cmake/toolchain-arm-none-eabi.cmake; incremental), then boots it; the
# device brings a tunnel up over TLS, sends SIP OPTIONS through it, prints
# the answer on its UART, releases the tunnel and exits through semihosting.
# SCENARIO sip (default): passes when QEMU's exit status is 0 (the
# device's verdict), the UART log shows the 200, the release and the
# measurements, and sipp logged the request from the inner address.
# SCENARIO bad-ca: the device trusts another CA than the one that signed
# tscf-server's certificate: it must report TSE_ERR_TLS_CERT_UNTRUSTED
# (-401), send nothing through a tunnel, leave no heap behind and exit 2.  The device's measurements (FOOTPRINT
# line) are copied to BUILD_DIR/device-footprint.txt for .ci/check-footprint.
#
# Exit 77 (skip) without root, ip netns, /dev/net/tun, sipp, qemu-system-arm
# or arm-none-eabi-gcc.  Everything started is stopped and the namespace
# removed on exit; every wait is bounded.
set -u
SRC=$1 BUILD=$2 SERVER=$3 GEN=$4 SC=${5:-sip}
case $SC in sip|bad-ca) ;; *) echo "unknown scenario $SC"; exit 2;; esac

skip() { echo "SKIP: $*"; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root (network namespace, TAP)"
command -v ip >/dev/null 2>&1 || skip "no ip (iproute2)"
[ -c /dev/net/tun ] || skip "no /dev/net/tun"
command -v sipp >/dev/null 2>&1 || skip "no sipp (sip-tester)"
QEMU=$(command -v qemu-system-arm) || skip "no qemu-system-arm"
command -v arm-none-eabi-gcc >/dev/null 2>&1 || skip "no arm-none-eabi-gcc (gcc-arm-none-eabi)"
[ -x "$SERVER" ] || { echo "no tscf-server $SERVER"; exit 1; }

# ---- the image ---------------------------------------------------------------
GEN_ARGS=""
command -v ninja >/dev/null 2>&1 && GEN_ARGS="-G Ninja"
if [ ! -f "$BUILD/CMakeCache.txt" ]; then
    # shellcheck disable=SC2086
    cmake -S "$SRC/examples/cortex-m" -B "$BUILD" $GEN_ARGS \
        -DCMAKE_TOOLCHAIN_FILE="$SRC/cmake/toolchain-arm-none-eabi.cmake" >/dev/null ||
        { echo "FAIL: cross configure"; exit 1; }
fi
cmake --build "$BUILD" -j 2 --target tse-mps2.elf >"$BUILD/e2e-build.log" 2>&1 ||
    { tail -n 30 "$BUILD/e2e-build.log"; echo "FAIL: cross build"; exit 1; }
IMG=$BUILD/tse-mps2.elf

NS=tse-mcu-$$ TAP=tapm$$
ip netns add "$NS" 2>/dev/null || skip "cannot create network namespaces"
D=$(mktemp -d /tmp/tse-mcu.XXXXXX)
BG=""
cleanup() {
    rc=$?
    for p in $BG; do kill "$p" 2>/dev/null; done
    n=50
    for p in $BG; do
        while kill -0 "$p" 2>/dev/null && [ $n -gt 0 ]; do sleep 0.1; n=$((n - 1)); done
        kill -9 "$p" 2>/dev/null
    done
    for p in $(ip netns pids "$NS" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
    ip netns del "$NS" 2>/dev/null
    if [ $rc != 0 ] && [ $rc != 77 ]; then
        for f in "$D"/*.log; do [ -f "$f" ] && { echo "--- $f"; tail -n 40 "$f"; }; done
    fi
    rm -rf "$D"
    exit $rc
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
fail() { echo "FAIL: $*"; exit 1; }
wait_for() {
    n=$(($1 * 10)); shift
    while [ $n -gt 0 ]; do "$@" && return 0; sleep 0.1; n=$((n - 1)); done
    return 1
}

ip -n "$NS" link set lo up || fail "lo"
ip -n "$NS" tuntap add dev "$TAP" mode tap || fail "tap"
ip -n "$NS" addr add 192.0.2.1/24 dev "$TAP" && ip -n "$NS" link set "$TAP" up || fail "tap address"
sh "$GEN" "$D" >/dev/null 2>&1 || fail "certificates"
CA=$D/ca.pem
if [ $SC = bad-ca ]; then
    mkdir "$D/other" && sh "$GEN" "$D/other" >/dev/null 2>&1 || fail "second CA"
    cmp -s "$D/ca.pem" "$D/other/ca.pem" && fail "the two CAs are the same"
    CA=$D/other/ca.pem
fi

ip netns exec "$NS" "$SERVER" --listen 192.0.2.1:443 --cert "$D/server.pem" --key "$D/server.key" \
    --tun tscf0 --ready-file "$D/ready" 2>"$D/server.log" &
BG="$BG $!"
wait_for 10 test -s "$D/ready" || fail "tscf-server did not start"
wait_for 5 sh -c "ip -n $NS -4 addr show dev tscf0 | grep -q 198.18.0.1/24" || fail "no 198.18.0.1 on tscf0"

ip netns exec "$NS" sipp -sf "$SRC/test/e2e/netns/options_uas.xml" -i 198.18.0.1 -p 5060 -t u1 -nostdin \
    -timeout 180s -trace_msg -message_file "$D/sipp_msg.log" >"$D/sipp.log" 2>&1 &
BG="$BG $!"
wait_for 10 sh -c "ip netns exec $NS ss -lun | grep -q 198.18.0.1:5060" || fail "sipp not listening"

# The device: its UART goes to uart.log; its verdict is QEMU's exit status.
ip netns exec "$NS" timeout -k 5 180 "$QEMU" -M mps2-an386 -display none -monitor none \
    -serial "file:$D/uart.log" \
    -nic "tap,ifname=$TAP,script=no,downscript=no,model=lan9118,mac=52:54:00:12:34:56" \
    -semihosting-config "enable=on,target=native,arg=tse-mps2,arg=ip=192.0.2.2,arg=gw=192.0.2.1,arg=server=192.0.2.1,arg=port=443,arg=sni=tscf.test,arg=ca=$CA,arg=sip=198.18.0.1" \
    -kernel "$IMG" >"$D/qemu.log" 2>&1
rc=$?
cat "$D/uart.log"
if [ $SC = bad-ca ]; then
    [ $rc = 2 ] || fail "the device exited with status $rc, not 2"
    grep -q "tunnel down: error -401" "$D/uart.log" || fail "no TSE_ERR_TLS_CERT_UNTRUSTED (-401) on the UART"
    grep -q "tunnel up" "$D/uart.log" && fail "a tunnel came up with the wrong CA"
    grep -q "^FOOTPRINT .* heap_end=0 " "$D/uart.log" || fail "heap in use after tse_tunnel_del()"
    [ -s "$D/sipp_msg.log" ] && grep -q OPTIONS "$D/sipp_msg.log" && fail "sipp saw a request"
    echo "PASS"
    exit 0
fi
[ $rc = 0 ] || fail "the device exited with status $rc"
grep -q "tunnel up: inner address 198.18.0." "$D/uart.log" || fail "no tunnel up on the UART"
grep -q "SIP answer: SIP/2.0 200 OK" "$D/uart.log" || fail "no 200 OK on the UART"
grep -q "tunnel released" "$D/uart.log" || fail "the tunnel was not released"
grep -q "^FOOTPRINT " "$D/uart.log" || fail "no measurements"
grep -q "^FOOTPRINT .* heap_end=0 " "$D/uart.log" || fail "heap in use after tse_tunnel_del()"
grep -q "^FOOTPRINT .* allocs_while_up=0 " "$D/uart.log" || fail "heap allocations in steady state (tunnel up)"
grep -q "OPTIONS sip:198.18.0.1:5060" "$D/sipp_msg.log" || fail "sipp did not log the request"
grep -q "SIP/2.0/UDP 198.18.0." "$D/sipp_msg.log" || fail "the request did not come from an inner address"
grep "^FOOTPRINT " "$D/uart.log" | tr -d '\r' >"$BUILD/device-footprint.txt"
echo "PASS"
