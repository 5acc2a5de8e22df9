// tests/internal/test_prefault.cpp: pages mapped in ahead of their first
// touch (src/prefault.hpp), and the stack pool using it for a new slab.
// Where the kernel lacks MADV_POPULATE_WRITE (before Linux 5.14) the
// residency checks cannot hold; each case then says so and checks only
// that nothing changed.
#include "prefault.hpp"
#include "stack_pool.hpp"

#include <doctest/doctest.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <sys/mman.h>
#include <unistd.h>
#include <vector>

#ifndef MADV_POPULATE_WRITE
#  define MADV_POPULATE_WRITE 23
#endif

using rill::detail::prefault_pages;
using rill::detail::prefault_range;
using rill::detail::pooled_stack_info;
using rill::detail::stack_pool;

namespace {

const std::size_t page = std::size_t(::sysconf(_SC_PAGESIZE));

/// An anonymous mapping, unmapped at the end of the test.
struct mapping {
    std::size_t len;
    char* base;
    explicit mapping(std::size_t pages)
        : len(pages * page), base(static_cast<char*>(::mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0))) {
        REQUIRE(base != MAP_FAILED);
    }
    ~mapping() { ::munmap(base, len); }
};

/// Which of the pages at p.. are resident.
std::vector<bool> resident(const void* p, std::size_t pages) {
    std::vector<unsigned char> v(pages);
    REQUIRE(::mincore(const_cast<void*>(p), pages * page, v.data()) == 0);
    return {v.begin(), v.end()};   // bit 0: resident
}

bool kernel_populates() {
    mapping probe(1);
    return ::madvise(probe.base, page, MADV_POPULATE_WRITE) == 0;
}

}  // namespace

TEST_CASE("prefault_range maps in every page the range touches and changes nothing") {
    mapping m(16);
    m.base[3 * page + 7] = 'x';   // one page written before: its contents must survive
    prefault_range(m.base + 2 * page + 100, 5 * page);   // touches pages 2..7 (not page-aligned at either end)
    CHECK(m.base[3 * page + 7] == 'x');
    CHECK(m.base[2 * page + 100] == 0);
    if (!kernel_populates()) {
        MESSAGE("this kernel has no MADV_POPULATE_WRITE: residency not checked");
        return;
    }
    const std::vector<bool> r = resident(m.base, 16);
    for (std::size_t i = 0; i < 16; ++i) {
        INFO("page ", i);
        CHECK(r[i] == (i >= 2 && i <= 7));
    }
}

TEST_CASE("prefault_pages maps in the pages asked for, and only those, over more than one call's worth") {
    constexpr std::size_t stride = 3, count = 700;   // more ranges than one process_madvise call of prefault_pages takes (256)
    mapping m(stride * count);
    std::vector<void*> starts;
    for (std::size_t i = 0; i < count; ++i) starts.push_back(m.base + i * stride * page);
    prefault_pages(starts, page);
    if (!kernel_populates()) {
        MESSAGE("this kernel has no MADV_POPULATE_WRITE: residency not checked");
        return;
    }
    const std::vector<bool> r = resident(m.base, stride * count);
    std::size_t wrong = 0;
    for (std::size_t i = 0; i < stride * count; ++i) wrong += r[i] != (i % stride == 0);
    CHECK(wrong == 0);
}

TEST_CASE("a new slab's stacks have their top pages mapped in before any is used") {
    stack_pool pool(64 * 1024);
    std::vector<pooled_stack_info> held;
    // The process's guarded stacks (at most 1,024) come first; then lane 0's first slab.
    for (std::size_t i = 0;; ++i) {
        REQUIRE(i <= 1024);
        held.push_back(pool.allocate(0));
        if (!held.back().own_mapping) break;
    }
    const pooled_stack_info first = held.back();   // the slab's lowest stack
    if (kernel_populates()) {
        // Every stack of the slab: its top page (where sp starts) is resident,
        // though only the first has been handed out; the page below is not.
        const std::size_t stride = first.sc.size + stack_pool::canary_bytes;   // a slab stack's usable size plus its reserved top
        const char* top0 = static_cast<char*>(first.sc.sp) + stack_pool::canary_bytes;   // the end of the first stack's slot
        std::size_t top_resident = 0, below_resident = 0;
        for (std::size_t i = 0; i < stack_pool::stacks_per_slab; ++i) {
            const char* end = top0 + i * stride;
            top_resident += resident(end - page, 1)[0];
            below_resident += resident(end - 2 * page, 1)[0];
        }
        CHECK(top_resident == stack_pool::stacks_per_slab);
        CHECK(below_resident == 0);
    } else {
        MESSAGE("this kernel has no MADV_POPULATE_WRITE: residency not checked");
    }
    for (const pooled_stack_info& s : held) pool.deallocate(s);
}
