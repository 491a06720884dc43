// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suite gcarena_span: spans.
 *
 * Part of gcarena_test.ko: kmod/gcarena_test.c includes this file, so
 * that every suite shares its host, its helpers and its copy of the
 * core in one translation unit (see the comment atop that file).
 */

/* =====================================================================
 * Spans
 */

/*
 * For every class, the table's geometry (nelems * size + waste == the
 * span, waste within Go's bounds) and a span the core really carves from
 * the page heap, scan and noscan: its pages, slots, bitmaps and divMul.
 */
static void carving_and_tail_waste_every_class(struct kunit *test)
{
	struct gkt_host *g = gkt_host_init(test, 0, GKT_HEAP_BYTES,
					   GKT_USER_BASE);
	struct gca_heap *h = &g->h;
	struct gca_sweep_result res;
	unsigned int c, noscan;

	KUNIT_EXPECT_EQ(test, gca_class_nelems(0), 0U);
	KUNIT_EXPECT_EQ(test, gca_class_nelems(GCA_NUM_SIZE_CLASSES), 0U);
	KUNIT_EXPECT_EQ(test, gca_class_nelems(~0U), 0U);
	for (c = 1; c < GCA_NUM_SIZE_CLASSES; c++) {
		u64 size = gca_class_size[c], prev = gca_class_size[c - 1];
		u64 span = (u64)gca_class_npages[c] * PS;
		u64 n = gca_class_nelems(c), waste = span % size;
		u64 maxwaste = (size - prev - 1) * n + waste, off, bad = 0;
		u64 mul = U32_MAX / size + 1;

		KUNIT_EXPECT_EQ_MSG(test, n, span / size, "class %u", c);
		KUNIT_EXPECT_EQ_MSG(test, n * size + waste, span, "class %u", c);
		KUNIT_EXPECT_GE_MSG(test, n, 1ULL, "class %u", c);
		KUNIT_EXPECT_LE_MSG(test, n, (u64)GCA_MAX_SPAN_OBJECTS,
				    "class %u", c);
		/* mksizeclasses.go: tail waste at most 1/8 of the span. */
		KUNIT_EXPECT_LE_MSG(test, waste * 8, span, "class %u", c);
		/* Go's "max waste": 87.50% at class 1, <= 16.65% from 96 B. */
		if (c == 1)
			KUNIT_EXPECT_EQ(test, maxwaste * 10000, 8750 * span);
		if (size >= 96)
			KUNIT_EXPECT_LE_MSG(test, maxwaste * 10000, 1665 * span,
					    "class %u", c);
		KUNIT_EXPECT_LT_MSG(test, maxwaste * 10000, 8751 * span,
				    "class %u", c);
		/* Go 1.21's divMagic is exact at every byte of the span. */
		for (off = 0; off < span; off++)
			bad += ((off * mul) >> 32) != off / size;
		KUNIT_EXPECT_EQ_MSG(test, bad, 0ULL, "class %u: divmul", c);

		for (noscan = 0; noscan < 2; noscan++) {
			unsigned int sc = GCA_SPANCLASS(c, noscan);
			u64 live = h->heap_live;
			struct gca_span *s;
			int err = 1;

			s = gca_span_refill(h, sc, 3, &err);
			KUNIT_ASSERT_NOT_NULL_MSG(test, s, "class %u", c);
			KUNIT_EXPECT_EQ(test, err, 0);
			KUNIT_EXPECT_EQ(test, s->npages,
					(u64)gca_class_npages[c]);
			KUNIT_EXPECT_EQ(test, s->elemsize, size);
			KUNIT_EXPECT_EQ(test, (u64)s->nelems, n);
			KUNIT_EXPECT_EQ(test, s->spanclass, sc);
			KUNIT_EXPECT_EQ(test, s->noscan, !!noscan);
			KUNIT_EXPECT_EQ(test, s->divmul, (u32)mul);
			KUNIT_EXPECT_EQ(test, (u64)s->nwords,
					DIV_ROUND_UP(n, 64));
			KUNIT_EXPECT_TRUE(test, s->cached);
			KUNIT_EXPECT_EQ(test, s->owner, 3U);
			KUNIT_EXPECT_FALSE(test, s->needzero);	/* fresh */
			/* Every slot, and nothing past the last, is handed out. */
			KUNIT_EXPECT_EQ(test, gca_popcount_bits(s->cache_bits,
							    s->nwords), n);
			KUNIT_EXPECT_EQ(test, gca_popcount_bits(s->alloc_bits,
							    s->nwords), 0ULL);
			KUNIT_EXPECT_EQ(test, h->heap_live, live + n * size);
			KUNIT_EXPECT_EQ(test, n * size + waste, s->npages * PS);
			gca_span_uncache(h, s, 0);
			KUNIT_EXPECT_EQ(test, s->nalloc, 0U);
			KUNIT_EXPECT_TRUE(test, gca_on_list(&h->partial[sc], s));
		}
	}
	KUNIT_EXPECT_EQ(test, h->nspans_inuse,
			2ULL * (GCA_NUM_SIZE_CLASSES - 1));
	KUNIT_EXPECT_EQ(test, h->heap_alloc, 0ULL);
	CHECK_HEAP(g);
	/* Empty: a sweep gives every span back, and they coalesce. */
	gca_mark_begin(h);
	KUNIT_ASSERT_EQ(test, gca_mark_drain(h), 0);
	KUNIT_ASSERT_EQ(test, gca_sweep(h, &res), 0);
	KUNIT_EXPECT_EQ(test, res.freed_spans, 2ULL * (GCA_NUM_SIZE_CLASSES - 1));
	KUNIT_EXPECT_EQ(test, res.freed_objects, 0ULL);
	KUNIT_EXPECT_EQ(test, h->nspans_inuse, 0ULL);
	KUNIT_EXPECT_EQ(test, nfree_spans(h), 1ULL);
}

/*
 * Slot states through a span's life: refill hands out the free slots
 * (cache bits), uncache commits those below freeindex (alloc bits, and
 * mark bits: allocated black), a mark sets mark bits, a sweep keeps
 * exactly the marked.
 */
static void alloc_and_mark_bit_transitions(struct kunit *test)
{
	struct gkt_host *g = gkt_host_init(test, 0, GKT_HEAP_BYTES,
					   GKT_USER_BASE);
	struct gca_heap *h = &g->h;
	struct gca_sweep_result res;
	struct gca_span *s, *t;
	u64 base, roots[3];
	int err;

	/* Class 6: 64 bytes, 128 slots in two words. */
	s = gca_span_refill(h, SCAN(6), 7, &err);
	KUNIT_ASSERT_NOT_NULL(test, s);
	base = span_base(s);
	KUNIT_EXPECT_EQ(test, s->nelems, 128U);
	KUNIT_EXPECT_EQ(test, s->nwords, 2U);
	KUNIT_EXPECT_EQ(test, s->cache_bits[0], ~0ULL);
	KUNIT_EXPECT_EQ(test, s->cache_bits[1], ~0ULL);
	KUNIT_EXPECT_EQ(test, s->alloc_bits[0] | s->alloc_bits[1], 0ULL);
	KUNIT_EXPECT_EQ(test, s->mark_bits[0] | s->mark_bits[1], 0ULL);
	KUNIT_EXPECT_EQ(test, h->heap_live, 128ULL * 64);
	KUNIT_EXPECT_EQ(test, h->heap_alloc, 0ULL);
	KUNIT_EXPECT_EQ(test, h->mallocs, 0ULL);
	CHECK_HEAP(g);

	/* The thread used 10 slots (no mark yet: not allocated black). */
	gca_span_uncache(h, s, 10);
	KUNIT_EXPECT_FALSE(test, s->cached);
	KUNIT_EXPECT_EQ(test, s->owner, 0U);
	KUNIT_EXPECT_EQ(test, s->alloc_bits[0], 0x3ffULL);
	KUNIT_EXPECT_EQ(test, s->alloc_bits[1], 0ULL);
	KUNIT_EXPECT_EQ(test, s->mark_bits[0] | s->mark_bits[1], 0ULL);
	KUNIT_EXPECT_EQ(test, s->cache_bits[0] | s->cache_bits[1], 0ULL);
	KUNIT_EXPECT_EQ(test, s->nalloc, 10U);
	KUNIT_EXPECT_EQ(test, h->heap_alloc, 640ULL);
	KUNIT_EXPECT_EQ(test, h->heap_live, 640ULL);
	KUNIT_EXPECT_EQ(test, h->mallocs, 10ULL);
	KUNIT_EXPECT_EQ(test, h->heap_objects, 10ULL);
	KUNIT_EXPECT_TRUE(test, gca_on_list(&h->partial[SCAN(6)], s));
	CHECK_HEAP(g);

	/* A refill takes it back from partial, with the rest handed out. */
	t = gca_span_refill(h, SCAN(6), 8, &err);
	KUNIT_ASSERT_PTR_EQ(test, t, s);
	KUNIT_EXPECT_TRUE(test, s->needzero);
	KUNIT_EXPECT_EQ(test, s->cache_bits[0], ~0x3ffULL);
	KUNIT_EXPECT_EQ(test, s->cache_bits[1], ~0ULL);
	KUNIT_EXPECT_EQ(test, h->heap_live, 128ULL * 64);
	/* An untrusted freeindex past the end commits up to nelems. */
	gca_span_uncache(h, s, 1000);
	KUNIT_EXPECT_EQ(test, s->nalloc, 128U);
	KUNIT_EXPECT_EQ(test, s->alloc_bits[0] & s->alloc_bits[1], ~0ULL);
	KUNIT_EXPECT_TRUE(test, gca_on_list(&h->full[SCAN(6)], s));
	KUNIT_EXPECT_EQ(test, h->heap_live, 128ULL * 64);
	KUNIT_EXPECT_EQ(test, h->heap_alloc, 128ULL * 64);
	CHECK_HEAP(g);

	/* A mark from three words: a start, an interior byte, the last byte. */
	roots[0] = gkt_addr(g, base);
	roots[1] = gkt_addr(g, base + 5 * 64 + 17);
	roots[2] = gkt_addr(g, base + 127 * 64 + 63);
	gca_mark_begin(h);
	KUNIT_EXPECT_EQ(test, s->mark_bits[0] | s->mark_bits[1], 0ULL);
	gca_mark_words(h, roots, 3);
	KUNIT_ASSERT_EQ(test, gca_mark_drain(h), 0);
	KUNIT_EXPECT_EQ(test, s->mark_bits[0], (1ULL << 0) | (1ULL << 5));
	KUNIT_EXPECT_EQ(test, s->mark_bits[1], 1ULL << 63);
	KUNIT_EXPECT_EQ(test, h->marked_objects, 3ULL);
	KUNIT_EXPECT_EQ(test, h->heap_marked, 3ULL * 64);
	/* The objects hold zeroes: three objects scanned, nothing found. */
	KUNIT_EXPECT_EQ(test, h->scanned_bytes, 3ULL * 64);

	/* The sweep frees exactly the unmarked. */
	KUNIT_ASSERT_EQ(test, gca_sweep(h, &res), 0);
	KUNIT_EXPECT_EQ(test, res.freed_objects, 125ULL);
	KUNIT_EXPECT_EQ(test, res.freed_bytes, 125ULL * 64);
	KUNIT_EXPECT_EQ(test, res.freed_spans, 0ULL);
	KUNIT_EXPECT_EQ(test, res.swept_spans, 1ULL);
	KUNIT_EXPECT_EQ(test, s->alloc_bits[0], s->mark_bits[0]);
	KUNIT_EXPECT_EQ(test, s->alloc_bits[1], s->mark_bits[1]);
	KUNIT_EXPECT_EQ(test, s->nalloc, 3U);
	KUNIT_EXPECT_TRUE(test, gca_on_list(&h->partial[SCAN(6)], s));
	KUNIT_EXPECT_EQ(test, h->heap_alloc, 3ULL * 64);
	KUNIT_EXPECT_EQ(test, h->heap_live, 3ULL * 64);
	KUNIT_EXPECT_EQ(test, h->frees, 125ULL);
	CHECK_HEAP(g);

	/*
	 * Holes: freeindex 7 commits slots 1-4 and 6, not 0 and 5 again,
	 * and after a mark they are allocated black.
	 */
	t = gca_span_refill(h, SCAN(6), 9, &err);
	KUNIT_ASSERT_PTR_EQ(test, t, s);
	KUNIT_EXPECT_EQ(test, s->cache_bits[0], ~0x21ULL);
	KUNIT_EXPECT_EQ(test, s->cache_bits[1], ~0ULL >> 1);
	gca_span_uncache(h, s, 7);
	KUNIT_EXPECT_EQ(test, s->nalloc, 8U);
	KUNIT_EXPECT_EQ(test, s->alloc_bits[0], 0x7fULL);
	KUNIT_EXPECT_EQ(test, s->mark_bits[0], 0x7fULL);
	KUNIT_EXPECT_EQ(test, h->mallocs, 128ULL + 5);
	CHECK_HEAP(g);

	/* Next cycle, no roots: all 8 die and the span goes back. */
	KUNIT_ASSERT_EQ(test, gkt_mark(g, NULL, 0), 0);
	KUNIT_ASSERT_EQ(test, gca_sweep(h, &res), 0);
	KUNIT_EXPECT_EQ(test, res.freed_objects, 8ULL);
	KUNIT_EXPECT_EQ(test, res.freed_spans, 1ULL);
	/* s is gone: look at the heap only. */
	KUNIT_EXPECT_NULL(test, gca_span_of(h, base));
	KUNIT_EXPECT_EQ(test, h->nspans_inuse, 0ULL);
	KUNIT_EXPECT_TRUE(test, list_empty(&h->partial[SCAN(6)]));
	KUNIT_EXPECT_TRUE(test, list_empty(&h->full[SCAN(6)]));
}

/*
 * Allocate black (Go's gcmarknewobject): not before a mark, but while
 * marking (slots handed to a cache, large objects) and after it until the
 * next one, so that the sweep never frees what was allocated meanwhile.
 */
static void allocate_black_during_and_after_mark(struct kunit *test)
{
	struct gkt_host *g = gkt_host_init(test, 0, GKT_HEAP_BYTES,
					   GKT_USER_BASE);
	struct gca_heap *h = &g->h;
	struct gca_sweep_result res;
	struct gca_span *s, *t;
	u64 big, u, sbase;
	int err;

	/* Before any mark: committed, not marked. */
	s = gkt_span_with(g, NOSCAN(4), 5);
	KUNIT_ASSERT_NOT_NULL(test, s);
	sbase = span_base(s);
	KUNIT_EXPECT_EQ(test, s->alloc_bits[0], 0x1fULL);
	KUNIT_EXPECT_EQ(test, s->mark_bits[0], 0ULL);

	/* While marking, every slot handed to a cache is black... */
	gca_mark_begin(h);
	t = gca_span_refill(h, SCAN(6), 1, &err);
	KUNIT_ASSERT_NOT_NULL(test, t);
	KUNIT_EXPECT_EQ(test, t->mark_bits[0], t->cache_bits[0]);
	KUNIT_EXPECT_EQ(test, t->mark_bits[1], t->cache_bits[1]);
	KUNIT_EXPECT_EQ(test, h->marked_objects, 128ULL);
	gca_span_uncache(h, t, 3);
	KUNIT_EXPECT_EQ(test, t->alloc_bits[0], 0x7ULL);
	/* ...and so is a large object. */
	big = gkt_alloc_large(g, PS, true);
	KUNIT_ASSERT_NE(test, big, U64_MAX);
	KUNIT_EXPECT_TRUE(test, gca_is_marked(h, big));
	KUNIT_ASSERT_EQ(test, gca_mark_drain(h), 0);

	/* Only s's objects, committed before the mark, were garbage. */
	KUNIT_ASSERT_EQ(test, gca_sweep(h, &res), 0);
	KUNIT_EXPECT_EQ(test, res.freed_objects, 5ULL);
	KUNIT_EXPECT_EQ(test, res.freed_spans, 1ULL);
	KUNIT_EXPECT_NULL(test, gca_span_of(h, sbase));
	KUNIT_EXPECT_EQ(test, t->nalloc, 3U);
	KUNIT_EXPECT_NOT_NULL(test, gca_span_of(h, big));

	/* After the mark: black until the next one; a sweep frees nothing. */
	u = gkt_obj(g, NOSCAN(8));
	KUNIT_ASSERT_NE(test, u, U64_MAX);
	KUNIT_EXPECT_TRUE(test, gca_is_marked(h, u));
	KUNIT_ASSERT_EQ(test, gca_sweep(h, &res), 0);
	KUNIT_EXPECT_EQ(test, res.freed_objects, 0ULL);
	KUNIT_EXPECT_EQ(test, h->heap_objects, 3ULL + 1 + 1);
	/* The next mark starts white again. */
	KUNIT_ASSERT_EQ(test, gkt_mark(g, NULL, 0), 0);
	KUNIT_EXPECT_FALSE(test, gca_is_marked(h, u));
	KUNIT_ASSERT_EQ(test, gca_sweep(h, &res), 0);
	KUNIT_EXPECT_EQ(test, res.freed_objects, 5ULL);
	KUNIT_EXPECT_EQ(test, h->nspans_inuse, 0ULL);
}

static struct kunit_case gcarena_span_cases[] = {
	KUNIT_CASE(carving_and_tail_waste_every_class),
	KUNIT_CASE(alloc_and_mark_bit_transitions),
	KUNIT_CASE(allocate_black_during_and_after_mark),
	{}
};

static struct kunit_suite gcarena_span_suite = {
	.name = "gcarena_span",
	.init = gkt_init,
	.exit = gkt_exit,
	.test_cases = gcarena_span_cases,
};
