// SPDX-License-Identifier: GPL-2.0
/*
 * The mutator's side of a cycle: what a process thread does in the module
 * when it meets the collector.  The cycle, its stages and the rounds the
 * collector thread waits for are cycle.c's (see the design comment there).
 *
 * A thread answers a handshake round at its next safepoint, in
 * gca_handshake() (GCA_IOC_HANDSHAKE; ioctl.c has flushed its barrier
 * buffer and taken its cached spans back first).  Past the barrier stage
 * it first scans its own stack if the scan in force has not, with
 * copy_from_user() in its own context; then it records its answer
 * (acked_seq, and barrier_cycle: from then on it may allocate black,
 * gca_mutator_may_allocate()), takes whatever scanning work of the stage
 * is still free (gca_help_scan()), and at mark termination stays held,
 * waiting on cycle_wq, until the phase moves on.  A thread about to block
 * parks instead (GCA_HS_PARK): its answers are taken as given until it
 * comes back with a handshake without the flag, but its stack, from the
 * park's sp, is still due at every scan: it scans it as it parks if due
 * (gca_park_scan()), otherwise whichever thread comes first does
 * (gca_help_scan(): a process thread, or the collector thread through
 * the mm's page tables, gca_collector_help() in cycle.c).
 * A thread's scan covers its stack from the sp it was scanned at up; one
 * that answers or parks later in the mark with a deeper sp scans what lies
 * in between first (gca_stack_grew()), so that by mark termination the
 * mark has read every part of the stack checkmark's re-scan will read,
 * though not what was written into a part after it was read: dead
 * registers a call or a signal frame spills there are still read by
 * checkmark alone (a false miss that stays, README "Reliability").
 * GCA_IOC_COLLECT runs the same loop, from a registered thread or not,
 * until a full cycle begun after the call has ended, helping meanwhile.
 * A thread that allocates during the mark owes marking work for it
 * (gca_mark_assist()).
 *
 * Locking: a->lock is taken as a mutator's (gca_lock_mutator()) and
 * dropped around every read of a stack or root range, whose page fault
 * would take mmap_lock inside it (the lock order, gcarena_private.h).  What was
 * read under the lock before is checked again after: a new scan may have
 * begun (scan_id), a parked thread may have come back or gone (looked up
 * again by tid).  Meanwhile park_claimed and roots_claimed keep a second
 * scanner off the same stack or roots, and the caller's own thread is
 * pinned by its ioctl (t->busy).
 *
 * Time a thread spends here for the collector is a pause
 * (gca_record_pause()): a handshake that did work, from entry to exit; a
 * park's scan; an assist.  For GCA_IOC_COLLECT only its pieces of work
 * and its hold at mark termination count: waiting for a cycle one asked
 * for is not a pause.
 *
 * Checkmark's re-mark rescans the stacks of the held threads (cycle.c,
 * stage 4).  A thread held by an answer from its preempt signal handler
 * passes the part of its stack that holds only the handler's frames and
 * the signal frame (regs_lo, regs_hi), and the re-mark leaves it out.
 * What is there is the interrupted context's registers, as the signal
 * frame saved them and as the handler's frames spill its callee-saved
 * ones, and the handler's own words, some of them uninitialised slots
 * over dead stack.  The concurrent mark saw those registers only if the
 * scan round was answered from a handler too; a call's answer hides the
 * caller-saved ones (the vector registers above all, where memmove()
 * leaves stale copies) because they are dead there.  A register live at
 * mark termination held its value at the scan (then a call's answer
 * spilled it, or a handler's frame showed it) or loaded it later from the
 * heap (then the barrier keeps the object): so leaving it out hides no
 * real miss, and counting it would report stale words as misses.  The
 * mark itself always scans all of it.
 */
#include <linux/ktime.h>
#include <linux/math64.h>
#include <linux/overflow.h>
#include "gcarena_private.h"
#include "gcarena_trace.h"

/*
 * May t take a span or a large object now?  Allocation during marking is
 * black, which is sound only once the thread's barrier is on; at mark
 * termination the thread must answer and be held first.
 */
int gca_mutator_may_allocate(struct gca_arena *a, struct gca_thread *t)
{
	lockdep_assert_held(&a->lock);
	if (t->parked)
		return -EAGAIN;
	switch (a->phase) {
	case GCA_PHASE_MARK:
		return t->barrier_cycle == a->cycle ? 0 : -EAGAIN;
	case GCA_PHASE_MARK_TERM:
		return -EAGAIN;
	default:
		return 0;
	}
}

/*
 * Go's mark assist: a thread that allocates during marking does marking
 * itself, on its own CPU, in proportion to what it allocated (bytes, the
 * growth of heap_live since live0, its value before the allocation).  The ratio is Go's assist ratio
 * (gcController.revise): the scan work still expected this cycle (what
 * the last mark found, less what this one has scanned) over the heap
 * still allowed before the goal.  Without it the mutators allocated
 * freely until the goal while the marker worked; everything allocated
 * during the mark is black, so a long mark made a third more floating
 * garbage than live data (heapover, GOGC 100), and the next goal grew
 * with it.  Past the goal, or with no estimate left, a full budget.
 *
 * As Go's gcAssistBytes, the work owed accumulates in the thread, is
 * paid first from the collector thread's own progress (a->assist_credit)
 * and otherwise GCA_ASSIST_BUDGET at a time: an assist is a pause, and
 * one per refill made thousands of small pauses per cycle.  Each is also bounded
 * in time (GCA_ASSIST_MAX_NS), checked every GCA_ASSIST_STEP bytes: a
 * byte costs more to scan in a big heap (cache and TLB misses; under
 * TCG its software TLB), and the pause must not grow with the heap.
 */
void gca_mark_assist(struct gca_arena *a, struct gca_thread *t, u64 live0)
{
	struct gca_heap *h = &a->heap;
	u64 t0, start, work, left, owed;
	u64 bytes = h->heap_live > live0 ? h->heap_live - live0 : 0;

	lockdep_assert_held(&a->lock);
	if (a->phase != GCA_PHASE_MARK || a->stage == GCA_STAGE_BARRIER ||
	    !bytes)
		return;
	if (t->assist_cycle != a->cycle) {
		t->assist_cycle = a->cycle;
		t->assist_debt = 0;
	}
	left = h->heap_marked > h->scanned_bytes ?
	       h->heap_marked - h->scanned_bytes : 0;
	if (!left && h->heap_live < a->next_gc)
		return;
	/*
	 * bytes * left / runway, saturated at the budget.  Not with
	 * mul_u64_u64_div_u64(): the process chooses bytes and how close
	 * heap_live gets to the goal, and a quotient beyond 64 bits traps
	 * (divq) on x86-64.
	 */
	if (h->heap_live >= a->next_gc ||
	    check_mul_overflow(bytes, left, &owed))
		owed = GCA_ASSIST_BUDGET;
	else
		owed = div64_u64(owed, a->next_gc - h->heap_live);
	/* first saturated, so that the sum below cannot wrap */
	owed = min_t(u64, owed, GCA_ASSIST_BUDGET);
	t->assist_debt = min_t(u64, t->assist_debt + owed,
			       GCA_ASSIST_BUDGET);
	/*
	 * Before the goal the collector's work pays first (Go's
	 * bgScanCredit); past it, the mutators assist whatever the
	 * collector does: the heap must not outgrow the goal.
	 */
	if (h->heap_live < a->next_gc) {
		owed = min(t->assist_debt, a->assist_credit);
		t->assist_debt -= owed;
		a->assist_credit -= owed;
	}
	if (t->assist_debt < GCA_ASSIST_BUDGET)
		return;

	t0 = ktime_get_ns();
	start = h->scanned_bytes;
	work = h->mark_work;
	while (gca_mark_drain_some(h, GCA_ASSIST_STEP) == -EAGAIN &&
	       h->mark_work - work < t->assist_debt &&
	       !atomic_read(&a->lock_waiters) &&
	       ktime_get_ns() - t0 < GCA_ASSIST_MAX_NS)
		;
	a->mark_slice_max = max(a->mark_slice_max, h->mark_work - work);
	t->assist_debt -= min(t->assist_debt, h->scanned_bytes - start);
	t0 = ktime_get_ns() - t0;
	a->assist_ns += t0;
	a->gc_cpu_ns += t0;
	gca_record_pause(a, t0);
}

/*
 * Where a scan of the stack [lo, hi) from sp begins.  sp is untrusted:
 * outside the registered stack (a handler on an alternate stack, or a
 * lie) the whole stack is scanned.
 */
static u64 gca_stack_start(u64 lo, u64 hi, u64 sp)
{
	return sp < lo || sp > hi ? lo : sp;
}

/*
 * Scan a stack from sp up to hi, leaving out [skip_lo, skip_hi) (a
 * signal handler's frames and registers, for checkmark: see the top).
 * mm: NULL from a process thread, else the collector's (roots.c).
 */
static int gca_scan_stack(struct gca_arena *a, struct mm_struct *mm,
			  u64 lo, u64 hi, u64 sp, u64 skip_lo, u64 skip_hi)
{
	int ret = 0;

	/* the skip is untrusted too: clamped to what is scanned */
	sp = gca_stack_start(lo, hi, sp);
	skip_lo = clamp(skip_lo, sp, hi);
	skip_hi = clamp(skip_hi, skip_lo, hi);
	if (skip_lo > sp)
		ret = gca_scan_user_range(a, mm, sp, skip_lo - sp,
					  GCA_CK_FROM_STACK);
	if (!ret && skip_hi < hi)
		ret = gca_scan_user_range(a, mm, skip_hi, hi - skip_hi,
					  GCA_CK_FROM_STACK);
	return ret;
}

static struct gca_thread *gca_thread_by_tid(struct gca_arena *a, u32 tid)
{
	struct gca_thread *t;

	list_for_each_entry(t, &a->threads, node)
		if (t->tid == tid)
			return t;
	return NULL;
}

/*
 * Scanning work any process thread can do for the cycle: the root ranges
 * and the stacks of parked threads; and the collector thread too, with
 * mm (see gca_collector_help()).  Called with a->lock held; drops it
 * around the scan.  Returns 1 if it did some work, 0 if none, or -errno.
 */
int gca_help_scan(struct gca_arena *a, struct mm_struct *mm)
{
	u64 scan = a->scan_id, lo, hi, sp;
	struct gca_thread *p;
	bool found = false;
	u32 tid = 0;
	int err;

	lockdep_assert_held(&a->lock);
	/* nothing is scanned before every barrier is on */
	if ((a->phase != GCA_PHASE_MARK && a->phase != GCA_PHASE_MARK_TERM) ||
	    a->stage == GCA_STAGE_BARRIER)
		return 0;
	if (!a->roots_claimed && !a->roots_scanned) {
		a->roots_claimed = true;
		mutex_unlock(&a->lock);
		err = gca_scan_roots(a, mm);
		gca_lock_mutator(a);
		a->roots_claimed = false;
		if (!err && a->scan_id == scan)
			a->roots_scanned = true;
		gca_wake_collector(a);
		return err ? err : 1;
	}
	list_for_each_entry(p, &a->threads, node) {
		if (p->parked && !p->park_claimed &&
		    p->scanned_cycle != scan) {
			p->park_claimed = true;
			tid = p->tid;
			lo = p->stack_lo;
			hi = p->stack_hi;
			sp = p->park_sp;
			found = true;
			break;
		}
	}
	if (!found)
		return 0;
	mutex_unlock(&a->lock);
	err = gca_scan_stack(a, mm, lo, hi, sp, 0, 0);
	gca_lock_mutator(a);
	/* it may have unparked or gone meanwhile: look it up again */
	p = gca_thread_by_tid(a, tid);
	if (p) {
		p->park_claimed = false;
		if (!err && p->parked && a->scan_id == scan) {
			p->scanned_cycle = scan;
			p->scanned_sp = gca_stack_start(lo, hi, sp);
		}
	}
	gca_wake_collector(a);
	return err ? err : 1;
}

/*
 * Has t's stack grown below what the scan in force covered (t scanned in
 * it, now at sp)?  Then the words in between are scanned too, before t
 * answers or parks: during a mark, what a thread's stack has had scanned
 * only grows.  What lies there is new frames, and dead stack they did
 * not overwrite: stale words the hybrid barrier does not need to see (a
 * pointer a thread loads after its scan names an object marked already,
 * or allocated black), but which checkmark's re-scan from where the
 * thread is held at mark termination reads.  Unscanned, a stale word
 * naming a dead object that the mark left white counts as a miss there.
 * Not during checkmark's own re-scan (heap.checking), which reads the
 * stacks whole.
 */
static bool gca_stack_grew(struct gca_arena *a, struct gca_thread *t, u64 sp)
{
	lockdep_assert_held(&a->lock);
	return !a->heap.checking && t->scanned_cycle == a->scan_id &&
	       gca_stack_start(t->stack_lo, t->stack_hi, sp) < t->scanned_sp;
}

/*
 * t parks while its stack is due for scanning (it had not answered the
 * scan round yet), or below where it was scanned (gca_stack_grew()):
 * scan it now, from the park's sp.  Left to the others, the scan would
 * wait for another thread's next handshake, which may not come before
 * this cycle's end, which is waiting for it.  Called with a->lock held;
 * drops it around the scan.
 */
static void gca_park_scan(struct gca_arena *a, struct gca_thread *t)
{
	u64 scan = a->scan_id, t0, sp, hi = t->stack_hi;
	int err;

	if ((a->phase != GCA_PHASE_MARK && a->phase != GCA_PHASE_MARK_TERM) ||
	    a->stage == GCA_STAGE_BARRIER || t->park_claimed)
		return;
	if (gca_stack_grew(a, t, t->park_sp))
		hi = t->scanned_sp;
	else if (t->scanned_cycle == scan)
		return;
	sp = gca_stack_start(t->stack_lo, t->stack_hi, t->park_sp);
	t->park_claimed = true;
	t0 = ktime_get_ns();
	mutex_unlock(&a->lock);
	err = gca_scan_stack(a, NULL, t->stack_lo, hi, sp, 0, 0);
	gca_lock_mutator(a);
	/* t is the caller's own, pinned by its ioctl (t->busy) */
	t->park_claimed = false;
	gca_record_pause(a, ktime_get_ns() - t0);
	if (!err && t->parked && a->scan_id == scan) {
		t->scanned_cycle = scan;
		t->scanned_sp = sp;
	}
}

/*
 * t's stack is due for the scan in force, or has grown below it
 * (gca_stack_grew()): scan it, or what is new, from the sp it answers
 * at, in its own context (copy_from_user()); under checkmark without a
 * signal handler's frames and registers (see the top of this file).
 * Called with a->lock held; drops it around the scan.  0 or -errno.
 */
static int gca_scan_own_stack(struct gca_arena *a, struct gca_thread *t,
			      const struct gca_handshake *hs, bool collect)
{
	u64 scan = a->scan_id, lo = t->stack_lo, hi = t->stack_hi;
	u64 sp = gca_stack_start(lo, hi, hs->sp);
	u64 ts = ktime_get_ns(), skip_lo = 0, skip_hi = 0;
	int err;

	lockdep_assert_held(&a->lock);
	if (gca_stack_grew(a, t, sp)) {
		hi = t->scanned_sp;
	} else if (a->heap.checking) {
		skip_lo = hs->regs_lo;
		skip_hi = hs->regs_hi;
	}
	mutex_unlock(&a->lock);
	err = gca_scan_stack(a, NULL, lo, hi, sp, skip_lo, skip_hi);
	gca_lock_mutator(a);
	/* gca_collect()'s caller records its pieces of work */
	if (collect)
		gca_record_pause(a, ktime_get_ns() - ts);
	if (!err && a->scan_id == scan) {
		t->scanned_cycle = scan;
		t->scanned_sp = sp;
	}
	gca_wake_collector(a);
	return err;
}

/*
 * Nothing more to do in this phase: wait for the next phase change (held
 * at mark termination, or GCA_IOC_COLLECT waiting for its cycles).
 * *held_since is when the caller's hold at mark termination began, 0
 * when it is not held.  Called and returns with a->lock held; drops it
 * for the wait.  0 or -EINTR.
 */
static int gca_handshake_wait(struct gca_arena *a, struct gca_thread *t,
			      bool collect, u64 *held_since)
{
	u64 gen;
	int err;

	lockdep_assert_held(&a->lock);
	if (a->dying)
		return -EINTR;
	if (t && a->phase == GCA_PHASE_MARK_TERM && !*held_since)
		*held_since = ktime_get_ns();
	if (*held_since && a->phase != GCA_PHASE_MARK_TERM) {
		/* released: the hold is recorded in its own cycle */
		if (collect)
			gca_record_pause(a, ktime_get_ns() - *held_since);
		*held_since = 0;
	}
	gen = a->phase_gen;
	mutex_unlock(&a->lock);
	err = wait_event_interruptible(a->cycle_wq,
				       READ_ONCE(a->phase_gen) != gen ||
				       READ_ONCE(a->dying));
	gca_lock_mutator(a);
	/*
	 * -EINTR, not -ERESTARTSYS: the spans were taken back, so a
	 * transparent restart would give them back twice.  The library
	 * answers again, without spans.
	 */
	return err ? -EINTR : 0;
}

/*
 * gca_handshake()'s rounds: answer each round in force and do its work
 * until the handshake is over (the caller no longer held at mark
 * termination; with collect, once the cycle number reaches target).
 * *worked is set if the caller did work for the collector.  Called and
 * returns with a->lock held; drops it around scans and waits.  0 or
 * -errno.
 */
static int gca_answer_rounds(struct gca_arena *a, struct gca_thread *t,
			     const struct gca_handshake *hs, bool collect,
			     u64 target, bool *worked)
{
	u64 held_since = 0, ts;
	int ret;

	for (;;) {
		bool in_cycle = a->phase == GCA_PHASE_MARK ||
				a->phase == GCA_PHASE_MARK_TERM;

		/*
		 * A stack due for scanning is scanned before the round is
		 * answered: the collector may end the mark as soon as the
		 * last thread answers mark termination, and a thread that
		 * registered after the scan stage (its stack still due)
		 * would shade what it holds after the final drain.
		 */
		if (t && in_cycle && a->stage != GCA_STAGE_BARRIER &&
		    (t->scanned_cycle != a->scan_id ||
		     gca_stack_grew(a, t, hs->sp))) {
			*worked = true;
			ret = gca_scan_own_stack(a, t, hs, collect);
			if (ret)
				return ret;
			continue;
		}
		if (t && in_cycle && t->acked_seq != a->hs_seq) {
			t->acked_seq = a->hs_seq;
			t->barrier_cycle = a->cycle;
			*worked = true;
			gca_wake_collector(a);
		}
		ts = ktime_get_ns();
		ret = gca_help_scan(a, NULL);
		if (ret > 0 && collect)
			gca_record_pause(a, ktime_get_ns() - ts);
		if (ret < 0)
			return ret;
		if (ret > 0) {
			*worked = true;
			continue;
		}
		/* an aborted cycle does not count: ask again */
		if (collect && a->num_gc < target &&
		    a->phase == GCA_PHASE_OFF && a->request == GCA_GC_NONE) {
			a->request = GCA_GC_MANUAL;
			gca_wake_collector(a);
		}
		if (collect ? a->num_gc >= target :
			      (!t || a->phase != GCA_PHASE_MARK_TERM))
			return 0;
		ret = gca_handshake_wait(a, t, collect, &held_since);
		if (ret)
			return ret;
	}
}

/*
 * GCA_IOC_HANDSHAKE and GCA_IOC_COLLECT.  The barrier buffer and the
 * spans have been taken back by the caller.  Answer the round in force
 * and do its work; at mark termination stay held until sweeping starts.
 * With collect, also wait until a full cycle that began after the call
 * has ended.  t is NULL for an unregistered caller of GCA_IOC_COLLECT (it
 * may still scan roots and parked stacks for the collector).
 */
int gca_handshake(struct gca_arena *a, struct gca_thread *t,
		  const struct gca_handshake *hs, bool collect)
{
	u64 t0 = ktime_get_ns();
	bool worked = false;
	u64 target = 0;
	int ret;

	gca_lock_mutator(a);
	if (t) {
		trace_gcarena_handshake_start(a->id, t->tid, a->hs_seq,
					      a->phase);
		t->in_handshake = true;
		a->nin_handshake++;
	}
	if (t) {
		t->parked = hs->flags & GCA_HS_PARK;
		if (t->parked) {
			/* it answers for itself until it comes back */
			t->park_sp = hs->sp;
			gca_park_scan(a, t);
			gca_wake_collector(a);
			trace_gcarena_handshake_end(a->id, t->tid, a->hs_seq,
						    a->phase);
			t->in_handshake = false;
			a->nin_handshake--;
			mutex_unlock(&a->lock);
			return 0;
		}
	}
	if (collect) {
		/* a cycle already under way may have missed earlier stores */
		target = a->num_gc + (a->phase == GCA_PHASE_OFF ? 1 : 2);
		a->request = GCA_GC_MANUAL;
		a->collect_waiters++;
		gca_wake_collector(a);
	}
	ret = gca_answer_rounds(a, t, hs, collect, target, &worked);
	if (collect)
		a->collect_waiters--;
	/*
	 * A handshake is a pause from entry to exit (the barrier buffer and
	 * the cache were flushed just before: ioctl.c adds that time).  For
	 * gca_collect() only its pieces of work count (gca_answer_rounds()
	 * records them): waiting for a cycle one asked for is not a pause.
	 */
	if (t && !collect && worked)
		gca_record_pause(a, ktime_get_ns() - t0);
	if (t) {
		trace_gcarena_handshake_end(a->id, t->tid, a->hs_seq, a->phase);
		t->in_handshake = false;
		/* the collector may be waiting for the held to leave */
		if (!--a->nin_handshake && a->phase == GCA_PHASE_SWEEP)
			gca_wake_collector(a);
	}
	mutex_unlock(&a->lock);
	return ret;
}
