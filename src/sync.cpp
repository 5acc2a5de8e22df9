// src/sync.cpp: wait_group and mutex, both made of the channel core, so they
// park, wake, unwind and show up in deadlock reports like channels do.
//
// wait_group: waiters receive from a `gate` channel that nobody sends to;
// the add() that brings the counter to zero closes it (close happens before
// the receive it ends: done() happens before wait() returns) and installs a
// fresh gate for the next round.
// mutex: a channel of capacity 1 holding a token while locked. lock() sends
// the token (blocks while one is there), unlock() takes it; a receive from
// the full buffer hands the slot straight to the first blocked locker
// (FIFO, no barging).
#include <rill/sync.hpp>

#include <memory>
#include <mutex>
#include <stdexcept>
#include <utility>

namespace rill {

namespace {
struct token {};
/// Where a received token lands. 16 bytes, not sizeof(token): the core
/// copies small trivial values with fixed-size copies (1, 4, 8, 16 bytes)
/// chosen by the element size at run time, and GCC's -Wstringop-overflow,
/// which cannot tie that size to token, warned at the LTO link that a
/// 16-byte copy could overrun a 1-byte token.
struct alignas(16) token_landing {
    unsigned char bytes[16];
};
std::shared_ptr<detail::chan_core> make_gate(const std::string& name) {
    auto gate = std::make_shared<detail::chan_core>(0, &detail::elem_ops_of<token>, "wait_group", "send", "wait");
    gate->set_name(name);
    return gate;
}
}  // namespace

wait_group::wait_group() : gate_(make_gate({})) {}
wait_group::wait_group(std::string name) : gate_(make_gate(name)), name_(std::move(name)) {}
wait_group::~wait_group() = default;

void wait_group::add(long n) {
    std::shared_ptr<detail::chan_core> opened;
    {
        std::scoped_lock l(lock_);
        if (count_ + n < 0) throw std::logic_error("rill::wait_group: negative counter (more done() than add())");
        count_ += n;
        if (count_ == 0 && n != 0) opened = std::exchange(gate_, make_gate(name_));
    }
    if (opened) opened->close();
}

void wait_group::wait() {
    std::shared_ptr<detail::chan_core> gate;
    {
        std::scoped_lock l(lock_);
        if (count_ == 0) return;
        gate = gate_;
    }
    token_landing t;
    gate->recv(&t);   // returns (false) when add() closes the gate
}

mutex::mutex() : token_(std::make_unique<detail::chan_core>(1, &detail::elem_ops_of<token>, "mutex", "lock", "unlock")) {}
mutex::mutex(std::string name) : mutex() { token_->set_name(std::move(name)); }
mutex::~mutex() = default;

void mutex::lock() {
    token t;
    token_->send(&t);
}

bool mutex::try_lock() {
    token t;
    return token_->try_send(&t);
}

void mutex::unlock() {
    token_landing t;
    if (token_->try_recv(&t) != detail::try_recv_status::value) throw std::logic_error("rill::mutex: unlock of an unlocked mutex");
}

}  // namespace rill
