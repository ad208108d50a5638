#!/bin/sh
# Runs each libFuzzer binary given (build/fuzz/bin/NAME_fuzz) for
# FUZZ_SECONDS with its corpus test/fuzz/corpus/NAME (and
# test/fuzz/NAME.dict if there is one).  New inputs go to
# build/fuzz/new/NAME, crashes to build/fuzz/crash/; the committed corpus
# is only read.  FUZZ="json qmp" limits the run to those targets; extra
# libFuzzer flags may be given in FUZZ_FLAGS.  Prints one line per target
# (executions, coverage, new inputs) and fails if any target found a bug.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
secs=${FUZZ_SECONDS:-60}
failed=""
for bin in "$@"; do
	name=$(basename "$bin" _fuzz)
	if [ -n "${FUZZ:-}" ]; then
		case " $FUZZ " in *" $name "*) ;; *) continue ;; esac
	fi
	new=$top/build/fuzz/new/$name
	crash=$top/build/fuzz/crash
	log=$top/build/fuzz/$name.log
	mkdir -p "$new" "$crash" "$top/test/fuzz/corpus/$name"
	dict=
	[ -f "$top/test/fuzz/$name.dict" ] && dict=-dict=$top/test/fuzz/$name.dict
	echo "fuzz $name: ${secs}s, log in build/fuzz/$name.log"
	"$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
	    -print_final_stats=1 -artifact_prefix="$crash/$name-" \
	    ${FUZZ_FLAGS:-} $dict "$new" "$top/test/fuzz/corpus/$name" \
	    >"$log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	last=$(grep -E '^#[0-9]+' "$log" | tail -n 1)
	cov=$(printf '%s\n' "$last" | sed -n 's/.*\(cov: [0-9]*\).*/\1/p')
	ft=$(printf '%s\n' "$last" | sed -n 's/.*\(ft: [0-9]*\).*/\1/p')
	echo "  $name: ${execs:-?} executions, ${cov:-cov: ?}, ${ft:-ft: ?}," \
	    "$(find "$new" -type f | wc -l) inputs in build/fuzz/new/$name"
	if [ $rc != 0 ]; then
		failed="$failed $name"
		echo "  $name FOUND A BUG (exit $rc); the input is in" \
		    "build/fuzz/crash/; last lines of the log:"
		tail -n 30 "$log" | sed 's/^/    /'
	fi
done
[ -z "$failed" ] || { echo "fuzz targets that failed:$failed"; exit 1; }
