/* SPDX-License-Identifier: (LGPL-2.1 OR MIT) */
/*
 * gca_write_heap_profile()'s output: the heap profile as pprof's
 * profile.proto (github.com/google/pprof/proto/profile.proto), written
 * uncompressed (pprof reads plain protobuf as well as gzipped), laid out
 * as Go's runtime/pprof writes a heap profile:
 *
 *   sample_type  alloc_objects/count, alloc_space/bytes,
 *                inuse_objects/count, inuse_space/bytes (the last is
 *                pprof's default)
 *   sample       one per (stack, size) bucket: the four values, scaled
 *                (Go's scaleHeapSample), and a numeric label bytes=size
 *   period_type  space/bytes, period = the sampling rate
 *   mapping      every executable file mapping of the process, from
 *                /proc/self/maps, the main executable first (pprof puts a
 *                binary given on its command line in the first mapping)
 *   location     one per distinct return address, minus one so that it
 *                points into the call instruction, with its mapping
 *   function     names from the ELF symbol table of each mapped file
 *                (.symtab, else .dynsym): static binaries are named too.
 *                A mapping all of whose locations were named has
 *                has_functions set; the others are left for pprof to
 *                symbolize from the binaries.
 *
 * The encoding is protobuf.c's, the mappings and the names symbolize.c's
 * (gca_pprof.h).
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gca_obs.h"
#include "gca_pprof.h"

/* ---- the string table ------------------------------------------------- */

struct strtab {
	char **s;
	size_t n, cap;
	size_t *hash;		/* index + 1, 0 = empty */
	size_t hcap;
	int err;
};

static uint64_t str_hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	while (*s) {
		h ^= (unsigned char)*s++;
		h *= 0x100000001b3ULL;
	}
	return h;
}

static int64_t str_id(struct strtab *t, const char *s)
{
	size_t i, j;

	if (t->err)
		return 0;
	if ((t->n + 1) * 2 > t->hcap) {
		size_t ncap = t->hcap ? t->hcap * 2 : 256, *nh;

		nh = calloc(ncap, sizeof(*nh));
		if (!nh) {
			t->err = -ENOMEM;
			return 0;
		}
		for (j = 0; j < t->n; j++) {
			for (i = str_hash(t->s[j]) & (ncap - 1); nh[i];
			     i = (i + 1) & (ncap - 1))
				;
			nh[i] = j + 1;
		}
		free(t->hash);
		t->hash = nh;
		t->hcap = ncap;
	}
	for (i = str_hash(s) & (t->hcap - 1); t->hash[i];
	     i = (i + 1) & (t->hcap - 1))
		if (!strcmp(t->s[t->hash[i] - 1], s))
			return t->hash[i] - 1;
	if (t->n == t->cap) {
		size_t ncap = t->cap ? t->cap * 2 : 64;
		char **ns = realloc(t->s, ncap * sizeof(*ns));

		if (!ns) {
			t->err = -ENOMEM;
			return 0;
		}
		t->s = ns;
		t->cap = ncap;
	}
	t->s[t->n] = strdup(s);
	if (!t->s[t->n]) {
		t->err = -ENOMEM;
		return 0;
	}
	t->hash[i] = t->n + 1;
	return t->n++;
}

static void str_free(struct strtab *t)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		free(t->s[i]);
	free(t->s);
	free(t->hash);
}

/* ---- locations -------------------------------------------------------- */

struct loc {
	uint64_t addr;		/* return address - 1 */
	uint64_t id;
	uint64_t mapping;
	uint64_t func;		/* function id, 0 = unnamed */
};

struct locs {
	struct loc *l;		/* open addressing on addr; addr 0 = empty */
	size_t cap, n;
	char **fnames;		/* function id - 1 -> name (not owned) */
	size_t nf, fcap;
};

static size_t loc_slot(const struct locs *t, uint64_t addr)
{
	return (size_t)(addr * 0x9E3779B97F4A7C15ULL >> 20) & (t->cap - 1);
}

static struct loc *loc_get(struct locs *t, uint64_t addr)
{
	size_t i;

	for (i = loc_slot(t, addr); t->l[i].addr; i = (i + 1) & (t->cap - 1))
		if (t->l[i].addr == addr)
			return &t->l[i];
	return NULL;
}

static int loc_add(struct locs *t, uint64_t addr)
{
	size_t i;

	if (loc_get(t, addr))
		return 0;
	for (i = loc_slot(t, addr); t->l[i].addr; i = (i + 1) & (t->cap - 1))
		;
	t->l[i].addr = addr;
	t->l[i].id = ++t->n;
	return 0;
}

static uint64_t func_id(struct locs *t, const char *name)
{
	size_t i;

	for (i = 0; i < t->nf; i++)
		if (t->fnames[i] == name || !strcmp(t->fnames[i], name))
			return i + 1;
	if (t->nf == t->fcap) {
		size_t ncap = t->fcap ? t->fcap * 2 : 64;
		char **nf = realloc(t->fnames, ncap * sizeof(*nf));

		if (!nf)
			return 0;
		t->fnames = nf;
		t->fcap = ncap;
	}
	t->fnames[t->nf++] = (char *)name;
	return t->nf;
}

/* ---- the profile -------------------------------------------------------- */

/* Profile message fields */
enum {
	P_SAMPLE_TYPE = 1, P_SAMPLE = 2, P_MAPPING = 3, P_LOCATION = 4,
	P_FUNCTION = 5, P_STRING_TABLE = 6, P_TIME_NANOS = 9,
	P_PERIOD_TYPE = 11, P_PERIOD = 12,
};

static void pb_value_type(struct pb *b, struct pb *tmp, unsigned int field,
			  struct strtab *st, const char *type, const char *unit)
{
	__gca_pb_u64(tmp, 1, str_id(st, type));
	__gca_pb_u64(tmp, 2, str_id(st, unit));
	__gca_pb_msg(b, field, tmp);
}

static uint64_t loc_addr(uintptr_t ret)
{
	return ret ? (uint64_t)ret - 1 : 0;
}

int __gca_pprof_write(struct gca_obs *o, int fd)
{
	struct pb b = { 0 }, m = { 0 }, v = { 0 };
	struct strtab st = { 0 };
	struct locs lt = { 0 };
	struct maps ms;
	struct gca_prof_bucket *bk;
	int64_t rate = o->rate > 0 ? o->rate : o->last_rate;
	size_t total = 0, i, off;
	unsigned int h, k;
	int ret;

	ret = __gca_maps_read(&ms);
	if (ret)
		goto out;
	str_id(&st, "");

	/* Locations: every distinct frame of every bucket. */
	for (h = 0; h < GCA_PROF_HASH; h++)
		for (bk = o->buckets[h]; bk; bk = bk->hnext)
			total += bk->nstk;
	lt.cap = 64;
	while (lt.cap < total * 2 + 2)
		lt.cap *= 2;
	lt.l = calloc(lt.cap, sizeof(*lt.l));
	if (!lt.l) {
		ret = -ENOMEM;
		goto out;
	}
	for (h = 0; h < GCA_PROF_HASH; h++)
		for (bk = o->buckets[h]; bk; bk = bk->hnext)
			for (k = 0; k < bk->nstk; k++)
				if (loc_addr(bk->stk[k]))
					loc_add(&lt, loc_addr(bk->stk[k]));
	/* Mappings and names for the locations. */
	for (i = 0; i < lt.cap; i++) {
		struct loc *l = &lt.l[i];
		struct mapping *mp;
		struct elfsyms *es;
		const char *name;

		if (!l->addr)
			continue;
		mp = __gca_maps_find(&ms, l->addr, &l->mapping);
		if (!mp)
			continue;
		es = &ms.syms[mp->file];
		if (!es->loaded)
			__gca_elf_load(es, ms.files[mp->file]);
		name = __gca_elf_lookup(es, mp, l->addr);
		if (name)
			l->func = func_id(&lt, name);
		if (!l->func)
			mp->all_named = false;
	}

	/* sample_type, as Go's heap profile, and the period */
	pb_value_type(&b, &m, P_SAMPLE_TYPE, &st, "alloc_objects", "count");
	pb_value_type(&b, &m, P_SAMPLE_TYPE, &st, "alloc_space", "bytes");
	pb_value_type(&b, &m, P_SAMPLE_TYPE, &st, "inuse_objects", "count");
	pb_value_type(&b, &m, P_SAMPLE_TYPE, &st, "inuse_space", "bytes");

	/* Samples */
	for (h = 0; h < GCA_PROF_HASH; h++) {
		for (bk = o->buckets[h]; bk; bk = bk->hnext) {
			int64_t ac, ab, ic, ib;

			__gca_prof_scale(bk->allocs, bk->alloc_bytes, rate,
					 &ac, &ab);
			__gca_prof_scale(bk->allocs - bk->frees,
					 bk->alloc_bytes - bk->free_bytes,
					 rate, &ic, &ib);
			/* location_id, packed */
			for (k = 0; k < bk->nstk; k++) {
				struct loc *l = loc_get(&lt,
							loc_addr(bk->stk[k]));

				if (l)
					__gca_pb_varint(&v, l->id);
			}
			__gca_pb_msg(&m, 1, &v);
			/* value, packed */
			__gca_pb_varint(&v, ac);
			__gca_pb_varint(&v, ab);
			__gca_pb_varint(&v, ic);
			__gca_pb_varint(&v, ib);
			__gca_pb_msg(&m, 2, &v);
			/* label bytes = size */
			__gca_pb_u64(&v, 1, str_id(&st, "bytes"));
			__gca_pb_u64(&v, 3, bk->size);
			__gca_pb_msg(&m, 3, &v);
			__gca_pb_msg(&b, P_SAMPLE, &m);
		}
	}

	/* Mappings */
	for (i = 0; i < ms.n; i++) {
		__gca_pb_u64(&m, 1, i + 1);
		__gca_pb_u64(&m, 2, ms.m[i].start);
		__gca_pb_u64(&m, 3, ms.m[i].limit);
		__gca_pb_u64(&m, 4, ms.m[i].offset);
		__gca_pb_u64(&m, 5, str_id(&st, ms.m[i].path));
		__gca_pb_u64(&m, 7, ms.m[i].all_named);
		__gca_pb_msg(&b, P_MAPPING, &m);
	}

	/* Locations */
	for (i = 0; i < lt.cap; i++) {
		struct loc *l = &lt.l[i];

		if (!l->addr)
			continue;
		__gca_pb_u64(&m, 1, l->id);
		__gca_pb_u64(&m, 2, l->mapping);
		__gca_pb_u64(&m, 3, l->addr);
		if (l->func) {
			__gca_pb_u64(&v, 1, l->func);
			__gca_pb_msg(&m, 4, &v);
		}
		__gca_pb_msg(&b, P_LOCATION, &m);
	}

	/* Functions */
	for (i = 0; i < lt.nf; i++) {
		int64_t name = str_id(&st, lt.fnames[i]);

		__gca_pb_u64(&m, 1, i + 1);
		__gca_pb_u64(&m, 2, name);
		__gca_pb_u64(&m, 3, name);
		__gca_pb_msg(&b, P_FUNCTION, &m);
	}

	__gca_pb_u64(&b, P_TIME_NANOS, __gca_real_ns());
	pb_value_type(&b, &m, P_PERIOD_TYPE, &st, "space", "bytes");
	__gca_pb_u64(&b, P_PERIOD, rate);

	/* The string table last: every string is known by now. */
	for (i = 0; i < st.n; i++)
		__gca_pb_bytes(&b, P_STRING_TABLE, st.s[i], strlen(st.s[i]));

	ret = b.err ? b.err : m.err ? m.err : v.err ? v.err : st.err;
	for (off = 0; !ret && off < b.len;) {
		ssize_t n = write(fd, b.p + off, b.len - off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			ret = -errno;
		} else {
			off += n;
		}
	}
out:
	__gca_maps_free(&ms);
	free(lt.l);
	free(lt.fnames);
	str_free(&st);
	free(b.p);
	free(m.p);
	free(v.p);
	return ret;
}
