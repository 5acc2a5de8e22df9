// samples/wordcount/populated_allocator.hpp: memory that is mapped in when
// it is allocated, many pages per system call, instead of page by page at
// first touch. For the WordCount tables and chanbench's pipeline buffers,
// which are filled soon after they are allocated.
//
// A page's first touch is a page fault. On the 2-core virtual machine of
// docs/BENCHMARKS.md a fault costs 12-23 us, and a page mapped in by
// MADV_POPULATE_WRITE (Linux 5.14; it leaves the contents alone) about 1.2:
// faults were a third of chanbench's wordcount at threads=1. On bare metal
// the gain is smaller, never a loss. The library does the same for stacks
// (src/prefault.hpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <sys/mman.h>

/// Maps in the whole pages of [p, p + n). Best effort: a kernel that
/// cannot refuses, and the pages then fault in as usual. Below 64 KiB it
/// does nothing (the system call would cost more than the faults it saves).
inline void populate(void* p, std::size_t n) noexcept {
    if (n < (std::size_t(64) << 10)) return;
    const std::uintptr_t page = 4096;
    const std::uintptr_t lo = (std::uintptr_t(p) + page - 1) & ~(page - 1), hi = (std::uintptr_t(p) + n) & ~(page - 1);
#ifdef MADV_POPULATE_WRITE
    if (hi > lo) ::madvise(reinterpret_cast<void*>(lo), hi - lo, MADV_POPULATE_WRITE);
#endif
}

/// std::allocator, with each block populated (above) as it is allocated.
template <class T>
struct populated_allocator {
    using value_type = T;
    populated_allocator() = default;
    template <class U>
    populated_allocator(const populated_allocator<U>&) noexcept {}
    T* allocate(std::size_t n) {
        T* t = std::allocator<T>().allocate(n);
        populate(t, n * sizeof(T));
        return t;
    }
    void deallocate(T* t, std::size_t n) noexcept { std::allocator<T>().deallocate(t, n); }
    friend bool operator==(const populated_allocator&, const populated_allocator&) noexcept { return true; }
};
