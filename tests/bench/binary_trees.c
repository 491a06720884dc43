// SPDX-License-Identifier: GPL-2.0
/*
 * binary-trees, the Computer Language Benchmarks Game's algorithm:
 * a stretch tree of depth max+1 (built, checked, dropped), a long-lived
 * tree of depth max kept to the end, and for depth d = 4, 6, ..., max,
 * 2^(max - d + 4) short-lived trees of depth d, each built bottom-up,
 * checked (nodes counted) and dropped.  Nodes are two pointers, 16 bytes.
 *
 *   binary_trees.BACKEND depth=N threads=T
 *
 * With T threads the iterations of each depth are split between them
 * (the main thread is one of them, and parks with bench_blocking_begin
 * while it waits in pthread_join for the others).  Prints the Benchmarks Game's
 * check lines to stderr and these results: time_s (wall, from the
 * stretch tree to the end), cpu_s, num_gc, pause_total_ms.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include "bench.h"

struct node {
	struct node *left, *right;
};

static struct node *make(int depth)
{
	struct node *n = bench_alloc(sizeof(*n));

	if (depth > 0) {
		bench_store((void **)&n->left, make(depth - 1));
		bench_store((void **)&n->right, make(depth - 1));
	}
	return n;
}

static long check(const struct node *n)
{
	return n->left ? 1 + check(n->left) + check(n->right) : 1;
}

static void drop(struct node *n)
{
	if (!BENCH_EXPLICIT_FREE)
		return;
	if (n->left) {
		drop(n->left);
		drop(n->right);
	}
	bench_free(n);
}

#define MIN_DEPTH 4

struct worker {
	pthread_t tid;
	int id, nthreads, max_depth;
	long checks[64];		/* per depth */
};

static void *work(void *arg)
{
	struct worker *w = arg;
	int d;

	if (w->id)
		bench_thread_register();
	for (d = MIN_DEPTH; d <= w->max_depth; d += 2) {
		long iters = 1L << (w->max_depth - d + MIN_DEPTH), i, sum = 0;

		for (i = w->id; i < iters; i += w->nthreads) {
			struct node *t = make(d);
			long c = check(t);

			if (c != (2L << d) - 1)
				bench_die("tree of depth %d has %ld nodes", d, c);
			sum += c;
			drop(t);
		}
		w->checks[d] = sum;
	}
	if (w->id)
		bench_thread_unregister();
	return NULL;
}

int main(int argc, char **argv)
{
	int max_depth = bench_arg(argc, argv, "depth", 16);
	int nthreads = bench_arg(argc, argv, "threads", 1);
	struct bench_opts o = { 0 };
	struct worker w[8];
	struct node *stretch, *longlived;
	struct bench_heap hs;
	uint64_t t0, c0;
	struct bench_cpu cpu0;
	char param[128];
	int d, i;

	if (max_depth < MIN_DEPTH + 2)
		max_depth = MIN_DEPTH + 2;
	if (nthreads < 1 || nthreads > 8 || max_depth > 40)
		bench_die("bad arguments");
	bench_init(&o);
	t0 = bench_now_ns();
	c0 = bench_cpu_ns();
	bench_cpu_snapshot(&cpu0);

	stretch = make(max_depth + 1);
	fprintf(stderr, "stretch tree of depth %d\t check: %ld\n",
		max_depth + 1, check(stretch));
	drop(stretch);
	stretch = NULL;

	longlived = make(max_depth);
	for (i = 0; i < nthreads; i++) {
		w[i].id = i;
		w[i].nthreads = nthreads;
		w[i].max_depth = max_depth;
	}
	for (i = 1; i < nthreads; i++)
		if (pthread_create(&w[i].tid, NULL, work, &w[i]))
			bench_die("pthread_create failed");
	work(&w[0]);
	bench_blocking_begin();
	for (i = 1; i < nthreads; i++)
		pthread_join(w[i].tid, NULL);
	bench_blocking_end();
	for (d = MIN_DEPTH; d <= max_depth; d += 2) {
		long sum = 0;

		for (i = 0; i < nthreads; i++)
			sum += w[i].checks[d];
		fprintf(stderr, "%ld\t trees of depth %d\t check: %ld\n",
			1L << (max_depth - d + MIN_DEPTH), d, sum);
	}
	if (check(longlived) != (2L << max_depth) - 1)
		bench_die("the long-lived tree lost nodes");
	fprintf(stderr, "long lived tree of depth %d\t check: %ld\n",
		max_depth, check(longlived));
	drop(longlived);

	snprintf(param, sizeof(param), "depth=%d,threads=%d", max_depth,
		 nthreads);
	bench_result("binary-trees", param, "time_s",
		     (bench_now_ns() - t0) / 1e9, "s");
	bench_result("binary-trees", param, "cpu_s",
		     (bench_cpu_ns() - c0) / 1e9, "s");
	bench_cpu_results("binary-trees", param, &cpu0);
	bench_heap_stats(&hs);
	bench_result("binary-trees", param, "num_gc", hs.num_gc, "");
	bench_result("binary-trees", param, "pause_total_ms",
		     hs.total_pause_ns / 1e6, "ms");
	bench_fini();
	return 0;
}
