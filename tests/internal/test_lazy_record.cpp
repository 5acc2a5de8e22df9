// tests/internal/test_lazy_record.cpp: a spawned coroutine gets its record
// (the 184-byte coroutine object) when a worker first runs it, not at its
// spawn: until then its body waits in the run queue alone. Counted through
// live_counts' record count, which the public live() does not show (live()
// counts coroutines, started or not).
#include "live_counts.hpp"

#include <rill/rill.hpp>

#include <doctest/doctest.h>

#include <cstddef>
#include <string>

using rill::detail::live_counts::coroutine_records;

namespace {

rill::options one_worker() {
    rill::options o;
    o.threads = 1;   // the root does not switch during its burst: nothing else starts meanwhile
    return o;
}

}  // namespace

TEST_CASE("a burst of unnamed spawns holds no records until they run") {
    constexpr int n = 5000;
    const std::size_t records_before = coroutine_records();
    std::size_t during = 0, alive_during = 0;
    int ran = 0;
    const std::size_t alive_before = rill::live().coroutines;
    rill::run([&] {
        rill::wait_group wg;
        wg.add(n);
        for (int i = 0; i < n; ++i) rill::go([&] { ++ran; wg.done(); });
        during = coroutine_records() - records_before;
        alive_during = rill::live().coroutines - alive_before;
        wg.wait();
    }, one_worker());
    CHECK(during == 1);                 // the root's
    CHECK(alive_during == n + 1);       // yet every spawned one is alive
    CHECK(ran == n);
    CHECK(coroutine_records() == records_before);
    CHECK(rill::live().coroutines == alive_before);
}

TEST_CASE("a named coroutine and the root get their records at once") {
    const std::size_t records_before = coroutine_records();
    std::size_t during = 0;
    bool ran = false;
    rill::run([&] {
        rill::wait_group wg;
        wg.add(1);
        rill::go("named", [&] { ran = true; wg.done(); });
        during = coroutine_records() - records_before;
        wg.wait();
    }, one_worker());
    CHECK(during == 2);                 // the root's and the named one's (its name lives in the record)
    CHECK(ran);
    CHECK(coroutine_records() == records_before);
}
