#!/bin/sh
# --migrate-disks on both sides: of two disks only vd1 is copied; vd0 is
# "shared storage", one raw file both QEMUs open (locking off), which
# neither tool may touch: the destination exports only vd1, the source
# mirrors only vd1, and the summary lists only vd1.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/qemu.sh"
. "$(dirname "$0")/mig.sh"
require_qemu
require qemu-nbd

# shared_disk_args NODE FILE: a raw file opened without image locking, so
# that the source and the destination QEMU can both hold it.
shared_disk_args() {
	echo "-blockdev driver=raw,node-name=$1,file.driver=file,file.filename=$2,file.locking=off" \
		"-device virtio-blk-pci,drive=$1,id=$1"
}

# A different size than vd1's, so that a mirror of vd0 would show.
mkdisk "$T/shared0.raw" 32M raw
fill_disk "$T/shared0.raw"
mkdisk "$T/src1.qcow2" 64M
fill_disk "$T/src1.qcow2"
mkdisk "$T/dst1.qcow2" 64M
start_src src $(shared_disk_args vd0 "$T/shared0.raw") \
	$(throttled_disk_args vd1 "$T/src1.qcow2" 4194304)
start_dst dst $(shared_disk_args vd0 "$T/shared0.raw") \
	$(disk_args vd1 "$T/dst1.qcow2")
wait_count src 2

recv_start --incoming "unix:$T/mig.sock" --nbd "unix:$T/nbd.sock" \
	--migrate-disks vd1 --timeout 150
# The destination's NBD server exports vd1 and nothing else.
timeout 20 qemu-nbd --list -k "$T/nbd.sock" >"$T/exports" 2>&1 ||
	{ cat "$T/exports" >&2; fail "qemu-nbd --list"; }
exports=$(sed -n "s/^ *export: '\(.*\)'$/\1/p" "$T/exports" | tr '\n' ' ')
[ "$exports" = "vd1 " ] || fail "destination exports '$exports', not only vd1"

send_start --migrate-uri "unix:$T/mig.sock" --copy-storage-all \
	--disks-uri "unix:$T/nbd.sock" --migrate-disks vd1
wait_for 30 "the disk-copy phase" phase_seen disk-copy
# On the source, one NBD client node, to export vd1, and one mirror job.
hmp src 'info block -n' >"$T/nodes"
# (mig-send hands QEMU its connections: the nodes name descriptors.)
nbd=$(tr -d '\r' <"$T/nodes" |
	sed -n 's|^[^ ]*: json:{.*"export": "\([^"]*\)".*"server.type": "fd"} (nbd)$|\1|p' |
	tr '\n' ' ')
[ "$nbd" = "vd1 " ] || { cat "$T/nodes" >&2
	fail "NBD client nodes for '$nbd' during the copy, expected vd1 only"; }
tops=$(grep -c '(mirror_top)$' "$T/nodes")
[ "$tops" = 1 ] && grep '(mirror_top)$' "$T/nodes" | grep -q src1.qcow2 ||
	fail "$tops mirror filters, expected one, on vd1"
jobs=$(hmp src 'info block-jobs' | grep -c '^Type mirror')
[ "$jobs" = 1 ] || fail "$jobs mirror jobs on the source, expected 1"
disk_io src vd1 'write -P 0x77 40M 1M' >/dev/null
disk_io src vd1 'write -P 0x78 1M 64k' >/dev/null
# A write to the shared disk goes straight to the shared file.
disk_io src vd0 'write -P 0x33 4M 64k' >/dev/null
wait_for 30 "the writes to complete" disk_io_done src 3
phase_seen switch-over && fail "the writes were not made during the disk copy"

assert_moved "$T/src1.qcow2" "$T/dst1.qcow2"
summary=$(grep '"event":"summary","result":"completed"' "$T/send.json") ||
	fail "no summary line"
disks=$(printf '%s\n' "$summary" | sed -n 's/.*"disks":\(\[[^]]*\]\).*/\1/p')
printf '%s\n' "$disks" | grep -Eq '^\[\{"id":"vd1","bytes":[1-9][0-9]*,"size":[1-9][0-9]*\}\]$' ||
	fail "summary disks are $disks, expected only vd1 with its bytes"
copy_writes_arrived "$T/dst1.qcow2"
pattern_at "$T/shared0.raw" 0x33 4M 64k || fail "write to the shared disk missing"
