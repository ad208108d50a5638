#!/bin/sh
# mig-send --tunnelled: the migration stream, its --parallel channels and
# every NBD connection of the disk copy ride the control connection, so
# one socket is all the two sides share (libvirt refuses storage copy,
# parallel and post-copy in its tunnelled mode; mig does them all):
# 1. one unix socket (mig-recv --listen --once), --copy-storage-all with
#    writes during the copy, --parallel with 4 connections;
# 2. mig-recv --serve behind socat EXEC, with post-copy;
# 3. one TCP port with mutual TLS.
# Each time the guest continues on the destination and the disks are
# identical; the tunnels' private directories are gone afterwards.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/qemu.sh"
. "$(dirname "$0")/mig.sh"
require_qemu
require openssl

# The tunnels make their directories here, where the test can see them.
TMPDIR=$T/tmp
export TMPDIR
mkdir -p "$TMPDIR"
no_tunnel_left() {
	[ -z "$(ls "$TMPDIR")" ] || fail "left behind: $(ls "$TMPDIR")"
}

# guest NAME DISKBPS: a guest on the source with a filled 64 MiB disk
# (reads throttled to DISKBPS) and a monitor; SRC_PID is its QEMU.
guest() {
	mkdir -p "$T/src/disks"
	guest_def "$T/$1.def" "$1" "$T/$1.serial"
	mkdisk "$T/src/disks/$1.qcow2" 64M
	fill_disk "$T/src/disks/$1.qcow2"
	for a in $(throttled_disk_args vd0 "$T/src/disks/$1.qcow2" "$2") \
	    -chardev "socket,id=hmp,path=$T/src/$1.hmp,server=on,wait=off" \
	    -mon chardev=hmp,mode=readline; do
		echo "arg $a"
	done >>"$T/$1.def"
	host_start src create "$T/$1.def"
	SRC_PID=$GUEST_PID
	rm -f "$T/src.hmp" "$T/src.log"
	ln -s "$T/src/$1.hmp" "$T/src.hmp"
	ln -s "$T/src/run/$1/log" "$T/src.log"
	wait_for 30 "counts from the source guest" has_counts 2 "$T/$1.serial"
	# The destination's hook puts the disk in its own directory.
	dst_hook_moves src
}

# moved NAME: the guest runs on the destination and went on counting, the
# source QEMU quit, the disks are identical once the destination stops.
moved() {
	outcome_is send "destination running"
	wait_for 10 "the source QEMU to quit" pid_gone "$SRC_PID"
	check_continuity "$T/$1.serial" /dev/null
	_pid=$(cat "$T/dst/run/$1/pid")
	track "$_pid"
	host_config dst destroy "$1" >/dev/null || fail "destroy $1 on dst"
	wait_for 10 "the destination QEMU to quit" pid_gone "$_pid"
	qemu-img compare -q "$T/src/disks/$1.qcow2" "$T/dst/disks/$1.qcow2" ||
		fail "$1: the disks differ"
}

# 1. One unix socket: storage copy with writes during it, and --parallel.
guest g1 4194304
listen_start --once
send_start_with --domain g1 $(host_dirs src) --tunnelled --copy-storage-all \
	--parallel --parallel-connections 4 --desturi "unix:$T/ctl.sock" -v
copy_writes
expect_status send $SEND_PID 0
grep -q "tunnelled: the migration's sockets ride" "$T/recv.err" ||
	fail "mig-recv did not tunnel: $(cat "$T/recv.err")"
# The destination QEMU listened in the tunnel's directory, not its own.
[ -e "$T/dst/run/g1/migrate.sock" ] && fail "a migration socket in the run dir"
moved g1
copy_writes_arrived "$T/dst/disks/g1.qcow2"
expect_status recv $RECV_PID 0
no_tunnel_left

# 2. --serve behind socat EXEC, with post-copy after the first pass.
rm -rf "$T/src" "$T/dst" "$T/send.json"
guest g2 16777216
socat "UNIX-LISTEN:$T/ctl2.sock" \
	EXEC:"$BIN/mig-recv --serve $(host_dirs dst) --verbose" \
	2>"$T/recv.err" &
SOCAT_PID=$!
track $SOCAT_PID
wait_for 10 "socat to listen" test -S "$T/ctl2.sock"
# At 32 MiB/s precopy never converges (the guest dirties 32 MiB all the
# time): only post-copy, which QEMU does not limit, finishes it.
send_start_with --domain g2 $(host_dirs src) --tunnelled --copy-storage-all \
	--postcopy --postcopy-after-precopy --bandwidth 32 \
	--desturi "unix:$T/ctl2.sock"
expect_status send $SEND_PID 0
phase_seen postcopy || fail "the post-copy phase was never reached"
wait_exit $SOCAT_PID 30
[ "$EXIT_STATUS" = 0 ] || fail "mig-recv --serve exited $EXIT_STATUS"
moved g2
no_tunnel_left

# 3. One TCP port, mutual TLS.
sh "$TOP/scripts/mkcerts.sh" "$T/c" >"$T/mkcerts.log" 2>&1 ||
	{ cat "$T/mkcerts.log"; fail "mkcerts.sh failed"; }
C=$T/c
rm -rf "$T/src" "$T/dst" "$T/send.json"
guest g3 16777216
port=$(free_port)
"$BIN/mig-recv" --listen "tcp:127.0.0.1:$port" --once $(host_dirs dst) \
	--tls-cert "$C/server.pem" --tls-key "$C/server.key" --tls-ca "$C/ca.pem" \
	--verbose >"$T/recv.out" 2>"$T/recv.err" </dev/null &
RECV_PID=$!
track $RECV_PID
wait_for 10 "mig-recv to listen" tcp_listening "$port"
send_start_with --domain g3 $(host_dirs src) --tunnelled --copy-storage-all \
	--desturi "tcp:127.0.0.1:$port" --tls-cert "$C/client.pem" \
	--tls-key "$C/client.key" --tls-ca "$C/ca.pem"
expect_status send $SEND_PID 0
moved g3
expect_status recv $RECV_PID 0
no_tunnel_left
