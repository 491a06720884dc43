// SPDX-License-Identifier: GPL-2.0
/*
 * Size classes: Go's table, the lookup at every boundary, objects per
 * span, Go's waste bounds, and the divMul slot index.
 */
#include "gca_test.h"
#include "gca_harness.h"

/* The slowest correct lookup: the first class big enough. */
static unsigned int ref_class(u64 size)
{
	unsigned int c;

	if (!size)
		return 0;
	for (c = 1; c < GCA_NUM_SIZE_CLASSES; c++)
		if (gca_class_size[c] >= size)
			return c;
	return 0;
}

TEST(table_is_gos)
{
	/* Spot checks against src/runtime/sizeclasses.go (Go 1.21+). */
	static const u32 sizes[][3] = {
		/* class, size, npages */
		{ 1, 8, 1 }, { 2, 16, 1 }, { 3, 24, 1 }, { 4, 32, 1 },
		{ 5, 48, 1 }, { 10, 128, 1 }, { 18, 256, 1 },
		{ 35, 1408, 2 }, { 41, 3072, 3 }, { 50, 6912, 6 },
		{ 51, 8192, 1 }, { 52, 9472, 7 }, { 60, 18432, 9 },
		{ 65, 27264, 10 }, { 66, 28672, 7 }, { 67, 32768, 4 },
	};
	unsigned int i, c;

	ASSERT_EQ(68, GCA_NUM_SIZE_CLASSES);
	ASSERT_EQ(0U, gca_class_size[0]);
	ASSERT_EQ(0, gca_class_npages[0]);
	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		EXPECT_EQ(sizes[i][1], gca_class_size[sizes[i][0]]);
		EXPECT_EQ(sizes[i][2], (u32)gca_class_npages[sizes[i][0]]);
	}
	for (c = 1; c < GCA_NUM_SIZE_CLASSES; c++) {
		EXPECT_GT(gca_class_size[c], gca_class_size[c - 1]);
		EXPECT_EQ(0U, gca_class_size[c] % 8);
		EXPECT_GE(gca_class_npages[c], 1);
		EXPECT_LE(gca_class_npages[c], 10);
	}
	EXPECT_EQ((u32)GCA_MAX_SMALL_SIZE,
		  gca_class_size[GCA_NUM_SIZE_CLASSES - 1]);
}

TEST(lookup_every_size)
{
	u64 size;

	for (size = 0; size <= GCA_MAX_SMALL_SIZE + 1; size++) {
		unsigned int want = ref_class(size), got = gca_size_to_class(size);

		if (want != got)
			TH_LOG("size %llu: class %u, want %u", size, got, want);
		ASSERT_EQ(want, got);
	}
}

TEST(lookup_boundaries)
{
	unsigned int c;

	EXPECT_EQ(0U, gca_size_to_class(0));
	EXPECT_EQ(1U, gca_size_to_class(1));
	EXPECT_EQ(67U, gca_size_to_class(32768));
	EXPECT_EQ(67U, gca_size_to_class(32767));
	EXPECT_EQ(0U, gca_size_to_class(32769));
	EXPECT_EQ(0U, gca_size_to_class(U64_MAX));
	EXPECT_EQ(0U, gca_size_to_class(1ULL << 32));
	EXPECT_EQ(32U, gca_size_to_class(1024));	/* table switch */
	EXPECT_EQ(32U, gca_size_to_class(1016));
	EXPECT_EQ(33U, gca_size_to_class(1025));
	for (c = 1; c < GCA_NUM_SIZE_CLASSES; c++) {
		u32 size = gca_class_size[c];

		EXPECT_EQ(c, gca_size_to_class(size));
		EXPECT_EQ(c, gca_size_to_class(size - 1 > gca_class_size[c - 1] ?
					       size - 1 : size));
		EXPECT_EQ(c, gca_size_to_class(gca_class_size[c - 1] + 1));
		EXPECT_EQ(c + 1 < GCA_NUM_SIZE_CLASSES ? c + 1 : 0U,
			  gca_size_to_class(size + 1));
	}
}

TEST(nelems_and_waste_bounds)
{
	unsigned int c;

	EXPECT_EQ(0U, gca_class_nelems(0));
	EXPECT_EQ(0U, gca_class_nelems(GCA_NUM_SIZE_CLASSES));
	EXPECT_EQ(0U, gca_class_nelems(~0U));
	EXPECT_EQ(1024U, gca_class_nelems(1));
	EXPECT_EQ(341U, gca_class_nelems(3));
	EXPECT_EQ(170U, gca_class_nelems(5));
	EXPECT_EQ(3U, gca_class_nelems(65));
	EXPECT_EQ(1U, gca_class_nelems(67));
	for (c = 1; c < GCA_NUM_SIZE_CLASSES; c++) {
		u64 span = (u64)gca_class_npages[c] * GCA_PAGE_SIZE;
		u64 size = gca_class_size[c], prev = gca_class_size[c - 1];
		u64 n = gca_class_nelems(c), tail = span % size;
		u64 maxwaste = (size - prev - 1) * n + tail;

		EXPECT_EQ(span / size, n);
		EXPECT_GE(n, 1ULL);
		/* The refill ABI's free_bits holds GCA_MAX_SPAN_OBJECTS. */
		EXPECT_LE(n, (u64)GCA_MAX_SPAN_OBJECTS);
		/* mksizeclasses.go: tail waste at most 1/8 of the span. */
		EXPECT_LE(tail * 8, span);
		/* Go's "max waste": 87.50% for class 1, <= 16.65% from 96 B. */
		if (c == 1)
			EXPECT_EQ(maxwaste * 10000, 8750 * span);
		if (size >= 96)
			EXPECT_LE(maxwaste * 10000, 1665 * span);
		EXPECT_LT(maxwaste * 10000, 8751 * span);
	}
}

TEST(divmul_is_exact_in_every_span)
{
	unsigned int c;

	for (c = 1; c < GCA_NUM_SIZE_CLASSES; c++) {
		u64 size = gca_class_size[c];
		u64 span = (u64)gca_class_npages[c] * GCA_PAGE_SIZE;
		u64 mul = U32_MAX / size + 1, off, bad = 0;

		for (off = 0; off < span; off++)
			if (((off * mul) >> 32) != off / size)
				bad++;
		EXPECT_EQ(0ULL, bad) {
			TH_LOG("class %u", c);
		}
	}
}

TEST_HARNESS_MAIN
