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

pair_disks
pair_start throttle 4194304

recv_start --incoming "unix:$T/mig.sock" --nbd "unix:$T/nbd.sock" \
	--parallel --parallel-connections 4 --timeout 150
hmp dst 'info migrate_capabilities' | grep -qx 'multifd: on' ||
	fail "multifd is not on on the destination"
hmp dst 'info migrate_parameters' | grep -qx 'multifd-channels: 4' ||
	fail "the destination does not expect 4 channels"
send_start --migrate-uri "unix:$T/mig.sock" --copy-storage-all \
	--disks-uri "unix:$T/nbd.sock" --parallel --parallel-connections 4 \
	--bandwidth 32
copy_writes

wait_for 30 "the memory phase" phase_seen memory
wait_for 20 "5 connections on the migration socket" conns 5
phase_seen switch-over && fail "precopy converged under the bandwidth limit"
out=$(hmp src 'migrate_set_parameter max-bandwidth 8G') && [ -z "$out" ] ||
	fail "lifting the bandwidth limit: $out"

assert_moved "$T/src0.qcow2" "$T/dst0.qcow2"
copy_writes_arrived "$T/dst0.qcow2"
