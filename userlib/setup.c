/* SPDX-License-Identifier: (LGPL-2.1 OR MIT) */
/*
 * Opening and closing an arena: the device, GCA_IOC_GET_INFO and the size
 * class tables, GCA_IOC_CREATE, the two mappings, the preempt signal and
 * the opening thread's registration.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "gca_int.h"

/*
 * The heap is mapped at an address aligned to this, inside a PROT_NONE
 * reservation, so that 8 KiB heap pages (and the 8 KiB alignment Go gives
 * to objects of 8 KiB and more) are aligned in absolute terms whatever
 * the kernel's get_unmapped_area() picks.  2 MiB also lets huge pages back
 * the heap.
 */
#define GCA_HEAP_ALIGN		(2UL << 20)

#define GCA_DEFAULT_DEVICE	"/dev/gcarena"

/*
 * What this library needs of the module (io_uring's way with
 * IORING_FEAT_*): it refuses a module only when one of these feature bits
 * is missing, never for its abi_version, so that it keeps working with a
 * newer module (argument structs only grow; the module accepts every size
 * from a struct's first version up) and with an older one that has these
 * features.  The write barrier's buffer and parking (GCA_HS_PARK) are
 * GCA_FEAT_CONCURRENT's; GCA_FEAT_PREEMPT_SIGNAL is optional (without it
 * the library asks for no signal).
 */
#define GCA_LIB_NEEDS		GCA_FEAT_CONCURRENT

/*
 * Check the class table the kernel reports and build Go's two lookup
 * tables from it: size_to_class8[(size + 7) / 8] for sizes up to 1016 and
 * size_to_class128[(size - 1024 + 127) / 128] above, each the smallest
 * class whose size is at least the request.
 */
static int gca_build_classes(struct gca_arena *a, const struct gca_info *info)
{
	unsigned int c, i, tiny;
	size_t size;

	if (info->num_size_classes != GCA_NUM_SIZE_CLASSES ||
	    info->page_size != GCA_PAGE_SIZE)
		return -EPROTO;
	for (c = 1; c < GCA_NUM_SIZE_CLASSES; c++) {
		uint32_t sz = info->class_to_size[c];
		uint32_t np = info->class_to_npages[c];

		if (!sz || sz % 8 || sz <= info->class_to_size[c - 1] || !np ||
		    (uint64_t)np * GCA_PAGE_SIZE / sz > GCA_MAX_SPAN_OBJECTS ||
		    (uint64_t)np * GCA_PAGE_SIZE < sz)
			return -EPROTO;
	}
	if (info->class_to_size[GCA_NUM_SIZE_CLASSES - 1] != GCA_MAX_SMALL_SIZE)
		return -EPROTO;
	memcpy(a->class_to_size, info->class_to_size, sizeof(a->class_to_size));
	memcpy(a->class_to_npages, info->class_to_npages,
	       sizeof(a->class_to_npages));

	c = 1;
	for (i = 0; i < GCA_NUM_CLASS8; i++) {
		size = (size_t)i * GCA_SMALL_SIZE_DIV;
		while (a->class_to_size[c] < size)
			c++;
		a->size_to_class8[i] = c;
	}
	for (i = 0; i < GCA_NUM_CLASS128; i++) {
		size = GCA_SMALL_SIZE_MAX + (size_t)i * GCA_LARGE_SIZE_DIV;
		while (a->class_to_size[c] < size)
			c++;
		a->size_to_class128[i] = c;
	}

	/* The tiny allocator packs objects into 16-byte blocks. */
	tiny = a->size_to_class8[GCA_TINY_SIZE / GCA_SMALL_SIZE_DIV];
	if (a->class_to_size[tiny] != GCA_TINY_SIZE)
		return -EPROTO;
	a->tiny_spanclass = GCA_SPANCLASS(tiny, 1);
	return 0;
}

/*
 * -EPROTO: the device does not speak this ABI (no GCA_IOC_GET_INFO, or
 * tables the allocator cannot use); -EOPNOTSUPP: it lacks a feature in
 * GCA_LIB_NEEDS.
 */
static int gca_get_info(struct gca_arena *a)
{
	struct gca_info info;
	int ret;

	memset(&info, 0, sizeof(info));
	info.size = sizeof(info);
	do {
		ret = __gca_sys_ioctl(a->fd, GCA_IOC_GET_INFO, &info);
	} while (ret == -EINTR);
	if (ret == -ENOTTY)
		return -EPROTO;
	if (ret)
		return ret;
	if ((info.features & GCA_LIB_NEEDS) != GCA_LIB_NEEDS)
		return -EOPNOTSUPP;
	a->features = info.features;
	a->max_threads = info.max_threads;
	return gca_build_classes(a, &info);
}

/*
 * Map the heap at a GCA_HEAP_ALIGN-aligned address: reserve len + align
 * bytes of nothing, map the device over the aligned part with MAP_FIXED
 * and give back the slack on both sides.
 */
static int gca_map_heap(struct gca_arena *a, size_t len)
{
	uintptr_t start, aligned;
	size_t rlen;
	void *r, *heap;

	if (len > SIZE_MAX - GCA_HEAP_ALIGN)
		return -ENOMEM;
	rlen = len + GCA_HEAP_ALIGN;
	r = mmap(NULL, rlen, PROT_NONE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (r == MAP_FAILED)
		return -errno;
	start = (uintptr_t)r;
	aligned = (start + GCA_HEAP_ALIGN - 1) & ~(GCA_HEAP_ALIGN - 1);
	heap = mmap((void *)aligned, len, PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_FIXED, a->fd, GCA_OFF_HEAP);
	if (heap == MAP_FAILED) {
		int err = -errno;

		munmap(r, rlen);
		return err;
	}
	if (aligned > start)
		munmap(r, aligned - start);
	if (start + rlen > aligned + len)
		munmap((void *)(aligned + len), start + rlen - (aligned + len));
	a->map_base = heap;
	a->map_size = len;
	return 0;
}

int gca_open(struct gca_arena **arenap, const struct gca_params *p)
{
	static const struct gca_params defaults;
	const struct gca_ctrl *ctrl;
	struct gca_create cr;
	struct gca_arena *a;
	struct gca_tcache *tc;
	void *map;
	int sig, ret;

	if (!arenap)
		return -EINVAL;
	*arenap = NULL;
	ret = __gca_lib_init();
	if (ret)
		return ret;
	if (!p)
		p = &defaults;
	if (p->flags & ~(GCA_PARAM_GC_PERCENT | GCA_PARAM_MEMORY_LIMIT))
		return -EINVAL;
	if (p->preempt_signal == 0)
		sig = SIGURG;
	else if (p->preempt_signal == -1)
		sig = 0;
	else if (p->preempt_signal > 0 && p->preempt_signal < NSIG &&
		 p->preempt_signal != SIGKILL && p->preempt_signal != SIGSTOP)
		sig = p->preempt_signal;
	else
		return -EINVAL;

	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->fd = -1;
	ret = pthread_mutex_init(&a->lock, NULL);
	if (ret) {
		free(a);
		return -ret;
	}

	a->fd = open(p->device ? p->device : GCA_DEFAULT_DEVICE,
		     O_RDWR | O_CLOEXEC);
	if (a->fd < 0) {
		ret = -errno;
		goto err;
	}
	ret = gca_get_info(a);
	if (ret)
		goto err;
	/* An old module that cannot signal laggards: don't ask it to. */
	if (!(a->features & GCA_FEAT_PREEMPT_SIGNAL))
		sig = 0;

	memset(&cr, 0, sizeof(cr));
	cr.size = sizeof(cr);
	cr.heap_size = p->heap_size;
	if (p->flags & GCA_PARAM_GC_PERCENT) {
		cr.flags |= GCA_CREATE_GC_PERCENT;
		cr.gc_percent = p->gc_percent;
	}
	if (p->flags & GCA_PARAM_MEMORY_LIMIT) {
		cr.flags |= GCA_CREATE_MEMORY_LIMIT;
		cr.memory_limit = p->memory_limit;
	}
	cr.preempt_signal = sig;
	do {
		ret = __gca_sys_ioctl(a->fd, GCA_IOC_CREATE, &cr);
	} while (ret == -EINTR);
	if (ret)
		goto err;
	a->id = cr.id;
	a->ctrl_size = cr.ctrl_size;
	a->heap_size = cr.heap_size_out;
	if (a->ctrl_size < sizeof(struct gca_ctrl) || !a->heap_size ||
	    (uint64_t)a->heap_size != cr.heap_size_out) {
		ret = -EPROTO;
		goto err;
	}

	map = mmap(NULL, a->ctrl_size, PROT_READ, MAP_SHARED, a->fd,
		   GCA_OFF_CTRL);
	if (map == MAP_FAILED) {
		ret = -errno;
		goto err;
	}
	a->head.ctrl = ctrl = map;
	/* the page only grows, into resv[]: no version to compare */
	if (ctrl->magic != GCA_CTRL_MAGIC) {
		ret = -EPROTO;
		goto err;
	}
	ret = gca_map_heap(a, a->heap_size);
	if (ret)
		goto err;
	a->head.heap_base = (uintptr_t)a->map_base;
	a->head.heap_end = a->head.heap_base + a->heap_size;

	if (sig) {
		ret = __gca_sig_get(sig);
		if (ret)
			goto err;
		a->sig = sig;
	}
	ret = __gca_register(a, &tc);
	if (ret)
		goto err;

	pthread_mutex_lock(&__gca_arenas_lock);
	a->next = __gca_arenas;
	__gca_arenas = a;
	pthread_mutex_unlock(&__gca_arenas_lock);
	__gca_obs_open(a);
	*arenap = a;
	return 0;

err:
	if (a->sig)
		__gca_sig_put(a->sig);
	if (a->map_base)
		munmap(a->map_base, a->map_size);
	if (a->head.ctrl)
		munmap((void *)a->head.ctrl, a->ctrl_size);
	if (a->fd >= 0)
		close(a->fd);
	pthread_mutex_destroy(&a->lock);
	free(a);
	return ret;
}

void gca_close(struct gca_arena *a)
{
	struct gca_tcache *tc, *next;
	struct gca_arena **pp;

	if (!a)
		return;
	__gca_obs_close(a);

	pthread_mutex_lock(&__gca_arenas_lock);
	for (pp = &__gca_arenas; *pp; pp = &(*pp)->next) {
		if (*pp == a) {
			*pp = a->next;
			break;
		}
	}
	pthread_mutex_unlock(&__gca_arenas_lock);

	/* The caller's own cache goes back to the kernel and away. */
	tc = __gca_tc_find(a);
	if (tc) {
		__gca_unregister(tc);
		__gca_forget(tc);
	}

	/*
	 * Caches of other threads that are still registered: their threads
	 * have promised not to use the arena again, but own the memory and
	 * have it on their thread lists; mark them dead and let each thread
	 * free its own on its next lookup or at its exit.
	 */
	pthread_mutex_lock(&a->lock);
	for (tc = a->caches; tc; tc = next) {
		next = tc->anext;
		tc->anext = NULL;
		__atomic_store_n(&tc->dead, 1, __ATOMIC_RELEASE);
	}
	a->caches = NULL;
	pthread_mutex_unlock(&a->lock);

	if (a->sig)
		__gca_sig_put(a->sig);
	munmap(a->map_base, a->map_size);
	munmap((void *)a->head.ctrl, a->ctrl_size);
	close(a->fd);
	pthread_mutex_destroy(&a->lock);
	free(a);
}

int gca_arena_id(struct gca_arena *a)
{
	return a->id;
}

int gca_arena_fd(struct gca_arena *a)
{
	return a->fd;
}
