// SPDX-License-Identifier: GPL-2.0
/*
 * gcarena allocation: every size class, scan and noscan; the size to
 * class mapping; the tiny allocator; large objects; zeroed memory, also
 * after the collector freed and the allocator reused it; running out.
 */
#include "gca_test.h"

static const char zeroes[GCA_MAX_SMALL_SIZE];

static bool all_zero(const void *p, size_t len)
{
	const char *c = p;
	size_t n;

	while (len) {
		n = len < sizeof(zeroes) ? len : sizeof(zeroes);
		if (memcmp(c, zeroes, n))
			return false;
		c += n;
		len -= n;
	}
	return true;
}

static int cmp_uptr(const void *x, const void *y)
{
	uintptr_t a = *(const uintptr_t *)x, b = *(const uintptr_t *)y;

	return a < b ? -1 : a > b;
}

FIXTURE(alloc) {
	struct gca_arena *a;
	struct gca_info info;
};

FIXTURE_SETUP(alloc)
{
	ASSERT_EQ(0, raw_get_info(&self->info));
	/* No automatic cycles: objects kept only in malloc()ed arrays. */
	ASSERT_EQ(0, open_arena(&self->a, 512 * SZ_1M, -1));
}

FIXTURE_TEARDOWN(alloc)
{
	gca_close(self->a);
}

/*
 * n objects of a class: in the heap, 8-byte aligned (and aligned to their
 * size when that is a power of two up to a page, as Go guarantees), zeroed,
 * disjoint, packed back to back within a span, and keeping what is written.
 */
static void check_class(struct __test_metadata *_metadata,
			struct gca_arena *a, unsigned int c, size_t size,
			unsigned int nelems, int noscan)
{
	unsigned int i, n = 2 * nelems + 1, packed = 0;
	uintptr_t *p;

	p = calloc(n, sizeof(*p));
	ASSERT_NE(NULL, p);
	for (i = 0; i < n; i++) {
		void *x = noscan ? gca_alloc_noscan(a, size) : gca_alloc(a, size);

		ASSERT_NE(NULL, x) TH_LOG("class %u size %zu noscan %d #%u",
					  c, size, noscan, i);
		p[i] = (uintptr_t)x;
		ASSERT_TRUE(gca_in_heap(a, x));
		EXPECT_EQ(0UL, p[i] % 8);
		if (!(size & (size - 1)) && size <= GCA_PAGE_SIZE)
			EXPECT_EQ(0UL, p[i] % size) TH_LOG("class %u", c);
		EXPECT_TRUE(all_zero(x, size))
			TH_LOG("class %u size %zu noscan %d #%u not zeroed",
			       c, size, noscan, i);
		memset(x, (int)(i + c) | 1, size);
		if (i && p[i] == p[i - 1] + size)
			packed++;
	}
	/* Only span boundaries (at most 3 here) break the packing. */
	EXPECT_LE(n > 4 ? n - 4 : 0, packed)
		TH_LOG("class %u noscan %d", c, noscan);

	for (i = 0; i < n; i++) {
		const unsigned char *x = (const void *)p[i];

		EXPECT_EQ((unsigned char)((i + c) | 1), x[0]);
		EXPECT_EQ((unsigned char)((i + c) | 1), x[size - 1]);
	}
	qsort(p, n, sizeof(*p), cmp_uptr);
	for (i = 1; i < n; i++)
		EXPECT_LE(p[i - 1] + size, p[i]) TH_LOG("class %u overlap", c);
	free(p);
}

TEST_F(alloc, every_class)
{
	unsigned int c, nelems;
	size_t size;
	int noscan;

	for (c = 1; c < GCA_NUM_SIZE_CLASSES; c++) {
		size = self->info.class_to_size[c];
		nelems = self->info.class_to_npages[c] * GCA_PAGE_SIZE / size;
		for (noscan = 0; noscan <= 1; noscan++)
			check_class(_metadata, self->a, c, size, nelems,
				    noscan);
	}
}

/*
 * No object starts at the heap's base address, nor anywhere in the first
 * heap page: the library forms every address from the base, so copies of
 * it sit in registers and on stacks, and to a conservative scan each one
 * would keep the object at offset 0 alive (and checkmark would count it
 * missed when a copy appeared after the stack was scanned).  A fresh
 * arena's first spans and first large object are where it would be.
 */
TEST_F(alloc, nothing_at_heap_base)
{
	uintptr_t base = gca_ctrl(self->a)->heap_base;
	unsigned int c;
	int noscan;
	void *x;

	for (c = 1; c < GCA_NUM_SIZE_CLASSES; c++) {
		for (noscan = 0; noscan <= 1; noscan++) {
			size_t size = self->info.class_to_size[c];

			x = noscan ? gca_alloc_noscan(self->a, size) :
				     gca_alloc(self->a, size);
			ASSERT_NE(NULL, x);
			EXPECT_LE(base + GCA_PAGE_SIZE, (uintptr_t)x)
				TH_LOG("class %u noscan %d at heap offset %lu",
				       c, noscan, (unsigned long)((uintptr_t)x - base));
		}
	}
	x = gca_alloc(self->a, 3 * GCA_PAGE_SIZE);
	ASSERT_NE(NULL, x);
	EXPECT_LE(base + GCA_PAGE_SIZE, (uintptr_t)x);
}

/*
 * Each request size gets the smallest class that fits: consecutive
 * objects of a request are one class size apart (unless a span ends in
 * between), and the request's bytes are all usable.
 */
TEST_F(alloc, size_to_class)
{
	unsigned int c, i, k, nelems;
	size_t req[3], cls;
	uintptr_t x[3];

	for (c = 1; c < GCA_NUM_SIZE_CLASSES; c++) {
		cls = self->info.class_to_size[c];
		nelems = self->info.class_to_npages[c] * GCA_PAGE_SIZE / cls;
		req[0] = self->info.class_to_size[c - 1] + 1;
		req[1] = (req[0] + cls) / 2;
		req[2] = cls;
		for (k = 0; k < 3; k++) {
			/* Pointer-carrying objects: no tiny allocator. */
			for (i = 0; i < 3; i++) {
				x[i] = (uintptr_t)gca_alloc(self->a, req[k]);
				ASSERT_NE(0UL, x[i]);
				memset((void *)x[i], 0x5a + i, req[k]);
			}
			/*
			 * Three consecutive slots cross at most one span
			 * boundary when a span holds two or more objects.
			 * One-object spans are only as close as the page
			 * allocator puts them.
			 */
			if (nelems >= 2)
				EXPECT_TRUE(x[1] - x[0] == cls ||
					    x[2] - x[1] == cls)
					TH_LOG("request %zu: class %u is %zu, got %lu %lu",
					       req[k], c, cls, x[1] - x[0],
					       x[2] - x[1]);
			for (i = 1; i < 3; i++)
				EXPECT_TRUE(x[i] >= x[i - 1] + cls ||
					    x[i - 1] >= x[i] + cls);
			for (i = 0; i < 3; i++) {
				EXPECT_EQ(0x5a + i,
					  ((unsigned char *)x[i])[req[k] - 1]);
				EXPECT_EQ(0x5a + i, ((unsigned char *)x[i])[0]);
			}
		}
	}
}

/* Go's tiny allocator, step by step from an empty tiny block. */
TEST_F(alloc, tiny)
{
	struct gca_arena *a = self->a;
	char *t1, *t2, *t3, *d, *e, *f, *g, *h, *z0, *z1, *s0;

	t1 = gca_alloc_noscan(a, 4);
	ASSERT_NE(NULL, t1);
	EXPECT_EQ(0UL, (uintptr_t)t1 % GCA_TINY_SIZE);
	t2 = gca_alloc_noscan(a, 4);
	EXPECT_EQ(t1 + 4, t2);
	t3 = gca_alloc_noscan(a, 8);		/* aligned to 8 */
	EXPECT_EQ(t1 + 8, t3);

	d = gca_alloc_noscan(a, 1);		/* block full: a new one */
	ASSERT_NE(NULL, d);
	EXPECT_EQ(0UL, (uintptr_t)d % GCA_TINY_SIZE);
	EXPECT_TRUE(d < t1 || d >= t1 + GCA_TINY_SIZE);
	e = gca_alloc_noscan(a, 2);		/* aligned to 2 */
	EXPECT_EQ(d + 2, e);
	f = gca_alloc_noscan(a, 3);		/* odd: no alignment */
	EXPECT_EQ(d + 4, f);
	/* 12 is aligned to 4: 8 + 12 > 16, so a new block; the old one has
	 * more room left (9 bytes > 4) and stays the tiny block. */
	g = gca_alloc_noscan(a, 12);
	ASSERT_NE(NULL, g);
	EXPECT_EQ(0UL, (uintptr_t)g % GCA_TINY_SIZE);
	EXPECT_TRUE(g < d || g >= d + GCA_TINY_SIZE);
	h = gca_alloc_noscan(a, 8);		/* offset 7 -> 8 */
	EXPECT_EQ(d + 8, h);

	/* All zeroed, all usable without overlap. */
	EXPECT_TRUE(all_zero(t1, 16));
	EXPECT_TRUE(all_zero(d, 16));
	EXPECT_TRUE(all_zero(g, 12));
	memset(t1, 1, 4);
	memset(t2, 2, 4);
	memset(t3, 3, 8);
	memset(d, 4, 1);
	memset(e, 5, 2);
	memset(f, 6, 3);
	memset(g, 7, 12);
	memset(h, 8, 8);
	EXPECT_EQ(1, t1[3]);
	EXPECT_EQ(2, t2[0]);
	EXPECT_EQ(3, t3[7]);
	EXPECT_EQ(4, d[0]);
	EXPECT_EQ(5, e[1]);
	EXPECT_EQ(6, f[2]);
	EXPECT_EQ(7, g[11]);
	EXPECT_EQ(8, h[0]);

	/* Size 0 allocates one byte; scan objects never use tiny blocks. */
	z0 = gca_alloc_noscan(a, 0);
	z1 = gca_alloc_noscan(a, 0);
	ASSERT_NE(NULL, z0);
	ASSERT_NE(NULL, z1);
	EXPECT_NE(z0, z1);
	s0 = gca_alloc(a, 0);
	ASSERT_NE(NULL, s0);
	EXPECT_EQ(0UL, (uintptr_t)s0 % 8);
	EXPECT_TRUE(s0 + 8 <= d || s0 >= d + GCA_TINY_SIZE);
	EXPECT_EQ(0, *s0);
}

/* Many tiny objects: zeroed, in the heap, distinct. */
TEST_F(alloc, tiny_many)
{
	char *prev = NULL, *x;
	size_t sz;
	int i;

	for (i = 0; i < 10000; i++) {
		sz = 1 + i % 15;
		x = gca_alloc_noscan(self->a, sz);
		ASSERT_NE(NULL, x);
		ASSERT_TRUE(gca_in_heap(self->a, x));
		ASSERT_TRUE(all_zero(x, sz)) TH_LOG("tiny #%d", i);
		memset(x, 0xee, sz);
		EXPECT_NE(prev, x);
		prev = x;
	}
}

TEST_F(alloc, large)
{
	static const size_t sizes[] = { 40 * SZ_1K, SZ_1M, SZ_64M };
	struct gca_arena *a = self->a;
	struct gca_memstats before, after;
	uintptr_t p[2 * 3];
	unsigned int i, j, n = 0;
	int noscan;

	for (i = 0; i < 3; i++) {
		for (noscan = 0; noscan <= 1; noscan++) {
			size_t size = sizes[i];
			unsigned char *x;

			ASSERT_EQ(0, gca_read_memstats(a, &before));
			x = noscan ? gca_alloc_noscan(a, size) :
				     gca_alloc(a, size);
			ASSERT_NE(NULL, x) TH_LOG("size %zu", size);
			ASSERT_EQ(0, gca_read_memstats(a, &after));
			EXPECT_LE(before.heap_alloc + size, after.heap_alloc);
			EXPECT_LT(before.mallocs, after.mallocs);

			EXPECT_TRUE(gca_in_heap(a, x));
			EXPECT_TRUE(gca_in_heap(a, x + size - 1));
			EXPECT_EQ(0UL, (uintptr_t)x % GCA_PAGE_SIZE);
			/* The 64 MiB ones: every page is checked, but only
			 * the scanned one is written all over. */
			EXPECT_TRUE(all_zero(x, size)) TH_LOG("size %zu", size);
			if (size < SZ_64M || !noscan) {
				memset(x, 0x3c + n, size);
			} else {
				x[0] = 0x3c + n;
				x[size - 1] = 0x3c + n;
			}
			p[n++] = (uintptr_t)x;
		}
	}
	for (i = 0; i < n; i++) {
		size_t size = sizes[i / 2];
		unsigned char *x = (void *)p[i];

		EXPECT_EQ(0x3c + i, x[0]);
		EXPECT_EQ(0x3c + i, x[size - 1]);
		for (j = 0; j < n; j++)
			if (j != i)
				EXPECT_TRUE(p[j] + sizes[j / 2] <= p[i] ||
					    p[j] >= p[i] + size);
	}

}

/* Just above the small limit is large too. */
TEST_F(alloc, just_large)
{
	unsigned char *x = gca_alloc(self->a, GCA_MAX_SMALL_SIZE + 1);

	ASSERT_NE(NULL, x);
	EXPECT_EQ(0UL, (uintptr_t)x % GCA_PAGE_SIZE);
	EXPECT_TRUE(all_zero(x, GCA_MAX_SMALL_SIZE + 1));
}

/*
 * Fill n objects of size with junk and drop them, remembering their
 * addresses in unscanned memory.
 */
static noinline int fill_and_drop(struct gca_arena *a, size_t size,
				  unsigned int n, int noscan, uintptr_t *addrs)
{
	unsigned int i;
	void *x;

	for (i = 0; i < n; i++) {
		x = noscan ? gca_alloc_noscan(a, size) : gca_alloc(a, size);
		if (!x)
			return -1;
		memset(x, 0xab, size);
		addrs[i] = (uintptr_t)x;
	}
	return 0;
}

TEST_F(alloc, zeroed_after_reuse)
{
	static const struct { size_t size; unsigned int n; int noscan; } t[] = {
		{ 8, 3000, 0 }, { 16, 3000, 1 }, { 48, 2000, 0 },
		{ 1024, 200, 1 }, { 4096, 64, 0 }, { 32768, 16, 1 },
		{ 40 * 1024, 16, 0 }, { 300 * 1024, 4, 1 },
	};
	struct gca_arena *a = self->a;
	unsigned int i, k, reused_total = 0;

	for (k = 0; k < sizeof(t) / sizeof(t[0]); k++) {
		unsigned int n = t[k].n, reused = 0;
		uintptr_t *old;

		old = calloc(n, sizeof(*old));
		ASSERT_NE(NULL, old);
		ASSERT_EQ(0, fill_and_drop(a, t[k].size, n, t[k].noscan,
					   old));
		qsort(old, n, sizeof(*old), cmp_uptr);
		clear_stack();
		ASSERT_EQ(0, gca_collect(a));

		for (i = 0; i < n; i++) {
			uintptr_t x = (uintptr_t)(t[k].noscan ?
				gca_alloc_noscan(a, t[k].size) :
				gca_alloc(a, t[k].size));

			ASSERT_NE(0UL, x);
			ASSERT_TRUE(all_zero((void *)x, t[k].size))
				TH_LOG("size %zu #%u: old data", t[k].size, i);
			if (bsearch(&x, old, n, sizeof(*old), cmp_uptr))
				reused++;
			/* Dirty again: a later round may reuse it. */
			memset((void *)x, 0xab, t[k].size);
		}
		TH_LOG("size %zu: %u of %u addresses reused", t[k].size,
		       reused, n);
		reused_total += reused;
		free(old);
	}
	/* Freed memory is handed out again (first fit in a fresh heap). */
	EXPECT_LT(0U, reused_total);
}

TEST_F(alloc, out_of_memory)
{
	struct gca_arena *b;
	void *x;

	ASSERT_EQ(0, open_arena(&b, 64 * SZ_1M, GCA_TEST_DEFAULT));
	errno = 0;
	x = gca_alloc(b, 128 * SZ_1M);
	EXPECT_EQ(NULL, x);
	EXPECT_EQ(ENOMEM, errno);
	errno = 0;
	x = gca_alloc_noscan(b, SIZE_MAX - 4096);
	EXPECT_EQ(NULL, x);
	EXPECT_NE(0, errno);

	/* Still usable. */
	x = gca_alloc(b, 16 * SZ_1M);
	EXPECT_NE(NULL, x);
	x = gca_alloc(b, 100);
	EXPECT_NE(NULL, x);
	gca_close(b);
}

/*
 * Four times the heap in garbage, with the pacer on: the collector keeps
 * up and no allocation fails.
 */
/*
 * A small class that finds the heap full fails with ENOMEM, and keeps
 * failing with ENOMEM (not some other error) while nothing is freed; a
 * cycle then makes room and the class allocates again.  The kernel used
 * to take the full span back before it looked for a new one, and the
 * library's next refill gave back a span that was no longer its own.
 */
TEST_F(alloc, small_class_when_heap_full)
{
	struct gca_arena *b;
	unsigned int i;
	void *x;

	ASSERT_EQ(0, open_arena(&b, 16 * SZ_1M, -1));
	/* Garbage at once: only this frame's x refers to anything. */
	for (i = 0; i < 32 * 1024; i++) {
		x = gca_alloc(b, 1024);
		if (!x)
			break;
	}
	ASSERT_EQ(NULL, x);
	EXPECT_EQ(ENOMEM, errno);
	for (i = 0; i < 3; i++) {
		errno = 0;
		EXPECT_EQ(NULL, gca_alloc(b, 1024));
		EXPECT_EQ(ENOMEM, errno) TH_LOG("attempt %u: %s", i,
						 strerror(errno));
	}
	ASSERT_EQ(0, gca_collect(b));
	EXPECT_NE(NULL, gca_alloc(b, 1024));
	gca_close(b);
}

TEST_F_TIMEOUT(alloc, garbage_exceeds_heap, 600)
{
	struct gca_arena *b;
	struct gca_memstats ms;

	ASSERT_EQ(0, open_arena(&b, 64 * SZ_1M, 100));
	ASSERT_EQ(0, churn(b, 1024, 256 * 1024, 0));
	ASSERT_EQ(0, churn(b, 48 * SZ_1K, 1024, 1));
	ASSERT_EQ(0, gca_read_memstats(b, &ms));
	EXPECT_LE(4U, ms.num_gc);
	EXPECT_LE(256 * SZ_1M, ms.total_alloc);
	gca_close(b);
}

TEST_HARNESS_MAIN
