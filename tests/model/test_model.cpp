// tests/model/test_model.cpp: random programs of send / recv / try_send /
// try_recv / close / select (with and without default, nil arms) over a few
// channels of capacity 0..3, run in the deterministic mode and checked,
// operation by operation, against a sequential model of Go's channel
// semantics (model.hpp says how); then the same generator on the
// multi-threaded runtime, checked against invariants.
//
// Environment:
//   RILL_MODEL_SEED=N     run seed N only, and print its program and log
//   RILL_MODEL_SEEDS=K    how many seeds (default 3000 deterministic, 300 threaded)
//   RILL_MODEL_FIRST=N    the first seed (default 1)
// A failing seed is printed with the command that replays it.
#include "model.hpp"
#include "test_util.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <unistd.h>

using namespace rill_model;

namespace {

std::uint64_t env_number(const char* name, std::uint64_t def) {
    const char* s = std::getenv(name);
    return s && *s ? std::strtoull(s, nullptr, 10) : def;
}

std::string self_path() {
    char buf[4096];
    ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
    return n > 0 ? std::string(buf, std::size_t(n)) : std::string("test_model");
}

/// Aborts the process, naming the seed, if one run takes longer than the
/// limit: a lost wake-up shows up as a run that never ends.
class watchdog {
public:
    explicit watchdog(std::chrono::seconds limit) : limit_(limit), thread_([this] { watch(); }) {}
    ~watchdog() {
        {
            std::scoped_lock l(lock_);
            stop_ = true;
        }
        cv_.notify_all();
        thread_.join();
    }
    void begin(std::uint64_t seed) {
        std::scoped_lock l(lock_);
        seed_ = seed;
        started_ = std::chrono::steady_clock::now();
        ++generation_;
        cv_.notify_all();
    }

private:
    void watch() {
        std::unique_lock l(lock_);
        while (!stop_) {
            std::uint64_t gen = generation_;
            if (cv_.wait_until(l, started_ + limit_, [&] { return stop_ || generation_ != gen; })) continue;
            std::fprintf(stderr, "[model] seed %llu has not finished after %llds: a lost wake-up or a livelock. Replay: RILL_MODEL_SEED=%llu %s\n",
                         (unsigned long long)seed_, (long long)limit_.count(), (unsigned long long)seed_, self_path().c_str());
            std::abort();
        }
    }

    std::chrono::seconds limit_;
    std::mutex lock_;
    std::condition_variable cv_;
    bool stop_ = false;
    std::uint64_t seed_ = 0;
    std::uint64_t generation_ = 0;
    std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
    std::thread thread_;
};

struct seed_range {
    std::uint64_t first;
    std::uint64_t count;
    bool verbose;
};

seed_range seeds(std::uint64_t default_count) {
    if (const char* one = std::getenv("RILL_MODEL_SEED"); one && *one) return {std::strtoull(one, nullptr, 10), 1, true};
    return {env_number("RILL_MODEL_FIRST", 1), env_number("RILL_MODEL_SEEDS", default_count), false};
}

void report(const char* what, std::uint64_t seed, const program& p, const run_result& r, const std::vector<std::string>& errors,
            const char* test_case) {
    std::string s = std::string("[model] ") + what + " seed " + std::to_string(seed) + "\n";
    for (const std::string& e : errors) s += "  violation: " + e + "\n";
    s += describe(p) + describe(r);
    s += "replay: RILL_MODEL_SEED=" + std::to_string(seed) + " " + self_path() + " -tc='" + test_case + "'\n";
    std::fputs(s.c_str(), stderr);
}

}  // namespace

TEST_CASE("model: deterministic runs match Go's channel semantics, operation by operation") {
    const char* name = "model: deterministic*";
    seed_range range = seeds(rill_test::under_thread_sanitizer ? 1000 : 3000);
    watchdog dog(std::chrono::seconds(60));
    std::uint64_t failures = 0, deadlocks = 0, events = 0, blocked = 0;
    for (std::uint64_t seed = range.first; seed < range.first + range.count && failures == 0; ++seed) {
        dog.begin(seed);
        prng_source src(seed);
        program p = generate(src);
        run_result r = execute(p, deterministic(seed));
        std::vector<std::string> errors = check_with_model(p, r);
        // A seed is a replay: the same seed gives the same log.
        if (errors.empty() && (range.verbose || seed % 50 == 0)) {
            run_result again = execute(p, deterministic(seed));
            bool same = again.log.size() == r.log.size() && again.deadlock == r.deadlock && again.left == r.left;
            for (std::size_t i = 0; same && i < r.log.size(); ++i)
                same = describe(again.log[i]) == describe(r.log[i]);
            if (!same) errors.push_back("the same seed gave another log the second time (not a replay)");
        }
        if (range.verbose) report(errors.empty() ? "passed" : "FAILED", seed, p, r, errors, name);
        else if (!errors.empty()) report("FAILED", seed, p, r, errors, name);
        failures += errors.empty() ? 0 : 1;
        deadlocks += r.deadlock ? 1 : 0;
        events += r.log.size();
        blocked += blocked_ops(r);
    }
    MESSAGE(range.count << " seeds from " << range.first << ": " << events << " events checked (" << blocked
                        << " operations blocked and were woken or unwound), " << deadlocks
                        << " runs ended in a deadlock the model agreed with");
    CHECK(failures == 0);
}

TEST_CASE("model: multi-threaded runs keep exactly-once, per-sender FIFO and terminate") {
    const char* name = "model: multi-threaded*";
    seed_range range = seeds(rill_test::under_thread_sanitizer ? 200 : 1000);
    watchdog dog(std::chrono::seconds(60));
    rill::options opts = rill_test::test_options();
    std::uint64_t failures = 0;
    for (std::uint64_t seed = range.first; seed < range.first + range.count && failures == 0; ++seed) {
        dog.begin(seed);
        prng_source src(seed);
        // Longer programs than the deterministic ones: more to interleave.
        program p = generate(src, 6, 40);
        run_result r = execute(p, opts);
        std::vector<std::string> errors = check_invariants(p, r);
        if (range.verbose) report(errors.empty() ? "passed" : "FAILED", seed, p, r, errors, name);
        else if (!errors.empty()) report("FAILED", seed, p, r, errors, name);
        failures += errors.empty() ? 0 : 1;
    }
    CHECK(failures == 0);
}

TEST_CASE("model: the checker itself rejects a wrong log") {
    // A hand-made program and log that break the rules, to show the model
    // is not vacuous: a value received from an empty channel.
    program p;
    p.capacities = {1};
    p.end = ending::may_deadlock;
    p.coros = {{op{op_kind::recv, 0, {}, -1}}, {op{op_kind::send, 0, {}, -1}}};
    run_result r;
    r.log = {event{0, 0, true}, event{0, 0, false, result::value, -1, value_of(1, 0, 0)}, event{1, 0, true},
             event{1, 0, false, result::ok}};
    r.left = {{}};
    CHECK_FALSE(check_with_model(p, r).empty());

    // The right order passes.
    r.log = {event{1, 0, true}, event{1, 0, false, result::ok}, event{0, 0, true},
             event{0, 0, false, result::value, -1, value_of(1, 0, 0)}};
    CHECK(check_with_model(p, r).empty());

    // A receiver that blocked and is woken without a partner.
    r.log = {event{0, 0, true}, event{1, 0, true}, event{0, 0, false, result::closed}};
    r.deadlock = true;
    CHECK_FALSE(check_with_model(p, r).empty());
}
