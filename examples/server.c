// SPDX-License-Identifier: MIT
/*
 * A long-running, server-like loop: worker threads handle "requests",
 * each allocating a response buffer from a gca_pool and some garbage,
 * while a monitor thread sleeps in gca_wait_cycle() and reports each
 * cycle it wakes for.  Try it with GCARENA_DEBUG=gctrace=1 too.
 *
 *   examples/server [-n SECONDS] [-t THREADS]
 */
#include <pthread.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <gcarena.h>

#define RESPONSE_SIZE	4096

static struct gca_arena *arena;
static struct gca_pool *responses;
static atomic_bool stopping;
static atomic_long served;

static void *new_response(struct gca_arena *a, void *ctx)
{
	(void)ctx;
	return gca_alloc_noscan(a, RESPONSE_SIZE);
}

static void handle(unsigned long id)
{
	char *resp = gca_pool_get(responses);
	char *scratch;
	int i;

	if (!resp)
		return;
	/* per-request garbage: the collector's work */
	for (i = 0; i < 16; i++) {
		scratch = gca_alloc_noscan(arena, 256 + i * 64);
		if (scratch)
			snprintf(scratch, 256, "request %lu part %d", id, i);
	}
	snprintf(resp, RESPONSE_SIZE, "response to request %lu", id);
	gca_pool_put(responses, resp);
	atomic_fetch_add(&served, 1);
}

static void *worker(void *arg)
{
	unsigned long id = (unsigned long)arg << 32;

	while (!atomic_load(&stopping))
		handle(id++);
	gca_unregister_thread(arena);
	return NULL;
}

static void *monitor(void *arg)
{
	struct gca_memstats ms;
	long last = 0;

	(void)arg;
	while (!atomic_load(&stopping)) {
		/* sleeps in poll(); a cycle wakes it */
		int r = gca_wait_cycle(arena, 500);

		if (r < 0) {
			fprintf(stderr, "gca_wait_cycle: %s\n", strerror(-r));
			break;
		}
		if (r == 0)
			continue;
		if (gca_read_memstats(arena, &ms))
			break;
		printf("cycle %u: heap %.1f MiB, goal %.1f MiB, last pause "
		       "%.3f ms, %ld requests since the last report\n",
		       ms.num_gc, ms.heap_alloc / 1048576.0,
		       ms.next_gc / 1048576.0,
		       ms.pause_ns[(ms.num_gc + 255) % 256] / 1e6,
		       atomic_load(&served) - last);
		last = atomic_load(&served);
		fflush(stdout);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	int seconds = 5, nthreads = 2, opt, i, ret;
	pthread_t mon, *th;
	struct timespec deadline;

	while ((opt = getopt(argc, argv, "n:t:")) != -1) {
		if (opt == 'n')
			seconds = atoi(optarg);
		else if (opt == 't')
			nthreads = atoi(optarg);
		else {
			fprintf(stderr, "usage: %s [-n SECONDS] [-t THREADS]\n",
				argv[0]);
			return 2;
		}
	}
	ret = gca_open(&arena, NULL);
	if (ret) {
		fprintf(stderr, "gca_open: %s\n", strerror(-ret));
		return 1;
	}
	responses = gca_pool_new(arena, new_response, NULL);
	if (!responses) {
		perror("gca_pool_new");
		return 1;
	}
	th = calloc(nthreads, sizeof(*th));
	if (!th || pthread_create(&mon, NULL, monitor, NULL))
		return 1;
	for (i = 0; i < nthreads; i++)
		if (pthread_create(&th[i], NULL, worker, (void *)(long)(i + 1)))
			return 1;
	/*
	 * The main thread is registered (it opened the arena): the preempt
	 * signal interrupts its sleep at every cycle, and sleep() then
	 * returns early.  Sleep until an absolute deadline instead.
	 */
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += seconds;
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &deadline,
			       NULL) == EINTR)
		;
	atomic_store(&stopping, true);
	for (i = 0; i < nthreads; i++)
		pthread_join(th[i], NULL);
	pthread_join(mon, NULL);
	printf("served %ld requests\n", atomic_load(&served));
	gca_pool_destroy(responses);
	gca_close(arena);
	free(th);
	return 0;
}
