// SPDX-License-Identifier: GPL-2.0
/*
 * Registered mutator threads and the spans their caches hold.
 *
 * A thread's cache (Go's mcache) lives in userspace; the kernel knows only
 * which spans it handed to which thread (span->owner, t->spans).  A span
 * comes back with a freeindex: every slot below it that was handed out is
 * now allocated.  Whatever the process says, a span is taken back only
 * from the thread that holds it, and freeindex is clamped by the core.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/cred.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include "gcarena_private.h"

struct gca_thread *gca_thread_current(struct gca_arena *a)
{
	struct gca_thread *t;

	lockdep_assert_held(&a->lock);
	list_for_each_entry(t, &a->threads, node)
		if (t->task == current)
			return t;
	return NULL;
}

/*
 * The calling thread's registration, pinned (t->busy) for an ioctl that
 * uses it with a->lock dropped: the collector frees threads that are
 * exiting (gca_reap_and_signal()), and a thread killed while inside a
 * call is one.  Unpin with gca_thread_put(), under a->lock.
 */
struct gca_thread *gca_thread_get_current(struct gca_arena *a)
{
	struct gca_thread *t;

	gca_lock_mutator(a);
	t = gca_thread_current(a);
	if (t)
		t->busy++;
	mutex_unlock(&a->lock);
	return t;
}

void gca_thread_put(struct gca_arena *a, struct gca_thread *t)
{
	lockdep_assert_held(&a->lock);
	WARN_ON_ONCE(!t->busy);
	t->busy--;
}

/* The span at user address base, if t's cache holds it. */
struct gca_span *gca_cached_span(struct gca_arena *a, struct gca_thread *t,
				 u64 base)
{
	struct gca_heap *h = &a->heap;
	struct gca_span *s;
	u64 off = base - h->user_base;

	lockdep_assert_held(&a->lock);
	s = gca_span_of(h, off);
	if (!s || !s->cached || s->owner != t->tid ||
	    off != s->start * GCA_PAGE_SIZE)
		return NULL;
	return s;
}

/*
 * Take back every span of t's cache as if all its handed-out slots were
 * allocated (what the thread did with them is unknown): the next cycle
 * frees those that are garbage.
 */
void gca_uncache_all(struct gca_arena *a, struct gca_thread *t)
{
	struct gca_span *s, *n;

	lockdep_assert_held(&a->lock);
	list_for_each_entry_safe(s, n, &t->spans, list) {
		list_del_init(&s->list);
		gca_span_uncache(&a->heap, s, s->nelems);
	}
}

/* Forget t: it unregistered, exited, or the arena is going away. */
void gca_thread_drop(struct gca_arena *a, struct gca_thread *t)
{
	lockdep_assert_held(&a->lock);
	gca_uncache_all(a, t);
	list_del(&t->node);
	__clear_bit(t->tid, a->tid_map);
	a->nthreads--;
	put_task_struct(t->task);
	kfree(t);
	/* the collector may be waiting for this thread */
	wake_up(&a->gc_wq);
}

/*
 * A thread that will never answer a handshake: it is exiting or being
 * killed, or it no longer runs in the arena's mm.  A registration dies
 * with its mm: a thread that called execve() runs another program (the
 * arena's file may have stayed open in it, without O_CLOEXEC), and one
 * that exited has no mm at all.  task->mm is only compared, never
 * followed: a->mm is mmgrab()ed, so no other mm can take its address
 * while the arena exists, and a task never comes back to an mm it left.
 */
bool gca_thread_gone(struct gca_arena *a, struct gca_thread *t)
{
	return (READ_ONCE(t->task->flags) & PF_EXITING) ||
	       __fatal_signal_pending(t->task) ||
	       READ_ONCE(t->task->mm) != a->mm;
}

/*
 * Drop t if it is gone and nothing uses it: not a stack being scanned by
 * another thread (park_claimed), not a thread inside a call of its own
 * (busy).  True if it was dropped.
 */
bool gca_thread_reap(struct gca_arena *a, struct gca_thread *t)
{
	lockdep_assert_held(&a->lock);
	if (t->park_claimed || t->busy || !gca_thread_gone(a, t))
		return false;
	gca_thread_drop(a, t);
	return true;
}

/*
 * Drop every gone thread (GCA_IOC_REGISTER_THREAD, when the table is
 * full).  A module has no hook at a thread's exit: no task-exit notifier
 * is exported, and task_work runs at the next return to userspace, not
 * at exit.  So a thread that exits without unregistering (a raw exit
 * system call, a thread killed inside the library) is noticed when
 * someone looks: the collector at every handshake round, and
 * registration when it needs the slot.  Until then it pins its
 * task_struct (not its stack or mm), at most GCA_MAX_THREADS per arena.
 * Returns how many were dropped.
 */
u32 gca_reap_gone(struct gca_arena *a)
{
	struct gca_thread *t, *n;
	u32 dropped = 0;

	lockdep_assert_held(&a->lock);
	list_for_each_entry_safe(t, n, &a->threads, node)
		if (gca_thread_reap(a, t))
			dropped++;
	return dropped;
}

/*
 * The preempt signal, sent as the process would send it to one of its
 * own threads with tgkill(2): only to a thread of the arena's thread
 * group that still runs in the arena's mm, and with the siginfo of such
 * a call (SI_TKILL, the process's pid and the thread's own uid).  Not
 * SEND_SIG_PRIV: that would reach whatever the task runs now, a setuid
 * program included.  The check and the send are one step under
 * task_lock(), which execve() holds while it switches the task's mm
 * (exec_mmap()), and which nests outside the signal lock as the OOM
 * killer's does.  Same thread group, same image: what tgkill() allows
 * any thread of the process (kill_ok_by_cred() is not consulted for the
 * sender's own thread group).  A registered task of another thread
 * group (a CLONE_VM child) is never signalled: it must answer by itself.
 */
void gca_thread_signal(struct gca_arena *a, struct gca_thread *t)
{
	struct task_struct *p = t->task;
	struct kernel_siginfo info;
	int sig = a->preempt_signal;

	lockdep_assert_held(&a->lock);
	clear_siginfo(&info);
	info.si_signo = sig;
	info.si_code = SI_TKILL;
	/* numbers in the initial namespaces: the sending kthread's */
	info.si_pid = pid_nr(a->pid);
	task_lock(p);
	rcu_read_lock();
	info.si_uid = from_kuid_munged(&init_user_ns, __task_cred(p)->uid);
	if (p->mm == a->mm && task_tgid(p) == a->pid &&
	    !(p->flags & PF_EXITING))
		send_sig_info(sig, &info, p);
	rcu_read_unlock();
	task_unlock(p);
}

#define GCA_RET_BATCH	64
#define GCA_RET_STACK	8	/* the fallback batch, on the stack */

/*
 * GCA_IOC_HANDSHAKE, GCA_IOC_UNREGISTER_THREAD: the thread gives back
 * the spans listed at uspans.  Entries that do not name a span of its
 * cache are skipped, and make the call fail with -EINVAL once the valid
 * ones are taken back.
 *
 * It must not fail for want of memory: the library forgets its spans
 * once the call is answered, and a span the kernel still counts as
 * cached is never swept again (its slots are shaded as roots at every
 * cycle).  Without memory for a batch, a few go through the stack.
 */
int gca_give_back_spans(struct gca_arena *a, struct gca_thread *t,
			u64 uspans, u32 nspans)
{
	struct gca_span_ret stackbuf[GCA_RET_STACK], *buf;
	u32 done = 0, i, n, cap = GCA_RET_BATCH;
	int ret = 0;

	if (!nspans)
		return 0;
	buf = kmalloc_array(GCA_RET_BATCH, sizeof(*buf),
			    GFP_KERNEL | __GFP_NOWARN);
	if (!buf) {
		buf = stackbuf;
		cap = ARRAY_SIZE(stackbuf);
	}
	while (done < nspans) {
		n = min_t(u32, nspans - done, cap);
		if (copy_from_user(buf, u64_to_user_ptr(uspans) +
				   (u64)done * sizeof(*buf),
				   n * sizeof(*buf))) {
			ret = -EFAULT;
			break;
		}
		gca_lock_mutator(a);
		for (i = 0; i < n; i++) {
			struct gca_span *s = NULL;

			if (!buf[i].resv)
				s = gca_cached_span(a, t, buf[i].base);
			if (!s) {
				ret = -EINVAL;
				continue;
			}
			list_del_init(&s->list);
			gca_span_uncache(&a->heap, s, buf[i].freeindex);
		}
		mutex_unlock(&a->lock);
		done += n;
	}
	if (buf != stackbuf)
		kfree(buf);
	return ret;
}
