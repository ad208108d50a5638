#!/bin/sh
# Replays the corpus of one fuzz target: test/fuzz/replay.sh BIN, where
# BIN is build/test/fuzz/NAME_fuzz (the normal toolchain); then
# build/san/bin/NAME_fuzz, the same target with gcc's ASan and UBSan
# (glibc), is run the same way.  test/run.sh runs it once per target.  Each
# input's name is printed before it runs, so the last one named in a
# failure's log is the culprit.  A target with no corpus yet passes with a
# line saying so.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
name=$(basename "$1" _fuzz)
corpus=$top/test/fuzz/corpus/$name
san=$top/build/san/bin/${name}_fuzz
if [ ! -d "$corpus" ]; then
	echo "no corpus: test/fuzz/corpus/$name does not exist"
	exit 0
fi
"$1" "$corpus" || exit 1
[ -x "$san" ] || { echo "missing $san (make check builds it)"; exit 1; }
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 "$san" "$corpus"
