// samples/chanbench/broadcast.cpp: the cost of waking many waiters at once.
// W coroutines wait on the same channel; closing it releases them all (the
// way a done channel or a wait_group releases its waiters). Each of R rounds
// uses a fresh channel; the time from close() until every waiter has run
// again (counted itself on a wait_group and parked on the next round's
// channel) is what is measured, per waiter; between rounds the main
// coroutine sleeps while the waiters park. Not one of WORKLOADS.md's
// workloads: it measured whether close() should make its waiters runnable
// as one batch (docs/BENCHMARKS.md: it should not, on this machine).
//
// Each waiter, once woken, does `work` steps of arithmetic of its own (a
// done channel's waiters go on to work that needs no lock): with work, a
// second worker should take half of it.
//
//     build/samples/chanbench/broadcast [threads] [waiters] [rounds] [work]
#include <rill/rill.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

int main(int argc, char** argv) {
    const unsigned threads = argc > 1 ? unsigned(std::atoi(argv[1])) : 1;
    const long waiters = argc > 2 ? std::atol(argv[2]) : 1000;
    const long rounds = argc > 3 ? std::atol(argv[3]) : 1000;
    const long work = argc > 4 ? std::atol(argv[4]) : 0;
    if (threads < 1 || waiters < 1 || rounds < 1 || work < 0) {
        std::fprintf(stderr, "usage: broadcast [threads >= 1] [waiters >= 1] [rounds >= 1] [work >= 0]\n");
        return 2;
    }
    rill::options o;
    o.threads = threads;
    double seconds = rill::run(
        [&] {
            std::vector<rill::chan<int>> gates;
            for (long r = 0; r < rounds; ++r) gates.emplace_back(0);
            rill::wait_group arrived, finished;
            std::atomic<long> woken{0};
            std::atomic<std::uint64_t> sink{0};
            arrived.add(waiters);
            for (long i = 0; i < waiters; ++i)
                rill::go([&] {
                    std::uint64_t mix = 0;   // the work's result, kept so that it is done
                    arrived.done();
                    for (long r = 0; r < rounds; ++r) {
                        if (gates[std::size_t(r)].recv()) std::abort();   // closed: no value
                        std::uint64_t x = std::uint64_t(r);
                        for (long k = 0; k < work; ++k) x = x * 6364136223846793005u + 1442695040888963407u;
                        mix ^= x;
                        woken.fetch_add(1, std::memory_order_relaxed);
                        finished.done();
                    }
                    sink.fetch_xor(mix, std::memory_order_relaxed);
                });
            arrived.wait();
            double total = 0;
            for (long r = 0; r < rounds; ++r) {
                finished.add(waiters);
                // Let every waiter reach its recv (about 100 ns each) before
                // the clock starts, so that close() finds them all parked.
                rill::sleep_for(std::chrono::nanoseconds(200'000 + 500 * waiters));
                auto t0 = std::chrono::steady_clock::now();
                gates[std::size_t(r)].close();
                finished.wait();
                total += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            }
            if (woken != waiters * rounds) std::abort();
            if (sink.load() == 42) std::puts("");   // uses the work's result
            return total;
        },
        o);
    std::printf("{\"impl\":\"rill\",\"workload\":\"broadcast\",\"threads\":%u,\"waiters\":%ld,\"rounds\":%ld,\"work\":%ld,\"ns_per_wake\":%.2f}\n",
                threads, waiters, rounds, work, seconds * 1e9 / double(waiters * rounds));
}
