// SPDX-License-Identifier: MIT
/*
 * A binary tree built in an arena, checked, dropped and collected, with
 * the arena's statistics before and after.
 *
 *   make -C examples && sudo insmod kmod/gcarena.ko && examples/tree [DEPTH]
 *
 * The tree's root is kept in a root range (gca_add_roots()): the collector
 * scans it, and from it the whole tree.  Dropping the root drops the tree.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gcarena.h>

struct node {
	struct node *left, *right;
	long value;
};

static struct node *build(struct gca_arena *a, int depth, long *next)
{
	struct node *n;

	if (!depth)
		return NULL;
	n = gca_alloc(a, sizeof(*n));
	if (!n)
		return NULL;
	n->value = (*next)++;
	/* pointers into the arena are stored with gca_store() */
	gca_store(a, (void **)&n->left, build(a, depth - 1, next));
	gca_store(a, (void **)&n->right, build(a, depth - 1, next));
	return n;
}

static long count(const struct node *n)
{
	return n ? 1 + count(n->left) + count(n->right) : 0;
}

static void stats(struct gca_arena *a, const char *when)
{
	struct gca_memstats ms;

	if (gca_read_memstats(a, &ms))
		return;
	printf("%-14s heap_alloc %8.1f KiB  objects %8llu  cycles %u  "
	       "goal %8.1f KiB\n", when, ms.heap_alloc / 1024.0,
	       (unsigned long long)ms.heap_objects, ms.num_gc,
	       ms.next_gc / 1024.0);
}

int main(int argc, char **argv)
{
	static struct node *root;	/* scanned: see gca_add_roots() */
	int depth = argc > 1 ? atoi(argv[1]) : 16;
	struct gca_arena *a;
	long next = 0, n;
	int ret;

	ret = gca_open(&a, NULL);
	if (ret) {
		fprintf(stderr, "gca_open: %s\n", strerror(-ret));
		return 1;
	}
	ret = gca_add_roots(a, &root, sizeof(root));
	if (ret) {
		fprintf(stderr, "gca_add_roots: %s\n", strerror(-ret));
		return 1;
	}
	stats(a, "empty");
	gca_store(a, (void **)&root, build(a, depth, &next));
	n = count(root);
	printf("built a tree of depth %d: %ld nodes\n", depth, n);
	stats(a, "built");
	gca_collect(a);
	stats(a, "collected");
	if (count(root) != n) {
		fprintf(stderr, "the tree lost nodes\n");
		return 1;
	}
	gca_store(a, (void **)&root, NULL);
	gca_collect(a);
	stats(a, "dropped");
	gca_close(a);
	return 0;
}
