// SPDX-License-Identifier: GPL-2.0
/*
 * Hostile process, areas 2 and 3: ioctl arguments.
 *
 * Raw ioctls with the argument a library would never send: span arrays
 * of garbage (bases that name nothing, duplicates, huge or zero
 * freeindex, reserved bits, counts at and past the kernel's limit,
 * arrays that are NULL, unmapped, read-only, in the kernel, in the heap,
 * half mapped), every span class value 0..300, large sizes around the
 * heap size, stack pointers and stack ranges that lie, object queries
 * with bad buffers, poll() racing close; then a bounded fuzz loop of
 * random commands, sizes, flags and pointers against arenas in every
 * state.  Expected: the documented error (kmod/ioctl.c), never a splat,
 * a hang or a corrupted arena, and the process survives.
 *
 * Tests:
 *   raw.handshake_garbage_spans   raw.unregister_garbage_spans
 *   raw.nspans_limits_and_buffers
 *   raw.refill_every_spanclass    raw.refill_garbage_ret
 *   raw.alloc_large_sizes         raw.stack_pointers
 *   raw.register_ranges           raw.roots_ranges
 *   raw.query_objects             raw.results_into_readonly
 *   raw.wbuf_garbage (with concurrent marking's barrier buffer)
 *   raw.poll_and_close            fuzz.random_ioctls
 *   zz_final.still_working (last)
 */
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>

#include "gca_test_raw.h"

#define HEAP		(16 * SZ_1M)
#define KERNEL_TEXT	0xffffffff81000000ULL
#define KERNEL_DMAP	0xffff888000000000ULL
/* The kernel's cap on spans given back in one call (kmod/gcarena_private.h). */
#define MAX_RET_SPANS	4096

/*
 * REFILL and ALLOC_LARGE: EAGAIN means a cycle wants this thread's
 * handshake first (allocation may start a cycle at any time): answer it
 * and retry, as the library does.
 */
static int alloc_ioctl(int fd, unsigned long cmd, void *arg)
{
	unsigned int tries = 0;
	int ret;

	while ((ret = ioctl_err(fd, cmd, arg)) == EAGAIN && tries++ < 20000) {
		struct gca_handshake hs = { .size = sizeof(hs) };

		hs.sp = (uintptr_t)__builtin_frame_address(0);
		ioctl(fd, GCA_IOC_HANDSHAKE, &hs);
		if (tries > 10)
			sleep_ms(1);
	}
	return ret;
}

/* An address with nothing mapped at it (a page we map and unmap). */
static void *unmapped_page(void)
{
	void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	munmap(p, 4096);
	return p;
}

/* A fresh span of spanclass sc for the calling thread; 0 on failure. */
static uint64_t raw_refill(int fd, unsigned int sc, uint32_t *nelems)
{
	struct gca_refill rf = { .size = sizeof(rf), .spanclass = sc };

	if (alloc_ioctl(fd, GCA_IOC_REFILL, &rf))
		return 0;
	if (nelems)
		*nelems = rf.nelems;
	return rf.base;
}

/* Hand span base back by itself: 0, or EINVAL if it was not ours. */
static int give_back(int fd, uint64_t base, uint32_t freeindex)
{
	struct gca_span_ret sr = { .base = base, .freeindex = freeindex };

	return raw_hs(fd, GCA_IOC_HANDSHAKE, &sr, 1, NULL);
}

static void expect_consistent(struct __test_metadata *_metadata, int fd)
{
	struct gca_stats st;

	ASSERT_EQ(0, raw_stats(fd, &st));
	EXPECT_EQ(st.mallocs - st.frees, st.heap_objects);
	EXPECT_LE(st.heap_alloc, st.heap_inuse);
	EXPECT_LE(st.heap_inuse, st.heap_sys);
	EXPECT_LE(st.heap_alloc, st.heap_live);
}

FIXTURE(raw) {
	int fd;
	struct gca_create cr;
	const struct gca_ctrl *ctrl;
	uint8_t *heap;
	uintptr_t lo, hi;
};

FIXTURE_SETUP(raw)
{
	self->fd = open(GCA_DEV, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->fd) TH_LOG("%s: %s", GCA_DEV, strerror(errno));
	self->cr = (struct gca_create){ .size = sizeof(self->cr),
					.heap_size = HEAP };
	ASSERT_EQ(0, ioctl_err(self->fd, GCA_IOC_CREATE, &self->cr));
	self->ctrl = mmap(NULL, self->cr.ctrl_size, PROT_READ, MAP_SHARED,
			  self->fd, GCA_OFF_CTRL);
	ASSERT_NE(MAP_FAILED, self->ctrl);
	self->heap = mmap(NULL, HEAP, PROT_READ | PROT_WRITE, MAP_SHARED,
			  self->fd, GCA_OFF_HEAP);
	ASSERT_NE(MAP_FAILED, self->heap);
	self->lo = (uintptr_t)self->heap;
	self->hi = self->lo + HEAP;
	ASSERT_EQ(0, raw_register(self->fd));
}

FIXTURE_TEARDOWN(raw)
{
	if (self->heap != MAP_FAILED)
		munmap(self->heap, HEAP);
	if (self->ctrl != MAP_FAILED)
		munmap((void *)self->ctrl, self->cr.ctrl_size);
	if (self->fd >= 0)
		close(self->fd);
}

/* ------------------------------------------------------------------ */

TEST_F_TIMEOUT(raw, handshake_garbage_spans, 300)
{
	struct gca_span_ret sr[16];
	struct gca_stats s0, s1;
	uint64_t a, b, c, d, e, ng0, ng1;
	uint32_t na = 0, ne = 0;
	int fd = self->fd;

	a = raw_refill(fd, GCA_SPANCLASS(4, 0), &na);	/* 32 B */
	b = raw_refill(fd, GCA_SPANCLASS(5, 1), NULL);	/* 48 B */
	c = raw_refill(fd, GCA_SPANCLASS(10, 0), NULL);
	d = raw_refill(fd, GCA_SPANCLASS(20, 0), NULL);
	e = raw_refill(fd, GCA_SPANCLASS(2, 0), &ne);	/* 16 B */
	ASSERT_NE(0ULL, a);
	ASSERT_NE(0ULL, b);
	ASSERT_NE(0ULL, c);
	ASSERT_NE(0ULL, d);
	ASSERT_NE(0ULL, e);
	ASSERT_EQ(0, raw_stats(fd, &s0));

	/* Nothing in this array names a span of ours. */
	memset(sr, 0, sizeof(sr));
	sr[0].base = 0;
	sr[1].base = 1;
	sr[2].base = a + 8;			/* inside a span */
	sr[3].base = self->hi;			/* one past the heap */
	sr[4].base = self->lo - GCA_PAGE_SIZE;
	sr[5].base = KERNEL_TEXT;
	sr[6].base = ~0ULL;
	sr[7].base = c;				/* ours, reserved bit set */
	sr[7].resv = 1;
	sr[8].base = self->hi - GCA_PAGE_SIZE;	/* a page nobody has */
	sr[9].base = (uintptr_t)self->ctrl;
	EXPECT_EQ(EINVAL, raw_hs(fd, GCA_IOC_HANDSHAKE, sr, 10, NULL));
	ASSERT_EQ(0, raw_stats(fd, &s1));
	EXPECT_EQ(s0.mallocs, s1.mallocs);

	/* The spans are still ours: each comes back exactly once. */
	EXPECT_EQ(0, give_back(fd, c, 0));
	EXPECT_EQ(EINVAL, give_back(fd, c, 0));

	/* A huge freeindex is clamped: every handed-out slot counts. */
	EXPECT_EQ(0, give_back(fd, a, 0xffffffffU));
	ASSERT_EQ(0, raw_stats(fd, &s1));
	EXPECT_EQ(s0.mallocs + na, s1.mallocs);
	EXPECT_EQ(EINVAL, give_back(fd, a, 0xffffffffU));

	/* freeindex 0: nothing allocated. */
	EXPECT_EQ(0, give_back(fd, b, 0));
	ASSERT_EQ(0, raw_stats(fd, &s0));
	EXPECT_EQ(s1.mallocs, s0.mallocs);

	/* Garbage around a good entry: the good one is taken. */
	memset(sr, 0, sizeof(sr));
	sr[0].base = KERNEL_DMAP;
	sr[1].base = d;
	sr[1].freeindex = 2;
	sr[2].base = d;				/* twice: counted once */
	sr[2].freeindex = 2;
	sr[3].base = 4096;
	EXPECT_EQ(EINVAL, raw_hs(fd, GCA_IOC_HANDSHAKE, sr, 4, NULL));
	ASSERT_EQ(0, raw_stats(fd, &s1));
	EXPECT_EQ(s0.mallocs + 2, s1.mallocs);
	EXPECT_EQ(EINVAL, give_back(fd, d, 2));

	/* COLLECT with garbage: the cycle still runs, the error says some
	 * entries were refused. */
	memset(sr, 0, sizeof(sr));
	sr[0].base = e;
	sr[0].freeindex = 7;
	sr[1].base = e;
	sr[1].freeindex = ne;
	sr[2].base = 0xdead0000ULL;
	ng0 = self->ctrl->num_gc;
	EXPECT_EQ(EINVAL, raw_hs(fd, GCA_IOC_COLLECT, sr, 3, NULL));
	/* (an error: num_gc is not written back; the control page has it) */
	ng1 = self->ctrl->num_gc;
	EXPECT_LT(ng0, ng1);
	expect_consistent(_metadata, fd);
}

TEST_F_TIMEOUT(raw, unregister_garbage_spans, 300)
{
	struct gca_thread_unreg tu = { .size = sizeof(tu) };
	struct gca_span_ret sr[4];
	struct gca_stats s0, s1;
	uint64_t a;
	uint32_t na = 0;
	int fd = self->fd;

	a = raw_refill(fd, GCA_SPANCLASS(3, 0), &na);
	ASSERT_NE(0ULL, a);
	ASSERT_EQ(0, raw_stats(fd, &s0));
	memset(sr, 0, sizeof(sr));
	sr[0].base = ~0ULL;
	sr[1].base = a + GCA_PAGE_SIZE;
	sr[2].base = KERNEL_TEXT;
	sr[3].resv = 0xffffffffU;
	tu.spans = (uintptr_t)sr;
	tu.nspans = 4;
	/*
	 * The thread is forgotten even so, and the spans of its cache go
	 * back as if fully used (kmod/threads.c: gca_uncache_all).
	 */
	EXPECT_EQ(EINVAL, ioctl_err(fd, GCA_IOC_UNREGISTER_THREAD, &tu));
	EXPECT_EQ(ESRCH, ioctl_err(fd, GCA_IOC_UNREGISTER_THREAD, &tu));
	EXPECT_EQ(0ULL, raw_refill(fd, GCA_SPANCLASS(3, 0), NULL));
	ASSERT_EQ(0, raw_stats(fd, &s1));
	EXPECT_EQ(s0.mallocs + na, s1.mallocs);

	/* An unmapped array: EFAULT, and still forgotten. */
	ASSERT_EQ(0, raw_register(fd));
	a = raw_refill(fd, GCA_SPANCLASS(3, 0), NULL);
	ASSERT_NE(0ULL, a);
	tu.spans = (uintptr_t)unmapped_page();
	tu.nspans = 1;
	EXPECT_EQ(EFAULT, ioctl_err(fd, GCA_IOC_UNREGISTER_THREAD, &tu));
	EXPECT_EQ(ESRCH, ioctl_err(fd, GCA_IOC_UNREGISTER_THREAD, &tu));
	tu.nspans = MAX_RET_SPANS + 1;
	EXPECT_NE(0, ioctl_err(fd, GCA_IOC_UNREGISTER_THREAD, &tu));
	ASSERT_EQ(0, raw_register(fd));
	tu.nspans = 0xffffffffU;
	EXPECT_EQ(EINVAL, ioctl_err(fd, GCA_IOC_UNREGISTER_THREAD, &tu));
	/* refused before anything: still registered */
	EXPECT_NE(0ULL, raw_refill(fd, GCA_SPANCLASS(3, 0), NULL));
	expect_consistent(_metadata, fd);
}

TEST_F_TIMEOUT(raw, nspans_limits_and_buffers, 300)
{
	struct gca_span_ret *big, *ro, *edge;
	struct gca_stats s0, s1;
	uint64_t a;
	uint8_t *two;
	int fd = self->fd;
	unsigned int n;

	big = calloc(MAX_RET_SPANS + 2, sizeof(*big));
	ASSERT_NE(NULL, big);

	/* Past the limit: refused before anything is read or taken. */
	for (n = 0; n < 3; n++) {
		static const uint32_t counts[] = { MAX_RET_SPANS + 1,
						   MAX_RET_SPANS * 2,
						   0xffffffffU };

		a = raw_refill(fd, GCA_SPANCLASS(6, 0), NULL);
		ASSERT_NE(0ULL, a);
		big[0].base = a;
		EXPECT_EQ(EINVAL, raw_hs(fd, GCA_IOC_HANDSHAKE, big,
					 counts[n], NULL));
		EXPECT_EQ(EINVAL, raw_hs(fd, GCA_IOC_COLLECT, big,
					 counts[n], NULL));
		/* still ours */
		EXPECT_EQ(0, give_back(fd, a, 0));
	}

	/* At the limit and one below: read in full; the good entry is
	 * taken, the 4095 (4094) zero entries are refused. */
	for (n = MAX_RET_SPANS - 1; n <= MAX_RET_SPANS; n++) {
		a = raw_refill(fd, GCA_SPANCLASS(6, 0), NULL);
		ASSERT_NE(0ULL, a);
		memset(big, 0, (MAX_RET_SPANS + 2) * sizeof(*big));
		big[n - 1].base = a;		/* the last one read */
		EXPECT_EQ(EINVAL, raw_hs(fd, GCA_IOC_HANDSHAKE, big, n, NULL));
		EXPECT_EQ(EINVAL, give_back(fd, a, 0));
	}

	/* Bad arrays. */
	a = raw_refill(fd, GCA_SPANCLASS(6, 0), NULL);
	ASSERT_NE(0ULL, a);
	EXPECT_EQ(EFAULT, raw_hs(fd, GCA_IOC_HANDSHAKE, NULL, 1, NULL));
	EXPECT_EQ(EFAULT, raw_hs(fd, GCA_IOC_HANDSHAKE, unmapped_page(), 1,
				 NULL));
	EXPECT_EQ(EFAULT, raw_hs(fd, GCA_IOC_HANDSHAKE,
				 (void *)(uintptr_t)KERNEL_TEXT, 1, NULL));
	EXPECT_EQ(EFAULT, raw_hs(fd, GCA_IOC_HANDSHAKE,
				 (void *)(uintptr_t)KERNEL_DMAP, 64, NULL));
	EXPECT_EQ(EFAULT, raw_hs(fd, GCA_IOC_COLLECT,
				 (void *)(uintptr_t)0x8000000000000000ULL, 1,
				 NULL));
	/* In the heap, on a page without memory: a fault, not a signal. */
	EXPECT_EQ(EFAULT, raw_hs(fd, GCA_IOC_HANDSHAKE,
				 (void *)(self->hi - GCA_PAGE_SIZE), 1, NULL));
	/* The control page: readable; its first two entries name no span
	 * (the third is heap_base, where no span starts: page 0 is
	 * reserved). */
	EXPECT_EQ(EINVAL, raw_hs(fd, GCA_IOC_HANDSHAKE,
				 (void *)self->ctrl, 2, NULL));
	EXPECT_EQ(0, give_back(fd, a, 0));	/* none of that took it */

	/* A read-only array is fine: the kernel only reads it. */
	a = raw_refill(fd, GCA_SPANCLASS(6, 0), NULL);
	ro = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, ro);
	ro[0].base = a;
	ASSERT_EQ(0, mprotect(ro, 4096, PROT_READ));
	EXPECT_EQ(0, raw_hs(fd, GCA_IOC_HANDSHAKE, ro, 1, NULL));
	EXPECT_EQ(EINVAL, give_back(fd, a, 0));
	/* PROT_NONE: a fault. */
	ASSERT_EQ(0, mprotect(ro, 4096, PROT_NONE));
	EXPECT_EQ(EFAULT, raw_hs(fd, GCA_IOC_HANDSHAKE, ro, 1, NULL));
	munmap(ro, 4096);

	/*
	 * Running off a mapping after 70 entries: the first batch (64) is
	 * read and acted on, then EFAULT.
	 */
	two = mmap(NULL, 8192, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, two);
	munmap(two + 4096, 4096);
	edge = (struct gca_span_ret *)(two + 4096) - 70;
	memset(edge, 0, 70 * sizeof(*edge));
	a = raw_refill(fd, GCA_SPANCLASS(6, 0), NULL);
	edge[0].base = a;
	ASSERT_EQ(0, raw_stats(fd, &s0));
	EXPECT_EQ(EFAULT, raw_hs(fd, GCA_IOC_HANDSHAKE, edge, 100, NULL));
	EXPECT_EQ(EINVAL, give_back(fd, a, 0));
	munmap(two, 4096);
	ASSERT_EQ(0, raw_stats(fd, &s1));
	EXPECT_EQ(s0.mallocs, s1.mallocs);
	free(big);
	expect_consistent(_metadata, fd);
}

TEST_F_TIMEOUT(raw, refill_every_spanclass, 300)
{
	struct gca_refill rf;
	struct gca_info info;
	unsigned int sc, ok = 0, w, bits;
	int fd = self->fd, ret;

	ASSERT_EQ(0, raw_get_info(&info));
	for (sc = 0; sc <= 300; sc++) {
		memset(&rf, 0, sizeof(rf));
		rf.size = sizeof(rf);
		rf.spanclass = sc;
		ret = alloc_ioctl(fd, GCA_IOC_REFILL, &rf);
		if (sc < 2 || sc >= GCA_NUM_SPAN_CLASSES) {
			EXPECT_EQ(EINVAL, ret) TH_LOG("spanclass %u", sc);
			continue;
		}
		ASSERT_EQ(0, ret) TH_LOG("spanclass %u", sc);
		ok++;
		EXPECT_LE(self->lo, rf.base);
		EXPECT_GE(self->hi - GCA_PAGE_SIZE, rf.base);
		EXPECT_EQ(0ULL, (rf.base - self->lo) % GCA_PAGE_SIZE);
		EXPECT_EQ(info.class_to_size[sc >> 1], rf.elemsize);
		EXPECT_GE((__u32)GCA_MAX_SPAN_OBJECTS, rf.nelems);
		EXPECT_EQ(info.class_to_npages[sc >> 1] * GCA_PAGE_SIZE /
			  rf.elemsize, rf.nelems);
		for (w = 0, bits = 0; w < GCA_FREE_WORDS; w++)
			bits += __builtin_popcountll(rf.free_bits[w]);
		EXPECT_EQ(rf.nelems, bits) TH_LOG("spanclass %u", sc);
		/* Every span is usable: write its first and last byte. */
		self->heap[rf.base - self->lo] = 1;
		self->heap[rf.base - self->lo +
			   (uint64_t)rf.nelems * rf.elemsize - 1] = 1;
	}
	EXPECT_EQ((unsigned int)GCA_NUM_SPAN_CLASSES - 2, ok);
	/* Spanclass values that wrap: the size class is sc >> 1. */
	memset(&rf, 0, sizeof(rf));
	rf.size = sizeof(rf);
	for (sc = 0; sc < 32; sc++) {
		rf.spanclass = 0xffffffffU - sc;
		EXPECT_EQ(EINVAL, alloc_ioctl(fd, GCA_IOC_REFILL, &rf));
		rf.spanclass = 1U << (sc < 8 ? 8 + sc : sc);
		EXPECT_EQ(EINVAL, alloc_ioctl(fd, GCA_IOC_REFILL, &rf));
	}
	/* Everything back with a cycle. */
	EXPECT_EQ(0, raw_hs(fd, GCA_IOC_COLLECT, NULL, 0, NULL));
	expect_consistent(_metadata, fd);
}

struct other_thread {
	int fd;
	uint64_t base;
	int ret;
	volatile int go_on;
};

static void *other_main(void *arg)
{
	struct other_thread *o = arg;

	o->ret = raw_register(o->fd);
	if (!o->ret)
		o->base = raw_refill(o->fd, GCA_SPANCLASS(4, 0), NULL);
	__atomic_store_n(&o->go_on, 1, __ATOMIC_RELEASE);
	while (__atomic_load_n(&o->go_on, __ATOMIC_ACQUIRE) != 2)
		sleep_ms(1);
	/* Our span is still ours. */
	o->ret = give_back(o->fd, o->base, 1);
	return NULL;
}

TEST_F_TIMEOUT(raw, refill_garbage_ret, 300)
{
	static const uint64_t bad[] = { 1, 8, 4096, 0x7fffffffffffULL,
					KERNEL_TEXT, KERNEL_DMAP, ~0ULL,
					0x8000000000000000ULL };
	struct gca_refill rf;
	struct other_thread o = { .fd = self->fd };
	struct gca_stats s0, s1;
	pthread_t th;
	uint64_t a;
	uint32_t na = 0;
	unsigned int i;
	int fd = self->fd;

	a = raw_refill(fd, GCA_SPANCLASS(8, 0), &na);
	ASSERT_NE(0ULL, a);
	memset(&rf, 0, sizeof(rf));
	rf.size = sizeof(rf);
	rf.spanclass = GCA_SPANCLASS(8, 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		rf.ret_base = bad[i];
		EXPECT_EQ(EINVAL, alloc_ioctl(fd, GCA_IOC_REFILL, &rf));
	}
	rf.ret_base = a + 8;
	EXPECT_EQ(EINVAL, alloc_ioctl(fd, GCA_IOC_REFILL, &rf));
	rf.ret_base = self->lo - GCA_PAGE_SIZE;
	EXPECT_EQ(EINVAL, alloc_ioctl(fd, GCA_IOC_REFILL, &rf));
	rf.ret_base = self->hi;
	EXPECT_EQ(EINVAL, alloc_ioctl(fd, GCA_IOC_REFILL, &rf));

	/* A bad spanclass with a good ret_base: nothing is given back. */
	rf.ret_base = a;
	rf.spanclass = 0;
	EXPECT_EQ(EINVAL, alloc_ioctl(fd, GCA_IOC_REFILL, &rf));
	rf.spanclass = 999;
	EXPECT_EQ(EINVAL, alloc_ioctl(fd, GCA_IOC_REFILL, &rf));

	/* Another thread's span is not ours to give back. */
	ASSERT_EQ(0, pthread_create(&th, NULL, other_main, &o));
	while (!__atomic_load_n(&o.go_on, __ATOMIC_ACQUIRE))
		sleep_ms(1);
	ASSERT_EQ(0, o.ret);
	ASSERT_NE(0ULL, o.base);
	rf.spanclass = GCA_SPANCLASS(4, 0);
	rf.ret_base = o.base;
	EXPECT_EQ(EINVAL, alloc_ioctl(fd, GCA_IOC_REFILL, &rf));
	EXPECT_EQ(EINVAL, give_back(fd, o.base, 1));
	__atomic_store_n(&o.go_on, 2, __ATOMIC_RELEASE);
	ASSERT_EQ(0, pthread_join(th, NULL));
	EXPECT_EQ(0, o.ret);

	/* A span of another class back through REFILL, freeindex huge. */
	ASSERT_EQ(0, raw_stats(fd, &s0));
	memset(&rf, 0, sizeof(rf));
	rf.size = sizeof(rf);
	rf.spanclass = GCA_SPANCLASS(30, 1);
	rf.ret_base = a;
	rf.ret_freeindex = 0xfffffff0U;
	EXPECT_EQ(0, alloc_ioctl(fd, GCA_IOC_REFILL, &rf));
	ASSERT_EQ(0, raw_stats(fd, &s1));
	EXPECT_EQ(s0.mallocs + na, s1.mallocs);
	/* Returned once: a second time is refused. */
	rf.ret_base = a;
	EXPECT_EQ(EINVAL, alloc_ioctl(fd, GCA_IOC_REFILL, &rf));
	expect_consistent(_metadata, fd);
}


/* ALLOC_LARGE of bytes; the object's address is written nowhere. */
__test_helper int large(int fd, uint64_t bytes, uint32_t flags, bool touch)
{
	struct gca_alloc_large al = { .size = sizeof(al), .flags = flags,
				      .bytes = bytes };
	int ret = alloc_ioctl(fd, GCA_IOC_ALLOC_LARGE, &al);

	if (!ret && touch) {
		((volatile uint8_t *)(uintptr_t)al.addr)[0] = 1;
		((volatile uint8_t *)(uintptr_t)al.addr)[bytes - 1] = 1;
	}
	al.addr = 0;
	__asm__ __volatile__("" : : "r"(&al) : "memory");
	return ret;
}

/*
 * A cycle that scans no stack: the fixture holds the heap's base address
 * on the stack, which keeps whatever starts there alive.
 */
__test_helper int collect_clean(int fd)
{
	int ret;

	ret = raw_unregister(fd);
	if (!ret)
		ret = raw_hs(fd, GCA_IOC_COLLECT, NULL, 0, NULL);
	if (!ret)
		ret = raw_register(fd);
	return ret;
}

TEST_F_TIMEOUT(raw, alloc_large_sizes, 300)
{
	struct gca_stats st;
	int fd = self->fd;

	EXPECT_EQ(EINVAL, large(fd, 0, 0, false));
	EXPECT_EQ(EINVAL, large(fd, HEAP + 1, 0, false));
	EXPECT_EQ(EINVAL, large(fd, HEAP + GCA_PAGE_SIZE, 0, false));
	EXPECT_EQ(EINVAL, large(fd, ~0ULL, 0, false));
	EXPECT_EQ(EINVAL, large(fd, ~0ULL - GCA_PAGE_SIZE + 2, 0, false));
	EXPECT_EQ(EINVAL, large(fd, 1ULL << 63, GCA_ALLOC_NOSCAN, false));
	EXPECT_EQ(EINVAL, large(fd, 1ULL << 40, 0, false));
	EXPECT_EQ(EINVAL, large(fd, 65536, 2, false));
	EXPECT_EQ(EINVAL, large(fd, 65536, 0x80000000U, false));

	/*
	 * The whole heap but its first page (reserved: no object has the
	 * heap's base address), in an empty arena: then nothing more fits.
	 */
	ASSERT_EQ(0, raw_stats(fd, &st));
	ASSERT_EQ(0ULL, st.heap_inuse);
	EXPECT_EQ(ENOMEM, large(fd, HEAP, 0, false));
	EXPECT_EQ(0, large(fd, HEAP - GCA_PAGE_SIZE, 0, true));
	EXPECT_EQ(ENOMEM, large(fd, 1, 0, false));
	EXPECT_EQ(ENOMEM, large(fd, HEAP - GCA_PAGE_SIZE, 0, false));
	/* Unreachable: a cycle frees it and all of it is usable again. */
	ASSERT_EQ(0, collect_clean(fd));
	ASSERT_EQ(0, raw_stats(fd, &st));
	EXPECT_EQ(0ULL, st.heap_objects);
	EXPECT_EQ(0, large(fd, HEAP - GCA_PAGE_SIZE - 1, GCA_ALLOC_NOSCAN,
			   true));
	ASSERT_EQ(0, collect_clean(fd));
	/* Small sizes are rounded to whole pages. */
	EXPECT_EQ(0, large(fd, 1, 0, true));
	EXPECT_EQ(0, large(fd, GCA_MAX_SMALL_SIZE, 0, true));
	EXPECT_EQ(0, large(fd, GCA_MAX_SMALL_SIZE + 1, GCA_ALLOC_NOSCAN, true));
	ASSERT_EQ(0, raw_stats(fd, &st));
	EXPECT_EQ(3ULL, st.heap_objects);
	EXPECT_EQ((1 + 4 + 5) * GCA_PAGE_SIZE, st.heap_alloc);
	expect_consistent(_metadata, fd);
}

TEST_F_TIMEOUT(raw, stack_pointers, 300)
{
	__u64 lo, hi;
	uint64_t sps[12];
	struct gca_handshake hs;
	unsigned int i;
	uint64_t ng;
	int fd = self->fd;

	thread_stack(&lo, &hi);
	sps[0] = 0;
	sps[1] = ~0ULL;
	sps[2] = KERNEL_TEXT;
	sps[3] = KERNEL_DMAP;
	sps[4] = self->lo;
	sps[5] = self->hi - 8;
	sps[6] = lo - 8;
	sps[7] = lo;
	sps[8] = hi;			/* scans nothing */
	sps[9] = hi + 8;
	sps[10] = (uintptr_t)&hs + 3;	/* misaligned */
	sps[11] = 0x8000000000000000ULL;
	for (i = 0; i < 12; i++) {
		memset(&hs, 0, sizeof(hs));
		hs.size = sizeof(hs);
		hs.sp = sps[i];
		hs.seq = i * 0x1111111111111111ULL;
		ng = self->ctrl->num_gc;
		EXPECT_EQ(0, ioctl_err(fd, GCA_IOC_COLLECT, &hs))
			TH_LOG("sp %#llx", (unsigned long long)sps[i]);
		EXPECT_LT(ng, hs.num_gc);
		/* no cycle pending: a handshake returns at once */
		EXPECT_EQ(0, ioctl_err(fd, GCA_IOC_HANDSHAKE, &hs));
	}
	memset(&hs, 0, sizeof(hs));
	hs.size = sizeof(hs);
	hs.resv0 = 1;
	EXPECT_EQ(EINVAL, ioctl_err(fd, GCA_IOC_COLLECT, &hs));
	hs.resv0 = 0;
	hs.flags = 0x80000000U;
	EXPECT_EQ(EINVAL, ioctl_err(fd, GCA_IOC_HANDSHAKE, &hs));
	EXPECT_EQ(EINVAL, ioctl_err(fd, GCA_IOC_COLLECT, &hs));
	expect_consistent(_metadata, fd);
}

#ifdef GCA_FEAT_HS_REGS
/*
 * The register area a handshake names (regs_lo, regs_hi) is untrusted:
 * only its order is checked, and checkmark's re-mark, which leaves it out
 * of the stack scan, clamps it to the stack.  A registered thread collects
 * with checkmark on and every kind of range.
 */
TEST_F_TIMEOUT(raw, handshake_regs_ranges, 300)
{
	struct gca_params_arg pa = { .size = sizeof(pa),
				     .flags = GCA_SET_DEBUG,
				     .debug = GCA_DEBUG_CHECKMARK };
	struct gca_info info = { .size = sizeof(info) };
	struct gca_stats st = { .size = sizeof(st) };
	struct gca_handshake hs;
	uint64_t ranges[][2] = {
		{ 0, 0 }, { 0, ~0ULL }, { 0, 8 }, { ~0ULL, ~0ULL },
		{ KERNEL_DMAP, KERNEL_TEXT }, { 0, 0 }, { 0, 0 }, { 0, 0 },
		{ 0, 0 }, { 0, 0 },
	};
	unsigned int i, n = sizeof(ranges) / sizeof(ranges[0]);
	__u64 lo, hi;
	int fd = self->fd;

	ASSERT_EQ(0, ioctl_err(fd, GCA_IOC_GET_INFO, &info));
	ASSERT_NE(0ULL, info.features & GCA_FEAT_HS_REGS);
	thread_stack(&lo, &hi);
	ranges[5][0] = lo;		/* the whole stack */
	ranges[5][1] = hi;
	ranges[6][0] = (uintptr_t)&hs;	/* from here up */
	ranges[6][1] = hi;
	ranges[7][0] = lo - 4096;	/* across its ends */
	ranges[7][1] = hi + 4096;
	ranges[8][0] = (uintptr_t)&hs + 3;	/* misaligned */
	ranges[8][1] = (uintptr_t)&hs + 13;
	ranges[9][0] = hi;		/* empty, at the top */
	ranges[9][1] = hi;
	/* the fixture registered this thread */
	ASSERT_EQ(0, ioctl_err(fd, GCA_IOC_SET_PARAMS, &pa));
	for (i = 0; i < n; i++) {
		memset(&hs, 0, sizeof(hs));
		hs.size = sizeof(hs);
		hs.sp = (uintptr_t)__builtin_frame_address(0);
		hs.regs_lo = ranges[i][0];
		hs.regs_hi = ranges[i][1];
		EXPECT_EQ(0, ioctl_err(fd, GCA_IOC_COLLECT, &hs))
			TH_LOG("regs [%#llx, %#llx)",
			       (unsigned long long)ranges[i][0],
			       (unsigned long long)ranges[i][1]);
		EXPECT_EQ(0, ioctl_err(fd, GCA_IOC_HANDSHAKE, &hs));
	}
	/* reversed: refused, by either call */
	memset(&hs, 0, sizeof(hs));
	hs.size = sizeof(hs);
	hs.sp = (uintptr_t)__builtin_frame_address(0);
	hs.regs_lo = hi;
	hs.regs_hi = lo;
	EXPECT_EQ(EINVAL, ioctl_err(fd, GCA_IOC_HANDSHAKE, &hs));
	EXPECT_EQ(EINVAL, ioctl_err(fd, GCA_IOC_COLLECT, &hs));
	hs.regs_lo = 1;
	hs.regs_hi = 0;
	EXPECT_EQ(EINVAL, ioctl_err(fd, GCA_IOC_HANDSHAKE, &hs));
	/* every cycle was checkmarked, and nothing was live to miss */
	ASSERT_EQ(0, raw_stats(fd, &st));
	EXPECT_LE((uint64_t)n, st.checkmark_cycles);
	EXPECT_EQ(0ULL, st.checkmark_failures);
	expect_consistent(_metadata, fd);
}
#endif

/* Register with [lo, hi); errno or 0. */
static int reg_range(int fd, uint64_t lo, uint64_t hi)
{
	struct gca_thread_reg tr = { .size = sizeof(tr), .stack_lo = lo,
				     .stack_hi = hi };

	return ioctl_err(fd, GCA_IOC_REGISTER_THREAD, &tr);
}

/* Register with a lying stack, collect, unregister: all must work. */
static int lie_and_collect(int fd, uint64_t lo, uint64_t hi, uint64_t *ns)
{
	uint64_t t0;
	int ret;

	ret = reg_range(fd, lo, hi);
	if (ret)
		return ret;
	t0 = now_ns();
	ret = raw_hs(fd, GCA_IOC_COLLECT, NULL, 0, NULL);
	if (ns)
		*ns = now_ns() - t0;
	if (!ret)
		ret = raw_hs(fd, GCA_IOC_HANDSHAKE, NULL, 0, NULL);
	if (raw_unregister(fd) && !ret)
		ret = -1;
	return ret;
}

TEST_F_TIMEOUT(raw, register_ranges, 300)
{
	/* past TASK_SIZE with 4-level and with 5-level (TCG's -cpu max has
	 * LA57) page tables */
	uint64_t ns, top = (1ULL << 56) - 4096;
	uint8_t *res;
	int fd = self->fd;

	ASSERT_EQ(0, raw_unregister(fd));
	EXPECT_EQ(EINVAL, reg_range(fd, 8192, 4096));
	EXPECT_EQ(EINVAL, reg_range(fd, 4096, 4096));
	EXPECT_EQ(EINVAL, reg_range(fd, 0, (1ULL << 30) + 1));
	EXPECT_EQ(EINVAL, reg_range(fd, 1ULL << 32, (1ULL << 32) + (1ULL << 31)));
	EXPECT_EQ(EINVAL, reg_range(fd, KERNEL_DMAP, KERNEL_DMAP + 65536));
	EXPECT_EQ(EINVAL, reg_range(fd, KERNEL_TEXT, KERNEL_TEXT + 4096));
	EXPECT_EQ(EINVAL, reg_range(fd, 0xffffffffff600000ULL,
				    0xffffffffff601000ULL));
	EXPECT_EQ(EINVAL, reg_range(fd, top, top + 2 * 4096));	/* TASK_SIZE */
	EXPECT_EQ(EINVAL, reg_range(fd, ~0ULL - 4096, ~0ULL));
	EXPECT_EQ(EINVAL, reg_range(fd, 0x8000000000000000ULL,
				    0x8000000000010000ULL));
	/* Nothing above registered us. */
	EXPECT_EQ(ESRCH, raw_unregister(fd));

	/* Lies the kernel cannot tell from the truth: they must work. */
	EXPECT_EQ(0, lie_and_collect(fd, 0, 4096, NULL));	/* page 0 */
	EXPECT_EQ(0, lie_and_collect(fd, self->lo, self->hi, &ns));
	TH_LOG("the heap as a stack (16 MiB): cycle in %llu ms",
	       (unsigned long long)ns / 1000000);
	EXPECT_EQ(0, lie_and_collect(fd, (uintptr_t)self->ctrl,
				     (uintptr_t)self->ctrl + 4096, NULL));
	EXPECT_EQ(0, lie_and_collect(fd, self->lo - 65536, self->lo + 65536,
				     NULL));
	/*
	 * 1 GiB, the most allowed, is accepted; a cycle with a 128 MiB
	 * lie (PROT_NONE, then a hole) shows the cost (TCG: ~14 s per GiB,
	 * a page fault per 4 KiB).
	 */
	res = mmap(NULL, 1ULL << 30, PROT_NONE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ASSERT_NE(MAP_FAILED, res);
	EXPECT_EQ(0, reg_range(fd, (uintptr_t)res,
			       (uintptr_t)res + (1ULL << 30)));
	EXPECT_EQ(0, raw_unregister(fd));
	EXPECT_EQ(0, lie_and_collect(fd, (uintptr_t)res,
				     (uintptr_t)res + (128ULL << 20), &ns));
	TH_LOG("128 MiB of PROT_NONE as a stack: cycle in %llu ms",
	       (unsigned long long)ns / 1000000);
	munmap(res, 1ULL << 30);
	EXPECT_EQ(0, lie_and_collect(fd, (uintptr_t)res,
				     (uintptr_t)res + (128ULL << 20), &ns));
	TH_LOG("128 MiB of holes as a stack: cycle in %llu ms",
	       (unsigned long long)ns / 1000000);
	ASSERT_EQ(0, raw_register(fd));
	expect_consistent(_metadata, fd);
}

TEST_F_TIMEOUT(raw, roots_ranges, 300)
{
	struct gca_roots ro = { .size = sizeof(ro) };
	static uint64_t area[512];
	int fd = self->fd;

	ro.start = (uintptr_t)area;
	ro.len = (1ULL << 32) + 1;
	EXPECT_EQ(EINVAL, ioctl_err(fd, GCA_IOC_ADD_ROOTS, &ro));
	ro.len = 0;
	EXPECT_EQ(EINVAL, ioctl_err(fd, GCA_IOC_ADD_ROOTS, &ro));
	ro.start = ~0ULL - 7;
	ro.len = 16;
	EXPECT_EQ(EINVAL, ioctl_err(fd, GCA_IOC_ADD_ROOTS, &ro));
	ro.start = KERNEL_TEXT;
	ro.len = 4096;
	EXPECT_EQ(EFAULT, ioctl_err(fd, GCA_IOC_ADD_ROOTS, &ro));
	ro.start = (1ULL << 56) - 4096;
	ro.len = 8192;
	EXPECT_EQ(EFAULT, ioctl_err(fd, GCA_IOC_ADD_ROOTS, &ro));

	/* Accepted lies: misaligned, the heap, the control page, a hole;
	 * cycles run with all of them. */
	ro.start = (uintptr_t)area + 3;
	ro.len = sizeof(area) - 3;
	EXPECT_EQ(0, ioctl_err(fd, GCA_IOC_ADD_ROOTS, &ro));
	ro.start = (uintptr_t)area + 5;
	ro.len = 1;				/* less than a word */
	EXPECT_EQ(0, ioctl_err(fd, GCA_IOC_ADD_ROOTS, &ro));
	ro.start = self->lo;
	ro.len = HEAP;
	EXPECT_EQ(0, ioctl_err(fd, GCA_IOC_ADD_ROOTS, &ro));
	ro.start = (uintptr_t)self->ctrl;
	ro.len = 4096;
	EXPECT_EQ(0, ioctl_err(fd, GCA_IOC_ADD_ROOTS, &ro));
	ro.start = (uintptr_t)unmapped_page();
	ro.len = 4096;
	EXPECT_EQ(0, ioctl_err(fd, GCA_IOC_ADD_ROOTS, &ro));
	ro.start = 0;
	ro.len = 65536;
	EXPECT_EQ(0, ioctl_err(fd, GCA_IOC_ADD_ROOTS, &ro));
	/* The root ranges are full of heap pointers, some pointing into
	 * the roots themselves. */
	area[0] = self->lo;
	area[1] = self->hi - 1;
	area[2] = (uintptr_t)&area[2];
	EXPECT_EQ(0, large(fd, 100000, 0, true));
	EXPECT_EQ(0, raw_hs(fd, GCA_IOC_COLLECT, NULL, 0, NULL));
	EXPECT_EQ(0, raw_hs(fd, GCA_IOC_COLLECT, NULL, 0, NULL));
	/* An unregistered thread may collect: it reads the roots. */
	ASSERT_EQ(0, raw_unregister(fd));
	EXPECT_EQ(0, raw_hs(fd, GCA_IOC_COLLECT, NULL, 0, NULL));
	ASSERT_EQ(0, raw_register(fd));

	ro.start = 0;
	EXPECT_EQ(0, ioctl_err(fd, GCA_IOC_REMOVE_ROOTS, &ro));
	EXPECT_EQ(ENOENT, ioctl_err(fd, GCA_IOC_REMOVE_ROOTS, &ro));
	ro.start = KERNEL_TEXT;
	EXPECT_EQ(ENOENT, ioctl_err(fd, GCA_IOC_REMOVE_ROOTS, &ro));
	ro.start = (uintptr_t)area + 3;
	ro.flags = 1;
	EXPECT_EQ(EINVAL, ioctl_err(fd, GCA_IOC_REMOVE_ROOTS, &ro));
	ro.flags = 0;
	EXPECT_EQ(0, ioctl_err(fd, GCA_IOC_REMOVE_ROOTS, &ro));
	expect_consistent(_metadata, fd);
}

#ifdef GCA_IOC_QUERY_OBJECTS
static int query(int fd, const uint64_t *addrs, uint64_t *live, uint32_t n)
{
	struct gca_query q = { .size = sizeof(q), .n = n };

	q.addrs = (uintptr_t)addrs;
	q.live = (uintptr_t)live;
	return ioctl_err(fd, GCA_IOC_QUERY_OBJECTS, &q);
}

TEST_F_TIMEOUT(raw, query_objects, 300)
{
	uint64_t addrs[16], live[1], *big, *bigl, a, b;
	struct gca_query q;
	uint32_t nb;
	void *ro;
	int fd = self->fd, fd2;

	/* class 4 (32 B, no tail): 3 allocated, the rest free */
	a = raw_refill(fd, GCA_SPANCLASS(4, 0), NULL);
	ASSERT_NE(0ULL, a);
	ASSERT_EQ(0, give_back(fd, a, 3));
	/* class 5 (48 B): 170 slots and 32 bytes of tail; cached */
	b = raw_refill(fd, GCA_SPANCLASS(5, 0), &nb);
	ASSERT_NE(0ULL, b);
	addrs[0] = a;			/* allocated */
	addrs[1] = a + 2 * 32 + 31;	/* last byte of slot 2 */
	addrs[2] = a + 3 * 32;		/* free */
	addrs[3] = a + GCA_PAGE_SIZE - 1;	/* free */
	addrs[4] = b + 5 * 48 + 7;	/* cached slot: counts as live */
	addrs[5] = b + nb * 48;		/* tail waste */
	addrs[6] = b + GCA_PAGE_SIZE - 1;	/* tail waste, last byte */
	addrs[7] = self->hi;
	addrs[8] = self->hi - 1;
	addrs[9] = self->lo - 1;
	addrs[10] = KERNEL_TEXT;
	addrs[11] = ~0ULL;
	addrs[12] = 0;
	addrs[13] = (uintptr_t)addrs;
	addrs[14] = self->lo - (1ULL << 40);
	addrs[15] = a + 1;
	live[0] = ~0ULL;
	ASSERT_EQ(0, query(fd, addrs, live, 16));
	EXPECT_EQ(0x8013ULL, live[0]) TH_LOG("live bits %#llx",
					     (unsigned long long)live[0]);

	/* Counts and flags. */
	EXPECT_EQ(EINVAL, query(fd, addrs, live, 0));
	EXPECT_EQ(EINVAL, query(fd, addrs, live, GCA_QUERY_MAX + 1));
	EXPECT_EQ(EINVAL, query(fd, addrs, live, 0xffffffffU));
	memset(&q, 0, sizeof(q));
	q.size = sizeof(q);
	q.addrs = (uintptr_t)addrs;
	q.live = (uintptr_t)live;
	q.n = 1;
	q.flags = 1;
	EXPECT_EQ(EINVAL, ioctl_err(fd, GCA_IOC_QUERY_OBJECTS, &q));
	q.flags = 0;
	q.resv0 = 1;
	EXPECT_EQ(EINVAL, ioctl_err(fd, GCA_IOC_QUERY_OBJECTS, &q));

	/* Buffers. */
	EXPECT_EQ(EFAULT, query(fd, NULL, live, 1));
	EXPECT_EQ(EFAULT, query(fd, addrs, NULL, 1));
	EXPECT_EQ(EFAULT, query(fd, unmapped_page(), live, 1));
	EXPECT_EQ(EFAULT, query(fd, addrs, unmapped_page(), 1));
	EXPECT_EQ(EFAULT, query(fd, (void *)(uintptr_t)KERNEL_DMAP, live, 1));
	EXPECT_EQ(EFAULT, query(fd, addrs, (void *)(uintptr_t)KERNEL_DMAP, 1));
	EXPECT_EQ(EFAULT, query(fd, addrs, (void *)(self->hi - 4096), 1));
	EXPECT_EQ(EFAULT, query(fd, addrs, (void *)self->ctrl, 1));
	ro = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, ro);
	EXPECT_EQ(EFAULT, query(fd, addrs, ro, 1));
	EXPECT_EQ(0, query(fd, ro, live, 1));	/* reads zeroes */
	munmap(ro, 4096);
	/* The bitmap over the addresses themselves. */
	EXPECT_EQ(0, query(fd, addrs, addrs, 16));

	/* The most allowed, addresses everywhere in the heap. */
	big = malloc(GCA_QUERY_MAX * sizeof(*big));
	bigl = malloc(GCA_QUERY_MAX / 8);
	ASSERT_NE(NULL, big);
	ASSERT_NE(NULL, bigl);
	for (nb = 0; nb < GCA_QUERY_MAX; nb++)
		big[nb] = self->lo - 4096 + (uint64_t)nb * 4099;
	EXPECT_EQ(0, query(fd, big, bigl, GCA_QUERY_MAX));
	free(big);
	free(bigl);

	/* Before CREATE, and created without a heap mapping. */
	fd2 = open(GCA_DEV, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd2);
	EXPECT_EQ(EBADFD, query(fd2, addrs, live, 1));
	q.size = sizeof(q);
	{
		struct gca_create cr = { .size = sizeof(cr),
					 .heap_size = HEAP };

		ASSERT_EQ(0, ioctl_err(fd2, GCA_IOC_CREATE, &cr));
	}
	addrs[0] = 0;
	addrs[1] = 8192;
	live[0] = ~0ULL;
	EXPECT_EQ(0, query(fd2, addrs, live, 2));
	EXPECT_EQ(0ULL, live[0] & 3);
	close(fd2);
	expect_consistent(_metadata, fd);
}
#endif

#ifdef GCA_WBUF_MAX
/* HANDSHAKE/COLLECT with a write barrier buffer; errno or 0. */
static int raw_hs_wbuf(int fd, unsigned long cmd, const uint64_t *wbuf,
		       uint32_t n, uint32_t resv1)
{
	struct gca_handshake hs = { .size = sizeof(hs) };

	hs.sp = (uintptr_t)__builtin_frame_address(0);
	hs.wbuf = (uintptr_t)wbuf;
	hs.nwbuf = n;
	hs.resv1 = resv1;
	return ioctl_err(fd, cmd, &hs);
}

struct wb_starter {
	int fd;
	int ret;
	volatile int done;
};

static void *wb_collect_main(void *arg)
{
	struct wb_starter *w = arg;

	w->ret = raw_hs(w->fd, GCA_IOC_COLLECT, NULL, 0, NULL);
	w->done = 1;
	return NULL;
}

/*
 * The write barrier buffer is a list of words the kernel shades while it
 * marks: every one of them is untrusted.
 */
TEST_F_TIMEOUT(raw, wbuf_garbage, 120)
{
	struct wb_starter w = { .fd = self->fd };
	uint64_t *buf, *ro, ng;
	unsigned int i, rounds = 0;
	pthread_t th;
	uint8_t *two;
	int fd = self->fd, ret;

	buf = calloc(GCA_WBUF_MAX + 1, sizeof(*buf));
	ASSERT_NE(NULL, buf);
	for (i = 0; i <= GCA_WBUF_MAX; i++) {
		switch (i % 10) {
		case 0: buf[i] = self->lo + (uint64_t)i * 4099 % HEAP; break;
		case 1: buf[i] = self->hi; break;
		case 2: buf[i] = self->hi - 1; break;
		case 3: buf[i] = self->lo - 1; break;
		case 4: buf[i] = KERNEL_TEXT + i; break;
		case 5: buf[i] = KERNEL_DMAP + 8 * i; break;
		case 6: buf[i] = (uintptr_t)&buf[i]; break;
		case 7: buf[i] = ~0ULL; break;
		case 8: buf[i] = (uintptr_t)self->ctrl; break;
		default: buf[i] = 0; break;
		}
	}
	/* Counts, reserved field, unregistered callers. */
	EXPECT_EQ(EINVAL, raw_hs_wbuf(fd, GCA_IOC_HANDSHAKE, buf,
				      GCA_WBUF_MAX + 1, 0));
	EXPECT_EQ(EINVAL, raw_hs_wbuf(fd, GCA_IOC_HANDSHAKE, buf,
				      0xffffffffU, 0));
	EXPECT_EQ(EINVAL, raw_hs_wbuf(fd, GCA_IOC_COLLECT, buf, 1, 1));
	EXPECT_EQ(EINVAL, raw_hs_wbuf(fd, GCA_IOC_HANDSHAKE, NULL, 0,
				      0x80000000U));
	/* Bad buffers. */
	EXPECT_EQ(EFAULT, raw_hs_wbuf(fd, GCA_IOC_HANDSHAKE, NULL, 1, 0));
	EXPECT_EQ(EFAULT, raw_hs_wbuf(fd, GCA_IOC_HANDSHAKE, unmapped_page(),
				      1, 0));
	EXPECT_EQ(EFAULT, raw_hs_wbuf(fd, GCA_IOC_HANDSHAKE,
				      (void *)(uintptr_t)KERNEL_TEXT, 512, 0));
	EXPECT_EQ(EFAULT, raw_hs_wbuf(fd, GCA_IOC_COLLECT,
				      (void *)(self->hi - GCA_PAGE_SIZE), 8,
				      0));
	two = mmap(NULL, 8192, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, two);
	munmap(two + 4096, 4096);
	EXPECT_EQ(EFAULT, raw_hs_wbuf(fd, GCA_IOC_HANDSHAKE,
				      (uint64_t *)(two + 4096) - 100, 1000, 0));
	munmap(two, 4096);
	/* Read-only, the control page, the heap itself: only read. */
	ro = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, ro);
	EXPECT_EQ(0, raw_hs_wbuf(fd, GCA_IOC_HANDSHAKE, ro, 512, 0));
	munmap(ro, 4096);
	EXPECT_EQ(0, raw_hs_wbuf(fd, GCA_IOC_HANDSHAKE,
				 (void *)self->ctrl, 512, 0));
	EXPECT_NE(0ULL, raw_refill(fd, GCA_SPANCLASS(1, 0), NULL));
	/* The most allowed, outside a cycle, then inside cycles. */
	EXPECT_EQ(0, raw_hs_wbuf(fd, GCA_IOC_HANDSHAKE, buf, GCA_WBUF_MAX, 0));
	EXPECT_EQ(0, raw_hs_wbuf(fd, GCA_IOC_COLLECT, buf, GCA_WBUF_MAX, 0));
	for (i = 0; i < 3; i++) {
		w.done = 0;
		ng = self->ctrl->num_gc;
		ASSERT_EQ(0, pthread_create(&th, NULL, wb_collect_main, &w));
		while (!w.done) {
			ret = raw_hs_wbuf(fd, GCA_IOC_HANDSHAKE, buf,
					  GCA_WBUF_MAX, 0);
			EXPECT_TRUE(ret == 0 || ret == EINTR) TH_LOG("%s", strerror(ret));
			rounds++;
			sleep_ms(2);
		}
		ASSERT_EQ(0, pthread_join(th, NULL));
		EXPECT_EQ(0, w.ret);
		EXPECT_LT(ng, self->ctrl->num_gc);
	}
	TH_LOG("%u handshakes with %u hostile barrier entries each",
	       rounds, GCA_WBUF_MAX);
	free(buf);
	expect_consistent(_metadata, fd);
}
#endif

/*
 * A result that cannot be written back: the work is done, the caller is
 * told EFAULT.  What was done must leave the arena consistent.
 */
TEST_F_TIMEOUT(raw, results_into_readonly, 300)
{
	struct gca_refill *rf;
	struct gca_alloc_large *al;
	struct gca_info *info;
	struct gca_stats st, *stp;
	uint8_t *page;
	int fd = self->fd;

	page = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, page);
	rf = (void *)page;
	rf->size = sizeof(*rf);
	rf->spanclass = GCA_SPANCLASS(7, 0);
	info = (void *)(page + 512);
	info->size = sizeof(*info);
	al = (void *)(page + 2048);
	al->size = sizeof(*al);
	al->bytes = 100000;
	stp = (void *)(page + 4096);
	stp->size = sizeof(*stp);
	ASSERT_EQ(0, mprotect(page, 3 * 4096, PROT_READ));
	EXPECT_EQ(EFAULT, alloc_ioctl(fd, GCA_IOC_REFILL, rf));
	EXPECT_EQ(EFAULT, alloc_ioctl(fd, GCA_IOC_ALLOC_LARGE, al));
	EXPECT_EQ(EFAULT, ioctl_err(fd, GCA_IOC_READ_STATS, stp));
	EXPECT_EQ(EFAULT, ioctl_err(fd, GCA_IOC_GET_INFO, info));
	expect_consistent(_metadata, fd);
	/* The span we never learned about goes back when we leave, the
	 * object nobody points to at the next cycle. */
	ASSERT_EQ(0, raw_unregister(fd));
	ASSERT_EQ(0, raw_hs(fd, GCA_IOC_COLLECT, NULL, 0, NULL));
	ASSERT_EQ(0, raw_stats(fd, &st));
	EXPECT_EQ(0ULL, st.heap_objects);
	ASSERT_EQ(0, raw_register(fd));
	munmap(page, 3 * 4096);
	expect_consistent(_metadata, fd);
}

struct poller {
	int fd;
	int ret, revents;
	volatile int started;
};

static void *poll_main(void *arg)
{
	struct poller *p = arg;
	struct pollfd pfd = { .fd = p->fd, .events = POLLIN };

	p->started = 1;
	p->ret = poll(&pfd, 1, 3000);
	p->revents = pfd.revents;
	return NULL;
}

/* poll()/epoll on the arena, with the file going away under them. */
TEST_F_TIMEOUT(raw, poll_and_close, 120)
{
	struct pollfd pfd;
	struct gca_stats st;
	struct poller p;
	struct epoll_event ev;
	char path[64];
	pthread_t th;
	int fd = self->fd, fresh, ep;

	/* Not created: never readable. */
	fresh = open(GCA_DEV, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fresh);
	pfd = (struct pollfd){ .fd = fresh, .events = POLLIN | POLLOUT };
	EXPECT_EQ(0, poll(&pfd, 1, 0));
	close(fresh);

	/* A cycle makes it readable, reading the statistics not. */
	ASSERT_EQ(0, raw_hs(fd, GCA_IOC_COLLECT, NULL, 0, NULL));
	pfd = (struct pollfd){ .fd = fd, .events = POLLIN };
	EXPECT_EQ(1, poll(&pfd, 1, 0));
	ASSERT_EQ(0, raw_stats(fd, &st));
	EXPECT_EQ(0, poll(&pfd, 1, 0));

	/* An epoll watching the arena, then the arena goes away. */
	ep = epoll_create1(EPOLL_CLOEXEC);
	ASSERT_LE(0, ep);
	ev.events = EPOLLIN;
	ev.data.u64 = 7;
	ASSERT_EQ(0, epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev));

	/* A thread sleeping in poll() while the file is closed and the
	 * mappings go: the arena must outlive the sleeper. */
	memset(&p, 0, sizeof(p));
	p.fd = fd;
	ASSERT_EQ(0, pthread_create(&th, NULL, poll_main, &p));
	while (!p.started)
		sleep_ms(1);
	sleep_ms(100);
	proc_arena_path(self->cr.id, path, sizeof(path));
	ASSERT_TRUE(path_exists(path));
	close(fd);
	munmap(self->heap, HEAP);
	munmap((void *)self->ctrl, self->cr.ctrl_size);
	self->heap = MAP_FAILED;
	self->ctrl = MAP_FAILED;
	self->fd = -1;
	EXPECT_EQ(0, epoll_wait(ep, &ev, 1, 100));
	ASSERT_EQ(0, pthread_join(th, NULL));
	EXPECT_LE(0, p.ret);
	EXPECT_TRUE(wait_gone(path, 5000));
	EXPECT_EQ(0, epoll_wait(ep, &ev, 1, 0));
	close(ep);
}

/* ------------------------------------------------------------------ */
/* The fuzz loop                                                       */

#define FUZZ_ITERS	20000
#define FUZZ_SECS	30		/* whichever comes first */
#define FUZZ_STUCK_SECS	15		/* one ioctl's block: a hang */
#define NSLOTS		8
#define BUF_SIZE	(64 * 1024)
#define FLIP_ADDR	0x200000000000ULL

enum slot_state { S_FRESH, S_CREATED, S_MAPPED, S_REGISTERED };

struct slot {
	int fd;
	enum slot_state want;
	uint8_t *heap;
	uint64_t heap_size;
	void *ctrl;
	bool registered;
	uint64_t spans[8];		/* recent REFILL results */
};

/* Shared with the parent, which watches for progress. */
struct fuzz_status {
	volatile uint64_t iter;
	volatile uint32_t last_cmd;
	volatile uint32_t last_slot;
	volatile uint64_t last_arg;
	volatile uint32_t last_usize;
	uint64_t err_count[160];	/* by errno, [0] = success */
	uint64_t ops[8];		/* ioctl, mmap, poll, reopen, other */
	uint64_t stuck;			/* ioctls cut off by the timer */
	uint32_t stuck_cmd[16];
	uint64_t ok_by_nr[16];		/* successes of command nr */
	uint64_t elapsed_ms;
	uint64_t odd_errno;		/* outside the expected set */
	int odd_list[16];
	uint32_t odd_cmd[16];
};

static struct slot slots[NSLOTS];
static uint8_t *fbuf;			/* BUF_SIZE, then a hole */
static uint8_t *ro_page, *none_page;
static volatile int flip_stop;
static uint64_t fseed = 0x00c0ffee12345678ULL;

static uint64_t frnd(void)
{
	uint64_t x = fseed;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	fseed = x;
	return x * 0x2545f4914f6cdd1dULL;
}

#define FR(n)	(frnd() % (n))

/* Answer handshakes of our registered arenas (as the library does). */
static void fuzz_preempt(int sig)
{
	int saved = errno;
	unsigned int i;

	for (i = 0; i < NSLOTS; i++) {
		struct gca_handshake hs = { .size = sizeof(hs) };

		if (!slots[i].registered || slots[i].fd < 0)
			continue;
		hs.sp = (uintptr_t)__builtin_frame_address(0);
		ioctl(slots[i].fd, GCA_IOC_HANDSHAKE, &hs);
	}
	errno = saved;
}

static volatile sig_atomic_t alarm_fired;

static void fuzz_alarm(int sig)
{
	alarm_fired = 1;
}

static void slot_close(struct slot *s)
{
	if (s->heap)
		munmap(s->heap, s->heap_size);
	if (s->ctrl)
		munmap(s->ctrl, 4096);
	if (s->fd >= 0)
		close(s->fd);
	s->heap = NULL;
	s->ctrl = NULL;
	s->fd = -1;
	s->registered = false;
	memset(s->spans, 0, sizeof(s->spans));
}

static int slot_open(struct slot *s)
{
	struct gca_create cr = { .size = sizeof(cr) };
	void *p;

	s->fd = open(GCA_DEV, O_RDWR | O_CLOEXEC);
	if (s->fd < 0)
		return -1;
	if (s->want == S_FRESH)
		return 0;
	cr.heap_size = 4 * SZ_1M << FR(3);
	cr.preempt_signal = SIGUSR1;
	if (ioctl(s->fd, GCA_IOC_CREATE, &cr))
		return errno == EMFILE ? 0 : -1;	/* stays fresh */
	s->heap_size = cr.heap_size_out;
	if (s->want == S_CREATED)
		return 0;
	p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, s->fd, GCA_OFF_CTRL);
	if (p == MAP_FAILED)
		return -1;
	s->ctrl = p;
	p = mmap(NULL, s->heap_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		 s->fd, GCA_OFF_HEAP);
	if (p == MAP_FAILED)
		return -1;
	s->heap = p;
	if (s->want == S_MAPPED)
		return 0;
	if (raw_register(s->fd))
		return -1;
	s->registered = true;
	return 0;
}

static void *flip_main(void *arg)
{
	void *want = (void *)(uintptr_t)FLIP_ADDR;

	while (!flip_stop) {
		void *p = mmap(want, 4096, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS |
			       MAP_FIXED_NOREPLACE, -1, 0);

		if (p != MAP_FAILED) {
			memset(p, (int)(uintptr_t)&p, 4096);
			*(uint32_t *)p = 64 + (uint32_t)((uintptr_t)&p & 63);
			usleep(30);
			munmap(p, 4096);
		}
		usleep(30);
	}
	return NULL;
}

static const uint32_t known_size[] = {
	sizeof(struct gca_info), sizeof(struct gca_create),
	sizeof(struct gca_thread_reg), sizeof(struct gca_thread_unreg),
	sizeof(struct gca_refill), sizeof(struct gca_alloc_large),
	sizeof(struct gca_handshake), sizeof(struct gca_handshake),
	sizeof(struct gca_roots), sizeof(struct gca_roots),
	sizeof(struct gca_params_arg), sizeof(struct gca_stats),
#ifdef GCA_IOC_QUERY_OBJECTS
	sizeof(struct gca_query),
#endif
};
#define NKNOWN	(sizeof(known_size) / sizeof(known_size[0]))

static uint32_t pick_size(unsigned int nr)
{
	uint32_t base = nr < NKNOWN ? known_size[nr] : 24;

	switch (FR(16)) {
	case 0: return 0;
	case 1: return 4;
	case 2: return 7;
	case 3: return 8;
	case 4: return base - 1;
	case 5: return base + 1;
	case 6: return 4096;
	case 7: return 16384;
	case 8: return 16385;
	case 9: return 1 << 20;
	case 10: return (uint32_t)frnd();
	case 11: return base + 8 * FR(8);
	default: return base;
	}
}

/* A value for a field, biased to edges. */
static uint64_t edge_value(struct slot *s)
{
	switch (FR(14)) {
	case 0: return 0;
	case 1: return 1;
	case 2: return ~0ULL;
	case 3: return 0x80000000ULL;
	case 4: return 0xffffffffULL;
	case 5: return 1ULL << 63;
	case 6: return KERNEL_TEXT;
	case 7: return s->heap ? (uintptr_t)s->heap + FR(s->heap_size) : 0;
	case 8: return (uintptr_t)fbuf + FR(BUF_SIZE);
	case 9: return s->spans[FR(8)];
	case 10: return FLIP_ADDR;
	case 11: return FR(300);
	default: return frnd();
	}
}

/* Long lies cost minutes of scanning in TCG: keep ranges short. */
static void cap_ranges(uint8_t *buf, unsigned int nr)
{
	if (nr == 2) {
		struct gca_thread_reg *r = (void *)buf;

		if (r->stack_hi - r->stack_lo > (1ULL << 20))
			r->stack_hi = r->stack_lo + 4096;
	} else if (nr == 8) {
		struct gca_roots *r = (void *)buf;

		if (r->len > (1ULL << 20) && r->len <= (1ULL << 32))
			r->len = 4096;
	}
}

static uint8_t scratch[20480];
static bool clean_call;		/* template, right size, no mutation */

/* Write a plausible argument of command nr (then mutated) to dst. */
static void fill_arg(uint8_t *dst, size_t room, unsigned int nr,
		     struct slot *s)
{
	uint8_t *buf = scratch;
	size_t copy = room < sizeof(scratch) ? room : sizeof(scratch);
	uint32_t usize;
	unsigned int m, nmut;
	__u64 lo, hi;

	memset(buf, 0, sizeof(scratch));
	room = sizeof(scratch);
	switch (clean_call ? 2 : FR(4)) {
	case 0:				/* random bytes */
		for (m = 0; m + 8 <= room && m < 20000; m += 8)
			*(uint64_t *)(buf + m) = frnd();
		break;
	case 1:				/* zeroes */
		break;
	default:			/* a template */
		switch (nr) {
		case 1: {
			struct gca_create *c = (void *)buf;

			c->heap_size = FR(2) ? 4 * SZ_1M : edge_value(s);
			c->flags = FR(4);
			c->gc_percent = (int)FR(300) - 2;
			c->preempt_signal = FR(2) ? SIGUSR1 : FR(70);
			c->memory_limit = (int64_t)FR(1ULL << 40) - 1;
			break;
		}
		case 2: {
			struct gca_thread_reg *r = (void *)buf;

			thread_stack(&lo, &hi);
			r->stack_lo = lo;
			r->stack_hi = hi;
			if (!FR(4)) {
				/* short lies only: long ones cost minutes */
				r->stack_lo = edge_value(s);
				r->stack_hi = r->stack_lo + FR(1 << 20);
			}
			break;
		}
		case 3: case 6: case 7: {
			struct gca_span_ret *sr = (void *)(fbuf + BUF_SIZE / 2);
			unsigned int k, n = FR(8);

			for (k = 0; k < n; k++) {
				sr[k].base = FR(2) ? s->spans[FR(8)] :
					     edge_value(s);
				sr[k].freeindex = FR(2) ? FR(1100) :
						  (uint32_t)frnd();
				sr[k].resv = FR(8) ? 0 : 1;
			}
			if (nr == 3) {
				struct gca_thread_unreg *u = (void *)buf;

				u->spans = (uintptr_t)sr;
				u->nspans = n;
			} else {
				struct gca_handshake *h = (void *)buf;

				h->spans = (uintptr_t)sr;
				h->nspans = n;
				h->sp = FR(2) ? (uintptr_t)&k : edge_value(s);
				h->seq = frnd();
			}
			break;
		}
		case 4: {
			struct gca_refill *r = (void *)buf;

			r->spanclass = FR(140);
			r->ret_base = FR(2) ? s->spans[FR(8)] : 0;
			r->ret_freeindex = FR(1100);
			break;
		}
		case 5: {
			struct gca_alloc_large *l = (void *)buf;

			l->bytes = FR(2) ? FR(1 << 20) : edge_value(s);
			l->flags = FR(2);
			break;
		}
		case 8: case 9: {
			struct gca_roots *r = (void *)buf;

			r->start = FR(2) ? (uintptr_t)fbuf + 8 * FR(64) :
				   edge_value(s);
			r->len = FR(4) ? FR(65536) : edge_value(s);
			/* never a long lie: 4 GiB of holes is minutes */
			if (r->len > (1ULL << 20) && r->len <= (1ULL << 32))
				r->len = 4096;
			break;
		}
		case 10: {
			struct gca_params_arg *p = (void *)buf;

			p->flags = FR(16);
			p->gc_percent = (int)FR(400) - 2;
			p->memory_limit = FR(2) ? (int64_t)edge_value(s) :
					  (int64_t)FR(1ULL << 34);
			break;
		}
#ifdef GCA_IOC_QUERY_OBJECTS
		case 12: {
			struct gca_query *q = (void *)buf;
			uint64_t *a = (void *)(fbuf + BUF_SIZE / 2);
			unsigned int k;

			q->n = FR(4) ? 1 + FR(200) : (uint32_t)edge_value(s);
			for (k = 0; k < 200; k++)
				a[k] = edge_value(s);
			q->addrs = FR(4) ? (uintptr_t)a : edge_value(s);
			q->live = FR(4) ? (uintptr_t)(a + 256) : edge_value(s);
			break;
		}
#endif
		default:
			break;
		}
		/* mutate a few words */
		nmut = clean_call ? 0 : FR(4);
		for (m = 0; m < nmut; m++) {
			size_t off = 8 * FR(48);

			if (off + 8 <= room)
				*(uint64_t *)(buf + off) = edge_value(s);
		}
		break;
	}
	cap_ranges(buf, nr);
	usize = clean_call ? (nr < NKNOWN ? known_size[nr] : 24) :
			     pick_size(nr);
	memcpy(buf, &usize, 4);
	memcpy(dst, buf, copy);
}

/* The argument pointer for one call. */
static void *pick_arg(struct slot *s, unsigned int nr, uint32_t *usize)
{
	uint8_t *p;
	size_t room;

	*usize = 0;
	clean_call = FR(10) < 4;
	if (clean_call) {
		p = fbuf + 8 * FR(64);
		fill_arg(p, 20480, nr, s);
		*usize = *(uint32_t *)p;
		return p;
	}
	switch (FR(24)) {
	case 0: return NULL;
	case 1: return unmapped_page();
	case 2: return ro_page;
	case 3: return none_page;
	case 4: return s->ctrl ? s->ctrl : (void *)(uintptr_t)KERNEL_TEXT;
	case 5: return s->heap ? s->heap + (FR(s->heap_size) & ~7ULL) : NULL;
	case 6: return (void *)(uintptr_t)FLIP_ADDR;
	case 7: return (void *)(uintptr_t)(KERNEL_DMAP + FR(1 << 30));
	case 8: return (void *)(uintptr_t)frnd();
	case 9:			/* ending close to the hole after fbuf */
		room = 1 + FR(600);
		p = fbuf + BUF_SIZE - room;
		fill_arg(p, room, nr, s);
		*usize = room >= 4 ? *(uint32_t *)p : 0;
		return p;
	default:
		p = fbuf + 8 * FR(64);
		fill_arg(p, 20480, nr, s);
		*usize = *(uint32_t *)p;
		return p;
	}
}

static unsigned long pick_cmd(unsigned int *nr)
{
	unsigned long cmd;
	unsigned int type;

	switch (FR(20)) {
	case 0: case 1: case 2:		/* direction and size bits */
		*nr = FR(20);
		return _IOC(FR(4), GCA_IOC_MAGIC, *nr, FR(1 << 14));
	case 3:				/* other types */
		*nr = FR(256);
		type = FR(256);
		/* Not the VFS's own: FIFREEZE and friends ('X'), clone
		 * (0x94), file flags ('f'), FIONBIO and the tty ones ('T'). */
		if (type == 'X' || type == 0x94 || type == 'f' || type == 'T')
			type = 'q';
		return _IOC(FR(4), type, *nr, FR(1 << 14));
	case 4:				/* nr past the table */
		*nr = 13 + FR(243);
		return _IO(GCA_IOC_MAGIC, *nr);
	default:
		*nr = FR(14);
		cmd = _IO(GCA_IOC_MAGIC, *nr);
		return cmd;
	}
}

static bool expected_errno(int e)
{
	switch (e) {
	case 0: case EINVAL: case E2BIG: case EFAULT: case ENOTTY:
	case EBADFD: case EPERM: case ESRCH: case EAGAIN: case EEXIST:
	case ENOENT: case ENOSPC: case ENOMEM: case EBUSY: case EMFILE:
	case EINTR: case EACCES: case ENODEV: case EOVERFLOW:
	case EOPNOTSUPP: case EBADF:
		return true;
	}
	return false;
}

static void note_errno(struct fuzz_status *st, int e, uint32_t cmd)
{
	st->err_count[e < 160 ? e : 159]++;
	if (!expected_errno(e)) {
		if (st->odd_errno < 16) {
			st->odd_list[st->odd_errno] = e;
			st->odd_cmd[st->odd_errno] = cmd;
		}
		st->odd_errno++;
	}
}

static void fuzz_mmap(struct fuzz_status *st, struct slot *s)
{
	static const uint64_t offs[] = { GCA_OFF_HEAP, GCA_OFF_CTRL,
					 GCA_OFF_CTRL + 4096, 4096,
					 1ULL << 40, 1ULL << 43 };
	static const int prots[] = { PROT_READ, PROT_READ | PROT_WRITE,
				     PROT_NONE, PROT_READ | PROT_EXEC,
				     PROT_WRITE };
	uint64_t off = FR(8) < 6 ? offs[FR(6)] : frnd() & ~4095ULL;
	size_t len;
	void *p;

	switch (FR(5)) {
	case 0: len = 4096; break;
	case 1: len = s->heap_size ? s->heap_size : 4 * SZ_1M; break;
	case 2: len = (s->heap_size ? s->heap_size : 4 * SZ_1M) + 8192; break;
	case 3: len = 8192; break;
	default: len = 4 * SZ_1M << FR(3); break;
	}
	p = mmap(NULL, len, prots[FR(5)], FR(2) ? MAP_SHARED : MAP_PRIVATE,
		 s->fd, off);
	note_errno(st, p == MAP_FAILED ? errno : 0, 0xffffffffU);
	if (p == MAP_FAILED)
		return;
	/* Keep a heap mapping of a created arena: it is now mapped. */
	if (off == GCA_OFF_HEAP && !s->heap && len == s->heap_size) {
		s->heap = p;
		return;
	}
	if (!FR(4))
		mremap(p, len, len * 2, MREMAP_MAYMOVE);
	munmap(p, len);
}

static void fuzz_run(struct fuzz_status *st)
{
	struct sigaction sa;
	/*
	 * A hang is what this catches, not a slow call: a GCA_IOC_COLLECT
	 * waits for up to two cycles, each scanning every root range the
	 * fuzz has registered (hundreds, up to 1 MiB each, holes faulting
	 * page by page), and a TCG guest on a busy host runs several times
	 * slower than on a quiet one (2 s was seen cut off so).
	 */
	struct itimerval it = { .it_value = { .tv_sec = FUZZ_STUCK_SECS } };
	struct itimerval off = { 0 };
	sigset_t all;
	pthread_t flip;
	uint64_t t0 = now_ns(), secs = FUZZ_SECS, iters = FUZZ_ITERS, end;
	unsigned int i;

	/* GCA_FUZZ_SECS / GCA_FUZZ_ITERS: a longer run than the default */
	if (getenv("GCA_FUZZ_SECS"))
		secs = strtoull(getenv("GCA_FUZZ_SECS"), NULL, 0);
	if (getenv("GCA_FUZZ_ITERS"))
		iters = strtoull(getenv("GCA_FUZZ_ITERS"), NULL, 0);
	end = t0 + secs * 1000000000ULL;

	/* Random arenas may name any signal as their preempt signal. */
	sigfillset(&all);
	sigdelset(&all, SIGUSR1);
	sigdelset(&all, SIGALRM);
	sigdelset(&all, SIGSEGV);
	sigdelset(&all, SIGBUS);
	sigprocmask(SIG_SETMASK, &all, NULL);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = fuzz_preempt;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGUSR1, &sa, NULL);
	sa.sa_handler = fuzz_alarm;
	sa.sa_flags = 0;		/* interrupt, do not restart */
	sigaction(SIGALRM, &sa, NULL);

	fbuf = mmap(NULL, BUF_SIZE + 4096, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ro_page = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	none_page = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
			 -1, 0);
	if (fbuf == MAP_FAILED || ro_page == MAP_FAILED ||
	    none_page == MAP_FAILED)
		_exit(10);
	munmap(fbuf + BUF_SIZE, 4096);
	*(uint32_t *)ro_page = sizeof(struct gca_stats);
	mprotect(ro_page, 4096, PROT_READ);

	for (i = 0; i < NSLOTS; i++) {
		slots[i].want = (enum slot_state)(i / 2);
		slots[i].fd = -1;
		if (slot_open(&slots[i]))
			_exit(11);
	}
	if (pthread_create(&flip, NULL, flip_main, NULL))
		_exit(12);

	for (st->iter = 0; st->iter < iters && now_ns() < end;
	     st->iter++) {
		struct slot *s = &slots[FR(NSLOTS)];
		unsigned int kind = FR(100), nr = 0;
		uint32_t usize;
		unsigned long cmd;
		void *arg;
		int ret;

		st->last_slot = s - slots;
		if (kind < 86) {
			cmd = pick_cmd(&nr);
			arg = pick_arg(s, nr, &usize);
			st->last_cmd = cmd;
			st->last_arg = (uintptr_t)arg;
			st->last_usize = usize;
			alarm_fired = 0;
			setitimer(ITIMER_REAL, &it, NULL);
			ret = ioctl(s->fd, cmd, arg) ? errno : 0;
			setitimer(ITIMER_REAL, &off, NULL);
			if (alarm_fired) {
				if (st->stuck < 16)
					st->stuck_cmd[st->stuck] = cmd;
				st->stuck++;
			}
			note_errno(st, ret, cmd);
			st->ops[0]++;
			if (!ret && cmd == _IO(GCA_IOC_MAGIC, nr) && nr < 16)
				st->ok_by_nr[nr]++;
			if (!ret && cmd == GCA_IOC_REFILL && usize >=
			    sizeof(struct gca_refill) && arg >= (void *)fbuf &&
			    arg < (void *)(fbuf + BUF_SIZE))
				s->spans[FR(8)] =
					((struct gca_refill *)arg)->base;
			if (!ret && cmd == GCA_IOC_REGISTER_THREAD)
				s->registered = true;
			if (cmd == GCA_IOC_UNREGISTER_THREAD &&
			    (!ret || ret == EINVAL || ret == EFAULT))
				s->registered = false;
		} else if (kind < 92) {
			fuzz_mmap(st, s);
			st->ops[1]++;
		} else if (kind < 96) {
			struct pollfd pfd = { .fd = s->fd,
					      .events = (short)frnd() };

			poll(&pfd, 1, 0);
			st->ops[2]++;
		} else if (kind < 98) {
			slot_close(s);
			if (slot_open(s))
				_exit(13);
			st->ops[3]++;
		} else {
			char b[64];

			/* file operations the device does not have */
			if (read(s->fd, b, sizeof(b)) < 0)
				note_errno(st, errno, 0xfffffffeU);
			if (write(s->fd, b, sizeof(b)) < 0)
				note_errno(st, errno, 0xfffffffdU);
			lseek(s->fd, 100, SEEK_SET);
			st->ops[4]++;
		}
	}
	st->elapsed_ms = (now_ns() - t0) / 1000000;
	flip_stop = 1;
	pthread_join(flip, NULL);
	for (i = 0; i < NSLOTS; i++)
		slot_close(&slots[i]);
}

/* Rows of /proc/gcarena/arenas with this pid. */
static int arenas_of(pid_t pid)
{
	char *buf = malloc(1 << 20), *line;
	int n = 0;

	if (!buf || read_file(GCA_PROC "/arenas", buf, 1 << 20) < 0) {
		free(buf);
		return -1;
	}
	for (line = strchr(buf, '\n'); line && line[1]; line = strchr(line + 1, '\n')) {
		unsigned int id;
		int p;

		if (sscanf(line + 1, "%u %d", &id, &p) == 2 && p == pid)
			n++;
	}
	free(buf);
	return n;
}

FIXTURE(fuzz) {
	struct fuzz_status *st;
};

FIXTURE_SETUP(fuzz)
{
	self->st = mmap(NULL, sizeof(*self->st), PROT_READ | PROT_WRITE,
			MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->st);
}

FIXTURE_TEARDOWN(fuzz)
{
	munmap(self->st, sizeof(*self->st));
}

TEST_F_TIMEOUT(fuzz, random_ioctls, 300)
{
	struct fuzz_status *st = self->st;
	uint64_t last = 0, since = now_ns();
	int status = 0, i, n;
	char hist[1024];
	size_t len = 0;
	pid_t pid;

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		fuzz_run(st);
		_exit(0);
	}
	/* Watch it: no progress for 30 s is a hang. */
	for (;;) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			break;
		if (st->iter != last) {
			last = st->iter;
			since = now_ns();
		} else if (now_ns() - since > 30 * 1000000000ULL) {
			TH_LOG("HANG at iteration %llu: cmd %#x on slot %u (state %u), arg %#llx, size %u",
			       (unsigned long long)st->iter, st->last_cmd,
			       st->last_slot, st->last_slot / 2,
			       (unsigned long long)st->last_arg,
			       st->last_usize);
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			ASSERT_TRUE(false);
		}
		sleep_ms(100);
	}
	for (i = 0; i < 160; i++)
		if (st->err_count[i] && len < sizeof(hist) - 32)
			len += snprintf(hist + len, sizeof(hist) - len,
					" %s:%llu", i ? strerrorname_np(i) : "ok",
					(unsigned long long)st->err_count[i]);
	TH_LOG("%llu iterations: %llu ioctls, %llu mmaps, %llu polls, %llu reopens, %llu other",
	       (unsigned long long)st->iter, (unsigned long long)st->ops[0],
	       (unsigned long long)st->ops[1], (unsigned long long)st->ops[2],
	       (unsigned long long)st->ops[3], (unsigned long long)st->ops[4]);
	TH_LOG("results:%s", hist);
	for (i = 0, len = 0; i < 16; i++)
		len += snprintf(hist + len, sizeof(hist) - len, " %d:%llu", i,
				(unsigned long long)st->ok_by_nr[i]);
	TH_LOG("successes by command nr:%s; %llu ms",
	       hist, (unsigned long long)st->elapsed_ms);
	ASSERT_TRUE(WIFEXITED(status))
		TH_LOG("the fuzzing process died: status %#x (signal %d) at iteration %llu, cmd %#x arg %#llx",
		       status, WIFSIGNALED(status) ? WTERMSIG(status) : 0,
		       (unsigned long long)st->iter, st->last_cmd,
		       (unsigned long long)st->last_arg);
	EXPECT_EQ(0, WEXITSTATUS(status));
	/* (TCG: ~15000 in 30 s on the stock kernel, ~1300 on the debug one) */
	EXPECT_LE(500ULL, st->iter);
	for (i = 0; i < (int)st->odd_errno && i < 16; i++)
		TH_LOG("unexpected errno %d (%s) from cmd %#x", st->odd_list[i],
		       strerror(st->odd_list[i]), st->odd_cmd[i]);
	EXPECT_EQ(0ULL, st->odd_errno);
	for (i = 0; i < (int)st->stuck && i < 16; i++)
		TH_LOG("ioctl %#x blocked for %d s (cut off by SIGALRM)",
		       st->stuck_cmd[i], FUZZ_STUCK_SECS);
	EXPECT_EQ(0ULL, st->stuck);
	/* Every arena it made is gone with it. */
	for (n = 0; n < 100 && (i = arenas_of(pid)) > 0; n++)
		sleep_ms(50);
	EXPECT_EQ(0, arenas_of(pid));
}

/* ------------------------------------------------------------------ */

/* Last (its fixture is the last one declared): still fully working. */
GCA_EMPTY_FIXTURE(zz_final);

TEST_F_TIMEOUT(zz_final, still_working, 120)
{
	struct gca_memstats ms;

	check_still_working(_metadata, 0x5eed, &ms);
	EXPECT_LE(ms.heap_alloc, ms.heap_inuse);
	EXPECT_LE(ms.heap_inuse, ms.heap_sys);
}

TEST_HARNESS_MAIN
