/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The kernel's kselftest harness, as the unit tests include it.  The 6.1
 * harness has unused parameters (TEST()'s variant, the timeout handler's
 * ucontext) that -Wextra reports at every TEST(): silence that warning
 * for the test programs only; the core is built as its own translation
 * units with every warning on.
 */
#ifndef _GCA_HARNESS_H
#define _GCA_HARNESS_H

#pragma GCC diagnostic ignored "-Wunused-parameter"
#include "kselftest_harness.h"

#endif /* _GCA_HARNESS_H */
