#!/bin/sh
# The guide's UNIX-socket scenario, its command verbatim with 'virsh
# migrate' replaced by mig-send, between two mount namespaces that share
# only /tmp/migdir: the destination's mig-recv --listen --once is its
# namespace's entrypoint, launches the guest from the definition the
# source sends and creates its disk; the guest continues, the disks are
# identical, writes made during the copy arrived, the source QEMU is gone,
# and the supervisor exits with QEMU's status once it is stopped.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/qemu.sh"
. "$(dirname "$0")/mig.sh"
require_qemu
require_ns
IN_NS=1

mkdir -p "$T/src-disks/sub" "$T/dst-disks" "$T/src/etc" "$T/dst/etc"
serial=$T/web1.serial
guest_def "$T/web1.def" web1 "$serial"
# The disk at one path, $T/disks/sub, each host's own (the destination has
# no sub/ yet); reads throttled to 4 MiB/s so that the copy lasts a while.
# A monitor for the test, in the host's own directory too.
mkdisk "$T/src-disks/sub/web1.qcow2" 64M
fill_disk "$T/src-disks/sub/web1.qcow2"
for a in $(throttled_disk_args vd0 "$T/src-disks/sub/web1.qcow2" 4194304 |
    sed "s|$T/src-disks/|$T/disks/|") \
    -chardev "socket,id=hmp,path=$T/disks/mon.hmp,server=on,wait=off" \
    -mon chardev=hmp,mode=readline; do
	echo "arg $a"
done >>"$T/web1.def"
host_start src create "$T/web1.def"
ln -s "$T/src-disks/mon.hmp" "$T/src.hmp"
ln -s "$T/src/run/web1/log" "$T/src.log"
wait_for 30 "counts from the source guest" has_counts 2 "$serial"

# The destination host: its namespace's entrypoint.
export MIG_CONFIG_DIR MIG_RUN_DIR
MIG_CONFIG_DIR=$T/dst/etc MIG_RUN_DIR=$T/dst/run
in_ns dst "$BIN/mig-recv" --listen unix:/tmp/migdir/test-sock-driver --once \
	--verbose >"$T/recv.out" 2>"$T/recv.err" </dev/null &
RECV_PID=$!
track $RECV_PID
wait_for 30 "mig-recv to listen" test -S "$T/migdir/test-sock-driver"

# The source host: the guide's command.
MIG_CONFIG_DIR=$T/src/etc MIG_RUN_DIR=$T/src/run
in_ns src "$BIN/mig-send" --domain web1 --p2p --copy-storage-all \
	--desturi 'qemu+unix:///system?socket=/tmp/migdir/test-sock-driver' \
	--migrateuri 'unix:///tmp/migdir/test-sock-qemu' \
	--disks-uri unix:///tmp/migdir/test-sock-nbd \
	--json >"$T/send.json" 2>"$T/send.err" </dev/null &
SEND_PID=$!
track $SEND_PID
copy_writes
expect_status send $SEND_PID 0
outcome_is send "destination running"
grep -q "created disk 'vd0': $T/disks/sub/web1.qcow2" "$T/recv.err" ||
	fail "mig-recv did not create the disk: $(cat "$T/recv.err")"
grep -q "launched guest 'web1'" "$T/recv.err" || fail "no launch"
wait_for 10 "the source QEMU to quit" pid_gone "$GUEST_PID"
check_continuity "$serial" /dev/null
ln -s "$T/dst-disks/mon.hmp" "$T/dst.hmp"
[ "$(guest_status dst)" = running ] || fail "the destination guest is not running"
pid_gone $RECV_PID && fail "mig-recv --once did not stay as the supervisor"

# SIGTERM asks the guest to power down (the test guest ignores it); a
# second one quits QEMU: mig-recv exits with QEMU's status, 0.
# ($RECV_PID is in_ns's subshell; mig-recv is its child.)
recv=$(pgrep -P $RECV_PID)
[ -n "$recv" ] || fail "no mig-recv under $RECV_PID"
kill -TERM $recv
wait_for 10 "the power-down request" grep -q "asking the guest to power down" \
	"$T/recv.err"
kill -TERM $recv
expect_status recv $RECV_PID 0
grep -q "QEMU exited with status 0" "$T/recv.err" || fail "$(tail -n 3 "$T/recv.err")"
[ ! -e "$T/dst/run/web1/pid" ] || ! pgrep -f "$T/dst/run/web1/qmp.sock" >/dev/null ||
	fail "the destination QEMU still runs"
qemu-img compare -q "$T/src-disks/sub/web1.qcow2" "$T/dst-disks/sub/web1.qcow2" ||
	fail "the disks differ"
copy_writes_arrived "$T/dst-disks/sub/web1.qcow2"
