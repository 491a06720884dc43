/* SPDX-License-Identifier: GPL-2.0 */
/*
 * gcarena's kernel glue: one arena per open file of /dev/gcarena.
 *
 * An arena owns a GC heap (core/gca_core.h), the memory that backs it, the
 * process threads that mutate it, its root ranges and a kernel thread that
 * collects it.  The glue's files, in kmod/:
 *   main.c     module init/exit, the misc device and its file operations
 *   knobs.c    the gc_percent, memory_limit and checkmark parameters
 *   arena.c    arena life cycle, mmap and page faults, backing memory
 *   ioctl.c    argument checking and the ioctl handlers
 *   threads.c  registered threads, the spans their caches hold, dropping
 *              and signalling threads that do not answer
 *   cycle.c    the collector thread: handshake rounds, mark, checkmark,
 *              sweep, pacing, pauses
 *   mutator.c  the process threads' side of a cycle: answering
 *              handshakes, parking, taking stack and root scans, mark
 *              assists
 *   roots.c    reading stacks and root ranges; write barrier buffers
 *   proc.c     /proc/gcarena
 *   trace.c    instantiates the tracepoints
 *   gcarena_private.h  this header: the glue's structs, limits, prototypes
 *   gcarena_trace.h    the tracepoints (events/gcarena/)
 *   gcarena_test.c     KUnit tests of the core, a module of its own
 *                      (gcarena_test.ko) for kernels with CONFIG_KUNIT:
 *                      the host and helpers, including the suites
 *   kunit/             one KUnit suite per file, part of gcarena_test.c
 *   .kunitconfig       what a kernel needs to run them
 *   Kbuild             the objects of gcarena.ko (and of gcarena_test.ko)
 * The GC core, in kmod/core/ (also built in userspace: tests/unit):
 *   gca_core.h       its interface, the heap and its locking rule
 *   gca_env.h        the kernel API it may use (a shim in userspace)
 *   gca_sizeclass.c  Go's size classes
 *   gca_pageheap.c   the page heap: span table, free runs, growth
 *   gca_span.c       central span lists, refill, large objects
 *   gca_mark.c       the gray queue, marking, checkmark
 *   gca_sweep.c      sweeping
 *   gca_pacer.c      the pacer's arithmetic
 *   gca_check.c      the heap's consistency checker (tests, KUnit)
 *   sources.mk       the list of these files, for every build
 *
 * Locks, outermost first:
 *   gca_arenas_lock (mutex)  the list of arenas and its ids (arena.c).
 *                            Shared by every user, so held only for a
 *                            walk of the list, never while waiting for an
 *                            arena's lock: /proc takes a reference on each
 *                            arena (arena->ref) under it, then reads the
 *                            arenas one by one without it.  Taken killably
 *                            where a process waits for it (create, /proc).
 *   arena->gc_thread_lock (mutex)  starting the collector thread
 *                            (gca_cycle_need_thread(), cycle.c)
 *   mmap_lock of the process (the kernel's) -- taken by mmap and faults
 *   arena->lock (mutex)      the heap, the thread list, root ranges, the
 *                            cycle state and every counter below it.  Never
 *                            held while touching user memory: a fault would
 *                            take mmap_lock inside it.
 *   arena->pages_rwsem       the backing page table; read by faults, written
 *                            when pages are added or removed
 *   i_mmap_rwsem (the kernel's) -- unmap_mapping_range, under arena->lock
 *
 * Kernel memory: what an arena keeps grows with the heap it uses, never
 * with its reservation (the span table, the backing table: two levels,
 * grown with the heap; see core/gca_pageheap.c and arena.c), and is
 * charged to the creating process's memory cgroup with GCA_GFP_HEAP
 * (-ENOMEM at the group's limit, never the OOM killer): the arena, heap
 * pages, span structs, tables, registered threads, root ranges, the
 * GCA_IOC_QUERY_OBJECTS buffers; gray queue blocks without sleeping (see
 * GCA_GRAY_UNCHARGED, core/gca_mark.c).  The collector thread charges the
 * same group (set_active_memcg(), cycle.c).  Not charged: the collector
 * thread itself, which a memory cgroup cannot hold (bounded by the
 * arenas: GCA_MAX_ARENAS_PER_MM per process, GCA_MAX_ARENAS_PER_USER per
 * user, and started only when an arena first needs a cycle), and
 * per-call scratch buffers of at most a few pages (a stack scan's page,
 * the ioctl argument, a /proc read's statistics), freed before the call
 * returns: the collector must still make progress when the group is at
 * its limit.
 *
 * Kernel safety: every word read from the heap, a stack or a root range
 * is a number, validated by the core before it names an object; every
 * ioctl argument is checked before use; kernel metadata is never mapped
 * to userspace (the control page is mapped read-only and never read back).
 */
#ifndef _GCARENA_PRIVATE_H
#define _GCARENA_PRIVATE_H

#include <linux/fs.h>
#include <linux/kref.h>
#include <linux/kthread.h>
#include <linux/mutex.h>
#include <linux/rwsem.h>
#include <linux/sched.h>
#include <linux/wait.h>
#include <linux/gcarena.h>
#include "core/gca_core.h"

#define GCA_MAX_THREADS		1024	/* registered threads per arena */
#define GCA_MAX_ROOTS		1024	/* root ranges per arena */
#define GCA_MAX_ROOT_BYTES	(1ULL << 32)	/* one root range */
#define GCA_MAX_STACK_BYTES	(1ULL << 30)	/* one registered stack */
#define GCA_MAX_RET_SPANS	4096	/* spans given back in one call */
#define GCA_MAX_ARENAS_PER_MM	64
#define GCA_MAX_ARENAS_PER_USER	256	/* unless CAP_SYS_RESOURCE */
#define GCA_FORCED_GC_PERIOD	(120 * HZ)	/* Go's forcegcperiod */
#define GCA_PREEMPT_DELAY_MS	5	/* before a laggard is signalled */
#define GCA_PREEMPT_RESEND_MS	100
#define GCA_DRAIN_BUDGET	4096	/* bytes scanned per lock hold */
#define GCA_FLUSH_ROUNDS	4	/* before mark termination, at most */
/* mark terminations a cycle gives up for more than a slice of work */
#define GCA_MARK_TERM_RETRIES	8
#define GCA_CK_CYCLES_LOGGED	4	/* checkmark failures logged per arena */
/* checkmark lines in the kernel log, see gca_checkmark_may_log() */
#define GCA_LOG_INTERVAL	(5 * HZ)
#define GCA_LOG_BURST		40	/* all users, per interval */
#define GCA_LOG_USER_INTERVAL	(60 * HZ)
#define GCA_LOG_USER_BURST	20	/* one user; a cycle's report is 17 */
#define GCA_LOG_USER_BITS	6
#define GCA_LOG_USERS		(1 << GCA_LOG_USER_BITS)	/* budgets */
#define GCA_RELEASE_WAIT_MS	10	/* for the held threads to leave */
#define GCA_SWEEP_BUDGET	16	/* spans per lock hold */
#define GCA_CLEAR_BUDGET	256	/* spans per lock hold */
#define GCA_ASSIST_BUDGET	65536	/* bytes scanned per assist, at most */
#define GCA_ASSIST_STEP		8192	/* bytes between two time checks */
#define GCA_ASSIST_MAX_NS	(500 * NSEC_PER_USEC)	/* one assist, at most */
#define GCA_YIELD_MAX_NS	(100 * NSEC_PER_USEC)	/* see gca_collector_yield */
#define GCA_BACKING_CHUNK	(GCA_CHUNK_PAGES << (GCA_PAGE_SHIFT - PAGE_SHIFT))
/* heap pages of a large object backed per hold of the lock (2 MiB) */
#define GCA_POPULATE_STEP	256

/* Why a cycle runs (stats and, later, tracepoints). */
enum gca_gc_reason {
	GCA_GC_NONE = 0,
	GCA_GC_HEAP,		/* heap reached the trigger */
	GCA_GC_FORCED,		/* none for GCA_FORCED_GC_PERIOD */
	GCA_GC_MANUAL,		/* gca_collect() */
	GCA_GC_LIMIT,		/* heap reached a trigger the limit lowered */
};

/* Stages of a cycle's marking (Go's gcStart and gcMarkDone). */
enum gca_mark_stage {
	GCA_STAGE_BARRIER,	/* every thread turns its barrier on */
	GCA_STAGE_SCAN,		/* every stack is scanned; the heap is marked */
	GCA_STAGE_FLUSH,	/* buffers flushed, threads go on; marking */
	GCA_STAGE_TERM,		/* threads held, final drain */
	GCA_STAGE_CHECK,	/* checkmark: stacks scanned again, held */
};

/* A registered mutator thread.  Protected by arena->lock. */
struct gca_thread {
	struct list_head node;		/* arena->threads */
	struct task_struct *task;	/* holds a reference */
	u32 tid;
	u64 stack_lo, stack_hi;		/* untrusted user addresses */
	u64 acked_seq;			/* last handshake answered */
	u64 barrier_cycle;		/* last cycle whose barrier it turned on */
	u64 scanned_cycle;		/* last scan its stack was scanned in */
	/*
	 * with scanned_cycle the scan in force: its stack is scanned from
	 * here up (gca_stack_grew(), mutator.c)
	 */
	u64 scanned_sp;
	u64 signalled_seq;		/* last handshake it was signalled for */
	/*
	 * in gca_enter_blocking(): answers for itself, stack scanned by others
	 */
	bool parked;
	bool park_claimed;		/* another thread is scanning its stack */
	/*
	 * inside gca_handshake(): it answers by itself, a signal would only
	 * interrupt it
	 */
	bool in_handshake;
	/*
	 * ioctls of its own using it with a->lock dropped: not to be freed by
	 * the collector's reaping
	 */
	unsigned int busy;
	u64 park_sp;			/* untrusted, as sp */
	/* scan work owed by its allocation in cycle assist_cycle (bytes) */
	u64 assist_debt;
	u64 assist_cycle;
	unsigned long signalled_at;	/* jiffies */
	struct list_head spans;		/* spans in its cache (span->list) */
};

/* A range registered with gca_add_roots.  Protected by arena->lock. */
struct gca_root {
	struct list_head node;		/* arena->roots */
	u64 start, len;			/* untrusted user range */
};

struct gca_arena {
	u32 id;
	struct list_head node;		/* gca_arenas, under gca_arenas_lock */
	/*
	 * The file's, and one per /proc reader holding the arena without
	 * gca_arenas_lock: the last put frees the struct.  A reader that
	 * finds dying set under lock reads nothing more (the rest goes at
	 * release, gca_arena_destroy()).
	 */
	struct kref ref;
	struct mm_struct *mm;		/* creator; mmgrab()ed: identity only */
	struct pid *pid;		/* creator's thread group */
	char comm[TASK_COMM_LEN];
	kuid_t uid;
	struct inode *inode;		/* private address_space for the maps */
	struct proc_dir_entry *proc;
	u64 created_ns;

	struct mutex lock;		/* see the top of this file */
	struct mutex gc_thread_lock;	/* see the top of this file */
	/*
	 * Mutator calls waiting for lock (gca_lock_mutator()); the collector
	 * lets them in first between two slices (gca_collector_yield()), and
	 * a drain slice ends early for them (the core's ops->lock_wanted).
	 */
	atomic_t lock_waiters;
	bool created;			/* GCA_IOC_CREATE done */
	bool heap_mapped;		/* heap mmap done (once) */
	bool dying;			/* release() began */
	u32 preempt_signal;
	struct gca_heap heap;
	struct page *ctrl_page;
	struct gca_ctrl *ctrl;		/* kernel address of ctrl_page */

	/* knobs: own values, or the module's when !own */
	bool gc_percent_own, memory_limit_own;
	int gc_percent;
	s64 memory_limit;

	/* threads and roots */
	struct list_head threads;
	u32 nthreads;
	unsigned long *tid_map;		/* GCA_MAX_THREADS bits */
	struct list_head roots;
	u32 nroots;

	/* the cycle (Go's gcphase and work.*) */
	/*
	 * NULL until the first call that may need a cycle; set once, under
	 * gc_thread_lock, read without it (smp_load_acquire())
	 */
	struct task_struct *gc_thread;
	struct mem_cgroup *gc_memcg;	/* the thread charges it; a reference */
	wait_queue_head_t gc_wq;	/* the collector waits here */
	wait_queue_head_t cycle_wq;	/* mutators wait here */
	enum gca_phase phase;
	enum gca_gc_reason request;	/* pending request, GCA_GC_NONE if none */
	u64 hs_seq;			/* handshake sequence (== cycle start) */
	u64 phase_gen;			/* bumped at every phase change */
	u64 cycle;			/* current cycle, 0 = none yet */
	/* current stack scan (a cycle has one, two with checkmark) */
	u64 scan_id;
	enum gca_mark_stage stage;	/* within GCA_PHASE_MARK/MARK_TERM */
	bool checkmark_own;		/* debug: own value, else the module's */
	u32 debug;
	u64 wake_gen;			/* bumped when the collector should look */
	unsigned int nin_handshake;	/* threads inside gca_handshake() */
	unsigned long phase_jiffies;	/* when the phase began */
	bool kick;			/* a module knob changed */
	bool roots_claimed;		/* a thread is scanning the roots */
	bool roots_scanned;		/* root ranges scanned this cycle */
	bool creating;			/* GCA_IOC_CREATE under way or done */
	u32 collect_waiters;		/* process threads in GCA_IOC_COLLECT */
	u64 roots_bytes;		/* stack + root bytes scanned last cycle */
	u64 cycle_roots_bytes;		/* ... this cycle so far */
	u64 next_gc, gc_trigger;
	bool goal_limited;		/* the memory limit lowered next_gc */
	unsigned long last_gc_jiffies;

	/* statistics (struct gca_stats) */
	u32 num_gc, num_forced_gc;
	u32 stats_seen_gc;		/* num_gc at the last GCA_IOC_READ_STATS */
	u64 last_gc_ns;			/* wall clock */
	u64 pause_total_ns;
	u64 pause_ns[GCA_NUM_PAUSE];
	u64 pause_end[GCA_NUM_PAUSE];
	u64 gc_cpu_ns;
	u64 cycle_max_pause;		/* longest pause of the current cycle */
	u64 pause_hist[GCA_PAUSE_HIST_BUCKETS];
	u64 num_pauses;
	u64 assist_ns;
	/*
	 * Scan work the collector thread did this cycle that no assist has
	 * claimed yet (Go's bgScanCredit): a thread owing assist work takes
	 * it from here first.
	 */
	u64 assist_credit;
	u64 checkmark_cycles, checkmark_failures;
	u64 checkmark_failed_cycles;	/* cycles that found misses */
	/* mark terminations that went back to concurrent marking */
	u64 mark_term_retries;
	/* the most heap.mark_work done in one hold of lock (bytes) */
	u64 mark_slice_max;

	/* backing memory: [chunk][4 KiB page] -> page, see arena.c */
	struct rw_semaphore pages_rwsem;
	struct page ***backing;		/* the directory; NULL until backed */
	u64 nbacking_chunks;		/* directory entries allocated */
	u64 meta_bytes;			/* the backing table's own memory */
};

/* arena.c */
extern struct mutex gca_arenas_lock;
extern struct list_head gca_arenas;
struct gca_arena *gca_arena_alloc(void);
int gca_arena_create(struct gca_arena *a, const struct gca_create *arg);
void gca_arena_destroy(struct gca_arena *a);
int gca_arena_mmap(struct gca_arena *a, struct file *file,
		   struct vm_area_struct *vma);
int gca_fs_init(void);
void gca_fs_exit(void);
int gca_arena_fill_stats(struct gca_arena *a, struct gca_stats *st);
void gca_arena_fill_stats_locked(struct gca_arena *a, struct gca_stats *st);
void gca_arena_put(struct gca_arena *a);

/* knobs.c */
int gca_parse_byte_count(const char *val, s64 *out);
int gca_knob_gc_percent(void);
s64 gca_knob_memory_limit(void);
int gca_arena_gc_percent(struct gca_arena *a);
u32 gca_arena_debug(struct gca_arena *a);
s64 gca_arena_memory_limit(struct gca_arena *a);

/* ioctl.c */
long gca_ioctl(struct file *file, unsigned int cmd, unsigned long arg);

/* cycle.c */
int gca_cycle_need_thread(struct gca_arena *a);
void gca_cycle_stop_thread(struct gca_arena *a);
void gca_cycle_update_pacer(struct gca_arena *a);
void gca_cycle_check_trigger(struct gca_arena *a);
void gca_cycle_kick_all(void);
void gca_record_pause(struct gca_arena *a, u64 ns);
bool gca_cycle_in_progress(struct gca_arena *a);
bool gca_checkmark_may_log(struct gca_arena *a);
void gca_wake_collector(struct gca_arena *a);

/* mutator.c */
int gca_handshake(struct gca_arena *a, struct gca_thread *t,
		  const struct gca_handshake *hs, bool collect);
int gca_mutator_may_allocate(struct gca_arena *a, struct gca_thread *t);
void gca_mark_assist(struct gca_arena *a, struct gca_thread *t, u64 live0);
int gca_help_scan(struct gca_arena *a, struct mm_struct *mm);

/* threads.c */
struct gca_thread *gca_thread_current(struct gca_arena *a);
struct gca_thread *gca_thread_get_current(struct gca_arena *a);
void gca_thread_put(struct gca_arena *a, struct gca_thread *t);
struct gca_span *gca_cached_span(struct gca_arena *a, struct gca_thread *t,
				 u64 base);
void gca_uncache_all(struct gca_arena *a, struct gca_thread *t);
void gca_thread_drop(struct gca_arena *a, struct gca_thread *t);
bool gca_thread_gone(struct gca_arena *a, struct gca_thread *t);
bool gca_thread_reap(struct gca_arena *a, struct gca_thread *t);
u32 gca_reap_gone(struct gca_arena *a);
void gca_thread_signal(struct gca_arena *a, struct gca_thread *t);
int gca_give_back_spans(struct gca_arena *a, struct gca_thread *t,
			u64 uspans, u32 nspans);

/* roots.c */
int gca_flush_wbuf(struct gca_arena *a, u64 uwbuf, u32 n);
int gca_scan_user_range(struct gca_arena *a, struct mm_struct *mm,
			u64 start, u64 len, u64 kind);
int gca_scan_roots(struct gca_arena *a, struct mm_struct *mm);

/*
 * a->lock taken for a mutator's call (an ioctl, a stack scan): counted in
 * a->lock_waiters while it waits, so that the collector lets it in
 * between two of its slices.
 */
static inline void gca_lock_mutator(struct gca_arena *a)
{
	atomic_inc(&a->lock_waiters);
	mutex_lock(&a->lock);
	atomic_dec(&a->lock_waiters);
}

/* proc.c */
int gca_proc_init(void);
void gca_proc_exit(void);
int gca_proc_add_arena(struct gca_arena *a);
void gca_proc_remove_arena(struct gca_arena *a);

#endif /* _GCARENA_PRIVATE_H */
