// src/stack_pool.cpp: guarded stacks while mappings are cheap, slab stacks beyond.
#include "stack_pool.hpp"

#include "live_counts.hpp"
#include "prefault.hpp"
#include "resource_errors.hpp"

#include <rill/errors.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <sys/mman.h>
#include <unistd.h>

namespace rill::detail {

namespace {

constexpr std::size_t max_guarded = 1024;   // stacks with a mapping of their own, in the process

/// Guarded stacks alive in the whole process, and how many may be.
std::atomic<std::size_t> guarded_alive{0};

std::size_t guarded_budget() {
    static const std::size_t budget = [] {
        std::size_t max_maps = 65530;
        if (std::FILE* f = std::fopen("/proc/sys/vm/max_map_count", "r")) {
            unsigned long v = 0;
            if (std::fscanf(f, "%lu", &v) == 1 && v > 0) max_maps = v;
            std::fclose(f);
        }
        return std::min(max_guarded, max_maps / 8);
    }();
    return budget;
}

[[noreturn]] void refuse(const char* what, std::size_t kib, int err) {
    throw_resource_error([&] {
        return fmt::format("rill: cannot map {} ({} KiB): {}; lower options.stack_size, or raise vm.max_map_count or the memory limit",
                           what, kib, std::strerror(err));
    });
}

}  // namespace

bool stack_canary_intact(const void* bottom) noexcept {
    const auto* p = static_cast<const unsigned char*>(bottom) - stack_pool::canary_bytes;
    unsigned char any = 0;
    for (std::size_t i = 0; i < stack_pool::canary_bytes; ++i) any |= p[i];
    return any == 0;
}

stack_pool::stack_pool(std::size_t usable_size) : page_(std::size_t(::sysconf(_SC_PAGESIZE))) {
    constexpr std::size_t min = 16 * 1024;
    if (usable_size < min) usable_size = min;
    usable_ = (usable_size + page_ - 1) / page_ * page_;
}

stack_pool::~stack_pool() {
    for (auto& s : free_) {
        if (!s.own_mapping) continue;
        ::munmap(static_cast<char*>(s.sc.sp) - s.sc.size - page_, s.sc.size + page_);
        guarded_alive.fetch_sub(1, std::memory_order_relaxed);
    }
    for (auto& [base, len] : slabs_) ::munmap(base, len);
    live_counts::stacks.fetch_sub(free_.size(), std::memory_order_relaxed);
}

pooled_stack_info stack_pool::allocate(unsigned lane) {
    pooled_stack_info s;
    char* fresh_slab = nullptr;   // set when this call mapped a new slab
    {
        std::scoped_lock l(lock_);
        if (!free_.empty()) {
            s = free_.back();
            free_.pop_back();
            return s;
        }
        s = guarded_alive.load(std::memory_order_relaxed) < guarded_budget() ? map_guarded(lane, fresh_slab) : carve_from_slab(lane, fresh_slab);
        live_counts::stacks.fetch_add(1, std::memory_order_relaxed);
    }
    // A new stack's top page (where its coroutine's first frames go), or the
    // top page of every stack of a new slab, mapped in ahead of the first
    // touch: one call instead of a page fault per stack. The slab is new
    // because this many stacks are live, so most of it will be used soon.
    // Outside lock_: the other workers' allocations need not wait for it.
    // Only this lane's worker carves from this slab, and populating a page
    // would not change it even if a stack on it were in use already.
    if (fresh_slab) {
        std::array<void*, stacks_per_slab> tops;
        for (std::size_t i = 0; i < stacks_per_slab; ++i) tops[i] = fresh_slab + (i + 1) * usable_;
        prefault_pages(tops, page_);
    } else if (s.own_mapping) {
        prefault_range(static_cast<char*>(s.sc.sp) - page_, page_);
    }
    return s;
}

pooled_stack_info stack_pool::map_guarded(unsigned lane, char*& fresh_slab) {
    std::size_t total = usable_ + page_;
    void* base = ::mmap(nullptr, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (base == MAP_FAILED) {
        if (errno == ENOMEM) return carve_from_slab(lane, fresh_slab);   // out of mappings: fall back to a slab stack
        refuse("a coroutine stack", usable_ / 1024, errno);
    }
    if (::mprotect(base, page_, PROT_NONE) != 0) {   // the guard page, below the stack (stacks grow down)
        int err = errno;
        ::munmap(base, total);
        if (err == ENOMEM) return carve_from_slab(lane, fresh_slab);   // out of mappings: fall back to a slab stack
        refuse("a coroutine stack's guard page", page_ / 1024, err);
    }
    guarded_alive.fetch_add(1, std::memory_order_relaxed);
    boost::context::stack_context sc;
    sc.size = usable_;
    sc.sp = static_cast<char*>(base) + total;
    return {sc, true, true};
}

pooled_stack_info stack_pool::carve_from_slab(unsigned lane, char*& fresh_slab) {
    if (lane >= lanes_.size()) lanes_.resize(lane + 1);
    slab_cursor& cur = lanes_[lane];
    if (cur.left == 0) {
        std::size_t len = page_ + stacks_per_slab * usable_;
        void* base = ::mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
        if (base == MAP_FAILED) refuse("a slab of coroutine stacks", len / 1024, errno);
        ::mprotect(base, page_, PROT_NONE);   // guards the lowest stack; failure only loses that page's guard
        slabs_.emplace_back(static_cast<char*>(base), len);
        fresh_slab = static_cast<char*>(base);
        cur.next = static_cast<char*>(base) + page_;
        cur.left = stacks_per_slab;
    }
    // The top canary_bytes are the canary of the next stack up (see the header).
    const bool first = cur.left == stacks_per_slab;   // right above the slab's guard page
    boost::context::stack_context sc;
    sc.size = usable_ - canary_bytes;
    sc.sp = cur.next + sc.size;
    if (!first) std::memset(cur.next - canary_bytes, 0, canary_bytes);   // a write first: see the header
    cur.next += usable_;
    --cur.left;
    return {sc, first, false};
}

// Every stack stays mapped until the pool dies: the guarded ones are at most
// max_guarded, and unmapping one would take the mmap lock that every other
// thread's page faults wait for.
void stack_pool::deallocate(const pooled_stack_info& s) noexcept {
    std::scoped_lock l(lock_);
    free_.push_back(s);
}

}  // namespace rill::detail
