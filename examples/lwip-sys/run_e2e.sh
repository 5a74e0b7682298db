#!/bin/sh
# run_e2e.sh TSCF_SERVER GEN_CERTS EXAMPLE [ARGS...]
# The lwIP examples' end-to-end test (ctest label e2e): a fresh test PKI,
# tscf-server --echo on a free loopback port, then EXAMPLE --server ADDR
# --ca ca.pem --sni tscf.test ARGS; its exit status is the test's.
# Everything started is stopped and the temporary directory removed.
set -eu
SERVER=$1 GEN=$2 EXAMPLE=$3
shift 3
TMP=$(mktemp -d /tmp/tse-lwip-e2e.XXXXXX)
# tse_stop: TERM, a bounded wait, then KILL
. "$(cd "$(dirname "$GEN")" && pwd)/../lib/procs.sh"
PID=""
cleanup() {
    rc=$?
    if [ -n "$PID" ]; then tse_stop "$PID" || true; fi
    rm -rf "$TMP"
    exit $rc
}
trap cleanup EXIT
sh "$GEN" "$TMP"
"$SERVER" --listen 127.0.0.1:0 --cert "$TMP/server.pem" --key "$TMP/server.key" --echo \
    --ready-file "$TMP/ready" 2>"$TMP/server.log" &
PID=$!
i=0
while [ ! -s "$TMP/ready" ] && [ $i -lt 100 ]; do
    kill -0 "$PID" 2>/dev/null || { cat "$TMP/server.log"; exit 1; }
    sleep 0.1
    i=$((i + 1))
done
[ -s "$TMP/ready" ] || { echo "tscf-server did not start"; cat "$TMP/server.log"; exit 1; }
ADDR=$(head -n1 "$TMP/ready")
status=0
timeout -k 10 60 "$EXAMPLE" --server "$ADDR" --ca "$TMP/ca.pem" --sni tscf.test "$@" || status=$?
[ $status -eq 0 ] || { echo "--- tscf-server log"; cat "$TMP/server.log"; }
exit $status
