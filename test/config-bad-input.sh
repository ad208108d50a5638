#!/bin/sh
# Bad input to mig-config and to mig-send/mig-recv's --domain,
# --undefinesource and --persistent: each exits 2 (1 for a runtime
# failure) with one line on stderr naming the culprit, and nothing is lost:
# stored definitions stay byte for byte, running guests keep running, a
# failed migration changes no definition on either side.
. "$(dirname "$0")/lib.sh"
. "$TOP/test/qemu.sh"
. "$TOP/test/mig.sh"
require_qemu

# cfg HOST ARGS: mig-config's directory options for HOST (for bad).
cfg() { echo "--config-dir $T/$1/etc --run-dir $T/$1/run"; }

# guest_running HOST NAME: list says NAME runs on HOST.
guest_running() {
	host_config "$1" list --json | grep -q "{\"name\":\"$2\",\"state\":\"running\","
}

guest_def "$T/g.def" g "$T/g.serial"

# kill_guest PID: kill -9 a guest's QEMU, wait until all its threads are
# gone (a dead thread-group leader shows Z while the others still hold its
# files, the pid lock among them).
_all_gone() {
	pid_gone "$1" && { [ ! -d "/proc/$1/task" ] ||
		[ "$(ls "/proc/$1/task" | wc -l)" -le 1 ]; }
}
kill_guest() {
	kill -KILL "$1"
	wait_for 10 "QEMU $1 to die" _all_gone "$1"
}

# --- malformed definitions: refused, a stored one left as it was --------
host_config a define "$T/g.def" >/dev/null || fail "define"
cp "$T/a/etc/g.def" "$T/g.stored"
malformed() {
	_what=$1; shift
	{ cat "$T/g.def"; printf '%s\n' "$@"; } >"$T/bad.def"
	bad mig-config "$_what" $(cfg a) define "$T/bad.def"
	bad mig-config "$_what" $(cfg a) create "$T/bad.def"
}
malformed "line 20: trailing blank" "arg -m "
malformed "line 20: unknown key 'args'" "args -m"
malformed "argument '-qmp' is managed by mig" "arg -qmp" "arg unix:/x"
malformed "argument '-monitor' is managed" "arg -monitor"
malformed "argument '--incoming' is managed" "arg --incoming"
malformed "argument '-daemonize' is managed" "arg -daemonize"
malformed "argument '-pidfile' is managed" "arg -pidfile"
malformed "line 20: a second name" "name h"
printf 'name ../g\nqemu %s\n' "$QEMU" >"$T/bad.def"
bad mig-config "guest name '../g' begins with '.'" $(cfg a) define "$T/bad.def"
printf 'name g\narg -m\n' >"$T/bad.def"
bad mig-config "no qemu line" $(cfg a) define "$T/bad.def"
printf 'name g\r\nqemu q\n' >"$T/bad.def"
bad mig-config "line 1: a carriage return" $(cfg a) define "$T/bad.def"
printf 'name g\nqemu /nonexistent/qemu\n' >"$T/bad.def"
bad mig-config "qemu '/nonexistent/qemu' is not an executable file" \
	$(cfg a) define "$T/bad.def"
printf 'name g\nqemu no-such-qemu-binary\n' >"$T/bad.def"
bad mig-config "not found on PATH" $(cfg a) create "$T/bad.def"
head -c 70000 /dev/zero | tr '\0' '#' >"$T/bad.def"
bad mig-config "longer than a definition may be" $(cfg a) define "$T/bad.def"
bad mig-config "$T/none.def: No such file" $(cfg a) define "$T/none.def"
cmp -s "$T/a/etc/g.def" "$T/g.stored" || fail "a refused define changed g.def"
[ "$(ls "$T/a/etc")" = g.def ] || fail "files left in the config dir: $(ls "$T/a/etc")"
[ ! -e "$T/a/run/g" ] || fail "a refused create left run state"

# --- usage -----------------------------------------------------------------
bad mig-config "a command is required" $(cfg a)
bad mig-config "unknown command 'run'" run g
bad mig-config "list takes no --incoming" list --incoming
bad mig-config "start needs a NAME" start
bad mig-config "unexpected argument 'h'" $(cfg a) start g h
bad mig-config "--config-dir needs a value" list --config-dir
bad mig-config "has a ',' in its path" --config-dir "$T/a,b" list

# --- unknown guests --------------------------------------------------------
bad mig-config "guest 'nosuch' is not defined" $(cfg a) start nosuch
bad mig-config "guest 'nosuch' is not defined or running" $(cfg a) dumpdef nosuch
bad mig-config "guest 'nosuch' is not running" $(cfg a) destroy nosuch
bad mig-config "guest 'nosuch' has no stored definition" $(cfg a) undefine nosuch
bad mig-config "only letters" $(cfg a) start 'a b'
bad mig-send "guest 'nosuch' is not running" --domain nosuch $(cfg a) \
	--migrate-uri "unix:$T/m.sock"
bad mig-recv "guest 'nosuch' is not running" --domain nosuch $(cfg a)
bad mig-send "give --qmp or --domain, not both" --domain g \
	--qmp "unix:$T/x" --migrate-uri "unix:$T/m.sock"
bad mig-send "--undefinesource needs --domain" --qmp "unix:$T/x" \
	--undefinesource --migrate-uri "unix:$T/m.sock"
bad mig-send "--config-dir needs --domain" --qmp "unix:$T/x" \
	--config-dir "$T/a/etc" --migrate-uri "unix:$T/m.sock"

# --- a name already running from another definition ----------------------
host_start a start g
{ echo "# another definition of g"; cat "$T/g.def"; } >"$T/g2.def"
bad mig-config "guest 'g' is already running from another definition" \
	$(cfg a) create "$T/g2.def"
bad mig-config "guest 'g' is already running" $(cfg a) start g
host_config a dumpdef g | cmp -s - "$T/g.def" || fail "the live definition changed"
guest_running a g || fail "g does not run after the refused create"

# --- a stale run state: detected, cleaned, never trusted -------------------
kill_guest "$GUEST_PID"
[ -d "$T/a/run/g" ] || fail "no run state left to test"
bad mig-send "its QEMU died; its stale run state" --domain g $(cfg a) \
	--migrate-uri "unix:$T/m.sock"
[ ! -e "$T/a/run/g" ] || fail "mig-send left the stale run state"
host_start a start g
kill_guest "$GUEST_PID"
bad mig-config "its QEMU died: removed its stale run state" $(cfg a) destroy g
host_start a start g
kill_guest "$GUEST_PID"
host_config a list --all --json >"$T/list.out" 2>"$T/list.err" || fail "list"
grep -q "guest 'g': its QEMU died; removed its stale run state" "$T/list.err" ||
	fail "list did not say it removed the stale state: $(cat "$T/list.err")"
grep -qx '\[{"name":"g","state":"shut off","persistent":true}\]' "$T/list.out" ||
	fail "list after the stale state: $(cat "$T/list.out")"
[ ! -e "$T/a/run/g" ] || fail "list left the stale run state"
cmp -s "$T/a/etc/g.def" "$T/g.stored" || fail "g.def changed"

# --- unwritable config directories -----------------------------------------
# (root writes anywhere: a config directory under a regular file, and a
# read-only one in a private mount namespace.)
: >"$T/file"
bad_exit 1 mig-config "cannot create the config directory" \
	--config-dir "$T/file/etc" --run-dir "$T/a/run" define "$T/g.def"
mkdir -p "$T/ro/etc"
ro() {
	if [ "$(id -u)" = 0 ]; then
		unshare -m sh -c 'mount --bind -o ro "$0" "$0" && exec "$@"' \
			"$T/ro/etc" "$@"
	else
		chmod a-w "$T/ro/etc"; "$@"; _r=$?; chmod u+w "$T/ro/etc"
		return $_r
	fi
}
ro "$BIN/mig-config" --config-dir "$T/ro/etc" --run-dir "$T/a/run" \
	define "$T/g.def" >/dev/null 2>"$T/ro.err"
rc=$?
[ $rc = 1 ] && [ "$(wc -l <"$T/ro.err")" = 1 ] &&
	grep -q "cannot write $T/ro/etc/g.def" "$T/ro.err" ||
	fail "define into a read-only config dir: exit $rc: $(cat "$T/ro.err")"
[ -z "$(ls -A "$T/ro/etc")" ] || fail "files left in the read-only dir"

# --- --persistent with nothing to store, or nowhere to store it -----------
start_dst dst
bad mig-recv "--persistent needs --domain" --qmp "unix:$T/dst.qmp" --persistent
host_start b create --incoming "$T/g.def"
rm "$T/b/run/g/def"
bad mig-recv "--persistent: guest 'g' has no definition to store" \
	--domain g $(cfg b) --persistent --incoming "unix:$T/m.sock"
host_config b destroy g >/dev/null || fail "destroy on b"
host_start b create --incoming "$T/g.def"
bad mig-recv "cannot write the config directory $T/file/etc" --domain g \
	--config-dir "$T/file/etc" --run-dir "$T/b/run" --persistent
ro "$BIN/mig-recv" --domain g --config-dir "$T/ro/etc" --run-dir "$T/b/run" \
	--persistent >/dev/null 2>"$T/ro.err"
rc=$?
[ $rc = 2 ] && grep -q "cannot write the config directory $T/ro/etc" "$T/ro.err" ||
	fail "mig-recv --persistent, read-only config dir: exit $rc: $(cat "$T/ro.err")"
[ "$(host_config b list --json | grep -o '"state":"[a-z ]*"')" = '"state":"in migration"' ] ||
	fail "the destination is not waiting for a migration any more"
[ "$(qmp_cmd dst '{"execute":"query-status"}' | grep -o '"status": "[a-z]*"')" = '"status": "inmigrate"' ] ||
	fail "the hand-started destination QEMU changed"

# --- a failed migration changes no definition ------------------------------
# The destination's guest has more memory than the source's: the stream
# does not load there, mig-recv quits its QEMU, mig-send rolls back.
host_config b destroy g >/dev/null || fail "destroy on b"
host_config b define "$T/g.def" >/dev/null || fail "define on b"
cp "$T/b/etc/g.def" "$T/g.b"
rm "$T/b/etc/g.def"
sed 's/^arg 64$/arg 128/' "$T/g.def" >"$T/g128.def"
cmp -s "$T/g.def" "$T/g128.def" && fail "no -m 64 in the definition"
host_start a start g
host_start b create --incoming "$T/g128.def"
wait_for 30 "a count" has_counts 1 "$T/g.serial"
recv_start_with --domain g $(cfg b) --persistent --incoming "unix:$T/m.sock"
send_start_with --domain g $(cfg a) --undefinesource \
	--migrate-uri "unix:$T/m.sock"
expect_status send $SEND_PID 1
expect_status recv $RECV_PID 1
cmp -s "$T/a/etc/g.def" "$T/g.stored" || fail "a failed mig-send removed g.def"
guest_running a g || fail "the source guest does not run after the rollback"
[ ! -e "$T/b/etc/g.def" ] || fail "a failed mig-recv --persistent stored g.def"

[ "$BAD_FAILED" = 0 ] || fail "$BAD_FAILED bad inputs were not handled as expected"
