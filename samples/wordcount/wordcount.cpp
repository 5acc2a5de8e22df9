// samples/wordcount/wordcount.cpp: the word frequencies of a text file,
// computed by a MapReduce pipeline of coroutines that talk through channels.
//
// Model: MapReduce as communicating sequential processes. One reader streams
// the file in chunks (fan-out to the mappers over one channel), M mappers
// tokenize and count each chunk locally, then shuffle the partial counts by
// hash (FNV-1a) to R reducers, each of which owns one partition of the words
// (fan-in over one channel per reducer). No memory is shared between the
// stages: every word count travels through a channel.
//
//     reader ──chunks──▶ mapper ×M ──partials, by hash──▶ reducer ×R ──▶ top K
//
// Run it:
//     ./scripts/wordcount.sh                       # builds, makes a 64 MiB corpus, runs
//     build/samples/wordcount/gen_corpus corpus/words.txt 64
//     build/samples/wordcount/wordcount --threads 4 --mappers 8 --reducers 4 corpus/words.txt
//
// Tokenizing (bench/WORKLOADS.md): ASCII letters and digits form words,
// upper-case ASCII letters are lower-cased, every other byte (punctuation,
// white space, any byte >= 0x80) separates words.
#include <rill/rill.hpp>

#include <fmt/core.h>

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
#include <unordered_map>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace {

// ---------------------------------------------------------------- words

/// For each byte: 0 if it separates words, else the byte lower-cased.
constexpr std::array<unsigned char, 256> word_byte = [] {
    std::array<unsigned char, 256> t{};
    for (int c = 'a'; c <= 'z'; ++c) t[c] = static_cast<unsigned char>(c);
    for (int c = 'A'; c <= 'Z'; ++c) t[c] = static_cast<unsigned char>(c - 'A' + 'a');
    for (int c = '0'; c <= '9'; ++c) t[c] = static_cast<unsigned char>(c);
    return t;
}();

bool is_word_byte(char c) noexcept { return word_byte[static_cast<unsigned char>(c)] != 0; }

/// 64-bit FNV-1a: picks the reducer that owns a word.
std::uint64_t fnv1a(std::string_view s) noexcept {
    std::uint64_t h = 0xcbf29ce484222325ull;
    for (unsigned char c : s) {
        h ^= c;
        h *= 0x100000001b3ull;
    }
    return h;
}

/// The hash maps' hash: FNV-1a, mixed so that the buckets of a reducer's map
/// do not all share the residue that sent the words to that reducer.
struct word_hash {
    using is_transparent = void;  // find(std::string_view) without building a string
    std::size_t operator()(std::string_view s) const noexcept {
        std::uint64_t h = fnv1a(s);
        h ^= h >> 33;
        h *= 0xff51afd7ed558ccdull;
        h ^= h >> 33;
        return static_cast<std::size_t>(h);
    }
};

using word_counts = std::unordered_map<std::string, std::uint64_t, word_hash, std::equal_to<>>;

/// Counts the words of text into counts; lower-cases text in place.
/// Returns the number of words.
std::uint64_t count_words(std::string& text, word_counts& counts) {
    char* p = text.data();
    const std::size_t n = text.size();
    std::uint64_t words = 0;
    std::size_t i = 0;
    while (i < n) {
        while (i < n && !is_word_byte(p[i])) ++i;
        std::size_t j = i;
        for (; j < n && is_word_byte(p[j]); ++j) p[j] = static_cast<char>(word_byte[static_cast<unsigned char>(p[j])]);
        if (j > i) {
            std::string_view w(p + i, j - i);
            if (auto it = counts.find(w); it != counts.end()) ++it->second;
            else counts.emplace(std::string(w), 1);
            ++words;
        }
        i = j;
    }
    return words;
}

using ranked = std::vector<std::pair<std::string, std::uint64_t>>;

/// Count descending, then word ascending (byte order).
bool ranks_before(const std::pair<std::string, std::uint64_t>& a, const std::pair<std::string, std::uint64_t>& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
}

/// The k most frequent words of counts, best first.
ranked top_k(const word_counts& counts, std::size_t k) {
    std::vector<const word_counts::value_type*> all;
    all.reserve(counts.size());
    for (const auto& kv : counts) all.push_back(&kv);
    k = std::min(k, all.size());
    auto before = [](auto* a, auto* b) { return a->second != b->second ? a->second > b->second : a->first < b->first; };
    std::partial_sort(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(k), all.end(), before);
    ranked out;
    for (std::size_t i = 0; i < k; ++i) out.emplace_back(all[i]->first, all[i]->second);
    return out;
}

// ---------------------------------------------------------------- the pipeline

using chunk = std::string;                                     // whole words only
using partial = std::vector<std::pair<std::string, std::uint64_t>>;  // one chunk's counts, for one reducer

/// read() until len bytes or end of file; throws on an I/O error.
std::size_t read_full(int fd, char* buf, std::size_t len) {
    std::size_t got = 0;
    while (got < len) {
        ssize_t r = ::read(fd, buf + got, len - got);
        if (r == 0) break;
        if (r < 0) {
            if (errno == EINTR) continue;
            throw std::system_error(errno, std::generic_category(), "read");
        }
        got += static_cast<std::size_t>(r);
    }
    return got;
}

/// The reader: streams the file in chunks of about chunk_size bytes, each cut
/// just after a separator so that no word spans two chunks (a word longer than
/// a chunk makes its chunk longer). Returns the bytes read.
///
/// read() blocks the worker thread that runs this coroutine, not only the
/// coroutine; with the page cache warm that is a memcpy, and the mappers run
/// on the other workers meanwhile. (Asynchronous file I/O is not in rill yet.)
std::uint64_t read_chunks(int fd, std::size_t chunk_size, const rill::send_chan<chunk>& out) {
    std::uint64_t bytes = 0;
    chunk carry;  // the tail of the last read: the start of a word cut by the chunk boundary
    for (;;) {
        chunk buf = std::move(carry);
        carry = chunk();
        const std::size_t start = buf.size();
        buf.resize(start + chunk_size);
        const std::size_t got = read_full(fd, buf.data() + start, chunk_size);
        buf.resize(start + got);
        bytes += got;
        if (got == 0) {  // end of file: the carried word is whole now
            if (!buf.empty()) out.send(std::move(buf));
            return bytes;
        }
        std::size_t cut = buf.size();
        while (cut > 0 && is_word_byte(buf[cut - 1])) --cut;
        if (cut == 0) {  // not a single separator yet: read on
            carry = std::move(buf);
            continue;
        }
        carry.assign(buf, cut);
        buf.resize(cut);
        out.send(std::move(buf));
    }
}

/// A mapper: counts each chunk in a local hash map, then sends each reducer
/// the counts of the words it owns. Returns the words it saw.
std::uint64_t map_chunks(const rill::recv_chan<chunk>& in, const std::vector<rill::chan<partial>>& reducers) {
    std::uint64_t words = 0;
    word_counts counts;
    std::vector<partial> parts(reducers.size());
    for (chunk& text : in) {  // a reference: the iterator holds the received value
        counts.clear();
        words += count_words(text, counts);
        for (const auto& [w, n] : counts) parts[fnv1a(w) % reducers.size()].emplace_back(w, n);
        for (std::size_t r = 0; r < reducers.size(); ++r) {
            if (parts[r].empty()) continue;
            reducers[r].send(std::move(parts[r]));
            parts[r] = partial();
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
/// channel is closed, then ranks them.
partition_result reduce_partials(const rill::recv_chan<partial>& in, std::size_t k) {
    word_counts counts;
    partition_result out;
    for (partial& p : in) {
        for (auto& [w, n] : p) {
            counts.try_emplace(std::move(w), 0).first->second += n;  // moves w only when new
            out.words += n;
        }
    }
    out.distinct = counts.size();
    out.top = top_k(counts, k);
    return out;
}

struct config {
    unsigned threads = 0;  // 0: one per core
    std::size_t mappers = 8;
    std::size_t reducers = 4;
    std::size_t top = 10;
    std::size_t chunk = std::size_t(1) << 20;
    std::string path;
};

struct result {
    ranked top;
    std::uint64_t bytes = 0;
    std::uint64_t words = 0;
    std::size_t distinct = 0;
};

result count_file(int fd, const config& cfg) {
    return rill::run(
        [&] {
            rill::chan<chunk> chunks(cfg.mappers);  // a little read-ahead, bounded memory
            std::vector<rill::chan<partial>> shuffle;
            for (std::size_t r = 0; r < cfg.reducers; ++r) shuffle.emplace_back(cfg.mappers);

            std::uint64_t bytes = 0;
            std::atomic<std::uint64_t> mapped{0};
            std::vector<partition_result> parts(cfg.reducers);
            rill::group reading, mapping, reducing;

            reading.go([&] {
                try {
                    bytes = read_chunks(fd, cfg.chunk, chunks);
                } catch (...) {
                    chunks.close();  // let the mappers finish; reading.wait() reports the error
                    throw;
                }
                chunks.close();
            });
            for (std::size_t m = 0; m < cfg.mappers; ++m)
                mapping.go([&] { mapped += map_chunks(chunks, shuffle); });
            for (std::size_t r = 0; r < cfg.reducers; ++r)
                reducing.go([&, r] { parts[r] = reduce_partials(shuffle[r], cfg.top); });

            reading.wait();
            mapping.wait();
            for (auto& ch : shuffle) ch.close();  // every partial is sent: the reducers may finish
            reducing.wait();

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
    "lower-cased; every other byte separates words.\n"
    "\n"
    "options:\n"
    "  --threads N    worker threads (default 0: one per core)\n"
    "  --mappers N    mapper coroutines (default 8)\n"
    "  --reducers N   reducer coroutines, one hash partition each (default 4)\n"
    "  --top K        how many words to print (default 10)\n"
    "  --chunk SIZE   bytes per chunk, with optional suffix k or M (default 1M)\n"
    "  --help         print this and exit\n";

/// A bad command line: printed with the usage hint, exit status 2.
struct usage_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

std::size_t parse_number(std::string_view opt, std::string_view text, std::size_t lo, std::size_t hi,
                         bool size_suffix = false) {
    std::size_t scale = 1;
    std::string_view digits = text;
    if (size_suffix && !digits.empty()) {
        char s = digits.back();
        if (s == 'k' || s == 'K') scale = std::size_t(1) << 10;
        if (s == 'm' || s == 'M') scale = std::size_t(1) << 20;
        if (scale != 1) digits.remove_suffix(1);
    }
    std::size_t v = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
    if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size())
        throw usage_error(fmt::format("{} needs a number, got '{}'", opt, text));
    if (v > hi / scale || v * scale < lo || v * scale > hi)
        throw usage_error(fmt::format("{} must be between {} and {}, got '{}'", opt, lo, hi, text));
    return v * scale;
}

config parse_args(int argc, char** argv, bool& help) {
    config cfg;
    help = false;
    for (int i = 1; i < argc; ++i) {
        std::string_view arg = argv[i];
        if (arg == "--help" || arg == "-h") {
            help = true;
            return cfg;
        }
        if (arg.size() > 2 && arg.substr(0, 2) == "--") {
            std::string_view name = arg, value;
            bool has_value = false;
            if (auto eq = arg.find('='); eq != std::string_view::npos) {
                name = arg.substr(0, eq);
                value = arg.substr(eq + 1);
                has_value = true;
            }
            auto next = [&]() -> std::string_view {
                if (has_value) return value;
                if (i + 1 >= argc) throw usage_error(fmt::format("{} needs a value", name));
                return argv[++i];
            };
            if (name == "--threads") cfg.threads = static_cast<unsigned>(parse_number(name, next(), 0, 1024));
            else if (name == "--mappers") cfg.mappers = parse_number(name, next(), 1, 100000);
            else if (name == "--reducers") cfg.reducers = parse_number(name, next(), 1, 100000);
            else if (name == "--top") cfg.top = parse_number(name, next(), 1, 1000000);
            else if (name == "--chunk") cfg.chunk = parse_number(name, next(), 1, std::size_t(1) << 30, true);
            else throw usage_error(fmt::format("unknown option '{}'", arg));
            continue;
        }
        if (!cfg.path.empty()) throw usage_error(fmt::format("one FILE only, got '{}' and '{}'", cfg.path, arg));
        cfg.path = arg;
    }
    if (cfg.path.empty()) throw usage_error("no FILE given");
    return cfg;
}

/// Opens path for reading; throws std::runtime_error with a message for the user.
int open_input(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw std::runtime_error(fmt::format("cannot open '{}': {}", path, std::strerror(errno)));
    struct stat st {};
    if (::fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        ::close(fd);
        throw std::runtime_error(fmt::format("cannot read '{}': it is a directory", path));
    }
    return fd;
}

void print_result(const config& cfg, const result& res, double seconds) {
    const double mib = static_cast<double>(res.bytes) / (1 << 20);
    unsigned threads = cfg.threads ? cfg.threads : std::max(1u, std::thread::hardware_concurrency());
    fmt::print("wordcount: {}, {:.1f} MiB, {} threads, {} mappers, {} reducers\n", cfg.path, mib, threads,
               cfg.mappers, cfg.reducers);
    fmt::print("{:>6}  {:>12}  {}\n", "rank", "count", "word");
    for (std::size_t i = 0; i < res.top.size(); ++i)
        fmt::print("{:>6}  {:>12}  {}\n", i + 1, res.top[i].second, res.top[i].first);
    fmt::print("total: {} words, {} distinct\n", res.words, res.distinct);
    fmt::print("time: {:.3f} s, {:.1f} MB/s\n", seconds, seconds > 0 ? mib / seconds : 0.0);
}

}  // namespace

int main(int argc, char** argv) {
    config cfg;
    try {
        bool help = false;
        cfg = parse_args(argc, argv, help);
        if (help) {
            fmt::print("{}", usage_text);
            return 0;
        }
    } catch (const usage_error& e) {
        fmt::print(stderr, "wordcount: {}\n(try 'wordcount --help')\n", e.what());
        return 2;
    }
    try {
        int fd = open_input(cfg.path);
        auto t0 = std::chrono::steady_clock::now();
        result res = count_file(fd, cfg);
        double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        ::close(fd);
        print_result(cfg, res, seconds);
        return 0;
    } catch (const std::exception& e) {
        fmt::print(stderr, "wordcount: {}\n", e.what());
        return 1;
    }
}
