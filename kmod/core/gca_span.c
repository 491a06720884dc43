// SPDX-License-Identifier: GPL-2.0
/*
 * Central span lists and large objects, after Go's mcentral
 * (src/runtime/mcentral.go: cacheSpan, uncacheSpan, grow) and
 * mcache.allocLarge (src/runtime/mcache.go).
 *
 * Small objects are allocated by the user process itself, from spans the
 * kernel lends to each thread's cache: a span is "cached" while a thread
 * holds it, and s->cache_bits tells which slots were free when it was
 * handed out (Go's mspan.allocCache, which holds the complement of
 * allocBits for the same reason: the cache hands out slots by scanning
 * for set bits).  The kernel does not see individual allocations.  When
 * the cache gives the span back it says how far it got (freeindex):
 * slots below freeindex that were handed out are now allocated, exactly
 * as Go's mspan.freeindex works.  That number is untrusted and only ever
 * commits slots the kernel itself handed out.
 *
 * Each span class (size class << 1 | noscan) has two central lists, as
 * Go's mcentral has partial and full span sets:
 *
 *  - partial[sc]: spans not cached with at least one free slot;
 *  - full[sc]: spans not cached with no free slot.
 *
 * A refill takes a partial span, else a fresh one from the page heap.
 * An empty span stays on partial until the sweeper gives it back to the
 * page heap (gca_sweep.c), since only the sweeper knows its objects are
 * dead.
 *
 * Accounting, as Go's gcController.heapLive: heap_live counts committed
 * objects plus every free slot handed to a cache, since the process may
 * fill them without asking; heap_alloc, heap_objects, mallocs and
 * total_alloc count committed objects only.
 *
 * Objects committed by gca_span_uncache() and gca_alloc_large() are
 * allocated black (Go's gcmarknewobject): their mark bit is set with the
 * alloc bit.  gca_mark_begin() clears all mark bits, so this changes
 * nothing for the next cycle, but it keeps an object allocated after a
 * mark and before (or during an interrupted) sweep from being taken for
 * garbage, which makes sweeping safe to resume or repeat.
 */
#include "gca_core.h"

static void gca_span_init(struct gca_heap *h, struct gca_span *s,
			  unsigned int spanclass, u32 nelems, u64 elemsize,
			  s64 backed, bool fresh);

/*
 * Take npages from the page heap and back them; the span joins h->inuse.
 * Go's mheap.alloc + mspan.init.
 */
static struct gca_span *gca_span_new(struct gca_heap *h, u64 npages,
				     unsigned int spanclass, u32 nelems,
				     u64 elemsize, int *err)
{
	struct gca_span *s;
	bool fresh = false;
	s64 backed;

	s = gca_pages_alloc_bits(h, npages, DIV_ROUND_UP(nelems, 64));
	if (!s) {
		*err = -ENOMEM;
		return NULL;
	}
	backed = h->ops->populate(h, s->start, npages, &fresh);
	if (backed < 0) {
		gca_pages_free(h, s);
		*err = -ENOMEM;
		return NULL;
	}
	gca_span_init(h, s, spanclass, nelems, elemsize, backed, fresh);
	return s;
}

/*
 * A span taken from the page heap and backed (backed bytes newly, fresh:
 * all of it) becomes an in-use span of spanclass on h->inuse.
 */
static void gca_span_init(struct gca_heap *h, struct gca_span *s,
			  unsigned int spanclass, u32 nelems, u64 elemsize,
			  s64 backed, bool fresh)
{
	u64 npages = s->npages;

	if (WARN_ON_ONCE((u64)backed > (npages << GCA_PAGE_SHIFT)))
		backed = npages << GCA_PAGE_SHIFT;
	h->heap_backed += backed;

	s->needzero = !fresh;
	s->spanclass = spanclass;
	s->noscan = spanclass & 1;
	s->elemsize = elemsize;
	s->nelems = nelems;
	/*
	 * Go 1.21's divMagic: (offset * (2^32 / size + 1)) >> 32 is
	 * offset / size for every offset inside a span of any small class
	 * (mksizeclasses.go checks it, and so do our unit tests).  Large
	 * spans hold one object: divmul 0 makes every index 0.
	 */
	s->divmul = (spanclass >> 1) ? U32_MAX / (u32)elemsize + 1 : 0;

	list_add(&s->all, &h->inuse);
	h->nspans_inuse++;
	h->heap_inuse += npages << GCA_PAGE_SHIFT;
}

struct gca_span *gca_span_refill(struct gca_heap *h, unsigned int spanclass,
				 u32 owner, int *err)
{
	unsigned int c = spanclass >> 1;
	struct gca_span *s = NULL, *t;
	u32 w;

	gca_assert_locked(h);
	*err = 0;
	if (spanclass >= GCA_NUM_SPAN_CLASSES || c == 0) {
		*err = -EINVAL;
		return NULL;
	}

	list_for_each_entry(t, &h->partial[spanclass], list) {
		/* Only a sweep or an uncache puts a span here, both checked. */
		if (WARN_ON_ONCE(t->cached || t->nalloc >= t->nelems))
			continue;
		s = t;
		break;
	}
	if (s) {
		/* lazy sweep (Go's mcentral.cacheSpan): reuse its garbage */
		if (h->sweeping) {
			struct gca_sweep_result res = {};

			gca_sweep_span(h, s, &res, false);
		}
		list_del_init(&s->list);
		/* Its free slots held objects the sweeper freed. */
		s->needzero = true;
	} else {
		s = gca_span_new(h, gca_class_npages[c], spanclass,
				 gca_class_nelems(c), gca_class_size[c], err);
		if (!s)
			return NULL;
	}

	for (w = 0; w < s->nwords; w++)
		s->cache_bits[w] = ~s->alloc_bits[w];
	if (s->nelems % 64)
		s->cache_bits[s->nwords - 1] &= (1ULL << (s->nelems % 64)) - 1;
	s->cached = true;
	s->owner = owner;
	/* handed out while marking: whatever the cache allocates is black */
	if (h->marking)
		gca_span_blacken(h, s);
	h->heap_live += (u64)(s->nelems - s->nalloc) * s->elemsize;
	return s;
}

void gca_span_uncache(struct gca_heap *h, struct gca_span *s, u32 freeindex)
{
	u64 newly, stayed = 0, n = 0, mask;
	unsigned int sc = s->spanclass;
	u32 w, fi;

	gca_assert_locked(h);
	/* The glue looks the span up and checks it is this thread's. */
	if (WARN_ON_ONCE(s->state != GCA_SPAN_INUSE || !s->cached))
		return;

	/* Untrusted: nothing at or above nelems was ever handed out. */
	fi = min(freeindex, s->nelems);
	for (w = 0; w < s->nwords; w++) {
		if (fi >= (w + 1) * 64)
			mask = ~0ULL;
		else if (fi > w * 64)
			mask = (1ULL << (fi - w * 64)) - 1;
		else
			mask = 0;
		newly = s->cache_bits[w] & mask & ~s->alloc_bits[w];
		s->alloc_bits[w] |= newly;
		/*
		 * Allocate black while marking or after it (Go's
		 * gcmarknewobject), never before a mark has shaded the span:
		 * an object committed while marks are being cleared was
		 * allocated before the mark and must be scanned.
		 */
		if (h->marking || h->sweeping)
			s->mark_bits[w] |= newly;
		n += hweight64(newly);
		stayed += hweight64(s->cache_bits[w] & ~newly);
		s->cache_bits[w] = 0;
	}

	s->nalloc += n;
	h->mallocs += n;
	h->heap_objects += n;
	h->heap_alloc += n * s->elemsize;
	h->total_alloc += n * s->elemsize;
	h->heap_live -= stayed * s->elemsize;
	s->cached = false;
	s->owner = 0;
	/* s->list is on the glue's list or self-linked: both move. */
	if (s->nalloc < s->nelems)
		list_move(&s->list, &h->partial[sc]);
	else
		list_move(&s->list, &h->full[sc]);
}

static u64 gca_large_npages(u64 size)
{
	return (size >> GCA_PAGE_SHIFT) + !!(size & (GCA_PAGE_SIZE - 1));
}

struct gca_span *gca_large_reserve(struct gca_heap *h, u64 size)
{
	gca_assert_locked(h);
	if (!size || gca_large_npages(size) > h->npages)
		return NULL;
	return gca_pages_alloc_bits(h, gca_large_npages(size), 1);
}

void gca_large_commit(struct gca_heap *h, struct gca_span *s, bool noscan,
		      s64 backed, bool fresh, bool black)
{
	gca_assert_locked(h);
	gca_span_init(h, s, GCA_SPANCLASS(0, noscan), 1,
		      s->npages << GCA_PAGE_SHIFT, backed, fresh);
	/* A large object is committed at once (Go's mcache.allocLarge). */
	s->alloc_bits[0] = 1;
	if (black)
		s->mark_bits[0] = 1;
	s->nalloc = 1;
	h->mallocs++;
	h->heap_objects++;
	h->heap_alloc += s->elemsize;
	h->total_alloc += s->elemsize;
	h->heap_live += s->elemsize;
	list_add(&s->list, &h->large);
}

void gca_large_abort(struct gca_heap *h, struct gca_span *s, u64 grown)
{
	gca_assert_locked(h);
	gca_pages_free(h, s);
	gca_heap_ungrow(h, grown);
}

struct gca_span *gca_alloc_large(struct gca_heap *h, u64 size, bool noscan,
				 bool *needzero)
{
	u64 grown = h->grown_pages;
	struct gca_span *s;
	bool fresh = false;
	s64 backed;

	gca_assert_locked(h);
	*needzero = false;
	s = gca_large_reserve(h, size);
	if (!s)
		return NULL;
	backed = h->ops->populate(h, s->start, s->npages, &fresh);
	if (backed < 0) {
		/* what populate kept is counted in heap_backed */
		gca_large_abort(h, s, grown);
		return NULL;
	}
	/* allocate black while marking or after (see gca_span_uncache) */
	gca_large_commit(h, s, noscan, backed, fresh,
			 h->marking || h->sweeping);
	*needzero = s->needzero;
	return s;
}
