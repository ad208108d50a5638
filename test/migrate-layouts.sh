#!/bin/sh
# Every disk layout a user writes, in one guest: -drive (if=virtio, if=ide,
# if=none with a virtio-blk or scsi-hd device) and -blockdev (virtio-blk,
# scsi-hd, ide-hd, an anonymous device on a named node) and the -blockdev
# JSON with a separate file node that libvirt generates.  mig-recv exports
# every writable disk, mig-send copies every one: both exit 0, the guest
# moves, and each destination image reads like its source.  Before, a dry
# run lists them all with what the destination needs.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/qemu.sh"
. "$(dirname "$0")/mig.sh"
require_qemu

DISKS="drv1 drv2 vd3 disk4 ide5 virtio-disk0 ide0-hd1 drv8 anon9"

# layout SIDE: the QEMU arguments for side src or dst, disks $T/SIDE-ID.qcow2.
layout() {
	_d=$T/$1
	echo "-device virtio-scsi-pci,id=scsi0" \
	     "-drive file=$_d-drv1.qcow2,format=qcow2,if=virtio,id=drv1" \
	     "-drive file=$_d-drv2.qcow2,format=qcow2,if=none,id=drv2" \
	     "-device virtio-blk-pci,drive=drv2,id=vblk2" \
	     "$(disk_args vd3 "$_d-vd3.qcow2" qcow2)" \
	     "-blockdev driver=qcow2,node-name=disk4-fmt,file.driver=file,file.filename=$_d-disk4.qcow2" \
	     "-device scsi-hd,drive=disk4-fmt,id=disk4,bus=scsi0.0" \
	     "-blockdev driver=qcow2,node-name=ide5-fmt,file.driver=file,file.filename=$_d-ide5.qcow2" \
	     "-device ide-hd,drive=ide5-fmt,id=ide5,bus=ide.1" \
	     "-blockdev {\"driver\":\"file\",\"filename\":\"$_d-virtio-disk0.qcow2\",\"node-name\":\"libvirt-1-storage\",\"auto-read-only\":true,\"discard\":\"unmap\"}" \
	     "-blockdev {\"node-name\":\"libvirt-1-format\",\"read-only\":false,\"driver\":\"qcow2\",\"file\":\"libvirt-1-storage\"}" \
	     "-device virtio-blk-pci,drive=libvirt-1-format,id=virtio-disk0,bootindex=1" \
	     "-drive file=$_d-ide0-hd1.qcow2,format=qcow2,if=ide,index=1" \
	     "-drive file=$_d-drv8.qcow2,format=qcow2,if=none,id=drv8" \
	     "-device scsi-hd,drive=drv8,id=scsi8,bus=scsi0.0" \
	     "-blockdev driver=qcow2,node-name=anon9,file.driver=file,file.filename=$_d-anon9.qcow2" \
	     "-device virtio-blk-pci,drive=anon9"
}

for id in $DISKS; do
	mkdisk "$T/src-$id.qcow2" 16M
	fill_disk "$T/src-$id.qcow2"
	mkdisk "$T/dst-$id.qcow2" 16M
done
start_src src $(layout src)
start_dst dst $(layout dst)
wait_count src 2

# Before the destination is ready: --dry-run says what it needs, and
# changes nothing.
expect_exit 0 "$BIN/mig-send" --qmp "unix:$T/src.qmp" --dry-run \
	--migrate-uri "unix:$T/mig.sock" --copy-storage-all \
	--disks-uri "unix:$T/nbd.sock" --parallel
for id in $DISKS; do
	grep -q "^  disk $id: qcow2, 16777216 bytes" "$T/out" ||
		fail "--dry-run does not list disk '$id': $(cat "$T/out")"
done
[ "$(grep -c 'qemu-img create -f qcow2 IMAGE 16777216$' "$T/out")" = 9 ] ||
	fail "--dry-run: not 9 qemu-img lines: $(cat "$T/out")"
grep -q "mig-recv needs: --incoming URI --nbd URI --parallel$" "$T/out" ||
	fail "--dry-run: mig-recv's options: $(cat "$T/out")"
expect_exit 0 "$BIN/mig-send" --qmp "unix:$T/src.qmp" --dry-run --json \
	--migrate-uri "unix:$T/mig.sock" --copy-storage-all \
	--disks-uri "unix:$T/nbd.sock"
grep -q '"event":"dry-run","guest":"running","disks":\[{"id":"drv1","format":"qcow2","size":16777216}' "$T/out" ||
	fail "--dry-run --json: $(cat "$T/out")"
o=$(qmp_cmd src '{"execute":"query-migrate"}' | tr -d '\r')
[ "$o" = '{"return": {}}' ] || fail "--dry-run changed the source: $o"

recv_start --incoming "unix:$T/mig.sock" --nbd "unix:$T/nbd.sock" \
	--timeout 150 --verbose
for id in $DISKS; do
	grep -q "exporting disk '$id'" "$T/recv.err" ||
		fail "mig-recv did not export disk '$id': $(cat "$T/recv.err")"
done
send_start --migrate-uri "unix:$T/mig.sock" --copy-storage-all \
	--disks-uri "unix:$T/nbd.sock"
expect_status send $SEND_PID 0
expect_status recv $RECV_PID 0
for id in $DISKS; do
	grep -q "\"id\":\"$id\"" "$T/send.json" ||
		fail "mig-send did not copy disk '$id'"
done
assert_switched
stop_qemu dst
for id in $DISKS; do
	disks_identical "$T/src-$id.qcow2" "$T/dst-$id.qcow2" ||
		fail "disk '$id' differs"
done
