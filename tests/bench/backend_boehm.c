// SPDX-License-Identifier: GPL-2.0
/*
 * bench.h backend: the Boehm-Demers-Weiser collector, Debian's static
 * libgc.a (8.2.x; built with --enable-threads=posix, which in 8.x turns
 * on THREAD_LOCAL_ALLOC and PARALLEL_MARK: the symbols GC_init_thread_local
 * and GC_start_mark_threads_inner are in the archive, and
 * GC_get_parallel() is printed at start).  Default settings otherwise:
 * not incremental, GC_free_space_divisor 3, lazy sweeping, all interior
 * pointers recognised.
 *
 * Threads are registered explicitly (GC_allow_register_threads,
 * GC_register_my_thread), as gcarena's are, rather than through the
 * pthread_create redirect.
 *
 * Pauses: GC_set_on_collection_event(), from GC_EVENT_PRE_STOP_WORLD to
 * GC_EVENT_POST_START_WORLD (the world is stopped for the whole mark;
 * sweeping is lazy, done by allocating threads afterwards).
 */
#define GC_THREADS
#define GC_NO_THREAD_REDIRECTS
#include <gc/gc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "bench.h"

const char *const bench_backend = "boehm";

#define RING 4096
static uint64_t ring[RING];
static volatile uint64_t ring_n;	/* pauses recorded */
static uint64_t seen;
static uint64_t stop_t0, total_pause, last_pause;
static char info[256];

static void GC_CALLBACK on_event(GC_EventType e)
{
	uint64_t t;

	/* Called with the allocation lock held, by the collecting thread. */
	switch (e) {
	case GC_EVENT_PRE_STOP_WORLD:
		stop_t0 = bench_now_ns();
		break;
	case GC_EVENT_POST_START_WORLD:
		if (!stop_t0)
			break;
		t = bench_now_ns() - stop_t0;
		stop_t0 = 0;
		ring[ring_n % RING] = t;
		total_pause += t;
		last_pause = t;
		__atomic_store_n(&ring_n, ring_n + 1, __ATOMIC_RELEASE);
		break;
	default:
		break;
	}
}

void bench_init(const struct bench_opts *o)
{
	(void)o;	/* gc_percent and limits are gcarena's knobs */
	GC_INIT();
	GC_allow_register_threads();
	GC_set_on_collection_event(on_event);
	snprintf(info, sizeof(info),
		 "Boehm GC %d.%d.%d (Debian libgc.a), parallel markers=%d, "
		 "thread-local alloc, free_space_divisor=%lu, incremental=%d",
		 GC_VERSION_MAJOR, GC_VERSION_MINOR, GC_VERSION_MICRO,
		 GC_get_parallel() + 1, (unsigned long)GC_get_free_space_divisor(),
		 GC_is_incremental_mode());
}

void bench_fini(void)
{
}

void *bench_alloc(size_t size)
{
	void *p = GC_MALLOC(size);

	if (!p)
		bench_die("GC_MALLOC(%zu) failed", size);
	return p;
}

void *bench_alloc_noscan(size_t size)
{
	void *p = GC_MALLOC_ATOMIC(size);

	if (!p)
		bench_die("GC_MALLOC_ATOMIC(%zu) failed", size);
	return p;
}

void bench_free(void *p)
{
	(void)p;
}

void bench_collect(void)
{
	GC_gcollect();
}

void bench_thread_register(void)
{
	struct GC_stack_base sb;

	if (GC_get_stack_base(&sb) != GC_SUCCESS)
		bench_die("GC_get_stack_base failed");
	if (GC_register_my_thread(&sb) != GC_SUCCESS)
		bench_die("GC_register_my_thread failed");
}

void bench_thread_unregister(void)
{
	GC_unregister_my_thread();
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
	return __atomic_load_n(&ring_n, __ATOMIC_ACQUIRE);
}

int bench_pauses(uint64_t *ns, int max, uint64_t *lost)
{
	uint64_t n = __atomic_load_n(&ring_n, __ATOMIC_ACQUIRE);
	int k = 0;

	if (n - seen > RING) {
		*lost += n - seen - RING;
		seen = n - RING;
	}
	while (seen < n && k < max)
		ns[k++] = ring[seen++ % RING];
	return k;
}

void bench_heap_stats(struct bench_heap *hs)
{
	struct GC_prof_stats_s st;

	GC_get_prof_stats(&st, sizeof(st));
	hs->heap_sys = st.heapsize_full;
	hs->heap_backed = st.heapsize_full - st.unmapped_bytes;
	hs->sys = hs->heap_backed;
	hs->heap_alloc = st.heapsize_full - st.free_bytes_full;
	hs->heap_marked = 0;
	hs->heap_inuse = 0;
	hs->next_gc = 0;
	hs->num_gc = st.gc_no;
	hs->last_pause_ns = last_pause;
	hs->total_pause_ns = total_pause;
	hs->assist_ns = 0;
}

const char *bench_backend_info(void)
{
	return info;
}
