// src/resource_errors.hpp: throwing rill::resource_error when memory is
// what ran out.
//
// Building the error's message needs memory too (fmt::format, and the
// exception's own copy of the text). When even that fails, the caller gets
// a resource_error made at start-up instead: copying it shares its text,
// and the exception object itself comes from the C++ runtime's emergency
// pool, so nothing is allocated.
#pragma once

#include <rill/errors.hpp>

#include <new>
#include <optional>
#include <string>
#include <utility>

namespace rill::detail {

/// The resource_error thrown when not even a message could be built.
const resource_error& out_of_memory_error() noexcept;

/// Throws resource_error(make_message()), or out_of_memory_error().
template <class MakeMessage>
[[noreturn]] void throw_resource_error(MakeMessage&& make_message) {
    std::optional<resource_error> e;
    try {
        e.emplace(std::forward<MakeMessage>(make_message)());
    } catch (const std::bad_alloc&) {
        throw out_of_memory_error();
    }
    throw std::move(*e);
}

}  // namespace rill::detail
