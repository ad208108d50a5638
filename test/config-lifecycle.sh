#!/bin/sh
# mig-config's lifecycle against real QEMU: definitions round-trip byte for
# byte, start/create/destroy, list's states (paused, in migration while
# mig-recv holds the QMP socket, shut off), define and undefine of a
# running guest, --foreground, the environment's directories, two commands
# at once (one guest, whole definitions), a QEMU that refuses its
# arguments, and the man page's example definition.
. "$(dirname "$0")/lib.sh"
. "$TOP/test/qemu.sh"
. "$TOP/test/mig.sh"
require_qemu

state_of() {	# HOST NAME: list --json's state of NAME
	host_config "$1" list --all --json |
		sed -n "s/.*{\"name\":\"$2\",\"state\":\"\([a-z ]*\)\".*/\1/p"
}
state_is() { [ "$(state_of "$1" "$2")" = "$3" ]; }

# Round trip: comments, blanks, quotes, $, # and no final newline.
guest_def "$T/g.def" g "$T/g.serial"
{
	printf '# a hand-edited definition\n\n'
	sed 's/^arg /  arg\t/' "$T/g.def"
	printf 'arg -name\narg a "quoted" $name, #1\n# no newline at the end'
} >"$T/odd.def"
host_config a define "$T/odd.def" >/dev/null || fail "define odd.def"
host_config a dumpdef --inactive g | cmp -s - "$T/odd.def" ||
	fail "dumpdef --inactive is not byte for byte"
cmp -s "$T/a/etc/g.def" "$T/odd.def" || fail "the stored file differs"
host_config a define - <"$T/g.def" >/dev/null || fail "define -"
host_config a dumpdef g | cmp -s - "$T/g.def" || fail "define - then dumpdef"
[ "$(host_config a list --json)" = '[]' ] || fail "list of nothing running"
[ "$(host_config a list | wc -l)" = 1 ] || fail "list has more than a header"
state_is a g "shut off" || fail "g is not shut off: $(state_of a g)"

# start --paused, then the live and the stored definitions apart.
host_start a start g --paused
state_is a g paused || fail "g --paused is $(state_of a g)"
host_config a list --json | grep -q "\"persistent\":true,\"pid\":$GUEST_PID," ||
	fail "list's pid: $(host_config a list --json)"
{ cat "$T/g.def"; echo "# changed"; } >"$T/g2.def"
host_config a define "$T/g2.def" >"$T/out" || fail "define while running"
grep -q "runs on its live definition" "$T/out" || fail "define said: $(cat "$T/out")"
host_config a dumpdef g | cmp -s - "$T/g.def" || fail "the live definition changed"
host_config a dumpdef --inactive g | cmp -s - "$T/g2.def" || fail "not stored"
# undefine: it keeps running, now transient.
host_config a undefine g >"$T/out" || fail "undefine"
grep -q "keeps running, now transient" "$T/out" || fail "undefine said: $(cat "$T/out")"
host_config a list --json | grep -q '"name":"g","state":"paused","persistent":false' ||
	fail "after undefine: $(host_config a list --json)"
host_config a destroy g >/dev/null || fail "destroy"
wait_for 10 "QEMU to exit" pid_gone "$GUEST_PID"
[ "$(host_config a list --all --json)" = '[]' ] || fail "g left after destroy"
[ ! -e "$T/a/run/g" ] || fail "run state left after destroy"

# in migration: waiting for one, and while mig-recv holds qmp.sock.
host_start b create --incoming "$T/g.def"
state_is b g "in migration" || fail "an incoming guest is $(state_of b g)"
recv_start_with --domain g $(host_dirs b) --incoming "unix:$T/m.sock"
state_is b g "in migration" ||
	fail "with mig-recv on qmp.sock: $(state_of b g)"
stop_pid "$RECV_PID"
wait_for 20 "mig-recv's guard to quit the destination" pid_gone "$GUEST_PID"

# --foreground: mig-config becomes QEMU.
host_config a define "$T/g.def" >/dev/null || fail "define"
"$BIN/mig-config" $(host_dirs a) start g --foreground >"$T/fg.out" 2>&1 &
FG=$!
track $FG
wait_for 30 "the foreground guest to run" state_is a g running
host_config a list --json | grep -q "\"pid\":$FG," ||
	fail "the foreground QEMU is not pid $FG: $(host_config a list --json)"
tr '\0' ' ' <"/proc/$FG/cmdline" | grep -q "qemu.* -qmp unix:$T/a/run/g/" ||
	fail "pid $FG is not QEMU: $(tr '\0' ' ' <"/proc/$FG/cmdline")"
host_config a destroy g >/dev/null || fail "destroy the foreground guest"
wait_exit $FG 10

# The environment names the directories.
MIG_CONFIG_DIR=$T/a/etc MIG_RUN_DIR=$T/a/run "$BIN/mig-config" list --all |
	grep -q '^g  *shut off  *yes$' || fail "MIG_CONFIG_DIR/MIG_RUN_DIR not used"

# Two starts at once: one guest; the other is told it runs.
host_config a start g >"$T/s1.out" 2>"$T/s1.err" &
p1=$!
host_config a start g >"$T/s2.out" 2>"$T/s2.err" &
p2=$!
wait_exit $p1 60; r1=$EXIT_STATUS
wait_exit $p2 60; r2=$EXIT_STATUS
for p in $(sed -n 's/.*(pid \([0-9]*\)).*/\1/p' "$T/s1.out" "$T/s2.out"); do
	track "$p"
done
[ "$r1$r2" = 02 ] || [ "$r1$r2" = 20 ] || fail "two starts exited $r1 and $r2"
cat "$T/s1.err" "$T/s2.err" | grep -q "guest 'g' is already running" ||
	fail "the second start said: $(cat "$T/s1.err" "$T/s2.err")"
[ "$(pgrep -f "$T/a/run/g/qmp.sock" | wc -l)" = 1 ] || fail "not one QEMU"
host_config a destroy g >/dev/null || fail "destroy"

# Concurrent defines: the stored definition is one of them, whole.
i=0
while [ $i -lt 20 ]; do
	host_config a define "$T/g.def" >/dev/null &
	host_config a define "$T/g2.def" >/dev/null &
	i=$((i + 1))
done
wait
cmp -s "$T/a/etc/g.def" "$T/g.def" || cmp -s "$T/a/etc/g.def" "$T/g2.def" ||
	fail "the stored definition is neither"
[ "$(ls -A "$T/a/etc")" = g.def ] || fail "left in the config dir: $(ls -A "$T/a/etc")"

# A QEMU that refuses its arguments: one line with its reason, no state.
{ cat "$T/g.def"; echo "arg -no-such-option"; } >"$T/bad.def"
sed -i 's/^name g$/name bad/' "$T/bad.def"
bad_exit 1 mig-config "-no-such-option" $(host_dirs a) create "$T/bad.def"
[ ! -e "$T/a/run/bad" ] || fail "run state left by a QEMU that did not start"

# The example of mig-config(5), this host's paths put in.
sed -n '/^\.SH EXAMPLE/,/^\.fi/p' "$TOP/doc/mig-config.5" |
	sed -n '/^\.RS/,/^\.RE/p' | sed '/^\./d; s/\\-/-/g' |
	sed "s|^arg /usr/local/share/mig/guest.elf$|arg $GUEST|;
	     s|path=/var/log/guest.serial|path=$T/ex.serial|" >"$T/ex.def"
grep -q "^name guest$" "$T/ex.def" || fail "no example found: $(cat "$T/ex.def")"
host_config a define "$T/ex.def" >/dev/null || fail "the man page's example"
host_start a start guest
wait_for 30 "the example guest to count" has_counts 2 "$T/ex.serial"
host_config a destroy guest >/dev/null || fail "destroy guest"
