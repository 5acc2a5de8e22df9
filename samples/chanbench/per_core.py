#!/usr/bin/env python3
"""wordcount's speed per core against the single-threaded tokenizer
(issue 3's target: within 1.5 x), measured two ways in alternating rounds.

    samples/chanbench/per_core.py corpus/bench-200MiB.txt            # 9 rounds, 2 workers
    samples/chanbench/per_core.py FILE --rounds 5 --threads 2 --chanbench bench-static/chanbench

Each round runs, one after the other:
  1. tokenizer_baseline alone (one thread; the other CPUs idle);
  2. one tokenizer_baseline per CPU at once, each pinned to its CPU (the
     CPUs loaded as the pipeline loads them: shared caches, memory
     bandwidth, a virtual machine's slower CPU all count as they do for it);
  3. chanbench wordcount at --threads workers.
and prints two ratios: the pipeline's time per MB times the number of
workers over the solo baseline's ("solo"), and over the baselines that ran
at once, as time per MB against their summed speed ("loaded":
t * sum(1 / b_i)). 1.0 is a pipeline that costs nothing beyond the
tokenizer; below 1.5 meets the target. Medians at the end."""

import argparse
import json
import os
import statistics
import subprocess
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def ns_per_mb(cmd):
    """Runs cmd, returns the ns_per_op of its last JSON line (a failing run stops the script)."""
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"per_core: {' '.join(cmd)} failed ({r.returncode}): {r.stderr.strip()}")
    return float(json.loads(r.stdout.strip().splitlines()[-1])["ns_per_op"])


def loaded_baselines(baseline, path, cpus):
    """One baseline per CPU, started together; their ns per MB."""
    procs = [subprocess.Popen(["taskset", "-c", str(c), baseline, path], stdout=subprocess.PIPE, text=True) for c in cpus]
    out = []
    for p in procs:
        stdout, _ = p.communicate()
        if p.returncode != 0:
            sys.exit(f"per_core: tokenizer_baseline failed on a pinned CPU ({p.returncode})")
        out.append(float(json.loads(stdout.strip().splitlines()[-1])["ns_per_op"]))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("file", help="the corpus (as for chanbench wordcount)")
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--threads", type=int, default=2, help="the pipeline's workers, and the baselines run at once")
    ap.add_argument("--chanbench", default=os.path.join(ROOT, "build", "samples", "chanbench", "chanbench"))
    ap.add_argument("--baseline", default=os.path.join(ROOT, "build", "samples", "chanbench", "tokenizer_baseline"))
    a = ap.parse_args()
    if not os.path.exists(a.file):
        sys.exit(f"per_core: no such file: {a.file}")
    for exe in (a.chanbench, a.baseline):
        if not os.access(exe, os.X_OK):
            sys.exit(f"per_core: {exe} is not built (meson setup build && ninja -C build)")
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < a.threads:
        sys.exit(f"per_core: {a.threads} workers need {a.threads} CPUs; this process may use {len(cpus)}")
    cpus = cpus[:a.threads]

    solo, loaded = [], []
    print(f"{'round':>5} {'solo ms/MB':>11} {'loaded ms/MB (per CPU)':>24} {'pipeline ms/MB':>15} {'solo':>6} {'loaded':>7}")
    for i in range(a.rounds):
        b = ns_per_mb([a.baseline, a.file])
        bs = loaded_baselines(a.baseline, a.file, cpus)
        t = ns_per_mb([a.chanbench, "wordcount", f"threads={a.threads}", f"file={a.file}"])
        solo.append(a.threads * t / b)
        loaded.append(t * sum(1 / x for x in bs))
        per_cpu = " ".join(f"{x / 1e6:.2f}" for x in bs)
        print(f"{i + 1:>5} {b / 1e6:>11.2f} {per_cpu:>24} {t / 1e6:>15.2f} {solo[-1]:>6.3f} {loaded[-1]:>7.3f}", flush=True)
    print(f"median: solo {statistics.median(solo):.3f} ({min(solo):.3f}-{max(solo):.3f}), "
          f"loaded {statistics.median(loaded):.3f} ({min(loaded):.3f}-{max(loaded):.3f}) "
          f"[pipeline time x workers over one tokenizer's; 1.5 is the target]")


if __name__ == "__main__":
    main()
