/* SPDX-License-Identifier: GPL-2.0 */
/*
 * gcarena's GC core: the heap of one arena, free of device and mmap glue.
 *
 * The design is the Go runtime's (src/runtime/malloc.go, mheap.go,
 * mcentral.go, mgcmark.go, mgcsweep.go, mgcpacer.go), adapted to a heap
 * whose memory a user process can rewrite at any moment:
 *
 *  - The heap is a reserved range of GCA_PAGE_SIZE (8 KiB) pages.  Page
 *    numbers and byte offsets are relative to the range; the user address
 *    of offset 0 is h->user_base.  The heap grows upward in chunks of
 *    GCA_CHUNK_PAGES pages; a chunk's metadata exists once it has grown.
 *  - A span is a run of pages.  A free span sits on a free list (by size);
 *    an in-use span holds objects of one span class (size class << 1 |
 *    noscan) or one large object (size class 0).  Go 1.11's mheap: free
 *    lists for 1..GCA_FREE_LISTS-1 pages, one list for larger runs,
 *    coalescing with both neighbours on free.
 *  - Every piece of metadata (span table, span structs, alloc/mark bits,
 *    gray queue) is kernel memory.  Heap contents are read only through
 *    ops->map() and every word read is untrusted: a value is a pointer only
 *    if it falls inside an allocated object of an in-use span.
 *  - Memory backing heap pages is the glue's business (ops->populate,
 *    ops->release); the core counts it.
 *
 * Locking: the core takes no locks.  Every function here is called with
 * the host's lock held (in the module the arena's a->lock, kmod/arena.c),
 * except the pure functions (size classes, pacer arithmetic), and
 * gca_heap_destroy() on a heap no one else can reach.  The host names its
 * lock to gca_heap_init(); the core's entry points state the rule with
 * gca_assert_locked() (lockdep_assert_held(), gca_env.h), as the glue's
 * functions do.  A host with one thread and no lock (the unit tests,
 * KUnit) names none.  A function that may run long
 * (marking, sweeping, scavenging) calls cond_resched() every
 * GCA_WORK_QUANTUM units of work and returns -EINTR early when
 * ops->should_abort() says so.
 */
#ifndef _GCA_CORE_H
#define _GCA_CORE_H

#include "gca_env.h"
#include <linux/gcarena.h>

/* ---------------------------------------------------------------------
 * Size classes (gca_sizeclass.c)
 */

/* Table of Go's size classes: class_to_size, class_to_allocnpages. */
extern const u32 gca_class_size[GCA_NUM_SIZE_CLASSES];
extern const u8 gca_class_npages[GCA_NUM_SIZE_CLASSES];

/* Smallest class holding size bytes (1..GCA_MAX_SMALL_SIZE); 0 if none. */
unsigned int gca_size_to_class(u64 size);
/* Objects per span of class c (c >= 1). */
u32 gca_class_nelems(unsigned int c);

/* ---------------------------------------------------------------------
 * Spans
 */

#define GCA_CHUNK_PAGES		512	/* 4 MiB of heap per chunk */
#define GCA_FREE_LISTS		128	/* exact-size free lists, in pages */
#define GCA_WORK_QUANTUM	256	/* objects/spans between cond_resched */
#define GCA_DRAIN_MIN		512	/* bytes a drain slice scans, at least */
#define GCA_RESCAN_SPAN_COST	64	/* mark_work of a span recovery visits */
/*
 * Large objects are scanned in pieces of this size (Go's oblets are
 * 128 KiB; smaller here, as a piece is scanned in one hold of the
 * arena's lock, which the mutators may be waiting for).
 */
#define GCA_OBLET_SIZE		(32 * 1024)

enum gca_span_state {
	GCA_SPAN_FREE = 1,	/* on a free list */
	GCA_SPAN_INUSE,		/* holds objects */
};

struct gca_span {
	/*
	 * FREE: free list; INUSE: class partial/full list, large list, or
	 * (cached) the glue's per-thread list
	 */
	struct list_head list;
	struct list_head all;	/* INUSE: h->inuse, every in-use span */
	u64 start;		/* first page */
	u64 npages;
	u64 elemsize;		/* bytes per object; large: npages pages */
	u8 state;		/* enum gca_span_state */
	u8 spanclass;		/* GCA_SPANCLASS(c, noscan); c == 0: large */
	bool noscan;		/* objects hold no pointers: never scanned */
	bool cached;		/* INUSE, handed to a thread cache */
	bool scavenged;		/* FREE: every page released (no backing) */
	bool needzero;		/* INUSE: free slots may hold old data */
	u32 nelems;		/* objects in the span */
	u32 nalloc;		/* allocated objects (bits set in alloc_bits) */
	u32 nwords;		/* u64 words per bitmap */
	u32 owner;		/* cached: the glue's thread id */
	/*
	 * slot index = (offset * divmul) >> 32 (Go's mspan.divMul); 0 for large
	 * spans
	 */
	u32 divmul;
	u64 *alloc_bits;	/* slot allocated (committed) */
	u64 *mark_bits;		/* slot marked this cycle */
	u64 *cache_bits;	/* cached: free slots handed to the cache */
	u64 *check_bits;	/* checkmark: the concurrent mark's result */
	u64 bits[];		/* storage for the four bitmaps */
};

struct gca_heap;

/* What the core needs from its host (the kernel glue or a unit test). */
struct gca_heap_ops {
	/*
	 * Back pages [first, first + n) with zeroed or reused memory.
	 * Returns bytes newly backed (>= 0) or -ENOMEM; *all_fresh is set to
	 * true when every page was newly backed (so it reads as zero).
	 */
	s64 (*populate)(struct gca_heap *h, u64 first, u64 n, bool *all_fresh);
	/* Drop the backing of pages [first, first + n); returns bytes freed. */
	u64 (*release)(struct gca_heap *h, u64 first, u64 n);
	/*
	 * Kernel address of heap byte offset off, valid for *len bytes
	 * (at least 8, up to the end of its backing page), or NULL when that
	 * page has no backing.
	 */
	const void *(*map)(struct gca_heap *h, u64 off, u64 *len);
	/* True when long work should stop (thread stopping, process dying). */
	bool (*should_abort)(struct gca_heap *h);
	/*
	 * May the heap log one more line of checkmark detail?  The host's
	 * rate limits (the module's, the user's); NULL: always.  Asked only
	 * for a line about to be printed.
	 */
	bool (*may_log)(struct gca_heap *h);
	/*
	 * Does another thread wait for the host's lock?  NULL: never.  Asked
	 * by a bounded drain slice (gca_mark_drain_some()) after each gray
	 * entry once it has done GCA_DRAIN_MIN bytes of work: true ends the
	 * slice, so that the host can let the waiter in.
	 */
	bool (*lock_wanted)(struct gca_heap *h);
};

/* ---------------------------------------------------------------------
 * Gray queue (gca_mark.c): explicit, never recursion.
 */

#define GCA_GRAY_BLOCK_ENTRIES	510
struct gca_gray_block {
	struct gca_gray_block *next;
	u64 n;
	u64 ent[GCA_GRAY_BLOCK_ENTRIES];	/* heap offsets to scan */
};

struct gca_grayq {
	struct gca_gray_block *head;	/* top block, LIFO */
	struct gca_gray_block *spare;	/* one cached empty block */
	u64 nblocks;
	u64 max_blocks;		/* cap; beyond it pushes overflow */
	bool overflow;		/* a marked object was not queued */
	u64 overflows;		/* times overflow recovery ran (stat) */
	/*
	 * Overflow recovery under way, resumable (gca_mark.c): the ->all node
	 * of the span whose marked objects are rescanned next (&heap->inuse
	 * once the round has passed the last one), the slot to resume at and
	 * the byte within that object; NULL when no round is under way.
	 */
	struct list_head *rescan;
	u64 rescan_idx;
	u64 rescan_in;
};

/* ---------------------------------------------------------------------
 * The heap
 */

struct gca_heap {
	const struct gca_heap_ops *ops;
	void *priv;			/* the host's */
	/* the host's lock, held around every call (see the top), or NULL */
	struct mutex *lock;
	u64 npages;			/* reserved pages */
	u64 grown_pages;		/* pages with metadata: [0, grown) */
	u64 user_base;			/* user address of offset 0; 0: none */
	/*
	 * [chunk][page in chunk]; for an in-use span every page points to it,
	 * for a free span its first and last page, else NULL.  Both levels
	 * grow with the heap, never with the reservation (gca_heap_grow()):
	 * a chunk's page array when the heap grows into it, the directory
	 * by doubling.  An empty heap has neither.
	 */
	struct gca_span ***span_table;
	u64 span_table_len;		/* directory entries allocated */
	u64 nchunks;			/* chunks in the reservation */
	struct list_head free[GCA_FREE_LISTS];	/* free spans by npages */
	struct list_head free_large;	/* free spans >= GCA_FREE_LISTS */
	struct list_head partial[GCA_NUM_SPAN_CLASSES];	/* free slots */
	struct list_head full[GCA_NUM_SPAN_CLASSES];	/* no free slot */
	struct list_head large;		/* in-use large spans */
	struct list_head inuse;		/* every in-use span, via ->all */
	struct gca_grayq gray;
	struct list_head *clear_cursor;	/* next span whose marks to clear */
	struct list_head *sweep_cursor;	/* next span to sweep */
	bool marking;			/* a mark is under way: allocate black */
	/*
	 * marks are final: sweeping allowed, and allocation is black so that
	 * sweeping again frees nothing new
	 */
	bool sweeping;

	/* statistics and pacer inputs (bytes unless said) */
	u64 heap_alloc;		/* committed allocated objects */
	u64 heap_objects;
	u64 heap_inuse;		/* in-use spans */
	u64 heap_live;		/* heap_alloc + free slots of cached spans */
	u64 heap_backed;	/* bytes with backing memory */
	u64 heap_marked;	/* marked by the last completed mark */
	u64 meta_bytes;		/* kernel memory for metadata */
	u64 total_alloc;	/* cumulative */
	u64 mallocs;		/* cumulative objects */
	u64 frees;		/* cumulative objects */
	u64 marked_objects;	/* this mark */
	u64 marked_bytes;	/* this mark; heap_marked when it completes */
	u64 scanned_bytes;	/* this mark */
	/*
	 * Marking work done, cumulative, in bytes: what was scanned plus what
	 * overflow recovery's walk over spans and bitmaps cost (counted as
	 * GCA_RESCAN_SPAN_COST per span, 8 per bitmap word).  The budget of
	 * gca_mark_drain_some() is measured in it.
	 */
	u64 mark_work;
	/*
	 * objects turned gray (not allocated black), cumulative: did a flush
	 * find work?
	 */
	u64 shaded;
	u64 nspans_inuse;

	/*
	 * Checkmark diagnostics (Go's gcDumpObject): while the re-mark runs,
	 * where each object the concurrent mark missed was found, so that
	 * the log names the path the concurrent mark failed to follow.
	 */
	bool checking;			/* a checkmark re-mark is under way */
	/* heap offset being scanned, or a GCA_CK_FROM_* root kind */
	u64 ck_from;
	u32 ck_reported;		/* lines logged, for the heap's life */
	struct list_head *ck_cursor;	/* next span to save or verify */
	u64 ck_failures;		/* counted by gca_checkmark_verify_some() */
};

/* Kinds of root, above any heap offset (the heap is below 2^40). */
#define GCA_CK_FROM_ROOTS	U64_MAX		/* not said which */
#define GCA_CK_FROM_STACK	(U64_MAX - 1)	/* a thread's stack */
#define GCA_CK_FROM_RANGE	(U64_MAX - 2)	/* a GCA_IOC_ADD_ROOTS range */
#define GCA_CK_FROM_CACHE	(U64_MAX - 3)	/* a cached span's slots */
/*
 * Lines of checkmark detail a heap may log in its life: a process that
 * bypasses the barrier on purpose must not flood the kernel log (the
 * counts are in the statistics).  A process can make new heaps, so the
 * host also rate-limits the lines (ops->may_log).
 */
#define GCA_CK_REPORT_MAX	16

/*
 * lock: the host's lock, which it holds around every later call but
 * gca_heap_destroy(), checked by gca_assert_locked(); NULL for a host
 * with one thread that takes none.
 */
int gca_heap_init(struct gca_heap *h, u64 heap_bytes,
		  const struct gca_heap_ops *ops, void *priv,
		  struct mutex *lock);
/* Frees all metadata; backing memory is the host's to free. */
void gca_heap_destroy(struct gca_heap *h);

/*
 * The host's lock is held (lockdep, in the kernel): at the top of the
 * entry points the glue calls, as the glue's own functions assert a->lock.
 * Without CONFIG_LOCKDEP, and in userspace, it compiles to nothing.
 */
static inline void gca_assert_locked(const struct gca_heap *h)
{
	if (h->lock)
		lockdep_assert_held(h->lock);
}

/*
 * The span table's slot of a grown page (no bounds check: a grown page's
 * chunk is always in the directory).
 */
static inline struct gca_span **gca_entry(struct gca_heap *h, u64 page)
{
	return &h->span_table[page / GCA_CHUNK_PAGES][page % GCA_CHUNK_PAGES];
}

/*
 * The in-use span holding heap offset off, or NULL (untrusted off).
 * Inline: marking calls it for every word it scans.
 */
static inline struct gca_span *gca_span_of(struct gca_heap *h, u64 off)
{
	struct gca_span *s;
	u64 page = off >> GCA_PAGE_SHIFT;

	if (page >= h->grown_pages)
		return NULL;
	s = *gca_entry(h, page);
	if (s && s->state == GCA_SPAN_INUSE)
		return s;
	return NULL;
}

/*
 * One step of a walk over h->inuse in slices (clearing marks, checkmark's
 * passes, the checker's): the span at *cursor, the cursor moved past it;
 * NULL when budget is spent (*cursor stays, for the next slice) or the
 * walk is over (*cursor NULL).  Nothing may leave h->inuse between two
 * slices of one walk.
 */
static inline struct gca_span *gca_inuse_next(struct gca_heap *h,
					      struct list_head **cursor,
					      u32 *budget)
{
	struct list_head *pos = *cursor;

	if (!pos || pos == &h->inuse) {
		*cursor = NULL;
		return NULL;
	}
	if (!*budget)
		return NULL;
	(*budget)--;
	*cursor = pos->next;
	return list_entry(pos, struct gca_span, all);
}

/* ---- page heap (gca_pageheap.c) ---- */
/* Bytes of one span struct with its four bitmaps of nwords words each. */
static inline size_t gca_span_struct_size(u32 nwords)
{
	return sizeof(struct gca_span) + 4 * (size_t)nwords * sizeof(u64);
}

/* Allocate a run of npages (grows the heap as needed); NULL if none. */
struct gca_span *gca_pages_alloc(struct gca_heap *h, u64 npages);
/*
 * The same, with the span struct sized for three bitmaps of nwords words
 * each (gca_span.c; gca_pages_alloc() gives nwords 1).  The span is
 * GCA_SPAN_INUSE, its bitmaps zero, on no list and not counted in the
 * heap_inuse statistics: that is the caller's business.
 */
struct gca_span *gca_pages_alloc_bits(struct gca_heap *h, u64 npages,
				      u32 nwords);
/* Give the pages of an in-use span back; s is freed. */
void gca_pages_free(struct gca_heap *h, struct gca_span *s);
/*
 * Undo growth beyond grown pages (a chunk boundary, or grown_pages) if
 * everything past it is free: the heap's last free span is cut at grown
 * and the metadata of the chunks past it freed.  Else nothing changes.
 */
void gca_heap_ungrow(struct gca_heap *h, u64 grown);
/*
 * Reserve page 0 of a heap that has not grown yet, so that no object
 * has the heap's base address (see gca_pageheap.c).  0, -ENOMEM, -EBUSY.
 */
int gca_heap_reserve_base(struct gca_heap *h);
/*
 * Release the backing of free pages, scavenged spans skipped, until
 * h->heap_backed <= target or no free page is backed; returns bytes
 * released.
 */
u64 gca_scavenge(struct gca_heap *h, u64 target_backed);

/* ---- central lists (gca_span.c) ---- */
/*
 * A span of spanclass (size class >= 1) with at least one free slot, for
 * a thread cache: s->cached is set, s->cache_bits holds the slots handed
 * out; the caller links s->list to its own list.  heap_live grows by the
 * free slots.  NULL with *err = -ENOMEM or -EINVAL.
 */
struct gca_span *gca_span_refill(struct gca_heap *h, unsigned int spanclass,
				 u32 owner, int *err);
/* The cache gives s back: cache slots below freeindex are allocated. */
void gca_span_uncache(struct gca_heap *h, struct gca_span *s, u32 freeindex);
/* One large object of size bytes; returns its span or NULL (-ENOMEM). */
struct gca_span *gca_alloc_large(struct gca_heap *h, u64 size, bool noscan,
				 bool *needzero);
/*
 * gca_alloc_large() in three steps, so that the host can back a huge
 * object a piece at a time with its lock dropped in between:
 * gca_large_reserve() takes the pages (the span is in the span table as
 * in use with no object, so marking ignores it, on no list, not counted:
 * nothing else touches it); the host backs s->npages pages from
 * s->start; gca_large_commit() makes it the object (backed: bytes newly
 * backed, fresh: all of them, black: its mark bit set), or
 * gca_large_abort() gives the pages back and, if the reservation grew
 * the heap from grown pages, shrinks it back when the tail is free
 * (backing is the host's to release first).
 */
struct gca_span *gca_large_reserve(struct gca_heap *h, u64 size);
void gca_large_commit(struct gca_heap *h, struct gca_span *s, bool noscan,
		      s64 backed, bool fresh, bool black);
void gca_large_abort(struct gca_heap *h, struct gca_span *s, u64 grown);

/* ---- marking (gca_mark.c) ---- */
/* Clear mark bits; slots of cached spans are marked and queued (roots). */
void gca_mark_begin(struct gca_heap *h);
/* An untrusted word: if it points into an allocated object, shade it. */
bool gca_mark_word(struct gca_heap *h, u64 word);
void gca_mark_words(struct gca_heap *h, const u64 *words, size_t n);
/* The same, saying what kind of root they are (GCA_CK_FROM_*: checkmark) */
void gca_mark_root_words(struct gca_heap *h, const u64 *words, size_t n,
			 u64 from);
/*
 * Scan until the gray queue is empty (overflow recovered); 0 or -EINTR.
 * The mark is then complete: heap_marked is set from it.
 */
int gca_mark_drain(struct gca_heap *h);
/* Is the object at off (untrusted) allocated and marked?  For checks. */
bool gca_is_marked(struct gca_heap *h, u64 off);
/*
 * Concurrent marking (cycle.c) splits gca_mark_begin() and
 * gca_mark_drain() into bounded steps, so the heap lock is dropped between
 * them and mutators keep allocating:
 *  - gca_mark_clear_begin() then gca_mark_clear_some() until it returns
 *    true clear every in-use span's marks (no span is freed meanwhile:
 *    sweeping is over);
 *  - gca_mark_shade_span() shades the slots of a span that a cache holds
 *    (roots, as in gca_mark_begin());
 *  - gca_span_blacken() marks the slots handed to a cache during marking:
 *    allocation during mark is black (Go's gcmarknewobject);
 *  - gca_mark_drain_some() scans at most budget gray entries: 0 when the
 *    queue is empty, -EAGAIN when work remains, -EINTR on abort.
 */
void gca_mark_clear_begin(struct gca_heap *h);
bool gca_mark_clear_some(struct gca_heap *h, u32 budget);
void gca_mark_shade_span(struct gca_heap *h, struct gca_span *s);
void gca_span_blacken(struct gca_heap *h, struct gca_span *s);
/*
 * Drain the gray queue until about budget bytes of mark_work were done
 * (at least one entry; at most budget plus one entry or one step of
 * overflow recovery, GCA_OBLET_SIZE plus a span's bitmap): 0 when it is
 * empty and no overflow recovery is left, -EAGAIN when there is more,
 * -EINTR.  Overflow recovery runs in the same slices and resumes where
 * the last one stopped.  heap_marked is left alone: an empty queue
 * mid-cycle is not a mark's end (the caller finishes with
 * gca_mark_drain()).
 */
int gca_mark_drain_some(struct gca_heap *h, u64 budget);
/*
 * Checkmark (Go's GODEBUG=gccheckmark=1): after a completed mark,
 * gca_checkmark_save() keeps its result; the caller clears the marks and
 * marks again from the roots with the mutators held; then
 * gca_checkmark_verify() counts objects marked now but not then (the
 * concurrent mark lost them: a collector bug), reports up to a few with
 * pr_warn, and leaves the union of both marks.
 */
void gca_checkmark_save(struct gca_heap *h);
u64 gca_checkmark_verify(struct gca_heap *h);
/*
 * The same in bounded steps (budget spans each), as gca_mark_clear_some():
 * gca_checkmark_walk_begin(), then gca_checkmark_save_some() until true;
 * after the re-mark, gca_checkmark_walk_begin() again and
 * gca_checkmark_verify_some() until true, the count in h->ck_failures.
 * Spans that join h->inuse meanwhile (at its head) are not visited.
 */
void gca_checkmark_walk_begin(struct gca_heap *h);
bool gca_checkmark_save_some(struct gca_heap *h, u32 budget);
bool gca_checkmark_verify_some(struct gca_heap *h, u32 budget);
/* Is off (untrusted) in an allocated object, or a slot a cache holds? */
bool gca_is_allocated(struct gca_heap *h, u64 off);
void gca_grayq_destroy(struct gca_grayq *q);

/* ---- sweeping (gca_sweep.c) ---- */
struct gca_sweep_result {
	u64 freed_objects;
	u64 freed_bytes;
	u64 freed_spans;	/* spans given back to the page heap */
	u64 swept_spans;
};
/*
 * Free every allocated, unmarked object of every in-use span that is not
 * cached; empty spans go back to the page heap.  0 or -EINTR (the rest is
 * left unswept and is swept by the next call).
 */
int gca_sweep(struct gca_heap *h, struct gca_sweep_result *res);
/*
 * Concurrent sweeping (Go's background sweeper plus lazy sweeping in
 * gca_span_refill()): gca_sweep_begin() after a completed mark, then
 * gca_sweep_some() in bounded steps until it returns 0 (1: more to do).
 * Only the sweeper frees spans; gca_span_refill() sweeps the partial span
 * it hands out while h->sweeping, without freeing it.  Sweeping stays
 * allowed until gca_mark_clear_begin().
 */
bool gca_sweep_span(struct gca_heap *h, struct gca_span *s,
		    struct gca_sweep_result *res, bool may_free);
void gca_sweep_begin(struct gca_heap *h);
int gca_sweep_some(struct gca_heap *h, u32 budget,
		   struct gca_sweep_result *res);

/* ---- consistency checker (gca_check.c) ---- */
/*
 * A check of every invariant of the heap, for hosts that test the core
 * (O(heap pages + bitmap words), and O(spans) per list membership test:
 * see gca_check.c).  The caller fills in the first fields; the checker
 * calls report() with one line per inconsistency it finds.
 */
struct gca_check {
	/*
	 * Every in-use span is on h->inuse (came from gca_span.c); false for
	 * a host that takes raw pages with gca_pages_alloc().
	 */
	bool strict_inuse;
	/*
	 * Does the host back heap page p?  NULL: the host does not say, and
	 * neither scavenged pages nor heap_backed are checked.
	 */
	bool (*backed)(struct gca_check *c, u64 page);
	u64 backed_pages;	/* with backed: the host's count of pages */
	/* One line saying what is wrong; NULL: only count. */
	void (*report)(struct gca_check *c, const char *line);
	void *priv;		/* the host's */
	unsigned int errors;	/* out: inconsistencies found */
	struct list_head *cursor;	/* gca_heap_check_spans_some()'s */
};
/* Check h (read only); returns c->errors, 0 when consistent. */
unsigned int gca_heap_check(struct gca_heap *h, struct gca_check *c);
/*
 * The same for what each in-use span must hold by itself (bitmaps,
 * geometry, table entry; not its list membership), in bounded steps:
 * gca_heap_check_spans_begin(), then gca_heap_check_spans_some() until
 * it returns true, checking at most budget spans a call, the count in
 * c->errors.  Between two calls no span may leave h->inuse (the module
 * calls it with the threads held at mark termination, as checkmark's
 * walks); strict_inuse and backed are not used.
 */
void gca_heap_check_spans_begin(struct gca_heap *h, struct gca_check *c);
bool gca_heap_check_spans_some(struct gca_heap *h, struct gca_check *c,
			       u32 budget);

/* ---- pacer arithmetic (gca_pacer.c): pure functions ---- */
#define GCA_HEAP_MINIMUM	(4ULL << 20)	/* Go's heapMinimum at GOGC=100 */
#define GCA_LIMIT_HEADROOM_PCT	3	/* Go's memoryLimitHeapGoalHeadroom */
/*
 * Heap goal: marked + (marked + roots) * gc_percent / 100, at least
 * GCA_HEAP_MINIMUM * gc_percent / 100; gc_percent < 0: no goal (U64_MAX)
 * unless a limit is set.  A memory limit lowers it to what fits under the
 * limit after overhead (non-heap memory), less headroom, but never below
 * marked.  Saturates instead of overflowing.
 */
u64 gca_pacer_goal(u64 marked, u64 roots, int gc_percent, s64 memory_limit,
		   u64 overhead);
/* Heap size at which a cycle starts: 7/8 of the runway from marked to goal. */
u64 gca_pacer_trigger(u64 goal, u64 marked);

#endif /* _GCA_CORE_H */
