#!/bin/sh
# Runs the whole suite: the unit test binaries given as arguments (and the
# fuzz targets' corpus replays, build/test/fuzz/NAME_fuzz), then every
# test/*.sh.  Exit status of a test: 0 passed, 77 skipped (a peer is
# missing), anything else failed.  Each test's output goes to
# build/test-logs/NAME.log and is printed when it fails.  The last line is
# the suite's: "N passed, N failed, N skipped".
# LONG=1 adds the slow tests of test/long.  TESTS="a b" limits the shell tests to those names; TEST_TIMEOUT (seconds)
# bounds each test.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
logs="$top/build/test-logs"
mkdir -p "$logs/unit" "$logs/fuzz"
limit=${TEST_TIMEOUT:-600}
pass=0 fail=0 skip=0 failed=""

run_one() {
	name=$1; shift
	log="$logs/$name.log"
	start=$(date +%s)
	timeout -k 10 "$limit" "$@" >"$log" 2>&1 </dev/null
	rc=$?
	secs=$(( $(date +%s) - start ))
	case $rc in
	0)  pass=$((pass + 1)); echo "PASS $name (${secs}s)" ;;
	77) skip=$((skip + 1)); echo "SKIP $name: $(tail -n 1 "$log")" ;;
	*)  fail=$((fail + 1)); failed="$failed $name"
	    [ $rc = 124 ] && echo "timed out after ${limit}s" >>"$log"
	    echo "FAIL $name (exit $rc, ${secs}s); last lines of $log:"
	    tail -n 25 "$log" | sed 's/^/    /' ;;
	esac
}

# Fuzz targets (build/test/fuzz/NAME_fuzz) replay their corpus.
for bin in "$@"; do
	case $bin in
	*_fuzz) name=$(basename "$bin" _fuzz)
		[ -d "$top/test/fuzz/corpus/$name" ] || name="$name-no-corpus"
		run_one "fuzz/$name" sh "$top/test/fuzz/replay.sh" "$bin" ;;
	*) run_one "unit/$(basename "$bin")" "$bin" ;;
	esac
done
# LONG=1 (make check-long) adds test/long/*.sh, the slow variants.
long=
[ -n "${LONG:-}" ] && long="$top/test/long/*.sh"
for t in "$top"/test/*.sh $long; do
	name=$(basename "$t" .sh)
	case $name in lib|qemu|mig|recipe|run) continue ;; esac
	if [ -n "${TESTS:-}" ]; then
		case " $TESTS " in *" $name "*) ;; *) continue ;; esac
	fi
	run_one "$name" sh "$t"
done
[ -n "$failed" ] && echo "failed:$failed"
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" = 0 ]
