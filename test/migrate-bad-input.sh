#!/bin/sh
# Bad input to mig-send and mig-recv: each run exits 2 with exactly one
# line on stderr that names the culprit, prints nothing on stdout, and
# changes nothing on either QEMU: afterwards the source runs with no block
# job, NBD node, migration or capability left, the destination is still
# untouched (checked before mig-recv starts, then by a good migration).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/qemu.sh"
. "$(dirname "$0")/mig.sh"
require_qemu

mkdisk "$T/src0.qcow2" 64M
fill_disk "$T/src0.qcow2"
mkdisk "$T/src1.qcow2" 64M
mkdisk "$T/src2.qcow2" 64M
mkdisk "$T/dst0.qcow2" 64M
mkdisk "$T/dst1.qcow2" 32M
mkdisk "$T/dst2.qcow2" 64M
start_src src $(disk_args vd0 "$T/src0.qcow2") \
	$(disk_args vd1 "$T/src1.qcow2") $(disk_args vd2 "$T/src2.qcow2")
start_dst dst $(disk_args vd0 "$T/dst0.qcow2") \
	$(disk_args vd1 "$T/dst1.qcow2") $(disk_args vd2 "$T/dst2.qcow2")
# Waits for a migration, but not with -incoming defer.
start_src inc -incoming "unix:$T/inc-mig.sock"

# Sockets that are not QEMU's QMP.
peer hello 'echo hello'
peer garbage1 "printf '%s\n' '$GREETING'; read -r l
	printf '%s\n' 'this is not JSON {{{'; read -r l"
peer garbage2 "printf '%s\n' '$GREETING'; read -r l; $ID
	printf '{\"return\": {}, \"id\": %s}\n' \"\$id\"; read -r l
	printf '%s\n' '{\"return\": {\"status\": \"running\", \"running\": tru}}'
	read -r l"
peer truncated "printf '%s\n' '$GREETING'; read -r l; $ID
	printf '{\"return\": {}, \"id\": %s}\n' \"\$id\"; read -r l
	printf '%s' '{\"return\": {\"status\": \"run'"
# Well-formed, but not what QEMU answers: {} to every command.
peer empty "printf '%s\n' '$GREETING'
	while read -r l; do $ID; printf '{\"return\": {}, \"id\": %s}\n' \"\$id\"; done"
# 50000 arrays deep (the parser's bound is far lower), then closed.
peer deep "printf '%s\n' '$GREETING'; read -r l
	printf '{\"return\": '; head -c 50000 /dev/zero | tr '\\0' '['
	head -c 50000 /dev/zero | tr '\\0' ']'; printf '}\n'; read -r l"
peer huge "printf '%s\n' '$GREETING'; read -r l
	printf '{\"return\": \"'; head -c 3000000 /dev/zero | tr '\\0' x
	printf '\"}\n'; read -r l"
peer closes "printf '%s\n' '$GREETING'; read -r l"
peer nogreeting "printf '%s\n' '{\"return\": {}}'; read -r l"
: >"$T/regular"
long=$T/$(printf '%0120d' 0).sock

S="--qmp unix:$T/src.qmp"
U="--migrate-uri unix:$T/mig.sock"
C="--copy-storage-all --disks-uri unix:$T/nbd.sock"

note "mig-send: options"
bad mig-send --frobnicate $S $U --frobnicate
bad mig-send --qmp $U --qmp
bad mig-send --qmp $U
bad mig-send --migrate-uri $S
bad mig-send unexpected $S $U unexpected
bad mig-send --migrate-uri $S --migrate-uri tcp:host
bad mig-send --migrate-uri $S --migrate-uri unix:
bad mig-send --migrate-uri $S --migrate-uri "unix://host/x"
bad mig-send --migrate-uri $S --migrate-uri "tcp:localhost:99999"
bad mig-send --migrate-uri $S --migrate-uri "ftp://x"
bad mig-send --qmp --qmp unix: $U
bad mig-send --qmp --qmp tcp:x:1 $U
bad mig-send --qmp --qmp - $U
# --qmp offers only what it accepts: a unix socket.
bad mig-send "'qmp.sock': expected unix:PATH or unix:///PATH" --qmp qmp.sock $U
bad mig-send "'-' is not allowed here, expected unix:PATH or unix:///PATH" \
	--qmp - $U
bad mig-send "--copy-storage-al'" $S $U --copy-storage-al
bad mig-send --qmp --qmp "unix:$long" $U
bad mig-send --disks-uri $S $U --copy-storage-all --disks-uri -
bad mig-send --disks-uri $S $U --copy-storage-all
bad mig-send --disks-uri $S $U --disks-uri "unix:$T/nbd.sock"
bad mig-send --migrate-disks $S $U --migrate-disks vd0
bad mig-send --copy-storage $S $U $C --copy-storage-inc
bad mig-send --copy-storage-synchronous-writes $S $U \
	--copy-storage-synchronous-writes
bad mig-send --timeout-postcopy $S $U --timeout 5 --timeout-postcopy
bad mig-send --postcopy-after-precopy $S $U --postcopy-after-precopy
bad mig-send --parallel $S --migrate-uri - --parallel
bad mig-send --parallel-connections $S $U --parallel-connections 4
bad mig-send --parallel-connections $S $U --parallel --parallel-connections 0
bad mig-send --bandwidth $S $U --bandwidth lots
bad mig-send --timeout $S $U --timeout -1

note "mig-send: sockets"
bad mig-send nosuch.qmp --qmp "unix:$T/nosuch.qmp" $U
bad mig-send regular --qmp "unix:$T/regular" $U
bad mig-send QMP --qmp "unix:$T/hello.sock" $U
bad mig-send QMP --qmp "unix:$T/garbage1.sock" $U
bad mig-send QMP --qmp "unix:$T/garbage2.sock" $U
bad mig-send QMP --qmp "unix:$T/truncated.sock" $U
bad mig-send query-status --qmp "unix:$T/empty.sock" $U
bad mig-send QMP --qmp "unix:$T/deep.sock" $U
bad mig-send QMP --qmp "unix:$T/huge.sock" $U
bad mig-send QMP --qmp "unix:$T/closes.sock" $U
bad mig-send QMP --qmp "unix:$T/nogreeting.sock" $U
note "mig-send: a destination QEMU"
bad mig-send incoming --qmp "unix:$T/dst.qmp" $U
bad mig-send incoming --qmp "unix:$T/inc.qmp" $U
note "mig-send: no mig-recv yet"
bad mig-send mig.sock $S $U

note "mig-recv: options"
D="--qmp unix:$T/dst.qmp"
I="--incoming unix:$T/mig.sock"
N="--nbd unix:$T/nbd.sock"
bad mig-recv --frobnicate $D $I --frobnicate
bad mig-recv --incoming $D --incoming
bad mig-recv --qmp $I
bad mig-recv unexpected $D $I unexpected
bad mig-recv --incoming $D --incoming tcp:host
bad mig-recv --incoming $D --incoming unix:
bad mig-recv --nbd $D $I --nbd -
bad mig-recv --nbd $D $I --nbd tcp:host:
bad mig-recv --qmp --qmp tcp:x:1 $I
bad mig-recv --qmp --qmp unix: $I
bad mig-recv "'qmp.sock': expected unix:PATH or unix:///PATH" --qmp qmp.sock $I
bad mig-recv "--nbd: bad endpoint '-': '-' is not allowed here, expected unix:PATH, unix:///PATH or tcp:HOST:PORT" \
	$D $I --nbd -
bad mig-recv --qmp --qmp "unix:$long" $I
bad mig-recv --migrate-disks $D $I --migrate-disks vd0
bad mig-recv --parallel $D --incoming - --parallel
bad mig-recv --timeout $D $I --timeout 0

note "mig-recv: sockets"
bad mig-recv nosuch.qmp --qmp "unix:$T/nosuch.qmp" $I
bad mig-recv QMP --qmp "unix:$T/hello.sock" $I
bad mig-recv QMP --qmp "unix:$T/garbage1.sock" $I
bad mig-recv QMP --qmp "unix:$T/garbage2.sock" $I
bad mig-recv QMP --qmp "unix:$T/truncated.sock" $I
bad mig-recv query-status --qmp "unix:$T/empty.sock" $I
bad mig-recv QMP --qmp "unix:$T/deep.sock" $I
bad mig-recv QMP --qmp "unix:$T/huge.sock" $I
bad mig-recv QMP --qmp "unix:$T/nogreeting.sock" $I
bad mig-recv QMP --qmp "unix:$T/closes.sock" $I
note "mig-recv: the wrong QEMU"
bad mig-recv "incoming defer" --qmp "unix:$T/src.qmp" $I
bad mig-recv "incoming defer" --qmp "unix:$T/inc.qmp" $I
note "mig-recv: disks and socket paths"
bad mig-recv vdX $D $I $N --migrate-disks vd0,vdX
bad mig-recv regular $D --incoming "unix:$T/regular" $N
bad mig-recv regular $D $I --nbd "unix:$T/regular"
bad mig-recv hello.sock $D --incoming "unix:$T/hello.sock" $N
bad mig-recv hello.sock $D $I --nbd "unix:$T/hello.sock"

# Nothing changed on the destination: still waiting for an incoming
# migration that has not started, no export, no capability set, no socket.
hmp dst 'info status' | grep -q 'inmigrate' || fail "destination not inmigrate"
o=$(qmp_cmd dst '{"execute":"query-migrate"}' | tr -d '\r')
[ "$o" = '{"return": {}}' ] || fail "destination migration state: $o"
o=$(qmp_cmd dst '{"execute":"query-block-exports"}' | tr -d '\r')
[ "$o" = '{"return": []}' ] || fail "destination block exports: $o"
hmp dst 'info migrate_capabilities' | grep -qx 'late-block-activate: off' ||
	fail "a capability was set on the destination"
[ -e "$T/mig.sock" ] || [ -e "$T/nbd.sock" ] && fail "a socket was created"
pid_gone "$(qemu_pid inc)" && fail "the -incoming unix QEMU exited"
hmp inc 'info status' | grep -q 'inmigrate' || fail "inc not inmigrate"

# Now a real destination: vd0 (64 MiB) and vd1 (32 MiB) are exported,
# vd2 is not.
recv_start $I $N --migrate-disks vd0,vd1 --timeout 150
note "mig-send: disks"
bad mig-send vdX $S $U $C --migrate-disks vd0,vdX
bad mig-send vd2 $S $U $C --migrate-disks vd2
bad mig-send "qemu-img resize IMAGE 67108864" $S $U $C --migrate-disks vd1
bad mig-send vd1 $S $U $C
bad mig-send vd1 $S $U --copy-storage-inc --disks-uri "unix:$T/nbd.sock" \
	--migrate-disks vd0,vd1
bad mig-send nosuch.sock $S $U --copy-storage-all \
	--disks-uri "unix:$T/nosuch.sock" --migrate-disks vd0
bad mig-send regular $S --migrate-uri "unix:$T/regular" $C --migrate-disks vd0

# Nothing changed on the source.
[ "$(guest_status src)" = running ] || fail "the source guest is not running"
hmp src 'info block-jobs' | grep -q 'No active jobs' ||
	fail "a block job runs on the source"
o=$(qmp_cmd src '{"execute":"query-named-block-nodes"}') ||
	fail "query-named-block-nodes: $o"
case $o in *mig-nbd-*) fail "an NBD node was added on the source" ;; esac
o=$(qmp_cmd src '{"execute":"query-migrate"}' | tr -d '\r')
[ "$o" = '{"return": {}}' ] || fail "source migration state: $o"
hmp src 'info migrate_capabilities' | grep -qx 'pause-before-switchover: off' ||
	fail "pause-before-switchover was set on the source"
pid_gone $RECV_PID && fail "mig-recv exited: $(cat "$T/recv.err")"

# And the destination was not disturbed by any of it, but it exports vd1
# too, which the source cannot copy: it refuses to let the guest start on
# an uncopied disk, quits, and says why; the source resumes and hears why.
wait_count src 2
send_start $U $C --migrate-disks vd0
expect_status send $SEND_PID 1
expect_status recv $RECV_PID 1
grep -q "disk 'vd1' was exported but no source copied it" "$T/recv.err" ||
	fail "mig-recv did not name the uncopied disk: $(cat "$T/recv.err")"
grep -q "the destination says it failed: disk 'vd1'" "$T/send.err" ||
	fail "mig-send did not pass on the destination's reason: $(cat "$T/send.err")"
grep -q '"outcome":"source running"' "$T/send.json" ||
	fail "mig-send's summary does not say the guest runs on the source"
wait_for 30 "the destination QEMU to quit" pid_gone "$(qemu_pid dst)"
source_clean

[ "$BAD_FAILED" = 0 ] || fail "$BAD_FAILED bad inputs were not handled as expected"
