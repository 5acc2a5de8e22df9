// src/prefault.cpp: see prefault.hpp.
#include "prefault.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#ifndef MADV_POPULATE_WRITE
#  define MADV_POPULATE_WRITE 23
#endif

namespace rill::detail {

namespace {

// Cleared for good when the kernel says it does not know the call or the
// advice (ENOSYS, EINVAL); other failures (ENOMEM for a range with a hole,
// an interrupted call) only end that one call.
std::atomic<bool> populate_works{true};
std::atomic<bool> process_madvise_works{true};

bool refused(int err) noexcept { return err == ENOSYS || err == EINVAL || err == EPERM; }

std::size_t page_size() noexcept {
    static const std::size_t page = std::size_t(::sysconf(_SC_PAGESIZE));
    return page;
}

}  // namespace

void prefault_range(void* begin, std::size_t len) noexcept {
    if (len == 0 || !populate_works.load(std::memory_order_relaxed)) return;
    const std::uintptr_t page = page_size();
    const std::uintptr_t lo = reinterpret_cast<std::uintptr_t>(begin) & ~(page - 1);
    const std::uintptr_t hi = (reinterpret_cast<std::uintptr_t>(begin) + len + page - 1) & ~(page - 1);
    if (::madvise(reinterpret_cast<void*>(lo), hi - lo, MADV_POPULATE_WRITE) != 0 && refused(errno))
        populate_works.store(false, std::memory_order_relaxed);
}

void prefault_pages(std::span<void* const> starts, std::size_t page_len) noexcept {
    if (starts.empty() || !populate_works.load(std::memory_order_relaxed)) return;
#if defined(SYS_process_madvise) && defined(SYS_pidfd_open)
    if (process_madvise_works.load(std::memory_order_relaxed)) {
        // A pidfd of our own process, opened per call: kept open, it would
        // name the parent in a forked child.
        const int pidfd = int(::syscall(SYS_pidfd_open, ::getpid(), 0));
        if (pidfd >= 0) {
            constexpr std::size_t max_ranges = 256;   // a slab's worth; the kernel takes up to UIO_MAXIOV (1024)
            iovec iov[max_ranges];
            bool ok = true;
            for (std::size_t i = 0; i < starts.size() && ok; i += max_ranges) {
                const std::size_t n = std::min(max_ranges, starts.size() - i);
                for (std::size_t k = 0; k < n; ++k) iov[k] = {starts[i + k], page_len};
                if (::syscall(SYS_process_madvise, pidfd, iov, n, MADV_POPULATE_WRITE, 0) < 0) {
                    ok = false;
                    if (refused(errno)) process_madvise_works.store(false, std::memory_order_relaxed);
                }
            }
            ::close(pidfd);
            if (ok || process_madvise_works.load(std::memory_order_relaxed)) return;
        } else if (refused(errno)) {
            process_madvise_works.store(false, std::memory_order_relaxed);
        }
    }
#endif
    for (void* p : starts) prefault_range(p, page_len);   // one call per range
}

}  // namespace rill::detail
