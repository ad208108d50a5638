#!/bin/sh
# Every disk layout of migrate-layouts.sh, in one guest, through a managed
# migration: mig-recv --listen --once launches the destination from the
# definition the source sends (its hook moving the disks to the
# destination's directory) and creates each of the nine images itself,
# finding its file in every spelling: -drive (if=virtio, if=ide, if=none
# with a virtio-blk or scsi-hd device), -blockdev (virtio-blk, scsi-hd,
# ide-hd, an anonymous device on a named node) and libvirt's -blockdev
# JSON with a separate file node.  mig-send copies all nine: the guest
# continues there and each destination image reads like its source.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/qemu.sh"
. "$(dirname "$0")/mig.sh"
require_qemu

DISKS="drv1 drv2 vd3 disk4 ide5 virtio-disk0 ide0-hd1 drv8 anon9"
d=$T/src/disks
mkdir -p "$d"
for id in $DISKS; do
	mkdisk "$d/$id.qcow2" 16M
	fill_disk "$d/$id.qcow2"
done
guest_def "$T/g.def" g "$T/g.serial"
for a in -device virtio-scsi-pci,id=scsi0 \
    -drive "file=$d/drv1.qcow2,format=qcow2,if=virtio,id=drv1" \
    -drive "file=$d/drv2.qcow2,format=qcow2,if=none,id=drv2" \
    -device virtio-blk-pci,drive=drv2,id=vblk2 \
    $(disk_args vd3 "$d/vd3.qcow2" qcow2) \
    -blockdev "driver=qcow2,node-name=disk4-fmt,file.driver=file,file.filename=$d/disk4.qcow2" \
    -device scsi-hd,drive=disk4-fmt,id=disk4,bus=scsi0.0 \
    -blockdev "driver=qcow2,node-name=ide5-fmt,file.driver=file,file.filename=$d/ide5.qcow2" \
    -device ide-hd,drive=ide5-fmt,id=ide5,bus=ide.1 \
    -blockdev "{\"driver\":\"file\",\"filename\":\"$d/virtio-disk0.qcow2\",\"node-name\":\"libvirt-1-storage\",\"auto-read-only\":true,\"discard\":\"unmap\"}" \
    -blockdev '{"node-name":"libvirt-1-format","read-only":false,"driver":"qcow2","file":"libvirt-1-storage"}' \
    -device virtio-blk-pci,drive=libvirt-1-format,id=virtio-disk0,bootindex=1 \
    -drive "file=$d/ide0-hd1.qcow2,format=qcow2,if=ide,index=1" \
    -drive "file=$d/drv8.qcow2,format=qcow2,if=none,id=drv8" \
    -device scsi-hd,drive=drv8,id=scsi8,bus=scsi0.0 \
    -blockdev "driver=qcow2,node-name=anon9,file.driver=file,file.filename=$d/anon9.qcow2" \
    -device virtio-blk-pci,drive=anon9; do
	echo "arg $a"
done >>"$T/g.def"
host_start src create "$T/g.def"
src_pid=$GUEST_PID
wait_for 30 "counts from the source guest" has_counts 2 "$T/g.serial"
dst_hook_moves src
listen_start --once
send_start_with --domain g $(host_dirs src) --copy-storage-all \
	--desturi "unix:$T/ctl.sock"
expect_status send $SEND_PID 0
outcome_is send "destination running"
for id in $DISKS; do
	grep -q "created disk '$id': $T/dst/disks/$id.qcow2 (qcow2, 16777216 bytes)" \
		"$T/recv.err" || fail "mig-recv did not create '$id': $(cat "$T/recv.err")"
	grep -q "\"id\":\"$id\",\"bytes\":[1-9]" "$T/send.json" ||
		fail "mig-send did not copy '$id': $(tail -n 1 "$T/send.json")"
done
wait_for 10 "the source QEMU to quit" pid_gone "$src_pid"
check_continuity "$T/g.serial" /dev/null
track "$(cat "$T/dst/run/g/pid")"
host_config dst destroy g >/dev/null || fail "destroy on dst"
expect_status recv $RECV_PID 0
for id in $DISKS; do
	qemu-img compare -q "$d/$id.qcow2" "$T/dst/disks/$id.qcow2" ||
		fail "disk '$id' differs"
done
