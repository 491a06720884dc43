/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * gcarena: a garbage-collected heap for a userspace process, run by the
 * kernel.  This is the whole kernel/user ABI: the ioctls on /dev/gcarena,
 * the mmap offsets and the layout of the read-only control page.
 *
 * Conventions (those of io_uring and iommufd):
 *  - fixed-width types only; user pointers are __aligned_u64;
 *  - every ioctl argument starts with { __u32 size; __u32 flags; }, size
 *    being sizeof the struct as the caller knows it.  A struct only grows,
 *    at its end, and a field added later means "as before" when zero.
 *    The kernel copies min(size, its own size) bytes and zero-fills the
 *    rest, so an older library works with a newer module; a newer library
 *    works with an older module as long as the bytes that module does not
 *    know are zero (else -E2BIG), and the out fields it does not know stay
 *    as the library left them (zero: "not reported").  The kernel writes
 *    back at most size bytes.  A size below the end of the struct's first
 *    version (the structs below, except that struct gca_create's ends at
 *    heap_size_out and struct gca_stats's at resv1) is -EINVAL;
 *  - unknown flags, and non-zero reserved fields, are -EINVAL; bad user
 *    pointers -EFAULT; unknown commands -ENOTTY; an ioctl issued in the
 *    wrong state (before GCA_IOC_CREATE, before the heap is mapped) is
 *    -EBADFD;
 *  - -EPERM: the arena belongs to another process (its creator's only);
 *    -ESRCH: the call needs a registered thread and the caller is not;
 *    -EAGAIN: a handshake is pending, answer it (GCA_IOC_HANDSHAKE) and
 *    retry;
 *  - GCA_IOC_GET_INFO works at any time and tells the library the
 *    module's feature bits (and its ABI revision, for people: a library
 *    checks that the features it needs are there, as io_uring's
 *    IORING_FEAT_*, never the version).
 *
 * Life of an arena: open("/dev/gcarena") -> GCA_IOC_CREATE -> mmap the
 * control page at GCA_OFF_CTRL (read-only) and the heap at GCA_OFF_HEAP
 * (read-write, exactly heap_size bytes) -> allocate -> close.  One open
 * file is one arena, usable only by the process that created it.
 * poll()/epoll on the file reports EPOLLIN when a cycle has completed
 * since the statistics were last read with GCA_IOC_READ_STATS.
 */
#ifndef _UAPI_LINUX_GCARENA_H
#define _UAPI_LINUX_GCARENA_H

#include <linux/types.h>
#include <linux/ioctl.h>

/* The ABI's revision: informational, see GCA_IOC_GET_INFO above. */
#define GCA_ABI_VERSION		1

/*
 * GCA_IOC_GET_INFO features.  A bit keeps its meaning once defined; what
 * a later module adds comes with a new bit.
 */
#define GCA_FEAT_PREEMPT_SIGNAL	(1ULL << 0)	/* kernel signals laggard threads */
/*
 * concurrent mark: the write barrier (gca_handshake.wbuf), parking
 * (GCA_HS_PARK) and GCA_DEBUG_CHECKMARK; libgcarena needs it
 */
#define GCA_FEAT_CONCURRENT	(1ULL << 1)
/* gca_handshake.regs_lo and regs_hi */
#define GCA_FEAT_HS_REGS	(1ULL << 2)

/* Heap geometry, fixed by the ABI (Go's values). */
#define GCA_PAGE_SHIFT		13		/* heap page: 8 KiB */
#define GCA_PAGE_SIZE		(1UL << GCA_PAGE_SHIFT)
#define GCA_NUM_SIZE_CLASSES	68		/* class 0 = large objects */
#define GCA_MAX_SMALL_SIZE	32768
#define GCA_TINY_SIZE		16
#define GCA_MAX_SPAN_OBJECTS	1024		/* 8 KiB / 8 bytes */
#define GCA_FREE_WORDS		(GCA_MAX_SPAN_OBJECTS / 64)

/* span class = size class << 1 | noscan */
#define GCA_SPANCLASS(sizeclass, noscan)	(((sizeclass) << 1) | !!(noscan))
#define GCA_NUM_SPAN_CLASSES	(GCA_NUM_SIZE_CLASSES * 2)

/* mmap offsets: what is mapped is encoded in the offset, as IORING_OFF_* */
#define GCA_OFF_HEAP		0ULL
#define GCA_OFF_CTRL		(1ULL << 44)

/* Heap size limits for GCA_IOC_CREATE (heap_size 0 = default) */
#define GCA_HEAP_SIZE_DEFAULT	(32ULL << 30)
#define GCA_HEAP_SIZE_MIN	(4ULL << 20)
#define GCA_HEAP_SIZE_MAX	(1ULL << 40)

/*
 * Collector phases, as published in gca_ctrl.phase (Go's gcphase).  The
 * write barrier is on in GCA_PHASE_MARK and GCA_PHASE_MARK_TERM: every
 * pointer store records the old and the new value in the thread's barrier
 * buffer (gca_handshake.wbuf).  1 is not a phase (it was the stop-the-world
 * mark's, before marking became concurrent) and is not reused.
 */
enum gca_phase {
	GCA_PHASE_OFF = 0,	/* no cycle: allocate freely */
	/*
	 * marking; each thread answers a handshake (its stack is scanned) and
	 * goes on
	 */
	GCA_PHASE_MARK = 2,
	/*
	 * mark termination: each thread answers (flushes its buffer and cache)
	 * and is held until sweeping starts
	 */
	GCA_PHASE_MARK_TERM = 3,
	GCA_PHASE_SWEEP = 4,	/* sweeping, concurrently; barrier off */
};

/* Barrier buffer entries accepted in one call (Go's wbBuf holds 512). */
#define GCA_WBUF_MAX		65536

/*
 * The control page, mapped read-only at GCA_OFF_CTRL (one 4 KiB page).
 * Only the kernel writes it.  A thread is at a safepoint whenever it is
 * inside the library; at each one it compares hs_seq with the last
 * sequence it acknowledged and, if they differ, calls
 * GCA_IOC_HANDSHAKE.  The kernel never reads this page back.
 */
struct gca_ctrl {
	__u32 magic;		/* GCA_CTRL_MAGIC */
	__u32 abi_version;	/* GCA_ABI_VERSION */
	__u32 phase;		/* enum gca_phase */
	__u32 resv0;
	__u64 hs_seq;		/* current handshake request, 0 = none yet */
	__u64 num_gc;		/* completed cycles */
	__u64 heap_base;	/* user address of the heap mapping, 0 = unmapped */
	__u64 heap_size;	/* bytes */
	__u64 next_gc;		/* heap goal, bytes */
	__u64 resv[9];
};
#define GCA_CTRL_MAGIC		0x67636172	/* "gcar" */

/* GCA_IOC_GET_INFO: any time */
struct gca_info {
	__u32 size;		/* in: sizeof the struct as the caller knows it */
	__u32 flags;		/* in: must be 0 */
	__u32 abi_version;	/* out */
	__u32 page_size;	/* out: GCA_PAGE_SIZE */
	__aligned_u64 features;	/* out: GCA_FEAT_* */
	__u32 num_size_classes;	/* out */
	__u32 max_threads;	/* out: threads per arena */
	__u64 heap_size_max;	/* out */
	__u32 class_to_size[GCA_NUM_SIZE_CLASSES];	/* out */
	__u32 class_to_npages[GCA_NUM_SIZE_CLASSES];	/* out */
};

/* GCA_IOC_CREATE: once per open file */
#define GCA_CREATE_GC_PERCENT	(1U << 0)	/* gc_percent is set */
#define GCA_CREATE_MEMORY_LIMIT	(1U << 1)	/* memory_limit is set */
#define GCA_CREATE_FLAGS	(GCA_CREATE_GC_PERCENT | GCA_CREATE_MEMORY_LIMIT)
struct gca_create {
	__u32 size;		/* in: sizeof the struct as the caller knows it */
	__u32 flags;		/* in: GCA_CREATE_* */
	__u64 heap_size;	/* in: 0 = default; multiple of GCA_PAGE_SIZE */
	__s32 gc_percent;	/* in: with GCA_CREATE_GC_PERCENT; -1 = off */
	__u32 preempt_signal;	/* in: signal sent to laggard threads, 0 = none */
	__s64 memory_limit;	/* in: with GCA_CREATE_MEMORY_LIMIT; bytes */
	__u32 id;		/* out: arena id, as in /proc/gcarena/<id> */
	__u32 ctrl_size;	/* out: bytes to mmap at GCA_OFF_CTRL */
	__u64 heap_size_out;	/* out: bytes to mmap at GCA_OFF_HEAP */
	__u64 resv[4];		/* must be 0; not in the first version */
};

/*
 * GCA_IOC_REGISTER_THREAD: the calling thread becomes a mutator whose
 * stack the collector scans.  [stack_lo, stack_hi) bounds its stack.
 * Registering during mark termination, while the registered threads are
 * held, waits until sweeping starts.
 */
struct gca_thread_reg {
	__u32 size;		/* in: sizeof the struct as the caller knows it */
	__u32 flags;		/* in: must be 0 */
	__aligned_u64 stack_lo;
	__aligned_u64 stack_hi;
	__u32 tid;		/* out: index of this thread in the arena */
	__u32 resv0;
	/*
	 * out: the handshake sequence the thread counts as having answered;
	 * one less than the control page's when it registered in the middle
	 * of a cycle's mark and owes the round in force its stack scan
	 */
	__u64 hs_seq;
};

/*
 * A span handed back to the kernel by a thread's cache.  freeindex: every
 * slot below it that the kernel handed out as free has been allocated.
 */
struct gca_span_ret {
	__aligned_u64 base;	/* span base address */
	__u32 freeindex;
	__u32 resv;		/* must be 0 */
};

/*
 * GCA_IOC_UNREGISTER_THREAD: returns the thread's spans (an array of
 * nspans struct gca_span_ret at spans) and forgets the thread.
 */
struct gca_thread_unreg {
	__u32 size;		/* in: sizeof the struct as the caller knows it */
	__u32 flags;		/* in: must be 0 */
	__aligned_u64 spans;	/* struct gca_span_ret * */
	__u32 nspans;
	__u32 resv0;
};

/*
 * GCA_IOC_REFILL: give back one cached span (base 0: none) and get a span
 * of spanclass with at least one free slot.
 */
struct gca_refill {
	__u32 size;		/* in: sizeof the struct as the caller knows it */
	__u32 flags;		/* in: must be 0 */
	__u32 spanclass;	/* in: GCA_SPANCLASS(c, noscan), c >= 1 */
	__u32 ret_freeindex;	/* in */
	__aligned_u64 ret_base;	/* in: span to give back, or 0 */
	__aligned_u64 base;	/* out: span base address */
	__u32 elemsize;		/* out */
	__u32 nelems;		/* out */
	__u32 needzero;		/* out: free slots may hold old data */
	__u32 resv0;
	__u64 free_bits[GCA_FREE_WORDS];	/* out: slot i free <=> bit i set */
};

/*
 * GCA_IOC_ALLOC_LARGE: an object of more than GCA_MAX_SMALL_SIZE bytes
 * (smaller sizes are accepted and rounded up to whole pages)
 */
#define GCA_ALLOC_NOSCAN	(1U << 0)
struct gca_alloc_large {
	__u32 size;		/* in: sizeof the struct as the caller knows it */
	__u32 flags;		/* in: GCA_ALLOC_NOSCAN */
	__u64 bytes;		/* in: object size */
	__aligned_u64 addr;	/* out */
	__u32 needzero;		/* out: memory may hold old data */
	__u32 resv0;
};

/*
 * GCA_IOC_HANDSHAKE: the calling thread answers the handshake request in
 * force (Go's ragged barrier: each thread at its own safepoint, the others
 * running).  It hands over its barrier buffer and its cached spans; its
 * barrier counts as on from its first answer in a cycle; once the cycle
 * scans stacks, the kernel scans its stack from sp up to its registered
 * stack_hi, in the thread's own context, and may have it scan root ranges
 * or parked threads' stacks too; at mark termination the call holds the
 * thread until sweeping starts.  Otherwise it returns at once.  Answering
 * a sequence again, or an old one, is harmless.  GCA_IOC_COLLECT takes
 * the same argument: it starts a cycle, answers its handshakes and returns
 * when a whole cycle begun after the call is complete.
 *
 * With GCA_HS_PARK the thread parks before it blocks (gca_enter_blocking):
 * its barrier buffer and cache are flushed, and until its next handshake
 * call without the flag it counts as answering every request; its stack
 * from sp up is scanned by another thread of the process.  A parked thread
 * must not touch the heap.
 */
#define GCA_HS_PARK		(1U << 0)	/* park: see below */
#define GCA_HS_FLAGS		GCA_HS_PARK
struct gca_handshake {
	__u32 size;		/* in: sizeof the struct as the caller knows it */
	__u32 flags;		/* in: GCA_HS_*; 0 for COLLECT */
	/*
	 * in: hs_seq read from the control page (informational: the kernel
	 * answers the request in force)
	 */
	__u64 seq;
	__aligned_u64 sp;	/* in: lowest live stack address */
	__aligned_u64 spans;	/* in: struct gca_span_ret * */
	__u32 nspans;		/* in */
	__u32 resv0;
	__u64 num_gc;		/* out: completed cycles when it returned */
	/* in: __u64 values recorded by the write barrier since the last call */
	__aligned_u64 wbuf;
	__u32 nwbuf;		/* in: entries at wbuf, <= GCA_WBUF_MAX */
	__u32 resv1;		/* must be 0 */
	/*
	 * in, optional (0, 0: none): [regs_lo, regs_hi), on this stack from
	 * sp up, holds only a signal handler's frames and the registers of
	 * the context it interrupted (the signal frame).  The mark scans it
	 * as stack; checkmark's re-mark leaves it out (see
	 * GCA_DEBUG_CHECKMARK).  regs_lo <= regs_hi.
	 */
	__aligned_u64 regs_lo;
	__aligned_u64 regs_hi;
};

/* GCA_IOC_ADD_ROOTS / GCA_IOC_REMOVE_ROOTS (len ignored on remove) */
struct gca_roots {
	__u32 size;		/* in: sizeof the struct as the caller knows it */
	__u32 flags;		/* in: must be 0 */
	__aligned_u64 start;
	__u64 len;
};

/* GCA_IOC_SET_PARAMS: set and/or query the arena's knobs */
#define GCA_SET_GC_PERCENT	(1U << 0)	/* set gc_percent */
#define GCA_SET_MEMORY_LIMIT	(1U << 1)	/* set memory_limit */
#define GCA_SET_DEFAULT_GC_PERCENT	(1U << 2)	/* follow the module knob again */
#define GCA_SET_DEFAULT_MEMORY_LIMIT	(1U << 3)	/* follow the module knob again */
#define GCA_SET_FLAGS	(GCA_SET_GC_PERCENT | GCA_SET_MEMORY_LIMIT | \
			 GCA_SET_DEFAULT_GC_PERCENT | GCA_SET_DEFAULT_MEMORY_LIMIT | \
			 GCA_SET_DEBUG | GCA_SET_DEFAULT_DEBUG)
#define GCA_MEMORY_LIMIT_NONE	((__s64)0x7fffffffffffffffLL)
#define GCA_SET_DEBUG		(1U << 4)	/* set debug (GCA_DEBUG_*) */
#define GCA_SET_DEFAULT_DEBUG	(1U << 5)	/* follow the module knob again */
/*
 * after each concurrent mark, mark again from the roots with the threads
 * held at mark termination, and count what the concurrent mark missed
 */
#define GCA_DEBUG_CHECKMARK	(1U << 0)
#define GCA_DEBUG_FLAGS		GCA_DEBUG_CHECKMARK
struct gca_params_arg {
	__u32 size;		/* in: sizeof the struct as the caller knows it */
	__u32 flags;		/* in: GCA_SET_* */
	__s32 gc_percent;	/* in (with the flag); out: the previous value */
	__u32 debug;		/* in (with GCA_SET_DEBUG); out: previous */
	__s64 memory_limit;	/* in (with the flag); out: the previous value */
};

/* GCA_IOC_READ_STATS: statistics, shaped like Go's runtime.MemStats */
#define GCA_NUM_PAUSE	256
#define GCA_PAUSE_HIST_BUCKETS	40
struct gca_stats {
	__u32 size;		/* in: sizeof the struct as the caller knows it */
	__u32 flags;		/* in: must be 0 */
	__u64 alloc;		/* bytes of allocated heap objects */
	__u64 total_alloc;	/* cumulative bytes allocated */
	__u64 sys;		/* heap_sys plus the kernel's metadata */
	__u64 mallocs;		/* cumulative objects allocated */
	__u64 frees;		/* cumulative objects freed */
	__u64 heap_alloc;	/* == alloc */
	__u64 heap_sys;		/* heap address space in use by spans or idle */
	__u64 heap_idle;	/* bytes in free spans */
	__u64 heap_inuse;	/* bytes in in-use spans */
	__u64 heap_released;	/* idle bytes with no physical memory */
	__u64 heap_objects;	/* allocated objects */
	__u64 next_gc;		/* heap goal */
	__u64 last_gc;		/* end of the last cycle, ns since the epoch */
	__u64 pause_total_ns;
	__u64 pause_ns[GCA_NUM_PAUSE];	/* [(num_gc + 255) % 256] is the latest */
	__u64 pause_end[GCA_NUM_PAUSE];	/* ns since the epoch */
	__u32 num_gc;
	__u32 num_forced_gc;	/* forced by the 2-minute rule or requested */
	__u64 gc_cpu_fraction_ppb;	/* GC CPU / available CPU, parts per 10^9 */
	__s32 gc_percent;	/* in force for this arena */
	__u32 resv0;
	__s64 memory_limit;	/* in force for this arena */
	__u64 heap_live;	/* bytes the pacer counts as live (with caches) */
	__u64 heap_marked;	/* bytes marked by the last cycle */
	__u64 gc_trigger;
	/*
	 * Every pause (time a thread could not run its own code because of
	 * the collector: handshake work, being held at mark termination,
	 * mark assists), as a log2 histogram: bucket i counts pauses of
	 * [2^i, 2^(i+1)) ns, bucket 0 those under 2 ns.
	 */
	__u64 pause_hist[GCA_PAUSE_HIST_BUCKETS];
	__u64 num_pauses;
	__u64 assist_ns;	/* mark assist time, all threads */
	__u64 checkmark_cycles;	/* cycles verified by checkmark */
	__u64 checkmark_failures;	/* objects checkmark found unmarked */
	__u32 debug;		/* GCA_DEBUG_* in force */
	__u32 resv1;		/* the first version ends here */
	/*
	 * Mark terminations that found more than a slice of marking work
	 * with the threads held and let them go back to concurrent marking
	 * (Go's gcMarkDone restarting).
	 */
	__u64 mark_term_retries;
	/* the most marking work done in one hold of the arena's lock, bytes */
	__u64 mark_slice_max;
};

/*
 * GCA_IOC_QUERY_OBJECTS: which of n user addresses (at addrs) lie in an
 * allocated object; bit i of the bitmap at live (n bits, rounded up to
 * whole __u64 words) is set for a live address.  For heap profilers that
 * track which sampled objects the collector freed.  n <= 65536.
 */
struct gca_query {
	__u32 size;		/* in: sizeof the struct as the caller knows it */
	__u32 flags;		/* in: must be 0 */
	__aligned_u64 addrs;	/* in: __u64 addresses */
	__aligned_u64 live;	/* out: __u64 bitmap words */
	__u32 n;		/* in */
	__u32 resv0;
};
#define GCA_QUERY_MAX		65536

/*
 * Commands carry no size (as iommufd's): the size is the argument's first
 * field, so a struct can grow without a new command number.
 *
 * The type 0xBD is free in Documentation/userspace-api/ioctl/
 * ioctl-number.rst, of 6.1 and of later kernels (which gave 0xB8 to mshv,
 * 0xBA to liveupdate), and no 6.1 source uses it; gcarena numbers its
 * commands 0x00-0x1F.  (It used 0xB7 before, nsfs's and remoteproc's:
 * GCA_IOC_CREATE was NS_GET_USERNS.)
 */
#define GCA_IOC_MAGIC		0xBD
#define GCA_IOC_GET_INFO	_IO(GCA_IOC_MAGIC, 0x00)
#define GCA_IOC_CREATE		_IO(GCA_IOC_MAGIC, 0x01)
#define GCA_IOC_REGISTER_THREAD	_IO(GCA_IOC_MAGIC, 0x02)
#define GCA_IOC_UNREGISTER_THREAD _IO(GCA_IOC_MAGIC, 0x03)
#define GCA_IOC_REFILL		_IO(GCA_IOC_MAGIC, 0x04)
#define GCA_IOC_ALLOC_LARGE	_IO(GCA_IOC_MAGIC, 0x05)
#define GCA_IOC_HANDSHAKE	_IO(GCA_IOC_MAGIC, 0x06)
#define GCA_IOC_COLLECT		_IO(GCA_IOC_MAGIC, 0x07)
#define GCA_IOC_ADD_ROOTS	_IO(GCA_IOC_MAGIC, 0x08)
#define GCA_IOC_REMOVE_ROOTS	_IO(GCA_IOC_MAGIC, 0x09)
#define GCA_IOC_SET_PARAMS	_IO(GCA_IOC_MAGIC, 0x0a)
#define GCA_IOC_READ_STATS	_IO(GCA_IOC_MAGIC, 0x0b)
#define GCA_IOC_QUERY_OBJECTS	_IO(GCA_IOC_MAGIC, 0x0c)

#endif /* _UAPI_LINUX_GCARENA_H */
