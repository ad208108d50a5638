#!/bin/sh
# The migration guide's table "Configuration file handling", all 16 rows,
# with real migrations of the test guest between two "hosts" (each its own
# config and run directories): the source started persistent (define,
# start) or transient (create), a destination definition present or not,
# each combination of --undefinesource and --persistent.  After each
# migration: the guest runs on the destination and went on counting, the
# destination's type (persistent or transient), and both sides' stored
# definitions, by content ("unchanged dest config" is the destination's
# own, which differs from the source's by a line).  With MANAGED=1
# (managed-table.sh) each migration is one mig-send --desturi to a
# mig-recv --listen --once that launches the destination itself.
. "$(dirname "$0")/lib.sh"
. "$TOP/test/qemu.sh"
. "$TOP/test/mig.sh"
require_qemu

# Row: source type, dest config, --undefinesource, --persistent, then the
# guide's dest type, source config, dest config (N none, U unchanged dest
# config, S the source's: stored, or replacing the destination's own).
ROWS="T N N N  T N N
T N Y N  T N N
T N N Y  P N S
T N Y Y  P N S
T Y N N  P N U
T Y Y N  P N U
T Y N Y  P N S
T Y Y Y  P N S
P N N N  T Y N
P N Y N  T N N
P N N Y  P Y S
P N Y Y  P N S
P Y N N  P Y U
P Y Y N  P N U
P Y N Y  P Y S
P Y Y Y  P N S"

# stored HOST WANT-FILE|none: HOST's stored definition of g is that file's
# bytes (dumpdef --inactive prints it so too), or there is none.
stored() {
	if [ "$2" = none ]; then
		[ ! -e "$T/$1/etc/g.def" ] ||
			fail "row $n: $1 still stores g: $(head -n 1 "$T/$1/etc/g.def")"
		return 0
	fi
	cmp -s "$T/$1/etc/g.def" "$2" ||
		fail "row $n: $1's stored definition is not $(basename "$2")"
	host_config "$1" dumpdef --inactive g | cmp -s - "$2" ||
		fail "row $n: $1's dumpdef --inactive differs from $(basename "$2")"
}

n=0
while read -r stype dcfg undef pers want_type want_src want_dst; do
	n=$((n + 1))
	s=r$n-src d=r$n-dst serial=$T/r$n.serial
	note "row $n: $stype $dcfg $undef $pers -> $want_type $want_src $want_dst"
	guest_def "$T/$s.def" g "$serial"
	# The destination's own definition: the same guest, another text.
	{ echo "# the destination's own copy"; cat "$T/$s.def"; } >"$T/$d.own"
	if [ "$stype" = P ]; then
		host_config "$s" define "$T/$s.def" >/dev/null || fail "define"
		host_start "$s" start g
	else
		host_start "$s" create "$T/$s.def"
	fi
	if [ "$dcfg" = Y ]; then
		host_config "$d" define "$T/$d.own" >/dev/null || fail "define"
	fi
	flags_r="" flags_s=""
	[ "$pers" = Y ] && flags_r=--persistent
	[ "$undef" = Y ] && flags_s=--undefinesource
	if [ -n "${MANAGED:-}" ]; then
		# Managed (managed-table.sh): one command; mig-recv launches
		# the guest from the text the source sends, --persistent is
		# the source's option, and mig-recv --once stays as the
		# guest's supervisor until it is destroyed below.
		"$BIN/mig-recv" --listen "unix:$T/r$n.ctl" --once \
			$(host_dirs "$d") >"$T/recv.out" 2>"$T/recv.err" </dev/null &
		RECV_PID=$!
		track $RECV_PID
		wait_for 30 "mig-recv to listen" test -S "$T/r$n.ctl"
		wait_for 30 "a count from the source guest" has_counts 1 "$serial"
		send_start_with --domain g $(host_dirs "$s") $flags_s $flags_r \
			--p2p --desturi "unix:$T/r$n.ctl"
		expect_status send $SEND_PID 0
	else
		# Two-command mode: the destination starts from the source's
		# text.
		host_start "$d" create --incoming "$T/$s.def"
		wait_for 30 "a count from the source guest" has_counts 1 "$serial"
		recv_start_with --domain g $(host_dirs "$d") $flags_r \
			--incoming "unix:$T/r$n.mig"
		send_start_with --domain g $(host_dirs "$s") $flags_s \
			--migrate-uri "unix:$T/r$n.mig"
		expect_status send $SEND_PID 0
		expect_status recv $RECV_PID 0
	fi
	check_continuity "$serial" /dev/null

	# The destination: running, of the table's type.
	host_config "$d" list --json >"$T/$d.list" || fail "list on $d"
	want='"persistent":false'
	[ "$want_type" = P ] && want='"persistent":true'
	grep -q "{\"name\":\"g\",\"state\":\"running\",$want," "$T/$d.list" ||
		fail "row $n: destination: $(cat "$T/$d.list"), expected $want"
	case $want_dst in
	N) stored "$d" none ;;
	U) stored "$d" "$T/$d.own" ;;
	S) stored "$d" "$T/$s.def" ;;
	esac
	# The source: its QEMU quit, its run state gone, its definition as
	# the table says.
	host_config "$s" list --all --json >"$T/$s.list" || fail "list on $s"
	if [ "$want_src" = Y ]; then
		stored "$s" "$T/$s.def"
		grep -qx '\[{"name":"g","state":"shut off","persistent":true}\]' \
			"$T/$s.list" || fail "row $n: source: $(cat "$T/$s.list")"
	else
		stored "$s" none
		grep -qx '\[\]' "$T/$s.list" ||
			fail "row $n: source: $(cat "$T/$s.list")"
	fi
	[ ! -e "$T/$s/run/g" ] || fail "row $n: the source's run state is left"
	host_config "$d" destroy g >/dev/null || fail "destroy on $d"
	# The supervisor exits with its QEMU's status (a QMP quit: 0).
	[ -n "${MANAGED:-}" ] && expect_status recv $RECV_PID 0
done <<EOF
$ROWS
EOF
[ $n = 16 ] || fail "ran $n rows"
