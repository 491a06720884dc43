// SPDX-License-Identifier: GPL-2.0
/*
 * gcarena: a garbage-collected heap for userspace, on the Go runtime's
 * design.  This file registers the misc device /dev/gcarena and turns its
 * file operations into arena operations; everything else lives in the
 * files listed in gcarena_private.h.
 *
 * One open file is one arena.  The file holds a reference on the module
 * (fops.owner), so the module cannot be removed while an arena exists.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/poll.h>
#include <linux/sched/mm.h>
#include "gcarena_private.h"

static int gca_open(struct inode *inode, struct file *file)
{
	struct gca_arena *a;

	a = gca_arena_alloc();
	if (IS_ERR(a))
		return PTR_ERR(a);
	/*
	 * Each arena has its own address_space so that releasing heap pages
	 * can zap exactly this arena's mappings (drm does the same).
	 */
	file->f_mapping = a->inode->i_mapping;
	file->private_data = a;
	return 0;
}

static int gca_release(struct inode *inode, struct file *file)
{
	gca_arena_destroy(file->private_data);
	return 0;
}

static int gca_mmap(struct file *file, struct vm_area_struct *vma)
{
	return gca_arena_mmap(file->private_data, file, vma);
}

/*
 * Readable when a cycle has completed since the statistics were last read
 * (GCA_IOC_READ_STATS), so a monitor can sleep in poll()/epoll instead of
 * polling the statistics.  The collector wakes cycle_wq at every phase.
 */
static __poll_t gca_poll(struct file *file, struct poll_table_struct *pt)
{
	struct gca_arena *a = file->private_data;

	if (!READ_ONCE(a->created))
		return 0;
	poll_wait(file, &a->cycle_wq, pt);
	if (READ_ONCE(a->num_gc) != READ_ONCE(a->stats_seen_gc))
		return EPOLLIN | EPOLLRDNORM;
	return 0;
}

static const struct file_operations gca_fops = {
	.owner		= THIS_MODULE,
	.open		= gca_open,
	.release	= gca_release,
	.unlocked_ioctl	= gca_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.mmap		= gca_mmap,
	.poll		= gca_poll,
	.llseek		= noop_llseek,
};

static struct miscdevice gca_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "gcarena",
	.fops	= &gca_fops,
	.mode	= 0666,
};

static int __init gca_init(void)
{
	int ret;

	ret = gca_fs_init();
	if (ret)
		return ret;
	ret = gca_proc_init();
	if (ret)
		goto err_fs;
	ret = misc_register(&gca_misc);
	if (ret)
		goto err_proc;
	pr_info("ready: gc_percent=%d memory_limit=%lld\n",
		gca_knob_gc_percent(), gca_knob_memory_limit());
	return 0;

err_proc:
	gca_proc_exit();
err_fs:
	gca_fs_exit();
	return ret;
}

static void __exit gca_exit(void)
{
	misc_deregister(&gca_misc);
	gca_proc_exit();
	gca_fs_exit();
}

module_init(gca_init);
module_exit(gca_exit);
MODULE_DESCRIPTION("gcarena: a garbage-collected heap for userspace");
MODULE_LICENSE("GPL");
