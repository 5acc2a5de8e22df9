// tests/test_main.cpp: the doctest runner shared by every suite, compiled once.
//
// After the test cases it checks that nothing is left alive: no coroutine,
// stack, channel, timer or runtime (rill::live()), and no test_util counted
// object. A leak fails the suite even when every test case passed.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include "test_util.hpp"

#include <chrono>
#include <cstdio>
#include <thread>

namespace {

bool nothing_alive(const rill::live_objects& l) {
    return l == rill::live_objects{} && rill_test::counted::alive() == 0;
}

/// Objects freed by another thread (the process-wide timer thread frees a
/// plain thread's timer after it fired) may need a moment to go; a leak
/// stays, so waiting a little longer only delays a failure.
rill::live_objects live_after_settling() {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    rill::live_objects l = rill::live();
    while (!nothing_alive(l) && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        l = rill::live();
    }
    return l;
}

}  // namespace

int main(int argc, char** argv) {
    doctest::Context ctx;
    ctx.applyCommandLine(argc, argv);
    int rc = ctx.run();
    if (ctx.shouldExit()) return rc;  // --help, --list-test-cases, ...

    rill::live_objects l = live_after_settling();
    if (!nothing_alive(l)) {
        std::fprintf(stderr,
                     "[rill] FAILED: objects left alive after the suite: "
                     "coroutines=%zu stacks=%zu channels=%zu timers=%zu runtimes=%zu counted=%ld\n",
                     l.coroutines, l.stacks, l.channels, l.timers, l.runtimes, rill_test::counted::alive());
        return rc != 0 ? rc : 1;
    }
    std::fprintf(stderr, "[rill] nothing left alive\n");
    return rc;
}
