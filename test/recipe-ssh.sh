#!/bin/sh
# The README's ssh recipe: one connection (ssh, here a stand-in that runs
# the command on the other host) carries the migration, its parallel
# channels and the disk; the guest moves with its disk.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/qemu.sh"
. "$(dirname "$0")/mig.sh"
. "$(dirname "$0")/recipe.sh"
require_qemu
require_hosts

host src; host dst
pair_disks
QEMU=$T/bin/qemu-src; start_src src $(disk_args vd0 "$T/src0.qcow2")
QEMU=$T/bin/qemu-dst; start_dst dst $(disk_args vd0 "$T/dst0.qcow2")
host_qmp src src; host_qmp dst dst
wait_count src 2

recipe ssh-dst >"$T/dst.sh"
on_host DST dst "$T/dst.sh"
wait_for 30 "the destination's mig-recv to be ready" grep -qx ready "$T/dst.out"
recipe ssh-src >"$T/src.sh"
on_host SRC src "$T/src.sh"

expect_status src $SRC 0
expect_status dst $DST 0
assert_switched "$T/src0.qcow2" "$T/dst0.qcow2"
