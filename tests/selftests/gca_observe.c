// SPDX-License-Identifier: GPL-2.0
/*
 * GCARENA_DEBUG=gctrace: the monitor thread's lines (Go's format, one per
 * cycle, the level-2 sweep and scavenger lines), its life (started only
 * with gctrace, gone at gca_close()), and gca_wait_cycle(): timeout,
 * wake-up by a cycle, "since the last read" semantics, and that a
 * registered thread waiting in it does not stall collections, with and
 * without the monitor.
 */
#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>

#include "gca_test.h"

#define TRACE_FILE	"/tmp/gca_observe.trace"

static int count_threads(void)
{
	struct dirent *d;
	DIR *dir = opendir("/proc/self/task");
	int n = 0;

	if (!dir)
		return -1;
	while ((d = readdir(dir)))
		if (d->d_name[0] != '.')
			n++;
	closedir(dir);
	return n;
}

/* Redirect stderr to a fresh file; returns the saved stderr. */
static int stderr_to_file(const char *path)
{
	int fd, saved;

	fflush(stderr);
	saved = dup(2);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || saved < 0)
		return -1;
	dup2(fd, 2);
	close(fd);
	return saved;
}

static void stderr_restore(int saved)
{
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
}

static int count_lines(const char *path, const char *prefix)
{
	static char buf[256 * 1024];
	char *p;
	int n = 0;

	if (read_file(path, buf, sizeof(buf)) < 0)
		return -1;
	for (p = buf; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (!strncmp(p, prefix, strlen(prefix)))
			n++;
	return n;
}

/* Wait until the trace file has at least n lines starting with prefix. */
static bool wait_lines(const char *path, const char *prefix, int n)
{
	int i;

	for (i = 0; i < 500; i++) {
		if (count_lines(path, prefix) >= n)
			return true;
		sleep_ms(10);
	}
	return false;
}

struct gcline {
	unsigned long long n, h0, h1, h2, goal, stacks, globals;
	double at;
	int util, procs;
	char clk[3][16], cpu[5][16];
	bool forced, unobserved;
};

static bool parse_gc_line(const char *line, struct gcline *g)
{
	int k;

	memset(g, 0, sizeof(*g));
	k = sscanf(line,
		   "gc %llu @%lfs %d%%: %15[0-9.]+%15[0-9.]+%15[0-9.] ms clock, "
		   "%15[0-9.]+%15[0-9.]/%15[0-9.]/%15[0-9.]+%15[0-9.] ms cpu, "
		   "%llu->%llu->%llu MB, %llu MB goal, %llu MB stacks, "
		   "%llu MB globals, %d P",
		   &g->n, &g->at, &g->util, g->clk[0], g->clk[1], g->clk[2],
		   g->cpu[0], g->cpu[1], g->cpu[2], g->cpu[3], g->cpu[4],
		   &g->h0, &g->h1, &g->h2, &g->goal, &g->stacks, &g->globals,
		   &g->procs);
	g->forced = strstr(line, " (forced)") != NULL;
	g->unobserved = strstr(line, " (unobserved)") != NULL;
	return k == 18;
}

__test_helper void **make_garbage_and_live(struct gca_arena *a,
					     void **live, unsigned int nlive)
{
	unsigned int i;

	/* 8 MiB kept (in a root table), 8 MiB dropped */
	for (i = 0; i < nlive; i++)
		gca_store(a, &live[i], gca_alloc_noscan(a, 64 * 1024));
	for (i = 0; i < nlive; i++)
		gca_alloc_noscan(a, 64 * 1024);
	return live;
}

/*
 * Three cycles with known heaps: 16 MiB allocated of which 8 MiB live,
 * then the same 8 MiB live, then nothing live; then five back-to-back
 * cycles.  gca_collect() may run two cycles (it waits for a whole one),
 * so each step's figures are checked on the line of the last cycle it
 * ran, when the monitor observed it on its own.
 */
TEST(gctrace_lines)
{
	static void *live[128];
	static struct gcline lines[64];
	unsigned long long goals[4], last[4], expect = 1;
	struct gca_memstats ms;
	struct gca_arena *a;
	struct gcline g;
	char *buf, *line, *save = NULL;
	int saved, i, ngc = 0, nobs = 0, nsweep = 0, nscvg = 0, nthreads;
	int checked = 0;

	ASSERT_EQ(0, setenv("GCARENA_DEBUG", "gctrace=2", 1));
	saved = stderr_to_file(TRACE_FILE);
	ASSERT_GE(saved, 0);
	nthreads = count_threads();
	ASSERT_EQ(0, open_arena(&a, SZ_64M * 4, -1));
	/* the monitor is one more thread */
	EXPECT_EQ(nthreads + 1, count_threads());
	ASSERT_EQ(0, gca_add_roots(a, live, sizeof(live)));

	make_garbage_and_live(a, live, 128);
	clear_stack();
	for (i = 1; i <= 3; i++) {
		/* the goal the cycle runs for (a read kicks the monitor) */
		ASSERT_EQ(0, gca_read_memstats(a, &ms));
		goals[i] = ms.next_gc >> 20;
		ASSERT_EQ(0, gca_collect(a));
		last[i] = gca_num_gc(a);
		/* a line per cycle, before the next cycle starts */
		ASSERT_TRUE(wait_lines(TRACE_FILE, "gc ", last[i]));
		if (i == 2) {
			/* drop the live set: the third step frees it */
			memset(live, 0, sizeof(live));
			clear_stack();
		}
	}
	/* back-to-back cycles: the monitor may miss some, never a number */
	for (i = 0; i < 5; i++)
		ASSERT_EQ(0, gca_collect(a));
	ASSERT_TRUE(wait_lines(TRACE_FILE, "gc ", gca_num_gc(a)));
	gca_close(a);
	EXPECT_EQ(nthreads, count_threads());
	stderr_restore(saved);

	buf = malloc(256 * 1024);
	ASSERT_NE(NULL, buf);
	ASSERT_GT(read_file(TRACE_FILE, buf, 256 * 1024), 0);
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		TH_LOG("%s", line);
		if (!strncmp(line, "gc ", 3)) {
			ngc++;
			ASSERT_TRUE(parse_gc_line(line, &g));
			/* every cycle, once, in order */
			EXPECT_EQ(expect, g.n);
			expect = g.n + 1;
			EXPECT_TRUE(g.forced);
			/* the pause in one slot (mark, or mark termination
			 * with concurrent marking), 0 in the others */
			EXPECT_EQ(0, strcmp(g.clk[0], "0"));
			EXPECT_TRUE(!strcmp(g.clk[1], "0") ||
				    !strcmp(g.clk[2], "0"));
			EXPECT_EQ(0ULL, g.stacks);
			EXPECT_EQ(0ULL, g.globals);
			EXPECT_GE(g.procs, 1);
			EXPECT_GE(g.util, 0);
			EXPECT_LE(g.util, 100);
			EXPECT_GE(g.at, 0);
			EXPECT_LT(g.at, 3600);
			if (g.unobserved) {
				EXPECT_EQ(0ULL, g.h0 + g.h1 + g.h2 + g.goal);
			} else {
				nobs++;
			}
			if (g.n < 64)
				lines[g.n] = g;
		} else if (!strncmp(line, "sweep ", 6)) {
			nsweep++;
		} else if (!strncmp(line, "scvg", 4)) {
			nscvg++;
		}
	}
	EXPECT_EQ(expect - 1, (unsigned long long)ngc);
	EXPECT_GE(ngc, 8);
	/* level 2: a sweep and a scvg line per observed cycle */
	EXPECT_EQ(nobs, nsweep);
	EXPECT_GE(nscvg, nsweep);

	for (i = 1; i <= 3; i++) {
		ASSERT_LT(last[i], 64ULL);
		g = lines[last[i]];
		if (g.unobserved)
			continue;
		checked++;
		EXPECT_EQ(g.h0, g.h1);
		if (last[i] == (unsigned long long)i) {
			/* no extra cycle so far: the goal it ran for */
			EXPECT_EQ(goals[i], g.goal);
		}
		if (i == 1 && last[1] == 1) {
			/* 16 MiB allocated, 8 MiB live */
			EXPECT_GE(g.h0, 15ULL);
			EXPECT_LE(g.h0, 17ULL);
		}
		if (i <= 2) {
			EXPECT_GE(g.h2, 7ULL);
			EXPECT_LE(g.h2, 9ULL);
		} else {
			EXPECT_LE(g.h2, 1ULL);
		}
		if (i == 2 || i == 3) {
			/* the 8 MiB live before it */
			EXPECT_GE(g.h0, 7ULL);
			EXPECT_LE(g.h0, 9ULL);
		}
	}
	EXPECT_GE(checked, 1);
	free(buf);
	unlink(TRACE_FILE);
}

TEST(no_monitor_without_gctrace)
{
	struct gca_arena *a;
	int n;

	unsetenv("GCARENA_DEBUG");
	n = count_threads();
	ASSERT_EQ(0, open_arena(&a, SZ_64M, -1));
	EXPECT_EQ(n, count_threads());
	gca_close(a);
}

TEST(wait_timeout)
{
	struct gca_memstats ms;
	struct gca_arena *a;
	uint64_t t0, t;

	ASSERT_EQ(0, open_arena(&a, SZ_64M, -1));
	ASSERT_EQ(0, gca_read_memstats(a, &ms));
	EXPECT_EQ(0, gca_wait_cycle(a, 0));
	t0 = now_ns();
	EXPECT_EQ(0, gca_wait_cycle(a, 100));
	t = now_ns() - t0;
	EXPECT_GE(t, 95ULL * 1000000);
	EXPECT_LT(t, 5000ULL * 1000000);
	/* a cycle, not read yet: at once, and again until read */
	ASSERT_EQ(0, gca_collect(a));
	EXPECT_EQ(1, gca_wait_cycle(a, 0));
	EXPECT_EQ(1, gca_wait_cycle(a, 1000));
	ASSERT_EQ(0, gca_read_memstats(a, &ms));
	EXPECT_EQ(0, gca_wait_cycle(a, 10));
	gca_close(a);
}

struct waiter {
	struct gca_arena *a;
	atomic_int started;
	int ret;
	uint64_t woke_ns;
};

static void *waiter_fn(void *arg)
{
	struct waiter *w = arg;

	/* registered: the kernel must not wait for it while it sleeps */
	if (gca_register_thread(w->a)) {
		w->ret = -1000;
		return NULL;
	}
	atomic_store(&w->started, 1);
	w->ret = gca_wait_cycle(w->a, 20000);
	w->woke_ns = now_ns();
	gca_unregister_thread(w->a);
	return NULL;
}

static void wait_wakes(struct __test_metadata *_metadata, bool gctrace)
{
	struct gca_memstats ms;
	struct gca_arena *a;
	struct waiter w;
	pthread_t th;
	uint64_t t0, t1;
	int saved = -1;

	if (gctrace) {
		ASSERT_EQ(0, setenv("GCARENA_DEBUG", "gctrace=1", 1));
		saved = stderr_to_file("/dev/null");
	} else {
		unsetenv("GCARENA_DEBUG");
	}
	ASSERT_EQ(0, open_arena(&a, SZ_64M, -1));
	ASSERT_EQ(0, gca_read_memstats(a, &ms));
	memset(&w, 0, sizeof(w));
	w.a = a;
	ASSERT_EQ(0, pthread_create(&th, NULL, waiter_fn, &w));
	while (!atomic_load(&w.started))
		sleep_ms(1);
	sleep_ms(200);		/* asleep in poll() by now */
	t0 = now_ns();
	ASSERT_EQ(0, gca_collect(a));
	t1 = now_ns();
	ASSERT_EQ(0, pthread_join(th, NULL));
	EXPECT_EQ(1, w.ret);
	/* the sleeping registered thread did not hold the cycle up long */
	TH_LOG("collect took %llu us, waiter woke %llu us after it",
	       (unsigned long long)(t1 - t0) / 1000,
	       (unsigned long long)(w.woke_ns > t1 ? w.woke_ns - t1 : 0) / 1000);
	EXPECT_LT(t1 - t0, 3000ULL * 1000000);
	EXPECT_LT(w.woke_ns - t0, 5000ULL * 1000000);
	gca_close(a);
	if (saved >= 0)
		stderr_restore(saved);
}

TEST(wait_wakes_on_cycle)
{
	wait_wakes(_metadata, false);
}

TEST(wait_wakes_on_cycle_gctrace)
{
	wait_wakes(_metadata, true);
}

/* Many cycles while a registered thread waits in a loop. */
struct looper {
	struct gca_arena *a;
	atomic_int stop;
	int seen, err;
};

static void *looper_fn(void *arg)
{
	struct looper *l = arg;
	struct gca_memstats ms;
	int r;

	while (!atomic_load(&l->stop)) {
		r = gca_wait_cycle(l->a, 50);
		if (r < 0) {
			l->err = r;
			break;
		}
		if (r == 1) {
			l->seen++;
			if (gca_read_memstats(l->a, &ms)) {
				l->err = -1;
				break;
			}
		}
	}
	return NULL;
}

TEST(wait_loop_many_cycles)
{
	struct gca_memstats ms;
	struct gca_arena *a;
	struct looper l;
	pthread_t th;
	int i;

	unsetenv("GCARENA_DEBUG");
	ASSERT_EQ(0, open_arena(&a, SZ_64M, -1));
	memset(&l, 0, sizeof(l));
	l.a = a;
	ASSERT_EQ(0, pthread_create(&th, NULL, looper_fn, &l));
	for (i = 0; i < 50; i++) {
		ASSERT_EQ(0, gca_collect(a));
		if (i % 10 == 0)
			sleep_ms(20);
	}
	sleep_ms(100);
	atomic_store(&l.stop, 1);
	ASSERT_EQ(0, pthread_join(th, NULL));
	EXPECT_EQ(0, l.err);
	ASSERT_EQ(0, gca_read_memstats(a, &ms));
	TH_LOG("the waiter saw %d wake-ups for %u cycles", l.seen, ms.num_gc);
	EXPECT_GE(l.seen, 1);
	EXPECT_LE(l.seen, (int)ms.num_gc);
	gca_close(a);
}

TEST_HARNESS_MAIN
