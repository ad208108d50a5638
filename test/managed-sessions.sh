#!/bin/sh
# mig-recv --listen without --once serves several sources at a time, each
# session in its own process: two guests migrated at once (their disk
# copies throttled so that the sessions overlap) both continue on the
# destination with identical disks; a stopping signal during a third
# migration stops that session as it would stop a single one (the source
# keeps running, nothing is left on the destination) and mig-recv exits 0,
# while the guests it received go on.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/qemu.sh"
. "$(dirname "$0")/mig.sh"
require_qemu

# guest NAME: a guest on the source, its 64 MiB disk read at 2 MiB/s;
# PID_NAME is its QEMU.
guest() {
	mkdir -p "$T/src/disks"
	guest_def "$T/$1.def" "$1" "$T/$1.serial"
	mkdisk "$T/src/disks/$1.qcow2" 64M
	fill_disk "$T/src/disks/$1.qcow2"
	for a in $(throttled_disk_args vd0 "$T/src/disks/$1.qcow2" 2097152); do
		echo "arg $a"
	done >>"$T/$1.def"
	host_start src create "$T/$1.def"
	eval "PID_$1=$GUEST_PID"
	wait_for 30 "counts from guest $1" has_counts 2 "$T/$1.serial"
}
# send NAME: migrate NAME in the background; SEND_NAME is mig-send.
send() {
	"$BIN/mig-send" --domain "$1" $(host_dirs src) --copy-storage-all \
		--desturi "unix:$T/ctl.sock" --json >"$T/send-$1.json" \
		2>"$T/send-$1.err" </dev/null &
	eval "SEND_$1=$!"
	track $!
}

guest g1
guest g2
guest g3
dst_hook_moves src
listen_start

# 1. Two at once.
send g1
send g2
# Both sessions prepared before either has finished: they overlap.
wait_for 60 "both sessions to be prepared" eval \
	'[ "$(grep -c "prepared: the source may start" "$T/recv.err")" -ge 2 ]'
grep -q "outcome:" "$T/recv.err" &&
	fail "a session ended before the other was prepared: $(cat "$T/recv.err")"
for g in g1 g2; do
	eval "pid=\$SEND_$g src=\$PID_$g"
	wait_exit "$pid" 180
	[ "$EXIT_STATUS" = 0 ] || fail "mig-send $g exited $EXIT_STATUS: $(cat "$T/send-$g.err")"
	grep -q '"outcome":"destination running"' "$T/send-$g.json" ||
		fail "$g: $(tail -n 1 "$T/send-$g.json")"
	wait_for 10 "the source QEMU of $g to quit" pid_gone "$src"
	check_continuity "$T/$g.serial" /dev/null
	track "$(cat "$T/dst/run/$g/pid")"
done
[ "$(grep -c "^mig-recv\[[0-9]*\]: outcome: destination running" "$T/recv.err")" = 2 ] ||
	fail "mig-recv's sessions: $(cat "$T/recv.err")"

# 2. A stop signal during the third's disk copy: that session stops, the
# source keeps its guest, mig-recv exits 0 and the first two run on.
send g3
wait_for 60 "g3's disk copy" grep -q '"phase":"disk-copy"' "$T/send-g3.json"
kill -TERM $RECV_PID
expect_status recv $RECV_PID 0 60
wait_exit "$SEND_g3" 60
[ "$EXIT_STATUS" = 1 ] || fail "mig-send g3 exited $EXIT_STATUS: $(cat "$T/send-g3.err")"
grep -q '"outcome":"source running"' "$T/send-g3.json" ||
	fail "g3: $(tail -n 1 "$T/send-g3.json")"
pid_gone "$PID_g3" && fail "g3's source QEMU is gone"
[ -e "$T/dst/disks/g3.qcow2" ] && fail "g3's disk was left on the destination"
for g in g1 g2; do
	host_config dst list | grep -q "^$g *running" ||
		fail "$g does not run on the destination: $(host_config dst list)"
	host_config dst destroy "$g" >/dev/null || fail "destroy $g"
	qemu-img compare -q "$T/src/disks/$g.qcow2" "$T/dst/disks/$g.qcow2" ||
		fail "$g: the disks differ"
done
exit 0
