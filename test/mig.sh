# Helpers for tests that run mig-send and mig-recv, sourced after
# test/lib.sh and test/qemu.sh.

BAD_FAILED=0

# bad TOOL CULPRIT ARGS...: TOOL (mig-send, mig-recv, ...) exits 2, says
# exactly one line on stderr, which contains CULPRIT, and nothing on
# stdout.  A mismatch is reported and counted in BAD_FAILED; the test
# fails at the end.  bad_exit CODE TOOL CULPRIT ARGS...: the same, for
# another exit code.
bad() { bad_exit 2 "$@"; }

bad_exit() {
	_code=$1 _tool=$2 _what=$3; shift 3
	timeout 30 "$BIN/$_tool" "$@" >"$T/bad.out" 2>"$T/bad.err" </dev/null
	_rc=$?
	_why=
	if [ "$_rc" != "$_code" ]; then
		_why="exit $_rc, expected $_code"
	elif [ "$(wc -l <"$T/bad.err")" != 1 ] ||
	     [ "$(wc -c <"$T/bad.err")" -le 1 ]; then
		_why="stderr is $(wc -l <"$T/bad.err") lines, expected 1"
	elif ! grep -qF -e "$_what" "$T/bad.err"; then
		_why="stderr does not mention '$_what'"
	elif [ -s "$T/bad.out" ]; then
		_why="something on stdout"
	fi
	if [ -n "$_why" ]; then
		echo "BAD: $_tool $*: $_why; stderr:" >&2
		sed 's/^/    /' "$T/bad.err" >&2
		BAD_FAILED=$((BAD_FAILED + 1))
	else
		note "ok: $_tool $* => $(cat "$T/bad.err")"
	fi
}

# recv_start [ARGS...]: mig-recv for QEMU "dst" in the background, output
# in $T/recv.out and $T/recv.err; waits for its "ready" line.
recv_start() { recv_start_with --qmp "unix:$T/dst.qmp" "$@"; }

# recv_start_with ARGS...: as recv_start, the destination named in ARGS
# (--qmp, or --domain NAME with its directories).
recv_start_with() {
	# Emptied first: the redirections below happen in the background,
	# and a wait must not read the previous run's output meanwhile.
	: >"$T/recv.out"; : >"$T/recv.err"
	"$BIN/mig-recv" "$@" >"$T/recv.out" \
		2>"$T/recv.err" </dev/null &
	RECV_PID=$!
	track $RECV_PID
	wait_for 30 "mig-recv to print ready" _recv_ready
}

_recv_ready() {
	if pid_gone $RECV_PID; then
		cat "$T/recv.err" >&2
		fail "mig-recv exited before it was ready"
	fi
	grep -qx ready "$T/recv.out"
}

# send_start [ARGS...]: mig-send for QEMU "src" in the background with
# --json, output in $T/send.json and $T/send.err.
send_start() { send_start_with --qmp "unix:$T/src.qmp" "$@"; }

# send_start_with ARGS...: as send_start, the source named in ARGS.
send_start_with() {
	: >"$T/send.json"; : >"$T/send.err"	# as in recv_start_with
	"$BIN/mig-send" --json "$@" >"$T/send.json" \
		2>"$T/send.err" </dev/null &
	SEND_PID=$!
	track $SEND_PID
}

# listen_start [ARGS...]: mig-recv --listen unix:$T/ctl.sock --verbose for
# host dst in the background (RECV_PID; output in $T/recv.out and
# $T/recv.err), once it listens.
listen_start() {
	: >"$T/recv.out"; : >"$T/recv.err"	# as in recv_start_with
	"$BIN/mig-recv" --listen "unix:$T/ctl.sock" $(host_dirs dst) --verbose \
		"$@" >"$T/recv.out" 2>"$T/recv.err" </dev/null &
	RECV_PID=$!
	track $RECV_PID
	wait_for 10 "mig-recv to listen" test -S "$T/ctl.sock"
}

# dst_hook BODY: the destination's migrate hook, hooks/qemu, a shell script.
dst_hook() {
	mkdir -p "$T/dst/etc/hooks"
	printf '#!/bin/sh\n%s\n' "$1" >"$T/dst/etc/hooks/qemu"
	chmod +x "$T/dst/etc/hooks/qemu"
}

# dst_hook_moves DIR: a hook that moves the disks from $T/DIR/ to $T/dst/.
dst_hook_moves() { dst_hook "sed 's|$T/$1/|$T/dst/|g'"; }

# phase_seen PHASE: mig-send's JSON stream announced that phase.
phase_seen() { grep -q "\"event\":\"phase\",\"phase\":\"$1\"" "$T/send.json"; }

# guest_status NAME: "running", "paused", ... as HMP 'info status' says.
guest_status() {
	hmp "$1" 'info status' | sed -n 's/^VM status: \([a-z-]*\).*/\1/p'
}

# pattern_at FILE PATTERN OFFSET LEN: the image holds that byte pattern.
pattern_at() {
	qemu-io -r -U -f "$(img_format "$1")" -c "read -q -P $2 $3 $4" "$1" \
		2>&1 | grep -q . && return 1
	return 0
}

# throttled_disk_args NODE FILE BPS: like disk_args, with reads of the disk
# limited to BPS so that copying it takes a predictable while.
throttled_disk_args() {
	echo "-object throttle-group,id=tg-$1,x-bps-read=$3" \
		"-blockdev driver=$(img_format "$2"),node-name=$1-img,file.driver=file,file.filename=$2" \
		"-blockdev driver=throttle,node-name=$1,throttle-group=tg-$1,file=$1-img" \
		"-device virtio-blk-pci,drive=$1,id=$1"
}

# disk_io NAME DISK 'QEMU-IO COMMAND': run a qemu-io command on a guest
# disk through HMP (virtio-blk-pci keeps its drive on the inner backend).
# A command that has to wait for I/O prints its result on QEMU's stdout,
# not on the monitor: disk_io_done waits for it there.
disk_io() {
	hmp "$1" "qemu-io -d /machine/peripheral/$2/virtio-backend \"$3\""
}

# disk_io_done NAME N: QEMU NAME has reported N completed qemu-io writes.
disk_io_done() { [ "$(grep -c '^wrote ' "$T/$1.log")" -ge "$2" ]; }

# progress_seen PHASE: mig-send's JSON stream has a progress sample of PHASE.
progress_seen() {
	grep -q "\"event\":\"progress\",\"phase\":\"$1\"" "$T/send.json"
}

# source_clean: after a failed migration the source QEMU "src" (whose QMP
# socket mig-send has let go) has no block job, no NBD node, its disk vd0,
# pause-before-switchover off, and a running guest that keeps counting.
source_clean() {
	_o=$(hmp src 'info block-jobs') || fail "HMP info block-jobs"
	printf '%s\n' "$_o" | grep -q 'No active jobs' ||
		fail "block job left on the source: $_o"
	_o=$(qmp_cmd src '{"execute":"query-named-block-nodes"}') ||
		fail "query-named-block-nodes: $_o"
	case $_o in *mig-nbd-*) fail "NBD node left on the source: $_o" ;; esac
	case $_o in *'"node-name": "vd0"'*) ;;
	*) fail "the guest's disk vd0 is not in the source's nodes: $_o" ;; esac
	_o=$(hmp src 'info migrate_capabilities') ||
		fail "HMP info migrate_capabilities"
	printf '%s\n' "$_o" | grep -qx 'pause-before-switchover: off' ||
		fail "pause-before-switchover is not off: $_o"
	[ "$(guest_status src)" = running ] || fail "the source guest is not running"
	_n=$(ncounts "$T/src.serial")
	wait_count src $((_n + 2))
}

# pair_disks: $T/src0.qcow2, 64 MiB with data on it (fill_disk), and an
# empty $T/dst0.qcow2 of the same size, for pair_start.
pair_disks() {
	mkdisk "$T/src0.qcow2" 64M
	fill_disk "$T/src0.qcow2"
	mkdisk "$T/dst0.qcow2" 64M
}

# pair_start [throttle BPS]: QEMU "src", a running guest with disk vd0 on
# $T/src0.qcow2 (reads limited to BPS bytes/s with 'throttle BPS'), and
# QEMU "dst" with vd0 on $T/dst0.qcow2, waiting for the migration; returns
# once the source guest has counted twice.
pair_start() {
	case $#:${1:-} in
	0:) start_src src $(disk_args vd0 "$T/src0.qcow2") ;;
	2:throttle)
		start_src src $(throttled_disk_args vd0 "$T/src0.qcow2" "$2") ;;
	*) fail "usage: pair_start [throttle BPS]" ;;
	esac
	start_dst dst $(disk_args vd0 "$T/dst0.qcow2")
	wait_count src 2
}

# copy_writes: once mig-send announced the disk copy, two writes to the
# source's vd0 (1 MiB of 0x77 at 40M, 64 KiB of 0x78 at 1M), completed
# before the switch-over began.  copy_writes_arrived checks for them.
copy_writes() {
	wait_for 30 "the disk-copy phase" phase_seen disk-copy
	disk_io src vd0 'write -P 0x77 40M 1M' >/dev/null
	disk_io src vd0 'write -P 0x78 1M 64k' >/dev/null
	wait_for 30 "the writes to complete" disk_io_done src 2
	if phase_seen switch-over; then
		fail "the writes were not made during the disk copy"
	fi
}

# copy_writes_arrived IMAGE: both of copy_writes' writes are in IMAGE.
copy_writes_arrived() {
	pattern_at "$1" 0x77 40M 1M || fail "write during copy (40M) missing"
	pattern_at "$1" 0x78 1M 64k || fail "write during copy (1M) missing"
}

# assert_moved [SRCIMG DSTIMG]: a migration started with send_start and
# recv_start succeeded: both exited 0, mig-send's JSON has the completed
# summary with the memory it moved and the guest on the destination, and
# assert_switched SRCIMG DSTIMG holds.
assert_moved() {
	expect_status send $SEND_PID 0
	expect_status recv $RECV_PID 0
	grep -q '"event":"summary","result":"completed"' "$T/send.json" ||
		fail "no summary line"
	grep -q '"memory_bytes":[1-9][0-9]*,' "$T/send.json" ||
		fail "the summary counts no memory bytes: $(tail -n 1 "$T/send.json")"
	grep -q '"outcome":"destination running"' "$T/send.json" ||
		fail "the summary's outcome: $(tail -n 1 "$T/send.json")"
	progress_forward
	assert_switched "$@"
}

# progress_forward: in mig-send's JSON stream no progress percent is
# lower than the one before it in the same phase, and a memory sample
# names its pass.
progress_forward() {
	_back=$(grep '"event":"progress"' "$T/send.json" | awk '
		{ ph = $0; sub(/.*"phase":"/, "", ph); sub(/".*/, "", ph)
		  p = $0; sub(/.*"percent":/, "", p); sub(/[,}].*/, "", p)
		  if (ph == last && p + 0 < prev + 0) print ph ": " prev " then " p
		  if (ph == "memory" && $0 !~ /"pass":[1-9]/) print "no pass: " $0
		  last = ph; prev = p }')
	[ -z "$_back" ] || fail "progress went backwards: $_back"
}

# assert_switched [SRCIMG DSTIMG]: the guest moved: the source QEMU quit,
# the destination guest runs and went on counting (check_continuity).  With
# images, QEMU "dst" is then stopped and DSTIMG reads like SRCIMG.
assert_switched() {
	wait_for 10 "the source QEMU to quit" pid_gone "$(qemu_pid src)"
	[ "$(guest_status dst)" = running ] || fail "destination guest is not running"
	check_continuity "$T/src.serial" "$T/dst.serial"
	[ $# = 0 ] && return 0
	stop_qemu dst
	disks_identical "$1" "$2" || fail "disks differ"
}

# tunnel_pair: two mig-tunnels joined by socat over TCP on 127.0.0.1 (the
# quotes inside EXEC keep socat from splitting the command at its colons).  The
# destination's is started by socat TCP-LISTEN ... EXEC (one per
# connection) and delivers channels "mig" and "nbd" to $T/mig.sock and
# $T/nbd.sock (mig-recv's); the source's listens on $T/tmig.sock and
# $T/tnbd.sock (for mig-send).  Extra mig-tunnel arguments for both sides
# in TUNNEL_ARGS.
tunnel_pair() {
	_port=$(free_port)
	socat "TCP-LISTEN:$_port,bind=127.0.0.1,reuseaddr,fork" \
		"EXEC:'$BIN/mig-tunnel ${TUNNEL_ARGS:-} -R mig=unix:$T/mig.sock -R nbd=unix:$T/nbd.sock'" \
		2>"$T/tunnel-dst.err" &
	TUNNEL_LISTEN_PID=$!
	track $TUNNEL_LISTEN_PID
	wait_for 10 "socat to listen on $_port" tcp_listening "$_port"
	socat "TCP:127.0.0.1:$_port" \
		"EXEC:'$BIN/mig-tunnel ${TUNNEL_ARGS:-} -L unix:$T/tmig.sock=mig -L unix:$T/tnbd.sock=nbd'" \
		2>"$T/tunnel-src.err" &
	TUNNEL_PID=$!
	track $TUNNEL_PID
	wait_for 10 "the source tunnel's sockets" \
		test -S "$T/tmig.sock" -a -S "$T/tnbd.sock"
}

# kill_during WHO PHASE [MIG-SEND ARGS...]: migrate src -> dst with
# --copy-storage-all, kill -9 QEMU WHO (src or dst) once mig-send reported
# progress in PHASE, and check mig-send exits 1 (the guest runs on the
# source) for dst, 5 (lost with its QEMU) for src, with the kill made in
# that phase (no switch-over yet; for disk-copy, before the memory phase).
kill_during() {
	_who=$1 _phase=$2; shift 2
	note "$_who killed during $_phase"
	recv_start --incoming "unix:$T/mig.sock" --nbd "unix:$T/nbd.sock" \
		--timeout 120
	send_start --migrate-uri "unix:$T/mig.sock" --copy-storage-all \
		--disks-uri "unix:$T/nbd.sock" "$@"
	wait_for 30 "the $_phase phase" phase_seen "$_phase"
	wait_for 30 "a $_phase progress sample" progress_seen "$_phase"
	_victim=$(qemu_pid "$_who")
	kill -KILL "$_victim"
	wait_for 10 "the $_who QEMU to die" pid_gone "$_victim"
	_want=1
	[ "$_who" = src ] && _want=5
	expect_status send $SEND_PID $_want 60
	phase_seen switch-over && fail "the switch-over began before the kill"
	[ "$_phase" = memory ] || ! phase_seen memory ||
		fail "the disk copy ended before the kill"
}

# The fault tests' steps (test/fault-*.sh).

# A killed tool's guard (a child of the same command line) finishes its
# rescue in the background: wait until no process of that tool is left.
_tool_alive() { pgrep -f "$BIN/mig-$1 --qmp unix:$T/$2.qmp" >/dev/null; }
guards_done() {
	wait_for 60 "mig-send's guard to finish" eval '! _tool_alive send src'
	wait_for 60 "mig-recv's guard to finish" eval '! _tool_alive recv dst'
}

# dst_gone: the destination QEMU has quit, so the guest cannot run there.
dst_gone() { wait_for 30 "the destination QEMU to quit" pid_gone "$(qemu_pid dst)"; }

# start_pair PHASE: fresh QEMUs for a case whose fault comes in PHASE:
# disk reads throttled to 2 MiB/s for disk-copy (8 MiB take 4 s), plain
# otherwise (the memory phase is slowed by --bandwidth).
start_pair() {
	pair_disks
	if [ "$1" = disk-copy ]; then pair_start throttle 2097152; else pair_start; fi
}

# migrate PHASE [MIG-SEND ARGS...]: start both tools, and return once
# mig-send reported progress in PHASE.  mig-send connects to SEND_VIA's
# sockets: unset, mig-recv's own; "tunnel", tunnel_pair's.
migrate() {
	_ph=$1; shift
	recv_start --incoming "unix:$T/mig.sock" --nbd "unix:$T/nbd.sock" \
		--timeout 120 --idle-timeout 5
	_bw=
	[ "$_ph" = memory ] && _bw="--bandwidth 4"
	_t=
	[ "${SEND_VIA:-}" = tunnel ] && _t=t
	send_start --migrate-uri "unix:$T/${_t}mig.sock" --copy-storage-all \
		--disks-uri "unix:$T/${_t}nbd.sock" $_bw "$@"
	wait_for 30 "the $_ph phase" phase_seen "$_ph"
	wait_for 30 "a $_ph progress sample" progress_seen "$_ph"
}

# hold_after_stream: a fresh pair migrates with its disk copied, and
# mig-recv is frozen (SIGSTOP) in the memory phase (4 s long at 16 MiB/s;
# a 10 s downtime limit ends it after that pass): the stream completes,
# the destination holds the guest paused, the source waits for its word.
hold_after_stream() {
	start_pair memory
	recv_start --incoming "unix:$T/mig.sock" --nbd "unix:$T/nbd.sock" \
		--timeout 120
	send_start --migrate-uri "unix:$T/mig.sock" --copy-storage-all \
		--disks-uri "unix:$T/nbd.sock" --bandwidth 16 --downtime 10000
	wait_for 30 "the memory phase" phase_seen memory
	# mig-recv hands the source's connection to QEMU: freeze it only
	# once QEMU has the stream.
	wait_for 30 "the destination to take the stream" dst_incoming_active
	kill -STOP $RECV_PID
	wait_for 60 "the stream to complete" phase_seen completed
	[ "$(guest_status src)" = paused ] || fail "the source guest is not paused"
}

# dst_incoming_active: QEMU "dst" receives the stream.
dst_incoming_active() {
	hmp dst 'info migrate' | tr -d '\r' | grep -q "^Migration status: active"
}

# end_case: stop whatever QEMU and tunnel is left, for the next case.
end_case() {
	stop_qemu src
	stop_qemu dst
	[ -n "${TUNNEL_PID:-}" ] && stop_pid "$TUNNEL_PID"
	[ -n "${TUNNEL_LISTEN_PID:-}" ] && stop_pid "$TUNNEL_LISTEN_PID"
	TUNNEL_PID= TUNNEL_LISTEN_PID=
	rm -f "$T"/*.sock
}

# outcome_is TOOL WORDS: the tool's --json summary ends with that outcome.
outcome_is() {
	grep -q "\"outcome\":\"$2\"" "$T/$1.json" ||
		fail "mig-$1's summary does not say '$2': $(tail -n 1 "$T/$1.json")"
}

# host_config HOST ARGS...: mig-config on host HOST, whose config and run
# directories are $T/HOST/etc and $T/HOST/run (two hosts never share them).
# With IN_NS set, it runs in HOST's mount namespace (in_ns).
host_config() {
	_h=$1; shift
	${IN_NS:+in_ns "$_h"} "$BIN/mig-config" --config-dir "$T/$_h/etc" \
		--run-dir "$T/$_h/run" "$@"
}

# in_ns HOST CMD...: CMD (exec'd, so its PID is in_ns's) in a new mount
# namespace that sees what the host sees, but a private /tmp/migdir (bind
# mounted from $T/migdir, shared by every HOST) and $T/disks (from
# $T/HOST-disks, HOST's own): two hosts that share one directory.
# require_ns skips a test where unshare cannot do that.
in_ns() {
	unshare -m sh -c '
		set -e
		T=$0 TREE=$1 H=$2
		shift 2
		mount --make-rprivate /
		mount --rbind /tmp /mnt
		mount -t tmpfs mig-ns /tmp
		# What lives in /tmp stays in sight: the test directory, and
		# the tree (its binaries and guest) when it was cloned there.
		for d in "$T" "$TREE"; do
			case $d in /tmp/*)
				mkdir -p "$d"
				mount --rbind "/mnt${d#/tmp}" "$d" ;;
			esac
		done
		umount -l /mnt
		mkdir -p /tmp/migdir
		mount --bind "$T/migdir" /tmp/migdir
		mount --bind "$T/$H-disks" "$T/disks"
		exec "$@"' "$T" "$TOP" "$@"
}

require_ns() {
	require unshare
	mkdir -p "$T/migdir" "$T/nscheck-disks" "$T/disks"
	in_ns nscheck true 2>"$T/ns.err" ||
		skip "unshare -m with bind mounts does not work here: $(head -n 1 "$T/ns.err")"
}

# host_dirs HOST: mig-send's or mig-recv's options for HOST's directories.
host_dirs() { echo "--config-dir $T/$1/etc --run-dir $T/$1/run"; }

# host_start HOST start|create ARG [OPTIONS...]: start a guest with
# mig-config on HOST, its QEMU stopped with the test; GUEST_PID is its pid.
host_start() {
	_h=$1; shift
	host_config "$_h" "$@" >"$T/$_h.start.out" 2>"$T/$_h.start.err" ||
		{ cat "$T/$_h.start.err" >&2; fail "mig-config $* on $_h"; }
	GUEST_PID=$(sed -n "s/^guest '.*' started (pid \([0-9]*\)).*/\1/p" \
		"$T/$_h.start.out")
	[ -n "$GUEST_PID" ] || fail "mig-config $* printed no pid"
	track "$GUEST_PID"
}
