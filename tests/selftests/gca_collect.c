// SPDX-License-Identifier: GPL-2.0
/*
 * gcarena collection: what is reachable from the stack and from root
 * ranges survives, with its contents, while the memory around it is
 * reused; what is not is freed and shows in the statistics; noscan
 * objects are not scanned; interior pointers keep objects alive.
 *
 * Conservative scanning is made deterministic by building and dropping
 * structures in out-of-line helpers and zeroing the dead stack below the
 * caller (clear_stack()) before collecting.  Automatic cycles are off:
 * every cycle here is a gca_collect().
 */
#include "gca_test.h"

#define SALT_LIST	0x1157ULL
#define SALT_TREE	0x7e3eULL
#define SALT_ROOT	0x4007ULL

#define NODE_SIZE	sizeof(struct node)	/* 32 bytes, a class of its own */

FIXTURE(collect) {
	struct gca_arena *a;
};

FIXTURE_SETUP(collect)
{
	ASSERT_EQ(0, open_arena(&self->a, 256 * SZ_1M, -1));
}

FIXTURE_TEARDOWN(collect)
{
	gca_close(self->a);
}

/* What 90% of n objects of a size is, in objects and in bytes. */
#define NINETY(n)	((n) * 9 / 10)

TEST_F(collect, counts)
{
	struct gca_arena *a = self->a;
	struct gca_memstats m0, m1;
	unsigned int latest;
	int i;

	ASSERT_EQ(0, gca_read_memstats(a, &m0));
	EXPECT_EQ(0U, m0.num_gc);
	for (i = 1; i <= 3; i++) {
		ASSERT_EQ(0, gca_collect(a));
		ASSERT_EQ(0, gca_read_memstats(a, &m1));
		/* Nothing else starts cycles here: exactly one each. */
		EXPECT_EQ(m0.num_gc + i, m1.num_gc);
		EXPECT_EQ(m0.num_forced_gc + i, m1.num_forced_gc);
		EXPECT_EQ((uint64_t)m1.num_gc, gca_num_gc(a));
	}
	latest = (m1.num_gc + GCA_NUM_PAUSE - 1) % GCA_NUM_PAUSE;
	EXPECT_LT(0ULL, m1.pause_ns[latest]);
	EXPECT_LT(0ULL, m1.pause_end[latest]);
	EXPECT_EQ(m1.last_gc, m1.pause_end[latest]);
	EXPECT_LE(m1.pause_ns[latest] + m1.pause_ns[latest - 1] +
		  m1.pause_ns[latest - 2], m1.pause_total_ns);
	/* last_gc is wall-clock time, as Go's: after 2020, before 2100. */
	EXPECT_LT(1577836800ULL * 1000000000ULL, m1.last_gc);
	EXPECT_GT(4102444800ULL * 1000000000ULL, m1.last_gc);
	EXPECT_EQ(-1, m1.gc_percent);
	EXPECT_EQ(GCA_MEMORY_LIMIT_NONE, m1.memory_limit);
	EXPECT_LE(0.0, m1.gc_cpu_fraction);
	EXPECT_GE(1.0, m1.gc_cpu_fraction);
}

/*
 * A list and a tree held only by local variables (stack or registers)
 * survive 50 cycles intact while freed memory of the same size class is
 * reused (and dirtied) between cycles.
 */
TEST_F_TIMEOUT(collect, stack_roots_survive, 120)
{
	struct gca_arena *a = self->a;
	struct node *list, *tree;
	uint64_t next = 1;
	int i;

	list = build_list(a, 10000, 1, SALT_LIST);
	ASSERT_NE(NULL, list);
	tree = build_tree(a, 14, &next, SALT_TREE);
	ASSERT_NE(NULL, tree);
	ASSERT_EQ(16384ULL, next);

	for (i = 0; i < 50; i++) {
		ASSERT_EQ(0, gca_collect(a)) TH_LOG("cycle %d", i);
		ASSERT_EQ(10000ULL, check_list(list, 1, SALT_LIST))
			TH_LOG("list broken after cycle %d", i);
		next = 1;
		ASSERT_EQ(16383ULL, check_tree(tree, 14, &next, SALT_TREE))
			TH_LOG("tree broken after cycle %d", i);
		ASSERT_EQ(0, churn(a, NODE_SIZE, 5000, 0));
		ASSERT_EQ(0, churn(a, NODE_SIZE, 1000, 1));
	}
}

/* Lists of 10 nodes in each slot of a root table, stored with gca_store. */
__test_helper int fill_table(struct gca_arena *a, void **table,
			     unsigned int nslots)
{
	struct node *l;
	unsigned int i;

	for (i = 0; i < nslots; i++) {
		l = build_list(a, 10, 1 + 10ULL * i, SALT_ROOT);
		if (!l)
			return -1;
		gca_store(a, &table[i], l);
	}
	return 0;
}

__test_helper unsigned int check_table(void **table, unsigned int nslots)
{
	unsigned int i, good = 0;

	for (i = 0; i < nslots; i++)
		if (check_list(gca_load(&table[i]), 1 + 10ULL * i,
			       SALT_ROOT) == 10)
			good++;
	return good;
}

/*
 * Structures reachable only from a malloc()ed table survive while the
 * table is a root range, and are freed once it is not.
 */
TEST_F_TIMEOUT(collect, root_range, 120)
{
	const unsigned int nslots = 1000;
	struct gca_arena *a = self->a;
	struct gca_memstats kept, gone;
	void **table;
	int i;

	table = calloc(nslots, sizeof(*table));
	ASSERT_NE(NULL, table);
	ASSERT_EQ(0, gca_add_roots(a, table, nslots * sizeof(*table)));
	ASSERT_EQ(0, fill_table(a, table, nslots));
	clear_stack();

	for (i = 0; i < 50; i++) {
		ASSERT_EQ(0, gca_collect(a));
		ASSERT_EQ(nslots, check_table(table, nslots))
			TH_LOG("cycle %d", i);
		ASSERT_EQ(0, churn(a, NODE_SIZE, 2000, 0));
	}
	ASSERT_EQ(0, gca_collect(a));
	ASSERT_EQ(0, gca_read_memstats(a, &kept));

	/* The table still holds the pointers, but is no root any more. */
	ASSERT_EQ(0, gca_remove_roots(a, table));
	EXPECT_EQ(-ENOENT, gca_remove_roots(a, table));
	clear_stack();
	ASSERT_EQ(0, gca_collect(a));
	ASSERT_EQ(0, gca_read_memstats(a, &gone));
	EXPECT_LE(kept.frees + NINETY(10ULL * nslots), gone.frees);
	EXPECT_LE(gone.heap_alloc + NINETY(10ULL * nslots) * NODE_SIZE,
		  kept.heap_alloc);
	free(table);
}

TEST_F(collect, root_range_errors)
{
	struct gca_arena *a = self->a;
	static char buf[256];

	EXPECT_EQ(-EINVAL, gca_add_roots(a, buf, 0));
	EXPECT_EQ(-ENOENT, gca_remove_roots(a, buf));
	ASSERT_EQ(0, gca_add_roots(a, buf, sizeof(buf)));
	EXPECT_EQ(-EEXIST, gca_add_roots(a, buf, sizeof(buf)));
	EXPECT_EQ(0, gca_remove_roots(a, buf));
	/* A range may name memory that is not mapped: it is skipped. */
	ASSERT_EQ(0, gca_add_roots(a, (void *)(uintptr_t)0x10000, 4096));
	EXPECT_EQ(0, gca_collect(a));
	EXPECT_EQ(0, gca_remove_roots(a, (void *)(uintptr_t)0x10000));
}

/*
 * Build a list and a tree, see them survive a cycle, note the statistics
 * with them alive, and drop them.
 */
__test_helper int build_keep_drop(struct gca_arena *a,
				  struct gca_memstats *kept)
{
	struct node *list, *tree;
	uint64_t next = 1;

	list = build_list(a, 20000, 1, SALT_LIST);
	tree = build_tree(a, 14, &next, SALT_TREE);
	if (!list || !tree)
		return -1;
	if (gca_collect(a) || gca_read_memstats(a, kept))
		return -2;
	next = 1;
	if (check_list(list, 1, SALT_LIST) != 20000 ||
	    check_tree(tree, 14, &next, SALT_TREE) != 16383)
		return -3;
	return 0;
}

TEST_F(collect, dropped_structures_freed)
{
	const uint64_t n = 20000 + 16383;
	struct gca_arena *a = self->a;
	struct gca_memstats kept, gone;

	ASSERT_EQ(0, build_keep_drop(a, &kept));
	EXPECT_LE(n * NODE_SIZE, kept.heap_alloc);
	EXPECT_LE(n, kept.heap_objects);

	clear_stack();
	ASSERT_EQ(0, gca_collect(a));
	ASSERT_EQ(0, gca_read_memstats(a, &gone));
	TH_LOG("freed %" PRIu64 " of %" PRIu64 " objects, heap_alloc %" PRIu64
	       " -> %" PRIu64, gone.frees - kept.frees, n, kept.heap_alloc,
	       gone.heap_alloc);
	EXPECT_LE(kept.frees + NINETY(n), gone.frees);
	EXPECT_LE(gone.heap_alloc + NINETY(n) * NODE_SIZE, kept.heap_alloc);
	EXPECT_LE(gone.heap_objects + NINETY(n), kept.heap_objects);
	EXPECT_EQ(gone.mallocs - gone.frees, gone.heap_objects);
}

/*
 * A 1 MiB scanned target referenced only from a 64-byte holder: from a
 * noscan holder the reference is invisible, from a scan holder it counts.
 * Returns the holder; *with_target: heap_alloc with the target allocated.
 */
__test_helper void *make_holder(struct gca_arena *a, int noscan,
				struct gca_memstats *with_target)
{
	void *holder, *target;

	holder = noscan ? gca_alloc_noscan(a, 64) : gca_alloc(a, 64);
	target = gca_alloc(a, SZ_1M);
	if (!holder || !target)
		return NULL;
	memset(target, 0x5c, SZ_1M);
	if (noscan)
		memcpy(holder, &target, sizeof(target));
	else
		gca_store(a, holder, target);
	if (gca_read_memstats(a, with_target))
		return NULL;
	return holder;
}

TEST_F(collect, noscan_not_scanned)
{
	struct gca_arena *a = self->a;
	struct gca_memstats with, after;
	unsigned char *target;
	void *holder;
	size_t i;

	/* Scanned holder: the target stays, contents intact. */
	holder = make_holder(a, 0, &with);
	ASSERT_NE(NULL, holder);
	clear_stack();
	ASSERT_EQ(0, gca_collect(a));
	ASSERT_EQ(0, churn(a, SZ_1M, 4, 0));
	ASSERT_EQ(0, gca_collect(a));
	ASSERT_EQ(0, gca_read_memstats(a, &after));
	EXPECT_LE(with.heap_alloc, after.heap_alloc + 64 * SZ_1K);
	target = gca_load(holder);
	for (i = 0; i < SZ_1M; i += 4096)
		ASSERT_EQ(0x5c, target[i]) TH_LOG("offset %zu", i);
	target = NULL;

	/* Noscan holder: the only reference is not seen. */
	holder = make_holder(a, 1, &with);
	ASSERT_NE(NULL, holder);
	clear_stack();
	ASSERT_EQ(0, gca_collect(a));
	ASSERT_EQ(0, gca_read_memstats(a, &after));
	EXPECT_LE(after.heap_alloc + SZ_1M - 64 * SZ_1K, with.heap_alloc)
		TH_LOG("heap_alloc %" PRIu64 " -> %" PRIu64, with.heap_alloc,
		       after.heap_alloc);
	/* The holder itself is alive (it is on our stack). */
	EXPECT_TRUE(gca_in_heap(a, holder));
}

/*
 * An object held only through a pointer into its middle: it survives
 * with its contents while same-sized garbage is churned through.
 */
__test_helper char *make_interior(struct gca_arena *a, size_t size,
				  size_t off, int c)
{
	char *p = gca_alloc(a, size);

	if (!p)
		return NULL;
	memset(p, c, size);
	return p + off;
}

__test_helper int check_fill(const char *p, size_t size, int c)
{
	size_t i;

	for (i = 0; i < size; i++)
		if (p[i] != (char)c)
			return -1;
	return 0;
}

/* Keep phase of interior_pointer; *kept: statistics with both alive. */
__test_helper int interior_keep(struct __test_metadata *_metadata,
				struct gca_arena *a, struct gca_memstats *kept)
{
	char *mid_large, *mid_small, *end_small;
	int i;

	mid_large = make_interior(a, SZ_1M, SZ_1M / 2 + 3, 0x11);
	mid_small = make_interior(a, 1024, 500, 0x22);
	end_small = make_interior(a, 1024, 1023, 0x33);
	if (!mid_large || !mid_small || !end_small)
		return -1;
	clear_stack();
	for (i = 0; i < 3; i++) {
		if (gca_collect(a))
			return -2;
		if (churn(a, SZ_1M, 3, 0) || churn(a, 1024, 2000, 0))
			return -3;
	}
	if (gca_collect(a) || gca_read_memstats(a, kept))
		return -2;
	EXPECT_EQ(0, check_fill(mid_large - (SZ_1M / 2 + 3), SZ_1M, 0x11));
	EXPECT_EQ(0, check_fill(mid_small - 500, 1024, 0x22));
	EXPECT_EQ(0, check_fill(end_small - 1023, 1024, 0x33));
	return 0;
}

TEST_F(collect, interior_pointer)
{
	struct gca_arena *a = self->a;
	struct gca_memstats kept, gone;

	ASSERT_EQ(0, interior_keep(_metadata, a, &kept));
	/* Dropped now: the large one goes. */
	clear_stack();
	ASSERT_EQ(0, gca_collect(a));
	ASSERT_EQ(0, gca_read_memstats(a, &gone));
	EXPECT_LE(gone.heap_alloc + SZ_1M, kept.heap_alloc);
}

TEST_HARNESS_MAIN
