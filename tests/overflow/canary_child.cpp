// tests/overflow/canary_child.cpp: an overflow on a slab stack, which has no
// guard page of its own. 1,100 blocked coroutines use up the process's 1,024
// guarded stacks and the first slab stacks (the root waits until all of
// them have started, so which stack the next one gets does not depend on
// the order the run queue starts them in); the next coroutine, on a slab
// stack in the middle of its slab, recurses about 10 KiB past its bottom and
// returns. At its next switch the canary (the reserved top of the stack
// below) is found written, and the process aborts naming the coroutine.
// Run by check_overflow.sh.
#include <rill/rill.hpp>

#include <cstdio>

namespace {
// Each frame fills 512 bytes with non-zero values, so that the overflow
// writes every byte it passes, the canary's among them.
int fill_down(int n) {
    volatile unsigned char frame[512];
    for (unsigned i = 0; i < sizeof frame; ++i) frame[i] = static_cast<unsigned char>(0x5A ^ i ^ n) | 1;
    return n == 0 ? frame[7] : fill_down(n - 1) + frame[n % 512];
}
}  // namespace

int main() {
    rill::options o;
    o.threads = 1;   // one worker: who gets which stack is fixed
    o.stack_size = 64 * 1024;
    rill::run([] {
        rill::chan<int> never;
        rill::wait_group started;   // all 1,100 hold their stacks before the overflowing one starts
        started.add(1100);
        for (int i = 0; i < 1100; ++i)
            rill::go([&never, &started] {
                started.done();
                never.recv();
            });
        started.wait();
        rill::go("slab overflow", [] {
            std::printf("%d\n", fill_down(64 * 1024 / 512 + 20));   // ~74 KiB of frames on a 64 KiB stack
            rill::yield();   // the switch-out checks the canary
            std::printf("not caught\n");
        });
        never.recv();
    }, o);
    return 0;   // not reached: the canary check aborts the process
}
