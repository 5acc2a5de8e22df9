// src/stack_pool.cpp: mapped stacks with guard pages, reused.
#include "stack_pool.hpp"

#include "live_counts.hpp"

#include <rill/errors.hpp>

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <sys/mman.h>
#include <unistd.h>

namespace rill::detail {

namespace {
constexpr std::size_t max_cached_stacks = 4096;
}

stack_pool::stack_pool(std::size_t usable_size) : page_(std::size_t(::sysconf(_SC_PAGESIZE))) {
    std::size_t min = 16 * 1024;
    if (usable_size < min) usable_size = min;
    usable_ = (usable_size + page_ - 1) / page_ * page_;
}

stack_pool::~stack_pool() {
    for (auto& sc : free_) {
        ::munmap(static_cast<char*>(sc.sp) - sc.size - page_, sc.size + page_);
        live_counts::stacks.fetch_sub(1, std::memory_order_relaxed);
    }
}

boost::context::stack_context stack_pool::allocate() {
    {
        std::scoped_lock l(lock_);
        if (!free_.empty()) {
            auto sc = free_.back();
            free_.pop_back();
            return sc;
        }
    }
    std::size_t total = usable_ + page_;
    void* base = ::mmap(nullptr, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (base == MAP_FAILED) {
        int err = errno;
        throw resource_error(fmt::format("rill: cannot map a coroutine stack of {} KiB: {} (raise vm.max_map_count or lower options.stack_size)",
                                         usable_ / 1024, std::strerror(err)));
    }
    if (::mprotect(base, page_, PROT_NONE) != 0) {   // the guard page, below the stack (stacks grow down)
        int err = errno;
        ::munmap(base, total);
        throw resource_error(fmt::format("rill: cannot protect a coroutine stack's guard page: {} (raise vm.max_map_count)",
                                         std::strerror(err)));
    }
    live_counts::stacks.fetch_add(1, std::memory_order_relaxed);
    boost::context::stack_context sc;
    sc.size = usable_;
    sc.sp = static_cast<char*>(base) + total;
    return sc;
}

void stack_pool::deallocate(boost::context::stack_context& sc) noexcept {
    {
        std::scoped_lock l(lock_);
        if (free_.size() < max_cached_stacks) {
            free_.push_back(sc);
            return;
        }
    }
    ::munmap(static_cast<char*>(sc.sp) - sc.size - page_, sc.size + page_);
    live_counts::stacks.fetch_sub(1, std::memory_order_relaxed);
}

}  // namespace rill::detail
