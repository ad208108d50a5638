#!/bin/sh
# The README's container pair: the destination's entrypoint (written by
# the recipe, given the guest's QEMU options) and the source's one command,
# in two mount namespaces that share /tmp/migdir.  The guest moves with its
# disk, and the entrypoint then stays as long as its guest runs.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/qemu.sh"
. "$(dirname "$0")/mig.sh"
. "$(dirname "$0")/recipe.sh"
require_qemu
require_hosts

host src; host dst
recipe_file container-dst >"$T/entrypoint"
[ -s "$T/entrypoint" ] || fail "the container recipe writes no entrypoint"
pair_disks
QEMU=$T/bin/qemu-src; start_src src $(disk_args vd0 "$T/src0.qcow2")
host_qmp src src
wait_count src 2

# The destination container, its guest's options as its arguments (the
# HMP socket and pid file are the test's, for its checks).
on_host DST dst "$T/entrypoint" -M pc -accel "${QEMU_ACCEL:-tcg}" \
	-m "${GUEST_MEM:-64}" -display none -nodefaults -no-user-config \
	-kernel "$GUEST" -serial "file:$T/dst.serial" \
	-chardev "socket,id=hmp,path=$T/dst.hmp,server=on,wait=off" \
	-mon chardev=hmp,mode=readline -pidfile "$T/dst.pid" \
	$(disk_args vd0 "$T/dst0.qcow2")
wait_for 30 "the destination's ready file" test -s "$T/migdir/ready"
dst_pid=$(cat "$T/dst.pid")

recipe container-src >"$T/src.sh"
on_host SRC src "$T/src.sh"
expect_status src $SRC 0

# mig-recv has finished (its ready file is gone); the entrypoint and its
# QEMU go on with the guest.
_recv_gone() { ! pgrep -g "$DST" -f mig-recv >/dev/null; }
wait_for 30 "mig-recv to finish" _recv_gone
pid_gone "$DST" && fail "the entrypoint exited after the migration: $(cat "$T/dst.err")"
assert_switched
kill -TERM "$DST"
expect_status dst $DST 143 30
pid_gone "$dst_pid" || fail "the destination QEMU outlived its entrypoint"
disks_identical "$T/src0.qcow2" "$T/dst0.qcow2" || fail "disks differ"
