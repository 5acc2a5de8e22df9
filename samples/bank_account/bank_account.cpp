// samples/bank_account/bank_account.cpp: the shared-balance race, and two cures.
//
// Model: shared memory against message passing, on the article's example.
// W workers share one account: half of them deposit an amount N times, the
// other half withdraw it N times, so the balance must end where it started.
// Three accounts, side by side:
//
//   1. unsynchronized: every worker reads the balance and writes back its
//      new value. Two workers on two threads can read the same old value,
//      and one write erases the other: a lost update. (The balance is a
//      std::atomic read and written with relaxed loads and stores, not
//      fetch_add: the race is in the read-modify-write, with defined
//      behaviour, so it is the race the article shows and not a C++ data
//      race. On one worker thread coroutines never interleave between the
//      load and the store, so nothing is lost there.)
//   2. with rill::mutex: the read-modify-write is a critical section; the
//      lock suspends a waiting coroutine, never its worker thread.
//   3. CSP: one coroutine owns the balance and nobody else can reach it;
//      workers send it requests, each with a reply channel for the new
//      balance ("do not communicate by sharing memory; share memory by
//      communicating").
//
//      worker ×W ──request{amount, reply}──▶ account ──new balance──▶ reply
//
// Run it:
//     build/samples/bank_account/bank_account                  # 2 workers (one deposits, one withdraws), all threads
//     build/samples/bank_account/bank_account --workers 8 --ops 100000 --threads 4
//     ... --check    exit 1 unless the mutex and CSP accounts end at the start
#include <rill/rill.hpp>

#include <fmt/core.h>

#include "cli.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <thread>

namespace {

struct config {
    int workers = 2;        // even: half deposit, half withdraw
    long ops = 1'000'000;   // deposits (or withdrawals) per worker
    long amount = 10;
    long start = 1000;
    unsigned threads = 0;
};

/// The work a transaction does before it touches the balance (checks, a
/// log record): here a dummy checksum, some 100 ns of CPU. Without it a
/// worker's whole run takes a millisecond and is over before the next
/// worker thread even wakes up, so nothing would ever collide.
void prepare_transaction(long i) {
    std::uint64_t h = std::uint64_t(i);
    for (int k = 0; k < 64; ++k) {
        h = h * 6364136223846793005ull + 1442695040888963407ull;
        asm volatile("" : "+r"(h));   // keep the compiler from computing it away
    }
}

/// What worker w does to the account: even ones deposit, odd ones withdraw.
template <class Change>
void work(const config& cfg, int w, Change change) {
    const long amount = w % 2 == 0 ? +cfg.amount : -cfg.amount;
    for (long i = 0; i < cfg.ops; ++i) {
        prepare_transaction(i);
        change(amount);
    }
}

/// Runs W worker coroutines, body(w) each, and waits for them. They start
/// together: each waits until `start` is closed (a close wakes every
/// receiver at once, a broadcast).
template <class Body>
void run_workers(const config& cfg, Body body) {
    rill::chan<bool> start(0, "start");
    rill::wait_group finished("finished");
    finished.add(cfg.workers);
    for (int w = 0; w < cfg.workers; ++w)
        rill::go(fmt::format("worker {}", w), [&, w, start] {
            start.recv();
            body(w);
            finished.done();
        });
    start.close();
    finished.wait();
}

/// 1. No synchronization: load, add, store. Updates get lost between the two.
long unsynchronized(const config& cfg) {
    std::atomic<long> balance{cfg.start};
    run_workers(cfg, [&](int w) {
        work(cfg, w, [&](long amount) {
            long b = balance.load(std::memory_order_relaxed);
            balance.store(b + amount, std::memory_order_relaxed);   // may overwrite another worker's store
        });
    });
    return balance.load();
}

/// 2. The same read-modify-write under a rill::mutex.
long with_mutex(const config& cfg) {
    rill::mutex m("balance");
    long balance = cfg.start;
    run_workers(cfg, [&](int w) {
        work(cfg, w, [&](long amount) {
            std::scoped_lock lock(m);
            balance += amount;
        });
    });
    return balance;
}

/// 3. One coroutine owns the balance; the others ask it to change it.
struct request {
    long amount;                 // + deposit, - withdrawal
    rill::chan<long> reply;      // where the account sends the new balance
};

long csp(const config& cfg) {
    rill::chan<request> requests(0, "requests");
    rill::chan<long> final_balance(1, "final balance");
    rill::go("account", [requests, final_balance, balance = cfg.start]() mutable {
        for (request r : requests) {   // until every worker is done and requests is closed
            balance += r.amount;
            r.reply.send(balance);
        }
        final_balance.send(balance);
    });
    run_workers(cfg, [&](int w) {
        rill::chan<long> reply(1);   // this worker's answers; room for one, so the account never waits
        work(cfg, w, [&](long amount) {
            requests.send({amount, reply});
            reply.recv();            // the new balance
        });
    });
    requests.close();
    return *final_balance.recv();
}

using clock_type = std::chrono::steady_clock;

constexpr const char* usage =
    "usage: bank_account [--workers W] [--ops N] [--amount A] [--start S] [--threads T] [--check]\n"
    "\n"
    "W workers (default 2, even) share an account that starts at S (default\n"
    "1000): half deposit A (default 10) N times (default 1000000), half\n"
    "withdraw A N times. Three versions: without synchronization, with\n"
    "rill::mutex, and CSP style (one coroutine owns the balance). Prints where\n"
    "each ends and how long it took.\n"
    "\n"
    "  --threads T  worker threads (default 0: one per core; 1 hides the race)\n"
    "  --check      exit 1 unless the mutex and CSP accounts end at S\n";

}  // namespace

int main(int argc, char** argv) {
    samples::cli args(argc, argv, usage);
    config cfg;
    cfg.workers = int(args.number("--workers", 2, 2, 10'000));
    if (cfg.workers % 2) args.fail("--workers must be even: half of them deposit, half withdraw");
    cfg.ops = args.number("--ops", 1'000'000, 0, 100'000'000);
    cfg.amount = args.number("--amount", 10, 1, 1'000'000);
    cfg.start = args.number("--start", 1000, 0, 1'000'000'000);
    cfg.threads = unsigned(args.number("--threads", 0, 0, 1024));
    bool check = args.flag("--check");
    args.done();

    unsigned threads = cfg.threads ? cfg.threads : std::max(1u, std::thread::hardware_concurrency());
    fmt::print("{} workers deposit {} x {}, {} withdraw {} x {}, on {} worker thread{}; start balance {}\n",
               cfg.workers / 2, cfg.ops, cfg.amount, cfg.workers / 2, cfg.ops, cfg.amount, threads, threads == 1 ? "" : "s",
               cfg.start);

    bool ok = true;
    auto report = [&](const char* name, long (*version)(const config&), bool must_balance) {
        auto t0 = clock_type::now();
        long end = rill::run([&] { return version(cfg); }, rill::options{.threads = cfg.threads});
        double ms = std::chrono::duration<double, std::milli>(clock_type::now() - t0).count();
        long off = end - cfg.start;
        std::string verdict = off == 0 ? "correct" : fmt::format("WRONG by {:+}: updates were lost", off);
        if (!must_balance && off == 0)
            verdict += threads == 1 ? " (one thread: coroutines never interleave mid-update)"
                                    : " (no update lost this time: the workers hardly overlapped; try --workers 8)";
        fmt::print("  {:<15} {:8.1f} ms   ends at {:>10}: {}\n", name, ms, end, verdict);
        if (must_balance && off != 0) ok = false;
    };
    report("unsynchronized", unsynchronized, false);
    report("rill::mutex", with_mutex, true);
    report("CSP (owner)", csp, true);

    if (check && !ok) {
        fmt::print("check: FAILED, a synchronized account did not end at {}\n", cfg.start);
        return 1;
    }
    if (check) fmt::print("check: the mutex and CSP accounts end at {}\n", cfg.start);
    return 0;
}
