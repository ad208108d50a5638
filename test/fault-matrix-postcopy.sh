#!/bin/sh
# The fault matrix in post-copy: once the destination runs the guest and
# pulls the pages it still lacks from the source, the destination owns
# the guest.  A killed tool must not undo that: its guard (or the other
# tool) lets the migration finish and the guest runs on the destination.
# A killed QEMU or a cut stream splits the guest's memory: both tools
# exit 3 and say so; neither side runs the guest.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/qemu.sh"
. "$(dirname "$0")/mig.sh"
require_qemu

# postcopy_migrate [via tunnel]: a migration that switches to post-copy
# after the first pass and stays in it (pages at 2 MiB/s) until the
# fault; returns in the post-copy phase.
postcopy_migrate() {
	pair_disks
	pair_start
	qmp_cmd src '{"execute":"migrate-set-parameters","arguments":{"max-postcopy-bandwidth":2097152}}' \
		>/dev/null || fail "max-postcopy-bandwidth"
	_t=
	[ "${1:-}" = tunnel ] && { tunnel_pair; _t=t; }
	recv_start --incoming "unix:$T/mig.sock" --nbd "unix:$T/nbd.sock" \
		--timeout 120 --postcopy
	send_start --migrate-uri "unix:$T/${_t}mig.sock" --copy-storage-all \
		--disks-uri "unix:$T/${_t}nbd.sock" --postcopy \
		--postcopy-after-precopy --bandwidth 32
	wait_for 60 "the postcopy phase" phase_seen postcopy
	phase_seen completed && fail "post-copy completed before the fault"
	wait_for 30 "the destination guest to run" eval '[ "$(guest_status dst)" = running ]'
}

# Post-copy lasts (64 MiB at 2 MiB/s) unless it is sped up again.
postcopy_speed_up() {
	hmp src 'migrate_set_parameter max-postcopy-bandwidth 0' >/dev/null
}

note "post-copy, mig-send killed: its guard sees the migration through"
postcopy_migrate
kill -KILL $SEND_PID
wait_for 10 "mig-send to die" pid_gone $SEND_PID
postcopy_speed_up
expect_status recv $RECV_PID 0 120
guards_done
grep -q "guard: outcome: destination running" "$T/send.err" ||
	fail "mig-send's guard: $(cat "$T/send.err")"
assert_switched "$T/src0.qcow2" "$T/dst0.qcow2"
end_case

note "post-copy, mig-send SIGTERM: too late to cancel, it sees the migration through"
postcopy_migrate
kill -TERM $SEND_PID
postcopy_speed_up
expect_status send $SEND_PID 0 120
expect_status recv $RECV_PID 0 60
outcome_is send "destination running"
assert_switched "$T/src0.qcow2" "$T/dst0.qcow2"
end_case

note "post-copy, mig-recv killed: the destination keeps the guest"
postcopy_migrate
kill -KILL $RECV_PID
wait_for 10 "mig-recv to die" pid_gone $RECV_PID
postcopy_speed_up
expect_status send $SEND_PID 0 120
outcome_is send "destination running"
guards_done
assert_switched "$T/src0.qcow2" "$T/dst0.qcow2"
end_case

note "post-copy, the source QEMU killed: both say so (3)"
postcopy_migrate
kill -KILL "$(qemu_pid src)"
expect_status send $SEND_PID 3 60
expect_status recv $RECV_PID 3 60
outcome_is send "paused on both (post-copy split)"
end_case

note "post-copy, the destination QEMU killed: the guest is lost with it"
postcopy_migrate
kill -KILL "$(qemu_pid dst)"
expect_status send $SEND_PID 3 60
expect_status recv $RECV_PID 3 60
grep -q "outcome: lost" "$T/recv.err" || fail "mig-recv's outcome: $(cat "$T/recv.err")"
outcome_is send "paused on both (post-copy split)"
[ "$(guest_status src)" = running ] && fail "the source guest runs after the post-copy switch"
end_case

note "post-copy through the tunnel, the relay killed: both say so (3)"
postcopy_migrate tunnel
kill -KILL $TUNNEL_PID
expect_status send $SEND_PID 3 60
expect_status recv $RECV_PID 3 60
outcome_is send "paused on both (post-copy split)"
[ "$(guest_status src)" = running ] && fail "the source guest runs after the post-copy switch"
end_case
