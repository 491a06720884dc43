// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target for the GC core: the input is a heap and its contents.
 *
 *   prelude   a few spans of various classes (and large objects) with some
 *             objects committed, hostile freeindex values, maybe a span
 *             left cached, the gray queue's cap, an abort point;
 *   contents  heap words: zero, raw bytes, pointers near or into the heap
 *             or into objects, at any byte offset;
 *   roots     a few words.
 *
 * It then marks (resuming if interrupted) and sweeps, and checks: the
 * marked set is exactly what a plain marker finds, the sweep freed exactly
 * the white objects, every heap invariant holds (ua_check), no WARN fired,
 * and destroying the heap frees every allocation.  Any violation aborts.
 *
 *   clang -fsanitize=fuzzer,address,undefined ... (make fuzz)
 */
#include "gca_test.h"

#define FUZZ_HEAP	(16ULL << 20)

struct input {
	const u8 *p;
	size_t n;
};

static u64 get(struct input *in, unsigned int bytes)
{
	u64 v = 0;

	while (bytes--) {
		v <<= 8;
		if (in->n) {
			v |= *in->p++;
			in->n--;
		}
	}
	return v;
}

#define FUZZ_ASSERT(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "fuzz_core: %s:%d: %s\n", __FILE__,	\
			__LINE__, #cond);				\
		abort();						\
	}								\
} while (0)

static u64 heap_word(struct input *in, struct uarena *ua, struct ua_obj *v,
		     size_t n)
{
	u64 tag = get(in, 1), grown = ua->h.grown_pages * GCA_PAGE_SIZE;

	switch (tag % 8) {
	case 0:
		return get(in, 8);
	case 1:		/* near the heap, any byte */
		return ua_addr(ua, 0) - GCA_PAGE_SIZE +
		       get(in, 4) % (grown + 2 * GCA_PAGE_SIZE);
	case 2:		/* into an object */
		if (!n)
			return 0;
		{
			struct ua_obj *o = &v[get(in, 2) % n];

			return ua_addr(ua, o->start) + get(in, 3) % (o->size + 8);
		}
	case 3:
		return get(in, 1);
	default:
		return 0;
	}
}

int LLVMFuzzerTestOneInput(const u8 *data, size_t size);

int LLVMFuzzerTestOneInput(const u8 *data, size_t size)
{
	struct input in = { data, size };
	struct gca_sweep_result res;
	struct gca_span *s, *cached = NULL;
	struct uarena ua;
	struct ua_obj *v;
	u64 roots[16], i, nspans, nroots, survivors = 0, cslots = 0;
	size_t n;
	int err, ret;

	gca_uenv_reset();
	FUZZ_ASSERT(ua_init(&ua, FUZZ_HEAP) == 0);

	/* Prelude: spans. */
	nspans = 1 + get(&in, 1) % 12;
	for (i = 0; i < nspans; i++) {
		u64 b = get(&in, 1);

		if (b % 8 == 0) {
			ua_alloc_large(&ua, 1 + get(&in, 2) * 64, b & 1);
		} else {
			unsigned int c = 1 + get(&in, 1) % (GCA_NUM_SIZE_CLASSES - 1);

			s = gca_span_refill(&ua.h, GCA_SPANCLASS(c, b & 1), 1, &err);
			if (!s)
				continue;
			/* Any freeindex, however hostile. */
			gca_span_uncache(&ua.h, s, (u32)get(&in, 4));
		}
	}
	if (get(&in, 1) & 1) {
		u64 c = 1 + get(&in, 1) % (GCA_NUM_SIZE_CLASSES - 1);

		cached = gca_span_refill(&ua.h, GCA_SPANCLASS(c, 0), 2, &err);
	}
	ua.h.gray.max_blocks = get(&in, 1) % 4;
	if (!ua.h.gray.max_blocks)
		ua.h.gray.max_blocks = 4096;
	ua.abort_after = get(&in, 1) % 8;
	if (ua.abort_after >= 4)
		ua.abort_after = -1;
	FUZZ_ASSERT(ua_check(&ua, true) == 0);

	/* Contents: every word of every in-use span, until input runs out. */
	v = ua_objects(&ua.h, &n);
	FUZZ_ASSERT(v != NULL);
	nroots = get(&in, 1) % ARRAY_SIZE(roots);
	for (i = 0; i < nroots; i++)
		roots[i] = heap_word(&in, &ua, v, n);
	list_for_each_entry(s, &ua.h.inuse, all) {
		u64 *w = ua_ptr(&ua, span_base(s));

		for (i = 0; i < s->npages * GCA_PAGE_SIZE / 8 && in.n; i++)
			w[i] = heap_word(&in, &ua, v, n);
	}

	/* Mark, resuming after an interruption. */
	gca_mark_begin(&ua.h);
	gca_mark_words(&ua.h, roots, nroots);
	ret = gca_mark_drain(&ua.h);
	if (ret == -EINTR) {
		ua.abort_after = -1;
		ret = gca_mark_drain(&ua.h);
	}
	FUZZ_ASSERT(ret == 0);
	FUZZ_ASSERT(!ua.h.gray.overflow);

	ua_ref_mark(&ua, v, n, roots, nroots);
	for (i = 0; i < n; i++) {
		FUZZ_ASSERT(gca_is_marked(&ua.h, v[i].start) == v[i].marked);
		if (v[i].marked || v[i].root)
			survivors++;
	}
	list_for_each_entry(s, &ua.h.inuse, all)
		for (i = 0; i < s->nwords; i++)
			FUZZ_ASSERT(!(s->mark_bits[i] & ~(s->alloc_bits[i] |
					(s->cached ? s->cache_bits[i] : 0))));

	/* Sweep: exactly the white objects go. */
	if (cached) {
		/* Its cache's slots are objects to the marker, not committed. */
		for (i = 0; i < cached->nelems; i++)
			if (bit_test(cached->cache_bits, i))
				cslots++;
	}
	FUZZ_ASSERT(ua.h.heap_objects == n - cslots);
	ret = gca_sweep(&ua.h, &res);
	FUZZ_ASSERT(ret == 0);
	FUZZ_ASSERT(ua.h.heap_objects == survivors - cslots);
	FUZZ_ASSERT(res.freed_objects == n - survivors);
	FUZZ_ASSERT(ua_check(&ua, true) == 0);

	if (cached)
		gca_span_uncache(&ua.h, cached, (u32)get(&in, 2));
	FUZZ_ASSERT(ua_check(&ua, true) == 0);
	FUZZ_ASSERT(gca_uenv.warnings == 0);

	free(v);
	ua_destroy(&ua);
	FUZZ_ASSERT(ua.h.meta_bytes == 0);
	FUZZ_ASSERT(gca_uenv.live_allocs == 0);
	return 0;
}
