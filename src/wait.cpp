// src/wait.cpp: park and wake, for coroutines and plain threads alike.
#include "wait.hpp"

#include "coroutine.hpp"
#include "park.hpp"
#include "scheduler.hpp"

#include <rill/errors.hpp>

#include <thread>

namespace rill::detail {

namespace {

thread_local waitable tls_thread_waitable;   // a plain thread's waitable

}  // namespace

waitable& thread_waitable() noexcept { return tls_thread_waitable; }

void wake(waitable& w) noexcept {
    if (coroutine* c = w.coro) {
        c->sched.ready(c);
        return;
    }
    w.signal.store(1, std::memory_order_release);
    w.signal.notify_one();
}

namespace {

// A plain thread: count it as a possible waker of a quiet runtime before
// the locks go, uncount it once woken.
[[gnu::noinline]] park_result park_thread(waitable& w, std::uint64_t seq, held_locks locks) noexcept {
    plain_threads_blocked.fetch_add(1, std::memory_order_seq_cst);
    locks.release();
    while (w.signal.load(std::memory_order_acquire) == 0) w.signal.wait(0, std::memory_order_acquire);
    plain_threads_blocked.fetch_sub(1, std::memory_order_seq_cst);
    w.state.store(make_state(seq, wait_phase::running), std::memory_order_relaxed);
    return park_result::woken;
}

// Unwinding: do not sleep. True when the wait is cancelled here; false
// when a waker or the canceller won the waiter first: it will ready() us,
// so we must switch out anyway.
[[gnu::noinline, gnu::cold]] bool cancel_own_wait(waitable& w, std::uint64_t seq, const held_locks& locks) noexcept {
    std::uint64_t expected = make_state(seq, wait_phase::waiting);
    if (!w.state.compare_exchange_strong(expected, make_state(seq, wait_phase::cancelled), std::memory_order_acq_rel))
        return false;
    locks.release();
    return true;
}

}  // namespace

// park()'s rare cases, out of line (park.hpp).
bool park_rare(waitable& w, std::uint64_t seq, const held_locks& locks, park_result& result) noexcept {
    if (!w.coro) {
        result = park_thread(w, seq, locks);
        return true;
    }
    if (!cancel_own_wait(w, seq, locks)) return false;
    result = park_result::cancelled;
    return true;
}

void park_forever(const char* op) {
    waitable& w = current_waitable();
    std::uint64_t seq = begin_wait(w, op, nullptr);
    park(w, seq, held_locks{nullptr, 0});   // nobody can claim this wait: only cancellation ends it
    throw coroutine_unwind{};
}

void block_forever(const char* what) { park_forever(what); }

}  // namespace rill::detail
