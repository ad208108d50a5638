# Sourced by scripts/demo.sh, bench.sh and bench-tunnel.sh (not installed):
# paths, the processes of a run and their cleanup, waits with a deadline,
# and QEMU running the test guest (build/guest/guest.elf), whose serial
# port prints "count N pass P errors E" lines.  Messages start with the
# script's name, $ME.  The caller sets MEM (guest RAM, MiB) and R (the
# directory of a run's files) before start_qemu, DISK (MiB) before
# guest_disk, and T to its temporary directory, removed at exit.
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
BIN=$TOP/build/bin
GUEST=$TOP/build/guest/guest.elf
QEMU=${QEMU:-qemu-system-x86_64}
ME=$(basename "$0" .sh)
RUN_PIDS=""	# processes of the current run not yet reaped
T=""

die() { printf '%s: FAILED: %s\n' "$ME" "$*" >&2; exit 1; }

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
	for _p in $RUN_PIDS; do [ "$_p" = "$1" ] || _keep="$_keep $_p"; done
	RUN_PIDS=$_keep
}

# spawn VAR CMD...: CMD in the background, tracked; its PID in VAR.
spawn() {
	_v=$1; shift
	"$@" &
	RUN_PIDS="$RUN_PIDS $!"
	eval "$_v=$!"
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

# stop_run: every process of the run, newest first (a tool rolls back
# before its QEMU goes).
stop_run() {
	_rev=""
	for _p in $RUN_PIDS; do _rev="$_p $_rev"; done
	for _p in $_rev; do stop_pid "$_p"; done
}

cleanup() {
	_rc=$?
	trap - EXIT INT TERM HUP
	stop_run
	[ -n "$T" ] && rm -rf "$T"
	exit $_rc
}
trap cleanup EXIT
trap 'echo "$ME: interrupted" >&2; exit 130' INT
trap 'echo "$ME: interrupted" >&2; exit 143' TERM
trap 'echo "$ME: interrupted" >&2; exit 129' HUP

# until_ok SECS WHAT CMD...: poll CMD every 50 ms; at the deadline set WHY
# and return 1.  CMD returning 2 gives up at once (it set WHY).
until_ok() {
	_end=$(( $(date +%s) + $1 )) _what=$2; shift 2
	while :; do
		"$@"
		case $? in 0) return 0 ;; 2) return 1 ;; esac
		if [ "$(date +%s)" -ge "$_end" ]; then
			WHY="timed out waiting for $_what"
			return 1
		fi
		sleep 0.05
	done
}

qemu_up() {
	if pid_gone "$2"; then
		WHY="QEMU $1 exited while starting: $(tail -n 3 "$R/$1.log")"
		return 2
	fi
	[ -S "$R/$1.qmp" ]
}

# start_qemu NAME [ARGS...]: QEMU with the test guest, QMP on $R/NAME.qmp,
# serial in $R/NAME.serial, output in $R/NAME.log; PID in NAME_pid.  Sets
# WHY and returns 1 if it does not start.
start_qemu() {
	_n=$1; shift
	spawn "${_n}_pid" "$QEMU" -M pc -accel "${QEMU_ACCEL:-tcg}" -m "$MEM" \
		-display none -nodefaults -no-user-config \
		-kernel "$GUEST" -serial "file:$R/$_n.serial" \
		-qmp "unix:$R/$_n.qmp,server=on,wait=off" \
		"$@" >"$R/$_n.log" 2>&1 </dev/null
	eval "_p=\$${_n}_pid"
	until_ok 30 "QEMU $_n to start" qemu_up "$_n" "$_p"
}

# start_qemu_disk NAME DISK [ARGS...]: start_qemu with the qcow2 image DISK
# as the guest's virtio disk vd0.
start_qemu_disk() {
	_n=$1 _d=$2; shift 2
	start_qemu "$_n" \
		-blockdev "driver=qcow2,node-name=vd0,file.driver=file,file.filename=$_d" \
		-device virtio-blk-pci,drive=vd0,id=vd0 "$@"
}

# guest_disk FILE: a qcow2 image of $DISK MiB holding 33 MiB of data,
# written with qemu-io (so before any QEMU opens it): 8 MiB of random data
# at 0, 1/4 and 1/2 of the disk and at its end, 1 MiB of 0x5a at 3/4.
guest_disk() {
	qemu-img create -q -f qcow2 "$1" "${DISK}M" || die "qemu-img create"
	head -c 8388608 /dev/urandom >"$T/rand" || die "no random data"
	_q=$((DISK / 4))
	qemu-io -f qcow2 \
		-c "write -q -s $T/rand 0 8M" \
		-c "write -q -s $T/rand ${_q}M 8M" \
		-c "write -q -s $T/rand $((_q * 2))M 8M" \
		-c "write -q -s $T/rand $((DISK - 8))M 8M" \
		-c "write -q -P 0x5a $((_q * 3))M 1M" \
		"$1" || die "qemu-io could not write the source disk"
	rm -f "$T/rand"
}

# complete_lines FILE...: the serial logs concatenated (a line may be split
# between the source's and the destination's log at the switch-over),
# without carriage returns and without an unfinished last line.
complete_lines() {
	cat "$@" 2>/dev/null | tr -d '\r' >"$T/lines.tmp"
	if [ -s "$T/lines.tmp" ] &&
	   [ "$(tail -c 1 "$T/lines.tmp" | od -An -tx1 | tr -d ' ')" != 0a ]; then
		sed '$d' "$T/lines.tmp"
	else
		cat "$T/lines.tmp"
	fi
}

# counts FILE...: the guest's "count" lines in the serial logs; ncounts
# FILE...: how many; has_counts N FILE...: at least N.
counts() {
	complete_lines "$@" | grep -E '^count [0-9]+ pass [0-9]+ errors [0-9]+$'
}
ncounts() { counts "$@" | wc -l; }
has_counts() { _k=$1; shift; [ "$(ncounts "$@")" -ge "$_k" ]; }

# continuity_why SRC.serial DST.serial: why the guest did not go on from
# the source to the destination (nothing if it did): the counter goes up by
# one across both logs, no stale page, no reboot, no garbage.
continuity_why() {
	complete_lines "$1" "$2" | awk '
		/^BOOT$/ { if (n) { print "the guest rebooted"; exit } next }
		/^count [0-9]+ pass [0-9]+ errors [0-9]+$/ {
			if (n && $2 != prev + 1) { print "count " $2 " after " prev; exit }
			if ($6 != 0) { print "the guest saw " $6 " stale pages"; exit }
			prev = $2; n++; next }
		{ print "garbage on the serial port: " $0; exit }'
}

# median FILE: the median of the numbers in FILE, one a line ("" if none).
median() {
	sort -n "$1" 2>/dev/null | awk '{ v[NR] = $1 } END {
		if (NR == 0) print "";
		else if (NR % 2) print v[(NR + 1) / 2];
		else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
