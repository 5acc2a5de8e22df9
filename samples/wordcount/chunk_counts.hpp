// samples/wordcount/chunk_counts.hpp: one mapper's word counts for one chunk.
//
// An open-addressing table whose keys are views into the chunk itself, so
// counting allocates nothing per word; each entry keeps the word's 64-bit
// FNV-1a hash (computed once, while tokenizing), which also picks the
// reducer that owns the word. clear() forgets only the slots in use, so the
// table is reused chunk after chunk at the cost of the words it held.
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

class chunk_counts {
public:
    struct entry {
        const char* word = nullptr;   // null: an empty slot
        std::uint32_t length = 0;
        std::uint32_t count = 0;
        std::uint64_t hash = 0;
        std::string_view text() const noexcept { return {word, length}; }
    };

    chunk_counts() : slots_(std::size_t(1) << 12) {}

    void clear() noexcept {
        for (std::uint32_t i : used_) slots_[i] = entry{};
        used_.clear();
    }

    /// Counts one more occurrence of the word [word, word + length), whose
    /// FNV-1a hash is `hash`. The chunk must outlive the table's use of it.
    void add(const char* word, std::uint32_t length, std::uint64_t hash) {
        const std::size_t mask = slots_.size() - 1;
        for (std::size_t i = hash & mask;; i = (i + 1) & mask) {
            entry& e = slots_[i];
            if (!e.word) {
                e = entry{word, length, 1, hash};
                used_.push_back(static_cast<std::uint32_t>(i));
                if (used_.size() * 2 > slots_.size()) grow();
                return;
            }
            if (e.hash == hash && e.length == length && std::memcmp(e.word, word, length) == 0) {
                ++e.count;
                return;
            }
        }
    }

    /// Distinct words counted since clear().
    std::size_t size() const noexcept { return used_.size(); }

    /// Calls f(const entry&) for each distinct word, in first-seen order.
    template <class F>
    void for_each(F&& f) const {
        for (std::uint32_t i : used_) f(slots_[i]);
    }

private:
    void grow() {   // doubles the table, keeping it at most half full
        std::vector<entry> old(slots_.size() * 2);
        old.swap(slots_);
        const std::size_t mask = slots_.size() - 1;
        for (std::uint32_t& u : used_) {
            const entry& e = old[u];
            std::size_t i = e.hash & mask;
            while (slots_[i].word) i = (i + 1) & mask;
            slots_[i] = e;
            u = static_cast<std::uint32_t>(i);
        }
    }

    std::vector<entry> slots_;            // a power of two in size
    std::vector<std::uint32_t> used_;     // indices of the slots in use
};
