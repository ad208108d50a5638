#!/bin/sh
# SIGUSR1 means "switch to post-copy now", never "stop": one that arrives
# while mig-send is still connecting to the source QEMU (here: the QMP
# path leads to a listener that never accepts and whose backlog is full,
# so mig-send retries its connect) must not abort the preflight.  Then
# the path is turned to QEMU's socket: the connect goes through and the
# dry run ends with exit 0.  (QEMU's own backlog is not used: when it
# accepts and drains it is QEMU's timing, not the test's.)
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/qemu.sh"
. "$(dirname "$0")/mig.sh"
require_qemu
require perl

start_src src
# A listener with backlog 0 that never accepts (perl-base is in every
# Debian), and one client queued on it: the queue is full.
spawn _busy perl -MSocket -e 'socket(my $s, PF_UNIX, SOCK_STREAM, 0) or die;
	bind($s, pack_sockaddr_un($ARGV[0])) or die "bind: $!"; listen($s, 0)
	or die; sleep 600' "$T/busy.qmp"
wait_for 10 "the never-accepting listener" test -S "$T/busy.qmp"
spawn _holder socat -u "UNIX-CONNECT:$T/busy.qmp" /dev/null
# The listener's queue (Recv-Q) is longer than its backlog (Send-Q).
full() { ss -xlH | awk -v p="$T/busy.qmp" '$5 == p && $3 > $4 { ok = 1 }
	END { exit !ok }'; }
wait_for 30 "the backlog to fill" full
ln -s "$T/busy.qmp" "$T/q.qmp"

send_start_with --qmp "unix:$T/q.qmp" --dry-run --wait 60 \
	--migrate-uri "unix:$T/mig.sock"
# mig-send is inside its connect retries once it holds its socket: the
# queue is full and nothing accepts, so every connect is refused (EAGAIN).
connecting() {
	pid_gone "$SEND_PID" && fail "mig-send ended: $(cat "$T/send.err")"
	for _fd in /proc/"$SEND_PID"/fd/*; do
		case $(readlink "$_fd" 2>/dev/null) in socket:*) return 0 ;; esac
	done
	return 1
}
wait_for 30 "mig-send to connect" connecting
for _i in 1 2 3; do
	pid_gone "$SEND_PID" && break
	kill -USR1 "$SEND_PID"
done
if pid_gone "$SEND_PID"; then
	wait "$SEND_PID"; _rc=$?; cat "$T/send.err" >&2
	fail "mig-send exited $_rc on SIGUSR1 during its connect"
fi
# The path now leads to QEMU (renamed over, so never missing).
ln -s "$T/src.qmp" "$T/q.new" && mv -T "$T/q.new" "$T/q.qmp"
expect_status send "$SEND_PID" 0 60
stop_pid "$_holder"
stop_pid "$_busy"
exit 0
