// tests/test_runtime.cpp: rill/runtime.hpp — run, runtime, go, yield,
// coroutine identity, errors that end a run, deadlock detection, unwinding
// at the end of a run, and migration between workers.
#include "test_util.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using rill_test::contains;
using rill_test::counted;
using rill_test::deadlock_message;
using rill_test::single_worker;
using rill_test::test_options;

namespace {

/// A root that sums 1..n received from a coroutine over an unbuffered channel.
int ping_pong_sum(int n) {
    rill::chan<int> c;
    rill::go([c, n] {
        for (int i = 1; i <= n; ++i) c.send(i);
        c.close();
    });
    int sum = 0;
    for (int v : c) sum += v;
    return sum;
}

}  // namespace

// ---- run ---------------------------------------------------------------

TEST_CASE("run returns the root's value") {
    CHECK(rill::run([] { return 42; }, test_options()) == 42);
    CHECK(rill::run([] { return std::string("rill"); }, test_options()) == "rill");

    auto p = rill::run([] { return std::make_unique<int>(7); }, test_options());
    REQUIRE(p != nullptr);
    CHECK(*p == 7);

    bool ran = false;
    rill::run([&] { ran = true; }, test_options());
    CHECK(ran);

    CHECK(rill::run([] { return 1; }) == 1);  // default options: one worker per hardware thread
}

TEST_CASE("run returns a value the root received from another coroutine") {
    int v = rill::run([] {
        rill::chan<int> c;
        rill::go([c] { c.send(42); });
        return *c.recv();
    }, test_options());
    CHECK(v == 42);
}

TEST_CASE("run may be called many times in a row") {
    for (int i = 0; i < 200; ++i) {
        int sum = rill::run([] { return ping_pong_sum(10); }, test_options());
        REQUIRE(sum == 55);
    }
    CHECK(rill::live().runtimes == 0);
}

TEST_CASE("run may be called from several threads at once, each with its own runtime") {
    constexpr int callers = 4;
    constexpr int runs_each = 25;
    std::vector<std::vector<int>> sums(callers);
    std::vector<std::thread> threads;
    for (int t = 0; t < callers; ++t) {
        threads.emplace_back([&sums, t] {
            for (int i = 0; i < runs_each; ++i)
                sums[t].push_back(rill::run([n = t + i] { return ping_pong_sum(n); }, test_options()));
        });
    }
    for (auto& t : threads) t.join();
    for (int t = 0; t < callers; ++t) {
        REQUIRE(sums[t].size() == runs_each);
        for (int i = 0; i < runs_each; ++i) CHECK(sums[t][i] == (t + i) * (t + i + 1) / 2);
    }
}

// ---- go, yield, identity -----------------------------------------------

TEST_CASE("go outside a coroutine throws std::logic_error") {
    CHECK_FALSE(rill::in_coroutine());
    CHECK_THROWS_AS(rill::go([] {}), std::logic_error);
}

TEST_CASE("go starts coroutines that all run") {
    std::atomic<int> ran{0};
    rill::run([&] {
        rill::wait_group wg;
        for (int i = 0; i < 100; ++i) {
            wg.add(1);
            rill::go([&] { ++ran; wg.done(); });
        }
        wg.wait();
    }, test_options());
    CHECK(ran == 100);
}

TEST_CASE("a spawned coroutine counts as alive before it starts; each gets an id of its own") {
    // One worker, and the root does not switch between its spawns and the
    // count: none of the spawned coroutines has started there.
    constexpr int n = 5000;
    std::size_t alive_after_burst = 0;
    std::set<std::uint64_t> ids;
    std::uint64_t root_id = 0;
    const rill::live_objects before = rill::live();
    rill::run([&] {
        root_id = rill::coroutine_id();
        rill::wait_group wg;
        wg.add(n);
        for (int i = 0; i < n; ++i) rill::go([&] { ids.insert(rill::coroutine_id()); wg.done(); });
        alive_after_burst = rill::live().coroutines - before.coroutines;
        wg.wait();
    }, single_worker());
    CHECK(alive_after_burst == std::size_t(n) + 1);   // the root and every spawned one, started or not
    CHECK(ids.size() == std::size_t(n));              // each ran once, with an id of its own
    CHECK(ids.count(root_id) == 0);
    CHECK(ids.count(0) == 0);
    CHECK(rill::live() == before);
}

TEST_CASE("spawned coroutines that never started are destroyed at the end of the run, their captures with them") {
    const long made_before = counted::made();
    std::atomic<int> ran{0};
    rill::run([&] {
        rill::chan<int> never;
        for (int i = 0; i < 1000; ++i) {
            auto held = std::make_shared<counted>();
            rill::go([held, never, &ran] { ++ran; never.recv(); });   // those that start block for good
        }
    }, test_options());
    // The root returned at once: each either started (and was unwound) or was
    // dropped unstarted. Either way its captures are gone.
    CHECK(ran <= 1000);
    CHECK(counted::made() - made_before == 1000);
    CHECK(counted::alive() == 0);
    CHECK(rill::live().coroutines == 0);
}

TEST_CASE("coroutines woken by one that then computes without yielding run on another worker") {
    // The computing coroutine keeps its worker. Of the coroutines it wakes,
    // the last sits in its worker's `next` slot until it stops; every other
    // one sits in its local queue (a short queue of woken coroutines, which
    // thieves leave alone for 50 µs only) or was never parked,
    // and another worker must run it meanwhile. At least two workers, also
    // in the suite's one-worker run.
    rill::options o = test_options();
    if (o.threads < 2) o.threads = 2;
    constexpr int woken = 3;
    std::array<std::atomic<bool>, woken> ran{};
    int ran_while_computing = 0;
    bool computed_to_the_deadline = false;
    rill::run([&] {
        std::vector<rill::chan<int>> chans;
        for (int i = 0; i < woken; ++i) chans.emplace_back(1);   // buffered: the sends below never block
        rill::wait_group started;
        started.add(woken);
        for (int i = 0; i < woken; ++i)
            rill::go([&, i, c = chans[i]] {
                started.done();
                if (c.recv()) ran[i] = true;
            });
        started.wait();
        for (auto& c : chans) c.send(1);
        // Compute: no rill call until the others ran or 10 s passed.
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        for (;;) {
            int n = 0;
            for (auto& r : ran) n += r.load() ? 1 : 0;
            if (n >= woken - 1) {
                ran_while_computing = n;
                break;
            }
            if (std::chrono::steady_clock::now() > deadline) {
                ran_while_computing = n;
                computed_to_the_deadline = true;
                break;
            }
        }
    }, o);
    CHECK_FALSE(computed_to_the_deadline);
    CHECK(ran_while_computing >= woken - 1);
    for (auto& r : ran) CHECK(r.load());   // the one left in `next` ran once the root stopped computing
}

TEST_CASE("a ping-pong pair and a long queue on one worker: the queue gets a turn now and then, the pair is not sent behind it") {
    // The pair's coroutines wake each other into the worker's `next` slot.
    // After 32 picks in a row from there, the local queue's head gets one
    // turn and the pair goes on: the queued coroutines are not starved, and
    // the pair does not wait for the whole queue (a chain of coroutines at
    // two workers once started nearly every link that way, each holding a
    // stack, before the value reached them).
    constexpr int queued = 1000;
    constexpr int rounds = 200;   // round trips: 2 * rounds picks from `next`
    int queued_ran = 0;
    int queued_ran_during_pair = -1;
    bool pair_ok = true;
    rill::run([&] {
        rill::chan<int> ping, pong;
        rill::wait_group wg;
        wg.add(2 + queued);
        rill::go([&] {
            for (int i = 0; i < rounds; ++i) {
                ping.send(i);
                if (pong.recv() != i) pair_ok = false;
            }
            queued_ran_during_pair = queued_ran;
            wg.done();
        });
        rill::go([&] {
            for (int i = 0; i < rounds; ++i) pong.send(ping.recv().value_or(-1));
            wg.done();
        });
        for (int i = 0; i < queued; ++i) rill::go([&] { ++queued_ran; wg.done(); });
        wg.wait();
    }, single_worker());
    CHECK(pair_ok);
    CHECK(queued_ran == queued);
    CHECK(queued_ran_during_pair >= 2 * rounds / 33 - 1);   // a turn after every 32 picks from `next`
    CHECK(queued_ran_during_pair <= 2 * rounds / 32 + 1);   // and one at a time
}

TEST_CASE("yield on a plain thread returns") {
    rill::yield();
    CHECK(rill::coroutine_id() == 0);
}

TEST_CASE("yield lets the other runnable coroutines run (one worker)") {
    // With a single worker the loop ends only if yield lets the setter run.
    int spins = rill::run([] {
        std::atomic<bool> flag{false};
        rill::go([&flag] { flag = true; });
        int n = 0;
        while (!flag) {
            rill::yield();
            ++n;
        }
        return n;
    }, rill_test::single_worker());
    CHECK(spins >= 0);
}

TEST_CASE("yield is fair: coroutines that all yield all make progress") {
    constexpr int workers = 8;
    constexpr int rounds = 200;
    std::vector<int> progress(workers, 0);
    rill::run([&] {
        rill::wait_group wg;
        for (int w = 0; w < workers; ++w) {
            wg.add(1);
            rill::go([&, w] {
                for (int r = 0; r < rounds; ++r) {
                    ++progress[w];
                    rill::yield();
                }
                wg.done();
            });
        }
        wg.wait();
    }, test_options());
    for (int p : progress) CHECK(p == rounds);
}

TEST_CASE("coroutine_id: 0 on a plain thread, unique per coroutine, stable across switches") {
    CHECK(rill::coroutine_id() == 0);
    CHECK_FALSE(rill::in_coroutine());

    constexpr int children = 20;
    struct seen {
        std::uint64_t root = 0;
        std::vector<std::uint64_t> ids;
        bool all_in_coroutine = true;
        bool stable = true;
    } s;
    rill::run([&] {
        s.root = rill::coroutine_id();
        s.all_in_coroutine = rill::in_coroutine();
        rill::chan<std::uint64_t> ids(children);
        rill::chan<bool> ok(children);
        for (int i = 0; i < children; ++i) {
            rill::go([ids, ok] {
                std::uint64_t id = rill::coroutine_id();
                bool stable = rill::in_coroutine();
                for (int k = 0; k < 20; ++k) {
                    rill::yield();
                    stable = stable && rill::coroutine_id() == id;
                }
                ids.send(id);
                ok.send(stable && rill::coroutine_id() == id);
            });
        }
        for (int i = 0; i < children; ++i) {
            s.ids.push_back(*ids.recv());
            s.stable = s.stable && *ok.recv();
        }
        s.stable = s.stable && rill::coroutine_id() == s.root;
    }, test_options());

    CHECK(s.root >= 1);
    CHECK(s.all_in_coroutine);
    CHECK(s.stable);
    std::set<std::uint64_t> distinct(s.ids.begin(), s.ids.end());
    distinct.insert(s.root);
    CHECK(distinct.size() == children + 1);
    CHECK(distinct.count(0) == 0);
}

// ---- errors end the run ------------------------------------------------

TEST_CASE("an exception escaping a coroutine ends run, which rethrows it after unwinding every other coroutine") {
    const long made_before = counted::made();
    auto body = [] {
        rill::chan<int> never;
        rill::chan<int> ready(16);
        for (int i = 0; i < 8; ++i) {
            rill::go([never, ready] {
                counted c;
                ready.send(1);
                never.recv();
            });
        }
        for (int i = 0; i < 8; ++i) ready.recv();
        rill::go([] { throw std::runtime_error("boom"); });
        never.recv();  // the root is blocked too when the child throws
    };
    CHECK_THROWS_WITH_AS(rill::run(body, test_options()), "boom", std::runtime_error);
    CHECK(counted::made() - made_before == 8);
    CHECK(counted::alive() == 0);
}

TEST_CASE("an exception escaping the root ends run and is rethrown") {
    const long made_before = counted::made();
    auto body = [] {
        rill::chan<int> never;
        rill::chan<int> ready(4);
        for (int i = 0; i < 4; ++i) {
            rill::go([never, ready] {
                counted c;
                ready.send(1);
                never.recv();
            });
        }
        for (int i = 0; i < 4; ++i) ready.recv();
        throw std::invalid_argument("root failed");
    };
    CHECK_THROWS_WITH_AS(rill::run(body, test_options()), "root failed", std::invalid_argument);
    CHECK(counted::made() - made_before == 4);
    CHECK(counted::alive() == 0);
}

TEST_CASE("when several coroutines throw, run rethrows one of their exceptions") {
    std::string what;
    try {
        rill::run([] {
            rill::chan<int> never;
            for (int i = 0; i < 10; ++i) rill::go([i] { throw std::runtime_error("boom-" + std::to_string(i)); });
            never.recv();
        }, test_options());
    } catch (const std::runtime_error& e) {
        what = e.what();
    }
    CHECK(what.rfind("boom-", 0) == 0);
}

TEST_CASE("an exception that is not a std::exception is rethrown as it was") {
    CHECK_THROWS_AS(rill::run([] {
        rill::chan<int> c;
        rill::go([] { throw 17; });
        c.recv();
    }, test_options()), int);
}

// ---- deadlock detection -------------------------------------------------

TEST_CASE("deadlock: run throws deadlock_error naming each blocked coroutine and its operation") {
    const long made_before = counted::made();
    std::string msg = deadlock_message([] {
        rill::chan<int> a, b, c, z;
        rill::go("alice", [a] { counted k; a.recv(); });
        rill::go("bob", [b] { counted k; b.recv(); });
        rill::go([c] {
            rill::set_coroutine_name("carol");
            counted k;
            c.send(1);
        });
        z.recv();
    });
    INFO("deadlock_error::what() = " << msg);
    REQUIRE_FALSE(msg.empty());
    CHECK(contains(msg, "alice"));
    CHECK(contains(msg, "bob"));
    CHECK(contains(msg, "carol"));
    CHECK(contains(msg, "recv"));
    CHECK(contains(msg, "send"));
    // the blocked coroutines were unwound before run threw
    CHECK(counted::made() - made_before == 3);
    CHECK(counted::alive() == 0);
}

TEST_CASE("deadlock: the root alone blocked on a channel nobody sends to") {
    std::string msg = deadlock_message([] {
        rill::chan<int> c;
        c.recv();
    });
    INFO("deadlock_error::what() = " << msg);
    CHECK(contains(msg, "recv"));
}

TEST_CASE("deadlock: blocked on a mutex and on a wait_group") {
    std::string msg = deadlock_message([] {
        auto wg = std::make_shared<rill::wait_group>();
        wg->add(1);
        rill::go("waiter", [wg] { wg->wait(); });
        rill::mutex m;
        m.lock();
        m.lock();  // locks itself out
    });
    INFO("deadlock_error::what() = " << msg);
    REQUIRE_FALSE(msg.empty());
    CHECK(contains(msg, "waiter"));
    CHECK(contains(msg, "mutex"));
    CHECK(contains(msg, "wait_group"));
}

TEST_CASE("no deadlock while some coroutine can still run") {
    // The root waits on a chain of coroutines that each pass the value on
    // after yielding: at every moment all but one are blocked.
    int v = rill::run([] {
        rill::chan<int> first;
        rill::chan<int> in = first;
        for (int i = 0; i < 50; ++i) {
            rill::chan<int> out;
            rill::go([in, out] {
                int x = *in.recv();
                rill::yield();
                out.send(x + 1);
            });
            in = out;
        }
        first.send(0);
        return *in.recv();
    }, test_options());
    CHECK(v == 50);
}

// ---- unwinding at the end of a run ---------------------------------------

TEST_CASE("coroutines still blocked when the root returns are unwound: every destructor runs") {
    const long made_before = counted::made();
    constexpr int copies = 3;
    int spawned = rill::run([] {
        rill::chan<int> ready(64);
        rill::chan<int> receivers_only;      // only receivers ever wait here
        rill::chan<int> senders_only;        // only senders ever wait here
        rill::chan<int> full(1);
        full.send(0);
        rill::chan<int> empty(4);
        rill::chan<int> nil{nullptr};
        auto m = std::make_shared<rill::mutex>();
        m->lock();
        auto wg = std::make_shared<rill::wait_group>();
        wg->add(1);

        std::vector<std::function<void()>> blockers = {
            [=] { receivers_only.recv(); },
            [=] { senders_only.send(1); },
            [=] { full.send(1); },
            [=] { empty.recv(); },
            [=] { nil.recv(); },
            [=] { nil.send(1); },
            [=] { rill::select(rill::on_recv(receivers_only, [] {}), rill::on_recv(empty, [] {})); },
            [=] { rill::select(rill::on_send(senders_only, 2, [] {}), rill::on_send(full, 2, [] {})); },
            [] { rill::select(); },
            [=] { m->lock(); },
            [=] { wg->wait(); },
            [=] { for (int v : empty) (void)v; },
        };
        int n = 0;
        for (int k = 0; k < copies; ++k) {
            for (auto& block : blockers) {
                rill::go([ready, block] {
                    counted c;
                    ready.send(1);
                    block();
                });
                ++n;
            }
        }
        for (int i = 0; i < n; ++i) ready.recv();
        return n;
    }, test_options());
    CHECK(spawned == 12 * copies);
    CHECK(counted::made() - made_before == spawned);
    CHECK(counted::alive() == 0);
    CHECK(rill::live().coroutines == 0);
}

TEST_CASE("a catch (...) that swallows the unwind exception does no harm") {
    std::atomic<int> swallowed{0};
    std::atomic<int> thrown_again{0};
    std::atomic<int> returned{0};
    std::atomic<int> caught_as_std_exception{0};
    const long made_before = counted::made();
    rill::run([&] {
        rill::chan<int> never;
        rill::chan<int> ready(3);
        rill::go([&, never, ready] {  // swallows, blocks again: thrown again
            counted c;
            ready.send(1);
            try { never.recv(); } catch (...) { ++swallowed; }
            try { never.recv(); } catch (...) { ++thrown_again; throw; }
        });
        rill::go([&, never, ready] {  // swallows and returns
            counted c;
            ready.send(1);
            try { never.recv(); } catch (...) { ++swallowed; }
            ++returned;
        });
        rill::go([&, never, ready] {  // catch (const std::exception&) lets it pass
            counted c;
            ready.send(1);
            try { never.recv(); } catch (const std::exception&) { ++caught_as_std_exception; }
        });
        for (int i = 0; i < 3; ++i) ready.recv();
    }, test_options());
    CHECK(swallowed == 2);
    CHECK(thrown_again == 1);
    CHECK(returned == 1);
    CHECK(caught_as_std_exception == 0);
    CHECK(counted::made() - made_before == 3);
    CHECK(counted::alive() == 0);
}

// ---- the embedded runtime ------------------------------------------------

TEST_CASE("runtime: spawn from several plain threads, then wait") {
    constexpr int spawners = 4;
    constexpr int per_spawner = 250;
    std::atomic<int> ran{0};
    std::atomic<int> in_coroutine{0};
    rill::runtime rt(test_options());
    CHECK(rt.threads() == rill_test::test_threads());
    std::vector<std::thread> threads;
    for (int t = 0; t < spawners; ++t) {
        threads.emplace_back([&] {
            for (int i = 0; i < per_spawner; ++i) {
                rt.spawn([&] {
                    if (rill::in_coroutine()) ++in_coroutine;
                    rill::yield();
                    ++ran;
                });
            }
        });
    }
    for (auto& t : threads) t.join();
    rt.wait();
    CHECK(ran == spawners * per_spawner);
    CHECK(in_coroutine == spawners * per_spawner);
}

TEST_CASE("runtime: coroutines spawned from different threads talk over channels") {
    rill::runtime rt(test_options());
    rill::chan<int> c;
    std::atomic<int> sum{0};
    std::thread producer_spawner([&] {
        rt.spawn("producer", [c] {
            for (int i = 1; i <= 100; ++i) c.send(i);
            c.close();
        });
    });
    std::thread consumer_spawner([&] {
        rt.spawn("consumer", [c, &sum] {
            for (int v : c) sum += v;
        });
    });
    producer_spawner.join();
    consumer_spawner.join();
    rt.wait();
    CHECK(sum == 5050);
}

TEST_CASE("runtime: the destructor waits for every coroutine") {
    std::atomic<int> finished{0};
    {
        rill::runtime rt(test_options());
        for (int i = 0; i < 10; ++i) {
            rt.spawn([&] {
                for (int k = 0; k < 50; ++k) rill::yield();
                ++finished;
            });
        }
    }
    CHECK(finished == 10);
}

TEST_CASE("runtime: after a wait that succeeded, more coroutines may be spawned and waited for") {
    std::atomic<int> ran{0};
    rill::runtime rt(test_options());
    for (int round = 1; round <= 3; ++round) {
        for (int i = 0; i < 10; ++i) {
            rt.spawn([&] {
                rill::yield();
                ++ran;
            });
        }
        rt.wait();
        CHECK(ran == 10 * round);
    }
}

// The end of a run is noticed by the worker that parks last (the live
// count is kept per worker, and no retire is told it was the last): a
// wait that missed it would hang here, and meson's timeout would fail the
// test. Each round's coroutines, spawned by this thread (counted outside)
// and by coroutines (counted on a worker), wait at a gate that this thread
// then closes, so that they finish at about the same time on every worker.
TEST_CASE("runtime: wait returns after every round, whichever worker retires the last coroutine") {
    constexpr int rounds = 300, per_round = 8;
    std::atomic<long> ran{0};
    rill::runtime rt(test_options());
    for (int round = 1; round <= rounds; ++round) {
        rill::chan<int> gate;
        std::atomic<int> waiting{0};
        for (int i = 0; i < per_round / 2; ++i) {
            rt.spawn([&, gate] {
                rill::go([&, gate] {
                    ++waiting;
                    (void)gate.recv();
                    ran.fetch_add(1);
                });
                ++waiting;
                (void)gate.recv();
                ran.fetch_add(1);
            });
        }
        while (waiting.load() < per_round) std::this_thread::yield();
        gate.close();
        rt.wait();
        REQUIRE(ran.load() == long(round) * per_round);
        REQUIRE(rill::live().coroutines == 0);
    }
}

TEST_CASE("runtime: wait rethrows a coroutine's exception; spawn then throws std::logic_error") {
    const long made_before = counted::made();
    rill::runtime rt(test_options());
    rill::chan<int> never;
    rill::chan<int> ready;
    rt.spawn([never, ready] {
        counted c;
        ready.send(1);
        never.recv();
    });
    rt.spawn([ready] {
        ready.recv();  // the first coroutine holds its counted now
        throw std::runtime_error("spawned and failed");
    });
    CHECK_THROWS_WITH_AS(rt.wait(), "spawned and failed", std::runtime_error);
    CHECK(counted::made() - made_before == 1);
    CHECK(counted::alive() == 0);
    CHECK_THROWS_AS(rt.spawn([] {}), std::logic_error);
}

TEST_CASE("runtime: wait throws deadlock_error when its coroutines wait on each other") {
    rill::runtime rt(test_options());
    rill::chan<int> a, b;
    rt.spawn("left", [a, b] { a.recv(); b.send(1); });
    rt.spawn("right", [a, b] { b.recv(); a.send(1); });
    std::string msg;
    try {
        rt.wait();
    } catch (const rill::deadlock_error& e) {
        msg = e.what();
    }
    INFO("deadlock_error::what() = " << msg);
    CHECK(contains(msg, "left"));
    CHECK(contains(msg, "right"));
}

// ---- migration -----------------------------------------------------------

TEST_CASE("coroutines migrate between workers thousands of times and keep their identity") {
    // Busy coroutines keep every worker's queue full. The migrators are
    // woken by the timer thread (sleep_for) and by each other: a wake from
    // outside the workers lands in the shared queue, and whichever busy
    // worker looks there first resumes the migrator. After every switch a
    // migrator checks that it is still itself and that thread_locals it
    // reads are those of the thread it runs on now.
    const unsigned threads = rill_test::test_threads();
    const int busy = int(2 * threads);
    constexpr int migrators = 4;
    constexpr int rounds = 500;

    struct report {
        std::set<std::thread::id> threads_seen;
        bool id_stable = true;
        bool thread_local_ok = true;
        long switches = 0;
    };
    std::vector<report> reports(migrators);

    rill::run([&] {
        std::atomic<bool> stop{false};
        rill::wait_group busy_done, migrators_done;
        for (int i = 0; i < busy; ++i) {
            busy_done.add(1);
            rill::go([&] {
                while (!stop) rill::yield();
                busy_done.done();
            });
        }
        rill::chan<int> baton;  // migrators also hand a value to each other
        for (int i = 0; i < migrators; ++i) {
            migrators_done.add(1);
            rill::go([&, i, baton] {
                report& r = reports[i];
                const std::uint64_t id = rill::coroutine_id();
                auto after_switch = [&] {
                    r.threads_seen.insert(std::this_thread::get_id());
                    r.thread_local_ok = r.thread_local_ok && rill_test::thread_local_is_current();
                    r.id_stable = r.id_stable && rill::coroutine_id() == id;
                    ++r.switches;
                };
                for (int k = 0; k < rounds; ++k) {
                    rill::sleep_for(std::chrono::microseconds(20));
                    after_switch();
                    rill::yield();
                    after_switch();
                    if (i % 2) baton.send(k);
                    else (void)baton.recv();
                    after_switch();
                }
                migrators_done.done();
            });
        }
        migrators_done.wait();
        stop = true;
        busy_done.wait();
    }, test_options());

    std::size_t most_threads = 0;
    for (auto& r : reports) {
        CHECK(r.id_stable);
        CHECK(r.thread_local_ok);
        CHECK(r.switches == 3 * rounds);
        most_threads = std::max(most_threads, r.threads_seen.size());
    }
    if (threads >= 2) CHECK(most_threads >= 2);
    CHECK(most_threads <= threads);
}

namespace {
/// Nine values live across every call to `step`: the compiler keeps them
/// in callee-saved registers (rbx, rbp, r12-r15 on x86-64) or on the stack,
/// which is what a switch must give back intact.
template <class Step>
std::uint64_t mix_across(int rounds, Step step) {
    std::uint64_t a = 1, b = 2, c = 3, d = 4, e = 5, f = 6, g = 7, h = 8;
    double x = 0.5;
    for (int k = 0; k < rounds; ++k) {
        step(k);
        a = a * 6364136223846793005ull + b;
        b ^= a >> 7;
        c += b * 3;
        d = (d << 5) ^ c;
        e += d + std::uint64_t(k);
        f ^= e * 0x9E37;
        g += f >> 3;
        h = (h ^ g) * 31;
        x = x * 0.5 + double(h & 0xff);
    }
    return a ^ b ^ c ^ d ^ e ^ f ^ g ^ h ^ std::uint64_t(x);
}
}  // namespace

TEST_CASE("values held in registers and on the stack survive every switch, on whichever worker") {
    constexpr int rounds = 3000;
    const std::uint64_t expected = mix_across(rounds, [](int) {});
    std::vector<std::uint64_t> got(8, 0);
    rill::run([&] {
        rill::chan<int> c;   // unbuffered: every send and recv parks, or hands off to the partner
        rill::wait_group wg;
        for (int i = 0; i < 8; ++i) {
            wg.add(1);
            rill::go([&, i, c] {
                got[std::size_t(i)] = mix_across(rounds, [&](int k) {
                    if (k % 3 == 0) rill::yield();
                    else if (i % 2) c.send(k);   // four senders, four receivers: the same count each
                    else (void)c.recv();
                });
                wg.done();
            });
        }
        wg.wait();
    }, test_options());
    for (std::uint64_t v : got) CHECK(v == expected);
}

// ---- stacks ------------------------------------------------------------------

namespace {
/// Touches `bytes` of stack in one frame, through a volatile array the
/// compiler cannot drop.
[[gnu::noinline]] int use_stack(std::size_t bytes) {
    constexpr std::size_t chunk = 16 * 1024;
    if (bytes < chunk) return 1;
    volatile char frame[chunk];
    for (std::size_t i = 0; i < chunk; i += 512) frame[i] = char(i);
    return frame[512] + use_stack(bytes - chunk);
}
}  // namespace

TEST_CASE("options.stack_size: a coroutine may use the stack it asked for") {
    rill::options o = test_options();
    o.stack_size = 1024 * 1024;
    int depth = rill::run([] {
        rill::chan<int> c;
        rill::go([c] { c.send(use_stack(512 * 1024)); });
        return *c.recv() + use_stack(512 * 1024);
    }, o);
    CHECK(depth > 0);
}

namespace {
// A small program with many scheduling choices: coroutines that yield,
// exchange values over a channel and select. Returns the order of events.
std::vector<int> interleaving(std::uint64_t seed) {
    std::vector<int> trace;
    rill::options o;
    o.deterministic_seed = seed;
    rill::run([&trace] {
        rill::chan<int> a(2), b;
        rill::wait_group wg;
        for (int id = 0; id < 4; ++id) {
            wg.add(1);
            rill::go([&, id] {
                for (int k = 0; k < 5; ++k) {
                    trace.push_back(id * 100 + k);
                    rill::yield();
                    rill::select(rill::on_send(a, id, [] {}), rill::on_send(b, id, [] {}));
                }
                wg.done();
            });
        }
        for (int i = 0; i < 20; ++i)
            rill::select(rill::on_recv(a, [&](std::optional<int> v) { trace.push_back(1000 + *v); }),
                         rill::on_recv(b, [&](std::optional<int> v) { trace.push_back(2000 + *v); }));
        wg.wait();
    }, o);
    return trace;
}
}  // namespace

TEST_CASE("deterministic mode: a seed replays the same interleaving, other seeds explore others") {
    std::vector<int> first = interleaving(42);
    CHECK(first.size() == 40);
    CHECK(interleaving(42) == first);
    int different = 0;
    for (std::uint64_t seed = 1; seed <= 20; ++seed) different += interleaving(seed) != first;
    CHECK(different >= 15);   // 20 seeds over a huge space of orders: nearly all differ
}

TEST_CASE("deterministic mode: a woken coroutine is one choice among the runnable, not handed the worker") {
    // A ping-pong beside a coroutine that only yields. Outside deterministic
    // mode a parking coroutine switches straight to the one it woke, and the
    // yielder gets a turn only when the worker looks at its queue; here each
    // park is a random pick among the runnable, so the yielder runs at about
    // every other one.
    for (std::uint64_t seed : {1u, 7u, 42u}) {
        rill::options o;
        o.deterministic_seed = seed;
        int yields_during = 0;
        rill::run([&] {
            rill::chan<int> ping, pong;
            bool exchanging = true;
            rill::wait_group wg;
            wg.add(2);
            rill::go([&] {
                while (auto v = ping.recv()) pong.send(*v);
                wg.done();
            });
            rill::go([&] {
                while (exchanging) {
                    ++yields_during;
                    rill::yield();
                }
                wg.done();
            });
            for (int i = 0; i < 200; ++i) {
                ping.send(i);
                CHECK(pong.recv() == i);
            }
            exchanging = false;
            ping.close();
            wg.wait();
        }, o);
        CHECK(yields_during >= 100);   // 400 parks; with hand-offs, a turn only when the queue's head gets one (1 in 33)
    }
}

TEST_CASE("at the end of a run the root is unwound last, so the others may still use its locals") {
    // After a deadlock (or an error) the root is blocked with its frame
    // alive; the other coroutines' destructors run first.
    std::vector<std::string> order;
    std::mutex order_lock;
    auto note = [&](std::string what) {
        std::scoped_lock l(order_lock);
        order.push_back(std::move(what));
    };
    struct on_exit {
        std::function<void()> fn;
        ~on_exit() { fn(); }
    };
    std::string msg = rill_test::deadlock_message([&] {
        std::atomic<int> unwound{0};   // the root's local: ASan flags any use after the root's frame is gone
        on_exit root_guard{[&] { note("root after " + std::to_string(unwound.load())); }};
        rill::chan<int> never;
        for (int i = 0; i < 8; ++i)
            rill::go([&, i] {
                on_exit guard{[&, i] {
                    unwound.fetch_add(1);
                    note("worker " + std::to_string(i));
                }};
                never.recv();
            });
        rill::yield();
        never.recv();
    });
    CHECK(rill_test::contains(msg, "deadlock"));
    REQUIRE(order.size() == 9);
    CHECK(order.back() == "root after 8");
}

TEST_CASE("a coroutine that blocks inside a catch handler rethrows its own exception") {
    // The exceptions being handled are per thread in the C++ runtime; rill
    // keeps them per coroutine across switches and migrations.
    for (int round = 0; round < 20; ++round) {
        std::string got_a, got_b;
        rill::run([&] {
            rill::chan<int> a, b;
            rill::wait_group wg;
            wg.add(2);
            rill::go([&] {
                try {
                    try {
                        throw std::runtime_error("A");
                    } catch (...) {
                        a.send(1);   // blocks inside the handler
                        b.recv();
                        CHECK(std::uncaught_exceptions() == 0);
                        throw;
                    }
                } catch (const std::exception& e) {
                    got_a = e.what();
                }
                wg.done();
            });
            rill::go([&] {
                try {
                    try {
                        throw std::runtime_error("B");
                    } catch (...) {
                        a.recv();
                        b.send(1);
                        throw;
                    }
                } catch (const std::exception& e) {
                    got_b = e.what();
                }
                wg.done();
            });
            wg.wait();
        }, test_options());
        CHECK(got_a == "A");
        CHECK(got_b == "B");
    }
}
