#!/bin/sh
# --stall-timeout: at 32 MiB/s the guest (which dirties 32 MiB all the
# time) never converges; the passes go by, none starting with less left
# than the one before.  After 4 s of that mig-send gives up, rolls back
# and says why, with the options that help; the guest goes on counting
# on the source.  With --postcopy --timeout-postcopy it switches to
# post-copy instead, and the guest moves.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/qemu.sh"
. "$(dirname "$0")/mig.sh"
require_qemu

start_src src
start_dst dst
wait_count src 2
recv_start --incoming "unix:$T/mig.sock" --timeout 150
send_start --migrate-uri "unix:$T/mig.sock" --bandwidth 32 --stall-timeout 4
expect_status send $SEND_PID 1 120
expect_status recv $RECV_PID 1
grep -q 'memory does not converge: for 4 s no pass started with less than .* left; the guest dirties .*--auto-converge, --postcopy --timeout-postcopy or more --bandwidth help' \
	"$T/send.err" || fail "mig-send did not say why: $(cat "$T/send.err")"
outcome_is send "source running"
_passes=$(sed -n 's/.*"event":"progress".*"pass":\([0-9]*\).*/\1/p' \
	"$T/send.json" | tail -n 1)
[ "${_passes:-0}" -ge 3 ] || fail "it gave up after ${_passes:-no} passes"
[ "$(guest_status src)" = running ] || fail "the source guest is not running"
_n=$(ncounts "$T/src.serial")
wait_count src $((_n + 2))

stop_qemu dst
start_dst dst
recv_start --incoming "unix:$T/mig.sock" --postcopy --timeout 150
send_start --migrate-uri "unix:$T/mig.sock" --bandwidth 32 --stall-timeout 4 \
	--postcopy --timeout-postcopy --verbose
assert_moved
phase_seen postcopy || fail "the post-copy phase was never reached"
grep -q 'switching to post-copy (--stall-timeout: memory does not converge)' \
	"$T/send.err" || fail "no switch at the stall: $(cat "$T/send.err")"
