// src/stack_pool.hpp: coroutine stacks, reused, with overflow detection that
// scales to a million coroutines.
//
// Linux allows vm.max_map_count (65,530 by default) mappings per process,
// and a stack with its own guard page costs two. Creating one also costs an
// mmap and an mprotect, each holding the process's mmap lock for writing,
// which stalls every page fault of every other thread meanwhile. So:
//  - the first 1,024 stacks of the process (fewer if max_map_count/8 is
//    smaller) each get their own mapping with a PROT_NONE guard page below:
//    an overflow faults at once. They are never unmapped while the pool
//    lives: no mapping call after the first 1,024 starts;
//  - beyond that, stacks are carved from slabs of 256 stacks (one mapping
//    plus one guard page each). The first stack of a slab sits on the guard
//    page. Every other one is checked by a canary: the top 64 bytes of each
//    slab stack are reserved (never part of its usable stack), and they are
//    the canary of the stack just above, whose overflow runs into them
//    first. They must stay zero; the coroutine checks them at every switch
//    and at its end, and an overflow aborts the process with a message
//    naming the coroutine instead of running on with a corrupted neighbour.
//    The canary sits in the neighbour's top page. Each worker carves from
//    a slab of its own (a lane), so the neighbour below was carved and
//    started by the same worker before this stack: its top page is
//    touched already and the check costs no page fault (a canary at the
//    bottom of the coroutine's own stack cost one per fresh stack). With
//    one slab for all workers, a coroutine could park and read its canary
//    before its neighbour had started on the other worker: that first read
//    mapped the shared zero page, the neighbour's first write then copied
//    it and flushed every core's TLB (an interrupt to each), and the two
//    workers' first touches contended for the one page-table lock of each
//    2 MiB region. The pool also zeroes the canary when it carves a stack
//    (not a slab's first: below that one is the guard page), so that the
//    page's first touch is a write whatever the order.
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
    bool guarded = true;        // a guard page below; false: checked by the canary below its bottom
    bool own_mapping = false;   // a mapping of its own (unmapped when the pool dies), not a slab's
};

class stack_pool {
public:
    explicit stack_pool(std::size_t usable_size);
    ~stack_pool();
    stack_pool(const stack_pool&) = delete;
    stack_pool& operator=(const stack_pool&) = delete;

    /// A stack for worker `lane`: the worker's index (a small number: the
    /// pool keeps a slab cursor per lane up to it). The lane only picks the
    /// slab new stacks are carved from; a freed stack goes to any lane.
    /// Throws rill::resource_error when the system refuses the memory.
    pooled_stack_info allocate(unsigned lane);
    void deallocate(const pooled_stack_info& s) noexcept;
    std::size_t usable_size() const noexcept { return usable_; }

    /// Bytes reserved at the top of a slab stack: the canary of the stack above.
    static constexpr std::size_t canary_bytes = 64;
    /// Stacks carved from one slab mapping.
    static constexpr std::size_t stacks_per_slab = 256;

private:
    struct slab_cursor {
        char* next = nullptr;   // the next uncarved stack of this lane's newest slab
        std::size_t left = 0;
    };

    // Both under lock_; fresh_slab is set to a slab mapped by this call.
    pooled_stack_info map_guarded(unsigned lane, char*& fresh_slab);
    pooled_stack_info carve_from_slab(unsigned lane, char*& fresh_slab);

    std::size_t usable_;                        // bytes usable by the coroutine
    std::size_t page_;
    std::mutex lock_;                           // guards everything below
    std::vector<pooled_stack_info> free_;       // mapped, unused stacks
    std::vector<std::pair<char*, std::size_t>> slabs_;   // whole slab mappings, unmapped at the end
    std::vector<slab_cursor> lanes_;            // indexed by lane, grown on demand
};

/// True when the canary of a slab stack whose lowest usable byte is
/// `bottom` is intact: the canary_bytes just below it.
bool stack_canary_intact(const void* bottom) noexcept;

}  // namespace rill::detail
