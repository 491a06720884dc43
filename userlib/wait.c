/* SPDX-License-Identifier: (LGPL-2.1 OR MIT) */
/*
 * gca_wait_cycle(): sleep until a collection cycle has completed since the
 * program last read the statistics.
 *
 * The kernel makes the arena's file readable (EPOLLIN) when a cycle has
 * completed since the last GCA_IOC_READ_STATS, so the wait is a poll() on
 * it.  With gctrace on, the library's monitor thread reads the statistics
 * after every cycle, which would swallow that readiness: the wait then
 * compares num_gc on the control page with the num_gc of the program's
 * last gca_read_memstats() instead, and sleeps on the monitor's condition
 * variable, which it signals after each cycle.
 *
 * A registered thread that sleeps here must not stall a collection.  It
 * answers any pending handshake first (this is a safepoint), then parks
 * with gca_enter_blocking() for the whole wait (it touches no arena
 * memory), so that the kernel counts it as answering every handshake and
 * scans its stack itself; gca_leave_blocking() on the way out answers
 * what came meanwhile.  Should the park fail (no memory for the park
 * table, ...), the preempt signal does the job: its handler answers, and
 * it interrupts poll() (never restarted, even with SA_RESTART), so the
 * wait goes on with what is left of the timeout.
 */
#include <poll.h>
#include <time.h>

#include "gca_obs.h"

/* Milliseconds left until deadline (monotonic ns); -1 = forever. */
static int gca_ms_left(int64_t deadline)
{
	uint64_t now;

	if (deadline < 0)
		return -1;
	now = __gca_mono_ns();
	if ((uint64_t)deadline <= now)
		return 0;
	/* Round up: never wake early and spin. */
	return (int)(((uint64_t)deadline - now + 999999) / 1000000);
}

/* A registered caller answers a pending handshake before it sleeps. */
static void gca_wait_safepoint(struct gca_arena *a)
{
	struct gca_tcache *tc = __gca_tc_find(a);

	if (tc && !__gca_tc_dead(tc))
		__gca_handshake(tc, GCA_IOC_HANDSHAKE, false);
}

static int gca_wait_poll(struct gca_arena *a, int64_t deadline)
{
	struct pollfd pfd;
	int ret, ms;

	for (;;) {
		ms = gca_ms_left(deadline);
		pfd.fd = a->fd;
		pfd.events = POLLIN;
		pfd.revents = 0;
		ret = poll(&pfd, 1, ms);
		if (ret < 0) {
			if (errno != EINTR)
				return -errno;
			/* The preempt signal (or another): go on waiting. */
			continue;
		}
		if (ret == 0)
			return 0;
		if (pfd.revents & POLLNVAL)
			return -EBADF;
		if (pfd.revents & (POLLERR | POLLHUP))
			return -EIO;
		if (pfd.revents & POLLIN)
			return 1;
	}
}

static int gca_wait_monitor(struct gca_arena *a, struct gca_obs *o,
			    int64_t deadline)
{
	struct timespec ts;
	int ret = 0;

	if (deadline >= 0) {
		/* The condition variable runs on CLOCK_REALTIME. */
		uint64_t now = __gca_mono_ns(), real = __gca_real_ns();
		uint64_t abs = real + ((uint64_t)deadline > now ?
				       (uint64_t)deadline - now : 0);

		ts.tv_sec = abs / 1000000000ULL;
		ts.tv_nsec = abs % 1000000000ULL;
	}
	pthread_mutex_lock(&o->lock);
	for (;;) {
		if (gca_num_gc(a) > o->prog_seen_gc) {
			ret = 1;
			break;
		}
		if (o->mon_exited) {
			/* The monitor died (a failed read): poll after all. */
			ret = 2;
			break;
		}
		if (deadline < 0) {
			pthread_cond_wait(&o->cond, &o->lock);
		} else if (pthread_cond_timedwait(&o->cond, &o->lock, &ts)) {
			ret = gca_num_gc(a) > o->prog_seen_gc;
			break;
		}
	}
	pthread_mutex_unlock(&o->lock);
	if (ret == 2)
		return gca_wait_poll(a, deadline);
	return ret;
}

int gca_wait_cycle(struct gca_arena *a, int timeout_ms)
{
	struct gca_obs *o;
	int64_t deadline = -1;
	bool parked;
	int ret, ret2;

	if (!a)
		return -EINVAL;
	if (timeout_ms >= 0)
		deadline = (int64_t)__gca_mono_ns() +
			   (int64_t)timeout_ms * 1000000LL;
	gca_wait_safepoint(a);
	/* A failed park leaves the preempt signal to answer for us. */
	parked = gca_enter_blocking(a) == 0;
	o = __atomic_load_n(&a->obs, __ATOMIC_ACQUIRE);
	if (o && o->mon_running)
		ret = gca_wait_monitor(a, o, deadline);
	else
		ret = gca_wait_poll(a, deadline);
	if (parked) {
		ret2 = gca_leave_blocking(a);
		/* EAGAIN/EINTR: answered at the next safepoint instead */
		if (ret2 && ret2 != -EAGAIN && ret2 != -EINTR && ret >= 0)
			ret = ret2;
	}
	return ret;
}
