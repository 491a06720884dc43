// SPDX-License-Identifier: GPL-2.0
/*
 * gcarena's pacer (Go's): allocation alone starts cycles; the heap goal
 * after a cycle is marked + (marked + roots) * GOGC / 100, at least 4 MiB
 * scaled by GOGC; a memory limit lowers it, never below the marked heap;
 * GOGC off means no automatic cycle while gca_collect() still works.
 */
#include "gca_test.h"

#define LIVE_OBJS	16384
#define LIVE_SIZE	1024		/* 16 MiB live in all */

/* The module's gc_percent, which arenas without their own follow. */
static int module_gc_percent(void)
{
	char buf[32];
	int64_t v;

	if (read_file(GCA_SYSFS_PARAMS "/gc_percent", buf, sizeof(buf)) < 0 ||
	    parse_s64(buf, &v))
		return -1000;
	return (int)v;
}

/*
 * 16 MiB of live objects in a scanned array of pointers, itself a large
 * object, returned to the caller who keeps it on its stack.
 */
__test_helper void **make_live(struct gca_arena *a)
{
	void **arr = gca_alloc(a, LIVE_OBJS * sizeof(void *));
	unsigned int i;
	void *p;

	if (!arr)
		return NULL;
	for (i = 0; i < LIVE_OBJS; i++) {
		p = gca_alloc_noscan(a, LIVE_SIZE);
		if (!p)
			return NULL;
		gca_store(a, &arr[i], p);
	}
	return arr;
}

TEST(allocation_starts_cycles)
{
	struct gca_memstats m0, m1;
	struct gca_arena *a;

	ASSERT_EQ(0, open_arena(&a, 256 * SZ_1M, 100));
	ASSERT_EQ(0, gca_read_memstats(a, &m0));
	ASSERT_EQ(0, churn(a, 1024, 64 * 1024, 0));	/* 64 MiB */
	ASSERT_EQ(0, gca_read_memstats(a, &m1));
	TH_LOG("64 MiB of garbage: %u cycles, heap_sys %" PRIu64 " KiB",
	       m1.num_gc - m0.num_gc, m1.heap_sys >> 10);
	EXPECT_LE(m0.num_gc + 3, m1.num_gc);
	/* None of them asked for. */
	EXPECT_EQ(m0.num_forced_gc, m1.num_forced_gc);
	/*
	 * Garbage is reused, not piled up: less heap than garbage made.
	 * How much less depends on how fast the collector runs beside the
	 * mutator, which a busy host decides (32 MiB was reached with
	 * three VMs on two cores); make bench measures the heap's peak.
	 */
	EXPECT_GT(64 * SZ_1M, m1.heap_sys);
	EXPECT_LE(m1.gc_trigger, m1.next_gc);
	gca_close(a);
}

TEST(goal_is_twice_marked)
{
	struct gca_memstats ms;
	struct gca_arena *a;
	void **live;

	ASSERT_EQ(0, open_arena(&a, 256 * SZ_1M, 100));
	live = make_live(a);
	ASSERT_NE(NULL, live);
	ASSERT_EQ(0, gca_collect(a));
	ASSERT_EQ(0, gca_read_memstats(a, &ms));
	TH_LOG("marked %" PRIu64 " KiB, next_gc %" PRIu64 " KiB",
	       ms.heap_marked >> 10, ms.next_gc >> 10);
	EXPECT_LE((uint64_t)LIVE_OBJS * LIVE_SIZE, ms.heap_marked);
	/* 2 x marked, plus the roots scanned (a few KiB of stack). */
	EXPECT_LE(2 * ms.heap_marked, ms.next_gc);
	EXPECT_GE(2 * ms.heap_marked + 2 * SZ_1M, ms.next_gc);
	EXPECT_LE(ms.heap_marked, ms.gc_trigger);
	EXPECT_LE(ms.gc_trigger, ms.next_gc);
	EXPECT_NE(NULL, gca_load(&live[LIVE_OBJS - 1]));
	gca_close(a);
}

TEST(goal_minimum)
{
	struct gca_memstats ms;
	struct gca_arena *a;

	ASSERT_EQ(0, open_arena(&a, 64 * SZ_1M, 100));
	ASSERT_EQ(0, gca_collect(a));
	ASSERT_EQ(0, gca_read_memstats(a, &ms));
	EXPECT_LE(SZ_4M, ms.next_gc);
	EXPECT_GE(SZ_4M + SZ_1M, ms.next_gc);

	/* The minimum scales with GOGC, as Go's heapMinimum. */
	EXPECT_EQ(100, gca_set_gc_percent(a, 200));
	ASSERT_EQ(0, gca_collect(a));
	ASSERT_EQ(0, gca_read_memstats(a, &ms));
	EXPECT_LE(2 * SZ_4M, ms.next_gc);
	EXPECT_GE(2 * SZ_4M + SZ_1M, ms.next_gc);
	gca_close(a);
}

TEST(memory_limit_lowers_goal)
{
	struct gca_memstats ms, lim;
	struct gca_arena *a;
	void **live;

	ASSERT_EQ(0, open_arena(&a, 256 * SZ_1M, 100));
	live = make_live(a);
	ASSERT_NE(NULL, live);
	ASSERT_EQ(0, gca_collect(a));
	ASSERT_EQ(0, gca_read_memstats(a, &ms));
	ASSERT_LE(30 * SZ_1M, ms.next_gc);

	/* 24 MiB: under the GOGC goal, above what is live. */
	EXPECT_EQ(GCA_MEMORY_LIMIT_NONE,
		  gca_set_memory_limit(a, 24 * SZ_1M));
	EXPECT_EQ((int64_t)(24 * SZ_1M), gca_set_memory_limit(a, -1));
	ASSERT_EQ(0, gca_read_memstats(a, &lim));
	EXPECT_EQ((int64_t)(24 * SZ_1M), lim.memory_limit);
	EXPECT_GT(ms.next_gc, lim.next_gc);
	EXPECT_GE(24 * SZ_1M, lim.next_gc);
	EXPECT_LE(lim.heap_marked, lim.next_gc);

	/* Still so after a cycle. */
	ASSERT_EQ(0, gca_collect(a));
	ASSERT_EQ(0, gca_read_memstats(a, &lim));
	TH_LOG("limit 24 MiB: next_gc %" PRIu64 " KiB (was %" PRIu64 " KiB)",
	       lim.next_gc >> 10, ms.next_gc >> 10);
	EXPECT_GE(24 * SZ_1M, lim.next_gc);
	EXPECT_LE(lim.heap_marked, lim.next_gc);

	/* A limit under the live heap: the goal is the marked heap. */
	EXPECT_EQ((int64_t)(24 * SZ_1M), gca_set_memory_limit(a, 8 * SZ_1M));
	ASSERT_EQ(0, gca_read_memstats(a, &lim));
	EXPECT_LE(lim.heap_marked, lim.next_gc);
	EXPECT_GE(lim.heap_marked + SZ_1M, lim.next_gc);

	/* Lifted: back to the GOGC goal. */
	EXPECT_EQ((int64_t)(8 * SZ_1M),
		  gca_set_memory_limit(a, GCA_MEMORY_LIMIT_NONE));
	ASSERT_EQ(0, gca_collect(a));
	ASSERT_EQ(0, gca_read_memstats(a, &lim));
	EXPECT_LE(2 * lim.heap_marked, lim.next_gc);
	EXPECT_NE(NULL, gca_load(&live[0]));
	gca_close(a);
}

TEST(gc_off)
{
	struct gca_memstats m0, m1, m2;
	struct gca_arena *a;

	ASSERT_EQ(0, open_arena(&a, 256 * SZ_1M, -1));
	ASSERT_EQ(0, gca_read_memstats(a, &m0));
	EXPECT_EQ(-1, m0.gc_percent);
	EXPECT_LT(1ULL << 40, m0.next_gc);
	ASSERT_EQ(0, churn(a, 1024, 64 * 1024, 0));	/* 64 MiB */
	ASSERT_EQ(0, gca_read_memstats(a, &m1));
	EXPECT_EQ(m0.num_gc, m1.num_gc);
	EXPECT_LE(60 * SZ_1M, m1.heap_alloc);

	/* Explicit cycles still run, and free the garbage. */
	clear_stack();
	ASSERT_EQ(0, gca_collect(a));
	ASSERT_EQ(0, gca_read_memstats(a, &m2));
	EXPECT_EQ(m1.num_gc + 1, m2.num_gc);
	EXPECT_LE(m2.heap_alloc + 58 * SZ_1M, m1.heap_alloc);
	gca_close(a);
}

TEST(set_gc_percent)
{
	struct gca_memstats m0, m1;
	struct gca_arena *a;
	int mod = module_gc_percent();

	ASSERT_LE(-1, mod) TH_LOG("cannot read the module's gc_percent");
	ASSERT_EQ(0, open_arena(&a, 256 * SZ_1M, GCA_TEST_DEFAULT));

	/* Off: no cycle for 32 MiB of garbage. */
	EXPECT_EQ(mod, gca_set_gc_percent(a, -1));
	ASSERT_EQ(0, gca_read_memstats(a, &m0));
	ASSERT_EQ(0, churn(a, 512, 64 * 1024, 1));
	ASSERT_EQ(0, gca_read_memstats(a, &m1));
	EXPECT_EQ(m0.num_gc, m1.num_gc);

	/*
	 * On again: the pile of garbage starts a cycle by itself, at the
	 * next allocation; it ends when the collector gets the CPU to end
	 * it, which a busy host may delay past the allocations: wait.
	 */
	EXPECT_EQ(-1, gca_set_gc_percent(a, 100));
	ASSERT_EQ(0, churn(a, 512, 16 * 1024, 1));
	ASSERT_EQ(0, gca_read_memstats(a, &m1));
	if (m1.num_gc == m0.num_gc) {
		EXPECT_EQ(1, gca_wait_cycle(a, 120000));
		ASSERT_EQ(0, gca_read_memstats(a, &m1));
	}
	EXPECT_LT(m0.num_gc, m1.num_gc);
	EXPECT_EQ(m0.num_forced_gc, m1.num_forced_gc);

	/* A bad value is refused and changes nothing. */
	EXPECT_EQ(-EINVAL, gca_set_gc_percent(a, -2));
	EXPECT_EQ(100, gca_set_gc_percent(a, 100));
	EXPECT_EQ(GCA_MEMORY_LIMIT_NONE, gca_set_memory_limit(a, 64 * SZ_1M));
	EXPECT_EQ((int64_t)(64 * SZ_1M),
		  gca_set_memory_limit(a, GCA_MEMORY_LIMIT_NONE));

	/* Back to the module's value. */
	EXPECT_EQ(100, gca_reset_gc_percent(a));
	ASSERT_EQ(0, gca_read_memstats(a, &m1));
	EXPECT_EQ(mod, m1.gc_percent);
	EXPECT_EQ(GCA_MEMORY_LIMIT_NONE, gca_reset_memory_limit(a));
	gca_close(a);
}

TEST_HARNESS_MAIN
