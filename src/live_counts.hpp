// src/live_counts.hpp: process-wide counts of live objects, for rill::live().
#pragma once

#include <atomic>
#include <cstddef>

namespace rill::detail::live_counts {

inline std::atomic<std::size_t> coroutines{0};
inline std::atomic<std::size_t> stacks{0};
inline std::atomic<std::size_t> channels{0};
inline std::atomic<std::size_t> timers{0};
inline std::atomic<std::size_t> runtimes{0};

}  // namespace rill::detail::live_counts
