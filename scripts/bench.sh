#!/bin/sh
# make bench: how much mig-send and mig-recv add to a migration.  The same
# migration (the test guest with 128 MiB of RAM it keeps dirtying, a 256 MiB
# qcow2 disk holding 32 MiB of data, --copy-storage-all over UNIX sockets
# between two local QEMUs) is driven alternately (a) by mig-recv + mig-send
# and (b) by the bare QMP sequence they send (scripts/bench-qmp.py), for
# BENCH_ROUNDS rounds (5); then the medians of the total time and of the
# downtime, the ratio tools/bare against the target (at most 5% more), and
# the stripped size of each binary against the 150 KiB target.
#
# Total time: from the start of the receiving side (mig-recv; for the bare
# script, once its interpreter is loaded) until both sides are done: the
# source QEMU quit and the guest released on the destination.  Downtime: as
# QEMU reports it (query-migrate).  Every run is checked afterwards (the
# guest counts on without a gap or a stale page on the destination,
# qemu-img compare finds the disks identical); a run that fails is not
# counted and makes the exit status 1.  The ratio does not: a benchmark is
# not a test.
# Knobs: BENCH_ROUNDS (5), BENCH_DOWNTIME_MS (2000), QEMU, QEMU_ACCEL (tcg), PYTHON (python3), TMPDIR.
. "$(dirname "$0")/lib.sh"
PY=${PYTHON:-python3}
ROUNDS=${BENCH_ROUNDS:-5}
# The guest re-dirties 32 MiB all the time, so with QEMU's default 300 ms
# the number of passes (65 to 290 MiB sent) is a matter of luck and swamps
# what the drivers cost.  A 2 s limit ends every run after its first pass:
# both drivers then run the same, repeatable migration.
DOWNTIME=${BENCH_DOWNTIME_MS:-2000}
GUEST_MEM=128
DISK=256
TARGET_PCT=5
SIZE_KIB=150

# end_run: stop_run, and close the FIFOs that drive_tools and drive_bare
# opened.
end_run() {
	stop_run
	exec 3<&- 4>&-
}

# vd0 IMAGE: QEMU's arguments for IMAGE as the guest's virtio disk vd0.
vd0() { echo "-blockdev driver=qcow2,node-name=vd0,file.driver=file,file.filename=$1" \
	"-device virtio-blk-pci,drive=vd0,id=vd0"; }

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

for c in "$QEMU" qemu-img qemu-io strip "$PY"; do
	command -v "$c" >/dev/null 2>&1 ||
		die "$c is missing (make bench installs it with scripts/deps.sh bench, as root)"
done
for f in "$BIN/mig-send" "$BIN/mig-recv" "$GUEST" "$TOP/scripts/bench-qmp.py"; do
	[ -f "$f" ] || die "$f is missing: run make"
done
case $ROUNDS in '' | *[!0-9]* | 0) die "BENCH_ROUNDS must be a positive number" ;; esac
T=$(mktemp -d "${TMPDIR:-/tmp}/mig-bench.XXXXXX") || die "mktemp"

# The migration driven by mig-recv + mig-send; sets T0 and T1.  The waits
# block (no polling, for exact times); the deadline is mig-recv's
# --timeout: when it gives up it quits the destination QEMU, and mig-send
# then fails too.
drive_tools() {
	T0=$(now_ms)
	"$BIN/mig-recv" --qmp "unix:$R/dst.qmp" --incoming "unix:$R/mig.sock" \
		--nbd "unix:$R/nbd.sock" --timeout 120 \
		>"$R/ready" 2>"$R/recv.err" </dev/null &
	_recv=$!
	RUN_PIDS="$RUN_PIDS $_recv"
	exec 3<"$R/ready"
	_line=""
	read -r _line <&3
	if [ "$_line" != ready ]; then
		WHY="mig-recv did not get ready: $(tail -n 2 "$R/recv.err")"
		return 1
	fi
	"$BIN/mig-send" --qmp "unix:$R/src.qmp" --migrate-uri "unix:$R/mig.sock" \
		--copy-storage-all --disks-uri "unix:$R/nbd.sock" --json \
		--downtime "$DOWNTIME" \
		>"$R/summary" 2>"$R/send.err" </dev/null &
	_send=$!
	RUN_PIDS="$RUN_PIDS $_send"
	wait $_send; _src=$?; reaped $_send
	if [ $_src != 0 ]; then
		WHY="mig-send exited $_src: $(tail -n 2 "$R/send.err")"
		return 1
	fi
	wait $_recv; _rrc=$?; reaped $_recv
	T1=$(now_ms)
	if [ $_rrc != 0 ]; then
		WHY="mig-recv exited $_rrc: $(tail -n 2 "$R/recv.err")"
		return 1
	fi
}

# The same migration, driven by the bare QMP sequence.  Python is started
# and loaded before T0, then told to go.  Its own deadlines bound the wait.
drive_bare() {
	"$PY" "$TOP/scripts/bench-qmp.py" --wait-go --downtime "$DOWNTIME" \
		--src-qmp "$R/src.qmp" --dst-qmp "$R/dst.qmp" \
		--migrate-sock "$R/mig.sock" --nbd-sock "$R/nbd.sock" \
		--summary "$R/summary" <"$R/go" >"$R/ready" 2>"$R/bare.err" &
	_bare=$!
	RUN_PIDS="$RUN_PIDS $_bare"
	# In the order the child opens them, or both sides block.
	exec 4>"$R/go" 3<"$R/ready"
	_line=""
	read -r _line <&3
	if [ "$_line" != loaded ]; then
		WHY="bench-qmp.py did not start: $(tail -n 2 "$R/bare.err")"
		return 1
	fi
	T0=$(now_ms)
	echo go >&4
	wait $_bare; _rc=$?; reaped $_bare
	T1=$(now_ms)
	if [ $_rc != 0 ]; then
		WHY="bench-qmp.py exited $_rc: $(tail -n 2 "$R/bare.err")"
		return 1
	fi
}

# run MODE: one migration in a fresh directory; prints its result line
# and appends to $T/MODE.times and $T/MODE.down if it succeeded.
run() {
	R=$T/run
	rm -rf "$R"
	mkdir "$R" && mkfifo "$R/ready" "$R/go" &&
		cp "$T/template.qcow2" "$R/src.qcow2" &&
		qemu-img create -q -f qcow2 "$R/dst.qcow2" "${DISK}M" ||
		{ WHY="cannot prepare the run directory"; return 1; }
	start_guest src $(vd0 "$R/src.qcow2") || return 1
	start_guest dst $(vd0 "$R/dst.qcow2") -incoming defer || return 1
	until_ok 30 "the guest to count on the source" \
		has_counts 2 "$R/src.serial" || return 1
	drive_$1 || return 1
	exec 3<&- 4>&-
	until_ok 10 "the source QEMU to quit" pid_gone "$src_pid" || return 1
	wait "$src_pid" 2>/dev/null; reaped "$src_pid"
	pid_gone "$dst_pid" && { WHY="the destination QEMU is gone"; return 1; }
	# The guest went on on the destination: 3 more counts, the counter goes
	# up by one across both logs, no stale page, no reboot.
	continued "$R/src.serial" "$R/dst.serial" 30 || return 1
	stop_pid "$dst_pid"
	qemu-img compare -q -f qcow2 -F qcow2 "$R/src.qcow2" "$R/dst.qcow2" ||
		{ WHY="the disks differ"; return 1; }
	_sum=$(grep '"event":"summary"' "$R/summary" | tail -n 1)
	_down=$(printf '%s\n' "$_sum" | sed -n 's/.*"downtime_ms":\([0-9][0-9]*\).*/\1/p')
	_mem=$(printf '%s\n' "$_sum" | sed -n 's/.*"memory_bytes":\([0-9][0-9]*\).*/\1/p')
	[ -n "$_down" ] && [ -n "$_mem" ] || { WHY="no summary: $_sum"; return 1; }
	echo $((T1 - T0)) >>"$T/$1.times"
	# QEMU 7.2 sets the status "completed" before it computes the downtime:
	# queried at once (as both drivers do), it may still say 0.  Not counted.
	[ "$_down" = 0 ] || echo "$_down" >>"$T/$1.down"
	RESULT=$(awk -v t=$((T1 - T0)) -v d="$_down" -v m="$_mem" 'BEGIN {
		printf "total %5d ms  downtime %s  memory sent %5.1f MiB  ok", t,
		    d ? sprintf("%4d ms", d) : " n/a   ", m / 1048576 }')
}

# The source disk: data written with qemu-io before any QEMU opens it.
mkdisk "$T/template.qcow2" "${DISK}M"
fill_disk "$T/template.qcow2" 8388608
: >"$T/tools.times"; : >"$T/bare.times"; : >"$T/tools.down"; : >"$T/bare.down"

echo "bench: $ROUNDS rounds of tools/bare alternated; guest ${GUEST_MEM} MiB RAM, ${DISK} MiB qcow2 disk (32 MiB data), --copy-storage-all over unix sockets, QEMU $("$QEMU" --version | sed -n '1s/.*version \([^ ]*\).*/\1/p') ${QEMU_ACCEL:-tcg}, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
failed=0
i=1
while [ $i -le "$ROUNDS" ]; do
	for mode in tools bare; do
		WHY="" RESULT=""
		if run $mode; then
			printf 'round %d/%d  %-5s  %s\n' $i "$ROUNDS" $mode "$RESULT"
		else
			failed=$((failed + 1))
			printf 'round %d/%d  %-5s  FAILED (not counted): %s\n' \
				$i "$ROUNDS" $mode "$WHY"
		fi
		end_run
	done
	i=$((i + 1))
done

tt=$(median "$T/tools.times") bt=$(median "$T/bare.times")
td=$(median "$T/tools.down") bd=$(median "$T/bare.down")
if [ -n "$tt" ] && [ -n "$bt" ]; then
	awk -v tt="$tt" -v bt="$bt" -v td="$td" -v bd="$bd" -v p=$TARGET_PCT \
	    -v nt="$(wc -l <"$T/tools.times")" -v nb="$(wc -l <"$T/bare.times")" 'BEGIN {
		r = tt / bt
		printf "result: total time median: tools %.0f ms, bare %.0f ms (%d and %d runs)\n", tt, bt, nt, nb
		printf "result: downtime median: tools %s, bare %s (runs where QEMU reported one)\n",
		    td == "" ? "n/a" : sprintf("%.0f ms", td), bd == "" ? "n/a" : sprintf("%.0f ms", bd)
		printf "result: ratio tools/bare %.3f (%+.1f%%); target: at most +%d%%: %s\n",
		    r, (r - 1) * 100, p, r <= 1 + p / 100 ? "met" : "NOT met" }'
else
	echo "result: no median: too few successful runs"
fi

for b in "$BIN"/*; do
	[ -f "$b" ] && [ -x "$b" ] || continue
	n=${b##*/}
	strip -o "$T/stripped" "$b" 2>/dev/null || { echo "size: $n: strip failed"; continue; }
	s=$(wc -c <"$T/stripped")
	case $n in
	mig-send | mig-recv)
		awk -v n="$n" -v s="$s" -v k=$SIZE_KIB 'BEGIN {
			printf "size: %-10s %6.1f KiB stripped; target: at most %d KiB: %s\n",
			    n, s / 1024, k, s <= k * 1024 ? "met" : "NOT met" }' ;;
	*)	awk -v n="$n" -v s="$s" 'BEGIN {
			printf "size: %-10s %6.1f KiB stripped\n", n, s / 1024 }' ;;
	esac
done
rm -f "$T/stripped"

if [ $failed != 0 ]; then
	echo "bench: $failed run(s) failed" >&2
	exit 1
fi
