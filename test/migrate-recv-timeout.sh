#!/bin/sh
# mig-recv with no source ever coming: --timeout makes it give up, and so
# does a signal (TERM, INT, HUP); both times it exits 1 and the destination QEMU is gone.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/qemu.sh"
. "$(dirname "$0")/mig.sh"
require_qemu

mkdisk "$T/dst0.qcow2" 64M

# --timeout 2: gives up after 2 s (allow some slack, not a whole minute).
start_dst dst $(disk_args vd0 "$T/dst0.qcow2")
t0=$(date +%s)
recv_start --incoming "unix:$T/mig.sock" --nbd "unix:$T/nbd.sock" --timeout 2
expect_status recv $RECV_PID 1 15
secs=$(( $(date +%s) - t0 ))
[ "$secs" -ge 2 ] || fail "mig-recv --timeout 2 gave up after ${secs}s"
grep -q 'timed out' "$T/recv.err" ||
	fail "mig-recv does not say it timed out: $(cat "$T/recv.err")"
wait_for 10 "the destination QEMU to exit" pid_gone "$(qemu_pid dst)"

# A signal while waiting for the source: SIGTERM, SIGINT and SIGHUP.
for sig in TERM INT HUP; do
	start_dst dst $(disk_args vd0 "$T/dst0.qcow2")
	recv_start --incoming "unix:$T/mig.sock" --nbd "unix:$T/nbd.sock" \
		--timeout 120
	[ -S "$T/mig.sock" ] && [ -S "$T/nbd.sock" ] || fail "no sockets after ready"
	kill -$sig $RECV_PID
	expect_status recv $RECV_PID 1 15
	grep -q 'interrupted by signal' "$T/recv.err" ||
		fail "SIG$sig: mig-recv does not say it was interrupted: $(cat "$T/recv.err")"
	wait_for 10 "the destination QEMU to exit after SIG$sig" \
		pid_gone "$(qemu_pid dst)"
done
