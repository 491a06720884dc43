// SPDX-License-Identifier: GPL-2.0
/* Helpers shared by the benchmarks (see bench.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>
#include "bench.h"

void bench_result(const char *bench, const char *param, const char *stat,
		  double value, const char *unit)
{
	static bool told;

	if (!told) {
		/* the backend's configuration, once per run, for the report */
		printf("M\tbackend_%s\t%s\n", bench_backend, bench_backend_info());
		told = true;
	}
	printf("R\t%s\t%s\t%s\t%s\t%.6g\t%s\n", bench, bench_backend, param,
	       stat, value, unit);
	fflush(stdout);
}

uint64_t bench_rss(void)
{
	unsigned long size, res;
	FILE *f = fopen("/proc/self/statm", "r");

	if (!f)
		return 0;
	if (fscanf(f, "%lu %lu", &size, &res) != 2)
		res = 0;
	fclose(f);
	return (uint64_t)res * (uint64_t)sysconf(_SC_PAGESIZE);
}

void bench_die(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "bench (%s): ", bench_backend);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

long bench_arg(int argc, char **argv, const char *name, long def)
{
	size_t n = strlen(name);
	char *end;
	long v;
	int i;

	for (i = 1; i < argc; i++) {
		if (strncmp(argv[i], name, n) || argv[i][n] != '=')
			continue;
		v = strtol(argv[i] + n + 1, &end, 0);
		if (*end == 'k' || *end == 'K')
			v <<= 10, end++;
		else if (*end == 'm' || *end == 'M')
			v <<= 20, end++;
		else if (*end == 'g' || *end == 'G')
			v <<= 30, end++;
		if (*end)
			bench_die("bad value in %s", argv[i]);
		return v;
	}
	return def;
}

void bench_pauselog_poll(struct bench_pauselog *pl)
{
	uint64_t buf[256];
	int k, i;

	do {
		k = bench_pauses(buf, 256, &pl->lost);
		for (i = 0; i < k; i++) {
			if (pl->n == pl->cap) {
				pl->cap = pl->cap ? 2 * pl->cap : 1024;
				pl->ns = realloc(pl->ns, pl->cap * sizeof(*pl->ns));
				if (!pl->ns)
					bench_die("out of memory");
			}
			pl->ns[pl->n++] = buf[i];
		}
	} while (k == 256);
}

void bench_pauselog_free(struct bench_pauselog *pl)
{
	free(pl->ns);
	memset(pl, 0, sizeof(*pl));
}

void bench_cpu_snapshot(struct bench_cpu *c)
{
	struct bench_heap hs;
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	c->user_ns = ru.ru_utime.tv_sec * 1000000000ULL + ru.ru_utime.tv_usec * 1000ULL;
	c->sys_ns = ru.ru_stime.tv_sec * 1000000000ULL + ru.ru_stime.tv_usec * 1000ULL;
	c->minflt = ru.ru_minflt;
	c->collector_ns = bench_collector_cpu_ns();
	bench_heap_stats(&hs);
	c->assist_ns = hs.assist_ns;
}

void bench_cpu_results(const char *bench, const char *param,
		       const struct bench_cpu *start)
{
	struct bench_cpu now;

	bench_cpu_snapshot(&now);
	bench_result(bench, param, "user_s", (now.user_ns - start->user_ns) / 1e9, "s");
	bench_result(bench, param, "sys_s", (now.sys_ns - start->sys_ns) / 1e9, "s");
	bench_result(bench, param, "minflt", now.minflt - start->minflt, "");
	if (BENCH_IS_GC) {
		bench_result(bench, param, "collector_cpu_s",
			     (now.collector_ns - start->collector_ns) / 1e9, "s");
		bench_result(bench, param, "assist_s",
			     (now.assist_ns - start->assist_ns) / 1e9, "s");
	}
}
