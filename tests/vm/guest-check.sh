#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Runs INSIDE the test VM (busybox sh), from /gca, where tests/vm/run.sh
# copied gcarena.ko, this script and the selftest binaries:
#
#   sh ./guest-check.sh [OPTION]... [TEST_BINARY]...
#
# Loads the module, runs each test binary (300 s limit each), unloads the
# module and checks that it left nothing behind.  Prints one line per
# binary, "gca-guest: PASS name" or "gca-guest: FAIL name (rc=N)", framed
# by "gca-guest: RUN name" so tests/summarize.sh can tell which output
# belongs to which binary, and "gca-result: pass|fail NAME" lines for the
# shell-level checks.  Exits non-zero if anything failed.
#
# Options (the debug kernel's layer uses them; see `make vm-check-debug`):
#   --timeout SEC  limit per test binary (default $GCA_TEST_TIMEOUT or 300)
#   --kunit KO     after loading gcarena.ko, load the KUnit test module KO
#                  (its suites run while insmod runs), turn the KTAP it
#                  printed to the kernel log into "gca-result: pass|fail|skip
#                  kunit:SUITE.CASE" lines, and unload it again.  Fails if
#                  any test is "not ok" or if KO printed no KTAP at all.
#                  May be repeated.
#   --checkmark    load the module with checkmark=1 (every cycle of every
#                  test re-marked with the threads held, Go's gccheckmark)
#                  and fail ("gca-result: fail checkmark:NAME") a test
#                  binary during which the kernel logged a cycle whose
#                  concurrent mark missed a reachable object (except
#                  gca_hostile_heap, which provokes misses on purpose)
#   --kmemleak     (kernel with CONFIG_DEBUG_KMEMLEAK) clear kmemleak's
#                  boot-time suspects first; after the module is unloaded,
#                  scan twice and fail ("gca-result: fail kmemleak") if a
#                  suspected leak names gcarena, a KUnit module or a test
#                  program.  The report is printed either way.

set -u

MODULE=gcarena
KO=./gcarena.ko
TEST_TIMEOUT=${GCA_TEST_TIMEOUT:-300}
KMEMLEAK=/sys/kernel/debug/kmemleak

failed=0
kunit_kos=
kmemleak=0
checkmark=0

while [ $# -gt 0 ]; do
	case $1 in
	--timeout) TEST_TIMEOUT=$2; shift 2 ;;
	--kunit) kunit_kos="$kunit_kos $2"; shift 2 ;;
	--kmemleak) kmemleak=1; shift ;;
	--checkmark) checkmark=1; shift ;;
	--) shift; break ;;
	--*) echo "guest-check: unknown option $1" >&2; exit 2 ;;
	*) break ;;
	esac
done

result()
{
	# $1: pass|fail, $2: check name, rest: why
	echo "gca-result: $*"
	[ "$1" = pass ] || failed=1
}

# The kernel log from line $1 on, without printk timestamps.
dmesg_from()
{
	dmesg | tail -n +"$1" | sed 's/^\[[^]]*\] \{0,1\}//'
}

# Run one KUnit test module: its suites run inside insmod.  KTAP as
# printed by 6.1's lib/kunit/test.c, per suite:
#       KTAP version 1
#       # Subtest: SUITE
#       1..N
#       ok 1 CASE              (not ok / "# SKIP why"; parameterised
#       ...                     cases nest their params one level deeper)
#   ok M SUITE
run_kunit()
{
	ko=$1
	mod=${ko##*/}
	mod=${mod%.ko}
	case $ko in */*) ;; *) ko=./$ko ;; esac

	start=$(($(dmesg | wc -l) + 1))
	if ! insmod "$ko"; then
		result fail "kunit:$mod" "(insmod $ko failed)"
		return
	fi
	dmesg_from "$start" > /tmp/kunit.log
	# The test module's whole log goes to the console (failed
	# expectations explain themselves there), prefixed so that no
	# summarizer takes a raw "not ok" for a result.
	awk -v mod="$mod" '
	{ print "kunit| " $0 }
	/^    # Subtest: / {
		suite = $0; sub(/^    # Subtest: /, "", suite)
		open_suite = 1; nsuites++; ncases = 0
		next
	}
	/^    (not )?ok [0-9]+ / {
		st = ($0 ~ /^    not ok/) ? "fail" : "pass"
		name = $0; sub(/^    (not )?ok [0-9]+ /, "", name)
		if (name ~ / # SKIP/) {
			why = name; sub(/^.* # SKIP ?/, "", why)
			sub(/ # SKIP.*$/, "", name)
			if (st == "pass") st = "skip"
		} else {
			why = ""
		}
		res[++nres] = st " kunit:" suite "." name (why != "" ? " (" why ")" : "")
		ncases++
		next
	}
	/^(not )?ok [0-9]+ / {
		if (!open_suite)
			next
		open_suite = 0
		if ($0 ~ /^not ok/ && ncases == 0)
			res[++nres] = "fail kunit:" suite " (suite failed before its cases ran)"
		else if (ncases == 0)
			res[++nres] = "skip kunit:" suite " (no test cases)"
		next
	}
	END {
		for (i = 1; i <= nres; i++)
			print "gca-result: " res[i]
		if (open_suite)
			print "gca-result: fail kunit:" suite " (suite did not finish)"
		if (nsuites == 0)
			print "gca-result: fail kunit:" mod " (printed no KTAP: no kunit_test_suite, or KUnit disabled?)"
	}' /tmp/kunit.log > /tmp/kunit.res
	cat /tmp/kunit.res
	grep -q '^gca-result: fail' /tmp/kunit.res && failed=1

	if ! rmmod "$mod"; then
		result fail "kunit-rmmod:$mod" "(would not unload)"
	fi
}

# kmemleak reports are blocks starting "unreferenced object 0x...".
# Ours: a block naming the module ("[gcarena]" in a backtrace), a KUnit
# module, or made by one of the test programs (comm, 15 characters), or
# with a backtrace frame that no longer has a symbol ("[<ffff...>]
# 0xffff..."): the modules are unloaded by now, and the only modules
# this VM ever loads are gcarena and its KUnit tests.
check_kmemleak()
{
	if [ ! -e "$KMEMLEAK" ]; then
		result fail kmemleak "($KMEMLEAK missing: kernel without CONFIG_DEBUG_KMEMLEAK?)"
		return
	fi
	pat='gcarena|\] 0x[0-9a-f]+'
	for k in $kunit_kos; do
		k=${k##*/}
		pat="$pat|${k%.ko}"
	done
	for b in "$@"; do
		b=${b##*/}
		pat="$pat|comm \"$(printf '%s' "$b" | cut -c1-15)\""
	done
	# Twice, as Documentation/dev-tools/kmemleak.rst advises: a pointer
	# in flight (a register, a moving list) hides or fakes a leak for one
	# scan, and objects younger than 5 s are not reported at all.
	if ! echo scan > "$KMEMLEAK"; then
		result fail kmemleak "(scan refused: kmemleak disabled itself? see the kernel log)"
		return
	fi
	sleep 6
	echo scan > "$KMEMLEAK"
	cat "$KMEMLEAK" > /tmp/kmemleak.txt
	awk -v pat="$pat" '
	function flush() {
		if (blk == "") return
		n++
		if (blk ~ pat) { ours++; tag = "kmemleak(gcarena)| " }
		else tag = "kmemleak(other)| "
		gsub(/\n/, "\n" tag, blk)
		printf "%s%s\n", tag, blk
		blk = ""
	}
	/^unreferenced object / { flush() }
	{ blk = (blk == "") ? $0 : blk "\n" $0 }
	END {
		flush()
		printf "kmemleak: %d suspected leaks, %d of them ours\n", n, ours
		exit ours ? 1 : 0
	}' /tmp/kmemleak.txt
	if [ $? -eq 0 ]; then
		result pass kmemleak
	else
		result fail kmemleak "(gcarena leaks memory: see the kmemleak(gcarena) report above)"
	fi
}

if [ "$kmemleak" -eq 1 ]; then
	# Boot-time suspects (false positives of early code) are not ours:
	# scan once and mark all current suspects as seen.
	if [ -w "$KMEMLEAK" ] && echo scan > "$KMEMLEAK"; then
		echo clear > "$KMEMLEAK"
	fi
fi

modparams=
[ "$checkmark" -eq 1 ] && modparams=checkmark=1
if ! insmod "$KO" $modparams; then
	result fail insmod "($KO would not load)"
	# Nothing else can run without the module.
	exit 1
fi
result pass insmod

for k in $kunit_kos; do
	echo "gca-guest: KUNIT $k"
	run_kunit "$k"
done

for bin in "$@"; do
	name=${bin##*/}
	# A bare name means the copy in /gca, not something on $PATH.
	case $bin in */*) ;; *) bin=./$bin ;; esac

	echo "gca-guest: RUN $name"
	if [ ! -x "$bin" ]; then
		echo "gca-guest: FAIL $name (rc=127: not found or not executable)"
		failed=1
		continue
	fi
	start=$(($(dmesg | wc -l) + 1))
	# Straight to the console, not through a pipe: stdout stays a tty and
	# line-buffered, so output written just before a crash is not lost.
	timeout "$TEST_TIMEOUT" "$bin" </dev/null 2>&1
	rc=$?
	if [ "$checkmark" -eq 1 ]; then
		# Every cycle of the program was verified; a miss is logged.
		# Only the hostile heap test provokes misses on purpose.
		misses=$(dmesg_from "$start" |
			 grep -c 'checkmark: cycle .* were not marked')
		case $name in
		gca_hostile_heap) ;;
		*)	if [ "$misses" -ne 0 ]; then
				dmesg_from "$start" | grep 'checkmark:'
				result fail "checkmark:$name" "($misses cycles missed reachable objects)"
			else
				result pass "checkmark:$name"
			fi ;;
		esac
	fi
	if [ "$rc" -eq 0 ]; then
		echo "gca-guest: PASS $name"
	else
		# busybox timeout kills with SIGTERM: rc 143.
		[ "$rc" -eq 143 ] && echo "gca-guest: $name: killed after ${TEST_TIMEOUT}s?"
		echo "gca-guest: FAIL $name (rc=$rc)"
		failed=1
	fi
done

if rmmod "$MODULE"; then
	result pass rmmod
else
	result fail rmmod "(module still in use or refused to unload)"
	lsmod
fi

# A clean unload leaves no proc or sysfs entries behind.
leftover=
for path in /proc/$MODULE /sys/module/$MODULE; do
	[ -e "$path" ] && leftover="$leftover $path"
done
if [ -z "$leftover" ]; then
	result pass unload-cleanup
else
	result fail unload-cleanup "(left behind:$leftover)"
fi

if [ "$kmemleak" -eq 1 ]; then
	check_kmemleak "$@"
fi

if [ "$failed" -ne 0 ]; then
	echo "gca-guest: some checks FAILED"
	exit 1
fi
echo "gca-guest: all checks passed"
exit 0
