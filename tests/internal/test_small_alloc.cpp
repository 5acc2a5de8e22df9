// tests/internal/test_small_alloc.cpp: the per-thread block cache behind
// coroutine records and bodies (rill/detail/small_alloc.hpp). Blocks must
// never overlap, whether fresh from a refill (32 KiB of blocks taken from
// malloc at once) or recycled through a thread's list and the depot, and a
// block freed on one thread must be usable when another thread gets it.
#include <rill/detail/small_alloc.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <thread>
#include <utility>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#  define TEST_ASAN 1   // small_alloc is off: blocks come from operator new, which ASan quarantines
#elif defined(__has_feature)
#  if __has_feature(address_sanitizer)
#    define TEST_ASAN 1
#  endif
#endif

using rill::detail::small_alloc;
using rill::detail::small_free;

namespace {

/// Allocates n blocks of `size`, fills each with its own byte pattern.
std::vector<void*> take(std::size_t n, std::size_t size) {
    std::vector<void*> v;
    v.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
        void* p = small_alloc(size);
        std::memset(p, int(i % 251), size);
        v.push_back(p);
    }
    return v;
}

/// Every block still holds its pattern, and no two blocks overlap.
void check(const std::vector<void*>& v, std::size_t size) {
    std::size_t damaged = 0;
    for (std::size_t i = 0; i < v.size(); ++i) {
        const auto* b = static_cast<const unsigned char*>(v[i]);
        for (std::size_t k = 0; k < size; ++k) damaged += b[k] != (i % 251);
    }
    CHECK(damaged == 0);
    std::vector<std::uintptr_t> at;
    for (void* p : v) at.push_back(reinterpret_cast<std::uintptr_t>(p));
    std::sort(at.begin(), at.end());
    std::size_t overlapping = 0;
    for (std::size_t i = 1; i < at.size(); ++i) overlapping += at[i] - at[i - 1] < size;
    CHECK(overlapping == 0);
}

/// How many of the blocks in `later` were among those in `earlier`.
std::size_t handed_out_again(std::vector<void*> earlier, const std::vector<void*>& later) {
    std::sort(earlier.begin(), earlier.end());
    std::size_t n = 0;
    for (void* p : later) n += std::binary_search(earlier.begin(), earlier.end(), p);
    return n;
}

void give_back(const std::vector<void*>& v, std::size_t size) {
    for (void* p : v) small_free(p, size);
}

}  // namespace

TEST_CASE("fresh blocks of every size class, many refills' worth: distinct, whole") {
    for (std::size_t size : {16u, 40u, 176u, 512u, 600u}) {   // 600: beyond the cache, straight from operator new
        INFO("size ", size);
        const std::size_t n = 4 * 32 * 1024 / size + 100;   // more than four refills
        std::vector<void*> v = take(n, size);
        check(v, size);
        give_back(v, size);
    }
}

TEST_CASE("freed blocks come back: a second round reuses them and stays whole") {
    const std::size_t size = 176, n = 5000;
    std::vector<void*> first = take(n, size);
    give_back(first, size);
    std::vector<void*> second = take(n, size);
    check(second, size);
    const std::size_t reused = handed_out_again(first, second);
    INFO("reused ", reused, " of ", n);
#if !defined(TEST_ASAN)
    CHECK(reused > 0);   // the thread's list and the depot hand freed blocks out again
#endif
    give_back(second, size);
}

TEST_CASE("blocks freed on another thread reach this one through the depot, whole") {
    const std::size_t size = 96, n = 3000;
    std::vector<void*> mine = take(n, size);
    std::thread([&] { give_back(mine, size); }).join();   // all freed there: batches go to the depot
    // A new thread, whose list is empty, takes them from the depot.
    std::vector<void*> theirs;
    std::thread([&] { theirs = take(n, size); }).join();
    check(theirs, size);
    const std::size_t from_depot = handed_out_again(mine, theirs);
    INFO("from the depot: ", from_depot, " of ", n);
#if !defined(TEST_ASAN)
    CHECK(from_depot > 0);
#endif
    give_back(theirs, size);
}
