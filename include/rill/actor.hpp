// rill/actor.hpp: an actor is a coroutine that owns its state and reads a mailbox.
//
//     struct deposit { long amount; };
//     struct balance {};
//     using account_msg = std::variant<deposit, balance>;
//
//     rill::actor<account_msg, long> account("account", [total = 0L](account_msg m) mutable {
//         if (auto* d = std::get_if<deposit>(&m)) total += d->amount;
//         return total;                        // the answer to ask(); tell() drops it
//     });
//     account.tell(deposit{5});                // queues the message and goes on
//     long now = account.ask(balance{});       // waits for the answer: 5
//     account.stop();                          // no new messages; the queued ones are still handled
//     account.wait();                          // until it has handled them and ended
//
// The handler runs on the actor's own coroutine, one message at a time, in
// the order they arrived (FIFO per sender), so the state it captured needs no
// lock: nobody else can reach it. Senders and the actor share nothing but the
// mailbox, a bounded rill::chan: a tell() to a full mailbox waits (back-
// pressure), and two actors that tell each other with full mailboxes wait
// forever, which rill reports as a deadlock naming both actors.
//
// An actor is a handle with shared ownership, cheap to copy (like chan), so
// actors can hold each other. Dropping the handles does not stop it: call
// stop(); an actor still running when the root coroutine returns is unwound
// like any other blocked coroutine. Construct it inside rill::run (it spawns
// a coroutine); tell, ask, stop and wait work from plain threads too.
//
// When the handler throws:
//   - during an ask(), the exception is the answer: ask() rethrows it to the
//     asker and the actor goes on with its next message (so a handler that may
//     throw should leave its state as it was);
//   - during a tell(), nobody waits for the outcome, so the actor crashes:
//     its mailbox is closed, asks still queued throw actor_stopped, and the
//     exception leaves the coroutine, which ends the run (rill::run rethrows
//     it), as any exception escaping a coroutine does. No error is silently
//     lost; an actor that must survive a bad message catches it in its handler.
//
// An ask() from inside the actor's own handler can never be answered (the
// actor is busy asking); rill reports it as a deadlock.
#pragma once

#include <rill/chan.hpp>
#include <rill/errors.hpp>
#include <rill/runtime.hpp>

#include <atomic>
#include <cstddef>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>

namespace rill {

/// tell() or ask() on an actor that was stopped (or crashed), or an ask()
/// whose message the actor could no longer answer. It derives from
/// channel_closed because that is what happened (the actor's mailbox is a
/// closed channel), so code that shuts down on channel_closed treats a
/// stopped actor the same way; like channel_closed it is a logic_error: the
/// program talked to an actor after deciding it was done.
class actor_stopped : public channel_closed {
public:
    using channel_closed::channel_closed;
};

namespace detail {

/// What an ask() gets back: the handler's result or its exception.
template <class R>
struct actor_outcome {
    std::optional<R> value;
    std::exception_ptr error;
};

/// The answering end of an ask(). An envelope dropped unanswered (the actor
/// crashed or was unwound first) closes the reply channel, so the asker
/// wakes with actor_stopped instead of waiting forever.
template <class R>
class reply_to {
public:
    reply_to() = default;
    explicit reply_to(chan<actor_outcome<R>> ch) : ch_(std::move(ch)) {}
    reply_to(reply_to&& o) noexcept : ch_(std::exchange(o.ch_, nullptr)) {}
    reply_to& operator=(reply_to&& o) noexcept {
        if (this != &o) { abandon(); ch_ = std::exchange(o.ch_, nullptr); }
        return *this;
    }
    ~reply_to() { abandon(); }

    /// True for an ask(), false for a tell().
    explicit operator bool() const noexcept { return static_cast<bool>(ch_); }
    /// Never blocks: the reply channel has room for exactly this answer.
    void answer(actor_outcome<R> o) { std::exchange(ch_, nullptr).send(std::move(o)); }

private:
    void abandon() noexcept {
        if (ch_) std::exchange(ch_, nullptr).close();
    }
    chan<actor_outcome<R>> ch_{nullptr};
};

template <class Msg, class R>
struct envelope {
    Msg msg;
    reply_to<R> reply;   // empty for a tell()
};

}  // namespace detail

/// An actor that handles Msg and answers ask() with Reply (void: ask() just
/// waits until the message was handled).
template <class Msg, class Reply = void>
class actor {
    using result = std::conditional_t<std::is_void_v<Reply>, std::monostate, Reply>;
    using outcome = detail::actor_outcome<result>;
    using envelope = detail::envelope<Msg, result>;

public:
    /// Spawns the actor's coroutine. handler is called as handler(Msg&&) and
    /// returns something convertible to Reply; the actor owns it (and so the
    /// state it captured). The mailbox holds up to `capacity` messages.
    template <class F>
    explicit actor(F handler, std::size_t capacity = 64) : actor(std::string(), std::move(handler), capacity) {}

    /// A named actor: its coroutine is "actor NAME" and its mailbox "NAME
    /// mailbox" in deadlock reports, and errors say which actor it was.
    template <class F>
    actor(std::string name, F handler, std::size_t capacity = 64)
        : st_(std::make_shared<state>(name, capacity)) {
        static_assert(std::is_invocable_v<F&, Msg&&>, "the handler must be callable with a Msg");
        if constexpr (!std::is_void_v<Reply>)
            static_assert(std::is_convertible_v<std::invoke_result_t<F&, Msg&&>, Reply>,
                          "the handler must return something convertible to Reply");
        std::string coroutine = name.empty() ? "actor" : "actor " + name;
        rill::go(std::move(coroutine), [st = st_, fn = std::move(handler)]() mutable { serve(*st, fn); });
    }

    /// Queues m and returns; waits only while the mailbox is full. Throws
    /// actor_stopped once the actor was stopped or crashed.
    void tell(Msg m) const { post(envelope{std::move(m), {}}, "tell"); }

    /// Queues m and waits for the handler's answer; rethrows what the handler
    /// threw. Throws actor_stopped when the actor was stopped or crashed
    /// before it handled m.
    Reply ask(Msg m) const {
        chan<outcome> reply(1);
        post(envelope{std::move(m), detail::reply_to<result>(reply)}, "ask");
        std::optional<outcome> o = reply.recv();
        if (!o) throw stopped_error("ask: the actor stopped before it answered");
        if (o->error) std::rethrow_exception(o->error);
        if constexpr (!std::is_void_v<Reply>) return std::move(*o->value);
    }

    /// Closes the mailbox: later tells and asks throw actor_stopped; the
    /// messages already queued are still handled, then the coroutine ends.
    /// Never blocks; stopping twice is harmless.
    void stop() const noexcept { st_->close_mailbox(); }

    /// Blocks until the actor's coroutine has ended (after stop(), once the
    /// mailbox is drained; or after a crash).
    void wait() const { st_->ended.recv(); }

    const std::string& name() const noexcept { return st_->name; }

private:
    struct state {
        state(const std::string& n, std::size_t capacity)
            : name(n), mailbox(capacity, n.empty() ? "mailbox" : n + " mailbox"), ended(0, n.empty() ? "actor ended" : n + " ended") {}
        void close_mailbox() noexcept {
            if (!closed.exchange(true)) mailbox.close();
        }
        std::string name;
        chan<envelope> mailbox;
        chan<bool> ended;             // closed when the coroutine ends; nobody sends
        std::atomic<bool> closed{false};
    };

    /// The actor's coroutine: one message at a time until the mailbox is
    /// closed and drained.
    template <class F>
    static void serve(state& st, F& handler) {
        struct on_exit {   // also on a crash and on unwind
            state& st;
            ~on_exit() {
                st.close_mailbox();
                while (st.mailbox.try_recv()) {}   // dropped envelopes close their reply channels
                st.ended.close();
            }
        } guard{st};
        for (envelope& e : st.mailbox) {
            if (!e.reply) {
                std::invoke(handler, std::move(e.msg));   // a throw crashes the actor (see the header)
                continue;
            }
            outcome o;
            try {
                if constexpr (std::is_void_v<Reply>) {
                    std::invoke(handler, std::move(e.msg));
                    o.value.emplace();
                } else {
                    o.value.emplace(std::invoke(handler, std::move(e.msg)));
                }
            } catch (const detail::coroutine_unwind&) {
                throw;   // the run is ending: not the handler's answer
            } catch (...) {
                o.error = std::current_exception();
            }
            e.reply.answer(std::move(o));
        }
    }

    void post(envelope e, const char* op) const {
        try {
            st_->mailbox.send(std::move(e));
        } catch (const channel_closed&) {
            throw stopped_error(std::string(op) + " on a stopped actor");
        }
    }

    actor_stopped stopped_error(const std::string& what) const {
        std::string who = st_->name.empty() ? "rill::actor" : "rill::actor \"" + st_->name + "\"";
        return actor_stopped(who + ": " + what);
    }

    std::shared_ptr<state> st_;
};

}  // namespace rill
