// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suite gcarena_pacer: pacer arithmetic.
 *
 * Part of gcarena_test.ko: kmod/gcarena_test.c includes this file, so
 * that every suite shares its host, its helpers and its copy of the
 * core in one translation unit (see the comment atop that file).
 */

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
