// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests of gcarena's GC core (kmod/core/), run inside the kernel: the
 * same code as gcarena.ko, with the kernel's allocators, lists, bitops and
 * cond_resched() under whatever the kernel checks with (KASAN, lockdep,
 * kmemleak, DEBUG_LIST, SLUB debugging: see tests/vm/debug.config).
 * tests/unit runs the same core in userspace under ASan; this suite ports
 * its ideas, one kunit_case per behaviour.
 *
 * Build: only for kernels with CONFIG_KUNIT (kmod/Kbuild), as a module of
 * its own, gcarena_test.ko, that compiles its own copy of the core in the
 * same translation unit (kmod/Kbuild -include's every source that
 * kmod/core/sources.mk lists): no object file is shared with gcarena.ko,
 * and the tests reach the core's static helpers.  The core exports
 * nothing, so the two modules load side by side.
 *
 * Running: insmod gcarena_test.ko runs every suite and prints KTAP to the
 * kernel log (tests/vm/guest-check.sh --kunit turns it into results; `make
 * vm-check-debug` does all of it on the debug kernel).
 *
 * The host: each heap is a struct gkt_host whose gca_heap_ops are backed
 * by one vmalloc'd area the size of the heap's reservation.  populate()
 * zeroes the pages it backs and records them in a bitmap; release()
 * poisons them (0xdb) and clears their bits; map() returns base + off, up
 * to the next kernel page boundary as the glue does, and NULL for a page
 * without backing; should_abort() can be told to stop long work.  Every
 * callback checks the core keeps its side of the contract.  The user
 * address of the heap (h->user_base) is a made-up user address, as in
 * the module, where the collector reads the heap through kernel mappings
 * but pointers in it are user addresses.
 *
 * Each case runs in its own kthread (process context), so the core's
 * GFP_KERNEL allocations and cond_resched() are fine without a lock; the
 * core itself takes none.  The suite's exit walks every structure of each
 * heap the case made (gkt_check(): the core's checker, core/gca_check.c,
 * which tests/unit's ua_check() runs too), then destroys it and frees the host: nothing a case allocated outlives
 * it, which kmemleak checks after the suite.
 */
#include <kunit/test.h>
#include <linux/bitmap.h>
#include <linux/limits.h>
#include <linux/module.h>
#include <linux/vmalloc.h>

/*
 * The GC core: our own copy, see above.  kmod/Kbuild -include's each of
 * its sources (kmod/core/sources.mk) ahead of this file; the header is
 * named here only for the reader.
 */
#include "core/gca_core.h"

#define PS		GCA_PAGE_SIZE
#define MiB		(1ULL << 20)
#define SCAN(c)		GCA_SPANCLASS(c, 0)
#define NOSCAN(c)	GCA_SPANCLASS(c, 1)
#define NOLIMIT		GCA_MEMORY_LIMIT_NONE

#define GKT_HEAP_BYTES	(16 * MiB)	/* 2048 pages, 4 chunks */
/* A made-up user address for offset 0 of the first heap. */
#define GKT_USER_BASE	0x00007f3a00000000ULL
#define GKT_POISON	0xdb
#define GKT_HOSTS	2

/* ---------------------------------------------------------------------
 * The host
 */

struct gkt_host {
	struct gca_heap h;
	struct kunit *test;
	u8 *mem;		/* vmalloc'd, the whole reservation */
	unsigned long *backed;	/* one bit per heap page: has backing */
	u64 size;
	u64 backed_pages;
	/* should_abort(): false this many more times, then true; < 0 never */
	long abort_after;
	u64 populate_calls, release_calls;
	bool live;		/* gca_heap_init() succeeded */
};

struct gkt_ctx {
	struct gkt_host host[GKT_HOSTS];
	/*
	 * exit check: every in-use span is on h->inuse (false when a case
	 * takes raw pages with gca_pages_alloc())
	 */
	bool strict_inuse;
};

static s64 gkt_populate(struct gca_heap *h, u64 first, u64 n, bool *all_fresh)
{
	struct gkt_host *g = h->priv;
	struct gca_span *s;
	bool fresh = true;
	s64 bytes = 0;
	u64 p;

	g->populate_calls++;
	if (!n || first >= h->grown_pages || n > h->grown_pages - first) {
		KUNIT_FAIL(g->test, "populate(%llu, %llu) outside the heap",
			   first, n);
		return -ENOMEM;
	}
	/* The core populates exactly the in-use span it has just taken. */
	s = *gca_entry(h, first);
	if (!s || s->state != GCA_SPAN_INUSE || s->start != first ||
	    s->npages != n) {
		KUNIT_FAIL(g->test, "populate(%llu, %llu) of no new span",
			   first, n);
		return -ENOMEM;
	}
	for (p = first; p < first + n; p++) {
		if (test_bit(p, g->backed)) {
			fresh = false;
			continue;
		}
		memset(g->mem + p * PS, 0, PS);
		__set_bit(p, g->backed);
		g->backed_pages++;
		bytes += PS;
	}
	*all_fresh = fresh;
	return bytes;
}

static u64 gkt_release(struct gca_heap *h, u64 first, u64 n)
{
	struct gkt_host *g = h->priv;
	u64 p, bytes = 0;

	g->release_calls++;
	if (!n || first >= h->grown_pages || n > h->grown_pages - first) {
		KUNIT_FAIL(g->test, "release(%llu, %llu) outside the heap",
			   first, n);
		return 0;
	}
	for (p = first; p < first + n; p++) {
		if (gca_span_of(h, p * PS)) {
			KUNIT_FAIL(g->test, "release of in-use page %llu", p);
			continue;
		}
		if (!test_bit(p, g->backed))
			continue;
		/* Whoever still reads it sees junk, not stale pointers. */
		memset(g->mem + p * PS, GKT_POISON, PS);
		__clear_bit(p, g->backed);
		g->backed_pages--;
		bytes += PS;
	}
	return bytes;
}

static const void *gkt_map(struct gca_heap *h, u64 off, u64 *len)
{
	struct gkt_host *g = h->priv;

	if (off >= h->grown_pages * PS || (off & 7)) {
		KUNIT_FAIL(g->test, "map(%llu) outside the heap or unaligned",
			   off);
		return NULL;
	}
	if (!test_bit(off / PS, g->backed))
		return NULL;
	/* As the glue: one kernel page at a time. */
	*len = PAGE_SIZE - (off & ~PAGE_MASK);
	return g->mem + off;
}

static bool gkt_should_abort(struct gca_heap *h)
{
	struct gkt_host *g = h->priv;

	if (g->abort_after < 0)
		return false;
	if (g->abort_after == 0)
		return true;
	g->abort_after--;
	return false;
}

static const struct gca_heap_ops gkt_ops = {
	.populate = gkt_populate,
	.release = gkt_release,
	.map = gkt_map,
	.should_abort = gkt_should_abort,
};

/* Host i of this case, a heap of heap_bytes at user address user_base. */
static struct gkt_host *gkt_host_init(struct kunit *test, unsigned int i,
				      u64 heap_bytes, u64 user_base)
{
	struct gkt_ctx *ctx = test->priv;
	struct gkt_host *g = &ctx->host[i];

	g->test = test;
	g->size = heap_bytes;
	g->abort_after = -1;
	g->mem = vmalloc(heap_bytes);
	KUNIT_ASSERT_NOT_NULL(test, g->mem);
	g->backed = bitmap_zalloc(heap_bytes / PS, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, g->backed);
	/* Nothing is backed yet: what the core must not read is junk. */
	memset(g->mem, GKT_POISON, heap_bytes);
	KUNIT_ASSERT_EQ(test,
			gca_heap_init(&g->h, heap_bytes, &gkt_ops, g, NULL), 0);
	g->live = true;
	g->h.user_base = user_base;
	return g;
}

static inline u64 gkt_addr(struct gkt_host *g, u64 off)
{
	return g->h.user_base + off;
}

/* Store a pointer to heap offset target (U64_MAX: NULL) at offset at. */
static void gkt_store(struct gkt_host *g, u64 at, u64 target)
{
	*(u64 *)(g->mem + at) = target == U64_MAX ? 0 : gkt_addr(g, target);
}

static inline u64 span_base(const struct gca_span *s)
{
	return s->start << GCA_PAGE_SHIFT;
}

static inline bool bit_test(const u64 *bits, u64 i)
{
	return (bits[i / 64] >> (i % 64)) & 1;
}

/*
 * Commit n objects of spanclass as a thread cache does: refill, use the
 * first n handed-out slots, give the span back with that freeindex.
 * Offsets go to offs (may be NULL).  Returns how many were committed.
 */
static u64 gkt_alloc_objs(struct gkt_host *g, unsigned int spanclass, u64 n,
			  u64 *offs)
{
	u64 done = 0;

	while (done < n) {
		struct gca_span *s;
		u32 i, fi = 0;
		int err;

		s = gca_span_refill(&g->h, spanclass, 1, &err);
		if (!s)
			break;
		for (i = 0; i < s->nelems && done < n; i++) {
			if (!bit_test(s->cache_bits, i))
				continue;
			if (offs)
				offs[done] = span_base(s) + (u64)i * s->elemsize;
			done++;
			fi = i + 1;
		}
		gca_span_uncache(&g->h, s, fi);
	}
	return done;
}

/*
 * A fresh span of spanclass whose first n slots are committed (the heap
 * must have no partial span of that class); NULL if none can be had.
 */
static struct gca_span *gkt_span_with(struct gkt_host *g,
				      unsigned int spanclass, u32 n)
{
	struct gca_span *s;
	int err;

	s = gca_span_refill(&g->h, spanclass, 1, &err);
	if (s)
		gca_span_uncache(&g->h, s, n);
	return s;
}

/* One object of spanclass: its offset, or U64_MAX. */
static u64 gkt_obj(struct gkt_host *g, unsigned int spanclass)
{
	u64 off = U64_MAX;

	gkt_alloc_objs(g, spanclass, 1, &off);
	return off;
}

/* A large object: its offset, or U64_MAX. */
static u64 gkt_alloc_large(struct gkt_host *g, u64 size, bool noscan)
{
	struct gca_span *s;
	bool nz;

	s = gca_alloc_large(&g->h, size, noscan, &nz);
	return s ? span_base(s) : U64_MAX;
}

/* A whole mark from the given root words: gca_mark_drain()'s result. */
static int gkt_mark(struct gkt_host *g, const u64 *roots, size_t n)
{
	gca_mark_begin(&g->h);
	gca_mark_words(&g->h, roots, n);
	return gca_mark_drain(&g->h);
}

/*
 * gca_on_list() and gca_popcount_bits(), which the cases use too, are
 * the checker's (core/gca_check.c, in this translation unit).
 */

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

/* ---------------------------------------------------------------------
 * The invariant walker: the core's checker (core/gca_check.c), reported
 * with KUNIT_FAIL.  Returns the number of violations; the first few are
 * reported.
 */

static void gkt_check_report(struct gca_check *c, const char *line)
{
	struct gkt_host *g = c->priv;

	if (c->errors <= 8)
		KUNIT_FAIL(g->test, "heap invariant: %s", line);
}

static bool gkt_check_backed(struct gca_check *c, u64 page)
{
	struct gkt_host *g = c->priv;

	return test_bit(page, g->backed);
}

static int gkt_check(struct gkt_host *g, bool strict_inuse)
{
	struct gca_check c = {
		.strict_inuse = strict_inuse,
		.backed = gkt_check_backed,
		.backed_pages = g->backed_pages,
		.report = gkt_check_report,
		.priv = g,
	};

	return gca_heap_check(&g->h, &c);
}

/* Check g's invariants now; stop the case if any is broken. */
static bool gkt_strict(struct kunit *test)
{
	return ((struct gkt_ctx *)test->priv)->strict_inuse;
}

#define CHECK_HEAP(g) KUNIT_ASSERT_EQ(test, gkt_check(g, gkt_strict(test)), 0)

static int gkt_init(struct kunit *test)
{
	struct gkt_ctx *ctx = kunit_kzalloc(test, sizeof(*ctx), GFP_KERNEL);

	if (!ctx)
		return -ENOMEM;
	ctx->strict_inuse = true;
	test->priv = ctx;
	return 0;
}

static void gkt_exit(struct kunit *test)
{
	struct gkt_ctx *ctx = test->priv;
	unsigned int i;

	for (i = 0; i < GKT_HOSTS; i++) {
		struct gkt_host *g = &ctx->host[i];

		if (g->live) {
			gkt_check(g, ctx->strict_inuse);
			gca_heap_destroy(&g->h);
			KUNIT_EXPECT_EQ(test, g->h.meta_bytes, 0ULL);
			g->live = false;
		}
		bitmap_free(g->backed);
		vfree(g->mem);
		g->backed = NULL;
		g->mem = NULL;
	}
}

/* =====================================================================
 * Size classes
 */

/* Spot checks against src/runtime/sizeclasses.go (Go 1.21+). */
static void table_is_gos(struct kunit *test)
{
	static const u32 want[][3] = {
		/* class, size, npages */
		{ 1, 8, 1 }, { 2, 16, 1 }, { 3, 24, 1 }, { 4, 32, 1 },
		{ 5, 48, 1 }, { 10, 128, 1 }, { 18, 256, 1 },
		{ 35, 1408, 2 }, { 41, 3072, 3 }, { 50, 6912, 6 },
		{ 51, 8192, 1 }, { 52, 9472, 7 }, { 60, 18432, 9 },
		{ 65, 27264, 10 }, { 66, 28672, 7 }, { 67, 32768, 4 },
	};
	unsigned int i, c;

	KUNIT_ASSERT_EQ(test, GCA_NUM_SIZE_CLASSES, 68);
	KUNIT_EXPECT_EQ(test, gca_class_size[0], 0U);
	KUNIT_EXPECT_EQ(test, gca_class_npages[0], 0);
	for (i = 0; i < ARRAY_SIZE(want); i++) {
		KUNIT_EXPECT_EQ(test, gca_class_size[want[i][0]], want[i][1]);
		KUNIT_EXPECT_EQ(test, (u32)gca_class_npages[want[i][0]],
				want[i][2]);
	}
	for (c = 1; c < GCA_NUM_SIZE_CLASSES; c++) {
		KUNIT_EXPECT_GT(test, gca_class_size[c], gca_class_size[c - 1]);
		KUNIT_EXPECT_EQ(test, gca_class_size[c] % 8, 0U);
		KUNIT_EXPECT_GE(test, gca_class_npages[c], 1);
		KUNIT_EXPECT_LE(test, gca_class_npages[c], 10);
	}
	KUNIT_EXPECT_EQ(test, gca_class_size[GCA_NUM_SIZE_CLASSES - 1],
			(u32)GCA_MAX_SMALL_SIZE);
}

/* size = class size, size - 1, size + 1, 0, 32768, 32769 and beyond. */
static void lookup_at_every_boundary(struct kunit *test)
{
	unsigned int c;

	KUNIT_EXPECT_EQ(test, gca_size_to_class(0), 0U);
	KUNIT_EXPECT_EQ(test, gca_size_to_class(1), 1U);
	KUNIT_EXPECT_EQ(test, gca_size_to_class(32767), 67U);
	KUNIT_EXPECT_EQ(test, gca_size_to_class(32768), 67U);
	KUNIT_EXPECT_EQ(test, gca_size_to_class(32769), 0U);
	KUNIT_EXPECT_EQ(test, gca_size_to_class(1ULL << 32), 0U);
	KUNIT_EXPECT_EQ(test, gca_size_to_class((1ULL << 32) + 8), 0U);
	KUNIT_EXPECT_EQ(test, gca_size_to_class(U64_MAX), 0U);
	/* Where the 8-byte table hands over to the 128-byte one. */
	KUNIT_EXPECT_EQ(test, gca_size_to_class(1016), 32U);
	KUNIT_EXPECT_EQ(test, gca_size_to_class(1017), 32U);
	KUNIT_EXPECT_EQ(test, gca_size_to_class(1024), 32U);
	KUNIT_EXPECT_EQ(test, gca_size_to_class(1025), 33U);
	for (c = 1; c < GCA_NUM_SIZE_CLASSES; c++) {
		u64 size = gca_class_size[c];

		KUNIT_EXPECT_EQ_MSG(test, gca_size_to_class(size), c,
				    "size %llu", size);
		KUNIT_EXPECT_EQ_MSG(test, gca_size_to_class(size - 1), c,
				    "size %llu", size - 1);
		KUNIT_EXPECT_EQ_MSG(test,
				    gca_size_to_class(gca_class_size[c - 1] + 1),
				    c, "size %u", gca_class_size[c - 1] + 1);
		KUNIT_EXPECT_EQ_MSG(test, gca_size_to_class(size + 1),
				    c + 1 < GCA_NUM_SIZE_CLASSES ? c + 1 : 0U,
				    "size %llu", size + 1);
	}
}

/* Every size 0..32769 gets the smallest class that holds it. */
static void lookup_every_size(struct kunit *test)
{
	unsigned int want = 1, got;
	u64 size, bad = 0;

	KUNIT_EXPECT_EQ(test, gca_size_to_class(0), 0U);
	for (size = 1; size <= GCA_MAX_SMALL_SIZE + 1; size++) {
		while (want < GCA_NUM_SIZE_CLASSES &&
		       gca_class_size[want] < size)
			want++;
		got = gca_size_to_class(size);
		if (got != (want < GCA_NUM_SIZE_CLASSES ? want : 0) &&
		    bad++ < 5)
			KUNIT_FAIL(test, "size %llu: class %u, want %u", size,
				   got, want);
	}
	KUNIT_EXPECT_EQ(test, bad, 0ULL);
}

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

/* =====================================================================
 * Pacer arithmetic
 */

static void pacer_gogc(struct kunit *test)
{
	const u64 m = 10 * MiB, r = 1 * MiB;

	/* GOGC=off: no goal. */
	KUNIT_EXPECT_EQ(test, gca_pacer_goal(m, r, -1, NOLIMIT, 0), U64_MAX);
	KUNIT_EXPECT_EQ(test, gca_pacer_goal(m, r, INT_MIN, 0, 0), U64_MAX);
	/* 0: collect as soon as anything is allocated. */
	KUNIT_EXPECT_EQ(test, gca_pacer_goal(m, r, 0, NOLIMIT, 0), m);
	KUNIT_EXPECT_EQ(test, gca_pacer_goal(m, r, 1, NOLIMIT, 0),
			m + 11 * MiB / 100);
	KUNIT_EXPECT_EQ(test, gca_pacer_goal(m, r, 100, NOLIMIT, 0), 21 * MiB);
	KUNIT_EXPECT_EQ(test, gca_pacer_goal(m, r, 1000000, NOLIMIT, 0),
			m + 11 * MiB * 10000);
	/* Roots count in the base, not in the live heap. */
	KUNIT_EXPECT_EQ(test, gca_pacer_goal(m, 0, 100, NOLIMIT, 0), 2 * m);
	/* The minimum heap, scaled by GOGC. */
	KUNIT_EXPECT_EQ(test, gca_pacer_goal(0, 0, 100, NOLIMIT, 0), 4 * MiB);
	KUNIT_EXPECT_EQ(test, gca_pacer_goal(MiB, 0, 100, NOLIMIT, 0), 4 * MiB);
	KUNIT_EXPECT_EQ(test, gca_pacer_goal(0, 0, 200, NOLIMIT, 0), 8 * MiB);
	KUNIT_EXPECT_EQ(test, gca_pacer_goal(0, 0, 50, NOLIMIT, 0), 2 * MiB);
	KUNIT_EXPECT_EQ(test, gca_pacer_goal(0, 0, 0, NOLIMIT, 0), 0ULL);
	KUNIT_EXPECT_EQ(test, gca_pacer_goal(1, 1, 1000000, NOLIMIT, 0),
			4 * MiB * 10000);
	KUNIT_EXPECT_EQ(test, gca_pacer_goal(3 * MiB, 0, 100, NOLIMIT, 0),
			6 * MiB);
}

static void pacer_memory_limit(struct kunit *test)
{
	const u64 m = 10 * MiB, r = 1 * MiB;
	u64 lg = 21 * MiB - 21 * MiB / 100 * 3;

	/* Below the live heap: the goal is the live heap. */
	KUNIT_EXPECT_EQ(test, gca_pacer_goal(m, r, 100, 5 * MiB, 0), m);
	KUNIT_EXPECT_EQ(test, gca_pacer_goal(m, r, 100, 1, 0), m);
	KUNIT_EXPECT_EQ(test, gca_pacer_goal(m, r, 100, 64 * MiB, 100 * MiB),
			m);	/* the overhead alone is over the limit */
	/* Near: 22 MiB, 1 MiB overhead, 3% headroom: below the GOGC goal. */
	KUNIT_EXPECT_EQ(test, gca_pacer_goal(m, r, 100, 22 * MiB, MiB), lg);
	KUNIT_EXPECT_LT(test, lg, 21 * MiB);
	KUNIT_EXPECT_GT(test, lg, m);
	/* Just above the live heap after headroom. */
	KUNIT_EXPECT_EQ(test, gca_pacer_goal(m, r, 100, m + m / 10, 0),
			m + m / 10 - (m + m / 10) / 100 * 3);
	/* Above: the GOGC goal. */
	KUNIT_EXPECT_EQ(test, gca_pacer_goal(m, r, 100, 1LL << 30, MiB),
			21 * MiB);
	/* GOGC off with a limit: the limit alone. */
	KUNIT_EXPECT_EQ(test, gca_pacer_goal(m, r, -1, 22 * MiB, MiB), lg);
	KUNIT_EXPECT_EQ(test, gca_pacer_goal(m, r, -1, MiB, 0), m);
	/* No limit: <= 0 or GCA_MEMORY_LIMIT_NONE. */
	KUNIT_EXPECT_EQ(test, gca_pacer_goal(m, r, 100, 0, 0), 21 * MiB);
	KUNIT_EXPECT_EQ(test, gca_pacer_goal(m, r, 100, -5, 0), 21 * MiB);
	KUNIT_EXPECT_EQ(test, gca_pacer_goal(m, r, 100, S64_MIN, 0), 21 * MiB);
	KUNIT_EXPECT_EQ(test, gca_pacer_goal(m, r, -1, NOLIMIT, 0), U64_MAX);
	KUNIT_EXPECT_EQ(test, gca_pacer_goal(m, r, -1, 0, 0), U64_MAX);
	/* A huge but real limit is a limit. */
	KUNIT_EXPECT_EQ(test, gca_pacer_goal(m, r, -1, NOLIMIT - 1, 0),
			(u64)(NOLIMIT - 1) - (u64)(NOLIMIT - 1) / 100 * 3);
}

/* Extreme inputs saturate at U64_MAX, or stay exact when they fit. */
static void pacer_saturation(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, gca_pacer_goal(U64_MAX, 0, 100, NOLIMIT, 0),
			U64_MAX);
	KUNIT_EXPECT_EQ(test, gca_pacer_goal(U64_MAX - 1, 0, 1, NOLIMIT, 0),
			U64_MAX);
	KUNIT_EXPECT_EQ(test, gca_pacer_goal(1, U64_MAX, 100, NOLIMIT, 0),
			U64_MAX);
	KUNIT_EXPECT_EQ(test, gca_pacer_goal(U64_MAX / 2, U64_MAX / 2, INT_MAX,
					     NOLIMIT, 0), U64_MAX);
	KUNIT_EXPECT_EQ(test, gca_pacer_goal(1ULL << 40, 0, INT_MAX, NOLIMIT,
					     0), U64_MAX);
	KUNIT_EXPECT_EQ(test, gca_pacer_goal(U64_MAX, U64_MAX, 0, NOLIMIT, 0),
			U64_MAX);
	/* The product overflows, the result does not: still exact. */
	KUNIT_EXPECT_EQ(test, gca_pacer_goal(1ULL << 62, 0, 5, NOLIMIT, 0),
			(1ULL << 62) + (1ULL << 62) / 20);
	/* A saturated GOGC goal under a limit. */
	KUNIT_EXPECT_EQ(test, gca_pacer_goal(1ULL << 40, 0, INT_MAX,
					     S64_MAX - 1, 0),
			(u64)(S64_MAX - 1) - (u64)(S64_MAX - 1) / 100 * 3);
	/* The limit never pushes the goal below marked, even at the top. */
	KUNIT_EXPECT_EQ(test, gca_pacer_goal(U64_MAX, 0, 100, S64_MAX - 1, 0),
			U64_MAX);
	KUNIT_EXPECT_EQ(test, gca_pacer_goal(5, 0, 100, 1 << 30, U64_MAX), 5ULL);
}

static inline u64 gkt_rand(u64 *state)
{
	u64 x = *state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*state = x;
	return x;
}

#ifdef CONFIG_ARCH_SUPPORTS_INT128
/* The formula in 128-bit arithmetic, saturated at the end. */
static u64 ref_goal(u64 marked, u64 roots, int pct, s64 limit, u64 overhead)
{
	unsigned __int128 g = ~(unsigned __int128)0, l, min;

	if (pct >= 0) {
		g = marked + ((unsigned __int128)marked + roots) * pct / 100;
		min = (unsigned __int128)GCA_HEAP_MINIMUM * pct / 100;
		if (g < min)
			g = min;
	}
	if (limit > 0 && limit != NOLIMIT) {
		l = (u64)limit > overhead ? (u64)limit - overhead : 0;
		l -= l / 100 * GCA_LIMIT_HEADROOM_PCT;
		if (l < marked)
			l = marked;
		if (g > l)
			g = l;
	}
	return g > U64_MAX ? U64_MAX : (u64)g;
}

/* Random inputs of every magnitude against the 128-bit formula. */
static void pacer_random_against_int128(struct kunit *test)
{
	static const int pcts[] = { -1, 0, 1, 50, 100, 200, 1000, 1000000,
				    INT_MAX };
	u64 seed = 0xa0761d6478bd642fULL, i, bad = 0;

	for (i = 0; i < 50000; i++) {
		u64 r = gkt_rand(&seed);
		u64 marked = gkt_rand(&seed) >> (r % 64);
		u64 roots = gkt_rand(&seed) >> ((r >> 6) % 64);
		int pct = pcts[(r >> 12) % ARRAY_SIZE(pcts)];
		s64 limit = (s64)(gkt_rand(&seed) >> (1 + (r >> 16) % 63));
		u64 overhead = gkt_rand(&seed) >> ((r >> 22) % 64);
		u64 got, want;

		if ((r >> 28) % 4 == 0)
			limit = (r >> 30) % 2 ? NOLIMIT : -limit;
		got = gca_pacer_goal(marked, roots, pct, limit, overhead);
		want = ref_goal(marked, roots, pct, limit, overhead);
		if ((got != want || got < marked) && bad++ < 5)
			KUNIT_FAIL(test, "goal(%llu, %llu, %d, %lld, %llu) = %llu, want %llu",
				   marked, roots, pct, limit, overhead, got,
				   want);
	}
	KUNIT_EXPECT_EQ(test, bad, 0ULL);
}
#endif

/*
 * The trigger: 7/8 of the runway from the marked heap to the goal, inside
 * Go's [0.7, 0.95]; at the goal when there is no runway; never past it.
 */
static void pacer_trigger(struct kunit *test)
{
	const u64 m = 10 * MiB;
	u64 goal = gca_pacer_goal(m, MiB, 100, NOLIMIT, 0), t;

	KUNIT_ASSERT_EQ(test, goal, 21 * MiB);
	t = gca_pacer_trigger(goal, m);
	KUNIT_EXPECT_EQ(test, t, 21 * MiB - 11 * MiB / 8);
	KUNIT_EXPECT_GE(test, (t - m) * 100, 70 * (goal - m));
	KUNIT_EXPECT_LE(test, (t - m) * 100, 95 * (goal - m));
	/* GOGC=off: no goal, no trigger. */
	KUNIT_EXPECT_EQ(test, gca_pacer_trigger(U64_MAX, 0), U64_MAX);
	KUNIT_EXPECT_EQ(test, gca_pacer_trigger(U64_MAX, U64_MAX - 1), U64_MAX);
	/* The widest runway does not overflow. */
	KUNIT_EXPECT_EQ(test, gca_pacer_trigger(U64_MAX - 1, 0),
			(U64_MAX - 1) - (U64_MAX - 1) / 8);
	/* No runway (GOGC=0, a limit below the heap): the goal. */
	KUNIT_EXPECT_EQ(test, gca_pacer_trigger(0, 0), 0ULL);
	KUNIT_EXPECT_EQ(test, gca_pacer_trigger(m, m), m);
	KUNIT_EXPECT_EQ(test, gca_pacer_trigger(4 * MiB, 6 * MiB), 4 * MiB);
	goal = gca_pacer_goal(m, MiB, 0, NOLIMIT, 0);
	KUNIT_EXPECT_EQ(test, gca_pacer_trigger(goal, m), m);
}

/* =====================================================================
 * Suites
 */

static struct kunit_case gcarena_sizeclass_cases[] = {
	KUNIT_CASE(table_is_gos),
	KUNIT_CASE(lookup_at_every_boundary),
	KUNIT_CASE(lookup_every_size),
	{}
};

static struct kunit_suite gcarena_sizeclass_suite = {
	.name = "gcarena_sizeclass",
	.test_cases = gcarena_sizeclass_cases,
};

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

static struct kunit_case gcarena_pacer_cases[] = {
	KUNIT_CASE(pacer_gogc),
	KUNIT_CASE(pacer_memory_limit),
	KUNIT_CASE(pacer_saturation),
#ifdef CONFIG_ARCH_SUPPORTS_INT128
	KUNIT_CASE(pacer_random_against_int128),
#endif
	KUNIT_CASE(pacer_trigger),
	{}
};

static struct kunit_suite gcarena_pacer_suite = {
	.name = "gcarena_pacer",
	.test_cases = gcarena_pacer_cases,
};

kunit_test_suites(&gcarena_sizeclass_suite, &gcarena_span_suite,
		  &gcarena_pageheap_suite, &gcarena_mark_suite,
		  &gcarena_sweep_suite, &gcarena_pacer_suite);

MODULE_DESCRIPTION("KUnit tests of gcarena's GC core");
MODULE_LICENSE("GPL");
