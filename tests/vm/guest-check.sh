#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Runs INSIDE the test VM (busybox sh), from /gca, where tests/vm/run.sh
# copied gcarena.ko, this script and the selftest binaries:
#
#   sh ./guest-check.sh [TEST_BINARY]...
#
# Loads the module, runs each test binary (300 s limit each), unloads the
# module and checks that it left nothing behind.  Prints one line per
# binary, "gca-guest: PASS name" or "gca-guest: FAIL name (rc=N)", framed
# by "gca-guest: RUN name" so tests/summarize.sh can tell which output
# belongs to which binary, and "gca-result: pass|fail NAME" lines for the
# shell-level checks.  Exits non-zero if anything failed.

set -u

MODULE=gcarena
KO=./gcarena.ko
TEST_TIMEOUT=${GCA_TEST_TIMEOUT:-300}

failed=0

result()
{
	# $1: pass|fail, $2: check name, rest: why
	echo "gca-result: $*"
	[ "$1" = pass ] || failed=1
}

if ! insmod "$KO"; then
	result fail insmod "($KO would not load)"
	# Nothing else can run without the module.
	exit 1
fi
result pass insmod

for bin in "$@"; do
	name=${bin##*/}
	# A bare name means the copy in /gca, not something on $PATH.
	case $bin in */*) ;; *) bin=./$bin ;; esac

	echo "gca-guest: RUN $name"
	if [ ! -x "$bin" ]; then
		echo "gca-guest: FAIL $name (rc=127: not found or not executable)"
		failed=1
		continue
	fi
	# Straight to the console, not through a pipe: stdout stays a tty and
	# line-buffered, so output written just before a crash is not lost.
	timeout "$TEST_TIMEOUT" "$bin" </dev/null 2>&1
	rc=$?
	if [ "$rc" -eq 0 ]; then
		echo "gca-guest: PASS $name"
	else
		# busybox timeout kills with SIGTERM: rc 143.
		[ "$rc" -eq 143 ] && echo "gca-guest: $name: killed after ${TEST_TIMEOUT}s?"
		echo "gca-guest: FAIL $name (rc=$rc)"
		failed=1
	fi
done

if rmmod "$MODULE"; then
	result pass rmmod
else
	result fail rmmod "(module still in use or refused to unload)"
	lsmod
fi

# A clean unload leaves no proc or sysfs entries behind.
leftover=
for path in /proc/$MODULE /sys/module/$MODULE; do
	[ -e "$path" ] && leftover="$leftover $path"
done
if [ -z "$leftover" ]; then
	result pass unload-cleanup
else
	result fail unload-cleanup "(left behind:$leftover)"
fi

if [ "$failed" -ne 0 ]; then
	echo "gca-guest: some checks FAILED"
	exit 1
fi
echo "gca-guest: all checks passed"
exit 0
