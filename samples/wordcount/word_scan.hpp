// samples/wordcount/word_scan.hpp: what a word is, how it is hashed, and a
// scanner that finds the words of a buffer 64 bytes at a time.
//
// Words: maximal runs of ASCII [a-z0-9] after lower-casing ASCII A-Z; every
// other byte separates words.
//
// The scanner classifies 64 bytes at once (SSE2, which every x86-64 has;
// a byte loop elsewhere) into a bit mask of word bytes, lower-cases them in
// place, and walks the words by the mask's edges (count trailing zeros):
// no branch per byte, one loop exit per 64 bytes instead of one per word.
// A word's hash is taken eight bytes at a time (word_hash), not a byte at a
// time as FNV-1a's multiply chain is.
#pragma once

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/// For each byte: 0 if it separates words, else the byte lower-cased.
inline constexpr std::array<unsigned char, 256> word_byte = [] {
    std::array<unsigned char, 256> t{};
    for (int c = 'a'; c <= 'z'; ++c) t[c] = static_cast<unsigned char>(c);
    for (int c = 'A'; c <= 'Z'; ++c) t[c] = static_cast<unsigned char>(c - 'A' + 'a');
    for (int c = '0'; c <= '9'; ++c) t[c] = static_cast<unsigned char>(c);
    return t;
}();

inline bool is_word_byte(char c) noexcept { return word_byte[static_cast<unsigned char>(c)] != 0; }

// Words are loaded eight bytes at a time with the first byte lowest, and
// chunk_counts keeps short words in that form.
static_assert(std::endian::native == std::endian::little, "word_scan.hpp: the word loads assume a little-endian machine");

namespace word_scan_detail {

inline constexpr std::uint64_t k1 = 0x9e3779b97f4a7c15ull;
inline constexpr std::uint64_t k2 = 0xff51afd7ed558ccdull;

inline std::uint64_t load8(const char* p) noexcept {
    std::uint64_t v;
    std::memcpy(&v, p, 8);
    return v;
}

/// The bytes [p, p + n), n < 8, first byte lowest, zeros above.
inline std::uint64_t load_short(const char* p, std::size_t n) noexcept {
    std::uint64_t v = 0;
    std::memcpy(&v, p, n);
    return v;
}

}  // namespace word_scan_detail

/// A word of at most 8 bytes as one number: its bytes, first byte lowest,
/// zeros above (word bytes are never zero, so the length is implied).
using packed_word = std::uint64_t;

/// The hash of a word, from its bytes eight at a time (the last group
/// zero-padded): a multiply and a shift per group, then a finalizer (the
/// one of MurmurHash3) so that the low bits, which pick a table slot and a
/// reducer, depend on every byte. `first` is the word's first group.
inline std::uint64_t word_hash_groups(std::uint64_t first, const char* rest, std::size_t rest_length) noexcept {
    using namespace word_scan_detail;
    std::uint64_t h = first * k1;
    for (; rest_length >= 8; rest += 8, rest_length -= 8) h = (h ^ (h >> 32) ^ load8(rest)) * k1;
    if (rest_length) h = (h ^ (h >> 32) ^ load_short(rest, rest_length)) * k1;
    h ^= h >> 33;
    h *= k2;
    h ^= h >> 33;
    return h;
}

/// The hash of the (lower-cased) word [w, w + n), n >= 1.
inline std::uint64_t word_hash(const char* w, std::size_t n) noexcept {
    using namespace word_scan_detail;
    if (n <= 8) return word_hash_groups(n == 8 ? load8(w) : load_short(w, n), nullptr, 0);
    return word_hash_groups(load8(w), w + 8, n - 8);
}

/// Lower-cases the words of [p, p + n) in place and calls
/// on_word(const char* word, std::size_t length, std::uint64_t hash,
/// packed_word first8) for each word in order; first8 holds the word's
/// first eight bytes (all of it when it is no longer).
template <class OnWord>
void scan_words(char* p, std::size_t n, OnWord&& on_word) {
    using namespace word_scan_detail;
    // A word ends at `end`, which lies within the buffer or at its end.
    auto emit = [&](std::size_t start, std::size_t end) {
        const std::size_t length = end - start;
        const char* w = p + start;
        // Eight bytes from the word's start may run past the buffer only
        // for a word among its last eight bytes.
        std::uint64_t first = start + 8 <= n ? load8(w) : load_short(w, n - start);
        if (length < 8) first &= (std::uint64_t(1) << (8 * length)) - 1;
        const std::uint64_t h = length <= 8 ? word_hash_groups(first, nullptr, 0) : word_hash_groups(first, w + 8, length - 8);
        on_word(w, length, h, first);
    };

    std::size_t open = 0;      // start of the word that runs into the next block
    bool in_word = false;      // the last byte of the previous block was a word byte
    std::size_t base = 0;
    for (; base < n; base += 64) {
        std::uint64_t mask = 0;   // bit k: byte base + k is a word byte
        const std::size_t len = n - base < 64 ? n - base : 64;
#if defined(__SSE2__)
        if (len == 64) {
            for (int g = 0; g < 4; ++g) {
                // Signed compares: bytes >= 0x80 are negative and match no range.
                char* q = p + base + 16 * g;
                __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(q));
                __m128i upper = _mm_and_si128(_mm_cmpgt_epi8(x, _mm_set1_epi8('A' - 1)), _mm_cmplt_epi8(x, _mm_set1_epi8('Z' + 1)));
                __m128i lower = _mm_and_si128(_mm_cmpgt_epi8(x, _mm_set1_epi8('a' - 1)), _mm_cmplt_epi8(x, _mm_set1_epi8('z' + 1)));
                __m128i digit = _mm_and_si128(_mm_cmpgt_epi8(x, _mm_set1_epi8('0' - 1)), _mm_cmplt_epi8(x, _mm_set1_epi8('9' + 1)));
                __m128i word = _mm_or_si128(_mm_or_si128(upper, lower), digit);
                _mm_storeu_si128(reinterpret_cast<__m128i*>(q), _mm_add_epi8(x, _mm_and_si128(upper, _mm_set1_epi8(0x20))));
                mask |= std::uint64_t(std::uint32_t(_mm_movemask_epi8(word))) << (16 * g);
            }
        } else
#endif
        {
            for (std::size_t k = 0; k < len; ++k) {
                const unsigned char c = word_byte[static_cast<unsigned char>(p[base + k])];
                if (c) {
                    p[base + k] = static_cast<char>(c);
                    mask |= std::uint64_t(1) << k;
                }
            }
        }
        // Edges: a start is a word byte after a separator, an end a
        // separator after a word byte. They alternate, start first, except
        // that a word open from the previous block ends first.
        const bool continues = in_word;
        const std::uint64_t before = (mask << 1) | std::uint64_t(continues);
        std::uint64_t starts = mask & ~before;
        std::uint64_t ends = ~mask & before;
        if (len < 64) ends &= (std::uint64_t(1) << len) - 1;   // bits past the buffer are not separators
        in_word = (mask >> (len - 1)) & 1;
        if (continues) {   // the open word ends in this block, or runs through it
            if (!ends) continue;
            emit(open, base + std::size_t(__builtin_ctzll(ends)));
            ends &= ends - 1;
        }
        while (starts) {
            const std::size_t s = base + std::size_t(__builtin_ctzll(starts));
            starts &= starts - 1;
            if (!ends) {   // runs into the next block
                open = s;
                break;
            }
            emit(s, base + std::size_t(__builtin_ctzll(ends)));
            ends &= ends - 1;
        }
    }
    if (in_word) emit(open, n);
}
