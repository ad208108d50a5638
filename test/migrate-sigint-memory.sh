#!/bin/sh
# SIGINT to mig-send during the memory phase, with a disk being mirrored:
# mig-send cancels the migration and the mirrors and exits 1, the source
# guest runs on with no block job, NBD node or migration capability left
# behind, and the destination QEMU is gone with mig-recv exiting 1.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/qemu.sh"
. "$(dirname "$0")/mig.sh"
require_qemu

pair_disks
pair_start

recv_start --incoming "unix:$T/mig.sock" --nbd "unix:$T/nbd.sock" --timeout 120
# At 4 MiB/s the first pass over 64 MiB of RAM takes about 16 s, and the
# guest dirties its memory faster than that: the memory phase lasts.
send_start --migrate-uri "unix:$T/mig.sock" --copy-storage-all \
	--disks-uri "unix:$T/nbd.sock" --bandwidth 4
wait_for 30 "the memory phase" phase_seen memory
wait_for 30 "a memory progress sample" progress_seen memory
# The mirror is still running: the disk stays in sync until the switch-over.
hmp src 'info block-jobs' | grep -q 'mig-mirror-0' ||
	fail "no mirror job during the memory phase"
kill -INT $SEND_PID
expect_status send $SEND_PID 1 60
phase_seen switch-over && fail "the switch-over began before the signal"
grep -q 'interrupted by signal' "$T/send.err" ||
	fail "mig-send does not say it was interrupted: $(cat "$T/send.err")"

wait_for 30 "the destination QEMU to exit" pid_gone "$(qemu_pid dst)"
expect_status recv $RECV_PID 1 30
source_clean
_o=$(qmp_cmd src '{"execute":"query-migrate"}')
case $_o in *'"status": "cancelled"'*) ;;
*) fail "the source's migration is not cancelled: $_o" ;; esac
