/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The GC core's one window on its environment.
 *
 * The core (size classes, page heap, spans, marking, sweeping, pacer)
 * includes only this header, so that the same sources build in the kernel
 * module and, with tests/unit/gca_env_user.h standing in, as ordinary
 * userspace code under AddressSanitizer and UndefinedBehaviorSanitizer
 * (the pattern of tools/testing/vma and tools/testing/radix-tree).
 *
 * What the core may use: kzalloc/kmalloc/kfree, kvcalloc/kvfree, memcpy,
 * snprintf/vsnprintf and __printf (the checker's lines, gca_check.c),
 * gca_alloc_nowait() (may fail under pressure), list_head, READ_ONCE,
 * WARN_ON_ONCE, pr_warn/pr_debug, cond_resched, min/max, ALIGN,
 * DIV_ROUND_UP, check_add_overflow/check_mul_overflow, hweight64, __ffs64,
 * u8..u64/s64, bool, likely/unlikely, fatal_signal_pending() through
 * gca_should_abort() only, and lockdep_assert_held() on the host's lock
 * through gca_assert_locked() only (the shim's is a no-op, as the
 * kernel's is without CONFIG_LOCKDEP: the unit tests' host takes no lock).
 */
#ifndef _GCA_ENV_H
#define _GCA_ENV_H

#ifdef __KERNEL__
#include <linux/types.h>
#include <linux/kernel.h>
#include <linux/bitops.h>
#include <linux/list.h>
#include <linux/lockdep.h>
#include <linux/minmax.h>
#include <linux/mutex.h>
#include <linux/overflow.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/mm.h>
#include <linux/bug.h>
#include <linux/printk.h>

/*
 * An arena's memory (metadata for a growing heap, the glue's structs, the
 * heap pages themselves), charged to the process's memory cgroup: at the
 * group's limit the allocation fails (the caller sees -ENOMEM) instead of
 * calling the OOM killer.
 */
#define GCA_GFP_HEAP	(GFP_KERNEL_ACCOUNT | __GFP_RETRY_MAYFAIL | __GFP_NOWARN)

/*
 * Gray queue blocks are taken without sleeping: failure means overflow.
 * With account, charged like the rest of the metadata: to the memory
 * cgroup of the process whose thread marks (an assist, a stack scan) or,
 * in the collector thread, to the one it charges on the arena's behalf
 * (set_active_memcg(), cycle.c).  At the group's limit a charge without
 * sleeping fails, never calls the OOM killer.
 */
static inline void *gca_alloc_nowait(size_t size, bool account)
{
	return kmalloc(size, GFP_NOWAIT | __GFP_NOWARN |
			     (account ? __GFP_ACCOUNT : 0));
}
#else
#include "gca_env_user.h"
#define GCA_GFP_HEAP	(GFP_KERNEL_ACCOUNT | __GFP_RETRY_MAYFAIL | __GFP_NOWARN)
#endif

#endif /* _GCA_ENV_H */
