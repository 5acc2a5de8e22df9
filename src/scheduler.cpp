// src/scheduler.cpp: workers, run queues, stealing, parking, the end of a run.
#include "scheduler.hpp"

#include "live_counts.hpp"
#include "overflow_guard.hpp"
#include "resource_errors.hpp"
#include "timer.hpp"

#include <rill/detail/biased_lock.hpp>
#include <rill/errors.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <string_view>
#include <cxxabi.h>
#include <cstdlib>
#include <typeinfo>

namespace rill::detail {

namespace {

[[gnu::tls_model("initial-exec")]] thread_local worker* tls_worker = nullptr;

constexpr unsigned next_streak_limit = 32;      // then the local queue gets a turn
constexpr int spin_rounds = 64;

void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    asm volatile("yield");
#endif
}

std::uint64_t xorshift(std::uint64_t& s) noexcept {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return s;
}


}  // namespace

__attribute__((noinline)) worker* current_worker() noexcept {
    asm volatile("" ::: "memory");
    return tls_worker;
}

// ---------------------------------------------------------------- run_queue

// size_ is written only under the lock, so a plain store keeps it equal to
// count_ (no locked read-modify-write). Only a push that others must not
// miss (to the global queue: see the wake protocol) stores it seq_cst.
void run_queue::push(run_node* c, bool publish) noexcept {
    c->run_next = nullptr;
    std::scoped_lock l(lock_);
    if (tail_) tail_->run_next = c;
    else head_ = c;
    tail_ = c;
    ++count_;
    size_.store(count_, publish ? std::memory_order_seq_cst : std::memory_order_release);
}

run_node* run_queue::pop() noexcept {
    if (size_.load(std::memory_order_relaxed) == 0) return nullptr;
    std::scoped_lock l(lock_);
    run_node* c = head_;
    if (!c) return nullptr;
    head_ = c->run_next;
    if (!head_) tail_ = nullptr;
    --count_;
    ++taken_;
    size_.store(count_, std::memory_order_relaxed);
    return c;
}

run_node* run_queue::take_at(std::size_t i) noexcept {
    std::scoped_lock l(lock_);
    if (i >= count_) return nullptr;
    run_node* prev = nullptr;
    run_node* c = head_;
    for (; i > 0; --i) prev = std::exchange(c, c->run_next);
    (prev ? prev->run_next : head_) = c->run_next;
    if (tail_ == c) tail_ = prev;
    --count_;
    ++taken_;
    size_.store(count_, std::memory_order_relaxed);
    return c;
}

namespace {
/// Whether a queued thing has run before (a woken coroutine), rather than
/// being new work (a task, or a named coroutine not started yet).
bool has_run(const run_node* n) noexcept { return n->is_coroutine && static_cast<const coroutine*>(n)->started(); }

std::int64_t monotonic_ns() noexcept {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count() | 1;   // never 0
}
}  // namespace

void run_queue::set_owner_chan_locks(const std::uint64_t* c) noexcept {
    std::scoped_lock l(lock_);
    owner_chan_locks_ = c;
}

// lock_ held, head_ woken. The rules are at run_queue::long_queue
// (scheduler.hpp). The clock is read under the lock (the owner's pushes
// wait on it, about 25 ns), but only here: a spawner's queue, whose head
// has not started, costs the thief no clock read. The sighting is shared
// by all thieves of this queue; a thief that parks between looks finds it
// where it left it. The owner's lock count is read relaxed: a rate
// estimate, not a synchronization.
bool run_queue::woken_work_due() noexcept {
    const std::int64_t now = monotonic_ns();
    const std::uint64_t chan_locks = owner_chan_locks_ ? __atomic_load_n(owner_chan_locks_, __ATOMIC_RELAXED) : 0;
    if (sighted_at_ == 0 || taken_ >= sighted_added_) {   // no sighting, or the owner kept up since
        sighted_at_ = now;
        sighted_added_ = taken_ + count_;   // entries ever pushed
        sighted_chan_locks_ = chan_locks;
        look_after_.store(now + std::min(look_interval_ns, computing_grace_ns), std::memory_order_relaxed);
        due_at_.store(now + computing_grace_ns, std::memory_order_relaxed);   // the earliest it can be due
        return false;
    }
    const std::int64_t waited = now - sighted_at_;
    // A coroutine moved here to its channel lock's owner is left as long
    // as one whose worker passes messages: else the worker it left, idle
    // now, takes it back while the owner is still waking up.
    const bool passing_messages = head_->moved_here || std::int64_t(chan_locks - sighted_chan_locks_) * message_ns > waited;
    const std::int64_t due_at = sighted_at_ + (passing_messages ? backlog_ns : computing_grace_ns);
    if (now >= due_at) return true;
    look_after_.store(std::min(now + look_interval_ns, due_at), std::memory_order_relaxed);
    due_at_.store(due_at, std::memory_order_relaxed);
    return false;
}

void run_queue::report_first_run(bool finished) noexcept {
    const std::uint32_t n = parked_streak_.load(std::memory_order_relaxed);
    if (finished) {
        if (n != 0) parked_streak_.store(0, std::memory_order_relaxed);
    } else if (n < patient_after) {
        parked_streak_.store(n + 1, std::memory_order_relaxed);   // racing thieves may lose a count: a hint
    }
}

// Out of line: the thieves' path, kept out of find_work, which every
// worker runs between coroutines.
[[gnu::noinline]] run_node* run_queue::steal_into(run_queue& into) noexcept {
    if (size_.load(std::memory_order_relaxed) == 0) return nullptr;
    // Not yet due at the last look (woken_work_due): no lock, no cache line
    // taken from the owner until then. New work pushed meanwhile waits too,
    // at most look_interval_ns.
    if (const std::int64_t t = look_after_.load(std::memory_order_relaxed); t != 0 && monotonic_ns() < t) return nullptr;
    if (!lock_.try_lock()) return nullptr;
    if (count_ == 0) {
        lock_.unlock();
        return nullptr;
    }
    const bool woken = has_run(head_);
    const bool patiently = !woken && patient();
    if ((woken && count_ <= long_queue) || patiently) {
        if (!woken_work_due()) {
            lock_.unlock();
            return nullptr;
        }
        look_after_.store(0, std::memory_order_relaxed);
        due_at_.store(0, std::memory_order_relaxed);
        sighted_at_ = 0;   // the next steal needs a sighting of its own
    } else if (!woken && count_ == 1 && head_ != lone_seen_) {   // not started, alone: left for one more look
        lone_seen_ = head_;
        lock_.unlock();
        return nullptr;
    }
    // Half, at most max_steal (count_ >= 1 here), or one when patient: the
    // walk to the cut is under the lock, over records the owner wrote
    // (cache misses each), and the owner's pushes wait meanwhile.
    const std::size_t take = patiently ? 1 : std::min(count_ - count_ / 2, max_steal);
    run_node* first = head_;
    run_node* last = first;
    for (std::size_t i = 1; i < take; ++i) last = last->run_next;
    head_ = last->run_next;
    if (!head_) tail_ = nullptr;
    count_ -= take;
    taken_ += take;
    size_.store(count_, std::memory_order_relaxed);
    lock_.unlock();
    if (take > 1) {   // the rest of the stolen run goes into the thief's (empty) queue, in order
        run_node* rest = first->run_next;
        last->run_next = nullptr;
        std::scoped_lock l(into.lock_);
        if (into.tail_) into.tail_->run_next = rest;
        else into.head_ = rest;
        into.tail_ = last;
        into.count_ += take - 1;
        into.size_.store(into.count_, std::memory_order_release);   // the thief's own queue: it runs them itself
    }
    first->run_next = nullptr;
    return first;
}

// ---------------------------------------------------------------- worker

worker::worker(scheduler& s, unsigned i)
    : sched(s), index(i), rng_(s.seed ? s.seed * 0x9E3779B97F4A7C15ull | 1 : 0x9E3779B97F4A7C15ull * (i + 1)) {
    // Deterministic mode hands off to no successor: every pick is the
    // seed's (pick_at_random), and a successor take_successor cannot switch
    // to would wait in turn_, which the random pick never looks at. Its
    // countdown then stays at 1 and refuses every time (find_work, which
    // picks at random there, never counts).
    if (s.seed) global_countdown_ = 1;
}

std::uint64_t worker::next_random() noexcept { return xorshift(rng_); }

namespace {
// Constant-initialized (no guard to test at each use); seeded at first use
// from its own address, different on every thread. Never 0 once seeded.
constinit thread_local std::uint64_t tls_random [[gnu::tls_model("initial-exec")]] = 0;
}  // namespace

// Not inlined, so a caller that switches coroutines keeps no address of
// this thread's variables across the switch; nothing in here switches, so
// it reads them directly (one call per draw: select's pick among ready
// cases draws once per select).
__attribute__((noinline)) std::uint64_t random_u64() noexcept {
    if (worker* w = tls_worker; w && w->sched.seed) [[unlikely]]
        return w->next_random();
    std::uint64_t s = tls_random;
    if (s == 0) [[unlikely]]
        s = 0x2545F4914F6CDD1Dull ^ reinterpret_cast<std::uintptr_t>(&tls_random);
    s = xorshift(s);
    tls_random = s;
    return s;
}

void worker::push_next(coroutine* c) {
    if (next_) push_local(next_);   // the older one waits its turn in the queue
    next_ = c;
}

void worker::push_next_unless_taken(coroutine* c) {
    if (next_) push_local(c);
    else next_ = c;
}

void worker::push_local(run_node* c) {
    local.push(c);
    if (sched.someone_idle()) sched.wake_one(has_run(c) ? local.size() <= run_queue::long_queue : local.patient());
}

// Who wakes whom: the push stores the queue's size seq_cst before this
// reads the idle list, and a worker about to park registers as idle before
// it looks at the queues (park): one of the two sees the other.
void worker::push_from_elsewhere(coroutine* c) noexcept {
    local.push(c, /*publish=*/true);
    if (sched.unregister_idle(this)) wakeup.release();
}

// Called from biased_lock::move_or_revoke with no lock held. The move is
// a switch-out whose post-switch work (on this worker, once the coroutine's
// context is saved) queues it at the target: only then may it resume.
// On unwind: no move once the run is stopping; a coroutine already queued
// resumes, finds it cannot move again, revokes, and its operation throws
// coroutine_unwind where it would park, like any other.
bool move_to_thread_of(const void* owner) noexcept {
    worker* here = current_worker();
    coroutine* c = current_coroutine();
    if (!here || !c || !owner || here->sched.seed || here->sched.unwinding(c)) return false;
    worker* target = nullptr;
    for (unsigned i = 0; i < here->sched.nworkers; ++i)
        if (here->sched.worker_at(i).thread_tag.load(std::memory_order_relaxed) == owner) target = &here->sched.worker_at(i);
    if (!target || target == here) return false;
    struct move {
        coroutine* who;
        worker* to;
    } m{c, target};   // on c's stack, read by the post-switch work before c can resume
    c->moved_here = true;   // read by thieves once queued (under the queue's lock)
    here->after_switch(
        [](void* p) {
            const move m = *static_cast<move*>(p);
            m.to->push_from_elsewhere(m.who);
        },
        &m);
    c->switch_out();
    c->moved_here = false;   // popped, under the lock, before it ran again
    return true;
}

// Deterministic mode: everything runnable goes into the local queue, and
// one is taken at random (seeded). One worker, so no other thread races us.
run_node* worker::pick_at_random() {
    if (next_) local.push(std::exchange(next_, nullptr));
    while (run_node* c = sched.pop_global()) local.push(c);
    std::size_t n = local.size();
    return n ? local.take_at(std::size_t(next_random() % n)) : nullptr;
}

run_node* worker::find_work() {
    if (sched.seed) return pick_at_random();
    if (--global_countdown_ == 0) {
        global_countdown_ = global_check_interval;
        if (run_node* c = sched.pop_global()) return c;
    }
    if (run_node* c = pop_own()) return c;
    if (run_node* c = sched.pop_global()) return c;
    unsigned n = sched.nworkers;
    if (n > 1) {
        unsigned start = unsigned(xorshift(rng_) % n);
        for (unsigned k = 0; k < n; ++k) {
            worker& victim = sched.worker_at((start + k) % n);
            if (&victim == this) continue;
            if (run_node* c = victim.local.steal_into(local)) {
                if (!has_run(c)) report_to_ = &victim.local, report_left_ = 1 + local.size();   // the batch came with it
                return c;
            }
        }
    }
    return nullptr;
}

// Spinning is bounded twice over: in time (spin_rounds), and in number, as
// in Go's findrunnable: a worker spins only while fewer than half of the
// workers not parked are spinning already; the others park at once. With
// 16 workers and two coroutines' worth of work, 14 spinners would keep 14
// cores busy stealing nothing (and contending on the queues they scan).
run_node* worker::spin_for_work() {
    if (!sched.may_spin()) return nullptr;
    sched.spinning.fetch_add(1, std::memory_order_seq_cst);
    run_node* found = nullptr;
    for (int round = 0; round < spin_rounds && !found && !sched.done(); ++round) {
        for (int i = 0; i < 32; ++i) cpu_relax();
        if (round >= spin_rounds / 2) std::this_thread::yield();
        found = find_work();
    }
    sched.spinning.fetch_sub(1, std::memory_order_seq_cst);
    if (found) sched.wake_one_if_idle();   // there may be more: let another worker look
    return found;
}

// Returns false when the runtime is done. See the wake protocol in scheduler.hpp.
// Registered idle before it looks (next_look_at), so a push after the look
// finds it on the idle list. Queues holding only woken work not yet due
// (a busy worker whose coroutines pass messages) make it watch: park until
// that work falls due instead of spinning and looking again, which kept a
// second core busy for nothing (select4 at threads=2: 1.95 cores).
bool worker::park() {
    if (!sched.register_idle(this)) return false;
    sched.notify_if_ended();
    const std::int64_t look_at = sched.next_look_at(this);
    if (look_at == 0 || sched.done()) {
        if (!sched.unregister_idle(this)) wakeup.acquire();   // a waker took us off the list: eat its signal
        return !sched.done();
    }
    if (look_at != scheduler::no_look) return watch_until(std::max(look_at, monotonic_ns() + watch_ns_));
    sched.check_deadlock();
    wakeup.acquire();
    watch_ns_ = min_watch_ns;
    return !sched.done();
}

// Parked until `deadline` or a wake. A wake (new work, work moved here, a
// long queue, the end of the run) comes through the idle list as for any
// parked worker; wake_one leaves a watcher alone for deferrable work.
bool worker::watch_until(std::int64_t deadline) {
    if (sched.watch(this)) {
        const auto until = std::chrono::steady_clock::time_point(std::chrono::nanoseconds(deadline));
        if (wakeup.try_acquire_until(until)) {
            watch_ns_ = min_watch_ns;
            return !sched.done();
        }
        if (sched.unregister_idle(this)) {   // the deadline passed: look once, then watch longer
            watched_ = true;
            watch_ns_ = std::min(2 * watch_ns_, max_watch_ns);
            return !sched.done();
        }
    }
    wakeup.acquire();   // a waker took us off the list: eat its signal
    watch_ns_ = min_watch_ns;
    return !sched.done();
}

void worker::run(run_node* n) {
    run_queue* report = nullptr;   // new work taken from there: report how its first run ends
    if (report_left_ != 0 && !has_run(n)) report = report_to_, --report_left_;
    coroutine* c;
    if (n->is_coroutine) c = static_cast<coroutine*>(n);
    else if (!(c = sched.start_task(static_cast<task*>(n), *this))) return;
    while (!c->suspended.load(std::memory_order_acquire)) cpu_relax();   // its last switch-out is still finishing
    c->suspended.store(false, std::memory_order_relaxed);
    if (!c->started() && sched.unwinding(c)) {   // the run is ending: a body not begun never runs (and needs no stack)
        sched.retire(c, *this);
        return;
    }
    set_current_coroutine(c);
    c->set_worker(this);
    coroutine* last = c;
    try {
        last = c->resume(*this);
    } catch (...) {
        // Only a first resume throws: no stack could be had. The body never
        // ran; the run ends with the error (rill::resource_error).
        set_current_coroutine(nullptr);
        sched.fail(std::current_exception());
        sched.retire(c, *this);
        return;
    }
    set_current_coroutine(nullptr);
    if (report) report->report_first_run(last == c && last->finished());   // c switched away unfinished otherwise
    if (last->finished()) {
        last->release_stack(*this);
        sched.retire(last, *this);
    } else {
        finish_switch(last);
    }
}

void worker::finish_switch(coroutine* prev) noexcept {
    if (chan_core* c = held_one_) {
        held_one_ = nullptr;
        c->unlock();
    } else if (held_) {
        held_->release();
        held_ = nullptr;
    }
    if (post_fn_) {
        auto fn = std::exchange(post_fn_, nullptr);
        fn(std::exchange(post_arg_, nullptr));
    }
    prev->suspended.store(true, std::memory_order_release);   // from here on, prev may run elsewhere
}

// This worker's own next pick: a queue head already popped for its turn
// (turn_), then `next` while its streak lasts (or while the local queue is
// empty), else the local queue's head, with `next` kept for the pick after.
run_node* worker::pop_own() noexcept {
    if (turn_) return std::exchange(turn_, nullptr);
    if (next_) {
        if (next_streak_ < next_streak_limit || local.size() == 0) {
            ++next_streak_;
            return std::exchange(next_, nullptr);
        }
        // The streak is spent: the queue's head gets a turn, and next_
        // keeps its place for the turn after.
        next_streak_ = 0;
        if (run_node* c = local.pop()) return c;
        ++next_streak_;   // a thief emptied the queue meanwhile
        return std::exchange(next_, nullptr);
    }
    next_streak_ = 0;
    return local.pop();
}

// The coroutine a switching-out coroutine hands off to: the worker's own
// next pick, as find_work would make it (`next`, or the local queue's head:
// without the latter a pipeline's coroutine that found `next` empty switched
// to the worker and the worker to that head, two switches instead of one).
// Null leaves the choice to the worker's loop: the global queue's turn, or
// a pick that has not started (it needs a stack first) or is still
// switching out on another worker (it waits in `next`).
coroutine* worker::take_successor() noexcept {
    // At 0 the loop's find_work looks at the global queue next (and in
    // deterministic mode the countdown is always 1: see the constructor).
    if (--global_countdown_ == 0) {
        global_countdown_ = 1;
        return nullptr;
    }
    run_node* n = pop_own();
    if (!n) return nullptr;
    if (!has_run(n) || !static_cast<coroutine*>(n)->suspended.load(std::memory_order_acquire)) {
        // The loop runs it next: from `next`, or from turn_ when `next`
        // kept its place while the queue's head has its turn.
        (next_ ? turn_ : next_) = n;
        return nullptr;
    }
    coroutine* c = static_cast<coroutine*>(n);
    c->suspended.store(false, std::memory_order_relaxed);
    return c;
}

namespace {
constexpr std::size_t stack_cache_limit = 32;
}

pooled_stack_info worker::take_stack() {
    if (stack_cache_.empty()) return sched.stacks.allocate(index);
    pooled_stack_info s = stack_cache_.back();
    stack_cache_.pop_back();
    return s;
}

void worker::give_stack(const pooled_stack_info& s) noexcept {
    if (stack_cache_.size() < stack_cache_limit) stack_cache_.push_back(s);   // capacity reserved: no allocation
    else sched.stacks.deallocate(s);
}

void worker::loop() {
    alt_signal_stack signal_stack;   // where the overflow guard runs (the coroutine's stack is full)
    tls_worker = this;
    local.set_owner_chan_locks(&chan_locks_taken);
    thread_tag.store(this_thread_tag(), std::memory_order_relaxed);
    eh_globals_ = abi::__cxa_get_globals();
    stack_cache_.reserve(stack_cache_limit);
    for (;;) {
        run_node* c = find_work();
        if (!c && !watched_) c = spin_for_work();
        if (c) {
            if (watched_) watched_ = false, watch_ns_ = min_watch_ns;
            run(c);
            continue;
        }
        watched_ = false;
        if (!park()) break;
    }
    for (const pooled_stack_info& st : stack_cache_) sched.stacks.deallocate(st);
    stack_cache_.clear();
    local.set_owner_chan_locks(nullptr);   // this thread's count goes with it
    thread_tag.store(nullptr, std::memory_order_relaxed);
    tls_worker = nullptr;
}

// ---------------------------------------------------------------- scheduler

namespace {
unsigned worker_count(const options& o) {
    if (o.deterministic_seed) return 1;
    unsigned n = o.threads ? o.threads : std::thread::hardware_concurrency();
    return n ? n : 1;
}
}  // namespace

scheduler::scheduler(const options& opts)
    : stacks(opts.stack_size), seed(opts.deterministic_seed), nworkers(worker_count(opts)), detect_deadlock_(opts.detect_deadlock) {
    live_counts::runtimes.fetch_add(1, std::memory_order_relaxed);
    install_overflow_guard();
    for (unsigned i = 0; i < nworkers; ++i) workers_.push_back(std::make_unique<worker>(*this, i));
    try {
        for (unsigned i = 0; i < nworkers; ++i) threads_.emplace_back([w = workers_[i].get()] { w->loop(); });
    } catch (const std::system_error& e) {
        shutdown();
        live_counts::runtimes.fetch_sub(1, std::memory_order_relaxed);
        throw resource_error(fmt::format("rill: cannot start {} worker threads: {}", nworkers, e.what()));
    }
}

scheduler::~scheduler() {
    shutdown();
    live_counts::runtimes.fetch_sub(1, std::memory_order_relaxed);
}

void scheduler::check_may_spawn() const {
    if (stopping() && !current_coroutine())
        throw std::logic_error("rill: spawn on a runtime that has stopped (after an error or a deadlock)");
}

void scheduler::spawn(std::unique_ptr<task> body, std::string name, bool root) {
    if (name.empty() && !root) return spawn_unnamed(std::move(body));
    check_may_spawn();
    const std::uint64_t id = draw_id();
    coroutine* c;
    try {
        c = new coroutine(*this, id, std::move(body), std::move(name));
    } catch (const std::bad_alloc&) {
        throw_resource_error([&] {
            return fmt::format("rill: cannot allocate coroutine {}: out of memory ({} coroutines alive)", id,
                               live());
        });
    }
    if (root) {
        std::scoped_lock l(reg_lock_);
        root_.store(c, std::memory_order_release);   // retire() clears it under this lock
    }
    queue_spawned(c);
}

void scheduler::spawn_unnamed(std::unique_ptr<task> body) {
    check_may_spawn();
    queue_spawned(body.release());   // its record comes at its first run (start_task)
}

void scheduler::queue_spawned(run_node* queued) {
    live_counts::coroutine_made();   // alive from its spawn, record or not (rill::live)
    worker* w = current_worker();
    if (w && &w->sched == this) {
        w->count_spawn();   // counted before it is queued: see live()
        w->push_local(queued);
    } else {
        spawned_outside_.fetch_add(1, std::memory_order_seq_cst);
        push_global(queued);
    }
}

std::uint64_t scheduler::draw_id() noexcept {
    worker* w = current_worker();
    if (w && &w->sched == this) return w->draw_id(next_id_);
    return next_id_.fetch_add(1, std::memory_order_relaxed);
}

// Ids are drawn here, at the first run (a named coroutine's at its spawn),
// from the worker's block of ids: unique, and in the order they start on
// each worker (no id is shared by the workers' starts). A body that
// never runs is destroyed on the worker's thread, as a coroutine unwound
// before it began is.
coroutine* scheduler::start_task(task* t, worker& w) noexcept {
    std::unique_ptr<task> body(t);
    if (stopping()) {   // the run is ending: a body not begun never runs
        retire_unstarted(std::move(body), w);
        return nullptr;
    }
    const std::uint64_t id = w.draw_id(next_id_);
    try {
        return new coroutine(*this, id, std::move(body), {});   // body moves only once the record is allocated
    } catch (...) {   // rill::resource_error from small_alloc: "cannot allocate N bytes for a coroutine"
        fail(std::current_exception());
        retire_unstarted(std::move(body), w);
        return nullptr;
    }
}

void scheduler::ready(coroutine* c) {
    // A running coroutine carries its worker (set by whoever resumed it, on
    // this thread): one thread-local read instead of two.
    if (coroutine* me = current_coroutine(); me && &me->on_worker()->sched == this) {
        worker* w = me->on_worker();
        // Every wake follows a claim that set `fired` on this thread (the
        // claimer is the caller), so it is the node that ended this wait,
        // still alive on the parked waiter's stack. Only wake() may call
        // ready(): after the waiter runs again, `fired` dangles. (Not
        // asserted: the phase load cost pingpong 1.5%.)
        const wait_node* fired = c->wait.fired;
        if (fired && fired->is_send) w->push_next_unless_taken(c);
        else w->push_next(c);
    }
    else ready_from_outside(c, me);
}

// Not from a coroutine of ours: from our worker's loop (timers, the end of
// a switch), another runtime, or a plain thread. Out of line, so that the
// wake of a coroutine by a coroutine saves no registers for it.
void scheduler::ready_from_outside(coroutine* c, const coroutine* me) {
    if (worker* w = current_worker(); w && &w->sched == this && !me) w->push_local(c);
    else push_global(c);
}

// The registry holds the coroutines that have ever waited (registered by
// their first begin_wait): those are the ones the deadlock check and the
// end of a run look for. One that never waits is always in a queue or
// running, which the idle and queue checks see, and never touches the
// registry's lock: a spawn-heavy program's workers do not contend on it.
void scheduler::register_waiter(coroutine* c) noexcept {
    std::scoped_lock l(reg_lock_);
    ++reg_count_;
    c->reg_next = reg_head_;
    if (reg_head_) reg_head_->reg_prev = c;
    reg_head_ = c;
    c->registered = true;
}

void scheduler::retire_unstarted(std::unique_ptr<task> t, worker& w) noexcept {
    t.reset();
    counted_out(w, false);
}

void scheduler::retire(coroutine* c, worker& w) {
    bool was_root = false;
    if (c->registered || root_.load(std::memory_order_relaxed) == c) {
        std::scoped_lock l(reg_lock_);
        if (c->registered) {
            --reg_count_;
            if (c->reg_prev) c->reg_prev->reg_next = c->reg_next;
            else reg_head_ = c->reg_next;
            if (c->reg_next) c->reg_next->reg_prev = c->reg_prev;
        }
        if (root_.load(std::memory_order_relaxed) == c) root_.store(nullptr, std::memory_order_release), was_root = true;
    }
    // Between the unlink and the count the deadlock check sees fewer
    // registered than live coroutines and reports nothing; this worker
    // checks again when it next parks.
    delete c;
    counted_out(w, was_root);
}

// After a retire, its body and record destroyed. The count comes last:
// whoever sees it (a waiter for the end of the run) sees them destroyed
// and rill::live() lowered. shutdown() waits for the others, then for the
// root: it is told now, not at the next park (a root that keeps spawning
// and yielding keeps every worker busy, and would be unwound only once a
// poll caught the count low).
void scheduler::counted_out(worker& w, bool was_root) noexcept {
    live_counts::coroutine_gone();
    w.count_retire();
    if (was_root) notify_end();
    else if (stopping()) notify_if_ended();
}

std::size_t scheduler::live() const noexcept {
    std::size_t retired = 0;
    for (const auto& w : workers_) retired += w->retired_here();
    std::size_t spawned = spawned_outside_.load(std::memory_order_seq_cst);   // every spawn after every retire
    for (const auto& w : workers_) spawned += w->spawned_here();
    return spawned - retired;
}

// wait_all() waits for no coroutine left, shutdown() (stopping) for the
// root alone; run_root() waits for the root's end, told by the root itself.
// So a park while the root alone lives (a root that sleeps on a timer in a
// loop) wakes nobody.
void scheduler::notify_if_ended() noexcept {
    const std::size_t n = live();
    if (n == 0 || (n == 1 && stopping())) notify_end();
}

void scheduler::notify_end() noexcept {
    std::scoped_lock l(ctl_lock_);
    ctl_cv_.notify_all();
}

run_node* scheduler::pop_global() { return global_.pop(); }

void scheduler::push_global(run_node* c) {
    global_.push(c, true);
    wake_one_if_idle();
}

// idle_count_ and watching_count_ change under idle_lock_ and are read
// here without it: a skip may miss a worker parked for good as another
// starts watching, never the case where no worker watches (the one that
// would sight the work), and every watcher looks at its deadline.
void scheduler::wake_one(bool deferrable) {
    if (deferrable && watching_count_.load(std::memory_order_seq_cst) >= idle_count_.load(std::memory_order_seq_cst)) return;
    worker* w = nullptr;
    {
        std::scoped_lock l(idle_lock_);
        auto it = idle_.end();
        while (it != idle_.begin() && deferrable && (*std::prev(it))->watching) --it;
        if (it == idle_.begin()) return;
        w = *--it;
        idle_.erase(it);
        idle_count_.fetch_sub(1, std::memory_order_seq_cst);
        if (w->watching) w->watching = false, watching_count_.fetch_sub(1, std::memory_order_seq_cst);
    }
    w->wakeup.release();
}

std::int64_t scheduler::next_look_at(const worker* self) const noexcept {
    if (global_.size() != 0) return 0;
    std::int64_t at = no_look;
    for (auto& w : workers_) {
        if (w->local.size() == 0) continue;
        const std::int64_t due = w->local.due_at();
        if (w.get() == self || due == 0) return 0;   // its own (a coroutine moved here), or takeable now
        at = std::min(at, due);
    }
    return at;
}

bool scheduler::watch(worker* w) {
    std::scoped_lock l(idle_lock_);
    if (std::find(idle_.begin(), idle_.end(), w) == idle_.end()) return false;
    w->watching = true;
    watching_count_.fetch_add(1, std::memory_order_seq_cst);
    return true;
}

bool scheduler::may_spin() const noexcept {
    unsigned awake = nworkers - idle_count_.load(std::memory_order_relaxed);   // this worker among them
    return 2 * spinning.load(std::memory_order_relaxed) < awake;
}

bool scheduler::any_work() const noexcept {
    if (global_.size() != 0) return true;
    for (auto& w : workers_)
        if (w->local.size() != 0) return true;
    return false;
}

bool scheduler::register_idle(worker* w) {
    std::scoped_lock l(idle_lock_);
    if (done()) return false;
    idle_.push_back(w);
    idle_count_.fetch_add(1, std::memory_order_seq_cst);
    return true;
}

bool scheduler::unregister_idle(worker* w) {
    std::scoped_lock l(idle_lock_);
    auto it = std::find(idle_.begin(), idle_.end(), w);
    if (it == idle_.end()) return false;
    idle_.erase(it);
    idle_count_.fetch_sub(1, std::memory_order_seq_cst);
    if (w->watching) w->watching = false, watching_count_.fetch_sub(1, std::memory_order_seq_cst);
    return true;
}

// ---------------------------------------------------------------- errors and deadlocks

void scheduler::fail(std::exception_ptr e) {
    std::scoped_lock l(ctl_lock_);
    if (!error_) error_ = std::move(e);
    ctl_cv_.notify_all();
}

void scheduler::on_root_finished() {
    std::scoped_lock l(ctl_lock_);
    root_finished_ = true;
    detecting_.store(false, std::memory_order_seq_cst);   // what is left is unwound, not a deadlock
    ctl_cv_.notify_all();
}

void scheduler::detect_deadlocks(bool on) {
    detecting_.store(on && detect_deadlock_, std::memory_order_seq_cst);
    if (on) check_deadlock();
}

// The order of the reads matters: a timer or plain thread pushes its wake
// before it lowers its count, so once we read the counts as zero, its
// push is visible in the queues we read next.
void scheduler::check_deadlock() {
    if (!detecting_.load(std::memory_order_seq_cst) || stopping()) return;
    if (pending_timers.load(std::memory_order_seq_cst) > 0) return;
    if (plain_threads_blocked.load(std::memory_order_seq_cst) > 0) return;
    if (idle_count_.load(std::memory_order_seq_cst) != nworkers) return;
    if (any_work() || live() == 0) return;
    std::string report;
    {
        std::scoped_lock l(reg_lock_);
        // Only a coroutine that has waited is registered; one that has not
        // (just spawned, not yet queued) is alive and can still run.
        if (reg_count_ != live()) return;
        for (coroutine* c = reg_head_; c; c = c->reg_next)
            if (phase_of(c->wait.state.load(std::memory_order_seq_cst)) != wait_phase::waiting) return;   // being woken
        report = deadlock_report();
    }
    std::scoped_lock l(ctl_lock_);
    if (!detecting_.load(std::memory_order_seq_cst) || root_finished_ || error_) return;   // the run ended meanwhile
    error_ = std::make_exception_ptr(deadlock_error(report));
    ctl_cv_.notify_all();
}

namespace {
std::string type_name(const std::type_info& t) {
    int status = 0;
    char* s = abi::__cxa_demangle(t.name(), nullptr, nullptr, &status);
    std::string out = status == 0 && s ? s : t.name();
    std::free(s);
    return out;
}
}  // namespace

/// Blocked coroutines a deadlock report names one by one; it counts the rest.
constexpr std::size_t deadlock_report_limit = 100;

std::string scheduler::deadlock_report() {
    std::vector<coroutine*> blocked;
    for (coroutine* c = reg_head_; c; c = c->reg_next) blocked.push_back(c);
    std::sort(blocked.begin(), blocked.end(), [](coroutine* a, coroutine* b) { return a->id < b->id; });
    std::string msg = fmt::format("rill: all coroutines are asleep - deadlock! ({} blocked)", blocked.size());
    std::size_t listed = 0;
    for (coroutine* c : blocked) {
        if (listed++ == deadlock_report_limit) {   // a readable message, not a megabyte
            msg += fmt::format("\n  ... and {} more", blocked.size() - deadlock_report_limit);
            break;
        }
        msg += fmt::format("\n  coroutine {}", c->id);
        if (!c->name().empty()) msg += fmt::format(" \"{}\"", c->name());
        msg += fmt::format(": {}", c->wait.op ? c->wait.op : "blocked");
        if (const chan_core* ch = c->wait.on) {
            if (std::string_view(ch->label()) == "chan")
                msg += fmt::format(" on chan<{}>", type_name(*ch->ops().type));
            else
                msg += fmt::format(" on {}", ch->label());
            if (!ch->name().empty()) msg += fmt::format(" \"{}\"", ch->name());
            msg += fmt::format(" {}", static_cast<const void*>(ch));
        }
    }
    return msg;
}

// ---------------------------------------------------------------- the end of a run

void scheduler::run_root(std::unique_ptr<task> body) {
    spawn(make_task([this, b = std::move(body)] {
              b->run();
              on_root_finished();
          }),
          "root", true);
    detect_deadlocks(true);
    std::exception_ptr err;
    {
        std::unique_lock l(ctl_lock_);
        ctl_cv_.wait(l, [&] { return root_finished_ || error_; });
        err = error_;
    }
    detect_deadlocks(false);
    shutdown();
    {
        std::scoped_lock l(ctl_lock_);
        std::exception_ptr late = std::exchange(error_, nullptr);   // maybe failed while being unwound
        if (!err) err = late;
    }
    if (err) std::rethrow_exception(err);
}

void scheduler::wait_all() {
    detect_deadlocks(true);
    std::exception_ptr err;
    {
        std::unique_lock l(ctl_lock_);
        ctl_cv_.wait(l, [&] { return live() == 0 || error_; });
        err = std::exchange(error_, nullptr);
    }
    detect_deadlocks(false);
    if (err) {
        shutdown();
        std::rethrow_exception(err);
    }
}

// Cancels every waiting coroutine: (seq, waiting) -> (seq, cancelled), then
// wakes it so that its blocking call throws coroutine_unwind. A coroutine
// running now sees stopping_ at its next park(). Its `waiting` store is not
// ordered with our read of stopping_ (that would cost a fence on every
// park), so one that parks just as we pass is caught by the next round:
// shutdown() repeats this until no coroutine is left.
void scheduler::cancel_all(bool include_root) noexcept {
    std::scoped_lock l(reg_lock_);
    coroutine* root = root_.load(std::memory_order_acquire);
    for (coroutine* c = reg_head_; c; c = c->reg_next) {
        if (c == root && !include_root) continue;
        std::uint64_t s = c->wait.state.load(std::memory_order_seq_cst);
        if (phase_of(s) != wait_phase::waiting) continue;
        if (c->wait.state.compare_exchange_strong(s, make_state(seq_of(s), wait_phase::cancelled), std::memory_order_acq_rel))
            push_global(c);
    }
}

// Cancels until at most `left` coroutines are alive (1: only the root).
void scheduler::unwind_until(std::size_t left, bool include_root) noexcept {
    for (;;) {
        cancel_all(include_root);
        std::unique_lock l(ctl_lock_);
        auto done = [&] {
            std::size_t n = live();
            return n == 0 || (n <= left && root_.load(std::memory_order_acquire));
        };
        if (ctl_cv_.wait_for(l, std::chrono::milliseconds(2), done)) return;
    }
}

void scheduler::shutdown() noexcept {
    {
        std::scoped_lock l(ctl_lock_);
        if (shut_down_) return;
        shut_down_ = true;
    }
    stopping_.store(true, std::memory_order_seq_cst);
    // The root last: the others' destructors may still use its locals (after
    // a deadlock or an error the root is blocked or running, its frame alive).
    unwind_until(root_.load(std::memory_order_acquire) ? 1 : 0, false);
    unwinding_root_.store(true, std::memory_order_seq_cst);
    unwind_until(0, true);
    if (timers_) timers_->stop();
    {
        std::scoped_lock l(idle_lock_);
        done_.store(true, std::memory_order_release);
        for (worker* w : idle_) w->watching = false, w->wakeup.release();
        idle_.clear();
        idle_count_.store(0, std::memory_order_seq_cst);
        watching_count_.store(0, std::memory_order_seq_cst);
    }
    for (auto& t : threads_) t.join();
    threads_.clear();
    timers_.reset();
}

timer_service& scheduler::timers() {
    std::call_once(timers_once_, [this] { timers_ = std::make_unique<timer_service>(this); });
    return *timers_;
}

}  // namespace rill::detail
