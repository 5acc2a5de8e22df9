// src/live_counts.hpp: process-wide counts of live objects, for rill::live().
//
// Coroutines and channels are counted where they are made and destroyed,
// which for a coroutine is usually on two threads: the spawner adds one,
// the worker that retires it takes one off. A shared atomic counter put a
// contended locked instruction on both sides of every spawn (a cache line
// passed between the workers per coroutine), so these two counts are kept
// per thread: each thread changes only its own cell, with a plain load and
// store, and live() adds the cells up. A cell can go negative (a thread
// that retires more than it spawns); the sum cannot. A thread that exits
// leaves its cell, value and all, to the next thread that needs one; cells
// are never freed (one per thread alive at once).
//
// live() is exact once the threads that counted are joined or otherwise
// synchronised with the caller (how the test suites use it: after a run).
#pragma once

#include <atomic>
#include <cstddef>

namespace rill::detail::live_counts {

struct alignas(64) count_cell {
    std::atomic<long> coroutines{0};   // spawned and not retired, started or not; written by the owning thread only
    std::atomic<long> records{0};      // coroutine records (a coroutine gets one when it first runs)
    std::atomic<long> channels{0};
    std::atomic<bool> in_use{false};   // owned by a thread (set by the CAS that takes it)
    count_cell* next = nullptr;        // every cell ever made (push-only list)
};

/// The calling thread's cell, once it has one (constant-initialised: read
/// without a TLS wrapper call).
[[gnu::tls_model("initial-exec")]] inline thread_local count_cell* tls_cell = nullptr;

/// Takes a cell for the calling thread (its first count).
count_cell& take_cell() noexcept;

/// The calling thread's cell.
inline count_cell& my_cell() noexcept {
    if (count_cell* c = tls_cell) [[likely]]
        return *c;
    return take_cell();
}

inline void add(std::atomic<long>& counter, long n) noexcept {
    counter.store(counter.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}
inline void coroutine_made() noexcept { add(my_cell().coroutines, 1); }
inline void coroutine_gone() noexcept { add(my_cell().coroutines, -1); }
inline void record_made() noexcept { add(my_cell().records, 1); }
inline void record_gone() noexcept { add(my_cell().records, -1); }
inline void channel_made() noexcept { add(my_cell().channels, 1); }
inline void channel_gone() noexcept { add(my_cell().channels, -1); }

/// Sums of every cell.
std::size_t coroutines() noexcept;
std::size_t coroutine_records() noexcept;   // not in live(): records made (at a coroutine's first run; a named one's and the root's at spawn)
std::size_t channels() noexcept;

// Rarely changed: plain shared counters.
inline std::atomic<std::size_t> stacks{0};
inline std::atomic<std::size_t> timers{0};
inline std::atomic<std::size_t> runtimes{0};

}  // namespace rill::detail::live_counts
