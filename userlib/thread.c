/* SPDX-License-Identifier: (LGPL-2.1 OR MIT) */
/*
 * Threads: registration, the per-thread caches and how a thread finds
 * them, the handshake (a safepoint answering the collector), the preempt
 * signal, and the calls that are handshakes in disguise (gca_collect,
 * gca_poll).
 */
#include <setjmp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>

#include "gca_int.h"

/*
 * Initial-exec TLS: a plain %fs-relative access, safe in the signal
 * handler (the general-dynamic model may call malloc on first access).
 */
__thread struct gca_tcache *__gca_last
	__attribute__((tls_model("initial-exec")));
__thread struct gca_tcache *__gca_tlist
	__attribute__((tls_model("initial-exec")));

/*
 * One thread-specific-data key for the whole library, rather than one per
 * arena, so that arenas are not limited by PTHREAD_KEYS_MAX.  Its value is
 * only a token making glibc call the destructor; the caches themselves are
 * on __gca_tlist, which is still readable while destructors run.
 */
static pthread_key_t gca_key;
static pthread_once_t gca_key_once = PTHREAD_ONCE_INIT;
static int gca_key_err;
static char gca_key_token;

static void gca_thread_exit(void *arg)
{
	struct gca_tcache *tc;

	(void)arg;
	while ((tc = __gca_tlist)) {
		if (!__gca_tc_dead(tc))
			__gca_unregister(tc);
		__gca_forget(tc);
	}
}

/* Every open arena, for fork(). */
pthread_mutex_t __gca_arenas_lock = PTHREAD_MUTEX_INITIALIZER;
struct gca_arena *__gca_arenas;

static void gca_atfork_prepare(void)
{
	pthread_mutex_lock(&__gca_arenas_lock);
}

static void gca_atfork_parent(void)
{
	pthread_mutex_unlock(&__gca_arenas_lock);
}

/*
 * In a child of fork() the arenas' mappings are gone and their files say
 * EPERM.  Every cache is marked dead and dropped from its arena (only
 * this thread's are freed, when next looked at; the other threads'
 * memory is simply lost in the child), so that a call into an arena
 * registers afresh and fails cleanly with -EPERM instead of touching the
 * missing control page, and gca_close() releases the child's copies.
 * Locks another thread may have held at the fork are made anew.
 */
static void gca_atfork_child(void)
{
	struct gca_tcache *tc;
	struct gca_arena *a;

	pthread_mutex_init(&__gca_arenas_lock, NULL);
	for (a = __gca_arenas; a; a = a->next) {
		pthread_mutex_init(&a->lock, NULL);
		for (tc = a->caches; tc; tc = tc->anext)
			__atomic_store_n(&tc->dead, 1, __ATOMIC_RELAXED);
		a->caches = NULL;
	}
	for (tc = __gca_tlist; tc; tc = tc->tnext)
		__atomic_store_n(&tc->dead, 1, __ATOMIC_RELAXED);
	__gca_last = NULL;
}

static void gca_key_init(void)
{
	gca_key_err = pthread_key_create(&gca_key, gca_thread_exit);
	if (!gca_key_err)
		gca_key_err = pthread_atfork(gca_atfork_prepare,
					     gca_atfork_parent,
					     gca_atfork_child);
}

/* Once per process, before the first arena. */
int __gca_lib_init(void)
{
	int ret;

	ret = pthread_once(&gca_key_once, gca_key_init);
	if (ret)
		return -ret;
	return -gca_key_err;
}

/* Move every cached span to the list going back to the kernel. */
static void gca_flush(struct gca_tcache *tc)
{
	unsigned int i;

	for (i = 0; i < GCA_NUM_SPAN_CLASSES; i++) {
		struct gca_cspan *s = &tc->spans[i];

		if (!s->pos)
			continue;
		if (tc->nret < GCA_MAX_RET) {
			struct gca_span_ret *r = &tc->ret[tc->nret++];

			r->base = tc->arena->head.heap_base + s->pos - 1;
			r->freeindex = s->freeindex;
			r->resv = 0;
		}
		s->pos = 0;
		s->nwords = 0;
		s->cursor = 0;
		s->freeindex = 0;
	}
	/* The tiny block is an allocated object of a span just returned. */
	tc->tiny = 0;
	tc->tinyoffset = 0;
}

/*
 * Zero the dead stack below a handshake (bdwgc's GC_clear_stack).  The
 * collector scans a stack from the handshake's sp up; what lies below is
 * left over from deeper calls, unscanned, and may point to objects that
 * were garbage then.  Frames made after the scan would inherit those words
 * in slots they do not initialise: conservatively they look like roots,
 * keeping garbage alive, and checkmark's re-scan at mark termination
 * counts the objects as missed by the concurrent mark.  Only on the
 * registered stack, well above its end.
 */
#define GCA_CLEAR_STACK		(16 * 1024)

static __attribute__((noinline)) void gca_clear_dead_stack(void)
{
	char buf[GCA_CLEAR_STACK];

	memset(buf, 0, sizeof(buf));
	__asm__ __volatile__("" : : "r"(buf) : "memory");
}

/*
 * The ioctl half of a handshake.  sp is this function's frame: everything
 * above it, the caller's jmp_buf and register spills included, is live
 * stack for the collector.  Its own locals (the argument block) are below
 * and need no scanning.  A park (GCA_HS_PARK) passes its caller's sp
 * instead (park.c).  The write barrier's buffer goes along (a value
 * sent twice is shaded twice: harmless).
 */
static __attribute__((noinline)) int gca_hs_ioctl(struct gca_tcache *tc,
						  unsigned long cmd,
						  uint64_t seq,
						  uint32_t flags,
						  uintptr_t sp)
{
	uintptr_t here = (uintptr_t)__builtin_frame_address(0);
	struct gca_handshake hs;
	int ret;

	if (here > tc->stack_lo && here <= tc->stack_hi &&
	    here - tc->stack_lo > 2 * GCA_CLEAR_STACK)
		gca_clear_dead_stack();
	gca_flush(tc);
	memset(&hs, 0, sizeof(hs));
	hs.size = sizeof(hs);
	hs.flags = flags;
	hs.seq = seq;
	hs.sp = sp ? sp : here;
	/*
	 * From the preempt signal's handler: from here up to the end of the
	 * signal frame is the handler's own and the interrupted registers.
	 */
	if (tc->sig_frame_end > here &&
	    (tc->arena->features & GCA_FEAT_HS_REGS)) {
		hs.regs_lo = here;
		hs.regs_hi = tc->sig_frame_end;
	}
	hs.spans = (uintptr_t)tc->ret;
	hs.nspans = tc->nret;
	if (tc->nwbuf) {
		hs.wbuf = (uintptr_t)tc->wbuf;
		hs.nwbuf = tc->nwbuf;
	}
	for (;;) {
		ret = __gca_sys_ioctl(tc->arena->fd, cmd, &hs);
		if (ret != -EINTR)
			break;
		/*
		 * The kernel takes the spans back before it waits, and only
		 * the wait is interrupted: ask again without them.
		 */
		hs.nspans = 0;
	}
	/*
	 * -EINVAL: some spans were not (or no longer) this thread's, and the
	 * rest of the call went through.  That is what a kernel restart of
	 * an interrupted call (SA_RESTART, same argument) looks like, as the
	 * spans were taken by the first try: count it as answered.
	 */
	if (ret == -EINVAL)
		ret = 0;
	/* EAGAIN took nothing: keep spans and buffer for the next attempt. */
	if (ret != -EAGAIN) {
		tc->nret = 0;
		tc->nwbuf = 0;
	}
	/* Any answer but a park unparks (gca_leave_blocking(), or a
	 * parked thread that allocates after all). */
	if (!ret)
		tc->parked = !!(flags & GCA_HS_PARK);
	return ret;
}

/*
 * Spill the callee-saved registers onto the stack before the collector
 * looks at it: a pointer may live only in a register of some caller.
 * __builtin_unwind_init() makes this function's prologue save all of
 * them; setjmp() copies them into regs as well (glibc mangles the saved
 * stack and frame pointers in a jmp_buf, hence both).
 */
static __attribute__((noinline)) int gca_hs_spill(struct gca_tcache *tc,
						  unsigned long cmd,
						  uint64_t seq,
						  uint32_t flags,
						  uintptr_t sp)
{
	jmp_buf regs;
	int ret;

	__builtin_unwind_init();
	setjmp(regs);
	ret = gca_hs_ioctl(tc, cmd, seq, flags, sp);
	__asm__ __volatile__("" : : "r"(regs) : "memory");
	return ret;
}

/* One handshake call, inside the cache's critical section. */
int __gca_hs_call(struct gca_tcache *tc, unsigned long cmd, uint64_t seq,
		  uint32_t flags, uintptr_t sp)
{
	int ret;

	ret = gca_hs_spill(tc, cmd, seq, flags, sp);
	if (!ret)
		tc->acked = seq;
	return ret;
}

/*
 * Answer the current handshake request (GCA_IOC_HANDSHAKE) or start and
 * wait for a cycle (GCA_IOC_COLLECT), handing back the whole cache and
 * the write barrier's buffer.  Without force, only when hs_seq moved
 * since the last answer, and never for a parked thread: being parked
 * answers every request (a forced call unparks it).
 */
int __gca_handshake(struct gca_tcache *tc, unsigned long cmd, bool force)
{
	uint64_t seq;
	int ret;

	__gca_enter(tc);
	tc->pending = 0;
	seq = __gca_hs_seq(tc->ctrl);
	if (!force && (seq == tc->acked || tc->parked))
		ret = 0;
	else
		ret = __gca_hs_call(tc, cmd, seq, 0, 0);
	__gca_leave(tc);
	return ret;
}

void __gca_pending(struct gca_tcache *tc)
{
	/* An error here is seen again at the next safepoint. */
	__gca_handshake(tc, GCA_IOC_HANDSHAKE, false);
}

int __gca_register(struct gca_arena *a, struct gca_tcache **tcp)
{
	struct gca_thread_reg reg;
	struct gca_tcache *tc;
	pthread_attr_t attr;
	size_t size;
	void *addr;
	int ret;

	ret = __gca_lib_init();
	if (ret)
		return ret;

	/* For the main thread glibc reads /proc/self/maps here. */
	ret = pthread_getattr_np(pthread_self(), &attr);
	if (ret)
		return -ret;
	ret = pthread_attr_getstack(&attr, &addr, &size);
	pthread_attr_destroy(&attr);
	if (ret)
		return -ret;

	tc = calloc(1, sizeof(*tc));
	if (!tc)
		return -ENOMEM;
	tc->arena = a;
	tc->ctrl = a->head.ctrl;
	tc->stack_lo = (uintptr_t)addr;
	tc->stack_hi = (uintptr_t)addr + size;

	memset(&reg, 0, sizeof(reg));
	reg.size = sizeof(reg);
	reg.stack_lo = tc->stack_lo;
	reg.stack_hi = tc->stack_hi;
	/*
	 * The kernel waits out a mark termination (registered threads held)
	 * before it registers a thread, and says EAGAIN if another one began
	 * meanwhile.
	 */
	do {
		ret = __gca_sys_ioctl(a->fd, GCA_IOC_REGISTER_THREAD, &reg);
	} while (ret == -EINTR || ret == -EAGAIN);
	if (ret) {
		free(tc);
		return ret;
	}
	tc->acked = reg.hs_seq;
	tc->tid = reg.tid;

	ret = pthread_setspecific(gca_key, &gca_key_token);
	if (ret) {
		struct gca_thread_unreg u = { .size = sizeof(u) };

		__gca_sys_ioctl(a->fd, GCA_IOC_UNREGISTER_THREAD, &u);
		free(tc);
		return -ret;
	}

	/* Publish fully built: the signal handler may walk the list. */
	tc->tnext = __gca_tlist;
	barrier();
	__gca_tlist = tc;
	barrier();

	pthread_mutex_lock(&a->lock);
	tc->anext = a->caches;
	a->caches = tc;
	pthread_mutex_unlock(&a->lock);

	__gca_last = tc;
	*tcp = tc;
	return 0;
}

/*
 * Tell the kernel this thread is done with the arena, giving back its
 * spans.  On success the cache stays "in the library" (in_lib raised) so
 * that the signal handler leaves it alone until __gca_forget() frees it.
 */
int __gca_unregister(struct gca_tcache *tc)
{
	struct gca_thread_unreg u;
	int ret;

	__gca_enter(tc);
	/*
	 * The park slot is cleared (its tid goes to the next thread), and
	 * the barrier's buffer must reach the kernel: unregistration has no
	 * room for it, a handshake does.
	 */
	__gca_park_clear(tc);
	if (tc->nwbuf)
		/* On failure the kernel forgot the thread: so be it. */
		__gca_handshake(tc, GCA_IOC_HANDSHAKE, true);
	for (;;) {
		gca_flush(tc);
		memset(&u, 0, sizeof(u));
		u.size = sizeof(u);
		u.spans = (uintptr_t)tc->ret;
		u.nspans = tc->nret;
		ret = __gca_sys_ioctl(tc->arena->fd,
				      GCA_IOC_UNREGISTER_THREAD, &u);
		if (ret == -EINTR)
			continue;
		if (ret == -EAGAIN) {
			/* Answer the pending handshake first (spans too). */
			ret = __gca_handshake(tc, GCA_IOC_HANDSHAKE, true);
			if (ret && ret != -EAGAIN)
				break;
			continue;
		}
		tc->nret = 0;
		/*
		 * The kernel forgets the thread even when some spans were
		 * not its own (-EINVAL, see gca_hs_ioctl()); -ESRCH: it had
		 * forgotten it already.
		 */
		if (ret == -EINVAL || ret == -ESRCH)
			ret = 0;
		break;
	}
	if (!ret) {
		tc->pending = 0;
		return 0;
	}
	__gca_leave(tc);
	return ret;
}

/* Drop a cache: from its arena's list, from this thread's, and free it. */
void __gca_forget(struct gca_tcache *tc)
{
	struct gca_tcache **pp;

	if (!__gca_tc_dead(tc)) {
		struct gca_arena *a = tc->arena;

		pthread_mutex_lock(&a->lock);
		for (pp = &a->caches; *pp; pp = &(*pp)->anext) {
			if (*pp == tc) {
				*pp = tc->anext;
				break;
			}
		}
		__atomic_store_n(&tc->dead, 1, __ATOMIC_RELAXED);
		pthread_mutex_unlock(&a->lock);
	}
	/* Dead now: the signal handler skips it; unlink with one store. */
	barrier();
	for (pp = &__gca_tlist; *pp; pp = &(*pp)->tnext) {
		if (*pp == tc) {
			*pp = tc->tnext;
			break;
		}
	}
	if (__gca_last == tc)
		__gca_last = NULL;
	barrier();
	free(tc);
	/* Nothing left for the exit destructor (nor a dlclose()d one). */
	if (!__gca_tlist)
		pthread_setspecific(gca_key, NULL);
}

/* This thread's cache for a, if any; frees caches of closed arenas. */
struct gca_tcache *__gca_tc_find(struct gca_arena *a)
{
	struct gca_tcache *tc;

again:
	for (tc = __gca_tlist; tc; tc = tc->tnext) {
		if (__gca_tc_dead(tc)) {
			__gca_forget(tc);
			goto again;
		}
		if (tc->arena == a) {
			__gca_last = tc;
			return tc;
		}
	}
	return NULL;
}

struct gca_tcache *__gca_tc_slow(struct gca_arena *a)
{
	struct gca_tcache *tc;
	int ret;

	tc = __gca_tc_find(a);
	if (tc)
		return tc;
	ret = __gca_register(a, &tc);
	if (ret) {
		errno = -ret;
		return NULL;
	}
	return tc;
}

/*
 * An ioctl that does not touch the cache.  EAGAIN means the kernel wants
 * this thread's handshake first.
 */
int __gca_ioctl_retry(struct gca_arena *a, unsigned long cmd, void *arg)
{
	struct gca_tcache *tc;
	int ret;

	for (;;) {
		ret = __gca_sys_ioctl(a->fd, cmd, arg);
		if (ret == -EINTR)
			continue;
		if (ret != -EAGAIN)
			return ret;
		tc = __gca_tc_find(a);
		if (tc)
			__gca_handshake(tc, GCA_IOC_HANDSHAKE, true);
		else
			sched_yield();
	}
}

/*
 * The preempt signal (Go 1.14's asynchronous preemption).  The kernel
 * sends it to a registered thread that has not answered a handshake in
 * time.  Every arena of this thread with an unanswered request is
 * answered here, unless normal context is inside the library using that
 * cache: then it answers when it leaves.  The interrupted registers are
 * in the signal frame, on this stack above our sp, so they are scanned.
 * ioctl() is async-signal-safe, and so is everything used here.
 */
static struct {
	unsigned int refs;
	struct sigaction old;
} gca_sigs[NSIG];
static pthread_mutex_t gca_sig_lock = PTHREAD_MUTEX_INITIALIZER;

/*
 * The end of the signal frame's register state: of the XSAVE area on
 * x86-64 (the kernel puts it just above the ucontext and siginfo, below
 * the interrupted code's red zone), of the ucontext on arm64 (its
 * mcontext holds the vector state too); 0 elsewhere.  Everything from the
 * handshake's frame up to there is the handler's and the interrupted
 * registers, which checkmark leaves out (struct gca_handshake).
 */
static uintptr_t gca_sig_frame_end(void *uc)
{
	uintptr_t start = (uintptr_t)uc;
#if defined(__x86_64__)
	const ucontext_t *u = uc;
	uintptr_t fp = (uintptr_t)u->uc_mcontext.fpregs, size = 512;

	if (fp <= start || fp - start > 4096)
		return (uintptr_t)(&u->uc_mcontext + 1);
	/* struct _fpx_sw_bytes: magic1, then the extended size */
	if (u->uc_mcontext.fpregs->__glibc_reserved1[12] == 0x46505853U)
		size = u->uc_mcontext.fpregs->__glibc_reserved1[13];
	if (size < 512 || size > 65536)
		size = 512;
	return fp + size;
#elif defined(__aarch64__)
	return start + sizeof(ucontext_t);
#else
	(void)start;
	return 0;
#endif
}

static void gca_sig_handler(int sig, siginfo_t *si, void *uc)
{
	int saved_errno = errno;
	const struct sigaction *old;
	struct gca_tcache *tc;
	uintptr_t frame_end = gca_sig_frame_end(uc);

	for (tc = __gca_tlist; tc; tc = tc->tnext) {
		/* A parked thread answers by being parked (and is not even
		 * signalled for it). */
		if (__gca_tc_dead(tc) || !__gca_hs_due(tc) || tc->parked)
			continue;
		if (tc->in_lib) {
			tc->pending = 1;
		} else if (__gca_ts.in_store) {
			/* Between a gca_store()'s phase check and its store:
			 * the store answers when done. */
			tc->pending = 1;
			__gca_ts.deferred = 1;
		} else {
			tc->sig_frame_end = frame_end;
			__gca_handshake(tc, GCA_IOC_HANDSHAKE, false);
			tc->sig_frame_end = 0;
		}
	}
	errno = saved_errno;

	/* The signal may have been someone else's too (SIGURG: OOB data). */
	old = &gca_sigs[sig].old;
	if (old->sa_flags & SA_SIGINFO) {
		if (old->sa_sigaction)
			old->sa_sigaction(sig, si, uc);
	} else if (old->sa_handler != SIG_DFL && old->sa_handler != SIG_IGN) {
		old->sa_handler(sig);
	}
}

int __gca_sig_get(int sig)
{
	struct sigaction sa;
	int ret = 0;

	pthread_mutex_lock(&gca_sig_lock);
	if (gca_sigs[sig].refs == 0) {
		memset(&sa, 0, sizeof(sa));
		sa.sa_sigaction = gca_sig_handler;
		/*
		 * No SA_ONSTACK: the frame must be on the scanned stack.
		 * Only the signal itself is blocked while the handler runs,
		 * so that another arena's preempt signal can still reach a
		 * thread held here by this arena's cycle.
		 */
		sa.sa_flags = SA_SIGINFO | SA_RESTART;
		sigemptyset(&sa.sa_mask);
		/* Read the old action first so the handler never sees it
		 * half written. */
		if (sigaction(sig, NULL, &gca_sigs[sig].old) ||
		    sigaction(sig, &sa, NULL))
			ret = -errno;
	}
	if (!ret)
		gca_sigs[sig].refs++;
	pthread_mutex_unlock(&gca_sig_lock);
	return ret;
}

void __gca_sig_put(int sig)
{
	pthread_mutex_lock(&gca_sig_lock);
	if (gca_sigs[sig].refs && --gca_sigs[sig].refs == 0)
		sigaction(sig, &gca_sigs[sig].old, NULL);
	pthread_mutex_unlock(&gca_sig_lock);
}

int gca_register_thread(struct gca_arena *a)
{
	struct gca_tcache *tc;

	if (__gca_tc_find(a))
		return 0;
	return __gca_register(a, &tc);
}

int gca_unregister_thread(struct gca_arena *a)
{
	struct gca_tcache *tc;
	int ret;

	tc = __gca_tc_find(a);
	if (!tc)
		return -ENOENT;
	ret = __gca_unregister(tc);
	if (ret)
		return ret;
	__gca_forget(tc);
	return 0;
}

int gca_collect(struct gca_arena *a)
{
	struct gca_tcache *tc;
	int ret;

	tc = __gca_tc(a);
	if (!tc)
		return -errno;
	for (;;) {
		ret = __gca_handshake(tc, GCA_IOC_COLLECT, true);
		if (ret != -EAGAIN)
			return ret;
		/* A handshake is pending: answer it, then ask again. */
		ret = __gca_handshake(tc, GCA_IOC_HANDSHAKE, true);
		if (ret && ret != -EAGAIN)
			return ret;
	}
}

int gca_poll(struct gca_arena *a)
{
	struct gca_tcache *tc;

	tc = __gca_tc(a);
	if (!tc)
		return -errno;
	return __gca_handshake(tc, GCA_IOC_HANDSHAKE, false);
}
