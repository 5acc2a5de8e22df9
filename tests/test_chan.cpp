// tests/test_chan.cpp: rill/chan.hpp — every row of DESIGN.md's channel
// table and every fine point about channels: rendezvous, buffering, FIFO,
// move-only values, try_send/try_recv, close, range-for, views, the nil
// channel, direct hand-off, and channels used from plain threads.
#include "test_util.hpp"

#include <doctest/doctest.h>

#include <ranges>

#include <algorithm>
#include <array>
#include <atomic>
#include <memory>
#include <numeric>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

using rill_test::contains;
using rill_test::counted;
using rill_test::deadlock_message;
using rill_test::single_worker;
using rill_test::test_options;

// ---- compile-time shape of the API --------------------------------------

static_assert(std::is_convertible_v<rill::chan<int>, rill::send_chan<int>>);
static_assert(std::is_convertible_v<rill::chan<int>, rill::recv_chan<int>>);
static_assert(!std::is_convertible_v<rill::send_chan<int>, rill::recv_chan<int>>);
static_assert(!std::is_convertible_v<rill::recv_chan<int>, rill::send_chan<int>>);
template <class C> concept can_send = requires(const C c, int& v) { c.send(1); c.try_send(v); c.close(); };
template <class C> concept can_recv = requires(const C c) { c.recv(); c.try_recv(); c.begin(); };
template <class C> concept can_measure = requires(const C c) { c.size(); c.capacity(); };
// Handles are const: a lambda that captured a channel by copy needs no `mutable`.
static_assert(can_send<rill::chan<int>> && can_recv<rill::chan<int>> && can_measure<rill::chan<int>>);
static_assert(can_send<rill::send_chan<int>> && !can_recv<rill::send_chan<int>> && can_measure<rill::send_chan<int>>);
static_assert(can_recv<rill::recv_chan<int>> && !can_send<rill::recv_chan<int>> && can_measure<rill::recv_chan<int>>);
static_assert(std::is_copy_constructible_v<rill::chan<std::unique_ptr<int>>>);

// ---- construction ---------------------------------------------------------

TEST_CASE("chan<T>() and chan<T>(0) are unbuffered; chan<T>(n) has capacity n") {
    rill::chan<int> a;
    rill::chan<int> b(0);
    rill::chan<int> c(5);
    CHECK(bool(a));
    CHECK(a.capacity() == 0);
    CHECK(b.capacity() == 0);
    CHECK(c.capacity() == 5);
    CHECK(a.size() == 0);
    CHECK(c.size() == 0);
}

TEST_CASE("a chan is a shared handle: copies refer to the same channel") {
    rill::chan<int> c(2);
    rill::chan<int> d = c;
    CHECK(c == d);
    CHECK_FALSE(c == rill::chan<int>(2));
    d.send(7);
    CHECK(c.size() == 1);
    CHECK(c.recv() == 7);
}

// ---- unbuffered -----------------------------------------------------------

TEST_CASE("unbuffered: a send completes only when a receiver takes the value") {
    struct seen {
        bool sent_before_recv = true;
        std::optional<int> got;
        bool sent_after_recv = false;
    } s;
    rill::run([&] {
        std::atomic<bool> sent{false};
        rill::chan<int> c;
        rill::chan<int> done;
        rill::go([&, c, done] {
            c.send(1);
            sent = true;
            done.send(0);
        });
        rill::yield();  // one worker: the sender runs now and blocks in send
        s.sent_before_recv = sent;
        s.got = c.recv();
        done.recv();
        s.sent_after_recv = sent;
    }, single_worker());
    CHECK_FALSE(s.sent_before_recv);
    CHECK(s.got == 1);
    CHECK(s.sent_after_recv);
}

TEST_CASE("unbuffered: try_send fails without a waiting receiver, succeeds with one") {
    struct seen {
        bool without = true;
        int value_kept = 0;
        bool with = false;
        std::optional<int> got;
    } s;
    rill::run([&] {
        rill::chan<int> c;
        int v = 5;
        s.without = c.try_send(v);
        s.value_kept = v;
        rill::chan<int> result(1);
        rill::go([c, result] { result.send(*c.recv()); });
        rill::yield();  // one worker: the receiver is blocked now
        s.with = c.try_send(9);
        s.got = result.recv();
    }, single_worker());
    CHECK_FALSE(s.without);
    CHECK(s.value_kept == 5);
    CHECK(s.with);
    CHECK(s.got == 9);
}

TEST_CASE("unbuffered: a try_recv finds a waiting sender's value") {
    std::optional<int> got;
    rill::run([&] {
        rill::chan<int> c;
        CHECK_FALSE(c.try_recv());
        rill::go([c] { c.send(3); });
        rill::yield();  // one worker: the sender is blocked now
        auto r = c.try_recv();
        if (r) got = *r;
    }, single_worker());
    CHECK(got == 3);
}

TEST_CASE("unbuffered: blocked senders are served in FIFO order") {
    std::vector<int> got;
    rill::run([&] {
        rill::chan<int> c;
        for (int i = 0; i < 5; ++i) {
            rill::go([c, i] { c.send(i); });
            rill::yield();  // one worker: sender i is blocked before i+1 starts
        }
        for (int i = 0; i < 5; ++i) got.push_back(*c.recv());
    }, single_worker());
    CHECK(got == std::vector<int>{0, 1, 2, 3, 4});
}

TEST_CASE("unbuffered: blocked receivers are served in FIFO order") {
    std::vector<int> got(5, -1);
    rill::run([&] {
        rill::chan<int> c;
        rill::wait_group wg;
        for (int i = 0; i < 5; ++i) {
            wg.add(1);
            rill::go([&, c, i] {
                got[i] = *c.recv();
                wg.done();
            });
            rill::yield();  // one worker: receiver i is blocked before i+1 starts
        }
        for (int i = 0; i < 5; ++i) c.send(i * 10);
        wg.wait();
    }, single_worker());
    CHECK(got == std::vector<int>{0, 10, 20, 30, 40});
}

// ---- buffered --------------------------------------------------------------

TEST_CASE("buffered: send does not block while there is room; size counts the values") {
    rill::chan<int> c(3);  // plain thread: nothing here blocks
    c.send(1);
    CHECK(c.size() == 1);
    c.send(2);
    c.send(3);
    CHECK(c.size() == 3);
    CHECK(c.capacity() == 3);
    int v = 4;
    CHECK_FALSE(c.try_send(v));  // full
    CHECK(v == 4);
    CHECK(c.recv() == 1);
    CHECK(c.size() == 2);
    CHECK(c.try_send(v));
    CHECK(c.recv() == 2);
    CHECK(c.recv() == 3);
    CHECK(c.recv() == 4);
    CHECK(c.size() == 0);
}

TEST_CASE("buffered: values leave in FIFO order") {
    std::vector<int> got;
    rill::run([&] {
        rill::chan<int> c(7);  // smaller than the count: the ring wraps
        rill::go([c] {
            for (int i = 0; i < 1000; ++i) c.send(i);
            c.close();
        });
        for (int v : c) got.push_back(v);
    }, test_options());
    std::vector<int> want(1000);
    std::iota(want.begin(), want.end(), 0);
    CHECK(got == want);
}

TEST_CASE("buffered: a send to a waiting receiver hands the value over directly") {
    struct seen {
        std::size_t size_after_send = 99;
        std::optional<int> got;
    } s;
    rill::run([&] {
        rill::chan<int> c(1);
        rill::chan<int> result(1);
        rill::go([c, result] { result.send(*c.recv()); });
        rill::yield();  // one worker: the receiver is blocked on the empty buffer
        c.send(8);
        s.size_after_send = c.size();  // not through the buffer
        s.got = result.recv();
    }, single_worker());
    CHECK(s.size_after_send == 0);
    CHECK(s.got == 8);
}

TEST_CASE("buffered: a receive from a full buffer with a sender waiting takes the head and moves the sender's value in") {
    struct seen {
        std::vector<int> got;
        std::size_t size_after_first_recv = 0;
        bool sender_released = false;
    } s;
    rill::run([&] {
        rill::chan<int> c(2);
        c.send(1);
        c.send(2);
        rill::chan<int> sender_done(1);
        rill::go([c, sender_done] {
            c.send(3);  // blocks: the buffer is full
            sender_done.send(0);
        });
        rill::yield();  // one worker: the sender is blocked now
        s.got.push_back(*c.recv());
        s.size_after_first_recv = c.size();  // 2 and 3 are in the buffer already
        sender_done.recv();                  // the sender was woken at once
        s.sender_released = true;
        s.got.push_back(*c.recv());
        s.got.push_back(*c.recv());
    }, single_worker());
    CHECK(s.got == std::vector<int>{1, 2, 3});
    CHECK(s.size_after_first_recv == 2);
    CHECK(s.sender_released);
}

// ---- move-only values ------------------------------------------------------

TEST_CASE("move-only values travel through unbuffered and buffered channels") {
    using ptr = std::unique_ptr<int>;
    std::vector<int> got;
    rill::run([&] {
        rill::chan<ptr> unbuffered;
        rill::chan<ptr> buffered(2);
        rill::go([unbuffered, buffered] {
            unbuffered.send(std::make_unique<int>(1));
            buffered.send(std::make_unique<int>(2));
            buffered.send(std::make_unique<int>(3));
            buffered.close();
        });
        got.push_back(**unbuffered.recv());
        for (ptr& p : buffered) got.push_back(*p);
    }, test_options());
    CHECK(got == std::vector<int>{1, 2, 3});
}

namespace {
// A value whose move constructor is not noexcept (it never throws here):
// chan<T> moves it out of line, through elem_ops, where others take the
// inline path (docs/design.md, "The inline path").
struct throwing_move {
    std::string s;
    counted c;
    explicit throwing_move(std::string v) : s(std::move(v)) {}
    throwing_move(throwing_move&& o) noexcept(false) : s(std::move(o.s)) {}
    throwing_move& operator=(throwing_move&&) = default;
};
static_assert(!std::is_nothrow_move_constructible_v<throwing_move>);

// Sends n values through a buffer of 3 (the ring wraps, fills and empties
// many times; the sender blocks whenever it is full) and returns what the
// receiver got, in order.
template <class T, class Make, class Read>
std::vector<std::string> through_small_buffer(int n, Make make, Read read) {
    std::vector<std::string> got;
    rill::run([&] {
        rill::chan<T> c(3);
        rill::go([c, n, make] {
            for (int i = 0; i < n; ++i) c.send(make(i));
            c.close();
        });
        for (T& v : c) got.push_back(read(v));
    }, test_options());
    return got;
}
}  // namespace

TEST_CASE("buffered: strings, move-only and throwing-move values keep FIFO order and are each destroyed once") {
    const int n = 1000;
    std::vector<std::string> want;
    for (int i = 0; i < n; ++i) want.push_back("value " + std::to_string(i) + std::string(40, 'x'));   // not a short string
    const long before = counted::alive();

    CHECK(through_small_buffer<std::string>(n, [&](int i) { return want[i]; }, [](std::string& s) { return s; }) == want);
    CHECK(through_small_buffer<std::unique_ptr<std::pair<std::string, counted>>>(
              n, [&](int i) { return std::make_unique<std::pair<std::string, counted>>(want[i], counted()); },
              [](auto& p) { return p->first; }) == want);
    CHECK(through_small_buffer<throwing_move>(n, [&](int i) { return throwing_move(want[i]); },
                                              [](throwing_move& v) { return v.s; }) == want);
    CHECK(counted::alive() == before);
}

TEST_CASE("try_send of a move-only value: false leaves the value with the caller") {
    rill::chan<std::unique_ptr<int>> c(1);
    auto p = std::make_unique<int>(1);
    CHECK(c.try_send(p));
    CHECK(p == nullptr);  // moved into the channel
    auto q = std::make_unique<int>(2);
    CHECK_FALSE(c.try_send(q));  // full
    REQUIRE(q != nullptr);
    CHECK(*q == 2);
    auto r = c.try_recv();
    REQUIRE(r);
    CHECK(**r == 1);
    CHECK_FALSE(r.closed());
}

TEST_CASE("values left in a channel are destroyed with it") {
    const long before = counted::alive();
    {
        rill::chan<std::unique_ptr<counted>> c(3);
        c.send(std::make_unique<counted>());
        c.send(std::make_unique<counted>());
        CHECK(counted::alive() == before + 2);
    }
    CHECK(counted::alive() == before);
}

// ---- try_recv ---------------------------------------------------------------

TEST_CASE("try_recv: a value, nothing now, or closed and drained") {
    rill::chan<int> c(2);
    auto empty = c.try_recv();
    CHECK_FALSE(empty);
    CHECK_FALSE(empty.has_value());
    CHECK_FALSE(empty.closed());

    c.send(4);
    c.send(5);
    auto first = c.try_recv();
    REQUIRE(first);
    CHECK(*first == 4);
    CHECK_FALSE(first.closed());

    c.close();
    auto drained_first = c.try_recv();  // buffered values still come first
    REQUIRE(drained_first);
    CHECK(*drained_first == 5);
    CHECK_FALSE(drained_first.closed());

    auto after = c.try_recv();
    CHECK_FALSE(after);
    CHECK(after.closed());
}

// ---- close -----------------------------------------------------------------

TEST_CASE("recv after close drains the buffered values, then returns nullopt every time") {
    rill::chan<int> c(3);
    c.send(1);
    c.send(2);
    c.close();
    CHECK(c.recv() == 1);
    CHECK(c.recv() == 2);
    CHECK(c.recv() == std::nullopt);
    CHECK(c.recv() == std::nullopt);
    CHECK(c.size() == 0);
}

TEST_CASE("send, try_send and a second close on a closed channel throw channel_closed") {
    rill::chan<int> c(1);
    c.close();
    CHECK_THROWS_AS(c.send(1), rill::channel_closed);
    int v = 1;
    CHECK_THROWS_AS(c.try_send(v), rill::channel_closed);
    CHECK_THROWS_AS(c.close(), rill::channel_closed);

    rill::chan<int> u;  // unbuffered too
    u.close();
    CHECK_THROWS_AS(u.send(1), rill::channel_closed);
    CHECK_THROWS_AS(u.close(), rill::channel_closed);
}

TEST_CASE("try_send on a closed channel throws and leaves the value with the caller") {
    rill::chan<std::unique_ptr<int>> c(4);
    c.close();
    auto p = std::make_unique<int>(6);
    CHECK_THROWS_AS(c.try_send(p), rill::channel_closed);
    REQUIRE(p != nullptr);
    CHECK(*p == 6);
}

TEST_CASE("channel_closed is a std::logic_error") {
    rill::chan<int> c;
    c.close();
    CHECK_THROWS_AS(c.send(1), std::logic_error);
}

TEST_CASE("close wakes every blocked receiver with nullopt") {
    constexpr int receivers = 10;
    std::atomic<int> woken_empty{0};
    rill::run([&] {
        rill::chan<int> c;
        rill::chan<int> buffered(3);
        rill::wait_group wg;
        for (int i = 0; i < receivers; ++i) {
            wg.add(2);
            rill::go([&, c] {
                if (!c.recv()) ++woken_empty;
                wg.done();
            });
            rill::go([&, buffered] {
                if (!buffered.recv()) ++woken_empty;
                wg.done();
            });
        }
        rill::yield();
        c.close();
        buffered.close();
        wg.wait();
    }, test_options());
    CHECK(woken_empty == 2 * receivers);
}

TEST_CASE("a sender blocked when the channel gets closed wakes and throws channel_closed") {
    constexpr int senders = 6;
    std::atomic<int> threw{0};
    std::atomic<int> returned{0};
    rill::run([&] {
        rill::chan<int> unbuffered;
        rill::chan<int> full(1);
        full.send(0);
        rill::wait_group wg;
        for (int i = 0; i < senders; ++i) {
            wg.add(1);
            rill::go([&, unbuffered, full, i] {
                try {
                    if (i % 2) unbuffered.send(i);
                    else full.send(i);
                    ++returned;
                } catch (const rill::channel_closed&) {
                    ++threw;
                }
                wg.done();
            });
        }
        rill::yield();  // with one worker every sender is blocked by now
        unbuffered.close();
        full.close();
        wg.wait();
        CHECK(full.recv() == 0);  // the buffered value survives the close
        CHECK(full.recv() == std::nullopt);
    }, test_options());
    CHECK(threw == senders);
    CHECK(returned == 0);
}

// ---- range-for ---------------------------------------------------------------

TEST_CASE("range-for yields each value and ends when the channel is closed and drained") {
    std::vector<int> from_chan, from_view;
    rill::run([&] {
        rill::chan<int> a(4), b;
        rill::go([a, b] {
            for (int i = 0; i < 50; ++i) {
                a.send(i);
                b.send(-i);
            }
            a.close();
            b.close();
        });
        rill::go([&, b] {
            rill::recv_chan<int> view = b;
            for (int v : view) from_view.push_back(v);
        });
        for (int v : a) from_chan.push_back(v);
    }, test_options());
    REQUIRE(from_chan.size() == 50);
    REQUIRE(from_view.size() == 50);
    for (int i = 0; i < 50; ++i) {
        CHECK(from_chan[i] == i);
        CHECK(from_view[i] == -i);
    }
}

TEST_CASE("range-for over a channel closed while empty runs no iteration") {
    rill::chan<int> c;
    c.close();
    int iterations = 0;
    for (int v : c) {
        (void)v;
        ++iterations;
    }
    CHECK(iterations == 0);
}

// ---- views -------------------------------------------------------------------

TEST_CASE("send_chan and recv_chan views reach the same channel") {
    rill::chan<int> c(4);
    rill::send_chan<int> tx = c;
    rill::recv_chan<int> rx = c;
    CHECK(tx.capacity() == 4);
    CHECK(rx.capacity() == 4);
    tx.send(1);
    int two = 2;
    CHECK(tx.try_send(two));
    CHECK(rx.size() == 2);
    CHECK(tx.size() == 2);
    CHECK(rx.recv() == 1);
    auto r = rx.try_recv();
    REQUIRE(r);
    CHECK(*r == 2);
    tx.close();
    CHECK(rx.recv() == std::nullopt);
    CHECK(rx.try_recv().closed());
    CHECK_THROWS_AS(tx.send(3), rill::channel_closed);
}

TEST_CASE("views work across coroutines: a producer owns the send side, a consumer the receive side") {
    int sum = rill::run([] {
        rill::chan<int> c;
        auto produce = [](rill::send_chan<int> out) {
            for (int i = 1; i <= 10; ++i) out.send(i);
            out.close();
        };
        rill::go([produce, c] { produce(c); });
        rill::recv_chan<int> in = c;
        int s = 0;
        for (int v : in) s += v;
        return s;
    }, test_options());
    CHECK(sum == 55);
}

// ---- the nil channel -----------------------------------------------------------

TEST_CASE("nil channel: close throws, try operations fail, size and capacity are 0") {
    rill::chan<int> nil{nullptr};
    CHECK_FALSE(bool(nil));
    CHECK(nil.size() == 0);
    CHECK(nil.capacity() == 0);
    CHECK_THROWS_AS(nil.close(), rill::channel_closed);
    int v = 1;
    CHECK_FALSE(nil.try_send(v));
    CHECK(v == 1);
    auto r = nil.try_recv();
    CHECK_FALSE(r);
    CHECK_FALSE(r.closed());

    rill::send_chan<int> tx{nullptr};
    CHECK_THROWS_AS(tx.close(), rill::channel_closed);
}

TEST_CASE("nil channel: a coroutine blocked on it is reported in a deadlock") {
    std::string msg = deadlock_message([] {
        rill::go("nil-sender", [] { rill::chan<int>{nullptr}.send(1); });
        rill::chan<int> nil{nullptr};
        nil.recv();
    });
    INFO("deadlock_error::what() = " << msg);
    REQUIRE_FALSE(msg.empty());
    CHECK(contains(msg, "nil-sender"));
    CHECK(contains(msg, "recv"));
    CHECK(contains(msg, "send"));
}

TEST_CASE("nil channel: coroutines blocked on it are unwound at the end of the run") {
    const long made_before = counted::made();
    rill::run([] {
        rill::chan<int> ready(2);
        rill::go([ready] {
            counted c;
            ready.send(1);
            rill::chan<int>{nullptr}.recv();
        });
        rill::go([ready] {
            counted c;
            ready.send(1);
            rill::recv_chan<int> nil{nullptr};
            for (int v : nil) (void)v;
        });
        ready.recv();
        ready.recv();
    }, test_options());
    CHECK(counted::made() - made_before == 2);
    CHECK(counted::alive() == 0);
}

// ---- memory model and exactly-once -------------------------------------------------

TEST_CASE("a send happens before the matching receive completes") {
    // Plain (non-atomic) data written before a send is visible after the
    // receive; ThreadSanitizer checks the happens-before edge.
    struct payload {
        int a = 0;
        std::string b;
    };
    bool ok = rill::run([] {
        rill::chan<payload*> c;
        rill::chan<int> buffered(1);
        auto* p = new payload;
        auto* q = new payload;
        rill::go([c, buffered, p, q] {
            p->a = 1;
            p->b = "written before send";
            c.send(p);
            q->a = 2;
            buffered.send(0);
        });
        payload* got = *c.recv();
        buffered.recv();
        bool result = got->a == 1 && got->b == "written before send" && q->a == 2;
        delete p;
        delete q;
        return result;
    }, test_options());
    CHECK(ok);
}

TEST_CASE("every value is delivered exactly once (buffered and unbuffered)") {
    constexpr int senders = 4, receivers = 4, per_sender = 1000;
    for (std::size_t capacity : {std::size_t(0), std::size_t(1), std::size_t(16)}) {
        CAPTURE(capacity);
        std::vector<std::vector<int>> got(receivers);
        rill::run([&] {
            rill::chan<int> c(capacity);
            rill::wait_group sending, receiving;
            for (int s = 0; s < senders; ++s) {
                sending.add(1);
                rill::go([&, c, s] {
                    for (int i = 0; i < per_sender; ++i) c.send(s * per_sender + i);
                    sending.done();
                });
            }
            for (int r = 0; r < receivers; ++r) {
                receiving.add(1);
                rill::go([&, c, r] {
                    for (int v : c) got[r].push_back(v);
                    receiving.done();
                });
            }
            sending.wait();
            c.close();
            receiving.wait();
        }, test_options());
        std::vector<int> count(senders * per_sender, 0);
        for (auto& g : got)
            for (int v : g) ++count[v];
        CHECK(std::all_of(count.begin(), count.end(), [](int n) { return n == 1; }));
    }
}

// A trivially copyable value of N bytes whose every byte depends on its
// sequence number: a value cut short or mixed with another is seen.
template <std::size_t N>
struct bytes_of {
    std::array<unsigned char, N> b;
    static bytes_of make(int i) {
        bytes_of v;
        for (std::size_t k = 0; k < N; ++k) v.b[k] = static_cast<unsigned char>(i * 7 + int(k) * 13 + 1);
        return v;
    }
    friend bool operator==(const bytes_of&, const bytes_of&) = default;
};

// One producer, one consumer on one worker: with capacity 0 every message
// meets a parked partner (a waiting receiver takes the send, a waiting
// sender the receive); with capacity 1 and 2 the buffer fills, a sender
// waits on it, and a receive moves that sender's value into the tail.
template <class T>
void exchange_in_order(std::size_t capacity) {
    constexpr int count = 200;
    std::vector<T> got;
    rill::run([&] {
        rill::chan<T> c(capacity);
        rill::go([c] {
            for (int i = 0; i < count; ++i) {
                c.send(T::make(i));
                if (i % 7 == 3) rill::yield();   // vary which side waits
            }
            c.close();
        });
        for (T v : c) {
            got.push_back(v);
            if (got.size() % 5 == 2) rill::yield();
        }
    }, single_worker());
    REQUIRE(got.size() == std::size_t(count));
    for (int i = 0; i < count; ++i) CHECK(got[std::size_t(i)] == T::make(i));
}

TEST_CASE("trivially copyable values of every size pass whole and in order through every path of the core") {
    // 1, 4, 8 and 16 bytes take the polls' inline copies; 2, 3, 24 and 40 the general path.
    for (std::size_t capacity : {std::size_t(0), std::size_t(1), std::size_t(2)}) {
        CAPTURE(capacity);
        exchange_in_order<bytes_of<1>>(capacity);
        exchange_in_order<bytes_of<2>>(capacity);
        exchange_in_order<bytes_of<3>>(capacity);
        exchange_in_order<bytes_of<4>>(capacity);
        exchange_in_order<bytes_of<8>>(capacity);
        exchange_in_order<bytes_of<16>>(capacity);
        exchange_in_order<bytes_of<24>>(capacity);
        exchange_in_order<bytes_of<40>>(capacity);
    }
}

// ---- plain threads -----------------------------------------------------------------

TEST_CASE("plain threads: the main thread feeds coroutines through a channel, closes it, waits") {
    constexpr int values = 1000;
    std::atomic<long> sum{0};
    std::atomic<int> count{0};
    {
        rill::runtime rt(rill_test::plain_thread_options());
        rill::chan<int> c;  // unbuffered: every send blocks this thread until a coroutine takes it
        for (int i = 0; i < 3; ++i) {
            rt.spawn([c, &sum, &count] {
                for (int v : c) {
                    sum += v;
                    ++count;
                }
            });
        }
        for (int i = 1; i <= values; ++i) c.send(i);
        c.close();
        rt.wait();
    }
    CHECK(count == values);
    CHECK(sum == long(values) * (values + 1) / 2);
}

TEST_CASE("plain threads: a plain thread receives what coroutines send") {
    constexpr int producers = 4, per_producer = 250;
    rill::chan<int> c(3);
    long sum = 0;
    int count = 0;
    std::thread consumer([&] {
        for (int v : c) {
            sum += v;
            ++count;
        }
    });
    rill::run([c] {
        rill::wait_group wg;
        for (int p = 0; p < producers; ++p) {
            wg.add(1);
            rill::go([&wg, c] {
                for (int i = 1; i <= per_producer; ++i) c.send(i);
                wg.done();
            });
        }
        wg.wait();
        c.close();
    }, rill_test::plain_thread_options());
    consumer.join();
    CHECK(count == producers * per_producer);
    CHECK(sum == long(producers) * per_producer * (per_producer + 1) / 2);
}

TEST_CASE("plain threads: two plain threads without any runtime rendezvous on an unbuffered channel") {
    rill::chan<int> ping, pong;
    std::thread echo([&] {
        for (int v : ping) pong.send(v + 1);
        pong.close();
    });
    int value = 0;
    for (int i = 0; i < 500; ++i) {
        ping.send(value);
        value = *pong.recv();
    }
    ping.close();
    CHECK(pong.recv() == std::nullopt);
    echo.join();
    CHECK(value == 500);
}

TEST_CASE("plain threads: a blocked plain-thread sender is woken by close and throws") {
    rill::chan<int> c;
    std::atomic<bool> threw{false};
    rill::chan<int> started(1);
    std::thread sender([&] {
        started.send(1);
        try {
            c.send(1);  // nobody ever receives
        } catch (const rill::channel_closed&) {
            threw = true;
        }
    });
    started.recv();
    c.close();  // wakes the sender if it is blocked, or makes its send throw
    sender.join();
    CHECK(threw);
}

// ---- element types -------------------------------------------------------------------

namespace {
struct alignas(64) over_aligned {
    int v = 0;
};
struct big {
    std::array<char, 4096> bytes{};
    int tail = 0;
};
struct no_default {
    explicit no_default(int x) : v(x) {}
    int v;
};
}  // namespace

TEST_CASE("over-aligned, large and non-default-constructible element types") {
    rill::chan<over_aligned> a(3);  // the buffer must honour alignof(T) (UBSan checks it)
    for (int i = 0; i < 3; ++i) a.send(over_aligned{i});
    for (int i = 0; i < 3; ++i) CHECK(a.recv()->v == i);

    rill::chan<big> b(2);
    big x;
    x.bytes[4095] = 'z';
    x.tail = 9;
    b.send(x);
    auto y = b.recv();
    REQUIRE(y.has_value());
    CHECK(y->bytes[4095] == 'z');
    CHECK(y->tail == 9);

    int got = rill::run([] {
        rill::chan<no_default> c;
        rill::go([c] { c.send(no_default(5)); });
        return c.recv()->v;
    }, test_options());
    CHECK(got == 5);
}

TEST_CASE("a close happens before the receive that returns because of it") {
    bool ok = rill::run([] {
        rill::chan<int> c;
        auto* data = new std::string;
        rill::go([c, data] {
            *data = "written before close";
            c.close();
        });
        bool result = !c.recv().has_value() && *data == "written before close";
        delete data;
        return result;
    }, test_options());
    CHECK(ok);
}

TEST_CASE("try_recv on a closed unbuffered channel reports closed") {
    rill::chan<int> c;
    c.close();
    auto r = c.try_recv();
    CHECK_FALSE(r);
    CHECK(r.closed());
}

TEST_CASE("non-blocking operations work in destructors that run during unwinding") {
    // A coroutine unwound at the end of the run closes a channel and
    // try_sends from a destructor; the test sees both afterwards.
    rill::chan<int> closed_by_guard;
    rill::chan<int> note(1);
    rill::run([closed_by_guard, note] {
        rill::chan<int> ready;
        rill::go([=] {
            struct guard {
                rill::chan<int> to_close, to_note;
                ~guard() {
                    to_note.try_send(42);
                    to_close.close();
                }
            } g{closed_by_guard, note};
            ready.send(1);
            rill::chan<int>().recv();  // blocks until unwound
        });
        ready.recv();
    }, test_options());
    auto noted = note.try_recv();
    REQUIRE(noted);
    CHECK(*noted == 42);
    CHECK(closed_by_guard.try_recv().closed());
}

// Channels are input ranges, so std::ranges algorithms and views take them.
static_assert(std::ranges::input_range<rill::chan<int>>);
static_assert(std::ranges::input_range<rill::recv_chan<int>>);
