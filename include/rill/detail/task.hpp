// rill/detail/task.hpp: the type-erased body of a coroutine.
#pragma once

#include <rill/detail/small_alloc.hpp>

#include <memory>
#include <type_traits>
#include <utility>

namespace rill::detail {

/// What a run queue links (intrusively: a runnable thing is in one queue at
/// a time, and queueing never allocates). Either a coroutine, or a spawn
/// that has not started: its body alone, whose coroutine record the worker
/// that first runs it makes (scheduler.cpp, worker::run).
struct run_node {
    run_node* run_next = nullptr;   // the next in its run queue (under the queue's lock)
    bool is_coroutine = false;      // else a task not started yet
    // A coroutine queued at the worker its channel's lock is biased toward
    // (move_to_thread_of), until it runs again: thieves leave it there as
    // long as they leave coroutines that pass messages (run_queue rules).
    bool moved_here = false;
};

/// What a coroutine runs. One small block per spawn (small_alloc.hpp); the
/// runtime owns it. Until its coroutine starts it waits in a run queue by
/// itself (run_node), so a burst of spawns costs a body each, not a record.
struct task : small_allocated, run_node {
    virtual ~task() = default;
    virtual void run() = 0;
};

template <class F>
struct task_of final : task {
    explicit task_of(F&& f) : fn(std::move(f)) {}
    explicit task_of(const F& f) : fn(f) {}
    void run() override { fn(); }
    F fn;
};

template <class F>
std::unique_ptr<task> make_task(F&& fn) {
    using fn_type = std::decay_t<F>;
    static_assert(std::is_invocable_v<fn_type&>, "a coroutine body must be callable with no arguments");
    return std::make_unique<task_of<fn_type>>(std::forward<F>(fn));
}

}  // namespace rill::detail
