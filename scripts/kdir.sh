#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Usage: scripts/kdir.sh
#
# Prints the kernel build directory to build gcarena.ko against:
#   1. $KDIR, if set;
#   2. the running kernel's /lib/modules/$(uname -r)/build, if present;
#   3. else the newest /lib/modules/*/build that is not an -rt kernel.
# On our machines (3) is the usual case: the host runs a kernel without
# headers, and the module is tested in a VM booting Debian's stock kernel,
# the one linux-headers-amd64 provides headers for.

set -eu

if [ -n "${KDIR:-}" ]; then
	echo "$KDIR"
	exit 0
fi

running=/lib/modules/$(uname -r)/build
if [ -d "$running" ]; then
	echo "$running"
	exit 0
fi

newest=
for d in /lib/modules/*/build; do
	# -d follows the symlink: skip builds whose headers were removed.
	[ -d "$d" ] || continue
	v=${d#/lib/modules/}
	v=${v%/build}
	case $v in *-rt-*|*-rt) continue ;; esac
	echo "$v"
done | sort -V | tail -n 1 | {
	read -r newest || true
	if [ -z "$newest" ]; then
		echo "kdir: no kernel build directory found: set KDIR, or install linux-headers-amd64 (scripts/deps.sh)" >&2
		exit 1
	fi
	echo "/lib/modules/$newest/build"
}
