// SPDX-License-Identifier: GPL-2.0
/*
 * The heap's consistency checker: every structure of the core walked and
 * checked against the others (span table, free lists, central lists, the
 * in-use list, bitmaps, statistics, metadata accounting).
 *
 * One checker for every host: the KUnit suite (kmod/gcarena_test.c) and
 * the unit tests (tests/unit) run it after each operation and report
 * through their own harness.  The core only finds the inconsistencies;
 * the host says what to do with each (struct gca_check's report), and
 * what only it knows (which pages it backs) comes through a callback.
 *
 * The whole walk (gca_heap_check()) is O(heap pages + bitmap words) and
 * O(spans) per list membership test, in one pass with no cursor: a
 * debugging tool for hosts that can afford it, not something to run
 * under a lock the mutators wait for.  What holds span by span (an
 * in-use span's bitmaps, geometry and table entry, without its list
 * membership) also comes in bounded steps, gca_heap_check_spans_some(),
 * which the module runs under checkmark.  Both only read: a heap found
 * broken is left as it is.
 */
#include "gca_core.h"

static __printf(3, 4) void gca_check_fail(struct gca_check *c,
					  const char *cond,
					  const char *fmt, ...)
{
	char line[256];
	va_list ap;
	int n;

	c->errors++;
	if (!c->report)
		return;
	n = snprintf(line, sizeof(line), "%s: ", cond);
	if (n >= 0 && n < (int)sizeof(line)) {
		va_start(ap, fmt);
		vsnprintf(line + n, sizeof(line) - n, fmt, ap);
		va_end(ap);
	}
	c->report(c, line);
}

#define GCA_CHECK(c, cond, fmt, ...)					\
do {									\
	if (unlikely(!(cond)))						\
		gca_check_fail(c, #cond, fmt, ##__VA_ARGS__);		\
} while (0)

static u64 gca_popcount_bits(const u64 *bits, u32 nwords)
{
	u64 n = 0;
	u32 w;

	for (w = 0; w < nwords; w++)
		n += hweight64(bits[w]);
	return n;
}

static bool gca_on_list(const struct list_head *head,
			const struct gca_span *s)
{
	const struct list_head *e;

	for (e = head->next; e != head; e = e->next)
		if (e == &s->list)
			return true;
	return false;
}

/* The span table's entry of a page, NULL past the grown heap. */
static struct gca_span *gca_check_entry(struct gca_heap *h, u64 page)
{
	return page < h->grown_pages ? *gca_entry(h, page) : NULL;
}

/* The directory: it covers the grown chunks, within the reservation. */
static u64 gca_check_directory(struct gca_heap *h, struct gca_check *c)
{
	u64 meta;
	u64 i;

	GCA_CHECK(c, h->grown_pages <= h->npages, "%llu", h->grown_pages);
	GCA_CHECK(c, h->grown_pages % GCA_CHUNK_PAGES == 0 ||
		  h->grown_pages == h->npages, "%llu", h->grown_pages);
	GCA_CHECK(c, h->span_table_len <= h->nchunks &&
		  h->span_table_len * GCA_CHUNK_PAGES >= h->grown_pages,
		  "directory %llu of %llu", h->span_table_len, h->nchunks);
	meta = h->span_table_len * sizeof(void *) +
	       h->gray.nblocks * sizeof(struct gca_gray_block);
	for (i = 0; i < h->span_table_len; i++) {
		bool grown = i * GCA_CHUNK_PAGES < h->grown_pages;

		GCA_CHECK(c, !!h->span_table[i] == grown, "chunk %llu", i);
		if (h->span_table[i])
			meta += GCA_CHUNK_PAGES * sizeof(void *);
	}
	return meta;
}

/*
 * The spans tile [0, grown_pages): adds the span structs to *meta and
 * counts free and in-use spans.  False when the table is too broken to
 * walk further.
 */
static bool gca_check_table(struct gca_heap *h, struct gca_check *c,
			    u64 *meta, u64 *nfree, u64 *ninuse)
{
	struct gca_span *s, *prev = NULL;
	u64 p = 0, q;

	while (p < h->grown_pages) {
		s = *gca_entry(h, p);
		GCA_CHECK(c, s, "page %llu has no span", p);
		if (!s)
			return false;
		GCA_CHECK(c, s->start == p, "page %llu: span starts at %llu",
			  p, s->start);
		GCA_CHECK(c, s->npages && s->npages <= h->grown_pages - p,
			  "page %llu: npages %llu", p, s->npages);
		if (s->start != p || !s->npages ||
		    s->npages > h->grown_pages - p)
			return false;
		*meta += gca_span_struct_size(s->nwords);
		if (s->state == GCA_SPAN_FREE) {
			(*nfree)++;
			GCA_CHECK(c, !prev || prev->state != GCA_SPAN_FREE,
				  "free spans at %llu and %llu not coalesced",
				  prev->start, p);
			GCA_CHECK(c, *gca_entry(h, p + s->npages - 1) == s,
				  "free span %llu: last page", p);
			for (q = p + 1; q + 1 < p + s->npages; q++)
				GCA_CHECK(c, !*gca_entry(h, q),
					  "free span %llu: interior page %llu",
					  p, q);
			GCA_CHECK(c, gca_on_list(s->npages < GCA_FREE_LISTS ?
						 &h->free[s->npages] :
						 &h->free_large, s),
				  "free span %llu not on its free list", p);
			if (s->scavenged && c->backed)
				for (q = p; q < p + s->npages; q++)
					GCA_CHECK(c, !c->backed(c, q),
						  "scavenged page %llu is backed",
						  q);
		} else {
			GCA_CHECK(c, s->state == GCA_SPAN_INUSE, "state %u",
				  s->state);
			(*ninuse)++;
			for (q = p; q < p + s->npages; q++)
				GCA_CHECK(c, *gca_entry(h, q) == s,
					  "in-use span %llu: page %llu", p, q);
		}
		prev = s;
		p += s->npages;
	}
	return true;
}

/* Every span on a free list is a free span of the table: their number. */
static u64 gca_check_free_lists(struct gca_heap *h, struct gca_check *c)
{
	struct gca_span *s;
	u64 nlisted = 0;
	unsigned int i;

	for (i = 1; i < GCA_FREE_LISTS; i++) {
		list_for_each_entry(s, &h->free[i], list) {
			nlisted++;
			GCA_CHECK(c, s->state == GCA_SPAN_FREE &&
				  s->npages == i,
				  "free[%u] holds %llu pages", i, s->npages);
			GCA_CHECK(c, gca_check_entry(h, s->start) == s,
				  "free[%u]: span %llu not in the table", i,
				  s->start);
		}
	}
	list_for_each_entry(s, &h->free_large, list) {
		nlisted++;
		GCA_CHECK(c, s->state == GCA_SPAN_FREE &&
			  s->npages >= GCA_FREE_LISTS,
			  "free_large: %llu pages", s->npages);
		GCA_CHECK(c, gca_check_entry(h, s->start) == s,
			  "free_large: span %llu not in the table", s->start);
	}
	return nlisted;
}

/*
 * One in-use span's bitmaps and geometry, and with lists its central
 * list (O(list) per span).
 */
static void gca_check_inuse_span(struct gca_heap *h, struct gca_check *c,
				 struct gca_span *s, bool lists)
{
	u64 n = gca_popcount_bits(s->alloc_bits, s->nwords);
	u32 w;

	GCA_CHECK(c, s->state == GCA_SPAN_INUSE, "inuse list: span %llu",
		  s->start);
	GCA_CHECK(c, gca_check_entry(h, s->start) == s,
		  "inuse list: span %llu not in the table", s->start);
	GCA_CHECK(c, s->nwords == DIV_ROUND_UP(s->nelems, 64),
		  "span %llu: nwords %u", s->start, s->nwords);
	GCA_CHECK(c, n == s->nalloc, "span %llu: nalloc %u, %llu bits",
		  s->start, s->nalloc, n);
	for (w = 0; w < s->nwords; w++) {
		u64 valid = (w + 1) * 64 <= s->nelems ? ~0ULL :
			    (1ULL << (s->nelems % 64)) - 1;

		GCA_CHECK(c, !(s->alloc_bits[w] & ~valid),
			  "span %llu: alloc tail", s->start);
		GCA_CHECK(c, !(s->mark_bits[w] & ~valid),
			  "span %llu: mark tail", s->start);
		GCA_CHECK(c, !(s->cache_bits[w] & ~valid),
			  "span %llu: cache tail", s->start);
		GCA_CHECK(c, !(s->cache_bits[w] & s->alloc_bits[w]),
			  "span %llu: cache & alloc", s->start);
		if (!s->cached)
			GCA_CHECK(c, !s->cache_bits[w],
				  "span %llu: stale cache bits", s->start);
	}
	if (s->spanclass >> 1) {
		unsigned int sc = s->spanclass >> 1;

		GCA_CHECK(c, s->elemsize == gca_class_size[sc] &&
			  s->npages == gca_class_npages[sc] &&
			  s->nelems == gca_class_nelems(sc),
			  "span %llu: geometry of class %u", s->start, sc);
		GCA_CHECK(c, s->divmul == U32_MAX / gca_class_size[sc] + 1,
			  "span %llu: divmul of class %u", s->start, sc);
		if (lists && !s->cached)
			GCA_CHECK(c, gca_on_list(s->nalloc < s->nelems ?
						 &h->partial[s->spanclass] :
						 &h->full[s->spanclass], s),
				  "span %llu (class %u, %u/%u) not on its central list",
				  s->start, sc, s->nalloc, s->nelems);
	} else {
		GCA_CHECK(c, !s->cached && s->nelems == 1 &&
			  s->elemsize == s->npages * GCA_PAGE_SIZE &&
			  !s->divmul, "large span %llu: geometry", s->start);
		if (lists)
			GCA_CHECK(c, gca_on_list(&h->large, s),
				  "large span %llu not on h->large",
				  s->start);
	}
}

unsigned int gca_heap_check(struct gca_heap *h, struct gca_check *c)
{
	u64 nfree = 0, ninuse_walk = 0, ninuse = 0, nlisted, meta;
	u64 inuse_bytes = 0, objects = 0, alloc_bytes = 0, live = 0;
	struct gca_span *s;
	unsigned int i;

	gca_assert_locked(h);
	c->errors = 0;
	meta = gca_check_directory(h, c);
	if (!gca_check_table(h, c, &meta, &nfree, &ninuse_walk))
		return c->errors;
	GCA_CHECK(c, meta == h->meta_bytes, "meta %llu != %llu", meta,
		  h->meta_bytes);

	nlisted = gca_check_free_lists(h, c);
	GCA_CHECK(c, nlisted == nfree, "%llu listed, %llu free", nlisted,
		  nfree);

	list_for_each_entry(s, &h->inuse, all) {
		ninuse++;
		inuse_bytes += s->npages * GCA_PAGE_SIZE;
		gca_check_inuse_span(h, c, s, true);
		objects += s->nalloc;
		alloc_bytes += s->nalloc * s->elemsize;
		live += s->nalloc * s->elemsize;
		if (s->cached)
			live += gca_popcount_bits(s->cache_bits, s->nwords) *
				s->elemsize;
	}
	for (i = 0; i < GCA_NUM_SPAN_CLASSES; i++) {
		list_for_each_entry(s, &h->partial[i], list)
			GCA_CHECK(c, s->spanclass == i && !s->cached &&
				  s->nalloc < s->nelems, "partial[%u]", i);
		list_for_each_entry(s, &h->full[i], list)
			GCA_CHECK(c, s->spanclass == i && !s->cached &&
				  s->nalloc == s->nelems, "full[%u]", i);
	}
	GCA_CHECK(c, ninuse == h->nspans_inuse,
		  "%llu on inuse, nspans_inuse %llu", ninuse,
		  h->nspans_inuse);
	if (c->strict_inuse)
		GCA_CHECK(c, ninuse == ninuse_walk,
			  "%llu on inuse, %llu in table", ninuse, ninuse_walk);
	GCA_CHECK(c, inuse_bytes == h->heap_inuse, "heap_inuse %llu != %llu",
		  h->heap_inuse, inuse_bytes);
	GCA_CHECK(c, objects == h->heap_objects, "heap_objects %llu != %llu",
		  h->heap_objects, objects);
	GCA_CHECK(c, h->heap_objects == h->mallocs - h->frees,
		  "%llu, %llu - %llu", h->heap_objects, h->mallocs, h->frees);
	GCA_CHECK(c, alloc_bytes == h->heap_alloc, "heap_alloc %llu != %llu",
		  h->heap_alloc, alloc_bytes);
	GCA_CHECK(c, live == h->heap_live, "heap_live %llu != %llu",
		  h->heap_live, live);
	GCA_CHECK(c, h->heap_alloc <= h->heap_inuse &&
		  h->heap_inuse <= h->grown_pages * GCA_PAGE_SIZE,
		  "%llu, %llu", h->heap_alloc, h->heap_inuse);
	if (c->backed)
		GCA_CHECK(c, h->heap_backed ==
			  c->backed_pages * GCA_PAGE_SIZE,
			  "heap_backed %llu, host has %llu pages",
			  h->heap_backed, c->backed_pages);
	GCA_CHECK(c, h->total_alloc >= h->heap_alloc, "total_alloc %llu",
		  h->total_alloc);
	return c->errors;
}

void gca_heap_check_spans_begin(struct gca_heap *h, struct gca_check *c)
{
	gca_assert_locked(h);
	c->errors = 0;
	c->cursor = h->inuse.next;
}

bool gca_heap_check_spans_some(struct gca_heap *h, struct gca_check *c,
			       u32 budget)
{
	struct gca_span *s;

	gca_assert_locked(h);
	while ((s = gca_inuse_next(h, &c->cursor, &budget)))
		gca_check_inuse_span(h, c, s, false);
	return !c->cursor;
}
