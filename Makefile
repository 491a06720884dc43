# SPDX-License-Identifier: GPL-2.0
#
# gcarena: top-level build and test entry points.
#
#   make [all]      install build deps (once), build module, library,
#                   selftests, tools, examples
#   make module     kmod/gcarena.ko, against $(KDIR)
#   make lib        userlib/
#   make selftests  tests/selftests/
#   make unit       host-side unit tests (tests/unit, target "run")
#   make vm-check   selftests and examples in a qemu VM on Debian's
#                   stock kernel (log: build/logs/vm-check.log)
#   make vm-check-debug  the same on a DEBUG kernel (KASAN, lockdep,
#                   kmemleak, ...; scripts/debug-kernel.sh builds it once,
#                   20 to 40 min on two cores), plus the KUnit module and
#                   a kmemleak check (log: build/logs/vm-check-debug.log)
#   make vm-check-rt  the same on Debian's PREEMPT_RT kernel, checkmark on
#                   (log: build/logs/vm-check-rt.log)
#   make module-debug, module-rt  gcarena.ko for those kernels, built in
#                   build/ko-debug/ and build/ko-rt/ (kmod/ is untouched)
#   make demo       the demo program in the VM
#   make soak       gca_torture with checkmark on, over and over, two VMs
#                   at once, under interference, for SOAK_MINUTES (30);
#                   ends "soak: N checkmarked cycles, M misses in K runs"
#                   (tests/vm/soak.sh; logs: build/logs/soak/)
#   make check      every layer, each even if one before it failed, each
#                   logged to build/logs/LAYER.log: deps, build (make all),
#                   unit, fuzz, vm-check, vm-check-debug, vm-check-rt,
#                   install-check, dkms-check, profile-check, bench-smoke;
#                   then tests/summarize.sh over the logs, whose last line
#                   is "N passed, M failed, K skipped".  30 to 45 min on
#                   two cores once the debug kernel is built (README.md).
#                   CI runs this.
#   make deps       install every package the project uses
#   make bench      benchmarks against Boehm GC and glibc malloc, about
#                   10 min on a quiet host: tests/bench/results.tsv,
#                   REPORT.md, plots/ (see tests/bench/bench.mk;
#                   bench-smoke: each once, tiny)
#   make tools, examples, install, install-check, dkms-check,
#                   profile-check: see mk/userland.mk and mk/profile.mk
#   make X-check-run  for each X-check above but check: the same without
#                   what X-check builds first and without a log of its
#                   own, as `make check` runs it (vm-check-debug-run and
#                   vm-check-rt-run still build their module)
#   make clean
#
# Variables: KDIR=<kernel build dir> (default: scripts/kdir.sh), V=1 for
# verbose builds (passed on to kbuild), VM_TIMEOUT=<s> for vm-check,
# VM_TIMEOUT_DEBUG / VM_TIMEOUT_RT for the other two VM layers and
# TEST_TIMEOUT_DEBUG=<s> for each test program on the debug kernel.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := all

# Recursively expanded on purpose: the headers may only be installed by
# the build/.deps step, so look for them only when a recipe needs them.
KDIR ?= $(shell scripts/kdir.sh)

ifeq ($(V),1)
Q :=
else
Q := @
endif

BUILD := build
LOGDIR := $(BUILD)/logs
VM_RUN := tests/vm/run.sh
VM_TIMEOUT ?= 1800
SELFTESTS := tests/selftests

# The debug and RT layers.  Under TCG, KASAN + lockdep + kmemleak make the
# guest several times slower than the stock kernel (see README.md).
VM_TIMEOUT_DEBUG ?= 3600
# Selftests the debug kernel's layer leaves out (reported as skipped):
# pause measurements mean nothing under KASAN, and the stock and RT
# layers run them.
VM_SKIP_DEBUG ?= gca_pauses
# The fuzz layer of `make check`: libFuzzer on the GC core, this long.
FUZZ_SECONDS ?= 60
# The examples run in the VM too, after the selftests (exit 0 = pass).
EXAMPLE_BINS := $(CURDIR)/examples/tree $(CURDIR)/examples/server
# Only these selftests (names, e.g. T="gca_torture gca_pauses"), for the
# vm-check* targets; all when empty.
T ?=
TEST_TIMEOUT_DEBUG ?= 1200
VM_TIMEOUT_RT ?= 1800
KO_DEBUG := $(BUILD)/ko-debug
KO_RT := $(BUILD)/ko-rt

# What `make all` (and so `make check`) needs on a bare Debian machine.
# kmod (modinfo) and xz-utils (linux-source) are used by the VM and
# kselftest-header scripts.
DEPS_BUILD := linux-headers-amd64 linux-source-6.1 busybox-static \
	      qemu-system-x86 linux-image-amd64 cpio clang kmod xz-utils

# Turns a path printed by tests/selftests (relative to it, or to the top,
# or absolute) into one usable from here.  Shell function text, for recipes.
define resolve_sh
resolve() { \
	case $$1 in \
	/*) echo "$$1" ;; \
	*) if [ -e "$(SELFTESTS)/$$1" ]; then echo "$(SELFTESTS)/$$1"; \
	   else echo "$$1"; fi ;; \
	esac; \
}
endef

# Builds the module's sources for another kernel in a copy of its own
# (Kbuild, kmod/, uapi/ synced into DIR, kbuild output kept there), so
# that kmod/'s objects for the stock kernel stay as they are.  Compiler
# and modpost warnings are listed and turn into one failed result;
# only a failed build stops the caller.
#   build_ko NAME KDIR DIR
define build_ko_sh
build_ko() { \
	local name=$$1 kdir=$$2 dir=$$3 log=$$3/build.log nwarn; \
	mkdir -p "$$dir"; \
	rsync -a --delete --exclude='*.o' --exclude='*.ko' --exclude='*.mod' \
		--exclude='*.mod.c' --exclude='.*.cmd' --exclude='*.a' \
		--exclude=modules.order --exclude=Module.symvers \
		--exclude=build.log Kbuild kmod uapi "$$dir"/; \
	echo "$$name: building gcarena.ko against $$kdir in $$dir"; \
	$(MAKE) -C "$$kdir" M="$(CURDIR)/$$dir" modules 2>&1 | tee "$$log"; \
	test -f "$$dir/kmod/gcarena.ko" || { \
		echo "$$name: $$dir/kmod/gcarena.ko was not produced" >&2; \
		exit 1; }; \
	nwarn=$$(grep -ciE '(^|[ :])warning:' "$$log" || true); \
	if [ "$$nwarn" -ne 0 ]; then \
		echo "$$name: $$nwarn warning(s) building for $$kdir:"; \
		grep -iE -A3 '(^|[ :])warning:' "$$log" | sed 's/^/    /'; \
		echo "gca-result: fail $$name ($$nwarn compiler/modpost warnings)"; \
	else \
		echo "gca-result: pass $$name"; \
	fi; \
}
endef

# Runs the selftests in a VM: vm_run LOGNAME KO TIMEOUT [run.sh options]
# -- [guest-check.sh options].  Shell function text, for recipes.
define vm_run_sh
vm_run() { \
	local what=$$1 ko=$$2 tmo=$$3 b p; \
	shift 3; \
	local vmopts=(); \
	while [ $$# -gt 0 ] && [ "$$1" != -- ]; do vmopts+=("$$1"); shift; done; \
	[ $$# -gt 0 ] && shift; \
	if [ ! -f "$$ko" ]; then \
		echo "$$what: $$ko is not built" >&2; \
		return 1; \
	fi; \
	$(resolve_sh); \
	local bins; \
	bins=$$($(MAKE) -s --no-print-directory -C $(SELFTESTS) list); \
	local files=() names=(); \
	for b in $$bins $(EXAMPLE_BINS); do \
		if [ -n "$(T)" ] && ! echo " $(T) " | grep -q " $${b##*/} "; then \
			continue; \
		fi; \
		case " $${vm_skip-} " in \
		*" $${b##*/} "*) \
			echo "gca-result: skip $${b##*/} (not on this kernel: $${vm_skip_why-})"; \
			continue ;; \
		esac; \
		p=$$(resolve "$$b"); \
		if [ ! -x "$$p" ]; then \
			echo "$$what: selftest binary $$p missing" >&2; \
			return 1; \
		fi; \
		files+=(-f "$$p"); names+=("$${p##*/}"); \
	done; \
	$(VM_RUN) -t "$$tmo" -f "$$ko" -f tests/vm/guest-check.sh \
		$${vmopts[@]+"$${vmopts[@]}"} $${files[@]+"$${files[@]}"} \
		-- sh ./guest-check.sh "$$@" $${names[@]+"$${names[@]}"}; \
}
endef

# The stat tool, examples, install and packaging; the pprof check.
include mk/userland.mk mk/profile.mk
# Benchmarks: bench, bench-smoke.
include tests/bench/bench.mk

.PHONY: all deps module lib selftests unit demo check clean help soak \
	module-debug module-rt vm-check vm-check-debug vm-check-rt \
	vm-check-run vm-check-debug-run vm-check-rt-run

all: module lib selftests tools examples

$(BUILD)/.deps: scripts/deps.sh Makefile
	$(Q)mkdir -p $(BUILD)
	$(Q)scripts/deps.sh $(DEPS_BUILD)
	$(Q)touch $@

deps:
	$(Q)scripts/deps.sh
	$(Q)mkdir -p $(BUILD) && touch $(BUILD)/.deps

module: | $(BUILD)/.deps
	$(Q)kdir="$(KDIR)"; \
	if [ -z "$$kdir" ]; then \
		echo "module: no kernel build directory (set KDIR=...)" >&2; \
		exit 1; \
	fi; \
	$(MAKE) -C "$$kdir" M=$(CURDIR) modules; \
	test -f kmod/gcarena.ko || { \
		echo "module: kmod/gcarena.ko was not produced" >&2; exit 1; }

lib: | $(BUILD)/.deps
	$(Q)$(MAKE) -C userlib

# The selftests link against the library.
selftests: lib | $(BUILD)/.deps
	$(Q)$(MAKE) -C $(SELFTESTS)

unit: | $(BUILD)/.deps
	$(Q)$(MAKE) -C tests/unit run

# --- the VM layers -----------------------------------------------------
# Three kernels, one scheme: vm-check, vm-check-debug and vm-check-rt
# build everything (`make all`), then run their -run target with its
# output in build/logs/TARGET.log.  The -run targets do not build `all`:
# `make check` has just built it, or tried to, and a failed build must
# not stop a VM layer from reporting; the debug and RT ones build their
# own module first (the kernel too, if it is not built yet).
# The RT layer also runs with checkmark=1: every cycle of every selftest
# is verified (tests/vm/guest-check.sh --checkmark).

vm-check vm-check-debug vm-check-rt: all
	$(Q)mkdir -p $(LOGDIR)
	$(Q)$(MAKE) --no-print-directory $@-run 2>&1 | tee $(LOGDIR)/$@.log

vm-check-run:
	$(Q)$(vm_run_sh); \
	vm_run vm-check kmod/gcarena.ko $(VM_TIMEOUT)

module-debug: | $(BUILD)/.deps
	$(Q)scripts/deps.sh rsync
	$(Q)$(build_ko_sh); \
	kdir=$$(scripts/debug-kernel.sh); \
	build_ko module-debug "$$kdir" $(KO_DEBUG)

module-rt: | $(BUILD)/.deps
	$(Q)scripts/deps.sh rsync
	$(Q)$(build_ko_sh); \
	kdir=$$(scripts/rt-kernel.sh --kdir); \
	build_ko module-rt "$$kdir" $(KO_RT)

# The debug VM also runs every KUnit module the debug build produced
# (kmod/*_test.ko, e.g. gcarena_test.ko) and checks kmemleak at the end.
vm-check-debug-run: module-debug
	$(Q)$(vm_run_sh); \
	kdir=$$(scripts/debug-kernel.sh --where) || { \
		echo "vm-check-debug: the debug kernel is not built (make module-debug)" >&2; \
		exit 1; }; \
	extra=(); guest=(--timeout $(TEST_TIMEOUT_DEBUG) --kmemleak); \
	vm_skip="$(VM_SKIP_DEBUG)"; \
	vm_skip_why="a timing test; under KASAN its 256 MiB heap takes longer to build than the test may run"; \
	for k in $(KO_DEBUG)/kmod/*_test.ko; do \
		[ -f "$$k" ] || continue; \
		extra+=(-f "$$k"); guest+=(--kunit "$${k##*/}"); \
	done; \
	vm_run vm-check-debug $(KO_DEBUG)/kmod/gcarena.ko $(VM_TIMEOUT_DEBUG) \
		-k "$$kdir/arch/x86/boot/bzImage" $${extra[@]+"$${extra[@]}"} \
		-- "$${guest[@]}"

vm-check-rt-run: module-rt
	$(Q)$(vm_run_sh); \
	image=$$(scripts/rt-kernel.sh --where | sed -n 2p) || image=; \
	if [ -z "$$image" ]; then \
		echo "vm-check-rt: the RT kernel is not installed (make module-rt)" >&2; \
		exit 1; \
	fi; \
	vm_run vm-check-rt $(KO_RT)/kmod/gcarena.ko $(VM_TIMEOUT_RT) -k "$$image" \
		-- --checkmark

demo: all
	$(Q)$(resolve_sh); \
	p=$$(resolve "$$($(MAKE) -s --no-print-directory -C $(SELFTESTS) demo-bin)"); \
	if [ ! -x "$$p" ]; then \
		echo "demo: demo program '$$p' missing" >&2; \
		exit 1; \
	fi; \
	$(VM_RUN) -f kmod/gcarena.ko -f tests/vm/demo.sh -f "$$p" \
		-- sh ./demo.sh "$${p##*/}"

# Outside `make check`: minutes, not seconds.  SOAK_VMS, SOAK_SECS and
# SOAK_SEED are read from the environment (tests/vm/soak.sh).
SOAK_MINUTES ?= 30
soak: all
	$(Q)SOAK_MINUTES=$(SOAK_MINUTES) tests/vm/soak.sh

# Each layer runs even if an earlier one failed, with its output in
# build/logs/LAYER.log.  A layer that exits non-zero adds a
# "gca-result: fail" line to its log, so a broken build or a dead VM is
# counted even when no test got to say so; a test layer that passed
# without printing any result line counts as one pass.
check: $(BUILD)/.deps
	$(Q)mkdir -p $(LOGDIR) && rm -f $(LOGDIR)/*.log
	+$(Q)layer() { \
		local name=$$1 log=$(LOGDIR)/$$1.log counts=$$2 rc=0; \
		shift 2; \
		echo "=== gcarena check: $$name: $$*"; \
		"$$@" 2>&1 | tee -a "$$log" || rc=$$?; \
		if [ $$rc -ne 0 ]; then \
			echo "gca-result: fail $$name (exit status $$rc)" | tee -a "$$log"; \
		elif [ "$$counts" = yes ] && \
		     ! grep -qE '^[# ]*Totals: pass:|gca-result: |^\[  (PASSED|FAILED) +\]' "$$log"; then \
			echo "gca-result: pass $$name" | tee -a "$$log"; \
		fi; \
	}; \
	layer deps no scripts/deps.sh; \
	layer build no $(MAKE) --no-print-directory -k all; \
	layer unit yes $(MAKE) --no-print-directory unit; \
	layer fuzz yes $(MAKE) --no-print-directory -C tests/unit fuzz \
		FUZZ_SECONDS=$(FUZZ_SECONDS); \
	layer vm-check yes $(MAKE) --no-print-directory vm-check-run; \
	layer vm-check-debug yes $(MAKE) --no-print-directory vm-check-debug-run; \
	layer vm-check-rt yes $(MAKE) --no-print-directory vm-check-rt-run; \
	layer install-check yes $(MAKE) --no-print-directory install-check-run; \
	layer dkms-check yes $(MAKE) --no-print-directory dkms-check-run; \
	layer profile-check yes $(MAKE) --no-print-directory profile-check-run; \
	layer bench-smoke yes $(MAKE) --no-print-directory bench-smoke; \
	echo "=== gcarena check: summary"; \
	tests/summarize.sh $(LOGDIR)/*.log

clean:
	$(Q)kdir="$(KDIR)"; \
	if [ -n "$$kdir" ]; then \
		$(MAKE) -C "$$kdir" M=$(CURDIR) clean; \
	else \
		echo "clean: no kernel build dir, module objects left" >&2; \
	fi
	$(Q)for d in userlib $(SELFTESTS) tests/unit tools examples; do \
		$(MAKE) -C $$d clean; \
	done
	$(Q)rm -rf $(BUILD)

help:
	$(Q)sed -n '3,/^$$/s/^# \{0,1\}//p' Makefile
