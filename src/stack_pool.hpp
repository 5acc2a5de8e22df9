// src/stack_pool.hpp: coroutine stacks, reused, with overflow detection that
// scales to a million coroutines.
//
// Linux allows vm.max_map_count (65,530 by default) mappings per process,
// and a stack with its own guard page costs two. So:
//  - the first stacks of the process (up to an eighth of max_map_count,
//    8,191 by default) each get their own mapping with a PROT_NONE guard page
//    below: an overflow faults at once;
//  - beyond that, stacks are carved from slabs of 256 stacks (one mapping
//    plus one guard page each). A slab stack's lowest 64 bytes must stay
//    untouched (zero): the coroutine checks them at every switch and at its
//    end, and an overflow aborts the process with a message naming the
//    coroutine, instead of running on with a corrupted neighbour.
// Memory is reserved, not committed: a stack costs the pages it touches.
// Only coroutines that have started hold a stack, and freed stacks go back
// to the pool for the next coroutine; the pool unmaps them when it dies.
#pragma once

#include <boost/context/stack_context.hpp>

#include <cstddef>
#include <mutex>
#include <vector>

namespace rill::detail {

struct pooled_stack_info {
    boost::context::stack_context sc;
    bool guarded;   // own mapping with a guard page; otherwise a slab stack with a zero canary
};

class stack_pool {
public:
    explicit stack_pool(std::size_t usable_size);
    ~stack_pool();
    stack_pool(const stack_pool&) = delete;
    stack_pool& operator=(const stack_pool&) = delete;

    /// Throws rill::resource_error when the system refuses the memory.
    pooled_stack_info allocate();
    void deallocate(const pooled_stack_info& s) noexcept;
    std::size_t usable_size() const noexcept { return usable_; }

    /// Bytes at the bottom of a slab stack that must stay zero.
    static constexpr std::size_t canary_bytes = 64;

private:
    pooled_stack_info map_guarded();
    pooled_stack_info carve_from_slab();

    std::size_t usable_;                        // bytes usable by the coroutine
    std::size_t page_;
    std::mutex lock_;                           // guards everything below
    std::vector<pooled_stack_info> free_;       // mapped, unused stacks
    std::vector<std::pair<char*, std::size_t>> slabs_;   // whole slab mappings, unmapped at the end
    char* slab_next_ = nullptr;                 // the next uncarved stack of the newest slab
    std::size_t slab_left_ = 0;
};

/// True when the canary of a slab stack whose lowest byte is `bottom` is intact.
bool stack_canary_intact(const void* bottom) noexcept;

}  // namespace rill::detail
