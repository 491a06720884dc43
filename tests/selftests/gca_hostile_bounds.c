// SPDX-License-Identifier: GPL-2.0
/*
 * Hostile process, area 6: work that would make one hold of the arena's
 * lock, or one pause, as long as the heap is big.  Judged by structure
 * (the counters of /proc/gcarena/<id>: mark_term_retries, mark_slice_max),
 * never by time.
 *
 * Tests:
 *   bounds.term_reveals_a_list     a 20000-node list, reachable only
 *                                  through a pointer stored just before
 *                                  the thread answers mark termination:
 *                                  termination sends the threads back to
 *                                  concurrent marking (a retry) instead of
 *                                  draining it held; no hold marks more
 *                                  than a slice; the list survives
 *   bounds.term_reveals_every_time a new list at every termination: the
 *                                  retries stop at their bound, the cycle
 *                                  ends, holds stay a slice, all survive
 *   huge.fails_clean               a large object of nearly the whole
 *                                  32 GiB heap (64 MiB less), in a 128 MiB
 *                                  memory cgroup: ENOMEM, and heap_sys,
 *                                  heap_inuse, heap_released and the
 *                                  cgroup's usage are back to before; the
 *                                  arena works on
 *   huge.killed_while_backing      the same without a limit, SIGKILLed
 *                                  once 64 MiB are charged: it dies
 *                                  before its usage reaches 1 GiB (not
 *                                  after backing the VM's whole memory),
 *                                  the cgroup empties, a new arena works
 */
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "gca_test.h"

/* kmod/gcarena_private.h: GCA_MARK_TERM_RETRIES */
#define MARK_TERM_RETRIES	8
/*
 * The most marking work one hold may do: a slice (GCA_DRAIN_BUDGET,
 * 4 KiB) plus one gray entry (an oblet, 32 KiB), rounded up; far below
 * a list (LIST_NODES * 48 bytes, about 1 MiB).
 */
#define SLICE_BOUND		(64 * SZ_1K)

#define LIST_NODES		20000
#define MAX_LISTS		(MARK_TERM_RETRIES + 1)
#define HIDE			0x5a5a5a5a5a5a5a5aULL

struct lnode {
	struct lnode *next;
	uint64_t id, check;
	uint64_t pad[3];	/* 48 bytes: a class nothing else here uses */
};

/* Lists reachable from nothing the collector scans: HIDE-xored. */
static uint64_t hidden[MAX_LISTS];

struct build_arg {
	struct gca_arena *a;
	unsigned int nlists;
	int err;
};

/*
 * In a thread of its own, so that no stack or register of a thread that
 * stays keeps a node alive; it unregisters as it returns (its cached
 * spans go back, so they are no roots either).
 */
static void *build_lists(void *p)
{
	struct build_arg *b = p;
	unsigned int l, i;

	for (l = 0; l < b->nlists; l++) {
		struct lnode *head = NULL, *n;

		for (i = 0; i < LIST_NODES; i++) {
			n = gca_alloc(b->a, sizeof(*n));
			if (!n) {
				b->err = errno;
				return NULL;
			}
			n->id = i;
			n->check = node_check(i, l);
			gca_store(b->a, (void **)&n->next, head);
			head = n;
		}
		hidden[l] = (uint64_t)(uintptr_t)head ^ HIDE;
	}
	return NULL;
}

static void *collect_thread(void *p)
{
	struct gca_arena *a = p;
	intptr_t ret = gca_collect(a);

	return (void *)ret;
}

/* Nodes of list l reachable from head, each checked. */
static unsigned int lcheck(const struct lnode *n, unsigned int l)
{
	unsigned int got = 0;

	for (; n; n = n->next, got++)
		if (n->id != LIST_NODES - 1 - got ||
		    n->check != node_check(n->id, l))
			break;
	return got;
}

/*
 * Run one cycle (gca_collect() in another thread) while this thread
 * answers every handshake itself, from a loop that reads the control
 * page: at each of the first nreveal mark terminations, before it
 * answers, it stores the next hidden list into roots[] (the store goes
 * into its barrier buffer, which the answer hands over).  The arena has
 * no preempt signal, so no handler answers behind the loop's back, and a
 * round cannot pass without this thread's answer: the phase read for a
 * new hs_seq is that round's.
 */
static int cycle_revealing(struct gca_arena *a, void **roots,
			   unsigned int nreveal)
{
	const struct gca_ctrl *ctrl = gca_ctrl(a);
	uint64_t last = __atomic_load_n(&ctrl->hs_seq, __ATOMIC_ACQUIRE);
	uint64_t ng = gca_num_gc(a);
	unsigned int revealed = 0;
	pthread_t th;
	void *ret;

	if (pthread_create(&th, NULL, collect_thread, a))
		return -1;
	while (gca_num_gc(a) == ng) {
		uint64_t seq = __atomic_load_n(&ctrl->hs_seq, __ATOMIC_ACQUIRE);

		if (seq == last) {
			sched_yield();
			continue;
		}
		if (__atomic_load_n(&ctrl->phase, __ATOMIC_ACQUIRE) ==
		    GCA_PHASE_MARK_TERM && revealed < nreveal) {
			gca_store(a, &roots[revealed],
				  (void *)(uintptr_t)(hidden[revealed] ^ HIDE));
			revealed++;
		}
		gca_poll(a);
		last = seq;
	}
	pthread_join(th, &ret);
	return ret ? -1 : (int)revealed;
}

static int open_bounds_arena(struct gca_arena **a)
{
	struct gca_params p = {
		.flags = GCA_PARAM_GC_PERCENT,
		.gc_percent = -1,	/* cycles only when asked */
		.preempt_signal = -1,	/* the loop answers, nobody else */
		.heap_size = 256 * SZ_1M,
	};

	return gca_open(a, &p);
}

GCA_EMPTY_FIXTURE(huge);

FIXTURE(bounds) {
	struct gca_arena *a;
	void **roots;
};

FIXTURE_SETUP(bounds)
{
	struct build_arg b = { 0 };
	pthread_t th;

	ASSERT_EQ(0, open_bounds_arena(&self->a));
	/* a 64-byte root object: not the lists' size class */
	self->roots = gca_alloc(self->a, MAX_LISTS * sizeof(void *));
	ASSERT_NE(NULL, self->roots);
	b.a = self->a;
	b.nlists = MAX_LISTS;
	ASSERT_EQ(0, pthread_create(&th, NULL, build_lists, &b));
	ASSERT_EQ(0, pthread_join(th, NULL));
	ASSERT_EQ(0, b.err);
}

FIXTURE_TEARDOWN(bounds)
{
	gca_close(self->a);
}

static void expect_lists(struct __test_metadata *_metadata, void **roots,
			 unsigned int n)
{
	unsigned int l;

	for (l = 0; l < n; l++)
		EXPECT_EQ((unsigned int)LIST_NODES, lcheck(roots[l], l))
			TH_LOG("list %u", l);
}

TEST_F_TIMEOUT(bounds, term_reveals_a_list, 300)
{
	struct gca_memstats m0, m1;

	ASSERT_EQ(0, gca_read_memstats(self->a, &m0));
	ASSERT_EQ(1, cycle_revealing(self->a, self->roots, 1));
	ASSERT_EQ(0, gca_read_memstats(self->a, &m1));
	TH_LOG("mark_term_retries %llu, mark_slice_max %llu, heap_marked %llu",
	       (unsigned long long)m1.mark_term_retries,
	       (unsigned long long)m1.mark_slice_max,
	       (unsigned long long)m1.heap_marked);
	/* termination found the list and let the threads go on */
	EXPECT_EQ(m0.mark_term_retries + 1, m1.mark_term_retries);
	EXPECT_LT(0ULL, m1.mark_slice_max);
	EXPECT_GE(SLICE_BOUND, m1.mark_slice_max);
	/* the list was marked in this cycle, and survived it */
	EXPECT_LE((uint64_t)LIST_NODES * sizeof(struct lnode), m1.heap_marked);
	expect_lists(_metadata, self->roots, 1);
	/* the next cycle finds it from the roots, nothing at termination */
	ASSERT_EQ(0, gca_collect(self->a));
	ASSERT_EQ(0, gca_read_memstats(self->a, &m0));
	EXPECT_EQ(m1.mark_term_retries, m0.mark_term_retries);
	expect_lists(_metadata, self->roots, 1);
}

TEST_F_TIMEOUT(bounds, term_reveals_every_time, 300)
{
	struct gca_memstats m0, m1;

	ASSERT_EQ(0, gca_read_memstats(self->a, &m0));
	/* one list at each termination: MARK_TERM_RETRIES + 1 of them */
	ASSERT_EQ((int)MAX_LISTS, cycle_revealing(self->a, self->roots,
					      MAX_LISTS));
	ASSERT_EQ(0, gca_read_memstats(self->a, &m1));
	TH_LOG("mark_term_retries %llu, mark_slice_max %llu",
	       (unsigned long long)m1.mark_term_retries,
	       (unsigned long long)m1.mark_slice_max);
	EXPECT_EQ(m0.mark_term_retries + MARK_TERM_RETRIES,
		  m1.mark_term_retries);
	/* the last one drained with the threads held, still in slices */
	EXPECT_LT(0ULL, m1.mark_slice_max);
	EXPECT_GE(SLICE_BOUND, m1.mark_slice_max);
	EXPECT_EQ(m0.num_gc + 1, m1.num_gc);
	expect_lists(_metadata, self->roots, MAX_LISTS);
	ASSERT_EQ(0, gca_collect(self->a));
	expect_lists(_metadata, self->roots, MAX_LISTS);
}

/* ------------------------------------------------------------------ */
/* Huge large objects: backed a piece per lock hold, killable, nothing  */
/* kept on failure.                                                     */

#define HUGE_HEAP	(32ULL << 30)
#define HUGE_BYTES	(HUGE_HEAP - SZ_64M)

/* A fresh memory cgroup (dir), or a reason to skip. */
static const char *cg_make(char *dir, size_t n, const char *name,
			   const char *max)
{
	const char *why = memcg_enable();

	if (why)
		return why;
	snprintf(dir, n, CG_ROOT "/gca_%s_%d", name, getpid());
	if (mkdir(dir, 0755) || cg_write(dir, "memory.max", max))
		return "cannot make a memory cgroup";
	cg_write(dir, "memory.swap.max", "0");
	return NULL;
}

static void cg_join(const char *dir)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%d", getpid());
	cg_write(dir, "cgroup.procs", buf);
}

/* Once the processes in it are reaped, the cgroup empties and goes. */
static bool cg_remove(const char *dir)
{
	for (int i = 0; i < 200; i++) {
		if (!rmdir(dir))
			return true;
		sleep_ms(50);
	}
	return false;
}

static int open_huge(struct gca_arena **a)
{
	struct gca_params p = {
		.flags = GCA_PARAM_GC_PERCENT,
		.gc_percent = -1,
		.heap_size = HUGE_HEAP,
	};

	return gca_open(a, &p);
}

/* Does the arena still allocate, collect and keep its invariants? */
static int arena_works(struct gca_arena *a)
{
	struct gca_memstats ms;
	void **keep;
	int i;

	keep = gca_alloc(a, SZ_1M);
	if (!keep)
		return 1;
	for (i = 0; i < 1000; i++) {
		void *p = gca_alloc(a, 64);

		if (!p)
			return 2;
		gca_store(a, &keep[i], p);
	}
	if (gca_collect(a) || gca_read_memstats(a, &ms))
		return 3;
	if (ms.mallocs - ms.frees != ms.heap_objects ||
	    ms.heap_alloc > ms.heap_inuse || ms.heap_inuse > ms.heap_sys ||
	    ms.heap_objects < 1001)
		return 4;
	return 0;
}

/* In the child, in a 128 MiB cgroup: one huge object, then more. */
__test_helper int huge_child(const char *dir)
{
	struct gca_memstats m0, m1;
	struct gca_arena *a;
	int64_t cur0, cur1;
	void *p;

	cg_join(dir);
	if (open_huge(&a))
		return 10;
	if (arena_works(a))
		return 11;
	if (gca_read_memstats(a, &m0))
		return 12;
	cur0 = cg_read(dir, "memory.current");
	p = gca_alloc(a, HUGE_BYTES);
	if (p)
		return 13;		/* 32 GiB in 128 MiB? */
	if (errno != ENOMEM)
		return 14;
	if (gca_read_memstats(a, &m1))
		return 15;
	cur1 = cg_read(dir, "memory.current");
	fprintf(stderr, "# heap_sys %llu -> %llu, heap_inuse %llu -> %llu, heap_released %llu -> %llu, memory.current %lld -> %lld (peak %lld)\n",
		(unsigned long long)m0.heap_sys, (unsigned long long)m1.heap_sys,
		(unsigned long long)m0.heap_inuse,
		(unsigned long long)m1.heap_inuse,
		(unsigned long long)m0.heap_released,
		(unsigned long long)m1.heap_released,
		(long long)cur0, (long long)cur1,
		(long long)cg_read(dir, "memory.peak"));
	/* nothing kept: not the heap's growth, not a page */
	if (m1.heap_sys != m0.heap_sys)
		return 16;
	if (m1.heap_inuse != m0.heap_inuse ||
	    m1.heap_objects != m0.heap_objects)
		return 17;
	if (m1.heap_released != m0.heap_released)
		return 18;
	if (cur0 < 0 || cur1 > cur0 + (int64_t)(8 * SZ_1M))
		return 19;
	if (arena_works(a))
		return 20;
	gca_close(a);
	return 0;
}

TEST_F_TIMEOUT(huge, fails_clean, 300)
{
	char dir[128];
	const char *why;
	int status;
	pid_t pid;

	why = cg_make(dir, sizeof(dir), "huge", "134217728");
	if (why)
		SKIP(return, "%s", why);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0)
		_exit(huge_child(dir));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status))
		TH_LOG("the child died of signal %d (OOM?)",
		       WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	if (WIFEXITED(status))
		EXPECT_EQ(0, WEXITSTATUS(status))
			TH_LOG("child failed at step %d", WEXITSTATUS(status));
	EXPECT_TRUE(cg_remove(dir));
}

__test_helper int killed_child(const char *dir, int wfd)
{
	struct gca_arena *a;

	cg_join(dir);
	if (open_huge(&a))
		return 10;
	if (write(wfd, "g", 1) != 1)
		return 11;
	/* backs the VM's whole memory, unless the kill stops it */
	gca_alloc(a, HUGE_BYTES);
	return 12;
}

TEST_F_TIMEOUT(huge, killed_while_backing, 300)
{
	int64_t cur = 0, peak;
	struct gca_arena *a;
	char dir[128], c;
	const char *why;
	int status, pfd[2];
	pid_t pid;

	why = cg_make(dir, sizeof(dir), "kill", "max");
	if (why)
		SKIP(return, "%s", why);
	ASSERT_EQ(0, pipe(pfd));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		close(pfd[0]);
		_exit(killed_child(dir, pfd[1]));
	}
	close(pfd[1]);
	ASSERT_EQ(1, read(pfd[0], &c, 1));
	close(pfd[0]);
	/* 32 MiB of span table, then pages: the allocation is under way */
	for (int i = 0; i < 60000; i++) {
		cur = cg_read(dir, "memory.current");
		if (cur > (int64_t)(64 * SZ_1M) ||
		    waitpid(pid, &status, WNOHANG) == pid)
			break;
		sleep_ms(1);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	peak = cg_read(dir, "memory.peak");
	TH_LOG("killed at memory.current %lld, memory.peak %lld",
	       (long long)cur, (long long)peak);
	EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	EXPECT_LT((int64_t)(64 * SZ_1M), cur);
	if (peak >= 0)
		EXPECT_GT((int64_t)SZ_1M * 1024, peak);
	EXPECT_TRUE(cg_remove(dir));
	/* the kernel is fine: a new arena works */
	ASSERT_EQ(0, open_huge(&a));
	EXPECT_EQ(0, arena_works(a));
	gca_close(a);
}

TEST_HARNESS_MAIN
