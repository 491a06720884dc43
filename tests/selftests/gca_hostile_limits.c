// SPDX-License-Identifier: GPL-2.0
/*
 * Hostile process, area 5: limits.  A process asks for more than it may
 * have: arenas (GCA_MAX_ARENAS_PER_MM = 64), heap sizes out of range,
 * more heap than its arena holds, more memory than its memory cgroup
 * allows, more registered threads (GCA_MAX_THREADS = 1024) and root
 * ranges (GCA_MAX_ROOTS = 1024) than an arena takes, and the most
 * arenas of the largest heap left empty, whose kernel memory must follow
 * what they use, not what they reserve.  Expected: the documented error
 * at exactly the limit (EMFILE, EINVAL, ENOMEM, ENOSPC), never an OOM
 * kill or a splat, kernel memory charged to the process's memory cgroup,
 * and everything works again once the process gives back what it took.
 *
 * Tests:
 *   limits.arenas_per_process   limits.heap_size_bounds
 *   limits.heap_exhaustion      limits.memcg_enomem
 *   limits.empty_arenas_cost    limits.memcg_metadata
 *   limits.max_threads_raw      limits.max_threads_library
 *   limits.max_roots            zz_final.still_working (last)
 */
#include <dirent.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/wait.h>

#include "gca_test_raw.h"

/* The module's limits (kmod/gcarena_private.h). */
#define MAX_ARENAS_PER_MM	64
#define MAX_THREADS		1024
#define MAX_ROOTS		1024

#define SALT	0x11b175ULL

GCA_ARENA_FIXTURE(limits);

/* ------------------------------------------------------------------ */

/* Fill this process with arenas; 0, or a bitmask of failures. */
__test_helper int fill_arenas(int *fds)
{
	struct gca_create cr = { .size = sizeof(cr), .heap_size = 4 * SZ_1M };
	struct gca_arena *a;
	int i, fd, fail = 0;

	for (i = 0; i < MAX_ARENAS_PER_MM; i++) {
		fds[i] = raw_create(4 * SZ_1M, NULL);
		if (fds[i] < 0)
			return 1;
	}
	/* The 65th: EMFILE, through raw CREATE and through the library. */
	fd = open(GCA_DEV, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return 2;
	if (ioctl_err(fd, GCA_IOC_CREATE, &cr) != EMFILE)
		fail |= 4;
	if (open_arena(&a, 4 * SZ_1M, 100) != -EMFILE)
		fail |= 8;
	/* One gone: the same file creates now (the failure left nothing). */
	close(fds[17]);
	if (ioctl_err(fd, GCA_IOC_CREATE, &cr))
		fail |= 16;
	fds[17] = fd;
	if (raw_create(4 * SZ_1M, NULL) != -EMFILE)
		fail |= 32;
	return fail;
}

TEST_F_TIMEOUT(limits, arenas_per_process, 240)
{
	int fds[MAX_ARENAS_PER_MM], i, status, ret;
	pid_t pid;

	ret = fill_arenas(fds);
	ASSERT_EQ(0, ret) TH_LOG("this process: failure bits %#x", ret);
	/* The limit is per process: a child has 64 of its own. */
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		int cfds[MAX_ARENAS_PER_MM];

		for (i = 0; i < MAX_ARENAS_PER_MM; i++)
			close(fds[i]);
		_exit(fill_arenas(cfds));
	}
	ASSERT_TRUE(wait_child(pid, 120000, &status));
	ASSERT_TRUE(WIFEXITED(status)) TH_LOG("status %#x", status);
	EXPECT_EQ(0, WEXITSTATUS(status))
		TH_LOG("child: failure bits %#x", WEXITSTATUS(status));
	for (i = 0; i < MAX_ARENAS_PER_MM; i++)
		close(fds[i]);
	/* All gone: the library opens again. */
	ASSERT_EQ(0, open_arena(&self->a, 4 * SZ_1M, 100));
	EXPECT_NE(NULL, gca_alloc(self->a, 64));
}

TEST_F_TIMEOUT(limits, heap_size_bounds, 120)
{
	static const uint64_t bad[] = {
		1, 4096, GCA_PAGE_SIZE, GCA_HEAP_SIZE_MIN - GCA_PAGE_SIZE,
		GCA_HEAP_SIZE_MIN - 1, GCA_HEAP_SIZE_MIN + 1,
		GCA_HEAP_SIZE_MIN + 4096, GCA_HEAP_SIZE_MAX + 1,
		GCA_HEAP_SIZE_MAX + GCA_PAGE_SIZE, GCA_HEAP_SIZE_MAX * 2,
		1ULL << 63, ~0ULL, ~0ULL & ~(GCA_PAGE_SIZE - 1),
		(1ULL << 32) + 4096,
	};
	struct gca_params p = { 0 };
	struct gca_memstats ms;
	struct gca_arena *a;
	struct node *l;
	unsigned int i;
	int fd;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		fd = raw_create(bad[i], NULL);
		EXPECT_EQ(-EINVAL, fd) TH_LOG("heap_size %#llx",
					      (unsigned long long)bad[i]);
		if (fd >= 0)
			close(fd);
		p.heap_size = bad[i];
		EXPECT_EQ(-EINVAL, gca_open(&a, &p));
	}
	/* Exactly at the bounds, and the default. */
	fd = raw_create(GCA_HEAP_SIZE_MIN, NULL);
	EXPECT_LE(0, fd);
	close(fd);
	fd = raw_create(0, NULL);
	EXPECT_LE(0, fd);
	close(fd);

	/* The largest heap is virtual: it maps, allocates and collects. */
	ASSERT_EQ(0, open_arena(&self->a, GCA_HEAP_SIZE_MAX, 100));
	l = build_list(self->a, 1000, 1, SALT);
	ASSERT_NE(NULL, l);
	EXPECT_NE(NULL, gca_alloc(self->a, 10 * SZ_1M));
	ASSERT_EQ(0, gca_collect(self->a));
	EXPECT_EQ(1000ULL, check_list(l, 1, SALT));
	ASSERT_EQ(0, gca_read_memstats(self->a, &ms));
	TH_LOG("1 TiB heap: sys %llu bytes (heap_sys %llu)",
	       (unsigned long long)ms.sys, (unsigned long long)ms.heap_sys);
	/* Its metadata is sized by what was used, not by 1 TiB... */
	EXPECT_GT(64 * SZ_1M, ms.sys - ms.heap_sys);
	check_arena(_metadata, self->a);
}

/* ------------------------------------------------------------------ */

struct blob {
	struct blob *next;
	uint64_t id, check, size;
};

static struct blob *chain;	/* a root range: only helpers touch it */

/* Allocate linked objects of varied sizes until the heap is full. */
__test_helper uint64_t fill_heap(struct gca_arena *a, int *err,
				 uint64_t *bytes)
{
	static const size_t sizes[] = { 32, 48, 200, 1024, 4096, 9000,
					32768, 40000, 200000 };
	uint64_t n = 0;

	*bytes = 0;
	for (;;) {
		size_t sz = sizes[n % (sizeof(sizes) / sizeof(sizes[0]))];
		struct blob *b = gca_alloc(a, sz);

		if (!b) {
			*err = errno;
			return n;
		}
		b->id = n;
		b->check = node_check(n, SALT);
		b->size = sz;
		gca_store(a, (void **)&b->next, chain);
		gca_store(a, (void **)&chain, b);
		*bytes += sz;
		n++;
	}
}

__test_helper uint64_t check_chain(uint64_t n)
{
	struct blob *b = chain;
	uint64_t good = 0;

	for (; b; b = b->next, n--) {
		if (!n || b->id != n - 1 || b->check != node_check(n - 1, SALT))
			break;
		good++;
	}
	return good;
}

__test_helper void drop_chain(struct gca_arena *a)
{
	gca_store(a, (void **)&chain, NULL);
}

TEST_F_TIMEOUT(limits, heap_exhaustion, 240)
{
	struct gca_memstats ms;
	struct gca_arena *a;
	uint64_t n1, n2, bytes;
	int err = 0;
	void *p;

	ASSERT_EQ(0, open_arena(&self->a, 8 * SZ_1M, 100));
	a = self->a;
	ASSERT_EQ(0, gca_add_roots(a, &chain, sizeof(chain)));

	n1 = fill_heap(a, &err, &bytes);
	EXPECT_EQ(ENOMEM, err);
	TH_LOG("8 MiB heap full after %llu objects, %llu bytes",
	       (unsigned long long)n1, (unsigned long long)bytes);
	EXPECT_LT(100ULL, n1);
	ASSERT_EQ(0, gca_read_memstats(a, &ms));
	EXPECT_GE(8 * SZ_1M, ms.heap_sys);
	EXPECT_GE(8 * SZ_1M, ms.heap_inuse);
	/* Full, and still: cycles, and every object is intact. */
	ASSERT_EQ(0, gca_collect(a));
	EXPECT_EQ(n1, check_chain(n1));
	/* Requests beyond the heap, small and large, fail cleanly. */
	errno = 0;
	EXPECT_EQ(NULL, gca_alloc(a, 9 * SZ_1M));
	EXPECT_EQ(ENOMEM, errno);
	errno = 0;
	EXPECT_EQ(NULL, gca_alloc_noscan(a, SIZE_MAX - 4096));
	EXPECT_EQ(ENOMEM, errno);
	errno = 0;
	EXPECT_EQ(NULL, gca_alloc(a, SIZE_MAX));
	EXPECT_EQ(ENOMEM, errno);
	check_arena(_metadata, a);

	/* Let go: a cycle frees it all, and it fills up again as far. */
	drop_chain(a);
	clear_stack();
	ASSERT_EQ(0, gca_collect(a));
	p = gca_alloc(a, 4 * SZ_1M);
	EXPECT_NE(NULL, p);
	p = NULL;
	clear_stack();
	ASSERT_EQ(0, gca_collect(a));
	n2 = fill_heap(a, &err, &bytes);
	EXPECT_EQ(ENOMEM, err);
	EXPECT_LE(n1 * 8 / 10, n2) TH_LOG("first fill %llu, second %llu",
					 (unsigned long long)n1,
					 (unsigned long long)n2);
	EXPECT_EQ(n2, check_chain(n2));
	drop_chain(a);
	EXPECT_EQ(0, gca_remove_roots(a, &chain));
	check_arena(_metadata, a);
}

/* ------------------------------------------------------------------ */
/* A memory cgroup: the arena's memory is charged to it and allocation */
/* fails with ENOMEM at the limit; nobody is OOM-killed.               */

static int64_t cg_event(const char *dir, const char *name)
{
	char path[256], buf[1024], val[64];
	int64_t v;

	snprintf(path, sizeof(path), "%s/memory.events", dir);
	if (read_file(path, buf, sizeof(buf)) < 0)
		return -1;
	/* "name value" lines: make them "name: value" for find_field */
	for (char *p = buf; *p; p++)
		if (*p == ' ')
			*p = ':';
	if (find_field(buf, name, val, sizeof(val)) || parse_s64(val, &v))
		return -1;
	return v;
}

/* Child in the cgroup: fill a big arena with live objects. */
__test_helper int memcg_fill(struct gca_arena *a, uint64_t *got, uint64_t *n)
{
	struct blob *b;

	*got = 0;
	*n = 0;
	for (;;) {
		b = gca_alloc(a, 4096);
		if (!b)
			return errno;
		b->id = (*n)++;
		b->check = node_check(b->id, SALT);
		gca_store(a, (void **)&b->next, chain);
		gca_store(a, (void **)&chain, b);
		*got += 4096;
	}
}

#define MEMCG_HEAP	(64 * SZ_1M)

static sigjmp_buf pf_jmp;

static void pf_handler(int sig)
{
	siglongjmp(pf_jmp, 1);
}

/*
 * Everything the child will need besides the arena's own pages is made
 * before it joins the cgroup (pages stay charged where they were first
 * touched): its stack, and the page tables over the whole heap (a fault
 * on a page with no memory still builds them, then raises SIGBUS).
 * Otherwise, once the heap has filled the group to the limit, the
 * child's next stack page or page table would be an OOM kill of its own.
 */
__test_helper void prefault(struct gca_arena *a)
{
	volatile uint8_t stack[256 * 1024];
	struct sigaction sa, old;
	volatile uintptr_t p;
	uintptr_t lo = ((const struct gca_arena_head *)a)->heap_base;

	memset((void *)stack, 0, sizeof(stack));
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = pf_handler;
	sigaction(SIGBUS, &sa, &old);
	for (p = lo; p < lo + MEMCG_HEAP; p += 2 * SZ_1M)
		if (!sigsetjmp(pf_jmp, 1))
			(void)*(volatile uint8_t *)p;
	sigaction(SIGBUS, &old, NULL);
}

__test_helper int memcg_child(uint64_t *got, int rfd, int wfd)
{
	struct gca_arena *a;
	uint64_t n;
	char c = 'r';

	if (open_arena(&a, MEMCG_HEAP, -1))
		return 100;
	if (gca_add_roots(a, &chain, sizeof(chain)))
		return 100;
	prefault(a);
	/* in the cgroup from here on */
	if (write(wfd, &c, 1) != 1 || read(rfd, &c, 1) != 1)
		return 99;
	if (memcg_fill(a, got, &n) != ENOMEM)
		return 101;
	/* Large ones fail as cleanly. */
	if (gca_alloc(a, SZ_1M) || errno != ENOMEM)
		return 102;
	/* A cycle still runs, and the live objects are all there. */
	if (gca_collect(a))
		return 103;
	if (check_chain(n) != n)
		return 104;
	/* Dropping them makes room again. */
	drop_chain(a);
	clear_stack();
	if (gca_collect(a))
		return 105;
	if (!gca_alloc(a, 4096))
		return 106;
	gca_close(a);
	return 0;
}

TEST_F_TIMEOUT(limits, memcg_enomem, 180)
{
	char dir[128], buf[64], c;
	const char *why;
	uint64_t *got;
	int status, pfd[2], rfd[2];
	int64_t oom0, oomk;
	pid_t pid;

	why = memcg_enable();
	if (why)
		SKIP(return, "%s", why);
	snprintf(dir, sizeof(dir), CG_ROOT "/gca_hostile_%d", getpid());
	ASSERT_EQ(0, mkdir(dir, 0755) ? errno : 0);
	ASSERT_EQ(0, cg_write(dir, "memory.max", "33554432"));
	cg_write(dir, "memory.swap.max", "0");
	oom0 = cg_event(dir, "oom_kill");
	got = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, got);
	*got = 0;		/* the shared page is charged here */
	ASSERT_EQ(0, pipe(pfd));
	ASSERT_EQ(0, pipe(rfd));

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		close(pfd[1]);
		close(rfd[0]);
		_exit(memcg_child(got, pfd[0], rfd[1]));
	}
	close(pfd[0]);
	close(rfd[1]);
	ASSERT_EQ(1, read(rfd[0], &c, 1));	/* prefaulted */
	snprintf(buf, sizeof(buf), "%d", pid);
	EXPECT_EQ(0, cg_write(dir, "cgroup.procs", buf));
	ASSERT_EQ(1, write(pfd[1], "g", 1));
	close(pfd[1]);
	close(rfd[0]);
	ASSERT_TRUE(wait_child(pid, 150000, &status));
	oomk = cg_event(dir, "oom_kill");
	TH_LOG("in a 32 MiB memory cgroup: %llu bytes of live objects; oom_kill %lld -> %lld, max events %lld",
	       (unsigned long long)*got, (long long)oom0, (long long)oomk,
	       (long long)cg_event(dir, "max"));
	EXPECT_TRUE(WIFEXITED(status))
		TH_LOG("the child was killed by signal %d (OOM?)",
		       WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	if (WIFEXITED(status))
		EXPECT_EQ(0, WEXITSTATUS(status))
			TH_LOG("child failed at step %d", WEXITSTATUS(status));
	EXPECT_EQ(oom0, oomk);
	EXPECT_LT(8 * SZ_1M, *got);
	EXPECT_GE(32 * SZ_1M, *got);
	/* the group empties once the child is reaped */
	for (int i = 0; i < 100 && rmdir(dir); i++)
		sleep_ms(50);
	EXPECT_FALSE(path_exists(dir));
	munmap(got, 4096);
}

/* ------------------------------------------------------------------ */
/* Empty arenas cost next to nothing: the kernel's memory for an arena */
/* follows the heap it uses, not its reservation, and is charged to    */
/* the process's memory cgroup; no collector thread runs for an arena  */
/* that never needed a cycle.                                          */

/* sys - heap_sys of an empty arena (its struct and control page) */
#define META_EMPTY_MAX	((int64_t)(64 * SZ_1K))

/* A /proc/meminfo value in bytes ("MemFree:  123 kB"), or -1. */
static int64_t meminfo(const char *name)
{
	char buf[8192], val[64];

	if (read_file("/proc/meminfo", buf, sizeof(buf)) < 0 ||
	    find_field(buf, name, val, sizeof(val)))
		return -1;
	return strtoll(val, NULL, 10) * 1024;
}

/* Kernel threads named gcarena/<id>: the arena's collector. */
static int collector_threads(int id)
{
	char want[32], path[300], comm[64];
	struct dirent *de;
	DIR *d;
	int n = 0;

	snprintf(want, sizeof(want), "gcarena/%d\n", id);
	d = opendir("/proc");
	if (!d)
		return -1;
	while ((de = readdir(d))) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/comm", de->d_name);
		if (read_file(path, comm, sizeof(comm)) > 0 &&
		    !strcmp(comm, want))
			n++;
	}
	closedir(d);
	return n;
}

/* The kernel's metadata for arena id: sys - heap_sys, or -1. */
static int64_t arena_meta(int id)
{
	uint64_t sys, heap_sys;

	if (proc_u64(id, "sys", &sys) || proc_u64(id, "heap_sys", &heap_sys) ||
	    sys < heap_sys)
		return -1;
	return (int64_t)(sys - heap_sys);
}

TEST_F_TIMEOUT(limits, empty_arenas_cost, 240)
{
	int fds[MAX_ARENAS_PER_MM], ids[MAX_ARENAS_PER_MM], i, id;
	int64_t free0, free1, meta, meta_max = 0;
	int threads = 0;
	struct gca_memstats ms;
	void *p, *q;

	/* The per-process maximum of arenas, each of the largest heap. */
	free0 = meminfo("MemFree");
	ASSERT_LT(0, free0);
	for (i = 0; i < MAX_ARENAS_PER_MM; i++) {
		fds[i] = raw_create(GCA_HEAP_SIZE_MAX, &ids[i]);
		ASSERT_LE(0, fds[i])
			TH_LOG("arena %d: %s", i, strerror(-fds[i]));
	}
	free1 = meminfo("MemFree");
	for (i = 0; i < MAX_ARENAS_PER_MM; i++) {
		meta = arena_meta(ids[i]);
		ASSERT_LE(0, meta);
		if (meta > meta_max)
			meta_max = meta;
		threads += collector_threads(ids[i]);
	}
	TH_LOG("64 empty 1 TiB arenas: MemFree fell by %lld KiB; metadata %lld bytes per arena at most; %d collector threads",
	       (long long)(free0 - free1) / 1024, (long long)meta_max,
	       threads);
	/* 1 MiB per arena at most, whatever the page allocator keeps */
	EXPECT_GT((int64_t)(MAX_ARENAS_PER_MM * SZ_1M), free0 - free1);
	EXPECT_GE(META_EMPTY_MAX, meta_max);
	EXPECT_EQ(0, threads);

	/*
	 * One of them used: its collector starts with the first
	 * allocation, and its metadata grows by one chunk's tables.
	 */
	close(fds[0]);
	fds[0] = -1;
	ASSERT_EQ(0, open_arena(&self->a, GCA_HEAP_SIZE_MAX, 100));
	id = gca_arena_id(self->a);
	EXPECT_EQ(0, collector_threads(id));
	p = gca_alloc(self->a, 64);
	q = gca_alloc(self->a, SZ_1M);
	ASSERT_NE(NULL, p);
	ASSERT_NE(NULL, q);
	EXPECT_EQ(1, collector_threads(id));
	meta = arena_meta(id);
	TH_LOG("after a 64-byte and a 1 MiB object: metadata %lld bytes",
	       (long long)meta);
	EXPECT_LE(0, meta);
	EXPECT_GE(META_EMPTY_MAX + (int64_t)(64 * SZ_1K), meta);
	/* and it collects */
	ASSERT_EQ(0, gca_collect(self->a));
	ASSERT_EQ(0, gca_read_memstats(self->a, &ms));
	EXPECT_LE(1U, ms.num_gc);
	p = q = NULL;
	for (i = 0; i < MAX_ARENAS_PER_MM; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	gca_close(self->a);
	self->a = NULL;
	EXPECT_EQ(0, collector_threads(id));
}

/* What the child saw, in a page shared with the parent. */
struct meta_seen {
	int64_t cur0, cur1;	/* memory.current around opening the arenas */
	int64_t meta_sum;	/* sys - heap_sys of them all */
	int query_tight;	/* QUERY's errno with memory.max 256 KiB */
	int query_loose;	/* ... and with no limit */
	int64_t peak;		/* the query group's memory.peak then */
};

#define META_QUERY_MAX	"262144"

/*
 * The child: opens the per-process maximum of empty arenas in group cga,
 * then moves to the fresh group cgq and asks GCA_IOC_QUERY_OBJECTS about
 * GCA_QUERY_MAX addresses (520 KiB of kernel buffers) there.
 */
__test_helper int meta_child(struct meta_seen *r, const char *cga,
			     const char *cgq, int rfd, int wfd)
{
	static uint64_t addrs[GCA_QUERY_MAX], live[GCA_QUERY_MAX / 64];
	struct gca_query qa = {
		.size = sizeof(qa), .n = GCA_QUERY_MAX,
		.addrs = (uintptr_t)addrs, .live = (uintptr_t)live,
	};
	volatile uint8_t stack[256 * 1024];
	int fds[MAX_ARENAS_PER_MM], id, i;
	char c = 'r', buf[32];

	/* charged where they are first touched: here, outside the groups */
	memset((void *)stack, 0, sizeof(stack));
	memset(addrs, 0x5a, sizeof(addrs));	/* no heap's addresses */
	memset(live, 0, sizeof(live));
	if (write(wfd, &c, 1) != 1 || read(rfd, &c, 1) != 1)
		return 99;
	/* in cga from here on */
	r->cur0 = cg_read(cga, "memory.current");
	for (i = 0; i < MAX_ARENAS_PER_MM; i++) {
		fds[i] = raw_create(GCA_HEAP_SIZE_MAX, &id);
		if (fds[i] < 0)
			return 101;
		r->meta_sum += arena_meta(id);
	}
	r->cur1 = cg_read(cga, "memory.current");
	snprintf(buf, sizeof(buf), "%d", getpid());
	if (cg_write(cgq, "cgroup.procs", buf) ||
	    cg_write(cgq, "memory.max", META_QUERY_MAX))
		return 102;
	r->query_tight = ioctl_err(fds[0], GCA_IOC_QUERY_OBJECTS, &qa);
	if (cg_write(cgq, "memory.max", "max"))
		return 103;
	r->query_loose = ioctl_err(fds[0], GCA_IOC_QUERY_OBJECTS, &qa);
	r->peak = cg_read(cgq, "memory.peak");
	for (i = 0; i < MAX_ARENAS_PER_MM; i++)
		close(fds[i]);
	return 0;
}

TEST_F_TIMEOUT(limits, memcg_metadata, 180)
{
	char cga[128], cgq[128], buf[64], c;
	const char *why;
	int64_t ooma, oomq;
	struct meta_seen *r;
	int status, pfd[2], rfd[2];
	pid_t pid;

	why = memcg_enable();
	if (why)
		SKIP(return, "%s", why);
	snprintf(cga, sizeof(cga), CG_ROOT "/gca_meta_a_%d", getpid());
	snprintf(cgq, sizeof(cgq), CG_ROOT "/gca_meta_q_%d", getpid());
	ASSERT_EQ(0, mkdir(cga, 0755) ? errno : 0);
	ASSERT_EQ(0, mkdir(cgq, 0755) ? errno : 0);
	cg_write(cga, "memory.swap.max", "0");
	cg_write(cgq, "memory.swap.max", "0");
	ooma = cg_event(cga, "oom_kill");
	oomq = cg_event(cgq, "oom_kill");
	r = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, r);
	memset(r, 0, sizeof(*r));
	ASSERT_EQ(0, pipe(pfd));
	ASSERT_EQ(0, pipe(rfd));

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		close(pfd[1]);
		close(rfd[0]);
		_exit(meta_child(r, cga, cgq, pfd[0], rfd[1]));
	}
	close(pfd[0]);
	close(rfd[1]);
	ASSERT_EQ(1, read(rfd[0], &c, 1));
	snprintf(buf, sizeof(buf), "%d", pid);
	EXPECT_EQ(0, cg_write(cga, "cgroup.procs", buf));
	ASSERT_EQ(1, write(pfd[1], "g", 1));
	close(pfd[1]);
	close(rfd[0]);
	ASSERT_TRUE(wait_child(pid, 150000, &status));
	TH_LOG("64 empty 1 TiB arenas: memory.current %lld -> %lld, their metadata %lld bytes; QUERY of %d addresses: %s with memory.max %s, %s without; memory.peak %lld",
	       (long long)r->cur0, (long long)r->cur1, (long long)r->meta_sum,
	       GCA_QUERY_MAX, strerror(r->query_tight), META_QUERY_MAX,
	       strerror(r->query_loose), (long long)r->peak);
	ASSERT_TRUE(WIFEXITED(status))
		TH_LOG("the child was killed by signal %d (OOM?)",
		       WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	ASSERT_EQ(0, WEXITSTATUS(status))
		TH_LOG("child failed at step %d", WEXITSTATUS(status));
	/* Charged, as much as the module says, and little: 1 MiB at most */
	ASSERT_LE(0, r->cur0);
	EXPECT_GT((int64_t)(MAX_ARENAS_PER_MM * SZ_1M / 4), r->cur1 - r->cur0);
	/* (memory.current moves in batches of 64 pages per CPU) */
	EXPECT_LE(r->meta_sum,
		  r->cur1 - r->cur0 + (int64_t)(2 * 256 * SZ_1K));
	/* The QUERY buffers are charged: ENOMEM at the limit, no OOM kill */
	EXPECT_EQ(ENOMEM, r->query_tight);
	EXPECT_EQ(0, r->query_loose);
	EXPECT_LE((int64_t)(512 * SZ_1K), r->peak);
	EXPECT_EQ(ooma, cg_event(cga, "oom_kill"));
	EXPECT_EQ(oomq, cg_event(cgq, "oom_kill"));
	for (int i = 0; i < 100 && (rmdir(cga) || rmdir(cgq)); i++)
		sleep_ms(50);
	EXPECT_FALSE(path_exists(cga));
	EXPECT_FALSE(path_exists(cgq));
	munmap(r, 4096);
}

/* ------------------------------------------------------------------ */
/* GCA_MAX_THREADS registrations.                                      */

struct regs {
	int fd;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned int registered, failed, done_waiting;
	int fail_err;
	volatile int release;		/* 1: unregister and exit; 2: exit */
	unsigned int unregister_errors;
};

static void *reg_main(void *arg)
{
	struct regs *r = arg;
	int ret = raw_register(r->fd);

	pthread_mutex_lock(&r->lock);
	if (ret) {
		if (!r->failed++)
			r->fail_err = ret;
	} else {
		r->registered++;
	}
	pthread_cond_broadcast(&r->cond);
	while (!r->release)
		pthread_cond_wait(&r->cond, &r->lock);
	pthread_mutex_unlock(&r->lock);
	if (!ret && r->release == 1 && raw_unregister(r->fd))
		__atomic_add_fetch(&r->unregister_errors, 1, __ATOMIC_RELAXED);
	return NULL;
}

/* Start n registering threads; wait until `total` have tried. */
static int start_regs(struct regs *r, pthread_t *th, unsigned int n,
		      unsigned int total)
{
	pthread_attr_t attr;
	unsigned int i;

	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 64 * 1024);
	for (i = 0; i < n; i++)
		if (pthread_create(&th[i], &attr, reg_main, r))
			return -1;
	pthread_attr_destroy(&attr);
	pthread_mutex_lock(&r->lock);
	while (r->registered + r->failed < total)
		pthread_cond_wait(&r->cond, &r->lock);
	pthread_mutex_unlock(&r->lock);
	return 0;
}

static void release_regs(struct regs *r, pthread_t *th, unsigned int n,
			 int how)
{
	unsigned int i;

	pthread_mutex_lock(&r->lock);
	r->release = how;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
	for (i = 0; i < n; i++)
		pthread_join(th[i], NULL);
}

/*
 * 1024 threads made and registered twice: 3 s each on the stock kernel
 * under TCG, 175 s on the debug kernel with two other VMs on the host.
 */
TEST_F_TIMEOUT(limits, max_threads_raw, 900)
{
	struct gca_create cr = { .size = sizeof(cr), .heap_size = 4 * SZ_1M };
	struct gca_thread_unreg tu = { .size = sizeof(tu) };
	struct gca_handshake hs = { .size = sizeof(hs) };
	struct regs r;
	pthread_t *th;
	uint64_t t0;

	th = calloc(MAX_THREADS + 1, sizeof(*th));
	ASSERT_NE(NULL, th);
	memset(&r, 0, sizeof(r));
	pthread_mutex_init(&r.lock, NULL);
	pthread_cond_init(&r.cond, NULL);
	r.fd = open(GCA_DEV, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, r.fd);
	ASSERT_EQ(0, ioctl_err(r.fd, GCA_IOC_CREATE, &cr));

	/* 1023 threads and this one: full. */
	t0 = now_ns();
	ASSERT_EQ(0, start_regs(&r, th, MAX_THREADS - 1, MAX_THREADS - 1));
	EXPECT_EQ((unsigned int)MAX_THREADS - 1, r.registered);
	EXPECT_EQ(0U, r.failed) TH_LOG("%s", strerror(r.fail_err));
	ASSERT_EQ(0, raw_register(r.fd));
	TH_LOG("%u threads registered in %llu ms", MAX_THREADS,
	       (unsigned long long)(now_ns() - t0) / 1000000);
	/* One more, from a new thread: ENOSPC. */
	ASSERT_EQ(0, start_regs(&r, th + MAX_THREADS - 1, 1, MAX_THREADS));
	EXPECT_EQ(1U, r.failed);
	EXPECT_EQ(ENOSPC, r.fail_err);
	/* This one leaves; a place is free (checked from here). */
	ASSERT_EQ(0, ioctl_err(r.fd, GCA_IOC_UNREGISTER_THREAD, &tu));
	ASSERT_EQ(0, raw_register(r.fd));
	EXPECT_EQ(EEXIST, raw_register(r.fd));
	ASSERT_EQ(0, ioctl_err(r.fd, GCA_IOC_UNREGISTER_THREAD, &tu));

	/*
	 * All exit without unregistering.  A cycle (asked for by this
	 * unregistered thread) drops the dead ones, and the arena takes
	 * 1024 threads again.
	 */
	release_regs(&r, th, MAX_THREADS, 2);
	hs.sp = (uintptr_t)__builtin_frame_address(0);
	t0 = now_ns();
	EXPECT_EQ(0, ioctl_err(r.fd, GCA_IOC_COLLECT, &hs));
	TH_LOG("a cycle reaping %u exited threads: %llu ms", MAX_THREADS - 1,
	       (unsigned long long)(now_ns() - t0) / 1000000);
	r.registered = r.failed = 0;
	r.release = 0;
	ASSERT_EQ(0, start_regs(&r, th, MAX_THREADS, MAX_THREADS));
	EXPECT_EQ((unsigned int)MAX_THREADS, r.registered);
	EXPECT_EQ(0U, r.failed) TH_LOG("after the reap: %s",
				       strerror(r.fail_err));
	EXPECT_EQ(ENOSPC, raw_register(r.fd));
	release_regs(&r, th, MAX_THREADS, 1);
	EXPECT_EQ(0U, r.unregister_errors);
	ASSERT_EQ(0, raw_register(r.fd));
	EXPECT_EQ(0, ioctl_err(r.fd, GCA_IOC_COLLECT, &hs));
	close(r.fd);
	free(th);
}

/*
 * With the library: 255 registered threads asleep in a condition wait,
 * and a cycle: the kernel signals every one of them, each answers from
 * the preempt signal handler.  (The full 1024 work as well but take
 * ~25 s under TCG, 17 s of it creating the threads; max_threads_raw
 * covers the limit itself.)
 */
#define LIB_THREADS	256
struct libregs {
	struct gca_arena *a;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned int registered, failed;
	int fail_err;
	int release;
};

static void *libreg_main(void *arg)
{
	struct libregs *r = arg;
	int ret = gca_register_thread(r->a);
	struct node *mine = ret ? NULL : build_list(r->a, 4, 1, SALT);

	pthread_mutex_lock(&r->lock);
	if (ret || !mine) {
		if (!r->failed++)
			r->fail_err = ret ? -ret : ENOMEM;
	} else {
		r->registered++;
	}
	pthread_cond_broadcast(&r->cond);
	while (!r->release)
		pthread_cond_wait(&r->cond, &r->lock);
	pthread_mutex_unlock(&r->lock);
	if (mine && check_list(mine, 1, SALT) != 4)
		__atomic_add_fetch(&r->failed, 1000, __ATOMIC_RELAXED);
	return NULL;
}

TEST_F_TIMEOUT(limits, max_threads_library, 300)
{
	struct libregs r;
	pthread_attr_t attr;
	pthread_t *th;
	unsigned int i, n = LIB_THREADS - 1;
	uint64_t t0;

	ASSERT_EQ(0, open_arena(&self->a, 64 * SZ_1M, -1));
	th = calloc(MAX_THREADS + 1, sizeof(*th));
	ASSERT_NE(NULL, th);
	memset(&r, 0, sizeof(r));
	r.a = self->a;
	pthread_mutex_init(&r.lock, NULL);
	pthread_cond_init(&r.cond, NULL);
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 64 * 1024);
	t0 = now_ns();
	for (i = 0; i < n; i++)
		ASSERT_EQ(0, pthread_create(&th[i], &attr, libreg_main, &r));
	pthread_mutex_lock(&r.lock);
	while (r.registered + r.failed < n)
		pthread_cond_wait(&r.cond, &r.lock);
	pthread_mutex_unlock(&r.lock);
	TH_LOG("%u library threads registered in %llu ms", n + 1,
	       (unsigned long long)(now_ns() - t0) / 1000000);
	EXPECT_EQ(n, r.registered);
	EXPECT_EQ(0U, r.failed) TH_LOG("%s", strerror(r.fail_err));

	/* A cycle with 256 registered threads, 255 of them asleep. */
	t0 = now_ns();
	EXPECT_EQ(0, gca_collect(self->a));
	EXPECT_EQ(0, gca_collect(self->a));
	TH_LOG("two cycles with %u sleeping registered threads: %llu ms", n,
	       (unsigned long long)(now_ns() - t0) / 1000000);

	pthread_mutex_lock(&r.lock);
	r.release = 1;
	pthread_cond_broadcast(&r.cond);
	pthread_mutex_unlock(&r.lock);
	for (i = 0; i < n; i++)
		pthread_join(th[i], NULL);
	pthread_attr_destroy(&attr);
	EXPECT_EQ(0U, r.failed) TH_LOG("a thread's list broke");
	EXPECT_EQ(0, gca_collect(self->a));
	check_arena(_metadata, self->a);
	free(th);
}

/* ------------------------------------------------------------------ */

static uint64_t *root_area;	/* MAX_ROOTS + 1 separate roots */

__test_helper int fill_roots(struct gca_arena *a)
{
	unsigned int i;

	for (i = 0; i < MAX_ROOTS; i++) {
		struct node *n = new_node(a, i, SALT);

		if (!n)
			return -ENOMEM;
		gca_store(a, (void **)&root_area[i], n);
	}
	return 0;
}

__test_helper unsigned int check_roots(void)
{
	unsigned int i, good = 0;

	for (i = 0; i < MAX_ROOTS; i++) {
		struct node *n = (struct node *)root_area[i];

		if (n && n->id == i && n->check == node_check(i, SALT))
			good++;
	}
	return good;
}

TEST_F_TIMEOUT(limits, max_roots, 120)
{
	struct gca_memstats m0, m1;
	struct gca_arena *a;
	unsigned int i;

	ASSERT_EQ(0, open_arena(&self->a, 16 * SZ_1M, -1));
	a = self->a;
	root_area = calloc(MAX_ROOTS + 2, sizeof(*root_area));
	ASSERT_NE(NULL, root_area);
	for (i = 0; i < MAX_ROOTS; i++)
		ASSERT_EQ(0, gca_add_roots(a, &root_area[i], 8))
			TH_LOG("root %u", i);
	EXPECT_EQ(-ENOSPC, gca_add_roots(a, &root_area[MAX_ROOTS], 8));
	/* full beats duplicate: the count is checked first */
	EXPECT_EQ(-ENOSPC, gca_add_roots(a, &root_area[0], 8));
	EXPECT_EQ(0, gca_remove_roots(a, &root_area[5]));
	EXPECT_EQ(-EEXIST, gca_add_roots(a, &root_area[6], 8));
	EXPECT_EQ(0, gca_add_roots(a, &root_area[5], 8));
	EXPECT_EQ(-ENOSPC, gca_add_roots(a, &root_area[MAX_ROOTS], 8));

	/* Each root holds an object: 1024 ranges are scanned per cycle. */
	ASSERT_EQ(0, fill_roots(a));
	clear_stack();
	ASSERT_EQ(0, churn(a, sizeof(struct node), 20000, 0));
	ASSERT_EQ(0, gca_collect(a));
	ASSERT_EQ(0, gca_collect(a));
	EXPECT_EQ((unsigned int)MAX_ROOTS, check_roots());

	/* Removed roots hold nothing. */
	ASSERT_EQ(0, gca_read_memstats(a, &m0));
	for (i = 0; i < MAX_ROOTS; i++)
		ASSERT_EQ(0, gca_remove_roots(a, &root_area[i]));
	EXPECT_EQ(-ENOENT, gca_remove_roots(a, &root_area[0]));
	clear_stack();
	ASSERT_EQ(0, gca_collect(a));
	ASSERT_EQ(0, gca_read_memstats(a, &m1));
	EXPECT_LE(m0.frees + MAX_ROOTS * 9 / 10, m1.frees);
	check_arena(_metadata, a);
	free(root_area);
}

/* ------------------------------------------------------------------ */

/* Last: the module is still fully working. */
GCA_TEST_STILL_WORKING(SALT)

TEST_HARNESS_MAIN
