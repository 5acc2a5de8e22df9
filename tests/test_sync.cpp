// tests/test_sync.cpp: rill/sync.hpp — wait_group and mutex, on coroutines
// and on plain threads.
#include "test_util.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

using rill_test::counted;
using rill_test::single_worker;
using rill_test::test_options;

// ---- wait_group -------------------------------------------------------------

TEST_CASE("wait_group: wait returns once every done was called, and sees what they wrote") {
    constexpr int workers = 50;
    std::vector<int> written(workers, 0);  // plain ints: done happens before wait
    rill::run([&] {
        rill::wait_group wg;
        for (int i = 0; i < workers; ++i) {
            wg.add(1);
            rill::go([&, i] {
                rill::yield();
                written[i] = i + 1;
                wg.done();
            });
        }
        wg.wait();
    }, test_options());
    for (int i = 0; i < workers; ++i) CHECK(written[i] == i + 1);
}

TEST_CASE("wait_group: add(n) counts n, wait on zero returns at once") {
    std::atomic<int> finished{0};
    rill::run([&] {
        rill::wait_group wg;
        wg.wait();  // zero: returns at once
        wg.add(3);
        for (int i = 0; i < 3; ++i) rill::go([&] { ++finished; wg.done(); });
        wg.wait();
        wg.wait();  // still zero
    }, test_options());
    CHECK(finished == 3);
}

TEST_CASE("wait_group: several waiters are all released") {
    constexpr int waiters = 10;
    std::atomic<int> released{0};
    rill::run([&] {
        rill::wait_group gate, all_released;
        gate.add(1);
        all_released.add(waiters);
        for (int i = 0; i < waiters; ++i) {
            rill::go([&] {
                gate.wait();
                ++released;
                all_released.done();
            });
        }
        rill::yield();
        gate.done();
        all_released.wait();
    }, test_options());
    CHECK(released == waiters);
}

TEST_CASE("wait_group: it can be reused after reaching zero") {
    int rounds_done = rill::run([] {
        rill::wait_group wg;
        int rounds = 0;
        for (int r = 0; r < 20; ++r) {
            std::atomic<int> n{0};
            wg.add(4);
            for (int i = 0; i < 4; ++i) rill::go([&] { ++n; wg.done(); });
            wg.wait();
            rounds += n == 4;
        }
        return rounds;
    }, test_options());
    CHECK(rounds_done == 20);
}

TEST_CASE("wait_group: a negative counter throws std::logic_error") {
    rill::wait_group wg;
    CHECK_THROWS_AS(wg.done(), std::logic_error);
    wg.add(2);
    CHECK_THROWS_AS(wg.add(-3), std::logic_error);
    wg.add(-2);  // back to zero is fine
    wg.wait();
    CHECK_THROWS_AS(wg.add(-1), std::logic_error);
}

TEST_CASE("wait_group: plain threads call done, the main thread waits") {
    constexpr int threads = 4;
    std::vector<int> written(threads, 0);
    rill::wait_group wg;
    wg.add(threads);
    std::vector<std::thread> ts;
    for (int i = 0; i < threads; ++i) {
        ts.emplace_back([&, i] {
            written[i] = 10 + i;
            wg.done();
        });
    }
    wg.wait();
    for (int i = 0; i < threads; ++i) CHECK(written[i] == 10 + i);  // before join: done happens before wait
    for (auto& t : ts) t.join();
}

TEST_CASE("wait_group: a plain thread waits for coroutines") {
    constexpr int coroutines = 20;
    std::vector<int> written(coroutines, 0);
    rill::runtime rt(rill_test::plain_thread_options());
    rill::wait_group wg;
    wg.add(coroutines);
    for (int i = 0; i < coroutines; ++i) {
        rt.spawn([&, i] {
            rill::yield();
            written[i] = i;
            wg.done();
        });
    }
    wg.wait();
    for (int i = 0; i < coroutines; ++i) CHECK(written[i] == i);
    rt.wait();
}

// ---- mutex -------------------------------------------------------------------

TEST_CASE("mutex: std::scoped_lock keeps a counter exact under many coroutines") {
    constexpr int coroutines = 40, increments = 500;
    long counter = 0;  // plain: the mutex orders every access
    rill::run([&] {
        rill::mutex m;
        rill::wait_group wg;
        for (int i = 0; i < coroutines; ++i) {
            wg.add(1);
            rill::go([&] {
                for (int k = 0; k < increments; ++k) {
                    std::scoped_lock lock(m);
                    long seen = counter;
                    if (k % 50 == 0) rill::yield();  // hold it across a switch now and then
                    counter = seen + 1;
                }
                wg.done();
            });
        }
        wg.wait();
    }, test_options());
    CHECK(counter == long(coroutines) * increments);
}

TEST_CASE("mutex: a waiting coroutine leaves the worker to others (one worker)") {
    // With one worker, the holder can only reach unlock if lock() suspended
    // the waiter instead of spinning on the worker.
    bool got_it = rill::run([] {
        rill::mutex m;
        m.lock();
        rill::chan<bool> result(1);
        rill::go([&m, result] {
            m.lock();
            m.unlock();
            result.send(true);
        });
        rill::yield();  // the other coroutine blocks in lock()
        m.unlock();
        return *result.recv();
    }, single_worker());
    CHECK(got_it);
}

TEST_CASE("mutex: waiters get it in FIFO order") {
    std::vector<int> order;
    rill::run([&] {
        rill::mutex m;
        rill::wait_group wg;
        m.lock();
        for (int i = 0; i < 5; ++i) {
            wg.add(1);
            rill::go([&, i] {
                std::scoped_lock lock(m);
                order.push_back(i);
                wg.done();
            });
            rill::yield();  // one worker: waiter i queues before i+1
        }
        m.unlock();
        wg.wait();
    }, single_worker());
    CHECK(order == std::vector<int>{0, 1, 2, 3, 4});
}

TEST_CASE("mutex: try_lock") {
    rill::mutex m;
    CHECK(m.try_lock());
    CHECK_FALSE(m.try_lock());
    m.unlock();
    CHECK(m.try_lock());
    m.unlock();

    bool from_coroutine = rill::run([&m] {
        m.lock();
        bool other_failed = false;
        rill::chan<bool> done;
        rill::go([&m, done] { done.send(!m.try_lock()); });
        other_failed = *done.recv();
        m.unlock();
        return other_failed;
    }, test_options());
    CHECK(from_coroutine);
}

TEST_CASE("mutex: unlock of an unlocked mutex throws std::logic_error") {
    rill::mutex m;
    CHECK_THROWS_AS(m.unlock(), std::logic_error);
    m.lock();
    m.unlock();
    CHECK_THROWS_AS(m.unlock(), std::logic_error);
}

TEST_CASE("mutex: another coroutine than the locker may unlock it") {
    bool relocked = rill::run([] {
        auto m = std::make_shared<rill::mutex>();
        m->lock();
        rill::chan<int> unlocked;
        rill::go([m, unlocked] {
            m->unlock();
            unlocked.send(1);
        });
        unlocked.recv();
        bool ok = m->try_lock();
        if (ok) m->unlock();
        return ok;
    }, test_options());
    CHECK(relocked);
}

TEST_CASE("mutex: an unlock by another coroutine releases a blocked locker") {
    int value = rill::run([] {
        rill::mutex m;
        m.lock();
        rill::chan<int> result(1);
        rill::go([&m, result] {
            m.lock();  // waits until the helper below unlocks
            result.send(7);
            m.unlock();
        });
        rill::go([&m] { m.unlock(); });
        return *result.recv();
    }, test_options());
    CHECK(value == 7);
}

TEST_CASE("mutex: plain threads and coroutines share one mutex") {
    constexpr int threads = 3, coroutines = 10, increments = 300;
    long counter = 0;
    rill::mutex m;
    {
        rill::runtime rt(rill_test::plain_thread_options());
        for (int i = 0; i < coroutines; ++i) {
            rt.spawn([&] {
                for (int k = 0; k < increments; ++k) {
                    std::scoped_lock lock(m);
                    ++counter;
                }
            });
        }
        std::vector<std::thread> ts;
        for (int i = 0; i < threads; ++i) {
            ts.emplace_back([&] {
                for (int k = 0; k < increments; ++k) {
                    std::scoped_lock lock(m);
                    ++counter;
                }
            });
        }
        for (auto& t : ts) t.join();
        rt.wait();
    }
    CHECK(counter == long(threads + coroutines) * increments);
}

TEST_CASE("mutex: plain threads alone, without any runtime") {
    constexpr int threads = 4, increments = 2000;
    long counter = 0;
    rill::mutex m;
    std::vector<std::thread> ts;
    for (int i = 0; i < threads; ++i) {
        ts.emplace_back([&] {
            for (int k = 0; k < increments; ++k) {
                std::unique_lock lock(m);
                ++counter;
            }
        });
    }
    for (auto& t : ts) t.join();
    CHECK(counter == long(threads) * increments);
}

TEST_CASE("sync waits are unwound at the end of the run") {
    const long made_before = counted::made();
    rill::run([] {
        auto m = std::make_shared<rill::mutex>();
        auto wg = std::make_shared<rill::wait_group>();
        m->lock();
        wg->add(1);
        rill::chan<int> ready(2);
        rill::go([m, ready] {
            counted c;
            ready.send(1);
            std::scoped_lock lock(*m);
        });
        rill::go([wg, ready] {
            counted c;
            ready.send(1);
            wg->wait();
        });
        ready.recv();
        ready.recv();
    }, test_options());
    CHECK(counted::made() - made_before == 2);
    CHECK(counted::alive() == 0);
}

TEST_CASE("named mutex, wait_group and channel appear by name in a deadlock report") {
    std::string msg = rill_test::deadlock_message([] {
        rill::mutex left("fork 1"), right("fork 2");
        rill::wait_group pending("dinner");
        rill::chan<int> orders(0, "orders");
        left.lock();
        pending.add(1);
        rill::go("philosopher", [&] {
            right.lock();
            left.lock();   // held by the root: blocks forever
        });
        rill::go("waiter", [&] { pending.wait(); });
        rill::go("cook", [&] { orders.recv(); });
        rill::yield();
        right.lock();      // held by the philosopher
    }, rill_test::single_worker());   // one worker: the philosopher surely runs during the yield
    CHECK(rill_test::contains(msg, "\"philosopher\": lock on mutex \"fork 1\""));
    CHECK(rill_test::contains(msg, "\"root\": lock on mutex \"fork 2\""));
    CHECK(rill_test::contains(msg, "\"waiter\": wait on wait_group \"dinner\""));
    CHECK(rill_test::contains(msg, "\"cook\": recv on chan<int> \"orders\""));
}
