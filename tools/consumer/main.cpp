// A program outside rill that uses it: built by tools/check_consumers.sh through pkg-config and as a meson subproject.
#include <rill/rill.hpp>
#include <cstdio>
int main() {
    int v = rill::run([] { rill::chan<int> c; rill::go([c] { c.send(42); }); return *c.recv(); });
    std::printf("%d\n", v);
    return v == 42 ? 0 : 1;
}
