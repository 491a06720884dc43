// SPDX-License-Identifier: GPL-2.0
/*
 * The page heap: runs of GCA_PAGE_SIZE pages, after Go 1.11's mheap
 * (src/runtime/mheap.go: allocSpanLocked, freeSpanLocked, grow, scavenge).
 *
 * The heap is a reserved range of h->npages pages.  Pages [0, grown_pages)
 * have metadata; the rest is reserved address space the heap may grow
 * into, GCA_CHUNK_PAGES (4 MiB) at a time, like Go's heap arenas.
 *
 * Every grown page belongs to exactly one span, free or in use, so the
 * spans tile [0, grown_pages).  h->span_table maps a page to its span,
 * with Go's rule (mheap.spans):
 *
 *  - every page of an in-use span points to it, so that the span of any
 *    address is one lookup (gca_span_of(), the hot path of marking);
 *  - a free span's first and last page point to it and its other pages
 *    are NULL: freeing needs only the neighbours' boundary pages to
 *    coalesce, and taking a free span apart touches only the pages taken.
 *
 * gca_span_of() runs on untrusted offsets, so the table must never hold a
 * pointer to a freed struct: every entry that points to a struct about to
 * be freed is rewritten (or cleared) before the kfree().
 *
 * Free spans of 1..GCA_FREE_LISTS-1 pages sit on exact-size lists; larger
 * ones on free_large, searched best fit (smallest, then lowest address;
 * Go 1.11 kept them in a treap, a list is enough for the few large free
 * runs a heap has).  Allocation takes the front of a free span and puts
 * the rest back (mheap.allocSpanLocked); freeing coalesces with free
 * neighbours on both sides (mheap.freeSpanLocked).
 *
 * Backing memory is the host's (ops->populate, ops->release): this file
 * never populates.  A free span is "scavenged" when none of its pages has
 * backing: pages the heap has just grown into, or pages gca_scavenge()
 * released.  When spans merge, the result is scavenged only if every part
 * was: Go 1.12 chose the opposite (release the rest of a merged span), we
 * keep the memory and let the scavenger decide.
 *
 * Metadata (table, chunks, span structs) is kernel memory, counted in
 * h->meta_bytes, and follows the heap that is used, not the reservation:
 * gca_heap_init() allocates nothing, and growth adds a chunk's page array
 * (4 KiB per 4 MiB of heap) and, when the directory is full, a directory
 * twice as long (8 bytes per chunk, at most the reservation's chunks: 2 MiB
 * for a 1 TiB heap, copied at most log2(chunks) times in the heap's life),
 * so that an empty heap costs nothing whatever its reservation.  The
 * lookup is the same two loads whatever the size (gca_entry()).
 */
#include "gca_core.h"

/*
 * Default cap on gray queue blocks (4 KiB each: 16 MiB, two million
 * entries) before marking falls back to overflow recovery (gca_mark.c).
 */
#define GCA_GRAY_MAX_BLOCKS	4096

/* Directory entries allocated at the first growth: 32 MiB of heap. */
#define GCA_DIR_MIN		8ULL

/* One kmalloc: the struct and its four bitmaps, all zero. */
static struct gca_span *gca_span_struct_alloc(struct gca_heap *h, u32 nwords)
{
	size_t size = gca_span_struct_size(nwords);
	struct gca_span *s;

	s = kzalloc(size, GCA_GFP_HEAP);
	if (!s)
		return NULL;
	INIT_LIST_HEAD(&s->list);
	INIT_LIST_HEAD(&s->all);
	s->nwords = nwords;
	if (nwords) {
		s->alloc_bits = s->bits;
		s->mark_bits = s->bits + nwords;
		s->cache_bits = s->bits + 2 * (size_t)nwords;
		s->check_bits = s->bits + 3 * (size_t)nwords;
	}
	h->meta_bytes += size;
	return s;
}

static void gca_span_struct_free(struct gca_heap *h, struct gca_span *s)
{
	h->meta_bytes -= gca_span_struct_size(s->nwords);
	kfree(s);
}

static void gca_free_insert(struct gca_heap *h, struct gca_span *s)
{
	if (s->npages < GCA_FREE_LISTS)
		list_add(&s->list, &h->free[s->npages]);
	else
		list_add(&s->list, &h->free_large);
}

static void gca_heap_init_lists(struct gca_heap *h)
{
	unsigned int i;

	for (i = 0; i < GCA_FREE_LISTS; i++)
		INIT_LIST_HEAD(&h->free[i]);
	INIT_LIST_HEAD(&h->free_large);
	for (i = 0; i < GCA_NUM_SPAN_CLASSES; i++) {
		INIT_LIST_HEAD(&h->partial[i]);
		INIT_LIST_HEAD(&h->full[i]);
	}
	INIT_LIST_HEAD(&h->large);
	INIT_LIST_HEAD(&h->inuse);
}

int gca_heap_init(struct gca_heap *h, u64 heap_bytes,
		  const struct gca_heap_ops *ops, void *priv,
		  struct mutex *lock)
{
	memset(h, 0, sizeof(*h));
	if (!heap_bytes || (heap_bytes & (GCA_PAGE_SIZE - 1)))
		return -EINVAL;
	if (!ops || !ops->populate || !ops->release || !ops->map ||
	    !ops->should_abort)
		return -EINVAL;

	h->ops = ops;
	h->priv = priv;
	h->lock = lock;
	h->npages = heap_bytes >> GCA_PAGE_SHIFT;
	h->nchunks = DIV_ROUND_UP(h->npages, GCA_CHUNK_PAGES);
	/* No table yet: the first growth makes it (gca_dir_reserve()). */
	gca_heap_init_lists(h);
	h->gray.max_blocks = GCA_GRAY_MAX_BLOCKS;
	return 0;
}

void gca_heap_destroy(struct gca_heap *h)
{
	u64 page = 0, c;

	/*
	 * The spans tile [0, grown_pages) and each one's first page points
	 * to it: free each struct at its first page and jump past it, never
	 * reading an entry of a span already freed.
	 */
	while (page < h->grown_pages) {
		struct gca_span *s = *gca_entry(h, page);
		u64 next;

		if (WARN_ON_ONCE(!s || s->start != page || !s->npages)) {
			page++;
			continue;
		}
		next = page + s->npages;
		gca_span_struct_free(h, s);
		page = next;
	}
	/* Exactly the chunks of [0, grown_pages) exist. */
	h->meta_bytes -= DIV_ROUND_UP(h->grown_pages, GCA_CHUNK_PAGES) *
			 GCA_CHUNK_PAGES * sizeof(struct gca_span *);
	for (c = 0; c < h->span_table_len; c++)
		kvfree(h->span_table[c]);
	kvfree(h->span_table);
	h->meta_bytes -= h->span_table_len * sizeof(*h->span_table);
	h->span_table = NULL;
	h->span_table_len = 0;
	gca_grayq_destroy(&h->gray);
	WARN_ON_ONCE(h->meta_bytes != 0);
	/* Inert from now on: no list or lookup reaches a freed struct. */
	h->grown_pages = 0;
	gca_heap_init_lists(h);
}

/* Smallest free span of at least npages (ties: lowest address), or NULL. */
static struct gca_span *gca_find_free(struct gca_heap *h, u64 npages)
{
	struct gca_span *s, *best = NULL;
	u64 i;

	for (i = npages; i < GCA_FREE_LISTS; i++) {
		if (!list_empty(&h->free[i]))
			return list_first_entry(&h->free[i], struct gca_span,
						list);
	}
	list_for_each_entry(s, &h->free_large, list) {
		if (s->npages < npages)
			continue;
		if (!best || s->npages < best->npages ||
		    (s->npages == best->npages && s->start < best->start))
			best = s;
	}
	return best;
}

/*
 * Make the directory hold chunks [0, want): a new one of twice the length
 * (at least GCA_DIR_MIN and want, at most the reservation's chunks), the
 * entries copied over.  false, nothing changed, when it cannot be had.
 */
static bool gca_dir_reserve(struct gca_heap *h, u64 want)
{
	struct gca_span ***dir;
	u64 len;

	if (want <= h->span_table_len)
		return true;
	len = max(max(want, 2 * h->span_table_len), GCA_DIR_MIN);
	len = min(len, h->nchunks);
	dir = kvcalloc(len, sizeof(*dir), GCA_GFP_HEAP);
	if (!dir)
		return false;
	if (h->span_table_len)
		memcpy(dir, h->span_table,
		       h->span_table_len * sizeof(*dir));
	kvfree(h->span_table);
	h->meta_bytes += (len - h->span_table_len) * sizeof(*dir);
	h->span_table = dir;
	h->span_table_len = len;
	return true;
}

/*
 * Grow the heap by whole chunks so that a free run of npages exists at
 * its end (mheap.grow).  The new pages have never been backed, so they
 * form a scavenged free span, merged with a free span that ends at the
 * old end.  Nothing changes on failure, but for a longer directory
 * (counted in meta_bytes; the next growth uses it).
 */
static bool gca_heap_grow(struct gca_heap *h, u64 npages)
{
	u64 old = h->grown_pages, new, tail = 0, c, c0, c1;
	struct gca_span *last = NULL, *s = NULL;

	if (old) {
		last = *gca_entry(h, old - 1);
		if (last && last->state == GCA_SPAN_FREE)
			tail = last->npages;
		else
			last = NULL;
	}
	/* No free span fits, so the tail is shorter than npages. */
	if (WARN_ON_ONCE(tail >= npages))
		return false;
	if (npages - tail > h->npages - old)
		return false;		/* the reservation is exhausted */
	new = min(ALIGN(old + npages - tail, (u64)GCA_CHUNK_PAGES), h->npages);

	/* old is a chunk boundary: only the last chunk may be partial. */
	c0 = old / GCA_CHUNK_PAGES;
	c1 = DIV_ROUND_UP(new, GCA_CHUNK_PAGES);
	if (!gca_dir_reserve(h, c1))
		return false;
	for (c = c0; c < c1; c++) {
		h->span_table[c] = kvcalloc(GCA_CHUNK_PAGES,
					    sizeof(struct gca_span *),
					    GCA_GFP_HEAP);
		if (!h->span_table[c])
			goto fail;
	}
	if (!last) {
		s = gca_span_struct_alloc(h, 0);
		if (!s)
			goto fail;
	}

	h->meta_bytes += (c1 - c0) * GCA_CHUNK_PAGES * sizeof(struct gca_span *);
	h->grown_pages = new;
	if (last) {
		/* The old last page becomes interior (unless it is the first). */
		list_del(&last->list);
		if (last->start != old - 1)
			*gca_entry(h, old - 1) = NULL;
		last->npages += new - old;
		*gca_entry(h, new - 1) = last;
		/* last->scavenged stays: the new part is scavenged. */
		gca_free_insert(h, last);
	} else {
		s->state = GCA_SPAN_FREE;
		s->start = old;
		s->npages = new - old;
		s->scavenged = true;
		*gca_entry(h, old) = s;
		*gca_entry(h, new - 1) = s;
		gca_free_insert(h, s);
	}
	return true;

fail:
	while (c-- > c0) {
		kvfree(h->span_table[c]);
		h->span_table[c] = NULL;
	}
	return false;
}

struct gca_span *gca_pages_alloc_bits(struct gca_heap *h, u64 npages,
				      u32 nwords)
{
	struct gca_span *f, *s;
	u64 p;

	if (!npages || npages > h->npages)
		return NULL;
	f = gca_find_free(h, npages);
	if (!f) {
		if (!gca_heap_grow(h, npages))
			return NULL;
		f = gca_find_free(h, npages);
		if (WARN_ON_ONCE(!f))
			return NULL;
	}
	s = gca_span_struct_alloc(h, nwords);
	if (!s)
		return NULL;

	/* Take the front of f (mheap.allocSpanLocked); the rest stays free. */
	list_del_init(&f->list);
	s->state = GCA_SPAN_INUSE;
	s->start = f->start;
	s->npages = npages;
	for (p = s->start; p < s->start + npages; p++)
		*gca_entry(h, p) = s;
	if (f->npages == npages) {
		/* Every entry that pointed to f now points to s. */
		gca_span_struct_free(h, f);
	} else {
		/* f's last page still points to f; its new first page too. */
		f->start += npages;
		f->npages -= npages;
		*gca_entry(h, f->start) = f;
		gca_free_insert(h, f);
	}
	return s;
}

struct gca_span *gca_pages_alloc(struct gca_heap *h, u64 npages)
{
	return gca_pages_alloc_bits(h, npages, 1);
}

/*
 * Page 0 never holds an object.  Its address is the heap's base, which
 * the library keeps in a register to form every object address (base +
 * offset) and to range-check barrier values, so copies of it are on
 * every stack, spilled by callee-saved register saves.  To a
 * conservative scan each copy is a pointer to whatever lives at offset 0:
 * it kept a dead first object alive, and checkmark's re-scan of the
 * stacks at mark termination counted it as missed by the concurrent
 * mark (a copy made after the concurrent scan of that stack).
 *
 * The reserved page is an in-use span that holds no object (nelems 0,
 * so gca_span_of() finds it and every index into it is tail waste), on
 * no list, never backed and not counted in heap_inuse: heap_sys and
 * heap_released include its 8 KiB of address space.  Freed with the
 * other span structs by gca_heap_destroy()'s walk of the table.
 */
int gca_heap_reserve_base(struct gca_heap *h)
{
	struct gca_span *s;

	gca_assert_locked(h);
	if (h->grown_pages)
		return -EBUSY;	/* page 0 may already hold a span */
	s = gca_pages_alloc_bits(h, 1, 0);
	if (!s)
		return -ENOMEM;
	if (WARN_ON_ONCE(s->start != 0)) {
		gca_pages_free(h, s);
		return -EINVAL;
	}
	return 0;
}

void gca_heap_ungrow(struct gca_heap *h, u64 grown)
{
	u64 end = h->grown_pages, c;
	struct gca_span *last;

	if (grown >= end || grown % GCA_CHUNK_PAGES)
		return;
	last = *gca_entry(h, end - 1);
	if (!last || last->state != GCA_SPAN_FREE || last->start > grown)
		return;		/* someone took pages past grown meanwhile */
	list_del(&last->list);
	/* the entries past grown go with their chunks */
	if (last->start == grown) {
		gca_span_struct_free(h, last);
	} else {
		if (last->start != grown - 1)
			*gca_entry(h, grown - 1) = last;
		last->npages = grown - last->start;
		gca_free_insert(h, last);
	}
	for (c = grown / GCA_CHUNK_PAGES; c < DIV_ROUND_UP(end, GCA_CHUNK_PAGES);
	     c++) {
		kvfree(h->span_table[c]);
		h->span_table[c] = NULL;
		h->meta_bytes -= GCA_CHUNK_PAGES * sizeof(struct gca_span *);
	}
	h->grown_pages = grown;
}

/*
 * Give an in-use span's pages back, coalescing with free neighbours
 * (mheap.freeSpanLocked).  Cannot fail: the merged span keeps the struct
 * of a free neighbour, or s itself when there is none.
 */
void gca_pages_free(struct gca_heap *h, struct gca_span *s)
{
	u64 start = s->start, end = s->start + s->npages, p;
	struct gca_span *left = NULL, *right = NULL, *keep;
	u64 mstart, mend;

	if (WARN_ON_ONCE(s->state != GCA_SPAN_INUSE))
		return;
	/* gca_span_of() must stop finding s before anything else changes. */
	for (p = start; p < end; p++)
		*gca_entry(h, p) = NULL;

	/* A free neighbour's boundary page points to it. */
	if (start > 0) {
		left = *gca_entry(h, start - 1);
		if (left && left->state != GCA_SPAN_FREE)
			left = NULL;
	}
	if (end < h->grown_pages) {
		right = *gca_entry(h, end);
		if (right && right->state != GCA_SPAN_FREE)
			right = NULL;
	}
	mstart = left ? left->start : start;
	mend = right ? right->start + right->npages : end;
	keep = left ? left : right ? right : s;
	if (left)
		list_del(&left->list);
	if (right)
		list_del(&right->list);

	keep->state = GCA_SPAN_FREE;
	keep->start = mstart;
	keep->npages = mend - mstart;
	/* s's pages were in use, so the merged span is not scavenged. */
	keep->scavenged = false;
	INIT_LIST_HEAD(&keep->all);
	if (keep == s) {
		/* Nothing of the in-use life may look valid any more. */
		s->spanclass = 0;
		s->noscan = false;
		s->cached = false;
		s->needzero = false;
		s->elemsize = 0;
		s->nelems = 0;
		s->nalloc = 0;
		s->divmul = 0;
	}
	*gca_entry(h, mstart) = keep;
	*gca_entry(h, mend - 1) = keep;
	/* The neighbours' inner boundary pages become interior. */
	if (left && start - 1 != mstart)
		*gca_entry(h, start - 1) = NULL;
	if (right && end != mend - 1)
		*gca_entry(h, end) = NULL;
	/* Nothing points to the structs not kept any more. */
	if (keep != s)
		gca_span_struct_free(h, s);
	if (right && keep != right)
		gca_span_struct_free(h, right);
	gca_free_insert(h, keep);
}

/*
 * Release the backing of one free span, or of just enough of its last
 * pages to bring heap_backed down to target.  Only a span released whole
 * is marked scavenged.
 */
static u64 gca_scavenge_span(struct gca_heap *h, struct gca_span *s,
			     u64 target)
{
	u64 need = h->heap_backed - target, got, total = 0, k;

	if (need < (s->npages << GCA_PAGE_SHIFT)) {
		k = DIV_ROUND_UP(need, GCA_PAGE_SIZE);
		got = h->ops->release(h, s->start + s->npages - k, k);
		if (WARN_ON_ONCE(got > h->heap_backed))
			got = h->heap_backed;
		h->heap_backed -= got;
		total += got;
		if (h->heap_backed <= target)
			return total;
		/* Those pages were not all backed: release the whole span. */
	}
	got = h->ops->release(h, s->start, s->npages);
	if (WARN_ON_ONCE(got > h->heap_backed))
		got = h->heap_backed;
	h->heap_backed -= got;
	s->scavenged = true;
	return total + got;
}

/*
 * Largest free spans first (free_large, then the exact lists downwards):
 * fewest release calls for the bytes wanted, and the small free spans,
 * the likeliest to be reused soon, keep their memory.
 */
u64 gca_scavenge(struct gca_heap *h, u64 target_backed)
{
	unsigned int i, work = 0;
	u64 released = 0;

	gca_assert_locked(h);
	for (i = GCA_FREE_LISTS; i >= 1; i--) {
		struct list_head *head = i == GCA_FREE_LISTS ? &h->free_large
							     : &h->free[i];
		struct gca_span *s;

		list_for_each_entry(s, head, list) {
			if (h->heap_backed <= target_backed)
				return released;
			if (s->scavenged)
				continue;
			released += gca_scavenge_span(h, s, target_backed);
			if (++work >= GCA_WORK_QUANTUM) {
				work = 0;
				cond_resched();
				if (h->ops->should_abort(h))
					return released;
			}
		}
	}
	return released;
}
