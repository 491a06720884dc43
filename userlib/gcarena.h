/* SPDX-License-Identifier: (LGPL-2.1 OR MIT) */
/*
 * libgcarena: a garbage-collected heap for C programs, collected by the
 * kernel (the gcarena module, /dev/gcarena) on the design of Go's runtime.
 *
 * The allocator is Go's: 8 KiB heap pages, Go's 67 size classes, a
 * per-thread cache of one span per span class (allocation needs no system
 * call until a span is full), a tiny allocator for small pointer-free
 * objects, and objects above 32 KiB allocated from whole pages.  Memory is
 * never freed by the program: a kernel thread marks what is reachable and
 * sweeps the rest.
 *
 * Contracts
 * ---------
 *
 * Roots.  The collector is conservative and scans exactly:
 *  - the stack, from the current stack pointer up, and the registers of
 *    every registered thread of the arena;
 *  - the ranges registered with gca_add_roots();
 *  - the objects allocated with gca_alloc() reachable from those.
 * Nothing else is scanned: not global or static variables, not malloc()ed
 * memory, not thread-local storage, not objects allocated with
 * gca_alloc_noscan().  A pointer to an arena object kept only in such
 * memory does not keep the object alive: register that memory with
 * gca_add_roots() first (a static table, a malloc()ed array, ...).  Any
 * word that looks like a pointer into an object (its start or any byte
 * inside it) keeps the whole object alive; being conservative, the
 * collector cannot tell a stale copy left in a dead stack slot, or an
 * integer that happens to have that value, from a pointer.
 *
 * Passing pointers to a new thread.  A pointer handed to pthread_create()
 * (or through any unscanned memory) must stay reachable from the creator,
 * e.g. on its stack, until the new thread has registered (explicitly with
 * gca_register_thread() or implicitly by its first call into the arena)
 * and holds the pointer on its own stack.
 *
 * Stores.  The collector marks while the program runs, so every store
 * into an arena object or a root range that writes a pointer into the
 * arena, or overwrites one (NULL included), must go through gca_store(),
 * or gca_memmove() for a block: that is where the write barrier is (Go's
 * hybrid barrier: while marking, the value overwritten and the value
 * stored are both recorded for the collector).  A store that bypasses it
 * can get a live object freed.  This includes the initialising stores
 * into an object just returned by gca_alloc(): it may already be marked
 * (black) while the value stored is not.  No barrier is needed for
 * stores into the thread's own stack variables (and registers), into
 * objects from gca_alloc_noscan(), into malloc()ed or static memory that
 * is not a root range (which then must not hold the only reference to an
 * object, see Roots), or of data into memory that never held a pointer
 * into the arena (e.g. filling a fresh object).  gca_store() is not
 * async-signal-safe, nor is any other call of this library.
 *
 * Threads.  A thread that calls into an arena is registered automatically
 * on its first call; the thread that opened the arena is registered by
 * gca_open().  Registration is per (thread, arena).  A thread stays
 * registered until gca_unregister_thread(), its exit (a thread-specific
 * data destructor unregisters it, handing the write barrier's buffer to
 * the collector: a raw exit system call, which skips it, may lose the
 * thread's last stores) or gca_close().  Registered threads must
 * run on the stack pthread reports for them (no user-made stacks or
 * coroutines).  The library is thread-safe; each thread allocates from
 * its own cache without locks.
 *
 * Safepoints and blocking.  A few times per cycle the collector asks
 * every registered thread to answer a handshake at its next safepoint:
 * an allocation, gca_poll() (an explicit one) or most other calls of this
 * library.  The thread answers and goes on (its stack is scanned during
 * one of them), except at the end of marking, when it is held briefly
 * until sweeping starts.  A thread about to block for long (read(),
 * poll(), a lock or condition variable, pthread_join(), ...) should park
 * first, with gca_enter_blocking() before the call and
 * gca_leave_blocking() after it: a parked thread counts as answering
 * every handshake, its stack is scanned by another thread, and it is
 * sent no signal.  Between the two calls it must not touch the heap (no
 * other call of this library, no load or store of arena memory) and
 * should make the blocking call and little else, as another thread
 * reads its frames meanwhile (from the frame of gca_enter_blocking()'s
 * caller up: that function makes both calls and does not return in
 * between):
 *
 *	gca_enter_blocking(arena);
 *	n = read(fd, buf, len);		(buf not in the arena)
 *	gca_leave_blocking(arena);
 *
 * A registered thread that does not answer in time, because it computes
 * without calling the library or blocks without parking, is sent the
 * arena's preempt signal (SIGURG by
 * default, see struct gca_params) and answers from the signal handler,
 * which the library installs with SA_RESTART so that interrupted system
 * calls restart.  The handler is installed without SA_ONSTACK on purpose:
 * the registers of the interrupted code are saved in the signal frame,
 * and that frame must lie on the scanned thread stack.  A previous
 * handler of the signal that was a function is chained to.  Do not block
 * the preempt signal in registered threads.
 *
 * fork().  The heap and control page are not inherited (VM_DONTCOPY) and
 * the kernel refuses the arena's file from another process with -EPERM:
 * an arena is private to the process that created it (after
 * MADV_DOFORK the child gets the ranges, but any access faults).  In the
 * child, calls on an inherited arena fail with EPERM, except that
 * gca_store(), gca_memmove(), gca_num_gc() and gca_ctrl()'s page must not
 * be used at all (they read the control page the child does not have),
 * gca_enter_blocking()/gca_leave_blocking() do nothing, gca_close()
 * releases the child's copies, and new arenas work.
 *
 * Several arenas.  Each has its own caches, registrations and cycles.  A
 * thread registered with several arenas whose cycles overlap may be held
 * by one while another waits for it; give such arenas different preempt
 * signals so that each can still interrupt the other's wait.
 *
 * Errors.  Functions returning int return 0 (or a value) on success and
 * -errno on failure, and leave errno alone.  The allocation functions
 * return NULL with errno set (ENOMEM, ...).  gca_set_gc_percent() and
 * gca_set_memory_limit() return a previous value, so see their comments.
 *
 * gca_close() requires that no other thread uses the arena any more.
 */
#ifndef _LIBGCARENA_H
#define _LIBGCARENA_H

#include <stddef.h>
#include <stdint.h>
#include <linux/gcarena.h>

#ifdef __cplusplus
extern "C" {
#endif

struct gca_arena;

/* struct gca_params.flags */
#define GCA_PARAM_GC_PERCENT	(1U << 0)	/* gc_percent is set */
#define GCA_PARAM_MEMORY_LIMIT	(1U << 1)	/* memory_limit is set */

/* Arguments of gca_open(); all zero means defaults. */
struct gca_params {
	size_t heap_size;		/* 0 = GCA_HEAP_SIZE_DEFAULT */
	unsigned int flags;		/* GCA_PARAM_* */
	int gc_percent;			/* with GCA_PARAM_GC_PERCENT; -1 = off */
	int64_t memory_limit;		/* with GCA_PARAM_MEMORY_LIMIT; bytes */
	int preempt_signal;		/* 0 = SIGURG, -1 = none */
	const char *device;		/* NULL = "/dev/gcarena" */
};

/* Statistics, shaped like Go's runtime.MemStats. */
struct gca_memstats {
	uint64_t alloc;			/* bytes of allocated heap objects */
	uint64_t total_alloc;		/* cumulative bytes allocated */
	uint64_t sys;			/* heap_sys plus kernel metadata */
	uint64_t mallocs;		/* cumulative objects allocated */
	uint64_t frees;			/* cumulative objects freed */
	uint64_t heap_alloc;		/* == alloc */
	uint64_t heap_sys;
	uint64_t heap_idle;
	uint64_t heap_inuse;
	uint64_t heap_released;
	uint64_t heap_objects;
	uint64_t next_gc;		/* heap goal */
	uint64_t last_gc;		/* ns since the epoch */
	uint64_t pause_total_ns;	/* every pause (pause_hist), summed */
	/*
	 * One entry per cycle, [(num_gc + 255) % 256] the latest: not Go's
	 * stop-the-world time but the longest pause of any thread in the
	 * cycle (a handshake, the hold at mark termination, a mark assist),
	 * and when the cycle ended (ns since the epoch).
	 */
	uint64_t pause_ns[GCA_NUM_PAUSE];
	uint64_t pause_end[GCA_NUM_PAUSE];
	uint32_t num_gc;
	uint32_t num_forced_gc;
	double gc_cpu_fraction;
	int gc_percent;
	int64_t memory_limit;		/* GCA_MEMORY_LIMIT_NONE = no limit */
	uint64_t heap_live;
	uint64_t heap_marked;
	uint64_t gc_trigger;
	/*
	 * Every pause (time a thread could not run its own code because of
	 * the collector: handshakes, being held at mark termination, mark
	 * assists) as a log2 histogram: [i] counts pauses of [2^i, 2^(i+1))
	 * ns, [0] those under 2 ns.
	 */
	uint64_t pause_hist[GCA_PAUSE_HIST_BUCKETS];
	uint64_t num_pauses;
	uint64_t assist_ns;		/* mark assists, all threads */
	uint64_t checkmark_cycles;	/* cycles verified (GCA_DEBUG_CHECKMARK) */
	uint64_t checkmark_failures;	/* objects the concurrent mark missed */
	unsigned int debug;		/* GCA_DEBUG_* in force */
	/* mark terminations that sent the threads back to concurrent marking */
	uint64_t mark_term_retries;
	/* the most marking work done in one hold of the arena's lock (bytes) */
	uint64_t mark_slice_max;
};

int gca_open(struct gca_arena **arena, const struct gca_params *params);
void gca_close(struct gca_arena *arena);

/* Idempotent: 0 if the calling thread is registered already. */
int gca_register_thread(struct gca_arena *arena);
/* -ENOENT if the calling thread is not registered. */
int gca_unregister_thread(struct gca_arena *arena);

/*
 * Zeroed memory that may hold pointers (it is scanned).  NULL with errno
 * ENOMEM when the heap cannot hold it (also for sizes beyond the heap),
 * or with the kernel's error (EPERM in a child of fork(), ...).
 */
void *gca_alloc(struct gca_arena *arena, size_t size);
/* Zeroed memory for pointer-free data (never scanned). */
void *gca_alloc_noscan(struct gca_arena *arena, size_t size);

/*
 * Scan [start, start + len) for pointers at every cycle until removed.
 * -EINVAL for an empty or wrapping range, -EEXIST if start is registered
 * already; gca_remove_roots(): -ENOENT if it is not.
 */
int gca_add_roots(struct gca_arena *arena, void *start, size_t len);
int gca_remove_roots(struct gca_arena *arena, void *start);

/* runtime.GC(): returns when a full cycle has completed. */
int gca_collect(struct gca_arena *arena);

/*
 * The arena's GOGC.  Returns the previous value (>= -1) or -errno (which
 * is always < -1).  gca_reset_gc_percent() makes the arena follow the
 * module parameter gc_percent again.
 */
int gca_set_gc_percent(struct gca_arena *arena, int percent);
int gca_reset_gc_percent(struct gca_arena *arena);

/*
 * The arena's GOMEMLIMIT in bytes (GCA_MEMORY_LIMIT_NONE = no limit).
 * A negative bytes only queries.  Returns the previous value (>= 0) or
 * -errno.  gca_reset_memory_limit() follows the module parameter again.
 */
int64_t gca_set_memory_limit(struct gca_arena *arena, int64_t bytes);
int64_t gca_reset_memory_limit(struct gca_arena *arena);

int gca_read_memstats(struct gca_arena *arena, struct gca_memstats *ms);

/* Explicit safepoint, for long loops that do not allocate. */
int gca_poll(struct gca_arena *arena);

/*
 * Park the calling thread around a call that may block (bdwgc's
 * GC_do_blocking, Go's entersyscallblock); see "Safepoints and blocking"
 * above.  gca_enter_blocking() hands the thread's cache and barrier
 * buffer back and parks it; gca_leave_blocking() unparks it and answers
 * what is pending (it may wait for the end of a mark termination).  The
 * pair nests; for a thread that is not registered with the arena both
 * do nothing.  0 or -errno.
 */
int gca_enter_blocking(struct gca_arena *arena);
int gca_leave_blocking(struct gca_arena *arena);

/*
 * The arena's debug flags (GCA_DEBUG_*, uapi/linux/gcarena.h).
 * GCA_DEBUG_CHECKMARK (Go's GODEBUG=gccheckmark=1): after each concurrent
 * mark the kernel marks again, the threads held at mark termination, and
 * counts what the concurrent mark had missed in checkmark_failures; slow,
 * for tests.  Marking is conservative: a data word that holds a dead
 * object's address, in an object allocated during the mark (never scanned
 * by it: allocation is black), counts too, although nothing is lost.
 * Returns the previous flags (>= 0) or -errno.  gca_reset_debug() makes
 * the arena follow the module parameter (checkmark) again.
 */
int gca_set_debug(struct gca_arena *arena, unsigned int flags);
int gca_reset_debug(struct gca_arena *arena);

int gca_arena_id(struct gca_arena *arena);	/* /proc/gcarena/<id> */
int gca_arena_fd(struct gca_arena *arena);

/*
 * Hot paths.  struct gca_arena is opaque, but it starts with this head,
 * whose layout is part of the library's ABI (soname libgcarena.so.1), so
 * that the inline functions below need no call.
 */
struct gca_arena_head {
	const struct gca_ctrl *ctrl;	/* read-only control page */
	uintptr_t heap_base;
	uintptr_t heap_end;
};

static inline const struct gca_ctrl *gca_ctrl(struct gca_arena *arena)
{
	return ((const struct gca_arena_head *)arena)->ctrl;
}

/* Whether p points into the arena's heap (not whether it is allocated). */
static inline int gca_in_heap(struct gca_arena *arena, const void *p)
{
	const struct gca_arena_head *h = (const struct gca_arena_head *)arena;

	return (uintptr_t)p >= h->heap_base && (uintptr_t)p < h->heap_end;
}

/* Completed cycles, straight from the control page. */
static inline uint64_t gca_num_gc(struct gca_arena *arena)
{
	return __atomic_load_n(&gca_ctrl(arena)->num_gc, __ATOMIC_RELAXED);
}

/*
 * The write barrier's per-thread state, for the inlines below (the
 * library's, not the program's).  in_store makes gca_store() a critical
 * section: the preempt signal's handler must not answer a handshake
 * between the phase check and the store (it would tell the collector the
 * barrier is on, or the stack scanned, while a store that saw the barrier
 * off is still to be done); it sets deferred instead, and the store
 * answers when done.
 */
struct __gca_thread_state {
	unsigned int in_store;		/* gca_store()s under way (nesting) */
	unsigned int deferred;		/* a handshake waits for in_store 0 */
};
extern __thread struct __gca_thread_state __gca_ts
	__attribute__((tls_model("initial-exec")));
void __gca_store_slow(struct gca_arena *arena, void **slot, void *value);
void __gca_store_deferred(void);

/* The write barrier is on while the kernel marks. */
static inline int __gca_barrier_on(uint32_t phase)
{
	return phase - GCA_PHASE_MARK <= GCA_PHASE_MARK_TERM - GCA_PHASE_MARK;
}

/*
 * Store a pointer into an arena object or a root range (see "Stores"
 * above: every such store must use this).  With the barrier off, the
 * cost over a plain store is two TLS increments/decrements, two loads
 * (arena->ctrl, ctrl->phase), a compare and branch, and a TLS load and
 * branch (deferred); no atomic instruction, no fence.  With the barrier
 * on, __gca_store_slow() records the old and the new value in the
 * thread's buffer, then stores.  The store is atomic so that the
 * collector never reads a torn pointer.
 */
static inline void gca_store(struct gca_arena *arena, void **slot,
			     void *value)
{
	uint32_t phase;

	__gca_ts.in_store++;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	phase = __atomic_load_n(&gca_ctrl(arena)->phase, __ATOMIC_RELAXED);
	if (__builtin_expect(__gca_barrier_on(phase), 0)) {
		/* records, stores and leaves the section */
		__gca_store_slow(arena, slot, value);
		return;
	}
	__atomic_store_n(slot, value, __ATOMIC_RELAXED);
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	__gca_ts.in_store--;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	if (__builtin_expect(__gca_ts.deferred != 0, 0))
		__gca_store_deferred();
}

/*
 * memmove() into an arena object or a root range of memory that may
 * hold pointers into the arena (Go's typedmemmove, the bulk barrier):
 * with the barrier on, every word of dst overwritten and every word
 * written is recorded, in chunks, around the copy.  Any alignment and
 * overlap; dst and src need not be in the arena.
 */
void gca_memmove(struct gca_arena *arena, void *dst, const void *src,
		 size_t n);

/* Load a pointer stored with gca_store() (for symmetry; no barrier). */
static inline void *gca_load(void *const *slot)
{
	return __atomic_load_n(slot, __ATOMIC_RELAXED);
}

/* ==== Observability and object pools ====
 * gctrace.c, wait.c, profile.c, pprof.c (with protobuf.c, symbolize.c),
 * pool.c; manual pages gca_wait_cycle(3), gca_write_heap_profile(3),
 * gca_pool(3), gcarena(7).
 *
 * GCARENA_DEBUG (read by gca_open(), as Go reads GODEBUG) is a
 * comma-separated list of settings:
 *   gctrace=1         a line per completed cycle on stderr, in the format
 *                     of Go's gctrace (fields: gcarena(7), gctrace.c)
 *   gctrace=2         also sweep and scavenger lines
 *   memprofilerate=N  gca_set_mem_profile_rate()'s initial value
 */

/*
 * Wait until a collection cycle has completed since the program last
 * read the statistics (gca_read_memstats()): 1 when one has (at once if
 * one already had), 0 after timeout_ms milliseconds (-1: no timeout),
 * -errno on failure.  Any thread may wait; a registered one does not
 * stall collections while it waits.
 */
int gca_wait_cycle(struct gca_arena *arena, int timeout_ms);

/*
 * The heap profile (Go's runtime.MemProfileRate and heap profile).
 * One allocation is sampled per rate bytes allocated on average
 * (default 512 KiB; 0 turns sampling off; 1 samples every allocation).
 * gca_set_mem_profile_rate() returns the previous rate; a negative bytes
 * only queries.  gca_write_heap_profile() writes the profile of the
 * sampled allocations still in use and of all sampled so far, in pprof's
 * profile.proto format, to fd: `go tool pprof -top PROGRAM FILE`.
 */
int64_t gca_set_mem_profile_rate(struct gca_arena *arena, int64_t bytes);
int gca_write_heap_profile(struct gca_arena *arena, int fd);

/*
 * Object pools with Go's sync.Pool semantics: gca_pool_get() returns a
 * pooled object (the calling thread's own first, then a shared one, then
 * one from the previous generation) or, when the pool is empty, the
 * result of new_fn(arena, ctx) (NULL if new_fn is NULL).  Pooled objects
 * are kept alive by the pool and dropped by it after two collection
 * cycles without use, so a pool is a cache, not a free list: never
 * expect an object back.  gca_pool_new() returns NULL with errno set on
 * failure.  gca_pool_destroy() drops every pooled object; no other
 * thread may use the pool then.
 */
struct gca_pool;
struct gca_pool *gca_pool_new(struct gca_arena *arena,
			      void *(*new_fn)(struct gca_arena *arena,
					      void *ctx),
			      void *ctx);
void *gca_pool_get(struct gca_pool *pool);
void gca_pool_put(struct gca_pool *pool, void *obj);
void gca_pool_destroy(struct gca_pool *pool);
/* ==== end of observability and object pools ==== */

#ifdef __cplusplus
}
#endif

#endif /* _LIBGCARENA_H */
