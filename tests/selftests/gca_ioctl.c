// SPDX-License-Identifier: GPL-2.0
/*
 * The raw ABI of /dev/gcarena, without the library (in the manner of the
 * iommufd selftests): argument checking (size, flags, reserved fields,
 * bad pointers), the state machine (CREATE, then mmap), the mmap rules,
 * span and root arguments, and the arena's tie to its creating process.
 * And the library works next to a raw arena in the same process.
 *
 * Error codes: ENOTTY unknown command; EINVAL bad argument or a size
 * below the first version's; E2BIG unknown non-zero bytes past the
 * struct; EFAULT bad pointer; EBADFD wrong state; EBUSY done already;
 * EPERM writable control page or another process; ESRCH the thread must
 * be registered; EEXIST registered or added already; ENOENT no such root.
 */
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "gca_test_raw.h"

static void *mmap_ctrl(int fd, size_t len, int prot)
{
	return mmap(NULL, len, prot, MAP_SHARED, fd, GCA_OFF_CTRL);
}

static void *mmap_heap(int fd, size_t len, int prot, int flags)
{
	return mmap(NULL, len, prot, flags, fd, GCA_OFF_HEAP);
}

#define HEAP	(16 * SZ_1M)

FIXTURE(raw) {
	int fd;
	struct gca_create cr;
	const struct gca_ctrl *ctrl;
	void *heap;
};

FIXTURE_SETUP(raw)
{
	self->fd = open(GCA_DEV, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->fd) TH_LOG("%s: %s", GCA_DEV, strerror(errno));
	self->ctrl = MAP_FAILED;
	self->heap = MAP_FAILED;
}

FIXTURE_TEARDOWN(raw)
{
	if (self->heap != MAP_FAILED)
		munmap(self->heap, self->cr.heap_size_out);
	if (self->ctrl != MAP_FAILED)
		munmap((void *)self->ctrl, self->cr.ctrl_size);
	close(self->fd);
}

/* CREATE a 16 MiB arena, map both, register the calling thread. */
static void setup_arena(struct __test_metadata *_metadata,
			FIXTURE_DATA(raw) *self, bool reg)
{
	struct gca_thread_reg tr = { .size = sizeof(tr) };

	self->cr = (struct gca_create){ .size = sizeof(self->cr),
					.heap_size = HEAP };
	ASSERT_EQ(0, ioctl_err(self->fd, GCA_IOC_CREATE, &self->cr));
	ASSERT_EQ(HEAP, self->cr.heap_size_out);
	ASSERT_LT(0U, self->cr.id);
	self->ctrl = mmap_ctrl(self->fd, self->cr.ctrl_size, PROT_READ);
	ASSERT_NE(MAP_FAILED, self->ctrl);
	self->heap = mmap_heap(self->fd, HEAP, PROT_READ | PROT_WRITE,
			       MAP_SHARED);
	ASSERT_NE(MAP_FAILED, self->heap);
	if (!reg)
		return;
	ASSERT_EQ(0, thread_stack(&tr.stack_lo, &tr.stack_hi));
	ASSERT_EQ(0, ioctl_err(self->fd, GCA_IOC_REGISTER_THREAD, &tr));
	EXPECT_EQ(self->ctrl->hs_seq, tr.hs_seq);
}

TEST_F(raw, unknown_commands)
{
	char buf[64] = { 0 };

	*(__u32 *)buf = sizeof(buf);
	EXPECT_EQ(ENOTTY, ioctl_err(self->fd, _IO(GCA_IOC_MAGIC, 0x7f), buf));
	EXPECT_EQ(ENOTTY, ioctl_err(self->fd, _IO(GCA_IOC_MAGIC, 0x3f), buf));
	EXPECT_EQ(ENOTTY, ioctl_err(self->fd, _IO('x', 0x00), buf));
	/* The type gcarena had before, nsfs's: NS_GET_USERNS is not ours. */
	EXPECT_EQ(ENOTTY, ioctl_err(self->fd, _IO(0xB7, 0x01), buf));
	EXPECT_EQ(ENOTTY, ioctl_err(self->fd, _IO(0xB7, 0x00), buf));
	/* The command carries no size or direction: encoded ones are not
	 * the same command. */
	EXPECT_EQ(ENOTTY, ioctl_err(self->fd,
				    _IOWR(GCA_IOC_MAGIC, 0x00, struct gca_info),
				    buf));
}

TEST_F(raw, get_info_sizes)
{
	struct {
		struct gca_info info;
		__u64 extra[2];
	} big;
	char *huge;

	/* Below the first version's size. */
	memset(&big, 0, sizeof(big));
	big.info.size = 0;
	EXPECT_EQ(EINVAL, ioctl_err(self->fd, GCA_IOC_GET_INFO, &big));
	big.info.size = sizeof(struct gca_info) - 8;
	EXPECT_EQ(EINVAL, ioctl_err(self->fd, GCA_IOC_GET_INFO, &big));
	big.info.size = 4;
	EXPECT_EQ(EINVAL, ioctl_err(self->fd, GCA_IOC_GET_INFO, &big));

	/* Exactly. */
	big.info.size = sizeof(struct gca_info);
	EXPECT_EQ(0, ioctl_err(self->fd, GCA_IOC_GET_INFO, &big));
	EXPECT_EQ((__u32)GCA_ABI_VERSION, big.info.abi_version);

	/* Longer, zero past the end: a newer library, accepted; the kernel
	 * writes back only what it knows. */
	memset(&big, 0, sizeof(big));
	big.info.size = sizeof(big);
	EXPECT_EQ(0, ioctl_err(self->fd, GCA_IOC_GET_INFO, &big));
	EXPECT_EQ((__u32)GCA_ABI_VERSION, big.info.abi_version);
	EXPECT_EQ(0ULL, big.extra[0]);
	EXPECT_EQ(0ULL, big.extra[1]);

	/* Longer with something set the kernel does not know. */
	memset(&big, 0, sizeof(big));
	big.info.size = sizeof(big);
	big.extra[1] = 1;
	EXPECT_EQ(E2BIG, ioctl_err(self->fd, GCA_IOC_GET_INFO, &big));
	big.extra[1] = 0;
	big.extra[0] = 0xff00;
	EXPECT_EQ(E2BIG, ioctl_err(self->fd, GCA_IOC_GET_INFO, &big));

	/* Absurdly long, even if zero. */
	huge = calloc(1, 1 << 20);
	ASSERT_NE(NULL, huge);
	*(__u32 *)huge = 1 << 20;
	EXPECT_EQ(E2BIG, ioctl_err(self->fd, GCA_IOC_GET_INFO, huge));
	free(huge);

	/* Flags. */
	memset(&big, 0, sizeof(big));
	big.info.size = sizeof(big.info);
	big.info.flags = 1;
	EXPECT_EQ(EINVAL, ioctl_err(self->fd, GCA_IOC_GET_INFO, &big));
}

TEST_F(raw, bad_pointers)
{
	struct gca_info *info;
	void *gone;
	char *two;

	EXPECT_EQ(EFAULT, ioctl_err(self->fd, GCA_IOC_GET_INFO, NULL));
	EXPECT_EQ(EFAULT, ioctl_err(self->fd, GCA_IOC_CREATE, NULL));
	gone = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, gone);
	munmap(gone, 4096);
	EXPECT_EQ(EFAULT, ioctl_err(self->fd, GCA_IOC_GET_INFO, gone));
	EXPECT_EQ(EFAULT, ioctl_err(self->fd, GCA_IOC_READ_STATS, gone));

	/* The size word readable, the rest not: the struct runs into an
	 * unmapped page. */
	two = mmap(NULL, 8192, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, two);
	munmap(two + 4096, 4096);
	info = (void *)(two + 4096 - 8);
	info->size = sizeof(*info);
	info->flags = 0;
	EXPECT_EQ(EFAULT, ioctl_err(self->fd, GCA_IOC_GET_INFO, info));
	munmap(two, 4096);
}

TEST_F(raw, wrong_state_before_create)
{
	struct gca_thread_reg tr = { .size = sizeof(tr), .stack_lo = 4096,
				     .stack_hi = 8192 };
	struct gca_thread_unreg tu = { .size = sizeof(tu) };
	struct gca_refill rf = { .size = sizeof(rf),
				 .spanclass = GCA_SPANCLASS(1, 0) };
	struct gca_alloc_large al = { .size = sizeof(al), .bytes = 65536 };
	struct gca_handshake hs = { .size = sizeof(hs) };
	struct gca_roots ro = { .size = sizeof(ro), .start = 4096,
				.len = 4096 };
	struct gca_params_arg pa = { .size = sizeof(pa) };
	struct gca_stats st = { .size = sizeof(st) };
	struct gca_info info = { .size = sizeof(info) };
	int fd = self->fd;

	EXPECT_EQ(EBADFD, ioctl_err(fd, GCA_IOC_REGISTER_THREAD, &tr));
	EXPECT_EQ(EBADFD, ioctl_err(fd, GCA_IOC_UNREGISTER_THREAD, &tu));
	EXPECT_EQ(EBADFD, ioctl_err(fd, GCA_IOC_REFILL, &rf));
	EXPECT_EQ(EBADFD, ioctl_err(fd, GCA_IOC_ALLOC_LARGE, &al));
	EXPECT_EQ(EBADFD, ioctl_err(fd, GCA_IOC_HANDSHAKE, &hs));
	EXPECT_EQ(EBADFD, ioctl_err(fd, GCA_IOC_COLLECT, &hs));
	EXPECT_EQ(EBADFD, ioctl_err(fd, GCA_IOC_ADD_ROOTS, &ro));
	EXPECT_EQ(EBADFD, ioctl_err(fd, GCA_IOC_REMOVE_ROOTS, &ro));
	EXPECT_EQ(EBADFD, ioctl_err(fd, GCA_IOC_SET_PARAMS, &pa));
	EXPECT_EQ(EBADFD, ioctl_err(fd, GCA_IOC_READ_STATS, &st));
	EXPECT_EQ(EBADFD, mmap_err(mmap_ctrl(fd, 4096, PROT_READ)));
	EXPECT_EQ(EBADFD, mmap_err(mmap_heap(fd, HEAP, PROT_READ | PROT_WRITE,
					     MAP_SHARED)));
	/* Any time. */
	EXPECT_EQ(0, ioctl_err(fd, GCA_IOC_GET_INFO, &info));
}

TEST_F(raw, create_checks)
{
	struct gca_create cr;
	int fd = self->fd;

	memset(&cr, 0, sizeof(cr));
	cr.size = sizeof(cr);
	cr.heap_size = HEAP + 4096;
	EXPECT_EQ(EINVAL, ioctl_err(fd, GCA_IOC_CREATE, &cr));
	cr.heap_size = GCA_HEAP_SIZE_MIN - GCA_PAGE_SIZE;
	EXPECT_EQ(EINVAL, ioctl_err(fd, GCA_IOC_CREATE, &cr));
	cr.heap_size = GCA_HEAP_SIZE_MAX + GCA_PAGE_SIZE;
	EXPECT_EQ(EINVAL, ioctl_err(fd, GCA_IOC_CREATE, &cr));
	cr.heap_size = HEAP;
	cr.flags = 1U << 5;
	EXPECT_EQ(EINVAL, ioctl_err(fd, GCA_IOC_CREATE, &cr));
	cr.flags = 0;
	cr.resv[3] = 1;
	EXPECT_EQ(EINVAL, ioctl_err(fd, GCA_IOC_CREATE, &cr));
	cr.resv[3] = 0;
	cr.preempt_signal = SIGKILL;
	EXPECT_EQ(EINVAL, ioctl_err(fd, GCA_IOC_CREATE, &cr));
	cr.preempt_signal = 200;
	EXPECT_EQ(EINVAL, ioctl_err(fd, GCA_IOC_CREATE, &cr));
	cr.preempt_signal = 0;
	cr.flags = GCA_CREATE_GC_PERCENT;
	cr.gc_percent = -2;
	EXPECT_EQ(EINVAL, ioctl_err(fd, GCA_IOC_CREATE, &cr));
	cr.flags = GCA_CREATE_MEMORY_LIMIT;
	cr.memory_limit = -5;
	EXPECT_EQ(EINVAL, ioctl_err(fd, GCA_IOC_CREATE, &cr));

	/* The failures left nothing behind: the same file creates. */
	memset(&cr, 0, sizeof(cr));
	cr.size = sizeof(cr);
	cr.heap_size = HEAP;
	ASSERT_EQ(0, ioctl_err(fd, GCA_IOC_CREATE, &cr));
	EXPECT_EQ(HEAP, cr.heap_size_out);
	EXPECT_LE(4096U, cr.ctrl_size);
	EXPECT_EQ(0U, cr.ctrl_size % 4096);
	self->cr = cr;
	/* Once per file. */
	EXPECT_EQ(EBUSY, ioctl_err(fd, GCA_IOC_CREATE, &cr));
}

/*
 * Argument sizes (iommufd's min_size).  Every command accepts any size
 * from the end of its struct's first version up: below it is EINVAL; a
 * struct one field longer than the module's is accepted when the extra
 * field is zero (a newer library that does not use it) and is E2BIG when
 * not.  Today's structs are the first version, except that struct
 * gca_create's ends before resv[] and struct gca_stats's before
 * mark_term_retries: there a size between the two is an older library's,
 * zero-filled, and the kernel must neither read nor write past it.
 */
#define offsetofend(T, m)	(offsetof(T, m) + sizeof(((T *)0)->m))

struct size_case {
	const char *name;
	unsigned long cmd;
	uint32_t min_size;	/* end of the first version */
	uint32_t last_size;	/* its last field */
	uint32_t size;		/* the struct in this header */
};

#define SIZE_CASE(c, type, last)					\
	{ #c, c, offsetofend(type, last), sizeof(((type *)0)->last),	\
	  sizeof(type) }

static const struct size_case size_cases[] = {
	SIZE_CASE(GCA_IOC_GET_INFO, struct gca_info, class_to_npages),
	SIZE_CASE(GCA_IOC_CREATE, struct gca_create, heap_size_out),
	SIZE_CASE(GCA_IOC_REGISTER_THREAD, struct gca_thread_reg, hs_seq),
	SIZE_CASE(GCA_IOC_UNREGISTER_THREAD, struct gca_thread_unreg, resv0),
	SIZE_CASE(GCA_IOC_REFILL, struct gca_refill, free_bits),
	SIZE_CASE(GCA_IOC_ALLOC_LARGE, struct gca_alloc_large, resv0),
	SIZE_CASE(GCA_IOC_HANDSHAKE, struct gca_handshake, resv1),
	SIZE_CASE(GCA_IOC_COLLECT, struct gca_handshake, resv1),
	SIZE_CASE(GCA_IOC_ADD_ROOTS, struct gca_roots, len),
	SIZE_CASE(GCA_IOC_REMOVE_ROOTS, struct gca_roots, len),
	SIZE_CASE(GCA_IOC_SET_PARAMS, struct gca_params_arg, memory_limit),
	SIZE_CASE(GCA_IOC_READ_STATS, struct gca_stats, resv1),
	SIZE_CASE(GCA_IOC_QUERY_OBJECTS, struct gca_query, resv0),
};

#define TAIL_BYTE	0xa5

/*
 * An argument of usize bytes in buf: the struct the header knows, then
 * (usize > size) a __u64 extra field, or (usize < size) TAIL_BYTE up to
 * size + 8, which the kernel must leave alone.
 */
static void set_size(uint8_t *buf, const struct size_case *sc, uint32_t usize,
		     uint64_t extra)
{
	if (usize > sc->size)
		memcpy(buf + sc->size, &extra, sizeof(extra));
	else
		memset(buf + usize, TAIL_BYTE, sc->size + 8 - usize);
	*(__u32 *)buf = usize;
}

static bool tail_intact(const uint8_t *buf, const struct size_case *sc,
			uint32_t usize, uint64_t extra)
{
	uint32_t i;

	if (usize > sc->size)
		return !memcmp(buf + sc->size, &extra, sizeof(extra));
	for (i = usize; i < sc->size + 8; i++)
		if (buf[i] != TAIL_BYTE)
			return false;
	return true;
}

static uint64_t size_root[8];

static int roots_full(int fd, unsigned long cmd)
{
	struct gca_roots ro = { .size = sizeof(ro),
				.start = (uintptr_t)size_root,
				.len = sizeof(size_root) };

	return ioctl_err(fd, cmd, &ro);
}

/*
 * A valid call of sc's command with usize bytes on an arena that is
 * created, mapped and has the calling thread registered, and no cycle
 * under way; the arena is left so.  The errno, or -1 when setting up or
 * undoing failed.
 */
static int sized_call(int fd, const struct size_case *sc, uint32_t usize,
		      uint64_t extra, bool *tail_ok)
{
	uint64_t query_addr = (uintptr_t)size_root, live = 0;
	struct gca_thread_reg *tr;
	struct gca_handshake *hs;
	struct gca_roots *ro;
	struct gca_query *q;
	int ret, undo = 0;
	uint8_t *buf;

	buf = calloc(1, sc->size + 8);
	if (!buf)
		return -1;
	tr = (void *)buf;
	hs = (void *)buf;
	ro = (void *)buf;
	q = (void *)buf;
	switch (sc->cmd) {
	case GCA_IOC_REGISTER_THREAD:
		if (thread_stack(&tr->stack_lo, &tr->stack_hi) ||
		    raw_unregister(fd))
			goto err;
		break;
	case GCA_IOC_REFILL:
		((struct gca_refill *)buf)->spanclass = GCA_SPANCLASS(1, 0);
		break;
	case GCA_IOC_ALLOC_LARGE:
		((struct gca_alloc_large *)buf)->bytes = 65536;
		break;
	case GCA_IOC_HANDSHAKE:
	case GCA_IOC_COLLECT:
		hs->sp = (uintptr_t)__builtin_frame_address(0);
		break;
	case GCA_IOC_ADD_ROOTS:
		ro->start = (uintptr_t)size_root;
		ro->len = sizeof(size_root);
		break;
	case GCA_IOC_REMOVE_ROOTS:
		if (roots_full(fd, GCA_IOC_ADD_ROOTS))
			goto err;
		ro->start = (uintptr_t)size_root;
		break;
	case GCA_IOC_QUERY_OBJECTS:
		q->addrs = (uintptr_t)&query_addr;
		q->live = (uintptr_t)&live;
		q->n = 1;
		break;
	}
	set_size(buf, sc, usize, extra);
	ret = ioctl_err(fd, sc->cmd, buf);
	*tail_ok = tail_intact(buf, sc, usize, extra);

	/* Put the arena back as it was. */
	switch (sc->cmd) {
	case GCA_IOC_REGISTER_THREAD:
		if (ret)
			undo = raw_register(fd);
		break;
	case GCA_IOC_UNREGISTER_THREAD:
		if (!ret)
			undo = raw_register(fd);
		break;
	case GCA_IOC_ADD_ROOTS:
		if (!ret)
			undo = roots_full(fd, GCA_IOC_REMOVE_ROOTS);
		break;
	case GCA_IOC_REMOVE_ROOTS:
		if (ret)
			undo = roots_full(fd, GCA_IOC_REMOVE_ROOTS);
		break;
	}
	free(buf);
	return undo ? -1 : ret;
err:
	free(buf);
	return -1;
}

TEST_F(raw, arg_sizes)
{
	struct gca_handshake hs = { .size = sizeof(hs) };
	struct gca_refill rf = { .size = sizeof(rf),
				 .spanclass = GCA_SPANCLASS(2, 1) };
	uint32_t usize;
	unsigned int i;
	bool tail_ok;

	setup_arena(_metadata, self, true);
	for (i = 0; i < ARRAY_SIZE(size_cases); i++) {
		const struct size_case *sc = &size_cases[i];
		uint32_t min = sc->min_size;

		if (sc->cmd == GCA_IOC_CREATE)
			continue;	/* once per file: create_sizes */
		/* One field short, one byte short. */
		EXPECT_EQ(EINVAL, sized_call(self->fd, sc, min - sc->last_size,
					     0, &tail_ok)) TH_LOG("%s", sc->name);
		EXPECT_TRUE(tail_ok) TH_LOG("%s", sc->name);
		EXPECT_EQ(EINVAL, sized_call(self->fd, sc, min - 1, 0,
					     &tail_ok)) TH_LOG("%s", sc->name);
		/* From the first version to the struct as this header has it. */
		for (usize = min; usize <= sc->size; usize += 8) {
			EXPECT_EQ(0, sized_call(self->fd, sc, usize, 0,
						&tail_ok))
				TH_LOG("%s size %u", sc->name, usize);
			EXPECT_TRUE(tail_ok)
				TH_LOG("%s size %u", sc->name, usize);
		}
		/* One field long: zero is fine, anything else is not. */
		EXPECT_EQ(0, sized_call(self->fd, sc, sc->size + 8, 0,
					&tail_ok)) TH_LOG("%s", sc->name);
		EXPECT_TRUE(tail_ok) TH_LOG("%s", sc->name);
		EXPECT_EQ(E2BIG, sized_call(self->fd, sc, sc->size + 8,
					    1ULL << 40, &tail_ok))
			TH_LOG("%s", sc->name);
		EXPECT_TRUE(tail_ok) TH_LOG("%s", sc->name);
	}
	/* And the arena still works: a refill and a cycle. */
	EXPECT_EQ(0, ioctl_err(self->fd, GCA_IOC_REFILL, &rf));
	hs.sp = (uintptr_t)__builtin_frame_address(0);
	EXPECT_EQ(0, ioctl_err(self->fd, GCA_IOC_COLLECT, &hs));
}

/* CREATE, once per file: each size on a fresh one. */
static int create_sized(uint32_t usize, uint64_t extra, bool *tail_ok,
			struct gca_create *out)
{
	const struct size_case *sc = &size_cases[1];
	uint8_t buf[sizeof(struct gca_create) + 8];
	struct gca_create *cr = (void *)buf;
	int fd, ret;

	fd = open(GCA_DEV, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -1;
	memset(buf, 0, sizeof(buf));
	cr->heap_size = HEAP;
	set_size(buf, sc, usize, extra);
	ret = ioctl_err(fd, GCA_IOC_CREATE, buf);
	*tail_ok = tail_intact(buf, sc, usize, extra);
	memcpy(out, buf, sizeof(*out));
	/* A failed CREATE left nothing behind: the same file creates. */
	if (ret) {
		struct gca_create full = { .size = sizeof(full),
					   .heap_size = HEAP };

		if (ioctl_err(fd, GCA_IOC_CREATE, &full))
			ret = -1;
	}
	close(fd);
	return ret;
}

TEST(create_sizes)
{
	const struct size_case *sc = &size_cases[1];
	uint32_t min = sc->min_size, usize;
	struct gca_create cr;
	bool tail_ok;

	ASSERT_EQ(GCA_IOC_CREATE, sc->cmd);
	ASSERT_LT(min, sc->size);
	EXPECT_EQ(EINVAL, create_sized(min - sc->last_size, 0, &tail_ok, &cr));
	EXPECT_EQ(EINVAL, create_sized(min - 1, 0, &tail_ok, &cr));
	/*
	 * From the first version up to the whole struct: what the caller did
	 * not send reads as zero (resv[] is fine), the out fields are all in
	 * the first version, and nothing past usize is touched.
	 */
	for (usize = min; usize <= sc->size; usize += 8) {
		EXPECT_EQ(0, create_sized(usize, 0, &tail_ok, &cr))
			TH_LOG("size %u", usize);
		EXPECT_TRUE(tail_ok) TH_LOG("size %u", usize);
		EXPECT_EQ(HEAP, cr.heap_size_out) TH_LOG("size %u", usize);
		EXPECT_LE(4096U, cr.ctrl_size) TH_LOG("size %u", usize);
		EXPECT_LT(0U, cr.id) TH_LOG("size %u", usize);
	}
	EXPECT_EQ(0, create_sized(sc->size + 8, 0, &tail_ok, &cr));
	EXPECT_TRUE(tail_ok);
	EXPECT_EQ(E2BIG, create_sized(sc->size + 8, 1, &tail_ok, &cr));
	EXPECT_TRUE(tail_ok);
}

TEST_F(raw, mmap_rules)
{
	struct gca_refill rf = { .size = sizeof(rf),
				 .spanclass = GCA_SPANCLASS(1, 0) };
	struct gca_alloc_large al = { .size = sizeof(al), .bytes = 65536 };
	int fd = self->fd;
	void *p, *dst;

	self->cr = (struct gca_create){ .size = sizeof(self->cr),
					.heap_size = HEAP };
	ASSERT_EQ(0, ioctl_err(fd, GCA_IOC_CREATE, &self->cr));

	/* Created, heap not mapped yet. */
	EXPECT_EQ(EBADFD, ioctl_err(fd, GCA_IOC_REFILL, &rf));
	EXPECT_EQ(EBADFD, ioctl_err(fd, GCA_IOC_ALLOC_LARGE, &al));

	/* Offsets that name nothing. */
	EXPECT_EQ(EINVAL, mmap_err(mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd,
					4096)));
	EXPECT_EQ(EINVAL, mmap_err(mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd,
					GCA_OFF_CTRL + 4096)));
	EXPECT_EQ(EINVAL, mmap_err(mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd,
					1ULL << 40)));

	/* The control page: its size, read-only, and it stays so. */
	EXPECT_EQ(EINVAL, mmap_err(mmap_ctrl(fd, 2 * self->cr.ctrl_size,
					     PROT_READ)));
	EXPECT_EQ(EPERM, mmap_err(mmap_ctrl(fd, self->cr.ctrl_size,
					    PROT_READ | PROT_WRITE)));
	self->ctrl = mmap_ctrl(fd, self->cr.ctrl_size, PROT_READ);
	ASSERT_NE(MAP_FAILED, self->ctrl);
	EXPECT_EQ((__u32)GCA_CTRL_MAGIC, self->ctrl->magic);
	EXPECT_EQ((__u32)GCA_ABI_VERSION, self->ctrl->abi_version);
	EXPECT_EQ((__u64)HEAP, self->ctrl->heap_size);
	EXPECT_EQ(0ULL, self->ctrl->heap_base);
	EXPECT_EQ(-1, mprotect((void *)self->ctrl, self->cr.ctrl_size,
			       PROT_READ | PROT_WRITE));
	EXPECT_EQ(EACCES, errno);

	/* The heap: exactly its size, shared, not executable, once. */
	EXPECT_EQ(EINVAL, mmap_err(mmap_heap(fd, HEAP - GCA_PAGE_SIZE,
					     PROT_READ | PROT_WRITE,
					     MAP_SHARED)));
	EXPECT_EQ(EINVAL, mmap_err(mmap_heap(fd, HEAP + GCA_PAGE_SIZE,
					     PROT_READ | PROT_WRITE,
					     MAP_SHARED)));
	EXPECT_EQ(EINVAL, mmap_err(mmap_heap(fd, HEAP, PROT_READ | PROT_WRITE,
					     MAP_PRIVATE)));
	EXPECT_EQ(EPERM, mmap_err(mmap_heap(fd, HEAP, PROT_READ | PROT_EXEC,
					    MAP_SHARED)));
	self->heap = mmap_heap(fd, HEAP, PROT_READ | PROT_WRITE, MAP_SHARED);
	ASSERT_NE(MAP_FAILED, self->heap);
	EXPECT_EQ((__u64)(uintptr_t)self->heap, self->ctrl->heap_base);
	EXPECT_EQ(EBUSY, mmap_err(mmap_heap(fd, HEAP, PROT_READ | PROT_WRITE,
					    MAP_SHARED)));
	/*
	 * It cannot move: the collector knows it by its address.  (The
	 * target is a reservation of ours: mremap() clears it first.)
	 */
	dst = mmap(NULL, HEAP, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, dst);
	p = mremap(self->heap, HEAP, HEAP, MREMAP_MAYMOVE | MREMAP_FIXED, dst);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ((__u64)(uintptr_t)self->heap, self->ctrl->heap_base);
	munmap(dst, HEAP);
}

TEST_F(raw, thread_registration)
{
	struct gca_thread_reg tr = { .size = sizeof(tr) };
	struct gca_thread_unreg tu = { .size = sizeof(tu) };
	struct gca_refill rf = { .size = sizeof(rf),
				 .spanclass = GCA_SPANCLASS(1, 0) };
	struct gca_handshake hs = { .size = sizeof(hs) };
	int fd = self->fd;
	char local;

	setup_arena(_metadata, self, false);

	/* Unregistered: what needs a registered thread says ESRCH. */
	EXPECT_EQ(ESRCH, ioctl_err(fd, GCA_IOC_REFILL, &rf));
	EXPECT_EQ(ESRCH, ioctl_err(fd, GCA_IOC_HANDSHAKE, &hs));
	EXPECT_EQ(ESRCH, ioctl_err(fd, GCA_IOC_UNREGISTER_THREAD, &tu));

	/* Bad stacks. */
	tr.stack_lo = 8192;
	tr.stack_hi = 4096;
	EXPECT_EQ(EINVAL, ioctl_err(fd, GCA_IOC_REGISTER_THREAD, &tr));
	tr.stack_lo = 4096;
	tr.stack_hi = 4096;
	EXPECT_EQ(EINVAL, ioctl_err(fd, GCA_IOC_REGISTER_THREAD, &tr));
	tr.stack_lo = 0xffff800000000000ULL;
	tr.stack_hi = tr.stack_lo + 65536;
	EXPECT_EQ(EINVAL, ioctl_err(fd, GCA_IOC_REGISTER_THREAD, &tr));
	tr.stack_lo = (uintptr_t)&local & ~4095UL;
	tr.stack_hi = tr.stack_lo + 65536;
	tr.resv0 = 1;
	EXPECT_EQ(EINVAL, ioctl_err(fd, GCA_IOC_REGISTER_THREAD, &tr));
	tr.resv0 = 0;
	tr.flags = 1;
	EXPECT_EQ(EINVAL, ioctl_err(fd, GCA_IOC_REGISTER_THREAD, &tr));
	tr.flags = 0;

	ASSERT_EQ(0, ioctl_err(fd, GCA_IOC_REGISTER_THREAD, &tr));
	EXPECT_EQ(EEXIST, ioctl_err(fd, GCA_IOC_REGISTER_THREAD, &tr));
	EXPECT_EQ(0, ioctl_err(fd, GCA_IOC_UNREGISTER_THREAD, &tu));
	EXPECT_EQ(ESRCH, ioctl_err(fd, GCA_IOC_UNREGISTER_THREAD, &tu));
	EXPECT_EQ(0, ioctl_err(fd, GCA_IOC_REGISTER_THREAD, &tr));
}

TEST_F(raw, refill_and_spans)
{
	struct gca_refill rf = { .size = sizeof(rf) };
	struct gca_handshake hs = { .size = sizeof(hs) };
	struct gca_stats st = { .size = sizeof(st) };
	struct gca_span_ret sr[1];
	struct gca_info info;
	unsigned int bits = 0, w;
	uintptr_t heap, a, b;
	int fd = self->fd;

	ASSERT_EQ(0, raw_get_info(&info));
	setup_arena(_metadata, self, true);
	heap = (uintptr_t)self->heap;

	/* Span classes: class 0 is large, and there are 68 classes. */
	rf.spanclass = GCA_SPANCLASS(0, 0);
	EXPECT_EQ(EINVAL, ioctl_err(fd, GCA_IOC_REFILL, &rf));
	rf.spanclass = GCA_SPANCLASS(0, 1);
	EXPECT_EQ(EINVAL, ioctl_err(fd, GCA_IOC_REFILL, &rf));
	rf.spanclass = GCA_NUM_SPAN_CLASSES;
	EXPECT_EQ(EINVAL, ioctl_err(fd, GCA_IOC_REFILL, &rf));
	rf.spanclass = ~0U;
	EXPECT_EQ(EINVAL, ioctl_err(fd, GCA_IOC_REFILL, &rf));
	rf.spanclass = GCA_SPANCLASS(4, 0);
	rf.resv0 = 1;
	EXPECT_EQ(EINVAL, ioctl_err(fd, GCA_IOC_REFILL, &rf));
	rf.resv0 = 0;
	rf.flags = 2;
	EXPECT_EQ(EINVAL, ioctl_err(fd, GCA_IOC_REFILL, &rf));
	rf.flags = 0;

	/* A fresh span of 32-byte objects (class 4). */
	ASSERT_EQ(0, ioctl_err(fd, GCA_IOC_REFILL, &rf));
	EXPECT_LE(heap, rf.base);
	EXPECT_GT(heap + HEAP, rf.base);
	EXPECT_EQ(0ULL, (rf.base - heap) % GCA_PAGE_SIZE);
	EXPECT_EQ(info.class_to_size[4], rf.elemsize);
	EXPECT_EQ(info.class_to_npages[4] * GCA_PAGE_SIZE / rf.elemsize,
		  rf.nelems);
	for (w = 0; w < GCA_FREE_WORDS; w++)
		bits += __builtin_popcountll(rf.free_bits[w]);
	EXPECT_EQ(rf.nelems, bits);
	EXPECT_EQ(0U, rf.needzero);

	/* A base that is not a span of ours, or not a span start. */
	a = rf.base;
	rf.ret_base = a + 32;
	EXPECT_EQ(EINVAL, ioctl_err(fd, GCA_IOC_REFILL, &rf));
	rf.ret_base = heap + HEAP - GCA_PAGE_SIZE;
	EXPECT_EQ(EINVAL, ioctl_err(fd, GCA_IOC_REFILL, &rf));
	rf.ret_base = 4096;
	EXPECT_EQ(EINVAL, ioctl_err(fd, GCA_IOC_REFILL, &rf));

	/* A span of another class: 48-byte objects. */
	rf.spanclass = GCA_SPANCLASS(5, 1);
	rf.ret_base = 0;
	ASSERT_EQ(0, ioctl_err(fd, GCA_IOC_REFILL, &rf));
	b = rf.base;
	EXPECT_NE(a, b);
	EXPECT_EQ(info.class_to_size[5], rf.elemsize);

	/* Give the first back with 3 objects allocated, take one again
	 * (maybe the same: it has free slots). */
	rf.spanclass = GCA_SPANCLASS(4, 0);
	rf.ret_base = a;
	rf.ret_freeindex = 3;
	ASSERT_EQ(0, ioctl_err(fd, GCA_IOC_REFILL, &rf));
	a = rf.base;
	ASSERT_EQ(0, ioctl_err(fd, GCA_IOC_READ_STATS, &st));
	EXPECT_EQ(3ULL, st.mallocs);
	EXPECT_EQ(3ULL, st.heap_objects);
	EXPECT_EQ(3ULL * 32, st.heap_alloc);

	/* Span entries: reserved bits, a bad array, too many. */
	sr[0] = (struct gca_span_ret){ .base = b, .freeindex = 1, .resv = 1 };
	hs.spans = (uintptr_t)sr;
	hs.nspans = 1;
	EXPECT_EQ(EINVAL, ioctl_err(fd, GCA_IOC_HANDSHAKE, &hs));
	hs.spans = 4096;
	EXPECT_EQ(EFAULT, ioctl_err(fd, GCA_IOC_HANDSHAKE, &hs));
	hs.spans = (uintptr_t)sr;
	hs.nspans = 1000000;
	EXPECT_EQ(EINVAL, ioctl_err(fd, GCA_IOC_HANDSHAKE, &hs));
	hs.nspans = 0;
	hs.resv0 = 1;
	EXPECT_EQ(EINVAL, ioctl_err(fd, GCA_IOC_HANDSHAKE, &hs));
	hs.resv0 = 0;

	/* The second span comes back by handshake (no cycle: it returns
	 * at once); naming it again is EINVAL, after doing the rest. */
	sr[0].resv = 0;
	hs.nspans = 1;
	hs.sp = (uintptr_t)__builtin_frame_address(0);
	hs.seq = self->ctrl->hs_seq;
	EXPECT_EQ(0, ioctl_err(fd, GCA_IOC_HANDSHAKE, &hs));
	EXPECT_EQ(EINVAL, ioctl_err(fd, GCA_IOC_HANDSHAKE, &hs));
	ASSERT_EQ(0, ioctl_err(fd, GCA_IOC_READ_STATS, &st));
	EXPECT_EQ(4ULL, st.mallocs);

	/* A cycle, giving back the last span with nothing more in it. */
	sr[0] = (struct gca_span_ret){ .base = a, .freeindex = 0 };
	hs.nspans = 1;
	ASSERT_EQ(0, ioctl_err(fd, GCA_IOC_COLLECT, &hs));
	EXPECT_LE(1ULL, hs.num_gc);
	EXPECT_EQ(hs.num_gc, self->ctrl->num_gc);
	ASSERT_EQ(0, ioctl_err(fd, GCA_IOC_READ_STATS, &st));
	EXPECT_EQ(4ULL, st.mallocs);
	EXPECT_EQ(1U, st.num_gc);
	EXPECT_EQ(st.mallocs - st.frees, st.heap_objects);
}

TEST_F(raw, alloc_large_checks)
{
	struct gca_alloc_large al = { .size = sizeof(al) };
	uintptr_t heap;
	int fd = self->fd;

	setup_arena(_metadata, self, true);
	heap = (uintptr_t)self->heap;

	al.bytes = 0;
	EXPECT_EQ(EINVAL, ioctl_err(fd, GCA_IOC_ALLOC_LARGE, &al));
	al.bytes = HEAP + 1;
	EXPECT_EQ(EINVAL, ioctl_err(fd, GCA_IOC_ALLOC_LARGE, &al));
	al.bytes = 65536;
	al.flags = 1U << 4;
	EXPECT_EQ(EINVAL, ioctl_err(fd, GCA_IOC_ALLOC_LARGE, &al));
	al.flags = 0;
	al.resv0 = 1;
	EXPECT_EQ(EINVAL, ioctl_err(fd, GCA_IOC_ALLOC_LARGE, &al));
	al.resv0 = 0;

	ASSERT_EQ(0, ioctl_err(fd, GCA_IOC_ALLOC_LARGE, &al));
	EXPECT_LE(heap, al.addr);
	EXPECT_GE(heap + HEAP - 65536, al.addr);
	EXPECT_EQ(0ULL, (al.addr - heap) % GCA_PAGE_SIZE);
	/* The pages are there to write. */
	memset((void *)(uintptr_t)al.addr, 0x77, 65536);
	/* Small sizes are taken and rounded to pages. */
	al.bytes = 100;
	al.flags = GCA_ALLOC_NOSCAN;
	EXPECT_EQ(0, ioctl_err(fd, GCA_IOC_ALLOC_LARGE, &al));
	/* More than what is left. */
	al.bytes = HEAP;
	EXPECT_EQ(ENOMEM, ioctl_err(fd, GCA_IOC_ALLOC_LARGE, &al));
}

TEST_F(raw, roots_and_params)
{
	struct gca_roots ro = { .size = sizeof(ro) };
	struct gca_params_arg pa = { .size = sizeof(pa) };
	struct gca_handshake hs = { .size = sizeof(hs) };
	struct gca_span_ret sr = { 0 };
	static char area[4096];
	int fd = self->fd;

	setup_arena(_metadata, self, false);

	ro.start = (uintptr_t)area;
	ro.len = 0;
	EXPECT_EQ(EINVAL, ioctl_err(fd, GCA_IOC_ADD_ROOTS, &ro));
	ro.start = ~0ULL - 15;
	ro.len = 64;
	EXPECT_EQ(EINVAL, ioctl_err(fd, GCA_IOC_ADD_ROOTS, &ro));
	ro.start = 0xffff800000000000ULL;
	ro.len = 4096;
	EXPECT_EQ(EFAULT, ioctl_err(fd, GCA_IOC_ADD_ROOTS, &ro));
	ro.start = (uintptr_t)area;
	ro.len = sizeof(area);
	ro.flags = 1;
	EXPECT_EQ(EINVAL, ioctl_err(fd, GCA_IOC_ADD_ROOTS, &ro));
	ro.flags = 0;
	EXPECT_EQ(0, ioctl_err(fd, GCA_IOC_ADD_ROOTS, &ro));
	EXPECT_EQ(EEXIST, ioctl_err(fd, GCA_IOC_ADD_ROOTS, &ro));
	EXPECT_EQ(0, ioctl_err(fd, GCA_IOC_REMOVE_ROOTS, &ro));
	EXPECT_EQ(ENOENT, ioctl_err(fd, GCA_IOC_REMOVE_ROOTS, &ro));

	/* Knobs: flags, values, reserved. */
	pa.flags = 1U << 9;
	EXPECT_EQ(EINVAL, ioctl_err(fd, GCA_IOC_SET_PARAMS, &pa));
	pa.flags = GCA_SET_GC_PERCENT;
	pa.gc_percent = -2;
	EXPECT_EQ(EINVAL, ioctl_err(fd, GCA_IOC_SET_PARAMS, &pa));
	pa.flags = GCA_SET_GC_PERCENT | GCA_SET_DEFAULT_GC_PERCENT;
	pa.gc_percent = 50;
	EXPECT_EQ(EINVAL, ioctl_err(fd, GCA_IOC_SET_PARAMS, &pa));
	pa.flags = GCA_SET_MEMORY_LIMIT;
	pa.memory_limit = -1;
	EXPECT_EQ(EINVAL, ioctl_err(fd, GCA_IOC_SET_PARAMS, &pa));
	/* debug was resv0 in the first draft: unknown debug bits refused */
	pa.flags = GCA_SET_DEBUG;
	pa.debug = 0x80;
	EXPECT_EQ(EINVAL, ioctl_err(fd, GCA_IOC_SET_PARAMS, &pa));
	pa.flags = GCA_SET_DEBUG | GCA_SET_DEFAULT_DEBUG;
	pa.debug = 0;
	EXPECT_EQ(EINVAL, ioctl_err(fd, GCA_IOC_SET_PARAMS, &pa));
	pa.flags = GCA_SET_GC_PERCENT;
	pa.gc_percent = 50;
	ASSERT_EQ(0, ioctl_err(fd, GCA_IOC_SET_PARAMS, &pa));
	pa.flags = 0;
	ASSERT_EQ(0, ioctl_err(fd, GCA_IOC_SET_PARAMS, &pa));
	EXPECT_EQ(50, pa.gc_percent);

	/* COLLECT from an unregistered thread: allowed, without spans. */
	sr.base = (uintptr_t)self->heap;
	hs.spans = (uintptr_t)&sr;
	hs.nspans = 1;
	EXPECT_EQ(EINVAL, ioctl_err(fd, GCA_IOC_COLLECT, &hs));
	hs.nspans = 0;
	EXPECT_EQ(0, ioctl_err(fd, GCA_IOC_COLLECT, &hs));
	EXPECT_LE(1ULL, hs.num_gc);
}

/*
 * A child of fork() has no heap or control page, and its inherited
 * descriptor is refused (only GET_INFO, which concerns no arena, works).
 * Returns a bitmask of failed checks as exit status.
 */
static int child_checks(FIXTURE_DATA(raw) *self)
{
	struct gca_refill rf = { .size = sizeof(rf),
				 .spanclass = GCA_SPANCLASS(1, 0) };
	struct gca_stats st = { .size = sizeof(st) };
	struct gca_handshake hs = { .size = sizeof(hs) };
	struct gca_info info = { .size = sizeof(info) };
	unsigned char vec[4];
	int fail = 0;

	if (mincore(self->heap, 4096, vec) != -1 || errno != ENOMEM)
		fail |= 1;
	if (mincore((void *)self->ctrl, 4096, vec) != -1 || errno != ENOMEM)
		fail |= 2;
	if (ioctl_err(self->fd, GCA_IOC_READ_STATS, &st) != EPERM)
		fail |= 4;
	if (ioctl_err(self->fd, GCA_IOC_REFILL, &rf) != EPERM)
		fail |= 8;
	if (ioctl_err(self->fd, GCA_IOC_COLLECT, &hs) != EPERM)
		fail |= 16;
	if (mmap_err(mmap_ctrl(self->fd, self->cr.ctrl_size, PROT_READ)) !=
	    EPERM)
		fail |= 32;
	if (ioctl_err(self->fd, GCA_IOC_GET_INFO, &info) != 0)
		fail |= 64;
	return fail;
}

TEST_F(raw, other_process)
{
	struct gca_stats st = { .size = sizeof(st) };
	int status;
	pid_t pid;

	setup_arena(_metadata, self, true);

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0)
		_exit(child_checks(self));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status))
		TH_LOG("child: heap mapped %d, ctrl mapped %d, READ_STATS %d, REFILL %d, COLLECT %d, mmap %d, GET_INFO %d",
		       !!(WEXITSTATUS(status) & 1), !!(WEXITSTATUS(status) & 2),
		       !!(WEXITSTATUS(status) & 4), !!(WEXITSTATUS(status) & 8),
		       !!(WEXITSTATUS(status) & 16),
		       !!(WEXITSTATUS(status) & 32),
		       !!(WEXITSTATUS(status) & 64));
	/* The parent's arena is untouched. */
	EXPECT_EQ(0, ioctl_err(self->fd, GCA_IOC_READ_STATS, &st));
}

/* The library works next to a half-made raw arena of the same process. */
TEST(library_next_to_raw_arena)
{
	struct gca_create cr = { .size = sizeof(cr), .heap_size = HEAP };
	struct gca_arena *a;
	struct node *l;
	int fd;

	/* A half-made arena left open in this process. */
	fd = open(GCA_DEV, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ioctl_err(fd, GCA_IOC_CREATE, &cr));
	EXPECT_EQ(EFAULT, ioctl_err(fd, GCA_IOC_GET_INFO, NULL));

	ASSERT_EQ(0, open_arena(&a, 64 * SZ_1M, 100));
	l = build_list(a, 1000, 1, 42);
	ASSERT_NE(NULL, l);
	ASSERT_EQ(0, gca_collect(a));
	EXPECT_EQ(1000ULL, check_list(l, 1, 42));
	EXPECT_NE(NULL, gca_alloc(a, 100000));
	gca_close(a);
	close(fd);
}

TEST_HARNESS_MAIN
