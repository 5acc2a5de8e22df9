// src/wait.hpp: the park/wake seam. Every blocking operation of rill
// (channels, select, mutex, wait_group, timers) waits and wakes through here,
// so the scheduler is the only thing that knows coroutines from threads.
//
// The protocol. A waiter (coroutine or plain thread) owns one `waitable`.
//  1. begin_wait() starts a new wait: state = (seq, waiting). It runs with
//     the locks of every channel involved held.
//  2. The waiter links wait_nodes carrying `seq` into the channels' queues.
//  3. park() gives up the processor. A coroutine switches to its worker
//     first; the worker releases the channel locks only after the switch
//     (Go's park-with-unlock), so no waker can resume a coroutine whose
//     context is not saved yet, and no wake-up is lost.
//  4. A waker holding a channel lock finds a node and calls claim(): one CAS
//     (seq, waiting) -> (seq, woken). Only the winner moves the value and
//     calls wake(). Losers skip the node: the waiter was already woken by
//     another case of its select, or cancelled.
//  5. At the end of a run, cancel() does (seq, waiting) -> (seq, cancelled)
//     and wakes the coroutine; park() then reports `cancelled` and the
//     blocking call unlinks its nodes and throws coroutine_unwind.
#pragma once

#include <rill/detail/chan_core.hpp>

#include <atomic>
#include <cstdint>

namespace rill::detail {

class coroutine;

enum class wait_phase : std::uint64_t { running = 0, waiting = 1, woken = 2, cancelled = 3 };

inline std::uint64_t make_state(std::uint64_t seq, wait_phase p) noexcept { return (seq << 2) | std::uint64_t(p); }
inline wait_phase phase_of(std::uint64_t state) noexcept { return wait_phase(state & 3); }
inline std::uint64_t seq_of(std::uint64_t state) noexcept { return state >> 2; }

struct waitable {
    std::atomic<std::uint64_t> state{0};      // (seq << 2) | phase
    wait_node* fired = nullptr;               // the node that won; written by the claimer before wake()
    coroutine* coro = nullptr;                // null: a plain thread
    std::atomic<std::uint32_t> signal{0};     // plain thread: 1 once woken (futex word)
    const char* op = nullptr;                 // what it waits for ("recv", "select", ...): deadlock reports
    const chan_core* on = nullptr;            // the channel, if one
};

// current_waitable(), step 1 (begin_wait) and step 3 (park) are inline, in
// park.hpp: they need the coroutine and its scheduler, and a channel
// operation that blocks calls all three.

/// Step 4: true when the caller won the waiter and must wake() it.
inline bool claim(waitable& w, std::uint64_t seq) noexcept {
    std::uint64_t expected = make_state(seq, wait_phase::waiting);
    return w.state.compare_exchange_strong(expected, make_state(seq, wait_phase::woken), std::memory_order_acq_rel,
                                           std::memory_order_relaxed);
}

/// Makes a claimed waiter runnable. Call after claim() and after setting
/// w.fired; it may run at once on another thread, so touch nothing of it after.
void wake(waitable& w) noexcept;

/// What park() releases after the switch: the locks of `n` channels.
struct held_locks {
    chan_core* const* chans;
    std::size_t n;
    void release() const noexcept {
        for (std::size_t i = 0; i < n; ++i) chans[i]->unlock();
    }
};

enum class park_result { woken, cancelled };

/// Wait that nothing but cancellation ends (nil channels, empty select).
/// Throws coroutine_unwind when cancelled; on a plain thread it never returns.
[[noreturn]] void park_forever(const char* op);

}  // namespace rill::detail
