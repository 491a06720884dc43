// SPDX-License-Identifier: GPL-2.0
/*
 * Marking, after Go's src/runtime/mgcmark.go (greyobject, scanobject,
 * scanblock) and mgcwork.go (the gray queue), for a heap whose contents
 * are untrusted.
 *
 * Tri-color marking with an explicit gray queue, never recursion: an
 * object is black once its mark bit is set and it has been scanned, gray
 * while it waits on the queue.  gca_mark_word() shades (greyobject); the
 * drain loop scans (scanobject).  The process runs while we mark: its
 * threads' pointer stores go through the hybrid write barrier, whose
 * buffers reach gca_mark_words() when flushed (kmod/roots.c), and a
 * thread that bypasses the barrier, or is hostile, may write any word
 * under our feet.  So every word is read once with READ_ONCE and used
 * only as a number: a racing store can cost its own process an object
 * (checkmark counts such misses), never the kernel its safety.
 *
 * Marking is conservative, as scanblock with no pointer bitmap: every
 * 8-byte word of a scannable object is a candidate pointer, and it marks
 * an object only if it points inside an allocated object of an in-use
 * span:
 *
 *  - off = word - user_base wraps for words below the heap and then fails
 *    the bounds check in gca_span_of(), like any offset past grown_pages;
 *  - interior pointers count (Go's findObject): any byte of an object;
 *  - the slot index is computed with Go 1.21's divMul, and a word in the
 *    tail waste of a span (index >= nelems) is no pointer;
 *  - slots of a cached span that were handed to the thread's cache count
 *    as allocated: the thread may have used them since.
 *
 * gca_mark_begin() treats every slot of a cached span that is allocated
 * or in its cache as a root (marked and queued): the kernel cannot tell
 * which of them the thread uses.
 *
 * Large objects are scanned in GCA_OBLET_SIZE pieces (Go's oblets,
 * maxObletBytes in mgcmark.go): the entry for the object's start queues
 * the other pieces, so one huge object neither blocks the queue nor runs
 * long between cond_resched() calls.
 *
 * The gray queue is LIFO blocks of GCA_GRAY_BLOCK_ENTRIES offsets, taken
 * without sleeping and capped at max_blocks.  When a push finds no block
 * the object stays marked but unqueued and "overflow" is set (the scheme
 * of the Boehm collector's mark-stack overflow): once the queue is empty,
 * a recovery round rescans every marked object of every scannable span,
 * which queues again whatever it newly marks, and another round follows
 * while a push overflowed meanwhile.  Each round that overflows has
 * marked at least one new object, so recovery terminates.
 *
 * A round is resumable: its position (span, slot, byte in the object) is
 * kept in the gray queue (rescan, rescan_idx, rescan_in), and one step
 * of it is at most one oblet scanned or one span's bitmap looked at.
 * gca_mark_drain_some() interleaves steps with the queue (the queue
 * first, so that it stays short) within its budget, so a round over a
 * heap of any size is as many bounded slices as it needs, the caller's
 * lock dropped between them.  Meanwhile spans join h->inuse at its head
 * only (the walk does not see them: allocated black, nothing of theirs is
 * waiting for a rescan) and none leaves it (only sweeping frees spans);
 * a push that overflows meanwhile, behind the cursor, gets the next
 * round.
 */
#include "gca_core.h"

/*
 * Smallest backing page a host uses: when ops->map() finds none, skip to
 * the next boundary of this size.
 */
#define GCA_MAP_GRAIN		4096ULL

/*
 * Blocks are charged to the marking process's memory cgroup; when that
 * fails (the group is at its limit, and a charge without sleeping cannot
 * reclaim), the first few blocks of the queue are taken uncharged: with
 * none, every push would overflow and the mark would be all recovery,
 * rescanning the marked heap once per level of the object graph, at the
 * very moment the process most needs its garbage collected.  At most this
 * many uncharged blocks exist at once (one is taken only while fewer
 * blocks than this exist), 16 KiB per heap.
 */
#define GCA_GRAY_UNCHARGED	4ULL

static void gca_gray_account(struct gca_heap *h, s64 nblocks)
{
	h->gray.nblocks += nblocks;
	h->meta_bytes += nblocks * (s64)sizeof(struct gca_gray_block);
}

/* Push the offset of a marked, scannable object (or oblet). */
static bool gca_gray_push(struct gca_heap *h, u64 off)
{
	struct gca_grayq *q = &h->gray;
	struct gca_gray_block *b = q->head;

	if (unlikely(!b || b->n == GCA_GRAY_BLOCK_ENTRIES)) {
		if (q->spare) {
			b = q->spare;
			q->spare = NULL;
		} else {
			b = NULL;
			if (q->nblocks < q->max_blocks)
				b = gca_alloc_nowait(sizeof(*b), true);
			/* see GCA_GRAY_UNCHARGED */
			if (!b && q->nblocks < min(q->max_blocks,
						   GCA_GRAY_UNCHARGED))
				b = gca_alloc_nowait(sizeof(*b), false);
			if (!b) {
				q->overflow = true;
				return false;
			}
			gca_gray_account(h, 1);
		}
		b->n = 0;
		b->next = q->head;
		q->head = b;
	}
	b->ent[b->n++] = off;
	return true;
}

static bool gca_gray_pop(struct gca_heap *h, u64 *off)
{
	struct gca_grayq *q = &h->gray;
	struct gca_gray_block *b;

	while ((b = q->head) && b->n == 0) {
		q->head = b->next;
		if (!q->spare) {
			q->spare = b;
		} else {
			kfree(b);
			gca_gray_account(h, -1);
		}
	}
	if (!b)
		return false;
	*off = b->ent[--b->n];
	return true;
}

static void gca_gray_free_all(struct gca_grayq *q, s64 *freed)
{
	struct gca_gray_block *b;

	while ((b = q->head)) {
		q->head = b->next;
		kfree(b);
		(*freed)++;
	}
	if (q->spare)
		(*freed)++;
	kfree(q->spare);
	q->spare = NULL;
	q->overflow = false;
	q->rescan = NULL;
}

void gca_grayq_destroy(struct gca_grayq *q)
{
	/* The only gray queue is a heap's, whose meta_bytes counts blocks. */
	struct gca_heap *h = container_of(q, struct gca_heap, gray);
	s64 freed = 0;

	gca_gray_free_all(q, &freed);
	gca_gray_account(h, -freed);
}

/* Slot index of byte offset off of span s (Go's mspan.objIndex). */
static inline u64 gca_obj_index(const struct gca_span *s, u64 off)
{
	return ((off - (s->start << GCA_PAGE_SHIFT)) * s->divmul) >> 32;
}

/* Allocated, or possibly allocated by the thread caching the span. */
static inline u64 gca_live_bits(const struct gca_span *s, u64 w)
{
	return s->alloc_bits[w] | (s->cached ? s->cache_bits[w] : 0);
}

/* The host's rate limit on checkmark lines (ops->may_log). */
static bool gca_may_log(struct gca_heap *h)
{
	return !h->ops->may_log || h->ops->may_log(h);
}

/*
 * Checkmark: the re-mark reached slot idx of s, which the concurrent mark
 * left white.  Log where from, for the first few: an object found only
 * through another missed one is a consequence, the others are causes.
 */
static void gca_checkmark_report(struct gca_heap *h, struct gca_span *s,
				 u64 idx)
{
	u64 from = h->ck_from, off = (s->start << GCA_PAGE_SHIFT) +
				     idx * s->elemsize;
	struct gca_span *ps;
	u64 pidx;

	if (h->ck_reported >= GCA_CK_REPORT_MAX)
		return;
	if (from >= GCA_CK_FROM_CACHE) {
		if (!gca_may_log(h))
			return;
		h->ck_reported++;
		pr_warn("checkmark: object at heap offset %llu (size %llu, spanclass %u) missed, found from %s\n",
			off, s->elemsize, s->spanclass,
			from == GCA_CK_FROM_STACK ? "a thread's stack" :
			from == GCA_CK_FROM_RANGE ? "a root range" :
			from == GCA_CK_FROM_CACHE ? "a cached span's slots" :
			"a root");
		return;
	}
	ps = gca_span_of(h, from);
	if (!ps)
		return;
	pidx = gca_obj_index(ps, from);
	if (pidx >= ps->nelems ||
	    !(ps->check_bits[pidx / 64] & (1ULL << (pidx % 64))))
		return;		/* the parent was missed too */
	if (!gca_may_log(h))
		return;
	h->ck_reported++;
	pr_warn("checkmark: object at heap offset %llu (size %llu, spanclass %u) missed, found in marked object at %llu (size %llu, spanclass %u, cached %d)\n",
		off, s->elemsize, s->spanclass,
		(ps->start << GCA_PAGE_SHIFT) + pidx * ps->elemsize,
		ps->elemsize, ps->spanclass, ps->cached);
}

/* Mark slot idx of s; queue it if newly marked and scannable. */
static void gca_shade(struct gca_heap *h, struct gca_span *s, u64 idx)
{
	if (unlikely(h->checking) &&
	    !(s->check_bits[idx / 64] & (1ULL << (idx % 64))))
		gca_checkmark_report(h, s, idx);
	s->mark_bits[idx / 64] |= 1ULL << (idx % 64);
	h->shaded++;
	h->marked_objects++;
	h->marked_bytes += s->elemsize;
	if (!s->noscan)
		gca_gray_push(h, (s->start << GCA_PAGE_SHIFT) +
				 idx * s->elemsize);
}

/*
 * What every mark starts with, whole (gca_mark_begin()) or in steps
 * (gca_mark_clear_begin()): an empty gray queue (an aborted mark may have
 * left entries), the mark's counters at zero, and no sweeping: from here
 * on unmarked no longer means dead.
 */
static void gca_mark_reset(struct gca_heap *h)
{
	s64 freed = 0;

	gca_gray_free_all(&h->gray, &freed);
	gca_gray_account(h, -freed);
	h->marked_objects = 0;
	h->marked_bytes = 0;
	h->scanned_bytes = 0;
	h->sweeping = false;
	h->sweep_cursor = NULL;
}

/* Clear all marks; the slots of cached spans are roots. */
void gca_mark_begin(struct gca_heap *h)
{
	unsigned int work = 0;
	struct gca_span *s;

	gca_assert_locked(h);
	gca_mark_reset(h);
	h->marking = true;

	list_for_each_entry(s, &h->inuse, all) {
		memset(s->mark_bits, 0, s->nwords * sizeof(u64));
		if (s->cached)
			gca_mark_shade_span(h, s);
		if (++work >= GCA_WORK_QUANTUM) {
			work = 0;
			cond_resched();
		}
	}
}

/* gca_mark_word(), inlined into the scan loop: one call per word costs. */
static __always_inline bool __gca_mark_word(struct gca_heap *h, u64 word)
{
	struct gca_span *s;
	u64 off, idx, bit;

	if (unlikely(!h->user_base))
		return false;
	off = word - h->user_base;
	s = gca_span_of(h, off);
	if (!s)
		return false;
	idx = gca_obj_index(s, off);
	if (idx >= s->nelems)
		return false;		/* tail waste */
	bit = 1ULL << (idx % 64);
	if (!(gca_live_bits(s, idx / 64) & bit))
		return false;		/* a free slot */
	if (!(s->mark_bits[idx / 64] & bit))
		gca_shade(h, s, idx);
	return true;
}

bool gca_mark_word(struct gca_heap *h, u64 word)
{
	return __gca_mark_word(h, word);
}

void gca_mark_root_words(struct gca_heap *h, const u64 *words, size_t n,
			 u64 from)
{
	size_t i;

	gca_assert_locked(h);
	h->ck_from = from;
	for (i = 0; i < n; i++) {
		gca_mark_word(h, READ_ONCE(words[i]));
		if ((i + 1) % (16 * GCA_WORK_QUANTUM) == 0)
			cond_resched();
	}
	h->ck_from = GCA_CK_FROM_ROOTS;
}

void gca_mark_words(struct gca_heap *h, const u64 *words, size_t n)
{
	gca_mark_root_words(h, words, n, GCA_CK_FROM_ROOTS);
}

/* Shade every word of heap bytes [off, off + n) (Go's scanblock). */
static void gca_scan_range(struct gca_heap *h, u64 off, u64 n)
{
	while (n) {
		u64 len = 0, step, i;
		const u64 *p = h->ops->map(h, off, &len);

		step = p ? min(len, n) & ~7ULL : 0;
		if (!step) {
			/* No backing: nothing there but zeroes. */
			step = min(GCA_MAP_GRAIN - (off & (GCA_MAP_GRAIN - 1)), n);
		} else {
			for (i = 0; i < step / 8; i++)
				__gca_mark_word(h, READ_ONCE(p[i]));
		}
		off += step;
		n -= step;
	}
}

/*
 * Scan one gray entry (Go's scanobject): a small object, or the oblet of
 * a large object starting at off.  The entry at a large object's start
 * queues its other oblets.
 */
static void gca_scan_entry(struct gca_heap *h, u64 off)
{
	struct gca_span *s = gca_span_of(h, off);
	u64 base, end, o, n;

	/* Only gca_shade() and this function queue offsets. */
	if (WARN_ON_ONCE(!s || s->noscan))
		return;
	if (s->spanclass >> 1) {
		n = s->elemsize;
	} else {
		base = s->start << GCA_PAGE_SHIFT;
		end = base + s->elemsize;
		if (off == base) {
			for (o = base + GCA_OBLET_SIZE; o < end;
			     o += GCA_OBLET_SIZE) {
				/* On overflow, recovery rescans it whole. */
				if (!gca_gray_push(h, o))
					break;
			}
		}
		n = min_t(u64, end - off, GCA_OBLET_SIZE);
	}
	h->ck_from = off;
	gca_scan_range(h, off, n);
	h->ck_from = GCA_CK_FROM_ROOTS;
	h->scanned_bytes += n;
	h->mark_work += n;
}

/* Count one unit of work; every GCA_WORK_QUANTUM, yield and check. */
static int __gca_tick(struct gca_heap *h, unsigned int *work, bool resched)
{
	if (++*work < GCA_WORK_QUANTUM)
		return 0;
	*work = 0;
	if (resched)
		cond_resched();
	if (h->ops->should_abort(h))
		return -EINTR;
	return 0;
}

/*
 * One step of overflow recovery: start a round if an overflow is pending,
 * else rescan one oblet of the next marked object at the cursor, or look
 * at the rest of one span's bitmap and move to the next span.  False when
 * there is nothing to recover.
 */
static bool gca_rescan_step(struct gca_heap *h)
{
	struct gca_grayq *q = &h->gray;
	struct gca_span *s;
	u64 w, bits, obj, n;

	if (!q->rescan) {
		if (!q->overflow)
			return false;
		q->overflow = false;
		q->overflows++;
		q->rescan = h->inuse.next;
		q->rescan_idx = 0;
		q->rescan_in = 0;
	}
	if (q->rescan == &h->inuse) {
		/* round over; another one if a push overflowed meanwhile */
		q->rescan = NULL;
		return true;
	}
	s = list_entry(q->rescan, struct gca_span, all);
	h->mark_work += GCA_RESCAN_SPAN_COST;
	/* the next marked slot at or after rescan_idx */
	for (w = q->rescan_idx / 64; !s->noscan && w < s->nwords; w++) {
		bits = s->mark_bits[w];
		h->mark_work += 8;
		if (w == q->rescan_idx / 64)
			bits &= ~0ULL << (q->rescan_idx % 64);
		if (!bits)
			continue;
		if (w * 64 + __ffs64(bits) != q->rescan_idx)
			q->rescan_in = 0;	/* a new object */
		q->rescan_idx = w * 64 + __ffs64(bits);
		obj = (s->start << GCA_PAGE_SHIFT) + q->rescan_idx * s->elemsize;
		n = min_t(u64, s->elemsize - q->rescan_in, GCA_OBLET_SIZE);
		h->ck_from = obj;
		gca_scan_range(h, obj + q->rescan_in, n);
		h->ck_from = GCA_CK_FROM_ROOTS;
		h->scanned_bytes += n;
		h->mark_work += n;
		q->rescan_in += n;
		if (q->rescan_in >= s->elemsize) {
			q->rescan_idx++;
			q->rescan_in = 0;
		}
		return true;
	}
	/* nothing marked left in s (or noscan): the next span */
	q->rescan = q->rescan->next;
	q->rescan_idx = 0;
	q->rescan_in = 0;
	return true;
}

/*
 * Drain the queue and recover from overflow until budget bytes of
 * mark_work are done: 0 when nothing is left, -EAGAIN, -EINTR.  A bounded
 * slice (slice) neither reschedules nor runs past a waiting mutator; the
 * whole drain (gca_mark_drain()) reschedules every GCA_WORK_QUANTUM.
 */
static int gca_drain(struct gca_heap *h, u64 budget, bool slice)
{
	u64 off, start = h->mark_work;
	unsigned int work = 0;
	int ret;

	/* budget is work: the time the caller holds its lock */
	while (h->mark_work - start < budget) {
		if (gca_gray_pop(h, &off))
			gca_scan_entry(h, off);
		else if (!gca_rescan_step(h))
			return 0;
		/*
		 * No cond_resched() inside a bounded slice: in a mark assist
		 * the thread is paused, and being scheduled out there (a
		 * time slice of another task, milliseconds) made the longest
		 * pauses.  The collector yields between its slices.
		 */
		ret = __gca_tick(h, &work, !slice);
		if (ret)
			return ret;
		/* someone waits for the lock: a short slice, then let go */
		if (slice && h->mark_work - start >= GCA_DRAIN_MIN &&
		    h->ops->lock_wanted && h->ops->lock_wanted(h))
			return -EAGAIN;
	}
	return -EAGAIN;
}

/* Drain to the end, overflow recovery included; heap_marked untouched. */
static int __gca_mark_drain(struct gca_heap *h)
{
	return gca_drain(h, U64_MAX, false);
}

/*
 * The mark's final drain: heap_marked (the pacer's base, and what the
 * statistics show) changes only here, when a mark completes, never to a
 * partial count in the middle of a cycle.
 */
int gca_mark_drain(struct gca_heap *h)
{
	int ret;

	gca_assert_locked(h);
	ret = __gca_mark_drain(h);
	if (!ret)
		h->heap_marked = h->marked_bytes;
	return ret;
}

bool gca_is_marked(struct gca_heap *h, u64 off)
{
	struct gca_span *s = gca_span_of(h, off);
	u64 idx, bit;

	if (!s)
		return false;
	idx = gca_obj_index(s, off);
	if (idx >= s->nelems)
		return false;
	bit = 1ULL << (idx % 64);
	return (gca_live_bits(s, idx / 64) & s->mark_bits[idx / 64] & bit) != 0;
}

/* Does off (untrusted) lie in an allocated object (or a cached slot)? */
bool gca_is_allocated(struct gca_heap *h, u64 off)
{
	struct gca_span *s;
	u64 idx;

	gca_assert_locked(h);
	s = gca_span_of(h, off);
	if (!s)
		return false;
	idx = gca_obj_index(s, off);
	if (idx >= s->nelems)
		return false;
	return (gca_live_bits(s, idx / 64) >> (idx % 64)) & 1;
}

/* ---------------------------------------------------------------------
 * Concurrent marking in bounded steps (see gca_core.h)
 */

void gca_mark_clear_begin(struct gca_heap *h)
{
	gca_assert_locked(h);
	gca_mark_reset(h);
	h->marking = false;
	h->clear_cursor = h->inuse.next;
}

bool gca_mark_clear_some(struct gca_heap *h, u32 budget)
{
	struct gca_span *s;

	gca_assert_locked(h);
	while ((s = gca_inuse_next(h, &h->clear_cursor, &budget)))
		memset(s->mark_bits, 0, s->nwords * sizeof(u64));
	return !h->clear_cursor;
}

void gca_mark_shade_span(struct gca_heap *h, struct gca_span *s)
{
	u32 w;

	gca_assert_locked(h);
	h->ck_from = GCA_CK_FROM_CACHE;
	for (w = 0; w < s->nwords; w++) {
		u64 bits = gca_live_bits(s, w) & ~s->mark_bits[w];

		while (bits) {
			u64 i = __ffs64(bits);

			bits &= bits - 1;
			gca_shade(h, s, w * 64 + i);
		}
	}
	h->ck_from = GCA_CK_FROM_ROOTS;
}

void gca_span_blacken(struct gca_heap *h, struct gca_span *s)
{
	u64 n = 0;
	u32 w;

	for (w = 0; w < s->nwords; w++) {
		u64 newly = s->cache_bits[w] & ~s->mark_bits[w];

		s->mark_bits[w] |= newly;
		n += hweight64(newly);
	}
	h->marked_objects += n;
	h->marked_bytes += n * s->elemsize;
}

int gca_mark_drain_some(struct gca_heap *h, u64 budget)
{
	gca_assert_locked(h);
	return gca_drain(h, budget, true);
}

/* ---------------------------------------------------------------------
 * Checkmark
 */

/* A walk over h->inuse in slices, for the checkmark's two passes. */
void gca_checkmark_walk_begin(struct gca_heap *h)
{
	gca_assert_locked(h);
	h->ck_cursor = h->inuse.next;
	h->ck_failures = 0;
}

bool gca_checkmark_save_some(struct gca_heap *h, u32 budget)
{
	struct gca_span *s;

	gca_assert_locked(h);
	while ((s = gca_inuse_next(h, &h->ck_cursor, &budget)))
		memcpy(s->check_bits, s->mark_bits, s->nwords * sizeof(u64));
	return !h->ck_cursor;
}

bool gca_checkmark_verify_some(struct gca_heap *h, u32 budget)
{
	struct gca_span *s;
	u32 w;

	gca_assert_locked(h);
	while ((s = gca_inuse_next(h, &h->ck_cursor, &budget))) {
		for (w = 0; w < s->nwords; w++) {
			u64 lost = s->mark_bits[w] & ~s->check_bits[w] &
				   gca_live_bits(s, w);

			if (lost && h->ck_reported < GCA_CK_REPORT_MAX &&
			    gca_may_log(h)) {
				h->ck_reported++;
				pr_warn("checkmark: object at heap offset %llu (size %llu) reachable but not marked\n",
					(s->start << GCA_PAGE_SHIFT) +
					(w * 64 + __ffs64(lost)) * s->elemsize,
					s->elemsize);
			}
			h->ck_failures += hweight64(lost);
			s->mark_bits[w] |= s->check_bits[w];
		}
	}
	return !h->ck_cursor;
}

void gca_checkmark_save(struct gca_heap *h)
{
	gca_checkmark_walk_begin(h);
	while (!gca_checkmark_save_some(h, GCA_WORK_QUANTUM))
		cond_resched();
}

u64 gca_checkmark_verify(struct gca_heap *h)
{
	gca_checkmark_walk_begin(h);
	while (!gca_checkmark_verify_some(h, GCA_WORK_QUANTUM))
		cond_resched();
	return h->ck_failures;
}
