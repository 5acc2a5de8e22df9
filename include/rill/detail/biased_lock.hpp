// rill/detail/biased_lock.hpp: a channel's lock, biased toward the one
// thread that uses it.
//
// Most channels are locked, for long stretches, by a single thread: every
// channel of a program on one worker, and a pipeline's channels while its
// coroutines share a worker. An atomic exchange costs about 6 ns on the
// machine of docs/BENCHMARKS.md, and a message through a buffered channel
// takes two (the sender's lock and the receiver's): most of its time.
// After `lock_bias_streak` acquisitions in a row by one thread, with no other
// thread in between, the lock is biased toward that thread, its owner,
// which from then on enters and leaves with plain loads and stores.
//
// The protocol, an asymmetric Dekker whose light side has no fence:
//  - The owner enters: owner_inside_ = true, a compiler barrier, then it
//    reads revoking_. If it is set, the owner steps back out and takes
//    normal_ like anyone else. It leaves with owner_inside_ = false.
//  - Any other thread takes normal_ and finds owner_ set: it revokes.
//    revoking_ = true (for good), then membarrier(PRIVATE_EXPEDITED): every
//    running thread of the process executes a full barrier before that
//    returns, so either the owner sees revoking_ or the revoker sees
//    owner_inside_. The revoker waits for owner_inside_ == false, clears
//    owner_, and from then on the lock is normal_ alone, for everyone.
// A revocation costs one membarrier (45 µs on that 2-CPU VM: IPIs to the
// CPUs that run the process's threads), at most once per lock, and only
// after a streak. Go's runtime has no such lock; the technique is the
// JVM's biased locking with Linux's membarrier as the heavy fence (the
// man page's own example).
//
// Who may change what: owner_ changes only with normal_ held: null -> the
// holder at a streak's end (it then holds the lock as the owner), owner ->
// null in a revocation. Only the owner writes owner_inside_. A lock is
// always released by the thread that took it (park releases a coroutine's
// channel locks on the same worker thread, after the switch), so unlock()
// tells an owner's hold from a normal one by owner_ alone.
//
// Threads are told apart by their thread pointer (one instruction to read,
// re-read at each call: a coroutine may resume on another thread). A
// thread that exits while it owns a lock is not inside it; a later thread
// given the same TLS block becomes the owner, which is sound since the
// first one is gone.
//
// Moving to the owner. A revocation is for good, and costs every later
// acquisition an atomic exchange, and a message between two cores the
// lock's cache line crossing over. When the thread that would revoke is a
// coroutine at the start of a blocking channel operation (send, recv, a
// select without a default: lock_or_move), holding no other lock, and the
// owner is a worker of its own runtime, the coroutine moves to that worker
// instead (move_to_thread_of: it lets go of normal_, switches out, is
// queued at the owner's worker, and takes the lock again there, as the
// owner). Coroutines that share a channel so gather on the worker the
// channel is biased toward: mpmc's eight, which an idle worker's steals
// split across two workers at the start of about half the runs and which
// then stayed split (a consumer that always finds a value never blocks,
// so nothing brought it back). A blocking operation may change threads
// anyway (it may park and resume on any worker); try_send, try_recv and a
// select with a default never do, so they revoke as before. A lock makes
// at most lock_moves_per_lock moves per window (below), then revokes.
//
// ThreadSanitizer cannot see the membarrier's ordering, so TSan builds
// never bias (and test normal_); nor do platforms without membarrier, nor
// a process started with RILL_LOCK_BIAS=0.
#pragma once

#include <rill/detail/spinlock.hpp>

#include <atomic>
#include <cstdint>

namespace rill::detail {

#if defined(__SANITIZE_THREAD__)
#define RILL_LOCK_BIAS_SUPPORTED 0
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define RILL_LOCK_BIAS_SUPPORTED 0
#endif
#endif
#ifndef RILL_LOCK_BIAS_SUPPORTED
#if defined(__linux__) && (defined(__x86_64__) || defined(__aarch64__))
#define RILL_LOCK_BIAS_SUPPORTED 1
#else
#define RILL_LOCK_BIAS_SUPPORTED 0
#endif
#endif

/// The calling thread's thread pointer. volatile: the compiler must not
/// reuse an earlier read across a call that may switch coroutines.
[[gnu::always_inline]] inline const void* this_thread_tag() noexcept {
    const void* p = nullptr;
#if RILL_LOCK_BIAS_SUPPORTED && defined(__x86_64__)
    asm volatile("mov %%fs:0, %0" : "=r"(p));
#elif RILL_LOCK_BIAS_SUPPORTED && defined(__aarch64__)
    asm volatile("mrs %0, tpidr_el0" : "=r"(p));
#endif
    return p;
}

/// Channel locks taken by this thread, in either mode. A worker publishes
/// the address of its thread's count, and an idle worker reads it to tell a
/// worker whose coroutines pass messages from one whose coroutines compute
/// (run_queue::woken_work_due). Written by its thread only (a load and a
/// store, no locked instruction), read by others, all through the __atomic
/// builtins: a std::atomic here made UBSan check the thread-local's address
/// for null through a member call, and GCC 12 tests that address with the
/// flags of an `add %fs:0`, which the linker rewrites into a `mov` and a
/// `lea` that set no flags (a false "null pointer" in ASan+UBSan builds).
extern constinit thread_local std::uint64_t chan_locks_taken [[gnu::tls_model("initial-exec")]];

[[gnu::always_inline]] inline void count_chan_lock() noexcept {
    __atomic_store_n(&chan_locks_taken, __atomic_load_n(&chan_locks_taken, __ATOMIC_RELAXED) + 1, __ATOMIC_RELAXED);
}

/// Acquisitions in a row by one thread before a lock is biased toward it:
/// 1,024 at first, doubled by every revocation up to 1,048,576, so that a
/// program whose locks keep changing threads soon stops biasing new ones
/// (locks biased before then are still revoked, one membarrier each).
/// Process-wide; tests reset it.
extern std::atomic<std::uint32_t> lock_bias_streak;
inline constexpr std::uint32_t lock_bias_streak_first = 1024;
inline constexpr std::uint32_t lock_bias_streak_max = 1u << 20;

/// Coroutines a biased lock moves to its owner's worker (lock_or_move):
/// at most lock_moves_per_lock, then as many again once
/// lock_moves_refill_units (of 2^20 ns: about 10.5 ms) have passed since
/// the last was spent. A request beyond that revokes the bias, as a lock
/// whose users keep landing on other workers is better unbiased. A move
/// costs the mover a few microseconds, so this bounds what moves can cost
/// a lock at a few percent of a core; gathering needs one per coroutine
/// per steal (mpmc: 4-36 in a run, more on a loaded machine, where thieves
/// find more queues behind; 32 per 105 ms ran out in slow spells).
inline constexpr std::uint8_t lock_moves_per_lock = 64;
inline constexpr std::uint16_t lock_moves_refill_units = 10;

/// Moves the calling coroutine to the worker of its runtime that runs on
/// the thread `owner` (a thread tag), if there is one and the coroutine may
/// move: it switches out, is queued there, and returns true once it runs on
/// that thread (or on a thief of that worker's queue). False, without a
/// switch, on a plain thread, outside a coroutine, in deterministic mode,
/// while the run is being unwound, or when no worker runs there
/// (scheduler.cpp).
bool move_to_thread_of(const void* owner) noexcept;

/// Process-wide counts, for tests and benchmarks.
struct lock_bias_counts {
    std::uint64_t biased;    // locks biased toward a thread
    std::uint64_t revoked;   // of those, revoked by another thread
    std::uint64_t moved;     // coroutines moved to a lock's owner instead of revoking
};
lock_bias_counts lock_bias_stats() noexcept;

/// Whether locks may be biased in this process: membarrier works, this is
/// not a TSan build, and RILL_LOCK_BIAS is not 0. Decided at the first call.
bool lock_biasing_available() noexcept;

class biased_lock {
public:
    [[gnu::always_inline]] void lock() noexcept { lock_impl(false); }
    /// lock() at the start of a single channel operation, by a caller that
    /// holds no other lock: a coroutine that finds the lock biased toward
    /// another worker of its runtime moves to that worker (it switches out
    /// and resumes there) instead of revoking the bias, at most
    /// `lock_moves_per_lock` times per lock (see "Moving to the owner").
    [[gnu::always_inline]] void lock_or_move() noexcept { lock_impl(true); }

    [[gnu::always_inline]] void unlock() noexcept {
        if constexpr (RILL_LOCK_BIAS_SUPPORTED) {
            if (owner_.load(std::memory_order_relaxed) == this_thread_tag()) {
                owner_inside_.store(false, std::memory_order_release);
                return;
            }
        }
        normal_.unlock();
    }

    /// For tests: whether the lock is biased toward some thread now.
    bool biased() const noexcept { return owner_.load(std::memory_order_relaxed) != nullptr; }

private:
    [[gnu::always_inline]] void lock_impl(bool may_move) noexcept {
        count_chan_lock();
        const void* me = this_thread_tag();
        if constexpr (RILL_LOCK_BIAS_SUPPORTED) {
            if (owner_.load(std::memory_order_relaxed) == me) {
                owner_inside_.store(true, std::memory_order_relaxed);
                std::atomic_signal_fence(std::memory_order_seq_cst);   // the heavy half: the revoker's membarrier
                if (!revoking_.load(std::memory_order_acquire)) [[likely]] return;
                owner_inside_.store(false, std::memory_order_release);
            }
        }
        normal_.lock();
        if constexpr (RILL_LOCK_BIAS_SUPPORTED) {
            if (!bias_off_) [[unlikely]] count_streak(me, may_move);
        }
    }

    // normal_ held. Revokes another thread's bias (or moves the caller to
    // it), or counts the caller's streak and, at its end, makes the caller
    // the owner.
    [[gnu::always_inline]] void count_streak(const void* me, bool may_move) noexcept {
        if (owner_.load(std::memory_order_relaxed) != nullptr) [[unlikely]] {
            if (may_move) move_or_revoke();
            else revoke();
        } else if (last_ != me) {
            last_ = me;
            streak_left_ = lock_bias_streak.load(std::memory_order_relaxed) - 1;
        } else if (--streak_left_ == 0) [[unlikely]] {
            take_bias(me);
        }
    }
    [[gnu::noinline]] void revoke() noexcept;               // normal_ held; ends with bias_off_
    [[gnu::noinline]] void move_or_revoke() noexcept;       // normal_ held; ends held (as the owner, after a move)
    [[gnu::noinline]] void take_bias(const void* me) noexcept;   // normal_ held; ends held as owner

    std::atomic<const void*> owner_{nullptr};   // the thread the lock is biased toward, if any
    std::atomic<bool> owner_inside_{false};     // the owner holds the lock (written by the owner only)
    std::atomic<bool> revoking_{false};         // set once, by the revoker: the owner must stay out
    spinlock normal_;                           // the lock of every thread but the owner
    bool bias_off_ = !RILL_LOCK_BIAS_SUPPORTED; // under normal_: never bias again (revoked, or not available)
    std::uint8_t moves_left_ = lock_moves_per_lock;   // under normal_: moves to the owner left in this window
    std::uint16_t moves_spent_at_ = 0;          // under normal_: when the last one was spent (2^20 ns units, wrapping)
    std::uint32_t streak_left_ = 0;             // under normal_: acquisitions by last_ still needed
    const void* last_ = nullptr;                // under normal_: the thread that took normal_ last
};

}  // namespace rill::detail
