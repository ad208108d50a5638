#!/bin/sh
# Each program's options have one description (its table, base/opt.h):
# every option --help lists is in the man page's SYNOPSIS and has an entry
# (a .TP head, with its short form if it has one) under OPTIONS, and the
# man page names no option --help does not; --help fits 80 columns and
# gives the exit statuses; a prefix of an option, however unique, is
# refused (exit 2, one line); --version prints the program's name and
# version.
. "$(dirname "$0")/lib.sh"

# help_opts PROG: the options --help lists, one per line ("-v --verbose"
# for one with both forms).
help_opts() {
	"$BIN/$1" --help | awk '/^  -/ {
		f = $1; sub(/,$/, "", f)
		if ($1 ~ /,$/) f = f " " $2
		print f }'
}

# man_section PAGE SECTION: that section's text, roff escapes undone far
# enough that option names read as typed.
man_section() {
	awk -v s="$2" '/^\.SH/ { on = ($2 == s); next } on' "$1" |
		sed -e 's/\\f[BIRP]//g' -e 's/\\-/-/g' -e 's/\\ / /g'
}

# names: the option names in the text on standard input, sorted, unique.
names() {
	grep -oE '(^|[^A-Za-z0-9-])--?[A-Za-z][A-Za-z0-9-]*' |
		sed 's/^[^-]*//' | sort -u
}

n=0
for prog in mig-send mig-recv mig-tunnel mig-config; do
	page=$TOP/doc/$prog.1
	help_opts "$prog" >"$T/$prog.help"
	[ -s "$T/$prog.help" ] || fail "$prog --help lists no options"
	# An option's identity: its long name, else its letter.
	awk '{ print $NF }' "$T/$prog.help" | sort -u >"$T/$prog.ids"
	tr ' ' '\n' <"$T/$prog.help" | sort -u >"$T/$prog.forms"
	man_section "$page" SYNOPSIS | names >"$T/$prog.syn"
	man_section "$page" OPTIONS | awk 'p { print } { p = ($0 == ".TP") }' |
		names >"$T/$prog.heads"
	comm -23 "$T/$prog.ids" "$T/$prog.syn" >"$T/x"
	[ -s "$T/x" ] && fail "$prog --help lists, $page's SYNOPSIS lacks: $(cat "$T/x")"
	comm -13 "$T/$prog.ids" "$T/$prog.syn" >"$T/x"
	[ -s "$T/x" ] && fail "$page's SYNOPSIS names, $prog --help lacks: $(cat "$T/x")"
	comm -23 "$T/$prog.forms" "$T/$prog.heads" >"$T/x"
	[ -s "$T/x" ] && fail "$prog --help lists, $page's OPTIONS has no entry for: $(cat "$T/x")"
	comm -13 "$T/$prog.forms" "$T/$prog.heads" >"$T/x"
	[ -s "$T/x" ] && fail "$page's OPTIONS has an entry for, $prog --help lacks: $(cat "$T/x")"
	"$BIN/$prog" --help | awk -v p="$prog" 'length > 80 {
		print p " --help: a line of " length " columns: " $0; bad = 1 }
		END { exit bad }' || fail "$prog --help is wider than 80 columns"
	"$BIN/$prog" --help | grep -q '^Exit: 0 ' || fail "$prog --help gives no exit statuses"

	# Every long option's prefixes are unknown options, not it.
	for o in $(grep -o -- '--[a-z-]*' "$T/$prog.ids"); do
		for cut in 1 3; do
			p=$(printf %s "$o" | sed "s/.\{$cut\}\$//")
			[ ${#p} -gt 3 ] || continue
			# A prefix that is itself an option is that option.
			grep -qx -- "$p" "$T/$prog.ids" && continue
			expect_exit 2 "$BIN/$prog" "$p"
			[ "$(wc -l <"$T/err")" = 1 ] && [ ! -s "$T/out" ] &&
				grep -qF -- "unknown option '$p'" "$T/err" ||
				{ cat "$T/err"; fail "$prog $p: not one 'unknown option' line"; }
			n=$((n + 1))
		done
	done
	expect_exit 2 "$BIN/$prog" --help=yes
	grep -qF -- "--help=yes takes no value" "$T/err" || fail "$prog --help=yes accepted"
	expect_exit 0 "$BIN/$prog" --version
	grep -qx "$prog [0-9][0-9.]*" "$T/out" || fail "$prog --version says: $(cat "$T/out")"
	[ -s "$T/err" ] && fail "$prog --version wrote to stderr: $(cat "$T/err")"
	note "$prog: $(wc -l <"$T/$prog.ids") options agree with $page"
done
note "$n prefixes refused"

# The prefix the issue was about, and a value missing at the end.
expect_exit 2 "$BIN/mig-send" --copy-storage-al --qmp unix:/x --migrate-uri -
[ "$(cat "$T/err")" = "mig-send: error: unknown option '--copy-storage-al' (see --help)" ] ||
	fail "--copy-storage-al: $(cat "$T/err")"
for last in "mig-send --qmp" "mig-recv --qmp" "mig-tunnel --keepalive" \
    "mig-tunnel -L" "mig-config --config-dir"; do
	set -- $last
	expect_exit 2 "$BIN/$1" "$2"
	[ "$(cat "$T/err")" = "$1: error: $2 needs a value (see --help)" ] ||
		fail "$1 $2 at the end: $(cat "$T/err")"
done
# "--" ends the options: what follows is an operand even if it looks
# like an option.
expect_exit 2 "$BIN/mig-config" -- --help
grep -qF "unknown command '--help'" "$T/err" || fail "mig-config -- --help: $(cat "$T/err")"
exit 0
