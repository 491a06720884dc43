/* SPDX-License-Identifier: (LGPL-2.1 OR MIT) */
/*
 * gca_pool: Go's sync.Pool for arena objects.
 *
 * A pool holds two generations (Go's local and victim), each an arena
 * object: a private slot per thread (indexed by the thread's index in the
 * arena, which the kernel keeps below max_threads) and a shared stack of
 * objects, itself an arena array.  The two generation pointers live in
 * the pool's malloc()ed struct, registered with gca_add_roots(): the
 * conservative collector scans them, then the generations, then the
 * pooled objects, so everything the pool holds stays alive, and nothing
 * else is needed to keep it.  Dropping an object is dropping the
 * reference.
 *
 * Cycles.  Go's poolCleanup runs at the start of every cycle: the victim
 * generation is dropped and the primary one becomes the victim, so a
 * pooled object survives one cycle and is freed by the second.  Here the
 * pool notices a cycle afterwards, at its next get or put, by num_gc on
 * the control page: one cycle since its last look moves primary to
 * victim and drops the old victim; two or more drop both.  An object put
 * before cycle N is therefore dropped at the pool's first use after cycle
 * N + 1 and freed by the next cycle after that.
 *
 * Threads.  A thread's private slot is written by that thread only (with
 * gca_store()); the shared stacks and the generation switch are under
 * the pool's mutex.  A thread that picked up a generation just before
 * another one retired it may still take from or put into it: the put
 * object is then dropped early, which a pool may always do.
 */
#include <stdlib.h>
#include <string.h>

#include "gca_obs.h"

/* A generation (arena object, scanned). */
struct gca_pool_gen {
	void **shared;		/* arena array of cap pointers */
	size_t nshared;
	size_t cap;
	void *priv[];		/* max_threads slots */
};

struct gca_pool {
	struct gca_pool_gen *gen[2];	/* [0] primary, [1] victim: roots */
	struct gca_arena *arena;
	void *(*new_fn)(struct gca_arena *arena, void *ctx);
	void *ctx;
	pthread_mutex_t lock;
	uint64_t seen_gc;		/* num_gc at the last generation switch */
	uint32_t nslots;
};

static struct gca_pool_gen *gca_pool_gen_new(struct gca_pool *p)
{
	return gca_alloc(p->arena, sizeof(struct gca_pool_gen) +
			 p->nslots * sizeof(void *));
}

/* Retire generations for the cycles completed since the last look. */
static void gca_pool_cycle(struct gca_pool *p)
{
	struct gca_arena *a = p->arena;
	struct gca_pool_gen *fresh;
	uint64_t gc = gca_num_gc(a);

	if (__atomic_load_n(&p->seen_gc, __ATOMIC_RELAXED) == gc)
		return;
	/* Allocated before the lock: allocation may wait for a cycle. */
	fresh = gca_pool_gen_new(p);
	if (!fresh)
		return;		/* try again at the next use */
	pthread_mutex_lock(&p->lock);
	gc = gca_num_gc(a);
	if (p->seen_gc != gc) {
		if (gc - p->seen_gc == 1)
			gca_store(a, (void **)&p->gen[1], p->gen[0]);
		else
			gca_store(a, (void **)&p->gen[1], NULL);
		gca_store(a, (void **)&p->gen[0], fresh);
		__atomic_store_n(&p->seen_gc, gc, __ATOMIC_RELAXED);
	}
	pthread_mutex_unlock(&p->lock);
}

struct gca_pool *gca_pool_new(struct gca_arena *a,
			      void *(*new_fn)(struct gca_arena *, void *),
			      void *ctx)
{
	struct gca_pool *p;
	struct gca_pool_gen *g;
	int ret;

	if (!a) {
		errno = EINVAL;
		return NULL;
	}
	p = calloc(1, sizeof(*p));
	if (!p) {
		errno = ENOMEM;
		return NULL;
	}
	p->arena = a;
	p->new_fn = new_fn;
	p->ctx = ctx;
	p->nslots = a->max_threads ? a->max_threads : 1;
	ret = pthread_mutex_init(&p->lock, NULL);
	if (ret) {
		free(p);
		errno = ret;
		return NULL;
	}
	ret = gca_add_roots(a, p->gen, sizeof(p->gen));
	if (ret) {
		pthread_mutex_destroy(&p->lock);
		free(p);
		errno = -ret;
		return NULL;
	}
	g = gca_pool_gen_new(p);
	if (!g) {
		ret = errno;
		gca_remove_roots(a, p->gen);
		pthread_mutex_destroy(&p->lock);
		free(p);
		errno = ret;
		return NULL;
	}
	gca_store(a, (void **)&p->gen[0], g);
	p->seen_gc = gca_num_gc(a);
	return p;
}

void gca_pool_destroy(struct gca_pool *p)
{
	if (!p)
		return;
	/* The generations and the pooled objects become garbage. */
	gca_remove_roots(p->arena, p->gen);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

/* The calling thread's slot index, registering it if need be. */
static int gca_pool_slot(struct gca_pool *p, uint32_t *slot)
{
	struct gca_tcache *tc = __gca_tc(p->arena);

	if (!tc)
		return -errno;
	*slot = tc->tid < p->nslots ? tc->tid : 0;
	return 0;
}

/* Pop from g's shared stack; under the lock. */
static void *gca_pool_pop(struct gca_pool *p, struct gca_pool_gen *g)
{
	void *x;

	if (!g || !g->nshared)
		return NULL;
	g->nshared--;
	x = gca_load(&g->shared[g->nshared]);
	gca_store(p->arena, &g->shared[g->nshared], NULL);
	return x;
}

static void *gca_pool_take_private(struct gca_pool *p,
				   struct gca_pool_gen *g, uint32_t slot)
{
	void *x;

	if (!g)
		return NULL;
	x = gca_load(&g->priv[slot]);
	if (x)
		gca_store(p->arena, &g->priv[slot], NULL);
	return x;
}

void *gca_pool_get(struct gca_pool *p)
{
	struct gca_pool_gen *g, *v;
	uint32_t slot;
	void *x;
	int ret;

	if (!p) {
		errno = EINVAL;
		return NULL;
	}
	ret = gca_pool_slot(p, &slot);
	if (ret) {
		errno = -ret;
		return NULL;
	}
	gca_pool_cycle(p);
	g = gca_load((void **)&p->gen[0]);
	x = gca_pool_take_private(p, g, slot);
	if (x)
		return x;
	pthread_mutex_lock(&p->lock);
	g = gca_load((void **)&p->gen[0]);
	x = gca_pool_pop(p, g);
	if (!x) {
		v = gca_load((void **)&p->gen[1]);
		x = gca_pool_take_private(p, v, slot);
		if (!x)
			x = gca_pool_pop(p, v);
	}
	pthread_mutex_unlock(&p->lock);
	if (x)
		return x;
	if (p->new_fn)
		return p->new_fn(p->arena, p->ctx);
	return NULL;
}

void gca_pool_put(struct gca_pool *p, void *obj)
{
	struct gca_pool_gen *g;
	uint32_t slot;
	size_t ncap, i;
	void **arr;

	if (!p || !obj)
		return;
	if (gca_pool_slot(p, &slot))
		return;
	gca_pool_cycle(p);
	g = gca_load((void **)&p->gen[0]);
	if (!g)
		return;
	if (!gca_load(&g->priv[slot])) {
		gca_store(p->arena, &g->priv[slot], obj);
		return;
	}
	for (;;) {
		pthread_mutex_lock(&p->lock);
		g = gca_load((void **)&p->gen[0]);
		if (g->nshared < g->cap) {
			gca_store(p->arena, &g->shared[g->nshared], obj);
			g->nshared++;
			pthread_mutex_unlock(&p->lock);
			return;
		}
		ncap = g->cap ? g->cap * 2 : 16;
		pthread_mutex_unlock(&p->lock);
		/* Grow outside the lock (allocation may wait for a cycle). */
		arr = gca_alloc(p->arena, ncap * sizeof(void *));
		if (!arr)
			return;		/* dropped */
		pthread_mutex_lock(&p->lock);
		g = gca_load((void **)&p->gen[0]);
		if (g->cap < ncap) {
			for (i = 0; i < g->nshared; i++)
				gca_store(p->arena, &arr[i],
					  gca_load(&g->shared[i]));
			gca_store(p->arena, (void **)&g->shared, arr);
			g->cap = ncap;
		}
		pthread_mutex_unlock(&p->lock);
	}
}
