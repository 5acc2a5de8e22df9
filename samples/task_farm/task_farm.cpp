// samples/task_farm/task_farm.cpp: master and workers over two channels.
//
// Model: the task farm (master/worker, Python's multiprocessing.Pool). A
// master hands N jobs to W worker coroutines over one channel and gathers
// their results from another; whichever worker is free takes the next job,
// so the load balances itself. A job that throws does not stop the farm: its
// result carries the error instead of a value, and the master reports it.
//
//     feeder ──jobs──▶ worker ×W ──results──▶ master
//
// The jobs are CPU-bound (Collatz chain lengths), so W workers on W threads
// finish sooner than one: the sample measures the speed-up, it does not
// assume it. Then it runs the same jobs through rill::parallel_map, the
// Pool.map shape of the same farm (rill/parallel_map.hpp), which returns the
// results in job order.
//
// Run it:
//     build/samples/task_farm/task_farm                      # 64 jobs, one worker per core
//     build/samples/task_farm/task_farm --jobs 200 --workers 4 --work 50000 --fail 3,17
//     ... --check    compare every result with a plain loop; exit 1 if one differs
#include <rill/parallel_map.hpp>
#include <rill/rill.hpp>

#include <fmt/core.h>

#include "cli.hpp"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

struct job {
    int id;
    std::uint64_t first, count;   // the numbers this job works on
};

struct result {
    int id;
    std::optional<std::uint64_t> value;   // the job's answer, or
    std::string error;                    // what it threw
};

/// The CPU-bound work: the total number of Collatz steps of first .. first+count-1.
/// Job ids in `poisoned` throw, as a job with bad input would.
std::uint64_t collatz_steps(const job& j, const std::set<int>& poisoned) {
    if (poisoned.count(j.id)) throw std::runtime_error(fmt::format("job {} was given bad input", j.id));
    std::uint64_t steps = 0;
    for (std::uint64_t n = j.first; n < j.first + j.count; ++n)
        for (std::uint64_t x = n; x > 1; ++steps) x = x % 2 ? 3 * x + 1 : x / 2;
    return steps;
}

/// Runs one job and turns an exception into a result that carries it.
result run_job(const job& j, const std::set<int>& poisoned) {
    try {
        return {j.id, collatz_steps(j, poisoned), {}};
    } catch (const std::exception& e) {
        return {j.id, std::nullopt, e.what()};
    }
}

/// The farm: a feeder, W workers, and the master (the caller) collecting.
/// Results arrive in the order the workers finish; the master files them by id.
/// The coroutines take the channels by value (a chan is a cheap shared
/// handle), so none of them depends on the master's stack frame.
std::vector<result> farm(const std::vector<job>& jobs, int workers, const std::set<int>& poisoned) {
    rill::chan<job> todo;            // unbuffered: a job goes to the next free worker
    rill::chan<result> done(workers);

    rill::go("feeder", [todo, &jobs] {
        for (const job& j : jobs) todo.send(j);
        todo.close();                // no more jobs: the workers' loops end
    });
    auto running = std::make_shared<rill::wait_group>();
    running->add(workers);
    for (int w = 0; w < workers; ++w) {
        rill::go(fmt::format("worker {}", w), [todo, done, running, &poisoned] {
            for (job j : todo) done.send(run_job(j, poisoned));
            running->done();
        });
    }
    rill::go("closer", [done, running] {
        running->wait();
        done.close();                // every worker has ended: no more results
    });

    std::vector<result> by_id(jobs.size());
    for (result r : done) by_id[std::size_t(r.id)] = std::move(r);
    return by_id;
}

using seconds = std::chrono::duration<double>;

template <class F>
auto timed(double& secs, F&& fn) {
    auto t0 = std::chrono::steady_clock::now();
    auto out = fn();
    secs = seconds(std::chrono::steady_clock::now() - t0).count();
    return out;
}

bool same_results(const std::vector<result>& a, const std::vector<result>& b) {
    return std::equal(a.begin(), a.end(), b.begin(), b.end(),
                      [](const result& x, const result& y) { return x.id == y.id && x.value == y.value && x.error == y.error; });
}

std::set<int> parse_ids(samples::cli& args, const std::string& list, long jobs) {
    std::set<int> ids;
    if (list == "none") return ids;
    std::stringstream ss(list);
    for (std::string item; std::getline(ss, item, ',');) {
        std::size_t used = 0;
        int id = -1;
        try {
            id = std::stoi(item, &used);
        } catch (const std::exception&) {
        }
        if (used != item.size() || id < 0 || id >= jobs)
            args.fail(fmt::format("--fail wants job ids from 0 to {} separated by commas, or 'none', not '{}'", jobs - 1, list));
        ids.insert(id);
    }
    return ids;
}

constexpr const char* usage =
    "usage: task_farm [--jobs N] [--workers W] [--work K] [--fail IDS] [--threads T] [--check]\n"
    "\n"
    "A master hands N jobs (default 64) to W worker coroutines (default: one per\n"
    "worker thread) and gathers the results; each job sums the Collatz chain\n"
    "lengths of K numbers (default 100000). Prints the time with one worker on\n"
    "one thread, with W workers on T threads, the speed-up, and the time of the\n"
    "same jobs through rill::parallel_map.\n"
    "\n"
    "  --fail IDS   comma-separated job ids that throw (default 13; 'none'); the\n"
    "               farm reports them and goes on\n"
    "  --threads T  worker threads for the parallel runs (default 0: one per core)\n"
    "  --check      compare every result with a plain loop; exit 1 if one differs\n";

}  // namespace

int main(int argc, char** argv) {
    samples::cli args(argc, argv, usage);
    long n = args.number("--jobs", 64, 1, 100'000);
    long work = args.number("--work", 100'000, 1, 10'000'000);
    if (n * work > 1'000'000'000) args.fail("--jobs times --work must be at most 1000000000 (Collatz chains stay within 64 bits there)");
    auto threads = unsigned(args.number("--threads", 0, 0, 1024));
    if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
    int workers = int(args.number("--workers", threads, 1, 100'000));
    std::set<int> poisoned = parse_ids(args, args.text("--fail", "13"), n);
    bool check = args.flag("--check");
    args.done();

    std::vector<job> jobs;
    for (int i = 0; i < n; ++i) jobs.push_back({i, 1 + std::uint64_t(i) * std::uint64_t(work), std::uint64_t(work)});
    fmt::print("task farm: {} jobs of {} numbers each, {} failing on purpose\n", n, work, poisoned.size());

    double t1 = 0, tw = 0, tmap = 0;
    auto one = timed(t1, [&] { return rill::run([&] { return farm(jobs, 1, poisoned); }, {.threads = 1}); });
    auto many = timed(tw, [&] { return rill::run([&] { return farm(jobs, workers, poisoned); }, {.threads = threads}); });
    auto mapped = timed(tmap, [&] {
        return rill::run([&] {   // the same farm as one call; results in job order
            return rill::parallel_map(jobs, [&](const job& j) { return run_job(j, poisoned); }, std::size_t(workers));
        }, {.threads = threads});
    });

    std::uint64_t total = 0;
    int failed = 0;
    for (const result& r : many) {
        if (r.value) {
            total += *r.value;
        } else {
            fmt::print("  job {} failed: {}\n", r.id, r.error);
            ++failed;
        }
    }
    fmt::print("{} jobs done, {} failed; {} Collatz steps in all\n", n - failed, failed, total);
    fmt::print("  1 worker  on 1 thread  : {:8.3f} s\n", t1);
    fmt::print("  {} worker{} on {} thread{}: {:8.3f} s   speed-up {:.2f}x\n", workers, workers == 1 ? " " : "s",
               threads, threads == 1 ? " " : "s", tw, tw > 0 ? t1 / tw : 0.0);
    fmt::print("  parallel_map, {} worker{}: {:8.3f} s   speed-up {:.2f}x\n", workers, workers == 1 ? "" : "s", tmap,
               tmap > 0 ? t1 / tmap : 0.0);

    bool agree = same_results(one, many) && same_results(many, mapped);
    fmt::print("the three runs {}\n", agree ? "agree on every result" : "DISAGREE");
    if (!agree) return 1;
    if (check) {
        std::vector<result> plain;
        for (const job& j : jobs) plain.push_back(run_job(j, poisoned));
        bool same = same_results(many, plain);
        fmt::print("check against a plain loop: {}\n", same ? "same results" : "DIFFERENT");
        if (!same) return 1;
    }
    return 0;
}
