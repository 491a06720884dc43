// SPDX-License-Identifier: GPL-2.0
/*
 * Mark throughput of the GC core itself, natively on the host: the core
 * (kmod/core/) built as userspace code through tests/unit's host
 * (gca_env_user.h, gca_test.c's uarena), -O2 and no sanitizers.  Builds
 * the heap shape of markrate.c (a table of units: a 128-byte record
 * pointing to two 64-byte leaves, all scanned) with the core's own
 * allocation paths, then times gca_mark_begin + gca_mark_words (the
 * table's address as the only root) + gca_mark_drain, and a gca_sweep
 * that frees nothing, REPS times; and memcpy over the same number of
 * bytes, for the ratio.
 *
 *   mark_native live=MiB reps=N [memcpy=0]
 *
 * Results (bench "markrate-native", backend "gcarena-core"):
 * mark_ms, begin_ms, drain_ms, sweep_ms (medians), marked_bytes_per_s,
 * scanned_bytes_per_s, ns_per_object; and (bench "memcpy-native")
 * bytes_per_s.  Each figure's median over the repetitions.
 */
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "gca_test.h"

#define REC_SIZE	128
#define LEAF_SIZE	64
#define UNIT_SIZE	(REC_SIZE + 2 * LEAF_SIZE)

static u64 now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp);
	return v[n / 2];
}

static void result(const char *bench, const char *param, const char *stat,
		   double v, const char *unit)
{
	printf("R\t%s\t%s\t%s\t%s\t%.6g\t%s\n", bench,
	       strcmp(bench, "memcpy-native") ? "gcarena-core" : "none",
	       param, stat, v, unit);
}

static volatile char sink;

int main(int argc, char **argv)
{
	long live_mib = 64, reps = 5, do_memcpy = 1, i;
	u64 n, u, table, *recs, *leaves, heap_bytes, bytes;
	double mark[64], begin[64], drain[64], sweep[64], cp[64];
	u64 marked = 0, scanned = 0, objects = 0;
	struct uarena ua;
	char param[128];
	char *a, *b;

	for (i = 1; i < argc; i++) {
		if (!strncmp(argv[i], "live=", 5))
			live_mib = atol(argv[i] + 5);
		else if (!strncmp(argv[i], "reps=", 5))
			reps = atol(argv[i] + 5);
		else if (!strncmp(argv[i], "memcpy=", 7))
			do_memcpy = atol(argv[i] + 7);
	}
	if (live_mib < 1 || reps < 1 || reps > 64)
		return 2;
	n = ((u64)live_mib << 20) / UNIT_SIZE;
	heap_bytes = ((u64)live_mib << 20) * 4 + (256ULL << 20);
	if (ua_init(&ua, heap_bytes)) {
		fprintf(stderr, "mark_native: ua_init failed\n");
		return 1;
	}
	recs = malloc(n * sizeof(u64));
	leaves = malloc(2 * n * sizeof(u64));
	table = ua_alloc_large(&ua, n * 8, false);
	if (!recs || !leaves || table == U64_MAX ||
	    ua_alloc_objs(&ua, GCA_SPANCLASS(gca_size_to_class(REC_SIZE), 0),
			  n, recs) != n ||
	    ua_alloc_objs(&ua, GCA_SPANCLASS(gca_size_to_class(LEAF_SIZE), 0),
			  2 * n, leaves) != 2 * n) {
		fprintf(stderr, "mark_native: heap too small\n");
		return 1;
	}
	for (u = 0; u < n; u++) {
		u64 *r = ua_ptr(&ua, recs[u]);
		u64 *l0 = ua_ptr(&ua, leaves[2 * u]);
		u64 *l1 = ua_ptr(&ua, leaves[2 * u + 1]);
		unsigned int k;

		for (k = 0; k < LEAF_SIZE / 8; k++)
			l0[k] = l1[k] = u + k;
		for (k = 2; k < REC_SIZE / 8; k++)
			r[k] = u ^ k;
		ua_store_ptr(&ua, recs[u], leaves[2 * u]);
		ua_store_ptr(&ua, recs[u] + 8, leaves[2 * u + 1]);
		ua_store_ptr(&ua, table + 8 * u, recs[u]);
	}
	free(recs);
	free(leaves);

	for (i = 0; i < reps; i++) {
		u64 root = ua_addr(&ua, table), t0, t1, t2, t3;
		struct gca_sweep_result res = { 0 };

		t0 = now_ns();
		gca_mark_begin(&ua.h);
		t1 = now_ns();
		gca_mark_words(&ua.h, &root, 1);
		if (gca_mark_drain(&ua.h)) {
			fprintf(stderr, "mark_native: drain interrupted\n");
			return 1;
		}
		t2 = now_ns();
		if (gca_sweep(&ua.h, &res) || res.freed_objects) {
			fprintf(stderr, "mark_native: sweep freed %llu objects\n",
				(unsigned long long)res.freed_objects);
			return 1;
		}
		t3 = now_ns();
		begin[i] = (t1 - t0) / 1e6;
		drain[i] = (t2 - t1) / 1e6;
		mark[i] = (t2 - t0) / 1e6;
		sweep[i] = (t3 - t2) / 1e6;
		marked = ua.h.heap_marked;
		scanned = ua.h.scanned_bytes;
		objects = ua.h.marked_objects;
	}
	snprintf(param, sizeof(param), "live=%ldMiB", live_mib);
	result("markrate-native", param, "begin_ms", median(begin, reps), "ms");
	result("markrate-native", param, "drain_ms", median(drain, reps), "ms");
	result("markrate-native", param, "sweep_ms", median(sweep, reps), "ms");
	result("markrate-native", param, "mark_ms", median(mark, reps), "ms");
	result("markrate-native", param, "marked_bytes_per_s",
	       marked / (median(mark, reps) / 1e3), "B/s");
	result("markrate-native", param, "scanned_bytes_per_s",
	       scanned / (median(mark, reps) / 1e3), "B/s");
	result("markrate-native", param, "ns_per_object",
	       median(mark, reps) * 1e6 / objects, "ns");
	result("markrate-native", param, "objects", objects, "");
	result("markrate-native", param, "scanned_bytes", scanned, "B");
	result("markrate-native", param, "marked_bytes", marked, "B");

	if (!do_memcpy) {
		ua_destroy(&ua);
		return 0;
	}
	bytes = marked;
	a = malloc(bytes);
	b = malloc(bytes);
	if (!a || !b)
		return 1;
	memset(a, 1, bytes);
	memset(b, 2, bytes);
	for (i = 0; i < reps; i++) {
		u64 t0 = now_ns();

		memcpy(i & 1 ? a : b, i & 1 ? b : a, bytes);
		cp[i] = bytes / ((now_ns() - t0) / 1e9);
	}
	sink = a[bytes / 2] + b[bytes / 3];
	result("memcpy-native", param, "bytes_per_s", median(cp, reps), "B/s");
	free(a);
	free(b);
	ua_destroy(&ua);
	return 0;
}
