// rill/detail/chan_core.hpp: the type-erased core of a channel.
//
// chan<T> only owns values and moves them; waiting, waking, the buffer ring
// and select live once, here and in src/chan_core.cpp and src/select.cpp.
// Values cross the core as raw pointers: a sender passes the address of the
// T to move from, a receiver the address of uninitialised storage for a T.
#pragma once

#include <rill/detail/biased_lock.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <new>
#include <string>
#include <type_traits>
#include <typeinfo>
#include <utility>

namespace rill::detail {

/// How the core moves and destroys values of the element type.
struct elem_ops {
    void (*move_construct)(void* dst, void* src) noexcept;  // dst uninitialised, src stays alive
    void (*destroy)(void* p) noexcept;
    std::size_t size;
    std::size_t align;
    const std::type_info* type;
    bool trivial;   // trivially copyable: moved by memcpy, never destroyed
};

template <class T>
inline constexpr elem_ops elem_ops_of{
    [](void* dst, void* src) noexcept { ::new (dst) T(std::move(*static_cast<T*>(src))); },
    [](void* p) noexcept { static_cast<T*>(p)->~T(); },
    sizeof(T),
    alignof(T),
    &typeid(T),
    std::is_trivially_copyable_v<T>,
};

struct waitable;

/// One blocked operation's entry in a channel's wait queue. It lives on the
/// waiter's stack; only code holding the channel's lock touches the links.
struct wait_node {
    wait_node* next = nullptr;
    wait_node* prev = nullptr;
    bool queued = false;        // linked in a queue (cleared by whoever unlinks it)
    bool ok = false;            // set by the waker: true = value moved, false = woken by close
    bool is_send = false;
    std::uint32_t case_index = 0;  // position in a select, 0 otherwise
    waitable* who = nullptr;       // the coroutine or thread that waits
    std::uint64_t seq = 0;         // which of its waits this node belongs to
    void* slot = nullptr;          // send: value to move from; recv: storage to move into
    class chan_core* chan = nullptr;
    wait_node* wake_next = nullptr;  // close() gathers the nodes it wakes here
};

/// FIFO of wait_nodes (intrusive, doubly linked).
struct wait_queue {
    wait_node* head = nullptr;
    wait_node* tail = nullptr;
    std::atomic<bool> occupied{false};   // head != nullptr, written under the lock, readable without it (a hint)
    void push(wait_node* n) noexcept;
    void unlink(wait_node* n) noexcept;  // no-op when n is not queued
    bool empty() const noexcept { return head == nullptr; }
};

enum class try_recv_status { value, empty, closed };

/// The channel proper. Invariants (under `lock_`):
///  - at most one of recvq_ and sendq_ holds nodes that can still be claimed,
///    except while a select waits on both sides of the same channel;
///  - recvq_ nodes exist only while the buffer is empty, sendq_ nodes only
///    while it is full (capacity 0 is always full and empty);
///  - once closed_, no node is queued and none is added.
class chan_core {
public:
    /// `label` and the op names say what a waiter waits for in deadlock
    /// reports: a mutex is a channel whose "send" is "lock".
    chan_core(std::size_t capacity, const elem_ops* ops, const char* label = "chan", const char* send_op = "send",
              const char* recv_op = "recv");
    ~chan_core();
    chan_core(const chan_core&) = delete;
    chan_core& operator=(const chan_core&) = delete;

    void send(void* src) {                   // throws channel_closed
        lock_.lock_or_move();
        send_locked(src);
    }
    bool recv(void* dst) {                   // false: closed and drained
        lock_.lock_or_move();
        return recv_locked(dst);
    }
    /// send and recv for a chan<T>, inline at the caller: a value that only
    /// passes through the ring (room or a value there, nobody waiting on
    /// the other side, open) is moved with T known, under one lock, without
    /// a call. Anything else goes on out of line with the lock still held.
    template <class T>
    void send_value(T* src);
    template <class T>
    bool recv_value(void* dst);
    /// try_recv for a chan<T>, with the same inline case (also select's
    /// first look at a receive case). may_move: the caller would block if
    /// this failed (a select without a default), so it may move to the
    /// channel lock's owner as send and recv do (biased_lock::lock_or_move);
    /// a try_recv of the user's never changes threads.
    template <class T>
    try_recv_status try_recv_value(void* dst, bool may_move = false);
    /// try_send for a chan<T>, likewise (and select's first look at a send
    /// case); `closed_what` is the channel_closed message on a closed channel.
    template <class T>
    bool try_send_value(T* src, const char* closed_what, bool may_move = false);
    bool try_send(void* src);                // throws channel_closed
    try_recv_status try_recv(void* dst);
    void close();                            // throws channel_closed when already closed
    std::size_t size() const noexcept { return count_.load(std::memory_order_relaxed); }
    std::size_t capacity() const noexcept { return capacity_; }
    bool closed() const noexcept { return closed_flag_.load(std::memory_order_acquire); }
    const char* label() const noexcept { return label_; }
    /// A name given by the user, for deadlock reports (set before sharing, then read-only).
    const std::string& name() const noexcept { return name_; }
    void set_name(std::string name) { name_ = std::move(name); }
    const elem_ops& ops() const noexcept { return *ops_; }

    // --- for select (src/select.cpp) and the parking seam; lock held ---
    void lock() noexcept { lock_.lock(); }
    void unlock() noexcept { lock_.unlock(); }
    // The polls complete an operation without blocking if they can; a
    // partner they claimed is kept for take_wake(), to be woken after unlock.
    bool poll_send_locked(void* src);             // hand-off or buffer; false = would block
    bool poll_recv_locked(void* dst, bool& got);  // true = done (got: a value, or closed and drained)
    wait_node* take_wake() noexcept;
    /// A hint read without the lock: false when the operation would block
    /// now as far as the buffer count (buffered) or the other side's wait
    /// queue (unbuffered) says, and the channel is open. A stale answer
    /// only costs select its fast path; its locked poll decides.
    bool maybe_ready(bool is_send) const noexcept {
        // The usual answer first, from the count (on the lock's cache line);
        // the closed flag sits on the next line. A receive looks at the
        // count before the capacity: values in the ring mean ready, and an
        // unbuffered channel's count is always 0.
        if (is_send) {
            if (capacity_ != 0 ? count_.load(std::memory_order_relaxed) < capacity_
                               : recvq_.occupied.load(std::memory_order_relaxed))
                return true;
        } else {
            if (count_.load(std::memory_order_relaxed) != 0) return true;
            if (capacity_ == 0 && sendq_.occupied.load(std::memory_order_relaxed)) return true;
        }
        return closed_flag_.load(std::memory_order_relaxed);
    }
    void unlock_and_wake() noexcept;
    bool closed_locked() const noexcept { return closed_; }
    void enqueue_locked(wait_node* n) noexcept { (n->is_send ? sendq_ : recvq_).push(n); }
    void dequeue_locked(wait_node* n) noexcept { (n->is_send ? sendq_ : recvq_).unlink(n); }

private:
    template <class T>
    bool push_value_locked(T* src) noexcept;
    template <class T>
    bool pop_value_locked(void* dst) noexcept;
    void send_locked(void* src);   // send, lock_ held on entry: hands off, buffers or parks
    bool try_send_locked(void* src, const char* closed_what);   // try_send, likewise
    bool recv_locked(void* dst);   // recv, likewise
    wait_node* claim_first(wait_queue& q) noexcept;  // first node whose waiter we win
    void* slot_at(std::size_t i) const noexcept { return buffer_ + i * elem_size_; }
    std::size_t ring_index(std::size_t i) const noexcept { return i < capacity_ ? i : i - capacity_; }   // i < 2 * capacity_
    // The moves of the polls, in two versions: Copies (the value is
    // trivially copyable and of 1, 4, 8 or 16 bytes: copied inline, no call
    // anywhere on the path, so the polls save no registers) and the general
    // one (any size, the type's move constructor and destructor).
    template <bool Copies>
    void move_value(void* dst, void* src) const noexcept;   // construct at dst from src
    template <bool Copies>
    void destroy_value(void* p) const noexcept {
        if (!Copies && !trivial_) ops_->destroy(p);
    }
    template <bool Copies>
    void buffer_push(void* src) noexcept;
    template <bool Copies>
    void buffer_pop(void* dst) noexcept;
    template <bool Copies>
    bool poll_send_as(void* src);
    template <bool Copies>
    bool poll_recv_as(void* dst, bool& got);
    [[gnu::noinline]] bool poll_send_general(void* src);               // poll_send_as<false>
    [[gnu::noinline]] bool poll_recv_general(void* dst, bool& got);    // poll_recv_as<false>

    biased_lock lock_;                       // guards everything below
    bool closed_ = false;
    std::size_t head_ = 0;                   // ring index of the oldest value
    std::atomic<std::size_t> count_{0};      // values in the ring (written under lock_)
    wait_queue recvq_;                       // blocked receivers
    wait_queue sendq_;                       // blocked senders
    std::atomic<bool> closed_flag_{false};   // closed_, readable without the lock
    const std::size_t capacity_;
    const elem_ops* const ops_;
    const bool trivial_;                     // ops_->trivial, kept beside the ring's fields
    const bool inline_copies_;               // trivial_ and 1, 4, 8 or 16 bytes: the polls' Copies version
    const std::uint32_t elem_size_;          // ops_->size, likewise
    unsigned char* buffer_ = nullptr;        // capacity_ slots of ops_->size bytes
    const char* label_;                      // "chan", "mutex", "wait_group": for deadlock reports
    std::string name_;                       // the user's name for it, if any
    const char* send_op_;
    const char* recv_op_;
    wait_node* wake_after_unlock_ = nullptr; // partner claimed by the last poll (under lock_)
};

// A T's move constructor that may throw runs out of line, where elem_ops
// treats it as noexcept like every other move the core makes; the inline
// path takes only the ones that cannot throw, so no exception leaves the
// lock held.

// The ring-only case of a send, lock held: true when the value went into
// the ring (open, room, no receiver waiting; never for capacity 0).
template <class T>
[[gnu::always_inline]] inline bool chan_core::push_value_locked(T* src) noexcept {
    if constexpr (std::is_nothrow_move_constructible_v<T>) {
        const std::size_t n = count_.load(std::memory_order_relaxed);
        if (n < capacity_ && recvq_.empty() && !closed_) {
            ::new (static_cast<void*>(reinterpret_cast<T*>(buffer_) + ring_index(head_ + n))) T(std::move(*src));
            count_.store(n + 1, std::memory_order_relaxed);
            return true;
        }
    }
    return false;
}

// The ring-only case of a receive, lock held: true when a value was taken
// from the ring with no sender waiting (a full ring's waiting sender must
// be moved in and woken: out of line).
template <class T>
[[gnu::always_inline]] inline bool chan_core::pop_value_locked(void* dst) noexcept {
    if constexpr (std::is_nothrow_move_constructible_v<T>) {
        const std::size_t n = count_.load(std::memory_order_relaxed);
        if (n != 0 && sendq_.empty()) {
            T* s = std::launder(reinterpret_cast<T*>(buffer_) + head_);
            ::new (dst) T(std::move(*s));
            s->~T();
            head_ = ring_index(head_ + 1);
            count_.store(n - 1, std::memory_order_relaxed);
            return true;
        }
    }
    return false;
}

template <class T>
inline void chan_core::send_value(T* src) {
    lock_.lock_or_move();
    if (push_value_locked(src)) {
        lock_.unlock();
        return;
    }
    send_locked(src);
}

template <class T>
inline bool chan_core::recv_value(void* dst) {
    lock_.lock_or_move();
    if (pop_value_locked<T>(dst)) {
        lock_.unlock();
        return true;
    }
    return recv_locked(dst);
}

template <class T>
inline try_recv_status chan_core::try_recv_value(void* dst, bool may_move) {
    if (may_move) lock_.lock_or_move();
    else lock_.lock();
    if (pop_value_locked<T>(dst)) {
        lock_.unlock();
        return try_recv_status::value;
    }
    bool got = false;
    bool done = poll_recv_locked(dst, got);
    unlock_and_wake();
    if (!done) return try_recv_status::empty;
    return got ? try_recv_status::value : try_recv_status::closed;
}

template <class T>
inline bool chan_core::try_send_value(T* src, const char* closed_what, bool may_move) {
    if (may_move) lock_.lock_or_move();
    else lock_.lock();
    if (push_value_locked(src)) {
        lock_.unlock();
        return true;
    }
    return try_send_locked(src, closed_what);
}

/// Blocks the current coroutine (or thread) forever: a nil channel's send
/// and recv, and an empty select. Counts as blocked for deadlock detection;
/// only the end of the run (unwinding) gets it out.
[[noreturn]] void block_forever(const char* what);

}  // namespace rill::detail
