#!/bin/sh
# SIGUSR1 means "switch to post-copy now", never "stop": one that arrives
# while mig-send is still connecting to the source QEMU (here: the QMP
# socket's backlog is full, so mig-send retries its connect) must not
# abort the preflight.  The connect goes through once the backlog drains
# and the dry run ends with exit 0.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/qemu.sh"
. "$(dirname "$0")/mig.sh"
require_qemu
require strace

start_src src
# One client holds QEMU's monitor; more fill the listen backlog, so that
# a further connect is refused with EAGAIN and retried.
HOLDERS=""
for _i in 1 2 3 4; do
	spawn _h sh -c "exec sleep 600 | exec socat - UNIX-CONNECT:$T/src.qmp >/dev/null"
	HOLDERS="$HOLDERS $_h"
done
# The listener's queue (Recv-Q) is longer than its backlog (Send-Q).
full() { ss -xlH | awk -v p="$T/src.qmp" '$5 == p && $3 > $4 { ok = 1 }
	END { exit !ok }'; }
wait_for 30 "the QMP backlog to fill" full

send_start --dry-run --wait 60 --migrate-uri "unix:$T/mig.sock"
# mig-send is inside its connect retries once it has been refused.
refused() { strace -qq -p "$SEND_PID" -e trace=connect -o "$T/strace" &
	_st=$!; until_ok 5 "a refused connect" grep -q EAGAIN "$T/strace"; _rc=$?
	kill $_st 2>/dev/null; wait $_st 2>/dev/null; return $_rc; }
wait_for 30 "mig-send to retry its connect" refused
for _i in 1 2 3; do
	pid_gone "$SEND_PID" && break
	kill -USR1 "$SEND_PID"
done
if pid_gone "$SEND_PID"; then
	wait "$SEND_PID"; _rc=$?; cat "$T/send.err" >&2
	fail "mig-send exited $_rc on SIGUSR1 during its connect"
fi
for _h in $HOLDERS; do stop_pid "$_h"; done
pkill -f "socat - UNIX-CONNECT:$T/src.qmp" 2>/dev/null
expect_status send "$SEND_PID" 0 60
grep -q "dry run" "$T/send.err" "$T/send.json" ||
	note "mig-send said: $(cat "$T/send.err")"
exit 0
