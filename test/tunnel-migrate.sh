#!/bin/sh
# The real thing: a live migration with --copy-storage-all and --parallel
# (4 channels) whose every socket (migration stream, 4 multifd channels,
# NBD) goes through two mig-tunnels joined by socat over TCP.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/qemu.sh"
. "$(dirname "$0")/mig.sh"
require_qemu ss

mkdisk "$T/src0.qcow2" 64M
fill_disk "$T/src0.qcow2"
mkdisk "$T/dst0.qcow2" 64M
start_src src $(throttled_disk_args vd0 "$T/src0.qcow2" 4194304)
start_dst dst $(disk_args vd0 "$T/dst0.qcow2")
wait_count src 2

recv_start --incoming "unix:$T/mig.sock" --nbd "unix:$T/nbd.sock" \
	--parallel --parallel-connections 4 --timeout 150
tunnel_pair
# --timeout: on a loaded machine the guest may dirty memory faster than the
# relays move it; then it is suspended and the migration still completes.
send_start --migrate-uri "unix:$T/tmig.sock" --copy-storage-all \
	--disks-uri "unix:$T/tnbd.sock" --parallel --parallel-connections 4 \
	--timeout 60
wait_for 30 "the disk-copy phase" phase_seen disk-copy
disk_io src vd0 'write -P 0x77 40M 1M' >/dev/null
wait_for 30 "the write to complete" disk_io_done src 1
phase_seen switch-over && fail "the write was not made during the disk copy"

expect_status send $SEND_PID 0
expect_status recv $RECV_PID 0
wait_for 10 "the source QEMU to quit" pid_gone "$(qemu_pid src)"
[ "$(guest_status dst)" = running ] || fail "destination guest is not running"
check_continuity "$T/src.serial" "$T/dst.serial"
stop_qemu dst
disks_identical "$T/src0.qcow2" "$T/dst0.qcow2" || fail "disks differ"
pattern_at "$T/dst0.qcow2" 0x77 40M 1M || fail "write during copy missing"
