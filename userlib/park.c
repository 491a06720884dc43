/* SPDX-License-Identifier: (LGPL-2.1 OR MIT) */
/*
 * Parking (bdwgc's GC_do_blocking, Go's entersyscallblock): the park
 * table, gca_enter_blocking() and gca_leave_blocking().
 *
 * A parked thread's stack is scanned by another thread from the sp it
 * gave, while it keeps running (into its system call).  That sp is its
 * caller's: the caller's frame and those above stay put.  Its registers
 * do not: a pointer that lives only in a callee-saved register of some
 * caller would be pushed by the blocking call's own frames, below sp, or
 * stay in the register, and neither is scanned.  So gca_enter_blocking()
 * copies the callee-saved registers, as they were when it was called,
 * into the arena's park table, a root range made at the first park, one
 * slot per thread (Mono's saved thread context, in a place the collector
 * already scans).  The table's slot is written before the thread parks
 * and cleared after it unparks, each with the barrier, as any store into
 * a root range.
 *
 * gca_enter_blocking() is an entry stub per architecture, in arch/
 * (x86_64.c, arm64.c), that pushes the callee-saved registers and calls
 * __gca_enter_blocking(); elsewhere the C fallback at the end of this
 * file does its best.
 */
#include <setjmp.h>
#include <string.h>
#include <sys/mman.h>

#include "gca_int.h"

static int gca_park_table(struct gca_arena *a)
{
	size_t size;
	void *p;
	int ret = 0;

	if (__atomic_load_n(&a->park_regs, __ATOMIC_ACQUIRE))
		return 0;
	pthread_mutex_lock(&a->lock);
	if (!a->park_regs) {
		size = (size_t)a->max_threads * GCA_PARK_WORDS *
		       sizeof(uintptr_t);
		p = mmap(NULL, size, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED) {
			ret = -errno;
		} else {
			ret = gca_add_roots(a, p, size);
			if (ret) {
				munmap(p, size);
			} else {
				a->park_size = size;
				__atomic_store_n(&a->park_regs, p,
						 __ATOMIC_RELEASE);
			}
		}
	}
	pthread_mutex_unlock(&a->lock);
	return ret;
}

/*
 * Write (regs) or clear (regs NULL) the thread's park slot, with the
 * barrier.  Inside the library's section (in_lib).
 */
static void gca_park_slot_store(struct gca_tcache *tc, const uintptr_t *regs)
{
	struct gca_arena *a = tc->arena;
	uintptr_t *slot = a->park_regs + (size_t)tc->tid * GCA_PARK_WORDS;
	unsigned int i;

	while (gca_barrier_active(a)) {
		if (tc->nwbuf + 2 * GCA_PARK_WORDS <= GCA_WBUF_ENTRIES) {
			for (i = 0; i < GCA_PARK_WORDS; i++) {
				gca_wb_record(tc, slot[i]);
				if (regs)
					gca_wb_record(tc, regs[i]);
			}
			break;
		}
		__gca_handshake(tc, GCA_IOC_HANDSHAKE, true);
	}
	for (i = 0; i < GCA_PARK_WORDS; i++)
		__atomic_store_n(&slot[i], regs ? regs[i] : 0,
				 __ATOMIC_RELAXED);
	tc->park_slot = regs != NULL;
}

/* Clear the thread's park slot if it holds anything (unregistration). */
void __gca_park_clear(struct gca_tcache *tc)
{
	if (tc->park_slot) {
		__gca_enter(tc);
		gca_park_slot_store(tc, NULL);
		__gca_leave(tc);
	}
}

/*
 * gca_enter_blocking(), after the entry stub (arch/) has pushed the
 * caller's callee-saved registers: regs points to them (GCA_PARK_WORDS
 * words, zero-padded), sp is the caller's stack pointer.
 */
int __gca_enter_blocking(struct gca_arena *a, const uintptr_t *regs,
			 uintptr_t sp) __hidden;
int __gca_enter_blocking(struct gca_arena *a, const uintptr_t *regs,
			 uintptr_t sp)
{
	struct gca_tcache *tc;
	uint64_t seq;
	int ret;

	tc = __gca_tc_find(a);
	if (!tc)
		return 0;	/* not registered: nothing to wait for */
	if (tc->park_depth++)
		return 0;
	if (tc->tid >= a->max_threads) {
		tc->park_depth--;
		return -EPROTO;
	}
	ret = gca_park_table(a);
	if (ret) {
		tc->park_depth--;
		return ret;
	}

	__gca_enter(tc);
	gca_park_slot_store(tc, regs);
	/*
	 * From here on the slot holds the registers; the park call hands
	 * back the cache and the buffer (the slot's barrier records
	 * included) and answers what is pending.
	 */
	seq = __gca_hs_seq(tc->ctrl);
	ret = __gca_hs_call(tc, GCA_IOC_HANDSHAKE, seq, GCA_HS_PARK, sp);
	if (ret) {
		gca_park_slot_store(tc, NULL);
		tc->park_depth--;
	}
	/* Parked: a pending handshake found on the way out is a no-op. */
	__gca_leave(tc);
	return ret;
}

int gca_leave_blocking(struct gca_arena *a)
{
	struct gca_tcache *tc;
	int ret = 0;

	tc = __gca_tc_find(a);
	if (!tc)
		return 0;
	if (!tc->park_depth)
		return -EINVAL;
	if (--tc->park_depth)
		return 0;
	__gca_enter(tc);
	/*
	 * Unpark first: the call answers what is pending (the registers are
	 * spilled onto the scanned stack for it), and may hold the thread
	 * until sweeping starts.  Only then may the slot go: cleared before,
	 * the registers would be in neither place for a scan made while the
	 * thread still counted as parked.
	 */
	if (tc->parked) {
		ret = __gca_handshake(tc, GCA_IOC_HANDSHAKE, true);
		/* Whatever the kernel said, this thread is not parked. */
		tc->parked = 0;
	}
	if (tc->park_slot)
		gca_park_slot_store(tc, NULL);
	__gca_leave(tc);
	return ret;
}

#if !defined(__x86_64__) && !defined(__aarch64__)
/*
 * Elsewhere, a best effort: __builtin_unwind_init() makes this frame
 * save every callee-saved register, and setjmp() copies the registers as
 * they are here, which for the ones this function did not touch yet are
 * the caller's (a libc may mangle some of them in a jmp_buf).
 */
int gca_enter_blocking(struct gca_arena *a)
{
	union {
		jmp_buf jb;
		uintptr_t w[GCA_PARK_WORDS];
	} regs;

	__builtin_unwind_init();
	memset(&regs, 0, sizeof(regs));
	setjmp(regs.jb);
	return __gca_enter_blocking(a, regs.w,
				    (uintptr_t)__builtin_frame_address(0));
}
#endif
