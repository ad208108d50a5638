#!/bin/sh
# --copy-storage-synchronous-writes: the mirror runs in write-blocking mode,
# so a write the guest makes during the disk copy has reached the
# destination by the time it completes on the source (the destination disk
# is raw: what its NBD server wrote is in the file at once), long before
# the background copy gets there.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/qemu.sh"
. "$(dirname "$0")/mig.sh"
require_qemu

mkdisk "$T/src0.qcow2" 64M
fill_disk "$T/src0.qcow2"
mkdisk "$T/dst0.raw" 64M raw
# Reads throttled to 2 MiB/s: the 8 MiB of data take about four seconds.
start_src src $(throttled_disk_args vd0 "$T/src0.qcow2" 2097152)
start_dst dst $(disk_args vd0 "$T/dst0.raw")
wait_count src 2

recv_start --incoming "unix:$T/mig.sock" --nbd "unix:$T/nbd.sock" --timeout 150
send_start --migrate-uri "unix:$T/mig.sock" --copy-storage-all \
	--disks-uri "unix:$T/nbd.sock" --copy-storage-synchronous-writes
wait_for 30 "the disk-copy phase" phase_seen disk-copy
disk_io src vd0 'write -P 0x77 60M 1M' >/dev/null
wait_for 30 "the first write to complete" disk_io_done src 1
# The background copy, in offset order, is still far from 60M.
pattern_at "$T/dst0.raw" 0x77 60M 1M ||
	fail "a completed write was not on the destination: not write-blocking"
phase_seen memory && fail "the disk copy ended before the check"
disk_io src vd0 'write -P 0x78 1M 64k' >/dev/null
wait_for 30 "the second write to complete" disk_io_done src 2
pattern_at "$T/dst0.raw" 0x78 1M 64k ||
	fail "a completed write was not on the destination: not write-blocking"
phase_seen switch-over && fail "the writes were not made during the disk copy"

assert_moved "$T/src0.qcow2" "$T/dst0.raw"
pattern_at "$T/dst0.raw" 0x77 60M 1M || fail "write during copy (60M) missing"
pattern_at "$T/dst0.raw" 0x78 1M 64k || fail "write during copy (1M) missing"
