// src/park.hpp: steps 1 and 3 of the park/wake protocol (wait.hpp), inline.
//
// A channel operation that blocks finds its waitable, begins a wait, queues
// its node and parks. As calls into wait.cpp (current_waitable, begin_wait,
// park), those were three calls and their frames before the one that
// matters, switch_out(): 6% of a ping-pong round trip's instructions (796
// -> 746; mpmc_unbuf 412 -> 387 a message). Inline, a coroutine's way to
// sleep is straight code up to its switch_out(). The rare paths stay out
// of line: a plain thread, a coroutine's first wait (the registry), and a
// park while the run is being unwound.
#pragma once

#include "coroutine.hpp"
#include "scheduler.hpp"
#include "wait.hpp"

#include <cstdint>

namespace rill::detail {

/// A plain thread's waitable (current_waitable's rare case).
[[gnu::noinline]] waitable& thread_waitable() noexcept;

/// park()'s rare cases (wait.cpp): a plain thread, which waits here, and a
/// coroutine while the run is being unwound, which cancels its own wait
/// here unless a waker or the canceller won it first. True with `result`
/// set when the park is over; false: switch out as usual.
[[gnu::noinline]] bool park_rare(waitable& w, std::uint64_t seq, const held_locks& locks, park_result& result) noexcept;

/// The caller's waitable: its coroutine's, or its thread's.
inline waitable& current_waitable() noexcept {
    if (coroutine* c = current_coroutine()) [[likely]]
        return c->wait;
    return thread_waitable();
}

/// Step 1. Returns the seq of the new wait.
inline std::uint64_t begin_wait(waitable& w, const char* op, const chan_core* on) noexcept {
    if (coroutine* c = w.coro; c && !c->registered) [[unlikely]]
        c->sched.register_waiter(c);   // before it can be seen waiting
    std::uint64_t seq = seq_of(w.state.load(std::memory_order_relaxed)) + 1;
    w.fired = nullptr;
    w.op = op;
    w.on = on;
    if (!w.coro) [[unlikely]]
        w.signal.store(0, std::memory_order_relaxed);
    // release, not seq_cst: the deadlock check sees this through the idle
    // count, and the end of a run retries its cancellation until all is gone.
    w.state.store(make_state(seq, wait_phase::waiting), std::memory_order_release);
    return seq;
}

/// Step 3. Releases `locks` and blocks until woken or cancelled.
inline park_result park(waitable& w, std::uint64_t seq, held_locks locks) noexcept {
    coroutine* c = w.coro;
    if (!c || c->sched.unwinding(c)) [[unlikely]] {
        park_result result;
        if (park_rare(w, seq, locks, result)) return result;
    }
    c->on_worker()->release_after_switch(&locks);   // `locks` lives on this stack until we are back
    c->switch_out();
    auto phase = phase_of(w.state.load(std::memory_order_acquire));
    return phase == wait_phase::cancelled ? park_result::cancelled : park_result::woken;
}

}  // namespace rill::detail
