// src/scheduler.hpp: the worker pool behind a runtime.
//
// Each worker has a `next` slot (the coroutine it just woke runs next: what
// makes a ping-pong cheap; a woken sender takes it only when it is free, so
// that a pipeline stage's downstream partner, woken with a value, keeps its
// turn), a local run queue, and parks on a semaphore when
// it finds nothing. Outside threads and timers push to the global queue.
// An idle worker steals half of a random victim's local queue: new work at
// once (a lone new coroutine at the second look), woken coroutines once the
// victim shows it is behind, which takes longer when the victim's
// coroutines are passing messages (run_queue::steal_into).
//
// Who wakes whom. Pushing to a local or the global queue wakes one parked
// worker when there are parked workers and none spinning. A worker about to
// park first registers as idle, then looks at every queue once more; a push
// to the global queue stores the queue size before it reads the idle count,
// both sides seq_cst, so one of them sees the other: no work is left with
// every worker asleep. A push to a local queue is made by the queue's own
// worker, which is awake and runs the work itself if nobody steals it, so
// it needs no such fence (as in Go's runqput): a worker that parks just as
// it is pushed costs parallelism until the next wake, never progress.
// Pushes to `next` wake nobody: the pushing worker runs it itself.
// At most half the awake workers spin (as in Go); the rest park at once.
#pragma once

#include "coroutine.hpp"
#include "stack_pool.hpp"

#include <rill/runtime.hpp>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <semaphore>
#include <string>
#include <thread>
#include <vector>

namespace rill::detail {

class timer_service;
class scheduler;

/// FIFO of coroutines, and of spawns not started yet, with a lock; the owner
/// pushes and pops, thieves take half, and a coroutine moving to the owner
/// of a biased channel lock is pushed from its old worker
/// (worker::push_from_elsewhere). Intrusive (linked through
/// run_node::run_next: a runnable thing is in one queue at a time), so no
/// push, pop or steal ever allocates: waking a coroutine cannot fail, even
/// out of memory.
class run_queue {
public:
    /// publish: make the push visible before the caller reads the idle
    /// count (seq_cst): a push to the global queue, which no running worker owns.
    void push(run_node* c, bool publish = false) noexcept;
    run_node* pop() noexcept;
    /// Removes and returns the i-th oldest (deterministic mode); null if i >= size.
    run_node* take_at(std::size_t i) noexcept;
    /// Moves about half of this queue, at most max_steal, into `into` (which
    /// must be empty); returns one to run; null when nothing is due to move.
    /// New work (a head that has not started) is taken at once, except a
    /// lone new coroutine, taken at the second look (a 3 µs wait there cost
    /// a spawner's thief 7-12%); so is a queue of more than long_queue.
    /// Woken coroutines in a shorter queue wait until the queue shows that
    /// its owner is behind (woken_work_due, rules below).
    run_node* steal_into(run_queue& into) noexcept;
    /// Where the owner thread's count of channel locks is (chan_locks_taken:
    /// set by the owner as its loop starts, cleared as it ends; read by
    /// thieves under the lock).
    void set_owner_chan_locks(const std::uint64_t* c) noexcept;

    // When woken work is due to move. Moving a coroutine moves its stack
    // and its channels' cache lines to the thief's core: worth it when the
    // owner is busy computing (wordcount's mappers), a loss when the
    // owner's coroutines pass messages to each other, each message a few
    // nanoseconds on one core and tens across two (mpmc's producers and
    // consumers on one channel, select4's consumer and producers).
    //
    // A thief's first look at a queue whose head has run records a
    // sighting: the time, how many entries the queue had taken in so far,
    // and the owner thread's channel lock count. Once the owner has taken
    // out everything queued at the sighting, it kept up, and the next look
    // starts a new sighting. Otherwise the work is due:
    //  - computing_grace_ns after the sighting when the owner took fewer than
    //    one channel lock per message_ns meanwhile (it computes);
    //  - backlog_ns after it when it took more (it passes messages: its
    //    coroutines get their turns, and a queue it does not get through
    //    in a millisecond has more than it can cycle through), or when the
    //    head was moved here to its channel lock's owner (run_node::moved_here;
    //    the owner may be parked and still waking up).
    // A queue longer than long_queue is taken at once, as Go takes a
    // running P's queue: it is more than one worker passes between (sieve's
    // filters, hundreds woken at a time), and such coroutines mostly talk to
    // their neighbours, not to every other one.
    // Thieves look again at most every look_interval_ns (look_after_), not
    // at every round of their spin: each look takes this queue's lock from
    // the owner, whose pushes and pops then wait.
    //
    // History: Go steals a running P's whole queue at once and its `runnext`
    // after 3 µs. rill did the same until 2026-11-27 (3 µs, then 50 µs, for
    // queues of at most 4), and mpmc's eight coroutines ran on both workers
    // and paid for every message with the channel lock's cache line
    // crossing cores: 26-30 ns at threads=2 against 3.3 at threads=1. With
    // this rule they gathered on one worker (3.7-4 ns) in about half the
    // runs and stayed split in the others (15-22 ns); since coroutines move
    // to the worker their channel's lock is biased toward
    // (biased_lock::lock_or_move) they gather in every run.
    static constexpr std::size_t max_steal = 64;
    static constexpr std::size_t long_queue = 16;
    static constexpr std::int64_t computing_grace_ns = 50000;
    static constexpr std::int64_t message_ns = 1000;
    static constexpr std::int64_t backlog_ns = 1000000;
    static constexpr std::int64_t look_interval_ns = 20000;
    std::size_t size() const noexcept { return size_.load(std::memory_order_seq_cst); }
    /// When the woken head a thief sighted at its last look falls due if
    /// its owner does not keep up (steady clock, ns; 0: no sighting stands,
    /// so a look may find work now). An idle worker that finds only such
    /// work parks until then (worker::park). May be stale: the look it
    /// leads to starts a new sighting.
    std::int64_t due_at() const noexcept { return due_at_.load(std::memory_order_relaxed); }
    /// A thief reports how a new coroutine it took from this queue ended
    /// its first run: finished, or parked (blocked) before finishing.
    void report_first_run(bool finished) noexcept;
    /// Whether this queue's new work is taken patiently: the last
    /// patient_after new coroutines thieves took from it all parked at
    /// their first run (chain's links, each waiting for its left
    /// neighbour's value). Taking such work early buys no parallelism: each
    /// one parks holding a stack, cold by the time its value arrives
    /// (chain at threads=2 took 5.3-7.2 us a link this way, 2.1 without).
    /// A patient thief takes it as woken work, once due (woken_work_due),
    /// one at a time; one that finishes ends the patience.
    bool patient() const noexcept { return parked_streak_.load(std::memory_order_relaxed) >= patient_after; }
    static constexpr std::uint32_t patient_after = 16;

private:
    bool woken_work_due() noexcept;        // lock_ held, head_ woken (rules at long_queue)

    spinlock lock_;                        // guards everything below but size_
    run_node* head_ = nullptr;
    run_node* tail_ = nullptr;
    std::size_t count_ = 0;
    std::atomic<std::size_t> size_{0};     // count_, readable without the lock (stored under it)
    // After size_, not before: moving size_ from offset 32 to 40 cost
    // pingpong 4 ns at threads=1 (a layout effect; nothing here runs then).
    const run_node* lone_seen_ = nullptr; // a lone new head a thief has looked at and left (compared, never followed)
    std::uint64_t taken_ = 0;              // entries ever taken out (popped or stolen)
    std::int64_t sighted_at_ = 0;          // a thief's first look at a woken head (steady clock, ns; 0: none)
    std::uint64_t sighted_added_ = 0;      // entries ever pushed then (taken_ + count_)
    std::uint64_t sighted_chan_locks_ = 0; // *owner_chan_locks_ then
    const std::uint64_t* owner_chan_locks_ = nullptr;   // the owner thread's chan_locks_taken (__atomic loads)
    std::atomic<std::int64_t> look_after_{0};   // thieves skip this queue until then (steady clock, ns; 0: look)
    std::atomic<std::int64_t> due_at_{0};       // see due_at()
    std::atomic<std::uint32_t> parked_streak_{0};   // see patient(); written by thieves
};

class worker {
public:
    static constexpr std::uint32_t global_check_interval = 61;   // as Go: look at the global queue now and then

    worker(scheduler& s, unsigned index);
    void loop();
    /// The coroutine just woken by this worker's coroutine: it runs next.
    void push_next(coroutine* c);
    /// The same for a coroutine woken because its send completed: into
    /// `next` when it is free, else behind the local queue (it does not
    /// push out a coroutine woken with a value to work on).
    void push_next_unless_taken(coroutine* c);
    void push_local(run_node* c);
    /// Queues c, switched out on another worker's thread, in this worker's
    /// local queue and wakes this worker if it is parked: a coroutine moved
    /// to the owner of a biased channel lock (move_to_thread_of). The only
    /// push to a local queue not made by its own worker, so it publishes
    /// like a push to the global queue.
    void push_from_elsewhere(coroutine* c) noexcept;
    /// Work for this worker to do after the current coroutine switched out
    /// (release channel locks, requeue a yielder).
    void after_switch(void (*fn)(void*), void* arg) noexcept { post_fn_ = fn; post_arg_ = arg; }
    /// The usual post-switch work, without an indirect call: a parked
    /// coroutine's channel locks.
    /// One channel's lock (a send's, a receive's or a one-channel select's
    /// park) is kept by itself: finish_switch then unlocks it with no walk
    /// through `locks`.
    void release_after_switch(const held_locks* locks) noexcept {
        if (locks->n == 1) held_one_ = locks->chans[0];
        else if (locks->n > 1) held_ = locks;
    }
    /// Runs prev's post-switch work; from then on prev may be resumed.
    void finish_switch(coroutine* prev) noexcept;

    // Direct hand-off between coroutines (coroutine.cpp), all on this thread:
    // the coroutine switching out takes its successor from `next` and leaves
    // a handoff here, which the successor picks up as it lands.
    coroutine* take_successor() noexcept;
    /// The worker's random stream (seeded in deterministic mode).
    std::uint64_t next_random() noexcept;
    handoff& handoff_slot() noexcept { return handoff_; }
    /// Where this worker's own context is saved while a coroutine runs on it.
    machine_context& context() noexcept { return context_; }
    /// This worker thread's exception-handling globals (__cxa_get_globals(),
    /// looked up once: it is a call into libstdc++ and its TLS otherwise).
    void* eh_globals() const noexcept { return eh_globals_; }
    /// Stacks through a small per-worker cache in front of the runtime's
    /// pool (whose lock the workers would otherwise share at every start
    /// and end of a coroutine). Worker thread only.
    pooled_stack_info take_stack();
    void give_stack(const pooled_stack_info& s) noexcept;

    scheduler& sched;
    const unsigned index;
    alignas(64) run_queue local;           // touched by thieves: its own cache lines
    std::counting_semaphore<> wakeup{0};   // released by whoever takes this worker off the idle list
    bool watching = false;                 // under the scheduler's idle_lock_: parked until a deadline (park)
    std::atomic<const void*> thread_tag{nullptr};   // this_thread_tag() of its thread while loop() runs (null without lock bias)

private:
    run_node* find_work();
    run_node* pop_own() noexcept;          // next_ or the local queue's head (see find_work)
    run_node* pick_at_random();            // deterministic mode's find_work
    run_node* spin_for_work();
    bool park();                           // false: the runtime is shutting down
    bool watch_until(std::int64_t deadline);   // park's timed wait; same result
    void run(run_node* n);

    // Watching (park): an idle worker that finds only woken work not yet
    // due parks until it falls due, and at least watch_ns_; each watch that
    // ends with nothing due doubles watch_ns_, up to max_watch_ns, and any
    // work found resets it. After a watch that timed out the worker looks
    // once and parks again without spinning.
    static constexpr std::int64_t min_watch_ns = run_queue::computing_grace_ns;
    static constexpr std::int64_t max_watch_ns = run_queue::backlog_ns;
    std::int64_t watch_ns_ = min_watch_ns;
    bool watched_ = false;                 // the last park was a watch that timed out
    // The queue this worker last took new work from, and how many of the
    // new coroutines taken then have not had their first run here yet
    // (each reports to that queue: run_queue::report_first_run).
    run_queue* report_to_ = nullptr;
    std::size_t report_left_ = 0;

    alignas(64) run_node* next_ = nullptr;    // owner only, from here on
    // The queue's head, popped for its turn by take_successor, which could
    // not switch to it (not started, or still switching out elsewhere);
    // pop_own returns it first. Owner only, like next_, and empty whenever
    // find_work comes back empty-handed (so at park and at the loop's end).
    run_node* turn_ = nullptr;
    unsigned next_streak_ = 0;             // coroutines run from next_ in a row
    std::uint32_t global_countdown_ = global_check_interval;   // find_work looks at the global queue at 0
    std::uint64_t rng_;
    chan_core* held_one_ = nullptr;        // unlocked by finish_switch (a park on one channel)
    const held_locks* held_ = nullptr;     // released by finish_switch (a park on none, or several)
    void (*post_fn_)(void*) = nullptr;
    void* post_arg_ = nullptr;
    handoff handoff_;                      // a hand-off in flight (owner thread only)
    machine_context context_;              // the worker loop, while a coroutine runs here
    void* eh_globals_ = nullptr;           // set by loop(), on the worker's thread
    std::vector<pooled_stack_info> stack_cache_;   // at most stack_cache_limit; back to the pool when loop() ends

public:
    // This worker's share of the scheduler's live count and ids
    // (scheduler::live, scheduler::draw_id): written by this worker's thread
    // only, with plain stores, so a spawn or a retire here takes no locked
    // instruction and no cache line from another core. Others read the
    // counts only to sum them (at a park, a deadlock check, the end of a run).
    void count_spawn() noexcept { bump(spawned_here_); }
    void count_retire() noexcept { bump(retired_here_); }
    std::size_t spawned_here() const noexcept { return spawned_here_.load(std::memory_order_seq_cst); }
    std::size_t retired_here() const noexcept { return retired_here_.load(std::memory_order_seq_cst); }
    /// The next id of the block this worker drew from `next_id` (id_block at a time).
    std::uint64_t draw_id(std::atomic<std::uint64_t>& next_id) noexcept {
        if (id_next_ == id_end_) [[unlikely]] {
            id_next_ = next_id.fetch_add(id_block, std::memory_order_relaxed);
            id_end_ = id_next_ + id_block;
        }
        return id_next_++;
    }
    static constexpr std::uint64_t id_block = 256;

private:
    static void bump(std::atomic<std::size_t>& n) noexcept { n.store(n.load(std::memory_order_relaxed) + 1, std::memory_order_release); }
    alignas(64) std::atomic<std::size_t> spawned_here_{0};
    std::atomic<std::size_t> retired_here_{0};
    std::uint64_t id_next_ = 0, id_end_ = 0;   // the ids drawn and not yet given out
};

/// The worker running on this thread, or null (same rules as current_coroutine).
worker* current_worker() noexcept;

/// A random number for select's shuffle: from the worker's seeded stream in
/// deterministic mode, else from a per-thread generator.
std::uint64_t random_u64() noexcept;

class scheduler {
public:
    explicit scheduler(const options& opts);
    ~scheduler();   // shuts down (unwinding what is left) and joins the workers

    /// root: run_root's coroutine, unwound after all others at the end.
    /// An unnamed coroutine other than the root is queued as its task alone;
    /// its record is made when it first runs (start_task).
    void spawn(std::unique_ptr<task> body, std::string name, bool root = false);
    /// The same for an unnamed coroutine (`go(fn)`), without a name to pass along.
    void spawn_unnamed(std::unique_ptr<task> body);
    /// A queued task's first run, on the worker that runs it: its coroutine
    /// record, or null when it will not run (the run is stopping, or no
    /// record could be had: the run then ends with rill::resource_error).
    /// Either way the task is owned by whoever gets it.
    coroutine* start_task(task* t, worker& w) noexcept;
    /// Makes a woken coroutine runnable.
    void ready(coroutine* c);
    [[gnu::noinline]] void ready_from_outside(coroutine* c, const coroutine* me);   // ready()'s rare branch
    /// Runs body as root; returns after it returned and the rest was unwound.
    void run_root(std::unique_ptr<task> body);
    /// Waits until no coroutine is left; rethrows an error or deadlock.
    void wait_all();

    bool stopping() const noexcept { return stopping_.load(std::memory_order_seq_cst); }
    /// Whether c's blocking calls throw coroutine_unwind now: every coroutine
    /// once the run is stopping, except the root, which is unwound last
    /// (the others' destructors may still use the root's locals).
    bool unwinding(const coroutine* c) const noexcept {
        return stopping() && (c != root_.load(std::memory_order_acquire) || unwinding_root_.load(std::memory_order_acquire));
    }
    /// An exception escaped a coroutine: keep the first, end the run.
    void fail(std::exception_ptr e);
    /// Called by a coroutine as it finishes (before its stack is released).
    void on_root_finished();
    /// Called by the worker once a coroutine finished.
    void retire(coroutine* c, worker& w);
    /// The same for a task that never became a coroutine.
    void retire_unstarted(std::unique_ptr<task> t, worker& w) noexcept;
    /// Adds a coroutine to the registry before its first wait (begin_wait).
    [[gnu::noinline, gnu::cold]] void register_waiter(coroutine* c) noexcept;   // once per coroutine: kept out of begin_wait
    /// Everyone idle, no timer, no plain thread blocked: report a deadlock.
    void check_deadlock();
    /// At a park: wakes whoever waits for the end of the run once no
    /// coroutine is left, or only the root while the run is stopping (see
    /// spawned_outside_ below).
    void notify_if_ended() noexcept;

    timer_service& timers();
    std::atomic<long> pending_timers{0};   // timers that can still wake a coroutine
    stack_pool stacks;
    const std::uint64_t seed;              // non-zero: deterministic mode (one worker)
    const unsigned nworkers;

    // --- for workers ---
    run_node* pop_global();
    void push_global(run_node* c);
    /// Whether a worker is parked and none is spinning (a push should wake one).
    bool someone_idle() const noexcept {
        return idle_count_.load(std::memory_order_seq_cst) != 0 && spinning.load(std::memory_order_seq_cst) == 0;
    }
    void wake_one_if_idle() {
        if (someone_idle()) wake_one(false);
    }
    /// Takes one parked worker off the idle list and wakes it. For work no
    /// thief may take before the wait of its sighting (deferrable: a woken
    /// coroutine pushed to a queue of at most run_queue::long_queue, or new
    /// work pushed to a patient queue) a watching worker is left alone, as
    /// it looks at its deadline; then only a worker parked for good is
    /// woken, if there is one. Without this, every wake on a busy worker
    /// would be a futex call to its parked neighbour.
    void wake_one(bool deferrable);
    bool any_work() const noexcept;
    /// When an idle worker should look at the queues again: 0 now (the
    /// global queue, new work, a queue no thief has sighted), no_look when
    /// all are empty, else the earliest run_queue::due_at().
    /// `self`'s own queue counts as work now (a coroutine moved to it as it parked).
    std::int64_t next_look_at(const worker* self) const noexcept;
    static constexpr std::int64_t no_look = INT64_MAX;
    /// An idle worker turns to watching; false when it was already woken.
    bool watch(worker* w);
    /// Whether one more worker may spin: fewer than half the awake ones do.
    bool may_spin() const noexcept;
    bool register_idle(worker* w);         // returns false when shutting down
    bool unregister_idle(worker* w);       // false: someone already woke it
    worker& worker_at(unsigned i) { return *workers_[i]; }
    bool done() const noexcept { return done_.load(std::memory_order_acquire); }
    alignas(64) std::atomic<unsigned> spinning{0};   // written by spinning workers, read by every push

private:
    void shutdown() noexcept;              // stop, unwind every coroutine, join
    void cancel_all(bool include_root) noexcept;
    void unwind_until(std::size_t left, bool include_root) noexcept;
    std::string deadlock_report();         // under reg_lock_
    void notify_end() noexcept;            // wakes the waiters for the end of the run
    void counted_out(worker& w, bool was_root) noexcept;   // a retire's last step: the counts, then who is told
    void check_may_spawn() const;          // throws std::logic_error once the run has stopped (outside a coroutine)
    void queue_spawned(run_node* n);       // counts a spawn and queues it
    std::uint64_t draw_id() noexcept;      // a new coroutine's id
    void detect_deadlocks(bool on);

    const bool detect_deadlock_;
    std::vector<std::unique_ptr<worker>> workers_;
    std::vector<std::thread> threads_;

    // Cache lines: fields written often by one party sit apart from fields
    // that every worker reads (false sharing cost spawn a line transfer per
    // coroutine when the live count shared a line with stopping_).
    alignas(64) run_queue global_;         // pushed to from outside the workers and by timers

    alignas(64) std::mutex idle_lock_;     // guards idle_
    std::vector<worker*> idle_;
    std::atomic<unsigned> idle_count_{0};
    std::atomic<unsigned> watching_count_{0};   // idle workers watching (worker::watching); changed under idle_lock_

    alignas(64) spinlock reg_lock_;        // guards the registry (coroutines that have waited) and root_ changes
    coroutine* reg_head_ = nullptr;
    std::size_t reg_count_ = 0;            // coroutines in the registry (under reg_lock_)
    // The count of live coroutines: spawns and retires, counted by the
    // worker that makes them (worker::count_spawn, count_retire), and spawns
    // from outside the workers (a plain thread, another runtime) here. A
    // spawn-heavy program spawns on one worker and retires on another, and
    // one shared count crossed the cores twice per coroutine (perf: 42% of
    // spawn's samples at threads=2); two shared counts, one per side, still
    // cost a locked instruction on each side and a line shared between the
    // workers once both ran coroutines. live() reads every retire count
    // before any spawn count, so it never reads low (a coroutine is counted
    // spawned before it is queued). Nobody is told at a retire that the
    // count reached zero: a worker that parks sums the counts and tells
    // whoever waits for the end (notify_if_ended). The last worker to park
    // sees every retire (each registers idle with a seq_cst RMW on one
    // atomic, after its retires), and every retire is followed by a park
    // once nothing is left to run. The root's retire tells them at once,
    // and so does every retire while the run is stopping (shutdown waits
    // for the count to fall to the root alone).
    alignas(64) std::atomic<std::size_t> spawned_outside_{0};
    std::size_t live() const noexcept;
    alignas(64) std::atomic<std::uint64_t> next_id_{1};   // drawn by workers in blocks (worker::draw_id), by others one at a time

    alignas(64) std::atomic<bool> stopping_{false};   // unwinding: parks throw coroutine_unwind (read-mostly from here on)
    std::atomic<coroutine*> root_{nullptr};     // run_root's coroutine while it lives
    std::atomic<bool> unwinding_root_{false};   // the others are gone: the root's turn
    std::atomic<bool> done_{false};        // workers exit
    std::atomic<bool> detecting_{false};   // someone waits for the end: deadlocks are reported

    alignas(64) std::mutex ctl_lock_;      // guards the run's outcome below
    std::condition_variable ctl_cv_;
    bool root_finished_ = false;
    std::exception_ptr error_;
    bool shut_down_ = false;

    std::once_flag timers_once_;
    std::unique_ptr<timer_service> timers_;
};

/// Plain threads blocked in a rill operation, all runtimes together: while
/// one is, a quiet runtime is not declared deadlocked (it may wake them).
inline std::atomic<long> plain_threads_blocked{0};

}  // namespace rill::detail
