// tests/internal/test_steal.cpp: what an idle worker takes from another
// worker's queue (run_queue::steal_into; the rules are in scheduler.hpp at
// run_queue::long_queue).
//
// New work moves at once, unless thieves found that the queue's new
// coroutines park at their first run (then one at a time, once due, like
// woken work). Woken coroutines move once the queue shows that
// its owner is behind: computing_grace_ns after a thief first saw them when the
// owner computes meanwhile, backlog_ns when it passes messages (takes more
// than one channel lock per message_ns), at once in a queue longer than
// long_queue; an owner that got through everything seen starts the count
// over. The queues here are the test's own; the woken coroutines in them
// are real records of coroutines parked on a channel (so in no other
// queue), taken out again before the channel lets them go. The clock is
// the real one: a check that something is not due yet is made only where
// the test measured that the time had not passed, and a run whose window
// the machine stretched is run again.
#include "coroutine.hpp"
#include "scheduler.hpp"

#include <rill/rill.hpp>

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>
#include <vector>

using rill::detail::coroutine;
using rill::detail::run_node;
using rill::detail::run_queue;

namespace {

struct new_task : rill::detail::task {
    void run() override {}
};

std::int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// The thread running the caller now. Not inlined: pthread_self is a const
// function, and a call the compiler kept from before a switch would name
// the thread the coroutine ran on then.
[[gnu::noipa]] std::thread::id thread_now() { return std::this_thread::get_id(); }

void sleep_ns(std::int64_t ns) { std::this_thread::sleep_for(std::chrono::nanoseconds(ns)); }

void drain(run_queue& q) {
    while (q.pop()) {
    }
}

/// Runs body(records) in the root of a one-worker runtime while n other
/// coroutines are parked on a channel receive: their records have run and
/// sit in no run queue. body must leave none of them in its queues.
template <class F>
void with_woken(int n, F body) {
    rill::options o;
    o.threads = 1;
    o.detect_deadlock = false;
    rill::run([&] {
        rill::chan<int> gate;
        std::vector<coroutine*> records(std::size_t(n), nullptr);
        rill::wait_group all_there;
        all_there.add(n);
        for (int i = 0; i < n; ++i)
            rill::go([&, i] {
                records[std::size_t(i)] = rill::detail::current_coroutine();
                all_there.done();
                (void)gate.recv();
            });
        // One worker: the root runs again only once the last of them has
        // parked, each in its recv (done() wakes without switching).
        all_there.wait();
        for (coroutine* c : records) {
            REQUIRE(c != nullptr);
            REQUIRE(c->started());
            REQUIRE(c->suspended.load());
        }
        body(records);
        gate.close();
    }, o);
}

void push_all(run_queue& q, const std::vector<coroutine*>& records) {
    for (coroutine* c : records) q.push(c);
}

/// Runs attempt(q, into, owner_locks) on a fresh queue holding the woken
/// records until it reports that its timed window held (at most 20 times:
/// the machine may stretch a window), then checks that one did.
template <class F>
void in_a_timed_window(const std::vector<coroutine*>& records, F attempt) {
    bool window_held = false;
    for (int i = 0; i < 20 && !window_held; ++i) {
        std::uint64_t owner_locks = 0;
        run_queue q, into;
        q.set_owner_chan_locks(&owner_locks);
        push_all(q, records);
        window_held = attempt(q, into, owner_locks);
        drain(q);
        drain(into);
    }
    CHECK(window_held);
}

}  // namespace

TEST_CASE("new work moves at once, half the queue, oldest first; a lone new one at the second look") {
    new_task a, b, c;
    run_queue q, into;
    q.push(&a);
    q.push(&b);
    q.push(&c);
    CHECK(q.steal_into(into) == &a);   // half of 3, rounded up: a to run, b into the thief's queue
    CHECK(into.size() == 1);
    CHECK(into.pop() == &b);
    CHECK(q.size() == 1);
    CHECK(q.steal_into(into) == nullptr);   // c alone: left for one more look
    CHECK(q.steal_into(into) == &c);
    CHECK(q.size() == 0);
}


TEST_CASE("woken coroutines of an owner that computes move computing_grace_ns after a thief saw them") {
    with_woken(4, [](const std::vector<coroutine*>& records) {
        // The owner takes no channel lock: it computes.
        in_a_timed_window(records, [&](run_queue& q, run_queue& into, std::uint64_t&) {
            const std::int64_t t0 = now_ns();
            const run_node* first = q.steal_into(into);    // the sighting
            const run_node* second = q.steal_into(into);
            if (now_ns() - t0 >= run_queue::computing_grace_ns) return false;
            CHECK(first == nullptr);
            CHECK(second == nullptr);
            sleep_ns(run_queue::computing_grace_ns + 20000);
            CHECK(q.steal_into(into) == records[0]);   // half of 4: records 0 and 1
            CHECK(into.pop() == records[1]);
            CHECK(q.size() == 2);
            return true;
        });
    });
}

TEST_CASE("woken coroutines of an owner that passes messages stay until backlog_ns") {
    with_woken(4, [](const std::vector<coroutine*>& records) {
        in_a_timed_window(records, [&](run_queue& q, run_queue& into, std::uint64_t& owner_locks) {
            const std::int64_t t0 = now_ns();
            CHECK(q.steal_into(into) == nullptr);   // the sighting
            sleep_ns(2 * run_queue::computing_grace_ns);
            // The owner took a channel lock every few nanoseconds meanwhile.
            owner_locks += std::uint64_t(run_queue::backlog_ns);
            const run_node* early = q.steal_into(into);
            if (now_ns() - t0 >= run_queue::backlog_ns) return false;
            CHECK(early == nullptr);   // past computing_grace_ns, yet not due
            sleep_ns(run_queue::backlog_ns - (now_ns() - t0) + 50000);
            owner_locks += std::uint64_t(run_queue::backlog_ns);
            CHECK(q.steal_into(into) == records[0]);
            CHECK(into.pop() == records[1]);
            return true;
        });
    });
}

TEST_CASE("an owner that got through everything a thief saw starts the wait over") {
    with_woken(4, [](const std::vector<coroutine*>& records) {
        std::uint64_t owner_locks = 0;
        run_queue q, into;
        q.set_owner_chan_locks(&owner_locks);
        push_all(q, records);
        CHECK(q.steal_into(into) == nullptr);   // the sighting
        // The owner runs all four, and they are woken again.
        drain(q);
        push_all(q, records);
        sleep_ns(run_queue::computing_grace_ns + 20000);
        CHECK(q.steal_into(into) == nullptr);   // a new sighting, not a due one
        sleep_ns(run_queue::computing_grace_ns + 20000);
        CHECK(q.steal_into(into) == records[0]);
        drain(q);
        drain(into);
    });
}

TEST_CASE("a queue longer than long_queue moves at once, woken or not") {
    constexpr int n = int(run_queue::long_queue) + 1;
    with_woken(n, [](const std::vector<coroutine*>& records) {
        std::uint64_t owner_locks = 0;
        run_queue q, into;
        q.set_owner_chan_locks(&owner_locks);
        push_all(q, records);
        CHECK(q.steal_into(into) == records[0]);
        const std::size_t taken = std::size_t(n) - std::size_t(n) / 2;
        CHECK(into.size() == taken - 1);
        for (std::size_t i = 1; i < taken; ++i) CHECK(into.pop() == records[i]);   // in order
        CHECK(q.size() == std::size_t(n) - taken);
        CHECK(q.pop() == records[taken]);   // the owner keeps the newer half
        drain(q);
    });
}

TEST_CASE("due_at: when the sighted work falls due, for an idle worker's watch; 0 once taken") {
    with_woken(4, [](const std::vector<coroutine*>& records) {
        in_a_timed_window(records, [&](run_queue& q, run_queue& into, std::uint64_t& owner_locks) {
            CHECK(q.due_at() == 0);   // no sighting yet: a look may find work now
            const std::int64_t t0 = now_ns();
            CHECK(q.steal_into(into) == nullptr);   // the sighting
            const std::int64_t t1 = now_ns();
            // The earliest it can fall due: computing_grace_ns after the sighting.
            CHECK(q.due_at() >= t0 + run_queue::computing_grace_ns);
            CHECK(q.due_at() <= t1 + run_queue::computing_grace_ns);
            sleep_ns(run_queue::look_interval_ns + 10000);
            owner_locks += std::uint64_t(run_queue::backlog_ns);   // it passes messages
            const run_node* early = q.steal_into(into);
            if (now_ns() - t0 >= run_queue::backlog_ns) return false;
            CHECK(early == nullptr);
            // Passing messages: backlog_ns after the sighting.
            CHECK(q.due_at() >= t0 + run_queue::backlog_ns);
            CHECK(q.due_at() <= t1 + run_queue::backlog_ns);
            sleep_ns(q.due_at() - now_ns() + 20000);
            owner_locks += std::uint64_t(run_queue::backlog_ns);
            CHECK(q.steal_into(into) == records[0]);
            CHECK(q.due_at() == 0);
            return true;
        });
    });
}

// The idle worker parks between its looks (it watches: worker::park), and
// a worker whose coroutine computes still loses its woken coroutines to it.
// With one of them stuck behind the computation the computation would never
// end (checked: with watches that last 100 s this gives up after 10 s).
TEST_CASE("a computing worker's woken coroutine is taken by the idle worker, which watches meanwhile") {
    rill::options o;
    o.threads = 2;
    o.detect_deadlock = false;
    std::atomic<bool> released{false};
    std::atomic<std::thread::id> computer_thread{}, released_by{};
    bool gave_up = false;
    rill::run([&] {
        rill::chan<int> gate;
        std::vector<coroutine*> records(2, nullptr);
        rill::wait_group all_there, finished;
        all_there.add(2);
        finished.add(3);
        for (int i = 0; i < 2; ++i)
            rill::go([&, i] {
                records[std::size_t(i)] = rill::detail::current_coroutine();
                all_there.done();
                (void)gate.recv();
                std::thread::id none{};
                if (released_by.compare_exchange_strong(none, thread_now())) released.store(true);
                finished.done();
            });
        rill::go([&] {
            all_there.wait();
            while (!records[0]->suspended.load() || !records[1]->suspended.load()) std::this_thread::yield();
            computer_thread.store(thread_now());
            // Wakes both: the second into this worker's `next`, the first
            // behind it in the local queue, where a thief may take it.
            gate.close();
            // First 2 ms of channel operations: the idle worker's sighting
            // sees a worker that passes messages, whose woken work is due
            // only backlog_ns after it, longer than the idle worker spins;
            // so it watches until then. Then this worker computes.
            rill::chan<int> own(1);
            const std::int64_t t0 = now_ns();
            while (now_ns() - t0 < 2'000'000 && !released.load()) (void)own.try_recv();
            while (!released.load())   // no channel operation, no yield
                if (now_ns() - t0 > 10'000'000'000) {
                    gave_up = true;
                    break;
                }
            finished.done();
        });
        finished.wait();
    }, o);
    CHECK_FALSE(gave_up);
    CHECK(released.load());
    CHECK(released_by.load() != computer_thread.load());   // taken by the other worker
}

TEST_CASE("new work whose coroutines park at their first run is taken patiently: one at a time, once due") {
    new_task tasks[8];
    std::uint64_t owner_locks = 0;   // the owner computes (it spawns)
    bool window_held = false;
    for (int attempt = 0; attempt < 20 && !window_held; ++attempt) {
        run_queue q, into;
        q.set_owner_chan_locks(&owner_locks);
        for (new_task& t : tasks) q.push(&t);
        for (std::uint32_t i = 0; i + 1 < run_queue::patient_after; ++i) q.report_first_run(false);
        CHECK_FALSE(q.patient());
        q.report_first_run(false);
        REQUIRE(q.patient());
        const std::int64_t t0 = now_ns();
        const run_node* first = q.steal_into(into);   // the sighting
        const bool in_window = now_ns() - t0 < run_queue::computing_grace_ns;
        if (in_window) {
            window_held = true;
            CHECK(first == nullptr);
            CHECK(q.due_at() != 0);   // an idle worker watches until then
            sleep_ns(run_queue::computing_grace_ns + 20000);
            CHECK(q.steal_into(into) == &tasks[0]);   // one, not half
            CHECK(into.size() == 0);
            CHECK(q.size() == 7);
            // One that finishes ends the patience: half the queue at once.
            q.report_first_run(true);
            CHECK_FALSE(q.patient());
            CHECK(q.steal_into(into) == &tasks[1]);
            CHECK(into.size() == 3);
        }
        drain(q);
        drain(into);
    }
    CHECK(window_held);
}
