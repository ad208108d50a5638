#!/bin/sh
# The source QEMU killed (SIGKILL) during the disk copy, then during the
# memory phase: each time mig-send exits 1 and tells the destination,
# whose QEMU goes away, and mig-recv exits 1: nothing is left waiting.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/qemu.sh"
. "$(dirname "$0")/mig.sh"
require_qemu

pair_disks

# kill_src_during PHASE [MIG-SEND ARGS...]: migrate, kill -9 the source
# QEMU once mig-send reported progress in PHASE, check the aftermath.
kill_src_during() {
	_phase=$1; shift
	note "source killed during $_phase"
	recv_start --incoming "unix:$T/mig.sock" --nbd "unix:$T/nbd.sock" \
		--timeout 120
	send_start --migrate-uri "unix:$T/mig.sock" --copy-storage-all \
		--disks-uri "unix:$T/nbd.sock" "$@"
	wait_for 30 "the $_phase phase" phase_seen "$_phase"
	wait_for 30 "a $_phase progress sample" progress_seen "$_phase"
	_src=$(qemu_pid src)
	kill -KILL "$_src"
	wait_for 10 "the source QEMU to die" pid_gone "$_src"
	expect_status send $SEND_PID 1 60
	[ "$_phase" = memory ] || ! phase_seen memory ||
		fail "the disk copy ended before the kill"
	wait_for 30 "the destination QEMU to exit" pid_gone "$(qemu_pid dst)"
	expect_status recv $RECV_PID 1 30
}

# During the disk copy (no migration stream yet): reads throttled to
# 4 MiB/s, the 8 MiB of data take about 2 s to copy.
pair_start throttle 4194304
kill_src_during disk-copy

# During the memory phase (at 4 MiB/s it lasts).
pair_start
kill_src_during memory --bandwidth 4
