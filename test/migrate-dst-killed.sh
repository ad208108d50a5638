#!/bin/sh
# The destination QEMU killed (SIGKILL) during the disk copy, then during
# the memory phase: each time mig-send rolls back and exits 1, the source
# guest runs on with no block job, NBD node or migration capability left
# behind, and mig-recv exits 1.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/qemu.sh"
. "$(dirname "$0")/mig.sh"
require_qemu

pair_disks

# kill_dst_during PHASE [MIG-SEND ARGS...]: migrate, kill -9 the
# destination QEMU once mig-send reported progress in PHASE, check the
# aftermath.
kill_dst_during() {
	_phase=$1; shift
	note "destination killed during $_phase"
	recv_start --incoming "unix:$T/mig.sock" --nbd "unix:$T/nbd.sock" \
		--timeout 120
	send_start --migrate-uri "unix:$T/mig.sock" --copy-storage-all \
		--disks-uri "unix:$T/nbd.sock" "$@"
	wait_for 30 "the $_phase phase" phase_seen "$_phase"
	wait_for 30 "a $_phase progress sample" progress_seen "$_phase"
	_dst=$(qemu_pid dst)
	kill -KILL "$_dst"
	wait_for 10 "the destination QEMU to die" pid_gone "$_dst"
	expect_status send $SEND_PID 1 60
	phase_seen switch-over && fail "the switch-over began before the kill"
	[ "$_phase" = memory ] || ! phase_seen memory ||
		fail "the disk copy ended before the kill"
	expect_status recv $RECV_PID 1 30
	source_clean
}

# During the disk copy: reads throttled to 4 MiB/s, the 8 MiB of data take
# about 2 s to copy.
pair_start throttle 4194304
kill_dst_during disk-copy
stop_qemu src

# During the memory phase: at 4 MiB/s it lasts (the guest dirties memory
# faster than that).
pair_start
kill_dst_during memory --bandwidth 4
