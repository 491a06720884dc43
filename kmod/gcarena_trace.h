/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Tracepoints of the collector, for perf, trace-cmd and tracefs:
 * events/gcarena/.  A cycle emits, in order: gcarena_cycle_start,
 * gcarena_phase (MARK, then MARK_TERM, then SWEEP), gcarena_mark_end,
 * gcarena_pacer, gcarena_sweep_end, gcarena_scavenge, gcarena_phase (OFF);
 * each thread's handshake emits gcarena_handshake_start/_end.
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM gcarena

#if !defined(_GCARENA_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define _GCARENA_TRACE_H

#include <linux/tracepoint.h>

TRACE_EVENT(gcarena_cycle_start,
	TP_PROTO(u32 arena, u64 cycle, int reason, u64 heap_live),
	TP_ARGS(arena, cycle, reason, heap_live),
	TP_STRUCT__entry(
		__field(u32, arena)
		__field(u64, cycle)
		__field(int, reason)
		__field(u64, heap_live)
	),
	TP_fast_assign(
		__entry->arena = arena;
		__entry->cycle = cycle;
		__entry->reason = reason;
		__entry->heap_live = heap_live;
	),
	TP_printk("arena=%u cycle=%llu reason=%s heap_live=%llu",
		  __entry->arena, __entry->cycle,
		  __print_symbolic(__entry->reason,
				   { 1, "heap_goal" }, { 2, "forced" },
				   { 3, "manual" }, { 4, "memory_limit" }),
		  __entry->heap_live)
);

TRACE_EVENT(gcarena_phase,
	TP_PROTO(u32 arena, u64 cycle, int phase, int stage),
	TP_ARGS(arena, cycle, phase, stage),
	TP_STRUCT__entry(
		__field(u32, arena)
		__field(u64, cycle)
		__field(int, phase)
		__field(int, stage)
	),
	TP_fast_assign(
		__entry->arena = arena;
		__entry->cycle = cycle;
		__entry->phase = phase;
		__entry->stage = stage;
	),
	TP_printk("arena=%u cycle=%llu phase=%s stage=%d",
		  __entry->arena, __entry->cycle,
		  __print_symbolic(__entry->phase,
				   { 0, "OFF" }, { 2, "MARK" },
				   { 3, "MARK_TERM" }, { 4, "SWEEP" }),
		  __entry->stage)
);

DECLARE_EVENT_CLASS(gcarena_handshake,
	TP_PROTO(u32 arena, u32 tid, u64 seq, int phase),
	TP_ARGS(arena, tid, seq, phase),
	TP_STRUCT__entry(
		__field(u32, arena)
		__field(u32, tid)
		__field(u64, seq)
		__field(int, phase)
	),
	TP_fast_assign(
		__entry->arena = arena;
		__entry->tid = tid;
		__entry->seq = seq;
		__entry->phase = phase;
	),
	TP_printk("arena=%u tid=%u seq=%llu phase=%d", __entry->arena,
		  __entry->tid, __entry->seq, __entry->phase)
);

DEFINE_EVENT(gcarena_handshake, gcarena_handshake_start,
	TP_PROTO(u32 arena, u32 tid, u64 seq, int phase),
	TP_ARGS(arena, tid, seq, phase));

DEFINE_EVENT(gcarena_handshake, gcarena_handshake_end,
	TP_PROTO(u32 arena, u32 tid, u64 seq, int phase),
	TP_ARGS(arena, tid, seq, phase));

TRACE_EVENT(gcarena_mark_end,
	TP_PROTO(u32 arena, u64 cycle, u64 bytes, u64 objects, u64 scanned),
	TP_ARGS(arena, cycle, bytes, objects, scanned),
	TP_STRUCT__entry(
		__field(u32, arena)
		__field(u64, cycle)
		__field(u64, bytes)
		__field(u64, objects)
		__field(u64, scanned)
	),
	TP_fast_assign(
		__entry->arena = arena;
		__entry->cycle = cycle;
		__entry->bytes = bytes;
		__entry->objects = objects;
		__entry->scanned = scanned;
	),
	TP_printk("arena=%u cycle=%llu marked_bytes=%llu marked_objects=%llu scanned_bytes=%llu",
		  __entry->arena, __entry->cycle, __entry->bytes,
		  __entry->objects, __entry->scanned)
);

TRACE_EVENT(gcarena_sweep_end,
	TP_PROTO(u32 arena, u64 cycle, u64 bytes, u64 objects, u64 spans),
	TP_ARGS(arena, cycle, bytes, objects, spans),
	TP_STRUCT__entry(
		__field(u32, arena)
		__field(u64, cycle)
		__field(u64, bytes)
		__field(u64, objects)
		__field(u64, spans)
	),
	TP_fast_assign(
		__entry->arena = arena;
		__entry->cycle = cycle;
		__entry->bytes = bytes;
		__entry->objects = objects;
		__entry->spans = spans;
	),
	TP_printk("arena=%u cycle=%llu freed_bytes=%llu freed_objects=%llu freed_spans=%llu",
		  __entry->arena, __entry->cycle, __entry->bytes,
		  __entry->objects, __entry->spans)
);

TRACE_EVENT(gcarena_pacer,
	TP_PROTO(u32 arena, u64 goal, u64 trigger, u64 live, s64 limit),
	TP_ARGS(arena, goal, trigger, live, limit),
	TP_STRUCT__entry(
		__field(u32, arena)
		__field(u64, goal)
		__field(u64, trigger)
		__field(u64, live)
		__field(s64, limit)
	),
	TP_fast_assign(
		__entry->arena = arena;
		__entry->goal = goal;
		__entry->trigger = trigger;
		__entry->live = live;
		__entry->limit = limit;
	),
	TP_printk("arena=%u goal=%llu trigger=%llu live=%llu limit=%lld",
		  __entry->arena, __entry->goal, __entry->trigger,
		  __entry->live, __entry->limit)
);

TRACE_EVENT(gcarena_scavenge,
	TP_PROTO(u32 arena, u64 released, u64 backed),
	TP_ARGS(arena, released, backed),
	TP_STRUCT__entry(
		__field(u32, arena)
		__field(u64, released)
		__field(u64, backed)
	),
	TP_fast_assign(
		__entry->arena = arena;
		__entry->released = released;
		__entry->backed = backed;
	),
	TP_printk("arena=%u released=%llu backed=%llu", __entry->arena,
		  __entry->released, __entry->backed)
);

#endif /* _GCARENA_TRACE_H */

/* out of tree: define_trace.h finds this header through -I$(src) */
#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE gcarena_trace
#include <trace/define_trace.h>
