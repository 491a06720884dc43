#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Usage: scripts/kselftest-headers.sh OUTDIR
#
# Puts kselftest_harness.h and kselftest.h into OUTDIR, taken from the
# linux-source-6.1 package's tarball ($LINUX_SOURCE_TARBALL overrides).
# The tarball is ~140 MB of xz, so this only unpacks when a header is
# missing or older than the tarball.

set -eu

if [ $# -ne 1 ]; then
	echo "usage: ${0##*/} OUTDIR" >&2
	exit 2
fi
out=$1
tarball=${LINUX_SOURCE_TARBALL:-/usr/src/linux-source-6.1.tar.xz}
prefix=linux-source-6.1/tools/testing/selftests
headers=(kselftest_harness.h kselftest.h)

if [ ! -r "$tarball" ]; then
	echo "kselftest-headers: $tarball not found: install linux-source-6.1 (scripts/deps.sh)" >&2
	exit 1
fi

stale=0
for h in "${headers[@]}"; do
	if [ ! -e "$out/$h" ] || [ "$tarball" -nt "$out/$h" ]; then
		stale=1
	fi
done
[ "$stale" -eq 1 ] || exit 0

mkdir -p "$out"
echo "kselftest-headers: extracting ${headers[*]} from $tarball"
# -m: stamp the files with the time of extraction, so that they are newer
# than the tarball and the check above holds next time.
tar -xJmf "$tarball" --strip-components=4 -C "$out" \
	"${headers[@]/#/$prefix/}"
