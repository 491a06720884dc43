// SPDX-License-Identifier: GPL-2.0
/*
 * Hostile process, area 7: the system around the arenas.  One user's
 * arena, however busy, must not stall another user's arena calls or
 * /proc reads, and no cycle may stop the system from suspending.
 *
 * Runs as root; the other user is uid/gid 1000 (setgroups, setgid,
 * setuid in a child).  No timing is judged: each test asserts an order of
 * events (this finished while that was provably still under way).
 *
 * Tests:
 *   sys.busy_arena_stalls_no_one   a long hold of one arena's lock
 *       (ALLOC_LARGE populating hundreds of MiB) with a root reader of
 *       /proc/gcarena/arenas stuck on that arena: another user's
 *       create, close and /proc read finish meanwhile, and the stuck
 *       reader dies at once when killed
 *   suspend.*  (variants freeze, mem, disk) a cycle waiting for a
 *       registered thread blocked in read() (no preempt signal): the
 *       freezer test (/sys/power/pm_test = freezer) of that sleep state
 *       succeeds, and the cycle completes after the resume; SKIP without
 *       /sys/power/pm_test (CONFIG_PM_DEBUG) or that state
 */
#include <grp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "gca_test.h"

/* One byte from fd, waiting at most ms (-1: forever); the byte or -1. */
static int read_byte(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char c;

	if (poll(&p, 1, ms) != 1 || read(fd, &c, 1) != 1)
		return -1;
	return (unsigned char)c;
}

static bool readable(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, 0) == 1;
}

static void write_byte(int fd, char c)
{
	if (write(fd, &c, 1) != 1)
		_exit(99);
}

/* The state letter of /proc/PID/stat ('R', 'S', 'D', ...), or 0. */
static char task_state(pid_t pid)
{
	char path[64], buf[512], *p;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if (read_file(path, buf, sizeof(buf)) <= 0)
		return 0;
	p = strrchr(buf, ')');
	return p && p[1] == ' ' ? p[2] : 0;
}

/* ---------------------------------------------------------------------
 * One arena's long lock hold stalls no one else
 */

#define BUSY_HEAP	(2048 * SZ_1M)
#define BUSY_BYTES	(768 * SZ_1M)	/* ALLOC_LARGE: populated under lock */

/*
 * The busy user: one GCA_IOC_ALLOC_LARGE whose pages the kernel takes
 * and zeroes under the arena's lock (fresh pages: no zeroing after it).
 * 'S' just before the call, 'D' just after: in between, the call is
 * provably under way.
 */
static void busy_child(int out)
{
	struct gca_params pr = { .heap_size = BUSY_HEAP, .gc_percent = -1,
				 .flags = GCA_PARAM_GC_PERCENT };
	struct gca_alloc_large al = { .size = sizeof(al), .bytes = BUSY_BYTES };
	struct gca_arena *a;
	int ret;

	if (gca_open(&a, &pr))
		_exit(2);
	write_byte(out, 'S');
	ret = ioctl(gca_arena_fd(a), GCA_IOC_ALLOC_LARGE, &al);
	write_byte(out, ret ? 'E' : 'D');
	/* stay until told: the arena must not go away under the others */
	read_byte(out, -1);
	_exit(0);
}

/* Root reading the whole table in a loop: it sees the busy arena. */
static void reader_child(void)
{
	char *buf = malloc(1 << 20);

	for (;;)
		read_file(GCA_PROC "/arenas", buf, 1 << 20);
}

/* The other user: an arena made and closed, and the table read. */
static void other_child(int out)
{
	struct gca_params pr = { .heap_size = 64 * SZ_1M };
	struct gca_arena *a;
	char *buf = malloc(1 << 20);

	if (drop_privileges())
		_exit(2);
	if (gca_open(&a, &pr))
		_exit(3);
	gca_close(a);
	if (!buf || read_file(GCA_PROC "/arenas", buf, 1 << 20) <= 0)
		_exit(4);
	write_byte(out, 'B');
	_exit(0);
}

TEST(busy_arena_stalls_no_one)
{
	int busy[2], other[2], status, c, i, in_a_row = 0;
	pid_t bpid, rpid, opid;
	bool stuck = false, reaped = false;

	/* a socketpair: the busy child reads its "go away" from it too */
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, busy));
	ASSERT_EQ(0, pipe(other));
	bpid = fork();
	ASSERT_LE(0, bpid);
	if (!bpid) {
		close(busy[0]);
		busy_child(busy[1]);
	}
	close(busy[1]);
	ASSERT_EQ('S', read_byte(busy[0], 60000));

	rpid = fork();
	ASSERT_LE(0, rpid);
	if (!rpid)
		reader_child();

	/*
	 * The reader is stuck once it sleeps uninterruptibly (on the busy
	 * arena's lock) in three looks in a row.
	 */
	for (i = 0; !stuck && !readable(busy[0]); i++) {
		in_a_row = task_state(rpid) == 'D' ? in_a_row + 1 : 0;
		stuck = in_a_row >= 3;
		sleep_ms(2);
	}
	if (!stuck) {
		kill(rpid, SIGKILL);
		waitpid(rpid, &status, 0);
		write_byte(busy[0], 'q');
		waitpid(bpid, &status, 0);
		SKIP(return, "the hold ended before the reader was seen stuck (%d looks): nothing to judge",
		     i);
	}

	opid = fork();
	ASSERT_LE(0, opid);
	if (!opid) {
		close(other[0]);
		other_child(other[1]);
	}
	close(other[1]);
	/* whichever comes first: the other user done, or the hold over */
	for (c = -1; c < 0 && !readable(busy[0]); )
		c = read_byte(other[0], 5);
	EXPECT_EQ('B', c)
		TH_LOG("another user's create, close and /proc read waited for the busy arena's lock hold");
	EXPECT_FALSE(readable(busy[0]) && c != 'B');

	/* The stuck reader is killable, still during the hold. */
	if (c == 'B' && !readable(busy[0])) {
		kill(rpid, SIGKILL);
		while (!reaped && !readable(busy[0])) {
			reaped = waitpid(rpid, &status, WNOHANG) == rpid;
			sleep_ms(2);
		}
		EXPECT_TRUE(reaped)
			TH_LOG("a /proc reader waiting for a busy arena could not be killed during the hold");
	} else {
		kill(rpid, SIGKILL);
	}
	if (!reaped)
		waitpid(rpid, &status, 0);

	c = read_byte(busy[0], 300000);
	EXPECT_EQ('D', c) TH_LOG("ALLOC_LARGE of %lu MiB failed", BUSY_BYTES / SZ_1M);
	write_byte(busy[0], 'q');
	ASSERT_EQ(bpid, waitpid(bpid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status));
	ASSERT_EQ(opid, waitpid(opid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status))
		TH_LOG("other user's child: status %#x", status);
}

/* ---------------------------------------------------------------------
 * System suspend during a cycle
 */

FIXTURE(suspend) {
	char old_test[64];
	char old_timeout[32];
	char old_delay[32];
};

FIXTURE_VARIANT(suspend) {
	const char *state;	/* written to /sys/power/state */
};

/* s2idle: always there; mem: S3 or s2idle; disk: hibernation */
FIXTURE_VARIANT_ADD(suspend, freeze) { .state = "freeze" };
FIXTURE_VARIANT_ADD(suspend, mem) { .state = "mem" };
FIXTURE_VARIANT_ADD(suspend, disk) { .state = "disk" };

#define PM_TEST		"/sys/power/pm_test"
#define PM_STATE	"/sys/power/state"
#define PM_TIMEOUT	"/sys/power/pm_freeze_timeout"
#define PM_DELAY	"/sys/module/suspend/parameters/pm_test_delay"

/* "none core processors platform devices [freezer]": the bracketed one */
static void pm_test_current(const char *text, char *out, size_t n)
{
	const char *l = strchr(text, '['), *r = l ? strchr(l, ']') : NULL;

	snprintf(out, n, "%.*s", l && r ? (int)(r - l - 1) : 4,
		 l && r ? l + 1 : "none");
}

static bool has_word(const char *text, const char *w)
{
	size_t n = strlen(w);
	const char *p;

	for (p = strstr(text, w); p; p = strstr(p + 1, w))
		if ((p == text || p[-1] == ' ') &&
		    (p[n] == ' ' || p[n] == '\n' || !p[n]))
			return true;
	return false;
}

static void chomp(char *s)
{
	size_t n = strlen(s);

	while (n && (s[n - 1] == '\n' || s[n - 1] == ' '))
		s[--n] = '\0';
}

FIXTURE_SETUP(suspend)
{
	char buf[256];

	if (read_file(PM_TEST, buf, sizeof(buf)) <= 0)
		SKIP(return, "no " PM_TEST " (kernel without CONFIG_PM_DEBUG)");
	pm_test_current(buf, self->old_test, sizeof(self->old_test));
	if (read_file(PM_STATE, buf, sizeof(buf)) <= 0 ||
	    !has_word(buf, variant->state))
		SKIP(return, "sleep state '%s' not offered by " PM_STATE,
		     variant->state);
	self->old_timeout[0] = self->old_delay[0] = '\0';
	if (read_file(PM_TIMEOUT, self->old_timeout,
		      sizeof(self->old_timeout)) > 0)
		chomp(self->old_timeout);
	if (read_file(PM_DELAY, self->old_delay, sizeof(self->old_delay)) > 0)
		chomp(self->old_delay);
	ASSERT_EQ(0, write_file(PM_TEST, "freezer"));
	/* a failing freeze reports in 5 s, not 20; the test waits 1 s */
	if (self->old_timeout[0])
		write_file(PM_TIMEOUT, "5000");
	if (self->old_delay[0])
		write_file(PM_DELAY, "1");
}

FIXTURE_TEARDOWN(suspend)
{
	if (self->old_test[0])
		write_file(PM_TEST, self->old_test);
	if (self->old_timeout[0])
		write_file(PM_TIMEOUT, self->old_timeout);
	if (self->old_delay[0])
		write_file(PM_DELAY, self->old_delay);
}

struct sleeper {
	struct gca_arena *a;
	int pipe[2];
	int registered;
	int reg_err, poll_err;
};

/* Registered, then blocked in read() without parking: a cycle waits. */
static void *sleeper_main(void *arg)
{
	struct sleeper *s = arg;
	char c;

	s->reg_err = gca_register_thread(s->a);
	__atomic_store_n(&s->registered, 1, __ATOMIC_RELEASE);
	while (read(s->pipe[0], &c, 1) < 0 && errno == EINTR)
		;
	/* the safepoint the cycle has been waiting for */
	s->poll_err = gca_poll(s->a);
	gca_unregister_thread(s->a);
	return NULL;
}

struct sleep_req {
	const char *state;
	const struct gca_ctrl *ctrl;
	int release_fd;		/* the sleeper's pipe */
	int write_err;
	bool in_cycle;
};

static uint32_t ctrl_phase(const struct gca_ctrl *c)
{
	return __atomic_load_n(&c->phase, __ATOMIC_ACQUIRE);
}

/*
 * Unregistered: once a cycle is under way, and still under way a moment
 * later (waiting for the sleeper), run the state's freezer test; then
 * let the sleeper go, whatever happened.
 */
static void *suspender_main(void *arg)
{
	struct sleep_req *r = arg;
	unsigned int i;

	for (i = 0; i < 60000 && ctrl_phase(r->ctrl) != GCA_PHASE_MARK; i++)
		sleep_ms(1);
	sleep_ms(200);
	r->in_cycle = ctrl_phase(r->ctrl) == GCA_PHASE_MARK;
	if (r->in_cycle)
		r->write_err = write_file(PM_STATE, r->state);
	/* stalled until now, the cycle may complete once the sleeper polls */
	r->in_cycle = r->in_cycle && ctrl_phase(r->ctrl) == GCA_PHASE_MARK;
	write_byte(r->release_fd, 'x');
	return NULL;
}

TEST_F_TIMEOUT(suspend, during_cycle, 240)
{
	struct gca_params pr = { .heap_size = 64 * SZ_1M,
				 .preempt_signal = -1 };
	struct sleeper s = { 0 };
	struct sleep_req r = { .state = variant->state };
	struct gca_memstats m0, m1;
	pthread_t st, rt;
	int ret;

	ASSERT_EQ(0, gca_open(&s.a, &pr));
	ASSERT_NE(NULL, gca_alloc(s.a, 64));
	ASSERT_EQ(0, pipe(s.pipe));
	ASSERT_EQ(0, pthread_create(&st, NULL, sleeper_main, &s));
	while (!__atomic_load_n(&s.registered, __ATOMIC_ACQUIRE))
		sleep_ms(1);
	ASSERT_EQ(0, s.reg_err);
	ASSERT_EQ(0, gca_read_memstats(s.a, &m0));

	r.ctrl = gca_ctrl(s.a);
	r.release_fd = s.pipe[1];
	ASSERT_EQ(0, pthread_create(&rt, NULL, suspender_main, &r));
	/*
	 * The cycle this asks for waits for the sleeper (blocked, unparked,
	 * no preempt signal) until the suspender lets it go.  The freezer
	 * interrupts this call (-EINTR): ask again.
	 */
	do
		ret = gca_collect(s.a);
	while (ret == -EINTR);
	EXPECT_EQ(0, ret) TH_LOG("gca_collect: %s", strerror(-ret));
	ASSERT_EQ(0, pthread_join(rt, NULL));
	ASSERT_EQ(0, pthread_join(st, NULL));
	ASSERT_TRUE(r.in_cycle)
		TH_LOG("no cycle was waiting for the blocked thread around the freezer test");
	EXPECT_EQ(0, r.write_err)
		TH_LOG("echo %s > " PM_STATE " (pm_test freezer) during a cycle: %s",
		       variant->state, strerror(-r.write_err));
	EXPECT_EQ(0, s.poll_err);
	ASSERT_EQ(0, gca_read_memstats(s.a, &m1));
	EXPECT_LT(m0.num_gc, m1.num_gc) TH_LOG("no cycle completed after the resume");
	close(s.pipe[0]);
	close(s.pipe[1]);
	gca_close(s.a);
}

TEST_HARNESS_MAIN
