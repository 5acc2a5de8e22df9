// src/chan_core.cpp: the waiting core of channels.
//
// Invariants, under the channel's lock:
//  - recvq holds claimable nodes only while the buffer is empty, sendq only
//    while it is full (an unbuffered channel is both), except for a select
//    that waits on both sides of one channel (its own nodes never match:
//    they are enqueued together, after its poll found nothing);
//  - a value moves straight from a sender to a waiting receiver, never
//    through the buffer; the buffer is FIFO;
//  - once closed, nothing waits: close() wakes every node, receivers with
//    ok = false (nullopt once drained), senders with ok = false (they throw).
//
// Who wakes whom: the operation that finds a waiting partner claims it
// (one CAS, see wait.hpp), moves the value, unlocks, then wakes it. A
// claimed waiter cannot run until woken, so its node (on its stack) stays
// valid until then.
#include "live_counts.hpp"
#include "park.hpp"
#include "wait.hpp"

#include <rill/errors.hpp>

#include <fmt/format.h>

#include <cstring>
#include <memory>
#include <new>

namespace rill::detail {

// ---------------------------------------------------------------- wait_queue

void wait_queue::push(wait_node* n) noexcept {
    n->next = nullptr;
    n->prev = tail;
    if (tail) tail->next = n;
    else {
        head = n;
        occupied.store(true, std::memory_order_relaxed);
    }
    tail = n;
    n->queued = true;
}

void wait_queue::unlink(wait_node* n) noexcept {
    if (!n->queued) return;
    if (n->prev) n->prev->next = n->next;
    else if (!(head = n->next)) occupied.store(false, std::memory_order_relaxed);
    if (n->next) n->next->prev = n->prev;
    else tail = n->prev;
    n->next = n->prev = nullptr;
    n->queued = false;
}

// ---------------------------------------------------------------- chan_core

std::shared_ptr<chan_core> make_chan_core(std::size_t capacity, const elem_ops* ops, std::string name) {
    auto core = std::make_shared<chan_core>(capacity, ops);
    core->set_name(std::move(name));
    return core;
}

chan_core::chan_core(std::size_t capacity, const elem_ops* ops, const char* label, const char* send_op, const char* recv_op)
    : capacity_(capacity), ops_(ops), trivial_(ops->trivial),
      inline_copies_(ops->trivial && (ops->size == 1 || ops->size == 4 || ops->size == 8 || ops->size == 16)), elem_size_(std::uint32_t(ops->size)), label_(label), send_op_(send_op), recv_op_(recv_op) {
    if (capacity_ > 0) buffer_ = static_cast<unsigned char*>(::operator new(capacity_ * ops_->size, std::align_val_t(ops_->align)));
    live_counts::channel_made();
}

chan_core::~chan_core() {
    std::size_t n = count_.load(std::memory_order_relaxed);
    for (std::size_t i = 0; i < n; ++i) destroy_value<false>(slot_at(ring_index(head_ + i)));
    if (buffer_) ::operator delete(buffer_, std::align_val_t(ops_->align));
    live_counts::channel_gone();
}

// Trivially copyable values of the usual sizes are copied inline (a chain
// of compares, each predicted at its call site: a switch compiled to an
// indirect jump through a table, a tenth of a ping-pong's poll); others
// through memcpy or the type's move constructor (a call).
template <bool Copies>
[[gnu::always_inline]] inline void chan_core::move_value(void* dst, void* src) const noexcept {
    const std::uint32_t n = elem_size_;
    if (Copies) {   // n is 1, 4, 8 or 16
        if (n == 8) std::memcpy(dst, src, 8);
        else if (n == 4) std::memcpy(dst, src, 4);
        else if (n == 16) std::memcpy(dst, src, 16);
        else std::memcpy(dst, src, 1);
    } else if (trivial_) {
        std::memcpy(dst, src, n);
    } else {
        ops_->move_construct(dst, src);
    }
}

template <bool Copies>
[[gnu::always_inline]] inline void chan_core::buffer_push(void* src) noexcept {
    std::size_t n = count_.load(std::memory_order_relaxed);
    move_value<Copies>(slot_at(ring_index(head_ + n)), src);
    count_.store(n + 1, std::memory_order_relaxed);
}

template <bool Copies>
[[gnu::always_inline]] inline void chan_core::buffer_pop(void* dst) noexcept {
    void* s = slot_at(head_);
    move_value<Copies>(dst, s);
    destroy_value<Copies>(s);
    head_ = ring_index(head_ + 1);
    count_.store(count_.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
}

wait_node* chan_core::claim_first(wait_queue& q) noexcept {
    while (wait_node* n = q.head) {
        q.unlink(n);
        if (claim(*n->who, n->seq)) return n;
        // lost: its select already fired elsewhere, or it is being cancelled
    }
    return nullptr;
}

// The polls run their Copies version inline (no call on its path, so no
// registers saved) and the general one out of line, as a tail call.
bool chan_core::poll_send_locked(void* src) {
    if (inline_copies_) return poll_send_as<true>(src);
    return poll_send_general(src);
}

bool chan_core::poll_recv_locked(void* dst, bool& got) {
    if (inline_copies_) return poll_recv_as<true>(dst, got);
    return poll_recv_general(dst, got);
}

// Sender side, lock held: hand off to a receiver or buffer. The claimed
// receiver is kept for take_wake(), to be woken after unlock.
template <bool Copies>
bool chan_core::poll_send_as(void* src) {
    if (wait_node* r = recvq_.empty() ? nullptr : claim_first(recvq_)) {
        // The claimed receiver cannot run before it is woken (after the
        // unlock): its node is marked first, the value moved last (so
        // that nothing is live across a general move's call).
        r->ok = true;
        r->who->fired = r;
        wake_after_unlock_ = r;
        move_value<Copies>(r->slot, src);
        return true;
    }
    if (count_.load(std::memory_order_relaxed) < capacity_) {
        buffer_push<Copies>(src);
        return true;
    }
    return false;
}

// Receiver side, lock held. Returns true when done; `got` tells a value
// from "closed and drained".
template <bool Copies>
bool chan_core::poll_recv_as(void* dst, bool& got) {
    if (wait_node* s = sendq_.empty() ? nullptr : claim_first(sendq_)) {
        s->ok = true;
        s->who->fired = s;
        wake_after_unlock_ = s;
        got = true;
        if (capacity_ == 0) {
            move_value<Copies>(dst, s->slot);
        } else {
            // Full buffer with a sender waiting: take the head, move the
            // sender's value into the tail (the sender is woken after unlock).
            buffer_pop<Copies>(dst);
            buffer_push<Copies>(s->slot);
        }
        return true;
    }
    if (count_.load(std::memory_order_relaxed) > 0) {
        got = true;
        buffer_pop<Copies>(dst);
        return true;
    }
    if (closed_) {
        got = false;
        return true;
    }
    return false;
}

bool chan_core::poll_send_general(void* src) { return poll_send_as<false>(src); }

bool chan_core::poll_recv_general(void* dst, bool& got) { return poll_recv_as<false>(dst, got); }

wait_node* chan_core::take_wake() noexcept { return std::exchange(wake_after_unlock_, nullptr); }

void chan_core::unlock_and_wake() noexcept {
    wait_node* n = take_wake();
    lock_.unlock();
    if (n) wake(*n->who);
}

void chan_core::send_locked(void* src) {
    if (closed_) {
        lock_.unlock();
        throw channel_closed("send on closed channel");
    }
    // The poll's conditions first, inline: a sender that will park (the
    // usual reason to be here) makes no call to learn it.
    if ((!recvq_.empty() || count_.load(std::memory_order_relaxed) < capacity_) && poll_send_locked(src)) {
        unlock_and_wake();
        return;
    }
    waitable& w = current_waitable();
    wait_node node;
    node.is_send = true;
    node.slot = src;
    node.chan = this;
    node.who = &w;
    node.seq = begin_wait(w, send_op_, this);
    sendq_.push(&node);
    chan_core* self = this;
    if (park(w, node.seq, held_locks{&self, 1}) == park_result::cancelled) {
        lock_.lock();
        sendq_.unlink(&node);
        lock_.unlock();
        throw coroutine_unwind{};
    }
    if (!node.ok) throw channel_closed("send on closed channel (closed while the sender waited)");
}

bool chan_core::recv_locked(void* dst) {
    bool got = false;
    if (poll_recv_locked(dst, got)) {
        unlock_and_wake();
        return got;
    }
    waitable& w = current_waitable();
    wait_node node;
    node.slot = dst;
    node.chan = this;
    node.who = &w;
    node.seq = begin_wait(w, recv_op_, this);
    recvq_.push(&node);
    chan_core* self = this;
    if (park(w, node.seq, held_locks{&self, 1}) == park_result::cancelled) {
        lock_.lock();
        recvq_.unlink(&node);
        lock_.unlock();
        throw coroutine_unwind{};
    }
    return node.ok;
}

bool chan_core::try_send(void* src) {
    lock_.lock();
    return try_send_locked(src, "try_send on closed channel");
}

bool chan_core::try_send_locked(void* src, const char* closed_what) {
    if (closed_) {
        lock_.unlock();
        throw channel_closed(closed_what);
    }
    bool done = poll_send_locked(src);
    unlock_and_wake();
    return done;
}

try_recv_status chan_core::try_recv(void* dst) {
    lock_.lock();
    bool got = false;
    bool done = poll_recv_locked(dst, got);
    unlock_and_wake();
    if (!done) return try_recv_status::empty;
    return got ? try_recv_status::value : try_recv_status::closed;
}

void chan_core::close() {
    lock_.lock();
    if (closed_) {
        lock_.unlock();
        throw channel_closed("close of closed channel");
    }
    closed_ = true;
    closed_flag_.store(true, std::memory_order_release);
    wait_node* woken = nullptr;   // claimed nodes in FIFO order, woken after unlock
    wait_node** tail = &woken;
    for (wait_queue* q : {&recvq_, &sendq_}) {
        while (wait_node* n = claim_first(*q)) {
            n->ok = false;
            n->who->fired = n;
            n->wake_next = nullptr;
            *tail = n;
            tail = &n->wake_next;
        }
    }
    lock_.unlock();
    while (woken) {
        wait_node* n = woken;
        woken = n->wake_next;   // read before wake: n may vanish once its owner runs
        wake(*n->who);
    }
}

}  // namespace rill::detail
