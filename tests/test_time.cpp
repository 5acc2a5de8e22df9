// tests/test_time.cpp: rill/time.hpp — after, sleep_for, ticker; timers
// in select; pending timers and deadlock detection; timers on plain threads.
//
// Time is only ever checked as a lower bound ("at least d passed"); the
// upper bounds a loaded machine could break are never asserted.
#include "test_util.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using rill::steady_clock;
using rill_test::counted;
using rill_test::elapsed_since;
using rill_test::test_options;

TEST_CASE("after delivers the time once, no sooner than d") {
    struct seen {
        steady_clock::time_point start, delivered;
        steady_clock::duration waited{};
        bool second_value = true;
        bool closed = true;
    } s;
    rill::run([&] {
        s.start = steady_clock::now();
        auto ch = rill::after(20ms);
        auto v = ch.recv();
        s.waited = elapsed_since(s.start);
        if (v) s.delivered = *v;
        rill::sleep_for(30ms);  // time for a second delivery, if there were one
        auto again = ch.try_recv();
        s.second_value = again.has_value();
        s.closed = again.closed();
    }, test_options());
    CHECK(s.waited >= 20ms);
    CHECK(s.delivered - s.start >= 20ms);
    CHECK_FALSE(s.second_value);
    CHECK_FALSE(s.closed);  // as Go's time.After: delivered once, never closed
}

TEST_CASE("after's channel has capacity 1, so a timer nobody reads blocks nothing") {
    std::size_t capacity = 0, size_later = 0;
    rill::run([&] {
        auto unread = rill::after(1ms);
        capacity = unread.capacity();
        rill::sleep_for(20ms);
        size_later = unread.size();  // delivered into the buffer, nobody blocked
        for (int i = 0; i < 100; ++i) (void)rill::after(1ms);  // dropped at once
        rill::sleep_for(20ms);
    }, test_options());
    CHECK(capacity == 1);
    CHECK(size_later == 1);
    CHECK(rill::live().timers == 0);
}

TEST_CASE("after(0) and a negative duration deliver promptly") {
    int got = rill::run([] {
        int n = 0;
        if (rill::after(0ms).recv()) ++n;
        if (rill::after(-5ms).recv()) ++n;
        return n;
    }, test_options());
    CHECK(got == 2);
}

TEST_CASE("sleep_for suspends for at least d") {
    steady_clock::duration waited{};
    rill::run([&] {
        auto t0 = steady_clock::now();
        rill::sleep_for(25ms);
        waited = elapsed_since(t0);
    }, test_options());
    CHECK(waited >= 25ms);
}

TEST_CASE("sleep_for holds no worker: with one worker other coroutines run while one sleeps") {
    // The sleeper tells the worker coroutine it is going to sleep; the
    // worker then does channel work with a third coroutine. If sleep_for
    // held the only worker, none of that work could happen before the
    // sleeper woke up.
    struct seen {
        bool work_done_before_wake = false;
        int exchanges = 0;
    } s;
    rill::run([&] {
        std::atomic<bool> work_done{false};
        rill::chan<int> going_to_sleep, ping, pong;
        rill::wait_group wg;
        wg.add(3);
        rill::go([&, going_to_sleep] {
            going_to_sleep.send(1);
            rill::sleep_for(300ms);
            s.work_done_before_wake = work_done;
            wg.done();
        });
        rill::go([&, going_to_sleep, ping, pong] {
            going_to_sleep.recv();
            for (int i = 0; i < 10; ++i) {
                ping.send(i);
                s.exchanges += *pong.recv() == i;
            }
            ping.close();
            work_done = true;
            wg.done();
        });
        rill::go([&, ping, pong] {
            for (int v : ping) pong.send(v);
            wg.done();
        });
        wg.wait();
    }, rill_test::single_worker());
    CHECK(s.exchanges == 10);
    CHECK(s.work_done_before_wake);
}

TEST_CASE("many coroutines sleep at once and all wake") {
    constexpr int sleepers = 200;
    std::atomic<int> woke{0};
    auto t0 = steady_clock::now();
    rill::run([&] {
        rill::wait_group wg;
        for (int i = 0; i < sleepers; ++i) {
            wg.add(1);
            rill::go([&, i] {
                rill::sleep_for(std::chrono::milliseconds(1 + i % 20));
                ++woke;
                wg.done();
            });
        }
        wg.wait();
    }, test_options());
    CHECK(woke == sleepers);
    CHECK(elapsed_since(t0) >= 20ms);
}

TEST_CASE("after in a select: the timeout case wins when nothing else is ready") {
    struct seen {
        std::size_t idx = 9;
        steady_clock::duration waited{};
    } s;
    rill::run([&] {
        rill::chan<int> never;
        auto t0 = steady_clock::now();
        s.idx = rill::select(rill::on_recv(never, [](std::optional<int>) {}),
                             rill::on_recv(rill::after(15ms), [](auto) {}));
        s.waited = elapsed_since(t0);
    }, test_options());
    CHECK(s.idx == 1);
    CHECK(s.waited >= 15ms);
}

TEST_CASE("after in a select: a ready case wins over a long timeout, and the timer is released") {
    std::size_t idx = rill::run([] {
        rill::chan<int> ready(1);
        ready.send(1);
        return rill::select(rill::on_recv(ready, [](std::optional<int>) {}),
                            rill::on_recv(rill::after(1h), [](auto) {}));
    }, test_options());
    CHECK(idx == 0);
    CHECK(rill::live().timers == 0);  // the run ended: its pending timer went with it
}

TEST_CASE("ticker delivers several increasing ticks; stop stops it") {
    struct seen {
        std::vector<steady_clock::time_point> ticks;
        steady_clock::time_point start;
        bool tick_after_stop = true;
        bool closed_after_stop = true;
    } s;
    rill::run([&] {
        s.start = steady_clock::now();
        rill::ticker t(5ms);
        for (int i = 0; i < 4; ++i) s.ticks.push_back(*t.chan().recv());
        t.stop();
        (void)t.chan().try_recv();  // a tick delivered before stop may still be buffered
        rill::sleep_for(30ms);      // six periods
        auto r = t.chan().try_recv();
        s.tick_after_stop = r.has_value();
        s.closed_after_stop = r.closed();
    }, test_options());
    REQUIRE(s.ticks.size() == 4);
    // Tick i is due no sooner than i + 1 periods after the start (later if
    // ticks were dropped); the gaps between ticks may jitter either way.
    for (std::size_t i = 0; i < s.ticks.size(); ++i) CHECK(s.ticks[i] - s.start >= (i + 1) * 5ms);
    for (std::size_t i = 1; i < s.ticks.size(); ++i) CHECK(s.ticks[i] > s.ticks[i - 1]);
    CHECK_FALSE(s.tick_after_stop);
    CHECK_FALSE(s.closed_after_stop);  // stop does not close the channel
}

TEST_CASE("ticker drops ticks while its reader is slow: its channel holds one") {
    std::size_t capacity = 0, held = 0;
    rill::run([&] {
        rill::ticker t(1ms);
        capacity = t.chan().capacity();
        rill::sleep_for(30ms);  // about thirty ticks, at most one kept
        held = t.chan().size();
    }, test_options());
    CHECK(capacity == 1);
    CHECK(held == 1);
}

TEST_CASE("a ticker destroyed without stop stops, and the run can end") {
    int ticks = rill::run([] {
        int n = 0;
        {
            rill::ticker t(2ms);
            for (auto at : t.chan()) {
                (void)at;
                if (++n == 3) break;
            }
        }
        return n;
    }, test_options());
    CHECK(ticks == 3);
    CHECK(rill::live().timers == 0);
}

TEST_CASE("a program blocked only on a pending timer is not deadlocked") {
    struct seen {
        bool root_timer = false;
        int relayed = 0;
    } s;
    rill::run([&] {
        // The root alone, waiting on a timer.
        s.root_timer = rill::after(20ms).recv().has_value();
        // Every coroutine blocked: one on a channel, the other asleep.
        rill::chan<int> c;
        rill::go([c] {
            rill::sleep_for(20ms);
            c.send(5);
        });
        s.relayed = *c.recv();
    }, test_options());
    CHECK(s.root_timer);
    CHECK(s.relayed == 5);
}

TEST_CASE("a running ticker keeps the run from being a deadlock") {
    int n = rill::run([] {
        rill::ticker t(3ms);
        int got = 0;
        for (int i = 0; i < 3; ++i) got += t.chan().recv().has_value();
        return got;
    }, test_options());
    CHECK(n == 3);
}

TEST_CASE("a deadlock is still found once the timers have fired") {
    std::string msg = rill_test::deadlock_message([] {
        rill::sleep_for(10ms);
        rill::chan<int> never;
        never.recv();
    });
    CHECK_FALSE(msg.empty());
}

TEST_CASE("coroutines asleep or waiting on a timer when the root returns are unwound") {
    // The run returns at once instead of waiting an hour for the timers.
    const long made_before = counted::made();
    rill::run([] {
        rill::chan<int> ready(2);
        rill::go([ready] {
            counted c;
            ready.send(1);
            rill::sleep_for(1h);
        });
        rill::go([ready] {
            counted c;
            ready.send(1);
            rill::after(1h).recv();
        });
        ready.recv();
        ready.recv();
    }, test_options());
    CHECK(counted::made() - made_before == 2);
    CHECK(counted::alive() == 0);
    CHECK(rill::live().timers == 0);
}

// ---- plain threads ------------------------------------------------------------

TEST_CASE("timers work on a plain thread: after, sleep_for, ticker") {
    auto t0 = steady_clock::now();
    auto v = rill::after(10ms).recv();
    REQUIRE(v.has_value());
    CHECK(*v - t0 >= 10ms);

    auto t1 = steady_clock::now();
    rill::sleep_for(10ms);
    CHECK(elapsed_since(t1) >= 10ms);

    rill::ticker t(3ms);
    int ticks = 0;
    for (int i = 0; i < 3; ++i) ticks += t.chan().recv().has_value();
    t.stop();
    CHECK(ticks == 3);
}

TEST_CASE("timers work from several plain threads at once") {
    std::vector<std::thread> threads;
    std::atomic<int> delivered{0};
    for (int i = 0; i < 4; ++i) {
        threads.emplace_back([&, i] {
            for (int k = 0; k < 5; ++k)
                if (rill::after(std::chrono::milliseconds(1 + (i + k) % 3)).recv()) ++delivered;
        });
    }
    for (auto& t : threads) t.join();
    CHECK(delivered == 20);
}

TEST_CASE("a plain thread's select with a timeout") {
    rill::chan<int> never;
    auto t0 = steady_clock::now();
    std::size_t idx = rill::select(rill::on_recv(never, [](std::optional<int>) {}),
                                   rill::on_recv(rill::after(10ms), [](auto) {}));
    CHECK(idx == 1);
    CHECK(elapsed_since(t0) >= 10ms);
}
