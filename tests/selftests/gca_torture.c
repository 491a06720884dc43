// SPDX-License-Identifier: GPL-2.0
/*
 * gcarena torture (rcutorture, bdwgc's gctest): N mutator threads (1, 2,
 * 4, 8; up to 16) rewire a shared random graph and their own lists, trees and bags
 * of objects of every size class while the collector marks concurrently,
 * with checkmark on, GOGC 10 and a thread calling gca_collect() in a loop.
 * Passes when no object the program can reach was ever freed or
 * clobbered, checkmark found nothing the concurrent mark missed, and
 * cycles completed.
 *
 * Every object carries a header: a magic naming its kind, its own
 * address (xor a key: an integer, not a pointer), its size, its number of
 * pointer slots, the seed of its payload, and a checksum of those; the
 * payload after the slots is regenerated from the seed.  Objects under 40
 * bytes (tiny and small classes) are all pattern derived from their
 * address and size.  No data word, nor the last partial word of an
 * object, ever falls in the heap's address range (no_heap_word()), so
 * that checkmark cannot take data for a pointer.  An object is verified
 * by content and by asking the kernel whether its address is allocated
 * (GCA_IOC_QUERY_OBJECTS): a freed object is caught even before its
 * memory is reused.
 *
 * Where pointers live, and how they move (every heap and root store goes
 * through gca_store() or gca_memmove()):
 *  - the shared graph: a table of nodes in a root range (a malloc()ed
 *    struct registered with gca_add_roots()), each node with K slots
 *    pointing to nodes.  Mutators link, unlink, replace, copy slot blocks
 *    (gca_memmove) and walk it holding a pthread rwlock as readers, so
 *    they race each other; the collector thread verifies it after each
 *    cycle holding the lock as writer;
 *  - each thread's stack: a few locals that take nodes out of the table
 *    and list objects out of the list, and put them back later;
 *  - each thread's list, tree and bag, hung from its part of the root
 *    range, verified by the thread itself after every cycle.  The bag
 *    holds objects of every size class (tiny, small, scan and noscan, a
 *    few large) and is shifted with overlapping gca_memmove()s.
 *
 * A thread that waits for the rwlock parks (gca_enter_blocking) or not
 * (the preempt signal then reaches it), at random.
 *
 * The interference variant (6 threads, 8 s; CI's short form of `make
 * soak`, tests/vm/soak.sh) adds, each also available to the other
 * variants by its variable:
 *  - hand-offs (GCA_TORTURE_HANDOFF=1): objects change threads through
 *    a mailbox, a heap object hung from the root range: a thread puts a
 *    stack local or a fresh subtree in a slot, another takes it onto its
 *    stack and links it into the graph or its own list later; the
 *    mailbox itself moves to a new object now and then;
 *  - parking (GCA_TORTURE_PARK_CHURN=1): a thread parks and unparks at
 *    random, at once or around a sleep of up to 2 ms;
 *  - thread churn (GCA_TORTURE_CHURN=1): each mutator thread exits after
 *    500 to 8500 operations, unregistered explicitly or by the library's
 *    exit destructor, after handing its stack locals down through the
 *    root range; a successor registers and takes them over;
 *  - CPU hogs (GCA_TORTURE_HOGS=N, 1 by default there): unregistered
 *    threads alternating bursts of work with sleeps of up to 3 ms.
 * GCA_TORTURE_THREADS=N (1 to 16) sets its thread count, and
 * GCA_TORTURE_BREAK_BARRIER=1 breaks the program on purpose, to see the
 * checks catch it: a thread taking an object from the mailbox clears
 * the slot with a plain store, no barrier (the object moves to a stack
 * that may be scanned already, and nothing shades it).  Every variant
 * is seeded: GCA_TORTURE_SEED (default 0) changes every thread's random
 * sequence, printed with the results.
 *
 * GCA_TORTURE_SECS sets the run time of each variant (default 12 s,
 * sized for TCG; 8 s for interference).  For diagnosis:
 * GCA_TORTURE_VARIANTS=2,4 runs only those variants (thread counts of
 * threads_N, or "interference"); GCA_TORTURE_CHECKMARK=0 leaves checkmark off (it
 * re-marks what the concurrent mark missed, so a miss is then a real
 * free the verification pinpoints); GCA_TORTURE_NO_MEMMOVE=1 copies
 * slots with gca_store() one by one; GCA_TORTURE_NO_PARK=1 never parks;
 * GCA_TORTURE_CLEAR_STACK=1 zeroes 16 KiB of dead stack below each
 * thread after every operation, GCA_TORTURE_CLEAR_REGS=1 its scratch
 * registers (x86-64); GCA_TORTURE_CENSUS=1 takes every object checkmark
 * reports missed (the kernel log) and, with the mutators stopped between
 * operations, tells whether the program can still reach it.
 */
#include <pthread.h>
#include <stdarg.h>

#include "gca_test.h"

#define NNODES		512		/* shared graph table */
#define K		4		/* pointer slots of a graph node */
#define NLOCAL		8		/* stack locals per thread */
#define BAGN		48		/* objects in a bag */
#define LIST_MAX	192
#define TREE_DEPTH	6
#define MAX_THREADS	16
#define NMAIL		16		/* slots of the mailbox */
#define QUERY_BATCH	4096

#define OBJ_MAGIC	0x6763746f72740000ULL	/* "gctort" */
#define IDENT_KEY	0x0badc0ffee0ddf00ULL
#define MINI_KEY	0x3141592653589793ULL

enum kind {
	KIND_NODE = 1,		/* graph node: K slots */
	KIND_LIST,		/* list/tree node: 2 slots */
	KIND_DATA,		/* no slots, scan or noscan */
	KIND_BAG,		/* BAGN slots, sizes and kinds after them */
	KIND_MAIL,		/* the mailbox: NMAIL slots */
};

struct obj {
	uint64_t magic;		/* OBJ_MAGIC | kind */
	uint64_t ident;		/* own address ^ IDENT_KEY */
	uint32_t size;		/* bytes asked for */
	uint32_t nslots;	/* pointer slots after the header */
	uint64_t seed;		/* of the payload */
	uint64_t hsum;		/* of the five fields above */
	void *slot[];
};
#define HDR		sizeof(struct obj)	/* 40 */

/*
 * Bag payload: what each slot holds, for verification.  Two sizes make a
 * word, and the upper one could equal the heap's address bits 32..63:
 * every size carries SIZE_TAG, so no such word is a user address (see
 * no_heap_word()).
 */
struct bag_info {
	uint32_t size[BAGN];
	uint8_t noscan[BAGN];
};
#define SIZE_TAG	0x80000000U
#define BAG_SIZE	(HDR + BAGN * sizeof(void *) + sizeof(struct bag_info))

struct roots {
	struct obj *graph[NNODES];
	struct obj *mailbox;		/* KIND_MAIL, under mail_lock */
	struct {
		struct obj *list;
		struct obj *tree;
		struct obj *bag;
		/* a retiring thread's locals, for its successor */
		struct obj *hand[NLOCAL];
	} priv[MAX_THREADS];
};

struct torture;

struct mut {
	struct torture *t;
	int idx;
	pthread_t th;
	uint64_t rng;
	uint64_t ops, allocs, verified, parks, cycles_seen;
	uint64_t generations, given, taken;
	unsigned int errors;
	char msg[512];
	struct obj **local;		/* its stack locals (census) */
};

struct torture {
	struct gca_arena *a;
	struct roots *roots;
	pthread_rwlock_t lock;
	int nthreads;
	volatile int stop;
	struct mut mut[MAX_THREADS];
	struct mut checker;		/* the collecting thread */
	pthread_mutex_t mail_lock;	/* the mailbox's slots */
	pthread_t hog[MAX_THREADS];
	int nhogs;
	uint64_t graph_checks;
	uint64_t nodes_checked;
	/* GCA_TORTURE_CENSUS: mutators hold world as readers per operation */
	pthread_rwlock_t world;
	int kmsg;			/* /dev/kmsg, read from the start */
	uint64_t census_missed, census_reachable;
	char census_msg[512];
};

/* ------------------------------------------------------------------ */

static bool env_flag(const char *name, bool dflt)
{
	const char *v = getenv(name);

	return v && *v ? atoi(v) != 0 : dflt;
}

static bool no_memmove, no_park, clear_dead_stack, clear_regs, census;
/* Interference (the interference variant, or GCA_TORTURE_* for any) */
static bool handoff, thread_churn, park_churn, break_barrier;
static uint64_t seed;

/*
 * Diagnosis of stale conservative roots (see GCA_TORTURE_CLEAR_*): zero
 * the dead stack below the caller with plain stores (no memset(), which
 * would also clobber registers), and zero the scratch registers (general
 * and vector) without touching memory.
 */
static noinline void clear_below(void)
{
	volatile uint64_t buf[2048] __attribute__((unused));
	unsigned int i;

	if (clear_dead_stack)
		for (i = 0; i < 2048; i++)
			buf[i] = 0;
#ifdef __x86_64__
	if (clear_regs) {
		__asm__ __volatile__(
			"xorl %%eax, %%eax\n\txorl %%ecx, %%ecx\n\t"
			"xorl %%edx, %%edx\n\txorl %%esi, %%esi\n\t"
			"xorl %%edi, %%edi\n\txorl %%r8d, %%r8d\n\t"
			"xorl %%r9d, %%r9d\n\txorl %%r10d, %%r10d\n\t"
			"xorl %%r11d, %%r11d\n\t"
			: : : "rax", "rcx", "rdx", "rsi", "rdi", "r8", "r9",
			      "r10", "r11");
		if (__builtin_cpu_supports("avx"))
			__asm__ __volatile__("vzeroall" : : : "memory");
		else
			__asm__ __volatile__(
				"pxor %%xmm0, %%xmm0\n\tpxor %%xmm1, %%xmm1\n\t"
				"pxor %%xmm2, %%xmm2\n\tpxor %%xmm3, %%xmm3\n\t"
				"pxor %%xmm4, %%xmm4\n\tpxor %%xmm5, %%xmm5\n\t"
				"pxor %%xmm6, %%xmm6\n\tpxor %%xmm7, %%xmm7\n\t"
				"pxor %%xmm8, %%xmm8\n\tpxor %%xmm9, %%xmm9\n\t"
				"pxor %%xmm10, %%xmm10\n\tpxor %%xmm11, %%xmm11\n\t"
				"pxor %%xmm12, %%xmm12\n\tpxor %%xmm13, %%xmm13\n\t"
				"pxor %%xmm14, %%xmm14\n\tpxor %%xmm15, %%xmm15"
				: : : "memory");
	}
#endif
}

/* gca_memmove(), or the same with single stores (GCA_TORTURE_NO_MEMMOVE) */
static void move_slots(struct gca_arena *a, void **dst, void **src,
		       size_t n)
{
	size_t i;

	if (!no_memmove) {
		gca_memmove(a, dst, src, n * sizeof(void *));
	} else if (dst < src) {
		for (i = 0; i < n; i++)
			gca_store(a, &dst[i], __atomic_load_n(&src[i],
							      __ATOMIC_RELAXED));
	} else {
		for (i = n; i-- > 0;)
			gca_store(a, &dst[i], __atomic_load_n(&src[i],
							      __ATOMIC_RELAXED));
	}
}

static inline uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static inline uint64_t rnd(uint64_t *s)
{
	*s += 0x9e3779b97f4a7c15ULL;
	return mix(*s);
}

static inline uint64_t below(uint64_t *s, uint64_t n)
{
	return rnd(s) % n;
}

static void fail(struct mut *m, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void fail(struct mut *m, const char *fmt, ...)
{
	va_list ap;

	if (!m->errors++) {
		va_start(ap, fmt);
		vsnprintf(m->msg, sizeof(m->msg), fmt, ap);
		va_end(ap);
	}
}

/*
 * Data words never look like pointers into the heap.  Marking is
 * conservative: a data word that happens to name an allocated object is
 * a pointer to it.  In an object filled during the mark (allocated black,
 * never scanned by the concurrent mark, and data needs no barrier), such
 * a word is seen only by checkmark's re-mark, which then reports a dead
 * object as "missed, found in marked object": a false miss.  The last,
 * partial word of an object whose size is not a multiple of 8 is the
 * likely one: its bytes past the size are zero, so 6 random bytes make a
 * 48-bit value, shaped like a user address (about one heap-sized hit in
 * 2^19 for a 1 GiB heap).  So every word the scanner sees, full or
 * partial, is checked against the heap's range and complemented (then,
 * if need be, zeroed) when it falls inside; the verifier applies the
 * same rule.
 */
static uintptr_t heap_lo, heap_hi;

static uint64_t no_heap_word(uint64_t w, size_t nbytes)
{
	uint64_t mask = nbytes >= 8 ? ~0ULL : (1ULL << (8 * nbytes)) - 1;

	w &= mask;
	if (w >= heap_lo && w < heap_hi)
		w ^= mask;
	if (w >= heap_lo && w < heap_hi)
		w = 0;
	return w;
}

static uint64_t hdr_sum(const struct obj *o)
{
	return no_heap_word(mix(o->magic ^ mix(o->ident ^
					       mix((uint64_t)o->size << 32 |
						   o->nslots) ^
					       mix(o->seed))), 8);
}

/*
 * Payload word j of an object of size bytes: mix(seed + j), of which the
 * scanner sees the bytes below size (the rest of the slot is zero).
 */
static uint64_t payload_word(uint64_t seed, size_t j, size_t size)
{
	return no_heap_word(mix(seed + j), size - 8 * j);
}

/* Payload bytes [off, size): byte i is byte i % 8 of payload word i / 8. */
static void fill_payload(void *base, size_t off, size_t size, uint64_t seed)
{
	unsigned char *p = base;
	size_t i;

	for (i = off; i < size && (i & 7); i++)
		p[i] = payload_word(seed, i / 8, size) >> (8 * (i & 7));
	for (; i + 8 <= size; i += 8) {
		uint64_t w = payload_word(seed, i / 8, size);

		memcpy(p + i, &w, 8);
	}
	for (; i < size; i++)
		p[i] = payload_word(seed, i / 8, size) >> (8 * (i & 7));
}

static bool payload_ok(const void *base, size_t off, size_t size,
		       uint64_t seed)
{
	const unsigned char *p = base;
	size_t i;

	for (i = off; i < size && (i & 7); i++)
		if (p[i] != (unsigned char)(payload_word(seed, i / 8, size) >>
					    (8 * (i & 7))))
			return false;
	for (; i + 8 <= size; i += 8) {
		uint64_t w;

		memcpy(&w, p + i, 8);
		if (w != payload_word(seed, i / 8, size))
			return false;
	}
	for (; i < size; i++)
		if (p[i] != (unsigned char)(payload_word(seed, i / 8, size) >>
					    (8 * (i & 7))))
			return false;
	return true;
}

static uint64_t mini_seed(const void *p, size_t size)
{
	return mix((uintptr_t)p ^ MINI_KEY ^ size);
}

/* ------------------------------------------------------------------ */

/* A full-header object of kind with nslots slots; size >= HDR + slots. */
static struct obj *new_obj(struct mut *m, enum kind kind, size_t size,
			   uint32_t nslots, bool noscan)
{
	struct gca_arena *a = m->t->a;
	struct obj *o;

	/* A class's smallest sizes may not hold the header and slots. */
	if (size < HDR + nslots * sizeof(void *))
		size = HDR + nslots * sizeof(void *);
	o = noscan ? gca_alloc_noscan(a, size) : gca_alloc(a, size);
	if (!o) {
		fail(m, "allocation of %zu bytes failed: %s", size,
		     strerror(errno));
		return NULL;
	}
	m->allocs++;
	/* Plain stores: data into a fresh object, no pointer overwritten. */
	o->magic = OBJ_MAGIC | kind;
	o->ident = (uintptr_t)o ^ IDENT_KEY;
	o->size = size;
	o->nslots = nslots;
	o->seed = no_heap_word(rnd(&m->rng), 8);
	o->hsum = hdr_sum(o);
	if (kind != KIND_BAG)
		fill_payload(o, HDR + nslots * sizeof(void *), size, o->seed);
	return o;
}

/* Tiny and small objects without room for a header: pure pattern. */
static void *new_mini(struct mut *m, size_t size, bool noscan)
{
	struct gca_arena *a = m->t->a;
	void *p;

	p = noscan ? gca_alloc_noscan(a, size) : gca_alloc(a, size);
	if (!p) {
		fail(m, "allocation of %zu bytes failed: %s", size,
		     strerror(errno));
		return NULL;
	}
	m->allocs++;
	fill_payload(p, 0, size, mini_seed(p, size));
	return p;
}

/* Does the kernel say these addresses are in allocated objects? */
static void query_live(struct mut *m, const uint64_t *addrs, unsigned int n,
		       const char *what)
{
	uint64_t live[QUERY_BATCH / 64];
	struct gca_query q;
	unsigned int i;

	if (!n)
		return;
	memset(&q, 0, sizeof(q));
	memset(live, 0, sizeof(live));
	q.size = sizeof(q);
	q.addrs = (uintptr_t)addrs;
	q.live = (uintptr_t)live;
	q.n = n;
	if (ioctl(gca_arena_fd(m->t->a), GCA_IOC_QUERY_OBJECTS, &q)) {
		fail(m, "GCA_IOC_QUERY_OBJECTS: %s", strerror(errno));
		return;
	}
	for (i = 0; i < n; i++)
		if (!(live[i / 64] & (1ULL << (i % 64))))
			fail(m, "%s: reachable object %#" PRIx64
			     " is free in the kernel's view", what, addrs[i]);
}

static int is_live(struct mut *m, const void *p)
{
	uint64_t addr = (uintptr_t)p, live = 0;
	struct gca_query q = {
		.size = sizeof(q), .addrs = (uintptr_t)&addr,
		.live = (uintptr_t)&live, .n = 1,
	};

	if (ioctl(gca_arena_fd(m->t->a), GCA_IOC_QUERY_OBJECTS, &q))
		return -errno;
	return live & 1;
}

/* Addresses waiting for query_live(), a batch at a time. */
struct qbatch {
	uint64_t addr[QUERY_BATCH];
	unsigned int n;
	const char *what;
};

static void qb_add(struct mut *m, struct qbatch *qb, const void *p)
{
	qb->addr[qb->n++] = (uintptr_t)p;
	if (qb->n == QUERY_BATCH) {
		query_live(m, qb->addr, qb->n, qb->what);
		qb->n = 0;
	}
}

static void qb_flush(struct mut *m, struct qbatch *qb)
{
	query_live(m, qb->addr, qb->n, qb->what);
	qb->n = 0;
}

static int is_live(struct mut *m, const void *p);

/* The first 8 words of a bad object, and what the kernel thinks of it. */
static void fail_dump(struct mut *m, const char *what, const void *o,
		      const char *why)
{
	const uint64_t *w = o;

	fail(m, "%s: %p: %s [cycle %" PRIu64 ", kernel says %s]: "
	     "%016" PRIx64 " %016" PRIx64 " %016" PRIx64 " %016" PRIx64
	     " %016" PRIx64 " %016" PRIx64 " %016" PRIx64 " %016" PRIx64
	     " (hsum wants %016" PRIx64 ")",
	     what, o, why, gca_num_gc(m->t->a),
	     is_live(m, o) ? "allocated" : "FREE",
	     w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7],
	     hdr_sum((const struct obj *)o));
}

/* Check a full-header object; kind 0 accepts any. */
static bool obj_ok(struct mut *m, const struct obj *o, enum kind kind,
		   const char *what)
{
	struct gca_arena *a = m->t->a;
	uint64_t k;

	if (!gca_in_heap(a, o)) {
		fail(m, "%s: %p is not in the heap", what, (void *)o);
		return false;
	}
	k = o->magic & 0xffff;
	if ((o->magic & ~0xffffULL) != OBJ_MAGIC || k < KIND_NODE ||
	    k > KIND_MAIL || (kind && k != kind)) {
		fail_dump(m, what, o, "bad magic");
		return false;
	}
	if (o->ident != ((uintptr_t)o ^ IDENT_KEY)) {
		fail_dump(m, what, o, "bad identity");
		return false;
	}
	if (o->hsum != hdr_sum(o) ||
	    o->size < HDR + (uint64_t)o->nslots * sizeof(void *)) {
		fail_dump(m, what, o, "header clobbered");
		return false;
	}
	if (k != KIND_BAG &&
	    !payload_ok(o, HDR + o->nslots * sizeof(void *), o->size,
			o->seed)) {
		fail_dump(m, what, o, "payload clobbered");
		return false;
	}
	m->verified++;
	return true;
}

static bool mini_ok(struct mut *m, const void *p, size_t size,
		    const char *what)
{
	if (!gca_in_heap(m->t->a, p)) {
		fail(m, "%s: %p is not in the heap", what, p);
		return false;
	}
	if (!payload_ok(p, 0, size, mini_seed(p, size))) {
		fail(m, "%s: %p: clobbered (size %zu) [cycle %" PRIu64
		     ", kernel says %s]", what, p, size, gca_num_gc(m->t->a),
		     is_live(m, p) ? "allocated" : "FREE");
		return false;
	}
	m->verified++;
	return true;
}

static inline struct obj *load(struct obj *const *slot)
{
	return __atomic_load_n(slot, __ATOMIC_ACQUIRE);
}

/* Publish o (fully built) into a slot others may read. */
static inline void publish(struct gca_arena *a, struct obj **slot,
			   struct obj *o)
{
	__atomic_thread_fence(__ATOMIC_RELEASE);
	gca_store(a, (void **)slot, o);
}

/* ------------------------------------------------------------------ */
/* Sizes: every class, by class number, and a few large ones. */

static size_t class_size(unsigned int c)
{
	return go_class_to_size[c];
}

/* A size falling in a random class c in [lo, hi]. */
static size_t size_in_classes(struct mut *m, unsigned int lo, unsigned int hi)
{
	unsigned int c = lo + below(&m->rng, hi - lo + 1);
	size_t top = class_size(c), bottom = class_size(c - 1) + 1;

	return bottom + below(&m->rng, top - bottom + 1);
}

/* The first class whose objects hold a header and n slots. */
static unsigned int class_for(size_t bytes)
{
	unsigned int c = 1;

	while (class_size(c) < bytes)
		c++;
	return c;
}

/* ------------------------------------------------------------------ */
/* The shared graph */

static struct obj *graph_new_node(struct mut *m)
{
	struct torture *t = m->t;
	struct obj *o;
	size_t size;
	unsigned int j;

	if (below(&m->rng, 128) == 0)
		size = GCA_MAX_SMALL_SIZE + 1 + below(&m->rng, 96 * 1024);
	else
		size = size_in_classes(m, class_for(HDR + K * sizeof(void *)),
				       class_for(2048));
	o = new_obj(m, KIND_NODE, size, K, false);
	if (!o)
		return NULL;
	/* Initialising stores still need the barrier. */
	for (j = 0; j < K; j++)
		gca_store(t->a, &o->slot[j],
			  load(&t->roots->graph[below(&m->rng, NNODES)]));
	return o;
}

/*
 * Before a mutator waits for a lock that was taken: park or not, at
 * random (never with GCA_TORTURE_NO_PARK), so that cycles meet waiting
 * threads both ways.  True if parked: unpark() once the lock is held.
 */
static bool maybe_park(struct mut *m)
{
	if (no_park || !(rnd(&m->rng) & 1))
		return false;
	if (gca_enter_blocking(m->t->a))
		fail(m, "gca_enter_blocking failed");
	m->parks++;
	return true;
}

static void unpark(struct mut *m, bool parked)
{
	if (parked && gca_leave_blocking(m->t->a))
		fail(m, "gca_leave_blocking failed");
}

static void rdlock(struct mut *m)
{
	struct torture *t = m->t;
	bool park;

	if (!pthread_rwlock_tryrdlock(&t->lock))
		return;
	park = maybe_park(m);
	pthread_rwlock_rdlock(&t->lock);
	unpark(m, park);
}

static void graph_op(struct mut *m, struct obj **local)
{
	struct torture *t = m->t;
	struct gca_arena *a = t->a;
	struct obj **graph = t->roots->graph;
	struct obj *A, *B, *n;
	unsigned int i = below(&m->rng, NNODES), j = below(&m->rng, NNODES);
	unsigned int k = below(&m->rng, K), l = below(&m->rng, NLOCAL);
	unsigned int op = below(&m->rng, 100), steps;

	rdlock(m);
	A = load(&graph[i]);
	B = load(&graph[j]);
	if (op < 30) {				/* link */
		if (A)
			gca_store(a, &A->slot[k], B);
	} else if (op < 40) {			/* unlink */
		if (A)
			gca_store(a, &A->slot[k], NULL);
	} else if (op < 55) {			/* replace */
		n = graph_new_node(m);
		if (n)
			publish(a, &graph[i], n);
	} else if (op < 70) {			/* table <-> stack */
		if (!local[l] && A) {
			local[l] = A;
			gca_store(a, (void **)&graph[i], NULL);
		} else if (local[l] && local[l]->magic ==
			   (OBJ_MAGIC | KIND_NODE)) {
			if (!A || (rnd(&m->rng) & 1))
				publish(a, &graph[i], local[l]);
			else
				gca_store(a, &A->slot[k], local[l]);
			local[l] = NULL;
		}
	} else if (op < 80) {			/* bulk barrier */
		if (A && B && A != B)
			move_slots(a, A->slot, B->slot, K);
		else if (A)			/* overlapping, both ways */
			move_slots(a, &A->slot[k & 1], &A->slot[!(k & 1)],
				   K - 1);
	} else {				/* walk, keep the end */
		n = A;
		for (steps = 0; n && steps < 8; steps++) {
			if (!obj_ok(m, n, KIND_NODE, "graph walk"))
				break;
			B = n;
			n = load((struct obj **)&n->slot[below(&m->rng, K)]);
		}
		if (!local[l] && steps)
			local[l] = B;
	}
	pthread_rwlock_unlock(&t->lock);
	m->ops++;
}

/* Visited set for the graph check: open addressing on addresses. */
struct vset {
	uintptr_t *v;
	size_t cap, n;
};

static bool vset_add(struct vset *s, uintptr_t p)
{
	size_t i;

	if (2 * (s->n + 1) > s->cap) {
		struct vset g = { .cap = s->cap ? 2 * s->cap : 4096 };
		size_t k;

		g.v = calloc(g.cap, sizeof(*g.v));
		if (!g.v)
			abort();
		for (k = 0; k < s->cap; k++)
			if (s->v[k])
				vset_add(&g, s->v[k]);
		free(s->v);
		*s = g;
	}
	for (i = mix(p) & (s->cap - 1); s->v[i]; i = (i + 1) & (s->cap - 1))
		if (s->v[i] == p)
			return false;
	s->v[i] = p;
	s->n++;
	return true;
}

/*
 * Every node reachable from the table, with the graph frozen (writer
 * lock): its content, and its address asked of the kernel.  Nodes are
 * kept reachable by the table and each other while the walk runs, so the
 * worklist may be unscanned memory.
 */
static void check_graph(struct mut *m)
{
	struct torture *t = m->t;
	struct qbatch *qb;
	struct vset seen = { 0 };
	struct obj **work;
	size_t nwork = 0, cap = 4096;
	struct obj *o, *c;
	unsigned int i, j;

	qb = calloc(1, sizeof(*qb));
	work = malloc(cap * sizeof(*work));
	if (!qb || !work)
		abort();
	qb->what = "graph";
	for (i = 0; i < NNODES; i++) {
		o = load(&t->roots->graph[i]);
		if (o && vset_add(&seen, (uintptr_t)o))
			work[nwork++] = o;
		while (nwork) {
			o = work[--nwork];
			if (!obj_ok(m, o, KIND_NODE, "graph"))
				continue;
			qb_add(m, qb, o);
			t->nodes_checked++;
			for (j = 0; j < K; j++) {
				c = load((struct obj **)&o->slot[j]);
				if (!c || !vset_add(&seen, (uintptr_t)c))
					continue;
				if (nwork == cap) {
					cap *= 2;
					work = realloc(work,
						       cap * sizeof(*work));
					if (!work)
						abort();
				}
				work[nwork++] = c;
			}
		}
	}
	qb_flush(m, qb);
	t->graph_checks++;
	free(seen.v);
	free(work);
	free(qb);
}

/* ------------------------------------------------------------------ */
/* A thread's own structures */

static struct obj **my(struct mut *m, int which)
{
	struct roots *r = m->t->roots;

	return which == 0 ? &r->priv[m->idx].list :
	       which == 1 ? &r->priv[m->idx].tree : &r->priv[m->idx].bag;
}

static struct obj *new_list_obj(struct mut *m)
{
	return new_obj(m, KIND_LIST,
		       size_in_classes(m, class_for(HDR + 2 * sizeof(void *)),
				       class_for(1024)),
		       2, false);
}

static struct obj *build_subtree(struct mut *m, unsigned int depth)
{
	struct gca_arena *a = m->t->a;
	struct obj *n, *l, *r;

	if (!depth)
		return NULL;
	n = new_list_obj(m);
	if (!n)
		return NULL;
	l = build_subtree(m, depth - 1);
	r = build_subtree(m, depth - 1);
	gca_store(a, &n->slot[0], l);
	gca_store(a, &n->slot[1], r);
	return n;
}

static void bag_put(struct mut *m, struct obj *bag, unsigned int s)
{
	struct bag_info *bi = (void *)&bag->slot[BAGN];
	unsigned int cat = below(&m->rng, 100);
	bool noscan = rnd(&m->rng) & 1;
	size_t size;
	void *p;

	if (cat < 15) {
		size = 1 + below(&m->rng, GCA_TINY_SIZE - 1);
		noscan = true;		/* the tiny allocator */
	} else if (cat < 98) {
		size = size_in_classes(m, 1, GCA_NUM_SIZE_CLASSES - 1);
	} else {
		size = GCA_MAX_SMALL_SIZE + 1 + below(&m->rng, 160 * 1024);
	}
	if (size < HDR)
		p = new_mini(m, size, noscan);
	else
		p = new_obj(m, KIND_DATA, size, 0, noscan);
	if (!p)
		return;
	bi->size[s] = size | SIZE_TAG;
	bi->noscan[s] = noscan;
	gca_store(m->t->a, &bag->slot[s], p);
}

static void private_op(struct mut *m, struct obj **local)
{
	struct gca_arena *a = m->t->a;
	struct obj **list = my(m, 0), **tree = my(m, 1), **bagp = my(m, 2);
	unsigned int op = below(&m->rng, 100), l = below(&m->rng, NLOCAL);
	struct obj *o, *n, *bag = load(bagp);
	struct bag_info *bi;
	unsigned int s, d, c, cnt;

	if (!bag) {
		bag = new_obj(m, KIND_BAG, BAG_SIZE, BAGN, false);
		if (!bag)
			return;
		gca_store(a, (void **)bagp, bag);
	}
	bi = (void *)&bag->slot[BAGN];
	s = below(&m->rng, BAGN);

	if (op < 20) {				/* list push */
		o = new_list_obj(m);
		if (!o)
			return;
		gca_store(a, &o->slot[0], load(list));
		gca_store(a, (void **)list, o);
	} else if (op < 28) {			/* list -> stack */
		o = load(list);
		if (o && !local[l]) {
			gca_store(a, (void **)list, o->slot[0]);
			local[l] = o;
		}
	} else if (op < 34) {			/* stack -> list */
		o = local[l];
		if (o && o->magic == (OBJ_MAGIC | KIND_LIST)) {
			gca_store(a, &o->slot[0], load(list));
			gca_store(a, (void **)list, o);
			local[l] = NULL;
		}
	} else if (op < 42) {			/* tree: new subtree */
		o = load(tree);
		if (!o) {
			gca_store(a, (void **)tree,
				  build_subtree(m, TREE_DEPTH));
		} else {
			for (d = 1; d < TREE_DEPTH - 1 &&
			     (rnd(&m->rng) & 1); d++) {
				n = o->slot[rnd(&m->rng) & 1];
				if (!n)
					break;
				o = n;
			}
			c = rnd(&m->rng) & 1;
			gca_store(a, &o->slot[c],
				  build_subtree(m, TREE_DEPTH - d));
		}
	} else if (op < 75) {			/* bag: new object */
		bag_put(m, bag, s);
	} else if (op < 85) {			/* bag: drop */
		gca_store(a, &bag->slot[s], NULL);
	} else if (op < 93) {			/* bag: shift (overlap) */
		cnt = below(&m->rng, BAGN - 1);
		if (rnd(&m->rng) & 1) {
			d = below(&m->rng, BAGN - cnt);
			move_slots(a, &bag->slot[d + 1], &bag->slot[d], cnt);
			memmove(&bi->size[d + 1], &bi->size[d],
				cnt * sizeof(bi->size[0]));
			memmove(&bi->noscan[d + 1], &bi->noscan[d], cnt);
		} else {
			d = below(&m->rng, BAGN - cnt);
			move_slots(a, &bag->slot[d], &bag->slot[d + 1], cnt);
			memmove(&bi->size[d], &bi->size[d + 1],
				cnt * sizeof(bi->size[0]));
			memmove(&bi->noscan[d], &bi->noscan[d + 1], cnt);
		}
	} else if (op < 95) {			/* bag: move to a new bag */
		n = new_obj(m, KIND_BAG, BAG_SIZE, BAGN, false);
		if (!n)
			return;
		move_slots(a, n->slot, bag->slot, BAGN);
		memcpy(&n->slot[BAGN], bi, sizeof(*bi));
		gca_store(a, (void **)bagp, n);
	} else {				/* stack: drop a local */
		local[l] = NULL;
	}
	m->ops++;
}

static void check_priv_tree(struct mut *m, struct qbatch *qb, const struct obj *o,
		       unsigned int depth)
{
	unsigned int c;

	if (!o)
		return;
	if (depth > TREE_DEPTH) {
		fail(m, "tree deeper than %d", TREE_DEPTH);
		return;
	}
	if (!obj_ok(m, o, KIND_LIST, "tree"))
		return;
	qb_add(m, qb, o);
	for (c = 0; c < 2; c++)
		check_priv_tree(m, qb, o->slot[c], depth + 1);
}

/* The thread's own structures and locals (or, at the end, another's). */
static void check_private(struct mut *m, struct mut *owner,
			  struct obj *const *local)
{
	struct roots *r = m->t->roots;
	struct obj *o, *bag;
	struct bag_info *bi;
	struct qbatch *qb;
	unsigned int i, n = 0;

	qb = calloc(1, sizeof(*qb));
	if (!qb)
		abort();
	qb->what = "private";
	for (o = load(&r->priv[owner->idx].list); o; o = o->slot[0]) {
		if (!obj_ok(m, o, KIND_LIST, "list"))
			break;
		qb_add(m, qb, o);
		/* Keep it bounded: cut the tail. */
		if (++n == LIST_MAX && m == owner) {
			gca_store(m->t->a, &o->slot[0], NULL);
			break;
		}
	}
	check_priv_tree(m, qb, load(&r->priv[owner->idx].tree), 1);
	bag = load(&r->priv[owner->idx].bag);
	if (bag && obj_ok(m, bag, KIND_BAG, "bag")) {
		qb_add(m, qb, bag);
		bi = (void *)&bag->slot[BAGN];
		for (i = 0; i < BAGN; i++) {
			void *p = bag->slot[i];
			uint32_t size = bi->size[i] & ~SIZE_TAG;

			if (!p)
				continue;
			if (size < HDR ? !mini_ok(m, p, size, "bag (mini)") :
			    !obj_ok(m, p, KIND_DATA, "bag"))
				continue;
			qb_add(m, qb, p);
		}
	}
	for (i = 0; local && i < NLOCAL; i++) {
		if (local[i] && obj_ok(m, local[i], 0, "stack local"))
			qb_add(m, qb, local[i]);
	}
	for (i = 0; i < NLOCAL; i++) {
		o = load(&r->priv[owner->idx].hand[i]);
		if (o && obj_ok(m, o, 0, "handed down"))
			qb_add(m, qb, o);
	}
	qb_flush(m, qb);
	free(qb);
}

/* ------------------------------------------------------------------ */
/* Interference: hand-offs, parking, thread churn, CPU hogs */

static void sleep_us(unsigned int us)
{
	struct timespec ts = { us / 1000000, (long)(us % 1000000) * 1000 };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* The mailbox's lock; a thread that has to wait may park first. */
static void mail_lock(struct mut *m)
{
	struct torture *t = m->t;
	bool park;

	if (!pthread_mutex_trylock(&t->mail_lock))
		return;
	park = maybe_park(m);
	pthread_mutex_lock(&t->mail_lock);
	unpark(m, park);
}

/*
 * Objects change hands through the mailbox, a heap object hung from the
 * root range: a thread puts one of its stack locals (a graph node, a
 * list object) or a fresh subtree in an empty slot; another takes it
 * onto its own stack, and later links it into the graph or its own
 * list.  Now and then the mailbox itself moves to a new object.
 */
static void handoff_op(struct mut *m, struct obj **local)
{
	struct torture *t = m->t;
	struct gca_arena *a = t->a;
	unsigned int s = below(&m->rng, NMAIL), l = below(&m->rng, NLOCAL);
	unsigned int op = below(&m->rng, 100);
	struct obj *box, *o, *n;

	mail_lock(m);
	box = load(&t->roots->mailbox);
	o = load((struct obj **)&box->slot[s]);
	if (op < 4) {				/* move the mailbox */
		n = new_obj(m, KIND_MAIL, HDR + NMAIL * sizeof(void *), NMAIL,
			    false);
		if (n) {
			move_slots(a, n->slot, box->slot, NMAIL);
			publish(a, &t->roots->mailbox, n);
		}
	} else if (o) {				/* take it */
		if (!local[l] && obj_ok(m, o, 0, "hand-off")) {
			local[l] = o;
			if (break_barrier)	/* wrong on purpose */
				__atomic_store_n(&box->slot[s], NULL,
						 __ATOMIC_RELEASE);
			else
				gca_store(a, &box->slot[s], NULL);
			m->taken++;
		}
	} else if (local[l] && op < 70) {	/* give a local */
		publish(a, (struct obj **)&box->slot[s], local[l]);
		local[l] = NULL;
		m->given++;
	} else {				/* give a new subtree */
		n = build_subtree(m, 1 + below(&m->rng, 3));
		if (n) {
			publish(a, (struct obj **)&box->slot[s], n);
			m->given++;
		}
	}
	pthread_mutex_unlock(&t->mail_lock);
	m->ops++;
}

/* The mailbox and what it holds (the checker, and the final check). */
static void check_mail(struct mut *m)
{
	struct torture *t = m->t;
	struct qbatch *qb;
	struct obj *box, *o;
	unsigned int i;

	if (!load(&t->roots->mailbox))
		return;
	qb = calloc(1, sizeof(*qb));
	if (!qb)
		abort();
	qb->what = "mailbox";
	mail_lock(m);
	box = load(&t->roots->mailbox);
	if (obj_ok(m, box, KIND_MAIL, "mailbox")) {
		qb_add(m, qb, box);
		for (i = 0; i < NMAIL; i++) {
			o = load((struct obj **)&box->slot[i]);
			if (o && obj_ok(m, o, 0, "mail"))
				qb_add(m, qb, o);
		}
	}
	qb_flush(m, qb);
	pthread_mutex_unlock(&t->mail_lock);
	free(qb);
}

/* Park and unpark at once, or after a sleep: nothing held but the stack. */
static void park_briefly(struct mut *m)
{
	struct gca_arena *a = m->t->a;

	if (gca_enter_blocking(a)) {
		fail(m, "gca_enter_blocking failed");
		return;
	}
	m->parks++;
	if (rnd(&m->rng) & 1)
		sleep_us(below(&m->rng, 2000));
	if (gca_leave_blocking(a))
		fail(m, "gca_leave_blocking failed");
}

/* A thread's successor takes over the locals it handed down. */
static void take_over(struct mut *m, struct obj **local)
{
	struct obj **hand = m->t->roots->priv[m->idx].hand;
	unsigned int i;

	for (i = 0; i < NLOCAL; i++) {
		local[i] = load(&hand[i]);
		if (local[i])
			gca_store(m->t->a, (void **)&hand[i], NULL);
	}
}

static void hand_down(struct mut *m, struct obj **local)
{
	struct obj **hand = m->t->roots->priv[m->idx].hand;
	unsigned int i;

	for (i = 0; i < NLOCAL; i++) {
		if (!local[i])
			continue;
		publish(m->t->a, &hand[i], local[i]);
		local[i] = NULL;
	}
}

/* Unregistered, no heap pointers: bursts of work, short sleeps. */
static void *hog_main(void *arg)
{
	struct torture *t = arg;
	uint64_t rng = mix(seed ^ (uintptr_t)pthread_self());
	uint64_t i, n, x;

	while (!__atomic_load_n(&t->stop, __ATOMIC_RELAXED)) {
		n = below(&rng, 1 << 22);
		for (i = 0, x = 0; i < n; i++) {
			x += mix(i);
			__asm__ __volatile__("" : "+r"(x));
		}
		sleep_us(below(&rng, 3000));
	}
	return NULL;
}

static void *mutator_main(void *arg)
{
	struct mut *m = arg;
	struct torture *t = m->t;
	/* On this thread's stack: scanned, plain stores. */
	struct obj *local[NLOCAL] = { NULL };
	uint64_t seen, now, budget = 0;
	unsigned int op;
	int ret;

	/* Before the first pointer into the heap is loaded (Roots). */
	ret = gca_register_thread(t->a);
	if (ret) {
		fail(m, "gca_register_thread: %s", strerror(-ret));
		return NULL;
	}
	seen = gca_num_gc(t->a);
	if (census)
		pthread_rwlock_rdlock(&t->world);
	take_over(m, local);
	m->local = local;
	if (census)
		pthread_rwlock_unlock(&t->world);
	/* GCA_TORTURE_CHURN: this many operations, then a successor. */
	if (thread_churn)
		budget = 500 + below(&m->rng, 8000);
	while (!__atomic_load_n(&t->stop, __ATOMIC_RELAXED)) {
		if (census)
			pthread_rwlock_rdlock(&t->world);
		op = below(&m->rng, 100);
		if (handoff && op < 6)
			handoff_op(m, local);
		else if (op < 45)
			graph_op(m, local);
		else
			private_op(m, local);
		if (census)
			pthread_rwlock_unlock(&t->world);
		if (park_churn && below(&m->rng, 100) < 2)
			park_briefly(m);
		clear_below();
		now = gca_num_gc(t->a);
		if (now != seen) {
			seen = now;
			m->cycles_seen++;
			check_private(m, m, local);
		}
		if (m->errors || (budget && !--budget))
			break;
	}
	check_private(m, m, local);
	if (census)
		pthread_rwlock_rdlock(&t->world);
	hand_down(m, local);
	m->local = NULL;
	if (census)
		pthread_rwlock_unlock(&t->world);
	/* Unregistered explicitly, or by the library's exit destructor. */
	if (thread_churn && (rnd(&m->rng) & 1)) {
		ret = gca_unregister_thread(t->a);
		if (ret)
			fail(m, "gca_unregister_thread: %s", strerror(-ret));
	}
	return NULL;
}

/*
 * A mutator slot: one thread for the whole run, or (GCA_TORTURE_CHURN)
 * a succession of them, each registering, working a while, handing its
 * locals down through the root range and exiting.  This thread is not
 * registered and touches no heap pointer.
 */
static void *slot_main(void *arg)
{
	struct mut *m = arg;
	pthread_t th;
	int ret;

	if (!thread_churn)
		return mutator_main(m);
	do {
		ret = pthread_create(&th, NULL, mutator_main, m);
		if (ret) {
			fail(m, "pthread_create: %s", strerror(ret));
			break;
		}
		pthread_join(th, NULL);
		m->generations++;
	} while (!__atomic_load_n(&m->t->stop, __ATOMIC_RELAXED) &&
		 !m->errors);
	return NULL;
}

/* Every object the program can reach now (mutators stopped). */
static void census_add_tree(struct vset *s, const struct obj *o,
			    unsigned int depth)
{
	if (!o || depth > TREE_DEPTH + 1 || !vset_add(s, (uintptr_t)o))
		return;
	census_add_tree(s, o->slot[0], depth + 1);
	census_add_tree(s, o->slot[1], depth + 1);
}

static void census_reachable(struct torture *t, struct vset *s)
{
	struct obj **work = NULL, *o, *c, *bag;
	size_t nwork = 0, cap = 0;
	unsigned int i, j;
	int k;

	for (i = 0; i < NNODES; i++) {
		o = load(&t->roots->graph[i]);
		if (o) {
			if (nwork == cap) {
				cap = cap ? 2 * cap : 1024;
				work = realloc(work, cap * sizeof(*work));
			}
			work[nwork++] = o;
		}
	}
	for (k = 0; k < t->nthreads; k++)
		for (i = 0; t->mut[k].local && i < NLOCAL; i++)
			if (t->mut[k].local[i]) {
				if (nwork == cap) {
					cap = cap ? 2 * cap : 1024;
					work = realloc(work, cap * sizeof(*work));
				}
				work[nwork++] = t->mut[k].local[i];
			}
	/* What is in transit: handed down, in the mailbox. */
	for (k = 0; k < t->nthreads; k++)
		for (i = 0; i < NLOCAL; i++) {
			o = load(&t->roots->priv[k].hand[i]);
			if (!o)
				continue;
			if (nwork == cap) {
				cap = cap ? 2 * cap : 1024;
				work = realloc(work, cap * sizeof(*work));
			}
			work[nwork++] = o;
		}
	bag = load(&t->roots->mailbox);
	if (bag && vset_add(s, (uintptr_t)bag))
		for (i = 0; i < NMAIL; i++) {
			o = load((struct obj **)&bag->slot[i]);
			if (!o)
				continue;
			if (nwork == cap) {
				cap = cap ? 2 * cap : 1024;
				work = realloc(work, cap * sizeof(*work));
			}
			work[nwork++] = o;
		}
	while (nwork) {
		o = work[--nwork];
		if (!vset_add(s, (uintptr_t)o))
			continue;
		if (o->magic == (OBJ_MAGIC | KIND_NODE)) {
			for (j = 0; j < K; j++) {
				c = load((struct obj **)&o->slot[j]);
				if (!c)
					continue;
				if (nwork == cap) {
					cap = cap ? 2 * cap : 1024;
					work = realloc(work, cap * sizeof(*work));
				}
				work[nwork++] = c;
			}
		} else if (o->magic == (OBJ_MAGIC | KIND_LIST)) {
			/* a list, or a subtree handed over */
			for (j = 0; j < 2; j++) {
				c = load((struct obj **)&o->slot[j]);
				if (!c)
					continue;
				if (nwork == cap) {
					cap = cap ? 2 * cap : 1024;
					work = realloc(work, cap * sizeof(*work));
				}
				work[nwork++] = c;
			}
		}
	}
	free(work);
	for (k = 0; k < t->nthreads; k++) {
		for (o = load(&t->roots->priv[k].list); o &&
		     vset_add(s, (uintptr_t)o); o = o->slot[0])
			;
		census_add_tree(s, load(&t->roots->priv[k].tree), 1);
		bag = load(&t->roots->priv[k].bag);
		if (bag && vset_add(s, (uintptr_t)bag))
			for (i = 0; i < BAGN; i++)
				if (bag->slot[i])
					vset_add(s, (uintptr_t)bag->slot[i]);
	}
}

static bool vset_has(const struct vset *s, uintptr_t p)
{
	size_t i;

	if (!s->cap)
		return false;
	for (i = mix(p) & (s->cap - 1); s->v[i]; i = (i + 1) & (s->cap - 1))
		if (s->v[i] == p)
			return true;
	return false;
}

/*
 * The objects checkmark just reported missed ("heap offset N (size S)"
 * in the kernel log): can the program still reach them?
 */
static void census_check(struct mut *m)
{
	struct torture *t = m->t;
	uintptr_t base = ((struct gca_arena_head *)t->a)->heap_base;
	unsigned long long off, size;
	struct vset s = { 0 };
	char rec[1024], *p;
	ssize_t n;

	pthread_rwlock_wrlock(&t->world);
	census_reachable(t, &s);
	for (;;) {
		n = read(t->kmsg, rec, sizeof(rec) - 1);
		if (n <= 0)
			break;
		rec[n] = '\0';
		p = strstr(rec, "checkmark: object at heap offset ");
		if (!p || sscanf(p, "checkmark: object at heap offset %llu "
				 "(size %llu)", &off, &size) != 2)
			continue;
		t->census_missed++;
		if (vset_has(&s, base + off)) {
			const struct obj *o = (void *)(base + off);

			if (!t->census_reachable++)
				snprintf(t->census_msg, sizeof(t->census_msg),
					 "missed object %#llx (size %llu) is "
					 "reachable: first word %016" PRIx64,
					 (unsigned long long)(base + off), size,
					 o->magic);
		}
	}
	pthread_rwlock_unlock(&t->world);
	free(s.v);
}

/*
 * The collecting thread: a cycle, then the graph checked with the
 * mutators shut out, and checkmark's count looked at.
 */
static void *checker_main(void *arg)
{
	struct mut *m = arg;
	struct torture *t = m->t;
	struct gca_memstats *ms;
	int ret;

	ms = malloc(sizeof(*ms));
	if (!ms)
		abort();
	ret = gca_register_thread(t->a);
	if (ret)
		fail(m, "gca_register_thread: %s", strerror(-ret));
	while (!__atomic_load_n(&t->stop, __ATOMIC_RELAXED) && !m->errors) {
		ret = gca_collect(t->a);
		if (ret) {
			fail(m, "gca_collect: %s", strerror(-ret));
			break;
		}
		if (pthread_rwlock_trywrlock(&t->lock)) {
			bool park = !no_park && (rnd(&m->rng) & 1);

			if (park)
				gca_enter_blocking(t->a);
			pthread_rwlock_wrlock(&t->lock);
			if (park)
				gca_leave_blocking(t->a);
		}
		check_graph(m);
		pthread_rwlock_unlock(&t->lock);
		check_mail(m);
		clear_below();
		ret = gca_read_memstats(t->a, ms);
		if (ret)
			fail(m, "gca_read_memstats: %s", strerror(-ret));
		else if (census && ms->checkmark_failures)
			census_check(m);
		else if (ms->checkmark_failures)
			fail(m, "checkmark: %" PRIu64 " objects missed by "
			     "the concurrent mark", ms->checkmark_failures);
		/* Let the mutators run (the pacer starts cycles too). */
		if (!no_park)
			gca_enter_blocking(t->a);
		sleep_ms(10);
		if (!no_park)
			gca_leave_blocking(t->a);
	}
	free(ms);
	return NULL;
}

/* ------------------------------------------------------------------ */

FIXTURE(torture) {
	struct gca_arena *a;
	struct torture *t;
};

FIXTURE_VARIANT(torture) {
	int nthreads;
	bool interfere;		/* the interference variant */
};

FIXTURE_VARIANT_ADD(torture, threads_1) { .nthreads = 1 };
FIXTURE_VARIANT_ADD(torture, threads_2) { .nthreads = 2 };
FIXTURE_VARIANT_ADD(torture, threads_4) { .nthreads = 4 };
FIXTURE_VARIANT_ADD(torture, threads_8) { .nthreads = 8 };
/* 6 threads unless GCA_TORTURE_THREADS; see the top of the file */
FIXTURE_VARIANT_ADD(torture, interference) {
	.nthreads = 6, .interfere = true,
};

/* GCA_TORTURE_VARIANTS: thread counts of threads_N, or "interference" */
static bool variant_wanted(int nthreads, bool interfere)
{
	const char *v = getenv("GCA_TORTURE_VARIANTS");
	char buf[64], *tok, *save;

	if (!v || !*v)
		return true;
	snprintf(buf, sizeof(buf), "%s", v);
	for (tok = strtok_r(buf, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save))
		if (interfere ? !strcmp(tok, "interference") :
		    atoi(tok) == nthreads)
			return true;
	return false;
}

static long env_long(const char *name, long dflt, long lo, long hi)
{
	const char *v = getenv(name);
	long n;

	if (!v || !*v)
		return dflt;
	n = strtol(v, NULL, 0);
	return n < lo ? lo : n > hi ? hi : n;
}

FIXTURE_SETUP(torture)
{
	struct gca_info info;
	pthread_rwlockattr_t attr;
	int old;

	if (!variant_wanted(variant->nthreads, variant->interfere))
		SKIP(return, "not in GCA_TORTURE_VARIANTS");
	ASSERT_EQ(0, raw_get_info(&info));
	if (!(info.features & GCA_FEAT_CONCURRENT))
		SKIP(return, "module without concurrent marking");
	no_memmove = env_flag("GCA_TORTURE_NO_MEMMOVE", false);
	no_park = env_flag("GCA_TORTURE_NO_PARK", false);
	clear_dead_stack = env_flag("GCA_TORTURE_CLEAR_STACK", false);
	clear_regs = env_flag("GCA_TORTURE_CLEAR_REGS", false);
	census = env_flag("GCA_TORTURE_CENSUS", false);
	handoff = env_flag("GCA_TORTURE_HANDOFF", variant->interfere);
	thread_churn = env_flag("GCA_TORTURE_CHURN", variant->interfere);
	park_churn = env_flag("GCA_TORTURE_PARK_CHURN", variant->interfere);
	break_barrier = env_flag("GCA_TORTURE_BREAK_BARRIER", false);
	seed = strtoull(getenv("GCA_TORTURE_SEED") ?: "0", NULL, 0);
	ASSERT_EQ(0, open_arena(&self->a, 1024 * SZ_1M, 10));
	/* no data word may fall in here (no_heap_word()) */
	heap_lo = ((struct gca_arena_head *)self->a)->heap_base;
	heap_hi = ((struct gca_arena_head *)self->a)->heap_end;
	old = gca_set_debug(self->a, env_flag("GCA_TORTURE_CHECKMARK", true) ?
				     GCA_DEBUG_CHECKMARK : 0);
	ASSERT_LE(0, old) TH_LOG("gca_set_debug: %s", strerror(-old));
	self->t = calloc(1, sizeof(*self->t));
	ASSERT_NE(NULL, self->t);
	self->t->a = self->a;
	self->t->roots = calloc(1, sizeof(*self->t->roots));
	ASSERT_NE(NULL, self->t->roots);
	ASSERT_EQ(0, gca_add_roots(self->a, self->t->roots,
				   sizeof(*self->t->roots)));
	/* A waiting checker must not starve behind the readers. */
	pthread_rwlockattr_init(&attr);
	pthread_rwlockattr_setkind_np(&attr,
		PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	ASSERT_EQ(0, pthread_rwlock_init(&self->t->lock, &attr));
	ASSERT_EQ(0, pthread_rwlock_init(&self->t->world, &attr));
	ASSERT_EQ(0, pthread_mutex_init(&self->t->mail_lock, NULL));
	self->t->nthreads = variant->nthreads;
	if (variant->interfere)
		self->t->nthreads = env_long("GCA_TORTURE_THREADS",
					     variant->nthreads, 1, MAX_THREADS);
	self->t->nhogs = env_long("GCA_TORTURE_HOGS", variant->interfere,
				  0, MAX_THREADS);
	self->t->kmsg = -1;
	if (census) {
		self->t->kmsg = open("/dev/kmsg", O_RDONLY | O_NONBLOCK);
		ASSERT_LE(0, self->t->kmsg);
		lseek(self->t->kmsg, 0, SEEK_END);
	}
}

FIXTURE_TEARDOWN(torture)
{
	if (self->a)
		gca_close(self->a);
}

static unsigned int run_secs(bool interfere)
{
	const char *s = getenv("GCA_TORTURE_SECS");

	return s && atoi(s) > 0 ? atoi(s) : interfere ? 8 : 12;
}

TEST_F_TIMEOUT(torture, run, 300)
{
	struct torture *t = self->t;
	struct gca_memstats m0, m1;
	uint64_t ops = 0, allocs = 0, verified = 0, parks = 0;
	uint64_t generations = 0, given = 0, taken = 0;
	unsigned int secs = run_secs(variant->interfere);
	struct mut final = { .t = t };
	struct obj *box;
	int i, n;

	/* A SKIP() in the setup does not stop the test body (6.1). */
	if (!t)
		return;
	n = t->nthreads;
	t->checker.t = t;
	t->checker.rng = mix(0xc4ec) ^ seed;
	if (handoff) {
		box = new_obj(&t->checker, KIND_MAIL,
			      HDR + NMAIL * sizeof(void *), NMAIL, false);
		ASSERT_NE(NULL, box) TH_LOG("%s", t->checker.msg);
		publish(self->a, &t->roots->mailbox, box);
		box = NULL;
	}
	ASSERT_EQ(0, gca_read_memstats(self->a, &m0));
	for (i = 0; i < t->nhogs; i++)
		ASSERT_EQ(0, pthread_create(&t->hog[i], NULL, hog_main, t));
	for (i = 0; i < n; i++) {
		t->mut[i].t = t;
		t->mut[i].idx = i;
		t->mut[i].rng = mix(0x70a7 + i) ^ seed;
		ASSERT_EQ(0, pthread_create(&t->mut[i].th, NULL, slot_main,
					    &t->mut[i]));
	}
	ASSERT_EQ(0, pthread_create(&t->checker.th, NULL, checker_main,
				    &t->checker));
	/* Registered (by gca_open): a safepoint now and then. */
	for (i = 0; i < (int)secs * 10; i++) {
		sleep_ms(100);
		gca_poll(self->a);
	}
	__atomic_store_n(&t->stop, 1, __ATOMIC_RELAXED);
	for (i = 0; i < n; i++)
		ASSERT_EQ(0, pthread_join(t->mut[i].th, NULL));
	ASSERT_EQ(0, pthread_join(t->checker.th, NULL));
	for (i = 0; i < t->nhogs; i++)
		ASSERT_EQ(0, pthread_join(t->hog[i], NULL));

	/* Once more, everything, after two more cycles. */
	ASSERT_EQ(0, gca_collect(self->a));
	ASSERT_EQ(0, gca_collect(self->a));
	check_graph(&final);
	check_mail(&final);
	for (i = 0; i < n; i++)
		check_private(&final, &t->mut[i], NULL);
	ASSERT_EQ(0, gca_read_memstats(self->a, &m1));

	for (i = 0; i < n; i++) {
		struct mut *m = &t->mut[i];

		EXPECT_EQ(0U, m->errors) TH_LOG("thread %d: %s", i, m->msg);
		ops += m->ops;
		allocs += m->allocs;
		verified += m->verified;
		parks += m->parks;
		generations += m->generations;
		given += m->given;
		taken += m->taken;
		EXPECT_LT(0ULL, m->cycles_seen) TH_LOG("thread %d", i);
	}
	EXPECT_EQ(0U, t->checker.errors) TH_LOG("checker: %s", t->checker.msg);
	if (census) {
		TH_LOG("census: %" PRIu64 " missed objects read from the log, "
		       "%" PRIu64 " of them reachable by the program %s",
		       t->census_missed, t->census_reachable, t->census_msg);
		EXPECT_EQ(0ULL, t->census_reachable);
	}
	EXPECT_EQ(0U, final.errors) TH_LOG("final check: %s", final.msg);
	TH_LOG("%d threads, %u s: %" PRIu64 " ops, %" PRIu64 " objects "
	       "allocated, %" PRIu64 " verified, %" PRIu64 " parks",
	       n, secs, ops, allocs, verified + t->checker.verified, parks);
	if (variant->interfere || handoff || thread_churn || t->nhogs)
		TH_LOG("seed %#" PRIx64 ", %d hogs, %" PRIu64 " threads "
		       "retired, %" PRIu64 " objects handed over, %" PRIu64
		       " taken", seed, t->nhogs, generations, given, taken);
	TH_LOG("%u cycles (%u forced), %" PRIu64 " graph checks "
	       "(%" PRIu64 " nodes), checkmark: %" PRIu64 " cycles, %" PRIu64
	       " failures", m1.num_gc - m0.num_gc,
	       m1.num_forced_gc - m0.num_forced_gc, t->graph_checks,
	       t->nodes_checked, m1.checkmark_cycles, m1.checkmark_failures);
	EXPECT_EQ(0ULL, m1.checkmark_failures);
	EXPECT_LE(m0.num_gc + 5, m1.num_gc);
	EXPECT_LE(2ULL, t->graph_checks);
	if (env_flag("GCA_TORTURE_CHECKMARK", true)) {
		EXPECT_LT(0ULL, m1.checkmark_cycles);
		EXPECT_EQ((uint64_t)GCA_DEBUG_CHECKMARK, (uint64_t)m1.debug);
	}
}

TEST_HARNESS_MAIN
