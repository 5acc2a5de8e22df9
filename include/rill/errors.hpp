// rill/errors.hpp: the exceptions rill throws.
#pragma once

#include <stdexcept>
#include <string>

namespace rill {

/// A send, try_send, close or select send case on a closed channel; also a
/// second close. The value being sent is not consumed.
class channel_closed : public std::logic_error {
public:
    using std::logic_error::logic_error;
};

/// Every coroutine of a runtime is blocked and nothing (timer, plain thread)
/// can wake any of them. what() lists each blocked coroutine and what it
/// waits on, like Go's "all goroutines are asleep - deadlock!".
class deadlock_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// The system refused a resource rill needs (a coroutine stack, a thread).
class resource_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

}  // namespace rill

namespace rill::detail {
/// Thrown from a blocking call to unwind a coroutine at the end of a run.
/// Not an std::exception, so `catch (const std::exception&)` lets it pass;
/// a `catch (...)` that swallows it is harmless: the next blocking call
/// throws it again.
struct coroutine_unwind {};
}  // namespace rill::detail
