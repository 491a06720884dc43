/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Test host for the GC core: a userspace "arena".
 *
 * The heap's address range is one big anonymous PROT_NONE mapping with
 * MAP_NORESERVE, so user_base is a real address and objects can hold real
 * pointers to each other.  populate() makes heap pages readable and
 * writable (fresh ones read as zero, as new kernel pages do); release()
 * drops them with MADV_DONTNEED and makes them PROT_NONE again, so a core
 * that read a page without backing through a stale map() pointer would
 * fault instead of reading zeroes.  map() returns NULL for pages without
 * backing and otherwise a length up to the next 4 KiB boundary, as the
 * kernel glue does with its struct pages.
 *
 * ua_check() runs the core's checker (kmod/core/gca_check.c: span table,
 * free lists, central lists, statistics) with this host's backing, and
 * prints what it finds to stderr; tests call it after each operation.
 */
#ifndef _GCA_TEST_H
#define _GCA_TEST_H

#include "gca_core.h"

struct uarena {
	struct gca_heap h;
	u8 *base;		/* the reservation, user_base */
	u64 size;
	u8 *backed;		/* one byte per heap page: has backing */
	u64 backed_pages;
	long abort_after;	/* should_abort(): false this many more
				 * times, then true; < 0 never */
	long populate_fail_after; /* populate(): succeed this many more
				   * times, then -ENOMEM; < 0 never */
	bool poison_on_release;	/* write 0xdb before dropping a page */
	bool lock_wanted;	/* lock_wanted(): a made-up waiter */
	u64 populate_calls, release_calls, map_calls, abort_calls;
	u64 wanted_calls;
};

/* 0 or a negative errno from gca_heap_init(); the mapping is made first. */
int ua_init(struct uarena *ua, u64 heap_bytes);
void ua_destroy(struct uarena *ua);

static inline void *ua_ptr(struct uarena *ua, u64 off)
{
	return ua->base + off;
}

static inline u64 ua_addr(struct uarena *ua, u64 off)
{
	return (u64)(uintptr_t)ua->base + off;
}

static inline struct gca_span *ua_entry(struct uarena *ua, u64 page)
{
	return ua->h.span_table[page / GCA_CHUNK_PAGES][page % GCA_CHUNK_PAGES];
}

static inline u64 span_base(const struct gca_span *s)
{
	return s->start << GCA_PAGE_SHIFT;
}

static inline bool bit_test(const u64 *bits, u64 i)
{
	return (bits[i / 64] >> (i % 64)) & 1;
}

/*
 * Check every invariant; returns the number of violations, each printed
 * to stderr.  strict_inuse: every in-use span came from gca_span.c (is on
 * h->inuse); false for tests that take pages with gca_pages_alloc().
 */
int ua_check(struct uarena *ua, bool strict_inuse);

/*
 * Commit n objects of spanclass the way a thread cache does: refill, use
 * the first n handed-out slots, give the span back with that freeindex.
 * Offsets of the objects go to offs (may be NULL).  Returns the number
 * committed (short on -ENOMEM).
 */
u64 ua_alloc_objs(struct uarena *ua, unsigned int spanclass, u64 n, u64 *offs);

/* A large object; its offset, or U64_MAX on failure. */
u64 ua_alloc_large(struct uarena *ua, u64 size, bool noscan);

/* Store a pointer to heap offset target (0 stays a NULL) at heap offset at. */
static inline void ua_store_ptr(struct uarena *ua, u64 at, u64 target)
{
	*(u64 *)ua_ptr(ua, at) = target == U64_MAX ? 0 : ua_addr(ua, target);
}

/* Mark from the given root words and drain; returns gca_mark_drain(). */
int ua_mark(struct uarena *ua, const u64 *roots, size_t n);

/* ---- an independent marker, to check the core's against ---- */
struct ua_obj {
	u64 start, size;
	bool scan;		/* not noscan */
	bool root;		/* a slot of a cached span */
	bool marked;
};

/* Every object of the heap, from its bitmaps, sorted by address; malloc'd. */
struct ua_obj *ua_objects(struct gca_heap *h, size_t *n);
/* The object holding heap offset off, by binary search; or NULL. */
struct ua_obj *ua_find(struct ua_obj *v, size_t n, u64 off);
/*
 * Mark v from user-address roots (and the cached slots) the obvious way:
 * an explicit stack, heap memory read directly, no divMul, no gray queue.
 */
void ua_ref_mark(struct uarena *ua, struct ua_obj *v, size_t n,
		 const u64 *roots, size_t nroots);

/* Leak check for the current process: LSan's, and the shim's count. */
int ua_leaks(void);

/* A small xorshift PRNG, deterministic per seed. */
static inline u64 ua_rand(u64 *state)
{
	u64 x = *state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*state = x;
	return x;
}

#endif /* _GCA_TEST_H */
