// tests/internal/test_stack_pool.cpp: slab stacks, from the pool itself.
// Each lane (a worker's index) carves from a slab of its own; within a
// lane's slab a stack's canary is the reserved top of the stack below it;
// a carve zeroes the canary of the stack it hands out; a lane whose slab
// is used up starts a new one; freed stacks are reused whatever the lane.
#include "stack_pool.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <vector>

using rill::detail::pooled_stack_info;
using rill::detail::stack_canary_intact;
using rill::detail::stack_pool;

namespace {

char* bottom(const pooled_stack_info& s) { return static_cast<char*>(s.sc.sp) - s.sc.size; }
char* top(const pooled_stack_info& s) { return static_cast<char*>(s.sc.sp); }

constexpr std::size_t usable = 64 * 1024;

/// Gives every stack taken back to the pool, also when a REQUIRE ends the
/// test early (the suite's end checks that no stack is left alive).
struct held_stacks {
    stack_pool& pool;
    std::vector<pooled_stack_info> stacks;
    const pooled_stack_info& take(unsigned lane) { return stacks.emplace_back(pool.allocate(lane)); }
    ~held_stacks() {
        for (const pooled_stack_info& s : stacks) pool.deallocate(s);
    }
};

}  // namespace

TEST_CASE("slab stacks: a slab per lane, each canary in the stack below, zeroed when carved") {
    stack_pool pool(usable);
    held_stacks held{pool, {}};
    // The process's guarded stacks (at most 1,024) come first; the first
    // stack that is not a mapping of its own is lane 0's first slab stack.
    for (std::size_t i = 0;; ++i) {
        REQUIRE(i <= 1024);
        if (!held.take(0).own_mapping) break;
    }
    const pooled_stack_info a0 = held.stacks.back();
    CHECK(a0.guarded);   // on its slab's guard page
    const pooled_stack_info b0 = held.take(1);
    CHECK_FALSE(b0.own_mapping);
    CHECK(b0.guarded);   // lane 1 started a slab of its own
    // Two slabs are two mappings of 256 stacks each, so their first stacks
    // lie at least a slab apart (the lanes' stacks share a page table only
    // where the two mappings meet).
    const auto a = reinterpret_cast<std::uintptr_t>(bottom(a0)), b = reinterpret_cast<std::uintptr_t>(bottom(b0));
    CHECK((a > b ? a - b : b - a) >= stack_pool::stacks_per_slab * usable);

    const pooled_stack_info a1 = held.take(0);
    const pooled_stack_info b1 = held.take(1);
    CHECK_FALSE(a1.guarded);
    CHECK_FALSE(b1.guarded);
    CHECK(a1.sc.size == usable - stack_pool::canary_bytes);
    // Next in its lane's slab: the canary below a1 is a0's reserved top.
    CHECK(bottom(a1) == top(a0) + stack_pool::canary_bytes);
    CHECK(bottom(b1) == top(b0) + stack_pool::canary_bytes);

    // An overflow of a1 writes into its canary, and the check sees it.
    CHECK(stack_canary_intact(bottom(a1)));
    bottom(a1)[-static_cast<std::ptrdiff_t>(stack_pool::canary_bytes)] = 1;
    CHECK_FALSE(stack_canary_intact(bottom(a1)));
    bottom(a1)[-static_cast<std::ptrdiff_t>(stack_pool::canary_bytes)] = 0;
    bottom(a1)[-1] = 0x40;
    CHECK_FALSE(stack_canary_intact(bottom(a1)));
    bottom(a1)[-1] = 0;
    CHECK(stack_canary_intact(bottom(a1)));

    // The carve of a2 writes its canary (a1's reserved top) to zero.
    std::memset(top(a1), 0xA5, stack_pool::canary_bytes);
    const pooled_stack_info a2 = held.take(0);
    CHECK(bottom(a2) == top(a1) + stack_pool::canary_bytes);
    CHECK(stack_canary_intact(bottom(a2)));

    // Lane 0 has carved 3 of its slab's stacks; the rest, then the first of
    // a new slab, which sits on that slab's guard page.
    pooled_stack_info last = a2;
    for (std::size_t i = 3; i < stack_pool::stacks_per_slab; ++i) {
        const pooled_stack_info& s = held.take(0);
        CHECK_FALSE(s.guarded);
        CHECK(bottom(s) == top(last) + stack_pool::canary_bytes);
        last = s;
    }
    const pooled_stack_info fresh = held.take(0);
    CHECK(fresh.guarded);
    CHECK(bottom(fresh) != top(last) + stack_pool::canary_bytes);
    CHECK(bottom(held.take(0)) == top(fresh) + stack_pool::canary_bytes);

    // A freed stack goes to whichever lane asks next (the lane only picks
    // where new stacks are carved).
    pool.deallocate(a1);
    std::erase_if(held.stacks, [&](const pooled_stack_info& s) { return s.sc.sp == a1.sc.sp; });
    CHECK(held.take(1).sc.sp == a1.sc.sp);
}
