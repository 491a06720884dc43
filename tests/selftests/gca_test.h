/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the gcarena selftests: files in /proc and /sys, the
 * raw device, stack clearing for deterministic conservative scanning, an
 * arena's invariants, children, another user and memory cgroups for the
 * hostile programs, and self-checking lists and trees built in the arena.
 * The calls of the ABI without the library are in gca_test_raw.h.
 */
#ifndef _GCA_TEST_H
#define _GCA_TEST_H

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "kselftest_harness.h"

/*
 * The harness's 30 s per TEST() is sized for native runs.  The same
 * programs run under TCG, and on the debug kernel (KASAN, lockdep,
 * kmemleak) about ten times slower again, where an allocation-heavy test
 * takes minutes.  TEST() reads this macro where it is used, so every
 * TEST() of these programs gets 300 s; a test that needs more says so
 * with TEST_F_TIMEOUT.  A hang still fails, by timeout.
 */
#undef TEST_TIMEOUT_DEFAULT
#define TEST_TIMEOUT_DEFAULT 300
#include "gcarena.h"

#define GCA_DEV			"/dev/gcarena"
#define GCA_PROC		"/proc/gcarena"
#define GCA_SYSFS_PARAMS	"/sys/module/gcarena/parameters"

#define SZ_1K	1024UL
#define SZ_1M	(1024UL * 1024)
#define SZ_4M	(4UL * SZ_1M)
#define SZ_64M	(64UL * SZ_1M)

#define noinline	__attribute__((__noinline__))
/* Out of line (their frames must come and go) and maybe unused. */
#define __test_helper	static __attribute__((__noinline__, __unused__))

/* Go's size classes (runtime/sizeclasses.go, Go 1.12 to 1.22). */
static const uint32_t go_class_to_size[GCA_NUM_SIZE_CLASSES] = {
	0, 8, 16, 24, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176, 192, 208,
	224, 240, 256, 288, 320, 352, 384, 416, 448, 480, 512, 576, 640, 704,
	768, 896, 1024, 1152, 1280, 1408, 1536, 1792, 2048, 2304, 2688, 3072,
	3200, 3456, 4096, 4864, 5376, 6144, 6528, 6784, 6912, 8192, 9472,
	9728, 10240, 10880, 12288, 13568, 14336, 16384, 18432, 19072, 20480,
	21760, 24576, 27264, 28672, 32768,
};

static const uint32_t go_class_to_npages[GCA_NUM_SIZE_CLASSES] = {
	0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 1, 2, 1, 2, 1, 3, 2, 3, 1, 3,
	2, 3, 4, 5, 6, 1, 7, 6, 5, 4, 3, 5, 7, 2, 9, 7, 5, 8, 3, 10, 7, 4,
};

static inline uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static inline void sleep_ms(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/*
 * Zero 64 KiB of stack below the caller, so that stale pointers left by
 * deeper calls that built and dropped structures cannot be found by the
 * conservative scan of the frames the next calls will occupy.
 */
__test_helper void clear_stack(void)
{
	char buf[64 * 1024];

	memset(buf, 0, sizeof(buf));
	__asm__ __volatile__("" : : "r"(buf) : "memory");
}

/* Whole file into buf (NUL-terminated); length or -errno. */
static inline ssize_t read_file(const char *path, char *buf, size_t size)
{
	ssize_t n, len = 0;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while ((size_t)len < size - 1) {
		n = read(fd, buf + len, size - 1 - len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			n = -errno;
			close(fd);
			return n;
		}
		if (n == 0)
			break;
		len += n;
	}
	buf[len] = '\0';
	close(fd);
	return len;
}

/* One write(2) of s, as "echo" does it; 0 or -errno. */
static inline int write_file(const char *path, const char *s)
{
	ssize_t n;
	int fd, ret = 0;

	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, s, strlen(s));
	if (n < 0)
		ret = -errno;
	else if ((size_t)n != strlen(s))
		ret = -EIO;
	close(fd);
	return ret;
}

static inline bool path_exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

/* Teardown of an arena may finish after close(): wait a little. */
static inline bool wait_gone(const char *path, unsigned int ms)
{
	unsigned int waited;

	for (waited = 0; waited <= ms; waited += 10) {
		if (!path_exists(path))
			return true;
		sleep_ms(10);
	}
	return false;
}

static inline void proc_arena_path(int id, char *buf, size_t n)
{
	snprintf(buf, n, GCA_PROC "/%d", id);
}

/*
 * The value of the "name: value" line of a text, copied to val.
 * 0, or -ENOENT when there is no such line.
 */
static inline int find_field(const char *text, const char *name,
			     char *val, size_t n)
{
	size_t len = strlen(name);
	const char *p = text, *end;

	while (p && *p) {
		if (!strncmp(p, name, len) && p[len] == ':') {
			p += len + 1;
			while (*p == ' ' || *p == '\t')
				p++;
			end = strchr(p, '\n');
			if (!end)
				end = p + strlen(p);
			if ((size_t)(end - p) >= n)
				return -E2BIG;
			memcpy(val, p, end - p);
			val[end - p] = '\0';
			return 0;
		}
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return -ENOENT;
}

/* /proc/gcarena/<id> is a few KiB: pause_ns and pause_end are long. */
#define PROC_BUF_SIZE	(64 * 1024)

static inline int proc_field(int id, const char *name, char *val, size_t n)
{
	char path[64];
	char *buf;
	ssize_t len;
	int ret;

	buf = malloc(PROC_BUF_SIZE);
	if (!buf)
		return -ENOMEM;
	proc_arena_path(id, path, sizeof(path));
	len = read_file(path, buf, PROC_BUF_SIZE);
	if (len < 0)
		ret = len;
	else
		ret = find_field(buf, name, val, n);
	free(buf);
	return ret;
}

/* Parse a whole decimal number (optionally negative); 0 or -EINVAL. */
static inline int parse_s64(const char *s, int64_t *v)
{
	char *end;

	errno = 0;
	*v = strtoll(s, &end, 10);
	if (errno || end == s)
		return -EINVAL;
	while (*end == ' ' || *end == '\n')
		end++;
	return *end ? -EINVAL : 0;
}

static inline int parse_u64(const char *s, uint64_t *v)
{
	char *end;

	if (*s == '-')
		return -EINVAL;
	errno = 0;
	*v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -EINVAL;
	while (*end == ' ' || *end == '\n')
		end++;
	return *end ? -EINVAL : 0;
}

/*
 * A memory limit as the kernel may print it: plain bytes, bytes with a
 * binary suffix (KiB, MiB, GiB, TiB), or "off"/"none"/"max"/-1/INT64_MAX
 * for no limit (GCA_MEMORY_LIMIT_NONE).
 */
static inline int parse_limit(const char *s, int64_t *v)
{
	static const char *const sfx[] = { "KiB", "MiB", "GiB", "TiB" };
	char buf[64], *end;
	unsigned long long x;
	size_t len;
	unsigned int i;

	while (*s == ' ')
		s++;
	snprintf(buf, sizeof(buf), "%s", s);
	len = strlen(buf);
	while (len && (buf[len - 1] == '\n' || buf[len - 1] == ' '))
		buf[--len] = '\0';
	if (!strcmp(buf, "off") || !strcmp(buf, "none") ||
	    !strcmp(buf, "max") || !strcmp(buf, "-1")) {
		*v = GCA_MEMORY_LIMIT_NONE;
		return 0;
	}
	errno = 0;
	x = strtoull(buf, &end, 10);
	if (errno || end == buf || buf[0] == '-')
		return -EINVAL;
	if (*end) {
		for (i = 0; i < 4; i++)
			if (!strcmp(end, sfx[i]))
				break;
		if (i == 4)
			return -EINVAL;
		x <<= 10 * (i + 1);
	}
	*v = x > (unsigned long long)GCA_MEMORY_LIMIT_NONE ?
		GCA_MEMORY_LIMIT_NONE : (int64_t)x;
	return 0;
}

/* gc_percent as the kernel may print it: a number, or "off" for -1. */
static inline int parse_percent(const char *s, int64_t *v)
{
	if (!strncmp(s, "off", 3)) {
		*v = -1;
		return 0;
	}
	return parse_s64(s, v);
}

static inline int proc_u64(int id, const char *name, uint64_t *v)
{
	char val[128];
	int ret;

	ret = proc_field(id, name, val, sizeof(val));
	return ret ? ret : parse_u64(val, v);
}

/* GCA_IOC_GET_INFO on a fresh descriptor. */
static inline int raw_get_info(struct gca_info *info)
{
	int fd, ret = 0;

	fd = open(GCA_DEV, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	memset(info, 0, sizeof(*info));
	info->size = sizeof(*info);
	if (ioctl(fd, GCA_IOC_GET_INFO, info))
		ret = -errno;
	close(fd);
	return ret;
}

/*
 * Open an arena for a test: heap_size bytes, gc_percent (-1 = off, or
 * GCA_TEST_DEFAULT to follow the module), no memory limit.
 */
#define GCA_TEST_DEFAULT	(-1000)

static inline int open_arena(struct gca_arena **a, size_t heap_size,
			     int gc_percent)
{
	struct gca_params p;

	memset(&p, 0, sizeof(p));
	p.heap_size = heap_size;
	if (gc_percent != GCA_TEST_DEFAULT) {
		p.flags |= GCA_PARAM_GC_PERCENT;
		p.gc_percent = gc_percent;
	}
	p.flags |= GCA_PARAM_MEMORY_LIMIT;
	p.memory_limit = GCA_MEMORY_LIMIT_NONE;
	return gca_open(a, &p);
}

/*
 * The invariants of an arena's statistics that hold at any time: every
 * object counted once, and alloc <= inuse <= sys.
 */
static inline void check_arena(struct __test_metadata *_metadata,
			       struct gca_arena *a)
{
	struct gca_memstats ms;

	ASSERT_EQ(0, gca_read_memstats(a, &ms));
	EXPECT_EQ(ms.mallocs - ms.frees, ms.heap_objects);
	EXPECT_LE(ms.heap_alloc, ms.heap_inuse);
	EXPECT_LE(ms.heap_inuse, ms.heap_sys);
}

/*
 * Wait up to ms for a child: true if it was reaped (*status set), false
 * if it was not done by then; it is then killed and reaped, so that no
 * test leaves a child behind.
 */
static inline bool wait_child(pid_t pid, unsigned int ms, int *status)
{
	unsigned int waited;

	for (waited = 0; waited <= ms; waited += 5) {
		if (waitpid(pid, status, WNOHANG) == pid)
			return true;
		sleep_ms(5);
	}
	kill(pid, SIGKILL);
	waitpid(pid, status, 0);
	return false;
}

/* The unprivileged user the hostile programs become in a child. */
#define OTHER_UID	1000
#define OTHER_GID	1000

/* From root to OTHER_UID for good (all ids, no groups): 0 or -1. */
static inline int drop_privileges(void)
{
	if (setgroups(0, NULL) || setgid(OTHER_GID) || setuid(OTHER_UID))
		return -1;
	return getuid() == OTHER_UID && geteuid() == OTHER_UID ? 0 : -1;
}

/* A file of a cgroup v2 directory: written as by "echo", or a number. */
#define CG_ROOT		"/sys/fs/cgroup"

static inline int cg_write(const char *dir, const char *file,
			   const char *val)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	return write_file(path, val);
}

/*
 * cgroup2 at CG_ROOT with its memory controller enabled for children
 * (mounted if need be): NULL, or why a test must skip.
 */
static inline const char *memcg_enable(void)
{
	char buf[64];

	if (geteuid() != 0)
		return "needs root";
	if (!path_exists(CG_ROOT "/cgroup.controllers") &&
	    mount("none", CG_ROOT, "cgroup2", 0, NULL))
		return "no cgroup2 at " CG_ROOT;
	if (read_file(CG_ROOT "/cgroup.controllers", buf, sizeof(buf)) < 0 ||
	    !strstr(buf, "memory"))
		return "no memory controller";
	cg_write(CG_ROOT, "cgroup.subtree_control", "+memory");
	return NULL;
}

/* The file's whole number, or -1. */
static inline int64_t cg_read(const char *dir, const char *file)
{
	char path[256], buf[64];
	int64_t v;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	if (read_file(path, buf, sizeof(buf)) < 0 || parse_s64(buf, &v))
		return -1;
	return v;
}

/*
 * Self-checking structures.  Every node carries its id and a check word
 * derived from the id and a salt, so a node that was freed and reused
 * (zeroed, or overwritten by a later allocation) is noticed.
 */
struct node {
	struct node *left;	/* next, in lists */
	struct node *right;
	uint64_t id;
	uint64_t check;
};

static inline uint64_t node_check(uint64_t id, uint64_t salt)
{
	uint64_t x = id * 0x9e3779b97f4a7c15ULL ^ salt;

	x ^= x >> 31;
	x *= 0xbf58476d1ce4e5b9ULL;
	return x ^ (x >> 29);
}

static inline struct node *new_node(struct gca_arena *a, uint64_t id,
				    uint64_t salt)
{
	struct node *n = gca_alloc(a, sizeof(*n));

	if (n) {
		n->id = id;
		n->check = node_check(id, salt);
	}
	return n;
}

/* A list of count nodes, ids first_id.., built back to front. */
__test_helper struct node *build_list(struct gca_arena *a, uint64_t count,
					uint64_t first_id, uint64_t salt)
{
	struct node *head = NULL, *n;
	uint64_t i;

	for (i = count; i > 0; i--) {
		n = new_node(a, first_id + i - 1, salt);
		if (!n)
			return NULL;
		gca_store(a, (void **)&n->left, head);
		head = n;
	}
	return head;
}

/* Number of good nodes from head, stopping at the first bad one. */
__test_helper uint64_t check_list(struct node *head, uint64_t first_id,
				    uint64_t salt)
{
	uint64_t i = 0;

	for (; head; head = head->left, i++) {
		if (head->id != first_id + i ||
		    head->check != node_check(first_id + i, salt))
			break;
	}
	return i;
}

/* A perfect binary tree of depth d (2^d - 1 nodes), ids in preorder. */
__test_helper struct node *build_tree(struct gca_arena *a, unsigned int d,
					uint64_t *next_id, uint64_t salt)
{
	struct node *n, *l, *r;

	if (!d)
		return NULL;
	n = new_node(a, (*next_id)++, salt);
	if (!n)
		return NULL;
	l = build_tree(a, d - 1, next_id, salt);
	r = build_tree(a, d - 1, next_id, salt);
	gca_store(a, (void **)&n->left, l);
	gca_store(a, (void **)&n->right, r);
	return n;
}

/* Count of nodes in preorder id order with good check words; stops the
 * subtree at a bad node (the count then falls short). */
__test_helper uint64_t check_tree(struct node *n, unsigned int d,
				    uint64_t *next_id, uint64_t salt)
{
	uint64_t c;

	if (!d)
		return 0;
	if (!n || n->id != *next_id || n->check != node_check(n->id, salt))
		return 0;
	(*next_id)++;
	c = 1;
	c += check_tree(n->left, d - 1, next_id, salt);
	c += check_tree(n->right, d - 1, next_id, salt);
	return c;
}

/* Allocate and drop count objects of size bytes, each filled with junk,
 * to reuse whatever a collection freed. */
__test_helper int churn(struct gca_arena *a, size_t size, uint64_t count,
			  int noscan)
{
	uint64_t i;
	void *p;

	for (i = 0; i < count; i++) {
		p = noscan ? gca_alloc_noscan(a, size) : gca_alloc(a, size);
		if (!p)
			return -errno;
		/* Not pointers into the heap: plain stores are fine. */
		memset(p, 0xa5, size);
	}
	return 0;
}

/* A flag one thread raises and another waits for (without the library). */
static inline void wait_flag(volatile int *flag)
{
	while (!__atomic_load_n(flag, __ATOMIC_ACQUIRE))
		sleep_ms(1);
}

static inline void set_flag(volatile int *flag)
{
	__atomic_store_n(flag, 1, __ATOMIC_RELEASE);
}

/* A cycle must not wait for a laggard much longer than this. */
#define STALL_LIMIT_NS	(20ULL * 1000000000ULL)

/* Collect a few times with garbage in between; ns it took. */
static inline uint64_t collect_rounds(struct gca_arena *a, int rounds,
				      int *err)
{
	uint64_t t0 = now_ns();
	int i;

	*err = 0;
	for (i = 0; i < rounds && !*err; i++) {
		*err = gca_collect(a);
		if (!*err)
			*err = churn(a, sizeof(struct node), 4000, 0);
	}
	return now_ns() - t0;
}

/*
 * A fixture that holds only an arena a test may open in self->a, closed
 * after the test if the test left it open.
 */
#define GCA_ARENA_FIXTURE(name)						\
	FIXTURE(name) {							\
		struct gca_arena *a;					\
	};								\
	FIXTURE_SETUP(name)						\
	{								\
		self->a = NULL;						\
	}								\
	FIXTURE_TEARDOWN(name)						\
	{								\
		if (self->a)						\
			gca_close(self->a);				\
	}

/* A fixture with nothing in it: it only names and orders its tests. */
#define GCA_EMPTY_FIXTURE(name)						\
	FIXTURE(name) {							\
		int unused;						\
	};								\
	FIXTURE_SETUP(name)						\
	{								\
	}								\
	FIXTURE_TEARDOWN(name)						\
	{								\
	}

/*
 * After all a hostile program did, the module still works: a fresh arena
 * allocates, collects, keeps the list that is reachable and frees the
 * garbage around it.  *ms: its statistics at the end, for a program that
 * checks more of them.
 */
__test_helper void check_still_working(struct __test_metadata *_metadata,
				       uint64_t salt, struct gca_memstats *ms)
{
	struct gca_arena *a;
	struct node *l;

	ASSERT_EQ(0, open_arena(&a, 16 * SZ_1M, 100));
	l = build_list(a, 5000, 1, salt);
	ASSERT_NE(NULL, l);
	ASSERT_EQ(0, churn(a, 100, 20000, 0));
	clear_stack();
	ASSERT_EQ(0, gca_collect(a));
	ASSERT_EQ(0, gca_collect(a));
	EXPECT_EQ(5000ULL, check_list(l, 1, salt));
	ASSERT_EQ(0, gca_read_memstats(a, ms));
	EXPECT_EQ(ms->mallocs - ms->frees, ms->heap_objects);
	EXPECT_LT(0ULL, ms->frees);
	gca_close(a);
}

/*
 * zz_final.still_working, the last test of a hostile program: the
 * harness runs fixtures in the order they are declared, so this goes at
 * the end of the file.
 */
#define GCA_TEST_STILL_WORKING(salt)					\
	GCA_EMPTY_FIXTURE(zz_final);					\
									\
	TEST_F_TIMEOUT(zz_final, still_working, 120)			\
	{								\
		struct gca_memstats ms;					\
									\
		check_still_working(_metadata, salt, &ms);		\
	}

#endif /* _GCA_TEST_H */
