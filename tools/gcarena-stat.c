// SPDX-License-Identifier: GPL-2.0
/*
 * gcarena-stat: the gcarena arenas of this machine, from /proc/gcarena.
 *
 *   gcarena-stat [-i SECONDS] [-c COUNT] [--json] [ID]
 *
 * Without ID: the /proc/gcarena/arenas table (the arenas the caller may
 * see: its own, or all for root), sizes in KiB/MiB/GiB.  With ID: every
 * field of /proc/gcarena/ID.  -i repeats every SECONDS (fractions allowed)
 * like `vmstat 1`: the table is printed again each time, an arena's
 * fields become one row per interval; -c stops after COUNT reports (the
 * default is 1 without -i, forever with it).  --json prints each report
 * as one JSON object on one line (numbers as numbers, sizes in bytes):
 *   {"time":T,"arenas":[{"id":1,"pid":2,"comm":"x","heap_alloc":...},...]}
 *   {"time":T,"id":1,"alloc":...,"pause_ns":[...],...}
 * The proc files' columns and fields are read by name, so new ones show
 * up as they come (unknown arena columns are passed through as numbers).
 *
 * Exit status: 0, 1 if a file could not be read (module not loaded, no
 * such arena, not the caller's arena), 2 on usage errors.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifndef GCA_STAT_PROC
#define GCA_STAT_PROC	"/proc/gcarena"
#endif
/* The selftest builds this file in with another name for main. */
#ifndef GCA_STAT_MAIN
#define GCA_STAT_MAIN	main
#endif

#define STAT_MAX_COLS	64
#define STAT_MAX_ROWS	4096
#define STAT_WORD	64

static const char *stat_prog = "gcarena-stat";

/* Whole file, NUL-terminated, malloc()ed; NULL with errno set. */
static char *stat_slurp(const char *path)
{
	size_t len = 0, cap = 65536;
	char *buf = malloc(cap), *nb;
	FILE *f;
	size_t n;

	if (!buf)
		return NULL;
	f = fopen(path, "re");
	if (!f) {
		int e = errno;

		free(buf);
		errno = e;
		return NULL;
	}
	while ((n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
		len += n;
		if (len + 1 == cap) {
			cap *= 2;
			nb = realloc(buf, cap);
			if (!nb) {
				fclose(f);
				free(buf);
				errno = ENOMEM;
				return NULL;
			}
			buf = nb;
		}
	}
	if (ferror(f)) {
		int e = errno ? errno : EIO;

		fclose(f);
		free(buf);
		errno = e;
		return NULL;
	}
	fclose(f);
	buf[len] = '\0';
	return buf;
}

/* ---- formatting ------------------------------------------------------- */

static bool stat_is_size(const char *name)
{
	static const char *const sizes[] = {
		"alloc", "total_alloc", "sys", "heap_alloc", "heap_sys",
		"heap_idle", "heap_inuse", "heap_released", "next_gc",
		"heap_live", "heap_marked", "gc_trigger", "memory_limit",
		"assist_bytes",
	};
	size_t i;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		if (!strcmp(name, sizes[i]))
			return true;
	return false;
}

static bool stat_is_ns(const char *name)
{
	size_t n = strlen(name);

	return n > 3 && !strcmp(name + n - 3, "_ns");
}

/* 1023B, 1.5KiB, 12.0MiB, 3.2GiB ... */
static void stat_human_bytes(char *buf, size_t n, const char *v)
{
	static const char *const units[] = { "KiB", "MiB", "GiB", "TiB", "PiB" };
	char *end;
	unsigned long long x;
	double d;
	int u = -1;

	errno = 0;
	x = strtoull(v, &end, 10);
	if (errno || end == v || *end || v[0] == '-') {
		snprintf(buf, n, "%s", v);
		return;
	}
	if (x == (unsigned long long)INT64_MAX) {
		snprintf(buf, n, "none");
		return;
	}
	if (x < 1024) {
		snprintf(buf, n, "%lluB", x);
		return;
	}
	d = (double)x;
	while (d >= 1024 && u < 4) {
		d /= 1024;
		u++;
	}
	snprintf(buf, n, "%.1f%s", d, units[u]);
}

/* 0, 850ns, 12.3us, 4.5ms, 2.01s */
static void stat_human_ns(char *buf, size_t n, const char *v)
{
	char *end;
	unsigned long long x;

	errno = 0;
	x = strtoull(v, &end, 10);
	if (errno || end == v || *end) {
		snprintf(buf, n, "%s", v);
		return;
	}
	if (x < 1000)
		snprintf(buf, n, "%lluns", x);
	else if (x < 1000000)
		snprintf(buf, n, "%.1fus", x / 1e3);
	else if (x < 1000000000)
		snprintf(buf, n, "%.1fms", x / 1e6);
	else
		snprintf(buf, n, "%.2fs", x / 1e9);
}

static void stat_human(char *buf, size_t n, const char *name, const char *v)
{
	if (!strcmp(name, "gc_percent") && !strcmp(v, "-1"))
		snprintf(buf, n, "off");
	else if (stat_is_size(name))
		stat_human_bytes(buf, n, v);
	else if (stat_is_ns(name))
		stat_human_ns(buf, n, v);
	else
		snprintf(buf, n, "%s", v);
}

static void stat_json_string(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = *s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

/* A JSON number as is if it is one, else a string. */
static void stat_json_value(const char *v)
{
	const char *p = v;

	if (*p == '-')
		p++;
	if (*p >= '0' && *p <= '9') {
		while (*p >= '0' && *p <= '9')
			p++;
		if (*p == '.') {
			p++;
			while (*p >= '0' && *p <= '9')
				p++;
		}
		if (!*p && !(v[0] == '-' && v[1] == '\0')) {
			fputs(v, stdout);
			return;
		}
	}
	stat_json_string(v);
}

static double stat_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- the arenas table --------------------------------------------------- */

struct stat_table {
	char hdr[STAT_MAX_COLS][STAT_WORD];
	unsigned int ncols;
	char (*rows)[STAT_MAX_COLS][STAT_WORD];
	unsigned int nrows;
};

static unsigned int stat_split(char *line, char words[][STAT_WORD],
			       unsigned int max)
{
	unsigned int n = 0;
	char *save = NULL, *w;

	for (w = strtok_r(line, " \t", &save); w && n < max;
	     w = strtok_r(NULL, " \t", &save))
		snprintf(words[n++], STAT_WORD, "%s", w);
	return n;
}

static int stat_read_table(struct stat_table *t)
{
	char *buf, *line, *save = NULL;
	bool first = true;

	buf = stat_slurp(GCA_STAT_PROC "/arenas");
	if (!buf)
		return -errno;
	t->ncols = t->nrows = 0;
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		if (first) {
			t->ncols = stat_split(line, t->hdr, STAT_MAX_COLS);
			first = false;
			continue;
		}
		if (t->nrows == STAT_MAX_ROWS)
			break;
		memset(t->rows[t->nrows], 0, sizeof(t->rows[0]));
		if (stat_split(line, t->rows[t->nrows], STAT_MAX_COLS))
			t->nrows++;
	}
	free(buf);
	return t->ncols ? 0 : -EPROTO;
}

static int stat_col(const struct stat_table *t, const char *name)
{
	unsigned int i;

	for (i = 0; i < t->ncols; i++)
		if (!strcmp(t->hdr[i], name))
			return i;
	return -1;
}

/* The human table's columns: proc column, title, width. */
static const struct {
	const char *col, *title;
	int width;
	bool left;
} stat_cols[] = {
	{ "id", "ID", 5, true },
	{ "pid", "PID", 7, true },
	{ "comm", "COMM", 16, true },
	{ "heap_alloc", "ALLOC", 9, false },
	{ "heap_inuse", "INUSE", 9, false },
	{ "heap_sys", "SYS", 9, false },
	{ "heap_released", "RELEASED", 9, false },
	{ "next_gc", "GOAL", 9, false },
	{ "num_gc", "GCS", 7, false },
	{ "last_pause_ns", "PAUSE", 8, false },
	{ "pause_total_ns", "PAUSES", 8, false },
	{ "gc_percent", "GOGC", 5, false },
	{ "memory_limit", "LIMIT", 9, false },
};
#define STAT_NCOLS	(sizeof(stat_cols) / sizeof(stat_cols[0]))

static void stat_print_table(const struct stat_table *t, bool json,
			     const char *only)
{
	char h[STAT_WORD];
	unsigned int r, c, i;
	int idx, idcol = stat_col(t, "id");
	bool firstrow = true;

	if (json) {
		printf("{\"time\":%.3f,\"arenas\":[", stat_now());
		for (r = 0; r < t->nrows; r++) {
			if (only && idcol >= 0 && strcmp(t->rows[r][idcol], only))
				continue;
			printf("%s{", firstrow ? "" : ",");
			firstrow = false;
			for (c = 0; c < t->ncols; c++) {
				if (c)
					putchar(',');
				stat_json_string(t->hdr[c]);
				putchar(':');
				if (!strcmp(t->hdr[c], "comm"))
					stat_json_string(t->rows[r][c]);
				else
					stat_json_value(t->rows[r][c]);
			}
			putchar('}');
		}
		printf("]}\n");
		return;
	}
	for (i = 0; i < STAT_NCOLS; i++)
		printf(stat_cols[i].left ? "%-*s " : "%*s ",
		       stat_cols[i].width, stat_cols[i].title);
	putchar('\n');
	for (r = 0; r < t->nrows; r++) {
		if (only && idcol >= 0 && strcmp(t->rows[r][idcol], only))
			continue;
		for (i = 0; i < STAT_NCOLS; i++) {
			idx = stat_col(t, stat_cols[i].col);
			if (idx < 0)
				snprintf(h, sizeof(h), "-");
			else
				stat_human(h, sizeof(h), stat_cols[i].col,
					   t->rows[r][idx]);
			printf(stat_cols[i].left ? "%-*s " : "%*s ",
			       stat_cols[i].width, h);
		}
		putchar('\n');
	}
}

/* ---- one arena's fields ------------------------------------------------- */

struct stat_field {
	char name[STAT_WORD];
	char *value;		/* into the file's buffer */
};

static int stat_read_arena(const char *id, char **bufp,
			   struct stat_field *f, unsigned int max,
			   unsigned int *nf)
{
	char path[128], *line, *save = NULL, *colon;

	snprintf(path, sizeof(path), GCA_STAT_PROC "/%s", id);
	*bufp = stat_slurp(path);
	if (!*bufp)
		return -errno;
	*nf = 0;
	for (line = strtok_r(*bufp, "\n", &save); line && *nf < max;
	     line = strtok_r(NULL, "\n", &save)) {
		colon = strchr(line, ':');
		if (!colon)
			continue;
		*colon = '\0';
		snprintf(f[*nf].name, STAT_WORD, "%s", line);
		colon++;
		while (*colon == ' ')
			colon++;
		f[*nf].value = colon;
		(*nf)++;
	}
	return 0;
}

static const char *stat_field(const struct stat_field *f, unsigned int nf,
			      const char *name)
{
	unsigned int i;

	for (i = 0; i < nf; i++)
		if (!strcmp(f[i].name, name))
			return f[i].value;
	return NULL;
}

static bool stat_is_ring(const char *v)
{
	return strchr(v, ' ') != NULL;
}

/* The latest entry of a ring ("pause_ns: v0 v1 ... v255"). */
static void stat_ring_latest(const char *ring, const char *num_gc,
			     char *out, size_t n)
{
	unsigned long long gc = num_gc ? strtoull(num_gc, NULL, 10) : 0;
	unsigned long long idx = (gc + 255) % 256, i = 0;
	const char *p = ring;

	snprintf(out, n, "0");
	if (!gc)
		return;
	while (*p) {
		while (*p == ' ')
			p++;
		if (!*p)
			break;
		if (i == idx) {
			size_t len = strcspn(p, " ");

			if (len >= n)
				len = n - 1;
			memcpy(out, p, len);
			out[len] = '\0';
			return;
		}
		p += strcspn(p, " ");
		i++;
	}
}

static void stat_print_arena(const char *id, const struct stat_field *f,
			     unsigned int nf, bool json, bool row,
			     bool header)
{
	static const char *const rowcols[] = {
		"heap_alloc", "heap_inuse", "heap_sys", "heap_released",
		"next_gc", "heap_objects", "num_gc", "pause_ns",
		"pause_total_ns", "gc_cpu_fraction",
	};
	static const char *const rowtitles[] = {
		"ALLOC", "INUSE", "SYS", "RELEASED", "GOAL", "OBJECTS", "GCS",
		"PAUSE", "PAUSES", "GCCPU",
	};
	const char *num_gc = stat_field(f, nf, "num_gc");
	char h[STAT_WORD], last[STAT_WORD];
	unsigned int i;

	if (json) {
		printf("{\"time\":%.3f,\"id\":", stat_now());
		stat_json_value(id);
		for (i = 0; i < nf; i++) {
			printf(",");
			stat_json_string(f[i].name);
			putchar(':');
			if (stat_is_ring(f[i].value)) {
				const char *p = f[i].value;
				bool first = true;

				putchar('[');
				while (*p) {
					size_t len;
					char w[STAT_WORD];

					while (*p == ' ')
						p++;
					len = strcspn(p, " ");
					if (!len)
						break;
					if (len >= sizeof(w))
						len = sizeof(w) - 1;
					memcpy(w, p, len);
					w[len] = '\0';
					printf("%s", first ? "" : ",");
					stat_json_value(w);
					first = false;
					p += strcspn(p, " ");
				}
				putchar(']');
			} else {
				stat_json_value(f[i].value);
			}
		}
		printf("}\n");
		return;
	}
	if (row) {
		/* vmstat style: one row per interval */
		if (header) {
			for (i = 0; i < sizeof(rowcols) / sizeof(rowcols[0]); i++)
				printf("%9s ", rowtitles[i]);
			putchar('\n');
		}
		for (i = 0; i < sizeof(rowcols) / sizeof(rowcols[0]); i++) {
			const char *v = stat_field(f, nf, rowcols[i]);

			if (!v) {
				snprintf(h, sizeof(h), "-");
			} else if (stat_is_ring(v)) {
				stat_ring_latest(v, num_gc, last, sizeof(last));
				stat_human(h, sizeof(h), rowcols[i], last);
			} else {
				stat_human(h, sizeof(h), rowcols[i], v);
			}
			printf("%9s ", h);
		}
		putchar('\n');
		return;
	}
	printf("arena %s\n", id);
	for (i = 0; i < nf; i++) {
		if (stat_is_ring(f[i].value)) {
			/* the rings: their latest entry only */
			stat_ring_latest(f[i].value, num_gc, last, sizeof(last));
			stat_human(h, sizeof(h), f[i].name, last);
			printf("  %-20s %12s  (latest of %s[256])\n",
			       f[i].name, h, f[i].name);
			continue;
		}
		stat_human(h, sizeof(h), f[i].name, f[i].value);
		if (strcmp(h, f[i].value))
			printf("  %-20s %12s  (%s)\n", f[i].name, h,
			       f[i].value);
		else
			printf("  %-20s %12s\n", f[i].name, h);
	}
}

static void stat_usage(FILE *out)
{
	fprintf(out,
		"usage: %s [-i SECONDS] [-c COUNT] [--json] [ID]\n"
		"  the /proc/gcarena/arenas table, or the fields of arena ID\n"
		"  -i, --interval SECONDS  report again every SECONDS\n"
		"  -c, --count COUNT       stop after COUNT reports\n"
		"  -j, --json              one JSON object per report\n"
		"  -h, --help\n", stat_prog);
}

int GCA_STAT_MAIN(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "interval", required_argument, NULL, 'i' },
		{ "count", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct stat_field fields[128];
	struct stat_table *t = NULL;
	double interval = 0;
	long long count = -1, done;
	const char *id = NULL;
	bool json = false;
	unsigned int nf = 0;
	char *end, *buf;
	int opt, ret = 0;

	if (argc > 0 && argv[0] && strrchr(argv[0], '/'))
		stat_prog = strrchr(argv[0], '/') + 1;
	else if (argc > 0 && argv[0])
		stat_prog = argv[0];
	while ((opt = getopt_long(argc, argv, "i:c:jh", opts, NULL)) != -1) {
		switch (opt) {
		case 'i':
			interval = strtod(optarg, &end);
			if (*end || end == optarg || interval <= 0) {
				fprintf(stderr, "%s: bad interval '%s'\n",
					stat_prog, optarg);
				return 2;
			}
			break;
		case 'c':
			count = strtoll(optarg, &end, 10);
			if (*end || end == optarg || count <= 0) {
				fprintf(stderr, "%s: bad count '%s'\n",
					stat_prog, optarg);
				return 2;
			}
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			stat_usage(stdout);
			return 0;
		default:
			stat_usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		id = argv[optind++];
		if (strspn(id, "0123456789") != strlen(id) || !*id) {
			fprintf(stderr, "%s: bad arena id '%s'\n", stat_prog, id);
			return 2;
		}
	}
	if (optind < argc) {
		stat_usage(stderr);
		return 2;
	}
	if (count < 0)
		count = interval > 0 ? -1 : 1;

	if (!id) {
		t = calloc(1, sizeof(*t));
		if (t)
			t->rows = calloc(STAT_MAX_ROWS, sizeof(*t->rows));
		if (!t || !t->rows) {
			fprintf(stderr, "%s: out of memory\n", stat_prog);
			ret = 1;
			goto out;
		}
	}
	for (done = 0; count < 0 || done < count; done++) {
		if (done) {
			struct timespec ts = {
				(time_t)interval,
				(long)((interval - (time_t)interval) * 1e9),
			};

			while (nanosleep(&ts, &ts) && errno == EINTR)
				;
			if (!json && !id)
				putchar('\n');
		}
		if (!id) {
			ret = stat_read_table(t);
			if (ret) {
				fprintf(stderr, "%s: %s/arenas: %s%s\n",
					stat_prog, GCA_STAT_PROC, strerror(-ret),
					ret == -ENOENT ?
					" (is the gcarena module loaded?)" : "");
				ret = 1;
				break;
			}
			stat_print_table(t, json, NULL);
		} else {
			ret = stat_read_arena(id, &buf, fields,
					      sizeof(fields) / sizeof(fields[0]),
					      &nf);
			if (ret) {
				fprintf(stderr, "%s: %s/%s: %s\n", stat_prog,
					GCA_STAT_PROC, id, strerror(-ret));
				ret = 1;
				break;
			}
			stat_print_arena(id, fields, nf, json, interval > 0,
					 done == 0);
			free(buf);
		}
		fflush(stdout);
	}
out:
	if (t)
		free(t->rows);
	free(t);
	return ret;
}
