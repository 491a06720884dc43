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

#include <linux/sched/signal.h>
#include <linux/sched/task.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include "gca_arena.h"

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

/* A thread that will never answer a handshake. */
bool gca_thread_gone(struct gca_thread *t)
{
	return (READ_ONCE(t->task->flags) & PF_EXITING) ||
	       __fatal_signal_pending(t->task);
}

#define GCA_RET_BATCH	64

/*
 * GCA_IOC_HANDSHAKE, GCA_IOC_UNREGISTER_THREAD: the thread gives back
 * the spans listed at uspans.  Entries that do not name a span of its
 * cache are skipped, and make the call fail with -EINVAL once the valid
 * ones are taken back.
 */
int gca_give_back_spans(struct gca_arena *a, struct gca_thread *t,
			u64 uspans, u32 nspans)
{
	struct gca_span_ret *buf;
	u32 done = 0, i, n;
	int ret = 0;

	if (!nspans)
		return 0;
	buf = kmalloc_array(GCA_RET_BATCH, sizeof(*buf), GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	while (done < nspans) {
		n = min_t(u32, nspans - done, GCA_RET_BATCH);
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
	kfree(buf);
	return ret;
}
