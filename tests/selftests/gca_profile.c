// SPDX-License-Identifier: GPL-2.0
/*
 * The heap profile: gca_set_mem_profile_rate() and GCARENA_DEBUG=
 * memprofilerate, and gca_write_heap_profile()'s profile.proto, decoded
 * here: Go's four sample types, the scaled totals close to what was
 * allocated and what is still in use, the allocating function named in
 * the profile (gca_profile_zebra_alloc, kept alive, and
 * gca_profile_garbage_alloc, all freed), mappings of the executable.
 *
 * With GCA_PROFILE_DUMP=1 in the environment, the profile of the
 * profile_written test is also printed base64-encoded between the lines
 * "GCA-PROFILE-BEGIN" and "GCA-PROFILE-END", for `make profile-check`
 * to decode on the host and read with `go tool pprof`.
 */
#include <sys/mman.h>

#include "gca_test.h"

#define LIVE_OBJS	8192
#define OBJ_SIZE	4096
#define GARBAGE_OBJS	(24 * 1024)

static void *live[LIVE_OBJS];

/* The distinctive allocating functions. */
noinline void *gca_profile_zebra_alloc(struct gca_arena *a, size_t size)
{
	void *p = gca_alloc_noscan(a, size);

	__asm__ __volatile__("" : : "r"(p) : "memory");
	return p;
}

noinline void gca_profile_garbage_alloc(struct gca_arena *a, size_t size,
					unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		void *p = gca_alloc_noscan(a, size);

		__asm__ __volatile__("" : : "r"(p) : "memory");
	}
}

/* ---- a minimal profile.proto reader ---------------------------------- */

struct pbuf {
	const uint8_t *p, *end;
};

static bool pb_varint(struct pbuf *b, uint64_t *v)
{
	int shift = 0;

	*v = 0;
	while (b->p < b->end && shift < 64) {
		uint8_t c = *b->p++;

		*v |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80))
			return true;
		shift += 7;
	}
	return false;
}

/* Next field: number, wire type, varint value or bytes. */
static bool pb_field(struct pbuf *b, unsigned int *field, unsigned int *wt,
		     uint64_t *v, struct pbuf *sub)
{
	uint64_t key, len;

	if (b->p >= b->end || !pb_varint(b, &key))
		return false;
	*field = key >> 3;
	*wt = key & 7;
	if (*wt == 0)
		return pb_varint(b, v);
	if (*wt == 2) {
		if (!pb_varint(b, &len) || len > (uint64_t)(b->end - b->p))
			return false;
		sub->p = b->p;
		sub->end = b->p + len;
		b->p += len;
		return true;
	}
	return false;
}

#define MAXS	4096
struct prof {
	char *strings[MAXS];
	unsigned int nstrings;
	int sample_type[8][2];
	unsigned int ntypes;
	uint64_t func_name[MAXS];	/* function id -> string */
	uint64_t loc_func[MAXS];	/* location id -> function id */
	unsigned int nmappings;
	uint64_t period;
	/* per sample: leaf location and values */
	uint64_t s_leaf[MAXS], s_val[MAXS][4];
	unsigned int nsamples;
	int period_type[2];
};

static bool parse_profile(const uint8_t *data, size_t len, struct prof *pr)
{
	struct pbuf b = { data, data + len }, sub, s2, s3;
	unsigned int f, wt, f2, wt2, f3, wt3;
	uint64_t v, v2, v3;

	memset(pr, 0, sizeof(*pr));
	while (b.p < b.end) {
		if (!pb_field(&b, &f, &wt, &v, &sub))
			return false;
		switch (f) {
		case 1:	/* sample_type */
		case 11: {	/* period_type */
			int t[2] = { 0, 0 };

			while (sub.p < sub.end) {
				if (!pb_field(&sub, &f2, &wt2, &v2, &s2))
					return false;
				if (f2 == 1 || f2 == 2)
					t[f2 - 1] = v2;
			}
			if (f == 1 && pr->ntypes < 8) {
				pr->sample_type[pr->ntypes][0] = t[0];
				pr->sample_type[pr->ntypes++][1] = t[1];
			} else if (f == 11) {
				pr->period_type[0] = t[0];
				pr->period_type[1] = t[1];
			}
			break;
		}
		case 2: {	/* sample */
			unsigned int n = pr->nsamples, nv = 0;
			bool leaf = false;

			if (n >= MAXS)
				break;
			while (sub.p < sub.end) {
				if (!pb_field(&sub, &f2, &wt2, &v2, &s2))
					return false;
				if (f2 == 1 && wt2 == 2) {
					if (pb_varint(&s2, &v3)) {
						pr->s_leaf[n] = v3;
						leaf = true;
					}
				} else if (f2 == 1 && !leaf) {
					pr->s_leaf[n] = v2;
					leaf = true;
				} else if (f2 == 2 && wt2 == 2) {
					while (s2.p < s2.end && nv < 4 &&
					       pb_varint(&s2, &v3))
						pr->s_val[n][nv++] = v3;
				}
			}
			pr->nsamples++;
			break;
		}
		case 3:
			pr->nmappings++;
			break;
		case 4: {	/* location */
			uint64_t id = 0, fn = 0;

			while (sub.p < sub.end) {
				if (!pb_field(&sub, &f2, &wt2, &v2, &s2))
					return false;
				if (f2 == 1)
					id = v2;
				if (f2 == 4 && wt2 == 2) {
					while (s2.p < s2.end) {
						if (!pb_field(&s2, &f3, &wt3,
							      &v3, &s3))
							return false;
						if (f3 == 1)
							fn = v3;
					}
				}
			}
			if (id < MAXS)
				pr->loc_func[id] = fn;
			break;
		}
		case 5: {	/* function */
			uint64_t id = 0, name = 0;

			while (sub.p < sub.end) {
				if (!pb_field(&sub, &f2, &wt2, &v2, &s2))
					return false;
				if (f2 == 1)
					id = v2;
				if (f2 == 2)
					name = v2;
			}
			if (id < MAXS)
				pr->func_name[id] = name;
			break;
		}
		case 6:
			if (pr->nstrings < MAXS)
				pr->strings[pr->nstrings++] =
					strndup((const char *)sub.p,
						sub.end - sub.p);
			break;
		case 12:
			pr->period = v;
			break;
		}
	}
	return true;
}

static const char *pstr(const struct prof *pr, uint64_t i)
{
	return i < pr->nstrings ? pr->strings[i] : "?";
}

static const char *leaf_name(const struct prof *pr, unsigned int s)
{
	uint64_t loc = pr->s_leaf[s];
	uint64_t fn = loc < MAXS ? pr->loc_func[loc] : 0;

	return fn && fn < MAXS ? pstr(pr, pr->func_name[fn]) : "";
}

/* Sum the four values of the samples whose leaf function is name. */
static void sum_for(const struct prof *pr, const char *name, int64_t sum[4])
{
	unsigned int s, k;

	memset(sum, 0, 4 * sizeof(*sum));
	for (s = 0; s < pr->nsamples; s++)
		if (!strcmp(leaf_name(pr, s), name))
			for (k = 0; k < 4; k++)
				sum[k] += pr->s_val[s][k];
}

static void free_profile(struct prof *pr)
{
	unsigned int i;

	for (i = 0; i < pr->nstrings; i++)
		free(pr->strings[i]);
}

static void print_base64(const uint8_t *p, size_t n)
{
	static const char tbl[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char line[80];
	size_t i, k = 0;

	printf("GCA-PROFILE-BEGIN\n");
	for (i = 0; i < n; i += 3) {
		uint32_t v = p[i] << 16;

		if (i + 1 < n)
			v |= p[i + 1] << 8;
		if (i + 2 < n)
			v |= p[i + 2];
		line[k++] = tbl[v >> 18 & 63];
		line[k++] = tbl[v >> 12 & 63];
		line[k++] = i + 1 < n ? tbl[v >> 6 & 63] : '=';
		line[k++] = i + 2 < n ? tbl[v & 63] : '=';
		if (k == 76) {
			line[k] = '\0';
			printf("%s\n", line);
			k = 0;
		}
	}
	if (k) {
		line[k] = '\0';
		printf("%s\n", line);
	}
	printf("GCA-PROFILE-END\n");
	fflush(stdout);
}

/* The profile written to a memfd, read back. */
static uint8_t *write_profile(struct gca_arena *a, size_t *len)
{
	int fd = memfd_create("gca-profile", MFD_CLOEXEC);
	uint8_t *buf;
	off_t n;

	if (fd < 0 || gca_write_heap_profile(a, fd))
		return NULL;
	n = lseek(fd, 0, SEEK_END);
	buf = malloc(n ? n : 1);
	if (!buf || pread(fd, buf, n, 0) != n)
		return NULL;
	close(fd);
	*len = n;
	return buf;
}

TEST(rate)
{
	struct gca_arena *a;

	unsetenv("GCARENA_DEBUG");
	ASSERT_EQ(0, open_arena(&a, SZ_64M, -1));
	EXPECT_EQ(512 * 1024, gca_set_mem_profile_rate(a, -1));
	EXPECT_EQ(512 * 1024, gca_set_mem_profile_rate(a, 4096));
	EXPECT_EQ(4096, gca_set_mem_profile_rate(a, 0));
	EXPECT_EQ(0, gca_set_mem_profile_rate(a, -1));
	gca_close(a);

	ASSERT_EQ(0, setenv("GCARENA_DEBUG", "gctrace=0,memprofilerate=1000", 1));
	ASSERT_EQ(0, open_arena(&a, SZ_64M, -1));
	EXPECT_EQ(1000, gca_set_mem_profile_rate(a, -1));
	gca_close(a);
	unsetenv("GCARENA_DEBUG");
}

TEST(profile_off)
{
	struct gca_arena *a;
	struct prof *pr;
	uint8_t *data;
	size_t len;

	ASSERT_EQ(0, open_arena(&a, SZ_64M, -1));
	gca_set_mem_profile_rate(a, 0);
	gca_profile_garbage_alloc(a, 1024, 8192);
	data = write_profile(a, &len);
	ASSERT_NE(NULL, data);
	pr = calloc(1, sizeof(*pr));
	ASSERT_TRUE(parse_profile(data, len, pr));
	EXPECT_EQ(0U, pr->nsamples);
	EXPECT_EQ(4U, pr->ntypes);
	free_profile(pr);
	free(pr);
	free(data);
	gca_close(a);
}

TEST(profile_written)
{
	int64_t zebra[4], garbage[4];
	struct gca_arena *a;
	struct prof *pr;
	uint8_t *data;
	size_t len;
	unsigned int i, named = 0;
	static const char *const types[4][2] = {
		{ "alloc_objects", "count" }, { "alloc_space", "bytes" },
		{ "inuse_objects", "count" }, { "inuse_space", "bytes" },
	};

	unsetenv("GCARENA_DEBUG");
	/* GOGC off: what is freed is freed by our own cycles */
	ASSERT_EQ(0, open_arena(&a, SZ_64M * 8, -1));
	ASSERT_EQ(0, gca_add_roots(a, live, sizeof(live)));
	/* 32 MiB kept, 96 MiB dropped: default rate, 512 KiB */
	for (i = 0; i < LIVE_OBJS; i++)
		gca_store(a, &live[i], gca_profile_zebra_alloc(a, OBJ_SIZE));
	gca_profile_garbage_alloc(a, OBJ_SIZE, GARBAGE_OBJS);
	clear_stack();
	ASSERT_EQ(0, gca_collect(a));

	data = write_profile(a, &len);
	ASSERT_NE(NULL, data);
	pr = calloc(1, sizeof(*pr));
	ASSERT_NE(NULL, pr);
	ASSERT_TRUE(parse_profile(data, len, pr));
	ASSERT_EQ(4U, pr->ntypes);
	for (i = 0; i < 4; i++) {
		EXPECT_EQ(0, strcmp(types[i][0],
				    pstr(pr, pr->sample_type[i][0])));
		EXPECT_EQ(0, strcmp(types[i][1],
				    pstr(pr, pr->sample_type[i][1])));
	}
	EXPECT_EQ(0, strcmp("space", pstr(pr, pr->period_type[0])));
	EXPECT_EQ(512ULL * 1024, pr->period);
	EXPECT_GE(pr->nmappings, 1U);
	EXPECT_GT(pr->nsamples, 0U);
	for (i = 0; i < pr->nsamples; i++)
		if (*leaf_name(pr, i))
			named++;
	TH_LOG("%u samples, %u with a named leaf, %u mappings, %zu bytes",
	       pr->nsamples, named, pr->nmappings, len);

	sum_for(pr, "gca_profile_zebra_alloc", zebra);
	sum_for(pr, "gca_profile_garbage_alloc", garbage);
	TH_LOG("zebra: %lld objects %lld bytes allocated, %lld %lld in use",
	       (long long)zebra[0], (long long)zebra[1],
	       (long long)zebra[2], (long long)zebra[3]);
	TH_LOG("garbage: %lld objects %lld bytes allocated, %lld %lld in use",
	       (long long)garbage[0], (long long)garbage[1],
	       (long long)garbage[2], (long long)garbage[3]);
	/* 32 MiB allocated and kept (64 samples on average): the scaled
	 * estimate within +-50% (4 standard deviations) */
	EXPECT_GT(zebra[1], 16LL << 20);
	EXPECT_LT(zebra[1], 48LL << 20);
	EXPECT_EQ(zebra[1], zebra[3]);
	/* 96 MiB allocated, all freed by the cycle */
	EXPECT_GT(garbage[1], 72LL << 20);
	EXPECT_LT(garbage[1], 120LL << 20);
	EXPECT_LT(garbage[3], garbage[1] / 10);

	if (getenv("GCA_PROFILE_DUMP"))
		print_base64(data, len);
	free_profile(pr);
	free(pr);
	free(data);
	/* the kept objects are freed once dropped */
	memset(live, 0, sizeof(live));
	clear_stack();
	ASSERT_EQ(0, gca_collect(a));
	data = write_profile(a, &len);
	ASSERT_NE(NULL, data);
	pr = calloc(1, sizeof(*pr));
	ASSERT_TRUE(parse_profile(data, len, pr));
	sum_for(pr, "gca_profile_zebra_alloc", zebra);
	EXPECT_GT(zebra[1], 16LL << 20);
	EXPECT_LT(zebra[3], zebra[1] / 10);
	free_profile(pr);
	free(pr);
	free(data);
	gca_close(a);
}

TEST(every_allocation)
{
	int64_t v[4];
	struct gca_arena *a;
	struct prof *pr;
	uint8_t *data;
	size_t len;

	ASSERT_EQ(0, open_arena(&a, SZ_64M, -1));
	gca_set_mem_profile_rate(a, 1);
	gca_profile_garbage_alloc(a, 100, 1000);
	data = write_profile(a, &len);
	ASSERT_NE(NULL, data);
	pr = calloc(1, sizeof(*pr));
	ASSERT_TRUE(parse_profile(data, len, pr));
	sum_for(pr, "gca_profile_garbage_alloc", v);
	/* rate 1: exact counts, no scaling */
	EXPECT_EQ(1000, v[0]);
	EXPECT_EQ(100000, v[1]);
	free_profile(pr);
	free(pr);
	free(data);
	gca_close(a);
}

TEST_HARNESS_MAIN
