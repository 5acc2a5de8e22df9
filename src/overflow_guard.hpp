// src/overflow_guard.hpp: a coroutine that overflows its stack into the
// guard page gets a clear message, not a silent SIGSEGV.
//
// A process-wide SIGSEGV handler (installed once, chaining to whatever was
// there before) runs on a per-worker alternate signal stack: the faulting
// coroutine's own stack is exhausted. When the fault address lies in the
// guard page below the running coroutine's stack (or the stack pointer is
// below the stack), it writes
//     rill: coroutine 7 "parser" overflowed its stack of 64 KiB ...
// to stderr and lets the fault kill the process as it would have. Any
// other fault goes to the previous handler unchanged.
#pragma once

namespace rill::detail {

/// Installs the handler (once per process; later calls do nothing).
void install_overflow_guard() noexcept;

/// The worker thread's alternate signal stack, for its lifetime.
class alt_signal_stack {
public:
    alt_signal_stack() noexcept;
    ~alt_signal_stack();
    alt_signal_stack(const alt_signal_stack&) = delete;
    alt_signal_stack& operator=(const alt_signal_stack&) = delete;

private:
    void* mem_ = nullptr;
};

}  // namespace rill::detail
