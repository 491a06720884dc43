// SPDX-License-Identifier: GPL-2.0
/* State of the userspace kernel-API shim (gca_env_user.h). */
#include "gca_env_user.h"

struct gca_user_env gca_uenv = {
	.fail_after = -1,
	.nowait_fail_after = -1,
};
