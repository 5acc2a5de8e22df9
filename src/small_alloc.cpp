// src/small_alloc.cpp: a per-thread cache of small blocks for coroutine
// records and bodies (rill/detail/small_alloc.hpp).
//
// Why: a coroutine is usually spawned on one worker and retired on another.
// With malloc that is a cross-thread free for every spawn, and glibc then
// locks the spawning thread's arena from the retiring one: with two workers
// the arena lock, not the coroutines, was the bottleneck of `spawn`.
//
// How: each thread keeps a free list per size class. Frees go to the
// freeing thread's list; past `high_water` blocks, a batch of `batch` goes
// to the depot (one spinlock per class), where an allocating thread whose
// list is empty takes a whole batch. So the blocks flow from the retiring
// worker back to the spawning one, one lock per `batch` blocks. The depot
// keeps at most `depot_limit` blocks per class; beyond, batches go back to
// malloc, so a burst of a million coroutines is not kept for ever. When
// neither the list nor the depot has a block, the list is refilled with
// 32 KiB of fresh blocks whose pages are mapped in by one call
// (refill_from_malloc).
// Under AddressSanitizer the cache is off (blocks reused here would hide
// a use after free from it).
#include <rill/detail/small_alloc.hpp>

#include <rill/detail/spinlock.hpp>
#include "prefault.hpp"
#include "resource_errors.hpp"

#include <rill/errors.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <cstdint>
#include <mutex>
#include <new>

#if defined(__SANITIZE_ADDRESS__)
#  define RILL_SMALL_ALLOC_OFF 1
#elif defined(__has_feature)
#  if __has_feature(address_sanitizer)
#    define RILL_SMALL_ALLOC_OFF 1
#  endif
#endif

namespace rill::detail {

namespace {

const resource_error no_memory_left("rill: out of memory (not even for this error's message)");

/// operator new, with the refusal said in rill's terms.
void* new_block(std::size_t size) {
    try {
        return ::operator new(size);
    } catch (const std::bad_alloc&) {
        throw_resource_error([&] { return fmt::format("rill: cannot allocate {} bytes for a coroutine: out of memory", size); });
    }
}

}  // namespace

const resource_error& out_of_memory_error() noexcept { return no_memory_left; }

#if !defined(RILL_SMALL_ALLOC_OFF)
namespace {

constexpr std::size_t granule = 16;                        // size classes: 16, 32, ..., 512 bytes
constexpr std::size_t classes = small_alloc_max / granule;
constexpr std::size_t batch = 32;                          // blocks moved to or from the depot at once
constexpr std::size_t high_water = 2 * batch;              // a thread keeps at most this many per class
constexpr std::size_t depot_limit = 4096;                  // blocks per class the depot keeps

struct free_block {
    free_block* next;
};

/// A chain of `batch` blocks linked through free_block::next; batches are
/// linked through their first block's second word.
struct batch_header {
    free_block* next_block;   // overlays free_block::next of the first block
    batch_header* next_batch;
};
static_assert(granule >= sizeof(batch_header));

struct depot_class {
    spinlock lock;
    batch_header* batches = nullptr;   // guarded by lock
    std::size_t blocks = 0;            // guarded by lock
};

std::array<depot_class, classes>& depot() {
    static std::array<depot_class, classes> d;   // never destroyed before the threads that use it
    return d;
}

std::size_t class_of(std::size_t size) noexcept { return (size + granule - 1) / granule - 1; }
std::size_t class_size(std::size_t c) noexcept { return (c + 1) * granule; }

void free_chain(free_block* b) noexcept {
    while (b) {
        free_block* next = b->next;
        ::operator delete(static_cast<void*>(b));
        b = next;
    }
}

/// Gives a chain of exactly `batch` blocks to the depot, or back to malloc
/// when the depot is full.
void to_depot(free_block* chain, std::size_t c) noexcept {
    depot_class& d = depot()[c];
    {
        std::scoped_lock l(d.lock);
        if (d.blocks + batch <= depot_limit) {
            auto* h = reinterpret_cast<batch_header*>(chain);
            h->next_batch = d.batches;
            d.batches = h;
            d.blocks += batch;
            return;
        }
    }
    free_chain(chain);
}

free_block* from_depot(std::size_t c) noexcept {
    depot_class& d = depot()[c];
    std::scoped_lock l(d.lock);
    batch_header* h = d.batches;
    if (!h) return nullptr;
    d.batches = h->next_batch;
    d.blocks -= batch;
    return reinterpret_cast<free_block*>(h);
}

struct thread_cache {
    struct list {
        free_block* head = nullptr;
        std::size_t count = 0;
    };
    std::array<list, classes> lists{};

    ~thread_cache() {   // a thread that ends gives its blocks back
        for (std::size_t c = 0; c < classes; ++c) {
            list& l = lists[c];
            while (l.count >= batch) to_depot(take_batch(l), c);
            free_chain(l.head);
            l = {};
        }
    }

    static free_block* take_batch(list& l) noexcept {
        free_block* first = l.head;
        free_block* last = first;
        for (std::size_t i = 1; i < batch; ++i) last = last->next;
        l.head = last->next;
        last->next = nullptr;
        l.count -= batch;
        return first;
    }
};

[[gnu::tls_model("initial-exec")]] thread_local thread_cache tls_cache;

constexpr std::size_t refill_bytes = 32 * 1024;   // fresh blocks taken from malloc at once

/// Fills an empty list with fresh blocks from malloc: about refill_bytes'
/// worth, at least `batch`. Here the population is growing (no freed block
/// was left anywhere), and malloc carves fresh blocks from the top of its
/// heap, page by page: a thread's own arena grows by one mprotect per page
/// and each new page faults at its first chunk header. So the refill first
/// takes the whole run as one block, maps its pages in with one call
/// (prefault.hpp) and gives it back: the heap is grown at once, and the
/// small blocks that follow are carved from the same, mapped, memory.
/// Nothing depends on that: were malloc to place them elsewhere, they
/// would only fault as before.
void refill_from_malloc(thread_cache::list& l, std::size_t c) {
    const std::size_t size = class_size(c);
    const std::size_t n = std::max(batch, refill_bytes / size);
    const std::size_t run_bytes = n * (size + 16);   // with room for malloc's chunk headers (8 bytes, rounded to 16)
    if (void* run = std::malloc(run_bytes)) {
        prefault_range(run, run_bytes);
        std::free(run);
    }
    for (std::size_t i = 0; i < n; ++i) {
        void* p;
        try {
            p = new_block(size);
        } catch (...) {
            if (l.head) break;   // out of memory: the blocks already had will do for now
            throw;
        }
        auto* b = static_cast<free_block*>(p);
        b->next = l.head;
        l.head = b;
        ++l.count;
    }
}

}  // namespace
#endif

void* small_alloc(std::size_t size) {
#if defined(RILL_SMALL_ALLOC_OFF)
    return new_block(size);
#else
    if (size > small_alloc_max) return new_block(size);
    std::size_t c = class_of(size);
    thread_cache::list& l = tls_cache.lists[c];
    if (!l.head) {
        if (free_block* chain = from_depot(c)) {
            l.head = chain;
            l.count = batch;
        } else {
            refill_from_malloc(l, c);
        }
    }
    free_block* b = l.head;
    l.head = b->next;
    --l.count;
    return b;
#endif
}

void small_free(void* p, std::size_t size) noexcept {
#if defined(RILL_SMALL_ALLOC_OFF)
    (void)size;
    ::operator delete(p);
#else
    if (size > small_alloc_max) {
        ::operator delete(p);
        return;
    }
    std::size_t c = class_of(size);
    thread_cache::list& l = tls_cache.lists[c];
    auto* b = static_cast<free_block*>(p);
    b->next = l.head;
    l.head = b;
    if (++l.count > high_water) to_depot(thread_cache::take_batch(l), c);
#endif
}

}  // namespace rill::detail
