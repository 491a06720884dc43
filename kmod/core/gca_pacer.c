// SPDX-License-Identifier: GPL-2.0
/*
 * Pacer arithmetic, after Go's src/runtime/mgcpacer.go
 * (gcControllerState.commit, heapGoal, memoryLimitHeapGoal).
 *
 * The GOGC goal.  With GOGC = gc_percent, a cycle should start when the
 * heap has grown by gc_percent% of what the last cycle found live, where
 * "live" also counts the roots that cycle scanned (Go 1.18 added stacks
 * and globals to the base, so that a program with big roots and a small
 * heap does not collect all the time):
 *
 *	goal = marked + (marked + roots) * gc_percent / 100
 *
 * and never below the minimum heap, scaled by GOGC as Go scales
 * heapMinimum (defaultHeapMinimum * GOGC / 100), so a small program does
 * not collect at every few kilobytes:
 *
 *	goal = max(goal, GCA_HEAP_MINIMUM * gc_percent / 100)
 *
 * gc_percent < 0 (GOGC=off) gives no goal: U64_MAX.  gc_percent = 0 gives
 * goal = marked, a cycle as soon as anything is allocated.
 *
 * The memory limit.  The limit bounds all the memory the arena costs,
 * while the goal counts heap objects only, so the limit goal subtracts
 * what is not heap objects and is not expected to go away (Go's
 * nonHeapMemory: metadata, fragmentation, unreleased free pages - the
 * caller passes it as overhead), then keeps GCA_LIMIT_HEADROOM_PCT (3%,
 * Go's memoryLimitHeapGoalHeadroomPercent) in reserve for pacing error:
 *
 *	lgoal = (limit - overhead) - (limit - overhead) / 100 * 3
 *
 * A goal below the live heap makes no sense (the next cycle could not
 * reach it), so lgoal is at least marked, and the goal is
 * min(goal, lgoal).  Go also keeps a minimum headroom of 1 MiB
 * (memoryLimitMinHeapGoalHeadroom); we keep only the percentage, which
 * the interface defines.  memory_limit <= 0 or GCA_MEMORY_LIMIT_NONE
 * (math.MaxInt64, Go's "no limit") means no limit.
 *
 * Everything saturates at U64_MAX instead of wrapping: the inputs come
 * from a user's knobs and a user-influenced heap, and the result is the
 * exact value whenever that fits.  No 128-bit arithmetic: x * p / 100 is
 * computed as (x / 100) * p + (x % 100) * p / 100 when the product
 * overflows (see gca_sum_pct()).
 */
#include "gca_core.h"

/*
 * (a + b) * pct / 100 with a + b possibly above U64_MAX, exact, saturating
 * at U64_MAX; pct <= INT_MAX.  With a = 100 qa + ra and b = 100 qb + rb:
 * (a + b) * pct / 100 = (qa + qb) * pct + (ra + rb) * pct / 100, where
 * qa + qb < 2^59 and (ra + rb) * pct < 2^39 cannot overflow.
 */
static u64 gca_sum_pct(u64 a, u64 b, u64 pct)
{
	u64 r;

	if (!check_add_overflow(a, b, &r) && !check_mul_overflow(r, pct, &r))
		return r / 100;
	if (check_mul_overflow(a / 100 + b / 100, pct, &r) ||
	    check_add_overflow(r, (a % 100 + b % 100) * pct / 100, &r))
		return U64_MAX;
	return r;
}

static u64 gca_add_sat(u64 a, u64 b)
{
	u64 r;

	if (check_add_overflow(a, b, &r))
		return U64_MAX;
	return r;
}

u64 gca_pacer_goal(u64 marked, u64 roots, int gc_percent, s64 memory_limit,
		   u64 overhead)
{
	u64 goal = U64_MAX, lgoal;

	if (gc_percent >= 0) {
		goal = gca_add_sat(marked,
				   gca_sum_pct(marked, roots, gc_percent));
		goal = max(goal, gca_sum_pct(GCA_HEAP_MINIMUM, 0, gc_percent));
	}

	if (memory_limit > 0 && memory_limit != GCA_MEMORY_LIMIT_NONE) {
		lgoal = (u64)memory_limit > overhead ?
			(u64)memory_limit - overhead : 0;
		lgoal -= lgoal / 100 * GCA_LIMIT_HEADROOM_PCT;
		lgoal = max(lgoal, marked);
		goal = min(goal, lgoal);
	}
	return goal;
}

/*
 * The trigger: marking is concurrent, so a cycle starts before the heap
 * reaches its goal and the heap grows into the runway while the marker
 * works.  Go 1.21 (mgcpacer.go, trigger()) places the trigger between 0.7
 * and 0.95 of the runway (goal - marked) from the scan rate it measured;
 * we take 7/8 of it, inside those bounds.  A heap that outruns the marker
 * anyway is held back by mark assists (kmod/cycle.c).
 */
u64 gca_pacer_trigger(u64 goal, u64 marked)
{
	u64 runway;

	if (goal == U64_MAX || goal <= marked)
		return goal;
	runway = goal - marked;
	return marked + runway - runway / 8;
}
