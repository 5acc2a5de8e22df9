// samples/wordcount/test_word_scan.cpp: the 64-byte word scanner, the
// mapper's chunk table and the reducer's totals against a byte-at-a-time
// reference and std::map, on random text whose words
// cross the scanner's block edges, end the buffer, run past eight and
// sixty-four bytes, and sit among bytes >= 0x80, NULs and control bytes.
// The scanner reads from buffers of exactly the text's size, so that a
// read past the end shows under AddressSanitizer; the tables are also
// given words that share one hash, so that only their equality checks keep
// them apart.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include "chunk_counts.hpp"
#include "word_totals.hpp"

#include <map>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace {

struct found_word {
    std::string word;
    std::uint64_t hash;
    bool operator==(const found_word&) const = default;
};

/// The definition, a byte at a time: lower-cases text in place and returns its words.
std::vector<std::string> reference_words(std::string& text) {
    std::vector<std::string> words;
    std::string current;
    for (char& c : text) {
        const unsigned char u = static_cast<unsigned char>(c);
        if ((u >= 'a' && u <= 'z') || (u >= '0' && u <= '9')) current += c;
        else if (u >= 'A' && u <= 'Z') current += (c = static_cast<char>(u - 'A' + 'a'));
        else if (!current.empty()) words.push_back(std::exchange(current, {}));
    }
    if (!current.empty()) words.push_back(current);
    return words;
}

/// Random text of `n` bytes: runs of word bytes (upper and lower case,
/// digits) of lengths 1..max_word between separators, some of them >= 0x80.
std::string random_text(std::mt19937_64& rng, std::size_t n, std::size_t max_word) {
    static const std::string word_bytes = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    static const std::string separators = std::string(" \n\t.,;:!?-'\"()[]{}@`/\\_~\x7f\x01\x1f\r") + '\0';
    std::string s;
    while (s.size() < n) {
        std::size_t len = 1 + rng() % max_word;
        for (std::size_t i = 0; i < len && s.size() < n; ++i) s += word_bytes[rng() % word_bytes.size()];
        std::size_t gap = 1 + rng() % 3;
        for (std::size_t i = 0; i < gap && s.size() < n; ++i) {
            std::uint64_t r = rng();
            s += r % 4 == 0 ? static_cast<char>(0x80 + (r >> 8) % 128) : separators[(r >> 8) % separators.size()];
        }
    }
    return s;
}

void check_scan(std::string text) {
    std::string expected_text = text;
    std::vector<std::string> expected = reference_words(expected_text);
    std::vector<found_word> got;
    // Exactly text.size() bytes (a std::string has spare capacity and a NUL after its end).
    auto exact = std::make_unique<char[]>(text.size());
    std::memcpy(exact.get(), text.data(), text.size());
    scan_words(exact.get(), text.size(), [&](const char* w, std::size_t n, std::uint64_t h, packed_word first8) {
        std::uint64_t want_first = 0;
        std::memcpy(&want_first, w, n < 8 ? n : 8);
        CHECK(first8 == want_first);
        got.push_back({std::string(w, n), h});
    });
    CHECK(std::string(exact.get(), text.size()) == expected_text);   // lower-cased in place, separators untouched
    REQUIRE(got.size() == expected.size());
    for (std::size_t i = 0; i < got.size(); ++i) {
        CHECK(got[i].word == expected[i]);
        CHECK(got[i].hash == word_hash(expected[i].data(), expected[i].size()));
    }
}

}  // namespace

TEST_CASE("scan_words finds exactly the reference's words, lower-cased, with their hashes") {
    std::mt19937_64 rng(12345);
    for (std::size_t n = 0; n <= 300; ++n)
        for (std::size_t max_word : {3, 9, 20, 70}) check_scan(random_text(rng, n, max_word));
    for (int i = 0; i < 200; ++i) check_scan(random_text(rng, 4096 + rng() % 4096, 1 + rng() % 100));
}

TEST_CASE("scan_words: words that fill blocks, end the buffer or cross block edges") {
    for (std::size_t len : {1, 7, 8, 9, 15, 16, 17, 63, 64, 65, 127, 128, 129, 200}) {
        std::string w(len, 'Q');
        for (std::size_t i = 0; i < len; ++i) w[i] = static_cast<char>("aB3"[i % 3]);
        check_scan(w);                      // one word, the whole buffer
        check_scan(" " + w);                // ending the buffer
        check_scan(w + " ");
        for (std::size_t pad = 55; pad <= 66; ++pad) {
            check_scan(std::string(pad, ' ') + w + "," + w);   // across the first block edge
            check_scan(std::string(pad, '\xff') + w);
        }
    }
    check_scan(std::string(64, ' '));
    check_scan(std::string(200, '\x80'));
}

TEST_CASE("equal words hash equally and differing words of every length do not collide here") {
    std::map<std::uint64_t, std::string> seen;
    std::mt19937_64 rng(7);
    for (int i = 0; i < 20000; ++i) {
        std::size_t n = 1 + rng() % 24;
        std::string w;
        for (std::size_t k = 0; k < n; ++k) w += static_cast<char>('a' + rng() % 26);
        std::uint64_t h = word_hash(w.data(), w.size());
        auto [it, fresh] = seen.emplace(h, w);
        CHECK((fresh || it->second == w));
    }
    CHECK(word_hash("ab", 2) != word_hash("ba", 2));
    CHECK(word_hash("abcdefgh", 8) != word_hash("abcdefgh0", 9));
}

TEST_CASE("count_words counts every word of a chunk exactly, short and long, across chunks") {
    std::mt19937_64 rng(99);
    chunk_counts counts;   // reused chunk after chunk, as a mapper does
    for (int chunk = 0; chunk < 30; ++chunk) {
        std::string text = random_text(rng, 20000 + rng() % 20000, chunk % 2 ? 4 : 30);
        text += " Common common COMMON supercalifragilistic SUPERCALIFRAGILISTIC";
        std::string lowered = text;
        std::map<std::string, std::uint32_t> want;
        for (auto& w : reference_words(lowered)) ++want[w];
        std::uint64_t words = count_words(text, counts);
        std::uint64_t want_words = 0;
        for (auto& [w, c] : want) want_words += c;
        CHECK(words == want_words);
        std::map<std::string, std::uint32_t> got;
        counts.for_each([&](const chunk_counts::entry& e) {
            CHECK(e.hash == (word_hash(e.word.data(), e.word.size()) & 0xffffffffu));
            CHECK(got.emplace(std::string(e.word), e.count).second);   // each word once
        });
        CHECK(counts.size() == want.size());
        CHECK(got == want);
    }
}

TEST_CASE("word_totals merges partial counts exactly, for a reducer that owns one hash residue") {
    std::mt19937_64 rng(2024);
    constexpr std::uint64_t reducers = 4;
    for (std::uint64_t owner = 0; owner < reducers; ++owner) {
        word_totals totals;
        std::map<std::string, std::uint64_t> want;
        for (int i = 0; i < 60000; ++i) {
            std::size_t n = 1 + rng() % 20;   // long ones too (past SSO and past 8 bytes)
            std::string w;
            for (std::size_t k = 0; k < n; ++k) w += static_cast<char>('a' + rng() % 6);
            const std::uint64_t h = word_hash(w.data(), w.size()) & 0xffffffffu;
            if (h % reducers != owner) continue;   // this reducer's words only
            const std::uint64_t c = 1 + rng() % 5;
            want[w] += c;
            if (i % 2) totals.add(std::string_view(w), h, c);
            else totals.add(std::string(w), h, c);
        }
        std::map<std::string, std::uint64_t> got;
        totals.for_each([&](const std::string& w, std::uint64_t c) { CHECK(got.emplace(w, c).second); });
        CHECK(totals.size() == want.size());
        CHECK(got == want);
    }
}

TEST_CASE("count_words on empty chunks and chunks without words, after a full one") {
    chunk_counts counts;
    std::string full = "alpha beta alpha";
    CHECK(count_words(full, counts) == 3);
    CHECK(counts.size() == 2);
    for (std::string text : {std::string(), std::string(" ,.\n"), std::string(100, '\0'), std::string(70, '\x7f')}) {
        CHECK(count_words(text, counts) == 0);
        CHECK(counts.size() == 0);   // the previous chunk's words are forgotten
        std::size_t seen = 0;
        counts.for_each([&](const chunk_counts::entry&) { ++seen; });
        CHECK(seen == 0);
    }
}

TEST_CASE("chunk_counts keeps words apart that share one hash") {
    // Short words (kept in the slot), long words of one length, a short and
    // a long word, and two words of one length that differ only after byte 8.
    const std::vector<std::string> words = {"a",         "b",          "ab",         "abcdefgh",   "abcdefgi",
                                            "abcdefghij", "abcdefghik", "abcdefghijk", "0123456789x", "0123456789y",
                                            "zzzzzzzz1",  "zzzzzzzz2"};
    std::string chunk;
    std::vector<std::pair<std::size_t, std::size_t>> where;   // offset, length of each occurrence
    std::map<std::string, std::uint32_t> want;
    for (int round = 0; round < 3; ++round)
        for (std::size_t i = 0; i < words.size(); ++i)
            if (round == 0 || i % (std::size_t(round) + 1) == 0) {
                where.emplace_back(chunk.size(), words[i].size());
                chunk += words[i] + " ";
                ++want[words[i]];
            }
    for (std::uint64_t fixed_hash : {std::uint64_t(0), std::uint64_t(0x12345678)}) {
        chunk_counts counts;
        counts.clear(chunk.data());
        for (auto [offset, length] : where) counts.add(chunk.data() + offset, std::uint32_t(length), fixed_hash);
        std::map<std::string, std::uint32_t> got;
        counts.for_each([&](const chunk_counts::entry& e) {
            CHECK(e.hash == fixed_hash);
            CHECK(got.emplace(std::string(e.word), e.count).second);
        });
        CHECK(got == want);
    }
}

TEST_CASE("word_totals keeps words apart that share one hash, and ignores zero counts") {
    word_totals totals;
    std::map<std::string, std::uint64_t> want;
    std::mt19937_64 rng(5);
    for (int i = 0; i < 3000; ++i) {   // enough to grow the table while every word collides
        std::string w = "w" + std::to_string(rng() % 1500);
        const std::uint64_t c = 1 + rng() % 3;
        want[w] += c;
        totals.add(std::string_view(w), 42, c);
    }
    totals.add(std::string_view("never"), 42, 0);
    totals.add(std::string_view("w0"), 42, 0);
    std::map<std::string, std::uint64_t> got;
    totals.for_each([&](const std::string& w, std::uint64_t c) { CHECK(got.emplace(w, c).second); });
    CHECK(totals.size() == want.size());
    CHECK(got == want);
}
