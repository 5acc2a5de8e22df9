// samples/chanbench/select_send.cpp: the cost of a select with a send case.
// A dispatcher's loop, Go's `select { case out <- v: case <-quit: }`: each
// select sends one value on a buffered channel (capacity 1,024) that a
// consumer drains, beside a receive case on a quit channel that never
// fires. Prints ns per select. Not one of WORKLOADS.md's workloads (select4
// has only receive cases); it measured select's first look at send cases
// (docs/BENCHMARKS.md).
//
//     build/samples/chanbench/select_send [threads] [n]
#include <rill/rill.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>

int main(int argc, char** argv) {
    const unsigned threads = argc > 1 ? unsigned(std::atoi(argv[1])) : 1;
    const long n = argc > 2 ? std::atol(argv[2]) : 10'000'000;
    if (threads < 1 || n < 1) {
        std::fprintf(stderr, "usage: select_send [threads >= 1] [n >= 1]\n");
        return 2;
    }
    long sum = 0;
    const double ns = rill::run([n, &sum] {
        rill::chan<long> out(1024), quit(1);
        rill::wait_group drained;
        drained.add(1);
        rill::go([out, &sum, &drained] {
            for (long v : out) sum += v;
            drained.done();
        });
        const auto t0 = std::chrono::steady_clock::now();
        for (long i = 0; i < n; ++i)
            rill::select(rill::on_send(out, i, [] {}), rill::on_recv(quit, [](std::optional<long>) {}));
        out.close();
        drained.wait();
        const auto t1 = std::chrono::steady_clock::now();
        return std::chrono::duration<double, std::nano>(t1 - t0).count() / double(n);
    }, rill::options{.threads = threads});
    if (sum != n * (n - 1) / 2) {
        std::fprintf(stderr, "select_send: wrong sum %ld\n", sum);
        return 1;
    }
    std::printf("{\"tool\":\"select_send\",\"threads\":%u,\"n\":%ld,\"ns_per_select\":%.2f}\n", threads, n, ns);
}
