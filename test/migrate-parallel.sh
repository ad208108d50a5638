#!/bin/sh
# --parallel --parallel-connections 4 on both sides, disks copied too: the
# destination accepts 1 + 4 connections on the migration socket (the main
# stream and four multifd channels).  The memory stream is held at 32
# MiB/s, under which the guest never converges, until the test has counted
# them; then the test lifts the limit over the source's HMP.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/qemu.sh"
. "$(dirname "$0")/mig.sh"
require_qemu

# conns N: N connected sockets bound to the migration socket's path: the
# destination's accepted ends (a client's end has no path).
conns() { [ "$(nconns)" = "$1" ]; }
nconns() {
	awk -v p="$T/mig.sock" '$6 == "03" && $8 == p' /proc/net/unix | wc -l
}

mkdisk "$T/src0.qcow2" 64M
fill_disk "$T/src0.qcow2"
mkdisk "$T/dst0.qcow2" 64M
start_src src $(throttled_disk_args vd0 "$T/src0.qcow2" 4194304)
start_dst dst $(disk_args vd0 "$T/dst0.qcow2")
wait_count src 2

recv_start --incoming "unix:$T/mig.sock" --nbd "unix:$T/nbd.sock" \
	--parallel --parallel-connections 4 --timeout 150
hmp dst 'info migrate_capabilities' | grep -qx 'multifd: on' ||
	fail "multifd is not on on the destination"
hmp dst 'info migrate_parameters' | grep -qx 'multifd-channels: 4' ||
	fail "the destination does not expect 4 channels"
send_start --migrate-uri "unix:$T/mig.sock" --copy-storage-all \
	--disks-uri "unix:$T/nbd.sock" --parallel --parallel-connections 4 \
	--bandwidth 32
wait_for 30 "the disk-copy phase" phase_seen disk-copy
disk_io src vd0 'write -P 0x77 40M 1M' >/dev/null
disk_io src vd0 'write -P 0x78 1M 64k' >/dev/null
wait_for 30 "the writes to complete" disk_io_done src 2
phase_seen switch-over && fail "the writes were not made during the disk copy"

wait_for 30 "the memory phase" phase_seen memory
wait_for 20 "5 connections on the migration socket" conns 5
phase_seen switch-over && fail "precopy converged under the bandwidth limit"
out=$(hmp src 'migrate_set_parameter max-bandwidth 8G') && [ -z "$out" ] ||
	fail "lifting the bandwidth limit: $out"

expect_status send $SEND_PID 0
expect_status recv $RECV_PID 0
wait_for 10 "the source QEMU to quit" pid_gone "$(qemu_pid src)"
[ "$(guest_status dst)" = running ] || fail "destination guest is not running"
check_continuity "$T/src.serial" "$T/dst.serial"
grep -q '"event":"summary","result":"completed"' "$T/send.json" ||
	fail "no summary line"
stop_qemu dst
disks_identical "$T/src0.qcow2" "$T/dst0.qcow2" || fail "disks differ"
pattern_at "$T/dst0.qcow2" 0x77 40M 1M || fail "write during copy (40M) missing"
pattern_at "$T/dst0.qcow2" 0x78 1M 64k || fail "write during copy (1M) missing"
