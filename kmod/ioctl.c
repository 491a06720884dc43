// SPDX-License-Identifier: GPL-2.0
/*
 * The ioctls of /dev/gcarena (uapi/linux/gcarena.h).
 *
 * Every argument is a struct whose first field is its size (iommufd's
 * scheme).  Each command has two sizes: min_size, where its struct's first
 * version ended (offsetofend() of that version's last field), and size,
 * the struct this module knows.  A user size below min_size is -EINVAL;
 * anything from min_size up is copied with copy_struct_from_user(): a
 * shorter struct (an older library) is zero-filled up to size, so a field
 * the caller does not know reads as 0, which must mean the old behaviour;
 * a longer one (a newer library) must be zero past size, else -E2BIG.
 * Then every field is checked before anything is done.  A handler that
 * succeeds has min(user size, size) bytes copied back: the caller never
 * gets bytes it did not ask for.  Nothing here holds arena->lock while
 * touching user memory.
 *
 * Errors, besides the usual: -EPERM for a process other than the arena's
 * creator, -EBADFD for a call made in the wrong state (before CREATE or
 * before the heap is mapped), -ESRCH when the calling thread must be
 * registered and is not, -EAGAIN when a handshake is pending (answer it
 * with GCA_IOC_HANDSHAKE, then retry).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/sched/mm.h>
#include <linux/uaccess.h>
#include "gcarena_private.h"

/* Largest argument size accepted, as sched_setattr() bounds its struct. */
#define GCA_ARG_MAX	(4 * PAGE_SIZE)

/*
 * Arguments up to this size are copied to the stack: the fast-path
 * commands (REFILL, HANDSHAKE, ALLOC_LARGE) then allocate nothing.  A
 * kmalloc() of the whole union would take an 8 KiB slab object and, with
 * init_on_alloc (Debian's default), zero it on every refill: 8% of the
 * mutator's time in binary-trees, measured with perf in the VM.
 */
#define GCA_ARG_STACK	192

union gca_ioc_arg {
	struct gca_info info;
	struct gca_create create;
	struct gca_thread_reg reg;
	struct gca_thread_unreg unreg;
	struct gca_refill refill;
	struct gca_alloc_large large;
	struct gca_handshake hs;
	struct gca_roots roots;
	struct gca_params_arg params;
	struct gca_stats stats;
	struct gca_query query;
};

struct gca_ioc_ctx {
	struct gca_arena *a;
	union gca_ioc_arg *arg;
	u32 usize;		/* size the caller declared */
};

static bool gca_zero(const void *p, size_t n)
{
	return !memchr_inv(p, 0, n);
}

/*
 * What a command needs set up before its handler runs (gca_ioc_op.needs);
 * -EBADFD otherwise.
 */
enum gca_ioc_needs {
	GCA_NEEDS_NOTHING,
	GCA_NEEDS_CREATED,	/* GCA_IOC_CREATE done */
	GCA_NEEDS_MAPPED,	/* and the heap mapped */
};

static int gca_check_created(struct gca_arena *a)
{
	return READ_ONCE(a->created) ? 0 : -EBADFD;
}

static int gca_check_mapped(struct gca_arena *a)
{
	if (!READ_ONCE(a->created) || !READ_ONCE(a->heap_mapped))
		return -EBADFD;
	return 0;
}

static int gca_ioc_get_info(struct gca_ioc_ctx *c)
{
	struct gca_info *in = &c->arg->info;
	int i;

	if (in->flags)
		return -EINVAL;
	in->abi_version = GCA_ABI_VERSION;
	in->page_size = GCA_PAGE_SIZE;
	in->features = GCA_FEAT_PREEMPT_SIGNAL | GCA_FEAT_CONCURRENT |
		       GCA_FEAT_HS_REGS;
	in->num_size_classes = GCA_NUM_SIZE_CLASSES;
	in->max_threads = GCA_MAX_THREADS;
	in->heap_size_max = GCA_HEAP_SIZE_MAX;
	for (i = 0; i < GCA_NUM_SIZE_CLASSES; i++) {
		in->class_to_size[i] = gca_class_size[i];
		in->class_to_npages[i] = gca_class_npages[i];
	}
	return 0;
}

static int gca_ioc_create(struct gca_ioc_ctx *c)
{
	struct gca_create *cr = &c->arg->create;
	int ret;

	if (cr->flags & ~GCA_CREATE_FLAGS)
		return -EINVAL;
	if (!gca_zero(cr->resv, sizeof(cr->resv)))
		return -EINVAL;
	ret = gca_arena_create(c->a, cr);
	if (ret)
		return ret;
	cr->id = c->a->id;
	cr->ctrl_size = PAGE_SIZE;
	cr->heap_size_out = c->a->heap.npages * GCA_PAGE_SIZE;
	return 0;
}

static int gca_ioc_register(struct gca_ioc_ctx *c)
{
	struct gca_thread_reg *r = &c->arg->reg;
	struct gca_arena *a = c->a;
	struct gca_thread *t;
	int tid, ret;

	if (r->flags || r->resv0)
		return -EINVAL;
	if (r->stack_lo >= r->stack_hi ||
	    r->stack_hi - r->stack_lo > GCA_MAX_STACK_BYTES ||
	    !access_ok(u64_to_user_ptr(r->stack_lo),
		       r->stack_hi - r->stack_lo))
		return -EINVAL;

	t = kzalloc(sizeof(*t), GCA_GFP_HEAP);
	if (!t)
		return -ENOMEM;
	INIT_LIST_HEAD(&t->spans);
	t->stack_lo = r->stack_lo;
	t->stack_hi = r->stack_hi;

	/*
	 * Already registered: say so now.  Waiting below would wait for a
	 * mark termination that may be waiting for this very thread.
	 */
	gca_lock_mutator(a);
	ret = gca_thread_current(a) ? -EEXIST : 0;
	mutex_unlock(&a->lock);
	if (ret)
		goto err_free;
	/* a thread that arrives while the world is held waits it out */
	ret = wait_event_interruptible(a->cycle_wq,
				       READ_ONCE(a->phase) != GCA_PHASE_MARK_TERM ||
				       READ_ONCE(a->dying));
	if (ret)
		goto err_free;
	gca_lock_mutator(a);
	if (gca_thread_current(a)) {
		ret = -EEXIST;
		goto err_unlock;
	}
	if (a->phase == GCA_PHASE_MARK_TERM) {
		/* lost a race with mark termination: let the library retry */
		ret = -EAGAIN;
		goto err_unlock;
	}
	tid = find_first_zero_bit(a->tid_map, GCA_MAX_THREADS);
	/* full: dead threads that never unregistered give their slots back */
	if (tid >= GCA_MAX_THREADS && gca_reap_gone(a))
		tid = find_first_zero_bit(a->tid_map, GCA_MAX_THREADS);
	if (tid >= GCA_MAX_THREADS) {
		ret = -ENOSPC;
		goto err_unlock;
	}
	__set_bit(tid, a->tid_map);
	t->tid = tid;
	t->task = get_task_struct(current);
	/*
	 * A new thread reads the phase itself: it joins the cycle as
	 * answered, with its barrier on.  Not as scanned: it may hold the
	 * only reference to what its creator handed it (pthread_create's
	 * argument is not scanned memory), and the creator, its own stack
	 * not scanned yet, may drop its copy as soon as the new thread has
	 * registered.  It scans its stack at its first answer, or as it
	 * parks (gca_handshake()), before the mark can end: past the
	 * barrier stage it owes the round in force that answer (the
	 * library answers when hs_seq differs from the one it is given).
	 */
	t->acked_seq = a->hs_seq;
	if (a->phase == GCA_PHASE_MARK && a->stage != GCA_STAGE_BARRIER)
		t->acked_seq--;
	t->barrier_cycle = a->cycle;
	t->scanned_cycle = a->scan_id - 1;
	list_add_tail(&t->node, &a->threads);
	a->nthreads++;
	r->tid = tid;
	r->hs_seq = t->acked_seq;
	/* a cycle that waited for a mutator to scan the roots may go now */
	if (a->request != GCA_GC_NONE)
		wake_up(&a->gc_wq);
	mutex_unlock(&a->lock);
	return 0;

err_unlock:
	mutex_unlock(&a->lock);
err_free:
	kfree(t);
	return ret;
}

static int gca_ioc_unregister(struct gca_ioc_ctx *c)
{
	struct gca_thread_unreg *u = &c->arg->unreg;
	struct gca_arena *a = c->a;
	struct gca_thread *t;
	int ret;

	if (u->flags || u->resv0 || u->nspans > GCA_MAX_RET_SPANS)
		return -EINVAL;
	t = gca_thread_get_current(a);
	if (!t)
		return -ESRCH;
	ret = gca_give_back_spans(a, t, u->spans, u->nspans);
	gca_lock_mutator(a);
	gca_thread_put(a, t);
	gca_thread_drop(a, t);
	mutex_unlock(&a->lock);
	return ret;
}

static int gca_ioc_refill(struct gca_ioc_ctx *c)
{
	struct gca_refill *rf = &c->arg->refill;
	struct gca_arena *a = c->a;
	struct gca_heap *h = &a->heap;
	unsigned int sizeclass = rf->spanclass >> 1;
	struct gca_span *s, *old = NULL;
	struct gca_thread *t;
	u64 live0, before;
	int ret;

	if (rf->flags || rf->resv0)
		return -EINVAL;
	if (sizeclass < 1 || sizeclass >= GCA_NUM_SIZE_CLASSES)
		return -EINVAL;
	ret = gca_cycle_need_thread(a);
	if (ret)
		return ret;

	gca_lock_mutator(a);
	t = gca_thread_current(a);
	if (!t) {
		ret = -ESRCH;
		goto out;
	}
	ret = gca_mutator_may_allocate(a, t);
	if (ret)
		goto out;
	if (rf->ret_base) {
		old = gca_cached_span(a, t, rf->ret_base);
		if (!old) {
			ret = -EINVAL;
			goto out;
		}
	}
	/*
	 * The new span first: on failure (-ENOMEM) the old one is still
	 * the thread's, as the library assumes when the call fails.
	 */
	live0 = h->heap_live;
	s = gca_span_refill(h, rf->spanclass, t->tid, &ret);
	if (!s)
		goto out;
	if (old) {
		/* the assist counts growth net of the slots handed back */
		before = h->heap_live;
		list_del_init(&old->list);
		gca_span_uncache(h, old, rf->ret_freeindex);
		live0 -= min(live0, before - h->heap_live);
	}
	list_add(&s->list, &t->spans);
	rf->base = h->user_base + s->start * GCA_PAGE_SIZE;
	rf->elemsize = s->elemsize;
	rf->nelems = s->nelems;
	rf->needzero = s->needzero;
	memset(rf->free_bits, 0, sizeof(rf->free_bits));
	memcpy(rf->free_bits, s->cache_bits, s->nwords * sizeof(u64));
	ret = 0;
	gca_cycle_check_trigger(a);
	gca_mark_assist(a, t, live0);
out:
	mutex_unlock(&a->lock);
	return ret;
}

/*
 * Back the pages of a reserved large object s, GCA_POPULATE_STEP heap
 * pages per hold of a->lock (and of pages_rwsem, inside populate), the
 * lock dropped in between so that the collector, faults and the other
 * threads get their turn whatever the size; a fatal signal stops it.
 * Called and returns with a->lock held; 0, -ENOMEM or -EINTR.  *backed
 * is what was newly backed; on failure the caller unwinds.
 */
static int gca_populate_large(struct gca_arena *a, struct gca_span *s,
			      s64 *backed, bool *fresh, u64 *done)
{
	struct gca_heap *h = &a->heap;
	bool f;
	s64 got;
	u64 n;

	*backed = 0;
	*fresh = true;
	for (*done = 0; *done < s->npages; *done += n) {
		n = min_t(u64, s->npages - *done, GCA_POPULATE_STEP);
		got = h->ops->populate(h, s->start + *done, n, &f);
		if (got < 0) {
			/* populate counted its part: release() takes it back */
			*done += n;
			return -ENOMEM;
		}
		*backed += got;
		*fresh &= f;
		if (*done + n < s->npages) {
			mutex_unlock(&a->lock);
			cond_resched();
			gca_lock_mutator(a);
		}
		if (fatal_signal_pending(current)) {
			*done += n;
			return -EINTR;
		}
	}
	return 0;
}

/*
 * Unwind a large object that could not be backed whole: release the
 * first done pages of s, GCA_POPULATE_STEP per hold of a->lock as they
 * were backed, then give the pages and any growth of the heap back.
 * backed bytes were newly backed and not counted yet; the other pages of
 * the range were free pages' retained memory (or the part populate
 * counted as it failed), counted in heap_backed: nothing is kept.
 */
static void gca_unwind_large(struct gca_arena *a, struct gca_span *s,
			     u64 done, s64 backed, u64 grown)
{
	struct gca_heap *h = &a->heap;
	u64 off, n, freed = 0;

	for (off = 0; off < done; off += n) {
		n = min_t(u64, done - off, GCA_POPULATE_STEP);
		freed += h->ops->release(h, s->start + off, n);
		if (off + n < done) {
			mutex_unlock(&a->lock);
			cond_resched();
			gca_lock_mutator(a);
		}
	}
	freed -= min_t(u64, freed, backed);
	h->heap_backed -= min(h->heap_backed, freed);
	gca_large_abort(h, s, grown);
}

static int gca_ioc_alloc_large(struct gca_ioc_ctx *c)
{
	struct gca_alloc_large *al = &c->arg->large;
	struct gca_arena *a = c->a;
	struct gca_heap *h = &a->heap;
	struct gca_thread *t;
	struct gca_span *s;
	u64 live0, grown, done;
	bool fresh, black;
	s64 backed;
	int ret;

	if (al->flags & ~GCA_ALLOC_NOSCAN)
		return -EINVAL;
	if (al->resv0)
		return -EINVAL;
	if (!al->bytes || al->bytes > h->npages * GCA_PAGE_SIZE)
		return -EINVAL;
	ret = gca_cycle_need_thread(a);
	if (ret)
		return ret;

	gca_lock_mutator(a);
	t = gca_thread_current(a);
	if (!t) {
		mutex_unlock(&a->lock);
		return -ESRCH;
	}
	/* pinned (see gca_thread_get_current()): the lock will be dropped */
	t->busy++;
	ret = gca_mutator_may_allocate(a, t);
	if (ret)
		goto out;
	grown = h->grown_pages;
	s = gca_large_reserve(h, al->bytes);
	if (!s) {
		ret = -ENOMEM;
		goto out;
	}
	ret = gca_populate_large(a, s, &backed, &fresh, &done);
	if (ret) {
		gca_unwind_large(a, s, done, backed, grown);
		goto out;
	}
	/*
	 * The lock was dropped: the phase may have moved.  Allocation is
	 * black while marking only once this thread's barrier is on (a
	 * cycle that began meanwhile waits for this thread at its barrier
	 * round, and scans its stack after it: white is safe then), and
	 * after a mark until the next one begins, as gca_alloc_large().
	 */
	black = h->marking ? t->barrier_cycle == a->cycle : h->sweeping;
	live0 = h->heap_live;
	gca_large_commit(h, s, al->flags & GCA_ALLOC_NOSCAN, backed, fresh,
			 black);
	al->addr = h->user_base + s->start * GCA_PAGE_SIZE;
	al->needzero = s->needzero;
	gca_cycle_check_trigger(a);
	gca_mark_assist(a, t, live0);
out:
	gca_thread_put(a, t);
	mutex_unlock(&a->lock);
	return ret;
}

static int gca_ioc_handshake(struct gca_ioc_ctx *c, bool collect)
{
	struct gca_handshake *hs = &c->arg->hs;
	struct gca_arena *a = c->a;
	struct gca_thread *t;
	int ret, err;

	if (hs->flags & ~GCA_HS_FLAGS || hs->resv0 || hs->resv1 ||
	    hs->nspans > GCA_MAX_RET_SPANS || hs->nwbuf > GCA_WBUF_MAX ||
	    hs->regs_lo > hs->regs_hi)
		return -EINVAL;
	if (collect && hs->flags)
		return -EINVAL;
	if (collect) {
		ret = gca_cycle_need_thread(a);
		if (ret)
			return ret;
	}
	t = gca_thread_get_current(a);
	if (!t && !collect)
		return -ESRCH;
	if (!t && (hs->nspans || hs->nwbuf))
		return -EINVAL;
	if (t) {
		ret = gca_flush_wbuf(a, hs->wbuf, hs->nwbuf);
		if (!ret || ret == -EINVAL)
			ret = gca_give_back_spans(a, t, hs->spans, hs->nspans);
		if (ret && ret != -EINVAL)
			goto out;
	}
	err = gca_handshake(a, t, hs, collect);
	if (err)
		ret = err;
	hs->num_gc = READ_ONCE(a->num_gc);
out:
	if (t) {
		gca_lock_mutator(a);
		gca_thread_put(a, t);
		mutex_unlock(&a->lock);
	}
	return ret;
}

static int gca_ioc_add_roots(struct gca_ioc_ctx *c)
{
	struct gca_roots *ro = &c->arg->roots;
	struct gca_arena *a = c->a;
	struct gca_root *r, *it;
	u64 end;
	int ret;

	if (ro->flags)
		return -EINVAL;
	if (!ro->len || ro->len > GCA_MAX_ROOT_BYTES ||
	    check_add_overflow(ro->start, ro->len, &end))
		return -EINVAL;
	if (!access_ok(u64_to_user_ptr(ro->start), ro->len))
		return -EFAULT;
	r = kzalloc(sizeof(*r), GCA_GFP_HEAP);
	if (!r)
		return -ENOMEM;
	r->start = ro->start;
	r->len = ro->len;
	gca_lock_mutator(a);
	if (a->nroots >= GCA_MAX_ROOTS) {
		ret = -ENOSPC;
		goto err;
	}
	list_for_each_entry(it, &a->roots, node) {
		if (it->start == r->start) {
			ret = -EEXIST;
			goto err;
		}
	}
	list_add_tail(&r->node, &a->roots);
	a->nroots++;
	mutex_unlock(&a->lock);
	return 0;
err:
	mutex_unlock(&a->lock);
	kfree(r);
	return ret;
}

static int gca_ioc_remove_roots(struct gca_ioc_ctx *c)
{
	struct gca_roots *ro = &c->arg->roots;
	struct gca_arena *a = c->a;
	struct gca_root *r;
	int ret;

	if (ro->flags)
		return -EINVAL;
	ret = -ENOENT;
	gca_lock_mutator(a);
	list_for_each_entry(r, &a->roots, node) {
		if (r->start == ro->start) {
			list_del(&r->node);
			a->nroots--;
			kfree(r);
			ret = 0;
			break;
		}
	}
	mutex_unlock(&a->lock);
	return ret;
}

static int gca_ioc_set_params(struct gca_ioc_ctx *c)
{
	struct gca_params_arg *p = &c->arg->params;
	struct gca_arena *a = c->a;
	int old_percent, ret;
	u32 old_debug;
	s64 old_limit;

	if (p->flags & ~GCA_SET_FLAGS)
		return -EINVAL;
	if ((p->flags & GCA_SET_DEBUG) &&
	    ((p->flags & GCA_SET_DEFAULT_DEBUG) || p->debug & ~GCA_DEBUG_FLAGS))
		return -EINVAL;
	if ((p->flags & GCA_SET_GC_PERCENT) &&
	    ((p->flags & GCA_SET_DEFAULT_GC_PERCENT) || p->gc_percent < -1))
		return -EINVAL;
	if ((p->flags & GCA_SET_MEMORY_LIMIT) &&
	    ((p->flags & GCA_SET_DEFAULT_MEMORY_LIMIT) || p->memory_limit < 0))
		return -EINVAL;
	/* new knobs may ask for a cycle (gca_cycle_check_trigger()) */
	ret = gca_cycle_need_thread(a);
	if (ret)
		return ret;

	gca_lock_mutator(a);
	old_percent = gca_arena_gc_percent(a);
	old_limit = gca_arena_memory_limit(a);
	old_debug = gca_arena_debug(a);
	if (p->flags & GCA_SET_DEBUG) {
		a->debug = p->debug;
		a->checkmark_own = true;
	}
	if (p->flags & GCA_SET_DEFAULT_DEBUG)
		a->checkmark_own = false;
	if (p->flags & GCA_SET_GC_PERCENT) {
		a->gc_percent = p->gc_percent;
		a->gc_percent_own = true;
	}
	if (p->flags & GCA_SET_DEFAULT_GC_PERCENT)
		a->gc_percent_own = false;
	if (p->flags & GCA_SET_MEMORY_LIMIT) {
		a->memory_limit = p->memory_limit;
		a->memory_limit_own = true;
	}
	if (p->flags & GCA_SET_DEFAULT_MEMORY_LIMIT)
		a->memory_limit_own = false;
	gca_cycle_update_pacer(a);
	gca_cycle_check_trigger(a);
	mutex_unlock(&a->lock);
	p->gc_percent = old_percent;
	p->memory_limit = old_limit;
	p->debug = old_debug;
	return 0;
}

static int gca_ioc_read_stats(struct gca_ioc_ctx *c)
{
	struct gca_stats *st = &c->arg->stats;
	int ret;

	if (st->flags)
		return -EINVAL;
	ret = gca_arena_fill_stats(c->a, st);
	/* poll() is readable again after the next cycle */
	WRITE_ONCE(c->a->stats_seen_gc, st->num_gc);
	return ret;
}

static int gca_ioc_query(struct gca_ioc_ctx *c)
{
	struct gca_query *q = &c->arg->query;
	struct gca_arena *a = c->a;
	u64 *addrs, *live;
	u32 i, nwords;
	int ret;

	if (q->flags || q->resv0 || !q->n || q->n > GCA_QUERY_MAX)
		return -EINVAL;
	nwords = DIV_ROUND_UP(q->n, 64);
	/* up to 520 KiB the caller sizes: charged, -ENOMEM at its limit */
	addrs = kvmalloc_array(q->n, sizeof(u64), GCA_GFP_HEAP);
	live = kvcalloc(nwords, sizeof(u64), GCA_GFP_HEAP);
	if (!addrs || !live) {
		ret = -ENOMEM;
		goto out;
	}
	if (copy_from_user(addrs, u64_to_user_ptr(q->addrs),
			   (size_t)q->n * sizeof(u64))) {
		ret = -EFAULT;
		goto out;
	}
	gca_lock_mutator(a);
	for (i = 0; i < q->n; i++)
		if (gca_is_allocated(&a->heap, addrs[i] - a->heap.user_base))
			live[i / 64] |= 1ULL << (i % 64);
	mutex_unlock(&a->lock);
	if (copy_to_user(u64_to_user_ptr(q->live), live, nwords * sizeof(u64)))
		ret = -EFAULT;
out:
	kvfree(addrs);
	kvfree(live);
	return ret;
}

struct gca_ioc_op {
	int (*fn)(struct gca_ioc_ctx *c);
	u32 size;		/* sizeof the argument this module knows */
	u32 min_size;		/* where its first version ended */
	bool any_process;	/* allowed from a process other than the creator */
	u8 needs;		/* GCA_NEEDS_*: what must be set up before fn */
};

static int gca_ioc_handshake_op(struct gca_ioc_ctx *c)
{
	return gca_ioc_handshake(c, false);
}

static int gca_ioc_collect_op(struct gca_ioc_ctx *c)
{
	return gca_ioc_handshake(c, true);
}

/*
 * last: the last field of the argument's first version.  A field added
 * to a struct later goes at its end and makes size grow; last, and so
 * min_size, never change.  Every version holds size and flags.
 */
#define GCA_OP(nr, f, type, last, any, need)				\
	[_IOC_NR(nr)] = {						\
		.fn = f,						\
		.size = sizeof(type),					\
		.min_size = offsetofend(type, last) +			\
			BUILD_BUG_ON_ZERO(offsetofend(type, last) <	\
					  offsetofend(type, flags)),	\
		.any_process = any,					\
		.needs = need,						\
	}
static const struct gca_ioc_op gca_ioc_ops[] = {
	GCA_OP(GCA_IOC_GET_INFO, gca_ioc_get_info, struct gca_info,
	       class_to_npages, true, GCA_NEEDS_NOTHING),
	/*
	 * resv[] must be 0, so a struct that stops before it asks the same:
	 * the first version ends at heap_size_out.
	 */
	GCA_OP(GCA_IOC_CREATE, gca_ioc_create, struct gca_create,
	       heap_size_out, false, GCA_NEEDS_NOTHING),
	GCA_OP(GCA_IOC_REGISTER_THREAD, gca_ioc_register,
	       struct gca_thread_reg, hs_seq, false, GCA_NEEDS_CREATED),
	GCA_OP(GCA_IOC_UNREGISTER_THREAD, gca_ioc_unregister,
	       struct gca_thread_unreg, resv0, false, GCA_NEEDS_CREATED),
	GCA_OP(GCA_IOC_REFILL, gca_ioc_refill, struct gca_refill, free_bits,
	       false, GCA_NEEDS_MAPPED),
	GCA_OP(GCA_IOC_ALLOC_LARGE, gca_ioc_alloc_large,
	       struct gca_alloc_large, resv0, false, GCA_NEEDS_MAPPED),
	GCA_OP(GCA_IOC_HANDSHAKE, gca_ioc_handshake_op,
	       struct gca_handshake, resv1, false, GCA_NEEDS_CREATED),
	GCA_OP(GCA_IOC_COLLECT, gca_ioc_collect_op, struct gca_handshake,
	       resv1, false, GCA_NEEDS_CREATED),
	GCA_OP(GCA_IOC_ADD_ROOTS, gca_ioc_add_roots, struct gca_roots, len,
	       false, GCA_NEEDS_CREATED),
	GCA_OP(GCA_IOC_REMOVE_ROOTS, gca_ioc_remove_roots, struct gca_roots,
	       len, false, GCA_NEEDS_CREATED),
	GCA_OP(GCA_IOC_SET_PARAMS, gca_ioc_set_params, struct gca_params_arg,
	       memory_limit, false, GCA_NEEDS_CREATED),
	/* mark_term_retries and mark_slice_max came later */
	GCA_OP(GCA_IOC_READ_STATS, gca_ioc_read_stats, struct gca_stats,
	       resv1, false, GCA_NEEDS_CREATED),
	GCA_OP(GCA_IOC_QUERY_OBJECTS, gca_ioc_query, struct gca_query, resv0,
	       false, GCA_NEEDS_CREATED),
};

long gca_ioctl(struct file *file, unsigned int cmd, unsigned long uarg)
{
	struct gca_arena *a = file->private_data;
	const struct gca_ioc_op *op;
	struct gca_ioc_ctx c = { .a = a };
	u64 stack_arg[GCA_ARG_STACK / sizeof(u64)];
	void __user *up = (void __user *)uarg;
	unsigned int nr = _IOC_NR(cmd);
	u32 usize;
	int ret;

	/* commands carry no size or direction: anything else is not ours */
	if (cmd != _IO(GCA_IOC_MAGIC, nr) || nr >= ARRAY_SIZE(gca_ioc_ops) ||
	    !gca_ioc_ops[nr].fn)
		return -ENOTTY;
	op = &gca_ioc_ops[nr];
	if (!op->any_process && current->mm != a->mm)
		return -EPERM;

	if (get_user(usize, (u32 __user *)up))
		return -EFAULT;
	if (usize < op->min_size)
		return -EINVAL;
	if (usize > GCA_ARG_MAX)
		return -E2BIG;
	c.usize = usize;
	/* a handler touches only its own member: op->size bytes */
	if (op->size <= sizeof(stack_arg))
		c.arg = (union gca_ioc_arg *)stack_arg;
	else
		c.arg = kmalloc(op->size, GFP_KERNEL);
	if (!c.arg)
		return -ENOMEM;
	ret = copy_struct_from_user(c.arg, op->size, up, usize);
	if (ret)
		goto out;
	if (op->needs == GCA_NEEDS_CREATED)
		ret = gca_check_created(a);
	else if (op->needs == GCA_NEEDS_MAPPED)
		ret = gca_check_mapped(a);
	if (ret)
		goto out;
	/* out fields are the kernel's to fill: the user's bytes are ignored */
	ret = op->fn(&c);
	if (!ret && copy_to_user(up, c.arg, min_t(size_t, usize, op->size)))
		ret = -EFAULT;
out:
	if (c.arg != (union gca_ioc_arg *)stack_arg)
		kfree(c.arg);
	return ret;
}
