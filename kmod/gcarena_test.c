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
 * The suites are in kunit/, a file each, included below: this file holds
 * what they share.
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
 * The suites, one file each
 */
#include "kunit/sizeclass_test.c"
#include "kunit/span_test.c"
#include "kunit/pageheap_test.c"
#include "kunit/mark_test.c"
#include "kunit/sweep_test.c"
#include "kunit/pacer_test.c"

kunit_test_suites(&gcarena_sizeclass_suite, &gcarena_span_suite,
		  &gcarena_pageheap_suite, &gcarena_mark_suite,
		  &gcarena_sweep_suite, &gcarena_pacer_suite);

MODULE_DESCRIPTION("KUnit tests of gcarena's GC core");
MODULE_LICENSE("GPL");
