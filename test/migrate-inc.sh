#!/bin/sh
# --copy-storage-inc over a backing chain: both sides have the same base
# image, only the source's top image (and what the guest writes during the
# copy) crosses; afterwards the destination's chain reads like the source's
# and the destination's base is untouched.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/qemu.sh"
. "$(dirname "$0")/mig.sh"
require_qemu

SIZE=67108864
mkdisk "$T/base.qcow2" 64M
fill_disk "$T/base.qcow2"			# 8 MiB of data in the base
cp "$T/base.qcow2" "$T/dst-base.qcow2" || fail "cp base"
mkdisk "$T/src-top.qcow2" "" qcow2 "$T/base.qcow2"
# 4 MiB in the top image: two chunks over the base's data, one over a hole.
head -c 2097152 /dev/urandom >"$T/top.rand" || fail "no random data"
qemu-io -f qcow2 -c "write -q -s $T/top.rand 1M 2M" \
	-c "write -q -P 0x3c 24M 1M" -c "write -q -P 0x3d 58M 1M" \
	"$T/src-top.qcow2" || fail "writing the top image"
mkdisk "$T/dst-top.qcow2" "" qcow2 "$T/dst-base.qcow2"
disks_identical "$T/src-top.qcow2" "$T/dst-top.qcow2" >/dev/null &&
	fail "the chains are equal before the migration"
# Reads throttled to 2 MiB/s: the top's 4 MiB take about two seconds.
start_src src $(throttled_disk_args vd0 "$T/src-top.qcow2" 2097152)
start_dst dst $(disk_args vd0 "$T/dst-top.qcow2")
wait_count src 2

recv_start --incoming "unix:$T/mig.sock" --nbd "unix:$T/nbd.sock" --timeout 150
send_start --migrate-uri "unix:$T/mig.sock" --copy-storage-inc \
	--disks-uri "unix:$T/nbd.sock"
wait_for 30 "the disk-copy phase" phase_seen disk-copy
disk_io src vd0 'write -P 0x77 40M 1M' >/dev/null
disk_io src vd0 'write -P 0x78 2M 64k' >/dev/null
wait_for 30 "the writes to complete" disk_io_done src 2
phase_seen switch-over && fail "the writes were not made during the disk copy"

assert_moved "$T/src-top.qcow2" "$T/dst-top.qcow2"
summary=$(grep '"event":"summary","result":"completed"' "$T/send.json") ||
	fail "no summary line"
bytes=$(printf '%s\n' "$summary" |
	sed -n 's/.*"disks":\[{"id":"vd0","bytes":\([0-9]*\),"size":'"$SIZE"'}\].*/\1/p')
[ -n "$bytes" ] || fail "no bytes for vd0 alone in the summary: $summary"
note "copied $bytes bytes of $SIZE"
# At least the top's 4 MiB and the 1 MiB written, far less than the disk.
[ "$bytes" -ge 5242880 ] || fail "only $bytes bytes copied"
[ "$bytes" -lt $((SIZE / 2)) ] ||
	fail "$bytes bytes copied: more than half the disk, not incremental"
disks_identical "$T/base.qcow2" "$T/dst-base.qcow2" ||
	fail "the destination's base image changed"
pattern_at "$T/dst-top.qcow2" 0x77 40M 1M || fail "write during copy (40M) missing"
pattern_at "$T/dst-top.qcow2" 0x78 2M 64k || fail "write during copy (2M) missing"
pattern_at "$T/dst-top.qcow2" 0x3c 24M 1M || fail "top image data (24M) missing"
