// rill/time.hpp: timers as channels, backed by the runtime's Asio io_context.
//
//     rill::select(rill::on_recv(replies, [&](auto r) { ... }),
//                  rill::on_recv(rill::after(100ms), [&](auto) { timed_out = true; }));
//     rill::sleep_for(10ms);                  // holds no worker while it sleeps
//     rill::ticker t(1s); for (auto at : t.chan()) { ... }
//
// A sleeping coroutine holds no worker thread. A pending timer or a running
// ticker counts as something that can still wake a coroutine, so a program
// waiting on one is not deadlocked. On a plain thread (no runtime), timers
// run on a process-wide timer thread.
#pragma once

#include <rill/chan.hpp>

#include <chrono>
#include <memory>

namespace rill {

using steady_clock = std::chrono::steady_clock;

/// A channel that delivers the time once, after d. Its capacity is 1, so a
/// timer nobody reads never blocks anything and frees itself when it fires.
/// Until then it stays armed (as in Go before 1.23): a loop that selects on
/// a fresh after(1h) at every turn keeps one armed timer per turn for an
/// hour; make one timer (or a ticker) outside such a loop instead.
recv_chan<steady_clock::time_point> after(steady_clock::duration d);

/// Suspends the calling coroutine (or thread) for d.
void sleep_for(steady_clock::duration d);

namespace detail {
struct ticker_state;
}

/// Delivers the time every period on chan() until stop() or destruction.
/// Ticks are dropped while the reader is slow (the channel holds one), as
/// with Go's time.Ticker. stop() does not close the channel.
class ticker {
public:
    explicit ticker(steady_clock::duration period);
    ~ticker();
    ticker(const ticker&) = delete;
    ticker& operator=(const ticker&) = delete;
    recv_chan<steady_clock::time_point> chan() const noexcept { return chan_; }
    void stop() noexcept;

private:
    std::shared_ptr<detail::ticker_state> state_;
    recv_chan<steady_clock::time_point> chan_;
    void* service_ = nullptr;   // the timer_service it runs on
};

}  // namespace rill
