#!/bin/sh
# A post-copy live migration with --copy-storage-all through two
# mig-tunnels joined by socat over TCP: the return path and the page
# requests of post-copy cross the tunnel while the NBD mirror has finished.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/qemu.sh"
. "$(dirname "$0")/mig.sh"
require_qemu ss

mkdisk "$T/src0.qcow2" 64M
fill_disk "$T/src0.qcow2"
mkdisk "$T/dst0.qcow2" 64M
start_src src $(disk_args vd0 "$T/src0.qcow2")
start_dst dst $(disk_args vd0 "$T/dst0.qcow2")
wait_count src 2

recv_start --incoming "unix:$T/mig.sock" --nbd "unix:$T/nbd.sock" \
	--postcopy --timeout 150
tunnel_pair
# 32 MiB/s cannot keep up with the guest's dirtying: only post-copy ends it.
send_start --migrate-uri "unix:$T/tmig.sock" --copy-storage-all \
	--disks-uri "unix:$T/tnbd.sock" --postcopy --postcopy-after-precopy \
	--bandwidth 32

expect_status send $SEND_PID 0
expect_status recv $RECV_PID 0
phase_seen postcopy || fail "the migration never switched to post-copy"
wait_for 10 "the source QEMU to quit" pid_gone "$(qemu_pid src)"
[ "$(guest_status dst)" = running ] || fail "destination guest is not running"
check_continuity "$T/src.serial" "$T/dst.serial"
stop_qemu dst
disks_identical "$T/src0.qcow2" "$T/dst0.qcow2" || fail "disks differ"
