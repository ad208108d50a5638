#!/bin/sh
# A managed --parallel migration whose migration socket the source QEMU
# cannot see (QEMU connects to it itself for the parallel channels): here
# --tunnelled's socket is in a directory outside the QEMU's mount
# namespace.  mig-send refuses before anything changes (exit 2, one line
# naming the socket), the guest runs on at the source, and the prepared
# destination undid its Prepare: no QEMU, no disk left there.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/qemu.sh"
. "$(dirname "$0")/mig.sh"
require_qemu
require_ns

mkdir -p "$T/src-disks" "$T/disks" "$T/src/etc"
guest_def "$T/g.def" g "$T/g.serial"
mkdisk "$T/src-disks/g.qcow2" 16M
for a in $(disk_args vd0 "$T/src-disks/g.qcow2"); do echo "arg $a"; done >>"$T/g.def"
# The source QEMU in a namespace of its own (a private /tmp, $T in it).
IN_NS=1 host_start src create "$T/g.def"
src_pid=$GUEST_PID
wait_for 30 "counts from the source guest" has_counts 2 "$T/g.serial"
dst_hook_moves src-disks
listen_start --once
# mig-send's tunnel directory: in this /tmp, not in the QEMU's (and
# removed whatever happens).
outside=$(mktemp -d /tmp/mig-unseen.XXXXXX)
fail() { rm -rf "$outside"; echo "FAIL: $*" >&2; exit 1; }
TMPDIR=$outside send_start_with --domain g $(host_dirs src) --tunnelled \
	--copy-storage-all --parallel --desturi "unix:$T/ctl.sock"
expect_status send $SEND_PID 2
rmdir "$outside" || fail "the tunnel's directory was left: $(ls -R "$outside")"
grep -q "QEMU connects to $outside/mig-tunnel\..*/mig.sock itself and it must see the same socket" \
	"$T/send.err" || fail "mig-send: $(cat "$T/send.err")"
outcome_is send unchanged
pid_gone "$src_pid" && fail "the source QEMU is gone"
[ "$(MON_SECS=5 guest_status src 2>/dev/null)" = paused ] && fail "the source guest is paused"
expect_status recv $RECV_PID 1 60
[ -e "$T/dst/disks/g.qcow2" ] && fail "the destination kept the disk it created"
[ -e "$T/dst/run/g/pid" ] && pgrep -F "$T/dst/run/g/pid" >/dev/null &&
	fail "the destination QEMU still runs"
exit 0
