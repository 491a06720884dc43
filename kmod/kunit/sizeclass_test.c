// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suite gcarena_sizeclass: size classes.
 *
 * Part of gcarena_test.ko: kmod/gcarena_test.c includes this file, so
 * that every suite shares its host, its helpers and its copy of the
 * core in one translation unit (see the comment atop that file).
 */

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
