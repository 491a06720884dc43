// SPDX-License-Identifier: GPL-2.0
/*
 * Hostile process, area 1: the heap's contents.
 *
 * The kernel reads the heap (and the stacks) as numbers: whatever a
 * process writes there, it must neither crash, hang nor corrupt, and a
 * cycle must never free an object that is reachable.  Here threads of the
 * process scribble over every part of the arena (random words, pointers
 * to page starts, object interiors, free slots, tail waste, one past the
 * end and the last byte, kernel addresses, user addresses outside the
 * arena, self-loops, long chains) while cycles run back to back.  The
 * process may lose its own scribbled objects; a structure that is
 * reachable from a stack and never scribbled over must verify intact,
 * because scribbled words can only keep more objects alive.
 *
 * Tests:
 *   scribble_while_collecting  three threads: scribbler (unregistered,
 *                              never calls the library), allocator,
 *                              collector (gca_collect in a loop, GOGC 1),
 *                              for ~10 s; the main thread verifies its
 *                              own structure all along
 *   scribble_every_class       every size class, scan and noscan, filled
 *                              with hostile words: garbage is still freed,
 *                              a rooted object's words are left as they
 *                              were, reused memory comes back zeroed
 *   deep_chain                 a 100000-deep chain survives, then dies
 *                              (as a cycle, with self-loops)
 *   barrier_bypass_checkmark   (concurrent marking) pointers moved behind
 *                              the write barrier's back with checkmark
 *                              on: cycles go on, the kernel log is not
 *                              flooded
 *   checkmark_log_many_arenas  (concurrent marking) a user whose arenas,
 *                              one after another, each provoke checkmark
 *                              misses gets at most its budget of kernel
 *                              log lines; another user's still appear
 *   checkmark_counts_a_data_word  (concurrent marking) a data word that
 *                              holds a dead object's address, in an
 *                              object filled during the mark: checkmark
 *                              counts the dead object as missed
 *   still_working              a fresh arena allocates, collects, verifies
 */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <grp.h>
#include <sys/klog.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "gca_test_raw.h"

#define SALT_P		0x9a55ULL
#define SALT_LIST	0x1157ULL
#define SALT_DEEP	0xdeebULL

/* How long the concurrent scribbling runs (TCG: ~7x slower than native). */
#define SCRIBBLE_SECS	10

GCA_ARENA_FIXTURE(heap);

/* ------------------------------------------------------------------ */
/* xorshift64*: a fixed seed per thread, reproducible runs             */

static inline uint64_t rnd(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545f4914f6cdd1dULL;
}

static inline uint64_t rnd_below(uint64_t *s, uint64_t n)
{
	return n ? rnd(s) % n : 0;
}

/* Class size of a small request (Go's classes, from gca_test.h). */
static uint32_t class_size(size_t size)
{
	unsigned int c;

	for (c = 1; c < GCA_NUM_SIZE_CLASSES; c++)
		if (go_class_to_size[c] >= size)
			return go_class_to_size[c];
	return 0;
}

/* check_arena's, and what is given back to the kernel was the heap's. */
static void check_invariants(struct __test_metadata *_metadata,
			     struct gca_arena *a)
{
	struct gca_memstats ms;

	check_arena(_metadata, a);
	ASSERT_EQ(0, gca_read_memstats(a, &ms));
	EXPECT_LE(ms.heap_released, ms.heap_sys);
}

/* ------------------------------------------------------------------ */
/* The protected structure P: a tree, a list and a large scanned array */
/* of pointers to noscan payloads with known contents.                 */

#define P_TREE_DEPTH	11		/* 2047 nodes */
#define P_LIST_LEN	3000
#define P_NPAYLOAD	1000
#define P_PAYLOAD_SIZE	200		/* class 208 */

struct prot {
	struct node *tree;
	struct node *list;
	void **array;			/* P_NPAYLOAD pointers, large object */
};

static uint8_t payload_byte(unsigned int i, unsigned int j)
{
	return (uint8_t)(i * 31 + j * 7 + 1);
}

__test_helper int build_prot(struct gca_arena *a, struct prot *p)
{
	uint64_t next = 1;
	unsigned int i;

	p->tree = build_tree(a, P_TREE_DEPTH, &next, SALT_P);
	p->list = build_list(a, P_LIST_LEN, 100000, SALT_P);
	/* 8000 bytes would be small: make it a large object (> 32 KiB). */
	p->array = gca_alloc(a, 40000);
	if (!p->tree || !p->list || !p->array)
		return -1;
	for (i = 0; i < P_NPAYLOAD; i++) {
		uint8_t *q = gca_alloc_noscan(a, P_PAYLOAD_SIZE);
		unsigned int j;

		if (!q)
			return -1;
		for (j = 0; j < P_PAYLOAD_SIZE; j++)
			q[j] = payload_byte(i, j);
		gca_store(a, &p->array[i], q);
	}
	return 0;
}

/* 0 if intact, else a code saying what broke. */
__test_helper int check_prot(const struct prot *p)
{
	uint64_t next = 1;
	unsigned int i, j;

	if (check_tree(p->tree, P_TREE_DEPTH, &next, SALT_P) !=
	    (1U << P_TREE_DEPTH) - 1)
		return 1;
	if (check_list(p->list, 100000, SALT_P) != P_LIST_LEN)
		return 2;
	for (i = 0; i < P_NPAYLOAD; i++) {
		const uint8_t *q = gca_load(&p->array[i]);

		if (!q)
			return 3;
		for (j = 0; j < P_PAYLOAD_SIZE; j++)
			if (q[j] != payload_byte(i, j))
				return 4;
	}
	return 0;
}

/* Address ranges of P, sorted: the scribbler never writes into them. */
struct range {
	uintptr_t lo, hi;
};

struct rangeset {
	struct range *r;
	size_t n, cap;
};

static void rs_add(struct rangeset *rs, const void *p, size_t len)
{
	if (rs->n == rs->cap) {
		rs->cap = rs->cap ? rs->cap * 2 : 1024;
		rs->r = realloc(rs->r, rs->cap * sizeof(*rs->r));
		if (!rs->r)
			abort();
	}
	rs->r[rs->n].lo = (uintptr_t)p;
	rs->r[rs->n].hi = (uintptr_t)p + len;
	rs->n++;
}

static int range_cmp(const void *x, const void *y)
{
	const struct range *a = x, *b = y;

	return a->lo < b->lo ? -1 : a->lo > b->lo;
}

/* Does [t, t + 8) touch any range? */
static bool rs_hit(const struct rangeset *rs, uintptr_t t)
{
	size_t lo = 0, hi = rs->n;

	/* last range with lo <= t + 7 */
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (rs->r[mid].lo <= t + 7)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo && t < rs->r[lo - 1].hi;
}

__test_helper void collect_tree(struct rangeset *rs, struct node *n,
				unsigned int d)
{
	if (!d || !n)
		return;
	rs_add(rs, n, class_size(sizeof(*n)));
	collect_tree(rs, n->left, d - 1);
	collect_tree(rs, n->right, d - 1);
}

__test_helper void prot_ranges(struct rangeset *rs, const struct prot *p)
{
	struct node *n;
	unsigned int i;

	collect_tree(rs, p->tree, P_TREE_DEPTH);
	for (n = p->list; n; n = n->left)
		rs_add(rs, n, class_size(sizeof(*n)));
	/* A large object spans whole pages. */
	rs_add(rs, p->array, (40000 + GCA_PAGE_SIZE - 1) & ~(GCA_PAGE_SIZE - 1));
	for (i = 0; i < P_NPAYLOAD; i++)
		rs_add(rs, p->array[i], class_size(P_PAYLOAD_SIZE));
	qsort(rs->r, rs->n, sizeof(*rs->r), range_cmp);
}

struct deep {
	struct deep *next;
	uint64_t id;
};

__test_helper struct deep *build_deep(struct gca_arena *a, uint64_t n,
				      uint64_t salt)
{
	struct deep *head = NULL, *d;
	uint64_t i;

	for (i = n; i > 0; i--) {
		d = gca_alloc(a, sizeof(*d));
		if (!d)
			return NULL;
		d->id = (i - 1) ^ salt;
		gca_store(a, (void **)&d->next, head);
		head = d;
	}
	return head;
}

/* The node addresses, in chain order (malloc: not a root). */
__test_helper uintptr_t *deep_addresses(struct deep *d, size_t n)
{
	uintptr_t *v = malloc(n * sizeof(*v));
	size_t i;

	for (i = 0; v && i < n && d; i++, d = d->next)
		v[i] = (uintptr_t)d;
	return v;
}

/* ------------------------------------------------------------------ */
/* Hostile words                                                       */

#define RING_SIZE	65536		/* recent objects of the allocator */
#define RING_SHIFT	48		/* entry: addr | size index << 48 */

static const uint32_t alloc_sizes[] = {
	8, 16, 24, 32, 48, 64, 80, 96, 112, 144, 176, 208, 240, 352, 480,
	704, 1000, 1408, 3000, 4000, 5376, 6784, 9000, 13568, 20000, 27264,
	32768, 40000, 70000, 200000,
};
#define NSIZES	(sizeof(alloc_sizes) / sizeof(alloc_sizes[0]))

struct world {
	struct gca_arena *a;
	uintptr_t lo, hi;		/* the heap */
	volatile uintptr_t high;	/* heap_sys high water (published) */
	const struct rangeset *prot;
	uint64_t ring[RING_SIZE];
	volatile uint32_t ring_head;
	volatile int stop;
	/* results, each written by one thread */
	uint64_t writes, skipped, faults, chains;
	uint64_t allocs, alloc_fail, deep_chains;
	uint64_t collects, collect_err;
	int collect_errno;
	uint64_t seed;			/* the scribbler's */
	/* a 100000-deep chain rooted by the main thread, not protected */
	uintptr_t *deep;
	size_t ndeep;
	uint64_t rechains;
};

static uint64_t ring_pick(struct world *w, uint64_t *s, uint32_t *size)
{
	uint32_t head = __atomic_load_n(&w->ring_head, __ATOMIC_RELAXED);
	uint64_t e;

	if (!head)
		return 0;
	e = __atomic_load_n(&w->ring[rnd_below(s, head < RING_SIZE ? head :
						     RING_SIZE)],
			    __ATOMIC_RELAXED);
	*size = alloc_sizes[(e >> RING_SHIFT) % NSIZES];
	return e & ((1ULL << RING_SHIFT) - 1);
}

/* A hostile value for the word at t. */
static uint64_t hostile_value(struct world *w, uint64_t *s, uintptr_t t)
{
	uintptr_t size = w->hi - w->lo, obj;
	uint32_t osz = 0, csz, n, tail;
	static int local_anchor;

	switch (rnd_below(s, 20)) {
	case 0:
		return rnd(s);
	case 1:
		return w->lo + rnd_below(s, size);
	case 2:		/* page starts */
		return w->lo + rnd_below(s, size / GCA_PAGE_SIZE) * GCA_PAGE_SIZE;
	case 3:		/* object starts */
	case 4:		/* object interiors */
	case 5:		/* one past an object: a neighbour, a free slot */
		obj = ring_pick(w, s, &osz);
		if (!obj)
			return w->lo;
		if (osz > GCA_MAX_SMALL_SIZE)
			osz = (osz + GCA_PAGE_SIZE - 1) & ~(GCA_PAGE_SIZE - 1);
		else
			osz = class_size(osz);
		switch (rnd_below(s, 3)) {
		case 0: return obj;
		case 1: return obj + rnd_below(s, osz);
		default: return obj + osz;
		}
	case 6:		/* tail waste of a one-page span */
		obj = ring_pick(w, s, &osz);
		csz = osz <= GCA_MAX_SMALL_SIZE ? class_size(osz) : 0;
		if (!obj || !csz || csz > GCA_PAGE_SIZE)
			return w->hi - 1;
		n = GCA_PAGE_SIZE / csz;
		tail = GCA_PAGE_SIZE - n * csz;
		if (!tail)
			return (obj & ~(GCA_PAGE_SIZE - 1)) + GCA_PAGE_SIZE - 1;
		return (obj & ~(GCA_PAGE_SIZE - 1)) + n * csz +
		       rnd_below(s, tail);
	case 7:
		return w->hi;			/* one past the end */
	case 8:
		return w->hi - 1;		/* the last byte */
	case 9:
		return w->lo - 1 - rnd_below(s, 2) * (GCA_PAGE_SIZE - 1);
	case 10:	/* kernel direct map */
		return 0xffff888000000000ULL + (rnd(s) & 0x3ffffff8ULL);
	case 11:	/* kernel text, vsyscall, non-canonical, all ones */
		switch (rnd_below(s, 4)) {
		case 0: return 0xffffffff81000000ULL + (rnd(s) & 0xfffff8);
		case 1: return 0xffffffffff600000ULL;
		case 2: return 0x8000000000000000ULL | rnd(s);
		default: return ~0ULL;
		}
	case 12:	/* user addresses outside the arena */
		switch (rnd_below(s, 5)) {
		case 0: return (uintptr_t)&local_anchor;
		case 1: return (uintptr_t)__builtin_frame_address(0);
		case 2: return 0x400000;
		case 3: return w->hi + GCA_PAGE_SIZE;
		default: return 0x1000;
		}
	case 13:	/* self-loops */
	case 14:
		return rnd_below(s, 2) ? t : (t & ~(uintptr_t)15);
	case 15:	/* into the protected structure: only keeps it alive */
		if (w->prot->n) {
			const struct range *r =
				&w->prot->r[rnd_below(s, w->prot->n)];
			return r->lo + rnd_below(s, r->hi - r->lo);
		}
		return 0;
	default:
		return 0;
	}
}

/* ------------------------------------------------------------------ */
/* The scribbler: unregistered, never calls the library.  Pages of the */
/* heap with no memory behind them raise SIGBUS: skip them.            */

static __thread sigjmp_buf *fault_jmp;

static void fault_handler(int sig, siginfo_t *si, void *uc)
{
	if (fault_jmp)
		siglongjmp(*fault_jmp, 1);
	/* Not the scribbler: die as we would have. */
	signal(sig, SIG_DFL);
	raise(sig);
}

static inline void scribble(struct world *w, uintptr_t t, uint64_t v)
{
	t &= ~(uintptr_t)7;
	if (t < w->lo || t + 8 > w->hi)
		return;
	if (rs_hit(w->prot, t)) {
		w->skipped++;
		return;
	}
	__atomic_store_n((uint64_t *)t, v, __ATOMIC_RELAXED);
	w->writes++;
}

static uintptr_t random_target(struct world *w, uint64_t *s)
{
	uintptr_t high = w->high, obj;
	uint32_t osz = 0;

	if (rnd_below(s, 2)) {
		obj = ring_pick(w, s, &osz);
		if (obj)
			return obj + rnd_below(s, osz);
	}
	if (high <= w->lo)
		high = w->hi;
	return w->lo + rnd_below(s, high - w->lo);
}

static void *scribbler_main(void *arg)
{
	struct world *w = arg;
	sigjmp_buf jb;
	uint64_t *s = &w->seed;	/* in memory: survives siglongjmp */
	volatile uint64_t faults = 0;

	fault_jmp = &jb;
	if (sigsetjmp(jb, 1))
		faults++;
	while (!w->stop) {
		uintptr_t t = random_target(w, s), obj, prev;
		uint32_t osz, k, n;

		switch (rnd_below(s, 9)) {
		case 8:		/* re-link the deep chain: long runs, loops */
			if (!w->ndeep)
				break;
			k = rnd_below(s, w->ndeep);
			n = rnd_below(s, 4) ? 1 + rnd_below(s, w->ndeep) : 16;
			for (; n && k < w->ndeep - 1 && !w->stop; n--, k++)
				scribble(w, w->deep[k], rnd_below(s, 64) ?
					 w->deep[k + 1] :
					 w->deep[rnd_below(s, w->ndeep)]);
			w->rechains++;
			break;
		case 0:		/* a chain through recent objects */
			n = 1 + rnd_below(s, 4096);
			prev = ring_pick(w, s, &osz);
			for (k = 0; k < n && prev && !w->stop; k++) {
				obj = ring_pick(w, s, &osz);
				scribble(w, prev + 8 * rnd_below(s, 2), obj);
				prev = obj;
			}
			w->chains++;
			break;
		case 1:		/* a run of words, each pointing to the next */
			n = 1 + rnd_below(s, 1024);
			for (k = 0; k < n && !w->stop; k++)
				scribble(w, t + 8 * k, t + 8 * (k + 1));
			break;
		case 2:		/* fill one object with hostile words */
			obj = ring_pick(w, s, &osz);
			if (!obj)
				break;
			if (osz > 4096)
				osz = 4096;
			for (k = 0; k < osz / 8 && !w->stop; k++)
				scribble(w, obj + 8 * k,
					 hostile_value(w, s, obj + 8 * k));
			break;
		default:	/* one word */
			scribble(w, t, hostile_value(w, s, t));
			break;
		}
	}
	fault_jmp = NULL;
	w->faults = faults;
	return NULL;
}

/* ------------------------------------------------------------------ */
/* The allocator: builds, links and drops objects of every kind; never */
/* reads a pointer back from the heap (it may have been scribbled).    */

static void *allocator_main(void *arg)
{
	struct world *w = arg;
	void *keep[64] = { NULL };
	void *deep = NULL;
	uint64_t s = 0xa110caefULL, iter = 0;
	unsigned int k = 0;

	while (!w->stop) {
		unsigned int si = rnd_below(&s, NSIZES);
		size_t size = alloc_sizes[si];
		bool noscan = rnd_below(&s, 4) == 0;
		void *p;

		/* Big ones rarely. */
		if (size > 100000 && rnd_below(&s, 16))
			continue;
		if (noscan && rnd_below(&s, 2))
			size = 1 + rnd_below(&s, 15);	/* tiny allocator */
		p = noscan ? gca_alloc_noscan(w->a, size) :
			     gca_alloc(w->a, size);
		if (!p) {
			w->alloc_fail++;
			sleep_ms(5);
			continue;
		}
		w->allocs++;
		if (!noscan) {
			__atomic_store_n(&w->ring[w->ring_head % RING_SIZE],
					 (uintptr_t)p | (uint64_t)si << RING_SHIFT,
					 __ATOMIC_RELAXED);
			__atomic_store_n(&w->ring_head, w->ring_head + 1,
					 __ATOMIC_RELAXED);
			/* link to the previous object of this batch */
			gca_store(w->a, (void **)p, keep[k % 64]);
		}
		keep[++k % 64] = p;
		if (++iter % 500 == 0) {
			/* a 2000-deep chain, alive for a while */
			deep = build_deep(w->a, 2000, iter);
			if (deep)
				w->deep_chains++;
		} else if (iter % 500 == 250) {
			deep = NULL;
		}
	}
	__asm__ __volatile__("" : : "r"(deep), "r"(keep) : "memory");
	return NULL;
}

static void *collector_main(void *arg)
{
	struct world *w = arg;
	int ret;

	while (!w->stop) {
		ret = gca_collect(w->a);
		if (ret) {
			if (!w->collect_err++)
				w->collect_errno = -ret;
			sleep_ms(10);
			continue;
		}
		w->collects++;
	}
	return NULL;
}

TEST_F_TIMEOUT(heap, scribble_while_collecting, 240)
{
	struct rangeset rs = { 0 };
	struct sigaction sa, old_bus, old_segv;
	struct gca_memstats m0, m1;
	struct world *w;
	pthread_t th[3];
	struct prot p;
	struct deep *deep;	/* rooted here, scribbled over */
	uint64_t end, checks = 0;
	int bad = 0, ret;

	ASSERT_EQ(0, open_arena(&self->a, 128 * SZ_1M, 1));
	w = calloc(1, sizeof(*w));
	ASSERT_NE(NULL, w);
	w->a = self->a;
	w->lo = ((const struct gca_arena_head *)self->a)->heap_base;
	w->hi = ((const struct gca_arena_head *)self->a)->heap_end;
	w->seed = 0x5c1bb1e5ULL;

	/* Built with cycles off, then GOGC 1: a cycle every ~40 KiB. */
	ASSERT_EQ(1, gca_set_gc_percent(self->a, -1));
	deep = build_deep(self->a, 100000, SALT_DEEP);
	ASSERT_NE(NULL, deep);
	w->deep = deep_addresses(deep, 100000);
	ASSERT_NE(NULL, w->deep);
	w->ndeep = 100000;
	ASSERT_EQ(0, build_prot(self->a, &p));
	ASSERT_EQ(-1, gca_set_gc_percent(self->a, 1));
	ASSERT_EQ(0, check_prot(&p));
	prot_ranges(&rs, &p);
	w->prot = &rs;
	ASSERT_EQ(0, gca_read_memstats(self->a, &m0));
	w->high = w->lo + m0.heap_sys;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = fault_handler;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	ASSERT_EQ(0, sigaction(SIGBUS, &sa, &old_bus));
	ASSERT_EQ(0, sigaction(SIGSEGV, &sa, &old_segv));

	ASSERT_EQ(0, pthread_create(&th[0], NULL, scribbler_main, w));
	ASSERT_EQ(0, pthread_create(&th[1], NULL, allocator_main, w));
	ASSERT_EQ(0, pthread_create(&th[2], NULL, collector_main, w));

	end = now_ns() + SCRIBBLE_SECS * 1000000000ULL;
	while (now_ns() < end) {
		ret = check_prot(&p);
		if (ret && !bad)
			bad = ret;
		checks++;
		if (!gca_read_memstats(self->a, &m1))
			w->high = w->lo + m1.heap_sys;
		gca_poll(self->a);
		sleep_ms(50);
	}
	w->stop = 1;
	ASSERT_EQ(0, pthread_join(th[0], NULL));
	ASSERT_EQ(0, pthread_join(th[1], NULL));
	ASSERT_EQ(0, pthread_join(th[2], NULL));

	ASSERT_EQ(0, gca_collect(self->a));
	ASSERT_EQ(0, gca_collect(self->a));
	EXPECT_EQ(0, bad) TH_LOG("the protected structure broke while cycles ran (code %d)", bad);
	EXPECT_EQ(0, check_prot(&p));
	ASSERT_EQ(0, gca_read_memstats(self->a, &m1));

	TH_LOG("%llu writes (%llu into P refused), %llu faults, %llu chains; "
	       "%llu allocations (%llu failed), %llu deep chains; "
	       "%llu collects (%llu failed), num_gc %u -> %u, %llu checks of P, "
	       "%llu re-links of the deep chain",
	       (unsigned long long)w->writes, (unsigned long long)w->skipped,
	       (unsigned long long)w->faults, (unsigned long long)w->chains,
	       (unsigned long long)w->allocs,
	       (unsigned long long)w->alloc_fail,
	       (unsigned long long)w->deep_chains,
	       (unsigned long long)w->collects,
	       (unsigned long long)w->collect_err, m0.num_gc, m1.num_gc,
	       (unsigned long long)checks,
	       (unsigned long long)w->rechains);
	/* Cycles kept completing. */
	EXPECT_EQ(0U, w->collect_err) TH_LOG("gca_collect failed: %s", strerror(w->collect_errno));
	EXPECT_LE(3ULL, w->collects);
	EXPECT_LE(m0.num_gc + 3, m1.num_gc);
	/* The attack did happen. */
	EXPECT_LT(10000ULL, w->writes);
	EXPECT_LT(10ULL, w->allocs);
	check_invariants(_metadata, self->a);

	sigaction(SIGBUS, &old_bus, NULL);
	sigaction(SIGSEGV, &old_segv, NULL);
	__asm__ __volatile__("" : : "r"(deep) : "memory");
	free(w->deep);
	free(rs.r);
	free(w);
}

/* ------------------------------------------------------------------ */

/* Hostile words that name no allocated object of this arena. */
static uint64_t no_object_value(uintptr_t lo, uintptr_t hi, unsigned int i)
{
	switch (i % 12) {
	case 0: return hi;
	case 1: return hi - 1;
	case 2: return hi - 8;
	case 3: return lo - 1;
	case 4: return 0xffff888000000000ULL + i * 4096;
	case 5: return 0xffffffff81000000ULL;
	case 6: return 0xffffffffff600000ULL;
	case 7: return 0x8000000000000000ULL + i;
	case 8: return ~0ULL;
	case 9: return 0x1000;
	case 10: return hi + GCA_PAGE_SIZE;
	default: return 0;
	}
}

#define EC_PER_CLASS	24

__test_helper uint64_t alloc_every_class(struct gca_arena *a, void **objs,
					 uint32_t *sizes, uintptr_t lo,
					 uintptr_t hi)
{
	uint64_t n = 0, i;
	unsigned int c, noscan, k;

	for (c = 1; c < GCA_NUM_SIZE_CLASSES; c++) {
		for (noscan = 0; noscan < 2; noscan++) {
			for (k = 0; k < EC_PER_CLASS; k++) {
				uint32_t sz = go_class_to_size[c];
				uint64_t *p = noscan ? gca_alloc_noscan(a, sz) :
						       gca_alloc(a, sz);

				if (!p)
					return 0;
				objs[n] = p;
				sizes[n++] = sz;
			}
		}
	}
	/* Large ones, scan and noscan. */
	for (k = 0; k < 8; k++) {
		uint32_t sz = 40000 + k * 50000;

		objs[n] = k & 1 ? gca_alloc_noscan(a, sz) : gca_alloc(a, sz);
		if (!objs[n])
			return 0;
		sizes[n++] = sz;
	}
	/*
	 * Everything hostile, everywhere: pointers into each other, into
	 * themselves, one past their end, tail waste, kernel addresses.
	 */
	for (i = 0; i < n; i++) {
		uint64_t *p = objs[i];
		uint32_t words = sizes[i] / 8, j;

		for (j = 0; j < words; j++) {
			uintptr_t o = (uintptr_t)objs[(i * 7 + j) % n];

			switch (j % 6) {
			case 0: p[j] = o; break;
			case 1: p[j] = o + sizes[(i * 7 + j) % n]; break;
			case 2: p[j] = (uintptr_t)&p[j]; break;
			case 3: p[j] = (o & ~(GCA_PAGE_SIZE - 1)) + GCA_PAGE_SIZE - 1; break;
			case 4: p[j] = o + j; break;
			default: p[j] = no_object_value(lo, hi, i + j); break;
			}
		}
	}
	return n;
}

static volatile sig_atomic_t wrote_faults;
static sigjmp_buf wf_jmp;

static void wf_handler(int sig)
{
	wrote_faults++;
	siglongjmp(wf_jmp, 1);
}

/* Write v over [p, p + len), skipping pages without memory. */
__test_helper void write_freed(void *p, size_t len, uint64_t v)
{
	volatile uintptr_t q = (uintptr_t)p & ~(uintptr_t)7;
	uintptr_t end = (uintptr_t)p + len;

	if (sigsetjmp(wf_jmp, 1))
		q = (q & ~(uintptr_t)4095) + 4096;
	for (; q + 8 <= end; q += 8)
		*(volatile uint64_t *)q = v ^ q;
}

TEST_F_TIMEOUT(heap, scribble_every_class, 240)
{
	const unsigned int nmax = (GCA_NUM_SIZE_CLASSES - 1) * 2 *
				  EC_PER_CLASS + 8;
	struct gca_memstats m0, m1, m2;
	struct sigaction sa, old;
	uint64_t *keeper, n, i, expect[512];
	uint32_t *sizes;
	uintptr_t lo, hi;
	struct node *list;
	void **objs;
	unsigned int j, nonzero = 0;

	ASSERT_EQ(0, open_arena(&self->a, 64 * SZ_1M, -1));
	lo = ((const struct gca_arena_head *)self->a)->heap_base;
	hi = ((const struct gca_arena_head *)self->a)->heap_end;
	objs = calloc(nmax, sizeof(*objs));	/* malloc: not a root */
	sizes = calloc(nmax, sizeof(*sizes));
	ASSERT_NE(NULL, objs);
	ASSERT_NE(NULL, sizes);

	list = build_list(self->a, 2000, 1, SALT_LIST);
	ASSERT_NE(NULL, list);
	/* A rooted object full of words that name nothing. */
	keeper = gca_alloc(self->a, sizeof(expect));
	ASSERT_NE(NULL, keeper);
	for (j = 0; j < 512; j++) {
		expect[j] = no_object_value(lo, hi, j);
		keeper[j] = expect[j];
	}
	ASSERT_EQ(0, gca_collect(self->a));
	ASSERT_EQ(0, gca_read_memstats(self->a, &m0));

	n = alloc_every_class(self->a, objs, sizes, lo, hi);
	ASSERT_LT(0ULL, n);
	clear_stack();
	ASSERT_EQ(0, gca_collect(self->a));
	ASSERT_EQ(0, gca_collect(self->a));
	ASSERT_EQ(0, gca_read_memstats(self->a, &m1));

	/* The rooted structures are intact, their words untouched. */
	EXPECT_EQ(2000ULL, check_list(list, 1, SALT_LIST));
	for (j = 0; j < 512; j++)
		ASSERT_EQ(expect[j], keeper[j]) TH_LOG("word %u", j);
	/* The hostile garbage was freed: words pointing to each other and
	 * to themselves keep nothing alive that no root reaches. */
	EXPECT_LE(m0.frees + n * 9 / 10, m1.frees)
		TH_LOG("%llu garbage objects, %llu freed",
		       (unsigned long long)n,
		       (unsigned long long)(m1.frees - m0.frees));
	check_invariants(_metadata, self->a);

	/* Scribble over the freed memory, then allocate it again: new
	 * objects come back zeroed whatever was left in them. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = wf_handler;
	sigemptyset(&sa.sa_mask);
	ASSERT_EQ(0, sigaction(SIGBUS, &sa, &old));
	for (i = 0; i < n; i++)
		write_freed(objs[i], sizes[i], 0xfeedfacecafef00dULL);
	sigaction(SIGBUS, &old, NULL);
	for (i = 0; i < n; i++) {
		uint64_t *p = i % 2 ? gca_alloc_noscan(self->a, sizes[i]) :
				      gca_alloc(self->a, sizes[i]);

		ASSERT_NE(NULL, p);
		for (j = 0; j < sizes[i] / 8; j++)
			if (p[j])
				nonzero++;
	}
	EXPECT_EQ(0U, nonzero) TH_LOG("reused memory was not zeroed");
	clear_stack();
	ASSERT_EQ(0, gca_collect(self->a));
	ASSERT_EQ(0, gca_read_memstats(self->a, &m2));
	EXPECT_EQ(2000ULL, check_list(list, 1, SALT_LIST));
	for (j = 0; j < 512; j++)
		ASSERT_EQ(expect[j], keeper[j]);
	check_invariants(_metadata, self->a);
	TH_LOG("%llu hostile objects; faults writing freed memory: %d",
	       (unsigned long long)n, (int)wrote_faults);
	free(objs);
	free(sizes);
}

/*
 * The chain hangs from a root range, and only helpers ever hold a
 * pointer into it: no stale copy in the test's own frame can keep the
 * dead chain alive.
 */
static struct deep *deep_root;

__test_helper int make_deep(struct gca_arena *a)
{
	struct deep *d = build_deep(a, 100000, SALT_DEEP);

	if (!d)
		return -1;
	gca_store(a, (void **)&deep_root, d);
	return 0;
}

__test_helper uint64_t check_deep(void)
{
	const struct deep *d = gca_load((void **)&deep_root);
	uint64_t i = 0;

	for (; d && i < 100000; d = d->next, i++)
		if (d->id != (i ^ SALT_DEEP))
			break;
	return i;
}

/* Make the chain a cycle, with self-loops in the ids' place, and drop it. */
__test_helper void loop_and_drop_deep(struct gca_arena *a)
{
	struct deep *head = gca_load((void **)&deep_root), *d = head;

	while (d->next) {
		d->id = (uintptr_t)d;
		d = d->next;
	}
	gca_store(a, (void **)&d->next, head);
	gca_store(a, (void **)&deep_root, NULL);
}

TEST_F_TIMEOUT(heap, deep_chain, 240)
{
	struct gca_memstats m0, m1;

	ASSERT_EQ(0, open_arena(&self->a, 64 * SZ_1M, -1));
	ASSERT_EQ(0, gca_add_roots(self->a, &deep_root, sizeof(deep_root)));
	ASSERT_EQ(0, make_deep(self->a));
	clear_stack();
	ASSERT_EQ(0, gca_collect(self->a));
	EXPECT_EQ(100000ULL, check_deep());
	/* Freed memory reused meanwhile must not be the chain's. */
	ASSERT_EQ(0, churn(self->a, sizeof(struct deep), 50000, 0));
	ASSERT_EQ(0, gca_collect(self->a));
	EXPECT_EQ(100000ULL, check_deep());

	ASSERT_EQ(0, gca_read_memstats(self->a, &m0));
	loop_and_drop_deep(self->a);
	clear_stack();
	ASSERT_EQ(0, gca_collect(self->a));
	ASSERT_EQ(0, gca_read_memstats(self->a, &m1));
	EXPECT_LE(m0.frees + 99000, m1.frees)
		TH_LOG("a dead 100000-object cycle: %llu freed",
		       (unsigned long long)(m1.frees - m0.frees));
	check_invariants(_metadata, self->a);
	EXPECT_EQ(0, gca_remove_roots(self->a, &deep_root));
}

#ifdef GCA_SET_DEBUG
/*
 * Concurrent marking trusts the process to run its stores through the
 * write barrier.  A process that does not (an unregistered thread moving
 * pointers with plain stores while the collector marks) can only lose
 * its own objects; with checkmark on (GCA_DEBUG_CHECKMARK, which any
 * arena owner may set) every miss is found, kept, and counted.  The
 * kernel log is not the process's to fill: what checkmark prints about
 * misses must stay bounded however often the process provokes them.
 */
#define BB_SLOTS	4096

struct bypass {
	void **roots;		/* BB_SLOTS slots, a large scanned object */
	struct node **holders;	/* BB_SLOTS holders, malloc: not roots */
	volatile int stop;
	uint64_t moves;
};

/* Unregistered, plain stores: hide each object from the marker by
 * moving its only pointer between a root slot and a holder object. */
static void *bypass_main(void *arg)
{
	struct bypass *b = arg;
	unsigned int i, pass = 0;

	while (!b->stop) {
		for (i = 0; i < BB_SLOTS && !b->stop; i++) {
			volatile void **slot = (volatile void **)&b->roots[i];
			struct node *h = b->holders[i];

			if (pass & 1) {
				*slot = h->left;
				h->left = NULL;
			} else {
				h->left = (void *)*slot;
				*slot = h;
			}
			b->moves++;
		}
		pass++;
	}
	return NULL;
}

static unsigned int klog_count(const char *what)
{
	int len = klogctl(10 /* SYSLOG_ACTION_SIZE_BUFFER */, NULL, 0);
	unsigned int n = 0;
	char *buf, *p;

	if (len <= 0)
		return 0;
	buf = malloc(len + 1);
	if (!buf)
		return 0;
	len = klogctl(3 /* SYSLOG_ACTION_READ_ALL */, buf, len);
	if (len > 0) {
		buf[len] = 0;
		for (p = buf; (p = strstr(p, what)); p++)
			n++;
	}
	free(buf);
	return n;
}

__test_helper int build_bypass(struct gca_arena *a, struct bypass *b)
{
	unsigned int i;

	b->roots = gca_alloc(a, BB_SLOTS * sizeof(void *));
	b->holders = calloc(BB_SLOTS, sizeof(*b->holders));
	if (!b->roots || !b->holders)
		return -1;
	for (i = 0; i < BB_SLOTS; i++) {
		struct node *h = new_node(a, i, SALT_P);
		struct node *x = new_node(a, 100000 + i, SALT_P);

		if (!h || !x)
			return -1;
		/* the holder must stay alive: keep it in the roots too */
		gca_store(a, (void **)&h->right, h);
		gca_store(a, &b->roots[i], x);
		b->holders[i] = h;
	}
	return 0;
}

TEST_F_TIMEOUT(heap, barrier_bypass_checkmark, 240)
{
	struct gca_params_arg pa = { .size = sizeof(pa) };
	struct gca_stats st0, st1;
	struct bypass b = { 0 };
	struct world *w = calloc(1, sizeof(*w));
	pthread_t th[2];
	unsigned int lines0, lines1;
	uint64_t end;
	int fd;

	ASSERT_EQ(0, open_arena(&self->a, 64 * SZ_1M, -1));
	fd = gca_arena_fd(self->a);
	pa.flags = GCA_SET_DEBUG;
	pa.debug = GCA_DEBUG_CHECKMARK;
	ASSERT_EQ(0, ioctl_err(fd, GCA_IOC_SET_PARAMS, &pa));
	ASSERT_EQ(0, build_bypass(self->a, &b));
	/* holders are reachable only from the roots object: pin them */
	ASSERT_EQ(0, gca_add_roots(self->a, b.holders,
				   BB_SLOTS * sizeof(*b.holders)));
	ASSERT_EQ(0, raw_stats(fd, &st0));
	lines0 = klog_count("checkmark");

	ASSERT_NE(NULL, w);
	w->a = self->a;
	ASSERT_EQ(0, pthread_create(&th[0], NULL, bypass_main, &b));
	ASSERT_EQ(0, pthread_create(&th[1], NULL, collector_main, w));
	end = now_ns() + 8 * 1000000000ULL;
	while (now_ns() < end) {
		gca_poll(self->a);
		sleep_ms(50);
	}
	b.stop = 1;
	w->stop = 1;
	ASSERT_EQ(0, pthread_join(th[0], NULL));
	ASSERT_EQ(0, pthread_join(th[1], NULL));

	ASSERT_EQ(0, raw_stats(fd, &st1));
	lines1 = klog_count("checkmark");
	TH_LOG("%llu pointer moves without the barrier; %llu cycles, %llu checked, %llu missed objects found; %u kernel log lines",
	       (unsigned long long)b.moves, (unsigned long long)w->collects,
	       (unsigned long long)(st1.checkmark_cycles - st0.checkmark_cycles),
	       (unsigned long long)(st1.checkmark_failures -
				    st0.checkmark_failures),
	       lines1 - lines0);
	EXPECT_EQ(0U, w->collect_err) TH_LOG("gca_collect: %s", strerror(w->collect_errno));
	EXPECT_LE(3ULL, w->collects);
	EXPECT_LE(st0.checkmark_cycles + 3, st1.checkmark_cycles);
	/* Rate-limited: a few lines, not some per cycle forever. */
	EXPECT_GE(40U, lines1 - lines0)
		TH_LOG("checkmark reports of one process's barrier misses flood the kernel log");
	EXPECT_EQ(0, gca_remove_roots(self->a, b.holders));
	free(b.holders);
	free(w);
	check_invariants(_metadata, self->a);
}

/*
 * The per-heap caps bound what one arena logs, not what a process that
 * opens arena after arena does: checkmark's lines are rate-limited per
 * user (and per module).  Each arena of a child running as another user
 * hides FLOOD_HIDDEN objects from the concurrent mark: between cycles
 * their only pointers are outside the roots; once a cycle has scanned
 * the root ranges, a registered thread stores the pointers into one with
 * plain stores (no barrier) before it answers the next handshake, so the
 * cycle cannot end before they are there, and only checkmark's re-mark
 * finds them.  Without a preempt signal nothing answers for the thread:
 * the order holds however the threads are scheduled.  Every such arena
 * logs its misses (16 lines of detail and a line per cycle, without a
 * limit); the kernel log must get at most the user's budget per
 * interval.  A second user's misses are still logged afterwards: one
 * user's flood does not silence the others.
 */
#define FLOOD_ARENAS	12
#define FLOOD_HIDDEN	24	/* more than the 16 lines of detail */
#define FLOOD_CYCLES	2
#define FLOOD_UID	1000	/* the flooder */
#define FLOOD_UID2	1001	/* another user, in another budget */
/* kmod/gcarena_private.h: GCA_LOG_USER_BURST lines per GCA_LOG_USER_INTERVAL */
#define LOG_USER_BURST	20
#define LOG_USER_SECS	60

struct hider {
	struct gca_arena *a;
	const struct gca_ctrl *ctrl;
	void **slots;			/* a root range */
	void *hidden[FLOOD_HIDDEN];	/* malloc: not scanned */
	unsigned int n;
	int started, err;
	volatile int stop;
};

/* Plain stores, out of line: the pointers do not stay in its frame. */
static noinline void hider_fill(struct hider *h, bool fill)
{
	void *volatile *slots = (void *volatile *)h->slots;
	unsigned int i;

	for (i = 0; i < h->n; i++)
		slots[i] = fill ? h->hidden[i] : NULL;
}

/*
 * Registered, at its safepoints only.  Between cycles the slots are
 * empty; from a cycle's third handshake on (the second, SCAN, ended only
 * once the root ranges were scanned) they hold the pointers, stored
 * before this thread answers it.
 */
static void *hider_main(void *arg)
{
	struct hider *h = arg;
	uint64_t base = 0, seq;
	bool off_seen = false;
	uint32_t ph;

	h->err = gca_register_thread(h->a);
	__atomic_store_n(&h->started, 1, __ATOMIC_RELEASE);
	while (!h->err && !h->stop) {
		/* hs_seq first: the kernel writes the phase before it */
		seq = __atomic_load_n(&h->ctrl->hs_seq, __ATOMIC_ACQUIRE);
		ph = __atomic_load_n(&h->ctrl->phase, __ATOMIC_ACQUIRE);
		/*
		 * Between cycles; SWEEP too: back-to-back cycles may go
		 * from one's sweep to the next one's mark between two looks.
		 */
		if (ph == GCA_PHASE_OFF || ph == GCA_PHASE_SWEEP) {
			base = seq;
			off_seen = true;
			hider_fill(h, false);
		} else if (off_seen && seq >= base + 3 &&
			   ph == GCA_PHASE_MARK) {
			hider_fill(h, true);
		}
		gca_poll(h->a);
	}
	gca_unregister_thread(h->a);
	return NULL;
}

/* Large objects: no thread caches their spans (cached slots are shaded). */
__test_helper int hide_objects(struct gca_arena *a, struct hider *h)
{
	unsigned int i;

	for (i = 0; i < h->n; i++) {
		h->hidden[i] = gca_alloc(a, 40000);
		if (!h->hidden[i])
			return -1;
	}
	return 0;
}

struct flood_report {
	int err;		/* the step that failed, 0 if none */
	unsigned int missed;	/* arenas whose checkmark found misses */
	uint64_t failures;	/* objects missed, all arenas */
	int last_id;		/* the last arena's id */
};

/* One arena with checkmark on and nhidden objects hidden: its misses. */
static int flood_one(struct flood_report *r, unsigned int nhidden)
{
	struct gca_params pr = { .heap_size = 64 * SZ_1M, .gc_percent = -1,
				 .flags = GCA_PARAM_GC_PERCENT,
				 .preempt_signal = -1 };
	struct hider *h = calloc(1, sizeof(*h));
	struct gca_memstats ms;
	struct gca_arena *a;
	pthread_t th;
	int i, ret;

	if (!h || gca_open(&a, &pr))
		return 1;
	r->last_id = gca_arena_id(a);
	h->n = nhidden;
	h->a = a;
	h->ctrl = gca_ctrl(a);
	h->slots = calloc(FLOOD_HIDDEN, sizeof(void *));
	if (!h->slots || gca_set_debug(a, GCA_DEBUG_CHECKMARK) < 0 ||
	    gca_add_roots(a, h->slots, FLOOD_HIDDEN * sizeof(void *)) ||
	    hide_objects(a, h))
		return 2;
	clear_stack();
	if (pthread_create(&th, NULL, hider_main, h))
		return 3;
	while (!__atomic_load_n(&h->started, __ATOMIC_ACQUIRE))
		sleep_ms(1);
	for (i = 0, ret = h->err; i < FLOOD_CYCLES && !ret; i++)
		ret = gca_collect(a);
	h->stop = 1;
	pthread_join(th, NULL);
	if (ret || gca_read_memstats(a, &ms))
		return 4;
	r->missed += ms.checkmark_failures > 0;
	r->failures += ms.checkmark_failures;
	gca_close(a);
	free(h->slots);
	free(h);
	return 0;
}

/* A child running as uid floods that many arenas, nhidden objects each. */
/*
 * With until_miss, it stops at the first arena with misses: an arena's
 * hider may miss the flush rounds of all its cycles (1 in 12 was seen),
 * and that arena is the one whose log lines are then looked for.
 */
static int flood_as(uid_t uid, unsigned int arenas, unsigned int nhidden,
		    bool until_miss, struct flood_report *out)
{
	struct flood_report *r;
	unsigned int i;
	int status;
	pid_t pid;

	r = mmap(NULL, sizeof(*r), PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (r == MAP_FAILED)
		return -1;
	memset(r, 0, sizeof(*r));
	pid = fork();
	if (pid < 0)
		return -1;
	if (!pid) {
		if (setgroups(0, NULL) || setgid(uid) || setuid(uid))
			_exit(10);
		for (i = 0; i < arenas && !r->err; i++) {
			r->err = flood_one(r, nhidden);
			if (until_miss && r->missed)
				break;
		}
		_exit(0);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status))
		r->err = 20;
	*out = *r;
	munmap(r, sizeof(*r));
	return 0;
}

/* Lines of the kernel log naming arena id's checkmark cycles. */
static unsigned int klog_arena_cycles(int id)
{
	char what[64];

	snprintf(what, sizeof(what), "arena %d: checkmark: cycle", id);
	return klog_count(what);
}

TEST_F_TIMEOUT(heap, checkmark_log_many_arenas, 600)
{
	struct flood_report r, r2;
	unsigned int lines0, lines, bound;
	uint64_t t0, secs;

	lines0 = klog_count("checkmark");
	t0 = now_ns();
	ASSERT_EQ(0, flood_as(FLOOD_UID, FLOOD_ARENAS, FLOOD_HIDDEN, false,
			      &r));
	secs = (now_ns() - t0) / 1000000000ULL;
	lines = klog_count("checkmark") - lines0;
	TH_LOG("uid %d: %u arenas, %u with misses (%llu objects), %u kernel log lines in %llu s",
	       FLOOD_UID, FLOOD_ARENAS, r.missed,
	       (unsigned long long)r.failures, lines,
	       (unsigned long long)secs);
	ASSERT_EQ(0, r.err);
	/* else nothing was provoked: the test would prove nothing */
	ASSERT_LE(FLOOD_ARENAS / 2U, r.missed);
	/* the user's budget per interval begun, and its "suppressed" line */
	bound = (LOG_USER_BURST + 1) * (1 + secs / LOG_USER_SECS);
	EXPECT_GE(bound, lines)
		TH_LOG("one user's arenas logged %u checkmark lines, budget %u",
		       lines, bound);

	/* Another user's misses still get to the log. */
	ASSERT_EQ(0, flood_as(FLOOD_UID2, 4, 4, true, &r2));
	ASSERT_EQ(0, r2.err);
	ASSERT_LT(0ULL, r2.failures);
	EXPECT_LE(1U, klog_arena_cycles(r2.last_id))
		TH_LOG("uid %d's checkmark report was silenced by uid %d's",
		       FLOOD_UID2, FLOOD_UID);
}
#endif

/*
 * Checkmark takes data for a pointer in an object filled during the
 * mark: the deterministic form of the miss issue #10 saw once in
 * gca_torture threads_8 ("object ... (size 14336, spanclass 116) missed,
 * found in marked object ... (size 192, spanclass 28, cached 0)": no
 * pointer of that program joins a 192-byte object to a 14336-byte one).
 * Marking is conservative, and data needs no barrier (gcarena.h,
 * "Stores"): an object allocated during the mark is black and never
 * scanned by the concurrent mark, so a data word written into it that
 * happens to hold the address of a dead object is seen only by
 * checkmark's re-mark, which counts that object as missed.  Nothing is
 * lost: it is garbage, freed or not.  In gca_torture the likely word was
 * the last, partial one of an object whose size is 6 mod 8: six random
 * payload bytes and two zero ones, a 48-bit value shaped like a user
 * address (gca_torture.c, no_heap_word()).
 *
 * Here the word is written on purpose, by the only thread that answers:
 * no preempt signal, so this thread answers every round itself, from a
 * loop on the control page, and knows the round (the first with phase
 * MARK is the barrier's, the second the scan's).  At the scan round it
 * allocates a 192-byte object, its first of that class, which answers
 * the round first (its stack is scanned before the word exists) and then
 * refills during the mark (black); it writes the dead object's address
 * into it as data and hangs it from a root range with the barrier.
 */
#define DW_HIDE		0x5a5a5a5a5a5a5a5aULL

static uintptr_t dw_dead;		/* the dead object ^ DW_HIDE */
static void *dw_root[1];		/* a root range */

/* In a thread of its own: no stack or register of ours sees the object. */
static void *dw_make_dead(void *arg)
{
	void *g = gca_alloc(arg, 14336);

	dw_dead = g ? (uintptr_t)g ^ DW_HIDE : 0;
	return NULL;
}

static void *dw_collect(void *arg)
{
	return (void *)(intptr_t)gca_collect(arg);
}

static noinline int dw_plant(struct gca_arena *a)
{
	volatile uint64_t *p = gca_alloc(a, 192);

	if (!p)
		return -1;
	p[20] = dw_dead ^ DW_HIDE;	/* data: a plain store */
	gca_store(a, &dw_root[0], (void *)p);
	return 0;
}

TEST_F_TIMEOUT(heap, checkmark_counts_a_data_word, 120)
{
	struct gca_params prm = {
		.flags = GCA_PARAM_GC_PERCENT,
		.gc_percent = -1,
		.preempt_signal = -1,	/* the loop answers, nobody else */
		.heap_size = 64 * SZ_1M,
	};
	struct gca_memstats m0, m1;
	const struct gca_ctrl *ctrl;
	unsigned int mark_rounds = 0;
	uint64_t last, ng;
	pthread_t th;
	void *ret;
	int err = 0;

	ASSERT_EQ(0, gca_open(&self->a, &prm));
	ASSERT_LE(0, gca_set_debug(self->a, GCA_DEBUG_CHECKMARK));
	ASSERT_EQ(0, gca_add_roots(self->a, dw_root, sizeof(dw_root)));
	ASSERT_EQ(0, pthread_create(&th, NULL, dw_make_dead, self->a));
	ASSERT_EQ(0, pthread_join(th, NULL));
	ASSERT_NE(0ULL, (unsigned long long)dw_dead);
	ASSERT_EQ(0, gca_read_memstats(self->a, &m0));

	ctrl = gca_ctrl(self->a);
	last = __atomic_load_n(&ctrl->hs_seq, __ATOMIC_ACQUIRE);
	ng = gca_num_gc(self->a);
	ASSERT_EQ(0, pthread_create(&th, NULL, dw_collect, self->a));
	while (gca_num_gc(self->a) == ng) {
		uint64_t seq = __atomic_load_n(&ctrl->hs_seq, __ATOMIC_ACQUIRE);

		if (seq == last) {
			sched_yield();
			continue;
		}
		if (__atomic_load_n(&ctrl->phase, __ATOMIC_ACQUIRE) ==
		    GCA_PHASE_MARK && ++mark_rounds == 2)
			err = dw_plant(self->a);
		clear_stack();
		gca_poll(self->a);
		last = seq;
	}
	ASSERT_EQ(0, pthread_join(th, &ret));
	ASSERT_EQ(NULL, ret);
	ASSERT_EQ(0, err);
	ASSERT_EQ(0, gca_read_memstats(self->a, &m1));
	TH_LOG("%u rounds with phase MARK; checkmark: %llu cycles, %llu missed",
	       mark_rounds,
	       (unsigned long long)(m1.checkmark_cycles - m0.checkmark_cycles),
	       (unsigned long long)(m1.checkmark_failures -
				    m0.checkmark_failures));
	/*
	 * The plant ran, at the scan round: the barrier's round and the
	 * scan's are each seen, as this loop answers the first.  Later
	 * ones may go unseen (the plant's refill answers the scan round,
	 * then gca_poll() the flush round before the loop looks again), so
	 * the count is of sightings, not of rounds.
	 */
	ASSERT_LE(2U, mark_rounds);
	EXPECT_EQ(m0.checkmark_cycles + 1, m1.checkmark_cycles);
	/*
	 * The dead object, "found in marked object" (the kernel log, unless
	 * the module's budget was spent by the test before).
	 */
	EXPECT_EQ(m0.checkmark_failures + 1, m1.checkmark_failures);
}

/*
 * A stale word in dead stack is not a miss.  The thread leaves a dead
 * object's address in a frame SS_DEPTH below its loop and returns (dead
 * stack: deeper than the library clears below a handshake, 16 KiB),
 * answers the barrier, scan and flush rounds from the loop, above that
 * word, and answers mark termination from a frame deep enough to cover
 * it, uninitialised.  Checkmark's re-scan at termination reads the
 * stack from where the thread is held, stale word included: unless the
 * mark saw those words too, the dead object counts as missed.
 */
#define SS_DEPTH	(48 * 1024)

static noinline void ss_leave_stale(void)
{
	volatile uint64_t buf[SS_DEPTH / sizeof(uint64_t)];

	buf[0] = dw_dead ^ DW_HIDE;	/* the frame's lowest word */
	__asm__ __volatile__("" : : "r"(buf) : "memory");
}

static noinline void ss_answer_deep(struct gca_arena *a)
{
	volatile char pad[SS_DEPTH + 16 * 1024];

	__asm__ __volatile__("" : : "r"(pad) : "memory");
	gca_poll(a);
}

TEST_F_TIMEOUT(heap, stale_stack_word_not_a_miss, 120)
{
	struct gca_params prm = {
		.flags = GCA_PARAM_GC_PERCENT,
		.gc_percent = -1,
		.preempt_signal = -1,	/* the loop answers, nobody else */
		.heap_size = 64 * SZ_1M,
	};
	struct gca_memstats m0, m1;
	const struct gca_ctrl *ctrl;
	unsigned int deep = 0;
	uint64_t last, ng;
	pthread_t th;
	void *ret;

	ASSERT_EQ(0, gca_open(&self->a, &prm));
	ASSERT_LE(0, gca_set_debug(self->a, GCA_DEBUG_CHECKMARK));
	ASSERT_EQ(0, pthread_create(&th, NULL, dw_make_dead, self->a));
	ASSERT_EQ(0, pthread_join(th, NULL));
	ASSERT_NE(0ULL, (unsigned long long)dw_dead);
	ASSERT_EQ(0, gca_read_memstats(self->a, &m0));

	ctrl = gca_ctrl(self->a);
	last = __atomic_load_n(&ctrl->hs_seq, __ATOMIC_ACQUIRE);
	ng = gca_num_gc(self->a);
	ss_leave_stale();
	ASSERT_EQ(0, pthread_create(&th, NULL, dw_collect, self->a));
	while (gca_num_gc(self->a) == ng) {
		uint64_t seq = __atomic_load_n(&ctrl->hs_seq, __ATOMIC_ACQUIRE);

		if (seq == last) {
			sched_yield();
			continue;
		}
		if (__atomic_load_n(&ctrl->phase, __ATOMIC_ACQUIRE) ==
		    GCA_PHASE_MARK_TERM) {
			ss_answer_deep(self->a);
			deep++;
		} else {
			gca_poll(self->a);
		}
		last = seq;
	}
	ASSERT_EQ(0, pthread_join(th, &ret));
	ASSERT_EQ(NULL, ret);
	ASSERT_EQ(0, gca_read_memstats(self->a, &m1));
	TH_LOG("%u terminations answered deep; checkmark: %llu cycles, %llu missed",
	       deep,
	       (unsigned long long)(m1.checkmark_cycles - m0.checkmark_cycles),
	       (unsigned long long)(m1.checkmark_failures -
				    m0.checkmark_failures));
	ASSERT_LE(1U, deep);
	EXPECT_EQ(m0.checkmark_cycles + 1, m1.checkmark_cycles);
	EXPECT_EQ(m0.checkmark_failures, m1.checkmark_failures);
}

/* Last: the module is still fully working. */
TEST_F_TIMEOUT(heap, still_working, 120)
{
	struct gca_memstats ms;
	struct node *l;

	ASSERT_EQ(0, open_arena(&self->a, 16 * SZ_1M, 100));
	l = build_list(self->a, 5000, 1, SALT_LIST);
	ASSERT_NE(NULL, l);
	ASSERT_EQ(0, churn(self->a, 100, 20000, 0));
	clear_stack();
	ASSERT_EQ(0, gca_collect(self->a));
	ASSERT_EQ(0, gca_collect(self->a));
	EXPECT_EQ(5000ULL, check_list(l, 1, SALT_LIST));
	ASSERT_EQ(0, gca_read_memstats(self->a, &ms));
	EXPECT_LT(0ULL, ms.frees);
	check_invariants(_metadata, self->a);
}

TEST_HARNESS_MAIN
