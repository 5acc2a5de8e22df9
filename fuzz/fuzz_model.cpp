// fuzz/fuzz_model.cpp: libFuzzer harness. The input bytes are decoded into
// a channel program (tests/model/model.hpp: channels of capacity 0..3,
// coroutines doing send / recv / try_send / try_recv / close / select),
// which runs in rill's deterministic mode with a scheduler seed derived
// from the same bytes, and every outcome is checked against the model of
// Go's channel semantics. A violation, or anything left alive after the
// run, prints the program and its log and aborts: libFuzzer then saves the
// input as a crash file that replays it.
//
//     fuzz_model corpus/                 # fuzz (see docs/RELIABILITY.md)
//     fuzz_model crash-<sha1>            # replay one input, verbose
#include "model.hpp"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace {

std::uint64_t fnv1a(const std::uint8_t* data, std::size_t size) {
    std::uint64_t h = 0xcbf29ce484222325ull;
    for (std::size_t i = 0; i < size; ++i) h = (h ^ data[i]) * 0x100000001b3ull;
    return h;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace rill_model;
    if (size > 512) return 0;   // larger inputs add nothing: a program uses about 100 bytes at most
    byte_source src(data, size);
    program p = generate(src);
    std::uint64_t seed = fnv1a(data, size) | 1;
    run_result r = execute(p, deterministic(seed));
    std::vector<std::string> errors = check_with_model(p, r);
    rill::live_objects l = rill::live();
    if (!(l == rill::live_objects{}))
        errors.push_back("left alive after the run: coroutines=" + std::to_string(l.coroutines) + " stacks=" +
                         std::to_string(l.stacks) + " channels=" + std::to_string(l.channels) + " timers=" +
                         std::to_string(l.timers) + " runtimes=" + std::to_string(l.runtimes));
    if (!errors.empty()) {
        std::string s = "[fuzz_model] violation, scheduler seed " + std::to_string(seed) + "\n";
        for (const std::string& e : errors) s += "  violation: " + e + "\n";
        s += describe(p) + describe(r);
        std::fputs(s.c_str(), stderr);
        std::abort();
    }
    return 0;
}
