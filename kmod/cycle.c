// SPDX-License-Identifier: GPL-2.0
/*
 * The collector: one kernel thread per arena runs each cycle, and the
 * process's threads meet it at soft handshakes (their side: mutator.c).
 *
 * Why a thread per arena: an arena's cycle waits on that process's
 * threads, so a shared pool would let one slow or hostile process delay
 * every other arena's collections; the per-arena thread also makes the
 * collector's CPU time visible per process (top shows gcarena/<id>), and
 * arenas are few (GCA_MAX_ARENAS_PER_MM per process).  The thread starts
 * with the first call that may need a cycle (gca_cycle_need_thread():
 * REFILL, ALLOC_LARGE, COLLECT, SET_PARAMS), so an arena that never
 * allocates has none.
 *
 * A cycle is Go's (mgc.go: gcStart, gcMarkDone, gcMarkTermination,
 * gcSweep) with soft handshakes in place of stop-the-world, except for a
 * short hold at mark termination:
 *
 *  0. Sweep termination: the previous cycle's sweep is finished.
 *  1. Mark setup (phase still OFF, mutators allocate white): every span's
 *     marks are cleared, a few hundred spans per lock hold.
 *  2. MARK, stage BARRIER: the slots of cached spans are shaded (they are
 *     roots), the phase is published with a new handshake sequence, and
 *     each thread answers at its next safepoint: from then on its stores
 *     go through the hybrid write barrier.  No object is scanned before
 *     every thread has its barrier on: a thread without it could delete a
 *     pointer that only a scanned stack still holds.
 *  3. MARK, stage SCAN: a second handshake; each thread scans its own
 *     stack (copy_from_user, in its own context) and goes on; the root
 *     ranges and the stacks of parked threads are scanned by whichever
 *     process thread gets there first (a thread that parks before it
 *     answered this round scans its own as it parks), or, when none has
 *     taken them GCA_PREEMPT_DELAY_MS into the stage, by this thread
 *     through the mm's page tables (gca_collector_help()): a thread that
 *     parked during the barrier round, or every thread parked, must not
 *     stall the cycle.  A thread that registers during the mark is not
 *     born scanned, as Go's new goroutines are: pthread_create() hands it
 *     pointers through memory nobody scans, and its creator may drop them
 *     before its own scan, so it scans its stack at its first answer or
 *     park, and no later round ends without it (gca_thread_done()).
 *     Meanwhile this thread drains the gray queue a slice at a time,
 *     reading the heap through kernel mappings, and lets waiting mutators
 *     have the lock between two slices (gca_collector_yield()).
 *     Allocation is black; mutators
 *     that allocate during the mark owe marking work in proportion
 *     (gca_mark_assist()).
 *     A thread that answers any later round of the mark from deeper in
 *     its stack than it was scanned at scans the new part first, dead
 *     stack between new frames included (mutator.c, gca_stack_grew()).
 *  3b. MARK, stage FLUSH (Go's gcMarkDone ragged barrier): rounds at
 *     which each thread flushes its barrier buffer and cache and goes on,
 *     the queue drained meanwhile, until a round finds nothing new to
 *     mark (or GCA_FLUSH_ROUNDS): what is left for mark termination, with
 *     the threads held, is what they stored since the last round.
 *  4. MARK_TERM: a handshake at which each thread flushes its barrier
 *     buffer and its cache (and scans what its stack grew by, as in 3)
 *     and is held; the queue is drained for the last
 *     time (nothing can add to it: every thread is held or parked), one
 *     slice at most: if more is left (the flushed buffers led to a large
 *     unmarked structure), the threads are released into another FLUSH
 *     round, the queue is drained concurrently, and termination is tried
 *     again (Go's gcMarkDone loop; mark_term_retries counts it).  With
 *     checkmark on, the marks are saved and the heap is marked again from
 *     the roots, stacks rescanned by the held threads (parked ones as in
 *     3), and any object the concurrent mark missed is reported (Go's
 *     gccheckmark).  The re-mark leaves out the signal handler's frames
 *     and registers of a thread held by an answer from its preempt
 *     signal handler (why that hides no real miss: mutator.c); the
 *     mark has read every part of each stack it reads, stale words of
 *     dead stack included (3), though not dead registers spilled into
 *     a part after the mark read it (a false miss that stays).  The
 *     re-mark is as conservative as the mark: a data
 *     word naming a dead
 *     object, in an object allocated during the mark (black, so never
 *     scanned by it), counts as a miss although nothing is lost.  Last,
 *     still held, the core's checker goes over every in-use span's own
 *     invariants (core/gca_check.c) and logs what it finds.
 *  5. SWEEP: held threads are released with the barrier off; this thread
 *     sweeps in slices while mutators sweep lazily the spans they take
 *     (gca_span_refill()); then free pages beyond the retained goal are
 *     released, and the cycle is complete (OFF).
 *
 * Threads that will never answer are dropped at every round
 * (gca_reap_and_signal()): exiting, killed, or no longer in the arena's
 * mm (execve()); late ones are sent the preempt signal, only within the
 * arena's own thread group and image (gca_thread_signal()).
 *
 * All state lives in the arena under arena->lock.  Mutators wait on
 * cycle_wq (woken at every phase change: phase_gen), the collector waits
 * on gc_wq (woken when a thread answers: wake_gen).
 *
 * System suspend and hibernation may come at any point of a cycle.  The
 * freezer stops the process's threads first: those waiting in the module
 * (held at mark termination, waiting to register) sleep interruptibly,
 * so the freezer's wake-up ends their call with -EINTR and they freeze on
 * the way out (the library answers again after the resume).  Then it
 * freezes the kernel threads: every wait of the collector is freezable
 * and it also freezes between two slices of work (gca_collector_yield()),
 * so it stops where it is, even waiting for a thread that froze before
 * answering, and the cycle goes on after the resume.
 *
 * Bounded holds.  Every hold of arena->lock, and every pause, is bounded
 * by a constant, whatever the heap: the collector marks a slice of
 * GCA_DRAIN_BUDGET bytes of work per hold (plus one gray entry: an
 * oblet, GCA_OBLET_SIZE, or one step of overflow recovery, which resumes
 * from a cursor kept in the heap, core/gca_mark.c), clears, saves,
 * verifies, checks and sweeps GCA_CLEAR_BUDGET or GCA_SWEEP_BUDGET spans
 * per hold, and an assist stops at GCA_ASSIST_BUDGET or GCA_ASSIST_MAX_NS;
 * mark_slice_max in the statistics is the most marking work one hold
 * did.  A thread's pause at mark termination is its handshake plus one
 * slice: termination never drains more with the threads held, it sends
 * them back to concurrent marking.  That restart is bounded
 * (GCA_MARK_TERM_RETRIES) so that a cycle ends even against a process
 * that reveals a new unmarked structure at every termination; as each
 * retry leaves marked what the last one revealed and nothing allocated
 * during the mark is white, a process whose pointers all reach the
 * collector (the roots contract) finds nothing new at the next try.
 * After the last retry the rest is drained with the threads held, still
 * a slice per hold of the lock (gca_drain_held()): the lock stays
 * bounded, and the longer pause is that process's own, earned by hiding
 * pointers from the collector GCA_MARK_TERM_RETRIES times in one cycle.
 * Checkmark (a debug mode) holds the threads for a whole re-mark, its
 * lock holds sliced the same way; that pause is exempt from the bound.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/freezer.h>
#include <linux/hash.h>
#include <linux/kthread.h>
#include <linux/memcontrol.h>
#include <linux/ratelimit.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/timekeeping.h>
#include "gcarena_private.h"
#include "gcarena_trace.h"

bool gca_cycle_in_progress(struct gca_arena *a)
{
	return READ_ONCE(a->phase) != GCA_PHASE_OFF;
}

static void gca_publish_phase(struct gca_arena *a, enum gca_phase phase)
{
	lockdep_assert_held(&a->lock);
	/* pairs with READ_ONCE in gca_cycle_in_progress() and waiters */
	WRITE_ONCE(a->phase, phase);
	WRITE_ONCE(a->phase_gen, a->phase_gen + 1);
	WRITE_ONCE(a->ctrl->phase, phase);
	/* phase before hs_seq: a thread that sees the new seq sees the phase */
	smp_wmb();
	WRITE_ONCE(a->ctrl->hs_seq, a->hs_seq);
	WRITE_ONCE(a->ctrl->num_gc, a->num_gc);
	WRITE_ONCE(a->ctrl->next_gc, a->next_gc);
	trace_gcarena_phase(a->id, a->cycle, phase, a->stage);
}

/* ---------------------------------------------------------------------
 * Pacing
 */

void gca_cycle_update_pacer(struct gca_arena *a)
{
	struct gca_heap *h = &a->heap;
	u64 overhead, goal;

	lockdep_assert_held(&a->lock);
	/*
	 * What counts against the memory limit besides live objects: the
	 * kernel's metadata and the free slots inside in-use spans (Go's
	 * non-heap memory plus fragmentation, memoryLimitHeapGoal).
	 */
	overhead = h->meta_bytes + a->meta_bytes +
		   (h->heap_inuse - h->heap_alloc);
	goal = gca_pacer_goal(h->heap_marked, a->roots_bytes,
			      gca_arena_gc_percent(a),
			      gca_arena_memory_limit(a), overhead);
	a->goal_limited = goal < gca_pacer_goal(h->heap_marked, a->roots_bytes,
						gca_arena_gc_percent(a),
						GCA_MEMORY_LIMIT_NONE, 0);
	a->next_gc = goal;
	a->gc_trigger = gca_pacer_trigger(goal, h->heap_marked);
	if (a->ctrl)
		WRITE_ONCE(a->ctrl->next_gc, goal);
	trace_gcarena_pacer(a->id, goal, a->gc_trigger, h->heap_live,
			    gca_arena_memory_limit(a));
}

/*
 * Ask for a cycle if the heap has reached the trigger.  Called when the
 * heap grows (refill, large allocation), as Go's mallocgc checks; a request
 * made while a cycle runs starts the next one when it ends.
 */
void gca_cycle_check_trigger(struct gca_arena *a)
{
	lockdep_assert_held(&a->lock);
	if (a->request != GCA_GC_NONE)
		return;
	if (a->heap.heap_live >= a->gc_trigger) {
		a->request = a->goal_limited ? GCA_GC_LIMIT : GCA_GC_HEAP;
		wake_up(&a->gc_wq);
	}
}

/* A module knob changed: every arena re-reads it in its own thread. */
void gca_cycle_kick_all(void)
{
	struct gca_arena *a;

	mutex_lock(&gca_arenas_lock);
	list_for_each_entry(a, &gca_arenas, node) {
		WRITE_ONCE(a->kick, true);
		wake_up(&a->gc_wq);
	}
	mutex_unlock(&gca_arenas_lock);
}

/* ---------------------------------------------------------------------
 * Pauses
 */

/*
 * A pause is time a mutator spent unable to run its own code because of
 * the collector.  The histogram keeps all of them; the ring keeps the
 * longest of each cycle (see gca_finish_cycle()).
 */
void gca_record_pause(struct gca_arena *a, u64 ns)
{
	unsigned int b = ns > 1 ? ilog2(ns) : 0;

	lockdep_assert_held(&a->lock);
	a->pause_hist[min_t(unsigned int, b, GCA_PAUSE_HIST_BUCKETS - 1)]++;
	a->num_pauses++;
	a->pause_total_ns += ns;
	a->cycle_max_pause = max(a->cycle_max_pause, ns);
}

/* ---------------------------------------------------------------------
 * Waiting for the process's threads
 */

enum gca_wait_for {
	GCA_WAIT_ACKED,		/* every unparked thread answered hs_seq */
	GCA_WAIT_SCANNED,	/* every stack and the roots scanned */
};

/*
 * Past the scan stage every stack has been scanned but those of threads
 * registered since, which answer the next round only once they have
 * scanned it themselves (gca_handshake()), or, parked, are scanned as
 * they park or by others: the rounds of FLUSH and TERM wait for that
 * too, so that nothing a new thread holds is shaded after the final
 * drain.
 */
static bool gca_thread_done(struct gca_arena *a, struct gca_thread *t,
			    enum gca_wait_for what)
{
	if (what == GCA_WAIT_ACKED)
		return (t->parked || t->acked_seq == a->hs_seq) &&
		       (a->stage == GCA_STAGE_BARRIER ||
			t->scanned_cycle == a->scan_id);
	return t->scanned_cycle == a->scan_id;
}

/* Drop threads that will never answer; signal those that are late. */
static void gca_reap_and_signal(struct gca_arena *a, enum gca_wait_for what)
{
	unsigned long delay = msecs_to_jiffies(GCA_PREEMPT_DELAY_MS);
	unsigned long resend = msecs_to_jiffies(GCA_PREEMPT_RESEND_MS);
	struct gca_thread *t, *n;

	lockdep_assert_held(&a->lock);
	list_for_each_entry_safe(t, n, &a->threads, node) {
		if (gca_thread_done(a, t, what))
			continue;
		if (gca_thread_gone(a, t)) {
			/*
			 * A stack being scanned by another thread stays, and
			 * so does a thread inside a call of its own (busy):
			 * the next round drops it.
			 */
			gca_thread_reap(a, t);
			continue;
		}
		/* a parked thread is blocked on purpose: others scan for it */
		if (t->parked || t->in_handshake || !a->preempt_signal ||
		    time_before(jiffies, a->phase_jiffies + delay))
			continue;
		if (t->signalled_seq == a->hs_seq &&
		    time_before(jiffies, t->signalled_at + resend))
			continue;
		t->signalled_seq = a->hs_seq;
		t->signalled_at = jiffies;
		gca_thread_signal(a, t);
	}
}

static bool gca_all_done(struct gca_arena *a, enum gca_wait_for what)
{
	struct gca_thread *t;

	list_for_each_entry(t, &a->threads, node)
		if (!gca_thread_done(a, t, what))
			return false;
	return what == GCA_WAIT_ACKED || a->roots_scanned;
}

void gca_wake_collector(struct gca_arena *a)
{
	WRITE_ONCE(a->wake_gen, a->wake_gen + 1);
	wake_up(&a->gc_wq);
}

static bool gca_collector_should_stop(struct gca_arena *a)
{
	return kthread_should_stop() || READ_ONCE(a->dying);
}

/*
 * Between two slices of the collector's work, with a->lock dropped: let
 * the mutators waiting for the lock have it first.  A kernel mutex does
 * not hand itself over to waiters that spin on it, so a collector that
 * re-locks at once can keep a spinning refill out for slice after slice
 * (in binary-trees at depth 16, a fifth of all CPU time was
 * mutex_spin_on_owner under GCA_IOC_REFILL and stack scans).  Bounded by
 * GCA_YIELD_MAX_NS: mutators that keep arriving must not stall marking.
 */
static void gca_collector_yield(struct gca_arena *a)
{
	u64 t0;

	/* a system suspend freezes the collector here, or in its waits */
	try_to_freeze();
	cond_resched();
	if (!atomic_read(&a->lock_waiters))
		return;
	t0 = ktime_get_ns();
	while (atomic_read(&a->lock_waiters) &&
	       ktime_get_ns() - t0 < GCA_YIELD_MAX_NS) {
		/* a sleeping waiter may need this CPU to take the lock */
		cond_resched();
		cpu_relax();
	}
}

/* Is there work gca_help_scan() would take now? */
static bool gca_help_wanted(struct gca_arena *a)
{
	struct gca_thread *t;

	lockdep_assert_held(&a->lock);
	/* past the barrier stage: FLUSH and TERM wait for new threads too */
	if ((a->phase != GCA_PHASE_MARK && a->phase != GCA_PHASE_MARK_TERM) ||
	    a->stage == GCA_STAGE_BARRIER)
		return false;
	if (!a->roots_claimed && !a->roots_scanned)
		return true;
	list_for_each_entry(t, &a->threads, node)
		if (t->parked && !t->park_claimed &&
		    t->scanned_cycle != a->scan_id)
			return true;
	return false;
}

/*
 * Scanning work of the stage (the root ranges, parked threads' stacks)
 * that no process thread has taken GCA_PREEMPT_DELAY_MS into it: this
 * thread does it itself.  Left to the process, the cycle may wait for a
 * thread that never comes: when every registered thread is parked (a
 * one-thread program in gca_wait_cycle(), a thread that parked during
 * the barrier round, before anyone scanned), when none is registered
 * while root ranges are, or when the one that took the work failed.
 * The memory is read through the mm's page tables without ever waiting
 * on the process (gca_copy_remote()).  Called without a->lock.  1 if it
 * did some work, 0 if none, or -errno.
 */
static int gca_collector_help(struct gca_arena *a)
{
	struct mm_struct *mm = a->mm;
	int ret;

	if (!mmget_not_zero(mm)) {
		/*
		 * The process image is gone (exit, execve()): no thread
		 * runs in this mm again (every registration is gone, see
		 * gca_thread_gone()), and nothing its memory held can reach
		 * the heap, which no mm maps any more.
		 */
		mutex_lock(&a->lock);
		ret = !a->roots_scanned;
		a->roots_scanned = true;
		mutex_unlock(&a->lock);
		return ret;
	}
	mutex_lock(&a->lock);
	ret = gca_help_scan(a, mm);
	mutex_unlock(&a->lock);
	/* the last reference, if the process exited meanwhile: not here */
	mmput_async(mm);
	return ret;
}

/*
 * Between two slices of the collector's work done with a->lock held:
 * drop it and let waiting mutators in.  0, or -EINTR (a->lock held).
 */
static int gca_relock(struct gca_arena *a)
{
	mutex_unlock(&a->lock);
	gca_collector_yield(a);
	mutex_lock(&a->lock);
	return gca_collector_should_stop(a) ? -EINTR : 0;
}

/*
 * One slice of marking under a->lock: gca_mark_drain_some() with the
 * work it did recorded in a->mark_slice_max (every hold that marks goes
 * through here or gca_mark_assist()).
 */
static int gca_drain_slice(struct gca_arena *a, u64 budget)
{
	struct gca_heap *h = &a->heap;
	u64 work = h->mark_work;
	int ret;

	lockdep_assert_held(&a->lock);
	ret = gca_mark_drain_some(h, budget);
	a->mark_slice_max = max(a->mark_slice_max, h->mark_work - work);
	return ret;
}

/*
 * Drain the gray queue to the end with the threads held (the last
 * resort of mark termination, and checkmark), still a slice per hold of
 * a->lock: whoever waits for the lock (a reader of /proc, a parked
 * thread coming back, an exiting one) waits a slice, not the drain.
 * Called and returns with a->lock held; 0 or -EINTR.
 */
static int gca_drain_held(struct gca_arena *a)
{
	int ret;

	lockdep_assert_held(&a->lock);
	while ((ret = gca_drain_slice(a, GCA_DRAIN_BUDGET)) == -EAGAIN) {
		ret = gca_relock(a);
		if (ret)
			return ret;
	}
	return ret;
}

/*
 * Wait until every thread has done what; with drain, mark the heap while
 * waiting and return only once the gray queue is empty too.  Called and
 * returns without a->lock.  -EINTR when the arena goes away.
 *
 * The wait is freezable: a system suspend freezes the process's threads
 * first, and a thread frozen before it answered never will until the
 * resume, so a collector that waited for it without freezing would fail
 * the suspend ("Freezing of tasks failed").  Frozen here, the cycle goes
 * on after the resume.
 */
static int gca_wait_threads(struct gca_arena *a, enum gca_wait_for what,
			    bool drain)
{
	unsigned long delay = msecs_to_jiffies(GCA_PREEMPT_DELAY_MS);
	struct gca_heap *h = &a->heap;

	for (;;) {
		u64 gen = READ_ONCE(a->wake_gen);
		bool done, help;
		int ret = 0;

		mutex_lock(&a->lock);
		gca_reap_and_signal(a, what);
		if (drain) {
			u64 scanned = h->scanned_bytes;

			ret = gca_drain_slice(a, GCA_DRAIN_BUDGET);
			/* what the mutators need not assist for */
			a->assist_credit += h->scanned_bytes - scanned;
		}
		done = !ret && gca_all_done(a, what);
		help = !done &&
		       !time_before(jiffies, a->phase_jiffies + delay) &&
		       gca_help_wanted(a);
		mutex_unlock(&a->lock);
		if (done)
			return 0;
		if (ret == -EINTR || gca_collector_should_stop(a))
			return -EINTR;
		if (help) {
			int err = gca_collector_help(a);

			if (err == -EINTR)
				return -EINTR;
			/* more to do; or, on -EAGAIN and others, retry below */
			if (err > 0)
				continue;
		}
		if (ret == -EAGAIN) {
			/* more gray work: give mutators the lock, go on */
			gca_collector_yield(a);
			continue;
		}
		wait_event_freezable_timeout(a->gc_wq,
					     READ_ONCE(a->wake_gen) != gen ||
					     gca_collector_should_stop(a),
					     msecs_to_jiffies(GCA_PREEMPT_DELAY_MS));
	}
}

/* ---------------------------------------------------------------------
 * The cycle
 */

/* New handshake round: every unparked thread must answer again. */
static void gca_new_round(struct gca_arena *a, enum gca_phase phase,
			  enum gca_mark_stage stage)
{
	lockdep_assert_held(&a->lock);
	a->stage = stage;
	a->hs_seq++;
	a->phase_jiffies = jiffies;
	gca_publish_phase(a, phase);
}

/*
 * Start a new round (gca_new_round()), wake the mutators waiting for a
 * phase change, and wait until every thread has done what, marking
 * meanwhile with drain (gca_wait_threads()).  Called and returns with
 * a->lock held, on error too.  It is dropped for the wait, as the threads
 * take it to answer: what the caller read under it before may have
 * changed.  0, or -EINTR when the arena goes away.
 */
static int gca_run_round(struct gca_arena *a, enum gca_phase phase,
			 enum gca_mark_stage stage, enum gca_wait_for what,
			 bool drain)
{
	int ret;

	lockdep_assert_held(&a->lock);
	gca_new_round(a, phase, stage);
	mutex_unlock(&a->lock);
	wake_up_all(&a->cycle_wq);
	ret = gca_wait_threads(a, what, drain);
	mutex_lock(&a->lock);
	return ret;
}

/* A new stack scan: every stack and the roots must be scanned again. */
static void gca_new_scan(struct gca_arena *a)
{
	struct gca_thread *t;

	lockdep_assert_held(&a->lock);
	a->scan_id++;
	a->roots_scanned = !a->nroots;
	a->roots_claimed = false;
	list_for_each_entry(t, &a->threads, node)
		t->park_claimed = false;
}

/* The slots of every cached span are roots (gca_mark_begin()). */
static void gca_shade_cached(struct gca_arena *a)
{
	struct gca_thread *t;
	struct gca_span *s;

	lockdep_assert_held(&a->lock);
	list_for_each_entry(t, &a->threads, node)
		list_for_each_entry(s, &t->spans, list)
			gca_mark_shade_span(&a->heap, s);
}

/* Clear every mark, a slice per lock hold.  Called with a->lock held. */
static int gca_clear_marks(struct gca_arena *a)
{
	int ret;

	gca_mark_clear_begin(&a->heap);
	while (!gca_mark_clear_some(&a->heap, GCA_CLEAR_BUDGET)) {
		ret = gca_relock(a);
		if (ret)
			return ret;
	}
	return 0;
}

/* Sweep what is left, a slice per lock hold.  Called with a->lock held. */
static int gca_finish_sweep(struct gca_arena *a, struct gca_sweep_result *res)
{
	int ret;

	while (gca_sweep_some(&a->heap, GCA_SWEEP_BUDGET, res)) {
		ret = gca_relock(a);
		if (ret)
			return ret;
	}
	return 0;
}

/*
 * Checkmark's lines in the kernel log.  Any arena's owner may turn
 * checkmark on and provoke misses (stores behind the barrier's back), and
 * may open new arenas, so the per-heap caps (GCA_CK_REPORT_MAX lines of
 * detail, GCA_CK_CYCLES_LOGGED cycles) do not bound the log by
 * themselves: every line also takes a token from its user's budget, then
 * one from the module's (printk_ratelimited()'s model).  Users are hashed
 * into GCA_LOG_USERS budgets, fixed and never freed: nothing to allocate
 * per user, and closing arenas does not refill a budget; two users in one
 * bucket share it.  The user's budget is the smaller, so that one user
 * cannot spend the module's alone.  What is not logged is still counted
 * (checkmark_failures, checkmark_cycles in the statistics).
 */
static struct ratelimit_state gca_log_user_rs[GCA_LOG_USERS] = {
	[0 ... GCA_LOG_USERS - 1] =
		RATELIMIT_STATE_INIT(gca_log_user_rs, GCA_LOG_USER_INTERVAL,
				     GCA_LOG_USER_BURST),
};
static DEFINE_RATELIMIT_STATE(gca_log_rs, GCA_LOG_INTERVAL, GCA_LOG_BURST);

/* May arena a log one more checkmark line?  Takes the tokens if so. */
bool gca_checkmark_may_log(struct gca_arena *a)
{
	u32 b = hash_32(__kuid_val(a->uid), GCA_LOG_USER_BITS);

	/* each string names the lines it dropped, once its interval ends */
	return ___ratelimit(&gca_log_user_rs[b],
			    KBUILD_MODNAME ": checkmark: one user's lines") &&
	       ___ratelimit(&gca_log_rs, KBUILD_MODNAME ": checkmark: lines");
}

/* The first inconsistency of a pass, if the log limits allow it. */
static void gca_heap_check_report(struct gca_check *c, const char *line)
{
	struct gca_arena *a = c->priv;

	if (c->errors == 1 && gca_checkmark_may_log(a))
		pr_err("arena %u: checkmark: cycle %llu: heap inconsistent: %s\n",
		       a->id, a->cycle, line);
}

/*
 * Checkmark's last pass: the core's checker over every in-use span
 * (core/gca_check.c: bitmaps, geometry, table entry), GCA_CLEAR_BUDGET
 * spans per hold of a->lock, the threads still held so that no span
 * leaves h->inuse meanwhile.  The whole-heap checks (the table page by
 * page, list membership, the statistics' sums) are O(heap) in one pass
 * and stay with the tests.  Called and returns with a->lock held; 0 or
 * -EINTR.
 */
static int gca_checkmark_spans(struct gca_arena *a)
{
	struct gca_check c = {
		.report = gca_heap_check_report,
		.priv = a,
	};
	int ret;

	lockdep_assert_held(&a->lock);
	gca_heap_check_spans_begin(&a->heap, &c);
	while (!gca_heap_check_spans_some(&a->heap, &c, GCA_CLEAR_BUDGET)) {
		ret = gca_relock(a);
		if (ret)
			return ret;
	}
	if (c.errors > 1 && gca_checkmark_may_log(a))
		pr_err("arena %u: checkmark: cycle %llu: %u heap inconsistencies\n",
		       a->id, a->cycle, c.errors);
	return 0;
}

/*
 * Checkmark, with every thread held at mark termination: mark again from
 * the roots and count what the concurrent mark missed, then check the
 * in-use spans' own invariants.
 */
static int gca_checkmark(struct gca_arena *a)
{
	struct gca_heap *h = &a->heap;
	u64 marked = h->heap_marked, failures;
	int ret;

	lockdep_assert_held(&a->lock);
	gca_checkmark_walk_begin(h);
	while (!gca_checkmark_save_some(h, GCA_CLEAR_BUDGET)) {
		ret = gca_relock(a);
		if (ret)
			return ret;
	}
	ret = gca_clear_marks(a);
	if (ret)
		return ret;
	h->marking = true;
	h->checking = true;
	h->ck_from = GCA_CK_FROM_ROOTS;
	gca_shade_cached(a);
	gca_new_scan(a);
	ret = gca_run_round(a, GCA_PHASE_MARK_TERM, GCA_STAGE_CHECK,
			    GCA_WAIT_SCANNED, true);
	if (!ret)
		ret = gca_drain_held(a);
	if (!ret)
		ret = gca_mark_drain(h);	/* nothing left: completes it */
	h->checking = false;
	if (ret)
		return ret;
	gca_checkmark_walk_begin(h);
	while (!gca_checkmark_verify_some(h, GCA_CLEAR_BUDGET)) {
		ret = gca_relock(a);
		if (ret)
			return ret;
	}
	failures = h->ck_failures;
	h->heap_marked = marked;
	a->checkmark_cycles++;
	if (failures) {
		a->checkmark_failures += failures;
		/* the first few cycles, then only the counters (proc) */
		if (a->checkmark_failed_cycles < GCA_CK_CYCLES_LOGGED &&
		    gca_checkmark_may_log(a))
			pr_err("arena %u: checkmark: cycle %llu: %llu reachable objects were not marked%s\n",
			       a->id, a->cycle, failures,
			       a->checkmark_failed_cycles + 1 ==
			       GCA_CK_CYCLES_LOGGED ?
			       " (further failures: checkmark_failures in /proc only)" :
			       "");
		a->checkmark_failed_cycles++;
	}
	return gca_checkmark_spans(a);
}

/*
 * Go's gcMarkDone: before holding the world, flush every thread's buffer
 * with the threads running, and mark what that shades, until a round
 * shades nothing (or GCA_FLUSH_ROUNDS rounds: the mutators may keep
 * storing faster than rounds finish).  The final drain at mark
 * termination then has only the last round's stores to follow, not a
 * subgraph of any size.
 */
static int gca_flush_rounds(struct gca_arena *a)
{
	u64 before, after;
	int i, ret;

	for (i = 0; i < GCA_FLUSH_ROUNDS; i++) {
		mutex_lock(&a->lock);
		before = a->heap.shaded;
		ret = gca_run_round(a, GCA_PHASE_MARK, GCA_STAGE_FLUSH,
				    GCA_WAIT_ACKED, true);
		after = a->heap.shaded;
		mutex_unlock(&a->lock);
		if (ret)
			return ret;
		if (after == before)
			break;
	}
	return 0;
}

/*
 * Mark termination and sweep start; the world is released at SWEEP.
 * With the threads held, at most one slice of marking is done: more than
 * that, and the threads go back to concurrent marking (flush rounds)
 * before termination is tried again (Go's gcMarkDone restarting), up to
 * GCA_MARK_TERM_RETRIES times; then the rest is drained with the threads
 * held, a slice per hold of a->lock (see the top of this file).
 */
static int gca_mark_termination(struct gca_arena *a)
{
	struct gca_heap *h = &a->heap;
	unsigned int retries = 0;
	int ret;

	for (;;) {
		mutex_lock(&a->lock);
		/* each thread flushes its buffer and cache, and is held */
		ret = gca_run_round(a, GCA_PHASE_MARK_TERM, GCA_STAGE_TERM,
				    GCA_WAIT_ACKED, false);
		/* -EINTR leaves the loop as a drain's does: unlocked below */
		if (!ret)
			ret = gca_drain_slice(a, GCA_DRAIN_BUDGET);
		if (ret != -EAGAIN || retries >= GCA_MARK_TERM_RETRIES)
			break;
		/* more than a slice: let the threads go, mark, try again */
		retries++;
		a->mark_term_retries++;
		mutex_unlock(&a->lock);
		ret = gca_flush_rounds(a);
		if (ret)
			return ret;
	}
	if (ret == -EAGAIN)
		ret = gca_drain_held(a);
	/* the queue is empty: this completes the mark (heap_marked) */
	if (!ret)
		ret = gca_mark_drain(h);
	if (!ret)
		trace_gcarena_mark_end(a->id, a->cycle, h->heap_marked,
				       h->marked_objects, h->scanned_bytes);
	if (!ret && (gca_arena_debug(a) & GCA_DEBUG_CHECKMARK))
		ret = gca_checkmark(a);
	if (ret) {
		mutex_unlock(&a->lock);
		return ret;
	}
	gca_sweep_begin(h);
	a->roots_bytes = a->cycle_roots_bytes;
	gca_cycle_update_pacer(a);
	gca_publish_phase(a, GCA_PHASE_SWEEP);
	mutex_unlock(&a->lock);
	wake_up_all(&a->cycle_wq);
	return 0;
}

static void gca_scavenge_after_sweep(struct gca_arena *a)
{
	struct gca_heap *h = &a->heap;
	s64 limit = gca_arena_memory_limit(a);
	u64 target;

	/* Go retains 10% over the heap goal, and 95% of the limit at most */
	target = a->next_gc;
	if (target < U64_MAX - target / 10)
		target += target / 10;
	if (limit > 0 && limit != GCA_MEMORY_LIMIT_NONE &&
	    target > (u64)limit - (u64)limit / 20)
		target = (u64)limit - (u64)limit / 20;
	target = max(target, h->heap_inuse);
	if (h->heap_backed > target)
		trace_gcarena_scavenge(a->id, gca_scavenge(h, target),
				       h->heap_backed);
}

static void gca_finish_cycle(struct gca_arena *a, enum gca_gc_reason reason)
{
	u32 i;

	lockdep_assert_held(&a->lock);
	gca_scavenge_after_sweep(a);
	if (reason == GCA_GC_FORCED || reason == GCA_GC_MANUAL)
		a->num_forced_gc++;
	a->num_gc++;
	/* Go's ring: PauseNs[(NumGC+255)%256] is the latest */
	i = (a->num_gc + GCA_NUM_PAUSE - 1) % GCA_NUM_PAUSE;
	a->pause_ns[i] = a->cycle_max_pause;
	a->last_gc_ns = ktime_get_real_ns();
	a->pause_end[i] = a->last_gc_ns;
	a->last_gc_jiffies = jiffies;
	if (a->request == reason)
		a->request = GCA_GC_NONE;
	gca_publish_phase(a, GCA_PHASE_OFF);
}

static void gca_run_cycle(struct gca_arena *a, enum gca_gc_reason reason)
{
	struct gca_heap *h = &a->heap;
	struct gca_sweep_result res = {};
	u64 t0 = ktime_get_ns();
	int ret;

	mutex_lock(&a->lock);
	/* 0, 1: finish the last sweep; clear the marks, mutators running */
	ret = gca_finish_sweep(a, &res);
	if (!ret)
		ret = gca_clear_marks(a);
	if (ret)
		goto abort_locked;

	/* 2: barrier on everywhere before anything is scanned */
	a->cycle++;
	a->assist_credit = 0;
	trace_gcarena_cycle_start(a->id, a->cycle, reason, h->heap_live);
	a->cycle_max_pause = 0;
	a->cycle_roots_bytes = 0;
	h->marking = true;
	gca_shade_cached(a);
	gca_new_scan(a);
	ret = gca_run_round(a, GCA_PHASE_MARK, GCA_STAGE_BARRIER,
			    GCA_WAIT_ACKED, false);
	if (ret)
		goto abort_locked;

	/* 3: stacks and roots, and the heap meanwhile */
	ret = gca_run_round(a, GCA_PHASE_MARK, GCA_STAGE_SCAN,
			    GCA_WAIT_SCANNED, true);
	if (ret)
		goto abort_locked;
	mutex_unlock(&a->lock);

	/* 3b: flush rounds while the mutators run */
	ret = gca_flush_rounds(a);
	if (ret)
		goto abort;

	/* 4: mark termination */
	ret = gca_mark_termination(a);
	if (ret)
		goto abort;

	/*
	 * 5: sweep, concurrently with the mutators.  First let the threads
	 * just released leave (Go starts the world, then sweeps): the sweep's
	 * slices would compete with them for a->lock and, on a busy machine,
	 * for the CPU, stretching the pause of each by the sweep's length.
	 */
	wait_event_freezable_timeout(a->gc_wq, !READ_ONCE(a->nin_handshake) ||
				     gca_collector_should_stop(a),
				     msecs_to_jiffies(GCA_RELEASE_WAIT_MS));
	memset(&res, 0, sizeof(res));
	mutex_lock(&a->lock);
	ret = gca_finish_sweep(a, &res);
	if (ret)
		goto abort_locked;
	a->gc_cpu_ns += ktime_get_ns() - t0;
	trace_gcarena_sweep_end(a->id, a->cycle, res.freed_bytes,
				res.freed_objects, res.freed_spans);
	gca_finish_cycle(a, reason);
	mutex_unlock(&a->lock);
	wake_up_all(&a->cycle_wq);
	pr_debug("arena %u: cycle %llu: marked %llu, freed %llu objects (%llu bytes)\n",
		 a->id, a->cycle, h->heap_marked, res.freed_objects,
		 res.freed_bytes);
	return;

abort:
	mutex_lock(&a->lock);
abort_locked:
	/*
	 * The arena is going away.  Nothing is freed after an unfinished
	 * mark: the next gca_mark_clear_begin() starts from scratch.
	 */
	h->marking = false;
	if (a->request == reason)
		a->request = GCA_GC_NONE;
	a->last_gc_jiffies = jiffies;
	gca_publish_phase(a, GCA_PHASE_OFF);
	mutex_unlock(&a->lock);
	wake_up_all(&a->cycle_wq);
}

static int gca_gc_thread(void *data)
{
	struct gca_arena *a = data;
	struct mem_cgroup *old_memcg;

	/* what it allocates (gray queue blocks) is the arena's process's */
	old_memcg = set_active_memcg(a->gc_memcg);
	set_freezable();
	while (!kthread_should_stop()) {
		enum gca_gc_reason reason;
		long timeout;

		timeout = (long)(a->last_gc_jiffies + GCA_FORCED_GC_PERIOD -
				 jiffies);
		wait_event_freezable_timeout(a->gc_wq,
					     kthread_should_stop() ||
					     READ_ONCE(a->request) ||
					     READ_ONCE(a->kick),
					     max(timeout, 1L));
		if (kthread_should_stop())
			break;
		mutex_lock(&a->lock);
		if (a->kick) {
			WRITE_ONCE(a->kick, false);
			gca_cycle_update_pacer(a);
		}
		/* Go's forcegc: a cycle at least every two minutes, unless off */
		if (time_after_eq(jiffies, a->last_gc_jiffies +
					   GCA_FORCED_GC_PERIOD)) {
			if (a->request == GCA_GC_NONE &&
			    gca_arena_gc_percent(a) >= 0)
				a->request = GCA_GC_FORCED;
			else if (a->request == GCA_GC_NONE)
				a->last_gc_jiffies = jiffies;
		}
		reason = a->request;
		mutex_unlock(&a->lock);
		if (reason != GCA_GC_NONE)
			gca_run_cycle(a, reason);
	}
	set_active_memcg(old_memcg);
	return 0;
}

/*
 * Start the arena's collector thread if it has none: called by the ioctls
 * that may need a cycle (an allocation, which may reach the trigger; a
 * requested cycle; new knobs), before they take a->lock.  Only these calls
 * and the thread itself make requests, so none waits for a thread that
 * is not there.
 *
 * The thread charges its allocations to the memory cgroup of the process
 * as it is now (the arena's; only its creator calls these ioctls).  The
 * thread itself, its task_struct and stack, cannot be charged to a memory
 * cgroup: what bounds the number of them is the number of arenas
 * (GCA_MAX_ARENAS_PER_MM per process, GCA_MAX_ARENAS_PER_USER per user
 * without CAP_SYS_RESOURCE, arena.c), and an arena that never allocates
 * has none.  0, or -ENOMEM or -EINTR (fatal signal) with no thread.
 */
int gca_cycle_need_thread(struct gca_arena *a)
{
	struct task_struct *tsk;
	struct mem_cgroup *memcg;
	int ret = 0;

	/* pairs with smp_store_release() below: one load once started */
	if (likely(smp_load_acquire(&a->gc_thread)))
		return 0;
	if (mutex_lock_killable(&a->gc_thread_lock))
		return -EINTR;
	if (a->gc_thread)
		goto out;
	memcg = get_mem_cgroup_from_mm(current->mm);
	/* not woken before a->gc_thread is set: gca_should_abort() reads it */
	tsk = kthread_create(gca_gc_thread, a, "gcarena/%u", a->id);
	if (IS_ERR(tsk)) {
		mem_cgroup_put(memcg);
		ret = PTR_ERR(tsk);
		goto out;
	}
	a->gc_memcg = memcg;
	/* pairs with smp_load_acquire() above: gc_memcg is set first */
	smp_store_release(&a->gc_thread, tsk);
	/*
	 * A module knob that changed while there was no thread to see it
	 * (gca_cycle_kick_all()) counts for the caller's allocation already.
	 */
	gca_lock_mutator(a);
	if (a->kick) {
		WRITE_ONCE(a->kick, false);
		gca_cycle_update_pacer(a);
	}
	mutex_unlock(&a->lock);
	wake_up_process(tsk);
out:
	mutex_unlock(&a->gc_thread_lock);
	return ret;
}

/* The arena is going away: no ioctl is in flight, none can start one. */
void gca_cycle_stop_thread(struct gca_arena *a)
{
	if (a->gc_thread) {
		kthread_stop(a->gc_thread);
		a->gc_thread = NULL;
	}
	mem_cgroup_put(a->gc_memcg);
	a->gc_memcg = NULL;
}
