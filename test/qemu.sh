# Helpers for migration tests, sourced after test/lib.sh.  They run QEMU
# (TCG) with the test guest (build/guest/guest.elf, see test/guest/guest.S),
# which prints "count N pass P errors E" lines on its serial port.
#
# Per QEMU instance NAME, everything lives in $T:
#   NAME.serial  the guest's serial output      NAME.log  QEMU's stdout/stderr
#   NAME.qmp     QMP socket (for the tool)      NAME.hmp  HMP socket (for tests)
#   NAME.pid     pidfile
# The PID is in $NAME_PID (e.g. $src_PID) and printed by 'qemu_pid NAME'.
#
# Knobs: GUEST_MEM (MiB, 64), GUEST_ELF, QEMU_ACCEL (tcg), WAIT_SECS (60,
# deadline of the waits here), MON_SECS (30, deadline of one hmp/qmp_cmd).

QEMU=${QEMU:-qemu-system-x86_64}
GUEST_ELF=${GUEST_ELF:-$TOP/build/guest/guest.elf}

# require_qemu: skip the test unless QEMU and its tools are there.
require_qemu() { require "$QEMU" qemu-img qemu-io socat; }

# _img_format FILE: the image's format, as qemu-img probes it.
_img_format() {
	qemu-img info -U "$1" 2>/dev/null | sed -n 's/^file format: //p'
}

# _img_size FILE: the virtual size in bytes.
_img_size() {
	qemu-img info -U --output=json "$1" 2>/dev/null |
		sed -n 's/^ *"virtual-size": *\([0-9]*\).*/\1/p'
}

# mkdisk FILE SIZE [qcow2|raw] [BACKING]: create an image.  With BACKING
# (whose format is probed), SIZE may be "" to take the backing file's.
mkdisk() {
	_f=$1 _size=$2 _fmt=${3:-qcow2} _back=${4:-}
	if [ -n "$_back" ]; then
		[ "$_fmt" = qcow2 ] || fail "mkdisk: a backing file needs qcow2"
		_bfmt=$(_img_format "$_back")
		[ -n "$_bfmt" ] || fail "mkdisk: cannot read $_back"
		qemu-img create -q -f "$_fmt" -b "$_back" -F "$_bfmt" "$_f" \
			${_size:+"$_size"} || fail "mkdisk $_f"
	else
		qemu-img create -q -f "$_fmt" "$_f" "$_size" || fail "mkdisk $_f"
	fi
}

# fill_disk FILE: write 8 MiB of random data (4 chunks of 2 MiB, smaller
# on disks under 16 MiB) spread over the disk, plus a few 64 KiB patterns,
# so that the disk is not empty.  QEMU must not have FILE open.
fill_disk() {
	_f=$1
	_fmt=$(_img_format "$_f")
	_size=$(_img_size "$_f")
	[ -n "$_fmt" ] && [ -n "$_size" ] || fail "fill_disk: cannot read $_f"
	_chunk=2097152
	[ "$_size" -lt $((_chunk * 8)) ] && _chunk=$((_size / 8 / 4096 * 4096))
	[ "$_chunk" -gt 0 ] || fail "fill_disk: $_f is too small"
	_rand=$T/fill.rand
	head -c "$_chunk" /dev/urandom >"$_rand" || fail "fill_disk: no random data"
	_q=$((_size / 4 / 65536 * 65536))
	qemu-io -f "$_fmt" \
		-c "write -q -s $_rand 0 $_chunk" \
		-c "write -q -s $_rand $_q $_chunk" \
		-c "write -q -s $_rand $((_q * 2 + 4096)) $_chunk" \
		-c "write -q -s $_rand $((_size - _chunk)) $_chunk" \
		-c "write -q -P 0x5a $((_q + _chunk)) 64k" \
		-c "write -q -P 0xa5 $((_q * 3 - 65536)) 64k" \
		"$_f" || fail "fill_disk $_f"
}

# disk_args NODE FILE [FORMAT]: QEMU arguments for FILE as block node NODE
# on a virtio-blk-pci device with id NODE (FORMAT probed if not given; a
# qcow2's backing chain is opened by QEMU).  Use unquoted: $(disk_args ...).
# The device does not share write permission, so HMP 'qemu-io NODE ...'
# fails with a permission conflict: go through the device's own backend,
# hmp NAME 'qemu-io -d /machine/peripheral/NODE/virtio-backend "write ..."'
# (its I/O results go to QEMU's stdout, $T/NAME.log, not to the monitor).
disk_args() {
	_fmt=${3:-$(_img_format "$2")}
	[ -n "$_fmt" ] || fail "disk_args: cannot read $2"
	echo "-blockdev driver=$_fmt,node-name=$1,file.driver=file,file.filename=$2" \
		"-device virtio-blk-pci,drive=$1,id=$1"
}

# _pidvar NAME: the name of NAME's PID variable.
_pidvar() { printf '%s_PID' "$(printf %s "$1" | tr -c 'A-Za-z0-9_' _)"; }

# qemu_pid NAME: the PID of QEMU instance NAME.
qemu_pid() { eval "printf '%s\n' \"\${$(_pidvar "$1"):-}\""; }

_qemu_up() {
	if pid_gone "$2"; then
		sed 's/^/    /' "$T/$1.log" >&2
		fail "qemu $1 exited while starting"
	fi
	[ -S "$T/$1.qmp" ] && [ -S "$T/$1.hmp" ] && [ -s "$T/$1.pid" ]
}

# _start_qemu NAME [ARGS...]: start QEMU instance NAME in the background,
# wait until its monitors listen.
_start_qemu() {
	_n=$1; shift
	[ -f "$GUEST_ELF" ] || fail "no $GUEST_ELF (make guest)"
	rm -f "$T/$_n.qmp" "$T/$_n.hmp" "$T/$_n.pid"
	"$QEMU" -M pc -accel "${QEMU_ACCEL:-tcg}" -m "${GUEST_MEM:-64}" \
		-display none -nodefaults -no-user-config \
		-kernel "$GUEST_ELF" \
		-serial "file:$T/$_n.serial" \
		-qmp "unix:$T/$_n.qmp,server=on,wait=off" \
		-chardev "socket,id=hmp,path=$T/$_n.hmp,server=on,wait=off" \
		-mon chardev=hmp,mode=readline \
		-pidfile "$T/$_n.pid" \
		"$@" >"$T/$_n.log" 2>&1 </dev/null &
	_p=$!
	track $_p
	eval "$(_pidvar "$_n")=$_p"
	wait_for 30 "qemu $_n to start" _qemu_up "$_n" $_p
}

# start_src NAME [ARGS...]: a running guest.
start_src() { _start_qemu "$@"; }

# start_dst NAME [ARGS...]: a guest waiting for migrate-incoming.
start_dst() { _start_qemu "$@" -incoming defer; }

# stop_qemu NAME: stop that QEMU (TERM, then KILL) and reap it.
stop_qemu() { stop_pid "$(qemu_pid "$1")"; }

# _mon_talk SOCKET OUT DONE-CMD LINE...: connect to SOCKET, send the lines,
# keep the connection until DONE-CMD OUT succeeds (or the peer hangs up or
# MON_SECS pass), write what came back to OUT.  Fails (returns 1) unless
# DONE-CMD succeeded.
_mon_talk() {
	_sock=$1 _out=$2 _done=$3; shift 3
	[ -S "$_sock" ] || { echo "no monitor socket $_sock" >&2; return 1; }
	rm -f "$_out" "$_out.rc"
	: >"$_out"
	{
		printf '%s\n' "$@"
		_end=$(( $(date +%s) + ${MON_SECS:-30} ))
		until $_done "$_out" || [ -e "$_out.rc" ] ||
		      [ "$(date +%s)" -ge "$_end" ]; do
			sleep 0.05
		done
	} | { socat - "UNIX-CONNECT:$_sock" >"$_out" 2>"$_out.err"
	      echo $? >"$_out.rc"; }
	$_done "$_out" && return 0
	echo "no answer on $_sock:" >&2
	cat "$_out.err" "$_out" >&2
	return 1
}

# The banner's prompt, then the one after the command.
_hmp_done() { [ "$(tr -d '\r' <"$1" | grep -o '(qemu) ' | wc -l)" -ge 2 ]; }

# hmp NAME 'COMMAND': run one HMP command on NAME's HMP socket, print its
# output (without banner, echo and prompt).
hmp() {
	_mon_talk "$T/$1.hmp" "$T/$1.hmp.out" _hmp_done "$2" || return 1
	# banner, "(qemu) <echoed command>", output..., "(qemu) "
	tr -d '\r' <"$T/$1.hmp.out" | sed '1,2d; $d'
}

_qmp_replies() { grep -E '^\{"(return|error)"' "$1"; }
_qmp_done() { [ "$(_qmp_replies "$1" | wc -l)" -ge 2 ]; }

# qmp_cmd NAME JSON: run one QMP command on NAME's QMP socket (only while
# nothing else is connected to it: QEMU serves one client at a time, a
# second one waits unanswered until MON_SECS), print the reply line; status
# 1 if the reply is an error.
qmp_cmd() {
	_mon_talk "$T/$1.qmp" "$T/$1.qmp.out" _qmp_done \
		'{"execute":"qmp_capabilities"}' "$2" || return 1
	_r=$(_qmp_replies "$T/$1.qmp.out" | sed -n 2p)
	printf '%s\n' "$_r"
	case $_r in '{"return"'*) return 0 ;; esac
	return 1
}

# _serial_lines FILE...: the files concatenated byte-wise (a line may be
# split between a source's and a destination's log), without carriage
# returns and without an unfinished last line.
_serial_lines() {
	cat "$@" >"$T/serial.cat" 2>/dev/null
	if [ -s "$T/serial.cat" ] &&
	   [ "$(tail -c 1 "$T/serial.cat" | od -An -tx1 | tr -d ' ')" != 0a ]; then
		sed '$d' "$T/serial.cat"
	else
		cat "$T/serial.cat"
	fi | tr -d '\r'
}

# guest_counts FILE...: the counter values in the concatenated logs.
guest_counts() {
	_serial_lines "$@" |
		sed -n 's/^count \([0-9][0-9]*\) pass [0-9][0-9]* errors [0-9][0-9]*$/\1/p'
}

_ncounts() { guest_counts "$@" | wc -l; }
_has_counts() { _want=$1; shift; [ "$(_ncounts "$@")" -ge "$_want" ]; }

# wait_count NAME N: wait until guest NAME printed at least N count lines.
wait_count() {
	wait_for "${WAIT_SECS:-60}" "$2 counts from guest $1" \
		_has_counts "$2" "$T/$1.serial"
}

# check_continuity SRC.serial DST.serial: the guest went on across the
# switch: the source printed at least one count, the destination (waited
# for) at least 3 more; the counters of both logs together go up by one,
# passes never go back, errors stay 0, no BOOT after the first count, no
# garbage.
check_continuity() {
	_nsrc=$(_ncounts "$1")
	[ "$_nsrc" -ge 1 ] || fail "no count line in $1"
	wait_for "${WAIT_SECS:-60}" "3 counts in $2 after the switch" \
		_has_counts $((_nsrc + 3)) "$1" "$2"
	_why=$(_serial_lines "$1" "$2" | awk '
		function bad(m) { if (!why) why = "line " NR ": " m }
		/^BOOT$/ {
			if (n) bad("BOOT after count " prev)
			next
		}
		/^count [0-9]+ pass [0-9]+ errors [0-9]+$/ {
			c = $2 + 0; p = $4 + 0; e = $6 + 0
			if (n && c != prev + 1) bad("count " c " after " prev)
			if (n && p < pass) bad("pass " p " after " pass)
			if (e != 0) bad("errors " e " at count " c)
			prev = c; pass = p; n++
			next
		}
		{ bad("garbage \"" $0 "\"") }
		END { if (why) print why }')
	[ -z "$_why" ] || fail "guest continuity ($1 + $2): $_why"
}

# disks_identical A B: the guest-visible contents of both images are equal
# (backing chains followed).  -U lets it read images a QEMU still has open,
# but a running QEMU may hold qcow2 metadata in its caches: compare images
# after their QEMU stopped, or after it migrated away (then it flushed).
disks_identical() {
	qemu-img compare -U -f "$(_img_format "$1")" -F "$(_img_format "$2")" \
		"$1" "$2"
}

# guest_def FILE NAME SERIAL: a mig-config definition (mig-config(5)) of
# the test guest named NAME, with the knobs _start_qemu takes, its serial
# port appended to SERIAL (so a migrated guest's source and destination,
# started from one definition, write one log that check_continuity reads).
guest_def() {
	[ -f "$GUEST_ELF" ] || fail "no $GUEST_ELF (make guest)"
	{
		echo "# the test guest, for mig-config"
		echo "name $2"
		echo "qemu $QEMU"
		for _a in -M pc -accel "${QEMU_ACCEL:-tcg}" -m "${GUEST_MEM:-64}" \
		    -display none -nodefaults -no-user-config \
		    -kernel "$GUEST_ELF" \
		    -chardev "file,id=serial,path=$3,append=on" \
		    -serial chardev:serial; do
			echo "arg $_a"
		done
	} >"$1"
}
