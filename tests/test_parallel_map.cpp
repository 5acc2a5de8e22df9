// tests/test_parallel_map.cpp: rill/parallel_map.hpp — order, exactly once,
// the bound on concurrent calls, exceptions, empty and single-pass input,
// move-only values, and nothing left running or alive afterwards.
#include "test_util.hpp"

#include <rill/parallel_map.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <list>
#include <memory>
#include <numeric>
#include <optional>
#include <sstream>
#include <ranges>
#include <stdexcept>
#include <string>
#include <vector>

// clang 14 cannot compile libstdc++ 12's range adaptors (views::filter,
// views::transform, istream_view): the cases that need them are left to
// other compilers there.
#if defined(__clang__) && __clang_major__ < 16 && defined(__GLIBCXX__)
#define RILL_TEST_RANGE_ADAPTORS 0
#else
#define RILL_TEST_RANGE_ADAPTORS 1
#endif

using rill_test::counted;
using rill_test::single_worker;
using rill_test::test_options;

namespace {

std::vector<int> iota_vector(int n) {
    std::vector<int> v(static_cast<std::size_t>(n));
    std::iota(v.begin(), v.end(), 0);
    return v;
}

/// A single-pass range of the values of a channel, for std::ranges.
/// (rill::chan itself is not a std::ranges::input_range yet: its iterator's
/// operator* is not const, which std::indirectly_readable requires.)
template <class T>
class drain {
public:
    explicit drain(rill::chan<T> ch) : ch_(std::move(ch)) {}
    class iterator {
    public:
        using value_type = T;
        using difference_type = std::ptrdiff_t;
        iterator() = default;
        explicit iterator(drain* d) : d_(d) {}
        T& operator*() const { return *d_->current_; }
        iterator& operator++() { d_->pull(); return *this; }
        void operator++(int) { ++*this; }
        friend bool operator==(const iterator& it, std::default_sentinel_t) { return it.at_end(); }
    private:
        bool at_end() const { return !d_->current_; }
        drain* d_ = nullptr;
    };
    iterator begin() { pull(); return iterator(this); }
    std::default_sentinel_t end() const { return {}; }

private:
    // The next value, emplaced rather than move-assigned from recv()'s
    // optional (which made GCC 12, under -fsanitize=thread, warn that a
    // disengaged optional's pointer "may be used uninitialized").
    void pull() {
        current_.reset();
        if (std::optional<T> v = ch_.recv()) current_.emplace(std::move(*v));
    }

    rill::chan<T> ch_;
    std::optional<T> current_;   // the value the iterator points at; replaced by ++
};
static_assert(std::ranges::input_range<drain<int>> && !std::ranges::forward_range<drain<int>>);

/// Raises max to at least v.
void raise_to(std::atomic<int>& max, int v) {
    int m = max.load();
    while (v > m && !max.compare_exchange_weak(m, v)) {}
}

}  // namespace

TEST_CASE("parallel_map: results come back in input order") {
    const std::vector<int> in = iota_vector(1000);
    std::vector<long> out = rill::run([&] {
        return rill::parallel_map(in, [](int x) {
            if (x % 7 == 0) rill::yield();   // finish out of order
            return long(x) * x;
        }, 8);
    }, test_options());
    REQUIRE(out.size() == in.size());
    for (std::size_t i = 0; i < in.size(); ++i) CHECK(out[i] == long(in[i]) * in[i]);
}

TEST_CASE("parallel_map: every element is processed exactly once") {
    constexpr int n = 2000;
    std::vector<std::atomic<int>> calls(n);
    const std::vector<int> in = iota_vector(n);
    std::vector<int> out = rill::run([&] {
        return rill::parallel_map(in, [&](const int& x) {
            calls[static_cast<std::size_t>(x)].fetch_add(1);
            return x;
        }, 5);
    }, test_options());
    CHECK(out == in);
    for (int i = 0; i < n; ++i) CHECK(calls[static_cast<std::size_t>(i)].load() == 1);
}

TEST_CASE("parallel_map: elements of a container are passed in place, not copied") {
    std::vector<counted> in(50);
    const long made_before = counted::made();
    std::vector<bool> ok = rill::run([&] {
        return rill::parallel_map(in, [&](const counted& c) { return &c >= in.data() && &c < in.data() + in.size(); }, 4);
    }, test_options());
    CHECK(counted::made() == made_before);
    CHECK(std::ranges::all_of(ok, [](bool b) { return b; }));
}

TEST_CASE("parallel_map: at most `workers` calls run at once, on at most `workers` coroutines") {
    for (std::size_t workers : {1u, 2u, 3u, 16u}) {
        CAPTURE(workers);
        std::atomic<int> now{0}, max_now{0};
        std::atomic<long> max_coroutines{0};
        const std::vector<int> in = iota_vector(300);
        std::vector<int> out = rill::run([&] {
            const long before = long(rill::live().coroutines);   // the root, and any runtime's leftovers
            std::vector<int> r = rill::parallel_map(in, [&](int x) {
                raise_to(max_now, ++now);
                long c = long(rill::live().coroutines) - before;
                for (long m = max_coroutines.load(); c > m && !max_coroutines.compare_exchange_weak(m, c);) {}
                rill::yield();   // let the other workers in while this call is running
                rill::yield();
                --now;
                return x + 1;
            }, workers);
            return r;
        }, test_options());
        CHECK(out.size() == in.size());
        CHECK(out.back() == 300);
        CHECK(max_now.load() >= 1);
        CHECK(max_now.load() <= int(workers));
        CHECK(max_coroutines.load() <= long(workers));
    }
}

TEST_CASE("parallel_map: with one worker the calls run in input order") {
    std::vector<int> seen;   // one worker: no two calls at once
    std::vector<int> out = rill::run([&] {
        return rill::parallel_map(iota_vector(100), [&](int x) {
            seen.push_back(x);
            rill::yield();
            return x;
        }, 1);
    }, test_options());
    CHECK(seen == iota_vector(100));
    CHECK(out == iota_vector(100));
}

TEST_CASE("parallel_map: more workers than elements") {
    std::vector<std::string> out = rill::run([] {
        std::vector<std::string> in{"a", "bb", "ccc"};
        return rill::parallel_map(in, [](const std::string& s) { return s + s; }, 64);
    }, test_options());
    CHECK(out == std::vector<std::string>{"aa", "bbbb", "cccccc"});
}

TEST_CASE("parallel_map: empty input gives an empty vector and never calls fn") {
    std::atomic<int> calls{0};
    rill::run([&] {
        std::vector<int> none;
        CHECK(rill::parallel_map(none, [&](int x) { ++calls; return x; }, 4).empty());
#if RILL_TEST_RANGE_ADAPTORS
        // Not sized: a filter that lets nothing through.
        auto nothing = iota_vector(10) | std::views::filter([](int x) { return x < 0; });
        CHECK(rill::parallel_map(nothing, [&](int x) { ++calls; return x; }, 4).empty());
#endif
        // A closed, empty channel.
        rill::chan<int> closed(1);
        closed.close();
        CHECK(rill::parallel_map(drain<int>(closed), [&](int x) { ++calls; return x; }, 4).empty());
    }, test_options());
    CHECK(calls == 0);
}

TEST_CASE("parallel_map: move-only results and results that are not default-constructible") {
    struct no_default {
        explicit no_default(int v) : value(v) {}
        int value;
    };
    rill::run([] {
        std::vector<std::unique_ptr<int>> boxes =
            rill::parallel_map(iota_vector(200), [](int x) { return std::make_unique<int>(x * 3); }, 4);
        REQUIRE(boxes.size() == 200);
        for (int i = 0; i < 200; ++i) CHECK(*boxes[static_cast<std::size_t>(i)] == i * 3);

        std::vector<no_default> nd = rill::parallel_map(iota_vector(10), [](int x) { return no_default(x); }, 3);
        for (int i = 0; i < 10; ++i) CHECK(nd[static_cast<std::size_t>(i)].value == i);
    }, test_options());
}

TEST_CASE("parallel_map: a single-pass range of move-only values (a channel) is consumed in order") {
    rill::run([] {
        rill::chan<std::unique_ptr<int>> in(4);
        rill::go([in] {
            for (int i = 0; i < 300; ++i) in.send(std::make_unique<int>(i));
            in.close();
        });
        // Each value is moved out before ++ replaces it with the next one.
        std::vector<int> out =
            rill::parallel_map(drain<std::unique_ptr<int>>(in), [](std::unique_ptr<int>&& p) { return *p + 1; }, 6);
        REQUIRE(out.size() == 300);
        for (int i = 0; i < 300; ++i) CHECK(out[static_cast<std::size_t>(i)] == i + 1);
    }, test_options());
}

#if RILL_TEST_RANGE_ADAPTORS
TEST_CASE("parallel_map: a single-pass range whose elements live in its iterator (istream_view)") {
    rill::run([] {
        std::istringstream text("one two three four five six seven eight nine ten");
        std::vector<std::size_t> out =
            rill::parallel_map(std::views::istream<std::string>(text), [](const std::string& w) {
                rill::yield();   // the next word is read meanwhile: w must be a copy of its own
                return w.size();
            }, 3);
        CHECK(out == std::vector<std::size_t>{3, 3, 5, 4, 4, 3, 5, 5, 4, 3});
    }, test_options());
}
#endif


#if RILL_TEST_RANGE_ADAPTORS
TEST_CASE("parallel_map: a view that makes values, and a list (forward, not random access)") {
    rill::run([] {
        auto squares = std::views::iota(0, 100) | std::views::transform([](int x) { return x * x; });
        std::vector<int> out = rill::parallel_map(squares, [](int x) { return x + 1; }, 4);
        for (int i = 0; i < 100; ++i) CHECK(out[static_cast<std::size_t>(i)] == i * i + 1);

        std::list<std::string> words{"x", "y", "z"};
        std::vector<std::size_t> sizes = rill::parallel_map(words, [](std::string& w) { return (w += "!").size(); }, 2);
        CHECK(sizes == std::vector<std::size_t>{2, 2, 2});
        CHECK(words.front() == "x!");   // in place: fn got the list's own element
    }, test_options());
}
#endif


TEST_CASE("parallel_map: fn's exception is rethrown after every worker ended, and the run goes on") {
    std::atomic<int> running{0}, running_at_return{-1}, finished{0}, finished_at_return{-1};
    std::string what;
    rill::run([&] {
        try {
            rill::parallel_map(iota_vector(500), [&](int x) {
                ++running;
                rill::yield();
                if (x == 137) {
                    --running;
                    throw std::runtime_error("bad element 137");
                }
                rill::yield();
                --running;
                ++finished;
                return x;
            }, 8);
        } catch (const std::runtime_error& e) {
            what = e.what();
            running_at_return = running.load();
            finished_at_return = finished.load();
        }
        for (int i = 0; i < 20; ++i) rill::yield();   // a worker still running would finish a call now
        // And the runtime is fine afterwards.
        CHECK(rill::parallel_map(iota_vector(10), [](int x) { return x; }, 3) == iota_vector(10));
    }, test_options());
    CHECK(what == "bad element 137");
    CHECK(running_at_return == 0);
    CHECK(finished.load() == finished_at_return.load());
    CHECK(finished.load() < 500);
}

TEST_CASE("parallel_map: after a failure nothing more is handed out") {
    // One worker: the failing outcome is collected before at most one more
    // job (the one the caller may have handed out meanwhile) starts.
    std::atomic<int> calls{0};
    rill::run([&] {
        CHECK_THROWS_AS(rill::parallel_map(iota_vector(50), [&](int x) {
            ++calls;
            if (x == 5) throw std::out_of_range("five");
            return x;
        }, 1), std::out_of_range);
    }, test_options());
    CHECK(calls >= 6);
    CHECK(calls <= 7);
}

TEST_CASE("parallel_map: when several calls throw, one of their exceptions is rethrown") {
    std::string what;
    rill::run([&] {
        try {
            rill::parallel_map(iota_vector(100), [](int x) -> int {
                if (x % 10 == 3) throw std::runtime_error("bad " + std::to_string(x));
                rill::yield();
                return x;
            }, 4);
        } catch (const std::runtime_error& e) {
            what = e.what();
        }
    }, test_options());
    REQUIRE(what.size() >= 5);
    CHECK(what.substr(0, 4) == "bad ");
    CHECK(std::stoi(what.substr(4)) % 10 == 3);
}

#if RILL_TEST_RANGE_ADAPTORS
TEST_CASE("parallel_map: an exception from the range itself is rethrown after the workers ended") {
    std::atomic<int> calls{0};
    rill::run([&] {
        auto throwing = std::views::iota(0, 100) | std::views::transform([](int x) {
            if (x == 40) throw std::length_error("range broke at 40");
            return x;
        });
        CHECK_THROWS_WITH_AS(rill::parallel_map(throwing, [&](int x) { ++calls; rill::yield(); return x; }, 4),
                             "range broke at 40", std::length_error);
    }, test_options());
    CHECK(calls == 40);   // 0..39 were handed out before the range threw; each ran to the end
}
#endif


TEST_CASE("parallel_map: called inside fn of another parallel_map (any coroutine may call it)") {
    std::vector<int> sums = rill::run([] {
        return rill::parallel_map(iota_vector(12), [](int n) {
            std::vector<int> parts = rill::parallel_map(iota_vector(n + 1), [](int k) { return k; }, 3);
            return std::accumulate(parts.begin(), parts.end(), 0);
        }, 4);
    }, test_options());
    for (int n = 0; n < 12; ++n) CHECK(sums[static_cast<std::size_t>(n)] == n * (n + 1) / 2);
}

TEST_CASE("parallel_map: bad arguments") {
    CHECK_THROWS_AS(rill::parallel_map(iota_vector(3), [](int x) { return x; }, 2), std::logic_error);  // plain thread
    rill::run([] {
        CHECK_THROWS_AS(rill::parallel_map(iota_vector(3), [](int x) { return x; }, 0), std::invalid_argument);
    }, test_options());
}

TEST_CASE("parallel_map: the end of the run unwinds a parallel_map still running in another coroutine") {
    const long made_before = counted::made();
    rill::run([] {
        rill::chan<int> started(0), never(0);
        rill::go([=] {
            rill::parallel_map(iota_vector(10), [=](int x) {
                counted alive;        // must be destroyed by the unwinding
                started.send(x);
                never.recv();         // blocks until the run's end unwinds it
                return x;
            }, 3);
        });
        for (int i = 0; i < 3; ++i) started.recv();   // three calls are blocked now; the root returns
    }, test_options());
    CHECK(counted::made() - made_before == 3);
    CHECK(counted::alive() == 0);
}
