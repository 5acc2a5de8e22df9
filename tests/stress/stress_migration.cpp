// tests/stress/stress_migration.cpp: coroutines resumed on one worker after
// another, tens of thousands of times, while every worker is kept busy.
// Each coroutine checks after every switch that it is still itself
// (coroutine_id), that a thread_local it reads belongs to the thread it runs
// on now, and that its own stack data is intact. Where the test wakes
// coroutines from outside the workers (plain threads, the timer thread)
// while busy coroutines keep every worker's queue full, at least one
// coroutine must have run on two threads when there are two workers or more.
#include "test_util.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <set>
#include <thread>
#include <vector>

using rill_test::test_options;
using rill_test::test_threads;

namespace {

struct report {
    std::set<std::thread::id> threads_seen;
    bool identity_kept = true;
    bool thread_local_ok = true;
    bool stack_intact = true;
    long switches = 0;
};

/// Checks the coroutine's state after a switch and records the thread.
void after_switch(report& r, std::uint64_t id, const std::array<std::uint64_t, 32>& stack_data) {
    r.threads_seen.insert(std::this_thread::get_id());
    r.identity_kept = r.identity_kept && rill::coroutine_id() == id && rill::in_coroutine();
    r.thread_local_ok = r.thread_local_ok && rill_test::thread_local_is_current();
    for (std::size_t i = 0; i < stack_data.size(); ++i) r.stack_intact = r.stack_intact && stack_data[i] == id * 1000 + i;
    ++r.switches;
}

/// Checks every coroutine's reports; returns whether some coroutine ran on
/// two threads or more.
bool check_reports(const std::vector<report>& reports, long want_switches) {
    long switches = 0;
    std::size_t most_threads = 0;
    for (const report& r : reports) {
        CHECK(r.identity_kept);
        CHECK(r.thread_local_ok);
        CHECK(r.stack_intact);
        switches += r.switches;
        most_threads = std::max(most_threads, r.threads_seen.size());
    }
    CHECK(switches == want_switches);
    return most_threads >= 2;
}

/// For the tests whose design moves coroutines between workers: with two
/// workers or more, some coroutine must run on two threads. Which worker
/// picks a wake from the shared queue is up to timing (on 2 cores with 4
/// workers, the OS may leave every other worker off the CPU for a short
/// run: 1 run in 40 here), so each attempt is checked in full and
/// migration is required of at least one of up to five attempts.
template <class RunOnce>
void check_with_migration(RunOnce run_once, long want_switches) {
    if (test_threads() < 2) {   // nothing can migrate: one attempt, checked in full
        check_reports(run_once(), want_switches);
        return;
    }
    bool migrated = false;
    for (int attempt = 0; attempt < 5 && !migrated; ++attempt) migrated = check_reports(run_once(), want_switches);
    CHECK(migrated);
}

}  // namespace

TEST_CASE("migration stress: tokens passed around a ring, with yields in between") {
    const unsigned threads = test_threads();
    constexpr int members = 32;
    const int tokens = int(std::min(4 * threads, unsigned(members) / 2));
    constexpr int hops_per_token = 4000;
    std::vector<report> reports(members);

    rill::run([&] {
        std::vector<rill::chan<int>> ring(members);
        rill::chan<int> finished(tokens);
        rill::wait_group wg;
        for (int i = 0; i < members; ++i) {
            wg.add(1);
            rill::go([&, i] {
                const std::uint64_t id = rill::coroutine_id();
                std::array<std::uint64_t, 32> stack_data;
                for (std::size_t k = 0; k < stack_data.size(); ++k) stack_data[k] = id * 1000 + k;
                rill::chan<int> in = ring[i], out = ring[(i + 1) % members];
                while (auto hops_left = in.recv()) {
                    after_switch(reports[i], id, stack_data);
                    rill::yield();
                    after_switch(reports[i], id, stack_data);
                    if (*hops_left == 1) finished.send(1);
                    else out.send(*hops_left - 1);
                }
                wg.done();
            });
        }
        for (int t = 0; t < tokens; ++t) ring[(t * members) / tokens].send(hops_per_token);
        for (int t = 0; t < tokens; ++t) finished.recv();
        for (auto& c : ring) c.close();
        wg.wait();
    }, test_options());

    check_reports(reports, 2L * tokens * hops_per_token);
}

TEST_CASE("migration stress: coroutines woken by plain threads while every worker is busy") {
    // A wake from a plain thread lands in the runtime's shared queue, and
    // whichever busy worker looks there first resumes the coroutine.
    constexpr int coroutines = 8, plain_threads = 2, messages = 2000;
    const int busy = int(2 * test_threads());
    check_with_migration([&] {
        std::vector<report> reports(coroutines);
        {
            rill::runtime rt(rill_test::plain_thread_options());
            std::atomic<bool> stop{false};
            rill::wait_group busy_done, done;
            busy_done.add(busy);
            for (int i = 0; i < busy; ++i) {
                rt.spawn([&] {
                    while (!stop) rill::yield();
                    busy_done.done();
                });
            }
            rill::chan<int> from_threads;
            rill::chan<int> between(2);
            done.add(coroutines);
            for (int i = 0; i < coroutines; ++i) {
                rt.spawn([&, i, from_threads, between] {
                    const std::uint64_t id = rill::coroutine_id();
                    std::array<std::uint64_t, 32> stack_data;
                    for (std::size_t k = 0; k < stack_data.size(); ++k) stack_data[k] = id * 1000 + k;
                    for (int v : from_threads) {
                        after_switch(reports[i], id, stack_data);
                        between.send(v);
                        after_switch(reports[i], id, stack_data);
                        (void)between.recv();
                        after_switch(reports[i], id, stack_data);
                    }
                    done.done();
                });
            }
            std::vector<std::thread> ts;
            for (int t = 0; t < plain_threads; ++t)
                ts.emplace_back([from_threads] { for (int m = 0; m < messages; ++m) from_threads.send(m); });
            for (auto& t : ts) t.join();
            from_threads.close();
            done.wait();
            stop = true;
            busy_done.wait();
            rt.wait();
        }
        return reports;
    }, 3L * plain_threads * messages);
}

TEST_CASE("migration stress: coroutines woken by timers and by each other while every worker is busy") {
    constexpr int migrators = 8, rounds = 1000;
    const int busy = int(2 * test_threads());
    check_with_migration([&] {
        std::vector<report> reports(migrators);
        rill::run([&] {
            std::atomic<bool> stop{false};
            rill::wait_group busy_done, done;
            for (int i = 0; i < busy; ++i) {
                busy_done.add(1);
                rill::go([&] {
                    while (!stop) rill::yield();
                    busy_done.done();
                });
            }
            rill::chan<int> baton;
            for (int i = 0; i < migrators; ++i) {
                done.add(1);
                rill::go([&, i, baton] {
                    const std::uint64_t id = rill::coroutine_id();
                    std::array<std::uint64_t, 32> stack_data;
                    for (std::size_t k = 0; k < stack_data.size(); ++k) stack_data[k] = id * 1000 + k;
                    for (int k = 0; k < rounds; ++k) {
                        rill::sleep_for(std::chrono::microseconds(10));
                        after_switch(reports[i], id, stack_data);
                        if (i % 2) baton.send(k);
                        else (void)baton.recv();
                        after_switch(reports[i], id, stack_data);
                    }
                    done.done();
                });
            }
            done.wait();
            stop = true;
            busy_done.wait();
        }, test_options());
        return reports;
    }, 2L * migrators * rounds);
}

TEST_CASE("migration stress: many coroutines yielding while others ping-pong") {
    constexpr int yielders = 16, rounds = 2000, pairs = 4, exchanges = 2000;
    std::vector<report> reports(yielders + 2 * pairs);
    rill::run([&] {
        rill::wait_group wg;
        for (int i = 0; i < yielders; ++i) {
            wg.add(1);
            rill::go([&, i] {
                const std::uint64_t id = rill::coroutine_id();
                std::array<std::uint64_t, 32> stack_data;
                for (std::size_t k = 0; k < stack_data.size(); ++k) stack_data[k] = id * 1000 + k;
                for (int r = 0; r < rounds; ++r) {
                    rill::yield();
                    after_switch(reports[i], id, stack_data);
                }
                wg.done();
            });
        }
        for (int p = 0; p < pairs; ++p) {
            rill::chan<int> ping, pong;
            for (int side = 0; side < 2; ++side) {
                wg.add(1);
                rill::go([&, p, side, ping, pong] {
                    const std::uint64_t id = rill::coroutine_id();
                    std::array<std::uint64_t, 32> stack_data;
                    for (std::size_t k = 0; k < stack_data.size(); ++k) stack_data[k] = id * 1000 + k;
                    report& r = reports[yielders + 2 * p + side];
                    for (int e = 0; e < exchanges; ++e) {
                        if (side == 0) {
                            ping.send(e);
                            (void)pong.recv();
                        } else {
                            (void)ping.recv();
                            pong.send(e);
                        }
                        after_switch(r, id, stack_data);
                    }
                    wg.done();
                });
            }
        }
        wg.wait();
    }, test_options());
    check_reports(reports, long(yielders) * rounds + 2L * pairs * exchanges);
}
