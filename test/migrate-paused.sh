#!/bin/sh
# The destination QEMU is started without -S, so QEMU alone would start the
# guest the moment the migration completes.  mig-recv --paused must keep it
# paused (proof that it cleared autostart, the mechanism that also holds the
# guest until the NBD server is stopped), with the NBD server stopped;
# mig-send --keep-source leaves the source paused instead of quitting it.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/qemu.sh"
. "$(dirname "$0")/mig.sh"
require_qemu

pair_disks
pair_start

recv_start --incoming "unix:$T/mig.sock" --nbd "unix:$T/nbd.sock" --paused \
	--timeout 150
send_start --migrate-uri "unix:$T/mig.sock" --copy-storage-all \
	--disks-uri "unix:$T/nbd.sock" --keep-source
expect_status send $SEND_PID 0
expect_status recv $RECV_PID 0

[ "$(guest_status dst)" = paused ] ||
	fail "destination guest is '$(guest_status dst)', expected paused"
hmp src 'info status' | grep -qx 'VM status: paused (postmigrate)' ||
	fail "source guest is not paused after migration: $(hmp src 'info status')"
pid_gone "$(qemu_pid src)" && fail "the source QEMU quit despite --keep-source"
_o=$(qmp_cmd dst '{"execute":"query-block-exports"}' | tr -d '\r')
[ "$_o" = '{"return": []}' ] || fail "NBD exports left on the destination: $_o"
# Paused means paused: no count line appears while an HMP round trip and a
# few of the guest's periods (~150 ms each) go by.
_n=$(_ncounts "$T/dst.serial")
for _i in 1 2 3 4 5 6; do hmp dst 'info status' >/dev/null; done
[ "$(_ncounts "$T/dst.serial")" = "$_n" ] || fail "the paused guest printed"

hmp dst cont >/dev/null
check_continuity "$T/src.serial" "$T/dst.serial"
stop_qemu dst
stop_qemu src
disks_identical "$T/src0.qcow2" "$T/dst0.qcow2" || fail "disks differ"
