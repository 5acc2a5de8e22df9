// src/coroutine.cpp: coroutines' contexts, their stacks, and the sanitizer
// annotations of every switch (the switch itself has none of its own).
//
// ASan: before a switch, __sanitizer_start_switch_fiber names the stack we
// go to; after it, __sanitizer_finish_switch_fiber. A coroutine learns its
// resumer's stack bounds at each switch-in (they change as it migrates).
// TSan: each coroutine is a TSan fiber; the worker switches to it before
// resume() and back once the coroutine has made its final switch (never
// from inside the dying coroutine: its last frames run in its own fiber).
#include "coroutine.hpp"

#include "live_counts.hpp"
#include "scheduler.hpp"
#include "stack_pool.hpp"

#include <rill/errors.hpp>

#include <cstdio>
#include <cxxabi.h>
#include <cstdlib>
#include <memory>
#include <utility>

#if defined(RILL_ASAN)
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif
#if defined(RILL_TSAN)
#include <sanitizer/tsan_interface.h>
#endif

namespace rill::detail {

namespace {

// initial-exec: a plain load off the thread pointer, not a call to __tls_get_addr (PIC code).
[[gnu::tls_model("initial-exec")]] thread_local coroutine* tls_current = nullptr;

/// This thread's exception-handling globals (libstdc++ and libc++abi lay
/// them out as the two fields of coroutine::eh_state). __cxa_get_globals is
/// declared `const`, so the compiler may reuse its result across a switch:
/// always call it through this non-inlined function.
__attribute__((noinline)) void* eh_globals() noexcept {
    asm volatile("" ::: "memory");
    return abi::__cxa_get_globals();
}

}  // namespace

__attribute__((noinline)) coroutine* current_coroutine() noexcept {
    asm volatile("" ::: "memory");
    return tls_current;
}

__attribute__((noinline)) void set_current_coroutine(coroutine* c) noexcept {
    asm volatile("" ::: "memory");
    tls_current = c;
}

coroutine::coroutine(scheduler& s, std::uint64_t coroutine_id, std::unique_ptr<task> body, std::string coroutine_name)
    : sched(s), id(coroutine_id), body_(std::move(body)) {
    is_coroutine = true;
    if (!coroutine_name.empty()) name_ = std::make_unique<std::string>(std::move(coroutine_name));
    wait.coro = this;
#if defined(RILL_TSAN)
    tsan_fiber_ = __tsan_create_fiber(0);
#endif
    live_counts::record_made();
}

coroutine::~coroutine() {
    if (stack_.sc.sp) sched.stacks.deallocate(stack_);   // started, never finished: not reached in a normal run
#if defined(RILL_TSAN)
    __tsan_destroy_fiber(tsan_fiber_);
#endif
    live_counts::record_gone();
}

coroutine* coroutine::resume(worker& w) {
    if (!started_) {
        stack_ = w.take_stack();   // may throw resource_error: nothing changed yet
        started_ = true;
        make_context<&coroutine::start>(context_, stack_.sc.sp, stack_.sc.size);
    }
#if defined(RILL_TSAN)
    void* worker_tsan_fiber = __tsan_get_current_fiber();   // a local: `this` may be running elsewhere when we return
    ret_tsan_fiber_ = worker_tsan_fiber;
    __tsan_switch_to_fiber(tsan_fiber_, 0);
#endif
#if defined(RILL_ASAN)
    void* worker_fake = nullptr;
    __sanitizer_start_switch_fiber(&worker_fake, stack_bottom(), stack_size());
#endif
    switch_context(w.context(), context_);
    coroutine* last = current_coroutine();   // who switched back: us, or the end of a hand-off chain
#if defined(RILL_TSAN)
    if (last->finished_) __tsan_switch_to_fiber(worker_tsan_fiber, 0);   // it finished: still in its TSan fiber
#endif
#if defined(RILL_ASAN)
    __sanitizer_finish_switch_fiber(worker_fake, nullptr, nullptr);
#endif
    return last;
}

void coroutine::release_stack(worker& w) noexcept {
#if defined(RILL_ASAN)
    // The frames that switched away for good (run_to_end's) never returned
    // to clear their redzones; the next coroutine on this stack starts clean.
    __asan_unpoison_memory_region(stack_bottom(), stack_size());
#endif
    w.give_stack(std::exchange(stack_, pooled_stack_info{}));
}

void coroutine::set_name(std::string n) {
    if (n.empty()) name_.reset();
    else if (name_) *name_ = std::move(n);
    else name_ = std::make_unique<std::string>(std::move(n));
}

void coroutine::check_stack() const noexcept {
    if (stack_.guarded || stack_canary_intact(stack_bottom())) return;
    const std::string_view n = name();
    std::fprintf(stderr,
                 "rill: coroutine %llu%s%.*s%s overflowed its stack of %zu KiB (caught by the canary of a slab stack);"
                 " raise rill::options::stack_size\n",
                 static_cast<unsigned long long>(id), n.empty() ? "" : " \"", int(n.size()), n.data(), n.empty() ? "" : "\"",
                 (stack_size() + 1023) / 1024);   // the size asked for (a slab stack lends 64 bytes to its canary)
    std::abort();
}

void coroutine::switch_out() noexcept {
    check_stack();
    worker* w = on_worker_;
    {   // take our exceptions-in-flight off this thread (see eh_state); usually there are none
        auto* g = static_cast<eh_state*>(w->eh_globals());
        if (g->caught || g->uncaught) {
            eh_ = *g;
            *g = eh_state{};
        }
    }
#if defined(RILL_DIRECT_SWITCH)
    // Hand-off: the successor runs our post-switch work once it has landed
    // (see arrive()) and returns to our worker when it switches out.
    if (coroutine* successor = w->take_successor()) {
        handoff& h = w->handoff_slot();
        h.from = this;
#  if defined(RILL_ASAN)
        h.worker_stack_bottom = ret_bottom_;
        h.worker_stack_size = ret_size_;
        __sanitizer_start_switch_fiber(&fake_stack_, successor->stack_bottom(), successor->stack_size());
#  endif
#  if defined(RILL_TSAN)
        h.worker_tsan_fiber = ret_tsan_fiber_;
        __tsan_switch_to_fiber(successor->tsan_fiber_, 0);
#  endif
        set_current_coroutine(successor);
        successor->on_worker_ = w;
        switch_context(context_, successor->context_);
        arrive();
        return;
    }
#endif
#if defined(RILL_ASAN)
    __sanitizer_start_switch_fiber(&fake_stack_, ret_bottom_, ret_size_);
#endif
#if defined(RILL_TSAN)
    __tsan_switch_to_fiber(ret_tsan_fiber_, 0);
#endif
    switch_context(context_, w->context());
    arrive();
}

void coroutine::arrive() noexcept {
    landed();
    if (eh_.caught || eh_.uncaught)   // ours, on whatever thread we are now (its own are none: see switch_out)
        *static_cast<eh_state*>(eh_globals()) = std::exchange(eh_, eh_state{});
#if defined(RILL_DIRECT_SWITCH)
    worker* w = on_worker_;   // set by whoever resumed us, on this thread
    handoff& h = w->handoff_slot();
    if (coroutine* prev = h.from) {
        h.from = nullptr;
#  if defined(RILL_ASAN)
        ret_bottom_ = h.worker_stack_bottom;   // landed() learned prev's stack; we return to the worker's
        ret_size_ = h.worker_stack_size;
#  endif
#  if defined(RILL_TSAN)
        ret_tsan_fiber_ = h.worker_tsan_fiber;
#  endif
        w->finish_switch(prev);   // prev's post-switch work, then prev may be resumed
    }
#endif
}

void coroutine::landed() noexcept {
#if defined(RILL_ASAN)
    __sanitizer_finish_switch_fiber(fake_stack_, &ret_bottom_, &ret_size_);
#endif
}

// A new context starts here, on its own stack, always resumed by a worker
// (a hand-off only goes to a coroutine that has started).
void coroutine::start() noexcept { current_coroutine()->run_to_end(); }

void coroutine::run_to_end() noexcept {
    landed();
    try {
        body_->run();
    } catch (const coroutine_unwind&) {
        // unwound at the end of the run: nothing to report
    } catch (...) {
        sched.fail(std::current_exception());
    }
    try {
        body_.reset();   // the body's captures die here, on the coroutine's stack
    } catch (...) {
        sched.fail(std::current_exception());
    }
    finished_ = true;
    check_stack();
#if defined(RILL_ASAN)
    __sanitizer_start_switch_fiber(nullptr, ret_bottom_, ret_size_);   // this fiber dies
#endif
    // For good: the worker gives the stack back (release_stack) once it is off it.
    switch_context(context_, on_worker_->context());
    std::abort();   // never resumed
}

}  // namespace rill::detail
