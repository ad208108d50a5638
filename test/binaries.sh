#!/bin/sh
# Every program is a static binary with --help, a man page, and exit 2 (with
# one line on stderr) for an unknown option; make install installs them.
. "$(dirname "$0")/lib.sh"
require file

n=0
for b in "$BIN"/mig-*; do
	name=$(basename "$b")
	n=$((n + 1))
	file -L "$b" | grep -q 'statically linked' || fail "$name is not static: $(file -L "$b")"
	"$b" --help >"$T/help" 2>&1 || fail "$name --help exited $?"
	grep -q "^usage: $name" "$T/help" || fail "$name --help has no usage line"
	[ -f "$TOP/doc/$name.1" ] || fail "no man page doc/$name.1"
	grep -q '^\.SH EXIT STATUS' "$TOP/doc/$name.1" || fail "doc/$name.1 has no EXIT STATUS"
	"$b" --no-such-option >/dev/null 2>"$T/err" </dev/null
	rc=$?
	[ $rc = 2 ] || fail "$name --no-such-option exited $rc, expected 2"
done
[ $n -ge 2 ] || fail "expected the programs in $BIN, found $n"

# make install puts every binary (stripped, static) and man page in place.
make -s -C "$TOP" install PREFIX=/usr DESTDIR="$T/inst" >"$T/install.log" 2>&1 ||
	{ cat "$T/install.log" >&2; fail "make install failed"; }
for b in "$BIN"/mig-*; do
	name=$(basename "$b")
	[ -x "$T/inst/usr/bin/$name" ] || fail "make install did not install $name"
	file -L "$T/inst/usr/bin/$name" | grep -q ', stripped' || fail "$name not stripped"
	[ -f "$T/inst/usr/share/man/man1/$name.1" ] || fail "no man page installed for $name"
done
