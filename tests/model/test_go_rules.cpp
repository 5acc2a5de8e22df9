// tests/model/test_go_rules.cpp: the rules that Go's own channel tests
// check, ported to rill. Each test case names its source in golang/go
// (test/chan/*.go, test/closedchan.go, runtime/chan_test.go) and the rule.
//
// Where Go panics, rill throws channel_closed; where Go reports "all
// goroutines are asleep", rill throws deadlock_error (which is how these
// tests prove that something blocks forever).
#include "test_util.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <numeric>
#include <optional>
#include <set>
#include <vector>

using rill_test::deadlock_message;
using rill_test::single_worker;
using rill_test::test_options;

namespace {

/// True when fn, run as the root coroutine, blocks forever (deadlock_error).
template <class F>
bool blocks_forever(F fn) {
    return !deadlock_message([&] { fn(); }).empty();
}

/// The channels of the closed-channel matrix: unbuffered and buffered.
std::vector<int> capacities() { return {0, 1, 4}; }

}  // namespace

// ---- test/closedchan.go: the closed-channel matrix --------------------------

TEST_CASE("go closedchan.go: recv on a closed empty channel returns at once with nullopt (zero, !ok), every time") {
    for (int cap : capacities()) {
        CAPTURE(cap);
        int nullopts = rill::run([cap] {
            rill::chan<int> c(cap);
            c.close();
            int n = 0;
            for (int i = 0; i < 3; ++i) n += c.recv() ? 0 : 1;
            return n;
        }, test_options());
        CHECK(nullopts == 3);
    }
}

TEST_CASE("go closedchan.go: a closed buffered channel delivers its values first, then nullopt") {
    std::vector<int> got;
    bool then_closed = rill::run([&] {
        rill::chan<int> c(3);
        c.send(1), c.send(2), c.send(3);
        c.close();
        for (int i = 0; i < 3; ++i) got.push_back(*c.recv());
        return !c.recv().has_value();
    }, test_options());
    CHECK(got == std::vector<int>{1, 2, 3});
    CHECK(then_closed);
}

TEST_CASE("go closedchan.go: send on a closed channel panics (channel_closed), also try_send and a select send case") {
    for (int cap : capacities()) {
        CAPTURE(cap);
        int thrown = rill::run([cap] {
            rill::chan<int> c(cap);
            c.close();
            int n = 0;
            try { c.send(1); } catch (const rill::channel_closed&) { ++n; }
            try { c.try_send(1); } catch (const rill::channel_closed&) { ++n; }
            try {
                rill::select(rill::on_send(c, 1, [] {}), rill::on_default([] {}));
            } catch (const rill::channel_closed&) {
                ++n;
            }
            return n;
        }, test_options());
        CHECK(thrown == 3);
    }
}

TEST_CASE("go closedchan.go: close of a closed channel panics; close of a nil channel panics") {
    rill::run([] {
        rill::chan<int> c;
        c.close();
        CHECK_THROWS_AS(c.close(), rill::channel_closed);
        rill::chan<int> nil{nullptr};
        CHECK_THROWS_AS(nil.close(), rill::channel_closed);
    }, test_options());
}

TEST_CASE("go closedchan.go: a non-blocking recv (select with default, try_recv) on a closed channel is ready, not default") {
    for (int cap : capacities()) {
        CAPTURE(cap);
        rill::run([cap] {
            rill::chan<int> c(cap);
            c.close();
            std::size_t i = rill::select(rill::on_recv(c, [](std::optional<int> v) { CHECK_FALSE(v); }), rill::on_default([] {}));
            CHECK(i == 0);
            rill::try_result<int> r = c.try_recv();
            CHECK_FALSE(r);
            CHECK(r.closed());
        }, test_options());
    }
}

TEST_CASE("go closedchan.go: range over a closed channel yields the buffered values and ends") {
    std::vector<int> seen;
    rill::run([&] {
        rill::chan<int> c(4);
        for (int i = 0; i < 4; ++i) c.send(i);
        c.close();
        for (int v : c) seen.push_back(v);
        for (int v : c) seen.push_back(100 + v);   // a second range ends at once
    }, test_options());
    CHECK(seen == std::vector<int>{0, 1, 2, 3});
}

TEST_CASE("go chan_test.go TestChan: close unblocks every blocked receiver (nullopt) and every blocked sender (panic)") {
    for (int cap : capacities()) {
        CAPTURE(cap);
        std::atomic<int> receivers_woken{0}, senders_threw{0};
        rill::run([&, cap] {
            rill::chan<int> r(cap), s(cap);
            for (int i = 0; i < cap; ++i) s.send(i);   // s is full: its senders block
            rill::wait_group wg;
            for (int i = 0; i < 5; ++i) {
                wg.add(2);
                rill::go([&, r] { if (!r.recv()) ++receivers_woken; wg.done(); });
                rill::go([&, s] {
                    try { s.send(99); } catch (const rill::channel_closed&) { ++senders_threw; }
                    wg.done();
                });
            }
            for (int i = 0; i < 20; ++i) rill::yield();   // let them block (a hint; the close is correct either way)
            r.close();
            s.close();
            wg.wait();
        }, test_options());
        CHECK(receivers_woken == 5);
        CHECK(senders_threw == 5);
    }
}

TEST_CASE("go chan_test.go TestChan: recv from an empty channel and send to a full one block") {
    CHECK(blocks_forever([] { rill::chan<int> c; c.recv(); }));
    CHECK(blocks_forever([] { rill::chan<int> c(2); c.recv(); }));
    CHECK(blocks_forever([] { rill::chan<int> c; c.send(1); }));
    CHECK(blocks_forever([] { rill::chan<int> c(2); c.send(1); c.send(2); c.send(3); }));
}

TEST_CASE("go chan_test.go TestChan: 100 values come out uncorrupted in FIFO order, for every capacity") {
    for (int cap : {0, 1, 2, 10, 100}) {
        CAPTURE(cap);
        std::vector<int> got;
        rill::run([&, cap] {
            rill::chan<int> c(cap);
            rill::go([c] { for (int i = 0; i < 100; ++i) c.send(i); });
            for (int i = 0; i < 100; ++i) got.push_back(*c.recv());
        }, test_options());
        std::vector<int> want(100);
        std::iota(want.begin(), want.end(), 0);
        CHECK(got == want);
    }
}

TEST_CASE("go chan_test.go TestChan: 4 senders x 1000 values, 4 receivers: everything arrives exactly once") {
    for (int cap : {0, 1, 10}) {
        CAPTURE(cap);
        std::vector<int> seen(4000, 0);
        rill::run([&, cap] {
            rill::chan<int> c(cap);
            rill::chan<std::vector<int>> results(4);
            for (int p = 0; p < 4; ++p)
                rill::go([c, p] { for (int i = 0; i < 1000; ++i) c.send(p * 1000 + i); });
            for (int r = 0; r < 4; ++r)
                rill::go([c, results] {
                    std::vector<int> mine;
                    for (int i = 0; i < 1000; ++i) mine.push_back(*c.recv());
                    results.send(std::move(mine));
                });
            for (int r = 0; r < 4; ++r) {
                std::vector<int> part = *results.recv();
                for (int v : part) ++seen[std::size_t(v)];
            }
        }, test_options());
        CHECK(std::all_of(seen.begin(), seen.end(), [](int n) { return n == 1; }));
    }
}

TEST_CASE("go chan_test.go TestChan: len and cap (size, capacity)") {
    rill::run([] {
        rill::chan<int> c(10);
        CHECK(c.capacity() == 10);
        CHECK(c.size() == 0);
        for (int i = 0; i < 4; ++i) c.send(i);
        CHECK(c.size() == 4);
        rill::chan<int> u;
        CHECK(u.capacity() == 0);
        rill::chan<int> nil{nullptr};
        CHECK(nil.capacity() == 0);
        CHECK(nil.size() == 0);
    }, test_options());
}

// ---- test/chan/nonblock.go --------------------------------------------------

TEST_CASE("go nonblock.go: non-blocking operations without a partner fail at once and leave the value") {
    rill::run([] {
        rill::chan<int> u;
        int v = 7;
        CHECK_FALSE(u.try_send(v));
        CHECK(v == 7);
        CHECK_FALSE(u.try_recv());
        CHECK_FALSE(u.try_recv().closed());
        CHECK(rill::select(rill::on_recv(u, [] {}), rill::on_default([] {})) == 1);
        CHECK(rill::select(rill::on_send(u, v, [] {}), rill::on_default([] {})) == 1);
    }, test_options());
}

TEST_CASE("go nonblock.go: a non-blocking op meets a blocked partner (unbuffered), eventually") {
    // Go's nonblock.go spins with Gosched until the partner is there. No
    // bound on the tries: on a loaded machine the partner's worker thread
    // may be descheduled for a long while; if it never parks, the test
    // times out.
    int got = rill::run([] {
        rill::chan<int> c;
        rill::chan<int> done(1);
        rill::go([c] { c.send(42); });
        int v = -1;
        while (v < 0) {
            if (auto r = c.try_recv()) v = *r;
            else rill::yield();
        }
        rill::go([c, done] { done.send(*c.recv()); });
        int x = 43;
        bool sent = false;
        while (!sent) {
            sent = rill::select(rill::on_send(c, x, [] {}), rill::on_default([] {})) == 0;
            if (!sent) rill::yield();
        }
        CHECK(sent);
        CHECK(*done.recv() == 43);
        return v;
    }, test_options());
    CHECK(got == 42);
}

TEST_CASE("go nonblock.go: buffered: try_send succeeds until full, try_recv until empty, in order") {
    rill::run([] {
        rill::chan<int> c(3);
        for (int i = 0; i < 3; ++i) CHECK(c.try_send(i));
        int extra = 9;
        CHECK_FALSE(c.try_send(extra));
        CHECK(extra == 9);
        for (int i = 0; i < 3; ++i) {
            auto r = c.try_recv();
            REQUIRE(r);
            CHECK(*r == i);
        }
        CHECK_FALSE(c.try_recv());
    }, test_options());
}

TEST_CASE("go chan_test.go TestNonblockRecvRace: a non-blocking recv on a closed buffered channel never takes default") {
    int defaults = 0;
    for (int round = 0; round < 200; ++round) {
        defaults += rill::run([] {
            rill::chan<int> c(1);
            c.send(1);
            rill::chan<int> result(1);
            rill::go([c, result] { result.send(rill::select(rill::on_recv(c, [] {}), rill::on_default([] {})) == 1 ? 1 : 0); });
            c.close();
            c.recv();   // may take the value; the select then sees closed, still ready
            return *result.recv();
        }, test_options());
    }
    CHECK(defaults == 0);
}

// ---- test/chan/select3.go: what blocks and what does not ---------------------

TEST_CASE("go select3.go: nil channels block forever: send, recv, and a select of nil cases") {
    CHECK(blocks_forever([] { rill::chan<int>{nullptr}.recv(); }));
    CHECK(blocks_forever([] { rill::chan<int>{nullptr}.send(1); }));
    CHECK(blocks_forever([] {
        rill::chan<int> nil{nullptr};
        rill::select(rill::on_recv(nil, [] {}), rill::on_send(nil, 1, [] {}));
    }));
    CHECK(blocks_forever([] { rill::select(); }));   // select {}
}

TEST_CASE("go select3.go: these never block: nil cases with a default, a closed channel, room in a buffer") {
    rill::run([] {
        rill::chan<int> nil{nullptr};
        CHECK(rill::select(rill::on_recv(nil, [] {}), rill::on_send(nil, 1, [] {}), rill::on_default([] {})) == 2);
        rill::chan<int> closed(0);
        closed.close();
        CHECK(rill::select(rill::on_recv(nil, [] {}), rill::on_recv(closed, [] {})) == 1);
        rill::chan<int> room(1);
        CHECK(rill::select(rill::on_send(room, 1, [] {}), rill::on_recv(nil, [] {})) == 0);
        CHECK(!nil.try_recv());
        CHECK(!nil.try_send(1));
    }, test_options());
}

TEST_CASE("go select3.go: a select of a nil case and a ready case takes the ready one, every time") {
    rill::run([] {
        rill::chan<int> nil{nullptr};
        rill::chan<int> c(100);
        for (int i = 0; i < 100; ++i) c.send(i);
        int ready = 0;
        for (int i = 0; i < 100; ++i) ready += rill::select(rill::on_recv(nil, [] {}), rill::on_recv(c, [] {})) == 1;
        CHECK(ready == 100);
    }, test_options());
}

TEST_CASE("go select3.go: a select blocks until its one live case becomes ready (switching a case off with nil)") {
    std::vector<int> got;
    rill::run([&] {
        rill::chan<int> a, b;
        rill::go([a] { for (int i = 0; i < 3; ++i) a.send(i); a.close(); });
        rill::go([b] { for (int i = 10; i < 13; ++i) b.send(i); b.close(); });
        rill::recv_chan<int> ra = a, rb = b;
        while (ra || rb) {
            rill::select(rill::on_recv(ra, [&](std::optional<int> v) { if (v) got.push_back(*v); else ra = nullptr; }),
                         rill::on_recv(rb, [&](std::optional<int> v) { if (v) got.push_back(*v); else rb = nullptr; }));
        }
    }, test_options());
    std::sort(got.begin(), got.end());
    CHECK(got == std::vector<int>{0, 1, 2, 10, 11, 12});
}

// ---- runtime/chan_test.go TestSelfSelect --------------------------------------

TEST_CASE("go chan_test.go TestSelfSelect: a select never pairs its own send case with its own recv case") {
    // Two coroutines each select on send and recv of the same channel; a
    // value a coroutine receives always comes from the other one.
    for (int cap : {0, 1, 2}) {
        CAPTURE(cap);
        std::atomic<int> self_received{0}, exchanges{0};
        rill::run([&, cap] {
            rill::chan<int> c(cap);
            rill::wait_group wg;
            for (int p = 0; p < 2; ++p) {
                wg.add(1);
                rill::go([&, c, p] {
                    for (int i = 0; i < 1000; ++i) {
                        if (p == 0 && i % 2 == 0) {
                            rill::select(rill::on_send(c, p, [] {}),
                                         rill::on_recv(c, [&](std::optional<int> v) { if (*v == p && cap == 0) ++self_received; ++exchanges; }));
                        } else {
                            rill::select(rill::on_recv(c, [&](std::optional<int> v) { if (*v == p && cap == 0) ++self_received; ++exchanges; }),
                                         rill::on_send(c, p, [] {}));
                        }
                    }
                    wg.done();
                });
            }
            wg.wait();
        }, test_options());
        CHECK(self_received == 0);
    }
}

// ---- runtime/chan_test.go TestSelectFairness, TestPseudoRandomSend ----------

TEST_CASE("go chan_test.go TestSelectFairness: among ready cases select picks uniformly at random") {
    constexpr int trials = 10000;
    std::vector<int> counts(2, 0);
    rill::run([&] {
        rill::chan<int> c1(trials + 1), c2(trials + 1);
        for (int i = 0; i < trials; ++i) c1.send(1), c2.send(2);
        rill::chan<int> nil{nullptr};
        for (int i = 0; i < trials; ++i)
            rill::select(rill::on_recv(c1, [&] { ++counts[0]; }), rill::on_recv(c2, [&] { ++counts[1]; }),
                         rill::on_recv(nil, [] {}), rill::on_send(nil, 0, [] {}));
    }, test_options());
    // Go's bound: each within trials/2 +- 2.5 sigma... here a generous 45%..55%.
    CAPTURE(counts[0]);
    CHECK(counts[0] > trials * 45 / 100);
    CHECK(counts[1] > trials * 45 / 100);
}

TEST_CASE("go chan_test.go TestPseudoRandomSend: a select of two sends to one channel sends both values, at random") {
    constexpr int n = 1000;
    std::vector<int> counts(2, 0);
    rill::run([&] {
        rill::chan<int> c;
        rill::go([&, c] { for (int i = 0; i < n; ++i) ++counts[std::size_t(*c.recv())]; });
        for (int i = 0; i < n; ++i) rill::select(rill::on_send(c, 0, [] {}), rill::on_send(c, 1, [] {}));
    }, single_worker());
    CHECK(counts[0] + counts[1] == n);
    CHECK(counts[0] > n / 10);
    CHECK(counts[1] > n / 10);
}

TEST_CASE("select_biased (rill only, Go has none): always the earliest ready case") {
    rill::run([] {
        rill::chan<int> a(100), b(100);
        for (int i = 0; i < 100; ++i) a.send(i), b.send(i);
        int first = 0;
        for (int i = 0; i < 100; ++i) first += rill::select_biased(rill::on_recv(a, [] {}), rill::on_recv(b, [] {})) == 0;
        CHECK(first == 100);
    }, test_options());
}

// ---- test/chan/doubleselect.go, runtime/chan_test.go TestSelectDuplicateChannel

TEST_CASE("go doubleselect.go: senders selecting on the same channel several times; no value is delivered twice") {
    // doubleselect.go: a sender selects over c1..c4 where some are the same
    // channel; receivers read them all; each value must come out once.
    constexpr int n = 5000;
    std::vector<int> seen(n, 0);
    rill::run([&] {
        rill::chan<int> c1, c2, c3;
        rill::go([=] {
            for (int i = 0; i < n; ++i)
                rill::select(rill::on_send(c1, i, [] {}), rill::on_send(c2, i, [] {}), rill::on_send(c3, i, [] {}),
                             rill::on_send(c1, i, [] {}));
            c1.close(), c2.close(), c3.close();
        });
        rill::chan<int> done(3);
        for (auto c : {c1, c2, c3})
            rill::go([&, c, done] {
                for (int v : c) ++seen[std::size_t(v)];
                done.send(0);
            });
        for (int i = 0; i < 3; ++i) done.recv();
    }, test_options());
    CHECK(std::all_of(seen.begin(), seen.end(), [](int k) { return k == 1; }));
}

TEST_CASE("go chan_test.go TestSelectDuplicateChannel: two recv cases on one channel take one value, once") {
    rill::run([] {
        rill::chan<int> c(2), d;
        c.send(1), c.send(2);
        int got = 0, fired = 0;
        rill::select(rill::on_recv(c, [&](std::optional<int> v) { got = *v, ++fired; }),
                     rill::on_recv(c, [&](std::optional<int> v) { got = *v, ++fired; }), rill::on_recv(d, [] {}));
        CHECK(fired == 1);
        CHECK(got == 1);
        CHECK(c.size() == 1);
    }, test_options());
    // Blocked on duplicates, woken once by one send.
    std::atomic<int> fired{0};
    rill::run([&] {
        rill::chan<int> c;
        rill::chan<int> done(1);
        rill::go([&, c, done] {
            rill::select(rill::on_recv(c, [&] { ++fired; }), rill::on_recv(c, [&] { ++fired; }));
            done.send(0);
        });
        rill::yield();
        c.send(5);
        done.recv();
        int extra = 6;
        CHECK_FALSE(c.try_send(extra));   // nobody else is waiting: the other node is gone
    }, test_options());
    CHECK(fired == 1);
}

// ---- test/chan/fifo.go --------------------------------------------------------

TEST_CASE("go fifo.go AsynchFifo: a buffered channel is FIFO") {
    constexpr int n = 10;
    std::vector<int> got;
    rill::run([&] {
        rill::chan<int> c(n);
        for (int i = 0; i < n; ++i) c.send(i);
        for (int i = 0; i < n; ++i) got.push_back(*c.recv());
    }, test_options());
    CHECK(got == std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
}

TEST_CASE("go fifo.go SynchFifo: blocked senders are served in the order they blocked") {
    // Each sender i waits for its turn (chained through `in`), then blocks
    // sending i on the unbuffered channel; the receiver sees 0, 1, 2, ...
    constexpr int n = 10;
    std::vector<int> got;
    rill::run([&] {
        rill::chan<int> ch;
        rill::chan<int> in(0);
        rill::chan<int> start = in;
        for (int i = 0; i < n; ++i) {
            rill::chan<int> out(0);
            rill::go([=] {
                in.recv();
                // Signal the next one only after this send is queued: with
                // one worker, the next sender runs after we block.
                rill::go([out] { out.send(0); });
                ch.send(i);
            });
            in = out;
        }
        start.send(0);
        in.recv();   // the last one started: every sender is queued, in order
        for (int i = 0; i < n; ++i) got.push_back(*ch.recv());
    }, single_worker());
    CHECK(got == std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
}

// ---- test/chan/goroutines.go, test/chan/sieve1.go ----------------------------

TEST_CASE("go goroutines.go: a chain of 10,000 coroutines passes a value along and is torn down cleanly") {
    int n = rill_test::under_thread_sanitizer ? 2000 : 10000;   // not const: the lambdas capture it
    int out = rill::run([n] {
        rill::chan<int> left;
        rill::chan<int> first = left;
        for (int i = 0; i < n; ++i) {
            rill::chan<int> right;
            rill::go([left, right] { right.send(*left.recv() + 1); });
            left = right;
        }
        first.send(0);
        return *left.recv();
    }, test_options());
    CHECK(out == n);

    // The same chain left blocked when the root returns: every link is
    // unwound and freed (test_main checks that nothing is left alive).
    rill::run([n] {
        rill::chan<int> left;
        for (int i = 0; i < n; ++i) {
            rill::chan<int> right;
            rill::go([left, right] { right.send(*left.recv() + 1); });
            left = right;
        }
        rill::yield();
    }, test_options());
    CHECK(rill::live().coroutines == 0);
}

TEST_CASE("go sieve1.go: the concurrent prime sieve finds the first 100 primes") {
    std::vector<int> primes;
    rill::run([&] {
        rill::chan<int> ch;
        rill::go([ch] { for (int i = 2;; ++i) ch.send(i); });
        for (int i = 0; i < 100; ++i) {
            int prime = *ch.recv();
            primes.push_back(prime);
            rill::chan<int> next;
            rill::go([ch, next, prime] {
                for (;;) {
                    int v = *ch.recv();
                    if (v % prime != 0) next.send(v);
                }
            });
            ch = next;
        }
    }, test_options());   // the root returns: the generator and the filters are unwound
    REQUIRE(primes.size() == 100);
    CHECK(primes[0] == 2);
    CHECK(primes[24] == 97);
    CHECK(primes[99] == 541);
}

// ---- runtime/chan_test.go TestMultiConsumer ----------------------------------

TEST_CASE("go chan_test.go TestMultiConsumer: producers and consumers through a pipe; the sum and count match") {
    constexpr int producers = 4, per = 2500, consumers = 5;
    long long sum = 0, count = 0;
    rill::run([&] {
        rill::chan<int> q(62);
        rill::chan<std::pair<long long, long long>> r(consumers);
        rill::wait_group wg;
        for (int p = 0; p < producers; ++p) {
            wg.add(1);
            rill::go([&, q, p] {
                for (int i = 0; i < per; ++i) q.send(p * per + i + 1);
                wg.done();
            });
        }
        for (int k = 0; k < consumers; ++k)
            rill::go([q, r] {
                long long s = 0, n = 0;
                for (int v : q) s += v, ++n;
                r.send({s, n});
            });
        wg.wait();
        q.close();
        for (int k = 0; k < consumers; ++k) {
            auto [s, n] = *r.recv();
            sum += s, count += n;
        }
    }, test_options());
    long long total = producers * per;
    CHECK(count == total);
    CHECK(sum == total * (total + 1) / 2);
}
