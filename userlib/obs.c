/* SPDX-License-Identifier: (LGPL-2.1 OR MIT) */
/*
 * Observability state of an arena: GCARENA_DEBUG, read at gca_open()
 * (as Go reads GODEBUG at start-up), the gctrace monitor thread's life,
 * and what gca_wait_cycle() and the heap profile share.
 *
 * GCARENA_DEBUG is a comma-separated list of name=value settings:
 *   gctrace=N         1: a line per completed cycle on stderr (gctrace.c);
 *                     2: also a sweep and scavenger summary per cycle
 *   memprofilerate=N  the heap profile's sampling rate in bytes, as Go's
 *                     runtime.MemProfileRate (0 = off, default 524288)
 * Unknown names are ignored, as Go ignores unknown GODEBUG settings.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gca_obs.h"

static uint64_t gca_prog_start;

uint64_t __gca_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

uint64_t __gca_real_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* "Program start" for gctrace's @#s: the library's initialisation. */
__attribute__((constructor)) static void gca_obs_ctor(void)
{
	gca_prog_start = __gca_real_ns();
}

uint64_t __gca_prog_start_ns(void)
{
	return gca_prog_start;
}

/*
 * GCA_IOC_READ_STATS for the library's own use: unlike
 * gca_read_memstats() it does not count as the program's read for
 * gca_wait_cycle(), and it never registers the calling thread.
 */
int __gca_read_stats_raw(struct gca_arena *a, struct gca_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->size = sizeof(*st);
	return __gca_ioctl_retry(a, GCA_IOC_READ_STATS, st);
}

/* Every arena's state, so that a fork() child forgets its monitors. */
static pthread_mutex_t gca_obs_list_lock = PTHREAD_MUTEX_INITIALIZER;
static struct gca_obs *gca_obs_list;
static pthread_once_t gca_obs_once = PTHREAD_ONCE_INIT;

static void gca_obs_atfork_prepare(void)
{
	pthread_mutex_lock(&gca_obs_list_lock);
}

static void gca_obs_atfork_parent(void)
{
	pthread_mutex_unlock(&gca_obs_list_lock);
}

/*
 * The monitor threads did not come along: gca_close() in the child must
 * not join them (the eventfd is the child's copy: closing it is right).
 */
static void gca_obs_atfork_child(void)
{
	struct gca_obs *o;

	pthread_mutex_init(&gca_obs_list_lock, NULL);
	for (o = gca_obs_list; o; o = o->next) {
		pthread_mutex_init(&o->lock, NULL);
		pthread_cond_init(&o->cond, NULL);
		pthread_mutex_init(&o->prof_lock, NULL);
		o->mon_running = false;
	}
}

static void gca_obs_init_once(void)
{
	pthread_atfork(gca_obs_atfork_prepare, gca_obs_atfork_parent,
		       gca_obs_atfork_child);
}

/* Value of setting name in a GODEBUG-style list, or NULL. */
static const char *gca_debug_get(const char *list, const char *name,
				 char *buf, size_t n)
{
	size_t len = strlen(name), vlen;
	const char *p = list, *end;

	while (p && *p) {
		end = strchr(p, ',');
		if (!end)
			end = p + strlen(p);
		if ((size_t)(end - p) > len && !strncmp(p, name, len) &&
		    p[len] == '=') {
			vlen = end - (p + len + 1);
			if (vlen >= n)
				vlen = n - 1;
			memcpy(buf, p + len + 1, vlen);
			buf[vlen] = '\0';
			return buf;
		}
		p = *end ? end + 1 : end;
	}
	return NULL;
}

static bool gca_parse_int(const char *s, long long *v)
{
	char *end;

	if (!s || !*s)
		return false;
	*v = strtoll(s, &end, 10);
	return *end == '\0';
}

void __gca_obs_open(struct gca_arena *a)
{
	const char *env = getenv("GCARENA_DEBUG");
	int64_t rate = GCA_PROF_RATE_DEFAULT;
	struct gca_obs *o;
	long long v;
	char buf[32];
	int ret;

	pthread_once(&gca_obs_once, gca_obs_init_once);
	o = calloc(1, sizeof(*o));
	if (!o) {
		/* No profile, no trace: allocation is unaffected. */
		return;
	}
	o->arena = a;
	o->stop_fd = -1;
	o->created_mono_ns = __gca_mono_ns();
	pthread_mutex_init(&o->lock, NULL);
	pthread_cond_init(&o->cond, NULL);
	pthread_mutex_init(&o->prof_lock, NULL);

	if (env) {
		if (gca_parse_int(gca_debug_get(env, "gctrace", buf,
						sizeof(buf)), &v) && v > 0)
			o->gctrace = v > 2 ? 2 : (int)v;
		if (gca_parse_int(gca_debug_get(env, "memprofilerate", buf,
						sizeof(buf)), &v) && v >= 0)
			rate = v;
	}
	__gca_prof_init(o, rate);

	pthread_mutex_lock(&gca_obs_list_lock);
	o->next = gca_obs_list;
	gca_obs_list = o;
	pthread_mutex_unlock(&gca_obs_list_lock);
	__atomic_store_n(&a->obs, o, __ATOMIC_RELEASE);

	if (o->gctrace) {
		ret = __gca_monitor_start(o);
		if (ret) {
			char msg[128];
			int n;

			/* A debugging aid that failed must not fail the open. */
			n = snprintf(msg, sizeof(msg),
				     "gcarena: gctrace: cannot start the monitor thread: %s\n",
				     strerror(-ret));
			if (n > 0 && write(STDERR_FILENO, msg, n) < 0)
				n = 0;
		}
	}
}

void __gca_obs_close(struct gca_arena *a)
{
	struct gca_obs *o = a->obs, **pp;

	if (!o)
		return;
	__gca_monitor_stop(o);
	pthread_mutex_lock(&gca_obs_list_lock);
	for (pp = &gca_obs_list; *pp; pp = &(*pp)->next) {
		if (*pp == o) {
			*pp = o->next;
			break;
		}
	}
	pthread_mutex_unlock(&gca_obs_list_lock);
	a->obs = NULL;
	__gca_prof_free(o);
	pthread_cond_destroy(&o->cond);
	pthread_mutex_destroy(&o->lock);
	pthread_mutex_destroy(&o->prof_lock);
	free(o);
}

void __gca_obs_stats_read(struct gca_arena *a, uint64_t num_gc)
{
	struct gca_obs *o = a->obs;

	if (!o)
		return;
	pthread_mutex_lock(&o->lock);
	if (num_gc > o->prog_seen_gc)
		o->prog_seen_gc = num_gc;
	/*
	 * This read re-armed poll() on the arena: tell the monitor about a
	 * cycle it has not reported yet, or it would not wake for it.
	 */
	if (o->mon_running && !o->mon_exited &&
	    num_gc > __atomic_load_n(&o->mon_gc, __ATOMIC_RELAXED)) {
		uint64_t one = 1;

		if (write(o->stop_fd, &one, sizeof(one)) < 0)
			one = 0;
	}
	pthread_mutex_unlock(&o->lock);
}
