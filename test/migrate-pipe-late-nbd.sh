#!/bin/sh
# In a pipeline (mig-send --migrate-uri -) mig-send cannot see mig-recv's
# "ready" and must wait by itself for the destination's NBD server: here
# the server starts listening only once mig-send said it waits for it,
# and exports its disk only once mig-send said it waits for the export
# (mig-recv too starts the server before it adds the exports, a window
# mig-send can fall into).  mig-send must wait for both and start copying
# the disk, not give up with exit 2.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/qemu.sh"
. "$(dirname "$0")/mig.sh"
require_qemu

pair_disks
# The copy takes a few seconds: the test is over before the memory phase.
start_src src $(throttled_disk_args vd0 "$T/src0.qcow2" 2097152)
start_dst dst $(disk_args vd0 "$T/dst0.qcow2")

"$BIN/mig-send" --qmp "unix:$T/src.qmp" --json --verbose --migrate-uri - \
	--copy-storage-all --disks-uri "unix:$T/nbd.sock" \
	>/dev/null 2>"$T/send.err" </dev/null &
SEND_PID=$!
track $SEND_PID

# The destination's side, each step once mig-send waits for it, over its
# QMP socket (the connection stays open until the test ends).
waiting_for() { grep -q "waiting for the destination's $1" "$T/send.err"; }
mkfifo "$T/dst.qmp.in" || fail mkfifo
socat - "UNIX-CONNECT:$T/dst.qmp" <"$T/dst.qmp.in" >"$T/dst.qmp.out" 2>&1 &
track $!
exec 3>"$T/dst.qmp.in"
printf '%s\n' '{"execute":"qmp_capabilities"}' >&3
wait_for 20 "mig-send to wait for the NBD server" waiting_for "NBD server"
printf '{"execute":"nbd-server-start","arguments":{"addr":{"type":"unix","data":{"path":"%s"}}}}\n' "$T/nbd.sock" >&3
wait_for 20 "mig-send to wait for the export" waiting_for "disk export"
printf '%s\n' '{"execute":"block-export-add","arguments":{"type":"nbd","id":"vd0","node-name":"vd0","name":"vd0","writable":true}}' >&3

_copying() {
	pid_gone $SEND_PID && { cat "$T/send.err" >&2
		fail "mig-send gave up waiting for the NBD server (bug: see
    send_probe in lib/migrate/send.c, it does not retry a missing export)"; }
	grep -q '"event":"phase","phase":"disk-copy"' "$T/send.err"
}
wait_for 20 "mig-send to start the disk copy" _copying
[ "$(grep -c '^{"return"' "$T/dst.qmp.out")" = 3 ] ||
	fail "the destination's NBD setup failed: $(cat "$T/dst.qmp.out")"
hmp src 'info block-jobs' | grep -q '^Type mirror' ||
	fail "no mirror job on the source"
