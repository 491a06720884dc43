/* SPDX-License-Identifier: (LGPL-2.1 OR MIT) */
/*
 * Statistics: GCA_IOC_READ_STATS, shaped like Go's runtime.MemStats.
 */
#include <string.h>

#include "gca_int.h"

int gca_read_memstats(struct gca_arena *a, struct gca_memstats *ms)
{
	struct gca_stats st;
	int ret;

	memset(&st, 0, sizeof(st));
	st.size = sizeof(st);
	ret = __gca_ioctl_retry(a, GCA_IOC_READ_STATS, &st);
	if (ret)
		return ret;
	__gca_obs_stats_read(a, st.num_gc);

	ms->alloc = st.alloc;
	ms->total_alloc = st.total_alloc;
	ms->sys = st.sys;
	ms->mallocs = st.mallocs;
	ms->frees = st.frees;
	ms->heap_alloc = st.heap_alloc;
	ms->heap_sys = st.heap_sys;
	ms->heap_idle = st.heap_idle;
	ms->heap_inuse = st.heap_inuse;
	ms->heap_released = st.heap_released;
	ms->heap_objects = st.heap_objects;
	ms->next_gc = st.next_gc;
	ms->last_gc = st.last_gc;
	ms->pause_total_ns = st.pause_total_ns;
	memcpy(ms->pause_ns, st.pause_ns, sizeof(ms->pause_ns));
	memcpy(ms->pause_end, st.pause_end, sizeof(ms->pause_end));
	ms->num_gc = st.num_gc;
	ms->num_forced_gc = st.num_forced_gc;
	ms->gc_cpu_fraction = st.gc_cpu_fraction_ppb / 1e9;
	ms->gc_percent = st.gc_percent;
	ms->memory_limit = st.memory_limit;
	ms->heap_live = st.heap_live;
	ms->heap_marked = st.heap_marked;
	ms->gc_trigger = st.gc_trigger;
	memcpy(ms->pause_hist, st.pause_hist, sizeof(ms->pause_hist));
	ms->num_pauses = st.num_pauses;
	ms->assist_ns = st.assist_ns;
	ms->checkmark_cycles = st.checkmark_cycles;
	ms->checkmark_failures = st.checkmark_failures;
	ms->debug = st.debug;
	ms->mark_term_retries = st.mark_term_retries;
	ms->mark_slice_max = st.mark_slice_max;
	return 0;
}
