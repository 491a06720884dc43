#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Usage: scripts/deps.sh [PACKAGE]...
#
# Installs the Debian packages gcarena needs to build and test (the given
# ones, or the project's full list), but only those that are missing, so
# it is cheap to run every time and works offline once all is installed.
# CI machines start bare: `make check` reaches this through build/.deps.

set -eu

default_pkgs=(
	qemu-system-x86		# the test VM (the module cannot load on the host)
	linux-image-amd64	# the kernel the VM boots
	linux-headers-amd64	# ... and its headers, to build the module for it
	busybox-static		# the VM's whole userland
	linux-source-6.1	# kselftest_harness.h for the selftests
	cpio			# to pack the VM's initramfs
	kmod			# modinfo: which kernel the module was built for
	xz-utils		# to unpack linux-source
	clang			# static analysis / alternative compiler
	golang-go		# make profile-check: go tool pprof reads our profiles
	dkms			# make dkms-check
	pkgconf			# make install-check: pkg-config gcarena
	groff-base		# make install-check: the manual pages format cleanly
)

if [ $# -gt 0 ]; then
	pkgs=("$@")
else
	pkgs=("${default_pkgs[@]}")
fi

missing=()
for p in "${pkgs[@]}"; do
	status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null) || status=
	case $status in
	*" installed") ;;
	*) missing+=("$p") ;;
	esac
done

if [ ${#missing[@]} -eq 0 ]; then
	echo "deps: all ${#pkgs[@]} packages present: ${pkgs[*]}"
	exit 0
fi

sudo=
if [ "$(id -u)" -ne 0 ]; then
	command -v sudo >/dev/null || {
		echo "deps: need root (or sudo) to install: ${missing[*]}" >&2
		exit 1
	}
	sudo=sudo
fi

# Wait for a concurrent apt/dpkg (e.g. unattended-upgrades) rather than
# failing at once on its lock.
apt_opts=(-o DPkg::Lock::Timeout=600)

echo "deps: installing missing packages: ${missing[*]}"
echo "deps: apt-get update"
$sudo apt-get "${apt_opts[@]}" update -q
echo "deps: apt-get install ${missing[*]}"
$sudo env DEBIAN_FRONTEND=noninteractive \
	apt-get "${apt_opts[@]}" install -y -q --no-install-recommends "${missing[@]}"
echo "deps: done"
