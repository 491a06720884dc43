#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Runs INSIDE the test VM (busybox sh), from /gca, where tests/bench/run.sh
# copied gcarena.ko, this script and the benchmark binaries:
#
#   sh ./guest.sh full|smoke
#
# Loads the module and runs the plan below.  Each "case" is a list of
# programs (usually one benchmark built for each backend) that are run
# in rounds, interleaved, the order rotated by one each round (A B C,
# B C A, C A B, ...): timings inside the VM are uneven and the first
# program of a round tends to run slower, so only programs of the same
# case, in the same boot, are compared.
#
# Output, one line each, for tests/bench/run.sh:
#   M <TAB> key <TAB> value                 facts about the guest
#   R <TAB> ... <TAB> run=ID                a result (bench.h) of run ID
#   E <TAB> program args <TAB> rc=N         a run that failed
#   P <TAB> program args <TAB> view <TAB> line   (full mode, when run.sh
#                                           copied a perf binary) a line
#                                           of perf's report of that run
#   gca-result: pass|fail bench-smoke/...   (smoke mode) per program
#
# smoke: every program once, tiny parameters, no timing judged; a
# program passes when it exits 0 having printed at least one result.

set -u

mode=${1:-full}
PER_RUN_TIMEOUT=${BENCH_RUN_TIMEOUT:-900}
failed=0
runid=0

case $mode in
full|smoke) ;;
*) echo "guest.sh: unknown mode $mode" >&2; exit 2 ;;
esac

if ! insmod ./gcarena.ko; then
	echo "gca-result: fail bench-$mode/insmod"
	exit 1
fi

printf 'M\tguest_kernel\t%s\n' "$(uname -r)"
printf 'M\tguest_cpus\t%s\n' "$(grep -c ^processor /proc/cpuinfo)"
printf 'M\tguest_cpu_model\t%s\n' \
	"$(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -n 1)"
printf 'M\tguest_mem_kib\t%s\n' "$(sed -n 's/^MemTotal: *\([0-9]*\).*/\1/p' /proc/meminfo)"
printf 'M\tgcarena_module\t%s\n' "$(cat /sys/module/gcarena/version 2>/dev/null || echo loaded)"

# run ONE_PROGRAM ARGS...: one run; its result lines, tagged with the run id.
run()
{
	runid=$((runid + 1))
	rc=0
	timeout "$PER_RUN_TIMEOUT" "./$@" > /tmp/out 2> /tmp/err || rc=$?
	awk -v id="run=$runid" '/^R\t/ { print $0 "\t" id } /^M\t/ { print }' /tmp/out
	n=$(grep -c '^R	' /tmp/out)
	if [ "$rc" -ne 0 ] || [ "$n" -eq 0 ]; then
		printf 'E\t%s\trc=%s\n' "$*" "$rc"
		tail -n 5 /tmp/err | sed 's/^/# stderr: /'
		[ "$mode" = smoke ] && echo "gca-result: fail bench-smoke/$1 ($*: rc=$rc, $n results)"
		failed=1
	elif [ "$mode" = smoke ]; then
		echo "gca-result: pass bench-smoke/$1 ($*)"
	fi
}

# bcase ROUNDS PROG1 ARGS1 -- PROG2 ARGS2 -- ...: rounds of all programs,
# the order rotated each round.
bcase()
{
	rounds=$1
	shift
	# Split into programs, stored as prog_0 .. prog_(n-1).
	np=0
	cur=
	for a in "$@"; do
		if [ "$a" = -- ]; then
			eval "prog_$np=\$cur"
			np=$((np + 1))
			cur=
		else
			cur="$cur $a"
		fi
	done
	if [ -n "$cur" ]; then
		eval "prog_$np=\$cur"
		np=$((np + 1))
	fi
	[ "$mode" = smoke ] && rounds=1
	t0=$(date +%s)
	r=0
	while [ "$r" -lt "$rounds" ]; do
		echo "# round $((r + 1))/$rounds:$(eval echo \"\$prog_0\")"
		i=0
		while [ "$i" -lt "$np" ]; do
			k=$(( (i + r) % np ))
			# shellcheck disable=SC2046 # word splitting wanted
			eval "set -- \$prog_$k"
			run "$@"
			i=$((i + 1))
		done
		r=$((r + 1))
	done
	echo "# case took $(( $(date +%s) - t0 ))s:$(eval echo \"\$prog_0\")"
}

# Each benchmark for the three backends: bk BENCH ARGS.
bk3()
{
	rounds=$1 b=$2
	shift 2
	bcase "$rounds" "$b.gcarena" "$@" -- "$b.boehm" "$@" -- "$b.glibc" "$@"
}
bk2()
{
	rounds=$1 b=$2
	shift 2
	bcase "$rounds" "$b.gcarena" "$@" -- "$b.boehm" "$@"
}

if [ "$mode" = smoke ]; then
	bk3 1 binary_trees depth=6 threads=1
	bk3 1 binary_trees depth=6 threads=2
	bk3 1 gcbench depth=6 array=1000
	bk3 1 allocrate size=64 threads=2 n=2000
	bk3 1 allocrate size=65536 threads=1 n=20
	bk3 1 pauses live=2 volume=2 unit=1024
	bcase 1 markrate.gcarena live=2 reps=2 -- markrate.boehm live=2 reps=2 \
		-- memcpy_bw size=2 reps=3
	bcase 1 heapover.gcarena live=2 volume=2 gcp=100 -- \
		heapover.gcarena live=2 volume=2 gcp=100 limit_pct=80 deadline=60 -- \
		heapover.boehm live=2 volume=2 -- heapover.glibc live=2 volume=2
else
	# The plan of `make bench`: 8 minutes of TCG on 2 vCPUs of a quiet
	# 2-core host (more when the host is loaded).
	# Rounds: 5 for every timing; 3 where the figures are memory ratios
	# or pooled pause distributions of many cycles.
	R=${BENCH_ROUNDS:-5}
	for d in 10 12 14; do
		bk3 "$R" binary_trees depth=$d threads=1
	done
	bk3 "$R" binary_trees depth=14 threads=2
	bk3 "$R" gcbench depth=14
	for t in 1 2; do
		bk3 "$R" allocrate size=16 threads=$t n=200000
		bk3 "$R" allocrate size=64 threads=$t n=100000
		bk3 "$R" allocrate size=256 threads=$t n=40000
		bk3 "$R" allocrate size=4096 threads=$t n=4000
		bk3 "$R" allocrate size=65536 threads=$t n=300
	done
	bcase "$R" markrate.gcarena live=32 reps=3 -- markrate.boehm live=32 reps=3 \
		-- memcpy_bw size=32 reps=5
	bk3 "$R" pauses live=16 volume=8 unit=1024
	bk3 "$R" pauses live=64 volume=3 unit=1024
	bk2 3 pauses live=256 volume=2 unit=1024
	bcase 3 heapover.gcarena live=16 volume=4 gcp=50 \
		-- heapover.gcarena live=16 volume=4 gcp=100 \
		-- heapover.gcarena live=16 volume=4 gcp=200 \
		-- heapover.gcarena live=16 volume=4 gcp=100 limit_pct=80 deadline=30 \
		-- heapover.boehm live=16 volume=4 -- heapover.glibc live=16 volume=4
fi

# profile PROGRAM ARGS...: one more run under perf (every CPU, call
# graphs, kernel symbols): where the program's time goes, its kernel
# calls included, and what the collector thread does meanwhile.
profile()
{
	echo 0 > /proc/sys/kernel/kptr_restrict
	echo -1 > /proc/sys/kernel/perf_event_paranoid
	if ! timeout "$PER_RUN_TIMEOUT" ./perf record -q -a -g -o /tmp/perf.data \
	     "./$@" > /dev/null 2>&1; then
		printf 'E\tperf record %s\trc=1\n' "$*"
		return
	fi
	# self time per thread name and function; then, for the program's
	# own threads, time including callees (the ioctls' parts)
	./perf report -i /tmp/perf.data --stdio --no-children \
		--sort comm,dso,symbol -g none 2>/dev/null |
		grep -E '^ +[0-9.]+%' | head -n 30 |
		sed "s/^ */P\t$*\tself\t/"
	./perf report -i /tmp/perf.data --stdio --children \
		--comm "$(echo "$1" | cut -c1-15)" --sort dso,symbol -g none \
		2>/dev/null | grep -E '^ +[0-9.]+%' | grep -v -e ' 0x0' -e ' 00000000' |
		head -n 40 | sed "s/^ */P\t$*\tchildren\t/"
	rm -f /tmp/perf.data
}

if [ "$mode" = full ] && [ -x ./perf ]; then
	profile binary_trees.gcarena depth=14 threads=1
	profile allocrate.gcarena size=16 threads=1 n=200000
	profile binary_trees.boehm depth=14 threads=1
fi

if ! rmmod gcarena; then
	echo "gca-result: fail bench-$mode/rmmod"
	failed=1
fi
[ "$mode" = smoke ] && [ "$failed" -eq 0 ] && echo "gca-result: pass bench-smoke/rmmod"
exit $failed
