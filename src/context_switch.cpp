// src/context_switch.cpp: the x86-64 System V switch (see context_switch.hpp).
#include "context_switch.hpp"

#if defined(RILL_CONTEXT_ASM)

// rdi: where to save the current stack pointer; rsi: the stack pointer to
// resume. The frame it leaves (and make_context builds): r15, r14, r13,
// r12, rbx, rbp, then the return address.
extern "C" __attribute__((naked)) void rill_switch_context(void** /*save_sp*/, void* /*load_sp*/) noexcept {
    asm("pushq %rbp\n\t"
        "pushq %rbx\n\t"
        "pushq %r12\n\t"
        "pushq %r13\n\t"
        "pushq %r14\n\t"
        "pushq %r15\n\t"
        "movq %rsp, (%rdi)\n\t"
        "movq %rsi, %rsp\n\t"
        "popq %r15\n\t"
        "popq %r14\n\t"
        "popq %r13\n\t"
        "popq %r12\n\t"
        "popq %rbx\n\t"
        "popq %rbp\n\t"
        "ret");
}

#endif
