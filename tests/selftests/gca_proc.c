// SPDX-License-Identifier: GPL-2.0
/*
 * /proc/gcarena: the arenas table (a header, a row per arena, rows coming
 * and going with arenas) and /proc/gcarena/<id> (a "name: value" line per
 * field of struct gca_memstats, agreeing with gca_read_memstats()).
 */
#include "gca_test.h"

#define ARENAS		GCA_PROC "/arenas"
#define ARENAS_BUF	(256 * 1024)

static const char *const arenas_columns[] = {
	"id", "pid", "comm", "heap_alloc", "heap_inuse", "heap_sys",
	"heap_released", "next_gc", "num_gc", "last_pause_ns",
	"pause_total_ns", "gc_percent", "memory_limit",
};
#define NCOLS	(sizeof(arenas_columns) / sizeof(arenas_columns[0]))

/* The fields of struct gca_memstats, in order. */
static const char *const memstats_fields[] = {
	"alloc", "total_alloc", "sys", "mallocs", "frees", "heap_alloc",
	"heap_sys", "heap_idle", "heap_inuse", "heap_released",
	"heap_objects", "next_gc", "last_gc", "pause_total_ns", "pause_ns",
	"pause_end", "num_gc", "num_forced_gc", "gc_cpu_fraction",
	"gc_percent", "memory_limit", "heap_live", "heap_marked",
	"gc_trigger", "pause_hist", "num_pauses", "assist_ns",
	"checkmark_cycles", "checkmark_failures", "debug",
	"mark_term_retries", "mark_slice_max",
};
#define NFIELDS	(sizeof(memstats_fields) / sizeof(memstats_fields[0]))

/* Split a line into at most max whitespace-separated words, in place. */
static unsigned int split(char *line, char **words, unsigned int max)
{
	unsigned int n = 0;
	char *save = NULL, *w;

	for (w = strtok_r(line, " \t", &save); w && n < max;
	     w = strtok_r(NULL, " \t", &save))
		words[n++] = w;
	return n;
}

struct row {
	char words[NCOLS][32];
	unsigned int nwords;
};

/*
 * The header of /proc/gcarena/arenas in hdr, and the row of arena id in
 * *r; returns the number of rows whose pid is ours, -errno on failure.
 */
static int read_arenas(char hdr[][32], unsigned int *nhdr, int id,
		       struct row *r, bool *found)
{
	char *buf, *line, *save = NULL, *w[NCOLS + 1];
	unsigned int n, i, lineno = 0;
	int ours = 0;
	ssize_t len;

	*found = false;
	buf = malloc(ARENAS_BUF);
	if (!buf)
		return -ENOMEM;
	len = read_file(ARENAS, buf, ARENAS_BUF);
	if (len < 0) {
		free(buf);
		return len;
	}
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save), lineno++) {
		n = split(line, w, NCOLS + 1);
		if (lineno == 0) {
			*nhdr = n;
			for (i = 0; i < n && i < NCOLS; i++)
				snprintf(hdr[i], 32, "%s", w[i]);
			continue;
		}
		if (n >= 2 && atoi(w[1]) == getpid())
			ours++;
		if (n >= 1 && atoi(w[0]) == id) {
			*found = true;
			r->nwords = n;
			for (i = 0; i < n && i < NCOLS; i++)
				snprintf(r->words[i], 32, "%s", w[i]);
		}
	}
	free(buf);
	return ours;
}

FIXTURE(proc) {
	struct gca_arena *a;
	int id;
};

FIXTURE_SETUP(proc)
{
	ASSERT_EQ(0, open_arena(&self->a, 64 * SZ_1M, 100));
	self->id = gca_arena_id(self->a);
}

FIXTURE_TEARDOWN(proc)
{
	if (self->a)
		gca_close(self->a);
}

TEST_F(proc, arenas_table)
{
	char hdr[NCOLS][32], comm[32];
	unsigned int nhdr = 0, i;
	struct gca_memstats ms;
	struct row r;
	bool found;
	uint64_t u = 0;
	int64_t v;

	ASSERT_NE(NULL, gca_alloc(self->a, 1000));
	ASSERT_EQ(0, gca_collect(self->a));
	ASSERT_EQ(0, gca_read_memstats(self->a, &ms));
	ASSERT_EQ(1, read_arenas(hdr, &nhdr, self->id, &r, &found));
	ASSERT_EQ(NCOLS, nhdr);
	for (i = 0; i < NCOLS; i++)
		EXPECT_STREQ(arenas_columns[i], hdr[i]);
	ASSERT_TRUE(found);
	ASSERT_EQ(NCOLS, r.nwords);

	EXPECT_EQ(self->id, atoi(r.words[0]));
	EXPECT_EQ(getpid(), atoi(r.words[1]));
	ASSERT_LT(0, read_file("/proc/self/comm", comm, sizeof(comm)));
	comm[strcspn(comm, "\n")] = '\0';
	EXPECT_STREQ(comm, r.words[2]);
	/* Every figure is a number; those that cannot move here agree. */
	for (i = 3; i < NCOLS - 2; i++)
		EXPECT_EQ(0, parse_u64(r.words[i], &u))
			TH_LOG("%s: \"%s\"", arenas_columns[i], r.words[i]);
	parse_u64(r.words[3], &u);
	EXPECT_EQ(ms.heap_alloc, u);
	parse_u64(r.words[8], &u);
	EXPECT_EQ((uint64_t)ms.num_gc, u);
	parse_u64(r.words[10], &u);
	EXPECT_EQ(ms.pause_total_ns, u);
	EXPECT_EQ(0, parse_percent(r.words[11], &v));
	EXPECT_EQ(100, v);
	EXPECT_EQ(0, parse_limit(r.words[12], &v));
	EXPECT_EQ(GCA_MEMORY_LIMIT_NONE, v);
}

TEST_F(proc, rows_follow_arenas)
{
	char hdr[NCOLS][32], path[64];
	struct gca_arena *b;
	unsigned int nhdr;
	struct row r;
	bool found;
	int idb;

	ASSERT_EQ(1, read_arenas(hdr, &nhdr, self->id, &r, &found));
	ASSERT_EQ(0, open_arena(&b, 64 * SZ_1M, 50));
	idb = gca_arena_id(b);
	ASSERT_EQ(2, read_arenas(hdr, &nhdr, idb, &r, &found));
	EXPECT_TRUE(found);
	EXPECT_EQ(50, atoi(r.words[11]));
	proc_arena_path(idb, path, sizeof(path));
	EXPECT_TRUE(path_exists(path));

	gca_close(b);
	EXPECT_TRUE(wait_gone(path, 2000));
	ASSERT_EQ(1, read_arenas(hdr, &nhdr, idb, &r, &found));
	EXPECT_FALSE(found);

	gca_close(self->a);
	self->a = NULL;
	proc_arena_path(self->id, path, sizeof(path));
	EXPECT_TRUE(wait_gone(path, 2000));
	ASSERT_EQ(0, read_arenas(hdr, &nhdr, self->id, &r, &found));
	EXPECT_FALSE(found);
}

/* The value of field name of /proc/gcarena/<id> as a number. */
static int field_u64(const char *text, const char *name, uint64_t *v)
{
	char val[64];
	int ret;

	ret = find_field(text, name, val, sizeof(val));
	return ret ? ret : parse_u64(val, v);
}

/* The 256 values of a ring line. */
static int field_ring(const char *text, const char *name, uint64_t *ring)
{
	char *val, *w[GCA_NUM_PAUSE + 1];
	unsigned int i, n;
	int ret;

	val = malloc(8192);
	if (!val)
		return -ENOMEM;
	ret = find_field(text, name, val, 8192);
	if (!ret) {
		n = split(val, w, GCA_NUM_PAUSE + 1);
		if (n != GCA_NUM_PAUSE)
			ret = -ERANGE;
		for (i = 0; !ret && i < n; i++)
			ret = parse_u64(w[i], &ring[i]);
	}
	free(val);
	return ret;
}

static unsigned int count_lines(const char *text)
{
	unsigned int n = 0;

	for (; *text; text++)
		if (*text == '\n')
			n++;
	return n;
}

/* Go's invariants in the text of /proc/gcarena/<id>; 0 if they hold. */
static int proc_invariants(const char *text)
{
	uint64_t mallocs, frees, objs, halloc, inuse, sys;

	if (field_u64(text, "mallocs", &mallocs) ||
	    field_u64(text, "frees", &frees) ||
	    field_u64(text, "heap_objects", &objs) ||
	    field_u64(text, "heap_alloc", &halloc) ||
	    field_u64(text, "heap_inuse", &inuse) ||
	    field_u64(text, "heap_sys", &sys))
		return -1;
	if (mallocs - frees != objs)
		return -2;
	if (halloc > inuse || inuse > sys)
		return -3;
	return 0;
}

__test_helper int make_garbage_and_keep(struct gca_arena *a, void ***keep)
{
	void **arr = gca_alloc(a, 100 * sizeof(void *));
	unsigned int i;

	if (!arr)
		return -1;
	for (i = 0; i < 100; i++)
		gca_store(a, &arr[i], gca_alloc(a, 48));
	*keep = arr;
	return churn(a, 48, 5000, 0) || churn(a, 4096, 100, 1) ||
	       churn(a, 5, 1000, 1) || churn(a, 100 * SZ_1K, 3, 0);
}

TEST_F(proc, arena_file)
{
	struct gca_memstats ms;
	uint64_t v, *ring;
	char path[64], *text, val[64];
	unsigned int i;
	void **keep;
	int64_t s;
	double d;

	ASSERT_EQ(0, make_garbage_and_keep(self->a, &keep));
	ASSERT_EQ(0, gca_collect(self->a));
	ASSERT_EQ(0, gca_collect(self->a));
	ASSERT_EQ(0, gca_read_memstats(self->a, &ms));

	text = malloc(PROC_BUF_SIZE);
	ring = calloc(GCA_NUM_PAUSE, sizeof(*ring));
	ASSERT_NE(NULL, text);
	ASSERT_NE(NULL, ring);
	proc_arena_path(self->id, path, sizeof(path));
	ASSERT_LT(0, read_file(path, text, PROC_BUF_SIZE));

	/* Every field once, nothing else. */
	for (i = 0; i < NFIELDS; i++) {
		const char *name = memstats_fields[i];

		EXPECT_NE(-ENOENT, find_field(text, name, val, sizeof(val)))
			TH_LOG("no %s", name);
	}
	EXPECT_EQ(NFIELDS, count_lines(text));

	/* Nothing moved since the ioctl: they agree. */
	ASSERT_EQ(0, field_u64(text, "num_gc", &v));
	EXPECT_EQ((uint64_t)ms.num_gc, v);
	ASSERT_EQ(0, field_u64(text, "num_forced_gc", &v));
	EXPECT_EQ((uint64_t)ms.num_forced_gc, v);
	ASSERT_EQ(0, field_u64(text, "heap_alloc", &v));
	EXPECT_EQ(ms.heap_alloc, v);
	ASSERT_EQ(0, field_u64(text, "alloc", &v));
	EXPECT_EQ(ms.alloc, v);
	ASSERT_EQ(0, field_u64(text, "mallocs", &v));
	EXPECT_EQ(ms.mallocs, v);
	ASSERT_EQ(0, field_u64(text, "frees", &v));
	EXPECT_EQ(ms.frees, v);
	ASSERT_EQ(0, field_u64(text, "heap_objects", &v));
	EXPECT_EQ(ms.heap_objects, v);
	ASSERT_EQ(0, field_u64(text, "total_alloc", &v));
	EXPECT_EQ(ms.total_alloc, v);
	ASSERT_EQ(0, field_u64(text, "heap_marked", &v));
	EXPECT_EQ(ms.heap_marked, v);
	ASSERT_EQ(0, field_u64(text, "next_gc", &v));
	EXPECT_EQ(ms.next_gc, v);
	ASSERT_EQ(0, field_u64(text, "last_gc", &v));
	EXPECT_EQ(ms.last_gc, v);
	ASSERT_EQ(0, field_u64(text, "pause_total_ns", &v));
	EXPECT_EQ(ms.pause_total_ns, v);
	ASSERT_EQ(0, field_ring(text, "pause_ns", ring));
	for (i = 0; i < GCA_NUM_PAUSE; i++)
		EXPECT_EQ(ms.pause_ns[i], ring[i]);
	ASSERT_EQ(0, field_ring(text, "pause_end", ring));
	for (i = 0; i < GCA_NUM_PAUSE; i++)
		EXPECT_EQ(ms.pause_end[i], ring[i]);
	ASSERT_EQ(0, find_field(text, "gc_percent", val, sizeof(val)));
	ASSERT_EQ(0, parse_percent(val, &s));
	EXPECT_EQ(100, s);
	ASSERT_EQ(0, find_field(text, "memory_limit", val, sizeof(val)));
	ASSERT_EQ(0, parse_limit(val, &s));
	EXPECT_EQ(GCA_MEMORY_LIMIT_NONE, s);
	ASSERT_EQ(0, find_field(text, "gc_cpu_fraction", val, sizeof(val)));
	d = strtod(val, NULL);
	EXPECT_LE(0.0, d);
	EXPECT_GE(1.0, d);

	/* Go's invariants, in /proc as in the ioctl. */
	EXPECT_EQ(ms.mallocs - ms.frees, ms.heap_objects);
	EXPECT_LE(ms.heap_alloc, ms.heap_inuse);
	EXPECT_LE(ms.heap_inuse, ms.heap_sys);
	EXPECT_EQ(ms.heap_sys, ms.heap_idle + ms.heap_inuse);
	EXPECT_LE(ms.heap_released, ms.heap_idle);
	EXPECT_LE(ms.heap_sys, ms.sys);
	EXPECT_LE(ms.heap_alloc, ms.total_alloc);
	EXPECT_LE(2ULL, (uint64_t)ms.num_gc);
	EXPECT_LT(0ULL, ms.frees);
	EXPECT_EQ(0, proc_invariants(text));
	EXPECT_NE(NULL, gca_load(&keep[99]));
	free(ring);
	free(text);
}

/* The invariants hold at every read, also between cycles with caches. */
TEST_F(proc, invariants_while_allocating)
{
	struct gca_memstats ms;
	int i;

	for (i = 0; i < 40; i++) {
		ASSERT_EQ(0, churn(self->a, 16 + 24 * i, 500, i & 1));
		ASSERT_EQ(0, gca_read_memstats(self->a, &ms));
		EXPECT_EQ(ms.mallocs - ms.frees, ms.heap_objects);
		EXPECT_LE(ms.heap_alloc, ms.heap_inuse);
		EXPECT_LE(ms.heap_inuse, ms.heap_sys);
	}
}

TEST_HARNESS_MAIN
