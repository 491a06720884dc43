// SPDX-License-Identifier: GPL-2.0
/*
 * The page heap: init, allocation (exact lists, best fit, growth,
 * exhaustion), coalescing, the span table's invariants after every
 * operation, untrusted gca_span_of(), metadata allocation failure, and a
 * random walk checked step by step.
 */
#include "gca_test.h"
#include "gca_harness.h"

#define HEAP_BYTES	(64ULL << 20)	/* 8192 pages, 16 chunks */

FIXTURE(heap) {
	struct uarena ua;
};

FIXTURE_SETUP(heap)
{
	gca_uenv_reset();
	ASSERT_EQ(0, ua_init(&self->ua, HEAP_BYTES));
	ASSERT_EQ(0ULL, self->ua.h.grown_pages);
	ASSERT_EQ(8192ULL, self->ua.h.npages);
	ASSERT_EQ(16ULL, self->ua.h.nchunks);
}

FIXTURE_TEARDOWN(heap)
{
	ua_destroy(&self->ua);
	EXPECT_EQ(0ULL, self->ua.h.meta_bytes);
	EXPECT_EQ(0ULL, gca_uenv.warnings);
	EXPECT_EQ(0, ua_leaks());
}

#define CHECK_HEAP() ASSERT_EQ(0, ua_check(&self->ua, false))

static u64 nfree_spans(struct gca_heap *h)
{
	struct gca_span *s;
	u64 n = 0;
	int i;

	for (i = 1; i < GCA_FREE_LISTS; i++)
		list_for_each_entry(s, &h->free[i], list)
			n++;
	list_for_each_entry(s, &h->free_large, list)
		n++;
	return n;
}

/* Could a run of np pages be had, from a free span or by growing? */
static bool run_available(struct gca_heap *h, u64 np)
{
	u64 p = 0, tail = 0;

	while (p < h->grown_pages) {
		struct gca_span *s = h->span_table[p / GCA_CHUNK_PAGES]
						  [p % GCA_CHUNK_PAGES];

		if (s->state == GCA_SPAN_FREE && s->npages >= np)
			return true;
		tail = s->state == GCA_SPAN_FREE ? s->npages : 0;
		p += s->npages;
	}
	return tail + (h->npages - h->grown_pages) >= np;
}

TEST(init_rejects_bad_sizes)
{
	static const struct gca_heap_ops none;
	struct gca_heap h;
	struct uarena ua;

	gca_uenv_reset();
	EXPECT_EQ(-EINVAL, ua_init(&ua, 0));
	EXPECT_EQ(-EINVAL, ua_init(&ua, 4096));
	EXPECT_EQ(-EINVAL, ua_init(&ua, GCA_PAGE_SIZE + 8));
	EXPECT_EQ(-EINVAL, gca_heap_init(&h, 1ULL << 30, NULL, NULL, NULL));
	EXPECT_EQ(-EINVAL, gca_heap_init(&h, 1ULL << 30, &none, NULL, NULL));
	/* One page is a heap; so is a size that ends mid-chunk. */
	ASSERT_EQ(0, ua_init(&ua, GCA_PAGE_SIZE));
	EXPECT_EQ(1ULL, ua.h.nchunks);
	ua_destroy(&ua);
	ASSERT_EQ(0, ua_init(&ua, 513 * GCA_PAGE_SIZE));
	EXPECT_EQ(2ULL, ua.h.nchunks);
	ua_destroy(&ua);
	/*
	 * Init allocates nothing, whatever the reservation: with every
	 * allocation failing it succeeds, and the first growth fails cleanly.
	 */
	gca_uenv.fail_after = 0;
	ASSERT_EQ(0, ua_init(&ua, GCA_HEAP_SIZE_MAX));
	EXPECT_EQ(0ULL, ua.h.meta_bytes);
	EXPECT_EQ(NULL, ua.h.span_table);
	EXPECT_EQ(0L, gca_uenv.live_allocs);
	EXPECT_EQ(NULL, gca_pages_alloc(&ua.h, 1));
	EXPECT_EQ(0ULL, ua.h.grown_pages);
	EXPECT_EQ(0ULL, ua.h.meta_bytes);
	gca_uenv.fail_after = -1;
	ua_destroy(&ua);
	EXPECT_EQ(0, ua_leaks());
}

/*
 * The directory grows with the heap, not with the reservation: doubled
 * when the heap grows past it, its entries kept, all or nothing.
 */
TEST(directory_grows_with_heap)
{
	const u64 chunk = GCA_CHUNK_PAGES, ptr = sizeof(void *);
	struct gca_span *first, *s, *t;
	struct gca_heap *h;
	struct uarena ua;
	u64 meta;

	gca_uenv_reset();
	ASSERT_EQ(0, ua_init(&ua, 64ULL << 30));	/* 16384 chunks */
	h = &ua.h;
	EXPECT_EQ(16384ULL, h->nchunks);
	EXPECT_EQ(0ULL, h->span_table_len);
	EXPECT_EQ(0ULL, h->meta_bytes);

	/* The first growth: 8 entries and one chunk. */
	first = gca_pages_alloc(h, 1);
	ASSERT_NE(NULL, first);
	EXPECT_EQ(8ULL, h->span_table_len);
	EXPECT_GE(8 * ptr + chunk * ptr + 2 * sizeof(struct gca_span) + 64,
		  h->meta_bytes);
	ASSERT_EQ(0, ua_check(&ua, false));

	/* Chunks 1..7 fit; chunk 8 doubles it, chunk 0 still found. */
	ASSERT_NE(NULL, gca_pages_alloc(h, 8 * chunk - 1));
	EXPECT_EQ(8ULL, h->span_table_len);
	meta = h->meta_bytes;
	s = gca_pages_alloc(h, 1);
	ASSERT_NE(NULL, s);
	EXPECT_EQ(8 * chunk, s->start);
	EXPECT_EQ(16ULL, h->span_table_len);
	EXPECT_LE(meta + 8 * ptr + chunk * ptr, h->meta_bytes);
	EXPECT_EQ(first, gca_span_of(h, 0));
	EXPECT_EQ(s, gca_span_of(h, 8 * chunk * GCA_PAGE_SIZE));
	ASSERT_EQ(0, ua_check(&ua, false));

	/* A run far past twice the length: exactly what it needs. */
	t = gca_pages_alloc(h, 40 * chunk);
	ASSERT_NE(NULL, t);
	EXPECT_EQ(49ULL, h->span_table_len);
	ASSERT_EQ(0, ua_check(&ua, false));

	/* The new directory cannot be had: nothing changes. */
	meta = h->meta_bytes;
	gca_uenv.fail_after = 0;
	EXPECT_EQ(NULL, gca_pages_alloc(h, 60 * chunk));
	gca_uenv.fail_after = -1;
	EXPECT_EQ(49ULL, h->span_table_len);
	EXPECT_EQ(49 * chunk, h->grown_pages);
	EXPECT_EQ(meta, h->meta_bytes);
	EXPECT_EQ(t, gca_span_of(h, (9 * chunk + 5) * GCA_PAGE_SIZE));
	ASSERT_EQ(0, ua_check(&ua, false));

	/* Never past the reservation: the whole heap, 16384 entries. */
	ASSERT_NE(NULL, gca_pages_alloc(h, h->npages - h->grown_pages));
	EXPECT_EQ(h->npages, h->grown_pages);
	EXPECT_EQ(16384ULL, h->span_table_len);
	ASSERT_EQ(0, ua_check(&ua, false));
	ua_destroy(&ua);
	EXPECT_EQ(0ULL, ua.h.meta_bytes);
	EXPECT_EQ(0ULL, gca_uenv.warnings);
	EXPECT_EQ(0, ua_leaks());
}

TEST_F(heap, first_alloc_grows_one_chunk)
{
	struct gca_heap *h = &self->ua.h;
	struct gca_span *s, *rest;

	s = gca_pages_alloc(h, 1);
	ASSERT_NE(NULL, s);
	EXPECT_EQ(0ULL, s->start);
	EXPECT_EQ(1ULL, s->npages);
	EXPECT_EQ(GCA_SPAN_INUSE, s->state);
	EXPECT_EQ((u64)GCA_CHUNK_PAGES, h->grown_pages);
	CHECK_HEAP();
	/* The rest of the chunk is one free span, never backed. */
	rest = ua_entry(&self->ua, 1);
	ASSERT_NE(NULL, rest);
	EXPECT_EQ(GCA_SPAN_FREE, rest->state);
	EXPECT_EQ(511ULL, rest->npages);
	EXPECT_TRUE(rest->scavenged);
	EXPECT_EQ(rest, ua_entry(&self->ua, 511));
	EXPECT_EQ(NULL, ua_entry(&self->ua, 2));

	EXPECT_EQ(s, gca_span_of(h, 0));
	EXPECT_EQ(s, gca_span_of(h, GCA_PAGE_SIZE - 1));
	EXPECT_EQ(NULL, gca_span_of(h, GCA_PAGE_SIZE));	/* free, first */
	EXPECT_EQ(NULL, gca_span_of(h, 5 * GCA_PAGE_SIZE));	/* free, inner */
	EXPECT_EQ(NULL, gca_span_of(h, 511 * GCA_PAGE_SIZE));	/* free, last */
	EXPECT_EQ(NULL, gca_span_of(h, 512 * GCA_PAGE_SIZE));	/* not grown */
	EXPECT_EQ(NULL, gca_span_of(h, HEAP_BYTES));
	EXPECT_EQ(NULL, gca_span_of(h, U64_MAX));
	EXPECT_EQ(NULL, gca_span_of(h, -GCA_PAGE_SIZE));
	gca_pages_free(h, s);
	CHECK_HEAP();
	EXPECT_EQ(1ULL, nfree_spans(h));
	EXPECT_EQ(NULL, gca_span_of(h, 0));
}

/*
 * The heap's base address names no object: copies of it on stacks and in
 * registers (the library forms every address from it) keep nothing alive.
 */
TEST_F(heap, reserved_base_holds_no_object)
{
	struct gca_heap *h = &self->ua.h;
	struct gca_span *s, *large;
	bool needzero;
	int err;

	ASSERT_EQ(0, gca_heap_reserve_base(h));
	EXPECT_EQ((u64)GCA_CHUNK_PAGES, h->grown_pages);
	EXPECT_EQ(0ULL, h->heap_inuse);
	EXPECT_EQ(-EBUSY, gca_heap_reserve_base(h));
	EXPECT_EQ(0, ua_check(&self->ua, false));

	s = gca_span_refill(h, GCA_SPANCLASS(1, 0), 1, &err);
	ASSERT_NE(NULL, s);
	EXPECT_EQ(1ULL, s->start);
	large = gca_alloc_large(h, 3 * GCA_PAGE_SIZE, false, &needzero);
	ASSERT_NE(NULL, large);
	EXPECT_NE(0ULL, large->start);
	EXPECT_EQ(0, ua_check(&self->ua, false));

	/* Every byte of page 0: no object, no mark, nothing queued. */
	h->marking = true;
	EXPECT_FALSE(gca_mark_word(h, h->user_base));
	EXPECT_FALSE(gca_mark_word(h, h->user_base + 8));
	EXPECT_FALSE(gca_mark_word(h, h->user_base + GCA_PAGE_SIZE - 1));
	EXPECT_FALSE(gca_is_allocated(h, 0));
	EXPECT_FALSE(gca_is_marked(h, 0));
	EXPECT_EQ(0ULL, h->shaded);
	EXPECT_TRUE(gca_mark_word(h, h->user_base + GCA_PAGE_SIZE));
	h->marking = false;

	/* A free neighbour never merges with page 0. */
	gca_span_uncache(h, s, 0);
	list_del(&s->list);
	list_del(&s->all);
	h->nspans_inuse--;
	h->heap_inuse -= s->npages * GCA_PAGE_SIZE;
	gca_pages_free(h, s);
	EXPECT_EQ(0, ua_check(&self->ua, false));
	EXPECT_EQ(GCA_SPAN_INUSE, ua_entry(&self->ua, 0)->state);
	EXPECT_EQ(1ULL, ua_entry(&self->ua, 0)->npages);
}

TEST_F(heap, bad_requests)
{
	struct gca_heap *h = &self->ua.h;

	EXPECT_EQ(NULL, gca_pages_alloc(h, 0));
	EXPECT_EQ(NULL, gca_pages_alloc(h, h->npages + 1));
	EXPECT_EQ(NULL, gca_pages_alloc(h, U64_MAX));
	EXPECT_EQ(NULL, gca_pages_alloc(h, U64_MAX >> GCA_PAGE_SHIFT));
	/* None of them grew the heap. */
	EXPECT_EQ(0ULL, h->grown_pages);
	CHECK_HEAP();
}

/* Alloc A B C, free B, A, C: one free run again. */
TEST_F(heap, coalesce_both_sides)
{
	struct gca_heap *h = &self->ua.h;
	struct gca_span *a, *b, *c, *f;

	a = gca_pages_alloc(h, 3);
	b = gca_pages_alloc(h, 5);
	c = gca_pages_alloc(h, 7);
	ASSERT_TRUE(a && b && c);
	EXPECT_EQ(0ULL, a->start);
	EXPECT_EQ(3ULL, b->start);
	EXPECT_EQ(8ULL, c->start);
	CHECK_HEAP();
	EXPECT_EQ(1ULL, nfree_spans(h));

	gca_pages_free(h, b);		/* neither neighbour is free */
	CHECK_HEAP();
	EXPECT_EQ(2ULL, nfree_spans(h));
	f = ua_entry(&self->ua, 3);
	ASSERT_EQ(GCA_SPAN_FREE, f->state);
	EXPECT_EQ(5ULL, f->npages);
	EXPECT_FALSE(f->scavenged);	/* was in use: maybe backed */
	EXPECT_FALSE(list_empty(&h->free[5]));

	gca_pages_free(h, a);		/* right neighbour free */
	CHECK_HEAP();
	EXPECT_EQ(2ULL, nfree_spans(h));
	f = ua_entry(&self->ua, 0);
	ASSERT_EQ(GCA_SPAN_FREE, f->state);
	EXPECT_EQ(8ULL, f->npages);
	EXPECT_EQ(f, ua_entry(&self->ua, 7));
	EXPECT_EQ(NULL, ua_entry(&self->ua, 3));	/* interior now */
	EXPECT_TRUE(list_empty(&h->free[5]));
	EXPECT_FALSE(list_empty(&h->free[8]));

	gca_pages_free(h, c);		/* both neighbours free */
	CHECK_HEAP();
	EXPECT_EQ(1ULL, nfree_spans(h));
	f = ua_entry(&self->ua, 0);
	EXPECT_EQ((u64)GCA_CHUNK_PAGES, f->npages);
	/* Scavenged only if every part was: the merged run was in use. */
	EXPECT_FALSE(f->scavenged);
	EXPECT_EQ(f, ua_entry(&self->ua, GCA_CHUNK_PAGES - 1));
	EXPECT_EQ(NULL, ua_entry(&self->ua, 8));
	EXPECT_EQ(NULL, ua_entry(&self->ua, 14));
	EXPECT_EQ(NULL, ua_entry(&self->ua, 15));
}

TEST_F(heap, exact_lists_then_best_fit)
{
	struct gca_heap *h = &self->ua.h;
	struct gca_span *x[6], *sep[6], *s;
	static const u64 sizes[6] = { 130, 200, 140, 150, 3, 150 };
	int i;

	for (i = 0; i < 6; i++) {
		x[i] = gca_pages_alloc(h, sizes[i]);
		sep[i] = gca_pages_alloc(h, 1);
		ASSERT_TRUE(x[i] && sep[i]);
	}
	for (i = 0; i < 6; i++)
		gca_pages_free(h, x[i]);
	CHECK_HEAP();

	/* Exact lists: the first non-empty list >= n (3 pages for 2). */
	s = gca_pages_alloc(h, 2);
	ASSERT_NE(NULL, s);
	EXPECT_EQ(130ULL + 1 + 200 + 1 + 140 + 1 + 150 + 1, s->start);
	CHECK_HEAP();
	/* Best fit: 140 is the smallest >= 135. */
	s = gca_pages_alloc(h, 135);
	ASSERT_NE(NULL, s);
	EXPECT_EQ(130ULL + 1 + 200 + 1, s->start);
	CHECK_HEAP();
	/* Exactly 130. */
	s = gca_pages_alloc(h, 130);
	ASSERT_NE(NULL, s);
	EXPECT_EQ(0ULL, s->start);
	CHECK_HEAP();
	/* Two free 150s: the lower address wins. */
	s = gca_pages_alloc(h, 145);
	ASSERT_NE(NULL, s);
	EXPECT_EQ(130ULL + 1 + 200 + 1 + 140 + 1, s->start);
	CHECK_HEAP();
	s = gca_pages_alloc(h, 150);
	ASSERT_NE(NULL, s);
	EXPECT_EQ(130ULL + 1 + 200 + 1 + 140 + 1 + 150 + 1 + 3 + 1, s->start);
	CHECK_HEAP();
	/* Leftovers from splits are free runs of the right length. */
	s = ua_entry(&self->ua, 130 + 1 + 200 + 1 + 135);
	ASSERT_NE(NULL, s);
	EXPECT_EQ(GCA_SPAN_FREE, s->state);
	EXPECT_EQ(5ULL, s->npages);
	EXPECT_EQ(1024ULL, h->grown_pages);
}

TEST_F(heap, growth_merges_with_free_tail)
{
	struct gca_heap *h = &self->ua.h;
	struct gca_span *a, *b, *t;

	a = gca_pages_alloc(h, 600);
	ASSERT_NE(NULL, a);
	EXPECT_EQ(1024ULL, h->grown_pages);
	CHECK_HEAP();
	t = ua_entry(&self->ua, 600);
	ASSERT_EQ(GCA_SPAN_FREE, t->state);
	EXPECT_EQ(424ULL, t->npages);
	EXPECT_TRUE(t->scavenged);

	/* 424 free at the end: grow by 576 more, rounded up to chunks. */
	b = gca_pages_alloc(h, 1000);
	ASSERT_NE(NULL, b);
	EXPECT_EQ(600ULL, b->start);
	EXPECT_EQ(2048ULL, h->grown_pages);
	CHECK_HEAP();
	t = ua_entry(&self->ua, 1600);
	ASSERT_EQ(GCA_SPAN_FREE, t->state);
	EXPECT_EQ(448ULL, t->npages);
	EXPECT_TRUE(t->scavenged);

	/* A free run that does not end the heap is not extended. */
	gca_pages_free(h, a);
	CHECK_HEAP();
	b = gca_pages_alloc(h, 700);
	ASSERT_NE(NULL, b);
	EXPECT_EQ(1600ULL, b->start);
	EXPECT_EQ(2560ULL, h->grown_pages);
	CHECK_HEAP();
}

TEST(exhaustion_and_partial_last_chunk)
{
	struct uarena ua;
	struct gca_span *a, *b;
	struct gca_heap *h;

	gca_uenv_reset();
	/* 640 pages: the second chunk is partial. */
	ASSERT_EQ(0, ua_init(&ua, 640 * GCA_PAGE_SIZE));
	h = &ua.h;
	EXPECT_EQ(NULL, gca_pages_alloc(h, 641));
	EXPECT_EQ(0ULL, h->grown_pages);
	a = gca_pages_alloc(h, 600);
	ASSERT_NE(NULL, a);
	EXPECT_EQ(640ULL, h->grown_pages);
	ASSERT_EQ(0, ua_check(&ua, false));
	EXPECT_EQ(NULL, gca_pages_alloc(h, 41));
	b = gca_pages_alloc(h, 40);
	ASSERT_NE(NULL, b);
	EXPECT_EQ(NULL, gca_pages_alloc(h, 1));
	ASSERT_EQ(0, ua_check(&ua, false));
	gca_pages_free(h, a);
	gca_pages_free(h, b);
	ASSERT_EQ(0, ua_check(&ua, false));
	a = gca_pages_alloc(h, 640);
	ASSERT_NE(NULL, a);
	EXPECT_EQ(0ULL, a->start);
	EXPECT_EQ(NULL, gca_pages_alloc(h, 1));
	ASSERT_EQ(0, ua_check(&ua, false));
	ua_destroy(&ua);
	EXPECT_EQ(0, ua_leaks());
}

TEST_F(heap, whole_heap_then_nothing)
{
	struct gca_heap *h = &self->ua.h;
	struct gca_span *a;

	a = gca_pages_alloc(h, h->npages);
	ASSERT_NE(NULL, a);
	EXPECT_EQ(h->npages, h->grown_pages);
	EXPECT_EQ(NULL, gca_pages_alloc(h, 1));
	CHECK_HEAP();
	EXPECT_EQ(a, gca_span_of(h, HEAP_BYTES - 1));
	EXPECT_EQ(NULL, gca_span_of(h, HEAP_BYTES));
	gca_pages_free(h, a);
	CHECK_HEAP();
	EXPECT_EQ(1ULL, nfree_spans(h));
}

/* Every metadata allocation of a growing alloc fails in turn. */
TEST_F(heap, metadata_allocation_failure)
{
	struct gca_heap *h = &self->ua.h;
	struct gca_span *s = NULL, *keep;
	long k;

	keep = gca_pages_alloc(h, 10);
	ASSERT_NE(NULL, keep);
	for (k = 0; k < 20 && !s; k++) {
		u64 grown = h->grown_pages, meta = h->meta_bytes;
		long live = gca_uenv.live_allocs;

		gca_uenv.fail_after = k;
		s = gca_pages_alloc(h, 1500);	/* needs 2 new chunks */
		gca_uenv.fail_after = -1;
		CHECK_HEAP();
		if (!s) {
			/* Growth is all or nothing; taking the span may fail after. */
			EXPECT_TRUE(h->grown_pages == grown ||
				    h->grown_pages == 1536);
			if (h->grown_pages == grown) {
				EXPECT_EQ(meta, h->meta_bytes);
				EXPECT_EQ(live, gca_uenv.live_allocs);
			}
		}
	}
	ASSERT_NE(NULL, s);
	/* chunk 1, chunk 2, the span struct failed; then success. */
	EXPECT_EQ(4, k);
	EXPECT_EQ(10ULL, s->start);
	gca_pages_free(h, s);
	gca_pages_free(h, keep);
	CHECK_HEAP();
	EXPECT_EQ(1ULL, nfree_spans(h));
}

/*
 * Random allocs and frees; the walker checks the table after each step,
 * and in-use spans never overlap (the table tiles the heap).
 */
TEST_F(heap, random_walk)
{
	struct gca_heap *h = &self->ua.h;
	struct gca_span *live[256];
	u64 seed = 0x9e3779b97f4a7c15ULL, i;
	int n = 0, step;

	for (step = 0; step < 3000; step++) {
		u64 r = ua_rand(&seed);

		if (n < 256 && (n == 0 || r % 3)) {
			/* Mostly small runs, sometimes past the exact lists. */
			u64 np = r & 0x100 ? 1 + (r >> 9) % 300 : 1 + (r >> 9) % 8;
			struct gca_span *s = gca_pages_alloc(h, np);

			if (!s) {
				/* Only when no run of np is left anywhere. */
				EXPECT_FALSE(run_available(h, np));
				continue;
			}
			EXPECT_EQ(np, s->npages);
			live[n++] = s;
		} else {
			int k = (int)((r >> 8) % n);

			gca_pages_free(h, live[k]);
			live[k] = live[--n];
		}
		ASSERT_EQ(0, ua_check(&self->ua, false));
		for (i = 0; i < (u64)n; i++)
			ASSERT_EQ(live[i], gca_span_of(h, span_base(live[i]) +
					   (r % live[i]->npages) * GCA_PAGE_SIZE));
	}
	while (n)
		gca_pages_free(h, live[--n]);
	CHECK_HEAP();
	EXPECT_EQ(1ULL, nfree_spans(h));
	EXPECT_EQ(0ULL, ua_entry(&self->ua, 0)->start);
	EXPECT_EQ(h->grown_pages, ua_entry(&self->ua, 0)->npages);
}

TEST_HARNESS_MAIN
