// SPDX-License-Identifier: GPL-2.0
/*
 * Pacer arithmetic: the GOGC goal at GOGC -1, 0, 1, 100, 1000000, the
 * minimum heap, memory limits below, near and above the live heap,
 * saturation at extreme values, and random inputs against a 128-bit
 * reference.
 */
#include <limits.h>
#include "gca_test.h"
#include "gca_harness.h"

#define MiB	(1ULL << 20)
#define NOLIMIT	GCA_MEMORY_LIMIT_NONE

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

TEST(gogc_values)
{
	const u64 m = 10 * MiB, r = 1 * MiB;

	EXPECT_EQ(U64_MAX, gca_pacer_goal(m, r, -1, NOLIMIT, 0));
	EXPECT_EQ(U64_MAX, gca_pacer_goal(m, r, INT_MIN, 0, 0));
	EXPECT_EQ(m, gca_pacer_goal(m, r, 0, NOLIMIT, 0));
	EXPECT_EQ(m + 11 * MiB / 100, gca_pacer_goal(m, r, 1, NOLIMIT, 0));
	EXPECT_EQ(21 * MiB, gca_pacer_goal(m, r, 100, NOLIMIT, 0));
	EXPECT_EQ(m + 11 * MiB * 10000,
		  gca_pacer_goal(m, r, 1000000, NOLIMIT, 0));
	/* Roots count in the base, not in the live heap. */
	EXPECT_EQ(2 * m, gca_pacer_goal(m, 0, 100, NOLIMIT, 0));
}

TEST(minimum_heap)
{
	EXPECT_EQ(4 * MiB, gca_pacer_goal(0, 0, 100, NOLIMIT, 0));
	EXPECT_EQ(4 * MiB, gca_pacer_goal(1 * MiB, 0, 100, NOLIMIT, 0));
	EXPECT_EQ(8 * MiB, gca_pacer_goal(0, 0, 200, NOLIMIT, 0));
	EXPECT_EQ(2 * MiB, gca_pacer_goal(0, 0, 50, NOLIMIT, 0));
	EXPECT_EQ(0ULL, gca_pacer_goal(0, 0, 0, NOLIMIT, 0));
	EXPECT_EQ(4 * MiB * 10000, gca_pacer_goal(1, 1, 1000000, NOLIMIT, 0));
	/* Above the minimum, the formula wins. */
	EXPECT_EQ(6 * MiB, gca_pacer_goal(3 * MiB, 0, 100, NOLIMIT, 0));
}

TEST(memory_limit)
{
	const u64 m = 10 * MiB, r = 1 * MiB;
	u64 lg;

	/* Below the live heap: the goal is the live heap. */
	EXPECT_EQ(m, gca_pacer_goal(m, r, 100, 5 * MiB, 0));
	EXPECT_EQ(m, gca_pacer_goal(m, r, 100, 1, 0));
	/* Overhead above the limit: the same. */
	EXPECT_EQ(m, gca_pacer_goal(m, r, 100, 64 * MiB, 100 * MiB));
	/* Near: limit 22 MiB, 1 MiB overhead, 3% headroom. */
	lg = 21 * MiB - 21 * MiB / 100 * 3;
	EXPECT_EQ(lg, gca_pacer_goal(m, r, 100, 22 * MiB, 1 * MiB));
	EXPECT_LT(lg, 21 * MiB);	/* lower than the GOGC goal */
	/* Above: the GOGC goal. */
	EXPECT_EQ(21 * MiB, gca_pacer_goal(m, r, 100, 1ULL << 30, 1 * MiB));
	/* GOGC off with a limit: the limit alone. */
	EXPECT_EQ(lg, gca_pacer_goal(m, r, -1, 22 * MiB, 1 * MiB));
	EXPECT_EQ(m, gca_pacer_goal(m, r, -1, 1 * MiB, 0));
	/* No limit: <= 0 or GCA_MEMORY_LIMIT_NONE. */
	EXPECT_EQ(21 * MiB, gca_pacer_goal(m, r, 100, 0, 0));
	EXPECT_EQ(21 * MiB, gca_pacer_goal(m, r, 100, -5, 0));
	EXPECT_EQ(21 * MiB, gca_pacer_goal(m, r, 100, S64_MIN, 0));
	EXPECT_EQ(U64_MAX, gca_pacer_goal(m, r, -1, NOLIMIT, 0));
	EXPECT_EQ(U64_MAX, gca_pacer_goal(m, r, -1, 0, 0));
	/* A huge but real limit is a limit. */
	EXPECT_EQ((u64)(NOLIMIT - 1) - (u64)(NOLIMIT - 1) / 100 * 3,
		  gca_pacer_goal(m, r, -1, NOLIMIT - 1, 0));
}

TEST(saturation)
{
	EXPECT_EQ(U64_MAX, gca_pacer_goal(U64_MAX, 0, 100, NOLIMIT, 0));
	EXPECT_EQ(U64_MAX, gca_pacer_goal(U64_MAX - 1, 0, 1, NOLIMIT, 0));
	EXPECT_EQ(U64_MAX, gca_pacer_goal(1, U64_MAX, 100, NOLIMIT, 0));
	EXPECT_EQ(U64_MAX, gca_pacer_goal(U64_MAX / 2, U64_MAX / 2, INT_MAX,
					  NOLIMIT, 0));
	EXPECT_EQ(U64_MAX, gca_pacer_goal(1ULL << 40, 0, INT_MAX, NOLIMIT, 0));
	EXPECT_EQ(U64_MAX, gca_pacer_goal(U64_MAX, U64_MAX, 0, NOLIMIT, 0));
	/* The product overflows, the result does not: still exact. */
	EXPECT_EQ((1ULL << 62) + (1ULL << 62) / 20,
		  gca_pacer_goal(1ULL << 62, 0, 5, NOLIMIT, 0));
	/* A saturated GOGC goal under a limit. */
	EXPECT_EQ((u64)(S64_MAX - 1) - (u64)(S64_MAX - 1) / 100 * 3,
		  gca_pacer_goal(1ULL << 40, 0, INT_MAX, S64_MAX - 1, 0));
	/* The limit never pushes the goal below marked, even at the top. */
	EXPECT_EQ(U64_MAX, gca_pacer_goal(U64_MAX, 0, 100, S64_MAX - 1, 0));
	EXPECT_EQ(5ULL, gca_pacer_goal(5, 0, 100, 1 << 30, U64_MAX));
}

TEST(random_against_128bit_reference)
{
	static const int pcts[] = { -1, 0, 1, 50, 100, 200, 1000, 1000000,
				    INT_MAX };
	u64 seed = 0xa0761d6478bd642fULL, i, bad = 0;

	for (i = 0; i < 200000; i++) {
		u64 r = ua_rand(&seed);
		unsigned int shift = r % 64;
		u64 marked = ua_rand(&seed) >> shift;
		u64 roots = ua_rand(&seed) >> (r >> 6) % 64;
		int pct = pcts[(r >> 12) % ARRAY_SIZE(pcts)];
		s64 limit = (s64)(ua_rand(&seed) >> (1 + (r >> 16) % 63));
		u64 overhead = ua_rand(&seed) >> (r >> 22) % 64;
		u64 got, want;

		if ((r >> 28) % 4 == 0)
			limit = (r >> 30) % 2 ? NOLIMIT : -limit;
		got = gca_pacer_goal(marked, roots, pct, limit, overhead);
		want = ref_goal(marked, roots, pct, limit, overhead);
		if (got != want && bad++ < 5)
			TH_LOG("goal(%llu, %llu, %d, %lld, %llu) = %llu, want %llu",
			       marked, roots, pct, limit, overhead, got, want);
		/* Never below the live heap. */
		if (got < marked)
			bad++;
	}
	EXPECT_EQ(0ULL, bad);
}

TEST(trigger_is_seven_eighths_of_the_runway)
{
	/* runway 11 MiB: the cycle starts 11/8 MiB before the goal */
	EXPECT_EQ(21 * MiB - 11 * MiB / 8, gca_pacer_trigger(21 * MiB, 10 * MiB));
	EXPECT_EQ(U64_MAX, gca_pacer_trigger(U64_MAX, 0));
	EXPECT_EQ(0ULL, gca_pacer_trigger(0, 0));
	/* a goal at or below the marked heap (GOGC=0): trigger at the goal */
	EXPECT_EQ(5 * MiB, gca_pacer_trigger(5 * MiB, 5 * MiB));
	EXPECT_EQ(4 * MiB, gca_pacer_trigger(4 * MiB, 6 * MiB));
}

TEST_HARNESS_MAIN
