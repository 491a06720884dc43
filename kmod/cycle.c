// SPDX-License-Identifier: GPL-2.0
/*
 * The collector: one kernel thread per arena runs each cycle, and the
 * process's threads meet it at handshakes.
 *
 * Why a thread per arena: an arena's cycle waits on that process's
 * threads, so a shared pool would let one slow or hostile process delay
 * every other arena's collections; the per-arena thread also makes the
 * collector's CPU time visible per process (top shows gcarena/<id>), and
 * arenas are few (GCA_MAX_ARENAS_PER_MM per process).
 *
 * A cycle, as Go's gcStart/gcMarkDone/gcSweep with the world stopped
 * (mutators are held for the whole mark; concurrent marking will release
 * them after their stacks are scanned):
 *
 *  1. STOP: hs_seq++ is published in the control page.  Every registered
 *     thread answers at its next safepoint with GCA_IOC_HANDSHAKE (giving
 *     back its cached spans) and is held in the kernel.  A thread that
 *     does not answer within GCA_PREEMPT_DELAY_MS is sent the arena's
 *     preempt signal, whose handler in the library answers (Go 1.14's
 *     asynchronous preemption); a thread that is exiting is dropped.
 *  2. MARK: with every thread held, mark bits are cleared and spans still
 *     cached are shaded (gca_mark_begin).  Each held thread scans its own
 *     stack from the sp it passed (copy_from_user, in its own context),
 *     and one of them scans the root ranges.  Then this thread drains
 *     the gray queue, reading the heap through kernel mappings.
 *  3. SWEEP: every unmarked object is freed; the pacer sets the next goal;
 *     free pages above the retained goal are released.
 *  4. OFF: held threads return to userspace.
 *
 * The pause of the cycle is from STOP to OFF.  All state lives in the
 * arena under arena->lock; mutators wait on cycle_wq and are woken at each
 * phase change (phase_gen), the collector waits on gc_wq.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/freezer.h>
#include <linux/kthread.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/timekeeping.h>
#include "gca_arena.h"

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
	a->next_gc = goal;
	a->gc_trigger = gca_pacer_trigger(goal, h->heap_marked);
	if (a->ctrl)
		WRITE_ONCE(a->ctrl->next_gc, goal);
}

/* Ask for a cycle if the heap has reached the trigger. */
void gca_cycle_check_trigger(struct gca_arena *a)
{
	lockdep_assert_held(&a->lock);
	if (a->request != GCA_GC_NONE || a->phase != GCA_PHASE_OFF)
		return;
	if (a->heap.heap_live >= a->gc_trigger) {
		a->request = GCA_GC_HEAP;
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
 * Waiting for the process's threads
 */

/* Drop threads that will never answer; signal those that are late. */
static void gca_reap_and_signal(struct gca_arena *a, bool want_scan)
{
	unsigned long delay = msecs_to_jiffies(GCA_PREEMPT_DELAY_MS);
	unsigned long resend = msecs_to_jiffies(GCA_PREEMPT_RESEND_MS);
	struct gca_thread *t, *n;

	lockdep_assert_held(&a->lock);
	list_for_each_entry_safe(t, n, &a->threads, node) {
		bool late = t->acked_seq != a->hs_seq ||
			    (want_scan && t->scanned_seq != a->hs_seq);

		if (!late)
			continue;
		if (gca_thread_gone(t)) {
			gca_thread_drop(a, t);
			continue;
		}
		if (!a->preempt_signal ||
		    time_before(jiffies, a->phase_jiffies + delay))
			continue;
		if (t->signalled_seq == a->hs_seq &&
		    time_before(jiffies, t->signalled_at + resend))
			continue;
		t->signalled_seq = a->hs_seq;
		t->signalled_at = jiffies;
		send_sig_info(a->preempt_signal, SEND_SIG_PRIV, t->task);
	}
}

static bool gca_all_acked(struct gca_arena *a)
{
	struct gca_thread *t;

	list_for_each_entry(t, &a->threads, node)
		if (t->acked_seq != a->hs_seq)
			return false;
	return true;
}

static bool gca_all_scanned(struct gca_arena *a)
{
	struct gca_thread *t;

	list_for_each_entry(t, &a->threads, node)
		if (t->scanned_seq != a->hs_seq)
			return false;
	return a->roots_scanned;
}

/*
 * Wait until done(a) holds.  -EINTR when the arena goes away, or when the
 * roots need a reader and no process thread is left to read them.
 */
static int gca_wait_threads(struct gca_arena *a, bool want_scan)
{
	for (;;) {
		bool done, stuck = false;
		u64 gen = READ_ONCE(a->wake_gen);

		mutex_lock(&a->lock);
		gca_reap_and_signal(a, want_scan);
		done = want_scan ? gca_all_scanned(a) : gca_all_acked(a);
		if (want_scan && !done && !a->nthreads && !a->collect_waiters)
			stuck = true;
		mutex_unlock(&a->lock);
		if (done)
			return 0;
		if (stuck || kthread_should_stop() || READ_ONCE(a->dying))
			return -EINTR;
		wait_event_timeout(a->gc_wq,
				   READ_ONCE(a->wake_gen) != gen ||
				   kthread_should_stop() || READ_ONCE(a->dying),
				   msecs_to_jiffies(GCA_PREEMPT_DELAY_MS));
	}
}

static void gca_wake_collector(struct gca_arena *a)
{
	WRITE_ONCE(a->wake_gen, a->wake_gen + 1);
	wake_up(&a->gc_wq);
}

/* ---------------------------------------------------------------------
 * The cycle
 */

static void gca_record_pause(struct gca_arena *a, u64 pause)
{
	u32 i;

	lockdep_assert_held(&a->lock);
	a->num_gc++;
	/* Go's ring: PauseNs[(NumGC+255)%256] is the latest */
	i = (a->num_gc + GCA_NUM_PAUSE - 1) % GCA_NUM_PAUSE;
	a->pause_ns[i] = pause;
	a->last_gc_ns = ktime_get_real_ns();
	a->pause_end[i] = a->last_gc_ns;
	a->pause_total_ns += pause;
	a->last_gc_jiffies = jiffies;
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
		gca_scavenge(h, target);
}

static void gca_run_cycle(struct gca_arena *a, enum gca_gc_reason reason)
{
	struct gca_heap *h = &a->heap;
	struct gca_sweep_result res = {};
	u64 t0 = ktime_get_ns(), tw;
	int ret;

	mutex_lock(&a->lock);
	a->hs_seq++;
	a->roots_scanned = !a->nroots;
	a->roots_claimed = false;
	a->cycle_roots_bytes = 0;
	a->phase_jiffies = jiffies;
	gca_publish_phase(a, GCA_PHASE_STOP);
	mutex_unlock(&a->lock);
	wake_up_all(&a->cycle_wq);

	/* 1. every thread stops, its cache given back */
	ret = gca_wait_threads(a, false);
	if (ret)
		goto abort;

	/* 2. stacks and roots, read by the held threads themselves */
	mutex_lock(&a->lock);
	gca_mark_begin(h);
	a->phase_jiffies = jiffies;
	gca_publish_phase(a, GCA_PHASE_MARK);
	mutex_unlock(&a->lock);
	wake_up_all(&a->cycle_wq);
	ret = gca_wait_threads(a, true);
	if (ret)
		goto abort;

	/* 3. the heap, through kernel mappings */
	tw = ktime_get_ns();
	mutex_lock(&a->lock);
	ret = gca_mark_drain(h);
	if (ret) {
		mutex_unlock(&a->lock);
		goto abort;
	}
	gca_publish_phase(a, GCA_PHASE_MARK_TERM);
	gca_publish_phase(a, GCA_PHASE_SWEEP);
	ret = gca_sweep(h, &res);
	a->roots_bytes = a->cycle_roots_bytes;
	gca_cycle_update_pacer(a);
	gca_scavenge_after_sweep(a);
	a->gc_cpu_ns += ktime_get_ns() - tw;
	if (reason == GCA_GC_FORCED || reason == GCA_GC_MANUAL)
		a->num_forced_gc++;
	gca_record_pause(a, ktime_get_ns() - t0);
	if (a->request == reason)
		a->request = GCA_GC_NONE;
	/* the trigger is checked at the next allocation, as Go does */
	gca_publish_phase(a, GCA_PHASE_OFF);
	mutex_unlock(&a->lock);
	wake_up_all(&a->cycle_wq);
	pr_debug("arena %u: cycle %u: marked %llu, freed %llu objects (%llu bytes)\n",
		 a->id, a->num_gc, h->heap_marked, res.freed_objects,
		 res.freed_bytes);
	return;

abort:
	/* nothing was freed: marks are cleared by the next gca_mark_begin */
	mutex_lock(&a->lock);
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
		if (a->request == GCA_GC_NONE && gca_arena_gc_percent(a) >= 0 &&
		    time_after_eq(jiffies, a->last_gc_jiffies +
					   GCA_FORCED_GC_PERIOD))
			a->request = GCA_GC_FORCED;
		if (a->request == GCA_GC_NONE && time_after_eq(jiffies,
				a->last_gc_jiffies + GCA_FORCED_GC_PERIOD))
			a->last_gc_jiffies = jiffies;
		reason = a->request;
		mutex_unlock(&a->lock);
		if (reason != GCA_GC_NONE)
			gca_run_cycle(a, reason);
	}
	return 0;
}

int gca_cycle_start_thread(struct gca_arena *a)
{
	struct task_struct *tsk;

	tsk = kthread_run(gca_gc_thread, a, "gcarena/%u", a->id);
	if (IS_ERR(tsk))
		return PTR_ERR(tsk);
	a->gc_thread = tsk;
	return 0;
}

void gca_cycle_stop_thread(struct gca_arena *a)
{
	if (a->gc_thread) {
		kthread_stop(a->gc_thread);
		a->gc_thread = NULL;
	}
}

/* ---------------------------------------------------------------------
 * The mutator's side: GCA_IOC_HANDSHAKE and GCA_IOC_COLLECT
 */

static int gca_scan_own_stack(struct gca_arena *a, struct gca_thread *t,
			      u64 sp)
{
	u64 lo = t->stack_lo, hi = t->stack_hi;

	/*
	 * sp is untrusted.  Outside the registered stack (a handler on an
	 * alternate stack, or a lie) the whole stack is scanned.
	 */
	if (sp < lo || sp > hi)
		sp = lo;
	return gca_scan_user_range(a, sp, hi - sp);
}

/*
 * Answer handshakes and, with collect, wait until a full cycle that began
 * after the call has ended.  t is NULL for an unregistered caller of
 * GCA_IOC_COLLECT (it may still read the root ranges for the collector).
 */
int gca_handshake(struct gca_arena *a, struct gca_thread *t,
		  const struct gca_handshake *hs, bool collect)
{
	u32 target = 0;
	int ret = 0, err;

	if (t && hs->nspans) {
		ret = gca_give_back_spans(a, t, hs->spans, hs->nspans);
		if (ret && ret != -EINVAL)
			return ret;
	}
	mutex_lock(&a->lock);
	if (collect) {
		/* a cycle already under way may have missed earlier stores */
		target = a->num_gc + (a->phase == GCA_PHASE_OFF ? 1 : 2);
		if (a->request == GCA_GC_NONE || a->phase != GCA_PHASE_OFF)
			a->request = GCA_GC_MANUAL;
		a->collect_waiters++;
		gca_wake_collector(a);
	}
	for (;;) {
		u64 gen;
		bool scan_stack = false, scan_roots = false;

		if (t && a->phase == GCA_PHASE_STOP &&
		    t->acked_seq != a->hs_seq) {
			t->acked_seq = a->hs_seq;
			gca_wake_collector(a);
		}
		if (a->phase == GCA_PHASE_MARK) {
			if (t && t->acked_seq == a->hs_seq &&
			    t->scanned_seq != a->hs_seq)
				scan_stack = true;
			if (!a->roots_claimed && !a->roots_scanned) {
				a->roots_claimed = true;
				scan_roots = true;
			}
		}
		if (scan_stack || scan_roots) {
			u64 seq = a->hs_seq, t0 = ktime_get_ns();

			mutex_unlock(&a->lock);
			err = 0;
			if (scan_roots)
				err = gca_scan_roots(a);
			if (scan_stack && !err)
				err = gca_scan_own_stack(a, t, hs->sp);
			mutex_lock(&a->lock);
			a->gc_cpu_ns += ktime_get_ns() - t0;
			if (scan_roots) {
				a->roots_claimed = false;
				if (!err && a->hs_seq == seq)
					a->roots_scanned = true;
			}
			if (scan_stack && !err && a->hs_seq == seq)
				t->scanned_seq = seq;
			gca_wake_collector(a);
			if (err) {
				ret = err;
				break;
			}
			continue;
		}
		/* an aborted cycle does not count: ask again */
		if (collect && a->num_gc < target &&
		    a->phase == GCA_PHASE_OFF && a->request == GCA_GC_NONE) {
			a->request = GCA_GC_MANUAL;
			gca_wake_collector(a);
		}
		if (collect ? (a->num_gc >= target) :
			      (a->phase == GCA_PHASE_OFF || !t ||
			       t->acked_seq != a->hs_seq))
			break;
		if (a->dying) {
			ret = -EINTR;
			break;
		}
		gen = a->phase_gen;
		mutex_unlock(&a->lock);
		err = wait_event_interruptible(a->cycle_wq,
					       READ_ONCE(a->phase_gen) != gen ||
					       READ_ONCE(a->dying));
		mutex_lock(&a->lock);
		/*
		 * -EINTR, not -ERESTARTSYS: the spans were taken back, so a
		 * transparent restart would give them back twice.  The
		 * library answers again, without spans.
		 */
		if (err) {
			ret = -EINTR;
			break;
		}
	}
	if (collect)
		a->collect_waiters--;
	mutex_unlock(&a->lock);
	return ret;
}
