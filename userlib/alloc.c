/* SPDX-License-Identifier: (LGPL-2.1 OR MIT) */
/*
 * Allocation: Go's mallocgc in small.  Per span class the thread's cache
 * holds one span and a copy of its free bitmap; an object is the lowest
 * free slot, with no system call.  A full span is traded for a fresh one
 * with GCA_IOC_REFILL; objects above GCA_MAX_SMALL_SIZE come from
 * GCA_IOC_ALLOC_LARGE; small pointer-free objects are packed 16 bytes at
 * a time by the tiny allocator.
 */
#include <string.h>
#include <sched.h>

#include "gca_int.h"

static inline unsigned int gca_size_class(const struct gca_arena *a,
					  size_t size)
{
	if (size <= GCA_SMALL_SIZE_MAX - 8)
		return a->size_to_class8[(size + GCA_SMALL_SIZE_DIV - 1) /
					 GCA_SMALL_SIZE_DIV];
	/* Sizes 1017..1024 wrap below zero and back: index 0, as in Go. */
	return a->size_to_class128[(size - GCA_SMALL_SIZE_MAX +
				    GCA_LARGE_SIZE_DIV - 1) /
				   GCA_LARGE_SIZE_DIV];
}

/*
 * Take the lowest free slot.  Slots are handed out in increasing order,
 * so every free slot below freeindex has been allocated, which is what
 * the kernel is told when the span goes back.
 */
static inline void *gca_span_alloc(const struct gca_arena *a,
				   struct gca_cspan *s)
{
	uintptr_t off;

	unsigned int w, idx;
	uint64_t bits;

	for (w = s->cursor; w < s->nwords; w++) {
		bits = s->free_bits[w];
		if (!bits)
			continue;
		idx = w * 64 + __builtin_ctzll(bits);
		if (unlikely(idx >= s->nelems))
			break;
		s->free_bits[w] = bits & (bits - 1);
		s->cursor = w;
		s->freeindex = idx + 1;
		off = s->pos - 1 + (uintptr_t)idx * s->elemsize;
		/* opaque: the compiler may not form heap_base + pos - 1 */
		__asm__("" : "+r"(off));
		return (void *)(a->head.heap_base + off);
	}
	s->cursor = s->nwords;
	return NULL;
}

/* Is every slot of the freshly refilled span s free? */
static bool gca_span_all_free(const struct gca_cspan *s)
{
	unsigned int w, n = 0;

	for (w = 0; w < s->nwords; w++)
		n += __builtin_popcountll(s->free_bits[w]);
	return n == s->nelems;
}

/*
 * Zero one object.  Small classes are multiples of 8 bytes: a few stores
 * inline beat a call to memset() (through the IFUNC PLT of a static
 * binary) for the 16- and 32-byte objects that are allocated the most.
 */
static inline void gca_zero_object(void *v, size_t size)
{
	uint64_t *p = v;
	size_t i;

	if (size > 64 || (size & 7)) {
		memset(v, 0, size);
		return;
	}
	for (i = 0; i < size / 8; i++)
		p[i] = 0;
}

/*
 * The cached span of spanclass sc is full (or there is none): give it back
 * and take a fresh one.  EAGAIN from the kernel means a handshake is
 * pending: answer it (which empties the whole cache) and ask again.
 * Called inside the cache's critical section.
 */
static int gca_refill(struct gca_tcache *tc, unsigned int sc)
{
	struct gca_arena *a = tc->arena;
	struct gca_cspan *s = &tc->spans[sc];
	struct gca_refill r;
	uint64_t seq;
	int ret;

	for (;;) {
		memset(&r, 0, sizeof(r));
		r.size = sizeof(r);
		r.spanclass = sc;
		if (s->pos) {
			r.ret_base = a->head.heap_base + s->pos - 1;
			r.ret_freeindex = s->freeindex;
		}
		ret = __gca_sys_ioctl(a->fd, GCA_IOC_REFILL, &r);
		if (!ret)
			break;
		if (ret == -EINTR)
			continue;
		if (ret != -EAGAIN)
			break;
		/* no span address in this frame while the stack is scanned */
		gca_wipe(&r, sizeof(r));
		seq = tc->acked;
		ret = __gca_handshake(tc, GCA_IOC_HANDSHAKE, true);
		if (ret && ret != -EAGAIN)
			return ret;
		/* Nothing new to answer: let the collector run. */
		if (seq == tc->acked)
			sched_yield();
	}

	if (ret) {
		gca_wipe(&r, sizeof(r));
		return ret;
	}
	if (!r.base || r.base < a->head.heap_base ||
	    r.base >= a->head.heap_end || !r.nelems ||
	    r.nelems > GCA_MAX_SPAN_OBJECTS ||
	    r.elemsize != a->class_to_size[sc >> 1]) {
		/* The old span was taken; this one cannot be used. */
		s->pos = 0;
		s->nwords = 0;
		gca_wipe(&r, sizeof(r));
		return -EPROTO;
	}
	s->pos = r.base - a->head.heap_base + 1;
	s->elemsize = r.elemsize;
	s->nelems = r.nelems;
	s->nwords = (r.nelems + 63) / 64;
	s->cursor = 0;
	s->freeindex = 0;
	s->needzero = r.needzero;
	memcpy(s->free_bits, r.free_bits, sizeof(s->free_bits));
	gca_wipe(&r, sizeof(r));
	if (s->needzero && gca_span_all_free(s)) {
		/*
		 * One memset of the whole span instead of one per object:
		 * every slot is free, so nothing live is overwritten.
		 */
		memset((void *)(a->head.heap_base + s->pos - 1), 0,
		       (size_t)s->nelems * s->elemsize);
		s->needzero = 0;
	}
	return 0;
}

/*
 * The cached span of class sc is full: refill, then take a slot (not
 * zeroed: the caller does that).  Out of line and cold: the refill and
 * its error paths stay off the inlined fast path.
 */
static __attribute__((noinline, cold)) void *
gca_small_alloc_slow(struct gca_tcache *tc, unsigned int sc)
{
	struct gca_cspan *s = &tc->spans[sc];
	void *v;
	int ret;

	ret = gca_refill(tc, sc);
	if (ret) {
		errno = -ret;
		return NULL;
	}
	v = gca_span_alloc(tc->arena, s);
	if (!v) {
		/* A fresh span without a free slot. */
		errno = EPROTO;
		return NULL;
	}
	return v;
}

/* One object of span class sc, zeroed.  Inside the critical section. */
static inline void *gca_small_alloc(struct gca_tcache *tc, unsigned int sc)
{
	struct gca_cspan *s = &tc->spans[sc];
	void *v;

	v = gca_span_alloc(tc->arena, s);
	if (unlikely(!v)) {
		v = gca_small_alloc_slow(tc, sc);
		if (!v)
			return NULL;
	}
	if (s->needzero)
		gca_zero_object(v, s->elemsize);
	return v;
}

/*
 * Go's tiny allocator: pointer-free objects under 16 bytes share 16-byte
 * blocks, aligned as Go aligns them.  The block is an ordinary 16-byte
 * noscan object; any pointer into it keeps all of it alive.
 */
static void *gca_tiny_alloc(struct gca_tcache *tc, size_t size)
{
	uintptr_t off = tc->tinyoffset;
	void *x;

	if ((size & 7) == 0)
		off = (off + 7) & ~(uintptr_t)7;
	else if ((size & 3) == 0)
		off = (off + 3) & ~(uintptr_t)3;
	else if ((size & 1) == 0)
		off = (off + 1) & ~(uintptr_t)1;
	if (off + size <= GCA_TINY_SIZE && tc->tiny) {
		x = (void *)(tc->tiny + off);
		tc->tinyoffset = off + size;
		return x;
	}

	x = gca_small_alloc(tc, tc->arena->tiny_spanclass);
	if (!x)
		return NULL;
	/* The rest of the block is handed out later: zero all of it. */
	memset(x, 0, GCA_TINY_SIZE);
	/* Keep whichever block has more room left, as Go does. */
	if (size < tc->tinyoffset || !tc->tiny) {
		tc->tiny = (uintptr_t)x;
		tc->tinyoffset = size;
	}
	return x;
}

static void *gca_large_alloc(struct gca_tcache *tc, size_t size, int noscan)
{
	struct gca_alloc_large la;
	uint64_t seq;
	size_t len;
	void *v;
	int ret;

	for (;;) {
		memset(&la, 0, sizeof(la));
		la.size = sizeof(la);
		la.flags = noscan ? GCA_ALLOC_NOSCAN : 0;
		la.bytes = size;
		ret = __gca_sys_ioctl(tc->arena->fd, GCA_IOC_ALLOC_LARGE, &la);
		if (!ret)
			break;
		if (ret == -EINTR)
			continue;
		if (ret != -EAGAIN) {
			/*
			 * The library sends no bad flag or field: EINVAL is
			 * a size beyond the heap, which malloc() calls
			 * ENOMEM.
			 */
			errno = ret == -EINVAL ? ENOMEM : -ret;
			return NULL;
		}
		seq = tc->acked;
		ret = __gca_handshake(tc, GCA_IOC_HANDSHAKE, true);
		if (ret && ret != -EAGAIN) {
			errno = -ret;
			return NULL;
		}
		if (seq == tc->acked)
			sched_yield();
	}
	v = (void *)(uintptr_t)la.addr;
	if (la.needzero) {
		/*
		 * Zero the whole pages of a scanned object, not only size
		 * bytes: stale words past the end would otherwise be scanned
		 * as pointers and keep garbage alive.
		 */
		len = size;
		if (!noscan && size <= SIZE_MAX - (GCA_PAGE_SIZE - 1))
			len = (size + GCA_PAGE_SIZE - 1) & ~(GCA_PAGE_SIZE - 1);
		memset(v, 0, len);
	}
	return v;
}

static void *gca_malloc(struct gca_arena *a, size_t size, int noscan)
{
	struct gca_tcache *tc;
	unsigned int sc;
	void *v;
	int ret;

	tc = __gca_tc(a);
	if (unlikely(!tc))
		return NULL;

	if (unlikely(size > GCA_MAX_SMALL_SIZE)) {
		/* The cache is not touched: no critical section needed. */
		if (__gca_hs_due(tc)) {
			ret = __gca_handshake(tc, GCA_IOC_HANDSHAKE, false);
			if (ret) {
				errno = -ret;
				return NULL;
			}
		}
		v = gca_large_alloc(tc, size, noscan);
		if (likely(v))
			__gca_prof_count(tc, v, size,
					 __builtin_return_address(0));
		return v;
	}

	__gca_enter(tc);
	if (__gca_hs_due(tc)) {
		ret = __gca_handshake(tc, GCA_IOC_HANDSHAKE, false);
		if (ret) {
			__gca_leave(tc);
			errno = -ret;
			return NULL;
		}
	}
	if (size == 0)
		size = 1;
	if (noscan && size < GCA_TINY_SIZE) {
		v = gca_tiny_alloc(tc, size);
	} else {
		sc = GCA_SPANCLASS(gca_size_class(a, size), noscan);
		v = gca_small_alloc(tc, sc);
	}
	if (likely(v)) {
		__gca_leave(tc);
		__gca_prof_count(tc, v, size, __builtin_return_address(0));
	} else {
		/* A handshake on the way out must not clobber the reason. */
		int err = errno;

		__gca_leave(tc);
		errno = err;
	}
	return v;
}

void *gca_alloc(struct gca_arena *a, size_t size)
{
	return gca_malloc(a, size, 0);
}

void *gca_alloc_noscan(struct gca_arena *a, size_t size)
{
	return gca_malloc(a, size, 1);
}
