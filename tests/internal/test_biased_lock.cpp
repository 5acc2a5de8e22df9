// tests/internal/test_biased_lock.cpp: a channel's lock biased toward the
// thread that uses it (include/rill/detail/biased_lock.hpp).
//
// A lock taken lock_bias_streak times in a row by one thread is biased
// toward it; the first other thread to take it revokes the bias for good
// and doubles the streak the next bias needs. Mutual exclusion holds
// throughout: counters kept under the lock by two threads come out exact,
// across bias, revocation and after. Where biasing is not available (TSan
// builds, RILL_LOCK_BIAS=0, no membarrier) the same cases check that no
// lock is ever biased. A coroutine whose blocking operation finds the lock
// biased toward another worker moves there instead of revoking; its
// non-blocking operations never change threads.
#include <rill/detail/biased_lock.hpp>
#include <rill/rill.hpp>

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

using rill::detail::biased_lock;
using rill::detail::lock_bias_stats;
using rill::detail::lock_bias_streak;
using rill::detail::lock_bias_streak_first;
using rill::detail::lock_biasing_available;

namespace {

void take_times(biased_lock& l, std::uint32_t n) {
    for (std::uint32_t i = 0; i < n; ++i) {
        l.lock();
        l.unlock();
    }
}

/// Starts each case from the first streak, whatever the cases before did.
struct fresh_streak {
    fresh_streak() { lock_bias_streak.store(lock_bias_streak_first); }
    ~fresh_streak() { lock_bias_streak.store(lock_bias_streak_first); }
};

}  // namespace

TEST_CASE("a streak of one thread biases the lock; another thread revokes it and doubles the streak") {
    fresh_streak fresh;
    biased_lock l;
    const auto before = lock_bias_stats();
    take_times(l, lock_bias_streak_first - 1);
    CHECK_FALSE(l.biased());
    take_times(l, 1);
    if (!lock_biasing_available()) {
        CHECK_FALSE(l.biased());
        CHECK(lock_bias_stats().biased == before.biased);
        return;
    }
    REQUIRE(l.biased());
    CHECK(lock_bias_stats().biased == before.biased + 1);
    take_times(l, 10'000);   // the owner's own path
    CHECK(l.biased());

    std::thread([&] { take_times(l, 1); }).join();
    CHECK_FALSE(l.biased());
    CHECK(lock_bias_stats().revoked == before.revoked + 1);
    CHECK(lock_bias_streak.load() == 2 * lock_bias_streak_first);

    // Revoked for good: another long streak does not bias it again.
    take_times(l, 4 * lock_bias_streak_first);
    CHECK_FALSE(l.biased());
    CHECK(lock_bias_stats().biased == before.biased + 1);
}

TEST_CASE("a streak broken by another thread starts over") {
    fresh_streak fresh;
    biased_lock l;
    take_times(l, lock_bias_streak_first - 1);
    std::thread([&] { take_times(l, 1); }).join();
    take_times(l, lock_bias_streak_first - 1);
    CHECK_FALSE(l.biased());
    take_times(l, 1);
    CHECK(l.biased() == lock_biasing_available());
}

// Each lock is first biased toward this thread; then this thread and a
// second one add to the lock's counter, which only the lock protects. An
// increment is a read, a short spin and a write, so that two threads
// inside at once lose updates. In odd rounds the owner is inside, holding
// the lock for 2 ms, when the other thread arrives: the revoker must wait
// for it (a revoker that did not would lose that increment). In even
// rounds the other thread arrives at a different point of the owner's run
// each time, so that the revocation meets the owner inside, outside and in
// between.
TEST_CASE("mutual exclusion across bias, revocation and after: every increment counted") {
    fresh_streak fresh;
    constexpr int rounds = 32;
    constexpr std::uint64_t per_thread = 2'000;
    struct guarded {
        biased_lock lock;
        std::uint64_t count = 0;   // under lock
        void add_one(std::chrono::microseconds hold = {}, std::atomic<bool>* inside = nullptr) {
            lock.lock();
            const std::uint64_t seen = count;
            if (inside) inside->store(true, std::memory_order_release);
            const auto until = std::chrono::steady_clock::now() + hold;
            do {
                std::atomic_signal_fence(std::memory_order_seq_cst);   // a window for a second thread
            } while (std::chrono::steady_clock::now() < until);
            count = seen + 1;
            lock.unlock();
        }
    };
    int revoked_seen = 0;
    for (int i = 0; i < rounds; ++i) {
        lock_bias_streak.store(lock_bias_streak_first);   // keep the bias reachable in each round
        auto g = std::make_unique<guarded>();
        take_times(g->lock, lock_bias_streak_first);
        CHECK(g->lock.biased() == lock_biasing_available());
        std::atomic<bool> go{false};
        std::thread other([&] {
            while (!go.load(std::memory_order_acquire)) {
            }
            for (std::uint64_t k = 0; k < per_thread; ++k) g->add_one();
        });
        const bool long_hold = i % 2 == 1;
        for (std::uint64_t k = 0; k < per_thread; ++k) {
            if (long_hold && k == 0) {
                g->add_one(std::chrono::milliseconds(2), &go);   // go is set from inside the lock
                continue;
            }
            if (k == std::uint64_t(i) * (per_thread / rounds)) go.store(true, std::memory_order_release);
            g->add_one();
        }
        go.store(true, std::memory_order_release);
        other.join();
        g->lock.lock();
        CHECK(g->count == 2 * per_thread);
        g->lock.unlock();
        revoked_seen += !g->lock.biased();
    }
    // The other thread took every lock, so none stays biased.
    CHECK(revoked_seen == rounds);
}

// Through the public API: a channel that one coroutine has used long
// enough to be biased toward its worker's thread, then read by a plain
// thread (which revokes the bias) while coroutines send into it. Every
// value arrives exactly once, each sender's in its order.
TEST_CASE("a channel biased toward a worker, then shared with a plain thread: every value once, in order") {
    fresh_streak fresh;
    constexpr int warm = 3000;
    constexpr int senders = 3;
    constexpr int per_sender = 20'000;
    rill::options opts;
    opts.threads = 1;
    opts.detect_deadlock = false;   // the reader is a plain thread that is not always blocked in rill
    rill::runtime rt(opts);
    rill::chan<long> ch(64);
    const auto at_start = lock_bias_stats();
    std::atomic<bool> warmed{false};
    std::vector<long> next_from(senders, 0);
    long received = 0;
    bool in_order = true;
    std::thread reader([&] {
        warmed.wait(false);
        while (auto v = ch.recv()) {
            const long s = *v / per_sender, k = *v % per_sender;
            in_order = in_order && s < senders && next_from[std::size_t(s)] == k;
            if (s < senders) next_from[std::size_t(s)] = k + 1;
            ++received;
        }
    });
    long warm_sum = 0;
    rill::detail::lock_bias_counts after_warm{};
    rt.spawn([&] {
        for (int i = 0; i < warm; ++i) {   // one coroutine alone, on the single worker
            ch.send(i);
            warm_sum += *ch.recv();
        }
        after_warm = lock_bias_stats();
        warmed.store(true);
        warmed.notify_one();
        rill::wait_group wg;
        wg.add(senders);
        for (int s = 0; s < senders; ++s)
            rill::go([&, s] {
                for (int k = 0; k < per_sender; ++k) ch.send(long(s) * per_sender + k);
                wg.done();
            });
        wg.wait();
        ch.close();
    });
    rt.wait();
    reader.join();
    CHECK(warm_sum == long(warm) * (warm - 1) / 2);
    CHECK(in_order);
    CHECK(received == long(senders) * per_sender);
    for (int s = 0; s < senders; ++s) CHECK(next_from[std::size_t(s)] == per_sender);
    if (lock_biasing_available()) {
        CHECK(after_warm.biased > at_start.biased);
        CHECK(lock_bias_stats().revoked > after_warm.revoked);
    } else {
        CHECK(lock_bias_stats().biased == at_start.biased);
    }
}

// A coroutine at the start of a blocking channel operation that finds the
// lock biased toward another worker of its runtime moves to that worker
// instead of revoking the bias (biased_lock::lock_or_move); a non-blocking
// one (try_send, a select with a default) revokes and stays on its thread.
// Which worker runs what is pinned down like this: X keeps its worker busy
// (it spins, never switching out) while Y, which X spawned, can only run on
// the other worker; Y biases the channel's lock toward that worker; then X
// makes its call.
namespace {

/// The calling thread's id, read afresh: pthread_self() is declared const,
/// so the compiler may reuse a read from before a switch that moved the
/// coroutine to another thread; noipa keeps this call opaque.
[[gnu::noipa]] std::thread::id thread_now() { return std::this_thread::get_id(); }

struct across_workers {
    std::thread::id x_before, y_thread, x_after;
    rill::detail::lock_bias_counts before{}, after{};
    int value = -1;
    bool y_finished = false;
};

template <class Op>
across_workers after_bias_elsewhere(Op op) {
    fresh_streak fresh;
    rill::options opts;
    opts.threads = 2;
    rill::runtime rt(opts);
    rill::chan<int> ch(16);
    across_workers r;
    std::atomic<bool> biased_elsewhere{false};
    rt.spawn([&] {   // X
        r.x_before = thread_now();
        rill::go([&] {   // Y
            r.y_thread = thread_now();
            for (int i = 0; i < 3000; ++i) {   // 6,000 acquisitions in a row on this thread: a bias
                ch.send(i);
                (void)ch.recv();
            }
            r.before = lock_bias_stats();
            biased_elsewhere.store(true, std::memory_order_release);
        });
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
        while (!biased_elsewhere.load(std::memory_order_acquire) && std::chrono::steady_clock::now() < deadline) {
        }
        r.y_finished = biased_elsewhere.load(std::memory_order_acquire);
        op(ch);
        r.x_after = thread_now();
        r.after = lock_bias_stats();
        r.value = *ch.recv();
    });
    rt.wait();
    return r;
}

}  // namespace

TEST_CASE("a blocking send on a channel biased toward another worker moves there; the bias stands") {
    const across_workers r = after_bias_elsewhere([](rill::chan<int>& ch) { ch.send(42); });
    REQUIRE(r.y_finished);
    REQUIRE(r.y_thread != r.x_before);   // Y ran on the other worker
    CHECK(r.value == 42);
    if (lock_biasing_available()) {
        CHECK(r.before.biased > 0);
        // X took the lock as the owner, on the owner's thread: no revocation.
        // (If the idle worker took X back before the owner ran it, X moved
        // again: at least one move.)
        CHECK(r.x_after == r.y_thread);
        CHECK(r.after.moved >= r.before.moved + 1);
        CHECK(r.after.revoked == r.before.revoked);
    } else {
        CHECK(r.x_after == r.x_before);
        CHECK(r.after.moved == r.before.moved);
    }
}

TEST_CASE("a select without a default moves too; try_send and a select with a default stay and revoke") {
    SUBCASE("select, no default") {
        const across_workers r = after_bias_elsewhere([](rill::chan<int>& ch) {
            int sent = 0;
            rill::select(rill::on_send(ch, 43, [&] { sent = 1; }));
            CHECK(sent == 1);
        });
        REQUIRE(r.y_finished);
        REQUIRE(r.y_thread != r.x_before);
        CHECK(r.value == 43);
        CHECK((r.x_after == r.y_thread) == lock_biasing_available());
        CHECK(r.after.revoked == r.before.revoked);
    }
    SUBCASE("try_send") {
        const across_workers r = after_bias_elsewhere([](rill::chan<int>& ch) { CHECK(ch.try_send(44)); });
        REQUIRE(r.y_finished);
        REQUIRE(r.y_thread != r.x_before);
        CHECK(r.value == 44);
        CHECK(r.x_after == r.x_before);   // never changes threads
        CHECK(r.after.moved == r.before.moved);
        CHECK(r.after.revoked == r.before.revoked + (lock_biasing_available() ? 1 : 0));
    }
    SUBCASE("select with a default") {
        const across_workers r = after_bias_elsewhere([](rill::chan<int>& ch) {
            int sent = 0;
            rill::select(rill::on_send(ch, 45, [&] { sent = 1; }), rill::on_default([&] { sent = 2; }));
            CHECK(sent == 1);
        });
        REQUIRE(r.y_finished);
        REQUIRE(r.y_thread != r.x_before);
        CHECK(r.value == 45);
        CHECK(r.x_after == r.x_before);
        CHECK(r.after.moved == r.before.moved);
        CHECK(r.after.revoked == r.before.revoked + (lock_biasing_available() ? 1 : 0));
    }
}
