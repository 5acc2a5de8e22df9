// rill/sync.hpp: wait_group and mutex for coroutines.
//
//     rill::wait_group wg;
//     for (int i = 0; i < 4; ++i) { wg.add(1); rill::go([&] { work(); wg.done(); }); }
//     wg.wait();
//
//     rill::mutex m;
//     { std::scoped_lock lock(m); ++shared; }   // suspends the coroutine, never the worker
//
// Both work from plain threads too (they block the thread). done() happens
// before the wait() it releases; an unlock happens before the next lock.
#pragma once

#include <rill/detail/chan_core.hpp>

#include <memory>
#include <string>

namespace rill {

/// Waits for a collection of coroutines to finish (Go's sync.WaitGroup).
/// On a cache line of its own: a wait_group usually lives in the frame of
/// the coroutine that spawns the workers and waits, whose locals would
/// otherwise share its line, so every done() on another worker would pull
/// the line away from the spawner, and back.
class alignas(64) wait_group {
public:
    wait_group();
    /// A named wait_group: deadlock reports show the name.
    explicit wait_group(std::string name);
    ~wait_group();
    wait_group(const wait_group&) = delete;
    wait_group& operator=(const wait_group&) = delete;

    /// Adds n (may be negative) to the counter; reaching zero releases every
    /// waiter. Throws std::logic_error if the counter would go negative.
    void add(long n = 1);
    void done() { add(-1); }
    /// Blocks until the counter is zero.
    void wait();

private:
    detail::spinlock lock_;
    long count_ = 0;                            // guarded by lock_
    std::shared_ptr<detail::chan_core> gate_;   // closed when count_ reaches 0, then replaced
    std::string name_;
};

/// A mutual exclusion lock that suspends the waiting coroutine (Lockable,
/// so std::scoped_lock and std::unique_lock work). Waiters get it in FIFO
/// order. As in Go, another coroutine than the locker may unlock it.
class mutex {
public:
    mutex();
    /// A named mutex: deadlock reports show the name ("lock on mutex \"fork 3\"").
    explicit mutex(std::string name);
    ~mutex();
    mutex(const mutex&) = delete;
    mutex& operator=(const mutex&) = delete;

    void lock();
    bool try_lock();
    /// Throws std::logic_error when the mutex is not locked.
    void unlock();

private:
    std::unique_ptr<detail::chan_core> token_;  // holds one token while locked; lockers wait to send
};

}  // namespace rill
