# Sourced by every shell test, on top of scripts/lib.sh (the tree's shell
# helpers): gives each test a private directory $T (also $R, where QEMU's
# files go), a cleanup that stops by PID every process the test started,
# peers that 'require' skips without, and waits on conditions with
# deadlines that fail the test.
. "${MIG_TOP:-$(dirname "$0")/..}/scripts/lib.sh"
T=$(mktemp -d "${TMPDIR:-/tmp}/mig-test.XXXXXX")
R=$T

fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "skipped: $*"; exit 77; }
note() { echo "# $*"; }
# The shared helpers' dead end is the test's failure.
die() { fail "$@"; }

# require CMD...: skip the test unless every command exists.
require() {
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || skip "needs $c"
	done
}

cleanup() {
	rc=$?
	trap - EXIT INT TERM HUP
	stop_run
	# Grandchildren (socat's fork and EXEC children) carry $T in their
	# command lines: stop those too, by PID.
	for p in $(pgrep -f "$T/" 2>/dev/null); do
		[ "$p" != $$ ] && kill -KILL "$p" 2>/dev/null
	done
	if [ $rc != 0 ] && [ $rc != 77 ]; then
		note "test dir kept: $T"
	else
		rm -rf "$T"
	fi
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# wait_for SECONDS DESCRIPTION CMD...: poll CMD every 50 ms until it
# succeeds; fail the test with DESCRIPTION at the deadline.  Any failure
# of CMD means "not yet" (grep says 2 for a file not there yet); a CMD
# that knows it never will calls fail itself.
wait_for() {
	_ws=$1 _ww=$2; shift 2
	until_ok "$_ws" "$_ww" _not_yet "$@" || fail "$WHY"
}
_not_yet() { "$@" && return 0; return 1; }

# wait_exit PID SECONDS: wait for a child of this shell, set EXIT_STATUS
# to its exit status (not in $(...): a subshell cannot wait for it).
wait_exit() {
	wait_for "$2" "pid $1 to exit" pid_gone "$1"
	wait "$1"
	EXIT_STATUS=$?
	reaped "$1"
}

# expect_status WHAT PID CODE [SECS]: that child exits with CODE within
# SECS (180); if not, the test fails, showing $T/WHAT.err or $T/WHAT.log
# (the process's stderr, by this suite's convention) when there is one.
expect_status() {
	wait_exit "$2" "${4:-180}"
	[ "$EXIT_STATUS" = "$3" ] && return 0
	for _f in "$T/$1.err" "$T/$1.log"; do
		[ -s "$_f" ] && { echo "--- $1 stderr:" >&2; cat "$_f" >&2; break; }
	done
	fail "$1 exited $EXIT_STATUS, expected $3"
}

# expect_exit CODE CMD...: run CMD (with a 60 s limit), check its status.
expect_exit() {
	want=$1; shift
	timeout 60 "$@" >"$T/out" 2>"$T/err"
	got=$?
	[ "$got" = "$want" ] || { cat "$T/err" >&2; fail "$* exited $got, expected $want"; }
}

# peer NAME SCRIPT: a fake QMP server on $T/NAME.sock that runs the sh
# SCRIPT for each connection (stdin and stdout are the connection).  In
# SCRIPT, $GREETING is QEMU's greeting and $ID sets id to the id of the
# command read into $l, for a reply that matches it.
peer() {
	printf '%s\n' "$2" >"$T/$1.peer"
	socat "UNIX-LISTEN:$T/$1.sock,fork" "SYSTEM:sh $T/$1.peer" \
		2>"$T/$1.socat.err" </dev/null &
	track $!
	wait_for 10 "fake peer $1 to listen" test -S "$T/$1.sock"
}
GREETING='{"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 7}, "package": ""}, "capabilities": ["oob"]}}'
ID='id=$(printf %s "$l" | sed -n "s/.*\"id\": *\([0-9]*\).*/\1/p")'
