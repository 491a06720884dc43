// SPDX-License-Identifier: GPL-2.0
/*
 * gcarena demo: a C program with a garbage-collected heap.
 *
 * It opens an arena, builds a binary tree of a quarter of a million
 * nodes in it, checks it, then drops it and asks for a collection, and
 * shows what the kernel's /proc/gcarena files say along the way.  No
 * free() anywhere: the collector finds what is garbage.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gcarena.h"

#define DEPTH	18			/* 2^18 - 1 = 262143 nodes */

struct node {
	struct node *left, *right;
	uint64_t id;
	uint64_t check;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint64_t mix(uint64_t x)
{
	x *= 0x9e3779b97f4a7c15ULL;
	return x ^ (x >> 29);
}

static void show_file(const char *path, const char *const *only)
{
	char line[8192];
	FILE *f;
	int i;

	f = fopen(path, "r");
	if (!f) {
		printf("  (cannot read %s: %s)\n", path, strerror(errno));
		return;
	}
	while (fgets(line, sizeof(line), f)) {
		if (only) {
			for (i = 0; only[i]; i++)
				if (!strncmp(line, only[i], strlen(only[i])) &&
				    line[strlen(only[i])] == ':')
					break;
			if (!only[i])
				continue;
		}
		printf("  %s", line);
	}
	fclose(f);
}

static void show_arena(int id, const char *when)
{
	static const char *const fields[] = {
		"heap_alloc", "heap_objects", "mallocs", "frees", "num_gc",
		"next_gc", "pause_total_ns", NULL,
	};
	char path[64];

	snprintf(path, sizeof(path), "/proc/gcarena/%d", id);
	printf("\n%s, %s says:\n", when, path);
	show_file(path, fields);
}

static const char *mib(uint64_t bytes, char *buf, size_t n)
{
	if (bytes >= 1 << 20)
		snprintf(buf, n, "%.1f MiB", bytes / 1048576.0);
	else
		snprintf(buf, n, "%.1f KiB", bytes / 1024.0);
	return buf;
}

/*
 * Out of line: the heap's base address is also the address of the first
 * object allocated, and the conservative collector would take a copy of
 * it left in main()'s frame for a pointer to that object.
 */
static __attribute__((noinline)) void describe(struct gca_arena *a, int id,
					       size_t heap_size)
{
	char b[32];

	printf("Opened arena %d: a %s heap mapped at %p\n", id,
	       mib(heap_size, b, sizeof(b)), (void *)gca_ctrl(a)->heap_base);
}

/* Out of line, so that no pointer into the tree outlives the call. */
static __attribute__((noinline)) struct node *
build(struct gca_arena *a, int depth, uint64_t *next)
{
	struct node *n;

	if (!depth)
		return NULL;
	n = gca_alloc(a, sizeof(*n));
	if (!n) {
		perror("gca_alloc");
		exit(1);
	}
	n->id = (*next)++;
	n->check = mix(n->id);
	gca_store(a, (void **)&n->left, build(a, depth - 1, next));
	gca_store(a, (void **)&n->right, build(a, depth - 1, next));
	return n;
}

static __attribute__((noinline)) uint64_t verify(const struct node *n)
{
	if (!n)
		return 0;
	if (n->check != mix(n->id))
		return 1ULL << 63;
	return 1 + verify(n->left) + verify(n->right);
}

/* Build, verify, survive a collection, and drop the tree. */
static __attribute__((noinline)) int grow_tree(struct gca_arena *a,
					       struct gca_memstats *ms)
{
	uint64_t next = 0, count;
	struct node *root;
	double t0;
	char b[32];

	printf("\nBuilding a binary tree of %u nodes (depth %d)...\n",
	       (1U << DEPTH) - 1, DEPTH);
	t0 = now();
	root = build(a, DEPTH, &next);
	printf("  built in %.2f s\n", now() - t0);

	gca_collect(a);		/* the tree is live: it must survive */
	count = verify(root);
	if (count != (1U << DEPTH) - 1) {
		printf("  tree damaged: %" PRIu64 " good nodes\n", count);
		return -1;
	}
	printf("  survived a collection: all %" PRIu64 " nodes verified\n",
	       count);
	gca_read_memstats(a, ms);
	printf("  heap_alloc %s in %" PRIu64 " objects, %u cycles so far "
	       "(the pacer ran some while the tree grew)\n",
	       mib(ms->heap_alloc, b, sizeof(b)), ms->heap_objects,
	       ms->num_gc);
	return 0;
}

/* Zero the stack the tree code used, so no stale pointer lingers. */
static __attribute__((noinline)) void scrub_stack(void)
{
	char buf[64 * 1024];

	memset(buf, 0, sizeof(buf));
	__asm__ __volatile__("" : : "r"(buf) : "memory");
}

int main(void)
{
	struct gca_params p = { .heap_size = 256UL << 20 };
	struct gca_memstats with, without;
	struct gca_arena *a;
	char b1[32], b2[32];
	int ret, id;
	double t0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("gcarena demo: a garbage-collected heap for C, collected by the kernel\n");
	ret = gca_open(&a, &p);
	if (ret) {
		fprintf(stderr, "gca_open: %s%s\n", strerror(-ret),
			ret == -ENOENT ?
			" (is the module loaded? insmod gcarena.ko)" : "");
		return 1;
	}
	id = gca_arena_id(a);
	describe(a, id, p.heap_size);

	printf("\n/proc/gcarena/arenas:\n");
	show_file("/proc/gcarena/arenas", NULL);
	show_arena(id, "Before anything");

	if (grow_tree(a, &with))
		return 1;
	show_arena(id, "With the tree alive");

	printf("\nDropping the tree (no free()), then gca_collect()...\n");
	scrub_stack();
	t0 = now();
	ret = gca_collect(a);
	if (ret) {
		fprintf(stderr, "gca_collect: %s\n", strerror(-ret));
		return 1;
	}
	printf("  collected in %.3f s\n", now() - t0);
	gca_read_memstats(a, &without);
	show_arena(id, "After the collection");

	printf("\nheap_alloc fell from %s to %s; %" PRIu64 " objects freed; "
	       "last pause %.2f ms\n",
	       mib(with.heap_alloc, b1, sizeof(b1)),
	       mib(without.heap_alloc, b2, sizeof(b2)),
	       without.frees - with.frees,
	       without.pause_ns[(without.num_gc + 255) % 256] / 1e6);

	printf("\n/proc/gcarena/arenas:\n");
	show_file("/proc/gcarena/arenas", NULL);
	gca_close(a);

	if (without.heap_alloc >= with.heap_alloc / 2) {
		printf("\nUnexpected: the tree was not freed.\n");
		return 1;
	}
	printf("\nDone: the tree was garbage, and the kernel collected it.\n");
	return 0;
}
