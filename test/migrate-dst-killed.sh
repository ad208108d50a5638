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

# killed PHASE [MIG-SEND ARGS...]: kill_during dst PHASE, then the aftermath.
killed() {
	kill_during dst "$@"
	expect_status recv $RECV_PID 1 30
	source_clean
}

# During the disk copy: reads throttled to 4 MiB/s, the 8 MiB of data take
# about 2 s to copy.
pair_start throttle 4194304
killed disk-copy
stop_qemu src

# During the memory phase: at 4 MiB/s it lasts (the guest dirties memory
# faster than that).
pair_start
killed memory --bandwidth 4
