#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Usage: tests/summarize.sh LOGFILE...
#
# Adds up the test results found in the given logs and prints, as its very
# last line,
#
#   N passed, M failed, K skipped
#
# Exits 1 if M > 0, or if N == 0 (a run in which nothing passed is a broken
# run, not a green one); 2 on usage errors.
#
# What is counted:
#  - kselftest totals (kselftest.h ksft_print_cnts(), as printed by
#    kselftest_harness.h at the end of each test binary):
#      # Totals: pass:P fail:F xfail:XF xpass:XP skip:S error:E
#    passed += P + XF, failed += F + XP + E, skipped += S
#  - shell-level checks, one line each:
#      gca-result: pass|fail|skip NAME [why]
#  - googletest summaries ("[  PASSED  ] N tests.", "[  FAILED  ] N tests,
#    listed below:", "[  SKIPPED ] N tests, listed below:")
#  - test binaries run by tests/vm/guest-check.sh, framed by
#    "gca-guest: RUN NAME" ... "gca-guest: PASS|FAIL NAME": a binary that
#    failed without reporting a failed test (crashed, killed by the timeout,
#    exited early) counts as one failure; one that passed without reporting
#    anything countable (not a kselftest) counts as one pass.  A binary
#    whose section never ends (the VM died under it) counts as a failure.

set -eu

if [ $# -eq 0 ]; then
	echo "usage: ${0##*/} LOGFILE..." >&2
	exit 2
fi

missing=0
logs=()
for f in "$@"; do
	if [ -r "$f" ]; then
		logs+=("$f")
	else
		echo "summarize: FAIL: cannot read log $f" >&2
		missing=$((missing + 1))
	fi
done

awk -v missing="$missing" '
function finish_file(   p, f, s) {
	if (in_sec) {
		# The log ended inside a test binary: the VM died under it.
		if (!sec_fail) {
			fail++
			printf "summarize: FAIL: %s: %s did not finish\n", FILENAME_prev, sec_name
		}
		in_sec = 0
	}
	if (FILENAME_prev != "")
		printf "  %s: pass=%d fail=%d skip=%d\n", FILENAME_prev,
			pass - fpass, fail - ffail, skip - fskip
	fpass = pass; ffail = fail; fskip = skip
}

FNR == 1 {
	finish_file()
	FILENAME_prev = FILENAME
}

{ sub(/\r$/, "") }

# kselftest.h: "# Totals: pass:%d fail:%d xfail:%d xpass:%d skip:%d error:%d"
/^[# \t]*Totals: pass:[0-9]+ fail:[0-9]+ xfail:[0-9]+ xpass:[0-9]+ skip:[0-9]+ error:[0-9]+/ {
	line = $0
	sub(/^.*Totals: /, "", line)
	split(line, kv, " ")
	delete n
	for (i in kv) {
		split(kv[i], p, ":")
		n[p[1]] = p[2] + 0
	}
	pass += n["pass"] + n["xfail"]
	f = n["fail"] + n["xpass"] + n["error"]
	fail += f
	skip += n["skip"]
	sec_counted = 1
	if (f)
		sec_fail = 1
	next
}

/^[ \t]*gca-result: (pass|fail|skip)([ \t]|$)/ {
	line = $0
	sub(/^[ \t]*gca-result: /, "", line)
	split(line, w, /[ \t]+/)
	if (w[1] == "pass") {
		pass++
	} else if (w[1] == "fail") {
		fail++
		sec_fail = 1
		printf "summarize: FAIL: %s: %s\n", FILENAME, line
	} else {
		skip++
	}
	sec_counted = 1
	next
}

# googletest
/^\[  PASSED  \] [0-9]+ tests?\./ { pass += $4; sec_counted = 1; next }
/^\[  FAILED  \] [0-9]+ tests?, listed below/ {
	fail += $4; sec_counted = 1; sec_fail = 1; next
}
/^\[  SKIPPED \] [0-9]+ tests?, listed below/ { skip += $4; sec_counted = 1; next }

# Name the failed kselftest cases, to save reading the whole log.
/^not ok [0-9]+/ && !/# SKIP/ {
	printf "summarize: FAIL: %s: %s\n", FILENAME, $0
	next
}

/^gca-guest: RUN / {
	in_sec = 1; sec_name = $3; sec_counted = 0; sec_fail = 0
	next
}
/^gca-guest: PASS / {
	if (in_sec && !sec_counted)
		pass++
	in_sec = 0
	next
}
/^gca-guest: FAIL / {
	if (!in_sec || !sec_fail)
		fail++
	printf "summarize: FAIL: %s: %s\n", FILENAME, $0
	in_sec = 0
	next
}

END {
	finish_file()
	fail += missing
	if (pass == 0)
		print "summarize: FAIL: no test passed: did anything run?"
	printf "%d passed, %d failed, %d skipped\n", pass, fail, skip
	exit (fail > 0 || pass == 0) ? 1 : 0
}
' ${logs[@]+"${logs[@]}"} </dev/null
