// SPDX-License-Identifier: GPL-2.0
/*
 * Arena life cycle, the two mappings, and the memory behind the heap.
 *
 * The heap is a reserved range of heap_size bytes mapped MAP_SHARED at
 * GCA_OFF_HEAP.  No memory backs it until the core takes pages for a span
 * (ops->populate, in the allocating thread's ioctl, so the pages are
 * charged to that process's memory cgroup; a large object is backed
 * GCA_POPULATE_STEP pages per hold of arena->lock, killable, and given
 * back whole if it cannot be, ioctl.c).  A page fault maps the backing
 * page if there is one and raises SIGBUS otherwise.  The collector never
 * touches user page tables: it reads the heap through the backing pages'
 * kernel addresses (ops->map).
 *
 * Releasing backing memory (ops->release) removes the pages from the
 * backing table under pages_rwsem, then zaps every user mapping of them
 * with unmap_mapping_range() on the arena's own address_space, and only
 * then frees them.  A fault inserts its page while holding pages_rwsem for
 * reading, so any PTE for a page exists before the page leaves the table
 * and is zapped before the page is freed.
 *
 * The mappings are VM_DONTCOPY (a child of fork() gets no heap: the arena
 * is private to its creator; after MADV_DOFORK it gets an empty range,
 * see gca_vma_open()), VM_DONTEXPAND, not executable, and cannot be moved
 * by mremap() (the collector knows the heap by its address).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/capability.h>
#include <linux/highmem.h>
#include <linux/idr.h>
#include <linux/math64.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mount.h>
#include <linux/pid.h>
#include <linux/pseudo_fs.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/timekeeping.h>
#include <linux/vmalloc.h>
#include "gcarena_private.h"

DEFINE_MUTEX(gca_arenas_lock);	/* gca_arenas and gca_ida */
LIST_HEAD(gca_arenas);
static DEFINE_IDA(gca_ida);

/* ---------------------------------------------------------------------
 * A private pseudo filesystem gives each arena an inode of its own.
 */
#define GCA_FS_MAGIC	0x67636172
static struct vfsmount *gca_mnt;

static int gca_fs_init_fs_context(struct fs_context *fc)
{
	return init_pseudo(fc, GCA_FS_MAGIC) ? 0 : -ENOMEM;
}

static struct file_system_type gca_fs_type = {
	/* no .owner: the module's own mount must not pin the module */
	.name		= "gcarena",
	.init_fs_context = gca_fs_init_fs_context,
	.kill_sb	= kill_anon_super,
};

int gca_fs_init(void)
{
	gca_mnt = kern_mount(&gca_fs_type);
	return PTR_ERR_OR_ZERO(gca_mnt);
}

void gca_fs_exit(void)
{
	kern_unmount(gca_mnt);
}

/* ---------------------------------------------------------------------
 * Backing memory: the core's gca_heap_ops.
 */

/* 4 KiB pages per heap page */
#define GCA_SUBPAGES	(GCA_PAGE_SIZE >> PAGE_SHIFT)
/* Directory entries of the backing table at its first growth: 32 MiB. */
#define GCA_BACKING_DIR_MIN	8ULL

/*
 * The backing table has two levels, as the core's span table: a directory
 * of chunks, each GCA_BACKING_CHUNK page pointers (one 4 MiB heap chunk,
 * 8 KiB of pointers), both made by gca_populate() as the heap is backed.
 * The directory doubles when a chunk past it is backed, up to the
 * reservation's chunks (2 MiB for a 1 TiB heap): an arena's table follows
 * the heap it backs, and an empty one has none.  Written with a->lock and
 * pages_rwsem held for writing, so a fault (pages_rwsem for reading) and
 * gca_map() (a->lock) see either directory whole.
 */
static bool gca_backing_reserve(struct gca_arena *a, u64 want)
{
	u64 len, max_len = a->heap.nchunks;
	struct page ***dir;

	lockdep_assert_held(&a->lock);
	lockdep_assert_held_write(&a->pages_rwsem);
	if (want > max_len)
		return false;
	len = min(max3(want, 2 * a->nbacking_chunks, GCA_BACKING_DIR_MIN),
		  max_len);
	dir = kvcalloc(len, sizeof(*dir), GCA_GFP_HEAP);
	if (!dir)
		return false;
	if (a->nbacking_chunks)
		memcpy(dir, a->backing, a->nbacking_chunks * sizeof(*dir));
	kvfree(a->backing);
	a->meta_bytes += (len - a->nbacking_chunks) * sizeof(*dir);
	a->backing = dir;
	a->nbacking_chunks = len;
	return true;
}

/*
 * The slot of 4 KiB page kpage of the heap, or NULL if its chunk has no
 * table (with create, made: -ENOMEM is NULL too).
 */
static struct page **gca_backing_slot(struct gca_arena *a, u64 kpage,
				      bool create)
{
	u64 chunk = kpage / GCA_BACKING_CHUNK;
	struct page **pages;

	if (chunk >= a->nbacking_chunks &&
	    (!create || !gca_backing_reserve(a, chunk + 1)))
		return NULL;
	pages = a->backing[chunk];
	if (!pages && create) {
		pages = kvcalloc(GCA_BACKING_CHUNK, sizeof(*pages),
				 GCA_GFP_HEAP);
		if (!pages)
			return NULL;
		a->backing[chunk] = pages;
		a->meta_bytes += GCA_BACKING_CHUNK * sizeof(*pages);
	}
	return pages ? &pages[kpage % GCA_BACKING_CHUNK] : NULL;
}

static s64 gca_populate(struct gca_heap *h, u64 first, u64 n, bool *all_fresh)
{
	struct gca_arena *a = h->priv;
	u64 kp, end = (first + n) * GCA_SUBPAGES;
	s64 added = 0;
	bool fresh = true;

	lockdep_assert_held(&a->lock);
	down_write(&a->pages_rwsem);
	for (kp = first * GCA_SUBPAGES; kp < end; kp++) {
		struct page **slot = gca_backing_slot(a, kp, true);
		struct page *page;

		if (!slot)
			goto nomem;
		if (*slot) {
			fresh = false;
			continue;
		}
		/* charged to the caller's memcg; no OOM kill, no warning */
		page = alloc_page(GFP_KERNEL_ACCOUNT | __GFP_ZERO |
				  __GFP_RETRY_MAYFAIL | __GFP_NOWARN);
		if (!page)
			goto nomem;
		*slot = page;
		added += PAGE_SIZE;
	}
	up_write(&a->pages_rwsem);
	*all_fresh = fresh;
	return added;

nomem:
	/*
	 * keep what was added: the pages are counted and reusable (a
	 * large object's caller releases its whole range, ioctl.c)
	 */
	up_write(&a->pages_rwsem);
	h->heap_backed += added;
	return -ENOMEM;
}

static u64 gca_release(struct gca_heap *h, u64 first, u64 n)
{
	struct gca_arena *a = h->priv;
	u64 kp, start = first * GCA_SUBPAGES, end = (first + n) * GCA_SUBPAGES;
	struct page *batch[32];
	u64 freed = 0;
	int nb, i;

	lockdep_assert_held(&a->lock);
	for (kp = start; kp < end; ) {
		u64 batch_start = kp;

		nb = 0;
		down_write(&a->pages_rwsem);
		for (; kp < end && nb < ARRAY_SIZE(batch); kp++) {
			struct page **slot = gca_backing_slot(a, kp, false);

			if (slot && *slot) {
				batch[nb++] = *slot;
				*slot = NULL;
			}
		}
		up_write(&a->pages_rwsem);
		if (!nb)
			continue;
		/* no PTE may outlive the page: zap, then free */
		unmap_mapping_range(a->inode->i_mapping,
				    (loff_t)batch_start << PAGE_SHIFT,
				    (loff_t)(kp - batch_start) << PAGE_SHIFT, 1);
		for (i = 0; i < nb; i++)
			__free_page(batch[i]);
		freed += (u64)nb * PAGE_SIZE;
		cond_resched();
	}
	return freed;
}

static const void *gca_map(struct gca_heap *h, u64 off, u64 *len)
{
	struct gca_arena *a = h->priv;
	struct page **slot;

	/*
	 * No pages_rwsem: pages are added and removed only under a->lock,
	 * which the caller holds.
	 */
	lockdep_assert_held(&a->lock);
	slot = gca_backing_slot(a, off >> PAGE_SHIFT, false);
	if (!slot || !*slot)
		return NULL;
	*len = PAGE_SIZE - offset_in_page(off);
	return page_address(*slot) + offset_in_page(off);
}

static bool gca_should_abort(struct gca_heap *h)
{
	struct gca_arena *a = h->priv;

	if (READ_ONCE(a->dying))
		return true;
	if (current == READ_ONCE(a->gc_thread))
		return kthread_should_stop();
	return fatal_signal_pending(current);
}

static bool gca_may_log(struct gca_heap *h)
{
	return gca_checkmark_may_log(h->priv);
}

/*
 * A mutator waits for a->lock (gca_lock_mutator()): a drain slice, the
 * collector's or an assist's, ends early to let it in.
 */
static bool gca_lock_wanted(struct gca_heap *h)
{
	struct gca_arena *a = h->priv;

	return atomic_read(&a->lock_waiters);
}

static const struct gca_heap_ops gca_heap_ops = {
	.populate	= gca_populate,
	.release	= gca_release,
	.map		= gca_map,
	.should_abort	= gca_should_abort,
	.may_log	= gca_may_log,
	.lock_wanted	= gca_lock_wanted,
};

static void gca_backing_free(struct gca_arena *a)
{
	u64 c, i;

	if (!a->backing)
		return;
	for (c = 0; c < a->nbacking_chunks; c++) {
		struct page **pages = a->backing[c];

		if (!pages)
			continue;
		for (i = 0; i < GCA_BACKING_CHUNK; i++)
			if (pages[i])
				__free_page(pages[i]);
		kvfree(pages);
	}
	kvfree(a->backing);
	a->backing = NULL;
}

/* ---------------------------------------------------------------------
 * Arena life cycle
 */

struct gca_arena *gca_arena_alloc(void)
{
	struct gca_arena *a;
	int ret = -ENOMEM;

	a = kzalloc(sizeof(*a), GCA_GFP_HEAP);
	if (!a)
		return ERR_PTR(-ENOMEM);
	kref_init(&a->ref);
	mutex_init(&a->lock);
	mutex_init(&a->gc_thread_lock);
	atomic_set(&a->lock_waiters, 0);
	init_rwsem(&a->pages_rwsem);
	init_waitqueue_head(&a->gc_wq);
	init_waitqueue_head(&a->cycle_wq);
	INIT_LIST_HEAD(&a->threads);
	INIT_LIST_HEAD(&a->roots);
	INIT_LIST_HEAD(&a->node);
	a->phase = GCA_PHASE_OFF;
	a->tid_map = bitmap_zalloc(GCA_MAX_THREADS, GCA_GFP_HEAP);
	if (!a->tid_map)
		goto err;
	a->inode = alloc_anon_inode(gca_mnt->mnt_sb);
	if (IS_ERR(a->inode)) {
		ret = PTR_ERR(a->inode);
		a->inode = NULL;
		goto err;
	}
	a->mm = current->mm;
	if (!a->mm) {
		ret = -EINVAL;
		goto err;
	}
	mmgrab(a->mm);
	a->pid = get_task_pid(current->group_leader, PIDTYPE_PID);
	get_task_comm(a->comm, current->group_leader);
	a->uid = current_uid();
	a->created_ns = ktime_get_ns();
	a->last_gc_jiffies = jiffies;
	return a;

err:
	if (a->inode)
		iput(a->inode);
	bitmap_free(a->tid_map);
	kfree(a);
	return ERR_PTR(ret);
}

/* Resource limits: arenas per process, and per user unless privileged. */
static bool gca_arena_limit_reached(struct gca_arena *new)
{
	struct gca_arena *a;
	int per_mm = 0, per_user = 0;

	lockdep_assert_held(&gca_arenas_lock);
	list_for_each_entry(a, &gca_arenas, node) {
		if (a->mm == new->mm)
			per_mm++;
		if (uid_eq(a->uid, new->uid))
			per_user++;
	}
	if (per_mm >= GCA_MAX_ARENAS_PER_MM)
		return true;
	return per_user >= GCA_MAX_ARENAS_PER_USER &&
	       !capable(CAP_SYS_RESOURCE);
}

/* GCA_IOC_CREATE: the arguments are checked by the caller. */
int gca_arena_create(struct gca_arena *a, const struct gca_create *arg)
{
	u64 size = arg->heap_size ? arg->heap_size : GCA_HEAP_SIZE_DEFAULT;
	int ret, id;

	if (size < GCA_HEAP_SIZE_MIN || size > GCA_HEAP_SIZE_MAX ||
	    size & (GCA_PAGE_SIZE - 1))
		return -EINVAL;
	if (arg->preempt_signal >= _NSIG ||
	    (arg->preempt_signal && sig_kernel_only(arg->preempt_signal)))
		return -EINVAL;
	if ((arg->flags & GCA_CREATE_GC_PERCENT) && arg->gc_percent < -1)
		return -EINVAL;
	if ((arg->flags & GCA_CREATE_MEMORY_LIMIT) && arg->memory_limit < 0)
		return -EINVAL;

	mutex_lock(&a->lock);
	if (a->creating) {
		mutex_unlock(&a->lock);
		return -EBUSY;
	}
	a->creating = true;
	ret = gca_heap_init(&a->heap, size, &gca_heap_ops, a, &a->lock);
	if (ret)
		goto err_unlock;
	/* no object at the heap's base address: see core/gca_pageheap.c */
	ret = gca_heap_reserve_base(&a->heap);
	if (ret)
		goto err_heap;
	/* no backing table yet: gca_populate() makes it */
	a->ctrl_page = alloc_page(GCA_GFP_HEAP | __GFP_ZERO);
	if (!a->ctrl_page) {
		ret = -ENOMEM;
		goto err_heap;
	}
	a->ctrl = page_address(a->ctrl_page);
	a->ctrl->magic = GCA_CTRL_MAGIC;
	a->ctrl->abi_version = GCA_ABI_VERSION;
	a->ctrl->heap_size = size;
	a->preempt_signal = arg->preempt_signal;
	if (arg->flags & GCA_CREATE_GC_PERCENT) {
		a->gc_percent = arg->gc_percent;
		a->gc_percent_own = true;
	}
	if (arg->flags & GCA_CREATE_MEMORY_LIMIT) {
		a->memory_limit = arg->memory_limit;
		a->memory_limit_own = true;
	}
	gca_cycle_update_pacer(a);
	mutex_unlock(&a->lock);

	/* gca_arenas_lock ranks above a->lock: taken without it */
	if (mutex_lock_killable(&gca_arenas_lock)) {
		ret = -EINTR;
		goto err_ctrl;
	}
	if (gca_arena_limit_reached(a)) {
		mutex_unlock(&gca_arenas_lock);
		ret = -EMFILE;
		goto err_ctrl;
	}
	id = ida_alloc_min(&gca_ida, 1, GFP_KERNEL);
	if (id < 0) {
		mutex_unlock(&gca_arenas_lock);
		ret = id;
		goto err_ctrl;
	}
	a->id = id;
	list_add_tail(&a->node, &gca_arenas);
	mutex_unlock(&gca_arenas_lock);

	/*
	 * No collector thread yet: the first call that may need a cycle
	 * starts it (gca_cycle_need_thread()), so an arena that never
	 * allocates has none.
	 */
	ret = gca_proc_add_arena(a);
	if (ret)
		goto err_list;
	mutex_lock(&a->lock);
	WRITE_ONCE(a->created, true);
	mutex_unlock(&a->lock);
	return 0;

err_list:
	mutex_lock(&gca_arenas_lock);
	list_del_init(&a->node);
	ida_free(&gca_ida, a->id);
	a->id = 0;
	mutex_unlock(&gca_arenas_lock);
err_ctrl:
	mutex_lock(&a->lock);
	__free_page(a->ctrl_page);
	a->ctrl_page = NULL;
	a->ctrl = NULL;
err_heap:
	gca_heap_destroy(&a->heap);
	memset(&a->heap, 0, sizeof(a->heap));
err_unlock:
	a->creating = false;
	mutex_unlock(&a->lock);
	return ret;
}

static void gca_arena_free(struct kref *ref)
{
	kfree(container_of(ref, struct gca_arena, ref));
}

/* Drop a reference taken on a->ref (/proc) or the file's own. */
void gca_arena_put(struct gca_arena *a)
{
	kref_put(&a->ref, gca_arena_free);
}

/*
 * The last reference to the file is gone: no mapping, no ioctl in flight
 * (both hold the file).  Only the collector thread may still run, and
 * /proc readers holding a reference: they look at dying under a->lock
 * and read nothing once it is set, so everything but the struct itself
 * goes here.
 */
void gca_arena_destroy(struct gca_arena *a)
{
	struct gca_thread *t, *tn;
	struct gca_root *r, *rn;

	WRITE_ONCE(a->dying, true);
	wake_up_all(&a->gc_wq);
	if (a->created) {
		gca_proc_remove_arena(a);
		gca_cycle_stop_thread(a);
		mutex_lock(&gca_arenas_lock);
		list_del_init(&a->node);
		ida_free(&gca_ida, a->id);
		mutex_unlock(&gca_arenas_lock);
	}

	mutex_lock(&a->lock);
	list_for_each_entry_safe(t, tn, &a->threads, node)
		gca_thread_drop(a, t);
	list_for_each_entry_safe(r, rn, &a->roots, node) {
		list_del(&r->node);
		kfree(r);
	}
	mutex_unlock(&a->lock);

	if (a->created) {
		gca_heap_destroy(&a->heap);
		gca_backing_free(a);
		__free_page(a->ctrl_page);
	}
	iput(a->inode);
	put_pid(a->pid);
	mmdrop(a->mm);
	bitmap_free(a->tid_map);
	gca_arena_put(a);
}

/* ---------------------------------------------------------------------
 * mmap
 */

/*
 * A copy of one of the mappings in another process: MADV_DOFORK clears
 * VM_DONTCOPY, and fork() then duplicates the VMA, calling ->open on the
 * copy before it copies the page tables.  VM_WIPEONFORK on the copy makes
 * fork() skip them, and the fault handlers refuse any mm but the
 * creator's: the child gets an empty range that raises SIGBUS, never the
 * parent's memory.  ->open also runs when a VMA splits (same mm: no-op).
 */
static void gca_vma_open(struct vm_area_struct *vma)
{
	struct gca_arena *a = vma->vm_private_data;

	if (vma->vm_mm != a->mm)
		vma->vm_flags |= VM_WIPEONFORK;
}

/*
 * After a fault, map up to this many backed pages that follow it as well
 * (the kernel's fault-around does it for read faults of files only; a
 * write to a shared mapping takes one fault per page).  Fresh spans are
 * written page after page by the allocator: in the 16-byte allocation
 * loop, page faults were most of the system time before.
 */
#define GCA_FAULT_AROUND	16

static vm_fault_t gca_heap_fault(struct vm_fault *vmf)
{
	struct vm_area_struct *vma = vmf->vma;
	struct gca_arena *a = vma->vm_private_data;
	unsigned long addr;
	struct page **slot;
	vm_fault_t ret = VM_FAULT_SIGBUS;
	int err, i;

	if (vma->vm_mm != a->mm)
		return VM_FAULT_SIGBUS;
	down_read(&a->pages_rwsem);
	slot = gca_backing_slot(a, vmf->pgoff, false);
	if (slot && *slot) {
		err = vm_insert_page(vma, vmf->address, *slot);
		/* -EBUSY: a racing fault mapped it first */
		if (!err || err == -EBUSY)
			ret = VM_FAULT_NOPAGE;
		else
			ret = vmf_error(err);
	}
	for (i = 1; ret == VM_FAULT_NOPAGE && i < GCA_FAULT_AROUND; i++) {
		addr = vmf->address + i * PAGE_SIZE;
		if (addr >= vma->vm_end)
			break;
		slot = gca_backing_slot(a, vmf->pgoff + i, false);
		if (!slot || !*slot)
			break;
		/* an error here only leaves the page to its own fault */
		err = vm_insert_page(vma, addr, *slot);
		if (err && err != -EBUSY)
			break;
	}
	up_read(&a->pages_rwsem);
	return ret;
}

static int gca_heap_mremap(struct vm_area_struct *vma)
{
	/* the collector knows the heap by its address: it cannot move */
	return -EINVAL;
}

static const struct vm_operations_struct gca_heap_vm_ops = {
	.open	= gca_vma_open,
	.fault	= gca_heap_fault,
	.mremap	= gca_heap_mremap,
};

/*
 * The control page is inserted at mmap time; this maps it again after
 * the process zapped its PTE (MADV_DONTNEED over a whole range, as a
 * runtime returning memory does): the page is the kernel's and stays.
 */
static vm_fault_t gca_ctrl_fault(struct vm_fault *vmf)
{
	struct gca_arena *a = vmf->vma->vm_private_data;
	int err;

	if (vmf->vma->vm_mm != a->mm)
		return VM_FAULT_SIGBUS;
	err = vm_insert_page(vmf->vma, vmf->address, a->ctrl_page);
	/* -EBUSY: a racing fault mapped it first */
	if (!err || err == -EBUSY)
		return VM_FAULT_NOPAGE;
	return vmf_error(err);
}

static const struct vm_operations_struct gca_ctrl_vm_ops = {
	.open	= gca_vma_open,
	.fault	= gca_ctrl_fault,
	.mremap	= gca_heap_mremap,
};

static int gca_mmap_ctrl(struct gca_arena *a, struct vm_area_struct *vma)
{
	if (vma->vm_end - vma->vm_start != PAGE_SIZE)
		return -EINVAL;
	/* userspace reads the control page; only the kernel writes it */
	if (vma->vm_flags & (VM_WRITE | VM_EXEC))
		return -EPERM;
	vma->vm_flags &= ~(VM_MAYWRITE | VM_MAYEXEC);
	vma->vm_flags |= VM_DONTCOPY | VM_DONTEXPAND | VM_DONTDUMP |
			 VM_MIXEDMAP;
	vma->vm_ops = &gca_ctrl_vm_ops;
	vma->vm_private_data = a;
	return vm_insert_page(vma, vma->vm_start, a->ctrl_page);
}

static int gca_mmap_heap(struct gca_arena *a, struct vm_area_struct *vma)
{
	if (vma->vm_end - vma->vm_start != a->heap.npages * GCA_PAGE_SIZE)
		return -EINVAL;
	if (!(vma->vm_flags & VM_SHARED))
		return -EINVAL;
	if (vma->vm_flags & VM_EXEC)
		return -EPERM;
	if (a->heap_mapped)
		return -EBUSY;
	vma->vm_flags &= ~VM_MAYEXEC;
	vma->vm_flags |= VM_DONTCOPY | VM_DONTEXPAND | VM_DONTDUMP |
			 VM_MIXEDMAP;
	vma->vm_ops = &gca_heap_vm_ops;
	vma->vm_private_data = a;
	a->heap_mapped = true;
	a->heap.user_base = vma->vm_start;
	WRITE_ONCE(a->ctrl->heap_base, vma->vm_start);
	return 0;
}

/* Called with the process's mmap_lock held for writing. */
int gca_arena_mmap(struct gca_arena *a, struct file *file,
		   struct vm_area_struct *vma)
{
	u64 off = (u64)vma->vm_pgoff << PAGE_SHIFT;
	int ret;

	if (current->mm != a->mm)
		return -EPERM;
	mutex_lock(&a->lock);
	if (!a->created)
		ret = -EBADFD;
	else if (off == GCA_OFF_CTRL)
		ret = gca_mmap_ctrl(a, vma);
	else if (off == GCA_OFF_HEAP)
		ret = gca_mmap_heap(a, vma);
	else
		ret = -EINVAL;
	mutex_unlock(&a->lock);
	return ret;
}

/* ---------------------------------------------------------------------
 * Statistics
 */

int gca_arena_fill_stats(struct gca_arena *a, struct gca_stats *st)
{
	mutex_lock(&a->lock);
	gca_arena_fill_stats_locked(a, st);
	mutex_unlock(&a->lock);
	return 0;
}

void gca_arena_fill_stats_locked(struct gca_arena *a, struct gca_stats *st)
{
	struct gca_heap *h = &a->heap;
	u64 now, elapsed, cpus;

	lockdep_assert_held(&a->lock);
	memset(st, 0, sizeof(*st));
	st->size = sizeof(*st);
	st->heap_alloc = h->heap_alloc;
	st->alloc = h->heap_alloc;
	st->total_alloc = h->total_alloc;
	st->mallocs = h->mallocs;
	st->frees = h->frees;
	st->heap_sys = h->grown_pages * GCA_PAGE_SIZE;
	st->heap_inuse = h->heap_inuse;
	st->heap_idle = st->heap_sys - st->heap_inuse;
	st->heap_released = st->heap_sys > h->heap_backed ?
			    st->heap_sys - h->heap_backed : 0;
	st->heap_objects = h->heap_objects;
	st->sys = st->heap_sys + h->meta_bytes + a->meta_bytes + PAGE_SIZE +
		  sizeof(*a);
	st->next_gc = a->next_gc;
	st->last_gc = a->last_gc_ns;
	st->pause_total_ns = a->pause_total_ns;
	memcpy(st->pause_ns, a->pause_ns, sizeof(st->pause_ns));
	memcpy(st->pause_end, a->pause_end, sizeof(st->pause_end));
	st->num_gc = a->num_gc;
	st->num_forced_gc = a->num_forced_gc;
	now = ktime_get_ns();
	elapsed = now - a->created_ns;
	cpus = num_online_cpus();
	if (elapsed && cpus)
		st->gc_cpu_fraction_ppb =
			mul_u64_u64_div_u64(a->gc_cpu_ns, NSEC_PER_SEC,
					    elapsed * cpus);
	st->gc_percent = gca_arena_gc_percent(a);
	st->memory_limit = gca_arena_memory_limit(a);
	st->heap_live = h->heap_live;
	st->heap_marked = h->heap_marked;
	st->gc_trigger = a->gc_trigger;
	memcpy(st->pause_hist, a->pause_hist, sizeof(st->pause_hist));
	st->num_pauses = a->num_pauses;
	st->assist_ns = a->assist_ns;
	st->checkmark_cycles = a->checkmark_cycles;
	st->checkmark_failures = a->checkmark_failures;
	st->debug = gca_arena_debug(a);
	st->mark_term_retries = a->mark_term_retries;
	st->mark_slice_max = a->mark_slice_max;
}
