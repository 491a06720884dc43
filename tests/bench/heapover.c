// SPDX-License-Identifier: GPL-2.0
/*
 * Heap overhead.  Builds a live heap of LIVE bytes shaped as in
 * pauses.c (a table of units: a 128-byte record and two 64-byte leaves,
 * sizes that are exact size classes), then replaces units at random
 * until VOLUME x LIVE bytes were allocated, sampling the backend's heap
 * figures every 256 replacements and the process RSS every 1024.
 *
 *   heapover.BACKEND live=MiB volume=X [gcp=PERCENT] [limit_pct=P]
 *                    [deadline=SECONDS]
 *
 * gcp sets gcarena's GOGC; limit_pct=P sets its memory limit to
 * LIVE * 100 / P (P = 80: the live heap is 80% of the limit, 20% under).  Boehm and
 * glibc ignore both and run with their defaults (param "default").
 *
 * Results, peaks over the whole run divided by the live bytes (table
 * included): heap_sys_ratio (Go's HeapSys: heap address space grown),
 * heap_backed_ratio (HeapSys - HeapReleased), sys_ratio (backed heap plus
 * the collector's metadata), rss_ratio (process RSS); and, as the issue
 * states its targets, heap_sys_over_bound = peak heap_sys /
 * ((1 + GOGC/100) * live) (target <= 1.10) and, with a limit,
 * sys_over_limit = peak sys / limit (target <= 1.05); at the end, for
 * gcarena, inspan_free_ratio (free slots in in-use spans over live) and
 * goal_over_marked (next_gc / heap_marked).  A run that
 * reaches its deadline stops replacing and reports what it has, with
 * done_fraction (replacements done / planned) below 1 and timed_out 1.
 */
#include <stdio.h>
#include <stdlib.h>
#include "bench.h"

struct peaks {
	uint64_t heap_sys, heap_backed, sys, rss;
};

static void sample(struct peaks *p, bool rss)
{
	struct bench_heap hs;
	uint64_t r;

	bench_heap_stats(&hs);
	if (hs.heap_sys > p->heap_sys)
		p->heap_sys = hs.heap_sys;
	if (hs.heap_backed > p->heap_backed)
		p->heap_backed = hs.heap_backed;
	if (hs.sys > p->sys)
		p->sys = hs.sys;
	if (rss) {
		r = bench_rss();
		if (r > p->rss)
			p->rss = r;
	}
}

int main(int argc, char **argv)
{
	long live_mib = bench_arg(argc, argv, "live", 32);
	long volume = bench_arg(argc, argv, "volume", 4);
	long gcp = bench_arg(argc, argv, "gcp", 100);
	long limit_pct = bench_arg(argc, argv, "limit_pct", 0);
	uint64_t deadline = bench_arg(argc, argv, "deadline", 0) * 1000000000ULL;
	uint64_t t0, done, built;
	uint64_t seed = 0x9e3779b97f4a7c15ULL;
	struct bench_opts o = { 0 };
	struct peaks pk = { 0 };
	uint64_t n, s, steps, live, limit = 0;
	struct bench_heap hs;
	char param[128];
	void **table;

	if (live_mib < 1 || volume < 1 || gcp < 1 || limit_pct < 0 ||
	    limit_pct > 100)
		bench_die("bad arguments");
	n = ((uint64_t)live_mib << 20) / BENCH_UNIT;
	live = n * BENCH_UNIT + n * sizeof(void *);
	steps = n * volume;
	if (limit_pct)
		limit = live * 100 / limit_pct;
	o.gc_percent = gcp;
	o.memory_limit = limit;
	bench_init(&o);

	t0 = bench_now_ns();
	table = bench_alloc(n * sizeof(void *));
	for (s = 0; s < n; s++) {
		if ((s & 255) == 0 && deadline && bench_now_ns() - t0 > deadline)
			break;
		bench_store(&table[s], bench_unit_new(BENCH_UNIT, s));
		if ((s & 255) == 255)
			sample(&pk, (s & 1023) == 1023);
	}
	built = s;
	if (built < n)
		steps = 0;
	for (s = 0; s < steps; s++) {
		if ((s & 255) == 0 && deadline && bench_now_ns() - t0 > deadline)
			break;
		uint64_t i = bench_rand(&seed) % n;
		void *old = table[i];

		bench_store(&table[i], bench_unit_new(BENCH_UNIT, s));
		bench_unit_free(old);
		if ((s & 255) == 255)
			sample(&pk, (s & 1023) == 1023);
	}
	done = built < n ? 0 : s;
	sample(&pk, true);
	bench_heap_stats(&hs);

	if (!BENCH_IS_GC)
		snprintf(param, sizeof(param), "live=%ldMiB,default", live_mib);
	else if (!BENCH_EXPLICIT_FREE && bench_backend[0] == 'b')
		snprintf(param, sizeof(param), "live=%ldMiB,default", live_mib);
	else if (limit_pct)
		snprintf(param, sizeof(param), "live=%ldMiB,gcp=%ld,limit_pct=%ld",
			 live_mib, gcp, limit_pct);
	else
		snprintf(param, sizeof(param), "live=%ldMiB,gcp=%ld", live_mib, gcp);
	bench_result("heapover", param, "live_mib", live / 1048576.0, "MiB");
	bench_result("heapover", param, "heap_sys_ratio",
		     (double)pk.heap_sys / live, "x");
	bench_result("heapover", param, "heap_backed_ratio",
		     (double)pk.heap_backed / live, "x");
	bench_result("heapover", param, "sys_ratio", (double)pk.sys / live, "x");
	bench_result("heapover", param, "rss_ratio", (double)pk.rss / live, "x");
	if (hs.heap_marked)
		bench_result("heapover", param, "marked_ratio",
			     (double)hs.heap_marked / live, "x");
	/*
	 * At the end: free slots inside in-use spans (fragmentation, which
	 * a memory limit counts as non-heap memory) over live, and how much
	 * room the goal leaves above the last mark.
	 */
	if (hs.heap_inuse >= hs.heap_alloc && hs.heap_inuse)
		bench_result("heapover", param, "inspan_free_ratio",
			     (double)(hs.heap_inuse - hs.heap_alloc) / live, "x");
	if (hs.next_gc && hs.heap_marked)
		bench_result("heapover", param, "goal_over_marked",
			     (double)hs.next_gc / hs.heap_marked, "x");
	bench_result("heapover", param, "num_gc", hs.num_gc, "");
	bench_result("heapover", param, "built_fraction", (double)built / n, "");
	bench_result("heapover", param, "done_fraction",
		     steps ? (double)done / steps : 0, "");
	bench_result("heapover", param, "timed_out", built < n || done < steps,
		     "");
	bench_result("heapover", param, "time_s", (bench_now_ns() - t0) / 1e9, "s");
	if (BENCH_IS_GC && bench_backend[0] == 'g') {
		bench_result("heapover", param, "heap_sys_over_bound",
			     (double)pk.heap_sys / ((1 + gcp / 100.0) * live), "x");
		bench_result("heapover", param, "heap_backed_over_bound",
			     (double)pk.heap_backed / ((1 + gcp / 100.0) * live),
			     "x");
		if (limit) {
			bench_result("heapover", param, "sys_over_limit",
				     (double)pk.sys / limit, "x");
			bench_result("heapover", param, "rss_over_limit",
				     (double)pk.rss / limit, "x");
		}
	}
	for (s = 0; s < built; s++)
		bench_unit_check(table[s], BENCH_UNIT);
	for (s = 0; s < built; s++)
		bench_unit_free(table[s]);
	bench_free(table);
	bench_fini();
	return 0;
}
