// SPDX-License-Identifier: GPL-2.0
/*
 * gcarena lifecycle: GCA_IOC_GET_INFO, opening and closing arenas through
 * the library, the mappings, /proc/gcarena/<id> coming and going, and the
 * module being pinned while an arena is open; and what the library
 * accepts of a module's GCA_IOC_GET_INFO answer (features, not versions).
 */
#include <dirent.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "gca_test.h"

/*
 * This program's ioctl() stands in for libc's: the binary is static, so
 * the library's calls come here.  It passes every call through unchanged,
 * except that a test may have it alter GCA_IOC_GET_INFO's answer to play
 * a module of another ABI revision, or with other features, or one that
 * does not know the command at all.
 */
static enum {
	INFO_AS_IS,
	INFO_NEWER_VERSION,	/* abi_version + 1, same features */
	INFO_UNKNOWN_FEATURES,	/* feature bits this library never heard of */
	INFO_NO_PREEMPT_SIGNAL,	/* GCA_FEAT_PREEMPT_SIGNAL cleared */
	INFO_NO_CONCURRENT,	/* GCA_FEAT_CONCURRENT cleared */
	INFO_ENOTTY,		/* not our ABI */
} info_fake;

int ioctl(int fd, unsigned long cmd, ...)
{
	struct gca_info *info;
	va_list ap;
	void *arg;
	long ret;

	va_start(ap, cmd);
	arg = va_arg(ap, void *);
	va_end(ap);
	if (cmd == GCA_IOC_GET_INFO && info_fake == INFO_ENOTTY) {
		errno = ENOTTY;
		return -1;
	}
	ret = syscall(SYS_ioctl, fd, cmd, arg);
	if (ret || cmd != GCA_IOC_GET_INFO)
		return ret;
	info = arg;
	switch (info_fake) {
	case INFO_NEWER_VERSION:
		info->abi_version++;
		break;
	case INFO_UNKNOWN_FEATURES:
		info->features |= 0xffffULL << 48;
		break;
	case INFO_NO_PREEMPT_SIGNAL:
		info->features &= ~GCA_FEAT_PREEMPT_SIGNAL;
		break;
	case INFO_NO_CONCURRENT:
		info->features &= ~GCA_FEAT_CONCURRENT;
		break;
	default:
		break;
	}
	return 0;
}

static int count_fds(void)
{
	struct dirent *d;
	DIR *dir;
	int n = 0;

	dir = opendir("/proc/self/fd");
	if (!dir)
		return -1;
	while ((d = readdir(dir)))
		n += d->d_name[0] != '.';
	closedir(dir);
	return n;
}

TEST(get_info)
{
	struct gca_info info;
	unsigned int c;

	ASSERT_EQ(0, raw_get_info(&info));
	EXPECT_EQ((__u32)GCA_ABI_VERSION, info.abi_version);
	EXPECT_EQ(GCA_PAGE_SIZE, info.page_size);
	EXPECT_EQ((__u32)GCA_NUM_SIZE_CLASSES, info.num_size_classes);
	EXPECT_TRUE(!!(info.features & GCA_FEAT_PREEMPT_SIGNAL));
	EXPECT_LT(0U, info.max_threads);
	EXPECT_LE(GCA_HEAP_SIZE_MIN, info.heap_size_max);
	EXPECT_GE(GCA_HEAP_SIZE_MAX, info.heap_size_max);

	/* Go's table exactly, and what the allocator relies on. */
	EXPECT_EQ(0U, info.class_to_size[0]);
	for (c = 1; c < GCA_NUM_SIZE_CLASSES; c++) {
		EXPECT_EQ(go_class_to_size[c], info.class_to_size[c])
			TH_LOG("class %u", c);
		EXPECT_EQ(go_class_to_npages[c], info.class_to_npages[c])
			TH_LOG("class %u", c);
		EXPECT_LT(info.class_to_size[c - 1], info.class_to_size[c]);
		EXPECT_GE((uint64_t)GCA_MAX_SPAN_OBJECTS,
			  (uint64_t)info.class_to_npages[c] * GCA_PAGE_SIZE /
			  info.class_to_size[c]);
	}
	EXPECT_EQ((uint32_t)GCA_MAX_SMALL_SIZE,
		  info.class_to_size[GCA_NUM_SIZE_CLASSES - 1]);
}

/* Everything a fresh arena shows, for an arena of heap bytes. */
static void check_open_arena(struct __test_metadata *_metadata,
			     struct gca_arena *a, uint64_t heap)
{
	const struct gca_ctrl *ctrl = gca_ctrl(a);
	const struct gca_arena_head *h = (const void *)a;
	char path[64];
	void *p;

	EXPECT_LE(0, gca_arena_id(a));
	EXPECT_LE(0, gca_arena_fd(a));
	EXPECT_EQ((__u32)GCA_CTRL_MAGIC, ctrl->magic);
	EXPECT_EQ((__u32)GCA_ABI_VERSION, ctrl->abi_version);
	EXPECT_EQ(heap, ctrl->heap_size);
	EXPECT_EQ((uint64_t)h->heap_base, ctrl->heap_base);
	EXPECT_EQ(heap, (uint64_t)(h->heap_end - h->heap_base));
	EXPECT_EQ(0UL, h->heap_base % GCA_PAGE_SIZE);
	EXPECT_TRUE(ctrl->phase == GCA_PHASE_OFF ||
		    ctrl->phase == GCA_PHASE_MARK ||
		    ctrl->phase == GCA_PHASE_MARK_TERM ||
		    ctrl->phase == GCA_PHASE_SWEEP) TH_LOG("phase %u", ctrl->phase);

	/* The control page is read-only for us. */
	EXPECT_EQ(-1, mprotect((void *)ctrl, 4096, PROT_READ | PROT_WRITE));
	EXPECT_EQ(EACCES, errno);

	proc_arena_path(gca_arena_id(a), path, sizeof(path));
	EXPECT_TRUE(path_exists(path)) TH_LOG("%s", path);

	p = gca_alloc(a, 100);
	ASSERT_NE(NULL, p);
	EXPECT_TRUE(gca_in_heap(a, p));
	memset(p, 1, 100);
}

TEST(open_default_close)
{
	struct gca_arena *a = NULL;
	char path[64];

	ASSERT_EQ(0, gca_open(&a, NULL));
	ASSERT_NE(NULL, a);
	check_open_arena(_metadata, a, GCA_HEAP_SIZE_DEFAULT);
	proc_arena_path(gca_arena_id(a), path, sizeof(path));
	gca_close(a);
	EXPECT_TRUE(wait_gone(path, 2000)) TH_LOG("%s still there", path);
}

TEST(open_params)
{
	struct gca_params p = {
		.heap_size = 64 * SZ_1M,
		.flags = GCA_PARAM_GC_PERCENT | GCA_PARAM_MEMORY_LIMIT,
		.gc_percent = 250,
		.memory_limit = 1LL << 30,
		.device = GCA_DEV,
	};
	struct gca_memstats ms;
	struct gca_arena *a;

	ASSERT_EQ(0, gca_open(&a, &p));
	check_open_arena(_metadata, a, p.heap_size);
	ASSERT_EQ(0, gca_read_memstats(a, &ms));
	EXPECT_EQ(250, ms.gc_percent);
	EXPECT_EQ(1LL << 30, ms.memory_limit);
	gca_close(a);
}

TEST(open_bad_params)
{
	struct gca_params p;
	struct gca_arena *a = (void *)1;

	memset(&p, 0, sizeof(p));
	p.flags = 1U << 7;
	EXPECT_EQ(-EINVAL, gca_open(&a, &p));
	EXPECT_EQ(NULL, a);

	memset(&p, 0, sizeof(p));
	p.preempt_signal = SIGKILL;
	EXPECT_EQ(-EINVAL, gca_open(&a, &p));
	p.preempt_signal = -2;
	EXPECT_EQ(-EINVAL, gca_open(&a, &p));

	memset(&p, 0, sizeof(p));
	p.device = "/nonexistent/gcarena";
	EXPECT_EQ(-ENOENT, gca_open(&a, &p));

	/* The kernel's checks of the heap size. */
	memset(&p, 0, sizeof(p));
	p.heap_size = GCA_HEAP_SIZE_MIN + 4096;
	EXPECT_EQ(-EINVAL, gca_open(&a, &p));
	p.heap_size = GCA_HEAP_SIZE_MIN - GCA_PAGE_SIZE;
	EXPECT_EQ(-EINVAL, gca_open(&a, &p));
	p.heap_size = GCA_HEAP_SIZE_MAX + GCA_PAGE_SIZE;
	EXPECT_EQ(-EINVAL, gca_open(&a, &p));
	EXPECT_EQ(NULL, a);

	/* Nothing leaked by the failures: a good open still works. */
	p.heap_size = GCA_HEAP_SIZE_MIN;
	ASSERT_EQ(0, gca_open(&a, &p));
	check_open_arena(_metadata, a, GCA_HEAP_SIZE_MIN);
	gca_close(a);
}

TEST(preempt_signal_choice)
{
	struct gca_params p = { .heap_size = 64 * SZ_1M };
	struct sigaction sa;
	struct gca_arena *a;

	/* SIGURG by default, restored at close. */
	ASSERT_EQ(0, sigaction(SIGURG, NULL, &sa));
	EXPECT_EQ(SIG_DFL, sa.sa_handler);
	ASSERT_EQ(0, gca_open(&a, &p));
	ASSERT_EQ(0, sigaction(SIGURG, NULL, &sa));
	EXPECT_TRUE(sa.sa_flags & SA_SIGINFO);
	EXPECT_TRUE(sa.sa_flags & SA_RESTART);
	gca_close(a);
	ASSERT_EQ(0, sigaction(SIGURG, NULL, &sa));
	EXPECT_EQ(SIG_DFL, sa.sa_handler);

	/* Another signal, or none at all. */
	p.preempt_signal = SIGUSR2;
	ASSERT_EQ(0, gca_open(&a, &p));
	ASSERT_EQ(0, sigaction(SIGUSR2, NULL, &sa));
	EXPECT_TRUE(sa.sa_flags & SA_SIGINFO);
	EXPECT_NE(NULL, gca_alloc(a, 64));
	EXPECT_EQ(0, gca_collect(a));
	gca_close(a);

	p.preempt_signal = -1;
	ASSERT_EQ(0, gca_open(&a, &p));
	ASSERT_EQ(0, sigaction(SIGURG, NULL, &sa));
	EXPECT_EQ(SIG_DFL, sa.sa_handler);
	EXPECT_NE(NULL, gca_alloc(a, 64));
	EXPECT_EQ(0, gca_collect(a));
	gca_close(a);
}

/*
 * The library checks the module's feature bits, not its version: a newer
 * revision, or bits it does not know, are fine; a missing feature it needs
 * is -EOPNOTSUPP, a device that does not know GCA_IOC_GET_INFO -EPROTO,
 * and a refusal leaks nothing.
 */
TEST(library_checks_features)
{
	static const struct {
		int fake, ret;
	} cases[] = {
		{ INFO_AS_IS, 0 },
		{ INFO_NEWER_VERSION, 0 },
		{ INFO_UNKNOWN_FEATURES, 0 },
		{ INFO_NO_PREEMPT_SIGNAL, 0 },
		{ INFO_NO_CONCURRENT, -EOPNOTSUPP },
		{ INFO_ENOTTY, -EPROTO },
	};
	struct gca_arena *a;
	unsigned int i;
	int fds, ret;
	void *p;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		fds = count_fds();
		info_fake = cases[i].fake;
		a = (void *)1;
		ret = open_arena(&a, SZ_64M, -1);
		info_fake = INFO_AS_IS;
		EXPECT_EQ(cases[i].ret, ret) TH_LOG("case %u", i);
		if (ret) {
			EXPECT_EQ(NULL, a) TH_LOG("case %u", i);
			EXPECT_EQ(fds, count_fds()) TH_LOG("case %u", i);
			continue;
		}
		p = gca_alloc(a, 100);
		EXPECT_NE(NULL, p) TH_LOG("case %u", i);
		EXPECT_EQ(0, gca_collect(a)) TH_LOG("case %u", i);
		gca_close(a);
		EXPECT_EQ(fds, count_fds()) TH_LOG("case %u", i);
	}
}

TEST(two_arenas)
{
	struct gca_arena *a, *b;
	char pa[64], pb[64];
	void *x, *y;

	ASSERT_EQ(0, open_arena(&a, 64 * SZ_1M, GCA_TEST_DEFAULT));
	ASSERT_EQ(0, open_arena(&b, 64 * SZ_1M, GCA_TEST_DEFAULT));
	EXPECT_NE(gca_arena_id(a), gca_arena_id(b));
	proc_arena_path(gca_arena_id(a), pa, sizeof(pa));
	proc_arena_path(gca_arena_id(b), pb, sizeof(pb));
	EXPECT_TRUE(path_exists(pa));
	EXPECT_TRUE(path_exists(pb));

	x = gca_alloc(a, 24);
	y = gca_alloc(b, 24);
	ASSERT_NE(NULL, x);
	ASSERT_NE(NULL, y);
	EXPECT_TRUE(gca_in_heap(a, x));
	EXPECT_FALSE(gca_in_heap(a, y));
	EXPECT_TRUE(gca_in_heap(b, y));

	gca_close(a);
	EXPECT_TRUE(wait_gone(pa, 2000));
	EXPECT_TRUE(path_exists(pb));
	/* b is untouched by a's close. */
	memset(y, 7, 24);
	x = gca_alloc(b, 24);
	EXPECT_NE(NULL, x);
	EXPECT_EQ(0, gca_collect(b));
	EXPECT_EQ(7, ((char *)y)[23]);
	gca_close(b);
	EXPECT_TRUE(wait_gone(pb, 2000));
}

TEST(reopen_many)
{
	struct gca_arena *a;
	char path[64];
	int i;

	for (i = 0; i < 32; i++) {
		ASSERT_EQ(0, open_arena(&a, 16 * SZ_1M, GCA_TEST_DEFAULT));
		ASSERT_NE(NULL, gca_alloc(a, 8 * SZ_1K));
		ASSERT_NE(NULL, gca_alloc(a, 100 * SZ_1K));
		proc_arena_path(gca_arena_id(a), path, sizeof(path));
		gca_close(a);
	}
	EXPECT_TRUE(wait_gone(path, 2000));
}

/* The raw sequence, with the file closed before the mappings go. */
TEST(raw_close_before_munmap)
{
	struct gca_create cr = { .size = sizeof(cr), .heap_size = 16 * SZ_1M };
	const struct gca_ctrl *ctrl;
	char path[64];
	void *heap;
	int fd;

	fd = open(GCA_DEV, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ioctl(fd, GCA_IOC_CREATE, &cr));
	EXPECT_LE(4096U, cr.ctrl_size);
	EXPECT_EQ(16 * SZ_1M, cr.heap_size_out);
	ctrl = mmap(NULL, cr.ctrl_size, PROT_READ, MAP_SHARED, fd,
		    GCA_OFF_CTRL);
	ASSERT_NE(MAP_FAILED, ctrl);
	EXPECT_EQ(0ULL, ctrl->heap_base);
	heap = mmap(NULL, cr.heap_size_out, PROT_READ | PROT_WRITE,
		    MAP_SHARED, fd, GCA_OFF_HEAP);
	ASSERT_NE(MAP_FAILED, heap);
	EXPECT_EQ((uint64_t)(uintptr_t)heap, ctrl->heap_base);
	proc_arena_path(cr.id, path, sizeof(path));
	EXPECT_TRUE(path_exists(path));

	/* The mappings keep the arena until they go. */
	close(fd);
	EXPECT_EQ((__u32)GCA_CTRL_MAGIC, ctrl->magic);
	munmap(heap, cr.heap_size_out);
	munmap((void *)ctrl, cr.ctrl_size);
	EXPECT_TRUE(wait_gone(path, 2000));
}

/*
 * A child of fork() has no arena: using the inherited one fails cleanly
 * with EPERM (the mappings are gone and the file refuses another
 * process), gca_close() releases the child's copies, and the child can
 * open an arena of its own.  The parent is unaffected.
 */
static int fork_child(struct gca_arena *a)
{
	struct gca_memstats ms;
	struct gca_arena *b;
	int fail = 0;

	errno = 0;
	if (gca_alloc(a, 64) || errno != EPERM)
		fail |= 1;
	if (gca_read_memstats(a, &ms) != -EPERM)
		fail |= 2;
	if (gca_collect(a) != -EPERM)
		fail |= 4;
	gca_close(a);
	if (open_arena(&b, 16 * SZ_1M, GCA_TEST_DEFAULT))
		return fail | 8;
	if (!gca_alloc(b, 64) || gca_collect(b))
		fail |= 16;
	gca_close(b);
	return fail;
}

TEST(fork_has_no_arena)
{
	struct gca_arena *a;
	int status;
	char *p;
	pid_t pid;

	ASSERT_EQ(0, open_arena(&a, 16 * SZ_1M, GCA_TEST_DEFAULT));
	p = gca_alloc(a, 64);
	ASSERT_NE(NULL, p);
	memset(p, 9, 64);

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0)
		_exit(fork_child(a));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status)) TH_LOG("child status %#x", status);
	EXPECT_EQ(0, WEXITSTATUS(status))
		TH_LOG("child: alloc %d, stats %d, collect %d, open %d, own arena %d",
		       !!(WEXITSTATUS(status) & 1), !!(WEXITSTATUS(status) & 2),
		       !!(WEXITSTATUS(status) & 4), !!(WEXITSTATUS(status) & 8),
		       !!(WEXITSTATUS(status) & 16));

	EXPECT_EQ(0, gca_collect(a));
	EXPECT_EQ(9, p[63]);
	EXPECT_NE(NULL, gca_alloc(a, 64));
	gca_close(a);
}

/* Last: it tries to unload the module, which must fail. */
TEST(rmmod_while_open)
{
	struct gca_arena *a;
	int status;

	if (system("command -v rmmod >/dev/null 2>&1") != 0)
		SKIP(return, "no rmmod in this system");
	ASSERT_TRUE(path_exists("/sys/module/gcarena"));
	ASSERT_EQ(0, open_arena(&a, 16 * SZ_1M, GCA_TEST_DEFAULT));

	status = system("rmmod gcarena >/dev/null 2>&1");
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_NE(0, WEXITSTATUS(status));
	EXPECT_TRUE(path_exists("/sys/module/gcarena"));
	EXPECT_TRUE(path_exists(GCA_DEV));

	/* Still fully working. */
	EXPECT_NE(NULL, gca_alloc(a, 64));
	EXPECT_EQ(0, gca_collect(a));
	gca_close(a);
}

TEST_HARNESS_MAIN
