#!/bin/sh
# make check-long: the whole cross product of the fault matrix, which
# make check samples (test/fault-matrix*.sh).  Over a direct unix socket
# and through two mig-tunnels joined by a socat relay; in the disk copy
# and in the memory phase; each of mig-send, mig-recv, the source QEMU and
# the destination QEMU (and, through the tunnel, each mig-tunnel and the
# relay) sent SIGKILL and SIGTERM.  Each case asserts both exit codes and
# where the guest ends: on the source with nothing left behind there, or
# lost with its QEMU (5) when the source QEMU was the one killed; the
# destination QEMU has quit; no process is left waiting.
MIG_TOP=${MIG_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$MIG_TOP/test/lib.sh"
. "$MIG_TOP/test/qemu.sh"
. "$MIG_TOP/test/mig.sh"
require_qemu

# victim_pid WHO: the process a case kills.
victim_pid() {
	case $1 in
	mig-send) echo "$SEND_PID" ;;
	mig-recv) echo "$RECV_PID" ;;
	src-qemu) qemu_pid src ;;
	dst-qemu) qemu_pid dst ;;
	source-tunnel) pgrep -f "mig-tunnel .*-L unix:$T/tmig.sock" ;;
	destination-tunnel) pgrep -f "mig-tunnel .*-R mig=unix:$T/mig.sock" ;;
	relay) echo "$TUNNEL_PID" ;;
	esac
}

# want SIG: the exit status of a tool killed by SIG.
want() { [ "$1" = KILL ] && echo 137 || echo 1; }

CASES=0
for via in direct tunnel; do
	SEND_VIA=
	victims="mig-send mig-recv src-qemu dst-qemu"
	[ $via = tunnel ] && { SEND_VIA=tunnel
		victims="$victims source-tunnel destination-tunnel relay"; }
	for phase in disk-copy memory; do
	for who in $victims; do
	for sig in KILL TERM; do
		note "$via: $who SIG$sig during $phase"
		start_pair $phase
		[ $via = tunnel ] && tunnel_pair
		migrate $phase
		_v=$(victim_pid $who)
		[ -n "$_v" ] || fail "no $who process"
		kill -$sig $_v
		case $who in
		mig-send)
			expect_status send $SEND_PID "$(want $sig)" 60
			guards_done
			if [ $sig = KILL ]; then
				grep -q "guard: outcome: source running" "$T/send.err" ||
					fail "the guard did not roll back: $(cat "$T/send.err")"
			else
				outcome_is send "source running"
			fi
			expect_status recv $RECV_PID 1 60 ;;
		mig-recv)
			expect_status send $SEND_PID 1 60
			outcome_is send "source running"
			expect_status recv $RECV_PID "$(want $sig)" 60
			guards_done ;;
		src-qemu)
			expect_status send $SEND_PID 5 60
			outcome_is send "lost"
			expect_status recv $RECV_PID 1 60 ;;
		*)
			expect_status send $SEND_PID 1 60
			outcome_is send "source running"
			expect_status recv $RECV_PID 1 60 ;;
		esac
		dst_gone
		[ $who = src-qemu ] || source_clean
		end_case
		CASES=$((CASES + 1))
	done
	done
	done
done
note "$CASES cases"
exit 0
