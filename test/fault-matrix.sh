#!/bin/sh
# The fault matrix: a migration with its disk copied, broken in each phase
# by killing one of its processes (SIGKILL: no chance to clean up) or by a
# user's mistake.  Each case asserts where the guest ends: running on the
# source with nothing left behind there (source_clean), or as the case
# says; the exit codes of both tools; and that no process is left waiting.
# The phases are reached by condition (mig-send's phase and progress
# events, QEMU's status), never by sleeping.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/qemu.sh"
. "$(dirname "$0")/mig.sh"
require_qemu

for phase in disk-copy memory; do
	note "mig-send killed (SIGKILL) during $phase: its guard rolls back"
	start_pair $phase
	migrate $phase
	kill -KILL $SEND_PID
	guards_done
	grep -q "guard: outcome: source running" "$T/send.err" ||
		fail "the guard did not roll back: $(cat "$T/send.err")"
	expect_status recv $RECV_PID 1 30
	dst_gone
	source_clean
	end_case

	note "mig-recv killed (SIGKILL) during $phase: its guard quits the destination"
	start_pair $phase
	migrate $phase
	kill -KILL $RECV_PID
	expect_status send $SEND_PID 1 60
	outcome_is send "source running"
	guards_done
	dst_gone
	source_clean
	end_case
done

note "mig-send without --copy-storage-all, mig-recv exporting the disk"
start_pair memory
# Settings of the source's own, which the rollback must put back.
qmp_cmd src '{"execute":"migrate-set-capabilities","arguments":{"capabilities":[{"capability":"auto-converge","state":true}]}}' \
	>/dev/null || fail "setting auto-converge"
qmp_cmd src '{"execute":"migrate-set-parameters","arguments":{"downtime-limit":777}}' \
	>/dev/null || fail "setting downtime-limit"
recv_start --incoming "unix:$T/mig.sock" --nbd "unix:$T/nbd.sock" --timeout 120
send_start --migrate-uri "unix:$T/mig.sock"
expect_status send $SEND_PID 1 60
expect_status recv $RECV_PID 1 30
grep -q "disk 'vd0' was exported but no source copied it" "$T/recv.err" ||
	fail "mig-recv did not refuse the uncopied disk: $(cat "$T/recv.err")"
outcome_is send "source running"
dst_gone
source_clean
hmp src 'info migrate_capabilities' | grep -qx 'auto-converge: on' ||
	fail "the source's auto-converge was not restored"
hmp src 'info migrate_parameters' | grep -qx 'downtime-limit: 777 ms' ||
	fail "the source's downtime-limit was not restored"
end_case

# Between the stream's end and the guest's start on the destination:
# mig-recv is frozen (SIGSTOP) before the stream starts, the destination
# loads the guest and stays paused, the source waits for its word.
for victim in qemu mig-recv; do
	note "the destination's $victim killed after the stream completed: the source resumes"
	hold_after_stream
	if [ $victim = qemu ]; then
		kill -KILL "$(qemu_pid dst)"
		dst_gone
		kill -CONT $RECV_PID
	else
		kill -KILL $RECV_PID
		guards_done
		dst_gone
	fi
	expect_status send $SEND_PID 1 60
	grep -q "the destination says it failed" "$T/send.err" ||
		fail "mig-send did not hear the destination: $(cat "$T/send.err")"
	outcome_is send "source running"
	[ $victim = qemu ] && expect_status recv $RECV_PID 1 30
	source_clean
	end_case
done

note "--parallel given to mig-recv only: mig-send sees the stream stall"
start_pair memory
recv_start --incoming "unix:$T/mig.sock" --nbd "unix:$T/nbd.sock" \
	--timeout 120 --parallel --idle-timeout 5
send_start --migrate-uri "unix:$T/mig.sock" --copy-storage-all \
	--disks-uri "unix:$T/nbd.sock" --stall-timeout 3
expect_status send $SEND_PID 1 60
grep -q "moved no byte" "$T/send.err" ||
	fail "mig-send does not say the stream stalled: $(cat "$T/send.err")"
expect_status recv $RECV_PID 1 60
dst_gone
source_clean
end_case

# The source QEMU 7.2 itself may die here, after its migration failed: an
# assertion in its cleanup of the parallel channels (yank_unregister_
# instance).  mig-send must then say the guest is lost (5), not that it
# runs on the source.
note "--parallel given to mig-send only"
start_pair memory
recv_start --incoming "unix:$T/mig.sock" --nbd "unix:$T/nbd.sock" --timeout 120
send_start --migrate-uri "unix:$T/mig.sock" --copy-storage-all \
	--disks-uri "unix:$T/nbd.sock" --parallel --stall-timeout 3
wait_exit $SEND_PID 60
_send_rc=$EXIT_STATUS
expect_status recv $RECV_PID 1 60
dst_gone
case $_send_rc in
1)	outcome_is send "source running"
	source_clean ;;
5)	grep -q "yank_unregister_instance" "$T/src.log" ||
		fail "mig-send says lost, QEMU's log: $(cat "$T/src.log")"
	pid_gone "$(qemu_pid src)" || fail "mig-send says lost, the source QEMU runs"
	outcome_is send "lost"
	note "the source QEMU crashed in its cleanup; mig-send said so" ;;
*)	cat "$T/send.err" >&2
	fail "mig-send exited $_send_rc, expected 1 (or 5 if QEMU crashed)" ;;
esac
end_case

note "the tunnel cut during the disk copy: mig-recv gives up on a silent source"
start_pair disk-copy
tunnel_pair
recv_start --incoming "unix:$T/mig.sock" --nbd "unix:$T/nbd.sock" \
	--timeout 120 --idle-timeout 3
send_start --migrate-uri "unix:$T/tmig.sock" --copy-storage-all \
	--disks-uri "unix:$T/tnbd.sock"
wait_for 30 "the disk-copy phase" phase_seen disk-copy
wait_for 30 "a disk-copy progress sample" progress_seen disk-copy
stop_pid $TUNNEL_PID
expect_status send $SEND_PID 1 60
expect_status recv $RECV_PID 1 60
grep -q "the source went silent" "$T/recv.err" ||
	fail "mig-recv does not say the source went silent: $(cat "$T/recv.err")"
dst_gone
source_clean
end_case
