// rill/chan.hpp: Go-style channels.
//
//     rill::chan<int> c(16);              // buffered; rill::chan<int> d; is unbuffered
//     rill::go([c] { for (int i = 0; i < 3; ++i) c.send(i); c.close(); });
//     for (int v : c) use(v);             // 0, 1, 2, then the loop ends
//
// A chan is a handle with shared ownership, cheap to copy, like a Go channel
// value. Its operations are const so a lambda that captured it by copy needs
// no `mutable`. On a coroutine a blocking operation suspends the coroutine
// (never the worker); on a plain thread it blocks the thread. A coroutine
// may continue on another worker thread after any blocking operation
// (send, recv, a select without on_default), even one that did not wait:
// it may move to the worker its channel's lock is biased toward. try_send,
// try_recv and a select with on_default never change threads. During the
// unwinding at the end of a run, a blocking operation throws an internal
// exception that unwinds the coroutine.
#pragma once

#include <rill/detail/chan_core.hpp>
#include <rill/errors.hpp>

#include <concepts>
#include <cstddef>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <iterator>
#include <memory>
#include <optional>
#include <utility>

namespace rill {

template <class T> class chan;
template <class T> class send_chan;
template <class T> class recv_chan;

/// The result of try_recv: like std::optional<T>, and closed() tells
/// "closed and drained" from "nothing there now".
template <class T>
class try_result {
public:
    try_result() = default;
    explicit try_result(T v) : value_(std::move(v)) {}
    static try_result closed_result() { try_result r; r.closed_ = true; return r; }

    explicit operator bool() const noexcept { return value_.has_value(); }
    bool has_value() const noexcept { return value_.has_value(); }
    bool closed() const noexcept { return closed_; }
    T& operator*() & { return *value_; }
    T&& operator*() && { return std::move(*value_); }
    T* operator->() { return &*value_; }
    T& value() & { return value_.value(); }
    std::optional<T> take() { return std::move(value_); }

private:
    std::optional<T> value_;
    bool closed_ = false;
};

namespace detail {

/// Raw storage for one T that the core may move a value into.
template <class T>
class value_slot {
public:
    value_slot() = default;
    value_slot(const value_slot&) = delete;
    ~value_slot() { if (full_) get().~T(); }
    void* raw() noexcept { return &bytes_; }
    void mark_full() noexcept { full_ = true; }
    T take() { full_ = false; T v(std::move(get())); get().~T(); return v; }

private:
    T& get() noexcept { return *std::launder(reinterpret_cast<T*>(&bytes_)); }
    alignas(T) unsigned char bytes_[sizeof(T)];
    bool full_ = false;
};

/// What chan, send_chan and recv_chan share: the pointer to the core.
template <class T>
class chan_handle {
public:
    using value_type = T;
    std::size_t size() const noexcept { return core_ ? core_->size() : 0; }
    std::size_t capacity() const noexcept { return core_ ? core_->capacity() : 0; }
    /// False for a nil channel.
    explicit operator bool() const noexcept { return core_ != nullptr; }
    chan_core* core() const noexcept { return core_.get(); }
    const std::shared_ptr<chan_core>& shared_core() const noexcept { return core_; }
    friend bool operator==(const chan_handle& a, const chan_handle& b) noexcept { return a.core_ == b.core_; }

protected:
    chan_handle() = default;
    explicit chan_handle(std::shared_ptr<chan_core> c) noexcept : core_(std::move(c)) {}

    void do_send(T& v) const {
        if (!core_) block_forever("send on nil channel");
        core_->send_value(&v);
    }
    bool do_try_send(T& v) const { return core_ ? core_->try_send_value(&v, "try_send on closed channel") : false; }
    std::optional<T> do_recv() const {
        if (!core_) block_forever("recv on nil channel");
        value_slot<T> slot;
        if (!core_->template recv_value<T>(slot.raw())) return std::nullopt;
        slot.mark_full();
        return std::optional<T>(slot.take());
    }
    try_result<T> do_try_recv() const {
        if (!core_) return try_result<T>();
        value_slot<T> slot;
        switch (core_->template try_recv_value<T>(slot.raw())) {
        case try_recv_status::value: slot.mark_full(); return try_result<T>(slot.take());
        case try_recv_status::closed: return try_result<T>::closed_result();
        case try_recv_status::empty: break;
        }
        return try_result<T>();
    }
    void do_close() const {
        if (!core_) throw channel_closed("close of nil channel");
        core_->close();
    }

    std::shared_ptr<chan_core> core_;
};

/// Input iterator over the values of a channel, until closed and drained.
template <class T>
class chan_iterator {
public:
    using iterator_category = std::input_iterator_tag;
    using value_type = T;
    using difference_type = std::ptrdiff_t;
    using pointer = T*;
    using reference = T&;

    chan_iterator() = default;
    explicit chan_iterator(std::optional<T> (*recv)(const void*), const void* ch) : recv_(recv), ch_(ch) { ++*this; }
    T& operator*() const { return *current_; }
    chan_iterator& operator++() { current_ = recv_(ch_); return *this; }
    void operator++(int) { ++*this; }
    friend bool operator==(const chan_iterator& it, std::default_sentinel_t) noexcept { return !it.current_.has_value(); }

private:
    std::optional<T> (*recv_)(const void*) = nullptr;
    const void* ch_ = nullptr;
    mutable std::optional<T> current_;   // mutable: input iterators dereference as const (std::ranges)
};

std::shared_ptr<chan_core> make_chan_core(std::size_t capacity, const elem_ops* ops, std::string name = {});

template <class I>
std::size_t checked_capacity(I capacity) {
    if constexpr (std::is_signed_v<I>) {
        if (capacity < 0) throw std::invalid_argument("rill::chan: negative capacity");
    }
    return static_cast<std::size_t>(capacity);
}

}  // namespace detail

/// A channel of T, buffered with the given capacity or unbuffered (0).
/// A default-constructed chan is unbuffered; chan{nullptr} is Go's nil channel.
template <class T>
class chan : public detail::chan_handle<T> {
    using base = detail::chan_handle<T>;

public:
    chan() : base(detail::make_chan_core(0, &detail::elem_ops_of<T>)) {}
    /// Throws std::invalid_argument for a negative capacity.
    template <std::integral I>
    explicit chan(I capacity) : base(detail::make_chan_core(detail::checked_capacity(capacity), &detail::elem_ops_of<T>)) {}
    /// A named channel: deadlock reports show the name.
    template <std::integral I>
    chan(I capacity, std::string name)
        : base(detail::make_chan_core(detail::checked_capacity(capacity), &detail::elem_ops_of<T>, std::move(name))) {}
    /// The nil channel: send and recv block forever, close throws, and a
    /// select case on it is never ready.
    chan(std::nullptr_t) noexcept {}

    /// Blocks until a receiver took v (unbuffered) or there is room in the
    /// buffer. Throws channel_closed on a closed channel, also when it is
    /// closed while the sender waits; v is then not consumed.
    void send(T v) const { this->do_send(v); }
    /// Blocks until a value is there. Buffered values are still delivered
    /// after close; then std::nullopt.
    std::optional<T> recv() const { return this->do_recv(); }
    /// Never blocks. On false the value stays with the caller. Throws
    /// channel_closed on a closed channel.
    bool try_send(T& v) const { return this->do_try_send(v); }
    bool try_send(T&& v) const { return this->do_try_send(v); }
    /// Never blocks.
    try_result<T> try_recv() const { return this->do_try_recv(); }
    /// Wakes every waiter: receivers get std::nullopt once the buffer is
    /// drained, blocked senders throw channel_closed. Closing twice throws.
    void close() const { this->do_close(); }

    detail::chan_iterator<T> begin() const { return detail::chan_iterator<T>(&recv_thunk, this); }
    std::default_sentinel_t end() const noexcept { return {}; }

    operator send_chan<T>() const noexcept { return send_chan<T>(this->core_); }
    operator recv_chan<T>() const noexcept { return recv_chan<T>(this->core_); }

private:
    static std::optional<T> recv_thunk(const void* self) { return static_cast<const chan*>(self)->recv(); }
};

/// The send-only view of a channel (Go's chan<- T).
template <class T>
class send_chan : public detail::chan_handle<T> {
    using base = detail::chan_handle<T>;

public:
    send_chan(std::nullptr_t) noexcept {}
    void send(T v) const { this->do_send(v); }
    bool try_send(T& v) const { return this->do_try_send(v); }
    bool try_send(T&& v) const { return this->do_try_send(v); }
    void close() const { this->do_close(); }

private:
    friend class chan<T>;
    explicit send_chan(std::shared_ptr<detail::chan_core> c) noexcept : base(std::move(c)) {}
};

/// The receive-only view of a channel (Go's <-chan T).
template <class T>
class recv_chan : public detail::chan_handle<T> {
    using base = detail::chan_handle<T>;

public:
    recv_chan(std::nullptr_t) noexcept {}
    std::optional<T> recv() const { return this->do_recv(); }
    try_result<T> try_recv() const { return this->do_try_recv(); }
    detail::chan_iterator<T> begin() const { return detail::chan_iterator<T>(&recv_thunk, this); }
    std::default_sentinel_t end() const noexcept { return {}; }

private:
    friend class chan<T>;
    explicit recv_chan(std::shared_ptr<detail::chan_core> c) noexcept : base(std::move(c)) {}
    static std::optional<T> recv_thunk(const void* self) { return static_cast<const recv_chan*>(self)->recv(); }
};

}  // namespace rill
