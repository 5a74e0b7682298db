#!/bin/sh
# test_procs.sh: procs.sh keeps its promise - a process that ignores SIGTERM
# is killed after TSE_STOP_WAIT, never waited on for ever; exit statuses
# come through; a zombie does not count as running.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/procs.sh"
fail() { echo "FAIL: $*"; exit 1; }

sh -c 'exit 3' &
p=$!
sleep 0.3 # now a zombie until reaped
tse_alive "$p" && fail "a zombie counts as running"
tse_wait_exit "$p" 2 || fail "tse_wait_exit on an exited process"
[ "$TSE_RC" = 3 ] || fail "exit status $TSE_RC, expected 3"

sleep 30 &
p=$!
tse_wait_exit "$p" 1 && fail "tse_wait_exit returned for a running process"
tse_alive "$p" || fail "tse_alive: running process not alive"

# ignores TERM: killed after the bound, in about TSE_STOP_WAIT seconds
sh -c 'trap "" TERM; while :; do sleep 0.1; done' &
q=$!
t0=$(date +%s)
TSE_STOP_WAIT=2 tse_stop "$p" "$q" 2>/dev/null
t=$(($(date +%s) - t0))
tse_alive "$p" && fail "sleep still running"
tse_alive "$q" && fail "a TERM-ignoring process survived tse_stop"
[ "$t" -le 6 ] || fail "tse_stop took $t s with TSE_STOP_WAIT=2"

# a handled TERM: its exit status is reported
sh -c 'trap "exit 7" TERM; while :; do sleep 0.1; done' &
p=$!
sleep 0.3
tse_stop "$p"
[ "$TSE_RC" = 7 ] || fail "status after TERM $TSE_RC, expected 7"
echo "ok"
