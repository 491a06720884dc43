/* SPDX-License-Identifier: (LGPL-2.1 OR MIT) */
/*
 * The arena's pacer knobs, Go's GOGC and GOMEMLIMIT, through
 * GCA_IOC_SET_PARAMS.  Each call returns the value in force before it.
 */
#include <string.h>

#include "gca_int.h"

static int gca_params(struct gca_arena *a, unsigned int flags,
		      int gc_percent, int64_t memory_limit,
		      struct gca_params_arg *p)
{
	memset(p, 0, sizeof(*p));
	p->size = sizeof(*p);
	p->flags = flags;
	p->gc_percent = gc_percent;
	p->memory_limit = memory_limit;
	return __gca_ioctl_retry(a, GCA_IOC_SET_PARAMS, p);
}

/* -errno is < -1 for every errno, so it never looks like "off" (-1). */
int gca_set_gc_percent(struct gca_arena *a, int percent)
{
	struct gca_params_arg p;
	int ret;

	ret = gca_params(a, GCA_SET_GC_PERCENT, percent, 0, &p);
	return ret ? ret : p.gc_percent;
}

int gca_reset_gc_percent(struct gca_arena *a)
{
	struct gca_params_arg p;
	int ret;

	ret = gca_params(a, GCA_SET_DEFAULT_GC_PERCENT, 0, 0, &p);
	return ret ? ret : p.gc_percent;
}

int64_t gca_set_memory_limit(struct gca_arena *a, int64_t bytes)
{
	struct gca_params_arg p;
	int ret;

	if (bytes < 0)
		ret = gca_params(a, 0, 0, 0, &p);
	else
		ret = gca_params(a, GCA_SET_MEMORY_LIMIT, 0, bytes, &p);
	return ret ? ret : p.memory_limit;
}

int64_t gca_reset_memory_limit(struct gca_arena *a)
{
	struct gca_params_arg p;
	int ret;

	ret = gca_params(a, GCA_SET_DEFAULT_MEMORY_LIMIT, 0, 0, &p);
	return ret ? ret : p.memory_limit;
}

/* Debug flags (GCA_DEBUG_*); the previous ones, or -errno. */
static int gca_debug(struct gca_arena *a, unsigned int flags,
		     unsigned int debug)
{
	struct gca_params_arg p;
	int ret;

	memset(&p, 0, sizeof(p));
	p.size = sizeof(p);
	p.flags = flags;
	p.debug = debug;
	ret = __gca_ioctl_retry(a, GCA_IOC_SET_PARAMS, &p);
	return ret ? ret : (int)(p.debug & 0x7fffffff);
}

int gca_set_debug(struct gca_arena *a, unsigned int flags)
{
	return gca_debug(a, GCA_SET_DEBUG, flags);
}

int gca_reset_debug(struct gca_arena *a)
{
	return gca_debug(a, GCA_SET_DEFAULT_DEBUG, 0);
}
