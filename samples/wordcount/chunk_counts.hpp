// samples/wordcount/chunk_counts.hpp: one mapper's word counts for one
// chunk, and the tokenizer that fills them (shared by the WordCount sample
// and chanbench's wordcount, so that both count the same words the same way).
//
// Words: maximal runs of ASCII [a-z0-9] after lower-casing ASCII A-Z; every
// other byte separates words.
//
// An open-addressing table whose keys are views into the chunk itself, so
// counting allocates nothing per word; each slot keeps the word's FNV-1a
// hash (computed once, while tokenizing; the low 32 bits), which also picks
// the reducer that owns the word. A slot is 16 bytes (the word as an offset
// into the chunk): a chunk of 1 MiB has about 31,000 distinct words, and
// the table of 65,536 slots then fits a 1 MiB L2 cache, where 24-byte
// slots with a pointer did not (the slot load was a fifth of the time).
// clear() forgets only the slots in use, so the table is reused chunk after
// chunk at the cost of the words it held.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

/// For each byte: 0 if it separates words, else the byte lower-cased.
inline constexpr std::array<unsigned char, 256> word_byte = [] {
    std::array<unsigned char, 256> t{};
    for (int c = 'a'; c <= 'z'; ++c) t[c] = static_cast<unsigned char>(c);
    for (int c = 'A'; c <= 'Z'; ++c) t[c] = static_cast<unsigned char>(c - 'A' + 'a');
    for (int c = '0'; c <= '9'; ++c) t[c] = static_cast<unsigned char>(c);
    return t;
}();

inline bool is_word_byte(char c) noexcept { return word_byte[static_cast<unsigned char>(c)] != 0; }

class chunk_counts {
public:
    /// What for_each hands out for each distinct word.
    struct entry {
        std::string_view word;
        std::uint32_t count;
        std::uint64_t hash;
        std::string_view text() const noexcept { return word; }
    };

    chunk_counts() : slots_(std::size_t(1) << 12) {}

    /// Starts counting the words of a new chunk, which begins at `chunk`
    /// (every word added until the next clear() lies in it; at most 4 GiB).
    void clear(const char* chunk) noexcept {
        for (std::uint32_t i : used_) slots_[i] = slot{};
        used_.clear();
        base_ = chunk;
    }

    /// Counts one more occurrence of the word [word, word + length), whose
    /// FNV-1a hash is `hash`. The chunk must outlive the table's use of it.
    void add(const char* word, std::uint32_t length, std::uint64_t hash) {
        const auto h = static_cast<std::uint32_t>(hash);
        const std::size_t mask = slots_.size() - 1;
        for (std::size_t i = h & mask;; i = (i + 1) & mask) {
            slot& s = slots_[i];
            if (s.count == 0) {
                s = slot{static_cast<std::uint32_t>(word - base_), length, 1, h};
                used_.push_back(static_cast<std::uint32_t>(i));
                if (used_.size() * 2 > slots_.size()) grow();
                return;
            }
            if (s.hash == h && s.length == length && std::memcmp(base_ + s.offset, word, length) == 0) {
                ++s.count;
                return;
            }
        }
    }

    /// Distinct words counted since clear().
    std::size_t size() const noexcept { return used_.size(); }

    /// Calls f(const entry&) for each distinct word, in first-seen order.
    template <class F>
    void for_each(F&& f) const {
        for (std::uint32_t i : used_) {
            const slot& s = slots_[i];
            f(entry{std::string_view(base_ + s.offset, s.length), s.count, s.hash});
        }
    }

private:
    struct slot {
        std::uint32_t offset = 0;   // of the word in the chunk
        std::uint32_t length = 0;
        std::uint32_t count = 0;    // 0: an empty slot
        std::uint32_t hash = 0;     // low 32 bits of FNV-1a
    };

    void grow() {   // doubles the table, keeping it at most half full
        std::vector<slot> old(slots_.size() * 2);
        old.swap(slots_);
        const std::size_t mask = slots_.size() - 1;
        for (std::uint32_t& u : used_) {
            const slot& s = old[u];
            std::size_t i = s.hash & mask;
            while (slots_[i].count) i = (i + 1) & mask;
            slots_[i] = s;
            u = static_cast<std::uint32_t>(i);
        }
    }

    std::vector<slot> slots_;             // a power of two in size
    std::vector<std::uint32_t> used_;     // indices of the slots in use
    const char* base_ = nullptr;          // the chunk's first byte
};

/// Counts the words of text into counts (cleared first), which then refers
/// into text; lower-cases text in place and hashes each word (FNV-1a) as it
/// goes. Returns the number of words.
inline std::uint64_t count_words(std::string& text, chunk_counts& counts) {
    counts.clear(text.data());
    char* p = text.data();
    const std::size_t n = text.size();
    std::uint64_t words = 0;
    std::size_t i = 0;
    while (i < n) {
        while (i < n && !is_word_byte(p[i])) ++i;
        std::size_t j = i;
        std::uint64_t h = 0xcbf29ce484222325ull;   // FNV-1a of the lower-cased word, in the same pass
        for (; j < n; ++j) {
            const unsigned char c = word_byte[static_cast<unsigned char>(p[j])];
            if (c == 0) break;
            p[j] = static_cast<char>(c);
            h = (h ^ c) * 0x100000001b3ull;
        }
        if (j > i) {
            counts.add(p + i, static_cast<std::uint32_t>(j - i), h);
            ++words;
        }
        i = j;
    }
    return words;
}
