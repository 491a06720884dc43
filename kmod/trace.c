// SPDX-License-Identifier: GPL-2.0
/* The collector's tracepoints (gcarena_trace.h) are instantiated here. */
#include "gcarena_private.h"
#define CREATE_TRACE_POINTS
#include "gcarena_trace.h"
