// tests/internal/test_stack_pool.cpp: slab stacks, from the pool itself.
// Each lane (a worker's index) carves from a slab of its own; within a
// lane's slab a stack's canary is the reserved top of the stack below it;
// a carve zeroes the canary of the stack it hands out; freed stacks are
// reused whatever the lane.
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
constexpr std::size_t slab_stacks = 256;   // stack_pool.cpp's stacks_per_slab

}  // namespace

TEST_CASE("slab stacks: a slab per lane, each canary in the stack below, zeroed when carved") {
    stack_pool pool(usable);
    std::vector<pooled_stack_info> held;
    // The process's guarded stacks (at most 1,024) come first; the first
    // stack that is not a mapping of its own is lane 0's first slab stack.
    for (;;) {
        held.push_back(pool.allocate(0));
        if (!held.back().own_mapping) break;
        REQUIRE(held.size() <= 1024);
    }
    const pooled_stack_info a0 = held.back();
    CHECK(a0.guarded);   // on its slab's guard page
    const pooled_stack_info b0 = pool.allocate(1);
    held.push_back(b0);
    CHECK_FALSE(b0.own_mapping);
    CHECK(b0.guarded);   // lane 1 started a slab of its own
    // Two slabs are two mappings of 256 stacks each: their first stacks lie
    // at least a slab apart, so the lanes' pages never share a page table.
    const auto a = reinterpret_cast<std::uintptr_t>(bottom(a0)), b = reinterpret_cast<std::uintptr_t>(bottom(b0));
    CHECK((a > b ? a - b : b - a) >= slab_stacks * usable);

    const pooled_stack_info a1 = pool.allocate(0);
    const pooled_stack_info b1 = pool.allocate(1);
    held.push_back(a1);
    held.push_back(b1);
    CHECK_FALSE(a1.guarded);
    CHECK_FALSE(b1.guarded);
    CHECK(a1.sc.size == usable - stack_pool::canary_bytes);
    // Next in its lane's slab: the canary below a1 is a0's reserved top.
    CHECK(bottom(a1) == top(a0) + stack_pool::canary_bytes);
    CHECK(bottom(b1) == top(b0) + stack_pool::canary_bytes);

    // An overflow of a1 writes into its canary, and the check sees it.
    CHECK(stack_canary_intact(bottom(a1)));
    bottom(a1)[-stack_pool::canary_bytes] = 1;
    CHECK_FALSE(stack_canary_intact(bottom(a1)));
    bottom(a1)[-stack_pool::canary_bytes] = 0;
    bottom(a1)[-1] = 0x40;
    CHECK_FALSE(stack_canary_intact(bottom(a1)));
    bottom(a1)[-1] = 0;
    CHECK(stack_canary_intact(bottom(a1)));

    // The carve of a2 writes its canary (a1's reserved top) to zero.
    std::memset(top(a1), 0xA5, stack_pool::canary_bytes);
    const pooled_stack_info a2 = pool.allocate(0);
    held.push_back(a2);
    CHECK(bottom(a2) == top(a1) + stack_pool::canary_bytes);
    CHECK(stack_canary_intact(bottom(a2)));

    // A freed stack goes to whichever lane asks next (the lane only picks
    // where new stacks are carved).
    pool.deallocate(a1);
    held.erase(held.end() - 3);   // a1: held is ..., a0, b0, a1, b1, a2
    const pooled_stack_info again = pool.allocate(1);
    CHECK(again.sc.sp == a1.sc.sp);
    held.push_back(again);

    for (const pooled_stack_info& s : held) pool.deallocate(s);
}
