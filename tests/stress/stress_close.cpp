// tests/stress/stress_close.cpp: close while many senders and receivers are
// blocked or busy. Senders blocked at the close throw channel_closed,
// receivers get std::nullopt after draining, and no value is lost or
// duplicated: every value whose send returned is received exactly once,
// and no value whose send threw is received.
#include "test_util.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <vector>

using rill_test::producer_of;
using rill_test::seq_of;
using rill_test::tag;
using rill_test::test_options;

namespace {

struct round_result {
    std::vector<std::uint32_t> sent;          // per sender: sends that returned
    std::vector<int> threw;                   // per sender: channel_closed caught
    std::vector<std::vector<std::uint64_t>> logs;  // per receiver (the root is the last)
    std::vector<int> ended_by_close;          // per receiver
};

/// One round: `senders` coroutines send until the channel is closed (half
/// with send, half with a select); `receivers` coroutines receive (half with
/// range-for, half with select) and report progress; the root closes the
/// channel once `close_after` values went through, then drains what is left.
round_result close_round(std::size_t capacity, std::uint32_t senders, std::uint32_t receivers, int close_after) {
    round_result r;
    r.sent.assign(senders, 0);
    r.threw.assign(senders, 0);
    r.logs.resize(receivers + 1);
    r.ended_by_close.assign(receivers, 0);
    rill::run([&] {
        rill::chan<std::uint64_t> c(capacity);
        rill::chan<int> progress(1);
        rill::chan<int> never;
        rill::wait_group wg;
        for (std::uint32_t s = 0; s < senders; ++s) {
            wg.add(1);
            rill::go([&, c, never, s] {
                try {
                    for (;;) {
                        std::uint64_t v = tag(s, r.sent[s]);
                        if (s % 2) {
                            rill::select(rill::on_send(c, v, [] {}), rill::on_recv(never, [] {}));
                        } else {
                            c.send(v);
                        }
                        ++r.sent[s];
                    }
                } catch (const rill::channel_closed&) {
                    ++r.threw[s];
                }
                wg.done();
            });
        }
        for (std::uint32_t k = 0; k < receivers; ++k) {
            wg.add(1);
            rill::go([&, c, progress, k] {
                auto& log = r.logs[k];
                if (k % 2) {
                    for (std::uint64_t v : c) {
                        log.push_back(v);
                        int one = 1;
                        progress.try_send(one);
                    }
                    r.ended_by_close[k] = 1;
                } else {
                    bool open = true;
                    while (open) {
                        rill::select(rill::on_recv(c, [&](std::optional<std::uint64_t> v) {
                            if (!v) {
                                open = false;
                                return;
                            }
                            log.push_back(*v);
                            int one = 1;
                            progress.try_send(one);
                        }));
                    }
                    r.ended_by_close[k] = 1;
                }
                wg.done();
            });
        }
        auto& own = r.logs[receivers];
        if (receivers == 0) {
            for (int i = 0; i < close_after; ++i) own.push_back(*c.recv());
        } else {
            for (int i = 0; i < close_after; ++i) progress.recv();
        }
        c.close();  // senders are blocked or about to send: they all throw
        while (auto v = c.recv()) own.push_back(*v);
        wg.wait();
    }, test_options());
    return r;
}

void check_round(const round_result& r) {
    const std::size_t senders = r.sent.size();
    std::vector<std::vector<std::uint8_t>> seen(senders);
    for (std::size_t s = 0; s < senders; ++s) seen[s].assign(r.sent[s], 0);
    std::size_t received = 0, duplicates = 0, never_sent = 0, out_of_order = 0;
    for (const auto& log : r.logs) {
        std::vector<std::int64_t> last(senders, -1);
        for (std::uint64_t v : log) {
            std::uint32_t s = producer_of(v), i = seq_of(v);
            if (s >= senders || i >= r.sent[s]) {
                ++never_sent;  // a value whose send threw (or garbage)
                continue;
            }
            if (seen[s][i]++) ++duplicates;
            if (std::int64_t(i) <= last[s]) ++out_of_order;
            last[s] = i;
            ++received;
        }
    }
    std::size_t sent_total = 0;
    for (auto n : r.sent) sent_total += n;
    CHECK(never_sent == 0);
    CHECK(duplicates == 0);
    CHECK(out_of_order == 0);
    CHECK(received == sent_total);  // nothing lost
    for (int t : r.threw) CHECK(t == 1);
    for (int e : r.ended_by_close) CHECK(e == 1);
}

}  // namespace

TEST_CASE("close stress: many blocked senders, the root receives then closes") {
    for (std::size_t capacity : {std::size_t(0), std::size_t(3)}) {
        CAPTURE(capacity);
        for (int round = 0; round < 15; ++round) check_round(close_round(capacity, 16, 0, 200));
    }
}

TEST_CASE("close stress: busy senders and receivers, closed mid-stream") {
    for (std::size_t capacity : {std::size_t(0), std::size_t(1), std::size_t(8)}) {
        CAPTURE(capacity);
        for (int round = 0; round < 10; ++round) check_round(close_round(capacity, 8, 6, 500));
    }
}

TEST_CASE("close stress: many blocked receivers are all woken by close, exactly once each") {
    constexpr int receivers = 60;
    for (int round = 0; round < 20; ++round) {
        std::vector<int> nullopts(receivers, 0);
        std::vector<std::vector<int>> got(receivers);
        rill::run([&] {
            rill::chan<int> c(round % 2 ? 4 : 0);
            rill::wait_group wg;
            for (int k = 0; k < receivers; ++k) {
                wg.add(1);
                rill::go([&, c, k] {
                    for (;;) {
                        std::optional<int> v;
                        switch (k % 3) {
                        case 0: v = c.recv(); break;
                        case 1: rill::select(rill::on_recv(c, [&](std::optional<int> x) { v = x; })); break;
                        default: {
                            rill::chan<int> never;
                            rill::select(rill::on_recv(never, [] {}), rill::on_recv(c, [&](std::optional<int> x) { v = x; }));
                        }
                        }
                        if (!v) break;
                        got[k].push_back(*v);
                    }
                    ++nullopts[k];
                    wg.done();
                });
            }
            for (int i = 0; i < 100; ++i) c.send(i);  // some go through before the close
            c.close();
            wg.wait();
        }, test_options());
        std::vector<int> count(100, 0);
        for (auto& g : got)
            for (int v : g) ++count[v];
        for (int n : count) REQUIRE(n == 1);
        for (int n : nullopts) REQUIRE(n == 1);
    }
}
