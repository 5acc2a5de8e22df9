// tests/stress/stress_select.cpp: producers and consumers that mix plain
// operations with selects over shared channels. Every value is delivered
// exactly once, per-producer order holds on each channel, and a select
// with two send cases sends exactly one of its two values.
#include "test_util.hpp"
#include "delivery.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <vector>

using rill_test::producer_of;
using rill_test::seq_of;
using rill_test::tag;
using rill_test::test_options;

namespace {

using log = rill_test::delivery_log;
using rill_test::check_delivery;


}  // namespace

TEST_CASE("select stress: plain and select producers x plain and select consumers over two channels") {
    // Producer p always uses channel p % 2 (so its order is kept); producers
    // 0 and 1 send plainly, 2 and 3 through a select whose other case is
    // never ready. Consumers 0..3 select over both channels (switching a
    // closed one off with nil), consumers 4..5 range over one channel each.
    constexpr std::uint32_t producers = 4, per_producer = 10000;
    constexpr std::uint32_t select_consumers = 4, plain_consumers = 2;
    std::vector<log> logs(select_consumers + plain_consumers);
    rill::run([&] {
        rill::chan<std::uint64_t> a;      // unbuffered
        rill::chan<std::uint64_t> b(8);   // buffered
        rill::chan<int> never;
        rill::wait_group producing, consuming;
        for (std::uint32_t p = 0; p < producers; ++p) {
            producing.add(1);
            rill::go([&, a, b, never, p] {
                rill::chan<std::uint64_t> out = p % 2 ? b : a;
                for (std::uint32_t i = 0; i < per_producer; ++i) {
                    if (p % 4 < 2) out.send(tag(p, i));
                    else rill::select(rill::on_send(out, tag(p, i), [] {}), rill::on_recv(never, [] {}));
                }
                producing.done();
            });
        }
        for (std::uint32_t k = 0; k < select_consumers; ++k) {
            consuming.add(1);
            rill::go([&, a, b, k] {
                rill::recv_chan<std::uint64_t> ra = a, rb = b;
                log& l = logs[k];
                auto take = [&l](rill::recv_chan<std::uint64_t>& from) {
                    return [&l, &from](std::optional<std::uint64_t> v) {
                        if (v) l.push_back(*v);
                        else from = nullptr;
                    };
                };
                while (ra || rb) rill::select(rill::on_recv(ra, take(ra)), rill::on_recv(rb, take(rb)));
                consuming.done();
            });
        }
        for (std::uint32_t k = 0; k < plain_consumers; ++k) {
            consuming.add(1);
            rill::go([&, a, b, k] {
                rill::chan<std::uint64_t> in = k % 2 ? b : a;
                for (std::uint64_t v : in) logs[select_consumers + k].push_back(v);
                consuming.done();
            });
        }
        producing.wait();
        a.close();
        b.close();
        consuming.wait();
    }, test_options());
    check_delivery(logs, producers, per_producer);
}

TEST_CASE("select stress: every select with two send cases sends exactly one of its values") {
    constexpr std::uint32_t senders = 6, per_sender = 5000;
    std::vector<log> logs(4);
    rill::run([&] {
        rill::chan<std::uint64_t> a, b(4);
        rill::wait_group sending, receiving;
        for (std::uint32_t s = 0; s < senders; ++s) {
            sending.add(1);
            rill::go([&, a, b, s] {
                for (std::uint32_t i = 0; i < per_sender; ++i) {
                    // the same tag on both channels: it must arrive once in all
                    rill::select(rill::on_send(a, tag(s, i), [] {}), rill::on_send(b, tag(s, i), [] {}));
                }
                sending.done();
            });
        }
        for (std::uint32_t k = 0; k < 4; ++k) {
            receiving.add(1);
            rill::go([&, a, b, k] {
                if (k < 2) {
                    for (std::uint64_t v : k == 0 ? a : b) logs[k].push_back(v);
                } else {
                    rill::recv_chan<std::uint64_t> ra = a, rb = b;
                    while (ra || rb) {
                        rill::select(rill::on_recv(ra, [&](std::optional<std::uint64_t> v) { if (v) logs[k].push_back(*v); else ra = nullptr; }),
                                     rill::on_recv(rb, [&](std::optional<std::uint64_t> v) { if (v) logs[k].push_back(*v); else rb = nullptr; }));
                    }
                }
                receiving.done();
            });
        }
        sending.wait();
        a.close();
        b.close();
        receiving.wait();
    }, test_options());
    // Order across two channels is not defined, so only count.
    std::vector<std::vector<std::uint8_t>> seen(senders, std::vector<std::uint8_t>(per_sender, 0));
    std::size_t total = 0, duplicates = 0;
    for (const log& l : logs) {
        for (std::uint64_t v : l) {
            REQUIRE(producer_of(v) < senders);
            REQUIRE(seq_of(v) < per_sender);
            if (seen[producer_of(v)][seq_of(v)]++) ++duplicates;
            ++total;
        }
    }
    CHECK(duplicates == 0);
    CHECK(total == std::size_t(senders) * per_sender);
}

TEST_CASE("select stress: self-selects on one unbuffered channel pair up in twos") {
    // Each of 2n coroutines runs selects with a send and a receive case on
    // the same channel, until it has sent `rounds` values. Values received
    // are counted: each sent value is received exactly once.
    constexpr std::uint32_t members = 8, rounds = 2000;
    std::vector<log> logs(members);
    std::vector<std::uint32_t> sent(members, 0);
    rill::run([&] {
        rill::chan<std::uint64_t> c;
        rill::chan<int> done_sending(members);
        rill::wait_group wg;
        for (std::uint32_t m = 0; m < members; ++m) {
            wg.add(1);
            rill::go([&, c, done_sending, m] {
                rill::chan<std::uint64_t> send_side = c;
                rill::recv_chan<std::uint64_t> recv_side = c;
                bool announced = false;
                while (recv_side) {
                    if (sent[m] == rounds && !announced) {
                        send_side = nullptr;  // switch the send case off
                        done_sending.send(1);
                        announced = true;
                    }
                    rill::select(rill::on_send(send_side, tag(m, sent[m]), [&] { ++sent[m]; }),
                                 rill::on_recv(recv_side, [&](std::optional<std::uint64_t> v) {
                                     if (v) logs[m].push_back(*v);
                                     else recv_side = nullptr;
                                 }));
                }
                wg.done();
            });
        }
        for (std::uint32_t m = 0; m < members; ++m) done_sending.recv();
        c.close();
        wg.wait();
    }, test_options());
    for (std::uint32_t m = 0; m < members; ++m) CHECK(sent[m] == rounds);
    check_delivery(logs, members, rounds);
    for (std::uint32_t m = 0; m < members; ++m)
        for (std::uint64_t v : logs[m]) REQUIRE(producer_of(v) != m);  // never received its own value
}
