/* SPDX-License-Identifier: (LGPL-2.1 OR MIT) */
/*
 * libgcarena internals, shared by the library's files and nothing else.
 */
#ifndef _LIBGCARENA_INT_H
#define _LIBGCARENA_INT_H

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>

#include "gcarena.h"

#define __hidden	__attribute__((visibility("hidden")))
#define likely(x)	__builtin_expect(!!(x), 1)
#define unlikely(x)	__builtin_expect(!!(x), 0)
#define barrier()	__asm__ __volatile__("" : : : "memory")

/* Zero a dead local for good: memset() alone may be optimised away. */
static inline void gca_wipe(void *p, size_t n)
{
	memset(p, 0, n);
	__asm__ __volatile__("" : : "r"(p) : "memory");
}

/* Go's size-to-class lookup geometry (runtime/sizeclasses.go) */
#define GCA_SMALL_SIZE_MAX	1024
#define GCA_SMALL_SIZE_DIV	8
#define GCA_LARGE_SIZE_DIV	128
#define GCA_NUM_CLASS8		(GCA_SMALL_SIZE_MAX / GCA_SMALL_SIZE_DIV + 1)
#define GCA_NUM_CLASS128	\
	((GCA_MAX_SMALL_SIZE - GCA_SMALL_SIZE_MAX) / GCA_LARGE_SIZE_DIV + 1)

/* One cached span: a copy of what GCA_IOC_REFILL handed out. */
/*
 * pos is the span's heap offset + 1, not its address: the address of slot
 * 0, left in a callee-saved register or a stack slot by the allocation
 * path, is a word the collector finds when it scans the stack, which
 * would keep slot 0's object alive (conservatively, and against the
 * checkmark's verdict) long after the program dropped it.
 */
struct gca_cspan {
	uintptr_t pos;		/* heap offset + 1; 0: nothing cached */
	uint32_t elemsize;
	uint32_t nelems;
	uint32_t nwords;	/* words of free_bits that may have bits set */
	uint32_t cursor;	/* no set bit in the words below it */
	uint32_t freeindex;	/* highest slot allocated + 1 */
	uint32_t needzero;
	uint64_t free_bits[GCA_FREE_WORDS];
};

/* Spans on their way back to the kernel: at most one per span class from
 * the cache, plus a cache's worth more if an ioctl carrying them failed
 * with EAGAIN or EINTR and the cache refilled meanwhile (it cannot, but
 * the room costs nothing). */
#define GCA_MAX_RET	(2 * GCA_NUM_SPAN_CLASSES)

/*
 * The write barrier's buffer (Go's wbBuf): 512 values, 256 stores with
 * the barrier on, flushed to the kernel (GCA_IOC_HANDSHAKE wbuf/nwbuf)
 * when full and at every handshake.
 */
#define GCA_WBUF_ENTRIES	512

/*
 * Callee-saved registers of a parked thread (gca_enter_blocking), kept in
 * a root range of the arena, one slot per kernel tid: x86-64 rbx, rbp,
 * r12-r15; arm64 x19-x30; elsewhere a jmp_buf's first words.
 */
#if defined(__aarch64__)
#define GCA_PARK_WORDS		16
#else
#define GCA_PARK_WORDS		8
#endif

/*
 * A thread's cache for one arena (Go's mcache).  Only its thread touches
 * it, from normal context or from the preempt signal handler; in_lib tells
 * the handler that normal context is in the middle of using it.  close()
 * of the arena by another thread only sets dead (and unlinks it from the
 * arena's list); the owning thread frees it.
 */
struct gca_tcache {
	struct gca_arena *arena;
	const struct gca_ctrl *ctrl;	/* arena->head.ctrl, one load less */
	struct gca_tcache *tnext;	/* this thread's caches */
	struct gca_tcache *anext;	/* the arena's caches, under its lock */
	int dead;			/* arena closed: never dereference it */
	volatile unsigned int in_lib;	/* nesting of critical sections */
	volatile int pending;		/* a handshake waits for !in_lib */
	uint64_t acked;			/* last hs_seq answered */
	uint32_t tid;
	uintptr_t stack_lo, stack_hi;
	/* while the preempt signal's handler answers: its frame's end */
	uintptr_t sig_frame_end;
	uintptr_t tiny;			/* current 16-byte tiny block */
	uintptr_t tinyoffset;
	/*
	 * Concurrent marking (barrier.c, park.c): the write barrier's buffer,
	 * filled inside gca_store()'s section (__gca_ts.in_store) or the
	 * library's (in_lib), emptied by every handshake; the park state.
	 */
	unsigned int nwbuf;
	volatile int parked;		/* the kernel counts it as parked */
	unsigned int park_depth;	/* gca_enter_blocking() nesting */
	int park_slot;			/* its registers are in the park table */
	uint64_t wbuf[GCA_WBUF_ENTRIES];
	unsigned int nret;
	struct gca_span_ret ret[GCA_MAX_RET];
	struct gca_cspan spans[GCA_NUM_SPAN_CLASSES];
	/* heap profile sampling (profile.c); only this thread writes them,
	 * gca_set_mem_profile_rate() may reset next_sample to 0 */
	int64_t next_sample;		/* bytes left before the next sample */
	uint64_t prof_rng;		/* sampling PRNG state, 0 = unseeded */
};

struct gca_arena {
	struct gca_arena_head head;	/* first: the public inlines read it */
	int fd;
	int id;
	int sig;			/* preempt signal, 0 = none */
	size_t ctrl_size;
	size_t heap_size;
	void *map_base;			/* the reservation the heap sits in */
	size_t map_size;
	uint64_t features;
	uint32_t max_threads;
	unsigned int tiny_spanclass;
	pthread_mutex_t lock;		/* protects caches */
	struct gca_tcache *caches;
	struct gca_arena *next;		/* all arenas, under __gca_arenas_lock */
	/* parked threads' registers, a root range made at the first park
	 * (under lock); GCA_PARK_WORDS words per tid */
	uintptr_t *park_regs;
	size_t park_size;
	uint32_t class_to_size[GCA_NUM_SIZE_CLASSES];
	uint32_t class_to_npages[GCA_NUM_SIZE_CLASSES];
	uint8_t size_to_class8[GCA_NUM_CLASS8];
	uint8_t size_to_class128[GCA_NUM_CLASS128];
	struct gca_obs *obs;		/* gctrace, wait, profile: obs.c */
};

/* The last cache this thread used, and all of them. */
extern __thread struct gca_tcache *__gca_last
	__attribute__((tls_model("initial-exec"))) __hidden;
extern __thread struct gca_tcache *__gca_tlist
	__attribute__((tls_model("initial-exec"))) __hidden;

static inline int __gca_sys_ioctl(int fd, unsigned long cmd, void *arg)
{
	return ioctl(fd, cmd, arg) < 0 ? -errno : 0;
}

static inline uint64_t __gca_hs_seq(const struct gca_ctrl *ctrl)
{
	return __atomic_load_n(&ctrl->hs_seq, __ATOMIC_RELAXED);
}

static inline bool __gca_tc_dead(const struct gca_tcache *tc)
{
	return __atomic_load_n(&tc->dead, __ATOMIC_RELAXED);
}

/* thread.c */
extern pthread_mutex_t __gca_arenas_lock __hidden;
extern struct gca_arena *__gca_arenas __hidden;
int __gca_lib_init(void) __hidden;
struct gca_tcache *__gca_tc_find(struct gca_arena *a) __hidden;
struct gca_tcache *__gca_tc_slow(struct gca_arena *a) __hidden;
int __gca_register(struct gca_arena *a, struct gca_tcache **tcp) __hidden;
int __gca_unregister(struct gca_tcache *tc) __hidden;
void __gca_forget(struct gca_tcache *tc) __hidden;
int __gca_handshake(struct gca_tcache *tc, unsigned long cmd,
		    bool force) __hidden;
void __gca_pending(struct gca_tcache *tc) __hidden;
int __gca_ioctl_retry(struct gca_arena *a, unsigned long cmd,
		      void *arg) __hidden;
int __gca_sig_get(int sig) __hidden;
void __gca_sig_put(int sig) __hidden;
int __gca_hs_call(struct gca_tcache *tc, unsigned long cmd, uint64_t seq,
		  uint32_t flags, uintptr_t sp) __hidden;

/* park.c */
void __gca_park_clear(struct gca_tcache *tc) __hidden;

/*
 * The calling thread's cache for arena a, registering the thread on its
 * first use of the arena.  NULL with errno set on failure.
 */
static inline struct gca_tcache *__gca_tc(struct gca_arena *a)
{
	struct gca_tcache *tc = __gca_last;

	if (likely(tc && tc->arena == a && !__gca_tc_dead(tc)))
		return tc;
	return __gca_tc_slow(a);
}

/*
 * Critical sections on the cache.  The preempt signal handler must not
 * hand the cache back to the kernel while normal context is using it: it
 * sees in_lib, sets pending and returns, and the outermost leave answers.
 */
static inline void __gca_enter(struct gca_tcache *tc)
{
	tc->in_lib++;
	barrier();
}

static inline void __gca_leave(struct gca_tcache *tc)
{
	barrier();
	tc->in_lib--;
	barrier();
	if (unlikely(tc->pending) && tc->in_lib == 0)
		__gca_pending(tc);
}

/* Is a handshake requested that this thread has not answered? */
static inline bool __gca_hs_due(const struct gca_tcache *tc)
{
	return unlikely(__gca_hs_seq(tc->ctrl) != tc->acked);
}

/*
 * The write barrier's test and record, for barrier.c and for park.c's
 * stores into the park table.
 */
static inline bool gca_barrier_active(const struct gca_arena *a)
{
	uint32_t phase = __atomic_load_n(&a->head.ctrl->phase,
					 __ATOMIC_RELAXED);

	return __gca_barrier_on(phase);
}

/* Record v if it may point into the heap.  Room must have been made. */
static inline void gca_wb_record(struct gca_tcache *tc, uintptr_t v)
{
	const struct gca_arena *a = tc->arena;

	if (v - a->head.heap_base < a->heap_size)
		tc->wbuf[tc->nwbuf++] = v;
}

/* ---- observability hooks (obs.c, profile.c; see gca_obs.h) ---- */
struct gca_obs;
/* End of gca_open(), start of gca_close(): GCARENA_DEBUG, monitor. */
void __gca_obs_open(struct gca_arena *a) __hidden;
void __gca_obs_close(struct gca_arena *a) __hidden;
/* gca_read_memstats() read the statistics (for gca_wait_cycle()). */
void __gca_obs_stats_read(struct gca_arena *a, uint64_t num_gc) __hidden;
void __gca_prof_sample(struct gca_tcache *tc, void *p, size_t size,
		       void *caller) __hidden;

/*
 * The heap profile's hot path (Go's c.nextSample): count size bytes down
 * and sample when the countdown crosses zero.  Outside the cache's
 * critical section: sampling walks the stack and takes a lock.  caller
 * is the return address into the program (__builtin_return_address(0)
 * of the public allocation function).
 */
static inline void __gca_prof_count(struct gca_tcache *tc, void *p,
				    size_t size, void *caller)
{
	int64_t left = __atomic_load_n(&tc->next_sample, __ATOMIC_RELAXED);

	left -= (int64_t)size;
	__atomic_store_n(&tc->next_sample, left, __ATOMIC_RELAXED);
	if (unlikely(left < 0))
		__gca_prof_sample(tc, p, size, caller);
}
/* ---- end of observability hooks ---- */

#endif /* _LIBGCARENA_INT_H */
