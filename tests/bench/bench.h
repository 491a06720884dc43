/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The allocation interface every benchmark is written against, once.
 * Each benchmark is linked (statically) with one of three backends:
 *
 *   backend_gcarena.c  gcarena (userlib/libgcarena.a, the kernel module)
 *   backend_boehm.c    Boehm GC (Debian's libgc.a: GC_MALLOC,
 *                      GC_MALLOC_ATOMIC, thread-local allocation)
 *   backend_glibc.c    glibc calloc/malloc/free, freeing explicitly
 *
 * and the Makefile defines BENCH_GCARENA, BENCH_BOEHM or BENCH_GLIBC for
 * the inline parts (bench_store, BENCH_EXPLICIT_FREE).
 *
 * Contract, the union of the three:
 *  - bench_alloc(): memory that may hold pointers, zeroed;
 *    bench_alloc_noscan(): pointer-free, not necessarily zeroed;
 *  - every store of a heap pointer into a heap object goes through
 *    bench_store() (gcarena's write barrier);
 *  - bench_free() is a no-op for the collectors; benchmarks free what
 *    they drop only when BENCH_EXPLICIT_FREE is true, so that the
 *    collectors do not pay for walking dead structures;
 *  - a thread other than main calls bench_thread_register() first and
 *    bench_thread_unregister() before it exits; pointers it needs are
 *    passed through memory its creator keeps reachable until then.
 *
 * Output: every result is one line on stdout,
 *
 *   R <TAB> bench <TAB> backend <TAB> param <TAB> stat <TAB> value <TAB> unit
 *
 * gathered by tests/bench/aggregate.py into tests/bench/results.tsv.
 */
#ifndef _GCA_BENCH_H
#define _GCA_BENCH_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <time.h>

#if defined(BENCH_GCARENA)
#include "gcarena.h"
extern struct gca_arena *bench_arena;
#define BENCH_EXPLICIT_FREE	0
#define BENCH_IS_GC		1
static inline void bench_store(void **slot, void *v)
{
	gca_store(bench_arena, slot, v);
}
#elif defined(BENCH_BOEHM)
#define BENCH_EXPLICIT_FREE	0
#define BENCH_IS_GC		1
static inline void bench_store(void **slot, void *v)
{
	*slot = v;
}
#elif defined(BENCH_GLIBC)
#define BENCH_EXPLICIT_FREE	1
#define BENCH_IS_GC		0
static inline void bench_store(void **slot, void *v)
{
	*slot = v;
}
#else
#error "define BENCH_GCARENA, BENCH_BOEHM or BENCH_GLIBC"
#endif

/* Arguments of bench_init(); zero means the backend's default. */
struct bench_opts {
	int gc_percent;		/* 0 = default (100); GOGC for gcarena only */
	int64_t memory_limit;	/* 0 = none; bytes (gcarena only) */
	size_t heap_size;	/* 0 = default; gcarena arena reservation */
};

/* Name of the backend: "gcarena", "boehm", "glibc". */
extern const char *const bench_backend;

void bench_init(const struct bench_opts *o);
void bench_fini(void);
void *bench_alloc(size_t size);
void *bench_alloc_noscan(size_t size);
void bench_free(void *p);
void bench_collect(void);
void bench_thread_register(void);
void bench_thread_unregister(void);

/*
 * Pauses (stop-the-world, ns) that completed since the previous call, in
 * order, at most max of them; *lost counts those that could not be read
 * any more (gcarena's ring holds 256).  0 for glibc.
 */
int bench_pauses(uint64_t *ns, int max, uint64_t *lost);
/*
 * CPU time (ns) the collector spent outside this process so far:
 * gcarena's per-arena kernel thread ("gcarena/ID", from its
 * /proc/PID/schedstat); 0 for backends that collect in the process.
 */
uint64_t bench_collector_cpu_ns(void);
/*
 * Every pause of every thread so far as a log2 histogram (hist[i]
 * counts pauses of [2^i, 2^(i+1)) ns): gcarena's pause_hist, when the
 * module has one (concurrent marking).  Returns the number of buckets
 * filled, 0 when the backend has no such figure.
 */
int bench_pause_hist(uint64_t *hist, int max);
/*
 * Around a call that may block for long (a join, a barrier): gcarena
 * parks the thread (gca_enter_blocking) where the library has it, so
 * that the collector need not signal it; no-ops elsewhere.
 */
void bench_blocking_begin(void);
void bench_blocking_end(void);
/*
 * The collector's phase as the backend publishes it, cheaply: gcarena's
 * control page (enum gca_phase: 0 off, 2 mark, 3 mark termination,
 * 4 sweep); -1 where there is none.
 */
int bench_gc_phase(void);
/* Number of completed collections so far (cheap). */
uint64_t bench_num_gc(void);

/* Heap figures in bytes, 0 where the backend has none. */
struct bench_heap {
	uint64_t heap_sys;	/* heap address space grown (Go's HeapSys) */
	uint64_t heap_backed;	/* heap_sys less released (HeapSys - HeapReleased) */
	uint64_t sys;		/* backed heap plus collector metadata */
	uint64_t heap_alloc;	/* allocated, not yet swept */
	uint64_t heap_marked;	/* live after the last mark */
	uint64_t num_gc;
	uint64_t last_pause_ns;
	uint64_t total_pause_ns;
	uint64_t assist_ns;	/* mark assists, all threads (gcarena) */
	uint64_t heap_inuse;	/* in-use spans (gcarena; 0: not known) */
	uint64_t next_gc;	/* heap goal (gcarena; 0: not known) */
};
void bench_heap_stats(struct bench_heap *hs);
/* A line of description of the backend's configuration (report). */
const char *bench_backend_info(void);

/* ---- helpers (bench_util.c) ---- */
static inline uint64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}
static inline uint64_t bench_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}
/* One result line (see above). */
void bench_result(const char *bench, const char *param, const char *stat,
		  double value, const char *unit);
/* Resident set size of this process, bytes (/proc/self/statm). */
uint64_t bench_rss(void);
/* Fatal error. */
void bench_die(const char *fmt, ...) __attribute__((format(printf, 1, 2),
						     noreturn));
/* Integer option "name=value" from argv, or def. */
long bench_arg(int argc, char **argv, const char *name, long def);
static inline uint64_t bench_rand(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

/*
 * Where the CPU time went between two snapshots: user and system time
 * of the process (getrusage: system time is gcarena's ioctls, page
 * faults, ...), the collector's own thread outside the process
 * (bench_collector_cpu_ns), and mark assists (gcarena, when the module
 * counts them).
 */
struct bench_cpu {
	uint64_t user_ns, sys_ns, collector_ns, assist_ns, minflt;
};
void bench_cpu_snapshot(struct bench_cpu *c);
/* Results user_s, sys_s, minflt, collector_cpu_s, assist_s since *start. */
void bench_cpu_results(const char *bench, const char *param,
		       const struct bench_cpu *start);

/*
 * The live heap of pauses, markrate and heapover is a table of units: a
 * record of unit/2 bytes pointing to two leaves of unit/4 bytes, every
 * object scanned (BENCH_UNIT gives size classes 128 and 64).  A unit is
 * filled from its number k so that bench_unit_check() can tell that a
 * unit still reachable was not freed and reused.  Inline, so that a
 * constant unit size is folded in as when each benchmark had its own.
 */
#define BENCH_UNIT	256

static inline void *bench_unit_new(size_t unit, uint64_t k)
{
	size_t rec_size = unit / 2, leaf_size = unit / 4, i;
	void **r = bench_alloc(rec_size);
	uint64_t *l0 = bench_alloc(leaf_size), *l1 = bench_alloc(leaf_size);
	uint64_t *d = (uint64_t *)r;

	for (i = 0; i < leaf_size / 8; i++)
		l0[i] = l1[i] = k + i;
	for (i = 2; i < rec_size / 8; i++)
		d[i] = k ^ i;
	bench_store(&r[0], l0);
	bench_store(&r[1], l1);
	return r;
}

static inline void bench_unit_check(void *unit_ptr, size_t unit)
{
	void **r = unit_ptr;
	uint64_t *d = unit_ptr, *l0 = r[0], *l1 = r[1], k = d[2] ^ 2;
	size_t i;

	for (i = 2; i < unit / 2 / 8; i++)
		if (d[i] != (k ^ i))
			bench_die("live record %p overwritten", unit_ptr);
	for (i = 0; i < unit / 4 / 8; i++)
		if (l0[i] != k + i || l1[i] != k + i)
			bench_die("live leaf of %p overwritten", unit_ptr);
}

/* A unit dropped: freed where the backend wants it (BENCH_EXPLICIT_FREE). */
static inline void bench_unit_free(void *unit_ptr)
{
	void **r = unit_ptr;

	if (!BENCH_EXPLICIT_FREE)
		return;
	bench_free(r[0]);
	bench_free(r[1]);
	bench_free(r);
}

/* Pause collection for benchmarks that record them (bench_util.c). */
struct bench_pauselog {
	uint64_t *ns;
	size_t n, cap;
	uint64_t lost;
};
/* Take the pauses completed since the last call into the log. */
void bench_pauselog_poll(struct bench_pauselog *pl);
void bench_pauselog_free(struct bench_pauselog *pl);

#endif /* _GCA_BENCH_H */
