#!/bin/sh
# The fault matrix through mig-tunnel: a migration with its disk copied
# rides two tunnels joined by a socat relay (tunnel_pair), and one of the
# three is killed (SIGKILL) during the disk copy and during the memory
# phase.  Each case: mig-send rolls back and exits 1, the guest runs on
# the source with nothing left behind there, mig-recv notices the source
# is gone (the stream broke, or no source activity for --idle-timeout),
# exits 1 and quits the destination QEMU; no process is left waiting.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/qemu.sh"
. "$(dirname "$0")/mig.sh"
require_qemu

# victim_pid WHO: the source's mig-tunnel, the destination's, or the
# relay (the socat that carries the source tunnel's stream).
victim_pid() {
	case $1 in
	source-tunnel) pgrep -f "mig-tunnel .*-L unix:$T/tmig.sock" ;;
	destination-tunnel) pgrep -f "mig-tunnel .*-R mig=unix:$T/mig.sock" ;;
	relay) echo "$TUNNEL_PID" ;;
	esac
}

SEND_VIA=tunnel
for phase in disk-copy memory; do
	for who in source-tunnel destination-tunnel relay; do
		note "the $who killed during $phase"
		start_pair $phase
		tunnel_pair
		migrate $phase
		_v=$(victim_pid $who)
		[ -n "$_v" ] || fail "no $who process"
		kill -KILL $_v
		expect_status send $SEND_PID 1 60
		outcome_is send "source running"
		expect_status recv $RECV_PID 1 60
		dst_gone
		source_clean
		end_case
	done
done
