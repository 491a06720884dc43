#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Usage: scripts/rt-kernel.sh [--kdir | --image | --where]
#
# Makes sure Debian's PREEMPT_RT kernel and its headers are installed
# (linux-image-rt-amd64, linux-headers-rt-amd64, through scripts/deps.sh)
# and prints, on two lines, its module build directory and its kernel
# image, e.g.
#
#   /lib/modules/6.1.0-56-rt-amd64/build
#   /boot/vmlinuz-6.1.0-56-rt-amd64
#
#   --kdir    print only the build directory
#   --image   print only the kernel image
#   --where   like the default, but install nothing (exit 1 if missing)
#
# The version is the one the linux-headers-rt-amd64 meta-package points
# at, so that image and headers always match after an upgrade.

set -eu

prog=${0##*/}
top=$(cd "$(dirname "$0")/.." && pwd)

what=both
install=1
case ${1:-} in
'') ;;
--kdir) what=kdir ;;
--image) what=image ;;
--where) install=0 ;;
*) sed -n '3,/^$/s/^# \{0,1\}//p' "$0" >&2; exit 2 ;;
esac

die() { echo "$prog: $*" >&2; exit 1; }

# linux-headers-6.1.0-N-rt-amd64, from the meta-package's dependency.
rt_release()
{
	dpkg-query -W -f='${Depends}' linux-headers-rt-amd64 2>/dev/null |
		grep -o 'linux-headers-[^ ,]*-rt-amd64' | head -n 1 |
		sed 's/^linux-headers-//'
}

if [ "$install" -eq 1 ]; then
	"$top"/scripts/deps.sh linux-image-rt-amd64 linux-headers-rt-amd64 >&2
fi

rel=$(rt_release)
[ -n "$rel" ] || die "linux-headers-rt-amd64 is not installed"
kdir=/lib/modules/$rel/build
image=/boot/vmlinuz-$rel
if [ ! -d "$kdir" ] || [ ! -r "$image" ]; then
	[ "$install" -eq 1 ] || exit 1
	# The meta-packages are there, their dependency is not (half
	# upgraded?): install the versioned packages themselves.
	"$top"/scripts/deps.sh "linux-image-$rel" "linux-headers-$rel" >&2
fi
[ -d "$kdir" ] || die "$kdir missing (linux-headers-$rel)"
[ -r "$image" ] || die "$image missing or unreadable (linux-image-$rel)"
grep -qx 'CONFIG_PREEMPT_RT=y' "$kdir/.config" 2>/dev/null ||
	die "$kdir is not a PREEMPT_RT kernel (no CONFIG_PREEMPT_RT=y in its .config)"

case $what in
kdir) echo "$kdir" ;;
image) echo "$image" ;;
both) echo "$kdir"; echo "$image" ;;
esac
