// SPDX-License-Identifier: GPL-2.0
/*
 * /proc/gcarena: statistics only, no control.
 *
 *   /proc/gcarena/arenas  one header line, then a row per arena.  A user
 *                         sees the rows of the arenas they created; root
 *                         (CAP_SYS_ADMIN) sees every row.
 *   /proc/gcarena/<id>    one "name: value" line per field of struct
 *                         gca_memstats (pause_hist: 40 log2-ns buckets,
 *                         bucket i counting pauses of [2^i, 2^(i+1)) ns),
 *                         owned by the arena's creator and
 *                         readable by it only (mode 0400), and by root.
 *
 * Figures are those of GCA_IOC_READ_STATS (gca_arena_fill_stats()), taken
 * under the arena's lock, so every invariant of the ioctl holds here.
 * The table never waits for an arena's lock with gca_arenas_lock held
 * (gca_arenas_show()).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/capability.h>
#include <linux/cred.h>
#include <linux/mm.h>
#include <linux/pid.h>
#include <linux/proc_fs.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include "gcarena_private.h"

static struct proc_dir_entry *gca_proc_dir;

/* May the reader see a's row?  *admin caches capable(): -1 = not asked. */
static bool gca_proc_may_see(struct gca_arena *a, int *admin)
{
	if (uid_eq(a->uid, current_uid()))
		return true;
	if (*admin < 0)
		*admin = capable(CAP_SYS_ADMIN);
	return *admin;
}

/*
 * The created arenas the reader may see, each with a reference, into
 * *out (kvfree() it); their number, or -errno.  Arenas created meanwhile
 * are left out, as if the read came a moment earlier.
 */
static int gca_arenas_get_visible(struct gca_arena ***out)
{
	struct gca_arena *a, **v;
	int admin = -1, n = 0, i = 0;

	if (mutex_lock_killable(&gca_arenas_lock))
		return -EINTR;
	list_for_each_entry(a, &gca_arenas, node)
		if (READ_ONCE(a->created) && gca_proc_may_see(a, &admin))
			n++;
	mutex_unlock(&gca_arenas_lock);
	v = kvmalloc_array(max(n, 1), sizeof(*v), GFP_KERNEL);
	if (!v)
		return -ENOMEM;
	if (mutex_lock_killable(&gca_arenas_lock)) {
		kvfree(v);
		return -EINTR;
	}
	list_for_each_entry(a, &gca_arenas, node) {
		if (i == n)
			break;
		if (!READ_ONCE(a->created) || !gca_proc_may_see(a, &admin))
			continue;
		kref_get(&a->ref);
		v[i++] = a;
	}
	mutex_unlock(&gca_arenas_lock);
	*out = v;
	return i;
}

/*
 * gca_arenas_lock is every user's: it is held only to take a reference on
 * each visible arena, and each row is then read under its own arena's
 * lock alone.  A busy arena delays its own row, never another user's
 * create or close, nor the reading of rows before it.
 */
static int gca_arenas_show(struct seq_file *m, void *v)
{
	char comm[TASK_COMM_LEN];
	struct gca_arena **arenas;
	struct gca_stats *st;
	int i, n, ret = 0;

	st = kmalloc(sizeof(*st), GFP_KERNEL);
	if (!st)
		return -ENOMEM;
	n = gca_arenas_get_visible(&arenas);
	if (n < 0) {
		kfree(st);
		return n;
	}
	seq_printf(m, "%-6s %-8s %-16s %14s %14s %14s %14s %14s %8s %14s %16s %10s %20s\n",
		   "id", "pid", "comm", "heap_alloc", "heap_inuse",
		   "heap_sys", "heap_released", "next_gc", "num_gc",
		   "last_pause_ns", "pause_total_ns", "gc_percent",
		   "memory_limit");
	for (i = 0; i < n; i++) {
		struct gca_arena *a = arenas[i];
		u64 last_pause;
		bool live;
		pid_t pid;

		if (!ret && mutex_lock_killable(&a->lock))
			ret = -EINTR;
		if (ret) {
			gca_arena_put(a);
			continue;
		}
		/* released meanwhile: only the struct is left */
		live = !READ_ONCE(a->dying);
		if (live) {
			gca_arena_fill_stats_locked(a, st);
			pid = pid_vnr(a->pid);
			memcpy(comm, a->comm, sizeof(comm));
		}
		mutex_unlock(&a->lock);
		if (live) {
			last_pause = st->num_gc ?
				st->pause_ns[(st->num_gc + GCA_NUM_PAUSE - 1) %
					     GCA_NUM_PAUSE] : 0;
			seq_printf(m, "%-6u %-8d %-16s %14llu %14llu %14llu %14llu %14llu %8u %14llu %16llu %10d %20lld\n",
				   a->id, pid, comm, st->heap_alloc,
				   st->heap_inuse, st->heap_sys,
				   st->heap_released, st->next_gc, st->num_gc,
				   last_pause, st->pause_total_ns,
				   st->gc_percent, st->memory_limit);
		}
		gca_arena_put(a);
	}
	kvfree(arenas);
	kfree(st);
	return ret;
}

static void gca_show_ring(struct seq_file *m, const char *name, const u64 *v)
{
	int i;

	seq_printf(m, "%s:", name);
	for (i = 0; i < GCA_NUM_PAUSE; i++)
		seq_printf(m, " %llu", v[i]);
	seq_putc(m, '\n');
}

static int gca_arena_show(struct seq_file *m, void *v)
{
	struct gca_arena *a = m->private;
	struct gca_stats *st;
	int i;

	st = kmalloc(sizeof(*st), GFP_KERNEL);
	if (!st)
		return -ENOMEM;
	gca_arena_fill_stats(a, st);
#define GCA_SHOW(f) seq_printf(m, #f ": %llu\n", (unsigned long long)st->f)
	GCA_SHOW(alloc);
	GCA_SHOW(total_alloc);
	GCA_SHOW(sys);
	GCA_SHOW(mallocs);
	GCA_SHOW(frees);
	GCA_SHOW(heap_alloc);
	GCA_SHOW(heap_sys);
	GCA_SHOW(heap_idle);
	GCA_SHOW(heap_inuse);
	GCA_SHOW(heap_released);
	GCA_SHOW(heap_objects);
	GCA_SHOW(next_gc);
	GCA_SHOW(last_gc);
	GCA_SHOW(pause_total_ns);
	gca_show_ring(m, "pause_ns", st->pause_ns);
	gca_show_ring(m, "pause_end", st->pause_end);
	GCA_SHOW(num_gc);
	GCA_SHOW(num_forced_gc);
	seq_printf(m, "gc_cpu_fraction: %llu.%09llu\n",
		   st->gc_cpu_fraction_ppb / 1000000000ULL,
		   st->gc_cpu_fraction_ppb % 1000000000ULL);
	seq_printf(m, "gc_percent: %d\n", st->gc_percent);
	seq_printf(m, "memory_limit: %lld\n", st->memory_limit);
	GCA_SHOW(heap_live);
	GCA_SHOW(heap_marked);
	GCA_SHOW(gc_trigger);
	seq_puts(m, "pause_hist:");
	for (i = 0; i < GCA_PAUSE_HIST_BUCKETS; i++)
		seq_printf(m, " %llu", st->pause_hist[i]);
	seq_putc(m, '\n');
	GCA_SHOW(num_pauses);
	GCA_SHOW(assist_ns);
	GCA_SHOW(checkmark_cycles);
	GCA_SHOW(checkmark_failures);
	seq_printf(m, "debug: %u\n", st->debug);
	GCA_SHOW(mark_term_retries);
	GCA_SHOW(mark_slice_max);
#undef GCA_SHOW
	kfree(st);
	return 0;
}

int gca_proc_add_arena(struct gca_arena *a)
{
	char name[16];

	snprintf(name, sizeof(name), "%u", a->id);
	a->proc = proc_create_single_data(name, 0400, gca_proc_dir,
					  gca_arena_show, a);
	if (!a->proc)
		return -ENOMEM;
	proc_set_user(a->proc, a->uid, current_gid());
	return 0;
}

/* Waits for readers in progress: the arena may be freed afterwards. */
void gca_proc_remove_arena(struct gca_arena *a)
{
	proc_remove(a->proc);
	a->proc = NULL;
}

int gca_proc_init(void)
{
	gca_proc_dir = proc_mkdir("gcarena", NULL);
	if (!gca_proc_dir)
		return -ENOMEM;
	if (!proc_create_single("arenas", 0444, gca_proc_dir,
				gca_arenas_show)) {
		proc_remove(gca_proc_dir);
		return -ENOMEM;
	}
	return 0;
}

void gca_proc_exit(void)
{
	proc_remove(gca_proc_dir);
}
