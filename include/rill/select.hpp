// rill/select.hpp: wait on several channel operations, perform exactly one.
//
//     std::size_t i = rill::select(
//         rill::on_recv(jobs, [&](std::optional<job> j) { ... }),
//         rill::on_send(results, r, [&] { ... }),
//         rill::on_recv(rill::after(100ms), [&](auto) { ... }),
//         rill::on_default([&] { ... }));   // optional: makes select non-blocking
//
// select waits until one case can proceed, performs that one, runs its
// handler after every lock is released, and returns the case's argument
// position. Among ready cases it picks one at random (Go's rule);
// select_biased picks the earliest ready one. A receive case on a closed
// channel is ready and gets std::nullopt; a send case on a closed channel
// throws channel_closed. Cases on nil channels are never ready. select()
// with no cases blocks forever.
#pragma once

#include <rill/chan.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <type_traits>
#include <utility>

namespace rill {

namespace detail {

/// One case as the type-erased select sees it.
struct select_case {
    chan_core* chan = nullptr;  // null: nil channel, or the default case
    void* slot = nullptr;       // send: value to move from; recv: storage for the value
    bool is_send = false;
    bool is_default = false;
};

struct select_outcome {
    std::size_t index;  // argument position of the case performed
    bool received;      // a receive case got a value (false: closed)
};

/// Performs one ready case, or blocks until one is. With a default case and
/// nothing ready it returns the default's index at once.
select_outcome select_cases(select_case* cases, std::size_t n, bool biased);

/// The channel a case operates on. Built from an lvalue channel it only
/// points at it (the channel outlives the select, like any reference: no
/// reference-count traffic on the channel's cache line per case, and no
/// shared_ptr to destroy); built from a temporary
/// (`on_recv(rill::after(1s), ...)`) it shares ownership, so a case stored
/// in a variable never dangles. Two types, so that a borrowed case carries
/// no empty shared_ptr whose destructor every select would run.
class borrowed_chan {
public:
    explicit borrowed_chan(const std::shared_ptr<chan_core>& c) noexcept : ptr_(c.get()) {}
    chan_core* get() const noexcept { return ptr_; }

private:
    chan_core* ptr_;
};

class owned_chan {
public:
    explicit owned_chan(std::shared_ptr<chan_core>&& c) noexcept : owned_(std::move(c)) {}
    chan_core* get() const noexcept { return owned_.get(); }

private:
    std::shared_ptr<chan_core> owned_;
};

/// A channel handle's core, borrowed (lvalue) or owned (rvalue).
template <class H>
auto case_chan_of(H&& h) {
    if constexpr (std::is_lvalue_reference_v<H>) return borrowed_chan(h.shared_core());
    else return owned_chan(std::shared_ptr<chan_core>(h.shared_core()));
}

template <class T, class F, class Ch>
class recv_case {
public:
    recv_case(Ch ch, F fn) : ch_(std::move(ch)), fn_(std::move(fn)) {}
    /// `into`: the select's storage for the one value it receives.
    select_case describe(void* into) { return {ch_.get(), into, false, false}; }
    chan_core* chan() const noexcept { return ch_.get(); }
    /// Receives into `into` now if a value (or the close) is there; false: nothing yet.
    bool try_now(void* into, bool& received, bool may_move) {
        try_recv_status st = ch_.get()->template try_recv_value<T>(into, may_move);
        received = st == try_recv_status::value;
        return st != try_recv_status::empty;
    }
    /// Runs the handler; `received`: a T was moved into `from`, which this
    /// moves out of and destroys (even when that move throws).
    void fire(bool received, void* from) {
        std::optional<T> v;
        if (received) {
            T* p = std::launder(static_cast<T*>(from));
            struct destroy_after {
                T* p;
                ~destroy_after() { p->~T(); }
            } guard{p};
            v.emplace(std::move(*p));
        }
        if constexpr (std::is_invocable_v<F&, std::optional<T>>) fn_(std::move(v));
        else fn_();
    }

private:
    Ch ch_;
    F fn_;
};

/// Holds the value to send: a pointer to the caller's lvalue of type T
/// (moved from only if this case is chosen), or a T of its own.
template <class T, class V, class F, class Ch>
class send_case {
public:
    template <class U>
    send_case(Ch ch, U&& v, F fn) : ch_(std::move(ch)), value_(init(std::forward<U>(v))), fn_(std::move(fn)) {}
    select_case describe(void*) { return {ch_.get(), addr(), true, false}; }
    chan_core* chan() const noexcept { return ch_.get(); }
    /// Sends now if there is room or a receiver waiting; false: not now.
    /// Throws channel_closed on a closed channel, as select does.
    bool try_now(void*, bool& received, bool may_move) {
        received = false;
        return ch_.get()->try_send_value(static_cast<T*>(addr()), "select: send case on closed channel", may_move);
    }
    void fire(bool, void*) { fn_(); }

private:
    template <class U>
    static V init(U&& v) {
        if constexpr (std::is_pointer_v<V>) return &v;
        else return V(std::forward<U>(v));
    }
    void* addr() {
        if constexpr (std::is_pointer_v<V>) return value_;
        else return &value_;
    }
    Ch ch_;
    V value_;
    F fn_;
};

template <class F>
class default_case {
public:
    explicit default_case(F fn) : fn_(std::move(fn)) {}
    select_case describe(void*) { return {nullptr, nullptr, false, true}; }
    void fire(bool, void*) { fn_(); }

private:
    F fn_;
};

template <class H>
inline constexpr bool is_recv_handle = false;
template <class T>
inline constexpr bool is_recv_handle<chan<T>> = true;
template <class T>
inline constexpr bool is_recv_handle<recv_chan<T>> = true;
template <class H>
inline constexpr bool is_send_handle = false;
template <class T>
inline constexpr bool is_send_handle<chan<T>> = true;
template <class T>
inline constexpr bool is_send_handle<send_chan<T>> = true;

template <class T, class U>
using send_storage = std::conditional_t<std::is_same_v<U, T&>, T*, T>;

template <class C>
inline constexpr bool is_default_case = false;
template <class F>
inline constexpr bool is_default_case<default_case<F>> = true;
template <class C>
inline constexpr bool is_recv_case = false;
template <class T, class F, class Ch>
inline constexpr bool is_recv_case<recv_case<T, F, Ch>> = true;
template <class C>
inline constexpr bool is_send_case = false;
template <class T, class V, class F, class Ch>
inline constexpr bool is_send_case<send_case<T, V, F, Ch>> = true;
template <class C>
inline constexpr bool is_channel_case = is_recv_case<C> || is_send_case<C>;

/// Size and alignment of the storage that holds a select's received value:
/// enough for the largest value type among its receive cases, and never
/// under 16 bytes: the core copies small trivial values with a chain of
/// fixed-size copies (1, 4, 8, 16 bytes) chosen by the channel's element
/// size at run time, which GCC's overflow warning cannot tie to T.
template <class C>
struct received_layout {   // a send or default case receives nothing
    static constexpr std::size_t size = 1, align = 1;
};
template <class T, class F, class Ch>
struct received_layout<recv_case<T, F, Ch>> {
    static constexpr std::size_t size = sizeof(T), align = alignof(T);
};
template <class... C>
inline constexpr std::size_t received_size = std::max({std::size_t(16), received_layout<std::remove_cvref_t<C>>::size...});
template <class... C>
inline constexpr std::size_t received_align = std::max({std::size_t(1), received_layout<std::remove_cvref_t<C>>::align...});

std::uint64_t select_random() noexcept;   // src/select.cpp: the runtime's random source

/// select's first look: the channels' lock-free hints name the cases that
/// look ready, one of them is taken at random (the earliest when biased)
/// and performed with T known. Go's rule is a uniform pick among the ready
/// cases; the shuffle in select_cases followed by "first hinted-ready case
/// that completes" picks from the same set with the same odds. No lock is
/// held across cases: the chosen one takes its channel's lock alone. Returns the case performed, or
/// sizeof...(C) when there is none to take here (nothing looks ready, or
/// the hint was stale): select_cases then does the whole job.
template <class... C, std::size_t... I>
std::size_t first_look(bool biased, bool may_move, void* into, bool& received, std::index_sequence<I...>, C&... cases) {
    std::uint32_t ready = 0;
    std::uint32_t nready = 0;
    auto look = [&](std::size_t i, auto& c) {
        using case_type = std::remove_cvref_t<decltype(c)>;
        if constexpr (is_channel_case<case_type>) {
            if (chan_core* ch = c.chan(); ch && ch->maybe_ready(is_send_case<case_type>)) {
                ready |= std::uint32_t(1) << i;
                ++nready;
            }
        }
    };
    (look(I, cases), ...);
    if (ready == 0) return sizeof...(C);
    std::uint32_t pick = ready;
    if (!biased && nready > 1) {
        const unsigned k = unsigned((std::uint64_t(std::uint32_t(select_random())) * nready) >> 32);
        for (unsigned j = 0; j < k; ++j) pick &= pick - 1;   // drop the k lowest ready cases
    }
    const std::size_t chosen = std::size_t(__builtin_ctz(pick));
    bool done = false;
    auto take = [&](std::size_t i, auto& c) {
        if constexpr (is_channel_case<std::remove_cvref_t<decltype(c)>>) {
            if (i == chosen) done = c.try_now(into, received, may_move);
        }
    };
    (take(I, cases), ...);
    return done ? chosen : sizeof...(C);
}

template <class... C, std::size_t... I>
std::size_t run_select(bool biased, std::index_sequence<I...>, C&... cases) {
    static_assert((0 + ... + int(is_default_case<std::remove_cvref_t<C>>)) <= 1, "a select takes at most one on_default");
    if constexpr (sizeof...(C) == 0) {
        block_forever("select with no cases");
    } else {
        // The one value a select receives lands here, whichever case takes
        // it (exactly one case completes), not in the cases: so no case's
        // address escapes to select_cases or to the channel's out-of-line
        // paths, and the compiler keeps the cases (a channel pointer and
        // the handler's captures each) in registers instead of building
        // them on the stack at every select.
        alignas(received_align<C...>) unsigned char into[received_size<C...>];
        bool received = false;
        std::size_t i = sizeof...(C);
        if constexpr (sizeof...(C) <= 32) {
            // Without a default the select may block (and change threads):
            // its first look may move to a channel lock's owner like a send.
            constexpr bool may_move = (0 + ... + int(is_default_case<std::remove_cvref_t<C>>)) == 0;
            i = first_look(biased, may_move, into, received, std::index_sequence<I...>{}, cases...);
        }
        if (i == sizeof...(C)) {
            select_case described[] = {cases.describe(into)...};
            const select_outcome out = select_cases(described, sizeof...(C), biased);
            i = out.index, received = out.received;
        }
        // One call of each handler, whichever path chose it: each is then
        // called from one place, and small ones are inlined here (two call
        // sites each kept the benchmark's handler out of line).
        (void)((i == I ? (cases.fire(received, into), true) : false) || ...);
        return i;
    }
}


}  // namespace detail

/// A receive case. fn takes std::optional<T> (nullopt: closed) or nothing.
/// The case refers to an lvalue channel (which must outlive it, as it does
/// in `select(on_recv(ch, ...))`) and owns a temporary one.
template <class C, class F>
    requires detail::is_recv_handle<std::remove_cvref_t<C>>
auto on_recv(C&& ch, F fn) {
    using T = typename std::remove_cvref_t<C>::value_type;
    auto held = detail::case_chan_of<C>(std::forward<C>(ch));
    return detail::recv_case<T, F, decltype(held)>(std::move(held), std::move(fn));
}

/// A send case. The value is converted to T once, when the case is built;
/// given an lvalue T it is moved from only if this case is chosen. The
/// channel is held as by on_recv.
template <class C, class U, class F>
    requires detail::is_send_handle<std::remove_cvref_t<C>>
auto on_send(C&& ch, U&& v, F fn) {
    using T = typename std::remove_cvref_t<C>::value_type;
    auto held = detail::case_chan_of<C>(std::forward<C>(ch));
    return detail::send_case<T, detail::send_storage<T, U>, F, decltype(held)>(std::move(held), std::forward<U>(v), std::move(fn));
}
/// Run when no other case is ready: makes the select non-blocking.
template <class F>
auto on_default(F fn) { return detail::default_case<F>(std::move(fn)); }

/// Waits for one of the cases, performs it, runs its handler; returns its position.
template <class... C>
std::size_t select(C&&... cases) { return detail::run_select(false, std::index_sequence_for<C...>{}, cases...); }

/// As select, but prefers the earliest ready case (priorities).
template <class... C>
std::size_t select_biased(C&&... cases) { return detail::run_select(true, std::index_sequence_for<C...>{}, cases...); }

}  // namespace rill
