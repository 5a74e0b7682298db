#!/usr/bin/env bash
# Long fuzzing runs on demand (not in CI; CI runs each target for 60 s).
#
#   test/fuzz/long-fuzz.sh [options] MINUTES [TARGET=MINUTES ...]
#   (options first)
#
# Builds the fuzz tree (clang, TSE_BUILD_FUZZ=ON, TSE_DEPS=system, no
# examples), then for every fuzz_* target:
#   1. minimises its seed corpus test/fuzz/corpus/<target>/ plus the corpus
#      kept from earlier runs (OUT/<target>/kept) into a fresh directory
#      (libFuzzer -merge=1): "corpus before";
#   2. fuzzes that directory for MINUTES (or the target's own TARGET=MINUTES;
#      0 skips the target) with -print_final_stats=1;
#   3. minimises the result again into a fresh directory: "corpus after",
#      which becomes OUT/<target>/kept for the next run.
# Then prints a table (target, minutes, execs, exec/s, corpus before/after,
# crashes) and the total, also written to OUT/summary.md.  Exits non-zero
# if any target crashed, leaked, timed out or failed to run; crash inputs
# stay in OUT/<target>/artifacts/.  The repository is never modified.
#
# Options:
#   -j N        targets at a time (default 1, at most 2: one core each)
#   -b DIR      build directory (default build/long-fuzz)
#   -o DIR      output directory (default build/long-fuzz-out)
#   -t LIST     only these targets (comma-separated names)
#   -B          do not configure/build (use DIR as it is)
#
# Every step is bounded: each libFuzzer process runs under timeout(1)
# (fuzzing: its time plus 5 min; each merge: 30 min).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
SRC=$PWD

usage() { sed -n '2,28p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }

JOBS=1 BUILD=build/long-fuzz OUT=build/long-fuzz-out ONLY="" DO_BUILD=1
while getopts "j:b:o:t:Bh" opt; do
  case $opt in
    j) JOBS=$OPTARG ;;
    b) BUILD=$OPTARG ;;
    o) OUT=$OPTARG ;;
    t) ONLY=",$OPTARG," ;;
    B) DO_BUILD=0 ;;
    *) usage ;;
  esac
done
shift $((OPTIND - 1))
[ $# -ge 1 ] || usage
MINUTES=$1; shift
case $MINUTES in ''|*[!0-9.]*) usage ;; esac
case $JOBS in 1|2) ;; *) echo "long-fuzz: -j must be 1 or 2" >&2; exit 2 ;; esac
declare -A PER=()
for a in "$@"; do
  case $a in
    fuzz_*=*) PER[${a%%=*}]=${a#*=} ;;
    *) usage ;;
  esac
done

if [ "$DO_BUILD" = 1 ]; then
  GEN=()
  if command -v ninja >/dev/null 2>&1; then GEN=(-G Ninja); fi
  echo "long-fuzz: building $BUILD"
  mkdir -p "$(dirname "$BUILD")"
  if ! CC=clang timeout 1800 cmake -S . -B "$BUILD" "${GEN[@]}" -DTSE_BUILD_FUZZ=ON \
         -DTSE_DEPS=system -DTSE_BUILD_EXAMPLES=OFF >"$BUILD.configure.log" 2>&1; then
    cat "$BUILD.configure.log"; echo "long-fuzz: configure failed" >&2; exit 1
  fi
  if ! timeout 3600 cmake --build "$BUILD" -j "$JOBS"; then
    echo "long-fuzz: build failed" >&2; exit 1
  fi
fi

# the checkout's commit as the run starts, named in the table (with -B, the
# build directory must be of it)
commit=$(git -C "$SRC" rev-parse --short HEAD 2>/dev/null || echo "?")
dirty=$(git -C "$SRC" status --porcelain -- lib include port examples test/fuzz 2>/dev/null | head -n 1)
[ -n "$dirty" ] && commit="$commit+dirty"

targets=()
while IFS= read -r f; do
  name=$(basename "$f")
  if [ -n "$ONLY" ] && [[ $ONLY != *",$name,"* ]]; then continue; fi
  targets+=("$f")
done < <(find "$BUILD/test/fuzz" -maxdepth 1 -type f -name 'fuzz_*' -perm -u+x ! -name '*.*' | sort)
if [ ${#targets[@]} -eq 0 ]; then echo "long-fuzz: no fuzz_* targets in $BUILD" >&2; exit 1; fi
mkdir -p "$OUT"

nfiles() { find "$1" -maxdepth 1 -type f 2>/dev/null | wc -l; }

# One target, start to end; its results go to OUT/<name>/result as
# "minutes execs exec_per_s before after crashes status".
run_one() {
  local bin=$1 name mins secs d rc status=ok
  name=$(basename "$bin")
  mins=${PER[$name]:-$MINUTES}
  d=$OUT/$name
  if awk -v m="$mins" 'BEGIN { exit !(m <= 0) }'; then
    rm -f "$d/result"; return 0
  fi
  mkdir -p "$d/kept" "$d/artifacts"
  rm -rf "$d/before" "$d/after"
  mkdir -p "$d/before" "$d/after"
  local seeds=()
  [ -d "test/fuzz/corpus/$name" ] && seeds+=("test/fuzz/corpus/$name")
  # 1. minimise seeds + kept corpus into a fresh directory
  timeout 1800 "$bin" -merge=1 -artifact_prefix="$d/artifacts/" "$d/before" \
    "${seeds[@]}" "$d/kept" </dev/null >"$d/merge-before.log" 2>&1 || status="merge-before-failed"
  local before after
  before=$(nfiles "$d/before")
  # 2. fuzz it
  secs=$(awk -v m="$mins" 'BEGIN { printf "%d", m * 60 }')
  echo "long-fuzz: $name for ${mins} min (corpus $before files)"
  timeout $((secs + 300)) "$bin" -max_total_time="$secs" -print_final_stats=1 \
    -artifact_prefix="$d/artifacts/" "$d/before" </dev/null >"$d/fuzz.log" 2>&1
  rc=$?
  [ "$rc" -eq 0 ] || status="fuzz-exit-$rc"
  # 3. minimise the result
  timeout 1800 "$bin" -merge=1 -artifact_prefix="$d/artifacts/" "$d/after" "$d/before" \
    </dev/null >"$d/merge-after.log" 2>&1 || { [ "$status" = ok ] && status="merge-after-failed"; }
  after=$(nfiles "$d/after")
  if [ "$after" -gt 0 ]; then rm -rf "$d/kept"; cp -R "$d/after" "$d/kept"; fi
  local execs eps crashes
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$d/fuzz.log" | tail -n 1)
  eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$d/fuzz.log" | tail -n 1)
  crashes=$(nfiles "$d/artifacts")
  [ "$crashes" -eq 0 ] || status="crash"
  echo "$mins ${execs:-0} ${eps:-0} $before $after $crashes $status" >"$d/result"
  echo "long-fuzz: $name done: ${execs:-?} execs, ${eps:-?}/s, $status"
}

running=0
for f in "${targets[@]}"; do
  run_one "$f" &
  running=$((running + 1))
  if [ "$running" -ge "$JOBS" ]; then wait -n; running=$((running - 1)); fi
done
wait

fail=0 total=0
{
  echo "long-fuzz: $(date -u '+%Y-%m-%d %H:%M UTC'), commit $commit, $(clang --version | head -n 1)"
  echo
  echo "| target | min | execs | exec/s | corpus before | corpus after | crashes | status |"
  echo "|---|---:|---:|---:|---:|---:|---:|---|"
  for f in "${targets[@]}"; do
    name=$(basename "$f")
    m=${PER[$name]:-$MINUTES}
    if awk -v m="$m" 'BEGIN { exit !(m <= 0) }'; then continue; fi
    if ! read -r mins execs eps before after crashes status <"$OUT/$name/result" 2>/dev/null; then
      mins=? execs=0 eps=0 before=? after=? crashes=? status=no-result
    fi
    [ "$status" = ok ] || fail=1
    total=$((total + execs))
    printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' \
      "$name" "$mins" "$execs" "$eps" "$before" "$after" "$crashes" "$status"
  done
  echo
  echo "total executions: $total"
} >"$OUT/summary.md"
cat "$OUT/summary.md"
if [ "$fail" -ne 0 ]; then
  echo "long-fuzz: FAILED (see $OUT/<target>/)" >&2
  exit 1
fi
exit 0
