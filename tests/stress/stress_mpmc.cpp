// tests/stress/stress_mpmc.cpp: P producers x C consumers over one channel,
// unbuffered and buffered, coroutines and plain threads. Every value must
// be delivered exactly once, and each consumer must see each producer's
// values in the order they were sent.
#include "test_util.hpp"
#include "delivery.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <thread>
#include <vector>

using rill_test::producer_of;
using rill_test::seq_of;
using rill_test::tag;
using rill_test::test_options;

namespace {

using log = rill_test::delivery_log;
using rill_test::check_delivery;

/// Checks exactly-once delivery and per-producer FIFO order over the logs of all consumers.

/// Coroutine producers and consumers on a channel of the given capacity.
void run_coroutines(std::size_t capacity, std::uint32_t producers, std::uint32_t consumers, std::uint32_t per_producer) {
    std::vector<log> logs(consumers);
    rill::run([&] {
        rill::chan<std::uint64_t> c(capacity);
        rill::wait_group producing, consuming;
        for (std::uint32_t p = 0; p < producers; ++p) {
            producing.add(1);
            rill::go([&, c, p] {
                for (std::uint32_t i = 0; i < per_producer; ++i) c.send(tag(p, i));
                producing.done();
            });
        }
        for (std::uint32_t k = 0; k < consumers; ++k) {
            consuming.add(1);
            rill::go([&, c, k] {
                logs[k].reserve(per_producer);
                for (std::uint64_t v : c) logs[k].push_back(v);
                consuming.done();
            });
        }
        producing.wait();
        c.close();
        consuming.wait();
    }, test_options());
    check_delivery(logs, producers, per_producer);
}

}  // namespace

TEST_CASE("mpmc: 4 producers x 4 consumers, unbuffered, exactly once and FIFO per producer") {
    run_coroutines(0, 4, 4, 10000);
}

TEST_CASE("mpmc: 4 producers x 4 consumers, capacity 1") {
    run_coroutines(1, 4, 4, 10000);
}

TEST_CASE("mpmc: 4 producers x 4 consumers, capacity 64") {
    run_coroutines(64, 4, 4, 20000);
}

TEST_CASE("mpmc: 16 producers x 2 consumers, capacity 8 (senders pile up)") {
    run_coroutines(8, 16, 2, 2000);
}

TEST_CASE("mpmc: 2 producers x 16 consumers, unbuffered (receivers pile up)") {
    run_coroutines(0, 2, 16, 10000);
}

TEST_CASE("mpmc: plain-thread producers, coroutine consumers, and the reverse") {
    constexpr std::uint32_t producers = 3, consumers = 3, per_producer = 5000;
    for (std::size_t capacity : {std::size_t(0), std::size_t(16)}) {
        CAPTURE(capacity);
        {  // plain threads produce
            std::vector<log> logs(consumers);
            rill::chan<std::uint64_t> c(capacity);
            rill::runtime rt(rill_test::plain_thread_options());
            for (std::uint32_t k = 0; k < consumers; ++k)
                rt.spawn([c, &l = logs[k]] { for (std::uint64_t v : c) l.push_back(v); });
            std::vector<std::thread> ts;
            for (std::uint32_t p = 0; p < producers; ++p)
                ts.emplace_back([c, p] { for (std::uint32_t i = 0; i < per_producer; ++i) c.send(tag(p, i)); });
            for (auto& t : ts) t.join();
            c.close();
            rt.wait();
            check_delivery(logs, producers, per_producer);
        }
        {  // plain threads consume
            std::vector<log> logs(consumers);
            rill::chan<std::uint64_t> c(capacity);
            std::vector<std::thread> ts;
            for (std::uint32_t k = 0; k < consumers; ++k)
                ts.emplace_back([c, &l = logs[k]] { for (std::uint64_t v : c) l.push_back(v); });
            rill::run([&] {
                rill::wait_group wg;
                for (std::uint32_t p = 0; p < producers; ++p) {
                    wg.add(1);
                    rill::go([&, c, p] {
                        for (std::uint32_t i = 0; i < per_producer; ++i) c.send(tag(p, i));
                        wg.done();
                    });
                }
                wg.wait();
                c.close();
            }, rill_test::plain_thread_options());
            for (auto& t : ts) t.join();
            check_delivery(logs, producers, per_producer);
        }
    }
}

TEST_CASE("mpmc: try_send and try_recv spinners with yield deliver exactly once") {
    constexpr std::uint32_t producers = 4, consumers = 4, per_producer = 5000;
    std::vector<log> logs(consumers);
    rill::run([&] {
        rill::chan<std::uint64_t> c(4);
        rill::wait_group producing, consuming;
        for (std::uint32_t p = 0; p < producers; ++p) {
            producing.add(1);
            rill::go([&, c, p] {
                for (std::uint32_t i = 0; i < per_producer; ++i) {
                    std::uint64_t v = tag(p, i);
                    while (!c.try_send(v)) rill::yield();
                }
                producing.done();
            });
        }
        for (std::uint32_t k = 0; k < consumers; ++k) {
            consuming.add(1);
            rill::go([&, c, k] {
                for (;;) {
                    auto r = c.try_recv();
                    if (r) logs[k].push_back(*r);
                    else if (r.closed()) break;
                    else rill::yield();
                }
                consuming.done();
            });
        }
        producing.wait();
        c.close();
        consuming.wait();
    }, test_options());
    check_delivery(logs, producers, per_producer);
}
