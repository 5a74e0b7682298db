# procs.sh - bounded process handling for the test scripts (POSIX sh;
# source it).  Every wait on a process is bounded: a stop is a signal, a
# bounded wait, then SIGKILL, so a process that ignores or is slow to act on
# SIGTERM (an ASan build on a loaded 2-core machine) cannot hang a test
# until ctest's timeout.
#
#   tse_alive PID              true while PID runs (a zombie is not running)
#   tse_wait_exit PID SECS     wait at most SECS for PID to exit; 0 if it
#                              did (its status in TSE_RC), 1 if not (still
#                              running, TSE_RC empty)
#   tse_stop [-SIG] PID...     SIG (default TERM) to each, then at most
#                              TSE_STOP_WAIT seconds (default 10) for all,
#                              then SIGKILL to what is left; reaps them all.
#                              TSE_RC: the status of the last PID.
TSE_STOP_WAIT=${TSE_STOP_WAIT:-10}

tse_alive() {
    # /proc/PID/stat: "pid (comm) S ..."; comm may hold spaces or ')'
    _st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)
    [ -n "$_st" ] && [ "$_st" != Z ]
}

# Bounds are deadlines on the clock, not counts of 0.1 s naps: on a loaded
# machine each round (three forks and a sleep) can take far longer than
# 0.1 s.  The round count is also capped (50 a second) so no loop is
# unbounded even if the clock stood still.
tse_wait_exit() {
    _p=$1
    _end=$(($(date +%s) + $2 + 1)) # at least $2 s whole
    _n=$(($2 * 50 + 10))
    TSE_RC=
    while tse_alive "$_p" && [ "$_n" -gt 0 ] && [ "$(date +%s)" -lt "$_end" ]; do
        sleep 0.1
        _n=$((_n - 1))
    done
    tse_alive "$_p" && return 1
    wait "$_p" 2>/dev/null
    TSE_RC=$?
    return 0
}

tse_stop() {
    _sig=TERM
    case ${1:-} in -*) _sig=${1#-}; shift ;; esac
    for _p in "$@"; do kill "-$_sig" "$_p" 2>/dev/null; done
    _end=$(($(date +%s) + TSE_STOP_WAIT + 1))
    _n=$((TSE_STOP_WAIT * 50 + 10))
    for _p in "$@"; do
        while tse_alive "$_p" && [ "$_n" -gt 0 ] && [ "$(date +%s)" -lt "$_end" ]; do
            sleep 0.1
            _n=$((_n - 1))
        done
    done
    for _p in "$@"; do
        if tse_alive "$_p"; then
            echo "tse_stop: $_p did not exit within ${TSE_STOP_WAIT} s of SIG$_sig: SIGKILL" >&2
            kill -KILL "$_p" 2>/dev/null
        fi
    done
    TSE_RC=
    for _p in "$@"; do
        # the process is gone (or killed just now): wait only reaps it
        _i=50
        while tse_alive "$_p" && [ "$_i" -gt 0 ]; do sleep 0.1; _i=$((_i - 1)); done
        wait "$_p" 2>/dev/null
        TSE_RC=$?
    done
}
