// rill/parallel_map.hpp: apply a function to every element of a range on a
// few coroutines, and get the results back in input order (Python's Pool.map).
//
//     rill::run([] {
//         std::vector<std::string> urls = ...;
//         std::vector<std::size_t> sizes =
//             rill::parallel_map(urls, [](const std::string& u) { return fetch(u).size(); }, 8);
//         // sizes[i] belongs to urls[i]
//     });
//
// It is a task farm made of channels: the calling coroutine is the master. It
// hands out (index, element) jobs over an unbuffered channel to `workers`
// coroutines, collects (index, result) outcomes from a second channel in the
// same select loop, and puts each result in its slot:
//
//     caller ──jobs──▶ worker ×W ──outcomes──▶ caller ──▶ std::vector, in input order
//
// - fn is called as fn(*it), once per element, from up to `workers`
//   coroutines at a time, so on several worker threads at once: it must be
//   safe to call concurrently (as for std::for_each with std::execution::par).
//   parallel_map keeps its own copy of fn, shared by the workers. The
//   elements of a forward range of lvalues (a container) are passed in place,
//   never copied; the others (a view that makes values, a single-pass range
//   such as std::views::istream) are moved into the job and passed to fn as
//   rvalues.
// - The result is a std::vector of fn's decayed return type, which may be
//   move-only and need not be default-constructible. fn must not return void.
// - The range is read once, front to back, by the calling coroutine: any
//   std::ranges::input_range works. Fewer than `workers` coroutines are
//   started when the range knows its size and it is smaller.
// - When fn throws, no further element is handed out; parallel_map collects
//   the calls already running, waits until every worker has ended, and then
//   rethrows the first exception it received. Elements after the one that
//   threw may or may not have been processed. An exception from the range
//   itself (its iterator) is rethrown the same way, after the workers ended.
// - It returns only when every worker coroutine has ended: nothing is left
//   running behind the caller's back, and nothing leaks.
// - It must be called on a coroutine (inside rill::run or a runtime's spawn);
//   from a plain thread it throws std::logic_error. workers == 0 throws
//   std::invalid_argument.
// - Under the unwinding at the end of a run (the root returned while this
//   call was still running in another coroutine), the caller is unwound
//   without waiting for its workers, as every blocked coroutine is. The
//   workers own fn and the channels jointly with it, so the only thing of
//   the caller's that they still use is the range's elements.
#pragma once

#include <rill/chan.hpp>
#include <rill/errors.hpp>
#include <rill/runtime.hpp>
#include <rill/select.hpp>
#include <rill/sync.hpp>

#include <algorithm>
#include <cstddef>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <ranges>
#include <stdexcept>
#include <type_traits>
#include <utility>
#include <vector>

namespace rill {

namespace detail {

/// Elements stay in place (a job carries a pointer) when the range yields
/// lvalues that outlive its iterator's next step: a forward range's do.
template <class R>
inline constexpr bool map_in_place =
    std::ranges::forward_range<R> && std::is_lvalue_reference_v<std::ranges::range_reference_t<R>>;

/// How a job carries its element: a value of its own, moved out of the range.
template <class R, bool InPlace = map_in_place<R>>
struct map_payload {
    using type = std::ranges::range_value_t<R>;
    template <class It>
    static type make(It& it) { return type(std::ranges::iter_move(it)); }
    static type&& get(type& v) noexcept { return std::move(v); }
};
/// ... or a pointer to the element in the range.
template <class R>
struct map_payload<R, true> {
    using type = std::remove_reference_t<std::ranges::range_reference_t<R>>*;
    template <class It>
    static type make(It& it) { return std::addressof(*it); }
    static auto& get(type p) noexcept { return *p; }
};

template <class R>
struct map_job {
    std::size_t index;                      // position in the range
    typename map_payload<R>::type element;  // what fn is called with
};

template <class Result>
struct map_outcome {
    std::size_t index;               // position in the range
    std::optional<Result> value;     // fn's result, or
    std::exception_ptr error;        // what fn threw
};

/// What the workers share with the caller, owned jointly so that a worker
/// never reaches into the caller's stack frame for it.
template <class F>
struct map_state {
    explicit map_state(F f) : fn(std::move(f)) {}
    F fn;                 // called concurrently by every worker
    wait_group running;   // one count per worker coroutine
};

}  // namespace detail

/// Applies fn to every element of range on up to `workers` coroutines and
/// returns the results in input order. See the top of this header for the
/// rules (concurrency, exceptions, where it may be called).
template <std::ranges::input_range R, class F>
auto parallel_map(R&& range, F fn, std::size_t workers) {
    using payload = detail::map_payload<R>;
    using job = detail::map_job<R>;
    using arg = decltype(payload::get(std::declval<typename payload::type&>()));
    static_assert(std::is_invocable_v<F&, arg>, "parallel_map: fn must be callable with an element of the range");
    using result = std::remove_cvref_t<std::invoke_result_t<F&, arg>>;
    static_assert(!std::is_void_v<result>, "parallel_map: fn must return a value (use rill::group for side effects)");
    using outcome = detail::map_outcome<result>;

    if (workers == 0) throw std::invalid_argument("rill::parallel_map: workers must be at least 1");
    if (!rill::in_coroutine())
        throw std::logic_error("rill::parallel_map called outside a coroutine: call it inside rill::run");
    if constexpr (std::ranges::sized_range<R>) workers = std::min<std::size_t>(workers, std::ranges::size(range));

    auto st = std::make_shared<detail::map_state<F>>(std::move(fn));
    chan<job> jobs(0, "parallel_map jobs");                      // unbuffered: a job goes to a free worker
    chan<outcome> outcomes(workers, "parallel_map outcomes");    // a worker rarely waits for the caller

    std::vector<std::optional<result>> slots;   // one per job handed out, filled as outcomes come
    if constexpr (std::ranges::sized_range<R>) slots.reserve(std::ranges::size(range));
    std::exception_ptr first_error;             // the first outcome that carried an error
    std::size_t in_flight = 0;                  // jobs handed out whose outcome is not collected yet
    std::exception_ptr failure;                 // what ended the master loop early

    // A worker: fn on each job until jobs is closed, every outcome back to
    // the caller. It shares only st and the channels (and the elements).
    auto worker = [st, jobs, outcomes] {
        struct on_exit {   // also when the run's end unwinds this coroutine
            detail::map_state<F>& st;
            ~on_exit() { st.running.done(); }
        } guard{*st};
        for (job& j : jobs) {
            outcome o{j.index, std::nullopt, nullptr};
            try {
                o.value.emplace(std::invoke(st->fn, payload::get(j.element)));
            } catch (const detail::coroutine_unwind&) {
                throw;
            } catch (...) {
                o.error = std::current_exception();
            }
            outcomes.send(std::move(o));
        }
    };

    try {
        for (std::size_t w = 0; w < workers; ++w) {
            st->running.add(1);
            try {
                rill::go("parallel_map worker", worker);
            } catch (...) {
                st->running.done();   // it never started: do not wait for it
                throw;
            }
        }

        // The master: hand out the next job and collect outcomes in one select,
        // until the range is exhausted (or a job failed) and nothing is in flight.
        auto it = std::ranges::begin(range);
        const auto end = std::ranges::end(range);
        std::optional<job> next;
        auto advance = [&] {
            if (!first_error && it != end) next.emplace(job{slots.size(), payload::make(it)});   // destroys the job sent
            else next.reset();
        };
        auto collect = [&](std::optional<outcome> o) {
            if (!o) throw std::logic_error("rill::parallel_map: the outcomes channel was closed");  // never happens
            --in_flight;
            if (o->error) {
                if (!first_error) first_error = o->error;
                next.reset();   // hand out nothing more
                return;
            }
            slots[o->index] = std::move(o->value);
        };
        advance();
        while (next || in_flight > 0) {
            if (next) {
                rill::select(rill::on_send(jobs, *next, [&] {
                                 ++in_flight;
                                 slots.emplace_back();
                                 ++it;
                                 advance();
                             }),
                             rill::on_recv(outcomes, collect));
            } else {
                collect(outcomes.recv());
            }
        }
    } catch (...) {
        failure = std::current_exception();   // handled below: nothing blocks inside a catch handler
    }
    if (failure) {
        // The range or a spawn threw, or this coroutine is being unwound:
        // hand out nothing more, take the outcomes still coming so that no
        // worker stays blocked on a full buffer, wait for the workers, then
        // pass the exception on. When unwinding, the first blocking call here
        // throws again; the run's end then takes care of the workers.
        jobs.close();
        try {
            for (; in_flight > 0; --in_flight) outcomes.recv();
            st->running.wait();
        } catch (...) {
        }
        std::rethrow_exception(failure);
    }
    jobs.close();
    st->running.wait();
    if (first_error) std::rethrow_exception(first_error);

    std::vector<result> out;
    out.reserve(slots.size());
    for (auto& s : slots) out.push_back(std::move(*s));
    return out;
}

}  // namespace rill
