#!/bin/sh
# mig-send --migrate-uri - | mig-recv --incoming -, a real pipeline, with
# the disks copied over a unix socket: the stream goes through the pipe,
# and mig-send, which cannot see mig-recv's "ready", waits for the NBD
# server by itself.  Both exit 0, the guest moved with its disk.  A pipe
# carries nothing back, so mig-send cannot hear that the destination runs
# the guest: it leaves the source QEMU paused and says so.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/qemu.sh"
. "$(dirname "$0")/mig.sh"
require_qemu

pair_disks
pair_start throttle 4194304

# Each side runs in the background inside its element of the pipeline, so
# that its PID can be tracked and its status written to a file.  An
# asynchronous command's stdin is /dev/null unless redirected: mig-recv
# gets the pipe through fd 3.  With --migrate-uri -, mig-send's --json
# lines go to stderr.
(
	{
		"$BIN/mig-send" --qmp "unix:$T/src.qmp" --json --migrate-uri - \
			--copy-storage-all --disks-uri "unix:$T/nbd.sock" \
			2>"$T/send.err" </dev/null &
		echo $! >"$T/send.pid"
		wait $!
		echo $? >"$T/send.rc"
	} | {
		"$BIN/mig-recv" --qmp "unix:$T/dst.qmp" --incoming - \
			--nbd "unix:$T/nbd.sock" --timeout 150 \
			>"$T/recv.out" 2>"$T/recv.err" <&3 3<&- &
		echo $! >"$T/recv.pid"
		wait $!
		echo $? >"$T/recv.rc"
	} 3<&0
) &
PIPE_PID=$!
track $PIPE_PID
wait_for 10 "the pipeline's PIDs" test -s "$T/send.pid" -a -s "$T/recv.pid"
SEND_PID=$(cat "$T/send.pid")
RECV_PID=$(cat "$T/recv.pid")
track "$SEND_PID"
track "$RECV_PID"

seen() { grep -q "\"event\":\"phase\",\"phase\":\"$1\"" "$T/send.err"; }
# Known race (lib/migrate/send.c send_probe): mig-recv's NBD server listens
# before its exports are added, and mig-send retries only while nothing
# listens, so now and then it exits 2 with "the destination exports no
# disk 'vd0'".  Fail at once with its message rather than at the deadline.
_copying() {
	[ -s "$T/send.rc" ] && { cat "$T/send.err" >&2
		fail "mig-send exited $(cat "$T/send.rc") before the disk copy"; }
	seen disk-copy
}
wait_for 30 "the disk-copy phase" _copying
grep -qx ready "$T/recv.out" || fail "mig-recv did not print ready"
disk_io src vd0 'write -P 0x77 40M 1M' >/dev/null
disk_io src vd0 'write -P 0x78 1M 64k' >/dev/null
wait_for 30 "the writes to complete" disk_io_done src 2
seen switch-over && fail "the writes were not made during the disk copy"

wait_exit $PIPE_PID 180
for side in send recv; do
	[ -s "$T/$side.rc" ] || fail "no exit status from mig-$side"
	rc=$(cat "$T/$side.rc")
	[ "$rc" = 0 ] || { cat "$T/$side.err" >&2; fail "mig-$side exited $rc"; }
done
seen memory || fail "no memory phase"
grep -q '"event":"summary","result":"completed"' "$T/send.err" ||
	fail "no summary line"
grep -q 'the source QEMU is left paused' "$T/send.err" ||
	fail "mig-send did not say the source is left paused"
[ "$(guest_status src)" = paused ] || fail "the source guest is not paused"
stop_qemu src
assert_switched "$T/src0.qcow2" "$T/dst0.qcow2"
copy_writes_arrived "$T/dst0.qcow2"
