// src/select.cpp: select over several channel operations (Go's selectgo).
//
//  0. (include/rill/select.hpp, inline, before any of this) The first look:
//     one of the cases whose channel hints ready, picked at random, is
//     performed with T known; only when there is none, or it was not ready
//     after all, does select_cases run.
//  1. Shuffle the cases (poll order) for fairness.
//  2. Fast path: try each case alone, in poll order, under its own
//     channel's lock only, skipping without any lock a channel whose
//     buffer count (or, unbuffered, whose other side's wait queue) says it
//     cannot be ready; so a select that will block locks each channel once,
//     in the slow path, not twice. The first case that completes
//     is the select's: it was ready when it was performed. A select whose
//     cases are usually ready (a consumer over busy channels) takes one
//     lock, not all of them.
//  3. Slow path: sort the distinct channels by address (lock order, so two
//     selects never deadlock on each other's locks), lock them all and
//     poll again: this is the atomic snapshot that a default case, or the
//     decision to park, needs. A send case on a closed channel throws
//     channel_closed.
//  4. Nothing ready: with a default case, return it. Otherwise enqueue one
//     node per case, all carrying the same wait seq, and park; the locks
//     are released after the switch.
//  5. Woken by exactly one node (the claim CAS), lock everything again and
//     unlink the other nodes, which wakers may have unlinked already.
#include "park.hpp"
#include "scheduler.hpp"
#include "wait.hpp"

#include <rill/errors.hpp>
#include <rill/select.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>

namespace rill::detail {

namespace {

/// An array on the stack for the usual few cases, on the heap beyond. Only
/// the n elements in use are constructed (value-initialized): a select that
/// parks over 4 channels used to clear 16 wait_nodes, 1 KiB, each time.
template <class T, std::size_t Inline = 16>
class small_array {
public:
    explicit small_array(std::size_t n) : n_(n) {
        if (n > Inline) {
            heap_ = std::make_unique<T[]>(n);
            data_ = heap_.get();
        } else {
            data_ = std::uninitialized_value_construct_n(reinterpret_cast<T*>(inline_), n) - n;
        }
    }
    ~small_array() {
        if (!heap_) std::destroy_n(data_, n_);
    }
    small_array(const small_array&) = delete;
    small_array& operator=(const small_array&) = delete;
    T& operator[](std::size_t i) noexcept { return data_[i]; }
    T* data() noexcept { return data_; }

private:
    alignas(T) std::byte inline_[sizeof(T) * Inline];
    std::unique_ptr<T[]> heap_;
    T* data_;
    std::size_t n_;
};

struct locked_set {
    chan_core** chans;
    std::size_t n;
    void lock() const noexcept {
        for (std::size_t i = 0; i < n; ++i) chans[i]->lock();
    }
    void unlock() const noexcept {
        for (std::size_t i = 0; i < n; ++i) chans[i]->unlock();
    }
};

/// Fisher-Yates over n < 2^32 elements from one 64-bit random word: each
/// step takes a bounded index from the high half of a 128-bit product and
/// keeps the low half as the next word (Lemire). Bias is below 2^-32 per
/// step for the few cases a select has.
void shuffle(std::uint32_t* a, std::size_t n) noexcept {
    if (n < 2) return;
    std::uint64_t r = random_u64();
    for (std::size_t i = n; i > 1; --i) {
        unsigned __int128 m = static_cast<unsigned __int128>(r) * i;
        std::swap(a[i - 1], a[std::size_t(m >> 64)]);
        r = std::uint64_t(m);
        if (r < (std::uint64_t(1) << 32)) r = random_u64();   // too few bits left
    }
}

}  // namespace

std::uint64_t select_random() noexcept { return random_u64(); }

select_outcome select_cases(select_case* cases, std::size_t n, bool biased) {
    small_array<std::uint32_t> order(n);
    small_array<chan_core*> chans(n);
    std::size_t active = 0;
    std::size_t default_index = n;
    for (std::size_t i = 0; i < n; ++i) {
        if (cases[i].is_default) default_index = i;
        else if (cases[i].chan) order[active++] = std::uint32_t(i);
    }
    if (!biased) shuffle(order.data(), active);

    // 2. Fast path: one case at a time, each under its own lock.
    for (std::size_t k = 0; k < active; ++k) {
        std::size_t i = order[k];
        select_case& c = cases[i];
        if (!c.chan->maybe_ready(c.is_send)) continue;
        c.chan->lock();
        bool done = false;
        bool got = false;
        if (c.is_send) {
            if (c.chan->closed_locked()) {
                c.chan->unlock();
                throw channel_closed("select: send case on closed channel");
            }
            done = c.chan->poll_send_locked(c.slot);
        } else {
            done = c.chan->poll_recv_locked(c.slot, got);
        }
        if (done) {
            c.chan->unlock_and_wake();
            return {i, got};
        }
        c.chan->unlock();
    }

    // 3. Slow path: every channel locked at once.
    for (std::size_t i = 0; i < active; ++i) chans[i] = cases[order[i]].chan;
    std::sort(chans.data(), chans.data() + active);
    std::size_t distinct = std::size_t(std::unique(chans.data(), chans.data() + active) - chans.data());
    if (active == 0) {
        if (default_index < n) return {default_index, false};
        park_forever("select (no case can ever proceed: nil channels only)");
    }
    locked_set locked{chans.data(), distinct};

    locked.lock();
    for (std::size_t k = 0; k < active; ++k) {
        std::size_t i = order[k];
        select_case& c = cases[i];
        bool done = false;
        bool got = false;
        if (c.is_send) {
            if (c.chan->closed_locked()) {
                locked.unlock();
                throw channel_closed("select: send case on closed channel");
            }
            done = c.chan->poll_send_locked(c.slot);
        } else {
            done = c.chan->poll_recv_locked(c.slot, got);
        }
        if (done) {
            wait_node* partner = c.chan->take_wake();
            locked.unlock();
            if (partner) wake(*partner->who);
            return {i, got};
        }
    }

    // 4. Nothing ready.
    if (default_index < n) {
        locked.unlock();
        return {default_index, false};
    }
    waitable& w = current_waitable();
    std::uint64_t seq = begin_wait(w, "select", distinct == 1 ? chans[0] : nullptr);
    small_array<wait_node> nodes(active);
    for (std::size_t k = 0; k < active; ++k) {
        std::size_t i = order[k];
        wait_node& node = nodes[k];
        node.is_send = cases[i].is_send;
        node.slot = cases[i].slot;
        node.case_index = std::uint32_t(i);
        node.chan = cases[i].chan;
        node.who = &w;
        node.seq = seq;
        node.chan->enqueue_locked(&node);
    }
    park_result how = park(w, seq, held_locks{chans.data(), distinct});

    // 5. Woken once: take our other nodes back.
    locked.lock();
    for (std::size_t k = 0; k < active; ++k) nodes[k].chan->dequeue_locked(&nodes[k]);
    locked.unlock();
    if (how == park_result::cancelled) throw coroutine_unwind{};
    wait_node* fired = w.fired;
    if (fired->is_send) {
        if (!fired->ok) throw channel_closed("select: send case's channel was closed while the select waited");
        return {fired->case_index, false};
    }
    return {fired->case_index, fired->ok};
}

}  // namespace rill::detail
