// SPDX-License-Identifier: GPL-2.0
/*
 * memcpy bandwidth, the reference for mark throughput: copies a buffer
 * of SIZE bytes (pages touched first) REPS times, best and median of
 * the repetitions.  Bandwidth counts the bytes copied (read once,
 * written once), as marking counts the bytes it scans (read once).
 *
 *   memcpy_bw size=MiB reps=N
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static unsigned long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static volatile char sink;

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	long mib = 64, reps = 5, i;
	size_t size;
	double bw[64];
	char *a, *b;

	for (i = 1; i < argc; i++) {
		if (!strncmp(argv[i], "size=", 5))
			mib = atol(argv[i] + 5);
		else if (!strncmp(argv[i], "reps=", 5))
			reps = atol(argv[i] + 5);
	}
	if (mib < 1 || reps < 1 || reps > 64)
		return 2;
	size = (size_t)mib << 20;
	a = malloc(size);
	b = malloc(size);
	if (!a || !b)
		return 1;
	memset(a, 1, size);
	memset(b, 2, size);
	for (i = 0; i < reps; i++) {
		unsigned long long t0 = now_ns();

		memcpy(i & 1 ? a : b, i & 1 ? b : a, size);
		bw[i] = size / ((now_ns() - t0) / 1e9);
	}
	qsort(bw, reps, sizeof(bw[0]), cmp);
	printf("R\tmemcpy\tnone\tsize=%ldMiB\tbytes_per_s\t%.6g\tB/s\n",
	       mib, bw[reps / 2]);
	printf("R\tmemcpy\tnone\tsize=%ldMiB\tbest_bytes_per_s\t%.6g\tB/s\n",
	       mib, bw[reps - 1]);
	sink = a[size / 2] + b[size / 3];
	return 0;
}
