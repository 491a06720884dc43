/* SPDX-License-Identifier: (LGPL-2.1 OR MIT) */
/*
 * Concurrent marking, the mutator's side: the write barrier's slow path
 * and buffer (Go's hybrid barrier and wbBuf) and the bulk barrier
 * (gca_memmove, Go's typedmemmove).  Parking a thread around a blocking
 * call (gca_enter_blocking/gca_leave_blocking) is park.c's.
 *
 * The barrier (proposal 17503, Go 1.8): while the collector marks
 * (GCA_PHASE_MARK, GCA_PHASE_MARK_TERM), a pointer store records the
 * value it overwrites and the value it stores; the kernel shades both
 * when the buffer reaches it (GCA_IOC_HANDSHAKE wbuf/nwbuf), when full or
 * at the thread's next handshake, which is always before the thread's
 * answer to mark termination.  Only values that point into the heap are
 * recorded (Go's wbBuf filters nil; a range check filters the rest).
 *
 * The store is a critical section with respect to handshakes, see
 * __gca_ts in gcarena.h: no handshake (from the preempt signal's handler
 * or from the library) happens between the phase check and the store,
 * nor between recording and storing.  The buffer itself is touched only
 * inside such a section or inside the library's own (in_lib), which the
 * handler also respects.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>

#include "gca_int.h"

__thread struct __gca_thread_state __gca_ts
	__attribute__((tls_model("initial-exec")));

#define signal_fence()	__atomic_signal_fence(__ATOMIC_SEQ_CST)

static inline void gca_store_enter(void)
{
	__gca_ts.in_store++;
	signal_fence();
}

static inline void gca_store_exit(void)
{
	signal_fence();
	__gca_ts.in_store--;
	signal_fence();
	if (unlikely(__gca_ts.deferred))
		__gca_store_deferred();
}

/*
 * Hand the buffer to the kernel, outside the store's critical section (a
 * handshake may hold the thread until sweeping starts: a preempt signal
 * of another arena must still be answered meanwhile).  A handshake
 * answers whatever is pending, and gives the cache back, as any other.
 */
static void gca_wb_flush(struct gca_tcache *tc)
{
	int ret;

	signal_fence();
	__gca_ts.in_store--;
	signal_fence();
	ret = __gca_handshake(tc, GCA_IOC_HANDSHAKE, true);
	if (ret == -EAGAIN)
		sched_yield();
	signal_fence();
	__gca_ts.in_store++;
	signal_fence();
}

/*
 * The barrier is on (as gca_store() saw it): record, then store.  Called
 * inside the store's section, which it leaves.
 */
void __gca_store_slow(struct gca_arena *a, void **slot, void *value)
{
	struct gca_tcache *tc = __gca_last;

	if (unlikely(!tc || tc->arena != a || __gca_tc_dead(tc))) {
		/* Finding or registering the thread may block: not inside. */
		signal_fence();
		__gca_ts.in_store--;
		signal_fence();
		tc = __gca_tc(a);
		signal_fence();
		__gca_ts.in_store++;
		signal_fence();
		if (!tc && gca_barrier_active(a)) {
			/*
			 * A thread that cannot register (no thread slot left,
			 * no memory) has nowhere to record the store, and
			 * storing without would risk freeing a live object.
			 */
			fprintf(stderr, "libgcarena: gca_store() while marking "
				"from a thread that cannot register: %s\n",
				strerror(errno));
			abort();
		}
	}
	for (;;) {
		if (!tc || !gca_barrier_active(a)) {
			__atomic_store_n(slot, value, __ATOMIC_RELAXED);
			break;
		}
		if (likely(tc->nwbuf <= GCA_WBUF_ENTRIES - 2)) {
			gca_wb_record(tc, (uintptr_t)__atomic_load_n(slot,
							__ATOMIC_RELAXED));
			gca_wb_record(tc, (uintptr_t)value);
			__atomic_store_n(slot, value, __ATOMIC_RELAXED);
			break;
		}
		/* Full: flush, then look at the phase again. */
		gca_wb_flush(tc);
	}
	gca_store_exit();
}

/*
 * The preempt signal came while a store was under way: answer now for
 * every arena whose cache is not inside the library (those answer when
 * they leave it).
 */
void __gca_store_deferred(void)
{
	struct gca_tcache *tc;

	if (__gca_ts.in_store)
		return;		/* nested: the outermost store answers */
	__gca_ts.deferred = 0;
	signal_fence();
	for (tc = __gca_tlist; tc; tc = tc->tnext) {
		if (__gca_tc_dead(tc) || !tc->pending || tc->in_lib)
			continue;
		__gca_pending(tc);
	}
}

/*
 * ---------------------------------------------------------------------
 * gca_memmove(): Go's bulk barrier.  With the barrier on, each chunk
 * records the words of dst it is about to overwrite, is copied, then
 * records the words it wrote (what the collector will find in dst; for
 * aligned copies exactly src's words), all inside one store section.
 * Chunks run in the direction memmove() would copy, so that an
 * overlapping copy reads each byte before it is overwritten.
 */

/* Words recorded per chunk of a copy with the barrier on. */
#define GCA_MOVE_CHUNK_WORDS	((GCA_WBUF_ENTRIES - 4) / 2 - 2)
#define GCA_MOVE_CHUNK		(GCA_MOVE_CHUNK_WORDS * sizeof(uintptr_t))
/* Barrier off: copied per section, so that a handshake is never late. */
#define GCA_MOVE_CHUNK_OFF	(256 * 1024)

/* Record the aligned words that cover [p, p + n). */
static void gca_wb_record_range(struct gca_tcache *tc, const void *p,
				size_t n)
{
	uintptr_t w = (uintptr_t)p & ~(uintptr_t)(sizeof(uintptr_t) - 1);
	uintptr_t end = (uintptr_t)p + n;

	for (; w < end; w += sizeof(uintptr_t))
		gca_wb_record(tc, __atomic_load_n((uintptr_t *)w,
						  __ATOMIC_RELAXED));
}

/* Entries the barrier records for a chunk of n bytes at most. */
static size_t gca_move_entries(size_t n)
{
	return 2 * (n / sizeof(uintptr_t) + 2);
}

void gca_memmove(struct gca_arena *a, void *dst, const void *src, size_t n)
{
	bool backward = (uintptr_t)dst > (uintptr_t)src &&
			(uintptr_t)dst - (uintptr_t)src < n;
	struct gca_tcache *tc = NULL;
	size_t done = 0, len, off;
	bool on;

	while (done < n) {
		if (!tc && gca_barrier_active(a)) {
			/* Outside the section: this may register the thread. */
			tc = __gca_tc(a);
			if (!tc) {
				fprintf(stderr, "libgcarena: gca_memmove() "
					"while marking from a thread that "
					"cannot register: %s\n",
					strerror(errno));
				abort();
			}
		}
		gca_store_enter();
		on = gca_barrier_active(a);
		if (on && !tc) {
			/* The barrier came on since: find the cache first. */
			gca_store_exit();
			continue;
		}
		len = n - done;
		if (on) {
			if (len > GCA_MOVE_CHUNK)
				len = GCA_MOVE_CHUNK;
			if (tc->nwbuf + gca_move_entries(len) >
			    GCA_WBUF_ENTRIES) {
				gca_store_exit();
				if (__gca_handshake(tc, GCA_IOC_HANDSHAKE,
						    true) == -EAGAIN)
					sched_yield();
				continue;
			}
		} else if (len > GCA_MOVE_CHUNK_OFF) {
			len = GCA_MOVE_CHUNK_OFF;
		}
		off = backward ? n - done - len : done;
		if (on)
			gca_wb_record_range(tc, (char *)dst + off, len);
		memmove((char *)dst + off, (const char *)src + off, len);
		if (on)
			gca_wb_record_range(tc, (char *)dst + off, len);
		done += len;
		gca_store_exit();
	}
}
