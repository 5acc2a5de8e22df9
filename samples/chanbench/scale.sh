#!/usr/bin/env bash
# samples/chanbench/scale.sh: chanbench across worker counts, for a machine
# with more cores than ours. Writes one JSON line per run to $OUT/rill.jsonl
# (and the peers' lines beside it when their binaries are given).
#
#   OUT=results samples/chanbench/scale.sh
#   OUT=results CHANBENCH=build/samples/chanbench/chanbench GO_BENCH=bench-bin/go_bench \
#       FIBER_BENCH=bench-bin/fiber_bench samples/chanbench/scale.sh
#
# Environment: OUT (required), THREADS (default "1 2 4 8 16"), WORKLOADS
# (default "pingpong mpmc mpmc_unbuf select4 spawn chain"), REPEAT (default 3),
# QUICK=1 (small sizes, one pass: a smoke test), TIMEOUT per run (default 300 s).
set -u
: "${OUT:?set OUT to the directory for the JSON lines}"
here=$(cd "$(dirname "$0")" && pwd)
CHANBENCH=${CHANBENCH:-$here/../../build/samples/chanbench/chanbench}
THREADS=${THREADS:-"1 2 4 8 16"}
WORKLOADS=${WORKLOADS:-"pingpong mpmc mpmc_unbuf select4 spawn chain"}
REPEAT=${REPEAT:-3}
TIMEOUT=${TIMEOUT:-300}
mkdir -p "$OUT"
size() {   # QUICK=1: about a tenth of WORKLOADS.md's sizes
  [ "${QUICK:-0}" = 1 ] || return 0
  case $1 in
    pingpong) echo n=100000 ;; mpmc) echo n=1000000 ;; mpmc_unbuf) echo n=200000 ;;
    select4) echo n=400000 ;; spawn) echo n=100000 ;; chain) echo n=10000 ;;
  esac
}
[ "${QUICK:-0}" = 1 ] && REPEAT=1
{ date -u; nproc; grep -m1 'model name' /proc/cpuinfo; uname -a; } > "$OUT/machine.txt"
for rep in $(seq "$REPEAT"); do
  for w in $WORKLOADS; do
    for t in $THREADS; do
      for impl in rill go boost_fiber; do
        case $impl in
          rill) exe=$CHANBENCH ;; go) exe=${GO_BENCH:-} ;; boost_fiber) exe=${FIBER_BENCH:-} ;;
        esac
        [ -n "$exe" ] && [ -x "$exe" ] || continue
        # shellcheck disable=SC2046
        if ! timeout "$TIMEOUT" "$exe" "$w" threads="$t" $(size "$w") >> "$OUT/$impl.jsonl" 2>> "$OUT/errors.txt"; then
          echo "$impl $w threads=$t failed (rep $rep)" >> "$OUT/errors.txt"
        fi
      done
    done
  done
done
echo "scale.sh: JSON lines in $OUT/*.jsonl"
