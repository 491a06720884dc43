#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Runs INSIDE the test VM (busybox sh), from /gca:
#
#   sh ./demo.sh [DEMO_PROGRAM]       (default: gcarena-demo)
#
# Loads gcarena, shows its parameters and arena table, runs the demo
# program (which prints the /proc files itself at the interesting
# moments) and unloads the module again.

set -eu

demo=${1:-gcarena-demo}
case $demo in */*) ;; *) demo=./$demo ;; esac

insmod ./gcarena.ko
echo "=== /sys/module/gcarena/parameters"
for p in /sys/module/gcarena/parameters/*; do
	[ -e "$p" ] || continue
	echo "${p##*/} = $(cat "$p")"
done
echo "=== /proc/gcarena/arenas"
cat /proc/gcarena/arenas || true

echo "=== $demo"
rc=0
"$demo" </dev/null 2>&1 || rc=$?

echo "=== rmmod gcarena"
rmmod gcarena
exit "$rc"
