// SPDX-License-Identifier: GPL-2.0
/*
 * gcarena-stat, run against the VM's /proc/gcarena.  The tool's source is
 * built into this program (its main renamed) and run in a child process
 * with its stdout on a pipe, so the VM needs no extra file.  Checked: the
 * table's header and a row for this test's own arena with its pid and
 * sizes, the one-arena view, the interval mode (one row per report), the
 * exit status for a missing arena, and that --json output parses (a small
 * JSON parser below) and has the expected structure and values.
 */
#define GCA_STAT_MAIN gca_stat_main
#include "../../tools/gcarena-stat.c"

#include <ctype.h>
#include <sys/wait.h>

#include "gca_test.h"

/* Run the tool with args; its stdout in out; its exit status. */
static int run_stat(char *out, size_t n, const char *const *args)
{
	char *argv[16];
	int pfd[2], status, i;
	size_t len = 0;
	ssize_t r;
	pid_t pid;

	argv[0] = "gcarena-stat";
	for (i = 0; args[i] && i < 14; i++)
		argv[i + 1] = (char *)args[i];
	argv[i + 1] = NULL;
	if (pipe(pfd))
		return -1;
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		dup2(pfd[1], 1);
		close(pfd[0]);
		close(pfd[1]);
		exit(gca_stat_main(i + 1, argv));
	}
	close(pfd[1]);
	while (len < n - 1 && (r = read(pfd[0], out + len, n - 1 - len)) > 0)
		len += r;
	out[len] = '\0';
	close(pfd[0]);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

/* ---- a small JSON parser: validates, and finds values by path ---------- */

struct json {
	const char *p;
	int depth;
};

static void js_ws(struct json *j)
{
	while (*j->p == ' ' || *j->p == '\n' || *j->p == '\t' || *j->p == '\r')
		j->p++;
}

static bool js_value(struct json *j);

static bool js_string(struct json *j)
{
	if (*j->p != '"')
		return false;
	for (j->p++; *j->p != '"'; j->p++) {
		if (!*j->p || (unsigned char)*j->p < 0x20)
			return false;
		if (*j->p == '\\') {
			j->p++;
			if (*j->p == 'u') {
				int k;

				for (k = 1; k <= 4; k++)
					if (!isxdigit((unsigned char)j->p[k]))
						return false;
				j->p += 4;
			} else if (!strchr("\"\\/bfnrt", *j->p)) {
				return false;
			}
		}
	}
	j->p++;
	return true;
}

static bool js_number(struct json *j)
{
	const char *s = j->p;

	if (*j->p == '-')
		j->p++;
	if (!isdigit((unsigned char)*j->p))
		return false;
	if (*j->p == '0' && isdigit((unsigned char)j->p[1]))
		return false;
	while (isdigit((unsigned char)*j->p))
		j->p++;
	if (*j->p == '.') {
		j->p++;
		if (!isdigit((unsigned char)*j->p))
			return false;
		while (isdigit((unsigned char)*j->p))
			j->p++;
	}
	if (*j->p == 'e' || *j->p == 'E') {
		j->p++;
		if (*j->p == '+' || *j->p == '-')
			j->p++;
		if (!isdigit((unsigned char)*j->p))
			return false;
		while (isdigit((unsigned char)*j->p))
			j->p++;
	}
	return j->p > s;
}

static bool js_container(struct json *j, char open, char close, bool obj)
{
	if (*j->p != open || ++j->depth > 32)
		return false;
	j->p++;
	js_ws(j);
	if (*j->p == close) {
		j->p++;
		j->depth--;
		return true;
	}
	for (;;) {
		js_ws(j);
		if (obj) {
			if (!js_string(j))
				return false;
			js_ws(j);
			if (*j->p++ != ':')
				return false;
			js_ws(j);
		}
		if (!js_value(j))
			return false;
		js_ws(j);
		if (*j->p == ',') {
			j->p++;
			continue;
		}
		if (*j->p++ != close)
			return false;
		j->depth--;
		return true;
	}
}

static bool js_value(struct json *j)
{
	js_ws(j);
	switch (*j->p) {
	case '{':
		return js_container(j, '{', '}', true);
	case '[':
		return js_container(j, '[', ']', false);
	case '"':
		return js_string(j);
	case 't':
		return !strncmp(j->p, "true", 4) && (j->p += 4);
	case 'f':
		return !strncmp(j->p, "false", 5) && (j->p += 5);
	case 'n':
		return !strncmp(j->p, "null", 4) && (j->p += 4);
	default:
		return js_number(j);
	}
}

/* Each line of s is one whole JSON object. */
static int json_lines_valid(const char *s)
{
	struct json j = { s, 0 };
	int n = 0;

	while (*j.p) {
		js_ws(&j);
		if (!*j.p)
			break;
		if (*j.p != '{' || !js_value(&j))
			return -1;
		if (*j.p != '\n')
			return -1;
		j.p++;
		n++;
	}
	return n;
}

/* The number after "key": in s (first occurrence after from). */
static bool json_num(const char *s, const char *key, long long *v)
{
	char pat[80];
	const char *p;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	p = strstr(s, pat);
	if (!p)
		return false;
	p += strlen(pat);
	return sscanf(p, "%lld", v) == 1;
}

#define OUT_SIZE	(512 * 1024)

FIXTURE(stat)
{
	struct gca_arena *a;
	char *out;
	char id[16];
	void *keep[64];
};

FIXTURE_SETUP(stat)
{
	unsigned int i;

	ASSERT_EQ(0, open_arena(&self->a, SZ_64M, -1));
	ASSERT_EQ(0, gca_add_roots(self->a, self->keep, sizeof(self->keep)));
	/* 2 MiB kept */
	for (i = 0; i < 64; i++)
		gca_store(self->a, &self->keep[i],
			  gca_alloc_noscan(self->a, 32768));
	ASSERT_EQ(0, gca_collect(self->a));
	snprintf(self->id, sizeof(self->id), "%d", gca_arena_id(self->a));
	self->out = malloc(OUT_SIZE);
	ASSERT_NE(NULL, self->out);
}

FIXTURE_TEARDOWN(stat)
{
	gca_close(self->a);
	free(self->out);
}

TEST_F(stat, table)
{
	static const char *const args[] = { NULL };
	char pid[16], *line, *save = NULL;
	bool found = false;
	int rows = 0;

	ASSERT_EQ(0, run_stat(self->out, OUT_SIZE, args));
	TH_LOG("\n%s", self->out);
	snprintf(pid, sizeof(pid), "%d", getpid());
	line = strtok_r(self->out, "\n", &save);
	ASSERT_NE(NULL, line);
	/* the header */
	EXPECT_EQ(0, strncmp(line, "ID ", 3));
	EXPECT_NE(NULL, strstr(line, "ALLOC"));
	EXPECT_NE(NULL, strstr(line, "GCS"));
	EXPECT_NE(NULL, strstr(line, "LIMIT"));
	while ((line = strtok_r(NULL, "\n", &save))) {
		char w[14][64];
		int n;

		rows++;
		n = sscanf(line, "%63s %63s %63s %63s %63s %63s %63s %63s %63s %63s %63s %63s %63s",
			   w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7],
			   w[8], w[9], w[10], w[11], w[12]);
		EXPECT_EQ(13, n);
		if (strcmp(w[0], self->id))
			continue;
		found = true;
		EXPECT_EQ(0, strcmp(w[1], pid));
		/* 2 MiB kept: heap_alloc shown in MiB */
		EXPECT_NE(NULL, strstr(w[3], "MiB"));
		/* the cycles so far (gca_collect() may run more than one) */
		EXPECT_EQ(gca_num_gc(self->a), strtoull(w[8], NULL, 10));
		EXPECT_EQ(0, strcmp(w[11], "off"));	/* GOGC off */
		EXPECT_EQ(0, strcmp(w[12], "none"));	/* no limit */
	}
	EXPECT_GE(rows, 1);
	EXPECT_TRUE(found);
}

TEST_F(stat, table_json)
{
	static const char *const args[] = { "--json", NULL };
	long long id, heap_alloc, pid;
	char *p;

	ASSERT_EQ(0, run_stat(self->out, OUT_SIZE, args));
	TH_LOG("%s", self->out);
	EXPECT_EQ(1, json_lines_valid(self->out));
	EXPECT_EQ(0, strncmp(self->out, "{\"time\":", 8));
	p = strstr(self->out, "\"arenas\":[");
	ASSERT_NE(NULL, p);
	/* our row */
	snprintf(self->id, sizeof(self->id), "\"id\":%d,", gca_arena_id(self->a));
	p = strstr(p, self->id);
	ASSERT_NE(NULL, p);
	ASSERT_TRUE(json_num(p, "id", &id));
	EXPECT_EQ(gca_arena_id(self->a), id);
	ASSERT_TRUE(json_num(p, "pid", &pid));
	EXPECT_EQ(getpid(), pid);
	ASSERT_TRUE(json_num(p, "heap_alloc", &heap_alloc));
	EXPECT_GE(heap_alloc, 2LL << 20);
	EXPECT_NE(NULL, strstr(p, "\"comm\":\""));
}

TEST_F(stat, arena)
{
	const char *args[] = { self->id, NULL };

	ASSERT_EQ(0, run_stat(self->out, OUT_SIZE, args));
	TH_LOG("\n%s", self->out);
	EXPECT_NE(NULL, strstr(self->out, "arena "));
	EXPECT_NE(NULL, strstr(self->out, "  heap_alloc "));
	EXPECT_NE(NULL, strstr(self->out, "MiB"));
	EXPECT_NE(NULL, strstr(self->out, "  num_gc "));
	EXPECT_NE(NULL, strstr(self->out, "(latest of pause_ns[256])"));
}

TEST_F(stat, arena_json)
{
	const char *args[] = { "--json", self->id, NULL };
	long long v;
	char *p;
	int n = 0;

	ASSERT_EQ(0, run_stat(self->out, OUT_SIZE, args));
	EXPECT_EQ(1, json_lines_valid(self->out));
	ASSERT_TRUE(json_num(self->out, "num_gc", &v));
	EXPECT_EQ((long long)gca_num_gc(self->a), v);
	EXPECT_GE(v, 1);
	ASSERT_TRUE(json_num(self->out, "heap_alloc", &v));
	EXPECT_GE(v, 2LL << 20);
	/* the pause ring: an array of 256 numbers */
	p = strstr(self->out, "\"pause_ns\":[");
	ASSERT_NE(NULL, p);
	for (p += 12; *p && *p != ']'; p++)
		if (*p == ',')
			n++;
	EXPECT_EQ(255, n);
}

TEST_F(stat, interval)
{
	const char *args[] = { "-i", "0.05", "-c", "3", self->id, NULL };
	const char *jargs[] = { "-i", "0.05", "-c", "2", "--json", NULL };
	char *p;
	int lines = 0;

	ASSERT_EQ(0, run_stat(self->out, OUT_SIZE, args));
	TH_LOG("\n%s", self->out);
	for (p = self->out; *p; p++)
		if (*p == '\n')
			lines++;
	EXPECT_EQ(4, lines);	/* a header, three rows */
	EXPECT_NE(NULL, strstr(self->out, "ALLOC"));
	ASSERT_EQ(0, run_stat(self->out, OUT_SIZE, jargs));
	EXPECT_EQ(2, json_lines_valid(self->out));
}

TEST_F(stat, errors)
{
	const char *missing[] = { "999999", NULL };
	const char *bad[] = { "-i", "x", NULL };
	const char *badid[] = { "12ab", NULL };

	EXPECT_EQ(1, run_stat(self->out, OUT_SIZE, missing));
	EXPECT_EQ(2, run_stat(self->out, OUT_SIZE, bad));
	EXPECT_EQ(2, run_stat(self->out, OUT_SIZE, badid));
}

TEST(json_parser)
{
	EXPECT_EQ(1, json_lines_valid("{\"a\":[1,2.5,-3,{\"b\":\"x\\\"y\"}],\"c\":null}\n"));
	EXPECT_EQ(-1, json_lines_valid("{\"a\":[1,2,}\n"));
	EXPECT_EQ(-1, json_lines_valid("{\"a\":01}\n"));
	EXPECT_EQ(-1, json_lines_valid("{\"a\" 1}\n"));
}

TEST_HARNESS_MAIN
