// src/overflow_guard.cpp: the SIGSEGV handler that names an overflowing coroutine.
#include "overflow_guard.hpp"

#include "coroutine.hpp"

#include <csignal>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

namespace rill::detail {

namespace {

constexpr std::size_t alt_stack_size = 64 * 1024;
struct sigaction previous_action;

/// Async-signal-safe output: no allocation, no locks, only write(2).
void put(const char* s, std::size_t n) noexcept {
    while (n > 0) {
        ssize_t w = ::write(STDERR_FILENO, s, n);
        if (w <= 0) return;
        s += w;
        n -= std::size_t(w);
    }
}
void put(const char* s) noexcept { put(s, std::strlen(s)); }
void put_number(std::uint64_t v, int base = 10) noexcept {
    char buf[24];
    int i = sizeof buf;
    do {
        buf[--i] = "0123456789abcdef"[v % unsigned(base)];
        v /= unsigned(base);
    } while (v && i > 0);
    put(buf + i, sizeof buf - std::size_t(i));
}

std::uintptr_t stack_pointer(void* context) noexcept {
#if defined(__x86_64__)
    return std::uintptr_t(static_cast<ucontext_t*>(context)->uc_mcontext.gregs[REG_RSP]);
#elif defined(__aarch64__)
    return std::uintptr_t(static_cast<ucontext_t*>(context)->uc_mcontext.sp);
#else
    (void)context;
    return 0;
#endif
}

void pass_on(int sig, siginfo_t* info, void* context) noexcept {
    if (previous_action.sa_flags & SA_SIGINFO) {
        previous_action.sa_sigaction(sig, info, context);
        return;
    }
    if (previous_action.sa_handler != SIG_DFL && previous_action.sa_handler != SIG_IGN) {
        previous_action.sa_handler(sig);
        return;
    }
    ::signal(sig, SIG_DFL);   // returning re-runs the faulting access, which now kills the process
}

void on_segv(int sig, siginfo_t* info, void* context) noexcept {
    coroutine* c = current_coroutine();
    if (c && c->stack_bottom()) {
        auto bottom = reinterpret_cast<std::uintptr_t>(c->stack_bottom());
        auto addr = reinterpret_cast<std::uintptr_t>(info->si_addr);
        std::uintptr_t page = std::uintptr_t(::sysconf(_SC_PAGESIZE));
        std::uintptr_t sp = stack_pointer(context);
        bool in_guard = addr < bottom && addr >= bottom - page;
        bool sp_below = sp != 0 && sp < bottom && sp >= bottom - 16 * page;
        if (in_guard || sp_below) {
            put("rill: coroutine ");
            put_number(c->id);
            if (const std::string_view name = c->name(); !name.empty()) {
                put(" \"");
                put(name.data(), name.size());
                put("\"");
            }
            put(" overflowed its stack of ");
            put_number((c->stack_size() + 1023) / 1024);
            put(" KiB (it hit the guard page at 0x");
            put_number(addr, 16);
            put("); raise rill::options::stack_size or use less stack (deep recursion, big local arrays)\n");
            ::signal(sig, SIG_DFL);   // the access runs again and the process dies of SIGSEGV
            return;
        }
    }
    pass_on(sig, info, context);
}

}  // namespace

void install_overflow_guard() noexcept {
    static std::once_flag once;
    std::call_once(once, [] {
        struct sigaction action {};
        action.sa_sigaction = &on_segv;
        action.sa_flags = SA_SIGINFO | SA_ONSTACK;
        sigemptyset(&action.sa_mask);
        ::sigaction(SIGSEGV, &action, &previous_action);
    });
}

alt_signal_stack::alt_signal_stack() noexcept {
    void* mem = ::mmap(nullptr, alt_stack_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) return;   // no alternate stack: an overflow then dies without the message
    stack_t ss{};
    ss.ss_sp = mem;
    ss.ss_size = alt_stack_size;
    if (::sigaltstack(&ss, nullptr) != 0) {
        ::munmap(mem, alt_stack_size);
        return;
    }
    mem_ = mem;
}

alt_signal_stack::~alt_signal_stack() {
    if (!mem_) return;
    stack_t ss{};
    ss.ss_flags = SS_DISABLE;
    ::sigaltstack(&ss, nullptr);
    ::munmap(mem_, alt_stack_size);
}

}  // namespace rill::detail
