// samples/chanbench/tokenizer_baseline.cpp: the single-threaded reference
// for chanbench's wordcount: the same chunks, the same tokenizer and
// tables (count_words and chunk_counts from samples/wordcount, the reducers'
// WordTotals), on one thread, no channels, no coroutines.
// docs/BENCHMARKS.md compares the wordcount pipeline's speed per core to it.
//
//     build/samples/chanbench/tokenizer_baseline corpus/bench-200MiB.txt
#include "bench_support.hpp"

#include <cstdio>
#include <unistd.h>

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: tokenizer_baseline FILE\n");
        return 2;
    }
    bench::WcFile f = bench::wc_open(argv[1]);
    auto t0 = std::chrono::steady_clock::now();
    bench::WordTotals totals;
    bench::ChunkCounts local;
    std::uint64_t words = 0;
    bench::Pool<bench::Chunk> pool;   // as the pipeline's readers do: one chunk, reused
    std::uint64_t bytes = bench::wc_read_region(f, 0, f.size, 1 << 20, pool, [&](bench::Chunk* c) {
        words += count_words(c->data(), c->size(), local);
        local.for_each([&](const bench::ChunkCounts::entry& e) { totals.add(e.text(), e.hash, e.count); });
        pool.give(c);
    });
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    ::close(f.fd);
    std::printf("{\"impl\":\"tokenizer_baseline\",\"bytes\":%llu,\"total_words\":%llu,\"distinct\":%zu,\"ns_per_op\":%.0f}\n",
                (unsigned long long)bytes, (unsigned long long)words, totals.size(), secs * 1e9 / (double(bytes) / (1 << 20)));
    return 0;
}
