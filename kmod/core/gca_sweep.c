// SPDX-License-Identifier: GPL-2.0
/*
 * Sweeping, after Go's src/runtime/mgcsweep.go (mspan.sweep).
 *
 * After a completed mark, an allocated object whose mark bit is clear is
 * garbage: sweeping a span frees those slots (alloc_bits &= mark_bits, as
 * Go's sweep makes gcmarkBits the new allocBits), and a span left with no
 * object goes back to the page heap; a small span that has a free slot
 * again moves to its class's partial list.  Cached spans are skipped:
 * their slots were all marked (gca_mark_begin() treats them as roots) and
 * the thread may be filling them.
 *
 * Sweeping is idempotent: after a span is swept its alloc bits are a
 * subset of its mark bits, and objects allocated since the mark are
 * allocated black (gca_span.c), so sweeping it again frees nothing.  An
 * interrupted sweep therefore just starts over, which is simpler than
 * Go's sweep generations and costs only a second pass over the spans
 * already swept.
 *
 * The caller must not sweep after a mark that did not complete
 * (gca_mark_drain() returning -EINTR): unmarked would not mean dead.
 */
#include "gca_core.h"

/*
 * Sweep one span; true if it went back to the page heap, which happens
 * only with may_free (the sweeper's own walk: nobody else frees spans).
 */
bool gca_sweep_span(struct gca_heap *h, struct gca_span *s,
		    struct gca_sweep_result *res, bool may_free)
{
	u64 freed = 0, bytes;
	u32 w;

	for (w = 0; w < s->nwords; w++) {
		u64 dead = s->alloc_bits[w] & ~s->mark_bits[w];

		s->alloc_bits[w] &= ~dead;
		freed += hweight64(dead);
	}
	res->swept_spans++;
	if (freed) {
		/* nalloc counts alloc bits, so it cannot underflow. */
		if (WARN_ON_ONCE(freed > s->nalloc))
			freed = s->nalloc;
		bytes = freed * s->elemsize;
		s->nalloc -= freed;
		h->heap_objects -= freed;
		h->frees += freed;
		h->heap_alloc -= bytes;
		h->heap_live -= bytes;
		res->freed_objects += freed;
		res->freed_bytes += bytes;
	}

	if (s->nalloc == 0 && may_free) {
		list_del(&s->list);
		list_del(&s->all);
		h->heap_inuse -= s->npages << GCA_PAGE_SHIFT;
		h->nspans_inuse--;
		gca_pages_free(h, s);
		res->freed_spans++;
		return true;
	}
	if (freed && (s->spanclass >> 1))
		list_move(&s->list, &h->partial[s->spanclass]);
	return false;
}

int gca_sweep(struct gca_heap *h, struct gca_sweep_result *res)
{
	struct gca_span *s, *next;
	unsigned int work = 0;

	gca_assert_locked(h);
	memset(res, 0, sizeof(*res));
	h->marking = false;
	h->sweeping = true;
	/* Only s itself can leave h->inuse while it is swept. */
	list_for_each_entry_safe(s, next, &h->inuse, all) {
		if (s->cached)
			continue;
		gca_sweep_span(h, s, res, true);
		if (++work >= GCA_WORK_QUANTUM) {
			work = 0;
			cond_resched();
			if (h->ops->should_abort(h))
				return -EINTR;
		}
	}
	return 0;
}

void gca_sweep_begin(struct gca_heap *h)
{
	gca_assert_locked(h);
	h->marking = false;
	h->sweeping = true;
	h->sweep_cursor = h->inuse.next;
}

int gca_sweep_some(struct gca_heap *h, u32 budget,
		   struct gca_sweep_result *res)
{
	gca_assert_locked(h);
	/* New spans join at the head of h->inuse: the walk skips them. */
	while (h->sweep_cursor && h->sweep_cursor != &h->inuse) {
		struct gca_span *s;

		if (!budget--)
			return 1;
		s = list_entry(h->sweep_cursor, struct gca_span, all);
		/* s may be freed: step past it first */
		h->sweep_cursor = h->sweep_cursor->next;
		if (!s->cached)
			gca_sweep_span(h, s, res, true);
	}
	h->sweep_cursor = NULL;
	return 0;
}
