#!/usr/bin/env python3
"""Runs rill's chanbench beside the peer programs (Go, Boost.Fiber) on this
machine, in one run, and writes a markdown table of medians and ratios.

    samples/chanbench/compare.py                       # full sizes, 3 repetitions
    samples/chanbench/compare.py --quick               # small sizes, 1 repetition
    samples/chanbench/compare.py --write docs/BENCHMARKS.md

Implementations alternate within each repetition (rill, go, boost_fiber, in
a rotating order) so that a slow spell of the machine hits all of them.
A run with fewer workers than the machine has CPUs is pinned, all
implementations of one repetition to the same CPUs, the next repetition
to the next ones (--no-pin: not), so that one CPU's slow spell does not
land on one implementation and not on the other.
The peers are built from ../shared/bench/peers (or --peers-src) into
bench-bin/peers with their Makefile; without them, rill's own table is
still printed. The wordcount workload needs --corpus: when that file is
missing it is made by the wordcount sample's generator (--corpus-mib MiB,
default 200), and when FILE.expect is missing the peers'
check_wordcount.py counts the file independently and writes it, so that
every implementation checks its result against it."""

import argparse
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
WORKLOADS = ["pingpong", "spsc", "mpmc", "mpmc_unbuf", "select4", "spawn", "chain", "sieve", "wordcount"]
QUICK_N = {"pingpong": 100000, "spsc": 1000000, "mpmc": 1000000, "mpmc_unbuf": 200000, "select4": 400000,
           "spawn": 100000, "chain": 10000, "sieve": 1000}
BEGIN, END = "<!-- chanbench:begin -->", "<!-- chanbench:end -->"


def sh(cmd, **kw):
    return subprocess.run(cmd, shell=isinstance(cmd, str), capture_output=True, text=True, **kw)


def build_peers(src, dest):
    """Copies the peers' sources (read-only where they live) and runs make."""
    if not src or not os.path.isdir(src):
        return {}
    os.makedirs(dest, exist_ok=True)
    work = os.path.join(dest, "src")
    if not os.path.isdir(work):
        shutil.copytree(src, work, ignore=shutil.ignore_patterns("bin", "static", "results"))
        for dirpath, dirs, files in os.walk(work):
            for name in dirs + files:
                os.chmod(os.path.join(dirpath, name), 0o755 if name in dirs else 0o644)
    r = sh(["make", "-C", work, "bin/go_bench", "bin/fiber_bench"])
    peers = {}
    for impl, exe in (("go", "go_bench"), ("boost_fiber", "fiber_bench")):
        path = os.path.join(work, "bin", exe)
        if os.path.exists(path):
            peers[impl] = path
        else:
            print(f"compare: peer {impl} not built ({r.stderr.strip().splitlines()[-1:] or 'make failed'})", file=sys.stderr)
    return peers


def run_one(exe, workload, threads, n, extra, timeout, cpus=None):
    # Through a shell that forks the program: a process forked from Python
    # inherits Python's peak RSS (ru_maxrss survives exec), which would
    # hide the small workloads' own figure.
    args = ["sh", "-c", '"$0" "$@"; exit $?', exe, workload, f"threads={threads}"] + ([f"n={n}"] if n else []) + extra
    try:
        r = sh(args, timeout=timeout, preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None)
    except subprocess.TimeoutExpired:
        return None, "timeout"
    if r.returncode != 0:
        return None, (r.stderr.strip() or f"exit {r.returncode}")[-200:]
    for line in r.stdout.splitlines():
        if line.startswith("{"):
            return json.loads(line), None
    return None, "no JSON line"


def pinned_cpus(rep, threads):
    """The CPUs every implementation of one repetition runs on, when the run
    uses fewer workers than the machine has CPUs: the same ones for all of
    them, moving on with each repetition. A virtual CPU can run at half the
    speed of the other for minutes (docs/BENCHMARKS.md, "The slow CPU"), and
    unpinned, one implementation's run landed on the slow one and the next
    one's on the fast one."""
    try:
        allowed = sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return None
    if threads >= len(allowed):
        return None
    first = (rep * threads) % len(allowed)
    return {allowed[(first + k) % len(allowed)] for k in range(threads)}


def machine():
    model = ""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model or platform.processor()}, {os.cpu_count()} CPUs, {platform.system()} {platform.release()}"


def versions(peers):
    v = {}
    r = sh(["g++", "--version"])
    v["g++"] = r.stdout.splitlines()[0] if r.returncode == 0 else "?"
    if "go" in peers:
        r = sh(["go", "version"])
        v["go"] = r.stdout.strip() if r.returncode == 0 else "?"
    try:
        for line in open("/usr/include/boost/version.hpp"):
            if line.startswith("#define BOOST_LIB_VERSION"):
                v["boost"] = line.split('"')[1].replace("_", ".")
    except OSError:
        pass
    return v


def table(results, impls, threads_list, workloads):
    head = "| workload | threads | rill ns/op |" + "".join(f" {i} ns/op |" for i in impls if i != "rill") + \
        "".join(f" rill/{i} |" for i in impls if i != "rill")
    sep = "|---" * (3 + 2 * (len(impls) - 1)) + "|"
    rows = [head, sep]
    for w in workloads:
        for t in threads_list:
            med = {}
            for i in impls:
                xs = [r["ns_per_op"] for r in results.get((i, w, t), [])]
                med[i] = statistics.median(xs) if xs else None
            if med.get("rill") is None and all(med.get(i) is None for i in impls):
                continue
            fmt = lambda x: "—" if x is None else (f"{x:,.1f}" if x < 1e5 else f"{x:,.0f}")
            ratio = lambda a, b: "—" if a is None or b is None else f"{a / b:.2f}"
            rows.append(f"| {w} | {t} | {fmt(med.get('rill'))} |" +
                        "".join(f" {fmt(med.get(i))} |" for i in impls if i != "rill") +
                        "".join(f" {ratio(med.get('rill'), med.get(i))} |" for i in impls if i != "rill"))
    return "\n".join(rows)


def prepare_corpus(path, mib, peers_src):
    """Makes the corpus and its .expect file when they are missing. Returns an error or None."""
    if not os.path.exists(path):
        gen = os.path.join(ROOT, "build", "samples", "wordcount", "gen_corpus")
        if not os.path.exists(gen):
            return f"{path} is missing and {gen} is not built (meson setup build && ninja -C build)"
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        print(f"compare: making {path} ({mib} MiB)", file=sys.stderr)
        r = sh([gen, path, str(mib)])
        if r.returncode != 0:
            return f"{gen} failed: {r.stderr.strip()}"
    if not os.path.exists(path + ".expect"):
        check = os.path.join(peers_src, "check_wordcount.py")
        if not os.path.exists(check):
            print(f"compare: no {check}: wordcount results are not checked against an independent count",
                  file=sys.stderr)
            return None
        print(f"compare: counting {path} independently into {path}.expect", file=sys.stderr)
        r = sh([sys.executable, check, path, path + ".expect"])
        if r.returncode != 0:
            return f"{check} failed: {r.stderr.strip()}"
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--chanbench", default=os.path.join(ROOT, "build", "samples", "chanbench", "chanbench"))
    ap.add_argument("--peers-src", default=os.path.join(ROOT, "..", "shared", "bench", "peers"))
    ap.add_argument("--peers-bin", default=os.path.join(ROOT, "bench-bin", "peers"))
    ap.add_argument("--no-peers", action="store_true")
    ap.add_argument("--threads", default="1 2")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--workloads", default=" ".join(WORKLOADS))
    ap.add_argument("--corpus", default="", help="the wordcount input; made when missing (see above)")
    ap.add_argument("--corpus-mib", type=int, default=200, help="the size of a corpus made here")
    ap.add_argument("--quick", action="store_true", help="small sizes, one repetition (a smoke test)")
    ap.add_argument("--timeout", type=int, default=600)
    ap.add_argument("--no-pin", action="store_true",
                    help="do not pin runs that use fewer workers than the machine has CPUs (see above)")
    ap.add_argument("--jsonl", default="", help="also append every JSON line here")
    ap.add_argument("--write", default="", help="put the table into this markdown file between the chanbench markers")
    a = ap.parse_args()

    if not os.path.exists(a.chanbench):
        sys.exit(f"compare: {a.chanbench} not found: build first (meson setup build && ninja -C build)")
    impls = {"rill": a.chanbench}
    if not a.no_peers:
        impls.update(build_peers(os.path.abspath(a.peers_src), os.path.abspath(a.peers_bin)))
    threads_list = [int(t) for t in a.threads.replace(",", " ").split()]
    asked = a.workloads.replace(",", " ").split()
    unknown = [w for w in asked if w not in WORKLOADS]
    if unknown:
        sys.exit(f"compare: unknown workload(s) {', '.join(unknown)}; known: {' '.join(WORKLOADS)}")
    workloads = [w for w in asked if w != "wordcount" or a.corpus]
    if "wordcount" in workloads:
        err = prepare_corpus(a.corpus, a.corpus_mib, os.path.abspath(a.peers_src))
        if err:
            sys.exit(f"compare: {err}")
    reps = 1 if a.quick else a.reps
    names = list(impls)
    results = {}
    out = open(a.jsonl, "a") if a.jsonl else None
    for rep in range(reps):
        for w in workloads:
            for t in threads_list:
                order = names[rep % len(names):] + names[:rep % len(names)]
                cpus = pinned_cpus(rep, t) if not a.no_pin else None
                for impl in order:
                    n = QUICK_N.get(w) if a.quick else None
                    extra = [f"file={a.corpus}"] if w == "wordcount" else []
                    res, err = run_one(impls[impl], w, t, n, extra, a.timeout, cpus)
                    if err:
                        print(f"compare: {impl} {w} threads={t}: {err}", file=sys.stderr)
                        continue
                    results.setdefault((impl, w, t), []).append(res)
                    if out:
                        out.write(json.dumps(res) + "\n")
                    print(f"  rep {rep + 1}/{reps} {impl:12} {w:11} threads={t} {res['ns_per_op']:12.2f} ns/op",
                          file=sys.stderr)
    cmd = "samples/chanbench/compare.py " + " ".join(sys.argv[1:])
    v = versions(impls)
    md = [BEGIN,
          f"Measured {datetime.date.today().isoformat()} on {machine()}; medians of {reps} run(s) each;",
          "ratios are rill's ns/op over the peer's (below 1: rill is faster). " +
          ", ".join(f"{k} {val}" for k, val in v.items()) + ".",
          "", f"Command: `{cmd.strip()}`", "", table(results, names, threads_list, workloads), "",
          "Peak RSS (KiB, median): " + "; ".join(
              f"{w}/{t}: " + ", ".join(f"{i} {int(statistics.median([r['peak_rss_kb'] for r in results[(i, w, t)]]))}"
                                      for i in names if (i, w, t) in results)
              for w in workloads for t in threads_list if any((i, w, t) in results for i in names)),
          END]
    text = "\n".join(md)
    print(text)
    if a.write:
        old = open(a.write).read() if os.path.exists(a.write) else ""
        if BEGIN in old and END in old:
            new = old[:old.index(BEGIN)] + text + old[old.index(END) + len(END):]
        else:
            new = old.rstrip() + "\n\n" + text + "\n"
        open(a.write, "w").write(new)


if __name__ == "__main__":
    main()
