// SPDX-License-Identifier: GPL-2.0
/*
 * Allocation rate: each thread allocates n objects of one size
 * (bench_alloc: zeroed, may hold pointers), writes their first and last
 * word, and keeps the last 64 in a ring on its stack; the one it replaces
 * becomes garbage (glibc: is freed).  The live heap stays tiny, so the
 * collectors' share is the cost of frequent, cheap cycles.
 *
 *   allocrate.BACKEND size=BYTES threads=T n=COUNT
 *
 * Result: ns_per_alloc = wall time / allocations per thread (with T
 * threads that scale perfectly it equals the one-thread figure), and
 * mallocs_per_s for the whole process.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include "bench.h"

#define RING 64

struct worker {
	pthread_t tid;
	int id;
	size_t size;
	long n;
	uint64_t sum;
};

static pthread_barrier_t start;
static uint64_t t_start, t_end;

static void *work(void *arg)
{
	struct worker *w = arg;
	void *ring[RING] = { 0 };
	uint64_t sum = 0;
	long i;

	if (w->id)
		bench_thread_register();
	bench_blocking_begin();
	pthread_barrier_wait(&start);
	bench_blocking_end();
	if (!w->id)
		t_start = bench_now_ns();
	for (i = 0; i < w->n; i++) {
		long *p = bench_alloc(w->size);
		unsigned int k = i % RING;

		p[0] = i;
		p[w->size / sizeof(long) - 1] = i;
		if (BENCH_EXPLICIT_FREE && ring[k])
			bench_free(ring[k]);
		ring[k] = p;
		sum += (uintptr_t)p & 0xff;
	}
	for (i = 0; i < RING; i++) {
		if (ring[i])
			sum += *(long *)ring[i];
		if (BENCH_EXPLICIT_FREE)
			bench_free(ring[i]);
	}
	w->sum = sum;
	bench_blocking_begin();
	pthread_barrier_wait(&start);
	bench_blocking_end();
	if (!w->id)
		t_end = bench_now_ns();
	if (w->id)
		bench_thread_unregister();
	return NULL;
}

int main(int argc, char **argv)
{
	size_t size = bench_arg(argc, argv, "size", 64);
	int nthreads = bench_arg(argc, argv, "threads", 1);
	long n = bench_arg(argc, argv, "n", 1000000);
	struct bench_opts o = { 0 };
	struct worker w[8];
	struct bench_heap hs;
	char param[128];
	uint64_t t;
	struct bench_cpu cpu0;
	int i;

	if (size < sizeof(long) || nthreads < 1 || nthreads > 8 || n < 1)
		bench_die("bad arguments");
	bench_init(&o);
	/*
	 * The main thread is worker 0, so that no registered thread sits
	 * blocked (which a gcarena cycle would have to preempt) while the
	 * others allocate.
	 */
	bench_cpu_snapshot(&cpu0);
	pthread_barrier_init(&start, NULL, nthreads);
	for (i = 0; i < nthreads; i++) {
		w[i].id = i;
		w[i].size = size;
		w[i].n = n;
	}
	for (i = 1; i < nthreads; i++)
		if (pthread_create(&w[i].tid, NULL, work, &w[i]))
			bench_die("pthread_create failed");
	work(&w[0]);
	t = t_end - t_start;
	for (i = 1; i < nthreads; i++)
		pthread_join(w[i].tid, NULL);

	snprintf(param, sizeof(param), "size=%zu,threads=%d", size, nthreads);
	bench_result("allocrate", param, "ns_per_alloc", (double)t / n, "ns");
	bench_result("allocrate", param, "mallocs_per_s",
		     (double)n * nthreads / (t / 1e9), "1/s");
	bench_cpu_results("allocrate", param, &cpu0);
	bench_heap_stats(&hs);
	bench_result("allocrate", param, "num_gc", hs.num_gc, "");
	bench_fini();
	return 0;
}
