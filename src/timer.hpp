// src/timer.hpp: the Asio io_context behind after(), sleep_for() and ticker.
//
// One io_context per runtime, run by one timer thread that starts with the
// first timer. A timer's handler runs on that thread and try_sends the time
// into the timer's channel (capacity 1), which may wake a coroutine through
// the runtime's global queue. Each armed timer counts in
// scheduler::pending_timers until it fired or was cancelled: a runtime with
// a pending timer is not deadlocked.
#pragma once

#include <rill/chan.hpp>
#include <rill/time.hpp>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <list>
#include <memory>
#include <mutex>
#include <thread>

namespace rill::detail {

class scheduler;

struct ticker_state {
    chan<steady_clock::time_point> ch{1};
    steady_clock::duration period{};
    std::mutex lock;                  // a tick's check-and-send and stop() exclude each other:
    bool stopped = false;             // no tick is sent once stop() returned (guarded by lock)
    boost::asio::steady_timer* timer = nullptr;   // touched on the timer thread only
};

class timer_service {
public:
    /// owner: the runtime whose deadlock detection counts these timers; null
    /// for the process-wide service of plain threads.
    explicit timer_service(scheduler* owner);
    ~timer_service();
    timer_service(const timer_service&) = delete;
    timer_service& operator=(const timer_service&) = delete;

    /// try_sends the time into ch after d.
    void after(steady_clock::duration d, chan<steady_clock::time_point> ch);
    /// try_sends the time into st->ch every period until st->stopped.
    void start_ticker(std::shared_ptr<ticker_state> st);
    void stop_ticker(const std::shared_ptr<ticker_state>& st);
    /// Stops the thread; pending timers are dropped (and uncounted).
    void stop();

private:
    class pending;   // RAII: counts one armed timer
    using timer_list = std::list<boost::asio::steady_timer>;
    timer_list::iterator add_timer(steady_clock::duration d);
    void remove_timer(timer_list::iterator it);

    scheduler* owner_;
    std::atomic<long> own_pending_{0};   // used when there is no owner
    boost::asio::io_context io_;
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
    std::mutex lock_;                    // guards timers_
    timer_list timers_;
    std::thread thread_;
};

/// The timer service for the calling coroutine's runtime, or the process-wide one.
timer_service& current_timer_service();

}  // namespace rill::detail
