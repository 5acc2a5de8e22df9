// tests/test_select.cpp: rill/select.hpp — on_recv, on_send, on_default,
// the random choice among ready cases and its fairness, select_biased,
// closed and nil channels in cases, select(), self-select, duplicate
// channels, lvalue send values, and "a blocked select is woken exactly once".
#include "test_util.hpp"

#include <doctest/doctest.h>

#include <array>
#include <atomic>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

using rill_test::contains;
using rill_test::counted;
using rill_test::deadlock_message;
using rill_test::single_worker;
using rill_test::test_options;

namespace {

/// A closed channel: a receive case on it is always ready.
rill::chan<int> closed_chan() {
    rill::chan<int> c;
    c.close();
    return c;
}

}  // namespace

// ---- single cases ------------------------------------------------------------

TEST_CASE("on_recv: a ready receive case runs its handler with the value and returns its index") {
    rill::chan<int> c(1);
    c.send(5);
    std::optional<int> got;
    std::size_t i = rill::select(rill::on_recv(c, [&](std::optional<int> v) { got = v; }));
    CHECK(i == 0);
    CHECK(got == 5);
    CHECK(c.size() == 0);
}

TEST_CASE("on_recv: the handler may take no argument") {
    rill::chan<int> c(1);
    c.send(5);
    bool ran = false;
    CHECK(rill::select(rill::on_recv(c, [&] { ran = true; })) == 0);
    CHECK(ran);
    CHECK(c.size() == 0);  // the value was taken all the same
}

TEST_CASE("on_send: a ready send case sends and runs its handler") {
    rill::chan<int> c(1);
    bool ran = false;
    CHECK(rill::select(rill::on_send(c, 7, [&] { ran = true; })) == 0);
    CHECK(ran);
    CHECK(c.recv() == 7);
}

TEST_CASE("on_send and on_recv accept the send-only and receive-only views") {
    rill::chan<int> c(1);
    rill::send_chan<int> tx = c;
    rill::recv_chan<int> rx = c;
    CHECK(rill::select(rill::on_send(tx, 3, [] {})) == 0);
    std::optional<int> got;
    CHECK(rill::select(rill::on_recv(rx, [&](std::optional<int> v) { got = v; })) == 0);
    CHECK(got == 3);
}

TEST_CASE("on_send converts the value to T once, when the case is built") {
    rill::chan<std::string> c(1);
    CHECK(rill::select(rill::on_send(c, "literal", [] {})) == 0);
    CHECK(c.recv() == std::string("literal"));
}

// ---- default ------------------------------------------------------------------

TEST_CASE("on_default runs when no case is ready; its index is its argument position") {
    rill::chan<int> a, b(1);
    int default_runs = 0, other_runs = 0;
    auto never = [&](std::optional<int>) { ++other_runs; };
    auto dflt = [&] { ++default_runs; };
    CHECK(rill::select(rill::on_default(dflt), rill::on_recv(a, never), rill::on_recv(b, never)) == 0);
    CHECK(rill::select(rill::on_recv(a, never), rill::on_default(dflt), rill::on_recv(b, never)) == 1);
    CHECK(rill::select(rill::on_recv(a, never), rill::on_recv(b, never), rill::on_default(dflt)) == 2);
    CHECK(rill::select(rill::on_default(dflt)) == 0);
    CHECK(default_runs == 4);
    CHECK(other_runs == 0);
}

TEST_CASE("on_default is not chosen while another case is ready") {
    rill::chan<int> c(100);
    for (int i = 0; i < 100; ++i) c.send(i);
    int defaults = 0;
    for (int i = 0; i < 100; ++i) {
        std::size_t idx = rill::select(rill::on_default([&] { ++defaults; }), rill::on_recv(c, [](std::optional<int>) {}));
        REQUIRE(idx == 1);
    }
    CHECK(defaults == 0);
    CHECK(c.size() == 0);
}

TEST_CASE("on_default with a full send case does not send") {
    rill::chan<int> c(1);
    c.send(1);
    CHECK(rill::select(rill::on_send(c, 2, [] {}), rill::on_default([] {})) == 1);
    CHECK(c.size() == 1);
    CHECK(c.recv() == 1);
}

// ---- choice among ready cases -------------------------------------------------

TEST_CASE("select picks among ready cases at random") {
    rill::chan<int> a = closed_chan(), b = closed_chan();
    std::array<int, 2> chosen{};
    for (int i = 0; i < 1000; ++i)
        ++chosen[rill::select(rill::on_recv(a, [](std::optional<int>) {}), rill::on_recv(b, [](std::optional<int>) {}))];
    CHECK(chosen[0] > 0);
    CHECK(chosen[1] > 0);
}

TEST_CASE("fairness: four always-ready cases over 100,000 selects are each chosen 25% +- 1%") {
    constexpr int rounds = 100000;
    std::array<int, 4> chosen = rill::run([] {
        std::array<rill::chan<int>, 4> c = {closed_chan(), closed_chan(), closed_chan(), closed_chan()};
        std::array<int, 4> n{};
        auto h = [](std::optional<int>) {};
        for (int i = 0; i < rounds; ++i)
            ++n[rill::select(rill::on_recv(c[0], h), rill::on_recv(c[1], h), rill::on_recv(c[2], h), rill::on_recv(c[3], h))];
        return n;
    }, test_options());
    for (int n : chosen) {
        CAPTURE(n);
        CHECK(n >= rounds / 4 - rounds / 100);
        CHECK(n <= rounds / 4 + rounds / 100);
    }
}

TEST_CASE("fairness among the ready cases only: two of five hold values, each taken 50% +- 1%, in FIFO order per channel") {
    // These selects are decided by select's inline first look (select.hpp),
    // which picks among the cases whose channels look ready.
    constexpr int rounds = 100000;
    std::array<rill::chan<int>, 5> c = {rill::chan<int>(1), rill::chan<int>(rounds), rill::chan<int>(1),
                                        rill::chan<int>(rounds), rill::chan<int>(1)};
    for (int i = 0; i < rounds; ++i) {
        c[1].send(i);
        c[3].send(i);
    }
    std::array<int, 5> n{};
    std::array<int, 5> next{};   // the value each channel must give next
    bool in_order = true;
    auto h = [&](int k) {
        return [&, k](std::optional<int> v) {
            in_order = in_order && v && *v == next[k];
            ++next[k];
        };
    };
    for (int i = 0; i < rounds; ++i)
        ++n[rill::select(rill::on_recv(c[0], h(0)), rill::on_recv(c[1], h(1)), rill::on_recv(c[2], h(2)),
                         rill::on_recv(c[3], h(3)), rill::on_recv(c[4], h(4)))];
    CHECK(in_order);
    CHECK(n[0] + n[2] + n[4] == 0);
    CAPTURE(n[1]);
    CHECK(n[1] >= rounds / 2 - rounds / 100);
    CHECK(n[1] <= rounds / 2 + rounds / 100);
    CHECK(n[1] + n[3] == rounds);
    CHECK(c[1].size() + c[3].size() == std::size_t(rounds));
}

TEST_CASE("fairness between a ready receive case and a ready send case") {
    constexpr int rounds = 20000;
    rill::chan<int> in(rounds), out(rounds);
    for (int i = 0; i < rounds; ++i) in.send(i);
    std::array<int, 2> n{};
    for (int i = 0; i < rounds; ++i)
        ++n[rill::select(rill::on_recv(in, [](std::optional<int>) {}), rill::on_send(out, i, [] {}))];
    CHECK(n[0] + n[1] == rounds);
    CHECK(in.size() == std::size_t(rounds - n[0]));
    CHECK(out.size() == std::size_t(n[1]));
    CHECK(n[0] >= rounds / 2 - rounds / 50);
    CHECK(n[1] >= rounds / 2 - rounds / 50);
}

TEST_CASE("fairness also among ready send cases") {
    constexpr int rounds = 20000;
    std::array<rill::chan<int>, 2> c = {rill::chan<int>(rounds), rill::chan<int>(rounds)};
    std::array<int, 2> n{};
    for (int i = 0; i < rounds; ++i) ++n[rill::select(rill::on_send(c[0], i, [] {}), rill::on_send(c[1], i, [] {}))];
    CHECK(n[0] + n[1] == rounds);
    CHECK(c[0].size() == std::size_t(n[0]));
    CHECK(c[1].size() == std::size_t(n[1]));
    CHECK(n[0] >= rounds / 2 - rounds / 50);
    CHECK(n[1] >= rounds / 2 - rounds / 50);
}

TEST_CASE("select_biased prefers the earliest ready case") {
    rill::chan<int> empty(1);
    rill::chan<int> a = closed_chan(), b = closed_chan();
    auto h = [](std::optional<int>) {};
    for (int i = 0; i < 1000; ++i) {
        REQUIRE(rill::select_biased(rill::on_recv(a, h), rill::on_recv(b, h)) == 0);
        REQUIRE(rill::select_biased(rill::on_recv(empty, h), rill::on_recv(b, h), rill::on_recv(a, h)) == 1);
        REQUIRE(rill::select_biased(rill::on_default([] {}), rill::on_recv(a, h)) == 1);
    }
    CHECK(rill::select_biased(rill::on_recv(empty, h), rill::on_default([] {})) == 1);
}

TEST_CASE("select_biased blocks like select and takes the case that becomes ready") {
    std::optional<int> got;
    std::size_t idx = rill::run([&] {
        rill::chan<int> a, b;
        rill::go([b] { b.send(4); });
        return rill::select_biased(rill::on_recv(a, [](std::optional<int>) {}),
                                   rill::on_recv(b, [&](std::optional<int> v) { got = v; }));
    }, test_options());
    CHECK(idx == 1);
    CHECK(got == 4);
}

// ---- blocking ------------------------------------------------------------------

TEST_CASE("a blocked select takes the case whose channel becomes ready") {
    struct seen {
        std::size_t recv_idx = 9, send_idx = 9;
        std::optional<int> got;
        std::optional<int> sent;
    } s;
    rill::run([&] {
        rill::chan<int> a, b, c, d;
        rill::go([b] { b.send(11); });
        s.recv_idx = rill::select(rill::on_recv(a, [](std::optional<int>) {}),
                                  rill::on_recv(b, [&](std::optional<int> v) { s.got = v; }));
        rill::chan<int> result(1);
        rill::go([d, result] { result.send(*d.recv()); });
        s.send_idx = rill::select(rill::on_send(c, 1, [] {}), rill::on_send(d, 2, [] {}));
        s.sent = result.recv();
    }, test_options());
    CHECK(s.recv_idx == 1);
    CHECK(s.got == 11);
    CHECK(s.send_idx == 1);
    CHECK(s.sent == 2);
}

TEST_CASE("a handler may use the channel of its own case (it runs after the locks are released)") {
    std::vector<int> got;
    rill::run([&] {
        rill::chan<int> c(2);
        c.send(1);
        rill::select(rill::on_recv(c, [&](std::optional<int> v) {
            got.push_back(*v);
            c.send(*v + 1);
            got.push_back(*c.recv());
        }));
    }, test_options());
    CHECK(got == std::vector<int>{1, 2});
}

// ---- closed channels ------------------------------------------------------------

TEST_CASE("a receive case on a closed channel is ready and gets nullopt") {
    rill::chan<int> c = closed_chan();
    rill::chan<int> empty;
    bool got_nullopt = false;
    std::size_t idx = rill::select(rill::on_recv(empty, [](std::optional<int>) {}),
                                   rill::on_recv(c, [&](std::optional<int> v) { got_nullopt = !v; }));
    CHECK(idx == 1);
    CHECK(got_nullopt);
}

TEST_CASE("a receive case on a closed channel first drains the buffered values") {
    rill::chan<int> c(2);
    c.send(1);
    c.close();
    std::optional<int> first, second;
    rill::select(rill::on_recv(c, [&](std::optional<int> v) { first = v; }));
    rill::select(rill::on_recv(c, [&](std::optional<int> v) { second = v; }));
    CHECK(first == 1);
    CHECK(second == std::nullopt);
}

TEST_CASE("a blocked select is woken by the close of its receive case's channel") {
    struct seen {
        std::size_t idx = 9;
        bool got_nullopt = false;
    } s;
    rill::run([&] {
        rill::chan<int> a, b;
        rill::go([b] { b.close(); });
        s.idx = rill::select(rill::on_recv(a, [](std::optional<int>) {}),
                             rill::on_recv(b, [&](std::optional<int> v) { s.got_nullopt = !v; }));
    }, test_options());
    CHECK(s.idx == 1);
    CHECK(s.got_nullopt);
}

TEST_CASE("a send case on a closed channel throws channel_closed and runs no handler") {
    rill::chan<int> c = closed_chan();
    rill::chan<int> empty;
    bool ran = false;
    CHECK_THROWS_AS(rill::select(rill::on_send(c, 1, [&] { ran = true; })), rill::channel_closed);
    CHECK_THROWS_AS(rill::select(rill::on_recv(empty, [&] { ran = true; }), rill::on_send(c, 1, [&] { ran = true; })),
                    rill::channel_closed);
    auto p = std::make_unique<int>(1);
    rill::chan<std::unique_ptr<int>> cp;
    cp.close();
    CHECK_THROWS_AS(rill::select(rill::on_send(cp, p, [&] { ran = true; })), rill::channel_closed);
    CHECK(p != nullptr);  // not consumed
    CHECK_FALSE(ran);
}

TEST_CASE("a blocked select whose send case's channel gets closed wakes and throws channel_closed") {
    struct seen {
        bool threw = false;
        bool handler_ran = false;
        bool value_kept = false;
    } s;
    rill::run([&] {
        rill::chan<std::unique_ptr<int>> c;
        rill::chan<int> other;
        rill::go([c] { c.close(); });  // with one worker this runs once the select is blocked
        auto p = std::make_unique<int>(1);
        try {
            rill::select(rill::on_send(c, p, [&] { s.handler_ran = true; }),
                         rill::on_recv(other, [&] { s.handler_ran = true; }));
        } catch (const rill::channel_closed&) {
            s.threw = true;
        }
        s.value_kept = p != nullptr;
    }, test_options());
    CHECK(s.threw);
    CHECK_FALSE(s.handler_ran);
    CHECK(s.value_kept);
}

// ---- nil channels and select() ------------------------------------------------------

TEST_CASE("cases on nil channels are never ready") {
    rill::chan<int> nil{nullptr};
    rill::chan<int> ready = closed_chan();
    int nil_runs = 0;
    for (int i = 0; i < 100; ++i) {
        REQUIRE(rill::select(rill::on_recv(nil, [&] { ++nil_runs; }), rill::on_send(nil, 1, [&] { ++nil_runs; }),
                             rill::on_default([] {})) == 2);
        REQUIRE(rill::select(rill::on_recv(nil, [&] { ++nil_runs; }), rill::on_recv(ready, [](std::optional<int>) {})) == 1);
    }
    CHECK(nil_runs == 0);
}

TEST_CASE("a nil case switches off a case in a select loop") {
    // Go's idiom: once a channel is closed, replace it with nil.
    std::vector<int> from_a, from_b;
    rill::run([&] {
        rill::chan<int> a_src(4), b_src;
        rill::go([a_src] { for (int i = 0; i < 20; ++i) a_src.send(i); a_src.close(); });
        rill::go([b_src] { for (int i = 0; i < 20; ++i) b_src.send(100 + i); b_src.close(); });
        rill::recv_chan<int> a = a_src, b = b_src;
        while (a || b) {
            rill::select(rill::on_recv(a, [&](std::optional<int> v) { if (v) from_a.push_back(*v); else a = nullptr; }),
                         rill::on_recv(b, [&](std::optional<int> v) { if (v) from_b.push_back(*v); else b = nullptr; }));
        }
    }, test_options());
    REQUIRE(from_a.size() == 20);
    REQUIRE(from_b.size() == 20);
    for (int i = 0; i < 20; ++i) {
        CHECK(from_a[i] == i);
        CHECK(from_b[i] == 100 + i);
    }
}

TEST_CASE("select() with no cases blocks forever: a deadlock when nothing else runs") {
    std::string msg = deadlock_message([] { rill::select(); });
    INFO("deadlock_error::what() = " << msg);
    REQUIRE_FALSE(msg.empty());
    CHECK(contains(msg, "select"));
}

TEST_CASE("select() with no cases is unwound at the end of the run") {
    const long made_before = counted::made();
    rill::run([] {
        rill::chan<int> ready;
        rill::go([ready] {
            counted c;
            ready.send(1);
            rill::select();
        });
        ready.recv();
    }, test_options());
    CHECK(counted::made() - made_before == 1);
    CHECK(counted::alive() == 0);
}

TEST_CASE("a select with only nil cases and no default blocks forever") {
    std::string msg = deadlock_message([] {
        rill::chan<int> nil{nullptr};
        rill::select(rill::on_recv(nil, [] {}), rill::on_send(nil, 1, [] {}));
    });
    CHECK_FALSE(msg.empty());
}

// ---- the same channel more than once ---------------------------------------------------

TEST_CASE("self-select: two selects that each send and receive on one unbuffered channel pair up") {
    struct outcome {
        std::size_t idx = 9;
        std::optional<int> got;
    };
    std::array<outcome, 2> o;
    rill::run([&] {
        rill::chan<int> c;
        rill::wait_group wg;
        for (int k = 0; k < 2; ++k) {
            wg.add(1);
            rill::go([&, c, k] {
                o[k].idx = rill::select(rill::on_send(c, 10 + k, [] {}),
                                        rill::on_recv(c, [&, k](std::optional<int> v) { o[k].got = v; }));
                wg.done();
            });
        }
        wg.wait();
    }, test_options());
    // One sent (case 0), the other received its value (case 1).
    REQUIRE(o[0].idx + o[1].idx == 1);
    const outcome& sender = o[0].idx == 0 ? o[0] : o[1];
    const outcome& receiver = o[0].idx == 1 ? o[0] : o[1];
    const int sender_k = o[0].idx == 0 ? 0 : 1;
    CHECK_FALSE(sender.got.has_value());
    CHECK(receiver.got == 10 + sender_k);
}

TEST_CASE("self-select alone cannot pair with itself: a deadlock") {
    std::string msg = deadlock_message([] {
        rill::chan<int> c;
        rill::select(rill::on_send(c, 1, [] {}), rill::on_recv(c, [] {}));
    });
    CHECK_FALSE(msg.empty());
}

TEST_CASE("duplicate channels in one select: exactly one case fires per value") {
    struct seen {
        int fired = 0;
        std::vector<int> got;
        std::size_t left = 9;
    } s;
    rill::run([&] {
        rill::chan<int> c(1);
        c.send(1);  // ready at once
        auto take = [&](std::optional<int> v) { ++s.fired; s.got.push_back(*v); };
        rill::select(rill::on_recv(c, take), rill::on_recv(c, take));
        rill::chan<int> u;  // blocked, then one value
        rill::go([u] { u.send(2); });
        rill::select(rill::on_recv(u, take), rill::on_recv(u, take), rill::on_recv(u, take));
        rill::chan<int> d(1);  // duplicate send cases: one value goes in
        rill::select(rill::on_send(d, 3, [&] { ++s.fired; }), rill::on_send(d, 4, [&] { ++s.fired; }));
        s.left = d.size();
    }, test_options());
    CHECK(s.fired == 3);
    CHECK(s.got == std::vector<int>{1, 2});
    CHECK(s.left == 1);
}

// ---- lvalues ---------------------------------------------------------------------------

TEST_CASE("on_send with an lvalue moves it only if that case is chosen") {
    using ptr = std::unique_ptr<int>;
    rill::chan<ptr> full(1);
    full.send(std::make_unique<int>(0));
    rill::chan<ptr> room(1);
    rill::chan<int> ready(1);
    ready.send(1);

    auto p = std::make_unique<int>(5);
    CHECK(rill::select(rill::on_send(full, p, [] {}), rill::on_recv(ready, [](std::optional<int>) {})) == 1);
    REQUIRE(p != nullptr);  // another case won: p stays
    CHECK(*p == 5);

    CHECK(rill::select(rill::on_send(full, p, [] {}), rill::on_default([] {})) == 1);
    CHECK(p != nullptr);

    CHECK(rill::select(rill::on_send(room, p, [] {}), rill::on_send(full, p, [] {})) == 0);
    CHECK(p == nullptr);  // chosen: moved into the channel
    auto got = room.recv();
    REQUIRE(got.has_value());
    REQUIRE(*got != nullptr);
    CHECK(**got == 5);
}

TEST_CASE("on_send with an lvalue: a blocked select won by another case leaves it") {
    bool kept = false;
    rill::run([&] {
        rill::chan<std::unique_ptr<int>> nobody_receives;
        rill::chan<int> wake;
        rill::go([wake] { wake.send(1); });
        auto p = std::make_unique<int>(9);
        rill::select(rill::on_send(nobody_receives, p, [] {}), rill::on_recv(wake, [](std::optional<int>) {}));
        kept = p != nullptr && *p == 9;
    }, test_options());
    CHECK(kept);
}

TEST_CASE("a case built from a temporary channel owns it: stored in a variable, it still works") {
    int got = 0;
    auto make = [] {
        rill::chan<int> c(1);
        c.send(7);
        return c;   // the only handle: the case below keeps the channel alive (ASan would see a dangling one)
    };
    auto from_temporary = rill::on_recv(make(), [&](std::optional<int> v) { got = v.value_or(-1); });
    CHECK(rill::select(from_temporary) == 0);
    CHECK(got == 7);
    rill::chan<int> empty(1);
    CHECK(rill::select(rill::on_recv(empty, [](std::optional<int>) {}), from_temporary, rill::on_default([] {})) == 2);
}

TEST_CASE("on_send with an rvalue: the case owns it, and destroys it when not chosen") {
    const long before = counted::alive();
    rill::chan<std::unique_ptr<counted>> full(1);
    full.send(std::make_unique<counted>());
    CHECK(rill::select(rill::on_send(full, std::make_unique<counted>(), [] {}), rill::on_default([] {})) == 1);
    CHECK(counted::alive() == before + 1);  // only the one in the channel
    full.recv();
    CHECK(counted::alive() == before);
}

// ---- exactly once -----------------------------------------------------------------------

TEST_CASE("each blocked select is woken exactly once: many receiving selects on shared channels") {
    constexpr int selectors = 8, per_channel = 500;
    std::vector<std::vector<int>> got(selectors);
    rill::run([&] {
        rill::chan<int> a, b(2);
        rill::wait_group receiving;
        for (int k = 0; k < selectors; ++k) {
            receiving.add(1);
            rill::go([&, a, b, k] {
                rill::recv_chan<int> ra = a, rb = b;
                while (ra || rb) {
                    rill::select(rill::on_recv(ra, [&](std::optional<int> v) { if (v) got[k].push_back(*v); else ra = nullptr; }),
                                 rill::on_recv(rb, [&](std::optional<int> v) { if (v) got[k].push_back(*v); else rb = nullptr; }));
                }
                receiving.done();
            });
        }
        rill::wait_group sending;
        sending.add(2);
        rill::go([&, a] { for (int i = 0; i < per_channel; ++i) a.send(i); sending.done(); });
        rill::go([&, b] { for (int i = 0; i < per_channel; ++i) b.send(per_channel + i); sending.done(); });
        sending.wait();
        a.close();
        b.close();
        receiving.wait();
    }, test_options());
    std::vector<int> count(2 * per_channel, 0);
    for (auto& g : got)
        for (int v : g) ++count[v];
    for (int i = 0; i < 2 * per_channel; ++i) {
        CAPTURE(i);
        REQUIRE(count[i] == 1);
    }
}

TEST_CASE("each blocked select is woken exactly once: a select with two send cases sends one value, never both") {
    constexpr int selectors = 6, per_selector = 300;
    std::vector<int> got;
    rill::run([&] {
        rill::chan<int> a, b;
        rill::wait_group sending;
        for (int k = 0; k < selectors; ++k) {
            sending.add(1);
            rill::go([&, a, b, k] {
                for (int i = 0; i < per_selector; ++i) {
                    int v = 2 * (k * per_selector + i);  // a gets v, b gets v + 1
                    rill::select(rill::on_send(a, v, [] {}), rill::on_send(b, v + 1, [] {}));
                }
                sending.done();
            });
        }
        rill::chan<int> merged(16);
        rill::wait_group receiving;
        for (rill::chan<int> src : {a, b}) {
            for (int r = 0; r < 2; ++r) {
                receiving.add(1);
                rill::go([&, src, merged] {
                    for (int v : src) merged.send(v);
                    receiving.done();
                });
            }
        }
        rill::go([&, a, b, merged] {
            sending.wait();
            a.close();
            b.close();
            receiving.wait();
            merged.close();
        });
        for (int v : merged) got.push_back(v);
    }, test_options());
    REQUIRE(got.size() == std::size_t(selectors) * per_selector);
    std::vector<int> per_send(selectors * per_selector, 0);
    for (int v : got) ++per_send[v / 2];
    for (int n : per_send) REQUIRE(n == 1);
}

// ---- plain threads ------------------------------------------------------------------------

TEST_CASE("select on a plain thread blocks the thread until a coroutine makes a case ready") {
    std::size_t idx = 9;
    std::optional<int> got;
    {
        rill::runtime rt(rill_test::plain_thread_options());
        rill::chan<int> a, b;
        rt.spawn([b] { b.send(21); });
        idx = rill::select(rill::on_recv(a, [](std::optional<int>) {}),
                           rill::on_recv(b, [&](std::optional<int> v) { got = v; }));
        rt.wait();
    }
    CHECK(idx == 1);
    CHECK(got == 21);
}

TEST_CASE("selects on two plain threads pair up without any runtime") {
    rill::chan<int> c;
    std::optional<int> got;
    std::thread receiver([&] { rill::select(rill::on_recv(c, [&](std::optional<int> v) { got = v; })); });
    std::size_t idx = rill::select(rill::on_send(c, 77, [] {}));
    receiver.join();
    CHECK(idx == 0);
    CHECK(got == 77);
}

TEST_CASE("an exception thrown by a handler leaves select; the case's operation was done") {
    rill::chan<int> c(1);
    c.send(1);
    CHECK_THROWS_WITH_AS(rill::select(rill::on_recv(c, [](std::optional<int>) { throw std::runtime_error("from handler"); })),
                         "from handler", std::runtime_error);
    CHECK(c.size() == 0);  // the value was received before the handler ran
    CHECK(rill::select(rill::on_send(c, 2, [] {}), rill::on_default([] {})) == 0);  // the channel still works
    CHECK(c.recv() == 2);
}

// The value a select receives lands in one storage of the select's, sized
// for the largest of its receive cases' types, whichever case takes it.
TEST_CASE("one select receives strings, move-only and counted values of different types, each destroyed once, on both paths") {
    const long alive_before = counted::alive();
    rill::run([] {
        rill::chan<std::string> strings(4);
        rill::chan<std::unique_ptr<int>> boxes(4);
        rill::chan<std::array<counted, 3>> triples(4);
        const std::string long_text(100, 'x');   // not in the string's small buffer
        std::vector<std::string> got_strings;
        std::vector<int> got_boxes;
        int got_triples = 0;
        auto one_select = [&] {
            return rill::select(rill::on_recv(strings, [&](std::optional<std::string> s) {
                                    CHECK(s.has_value());
                                    if (s) got_strings.push_back(*s);
                                }),
                                rill::on_recv(boxes, [&](std::optional<std::unique_ptr<int>> b) {
                                    CHECK((b && *b));
                                    if (b && *b) got_boxes.push_back(**b);
                                }),
                                rill::on_recv(triples, [&](std::optional<std::array<counted, 3>> t) {
                                    CHECK(t.has_value());
                                    ++got_triples;
                                }));
        };
        // Ready before the select: the first look takes them.
        strings.send(long_text + "1");
        boxes.send(std::make_unique<int>(7));
        triples.send(std::array<counted, 3>{});
        for (int i = 0; i < 3; ++i) one_select();
        CHECK(counted::alive() == 0);
        // Sent while the select waits: the parked path takes them.
        for (int round = 0; round < 3; ++round) {
            rill::go([&, round] {
                if (round == 0) strings.send(long_text + "2");
                else if (round == 1) boxes.send(std::make_unique<int>(8));
                else triples.send(std::array<counted, 3>{});
            });
            one_select();
        }
        CHECK(got_strings == std::vector<std::string>{long_text + "1", long_text + "2"});
        CHECK(got_boxes == std::vector<int>{7, 8});
        CHECK(got_triples == 2);
    }, single_worker());
    CHECK(counted::alive() == alive_before);
}

namespace {
/// Counted; its move constructor throws once `moves_left` (when not -1)
/// reaches 0. The channel's own moves treat it as noexcept (it would
/// terminate), so the test lets the ring-to-select move through and fails
/// the next one, out of the select's storage into the handler's optional.
struct fragile_move {
    counted c;
    int v = 0;
    inline static int moves_left = -1;
    explicit fragile_move(int x) : v(x) {}
    fragile_move(fragile_move&& o) noexcept(false) : v(o.v) {
        if (moves_left == 0) throw std::runtime_error("move failed");
        if (moves_left > 0) --moves_left;
    }
};
}  // namespace

TEST_CASE("a value whose move out of the select's storage throws is still destroyed, and the exception leaves select") {
    const long alive_before = counted::alive();
    {
        rill::chan<fragile_move> c(1);
        c.send(fragile_move(5));
        fragile_move::moves_left = 1;
        bool ran = false;
        CHECK_THROWS_WITH_AS(rill::select(rill::on_recv(c, [&](std::optional<fragile_move>) { ran = true; })), "move failed",
                             std::runtime_error);
        fragile_move::moves_left = -1;
        CHECK_FALSE(ran);
        CHECK(c.size() == 0);   // it was received: the channel kept nothing
        CHECK(counted::alive() == alive_before);
    }
    CHECK(counted::alive() == alive_before);
}
