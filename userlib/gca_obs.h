/* SPDX-License-Identifier: (LGPL-2.1 OR MIT) */
/*
 * libgcarena internals of the observability files: obs.c (GCARENA_DEBUG,
 * per-arena state), gctrace.c (the monitor thread and its lines),
 * wait.c (gca_wait_cycle), profile.c (heap sampling), pprof.c (the
 * profile.proto writer, with protobuf.c and symbolize.c behind
 * gca_pprof.h) and pool.c.  Included by those files only; the rest of
 * the library sees the hooks declared at the end of gca_int.h.
 */
#ifndef _LIBGCARENA_OBS_H
#define _LIBGCARENA_OBS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "gca_int.h"

/* Go's default runtime.MemProfileRate */
#define GCA_PROF_RATE_DEFAULT	(512 * 1024)
/* Frames kept per sample (Go keeps 32; C call chains run deeper). */
#define GCA_PROF_MAX_STACK	64

/* One (call stack, size) bucket of the heap profile (Go's memRecord). */
struct gca_prof_bucket {
	struct gca_prof_bucket *hnext;	/* hash chain */
	uint64_t hash;
	uint64_t size;			/* bytes per object */
	uint64_t allocs, alloc_bytes;	/* sampled allocations */
	uint64_t frees, free_bytes;	/* of those, found freed */
	unsigned int nstk;
	uintptr_t stk[];		/* return addresses, leaf first */
};

/* A sampled object not yet found freed. */
struct gca_prof_live {
	uintptr_t addr;
	struct gca_prof_bucket *b;
};

#define GCA_PROF_HASH		1024

struct gca_obs {
	struct gca_arena *arena;
	struct gca_obs *next;		/* all of them, for fork() */
	pthread_mutex_t lock;		/* everything below but the profile */
	pthread_cond_t cond;		/* the monitor finished a cycle */

	/* GCARENA_DEBUG as read at gca_open() */
	int gctrace;

	/* wait.c: num_gc at the program's last gca_read_memstats() */
	uint64_t prog_seen_gc;

	/* gctrace.c: the monitor thread */
	bool mon_running;		/* started, not yet joined */
	bool mon_exited;		/* it stopped (under lock) */
	bool mon_stop;			/* gca_close() wants it gone */
	pthread_t mon;
	int stop_fd;			/* eventfd: gca_close() stops it, a
					 * gca_read_memstats() kicks it */
	uint64_t created_mono_ns;	/* about when the kernel made the arena */
	uint64_t mon_gc;		/* last cycle the monitor reported */
	uint64_t prev_marked;		/* heap_marked after cycle mon_gc */
	uint64_t prev_talloc;		/* total_alloc at the end of it */
	uint64_t prev_goal;		/* next_gc after it: the next goal */
	uint64_t prev_frees;
	uint64_t prev_released;
	uint64_t prev_forced;
	uint64_t prev_cpu_ns;		/* collector CPU, derived */
	uint64_t prev_assist_ns;	/* mark assist time */

	/* profile.c */
	pthread_mutex_t prof_lock;
	int64_t rate;			/* MemProfileRate: 0 = off */
	int64_t last_rate;		/* last non-zero rate, for scaling */
	uint64_t prof_gc;		/* num_gc at the last liveness query */
	struct gca_prof_bucket *buckets[GCA_PROF_HASH];
	unsigned int nbuckets;
	struct gca_prof_live *live;
	size_t nlive, live_cap;
};

/* obs.c */
uint64_t __gca_mono_ns(void) __hidden;
uint64_t __gca_real_ns(void) __hidden;
uint64_t __gca_prog_start_ns(void) __hidden;	/* CLOCK_REALTIME */
int __gca_read_stats_raw(struct gca_arena *a, struct gca_stats *st) __hidden;

/* gctrace.c */
int __gca_monitor_start(struct gca_obs *o) __hidden;
void __gca_monitor_stop(struct gca_obs *o) __hidden;

/* profile.c */
void __gca_prof_init(struct gca_obs *o, int64_t rate) __hidden;
void __gca_prof_free(struct gca_obs *o) __hidden;
/* Move sampled objects the collector freed to the freed counts. */
int __gca_prof_refresh(struct gca_obs *o, bool force) __hidden;

/* pprof.c: the profile as profile.proto, under o->prof_lock */
int __gca_pprof_write(struct gca_obs *o, int fd) __hidden;

/* Go's scaleHeapSample: unsample a bucket's counts taken at rate. */
void __gca_prof_scale(uint64_t count, uint64_t bytes, int64_t rate,
		      int64_t *scount, int64_t *sbytes) __hidden;

#endif /* _LIBGCARENA_OBS_H */
