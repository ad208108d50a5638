#!/bin/sh
# make demo: live-migrate the test guest (128 MiB of RAM it keeps dirtying,
# a 256 MiB qcow2 disk holding 32 MiB of data) between two local QEMU
# processes over UNIX sockets, disk included, with mig-send's progress on
# the terminal, printing each command before it runs; then show that the guest went on counting on the
# destination, check that the disks are identical, and print one summary
# line.  Exit status 0 only if all of that held.
# Knobs: QEMU (qemu-system-x86_64), QEMU_ACCEL (tcg), DEMO_MEM (MiB, 128),
# DEMO_DISK (MiB, 256), TMPDIR.
. "$(dirname "$0")/lib.sh"
GUEST_MEM=${DEMO_MEM:-128}
DISK=${DEMO_DISK:-256}

say() { printf 'demo: %s\n' "$*"; }
# show CMD...: print the command as a user would type it, paths shortened.
show() { printf '  $ %s\n' "$*" | sed "s|$T/||g; s|$BIN/||g"; }

# wait_until SECS WHAT CMD...: until_ok, but die at the deadline.
wait_until() { until_ok "$@" || die "$WHY"; }

for c in "$QEMU" qemu-img qemu-io; do
	command -v "$c" >/dev/null 2>&1 ||
		die "$c is missing (make demo installs it with scripts/deps.sh test, as root)"
done
for f in "$BIN/mig-send" "$BIN/mig-recv" "$GUEST"; do
	[ -x "$f" ] || [ -f "$f" ] || die "$f is missing: run make"
done
T=$(mktemp -d "${TMPDIR:-/tmp}/mig-demo.XXXXXX") || die "mktemp"
R=$T	# start_guest's files
cd "$T" || die "cd $T"

# The disks: data written with qemu-io before QEMU opens the source.
mkdisk "$T/src.qcow2" "${DISK}M"
fill_disk "$T/src.qcow2" 8388608
mkdisk "$T/dst.qcow2" "${DISK}M"
say "source disk: ${DISK} MiB qcow2 with 32 MiB of data; guest RAM: ${GUEST_MEM} MiB"
say "in $T: two QEMUs, the destination started with -incoming defer"
vd0() { echo "-blockdev driver=qcow2,node-name=vd0,file.driver=file,file.filename=$1" \
	"-device virtio-blk-pci,drive=vd0,id=vd0"; }
show "$QEMU -m $GUEST_MEM -kernel guest.elf -qmp unix:src.qmp,server=on,wait=off $(vd0 src.qcow2) ..."
start_guest src $(vd0 "$T/src.qcow2") || die "$WHY"
show "$QEMU -m $GUEST_MEM -kernel guest.elf -qmp unix:dst.qmp,server=on,wait=off $(vd0 dst.qcow2) -incoming defer ..."
start_guest dst $(vd0 "$T/dst.qcow2") -incoming defer || die "$WHY"
wait_until 30 "the guest to count on the source" has_counts 2 "$T/src.serial"
say "guest running on the source (pid $src_pid), counting: $(guest_counts "$T/src.serial" | tail -n 1)"

set -- "$BIN/mig-recv" --qmp "unix:$T/dst.qmp" --incoming "unix:$T/mig.sock" \
	--nbd "unix:$T/nbd.sock" --timeout 120
show "$@"
spawn recv_pid "$BIN/mig-recv" --qmp "unix:$T/dst.qmp" --incoming "unix:$T/mig.sock" \
	--nbd "unix:$T/nbd.sock" --timeout 120 >"$T/recv.out" 2>"$T/recv.err" </dev/null
recv_ready() {
	pid_gone $recv_pid && { cat "$T/recv.err" >&2; die "mig-recv exited before it was ready"; }
	grep -qx ready "$T/recv.out"
}
wait_until 30 "mig-recv to be ready" recv_ready
say "destination ready (pid $dst_pid); mig-send:"

set -- "$BIN/mig-send" --qmp "unix:$T/src.qmp" --migrate-uri "unix:$T/mig.sock" \
	--copy-storage-all --disks-uri "unix:$T/nbd.sock" --verbose --json
show "$@ >send.json"
spawn send_pid "$BIN/mig-send" --qmp "unix:$T/src.qmp" --migrate-uri "unix:$T/mig.sock" \
	--copy-storage-all --disks-uri "unix:$T/nbd.sock" --verbose --json \
	>"$T/send.json" </dev/null
# mig-send's stderr is the user's: its progress line shows there.
both_done() { pid_gone $send_pid && pid_gone $recv_pid; }
wait_until 180 "the migration to finish" both_done
wait $send_pid; send_rc=$?; reaped $send_pid
wait $recv_pid; recv_rc=$?; reaped $recv_pid
[ $send_rc = 0 ] || die "mig-send exited $send_rc"
[ $recv_rc = 0 ] || { cat "$T/recv.err" >&2; die "mig-recv exited $recv_rc"; }
wait_until 10 "the source QEMU to quit" pid_gone "$src_pid"
pid_gone "$dst_pid" && die "the destination QEMU is gone"

# The guest goes on on the destination: 3 more counts, the counter goes up
# by one across both logs, the guest found no stale page.
continued "$T/src.serial" "$T/dst.serial" 30 || die "$WHY"
last_src=$(guest_counts "$T/src.serial" | tail -n 1)
first_dst=$(guest_counts "$T/src.serial" "$T/dst.serial" | awk -v s="$last_src" '$1 > s { print; exit }')
now_dst=$(guest_counts "$T/src.serial" "$T/dst.serial" | tail -n 1)
say "the guest kept counting: source stopped at $last_src, destination went on with $first_dst ... $now_dst (errors 0)"

stop_pid "$dst_pid"
show qemu-img compare src.qcow2 dst.qcow2
disks_identical "$T/src.qcow2" "$T/dst.qcow2" >/dev/null ||
	die "the destination disk differs from the source"
say "the disks are identical"

sum=$(grep '"event":"summary"' "$T/send.json" | tail -n 1)
[ -n "$sum" ] || die "no summary from mig-send --json"
num() { printf '%s\n' "$sum" | sed -n "s/.*\"$1\":\([0-9][0-9]*\).*/\1/p"; }
total=$(num total_ms) down=$(num downtime_ms) mem=$(num memory_bytes)
disk=$(printf '%s\n' "$sum" | tr ',{}[' '\n\n\n\n' |
	sed -n 's/^"bytes":\([0-9][0-9]*\)$/\1/p' | awk '{ s += $1 } END { print s + 0 }')
[ -n "$total" ] && [ -n "$down" ] && [ -n "$mem" ] || die "cannot read mig-send's summary: $sum"
awk -v t="$total" -v d="$down" -v m="$mem" -v k="$disk" 'BEGIN {
	# QEMU 7.2 may report 0 when queried right at completion: its status
	# "completed" comes before it computes the downtime.
	printf "demo: migrated in %.2f s, downtime %s, moved %.1f MiB (memory %.1f MiB + disk %.1f MiB)\n",
	    t / 1000, d ? d " ms" : "not reported by QEMU", (m + k) / 1048576, m / 1048576, k / 1048576 }'
