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
 * Stores.  Every store of a pointer into an arena object or into a root
 * range must go through gca_store().  Today it is a plain relaxed store;
 * a later version adds the collector's write barrier there, without an
 * ABI change, and a program that bypassed it would then lose objects
 * (even a store into an object just allocated).  Data that is not a
 * pointer into the arena may be written with plain stores.
 *
 * Threads.  A thread that calls into an arena is registered automatically
 * on its first call; the thread that opened the arena is registered by
 * gca_open().  Registration is per (thread, arena).  A thread stays
 * registered until gca_unregister_thread(), its exit (a thread-specific
 * data destructor unregisters it) or gca_close().  Registered threads must
 * run on the stack pthread reports for them (no user-made stacks or
 * coroutines).  The library is thread-safe; each thread allocates from
 * its own cache without locks.
 *
 * Safepoints and blocking.  A collection stops the world: every
 * registered thread answers a handshake at its next safepoint, i.e. any
 * call of this library (gca_poll() is an explicit one).  A registered
 * thread that does not answer in time, because it computes without
 * calling the library or is blocked in a system call (read(),
 * pthread_join(), ...), is sent the arena's preempt signal (SIGURG by
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
 * an arena is private to the process that created it.  In the child,
 * calls on an inherited arena fail with EPERM (gca_store() and the other
 * inline functions must not be used: they read the missing control
 * page), gca_close() releases the child's copies, and new arenas work.
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
	uint64_t pause_total_ns;
	uint64_t pause_ns[GCA_NUM_PAUSE];	/* [(num_gc + 255) % 256] latest */
	uint64_t pause_end[GCA_NUM_PAUSE];
	uint32_t num_gc;
	uint32_t num_forced_gc;
	double gc_cpu_fraction;
	int gc_percent;
	int64_t memory_limit;		/* GCA_MEMORY_LIMIT_NONE = no limit */
	uint64_t heap_live;
	uint64_t heap_marked;
	uint64_t gc_trigger;
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
 * Store a pointer into an arena object or a root range.  Every such store
 * must use this.  The collector phase is loaded first because that is
 * where the hybrid write barrier (shade the old and the new value while
 * marking) will go; the store itself is atomic so that the collector never
 * sees a torn pointer.
 */
static inline void gca_store(struct gca_arena *arena, void **slot,
			     void *value)
{
	uint32_t phase;

	phase = __atomic_load_n(&gca_ctrl(arena)->phase, __ATOMIC_RELAXED);
	(void)phase;
	__atomic_store_n(slot, value, __ATOMIC_RELAXED);
}

/* Load a pointer stored with gca_store() (for symmetry; no barrier). */
static inline void *gca_load(void *const *slot)
{
	return __atomic_load_n(slot, __ATOMIC_RELAXED);
}

#ifdef __cplusplus
}
#endif

#endif /* _LIBGCARENA_H */
