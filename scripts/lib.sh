# The shell helpers of the whole tree: sourced by scripts/demo.sh, bench.sh
# and bench-tunnel.sh, and by test/lib.sh for every test (not installed).
# One helper per job: processes and their cleanup, waits with a deadline,
# TCP ports, QEMU running the test guest (build/guest/guest.elf, whose
# serial port prints "count N pass P errors E" lines), disk images, the
# guest's counters and their continuity across a migration, medians.
#
# A helper that cannot go on calls die MESSAGE: here, the script's name and
# the message, exit 1; test/lib.sh makes it a test failure.  A wait that
# times out sets WHY and returns 1, for the caller to decide.
# The caller sets R (the directory of a run's files: QEMU's sockets, logs
# and serial output) before start_guest, and T to its temporary directory.
set -u
# MIG_TOP: the checkout, for a script that is not one level below it.
TOP=${MIG_TOP:-$(cd "$(dirname "$0")/.." && pwd)}
BIN=$TOP/build/bin
GUEST=${GUEST_ELF:-$TOP/build/guest/guest.elf}
QEMU=${QEMU:-qemu-system-x86_64}
ME=$(basename "$0" .sh)
RUN_PIDS=""	# processes started and not yet reaped, oldest first
T=""
R=""
WHY=""	# why the last wait or start failed

die() { printf '%s: FAILED: %s\n' "$ME" "$*" >&2; exit 1; }

# --- Processes ---------------------------------------------------------

# pid_gone PID: the process has exited (a zombie counts as exited).
pid_gone() {
	_st=""
	{ read -r _st <"/proc/$1/stat"; } 2>/dev/null
	_st=${_st##*) }
	case $_st in "" | Z* | X*) return 0 ;; esac
	return 1
}

# track PID: stop_run stops it (newest first) unless it was reaped.
track() { RUN_PIDS="$RUN_PIDS $1"; }

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
	track $!
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
	return 0
}

# stop_run: every tracked process, newest first (a tool rolls back before
# its QEMU goes).
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

# --- Waits -------------------------------------------------------------

# until_ok SECS WHAT CMD...: poll CMD every 50 ms; at the deadline set WHY
# and return 1.  CMD returning 2 gives up at once (it set WHY).
until_ok() {
	# local: CMD may wait itself (dash and bash both have it).
	local _secs=$1 _end=$(( $(date +%s) + $1 )) _what=$2
	shift 2
	while :; do
		"$@"
		case $? in 0) return 0 ;; 2) return 1 ;; esac
		if [ "$(date +%s)" -ge "$_end" ]; then
			WHY="timed out after ${_secs}s waiting for $_what"
			return 1
		fi
		sleep 0.05
	done
}

# tcp_listening PORT: something listens on that TCP port.
tcp_listening() { ss -ltnH "sport = :$1" 2>/dev/null | grep -q .; }

# free_port: a TCP port on 127.0.0.1 that nothing listens on, picked at
# random so that parallel runs rarely collide.
free_port() {
	while :; do
		_p=$(( 20000 + $(od -An -N2 -tu2 /dev/urandom) % 40000 ))
		tcp_listening "$_p" || { echo "$_p"; return; }
	done
}

# --- QEMU with the test guest -------------------------------------------

# qemu_pid NAME: the PID of QEMU instance NAME (also in $NAME_pid).
qemu_pid() { eval "printf '%s\n' \"\${$(printf %s "$1" | tr -c 'A-Za-z0-9_' _)_pid:-}\""; }

_guest_up() {
	if pid_gone "$2"; then
		WHY="QEMU $1 exited while starting: $(tail -n 3 "$R/$1.log")"
		return 2
	fi
	[ -S "$R/$1.qmp" ] && [ -S "$R/$1.hmp" ] && [ -s "$R/$1.pid" ]
}

# start_guest NAME [ARGS...]: QEMU (TCG unless QEMU_ACCEL) with the test
# guest and GUEST_MEM MiB (64) in the background, tracked, until its
# monitors listen.  In $R: NAME.qmp (QMP, for the tools), NAME.hmp (HMP,
# for checks), NAME.serial, NAME.log (QEMU's output), NAME.pid.  Sets WHY
# and returns 1 if it does not start.
start_guest() {
	_n=$1; shift
	[ -f "$GUEST" ] || { WHY="no $GUEST (make guest)"; return 1; }
	rm -f "$R/$_n.qmp" "$R/$_n.hmp" "$R/$_n.pid"
	spawn "$(printf %s "$_n" | tr -c 'A-Za-z0-9_' _)_pid" \
		"$QEMU" -M pc -accel "${QEMU_ACCEL:-tcg}" -m "${GUEST_MEM:-64}" \
		-display none -nodefaults -no-user-config \
		-kernel "$GUEST" -serial "file:$R/$_n.serial" \
		-qmp "unix:$R/$_n.qmp,server=on,wait=off" \
		-chardev "socket,id=hmp,path=$R/$_n.hmp,server=on,wait=off" \
		-mon chardev=hmp,mode=readline \
		-pidfile "$R/$_n.pid" \
		"$@" >"$R/$_n.log" 2>&1 </dev/null
	until_ok 30 "QEMU $_n to start" _guest_up "$_n" "$(qemu_pid "$_n")"
}

# --- Disk images --------------------------------------------------------

# img_format FILE / img_size FILE: the format qemu-img probes, the
# virtual size in bytes.
img_format() { qemu-img info -U "$1" 2>/dev/null | sed -n 's/^file format: //p'; }
img_size() {
	qemu-img info -U --output=json "$1" 2>/dev/null |
		sed -n 's/^ *"virtual-size": *\([0-9]*\).*/\1/p'
}

# mkdisk FILE SIZE [qcow2|raw] [BACKING]: create an image.  With BACKING
# (whose format is probed), SIZE may be "" to take the backing file's.
mkdisk() {
	_f=$1 _size=$2 _fmt=${3:-qcow2} _back=${4:-}
	if [ -n "$_back" ]; then
		[ "$_fmt" = qcow2 ] || die "mkdisk: a backing file needs qcow2"
		_bfmt=$(img_format "$_back")
		[ -n "$_bfmt" ] || die "mkdisk: cannot read $_back"
		qemu-img create -q -f "$_fmt" -b "$_back" -F "$_bfmt" "$_f" \
			${_size:+"$_size"} || die "mkdisk $_f"
	else
		qemu-img create -q -f "$_fmt" "$_f" "$_size" || die "mkdisk $_f"
	fi
}

# fill_disk FILE [CHUNK]: write 4 chunks of random data (CHUNK bytes,
# 2 MiB, less on disks under 8 chunks) spread over the disk, at its start
# and its end among them, plus two 64 KiB patterns, so that a copy that
# misses a region shows.  QEMU must not have FILE open.
fill_disk() {
	_f=$1 _chunk=${2:-2097152}
	_fmt=$(img_format "$_f")
	_size=$(img_size "$_f")
	[ -n "$_fmt" ] && [ -n "$_size" ] || die "fill_disk: cannot read $_f"
	[ "$_size" -lt $((_chunk * 8)) ] && _chunk=$((_size / 8 / 4096 * 4096))
	[ "$_chunk" -gt 0 ] || die "fill_disk: $_f is too small"
	_rand=$_f.rand
	head -c "$_chunk" /dev/urandom >"$_rand" || die "fill_disk: no random data"
	_q=$((_size / 4 / 65536 * 65536))
	qemu-io -f "$_fmt" \
		-c "write -q -s $_rand 0 $_chunk" \
		-c "write -q -s $_rand $_q $_chunk" \
		-c "write -q -s $_rand $((_q * 2 + 4096)) $_chunk" \
		-c "write -q -s $_rand $((_size - _chunk)) $_chunk" \
		-c "write -q -P 0x5a $((_q + _chunk)) 64k" \
		-c "write -q -P 0xa5 $((_q * 3 - 65536)) 64k" \
		"$_f" >/dev/null || die "fill_disk $_f"
	rm -f "$_rand"
}

# disks_identical A B: the guest-visible contents of both images are equal
# (backing chains followed).  -U lets it read images a QEMU still has open,
# but a running QEMU may hold qcow2 metadata in its caches: compare images
# after their QEMU stopped, or after it migrated away (then it flushed).
disks_identical() {
	qemu-img compare -U -f "$(img_format "$1")" -F "$(img_format "$2")" \
		"$1" "$2"
}

# --- The guest's counters -----------------------------------------------

# serial_lines FILE...: the serial logs concatenated byte-wise (a line may
# be split between a source's and a destination's log), without carriage
# returns and without an unfinished last line.
serial_lines() {
	_cat=$(mktemp "${TMPDIR:-/tmp}/mig-serial.XXXXXX") || die "mktemp"
	cat "$@" 2>/dev/null | tr -d '\r' >"$_cat"
	if [ -s "$_cat" ] &&
	   [ "$(tail -c 1 "$_cat" | od -An -tx1 | tr -d ' ')" != 0a ]; then
		sed '$d' "$_cat"
	else
		cat "$_cat"
	fi
	rm -f "$_cat"
}

# guest_counts FILE...: the counter values in the logs; ncounts FILE...:
# how many; has_counts N FILE...: at least N.
guest_counts() {
	serial_lines "$@" |
		sed -n 's/^count \([0-9][0-9]*\) pass [0-9][0-9]* errors [0-9][0-9]*$/\1/p'
}
ncounts() { guest_counts "$@" | wc -l; }
has_counts() { _k=$1; shift; [ "$(ncounts "$@")" -ge "$_k" ]; }

# continuity_why SRC.serial DST.serial: why the guest did not go on from
# the source to the destination, nothing if it did: the counters of both
# logs together go up by one, passes never go back, errors (stale pages
# the guest found) stay 0, no BOOT after the first count, no garbage.
continuity_why() {
	serial_lines "$1" "$2" | awk '
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
		END { if (why) print why }'
}

# continued SRC.serial DST.serial [SECS]: the guest went on across the
# switch: the source printed a count, the destination 3 more within SECS
# (60), and continuity_why finds nothing.  Sets WHY and returns 1 if not.
continued() {
	_nsrc=$(ncounts "$1")
	[ "$_nsrc" -ge 1 ] || { WHY="no count line in $1"; return 1; }
	until_ok "${3:-60}" "3 counts in $2 after the switch" \
		has_counts $((_nsrc + 3)) "$1" "$2" || return 1
	_why=$(continuity_why "$1" "$2")
	[ -z "$_why" ] || { WHY="guest continuity ($1 + $2): $_why"; return 1; }
}

# --- Figures ------------------------------------------------------------

# median FILE: the median of the numbers in FILE, one a line ("" if none).
median() {
	sort -n "$1" 2>/dev/null | awk '{ v[NR] = $1 } END {
		if (NR == 0) print "";
		else if (NR % 2) print v[(NR + 1) / 2];
		else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
