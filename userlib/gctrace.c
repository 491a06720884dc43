/* SPDX-License-Identifier: (LGPL-2.1 OR MIT) */
/*
 * GCARENA_DEBUG=gctrace=1: one line per completed cycle on stderr, in
 * the format of Go's GODEBUG=gctrace=1 (runtime/extern.go):
 *
 *   gc # @#s #%: #+#+# ms clock, #+#/#/#+# ms cpu, #->#-># MB, # MB goal,
 *   # MB stacks, # MB globals, # P [(forced)]
 *
 * A monitor thread, started by gca_open() only when gctrace is on, sleeps
 * in poll() on the arena's file, which is readable once a cycle has
 * completed since the last GCA_IOC_READ_STATS; it then reads the
 * statistics (which re-arms poll) and prints a line for each cycle
 * completed since its previous read.  A read by the program itself
 * (gca_read_memstats()) re-arms poll too, so that call kicks the monitor
 * through an eventfd when a cycle is new to it, and the monitor also
 * looks at num_gc on the control page once a second (a raw ioctl read by
 * the program is not seen otherwise).  It is not a registered thread: it
 * never touches the heap, so it never stalls a collection, and it has
 * every signal blocked.  gca_close() stops it through the eventfd.
 *
 * The fields, from the kernel's figures (struct gca_stats):
 *   gc #       the cycle's number: num_gc after it.
 *   @#s        about when the cycle ran, in seconds since the program
 *              started (the library's initialisation): pause_end -
 *              pause_ns of the cycle's entry in the pause ring, its end
 *              minus its longest pause.  The kernel reports no start time.
 *   #%         gc_cpu_fraction * 100, truncated, as Go prints it: the
 *              collector's share of the CPU time available since the
 *              arena was created.
 *   #+#+# ms clock
 *              Go: stop-the-world sweep termination, concurrent mark,
 *              stop-the-world mark termination.  gcarena marks
 *              concurrently too and holds the threads only at mark
 *              termination; its one figure per cycle, pause_ns, the
 *              longest time a thread could not run its own code because
 *              of the collector, is printed in the mark termination slot.
 *              The kernel has no figure for the other phases: they print 0.
 *   #+#/#/#+# ms cpu
 *              Go: sweep termination, mark assist / background / idle
 *              mark, mark termination.  The kernel counts the collector's
 *              CPU time (its thread's marking and sweeping, and the stack
 *              scans done in the threads' handshakes) as one figure, of
 *              which only gc_cpu_fraction is exported; the cycle's share,
 *              gc_cpu_fraction * time since creation * online CPUs minus
 *              the same at the previous cycle, is printed as background
 *              mark time.  The threads' mark assist time (assist_ns
 *              moved) is the assist figure.  The others are 0.
 *   #->#-># MB heap at the start of the cycle, at the end of marking, and
 *              marked (live) heap.  Live is heap_marked.  The start is
 *              derived: the live heap after the previous cycle plus the
 *              bytes allocated between the two (total_alloc moves only
 *              with allocation; at the end of a cycle heap_alloc equals
 *              heap_marked, so total_alloc then is total_alloc now minus
 *              the heap_alloc - heap_marked allocated since): an estimate,
 *              as objects allocated during the cycle and garbage not yet
 *              swept when the statistics are read count in it.  The
 *              kernel has no figure for the heap at the end of marking:
 *              the second figure repeats the first.
 *   # MB goal  the heap goal the cycle ran for: next_gc as it was after
 *              the previous cycle.
 *   # MB stacks, # MB globals
 *              Go: scannable stack and global bytes.  The kernel scans
 *              thread stacks and gca_add_roots() ranges but exports no
 *              figure for them: 0.
 *   # P        online CPUs (the number gc_cpu_fraction is divided by).
 *   (forced)   the cycle was requested (gca_collect()) or forced by the
 *              2-minute rule: num_forced_gc moved.
 *
 * Cycles completed while the monitor was not looking (two cycles between
 * its wake-up and its read) print their number, time, pause and CPU
 * share, but the heap figures and the goal need a read after each cycle:
 * they print 0, and the line ends in "(unobserved)"; the next fully
 * observed cycle is exact again.  Sizes are whole MiB, rounded down (Go's
 * >> 20), times are Go's fmtNSAsMS.
 *
 * gctrace=2 adds, after each fully observed cycle:
 *   sweep #: freed # objects, # MB; # MB in use, # MB idle
 *              objects freed by the cycle's sweep (frees moved), bytes
 *              (start heap - live heap), heap_inuse and heap_idle after;
 *   scvg#: # MB released
 *              heap_released grew by that much (printed when it grew);
 *   scvg#: inuse: #, idle: #, sys: #, released: #, consumed: # (MB)
 *              the heap's page state after the cycle, as Go's old
 *              scavenger trace printed it (consumed = sys - released).
 */
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "gca_obs.h"

/* Go's fmtNSAsMS: whole ms from 10 ms up, else two significant digits
 * with at most three decimals. */
static int gca_fmt_ms(char *buf, size_t n, uint64_t ns)
{
	uint64_t x;
	int dec = 3;

	if (ns >= 10000000ULL)
		return snprintf(buf, n, "%llu", (unsigned long long)(ns / 1000000));
	x = ns / 1000;
	if (x == 0)
		return snprintf(buf, n, "0");
	while (x >= 100) {
		x /= 10;
		dec--;
	}
	if (dec == 3)
		return snprintf(buf, n, "0.%03llu", (unsigned long long)x);
	if (dec == 2)
		return snprintf(buf, n, "0.%02llu", (unsigned long long)x);
	if (dec == 1)
		return snprintf(buf, n, "%llu.%llu", (unsigned long long)(x / 10),
				(unsigned long long)(x % 10));
	return snprintf(buf, n, "%llu", (unsigned long long)x);
}

static void gca_trace_write(const char *buf, int len)
{
	ssize_t n;

	while (len > 0) {
		n = write(STDERR_FILENO, buf, len);
		if (n <= 0)
			return;
		buf += n;
		len -= n;
	}
}

static long gca_online_cpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n > 0 ? n : 1;
}

/* Cumulative collector CPU ns, from gc_cpu_fraction (see above). */
static uint64_t gca_cpu_ns(struct gca_obs *o, const struct gca_stats *st,
			   uint64_t t_read)
{
	long double elapsed;

	if (t_read <= o->created_mono_ns)
		return 0;
	elapsed = (long double)(t_read - o->created_mono_ns);
	return (uint64_t)(elapsed * gca_online_cpus() *
			  st->gc_cpu_fraction_ppb / 1e9L);
}

#define MB(x)	((unsigned long long)((x) >> 20))

/* One "gc #" line for cycle n; observed: the heap figures are known. */
static void gca_trace_cycle(struct gca_obs *o, const struct gca_stats *st,
			    uint64_t n, bool observed, uint64_t heap0,
			    uint64_t cpu_ns, uint64_t assist_ns, bool forced)
{
	char assist[32];
	unsigned int i = (n + GCA_NUM_PAUSE - 1) % GCA_NUM_PAUSE;
	uint64_t pause = 0, end = 0, start, since;
	char line[512], clk[32], cpu[32], at[32];
	int len;

	/* Older cycles than the ring holds have been overwritten. */
	if (n + GCA_NUM_PAUSE > st->num_gc) {
		pause = st->pause_ns[i];
		end = st->pause_end[i];
	}
	start = end > pause ? end - pause : end;
	since = start > __gca_prog_start_ns() ?
		start - __gca_prog_start_ns() : 0;
	snprintf(at, sizeof(at), "%llu.%03llu",
		 (unsigned long long)(since / 1000000000ULL),
		 (unsigned long long)(since / 1000000ULL % 1000));
	gca_fmt_ms(clk, sizeof(clk), pause);
	gca_fmt_ms(cpu, sizeof(cpu), cpu_ns);
	gca_fmt_ms(assist, sizeof(assist), assist_ns);
	len = snprintf(line, sizeof(line),
		       "gc %llu @%ss %d%%: 0+0+%s ms clock, 0+%s/%s/0+0 ms cpu, "
		       "%llu->%llu->%llu MB, %llu MB goal, 0 MB stacks, "
		       "0 MB globals, %ld P%s%s\n",
		       (unsigned long long)n, at,
		       (int)(st->gc_cpu_fraction_ppb / 10000000ULL),
		       clk, assist, cpu,
		       observed ? MB(heap0) : 0, observed ? MB(heap0) : 0,
		       observed ? MB(st->heap_marked) : 0,
		       observed ? MB(o->prev_goal) : 0,
		       gca_online_cpus(), forced ? " (forced)" : "",
		       observed ? "" : " (unobserved)");
	if (len > (int)sizeof(line) - 1)
		len = sizeof(line) - 1;
	gca_trace_write(line, len);
}

static void gca_trace_level2(struct gca_obs *o, const struct gca_stats *st,
			     uint64_t n, uint64_t heap0)
{
	char line[512];
	int len = 0;
	uint64_t freed = heap0 > st->heap_marked ? heap0 - st->heap_marked : 0;

	len += snprintf(line + len, sizeof(line) - len,
			"sweep %llu: freed %llu objects, %llu MB; %llu MB in use, %llu MB idle\n",
			(unsigned long long)n,
			(unsigned long long)(st->frees - o->prev_frees),
			MB(freed), MB(st->heap_inuse), MB(st->heap_idle));
	if (st->heap_released > o->prev_released)
		len += snprintf(line + len, sizeof(line) - len,
				"scvg%llu: %llu MB released\n",
				(unsigned long long)n,
				MB(st->heap_released - o->prev_released));
	len += snprintf(line + len, sizeof(line) - len,
			"scvg%llu: inuse: %llu, idle: %llu, sys: %llu, released: %llu, consumed: %llu (MB)\n",
			(unsigned long long)n, MB(st->heap_inuse),
			MB(st->heap_idle), MB(st->heap_sys),
			MB(st->heap_released),
			MB(st->heap_sys - st->heap_released));
	if (len > (int)sizeof(line) - 1)
		len = sizeof(line) - 1;
	gca_trace_write(line, len);
}

/* Remember the state after the cycle just read, for the next one. */
static void gca_trace_remember(struct gca_obs *o, const struct gca_stats *st,
			       uint64_t talloc_end, uint64_t cpu)
{
	__atomic_store_n(&o->mon_gc, st->num_gc, __ATOMIC_RELAXED);
	o->prev_marked = st->heap_marked;
	o->prev_talloc = talloc_end;
	o->prev_goal = st->next_gc;
	o->prev_frees = st->frees;
	o->prev_released = st->heap_released;
	o->prev_forced = st->num_forced_gc;
	o->prev_cpu_ns = cpu;
	o->prev_assist_ns = st->assist_ns;
}

/* total_alloc at the end of the last cycle (see the comment at the top) */
static uint64_t gca_talloc_end(const struct gca_stats *st)
{
	uint64_t since = st->heap_alloc > st->heap_marked ?
			 st->heap_alloc - st->heap_marked : 0;

	return st->total_alloc > since ? st->total_alloc - since : 0;
}

/* Lines for the cycles completed since the previous read. */
static void gca_trace_report(struct gca_obs *o, const struct gca_stats *st,
			     uint64_t t_read)
{
	uint64_t n, first = o->mon_gc + 1, last = st->num_gc;
	uint64_t cpu = gca_cpu_ns(o, st, t_read);
	uint64_t cycle_cpu = cpu > o->prev_cpu_ns ? cpu - o->prev_cpu_ns : 0;
	uint64_t talloc_end = gca_talloc_end(st);
	uint64_t forced = st->num_forced_gc - o->prev_forced;
	uint64_t assist = st->assist_ns > o->prev_assist_ns ?
			  st->assist_ns - o->prev_assist_ns : 0;
	uint64_t heap0;
	bool observed = last == first;

	if (last < first)
		return;
	/* The ring keeps 256 cycles: older ones are beyond telling. */
	if (last - first >= GCA_NUM_PAUSE)
		first = last - GCA_NUM_PAUSE + 1;
	heap0 = o->prev_marked + (talloc_end > o->prev_talloc ?
				  talloc_end - o->prev_talloc : 0);
	for (n = first; n <= last; n++) {
		/* CPU time of a run of cycles goes to the last one. */
		gca_trace_cycle(o, st, n, observed, heap0,
				n == last ? cycle_cpu : 0,
				n == last ? assist : 0,
				observed ? forced > 0 :
				forced == last - first + 1);
	}
	if (observed && o->gctrace >= 2)
		gca_trace_level2(o, st, last, heap0);
	gca_trace_remember(o, st, talloc_end, cpu);
}

static void *gca_monitor(void *arg)
{
	struct gca_obs *o = arg;
	struct gca_arena *a = o->arena;
	struct pollfd pfd[2];
	struct gca_stats st;
	uint64_t t;
	int ret;

	pfd[0].fd = a->fd;
	pfd[0].events = POLLIN;
	pfd[1].fd = o->stop_fd;
	pfd[1].events = POLLIN;
	for (;;) {
		pfd[0].revents = pfd[1].revents = 0;
		ret = poll(pfd, 2, 1000);
		if (ret < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pfd[1].revents) {
			uint64_t v;

			if (read(o->stop_fd, &v, sizeof(v)) < 0 &&
			    errno != EAGAIN)
				break;
			if (__atomic_load_n(&o->mon_stop, __ATOMIC_ACQUIRE))
				break;
		}
		if (pfd[0].revents & (POLLERR | POLLHUP | POLLNVAL))
			break;
		/* readable, kicked, or the once-a-second look */
		if (!(pfd[0].revents & POLLIN) &&
		    gca_num_gc(a) == __atomic_load_n(&o->mon_gc,
						     __ATOMIC_RELAXED))
			continue;
		t = __gca_mono_ns();
		ret = __gca_read_stats_raw(a, &st);
		t = (t + __gca_mono_ns()) / 2;
		if (ret)
			break;
		pthread_mutex_lock(&o->lock);
		gca_trace_report(o, &st, t);
		pthread_cond_broadcast(&o->cond);
		pthread_mutex_unlock(&o->lock);
		/* Right after a cycle is the best time to see what it freed. */
		__gca_prof_refresh(o, false);
	}
	pthread_mutex_lock(&o->lock);
	o->mon_exited = true;
	pthread_cond_broadcast(&o->cond);
	pthread_mutex_unlock(&o->lock);
	return NULL;
}

int __gca_monitor_start(struct gca_obs *o)
{
	struct gca_stats st;
	sigset_t all, old;
	uint64_t t;
	int ret;

	o->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (o->stop_fd < 0)
		return -errno;
	/* The starting point: cycles before this are not reported. */
	t = __gca_mono_ns();
	ret = __gca_read_stats_raw(o->arena, &st);
	if (ret)
		goto err;
	gca_trace_remember(o, &st, gca_talloc_end(&st),
			   gca_cpu_ns(o, &st, t));
	/* Signals go to the program's threads, never to the monitor. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	ret = -pthread_create(&o->mon, NULL, gca_monitor, o);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ret)
		goto err;
	o->mon_running = true;
	return 0;
err:
	close(o->stop_fd);
	o->stop_fd = -1;
	return ret;
}

void __gca_monitor_stop(struct gca_obs *o)
{
	uint64_t one = 1;

	if (o->mon_running) {
		__atomic_store_n(&o->mon_stop, true, __ATOMIC_RELEASE);
		if (write(o->stop_fd, &one, sizeof(one)) == sizeof(one))
			pthread_join(o->mon, NULL);
		else
			pthread_detach(o->mon);
		o->mon_running = false;
	}
	if (o->stop_fd >= 0) {
		close(o->stop_fd);
		o->stop_fd = -1;
	}
}
