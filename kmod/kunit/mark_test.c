// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suite gcarena_mark: marking, pointer validation and the gray
 * queue under pressure.
 *
 * Part of gcarena_test.ko: kmod/gcarena_test.c includes this file, so
 * that every suite shares its host, its helpers and its copy of the
 * core in one translation unit (see the comment atop that file).
 */

/* =====================================================================
 * Marking: pointer validation on crafted words
 */

/* Null, unaligned small numbers, just below the heap, past its end. */
static void pointer_outside_the_heap(struct kunit *test)
{
	struct gkt_host *g = gkt_host_init(test, 0, GKT_HEAP_BYTES,
					   GKT_USER_BASE);
	struct gca_heap *h = &g->h;
	u64 a = gkt_obj(g, SCAN(6)), base = h->user_base, end;

	KUNIT_ASSERT_NE(test, a, U64_MAX);
	end = h->grown_pages * PS;
	KUNIT_EXPECT_EQ(test, end, (u64)GCA_CHUNK_PAGES * PS);
	gca_mark_begin(h);
	KUNIT_EXPECT_FALSE(test, gca_mark_word(h, 0));
	KUNIT_EXPECT_FALSE(test, gca_mark_word(h, 1));
	KUNIT_EXPECT_FALSE(test, gca_mark_word(h, 7));
	KUNIT_EXPECT_FALSE(test, gca_mark_word(h, a));	/* an offset */
	KUNIT_EXPECT_FALSE(test, gca_mark_word(h, base - 1));
	KUNIT_EXPECT_FALSE(test, gca_mark_word(h, base - 8));
	KUNIT_EXPECT_FALSE(test, gca_mark_word(h, base - PS));
	KUNIT_EXPECT_FALSE(test, gca_mark_word(h, base - GKT_HEAP_BYTES));
	KUNIT_EXPECT_FALSE(test, gca_mark_word(h, base + end));
	KUNIT_EXPECT_FALSE(test, gca_mark_word(h, base + end + 1));
	KUNIT_EXPECT_FALSE(test, gca_mark_word(h, base + end - 1));	/* free */
	KUNIT_EXPECT_FALSE(test, gca_mark_word(h, base + GKT_HEAP_BYTES - 8));
	KUNIT_EXPECT_FALSE(test, gca_mark_word(h, base + GKT_HEAP_BYTES));
	KUNIT_EXPECT_FALSE(test, gca_mark_word(h, U64_MAX));
	KUNIT_EXPECT_FALSE(test, gca_mark_word(h, U64_MAX - 7));
	/* The object's kernel address is no user pointer. */
	KUNIT_EXPECT_FALSE(test, gca_mark_word(h, (u64)(uintptr_t)g->mem + a));
	KUNIT_EXPECT_EQ(test, h->marked_objects, 0ULL);
	KUNIT_EXPECT_FALSE(test, gca_is_marked(h, a));

	/* No user mapping yet: nothing is a pointer. */
	h->user_base = 0;
	KUNIT_EXPECT_FALSE(test, gca_mark_word(h, a));
	KUNIT_EXPECT_FALSE(test, gca_mark_word(h, base + a));
	h->user_base = base;

	KUNIT_EXPECT_TRUE(test, gca_mark_word(h, base + a));
	KUNIT_EXPECT_TRUE(test, gca_is_marked(h, a));
	KUNIT_EXPECT_FALSE(test, gca_is_marked(h, end));
	KUNIT_EXPECT_FALSE(test, gca_is_marked(h, U64_MAX));
	KUNIT_EXPECT_EQ(test, h->marked_objects, 1ULL);
	KUNIT_ASSERT_EQ(test, gca_mark_drain(h), 0);
	KUNIT_EXPECT_EQ(test, h->heap_marked, 64ULL);
}

/* Free slots of a span, and the pages of a freed span. */
static void pointer_into_free_slot(struct kunit *test)
{
	struct gkt_host *g = gkt_host_init(test, 0, GKT_HEAP_BYTES,
					   GKT_USER_BASE);
	struct gca_heap *h = &g->h;
	struct gca_sweep_result res;
	struct gca_span *s;
	u64 a, big, slot;
	int err;

	a = gkt_obj(g, SCAN(10));		/* 128 B, slot 0 */
	big = gkt_alloc_large(g, 5 * PS, false);
	KUNIT_ASSERT_NE(test, a, U64_MAX);
	KUNIT_ASSERT_NE(test, big, U64_MAX);
	/* The large object dies: its pages become a free span. */
	KUNIT_ASSERT_EQ(test, gkt_mark(g, (u64[]){ gkt_addr(g, a) }, 1), 0);
	KUNIT_ASSERT_EQ(test, gca_sweep(h, &res), 0);
	KUNIT_EXPECT_EQ(test, res.freed_spans, 1ULL);

	gca_mark_begin(h);
	KUNIT_EXPECT_FALSE(test, gca_mark_word(h, gkt_addr(g, big)));
	KUNIT_EXPECT_FALSE(test, gca_mark_word(h, gkt_addr(g, big + 3 * PS + 8)));
	KUNIT_EXPECT_FALSE(test, gca_mark_word(h, gkt_addr(g, a + 128)));
	KUNIT_EXPECT_FALSE(test, gca_mark_word(h, gkt_addr(g, a + 63 * 128 + 5)));
	KUNIT_EXPECT_EQ(test, h->marked_objects, 0ULL);

	/* Handed to a cache, a free slot may be in use: it counts... */
	s = gca_span_refill(h, SCAN(10), 1, &err);
	KUNIT_ASSERT_NOT_NULL(test, s);
	KUNIT_EXPECT_EQ(test, span_base(s), a);
	slot = a + 128 * 9;
	KUNIT_EXPECT_TRUE(test, gca_mark_word(h, gkt_addr(g, slot + 1)));
	/* ...and once given back unused, it is free again. */
	gca_span_uncache(h, s, 0);
	gca_mark_begin(h);
	KUNIT_EXPECT_FALSE(test, gca_mark_word(h, gkt_addr(g, slot + 1)));
	KUNIT_EXPECT_TRUE(test, gca_mark_word(h, gkt_addr(g, a + 127)));
	KUNIT_EXPECT_EQ(test, h->marked_objects, 1ULL);
	KUNIT_ASSERT_EQ(test, gca_mark_drain(h), 0);
	KUNIT_EXPECT_EQ(test, h->heap_marked, 128ULL);
}

/* The bytes past a span's last slot are no object, in every class. */
static void pointer_into_tail_waste(struct kunit *test)
{
	struct gkt_host *g = gkt_host_init(test, 0, GKT_HEAP_BYTES,
					   GKT_USER_BASE);
	struct gca_heap *h = &g->h;
	unsigned int c, nwaste = 0;
	u64 bases[GCA_NUM_SIZE_CLASSES];

	/* A full span of every class, then a mark. */
	for (c = 1; c < GCA_NUM_SIZE_CLASSES; c++) {
		struct gca_span *s = gkt_span_with(g, NOSCAN(c),
						   gca_class_nelems(c));

		KUNIT_ASSERT_NOT_NULL(test, s);
		KUNIT_ASSERT_EQ(test, s->nalloc, gca_class_nelems(c));
		bases[c] = span_base(s);
	}
	gca_mark_begin(h);
	for (c = 1; c < GCA_NUM_SIZE_CLASSES; c++) {
		u64 size = gca_class_size[c], n = gca_class_nelems(c);
		u64 span = (u64)gca_class_npages[c] * PS, base = bases[c];

		u64 last = gkt_addr(g, base + n * size - 1);
		u64 end = gkt_addr(g, base + span - 1);

		/* The last byte of the last object. */
		KUNIT_EXPECT_TRUE_MSG(test, gca_mark_word(h, last), "class %u",
				      c);
		if (n * size == span)
			continue;
		nwaste++;
		/* The first and last byte of the tail waste. */
		KUNIT_EXPECT_FALSE_MSG(test, gca_mark_word(h, last + 1),
				       "class %u", c);
		KUNIT_EXPECT_FALSE_MSG(test, gca_mark_word(h, end), "class %u",
				       c);
		KUNIT_EXPECT_FALSE(test, gca_is_marked(h, base + n * size));
	}
	/* 48-byte objects: 170 of them, bytes 8160..8191 are waste. */
	KUNIT_EXPECT_EQ(test, gca_class_nelems(5) * 48 + 32, (u32)PS);
	KUNIT_EXPECT_EQ(test, nwaste, 45U);	/* classes with tail waste */
	/* Only the 67 last objects were marked. */
	KUNIT_EXPECT_EQ(test, h->marked_objects, (u64)GCA_NUM_SIZE_CLASSES - 1);
	KUNIT_ASSERT_EQ(test, gca_mark_drain(h), 0);
}

/* Interior pointers count, at any byte, and mark one object once. */
static void pointer_interior_and_unaligned(struct kunit *test)
{
	struct gkt_host *g = gkt_host_init(test, 0, GKT_HEAP_BYTES,
					   GKT_USER_BASE);
	struct gca_heap *h = &g->h;
	u64 o[2], b, big;

	KUNIT_ASSERT_EQ(test, gkt_alloc_objs(g, NOSCAN(5), 2, o), 2ULL);
	KUNIT_ASSERT_EQ(test, o[1], o[0] + 48);
	for (b = 0; b < 48; b++) {
		gca_mark_begin(h);
		KUNIT_ASSERT_TRUE(test, gca_mark_word(h, gkt_addr(g, o[0] + b)));
		KUNIT_ASSERT_TRUE(test, gca_is_marked(h, o[0]));
		KUNIT_ASSERT_TRUE(test, gca_is_marked(h, o[0] + 47));
		KUNIT_ASSERT_FALSE(test, gca_is_marked(h, o[1]));
		KUNIT_ASSERT_EQ(test, h->marked_objects, 1ULL);
	}
	KUNIT_EXPECT_TRUE(test, gca_mark_word(h, gkt_addr(g, o[1] + 13)));
	KUNIT_EXPECT_EQ(test, h->marked_objects, 2ULL);
	/* Marked twice, counted once. */
	KUNIT_EXPECT_TRUE(test, gca_mark_word(h, gkt_addr(g, o[1] + 3)));
	KUNIT_EXPECT_EQ(test, h->marked_objects, 2ULL);
	KUNIT_ASSERT_EQ(test, gca_mark_drain(h), 0);
	KUNIT_EXPECT_EQ(test, h->heap_marked, 96ULL);

	/* A large object: any byte of any of its pages. */
	big = gkt_alloc_large(g, 3 * PS + 1, true);
	KUNIT_ASSERT_NE(test, big, U64_MAX);
	gca_mark_begin(h);
	KUNIT_EXPECT_TRUE(test, gca_mark_word(h, gkt_addr(g, big + 4 * PS - 3)));
	KUNIT_EXPECT_TRUE(test, gca_is_marked(h, big));
	KUNIT_EXPECT_TRUE(test, gca_mark_word(h, gkt_addr(g, big + 1)));
	KUNIT_EXPECT_FALSE(test, gca_mark_word(h, gkt_addr(g, big + 4 * PS)));
	KUNIT_EXPECT_EQ(test, h->marked_objects, 1ULL);
	KUNIT_ASSERT_EQ(test, gca_mark_drain(h), 0);
	KUNIT_EXPECT_EQ(test, h->heap_marked, 4 * PS);
}

/*
 * Two heaps at different user addresses, B right after A's reservation
 * and then right before it: each takes only pointers into itself, and
 * scanning A never marks in B.
 */
static void pointer_into_another_heap(struct kunit *test)
{
	struct gkt_host *ga = gkt_host_init(test, 0, GKT_HEAP_BYTES,
					    GKT_USER_BASE);
	struct gkt_host *gb = gkt_host_init(test, 1, GKT_HEAP_BYTES,
					    GKT_USER_BASE + GKT_HEAP_BYTES);
	struct gca_heap *a = &ga->h, *b = &gb->h;
	u64 xa, ya, xb, src, ua = GKT_USER_BASE;

	xa = gkt_obj(ga, NOSCAN(4));
	ya = gkt_obj(ga, NOSCAN(4));
	xb = gkt_obj(gb, NOSCAN(4));
	src = gkt_obj(ga, SCAN(4));		/* 32 B: four words */
	KUNIT_ASSERT_NE(test, xa, U64_MAX);
	KUNIT_ASSERT_NE(test, ya, U64_MAX);
	KUNIT_ASSERT_NE(test, xb, U64_MAX);
	KUNIT_ASSERT_NE(test, src, U64_MAX);
	KUNIT_ASSERT_EQ(test, xa, xb);		/* same offsets, other heaps */

	gca_mark_begin(a);
	gca_mark_begin(b);
	/* B's first byte is one past A's reservation. */
	KUNIT_EXPECT_EQ(test, gkt_addr(gb, 0), ua + GKT_HEAP_BYTES);
	KUNIT_EXPECT_FALSE(test, gca_mark_word(a, gkt_addr(gb, xb)));
	KUNIT_EXPECT_FALSE(test, gca_mark_word(a, gkt_addr(gb, xb + 5)));
	KUNIT_EXPECT_FALSE(test, gca_mark_word(b, gkt_addr(ga, xa)));
	KUNIT_EXPECT_FALSE(test, gca_mark_word(b, gkt_addr(ga, ya)));
	KUNIT_EXPECT_EQ(test, a->marked_objects + b->marked_objects, 0ULL);
	KUNIT_EXPECT_TRUE(test, gca_mark_word(b, gkt_addr(gb, xb)));
	KUNIT_EXPECT_EQ(test, b->marked_objects, 1ULL);

	/* src in A points to B's object and to A's ya; only ya is A's. */
	gkt_store(ga, src, xa + GKT_HEAP_BYTES);	/* == B's xb */
	*(u64 *)(ga->mem + src + 8) = gkt_addr(gb, xb + 8);
	gkt_store(ga, src + 16, ya);
	KUNIT_ASSERT_EQ(test, gkt_mark(ga, (u64[]){ gkt_addr(ga, src) }, 1), 0);
	KUNIT_EXPECT_TRUE(test, gca_is_marked(a, ya));
	KUNIT_EXPECT_FALSE(test, gca_is_marked(a, xa));
	KUNIT_EXPECT_EQ(test, a->marked_objects, 2ULL);
	KUNIT_EXPECT_EQ(test, b->marked_objects, 1ULL);	/* untouched */

	/* B moved below A: its addresses now wrap around in A's view. */
	b->user_base = ua - GKT_HEAP_BYTES;
	gca_mark_begin(a);
	gca_mark_begin(b);
	KUNIT_EXPECT_FALSE(test, gca_mark_word(a, gkt_addr(gb, xb)));
	KUNIT_EXPECT_FALSE(test, gca_mark_word(a, ua - 1));
	KUNIT_EXPECT_FALSE(test, gca_mark_word(b, ua + xa));	/* past B */
	KUNIT_EXPECT_TRUE(test, gca_mark_word(b, gkt_addr(gb, xb)));
	KUNIT_EXPECT_TRUE(test, gca_mark_word(a, ua + xa));
	KUNIT_EXPECT_EQ(test, a->marked_objects, 1ULL);
	KUNIT_EXPECT_EQ(test, b->marked_objects, 1ULL);
	KUNIT_ASSERT_EQ(test, gca_mark_drain(a), 0);
	KUNIT_ASSERT_EQ(test, gca_mark_drain(b), 0);
}

/* =====================================================================
 * Marking: the gray queue under pressure
 */

/*
 * A wide graph: a 2-page root -> 2000 scan objects -> 8 objects each,
 * plus 1000 unreachable objects pointing into it.  The reachable set is
 * 18001 objects.
 */
struct gkt_tree {
	u64 root;
	u64 *l1;	/* 2000, class 6 (64 B) */
	u64 *l2;	/* 16000, class 2 (16 B) */
	u64 *junk;	/* 1000, class 6 */
};

#define TREE_L1		2000
#define TREE_FAN	8
#define TREE_L2		(TREE_L1 * TREE_FAN)
#define TREE_JUNK	1000
#define TREE_OBJECTS	(1 + TREE_L1 + TREE_L2)
#define TREE_BYTES	(2 * PS + TREE_L1 * 64 + TREE_L2 * 16)

static struct gkt_host *tree_build(struct kunit *test, struct gkt_tree *t)
{
	struct gkt_host *g = gkt_host_init(test, 0, GKT_HEAP_BYTES,
					   GKT_USER_BASE);
	u64 i, j;

	t->l1 = kunit_kcalloc(test, TREE_L1, sizeof(u64), GFP_KERNEL);
	t->l2 = kunit_kcalloc(test, TREE_L2, sizeof(u64), GFP_KERNEL);
	t->junk = kunit_kcalloc(test, TREE_JUNK, sizeof(u64), GFP_KERNEL);
	KUNIT_ASSERT_TRUE(test, t->l1 && t->l2 && t->junk);
	t->root = gkt_alloc_large(g, TREE_L1 * 8, false);
	KUNIT_ASSERT_NE(test, t->root, U64_MAX);
	KUNIT_ASSERT_EQ(test, gkt_alloc_objs(g, SCAN(6), TREE_L1, t->l1),
			(u64)TREE_L1);
	KUNIT_ASSERT_EQ(test, gkt_alloc_objs(g, SCAN(2), TREE_L2, t->l2),
			(u64)TREE_L2);
	KUNIT_ASSERT_EQ(test, gkt_alloc_objs(g, SCAN(6), TREE_JUNK, t->junk),
			(u64)TREE_JUNK);
	for (i = 0; i < TREE_L1; i++) {
		gkt_store(g, t->root + i * 8, t->l1[i]);
		for (j = 0; j < TREE_FAN; j++)
			gkt_store(g, t->l1[i] + j * 8, t->l2[i * TREE_FAN + j]);
	}
	for (i = 0; i < TREE_JUNK; i++)
		gkt_store(g, t->junk[i], t->l2[i]);
	return g;
}

/* The core marked exactly the tree; a sweep frees exactly the junk. */
static void tree_check(struct kunit *test, struct gkt_host *g,
		       struct gkt_tree *t)
{
	struct gca_heap *h = &g->h;
	struct gca_sweep_result res;
	u64 i, bad = 0;

	bad += !gca_is_marked(h, t->root);
	for (i = 0; i < TREE_L1; i++)
		bad += !gca_is_marked(h, t->l1[i]);
	for (i = 0; i < TREE_L2; i++)
		bad += !gca_is_marked(h, t->l2[i]);
	for (i = 0; i < TREE_JUNK; i++)
		bad += gca_is_marked(h, t->junk[i]);
	KUNIT_EXPECT_EQ(test, bad, 0ULL);
	KUNIT_EXPECT_EQ(test, h->marked_objects, (u64)TREE_OBJECTS);
	KUNIT_EXPECT_EQ(test, h->heap_marked, (u64)TREE_BYTES);
	KUNIT_EXPECT_FALSE(test, h->gray.overflow);
	KUNIT_ASSERT_EQ(test, gca_sweep(h, &res), 0);
	KUNIT_EXPECT_EQ(test, res.freed_objects, (u64)TREE_JUNK);
	KUNIT_EXPECT_EQ(test, h->heap_objects, (u64)TREE_OBJECTS);
}

/* Blocks as needed: the same set (whether or not GFP_NOWAIT failed). */
static void grayq_plenty(struct kunit *test)
{
	struct gkt_tree t;
	struct gkt_host *g = tree_build(test, &t);

	KUNIT_ASSERT_EQ(test, gkt_mark(g, (u64[]){ gkt_addr(g, t.root) }, 1), 0);
	tree_check(test, g, &t);
	CHECK_HEAP(g);
}

/* max_blocks = 1: pushes overflow, recovery finds the rest. */
static void grayq_one_block_overflow(struct kunit *test)
{
	struct gkt_tree t;
	struct gkt_host *g = tree_build(test, &t);

	g->h.gray.max_blocks = 1;
	KUNIT_ASSERT_EQ(test, gkt_mark(g, (u64[]){ gkt_addr(g, t.root) }, 1), 0);
	KUNIT_EXPECT_GE(test, g->h.gray.overflows, 1ULL);
	KUNIT_EXPECT_LE(test, g->h.gray.nblocks, 1ULL);
	tree_check(test, g, &t);
	CHECK_HEAP(g);
}

/* max_blocks = 0: no queue at all, marking is all recovery. */
static void grayq_no_block(struct kunit *test)
{
	struct gkt_tree t;
	struct gkt_host *g = tree_build(test, &t);

	g->h.gray.max_blocks = 0;
	KUNIT_ASSERT_EQ(test, gkt_mark(g, (u64[]){ gkt_addr(g, t.root) }, 1), 0);
	KUNIT_EXPECT_GE(test, g->h.gray.overflows, 1ULL);
	KUNIT_EXPECT_EQ(test, g->h.gray.nblocks, 0ULL);
	tree_check(test, g, &t);
	CHECK_HEAP(g);
}

/* Recovery stopped by should_abort() and resumed marks the same set. */
static void grayq_overflow_interrupted(struct kunit *test)
{
	struct gkt_tree t;
	struct gkt_host *g = tree_build(test, &t);
	struct gca_heap *h = &g->h;
	int ret, calls = 0;

	h->gray.max_blocks = 1;
	g->abort_after = 3;
	gca_mark_begin(h);
	gca_mark_word(h, gkt_addr(g, t.root));
	KUNIT_EXPECT_EQ(test, gca_mark_drain(h), -EINTR);
	KUNIT_EXPECT_TRUE(test, h->gray.overflow || h->gray.rescan);
	KUNIT_EXPECT_LT(test, h->marked_objects, (u64)TREE_OBJECTS);
	KUNIT_EXPECT_EQ(test, h->heap_marked, 0ULL);	/* none completed */
	g->abort_after = -1;
	do {
		ret = gca_mark_drain(h);
	} while (ret == -EINTR && ++calls < 10);
	KUNIT_ASSERT_EQ(test, ret, 0);
	tree_check(test, g, &t);
	CHECK_HEAP(g);
}

static struct kunit_case gcarena_mark_cases[] = {
	KUNIT_CASE(pointer_outside_the_heap),
	KUNIT_CASE(pointer_into_free_slot),
	KUNIT_CASE(pointer_into_tail_waste),
	KUNIT_CASE(pointer_interior_and_unaligned),
	KUNIT_CASE(pointer_into_another_heap),
	KUNIT_CASE(grayq_plenty),
	KUNIT_CASE(grayq_one_block_overflow),
	KUNIT_CASE(grayq_no_block),
	KUNIT_CASE(grayq_overflow_interrupted),
	{}
};

static struct kunit_suite gcarena_mark_suite = {
	.name = "gcarena_mark",
	.init = gkt_init,
	.exit = gkt_exit,
	.test_cases = gcarena_mark_cases,
};
