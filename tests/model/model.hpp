// tests/model/model.hpp: random channel programs, a runner that logs what
// each operation did, and a sequential model of Go's channel semantics that
// checks every logged outcome. Shared by tests/model/test_model.cpp (seeds
// from a PRNG) and fuzz/fuzz_model.cpp (programs decoded from fuzzer bytes).
//
// A program: a few channels of capacity 0..3, a few coroutines, each a list
// of send / recv / try_send / try_recv / close / select / yield operations.
// Select arms send or receive, may name a nil channel, and the select may
// have a default at any position.
//
// Two kinds of program:
//  - with a closer (ending::closer): one extra coroutine yields a random
//    number of times, then closes every channel. Once every channel is
//    closed every operation completes, so the run always terminates; plain
//    send/recv on a nil channel and selects that can never fire are left out.
//  - without (ending::may_deadlock): the run either finishes or throws
//    deadlock_error, and the model must agree that nothing could proceed.
//
// How the model reads the log. The runner appends {start} right before an
// operation and {end, outcome} right after it returns. In deterministic mode
// one worker runs one coroutine at a time and switches only when a
// coroutine parks or yields, so:
//  - an end right after its own start: the operation completed at once; the
//    model must agree it was ready, and the outcome must be one the model
//    allows (a select with several ready arms may pick any of them);
//  - anything else after a start: the operation blocked; the model must
//    agree it could not proceed, and queues it as Go's runtime would;
//  - a queued operation is completed by the partner that finds it first in
//    FIFO order (or by close): the model fixes its outcome then, and the
//    blocked coroutine's end, logged later, must show exactly that outcome.
// At the end the values still in each channel (drained after the run) must
// be the model's buffers, in order. Since every sent value is unique and the
// model moves each one exactly, "never lost, never duplicated, FIFO" follows.
//
// The multi-threaded runtime interleaves for real, so its logs are checked
// against invariants instead (check_invariants): exactly once, per-sender
// FIFO per receiver, nullopt and channel_closed only on closed channels,
// one successful close per channel, and termination.
#pragma once

#include <rill/rill.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace rill_model {

// ---------------------------------------------------------------- programs

inline constexpr int nil_chan = -1;
inline constexpr std::size_t max_arms = 4;
inline constexpr std::size_t max_chans = 4;

enum class op_kind : std::uint8_t { send, recv, try_send, try_recv, close, select, yield };

struct arm {
    bool is_send = false;
    int chan = nil_chan;
};

struct op {
    op_kind kind = op_kind::yield;
    int chan = nil_chan;             // plain operations
    std::vector<arm> arms;           // select
    int default_pos = -1;            // select: argument position of on_default, -1 for none
};

enum class ending : std::uint8_t { closer, may_deadlock };

struct program {
    std::vector<int> capacities;             // one per channel
    std::vector<std::vector<op>> coros;      // the closer, if any, is the last one
    ending end = ending::closer;
};

/// A unique value for each send: coroutine, operation, arm. Increasing with
/// the operation index, so per-sender order is visible in the value.
inline std::uint64_t value_of(int coro, int op_index, int arm_index) {
    return (std::uint64_t(coro + 1) << 32) | (std::uint64_t(op_index) << 8) | std::uint64_t(arm_index + 1);
}
inline int sender_of(std::uint64_t v) { return int(v >> 32) - 1; }
inline int op_of(std::uint64_t v) { return int((v >> 8) & 0xFFFFFF); }
inline int arm_of(std::uint64_t v) { return int(v & 0xFF) - 1; }

/// A source of choices: the PRNG for seeds, the fuzzer's bytes for fuzzing.
class prng_source {
public:
    explicit prng_source(std::uint64_t seed) : s_(seed) {}
    unsigned pick(unsigned n) { return n ? unsigned(next() % n) : 0; }

private:
    std::uint64_t next() {   // splitmix64: the same stream on every platform
        std::uint64_t z = (s_ += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return z ^ (z >> 31);
    }
    std::uint64_t s_;
};

class byte_source {
public:
    byte_source(const std::uint8_t* data, std::size_t size) : p_(data), end_(data + size) {}
    /// The next byte modulo n; 0 once the bytes run out.
    unsigned pick(unsigned n) { return n && p_ < end_ ? unsigned(*p_++ % n) : 0; }
    bool exhausted() const { return p_ >= end_; }

private:
    const std::uint8_t* p_;
    const std::uint8_t* end_;
};

/// Makes a select that the program's ending allows: no duplicate send arms
/// on one channel (the model could not tell which of two values went into a
/// buffer), and with a closer, at least one arm that can fire or a default.
inline void normalize_select(op& o, ending end) {
    std::set<int> sends;
    for (arm& a : o.arms)
        if (a.is_send && a.chan != nil_chan && !sends.insert(a.chan).second) a.is_send = false;
    if (end == ending::closer && o.default_pos < 0) {
        bool live = std::any_of(o.arms.begin(), o.arms.end(), [](const arm& a) { return a.chan != nil_chan; });
        if (!live) o.default_pos = int(o.arms.size());
    }
}

/// Builds a random program from a source of choices.
template <class Source>
program generate(Source& src, unsigned max_coros = 5, unsigned max_ops = 10) {
    program p;
    p.end = src.pick(4) == 0 ? ending::may_deadlock : ending::closer;
    unsigned nchan = 1 + src.pick(max_chans);
    for (unsigned i = 0; i < nchan; ++i) p.capacities.push_back(int(src.pick(4)));
    unsigned ncoro = 2 + src.pick(max_coros - 1);
    auto pick_chan = [&](bool nil_ok) { return nil_ok && src.pick(8) == 0 ? nil_chan : int(src.pick(nchan)); };
    for (unsigned c = 0; c < ncoro; ++c) {
        std::vector<op> ops;
        unsigned nops = 1 + src.pick(max_ops);
        for (unsigned k = 0; k < nops; ++k) {
            op o;
            unsigned r = src.pick(100);
            bool plain_nil_ok = p.end == ending::may_deadlock;
            if (r < 20) o.kind = op_kind::send, o.chan = pick_chan(plain_nil_ok);
            else if (r < 40) o.kind = op_kind::recv, o.chan = pick_chan(plain_nil_ok);
            else if (r < 48) o.kind = op_kind::try_send, o.chan = pick_chan(true);
            else if (r < 56) o.kind = op_kind::try_recv, o.chan = pick_chan(true);
            else if (r < 58) o.kind = op_kind::close, o.chan = pick_chan(src.pick(4) == 0);
            else if (r < 92) {
                o.kind = op_kind::select;
                unsigned narms = 1 + src.pick(max_arms);
                for (unsigned a = 0; a < narms; ++a) o.arms.push_back({src.pick(2) == 0, pick_chan(true)});
                if (src.pick(3) == 0) o.default_pos = int(src.pick(narms + 1));
                normalize_select(o, p.end);
            } else {
                o.kind = op_kind::yield;
            }
            ops.push_back(std::move(o));
        }
        p.coros.push_back(std::move(ops));
    }
    if (p.end == ending::closer) {
        std::vector<op> closer;
        unsigned yields = src.pick(40);
        for (unsigned i = 0; i < yields; ++i) closer.push_back(op{});
        std::vector<int> order;
        for (unsigned i = 0; i < nchan; ++i) order.push_back(int(i));
        for (std::size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[src.pick(unsigned(i))]);
        for (int ch : order) closer.push_back(op{op_kind::close, ch, {}, -1});
        p.coros.push_back(std::move(closer));
    }
    return p;
}

inline std::string chan_name(int ch) { return ch == nil_chan ? std::string("nil") : "c" + std::to_string(ch); }

inline std::string describe(const op& o) {
    switch (o.kind) {
    case op_kind::send: return "send " + chan_name(o.chan);
    case op_kind::recv: return "recv " + chan_name(o.chan);
    case op_kind::try_send: return "try_send " + chan_name(o.chan);
    case op_kind::try_recv: return "try_recv " + chan_name(o.chan);
    case op_kind::close: return "close " + chan_name(o.chan);
    case op_kind::yield: return "yield";
    case op_kind::select: break;
    }
    std::string s = "select(";
    std::size_t positions = o.arms.size() + (o.default_pos >= 0 ? 1 : 0);
    for (std::size_t pos = 0, a = 0; pos < positions; ++pos) {
        if (pos) s += ", ";
        if (int(pos) == o.default_pos) {
            s += "default";
        } else {
            s += (o.arms[a].is_send ? "send " : "recv ") + chan_name(o.arms[a].chan);
            ++a;
        }
    }
    return s + ")";
}

inline std::string describe(const program& p) {
    std::ostringstream out;
    out << "program (" << (p.end == ending::closer ? "the last coroutine closes every channel" : "may deadlock") << "):\n  channels:";
    for (std::size_t i = 0; i < p.capacities.size(); ++i) out << " c" << i << "(cap " << p.capacities[i] << ")";
    out << "\n";
    for (std::size_t c = 0; c < p.coros.size(); ++c) {
        out << "  coroutine " << c << ":";
        for (std::size_t k = 0; k < p.coros[c].size(); ++k) out << (k ? "; " : " ") << k << ": " << describe(p.coros[c][k]);
        out << "\n";
    }
    return out.str();
}

// ---------------------------------------------------------------- the runner

/// A move-only value that shows whether it was moved from.
struct token {
    static constexpr std::uint64_t moved = ~std::uint64_t(0);
    std::uint64_t v = moved;
    token() = default;
    explicit token(std::uint64_t x) : v(x) {}
    token(token&& o) noexcept : v(std::exchange(o.v, moved)) {}
    token& operator=(token&& o) noexcept {
        v = std::exchange(o.v, moved);
        return *this;
    }
};

enum class result : std::uint8_t { none, ok, value, closed, empty, threw, taken_default };

struct event {
    int coro = 0;
    int op = 0;
    bool start = false;
    result res = result::none;
    int arm = -1;             // select: the arm performed (-1: default, or threw)
    std::uint64_t value = 0;  // a received value
};

/// A value as sender.op.arm.
inline std::string value_text(std::uint64_t v) {
    return std::to_string(sender_of(v)) + "." + std::to_string(op_of(v)) + "." + std::to_string(arm_of(v));
}

inline std::string describe(const event& e) {
    std::string s = "coroutine " + std::to_string(e.coro) + " op " + std::to_string(e.op) + (e.start ? " start" : " end");
    if (e.start) return s;
    switch (e.res) {
    case result::none: s += " (none)"; break;
    case result::ok: s += " ok"; break;
    case result::value: s += " value " + value_text(e.value); break;
    case result::closed: s += " closed (nullopt)"; break;
    case result::empty: s += " empty/false"; break;
    case result::threw: s += " threw channel_closed"; break;
    case result::taken_default: s += " default"; break;
    }
    if (e.arm >= 0) s += " arm " + std::to_string(e.arm);
    return s;
}

struct run_result {
    std::vector<event> log;
    bool deadlock = false;
    std::string error;                               // an unexpected exception from run
    std::vector<std::vector<std::uint64_t>> left;    // values left in each channel after the run
    std::vector<std::string> violations;             // found by the runner itself (moved-from checks)
};

namespace detail {

struct runner_state {
    const program& prog;
    std::vector<rill::chan<token>> chans;
    rill::chan<token> nil{nullptr};
    std::mutex lock;   // guards out (uncontended in deterministic mode)
    run_result& out;

    const rill::chan<token>& chan(int i) const { return i == nil_chan ? nil : chans[std::size_t(i)]; }
    void log(event e) {
        std::scoped_lock l(lock);
        out.log.push_back(e);
    }
    void violation(std::string what) {
        std::scoped_lock l(lock);
        out.violations.push_back(std::move(what));
    }
};

/// A select built from an op at run time. Each argument position becomes an
/// on_recv, on_send or on_default; the case types are the same for every
/// select, so the recursion below instantiates a bounded set of selects.
struct select_run {
    runner_state& st;
    const op& o;
    std::vector<int> arm_at;      // argument position -> arm index (-1: default)
    token* toks;                  // one per arm (sends use theirs)
    int chosen = -1;
    result res = result::none;
    std::uint64_t value = 0;
};

struct recv_handler {
    select_run* s;
    int arm;
    void operator()(std::optional<token> v) const {
        s->chosen = arm;
        if (v) s->res = result::value, s->value = v->v;
        else s->res = result::closed;
    }
};
struct send_handler {
    select_run* s;
    int arm;
    void operator()() const { s->chosen = arm, s->res = result::ok; }
};
struct default_handler {
    select_run* s;
    void operator()() const { s->chosen = -1, s->res = result::taken_default; }
};

inline constexpr std::size_t max_positions = max_arms + 1;

template <bool HasDefault, class... C>
std::size_t build_select(select_run& s, std::size_t pos, C&... cases) {
    if (pos == s.arm_at.size()) {
        if constexpr (sizeof...(C) > 0) return rill::select(cases...);
    }
    if constexpr (sizeof...(C) < max_positions) {
        int a = s.arm_at[pos];
        if (a < 0) {
            if constexpr (!HasDefault) {
                auto c = rill::on_default(default_handler{&s});
                return build_select<true>(s, pos + 1, cases..., c);
            }
        } else if (s.o.arms[std::size_t(a)].is_send) {
            auto c = rill::on_send(s.st.chan(s.o.arms[std::size_t(a)].chan), s.toks[a], send_handler{&s, a});
            return build_select<HasDefault>(s, pos + 1, cases..., c);
        } else {
            auto c = rill::on_recv(s.st.chan(s.o.arms[std::size_t(a)].chan), recv_handler{&s, a});
            return build_select<HasDefault>(s, pos + 1, cases..., c);
        }
    }
    std::fprintf(stderr, "rill_model: malformed select\n");
    std::abort();
}

inline void run_select(runner_state& st, int coro, int k, const op& o, event& e) {
    token toks[max_arms];
    for (std::size_t a = 0; a < o.arms.size(); ++a) toks[a] = token(value_of(coro, k, int(a)));
    select_run s{st, o, {}, toks};
    std::size_t positions = o.arms.size() + (o.default_pos >= 0 ? 1 : 0);
    for (std::size_t pos = 0, a = 0; pos < positions; ++pos) s.arm_at.push_back(int(pos) == o.default_pos ? -1 : int(a++));
    bool threw = false;
    std::size_t index = 0;
    try {
        index = build_select<false>(s, 0);
    } catch (const rill::channel_closed&) {
        threw = true;
    }
    if (threw) {
        e.res = result::threw;
    } else {
        e.res = s.res, e.arm = s.chosen, e.value = s.value;
        if (index >= s.arm_at.size() || s.arm_at[index] != s.chosen)
            st.violation("coroutine " + std::to_string(coro) + " op " + std::to_string(k) + ": select returned position " +
                         std::to_string(index) + " but ran the handler of arm " + std::to_string(s.chosen));
    }
    // An lvalue given to on_send is moved from only if its case was chosen.
    for (std::size_t a = 0; a < o.arms.size(); ++a) {
        if (!o.arms[a].is_send) continue;
        bool sent = !threw && s.chosen == int(a);
        bool intact = toks[a].v == value_of(coro, k, int(a));
        if (sent == intact)
            st.violation("coroutine " + std::to_string(coro) + " op " + std::to_string(k) + ": send arm " + std::to_string(a) +
                         (sent ? " was chosen but its value was not moved" : " was not chosen but its value was moved from"));
    }
}

inline void run_op(runner_state& st, int coro, int k, const op& o) {
    if (o.kind == op_kind::yield) {
        rill::yield();
        return;
    }
    event e{coro, k, false, result::none, -1, 0};
    st.log(event{coro, k, true, result::none, -1, 0});
    const rill::chan<token>& ch = st.chan(o.chan);
    try {
        switch (o.kind) {
        case op_kind::send:
            ch.send(token(value_of(coro, k, 0)));
            e.res = result::ok;
            break;
        case op_kind::recv:
            if (std::optional<token> v = ch.recv()) e.res = result::value, e.value = v->v;
            else e.res = result::closed;
            break;
        case op_kind::try_send: {
            token t(value_of(coro, k, 0));
            bool ok = false;
            try {
                ok = ch.try_send(t);
            } catch (const rill::channel_closed&) {
                if (t.v != value_of(coro, k, 0)) st.violation("try_send on a closed channel consumed the value");
                throw;
            }
            e.res = ok ? result::ok : result::empty;
            if (!ok && t.v != value_of(coro, k, 0)) st.violation("try_send returned false but consumed the value");
            break;
        }
        case op_kind::try_recv: {
            rill::try_result<token> r = ch.try_recv();
            if (r) e.res = result::value, e.value = r->v;
            else e.res = r.closed() ? result::closed : result::empty;
            break;
        }
        case op_kind::close:
            ch.close();
            e.res = result::ok;
            break;
        case op_kind::select:
            run_select(st, coro, k, o, e);
            break;
        case op_kind::yield: break;
        }
    } catch (const rill::channel_closed&) {
        e.res = result::threw;
    }
    st.log(e);
}

}  // namespace detail

/// Runs p on a runtime with the given options and logs every operation.
/// The channels live outside the run, so that what is left in them can be
/// drained afterwards from this (plain) thread.
inline run_result execute(const program& p, const rill::options& opts) {
    run_result out;
    detail::runner_state st{p, {}, rill::chan<token>{nullptr}, {}, out};
    for (int cap : p.capacities) st.chans.emplace_back(cap);
    try {
        rill::run([&] {
            rill::wait_group wg;
            for (std::size_t c = 0; c < p.coros.size(); ++c) {
                wg.add(1);
                rill::go([&st, &wg, c] {
                    const std::vector<op>& ops = st.prog.coros[c];
                    for (std::size_t k = 0; k < ops.size(); ++k) detail::run_op(st, int(c), int(k), ops[k]);
                    wg.done();
                });
            }
            wg.wait();
        }, opts);
    } catch (const rill::deadlock_error&) {
        out.deadlock = true;
    } catch (const std::exception& e) {
        out.error = e.what();
    }
    for (const rill::chan<token>& ch : st.chans) {
        std::vector<std::uint64_t> left;
        while (rill::try_result<token> r = ch.try_recv()) left.push_back(r->v);
        out.left.push_back(std::move(left));
    }
    return out;
}

inline rill::options deterministic(std::uint64_t seed) {
    rill::options o;
    o.deterministic_seed = seed ? seed : 1;
    return o;
}

// ---------------------------------------------------------------- the model

namespace detail {

/// A queued operation in the model: one coroutine's arms on one channel and
/// one side (a select with two receive arms on a channel queues both, next
/// to each other, in an order the model does not know).
struct waiter {
    int coro;
    std::vector<int> arms;      // select arms (empty for a plain send/recv)
    std::uint64_t value = 0;    // send: the value offered
};

struct model_chan {
    std::size_t cap = 0;
    bool closed = false;
    std::deque<std::uint64_t> buf;
    std::deque<waiter> recvq, sendq;
};

/// What a blocked coroutine must see when it wakes.
struct expectation {
    result res = result::none;
    std::set<int> arms;         // acceptable arms for a select (empty: plain op)
    std::uint64_t value = 0;
};

enum class coro_state { idle, blocked, woken, finished_ops };

struct model_coro {
    coro_state state = coro_state::idle;
    int op = -1;               // the operation in progress or last done
    expectation expect;
};

/// One way an operation can complete now.
struct choice {
    result res;
    int arm = -1;
};

class model {
public:
    model(const program& p, std::vector<std::string>& errors) : p_(p), errors_(errors) {
        for (int cap : p.capacities) chans_.push_back(model_chan{std::size_t(cap), false, {}, {}, {}});
        coros_.resize(p.coros.size());
    }

    /// The ways `o` can complete now; empty when it must block.
    std::vector<choice> ready(const op& o) const {
        std::vector<choice> out;
        switch (o.kind) {
        case op_kind::send:
        case op_kind::try_send:
            if (o.chan == nil_chan) {
                if (o.kind == op_kind::try_send) out.push_back({result::empty});
            } else if (chans_[std::size_t(o.chan)].closed) {
                out.push_back({result::threw});
            } else if (can_send(o.chan)) {
                out.push_back({result::ok});
            } else if (o.kind == op_kind::try_send) {
                out.push_back({result::empty});
            }
            break;
        case op_kind::recv:
        case op_kind::try_recv:
            if (o.chan == nil_chan) {
                if (o.kind == op_kind::try_recv) out.push_back({result::empty});
            } else if (can_recv_value(o.chan)) {
                out.push_back({result::value});
            } else if (chans_[std::size_t(o.chan)].closed) {
                out.push_back({result::closed});
            } else if (o.kind == op_kind::try_recv) {
                out.push_back({result::empty});
            }
            break;
        case op_kind::close:
            out.push_back({o.chan == nil_chan || chans_[std::size_t(o.chan)].closed ? result::threw : result::ok});
            break;
        case op_kind::select: {
            bool send_on_closed = false;
            for (std::size_t a = 0; a < o.arms.size(); ++a) {
                const arm& x = o.arms[a];
                if (x.chan == nil_chan) continue;
                const model_chan& c = chans_[std::size_t(x.chan)];
                if (x.is_send) {
                    if (c.closed) send_on_closed = true;
                    else if (can_send(x.chan)) out.push_back({result::ok, int(a)});
                } else if (can_recv_value(x.chan)) {
                    out.push_back({result::value, int(a)});
                } else if (c.closed) {
                    out.push_back({result::closed, int(a)});
                }
            }
            if (send_on_closed) out.push_back({result::threw});
            if (out.empty() && o.default_pos >= 0) out.push_back({result::taken_default});
            break;
        }
        case op_kind::yield: break;
        }
        return out;
    }

    /// Applies an operation that completed at once with the observed event.
    void complete(int coro, const op& o, const event& e) {
        std::vector<choice> ok = ready(o);
        bool allowed = std::any_of(ok.begin(), ok.end(), [&](const choice& c) { return c.res == e.res && c.arm == (o.kind == op_kind::select ? e.arm : -1); });
        if (!allowed) {
            std::string want;
            for (const choice& c : ok) want += (want.empty() ? "" : " | ") + describe(event{coro, e.op, false, c.res, c.arm, 0});
            fail(describe(e) + " completed at once, but the model allows only: " + (want.empty() ? "blocking" : want));
            return;
        }
        if (e.res == result::threw || e.res == result::taken_default || e.res == result::empty) return;
        int chan = o.chan;
        bool is_send = o.kind == op_kind::send || o.kind == op_kind::try_send;
        std::uint64_t value = value_of(coro, e.op, 0);
        if (o.kind == op_kind::select) {
            chan = o.arms[std::size_t(e.arm)].chan;
            is_send = o.arms[std::size_t(e.arm)].is_send;
            value = value_of(coro, e.op, e.arm);
        }
        if (o.kind == op_kind::close) {
            close(chan);
        } else if (is_send) {
            send(chan, value);
        } else if (e.res == result::value) {
            std::uint64_t got = recv(chan);
            if (got != e.value)
                fail(describe(e) + ": the model says the value is " + value_text(got));
        }
    }

    /// Queues an operation that blocked; it must not have been able to proceed.
    void block(int coro, const op& o, int op_index) {
        std::vector<choice> ok = ready(o);
        if (!ok.empty()) {
            fail("coroutine " + std::to_string(coro) + " op " + std::to_string(op_index) + " (" + describe(o) +
                 ") blocked, but the model says it could proceed");
            return;
        }
        if (o.kind == op_kind::select) {
            // One waiter per (channel, side); arms on nil channels never fire.
            std::map<std::pair<int, bool>, waiter> groups;
            for (std::size_t a = 0; a < o.arms.size(); ++a) {
                const arm& x = o.arms[a];
                if (x.chan == nil_chan) continue;
                waiter& w = groups[{x.chan, x.is_send}];
                w.coro = coro;
                w.arms.push_back(int(a));
                if (x.is_send) w.value = value_of(coro, op_index, int(a));
            }
            for (auto& [key, w] : groups) (key.second ? chans_[std::size_t(key.first)].sendq : chans_[std::size_t(key.first)].recvq).push_back(w);
        } else if (o.chan != nil_chan) {
            waiter w{coro, {}, value_of(coro, op_index, 0)};
            if (o.kind == op_kind::send) chans_[std::size_t(o.chan)].sendq.push_back(w);
            else chans_[std::size_t(o.chan)].recvq.push_back(w);
        }
        coros_[std::size_t(coro)].state = coro_state::blocked;
    }

    void replay(const run_result& r) {
        const std::vector<event>& log = r.log;
        std::vector<int> next_op(p_.coros.size(), 0);
        for (std::size_t i = 0; i < log.size() && errors_.empty(); ++i) {
            const event& e = log[i];
            if (e.coro < 0 || std::size_t(e.coro) >= p_.coros.size() || e.op < 0 || std::size_t(e.op) >= p_.coros[std::size_t(e.coro)].size()) {
                fail("log entry out of range: " + describe(e));
                break;
            }
            model_coro& mc = coros_[std::size_t(e.coro)];
            const op& o = p_.coros[std::size_t(e.coro)][std::size_t(e.op)];
            if (e.start) {
                if (mc.state != coro_state::idle) {
                    fail(describe(e) + ": the coroutine is still in its previous operation");
                    break;
                }
                while (next_op[std::size_t(e.coro)] < e.op && p_.coros[std::size_t(e.coro)][std::size_t(next_op[std::size_t(e.coro)])].kind == op_kind::yield)
                    ++next_op[std::size_t(e.coro)];
                if (next_op[std::size_t(e.coro)] != e.op) {
                    fail(describe(e) + ": operations out of program order");
                    break;
                }
                ++next_op[std::size_t(e.coro)];
                mc.op = e.op;
                bool at_once = i + 1 < log.size() && log[i + 1].coro == e.coro && !log[i + 1].start;
                if (at_once) {
                    if (log[i + 1].op != e.op) {
                        fail(describe(log[i + 1]) + " ends an operation that did not start");
                        break;
                    }
                    complete(e.coro, o, log[i + 1]);
                    ++i;
                } else {
                    bool non_blocking = o.kind == op_kind::try_send || o.kind == op_kind::try_recv || o.kind == op_kind::close ||
                                        (o.kind == op_kind::select && o.default_pos >= 0);
                    if (non_blocking) {
                        fail(describe(e) + " (" + describe(o) + ") blocked, but it never blocks");
                        break;
                    }
                    block(e.coro, o, e.op);
                }
            } else {
                if (e.op != mc.op) {
                    fail(describe(e) + " ends an operation that did not start");
                    break;
                }
                if (mc.state == coro_state::blocked) {
                    fail(describe(e) + ": woke up, but no partner or close completed its operation (spurious wake-up)");
                    break;
                }
                if (mc.state != coro_state::woken) {
                    fail(describe(e) + ": ended twice");
                    break;
                }
                check_expected(e, mc.expect);
                mc.state = coro_state::idle;
            }
        }
        if (!errors_.empty()) return;
        finish(r, next_op);
    }

private:
    bool can_send(int ch) const {
        const model_chan& c = chans_[std::size_t(ch)];
        return !c.recvq.empty() || c.buf.size() < c.cap;
    }
    bool can_recv_value(int ch) const {
        const model_chan& c = chans_[std::size_t(ch)];
        return !c.sendq.empty() || !c.buf.empty();
    }

    /// Takes waiter w off every queue: it is done.
    void dequeue_all(int coro) {
        for (model_chan& c : chans_)
            for (std::deque<waiter>* q : {&c.recvq, &c.sendq})
                q->erase(std::remove_if(q->begin(), q->end(), [coro](const waiter& w) { return w.coro == coro; }), q->end());
    }

    void wake(const waiter& w, result res, std::uint64_t value) {
        model_coro& mc = coros_[std::size_t(w.coro)];
        mc.state = coro_state::woken;
        mc.expect = expectation{res, std::set<int>(w.arms.begin(), w.arms.end()), value};
        dequeue_all(w.coro);
    }

    void send(int ch, std::uint64_t v) {
        model_chan& c = chans_[std::size_t(ch)];
        if (!c.recvq.empty()) {
            waiter w = c.recvq.front();
            wake(w, result::value, v);   // hand-off: straight to the first receiver
        } else {
            c.buf.push_back(v);
        }
    }

    std::uint64_t recv(int ch) {
        model_chan& c = chans_[std::size_t(ch)];
        if (!c.sendq.empty()) {
            waiter w = c.sendq.front();
            std::uint64_t got = w.value;
            if (c.cap > 0) {   // full buffer: take the head, the sender's value goes to the tail
                got = c.buf.front();
                c.buf.pop_front();
                c.buf.push_back(w.value);
            }
            wake(w, result::ok, 0);
            return got;
        }
        std::uint64_t got = c.buf.front();
        c.buf.pop_front();
        return got;
    }

    void close(int ch) {
        model_chan& c = chans_[std::size_t(ch)];
        c.closed = true;
        while (!c.recvq.empty()) wake(c.recvq.front(), result::closed, 0);   // receivers first, as Go's closechan
        while (!c.sendq.empty()) wake(c.sendq.front(), result::threw, 0);
    }

    void check_expected(const event& e, const expectation& x) {
        bool ok = e.res == x.res;
        if (x.res == result::value) ok = ok && e.value == x.value;
        if (x.arms.empty() || x.res == result::threw) ok = ok && e.arm == -1;   // plain op, or a select that threw
        else ok = ok && x.arms.count(e.arm) == 1;
        if (!ok) {
            std::string arms;
            for (int a : x.arms) arms += " " + std::to_string(a);
            fail(describe(e) + ": the model expected " + describe(event{e.coro, e.op, false, x.res, -1, x.value}) +
                 (arms.empty() ? "" : " on one of arms" + arms));
        }
    }

    void finish(const run_result& r, const std::vector<int>& next_op) {
        for (std::size_t c = 0; c < coros_.size(); ++c) {
            const model_coro& mc = coros_[c];
            std::size_t n = p_.coros[c].size();
            std::size_t done = std::size_t(next_op[c]);
            while (done < n && p_.coros[c][done].kind == op_kind::yield) ++done;
            std::string who = "coroutine " + std::to_string(c);
            if (mc.state == coro_state::woken)
                fail(who + " op " + std::to_string(mc.op) + " was completed by a partner but never resumed (lost wake-up)");
            else if (!r.deadlock && (mc.state != coro_state::idle || done != n))
                fail(who + " did not finish, yet the run returned without a deadlock");
            else if (r.deadlock && mc.state == coro_state::idle && done != n)
                fail("deadlock reported while " + who + " could still run its op " + std::to_string(done));
        }
        if (r.deadlock) {
            bool anyone_blocked = std::any_of(coros_.begin(), coros_.end(), [](const model_coro& m) { return m.state == coro_state::blocked; });
            if (!anyone_blocked) fail("deadlock reported, but the model has no blocked coroutine");
        }
        for (std::size_t ch = 0; ch < chans_.size() && ch < r.left.size(); ++ch) {
            std::vector<std::uint64_t> want(chans_[ch].buf.begin(), chans_[ch].buf.end());
            if (want != r.left[ch])
                fail("channel c" + std::to_string(ch) + " holds " + std::to_string(r.left[ch].size()) +
                     " values after the run, the model " + std::to_string(want.size()) + " (or in another order)");
        }
    }

    void fail(std::string what) { errors_.push_back(std::move(what)); }

    const program& p_;
    std::vector<std::string>& errors_;
    std::vector<model_chan> chans_;
    std::vector<model_coro> coros_;
};

}  // namespace detail

/// Checks a deterministic run against the model; returns what is wrong.
inline std::vector<std::string> check_with_model(const program& p, const run_result& r) {
    std::vector<std::string> errors = r.violations;
    if (!r.error.empty()) errors.push_back("run threw: " + r.error);
    if (p.end == ending::closer && r.deadlock) errors.push_back("deadlock_error in a program whose channels all get closed");
    if (!errors.empty()) return errors;
    detail::model m(p, errors);
    m.replay(r);
    return errors;
}

/// Checks a multi-threaded run: what holds whatever the interleaving.
inline std::vector<std::string> check_invariants(const program& p, const run_result& r) {
    std::vector<std::string> errors = r.violations;
    if (!r.error.empty()) errors.push_back("run threw: " + r.error);
    if (p.end == ending::closer && r.deadlock) errors.push_back("deadlock_error in a program whose channels all get closed");
    auto chan_of_send = [&](std::uint64_t v) -> int {
        int c = sender_of(v), k = op_of(v), a = arm_of(v);
        if (c < 0 || std::size_t(c) >= p.coros.size() || k < 0 || std::size_t(k) >= p.coros[std::size_t(c)].size()) return -2;
        const op& o = p.coros[std::size_t(c)][std::size_t(k)];
        if (o.kind == op_kind::select) return a >= 0 && std::size_t(a) < o.arms.size() && o.arms[std::size_t(a)].is_send ? o.arms[std::size_t(a)].chan : -2;
        return (o.kind == op_kind::send || o.kind == op_kind::try_send) && a == 0 ? o.chan : -2;
    };
    auto chan_of_recv = [&](const event& e) {
        const op& o = p.coros[std::size_t(e.coro)][std::size_t(e.op)];
        return o.kind == op_kind::select ? o.arms[std::size_t(e.arm)].chan : o.chan;
    };
    std::set<std::uint64_t> sent, received;
    std::vector<int> closes(p.capacities.size(), 0);
    std::vector<bool> closed_seen(p.capacities.size(), false);
    // last[(receiver, channel, sender)] = last op index received
    std::map<std::tuple<int, int, int>, int> last;
    for (const event& e : r.log) {
        if (e.start) continue;
        const op& o = p.coros[std::size_t(e.coro)][std::size_t(e.op)];
        int ch = o.chan;
        if (o.kind == op_kind::select && e.arm >= 0) ch = o.arms[std::size_t(e.arm)].chan;
        if (e.res == result::ok && (o.kind == op_kind::send || o.kind == op_kind::try_send || (o.kind == op_kind::select && e.arm >= 0)))
            sent.insert(value_of(e.coro, e.op, o.kind == op_kind::select ? e.arm : 0));
        if (e.res == result::ok && o.kind == op_kind::close) ++closes[std::size_t(ch)];
        if ((e.res == result::closed) || (e.res == result::threw && ch >= 0 && o.kind != op_kind::select))
            if (ch >= 0) closed_seen[std::size_t(ch)] = true;
        if (e.res == result::value) {
            int want = chan_of_recv(e);
            if (chan_of_send(e.value) != want) errors.push_back(describe(e) + ": a value that was never sent on that channel");
            if (!received.insert(e.value).second) errors.push_back(describe(e) + ": value received twice");
            auto key = std::make_tuple(e.coro, want, sender_of(e.value));
            auto it = last.find(key);
            if (it != last.end() && it->second >= op_of(e.value))
                errors.push_back(describe(e) + ": out of order for its sender (per-sender FIFO)");
            last[key] = op_of(e.value);
        }
    }
    for (std::size_t ch = 0; ch < r.left.size(); ++ch) {
        std::map<int, int> last_left;
        for (std::uint64_t v : r.left[ch]) {
            if (chan_of_send(v) != int(ch)) errors.push_back("a value left in c" + std::to_string(ch) + " was never sent on it");
            if (!received.insert(v).second) errors.push_back("a value left in c" + std::to_string(ch) + " was also received");
            auto it = last_left.find(sender_of(v));
            if (it != last_left.end() && it->second >= op_of(v)) errors.push_back("values left in c" + std::to_string(ch) + " out of order");
            last_left[sender_of(v)] = op_of(v);
        }
    }
    for (std::uint64_t v : sent)
        if (!received.count(v)) errors.push_back("value " + value_text(v) + " was sent but is gone (lost)");
    for (std::uint64_t v : received)
        if (!sent.count(v)) errors.push_back("value " + value_text(v) + " was received but its send did not succeed");
    for (std::size_t ch = 0; ch < closes.size(); ++ch) {
        if (closes[ch] > 1) errors.push_back("c" + std::to_string(ch) + " was closed successfully " + std::to_string(closes[ch]) + " times");
        if (closed_seen[ch] && closes[ch] == 0) errors.push_back("c" + std::to_string(ch) + " reported closed, but nobody closed it");
        if (p.end == ending::closer && !r.deadlock && closes[ch] != 1) errors.push_back("c" + std::to_string(ch) + " was not closed exactly once");
    }
    return errors;
}

/// Operations that blocked (their end is not the next event): how much of
/// the waiting protocol a deterministic run exercised.
inline std::size_t blocked_ops(const run_result& r) {
    std::size_t n = 0;
    for (std::size_t i = 0; i < r.log.size(); ++i)
        if (r.log[i].start && !(i + 1 < r.log.size() && r.log[i + 1].coro == r.log[i].coro && !r.log[i + 1].start)) ++n;
    return n;
}

inline std::string describe(const run_result& r) {
    std::string s = "log (" + std::to_string(r.log.size()) + " events" + (r.deadlock ? ", ended in deadlock_error" : "") + "):\n";
    for (const event& e : r.log) s += "  " + describe(e) + "\n";
    for (std::size_t ch = 0; ch < r.left.size(); ++ch)
        if (!r.left[ch].empty()) s += "  left in c" + std::to_string(ch) + ": " + std::to_string(r.left[ch].size()) + " values\n";
    return s;
}

}  // namespace rill_model
