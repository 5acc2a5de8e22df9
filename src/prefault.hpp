// src/prefault.hpp: map pages in before their first touch, many per system call.
//
// A page's first touch is a page fault: a trap into the kernel for every
// page. Where memory is about to be touched page by page (the top page of
// every new stack, a run of fresh coroutine records), asking the kernel to
// map the pages in one call costs one entry instead of one per page. On the
// 2-core virtual machine of docs/BENCHMARKS.md a fault costs 12-20 us and a
// prefaulted page 0.7-1.2 us; on bare metal the gain is smaller, never a loss.
//
// MADV_POPULATE_WRITE (Linux 5.14) maps pages writable as a write would,
// without changing their contents, so it is safe on memory other threads are
// using. process_madvise accepts it for the caller's own process since Linux
// 6.13, with many ranges per call. Older kernels refuse; each function then
// falls back (one madvise per range, or nothing) and remembers the refusal.
#pragma once

#include <cstddef>
#include <span>

namespace rill::detail {

/// Maps in the pages that [begin, begin + len) touches. Best effort: a
/// kernel that cannot does nothing, and the pages fault in as usual.
void prefault_range(void* begin, std::size_t len) noexcept;

/// Maps in `page_len` bytes (whole pages) at each of `starts` (page-aligned),
/// in as few system calls as the kernel allows.
void prefault_pages(std::span<void* const> starts, std::size_t page_len) noexcept;

}  // namespace rill::detail
