# Helpers for the mig-tunnel tests (test/tunnel-*.sh), sourced after
# test/lib.sh.  Kept out of test/*.sh so run.sh does not take it for a test.
TUN=$BIN/mig-tunnel
[ -x "$TUN" ] || fail "$TUN is not built"
require socat sha256sum ss od

# spawn_log NAME CMD...: run CMD in the background, tracked, stderr to
# $T/NAME.log; its PID goes to the variable pid_NAME.
spawn_log() {
	_n=$1; shift
	"$@" 2>"$T/$_n.log" &
	track $!
	eval "pid_$_n=$!"
}

# tun NAME ARGS...: a mig-tunnel, as spawn_log.
tun() {
	_n=$1; shift
	spawn_log "$_n" "$TUN" "$@"
}

is_socket() { test -S "$1"; }
wait_sock() { wait_for 10 "socket $1" is_socket "$1"; }

wait_tcp() { wait_for 10 "a listener on port $1" tcp_listening "$1"; }

# randfile FILE KIB
randfile() { head -c $(( $2 * 1024 )) /dev/urandom >"$1"; }

digest() { sha256sum <"$1" | cut -d' ' -f1; }

# same A B WHAT: the files have the same contents.
same() {
	[ -f "$2" ] || fail "$3: $2 is missing"
	[ "$(digest "$1")" = "$(digest "$2")" ] ||
		fail "$3: $(wc -c <"$2") bytes arrived, of $(wc -c <"$1"), and they differ"
}

# logged NAME TEXT: the log of NAME has a line containing TEXT.
logged() { grep -qF -- "$2" "$T/$1.log"; }

# A target that receives a file and sends one back, both at once, each
# direction half-closed as it ends: serve_files NAME SOCK SEND RECV
serve_files() {
	spawn_log "$1" socat -t 30 UNIX-LISTEN:"$2" OPEN:"$3"!!OPEN:"$4",creat,trunc
}

# The client side of the same: send_files NAME SOCK SEND RECV
send_files() {
	spawn_log "$1" socat -t 30 UNIX-CONNECT:"$2" OPEN:"$3"!!OPEN:"$4",creat,trunc
}

# barrier_target SOCK [LISTEN-OPTIONS]: a target (spawned as "target")
# whose every connection checks in (a file in $T/conn), waits for a line
# on the go fifo (release N with "echo go >&4" N times; the test's exit
# would release them too), then reads to EOF and answers with the digest.
barrier_target() {
	mkdir "$T/conn"
	mkfifo "$T/go"
	exec 4<>"$T/go"
	cat >"$T/barrier.sh" <<EOF
touch "$T/conn/\$\$"
read -r go <"$T/go"
exec sha256sum
EOF
	spawn_log target socat -t 30 UNIX-LISTEN:"$1",fork${2:+,$2} \
	    SYSTEM:"sh $T/barrier.sh"
	wait_sock "$1"
}
