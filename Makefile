# SPDX-License-Identifier: GPL-2.0
#
# gcarena: top-level build and test entry points.
#
#   make [all]      install build deps (once), build module, library, selftests
#   make module     kmod/gcarena.ko, against $(KDIR)
#   make lib        userlib/
#   make selftests  tests/selftests/
#   make unit       host-side unit tests (tests/unit, target "run")
#   make vm-check   selftests in a qemu VM on Debian's stock kernel
#                   (log: build/logs/vm-check.log)
#   make demo       the demo program in the VM
#   make check      deps, all, unit, vm-check, every layer even if one fails,
#                   then tests/summarize.sh over build/logs/*.log; its
#                   last line is "N passed, M failed, K skipped".  CI runs this.
#   make deps       install every package the project uses
#   make clean
#
# Variables: KDIR=<kernel build dir> (default: scripts/kdir.sh), V=1 for
# verbose builds (passed on to kbuild), VM_TIMEOUT=<s> for vm-check.
#
# Subdirectories that do not exist yet are skipped with a
# "gca-result: skip" line rather than failing the build.

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

.PHONY: all deps module lib selftests unit vm-check vm-run demo check clean help

all: module lib selftests

$(BUILD)/.deps: scripts/deps.sh Makefile
	$(Q)mkdir -p $(BUILD)
	$(Q)scripts/deps.sh $(DEPS_BUILD)
	$(Q)touch $@

deps:
	$(Q)scripts/deps.sh
	$(Q)mkdir -p $(BUILD) && touch $(BUILD)/.deps

module: | $(BUILD)/.deps
	$(Q)if [ ! -f kmod/Kbuild ] && [ ! -f kmod/Makefile ]; then \
		echo "gca-result: skip module (kmod/Kbuild not present yet)"; \
		exit 0; \
	fi; \
	kdir="$(KDIR)"; \
	if [ -z "$$kdir" ]; then \
		echo "module: no kernel build directory (set KDIR=...)" >&2; \
		exit 1; \
	fi; \
	$(MAKE) -C "$$kdir" M=$(CURDIR) modules; \
	test -f kmod/gcarena.ko || { \
		echo "module: kmod/gcarena.ko was not produced" >&2; exit 1; }

lib: | $(BUILD)/.deps
	$(Q)if [ ! -f userlib/Makefile ]; then \
		echo "gca-result: skip lib (userlib/Makefile not present yet)"; \
		exit 0; \
	fi; \
	$(MAKE) -C userlib

# The selftests link against the library.
selftests: lib | $(BUILD)/.deps
	$(Q)if [ ! -f $(SELFTESTS)/Makefile ]; then \
		echo "gca-result: skip selftests ($(SELFTESTS)/Makefile not present yet)"; \
		exit 0; \
	fi; \
	$(MAKE) -C $(SELFTESTS)

unit: | $(BUILD)/.deps
	$(Q)if [ ! -f tests/unit/Makefile ]; then \
		echo "gca-result: skip unit (tests/unit/Makefile not present yet)"; \
		exit 0; \
	fi; \
	$(MAKE) -C tests/unit run

vm-check: all
	$(Q)mkdir -p $(LOGDIR)
	$(Q)$(MAKE) --no-print-directory vm-run 2>&1 | tee $(LOGDIR)/vm-check.log

# vm-check without rebuilding first: `make check` has just built, or
# tried to, and a failed build must not stop the VM layer from reporting.
vm-run:
	$(Q)if [ ! -f kmod/Kbuild ] && [ ! -f kmod/Makefile ]; then \
		echo "gca-result: skip vm-check (kmod/ not present yet)"; \
		exit 0; \
	fi; \
	if [ ! -f kmod/gcarena.ko ]; then \
		echo "vm-check: kmod/gcarena.ko is not built (make module)" >&2; \
		exit 1; \
	fi; \
	$(resolve_sh); \
	bins=; \
	if [ -f $(SELFTESTS)/Makefile ]; then \
		bins=$$($(MAKE) -s --no-print-directory -C $(SELFTESTS) list); \
	else \
		echo "gca-result: skip selftests ($(SELFTESTS)/Makefile not present yet)"; \
	fi; \
	files=(); names=(); \
	for b in $$bins; do \
		p=$$(resolve "$$b"); \
		if [ ! -x "$$p" ]; then \
			echo "vm-check: selftest binary $$p missing" >&2; \
			exit 1; \
		fi; \
		files+=(-f "$$p"); names+=("$${p##*/}"); \
	done; \
	$(VM_RUN) -t $(VM_TIMEOUT) -f kmod/gcarena.ko -f tests/vm/guest-check.sh \
		$${files[@]+"$${files[@]}"} \
		-- sh ./guest-check.sh $${names[@]+"$${names[@]}"}

demo: all
	$(Q)$(resolve_sh); \
	p=$$(resolve "$$($(MAKE) -s --no-print-directory -C $(SELFTESTS) demo-bin)"); \
	if [ ! -x "$$p" ]; then \
		echo "demo: demo program '$$p' missing" >&2; \
		exit 1; \
	fi; \
	$(VM_RUN) -f kmod/gcarena.ko -f tests/vm/demo.sh -f "$$p" \
		-- sh ./demo.sh "$${p##*/}"

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
	layer vm-check yes $(MAKE) --no-print-directory vm-run; \
	echo "=== gcarena check: summary"; \
	tests/summarize.sh $(LOGDIR)/*.log

clean:
	$(Q)if [ -f kmod/Kbuild ] || [ -f kmod/Makefile ]; then \
		kdir="$(KDIR)"; \
		if [ -n "$$kdir" ]; then \
			$(MAKE) -C "$$kdir" M=$(CURDIR) clean; \
		else \
			echo "clean: no kernel build dir, module objects left" >&2; \
		fi; \
	fi
	$(Q)for d in userlib $(SELFTESTS) tests/unit; do \
		if [ -f $$d/Makefile ]; then $(MAKE) -C $$d clean; fi; \
	done
	$(Q)rm -rf $(BUILD)

help:
	$(Q)sed -n '3,/^$$/s/^# \{0,1\}//p' Makefile
