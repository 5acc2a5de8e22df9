// src/live_counts.cpp: the per-thread cells of live_counts.hpp.
#include "live_counts.hpp"

namespace rill::detail::live_counts {

namespace {

std::atomic<count_cell*> all_cells{nullptr};

/// Gives the thread's cell back as the thread exits. A count changed by a
/// later thread_local destructor of the same thread takes the cell again
/// (my_cell finds tls_cell null) and keeps it: a cell lost to reuse, never
/// a count.
struct cell_release {
    ~cell_release() {
        if (count_cell* c = tls_cell) {
            tls_cell = nullptr;
            c->in_use.store(false, std::memory_order_release);   // our stores happen before the next owner's loads
        }
    }
};

}  // namespace

count_cell& take_cell() noexcept {
    for (count_cell* c = all_cells.load(std::memory_order_acquire); c; c = c->next) {
        bool free = false;
        if (!c->in_use.load(std::memory_order_relaxed) &&
            c->in_use.compare_exchange_strong(free, true, std::memory_order_acquire)) {
            tls_cell = c;
            break;
        }
    }
    if (!tls_cell) {
        auto* c = new count_cell;   // noexcept caller: a failure here terminates, as any allocation in a destructor would
        c->in_use.store(true, std::memory_order_relaxed);
        count_cell* head = all_cells.load(std::memory_order_relaxed);
        do c->next = head;
        while (!all_cells.compare_exchange_weak(head, c, std::memory_order_release, std::memory_order_relaxed));
        tls_cell = c;
    }
    static thread_local cell_release release;   // constructed once per thread: its destructor runs at thread exit
    (void)release;
    return *tls_cell;
}

namespace {

long sum(std::atomic<long> count_cell::*field) noexcept {
    long total = 0;
    for (count_cell* c = all_cells.load(std::memory_order_acquire); c; c = c->next) total += (c->*field).load(std::memory_order_acquire);
    return total;
}

}  // namespace

std::size_t coroutines() noexcept { return std::size_t(sum(&count_cell::coroutines)); }
std::size_t coroutine_records() noexcept { return std::size_t(sum(&count_cell::records)); }
std::size_t channels() noexcept { return std::size_t(sum(&count_cell::channels)); }

}  // namespace rill::detail::live_counts
