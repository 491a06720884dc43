/* SPDX-License-Identifier: (LGPL-2.1 OR MIT) */
/*
 * Root ranges: memory outside the arena and the thread stacks that the
 * collector scans for pointers (tables in static or malloc()ed memory).
 */
#include <string.h>

#include "gca_int.h"

int gca_add_roots(struct gca_arena *a, void *start, size_t len)
{
	struct gca_roots r;

	memset(&r, 0, sizeof(r));
	r.size = sizeof(r);
	r.start = (uintptr_t)start;
	r.len = len;
	return __gca_ioctl_retry(a, GCA_IOC_ADD_ROOTS, &r);
}

int gca_remove_roots(struct gca_arena *a, void *start)
{
	struct gca_roots r;

	memset(&r, 0, sizeof(r));
	r.size = sizeof(r);
	r.start = (uintptr_t)start;
	return __gca_ioctl_retry(a, GCA_IOC_REMOVE_ROOTS, &r);
}
