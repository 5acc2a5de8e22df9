// src/runtime.cpp: the public runtime API over the scheduler.
#include "coroutine.hpp"
#include "live_counts.hpp"
#include "scheduler.hpp"

#include <rill/runtime.hpp>

#include <fmt/format.h>

#include <cstdio>
#include <exception>
#include <thread>

namespace rill {

runtime::runtime(options opts) : sched_(std::make_unique<detail::scheduler>(opts)) {}

runtime::~runtime() {
    try {
        sched_->wait_all();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "rill: ~runtime: an error nobody waited for: %s\n", e.what());
    } catch (...) {
        std::fprintf(stderr, "rill: ~runtime: an unknown error nobody waited for\n");
    }
}

void runtime::spawn_task(std::unique_ptr<detail::task> body, std::string name) { sched_->spawn(std::move(body), std::move(name)); }

void runtime::wait() { sched_->wait_all(); }

unsigned runtime::threads() const noexcept { return sched_->nworkers; }

void runtime::run_root(std::unique_ptr<detail::task> body) { sched_->run_root(std::move(body)); }

void yield() {
    detail::coroutine* c = detail::current_coroutine();
    if (!c) {
        std::this_thread::yield();
        return;
    }
    if (c->sched.unwinding(c)) throw detail::coroutine_unwind{};
    // Requeued at the back of this worker's queue once it has switched out.
    detail::current_worker()->after_switch([](void* p) { detail::current_worker()->push_local(static_cast<detail::coroutine*>(p)); }, c);
    c->switch_out();
}

bool in_coroutine() noexcept { return detail::current_coroutine() != nullptr; }

std::uint64_t coroutine_id() noexcept {
    detail::coroutine* c = detail::current_coroutine();
    return c ? c->id : 0;
}

void set_coroutine_name(std::string name) {
    if (detail::coroutine* c = detail::current_coroutine()) c->set_name(std::move(name));
}

live_objects live() noexcept {
    using namespace detail::live_counts;
    return {coroutines(), stacks.load(), channels(), timers.load(), runtimes.load()};
}

namespace detail {
namespace {
/// The runtime that go() spawns into: the current coroutine's.
scheduler& scheduler_for_go() {
    coroutine* c = current_coroutine();
    if (!c) throw std::logic_error("rill::go called outside a coroutine: use rill::run or rill::runtime::spawn");
    return c->sched;
}
}  // namespace

void spawn_here(std::unique_ptr<task> body, std::string name) { scheduler_for_go().spawn(std::move(body), std::move(name)); }

void spawn_here(std::unique_ptr<task> body) { scheduler_for_go().spawn_unnamed(std::move(body)); }
}  // namespace detail

}  // namespace rill
