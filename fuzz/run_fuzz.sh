#!/bin/sh
# fuzz/run_fuzz.sh HARNESS CORPUS_DIR WORK_DIR: the meson test fuzz/run.
# Fuzzes over a copy of the kept corpus (the repository's fuzz/corpus is
# never written), for RILL_FUZZ_SECONDS seconds (default 60). New inputs
# stay in WORK_DIR/corpus between runs; a crash or hang lands in WORK_DIR
# as crash-* / timeout-* and fails the test.
set -eu
harness=$1 corpus=$2 work=$3
seconds=${RILL_FUZZ_SECONDS:-60}
mkdir -p "$work/corpus"
cp "$corpus"/* "$work/corpus/"
exec "$harness" -max_total_time="$seconds" -timeout=30 -rss_limit_mb=4096 -max_len=512 \
    -print_final_stats=1 -artifact_prefix="$work/" "$work/corpus"
