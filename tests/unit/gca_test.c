// SPDX-License-Identifier: GPL-2.0
/*
 * The userspace arena the unit tests host the GC core in, and the
 * invariant walker.  See gca_test.h.
 */
#include <sys/mman.h>
#include "gca_test.h"

#if defined(__SANITIZE_ADDRESS__)
#define UA_HAVE_LSAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UA_HAVE_LSAN 1
#endif
#endif
#ifdef UA_HAVE_LSAN
#include <sanitizer/lsan_interface.h>
#endif

#define PS	GCA_PAGE_SIZE

static void ua_bug(const char *what, u64 a, u64 b)
{
	/* The core broke the host contract: stop right here. */
	fprintf(stderr, "uarena: core bug: %s (%llu, %llu)\n", what,
		(unsigned long long)a, (unsigned long long)b);
	abort();
}

static s64 ua_populate(struct gca_heap *h, u64 first, u64 n, bool *all_fresh)
{
	struct uarena *ua = h->priv;
	struct gca_span *s;
	bool fresh = true;
	s64 bytes = 0;
	u64 p;

	ua->populate_calls++;
	if (!n || first >= h->grown_pages || n > h->grown_pages - first)
		ua_bug("populate out of range", first, n);
	/* The core populates exactly the in-use span it just took. */
	s = ua_entry(ua, first);
	if (!s || s->state != GCA_SPAN_INUSE || s->start != first ||
	    s->npages != n)
		ua_bug("populate of something else than a new span", first, n);
	if (ua->populate_fail_after >= 0) {
		if (ua->populate_fail_after == 0)
			return -ENOMEM;
		ua->populate_fail_after--;
	}
	for (p = first; p < first + n; p++) {
		if (ua->backed[p]) {
			fresh = false;
			continue;
		}
		if (mprotect(ua->base + p * PS, PS, PROT_READ | PROT_WRITE))
			ua_bug("mprotect", p, 1);
		ua->backed[p] = 1;
		ua->backed_pages++;
		bytes += PS;
	}
	*all_fresh = fresh;
	return bytes;
}

static u64 ua_release(struct gca_heap *h, u64 first, u64 n)
{
	struct uarena *ua = h->priv;
	u64 p, bytes = 0;

	ua->release_calls++;
	if (!n || first >= h->grown_pages || n > h->grown_pages - first)
		ua_bug("release out of range", first, n);
	for (p = first; p < first + n; p++) {
		/* Never the memory of a span in use. */
		if (gca_span_of(h, p * PS))
			ua_bug("release of an in-use page", p, n);
		if (!ua->backed[p])
			continue;
		if (ua->poison_on_release)
			memset(ua->base + p * PS, 0xdb, PS);
		if (madvise(ua->base + p * PS, PS, MADV_DONTNEED) ||
		    mprotect(ua->base + p * PS, PS, PROT_NONE))
			ua_bug("madvise/mprotect", p, 0);
		ua->backed[p] = 0;
		ua->backed_pages--;
		bytes += PS;
	}
	return bytes;
}

static const void *ua_map(struct gca_heap *h, u64 off, u64 *len)
{
	struct uarena *ua = h->priv;

	ua->map_calls++;
	if (off >= h->grown_pages * PS || (off & 7))
		ua_bug("map out of range or unaligned", off, h->grown_pages);
	if (!ua->backed[off / PS])
		return NULL;
	*len = 4096 - (off & 4095);
	return ua->base + off;
}

static bool ua_should_abort(struct gca_heap *h)
{
	struct uarena *ua = h->priv;

	ua->abort_calls++;
	if (ua->abort_after < 0)
		return false;
	if (ua->abort_after == 0)
		return true;
	ua->abort_after--;
	return false;
}

static bool ua_lock_wanted(struct gca_heap *h)
{
	struct uarena *ua = h->priv;

	ua->wanted_calls++;
	return ua->lock_wanted;
}

static const struct gca_heap_ops ua_ops = {
	.populate = ua_populate,
	.release = ua_release,
	.map = ua_map,
	.should_abort = ua_should_abort,
	.lock_wanted = ua_lock_wanted,
};

int ua_init(struct uarena *ua, u64 heap_bytes)
{
	u64 maplen = heap_bytes ? ALIGN(heap_bytes, PS) : PS;
	void *base;
	int ret;

	memset(ua, 0, sizeof(*ua));
	ua->abort_after = -1;
	ua->populate_fail_after = -1;
	base = mmap(NULL, maplen, PROT_NONE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (base == MAP_FAILED)
		return -ENOMEM;
	ua->base = base;
	ua->size = maplen;
	ua->backed = calloc(maplen / PS, 1);
	if (!ua->backed) {
		munmap(base, maplen);
		return -ENOMEM;
	}
	ret = gca_heap_init(&ua->h, heap_bytes, &ua_ops, ua, NULL);
	if (ret) {
		free(ua->backed);
		munmap(base, maplen);
		ua->base = NULL;
		return ret;
	}
	ua->h.user_base = (u64)(uintptr_t)base;
	return 0;
}

void ua_destroy(struct uarena *ua)
{
	if (!ua->base)
		return;
	gca_heap_destroy(&ua->h);
	munmap(ua->base, ua->size);
	free(ua->backed);
	ua->base = NULL;
}

/* The core's checker (kmod/core/gca_check.c), reporting to stderr. */
static void ua_check_report(struct gca_check *c, const char *line)
{
	(void)c;
	fprintf(stderr, "ua_check: %s\n", line);
}

static bool ua_check_backed(struct gca_check *c, u64 page)
{
	struct uarena *ua = c->priv;

	return ua->backed[page];
}

int ua_check(struct uarena *ua, bool strict_inuse)
{
	struct gca_check c = {
		.strict_inuse = strict_inuse,
		.backed = ua_check_backed,
		.backed_pages = ua->backed_pages,
		.report = ua_check_report,
		.priv = ua,
	};

	return gca_heap_check(&ua->h, &c);
}

u64 ua_alloc_objs(struct uarena *ua, unsigned int spanclass, u64 n, u64 *offs)
{
	u64 done = 0;

	while (done < n) {
		struct gca_span *s;
		u32 i, fi = 0;
		int err;

		s = gca_span_refill(&ua->h, spanclass, 1, &err);
		if (!s)
			break;
		for (i = 0; i < s->nelems && done < n; i++) {
			if (!bit_test(s->cache_bits, i))
				continue;
			if (offs)
				offs[done] = span_base(s) + (u64)i * s->elemsize;
			done++;
			fi = i + 1;
		}
		gca_span_uncache(&ua->h, s, fi);
	}
	return done;
}

u64 ua_alloc_large(struct uarena *ua, u64 size, bool noscan)
{
	struct gca_span *s;
	bool nz;

	s = gca_alloc_large(&ua->h, size, noscan, &nz);
	return s ? span_base(s) : U64_MAX;
}

int ua_mark(struct uarena *ua, const u64 *roots, size_t n)
{
	gca_mark_begin(&ua->h);
	gca_mark_words(&ua->h, roots, n);
	return gca_mark_drain(&ua->h);
}

int ua_leaks(void)
{
	int ret = 0;

	if (gca_uenv.live_allocs) {
		fprintf(stderr, "ua_leaks: %ld allocations not freed\n",
			gca_uenv.live_allocs);
		ret |= 1;
	}
#ifdef UA_HAVE_LSAN
	if (__lsan_do_recoverable_leak_check())
		ret |= 2;
#endif
	return ret;
}

static int ua_obj_cmp(const void *a, const void *b)
{
	const struct ua_obj *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

struct ua_obj *ua_objects(struct gca_heap *h, size_t *n)
{
	struct ua_obj *v = NULL, *nv;
	struct gca_span *s;
	size_t cap = 0;
	u64 i;

	*n = 0;
	list_for_each_entry(s, &h->inuse, all) {
		for (i = 0; i < s->nelems; i++) {
			bool cachedslot = s->cached && bit_test(s->cache_bits, i);

			if (!bit_test(s->alloc_bits, i) && !cachedslot)
				continue;
			if (*n == cap) {
				cap = cap ? 2 * cap : 1024;
				nv = realloc(v, cap * sizeof(*v));
				if (!nv) {
					free(v);
					return NULL;
				}
				v = nv;
			}
			v[*n] = (struct ua_obj){
				.start = span_base(s) + i * s->elemsize,
				.size = s->elemsize,
				.scan = !s->noscan,
				.root = s->cached,
			};
			(*n)++;
		}
	}
	if (!v)
		return calloc(1, sizeof(*v));
	qsort(v, *n, sizeof(*v), ua_obj_cmp);
	return v;
}

struct ua_obj *ua_find(struct ua_obj *v, size_t n, u64 off)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (off < v[mid].start)
			hi = mid;
		else if (off - v[mid].start >= v[mid].size)
			lo = mid + 1;
		else
			return &v[mid];
	}
	return NULL;
}

void ua_ref_mark(struct uarena *ua, struct ua_obj *v, size_t n,
		 const u64 *roots, size_t nroots)
{
	struct ua_obj **stack = malloc((n + 1) * sizeof(*stack));
	u64 base = ua_addr(ua, 0);
	size_t sp = 0, i;

	if (!stack)
		abort();
	for (i = 0; i < n; i++) {
		v[i].marked = v[i].root;
		if (v[i].root && v[i].scan)
			stack[sp++] = &v[i];
	}
	for (i = 0; i < nroots; i++) {
		struct ua_obj *o = ua_find(v, n, roots[i] - base);

		if (o && !o->marked) {
			o->marked = true;
			if (o->scan)
				stack[sp++] = o;
		}
	}
	while (sp) {
		struct ua_obj *o = stack[--sp];
		const u64 *w = ua_ptr(ua, o->start);

		for (i = 0; i < o->size / 8; i++) {
			struct ua_obj *t;

			/* What map() hides, the collector does not see. */
			if (!ua->backed[(o->start + i * 8) / GCA_PAGE_SIZE])
				continue;
			t = ua_find(v, n, w[i] - base);
			if (t && !t->marked) {
				t->marked = true;
				if (t->scan)
					stack[sp++] = t;
			}
		}
	}
	free(stack);
}
