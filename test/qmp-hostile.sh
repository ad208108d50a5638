#!/bin/sh
# mig-send and mig-recv against fake QMP peers that greet, accept
# qmp_capabilities and then misbehave in answer to the first command:
# garbage bytes, a reply cut short by EOF, a 100 MiB line, JSON nested
# 100000 deep, replies to other ids forever, an event flood, whitespace
# forever; and one that floods events instead of answering
# qmp_capabilities.  Each run must exit 2 (bad input: the tools only asked
# questions, nothing changed), print nothing on stdout, end stderr with one
# error line that says what happened (at most two warnings before it: a
# flood is told once, then counted), stay within 64 MiB of address space,
# and end within its deadline (10 s for the handshake, 30 s a command)
# plus some slack, however fast the peer talks.  All runs go in parallel.
. "$(dirname "$0")/lib.sh"
require socat
[ -x "$BIN/mig-send" ] && [ -x "$BIN/mig-recv" ] || fail "build the tools first"

EVENT='{"event": "FLOOD", "data": {"n": 1}, "timestamp": {"seconds": 1, "microseconds": 2}}'
# Greeting, the reply to qmp_capabilities, then the first command is read.
PAST="printf '%s\n' '$GREETING'; read -r l; $ID
	printf '{\"return\": {}, \"id\": %s}\n' \"\$id\"; read -r l"

peer garbage "$PAST; printf '\\001\\377 this is not JSON\n'; read -r l"
peer truncated "$PAST; printf '%s' '{\"return\": {\"status\": \"runn'"
peer huge "$PAST; printf '{\"return\": \"'
	head -c 104857600 /dev/zero | tr '\\0' x; printf '\"}\n'"
peer deep "$PAST; printf '{\"return\": '
	head -c 100000 /dev/zero | tr '\\0' '['; read -r l"
peer foreign "$PAST; yes '{\"return\": {}, \"id\": 999999}'"
peer flood "$PAST; yes '$EVENT'"
peer spaces "$PAST; yes ''"
peer capsflood "printf '%s\n' '$GREETING'; read -r l; yes '$EVENT'"

# start TOOL PEER: run TOOL against $T/PEER.sock in the background; its
# exit status and seconds taken go to $T/TOOL.PEER.rc.
start() {
	case $1 in
	mig-send) _a="--migrate-uri unix:$T/$2.mig" ;;
	mig-recv) _a="--incoming unix:$T/$2.mig" ;;
	esac
	(
		ulimit -v 65536
		_t0=$(date +%s)
		timeout -k 5 120 "$BIN/$1" --qmp "unix:$T/$2.sock" $_a \
		    >"$T/$1.$2.out" 2>"$T/$1.$2.err" </dev/null
		echo "$? $(( $(date +%s) - _t0 ))" >"$T/$1.$2.rc.tmp"
		mv "$T/$1.$2.rc.tmp" "$T/$1.$2.rc"
	) &
	track $!
}

PEERS="garbage truncated huge deep foreign flood spaces capsflood"
for p in $PEERS; do
	start mig-send "$p"
	start mig-recv "$p"
done

all_done() {
	for _p in $PEERS; do
		[ -f "$T/mig-send.$_p.rc" ] && [ -f "$T/mig-recv.$_p.rc" ] || return 1
	done
}
wait_for 150 "every run to end" all_done

FAILED=0
# check TOOL PEER SECS WHAT: the run ended with status 2 within SECS, its
# stderr's last line is TOOL's error containing WHAT, anything before it
# at most two warnings, stdout empty.
check() {
	read -r _rc _secs <"$T/$1.$2.rc"
	_err=$T/$1.$2.err
	_last=$(tail -n 1 "$_err")
	_why=
	if [ "$_rc" != 2 ]; then
		_why="exit $_rc, expected 2"
	elif [ "$_secs" -gt "$3" ]; then
		_why="took ${_secs}s, more than $3"
	else
		case $_last in
		"$1: error: "*"$4"*) ;;
		*) _why="last line is not an error about '$4'" ;;
		esac
	fi
	[ -z "$_why" ] && [ "$(grep -vc "^$1: warning: " "$_err")" != 1 ] &&
		_why="more than one line besides warnings"
	[ -z "$_why" ] && [ "$(grep -c "^$1: warning: " "$_err")" -gt 2 ] &&
		_why="more than two warnings"
	[ -z "$_why" ] && [ -s "$T/$1.$2.out" ] && _why="something on stdout"
	if [ -n "$_why" ]; then
		echo "BAD: $1 against $2: $_why; stderr (first lines):" >&2
		head -n 5 "$_err" | cut -c1-200 | sed 's/^/    /' >&2
		FAILED=$((FAILED + 1))
	else
		note "ok: $1 against $2 (${_secs}s): $_last"
	fi
}

for tool in mig-send mig-recv; do
	check $tool garbage 15 "garbage: expected '{'"
	check $tool truncated 15 "closed the QMP connection"
	check $tool huge 15 "longer than"
	check $tool deep 15 "deeper than"
	check $tool foreign 40 "timed out waiting for reply"
	check $tool flood 40 "timed out waiting for reply"
	check $tool spaces 40 "timed out waiting for reply"
	check $tool capsflood 20 "timed out waiting for reply to 'qmp_capabilities'"
done
[ "$FAILED" = 0 ] || fail "$FAILED runs misbehaved"
