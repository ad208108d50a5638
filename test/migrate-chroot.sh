#!/bin/sh
# A rescue shell: mig-send and mig-recv run in a chroot that holds nothing
# but their static binaries and the socket directory, QEMU outside it.
# Every socket path except QMP's (hard links into the chroot) exists only
# in the chroot, so QEMU cannot open any of them: the tools create and
# connect the sockets and hand QEMU the descriptors.  The guest moves with
# its disk, writes made during the copy included.  --socket-context fails
# in one clear line where the kernel has no SELinux (outside, the kernel
# refuses the label; in the chroot, no /proc).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/qemu.sh"
. "$(dirname "$0")/mig.sh"
require_qemu chroot
[ "$(id -u)" = 0 ] || skip "needs root for chroot"

ROOT=$T/root
mkdir -p "$ROOT/bin" "$ROOT/sockets" "$ROOT/qmp" "$T/chrooted"
cp "$BIN/mig-send" "$BIN/mig-recv" "$ROOT/bin/"
# The helpers run "$BIN/TOOL": here a wrapper that execs it in the chroot
# (same PID, so the helpers' waits and cleanup hold).
for tool in mig-send mig-recv; do
	printf '#!/bin/sh\nexec chroot "%s" /bin/%s "$@"\n' "$ROOT" "$tool" \
		>"$T/chrooted/$tool"
	chmod +x "$T/chrooted/$tool"
done
OUTSIDE=$BIN
BIN=$T/chrooted

pair_disks
pair_start throttle 4194304
# A unix socket can be hard-linked: QEMU's QMP sockets, seen in the chroot.
ln "$T/src.qmp" "$ROOT/qmp/src.qmp"
ln "$T/dst.qmp" "$ROOT/qmp/dst.qmp"
[ ! -e /sockets/nbd.sock ] || skip "/sockets/nbd.sock exists outside the chroot"

BIN=$OUTSIDE bad mig-recv "the kernel refuses the label" --socket-context system_u:object_r:svirt_socket_t:s0 \
	--qmp "unix:$T/dst.qmp"
bad mig-send "sockcreate" --socket-context system_u:object_r:svirt_socket_t:s0 \
	--qmp unix:/qmp/src.qmp --migrate-uri unix:/sockets/mig.sock
[ "$BAD_FAILED" = 0 ] || fail "$BAD_FAILED bad-input checks failed"

# Stale sockets of an earlier attempt (nobody listens: connect is
# refused) are replaced.
for s in mig nbd; do
	socat "UNIX-LISTEN:$ROOT/sockets/$s.sock" /dev/null &
	pid=$!
	wait_for 10 "socat's $s.sock" test -S "$ROOT/sockets/$s.sock"
	kill -KILL $pid
	wait_for 10 "socat to die" pid_gone $pid
	wait $pid 2>/dev/null
done

recv_start --qmp unix:/qmp/dst.qmp --incoming unix:/sockets/mig.sock \
	--nbd unix:/sockets/nbd.sock --timeout 150
# Created by mig-recv, in its filesystem, for nobody else.
for s in mig nbd; do
	[ -S "$ROOT/sockets/$s.sock" ] || fail "no socket $s.sock in the chroot"
	[ "$(stat -c %a "$ROOT/sockets/$s.sock")" = 600 ] ||
		fail "$s.sock is mode $(stat -c %a "$ROOT/sockets/$s.sock")"
done
# --parallel: QEMU 7.2 connects its channels itself, and cannot here.
bad mig-send "--parallel: QEMU connects to /sockets/mig.sock itself" \
	--qmp unix:/qmp/src.qmp --migrate-uri unix:/sockets/mig.sock --parallel
[ "$BAD_FAILED" = 0 ] || fail "the --parallel check failed"

send_start_with --qmp unix:/qmp/src.qmp --migrate-uri unix:/sockets/mig.sock \
	--copy-storage-all --disks-uri unix:/sockets/nbd.sock
copy_writes

assert_moved "$T/src0.qcow2" "$T/dst0.qcow2"
copy_writes_arrived "$T/dst0.qcow2"
# mig-recv removed the sockets it made.
ls "$ROOT/sockets" | grep -q . && fail "sockets left: $(ls "$ROOT/sockets")"
exit 0
