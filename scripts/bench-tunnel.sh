#!/bin/sh
# make bench, part 2: mig-tunnel against the relays it replaces (issue 3).
#
#  plain  BENCH_GIB GiB (4) from a unix socket, through two relays joined by
#         TCP on 127.0.0.1, to a unix socket: two mig-tunnels (--insecure)
#         against two socats at their default 8 KiB buffer and with
#         -b 1048576 (and, for reference, no relay at all, and the floor:
#         two scripts/splice-relay.c, which only splice, as make bench
#         builds them).  Target: the tuned socats' throughput at no more
#         than half their CPU per GiB.
#  tls    the same with mutual TLS: two mig-tunnels against an stunnel pair
#         and a socat OPENSSL pair (-b 1048576), all on certificates from
#         scripts/mkcerts.sh; stunnel and socat are pinned to the suite
#         mig-tunnel prefers, TLS 1.2 ECDHE-ECDSA-AES128-GCM-SHA256 (their
#         default, TLS 1.3 with AES-256, would only be slower).  Target: 2.5x
#         stunnel's throughput at no more than half its CPU per GiB.
#  migrate  a live migration of the test guest (128 MiB of RAM, pre-filled
#         with random data through a memory-backend-file mapped private),
#         bandwidth unlimited, by mig-recv + mig-send, straight over the
#         unix socket and through the plain tunnel pair; throughput: QEMU's
#         own, query-migrate's ram.mbps at completion (bytes sent over the
#         time after setup).  The guest must go on on the destination, with
#         no stale page.  Target: the tunnel at least 0.8x the direct socket.
#  16ch   16 connections at once through one plain tunnel pair (BENCH_GIB
#         GiB in all): aggregate throughput, and each channel's rate until the
#         first one finishes: min/max and Jain's fairness index.
#  memory VmRSS of each tunnel (the connecting one, the listener's session)
#         with 64 idle channels open, plain and TLS: at most 4 MiB.  Size:
#         build/bin/mig-tunnel stripped, at most 300 KiB.
#
# Contenders alternate within each round (A B C A B C ...), BENCH_ROUNDS
# rounds (3); results are medians.  Throughput runs from the source's
# first connect to the sink's last EOF; CPU is utime+stime of the relay
# processes (and their children: a listening mig-tunnel forks a session per
# peer) read from /proc before they are stopped, never of the data source
# and sink (Python, in the same process a pattern generator and a checker
# that compares every byte received).  A run whose data arrives short or
# different, or whose tools fail, is not counted and makes the exit status
# 1; ratios below target do not: a benchmark is not a test.
# Knobs: BENCH_GIB (4), BENCH_ROUNDS (3), BENCH_PARTS (plain tls migrate
# 16ch memory), BENCH_MIG_MIB (128, guest RAM), QEMU, QEMU_ACCEL (tcg),
# PYTHON (python3), TMPDIR.
. "$(dirname "$0")/lib.sh"
TUN=$BIN/mig-tunnel
FLOOR=$TOP/build/bench/splice-relay	# optional: make bench builds it
PY=${PYTHON:-python3}
ROUNDS=${BENCH_ROUNDS:-3}
GIB=${BENCH_GIB:-4}
PARTS=${BENCH_PARTS:-plain tls migrate 16ch memory}
GUEST_MEM=${BENCH_MIG_MIB:-128}	# guest RAM, MiB
RSS_KIB=4096
SIZE_KIB=300
HZ=$(getconf CLK_TCK)

# alive WHAT PID: 2 (WHY set) if the process is gone.
alive() {
	pid_gone "$2" || return 0
	WHY="$1 exited: $(tail -n 2 "$R/$1.log" 2>/dev/null | tr '\n' ' ')"
	return 2
}
# sock_up WHAT PID PATH / tcp_up WHAT PID PORT: listening, and alive.
sock_up() { alive "$1" "$2" || return 2; [ -S "$3" ]; }
tcp_up() { alive "$1" "$2" || return 2; tcp_listening "$3"; }
# has_line FILE WORD: FILE has a line starting with WORD.
has_line() { grep -q "^$2\\b" "$1" 2>/dev/null && return 0; return 1; }

# proc_scan ROOT...: utime+stime (clock ticks, with reaped children's) of
# the ROOTs and all their descendants, then the PIDs of the ROOTs' direct
# children.  One pass over /proc.
proc_scan() {
	for _f in /proc/[0-9]*/stat; do
		_l=""
		{ read -r _l <"$_f"; } 2>/dev/null && printf '%s\n' "$_l"
	done | awk -v roots="$*" '
		{
			s = $0; pid = $1; sub(/^.*\) /, "", s); split(s, f, " ")
			pp[pid] = f[2]; t[pid] = f[12] + f[13] + f[14] + f[15]
		}
		END {
			n = split(roots, r, " ")
			for (i = 1; i <= n; i++) keep[r[i]] = 1
			do {
				more = 0
				for (p in pp)
					if (!(p in keep) && (pp[p] in keep)) { keep[p] = 1; more = 1 }
			} while (more)
			for (p in keep) sum += t[p]
			kids = ""
			for (p in pp) for (i = 1; i <= n; i++) if (pp[p] == r[i]) kids = kids " " p
			print sum + 0 kids
		}'
}
ticks() { proc_scan "$@" | cut -d' ' -f1; }
kids() { proc_scan "$@" | cut -d' ' -f2-; }

# status_kib PID FIELD: VmRSS or VmHWM of PID in KiB.
status_kib() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status" 2>/dev/null; }

mib() { awk -v k="$1" 'BEGIN { printf "%.2f MiB", k / 1024 }'; }

for c in "$PY" socat ss strip awk od; do
	command -v "$c" >/dev/null 2>&1 ||
		die "$c is missing (make bench installs it with scripts/deps.sh bench, as root)"
done
[ -x "$TUN" ] || die "$TUN is missing: run make"
case $ROUNDS in '' | *[!0-9]* | 0) die "BENCH_ROUNDS must be a positive number" ;; esac
case $GIB in '' | *[!0-9.]* | *.*.* | .) die "BENCH_GIB must be a number of GiB" ;; esac
BYTES=$(awk -v g="$GIB" 'BEGIN { printf "%.0f", g * 1073741824 }')
[ "$BYTES" -ge 1048576 ] || die "BENCH_GIB is too small"
# Deadline of one transfer: 60 s plus 30 s per GiB (4 GiB at 140 MiB/s).
DEADLINE=$(awk -v g="$GIB" 'BEGIN { printf "%d", 60 + 30 * g }')
T=$(mktemp -d "${TMPDIR:-/tmp}/mig-bench-tunnel.XXXXXX") || die "mktemp"
mkdir "$T/res"
want() { case " $PARTS " in *" $1 "*) return 0 ;; esac; return 1; }

# The data source and sink.  Every stream is a 1 MiB pseudo-random block
# repeated; the sink compares every byte (bytes.startswith over a doubled
# block: a memcmp, no copy).  Times are CLOCK_MONOTONIC, common to both.
cat >"$T/flow.py" <<'EOF'
import os, random, signal, socket, sys, threading, time
P = 1 << 20
BLOCK = random.Random(3).randbytes(P)
TWICE = BLOCK + BLOCK

def say(f, line):
    f.write(line + "\n")
    f.flush()

def hold():
    while True:
        signal.pause()

def sink(path, nconn, out, secs):
    # sink SOCK NCONN OUT SECS: accept NCONN, read each to EOF, check, report
    # "done", then keep the connections until killed.
    end = time.monotonic() + secs
    f = open(out, "w")
    ls = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    ls.bind(path)
    ls.listen(128)
    say(f, "ready")
    conns = []
    try:
        for i in range(nconn):
            ls.settimeout(max(0.01, end - time.monotonic()))
            conns.append(ls.accept()[0])
    except OSError as e:
        say(f, "fail accepted %d of %d: %s" % (len(conns), nconn, e))
        sys.exit(1)
    say(f, "accepted %d" % nconn)
    got = [0] * nconn
    bad = [None] * nconn
    eof = [0.0] * nconn
    first = []
    lock = threading.Lock()

    def rx(i, c):
        buf = bytearray(P)
        mv = memoryview(buf)
        n = 0
        c.settimeout(max(0.01, end - time.monotonic()))
        while True:
            try:
                k = c.recv_into(buf)
            except OSError as e:
                bad[i] = "recv: %s" % e
                break
            if k == 0:
                break
            if bad[i] is None and not TWICE.startswith(mv[:k], n % P):
                bad[i] = "data differs within bytes %d-%d" % (n, n + k)
            n += k
            got[i] = n
        eof[i] = time.monotonic()
        with lock:
            if not first:
                first.append((eof[i], list(got)))

    th = [threading.Thread(target=rx, args=(i, c), daemon=True)
          for i, c in enumerate(conns)]
    for t in th:
        t.start()
    for t in th:
        t.join(max(0.01, end - time.monotonic()))
    if any(t.is_alive() for t in th):
        say(f, "fail timed out after %d s, %d bytes in" % (secs, sum(got)))
        os._exit(1)
    for i in range(nconn):
        say(f, "conn %d %d %.6f %s" % (i, got[i], eof[i], bad[i] or "ok"))
    say(f, "first %.6f %s" % (first[0][0], " ".join(map(str, first[0][1]))))
    say(f, "done %d %.6f" % (sum(got), max(eof)))
    hold()

def source(path, nconn, size, out, secs):
    # source SOCK NCONN BYTES OUT SECS: connect NCONN times, send BYTES on
    # each, half-close, wait for EOF.  BYTES -1: hold them open, idle.
    end = time.monotonic() + secs
    f = open(out, "w")
    t0 = time.monotonic()
    socks = []
    for i in range(nconn):
        while True:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.connect(path)
                break
            except (FileNotFoundError, ConnectionRefusedError) as e:
                s.close()
                if time.monotonic() > end:
                    say(f, "fail connect: %s" % e)
                    sys.exit(1)
                time.sleep(0.01)
        socks.append(s)
    say(f, "start %.6f" % t0)
    if size < 0:
        say(f, "open %d" % nconn)
        hold()
    errs = []
    mv = memoryview(BLOCK)

    def tx(i, s):
        try:
            s.settimeout(max(0.01, end - time.monotonic()))
            left = size
            while left > 0:
                k = min(P, left)
                s.sendall(mv[:k])
                left -= k
            s.shutdown(socket.SHUT_WR)
            while s.recv(65536):
                pass
        except OSError as e:
            errs.append("conn %d: %s" % (i, e))

    th = [threading.Thread(target=tx, args=(i, s)) for i, s in enumerate(socks)]
    for t in th:
        t.start()
    for t in th:
        t.join()
    if errs:
        say(f, "fail " + "; ".join(errs))
        sys.exit(1)
    say(f, "sent %d" % (size * nconn))

def qmp(path):
    # qmp SOCK: QEMU's figures of its last migration: total-time (ms),
    # ram.transferred (bytes) and ram.mbps.
    import json
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(30)
    s.connect(path)
    f = s.makefile("rw")
    def ask(cmd):
        f.write(json.dumps({"execute": cmd}) + "\n")
        f.flush()
        while True:
            m = json.loads(f.readline())
            if "return" in m:
                return m["return"]
            if "error" in m:
                raise SystemExit("%s: %s" % (cmd, m["error"]))
    json.loads(f.readline())
    ask("qmp_capabilities")
    r = ask("query-migrate")
    if r.get("status") != "completed":
        raise SystemExit("migration status %s" % r.get("status"))
    print(r["total-time"], r["ram"]["transferred"], r["ram"]["mbps"])

mode = sys.argv[1]
a = sys.argv[2:]
if mode == "qmp":
    qmp(a[0])
elif mode == "sink":
    sink(a[0], int(a[1]), a[2], float(a[3]))
else:
    source(a[0], int(a[1]), int(a[2]), a[3], float(a[4]))
EOF

# ---------------------------------------------------------------------------
# Relay pairs.  start_KIND starts both relays of a pair, from $R/src.sock
# to $R/sink.sock over 127.0.0.1:PORT, waits until they listen, and sets
# RELAYS (the PIDs whose CPU counts) and TUNS (mig-tunnel PIDs, for RSS).
C=$T/certs
TLS_SRV=""
TLS_CLI=""
SUITE=ECDHE-ECDSA-AES128-GCM-SHA256

start_tunnels() {	# start_tunnels SERVER-ARGS -- CLIENT-ARGS
	_sargs="" _cargs=""
	while [ "$1" != -- ]; do _sargs="$_sargs $1"; shift; done
	shift
	_cargs="$*"
	_port=$(free_port)
	# shellcheck disable=SC2086
	spawn _ts "$TUN" $_sargs -R "d=unix:$R/sink.sock" \
		"listen:tcp:127.0.0.1:$_port" 2>"$R/tun-server.log"
	until_ok 10 "the listening tunnel" tcp_up tun-server "$_ts" "$_port" || return 1
	# shellcheck disable=SC2086
	spawn _tc "$TUN" $_cargs -L "unix:$R/src.sock=d" \
		"tcp:127.0.0.1:$_port" 2>"$R/tun-client.log"
	until_ok 10 "the connecting tunnel" sock_up tun-client "$_tc" "$R/src.sock" || return 1
	RELAYS="$_ts $_tc" TUNS="$_tc $_ts"
}

start_socats() {	# start_socats [SOCAT-OPTIONS]
	_port=$(free_port)
	spawn _ss socat "$@" -t 600 \
		"TCP-LISTEN:$_port,bind=127.0.0.1,reuseaddr" \
		"UNIX-CONNECT:$R/sink.sock" 2>"$R/socat-server.log"
	until_ok 10 "the listening socat" tcp_up socat-server "$_ss" "$_port" || return 1
	spawn _sc socat "$@" -t 600 "UNIX-LISTEN:$R/src.sock" \
		"TCP:127.0.0.1:$_port" 2>"$R/socat-client.log"
	until_ok 10 "the connecting socat" sock_up socat-client "$_sc" "$R/src.sock" || return 1
	RELAYS="$_ss $_sc"
}

start_plain_tunnel() { start_tunnels --insecure -- --insecure; }
start_plain_socat8k() { start_socats; }
start_plain_socat1m() { start_socats -b 1048576; }
start_plain_floor() {	# two splice-relays (make bench builds them)
	_port=$(free_port)
	spawn _ss "$FLOOR" "$_port" "$R/sink.sock" 2>"$R/floor-server.log"
	until_ok 10 "the listening splice-relay" tcp_up floor-server "$_ss" "$_port" || return 1
	spawn _sc "$FLOOR" "$R/src.sock" "$_port" 2>"$R/floor-client.log"
	until_ok 10 "the connecting splice-relay" sock_up floor-client "$_sc" "$R/src.sock" || return 1
	RELAYS="$_ss $_sc"
}
start_plain_direct() { ln -s sink.sock "$R/src.sock"; RELAYS=""; }

start_tls_tunnel() {
	start_tunnels $TLS_SRV -- $TLS_CLI
}

start_tls_stunnel() {
	_port=$(free_port)
	cat >"$R/stunnel-server.conf" <<-EOF
	foreground = yes
	pid =
	syslog = no
	debug = 4
	[d]
	accept = 127.0.0.1:$_port
	connect = $R/sink.sock
	cert = $C/server.pem
	key = $C/server.key
	CAfile = $C/ca.pem
	verifyChain = yes
	requireCert = yes
	sslVersionMax = TLSv1.2
	ciphers = $SUITE
	EOF
	cat >"$R/stunnel-client.conf" <<-EOF
	foreground = yes
	pid =
	syslog = no
	debug = 4
	[d]
	client = yes
	accept = $R/src.sock
	connect = 127.0.0.1:$_port
	cert = $C/client.pem
	key = $C/client.key
	CAfile = $C/ca.pem
	verifyChain = yes
	checkHost = mig-server
	sslVersionMax = TLSv1.2
	ciphers = $SUITE
	EOF
	spawn _ss "$STUNNEL" "$R/stunnel-server.conf" 2>"$R/stunnel-server.log"
	until_ok 10 "the listening stunnel" tcp_up stunnel-server "$_ss" "$_port" || return 1
	spawn _sc "$STUNNEL" "$R/stunnel-client.conf" 2>"$R/stunnel-client.log"
	until_ok 10 "the connecting stunnel" sock_up stunnel-client "$_sc" "$R/src.sock" || return 1
	RELAYS="$_ss $_sc"
}

start_tls_socat() {
	_port=$(free_port)
	_o="cafile=$C/ca.pem,verify=1,max-version=TLS1.2,cipher=$SUITE"
	spawn _ss socat -b 1048576 -t 600 \
		"OPENSSL-LISTEN:$_port,bind=127.0.0.1,reuseaddr,cert=$C/server.pem,key=$C/server.key,$_o" \
		"UNIX-CONNECT:$R/sink.sock" 2>"$R/socat-server.log"
	until_ok 10 "the listening socat" tcp_up socat-server "$_ss" "$_port" || return 1
	spawn _sc socat -b 1048576 -t 600 "UNIX-LISTEN:$R/src.sock" \
		"OPENSSL:127.0.0.1:$_port,cert=$C/client.pem,key=$C/client.key,commonname=mig-server,$_o" \
		2>"$R/socat-client.log"
	until_ok 10 "the connecting socat" sock_up socat-client "$_sc" "$R/src.sock" || return 1
	RELAYS="$_ss $_sc"
}

label() {
	case $1 in
	plain_tunnel | tls_tunnel) echo mig-tunnel ;;
	plain_socat8k) echo "socat (8 KiB)" ;;
	plain_socat1m) echo "socat -b 1M" ;;
	plain_direct) echo "no relay" ;;
	plain_floor) echo "splice floor" ;;
	tls_stunnel) echo stunnel ;;
	tls_socat) echo "socat OPENSSL -b 1M" ;;
	esac
}

# new_run: a fresh run directory $R.
new_run() {
	R=$T/run
	rm -rf "$R"
	mkdir "$R" || { WHY="cannot make $R"; return 1; }
}

# xfer PAIR NCONN BYTES-PER-CONN: one transfer through the PAIR of relays;
# sets THR (MiB/s), CPU (CPU s/GiB of the relays), HWM (largest VmHWM of
# the tunnels, KiB), and the sink's report in $R/sink.out.
xfer() {
	_pair=$1 _n=$2 _each=$3
	new_run || return 1
	RELAYS="" TUNS=""
	spawn _sink "$PY" "$T/flow.py" sink "$R/sink.sock" "$_n" "$R/sink.out" \
		"$DEADLINE" 2>"$R/sink.log"
	until_ok 30 "the sink" sink_ready "$_sink" || return 1
	start_$_pair || return 1
	_t0=$(ticks $RELAYS)
	spawn _src "$PY" "$T/flow.py" source "$R/src.sock" "$_n" "$_each" \
		"$R/src.out" "$DEADLINE" 2>"$R/source.log"
	until_ok $((DEADLINE + 10)) "the transfer" xfer_done "$_sink" "$_src" ||
		return 1
	_t1=$(ticks $RELAYS)
	HWM=0
	[ -n "$TUNS" ] && for _p in $TUNS $(kids $TUNS); do
		_h=$(status_kib "$_p" VmHWM)
		[ -n "$_h" ] && [ "$_h" -gt "$HWM" ] && HWM=$_h
	done
	_bad=$(awk '$1 == "conn" && $5 != "ok"' "$R/sink.out")
	[ -z "$_bad" ] || { WHY="sink: $_bad"; return 1; }
	_done=$(sed -n 's/^done //p' "$R/sink.out")
	_t=$(sed -n 's/^start //p' "$R/src.out")
	_got=${_done%% *}
	[ "$_got" = $((_n * _each)) ] ||
		{ WHY="$_got bytes arrived of $((_n * _each)) sent"; return 1; }
	# The sink holds its end until now: let everything wind down.
	stop_pid "$_sink"
	until_ok 10 "the source to end" pid_gone "$_src" || return 1
	wait "$_src"; _rc=$?; reaped "$_src"
	[ $_rc = 0 ] || { WHY="source: $(cat "$R/src.out" "$R/source.log")"; return 1; }
	set -- $_done
	THR=$(awk -v b="$_got" -v t0="$_t" -v t1="$2" \
		'BEGIN { printf "%.1f", b / 1048576 / (t1 - t0) }')
	CPU=$(awk -v b="$_got" -v d=$((_t1 - _t0)) -v hz="$HZ" \
		'BEGIN { printf "%.3f", d / hz / (b / 1073741824) }')
}
sink_ready() {
	alive sink "$1" || { WHY="sink: $(cat "$R/sink.log")"; return 2; }
	has_line "$R/sink.out" ready
}
xfer_done() {
	has_line "$R/sink.out" done && return 0
	if has_line "$R/sink.out" fail; then
		WHY="sink: $(sed -n 's/^fail //p' "$R/sink.out")"
		return 2
	fi
	if pid_gone "$1"; then
		WHY="the sink died: $(tail -n 3 "$R/sink.log" | tr '\n' ' ')"
		return 2
	fi
	if pid_gone "$2" && has_line "$R/src.out" fail; then
		WHY="source: $(sed -n 's/^fail //p' "$R/src.out")"
		return 2
	fi
	for _p in $RELAYS; do
		pid_gone "$_p" && { WHY="relay $_p exited: $(cat "$R"/*-*.log | tail -n 3 | tr '\n' ' ')"; return 2; }
	done
	return 1
}

FAILED=0
# bench_pairs PART CONTENDER...: ROUNDS rounds of single-stream transfers.
bench_pairs() {
	_part=$1; shift
	_rnd=1
	while [ $_rnd -le "$ROUNDS" ]; do
		for _c in "$@"; do
			WHY=""
			if xfer "${_part}_$_c" 1 "$BYTES"; then
				echo "$THR" >>"$T/res/$_part.$_c.thr"
				echo "$CPU" >>"$T/res/$_part.$_c.cpu"
				_cpu=$(printf '%6.3f CPU s/GiB' "$CPU")
				[ "$_c" = direct ] && _cpu="  (source to sink)"
				[ "$_c" = tunnel ] && _cpu="$_cpu  peak RSS $(mib "$HWM")"
				printf 'round %d/%d  %-5s  %-19s %8.1f MiB/s  %s  ok\n' \
					$_rnd "$ROUNDS" "$_part" "$(label "${_part}_$_c")" "$THR" "$_cpu"
			else
				FAILED=$((FAILED + 1))
				printf 'round %d/%d  %-5s  %-19s FAILED (not counted): %s\n' \
					$_rnd "$ROUNDS" "$_part" "$(label "${_part}_$_c")" "$WHY"
			fi
			stop_run
		done
		_rnd=$((_rnd + 1))
	done
}

# pair_result PART A B TARGET-THR-RATIO: medians, ratios of A to B, target
# (A's throughput >= RATIO x B's, A's CPU/GiB <= half of B's).
pair_result() {
	_a=$(median "$T/res/$1.$2.thr") _ac=$(median "$T/res/$1.$2.cpu")
	_b=$(median "$T/res/$1.$3.thr") _bc=$(median "$T/res/$1.$3.cpu")
	if [ -z "$_a" ] || [ -z "$_b" ]; then
		echo "result: $1: no median: too few successful runs"
		return
	fi
	awk -v p="$1" -v a="$_a" -v ac="$_ac" -v b="$_b" -v bc="$_bc" \
	    -v an="$(label "$1_$2")" -v bn="$(label "$1_$3")" -v k="$4" 'BEGIN {
		rt = a / b; rc = bc > 0 ? ac / bc : 0
		printf "result: %s: %s vs %s: throughput %.2fx, CPU per GiB %.2fx; target: >= %.1fx throughput at <= 0.5x CPU: %s\n",
		    p, an, bn, rt, rc, k, (rt >= k && rc <= 0.5) ? "met" : "NOT met" }'
}

# floor_result PART FLOOR B: where the floor (a relay that only splices) is
# against B: a CPU target below it is out of reach of any relay here.
floor_result() {
	_f=$(median "$T/res/$1.$2.cpu") _b=$(median "$T/res/$1.$3.cpu")
	[ -n "$_f" ] && [ -n "$_b" ] || return 0
	awk -v f="$_f" -v b="$_b" -v p="$1" -v bn="$(label "$1_$3")" 'BEGIN {
		printf "result: %s: floor: two relays that only splice use %.2fx the CPU per GiB of %s\n",
		    p, (b > 0 ? f / b : 0), bn }'
}

# medians PART CONTENDER...: one line of medians.
medians() {
	_part=$1; shift
	_line="result: $_part: medians (MiB/s, relay CPU s/GiB):"
	for _c in "$@"; do
		_m=$(median "$T/res/$_part.$_c.thr") _mc=$(median "$T/res/$_part.$_c.cpu")
		[ -n "$_m" ] || { _line="$_line $(label "${_part}_$_c") n/a;"; continue; }
		_line="$_line $(label "${_part}_$_c") $(printf '%.0f' "$_m")"
		[ "$_c" = direct ] || _line="$_line @ $(printf '%.2f' "$_mc")"
		_line="$_line;"
	done
	echo "${_line%;}"
}

echo "bench-tunnel: $ROUNDS rounds, $GIB GiB a transfer; $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); $("$PY" --version 2>&1), socat $(socat -V | sed -n 's/^socat version \([^ ]*\).*/\1/p')"

# --- plain ------------------------------------------------------------------
if want plain; then
	_floor=""
	[ -x "$FLOOR" ] && _floor=floor
	bench_pairs plain tunnel socat8k socat1m $_floor direct
	medians plain tunnel socat8k socat1m $_floor direct
	pair_result plain tunnel socat1m 1
	[ -n "$_floor" ] && floor_result plain floor socat1m
fi

# --- TLS --------------------------------------------------------------------
STUNNEL=$(command -v stunnel4 || command -v stunnel || :)
if want tls || want memory; then
	command -v openssl >/dev/null 2>&1 || die "openssl is missing"
	sh "$TOP/scripts/mkcerts.sh" "$C" >"$T/mkcerts.log" 2>&1 ||
		die "mkcerts.sh: $(cat "$T/mkcerts.log")"
	TLS_SRV="--tls-cert $C/server.pem --tls-key $C/server.key --tls-ca $C/ca.pem --tls-peer-name mig-client"
	TLS_CLI="--tls-cert $C/client.pem --tls-key $C/client.key --tls-ca $C/ca.pem --tls-peer-name mig-server"
fi
if want tls; then
	[ -n "$STUNNEL" ] || die "stunnel is missing (scripts/deps.sh bench)"
	echo "tls: stunnel and socat pinned to TLS 1.2 $SUITE; $("$STUNNEL" -version 2>&1 | grep -m1 '^stunnel')"
	bench_pairs tls tunnel stunnel socat
	medians tls tunnel stunnel socat
	pair_result tls tunnel stunnel 2.5
fi

# --- migration --------------------------------------------------------------
# migrate MODE: direct or tunnel; sets THR (MiB/s) and MIB (memory sent).
migrate() {
	new_run || return 1
	start_guest src -object \
		"memory-backend-file,id=pc.ram,size=${GUEST_MEM}M,mem-path=$T/ram.img,share=off" \
		-machine memory-backend=pc.ram || return 1
	start_guest dst -incoming defer || return 1
	until_ok 30 "the guest to count on the source" \
		has_counts 2 "$R/src.serial" || return 1
	spawn _recv "$BIN/mig-recv" --qmp "unix:$R/dst.qmp" \
		--incoming "unix:$R/mig.sock" --timeout 120 \
		>"$R/recv.out" 2>"$R/recv.log" </dev/null
	until_ok 30 "mig-recv to get ready" recv_ready "$_recv" || return 1
	_uri=unix:$R/mig.sock
	if [ "$1" = tunnel ]; then
		_port=$(free_port)
		spawn _ts "$TUN" --insecure -R "mig=unix:$R/mig.sock" \
			"listen:tcp:127.0.0.1:$_port" 2>"$R/tun-server.log"
		until_ok 10 "the listening tunnel" tcp_up tun-server "$_ts" "$_port" || return 1
		spawn _tc "$TUN" --insecure -L "unix:$R/tmig.sock=mig" \
			"tcp:127.0.0.1:$_port" 2>"$R/tun-client.log"
		until_ok 10 "the connecting tunnel" sock_up tun-client "$_tc" "$R/tmig.sock" || return 1
		_uri=unix:$R/tmig.sock
	fi
	spawn _send "$BIN/mig-send" --qmp "unix:$R/src.qmp" --migrate-uri "$_uri" \
		--keep-source --json >"$R/summary" 2>"$R/send.log" </dev/null
	# Blocking waits: mig-recv's --timeout bounds them (it quits the
	# destination QEMU when it gives up, and mig-send fails then).
	wait "$_send"; _rc=$?; reaped "$_send"
	[ $_rc = 0 ] || { WHY="mig-send exited $_rc: $(tail -n 2 "$R/send.log")"; return 1; }
	wait "$_recv"; _rc=$?; reaped "$_recv"
	[ $_rc = 0 ] || { WHY="mig-recv exited $_rc: $(tail -n 2 "$R/recv.log")"; return 1; }
	continued "$R/src.serial" "$R/dst.serial" 30 || return 1
	grep -q '"event":"summary"' "$R/summary" || { WHY="mig-send gave no summary"; return 1; }
	# The source QEMU (kept, paused) has the figures.
	_q=$("$PY" "$T/flow.py" qmp "$R/src.qmp" 2>&1) || { WHY="query-migrate: $_q"; return 1; }
	set -- $_q
	THR=$(awk -v m="$3" 'BEGIN { printf "%.1f", m * 1e6 / 8 / 1048576 }')
	MIB=$(awk -v b="$2" 'BEGIN { printf "%.1f", b / 1048576 }')
	MS=$1
}
recv_ready() {
	alive recv "$1" || { WHY="mig-recv: $(tail -n 2 "$R/recv.log")"; return 2; }
	has_line "$R/recv.out" ready
}

if want migrate; then
	for c in "$QEMU" "$BIN/mig-send" "$BIN/mig-recv"; do
		command -v "$c" >/dev/null 2>&1 || die "$c is missing"
	done
	[ -f "$GUEST" ] || die "$GUEST is missing: run make"
	head -c $((GUEST_MEM * 1048576)) /dev/urandom >"$T/ram.img" || die "no random data"
	# The first migration after the file was written is slower, whichever
	# way it goes: one is not counted.
	WHY=""
	if migrate direct; then
		printf 'warm-up  migrate  %-10s %8.1f MiB/s  (%s MiB in %d ms)  not counted\n' \
			direct "$THR" "$MIB" "$MS"
	else
		FAILED=$((FAILED + 1))
		printf 'warm-up  migrate  %-10s FAILED: %s\n' direct "$WHY"
	fi
	stop_run
	i=1
	while [ $i -le "$ROUNDS" ]; do
		for mode in direct tunnel; do
			WHY=""
			if migrate $mode; then
				echo "$THR" >>"$T/res/migrate.$mode.thr"
				printf 'round %d/%d  migrate  %-10s %8.1f MiB/s  (%s MiB in %d ms)  ok\n' \
					$i "$ROUNDS" "$mode" "$THR" "$MIB" "$MS"
			else
				FAILED=$((FAILED + 1))
				printf 'round %d/%d  migrate  %-10s FAILED (not counted): %s\n' \
					$i "$ROUNDS" "$mode" "$WHY"
			fi
			stop_run
		done
		i=$((i + 1))
	done
	rm -f "$T/ram.img"
	d=$(median "$T/res/migrate.direct.thr") t=$(median "$T/res/migrate.tunnel.thr")
	if [ -n "$d" ] && [ -n "$t" ]; then
		awk -v d="$d" -v t="$t" -v m=$GUEST_MEM 'BEGIN {
			printf "result: migrate: %d MiB RAM of random data: direct unix socket %.0f MiB/s, through the tunnel pair %.0f MiB/s: %.2fx; target: >= 0.8x: %s\n",
			    m, d, t, t / d, (t / d >= 0.8) ? "met" : "NOT met" }'
	else
		echo "result: migrate: no median: too few successful runs"
	fi
fi

# --- 16 channels ------------------------------------------------------------
if want 16ch; then
	each=$(( BYTES / 16 / 1048576 * 1048576 ))
	[ "$each" -gt 0 ] || each=1048576
	i=1
	while [ $i -le "$ROUNDS" ]; do
		WHY=""
		if xfer plain_tunnel 16 "$each"; then
			# Each channel's rate while all 16 ran: bytes in when the
			# first one finished.
			set -- $(awk -v t0="$(sed -n 's/^start //p' "$R/src.out")" '
				$1 == "first" {
					d = $2 - t0; min = -1; s = 0; s2 = 0
					for (i = 3; i <= NF; i++) {
						r = $i / 1048576 / d; s += r; s2 += r * r
						if (min < 0 || r < min) min = r
						if (r > max) max = r
					}
					n = NF - 2
					printf "%.1f %.1f %.4f", min, max, s * s / (n * s2)
				}' "$R/sink.out")
			echo "$THR" >>"$T/res/16ch.thr"
			echo "$1" >>"$T/res/16ch.min"
			echo "$2" >>"$T/res/16ch.max"
			echo "$3" >>"$T/res/16ch.jain"
			printf 'round %d/%d  16ch   mig-tunnel x16     %8.1f MiB/s  %6.3f CPU s/GiB  per channel %s-%s MiB/s, Jain %s  ok\n' \
				$i "$ROUNDS" "$THR" "$CPU" "$1" "$2" "$3"
		else
			FAILED=$((FAILED + 1))
			printf 'round %d/%d  16ch   mig-tunnel x16     FAILED (not counted): %s\n' \
				$i "$ROUNDS" "$WHY"
		fi
		stop_run
		i=$((i + 1))
	done
	a=$(median "$T/res/16ch.thr") s=$(median "$T/res/plain.tunnel.thr")
	if [ -n "$a" ]; then
		[ -n "$s" ] && s=$(awk -v a="$a" -v s="$s" \
			'BEGIN { printf " (%.2fx one stream)", a / s }')
		printf 'result: 16ch: aggregate %.0f MiB/s%s; per channel while all ran %.1f-%.1f MiB/s; Jain fairness %.3f (1 = even)\n' \
			"$a" "$s" "$(median "$T/res/16ch.min")" "$(median "$T/res/16ch.max")" \
			"$(median "$T/res/16ch.jain")"
	else
		echo "result: 16ch: no median: too few successful runs"
	fi
fi

# --- memory and size ----------------------------------------------------------
# rss_run PAIR: 64 idle channels through the pair; the tunnels' VmRSS.
rss_run() {
	new_run || return 1
	RELAYS="" TUNS=""
	spawn _sink "$PY" "$T/flow.py" sink "$R/sink.sock" 64 "$R/sink.out" 60 2>"$R/sink.log"
	until_ok 30 "the sink" sink_ready "$_sink" || return 1
	start_$1 || return 1
	spawn _src "$PY" "$T/flow.py" source "$R/src.sock" 64 -1 "$R/src.out" 60 2>"$R/source.log"
	until_ok 30 "64 channels to open" has_line "$R/sink.out" accepted || return 1
	set -- $TUNS
	RSS_C=$(status_kib "$1" VmRSS)
	RSS_L=$(status_kib "$2" VmRSS)
	RSS_S=0
	for _p in $(kids "$2"); do
		_k=$(status_kib "$_p" VmRSS)
		[ -n "$_k" ] && [ "$_k" -gt "$RSS_S" ] && RSS_S=$_k
	done
	[ -n "$RSS_C" ] && [ -n "$RSS_L" ] && [ "$RSS_S" -gt 0 ] ||
		{ WHY="cannot read the tunnels' VmRSS"; return 1; }
}

if want memory; then
	for pair in plain_tunnel tls_tunnel; do
		WHY=""
		if rss_run $pair; then
			worst=$RSS_C
			[ "$RSS_S" -gt "$worst" ] && worst=$RSS_S
			[ "$RSS_L" -gt "$worst" ] && worst=$RSS_L
			printf 'result: memory: %s, 64 idle channels: VmRSS connecting %s, session %s, listener %s; target: <= %d MiB: %s\n' \
				"${pair%%_*}" "$(mib "$RSS_C")" "$(mib "$RSS_S")" "$(mib "$RSS_L")" \
				$((RSS_KIB / 1024)) "$([ "$worst" -le $RSS_KIB ] && echo met || echo NOT met)"
		else
			FAILED=$((FAILED + 1))
			echo "result: memory: ${pair%%_*}: FAILED: $WHY"
		fi
		stop_run
	done
	if strip -o "$T/stripped" "$TUN" 2>/dev/null; then
		s=$(wc -c <"$T/stripped")
		awk -v s="$s" -v k=$SIZE_KIB 'BEGIN {
			printf "result: size: mig-tunnel %.1f KiB static, stripped; target: <= %d KiB: %s\n",
			    s / 1024, k, (s <= k * 1024) ? "met" : "NOT met" }'
		rm -f "$T/stripped"
	else
		FAILED=$((FAILED + 1))
		echo "result: size: strip failed"
	fi
fi

if [ $FAILED != 0 ]; then
	echo "bench-tunnel: $FAILED run(s) failed" >&2
	exit 1
fi
