#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Usage: scripts/debug-kernel.sh [--where | --rebuild]
#
# Builds, once, the DEBUG kernel the module is also tested on (KASAN,
# lockdep, kmemleak, DEBUG_PAGEALLOC, SLUB_DEBUG_ON, KUnit, ...; see
# tests/vm/debug.config) from Debian's linux-source-6.1, and prints its
# build directory: the O= tree, which is both the KDIR to build modules
# against (make -C DIR M=...) and where the kernel image is
# (DIR/arch/x86/boot/bzImage).  Only the path goes to stdout.
#
#   --where    print the directory if the kernel is built, else exit 1;
#              never builds or installs anything
#   --rebuild  throw this configuration's build away and build it again
#
# Cache: $GCA_CACHE_DIR/debug-kernel (default /var/cache/gcarena; outside
# the work tree so that `make clean` and fresh checkouts keep it):
#
#   src-VERSION/          linux-source-6.1 VERSION, unpacked (shared)
#   VERSION-HASH/obj/     the O= build tree (.config, bzImage, modules_prepare)
#   VERSION-HASH/.complete  written last: an entry without it is rebuilt
#   VERSION-HASH/build.log  the build's output
#
# VERSION is the linux-source-6.1 package version, HASH the first 12 hex
# digits of the sha256 of tests/vm/debug.config's settings (its comments
# and blank lines left out, "# CONFIG_X is not set" kept), the compiler's
# version line and this script's RECIPE number: changing an option,
# upgrading gcc or changing how the kernel is built gives a new entry;
# rewording a comment does not.  Entries of
# other source versions are deleted once a build succeeds (their source
# is gone from /usr/src anyway).  `rm -rf /var/cache/gcarena/debug-kernel`
# reclaims all of it.
#
# Concurrent runs serialize on a lock; the loser waits and then finds
# the kernel built.  Build time on 2 cores: 20 to 40 minutes (nice 10).

set -eu

prog=${0##*/}
top=$(cd "$(dirname "$0")/.." && pwd)
fragment=$top/tests/vm/debug.config
tarball=${LINUX_SOURCE_TARBALL:-/usr/src/linux-source-6.1.tar.xz}
# Bump when the build steps below change in a way that changes the result.
RECIPE=1

msg() { echo "$prog: $*" >&2; }
die() { msg "$*"; exit 1; }

mode=build
case ${1:-} in
'') ;;
--where) mode=where ;;
--rebuild) mode=rebuild ;;
*) sed -n '3,/^$/s/^# \{0,1\}//p' "$0" >&2; exit 2 ;;
esac

[ -r "$fragment" ] || die "$fragment missing"

cache=${GCA_CACHE_DIR:-/var/cache/gcarena}/debug-kernel

srcver()
{
	dpkg-query -W -f='${Version}' linux-source-6.1 2>/dev/null || true
}

# The lines of the fragment that change the kernel.
fragment_settings()
{
	grep -E -v '^[[:space:]]*(#|$)' "$fragment"
	grep -E '^# CONFIG_[A-Za-z0-9_]+ is not set$' "$fragment"
}

# The cache entry for this fragment, compiler and source version.
entry_for()
{
	local ver=$1 hash
	hash=$( { fragment_settings; echo "recipe=$RECIPE";
		  gcc --version 2>/dev/null | head -n 1; } |
		sha256sum | cut -c1-12)
	echo "$cache/$ver-$hash"
}

# Fast path: built already.  .complete is written last, so it is safe to
# look without the lock.
ver=$(srcver)
if [ -n "$ver" ]; then
	entry=$(entry_for "$ver")
	if [ "$mode" != rebuild ] && [ -e "$entry/.complete" ]; then
		echo "$entry/obj"
		exit 0
	fi
fi
[ "$mode" = where ] && exit 1

"$top"/scripts/deps.sh linux-source-6.1 gcc make libc6-dev bc bison flex \
	libelf-dev libssl-dev cpio xz-utils kmod >&2
ver=$(srcver)
[ -n "$ver" ] || die "linux-source-6.1 is not installed"
[ -r "$tarball" ] || die "$tarball missing (reinstall linux-source-6.1)"
entry=$(entry_for "$ver")

mkdir -p "$cache"
exec 9>"$cache/.lock"
if ! flock -n 9; then
	msg "another build holds $cache/.lock; waiting for it"
	flock 9
fi

if [ "$mode" = rebuild ]; then
	msg "--rebuild: removing $entry"
	rm -rf "$entry"
elif [ -e "$entry/.complete" ]; then
	# Built by whoever held the lock before us.
	echo "$entry/obj"
	exit 0
fi

start=$(date +%s)
src=$cache/src-$ver
if [ ! -e "$src/.unpacked" ]; then
	msg "unpacking $tarball into $src"
	rm -rf "$src" "$src.tmp"
	mkdir -p "$src.tmp"
	tar -xJf "$tarball" --strip-components=1 -C "$src.tmp"
	touch "$src.tmp/.unpacked"
	mv "$src.tmp" "$src"
fi

# An entry without .complete is what an interrupted build left: start
# over rather than trust half-written objects.
rm -rf "$entry"
obj=$entry/obj
mkdir -p "$obj"
cp "$fragment" "$entry/debug.config"
log=$entry/build.log
: > "$log"

kmake()
{
	nice -n 10 make -C "$src" O="$obj" ARCH=x86_64 "$@" >>"$log" 2>&1
}

fail()
{
	msg "FAILED: $*; last lines of $log:"
	tail -n 40 "$log" | sed 's/^/    /' >&2
	exit 1
}

msg "configuring: allnoconfig + $fragment, olddefconfig"
# allnoconfig with the fragment as KCONFIG_ALLCONFIG is what
# scripts/kconfig/merge_config.sh -n does: everything the fragment does
# not ask for is off.  olddefconfig then settles the dependencies.
kmake KCONFIG_ALLCONFIG="$entry/debug.config" allnoconfig ||
	fail "make allnoconfig"
kmake olddefconfig || fail "make olddefconfig"

# Every option the fragment sets must be in .config with that value
# (Kconfig silently drops what it cannot satisfy).
bad=$(awk '
	FNR == NR {
		if (match($0, /^CONFIG_[A-Za-z0-9_]+=/)) {
			want[substr($0, 1, RLENGTH - 1)] = substr($0, RLENGTH + 1)
		} else if ($0 ~ /^# CONFIG_[A-Za-z0-9_]+ is not set$/) {
			want[$2] = "n"
		}
		next
	}
	match($0, /^CONFIG_[A-Za-z0-9_]+=/) {
		have[substr($0, 1, RLENGTH - 1)] = substr($0, RLENGTH + 1)
	}
	END {
		for (k in want) {
			h = (k in have) ? have[k] : "n"
			if (h != want[k])
				printf "    %s: requested %s, got %s\n", k, want[k], h
		}
	}' "$entry/debug.config" "$obj/.config" | sort)
if [ -n "$bad" ]; then
	msg "FAILED: options of $fragment that Kconfig did not take:"
	echo "$bad" >&2
	exit 1
fi

jobs=$(nproc)
msg "building $(make -s -C "$src" O="$obj" ARCH=x86_64 kernelrelease 2>/dev/null) in $obj (make -j$jobs, nice 10, log $log)"
kmake -j"$jobs" all || fail "kernel build"
kmake -j"$jobs" modules_prepare || fail "make modules_prepare"
[ -f "$obj/arch/x86/boot/bzImage" ] || fail "no bzImage"
[ -f "$obj/Module.symvers" ] || fail "no Module.symvers"

touch "$entry/.complete"
end=$(date +%s)
msg "built $obj/arch/x86/boot/bzImage in $((end - start))s"

# Other source versions cannot be rebuilt any more: drop them.
for d in "$cache"/src-* "$cache"/*-*; do
	[ -d "$d" ] || continue
	case $d in
	"$src"|"$cache/$ver"-*) ;;
	*) msg "removing stale $d"; rm -rf "$d" ;;
	esac
done

echo "$obj"
