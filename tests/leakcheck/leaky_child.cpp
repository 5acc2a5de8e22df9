// tests/leakcheck/leaky_child.cpp: a program that leaks on purpose, from
// inside a coroutine, so that the ASan build proves its leak check is live:
// every suite and sample runs under ASan with detect_leaks=1 (meson.build's
// test setup), and a leak check that silently does nothing (LeakSanitizer
// cannot stop the world under some ptrace policies) would prove nothing.
#include <rill/rill.hpp>

#include <cstdio>
#include <cstring>

namespace {
char* volatile kept = nullptr;   // volatile: the compiler may not drop the allocation
}

int main() {
    rill::run([] {
        rill::chan<char*> c(1);
        rill::go([c] {
            char* block = new char[4242];
            std::memset(block, 'x', 4242);
            c.send(block);
        });
        kept = *c.recv();
        kept = nullptr;   // the only pointer is gone: a leak of 4242 bytes
    });
    std::puts("leaky_child: leaked 4242 bytes");
    return 0;
}
