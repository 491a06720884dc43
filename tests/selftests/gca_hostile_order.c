// SPDX-License-Identifier: GPL-2.0
/*
 * Hostile process, area 4: calls in the wrong order, and mappings,
 * descriptors, threads and processes that go away at the wrong time.
 *
 * The kernel may not trust the order of anything: ioctls before CREATE
 * or before the heap is mapped, mmap twice or wrong, mremap/mprotect/
 * madvise/munmap of the arena's mappings (during cycles too), the file
 * closed while mapped or while a thread sleeps in it, fork with the
 * mappings, process exit and SIGKILL in the middle of a cycle, threads
 * that die without unregistering, ioctls issued while a handshake is
 * pending.  Expected: a clear error or a sane outcome, a process that
 * breaks its own heap dies by a signal, the kernel survives, and arenas
 * of dead processes disappear.
 *
 * Tests (fixture "order"):
 *   before_create, mmap_rules, mremap_mprotect_madvise, madv_dofork,
 *   munmap_during_cycles, mprotect_readonly_child, ctrl_unmapped_child,
 *   ctrl_zapped_child,
 *   close_while_mapped_raw, close_behind_library, close_during_collect,
 *   fork_with_mapping, exit_mid_cycle, sigkill_mid_cycle,
 *   stopped_process_isolated, thread_exit_without_unregister,
 *   dead_threads_gogc_off,
 *   parked_thread_exits (concurrent marking's GCA_HS_PARK),
 *   ioctls_while_handshake_pending, exec_registered_thread,
 *   exec_clone_vm_sibling
 * and zz_final.still_working last.
 */
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>

#include "gca_test_raw.h"

#define HEAP		(16 * SZ_1M)
#define SALT		0x0dde4ULL

/* A raw arena: created, optionally mapped. */
struct raw {
	int fd;
	struct gca_create cr;
	const struct gca_ctrl *ctrl;
	uint8_t *heap;
};

/* oflags: O_CLOEXEC, or 0 for a file that stays open across execve() */
static int raw_make_flags(struct raw *r, uint32_t preempt_signal, bool map,
			  int oflags)
{
	memset(r, 0, sizeof(*r));
	r->ctrl = MAP_FAILED;
	r->heap = MAP_FAILED;
	r->fd = open(GCA_DEV, O_RDWR | oflags);
	if (r->fd < 0)
		return -errno;
	r->cr.size = sizeof(r->cr);
	r->cr.heap_size = HEAP;
	r->cr.preempt_signal = preempt_signal;
	if (ioctl(r->fd, GCA_IOC_CREATE, &r->cr))
		return -errno;
	if (!map)
		return 0;
	r->ctrl = mmap(NULL, r->cr.ctrl_size, PROT_READ, MAP_SHARED, r->fd,
		       GCA_OFF_CTRL);
	if (r->ctrl == MAP_FAILED)
		return -errno;
	r->heap = mmap(NULL, HEAP, PROT_READ | PROT_WRITE, MAP_SHARED, r->fd,
		       GCA_OFF_HEAP);
	if (r->heap == MAP_FAILED)
		return -errno;
	return 0;
}

static int raw_make(struct raw *r, uint32_t preempt_signal, bool map)
{
	return raw_make_flags(r, preempt_signal, map, O_CLOEXEC);
}

static void raw_free(struct raw *r)
{
	if (r->heap && r->heap != MAP_FAILED)
		munmap(r->heap, HEAP);
	if (r->ctrl && r->ctrl != MAP_FAILED)
		munmap((void *)r->ctrl, r->cr.ctrl_size);
	if (r->fd >= 0)
		close(r->fd);
	r->fd = -1;
	r->heap = MAP_FAILED;
	r->ctrl = MAP_FAILED;
}

static bool heap_mapped_at(const void *p)
{
	unsigned char vec;

	return mincore((void *)((uintptr_t)p & ~4095UL), 4096, &vec) == 0;
}

static uintptr_t heap_base(struct gca_arena *a)
{
	return ((const struct gca_arena_head *)a)->heap_base;
}

/* The list is built and checked by helpers: its head stays here. */
__test_helper struct node *make_list(struct gca_arena *a, uint64_t n)
{
	return build_list(a, n, 1, SALT);
}

GCA_ARENA_FIXTURE(order);

/* ------------------------------------------------------------------ */

TEST_F_TIMEOUT(order, before_create, 300)
{
	struct gca_thread_reg tr = { .size = sizeof(tr) };
	struct gca_refill rf = { .size = sizeof(rf),
				 .spanclass = GCA_SPANCLASS(1, 0) };
	struct gca_handshake hs = { .size = sizeof(hs) };
	struct gca_stats st = { .size = sizeof(st) };
	struct gca_roots ro = { .size = sizeof(ro), .start = 4096,
				.len = 4096 };
	struct gca_alloc_large al = { .size = sizeof(al), .bytes = 65536 };
	int fd = open(GCA_DEV, O_RDWR | O_CLOEXEC);

	ASSERT_LE(0, fd);
	thread_stack(&tr.stack_lo, &tr.stack_hi);
	EXPECT_EQ(EBADFD, ioctl_err(fd, GCA_IOC_COLLECT, &hs));
	EXPECT_EQ(EBADFD, ioctl_err(fd, GCA_IOC_HANDSHAKE, &hs));
	EXPECT_EQ(EBADFD, ioctl_err(fd, GCA_IOC_REFILL, &rf));
	EXPECT_EQ(EBADFD, ioctl_err(fd, GCA_IOC_ALLOC_LARGE, &al));
	EXPECT_EQ(EBADFD, ioctl_err(fd, GCA_IOC_REGISTER_THREAD, &tr));
	EXPECT_EQ(EBADFD, ioctl_err(fd, GCA_IOC_ADD_ROOTS, &ro));
	EXPECT_EQ(EBADFD, ioctl_err(fd, GCA_IOC_READ_STATS, &st));
	EXPECT_EQ(EBADFD, mmap_err(mmap(NULL, HEAP, PROT_READ | PROT_WRITE,
					MAP_SHARED, fd, GCA_OFF_HEAP)));
	EXPECT_EQ(EBADFD, mmap_err(mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd,
					GCA_OFF_CTRL)));
	EXPECT_EQ(EBADFD, mmap_err(mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd,
					12345 * 4096)));
	/* Created, heap not mapped: allocation needs the heap. */
	{
		struct gca_create cr = { .size = sizeof(cr), .heap_size = HEAP };

		ASSERT_EQ(0, ioctl_err(fd, GCA_IOC_CREATE, &cr));
	}
	EXPECT_EQ(0, ioctl_err(fd, GCA_IOC_REGISTER_THREAD, &tr));
	EXPECT_EQ(EBADFD, ioctl_err(fd, GCA_IOC_REFILL, &rf));
	EXPECT_EQ(EBADFD, ioctl_err(fd, GCA_IOC_ALLOC_LARGE, &al));
	/* A cycle with no heap mapped is harmless. */
	EXPECT_EQ(0, raw_hs(fd, GCA_IOC_COLLECT, NULL, 0, NULL));
	close(fd);
}

TEST_F_TIMEOUT(order, mmap_rules, 300)
{
	struct raw r;
	void *p, *q;
	char path[64];

	ASSERT_EQ(0, raw_make(&r, 0, false));
	/* Wrong sizes, offsets, sharing, protections. */
	EXPECT_EQ(EINVAL, mmap_err(mmap(NULL, HEAP - GCA_PAGE_SIZE,
					PROT_READ | PROT_WRITE, MAP_SHARED,
					r.fd, GCA_OFF_HEAP)));
	EXPECT_EQ(EINVAL, mmap_err(mmap(NULL, HEAP + 4096,
					PROT_READ | PROT_WRITE, MAP_SHARED,
					r.fd, GCA_OFF_HEAP)));
	EXPECT_EQ(EINVAL, mmap_err(mmap(NULL, 2 * HEAP, PROT_READ,
					MAP_SHARED, r.fd, GCA_OFF_HEAP)));
	EXPECT_EQ(EINVAL, mmap_err(mmap(NULL, 0, PROT_READ, MAP_SHARED, r.fd,
					GCA_OFF_HEAP)));
	EXPECT_EQ(EINVAL, mmap_err(mmap(NULL, HEAP, PROT_READ | PROT_WRITE,
					MAP_SHARED, r.fd, 4096)));
	EXPECT_EQ(EINVAL, mmap_err(mmap(NULL, HEAP, PROT_READ | PROT_WRITE,
					MAP_SHARED, r.fd, GCA_PAGE_SIZE)));
	EXPECT_EQ(EINVAL, mmap_err(mmap(NULL, 4096, PROT_READ, MAP_SHARED,
					r.fd, GCA_OFF_CTRL + 4096)));
	EXPECT_EQ(EINVAL, mmap_err(mmap(NULL, 4096, PROT_READ, MAP_SHARED,
					r.fd, GCA_OFF_CTRL - 4096)));
	EXPECT_NE(0, mmap_err(mmap(NULL, 4096, PROT_READ, MAP_SHARED, r.fd,
				   (off_t)(~0ULL & ~4095ULL & (~0ULL >> 1)))));
	EXPECT_EQ(EINVAL, mmap_err(mmap(NULL, HEAP, PROT_READ | PROT_WRITE,
					MAP_PRIVATE, r.fd, GCA_OFF_HEAP)));
	EXPECT_EQ(EPERM, mmap_err(mmap(NULL, HEAP, PROT_READ | PROT_EXEC,
				       MAP_SHARED, r.fd, GCA_OFF_HEAP)));
	EXPECT_EQ(EINVAL, mmap_err(mmap(NULL, 8192, PROT_READ, MAP_SHARED,
					r.fd, GCA_OFF_CTRL)));
	EXPECT_EQ(EPERM, mmap_err(mmap(NULL, 4096, PROT_READ | PROT_WRITE,
				       MAP_SHARED, r.fd, GCA_OFF_CTRL)));
	EXPECT_EQ(EPERM, mmap_err(mmap(NULL, 4096, PROT_READ | PROT_EXEC,
				       MAP_SHARED, r.fd, GCA_OFF_CTRL)));

	/* The control page may be mapped twice (it is only read). */
	p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, r.fd, GCA_OFF_CTRL);
	q = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, r.fd, GCA_OFF_CTRL);
	ASSERT_NE(MAP_FAILED, p);
	if (q != MAP_FAILED) {
		EXPECT_EQ((__u32)GCA_CTRL_MAGIC, ((struct gca_ctrl *)q)->magic);
		/* a private copy cannot be made writable either */
		EXPECT_NE(0, mprotect(q, 4096, PROT_READ | PROT_WRITE));
		munmap(q, 4096);
	}
	EXPECT_EQ((__u32)GCA_CTRL_MAGIC, ((struct gca_ctrl *)p)->magic);
	r.ctrl = p;
	/* Not even through /proc/self/mem (FOLL_FORCE). */
	{
		uint32_t bad = 0xbadbad;
		int mfd = open("/proc/self/mem", O_RDWR | O_CLOEXEC);

		if (mfd >= 0) {
			EXPECT_GT(0, pwrite(mfd, &bad, 4, (off_t)(uintptr_t)p));
			close(mfd);
		}
		EXPECT_EQ((__u32)GCA_CTRL_MAGIC, r.ctrl->magic);
	}

	/* The heap once, PROT_NONE is enough to claim it. */
	r.heap = mmap(NULL, HEAP, PROT_NONE, MAP_SHARED, r.fd, GCA_OFF_HEAP);
	ASSERT_NE(MAP_FAILED, r.heap);
	EXPECT_EQ((__u64)(uintptr_t)r.heap, r.ctrl->heap_base);
	EXPECT_EQ(EBUSY, mmap_err(mmap(NULL, HEAP, PROT_READ | PROT_WRITE,
				       MAP_SHARED, r.fd, GCA_OFF_HEAP)));
	ASSERT_EQ(0, mprotect(r.heap, HEAP, PROT_READ | PROT_WRITE));
	/* Gone and asked for again: still once. */
	munmap(r.heap, HEAP);
	r.heap = MAP_FAILED;
	EXPECT_EQ(EBUSY, mmap_err(mmap(NULL, HEAP, PROT_READ | PROT_WRITE,
				       MAP_SHARED, r.fd, GCA_OFF_HEAP)));
	/* The arena works on without a heap mapping. */
	EXPECT_EQ(0, raw_register(r.fd));
	EXPECT_EQ(0, raw_hs(r.fd, GCA_IOC_COLLECT, NULL, 0, NULL));
	proc_arena_path(r.cr.id, path, sizeof(path));
	raw_free(&r);
	EXPECT_TRUE(wait_gone(path, 3000));
}

TEST_F_TIMEOUT(order, mremap_mprotect_madvise, 300)
{
	static const int advice[] = {
		MADV_DONTNEED, MADV_WILLNEED, MADV_SEQUENTIAL, MADV_RANDOM,
		MADV_REMOVE, MADV_FREE, MADV_COLD, MADV_PAGEOUT,
		MADV_HUGEPAGE, MADV_NOHUGEPAGE, MADV_MERGEABLE,
		MADV_UNMERGEABLE, MADV_DONTDUMP, MADV_DODUMP, MADV_WIPEONFORK,
		MADV_KEEPONFORK, MADV_DONTFORK, MADV_POPULATE_READ,
		MADV_POPULATE_WRITE, MADV_HWPOISON + 1000,
	};
	struct gca_arena *a;
	const struct gca_ctrl *ctrl;
	uint8_t *heap, *dst, *p;
	struct node *l;
	unsigned int i;

	ASSERT_EQ(0, open_arena(&self->a, 64 * SZ_1M, -1));
	a = self->a;
	heap = (uint8_t *)heap_base(a);
	ctrl = gca_ctrl(a);
	l = make_list(a, 3000);
	ASSERT_NE(NULL, l);

	/* mremap: the heap never moves nor grows. */
	dst = mmap(NULL, 128 * SZ_1M, PROT_NONE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ASSERT_NE(MAP_FAILED, dst);
	EXPECT_EQ(MAP_FAILED, mremap(heap, 64 * SZ_1M, 64 * SZ_1M,
				     MREMAP_MAYMOVE | MREMAP_FIXED, dst));
	EXPECT_EQ(MAP_FAILED, mremap(heap, 64 * SZ_1M, 128 * SZ_1M,
				     MREMAP_MAYMOVE));
	EXPECT_EQ(MAP_FAILED, mremap(heap, 64 * SZ_1M, 64 * SZ_1M + 4096, 0));
	EXPECT_EQ(MAP_FAILED, mremap(heap, 64 * SZ_1M, 64 * SZ_1M,
				     MREMAP_MAYMOVE | MREMAP_DONTUNMAP));
	/* a piece of it, moved */
	EXPECT_EQ(MAP_FAILED, mremap(heap + 8 * SZ_1M, SZ_1M, SZ_1M,
				     MREMAP_MAYMOVE | MREMAP_FIXED, dst));
	/* the control page neither */
	EXPECT_EQ(MAP_FAILED, mremap((void *)ctrl, 4096, 4096,
				     MREMAP_MAYMOVE | MREMAP_FIXED, dst));
	EXPECT_EQ(MAP_FAILED, mremap((void *)ctrl, 4096, 8192,
				     MREMAP_MAYMOVE));
	munmap(dst, 128 * SZ_1M);
	EXPECT_EQ((__u64)(uintptr_t)heap, ctrl->heap_base);
	EXPECT_TRUE(heap_mapped_at(l));

	/* mprotect: never executable; pieces may change (the VMA splits). */
	EXPECT_NE(0, mprotect(heap, 64 * SZ_1M, PROT_READ | PROT_EXEC));
	EXPECT_NE(0, mprotect((void *)ctrl, 4096, PROT_READ | PROT_WRITE));
	EXPECT_NE(0, mprotect((void *)ctrl, 4096, PROT_EXEC));
	EXPECT_EQ(0, mprotect(heap + 32 * SZ_1M, SZ_1M, PROT_READ));
	EXPECT_EQ(0, mprotect(heap + 40 * SZ_1M, SZ_1M, PROT_NONE));
	/* and a split piece still cannot move */
	dst = mmap(NULL, SZ_1M, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, dst);
	EXPECT_EQ(MAP_FAILED, mremap(heap + 32 * SZ_1M, SZ_1M, SZ_1M,
				     MREMAP_MAYMOVE | MREMAP_FIXED, dst));
	munmap(dst, SZ_1M);
	/* The whole heap PROT_NONE: the collector reads through its own
	 * mappings, so cycles work; the list is intact afterwards. */
	EXPECT_EQ(0, mprotect(heap, 64 * SZ_1M, PROT_NONE));
	EXPECT_EQ(0, gca_collect(a));
	EXPECT_EQ(0, gca_collect(a));
	EXPECT_EQ(0, mprotect(heap, 64 * SZ_1M, PROT_READ | PROT_WRITE));
	EXPECT_EQ(3000ULL, check_list(l, 1, SALT));

	/* madvise: whatever the advice, the memory is the arena's. */
	for (i = 0; i < sizeof(advice) / sizeof(advice[0]); i++) {
		int ret = madvise(heap, 64 * SZ_1M, advice[i]);

		TH_LOG("madvise(heap, %d) = %d (%s)", advice[i], ret,
		       ret ? strerror(errno) : "ok");
		/* (the control page: see ctrl_zapped_child) */
		if (advice[i] != MADV_DONTNEED)
			madvise((void *)ctrl, 4096, advice[i]);
		EXPECT_EQ(3000ULL, check_list(l, 1, SALT))
			TH_LOG("after advice %d", advice[i]);
		EXPECT_EQ(0, gca_collect(a));
	}
	/* Allocation still works, and writes stick. */
	p = gca_alloc(a, 1000);
	ASSERT_NE(NULL, p);
	memset(p, 0x5a, 1000);
	madvise((void *)((uintptr_t)p & ~4095UL), 4096, MADV_DONTNEED);
	EXPECT_EQ(0x5a, p[999]);
	EXPECT_EQ(3000ULL, check_list(l, 1, SALT));
	check_arena(_metadata, a);
}

/*
 * The heap and control page are VM_DONTCOPY: "not inherited by fork()
 * children" (README).  MADV_DOFORK clears VM_DONTCOPY on any mapping
 * that is not VM_IO, and then a child would share the parent's heap
 * unless the module stops it: the child may get the range, but reading
 * any of it must fault.  Returns 1 in the child if it could read the
 * heap, 2 the control page.
 */
static sigjmp_buf probe_jmp;

static void probe_fault(int sig)
{
	siglongjmp(probe_jmp, 1);
}

static bool child_reads(const void *p)
{
	struct sigaction sa = { .sa_handler = probe_fault };
	volatile bool ok = false;

	sigaction(SIGBUS, &sa, NULL);
	sigaction(SIGSEGV, &sa, NULL);
	if (!sigsetjmp(probe_jmp, 1)) {
		(void)*(volatile const uint64_t *)p;
		ok = true;
	}
	return ok;
}

static int dofork_child(const void *heap, const void *ctrl)
{
	int seen = 0;

	if (child_reads(heap))
		seen |= 1;
	if (child_reads(ctrl))
		seen |= 2;
	if (seen & 1)
		/* Writes into the parent's heap, from another process. */
		((volatile uint64_t *)heap)[1] = 0x6666666666666666ULL;
	return seen;
}

TEST_F_TIMEOUT(order, madv_dofork, 300)
{
	struct gca_arena *a;
	uint8_t *heap;
	const struct gca_ctrl *ctrl;
	struct node *l;
	char path[64];
	int status, rh, rc;
	pid_t pid;

	ASSERT_EQ(0, open_arena(&self->a, 16 * SZ_1M, -1));
	a = self->a;
	heap = (uint8_t *)heap_base(a);
	ctrl = gca_ctrl(a);
	l = make_list(a, 1000);
	ASSERT_NE(NULL, l);
	rh = madvise(heap, 16 * SZ_1M, MADV_DOFORK);
	rc = madvise((void *)ctrl, 4096, MADV_DOFORK);
	TH_LOG("MADV_DOFORK: heap %d, control page %d", rh, rc);

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0)
		_exit(dofork_child(l, ctrl));
	ASSERT_TRUE(wait_child(pid, 20000, &status));
	ASSERT_TRUE(WIFEXITED(status)) TH_LOG("status %#x", status);
	EXPECT_EQ(0, WEXITSTATUS(status))
		TH_LOG("after MADV_DOFORK a child of fork() %s%s",
		       WEXITSTATUS(status) & 1 ? "reads the parent's heap (and wrote into it) " : "",
		       WEXITSTATUS(status) & 2 ? "reads the control page" : "");
	/* Whatever happened, the arena works and the parent's list is
	 * intact but for the word the child may have written. */
	EXPECT_EQ(0, gca_collect(a));
	EXPECT_NE(NULL, gca_alloc(a, 64));
	check_arena(_metadata, a);
	proc_arena_path(gca_arena_id(a), path, sizeof(path));
	gca_close(a);
	self->a = NULL;
	EXPECT_TRUE(wait_gone(path, 3000));
}

/* ------------------------------------------------------------------ */

struct collector {
	struct gca_arena *a;
	volatile int stop;
	unsigned int collects, errors;
	int err;
	unsigned int period_ms;
};

static void *collector_main(void *arg)
{
	struct collector *c = arg;
	int ret;

	while (!c->stop) {
		ret = gca_collect(c->a);
		if (ret) {
			if (!c->errors++)
				c->err = ret;
		} else {
			c->collects++;
		}
		if (c->period_ms)
			sleep_ms(c->period_ms);
	}
	return NULL;
}

/* Garbage in pages of their own (64 KiB objects). */
__test_helper void make_garbage(struct gca_arena *a, unsigned int n)
{
	while (n--)
		memset(gca_alloc(a, 65536), 0x11, 64);
}

TEST_F_TIMEOUT(order, munmap_during_cycles, 120)
{
	struct collector c = { 0 };
	struct gca_arena *a;
	pthread_t th;
	uint8_t *heap;
	struct node *l;
	char path[64];
	unsigned int i, before;

	ASSERT_EQ(0, open_arena(&self->a, 64 * SZ_1M, 10));
	a = self->a;
	heap = (uint8_t *)heap_base(a);
	l = make_list(a, 2000);
	ASSERT_NE(NULL, l);
	make_garbage(a, 64);
	c.a = a;
	ASSERT_EQ(0, pthread_create(&th, NULL, collector_main, &c));

	/* Bits of the heap go while cycles run: the unused top, a window
	 * in the middle, then page by page from the top down to 8 MiB. */
	sleep_ms(50);
	EXPECT_EQ(0, munmap(heap + 48 * SZ_1M, 16 * SZ_1M));
	sleep_ms(50);
	EXPECT_EQ(0, munmap(heap + 20 * SZ_1M, SZ_1M));
	for (i = 0; i < 32; i++) {
		EXPECT_EQ(0, munmap(heap + 48 * SZ_1M - (i + 1) * SZ_1M,
				    SZ_1M));
		gca_poll(a);
	}
	before = c.collects;
	sleep_ms(300);
	EXPECT_EQ(2000ULL, check_list(l, 1, SALT));

	/* The whole heap goes: the list is unreachable for us now, but the
	 * arena's cycles go on (the collector reads its own mappings). */
	EXPECT_EQ(0, munmap(heap, 64 * SZ_1M));
	EXPECT_FALSE(heap_mapped_at(l));
	for (i = 0; i < 5; i++) {
		EXPECT_EQ(0, gca_collect(a));
		sleep_ms(20);
	}
	c.stop = 1;
	ASSERT_EQ(0, pthread_join(th, NULL));
	EXPECT_EQ(0U, c.errors) TH_LOG("gca_collect: %s", strerror(-c.err));
	EXPECT_LT(before, c.collects);
	check_arena(_metadata, a);
	/* A heap mapping can never come back. */
	EXPECT_EQ(EBUSY, mmap_err(mmap(NULL, 64 * SZ_1M,
				       PROT_READ | PROT_WRITE, MAP_SHARED,
				       gca_arena_fd(a), GCA_OFF_HEAP)));
	proc_arena_path(gca_arena_id(a), path, sizeof(path));
	gca_close(a);		/* munmaps what is gone already: fine */
	self->a = NULL;
	EXPECT_TRUE(wait_gone(path, 3000));
}

/* Child: heap read-only, then allocate and use. Dies by SIGSEGV. */
__test_helper int readonly_child(int how)
{
	struct gca_arena *a;
	uint8_t *p;

	if (open_arena(&a, 16 * SZ_1M, -1))
		return 100;
	if (how == 1) {
		/* dirty some memory first so that reuse needs zeroing */
		make_garbage(a, 4);
		if (churn(a, 200, 2000, 0) || gca_collect(a))
			return 101;
	}
	if (mprotect((void *)heap_base(a), 16 * SZ_1M, PROT_READ))
		return 102;
	p = how == 1 ? gca_alloc(a, 65536) : gca_alloc(a, 64);
	if (!p)
		return 103;
	/* the library zeroes reused memory; a fresh object we write */
	memset(p, 1, 64);
	return 104;
}

TEST_F_TIMEOUT(order, mprotect_readonly_child, 60)
{
	int how, status;
	pid_t pid;

	for (how = 0; how < 2; how++) {
		pid = fork();
		ASSERT_LE(0, pid);
		if (pid == 0)
			_exit(readonly_child(how));
		ASSERT_TRUE(wait_child(pid, 30000, &status));
		EXPECT_TRUE(WIFSIGNALED(status) &&
			    (WTERMSIG(status) == SIGSEGV ||
			     WTERMSIG(status) == SIGBUS))
			TH_LOG("case %d: status %#x (exit %d)", how, status,
			       WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	}
}

/* Child: the control page unmapped under the library. */
__test_helper int ctrl_child(void)
{
	struct gca_arena *a;

	if (open_arena(&a, 16 * SZ_1M, -1))
		return 100;
	munmap((void *)gca_ctrl(a), 4096);
	/* the library reads the control page at every safepoint */
	gca_alloc(a, 64);
	gca_collect(a);
	return 104;
}

TEST_F_TIMEOUT(order, ctrl_unmapped_child, 60)
{
	int status;
	pid_t pid;

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0)
		_exit(ctrl_child());
	ASSERT_TRUE(wait_child(pid, 30000, &status));
	EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV)
		TH_LOG("status %#x", status);
}

/*
 * Child: the process zaps its own control page mapping (MADV_DONTNEED,
 * as a runtime returning memory would over a whole address range).  The
 * page is the kernel's and always there: reading it must still work.
 */
__test_helper int ctrl_zap_child(int advice)
{
	struct gca_arena *a;
	const struct gca_ctrl *ctrl;

	if (open_arena(&a, 16 * SZ_1M, -1))
		return 100;
	ctrl = gca_ctrl(a);
	if (madvise((void *)ctrl, 4096, advice))
		return 0;		/* refused: fine too */
	if (*(volatile __u32 *)&ctrl->magic != GCA_CTRL_MAGIC)
		return 101;
	if (!gca_alloc(a, 64) || gca_collect(a))
		return 102;
	gca_close(a);
	return 0;
}

TEST_F_TIMEOUT(order, ctrl_zapped_child, 60)
{
	static const int advice[] = { MADV_DONTNEED, MADV_PAGEOUT,
				      MADV_COLD };
	unsigned int i;
	int status;
	pid_t pid;

	for (i = 0; i < sizeof(advice) / sizeof(advice[0]); i++) {
		pid = fork();
		ASSERT_LE(0, pid);
		if (pid == 0)
			_exit(ctrl_zap_child(advice[i]));
		ASSERT_TRUE(wait_child(pid, 30000, &status));
		EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
			TH_LOG("madvise(control page, %d): the process %s (status %#x)",
			       advice[i],
			       WIFSIGNALED(status) ? "died by a signal reading it" :
						     "failed", status);
	}
}

/* ------------------------------------------------------------------ */

TEST_F_TIMEOUT(order, close_while_mapped_raw, 300)
{
	struct gca_refill rf = { .size = sizeof(rf),
				 .spanclass = GCA_SPANCLASS(4, 0) };
	struct gca_stats st = { .size = sizeof(st) };
	uint8_t *obj;
	char path[64];
	struct raw r;
	int dup_fd;

	ASSERT_EQ(0, raw_make(&r, 0, true));
	ASSERT_EQ(0, raw_register(r.fd));
	ASSERT_EQ(0, ioctl_err(r.fd, GCA_IOC_REFILL, &rf));
	obj = r.heap + (rf.base - (uintptr_t)r.heap);
	memset(obj, 0x33, 32);
	proc_arena_path(r.cr.id, path, sizeof(path));

	/* A duplicate is the same file: it works, and outlives the first. */
	dup_fd = dup(r.fd);
	ASSERT_LE(0, dup_fd);
	close(r.fd);
	EXPECT_EQ(EBADF, ioctl_err(r.fd, GCA_IOC_READ_STATS, &st));
	EXPECT_EQ(0, ioctl_err(dup_fd, GCA_IOC_READ_STATS, &st));
	EXPECT_EQ(0, raw_hs(dup_fd, GCA_IOC_COLLECT, NULL, 0, NULL));
	close(dup_fd);
	r.fd = -1;

	/* No descriptor left: the mappings hold the arena. */
	EXPECT_TRUE(path_exists(path));
	EXPECT_EQ((__u32)GCA_CTRL_MAGIC, r.ctrl->magic);
	EXPECT_EQ(0x33, obj[31]);
	memset(obj, 0x44, 32);
	EXPECT_EQ(0x44, obj[0]);
	/* Pages without memory still fault: the arena is there. */
	munmap((void *)r.ctrl, r.cr.ctrl_size);
	r.ctrl = MAP_FAILED;
	EXPECT_TRUE(path_exists(path));
	munmap(r.heap, HEAP);
	r.heap = MAP_FAILED;
	EXPECT_TRUE(wait_gone(path, 3000));
}

TEST_F_TIMEOUT(order, close_behind_library, 300)
{
	struct gca_arena *a;
	struct node *l;
	char path[64];
	unsigned int n = 0;
	int ret;
	void *p;

	ASSERT_EQ(0, open_arena(&a, 16 * SZ_1M, -1));
	l = make_list(a, 1000);
	ASSERT_NE(NULL, l);
	proc_arena_path(gca_arena_id(a), path, sizeof(path));
	ASSERT_EQ(0, close(gca_arena_fd(a)));

	/* The mappings are still there, and so is the data. */
	EXPECT_EQ(1000ULL, check_list(l, 1, SALT));
	EXPECT_TRUE(path_exists(path));
	/* The library allocates from its cache until it needs the kernel,
	 * which says EBADF; cycles cannot be asked for. */
	errno = 0;
	while (n < 100000 && (p = gca_alloc(a, 32)))
		n++;
	EXPECT_EQ(EBADF, errno);
	EXPECT_GT(100000U, n);
	ret = gca_collect(a);
	EXPECT_EQ(-EBADF, ret);
	EXPECT_EQ(1000ULL, check_list(l, 1, SALT));
	/* gca_close() unmaps: the arena goes. (It closes the number again:
	 * nothing was opened since, so it is EBADF and harmless.) */
	gca_close(a);
	EXPECT_TRUE(wait_gone(path, 3000));
}

struct blocked_collect {
	int fd;
	int ret;
	volatile int started;
};

static void *blocked_collect_main(void *arg)
{
	struct blocked_collect *b = arg;

	b->started = 1;
	b->ret = raw_hs(b->fd, GCA_IOC_COLLECT, NULL, 0, NULL);
	return NULL;
}

static void nop_handler(int sig)
{
}

/*
 * A thread sleeps in COLLECT, waiting for a registered thread that never
 * answers (no preempt signal); the descriptor is closed and the mappings
 * go.  The sleeper holds the file: nothing is freed under it.  A signal
 * ends its wait, and then the arena goes.
 */
TEST_F_TIMEOUT(order, close_during_collect, 60)
{
	struct blocked_collect b = { 0 };
	struct sigaction sa;
	char path[64];
	pthread_t th;
	struct raw r;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = nop_handler;
	ASSERT_EQ(0, sigaction(SIGUSR2, &sa, NULL));
	ASSERT_EQ(0, raw_make(&r, 0, true));
	ASSERT_EQ(0, raw_register(r.fd));	/* and never answers */
	proc_arena_path(r.cr.id, path, sizeof(path));
	b.fd = r.fd;
	ASSERT_EQ(0, pthread_create(&th, NULL, blocked_collect_main, &b));
	while (!b.started)
		sleep_ms(1);
	sleep_ms(200);
	EXPECT_NE(0U, r.ctrl->phase);		/* stuck waiting for us */
	raw_free(&r);
	sleep_ms(200);
	EXPECT_TRUE(path_exists(path));
	pthread_kill(th, SIGUSR2);
	ASSERT_EQ(0, pthread_join(th, NULL));
	EXPECT_EQ(EINTR, b.ret) TH_LOG("COLLECT: %s", strerror(b.ret));
	EXPECT_TRUE(wait_gone(path, 3000));
}

/* ------------------------------------------------------------------ */

static int fork_checks(struct gca_arena *a, int fd, const void *heap,
		       const void *ctrl)
{
	struct gca_stats st = { .size = sizeof(st) };
	struct gca_thread_reg tr = { .size = sizeof(tr) };
	struct gca_create cr = { .size = sizeof(cr), .heap_size = HEAP };
	struct gca_info info = { .size = sizeof(info) };
	struct gca_arena *b;
	int fail = 0;

	if (heap_mapped_at(heap))
		fail |= 1;
	if (heap_mapped_at(ctrl))
		fail |= 2;
	thread_stack(&tr.stack_lo, &tr.stack_hi);
	if (ioctl_err(fd, GCA_IOC_READ_STATS, &st) != EPERM ||
	    ioctl_err(fd, GCA_IOC_REGISTER_THREAD, &tr) != EPERM ||
	    ioctl_err(fd, GCA_IOC_CREATE, &cr) != EPERM ||
	    raw_hs(fd, GCA_IOC_COLLECT, NULL, 0, NULL) != EPERM ||
	    raw_hs(fd, GCA_IOC_HANDSHAKE, NULL, 0, NULL) != EPERM)
		fail |= 4;
	if (mmap_err(mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd,
			  GCA_OFF_CTRL)) != EPERM)
		fail |= 8;
	if (ioctl_err(fd, GCA_IOC_GET_INFO, &info))
		fail |= 16;
	errno = 0;
	if (gca_alloc(a, 64) || errno != EPERM || gca_collect(a) != -EPERM)
		fail |= 32;
	gca_close(a);
	if (open_arena(&b, 16 * SZ_1M, 100))
		return fail | 64;
	if (!gca_alloc(b, 100) || gca_collect(b))
		fail |= 128;
	gca_close(b);
	return fail;
}

TEST_F_TIMEOUT(order, fork_with_mapping, 120)
{
	struct collector c = { 0 };
	struct gca_arena *a;
	pthread_t th;
	struct node *l;
	int i, status;
	pid_t pid;

	ASSERT_EQ(0, open_arena(&self->a, 16 * SZ_1M, 50));
	a = self->a;
	l = make_list(a, 2000);
	ASSERT_NE(NULL, l);
	c.a = a;
	ASSERT_EQ(0, pthread_create(&th, NULL, collector_main, &c));
	for (i = 0; i < 10; i++) {
		/* fork with cycles running in another thread */
		ASSERT_EQ(0, churn(a, 100, 200, 0));
		pid = fork();
		ASSERT_LE(0, pid);
		if (pid == 0)
			_exit(fork_checks(a, gca_arena_fd(a), l, gca_ctrl(a)));
		ASSERT_TRUE(wait_child(pid, 30000, &status));
		ASSERT_TRUE(WIFEXITED(status)) TH_LOG("status %#x", status);
		EXPECT_EQ(0, WEXITSTATUS(status))
			TH_LOG("fork %d: child check bits %#x", i,
			       WEXITSTATUS(status));
		EXPECT_EQ(2000ULL, check_list(l, 1, SALT));
	}
	c.stop = 1;
	ASSERT_EQ(0, pthread_join(th, NULL));
	EXPECT_EQ(0U, c.errors);
	EXPECT_EQ(0, gca_collect(a));
	EXPECT_EQ(2000ULL, check_list(l, 1, SALT));
	check_arena(_metadata, a);
}

/* ------------------------------------------------------------------ */
/* Processes that go away in the middle of a cycle.                    */

struct spinner {
	volatile int stop;
	struct gca_arena *a;
};

/* Registered, then never reaches a safepoint. */
static void *spin_main(void *arg)
{
	struct spinner *s = arg;

	gca_register_thread(s->a);
	while (!s->stop)
		;
	return NULL;
}

struct exiter {
	unsigned int ms;
};

/* _exit() from a thread of its own, whatever the others are doing. */
static void *exiter_main(void *arg)
{
	struct exiter *e = arg;

	sleep_ms(e->ms);
	_exit(0);
	return NULL;
}

/*
 * Child: an arena, a structure, a thread collecting in a loop, then
 * (how & 1) the main thread allocates, or (how & 2) a laggard thread
 * stalls every cycle (no preempt signal).  Writes the arena id to the
 * pipe, then dies as told: exit_now: _exit() after a short while;
 * otherwise waits to be killed.
 */
static void dying_child(int wfd, int how, bool exit_now, unsigned int ms)
{
	struct gca_params p = { .heap_size = 32 * SZ_1M,
				.flags = GCA_PARAM_GC_PERCENT,
				.gc_percent = 20 };
	struct collector c = { 0 };
	struct spinner s = { 0 };
	struct exiter e = { .ms = ms };
	struct gca_arena *a;
	pthread_t th, sp, ex;
	struct node *l;
	int id;

	if (how & 2)
		p.preempt_signal = -1;
	if (gca_open(&a, &p))
		_exit(100);
	l = make_list(a, 500);
	if (!l)
		_exit(101);
	c.a = a;
	s.a = a;
	if (how & 2)
		pthread_create(&sp, NULL, spin_main, &s);
	pthread_create(&th, NULL, collector_main, &c);
	id = gca_arena_id(a);
	if (write(wfd, &id, sizeof(id)) != sizeof(id))
		_exit(102);
	if (exit_now)
		pthread_create(&ex, NULL, exiter_main, &e);
	for (;;) {
		if (how & 1)
			churn(a, 64, 100, 0);
		else
			sleep_ms(10);
	}
}

/* Run one dying child; 0, or a bitmask of what went wrong. */
__test_helper int one_dying_child(int how, bool use_kill, unsigned int ms,
				  int *why_status)
{
	int pfd[2], id = 0, status = 0, bad = 0;
	char path[64];
	pid_t pid;

	if (pipe(pfd))
		return 1;
	pid = fork();
	if (pid < 0)
		return 1;
	if (pid == 0) {
		close(pfd[0]);
		dying_child(pfd[1], how, !use_kill, ms);
	}
	close(pfd[1]);
	if (read(pfd[0], &id, sizeof(id)) != sizeof(id))
		bad |= 2;
	close(pfd[0]);
	if (use_kill) {
		sleep_ms(ms);
		kill(pid, SIGKILL);
	}
	if (!wait_child(pid, 20000, &status))
		return bad | 4;			/* a hang */
	*why_status = status;
	if (use_kill ? !(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) :
		       !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
		bad |= 8;
	if (id > 0) {
		proc_arena_path(id, path, sizeof(path));
		if (!wait_gone(path, 5000))
			bad |= 16;		/* the arena outlived it */
	}
	return bad;
}

TEST_F_TIMEOUT(order, exit_mid_cycle, 300)
{
	int i, bad, status = 0;

	for (i = 0; i < 20; i++) {
		bad = one_dying_child(i % 4, false, 1 + (i * 7) % 25, &status);
		EXPECT_EQ(0, bad) TH_LOG("run %d (how %d): problems %#x, status %#x",
					 i, i % 4, bad, status);
	}
}

TEST_F_TIMEOUT(order, sigkill_mid_cycle, 300)
{
	int i, bad, status = 0;

	for (i = 0; i < 20; i++) {
		bad = one_dying_child(i % 4, true, (i * 11) % 30, &status);
		EXPECT_EQ(0, bad) TH_LOG("run %d (how %d): problems %#x, status %#x",
					 i, i % 4, bad, status);
	}
}

/*
 * A stopped process holds its arena's cycle forever (its threads cannot
 * answer).  Other arenas do not notice; SIGKILL ends it all.
 */
TEST_F_TIMEOUT(order, stopped_process_isolated, 120)
{
	int pfd[2], id, status, i;
	struct node *l;
	char path[64];
	pid_t pid;

	ASSERT_EQ(0, open_arena(&self->a, 16 * SZ_1M, 100));
	l = make_list(self->a, 1000);
	ASSERT_NE(NULL, l);
	ASSERT_EQ(0, pipe(pfd));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		close(pfd[0]);
		dying_child(pfd[1], 1, false, 0);
	}
	close(pfd[1]);
	ASSERT_EQ((ssize_t)sizeof(id), read(pfd[0], &id, sizeof(id)));
	close(pfd[0]);
	sleep_ms(50);
	kill(pid, SIGSTOP);
	for (i = 0; i < 10; i++) {
		EXPECT_EQ(0, gca_collect(self->a));
		EXPECT_EQ(1000ULL, check_list(l, 1, SALT));
		sleep_ms(30);
	}
	proc_arena_path(id, path, sizeof(path));
	EXPECT_TRUE(path_exists(path));
	kill(pid, SIGKILL);
	ASSERT_TRUE(wait_child(pid, 20000, &status));
	EXPECT_TRUE(WIFSIGNALED(status));
	EXPECT_TRUE(wait_gone(path, 5000));
	EXPECT_EQ(0, gca_collect(self->a));
	check_arena(_metadata, self->a);
}

/* ------------------------------------------------------------------ */

struct leaver {
	struct gca_arena *a;
	int mid_cycle;
	int ret;
};

/* Register (by allocating), maybe wait for a cycle, exit by syscall:
 * no thread-exit destructor runs, nothing is unregistered. */
static void *leaver_main(void *arg)
{
	struct leaver *lv = arg;
	const struct gca_ctrl *ctrl = gca_ctrl(lv->a);
	uint64_t end;
	void *p;

	p = gca_alloc(lv->a, 48);
	lv->ret = p ? 0 : errno;
	if (p && lv->mid_cycle) {
		end = now_ns() + 50 * 1000000ULL;
		while (!__atomic_load_n(&ctrl->phase, __ATOMIC_RELAXED) &&
		       now_ns() < end)
			;
	}
	syscall(SYS_exit, 0);
	return NULL;
}

TEST_F_TIMEOUT(order, thread_exit_without_unregister, 300)
{
	struct collector c = { .period_ms = 20 };
	struct gca_arena *a;
	pthread_attr_t attr;
	struct leaver lv;
	struct node *l;
	pthread_t th, t;
	unsigned int i, fails = 0;
	int first_err = 0;

	ASSERT_EQ(0, open_arena(&self->a, 32 * SZ_1M, 100));
	a = self->a;
	l = make_list(a, 1000);
	ASSERT_NE(NULL, l);
	c.a = a;
	ASSERT_EQ(0, pthread_create(&th, NULL, collector_main, &c));
	ASSERT_EQ(0, pthread_attr_init(&attr));
	ASSERT_EQ(0, pthread_attr_setstacksize(&attr, 128 * 1024));
	/* More than GCA_MAX_THREADS (1024): dead threads must be reaped. */
	for (i = 0; i < 1100; i++) {
		lv.a = a;
		lv.mid_cycle = i % 8 == 0;
		lv.ret = -1;
		ASSERT_EQ(0, pthread_create(&t, &attr, leaver_main, &lv));
		ASSERT_EQ(0, pthread_join(t, NULL));
		if (lv.ret) {
			if (!fails++)
				first_err = lv.ret;
		}
	}
	pthread_attr_destroy(&attr);
	c.stop = 1;
	ASSERT_EQ(0, pthread_join(th, NULL));
	EXPECT_EQ(0U, fails) TH_LOG("%u threads could not register: %s",
				    fails, strerror(first_err));
	EXPECT_EQ(0U, c.errors) TH_LOG("gca_collect: %s", strerror(-c.err));
	EXPECT_LT(5U, c.collects);
	EXPECT_EQ(0, gca_collect(a));
	EXPECT_EQ(1000ULL, check_list(l, 1, SALT));
	check_arena(_metadata, a);
}

/*
 * The same without any cycle: with GOGC off nothing starts one, so the
 * dead threads must be noticed when their slots are wanted.  More than
 * GCA_MAX_THREADS (1024) threads register and exit by the raw system
 * call, one after the other; every registration succeeds, and no cycle
 * ran meanwhile.
 */
struct raw_leaver {
	int fd;
	int err;
};

static void *raw_leaver_main(void *arg)
{
	struct raw_leaver *lv = arg;

	lv->err = raw_register(lv->fd);
	syscall(SYS_exit, 0);
	return NULL;
}

TEST_F_TIMEOUT(order, dead_threads_gogc_off, 300)
{
	struct gca_params_arg pa = { .size = sizeof(pa),
				     .flags = GCA_SET_GC_PERCENT,
				     .gc_percent = -1 };
	struct gca_stats st = { .size = sizeof(st) };
	unsigned int i, fails = 0, first = 0;
	struct raw_leaver lv;
	pthread_attr_t attr;
	int first_err = 0;
	struct raw r;
	pthread_t t;

	ASSERT_EQ(0, raw_make(&r, 0, false));
	ASSERT_EQ(0, ioctl_err(r.fd, GCA_IOC_SET_PARAMS, &pa));
	ASSERT_EQ(0, pthread_attr_init(&attr));
	ASSERT_EQ(0, pthread_attr_setstacksize(&attr, 64 * 1024));
	for (i = 0; i < 1100; i++) {
		lv.fd = r.fd;
		lv.err = -1;
		ASSERT_EQ(0, pthread_create(&t, &attr, raw_leaver_main, &lv));
		ASSERT_EQ(0, pthread_join(t, NULL));
		if (lv.err && !fails++) {
			first = i;
			first_err = lv.err;
		}
	}
	pthread_attr_destroy(&attr);
	EXPECT_EQ(0U, fails)
		TH_LOG("%u registrations refused, from thread %u on (%s): dead threads are reaped only by a cycle?",
		       fails, first, strerror(first_err));
	ASSERT_EQ(0, ioctl_err(r.fd, GCA_IOC_READ_STATS, &st));
	EXPECT_EQ(0U, st.num_gc);
	raw_free(&r);
}

#ifdef GCA_HS_PARK
/*
 * Concurrent marking lets a thread park (GCA_HS_PARK) before it blocks:
 * it counts as answering and other threads scan its stack.  A parked
 * thread that dies without unregistering must be forgotten like any
 * other dead thread, or 1024 of them fill the arena for good.
 */
struct parker {
	int fd;
	int reg_err, park_err;
};

static void *parker_main(void *arg)
{
	struct parker *p = arg;
	struct gca_handshake hs = { .size = sizeof(hs), .flags = GCA_HS_PARK };

	p->reg_err = raw_register(p->fd);
	if (!p->reg_err) {
		hs.sp = (uintptr_t)__builtin_frame_address(0);
		p->park_err = ioctl_err(p->fd, GCA_IOC_HANDSHAKE, &hs);
	}
	syscall(SYS_exit, 0);
	return NULL;
}

struct raw_collector {
	int fd;
	volatile int stop;
	unsigned int collects, errors;
	int err;
};

static void *raw_collector_main(void *arg)
{
	struct raw_collector *c = arg;
	int ret;

	ret = raw_register(c->fd);
	while (!ret && !c->stop) {
		ret = raw_hs(c->fd, GCA_IOC_COLLECT, NULL, 0, NULL);
		if (ret == EINTR) {
			ret = 0;
			continue;
		}
		if (ret) {
			c->err = ret;
			c->errors++;
			break;
		}
		c->collects++;
		sleep_ms(5);
	}
	if (ret && !c->errors) {
		c->err = ret;
		c->errors++;
	}
	return NULL;
}

TEST_F_TIMEOUT(order, parked_thread_exits, 300)
{
	struct raw_collector c = { 0 };
	struct parker p;
	pthread_attr_t attr;
	pthread_t th, t;
	unsigned int i, reg_fail = 0, park_fail = 0;
	int first = 0, first_err = 0;
	struct raw r;

	ASSERT_EQ(0, raw_make(&r, 0, true));
	c.fd = r.fd;
	ASSERT_EQ(0, pthread_create(&th, NULL, raw_collector_main, &c));
	ASSERT_EQ(0, pthread_attr_init(&attr));
	ASSERT_EQ(0, pthread_attr_setstacksize(&attr, 64 * 1024));
	for (i = 0; i < 1100; i++) {
		p.fd = r.fd;
		p.reg_err = p.park_err = -1;
		ASSERT_EQ(0, pthread_create(&t, &attr, parker_main, &p));
		ASSERT_EQ(0, pthread_join(t, NULL));
		if (p.reg_err) {
			if (!reg_fail++) {
				first = i;
				first_err = p.reg_err;
			}
		} else if (p.park_err) {
			park_fail++;
		}
		if (i % 50 == 49)
			sleep_ms(20);	/* let a cycle or two run */
	}
	pthread_attr_destroy(&attr);
	c.stop = 1;
	ASSERT_EQ(0, pthread_join(th, NULL));
	EXPECT_EQ(0U, park_fail);
	EXPECT_EQ(0U, reg_fail)
		TH_LOG("registrations refused from thread %u on (%u of 1100, first: %s): parked threads that exited are never forgotten?",
		       first, reg_fail, strerror(first_err));
	EXPECT_EQ(0U, c.errors) TH_LOG("COLLECT: %s", strerror(c.err));
	EXPECT_LT(5U, c.collects);
	raw_free(&r);
}
#endif

/* ------------------------------------------------------------------ */
/* Every ioctl of a registered thread while a handshake is pending for */
/* it (no preempt signal: nothing answers for it) must return: the     */
/* cycle waits for this very thread.                                   */

static volatile sig_atomic_t alarm_fired;

static void alarm_handler(int sig)
{
	alarm_fired = 1;
}

struct starter {
	int fd;
	int ret;
	volatile int done;
};

static void *start_cycle_main(void *arg)
{
	struct starter *s = arg;

	/* unregistered: its own COLLECT waits for the registered one */
	s->ret = raw_hs(s->fd, GCA_IOC_COLLECT, NULL, 0, NULL);
	s->done = 1;
	return NULL;
}

/*
 * Answer every request until the cycle the starter asked for is over
 * (one answer holds the thread to the end with a stop-the-world mark;
 * with concurrent marking each request is answered separately).
 */
static int answer_until_done(int fd, struct starter *s)
{
	uint64_t t0 = now_ns();
	int ret = 0;

	while (!s->done && now_ns() - t0 < 20000000000ULL) {
		ret = raw_hs(fd, GCA_IOC_HANDSHAKE, NULL, 0, NULL);
		if (ret && ret != EINTR)
			break;
		sleep_ms(1);
	}
	return s->done ? ret : ETIMEDOUT;
}

/*
 * Wait until the cycle the starter began asks this thread for an answer:
 * its first request, or (at_term) mark termination, answering the
 * requests before it.  False if that moment never came.
 */
static bool wait_for_request(struct raw *r, struct starter *s, int at_term)
{
	uint64_t t0 = now_ns(), answered = r->ctrl->hs_seq;

	while (now_ns() - t0 < 5000000000ULL && !s->done) {
		uint32_t phase = __atomic_load_n(&r->ctrl->phase,
						 __ATOMIC_ACQUIRE);
		uint64_t seq = __atomic_load_n(&r->ctrl->hs_seq,
					       __ATOMIC_ACQUIRE);

		if (!at_term && phase != GCA_PHASE_OFF)
			return true;
		if (at_term && phase == GCA_PHASE_MARK_TERM)
			return true;
		if (at_term && phase == GCA_PHASE_MARK && seq != answered) {
			answered = seq;
			raw_hs(r->fd, GCA_IOC_HANDSHAKE, NULL, 0, NULL);
			continue;
		}
		sleep_ms(1);
	}
	return false;
}

/* errno of cmd(arg), or -1 if it blocked for 3 s (cut off). */
static int timed_ioctl(int fd, unsigned long cmd, void *arg)
{
	struct itimerval it = { .it_value = { .tv_sec = 3 } };
	struct itimerval off = { 0 };
	int ret;

	alarm_fired = 0;
	setitimer(ITIMER_REAL, &it, NULL);
	ret = ioctl_err(fd, cmd, arg);
	setitimer(ITIMER_REAL, &off, NULL);
	return alarm_fired ? -1 : ret;
}

TEST_F_TIMEOUT(order, ioctls_while_handshake_pending, 120)
{
	struct gca_thread_reg tr = { .size = sizeof(tr) };
	struct gca_refill rf = { .size = sizeof(rf),
				 .spanclass = GCA_SPANCLASS(2, 0) };
	struct gca_alloc_large al = { .size = sizeof(al), .bytes = 100000 };
	struct gca_stats st = { .size = sizeof(st) };
	struct gca_params_arg pa = { .size = sizeof(pa) };
	struct gca_roots ro = { .size = sizeof(ro) };
	struct gca_info info = { .size = sizeof(info) };
	static uint64_t area[16];
	struct {
		const char *name;
		unsigned long cmd;
		void *arg;
		int want;
	} calls[] = {
		{ "REGISTER (again)", GCA_IOC_REGISTER_THREAD, &tr, EEXIST },
		{ "REFILL", GCA_IOC_REFILL, &rf, EAGAIN },
		{ "ALLOC_LARGE", GCA_IOC_ALLOC_LARGE, &al, EAGAIN },
		{ "READ_STATS", GCA_IOC_READ_STATS, &st, 0 },
		{ "SET_PARAMS", GCA_IOC_SET_PARAMS, &pa, 0 },
		{ "ADD_ROOTS", GCA_IOC_ADD_ROOTS, &ro, 0 },
		{ "REMOVE_ROOTS", GCA_IOC_REMOVE_ROOTS, &ro, 0 },
		{ "GET_INFO", GCA_IOC_GET_INFO, &info, 0 },
	};
	struct starter s;
	struct sigaction sa;
	pthread_t th;
	unsigned int i;
	uint64_t t0;
	struct raw r;
	int ret, at_term;
	bool reached;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = alarm_handler;	/* no SA_RESTART: cut the wait */
	ASSERT_EQ(0, sigaction(SIGALRM, &sa, NULL));
	ASSERT_EQ(0, raw_make(&r, 0, true));
	ASSERT_EQ(0, raw_register(r.fd));
	thread_stack(&tr.stack_lo, &tr.stack_hi);
	ro.start = (uintptr_t)area;
	ro.len = sizeof(area);

	/*
	 * Twice: at the cycle's first request, and at mark termination
	 * (concurrent marking: threads are held there once they answer;
	 * a stop-the-world kernel has no such moment to wait in).
	 */
	for (at_term = 0; at_term < 2; at_term++) {
		for (i = 0; i < sizeof(calls) / sizeof(calls[0]); i++) {
			s.fd = r.fd;
			s.ret = -1;
			s.done = 0;
			ASSERT_EQ(0, pthread_create(&th, NULL, start_cycle_main,
						    &s));
			reached = wait_for_request(&r, &s, at_term);
			if (reached) {
				t0 = now_ns();
				ret = timed_ioctl(r.fd, calls[i].cmd,
						  calls[i].arg);
				EXPECT_NE(-1, ret)
					TH_LOG("%s while the kernel waits for this thread's answer%s: blocked (cut off after 3 s)",
					       calls[i].name, at_term ?
					       " at mark termination" : "");
				if (ret != -1)
					EXPECT_EQ(calls[i].want, ret)
						TH_LOG("%s%s: %s after %llu ms",
						       calls[i].name, at_term ?
						       " (mark termination)" : "",
						       strerror(ret),
						       (unsigned long long)(now_ns() - t0) / 1000000);
			}
			/* now answer, and the cycle ends */
			EXPECT_EQ(0, answer_until_done(r.fd, &s));
			ASSERT_EQ(0, pthread_join(th, NULL));
			EXPECT_EQ(0, s.ret);
			if (!reached) {
				TH_LOG("no mark termination to wait in: stop-the-world kernel?");
				break;
			}
		}
	}
	/* UNREGISTER while it waits for us: the cycle goes on without us. */
	s.ret = -1;
	s.done = 0;
	ASSERT_EQ(0, pthread_create(&th, NULL, start_cycle_main, &s));
	t0 = now_ns();
	while (r.ctrl->phase == GCA_PHASE_OFF && now_ns() - t0 < 5000000000ULL)
		sleep_ms(1);
	{
		struct gca_thread_unreg tu = { .size = sizeof(tu) };

		EXPECT_EQ(0, timed_ioctl(r.fd, GCA_IOC_UNREGISTER_THREAD, &tu));
	}
	ASSERT_EQ(0, pthread_join(th, NULL));
	EXPECT_EQ(0, s.ret);
	raw_free(&r);
}

/* ------------------------------------------------------------------ */
/* execve() by a registered thread, the arena's file without O_CLOEXEC:  */
/* the registration dies with its mm; the cycle goes on without it, and  */
/* the new program gets no preempt signal.  The new program is this one, */
/* run as a helper (exec_helper() below, before main()): it counts       */
/* SIGURG for 500 ms, reports through a pipe, and stays alive (an exit   */
/* would end the registration anyway) until the test closes another.    */

#define EXEC_HELPER	"--gca-exec-helper"

struct exec_report {
	int sigs;		/* preempt signals the new image received */
	int cycle_done;		/* "cycle": the pending cycle ended */
};

static volatile sig_atomic_t helper_sigs;

static void helper_sigurg(int sig)
{
	helper_sigs++;
}

/*
 * argv: self EXEC_HELPER MODE ARENA_FD REPORT_FD HOLD_FD.  MODE "cycle": first
 * wait (up to 10 s) for the arena's pending cycle to end, with poll() on
 * the inherited file (readable once a cycle completed).  glibc passes
 * argc and argv to constructors, static binaries included.
 */
__attribute__((constructor)) static void exec_helper(int argc, char **argv)
{
	struct exec_report rep = { 0 };
	struct sigaction sa;
	struct pollfd pfd;
	uint64_t end;
	ssize_t n;
	char c;

	if (argc != 6 || strcmp(argv[1], EXEC_HELPER))
		return;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = helper_sigurg;
	sigaction(SIGURG, &sa, NULL);
	if (!strcmp(argv[2], "cycle")) {
		pfd.fd = atoi(argv[3]);
		pfd.events = POLLIN;
		end = now_ns() + 10000000000ULL;
		while (!rep.cycle_done && now_ns() < end)
			if (poll(&pfd, 1, 100) > 0 && (pfd.revents & POLLIN))
				rep.cycle_done = 1;
	}
	end = now_ns() + 500000000ULL;
	while (now_ns() < end)
		sleep_ms(10);
	rep.sigs = helper_sigs;
	if (write(atoi(argv[4]), &rep, sizeof(rep)) != sizeof(rep))
		_exit(1);
	/* until the test closes the other end */
	for (;;) {
		n = read(atoi(argv[5]), &c, 1);
		if (!n || (n < 0 && errno != EINTR))
			break;
	}
	_exit(0);
}

/* hold: the read end of the pipe whose closing ends the helper */
static void exec_self(const char *mode, int fd, int out, int hold)
{
	char fdarg[16], outarg[16], holdarg[16];

	snprintf(fdarg, sizeof(fdarg), "%d", fd);
	snprintf(outarg, sizeof(outarg), "%d", out);
	snprintf(holdarg, sizeof(holdarg), "%d", hold);
	execl("/proc/self/exe", "gca_exec_helper", EXEC_HELPER, mode, fdarg,
	      outarg, holdarg, (char *)NULL);
}

/*
 * The child: its main thread registered, a cycle started by an
 * unregistered thread's COLLECT and waiting for the main thread's answer
 * (no handler: SIGURG is ignored), the main thread calls execve().  The
 * collector must not wait for it any longer, nor signal the new program.
 */
static void exec_mid_cycle_child(int out, int hold)
{
	struct starter s = { 0 };
	struct raw r;
	pthread_t th;
	uint64_t t0;

	if (raw_make_flags(&r, SIGURG, true, 0))
		_exit(2);
	if (raw_register(r.fd))
		_exit(3);
	s.fd = r.fd;
	if (pthread_create(&th, NULL, start_cycle_main, &s))
		_exit(4);
	t0 = now_ns();
	while (__atomic_load_n(&r.ctrl->phase, __ATOMIC_ACQUIRE) ==
	       GCA_PHASE_OFF && now_ns() - t0 < 10000000000ULL)
		sleep_ms(1);
	if (r.ctrl->phase == GCA_PHASE_OFF)
		_exit(5);
	exec_self("cycle", r.fd, out, hold);
	_exit(6);
}

TEST_F_TIMEOUT(order, exec_registered_thread, 60)
{
	struct exec_report rep = { -1, -1 };
	int pfd[2], hold[2], status = 0;
	ssize_t n;
	pid_t pid;

	ASSERT_EQ(0, pipe(pfd));
	ASSERT_EQ(0, pipe(hold));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		close(pfd[0]);
		close(hold[1]);
		exec_mid_cycle_child(pfd[1], hold[0]);
	}
	close(pfd[1]);
	close(hold[0]);
	n = read(pfd[0], &rep, sizeof(rep));
	close(pfd[0]);
	close(hold[1]);
	EXPECT_EQ((ssize_t)sizeof(rep), n) TH_LOG("no report from the new image");
	EXPECT_EQ(1, rep.cycle_done)
		TH_LOG("the cycle waited for a thread that had called execve()");
	EXPECT_EQ(0, rep.sigs)
		TH_LOG("the new program got %d preempt signals", rep.sigs);
	ASSERT_TRUE(wait_child(pid, 20000, &status));
	EXPECT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status))
		TH_LOG("child status %#x", status);
}

/*
 * A CLONE_VM child (vfork, as posix_spawn() makes it) registers with the
 * arena (same mm) and calls execve(); the parent's gca_collect() (a
 * registered thread's COLLECT) must complete, and the new program gets
 * no signal (it is not even of the arena's thread group).
 */
struct vm_sibling {
	int fd, out, hold;
	int reg_err;
	char *stack;
	size_t stack_size;
};

static int vm_sibling_main(void *arg)
{
	struct vm_sibling *v = arg;
	struct gca_thread_reg tr = { .size = sizeof(tr) };

	tr.stack_lo = (uintptr_t)v->stack;
	tr.stack_hi = (uintptr_t)v->stack + v->stack_size;
	v->reg_err = ioctl_err(v->fd, GCA_IOC_REGISTER_THREAD, &tr);
	if (!v->reg_err)
		exec_self("count", v->fd, v->out, v->hold);
	_exit(7);
}

static void exec_vm_sibling_child(int out, int hold)
{
	struct vm_sibling v = { .out = out, .hold = hold, .reg_err = -1 };
	struct raw r;
	pid_t pid;

	if (raw_make_flags(&r, SIGURG, true, 0))
		_exit(2);
	if (raw_register(r.fd))
		_exit(3);
	v.fd = r.fd;
	v.stack_size = 256 * 1024;
	v.stack = malloc(v.stack_size);
	if (!v.stack)
		_exit(4);
	/* CLONE_VFORK: back here once the child has called execve() */
	pid = clone(vm_sibling_main, v.stack + v.stack_size,
		    CLONE_VM | CLONE_VFORK | SIGCHLD, &v);
	if (pid < 0 || v.reg_err)
		_exit(5);
	_exit(raw_hs(r.fd, GCA_IOC_COLLECT, NULL, 0, NULL) ? 6 : 0);
}

TEST_F_TIMEOUT(order, exec_clone_vm_sibling, 60)
{
	struct exec_report rep = { -1, -1 };
	int pfd[2], hold[2], status = 0;
	bool exited;
	ssize_t n;
	pid_t pid;

	ASSERT_EQ(0, pipe(pfd));
	ASSERT_EQ(0, pipe(hold));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		close(pfd[0]);
		close(hold[1]);
		exec_vm_sibling_child(pfd[1], hold[0]);
	}
	close(pfd[1]);
	close(hold[0]);
	/* the new program stays alive meanwhile: its exit would free it */
	exited = wait_child(pid, 10000, &status);
	n = read(pfd[0], &rep, sizeof(rep));
	close(pfd[0]);
	close(hold[1]);
	EXPECT_TRUE(exited)
		TH_LOG("gca_collect() waited for a registration whose task had called execve()");
	if (exited)
		EXPECT_EQ(0, status) TH_LOG("child status %#x", status);
	ASSERT_EQ((ssize_t)sizeof(rep), n) TH_LOG("no report from the new image");
	EXPECT_EQ(0, rep.sigs)
		TH_LOG("the new program got %d preempt signals", rep.sigs);
}

/* ------------------------------------------------------------------ */

/* Last: the module is still fully working. */
GCA_TEST_STILL_WORKING(SALT)

TEST_HARNESS_MAIN
