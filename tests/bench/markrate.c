// SPDX-License-Identifier: GPL-2.0
/*
 * Mark throughput.  Builds a pointer-dense heap of LIVE bytes, shaped as
 * in pauses.c (a table of units: a 128-byte record pointing to two
 * 64-byte leaves; every object is scanned), then forces REPS full
 * collections and divides bytes by the time each took (the median).  The
 * same is done first with an empty heap, whose figures are the fixed
 * cost of a cycle (stopping the threads, scanning stacks, sweeping
 * nothing), so that
 *
 *   live_bytes_per_s      live bytes / wall time of the forced collection
 *   net_live_bytes_per_s  live bytes / (that time - the empty heap's)
 *   marked_bytes_per_s    (gcarena) heap_marked / wall time
 *   live_bytes_per_cpu_s  live bytes / CPU time of the collection: the
 *                         process's (Boehm's markers, gcarena's threads
 *                         scanning their stacks) plus gcarena's kernel
 *                         thread's
 *
 * compare with memcpy_bw's bandwidth in the same boot.  The wall time,
 * not the pause: a concurrent collector (gcarena) marks outside its
 * pauses, so bytes over its pause are no throughput at all.  gcarena's
 * collection also holds the sweep (here: walking the bitmaps of a heap
 * where nothing dies); Boehm's pause holds the mark only (it sweeps
 * lazily), with its parallel markers.  pause_ms is reported as is.
 *
 *   markrate.BACKEND live=MiB reps=N
 */
#include <stdio.h>
#include <stdlib.h>
#include "bench.h"

static int cmp64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Median pause of reps forced collections. */
static uint64_t collect_pauses(int reps, uint64_t *marked, uint64_t *wall,
			       uint64_t *cpu)
{
	uint64_t w[64], c[64], t0, c0;
	struct bench_pauselog pl = { 0 };
	uint64_t med, buf[64];
	struct bench_heap hs;
	int i;

	bench_pauselog_poll(&pl);
	bench_pauselog_free(&pl);
	*marked = 0;
	for (i = 0; i < reps; i++) {
		t0 = bench_now_ns();
		c0 = bench_cpu_ns() + bench_collector_cpu_ns();
		bench_collect();
		w[i] = bench_now_ns() - t0;
		c[i] = bench_cpu_ns() + bench_collector_cpu_ns() - c0;
		bench_pauselog_poll(&pl);
		bench_heap_stats(&hs);
		*marked = hs.heap_marked;
	}
	qsort(w, reps, sizeof(w[0]), cmp64);
	*wall = w[reps / 2];
	qsort(c, reps, sizeof(c[0]), cmp64);
	*cpu = c[reps / 2];
	if (!pl.n)
		return 0;
	/* the last reps pauses are the forced ones */
	for (i = 0; i < reps && i < (int)pl.n && i < 64; i++)
		buf[i] = pl.ns[pl.n - 1 - i];
	qsort(buf, i, sizeof(buf[0]), cmp64);
	med = buf[i / 2];
	bench_pauselog_free(&pl);
	return med;
}

int main(int argc, char **argv)
{
	long live_mib = bench_arg(argc, argv, "live", 64);
	int reps = bench_arg(argc, argv, "reps", 5);
	struct bench_opts o = { 0 };
	uint64_t n, s, live, empty, full, marked, dummy, wall0, wall, cpu0, cpu;
	char param[128];
	void **table;

	if (live_mib < 1 || reps < 1 || reps > 64)
		bench_die("bad arguments");
	bench_init(&o);
	if (!BENCH_IS_GC)
		bench_die("markrate needs a collector");

	empty = collect_pauses(reps, &dummy, &wall0, &cpu0);

	n = ((uint64_t)live_mib << 20) / BENCH_UNIT;
	table = bench_alloc(n * sizeof(void *));
	for (s = 0; s < n; s++)
		bench_store(&table[s], bench_unit_new(BENCH_UNIT, s));
	live = n * BENCH_UNIT + n * sizeof(void *);
	full = collect_pauses(reps, &marked, &wall, &cpu);
	if (!full)
		bench_die("no pause recorded");

	snprintf(param, sizeof(param), "live=%ldMiB", live_mib);
	bench_result("markrate", param, "empty_pause_ms", empty / 1e6, "ms");
	bench_result("markrate", param, "pause_ms", full / 1e6, "ms");
	bench_result("markrate", param, "collect_call_ms", wall / 1e6, "ms");
	bench_result("markrate", param, "empty_collect_call_ms", wall0 / 1e6,
		     "ms");
	bench_result("markrate", param, "collect_cpu_ms", cpu / 1e6, "ms");
	bench_result("markrate", param, "empty_collect_cpu_ms", cpu0 / 1e6, "ms");
	if (cpu)
		bench_result("markrate", param, "live_bytes_per_cpu_s",
			     live / (cpu / 1e9), "B/s");
	if (wall)
		bench_result("markrate", param, "live_bytes_per_s",
			     live / (wall / 1e9), "B/s");
	if (wall > wall0)
		bench_result("markrate", param, "net_live_bytes_per_s",
			     live / ((wall - wall0) / 1e9), "B/s");
	if (marked && wall)
		bench_result("markrate", param, "marked_bytes_per_s",
			     marked / (wall / 1e9), "B/s");
	/* keep the table reachable until here, and check it */
	for (s = 0; s < n; s++)
		bench_unit_check(table[s], BENCH_UNIT);
	bench_fini();
	return 0;
}
