// SPDX-License-Identifier: GPL-2.0
/*
 * GCBench, after John Ellis and Pete Kovac's Java benchmark as adapted to
 * C by Hans Boehm (GCBench.c): a long-lived tree of depth L and an array
 * of N doubles (pointer-free) kept alive, a stretch tree of depth L+2,
 * then for depth d = 4, 6, ..., max: 2 * size(stretch) / size(d)
 * iterations each building a tree of depth d top-down (Populate: a node
 * first, then its children stored into it) and one bottom-up (MakeTree:
 * children first), both dropped.  Nodes: two pointers and two ints.
 *
 *   gcbench.BACKEND depth=MAX array=N
 *
 * The original uses max = long-lived = 16, stretch 18, N = 500000; the
 * VM runs use a smaller max (all three depths follow it).  Results:
 * time_s (wall), cpu_s, num_gc, pause_total_ms.
 */
#include <stdio.h>
#include <stdlib.h>
#include "bench.h"

struct node {
	struct node *left, *right;
	int i, j;
};

#define MIN_DEPTH 4

static long tree_size(int d)
{
	return (1L << (d + 1)) - 1;
}

static long num_iters(int d, int stretch)
{
	return 2 * tree_size(stretch) / tree_size(d);
}

static struct node *new_node(struct node *l, struct node *r)
{
	struct node *n = bench_alloc(sizeof(*n));

	if (l)
		bench_store((void **)&n->left, l);
	if (r)
		bench_store((void **)&n->right, r);
	return n;
}

/* Build the tree top-down. */
static void populate(int d, struct node *n)
{
	if (d <= 0)
		return;
	d--;
	bench_store((void **)&n->left, new_node(NULL, NULL));
	bench_store((void **)&n->right, new_node(NULL, NULL));
	populate(d, n->left);
	populate(d, n->right);
}

/* Build the tree bottom-up. */
static struct node *make_tree(int d)
{
	struct node *l, *r;

	if (d <= 0)
		return new_node(NULL, NULL);
	l = make_tree(d - 1);
	r = make_tree(d - 1);
	return new_node(l, r);
}

static void drop(struct node *n)
{
	if (!BENCH_EXPLICIT_FREE || !n)
		return;
	drop(n->left);
	drop(n->right);
	bench_free(n);
}

static void time_construction(int d, int stretch)
{
	long iters = num_iters(d, stretch), i;
	struct node *t;

	for (i = 0; i < iters; i++) {
		t = new_node(NULL, NULL);
		populate(d, t);
		drop(t);
	}
	for (i = 0; i < iters; i++) {
		t = make_tree(d);
		drop(t);
	}
}

int main(int argc, char **argv)
{
	int max_depth = bench_arg(argc, argv, "depth", 16);
	long array_size = bench_arg(argc, argv, "array", 500000);
	int stretch = max_depth + 2, longlived_depth = max_depth, d;
	struct bench_opts o = { 0 };
	struct node *t, *longlived;
	struct bench_heap hs;
	double *array;
	uint64_t t0, c0;
	struct bench_cpu cpu0;
	char param[128];
	long i;

	if (max_depth < MIN_DEPTH || max_depth > 30 || array_size < 2)
		bench_die("bad arguments");
	bench_init(&o);
	t0 = bench_now_ns();
	c0 = bench_cpu_ns();
	bench_cpu_snapshot(&cpu0);

	t = make_tree(stretch);
	drop(t);
	t = NULL;

	longlived = new_node(NULL, NULL);
	populate(longlived_depth, longlived);
	array = bench_alloc_noscan(array_size * sizeof(double));
	for (i = 0; i < array_size / 2; i++)
		array[i] = 1.0 / i;

	for (d = MIN_DEPTH; d <= max_depth; d += 2)
		time_construction(d, stretch);

	if (!longlived || array[1] != 1.0)
		bench_die("long-lived data lost");
	drop(longlived);
	bench_free(array);

	snprintf(param, sizeof(param), "depth=%d", max_depth);
	bench_result("gcbench", param, "time_s", (bench_now_ns() - t0) / 1e9, "s");
	bench_result("gcbench", param, "cpu_s", (bench_cpu_ns() - c0) / 1e9, "s");
	bench_cpu_results("gcbench", param, &cpu0);
	bench_heap_stats(&hs);
	bench_result("gcbench", param, "num_gc", hs.num_gc, "");
	bench_result("gcbench", param, "pause_total_ms",
		     hs.total_pause_ns / 1e6, "ms");
	bench_fini();
	return 0;
}
