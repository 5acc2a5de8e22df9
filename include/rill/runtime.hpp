// rill/runtime.hpp: the runtime that runs coroutines on a pool of worker threads.
//
//     int answer = rill::run([] {
//         rill::chan<int> c;
//         rill::go([c] { c.send(42); });
//         return *c.recv();
//     });
//
// `run` starts a runtime, runs its function as the root coroutine, and when
// the root returns unwinds every coroutine still blocked (their destructors
// run) before it returns the root's result. An exception escaping any
// coroutine ends the run and is rethrown by `run`. When every coroutine is
// blocked and nothing can wake them, `run` throws rill::deadlock_error.
#pragma once

#include <rill/detail/task.hpp>
#include <rill/errors.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

namespace rill {

struct options {
    /// Worker threads; 0 means std::thread::hardware_concurrency().
    unsigned threads = 0;
    /// Usable stack of each coroutine, rounded up to whole pages. A guard page
    /// below it turns an overflow into a fault instead of silent corruption.
    std::size_t stack_size = 64 * 1024;
    /// Throw rill::deadlock_error when every coroutine is blocked and no
    /// timer or plain thread can wake one. Plain threads that feed the
    /// coroutines count only while they are blocked in a rill operation: a
    /// program whose plain threads act on channels at arbitrary times can
    /// turn this off.
    bool detect_deadlock = true;
    /// Non-zero: the deterministic mode for tests. One worker, which picks
    /// the next coroutine at random among all runnable ones, and select's
    /// random choices, all drawn from this seed: a run that uses no timers
    /// and no plain threads is a pure function of the seed, so a seed that
    /// breaks something can be replayed. `threads` is ignored.
    std::uint64_t deterministic_seed = 0;
};

namespace detail {
class scheduler;
void spawn_here(std::unique_ptr<task> body, std::string name);
void spawn_here(std::unique_ptr<task> body);   // unnamed: no string passes through a spawn
}  // namespace detail

/// A runtime embedded in a program that has threads of its own. `spawn` may
/// be called from any thread; `wait` blocks until every coroutine finished.
class runtime {
public:
    explicit runtime(options opts = {});
    /// Waits for every coroutine (as wait() does). An error that wait() did
    /// not report is printed to stderr, since a destructor must not throw.
    ~runtime();
    runtime(const runtime&) = delete;
    runtime& operator=(const runtime&) = delete;

    /// Starts fn as a new coroutine. Throws std::logic_error once the runtime
    /// has stopped (after an error or a deadlock).
    template <class F>
    void spawn(F&& fn) { spawn_task(detail::make_task(std::forward<F>(fn)), {}); }
    template <class F>
    void spawn(std::string name, F&& fn) { spawn_task(detail::make_task(std::forward<F>(fn)), std::move(name)); }

    /// Blocks the calling (plain) thread until every coroutine has finished.
    /// Rethrows the first exception that escaped a coroutine, or throws
    /// rill::deadlock_error; either way the remaining coroutines are unwound
    /// first and the runtime stops.
    void wait();

    /// Number of worker threads.
    unsigned threads() const noexcept;

    /// Runs body as the root coroutine and returns when it returned, after
    /// unwinding all other coroutines (what rill::run does).
    void run_root(std::unique_ptr<detail::task> body);

private:
    void spawn_task(std::unique_ptr<detail::task> body, std::string name);
    std::unique_ptr<detail::scheduler> sched_;
};

/// Runs fn as the root coroutine of a new runtime and returns its result.
/// May be called again and again, and from several threads at once.
template <class F>
auto run(F&& fn, options opts = {}) -> std::invoke_result_t<F&> {
    using result = std::invoke_result_t<F&>;
    runtime rt(opts);
    if constexpr (std::is_void_v<result>) {
        rt.run_root(detail::make_task([&fn] { fn(); }));
    } else {
        std::optional<result> out;
        rt.run_root(detail::make_task([&fn, &out] { out.emplace(fn()); }));
        return std::move(*out);
    }
}

/// Starts fn as a new coroutine of the current runtime (fire and forget, as
/// Go's `go`). Throws std::logic_error outside a coroutine.
template <class F>
void go(F&& fn) { detail::spawn_here(detail::make_task(std::forward<F>(fn))); }

/// As go(fn), with a name that deadlock reports show.
template <class F>
void go(std::string name, F&& fn) { detail::spawn_here(detail::make_task(std::forward<F>(fn)), std::move(name)); }

/// Lets the other runnable coroutines of this worker run first; the caller
/// goes to the back of the queue. On a plain thread: std::this_thread::yield.
void yield();

/// True on a coroutine, false on a plain thread.
bool in_coroutine() noexcept;

/// The current coroutine's id (unique within its runtime, from 1), 0 on a plain thread.
std::uint64_t coroutine_id() noexcept;

/// Names the current coroutine for deadlock reports (ignored on a plain thread).
void set_coroutine_name(std::string name);

/// Objects alive in the whole process: what the test suites check is zero
/// at their end. Counts are updated as objects are created and destroyed;
/// coroutines and channels are counted per thread and summed here, so the
/// figures are exact once the threads that made and destroyed them are
/// done or synchronised with the caller (after a run has returned).
struct live_objects {
    std::size_t coroutines = 0;
    std::size_t stacks = 0;
    std::size_t channels = 0;
    std::size_t timers = 0;
    std::size_t runtimes = 0;
    bool operator==(const live_objects&) const = default;
};
live_objects live() noexcept;

}  // namespace rill
