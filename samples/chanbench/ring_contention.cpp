// samples/chanbench/ring_contention.cpp: the floor under a shared buffered
// channel, without coroutines: T threads each push and pop on one ring of
// 1,024 longs, eight at a time (as chanbench's mpmc does with producers and
// consumers on each worker), through
//  - a ring under a test-and-test-and-set lock with exponential backoff
//    (rill's channel lock: src/chan_core.cpp's spinlock), and
//  - Vyukov's bounded MPMC queue (lock-free: a CAS on the head or tail index
//    and a sequence number per cell, as crossbeam's array channel).
// It answers whether a lock-free ring would make a contended channel cheaper
// here (docs/BENCHMARKS.md: it does not).
//
//     build/samples/chanbench/ring_contention 1
//     build/samples/chanbench/ring_contention 2
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <thread>
#include <vector>

namespace {

void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

class backoff_lock {
public:
    void lock() noexcept {
        while (flag_.exchange(true, std::memory_order_acquire))
            for (int round = 0; flag_.load(std::memory_order_relaxed); ++round) {
                if (round < 10)
                    for (int i = 0; i < (1 << round); ++i) cpu_relax();
                else
                    std::this_thread::yield();
            }
    }
    void unlock() noexcept { flag_.store(false, std::memory_order_release); }

private:
    std::atomic<bool> flag_{false};
};

class locked_ring {
public:
    explicit locked_ring(std::size_t capacity) : cap_(capacity), buf_(new long[capacity]) {}
    bool push(long v) noexcept {
        lock_.lock();
        const bool room = count_ < cap_;
        if (room) {
            std::size_t i = head_ + count_;
            buf_[i < cap_ ? i : i - cap_] = v;
            ++count_;
        }
        lock_.unlock();
        return room;
    }
    bool pop(long& v) noexcept {
        lock_.lock();
        const bool any = count_ > 0;
        if (any) {
            v = buf_[head_];
            head_ = head_ + 1 == cap_ ? 0 : head_ + 1;
            --count_;
        }
        lock_.unlock();
        return any;
    }

private:
    backoff_lock lock_;
    std::size_t head_ = 0, count_ = 0;
    const std::size_t cap_;
    std::unique_ptr<long[]> buf_;
};

class vyukov_ring {
public:
    explicit vyukov_ring(std::size_t capacity) : mask_(capacity - 1), cells_(new cell[capacity]) {   // a power of two
        for (std::size_t i = 0; i < capacity; ++i) cells_[i].seq.store(i, std::memory_order_relaxed);
    }
    bool push(long v) noexcept {
        std::size_t pos = enqueue_.load(std::memory_order_relaxed);
        for (;;) {
            cell& c = cells_[pos & mask_];
            const auto d = std::intptr_t(c.seq.load(std::memory_order_acquire)) - std::intptr_t(pos);
            if (d == 0) {
                if (enqueue_.compare_exchange_weak(pos, pos + 1, std::memory_order_relaxed)) {
                    c.value = v;
                    c.seq.store(pos + 1, std::memory_order_release);
                    return true;
                }
            } else if (d < 0) {
                return false;   // full
            } else {
                pos = enqueue_.load(std::memory_order_relaxed);
            }
        }
    }
    bool pop(long& v) noexcept {
        std::size_t pos = dequeue_.load(std::memory_order_relaxed);
        for (;;) {
            cell& c = cells_[pos & mask_];
            const auto d = std::intptr_t(c.seq.load(std::memory_order_acquire)) - std::intptr_t(pos + 1);
            if (d == 0) {
                if (dequeue_.compare_exchange_weak(pos, pos + 1, std::memory_order_relaxed)) {
                    v = c.value;
                    c.seq.store(pos + mask_ + 1, std::memory_order_release);
                    return true;
                }
            } else if (d < 0) {
                return false;   // empty
            } else {
                pos = dequeue_.load(std::memory_order_relaxed);
            }
        }
    }

private:
    struct cell {
        std::atomic<std::size_t> seq;
        long value;
    };
    const std::size_t mask_;
    std::unique_ptr<cell[]> cells_;
    alignas(64) std::atomic<std::size_t> enqueue_{0};
    alignas(64) std::atomic<std::size_t> dequeue_{0};
};

/// ns per message: every thread sends n / threads values and receives as many.
template <class Ring>
double run(int threads, long n) {
    Ring ring(1024);
    std::atomic<long> total{0};
    const long each = n / threads;
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<std::thread> ts;
    for (int t = 0; t < threads; ++t)
        ts.emplace_back([&] {
            long sent = 0, got = 0, sum = 0;
            while (got < each || sent < each) {
                for (int k = 0; k < 8 && sent < each && ring.push(sent); ++k) ++sent;
                long v;
                for (int k = 0; k < 8 && got < each && ring.pop(v); ++k) ++got, sum += v;
            }
            total += sum;
        });
    for (auto& t : ts) t.join();
    const double ns = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() * 1e9 / double(each * threads);
    const long want = threads * (each * (each - 1) / 2);
    if (total.load() != want) {
        std::fprintf(stderr, "ring_contention: lost or duplicated values\n");
        std::exit(1);
    }
    return ns;
}

}  // namespace

int main(int argc, char** argv) {
    const int threads = argc > 1 ? std::atoi(argv[1]) : 2;
    const long n = argc > 2 ? std::atol(argv[2]) : 20'000'000;
    if (threads < 1 || n < threads) {
        std::fprintf(stderr, "usage: ring_contention [THREADS [MESSAGES]]\n");
        return 2;
    }
    for (int rep = 0; rep < 3; ++rep)
        std::printf("{\"threads\":%d,\"locked_ns_per_msg\":%.1f,\"vyukov_ns_per_msg\":%.1f}\n", threads, run<locked_ring>(threads, n),
                    run<vyukov_ring>(threads, n));
    return 0;
}
