# Helpers for migration tests, sourced after test/lib.sh, on top of the
# QEMU, image and counter helpers of scripts/lib.sh (start_guest, mkdisk,
# fill_disk, disks_identical, guest_counts, continuity_why, ...).  QEMU
# runs (TCG) the test guest (build/guest/guest.elf, see test/guest/guest.S),
# which prints "count N pass P errors E" lines on its serial port.
#
# Per QEMU instance NAME, everything lives in $T:
#   NAME.serial  the guest's serial output      NAME.log  QEMU's stdout/stderr
#   NAME.qmp     QMP socket (for the tool)      NAME.hmp  HMP socket (for tests)
#   NAME.pid     pidfile
# The PID is printed by 'qemu_pid NAME'.
#
# Knobs: GUEST_MEM (MiB, 64), GUEST_ELF, QEMU_ACCEL (tcg), WAIT_SECS (60,
# deadline of the waits here), MON_SECS (30, deadline of one hmp/qmp_cmd).

# require_qemu: skip the test unless QEMU and its tools are there.
require_qemu() { require "$QEMU" qemu-img qemu-io socat; }

# disk_args NODE FILE [FORMAT]: QEMU arguments for FILE as block node NODE
# on a virtio-blk-pci device with id NODE (FORMAT probed if not given; a
# qcow2's backing chain is opened by QEMU).  Use unquoted: $(disk_args ...).
# The device does not share write permission, so HMP 'qemu-io NODE ...'
# fails with a permission conflict: go through the device's own backend,
# hmp NAME 'qemu-io -d /machine/peripheral/NODE/virtio-backend "write ..."'
# (its I/O results go to QEMU's stdout, $T/NAME.log, not to the monitor).
disk_args() {
	_fmt=${3:-$(img_format "$2")}
	[ -n "$_fmt" ] || fail "disk_args: cannot read $2"
	echo "-blockdev driver=$_fmt,node-name=$1,file.driver=file,file.filename=$2" \
		"-device virtio-blk-pci,drive=$1,id=$1"
}

# start_src NAME [ARGS...]: a running guest.
start_src() { start_guest "$@" || fail "$WHY"; }

# start_dst NAME [ARGS...]: a guest waiting for migrate-incoming.
start_dst() { start_guest "$@" -incoming defer || fail "$WHY"; }

# stop_qemu NAME: stop that QEMU (TERM, then KILL) and reap it.
stop_qemu() { stop_pid "$(qemu_pid "$1")"; }

# _mon_talk SOCKET OUT DONE-CMD LINE...: connect to SOCKET, send the lines,
# keep the connection until DONE-CMD OUT succeeds (or the peer hangs up or
# MON_SECS pass), write what came back to OUT.  Fails (returns 1) unless
# DONE-CMD succeeded.
_mon_talk() {
	_sock=$1 _out=$2 _done=$3; shift 3
	[ -S "$_sock" ] || { echo "no monitor socket $_sock" >&2; return 1; }
	rm -f "$_out" "$_out.rc"
	: >"$_out"
	{
		printf '%s\n' "$@"
		_end=$(( $(date +%s) + ${MON_SECS:-30} ))
		until $_done "$_out" || [ -e "$_out.rc" ] ||
		      [ "$(date +%s)" -ge "$_end" ]; do
			sleep 0.05
		done
	} | { socat - "UNIX-CONNECT:$_sock" >"$_out" 2>"$_out.err"
	      echo $? >"$_out.rc"; }
	$_done "$_out" && return 0
	echo "no answer on $_sock:" >&2
	cat "$_out.err" "$_out" >&2
	return 1
}

# The banner's prompt, then the one after the command.
_hmp_done() { [ "$(tr -d '\r' <"$1" | grep -o '(qemu) ' | wc -l)" -ge 2 ]; }

# hmp NAME 'COMMAND': run one HMP command on NAME's HMP socket, print its
# output (without banner, echo and prompt).
hmp() {
	_mon_talk "$T/$1.hmp" "$T/$1.hmp.out" _hmp_done "$2" || return 1
	# banner, "(qemu) <echoed command>", output..., "(qemu) "
	tr -d '\r' <"$T/$1.hmp.out" | sed '1,2d; $d'
}

_qmp_replies() { grep -E '^\{"(return|error)"' "$1"; }
_qmp_done() { [ "$(_qmp_replies "$1" | wc -l)" -ge 2 ]; }

# qmp_cmd NAME JSON: run one QMP command on NAME's QMP socket (only while
# nothing else is connected to it: QEMU serves one client at a time, a
# second one waits unanswered until MON_SECS), print the reply line; status
# 1 if the reply is an error.
qmp_cmd() {
	_mon_talk "$T/$1.qmp" "$T/$1.qmp.out" _qmp_done \
		'{"execute":"qmp_capabilities"}' "$2" || return 1
	_r=$(_qmp_replies "$T/$1.qmp.out" | sed -n 2p)
	printf '%s\n' "$_r"
	case $_r in '{"return"'*) return 0 ;; esac
	return 1
}

# wait_count NAME N: wait until guest NAME printed at least N count lines.
wait_count() {
	wait_for "${WAIT_SECS:-60}" "$2 counts from guest $1" \
		has_counts "$2" "$T/$1.serial"
}

# check_continuity SRC.serial DST.serial: the guest went on across the
# switch (continued, scripts/lib.sh), or the test fails.
check_continuity() { continued "$1" "$2" "${WAIT_SECS:-60}" || fail "$WHY"; }

# guest_def FILE NAME SERIAL: a mig-config definition (mig-config(5)) of
# the test guest named NAME, with the knobs start_guest takes, its serial
# port appended to SERIAL (so a migrated guest's source and destination,
# started from one definition, write one log that check_continuity reads).
guest_def() {
	[ -f "$GUEST" ] || fail "no $GUEST (make guest)"
	{
		echo "# the test guest, for mig-config"
		echo "name $2"
		echo "qemu $QEMU"
		for _a in -M pc -accel "${QEMU_ACCEL:-tcg}" -m "${GUEST_MEM:-64}" \
		    -display none -nodefaults -no-user-config \
		    -kernel "$GUEST" \
		    -chardev "file,id=serial,path=$3,append=on" \
		    -serial chardev:serial; do
			echo "arg $_a"
		done
	} >"$1"
}
