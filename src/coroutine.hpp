// src/coroutine.hpp: one coroutine = a Boost.Context fiber on a pooled
// stack, plus what the scheduler and the deadlock report need to know.
//
// Switches: a worker resume()s a coroutine; the coroutine switch_out()s back
// to that worker. There is no direct coroutine-to-coroutine switch. The
// fiber is created lazily on the first resume, so a coroutine that has not
// started holds no stack. Sanitizer annotations (ASan's switch_fiber and
// TSan's fiber API) wrap every switch here and nowhere else.
#pragma once

#include "wait.hpp"

#include <rill/detail/task.hpp>

#include <boost/context/fiber.hpp>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#if !defined(RILL_NO_SANITIZER_HOOKS)
#  if defined(__SANITIZE_ADDRESS__)
#    define RILL_ASAN 1
#  endif
#  if defined(__SANITIZE_THREAD__)
#    define RILL_TSAN 1
#  endif
#  if defined(__has_feature)
#    if __has_feature(address_sanitizer) && !defined(RILL_ASAN)
#      define RILL_ASAN 1
#    endif
#    if __has_feature(thread_sanitizer) && !defined(RILL_TSAN)
#      define RILL_TSAN 1
#    endif
#  endif
#endif

namespace rill::detail {

class scheduler;
class stack_pool;

class coroutine {
public:
    coroutine(scheduler& sched, std::uint64_t id, std::unique_ptr<task> body, std::string name);
    ~coroutine();
    coroutine(const coroutine&) = delete;
    coroutine& operator=(const coroutine&) = delete;

    /// Worker side: runs the coroutine until it switches out or finishes.
    void resume(stack_pool& stacks);
    /// Coroutine side: back to the worker that resumed it. Returns when some
    /// worker (maybe another one) resumes it again.
    void switch_out() noexcept;
    bool finished() const noexcept { return finished_; }

    scheduler& sched;
    const std::uint64_t id;
    std::string name;
    waitable wait;                        // what it is blocked on, if anything
    std::atomic<bool> suspended{true};    // context saved and post-switch work done: may be resumed
    coroutine* reg_prev = nullptr;        // scheduler's registry of live coroutines (under its lock)
    coroutine* reg_next = nullptr;

private:
    boost::context::fiber entry(boost::context::fiber&& from);
    void landed() noexcept;

    std::unique_ptr<task> body_;
    boost::context::fiber context_;       // the suspended coroutine (held by the worker side)
    boost::context::fiber back_;          // inside the coroutine: the worker that resumed it
    void check_stack() const noexcept;   // a slab stack's canary: abort on overflow

    bool started_ = false;
    bool finished_ = false;
public:
    const void* stack_bottom_ = nullptr;  // lowest usable byte of its stack (set when it starts)
    std::size_t stack_size_ = 0;
    bool stack_guarded_ = true;           // false: a slab stack, checked by its canary
private:
#if defined(RILL_ASAN)
    void* fake_stack_ = nullptr;          // ASan fake stack while suspended
    const void* ret_bottom_ = nullptr;    // the resuming worker's stack (learned at each switch-in)
    std::size_t ret_size_ = 0;
#endif
#if defined(RILL_TSAN)
    void* tsan_fiber_ = nullptr;
    void* ret_tsan_fiber_ = nullptr;      // the resuming worker's TSan fiber
#endif
};

/// The coroutine running on this thread, or null. Never inlined, behind a
/// compiler barrier: a coroutine may resume on another thread, and a
/// thread-local address cached across a switch would be the old thread's.
coroutine* current_coroutine() noexcept;
void set_current_coroutine(coroutine* c) noexcept;

}  // namespace rill::detail
