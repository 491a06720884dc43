# SPDX-License-Identifier: GPL-2.0
#
# Benchmarks (tests/bench), included by the top-level Makefile.
#
#   make bench        every benchmark for gcarena, Boehm GC and glibc
#                     malloc in one VM boot, the GC core's native mark
#                     benchmark and profile on the host, then
#                     tests/bench/results.tsv, REPORT.md and plots/
#                     (tests/bench/run.sh full; about 10 minutes)
#   make bench-smoke  every benchmark once, tiny parameters, in the VM;
#                     no timing judged (a layer of `make check`)
#
# Packages: libgc-dev (Boehm's static libgc.a) for both; gnuplot-nox,
# python3, linux-perf and valgrind for the report.

BENCH_DIR := tests/bench
BENCH_DEPS_SMOKE := libgc-dev python3
BENCH_DEPS := $(BENCH_DEPS_SMOKE) gnuplot-nox linux-perf valgrind

.PHONY: bench bench-smoke bench-build-smoke bench-build-full

bench-build-smoke: module | $(BUILD)/.deps
	$(Q)scripts/deps.sh $(BENCH_DEPS_SMOKE)
	$(Q)$(MAKE) --no-print-directory -C $(BENCH_DIR) vm

# The native benchmark builds the core's sources in userspace; if they do
# not build that way, the report says so and the rest goes on (a failed
# build leaves no mark_native behind: tests/bench/Makefile).
bench-build-full: module | $(BUILD)/.deps
	$(Q)scripts/deps.sh $(BENCH_DEPS)
	$(Q)$(MAKE) --no-print-directory -C $(BENCH_DIR) vm
	$(Q)$(MAKE) --no-print-directory -C $(BENCH_DIR) native || \
		echo "bench: mark_native did not build; the report will lack the native figures" >&2

bench: bench-build-full
	$(Q)$(BENCH_DIR)/run.sh full

bench-smoke: bench-build-smoke
	$(Q)$(BENCH_DIR)/run.sh smoke
