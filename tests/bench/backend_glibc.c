// SPDX-License-Identifier: GPL-2.0
/*
 * bench.h backend: glibc's malloc, default tunables.  bench_alloc() is
 * calloc() (the collectors hand out zeroed memory for objects that may
 * hold pointers), bench_alloc_noscan() malloc(); benchmarks free what
 * they drop (BENCH_EXPLICIT_FREE).
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <gnu/libc-version.h>
#include "bench.h"

const char *const bench_backend = "glibc";
static char info[128];

void bench_init(const struct bench_opts *o)
{
	(void)o;
	snprintf(info, sizeof(info), "glibc %s malloc/free, default tunables",
		 gnu_get_libc_version());
}

void bench_fini(void)
{
}

void *bench_alloc(size_t size)
{
	void *p = calloc(1, size);

	if (!p)
		bench_die("calloc(%zu) failed", size);
	return p;
}

void *bench_alloc_noscan(size_t size)
{
	void *p = malloc(size);

	if (!p)
		bench_die("malloc(%zu) failed", size);
	return p;
}

void bench_free(void *p)
{
	free(p);
}

void bench_collect(void)
{
}

void bench_thread_register(void)
{
}

void bench_thread_unregister(void)
{
}

int bench_pause_hist(uint64_t *hist, int max)
{
	(void)hist;
	(void)max;
	return 0;
}

void bench_blocking_begin(void)
{
}

void bench_blocking_end(void)
{
}

uint64_t bench_collector_cpu_ns(void)
{
	return 0;
}

int bench_gc_phase(void)
{
	return -1;
}

uint64_t bench_num_gc(void)
{
	return 0;
}

int bench_pauses(uint64_t *ns, int max, uint64_t *lost)
{
	(void)ns;
	(void)max;
	(void)lost;
	return 0;
}

void bench_heap_stats(struct bench_heap *hs)
{
	struct mallinfo2 mi = mallinfo2();

	hs->heap_sys = mi.arena + mi.hblkhd;
	hs->heap_backed = hs->heap_sys;
	hs->sys = hs->heap_sys;
	hs->heap_alloc = mi.uordblks + mi.hblkhd;
	hs->heap_marked = 0;
	hs->heap_inuse = 0;
	hs->next_gc = 0;
	hs->num_gc = 0;
	hs->last_pause_ns = 0;
	hs->total_pause_ns = 0;
	hs->assist_ns = 0;
}

const char *bench_backend_info(void)
{
	return info;
}
