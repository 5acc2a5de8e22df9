// tests/overflow/overflow_child.cpp: a coroutine that recurses until it runs
// off its stack. Run by check_overflow.sh, which expects the process to die
// of SIGSEGV after rill's message naming the coroutine and its stack size.
#include <rill/rill.hpp>

#include <cstdio>

namespace {
// Each frame holds a buffer the optimizer cannot drop.
int deep(int n) {
    volatile char frame[512];
    frame[0] = char(n);
    return n == 0 ? frame[0] : deep(n - 1) + frame[0];
}
}  // namespace

int main() {
    rill::options o;
    o.threads = 2;
    o.stack_size = 64 * 1024;
    rill::run([] {
        rill::go("recursive descent", [] { std::printf("%d\n", deep(1 << 20)); });
        rill::chan<int> never;
        never.recv();
    }, o);
    return 0;   // not reached: the overflow kills the process
}
