// samples/wordcount/chunk_counts.hpp: one mapper's word counts for one
// chunk, and count_words, which fills them (shared by the WordCount sample
// and chanbench's wordcount, so that both count the same words the same way;
// what a word is and how it is found: word_scan.hpp).
//
// An open-addressing table that allocates nothing per word: a word of up to
// eight bytes is its own key, kept in the slot; a longer one is a view into
// the chunk. Each slot keeps the low 32 bits of the word's hash (computed
// once, while scanning), which also picks the reducer that owns the word.
// A slot is 16 bytes: a chunk of 1 MiB has about 31,000 distinct words, and
// the table of 65,536 slots then fits a 1 MiB L2 cache, where 24-byte slots
// with a pointer did not (the slot load was a fifth of the time).
// clear() forgets only the slots in use, so the table is reused chunk after
// chunk at the cost of the words it held.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "populated_allocator.hpp"
#include "word_scan.hpp"

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
    /// hash is `hash` (word_hash). The chunk must outlive the table's use of it.
    void add(const char* word, std::uint32_t length, std::uint64_t hash) {
        std::uint64_t packed = 0;
        if (length <= 8) std::memcpy(&packed, word, length);
        add(word, length, hash, packed);
    }

    /// The same, for a word whose first eight bytes are already packed into
    /// `packed` (first byte lowest, zeros above a shorter word).
    void add(const char* word, std::uint32_t length, std::uint64_t hash, std::uint64_t packed) {
        const auto h = static_cast<std::uint32_t>(hash);
        const std::uint64_t key = length <= 8 ? packed : long_key(static_cast<std::uint32_t>(word - base_), length);
        const std::size_t mask = slots_.size() - 1;
        for (std::size_t i = h & mask;; i = (i + 1) & mask) {
            slot& s = slots_[i];
            if (s.count == 0) {
                s = slot{key, h, 1};
                used_.push_back(static_cast<std::uint32_t>(i));
                if (used_.size() * 2 > slots_.size()) grow();
                return;
            }
            if (s.hash != h) continue;
            // A short word is its own key; a long one is checked against
            // its first occurrence in the chunk.
            if (length <= 8 ? s.key == key
                            : (s.key >> 32) == (key >> 32) && std::memcmp(base_ + std::uint32_t(s.key), word, length) == 0) {
                ++s.count;
                return;
            }
        }
    }

    /// Hints that the word hashed to `hash` is counted next (count_words
    /// looks its slot up while it reads the next word).
    void prefetch(std::uint64_t hash) const noexcept {
        __builtin_prefetch(&slots_[static_cast<std::uint32_t>(hash) & (slots_.size() - 1)]);
    }

    /// Distinct words counted since clear().
    std::size_t size() const noexcept { return used_.size(); }

    /// Calls f(const entry&) for each distinct word, in first-seen order.
    /// A short word's view points into the table: valid until the next
    /// add() or clear().
    template <class F>
    void for_each(F&& f) const {
        for (std::uint32_t i : used_) {
            const slot& s = slots_[i];
            f(entry{word_of(s), s.count, s.hash});
        }
    }

private:
    // A word of up to 8 bytes is kept in the slot itself (no load from the
    // chunk to compare it: that load missed the cache for a quarter of the
    // time); a longer one as its offset into the chunk and its length, with
    // the top bit set (word bytes are ASCII, so a packed short word never
    // has it). 16 bytes a slot: a chunk of 1 MiB has about 31,000 distinct
    // words, and the table of 65,536 slots then fits a 1 MiB L2 cache.
    struct slot {
        std::uint64_t key = 0;
        std::uint32_t hash = 0;     // low 32 bits of word_hash
        std::uint32_t count = 0;    // 0: an empty slot
    };

    static constexpr std::uint64_t long_flag = std::uint64_t(1) << 63;
    static std::uint64_t long_key(std::uint32_t offset, std::uint32_t length) noexcept {
        return long_flag | (std::uint64_t(length) << 32) | offset;
    }

    std::string_view word_of(const slot& s) const noexcept {
        if (s.key & long_flag) return {base_ + std::uint32_t(s.key), std::size_t((s.key & ~long_flag) >> 32)};
        const auto length = std::size_t(8 - __builtin_clzll(s.key) / 8);   // its last byte is not zero
        return {reinterpret_cast<const char*>(&s.key), length};            // little-endian: first byte lowest
    }

    void grow() {   // doubles the table, keeping it at most half full
        slot_vector old(slots_.size() * 2);
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

    // Mapped in as allocated (populated_allocator.hpp): a table that doubles
    // to 1 MiB otherwise takes 256 page faults at its first touch.
    using slot_vector = std::vector<slot, populated_allocator<slot>>;
    slot_vector slots_;                   // a power of two in size
    std::vector<std::uint32_t> used_;     // indices of the slots in use
    const char* base_ = nullptr;          // the chunk's first byte
};

/// Counts the words of the n bytes at text into counts (cleared first),
/// which then refers into text; lower-cases text in place. Returns the
/// number of words. Each word is counted after the next one is found, so
/// that the cache miss on its slot overlaps the scan.
inline std::uint64_t count_words(char* text, std::size_t n, chunk_counts& counts) {
    counts.clear(text);
    std::uint64_t words = 0;
    const char* pending = nullptr;   // the word found last, not counted yet
    std::uint32_t pending_length = 0;
    std::uint64_t pending_hash = 0;
    packed_word pending_first = 0;
    scan_words(text, n, [&](const char* w, std::size_t length, std::uint64_t h, packed_word first) {
        counts.prefetch(h);
        if (pending) counts.add(pending, pending_length, pending_hash, pending_first);
        pending = w, pending_length = static_cast<std::uint32_t>(length), pending_hash = h, pending_first = first;
        ++words;
    });
    if (pending) counts.add(pending, pending_length, pending_hash, pending_first);
    return words;
}

/// The same for a whole string.
inline std::uint64_t count_words(std::string& text, chunk_counts& counts) { return count_words(text.data(), text.size(), counts); }
