// samples/wordcount/word_totals.hpp: a reducer's running totals, keyed by
// the hash the mapper computed (word_scan.hpp), so that merging a partial
// count costs one probe and no second hash of the word. Shared by the
// WordCount sample and chanbench's wordcount.
//
// Open addressing over slots that own their word (a short one in the
// string's own bytes), at most half full. The probe starts at the hash's
// Fibonacci spread, not at its low bits: every word a reducer owns has the
// same hash modulo the number of reducers, and low bits would crowd them
// into that fraction of the table.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "populated_allocator.hpp"

class word_totals {
public:
    word_totals() : slots_(std::size_t(1) << 12), shift_(64 - 12) {}

    /// Adds `count` (at least 1: a zero count marks an empty slot) to the
    /// word's total; `hash` is the mapper's (word_hash, or its low 32 bits:
    /// the same for every occurrence of the word).
    void add(std::string_view word, std::uint64_t hash, std::uint64_t count) { add_impl(word, hash, count, [&] { return std::string(word); }); }

    /// The same, taking the word's string when the word is new.
    void add(std::string&& word, std::uint64_t hash, std::uint64_t count) {
        add_impl(word, hash, count, [&] { return std::move(word); });
    }

    /// Distinct words.
    std::size_t size() const noexcept { return used_; }

    /// Calls f(const std::string& word, std::uint64_t total) for each word, in no order.
    template <class F>
    void for_each(F&& f) const {
        for (const slot& s : slots_)
            if (s.count) f(s.word, s.count);
    }

private:
    struct slot {
        std::string word;
        std::uint64_t hash = 0;
        std::uint64_t count = 0;   // 0: an empty slot
    };

    std::size_t home(std::uint64_t hash) const noexcept { return std::size_t((hash * 0x9e3779b97f4a7c15ull) >> shift_); }

    template <class MakeWord>
    void add_impl(std::string_view word, std::uint64_t hash, std::uint64_t count, MakeWord make_word) {
        if (count == 0) return;   // nothing to add, and a zero would read as an empty slot
        const std::size_t mask = slots_.size() - 1;
        for (std::size_t i = home(hash);; i = (i + 1) & mask) {
            slot& s = slots_[i];
            if (s.count == 0) {
                s.word = make_word();
                s.hash = hash;
                s.count = count;
                if (++used_ * 2 > slots_.size()) grow();
                return;
            }
            if (s.hash == hash && s.word == word) {
                s.count += count;
                return;
            }
        }
    }

    void grow() {   // doubles the table
        slot_vector old(slots_.size() * 2);
        old.swap(slots_);
        --shift_;
        const std::size_t mask = slots_.size() - 1;
        for (slot& s : old) {
            if (!s.count) continue;
            std::size_t i = home(s.hash);
            while (slots_[i].count) i = (i + 1) & mask;
            slots_[i] = std::move(s);
        }
    }

    using slot_vector = std::vector<slot, populated_allocator<slot>>;   // mapped in as allocated
    slot_vector slots_;         // a power of two in size
    unsigned shift_;            // 64 - log2(slots_.size())
    std::size_t used_ = 0;
};
