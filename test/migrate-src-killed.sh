#!/bin/sh
# The source QEMU killed (SIGKILL) during the disk copy, then during the
# memory phase: each time mig-send exits 5 (the guest is lost with its
# QEMU) and tells the destination,
# whose QEMU goes away, and mig-recv exits 1: nothing is left waiting.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/qemu.sh"
. "$(dirname "$0")/mig.sh"
require_qemu

pair_disks

# killed PHASE [MIG-SEND ARGS...]: kill_during src PHASE, then the aftermath.
killed() {
	kill_during src "$@"
	wait_for 30 "the destination QEMU to exit" pid_gone "$(qemu_pid dst)"
	expect_status recv $RECV_PID 1 30
}

# During the disk copy (no migration stream yet): reads throttled to
# 4 MiB/s, the 8 MiB of data take about 2 s to copy.
pair_start throttle 4194304
killed disk-copy

# During the memory phase (at 4 MiB/s it lasts).
pair_start
killed memory --bandwidth 4
