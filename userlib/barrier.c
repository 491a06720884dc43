/* SPDX-License-Identifier: (LGPL-2.1 OR MIT) */
/*
 * Concurrent marking, the mutator's side: the write barrier's slow path
 * and buffer (Go's hybrid barrier and wbBuf), the bulk barrier
 * (gca_memmove, Go's typedmemmove), and parking a thread around a
 * blocking call (gca_enter_blocking/gca_leave_blocking).
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
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mman.h>

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

static inline bool gca_barrier_active(const struct gca_arena *a)
{
	uint32_t phase = __atomic_load_n(&a->head.ctrl->phase,
					 __ATOMIC_RELAXED);

	return __gca_barrier_on(phase) && (a->features & GCA_FEAT_CONCURRENT);
}

/* Record v if it may point into the heap.  Room must have been made. */
static inline void gca_wb_record(struct gca_tcache *tc, uintptr_t v)
{
	const struct gca_arena *a = tc->arena;

	if (v - a->head.heap_base < a->heap_size)
		tc->wbuf[tc->nwbuf++] = v;
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

/*
 * ---------------------------------------------------------------------
 * Parking (bdwgc's GC_do_blocking, Go's entersyscallblock).
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
 */

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
 * gca_enter_blocking(), after the entry stub below has pushed the
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
	if (!(a->features & GCA_FEAT_CONCURRENT))
		return 0;	/* the preempt signal covers the old way */
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

/*
 * The entry stub: push the callee-saved registers as the caller left
 * them (the C function's own prologue may already have reused some),
 * then call __gca_enter_blocking(arena, regs, caller's sp).
 */
#if defined(__x86_64__)
__asm__(
	"	.text\n"
	"	.globl	gca_enter_blocking\n"
	"	.type	gca_enter_blocking, @function\n"
	"	.p2align 4\n"
	"gca_enter_blocking:\n"
	"	.cfi_startproc\n"
#ifdef __CET__
	"	endbr64\n"
#endif
	/* 8 slots: rbx rbp r12 r13 r14 r15, 0, 0 (then 16-byte aligned) */
	"	pushq	$0\n"
	"	.cfi_adjust_cfa_offset 8\n"
	"	pushq	$0\n"
	"	.cfi_adjust_cfa_offset 8\n"
	"	pushq	%r15\n"
	"	.cfi_adjust_cfa_offset 8\n"
	"	pushq	%r14\n"
	"	.cfi_adjust_cfa_offset 8\n"
	"	pushq	%r13\n"
	"	.cfi_adjust_cfa_offset 8\n"
	"	pushq	%r12\n"
	"	.cfi_adjust_cfa_offset 8\n"
	"	pushq	%rbp\n"
	"	.cfi_adjust_cfa_offset 8\n"
	"	pushq	%rbx\n"
	"	.cfi_adjust_cfa_offset 8\n"
	"	movq	%rsp, %rsi\n"
	"	leaq	72(%rsp), %rdx\n"	/* the caller's sp */
	"	subq	$8, %rsp\n"
	"	.cfi_adjust_cfa_offset 8\n"
	"	call	__gca_enter_blocking\n"
	"	addq	$72, %rsp\n"
	"	.cfi_adjust_cfa_offset -72\n"
	"	ret\n"
	"	.cfi_endproc\n"
	"	.size	gca_enter_blocking, .-gca_enter_blocking\n"
);
_Static_assert(GCA_PARK_WORDS == 8, "x86-64 stub pushes 8 words");
#elif defined(__aarch64__)
__asm__(
	"	.text\n"
	"	.globl	gca_enter_blocking\n"
	"	.type	gca_enter_blocking, %function\n"
	"	.p2align 2\n"
	"gca_enter_blocking:\n"
	"	.cfi_startproc\n"
#ifdef __ARM_FEATURE_BTI_DEFAULT
	"	bti	c\n"
#endif
	/* 16 slots: x29 x30 x19..x28, 0 x4; x30 is no pointer: harmless */
	"	stp	x29, x30, [sp, #-128]!\n"
	"	.cfi_def_cfa_offset 128\n"
	"	.cfi_offset x29, -128\n"
	"	.cfi_offset x30, -120\n"
	"	mov	x29, sp\n"
	"	stp	x19, x20, [sp, #16]\n"
	"	stp	x21, x22, [sp, #32]\n"
	"	stp	x23, x24, [sp, #48]\n"
	"	stp	x25, x26, [sp, #64]\n"
	"	stp	x27, x28, [sp, #80]\n"
	"	stp	xzr, xzr, [sp, #96]\n"
	"	stp	xzr, xzr, [sp, #112]\n"
	"	mov	x1, sp\n"
	"	add	x2, sp, #128\n"		/* the caller's sp */
	"	bl	__gca_enter_blocking\n"
	"	ldp	x29, x30, [sp], #128\n"
	"	.cfi_def_cfa_offset 0\n"
	"	.cfi_restore x29\n"
	"	.cfi_restore x30\n"
	"	ret\n"
	"	.cfi_endproc\n"
	"	.size	gca_enter_blocking, .-gca_enter_blocking\n"
);
_Static_assert(GCA_PARK_WORDS == 16, "arm64 stub stores 16 words");
#else
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
