// rill/group.hpp: run a set of coroutines, wait for all, first error wins
// (Go's errgroup).
//
//     rill::group g;
//     for (auto& f : files) g.go([&f] { process(f); });
//     g.wait();   // rethrows the first exception thrown by any of them
#pragma once

#include <rill/runtime.hpp>
#include <rill/sync.hpp>

#include <exception>
#include <memory>
#include <mutex>
#include <utility>

namespace rill {

class group {
public:
    group() : state_(std::make_shared<state>()) {}

    /// Starts fn as a coroutine of this group. An exception thrown by fn is
    /// kept (the first one) for wait() and does not end the run.
    template <class F>
    void go(F&& fn) {
        state_->pending.add(1);
        try {
            spawn(std::forward<F>(fn));
        } catch (...) {
            state_->pending.done();   // it never started: do not wait for it
            throw;
        }
    }

    /// Waits for every coroutine started by go(); rethrows the first
    /// exception among them. Destroying a group does not wait.
    void wait() {
        state_->pending.wait();
        if (auto e = state_->take()) std::rethrow_exception(e);
    }

private:
    template <class F>
    void spawn(F&& fn) {
        rill::go([st = state_, fn = std::forward<F>(fn)]() mutable {
            try {
                fn();
            } catch (const detail::coroutine_unwind&) {
                st->pending.done();
                throw;
            } catch (...) {
                st->keep(std::current_exception());
            }
            st->pending.done();
        });
    }

    struct state {
        wait_group pending;
        std::mutex error_lock;
        std::exception_ptr first_error;  // guarded by error_lock
        void keep(std::exception_ptr e) {
            std::scoped_lock l(error_lock);
            if (!first_error) first_error = std::move(e);
        }
        std::exception_ptr take() {
            std::scoped_lock l(error_lock);
            return std::exchange(first_error, nullptr);
        }
    };
    std::shared_ptr<state> state_;
};

}  // namespace rill
