// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suite gcarena_pageheap: the page heap.
 *
 * Part of gcarena_test.ko: kmod/gcarena_test.c includes this file, so
 * that every suite shares its host, its helpers and its copy of the
 * core in one translation unit (see the comment atop that file).
 */

/* =====================================================================
 * The page heap
 */

static struct gkt_host *pageheap_host(struct kunit *test, u64 heap_bytes)
{
	((struct gkt_ctx *)test->priv)->strict_inuse = false;
	return gkt_host_init(test, 0, heap_bytes, GKT_USER_BASE);
}

/* Alloc A B C; free B, A, C: one free run again. */
static void pageheap_coalesce(struct kunit *test)
{
	struct gkt_host *g = pageheap_host(test, GKT_HEAP_BYTES);
	struct gca_heap *h = &g->h;
	struct gca_span *a, *b, *c, *f;

	a = gca_pages_alloc(h, 3);
	b = gca_pages_alloc(h, 5);
	c = gca_pages_alloc(h, 7);
	KUNIT_ASSERT_TRUE(test, a && b && c);
	KUNIT_EXPECT_EQ(test, a->start, 0ULL);
	KUNIT_EXPECT_EQ(test, b->start, 3ULL);
	KUNIT_EXPECT_EQ(test, c->start, 8ULL);
	KUNIT_EXPECT_EQ(test, h->grown_pages, (u64)GCA_CHUNK_PAGES);
	KUNIT_EXPECT_PTR_EQ(test, gca_span_of(h, 4 * PS + 100), b);
	CHECK_HEAP(g);
	KUNIT_EXPECT_EQ(test, nfree_spans(h), 1ULL);

	gca_pages_free(h, b);		/* neither neighbour is free */
	CHECK_HEAP(g);
	KUNIT_EXPECT_EQ(test, nfree_spans(h), 2ULL);
	KUNIT_EXPECT_NULL(test, gca_span_of(h, 4 * PS));
	f = *gca_entry(h, 3);
	KUNIT_ASSERT_EQ(test, f->state, GCA_SPAN_FREE);
	KUNIT_EXPECT_EQ(test, f->npages, 5ULL);
	KUNIT_EXPECT_FALSE(test, f->scavenged);	/* was in use: maybe backed */
	KUNIT_EXPECT_TRUE(test, gca_on_list(&h->free[5], f));

	gca_pages_free(h, a);		/* the right neighbour is free */
	CHECK_HEAP(g);
	KUNIT_EXPECT_EQ(test, nfree_spans(h), 2ULL);
	f = *gca_entry(h, 0);
	KUNIT_ASSERT_EQ(test, f->state, GCA_SPAN_FREE);
	KUNIT_EXPECT_EQ(test, f->npages, 8ULL);
	KUNIT_EXPECT_PTR_EQ(test, *gca_entry(h, 7), f);
	KUNIT_EXPECT_NULL(test, *gca_entry(h, 3));	/* interior now */
	KUNIT_EXPECT_TRUE(test, list_empty(&h->free[5]));
	KUNIT_EXPECT_TRUE(test, gca_on_list(&h->free[8], f));

	gca_pages_free(h, c);		/* both neighbours are free */
	CHECK_HEAP(g);
	KUNIT_EXPECT_EQ(test, nfree_spans(h), 1ULL);
	f = *gca_entry(h, 0);
	KUNIT_EXPECT_EQ(test, f->npages, (u64)GCA_CHUNK_PAGES);
	KUNIT_EXPECT_PTR_EQ(test, *gca_entry(h, GCA_CHUNK_PAGES - 1), f);
	/* Scavenged only if every part was: this run was in use. */
	KUNIT_EXPECT_FALSE(test, f->scavenged);
	KUNIT_EXPECT_NULL(test, *gca_entry(h, 8));
	KUNIT_EXPECT_NULL(test, *gca_entry(h, 14));
	KUNIT_EXPECT_NULL(test, *gca_entry(h, 15));
	KUNIT_EXPECT_NULL(test, gca_span_of(h, 0));
}

/* Exact lists first (smallest list >= n), then best fit, lowest address. */
static void pageheap_best_fit(struct kunit *test)
{
	static const u64 sizes[6] = { 130, 200, 140, 150, 3, 150 };
	struct gkt_host *g = pageheap_host(test, GKT_HEAP_BYTES);
	struct gca_heap *h = &g->h;
	struct gca_span *x[6], *sep[6], *s;
	int i;

	for (i = 0; i < 6; i++) {
		x[i] = gca_pages_alloc(h, sizes[i]);
		sep[i] = gca_pages_alloc(h, 1);
		KUNIT_ASSERT_TRUE(test, x[i] && sep[i]);
	}
	for (i = 0; i < 6; i++)
		gca_pages_free(h, x[i]);
	CHECK_HEAP(g);

	/* 2 pages: the 3-page run, the first non-empty exact list. */
	s = gca_pages_alloc(h, 2);
	KUNIT_ASSERT_NOT_NULL(test, s);
	KUNIT_EXPECT_EQ(test, s->start, 130ULL + 1 + 200 + 1 + 140 + 1 + 150 + 1);
	CHECK_HEAP(g);
	/* 135: the 140 run is the smallest that fits. */
	s = gca_pages_alloc(h, 135);
	KUNIT_ASSERT_NOT_NULL(test, s);
	KUNIT_EXPECT_EQ(test, s->start, 130ULL + 1 + 200 + 1);
	CHECK_HEAP(g);
	/* Exactly 130. */
	s = gca_pages_alloc(h, 130);
	KUNIT_ASSERT_NOT_NULL(test, s);
	KUNIT_EXPECT_EQ(test, s->start, 0ULL);
	CHECK_HEAP(g);
	/* Two free 150s: the lower address wins. */
	s = gca_pages_alloc(h, 145);
	KUNIT_ASSERT_NOT_NULL(test, s);
	KUNIT_EXPECT_EQ(test, s->start, 130ULL + 1 + 200 + 1 + 140 + 1);
	CHECK_HEAP(g);
	s = gca_pages_alloc(h, 150);
	KUNIT_ASSERT_NOT_NULL(test, s);
	KUNIT_EXPECT_EQ(test, s->start,
			130ULL + 1 + 200 + 1 + 140 + 1 + 150 + 1 + 3 + 1);
	CHECK_HEAP(g);
	/* What a split leaves is a free run of the right length. */
	s = *gca_entry(h, 130 + 1 + 200 + 1 + 135);
	KUNIT_ASSERT_NOT_NULL(test, s);
	KUNIT_EXPECT_EQ(test, s->state, GCA_SPAN_FREE);
	KUNIT_EXPECT_EQ(test, s->npages, 5ULL);
	/* None of this needed more than the two chunks first grown. */
	KUNIT_EXPECT_EQ(test, h->grown_pages, 1024ULL);
}

/* The heap grows by whole chunks, merging with a free tail. */
static void pageheap_growth(struct kunit *test)
{
	struct gkt_host *g = pageheap_host(test, 32 * MiB);
	struct gca_heap *h = &g->h;
	struct gca_span *a, *b, *t;
	u64 meta0 = h->meta_bytes;

	KUNIT_EXPECT_EQ(test, h->npages, 4096ULL);
	KUNIT_EXPECT_EQ(test, h->nchunks, 8ULL);
	KUNIT_EXPECT_EQ(test, h->grown_pages, 0ULL);
	a = gca_pages_alloc(h, 600);
	KUNIT_ASSERT_NOT_NULL(test, a);
	KUNIT_EXPECT_EQ(test, h->grown_pages, 1024ULL);
	KUNIT_EXPECT_GE(test, h->meta_bytes,
			meta0 + 2 * GCA_CHUNK_PAGES * sizeof(void *));
	CHECK_HEAP(g);
	t = *gca_entry(h, 600);
	KUNIT_ASSERT_EQ(test, t->state, GCA_SPAN_FREE);
	KUNIT_EXPECT_EQ(test, t->npages, 424ULL);
	KUNIT_EXPECT_TRUE(test, t->scavenged);	/* never backed */
	KUNIT_EXPECT_NULL(test, gca_span_of(h, 1024 * PS));	/* not grown */

	/* 424 free at the end: grow by 576 more, rounded up to chunks. */
	b = gca_pages_alloc(h, 1000);
	KUNIT_ASSERT_NOT_NULL(test, b);
	KUNIT_EXPECT_EQ(test, b->start, 600ULL);
	KUNIT_EXPECT_EQ(test, h->grown_pages, 2048ULL);
	CHECK_HEAP(g);
	t = *gca_entry(h, 1600);
	KUNIT_ASSERT_EQ(test, t->state, GCA_SPAN_FREE);
	KUNIT_EXPECT_EQ(test, t->npages, 448ULL);
	KUNIT_EXPECT_TRUE(test, t->scavenged);

	/* A free run that does not end the heap is not extended. */
	gca_pages_free(h, a);
	CHECK_HEAP(g);
	b = gca_pages_alloc(h, 700);
	KUNIT_ASSERT_NOT_NULL(test, b);
	KUNIT_EXPECT_EQ(test, b->start, 1600ULL);
	KUNIT_EXPECT_EQ(test, h->grown_pages, 2560ULL);
	KUNIT_EXPECT_PTR_EQ(test, gca_span_of(h, 2299 * PS + PS - 1), b);
	CHECK_HEAP(g);
}

/* Bad requests, a partial last chunk, and nothing left. */
static void pageheap_exhaustion(struct kunit *test)
{
	/* 640 pages: the second chunk is partial. */
	struct gkt_host *g = pageheap_host(test, 640 * PS);
	struct gca_heap *h = &g->h;
	struct gca_span *a, *b;

	KUNIT_EXPECT_EQ(test, h->nchunks, 2ULL);
	KUNIT_EXPECT_NULL(test, gca_pages_alloc(h, 0));
	KUNIT_EXPECT_NULL(test, gca_pages_alloc(h, 641));
	KUNIT_EXPECT_NULL(test, gca_pages_alloc(h, U64_MAX));
	KUNIT_EXPECT_NULL(test, gca_pages_alloc(h, U64_MAX >> GCA_PAGE_SHIFT));
	KUNIT_EXPECT_EQ(test, h->grown_pages, 0ULL);	/* none of them grew */
	a = gca_pages_alloc(h, 600);
	KUNIT_ASSERT_NOT_NULL(test, a);
	KUNIT_EXPECT_EQ(test, h->grown_pages, 640ULL);
	CHECK_HEAP(g);
	KUNIT_EXPECT_NULL(test, gca_pages_alloc(h, 41));
	b = gca_pages_alloc(h, 40);
	KUNIT_ASSERT_NOT_NULL(test, b);
	KUNIT_EXPECT_EQ(test, b->start, 600ULL);
	KUNIT_EXPECT_NULL(test, gca_pages_alloc(h, 1));
	KUNIT_EXPECT_PTR_EQ(test, gca_span_of(h, 640 * PS - 1), b);
	KUNIT_EXPECT_NULL(test, gca_span_of(h, 640 * PS));
	CHECK_HEAP(g);
	gca_pages_free(h, a);
	gca_pages_free(h, b);
	CHECK_HEAP(g);
	KUNIT_EXPECT_EQ(test, nfree_spans(h), 1ULL);
	a = gca_pages_alloc(h, 640);
	KUNIT_ASSERT_NOT_NULL(test, a);
	KUNIT_EXPECT_EQ(test, a->start, 0ULL);
	KUNIT_EXPECT_NULL(test, gca_pages_alloc(h, 1));
	/* Objects cannot be had either; nothing changes. */
	KUNIT_EXPECT_EQ(test, gkt_alloc_large(g, PS, true), U64_MAX);
	KUNIT_EXPECT_EQ(test, gkt_obj(g, SCAN(1)), U64_MAX);
	CHECK_HEAP(g);
	gca_pages_free(h, a);
}

static struct kunit_case gcarena_pageheap_cases[] = {
	KUNIT_CASE(pageheap_coalesce),
	KUNIT_CASE(pageheap_best_fit),
	KUNIT_CASE(pageheap_growth),
	KUNIT_CASE(pageheap_exhaustion),
	{}
};

static struct kunit_suite gcarena_pageheap_suite = {
	.name = "gcarena_pageheap",
	.init = gkt_init,
	.exit = gkt_exit,
	.test_cases = gcarena_pageheap_cases,
};
