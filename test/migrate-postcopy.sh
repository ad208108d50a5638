#!/bin/sh
# --postcopy with --postcopy-after-precopy, disks copied too: the memory
# stream is limited to 32 MiB/s, under which the guest (which dirties 32
# MiB all the time) never converges in precopy (QEMU's default 300 ms
# downtime allows ~10 MiB left), so only the switch to post-copy after
# the first pass, whose bandwidth QEMU does not limit, can finish it.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/qemu.sh"
. "$(dirname "$0")/mig.sh"
require_qemu

mkdisk "$T/src0.qcow2" 64M
fill_disk "$T/src0.qcow2"
mkdisk "$T/dst0.qcow2" 64M
start_src src $(throttled_disk_args vd0 "$T/src0.qcow2" 4194304)
start_dst dst $(disk_args vd0 "$T/dst0.qcow2")
wait_count src 2

recv_start --incoming "unix:$T/mig.sock" --nbd "unix:$T/nbd.sock" \
	--postcopy --timeout 150
send_start --migrate-uri "unix:$T/mig.sock" --copy-storage-all \
	--disks-uri "unix:$T/nbd.sock" --postcopy --postcopy-after-precopy \
	--bandwidth 32
wait_for 30 "the disk-copy phase" phase_seen disk-copy
disk_io src vd0 'write -P 0x77 40M 1M' >/dev/null
disk_io src vd0 'write -P 0x78 1M 64k' >/dev/null
wait_for 30 "the writes to complete" disk_io_done src 2
phase_seen switch-over && fail "the writes were not made during the disk copy"

expect_status send $SEND_PID 0
expect_status recv $RECV_PID 0
wait_for 10 "the source QEMU to quit" pid_gone "$(qemu_pid src)"
phase_seen postcopy || fail "the post-copy phase was never reached"
# The order mig-send announced: memory, switch-over (mirrors completed),
# post-copy, completed.
order=$(sed -n 's/.*"event":"phase","phase":"\([a-z-]*\)".*/\1/p' \
	"$T/send.json" | tr '\n' ' ')
[ "$order" = "disk-copy memory switch-over postcopy completed " ] ||
	fail "phases: $order"
[ "$(guest_status dst)" = running ] || fail "destination guest is not running"
check_continuity "$T/src.serial" "$T/dst.serial"
grep -q '"event":"summary","result":"completed"' "$T/send.json" ||
	fail "no summary line"
stop_qemu dst
disks_identical "$T/src0.qcow2" "$T/dst0.qcow2" || fail "disks differ"
pattern_at "$T/dst0.qcow2" 0x77 40M 1M || fail "write during copy (40M) missing"
pattern_at "$T/dst0.qcow2" 0x78 1M 64k || fail "write during copy (1M) missing"
