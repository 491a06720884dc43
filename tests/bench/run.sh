#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Usage: tests/bench/run.sh full|smoke
#
# The benchmarks of tests/bench, gcarena side by side with Boehm GC and
# glibc malloc.  Called by the top-level `make bench` (full) and
# `make bench-smoke` (smoke), which first build the module, the library
# and the benchmark binaries (make -C tests/bench) and install the
# packages this needs (scripts/deps.sh).
#
# full:  one VM boot (tests/vm/run.sh, TCG, 2 vCPUs) runs tests/bench/
#        guest.sh's whole plan, backends interleaved; then, on the host,
#        the GC core's native mark benchmark (mark_native), its profile
#        (perf record, callgrind); tests/bench/aggregate.py turns every
#        result into tests/bench/results.tsv and tests/bench/report.py
#        writes tests/bench/REPORT.md and tests/bench/plots/*.png from it,
#        the native profile and the failed runs, kept next to it
#        (tests/bench/native-profile.txt, tests/bench/errors.tsv) so that
#        the report can be rewritten without rerunning (report.py's usage).
#        tests/bench/ANALYSIS.md, what the figures mean, is written by
#        hand: a run does not touch it.
#        When the VM produced no result at all, the committed files are
#        left as they were.  Raw logs stay in build/bench/.  About 10
#        minutes.
# smoke: every benchmark once with tiny parameters in the VM; prints a
#        "gca-result: pass|fail bench-smoke/..." line per program and
#        judges no timing.  A few minutes.
#
# Environment: BENCH_VM_MEM (MiB, default 3072: the 256 MiB pause case
# needs twice its live heap), BENCH_VM_TIMEOUT (s, default 3600),
# BENCH_ROUNDS (default 5), BENCH_NATIVE_RUNS (default 5).

set -eu -o pipefail

mode=${1:-full}
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
src=tests/bench
out=build/bench
vm_mem=${BENCH_VM_MEM:-3072}
vm_timeout=${BENCH_VM_TIMEOUT:-3600}
rounds=${BENCH_ROUNDS:-5}
native_runs=${BENCH_NATIVE_RUNS:-5}

case $mode in
full|smoke) ;;
*) echo "usage: $0 full|smoke" >&2; exit 2 ;;
esac

ko=kmod/gcarena.ko
[ -f "$ko" ] || { echo "bench: $ko is not built (make module)" >&2; exit 1; }
mkdir -p "$out"
files=(-f "$ko" -f "$src/guest.sh")
for b in $(make -s --no-print-directory -C "$src" list); do
	[ -x "$b" ] || { echo "bench: $b is not built (make -C $src)" >&2; exit 1; }
	files+=(-f "$b")
done

# perf in the guest profiles a few runs (guest.sh's profile()); run.sh
# of tests/vm copies the libraries it needs.
perf_bin=$(command -v perf || true)
if [ "$mode" = full ] && [ -n "$perf_bin" ]; then
	files+=(-f "$perf_bin")
fi

if [ "$mode" = smoke ]; then
	rc=0
	tests/vm/run.sh -t 1200 -m "$vm_mem" "${files[@]}" -- \
		sh ./guest.sh smoke 2>&1 | tee "$out/vm-smoke.log" || rc=$?
	[ "$rc" -eq 0 ] || echo "gca-result: fail bench-smoke (VM exit status $rc)"
	exit "$rc"
fi

# ---- full ----------------------------------------------------------------
meta=$out/meta.tsv
: > "$meta"
m() { printf '%s\t%s\n' "$1" "$2" >> "$meta"; }
m date "$(date -u '+%Y-%m-%d %H:%M UTC')"
m host_kernel "$(uname -r)"
m host_cpu_model "$(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -n 1)"
m host_cpus "$(nproc)"
m host_mem_gib "$(awk '/^MemTotal/ { printf "%.1f", $2 / 1048576 }' /proc/meminfo)"
m host_virt "$(systemd-detect-virt 2>/dev/null || echo unknown)"
m qemu "$(qemu-system-x86_64 --version | head -n 1)"
m accel "${GCA_VM_ACCEL:-tcg}"
m vm "2 vCPUs (-smp 2), ${vm_mem} MiB, -cpu max"
m cc "$(cc --version | head -n 1)"
m libgc "$(dpkg-query -W -f='${Version}' libgc-dev 2>/dev/null || echo '?')"
m glibc "$(ldd --version | head -n 1 | sed 's/.* //')"
m git_commit "$(git rev-parse --short HEAD 2>/dev/null || echo '?')"
m git_dirty "$(git status --porcelain -- kmod userlib uapi 2>/dev/null | wc -l) files changed in kmod/ userlib/ uapi/"
m rounds "$rounds"
m load_start "$(cut -d' ' -f1-3 /proc/loadavg)"
m host_vms_running "$(pgrep -c -x qemu-system-x86 || true)"

# Host load while the VM runs (1-minute averages, every 20 s).
: > "$out/load.log"
( while sleep 20; do cut -d' ' -f1 /proc/loadavg; done >> "$out/load.log" ) &
sampler=$!
trap 'kill $sampler 2>/dev/null || true' EXIT

start=$(date +%s)
vmrc=0
tests/vm/run.sh -t "$vm_timeout" -m "$vm_mem" "${files[@]}" -- \
	"BENCH_ROUNDS=$rounds sh ./guest.sh full" 2>&1 | tee "$out/vm-full.log" || vmrc=$?
m vm_seconds "$(( $(date +%s) - start ))"
m vm_exit "$vmrc"
kill "$sampler" 2>/dev/null || true
m load_during "$(sort -n "$out/load.log" | awk '{ v[NR] = $1 } END {
	if (NR) printf "min %s, median %s, max %s (%d samples)", v[1], v[int((NR + 1) / 2)], v[NR], NR }')"
m load_end "$(cut -d' ' -f1-3 /proc/loadavg)"
m host_vms_running_end "$(pgrep -c -x qemu-system-x86 || true)"
grep -a '^M	' "$out/vm-full.log" | cut -f2- | awk '!seen[$0]++' >> "$meta" || true
grep -a '^R	' "$out/vm-full.log" > "$out/raw-vm.tsv" || true
grep -a '^E	' "$out/vm-full.log" > "$out/errors.tsv" || true
grep -a '^P	' "$out/vm-full.log" | cut -f2- > "$out/vm-profile.txt" || true
if [ ! -s "$out/raw-vm.tsv" ]; then
	echo "bench: the VM produced no results (exit status $vmrc, see $out/vm-full.log);" \
		"$src/results.tsv and REPORT.md are left as they were" >&2
	[ "$vmrc" -ne 0 ] && exit "$vmrc"
	exit 1
fi

# ---- native: the GC core in userspace ---------------------------------
: > "$out/raw-native.tsv"
prof=$out/native-profile.txt
: > "$prof"
[ -x "$out/mark_native" ] || native_runs=0
for i in $(seq 1 "$native_runs"); do
	# a failed run must not cost the report (set -e, pipefail)
	if ! "$out/mark_native" live=64 reps=5 | \
	     awk -v id="run=n$i" '/^R\t/ { print $0 "\t" id }' >> "$out/raw-native.tsv"; then
		echo "bench: mark_native run $i failed; the report keeps the other runs" >&2
	fi
done
# The commands profiled, for the report (cmd <TAB> tool <TAB> command).
perf_args="live=64 reps=20 memcpy=0"
cg_args="live=4 reps=4"
# Where the time goes: sampled (hardware counters are not available on
# every host; cpu-clock is) and counted (instructions per function).
if [ "$native_runs" -gt 0 ] && command -v perf >/dev/null && \
   perf record -q -e cpu-clock -o "$out/perf.data" "$out/mark_native" $perf_args \
	> /dev/null 2>"$out/perf.err"; then
	printf 'cmd\tperf\tmark_native %s\n' "$perf_args" >> "$prof"
	perf report -i "$out/perf.data" --stdio --no-children --sort symbol 2>/dev/null | \
		grep -E '^ +[0-9.]+%' | head -n 15 | sed 's/^ */perf\t/' >> "$prof" || true
	perf stat -e task-clock,page-faults "$out/mark_native" $perf_args \
		2>&1 >/dev/null | grep -E 'task-clock|elapsed' | sed 's/^ */perfstat\t/' >> "$prof" || true
fi
if [ "$native_runs" -gt 0 ] && command -v valgrind >/dev/null && \
   command -v callgrind_annotate >/dev/null; then
	printf 'cmd\tcallgrind\tmark_native %s\n' "$cg_args" >> "$prof"
	valgrind -q --tool=callgrind --callgrind-out-file="$out/callgrind.out" \
		"$out/mark_native" $cg_args > "$out/callgrind-run.tsv" 2>/dev/null || true
	callgrind_annotate --inclusive=no "$out/callgrind.out" 2>/dev/null | \
		grep -E '^ *[0-9,]+ .*:' | head -n 15 | sed 's/^ */callgrind\t/' >> "$prof" || true
	grep -a '^R	' "$out/callgrind-run.tsv" | sed 's/^/callgrind_run\t/' >> "$prof" || true
fi

# ---- results and report ------------------------------------------------
# Into build/ first: a failing aggregate.py must not truncate the
# committed results.tsv.
python3 "$src/aggregate.py" "$meta" "$out/raw-vm.tsv" "$out/raw-native.tsv" \
	> "$out/results.tsv"
cp "$out/results.tsv" "$src/results.tsv"
cp "$prof" "$src/native-profile.txt"
cp "$out/errors.tsv" "$src/errors.tsv"
cp "$out/vm-profile.txt" "$src/vm-profile.txt"
python3 "$src/report.py" "$src/results.tsv" "$src/native-profile.txt" "$src/errors.tsv" "$src" \
	"$src/vm-profile.txt"
echo "bench: wrote $src/results.tsv, $src/REPORT.md and $src/plots/ ($(( $(date +%s) - start ))s)"
echo "bench: $src/ANALYSIS.md is written by hand and still reads the run it names: update it"
exit "$vmrc"
