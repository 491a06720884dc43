// SPDX-License-Identifier: GPL-2.0
/*
 * Reading roots out of the process: thread stacks and registered ranges.
 *
 * Roots are process memory, read with copy_from_user() by a thread of the
 * process itself, inside its own ioctl; or, when no process thread will
 * do it (every registered thread parked, say), by the collector thread,
 * through the page tables of the process's mm (gca_copy_remote()), never
 * waiting on the process.  The words are copied into a kernel buffer a
 * page at a time without arena->lock (a fault takes mmap_lock, which
 * ranks above it), then handed to the core under the lock as untrusted
 * candidate pointers.  A page that cannot be read is skipped: the range
 * is the process's word, not a promise.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/freezer.h>
#include <linux/highmem.h>
#include <linux/kthread.h>
#include <linux/mm.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include "gcarena_private.h"

/* Lookups of one page by the collector before it gives up the scan. */
#define GCA_REMOTE_TRIES	100

/*
 * The collector thread reads a page of the process's memory: mm is the
 * arena's, pinned by the caller (mmget_not_zero()).  The page is looked
 * up with get_user_pages_remote() and read through the kernel's mapping.
 * The process must not be able to make this thread wait, or the arena's
 * release (kthread_stop()) would wait with it: the mmap lock is only
 * tried (a holder may itself wait on the process, a FUSE server say),
 * and FOLL_NOWAIT makes a fault that needs I/O (swap, a file, a
 * userfaultfd) start it and come back instead of sleeping; without
 * FOLL_FORCE, the mapping's own permissions apply, as for
 * copy_from_user().  0, -EFAULT (nothing readable there), or -EAGAIN
 * (try again: the page is on its way, or the lock was taken).
 */
static int gca_copy_remote(struct mm_struct *mm, void *buf, u64 p, u64 n)
{
	struct page *page;
	void *kaddr;
	long got;

	if (!mmap_read_trylock(mm))
		return -EAGAIN;
	got = get_user_pages_remote(mm, p & PAGE_MASK, 1, FOLL_NOWAIT, &page,
				    NULL, NULL);
	mmap_read_unlock(mm);
	if (!got || got == -ENOMEM)
		return -EAGAIN;
	if (got < 0)
		return -EFAULT;
	kaddr = kmap_local_page(page);
	memcpy(buf, kaddr + offset_in_page(p), n);
	kunmap_local(kaddr);
	put_page(page);
	return 0;
}

/*
 * n bytes at p (within one page) into buf: with copy_from_user() by a
 * process thread (mm NULL), else by the collector thread, retried a few
 * ticks while the page comes in.  0, -EFAULT, -EAGAIN or -EINTR.
 */
static int gca_read_page(struct gca_arena *a, struct mm_struct *mm,
			 u64 *buf, u64 p, u64 n)
{
	int tries, err;

	if (!mm)
		return copy_from_user(buf, u64_to_user_ptr(p), n) ? -EFAULT : 0;
	for (tries = 0;; tries++) {
		err = gca_copy_remote(mm, buf, p, n);
		if (err != -EAGAIN || tries == GCA_REMOTE_TRIES)
			return err;
		if (kthread_should_stop() || READ_ONCE(a->dying))
			return -EINTR;
		/* the collector is freezable: a suspend may stop it here */
		try_to_freeze();
		schedule_timeout_idle(1);
	}
}

/*
 * Scan [start, start + len) of the process: from a process thread's own
 * ioctl (mm NULL) or from the collector thread (mm: the arena's, pinned).
 * 0 when every readable page was scanned; -EAGAIN when the collector
 * gave up on a page that stayed out of reach (the scan is not done);
 * -EINTR when the caller or the arena is going away.  kind (a
 * GCA_CK_FROM_* value) is what checkmark's reports call it.
 */
int gca_scan_user_range(struct gca_arena *a, struct mm_struct *mm,
			u64 start, u64 len, u64 kind)
{
	u64 p, end, scanned = 0;
	u64 *buf;
	int ret = 0;

	if (check_add_overflow(start, len, &end))
		return -EINVAL;
	p = ALIGN(start, sizeof(u64));
	end = ALIGN_DOWN(end, sizeof(u64));
	buf = kmalloc(PAGE_SIZE, GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	while (p < end) {
		u64 n = min_t(u64, end - p, PAGE_SIZE - offset_in_page(p));

		ret = gca_read_page(a, mm, buf, p, n);
		if (!ret) {
			gca_lock_mutator(a);
			gca_mark_root_words(&a->heap, buf, n / sizeof(u64),
					    kind);
			mutex_unlock(&a->lock);
			scanned += n;
		}
		if (ret == -EFAULT)
			ret = 0;
		if (ret)
			break;
		p += n;
		if ((mm ? kthread_should_stop() : fatal_signal_pending(current)) ||
		    READ_ONCE(a->dying)) {
			ret = -EINTR;
			break;
		}
		cond_resched();
	}
	kfree(buf);
	/* an unfinished scan is done again: count the one that finishes */
	if (!ret) {
		gca_lock_mutator(a);
		a->cycle_roots_bytes += scanned;
		mutex_unlock(&a->lock);
	}
	return ret;
}

/* Scan every range registered with GCA_IOC_ADD_ROOTS (mm: as above). */
int gca_scan_roots(struct gca_arena *a, struct mm_struct *mm)
{
	struct gca_root *r;
	u64 (*ranges)[2];
	u32 n = 0, i;
	int ret = 0;

	/* GCA_MAX_ROOTS bounds the snapshot: 16 KiB */
	ranges = kvmalloc_array(GCA_MAX_ROOTS, sizeof(*ranges), GFP_KERNEL);
	if (!ranges)
		return -ENOMEM;
	gca_lock_mutator(a);
	list_for_each_entry(r, &a->roots, node) {
		if (n == GCA_MAX_ROOTS)
			break;
		ranges[n][0] = r->start;
		ranges[n][1] = r->len;
		n++;
	}
	mutex_unlock(&a->lock);
	for (i = 0; i < n && !ret; i++)
		ret = gca_scan_user_range(a, mm, ranges[i][0], ranges[i][1],
					  GCA_CK_FROM_RANGE);
	kvfree(ranges);
	return ret;
}

/* Words of the fallback buffer gca_flush_wbuf() keeps on its stack. */
#define GCA_WBUF_STACK_WORDS	32

/*
 * The values a thread's write barrier recorded (Go's wbBuf flush): each
 * is shaded if it names an object.  Outside marking they are stale and
 * dropped.
 *
 * A flush must not fail for want of memory: the library drops its buffer
 * once the call is answered, and a recorded value that is never shaded
 * can be a live object freed.  Without a page to copy through, the words
 * go through a small buffer on the stack, a few at a time.
 */
int gca_flush_wbuf(struct gca_arena *a, u64 uwbuf, u32 n)
{
	u64 stackbuf[GCA_WBUF_STACK_WORDS];
	u32 done = 0, k, cap = PAGE_SIZE / sizeof(u64);
	u64 *buf;
	int ret = 0;

	if (!n)
		return 0;
	buf = kmalloc(PAGE_SIZE, GFP_KERNEL | __GFP_NOWARN);
	if (!buf) {
		buf = stackbuf;
		cap = ARRAY_SIZE(stackbuf);
	}
	while (done < n) {
		k = min_t(u32, n - done, cap);
		if (copy_from_user(buf, u64_to_user_ptr(uwbuf) +
				   (u64)done * sizeof(u64), k * sizeof(u64))) {
			ret = -EFAULT;
			break;
		}
		gca_lock_mutator(a);
		if (a->phase == GCA_PHASE_MARK || a->phase == GCA_PHASE_MARK_TERM)
			gca_mark_words(&a->heap, buf, k);
		mutex_unlock(&a->lock);
		done += k;
	}
	if (buf != stackbuf)
		kfree(buf);
	return ret;
}
