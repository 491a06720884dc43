// SPDX-License-Identifier: GPL-2.0
/*
 * Reading roots out of the process: thread stacks and registered ranges.
 *
 * Roots are process memory, read with copy_from_user() by a thread of the
 * process itself, inside its own ioctl (the collector thread never
 * touches user page tables).  The words are copied into a kernel buffer a
 * page at a time without arena->lock (a fault takes mmap_lock, which
 * ranks above it), then handed to the core under the lock as untrusted
 * candidate pointers.  A page that cannot be read is skipped: the range
 * is the process's word, not a promise.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include "gca_arena.h"

int gca_scan_user_range(struct gca_arena *a, u64 start, u64 len)
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

		if (!copy_from_user(buf, u64_to_user_ptr(p), n)) {
			gca_lock_mutator(a);
			gca_mark_words(&a->heap, buf, n / sizeof(u64));
			mutex_unlock(&a->lock);
			scanned += n;
		}
		p += n;
		if (fatal_signal_pending(current) || READ_ONCE(a->dying)) {
			ret = -EINTR;
			break;
		}
		cond_resched();
	}
	kfree(buf);
	gca_lock_mutator(a);
	a->cycle_roots_bytes += scanned;
	mutex_unlock(&a->lock);
	return ret;
}

/* Scan every range registered with GCA_IOC_ADD_ROOTS. */
int gca_scan_roots(struct gca_arena *a)
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
		ret = gca_scan_user_range(a, ranges[i][0], ranges[i][1]);
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
