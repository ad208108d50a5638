#!/bin/sh
# The README's systemd unit: its ExecStart command (the binary's directory
# changed to the build's) run on the destination host as systemd would,
# then a migration to it; the guest moves with its disk.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/qemu.sh"
. "$(dirname "$0")/mig.sh"
. "$(dirname "$0")/recipe.sh"
require_qemu
require_hosts

host dst
recipe_file systemd-unit >"$T/unit"
sed -n 's/^ExecStart=//p' "$T/unit" | sed "s|/usr/local/bin/|$BIN/|" >"$T/dst.sh"
[ -s "$T/dst.sh" ] || fail "the unit has no ExecStart"
pair_disks
start_src src $(disk_args vd0 "$T/src0.qcow2")
QEMU=$T/bin/qemu-dst; start_dst web1 $(disk_args vd0 "$T/dst0.qcow2")
host_qmp dst web1
wait_count src 2

on_host DST dst "$T/dst.sh"
wait_for 30 "the unit's ready file" test -s "$T/migdir/ready"
send_start --migrate-uri "unix:$T/migdir/test-sock-qemu" --copy-storage-all \
	--disks-uri "unix:$T/migdir/test-sock-nbd"
expect_status send $SEND_PID 0
expect_status dst $DST 0
grep -q '"outcome":"destination running"' "$T/send.json" ||
	fail "the summary's outcome: $(tail -n 1 "$T/send.json")"
wait_for 10 "the source QEMU to quit" pid_gone "$(qemu_pid src)"
[ "$(guest_status web1)" = running ] || fail "destination guest is not running"
check_continuity "$T/src.serial" "$T/web1.serial"
stop_qemu web1
disks_identical "$T/src0.qcow2" "$T/dst0.qcow2" || fail "disks differ"
