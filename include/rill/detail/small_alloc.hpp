// rill/detail/small_alloc.hpp: where coroutine records and bodies live.
//
// Small blocks (up to small_alloc_max bytes) come from a per-thread cache
// that hands freed blocks back to the threads that allocate, in batches
// (src/small_alloc.cpp says why and how); larger ones from operator new.
#pragma once

#include <cstddef>

namespace rill::detail {

inline constexpr std::size_t small_alloc_max = 512;

void* small_alloc(std::size_t size);
void small_free(void* p, std::size_t size) noexcept;

/// Derive from this to allocate a class's objects with small_alloc.
struct small_allocated {
    static void* operator new(std::size_t size) { return small_alloc(size); }
    static void operator delete(void* p, std::size_t size) noexcept { small_free(p, size); }
};

}  // namespace rill::detail
