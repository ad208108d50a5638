#!/bin/sh
# SIGINT to mig-send while the disk is being copied: mig-send rolls back
# and exits 1, the source guest runs on with no block job, NBD node or
# migration capability left behind, and the destination QEMU is gone
# (mig-recv quits it, or it gives up by itself) with mig-recv exiting 1.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/qemu.sh"
. "$(dirname "$0")/mig.sh"
require_qemu

pair_disks
# Reads throttled to 2 MiB/s: the 8 MiB of data take about 4 s to copy
# (and as long to cancel: a forced cancel still waits for the reads in
# flight).
pair_start throttle 2097152

recv_start --incoming "unix:$T/mig.sock" --nbd "unix:$T/nbd.sock" --timeout 120
send_start --migrate-uri "unix:$T/mig.sock" --copy-storage-all \
	--disks-uri "unix:$T/nbd.sock"
wait_for 30 "the disk-copy phase" phase_seen disk-copy
wait_for 30 "a disk-copy progress sample" progress_seen disk-copy
kill -INT $SEND_PID
expect_status send $SEND_PID 1 60
phase_seen memory && fail "the disk copy ended before the signal"
grep -q 'interrupted by signal' "$T/send.err" ||
	fail "mig-send does not say it was interrupted: $(cat "$T/send.err")"

wait_for 30 "the destination QEMU to exit" pid_gone "$(qemu_pid dst)"
expect_status recv $RECV_PID 1 30
source_clean
