// samples/actor/actor.cpp: bank accounts and a ledger as cooperating actors.
//
// Model: the Actor model. Each account is an actor (rill/actor.hpp): a
// coroutine that alone owns its balance and handles one message at a time
// from its mailbox. Every change to a balance is told to the ledger actor,
// which keeps the books. Clients move money with two messages: ask() the
// paying account to withdraw (its handler throws insufficient_funds, which
// ask() rethrows to the client, and the account goes on), then tell() the
// payee to deposit. Nothing is shared and nothing is locked.
//
//     client ×C ──ask: withdraw / tell: deposit──▶ account ×N ──tell: entry──▶ ledger
//
// Messages flow one way (clients → accounts → ledger), never in a cycle:
// mailboxes are bounded, and actors that tell each other in a cycle can all
// wait on full mailboxes at once (rill would report that deadlock by name).
//
// tell() is fire-and-forget, so "has everything landed?" is itself a
// question: once the clients are done, ask() every account for its balance
// (each answer means it has handled all it was told before), then ask the
// ledger. The balances must sum to what the accounts opened with, and each
// must equal its opening balance plus its net in the ledger.
//
// Run it:
//     build/samples/actor/actor --accounts 5 --clients 8 --transfers 10000
#include <rill/actor.hpp>
#include <rill/rill.hpp>

#include <fmt/core.h>

#include "cli.hpp"

#include <atomic>
#include <cstdint>
#include <random>
#include <stdexcept>
#include <variant>
#include <vector>

namespace {

// What the ledger understands: one entry per change of a balance.
struct entry { int account; long change; };
struct refused { int account; };
struct report {};
struct books {
    std::vector<long> net;   // per account: deposits minus withdrawals
    long entries = 0;
    long refusals = 0;
};
using ledger_msg = std::variant<entry, refused, report>;
using ledger = rill::actor<ledger_msg, books>;

// What an account understands; every answer is the balance after the message.
struct deposit { long amount; };
struct withdraw { long amount; };
struct balance {};
using account_msg = std::variant<deposit, withdraw, balance>;
using account = rill::actor<account_msg, long>;

struct insufficient_funds : std::runtime_error {
    using std::runtime_error::runtime_error;
};

ledger make_ledger(int accounts) {
    return ledger("ledger", [b = books{std::vector<long>(accounts), 0, 0}](ledger_msg m) mutable {
        if (auto* e = std::get_if<entry>(&m)) {
            b.net[e->account] += e->change;
            ++b.entries;
        } else if (std::holds_alternative<refused>(m)) {
            ++b.refusals;
        }
        return b;   // read by ask(report{}); a tell drops it
    });
}

account make_account(int id, long opening, ledger book) {
    return account(fmt::format("account {}", id), [=, money = opening](account_msg m) mutable {
        if (auto* d = std::get_if<deposit>(&m)) {
            money += d->amount;
            book.tell(entry{id, d->amount});
        } else if (auto* w = std::get_if<withdraw>(&m)) {
            if (w->amount > money) {
                book.tell(refused{id});
                throw insufficient_funds(fmt::format("account {}: {} wanted, {} there", id, w->amount, money));
            }
            money -= w->amount;
            book.tell(entry{id, -w->amount});
        }
        return money;
    });
}

}  // namespace

int main(int argc, char** argv) {
    samples::cli args(argc, argv,
                      "usage: actor [--accounts N] [--clients C] [--transfers T] [--opening AMOUNT] [--seed S] [--threads W]\n"
                      "\n"
                      "Bank accounts and a ledger as actors: C clients each make T transfers between random\n"
                      "accounts (ask the payer to withdraw, tell the payee to deposit); the accounts tell the\n"
                      "ledger every change. At the end it asks every account for its balance and checks the\n"
                      "balances against the ledger. Exits 1 when they disagree.\n"
                      "\n"
                      "  --accounts N     account actors (default 4)\n"
                      "  --clients C      client coroutines (default 4)\n"
                      "  --transfers T    transfers each client makes (default 1000)\n"
                      "  --opening AMOUNT every account's opening balance (default 100)\n"
                      "  --seed S         seed of the clients' random choices (default 1)\n"
                      "  --threads W      worker threads (default 0: one per core)\n");
    const int n = int(args.number("--accounts", 4, 2, 10'000));
    const int clients = int(args.number("--clients", 4, 1, 10'000));
    const long transfers = args.number("--transfers", 1000, 0, 100'000'000);
    const long opening = args.number("--opening", 100, 0, 1'000'000'000);
    const auto seed = std::uint64_t(args.number("--seed", 1, 0, 1'000'000'000));
    const unsigned threads = unsigned(args.number("--threads", 0, 0, 1024));
    args.done();

    bool agree = rill::run([&] {
        ledger book = make_ledger(n);
        std::vector<account> accounts;
        for (int i = 0; i < n; ++i) accounts.push_back(make_account(i, opening, book));

        std::atomic<long> made{0}, refusals{0};
        rill::wait_group clients_done;
        for (int c = 0; c < clients; ++c) {
            clients_done.add(1);
            rill::go(fmt::format("client {}", c), [&, c] {
                std::mt19937_64 rng(seed * 1000003 + std::uint64_t(c));
                std::uniform_int_distribution<int> who(0, n - 1);
                std::uniform_int_distribution<long> amount(1, 50);
                for (long i = 0; i < transfers; ++i) {
                    int from = who(rng), to = (from + 1 + who(rng) % (n - 1)) % n;
                    long sum = amount(rng);
                    try {
                        accounts[from].ask(withdraw{sum});
                    } catch (const insufficient_funds&) {
                        ++refusals;
                        continue;
                    }
                    accounts[to].tell(deposit{sum});
                    ++made;
                }
                clients_done.done();
            });
        }
        clients_done.wait();

        std::vector<long> balances;
        for (auto& a : accounts) balances.push_back(a.ask(balance{}));   // all it was told is handled
        books b = book.ask(report{});                                   // and so all it told the ledger
        for (auto& a : accounts) a.stop();
        book.stop();

        fmt::print("{} accounts opened with {} each; {} clients made {} transfers each\n", n, opening, clients, transfers);
        fmt::print("{:>8}  {:>10}  {:>16}\n", "account", "balance", "opening + ledger");
        long total = 0;
        bool ok = true;
        for (int i = 0; i < n; ++i) {
            long expected = opening + b.net[i];
            fmt::print("{:>8}  {:>10}  {:>16}{}\n", i, balances[i], expected, balances[i] == expected ? "" : "  MISMATCH");
            ok = ok && balances[i] == expected;
            total += balances[i];
        }
        fmt::print("transfers: {} made, {} refused for lack of funds; the ledger has {} entries, {} refusals\n",
                   made.load(), refusals.load(), b.entries, b.refusals);
        if (b.entries != 2 * made || b.refusals != refusals || made + refusals != clients * transfers) {
            fmt::print("MISMATCH: the ledger does not match the transfers\n");
            ok = false;
        }
        if (total != n * opening) {
            fmt::print("MISMATCH: the balances sum to {}, not {}\n", total, n * opening);
            ok = false;
        }
        if (ok) fmt::print("ok: the balances sum to {} and each agrees with the ledger\n", total);
        return ok;
    }, rill::options{.threads = threads});
    return agree ? 0 : 1;
}
