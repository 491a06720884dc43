// SPDX-License-Identifier: GPL-2.0
/*
 * The knobs Go programmers know, as module parameters:
 *
 *   /sys/module/gcarena/parameters/gc_percent    GOGC: 100 by default,
 *                                                -1 turns automatic cycles
 *                                                off (GOGC=off)
 *   /sys/module/gcarena/parameters/memory_limit  GOMEMLIMIT: bytes, with
 *                                                Go's suffixes B, KiB, MiB,
 *                                                GiB, TiB, or "off"
 *
 * Writable by root only (0644).  A bad value is refused with -EINVAL and
 * the old one stays.  A new value applies at once to every arena that did
 * not set its own through GCA_IOC_SET_PARAMS, and is the default of new
 * arenas.  Values are read with READ_ONCE() without a lock: each is one
 * word, and an arena that reads an old value for one decision is harmless.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/ctype.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include "gcarena_private.h"

static int gca_gc_percent = 100;	/* WRITE_ONCE in set, READ_ONCE users */
static s64 gca_memory_limit = GCA_MEMORY_LIMIT_NONE;	/* same */

int gca_knob_gc_percent(void)
{
	return READ_ONCE(gca_gc_percent);
}

s64 gca_knob_memory_limit(void)
{
	return READ_ONCE(gca_memory_limit);
}

int gca_arena_gc_percent(struct gca_arena *a)
{
	return a->gc_percent_own ? a->gc_percent : gca_knob_gc_percent();
}

static bool gca_checkmark;	/* module_param, read with READ_ONCE */
module_param_named(checkmark, gca_checkmark, bool, 0644);
MODULE_PARM_DESC(checkmark,
		 "GODEBUG=gccheckmark=1: after each concurrent mark, mark again with the threads held and count what it missed");

u32 gca_arena_debug(struct gca_arena *a)
{
	if (a->checkmark_own)
		return a->debug;
	return READ_ONCE(gca_checkmark) ? GCA_DEBUG_CHECKMARK : 0;
}

s64 gca_arena_memory_limit(struct gca_arena *a)
{
	return a->memory_limit_own ? a->memory_limit : gca_knob_memory_limit();
}

static int gca_gc_percent_set(const char *val, const struct kernel_param *kp)
{
	int v, ret;

	ret = kstrtoint(val, 0, &v);
	if (ret)
		return -EINVAL;
	if (v < -1)
		return -EINVAL;
	WRITE_ONCE(gca_gc_percent, v);
	gca_cycle_kick_all();
	return 0;
}

static int gca_gc_percent_get(char *buf, const struct kernel_param *kp)
{
	return sysfs_emit(buf, "%d\n", gca_knob_gc_percent());
}

static const struct kernel_param_ops gca_gc_percent_ops = {
	.set = gca_gc_percent_set,
	.get = gca_gc_percent_get,
};
module_param_cb(gc_percent, &gca_gc_percent_ops, NULL, 0644);
MODULE_PARM_DESC(gc_percent,
		 "GOGC: heap growth percent before a cycle; -1 = off (default 100)");

/*
 * Parse a byte count as Go's GOMEMLIMIT does (runtime.parseByteCount):
 * digits, then nothing, "B", "KiB", "MiB", "GiB" or "TiB"; "off" means no
 * limit.  Surrounding white space (sysfs writes end in '\n') is ignored.
 */
int gca_parse_byte_count(const char *val, s64 *out)
{
	static const struct { const char *sfx; unsigned int shift; } sfx[] = {
		{ "", 0 }, { "B", 0 }, { "KiB", 10 }, { "MiB", 20 },
		{ "GiB", 30 }, { "TiB", 40 },
	};
	char buf[32], *end;
	unsigned long long n;
	size_t len;
	int i;

	val = skip_spaces(val);
	len = strlen(val);
	while (len && isspace(val[len - 1]))
		len--;
	if (!len || len >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, val, len);
	buf[len] = '\0';
	if (!strcmp(buf, "off")) {
		*out = GCA_MEMORY_LIMIT_NONE;
		return 0;
	}
	/* split digits from suffix; kstrtoull refuses overflow */
	for (end = buf; isdigit(*end); end++)
		;
	if (end == buf)
		return -EINVAL;
	for (i = 0; i < ARRAY_SIZE(sfx); i++) {
		char c;

		if (strcmp(end, sfx[i].sfx))
			continue;
		c = *end;
		*end = '\0';
		if (kstrtoull(buf, 10, &n))
			return -EINVAL;
		*end = c;
		if (n > (unsigned long long)S64_MAX >> sfx[i].shift)
			return -EINVAL;
		*out = (s64)(n << sfx[i].shift);
		return 0;
	}
	return -EINVAL;
}

static int gca_memory_limit_set(const char *val, const struct kernel_param *kp)
{
	s64 v;

	if (gca_parse_byte_count(val, &v))
		return -EINVAL;
	WRITE_ONCE(gca_memory_limit, v);
	gca_cycle_kick_all();
	return 0;
}

static int gca_memory_limit_get(char *buf, const struct kernel_param *kp)
{
	return sysfs_emit(buf, "%lld\n", gca_knob_memory_limit());
}

static const struct kernel_param_ops gca_memory_limit_ops = {
	.set = gca_memory_limit_set,
	.get = gca_memory_limit_get,
};
module_param_cb(memory_limit, &gca_memory_limit_ops, NULL, 0644);
MODULE_PARM_DESC(memory_limit,
		 "GOMEMLIMIT: soft limit in bytes (B/KiB/MiB/GiB/TiB suffixes, off)");
