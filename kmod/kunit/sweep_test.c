// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suite gcarena_sweep: sweeping.
 *
 * Part of gcarena_test.ko: kmod/gcarena_test.c includes this file, so
 * that every suite shares its host, its helpers and its copy of the
 * core in one translation unit (see the comment atop that file).
 */

/* =====================================================================
 * Sweeping
 */

/*
 * Spans whose mark bits the test sets by hand: the sweep frees exactly
 * alloc & ~mark in each, counts it, keeps cached spans, and moves what
 * has room again to partial.
 */
static void sweep_hand_built_spans(struct kunit *test)
{
	struct gkt_host *g = gkt_host_init(test, 0, GKT_HEAP_BYTES,
					   GKT_USER_BASE);
	struct gca_heap *h = &g->h;
	struct gca_span *s1, *s5, *s10, *s67, *cached;
	struct gca_sweep_result res;
	u64 o67, pat5 = 0x3, w, bytes;
	int err;

	s1 = gkt_span_with(g, NOSCAN(1), 1024);
	s5 = gkt_span_with(g, NOSCAN(5), 170);
	s10 = gkt_span_with(g, NOSCAN(10), 40);
	s67 = gkt_span_with(g, NOSCAN(67), 1);
	KUNIT_ASSERT_TRUE(test, s1 && s5 && s10 && s67);
	KUNIT_EXPECT_EQ(test, s1->nalloc + s5->nalloc + s10->nalloc +
			s67->nalloc, 1024U + 170 + 40 + 1);
	o67 = span_base(s67);
	KUNIT_EXPECT_TRUE(test, gca_on_list(&h->full[NOSCAN(1)], s1));
	KUNIT_EXPECT_TRUE(test, gca_on_list(&h->full[NOSCAN(5)], s5));
	KUNIT_EXPECT_TRUE(test, gca_on_list(&h->partial[NOSCAN(10)], s10));
	cached = gca_span_refill(h, NOSCAN(20), 2, &err);
	KUNIT_ASSERT_NOT_NULL(test, cached);
	KUNIT_EXPECT_EQ(test, h->nspans_inuse, 5ULL);

	gca_mark_begin(h);
	/* class 1: every other slot of 1024 */
	for (w = 0; w < 16; w++)
		s1->mark_bits[w] = 0x5555555555555555ULL;
	/* class 5: 170 slots; all of word 0, none of word 1, 2 of word 2 */
	s5->mark_bits[0] = ~0ULL;
	s5->mark_bits[1] = 0;
	s5->mark_bits[2] = pat5;
	/* class 10: 8 of its 40 committed objects */
	s10->mark_bits[0] = s10->alloc_bits[0] & 0xff00ULL;
	/* class 67: its one object is garbage */
	s67->mark_bits[0] = 0;

	KUNIT_ASSERT_EQ(test, gca_sweep(h, &res), 0);
	KUNIT_EXPECT_EQ(test, res.swept_spans, 4ULL);	/* not the cached */
	KUNIT_EXPECT_EQ(test, res.freed_spans, 1ULL);
	KUNIT_EXPECT_EQ(test, res.freed_objects, 512ULL + 104 + 32 + 1);
	bytes = 512 * 8 + 104 * 48 + 32 * 128 + 32768;
	KUNIT_EXPECT_EQ(test, res.freed_bytes, bytes);
	/* What survives is exactly what was marked. */
	for (w = 0; w < 16; w++)
		KUNIT_EXPECT_EQ(test, s1->alloc_bits[w], 0x5555555555555555ULL);
	KUNIT_EXPECT_EQ(test, s5->alloc_bits[0], ~0ULL);
	KUNIT_EXPECT_EQ(test, s5->alloc_bits[1], 0ULL);
	KUNIT_EXPECT_EQ(test, s5->alloc_bits[2], pat5);
	KUNIT_EXPECT_EQ(test, s10->alloc_bits[0], 0xff00ULL);
	KUNIT_EXPECT_EQ(test, s1->nalloc, 512U);
	KUNIT_EXPECT_EQ(test, s5->nalloc, 66U);
	KUNIT_EXPECT_EQ(test, s10->nalloc, 8U);
	KUNIT_EXPECT_NULL(test, gca_span_of(h, o67));	/* back to the heap */
	KUNIT_EXPECT_TRUE(test, gca_on_list(&h->partial[NOSCAN(1)], s1));
	KUNIT_EXPECT_TRUE(test, gca_on_list(&h->partial[NOSCAN(5)], s5));
	KUNIT_EXPECT_TRUE(test, gca_on_list(&h->partial[NOSCAN(10)], s10));
	KUNIT_EXPECT_TRUE(test, list_empty(&h->partial[NOSCAN(67)]));
	KUNIT_EXPECT_TRUE(test, list_empty(&h->full[NOSCAN(67)]));
	KUNIT_EXPECT_TRUE(test, cached->cached);
	KUNIT_EXPECT_EQ(test, h->heap_objects, 512ULL + 66 + 8);
	KUNIT_EXPECT_EQ(test, h->frees, 649ULL);
	KUNIT_EXPECT_EQ(test, h->heap_alloc, 512ULL * 8 + 66 * 48 + 8 * 128);
	KUNIT_EXPECT_EQ(test, h->nspans_inuse, 4ULL);
	CHECK_HEAP(g);
	gca_span_uncache(h, cached, 0);
	CHECK_HEAP(g);
}

/* Spans left empty go back to the page heap and coalesce into one run. */
static void sweep_empty_spans_to_pageheap(struct kunit *test)
{
	struct gkt_host *g = gkt_host_init(test, 0, GKT_HEAP_BYTES,
					   GKT_USER_BASE);
	struct gca_heap *h = &g->h;
	struct gca_sweep_result res;
	struct gca_span *s;
	u64 backed;
	int err;

	KUNIT_ASSERT_EQ(test, gkt_alloc_objs(g, SCAN(9), 5000, NULL), 5000ULL);
	KUNIT_ASSERT_NE(test, gkt_alloc_large(g, 3 * MiB, false), U64_MAX);
	s = gca_span_refill(h, SCAN(9), 1, &err);
	KUNIT_ASSERT_NOT_NULL(test, s);
	gca_span_uncache(h, s, 0);	/* handed out, given back unused */
	CHECK_HEAP(g);
	backed = h->heap_backed;
	KUNIT_EXPECT_EQ(test, backed, h->heap_inuse);

	KUNIT_ASSERT_EQ(test, gkt_mark(g, NULL, 0), 0);
	KUNIT_ASSERT_EQ(test, gca_sweep(h, &res), 0);
	KUNIT_EXPECT_EQ(test, res.freed_objects, 5001ULL);
	KUNIT_EXPECT_EQ(test, res.freed_spans, res.swept_spans);
	KUNIT_EXPECT_EQ(test, h->nspans_inuse, 0ULL);
	KUNIT_EXPECT_EQ(test, h->heap_inuse, 0ULL);
	KUNIT_EXPECT_EQ(test, h->heap_alloc, 0ULL);
	KUNIT_EXPECT_EQ(test, h->heap_live, 0ULL);
	KUNIT_EXPECT_EQ(test, h->heap_objects, 0ULL);
	KUNIT_EXPECT_EQ(test, h->frees, 5001ULL);
	KUNIT_EXPECT_EQ(test, nfree_spans(h), 1ULL);
	KUNIT_EXPECT_TRUE(test, list_empty(&h->large));
	KUNIT_EXPECT_TRUE(test, list_empty(&h->partial[SCAN(9)]));
	KUNIT_EXPECT_TRUE(test, list_empty(&h->full[SCAN(9)]));
	CHECK_HEAP(g);
	/* The memory stays backed until the scavenger releases it. */
	KUNIT_EXPECT_EQ(test, h->heap_backed, backed);
	KUNIT_EXPECT_EQ(test, gca_scavenge(h, 0), backed);
	KUNIT_EXPECT_EQ(test, h->heap_backed, 0ULL);
	KUNIT_EXPECT_EQ(test, g->backed_pages, 0ULL);
	KUNIT_EXPECT_TRUE(test, (*gca_entry(h, 0))->scavenged);
	CHECK_HEAP(g);
}

/*
 * Large objects: one kept by an interior pointer, one kept only through
 * a pointer in the first's fourth oblet, two freed; their pages go back
 * and the free runs are where they were.
 */
static void sweep_large_objects(struct kunit *test)
{
	struct gkt_host *g = gkt_host_init(test, 0, GKT_HEAP_BYTES,
					   GKT_USER_BASE);
	struct gca_heap *h = &g->h;
	struct gca_sweep_result res;
	u64 l1, l2, l3, l4;
	bool nz;

	KUNIT_EXPECT_NULL(test, gca_alloc_large(h, 0, true, &nz));
	KUNIT_EXPECT_NULL(test, gca_alloc_large(h, GKT_HEAP_BYTES + 1, true,
						&nz));
	l1 = gkt_alloc_large(g, 33000, true);		/* 5 pages */
	l2 = gkt_alloc_large(g, MiB + 8, false);	/* 129 pages */
	l3 = gkt_alloc_large(g, 3 * PS, true);		/* 3 pages */
	l4 = gkt_alloc_large(g, 100000, false);		/* 13 pages */
	KUNIT_ASSERT_EQ(test, l1, 0ULL);
	KUNIT_ASSERT_EQ(test, l2, 5 * PS);
	KUNIT_ASSERT_EQ(test, l3, 134 * PS);
	KUNIT_ASSERT_EQ(test, l4, 137 * PS);
	KUNIT_EXPECT_EQ(test, h->heap_alloc, (5ULL + 129 + 3 + 13) * PS);
	KUNIT_EXPECT_EQ(test, h->heap_objects, 4ULL);
	gkt_store(g, l2 + 3 * GCA_OBLET_SIZE + 16, l4 + 99999);
	CHECK_HEAP(g);

	KUNIT_ASSERT_EQ(test, gkt_mark(g, (u64[]){ gkt_addr(g, l2 + 500000) },
				       1), 0);
	KUNIT_EXPECT_EQ(test, h->marked_objects, 2ULL);
	KUNIT_EXPECT_EQ(test, h->scanned_bytes, (129ULL + 13) * PS);
	KUNIT_ASSERT_EQ(test, gca_sweep(h, &res), 0);
	KUNIT_EXPECT_EQ(test, res.swept_spans, 4ULL);
	KUNIT_EXPECT_EQ(test, res.freed_objects, 2ULL);
	KUNIT_EXPECT_EQ(test, res.freed_spans, 2ULL);
	KUNIT_EXPECT_EQ(test, res.freed_bytes, (5ULL + 3) * PS);
	KUNIT_EXPECT_NULL(test, gca_span_of(h, l1));
	KUNIT_EXPECT_NULL(test, gca_span_of(h, l3 + 2 * PS));
	KUNIT_EXPECT_NOT_NULL(test, gca_span_of(h, l2 + 128 * PS));
	KUNIT_EXPECT_NOT_NULL(test, gca_span_of(h, l4));
	KUNIT_EXPECT_EQ(test, h->heap_alloc, (129ULL + 13) * PS);
	KUNIT_EXPECT_EQ(test, h->heap_inuse, (129ULL + 13) * PS);
	/* Free: [0, 5), [134, 137) and the rest of the chunk. */
	KUNIT_EXPECT_EQ(test, nfree_spans(h), 3ULL);
	KUNIT_EXPECT_EQ(test, (*gca_entry(h, 0))->npages, 5ULL);
	KUNIT_EXPECT_EQ(test, (*gca_entry(h, 134))->npages, 3ULL);
	CHECK_HEAP(g);

	/* A 3-page object fits the hole exactly: best fit, not the tail. */
	KUNIT_EXPECT_EQ(test, gkt_alloc_large(g, 3 * PS - 100, true), 134 * PS);
	/* Nothing reachable: everything goes, into one run. */
	KUNIT_ASSERT_EQ(test, gkt_mark(g, NULL, 0), 0);
	KUNIT_ASSERT_EQ(test, gca_sweep(h, &res), 0);
	KUNIT_EXPECT_EQ(test, res.freed_objects, 3ULL);
	KUNIT_EXPECT_EQ(test, res.freed_spans, 3ULL);
	KUNIT_EXPECT_TRUE(test, list_empty(&h->large));
	KUNIT_EXPECT_EQ(test, nfree_spans(h), 1ULL);
	KUNIT_EXPECT_EQ(test, h->heap_alloc, 0ULL);
}

/*
 * Destroying a heap with everything in it: spans of every class, large
 * objects, free and scavenged runs, cached spans and a mark stopped with
 * gray blocks queued.  The exit destroys it; kmemleak, run after the
 * suite, sees whether anything was left.
 */
static void destroy_with_everything_in_use(struct kunit *test)
{
	struct gkt_host *g = gkt_host_init(test, 0, GKT_HEAP_BYTES,
					   GKT_USER_BASE);
	struct gca_heap *h = &g->h;
	struct gca_sweep_result res;
	unsigned int sc;
	u64 *objs, i, big;
	int err;

	objs = kunit_kcalloc(test, 3000, sizeof(u64), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, objs);
	for (sc = 2; sc < GCA_NUM_SPAN_CLASSES; sc++)
		KUNIT_ASSERT_EQ(test, gkt_alloc_objs(g, sc, 3, NULL), 3ULL);
	for (i = 0; i < 5; i++)
		KUNIT_ASSERT_NE(test, gkt_alloc_large(g, (i + 1) * 100000,
						      i & 1), U64_MAX);
	big = gkt_alloc_large(g, MiB, false);
	KUNIT_ASSERT_NE(test, big, U64_MAX);
	/* Free runs, then some of them scavenged. */
	KUNIT_ASSERT_EQ(test, gkt_mark(g, (u64[]){ gkt_addr(g, big) }, 1), 0);
	KUNIT_ASSERT_EQ(test, gca_sweep(h, &res), 0);
	KUNIT_EXPECT_GT(test, res.freed_spans, 100ULL);
	KUNIT_EXPECT_GT(test, gca_scavenge(h, h->heap_backed / 2), 0ULL);
	KUNIT_ASSERT_EQ(test, gkt_alloc_objs(g, SCAN(2), 3000, objs), 3000ULL);
	/* Two spans still cached by threads. */
	KUNIT_ASSERT_NOT_NULL(test, gca_span_refill(h, SCAN(30), 1, &err));
	KUNIT_ASSERT_NOT_NULL(test, gca_span_refill(h, NOSCAN(1), 2, &err));
	/* And a mark stopped halfway with its gray queue full. */
	for (i = 0; i < MiB / 8; i++)
		gkt_store(g, big + i * 8, i < 3000 ? objs[i] : big);
	h->gray.max_blocks = 4;
	g->abort_after = 0;
	gca_mark_begin(h);
	gca_mark_word(h, gkt_addr(g, big));
	gca_mark_words(h, (u64[]){ 0, 1, 2 }, 3);
	KUNIT_ASSERT_EQ(test, gca_mark_drain(h), -EINTR);
	KUNIT_EXPECT_GT(test, h->gray.nblocks, 0ULL);
	g->abort_after = -1;
	CHECK_HEAP(g);
	/* gkt_exit() destroys it all and checks meta_bytes comes to 0. */
}

static struct kunit_case gcarena_sweep_cases[] = {
	KUNIT_CASE(sweep_hand_built_spans),
	KUNIT_CASE(sweep_empty_spans_to_pageheap),
	KUNIT_CASE(sweep_large_objects),
	KUNIT_CASE(destroy_with_everything_in_use),
	{}
};

static struct kunit_suite gcarena_sweep_suite = {
	.name = "gcarena_sweep",
	.init = gkt_init,
	.exit = gkt_exit,
	.test_cases = gcarena_sweep_cases,
};
