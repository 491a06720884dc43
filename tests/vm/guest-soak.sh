#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Runs INSIDE the test VM (busybox sh), from /gca, for `make soak`
# (tests/vm/soak.sh copies gcarena.ko, gca_torture and this script):
#
#   sh ./guest-soak.sh [-e 'VAR=VALUE...'] SECS SEED ITEM...
#
# Loads the module with checkmark=1 (every cycle re-marked with the
# threads held, and what the concurrent mark missed counted), starts a
# CPU hog (a shell busy loop, for the whole run), then runs gca_torture
# once per ITEM, each for SECS seconds, with seeds SEED, SEED+1, ...:
#
#   iN   the interference variant with N threads (GCA_TORTURE_THREADS=N:
#        hand-offs, park/unpark, threads exiting and registering, an
#        in-process hog; see tests/selftests/gca_torture.c)
#   pN   the plain threads_N variant (N = 1, 2, 4, 8)
#
# -e adds those variables to the program's environment (e.g.
# GCA_TORTURE_BREAK_BARRIER=1, to see a miss reported).
#
# After each, one line
#
#   gca-soak: RESULT item=ITEM seed=S rc=RC cycles=C failures=F logged=L
#
# C and F are checkmark_cycles and checkmark_failures as the program
# read them from its arena's memstats at the end (-1: it printed none,
# e.g. it crashed), L the objects the kernel log reports missed in that
# time (its reports are capped per arena, so L may be lower than F; a
# program that died still has its L).  The checkmark lines of the kernel
# log follow a RESULT with F or L non-zero; the whole kernel log is on
# the console at the end (tests/vm/run.sh).

set -u

extra=
if [ "${1-}" = -e ]; then
	extra=$2
	shift 2
fi
secs=$1
seed=$2
shift 2
TORTURE=./gca_torture

dmesg_from()
{
	dmesg | tail -n +"$1" | sed 's/^\[[^]]*\] \{0,1\}//'
}

if ! insmod ./gcarena.ko checkmark=1; then
	echo "gca-soak: FAIL insmod"
	exit 1
fi

# A CPU hog beside the program, for the whole run.
sh -c 'while :; do :; done' &
hog=$!

for item in "$@"; do
	n=${item#?}
	case $item in
	i*) vars="GCA_TORTURE_VARIANTS=interference GCA_TORTURE_THREADS=$n" ;;
	p*) vars="GCA_TORTURE_VARIANTS=$n" ;;
	*) echo "gca-soak: bad item $item"; continue ;;
	esac
	echo "gca-soak: RUN item=$item seed=$seed"
	start=$(($(dmesg | wc -l) + 1))
	# shellcheck disable=SC2086 # lists of assignments
	env $vars $extra GCA_TORTURE_SECS="$secs" GCA_TORTURE_SEED="$seed" \
		timeout $((secs * 5 + 240)) "$TORTURE" </dev/null >/tmp/out 2>&1
	rc=$?
	cat /tmp/out
	fig=$(sed -n 's/.*checkmark: \([0-9]*\) cycles, \([0-9]*\) failures.*/\1 \2/p' /tmp/out |
	      tail -n 1)
	cycles=${fig% *}
	failures=${fig#* }
	[ -n "$fig" ] || { cycles=-1; failures=-1; }
	logged=$(dmesg_from "$start" |
		 sed -n 's/.*checkmark: cycle [0-9]*: \([0-9]*\) reachable objects were not marked.*/\1/p' |
		 awk '{ n += $1 } END { print n + 0 }')
	echo "gca-soak: RESULT item=$item seed=$seed rc=$rc cycles=$cycles failures=$failures logged=$logged"
	if [ "$failures" != 0 ] || [ "$logged" -ne 0 ]; then
		dmesg_from "$start" | grep 'checkmark' | head -n 40
	fi
	seed=$((seed + 1))
done

kill "$hog"
wait "$hog" 2>/dev/null
rmmod gcarena || echo "gca-soak: FAIL rmmod"
exit 0
