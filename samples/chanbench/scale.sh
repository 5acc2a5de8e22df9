#!/usr/bin/env bash
# samples/chanbench/scale.sh: chanbench across worker counts, beside the peers,
# for a machine with more cores than ours. One JSON line per run goes to
# $OUT/scale.jsonl (a failed, timed-out or skipped run gets a line with
# "error"); summarize with samples/chanbench/scale_table.py $OUT/scale.jsonl.
#
#   OUT=results samples/chanbench/scale.sh                  # rill alone
#   samples/chanbench/build_static.sh bench-static          # static chanbench
#   OUT=results CHANBENCH=bench-static/chanbench PEERS=bench-static/peers \
#       samples/chanbench/scale.sh                          # beside Go, Boost.Fiber
#
# PEERS is a folder of the peers' static builds (`make static` in
# ../shared/bench/peers: go_bench, fiber_bench, ctx_switch, spsc_ring).
#
# Environment: OUT (required), THREADS (default "1 2 4 8 16"), WORKLOADS
# (default "pingpong mpmc mpmc_unbuf select4 spawn chain"), IMPLS (default
# "rill go boost_fiber", those found), REPEAT (default 3), SIZES = scale
# (default: the peers' scale.sh sizes, 0.2-2 s a run) | full (WORKLOADS.md's;
# Boost.Fiber's spawn 2e5)
# | quick (a smoke test), RUN_TIMEOUT per run (default 60 s), BUDGET seconds
# after which no run starts (default 420).
#
# Order: repetitions outermost, then workload, then threads, then the
# implementations one after another, so a run cut short by BUDGET still has
# every cell once and each cell's implementations ran side by side in time.
set -u
: "${OUT:?set OUT to the directory for the JSON lines}"
here=$(cd "$(dirname "$0")" && pwd)
CHANBENCH=${CHANBENCH:-$here/../../build/samples/chanbench/chanbench}
PEERS=${PEERS:-}
THREADS=${THREADS:-"1 2 4 8 16"}
WORKLOADS=${WORKLOADS:-"pingpong mpmc mpmc_unbuf select4 spawn chain"}
IMPLS=${IMPLS:-"rill go boost_fiber"}
REPEAT=${REPEAT:-3}
SIZES=${SIZES:-scale}
RUN_TIMEOUT=${RUN_TIMEOUT:-60}
BUDGET=${BUDGET:-420}
T0=$(date +%s)
mkdir -p "$OUT"
J=$OUT/scale.jsonl
: > "$J"

n_for() {   # impl workload -> n=... (the peers' scale.sh sizes) or nothing
  case $SIZES:$1:$2 in
    quick:*:pingpong) echo n=2000 ;;     quick:*:mpmc) echo n=20000 ;;
    quick:*:mpmc_unbuf) echo n=4000 ;;   quick:*:select4) echo n=8000 ;;
    quick:*:spawn) echo n=2000 ;;        quick:*:chain) echo n=500 ;;
    scale:boost_fiber:spawn) echo n=100000 ;;   # all fibers alive at once
    full:boost_fiber:spawn) echo n=200000 ;;    # 1e6 needs ~5 GB and 4 s
    scale:*:pingpong) echo n=200000 ;;   scale:*:mpmc) echo n=2000000 ;;
    scale:*:mpmc_unbuf) echo n=500000 ;; scale:*:select4) echo n=1000000 ;;
    scale:*:spawn) echo n=200000 ;;      scale:*:chain) echo n=100000 ;;
  esac
}
exe_for() {
  case $1 in
    rill) echo "$CHANBENCH" ;;
    go) [ -n "$PEERS" ] && echo "$PEERS/go_bench" ;;
    boost_fiber) [ -n "$PEERS" ] && echo "$PEERS/fiber_bench" ;;
  esac
}
run() {   # impl workload threads command... : appends one JSON line
  local impl=$1 w=$2 t=$3 line rc err
  shift 3
  if [ $(($(date +%s) - T0)) -ge "$BUDGET" ]; then
    echo "{\"impl\":\"$impl\",\"workload\":\"$w\",\"threads\":$t,\"error\":\"skipped: budget ${BUDGET}s spent\"}" >> "$J"
    return
  fi
  # bash's `time` gives the run's CPU time beside its wall time: (user+sys)/wall
  # says how many cores it kept busy (an idle worker that spins shows here).
  line=$( { TIMEFORMAT='%R %U %S'; time timeout "$RUN_TIMEOUT" "$@" 2> "$OUT/stderr.tmp"; } 2> "$OUT/time.tmp")
  rc=$?
  if [ $rc -ne 0 ] || [ -z "$line" ]; then
    err=$(tr '"\\\n' "'/ " < "$OUT/stderr.tmp" | cut -c1-300)
    line="{\"impl\":\"$impl\",\"workload\":\"$w\",\"threads\":$t,\"error\":\"exit $rc\",\"stderr\":\"$err\",\"cmd\":\"$*\"}"
  fi
  read -r wall user sys < "$OUT/time.tmp" || true
  [ $rc -eq 0 ] && [ -n "${sys:-}" ] && line="${line%\}},\"wall_s\":$wall,\"user_s\":$user,\"sys_s\":$sys}"
  echo "$line" >> "$J"
}

{ echo "date: $(date -u)"; echo "uname: $(uname -a)"; echo "nproc: $(nproc)"
  echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-)"
  echo "mem: $(grep -m1 MemTotal /proc/meminfo)"; echo "loadavg: $(cat /proc/loadavg)"
  echo "max_map_count: $(cat /proc/sys/vm/max_map_count 2>/dev/null)"
  echo "threads: $THREADS  workloads: $WORKLOADS  impls: $IMPLS  sizes: $SIZES  repeat: $REPEAT  budget: $BUDGET"
} > "$OUT/machine.txt"

# The physical limits first: a context-switch round trip, a lock-free SPSC ring.
if [ -n "$PEERS" ] && [ -x "$PEERS/ctx_switch" ]; then
  run limit ctx_fiber_roundtrip 1 "$PEERS/ctx_switch"
  run limit spsc_ring 2 "$PEERS/spsc_ring"
fi
for rep in $(seq "$REPEAT"); do
  for w in $WORKLOADS; do
    for t in $THREADS; do
      for impl in $IMPLS; do
        exe=$(exe_for "$impl")
        [ -n "$exe" ] && [ -x "$exe" ] || continue
        # shellcheck disable=SC2046
        run "$impl" "$w" "$t" "$exe" "$w" "threads=$t" $(n_for "$impl" "$w")
      done
    done
  done
done
rm -f "$OUT/stderr.tmp" "$OUT/time.tmp"
echo "scale.sh: $(wc -l < "$J") lines in $J, $(($(date +%s) - T0)) s"
