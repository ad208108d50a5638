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
# Paused means paused: the vCPU does not move.  The guest never halts (it
# dirties memory and polls the TSC), so two register dumps of a running
# vCPU, an HMP round trip apart, always differ; the same check after
# 'cont' shows that it can tell.
vcpu_moves() {
	_r1=$(hmp dst 'info registers') && _r2=$(hmp dst 'info registers') &&
		[ -n "$_r1" ] && [ "$_r1" != "$_r2" ]
}
vcpu_moves && fail "the paused guest's vCPU runs"
hmp dst cont >/dev/null
vcpu_moves || fail "the check cannot see a running vCPU"
check_continuity "$T/src.serial" "$T/dst.serial"
stop_qemu dst
stop_qemu src
disks_identical "$T/src0.qcow2" "$T/dst0.qcow2" || fail "disks differ"
