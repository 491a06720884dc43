// SPDX-License-Identifier: GPL-2.0
/*
 * gcarena with threads: several threads allocating and verifying private
 * structures while cycles run (started by the pacer and by gca_collect()
 * from one of them); threads that never reach a safepoint, blocked in
 * read() or pthread_join() or spinning, are reached by the preempt signal
 * and do not stall a collection; thread exit unregisters; a pointer handed
 * to a new thread survives once that thread holds it; a cycle ends while
 * a program's only thread is parked.
 *
 * Worker threads report through their structs: the harness's ASSERT_*
 * must not run outside the test's own thread.
 */
#include <pthread.h>
#include <signal.h>

#include "gca_test.h"

FIXTURE(threads) {
	struct gca_arena *a;
};

FIXTURE_SETUP(threads)
{
	ASSERT_EQ(0, open_arena(&self->a, 256 * SZ_1M, 100));
}

FIXTURE_TEARDOWN(threads)
{
	gca_close(self->a);
}

/* ------------------------------------------------------------------ */

#define NWORKERS	4
#define NKEEP		8

struct worker {
	struct gca_arena *a;
	unsigned int idx;
	unsigned int rounds;
	bool collector;
	unsigned int collects;
	unsigned int errors;
	char msg[160];
};

static uint64_t worker_salt(unsigned int idx, unsigned int round)
{
	return (uint64_t)idx << 32 | round;
}

static void worker_fail(struct worker *w, const char *what, unsigned int r)
{
	if (!w->errors++)
		snprintf(w->msg, sizeof(w->msg), "worker %u round %u: %s",
			 w->idx, r, what);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct node *keep[NKEEP] = { NULL };
	unsigned int keep_round[NKEEP] = { 0 };
	unsigned int r, k;
	struct node *l;

	for (r = 0; r < w->rounds; r++) {
		l = build_list(w->a, 3000, 1, worker_salt(w->idx, r));
		if (!l) {
			worker_fail(w, "allocation failed", r);
			break;
		}
		if (check_list(l, 1, worker_salt(w->idx, r)) != 3000)
			worker_fail(w, "fresh list broken", r);
		keep[r % NKEEP] = l;
		keep_round[r % NKEEP] = r;
		for (k = 0; k < NKEEP && k <= r; k++)
			if (check_list(keep[k], 1,
				       worker_salt(w->idx, keep_round[k])) !=
			    3000)
				worker_fail(w, "kept list broken", r);
		if (churn(w->a, 200, 500, 0))
			worker_fail(w, "garbage allocation failed", r);
		if (w->collector && r % 10 == 9) {
			if (gca_collect(w->a))
				worker_fail(w, "gca_collect failed", r);
			w->collects++;
		}
	}
	return NULL;
}

TEST_F_TIMEOUT(threads, four_workers, 180)
{
	struct worker w[NWORKERS];
	pthread_t th[NWORKERS];
	struct gca_memstats m0, m1;
	unsigned int i;

	ASSERT_EQ(0, gca_read_memstats(self->a, &m0));
	for (i = 0; i < NWORKERS; i++) {
		memset(&w[i], 0, sizeof(w[i]));
		w[i].a = self->a;
		w[i].idx = i;
		w[i].rounds = 60;
		w[i].collector = i == 0;
		ASSERT_EQ(0, pthread_create(&th[i], NULL, worker_main, &w[i]));
	}
	for (i = 0; i < NWORKERS; i++) {
		ASSERT_EQ(0, pthread_join(th[i], NULL));
		EXPECT_EQ(0U, w[i].errors) TH_LOG("%s", w[i].msg);
	}
	ASSERT_EQ(0, gca_read_memstats(self->a, &m1));
	TH_LOG("%u cycles, %u forced", m1.num_gc - m0.num_gc,
	       m1.num_forced_gc - m0.num_forced_gc);
	EXPECT_EQ(6U, w[0].collects);
	/*
	 * Each gca_collect() waited for a cycle of its own (one the pacer
	 * had already asked for may serve, and then counts as the pacer's).
	 */
	EXPECT_LE(m0.num_gc + w[0].collects, m1.num_gc);
	/* Some cycles came from the pacer, not from gca_collect(). */
	EXPECT_LT(m1.num_forced_gc - m0.num_forced_gc,
		  m1.num_gc - m0.num_gc);
	EXPECT_EQ(m1.mallocs - m1.frees, m1.heap_objects);
}

/* ------------------------------------------------------------------ */

#define SALT_BLOCKED	0xb10cULL

struct blocked {
	struct gca_arena *a;
	int pipefd[2];
	volatile int ready;
	ssize_t read_ret;
	int read_errno;
	uint64_t good;
};

static void *reader_main(void *arg)
{
	struct blocked *b = arg;
	struct node *l;
	char c;

	/* Registers this thread; l lives on its stack or in a register. */
	l = build_list(b->a, 1000, 1, SALT_BLOCKED);
	set_flag(&b->ready);
	b->read_ret = read(b->pipefd[0], &c, 1);
	b->read_errno = errno;
	b->good = check_list(l, 1, SALT_BLOCKED);
	return NULL;
}

TEST_F_TIMEOUT(threads, blocked_in_read, 120)
{
	struct blocked b = { .a = self->a };
	uint64_t took;
	pthread_t th;
	int err;

	ASSERT_EQ(0, pipe(b.pipefd));
	ASSERT_EQ(0, pthread_create(&th, NULL, reader_main, &b));
	wait_flag(&b.ready);
	sleep_ms(50);		/* well inside read() by now */

	took = collect_rounds(self->a, 3, &err);
	EXPECT_EQ(0, err);
	EXPECT_GT(STALL_LIMIT_NS, took);
	TH_LOG("3 cycles with a thread blocked in read(): %" PRIu64 " ms",
	       took / 1000000);

	ASSERT_EQ(1, write(b.pipefd[1], "x", 1));
	ASSERT_EQ(0, pthread_join(th, NULL));
	/* SA_RESTART: the read was restarted, not failed with EINTR. */
	EXPECT_EQ(1, b.read_ret) TH_LOG("read: %s", strerror(b.read_errno));
	EXPECT_EQ(1000ULL, b.good);
	close(b.pipefd[0]);
	close(b.pipefd[1]);
}

/* ------------------------------------------------------------------ */

struct joiner {
	struct gca_arena *a;
	int pipefd[2];
	volatile int ready;
	int join_ret;
	uint64_t good;
};

/* Never calls the library: not registered, never waited for. */
static void *sleeper_main(void *arg)
{
	struct joiner *j = arg;
	char c;

	if (read(j->pipefd[0], &c, 1) != 1)
		return (void *)1;
	return NULL;
}

static void *joiner_main(void *arg)
{
	struct joiner *j = arg;
	pthread_t th;
	struct node *l;

	l = build_list(j->a, 1000, 1, SALT_BLOCKED + 1);
	if (pthread_create(&th, NULL, sleeper_main, j)) {
		j->join_ret = -1;
		set_flag(&j->ready);
		return NULL;
	}
	set_flag(&j->ready);
	j->join_ret = pthread_join(th, NULL);
	j->good = check_list(l, 1, SALT_BLOCKED + 1);
	return NULL;
}

TEST_F_TIMEOUT(threads, blocked_in_join, 120)
{
	struct joiner j = { .a = self->a };
	uint64_t took;
	pthread_t th;
	int err;

	ASSERT_EQ(0, pipe(j.pipefd));
	ASSERT_EQ(0, pthread_create(&th, NULL, joiner_main, &j));
	wait_flag(&j.ready);
	sleep_ms(50);

	took = collect_rounds(self->a, 3, &err);
	EXPECT_EQ(0, err);
	EXPECT_GT(STALL_LIMIT_NS, took);
	TH_LOG("3 cycles with a thread in pthread_join(): %" PRIu64 " ms",
	       took / 1000000);

	ASSERT_EQ(1, write(j.pipefd[1], "x", 1));
	ASSERT_EQ(0, pthread_join(th, NULL));
	EXPECT_EQ(0, j.join_ret);
	EXPECT_EQ(1000ULL, j.good);
	close(j.pipefd[0]);
	close(j.pipefd[1]);
}

/* ------------------------------------------------------------------ */

struct spinner {
	struct gca_arena *a;
	volatile int ready;
	volatile int stop;
	uint64_t spins;
	uint64_t good;
};

static void *spinner_main(void *arg)
{
	struct spinner *s = arg;
	uint64_t x = 1, n = 0;
	struct node *l;

	l = build_list(s->a, 1000, 1, SALT_BLOCKED + 2);
	set_flag(&s->ready);
	/* No call, no safepoint: only the signal can reach this loop. */
	while (!__atomic_load_n(&s->stop, __ATOMIC_RELAXED)) {
		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
		n++;
	}
	s->spins = n + (x & 1);
	s->good = check_list(l, 1, SALT_BLOCKED + 2);
	return NULL;
}

TEST_F_TIMEOUT(threads, compute_loop, 120)
{
	struct spinner s = { .a = self->a };
	uint64_t took;
	pthread_t th;
	int err;

	ASSERT_EQ(0, pthread_create(&th, NULL, spinner_main, &s));
	wait_flag(&s.ready);
	sleep_ms(50);

	took = collect_rounds(self->a, 3, &err);
	EXPECT_EQ(0, err);
	EXPECT_GT(STALL_LIMIT_NS, took);
	TH_LOG("3 cycles with a spinning thread: %" PRIu64 " ms",
	       took / 1000000);

	set_flag(&s.stop);
	ASSERT_EQ(0, pthread_join(th, NULL));
	EXPECT_LT(0ULL, s.spins);
	EXPECT_EQ(1000ULL, s.good);
}

/* ------------------------------------------------------------------ */

static void *short_lived_main(void *arg)
{
	struct gca_arena *a = arg;
	struct node *l;

	l = build_list(a, 500, 1, 1);
	return (void *)(uintptr_t)(check_list(l, 1, 1) == 500);
}

TEST_F_TIMEOUT(threads, exit_unregisters, 120)
{
	struct gca_arena *a = self->a;
	pthread_t th[8];
	uint64_t took;
	void *ok;
	int i, err;

	for (i = 0; i < 8; i++)
		ASSERT_EQ(0, pthread_create(&th[i], NULL, short_lived_main,
					    a));
	for (i = 0; i < 8; i++) {
		ASSERT_EQ(0, pthread_join(th[i], &ok));
		EXPECT_EQ((void *)1, ok);
	}
	/* Nobody left to wait for, nobody to signal. */
	took = collect_rounds(a, 2, &err);
	EXPECT_EQ(0, err);
	EXPECT_GT(STALL_LIMIT_NS, took);

	/* Explicit registration is idempotent and undone explicitly. */
	EXPECT_EQ(0, gca_register_thread(a));
	EXPECT_EQ(0, gca_register_thread(a));
	EXPECT_EQ(0, gca_unregister_thread(a));
	EXPECT_EQ(-ENOENT, gca_unregister_thread(a));
	/* Using the arena registers again. */
	EXPECT_NE(NULL, gca_alloc(a, 64));
	EXPECT_EQ(0, gca_collect(a));
	EXPECT_EQ(0, gca_unregister_thread(a));
}

/* ------------------------------------------------------------------ */

struct handoff {
	struct gca_arena *a;
	struct node *list;	/* read once by the new thread */
	volatile int holding;
	volatile int go;
	uint64_t good;
};

static void *taker_main(void *arg)
{
	struct handoff *h = arg;
	struct node *l = h->list;

	/* Registered, with the pointer on our own stack: tell the creator. */
	if (gca_register_thread(h->a))
		return NULL;
	set_flag(&h->holding);
	wait_flag(&h->go);
	h->good = check_list(l, 1, SALT_BLOCKED + 3);
	return NULL;
}

/* Hand a new list to a new thread; return once that thread holds it. */
__test_helper int hand_off(struct handoff *h, pthread_t *th)
{
	h->list = build_list(h->a, 2000, 1, SALT_BLOCKED + 3);
	if (!h->list)
		return -1;
	if (pthread_create(th, NULL, taker_main, h))
		return -1;
	wait_flag(&h->holding);
	/* *h is on our stack, which is scanned: drop our reference. */
	h->list = NULL;
	return 0;
}

TEST_F_TIMEOUT(threads, pointer_handoff, 120)
{
	struct handoff h = { .a = self->a };
	uint64_t took;
	pthread_t th;
	int err;

	ASSERT_EQ(0, hand_off(&h, &th));
	clear_stack();
	took = collect_rounds(self->a, 3, &err);
	EXPECT_EQ(0, err);
	EXPECT_GT(STALL_LIMIT_NS, took);
	set_flag(&h.go);
	ASSERT_EQ(0, pthread_join(th, NULL));
	EXPECT_EQ(2000ULL, h.good);
}

/* ------------------------------------------------------------------ */

/*
 * The same hand-off in the middle of a cycle's stack scan, the order
 * made exact with no preempt signal: the creator answers the barrier
 * round, the scan round begins, it creates the new thread with the only
 * reference to a list, the new thread registers, takes the list and
 * parks, and only then does the creator drop its copy and have its own
 * stack scanned.  The new thread's stack holds the only reference: the
 * cycle must scan it (a new thread is not born scanned), or the list is
 * freed while the thread holds it.
 */
#define MIDSCAN_NODES	500

static void *collect_main(void *arg)
{
	gca_collect(arg);
	return NULL;
}

struct midscan {
	struct gca_arena *a;
	struct node *list;	/* the creator's copy, for pthread_create */
	int ready[2], go[2];	/* pipes: taken and parked / cycle done */
	uint64_t good, live;
	int err;
};

/* How many nodes of list l does the kernel say are allocated? */
__test_helper uint64_t count_allocated(struct gca_arena *a, struct node *l)
{
	uint64_t addrs[MIDSCAN_NODES], live[(MIDSCAN_NODES + 63) / 64];
	struct gca_query q;
	uint64_t n = 0, i, got = 0;

	for (; l && n < MIDSCAN_NODES; l = l->left)
		addrs[n++] = (uintptr_t)l;
	memset(&q, 0, sizeof(q));
	q.size = sizeof(q);
	q.addrs = (uintptr_t)addrs;
	q.live = (uintptr_t)live;
	q.n = n;
	if (ioctl(gca_arena_fd(a), GCA_IOC_QUERY_OBJECTS, &q))
		return 0;
	for (i = 0; i < n; i++)
		got += (live[i / 64] >> (i % 64)) & 1;
	return got;
}

static void *midscan_taker(void *arg)
{
	struct midscan *h = arg;
	struct node *volatile l = h->list;
	char c = 0;

	h->err = gca_register_thread(h->a);
	if (h->err)
		return NULL;
	if (write(h->ready[1], &c, 1) != 1)
		h->err = -EIO;
	h->err = gca_enter_blocking(h->a);
	if (read(h->go[0], &c, 1) != 1)
		h->err = -EIO;
	if (!h->err)
		h->err = gca_leave_blocking(h->a);
	h->live = count_allocated(h->a, l);
	h->good = check_list(l, 1, SALT_BLOCKED + 5);
	return NULL;
}

/* The creator's half; noinline, so that its frame is gone afterwards. */
__test_helper int midscan_spawn(struct midscan *h, pthread_t *th)
{
	char c;

	if (pthread_create(th, NULL, midscan_taker, h))
		return -1;
	if (read(h->ready[0], &c, 1) != 1)
		return -1;
	h->list = NULL;
	return 0;
}

TEST_F_TIMEOUT(threads, handoff_mid_scan, 120)
{
	struct midscan h = { .err = 0 };
	const struct gca_ctrl *ctrl;
	struct gca_params p;
	struct gca_memstats ms;
	uint64_t gc0, seq;
	pthread_t th, col;
	char c = 1;

	memset(&p, 0, sizeof(p));
	p.heap_size = 64 * SZ_1M;
	p.flags = GCA_PARAM_GC_PERCENT;
	p.gc_percent = -1;
	p.preempt_signal = -1;
	ASSERT_EQ(0, gca_open(&h.a, &p));
	ASSERT_EQ(0, pipe(h.ready));
	ASSERT_EQ(0, pipe(h.go));
	ctrl = gca_ctrl(h.a);
	h.list = build_list(h.a, MIDSCAN_NODES, 1, SALT_BLOCKED + 5);
	ASSERT_NE(NULL, h.list);
	/* A cycle gives the list's spans back: no longer roots as cached. */
	ASSERT_EQ(0, gca_collect(h.a));
	ASSERT_EQ(0, gca_read_memstats(h.a, &ms));
	gc0 = ms.num_gc;

	/* Another thread asks for the cycle and waits in gca_collect(). */
	ASSERT_EQ(0, pthread_create(&col, NULL, collect_main, h.a));
	while (!__gca_barrier_on(__atomic_load_n(&ctrl->phase,
						 __ATOMIC_ACQUIRE)))
		sched_yield();
	/*
	 * Nothing is scanned before this answer: the barrier round, which
	 * cannot move on without it (read first: once answered, the scan
	 * round may begin at once).
	 */
	seq = __atomic_load_n(&ctrl->hs_seq, __ATOMIC_ACQUIRE);
	ASSERT_EQ(0, gca_poll(h.a));
	/* The scan round: it waits for this thread's stack. */
	while (__atomic_load_n(&ctrl->hs_seq, __ATOMIC_ACQUIRE) == seq)
		sched_yield();
	ASSERT_EQ(0, midscan_spawn(&h, &th));
	clear_stack();
	/* Scanned now, without the list; then let the cycle finish. */
	while (gca_num_gc(h.a) == gc0) {
		ASSERT_EQ(0, gca_poll(h.a));
		sched_yield();
	}
	ASSERT_EQ(0, pthread_join(col, NULL));
	ASSERT_EQ(1, write(h.go[1], &c, 1));
	ASSERT_EQ(0, pthread_join(th, NULL));
	EXPECT_EQ(0, h.err);
	TH_LOG("%" PRIu64 " of %u nodes allocated after the cycle, %" PRIu64
	       " intact", h.live, MIDSCAN_NODES, h.good);
	EXPECT_EQ((uint64_t)MIDSCAN_NODES, h.live);
	EXPECT_EQ((uint64_t)MIDSCAN_NODES, h.good);
	gca_close(h.a);
}

/* ------------------------------------------------------------------ */

/* Many threads asking for cycles at once, while allocating. */
struct stormer {
	struct gca_arena *a;
	unsigned int idx;
	unsigned int errors;
};

static void *stormer_main(void *arg)
{
	struct stormer *s = arg;
	struct node *l;
	int i;

	l = build_list(s->a, 500, 1, 0x5707 + s->idx);
	for (i = 0; i < 8; i++) {
		if (gca_collect(s->a))
			s->errors++;
		if (churn(s->a, 64, 1000, i & 1))
			s->errors++;
		if (gca_poll(s->a))
			s->errors++;
		if (check_list(l, 1, 0x5707 + s->idx) != 500)
			s->errors++;
	}
	return NULL;
}

TEST_F_TIMEOUT(threads, collect_storm, 180)
{
	struct stormer s[8];
	pthread_t th[8];
	int i;

	for (i = 0; i < 8; i++) {
		s[i] = (struct stormer){ .a = self->a, .idx = i };
		ASSERT_EQ(0, pthread_create(&th[i], NULL, stormer_main, &s[i]));
	}
	for (i = 0; i < 8; i++) {
		ASSERT_EQ(0, pthread_join(th[i], NULL));
		EXPECT_EQ(0U, s[i].errors) TH_LOG("thread %d", i);
	}
}

/* ------------------------------------------------------------------ */

/*
 * A one-thread program (the test's own process) parks as a cycle begins,
 * during the barrier round, before anything was scanned: no process
 * thread is left to scan its stack or the root ranges (the library's
 * park table is one), yet gca_wait_cycle() must see the cycle end.  No
 * preempt signal and no other thread: nothing answers the round but the
 * park, so it lands in the barrier round every time.  The cycle is
 * requested by lowering GOGC to 0, which does not wait for it.  Every
 * other round has checkmark on, whose re-scan at mark termination needs
 * the parked stack again.  The list kept only on this stack survives.
 */
TEST_F_TIMEOUT(threads, parked_alone, 180)
{
	struct gca_params p = {
		.heap_size = 16 * SZ_1M,
		.flags = GCA_PARAM_GC_PERCENT | GCA_PARAM_MEMORY_LIMIT,
		.gc_percent = -1,
		.memory_limit = GCA_MEMORY_LIMIT_NONE,
		.preempt_signal = -1,
	};
	const struct gca_ctrl *ctrl;
	struct gca_memstats ms;
	struct gca_arena *a;
	uint64_t gc0, t0;
	struct node *l;
	int i, ret;

	ASSERT_EQ(0, gca_open(&a, &p));
	ctrl = gca_ctrl(a);
	l = build_list(a, 1000, 1, 0x9a7c);
	ASSERT_NE(NULL, l);
	/* the first park makes the park table: a library call, not here */
	ASSERT_EQ(0, gca_enter_blocking(a));
	ASSERT_EQ(0, gca_leave_blocking(a));
	for (i = 0; i < 16; i++) {
		ASSERT_LE(0, gca_set_debug(a, i & 1 ? GCA_DEBUG_CHECKMARK : 0));
		/* some garbage: the heap is past any GOGC 0 trigger */
		ASSERT_EQ(0, churn(a, 64, 100, 0));
		ASSERT_EQ(0, gca_read_memstats(a, &ms));
		gc0 = ms.num_gc;
		/* the previous value: -1 */
		ASSERT_EQ(-1, gca_set_gc_percent(a, 0));
		t0 = now_ns();
		while (__atomic_load_n(&ctrl->phase, __ATOMIC_ACQUIRE) ==
		       GCA_PHASE_OFF && now_ns() - t0 < STALL_LIMIT_NS)
			;
		ASSERT_NE((uint32_t)GCA_PHASE_OFF, ctrl->phase)
			TH_LOG("round %d: no cycle started", i);
		/* answers the barrier round by parking */
		ASSERT_EQ(0, gca_enter_blocking(a));
		ret = gca_wait_cycle(a, 10000);
		ASSERT_EQ(0, gca_leave_blocking(a));
		ASSERT_EQ(1, ret)
			TH_LOG("round %d: the cycle did not end while its only thread was parked",
			       i);
		ASSERT_EQ(0, gca_set_gc_percent(a, -1));
		ASSERT_EQ(0, gca_read_memstats(a, &ms));
		EXPECT_LT(gc0, ms.num_gc);
	}
	EXPECT_EQ(1000ULL, check_list(l, 1, 0x9a7c));
	EXPECT_LT(0ULL, ms.checkmark_cycles);
	EXPECT_EQ(0ULL, ms.checkmark_failures);
	gca_close(a);
}

TEST_HARNESS_MAIN
