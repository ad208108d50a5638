#!/bin/sh
# --timeout (suspend): at 8 MiB/s the guest dirties memory faster than it
# moves, so the migration only ends because mig-send suspends the source
# after 2 s; the destination guest then runs and continues.  Also checks
# that --auto-converge, --compressed and --downtime reach QEMU; then, without
# them, that mig-send says when memory does not converge.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/qemu.sh"
. "$(dirname "$0")/mig.sh"
require_qemu

start_src src
start_dst dst
wait_count src 2

recv_start --incoming "unix:$T/mig.sock" --timeout 150
send_start --migrate-uri "unix:$T/mig.sock" --bandwidth 8 --timeout 2 \
	--auto-converge --compressed --downtime 500 --verbose
wait_for 30 "the memory phase" progress_seen memory
_caps=$(hmp src 'info migrate_capabilities')
for _c in auto-converge xbzrle pause-before-switchover; do
	printf '%s\n' "$_caps" | grep -qx "$_c: on" || fail "$_c is not on: $_caps"
done
_params=$(hmp src 'info migrate_parameters')
printf '%s\n' "$_params" | grep -qx 'downtime-limit: 500 ms' ||
	fail "downtime-limit not set: $_params"
printf '%s\n' "$_params" | grep -qx 'max-bandwidth: 8388608 bytes/second' ||
	fail "max-bandwidth not set: $_params"

expect_status send $SEND_PID 0 120
expect_status recv $RECV_PID 0
grep -q 'suspending the guest' "$T/send.err" ||
	fail "mig-send did not suspend the guest at the timeout"
assert_switched

# Without those helpers, at 32 MiB/s the guest (which dirties 32 MiB all
# the time) never gets under the downtime's worth: after a few passes
# mig-send says once that memory does not converge, and which options
# help, before the timeout suspends it.
stop_qemu dst
start_src src
start_dst dst
wait_count src 2
recv_start --incoming "unix:$T/mig.sock" --timeout 150
send_start --migrate-uri "unix:$T/mig.sock" --bandwidth 32 --timeout 10 --verbose
expect_status send $SEND_PID 0 120
expect_status recv $RECV_PID 0
grep -q 'suspending the guest' "$T/send.err" ||
	fail "the second migration converged without the timeout"
[ "$(grep -c 'memory does not converge.*--auto-converge, --postcopy or --timeout help' "$T/send.err")" = 1 ] ||
	fail "mig-send did not say once that memory does not converge: $(cat "$T/send.err")"
assert_switched
