// samples/common/cli.hpp: the small command-line parser every sample uses.
//
//     samples::cli args(argc, argv, "usage: pipeline [--n N] [--threads T]\n...");
//     long n = args.number("--n", 1000, 1, 10'000'000);   // --n 500 or --n=500
//     unsigned threads = unsigned(args.number("--threads", 0, 0, 1024));
//     bool quiet = args.flag("--quiet");
//     std::string file = args.positional("FILE");          // required
//     args.done();                                          // unknown options are errors
//
// --help prints the usage and exits 0. A bad number, a missing value, an
// unknown option or a missing positional prints a one-line error and the
// usage to stderr and exits 2. Samples read like documentation, so this
// keeps argument handling out of their way.
#pragma once

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace samples {

class cli {
public:
    cli(int argc, char** argv, std::string usage) : usage_(std::move(usage)) {
        for (int i = 1; i < argc; ++i) args_.emplace_back(argv[i]);
        for (const auto& a : args_)
            if (a == "--help" || a == "-h") {
                std::fputs(usage_.c_str(), stdout);
                std::exit(0);
            }
    }

    /// An integer option in [min, max], or def when absent.
    long number(std::string_view name, long def, long min, long max) {
        std::string v;
        if (!take(name, v)) return def;
        errno = 0;
        char* end = nullptr;
        long x = std::strtol(v.c_str(), &end, 10);
        if (v.empty() || *end || errno == ERANGE || x < min || x > max)
            fail(std::string(name) + " wants a whole number from " + std::to_string(min) + " to " + std::to_string(max) +
                 ", not '" + v + "'");
        return x;
    }

    /// A floating-point option in [min, max], or def when absent.
    double real(std::string_view name, double def, double min, double max) {
        std::string v;
        if (!take(name, v)) return def;
        char* end = nullptr;
        double x = std::strtod(v.c_str(), &end);
        if (v.empty() || *end || !(x >= min && x <= max))
            fail(std::string(name) + " wants a number from " + std::to_string(min) + " to " + std::to_string(max) + ", not '" + v + "'");
        return x;
    }

    /// A string option, or def when absent.
    std::string text(std::string_view name, std::string def) {
        std::string v;
        return take(name, v) ? v : def;
    }

    /// A switch without a value.
    bool flag(std::string_view name) {
        for (std::size_t i = 0; i < args_.size(); ++i)
            if (args_[i] == name) {
                args_.erase(args_.begin() + long(i));
                return true;
            }
        return false;
    }

    /// The next positional argument; required unless def is given.
    std::string positional(std::string_view what, const char* def = nullptr) {
        for (std::size_t i = 0; i < args_.size(); ++i)
            if (args_[i].rfind("--", 0) != 0) {
                std::string v = args_[i];
                args_.erase(args_.begin() + long(i));
                return v;
            }
        if (def) return def;
        fail(std::string("missing ") + std::string(what));
    }

    /// Fails on anything left over (an unknown option, an extra argument).
    void done() {
        if (!args_.empty()) fail("unexpected argument '" + args_.front() + "'");
    }

    [[noreturn]] void fail(const std::string& why) const {
        std::fprintf(stderr, "error: %s\n\n%s", why.c_str(), usage_.c_str());
        std::exit(2);
    }

private:
    bool take(std::string_view name, std::string& value) {
        for (std::size_t i = 0; i < args_.size(); ++i) {
            const std::string& a = args_[i];
            if (a == name) {
                if (i + 1 >= args_.size()) fail(std::string(name) + " needs a value");
                value = args_[i + 1];
                args_.erase(args_.begin() + long(i), args_.begin() + long(i) + 2);
                return true;
            }
            if (a.size() > name.size() && a.compare(0, name.size(), name) == 0 && a[name.size()] == '=') {
                value = a.substr(name.size() + 1);
                args_.erase(args_.begin() + long(i));
                return true;
            }
        }
        return false;
    }

    std::string usage_;
    std::vector<std::string> args_;
};

}  // namespace samples
