// SPDX-License-Identifier: GPL-2.0
/*
 * bench.h backend: gcarena, through the public API of userlib/gcarena.h
 * only, so that later library and module versions are what is measured.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "bench.h"

const char *const bench_backend = "gcarena";
struct gca_arena *bench_arena;

static uint32_t seen_gc;	/* pauses taken by bench_pauses() so far */
static char info[256];

void bench_init(const struct bench_opts *o)
{
	struct gca_params p = { 0 };
	int ret;

	p.heap_size = o->heap_size;
	if (o->gc_percent) {
		p.flags |= GCA_PARAM_GC_PERCENT;
		p.gc_percent = o->gc_percent;
	}
	if (o->memory_limit) {
		p.flags |= GCA_PARAM_MEMORY_LIMIT;
		p.memory_limit = o->memory_limit;
	}
	ret = gca_open(&bench_arena, &p);
	if (ret)
		bench_die("gca_open: %s", strerror(-ret));
	snprintf(info, sizeof(info),
		 "gcarena (static libgcarena.a, gcarena.ko), %s",
#ifdef GCA_FEAT_CONCURRENT
		 "API with concurrent marking (write barrier, parking)"
#else
		 "API without concurrent marking (stop-the-world mark)"
#endif
		 );
}

void bench_fini(void)
{
	gca_close(bench_arena);
	bench_arena = NULL;
}

void *bench_alloc(size_t size)
{
	void *p = gca_alloc(bench_arena, size);

	if (!p)
		bench_die("gca_alloc(%zu): %s", size, strerror(errno));
	return p;
}

void *bench_alloc_noscan(size_t size)
{
	void *p = gca_alloc_noscan(bench_arena, size);

	if (!p)
		bench_die("gca_alloc_noscan(%zu): %s", size, strerror(errno));
	return p;
}

void bench_free(void *p)
{
	(void)p;
}

void bench_collect(void)
{
	int ret = gca_collect(bench_arena);

	if (ret)
		bench_die("gca_collect: %s", strerror(-ret));
}

void bench_thread_register(void)
{
	int ret = gca_register_thread(bench_arena);

	if (ret)
		bench_die("gca_register_thread: %s", strerror(-ret));
}

void bench_thread_unregister(void)
{
	int ret = gca_unregister_thread(bench_arena);

	if (ret)
		bench_die("gca_unregister_thread: %s", strerror(-ret));
}

static struct gca_memstats *read_stats(void)
{
	static __thread struct gca_memstats ms;
	int ret = gca_read_memstats(bench_arena, &ms);

	if (ret)
		bench_die("gca_read_memstats: %s", strerror(-ret));
	return &ms;
}

/* The pid of the arena's collector thread, "gcarena/ID"; 0 if not found. */
static long collector_pid(void)
{
	static long pid = -1;
	char want[32], path[300], comm[32];
	struct dirent *d;
	DIR *dir;
	FILE *f;

	if (pid >= 0)
		return pid;
	pid = 0;
	snprintf(want, sizeof(want), "gcarena/%d\n", gca_arena_id(bench_arena));
	dir = opendir("/proc");
	if (!dir)
		return 0;
	while ((d = readdir(dir))) {
		if (d->d_name[0] < '1' || d->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/comm", d->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fgets(comm, sizeof(comm), f) && !strcmp(comm, want))
			pid = atol(d->d_name);
		fclose(f);
		if (pid)
			break;
	}
	closedir(dir);
	return pid;
}

uint64_t bench_collector_cpu_ns(void)
{
	unsigned long long ns = 0;
	char path[64];
	long pid = collector_pid();
	FILE *f;

	if (!pid)
		return 0;
	snprintf(path, sizeof(path), "/proc/%ld/schedstat", pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	if (fscanf(f, "%llu", &ns) != 1)
		ns = 0;
	fclose(f);
	return ns;
}

int bench_pause_hist(uint64_t *hist, int max)
{
#ifdef GCA_PAUSE_HIST_BUCKETS
	struct gca_memstats *ms = read_stats();
	int i;

	for (i = 0; i < max && i < GCA_PAUSE_HIST_BUCKETS; i++)
		hist[i] = ms->pause_hist[i];
	return i;
#else
	(void)hist;
	(void)max;
	return 0;
#endif
}

void bench_blocking_begin(void)
{
#ifdef GCA_FEAT_CONCURRENT
	gca_enter_blocking(bench_arena);
#endif
}

void bench_blocking_end(void)
{
#ifdef GCA_FEAT_CONCURRENT
	gca_leave_blocking(bench_arena);
#endif
}

int bench_gc_phase(void)
{
	return __atomic_load_n(&gca_ctrl(bench_arena)->phase, __ATOMIC_RELAXED);
}

uint64_t bench_num_gc(void)
{
	return gca_num_gc(bench_arena);
}

int bench_pauses(uint64_t *ns, int max, uint64_t *lost)
{
	struct gca_memstats *ms;
	uint32_t n, i, first;
	int k = 0;

	if (gca_num_gc(bench_arena) == seen_gc)
		return 0;
	ms = read_stats();
	n = ms->num_gc;
	first = seen_gc + 1;
	if (n - seen_gc > GCA_NUM_PAUSE) {
		*lost += n - seen_gc - GCA_NUM_PAUSE;
		first = n - GCA_NUM_PAUSE + 1;
	}
	for (i = first; i <= n && k < max; i++)
		ns[k++] = ms->pause_ns[(i + GCA_NUM_PAUSE - 1) % GCA_NUM_PAUSE];
	seen_gc = i - 1;
	return k;
}

void bench_heap_stats(struct bench_heap *hs)
{
	struct gca_memstats *ms = read_stats();

	hs->heap_sys = ms->heap_sys;
	hs->heap_backed = ms->heap_sys - ms->heap_released;
	hs->sys = ms->sys - ms->heap_released;
	hs->heap_alloc = ms->heap_alloc;
	hs->heap_marked = ms->heap_marked;
	hs->heap_inuse = ms->heap_inuse;
	hs->next_gc = ms->next_gc;
	hs->num_gc = ms->num_gc;
	hs->last_pause_ns = ms->num_gc ?
		ms->pause_ns[(ms->num_gc + GCA_NUM_PAUSE - 1) % GCA_NUM_PAUSE] : 0;
	hs->total_pause_ns = ms->pause_total_ns;
#ifdef GCA_PAUSE_HIST_BUCKETS
	hs->assist_ns = ms->assist_ns;
#else
	hs->assist_ns = 0;
#endif
}

const char *bench_backend_info(void)
{
	return info;
}
