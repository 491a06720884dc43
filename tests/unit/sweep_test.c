// SPDX-License-Identifier: GPL-2.0
/*
 * Sweeping (counts, central lists, spans back to the page heap, large
 * objects, cached spans, interruption), scavenging down to a target, and
 * destroying a heap with everything in it.
 */
#include "gca_test.h"
#include "gca_harness.h"

#define HEAP_BYTES	(128ULL << 20)
#define PS		GCA_PAGE_SIZE
#define SCAN(c)		GCA_SPANCLASS(c, 0)
#define NOSCAN(c)	GCA_SPANCLASS(c, 1)

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

#define CHECK_HEAP() ASSERT_EQ(0, ua_check(&self->ua, true))

/* Mark exactly the objects at the given offsets (all noscan here). */
static int mark_offs(struct uarena *ua, const u64 *offs, size_t n)
{
	u64 *roots = calloc(n + 1, sizeof(u64));
	size_t i;
	int ret;

	for (i = 0; i < n; i++)
		roots[i] = ua_addr(ua, offs[i]);
	ret = ua_mark(ua, roots, n);
	free(roots);
	return ret;
}

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

TEST_F(heap, counts_and_statistics)
{
	struct uarena *ua = &self->ua;
	struct gca_heap *h = &ua->h;
	struct gca_sweep_result res;
	u64 a[100], c[3], keep[41], i;

	ASSERT_EQ(100ULL, ua_alloc_objs(ua, NOSCAN(6), 100, a));
	ASSERT_EQ(2048ULL, ua_alloc_objs(ua, NOSCAN(1), 2048, NULL));
	for (i = 0; i < 3; i++) {
		c[i] = ua_alloc_large(ua, 2 * PS, true);
		ASSERT_NE(U64_MAX, c[i]);
	}
	EXPECT_EQ(6ULL, h->nspans_inuse);
	for (i = 0; i < 40; i++)
		keep[i] = a[i * 2];
	keep[40] = c[1];
	ASSERT_EQ(0, mark_offs(ua, keep, 41));
	EXPECT_EQ(41ULL, h->marked_objects);

	ASSERT_EQ(0, gca_sweep(h, &res));
	EXPECT_EQ(60ULL + 2048 + 2, res.freed_objects);
	EXPECT_EQ(60ULL * 64 + 2048 * 8 + 2 * 2 * PS, res.freed_bytes);
	EXPECT_EQ(4ULL, res.freed_spans);
	EXPECT_EQ(6ULL, res.swept_spans);
	EXPECT_EQ(41ULL, h->heap_objects);
	EXPECT_EQ(2151ULL, h->mallocs);
	EXPECT_EQ(2110ULL, h->frees);
	EXPECT_EQ(40ULL * 64 + 2 * PS, h->heap_alloc);
	EXPECT_EQ(h->heap_alloc, h->heap_live);
	EXPECT_EQ(2ULL, h->nspans_inuse);
	EXPECT_EQ(PS + 2 * PS, h->heap_inuse);
	for (i = 0; i < 100; i++)
		ASSERT_EQ(i < 80 && i % 2 == 0, gca_is_marked(h, a[i]) &&
			  bit_test(gca_span_of(h, a[i])->alloc_bits,
				   (a[i] - a[0]) / 64));
	CHECK_HEAP();
	/* Memory stays backed until scavenged. */
	EXPECT_EQ((1ULL + 2 + 6) * PS, h->heap_backed);
}

TEST_F(heap, full_span_becomes_partial_and_is_reused)
{
	struct uarena *ua = &self->ua;
	struct gca_heap *h = &ua->h;
	struct gca_sweep_result res;
	struct gca_span *s;
	u64 a[128], i;
	int err;

	ASSERT_EQ(128ULL, ua_alloc_objs(ua, NOSCAN(6), 128, a));
	s = gca_span_of(h, a[0]);
	EXPECT_TRUE(list_empty(&h->partial[NOSCAN(6)]));
	ASSERT_EQ(0, mark_offs(ua, a, 10));
	ASSERT_EQ(0, gca_sweep(h, &res));
	EXPECT_EQ(118ULL, res.freed_objects);
	EXPECT_EQ(10U, s->nalloc);
	EXPECT_FALSE(list_empty(&h->partial[NOSCAN(6)]));
	CHECK_HEAP();

	ASSERT_EQ(s, gca_span_refill(h, NOSCAN(6), 1, &err));
	EXPECT_TRUE(s->needzero);
	EXPECT_EQ(~0ULL << 10, s->cache_bits[0]);
	EXPECT_EQ(~0ULL, s->cache_bits[1]);
	EXPECT_EQ(128ULL * 64, h->heap_live);
	gca_span_uncache(h, s, 128);
	EXPECT_EQ(128U, s->nalloc);
	for (i = 0; i < 128; i++)
		EXPECT_TRUE(bit_test(s->alloc_bits, i));
	CHECK_HEAP();
}

TEST_F(heap, empty_spans_go_back_to_the_page_heap)
{
	struct uarena *ua = &self->ua;
	struct gca_heap *h = &ua->h;
	struct gca_sweep_result res;
	struct gca_span *s;
	int err;

	ASSERT_EQ(5000ULL, ua_alloc_objs(ua, SCAN(9), 5000, NULL));
	ASSERT_NE(U64_MAX, ua_alloc_large(ua, 3 << 20, false));
	s = gca_span_refill(h, SCAN(9), 1, &err);
	ASSERT_NE(NULL, s);
	gca_span_uncache(h, s, 0);	/* empty, on partial */
	CHECK_HEAP();
	ASSERT_EQ(0, ua_mark(ua, NULL, 0));
	ASSERT_EQ(0, gca_sweep(h, &res));
	EXPECT_EQ(5001ULL, res.freed_objects);
	EXPECT_EQ(h->nspans_inuse, 0ULL);
	EXPECT_EQ(res.swept_spans, res.freed_spans);
	EXPECT_EQ(0ULL, h->heap_inuse);
	EXPECT_EQ(0ULL, h->heap_alloc);
	EXPECT_EQ(0ULL, h->heap_live);
	EXPECT_EQ(0ULL, h->heap_objects);
	EXPECT_EQ(5001ULL, h->frees);
	CHECK_HEAP();
	/* Everything coalesced into one free run. */
	EXPECT_EQ(1ULL, nfree_spans(h));
	EXPECT_TRUE(list_empty(&h->large));
	EXPECT_TRUE(list_empty(&h->partial[SCAN(9)]));
	EXPECT_TRUE(list_empty(&h->full[SCAN(9)]));
}

/*
 * A span cached during the mark is not swept, and what its thread
 * commits after the mark survives the sweep (allocated black).
 */
TEST_F(heap, cached_spans_and_allocate_black)
{
	struct uarena *ua = &self->ua;
	struct gca_heap *h = &ua->h;
	struct gca_sweep_result res;
	struct gca_span *s, *t;
	u64 late[5];
	int err;

	s = gca_span_refill(h, SCAN(6), 1, &err);
	ASSERT_NE(NULL, s);
	t = gca_span_refill(h, NOSCAN(7), 2, &err);
	ASSERT_NE(NULL, t);
	ASSERT_EQ(0, ua_mark(ua, NULL, 0));
	/* t is given back after the mark, s only after the sweep. */
	gca_span_uncache(h, t, 7);
	/* And a new object appears between mark and sweep. */
	ASSERT_EQ(5ULL, ua_alloc_objs(ua, NOSCAN(3), 5, late));
	ASSERT_EQ(0, gca_sweep(h, &res));
	EXPECT_EQ(0ULL, res.freed_objects);
	EXPECT_EQ(2ULL, res.swept_spans);	/* t and late's; not s */
	EXPECT_TRUE(s->cached);
	EXPECT_EQ(7U, t->nalloc);
	gca_span_uncache(h, s, 4);
	CHECK_HEAP();

	/* Next cycle, nothing is reachable: all of it goes. */
	ASSERT_EQ(0, ua_mark(ua, NULL, 0));
	ASSERT_EQ(0, gca_sweep(h, &res));
	EXPECT_EQ(4ULL + 7 + 5, res.freed_objects);
	EXPECT_EQ(3ULL, res.freed_spans);
	EXPECT_EQ(0ULL, h->nspans_inuse);
}

TEST_F(heap, sweeping_twice_frees_nothing_more)
{
	struct uarena *ua = &self->ua;
	struct gca_heap *h = &ua->h;
	struct gca_sweep_result res;
	u64 a[300];

	ASSERT_EQ(300ULL, ua_alloc_objs(ua, NOSCAN(4), 300, a));
	ASSERT_EQ(0, mark_offs(ua, a + 100, 100));
	ASSERT_EQ(0, gca_sweep(h, &res));
	EXPECT_EQ(200ULL, res.freed_objects);
	ASSERT_EQ(0, gca_sweep(h, &res));
	EXPECT_EQ(0ULL, res.freed_objects);
	EXPECT_EQ(0ULL, res.freed_spans);
	EXPECT_EQ(100ULL, h->heap_objects);
	CHECK_HEAP();
}

TEST_F(heap, interrupted_sweep_resumes)
{
	struct uarena *ua = &self->ua;
	struct gca_heap *h = &ua->h;
	struct gca_sweep_result res;
	static u64 a[600], keep[300];
	u64 late[5], freed, i;

	/* 600 one-object spans (class 67, 32 KiB); keep every other. */
	ASSERT_EQ(600ULL, ua_alloc_objs(ua, NOSCAN(67), 600, a));
	for (i = 0; i < 300; i++)
		keep[i] = a[2 * i];
	ASSERT_EQ(0, mark_offs(ua, keep, 300));

	ua->abort_after = 0;
	ASSERT_EQ(-EINTR, gca_sweep(h, &res));
	EXPECT_EQ((u64)GCA_WORK_QUANTUM, res.swept_spans);
	freed = res.freed_objects;
	EXPECT_GT(freed, 0ULL);
	EXPECT_LT(freed, 300ULL);
	CHECK_HEAP();
	/* Allocation goes on between the two halves. */
	ASSERT_EQ(5ULL, ua_alloc_objs(ua, NOSCAN(3), 5, late));
	ua->abort_after = -1;
	ASSERT_EQ(0, gca_sweep(h, &res));
	EXPECT_EQ(300ULL, freed + res.freed_objects);
	EXPECT_EQ(305ULL, h->heap_objects);
	for (i = 0; i < 5; i++)
		EXPECT_TRUE(gca_span_of(h, late[i]) != NULL);
	EXPECT_EQ(300ULL + 1, h->nspans_inuse);
	CHECK_HEAP();
}

TEST_F(heap, scavenge_down_to_target)
{
	struct uarena *ua = &self->ua;
	struct gca_heap *h = &ua->h;
	struct gca_sweep_result res;
	u64 o[4], keep[2], calls, target, got, i;

	ua->poison_on_release = true;
	for (i = 0; i < 4; i++) {
		o[i] = ua_alloc_large(ua, 10 * PS, true);
		ASSERT_EQ(i * 10 * PS, o[i]);
	}
	keep[0] = o[1];
	keep[1] = o[3];
	ASSERT_EQ(0, mark_offs(ua, keep, 2));
	ASSERT_EQ(0, gca_sweep(h, &res));
	ASSERT_EQ(2ULL, res.freed_spans);
	EXPECT_EQ(40 * PS, h->heap_backed);
	CHECK_HEAP();

	/* At or under target already: nothing to do. */
	EXPECT_EQ(0ULL, gca_scavenge(h, 40 * PS));
	EXPECT_EQ(0ULL, gca_scavenge(h, U64_MAX));
	EXPECT_EQ(0ULL, ua->release_calls);

	/* 3 pages and 100 bytes over: exactly 4 pages go. */
	target = 37 * PS - 100;
	got = gca_scavenge(h, target);
	EXPECT_EQ(4 * PS, got);
	EXPECT_EQ(36 * PS, h->heap_backed);
	EXPECT_LE(h->heap_backed, target);
	CHECK_HEAP();

	/* Down to nothing: every free page, none in use. */
	EXPECT_EQ(16 * PS, gca_scavenge(h, 0));
	EXPECT_EQ(20 * PS, h->heap_backed);
	CHECK_HEAP();		/* scavenged spans have no backed page */
	EXPECT_TRUE(ua_entry(ua, 0)->scavenged);
	EXPECT_TRUE(ua_entry(ua, 20)->scavenged);
	calls = ua->release_calls;
	EXPECT_EQ(0ULL, gca_scavenge(h, 0));
	EXPECT_EQ(calls, ua->release_calls);	/* scavenged: skipped */

	/* o[1] dies: merged with two scavenged neighbours, not scavenged. */
	ASSERT_EQ(0, mark_offs(ua, keep + 1, 1));
	ASSERT_EQ(0, gca_sweep(h, &res));
	EXPECT_EQ(1ULL, res.freed_spans);
	EXPECT_EQ(30ULL, ua_entry(ua, 0)->npages);
	EXPECT_FALSE(ua_entry(ua, 0)->scavenged);
	CHECK_HEAP();
	/* Its only backed pages are in the middle: still exact. */
	EXPECT_EQ(10 * PS, gca_scavenge(h, 10 * PS));
	EXPECT_EQ(10 * PS, h->heap_backed);
	EXPECT_TRUE(ua_entry(ua, 0)->scavenged);
	CHECK_HEAP();

	/* Reused scavenged memory reads as zero, with no poison left. */
	o[0] = ua_alloc_large(ua, 30 * PS, true);
	ASSERT_EQ(0ULL, o[0]);
	for (i = 0; i < 30 * PS; i += 512)
		ASSERT_EQ(0, *(u8 *)ua_ptr(ua, o[0] + i));
	CHECK_HEAP();
}

TEST_F(heap, scavenge_stops_when_told)
{
	struct uarena *ua = &self->ua;
	struct gca_heap *h = &ua->h;
	struct gca_sweep_result res;
	static u64 a[600], keep[300];
	u64 i, got;

	/* 300 separate free spans of 4 pages. */
	ASSERT_EQ(600ULL, ua_alloc_objs(ua, NOSCAN(67), 600, a));
	for (i = 0; i < 300; i++)
		keep[i] = a[2 * i];
	ASSERT_EQ(0, mark_offs(ua, keep, 300));
	ASSERT_EQ(0, gca_sweep(h, &res));
	ASSERT_EQ(300ULL, res.freed_spans);
	ua->abort_after = 0;
	got = gca_scavenge(h, 0);
	EXPECT_EQ((u64)GCA_WORK_QUANTUM * 4 * PS, got);
	EXPECT_EQ(600 * 4 * PS - got, h->heap_backed);
	ua->abort_after = -1;
	EXPECT_EQ(44 * 4 * PS, gca_scavenge(h, 0));
	EXPECT_EQ(300 * 4 * PS, h->heap_backed);
	CHECK_HEAP();
}

/* Destroy frees every span, chunk, bitmap and gray block (ASan/LSan). */
TEST_F(heap, destroy_with_everything_in_use)
{
	struct uarena *ua = &self->ua;
	struct gca_heap *h = &ua->h;
	struct gca_sweep_result res;
	static u64 objs[3000];
	unsigned int sc;
	u64 i, big;
	int err;

	for (sc = 2; sc < GCA_NUM_SPAN_CLASSES; sc++)
		ASSERT_EQ(3ULL, ua_alloc_objs(ua, sc, 3, NULL));
	for (i = 0; i < 5; i++)
		ASSERT_NE(U64_MAX, ua_alloc_large(ua, (i + 1) * 100000, i & 1));
	big = ua_alloc_large(ua, 1 << 20, false);
	ASSERT_NE(U64_MAX, big);
	/* Some free spans, some scavenged. */
	ASSERT_EQ(0, mark_offs(ua, &big, 1));
	ASSERT_EQ(0, gca_sweep(h, &res));
	gca_scavenge(h, h->heap_backed / 2);
	ASSERT_EQ(3000ULL, ua_alloc_objs(ua, SCAN(2), 3000, objs));
	/* Two spans still cached by threads. */
	ASSERT_NE(NULL, gca_span_refill(h, SCAN(30), 1, &err));
	ASSERT_NE(NULL, gca_span_refill(h, NOSCAN(1), 2, &err));
	/* And a mark left half done, its gray queue full. */
	for (i = 0; i < (1 << 20) / 8; i++)
		ua_store_ptr(ua, big + i * 8, i < 3000 ? objs[i] : big);
	h->gray.max_blocks = 4;
	ua->abort_after = 0;
	gca_mark_begin(h);
	gca_mark_word(h, ua_addr(ua, big));
	gca_mark_words(h, (u64[]){ 0, 1, 2 }, 3);
	ASSERT_EQ(-EINTR, gca_mark_drain(h));
	EXPECT_GT(h->gray.nblocks, 0ULL);
	ua->abort_after = -1;
	CHECK_HEAP();
	/* The teardown destroys it all and checks for leaks. */
}

TEST_HARNESS_MAIN
