#!/bin/sh
# make bench: what the control channel of a managed migration costs.  The
# same migration (the test guest with 128 MiB of RAM it keeps dirtying, a
# 256 MiB qcow2 disk holding 32 MiB of data, --copy-storage-all over unix
# sockets) is done alternately (a) in two commands, as today: the
# destination disk made with qemu-img, the destination QEMU started with
# mig-config create --incoming, then mig-recv + mig-send; and (b) p2p: one
# mig-send --desturi to a mig-recv --listen --once that receives the
# definition, creates the disk and launches QEMU itself.  BENCH_ROUNDS
# rounds (5); then the medians of the total time, and the ratio p2p/two
# against the target (at most 5% more).
#
# Then --tunnelled against direct: a p2p migration of a guest with
# TUN_MEM MiB (512) of RAM pre-filled with random data (a private mapping
# of a file), no disk, the stream straight over a unix socket or through
# the control connection's tunnel, alternated, BENCH_ROUNDS rounds.
# Throughput: mig-send's memory_bytes over the time from the memory
# phase's start to completion.  Target: the tunnel at least 0.8x direct.
# BENCH_TUN_PAUSED=1 pauses the guest before: its TCG vCPU then takes no
# core, which on a small machine the two tunnel processes compete for.
# BENCH_TUN_BW=MiB/s limits both: below what the cores can carry, the
# tunnel should cost no throughput at all.
#
# Total time: from the first command on the destination until the guest
# runs there and the source QEMU has quit.  Every run is checked (the guest
# counts on, qemu-img compare finds the disks identical); a failed run is
# not counted and makes the exit status 1.  The ratio does not.
# Knobs: BENCH_ROUNDS (5), BENCH_DOWNTIME_MS (2000), BENCH_TUN_MEM (512),
# BENCH_PARTS ("p2p tunnelled": which of the two), BENCH_TUN_PAUSED,
# BENCH_TUN_BW, QEMU, QEMU_ACCEL, TMPDIR.
. "$(dirname "$0")/lib.sh"
ROUNDS=${BENCH_ROUNDS:-5}
DOWNTIME=${BENCH_DOWNTIME_MS:-2000}	# one pass, as scripts/bench.sh
GUEST_MEM=128
DISK=256
TARGET_PCT=5
TUN_MEM=${BENCH_TUN_MEM:-512}
TUN_TARGET=0.8
TUN_PAUSED=${BENCH_TUN_PAUSED:-}	# 1: the guest paused (no vCPU load)
TUN_BW=${BENCH_TUN_BW:-}		# MiB/s: both modes limited to it
PARTS=${BENCH_PARTS:-"p2p tunnelled"}
want() { case " $PARTS " in *" $1 "*) return 0 ;; esac; return 1; }

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

for c in "$QEMU" qemu-img qemu-io; do
	command -v "$c" >/dev/null 2>&1 || die "$c is missing"
done
for f in "$BIN/mig-send" "$BIN/mig-recv" "$BIN/mig-config" "$GUEST"; do
	[ -f "$f" ] || die "$f is missing: run make"
done
case $ROUNDS in '' | *[!0-9]* | 0) die "BENCH_ROUNDS must be a positive number" ;; esac
T=$(mktemp -d "${TMPDIR:-/tmp}/mig-bench.XXXXXX") || die "mktemp"

# def HOST: the guest's definition with its disk in $R/HOST/.
def() {
	{
		echo "name g"
		echo "qemu $QEMU"
		for a in -M pc -accel "${QEMU_ACCEL:-tcg}" -m $GUEST_MEM \
		    -display none -nodefaults -no-user-config -kernel "$GUEST" \
		    -chardev "file,id=serial,path=$R/g.serial,append=on" \
		    -serial chardev:serial \
		    -blockdev "driver=qcow2,node-name=vd0,file.driver=file,file.filename=$R/$1/g.qcow2" \
		    -device virtio-blk-pci,drive=vd0,id=vd0; do
			echo "arg $a"
		done
	}
}
cfg() { _h=$1; shift; "$BIN/mig-config" --config-dir "$R/$_h/etc" --run-dir "$R/$_h/run" "$@"; }

# listen_once: mig-recv --listen --once for the destination of $R, in the
# background ($_recv), once it listens.
listen_once() {
	"$BIN/mig-recv" --listen "unix:$R/ctl.sock" --once \
		--config-dir "$R/dst/etc" --run-dir "$R/dst/run" \
		>/dev/null 2>"$R/recv.err" </dev/null &
	_recv=$!
	RUN_PIDS="$RUN_PIDS $_recv"
	until_ok 10 "mig-recv to listen" test -S "$R/ctl.sock"
}

# run MODE: one migration in a fresh directory; appends its time.
run() {
	R=$T/run
	rm -rf "$R"
	mkdir -p "$R/src" "$R/dst/etc/hooks" || return 1
	cp "$T/template.qcow2" "$R/src/g.qcow2" || return 1
	def src >"$R/src.def"
	cfg src create "$R/src.def" >"$R/src.out" 2>&1 ||
		{ WHY="source: $(cat "$R/src.out")"; return 1; }
	src_pid=$(cat "$R/src/run/g/pid")
	until_ok 30 "the guest to count" has_counts 2 "$R/g.serial" || return 1
	if [ "$1" = two ]; then
		T0=$(now_ms)
		qemu-img create -q -f qcow2 "$R/dst/g.qcow2" "${DISK}M" &&
		def dst >"$R/dst.def" &&
		cfg dst create --incoming "$R/dst.def" >"$R/dst.out" 2>&1 ||
			{ WHY="destination: $(cat "$R/dst.out")"; return 1; }
		"$BIN/mig-recv" --domain g --config-dir "$R/dst/etc" \
			--run-dir "$R/dst/run" --incoming "unix:$R/mig.sock" \
			--nbd "unix:$R/nbd.sock" --timeout 120 \
			--ready-file "$R/ready" >/dev/null 2>"$R/recv.err" </dev/null &
		_recv=$!
		RUN_PIDS="$RUN_PIDS $_recv"
		until_ok 30 "mig-recv to be ready" test -e "$R/ready" || return 1
		"$BIN/mig-send" --domain g --config-dir "$R/src/etc" \
			--run-dir "$R/src/run" --migrate-uri "unix:$R/mig.sock" \
			--copy-storage-all --disks-uri "unix:$R/nbd.sock" \
			--downtime "$DOWNTIME" >/dev/null 2>"$R/send.err" </dev/null
		_rc=$?
		wait $_recv; _rrc=$?; reaped $_recv
		T1=$(now_ms)
	else
		printf '#!/bin/sh\nsed "s|%s/src/|%s/dst/|g"\n' "$R" "$R" >"$R/dst/etc/hooks/qemu"
		chmod +x "$R/dst/etc/hooks/qemu"
		T0=$(now_ms)
		listen_once || return 1
		"$BIN/mig-send" --domain g --config-dir "$R/src/etc" \
			--run-dir "$R/src/run" --desturi "unix:$R/ctl.sock" \
			--copy-storage-all --downtime "$DOWNTIME" \
			>/dev/null 2>"$R/send.err" </dev/null
		_rc=$?
		T1=$(now_ms)
		_rrc=0
	fi
	[ $_rc = 0 ] || { WHY="mig-send exited $_rc: $(tail -n 2 "$R/send.err")"; return 1; }
	[ $_rrc = 0 ] || { WHY="mig-recv exited $_rrc: $(tail -n 2 "$R/recv.err")"; return 1; }
	until_ok 10 "the source QEMU to quit" pid_gone "$src_pid" || return 1
	_n=$(ncounts "$R/g.serial")
	until_ok 30 "3 counts on the destination" has_counts $((_n + 3)) \
		"$R/g.serial" || return 1
	_why=$(continuity_why "$R/g.serial" /dev/null)
	[ -z "$_why" ] || { WHY="continuity: $_why"; return 1; }
	cfg dst destroy g >/dev/null 2>&1
	[ "$1" = p2p ] && { wait $_recv; reaped $_recv; }
	qemu-img compare -q -f qcow2 -F qcow2 "$R/src/g.qcow2" "$R/dst/g.qcow2" ||
		{ WHY="the disks differ"; return 1; }
	echo $((T1 - T0)) >>"$T/$1.times"
	RESULT="total $((T1 - T0)) ms  ok"
}

# one LABEL RUN GUEST MODE: one run (RUN MODE), its line, then nothing of
# it left running (guest GUEST on either side).
one() {
	WHY="" RESULT=""
	if "$2" "$4"; then
		printf '%-10s %-9s  %s\n' "$1" "$4" "$RESULT"
	else
		failed=$((failed + 1))
		printf '%-10s %-9s  FAILED (not counted): %s\n' "$1" "$4" "$WHY"
	fi
	stop_run
	[ -d "$R/dst/run/$3" ] && cfg dst destroy "$3" >/dev/null 2>&1
	[ -d "$R/src/run/$3" ] && cfg src destroy "$3" >/dev/null 2>&1
}
# alternate RUN GUEST MODE...: ROUNDS rounds of one run of each MODE.
alternate() {
	_run=$1 _g=$2 _i=1
	shift 2
	while [ $_i -le "$ROUNDS" ]; do
		for _m in "$@"; do
			one "round $_i/$ROUNDS" "$_run" "$_g" "$_m"
		done
		_i=$((_i + 1))
	done
}

failed=0
if want p2p; then
	mkdisk "$T/template.qcow2" "${DISK}M"
	fill_disk "$T/template.qcow2" 8388608
	: >"$T/two.times"; : >"$T/p2p.times"
	echo "bench-managed: $ROUNDS rounds of two-command/p2p alternated; guest ${GUEST_MEM} MiB RAM, ${DISK} MiB qcow2 disk (32 MiB data), --copy-storage-all over unix sockets, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
	alternate run g two p2p
	two=$(median "$T/two.times") p2p=$(median "$T/p2p.times")
	if [ -n "$two" ] && [ -n "$p2p" ]; then
		awk -v a="$two" -v b="$p2p" -v p=$TARGET_PCT 'BEGIN {
			r = b / a
			printf "result: total time median: two-command %.0f ms, p2p %.0f ms\n", a, b
			printf "result: ratio p2p/two-command %.3f (%+.1f%%); target: at most +%d%%: %s\n",
			    r, (r - 1) * 100, p, r <= 1 + p / 100 ? "met" : "NOT met" }'
	else
		echo "result: no median: too few successful runs"
	fi
fi

# tun_def: the random-RAM guest's definition (the same on both sides).
tun_def() {
	echo "name t"
	echo "qemu $QEMU"
	for a in -M pc,memory-backend=pc.ram -accel "${QEMU_ACCEL:-tcg}" \
	    -m $TUN_MEM -object \
	    "memory-backend-file,id=pc.ram,size=${TUN_MEM}M,mem-path=$T/ram.img,share=off" \
	    -display none -nodefaults -no-user-config -kernel "$GUEST" \
	    -chardev "file,id=serial,path=$R/t.serial,append=on" \
	    -serial chardev:serial; do
		echo "arg $a"
	done
}
# phase_ms P: when mig-send's JSON stream announced phase P.
phase_ms() {
	sed -n "s/.*\"event\":\"phase\",\"phase\":\"$1\",\"elapsed_ms\":\([0-9]*\).*/\1/p" \
		"$R/send.json" | head -n 1
}

# tun_run MODE: direct or tunnelled; appends its throughput (MiB/s).
tun_run() {
	R=$T/run
	rm -rf "$R"
	mkdir -p "$R/src" "$R/dst" || return 1
	tun_def >"$R/t.def"
	cfg src create "$R/t.def" >"$R/src.out" 2>&1 ||
		{ WHY="source: $(cat "$R/src.out")"; return 1; }
	src_pid=$(cat "$R/src/run/t/pid")
	until_ok 30 "the guest to count" has_counts 2 "$R/t.serial" || return 1
	# Paused through mig-config's own QMP socket (socat -t: the replies).
	[ -z "$TUN_PAUSED" ] || printf '%s\n' '{"execute":"qmp_capabilities"}' \
		'{"execute":"stop"}' | socat -t 2 - "UNIX-CONNECT:$R/src/run/t/ctl.sock" \
		>/dev/null || { WHY="cannot pause the guest"; return 1; }
	listen_once || return 1
	_tun=
	[ "$1" = tunnelled ] && _tun=--tunnelled	# else direct, or the warm-up
	# The CPU of mig-send and its children (the tunnel's session): the
	# shell's reaped children's times, in clock ticks.
	sh -c '"$@"; _rc=$?; set -- $(sed "s/.*) //" /proc/$$/stat)
		echo $(( ${14} + ${15} )) >"$0"; exit $_rc' "$R/send.cpu" \
		"$BIN/mig-send" --domain t --config-dir "$R/src/etc" \
		--run-dir "$R/src/run" --desturi "unix:$R/ctl.sock" $_tun \
		${TUN_BW:+--bandwidth $TUN_BW} --downtime "$DOWNTIME" \
		--json >"$R/send.json" 2>"$R/send.err" </dev/null
	_rc=$?
	[ $_rc = 0 ] || { WHY="mig-send exited $_rc: $(tail -n 2 "$R/send.err")"; return 1; }
	until_ok 10 "the source QEMU to quit" pid_gone "$src_pid" || return 1
	if [ -n "$TUN_PAUSED" ]; then
		grep -q '"outcome":"paused on destination"' "$R/send.json" ||
			{ WHY="outcome: $(tail -n 1 "$R/send.json")"; return 1; }
	else
		_n=$(ncounts "$R/t.serial")
		until_ok 30 "3 counts on the destination" has_counts $((_n + 3)) \
			"$R/t.serial" || return 1
	fi
	cfg dst destroy t >/dev/null 2>&1
	wait $_recv; reaped $_recv
	_bytes=$(sed -n 's/.*"memory_bytes":\([0-9]*\).*/\1/p' "$R/send.json")
	_t0=$(phase_ms memory) _t1=$(phase_ms completed)
	[ -n "$_bytes" ] && [ -n "$_t0" ] && [ -n "$_t1" ] && [ "$_t1" -gt "$_t0" ] ||
		{ WHY="no memory figures in mig-send's JSON"; return 1; }
	_thr=$(awk -v b="$_bytes" -v ms=$((_t1 - _t0)) \
		'BEGIN { printf "%.1f", b / 1048576 / (ms / 1000) }')
	_cpu=$(awk -v t="$(cat "$R/send.cpu")" -v hz="$(getconf CLK_TCK)" \
		-v b="$_bytes" 'BEGIN { printf "%.2f", t / hz / (b / 1073741824) }')
	echo "$_thr" >>"$T/$1.thr"
	echo "$_cpu" >>"$T/$1.cpu"
	RESULT="$_thr MiB/s ($((_bytes / 1048576)) MiB in $((_t1 - _t0)) ms), mig-send $_cpu CPU s/GiB  ok"
	if [ "$1" = warmup ]; then RESULT="$RESULT, not counted"; fi
}

if want tunnelled; then
	head -c $((TUN_MEM * 1048576)) /dev/urandom >"$T/ram.img" || die "no random data"
	: >"$T/direct.thr"; : >"$T/tunnelled.thr"; : >"$T/direct.cpu"; : >"$T/tunnelled.cpu"
	echo "bench-managed: $ROUNDS rounds of direct/--tunnelled alternated; guest ${TUN_MEM} MiB RAM of random data${TUN_PAUSED:+ (paused)}, no disk, over unix sockets${TUN_BW:+, --bandwidth $TUN_BW}"
	# The first migration after the file was written is slower, whichever way
	# it goes (as in bench-tunnel.sh): one is not counted.
	one "warm-up" tun_run t warmup
	alternate tun_run t direct tunnelled
	d=$(median "$T/direct.thr") t=$(median "$T/tunnelled.thr")
	dc=$(median "$T/direct.cpu") tc=$(median "$T/tunnelled.cpu")
	if [ -n "$d" ] && [ -n "$t" ]; then
		awk -v d="$d" -v t="$t" -v dc="$dc" -v tc="$tc" -v g=$TUN_TARGET 'BEGIN {
			printf "result: memory throughput median: direct %.0f MiB/s, --tunnelled %.0f MiB/s\n", d, t
			printf "result: mig-send CPU median: direct %.2f s/GiB, --tunnelled %.2f s/GiB (its tunnel session included)\n", dc, tc
			printf "result: ratio tunnelled/direct %.2fx; target: at least %.1fx: %s\n",
			    t / d, g, (t / d >= g) ? "met" : "NOT met" }'
	else
		echo "result: no median: too few successful runs"
	fi
fi
rm -rf "$T"
[ $failed = 0 ] || { echo "bench-managed: $failed run(s) failed" >&2; exit 1; }
