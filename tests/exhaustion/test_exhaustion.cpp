// tests/exhaustion/test_exhaustion.cpp: when the system refuses memory, a run
// ends with a clear exception (rill::resource_error) and still unwinds every
// coroutine it created; nothing is left alive (test_main checks).
//
// Two ways to be refused, both real (no fault injection inside rill):
//  - a stack larger than the address space: every map of it fails;
//  - an address-space limit (RLIMIT_AS, set for one test case and put back)
//    while a million coroutines are spawned and block: the stack maps fail
//    after a few thousand. The limit is the process's size now plus a margin,
//    so it also works under the sanitizers, whose shadow memory is already
//    mapped by then.
#include <doctest/doctest.h>

#include "test_util.hpp"

#include <fmt/format.h>

#include <sys/resource.h>

#include <fstream>
#include <string>

using namespace rill_test;

#if defined(__SANITIZE_ADDRESS__)
#  define RILL_TEST_ASAN 1
#elif defined(__has_feature)
#  if __has_feature(address_sanitizer)
#    define RILL_TEST_ASAN 1
#  endif
#endif
#if defined(RILL_TEST_ASAN)
extern "C" int __asan_option_detect_stack_use_after_return;   // ASan's runtime flag
#endif

namespace {

/// True when a sanitizer allocates per coroutine, under the same address-
/// space limit, more than rill does: ThreadSanitizer (each coroutine is a
/// TSan fiber with ~770 KiB of TSan state) and AddressSanitizer detecting
/// use after return (~710 KiB of fake stack per coroutine). The sanitizer is
/// refused first and aborts, before rill is refused anything.
bool sanitizer_outgrows_rill() {
#if defined(RILL_TEST_ASAN)
    if (__asan_option_detect_stack_use_after_return) return true;
#endif
    return under_thread_sanitizer;
}

/// The address space this process has mapped now, in bytes (VmSize).
std::size_t mapped_now() {
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line))
        if (line.rfind("VmSize:", 0) == 0) return std::stoull(line.substr(7)) * 1024;   // "VmSize:  1234 kB"
    FAIL("no VmSize in /proc/self/status");
    return 0;
}

/// Lowers the soft RLIMIT_AS to what is mapped now plus `margin` for its
/// lifetime; puts the old limit back after.
class address_space_limit {
public:
    explicit address_space_limit(std::size_t margin) {
        REQUIRE(::getrlimit(RLIMIT_AS, &old_) == 0);
        rlimit lowered = old_;
        lowered.rlim_cur = mapped_now() + margin;
        REQUIRE(::setrlimit(RLIMIT_AS, &lowered) == 0);
    }
    ~address_space_limit() { ::setrlimit(RLIMIT_AS, &old_); }
    address_space_limit(const address_space_limit&) = delete;
    address_space_limit& operator=(const address_space_limit&) = delete;

private:
    rlimit old_{};
};

constexpr std::size_t margin = std::size_t(256) << 20;   // 256 MiB: a few thousand 64 KiB stacks

/// Coroutines that started, and that reached the end of their body or were
/// unwound out of their blocking call.
struct tally {
    std::atomic<long> started{0};
    std::atomic<long> unwound{0};
};

/// The body of each blocked coroutine: counts itself, holds a counted
/// object, and blocks on `never` (nobody sends) until the run unwinds it.
void block_forever(rill::chan<int> never, tally& t) {
    counted held;
    t.started.fetch_add(1);
    struct on_exit {
        tally& t;
        ~on_exit() { t.unwound.fetch_add(1); }
    } leave{t};
    (void)never.recv();
}

}  // namespace

TEST_CASE("a stack larger than the address space: run throws resource_error naming the stack") {
    rill::options o = test_options();
    o.stack_size = std::size_t(1) << 48;   // 256 TiB: more than a 47-bit user address space
    bool ran = false;
    std::string what;
    try {
        rill::run([&] { ran = true; }, o);
    } catch (const rill::resource_error& e) {
        what = e.what();
    }
    CHECK_FALSE(ran);   // the root never had a stack
    CHECK(contains(what, "cannot map"));
    CHECK(contains(what, "KiB"));
    CHECK(contains(what, "options.stack_size"));
}

TEST_CASE("a stack larger than the address space: an embedding runtime's wait throws resource_error") {
    rill::options o = test_options();
    o.stack_size = std::size_t(1) << 48;
    rill::runtime rt(o);
    std::atomic<bool> ran{false};
    rt.spawn([&] { ran = true; });
    CHECK_THROWS_AS(rt.wait(), rill::resource_error);
    CHECK_FALSE(ran.load());
}

/// What one run under the address-space limit did: the root spawns a million
/// coroutines that block (yielding every 64 spawns, or never).
struct limited_run {
    std::string what;   // the resource_error's message, "" if none
    long spawned = 0;
    tally t;
};

void run_a_million_under_the_limit(limited_run& r, bool yield_as_we_go) {
    address_space_limit limit(margin);
    try {
        rill::run(
            [&] {
                rill::chan<int> never;
                for (; r.spawned < 1'000'000; ++r.spawned) {
                    rill::go([never, &t = r.t] { block_forever(never, t); });
                    if (yield_as_we_go && r.spawned % 64 == 63) rill::yield();   // let them start (and map their stacks)
                }
                (void)never.recv();
            },
            test_options());
    } catch (const rill::resource_error& e) {
        r.what = e.what();
    }
    MESSAGE("resource_error: " << r.what << "; spawned " << r.spawned << ", started " << r.t.started.load());
}

// Skipped (doctest reports them as skipped) where a sanitizer's own
// per-coroutine memory would be refused first: see sanitizer_outgrows_rill.
// The plain build runs them, and ASan+UBSan with detect_stack_use_after_return=0.
TEST_CASE("a million blocked coroutines under an address-space limit: resource_error, every started one unwound"
          * doctest::skip(sanitizer_outgrows_rill())) {
    const long before = counted::alive();
    limited_run r;
    run_a_million_under_the_limit(r, true);
    CHECK(contains(r.what, "cannot map"));
    CHECK(r.spawned < 1'000'000);             // the root was stopped by the error, not by running out of work
    CHECK(r.t.started.load() > 0);            // the limit allowed some stacks first (about 1,000 to 3,850 here)
    // ... and no more than fit: once the run is failing, a coroutine not yet
    // begun never runs (nor asks for a stack), however many the root spawns.
    CHECK(r.t.started.load() <= long(margin / (64 * 1024)));
    CHECK(r.t.unwound.load() == r.t.started.load());
    CHECK(counted::alive() == before);        // unstarted ones are destroyed without running
    CHECK(rill::live().coroutines == 0);
    CHECK(rill::live().stacks == 0);
}

TEST_CASE("a million coroutines spawned at once under an address-space limit: resource_error, nothing left"
          * doctest::skip(sanitizer_outgrows_rill())) {
    const long before = counted::alive();
    limited_run r;
    run_a_million_under_the_limit(r, false);
    // Either the heap (the coroutines' records) or the stacks run out first,
    // depending on how the workers interleave; both say what was refused,
    // or, when not even the message could be allocated, that memory ran out.
    CHECK((contains(r.what, "cannot map") || contains(r.what, "cannot allocate") || contains(r.what, "out of memory")));
    CHECK(r.t.started.load() <= long(margin / (64 * 1024)));
    CHECK(r.t.unwound.load() == r.t.started.load());
    CHECK(counted::alive() == before);
    CHECK(rill::live().coroutines == 0);
}

TEST_CASE("a deadlock among a hundred thousand coroutines: the report lists the first ones and counts the rest") {
    constexpr int n = under_thread_sanitizer ? 4000 : 100'000;
    std::string report = deadlock_message([&] {
        rill::chan<int> never(0, "never");
        for (int i = 0; i < n; ++i) rill::go([never] { (void)never.recv(); });
        (void)never.recv();
    });
    REQUIRE(!report.empty());
    CHECK(contains(report, fmt::format("({} blocked)", n + 1)));
    CHECK(contains(report, "coroutine 1 \"root\": recv on chan<int> \"never\""));
    CHECK(contains(report, fmt::format("and {} more", n + 1 - 100)));
    CHECK(report.size() < 20'000);   // a readable message, not a megabyte
}
