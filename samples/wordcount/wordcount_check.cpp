// samples/wordcount/wordcount_check.cpp: the meson tests of the wordcount
// sample. Deliberately plain: one thread, no rill, the whole file in one
// string, an ordered std::map. It must agree with the channel pipeline.
//
//     wordcount_check check  GEN_CORPUS WORDCOUNT WORKDIR   # results against an independent count
//     wordcount_check errors WORDCOUNT WORKDIR              # bad input exits non-zero with a message
//     wordcount_check count FILE [K]                        # just print the independent count
//
// `check` generates a 2 MiB corpus plus a few small edge-case files, runs
// wordcount on them with several thread / reader / mapper / reducer / chunk settings,
// and compares the top K, the total and the distinct count with its own.
#include <sys/wait.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace {

using ranked = std::vector<std::pair<std::string, std::uint64_t>>;

struct counted {
    ranked top;
    std::uint64_t total = 0;
    std::uint64_t distinct = 0;
};

bool is_letter_or_digit(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }
char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

/// The reference count: read everything, walk it byte by byte.
counted count_file(const std::string& path, std::size_t k) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot open " + path);
    std::stringstream ss;
    ss << in.rdbuf();
    const std::string text = ss.str();

    std::map<std::string, std::uint64_t> counts;
    std::string word;
    counted out;
    for (std::size_t i = 0; i <= text.size(); ++i) {
        if (i < text.size() && is_letter_or_digit(text[i])) {
            word += lower(text[i]);
        } else if (!word.empty()) {
            ++counts[word];
            ++out.total;
            word.clear();
        }
    }
    out.distinct = counts.size();
    ranked all(counts.begin(), counts.end());
    std::stable_sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
    all.resize(std::min(k, all.size()));  // the map is ordered by word, the stable sort keeps that among equals
    out.top = std::move(all);
    return out;
}

std::string quote(const std::string& s) {
    std::string q = "'";
    for (char c : s) {
        if (c == '\'') q += "'\\''";
        else q += c;
    }
    return q + "'";
}

struct run_result {
    int status = -1;  // exit status, or -1 when killed
    std::string output;
};

/// Runs a shell command line and collects its standard output (and standard
/// error too when the command line says 2>&1).
run_result run(const std::string& cmd) {
    run_result r;
    std::FILE* p = ::popen(cmd.c_str(), "r");
    if (!p) throw std::runtime_error("cannot run " + cmd);
    char buf[4096];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.output.append(buf, n);
    int st = ::pclose(p);
    r.status = (st != -1 && WIFEXITED(st)) ? WEXITSTATUS(st) : -1;
    return r;
}

/// Reads wordcount's report: the lines "RANK COUNT WORD" after the header,
/// then "total: N words, D distinct".
bool parse_report(const std::string& out, counted& got) {
    std::istringstream in(out);
    std::string line;
    bool in_table = false, have_total = false;
    while (std::getline(in, line)) {
        std::istringstream ls(line);
        std::string a, b, c;
        ls >> a >> b >> c;
        if (a == "rank" && b == "count" && c == "word") {
            in_table = true;
        } else if (a == "total:") {
            in_table = false;
            unsigned long long total = 0, distinct = 0;
            if (std::sscanf(line.c_str(), "total: %llu words, %llu distinct", &total, &distinct) != 2) return false;
            got.total = total;
            got.distinct = distinct;
            have_total = true;
        } else if (in_table) {
            if (c.empty()) return false;
            got.top.emplace_back(c, std::stoull(b));
        }
    }
    return have_total;
}

int failures = 0;

void fail(const std::string& what) {
    std::cout << "FAIL: " << what << "\n";
    ++failures;
}

void print_top(const char* label, const ranked& top) {
    std::cout << "  " << label << ":";
    for (const auto& [w, n] : top) std::cout << " " << w << "=" << n;
    std::cout << "\n";
}

/// Runs wordcount with args (plus --top k unless k is the default 10) on file.
void check_one(const std::string& wordcount, const std::string& file, const std::string& args, std::size_t k) {
    const std::string top = k == 10 ? "" : " --top " + std::to_string(k);
    const std::string cmd = quote(wordcount) + " " + args + top + " " + quote(file);
    const counted want = count_file(file, k);
    const run_result r = run(cmd);
    counted got;
    if (r.status != 0) return fail(cmd + ": exit status " + std::to_string(r.status) + "\n" + r.output);
    if (!parse_report(r.output, got)) return fail(cmd + ": cannot read its report:\n" + r.output);
    bool ok = true;
    if (got.total != want.total) {
        fail(cmd + ": total " + std::to_string(got.total) + ", expected " + std::to_string(want.total));
        ok = false;
    }
    if (got.distinct != want.distinct) {
        fail(cmd + ": distinct " + std::to_string(got.distinct) + ", expected " + std::to_string(want.distinct));
        ok = false;
    }
    if (got.top != want.top) {
        fail(cmd + ": the top " + std::to_string(k) + " differs");
        print_top("got     ", got.top);
        print_top("expected", want.top);
        ok = false;
    }
    if (ok) std::cout << "ok: " << cmd << " (" << want.total << " words, " << want.distinct << " distinct)\n";
}

void write_file(const std::string& path, const std::string& text) {
    std::ofstream(path, std::ios::binary) << text;
}

int check(const std::string& gen_corpus, const std::string& wordcount, const std::string& dir) {
    std::filesystem::create_directories(dir);
    const std::string corpus = dir + "/corpus-2MiB.txt";
    const run_result g = run(quote(gen_corpus) + " " + quote(corpus) + " 2 7 2>&1");
    if (g.status != 0) {
        fail("gen_corpus: " + g.output);
        return 1;
    }
    check_one(wordcount, corpus, "", 10);
    check_one(wordcount, corpus, "--threads 1 --readers 1 --mappers 1 --reducers 1", 10);
    check_one(wordcount, corpus, "--threads 2 --readers 3 --mappers 3 --reducers 5 --chunk 64k", 25);
    check_one(wordcount, corpus, "--threads=4 --readers=7 --mappers=16 --reducers=7 --chunk=4093", 10);

    // Edge cases: words cut by tiny chunks and regions, a word longer than a
    // chunk or a region, more readers than bytes, no final separator, case and
    // bytes >= 0x80, an empty file, no words at all.
    const std::string mixed = dir + "/mixed.txt";
    write_file(mixed,
               "Hello, WORLD! hello--world 42 x42 X42 na\xc3\xafve caf\xc3\xa9 It's it's\tIT'S\n"
               "under_score a.b.c A-B-C 007 0 00 supercalifragilisticexpialidocious2 end");
    check_one(wordcount, mixed, "--chunk 1", 100);
    check_one(wordcount, mixed, "--chunk 7 --readers 5 --mappers 2 --reducers 3", 100);
    check_one(wordcount, mixed, "--threads 1 --readers 64 --mappers 5 --reducers 2 --chunk 3", 5);
    check_one(wordcount, mixed, "--readers 1000 --chunk 2", 100);
    const std::string empty = dir + "/empty.txt";
    write_file(empty, "");
    check_one(wordcount, empty, "", 10);
    check_one(wordcount, empty, "--readers 3", 10);
    const std::string blank = dir + "/no-words.txt";
    write_file(blank, " ,.;\n\n\t--\xe2\x80\x94 ");
    check_one(wordcount, blank, "--chunk 2 --readers 4", 10);
    const std::string one = dir + "/one-word.txt";
    write_file(one, "Z");
    check_one(wordcount, one, "--readers 5", 10);
    const std::string long_word = dir + "/long-word.txt";
    write_file(long_word, "a " + std::string(5000, 'q') + " b " + std::string(3000, 'Q') + "\n");
    check_one(wordcount, long_word, "--readers 9 --chunk 100", 10);

    std::cout << (failures ? "FAILED" : "all wordcount results agree with the reference count") << "\n";
    return failures ? 1 : 0;
}

/// A command that must fail: non-zero exit status and a message containing want.
void expect_error(const std::string& wordcount, const std::string& args, const std::string& want) {
    const std::string cmd = quote(wordcount) + " " + args + " 2>&1";
    const run_result r = run(cmd);
    if (r.status <= 0) fail(cmd + ": exit status " + std::to_string(r.status) + ", expected an error");
    else if (r.output.find(want) == std::string::npos) fail(cmd + ": message lacks '" + want + "':\n" + r.output);
    else std::cout << "ok: " << cmd << " -> " << r.status << ": " << r.output.substr(0, r.output.find('\n')) << "\n";
}

int errors(const std::string& wordcount, const std::string& dir) {
    std::filesystem::create_directories(dir);
    const std::string missing = dir + "/no-such-file.txt";
    std::filesystem::remove(missing);
    expect_error(wordcount, quote(missing), "cannot open '" + missing + "'");
    expect_error(wordcount, quote(dir), "is a directory");
    expect_error(wordcount, "/dev/null", "not a regular file");
    expect_error(wordcount, "", "error: missing FILE");
    expect_error(wordcount, "--threads abc " + quote(missing), "error: --threads wants a whole number from 0 to 1024, not 'abc'");
    expect_error(wordcount, "--mappers 0 " + quote(missing), "error: --mappers wants a whole number from 1");
    expect_error(wordcount, "--readers 0 " + quote(missing), "error: --readers wants a whole number from 1");
    expect_error(wordcount, "--reducers -3 " + quote(missing), "error: --reducers wants a whole number");
    expect_error(wordcount, "--top 12x " + quote(missing), "error: --top wants a whole number");
    expect_error(wordcount, "--chunk 0 " + quote(missing), "error: --chunk wants a size");
    expect_error(wordcount, "--chunk 2G " + quote(missing), "error: --chunk wants a size");
    expect_error(wordcount, "--threads", "error: --threads needs a value");
    expect_error(wordcount, "--frobnicate " + quote(missing), "error: unexpected argument '--frobnicate'");
    expect_error(wordcount, quote(missing) + " " + quote(missing), "error: unexpected argument");
    const run_result help = run(quote(wordcount) + " --help");
    if (help.status != 0 || help.output.find("usage: wordcount") == std::string::npos)
        fail("--help: exit status " + std::to_string(help.status) + "\n" + help.output);
    else std::cout << "ok: --help\n";
    std::cout << (failures ? "FAILED" : "every bad input was refused with a message") << "\n";
    return failures ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        const std::string mode = argc > 1 ? argv[1] : "";
        if (mode == "check" && argc == 5) return check(argv[2], argv[3], argv[4]);
        if (mode == "errors" && argc == 4) return errors(argv[2], argv[3]);
        if (mode == "count" && (argc == 3 || argc == 4)) {
            const counted c = count_file(argv[2], argc == 4 ? std::stoul(argv[3]) : 10);
            for (const auto& [w, n] : c.top) std::cout << n << " " << w << "\n";
            std::cout << "total: " << c.total << " words, " << c.distinct << " distinct\n";
            return 0;
        }
        std::cerr << "usage: wordcount_check check GEN_CORPUS WORDCOUNT WORKDIR\n"
                     "       wordcount_check errors WORDCOUNT WORKDIR\n"
                     "       wordcount_check count FILE [K]\n";
        return 2;
    } catch (const std::exception& e) {
        std::cerr << "wordcount_check: " << e.what() << "\n";
        return 1;
    }
}
