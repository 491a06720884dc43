/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The device without the library, for the selftests that speak the ABI
 * themselves (gca_ioctl and the gca_hostile_* programs).  Each helper
 * makes the call the library would make and gives back its errno, 0 on
 * success, so that a test asserts the exact error it expects; anything
 * a test varies (sizes, reserved fields, bad pointers) it writes out
 * itself with ioctl_err().
 */
#ifndef _GCA_TEST_RAW_H
#define _GCA_TEST_RAW_H

#include <pthread.h>
#include <sys/mman.h>

#include "gca_test.h"

/* errno of a failed ioctl, 0 on success */
static inline int ioctl_err(int fd, unsigned long cmd, void *arg)
{
	return ioctl(fd, cmd, arg) ? errno : 0;
}

/* errno of a failed mmap, 0 on success */
static inline int mmap_err(void *p)
{
	return p == MAP_FAILED ? errno : 0;
}

/*
 * The calling thread's stack, as the library registers it: 0, or an
 * errno with *lo = *hi = 0 (a range the kernel refuses).
 */
static inline int thread_stack(__u64 *lo, __u64 *hi)
{
	pthread_attr_t attr;
	size_t size;
	void *addr;
	int ret;

	*lo = *hi = 0;
	ret = pthread_getattr_np(pthread_self(), &attr);
	if (ret)
		return ret;
	ret = pthread_attr_getstack(&attr, &addr, &size);
	if (!ret) {
		*lo = (uintptr_t)addr;
		*hi = (uintptr_t)addr + size;
	}
	pthread_attr_destroy(&attr);
	return ret;
}

/*
 * Register the calling thread with its stack.  EAGAIN: the call met mark
 * termination; the ABI says ask again, as the library does.
 */
static inline int raw_register(int fd)
{
	struct gca_thread_reg tr = { .size = sizeof(tr) };
	int ret;

	ret = thread_stack(&tr.stack_lo, &tr.stack_hi);
	if (ret)
		return ret;
	do
		ret = ioctl_err(fd, GCA_IOC_REGISTER_THREAD, &tr);
	while (ret == EAGAIN);
	return ret;
}

static inline int raw_unregister(int fd)
{
	struct gca_thread_unreg tu = { .size = sizeof(tu) };

	return ioctl_err(fd, GCA_IOC_UNREGISTER_THREAD, &tu);
}

static inline int raw_stats(int fd, struct gca_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->size = sizeof(*st);
	return ioctl_err(fd, GCA_IOC_READ_STATS, st);
}

/*
 * COLLECT (or HANDSHAKE), optionally giving back n spans; the cycle
 * count in *num_gc if asked.  Always inlined, so that the stack pointer
 * given (the kernel scans the stack from there up) is the caller's frame
 * address wherever it is used, whatever the compiler would choose.
 */
static inline __attribute__((__always_inline__))
int raw_hs(int fd, unsigned long cmd, struct gca_span_ret *sr, uint32_t n,
	   uint64_t *num_gc)
{
	struct gca_handshake hs = { .size = sizeof(hs) };
	int ret;

	hs.sp = (uintptr_t)__builtin_frame_address(0);
	hs.spans = (uintptr_t)sr;
	hs.nspans = n;
	ret = ioctl_err(fd, cmd, &hs);
	if (num_gc)
		*num_gc = hs.num_gc;
	return ret;
}

/* A raw arena, created only: its fd (and id, if asked), or -errno. */
static inline int raw_create(uint64_t heap_size, int *id)
{
	struct gca_create cr = { .size = sizeof(cr), .heap_size = heap_size };
	int fd, ret;

	if (id)
		*id = 0;	/* no arena has id 0 */
	fd = open(GCA_DEV, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ret = ioctl_err(fd, GCA_IOC_CREATE, &cr);
	if (ret) {
		close(fd);
		return -ret;
	}
	if (id)
		*id = cr.id;
	return fd;
}

#endif /* _GCA_TEST_RAW_H */
