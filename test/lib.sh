# Sourced by every shell test.  Gives each test a private directory, a
# cleanup that stops by PID every process the test started, peers that
# 'require' skips without, and waits on conditions with deadlines.
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
BIN=$TOP/build/bin
T=$(mktemp -d "${TMPDIR:-/tmp}/mig-test.XXXXXX")
PIDS=""

fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "skipped: $*"; exit 77; }
note() { echo "# $*"; }

# require CMD...: skip the test unless every command exists.
require() {
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || skip "needs $c"
	done
}

# track PID: stopped (TERM, then KILL) when the test exits.
track() { PIDS="$PIDS $1"; }

stop_pid() {
	pid_gone "$1" && { wait "$1" 2>/dev/null; return 0; }
	kill -TERM "$1" 2>/dev/null
	i=0
	while ! pid_gone "$1" && [ $i -lt 50 ]; do
		sleep 0.1; i=$((i + 1))
	done
	kill -KILL "$1" 2>/dev/null
	wait "$1" 2>/dev/null
	return 0
}

cleanup() {
	rc=$?
	for p in $PIDS; do stop_pid "$p"; done
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
trap 'exit 130' INT TERM

# wait_for SECONDS DESCRIPTION CMD...: poll CMD every 50 ms until it
# succeeds; fail the test with DESCRIPTION at the deadline.
wait_for() {
	secs=$1 what=$2; shift 2
	end=$(( $(date +%s) + secs ))
	until "$@"; do
		[ "$(date +%s)" -ge "$end" ] && fail "timed out after ${secs}s waiting for $what"
		sleep 0.05
	done
}

# pid_gone PID: true once the process has exited (an unreaped child is a
# zombie that kill -0 still finds: its state letter is Z).
pid_gone() {
	_st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)
	[ -z "$_st" ] || [ "$_st" = Z ] || [ "$_st" = X ]
}

# wait_exit PID SECONDS: wait for a child of this shell, set EXIT_STATUS
# to its exit status (not in $(...): a subshell cannot wait for it).
wait_exit() {
	wait_for "$2" "pid $1 to exit" pid_gone "$1"
	wait "$1"
	EXIT_STATUS=$?
}

# expect_exit CODE CMD...: run CMD (with a 60 s limit), check its status.
expect_exit() {
	want=$1; shift
	timeout 60 "$@" >"$T/out" 2>"$T/err"
	got=$?
	[ "$got" = "$want" ] || { cat "$T/err" >&2; fail "$* exited $got, expected $want"; }
}

# free_port: a TCP port on 127.0.0.1 that nothing listens on, picked from
# this shell's PID so that parallel tests rarely collide.
free_port() {
	_p=$(( 20000 + ($$ * 7) % 30000 ))
	while ss -ltnH "sport = :$_p" 2>/dev/null | grep -q .; do
		_p=$((_p + 1))
	done
	echo "$_p"
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
