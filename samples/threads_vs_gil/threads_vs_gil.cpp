// samples/threads_vs_gil/threads_vs_gil.cpp: the article's counting loop,
// where Python's threads gained nothing.
//
// Model: threads against the GIL. In CPython a thread must hold the global
// interpreter lock to run bytecode, so K threads that each count down from
// N take as long as one thread counting K*N, or longer. rill has no such
// lock: coroutines run on a pool of worker threads, and CPU-bound ones run
// side by side on as many cores as there are workers. This sample runs K
// counting coroutines on one worker thread, then on all of them, and prints
// the speed-up it measured. Each coroutine reports its count over a channel
// and the sample checks the total (K*N).
//
//     def countdown(n):               // rill: one coroutine per countdown
//         while n > 0:                rill::go([=] { done.send(countdown(n)); });
//             n -= 1
//
// A coroutine that never blocks keeps its worker thread until it returns
// (scheduling is cooperative): one worker runs the K countdowns one after
// another, T workers run T at a time.
//
// Run it:
//     build/samples/threads_vs_gil/threads_vs_gil                        # K = workers, N = 500000000
//     build/samples/threads_vs_gil/threads_vs_gil --coroutines 8 --count 100000000 --threads 4
#include <rill/rill.hpp>

#include <fmt/core.h>

#include "cli.hpp"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <thread>

namespace {

/// Counts n down to zero, one step at a time, and returns how many steps it took.
std::uint64_t countdown(std::uint64_t n) {
    std::uint64_t steps = 0;
    while (n > 0) {
        n -= 1;
        ++steps;
        asm volatile("" : "+r"(n), "+r"(steps));   // a real loop: no closed form, no vector tricks
    }
    return steps;
}

/// K coroutines count down from n each on `threads` workers; returns the
/// total of their counts and the seconds it took.
std::uint64_t count_all(int k, std::uint64_t n, unsigned threads, double& seconds) {
    auto t0 = std::chrono::steady_clock::now();
    std::uint64_t total = rill::run([k, n] {
        rill::chan<std::uint64_t> done(k);   // room for every count: nobody waits to report
        for (int i = 0; i < k; ++i) rill::go(fmt::format("countdown {}", i), [done, n] { done.send(countdown(n)); });
        std::uint64_t sum = 0;
        for (int i = 0; i < k; ++i) sum += *done.recv();
        return sum;
    }, rill::options{.threads = threads});
    seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return total;
}

constexpr const char* usage =
    "usage: threads_vs_gil [--count N] [--coroutines K] [--threads T]\n"
    "\n"
    "K coroutines (default: one per worker thread, at least 2) each count down\n"
    "from N (default 500000000), first on one worker thread, then on T (default\n"
    "0: one per core). Prints both times and the speed-up; exits 1 if a total is\n"
    "not K*N.\n";

}  // namespace

int main(int argc, char** argv) {
    samples::cli args(argc, argv, usage);
    auto n = std::uint64_t(args.number("--count", 500'000'000, 0, 1'000'000'000'000));
    auto threads = unsigned(args.number("--threads", 0, 0, 1024));
    if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
    int k = int(args.number("--coroutines", std::max(2u, threads), 1, 100'000));
    args.done();

    const std::uint64_t expected = std::uint64_t(k) * n;
    fmt::print("{} coroutines count down from {} each ({} steps in all)\n", k, n, expected);
    double t1 = 0, tn = 0;
    std::uint64_t one = count_all(k, n, 1, t1);
    fmt::print("  1 worker thread  : {:8.3f} s   total {}\n", t1, one);
    std::uint64_t all = count_all(k, n, threads, tn);
    fmt::print("  {} worker thread{}: {:8.3f} s   total {}\n", threads, threads == 1 ? " " : "s", tn, all);
    fmt::print("speed-up {:.2f}x with {} threads (CPython's threads: about 1x, the GIL runs one at a time)\n",
               tn > 0 ? t1 / tn : 0.0, threads);

    if (one != expected || all != expected) {
        fmt::print("WRONG: a total is not {} x {} = {}\n", k, n, expected);
        return 1;
    }
    return 0;
}
