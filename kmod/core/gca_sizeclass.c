// SPDX-License-Identifier: GPL-2.0
/*
 * Size classes.
 *
 * Small objects (up to GCA_MAX_SMALL_SIZE bytes) are rounded up to one of
 * 67 size classes, and each class has its own spans of a fixed number of
 * pages.  The tables are Go's, copied verbatim from src/runtime/
 * sizeclasses.go of Go 1.21 and later (generated there by
 * mksizeclasses.go), so that a gcarena heap looks to its users like a Go
 * heap and has Go's fragmentation bounds:
 *
 *  - mksizeclasses.go grows a class's span, one page at a time, until the
 *    tail waste (the bytes at the end of the span that no object fits in)
 *    is at most 1/8 of the span: allocsize % size <= allocsize / 8;
 *  - Go's table comment also lists each class's "max waste": the share
 *    of a span lost when every object is one byte bigger than the class
 *    below (rounding waste) plus the tail waste,
 *	((size[c] - size[c-1] - 1) * nelems + tail) / span bytes.
 *    It is 87.5% for class 1 (1-byte objects in 8-byte slots), falls to
 *    19.07% at class 7 (80 bytes) and is at most 16.65% (class 45, 4864
 *    bytes) from class 8 (96 bytes) up.
 *
 * The unit tests check both bounds for every class.
 *
 * The lookup is Go's (sizeToClass8 / sizeToClass128 in sizeclasses.go and
 * the size_to_class math in malloc.go): sizes up to 1024-8 are looked up
 * at 8-byte granularity, larger ones at 128-byte granularity.  Both
 * lookup tables are Go's, also copied verbatim.
 */
#include "gca_core.h"

/* Go's class_to_size (src/runtime/sizeclasses.go, Go 1.21+). */
const u32 gca_class_size[GCA_NUM_SIZE_CLASSES] = {
	0, 8, 16, 24, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176, 192, 208,
	224, 240, 256, 288, 320, 352, 384, 416, 448, 480, 512, 576, 640, 704,
	768, 896, 1024, 1152, 1280, 1408, 1536, 1792, 2048, 2304, 2688, 3072,
	3200, 3456, 4096, 4864, 5376, 6144, 6528, 6784, 6912, 8192, 9472,
	9728, 10240, 10880, 12288, 13568, 14336, 16384, 18432, 19072, 20480,
	21760, 24576, 27264, 28672, 32768,
};

/* Go's class_to_allocnpages: pages per span of each class. */
const u8 gca_class_npages[GCA_NUM_SIZE_CLASSES] = {
	0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 1, 2, 1, 2, 1, 3, 2, 3, 1, 3,
	2, 3, 4, 5, 6, 1, 7, 6, 5, 4, 3, 5, 7, 2, 9, 7, 5, 8, 3, 10, 7, 4,
};

#define GCA_SMALL_SIZE_DIV	8
#define GCA_SMALL_SIZE_MAX	1024
#define GCA_LARGE_SIZE_DIV	128

/* Go's size_to_class8: class of sizes 0..1024 in steps of 8. */
static const u8 gca_size_to_class8[GCA_SMALL_SIZE_MAX / GCA_SMALL_SIZE_DIV + 1] = {
	0, 1, 2, 3, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12,
	13, 13, 14, 14, 15, 15, 16, 16, 17, 17, 18, 18, 19, 19, 19, 19, 20,
	20, 20, 20, 21, 21, 21, 21, 22, 22, 22, 22, 23, 23, 23, 23, 24, 24,
	24, 24, 25, 25, 25, 25, 26, 26, 26, 26, 27, 27, 27, 27, 27, 27, 27,
	27, 28, 28, 28, 28, 28, 28, 28, 28, 29, 29, 29, 29, 29, 29, 29, 29,
	30, 30, 30, 30, 30, 30, 30, 30, 31, 31, 31, 31, 31, 31, 31, 31, 31,
	31, 31, 31, 31, 31, 31, 31, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32,
	32, 32, 32, 32, 32, 32,
};

/* Go's size_to_class128: class of sizes 1024..32768 in steps of 128. */
static const u8 gca_size_to_class128[(GCA_MAX_SMALL_SIZE - GCA_SMALL_SIZE_MAX) /
				     GCA_LARGE_SIZE_DIV + 1] = {
	32, 33, 34, 35, 36, 37, 37, 38, 38, 39, 39, 40, 40, 40, 41, 41, 41,
	42, 43, 43, 44, 44, 44, 44, 44, 45, 45, 45, 45, 45, 45, 46, 46, 46,
	46, 47, 47, 47, 47, 47, 47, 48, 48, 48, 49, 49, 50, 51, 51, 51, 51,
	51, 51, 51, 51, 51, 51, 52, 52, 52, 52, 52, 52, 52, 52, 52, 52, 53,
	53, 54, 54, 54, 54, 55, 55, 55, 55, 55, 56, 56, 56, 56, 56, 56, 56,
	56, 56, 56, 56, 57, 57, 57, 57, 57, 57, 57, 57, 57, 57, 58, 58, 58,
	58, 58, 58, 59, 59, 59, 59, 59, 59, 59, 59, 59, 59, 59, 59, 59, 59,
	59, 59, 60, 60, 60, 60, 60, 60, 60, 60, 60, 60, 60, 60, 60, 60, 60,
	60, 61, 61, 61, 61, 61, 62, 62, 62, 62, 62, 62, 62, 62, 62, 62, 62,
	63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 64, 64, 64, 64, 64, 64, 64,
	64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 65, 65,
	65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65,
	65, 65, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 67, 67, 67, 67,
	67, 67, 67, 67, 67, 67, 67, 67, 67, 67, 67, 67, 67, 67, 67, 67, 67,
	67, 67, 67, 67, 67, 67, 67, 67, 67, 67, 67,
};

/*
 * Size 0 has no class (0): Go gives zero-sized allocations the address
 * of runtime.zerobase and never puts them in a span, and so must a
 * library.  Sizes above GCA_MAX_SMALL_SIZE are large objects (class 0).
 */
unsigned int gca_size_to_class(u64 size)
{
	if (size == 0 || size > GCA_MAX_SMALL_SIZE)
		return 0;
	if (size <= GCA_SMALL_SIZE_MAX - GCA_SMALL_SIZE_DIV)
		return gca_size_to_class8[DIV_ROUND_UP(size, GCA_SMALL_SIZE_DIV)];
	return gca_size_to_class128[DIV_ROUND_UP(size - GCA_SMALL_SIZE_MAX,
						 GCA_LARGE_SIZE_DIV)];
}

u32 gca_class_nelems(unsigned int c)
{
	if (c == 0 || c >= GCA_NUM_SIZE_CLASSES)
		return 0;
	return ((u32)gca_class_npages[c] << GCA_PAGE_SHIFT) / gca_class_size[c];
}
