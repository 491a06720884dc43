#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# `make soak`: gca_torture with checkmark on, over and over, under
# deliberate interference, until SOAK_MINUTES have passed; outside
# `make check`.
#
#   tests/vm/soak.sh        (from the top of the tree, after `make all`)
#
# Each round boots SOAK_VMS VMs at once on this host (tests/vm/run.sh;
# two VMs fighting for the host's CPUs is part of the interference), each
# running tests/vm/guest-soak.sh: the module loaded checkmark=1, a CPU
# hog in the guest, and gca_torture once per variant, SOAK_SECS seconds
# each: the interference variant with 1, 2, 4, 8 and 16 threads (objects
# handed between threads, threads parking and unparking, exiting and
# registering, an in-process hog) and, in every other VM, the plain
# threads_1..8 variants.  Seeds differ per run (SOAK_SEED, default the
# clock, is the first) and are printed.  No round starts after
# SOAK_MINUTES; the last one runs to its end.
#
# Output: one line per program run, then
#
#   soak: N checkmarked cycles, M misses in K runs
#
# N sums checkmark_cycles over every run of every VM, M the objects
# checkmark found the concurrent mark had missed (checkmark_failures, or
# the kernel log's count when that is higher or the program printed
# none), K the program runs.  Logs: build/logs/soak/DATE/: runs.tsv (one
# row per run), and the whole console log (test output and kernel log)
# of every VM in which a run missed an object or failed; the others'
# are deleted.  Exit status 1 if anything missed or failed.
#
# Environment: SOAK_MINUTES (30), SOAK_VMS (2), SOAK_SECS (20),
# SOAK_SEED, SOAK_KO (kmod/gcarena.ko), SOAK_KERNEL (a kernel image for
# tests/vm/run.sh -k, e.g. the RT one, with SOAK_KO built for it),
# SOAK_TORTURE_ENV (assignments added to gca_torture's environment, e.g.
# GCA_TORTURE_BREAK_BARRIER=1 to see that a miss is caught and kept).

set -u

minutes=${SOAK_MINUTES:-30}
nvm=${SOAK_VMS:-2}
secs=${SOAK_SECS:-20}
seed=${SOAK_SEED:-$(date +%s)}
ko=${SOAK_KO:-kmod/gcarena.ko}
kernel=${SOAK_KERNEL:-}
tenv=${SOAK_TORTURE_ENV:-}
torture=tests/selftests/gca_torture

for v in "$minutes" "$nvm" "$secs" "$seed"; do
	case $v in ''|*[!0-9]*)
		echo "soak: SOAK_MINUTES, SOAK_VMS, SOAK_SECS and SOAK_SEED are numbers" >&2
		exit 2 ;;
	esac
done
for f in "$ko" "$torture" tests/vm/guest-soak.sh; do
	[ -e "$f" ] || { echo "soak: $f missing (make all)" >&2; exit 2; }
done

dir=build/logs/soak/$(date +%Y%m%d-%H%M%S)
mkdir -p "$dir"
tsv=$dir/runs.tsv
printf 'round\tvm\titem\tseed\trc\tcycles\tfailures\tlogged\n' > "$tsv"

interference=(i1 i2 i4 i8 i16)
plain=(p1 p2 p4 p8)
kopt=()
[ -n "$kernel" ] && kopt=(-k "$kernel")

cycles=0 misses=0 runs=0 failed=0 vmfailed=0 round=0
end=$(($(date +%s) + minutes * 60))
echo "soak: until $(date -d @"$end" +%T), $nvm VMs at a time, ${secs}s per run, first seed $seed; logs in $dir"

while [ "$(date +%s)" -lt "$end" ]; do
	round=$((round + 1))
	pids=() nitems=()
	for v in $(seq 1 "$nvm"); do
		items=("${interference[@]}")
		[ $(((round + v) % 2)) -eq 0 ] && items+=("${plain[@]}")
		nitems+=("${#items[@]}")
		# Boot, then per run the time, the two final cycles and the
		# checks; TCG on a shared host is slow, so with room.
		tmo=$((300 + ${#items[@]} * (secs * 5 + 240)))
		tests/vm/run.sh -t "$tmo" ${kopt[@]+"${kopt[@]}"} -f "$ko" \
			-f "$torture" -f tests/vm/guest-soak.sh -- \
			sh ./guest-soak.sh -e "$tenv" "$secs" "$((seed + 100 * round + 10 * v))" \
			"${items[@]}" > "$dir/round$round-vm$v.log" 2>&1 &
		pids+=($!)
	done
	for v in $(seq 1 "$nvm"); do
		log=$dir/round$round-vm$v.log
		rc=0
		wait "${pids[$((v - 1))]}" || rc=$?
		keep=0 got=0
		if [ "$rc" -ne 0 ]; then
			echo "soak: round $round vm $v: the VM failed (exit $rc)"
			vmfailed=$((vmfailed + 1))
			keep=1
		fi
		while read -r line; do
			# gca-soak: RESULT item= seed= rc= cycles= failures= logged=
			# shellcheck disable=SC2086 # split into its fields
			set -- $line
			item=${3#item=} s=${4#seed=} prc=${5#rc=}
			c=${6#cycles=} f=${7#failures=} l=${8#logged=}
			runs=$((runs + 1)) got=$((got + 1))
			printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$v" \
				"$item" "$s" "$prc" "$c" "$f" "$l" >> "$tsv"
			m=$f
			[ "$m" -lt "$l" ] && m=$l	# also when f is -1
			[ "$c" -gt 0 ] && cycles=$((cycles + c))
			misses=$((misses + m))
			status=ok
			if [ "$m" -gt 0 ]; then
				status="MISSED $m"
				keep=1
			fi
			if [ "$prc" -ne 0 ] || [ "$c" -lt 0 ]; then
				status="$status, FAILED (rc=$prc)"
				failed=$((failed + 1))
				keep=1
			fi
			echo "soak: round $round vm $v $item seed $s: $c cycles, $m missed: $status"
		done < <(grep '^gca-soak: RESULT ' "$log")
		# Runs that never reported (the VM died under them) count too.
		want=${nitems[$((v - 1))]}
		if [ "$got" -lt "$want" ]; then
			echo "soak: round $round vm $v: $((want - got)) of $want runs did not report"
			runs=$((runs + want - got))
			failed=$((failed + want - got))
			keep=1
		fi
		if [ "$keep" -eq 0 ]; then
			rm -f "$log"
		else
			echo "soak: kept $log"
		fi
	done
done

[ "$failed" -eq 0 ] || echo "soak: $failed runs failed (see the kept logs)"
[ "$vmfailed" -eq 0 ] || echo "soak: $vmfailed VMs failed (see the kept logs)"
echo "soak: $cycles checkmarked cycles, $misses misses in $runs runs"
[ "$misses" -eq 0 ] && [ "$failed" -eq 0 ] && [ "$vmfailed" -eq 0 ]
