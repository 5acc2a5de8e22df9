// chanbench: rill's channel benchmarks, the workloads of WORKLOADS.md.
//
//     chanbench pingpong threads=1            # one JSON line
//     chanbench all threads=2 file=corpus.txt # every workload in turn
//     chanbench --help
//
// Each run warms up once at a small size (n/20; n/10 for chain and sieve;
// the first 8 MiB for wordcount), runs once, checks its own result (exit 1
// on a wrong answer) and prints one JSON line, the same line as the Go,
// Boost.Fiber and thread peers print, so that figures can be set side by
// side (samples/chanbench/compare.py). The time is taken inside the root
// coroutine: runtime start-up and the unwinding at the end are not counted.
#include "bench_support.hpp"

#include <rill/rill.hpp>

#include <atomic>
#include <memory>
#include <optional>
#include <vector>

using bench::fail;
using bench::now_s;

namespace {

int g_threads = 1;
std::size_t g_stack_kb = 64;

long tri(long n) { return n * (n - 1) / 2; }

/// Runs body as the root of a fresh runtime; returns the seconds it measured.
template <class F>
double timed_run(F body) {
    rill::options o;
    o.threads = unsigned(g_threads);
    o.stack_size = g_stack_kb * 1024;
    return rill::run([&] { return body(); }, o);
}

// two coroutines, two unbuffered channels; A sends i on c1, B echoes on c2
double pingpong(long n) {
    return timed_run([n] {
        rill::chan<long> c1, c2;
        long sum = 0;
        bool ok = true;
        double t0 = now_s();
        rill::wait_group wg;
        wg.add(2);
        rill::go([&] {
            rill::chan<long> ping = c1, pong = c2;   // locals: see spsc
            const long count = n;
            long s = 0;
            bool good = true;
            for (long i = 0; i < count; i++) {
                ping.send(i);
                long v = pong.recv().value_or(-1);
                if (v != i) good = false;
                s += v;
            }
            sum = s, ok = good;
            ping.close();
            wg.done();
        });
        rill::go([&] {
            rill::chan<long> ping = c1, pong = c2;
            for (long v : ping) pong.send(v);
            wg.done();
        });
        wg.wait();
        double t1 = now_s();
        if (!ok || sum != tri(n)) fail("pingpong: wrong echo or sum");
        return t1 - t0;
    });
}

double spsc(long n, long cap) {
    return timed_run([n, cap] {
        rill::chan<long> ch(cap);
        long sum = 0, cnt = 0;
        double t0 = now_s();
        rill::wait_group wg;
        wg.add(2);
        rill::go([&] {
            // The loop's bound and channel in locals (registers), as in every
            // workload here: reloaded through the closure after every send,
            // the loads fall on whatever stores of the send share their
            // address modulo 4 KiB (4K aliasing), and the figure moves by a
            // third with the code's layout.
            const long count = n;
            rill::chan<long> out = ch;
            for (long i = 0; i < count; i++) out.send(i);
            out.close();
            wg.done();
        });
        rill::go([&] {
            long s = 0, k = 0;
            rill::chan<long> in = ch;
            for (long v : in) s += v, k++;
            sum = s, cnt = k;
            wg.done();
        });
        wg.wait();
        double t1 = now_s();
        if (sum != tri(n) || cnt != n) fail("spsc: wrong sum/count");
        return t1 - t0;
    });
}

// producers send n/P each; the channel is closed once all producers finished
double mpmc_on(long cap, long n, int P, int C, const char* name) {
    return timed_run([=] {
        rill::chan<long> ch(cap);
        long per = n / P, N = per * P;
        std::vector<long> sums(C * 8, 0), cnts(C * 8, 0);   // stride 8: no false sharing
        double t0 = now_s();
        rill::wait_group producers, consumers;
        producers.add(P);
        consumers.add(C);
        for (int p = 0; p < P; p++)
            rill::go([&, p] {
                const long base = p * per, count = per;   // registers (see spsc)
                rill::chan<long> out = ch;
                for (long j = 0; j < count; j++) out.send(base + j);
                producers.done();
            });
        for (int c = 0; c < C; c++)
            rill::go([&, c] {
                long s = 0, k = 0;
                rill::chan<long> in = ch;
                for (long v : in) s += v, k++;
                sums[c * 8] = s, cnts[c * 8] = k;
                consumers.done();
            });
        producers.wait();
        ch.close();
        consumers.wait();
        double t1 = now_s();
        long s = 0, k = 0;
        for (int c = 0; c < C; c++) s += sums[c * 8], k += cnts[c * 8];
        if (s != tri(N) || k != N) fail(std::string(name) + ": wrong sum/count");
        return t1 - t0;
    });
}

// 4 producers on their own buffered channels; one consumer selects
double select4(long n, long cap) {
    return timed_run([=] {
        const int P = 4;
        long per = n / P, N = per * P;
        std::vector<rill::chan<long>> chans;
        for (int p = 0; p < P; p++) chans.emplace_back(cap);
        long sum = 0, cnt = 0;
        double t0 = now_s();
        rill::wait_group wg;
        wg.add(P + 1);
        for (int p = 0; p < P; p++)
            rill::go([&, p] {
                const long base = p * per, count = per;   // locals: see spsc
                rill::chan<long> out = chans[p];
                for (long j = 0; j < count; j++) out.send(base + j);
                out.close();
                wg.done();
            });
        rill::go([&] {
            long s = 0, k = 0;
            std::vector<rill::chan<long>> live = chans;   // a closed channel's case is switched off (nil)
            int open = P;
            auto on = [&](int i) {
                return rill::on_recv(live[i], [&, i](std::optional<long> v) {
                    if (v) s += *v, k++;
                    else live[i] = nullptr, open--;
                });
            };
            while (open > 0) rill::select(on(0), on(1), on(2), on(3));
            sum = s, cnt = k;
            wg.done();
        });
        wg.wait();
        double t1 = now_s();
        if (sum != tri(N) || cnt != N) fail("select4: wrong sum/count");
        return t1 - t0;
    });
}

double spawn(long n) {
    return timed_run([n] {
        rill::wait_group wg;
        wg.add(n);
        double t0 = now_s();
        for (long i = 0; i < n; i++) rill::go([&wg] { wg.done(); });
        wg.wait();
        return now_s() - t0;
    });
}

// n coroutines in a chain of unbuffered channels; creation included
double chain(long n) {
    return timed_run([n] {
        std::vector<rill::chan<long>> chs;
        double t0 = now_s();
        chs.reserve(n + 1);
        chs.emplace_back();
        for (long i = 0; i < n; i++) {
            chs.emplace_back();
            rill::go([l = chs[i], r = chs[i + 1]] { r.send(l.recv().value_or(-1) + 1); });
        }
        chs[0].send(0);
        long v = chs[n].recv().value_or(-1);
        double t1 = now_s();
        if (v != n) fail("chain: got " + std::to_string(v));
        return t1 - t0;
    });
}

// concurrent prime sieve; the timed part ends when the n-th prime arrives.
// The filters still blocked then are unwound when the root returns.
double sieve(long n) {
    return timed_run([n] {
        long sum = 0, last = 0;
        double t0 = now_s();
        rill::chan<long> ch;
        rill::go([ch] {
            rill::chan<long> out = ch;   // locals: see spsc
            for (long i = 2;; i++) out.send(i);
        });
        for (long k = 0; k < n; k++) {
            long p = ch.recv().value_or(0);
            sum += p, last = p;
            rill::chan<long> out;
            rill::go([ch, out, p] {
                rill::chan<long> in = ch, next = out;   // locals: see spsc
                const long prime = p;
                for (long v : in)
                    if (v % prime != 0) next.send(v);
            });
            ch = out;
        }
        double t1 = now_s();
        auto expect = bench::first_primes(n);
        if (sum != expect.first || last != expect.second) fail("sieve: wrong primes");
        return t1 - t0;
    });
}

struct wc_result {
    std::uint64_t bytes = 0, total = 0;
    bench::Top top;
};

double wordcount(const std::string& path, std::uint64_t limit, int R, int M, int D, std::size_t chunk, wc_result& res) {
    return timed_run([&] {
        bench::WcFile f = bench::wc_open(path);
        if (limit == 0 || limit > f.size) limit = f.size;
        std::atomic<std::uint64_t> bytes_read{0}, words_seen{0};
        bench::Pool<bench::Chunk> chunk_pool;   // each chunk goes back once counted
        bench::Pool<bench::Part> part_pool;     // each part goes back once merged
        bench::Pool<bench::ChunkCounts> table_pool;   // a mapper's counting table, for one chunk
        rill::chan<bench::Chunk*> chunks(16);
        std::vector<rill::chan<bench::Part*>> red;
        for (int d = 0; d < D; d++) red.emplace_back(16);
        std::vector<bench::WordTotals> maps(D);
        double t0 = now_s();
        std::vector<std::uint64_t> bounds = bench::wc_bounds(f, limit, R);
        rill::wait_group readers, mappers, reducers;
        readers.add(R);
        mappers.add(M);
        reducers.add(D);
        for (int r = 0; r < R; r++)
            rill::go([&, r] {
                bytes_read += bench::wc_read_region(f, bounds[r], bounds[r + 1], chunk, chunk_pool, [&](bench::Chunk* c) { chunks.send(c); });
                readers.done();
            });
        for (int m = 0; m < M; m++)
            rill::go([&] {
                std::vector<bench::Part*> parts(D);
                std::uint64_t words = 0;
                for (bench::Chunk* c : chunks) {
                    bench::ChunkCounts* local = table_pool.take();
                    words += count_words(c->data(), c->size(), *local);
                    bench::wc_partition(*local, part_pool, parts);   // copies the words out of the chunk
                    table_pool.give(local);
                    chunk_pool.give(c);
                    for (int d = 0; d < D; d++)
                        if (parts[d]) red[d].send(parts[d]);
                }
                words_seen += words;
                mappers.done();
            });
        for (int d = 0; d < D; d++)
            rill::go([&, d] {
                for (bench::Part* p : red[d]) {
                    bench::wc_merge(maps[d], *p);
                    part_pool.give(p);
                }
                reducers.done();
            });
        readers.wait();
        chunks.close();
        mappers.wait();
        for (auto& c : red) c.close();
        reducers.wait();
        bench::Top top;
        std::uint64_t total = 0;
        for (auto& m : maps)
            m.for_each([&](const std::string& word, std::uint64_t count) {
                total += count;
                bench::top_add(top, word, count);
            });
        double t1 = now_s();
        ::close(f.fd);
        if (bytes_read != limit) fail("wordcount: read " + std::to_string(bytes_read.load()) + " of " + std::to_string(limit));
        if (total != words_seen)
            fail("wordcount: reducers hold " + std::to_string(total) + " words, mappers saw " + std::to_string(words_seen.load()));
        res.bytes = limit, res.total = total, res.top = top;
        return t1 - t0;
    });
}

// After the run's own fields: the stack size, and how many channel locks
// were biased toward one thread and how many of those revoked
// (include/rill/detail/biased_lock.hpp), warm-up included.
std::string extra_json() {
    const rill::detail::lock_bias_counts locks = rill::detail::lock_bias_stats();
    return ",\"stack_kb\":" + std::to_string(g_stack_kb) + ",\"locks_biased\":" + std::to_string(locks.biased) +
           ",\"locks_revoked\":" + std::to_string(locks.revoked) + ",\"locks_moved\":" + std::to_string(locks.moved) + ",\"rill\":\"0.1.0\"";
}

// Warm-up once at a small size, run once at full size, print the JSON line.
int run_one(const bench::Args& a, const std::string& w) {
    long n = a.geti("n", bench::default_n(w));
    long warm = std::max(1L, n / 20);
    std::string extra;
    int P = int(a.geti("producers", 4)), C = int(a.geti("consumers", 4));
    double secs = 0, ops = double(n);
    if (w == "pingpong") {
        pingpong(warm);
        secs = pingpong(n);
    } else if (w == "spsc") {
        long cap = a.geti("cap", 1024);
        spsc(warm, cap);
        secs = spsc(n, cap);
    } else if (w == "mpmc") {
        long cap = a.geti("cap", 1024);
        mpmc_on(cap, warm, P, C, "mpmc");
        secs = mpmc_on(cap, n, P, C, "mpmc");
        ops = double(n / P * P);
    } else if (w == "mpmc_unbuf") {
        mpmc_on(0, warm, P, C, "mpmc_unbuf");
        secs = mpmc_on(0, n, P, C, "mpmc_unbuf");
        ops = double(n / P * P);
    } else if (w == "select4") {
        long cap = a.geti("cap", 128);
        select4(warm, cap);
        secs = select4(n, cap);
        ops = double(n / 4 * 4);
    } else if (w == "spawn") {
        spawn(warm);
        secs = spawn(n);
    } else if (w == "chain") {
        chain(std::max(1L, n / 10));
        secs = chain(n);
    } else if (w == "sieve") {
        sieve(std::max(1L, n / 10));
        secs = sieve(n);
    } else if (w == "wordcount") {
        std::string file = a.gets("file", "");
        if (file.empty()) fail("wordcount needs file=PATH");
        int R = int(a.geti("readers", 2)), M = int(a.geti("mappers", 8)), D = int(a.geti("reducers", 4));
        std::size_t chunk = std::size_t(a.geti("chunk_kb", 1024)) * 1024;
        wc_result res;
        wordcount(file, 8u << 20, R, M, D, chunk, res);   // warm-up: first 8 MiB
        secs = wordcount(file, 0, R, M, D, chunk, res);
        std::uint64_t etotal = 0;
        bench::Top etop;
        std::string expect = a.gets("expect", file + ".expect");
        bool checked = bench::wc_load_expect(expect, etotal, etop);
        if (checked) {
            if (etotal != res.total) fail("wordcount: total " + std::to_string(res.total) + " expected " + std::to_string(etotal));
            if (etop != res.top) fail("wordcount: top-10 differs from " + expect);
        }
        ops = double(res.bytes) / (1 << 20);
        n = long(ops + 0.5);
        extra += ",\"bytes\":" + std::to_string(res.bytes) + ",\"total_words\":" + std::to_string(res.total) +
                 ",\"checked\":" + (checked ? "true" : "false") + ",\"readers\":" + std::to_string(R) +
                 ",\"mappers\":" + std::to_string(M) + ",\"reducers\":" + std::to_string(D) + ",\"top10\":" + bench::top_json(res.top);
    } else {
        fail("unknown workload " + w);
    }
    bench::emit("rill", w, g_threads, n, ops, secs, extra + extra_json());
    return 0;
}

void usage() {
    std::printf(
        "chanbench: rill's channel benchmarks (the workloads of WORKLOADS.md)\n\n"
        "usage: chanbench WORKLOAD|all [key=value ...]\n\n"
        "workloads (default n):\n"
        "  pingpong    two coroutines echo over two unbuffered channels      n=1000000 round trips\n"
        "  spsc        one producer, one consumer, buffered (cap 1024)       n=10000000 messages\n"
        "  mpmc        4 producers, 4 consumers, one buffered channel        n=10000000 messages\n"
        "  mpmc_unbuf  as mpmc on an unbuffered channel                      n=2000000 messages\n"
        "  select4     4 producers on their own channels, one select         n=4000000 messages\n"
        "  spawn       spawn n coroutines, each marks a wait group done      n=1000000 spawns\n"
        "  chain       n coroutines in a chain of unbuffered channels        n=100000 coroutines\n"
        "  sieve       the concurrent prime sieve                            n=5000 primes\n"
        "  wordcount   map/reduce word count over file=PATH                  ns per MiB\n"
        "  all         every workload in turn (wordcount only with file=)\n\n"
        "keys: n= threads= (default 1) cap= producers= consumers= stack_kb= (default 64)\n"
        "      file= expect= readers= mappers= reducers= chunk_kb= (wordcount)\n\n"
        "Each run warms up, runs once, checks its result (exit 1 when wrong) and\n"
        "prints one JSON line: impl, workload, threads, n, ns_per_op, ops_per_s, peak_rss_kb.\n");
}

}  // namespace

int main(int argc, char** argv) {
    if (argc >= 2 && (std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h")) {
        usage();
        return 0;
    }
    bench::Args a = bench::parse_args(argc, argv);
    g_threads = int(a.geti("threads", 1));
    if (g_threads < 1) fail("threads must be at least 1");
    g_stack_kb = std::size_t(a.geti("stack_kb", 64));
    if (a.workload != "all") {
        bench::default_n(a.workload);   // validates the name
        return run_one(a, a.workload);
    }
    for (const char* w : {"pingpong", "spsc", "mpmc", "mpmc_unbuf", "select4", "spawn", "chain", "sieve", "wordcount"}) {
        if (std::string(w) == "wordcount" && !a.has("file")) continue;
        run_one(a, w);
    }
    return 0;
}
