// samples/wordcount/gen_corpus.cpp: a deterministic text corpus for the
// wordcount sample (no rill inside: it only makes test data).
//
//     gen_corpus OUT SIZE_MB [SEED]        e.g. gen_corpus corpus/words-64MiB.txt 64
//
// Writes exactly SIZE_MB * 2^20 bytes (SIZE_MB may be fractional) to OUT,
// through OUT.tmp and a rename, so an interrupted run never leaves a short
// corpus behind. The same arguments give the same bytes on every machine: the
// random numbers come from our own xoshiro256** seeded by splitmix64, never
// from the standard library's distributions.
//
// The text: words drawn from a Zipf-Mandelbrot distribution (the weight of
// rank r is 1/(r + 2.7)) over a vocabulary of 50,000 made-up syllable words
// (short words get the frequent ranks; about 2% carry a digit, 1% are
// numbers), 8% Capitalised and 2% UPPER-cased, separated by spaces,
// punctuation, newlines, tabs, and a few UTF-8 dashes and no-break spaces, so
// that tokenizing matters (bytes >= 0x80 separate words). The last word may be
// cut by the size limit. The text resembles that of bench/peers/gen_corpus.py
// but is not byte-identical to it.
#include <fmt/core.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

namespace {

/// xoshiro256** (Blackman and Vigna), seeded through splitmix64.
class rng {
public:
    explicit rng(std::uint64_t seed) {
        for (auto& w : s_) {
            seed += 0x9e3779b97f4a7c15ull;
            std::uint64_t z = seed;
            z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
            z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
            w = z ^ (z >> 31);
        }
    }
    std::uint64_t next() noexcept {
        const std::uint64_t out = rotl(s_[1] * 5, 7) * 9;
        const std::uint64_t t = s_[1] << 17;
        s_[2] ^= s_[0];
        s_[3] ^= s_[1];
        s_[1] ^= s_[2];
        s_[0] ^= s_[3];
        s_[2] ^= t;
        s_[3] = rotl(s_[3], 45);
        return out;
    }
    /// Uniform in [0, 1).
    double unit() noexcept { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
    /// Uniform in [0, n).
    std::size_t below(std::size_t n) noexcept { return static_cast<std::size_t>(unit() * static_cast<double>(n)); }
    bool chance(double p) noexcept { return unit() < p; }
    template <class T, std::size_t N>
    const T& pick(const std::array<T, N>& a) noexcept { return a[below(N)]; }

private:
    static std::uint64_t rotl(std::uint64_t x, int k) noexcept { return (x << k) | (x >> (64 - k)); }
    std::uint64_t s_[4];
};

/// Draws an index with probability proportional to its weight.
class weighted {
public:
    explicit weighted(const std::vector<double>& weights) {
        double acc = 0;
        for (double w : weights) cum_.push_back(acc += w);
    }
    std::size_t draw(rng& r) const noexcept {
        const double x = r.unit() * cum_.back();
        auto it = std::upper_bound(cum_.begin(), cum_.end(), x);
        return std::min(static_cast<std::size_t>(it - cum_.begin()), cum_.size() - 1);
    }

private:
    std::vector<double> cum_;
};

constexpr std::array<std::string_view, 37> consonants = {
    "b",  "c",  "d",  "f",  "g",  "h",  "j",  "k",  "l",  "m",  "n",  "p",  "qu", "r",  "s",  "t",  "v",  "w", "x",
    "z",  "br", "ch", "cl", "dr", "fl", "gr", "kr", "pl", "pr", "sh", "sk", "sl", "sp", "st", "str", "th", "tr"};
constexpr std::array<std::string_view, 12> vowels = {"a", "e", "i", "o", "u", "y", "ai", "ea", "ee", "io", "oo", "ou"};
constexpr std::array<std::string_view, 15> codas = {"", "", "", "", "n", "r", "s", "t", "l", "m", "nd", "rk", "st", "x", "ng"};

/// Separators and their weights: mostly spaces, some punctuation and line
/// breaks, and a few multi-byte UTF-8 characters (em dash, no-break space).
constexpr std::array<std::pair<std::string_view, int>, 24> separators = {{
    {" ", 800},  {", ", 60},   {". ", 45},  {".\n", 12}, {"\n", 25},    {"\n\n", 4},  {"; ", 8},  {": ", 5},
    {"! ", 6},   {"? ", 6},    {" - ", 6},  {"'s ", 5},  {"' ", 2},     {"\" ", 3},   {" \"", 3}, {" (", 3},
    {") ", 3},   {"--", 2},    {"/", 1},    {"...", 2},  {"\t", 1},     {"\xe2\x80\x94", 2},  // em dash
    {"\xc2\xa0", 1},  // no-break space
    {"_", 1},
}};

std::vector<std::string> make_vocabulary(rng& r, std::size_t size) {
    std::unordered_set<std::string> seen;
    std::vector<std::string> words;
    while (words.size() < size / 100) {  // numbers
        std::string w = r.chance(0.7) ? std::to_string(r.below(100000)) : std::to_string(1000 + r.below(1100));
        if (seen.insert(w).second) words.push_back(std::move(w));
    }
    const weighted syllables({18, 45, 27, 10});  // 1, 2, 3 or 4 syllables
    while (words.size() < size) {
        std::string w;
        for (std::size_t s = syllables.draw(r) + 1; s > 0; --s) {
            if (r.chance(0.85)) w += r.pick(consonants);
            w += r.pick(vowels);
        }
        w += r.pick(codas);
        if (r.chance(0.02)) w += std::to_string(r.below(100));
        if (seen.insert(w).second) words.push_back(std::move(w));
    }
    // The frequent ranks go to short words; ties are broken at random.
    std::vector<std::pair<double, std::string>> keyed;
    for (auto& w : words) keyed.emplace_back(static_cast<double>(w.size()) + r.unit() * 4, std::move(w));
    std::sort(keyed.begin(), keyed.end());
    words.clear();
    for (auto& [key, w] : keyed) words.push_back(std::move(w));
    return words;
}

void append_word(std::string& out, const std::string& w, rng& r) {
    const double form = r.unit();
    if (form < 0.90) {
        out += w;
    } else if (form < 0.98) {  // Capitalised
        out += w;
        char& c = out[out.size() - w.size()];
        if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    } else {  // UPPER
        for (char c : w) out += (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
    }
}

bool parse_double(const char* s, double& v) {
    char* end = nullptr;
    errno = 0;
    v = std::strtod(s, &end);
    return *s && end && *end == '\0' && errno == 0;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 3 || argc > 4 || std::strcmp(argv[1], "--help") == 0) {
        fmt::print(argc >= 2 && std::strcmp(argv[1], "--help") == 0 ? stdout : stderr,
                   "usage: gen_corpus OUT SIZE_MB [SEED]\n"
                   "writes SIZE_MB * 2^20 bytes of deterministic text to OUT (default SEED 20240607)\n");
        return argc >= 2 && std::strcmp(argv[1], "--help") == 0 ? 0 : 2;
    }
    const std::string out_path = argv[1];
    double size_mb = 0;
    if (!parse_double(argv[2], size_mb) || size_mb < 0 || size_mb > 1 << 20) {
        fmt::print(stderr, "gen_corpus: SIZE_MB must be a number of MiB between 0 and 1048576, got '{}'\n", argv[2]);
        return 2;
    }
    std::uint64_t seed = 20240607;
    if (argc == 4) {
        std::string_view s = argv[3];
        auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), seed);
        if (s.empty() || ec != std::errc() || end != s.data() + s.size()) {
            fmt::print(stderr, "gen_corpus: SEED must be an unsigned integer, got '{}'\n", argv[3]);
            return 2;
        }
    }
    const auto target = static_cast<std::uint64_t>(size_mb * (1 << 20));

    rng r(seed);
    const std::vector<std::string> vocab = make_vocabulary(r, 50000);
    std::vector<double> rank_weights;
    for (std::size_t i = 0; i < vocab.size(); ++i) rank_weights.push_back(1.0 / (static_cast<double>(i) + 2.7));
    const weighted rank(rank_weights);
    std::vector<double> sep_weights;
    for (const auto& s : separators) sep_weights.push_back(s.second);
    const weighted sep(sep_weights);

    const std::string tmp_path = out_path + ".tmp";
    std::FILE* f = std::fopen(tmp_path.c_str(), "wb");
    if (!f) {
        fmt::print(stderr, "gen_corpus: cannot create '{}': {}\n", tmp_path, std::strerror(errno));
        return 1;
    }
    std::uint64_t written = 0;
    std::string block;
    while (written < target) {
        block.clear();
        while (block.size() < (1 << 20)) {
            append_word(block, vocab[rank.draw(r)], r);
            block += separators[sep.draw(r)].first;
        }
        const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(block.size(), target - written));
        if (std::fwrite(block.data(), 1, n, f) != n) break;
        written += n;
    }
    if (std::fclose(f) != 0 || written != target) {
        fmt::print(stderr, "gen_corpus: cannot write '{}': {}\n", tmp_path, std::strerror(errno));
        std::remove(tmp_path.c_str());
        return 1;
    }
    if (std::rename(tmp_path.c_str(), out_path.c_str()) != 0) {
        fmt::print(stderr, "gen_corpus: cannot rename '{}' to '{}': {}\n", tmp_path, out_path, std::strerror(errno));
        return 1;
    }
    return 0;
}
