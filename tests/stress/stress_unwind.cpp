// tests/stress/stress_unwind.cpp: many coroutines blocked in every kind of
// wait when a run ends — because the root returned, a coroutine threw, or
// everything deadlocked. Every one is unwound: all destructors run, no
// coroutine, stack, channel or timer is left, and values held in channels
// are destroyed exactly once.
#include "test_util.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <functional>
#include <memory>
#include <stdexcept>
#include <vector>

using namespace std::chrono_literals;
using rill_test::counted;
using rill_test::test_options;

namespace {

enum class ending { root_returns, exception, deadlock };

/// Spawns `per_kind` coroutines for each kind of blocking wait, each holding
/// a counted object (and some holding counted values in flight), waits until
/// all started, then ends the run the given way. Returns how many counted
/// objects the coroutines made.
long spawn_blocked_and_end(int per_kind, ending how) {
    auto body = [per_kind, how] {
        using item = std::unique_ptr<counted>;
        rill::chan<int> ready(64);
        rill::chan<item> receivers_only;
        rill::chan<item> senders_only;
        rill::chan<item> full(2);
        full.send(std::make_unique<counted>());
        full.send(std::make_unique<counted>());
        rill::chan<item> empty(8);
        auto m = std::make_shared<rill::mutex>();
        m->lock();
        auto wg = std::make_shared<rill::wait_group>();
        wg->add(1);
        const bool with_timers = how != ending::deadlock;  // a pending timer is not a deadlock

        std::vector<std::function<void()>> blockers = {
            [=] { receivers_only.recv(); },
            [=] { senders_only.send(std::make_unique<counted>()); },
            [=] { full.send(std::make_unique<counted>()); },
            [=] { for (auto& v : empty) (void)v; },
            [=] { rill::chan<int>{nullptr}.recv(); },
            [=] {
                auto v = std::make_unique<counted>();
                rill::select(rill::on_send(senders_only, v, [] {}), rill::on_recv(receivers_only, [] {}));
            },
            [=] { rill::select(rill::on_recv(empty, [] {}), rill::on_send(full, std::make_unique<counted>(), [] {})); },
            [] { rill::select(); },
            [=] { std::scoped_lock lock(*m); },
            [=] { wg->wait(); },
            [=] {
                rill::group g;  // a group whose child is blocked too
                g.go([receivers_only] { counted c; receivers_only.recv(); });
                g.wait();
            },
        };
        if (with_timers) {
            blockers.push_back([] { rill::sleep_for(1h); });
            blockers.push_back([] { rill::after(1h).recv(); });
            blockers.push_back([] { rill::ticker t(1h); t.chan().recv(); });
        }
        int started = 0;
        for (int k = 0; k < per_kind; ++k) {
            for (auto& block : blockers) {
                rill::go([ready, block] {
                    counted c;
                    ready.send(1);
                    block();
                });
                ++started;
            }
        }
        for (int i = 0; i < started; ++i) ready.recv();
        switch (how) {
        case ending::root_returns: return;
        case ending::exception: rill::go([] { throw std::runtime_error("the end"); }); break;
        case ending::deadlock: break;
        }
        rill::chan<int>().recv();  // the root blocks too
    };

    const long made_before = counted::made();
    switch (how) {
    case ending::root_returns:
        rill::run(body, test_options());
        break;
    case ending::exception:
        CHECK_THROWS_WITH_AS(rill::run(body, test_options()), "the end", std::runtime_error);
        break;
    case ending::deadlock:
        CHECK_THROWS_AS(rill::run(body, test_options()), rill::deadlock_error);
        break;
    }
    return counted::made() - made_before;
}

void check_nothing_left(long made) {
    CHECK(made > 0);
    CHECK(counted::alive() == 0);
    rill::live_objects l = rill::live();
    CHECK(l.coroutines == 0);
    CHECK(l.channels == 0);
    CHECK(l.runtimes == 0);
}

}  // namespace

TEST_CASE("unwind stress: many blocked coroutines when the root returns") {
    for (int round = 0; round < 10; ++round) check_nothing_left(spawn_blocked_and_end(40, ending::root_returns));
}

TEST_CASE("unwind stress: many blocked coroutines when a coroutine throws") {
    for (int round = 0; round < 10; ++round) check_nothing_left(spawn_blocked_and_end(40, ending::exception));
}

TEST_CASE("unwind stress: many blocked coroutines in a deadlock") {
    for (int round = 0; round < 10; ++round) check_nothing_left(spawn_blocked_and_end(40, ending::deadlock));
}

TEST_CASE("unwind stress: a thousand coroutines blocked on one channel") {
    const long made_before = counted::made();
    rill::run([] {
        rill::chan<int> c;
        rill::chan<int> ready(1000);
        for (int i = 0; i < 1000; ++i) {
            rill::go([c, ready] {
                counted k;
                ready.send(1);
                c.recv();
            });
        }
        for (int i = 0; i < 1000; ++i) ready.recv();
    }, test_options());
    CHECK(counted::made() - made_before == 1000);
    CHECK(counted::alive() == 0);
    CHECK(rill::live().coroutines == 0);
}

TEST_CASE("unwind stress: 20,000 live coroutines, more than the guard-page mappings allow, all run then unwind") {
    // vm.max_map_count (65,530 by default) caps guarded stacks at a few
    // thousand per process; the runtime must still run this many at once.
    // (ThreadSanitizer cannot track that many fibers: 4,000 there.)
    const int n = rill_test::under_thread_sanitizer ? 4000 : 20000;
    const long made_before = counted::made();
    long sum = rill::run([=] {
        rill::chan<int> go_on;       // released all at once by close
        rill::chan<int> never;
        rill::chan<long> results(n);
        for (int i = 0; i < n; ++i) {
            rill::go([=] {
                counted k;
                go_on.recv();        // all n are alive and blocked here
                results.send(i);
                never.recv();        // and again here, until unwound
            });
        }
        go_on.close();
        long s = 0;
        for (int i = 0; i < n; ++i) s += *results.recv();
        return s;
    }, test_options());
    CHECK(sum == long(n) * (n - 1) / 2);
    CHECK(counted::made() - made_before == n);
    CHECK(counted::alive() == 0);
    CHECK(rill::live().stacks == 0);
}
