#!/bin/sh
# --copy-storage-all over TCP on 127.0.0.1: mig-recv listens on both ports
# and mig-send connects, each handing QEMU the descriptors; the guest
# moves with its disk and the writes made during the copy.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/qemu.sh"
. "$(dirname "$0")/mig.sh"
require_qemu ss

pair_disks
pair_start throttle 4194304

mig=$(free_port)
nbd=$(free_port)
[ "$mig" != "$nbd" ] || nbd=$(free_port)
recv_start --incoming "tcp:127.0.0.1:$mig" --nbd "tcp:127.0.0.1:$nbd" \
	--timeout 150
tcp_listening "$mig" && tcp_listening "$nbd" || fail "mig-recv does not listen"
send_start --migrate-uri "tcp:127.0.0.1:$mig" --copy-storage-all \
	--disks-uri "tcp:127.0.0.1:$nbd"
copy_writes

assert_moved "$T/src0.qcow2" "$T/dst0.qcow2"
copy_writes_arrived "$T/dst0.qcow2"
