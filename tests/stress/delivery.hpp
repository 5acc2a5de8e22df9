// tests/stress/delivery.hpp: the stress suites' check that every value was
// delivered exactly once and, per producer, in order.
#pragma once

#include "../test_util.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <vector>

namespace rill_test {

using delivery_log = std::vector<std::uint64_t>;   // what one consumer received, in order

/// Values are tagged (producer, seq) as in test_util.hpp. Each consumer's log
/// must hold every producer's values in increasing seq; all logs together
/// must hold every (producer, seq) exactly once.
inline void check_delivery(const std::vector<delivery_log>& logs, std::uint32_t producers, std::uint32_t per_producer) {
    std::vector<std::vector<std::uint8_t>> seen(producers, std::vector<std::uint8_t>(per_producer, 0));
    std::size_t total = 0, duplicates = 0, out_of_range = 0, out_of_order = 0;
    for (const delivery_log& l : logs) {
        std::vector<std::int64_t> last(producers, -1);
        for (std::uint64_t v : l) {
            std::uint32_t p = producer_of(v), s = seq_of(v);
            if (p >= producers || s >= per_producer) {
                ++out_of_range;
                continue;
            }
            if (seen[p][s]++) ++duplicates;
            if (std::int64_t(s) <= last[p]) ++out_of_order;
            last[p] = s;
            ++total;
        }
    }
    CHECK(out_of_range == 0);
    CHECK(duplicates == 0);
    CHECK(out_of_order == 0);
    CHECK(total == std::size_t(producers) * per_producer);
}

}  // namespace rill_test
