// src/coroutine.hpp: one coroutine = a machine context on a pooled stack,
// plus what the scheduler and the deadlock report need to know.
//
// Switches (context_switch.hpp): a worker resume()s a coroutine; the
// coroutine switch_out()s back to that worker, or straight to the coroutine
// the worker would run next (its `next` slot or its local queue's head: a
// direct hand-off, one switch instead of two). Whoever switches away saves its own context: a coroutine into its
// record, a worker into the worker. Either way the coroutine that switched
// out is not resumable until its worker ran the post-switch work (release
// the channel locks) and set `suspended`. The record is made when the
// coroutine first runs (scheduler::start_task) and the stack is taken on
// its first resume, so a coroutine that has not started holds neither; the
// stack is given back by the worker once the coroutine finished. Sanitizer annotations (ASan's
// switch_fiber and TSan's fiber API) wrap every switch here and nowhere
// else; a hand-off passes on the worker's stack bounds and TSan fiber.
#pragma once

#include "context_switch.hpp"
#include "stack_pool.hpp"
#include "wait.hpp"

#include <rill/detail/small_alloc.hpp>
#include <rill/detail/task.hpp>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

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
#if !defined(RILL_NO_DIRECT_SWITCH)
#  define RILL_DIRECT_SWITCH 1   // coroutine-to-coroutine hand-off
#endif

namespace rill::detail {

class worker;

class scheduler;

/// What a coroutine that switches straight to another leaves for it: itself
/// (its post-switch work is still to run) and what it knew of its worker.
struct handoff {
    class coroutine* from = nullptr;
    const void* worker_stack_bottom = nullptr;   // ASan
    std::size_t worker_stack_size = 0;           // ASan
    void* worker_tsan_fiber = nullptr;           // TSan
};

// A record is made when the coroutine first runs (worker::run), not at its
// spawn: until then its task waits in the run queue alone.
class coroutine : public small_allocated, public run_node {   // records are recycled per thread (small_alloc.hpp)
public:
    coroutine(scheduler& sched, std::uint64_t id, std::unique_ptr<task> body, std::string name);
    ~coroutine();
    coroutine(const coroutine&) = delete;
    coroutine& operator=(const coroutine&) = delete;

    /// Worker side (on worker w): runs the coroutine until a coroutine
    /// switches back to the worker: this one, or the last of a chain of
    /// direct hand-offs, which it returns. Throws only on a first resume
    /// when no stack can be had.
    coroutine* resume(worker& w);
    /// Worker side, once it finished: its stack goes back to w's cache.
    void release_stack(worker& w) noexcept;
    /// Coroutine side: to the worker, or directly to the worker's next
    /// coroutine. Returns when this one is resumed again, by any worker.
    void switch_out() noexcept;
    bool finished() const noexcept { return finished_; }
    bool started() const noexcept { return started_; }
    /// The worker it runs on, while it runs: set by whoever resumes it (the
    /// worker, or the coroutine handing off to it), on that worker's
    /// thread, so the switch path needs no thread-local lookup.
    worker* on_worker() const noexcept { return on_worker_; }
    void set_worker(worker* w) noexcept { on_worker_ = w; }

    scheduler& sched;
    const std::uint64_t id;
    /// Its name ("" when it has none): set at spawn or by rill::set_coroutine_name.
    std::string_view name() const noexcept { return name_ ? std::string_view(*name_) : std::string_view(); }
    void set_name(std::string n);
    waitable wait;                        // what it is blocked on, if anything
    std::atomic<bool> suspended{true};    // context saved and post-switch work done: may be resumed
    bool registered = false;              // in the registry: set by the coroutine's first wait, read by retire()
    coroutine* reg_prev = nullptr;        // scheduler's registry of coroutines that have waited (under its lock)
    coroutine* reg_next = nullptr;

private:
    static void start() noexcept;         // what a new context runs: the current coroutine's body
    [[noreturn]] void run_to_end() noexcept;
    void arrive() noexcept;               // after every switch-in but the first
    void landed() noexcept;

    std::unique_ptr<task> body_;
    machine_context context_;             // saved here by the coroutine as it switches out
    pooled_stack_info stack_{};           // held from the first resume until release_stack()
    void check_stack() const noexcept;   // a slab stack's canary: abort on overflow

    // The C++ runtime keeps the exceptions being handled per thread; a
    // coroutine that blocks inside a catch handler and then rethrows must
    // find its own, whichever thread it resumes on. Saved at switch-out,
    // put back on landing (see eh_state in coroutine.cpp).
    struct eh_state {
        void* caught = nullptr;       // __cxa_eh_globals::caughtExceptions
        unsigned int uncaught = 0;    // __cxa_eh_globals::uncaughtExceptions
    };
    eh_state eh_;

    bool started_ = false;
    bool finished_ = false;
    worker* on_worker_ = nullptr;
    // Only named coroutines pay for a name: a spawned record is one small
    // block, and a burst of unstarted ones is a burst of these.
    std::unique_ptr<std::string> name_;
public:
    /// Its stack's lowest usable byte and usable size, while it holds one
    /// (from its first resume until release_stack).
    const void* stack_bottom() const noexcept { return stack_.sc.sp ? static_cast<const char*>(stack_.sc.sp) - stack_.sc.size : nullptr; }
    std::size_t stack_size() const noexcept { return stack_.sc.size; }
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
