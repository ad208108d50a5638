#!/bin/sh
# --copy-storage-all over unix sockets: the guest moves with its disk, and
# data written on the source while the disk is being copied arrives.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/qemu.sh"
. "$(dirname "$0")/mig.sh"
require_qemu

pair_disks
# Reads throttled to 4 MiB/s: the 8 MiB of data take about two seconds to
# copy, a window in which the test writes to the source disk.
pair_start throttle 4194304

recv_start --incoming "unix:$T/mig.sock" --nbd "unix:$T/nbd.sock" --timeout 150
send_start --migrate-uri "unix:$T/mig.sock" --copy-storage-all \
	--disks-uri "unix:$T/nbd.sock"
copy_writes

assert_moved "$T/src0.qcow2" "$T/dst0.qcow2"
copy_writes_arrived "$T/dst0.qcow2"
