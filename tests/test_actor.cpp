// tests/test_actor.cpp: rill/actor.hpp — tell, ask, stop, and what happens
// when the handler throws.
#include "test_util.hpp"

#include <rill/actor.hpp>

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using rill_test::contains;
using rill_test::counted;
using rill_test::test_options;

TEST_CASE("actor: ask returns the handler's answer, tell's answer is dropped") {
    long answer = rill::run([] {
        rill::actor<long, long> sum([total = 0L](long x) mutable { return total += x; });
        sum.tell(40);
        sum.tell(1);
        long r = sum.ask(1);
        sum.stop();
        return r;
    }, test_options());
    CHECK(answer == 42);
}

TEST_CASE("actor: a void actor's ask waits until the message was handled") {
    std::vector<int> seen;  // written by the actor only; read after ask() returned
    rill::run([&] {
        rill::actor<int> log([&seen](int x) { seen.push_back(x); });
        for (int i = 0; i < 5; ++i) log.tell(i);
        log.ask(5);
        CHECK(seen.size() == 6);
        log.stop();
    }, test_options());
    CHECK(seen == std::vector<int>{0, 1, 2, 3, 4, 5});
}

TEST_CASE("actor: tell order is FIFO per sender") {
    constexpr std::uint32_t senders = 8, per_sender = 200;
    std::vector<std::uint32_t> next(senders, 0);  // the actor's state, read after run
    bool in_order = true;
    rill::run([&] {
        rill::actor<std::uint64_t> check("check", [&](std::uint64_t v) {
            std::uint32_t p = rill_test::producer_of(v);
            if (rill_test::seq_of(v) != next[p]) in_order = false;
            ++next[p];
        }, 4);  // a small mailbox: senders also wait on it
        rill::wait_group wg;
        for (std::uint32_t p = 0; p < senders; ++p) {
            wg.add(1);
            rill::go([&, check, p] {
                for (std::uint32_t i = 0; i < per_sender; ++i) {
                    check.tell(rill_test::tag(p, i));
                    if (i % 16 == 0) rill::yield();
                }
                wg.done();
            });
        }
        wg.wait();
        check.stop();
        check.wait();
    }, test_options());
    CHECK(in_order);
    for (auto n : next) CHECK(n == per_sender);
}

TEST_CASE("actor: many concurrent askers each get their own answer") {
    constexpr int askers = 200;
    std::atomic<int> right{0};
    rill::run([&] {
        rill::actor<int, long> square("square", [](int x) { return long(x) * x; }, 8);
        rill::wait_group wg;
        for (int i = 0; i < askers; ++i) {
            wg.add(1);
            rill::go([&, square, i] {
                if (square.ask(i) == long(i) * i) ++right;
                wg.done();
            });
        }
        wg.wait();
        square.stop();
    }, test_options());
    CHECK(right == askers);
}

TEST_CASE("actor: stop handles what is queued, then tell and ask throw actor_stopped") {
    int handled = 0;
    std::string tell_error, ask_error;
    bool is_channel_closed = false;
    rill::run([&] {
        rill::actor<int, int> a("counter", [&handled](int) { return ++handled; });
        for (int i = 0; i < 10; ++i) a.tell(i);
        a.stop();
        a.stop();  // harmless
        a.wait();
        try {
            a.tell(1);
        } catch (const rill::actor_stopped& e) {
            tell_error = e.what();
        }
        try {
            a.ask(1);
        } catch (const rill::channel_closed& e) {  // actor_stopped is a channel_closed
            ask_error = e.what();
            is_channel_closed = dynamic_cast<const rill::actor_stopped*>(&e) != nullptr;
        }
    }, test_options());
    CHECK(handled == 10);
    CHECK(tell_error == "rill::actor \"counter\": tell on a stopped actor");
    CHECK(ask_error == "rill::actor \"counter\": ask on a stopped actor");
    CHECK(is_channel_closed);
}

TEST_CASE("actor: an exception thrown while handling an ask goes to the asker, and the actor goes on") {
    std::string error;
    int after = 0;
    rill::run([&] {
        rill::actor<int, int> half([](int x) {
            if (x % 2) throw std::invalid_argument("odd: " + std::to_string(x));
            return x / 2;
        });
        try {
            half.ask(3);
        } catch (const std::invalid_argument& e) {
            error = e.what();
        }
        after = half.ask(8);
        half.stop();
    }, test_options());
    CHECK(error == "odd: 3");
    CHECK(after == 4);
}

TEST_CASE("actor: an exception thrown while handling a tell crashes the actor and ends the run") {
    auto crash = [] {
        rill::run([] {
            rill::actor<int> picky("picky", [](int x) {
                if (x == 13) throw std::runtime_error("unlucky 13");
            });
            picky.tell(1);
            picky.tell(13);
            picky.wait();  // ends: the actor crashed (or this coroutine is unwound first)
            rill::sleep_for(std::chrono::hours(1));  // never reached in full: the run ends
        }, test_options());
    };
    CHECK_THROWS_WITH_AS(crash(), "unlucky 13", std::runtime_error);
}

TEST_CASE("actor: an asker waiting on an actor that crashes gets actor_stopped, never a hang") {
    // The asker is a plain thread, which outlives the run's unwinding, so it
    // sees what becomes of its ask: queued behind the crashing message, the
    // dropped envelope closes its reply channel; posted after the crash, the
    // closed mailbox refuses it. Either way it is actor_stopped.
    std::string error;
    rill::runtime rt(rill_test::plain_thread_options());
    rill::chan<rill::actor<int, int>> made(1);
    rill::chan<int> busy, release;
    rt.spawn([made, busy, release] {
        rill::actor<int, int> a("fragile", [busy, release](int x) {
            if (x < 0) {
                busy.send(x);
                release.recv();  // hold the crash until the asker had its chance to queue
                throw std::runtime_error("negative");
            }
            return x;
        });
        made.send(a);
    });
    rill::actor<int, int> a = *made.recv();
    a.tell(-1);
    busy.recv();  // the actor is inside the handler now, its mailbox empty
    std::thread asker([&] {
        try {
            a.ask(1);
        } catch (const rill::actor_stopped& e) {
            error = e.what();
        }
    });
    for (int i = 0; i < 1000; ++i) std::this_thread::yield();  // lets the ask queue, usually
    release.close();
    asker.join();
    CHECK_THROWS_WITH_AS(rt.wait(), "negative", std::runtime_error);
    CHECK((error == "rill::actor \"fragile\": ask: the actor stopped before it answered" ||
           error == "rill::actor \"fragile\": ask on a stopped actor"));
}

TEST_CASE("actor: actors that ask each other in a cycle are reported as a deadlock, by name") {
    std::string msg = rill_test::deadlock_message([] {
        auto a_ref = std::make_shared<std::optional<rill::actor<int, int>>>();
        rill::actor<int, int> b("b", [a_ref](int x) { return (**a_ref).ask(x); });
        rill::actor<int, int> a("a", [b](int x) { return b.ask(x) + 1; });
        *a_ref = a;  // before the first message: the send below happens before b reads it
        a.ask(1);    // a asks b, b asks a, which is busy asking b
    });
    CHECK(contains(msg, "deadlock"));
    CHECK(contains(msg, "\"actor a\""));
    CHECK(contains(msg, "\"actor b\""));
}

TEST_CASE("actor: an idle actor shows in a deadlock report waiting on its named mailbox") {
    std::string msg = rill_test::deadlock_message([] {
        rill::actor<int> idle("idle", [](int) {});
        rill::chan<int> never(0, "never");
        never.recv();
    });
    CHECK(contains(msg, "\"actor idle\": recv on chan<"));
    CHECK(contains(msg, "\"idle mailbox\""));
}

TEST_CASE("actor: the handler's state lives on the actor's coroutine and dies with it") {
    long before = counted::made();
    rill::run([] {
        rill::actor<int> a([c = counted()](int) {});
        a.tell(1);
        // never stopped: unwound when the root returns
    }, test_options());
    CHECK(counted::made() > before);
    CHECK(counted::alive() == 0);
}
