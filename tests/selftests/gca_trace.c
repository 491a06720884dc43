// SPDX-License-Identifier: GPL-2.0
/*
 * The module's tracepoints, read through tracefs: one gca_collect() must
 * produce a whole cycle in order (kmod/gcarena_trace.h lists the events).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "gcarena.h"

static const char *tracefs(void)
{
	static const char *const dirs[] = {
		"/sys/kernel/tracing", "/sys/kernel/debug/tracing",
	};
	char path[128];
	unsigned int i;

	for (i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/events/gcarena", dirs[i]);
		if (!access(path, F_OK))
			return dirs[i];
	}
	/* not mounted yet: mount it where it belongs */
	mkdir("/sys/kernel/tracing", 0755);
	if (mount("nodev", "/sys/kernel/tracing", "tracefs", 0, NULL) &&
	    errno != EBUSY)
		return NULL;
	return access("/sys/kernel/tracing/events/gcarena", F_OK) ? NULL :
	       dirs[0];
}

static int write_file(const char *dir, const char *name, const char *val)
{
	char path[256];
	int fd, ret;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_TRUNC);
	if (fd < 0)
		return -errno;
	ret = write(fd, val, strlen(val)) < 0 ? -errno : 0;
	close(fd);
	return ret;
}

static char *read_trace(const char *dir)
{
	char path[256];
	size_t len = 0, cap = 1 << 20;
	char *buf = malloc(cap);
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/trace", dir);
	fd = open(path, O_RDONLY);
	if (fd < 0 || !buf) {
		free(buf);
		return NULL;
	}
	while ((n = read(fd, buf + len, cap - len - 1)) > 0) {
		len += n;
		if (len + 1 >= cap) {
			cap *= 2;
			buf = realloc(buf, cap);
		}
	}
	buf[len] = '\0';
	close(fd);
	return buf;
}

/* Find each needle after the previous one; returns how many were found. */
static int in_order(const char *text, const char *const *needles, int n)
{
	const char *p = text;
	int i;

	for (i = 0; i < n; i++) {
		p = strstr(p, needles[i]);
		if (!p) {
			fprintf(stderr, "# missing (in order): %s\n", needles[i]);
			return i;
		}
		p += strlen(needles[i]);
	}
	return n;
}

TEST(a_collect_traces_a_whole_cycle)
{
	/* the collecting thread's handshake spans the whole cycle */
	static const char *const cycle[] = {
		"gcarena_handshake_start:",
		"gcarena_cycle_start:", "reason=manual",
		"gcarena_phase:", "phase=MARK ",
		"gcarena_phase:", "phase=MARK_TERM",
		"gcarena_mark_end:", "gcarena_pacer:",
		"gcarena_phase:", "phase=SWEEP",
		"gcarena_sweep_end:",
		"gcarena_phase:", "phase=OFF",
		"gcarena_handshake_end:",
	};
	struct gca_arena *a;
	const char *dir = tracefs();
	char *text;
	void *keep;

	if (!dir)
		SKIP(return, "no tracefs or no gcarena events in this kernel");
	ASSERT_EQ(0, write_file(dir, "tracing_on", "0"));
	ASSERT_EQ(0, write_file(dir, "trace", ""));
	ASSERT_EQ(0, write_file(dir, "events/gcarena/enable", "1"));
	ASSERT_EQ(0, write_file(dir, "tracing_on", "1"));

	ASSERT_EQ(0, gca_open(&a, NULL));
	keep = gca_alloc(a, 64);
	ASSERT_NE(NULL, keep);
	ASSERT_EQ(0, gca_collect(a));
	gca_close(a);

	ASSERT_EQ(0, write_file(dir, "tracing_on", "0"));
	text = read_trace(dir);
	ASSERT_NE(NULL, text);
	EXPECT_EQ((int)(sizeof(cycle) / sizeof(cycle[0])),
		  in_order(text, cycle, sizeof(cycle) / sizeof(cycle[0])));
	/* the events carry figures: the live object was marked */
	EXPECT_NE(NULL, strstr(text, "marked_objects="));
	write_file(dir, "events/gcarena/enable", "0");
	write_file(dir, "trace", "");
	free(text);
}

TEST_HARNESS_MAIN
