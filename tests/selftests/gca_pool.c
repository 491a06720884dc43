// SPDX-License-Identifier: GPL-2.0
/*
 * gca_pool: sync.Pool semantics.  Reuse within a cycle (a get after a put
 * returns the same object, new_fn only when empty), the victim cache
 * (a pooled object survives the first cycle, is dropped at the pool's
 * first use after the second, and freed by the cycle after that: checked
 * with GCA_IOC_QUERY_OBJECTS), destroy dropping everything, and several
 * threads sharing a pool without ever being handed the same object.
 * Automatic cycles are off where a test counts cycles.
 */
#include <pthread.h>
#include <stdatomic.h>

#include "gca_test.h"

#define HIDE	0x5a5a5a5a5a5a5a5aULL	/* addresses kept out of the scan */

struct obj {
	atomic_long owner;	/* thread holding it, 0 = pooled or free */
	uint64_t magic;
	char pad[48];
};
#define OBJ_MAGIC	0x6f626a6563742121ULL

static atomic_int news;

static void *new_obj(struct gca_arena *a, void *ctx)
{
	struct obj *o = gca_alloc(a, sizeof(*o));

	(void)ctx;
	if (o)
		o->magic = OBJ_MAGIC;
	atomic_fetch_add(&news, 1);
	return o;
}

/* Is the object at (hidden) address h still allocated? */
static int is_allocated(struct gca_arena *a, uint64_t h)
{
	uint64_t addr = h ^ HIDE, bits = 0;
	struct gca_query q;

	memset(&q, 0, sizeof(q));
	q.size = sizeof(q);
	q.addrs = (uintptr_t)&addr;
	q.live = (uintptr_t)&bits;
	q.n = 1;
	if (ioctl(gca_arena_fd(a), GCA_IOC_QUERY_OBJECTS, &q))
		return -errno;
	return bits & 1;
}

TEST(reuse_within_cycle)
{
	struct gca_arena *a;
	struct gca_pool *p;
	void *x, *y, *z, *got[3];
	int i;

	ASSERT_EQ(0, open_arena(&a, SZ_64M, -1));
	atomic_store(&news, 0);
	p = gca_pool_new(a, new_obj, NULL);
	ASSERT_NE(NULL, p);

	x = gca_pool_get(p);
	ASSERT_NE(NULL, x);
	EXPECT_EQ(1, atomic_load(&news));
	gca_pool_put(p, x);
	y = gca_pool_get(p);
	EXPECT_EQ(x, y);
	EXPECT_EQ(1, atomic_load(&news));

	/* three in: the private slot and the shared list; three out */
	z = gca_pool_get(p);
	EXPECT_EQ(2, atomic_load(&news));
	x = new_obj(a, NULL);
	gca_pool_put(p, x);
	gca_pool_put(p, y);
	gca_pool_put(p, z);
	for (i = 0; i < 3; i++)
		got[i] = gca_pool_get(p);
	EXPECT_EQ(3, atomic_load(&news));
	for (i = 0; i < 3; i++)
		EXPECT_TRUE(got[i] == x || got[i] == y || got[i] == z);
	EXPECT_NE(got[0], got[1]);
	EXPECT_NE(got[1], got[2]);
	EXPECT_NE(got[0], got[2]);
	/* empty again: new_fn */
	EXPECT_NE(NULL, gca_pool_get(p));
	EXPECT_EQ(4, atomic_load(&news));
	gca_pool_destroy(p);

	/* no new_fn: NULL when empty */
	p = gca_pool_new(a, NULL, NULL);
	ASSERT_NE(NULL, p);
	EXPECT_EQ(NULL, gca_pool_get(p));
	gca_pool_put(p, x);
	EXPECT_EQ(x, gca_pool_get(p));
	gca_pool_destroy(p);
	gca_close(a);
}

/* Put a fresh object; its address comes back hidden. */
__test_helper uint64_t put_fresh(struct gca_arena *a, struct gca_pool *p)
{
	void *o = new_obj(a, NULL);

	gca_pool_put(p, o);
	return (uint64_t)(uintptr_t)o ^ HIDE;
}

/* A pool operation that leaves the object under test alone. */
__test_helper void touch(struct gca_arena *a, struct gca_pool *p)
{
	(void)put_fresh(a, p);
}

TEST(victim_cache)
{
	struct gca_arena *a;
	struct gca_pool *p;
	uint64_t h;
	void *x;

	ASSERT_EQ(0, open_arena(&a, SZ_64M, -1));
	p = gca_pool_new(a, NULL, NULL);
	ASSERT_NE(NULL, p);

	/* survives one cycle: still there, in the victim generation */
	h = put_fresh(a, p);
	clear_stack();
	ASSERT_EQ(0, gca_collect(a));
	EXPECT_EQ(1, is_allocated(a, h));
	x = gca_pool_get(p);
	EXPECT_EQ(h ^ HIDE, (uint64_t)(uintptr_t)x);
	gca_pool_put(p, x);
	x = NULL;

	/* put again, then two cycles with pool use in between */
	gca_pool_destroy(p);
	p = gca_pool_new(a, NULL, NULL);
	ASSERT_NE(NULL, p);
	h = put_fresh(a, p);
	clear_stack();
	ASSERT_EQ(0, gca_collect(a));		/* 1: survives */
	EXPECT_EQ(1, is_allocated(a, h));
	touch(a, p);				/* primary -> victim */
	clear_stack();
	ASSERT_EQ(0, gca_collect(a));		/* 2: still referenced */
	EXPECT_EQ(1, is_allocated(a, h));
	touch(a, p);				/* victim dropped */
	clear_stack();
	ASSERT_EQ(0, gca_collect(a));		/* freed */
	EXPECT_EQ(0, is_allocated(a, h));

	/* without pool use in between: two cycles drop both generations */
	h = put_fresh(a, p);
	clear_stack();
	ASSERT_EQ(0, gca_collect(a));
	ASSERT_EQ(0, gca_collect(a));
	EXPECT_EQ(1, is_allocated(a, h));
	touch(a, p);
	clear_stack();
	ASSERT_EQ(0, gca_collect(a));
	EXPECT_EQ(0, is_allocated(a, h));

	/* destroy drops everything */
	h = put_fresh(a, p);
	gca_pool_destroy(p);
	clear_stack();
	ASSERT_EQ(0, gca_collect(a));
	EXPECT_EQ(0, is_allocated(a, h));
	gca_close(a);
}

#define NTHREADS	4
#define ITERS		20000

struct worker {
	struct gca_pool *p;
	long id;
	int errors;
	atomic_int *stop;
};

static void *worker_fn(void *arg)
{
	struct worker *w = arg;
	struct obj *o[4];
	long prev;
	int i, k;

	for (i = 0; i < ITERS; i++) {
		int n = 1 + i % 4;

		for (k = 0; k < n; k++) {
			o[k] = gca_pool_get(w->p);
			if (!o[k] || o[k]->magic != OBJ_MAGIC) {
				w->errors++;
				return NULL;
			}
			prev = atomic_exchange(&o[k]->owner, w->id);
			if (prev)		/* handed out twice */
				w->errors++;
		}
		for (k = 0; k < n; k++) {
			prev = atomic_exchange(&o[k]->owner, 0);
			if (prev != w->id)
				w->errors++;
			gca_pool_put(w->p, o[k]);
		}
		o[0] = o[1] = o[2] = o[3] = NULL;
	}
	return NULL;
}

TEST(threads)
{
	struct worker w[NTHREADS];
	pthread_t th[NTHREADS];
	struct gca_memstats ms;
	struct gca_arena *a;
	struct gca_pool *p;
	atomic_int stop = 0;
	int i, errors = 0;

	/* automatic cycles on, and forced ones too: generations turn over */
	ASSERT_EQ(0, open_arena(&a, SZ_64M, 100));
	atomic_store(&news, 0);
	p = gca_pool_new(a, new_obj, NULL);
	ASSERT_NE(NULL, p);
	for (i = 0; i < NTHREADS; i++) {
		w[i].p = p;
		w[i].id = i + 1;
		w[i].errors = 0;
		w[i].stop = &stop;
		ASSERT_EQ(0, pthread_create(&th[i], NULL, worker_fn, &w[i]));
	}
	for (i = 0; i < 20; i++) {
		ASSERT_EQ(0, gca_collect(a));
		sleep_ms(5);
	}
	for (i = 0; i < NTHREADS; i++) {
		ASSERT_EQ(0, pthread_join(th[i], NULL));
		errors += w[i].errors;
	}
	EXPECT_EQ(0, errors);
	ASSERT_EQ(0, gca_read_memstats(a, &ms));
	TH_LOG("%d objects made for %d gets, %u cycles",
	       atomic_load(&news), NTHREADS * ITERS * 5 / 2, ms.num_gc);
	/* reuse: far fewer objects made than handed out */
	EXPECT_LT(atomic_load(&news), NTHREADS * ITERS / 4);
	gca_pool_destroy(p);
	gca_close(a);
}

TEST_HARNESS_MAIN
