// SPDX-License-Identifier: GPL-2.0
/*
 * Pauses under a steady mutator.  A live heap of LIVE bytes is built as
 * a table (one pointer array) of units of UNIT bytes, each a record of
 * UNIT/2 bytes holding two pointers to leaves of UNIT/4 bytes and integer
 * data (every object may hold pointers: all of it is scanned; UNIT 256
 * gives size classes 128 and 64); then units are replaced at random,
 * one new unit per step, until VOLUME x LIVE bytes were allocated (glibc
 * frees the unit it replaces).  Every pause completed during that phase
 * is recorded: gcarena's from its pause ring (gca_read_memstats after
 * each cycle), Boehm's from its collection events.  The mutator also
 * times every replacement: the longest one (max_stall) is the stall as
 * the program sees it, whatever its cause, and with gcarena the phase the
 * collector was in when it began tells which part of the cycle it fell
 * in; slow_steps_PHASE counts replacements over 10 ms by that phase.
 * Every replacement over 1 ms is a stall (stall_ns, one line each, at
 * most MAX_STALLS per run): the distribution of pauses as the program
 * sees them, comparable between backends whatever each calls a pause.
 *
 *   pauses.BACKEND live=MiB volume=X unit=BYTES seed=S
 *
 * Results: pause_ns (one line per pause), pauses, lost, step_ns (mean
 * time per replacement), max_stall_ms, max_stall_phase, slow_steps_*,
 * heap_sys_mib (after); gcarena with a pause histogram also
 * thread_pause_* (every pause of every thread).
 */
#include <stdio.h>
#include <stdlib.h>
#include "bench.h"

#define HIST 64
#define MAX_STALLS 4096
static uint64_t stalls[MAX_STALLS];

static const char *param_of(long live_mib, long unit)
{
	static char p[64];

	snprintf(p, sizeof(p), "live=%ldMiB", live_mib);
	(void)unit;
	return p;
}

/* Upper bound (ns) of the bucket holding the k-th smallest pause. */
static double hist_rank(const uint64_t *h, int nb, uint64_t k)
{
	uint64_t c = 0;
	int i;

	for (i = 0; i < nb; i++) {
		c += h[i];
		if (c >= k)
			return (double)(2ULL << i);
	}
	return (double)(2ULL << (nb - 1));
}

/*
 * gcarena's every-thread pause histogram over the mutation phase: the
 * pauses of each thread (handshakes, mark termination, assists), of
 * which the ring above keeps only the longest per cycle.
 */
static void hist_results(const uint64_t *h0, const uint64_t *h1, int nb,
			 const char *param)
{
	uint64_t d[HIST], n = 0;
	int i;

	for (i = 0; i < nb; i++) {
		d[i] = h1[i] - h0[i];
		n += d[i];
	}
	bench_result("pauses", param, "thread_pauses", n, "");
	if (!n)
		return;
	bench_result("pauses", param, "thread_pause_p50_ns",
		     hist_rank(d, nb, (n + 1) / 2), "ns");
	bench_result("pauses", param, "thread_pause_p99_ns",
		     hist_rank(d, nb, n - n / 100), "ns");
	bench_result("pauses", param, "thread_pause_max_ns",
		     hist_rank(d, nb, n), "ns");
}

int main(int argc, char **argv)
{
	uint64_t h0[HIST], h1[HIST], slow[9] = { 0 }, nstalls = 0;
	struct bench_cpu cpu0;
	int nb, max_phase = -1;
	long live_mib = bench_arg(argc, argv, "live", 16);
	long volume = bench_arg(argc, argv, "volume", 4);
	long unit = bench_arg(argc, argv, "unit", BENCH_UNIT);
	uint64_t seed = bench_arg(argc, argv, "seed", 1) * 0x9e3779b97f4a7c15ULL | 1;
	struct bench_pauselog pl = { 0 };
	struct bench_opts o = { 0 };
	uint64_t n, steps, s, t0, t, last, gap, max_gap = 0, gc0;
	struct bench_heap hs;
	char param[128];
	void **table;
	size_t k;

	if (live_mib < 1 || volume < 1 || unit < 64 || unit % 32)
		bench_die("bad arguments");
	n = ((uint64_t)live_mib << 20) / unit;
	steps = n * volume;
	o.heap_size = 0;
	bench_init(&o);

	table = bench_alloc(n * sizeof(void *));
	for (s = 0; s < n; s++)
		bench_store(&table[s], bench_unit_new(unit, s));
	/* Pauses of the build phase are not counted. */
	bench_pauselog_poll(&pl);
	bench_pauselog_free(&pl);
	gc0 = bench_num_gc();
	nb = bench_pause_hist(h0, HIST);
	bench_cpu_snapshot(&cpu0);

	t0 = last = bench_now_ns();
	for (s = 0; s < steps; s++) {
		uint64_t i = bench_rand(&seed) % n;
		void *old = table[i];
		int ph = bench_gc_phase();

		bench_store(&table[i], bench_unit_new(unit, s));
		bench_unit_free(old);
		t = bench_now_ns();
		gap = t - last;
		last = t;
		if (gap > max_gap) {
			max_gap = gap;
			max_phase = ph;
		}
		if (gap > 10000000)
			slow[ph >= 0 && ph < 8 ? ph : 8]++;
		if (gap > 1000000) {
			if (nstalls < MAX_STALLS)
				stalls[nstalls] = gap;
			nstalls++;
		}
		if ((s & 7) == 7 && bench_num_gc() != gc0) {
			gc0 = bench_num_gc();
			bench_pauselog_poll(&pl);
			last = bench_now_ns();	/* not the poll's own time */
		}
	}
	t = bench_now_ns() - t0;
	bench_pauselog_poll(&pl);
	if (nb && bench_pause_hist(h1, HIST) == nb)
		hist_results(h0, h1, nb, param_of(live_mib, unit));

	snprintf(param, sizeof(param), "%s", param_of(live_mib, unit));
	for (k = 0; k < pl.n; k++)
		bench_result("pauses", param, "pause_ns", pl.ns[k], "ns");
	for (k = 0; k < nstalls && k < MAX_STALLS; k++)
		bench_result("pauses", param, "stall_ns", stalls[k], "ns");
	bench_result("pauses", param, "stalls", nstalls, "");
	bench_result("pauses", param, "pauses", pl.n, "");
	bench_result("pauses", param, "lost", pl.lost, "");
	bench_result("pauses", param, "step_ns", (double)t / steps, "ns");
	bench_result("pauses", param, "max_stall_ms", max_gap / 1e6, "ms");
	bench_cpu_results("pauses", param, &cpu0);
	if (max_phase >= 0) {
		static const char *const names[9] = {
			"off", "1", "mark", "markterm", "sweep", "5", "6", "7", "other" };

		bench_result("pauses", param, "max_stall_phase", max_phase, "");
		for (k = 0; k < 9; k++)
			if (slow[k] || k == 0 || k == 2 || k == 4) {
				char st[64];

				snprintf(st, sizeof(st), "slow_steps_%s", names[k]);
				bench_result("pauses", param, st, slow[k], "");
			}
	} else {
		bench_result("pauses", param, "slow_steps", slow[8], "");
	}
	bench_heap_stats(&hs);
	bench_result("pauses", param, "heap_sys_mib", hs.heap_backed / 1048576.0,
		     "MiB");
	bench_pauselog_free(&pl);
	for (s = 0; s < n; s++)
		bench_unit_check(table[s], unit);
	for (s = 0; s < n; s++)
		bench_unit_free(table[s]);
	bench_free(table);
	bench_fini();
	return 0;
}
