#!/bin/sh
# Faults in each phase of a managed migration (mig-send --desturi, mig-recv
# --listen --once, the control connection through a socat relay): kill -9
# mig-send, mig-recv, the source QEMU, the destination QEMU, or cut the
# control connection (kill the relay), in Prepare, the disk copy, memory,
# between "loaded" and the commit, and just after the commit.  Each case
# checks that the guest runs on exactly one side or is paused, never on
# both, and that each tool's exit code and --json outcome say where.
#
# Phases are reached by condition: Prepare holds in the destination's
# migrate hook until the test lets it go; the disk copy is throttled; the
# memory phase limited in bandwidth; "loaded" is held by stopping the
# relay (SIGSTOP) during the memory phase, so the destination's "loaded"
# waits in it while the stream completes.  "commit" is the destination's
# log line saying the commit arrived: what follows it is fast, so that
# case checks only the invariants, wherever the fault lands.
#
# The two holes of two blind sides, closed here: the destination loaded
# the guest and the source resumes (loaded/cut, loaded/send): the
# destination quits its QEMU instead of starting it; the destination
# cannot start the guest after the stream (loaded/dst, loaded/recv): the
# source resumes on its word, or stays paused (in doubt), never quits.
# (managed-faults-tunnelled.sh runs cases of this one with TUNNELLED set.)
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/qemu.sh"
. "$(dirname "$0")/mig.sh"
require_qemu
# A failure shows what both tools said (the tail of their stderr).
fail() {
	for _t in send recv; do
		[ -s "$T/$_t.err" ] && tail -n 25 "$T/$_t.err" | sed "s/^/  $_t: /" >&2
	done
	echo "FAIL: $*" >&2
	exit 1
}

CASES=${CASES:-"prepare:send prepare:recv prepare:cut prepare:src
disk-copy:send disk-copy:recv disk-copy:src disk-copy:dst disk-copy:cut
memory:send memory:recv memory:src memory:dst memory:cut
loaded:send loaded:recv loaded:src loaded:dst loaded:cut
commit:send commit:recv commit:src commit:dst commit:cut"}
serial=$T/g.serial

# state HOST: running, paused, or gone (HOST's QEMU, through its monitor).
state() {
	[ -S "$T/$1.hmp" ] || { echo gone; return; }
	_s=$(MON_SECS=5 guest_status "$1" 2>/dev/null)
	echo "${_s:-gone}"
}
# json_outcome TOOL: the outcome of its --json summary, or "none".
json_outcome() {
	_o=$(sed -n 's/.*"event":"summary".*"outcome":"\([^"]*\)".*/\1/p' \
		"$T/$1.json" 2>/dev/null | tail -n 1)
	echo "${_o:-none}"
}
# tools_gone: mig-send, mig-recv and their guards have all exited.
tools_gone() { ! pgrep -f "mig-(send|recv) .*$T/" >/dev/null; }

n=0
for c in $CASES; do
	phase=${c%%:*} victim=${c#*:}
	n=$((n + 1))
	note "case $n: $victim in $phase"
	rm -rf "$T/src" "$T/dst" "$T"/*.sock "$T"/*.hmp "$T/go" "$T/hook.in" \
		"$T"/send.* "$T"/recv.*
	mkdir -p "$T/src/disks" "$T/dst/etc/hooks"
	: >"$serial"
	guest_def "$T/g.def" g "$serial"
	mkdisk "$T/src/disks/g.qcow2" 64M
	fill_disk "$T/src/disks/g.qcow2"
	bps=
	[ "$phase" = disk-copy ] && bps=1048576
	if [ -n "$bps" ]; then
		disk=$(throttled_disk_args vd0 "$T/src/disks/g.qcow2" $bps)
	else
		disk=$(disk_args vd0 "$T/src/disks/g.qcow2")
	fi
	for a in $disk -chardev "socket,id=hmp,path=$T/src/mon.hmp,server=on,wait=off" \
	    -mon chardev=hmp,mode=readline; do
		echo "arg $a"
	done >>"$T/g.def"
	host_start src create "$T/g.def"
	src_pid=$GUEST_PID
	ln -sf "$T/src/mon.hmp" "$T/src.hmp"
	ln -sf "$T/dst/mon.hmp" "$T/dst.hmp"
	ln -sf "$T/src/run/g/log" "$T/src.log"
	wait_for 30 "counts from the source guest" has_counts 2 "$serial"
	# The destination's hook: its own paths; in Prepare, it holds.
	{
		echo '#!/bin/sh'
		[ "$phase" = prepare ] &&
			echo ": >'$T/hook.in'; until [ -e '$T/go' ]; do sleep 0.05; done"
		echo "sed 's|$T/src/|$T/dst/|g'"
	} >"$T/dst/etc/hooks/qemu"
	chmod +x "$T/dst/etc/hooks/qemu"
	# The relay stopped for "loaded" must not look silent before the
	# stream completes (4 s at 16 MiB/s, a 10 s downtime limit ending it
	# after one pass, as hold_after_stream).
	bw= ka=200
	[ "$phase" = memory ] && bw="--bandwidth 4"
	[ "$phase" = loaded ] && bw="--bandwidth 16 --downtime 10000" ka=3000
	"$BIN/mig-recv" --listen "unix:$T/ctl.sock" --once --keepalive $ka \
		$(host_dirs dst) --json -v >"$T/recv.json" 2>"$T/recv.err" &
	RECV_PID=$!
	track $RECV_PID
	wait_for 10 "mig-recv to listen" test -S "$T/ctl.sock"
	rm -f "$T/relay.sock"
	socat "UNIX-LISTEN:$T/relay.sock" "UNIX-CONNECT:$T/ctl.sock" &
	RELAY_PID=$!
	track $RELAY_PID
	wait_for 10 "the relay to listen" test -S "$T/relay.sock"
	"$BIN/mig-send" --domain g $(host_dirs src) --copy-storage-all \
		--desturi "unix:$T/relay.sock" --keepalive $ka $bw --wait 10 \
		${TUNNELLED:-} \
		--json >"$T/send.json" 2>"$T/send.err" &
	SEND_PID=$!
	track $SEND_PID

	case $phase in
	prepare) wait_for 30 "the hook" test -e "$T/hook.in" ;;
	disk-copy|memory) wait_for 60 "the $phase phase" phase_seen "$phase" ;;
	loaded)
		wait_for 60 "the memory phase" phase_seen memory
		kill -STOP $RELAY_PID
		wait_for 60 "'loaded'" grep -q "loaded: waiting" "$T/recv.err" ;;
	commit) wait_for 60 "the commit" grep -q "the source committed" "$T/recv.err" ;;
	esac
	dst_pid=$(cat "$T/dst/run/g/pid" 2>/dev/null)
	case $victim in
	send) kill -KILL $SEND_PID ;;
	recv) kill -KILL $RECV_PID ;;
	src) kill -KILL "$src_pid" ;;
	dst) [ -n "$dst_pid" ] || fail "case $n: no destination QEMU"
	     kill -KILL "$dst_pid" ;;
	cut) kill -KILL $RELAY_PID ;;
	esac
	[ "$phase" = prepare ] && : >"$T/go"
	kill -CONT $RELAY_PID 2>/dev/null
	wait_exit $SEND_PID 120
	send_rc=$EXIT_STATUS
	# mig-recv --once stays as the guest's supervisor on success.
	wait_for 120 "mig-recv's session to end" eval \
		'pid_gone $RECV_PID || grep -q "supervising" "$T/recv.err"'
	wait_for 60 "the tools' guards to finish" eval \
		'tools_gone || grep -q "supervising" "$T/recv.err"'
	recv_rc=
	pid_gone $RECV_PID && { wait_exit $RECV_PID 5; recv_rc=$EXIT_STATUS; }
	s=$(state src) d=$(state dst)
	so=$(json_outcome send) ro=$(json_outcome recv)
	note "case $n: $victim in $phase: mig-send $send_rc ($so)," \
		"mig-recv ${recv_rc:-supervising} ($ro); source $s, destination $d"
	why=
	[ "$s" = running ] && [ "$d" = running ] && why="running on both sides"
	# The guest is somewhere, unless its own QEMU was killed.
	case $victim:$s:$d in
	src:*|dst:*) ;;
	*:gone:gone) why="the guest is nowhere" ;;
	esac
	# What each tool says matches what is.
	case $victim:$send_rc in
	send:*) ;;
	dst:0) ;;	# it ran there; its QEMU was then killed
	*:0) [ "$d" = running ] || why="mig-send 0 but destination $d" ;;
	*:1) [ "$s" = running ] || why="mig-send 1 but source $s" ;;
	*:7) [ "$s" = paused ] && [ "$so" = "in doubt" ] ||
		why="mig-send 7 but source $s, outcome $so" ;;
	src:5) ;;
	*) why="mig-send exited $send_rc" ;;
	esac
	# A supervisor's own exit status is its QEMU's.
	grep -q "supervising" "$T/recv.err" && recv_rc=
	case $victim:$recv_rc in
	recv:*|*:) ;;
	*:1|*:7) [ "$d" = gone ] || why="mig-recv $recv_rc but destination $d" ;;
	*) why="mig-recv exited $recv_rc" ;;
	esac
	# Where the deterministic cases end.
	want=
	case $c in
	prepare:src) want="gone gone" ;;
	prepare:*|disk-copy:send|disk-copy:recv|disk-copy:dst|disk-copy:cut|\
	memory:send|memory:recv|memory:dst|memory:cut|loaded:send|\
	loaded:dst|loaded:cut)
		want="running gone" ;;
	loaded:recv) want="paused gone" ;;
	loaded:src) want="gone running" ;;
	esac
	[ -n "$want" ] && [ "$s $d" != "$want" ] &&
		why="${why:+$why; }expected source/destination $want"
	# A destination that does not have the guest before the commit
	# leaves nothing behind: the disk it created is removed (by the
	# session's guard too, when mig-recv was killed).
	case $phase:$d in
	commit:*) ;;
	*:gone) [ -e "$T/dst/disks/g.qcow2" ] &&
		why="${why:+$why; }the created disk was left" ;;
	esac
	[ -n "$why" ] && fail "case $n ($victim in $phase): $why"
	for p in $SEND_PID $RECV_PID $RELAY_PID $src_pid $dst_pid; do
		stop_pid "$p"
	done
done
