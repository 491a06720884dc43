// SPDX-License-Identifier: GPL-2.0
/*
 * Marking: candidate words of every kind (null, unaligned interior, just
 * outside the heap, free slots, tail waste, free spans, cached slots),
 * scanning (self loops, a 100000-object chain, noscan objects, oblets,
 * pages without backing), gray queue overflow recovery, interruption,
 * recovery in bounded slices (gca_mark_drain_some()), slices cut short
 * for a waiter, and random heap contents checked against an independent
 * marker.
 */
#include "gca_test.h"
#include "gca_harness.h"

#define HEAP_BYTES	(128ULL << 20)

/*
 * A drain slice's budget, and the most one gca_mark_drain_some() call
 * may do past it: one gray entry or one step of overflow recovery (an
 * oblet, or a span visited and its bitmap, 16 words at most here).
 */
#define SLICE		4096ULL
#define SLICE_OVER	(GCA_OBLET_SIZE + GCA_RESCAN_SPAN_COST + 16 * 8)

/*
 * Drain in slices of SLICE as the collector does; every call must stay
 * within its bound, in bytes scanned and in mark_work.  Between two
 * slices, mid(arg) may shade more (a barrier flush).  Returns the last
 * result; *recovering counts -EAGAIN returns after an overflow.
 */
static int drain_sliced(struct __test_metadata *_metadata,
			struct gca_heap *h, unsigned int *recovering,
			void (*mid)(struct gca_heap *h, void *arg,
				    unsigned int call), void *arg)
{
	unsigned int calls = 0;
	u64 scanned, work;
	int ret;

	*recovering = 0;
	do {
		scanned = h->scanned_bytes;
		work = h->mark_work;
		ret = gca_mark_drain_some(h, SLICE);
		EXPECT_LE(h->scanned_bytes - scanned, SLICE + SLICE_OVER);
		EXPECT_LE(h->mark_work - work, SLICE + SLICE_OVER);
		if (ret == -EAGAIN && h->gray.overflows)
			(*recovering)++;
		if (mid)
			mid(h, arg, calls);
	} while (ret == -EAGAIN && ++calls < 10000000);
	return ret;
}

FIXTURE(heap) {
	struct uarena ua;
};

FIXTURE_SETUP(heap)
{
	gca_uenv_reset();
	ASSERT_EQ(0, ua_init(&self->ua, HEAP_BYTES));
}

FIXTURE_TEARDOWN(heap)
{
	EXPECT_EQ(0, ua_check(&self->ua, true));
	ua_destroy(&self->ua);
	EXPECT_EQ(0ULL, self->ua.h.meta_bytes);
	EXPECT_EQ(0ULL, gca_uenv.warnings);
	EXPECT_EQ(0, ua_leaks());
}

/* One object of spanclass; its offset. */
static u64 obj(struct uarena *ua, unsigned int sc)
{
	u64 off = U64_MAX;

	ua_alloc_objs(ua, sc, 1, &off);
	return off;
}

#define SCAN(c)		GCA_SPANCLASS(c, 0)
#define NOSCAN(c)	GCA_SPANCLASS(c, 1)

TEST_F(heap, words_that_are_not_pointers)
{
	struct uarena *ua = &self->ua;
	struct gca_heap *h = &ua->h;
	u64 a = obj(ua, SCAN(6)), base = h->user_base, end;

	ASSERT_NE(U64_MAX, a);
	end = h->grown_pages * GCA_PAGE_SIZE;
	gca_mark_begin(h);
	EXPECT_FALSE(gca_mark_word(h, 0));
	EXPECT_FALSE(gca_mark_word(h, 1));
	EXPECT_FALSE(gca_mark_word(h, base - 1));
	EXPECT_FALSE(gca_mark_word(h, base - 8));
	EXPECT_FALSE(gca_mark_word(h, base - GCA_PAGE_SIZE));
	EXPECT_FALSE(gca_mark_word(h, base + end));
	EXPECT_FALSE(gca_mark_word(h, base + end - 1));	/* free span */
	EXPECT_FALSE(gca_mark_word(h, base + HEAP_BYTES));
	EXPECT_FALSE(gca_mark_word(h, U64_MAX));
	EXPECT_FALSE(gca_mark_word(h, base + a + 64));	/* next slot: free */
	EXPECT_EQ(0ULL, h->marked_objects);

	/* No user mapping yet: nothing is a pointer. */
	h->user_base = 0;
	EXPECT_FALSE(gca_mark_word(h, a));
	EXPECT_FALSE(gca_mark_word(h, base + a));
	h->user_base = base;
	EXPECT_FALSE(gca_is_marked(h, a));
	EXPECT_TRUE(gca_mark_word(h, base + a));
	EXPECT_TRUE(gca_is_marked(h, a));
	EXPECT_FALSE(gca_is_marked(h, U64_MAX));
	EXPECT_FALSE(gca_is_marked(h, end));
	EXPECT_EQ(1ULL, h->marked_objects);
	ASSERT_EQ(0, gca_mark_drain(h));
	EXPECT_EQ(64ULL, h->heap_marked);
}

/* Interior pointers count, at any byte; the next slot is another object. */
TEST_F(heap, interior_and_unaligned)
{
	struct uarena *ua = &self->ua;
	struct gca_heap *h = &ua->h;
	u64 o[2], b;

	ASSERT_EQ(2ULL, ua_alloc_objs(ua, NOSCAN(5), 2, o));	/* 48 B */
	ASSERT_EQ(o[0] + 48, o[1]);
	for (b = 0; b < 48; b++) {
		gca_mark_begin(h);
		ASSERT_TRUE(gca_mark_word(h, ua_addr(ua, o[0] + b)));
		ASSERT_TRUE(gca_is_marked(h, o[0]));
		ASSERT_TRUE(gca_is_marked(h, o[0] + 47));
		ASSERT_FALSE(gca_is_marked(h, o[1]));
		ASSERT_EQ(1ULL, h->marked_objects);
	}
	ASSERT_TRUE(gca_mark_word(h, ua_addr(ua, o[1] + 13)));
	EXPECT_EQ(2ULL, h->marked_objects);
	/* Marking twice counts once. */
	ASSERT_TRUE(gca_mark_word(h, ua_addr(ua, o[1] + 3)));
	EXPECT_EQ(2ULL, h->marked_objects);
	ASSERT_EQ(0, gca_mark_drain(h));
	EXPECT_EQ(96ULL, h->heap_marked);
}

/* Class 5 (48 B): 170 slots, bytes 8160..8191 are no object. */
TEST_F(heap, tail_waste_is_no_object)
{
	struct uarena *ua = &self->ua;
	struct gca_heap *h = &ua->h;
	static u64 o[170];
	u64 base, big;

	ASSERT_EQ(170ULL, ua_alloc_objs(ua, SCAN(5), 170, o));
	/* Before mark_begin: objects allocated after it are born marked. */
	big = obj(ua, SCAN(65));
	base = o[0];
	ASSERT_EQ(base + 169 * 48, o[169]);
	gca_mark_begin(h);
	EXPECT_FALSE(gca_mark_word(h, ua_addr(ua, base + 8160)));
	EXPECT_FALSE(gca_mark_word(h, ua_addr(ua, base + 8191)));
	EXPECT_EQ(0ULL, h->marked_objects);
	EXPECT_TRUE(gca_mark_word(h, ua_addr(ua, base + 8159)));
	EXPECT_TRUE(gca_is_marked(h, o[169]));
	EXPECT_FALSE(gca_is_marked(h, base + 8160));
	/* Class 65 (27264 B, 10 pages): the tail is 128 bytes. */
	base = big;
	EXPECT_FALSE(gca_mark_word(h, ua_addr(ua, base + 3 * 27264)));
	EXPECT_FALSE(gca_mark_word(h, ua_addr(ua, base + 81919)));
	EXPECT_TRUE(gca_mark_word(h, ua_addr(ua, base + 27263)));
	EXPECT_FALSE(gca_mark_word(h, ua_addr(ua, base + 27264)));	/* free */
	EXPECT_EQ(2ULL, h->marked_objects);
	ASSERT_EQ(0, gca_mark_drain(h));
}

TEST_F(heap, free_slots_and_free_spans)
{
	struct uarena *ua = &self->ua;
	struct gca_heap *h = &ua->h;
	struct gca_sweep_result res;
	u64 a, big;

	a = obj(ua, SCAN(10));
	big = ua_alloc_large(ua, 5 * GCA_PAGE_SIZE, false);
	ASSERT_NE(U64_MAX, big);
	/* Free the large object: its pages become a free span. */
	ASSERT_EQ(0, ua_mark(ua, (u64[]){ ua_addr(ua, a) }, 1));
	ASSERT_EQ(0, gca_sweep(h, &res));
	EXPECT_EQ(1ULL, res.freed_spans);
	gca_mark_begin(h);
	EXPECT_FALSE(gca_mark_word(h, ua_addr(ua, big)));
	EXPECT_FALSE(gca_mark_word(h, ua_addr(ua, big + 3 * GCA_PAGE_SIZE)));
	EXPECT_FALSE(gca_mark_word(h, ua_addr(ua, a + 128)));	/* free slot */
	EXPECT_EQ(0ULL, h->marked_objects);
	ASSERT_EQ(0, gca_mark_drain(h));
	EXPECT_EQ(0ULL, h->heap_marked);
}

/* A cached span's slots are roots, and count as allocated. */
TEST_F(heap, cached_span_is_a_root)
{
	struct uarena *ua = &self->ua;
	struct gca_heap *h = &ua->h;
	struct gca_span *s;
	u64 x, y, slot5;
	int err;

	x = obj(ua, NOSCAN(4));
	y = obj(ua, NOSCAN(4));
	s = gca_span_refill(h, SCAN(6), 1, &err);
	ASSERT_NE(NULL, s);
	/* The thread wrote a pointer to x into a slot it may have used. */
	slot5 = span_base(s) + 5 * 64;
	ua_store_ptr(ua, slot5 + 8, x);

	ASSERT_EQ(0, ua_mark(ua, NULL, 0));
	EXPECT_TRUE(gca_is_marked(h, x));
	EXPECT_FALSE(gca_is_marked(h, y));
	EXPECT_TRUE(gca_is_marked(h, slot5));
	EXPECT_EQ(128ULL + 1, h->marked_objects);
	EXPECT_EQ(128ULL * 64 + 32, h->heap_marked);
	/* A handed-out slot is an object for mark_word too. */
	EXPECT_TRUE(gca_mark_word(h, ua_addr(ua, slot5 + 9)));
	EXPECT_EQ(128ULL + 1, h->marked_objects);

	gca_span_uncache(h, s, 6);
	EXPECT_EQ(6U, s->nalloc);
	/* Once given back, only committed slots are objects. */
	gca_mark_begin(h);
	EXPECT_TRUE(gca_mark_word(h, ua_addr(ua, slot5)));
	EXPECT_FALSE(gca_mark_word(h, ua_addr(ua, slot5 + 64)));
	ASSERT_EQ(0, gca_mark_drain(h));
	EXPECT_TRUE(gca_is_marked(h, x));	/* slot 5 still points to it */
	EXPECT_FALSE(gca_is_marked(h, y));
}

TEST_F(heap, self_loop)
{
	struct uarena *ua = &self->ua;
	struct gca_heap *h = &ua->h;
	u64 a = obj(ua, SCAN(4)), b = obj(ua, SCAN(4));

	ua_store_ptr(ua, a, a);
	ua_store_ptr(ua, a + 8, a + 17);	/* interior, to itself */
	ua_store_ptr(ua, b, a);
	ASSERT_EQ(0, ua_mark(ua, (u64[]){ ua_addr(ua, a) }, 1));
	EXPECT_EQ(1ULL, h->marked_objects);
	EXPECT_EQ(32ULL, h->scanned_bytes);
	EXPECT_FALSE(gca_is_marked(h, b));
}

/* A long chain, linked backwards through memory: no recursion, no limit. */
TEST_F(heap, chain_of_100000)
{
	struct uarena *ua = &self->ua;
	struct gca_heap *h = &ua->h;
	const u64 n = 100000;
	u64 *o = calloc(n + 10, sizeof(u64)), i;

	ASSERT_NE(NULL, o);
	ASSERT_EQ(n + 10, ua_alloc_objs(ua, SCAN(2), n + 10, o));
	for (i = n - 1; i > 0; i--)
		ua_store_ptr(ua, o[i], o[i - 1]);
	ua_store_ptr(ua, o[0], U64_MAX);
	for (i = n; i < n + 10; i++)	/* garbage pointing into the chain */
		ua_store_ptr(ua, o[i], o[i - n]);
	ASSERT_EQ(0, ua_mark(ua, (u64[]){ ua_addr(ua, o[n - 1] + 15) }, 1));
	EXPECT_EQ(n, h->marked_objects);
	EXPECT_EQ(n * 16, h->heap_marked);
	EXPECT_EQ(n * 16, h->scanned_bytes);
	for (i = 0; i < n + 10; i++)
		ASSERT_EQ(i < n, gca_is_marked(h, o[i]));
	EXPECT_EQ(0ULL, h->gray.overflows);
	EXPECT_GT(gca_uenv.resched, n / GCA_WORK_QUANTUM - 1);
	free(o);
}

TEST_F(heap, noscan_objects_are_not_scanned)
{
	struct uarena *ua = &self->ua;
	struct gca_heap *h = &ua->h;
	u64 ns = obj(ua, NOSCAN(6)), sc = obj(ua, SCAN(6));
	u64 b = obj(ua, SCAN(3)), c = obj(ua, SCAN(3));
	u64 big = ua_alloc_large(ua, 100000, true);

	ASSERT_NE(U64_MAX, big);
	ua_store_ptr(ua, ns, b);
	ua_store_ptr(ua, sc + 56, c);
	ua_store_ptr(ua, big + 8, b);
	ASSERT_EQ(0, ua_mark(ua, (u64[]){ ua_addr(ua, ns), ua_addr(ua, sc),
				ua_addr(ua, big + 99999) }, 3));
	EXPECT_FALSE(gca_is_marked(h, b));
	EXPECT_TRUE(gca_is_marked(h, c));
	EXPECT_TRUE(gca_is_marked(h, big));
	EXPECT_EQ(4ULL, h->marked_objects);
	EXPECT_EQ(64ULL + 24, h->scanned_bytes);
}

/* A large scan object is scanned in 128 KiB oblets, all of it. */
TEST_F(heap, large_object_oblets)
{
	struct uarena *ua = &self->ua;
	struct gca_heap *h = &ua->h;
	const u64 size = (1ULL << 20) + 8;	/* 129 pages: 9 oblets */
	u64 big = ua_alloc_large(ua, size, false), t[6], esize, i;

	ASSERT_NE(U64_MAX, big);
	esize = 129 * GCA_PAGE_SIZE;
	for (i = 0; i < 6; i++)
		t[i] = obj(ua, NOSCAN(3));
	ua_store_ptr(ua, big, t[0]);
	ua_store_ptr(ua, big + GCA_OBLET_SIZE - 8, t[1]);
	ua_store_ptr(ua, big + GCA_OBLET_SIZE, t[2]);
	ua_store_ptr(ua, big + 5 * GCA_OBLET_SIZE + 800, t[3]);
	ua_store_ptr(ua, big + esize - 8, t[4]);
	/* An interior root far into the object marks the whole object. */
	ASSERT_EQ(0, ua_mark(ua, (u64[]){ ua_addr(ua, big + 500000) }, 1));
	for (i = 0; i < 5; i++)
		EXPECT_TRUE(gca_is_marked(h, t[i]));
	EXPECT_FALSE(gca_is_marked(h, t[5]));
	EXPECT_EQ(esize, h->scanned_bytes);
	EXPECT_EQ(6ULL, h->marked_objects);
	EXPECT_EQ(esize + 5 * 24, h->heap_marked);
}

/* A page map() says has no backing is skipped, not read. */
TEST_F(heap, pages_without_backing_are_skipped)
{
	struct uarena *ua = &self->ua;
	struct gca_heap *h = &ua->h;
	u64 big = ua_alloc_large(ua, 3 * GCA_PAGE_SIZE, false);
	u64 x = obj(ua, NOSCAN(3)), y = obj(ua, NOSCAN(3)), page;

	ASSERT_NE(U64_MAX, big);
	ua_store_ptr(ua, big + GCA_PAGE_SIZE + 64, x);
	ua_store_ptr(ua, big + 2 * GCA_PAGE_SIZE + 64, y);
	page = big / GCA_PAGE_SIZE + 1;
	ua->backed[page] = 0;		/* the host lost this page */
	ASSERT_EQ(0, ua_mark(ua, (u64[]){ ua_addr(ua, big) }, 1));
	EXPECT_FALSE(gca_is_marked(h, x));
	EXPECT_TRUE(gca_is_marked(h, y));
	EXPECT_EQ(3 * GCA_PAGE_SIZE, h->scanned_bytes);
	ua->backed[page] = 1;
	ASSERT_EQ(0, ua_mark(ua, (u64[]){ ua_addr(ua, big) }, 1));
	EXPECT_TRUE(gca_is_marked(h, x));
}

/*
 * A wide tree: root -> 2000 scan objects -> 8 objects each.  Returns
 * the root's offset; fills the level arrays.
 */
static u64 build_tree(struct uarena *ua, u64 *l1, u64 *l2, u64 *junk)
{
	u64 root = ua_alloc_large(ua, 2000 * 8, false), i, j;

	if (root == U64_MAX ||
	    ua_alloc_objs(ua, SCAN(6), 2000, l1) != 2000 ||
	    ua_alloc_objs(ua, SCAN(2), 16000, l2) != 16000 ||
	    ua_alloc_objs(ua, SCAN(6), 1000, junk) != 1000)
		return U64_MAX;
	for (i = 0; i < 2000; i++) {
		ua_store_ptr(ua, root + i * 8, l1[i]);
		for (j = 0; j < 8; j++)
			ua_store_ptr(ua, l1[i] + j * 8, l2[i * 8 + j]);
	}
	for (i = 0; i < 1000; i++)	/* unreachable, points into the tree */
		ua_store_ptr(ua, junk[i], l2[i]);
	return root;
}

static int check_tree(struct gca_heap *h, u64 root, u64 *l1, u64 *l2,
		      u64 *junk)
{
	int bad = 0;
	u64 i;

	bad += !gca_is_marked(h, root);
	for (i = 0; i < 2000; i++)
		bad += !gca_is_marked(h, l1[i]);
	for (i = 0; i < 16000; i++)
		bad += !gca_is_marked(h, l2[i]);
	for (i = 0; i < 1000; i++)
		bad += gca_is_marked(h, junk[i]);
	bad += h->marked_objects != 18001;
	bad += h->heap_marked != 2 * GCA_PAGE_SIZE + 2000 * 64 + 16000 * 16;
	return bad;
}

FIXTURE(tree) {
	struct uarena ua;
	u64 root, l1[2000], l2[16000], junk[1000];
};

FIXTURE_SETUP(tree)
{
	gca_uenv_reset();
	ASSERT_EQ(0, ua_init(&self->ua, HEAP_BYTES));
	self->root = build_tree(&self->ua, self->l1, self->l2, self->junk);
	ASSERT_NE(U64_MAX, self->root);
}

FIXTURE_TEARDOWN(tree)
{
	EXPECT_EQ(0, ua_check(&self->ua, true));
	ua_destroy(&self->ua);
	EXPECT_EQ(0ULL, gca_uenv.warnings);
	EXPECT_EQ(0, ua_leaks());
}

TEST_F(tree, plenty_of_gray_blocks)
{
	struct gca_heap *h = &self->ua.h;

	ASSERT_EQ(0, ua_mark(&self->ua, (u64[]){ ua_addr(&self->ua, self->root) }, 1));
	EXPECT_EQ(0, check_tree(h, self->root, self->l1, self->l2, self->junk));
	EXPECT_EQ(0ULL, h->gray.overflows);
	EXPECT_FALSE(h->gray.overflow);
}

TEST_F(tree, one_gray_block_overflows_and_recovers)
{
	struct gca_heap *h = &self->ua.h;

	h->gray.max_blocks = 1;
	ASSERT_EQ(0, ua_mark(&self->ua, (u64[]){ ua_addr(&self->ua, self->root) }, 1));
	EXPECT_EQ(0, check_tree(h, self->root, self->l1, self->l2, self->junk));
	EXPECT_GE(h->gray.overflows, 1ULL);
	EXPECT_FALSE(h->gray.overflow);
	EXPECT_LE(h->gray.nblocks, 1ULL);
}

TEST_F(tree, no_gray_block_at_all)
{
	struct gca_heap *h = &self->ua.h;

	gca_uenv.nowait_fail_after = 0;
	ASSERT_EQ(0, ua_mark(&self->ua, (u64[]){ ua_addr(&self->ua, self->root) }, 1));
	EXPECT_EQ(0, check_tree(h, self->root, self->l1, self->l2, self->junk));
	EXPECT_GE(h->gray.overflows, 1ULL);
	EXPECT_EQ(0ULL, h->gray.nblocks);
}

TEST_F(tree, interrupted_and_resumed)
{
	struct uarena *ua = &self->ua;
	struct gca_heap *h = &ua->h;
	int ret, calls = 0;

	/* Plain drain, stopped at its first check. */
	ua->abort_after = 0;
	gca_mark_begin(h);
	gca_mark_word(h, ua_addr(ua, self->root));
	EXPECT_EQ(-EINTR, gca_mark_drain(h));
	EXPECT_LT(h->marked_objects, 18001ULL);
	EXPECT_EQ(0ULL, h->heap_marked);	/* no completed mark yet */
	ua->abort_after = -1;
	ASSERT_EQ(0, gca_mark_drain(h));
	EXPECT_EQ(0, check_tree(h, self->root, self->l1, self->l2, self->junk));

	/* Overflow recovery, stopped partway, then resumed. */
	h->gray.max_blocks = 1;
	ua->abort_after = 3;
	gca_mark_begin(h);
	gca_mark_word(h, ua_addr(ua, self->root));
	ret = gca_mark_drain(h);
	EXPECT_EQ(-EINTR, ret);
	EXPECT_TRUE(h->gray.overflow || h->gray.rescan);
	ua->abort_after = -1;
	do {
		ret = gca_mark_drain(h);
		calls++;
	} while (ret == -EINTR && calls < 10);
	ASSERT_EQ(0, ret);
	EXPECT_EQ(0, check_tree(h, self->root, self->l1, self->l2, self->junk));
}

/*
 * Overflow recovery in slices: no slice does more than its budget and
 * one step, recovery takes many of them, and the marks are exactly the
 * non-overflowing mark's.
 */
TEST_F(tree, overflow_recovery_in_bounded_slices)
{
	struct uarena *ua = &self->ua;
	struct gca_heap *h = &ua->h;
	unsigned int recovering;

	h->gray.max_blocks = 1;
	gca_mark_begin(h);
	gca_mark_word(h, ua_addr(ua, self->root));
	ASSERT_EQ(0, drain_sliced(_metadata, h, &recovering, NULL, NULL));
	EXPECT_GE(h->gray.overflows, 1ULL);
	/* the rescan is 2 pages + 2000 * 64 + 16000 * 16 bytes at least */
	EXPECT_GE(recovering, 50U);
	EXPECT_FALSE(h->gray.overflow);
	ASSERT_EQ(0, gca_mark_drain(h));
	EXPECT_EQ(0, check_tree(h, self->root, self->l1, self->l2, self->junk));

	/* The same with no gray block at all: every push overflows. */
	gca_uenv.nowait_fail_after = 0;
	gca_mark_begin(h);
	gca_mark_word(h, ua_addr(ua, self->root));
	ASSERT_EQ(0, drain_sliced(_metadata, h, &recovering, NULL, NULL));
	EXPECT_GE(recovering, 50U);
	ASSERT_EQ(0, gca_mark_drain(h));
	EXPECT_EQ(0, check_tree(h, self->root, self->l1, self->l2, self->junk));
	EXPECT_EQ(0ULL, h->gray.nblocks);
}

/* A slice interrupted inside recovery resumes where it stopped. */
TEST_F(tree, sliced_recovery_interrupted)
{
	struct uarena *ua = &self->ua;
	struct gca_heap *h = &ua->h;
	int ret, intr = 0, calls = 0;

	h->gray.max_blocks = 1;
	gca_mark_begin(h);
	gca_mark_word(h, ua_addr(ua, self->root));
	do {
		ua->abort_after = 0;	/* the slice's first check stops it */
		ret = gca_mark_drain_some(h, 16 * SLICE);
		intr += ret == -EINTR;
	} while (ret != 0 && ++calls < 1000000);
	ASSERT_EQ(0, ret);
	EXPECT_GT(intr, 10);
	ua->abort_after = -1;
	ASSERT_EQ(0, gca_mark_drain(h));
	EXPECT_EQ(0, check_tree(h, self->root, self->l1, self->l2, self->junk));
}

/*
 * A waiter for the host's lock (ops->lock_wanted) ends each slice once
 * it has done GCA_DRAIN_MIN bytes of work, long before its budget; the
 * mark comes out the same.  A whole drain never asks.
 */
TEST_F(tree, slices_end_early_for_a_waiter)
{
	struct uarena *ua = &self->ua;
	struct gca_heap *h = &ua->h;
	int ret, calls = 0;
	u64 work;

	gca_mark_begin(h);
	gca_mark_word(h, ua_addr(ua, self->root));
	ua->lock_wanted = true;
	do {
		work = h->mark_work;
		ret = gca_mark_drain_some(h, 16 * SLICE);
		if (ret != -EAGAIN)
			break;
		EXPECT_GE(h->mark_work - work, (u64)GCA_DRAIN_MIN);
		EXPECT_LE(h->mark_work - work, (u64)(GCA_DRAIN_MIN + SLICE_OVER));
	} while (++calls < 1000000);
	ASSERT_EQ(0, ret);
	EXPECT_GT(calls, 100);
	EXPECT_GE(ua->wanted_calls, (u64)calls);
	ASSERT_EQ(0, gca_mark_drain(h));	/* nothing left: completes it */
	EXPECT_EQ(0, check_tree(h, self->root, self->l1, self->l2, self->junk));

	ua->wanted_calls = 0;
	ASSERT_EQ(0, ua_mark(ua, (u64[]){ ua_addr(ua, self->root) }, 1));
	EXPECT_EQ(0ULL, ua->wanted_calls);
}

/* mark_begin forgets the last cycle's marks. */
TEST_F(tree, mark_begin_clears)
{
	struct gca_heap *h = &self->ua.h;

	ASSERT_EQ(0, ua_mark(&self->ua, (u64[]){ ua_addr(&self->ua, self->root) }, 1));
	ASSERT_TRUE(gca_is_marked(h, self->l2[5]));
	gca_mark_begin(h);
	EXPECT_FALSE(gca_is_marked(h, self->l2[5]));
	EXPECT_FALSE(gca_is_marked(h, self->root));
	EXPECT_EQ(0ULL, h->marked_objects);
	ASSERT_EQ(0, gca_mark_drain(h));
	EXPECT_EQ(0ULL, h->heap_marked);
}

/* ---- random heaps against an independent marker ---- */

/*
 * A heap word: one in 1024/ptr_per_1024 is pointer-like (near or into
 * the heap), so that about as many pointers as objects exist and a good
 * part of the heap stays unreachable; the rest is junk or zero.
 */
static u64 random_word(struct uarena *ua, u64 *seed, struct ua_obj *v, size_t n,
		       unsigned int ptr_per_1024)
{
	u64 r = ua_rand(seed), grown = ua->h.grown_pages * GCA_PAGE_SIZE;
	struct ua_obj *o = &v[(r >> 16) % n];

	if (r % 1024 >= ptr_per_1024) {
		switch ((r >> 10) % 8) {
		case 0:
			return ua_rand(seed);	/* anything */
		case 1:
			return (r >> 20) % 4096;	/* small numbers */
		default:
			return 0;
		}
	}
	switch ((r >> 10) % 5) {
	case 0:					/* anywhere near the heap */
		return ua_addr(ua, 0) - 2 * GCA_PAGE_SIZE +
		       ua_rand(seed) % (grown + 4 * GCA_PAGE_SIZE);
	case 1:					/* into an object */
	case 2:
		return ua_addr(ua, o->start) + ua_rand(seed) % o->size;
	case 3:					/* an object's start */
		return ua_addr(ua, o->start);
	default:				/* just past an object */
		return ua_addr(ua, o->start + o->size);
	}
}

struct late_roots {
	const u64 *roots;
	size_t n;
	unsigned int at;	/* the slice after which they are shaded */
};

/* A barrier flush between two slices: more roots, maybe overflowing. */
static void shade_late(struct gca_heap *h, void *arg, unsigned int call)
{
	struct late_roots *lr = arg;

	if (call == lr->at)
		gca_mark_words(h, lr->roots, lr->n);
}

/*
 * sliced: mark in SLICE slices (drain_sliced()), half the roots shaded
 * only after a few slices, as a barrier flush would.
 */
static void random_heap(struct __test_metadata *_metadata,
			struct uarena *ua, u64 seed, u64 max_blocks,
			unsigned int ptrs_per_obj, bool sliced)
{
	struct gca_heap *h = &ua->h;
	struct gca_span *s, *cached;
	struct ua_obj *v;
	u64 roots[64], i, nmarked = 0, bmarked = 0, bad = 0;
	unsigned int density;
	u64 seed0 = seed;
	size_t n;
	int err;

	/* A mix of classes, scan and noscan, a few large objects. */
	for (i = 0; i < 400; i++) {
		u64 r = ua_rand(&seed);
		unsigned int c = 1 + r % (GCA_NUM_SIZE_CLASSES - 1);

		ua_alloc_objs(ua, GCA_SPANCLASS(c, (r >> 8) % 4 == 0),
			      1 + (r >> 16) % 8, NULL);
		if (r % 50 == 0)
			ASSERT_NE(U64_MAX, ua_alloc_large(ua, 33000 +
					(r >> 20) % (600 << 10), (r >> 8) % 3 == 0));
	}
	cached = gca_span_refill(h, SCAN(7), 1, &err);
	ASSERT_NE(NULL, cached);
	ASSERT_EQ(0, ua_check(ua, true));

	v = ua_objects(h, &n);
	ASSERT_NE(NULL, v);
	ASSERT_GT(n, 1000U);
	/* About ptrs_per_obj pointer words per object, over the heap. */
	density = max_t(u64, 1, 1024 * ptrs_per_obj * n / (h->heap_inuse / 8));
	/* Garbage everywhere: objects, free slots, tail waste. */
	list_for_each_entry(s, &h->inuse, all) {
		u64 *w = ua_ptr(ua, span_base(s));

		for (i = 0; i < s->npages * GCA_PAGE_SIZE / 8; i++)
			w[i] = random_word(ua, &seed, v, n, density);
	}
	for (i = 0; i < ARRAY_SIZE(roots); i++)
		roots[i] = random_word(ua, &seed, v, n, 1024);

	h->gray.max_blocks = max_blocks;
	if (sliced) {
		struct late_roots lr = { roots + ARRAY_SIZE(roots) / 2,
					 ARRAY_SIZE(roots) / 2, 20 };
		unsigned int recovering;

		gca_mark_begin(h);
		gca_mark_words(h, roots, ARRAY_SIZE(roots) / 2);
		ASSERT_EQ(0, drain_sliced(_metadata, h, &recovering,
					  shade_late, &lr));
		if (max_blocks < 2)
			EXPECT_GT(recovering, lr.at);
		ASSERT_EQ(0, gca_mark_drain(h));
	} else {
		ASSERT_EQ(0, ua_mark(ua, roots, ARRAY_SIZE(roots)));
	}
	ua_ref_mark(ua, v, n, roots, ARRAY_SIZE(roots));
	for (i = 0; i < n; i++) {
		bad += gca_is_marked(h, v[i].start) != v[i].marked;
		if (v[i].marked) {
			nmarked++;
			bmarked += v[i].size;
		}
	}
	EXPECT_EQ(0ULL, bad);
	/* The test means something only if some objects stay white. */
	EXPECT_LT(nmarked, (u64)n);
	EXPECT_GT(nmarked, (u64)ARRAY_SIZE(roots) / 4);
	EXPECT_EQ(nmarked, h->marked_objects);
	EXPECT_EQ(bmarked, h->heap_marked);
	/* Marked means allocated (or handed to a cache), nothing else. */
	list_for_each_entry(s, &h->inuse, all) {
		for (i = 0; i < s->nwords; i++) {
			u64 live = s->alloc_bits[i] |
				   (s->cached ? s->cache_bits[i] : 0);

			EXPECT_EQ(0ULL, s->mark_bits[i] & ~live);
		}
	}
	TH_LOG("seed %llx: %zu objects, %llu marked, %llu overflows", seed0,
	       n, nmarked, h->gray.overflows);
	gca_span_uncache(h, cached, 3);
	free(v);
}

TEST_F(heap, random_heap_contents)
{
	random_heap(_metadata, &self->ua, 0x1234567887654321ULL, 4096, 1,
		    false);
	EXPECT_EQ(0ULL, self->ua.h.gray.overflows);
}

TEST_F(heap, random_heap_contents_one_gray_block)
{
	random_heap(_metadata, &self->ua, 0xfeedfacecafebeefULL, 1, 8, false);
	EXPECT_GE(self->ua.h.gray.overflows, 1ULL);
}

TEST_F(heap, random_heap_contents_no_gray_block)
{
	random_heap(_metadata, &self->ua, 0x0123456789abcdefULL, 0, 1, false);
	EXPECT_GE(self->ua.h.gray.overflows, 1ULL);
	EXPECT_EQ(0ULL, self->ua.h.gray.nblocks);
}

/* The same heaps marked in bounded slices, roots arriving late. */
TEST_F(heap, random_heap_sliced)
{
	random_heap(_metadata, &self->ua, 0x1234567887654321ULL, 4096, 1,
		    true);
	EXPECT_EQ(0ULL, self->ua.h.gray.overflows);
}

TEST_F(heap, random_heap_sliced_one_gray_block)
{
	random_heap(_metadata, &self->ua, 0xfeedfacecafebeefULL, 1, 8, true);
	EXPECT_GE(self->ua.h.gray.overflows, 1ULL);
}

TEST_F(heap, random_heap_sliced_no_gray_block)
{
	random_heap(_metadata, &self->ua, 0x0123456789abcdefULL, 0, 1, true);
	EXPECT_GE(self->ua.h.gray.overflows, 1ULL);
	EXPECT_EQ(0ULL, self->ua.h.gray.nblocks);
}

TEST_HARNESS_MAIN
