#!/bin/sh
# Two entrypoints that start in any order, as in a pair of containers
# sharing a directory: mig-send --wait 60 starts before the destination
# exists, mig-recv --wait 60 --ready-file before its QEMU does; the
# destination QEMU comes last.  The ready file appears whole once every
# socket listens and is gone when mig-recv exits; the guest moves.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/qemu.sh"
. "$(dirname "$0")/mig.sh"
require_qemu

pair_disks
start_src src $(disk_args vd0 "$T/src0.qcow2")
wait_count src 2
send_start --wait 60 --migrate-uri "unix:$T/mig.sock" --copy-storage-all \
	--disks-uri "unix:$T/nbd.sock"
"$BIN/mig-recv" --qmp "unix:$T/dst.qmp" --wait 60 --ready-file "$T/ready" \
	--incoming "unix:$T/mig.sock" --nbd "unix:$T/nbd.sock" --timeout 150 \
	>"$T/recv.out" 2>"$T/recv.err" </dev/null &
RECV_PID=$!
track $RECV_PID
# Both wait: neither has given up while nothing is there.
[ -e "$T/ready" ] && fail "a ready file before the destination QEMU"
pid_gone $SEND_PID && fail "mig-send did not wait: $(cat "$T/send.err")"
pid_gone $RECV_PID && fail "mig-recv did not wait: $(cat "$T/recv.err")"
start_dst dst $(disk_args vd0 "$T/dst0.qcow2")
wait_for 30 "the ready file" test -e "$T/ready"
[ "$(cat "$T/ready")" = ready ] || fail "the ready file holds: $(cat "$T/ready")"
assert_moved "$T/src0.qcow2" "$T/dst0.qcow2"
[ -e "$T/ready" ] && fail "the ready file outlived mig-recv"
[ -e "$T/ready.tmp" ] && fail "a temporary ready file was left behind"
exit 0
