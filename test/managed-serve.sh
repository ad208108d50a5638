#!/bin/sh
# mig-recv --serve behind socat UNIX-LISTEN:... EXEC:..., with the
# destination's migrate hook: one that rewrites the disk paths (the guest
# moves, the destination stores the rewritten definition for --persistent
# and the source's is removed for --undefinesource), one that refuses (the
# source is told its reason and keeps running, nothing is left on the
# destination); then offline migrations, with and without
# --undefinesource: only the definition moves; and a paused source
# guest, which stays paused on the destination.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/qemu.sh"
. "$(dirname "$0")/mig.sh"
require_qemu

# serve N: a socat that hands one connection on $T/ctlN.sock to
# mig-recv --serve for host dst.
serve() {
	rm -f "$T/ctl$1.sock"
	socat "UNIX-LISTEN:$T/ctl$1.sock" \
		EXEC:"$BIN/mig-recv --serve $(host_dirs dst) --verbose" \
		2>"$T/recv$1.err" &
	SOCAT_PID=$!
	track $SOCAT_PID
	wait_for 10 "socat to listen" test -S "$T/ctl$1.sock"
}

mkdir -p "$T/src/disks"
serial=$T/g.serial
guest_def "$T/g.def" g "$serial"
mkdisk "$T/src/disks/g.qcow2" 64M
fill_disk "$T/src/disks/g.qcow2"
for a in $(disk_args vd0 "$T/src/disks/g.qcow2"); do echo "arg $a"; done >>"$T/g.def"
host_config src define "$T/g.def" >/dev/null || fail "define on src"
host_start src start g
src_pid=$GUEST_PID
wait_for 30 "counts from the source guest" has_counts 2 "$serial"

# 1. A refusing hook: mig-send exits 1 with its reason; nothing changed.
dst_hook 'cat >/dev/null; echo "no room for $1 here" >&2; exit 3'
serve 1
send_start_with --domain g $(host_dirs src) --copy-storage-all --persistent \
	--desturi "unix:$T/ctl1.sock"
expect_status send $SEND_PID 1
grep -q "the migrate hook refused (status 3): no room for g here" "$T/send.err" ||
	fail "mig-send does not pass the hook's reason on: $(cat "$T/send.err")"
outcome_is send unchanged
wait_exit $SOCAT_PID 30
pid_gone "$src_pid" && fail "the source QEMU is gone"
[ -e "$T/dst/run/g" ] && fail "run state left on the destination"
[ -e "$T/dst/disks" ] && fail "a disk was created for a refused migration"
host_config src list --json | grep -qF '[{"name":"g","state":"running","persistent":true,' ||
	fail "the source changed: $(host_config src list --json)"

# 2. A hook that rewrites the disk paths: the disk is created there, the
# guest moves, and --persistent stores the rewritten definition.
dst_hook_moves src
sed "s|$T/src/|$T/dst/|g" "$T/g.def" >"$T/g.dst.def"
serve 2
send_start_with --domain g $(host_dirs src) --copy-storage-all \
	--persistent --undefinesource --desturi "unix:$T/ctl2.sock"
expect_status send $SEND_PID 0
wait_exit $SOCAT_PID 30
[ "$EXIT_STATUS" = 0 ] || fail "mig-recv --serve exited $EXIT_STATUS"
outcome_is send "destination running"
wait_for 10 "the source QEMU to quit" pid_gone "$src_pid"
dst_pid=$(cat "$T/dst/run/g/pid")
track "$dst_pid"
check_continuity "$serial" /dev/null
cmp -s "$T/dst/etc/g.def" "$T/g.dst.def" ||
	fail "the destination does not store the hook's definition"
[ -e "$T/src/etc/g.def" ] && fail "--undefinesource left the source's definition"
host_config dst destroy g >/dev/null || fail "destroy on dst"
qemu-img compare -q "$T/src/disks/g.qcow2" "$T/dst/disks/g.qcow2" ||
	fail "the disks differ"

# 3. Offline, without and with --undefinesource: the definition alone (the
# guest h is defined, not running); the hook still applies.
guest_def "$T/h.def" h "$T/h.serial"
echo "arg -name" >>"$T/h.def"; echo "arg h-on-$T/src/" >>"$T/h.def"
host_config src define "$T/h.def" >/dev/null || fail "define h"
sed "s|$T/src/|$T/dst/|g" "$T/h.def" >"$T/h.dst.def"
serve 3
expect_exit 0 "$BIN/mig-send" --domain h $(host_dirs src) --offline \
	--persistent --desturi "unix:$T/ctl3.sock"
wait_exit $SOCAT_PID 30
cmp -s "$T/dst/etc/h.def" "$T/h.dst.def" || fail "offline: h not stored there"
cmp -s "$T/src/etc/h.def" "$T/h.def" || fail "offline: the source's h changed"
[ -e "$T/dst/run/h" ] && fail "offline: a guest was started"
rm "$T/dst/etc/h.def"
serve 4
expect_exit 0 "$BIN/mig-send" --domain h $(host_dirs src) --offline \
	--persistent --undefinesource --desturi "unix:$T/ctl4.sock"
wait_exit $SOCAT_PID 30
cmp -s "$T/dst/etc/h.def" "$T/h.dst.def" || fail "offline: h not stored there"
[ -e "$T/src/etc/h.def" ] && fail "offline --undefinesource: h still stored here"

# 4. A paused source guest stays paused on the destination.
dst_hook 'cat'
guest_def "$T/p.def" p "$T/p.serial"
host_start src create "$T/p.def"
ln -s "$T/src/run/p/qmp.sock" "$T/psrc.qmp"
ln -s "$T/dst/run/p/qmp.sock" "$T/pdst.qmp"
qmp_cmd psrc '{"execute":"stop"}' >/dev/null || fail "stop on the source"
serve 5
send_start_with --domain p $(host_dirs src) --desturi "unix:$T/ctl5.sock"
expect_status send $SEND_PID 0
outcome_is send "paused on destination"
wait_exit $SOCAT_PID 30
track "$(cat "$T/dst/run/p/pid")"
case $(qmp_cmd pdst '{"execute":"query-status"}') in
*'"status": "paused"'*|*'"status":"paused"'*) ;;
*) fail "the destination guest is not paused: $(qmp_cmd pdst '{"execute":"query-status"}')" ;;
esac
exit 0
