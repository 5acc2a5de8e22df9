// samples/soak/soak.cpp: a long-running mixed workload that keeps checking
// rill's guarantees while it runs. Not part of the test suite (a 2-second
// smoke run is); run it for minutes before a release:
//
//     build/samples/soak/soak --seconds 600 --threads 2
//
// The work runs in rounds (--round-ms, default 200). Each round makes fresh
// channels and spawns fresh coroutines (spawn churn), and uses every
// primitive at once:
//  - producers send tagged values (producer, sequence) on an unbuffered and
//    a buffered channel, plainly or through a select with a timeout case
//    (after); on a timeout they retry the same value;
//  - consumers, started through a rill::group, select over both channels
//    and a ticker, switching a closed channel off with nil; the root closes
//    the channels once the producers' wait_group is done;
//  - workers increment a plain counter under a rill::mutex;
//  - a spawner starts short-lived coroutines that each hand one value back.
// After each round it checks: every value arrived exactly once, in order per
// producer on each channel for each consumer; the mutex-protected counter is
// exact; every spawned coroutine reported. Any broken invariant is printed
// and the exit status is 1. A watchdog ends the process (status 3) if a
// round stops making progress for 60 s: a lost wake-up looks like that.
// The last line reports operations per second.
#include "cli.hpp"

#include <rill/rill.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

namespace {

constexpr int producers = 4;
constexpr int consumers = 4;
constexpr int lockers = 4;
constexpr int spawned_per_round = 200;

struct stats {
    std::atomic<std::uint64_t> ops{0};        // channel operations, locks, spawns
    std::atomic<std::uint64_t> rounds{0};
    std::atomic<std::uint64_t> timeouts{0};   // select timeouts taken
    std::atomic<std::uint64_t> ticks{0};
    std::mutex lock;
    std::vector<std::string> broken;          // guarded by lock; the first few only
    std::atomic<std::uint64_t> broken_count{0};

    void fail(std::string what) {
        broken_count.fetch_add(1);
        std::scoped_lock l(lock);
        if (broken.size() < 20) broken.push_back(std::move(what));
    }
};

std::uint64_t tag(std::uint32_t producer, std::uint32_t seq) { return (std::uint64_t(producer) << 32) | seq; }

/// What one consumer saw: per producer and channel, the last sequence, and
/// per producer a count and a checksum of sequences.
struct seen_by_consumer {
    std::int64_t last[producers][2];
    std::uint64_t count[producers] = {};
    std::uint64_t sum[producers] = {};
    seen_by_consumer() {
        for (auto& p : last) p[0] = p[1] = -1;
    }
};

void run_round(stats& st, clock_type::duration length) {
    const clock_type::time_point end = clock_type::now() + length;
    rill::chan<std::uint64_t> unbuffered;
    rill::chan<std::uint64_t> buffered(8);
    std::vector<std::uint32_t> sent(producers, 0);
    std::vector<seen_by_consumer> seen(consumers);

    // Producers: producer p sends on channel p % 2, plainly or via select.
    rill::wait_group producing;
    for (int p = 0; p < producers; ++p) {
        producing.add(1);
        rill::go([&, p] {
            rill::chan<std::uint64_t> out = p % 2 ? buffered : unbuffered;
            std::uint64_t ops = 0;
            std::uint32_t seq = 0;
            for (; clock_type::now() < end; ++seq) {
                if (seq % 3 == 0) {
                    out.send(tag(std::uint32_t(p), seq));
                } else {
                    std::uint64_t v = tag(std::uint32_t(p), seq);
                    bool timed_out = true;
                    while (timed_out) {   // retry the same value: nothing may be lost
                        timed_out = false;
                        rill::select(rill::on_send(out, v, [] {}),
                                     rill::on_recv(rill::after(20ms), [&] { timed_out = true; }));
                        if (timed_out) st.timeouts.fetch_add(1, std::memory_order_relaxed);
                        ++ops;
                    }
                }
                ++ops;
            }
            sent[std::size_t(p)] = seq;
            st.ops.fetch_add(ops, std::memory_order_relaxed);
            producing.done();
        });
    }

    // Consumers, in a group: select over both channels and a ticker.
    rill::group consuming;
    for (int c = 0; c < consumers; ++c) {
        consuming.go([&, c] {
            rill::recv_chan<std::uint64_t> a = unbuffered, b = buffered;
            rill::ticker tick(5ms);
            seen_by_consumer& me = seen[std::size_t(c)];
            std::uint64_t ops = 0;
            auto take = [&](int which, rill::recv_chan<std::uint64_t>& from) {
                return [&, which](std::optional<std::uint64_t> v) {
                    if (!v) {
                        from = nullptr;   // closed: switch this case off
                        return;
                    }
                    std::uint32_t p = std::uint32_t(*v >> 32), seq = std::uint32_t(*v);
                    if (p >= producers || int(p % 2) != which) {
                        st.fail("consumer got a value that was never sent on that channel");
                        return;
                    }
                    if (std::int64_t(seq) <= me.last[p][which])
                        st.fail("per-producer FIFO broken: producer " + std::to_string(p) + " seq " + std::to_string(seq) +
                                " after " + std::to_string(me.last[p][which]));
                    me.last[p][which] = seq;
                    ++me.count[p];
                    me.sum[p] += seq;
                };
            };
            while (a || b) {
                rill::select(rill::on_recv(a, take(0, a)), rill::on_recv(b, take(1, b)),
                             rill::on_recv(tick.chan(), [&] { st.ticks.fetch_add(1, std::memory_order_relaxed); }));
                ++ops;
            }
            st.ops.fetch_add(ops, std::memory_order_relaxed);
        });
    }

    // Mutex: a plain counter, exact only if the mutex excludes.
    rill::mutex mu;
    std::uint64_t counter = 0;
    std::vector<std::uint64_t> increments(lockers, 0);
    rill::wait_group locking;
    for (int w = 0; w < lockers; ++w) {
        locking.add(1);
        rill::go([&, w] {
            std::uint64_t n = 0;
            while (clock_type::now() < end) {
                std::scoped_lock l(mu);
                std::uint64_t v = counter;
                if (n % 16 == 0) rill::yield();   // hold it across a switch now and then
                counter = v + 1;
                ++n;
            }
            increments[std::size_t(w)] = n;
            st.ops.fetch_add(n, std::memory_order_relaxed);
            locking.done();
        });
    }

    // Spawn churn: short-lived coroutines that each hand one value back.
    rill::chan<int> back(16);
    rill::go([&st, back] {
        for (int i = 0; i < spawned_per_round; ++i) rill::go([back, i] { back.send(i); });
        st.ops.fetch_add(spawned_per_round, std::memory_order_relaxed);
    });
    long long spawned_sum = 0;
    for (int i = 0; i < spawned_per_round; ++i) spawned_sum += *back.recv();

    producing.wait();
    unbuffered.close();
    buffered.close();
    consuming.wait();
    locking.wait();

    // The round's invariants.
    for (int p = 0; p < producers; ++p) {
        std::uint64_t count = 0, sum = 0;
        for (const seen_by_consumer& s : seen) count += s.count[p], sum += s.sum[p];
        std::uint64_t want_sum = std::uint64_t(sent[std::size_t(p)]) * (sent[std::size_t(p)] - (sent[std::size_t(p)] ? 1 : 0)) / 2;
        if (count != sent[std::size_t(p)] || sum != want_sum)
            st.fail("exactly-once broken for producer " + std::to_string(p) + ": sent " + std::to_string(sent[std::size_t(p)]) +
                    ", received " + std::to_string(count));
    }
    std::uint64_t want = 0;
    for (std::uint64_t n : increments) want += n;
    if (counter != want) st.fail("mutex counter " + std::to_string(counter) + ", expected " + std::to_string(want));
    if (spawned_sum != (long long)spawned_per_round * (spawned_per_round - 1) / 2) st.fail("a spawned coroutine's value went missing");
    st.rounds.fetch_add(1);
}

}  // namespace

int main(int argc, char** argv) {
    samples::cli args(argc, argv,
                      "usage: soak [--seconds N] [--threads T] [--round-ms M] [--quiet]\n"
                      "  Runs a mixed workload of every rill primitive for N seconds (default 10) on T\n"
                      "  worker threads (default 0: one per core), in rounds of M ms (default 200),\n"
                      "  checking exactly-once delivery, per-producer FIFO and mutual exclusion.\n"
                      "  Exit status: 0 all invariants held, 1 one broke, 3 no progress for 60 s.\n");
    long seconds = args.number("--seconds", 10, 1, 7 * 24 * 3600);
    unsigned threads = unsigned(args.number("--threads", 0, 0, 1024));
    long round_ms = args.number("--round-ms", 200, 10, 60'000);
    bool quiet = args.flag("--quiet");
    args.done();

    stats st;
    const clock_type::time_point start = clock_type::now();
    const clock_type::time_point deadline = start + std::chrono::seconds(seconds);

    std::atomic<bool> finished{false};
    std::thread watchdog([&] {
        std::uint64_t last_rounds = 0;
        clock_type::time_point last_progress = clock_type::now(), last_report = clock_type::now();
        while (!finished.load()) {
            std::this_thread::sleep_for(100ms);
            clock_type::time_point now = clock_type::now();
            std::uint64_t r = st.rounds.load();
            if (r != last_rounds) last_rounds = r, last_progress = now;
            if (now - last_progress > 60s) {
                std::fprintf(stderr, "soak: no round finished for 60 s (round %llu): a lost wake-up or a livelock\n",
                             (unsigned long long)r);
                std::fflush(stderr);
                std::_Exit(3);
            }
            if (!quiet && now - last_report >= 10s) {
                last_report = now;
                double t = std::chrono::duration<double>(now - start).count();
                std::printf("soak: %5.0f s  %llu rounds  %.0f ops/s  %llu broken\n", t, (unsigned long long)r,
                            double(st.ops.load()) / t, (unsigned long long)st.broken_count.load());
                std::fflush(stdout);
            }
        }
    });

    rill::options opts;
    opts.threads = threads;
    int rc = 0;
    try {
        rill::run([&] {
            while (clock_type::now() < deadline) run_round(st, std::chrono::milliseconds(round_ms));
        }, opts);
    } catch (const std::exception& e) {
        st.fail(std::string("run threw: ") + e.what());
    }
    finished = true;
    watchdog.join();

    double t = std::chrono::duration<double>(clock_type::now() - start).count();
    rill::live_objects l = rill::live();
    if (!(l == rill::live_objects{})) st.fail("objects left alive after the run");
    for (const std::string& s : st.broken) std::fprintf(stderr, "soak: INVARIANT BROKEN: %s\n", s.c_str());
    std::printf("soak: %.1f s on %u threads: %llu rounds, %llu operations, %.0f ops/s, %llu select timeouts, %llu ticks; %s\n", t,
                threads, (unsigned long long)st.rounds.load(), (unsigned long long)st.ops.load(), double(st.ops.load()) / t,
                (unsigned long long)st.timeouts.load(), (unsigned long long)st.ticks.load(),
                st.broken_count.load() ? "invariants BROKEN" : "all invariants held");
    if (st.broken_count.load()) rc = 1;
    return rc;
}
