#!/usr/bin/env python3
"""samples/chanbench/scale_table.py: the markdown table of a scale.sh run.

    python3 samples/chanbench/scale_table.py results/scale.jsonl [results/machine.txt]

Per workload and worker count: the median ns per op of rill, Go and
Boost.Fiber over the repetitions, the ratios rill/Go and rill/Boost.Fiber
(below 1: rill is faster), and the cores each kept busy, (user+sys)/wall of
the whole process (1.0 = one core busy for the whole run). Runs that failed
or were skipped are counted under the table.
"""
import json
import statistics
import sys
from collections import defaultdict

IMPLS = ("rill", "go", "boost_fiber")


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    runs = defaultdict(list)   # (impl, workload, threads) -> [record]
    limits, errors = [], []
    for line in open(sys.argv[1]):
        line = line.strip()
        if not line:
            continue
        d = json.loads(line)
        if "error" in d:
            errors.append(d)
        elif d["impl"] == "limit":
            limits.append(d)
        else:
            runs[(d["impl"], d["workload"], d["threads"])].append(d)
    if len(sys.argv) > 2:
        print("```")
        print(open(sys.argv[2]).read().rstrip())
        print("```\n")
    for d in limits:
        print(f"- limit `{d['workload']}`: {d['ns_per_op']:.2f} ns per op")
    if limits:
        print()

    def med(impl, w, t, key):
        vals = [r[key] for r in runs.get((impl, w, t), []) if key in r]
        return statistics.median(vals) if vals else None

    def cores(impl, w, t):
        vals = [(r["user_s"] + r["sys_s"]) / r["wall_s"]
                for r in runs.get((impl, w, t), []) if r.get("wall_s")]
        return statistics.median(vals) if vals else None

    def fmt(v, spec):
        return format(v, spec) if v is not None else "–"

    workloads = list(dict.fromkeys(w for (_, w, _) in runs))
    threads = sorted({t for (_, _, t) in runs})
    print("| workload | threads | rill ns/op | Go ns/op | Boost.Fiber ns/op | rill/Go | rill/Fiber "
          "| rill cores busy | Go cores busy | rill peak RSS MB | n (reps) |")
    print("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
    for w in workloads:
        for t in threads:
            r, g, f = (med(i, w, t, "ns_per_op") for i in IMPLS)
            if r is None and g is None and f is None:
                continue
            rss = med("rill", w, t, "peak_rss_kb")
            reps = len(runs.get(("rill", w, t), []))
            n = runs[("rill", w, t)][0]["n"] if reps else "–"
            print(f"| {w} | {t} | {fmt(r, '.1f')} | {fmt(g, '.1f')} | {fmt(f, '.1f')} "
                  f"| {fmt(r / g if r and g else None, '.2f')} | {fmt(r / f if r and f else None, '.2f')} "
                  f"| {fmt(cores('rill', w, t), '.1f')} | {fmt(cores('go', w, t), '.1f')} "
                  f"| {fmt(rss / 1024 if rss else None, '.0f')} | {n} ({reps}) |")
    if errors:
        print(f"\n{len(errors)} runs failed or were skipped:")
        for e in errors:
            print(f"- {e['impl']} {e['workload']} threads={e['threads']}: {e['error']} {e.get('stderr', '')[:120]}")


if __name__ == "__main__":
    main()
