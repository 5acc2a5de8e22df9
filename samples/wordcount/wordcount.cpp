// samples/wordcount/wordcount.cpp: the word frequencies of a text file,
// computed by a MapReduce pipeline of coroutines that talk through channels.
//
// Model: MapReduce as communicating sequential processes. The file is split
// into one region per reader, each cut on a word boundary; the readers stream
// their regions in chunks of whole words (pread: the file is never loaded
// whole) to M mappers over one channel; each mapper tokenizes and counts a
// chunk locally, then shuffles the partial counts by hash (word_hash) to R
// reducers, each of which owns one partition of the words; the final merge
// takes the top K of each partition. No memory is shared between the stages:
// every word count travels through a channel.
//
//     reader ×N ──chunks──▶ mapper ×M ──partials, by hash──▶ reducer ×R ──▶ top K
//
// On a terminal, counting a large file (over 64 MiB) draws a progress bar on
// stderr; when stderr is a file or a pipe it stays silent.
//
// Run it:
//     ./scripts/wordcount.sh                       # builds, makes a 64 MiB corpus, runs
//     build/samples/wordcount/gen_corpus corpus/words.txt 64
//     build/samples/wordcount/wordcount --threads 4 --readers 2 --mappers 8 --reducers 4 corpus/words.txt
//
// Tokenizing (bench/WORKLOADS.md): ASCII letters and digits form words,
// upper-case ASCII letters are lower-cased, every other byte (punctuation,
// white space, any byte >= 0x80) separates words.
#include <rill/rill.hpp>

#include <fmt/core.h>

#include "chunk_counts.hpp"
#include "word_totals.hpp"
#include "cli.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <exception>
#include <functional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace {

// ---------------------------------------------------------------- words

// word_byte, is_word_byte and count_words: chunk_counts.hpp.

using ranked = std::vector<std::pair<std::string, std::uint64_t>>;

/// Count descending, then word ascending (byte order).
bool ranks_before(const std::pair<std::string, std::uint64_t>& a, const std::pair<std::string, std::uint64_t>& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
}

/// The k most frequent words of counts, best first.
ranked top_k(const word_totals& counts, std::size_t k) {
    using counted = std::pair<const std::string*, std::uint64_t>;
    std::vector<counted> all;
    all.reserve(counts.size());
    counts.for_each([&](const std::string& w, std::uint64_t n) { all.emplace_back(&w, n); });
    k = std::min(k, all.size());
    auto before = [](const counted& a, const counted& b) { return a.second != b.second ? a.second > b.second : *a.first < *b.first; };
    std::partial_sort(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(k), all.end(), before);
    ranked out;
    for (std::size_t i = 0; i < k; ++i) out.emplace_back(*all[i].first, all[i].second);
    return out;
}

// ---------------------------------------------------------------- the pipeline

using chunk = std::string;                                           // whole words only
/// One word's count in one chunk, with the hash the mapper computed (the
/// reducer's table is keyed by it: no second hash of the word).
struct partial_count {
    std::string word;
    std::uint64_t count;
    std::uint32_t hash;   // low 32 bits of word_hash
};
using partial = std::vector<partial_count>;  // one chunk's counts, for one reducer

/// pread() until len bytes or end of file; throws on an I/O error.
std::size_t read_at(int fd, std::uint64_t offset, char* buf, std::size_t len) {
    std::size_t got = 0;
    while (got < len) {
        ssize_t r = ::pread(fd, buf + got, len - got, static_cast<off_t>(offset + got));
        if (r == 0) break;
        if (r < 0) {
            if (errno == EINTR) continue;
            throw std::system_error(errno, std::generic_category(), "read");
        }
        got += static_cast<std::size_t>(r);
    }
    return got;
}

/// The first word boundary at or after offset: the offset itself when the
/// byte before it separates words, else just past the next separator.
std::uint64_t word_boundary(int fd, std::uint64_t offset, std::uint64_t size) {
    if (offset == 0 || offset >= size) return std::min(offset, size);
    char buf[4096];
    for (std::uint64_t at = offset - 1; at < size;) {
        const std::size_t n = read_at(fd, at, buf, sizeof buf);
        if (n == 0) break;
        for (std::size_t i = 0; i < n; ++i)
            if (!is_word_byte(buf[i])) return at + i + 1;
        at += n;
    }
    return size;
}

/// Where each reader starts: region r is [starts[r], starts[r + 1]), about
/// size / readers bytes, both ends on word boundaries (a region may be empty).
std::vector<std::uint64_t> split_regions(int fd, std::uint64_t size, std::size_t readers) {
    std::vector<std::uint64_t> starts{0};
    for (std::size_t r = 1; r < readers; ++r)
        starts.push_back(std::max(starts.back(), word_boundary(fd, size / readers * r, size)));
    starts.push_back(size);
    return starts;
}

/// A reader: streams [begin, end) in chunks of about chunk_size bytes, each
/// cut just after a separator so that no word spans two chunks (a word longer
/// than a chunk makes its chunk longer). `progress` counts the bytes read.
/// Each chunk is read into a buffer the mappers gave back through `spares`
/// when there is one (a fresh buffer's pages are new to the process: page
/// faults, and a cold cache), else into a new one.
///
/// pread() blocks the worker thread that runs this coroutine, not only the
/// coroutine; with the page cache warm that is a memcpy, and the mappers run
/// on the other workers meanwhile. (Asynchronous file I/O is not in rill yet.)
void read_region(int fd, std::uint64_t begin, std::uint64_t end, std::size_t chunk_size,
                 const rill::send_chan<chunk>& out, const rill::recv_chan<chunk>& spares, std::atomic<std::uint64_t>& progress) {
    chunk carry;  // the tail of the last read: the start of a word cut by the chunk boundary
    for (std::uint64_t at = begin; at < end;) {
        chunk buf = std::move(carry);
        carry = chunk();
        if (buf.size() <= chunk_size / 8) {   // the usual carry, a word's start: goes into a reused buffer
            chunk reused;
            if (auto spare = spares.try_recv()) reused = std::move(*spare);
            else reused.reserve(chunk_size + chunk_size / 8);   // room for a carried word: reused as it is
            reused.assign(buf);
            buf = std::move(reused);
        }   // else a word longer than a chunk so far: its buffer grows on
        const std::size_t start = buf.size();
        const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(chunk_size, end - at));
        buf.resize(start + want);
        const std::size_t got = read_at(fd, at, buf.data() + start, want);
        if (got < want) throw std::runtime_error("the file shrank while it was read");
        at += got;
        progress += got;
        std::size_t cut = buf.size();
        if (at < end) {  // the region's end is a word boundary; elsewhere cut after the last separator
            while (cut > 0 && is_word_byte(buf[cut - 1])) --cut;
            if (cut == 0) {  // not a single separator yet: read on
                carry = std::move(buf);
                continue;
            }
            carry.assign(buf, cut);
        }
        buf.resize(cut);
        out.send(std::move(buf));
    }
}

/// Buffers handed back for reuse, so that the pipeline's memory stays the
/// same pages, mapped and in cache: emptied chunks (mappers to readers) and
/// emptied partials (reducers to mappers). A full channel drops what is
/// given; an empty one has the taker allocate (Effective Go's "leaky
/// buffer").
struct spare_buffers {
    rill::chan<chunk> chunks;
    rill::chan<partial> partials;
};

/// A mapper: counts each chunk in a local table, then sends each reducer
/// the counts of the words it owns, and gives the chunk's buffer back to the
/// readers. Returns the words it saw.
std::uint64_t map_chunks(const rill::recv_chan<chunk>& in, const spare_buffers& spares,
                         const std::vector<rill::chan<partial>>& reducers) {
    std::uint64_t words = 0;
    chunk_counts counts;
    std::vector<partial> parts(reducers.size());
    for (chunk& text : in) {  // a reference: the iterator holds the received value
        words += count_words(text, counts);
        counts.for_each([&](const chunk_counts::entry& e) {   // hash = low 32 bits of word_hash: its reducer
            parts[e.hash % reducers.size()].emplace_back(std::string(e.text()), e.count, std::uint32_t(e.hash));
        });
        text.clear();   // the words are copied out: the buffer can go back
        spares.chunks.try_send(text);
        for (std::size_t r = 0; r < reducers.size(); ++r) {
            if (parts[r].empty()) continue;
            const std::size_t sent = parts[r].size();
            reducers[r].send(std::move(parts[r]));
            parts[r] = partial();
            if (auto spare = spares.partials.try_recv()) parts[r] = std::move(*spare);
            parts[r].reserve(sent + sent / 4);   // the next chunk's share is about the same: grown once, not by doubling
        }
    }
    return words;
}

struct partition_result {
    ranked top;                // its k most frequent words
    std::uint64_t words = 0;   // words counted (with repeats)
    std::size_t distinct = 0;  // different words
};

/// A reducer: merges the partial counts of the words it owns until its
/// channel is closed, then ranks them. Each emptied partial goes back to
/// the mappers through `spares`.
partition_result reduce_partials(const rill::recv_chan<partial>& in, const rill::send_chan<partial>& spares, std::size_t k) {
    word_totals counts;
    partition_result out;
    for (partial& p : in) {
        for (partial_count& c : p) {
            counts.add(std::move(c.word), c.hash, c.count);  // moves the word only when it is new
            out.words += c.count;
        }
        p.clear();   // its capacity goes back to the mappers
        spares.try_send(p);
    }
    out.distinct = counts.size();
    out.top = top_k(counts, k);
    return out;
}

/// Draws "[#####.....]  45%  115.2 of 256.0 MiB" on stderr every tick until
/// `finished` is closed, then erases it.
void show_progress(const std::atomic<std::uint64_t>& done, std::uint64_t total, const rill::recv_chan<int>& finished) {
    rill::ticker tick(std::chrono::milliseconds(100));
    for (bool more = true; more;) {
        rill::select(rill::on_recv(tick.chan(), [&] {
                         const double part = double(done.load()) / double(total);
                         const auto filled = static_cast<std::size_t>(part * 40);
                         fmt::print(stderr, "\r[{:#<{}}{:.<{}}] {:3.0f}%  {:.1f} of {:.1f} MiB", "", filled, "", 40 - filled,
                                    part * 100, double(done.load()) / (1 << 20), double(total) / (1 << 20));
                     }),
                     rill::on_recv(finished, [&] { more = false; }));
    }
    fmt::print(stderr, "\r\033[K");
}

struct config {
    unsigned threads = 0;  // 0: one per core
    std::size_t readers = 2;
    std::size_t mappers = 8;
    std::size_t reducers = 4;
    std::size_t top = 10;
    std::size_t chunk = std::size_t(1) << 20;
    bool progress = true;
    std::string path;
};

struct result {
    ranked top;
    std::uint64_t bytes = 0;
    std::uint64_t words = 0;
    std::size_t distinct = 0;
};

/// Inputs larger than this get a progress bar (on a terminal).
constexpr std::uint64_t progress_min_bytes = std::uint64_t(64) << 20;

result count_file(int fd, std::uint64_t size, const config& cfg) {
    const std::vector<std::uint64_t> starts = split_regions(fd, size, cfg.readers);
    const bool progress_bar = cfg.progress && size > progress_min_bytes && ::isatty(STDERR_FILENO);
    return rill::run(
        [&] {
            rill::chan<chunk> chunks(cfg.mappers);  // a little read-ahead, bounded memory
            // Emptied buffers, back to the stage that fills them: as many as
            // can be in flight at once.
            const spare_buffers spares{rill::chan<chunk>(2 * cfg.mappers + cfg.readers),
                                       rill::chan<partial>(cfg.reducers * (2 * cfg.mappers + 1))};
            std::vector<rill::chan<partial>> shuffle;
            for (std::size_t r = 0; r < cfg.reducers; ++r) shuffle.emplace_back(cfg.mappers);

            std::atomic<std::uint64_t> bytes{0}, mapped{0};
            std::vector<partition_result> parts(cfg.reducers);
            rill::group showing, reading, mapping, reducing;

            rill::chan<int> finished;  // closed once the readers are done: the progress bar goes
            if (progress_bar) showing.go([&, finished] { show_progress(bytes, size, finished); });
            for (std::size_t r = 0; r < cfg.readers; ++r)
                reading.go([&, r, chunks] { read_region(fd, starts[r], starts[r + 1], cfg.chunk, chunks, spares.chunks, bytes); });
            for (std::size_t m = 0; m < cfg.mappers; ++m)
                mapping.go([&, chunks, shuffle] { mapped += map_chunks(chunks, spares, shuffle); });
            for (std::size_t r = 0; r < cfg.reducers; ++r)
                reducing.go([&, r, in = shuffle[r]] { parts[r] = reduce_partials(in, spares.partials, cfg.top); });

            // Each stage ends when the one before it has: its input channel is
            // closed once every sender is done. An error in a stage is
            // rethrown by its group's wait() and ends the run (rill unwinds
            // the other coroutines).
            reading.wait();
            finished.close();
            chunks.close();
            mapping.wait();
            for (auto& ch : shuffle) ch.close();
            reducing.wait();
            showing.wait();

            // The global top k is among the partitions' top k: they own disjoint words.
            result res;
            res.bytes = bytes;
            for (auto& p : parts) {
                res.words += p.words;
                res.distinct += p.distinct;
                for (auto& e : p.top) res.top.push_back(std::move(e));
            }
            std::sort(res.top.begin(), res.top.end(), ranks_before);
            if (res.top.size() > cfg.top) res.top.resize(cfg.top);
            if (res.words != mapped.load())
                throw std::logic_error(fmt::format("the reducers hold {} words but the mappers counted {}", res.words,
                                                   mapped.load()));
            return res;
        },
        rill::options{.threads = cfg.threads});
}

// ---------------------------------------------------------------- command line

constexpr const char* usage_text =
    "usage: wordcount [options] FILE\n"
    "\n"
    "Counts the words of FILE with a MapReduce pipeline of rill coroutines and\n"
    "prints the most frequent ones, the number of words and the throughput\n"
    "(MB/s, where 1 MB = 2^20 bytes). Words are runs of ASCII letters and digits,\n"
    "lower-cased; every other byte separates words. On a terminal, files over\n"
    "64 MiB get a progress bar on stderr.\n"
    "\n"
    "options:\n"
    "  --threads N    worker threads (default 0: one per core)\n"
    "  --readers N    reader coroutines, one region of the file each (default 2)\n"
    "  --mappers N    mapper coroutines (default 8)\n"
    "  --reducers N   reducer coroutines, one hash partition each (default 4)\n"
    "  --top K        how many words to print (default 10)\n"
    "  --chunk SIZE   bytes per chunk, with optional suffix k or M (default 1M)\n"
    "  --no-progress  no progress bar, even on a terminal\n"
    "  --help         print this and exit\n";

/// A size such as 4096, 64k or 1M, from 1 byte to 1 GiB.
std::size_t parse_size(samples::cli& args, const std::string& text) {
    std::string_view digits = text;
    std::size_t scale = 1;
    if (!digits.empty() && (digits.back() == 'k' || digits.back() == 'K')) scale = std::size_t(1) << 10;
    if (!digits.empty() && (digits.back() == 'm' || digits.back() == 'M')) scale = std::size_t(1) << 20;
    if (scale != 1) digits.remove_suffix(1);
    std::size_t v = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
    const std::size_t max = std::size_t(1) << 30;
    if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size() || v == 0 || v > max / scale)
        args.fail("--chunk wants a size from 1 to 1024M (bytes, or with a k or M suffix), not '" + text + "'");
    return v * scale;
}

config parse_args(int argc, char** argv) {
    samples::cli args(argc, argv, usage_text);
    config cfg;
    cfg.threads = unsigned(args.number("--threads", 0, 0, 1024));
    cfg.readers = std::size_t(args.number("--readers", 2, 1, 1024));
    cfg.mappers = std::size_t(args.number("--mappers", 8, 1, 100000));
    cfg.reducers = std::size_t(args.number("--reducers", 4, 1, 100000));
    cfg.top = std::size_t(args.number("--top", 10, 1, 1000000));
    cfg.chunk = parse_size(args, args.text("--chunk", "1M"));
    cfg.progress = !args.flag("--no-progress");
    cfg.path = args.positional("FILE");
    args.done();
    return cfg;
}

/// Opens path for reading and returns its size; throws std::runtime_error
/// with a message for the user.
int open_input(const std::string& path, std::uint64_t& size) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw std::runtime_error(fmt::format("cannot open '{}': {}", path, std::strerror(errno)));
    struct stat st {};
    const char* why = nullptr;
    if (::fstat(fd, &st) != 0) why = std::strerror(errno);
    else if (S_ISDIR(st.st_mode)) why = "it is a directory";
    else if (!S_ISREG(st.st_mode)) why = "not a regular file (wordcount reads regions of it in parallel)";
    if (why) {
        ::close(fd);
        throw std::runtime_error(fmt::format("cannot read '{}': {}", path, why));
    }
    size = static_cast<std::uint64_t>(st.st_size);
    return fd;
}

void print_result(const config& cfg, const result& res, double seconds) {
    const double mib = static_cast<double>(res.bytes) / (1 << 20);
    unsigned threads = cfg.threads ? cfg.threads : std::max(1u, std::thread::hardware_concurrency());
    fmt::print("wordcount: {}, {:.1f} MiB, {} threads, {} readers, {} mappers, {} reducers\n", cfg.path, mib, threads,
               cfg.readers, cfg.mappers, cfg.reducers);
    fmt::print("{:>6}  {:>12}  {}\n", "rank", "count", "word");
    for (std::size_t i = 0; i < res.top.size(); ++i)
        fmt::print("{:>6}  {:>12}  {}\n", i + 1, res.top[i].second, res.top[i].first);
    fmt::print("total: {} words, {} distinct\n", res.words, res.distinct);
    fmt::print("time: {:.3f} s, {:.1f} MB/s\n", seconds, seconds > 0 ? mib / seconds : 0.0);
}

}  // namespace

int main(int argc, char** argv) {
    const config cfg = parse_args(argc, argv);   // a bad command line exits 2 with a message
    try {
        std::uint64_t size = 0;
        int fd = open_input(cfg.path, size);
        auto t0 = std::chrono::steady_clock::now();
        result res = count_file(fd, size, cfg);
        double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        ::close(fd);
        print_result(cfg, res, seconds);
        return 0;
    } catch (const std::exception& e) {
        fmt::print(stderr, "wordcount: {}\n", e.what());
        return 1;
    }
}
