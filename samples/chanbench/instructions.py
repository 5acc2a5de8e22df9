#!/usr/bin/env python3
"""Instructions per operation of a chanbench workload, counted by callgrind.

    samples/chanbench/instructions.py select4                  # threads=1, n = 200,000 and 400,000
    samples/chanbench/instructions.py spsc --n 500000 --chanbench /tmp/old-chanbench
    samples/chanbench/instructions.py select4 --compare /tmp/old-chanbench

On a virtual machine without hardware counters, where a CPU can be half as
fast as the other for minutes (docs/BENCHMARKS.md, "The slow CPU"), timings
need many alternating pairs, while an instruction count is the same at every
run. It is no timing: a cache miss or a mispredicted branch costs far more
than an instruction. Use it to see where a change's instructions went, and
confirm a change with alternating timed runs.

The workload runs twice under `valgrind --tool=callgrind`, at n and at 2n,
and the difference of the two totals over n is what one more operation
costs: start-up, warm-up and teardown cancel out. threads=1 by default
(valgrind runs a process's threads one at a time anyway). Needs valgrind
(Debian: `apt-get install valgrind`)."""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def total_instructions(chanbench, workload, n, threads, extra):
    """Instructions the whole process executed (callgrind's 'Collected')."""
    with tempfile.TemporaryDirectory() as tmp:
        cmd = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={tmp}/cg.out", chanbench, workload,
               f"n={n}", f"threads={threads}", *extra]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit(f"instructions: {' '.join(cmd)} failed ({r.returncode}):\n{r.stderr.strip()[-2000:]}")
        m = re.search(r"Collected\s*:\s*(\d+)", r.stderr)
        if not m:
            sys.exit(f"instructions: no 'Collected' line in valgrind's output:\n{r.stderr.strip()[-2000:]}")
        return int(m.group(1))


def per_op(chanbench, workload, n, threads, extra):
    small = total_instructions(chanbench, workload, n, threads, extra)
    large = total_instructions(chanbench, workload, 2 * n, threads, extra)
    return (large - small) / n


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("workload", help="a chanbench workload: pingpong, spsc, mpmc, mpmc_unbuf, select4, spawn, chain, sieve")
    ap.add_argument("--n", type=int, default=200_000, help="the smaller size (the other is twice it)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--chanbench", default=os.path.join(ROOT, "build", "samples", "chanbench", "chanbench"))
    ap.add_argument("--compare", metavar="OTHER", help="a second chanbench binary (say, the build before a change)")
    ap.add_argument("extra", nargs="*", help="more key=value arguments for chanbench (cap=..., producers=...)")
    a = ap.parse_args()
    if shutil.which("valgrind") is None:
        sys.exit("instructions: valgrind is not installed (Debian: apt-get install valgrind)")
    for path in [a.chanbench] + ([a.compare] if a.compare else []):
        if not os.access(path, os.X_OK):
            sys.exit(f"instructions: {path}: no such executable (build it: ninja -C build)")
    this = per_op(a.chanbench, a.workload, a.n, a.threads, a.extra)
    print(f"{a.workload} threads={a.threads}: {this:.1f} instructions per op ({a.chanbench})")
    if a.compare:
        other = per_op(a.compare, a.workload, a.n, a.threads, a.extra)
        print(f"{a.workload} threads={a.threads}: {other:.1f} instructions per op ({a.compare})")
        print(f"ratio {this / other:.3f}")


if __name__ == "__main__":
    main()
