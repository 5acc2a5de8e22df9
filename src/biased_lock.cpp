// src/biased_lock.cpp: the rare halves of a biased lock: taking the bias
// at a streak's end, and revoking it (the protocol is in biased_lock.hpp).
#include <rill/detail/biased_lock.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#if RILL_LOCK_BIAS_SUPPORTED
#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace rill::detail {

std::atomic<std::uint32_t> lock_bias_streak{lock_bias_streak_first};
constinit thread_local std::uint64_t chan_locks_taken [[gnu::tls_model("initial-exec")]] = 0;

namespace {

std::atomic<std::uint64_t> biased_count{0};
std::atomic<std::uint64_t> revoked_count{0};
std::atomic<std::uint64_t> moved_count{0};

#if RILL_LOCK_BIAS_SUPPORTED
long membarrier(int cmd) noexcept { return syscall(__NR_membarrier, cmd, 0, 0); }

bool membarrier_ready() noexcept {
    const long cmds = membarrier(MEMBARRIER_CMD_QUERY);
    if (cmds < 0 || !(cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED)) return false;
    return membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) == 0;
}
#endif

}  // namespace

lock_bias_counts lock_bias_stats() noexcept {
    return {biased_count.load(std::memory_order_relaxed), revoked_count.load(std::memory_order_relaxed),
            moved_count.load(std::memory_order_relaxed)};
}

bool lock_biasing_available() noexcept {
#if RILL_LOCK_BIAS_SUPPORTED
    static const bool available = [] {
        const char* env = std::getenv("RILL_LOCK_BIAS");
        if (env && std::strcmp(env, "0") == 0) return false;
        return membarrier_ready();
    }();
    return available;
#else
    return false;
#endif
}

// normal_ held, the caller's streak complete. Turns the caller's hold into
// an owner's hold: owner_inside_ first, so that a revoker that takes
// normal_ next finds the owner inside and waits for it.
void biased_lock::take_bias(const void* me) noexcept {
    if (!lock_biasing_available()) {
        bias_off_ = true;
        return;
    }
    owner_inside_.store(true, std::memory_order_relaxed);
    owner_.store(me, std::memory_order_relaxed);
    biased_count.fetch_add(1, std::memory_order_relaxed);
    normal_.unlock();   // release: a revoker that takes normal_ sees owner_ and owner_inside_
}

// normal_ held by a thread that is not the owner. After the membarrier the
// owner is either inside (and this waits for it to leave) or will see
// revoking_ and queue on normal_ behind us.
void biased_lock::revoke() noexcept {
#if RILL_LOCK_BIAS_SUPPORTED
    revoking_.store(true, std::memory_order_relaxed);
    if (membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) != 0) {
        // Registered at the first bias (take_bias; a child made by fork()
        // keeps the registration, checked on Linux 6.18), so this cannot
        // fail; if it did, going on could let two threads into the lock.
        std::fputs("rill: membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) failed while revoking a biased lock\n", stderr);
        std::abort();
    }
    for (int round = 0; owner_inside_.load(std::memory_order_acquire); ++round) spin_backoff(round);
    owner_.store(nullptr, std::memory_order_relaxed);
    bias_off_ = true;
    revoked_count.fetch_add(1, std::memory_order_relaxed);
    // Revocations cost more than a streak of atomic exchanges: make the
    // next bias wait for a streak twice as long.
    std::uint32_t streak = lock_bias_streak.load(std::memory_order_relaxed);
    while (streak < lock_bias_streak_max &&
           !lock_bias_streak.compare_exchange_weak(streak, streak * 2, std::memory_order_relaxed)) {
    }
#endif
}

// normal_ held by a coroutine at the start of a single channel operation,
// the lock biased toward another thread. While the lock has moves left,
// the coroutine lets go of normal_ and moves to the owner's worker
// (move_to_thread_of); there it takes the lock again, as the owner if the
// bias still stands. Otherwise, or when it cannot move, it revokes.
void biased_lock::move_or_revoke() noexcept {
#if RILL_LOCK_BIAS_SUPPORTED
    const auto units = [] {
        using namespace std::chrono;
        return std::uint16_t(std::uint64_t(duration_cast<nanoseconds>(steady_clock::now().time_since_epoch()).count()) >> 20);
    };
    if (moves_left_ == 0 && std::uint16_t(units() - moves_spent_at_) >= lock_moves_refill_units) moves_left_ = lock_moves_per_lock;
    if (moves_left_ > 0) {
        if (--moves_left_ == 0) moves_spent_at_ = units();
        const void* owner = owner_.load(std::memory_order_relaxed);
        normal_.unlock();
        if (move_to_thread_of(owner)) {
            moved_count.fetch_add(1, std::memory_order_relaxed);
            lock_or_move();
            return;
        }
        normal_.lock();   // could not move: revoke, unless another thread did meanwhile
        if (owner_.load(std::memory_order_relaxed) == nullptr) return;
    }
    revoke();
#endif
}

}  // namespace rill::detail
