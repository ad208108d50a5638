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

pair_disks
pair_start throttle 4194304

recv_start --incoming "unix:$T/mig.sock" --nbd "unix:$T/nbd.sock" \
	--postcopy --timeout 150
send_start --migrate-uri "unix:$T/mig.sock" --copy-storage-all \
	--disks-uri "unix:$T/nbd.sock" --postcopy --postcopy-after-precopy \
	--bandwidth 32
copy_writes

assert_moved "$T/src0.qcow2" "$T/dst0.qcow2"
phase_seen postcopy || fail "the post-copy phase was never reached"
# The order mig-send announced: memory, switch-over (mirrors completed),
# post-copy, completed.
order=$(sed -n 's/.*"event":"phase","phase":"\([a-z-]*\)".*/\1/p' \
	"$T/send.json" | tr '\n' ' ')
[ "$order" = "disk-copy memory switch-over postcopy completed " ] ||
	fail "phases: $order"
copy_writes_arrived "$T/dst0.qcow2"
