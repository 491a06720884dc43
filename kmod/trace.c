// SPDX-License-Identifier: GPL-2.0
/* The collector's tracepoints (gca_trace.h) are instantiated here. */
#include "gca_arena.h"
#define CREATE_TRACE_POINTS
#include "gca_trace.h"
