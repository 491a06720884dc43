/* SPDX-License-Identifier: (LGPL-2.1 OR MIT) */
/*
 * The heap profile, as Go's runtime.MemProfile (runtime/mprof.go):
 *
 *  - Sampling.  Each thread's cache counts allocated bytes down from a
 *    random distance drawn from an exponential distribution whose mean is
 *    the rate (Go's nextSample/fastexprand), so that on average one
 *    sample is taken per rate bytes, whatever the sizes; the count is the
 *    only cost on the allocation path (gca_int.h: __gca_prof_count()).
 *    When it crosses zero the allocating call stack is recorded with
 *    backtrace(3) (the unwinder works from .eh_frame, so it needs no frame
 *    pointers and works in static binaries), from the program's call into
 *    gca_alloc*() outwards.  Sizes are the requested sizes.
 *  - Buckets.  Samples are counted per (call stack, size), Go's memRecord.
 *  - Frees.  The kernel frees objects; the library learns which sampled
 *    objects it freed by asking (GCA_IOC_QUERY_OBJECTS) about the sampled
 *    addresses not yet found freed: at the first sample after each cycle,
 *    after each cycle from the gctrace monitor when it runs, and when a
 *    profile is written.  A sample whose address is handed out again by a
 *    later sample was freed in between.  An object freed and its slot
 *    reallocated (unsampled) before the library looked still counts as
 *    in use: the in-use figures are an upper bound, exact when the
 *    library looks right after each cycle (gctrace on, or a profile
 *    written after gca_collect()).
 *  - Scaling.  The writer unsamples each bucket's counts as Go's
 *    scaleHeapSample does: count and bytes times 1 / (1 - e^(-avg/rate)).
 */
#include <execinfo.h>
#include <stdlib.h>
#include <string.h>

#include "gca_obs.h"

/* ---- arithmetic without libm ---------------------------------------- */

/* Natural logarithm for x > 0 (2 atanh series, error < 1e-7). */
static double gca_ln(double x)
{
	union { double d; uint64_t u; } v = { .d = x };
	int e = (int)((v.u >> 52) & 0x7ff) - 1023;
	double m, s, s2, sum, term;
	int k;

	/* m in [1, 2): the mantissa with a zero exponent */
	v.u = (v.u & ((1ULL << 52) - 1)) | (1023ULL << 52);
	m = v.d;
	if (m > 1.4142135623730951) {
		m /= 2;
		e++;
	}
	s = (m - 1) / (m + 1);
	s2 = s * s;
	sum = 0;
	term = s;
	for (k = 1; k < 20; k += 2) {
		sum += term / k;
		term *= s2;
	}
	return 2 * sum + e * 0.6931471805599453;
}

/* e^x for x <= 0 */
static double gca_exp_neg(double x)
{
	union { double d; uint64_t u; } p;
	double r, sum, term;
	int k, n;

	if (x < -700)
		return 0;
	k = (int)(x / 0.6931471805599453 - 0.5);	/* round toward -inf */
	r = x - k * 0.6931471805599453;			/* [0, ln 2) roughly */
	sum = 1;
	term = 1;
	for (n = 1; n < 20; n++) {
		term *= r / n;
		sum += term;
	}
	p.u = (uint64_t)(k + 1023) << 52;		/* 2^k */
	return sum * p.d;
}

/* 1 - e^-x for x >= 0, precise for small x too */
static double gca_one_minus_exp_neg(double x)
{
	if (x < 1e-3)
		return x - x * x / 2 + x * x * x / 6 - x * x * x * x / 24;
	return 1 - gca_exp_neg(-x);
}

void __gca_prof_scale(uint64_t count, uint64_t bytes, int64_t rate,
		      int64_t *scount, int64_t *sbytes)
{
	double avg, scale;

	if (!count || !bytes) {
		*scount = 0;
		*sbytes = 0;
		return;
	}
	if (rate <= 1) {
		*scount = count;
		*sbytes = bytes;
		return;
	}
	avg = (double)bytes / count;
	scale = 1 / gca_one_minus_exp_neg(avg / rate);
	*scount = (int64_t)(count * scale);
	*sbytes = (int64_t)(bytes * scale);
}

/* ---- sampling --------------------------------------------------------- */

static uint64_t gca_rng(uint64_t *s)
{
	/* xorshift64* */
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545F4914F6CDD1DULL;
}

/* Go's fastexprand(rate): bytes until the next sample. */
static int64_t gca_next_sample(uint64_t *rng, int64_t rate)
{
	const int bits = 26;
	double q, qlog;

	if (rate == 1)
		return 0;
	if (rate > 0x7000000)
		rate = 0x7000000;
	q = (double)((gca_rng(rng) >> (64 - bits)) + 1);
	qlog = gca_ln(q) / 0.6931471805599453 - bits;
	if (qlog > 0)
		qlog = 0;
	return (int64_t)(qlog * (-0.6931471805599453 * rate)) + 1;
}

static uint64_t gca_stack_hash(const uintptr_t *stk, unsigned int n,
			       uint64_t size)
{
	uint64_t h = 0xcbf29ce484222325ULL ^ size;
	unsigned int i;

	for (i = 0; i < n; i++) {
		h ^= stk[i];
		h *= 0x100000001b3ULL;
		h ^= h >> 29;
	}
	return h;
}

static struct gca_prof_bucket *gca_bucket(struct gca_obs *o,
					  const uintptr_t *stk,
					  unsigned int n, uint64_t size)
{
	uint64_t h = gca_stack_hash(stk, n, size);
	struct gca_prof_bucket *b;

	for (b = o->buckets[h % GCA_PROF_HASH]; b; b = b->hnext)
		if (b->hash == h && b->size == size && b->nstk == n &&
		    !memcmp(b->stk, stk, n * sizeof(*stk)))
			return b;
	b = calloc(1, sizeof(*b) + n * sizeof(*stk));
	if (!b)
		return NULL;
	b->hash = h;
	b->size = size;
	b->nstk = n;
	memcpy(b->stk, stk, n * sizeof(*stk));
	b->hnext = o->buckets[h % GCA_PROF_HASH];
	o->buckets[h % GCA_PROF_HASH] = b;
	o->nbuckets++;
	return b;
}

/*
 * The live table: open addressing on the address, linear probing,
 * deletion by backward shift.  addr 0 = empty slot.
 */
static size_t gca_live_slot(const struct gca_obs *o, uintptr_t addr)
{
	return (size_t)((addr >> 4) * 0x9E3779B97F4A7C15ULL) &
	       (o->live_cap - 1);
}

static struct gca_prof_live *gca_live_find(struct gca_obs *o, uintptr_t addr)
{
	size_t i;

	if (!o->live_cap)
		return NULL;
	for (i = gca_live_slot(o, addr); o->live[i].addr;
	     i = (i + 1) & (o->live_cap - 1))
		if (o->live[i].addr == addr)
			return &o->live[i];
	return NULL;
}

static void gca_live_delete(struct gca_obs *o, struct gca_prof_live *e)
{
	size_t i = e - o->live, j = i, k;

	o->live[i].addr = 0;
	o->nlive--;
	for (;;) {
		j = (j + 1) & (o->live_cap - 1);
		if (!o->live[j].addr)
			return;
		k = gca_live_slot(o, o->live[j].addr);
		/* Move j back to i unless its home lies cyclically in (i, j]. */
		if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
			continue;
		o->live[i] = o->live[j];
		o->live[j].addr = 0;
		i = j;
	}
}

static int gca_live_insert(struct gca_obs *o, uintptr_t addr,
			   struct gca_prof_bucket *b)
{
	size_t i;

	if ((o->nlive + 1) * 4 > o->live_cap * 3) {
		size_t ncap = o->live_cap ? o->live_cap * 2 : 1024, j;
		struct gca_prof_live *old = o->live, *nt;
		size_t ocap = o->live_cap;

		nt = calloc(ncap, sizeof(*nt));
		if (!nt)
			return -ENOMEM;
		o->live = nt;
		o->live_cap = ncap;
		for (j = 0; j < ocap; j++) {
			if (!old[j].addr)
				continue;
			for (i = gca_live_slot(o, old[j].addr); nt[i].addr;
			     i = (i + 1) & (ncap - 1))
				;
			nt[i] = old[j];
		}
		free(old);
	}
	for (i = gca_live_slot(o, addr); o->live[i].addr;
	     i = (i + 1) & (o->live_cap - 1))
		;
	o->live[i].addr = addr;
	o->live[i].b = b;
	o->nlive++;
	return 0;
}

static void gca_live_freed(struct gca_obs *o, struct gca_prof_live *e)
{
	e->b->frees++;
	e->b->free_bytes += e->b->size;
	gca_live_delete(o, e);
}

/* Under prof_lock. */
static int gca_prof_refresh_locked(struct gca_obs *o, bool force)
{
	struct gca_arena *a = o->arena;
	uint64_t gc = gca_num_gc(a), *addrs, *bits;
	struct gca_query q;
	size_t i, n = 0, done, chunk;
	int ret = 0;

	if (!force && gc == o->prof_gc)
		return 0;
	o->prof_gc = gc;
	if (!o->nlive)
		return 0;
	addrs = malloc(o->nlive * sizeof(*addrs));
	bits = malloc(((o->nlive + 63) / 64) * sizeof(*bits));
	if (!addrs || !bits) {
		ret = -ENOMEM;
		goto out;
	}
	for (i = 0; i < o->live_cap; i++)
		if (o->live[i].addr)
			addrs[n++] = o->live[i].addr;
	for (done = 0; done < n; done += chunk) {
		chunk = n - done < GCA_QUERY_MAX ? n - done : GCA_QUERY_MAX;
		memset(&q, 0, sizeof(q));
		q.size = sizeof(q);
		q.addrs = (uintptr_t)(addrs + done);
		q.live = (uintptr_t)bits;
		q.n = chunk;
		ret = __gca_ioctl_retry(a, GCA_IOC_QUERY_OBJECTS, &q);
		if (ret)
			goto out;
		for (i = 0; i < chunk; i++) {
			struct gca_prof_live *e;

			if (bits[i / 64] >> (i % 64) & 1)
				continue;
			e = gca_live_find(o, addrs[done + i]);
			if (e)
				gca_live_freed(o, e);
		}
	}
out:
	if (ret)
		o->prof_gc = gc - 1;	/* try again next time */
	free(addrs);
	free(bits);
	return ret;
}

int __gca_prof_refresh(struct gca_obs *o, bool force)
{
	int ret;

	pthread_mutex_lock(&o->prof_lock);
	ret = gca_prof_refresh_locked(o, force);
	pthread_mutex_unlock(&o->prof_lock);
	return ret;
}

static void gca_prof_record(struct gca_obs *o, void *p, size_t size,
			    void *caller)
{
	void *frames[GCA_PROF_MAX_STACK + 8];
	uintptr_t stk[GCA_PROF_MAX_STACK];
	struct gca_prof_bucket *b;
	struct gca_prof_live *e;
	int n, i, first = -1;
	unsigned int k = 0;

	/*
	 * The stack from the program's call site outwards: skip this
	 * function and the library's frames up to the frame returning to
	 * caller.  If caller is not found, keep all but this frame.
	 */
	n = backtrace(frames, GCA_PROF_MAX_STACK + 8);
	for (i = 0; i < n; i++) {
		if (frames[i] == caller) {
			first = i;
			break;
		}
	}
	if (first < 0)
		first = n > 1 ? 1 : 0;
	for (i = first; i < n && k < GCA_PROF_MAX_STACK; i++)
		stk[k++] = (uintptr_t)frames[i];

	pthread_mutex_lock(&o->prof_lock);
	gca_prof_refresh_locked(o, false);
	/* The slot was handed out again: its previous object was freed. */
	e = gca_live_find(o, (uintptr_t)p);
	if (e)
		gca_live_freed(o, e);
	b = gca_bucket(o, stk, k, size);
	if (b) {
		b->allocs++;
		b->alloc_bytes += size;
		gca_live_insert(o, (uintptr_t)p, b);
	}
	pthread_mutex_unlock(&o->prof_lock);
}

void __gca_prof_sample(struct gca_tcache *tc, void *p, size_t size,
		       void *caller)
{
	struct gca_obs *o = __atomic_load_n(&tc->arena->obs, __ATOMIC_ACQUIRE);
	uint64_t rng = __atomic_load_n(&tc->prof_rng, __ATOMIC_RELAXED);
	int64_t rate = o ? __atomic_load_n(&o->rate, __ATOMIC_RELAXED) : 0;
	int64_t next;

	if (rate <= 0) {
		/* Off: gca_set_mem_profile_rate() resets the countdown. */
		__atomic_store_n(&tc->next_sample, INT64_MAX, __ATOMIC_RELAXED);
		return;
	}
	if (!rng) {
		/* A new cache (or a new rate): draw the first distance. */
		rng = (uintptr_t)tc ^ __gca_mono_ns() ^
		      ((uint64_t)tc->tid << 32);
		rng = rng * 0x9E3779B97F4A7C15ULL | 1;
		next = gca_next_sample(&rng, rate);
		__atomic_store_n(&tc->prof_rng, rng, __ATOMIC_RELAXED);
		if ((int64_t)size < next) {
			__atomic_store_n(&tc->next_sample,
					 next - (int64_t)size,
					 __ATOMIC_RELAXED);
			return;
		}
	}
	gca_prof_record(o, p, size, caller);
	next = gca_next_sample(&rng, rate);
	__atomic_store_n(&tc->prof_rng, rng, __ATOMIC_RELAXED);
	__atomic_store_n(&tc->next_sample, next, __ATOMIC_RELAXED);
}

void __gca_prof_init(struct gca_obs *o, int64_t rate)
{
	o->rate = rate;
	o->last_rate = rate ? rate : GCA_PROF_RATE_DEFAULT;
}

void __gca_prof_free(struct gca_obs *o)
{
	struct gca_prof_bucket *b, *next;
	unsigned int i;

	for (i = 0; i < GCA_PROF_HASH; i++) {
		for (b = o->buckets[i]; b; b = next) {
			next = b->hnext;
			free(b);
		}
		o->buckets[i] = NULL;
	}
	free(o->live);
	o->live = NULL;
	o->nlive = o->live_cap = 0;
}

int64_t gca_set_mem_profile_rate(struct gca_arena *a, int64_t bytes)
{
	struct gca_obs *o = a ? a->obs : NULL;
	struct gca_tcache *tc;
	int64_t old;

	if (!o)
		return a ? -ENOMEM : -EINVAL;
	pthread_mutex_lock(&o->prof_lock);
	old = o->rate;
	if (bytes >= 0) {
		__atomic_store_n(&o->rate, bytes, __ATOMIC_RELAXED);
		if (bytes)
			o->last_rate = bytes;
	}
	pthread_mutex_unlock(&o->prof_lock);
	if (bytes >= 0) {
		/* Every cache draws a new distance at its next allocation. */
		pthread_mutex_lock(&a->lock);
		for (tc = a->caches; tc; tc = tc->anext) {
			__atomic_store_n(&tc->prof_rng, 0, __ATOMIC_RELAXED);
			__atomic_store_n(&tc->next_sample, 0, __ATOMIC_RELAXED);
		}
		pthread_mutex_unlock(&a->lock);
	}
	return old;
}

int gca_write_heap_profile(struct gca_arena *a, int fd)
{
	struct gca_obs *o = a ? a->obs : NULL;
	int ret;

	if (!o)
		return a ? -ENOMEM : -EINVAL;
	if (fd < 0)
		return -EBADF;
	pthread_mutex_lock(&o->prof_lock);
	ret = gca_prof_refresh_locked(o, true);
	if (!ret)
		ret = __gca_pprof_write(o, fd);
	pthread_mutex_unlock(&o->prof_lock);
	return ret;
}
