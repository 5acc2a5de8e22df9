// samples/pipeline/pipeline.cpp: two pipelines of coroutines joined by channels.
//
// Model: CSP pipelines, Hoare's and Go's favourite picture. Each stage is a
// coroutine that owns what it holds; stages share nothing but channels.
//
// 1. `pipeline sieve`: the concurrent prime sieve (Hoare 1978, McIlroy, Go's
//    tour). A generator sends 2, 3, 4, ... down an unbuffered channel; each
//    prime found gets a filter coroutine of its own that passes on only the
//    numbers it does not divide. The chain grows by one filter per prime:
//
//        generate ──▶ filter 2 ──▶ filter 3 ──▶ filter 5 ──▶ ... ──▶ main
//
// 2. `pipeline text`: read lines → transform → filter → write, over bounded
//    (buffered) channels. A stage that is faster than the next one fills the
//    channel between them and then waits: back-pressure, so the reader never
//    runs more than a few channel capacities ahead of the writer, whatever
//    the input's size. Shutdown is clean and needs no flag: each stage closes
//    its output when its input is closed and drained, stage by stage.
//
//        reader ──lines──▶ transform ──upper──▶ filter ──kept──▶ writer
//
// Run it:
//     build/samples/pipeline/pipeline sieve --primes 20
//     build/samples/pipeline/pipeline text --lines 100000 --capacity 8 --quiet
//     build/samples/pipeline/pipeline text notes.txt         # upper-cased, without '#' comments and blank lines
//     ... --check    compare with a plain sequential computation; exit 1 if they differ
#include <rill/rill.hpp>

#include <fmt/core.h>

#include "cli.hpp"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

namespace {

// ---------------------------------------------------------------- the prime sieve

/// Sends 2, 3, 4, ... to out until the program ends (the end of the run
/// unwinds it while it waits to send).
void generate(rill::chan<long> out) {
    for (long i = 2;; ++i) out.send(i);
}

/// Passes on from in to out the numbers that prime does not divide.
void filter(rill::chan<long> in, rill::chan<long> out, long prime) {
    for (;;) {
        long n = *in.recv();
        if (n % prime != 0) out.send(n);
    }
}

/// The first n primes, found by a chain of n filter coroutines.
std::vector<long> sieve(long n, unsigned threads) {
    return rill::run([n] {
        std::vector<long> primes;
        rill::chan<long> ch;   // unbuffered: each number is handed from stage to stage
        rill::go("generate", [ch] { generate(ch); });
        for (long i = 0; i < n; ++i) {
            long prime = *ch.recv();   // the head of the chain is always a prime
            primes.push_back(prime);
            rill::chan<long> next;
            rill::go(fmt::format("filter {}", prime), [ch, next, prime] { filter(ch, next, prime); });
            ch = next;
        }
        return primes;   // the generator and the filters are still waiting: the run's end unwinds them
    }, rill::options{.threads = threads});
}

/// The same primes by trial division, one thread, no channels.
std::vector<long> sieve_sequential(long n) {
    std::vector<long> primes;
    for (long c = 2; long(primes.size()) < n; ++c)
        if (std::none_of(primes.begin(), primes.end(), [c](long p) { return c % p == 0; })) primes.push_back(c);
    return primes;
}

int run_sieve(samples::cli& args) {
    long n = args.number("--primes", 100, 1, 20000);
    auto threads = unsigned(args.number("--threads", 0, 0, 1024));
    bool check = args.flag("--check");
    args.done();

    std::vector<long> primes = sieve(n, threads);
    fmt::print("the first {} primes, found by {} filter coroutines:\n", n, n);
    for (std::size_t i = 0; i < primes.size(); ++i) fmt::print("{}{}", primes[i], (i + 1) % 15 == 0 || i + 1 == primes.size() ? "\n" : " ");
    if (check) {
        bool same = primes == sieve_sequential(n);
        fmt::print("check against trial division: {}\n", same ? "same primes" : "DIFFERENT");
        if (!same) return 1;
    }
    return 0;
}

// ---------------------------------------------------------------- the text pipeline

/// The transform stage's work: upper-case and trim spaces at both ends.
std::string transform(std::string line) {
    for (char& c : line) c = char(std::toupper(static_cast<unsigned char>(c)));
    auto first = line.find_first_not_of(" \t\r");
    if (first == std::string::npos) return {};
    return line.substr(first, line.find_last_not_of(" \t\r") - first + 1);
}

/// The filter stage's rule: drop blank lines and '#' comments.
bool keep(const std::string& line) { return !line.empty() && line[0] != '#'; }

/// Synthetic input: a numbered sentence per line, with blanks and comments
/// here and there so the filter has something to drop.
std::vector<std::string> make_lines(long n) {
    static const char* words[] = {"alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf"};
    std::vector<std::string> lines;
    for (long i = 0; i < n; ++i) {
        if (i % 10 == 3) lines.emplace_back("   ");
        else if (i % 10 == 7) lines.push_back(fmt::format("# comment {}", i));
        else lines.push_back(fmt::format("  line {}: {} {} ", i, words[i % 7], words[(i * 3) % 7]));
    }
    return lines;
}

/// Sends v on out; counts it in stalls when out was full and the stage had to wait.
template <class T>
void send_counting(const rill::chan<T>& out, T v, std::atomic<long>& stalls) {
    if (out.try_send(v)) return;
    ++stalls;
    out.send(std::move(v));
}

struct text_stats {
    std::atomic<long> read{0}, done{0};    // lines read; lines written or dropped
    long max_ahead = 0;                    // the most lines read but not yet written or dropped
    std::atomic<long> reader_stalls{0}, transform_stalls{0}, filter_stalls{0};
};

/// Runs the four stages over input; returns the lines the writer wrote.
std::vector<std::string> run_text(const std::vector<std::string>& input, long capacity, bool print, unsigned threads,
                                  text_stats& st) {
    return rill::run([&] {
        rill::chan<std::string> lines(capacity, "lines"), upper(capacity, "upper"), kept(capacity, "kept");
        rill::group stages;

        stages.go([&] {   // reader
            for (const std::string& l : input) {
                long ahead = ++st.read - st.done.load();
                st.max_ahead = std::max(st.max_ahead, ahead);
                send_counting(lines, l, st.reader_stalls);
            }
            lines.close();   // shutdown starts here and travels down the pipeline
        });
        stages.go([&] {   // transform
            for (std::string& l : lines) send_counting(upper, transform(std::move(l)), st.transform_stalls);
            upper.close();
        });
        stages.go([&] {   // filter
            for (std::string& l : upper) {
                if (keep(l)) send_counting(kept, std::move(l), st.filter_stalls);
                else ++st.done;
            }
            kept.close();
        });

        std::vector<std::string> written;   // the writer is this (root) coroutine
        for (std::string& l : kept) {
            if (print) fmt::print("{}\n", l);
            written.push_back(std::move(l));
            ++st.done;
        }
        stages.wait();   // every stage has ended: the channels are closed and drained
        return written;
    }, rill::options{.threads = threads});
}

/// The same transformation in one loop, no coroutines.
std::vector<std::string> text_sequential(const std::vector<std::string>& input) {
    std::vector<std::string> out;
    for (const std::string& l : input)
        if (std::string t = transform(l); keep(t)) out.push_back(std::move(t));
    return out;
}

int run_text_mode(samples::cli& args) {
    long n = args.number("--lines", 1000, 0, 100'000'000);
    long capacity = args.number("--capacity", 4, 0, 1'000'000);
    auto threads = unsigned(args.number("--threads", 0, 0, 1024));
    bool quiet = args.flag("--quiet");
    bool check = args.flag("--check");
    std::string file = args.positional("FILE", "");
    args.done();

    std::vector<std::string> input;
    if (file.empty()) {
        input = make_lines(n);
    } else {
        std::ifstream in(file);
        if (!in) args.fail("cannot read '" + file + "'");
        for (std::string l; std::getline(in, l);) input.push_back(std::move(l));
    }

    text_stats st;
    std::vector<std::string> out = run_text(input, capacity, !quiet, threads, st);

    // Four stages each hold at most one line, three channels at most `capacity` each.
    const long bound = 3 * capacity + 4;
    fmt::print(stderr, "text pipeline: {} lines in, {} out, channel capacity {}\n", input.size(), out.size(), capacity);
    fmt::print(stderr, "back-pressure: the reader ran at most {} lines ahead of the writer (bound 3 x {} + 4 = {})\n",
               st.max_ahead, capacity, bound);
    fmt::print(stderr, "  sends that waited for room: reader {}, transform {}, filter {}\n", st.reader_stalls.load(),
               st.transform_stalls.load(), st.filter_stalls.load());
    fmt::print(stderr, "shutdown: reader closed 'lines', transform closed 'upper', filter closed 'kept', writer drained it\n");
    if (check) {
        bool same = out == text_sequential(input);
        bool bounded = st.max_ahead <= bound;
        fmt::print(stderr, "check: output {} the sequential transformation; lead {} the bound\n",
                   same ? "equals" : "DIFFERS FROM", bounded ? "within" : "BEYOND");
        if (!same || !bounded) return 1;
    }
    return 0;
}

constexpr const char* usage =
    "usage: pipeline sieve [--primes N] [--threads T] [--check]\n"
    "       pipeline text [--lines N] [--capacity C] [--threads T] [--quiet] [--check] [FILE]\n"
    "\n"
    "sieve: the first N primes (default 100) by the concurrent prime sieve, one\n"
    "       filter coroutine per prime on unbuffered channels.\n"
    "text:  read -> upper-case and trim -> drop blank and '#' lines -> write, over\n"
    "       channels of capacity C (default 4). Reads FILE, or makes N lines\n"
    "       (default 1000) without one. Prints the lines on stdout (not with\n"
    "       --quiet) and on stderr how far the reader ran ahead and how often a\n"
    "       stage waited for room (back-pressure).\n"
    "\n"
    "  --threads T  worker threads (default 0: one per core)\n"
    "  --check      compare with a sequential computation; exit 1 if different\n";

}  // namespace

int main(int argc, char** argv) {
    samples::cli args(argc, argv, usage);
    std::string mode = argc > 1 ? argv[1] : "";   // the mode comes first
    if (mode != "sieve" && mode != "text")
        args.fail(mode.empty() ? "missing mode: sieve or text" : "unknown mode '" + mode + "': the first argument is sieve or text");
    args.positional("mode");   // takes argv[1] off the list
    return mode == "sieve" ? run_sieve(args) : run_text_mode(args);
}
