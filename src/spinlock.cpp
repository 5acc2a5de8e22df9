// src/spinlock.cpp: the spinning half of rill's locks.
#include <rill/detail/spinlock.hpp>

#include <thread>

namespace rill::detail {

void spin_backoff(int round) noexcept {
    if (round < 10) {
        for (int i = 0; i < (1 << round); ++i) {
#if defined(__x86_64__) || defined(__i386__)
            __builtin_ia32_pause();
#elif defined(__aarch64__)
            asm volatile("yield");
#endif
        }
    } else {
        std::this_thread::yield();
    }
}

// Called after a failed acquire: waits with exponential backoff so that
// contending threads do not keep the lock's cache line bouncing, and yields
// the thread after a while in case the holder was preempted.
void spinlock::wait_unlocked() noexcept {
    for (int round = 0; flag_.load(std::memory_order_relaxed); ++round) spin_backoff(round);
}

}  // namespace rill::detail
