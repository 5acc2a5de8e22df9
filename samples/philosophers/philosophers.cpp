// samples/philosophers/philosophers.cpp: the dining philosophers, three ways.
//
// Model: shared resources under contention, and deadlock. N philosophers sit
// at a round table with one fork between each pair; a philosopher needs both
// neighbouring forks to eat. The forks are named rill::mutexes ("fork 3") and
// each philosopher is a named coroutine ("philosopher 3"), so when they
// deadlock, rill::deadlock_error says who waits for which fork.
//
//   naive    each takes the left fork, then the right one. If all take their
//            left fork at once, each waits forever for a neighbour: a
//            deadlock, which rill detects and reports. A barrier after the
//            left fork makes that unlucky moment happen every time.
//   ordered  resource ordering: each takes the lower-numbered of its two
//            forks first, so the last philosopher reaches for fork 1 first
//            and the circle of waiting cannot close.
//   waiter   a waiter coroutine lets at most N-1 philosophers sit at once, so
//            one of them can always get both forks. Its select turns the
//            "sit down" case off (a nil channel) while the table is full.
//
// The fixed versions must serve every philosopher exactly --meals meals.
//
// Run it:
//     build/samples/philosophers/philosophers                 # all three
//     build/samples/philosophers/philosophers --version waiter --meals 1000 --threads 4
#include <rill/rill.hpp>

#include <fmt/core.h>

#include "cli.hpp"

#include <deque>
#include <mutex>
#include <string>
#include <vector>

namespace {

/// The forks, named for deadlock reports. They live outside rill::run: when
/// a run ends in a deadlock, every blocked coroutine is unwound, in no set
/// order, and an unwinding philosopher unlocks the fork he holds; as locals
/// of the root, the forks could already be gone by then.
struct table {
    explicit table(int n) {
        for (int i = 1; i <= n; ++i) forks.emplace_back(fmt::format("fork {}", i));
    }
    int seats() const { return int(forks.size()); }
    rill::mutex& left(int p) { return forks[p - 1]; }           // philosophers count from 1
    rill::mutex& right(int p) { return forks[p % seats()]; }
    std::deque<rill::mutex> forks;   // a deque: mutexes cannot move
};

/// One meal: take `first`, call `between` (the naive version's barrier), take
/// `second`, eat, put both back (the locks unlock, also when unwound).
void eat(rill::mutex& first, rill::mutex& second, int& meals, auto&& between) {
    std::unique_lock a(first);
    between();
    std::unique_lock b(second);
    ++meals;
    rill::yield();   // eating takes a moment: let the neighbours reach for the forks
}

/// Seats n philosophers, each a named coroutine living `dine(p)`, and waits
/// until all are done.
template <class Dine>
void seat_everyone(int n, unsigned threads, Dine dine) {
    rill::run([&] {
        rill::wait_group dinner("dinner");
        dinner.add(n);
        for (int p = 1; p <= n; ++p)
            rill::go(fmt::format("philosopher {}", p), [&, p] {
                dine(p);
                dinner.done();
            });
        dinner.wait();
    }, rill::options{.threads = threads});
}

/// The naive version. Returns the deadlock report, or "" if it did not deadlock.
std::string naive(int n, int meals, unsigned threads) {
    table t(n);
    std::vector<int> eaten(n + 1, 0);
    rill::wait_group all_hold_left("everyone holds the left fork");   // outlives the run, as the forks
    all_hold_left.add(n);
    try {
        seat_everyone(n, threads, [&](int p) {
            for (int m = 0; m < meals; ++m)
                eat(t.left(p), t.right(p), eaten[p], [&] {
                    if (m > 0) return;
                    all_hold_left.done();   // a barrier: nobody reaches right until all hold their left fork
                    all_hold_left.wait();
                });
        });
    } catch (const rill::deadlock_error& e) {
        return e.what();
    }
    return {};
}

/// Resource ordering: the lower-numbered fork first.
std::vector<int> ordered(int n, int meals, unsigned threads) {
    table t(n);
    std::vector<int> eaten(n + 1, 0);
    seat_everyone(n, threads, [&](int p) {
        rill::mutex& low = p < n ? t.left(p) : t.right(p);    // philosopher n: fork 1 before fork n
        rill::mutex& high = p < n ? t.right(p) : t.left(p);
        for (int m = 0; m < meals; ++m) eat(low, high, eaten[p], [] { rill::yield(); });
    });
    return eaten;
}

/// A waiter admits at most n-1 philosophers to the table at once.
std::vector<int> waiter(int n, int meals, unsigned threads) {
    table t(n);
    std::vector<int> eaten(n + 1, 0);
    rill::run([&] {
        rill::chan<int> sit(0, "sit down"), leave(0, "leave");
        rill::go("waiter", [=] {
            const rill::chan<int> closed_door{nullptr};   // a nil channel: its case is never ready
            int seated = 0;
            for (int served = 0; served < n * meals;)
                rill::select(rill::on_recv(seated < n - 1 ? sit : closed_door, [&] { ++seated; }),
                             rill::on_recv(leave, [&] { --seated; ++served; }));
        });
        rill::wait_group dinner("dinner");
        dinner.add(n);
        for (int p = 1; p <= n; ++p)
            rill::go(fmt::format("philosopher {}", p), [&, sit, leave, p] {
                for (int m = 0; m < meals; ++m) {
                    sit.send(p);   // waits while n-1 others are seated
                    eat(t.left(p), t.right(p), eaten[p], [] { rill::yield(); });
                    leave.send(p);
                }
                dinner.done();
            });
        dinner.wait();
    }, rill::options{.threads = threads});
    return eaten;
}

/// Every philosopher of the report waits for his right fork: "philosopher p"
/// on a line that names "fork p+1".
bool report_names_everyone(const std::string& report, int n) {
    for (int p = 1; p <= n; ++p) {
        std::string who = fmt::format("\"philosopher {}\"", p), fork = fmt::format("\"fork {}\"", p % n + 1);
        auto at = report.find(who);
        if (at == std::string::npos) return false;
        auto eol = report.find('\n', at);
        if (report.substr(at, eol - at).find(fork) == std::string::npos) return false;
    }
    return true;
}

bool all_fed(const char* version, const std::vector<int>& eaten, int meals) {
    bool ok = true;
    std::string line;
    for (std::size_t p = 1; p < eaten.size(); ++p) {
        line += fmt::format(" {}", eaten[p]);
        ok = ok && eaten[p] == meals;
    }
    fmt::print("{}: meals per philosopher:{} -> {}\n", version, line,
               ok ? fmt::format("everyone ate {} meals", meals) : std::string("WRONG"));
    return ok;
}

}  // namespace

int main(int argc, char** argv) {
    samples::cli args(argc, argv,
                      "usage: philosophers [--version naive|ordered|waiter|all] [--philosophers N] [--meals M] [--threads T]\n"
                      "\n"
                      "The dining philosophers. The naive version deadlocks and prints rill's deadlock report\n"
                      "(who waits for which fork); 'ordered' (resource ordering) and 'waiter' (at most N-1 at\n"
                      "the table) finish every meal. Exits 1 when a version does not do what it should.\n"
                      "\n"
                      "  --version V        which version to run (default all)\n"
                      "  --philosophers N   philosophers and forks around the table (default 5)\n"
                      "  --meals M          meals each philosopher eats in the fixed versions (default 100)\n"
                      "  --threads T        worker threads (default 0: one per core)\n");
    const std::string version = args.text("--version", "all");
    const int n = int(args.number("--philosophers", 5, 2, 1000));
    const int meals = int(args.number("--meals", 100, 1, 10'000'000));
    const unsigned threads = unsigned(args.number("--threads", 0, 0, 1024));
    args.done();
    if (version != "naive" && version != "ordered" && version != "waiter" && version != "all")
        args.fail("--version wants naive, ordered, waiter or all, not '" + version + "'");

    bool ok = true;
    if (version == "naive" || version == "all") {
        std::string report = naive(n, meals, threads);
        if (report.empty()) {
            fmt::print("naive: no deadlock?! It should have deadlocked.\n");
            ok = false;
        } else {
            fmt::print("naive: each philosopher took his left fork and waits for his right one. rill says:\n{}\n", report);
            bool named = report_names_everyone(report, n);
            fmt::print("naive: {}\n", named ? "deadlock detected; the report names every philosopher and the fork he waits for"
                                            : "WRONG: the report does not name every philosopher and his fork");
            ok = ok && named;
        }
    }
    if (version == "ordered" || version == "all") ok = all_fed("ordered", ordered(n, meals, threads), meals) && ok;
    if (version == "waiter" || version == "all") ok = all_fed("waiter", waiter(n, meals, threads), meals) && ok;
    return ok ? 0 : 1;
}
