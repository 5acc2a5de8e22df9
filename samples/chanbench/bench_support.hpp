// samples/chanbench/bench_support.hpp: argument parsing, the JSON line, peak
// RSS, self-checks and the wordcount building blocks, kept identical to the
// peer programs' common code (Go, Boost.Fiber, threads) so that every figure
// compares like with like, except in where wordcount's buffers come from:
// here chunks and parts are reused through pools and mapped in as they are
// allocated (Pool, populated_allocator.hpp); the stages, their channels and
// what each message holds are the peers'. See docs/BENCHMARKS.md and
// WORKLOADS.md.
#pragma once
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "../wordcount/chunk_counts.hpp"
#include "../wordcount/populated_allocator.hpp"
#include "../wordcount/word_totals.hpp"
#include <sys/resource.h>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>
#include <utility>
#include <vector>

namespace bench {

[[noreturn]] inline void fail(const std::string& msg) {
    std::fflush(stdout);
    std::fprintf(stderr, "CHECK FAILED: %s\n", msg.c_str());
    std::fflush(stderr);
    std::_Exit(1);
}

struct Args {
    std::string workload;
    std::map<std::string, std::string> kv;
    bool has(const std::string& k) const { return kv.count(k) != 0; }
    long geti(const std::string& k, long def) const {
        auto it = kv.find(k);
        if (it == kv.end()) return def;
        char* end = nullptr;
        double d = std::strtod(it->second.c_str(), &end);  // accepts 1e6
        if (end == it->second.c_str() || *end) fail("bad integer for " + k + ": " + it->second);
        return (long)d;
    }
    std::string gets(const std::string& k, const std::string& def) const {
        auto it = kv.find(k);
        return it == kv.end() ? def : it->second;
    }
};

inline Args parse_args(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr,
                     "usage: %s WORKLOAD|all [n=..] [threads=..] [cap=..] [producers=..] [consumers=..] [file=..]\n"
                     "workloads: pingpong spsc mpmc mpmc_unbuf select4 spawn chain sieve wordcount (--help for more)\n",
                     argv[0]);
        std::exit(2);
    }
    Args a;
    a.workload = argv[1];
    for (int i = 2; i < argc; i++) {
        const char* eq = std::strchr(argv[i], '=');
        if (!eq) fail(std::string("argument is not key=value: ") + argv[i]);
        a.kv[std::string(argv[i], (size_t)(eq - argv[i]))] = eq + 1;
    }
    return a;
}

inline long default_n(const std::string& w) {
    if (w == "pingpong") return 1000000;
    if (w == "spsc") return 10000000;
    if (w == "mpmc") return 10000000;
    if (w == "mpmc_unbuf") return 2000000;
    if (w == "select4") return 4000000;
    if (w == "spawn") return 1000000;
    if (w == "chain") return 100000;
    if (w == "sieve") return 5000;
    if (w == "wordcount") return 0;
    fail("unknown workload " + w);
}

inline long peak_rss_kb() {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;  // kB on Linux
}

inline double now_s() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// One JSON line, keys in the order of WORKLOADS.md, extras appended verbatim
// (extra must be empty or start with ',').
inline void emit(const char* impl, const std::string& workload, int threads, long n, double ops, double secs,
                 const std::string& extra) {
    double ns_per_op = secs * 1e9 / ops;
    std::printf(
        "{\"impl\":\"%s\",\"workload\":\"%s\",\"threads\":%d,\"n\":%ld,\"ns_per_op\":%.2f,\"ops_per_s\":%.4g,"
        "\"peak_rss_kb\":%ld%s}\n",
        impl, workload.c_str(), threads, n, ns_per_op, ops / secs, peak_rss_kb(), extra.c_str());
    std::fflush(stdout);
}

// Sum and last of the first n primes, by a plain sequential sieve (for the sieve self-check).
inline std::pair<long, long> first_primes(long n) {
    long limit = 100;
    for (;;) {
        std::vector<char> comp(limit + 1, 0);
        long cnt = 0, sum = 0, last = 0;
        for (long i = 2; i <= limit && cnt < n; i++) {
            if (comp[i]) continue;
            cnt++, sum += i, last = i;
            for (long j = i * i; j <= limit; j += i) comp[j] = 1;
        }
        if (cnt == n) return {sum, last};
        limit *= 2;
    }
}

// ---------------------------------------------------------------- wordcount
// Words as the WordCount sample counts them (word_scan.hpp, chunk_counts.hpp:
// count_words). Chunks handed to mappers always end on a separator (or at
// the end of the file), so no word is split.

// A free list shared by the stages of a pipeline, on every worker: a stage
// takes an object, the stage after it gives it back once done with it, so
// that a run touches only as many objects as are ever in flight at once and
// their memory stays mapped. Fresh memory costs a page fault per 4 KiB, and
// a fault 12-23 us on the VM of docs/BENCHMARKS.md: freeing each chunk and
// each part to malloc, whose heaps then shrank and grew again, cost the
// pipeline 28,000 faults a run against the baseline's 4,100.
// The mutex is held only to push or pop one pointer, never across a channel
// operation, so a coroutine never parks holding it.
template <class T>
class Pool {
public:
    T* take() {
        {
            std::lock_guard<std::mutex> hold(mutex_);
            if (!free_.empty()) {
                T* t = free_.back().release();
                free_.pop_back();
                return t;
            }
        }
        return new T();
    }
    void give(T* t) {
        std::unique_ptr<T> owned(t);
        std::lock_guard<std::mutex> hold(mutex_);
        free_.push_back(std::move(owned));
    }

private:
    std::mutex mutex_;
    std::vector<std::unique_ptr<T>> free_;
};

// A chunk of the input: bytes read from the file (never zero-filled first:
// pread writes them; mapped in when allocated: populated_allocator.hpp) and
// how many of them are in use.
class Chunk {
public:
    char* data() noexcept { return bytes_.get(); }
    std::size_t size() const noexcept { return size_; }
    // Makes room for n bytes and marks them in use; their contents are
    // unspecified until written.
    void resize(std::size_t n) {
        if (n > capacity_) {
            bytes_.reset(new char[n]);
            populate(bytes_.get(), n);
            capacity_ = n;
        }
        size_ = n;
    }

private:
    std::unique_ptr<char[]> bytes_;
    std::size_t capacity_ = 0, size_ = 0;
};

// One reducer's share of one chunk: its distinct words with their counts
// and the hash (word_hash) the mapper computed, so that the reducer does not
// hash them again. The words lie back to back in one string, so a part
// reused from a Pool allocates nothing once it has held its largest share.
struct Part {
    struct Entry {
        uint64_t hash;
        uint32_t count;
        uint32_t length;
    };
    std::vector<Entry, populated_allocator<Entry>> entries;
    std::basic_string<char, std::char_traits<char>, populated_allocator<char>> text;

    void clear() noexcept { entries.clear(), text.clear(); }
    void add(std::string_view word, uint32_t count, uint64_t hash) {
        entries.push_back(Entry{hash, count, uint32_t(word.size())});
        text.append(word);
    }
    // Calls f(std::string_view word, uint64_t hash, uint32_t count) for each word.
    template <class F>
    void for_each(F&& f) const {
        std::size_t at = 0;
        for (const Entry& e : entries) {
            f(std::string_view(text.data() + at, e.length), e.hash, e.count);
            at += e.length;
        }
    }
};

// A reducer's running totals, keyed by the mapper's hash (samples/wordcount).
using WordTotals = word_totals;

struct WcFile {
    int fd = -1;
    uint64_t size = 0;
};

inline WcFile wc_open(const std::string& path) {
    WcFile f;
    f.fd = ::open(path.c_str(), O_RDONLY);
    if (f.fd < 0) fail("cannot open " + path);
    struct stat st;
    fstat(f.fd, &st);
    f.size = (uint64_t)st.st_size;
    return f;
}

// Region boundaries for `readers` readers over [0, limit): each inner boundary
// is moved forward to the first separator byte at or after size*r/readers.
inline std::vector<uint64_t> wc_bounds(const WcFile& f, uint64_t limit, int readers) {
    std::vector<uint64_t> b(readers + 1);
    b[0] = 0;
    b[readers] = limit;
    char buf[4096];
    for (int r = 1; r < readers; r++) {
        uint64_t pos = std::max<uint64_t>(b[r - 1], limit * r / readers);
        for (;;) {
            if (pos >= limit) { pos = limit; break; }
            ssize_t got = pread(f.fd, buf, sizeof buf, (off_t)pos);
            if (got <= 0) { pos = limit; break; }
            ssize_t i = 0;
            while (i < got && is_word_byte(buf[i])) i++;
            if (i < got) { pos += i; break; }
            pos += got;
        }
        b[r] = std::min(pos, limit);
    }
    return b;
}

// Reads [start, end) in chunks of about chunk bytes, each in a Chunk taken
// from `pool`; calls send(Chunk*) for each chunk (ending on a separator
// except at `end`), whose receiver gives it back to the pool. Returns bytes read.
template <class Send>
uint64_t wc_read_region(const WcFile& f, uint64_t start, uint64_t end, size_t chunk, Pool<Chunk>& pool, Send&& send) {
    std::string carry;
    uint64_t pos = start, total = 0;
    while (pos < end) {
        size_t want = (size_t)std::min<uint64_t>(chunk, end - pos);
        Chunk* buf = pool.take();
        buf->resize(carry.size() + want);
        std::memcpy(buf->data(), carry.data(), carry.size());
        size_t got = 0;
        while (got < want) {
            ssize_t r = pread(f.fd, buf->data() + carry.size() + got, want - got, (off_t)(pos + got));
            if (r <= 0) fail("short read");
            got += (size_t)r;
        }
        pos += want;
        total += want;
        carry.clear();
        if (pos < end) {  // keep a trailing partial word for the next chunk
            size_t cut = buf->size();
            while (cut > 0 && is_word_byte(buf->data()[cut - 1])) cut--;
            if (cut == 0) {  // giant word: keep accumulating
                carry.assign(buf->data(), buf->size());
                pool.give(buf);
                continue;
            }
            carry.assign(buf->data() + cut, buf->size() - cut);
            buf->resize(cut);
        }
        send(buf);
    }
    if (!carry.empty()) {
        Chunk* last = pool.take();
        last->resize(carry.size());
        std::memcpy(last->data(), carry.data(), carry.size());
        send(last);
    }
    return total;
}

// One mapper's counts for one chunk: the wordcount sample's table of views
// into the chunk, each word with its hash (samples/wordcount).
using ChunkCounts = chunk_counts;

// Splits one chunk's counts by reducer (the word's hash mod reducers) into
// parts taken from `pool`, copying the words out of the chunk: parts[d] is
// reducer d's share, or null where the chunk has no word for it.
inline void wc_partition(const ChunkCounts& m, Pool<Part>& pool, std::vector<Part*>& parts) {
    std::fill(parts.begin(), parts.end(), nullptr);
    const uint64_t reducers = parts.size();
    m.for_each([&](const ChunkCounts::entry& e) {
        Part*& part = parts[e.hash % reducers];
        if (!part) {
            part = pool.take();
            part->clear();
        }
        part->add(e.text(), e.count, e.hash);
    });
}

inline void wc_merge(WordTotals& g, const Part& p) {
    p.for_each([&](std::string_view word, uint64_t hash, uint32_t count) { g.add(word, hash, count); });
}

using Top = std::vector<std::pair<std::string, uint64_t>>;

inline bool top_less(const std::pair<std::string, uint64_t>& a, const std::pair<std::string, uint64_t>& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;  // count desc, word asc
}

inline void top_add(Top& top, const std::string& w, uint64_t c, size_t k = 10) {
    if (top.size() == k && !top_less({w, c}, top.back())) return;
    top.emplace_back(w, c);
    std::sort(top.begin(), top.end(), top_less);
    if (top.size() > k) top.pop_back();
}

// Expected result, written by check_wordcount.py as "total N" then "word count" lines.
inline bool wc_load_expect(const std::string& path, uint64_t& total, Top& top) {
    FILE* f = std::fopen(path.c_str(), "r");
    if (!f) return false;
    char w[256];
    unsigned long long c;
    top.clear();
    if (std::fscanf(f, "%255s %llu", w, &c) != 2 || std::strcmp(w, "total") != 0) fail("bad expect file " + path);
    total = c;
    while (std::fscanf(f, "%255s %llu", w, &c) == 2) top.emplace_back(w, c);
    std::fclose(f);
    return true;
}

inline std::string top_json(const Top& top) {
    std::string s = "[";
    for (size_t i = 0; i < top.size(); i++) {
        if (i) s += ",";
        s += "[\"" + top[i].first + "\"," + std::to_string(top[i].second) + "]";
    }
    return s + "]";
}

}  // namespace bench
