// tests/test_util.hpp: what every suite shares.
//
// Each suite runs three times (meson: <suite>/t1, /t2, /t4), with
// RILL_TEST_THREADS set to the number of worker threads; test_options()
// reads it. A test that needs one worker (to make an interleaving
// deterministic) says so with single_worker().
//
// Rules the suites follow: outcomes are deterministic; time is checked only
// as a lower bound; nothing sleeps to synchronise; doctest assertions run on
// the test's own thread or the root coroutine, and coroutines report what
// they saw through variables that the test checks after `run` returned.
#pragma once

#include <rill/rill.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <string>
#include <thread>
#include <utility>

namespace rill_test {

/// ThreadSanitizer counts every coroutine (fiber) as a thread and allows
/// about 8,000 at once; tests that keep more alive scale down under it.
#if defined(__SANITIZE_THREAD__)
inline constexpr bool under_thread_sanitizer = true;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
inline constexpr bool under_thread_sanitizer = true;
#else
inline constexpr bool under_thread_sanitizer = false;
#endif
#else
inline constexpr bool under_thread_sanitizer = false;
#endif

/// Worker threads for this run of the suite: RILL_TEST_THREADS, 2 when unset.
inline unsigned test_threads() {
    if (const char* s = std::getenv("RILL_TEST_THREADS")) {
        int n = std::atoi(s);
        if (n > 0) return static_cast<unsigned>(n);
    }
    return 2;
}

/// The options every suite uses: RILL_TEST_THREADS workers, deadlock detection on.
inline rill::options test_options() {
    rill::options o;
    o.threads = test_threads();
    return o;
}

/// For tests whose plain threads act on channels at arbitrary times: deadlock
/// detection only knows a plain thread while it is blocked inside a rill call,
/// so between two of its calls every coroutine may look blocked.
inline rill::options plain_thread_options() {
    rill::options o = test_options();
    o.detect_deadlock = false;
    return o;
}

/// One worker: with one worker a coroutine that yields or blocks lets every
/// other runnable coroutine run first, which makes "X is blocked now" certain.
inline rill::options single_worker() {
    rill::options o = test_options();
    o.threads = 1;
    return o;
}

/// An object that counts its live instances in the whole process, to prove
/// that unwinding ran every destructor. test_main checks alive() == 0 at exit.
class counted {
public:
    counted() noexcept { alive_.fetch_add(1); made_.fetch_add(1); }
    counted(const counted&) noexcept : counted() {}
    counted& operator=(const counted&) = default;
    ~counted() { alive_.fetch_sub(1); }

    /// Instances alive now.
    static long alive() noexcept { return alive_.load(); }
    /// Instances ever constructed (compare before and after a test).
    static long made() noexcept { return made_.load(); }

private:
    inline static std::atomic<long> alive_{0};
    inline static std::atomic<long> made_{0};
};

/// Runs fn in rill::run and returns deadlock_error::what(), or "" when run
/// did not throw deadlock_error.
template <class F>
std::string deadlock_message(F&& fn, rill::options opts = test_options()) {
    try {
        rill::run(std::forward<F>(fn), opts);
    } catch (const rill::deadlock_error& e) {
        return e.what();
    }
    return {};
}

/// True when s contains part.
inline bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

inline std::chrono::steady_clock::duration elapsed_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::steady_clock::now() - t0;
}

/// Reads a thread_local through a call the compiler cannot inline or see
/// through: a coroutine may resume on another thread after any rill call,
/// and a thread_local address cached across that call would be stale.
/// True when the thread_local read now belongs to the current thread.
[[gnu::noinline]] inline bool thread_local_is_current() {
    thread_local std::thread::id owner = std::this_thread::get_id();
    asm volatile("" ::: "memory");
    return owner == std::this_thread::get_id();
}

/// A value tagged with its producer and its position in that producer's
/// sequence, for exactly-once and FIFO checks.
inline std::uint64_t tag(std::uint32_t producer, std::uint32_t seq) {
    return (std::uint64_t(producer) << 32) | seq;
}
inline std::uint32_t producer_of(std::uint64_t v) { return std::uint32_t(v >> 32); }
inline std::uint32_t seq_of(std::uint64_t v) { return std::uint32_t(v); }

}  // namespace rill_test
