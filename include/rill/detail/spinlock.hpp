// rill/detail/spinlock.hpp: the lock under the run queues, the allocator's
// depot and (in normal mode) every channel (biased_lock.hpp).
#pragma once

#include <atomic>

namespace rill::detail {

/// A test-and-test-and-set lock that yields the thread after spinning.
/// Channel critical sections are a few dozen instructions long.
class spinlock {
public:
    // The acquire is inlined everywhere (an exchange and a branch); the
    // backoff stays out of line, so that a caller's fast path stays small.
    [[gnu::always_inline]] void lock() noexcept {
        while (flag_.exchange(true, std::memory_order_acquire)) [[unlikely]] wait_unlocked();
    }
    bool try_lock() noexcept { return !flag_.load(std::memory_order_relaxed) && !flag_.exchange(true, std::memory_order_acquire); }
    void unlock() noexcept { flag_.store(false, std::memory_order_release); }

private:
    [[gnu::noinline, gnu::cold]] void wait_unlocked() noexcept;  // spins, then yields the thread
    std::atomic<bool> flag_{false};
};

/// One round of a spinning wait: a growing run of pause instructions, then
/// yielding the thread (the holder may have been preempted).
void spin_backoff(int round) noexcept;

}  // namespace rill::detail
