// SPDX-License-Identifier: GPL-2.0
/*
 * gcarena's knobs: the module parameters gc_percent (GOGC) and
 * memory_limit (GOMEMLIMIT) in sysfs, what they accept and refuse, and
 * how they combine with an arena's own values set through the library.
 * The module's values are restored after each test.
 */
#include "gca_test.h"

#define GC_PERCENT	GCA_SYSFS_PARAMS "/gc_percent"
#define MEMORY_LIMIT	GCA_SYSFS_PARAMS "/memory_limit"

FIXTURE(knobs) {
	char gc_percent[64];
	char memory_limit[64];
};

FIXTURE_SETUP(knobs)
{
	ASSERT_LT(0, read_file(GC_PERCENT, self->gc_percent,
			       sizeof(self->gc_percent)))
		TH_LOG("%s: is the module loaded?", GC_PERCENT);
	ASSERT_LT(0, read_file(MEMORY_LIMIT, self->memory_limit,
			       sizeof(self->memory_limit)));
}

FIXTURE_TEARDOWN(knobs)
{
	write_file(GC_PERCENT, self->gc_percent);
	write_file(MEMORY_LIMIT, self->memory_limit);
}

static int64_t read_gc_percent(void)
{
	char buf[64];
	int64_t v;

	if (read_file(GC_PERCENT, buf, sizeof(buf)) < 0 || parse_s64(buf, &v))
		return -1000;
	return v;
}

static int64_t read_memory_limit(void)
{
	char buf[64];
	int64_t v;

	if (read_file(MEMORY_LIMIT, buf, sizeof(buf)) < 0 ||
	    parse_limit(buf, &v))
		return -1000;
	return v;
}

static int64_t proc_gc_percent(int id)
{
	char val[64];
	int64_t v;

	if (proc_field(id, "gc_percent", val, sizeof(val)) ||
	    parse_percent(val, &v))
		return -1000;
	return v;
}

static int64_t proc_memory_limit(int id)
{
	char val[64];
	int64_t v;

	if (proc_field(id, "memory_limit", val, sizeof(val)) ||
	    parse_limit(val, &v))
		return -1000;
	return v;
}

TEST_F(knobs, gc_percent_values)
{
	static const char *const bad[] = { "abc\n", "-2\n", "\n", "12abc\n" };
	unsigned int i;

	ASSERT_EQ(0, write_file(GC_PERCENT, "50\n"));
	EXPECT_EQ(50, read_gc_percent());
	ASSERT_EQ(0, write_file(GC_PERCENT, "-1\n"));
	EXPECT_EQ(-1, read_gc_percent());
	ASSERT_EQ(0, write_file(GC_PERCENT, "100\n"));
	EXPECT_EQ(100, read_gc_percent());
	/* Without the newline too. */
	ASSERT_EQ(0, write_file(GC_PERCENT, "75"));
	EXPECT_EQ(75, read_gc_percent());

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		EXPECT_EQ(-EINVAL, write_file(GC_PERCENT, bad[i]))
			TH_LOG("wrote \"%s\"", bad[i]);
		EXPECT_EQ(75, read_gc_percent()) TH_LOG("after \"%s\"", bad[i]);
	}
}

TEST_F(knobs, memory_limit_values)
{
	static const char *const bad[] = {
		"12XB\n", "-5\n", "\n", "abc\n", "1.5GiB\n", "1 GiB\n",
		"99999999999TiB\n",
	};
	unsigned int i;

	ASSERT_EQ(0, write_file(MEMORY_LIMIT, "1073741824\n"));
	EXPECT_EQ(1073741824LL, read_memory_limit());
	ASSERT_EQ(0, write_file(MEMORY_LIMIT, "512MiB\n"));
	EXPECT_EQ(512LL << 20, read_memory_limit());
	ASSERT_EQ(0, write_file(MEMORY_LIMIT, "off\n"));
	EXPECT_EQ(GCA_MEMORY_LIMIT_NONE, read_memory_limit());
	ASSERT_EQ(0, write_file(MEMORY_LIMIT, "1GiB\n"));
	EXPECT_EQ(1LL << 30, read_memory_limit());

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		EXPECT_EQ(-EINVAL, write_file(MEMORY_LIMIT, bad[i]))
			TH_LOG("wrote \"%s\"", bad[i]);
		EXPECT_EQ(1LL << 30, read_memory_limit())
			TH_LOG("after \"%s\"", bad[i]);
	}
}

/*
 * Arenas that did not set a knob follow the module's value at once;
 * arenas that set their own keep it until they reset it.
 */
TEST_F(knobs, arena_values)
{
	struct gca_params p = { .heap_size = 64 * SZ_1M };
	struct gca_arena *follow, *own, *late;
	struct gca_memstats ms;
	int idf, ido;

	ASSERT_EQ(0, write_file(GC_PERCENT, "100\n"));
	ASSERT_EQ(0, write_file(MEMORY_LIMIT, "off\n"));
	ASSERT_EQ(0, gca_open(&follow, &p));
	ASSERT_EQ(0, gca_open(&own, &p));
	idf = gca_arena_id(follow);
	ido = gca_arena_id(own);
	EXPECT_EQ(100, proc_gc_percent(idf));
	EXPECT_EQ(GCA_MEMORY_LIMIT_NONE, proc_memory_limit(idf));

	/* The arena's own values, seen in /proc. */
	EXPECT_EQ(100, gca_set_gc_percent(own, 77));
	EXPECT_EQ(77, proc_gc_percent(ido));
	EXPECT_EQ(77, gca_set_gc_percent(own, 77));

	/* The module's change reaches the follower only. */
	ASSERT_EQ(0, write_file(GC_PERCENT, "60\n"));
	EXPECT_EQ(60, proc_gc_percent(idf));
	EXPECT_EQ(77, proc_gc_percent(ido));
	ASSERT_EQ(0, gca_read_memstats(follow, &ms));
	EXPECT_EQ(60, ms.gc_percent);
	ASSERT_EQ(0, gca_read_memstats(own, &ms));
	EXPECT_EQ(77, ms.gc_percent);

	ASSERT_EQ(0, write_file(MEMORY_LIMIT, "512MiB\n"));
	EXPECT_EQ(512LL << 20, proc_memory_limit(idf));
	EXPECT_EQ(512LL << 20, gca_set_memory_limit(own, 1LL << 30));
	EXPECT_EQ(1LL << 30, proc_memory_limit(ido));
	ASSERT_EQ(0, write_file(MEMORY_LIMIT, "off\n"));
	EXPECT_EQ(GCA_MEMORY_LIMIT_NONE, proc_memory_limit(idf));
	EXPECT_EQ(1LL << 30, proc_memory_limit(ido));
	EXPECT_EQ(1LL << 30, gca_set_memory_limit(own, -1));

	/* New arenas start from the module's values. */
	ASSERT_EQ(0, gca_open(&late, &p));
	EXPECT_EQ(60, proc_gc_percent(gca_arena_id(late)));
	gca_close(late);

	/* Reset: the arena follows the module again. */
	EXPECT_EQ(77, gca_reset_gc_percent(own));
	EXPECT_EQ(60, proc_gc_percent(ido));
	EXPECT_EQ(1LL << 30, gca_reset_memory_limit(own));
	EXPECT_EQ(GCA_MEMORY_LIMIT_NONE, proc_memory_limit(ido));
	ASSERT_EQ(0, write_file(GC_PERCENT, "90\n"));
	EXPECT_EQ(90, proc_gc_percent(ido));

	/* The library refuses what the kernel refuses. */
	EXPECT_EQ(-EINVAL, gca_set_gc_percent(own, -2));
	EXPECT_EQ(90, proc_gc_percent(ido));

	gca_close(own);
	gca_close(follow);
}

/* Arenas opened with their own values ignore the module's. */
TEST_F(knobs, open_params_are_own)
{
	struct gca_params p = {
		.heap_size = 64 * SZ_1M,
		.flags = GCA_PARAM_GC_PERCENT | GCA_PARAM_MEMORY_LIMIT,
		.gc_percent = 33,
		.memory_limit = 256LL << 20,
	};
	struct gca_arena *a;
	int id;

	ASSERT_EQ(0, gca_open(&a, &p));
	id = gca_arena_id(a);
	EXPECT_EQ(33, proc_gc_percent(id));
	EXPECT_EQ(256LL << 20, proc_memory_limit(id));
	ASSERT_EQ(0, write_file(GC_PERCENT, "150\n"));
	ASSERT_EQ(0, write_file(MEMORY_LIMIT, "2GiB\n"));
	EXPECT_EQ(33, proc_gc_percent(id));
	EXPECT_EQ(256LL << 20, proc_memory_limit(id));
	gca_close(a);
}

TEST_HARNESS_MAIN
