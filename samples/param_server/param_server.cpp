// samples/param_server/param_server.cpp: data-parallel training with a
// parameter server.
//
// Model: data parallelism. W worker coroutines each hold a copy of a linear
// regression model and their own shard of a synthetic data set (seeded; the
// labels are y = w*·x plus a little noise, with known true weights w*). Each
// computes the gradient of the squared error on a mini-batch, sends it to the
// parameter-server coroutine and receives the new weights back.
//
//     worker ×W ──gradient──▶ parameter server ──weights──▶ that worker
//
//   sync   the server waits for all W gradients of a step, averages them (in
//          worker order, so a run is deterministic), updates the weights and
//          sends them to every worker: W workers act as one big batch.
//   async  the server applies each gradient as it arrives and answers its
//          sender at once; workers go on with the latest weights they got,
//          never waiting for each other (each gradient moves the model 1/W of
//          a synchronous step, as gradients computed on stale weights must
//          not overshoot).
//
// After every epoch the server prints the mean loss of the gradients it got
// and the distance |w - w*| to the true weights; the run fails (exit 1) when
// the final distance is above --tolerance.
//
// Run it:
//     build/samples/param_server/param_server --workers 8 --epochs 20
//     build/samples/param_server/param_server --mode async --threads 4
#include <rill/rill.hpp>

#include <fmt/core.h>

#include "cli.hpp"

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace {

using weights = std::vector<double>;

/// The training data: rows of features (the first is always 1, the bias) and labels.
struct dataset {
    std::size_t features = 0;
    std::vector<double> x;   // row-major, rows × features
    std::vector<double> y;
    weights truth;           // the w* the labels were made with
    std::size_t rows() const { return y.size(); }
    const double* row(std::size_t i) const { return &x[i * features]; }
};

/// Uniform in [-1, 1), the same on every standard library (unlike its distributions).
double uniform(std::mt19937_64& rng) { return double(rng() >> 11) * 0x1.0p-52 - 1.0; }

dataset make_dataset(std::size_t rows, std::size_t features, double noise, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    dataset d;
    d.features = features;
    for (std::size_t j = 0; j < features; ++j) d.truth.push_back((j % 2 ? -1.0 : 1.0) * double(j + 1) / double(features));
    for (std::size_t i = 0; i < rows; ++i) {
        double label = 0;
        for (std::size_t j = 0; j < features; ++j) {
            double v = j == 0 ? 1.0 : uniform(rng);
            d.x.push_back(v);
            label += d.truth[j] * v;
        }
        d.y.push_back(label + noise * uniform(rng));
    }
    return d;
}

double dot(const double* a, const weights& w) {
    double s = 0;
    for (std::size_t j = 0; j < w.size(); ++j) s += a[j] * w[j];
    return s;
}

double distance(const weights& a, const weights& b) {
    double s = 0;
    for (std::size_t j = 0; j < a.size(); ++j) s += (a[j] - b[j]) * (a[j] - b[j]);
    return std::sqrt(s);
}

/// What a worker sends the server.
struct gradient {
    int worker;
    weights g;      // d(mean squared error)/dw on the mini-batch
    double loss;    // the mean squared error on it
};

/// The gradient of the mean squared error over rows [begin, end).
gradient compute_gradient(int worker, const dataset& d, std::size_t begin, std::size_t end, const weights& w) {
    gradient out{worker, weights(w.size(), 0.0), 0.0};
    for (std::size_t i = begin; i < end; ++i) {
        const double err = dot(d.row(i), w) - d.y[i];
        out.loss += err * err;
        for (std::size_t j = 0; j < w.size(); ++j) out.g[j] += 2 * err * d.row(i)[j];
    }
    const double n = double(end - begin);
    for (double& g : out.g) g /= n;
    out.loss /= n;
    return out;
}

struct config {
    std::string mode;
    int workers;
    std::size_t batch;
    int epochs;
    double rate;
    double tolerance;
    unsigned threads;
};

/// Trains in one mode; returns the final |w - w*|.
double train(const dataset& d, const config& cfg, bool sync) {
    const auto W = std::size_t(cfg.workers);
    const std::size_t shard = d.rows() / W;                     // each worker's rows
    const std::size_t steps = (shard + cfg.batch - 1) / cfg.batch;   // mini-batches per epoch
    const char* mode = sync ? "sync" : "async";

    return rill::run([&] {
        rill::chan<gradient> to_server(W, "gradients");
        std::vector<rill::chan<weights>> to_worker;
        for (std::size_t i = 0; i < W; ++i) to_worker.emplace_back(1, fmt::format("weights for worker {}", i));

        rill::wait_group workers("workers");
        workers.add(long(W));
        for (std::size_t i = 0; i < W; ++i)
            rill::go(fmt::format("worker {}", i), [&, i, to_server, mine = to_worker[i]] {
                weights w(d.features, 0.0);   // the worker's copy of the model
                const std::size_t first = i * shard;
                for (int e = 0; e < cfg.epochs; ++e)
                    for (std::size_t s = 0; s < steps; ++s) {
                        const std::size_t begin = first + s * cfg.batch, end = std::min(begin + cfg.batch, first + shard);
                        to_server.send(compute_gradient(int(i), d, begin, end, w));
                        w = *mine.recv();
                    }
                workers.done();
            });

        double last = 0;
        rill::wait_group served("server");
        served.add(1);
        rill::go("parameter server", [&] {
            weights w(d.features, 0.0);
            std::vector<gradient> step(W);   // sync: this step's gradient of each worker
            for (int e = 1; e <= cfg.epochs; ++e) {
                double loss = 0;
                for (std::size_t s = 0; s < steps; ++s) {
                    if (sync) {
                        for (std::size_t k = 0; k < W; ++k) {
                            gradient g = *to_server.recv();
                            step[std::size_t(g.worker)] = std::move(g);
                        }
                        for (std::size_t j = 0; j < w.size(); ++j) {
                            double sum = 0;
                            for (const gradient& g : step) sum += g.g[j];
                            w[j] -= cfg.rate * sum / double(W);
                        }
                        for (const gradient& g : step) loss += g.loss;
                        for (auto& ch : to_worker) ch.send(w);
                    } else {
                        for (std::size_t k = 0; k < W; ++k) {
                            gradient g = *to_server.recv();
                            for (std::size_t j = 0; j < w.size(); ++j) w[j] -= cfg.rate / double(W) * g.g[j];
                            loss += g.loss;
                            to_worker[std::size_t(g.worker)].send(w);
                        }
                    }
                }
                last = distance(w, d.truth);
                fmt::print("{:>5}: epoch {:>3}  loss {:.6f}  |w - w*| {:.6f}\n", mode, e, loss / double(steps * W), last);
            }
            served.done();
        });
        served.wait();
        workers.wait();
        return last;
    }, rill::options{.threads = cfg.threads});
}

}  // namespace

int main(int argc, char** argv) {
    samples::cli args(argc, argv,
                      "usage: param_server [options]\n"
                      "\n"
                      "Trains a linear regression with W workers and a parameter server, synchronously and\n"
                      "asynchronously, and checks that it finds the known true weights.\n"
                      "\n"
                      "  --mode M         sync, async or both (default both)\n"
                      "  --workers W      worker coroutines, each with its own shard (default 4)\n"
                      "  --samples N      rows of synthetic data, split among the workers (default 4096)\n"
                      "  --features D     weights to learn, the bias included (default 16)\n"
                      "  --batch B        rows per mini-batch (default 32)\n"
                      "  --epochs E       passes over the data (default 10)\n"
                      "  --rate R         learning rate (default 0.05)\n"
                      "  --noise S        labels get uniform noise in [-S, S] (default 0.01)\n"
                      "  --seed S         seed of the data set (default 1)\n"
                      "  --tolerance T    the largest final |w - w*| that counts as converged (default 0.01)\n"
                      "  --threads T      worker threads (default 0: one per core)\n");
    config cfg;
    cfg.mode = args.text("--mode", "both");
    cfg.workers = int(args.number("--workers", 4, 1, 4096));
    const auto samples = std::size_t(args.number("--samples", 4096, 1, 100'000'000));
    const auto features = std::size_t(args.number("--features", 16, 1, 10'000));
    cfg.batch = std::size_t(args.number("--batch", 32, 1, 1'000'000));
    cfg.epochs = int(args.number("--epochs", 10, 1, 1'000'000));
    cfg.rate = args.real("--rate", 0.05, 1e-9, 10);
    const double noise = args.real("--noise", 0.01, 0, 1000);
    const auto seed = std::uint64_t(args.number("--seed", 1, 0, 1'000'000'000));
    cfg.tolerance = args.real("--tolerance", 0.01, 0, 1e9);
    cfg.threads = unsigned(args.number("--threads", 0, 0, 1024));
    args.done();
    if (cfg.mode != "sync" && cfg.mode != "async" && cfg.mode != "both")
        args.fail("--mode wants sync, async or both, not '" + cfg.mode + "'");
    if (samples < std::size_t(cfg.workers))
        args.fail(fmt::format("--samples ({}) must be at least --workers ({}): every worker needs a shard", samples,
                              cfg.workers));

    const dataset d = make_dataset(samples, features, noise, seed);
    fmt::print("{} workers, {} rows of {} features ({} per worker), batches of {}, rate {}, {} epochs\n", cfg.workers,
               samples, features, samples / std::size_t(cfg.workers), cfg.batch, cfg.rate, cfg.epochs);
    bool ok = true;
    for (bool sync : {true, false}) {
        if (cfg.mode != "both" && (cfg.mode == "sync") != sync) continue;
        const double err = train(d, cfg, sync);
        const bool converged = err <= cfg.tolerance;
        fmt::print("{:>5}: final |w - w*| = {:.6f}, tolerance {}: {}\n", sync ? "sync" : "async", err, cfg.tolerance,
                   converged ? "converged" : "DID NOT CONVERGE");
        ok = ok && converged;
    }
    return ok ? 0 : 1;
}
