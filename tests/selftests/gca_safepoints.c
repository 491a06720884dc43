// SPDX-License-Identifier: GPL-2.0
/*
 * Safepoints under concurrent marking: every way a thread can be away
 * from the library while a cycle needs it, and every way it can come and
 * go in the middle of one.
 *
 *  - a thread parked in read() (gca_enter_blocking/gca_leave_blocking) is
 *    neither waited for nor signalled, and what it holds survives, even a
 *    pointer held only in a callee-saved register across the park;
 *  - a thread parked for long does not stall cycles another thread's
 *    allocation starts (no gca_collect() to help);
 *  - a thread blocked in read() without parking, or spinning in a
 *    compute loop, is reached by the preempt signal;
 *  - threads exiting mid-cycle, with pthread_exit() (unregistered by the
 *    library) or with a raw SYS_exit (never unregistered);
 *  - threads registering mid-cycle;
 *  - a process exiting, or killed with SIGKILL, mid-cycle: the module
 *    goes on working;
 *  - fork() mid-cycle: the child has no heap, the parent's cycle ends.
 *
 * Worker threads report through their structs: the harness's ASSERT_*
 * must not run outside the test's own thread.
 */
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "gca_test.h"

#define SALT		0x5afeULL

/* SIGURG deliveries per thread: the library chains to this handler. */
static __thread volatile unsigned int urg_count
	__attribute__((tls_model("initial-exec")));

static void count_urg(int sig)
{
	(void)sig;
	urg_count++;
}

FIXTURE(sp) {
	struct gca_arena *a;
};

FIXTURE_SETUP(sp)
{
	struct sigaction sa;

	/* Before gca_open(): the library's handler chains to it. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = count_urg;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	ASSERT_EQ(0, sigaction(SIGURG, &sa, NULL));
	ASSERT_EQ(0, open_arena(&self->a, 512 * SZ_1M, 100));
}

FIXTURE_TEARDOWN(sp)
{
	gca_close(self->a);
}

static uint32_t phase_of(struct gca_arena *a)
{
	return __atomic_load_n(&gca_ctrl(a)->phase, __ATOMIC_RELAXED);
}

/* Spin (without calling the library) until a cycle is marking. */
static bool wait_marking(struct gca_arena *a, uint64_t limit_ns)
{
	uint64_t t0 = now_ns();

	while (phase_of(a) != GCA_PHASE_MARK &&
	       phase_of(a) != GCA_PHASE_MARK_TERM) {
		if (now_ns() - t0 > limit_ns)
			return false;
		sched_yield();
	}
	return true;
}

/* A background thread calling gca_collect() until told to stop. */
struct collector {
	struct gca_arena *a;
	pthread_t th;
	volatile int stop;
	unsigned int cycles;
	int err;
};

static void *collector_main(void *arg)
{
	struct collector *c = arg;
	int ret;

	while (!__atomic_load_n(&c->stop, __ATOMIC_ACQUIRE)) {
		ret = gca_collect(c->a);
		if (ret && !c->err)
			c->err = ret;
		c->cycles++;
		churn(c->a, 64, 200, 0);
	}
	return NULL;
}

static int collector_start(struct collector *c, struct gca_arena *a)
{
	memset(c, 0, sizeof(*c));
	c->a = a;
	return pthread_create(&c->th, NULL, collector_main, c);
}

static int collector_stop(struct collector *c)
{
	set_flag(&c->stop);
	return pthread_join(c->th, NULL);
}

/* ------------------------------------------------------------------ */

struct reader {
	struct gca_arena *a;
	int pipefd[2];
	bool park;
	volatile int ready;
	ssize_t read_ret;
	int read_errno;
	int enter_ret, leave_ret;
	unsigned int urgs;		/* SIGURGs while blocked */
	uint64_t good;
};

static void *reader_main(void *arg)
{
	struct reader *r = arg;
	struct node *l;
	unsigned int u0;
	char c;

	/* Registers this thread; l lives on its stack or in a register. */
	l = build_list(r->a, 1000, 1, SALT);
	u0 = urg_count;
	set_flag(&r->ready);
	if (r->park)
		r->enter_ret = gca_enter_blocking(r->a);
	r->read_ret = read(r->pipefd[0], &c, 1);
	r->read_errno = errno;
	if (r->park)
		r->leave_ret = gca_leave_blocking(r->a);
	r->urgs = urg_count - u0;
	r->good = check_list(l, 1, SALT);
	return NULL;
}

static void blocked_reader(struct __test_metadata *_metadata,
			   struct gca_arena *a, bool park)
{
	struct reader r = { .a = a, .park = park };
	struct gca_memstats m0, m1;
	uint64_t took;
	pthread_t th;
	int err;

	ASSERT_EQ(0, pipe(r.pipefd));
	ASSERT_EQ(0, pthread_create(&th, NULL, reader_main, &r));
	wait_flag(&r.ready);
	sleep_ms(50);		/* well inside read() by now */

	ASSERT_EQ(0, gca_read_memstats(a, &m0));
	took = collect_rounds(a, 4, &err);
	EXPECT_EQ(0, err);
	EXPECT_GT(STALL_LIMIT_NS, took);
	ASSERT_EQ(0, gca_read_memstats(a, &m1));
	EXPECT_LE(m0.num_gc + 4, m1.num_gc);
	TH_LOG("4 cycles with a thread %s in read(): %" PRIu64 " ms",
	       park ? "parked" : "blocked", took / 1000000);

	ASSERT_EQ(1, write(r.pipefd[1], "x", 1));
	ASSERT_EQ(0, pthread_join(th, NULL));
	EXPECT_EQ(0, r.enter_ret);
	EXPECT_EQ(0, r.leave_ret);
	/* SA_RESTART: the read was restarted, not failed with EINTR. */
	EXPECT_EQ(1, r.read_ret) TH_LOG("read: %s", strerror(r.read_errno));
	EXPECT_EQ(1000ULL, r.good);
	if (park) {
		/* The kernel does not signal a thread parked on purpose. */
		EXPECT_EQ(0U, r.urgs);
	} else {
		EXPECT_LT(0U, r.urgs);
	}
	close(r.pipefd[0]);
	close(r.pipefd[1]);
}

TEST_F_TIMEOUT(sp, parked_in_read, 120)
{
	blocked_reader(_metadata, self->a, true);
}

TEST_F_TIMEOUT(sp, blocked_in_read_unparked, 120)
{
	blocked_reader(_metadata, self->a, false);
}

/* ------------------------------------------------------------------ */

#ifdef __x86_64__
/*
 * park_read_r15(arena, fd, key, buf): p = key ^ KEY lives only in r15
 * (callee-saved) across gca_enter_blocking(), read(fd, buf, 1) and
 * gca_leave_blocking(); returns p.  Neither this frame nor the caller's
 * holds p meanwhile, so it survives a cycle only if the park keeps the
 * caller's callee-saved registers where the collector looks.
 */
#define PARK_KEY	0x5a5a5a5a5a5a5a5aULL
uintptr_t park_read_r15(struct gca_arena *a, int fd, uintptr_t key,
			void *buf);
__asm__(
	"	.text\n"
	"	.globl	park_read_r15\n"
	"	.type	park_read_r15, @function\n"
	"park_read_r15:\n"
	"	pushq	%r15\n"
	"	pushq	%r14\n"
	"	pushq	%r13\n"
	"	pushq	%r12\n"
	"	pushq	%rbx\n"		/* 5 pushes: aligned for calls */
	"	movq	%rdi, %rbx\n"	/* arena */
	"	movl	%esi, %r12d\n"	/* fd */
	"	movq	%rcx, %r13\n"	/* buf */
	"	movabsq	$0x5a5a5a5a5a5a5a5a, %r15\n"
	"	xorq	%rdx, %r15\n"	/* p, in r15 only */
	"	xorl	%edx, %edx\n"
	"	call	gca_enter_blocking\n"
	"	movl	%eax, %r14d\n"
	"	movl	%r12d, %edi\n"
	"	movq	%r13, %rsi\n"
	"	movl	$1, %edx\n"
	"	call	read\n"
	"	movq	%rbx, %rdi\n"
	"	call	gca_leave_blocking\n"
	"	orl	%r14d, %eax\n"	/* both returned 0? */
	"	movq	%r15, %rdx\n"
	"	xorl	%r15d, %r15d\n"
	"	testl	%eax, %eax\n"
	"	movq	$0, %rax\n"
	"	cmovzq	%rdx, %rax\n"	/* p, or NULL if a call failed */
	"	popq	%rbx\n"
	"	popq	%r12\n"
	"	popq	%r13\n"
	"	popq	%r14\n"
	"	popq	%r15\n"
	"	ret\n"
	"	.size	park_read_r15, .-park_read_r15\n"
);

struct regreader {
	struct gca_arena *a;
	int pipefd[2];
	volatile int ready;
	uint64_t good;
	bool failed;
};

/* Build the list; only its obfuscated address leaves this frame. */
__test_helper uintptr_t build_hidden(struct gca_arena *a)
{
	return (uintptr_t)build_list(a, 2000, 1, SALT + 1) ^ PARK_KEY;
}

static void *regreader_main(void *arg)
{
	struct regreader *r = arg;
	uintptr_t key;
	struct node *l;
	char c;

	key = build_hidden(r->a);
	/* No stale copy of the head below us either. */
	clear_stack();
	set_flag(&r->ready);
	l = (struct node *)park_read_r15(r->a, r->pipefd[0], key, &c);
	if (!l)
		r->failed = true;
	else
		r->good = check_list(l, 1, SALT + 1);
	return NULL;
}
#endif

TEST_F_TIMEOUT(sp, parked_pointer_only_in_register, 120)
{
#ifdef __x86_64__
	struct regreader r = { .a = self->a };
	pthread_t th;
	int err;

	ASSERT_EQ(0, pipe(r.pipefd));
	ASSERT_EQ(0, pthread_create(&th, NULL, regreader_main, &r));
	wait_flag(&r.ready);
	sleep_ms(50);
	/* Cycles free whatever is lost; garbage of the same size reuses it. */
	collect_rounds(self->a, 4, &err);
	EXPECT_EQ(0, err);
	ASSERT_EQ(1, write(r.pipefd[1], "x", 1));
	ASSERT_EQ(0, pthread_join(th, NULL));
	EXPECT_FALSE(r.failed);
	EXPECT_EQ(2000ULL, r.good);
	close(r.pipefd[0]);
	close(r.pipefd[1]);
#else
	SKIP(return, "x86-64 only (hand-written register use)");
#endif
}

/* ------------------------------------------------------------------ */

/*
 * A thread parked for long while another allocates: the allocator's
 * pacer starts cycles, and nobody calls gca_collect().  Each cycle needs
 * the parked thread's stack scanned by some other thread; it must not
 * wait for the thread to come back.
 */
struct allocator {
	struct gca_arena *a;
	volatile int stop;
	unsigned int errors;
	uint64_t bytes;
};

static void *allocator_main(void *arg)
{
	struct allocator *al = arg;
	struct node *keep = build_list(al->a, 500, 1, SALT + 2);

	while (!__atomic_load_n(&al->stop, __ATOMIC_ACQUIRE)) {
		if (churn(al->a, 4096, 64, 0))
			al->errors++;
		al->bytes += 4096 * 64;
		sleep_ms(1);
	}
	if (check_list(keep, 1, SALT + 2) != 500)
		al->errors++;
	return NULL;
}

struct longpark {
	struct gca_arena *a;
	int pipefd[2];
	int rounds;
	unsigned int park_ms;
	volatile int ready;
	uint64_t gc_during[8];
	int enter_ret, leave_ret;
	uint64_t good;
};

/*
 * Stay parked (blocked in poll(), touching nothing of the arena's but the
 * control page) for at least min_ms and until want cycles have completed
 * since g0, or max_ms.  Cycles keep coming while another thread
 * allocates, unless one waits for the parked thread: then max_ms passes
 * with fewer.  How many cycles a given amount of allocation or time
 * makes depends on the host (the collector's share of a busy machine's
 * CPU, the debug kernel's speed), so neither ends the park.
 */
static void park_while_allocating(int fd, struct gca_arena *a, uint64_t g0,
				  uint64_t want, uint64_t min_ms,
				  uint64_t max_ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	uint64_t t0 = now_ns(), ms;

	for (;;) {
		poll(&pfd, 1, 50);
		ms = (now_ns() - t0) / 1000000;
		if (ms >= max_ms)
			break;
		if (ms >= min_ms && gca_num_gc(a) - g0 >= want)
			break;
	}
}

static void *longpark_main(void *arg)
{
	struct longpark *p = arg;
	struct node *l;
	uint64_t g0;
	int i;

	l = build_list(p->a, 1000, 1, SALT + 3);
	set_flag(&p->ready);
	for (i = 0; i < p->rounds; i++) {
		sleep_ms(37 * i % 50);	/* park at varied points of a cycle */
		g0 = gca_num_gc(p->a);
		p->enter_ret |= gca_enter_blocking(p->a);
		park_while_allocating(p->pipefd[0], p->a, g0, 2, p->park_ms,
				      60000);
		/* still parked: read the control page only */
		p->gc_during[i] = gca_num_gc(p->a) - g0;
		p->leave_ret |= gca_leave_blocking(p->a);
	}
	p->good = check_list(l, 1, SALT + 3);
	return NULL;
}

TEST_F_TIMEOUT(sp, long_park_does_not_stall_pacer, 400)
{
	struct allocator al = { .a = self->a };
	struct longpark p = { .a = self->a, .rounds = 6, .park_ms = 1500 };
	pthread_t ta, tp;
	int i;

	ASSERT_EQ(0, pipe(p.pipefd));
	ASSERT_EQ(0, pthread_create(&ta, NULL, allocator_main, &al));
	ASSERT_EQ(0, pthread_create(&tp, NULL, longpark_main, &p));
	ASSERT_EQ(0, pthread_join(tp, NULL));
	set_flag(&al.stop);
	ASSERT_EQ(0, pthread_join(ta, NULL));
	EXPECT_EQ(0U, al.errors);
	EXPECT_EQ(0, p.enter_ret);
	EXPECT_EQ(0, p.leave_ret);
	EXPECT_EQ(1000ULL, p.good);
	TH_LOG("allocated %" PRIu64 " MiB", al.bytes >> 20);
	for (i = 0; i < p.rounds; i++) {
		TH_LOG("park %d (1.5 s, then until 2 cycles or 60 s): %" PRIu64
		       " cycles completed", i, p.gc_during[i]);
		/*
		 * Two: at least one began and ended within the park.  Fewer
		 * means a cycle waited 60 s for the parked thread.
		 */
		EXPECT_LE(2ULL, p.gc_during[i]);
	}
	close(p.pipefd[0]);
	close(p.pipefd[1]);
}

/*
 * The same, with the park timed to the worst moment: a cycle's scan
 * round has been published and every other unparked thread (one that
 * allocates, so answers at once) has answered it, scanning what it could
 * for others; this thread, which had not answered yet, parks.  Its stack
 * still needs a scan, and the test's own thread is parked too, so no
 * thread is left to come and scan it.
 */
struct sneak {
	struct gca_arena *a;
	int pipefd[2];
	int rounds;
	uint64_t gc_during[8];
	unsigned int missed;
	int enter_ret, leave_ret;
	uint64_t good;
};

/* Spin (no library call) until a cycle publishes its second round. */
static bool wait_scan_round(struct gca_arena *a, uint64_t limit_ns)
{
	const struct gca_ctrl *c = gca_ctrl(a);
	uint64_t t0 = now_ns(), base = 0;
	bool have_base = false;
	uint32_t ph;
	uint64_t seq;

	while (now_ns() - t0 < limit_ns) {
		ph = __atomic_load_n(&c->phase, __ATOMIC_ACQUIRE);
		seq = __atomic_load_n(&c->hs_seq, __ATOMIC_ACQUIRE);
		if (ph == GCA_PHASE_OFF || ph == GCA_PHASE_SWEEP) {
			base = seq;
			have_base = true;
		} else if (have_base && ph == GCA_PHASE_MARK &&
			   seq == base + 2) {
			return true;
		} else if (have_base && seq > base + 2) {
			have_base = false;	/* missed it: next cycle */
		}
	}
	return false;
}

static void *sneak_main(void *arg)
{
	struct sneak *p = arg;
	struct node *l;
	uint64_t g0, t;
	sigset_t urg;
	int i;

	sigemptyset(&urg);
	sigaddset(&urg, SIGURG);
	l = build_list(p->a, 1000, 1, SALT + 10);
	for (i = 0; i < p->rounds; i++) {
		if (!wait_scan_round(p->a, 20ULL * 1000000000ULL)) {
			p->missed++;
			continue;
		}
		/*
		 * Unable to answer (the preempt signal held off, for this
		 * test only), give the allocator 20 ms to answer the round,
		 * then park: the signal comes when parked, and is ignored.
		 */
		pthread_sigmask(SIG_BLOCK, &urg, NULL);
		for (t = now_ns(); now_ns() - t < 20000000;)
			;
		g0 = gca_num_gc(p->a);
		p->enter_ret |= gca_enter_blocking(p->a);
		pthread_sigmask(SIG_UNBLOCK, &urg, NULL);
		park_while_allocating(p->pipefd[0], p->a, g0, 1, 1500, 60000);
		p->gc_during[i] = gca_num_gc(p->a) - g0;
		p->leave_ret |= gca_leave_blocking(p->a);
	}
	p->good = check_list(l, 1, SALT + 10);
	return NULL;
}

static void *busy_allocator_main(void *arg)
{
	struct allocator *al = arg;

	while (!__atomic_load_n(&al->stop, __ATOMIC_ACQUIRE)) {
		if (churn(al->a, 256, 256, 0))
			al->errors++;
		al->bytes += 256 * 256;
	}
	return NULL;
}

TEST_F_TIMEOUT(sp, park_after_scan_round_does_not_stall, 400)
{
	struct allocator al = { .a = self->a };
	struct sneak p = { .a = self->a, .rounds = 4 };
	pthread_t ta, tp;
	int i, ret;

	ASSERT_EQ(0, pipe(p.pipefd));
	ASSERT_EQ(0, pthread_create(&ta, NULL, busy_allocator_main, &al));
	ASSERT_EQ(0, pthread_create(&tp, NULL, sneak_main, &p));
	/* Parked itself, so that it cannot scan for the other. */
	ASSERT_EQ(0, gca_enter_blocking(self->a));
	ret = pthread_join(tp, NULL);
	ASSERT_EQ(0, gca_leave_blocking(self->a));
	ASSERT_EQ(0, ret);
	set_flag(&al.stop);
	ASSERT_EQ(0, pthread_join(ta, NULL));
	EXPECT_EQ(0U, al.errors);
	EXPECT_EQ(0, p.enter_ret);
	EXPECT_EQ(0, p.leave_ret);
	EXPECT_EQ(1000ULL, p.good);
	EXPECT_EQ(0U, p.missed);
	TH_LOG("allocated %" PRIu64 " MiB", al.bytes >> 20);
	for (i = 0; i < p.rounds; i++) {
		TH_LOG("park %d (from a scan round; 1.5 s, then until a cycle or 60 s): %" PRIu64
		       " cycles completed", i, p.gc_during[i]);
		/* The cycle under way must finish without this thread. */
		EXPECT_LE(1ULL, p.gc_during[i]);
	}
	close(p.pipefd[0]);
	close(p.pipefd[1]);
}

/* ------------------------------------------------------------------ */

struct spinner {
	struct gca_arena *a;
	volatile int ready;
	volatile int stop;
	uint64_t spins;
	unsigned int urgs;
	uint64_t good;
};

static void *spinner_main(void *arg)
{
	struct spinner *s = arg;
	uint64_t x = 1, n = 0;
	unsigned int u0;
	struct node *l;

	l = build_list(s->a, 1000, 1, SALT + 4);
	u0 = urg_count;
	set_flag(&s->ready);
	/* No call, no safepoint: only the signal can reach this loop. */
	while (!__atomic_load_n(&s->stop, __ATOMIC_RELAXED)) {
		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
		n++;
	}
	s->spins = n + (x & 1);
	s->urgs = urg_count - u0;
	s->good = check_list(l, 1, SALT + 4);
	return NULL;
}

TEST_F_TIMEOUT(sp, compute_loop, 120)
{
	struct spinner s = { .a = self->a };
	uint64_t took;
	pthread_t th;
	int err;

	ASSERT_EQ(0, pthread_create(&th, NULL, spinner_main, &s));
	wait_flag(&s.ready);
	sleep_ms(50);

	took = collect_rounds(self->a, 4, &err);
	EXPECT_EQ(0, err);
	EXPECT_GT(STALL_LIMIT_NS, took);
	TH_LOG("4 cycles with a spinning thread: %" PRIu64 " ms",
	       took / 1000000);

	set_flag(&s.stop);
	ASSERT_EQ(0, pthread_join(th, NULL));
	EXPECT_LT(0ULL, s.spins);
	EXPECT_LT(0U, s.urgs);
	EXPECT_EQ(1000ULL, s.good);
}

#ifdef __x86_64__
/*
 * A stale vector register is not a miss.  The thread answers the barrier
 * and scan rounds by calls, which show the collector no caller-saved
 * register (they are dead across a call), then, at mark termination,
 * spins with an unreachable object's address in xmm7 until the preempt
 * signal answers for it: the signal frame holds xmm7.  The concurrent
 * mark never saw that address and the object is garbage; checkmark's
 * re-mark, scanning the held thread's stack, must not count it missed.
 * (The address is kept XOR-masked, in no register or slot the scans
 * could see, except xmm7 at mark termination.)
 */
#define XMM_MASK	0x5a5a5a5a5a5a5a5aULL
#define XMM_ROUNDS	6U

struct xmm_holder {
	struct gca_arena *a;
	volatile int stop;
	unsigned int rounds;		/* terminations answered by the signal */
	int err;
};

static noinline uint64_t xmm_alloc_hidden(struct gca_arena *a)
{
	return (uint64_t)(uintptr_t)gca_alloc_noscan(a, 64 * SZ_1K) ^ XMM_MASK;
}

/* Leave no copy of the address in the dead stack the next calls reuse. */
static noinline void xmm_clear_below(void)
{
	volatile uint64_t buf[1024] __attribute__((unused));
	unsigned int i;

	for (i = 0; i < 1024; i++)
		buf[i] = 0;
}

static void *xmm_holder_main(void *arg)
{
	struct xmm_holder *x = arg;
	const volatile uint32_t *phase = &gca_ctrl(x->a)->phase;
	uint64_t hidden = 0, g0 = 0;

	while (!__atomic_load_n(&x->stop, __ATOMIC_RELAXED) &&
	       x->rounds < XMM_ROUNDS) {
		unsigned int u0 = urg_count;

		if (!hidden || gca_num_gc(x->a) >= g0 + 2) {
			/* a fresh object each time: its cycle frees it */
			while (*phase != GCA_PHASE_OFF)
				gca_poll(x->a);
			hidden = xmm_alloc_hidden(x->a);
			if (hidden == XMM_MASK) {
				x->err = -ENOMEM;
				break;
			}
			xmm_clear_below();
			g0 = gca_num_gc(x->a);
			continue;
		}
		if (*phase != GCA_PHASE_MARK_TERM) {
			gca_poll(x->a);
			continue;
		}
		/* no call from here until the termination is over */
		__asm__ __volatile__("movq %0, %%xmm7" : : "r"(hidden ^ XMM_MASK)
				     : "xmm7");
		while (*phase == GCA_PHASE_MARK_TERM &&
		       !__atomic_load_n(&x->stop, __ATOMIC_RELAXED))
			;
		__asm__ __volatile__("pxor %%xmm7, %%xmm7" : : : "xmm7");
		if (urg_count != u0)
			x->rounds++;
	}
	return NULL;
}

TEST_F_TIMEOUT(sp, stale_vector_register_not_a_miss, 300)
{
	struct xmm_holder x = { .a = self->a };
	struct gca_memstats m0, m1;
	struct collector c;
	uint64_t t0;
	pthread_t th;

	ASSERT_LE(0, gca_set_debug(self->a, GCA_DEBUG_CHECKMARK));
	ASSERT_EQ(0, gca_read_memstats(self->a, &m0));
	ASSERT_EQ(0, pthread_create(&th, NULL, xmm_holder_main, &x));
	ASSERT_EQ(0, collector_start(&c, self->a));
	t0 = now_ns();
	while (x.rounds < XMM_ROUNDS && !x.err &&
	       now_ns() - t0 < 200ULL * 1000000000ULL)
		sleep_ms(20);
	set_flag(&x.stop);
	ASSERT_EQ(0, pthread_join(th, NULL));
	ASSERT_EQ(0, collector_stop(&c));
	ASSERT_EQ(0, gca_read_memstats(self->a, &m1));
	EXPECT_EQ(0, c.err);
	EXPECT_EQ(0, x.err);
	/* each round a termination the signal answered, xmm7 in its frame */
	EXPECT_EQ(XMM_ROUNDS, x.rounds);
	EXPECT_LT(m0.checkmark_cycles, m1.checkmark_cycles);
	EXPECT_EQ(m0.checkmark_failures, m1.checkmark_failures);
	TH_LOG("%u terminations answered by the signal with a stale xmm7, %"
	       PRIu64 " checkmarked cycles, %" PRIu64 " misses", x.rounds,
	       m1.checkmark_cycles - m0.checkmark_cycles,
	       m1.checkmark_failures - m0.checkmark_failures);
}
#endif

/* ------------------------------------------------------------------ */

/*
 * Threads that leave in the middle of a cycle: with pthread_exit() (the
 * library's destructor unregisters them, flushing the barrier buffer),
 * and with a raw exit system call that skips every destructor (the kernel
 * must drop the thread by itself).
 */
struct leaver {
	struct gca_arena *a;
	bool raw;
	void **slot;			/* in a root range */
	volatile int done;
	bool timed_out;
};

static void *leaver_main(void *arg)
{
	struct leaver *lv = arg;
	struct node *l;

	l = build_list(lv->a, 300, 1, SALT + 5);
	/* A store with the barrier maybe on, then out mid-cycle. */
	lv->timed_out = !wait_marking(lv->a, 10ULL * 1000000000ULL);
	gca_store(lv->a, lv->slot, l);
	set_flag(&lv->done);
	if (lv->raw)
		syscall(SYS_exit, 0);
	pthread_exit(NULL);
}

static void leavers(struct __test_metadata *_metadata, struct gca_arena *a,
		    bool raw)
{
	enum { N = 12 };
	struct leaver lv[N];
	void **table;
	struct collector c;
	struct gca_memstats m0, m1;
	uint64_t t0;
	pthread_t th;
	int i;

	table = calloc(N, sizeof(*table));
	ASSERT_NE(NULL, table);
	ASSERT_EQ(0, gca_add_roots(a, table, N * sizeof(*table)));
	ASSERT_EQ(0, collector_start(&c, a));
	for (i = 0; i < N; i++) {
		lv[i] = (struct leaver){ .a = a, .raw = raw,
					 .slot = &table[i] };
		ASSERT_EQ(0, pthread_create(&th, NULL, leaver_main, &lv[i]));
		/* Joined or not, a raw exit leaves its stack to us. */
		pthread_detach(th);
		wait_flag(&lv[i].done);
		sleep_ms(i % 4);
	}
	ASSERT_EQ(0, gca_read_memstats(a, &m0));
	/* Cycles go on, nobody waits for the dead. */
	t0 = now_ns();
	while (gca_num_gc(a) < m0.num_gc + 3 && now_ns() - t0 < STALL_LIMIT_NS)
		sleep_ms(10);
	ASSERT_EQ(0, collector_stop(&c));
	ASSERT_EQ(0, gca_read_memstats(a, &m1));
	EXPECT_EQ(0, c.err);
	EXPECT_LE(m0.num_gc + 3, m1.num_gc);
	for (i = 0; i < N; i++) {
		EXPECT_FALSE(lv[i].timed_out);
		/*
		 * A raw exit skips the unregistration that flushes the
		 * barrier buffer: its last stores may be lost (a broken
		 * contract, documented), so only a clean exit is checked.
		 */
		if (raw)
			continue;
		EXPECT_EQ(300ULL, check_list(table[i], 1, SALT + 5))
			TH_LOG("list of thread %d", i);
	}
	/* A new thread registers and collects as usual. */
	EXPECT_EQ(0, gca_collect(a));
	ASSERT_EQ(0, gca_remove_roots(a, table));
	free(table);
}

TEST_F_TIMEOUT(sp, exit_mid_cycle, 150)
{
	leavers(_metadata, self->a, false);
}

TEST_F_TIMEOUT(sp, raw_exit_mid_cycle, 150)
{
	leavers(_metadata, self->a, true);
}

/* ------------------------------------------------------------------ */

/* Threads registering while a cycle marks, and what they build. */
struct joiner {
	struct gca_arena *a;
	void **slot;
	int reg_ret;
	bool in_cycle;
};

static void *joiner_main(void *arg)
{
	struct joiner *j = arg;
	struct node *l;

	/* Not registered yet: the control page is readable all the same. */
	j->in_cycle = wait_marking(j->a, 10ULL * 1000000000ULL);
	j->reg_ret = gca_register_thread(j->a);
	l = build_list(j->a, 400, 1, SALT + 6);
	gca_store(j->a, j->slot, l);
	return NULL;
}

TEST_F_TIMEOUT(sp, register_mid_cycle, 150)
{
	enum { N = 16 };
	struct joiner j[N];
	pthread_t th[N];
	struct collector c;
	void **table;
	int i, err;

	table = calloc(N, sizeof(*table));
	ASSERT_NE(NULL, table);
	ASSERT_EQ(0, gca_add_roots(self->a, table, N * sizeof(*table)));
	ASSERT_EQ(0, collector_start(&c, self->a));
	for (i = 0; i < N; i++) {
		j[i] = (struct joiner){ .a = self->a, .slot = &table[i] };
		ASSERT_EQ(0, pthread_create(&th[i], NULL, joiner_main, &j[i]));
		sleep_ms(3 * i % 20);
	}
	for (i = 0; i < N; i++)
		ASSERT_EQ(0, pthread_join(th[i], NULL));
	ASSERT_EQ(0, collector_stop(&c));
	EXPECT_EQ(0, c.err);
	collect_rounds(self->a, 3, &err);
	EXPECT_EQ(0, err);
	for (i = 0; i < N; i++) {
		EXPECT_TRUE(j[i].in_cycle);
		EXPECT_EQ(0, j[i].reg_ret);
		EXPECT_EQ(400ULL, check_list(table[i], 1, SALT + 6))
			TH_LOG("list of thread %d", i);
	}
	ASSERT_EQ(0, gca_remove_roots(self->a, table));
	free(table);
}

/* ------------------------------------------------------------------ */

/*
 * A child process with its own arena and a thread collecting in a loop;
 * it reports its arena id and then, once a cycle is marking, exits (or
 * waits to be killed).
 */
static void child_in_cycle(int wfd, bool wait_kill)
{
	struct gca_arena *a;
	struct collector c;
	struct node *l;
	int id;

	if (open_arena(&a, 256 * SZ_1M, 100))
		_exit(10);
	id = gca_arena_id(a);
	l = build_list(a, 2000, 1, SALT + 7);
	if (collector_start(&c, a))
		_exit(11);
	if (write(wfd, &id, sizeof(id)) != sizeof(id))
		_exit(12);
	for (;;) {
		if (!wait_marking(a, 10ULL * 1000000000ULL))
			_exit(13);
		if (!wait_kill)
			exit(check_list(l, 1, SALT + 7) == 2000 ? 0 : 14);
		churn(a, 48, 100, 0);
	}
}

/* A new arena: allocate, collect, check; 0 or what went wrong. */
static int fresh_arena_works(void)
{
	struct gca_arena *b;
	struct node *l;
	int ret;

	ret = open_arena(&b, 64 * SZ_1M, 100);
	if (ret)
		return ret;
	l = build_list(b, 500, 1, SALT + 8);
	ret = gca_collect(b);
	if (!ret && check_list(l, 1, SALT + 8) != 500)
		ret = -EIO;
	gca_close(b);
	return ret;
}

static void process_dies(struct __test_metadata *_metadata,
			 struct gca_arena *a, bool kill_it, int rounds)
{
	char path[64];
	int i, status, id, fds[2];
	pid_t pid;
	int err;

	for (i = 0; i < rounds; i++) {
		ASSERT_EQ(0, pipe(fds));
		pid = fork();
		ASSERT_LE(0, pid);
		if (pid == 0) {
			close(fds[0]);
			child_in_cycle(fds[1], kill_it);
		}
		close(fds[1]);
		ASSERT_EQ((ssize_t)sizeof(id), read(fds[0], &id, sizeof(id)));
		close(fds[0]);
		if (kill_it) {
			sleep_ms(20 + 37 * i % 200);
			ASSERT_EQ(0, kill(pid, SIGKILL));
		}
		ASSERT_EQ(pid, waitpid(pid, &status, 0));
		if (kill_it)
			status = WIFSIGNALED(status) &&
				 WTERMSIG(status) == SIGKILL ? 0 : status | 1;
		else
			status = WIFEXITED(status) ? WEXITSTATUS(status) :
						     status | 1;
		EXPECT_EQ(0, status) TH_LOG("child %d: bad status", i);
		proc_arena_path(id, path, sizeof(path));
		EXPECT_TRUE(wait_gone(path, 5000)) TH_LOG("%s stays", path);
	}
	/* The module, and this process's arena, work as before. */
	collect_rounds(a, 2, &err);
	EXPECT_EQ(0, err);
	EXPECT_EQ(0, fresh_arena_works());
}

TEST_F_TIMEOUT(sp, process_exit_mid_cycle, 150)
{
	process_dies(_metadata, self->a, false, 4);
}

TEST_F_TIMEOUT(sp, process_killed_mid_cycle, 150)
{
	process_dies(_metadata, self->a, true, 6);
}

/* ------------------------------------------------------------------ */

/* fork() while a cycle marks: the child has no heap; the parent's
 * cycle completes and its data survives. */
TEST_F_TIMEOUT(sp, fork_mid_cycle, 150)
{
	struct gca_arena *a = self->a;
	struct collector c;
	struct node *l;
	int i, status, forked = 0;
	pid_t pid;

	l = build_list(a, 3000, 1, SALT + 9);
	ASSERT_EQ(0, collector_start(&c, a));
	for (i = 0; i < 4; i++) {
		if (!wait_marking(a, 10ULL * 1000000000ULL))
			continue;
		pid = fork();
		ASSERT_LE(0, pid);
		if (pid == 0) {
			void *p;

			/* The inherited arena is no arena here. */
			p = gca_alloc(a, 64);
			if (p || errno != EPERM)
				_exit(20);
			if (gca_collect(a) != -EPERM)
				_exit(21);
			_exit(0);
		}
		forked++;
		ASSERT_EQ(pid, waitpid(pid, &status, 0));
		EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
			TH_LOG("child status %#x", status);
		EXPECT_EQ(3000ULL, check_list(l, 1, SALT + 9));
	}
	ASSERT_EQ(0, collector_stop(&c));
	EXPECT_EQ(0, c.err);
	EXPECT_LT(0, forked);
	EXPECT_EQ(0, gca_collect(a));
	EXPECT_EQ(3000ULL, check_list(l, 1, SALT + 9));
}

TEST_HARNESS_MAIN
