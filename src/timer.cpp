// src/timer.cpp: timers on an Asio io_context, delivered through channels.
#include "timer.hpp"

#include "coroutine.hpp"
#include "live_counts.hpp"
#include "scheduler.hpp"

#include <boost/asio/post.hpp>

#include <thread>

namespace rill::detail {

/// Counts one armed timer from arming until its handler ran or was
/// destroyed unrun (when the service stops). Lowering the count is the last
/// thing a handler does, after its try_send woke whoever waited.
class timer_service::pending {
public:
    explicit pending(timer_service* s) : s_(s) {
        counter().fetch_add(1, std::memory_order_seq_cst);
        live_counts::timers.fetch_add(1, std::memory_order_relaxed);
    }
    pending(pending&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
    pending(const pending&) = delete;
    ~pending() { release(); }
    void release() noexcept {
        if (!s_) return;
        live_counts::timers.fetch_sub(1, std::memory_order_relaxed);
        if (counter().fetch_sub(1, std::memory_order_seq_cst) == 1 && s_->owner_) s_->owner_->check_deadlock();
        s_ = nullptr;
    }

private:
    std::atomic<long>& counter() const noexcept { return s_->owner_ ? s_->owner_->pending_timers : s_->own_pending_; }
    timer_service* s_;
};

timer_service::timer_service(scheduler* owner) : owner_(owner), work_(boost::asio::make_work_guard(io_)) {
    thread_ = std::thread([this] { io_.run(); });
}

timer_service::~timer_service() { stop(); }

void timer_service::stop() {
    if (!thread_.joinable()) return;
    work_.reset();
    io_.stop();
    thread_.join();
    std::scoped_lock l(lock_);
    timers_.clear();   // their unrun handlers die with io_ (below), releasing their counts
}

timer_service::timer_list::iterator timer_service::add_timer(steady_clock::duration d) {
    std::scoped_lock l(lock_);
    timers_.emplace_front(io_, d);
    return timers_.begin();
}

void timer_service::remove_timer(timer_list::iterator it) {
    std::scoped_lock l(lock_);
    timers_.erase(it);
}

void timer_service::after(steady_clock::duration d, chan<steady_clock::time_point> ch) {
    pending count(this);
    auto it = add_timer(d);
    it->async_wait([this, it, ch = std::move(ch), count = std::move(count)](const boost::system::error_code& ec) mutable {
        remove_timer(it);
        if (!ec) ch.try_send(steady_clock::now());   // capacity 1, only we send: never full
        count.release();                             // after the wake: see `pending`
    });
}

void timer_service::start_ticker(std::shared_ptr<ticker_state> st) {
    pending count(this);
    boost::asio::post(io_, [this, st = std::move(st), count = std::move(count)]() mutable {
        if (std::scoped_lock l(st->lock); st->stopped) return;
        auto it = add_timer(st->period);
        st->timer = &*it;
        struct tick {
            timer_service* self;
            timer_list::iterator it;
            std::shared_ptr<ticker_state> st;
            pending count;
            void operator()(const boost::system::error_code& ec) {
                auto now = steady_clock::now();
                bool stopped;
                {
                    std::scoped_lock l(st->lock);
                    stopped = ec || st->stopped;
                    if (!stopped) st->ch.try_send(now);   // a slow reader misses ticks, as in Go
                }
                if (stopped) {
                    st->timer = nullptr;
                    self->remove_timer(it);
                    return;   // count released as this handler dies
                }
                auto next = it->expiry() + st->period;
                while (next <= now) next += st->period;
                it->expires_at(next);
                it->async_wait(std::move(*this));
            }
        };
        it->async_wait(tick{this, it, std::move(st), std::move(count)});
    });
}

void timer_service::stop_ticker(const std::shared_ptr<ticker_state>& st) {
    {
        std::scoped_lock l(st->lock);
        st->stopped = true;
    }
    boost::asio::post(io_, [st] {
        if (st->timer) st->timer->cancel();
    });
}

timer_service& current_timer_service() {
    if (coroutine* c = current_coroutine()) return c->sched.timers();
    static timer_service process_wide(nullptr);
    return process_wide;
}

}  // namespace rill::detail

namespace rill {

recv_chan<steady_clock::time_point> after(steady_clock::duration d) {
    chan<steady_clock::time_point> ch(1);
    if (d <= steady_clock::duration::zero()) {
        ch.try_send(steady_clock::now());
        return ch;
    }
    detail::current_timer_service().after(d, ch);
    return ch;
}

void sleep_for(steady_clock::duration d) {
    if (!detail::current_coroutine()) {
        std::this_thread::sleep_for(d);
        return;
    }
    after(d).recv();
}

ticker::ticker(steady_clock::duration period)
    : state_(std::make_shared<detail::ticker_state>()), chan_(state_->ch) {
    if (period <= steady_clock::duration::zero()) throw std::invalid_argument("rill::ticker: the period must be positive");
    state_->period = period;
    auto& service = detail::current_timer_service();
    service.start_ticker(state_);
    service_ = &service;
}

ticker::~ticker() { stop(); }

void ticker::stop() noexcept {
    if (!service_) return;
    static_cast<detail::timer_service*>(std::exchange(service_, nullptr))->stop_ticker(state_);
}

}  // namespace rill
