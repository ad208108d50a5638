#!/bin/sh
# make demo shows the commands it runs, and stopped half-way (SIGTERM, as
# make and timeout pass it on) leaves nothing behind: its QEMUs, mig-recv
# and mig-send are stopped by PID, its directory is removed, and it exits
# 143 saying it was interrupted.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/qemu.sh"
require_qemu pgrep

mkdir "$T/tmp"
TMPDIR=$T/tmp DEMO_MEM=64 DEMO_DISK=64 sh "$TOP/scripts/demo.sh" \
	>"$T/demo.out" 2>"$T/demo.err" </dev/null &
track $!
demo=$!
wait_for 120 "the demo to start mig-send" grep -q '^  \$ mig-send ' "$T/demo.out"
for cmd in qemu-system mig-recv mig-send; do
	grep -q "^  \\\$ [^ ]*$cmd" "$T/demo.out" ||
		{ cat "$T/demo.out"; fail "the demo did not show its $cmd command"; }
done

# Everything the demo runs names its directory.
pids=$(pgrep -f "$T/tmp/mig-demo")
[ "$(echo $pids | wc -w)" -ge 4 ] ||
	fail "expected two QEMUs, mig-recv and mig-send, found: $(ps -o pid=,args= -p "$(echo $pids | tr ' ' ,)")"
kill -TERM "$demo"
expect_status demo "$demo" 143 60
for p in $pids; do
	wait_for 10 "process $p of the demo to go" pid_gone "$p"
done
left=$(pgrep -f "$T/tmp/mig-demo")
[ -z "$left" ] || fail "left behind: $(ps -o pid=,args= -p "$(echo $left | tr ' ' ,)")"
[ -z "$(ls -A "$T/tmp")" ] || fail "the demo left $(ls -A "$T/tmp")"
grep -q 'demo: interrupted' "$T/demo.err" || fail "the demo did not say it was interrupted"
note "the demo's $(echo $pids | wc -w) processes stopped, its directory removed"
