// SPDX-License-Identifier: GPL-2.0
/*
 * Central lists and large objects: refill and uncache accounting,
 * hostile freeindex values, needzero, backing, large objects,
 * allocation failure on every path, and the heap checker's bounded steps.
 */
#include "gca_test.h"
#include "gca_harness.h"

#define HEAP_BYTES	(256ULL << 20)

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

static u64 popcount(const u64 *bits, u32 nwords)
{
	u64 n = 0;
	u32 w;

	for (w = 0; w < nwords; w++)
		n += hweight64(bits[w]);
	return n;
}

TEST_F(heap, refill_rejects_bad_spanclass)
{
	static const unsigned int bad[] = {
		0, 1, GCA_NUM_SPAN_CLASSES, GCA_NUM_SPAN_CLASSES + 1, 1000,
		~0U, 1U << 31,
	};
	struct gca_heap *h = &self->ua.h;
	unsigned int i;
	int err;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		err = 0;
		EXPECT_EQ(NULL, gca_span_refill(h, bad[i], 1, &err));
		EXPECT_EQ(-EINVAL, err);
	}
	EXPECT_EQ(0ULL, h->grown_pages);
	EXPECT_EQ(0ULL, h->nspans_inuse);
	EXPECT_EQ(0ULL, h->heap_live);
}

TEST_F(heap, refill_fresh_span)
{
	struct gca_heap *h = &self->ua.h;
	struct gca_span *s;
	int err = 1;

	s = gca_span_refill(h, GCA_SPANCLASS(1, 0), 7, &err);
	ASSERT_NE(NULL, s);
	EXPECT_EQ(0, err);
	EXPECT_TRUE(s->cached);
	EXPECT_EQ(7U, s->owner);
	EXPECT_EQ(8ULL, s->elemsize);
	EXPECT_EQ(1024U, s->nelems);
	EXPECT_EQ(16U, s->nwords);
	EXPECT_EQ(0U, s->nalloc);
	EXPECT_FALSE(s->noscan);
	EXPECT_FALSE(s->needzero);	/* never backed before */
	EXPECT_EQ(1024ULL, popcount(s->cache_bits, s->nwords));
	EXPECT_EQ(0ULL, popcount(s->alloc_bits, s->nwords));
	EXPECT_EQ(8192ULL, h->heap_live);
	EXPECT_EQ(8192ULL, h->heap_inuse);
	EXPECT_EQ(8192ULL, h->heap_backed);
	EXPECT_EQ(0ULL, h->heap_alloc);
	EXPECT_EQ(1ULL, h->nspans_inuse);
	EXPECT_EQ(s, gca_span_of(h, span_base(s) + 8191));
	CHECK_HEAP();

	/* Class 3 (24 bytes): 341 slots, the last word is masked. */
	s = gca_span_refill(h, GCA_SPANCLASS(3, 1), 8, &err);
	ASSERT_NE(NULL, s);
	EXPECT_TRUE(s->noscan);
	EXPECT_EQ(341U, s->nelems);
	EXPECT_EQ(6U, s->nwords);
	EXPECT_EQ(341ULL, popcount(s->cache_bits, s->nwords));
	EXPECT_EQ((1ULL << (341 - 320)) - 1, s->cache_bits[5]);
	EXPECT_EQ(8192ULL + 341 * 24, h->heap_live);
	CHECK_HEAP();
	gca_span_uncache(h, s, 0);
	CHECK_HEAP();
}

/* Every span class: geometry (checked by ua_check) and a round trip. */
TEST_F(heap, every_span_class)
{
	struct gca_heap *h = &self->ua.h;
	unsigned int sc;
	int err;

	for (sc = 2; sc < GCA_NUM_SPAN_CLASSES; sc++) {
		struct gca_span *s = gca_span_refill(h, sc, sc, &err);
		unsigned int c = sc >> 1;

		ASSERT_NE(NULL, s);
		EXPECT_EQ((u64)gca_class_npages[c], s->npages);
		EXPECT_EQ((u64)gca_class_nelems(c),
			  popcount(s->cache_bits, s->nwords));
		EXPECT_EQ(h->heap_alloc +
			  (u64)gca_class_nelems(c) * gca_class_size[c],
			  h->heap_live);
		EXPECT_EQ(h->heap_inuse, h->heap_backed);
		CHECK_HEAP();
		gca_span_uncache(h, s, 1);
		EXPECT_EQ(1U, s->nalloc);
		EXPECT_EQ(h->heap_alloc, h->heap_live);
		CHECK_HEAP();
	}
	EXPECT_EQ((u64)GCA_NUM_SPAN_CLASSES - 2, h->heap_objects);
	EXPECT_EQ(h->heap_alloc, h->heap_live);
}

TEST_F(heap, uncache_accounting)
{
	struct gca_heap *h = &self->ua.h;
	struct gca_span *s, *s2;
	int err;

	s = gca_span_refill(h, GCA_SPANCLASS(5, 0), 1, &err);	/* 48 B */
	ASSERT_NE(NULL, s);
	EXPECT_EQ(170U, s->nelems);
	EXPECT_EQ(170ULL * 48, h->heap_live);
	gca_span_uncache(h, s, 10);
	EXPECT_FALSE(s->cached);
	EXPECT_EQ(10U, s->nalloc);
	EXPECT_EQ(10ULL, h->mallocs);
	EXPECT_EQ(10ULL, h->heap_objects);
	EXPECT_EQ(480ULL, h->heap_alloc);
	EXPECT_EQ(480ULL, h->total_alloc);
	EXPECT_EQ(480ULL, h->heap_live);
	EXPECT_EQ(0x3ffULL, s->alloc_bits[0]);
	EXPECT_EQ(0ULL, popcount(s->cache_bits, s->nwords));
	EXPECT_FALSE(list_empty(&h->partial[GCA_SPANCLASS(5, 0)]));
	CHECK_HEAP();

	/* The partial span comes back, with only its free slots. */
	s2 = gca_span_refill(h, GCA_SPANCLASS(5, 0), 2, &err);
	ASSERT_EQ(s, s2);
	EXPECT_TRUE(s->needzero);	/* reused slots may hold old data */
	EXPECT_EQ(160ULL, popcount(s->cache_bits, s->nwords));
	EXPECT_EQ(0ULL, s->cache_bits[0] & 0x3ff);
	EXPECT_EQ(170ULL * 48, h->heap_live);
	CHECK_HEAP();
	/* freeindex below what was allocated commits nothing. */
	gca_span_uncache(h, s, 5);
	EXPECT_EQ(10U, s->nalloc);
	EXPECT_EQ(480ULL, h->heap_live);
	CHECK_HEAP();

	s2 = gca_span_refill(h, GCA_SPANCLASS(5, 0), 2, &err);
	ASSERT_EQ(s, s2);
	gca_span_uncache(h, s, 170);
	EXPECT_EQ(170U, s->nalloc);
	EXPECT_EQ(170ULL, h->mallocs);
	EXPECT_EQ(170ULL * 48, h->heap_alloc);
	EXPECT_EQ(h->heap_alloc, h->heap_live);
	EXPECT_TRUE(list_empty(&h->partial[GCA_SPANCLASS(5, 0)]));
	EXPECT_FALSE(list_empty(&h->full[GCA_SPANCLASS(5, 0)]));
	CHECK_HEAP();

	/* Full: the next refill takes a new span. */
	s2 = gca_span_refill(h, GCA_SPANCLASS(5, 0), 2, &err);
	ASSERT_NE(NULL, s2);
	EXPECT_NE(s, s2);
	EXPECT_EQ(2ULL, h->nspans_inuse);
	gca_span_uncache(h, s2, 0);
	EXPECT_EQ(0U, s2->nalloc);
	/* An empty span stays on partial until the sweeper frees it. */
	EXPECT_FALSE(list_empty(&h->partial[GCA_SPANCLASS(5, 0)]));
	EXPECT_EQ(h->heap_alloc, h->heap_live);
	CHECK_HEAP();
}

/* freeindex is untrusted: clamp, never commit what was not handed out. */
TEST_F(heap, hostile_freeindex)
{
	static const struct { u32 fi; u32 want; } cases[] = {
		{ 0, 0 }, { 1, 1 }, { 63, 63 }, { 64, 64 }, { 65, 65 },
		{ 127, 127 }, { 128, 128 }, { 129, 128 }, { 1024, 128 },
		{ 1U << 31, 128 }, { ~0U, 128 },
	};
	struct gca_heap *h = &self->ua.h;
	unsigned int i;
	int err;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		/* Class 6 (64 B): 128 slots, two bitmap words. */
		struct gca_span *s = gca_span_refill(h, GCA_SPANCLASS(6, 1),
						     1, &err);
		u64 before = h->heap_alloc;
		u32 had, want;

		ASSERT_NE(NULL, s);
		/* Earlier cases filled a prefix: slots [had, 128) handed out. */
		had = s->nalloc;
		want = max(cases[i].want, had);
		gca_span_uncache(h, s, cases[i].fi);
		EXPECT_EQ(want, s->nalloc);
		EXPECT_EQ((u64)(want - had) * 64, h->heap_alloc - before);
		EXPECT_EQ(h->heap_alloc, h->heap_live);
		CHECK_HEAP();
	}
}

TEST_F(heap, uncache_of_uncached_span_is_refused)
{
	struct gca_heap *h = &self->ua.h;
	struct gca_span *s;
	int err;

	s = gca_span_refill(h, GCA_SPANCLASS(2, 0), 1, &err);
	ASSERT_NE(NULL, s);
	gca_span_uncache(h, s, 3);
	EXPECT_EQ(3U, s->nalloc);
	/* A glue bug, not a user's: warns, changes nothing. */
	gca_span_uncache(h, s, 100);
	EXPECT_EQ(3U, s->nalloc);
	EXPECT_EQ(1ULL, gca_uenv.warnings);
	gca_uenv.warnings = 0;
	CHECK_HEAP();
}

TEST_F(heap, large_objects)
{
	struct gca_heap *h = &self->ua.h;
	struct gca_span *s;
	bool nz = true;

	EXPECT_EQ(NULL, gca_alloc_large(h, 0, false, &nz));
	EXPECT_EQ(NULL, gca_alloc_large(h, U64_MAX, false, &nz));
	EXPECT_EQ(NULL, gca_alloc_large(h, U64_MAX - GCA_PAGE_SIZE, false, &nz));
	EXPECT_EQ(NULL, gca_alloc_large(h, HEAP_BYTES + 1, false, &nz));
	EXPECT_EQ(0ULL, h->grown_pages);

	s = gca_alloc_large(h, 1, false, &nz);
	ASSERT_NE(NULL, s);
	EXPECT_FALSE(nz);
	EXPECT_EQ(1ULL, s->npages);
	EXPECT_EQ(8192ULL, s->elemsize);
	EXPECT_EQ(GCA_SPANCLASS(0, 0), s->spanclass);
	EXPECT_EQ(1U, s->nelems);
	EXPECT_EQ(1U, s->nalloc);
	EXPECT_EQ(1ULL, s->alloc_bits[0]);
	EXPECT_EQ(1ULL, h->mallocs);
	EXPECT_EQ(8192ULL, h->heap_alloc);
	EXPECT_EQ(8192ULL, h->heap_live);
	CHECK_HEAP();

	s = gca_alloc_large(h, 32769, true, &nz);
	ASSERT_NE(NULL, s);
	EXPECT_EQ(5ULL, s->npages);
	EXPECT_TRUE(s->noscan);
	EXPECT_EQ(GCA_SPANCLASS(0, 1), s->spanclass);
	EXPECT_EQ(6ULL * 8192, h->heap_alloc);
	/* Every byte of it is the object (interior lookups). */
	EXPECT_EQ(s, gca_span_of(h, span_base(s) + 5 * 8192 - 1));
	CHECK_HEAP();

	s = gca_alloc_large(h, HEAP_BYTES - 6 * 8192, false, &nz);
	ASSERT_NE(NULL, s);
	EXPECT_EQ(HEAP_BYTES, h->heap_inuse);
	EXPECT_EQ(NULL, gca_alloc_large(h, 1, false, &nz));
	CHECK_HEAP();
}

/* Reused memory needs zeroing; fresh or scavenged memory does not. */
TEST_F(heap, needzero_follows_backing)
{
	struct gca_heap *h = &self->ua.h;
	struct gca_sweep_result res;
	struct gca_span *s;
	u64 base;
	bool nz = true;

	s = gca_alloc_large(h, 8 * 8192, false, &nz);
	ASSERT_NE(NULL, s);
	EXPECT_FALSE(nz);
	base = span_base(s);
	memset(ua_ptr(&self->ua, base), 0x5a, 8 * 8192);

	/* Unreachable: mark nothing, sweep it away; memory stays backed. */
	ASSERT_EQ(0, ua_mark(&self->ua, NULL, 0));
	ASSERT_EQ(0, gca_sweep(h, &res));
	EXPECT_EQ(1ULL, res.freed_spans);
	EXPECT_EQ(8ULL * 8192, h->heap_backed);
	CHECK_HEAP();

	s = gca_alloc_large(h, 8 * 8192, false, &nz);
	ASSERT_NE(NULL, s);
	EXPECT_EQ(base, span_base(s));
	EXPECT_TRUE(nz);
	EXPECT_EQ(0x5a, *(u8 *)ua_ptr(&self->ua, base + 100));
	CHECK_HEAP();

	ASSERT_EQ(0, ua_mark(&self->ua, NULL, 0));
	ASSERT_EQ(0, gca_sweep(h, &res));
	EXPECT_EQ(8ULL * 8192, gca_scavenge(h, 0));
	EXPECT_EQ(0ULL, h->heap_backed);
	CHECK_HEAP();
	s = gca_alloc_large(h, 8 * 8192, false, &nz);
	ASSERT_NE(NULL, s);
	EXPECT_FALSE(nz);
	EXPECT_EQ(0, *(u8 *)ua_ptr(&self->ua, base + 100));
	CHECK_HEAP();
}

TEST_F(heap, populate_failure_returns_the_pages)
{
	struct gca_heap *h = &self->ua.h;
	struct gca_span *s;
	bool nz;
	int err = 0;

	self->ua.populate_fail_after = 0;
	EXPECT_EQ(NULL, gca_span_refill(h, GCA_SPANCLASS(10, 0), 1, &err));
	EXPECT_EQ(-ENOMEM, err);
	EXPECT_EQ(NULL, gca_alloc_large(h, 1 << 20, false, &nz));
	EXPECT_EQ(0ULL, h->heap_backed);
	EXPECT_EQ(0ULL, h->heap_inuse);
	EXPECT_EQ(0ULL, h->nspans_inuse);
	EXPECT_EQ(0ULL, h->heap_live);
	CHECK_HEAP();
	self->ua.populate_fail_after = -1;
	s = gca_span_refill(h, GCA_SPANCLASS(10, 0), 1, &err);
	ASSERT_NE(NULL, s);
	EXPECT_EQ(0ULL, s->start);	/* the same pages, given back */
	gca_span_uncache(h, s, 0);
	CHECK_HEAP();
}

TEST_F(heap, metadata_failure_on_every_path)
{
	struct gca_heap *h = &self->ua.h;
	struct gca_span *s = NULL;
	bool nz;
	long k;
	int err;

	for (k = 0; !s; k++) {
		ASSERT_LT(k, 10);
		gca_uenv.fail_after = k;
		s = gca_span_refill(h, GCA_SPANCLASS(20, 0), 1, &err);
		gca_uenv.fail_after = -1;
		if (!s)
			EXPECT_EQ(-ENOMEM, err);
		CHECK_HEAP();
	}
	gca_span_uncache(h, s, 2);
	CHECK_HEAP();
	for (k = 0, s = NULL; !s; k++) {
		ASSERT_LT(k, 10);
		gca_uenv.fail_after = k;
		s = gca_alloc_large(h, 10 << 20, false, &nz);
		gca_uenv.fail_after = -1;
		CHECK_HEAP();
	}
	EXPECT_EQ(2ULL + 1, h->heap_objects);
}

/* Many objects across many spans: the statistics add up. */
TEST_F(heap, many_objects)
{
	struct gca_heap *h = &self->ua.h;
	static u64 offs[5000];
	u64 i;

	ASSERT_EQ(5000ULL, ua_alloc_objs(&self->ua, GCA_SPANCLASS(1, 0),
					 5000, offs));
	EXPECT_EQ(5ULL, h->nspans_inuse);
	EXPECT_EQ(5000ULL, h->heap_objects);
	EXPECT_EQ(40000ULL, h->heap_alloc);
	for (i = 1; i < 5000; i++)
		ASSERT_NE(offs[i - 1], offs[i]);
	ASSERT_EQ(3000ULL, ua_alloc_objs(&self->ua, GCA_SPANCLASS(67, 0),
					 3000, NULL));
	EXPECT_EQ(5ULL + 3000, h->nspans_inuse);
	EXPECT_EQ(3000ULL * 32768 + 40000, h->heap_alloc);
	CHECK_HEAP();
}

TEST_HARNESS_MAIN

static void count_report(struct gca_check *c, const char *line)
{
	(void)line;
	(*(unsigned int *)c->priv)++;
}

/*
 * The checker's bounded steps (the module's, under checkmark) find a
 * broken span as the whole walk does, a budget of spans per call.
 */
TEST_F(heap, checker_in_steps)
{
	struct gca_heap *h = &self->ua.h;
	unsigned int lines = 0, calls = 0;
	struct gca_check c = { .report = count_report, .priv = &lines };
	struct gca_span *s;

	ASSERT_EQ(10ULL, ua_alloc_objs(&self->ua, GCA_SPANCLASS(1, 0), 10,
				       NULL));
	ASSERT_EQ(10ULL, ua_alloc_objs(&self->ua, GCA_SPANCLASS(20, 1), 10,
				       NULL));
	ASSERT_NE(U64_MAX, ua_alloc_large(&self->ua, 100000, false));
	ASSERT_EQ(3ULL, h->nspans_inuse);

	gca_heap_check_spans_begin(h, &c);
	do
		calls++;
	while (!gca_heap_check_spans_some(h, &c, 1));
	EXPECT_EQ(3U, calls);	/* a span a call */
	EXPECT_EQ(0U, c.errors);
	EXPECT_EQ(0U, lines);

	s = list_first_entry(&h->inuse, struct gca_span, all);
	s->nalloc++;
	gca_heap_check_spans_begin(h, &c);
	while (!gca_heap_check_spans_some(h, &c, 2))
		;
	EXPECT_EQ(1U, c.errors);
	EXPECT_EQ(1U, lines);
	c.strict_inuse = true;
	EXPECT_LT(0U, gca_heap_check(h, &c));
	s->nalloc--;
	CHECK_HEAP();
}
