#!/bin/sh
# make demo: live-migrate the test guest (128 MiB of RAM it keeps dirtying,
# a 256 MiB qcow2 disk holding 33 MiB of data) between two local QEMU
# processes over UNIX sockets, disk included, with mig-send's progress on
# the terminal; then show that the guest went on counting on the
# destination, check that the disks are identical, and print one summary
# line.  Exit status 0 only if all of that held.
# Knobs: QEMU (qemu-system-x86_64), QEMU_ACCEL (tcg), DEMO_MEM (MiB, 128),
# DEMO_DISK (MiB, 256), TMPDIR.
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
BIN=$TOP/build/bin
GUEST=$TOP/build/guest/guest.elf
QEMU=${QEMU:-qemu-system-x86_64}
MEM=${DEMO_MEM:-128}
DISK=${DEMO_DISK:-256}
PIDS=""
T=""

say() { printf 'demo: %s\n' "$*"; }
die() { printf 'demo: FAILED: %s\n' "$*" >&2; exit 1; }

# pid_gone PID: the process has exited (a zombie counts as exited).
pid_gone() {
	_st=""
	{ read -r _st <"/proc/$1/stat"; } 2>/dev/null
	_st=${_st##*) }
	case $_st in "" | Z* | X*) return 0 ;; esac
	return 1
}

# reaped PID: forget a process that was waited for (its PID may be reused).
reaped() {
	_keep=""
	for _p in $PIDS; do [ "$_p" = "$1" ] || _keep="$_keep $_p"; done
	PIDS=$_keep
}

# stop_pid PID: TERM, up to 5 s to go, then KILL; reap it.
stop_pid() {
	if ! pid_gone "$1"; then
		kill -TERM "$1" 2>/dev/null
		_i=0
		while ! pid_gone "$1" && [ $_i -lt 100 ]; do
			sleep 0.05; _i=$((_i + 1))
		done
		kill -KILL "$1" 2>/dev/null
	fi
	wait "$1" 2>/dev/null
	reaped "$1"
}

cleanup() {
	_rc=$?
	trap - EXIT INT TERM HUP
	# Newest first: the tools roll back before their QEMUs go.
	_rev=""
	for _p in $PIDS; do _rev="$_p $_rev"; done
	for _p in $_rev; do stop_pid "$_p"; done
	[ -n "$T" ] && rm -rf "$T"
	exit $_rc
}
trap cleanup EXIT
trap 'echo "demo: interrupted" >&2; exit 130' INT
trap 'echo "demo: interrupted" >&2; exit 143' TERM
trap 'echo "demo: interrupted" >&2; exit 129' HUP

# wait_until SECS WHAT CMD...: poll CMD every 50 ms; die at the deadline.
wait_until() {
	_end=$(( $(date +%s) + $1 )) _what=$2; shift 2
	until "$@"; do
		[ "$(date +%s)" -ge "$_end" ] && die "timed out waiting for $_what"
		sleep 0.05
	done
}

for c in "$QEMU" qemu-img qemu-io; do
	command -v "$c" >/dev/null 2>&1 ||
		die "$c is missing (make demo installs it with scripts/deps.sh test, as root)"
done
for f in "$BIN/mig-send" "$BIN/mig-recv" "$GUEST"; do
	[ -x "$f" ] || [ -f "$f" ] || die "$f is missing: run make"
done
T=$(mktemp -d "${TMPDIR:-/tmp}/mig-demo.XXXXXX") || die "mktemp"

# Serial lines of the guest: "count N pass P errors E".  A line may be split
# between the two logs at the switch-over: read them concatenated, and
# without an unfinished last line.
complete_lines() {
	cat "$@" 2>/dev/null | tr -d '\r' >"$T/lines.tmp"
	if [ -s "$T/lines.tmp" ] &&
	   [ "$(tail -c 1 "$T/lines.tmp" | od -An -tx1 | tr -d ' ')" != 0a ]; then
		sed '$d' "$T/lines.tmp"
	else
		cat "$T/lines.tmp"
	fi
}
counts() {
	complete_lines "$@" |
		sed -n 's/^count \([0-9][0-9]*\) pass [0-9][0-9]* errors [0-9][0-9]*$/\1/p'
}
has_counts() { _n=$1; shift; [ "$(counts "$@" | wc -l)" -ge "$_n" ]; }

qemu_up() {
	pid_gone "$2" && { sed 's/^/    /' "$T/$1.log" >&2; die "QEMU $1 exited while starting"; }
	[ -S "$T/$1.qmp" ]
}

# start_qemu NAME DISK [ARGS...]: QEMU with the test guest and DISK as
# virtio disk vd0, QMP on $T/NAME.qmp, serial in $T/NAME.serial.
start_qemu() {
	_n=$1 _d=$2; shift 2
	"$QEMU" -M pc -accel "${QEMU_ACCEL:-tcg}" -m "$MEM" \
		-display none -nodefaults -no-user-config \
		-kernel "$GUEST" -serial "file:$T/$_n.serial" \
		-qmp "unix:$T/$_n.qmp,server=on,wait=off" \
		-blockdev "driver=qcow2,node-name=vd0,file.driver=file,file.filename=$_d" \
		-device virtio-blk-pci,drive=vd0,id=vd0 \
		"$@" >"$T/$_n.log" 2>&1 </dev/null &
	_p=$!
	PIDS="$PIDS $_p"
	eval "${_n}_pid=$_p"
	wait_until 30 "QEMU $_n to start" qemu_up "$_n" "$_p"
}

# The disks: data written with qemu-io before QEMU opens the source.
qemu-img create -q -f qcow2 "$T/src.qcow2" "${DISK}M" || die "qemu-img create"
qemu-img create -q -f qcow2 "$T/dst.qcow2" "${DISK}M" || die "qemu-img create"
head -c 8388608 /dev/urandom >"$T/rand" || die "no random data"
q=$((DISK / 4))
qemu-io -f qcow2 \
	-c "write -q -s $T/rand 0 8M" \
	-c "write -q -s $T/rand ${q}M 8M" \
	-c "write -q -s $T/rand $((q * 2))M 8M" \
	-c "write -q -s $T/rand $((DISK - 8))M 8M" \
	-c "write -q -P 0x5a $((q * 3))M 1M" \
	"$T/src.qcow2" || die "qemu-io could not write the source disk"
rm -f "$T/rand"
say "source disk: ${DISK} MiB qcow2 with 33 MiB of data; guest RAM: ${MEM} MiB"

start_qemu src "$T/src.qcow2"
start_qemu dst "$T/dst.qcow2" -incoming defer
wait_until 30 "the guest to count on the source" has_counts 2 "$T/src.serial"
say "guest running on the source (pid $src_pid), counting: $(counts "$T/src.serial" | tail -n 1)"

"$BIN/mig-recv" --qmp "unix:$T/dst.qmp" --incoming "unix:$T/mig.sock" \
	--nbd "unix:$T/nbd.sock" --timeout 120 >"$T/recv.out" 2>"$T/recv.err" </dev/null &
recv_pid=$!
PIDS="$PIDS $recv_pid"
recv_ready() {
	pid_gone $recv_pid && { cat "$T/recv.err" >&2; die "mig-recv exited before it was ready"; }
	grep -qx ready "$T/recv.out"
}
wait_until 30 "mig-recv to be ready" recv_ready
say "destination ready (pid $dst_pid); mig-send:"

"$BIN/mig-send" --qmp "unix:$T/src.qmp" --migrate-uri "unix:$T/mig.sock" \
	--copy-storage-all --disks-uri "unix:$T/nbd.sock" --verbose --json \
	>"$T/send.json" </dev/null &
send_pid=$!
PIDS="$PIDS $send_pid"
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
nsrc=$(counts "$T/src.serial" | wc -l)
wait_until 30 "the guest to count on the destination" \
	has_counts $((nsrc + 3)) "$T/src.serial" "$T/dst.serial"
bad=$(complete_lines "$T/src.serial" "$T/dst.serial" | awk '
	/^BOOT$/ { if (n) { print "the guest rebooted"; exit } next }
	/^count [0-9]+ pass [0-9]+ errors [0-9]+$/ {
		if (n && $2 != prev + 1) { print "count " $2 " after " prev; exit }
		if ($6 != 0) { print "the guest saw " $6 " stale pages"; exit }
		prev = $2; n++; next }
	{ print "garbage on the serial port: " $0; exit }')
[ -z "$bad" ] || die "guest continuity: $bad"
last_src=$(counts "$T/src.serial" | tail -n 1)
first_dst=$(counts "$T/src.serial" "$T/dst.serial" | awk -v s="$last_src" '$1 > s { print; exit }')
now_dst=$(counts "$T/src.serial" "$T/dst.serial" | tail -n 1)
say "the guest kept counting: source stopped at $last_src, destination went on with $first_dst ... $now_dst (errors 0)"

stop_pid "$dst_pid"
qemu-img compare -q -f qcow2 -F qcow2 "$T/src.qcow2" "$T/dst.qcow2" ||
	die "the destination disk differs from the source"
say "qemu-img compare: the disks are identical"

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
