#!/bin/sh
# The fault matrix at the switch-over and after it, and the stopping
# signals (SIGTERM) in each phase.  Phases are held by freezing a tool
# (SIGSTOP) until QEMU shows the state wanted, never by sleeping:
# - mig-send frozen in the memory phase: the source QEMU runs on to
#   pre-switchover and waits there, paused, for migrate-continue;
# - mig-recv frozen in the memory phase: the stream completes, the
#   destination holds the guest paused, the source waits for its word.
# At 16 MiB/s the first pass over the guest's 64 MiB lasts about 4 s, time
# enough to freeze a tool in it; a 10 s downtime limit then ends each such
# migration after that pass, however loaded the machine.  Each case asserts the guest ends on
# exactly one side, running and
# counting on (with identical disks when it moved), and both exit codes.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/qemu.sh"
. "$(dirname "$0")/mig.sh"
require_qemu

# src_status_is STATUS: HMP's migration status on the source.
src_status_is() { hmp src 'info migrate' | grep -q "^Migration status: $1"; }

for sig in TERM KILL; do
	note "mig-send SIG$sig at pre-switchover: the source resumes"
	start_pair memory
	recv_start --incoming "unix:$T/mig.sock" --nbd "unix:$T/nbd.sock" \
		--timeout 120 --idle-timeout 5
	send_start --migrate-uri "unix:$T/mig.sock" --copy-storage-all \
		--disks-uri "unix:$T/nbd.sock" --bandwidth 16 --downtime 10000
	wait_for 30 "the memory phase" phase_seen memory
	kill -STOP $SEND_PID
	wait_for 60 "the source at pre-switchover" src_status_is pre-switchover
	[ "$(guest_status src)" = paused ] || fail "the source guest runs at pre-switchover"
	kill -$sig $SEND_PID
	kill -CONT $SEND_PID 2>/dev/null
	expect_status send $SEND_PID $([ $sig = TERM ] && echo 1 || echo 137) 60
	guards_done
	[ $sig = KILL ] && { grep -q "guard: outcome: source running" "$T/send.err" ||
		fail "the guard did not roll back: $(cat "$T/send.err")"; }
	[ $sig = TERM ] && outcome_is send "source running"
	expect_status recv $RECV_PID 1 60
	dst_gone
	source_clean
	end_case
done

for sig in TERM KILL; do
	note "mig-send SIG$sig after the stream completed: the guest moves all the same"
	hold_after_stream
	kill -$sig $SEND_PID
	[ $sig = KILL ] && wait_for 10 "mig-send to die" pid_gone $SEND_PID
	kill -CONT $RECV_PID
	expect_status recv $RECV_PID 0 60
	if [ $sig = KILL ]; then
		expect_status send $SEND_PID 137 10
		guards_done
		grep -q "guard: outcome: destination running" "$T/send.err" ||
			fail "the guard did not finish the migration: $(cat "$T/send.err")"
	else
		expect_status send $SEND_PID 0 60
		outcome_is send "destination running"
	fi
	assert_switched "$T/src0.qcow2" "$T/dst0.qcow2"
	end_case
done

for phase in disk-copy memory; do
	note "mig-recv SIGTERM during $phase: it quits the destination and tells the source"
	start_pair $phase
	migrate $phase
	kill -TERM $RECV_PID
	expect_status recv $RECV_PID 1 60
	expect_status send $SEND_PID 1 60
	outcome_is send "source running"
	grep -q "outcome: not on destination" "$T/recv.err" ||
		fail "mig-recv's outcome: $(cat "$T/recv.err")"
	dst_gone
	source_clean
	end_case

	note "mig-send SIGTERM during $phase: it rolls back"
	start_pair $phase
	migrate $phase
	kill -TERM $SEND_PID
	expect_status send $SEND_PID 1 60
	grep -q 'interrupted by signal' "$T/send.err" ||
		fail "mig-send does not say it was interrupted: $(cat "$T/send.err")"
	outcome_is send "source running"
	expect_status recv $RECV_PID 1 60
	dst_gone
	source_clean
	end_case
done
