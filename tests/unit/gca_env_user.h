/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Userspace stand-in for the kernel API the GC core uses (gca_env.h), in
 * the spirit of tools/testing/vma and tools/testing/radix-tree: just
 * enough of slab.h, list.h, overflow.h, bitops.h, minmax.h, bug.h,
 * printk.h and lockdep.h for kmod/core/ to build as ordinary C under ASan
 * and UBSan.
 *
 * Allocation failure is injectable (gca_uenv.fail_after and
 * nowait_fail_after), and every allocation is counted so a test can check
 * that what the core allocated it also freed.  WARN_ON_ONCE counts every
 * hit in gca_uenv.warnings: a hostile heap must never trigger one, so
 * tests assert it stays 0.
 */
#ifndef _GCA_ENV_USER_H
#define _GCA_ENV_USER_H

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/types.h>

typedef __u8 u8;
typedef __u16 u16;
typedef __u32 u32;
typedef __u64 u64;
typedef __s8 s8;
typedef __s16 s16;
typedef __s32 s32;
typedef __s64 s64;

#define U8_MAX		((u8)~0U)
#define U32_MAX		((u32)~0U)
#define U64_MAX		((u64)~0ULL)
#define S64_MAX		((s64)(U64_MAX >> 1))
#define S64_MIN		((s64)(-S64_MAX - 1))

#define likely(x)	__builtin_expect(!!(x), 1)
#define unlikely(x)	__builtin_expect(!!(x), 0)
#define __maybe_unused	__attribute__((__unused__))
#define __printf(a, b)	__attribute__((__format__(printf, a, b)))
#define fallthrough	__attribute__((__fallthrough__))

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define BUILD_BUG_ON(cond)	_Static_assert(!(cond), #cond)

#define container_of(ptr, type, member) \
	((type *)((char *)(ptr) - offsetof(type, member)))

#define READ_ONCE(x)	(*(const volatile __typeof__(x) *)&(x))
#define WRITE_ONCE(x, val) \
	do { *(volatile __typeof__(x) *)&(x) = (val); } while (0)

/* ---- environment state shared with the tests (gca_env_user.c) ---- */
struct gca_user_env {
	long fail_after;	/* kmalloc & co: < 0 never fail; else this many
				 * more succeed, then every one fails */
	long nowait_fail_after;	/* the same for gca_alloc_nowait() */
	long live_allocs;	/* allocations not yet freed */
	unsigned long long nallocs;	/* successful allocations */
	unsigned long long failed_allocs;
	unsigned long long warnings;	/* WARN_ON_ONCE hits (all of them) */
	unsigned long long resched;	/* cond_resched() calls */
};
extern struct gca_user_env gca_uenv;

/* Reset counters and disarm failure injection. */
static inline void gca_uenv_reset(void)
{
	memset(&gca_uenv, 0, sizeof(gca_uenv));
	gca_uenv.fail_after = -1;
	gca_uenv.nowait_fail_after = -1;
}

static inline bool gca_uenv_should_fail(long *after)
{
	if (*after < 0)
		return false;
	if (*after == 0) {
		gca_uenv.failed_allocs++;
		return true;
	}
	(*after)--;
	return false;
}

/* ---- slab.h ---- */
typedef unsigned int gfp_t;
#define GFP_KERNEL		0x01u
#define GFP_KERNEL_ACCOUNT	0x03u
#define GFP_NOWAIT		0x04u
#define __GFP_NOWARN		0x08u
#define __GFP_ZERO		0x10u
#define __GFP_RETRY_MAYFAIL	0x20u

static inline void *gca_user_alloc(size_t size, gfp_t gfp, long *after)
{
	void *p;

	if (gca_uenv_should_fail(after))
		return NULL;
	/* malloc(0) may return NULL; the kernel returns ZERO_SIZE_PTR */
	p = (gfp & __GFP_ZERO) ? calloc(1, size ? size : 1)
			       : malloc(size ? size : 1);
	if (!p)
		return NULL;
	if (!(gfp & __GFP_ZERO))
		memset(p, 0xa5, size);	/* like slub_debug poisoning */
	gca_uenv.live_allocs++;
	gca_uenv.nallocs++;
	return p;
}

static inline void *kmalloc(size_t size, gfp_t gfp)
{
	return gca_user_alloc(size, gfp, &gca_uenv.fail_after);
}

static inline void *kzalloc(size_t size, gfp_t gfp)
{
	return gca_user_alloc(size, gfp | __GFP_ZERO, &gca_uenv.fail_after);
}

static inline void kfree(const void *p)
{
	if (!p)
		return;
	gca_uenv.live_allocs--;
	free((void *)p);
}

static inline void *kvcalloc(size_t n, size_t size, gfp_t gfp)
{
	size_t bytes;

	if (__builtin_mul_overflow(n, size, &bytes))
		return NULL;
	return gca_user_alloc(bytes, gfp | __GFP_ZERO, &gca_uenv.fail_after);
}

static inline void kvfree(const void *p)
{
	kfree(p);
}

/*
 * Gray queue blocks: may fail under pressure (here: when told to), charged
 * or not (no memory cgroups here).
 */
static inline void *gca_alloc_nowait(size_t size, bool account)
{
	(void)account;
	return gca_user_alloc(size, GFP_NOWAIT, &gca_uenv.nowait_fail_after);
}

/* ---- bug.h, printk.h, sched.h ---- */
#define WARN_ON_ONCE(cond) ({						\
	static bool __warned;						\
	bool __c = !!(cond);						\
	if (unlikely(__c)) {						\
		gca_uenv.warnings++;					\
		if (!__warned) {					\
			__warned = true;				\
			fprintf(stderr, "gca_env_user: WARN_ON_ONCE at %s:%d: %s\n",		\
				__FILE__, __LINE__, #cond);		\
		}							\
	}								\
	__c;								\
})
#define WARN_ON(cond)	WARN_ON_ONCE(cond)

#define pr_warn(fmt, ...)	fprintf(stderr, "gcarena: " fmt, ##__VA_ARGS__)
#define pr_info(fmt, ...)	fprintf(stderr, "gcarena: " fmt, ##__VA_ARGS__)
#define pr_err(fmt, ...)	fprintf(stderr, "gcarena: " fmt, ##__VA_ARGS__)
#define pr_debug(fmt, ...) \
	do { if (0) fprintf(stderr, fmt, ##__VA_ARGS__); } while (0)

static inline void cond_resched(void)
{
	gca_uenv.resched++;
}

/*
 * ---- lockdep.h, mutex.h ----
 * As the kernel without CONFIG_LOCKDEP: the assertion only evaluates its
 * argument.  The hosts here run the core on one thread and name no lock
 * (gca_heap_init()), so there is nothing to check; struct mutex stays
 * incomplete, so that no host can take one by mistake.
 */
struct mutex;
#define lockdep_assert_held(l)	do { (void)(l); } while (0)

/* ---- minmax.h: with the kernel's type check ---- */
#define __gca_cmp(x, y, op) ({						\
	__typeof__(x) __x = (x);					\
	__typeof__(y) __y = (y);					\
	(void)(&__x == &__y);	/* warns on distinct types */		\
	__x op __y ? __x : __y; })
#define min(x, y)		__gca_cmp(x, y, <)
#define max(x, y)		__gca_cmp(x, y, >)
#define min_t(t, x, y)		__gca_cmp((t)(x), (t)(y), <)
#define max_t(t, x, y)		__gca_cmp((t)(x), (t)(y), >)
#define clamp_t(t, v, lo, hi)	min_t(t, max_t(t, v, lo), hi)

/* ---- kernel.h, math.h ---- */
#define __ALIGN_MASK(x, mask)	(((x) + (mask)) & ~(mask))
#define ALIGN(x, a)		__ALIGN_MASK(x, (__typeof__(x))(a) - 1)
#define DIV_ROUND_UP(n, d)	(((n) + (d) - 1) / (d))

/* ---- overflow.h ---- */
#define check_add_overflow(a, b, d)	__builtin_add_overflow(a, b, d)
#define check_sub_overflow(a, b, d)	__builtin_sub_overflow(a, b, d)
#define check_mul_overflow(a, b, d)	__builtin_mul_overflow(a, b, d)

/* ---- bitops.h ---- */
static inline unsigned int hweight64(u64 w)
{
	return (unsigned int)__builtin_popcountll(w);
}

/* Undefined for 0, as in the kernel: UBSan's builtin check catches it. */
static inline unsigned long __ffs64(u64 w)
{
	return (unsigned long)__builtin_ctzll(w);
}

/* ---- list.h ---- */
struct list_head {
	struct list_head *next, *prev;
};

#define LIST_POISON1	((struct list_head *)0x100)
#define LIST_POISON2	((struct list_head *)0x122)
#define LIST_HEAD_INIT(name)	{ &(name), &(name) }
#define LIST_HEAD(name)		struct list_head name = LIST_HEAD_INIT(name)

static inline void INIT_LIST_HEAD(struct list_head *list)
{
	list->next = list;
	list->prev = list;
}

static inline void __list_add(struct list_head *new, struct list_head *prev,
			      struct list_head *next)
{
	next->prev = new;
	new->next = next;
	new->prev = prev;
	prev->next = new;
}

static inline void list_add(struct list_head *new, struct list_head *head)
{
	__list_add(new, head, head->next);
}

static inline void list_add_tail(struct list_head *new,
				 struct list_head *head)
{
	__list_add(new, head->prev, head);
}

static inline void __list_del_entry(struct list_head *entry)
{
	entry->next->prev = entry->prev;
	entry->prev->next = entry->next;
}

/* Poisons the entry as the kernel does, so a stale use faults. */
static inline void list_del(struct list_head *entry)
{
	__list_del_entry(entry);
	entry->next = LIST_POISON1;
	entry->prev = LIST_POISON2;
}

static inline void list_del_init(struct list_head *entry)
{
	__list_del_entry(entry);
	INIT_LIST_HEAD(entry);
}

static inline void list_move(struct list_head *list, struct list_head *head)
{
	__list_del_entry(list);
	list_add(list, head);
}

static inline void list_move_tail(struct list_head *list,
				  struct list_head *head)
{
	__list_del_entry(list);
	list_add_tail(list, head);
}

static inline bool list_empty(const struct list_head *head)
{
	return READ_ONCE(head->next) == head;
}

static inline void list_splice_init(struct list_head *list,
				    struct list_head *head)
{
	if (!list_empty(list)) {
		struct list_head *first = list->next, *last = list->prev;
		struct list_head *at = head->next;

		first->prev = head;
		head->next = first;
		last->next = at;
		at->prev = last;
		INIT_LIST_HEAD(list);
	}
}

#define list_entry(ptr, type, member)	container_of(ptr, type, member)
#define list_first_entry(ptr, type, member) \
	list_entry((ptr)->next, type, member)
#define list_next_entry(pos, member) \
	list_entry((pos)->member.next, __typeof__(*(pos)), member)
#define list_entry_is_head(pos, head, member)	(&(pos)->member == (head))
#define list_for_each_entry(pos, head, member)				\
	for (pos = list_first_entry(head, __typeof__(*pos), member);	\
	     !list_entry_is_head(pos, head, member);			\
	     pos = list_next_entry(pos, member))
#define list_for_each_entry_safe(pos, n, head, member)			\
	for (pos = list_first_entry(head, __typeof__(*pos), member),	\
	     n = list_next_entry(pos, member);				\
	     !list_entry_is_head(pos, head, member);			\
	     pos = n, n = list_next_entry(n, member))

#endif /* _GCA_ENV_USER_H */
