# Helpers for the README's recipes (test/recipe-*.sh), sourced after
# test/lib.sh, test/qemu.sh and test/mig.sh.  A recipe is the indented
# block after a line "<!-- recipe NAME -->" in README.md; the tests run
# those very commands.  Each host of a recipe ("src", "dst") is a mount
# namespace of its own (unshare -m) in which /run is $T/hosts/HOST/run and
# /tmp/migdir is $T/migdir (shared by both hosts, as between containers);
# $BIN and $T/bin (where a stand-in for ssh lives) come first in PATH.

# require_hosts: skip unless mount namespaces can be made (root, unshare).
require_hosts() {
	require unshare setsid
	unshare -m true 2>/dev/null || skip "needs unshare -m (root)"
}

# recipe NAME: the recipe's commands, the "src$ "/"dst$ " prompts removed.
recipe() {
	awk -v name="$1" '
		$0 == "<!-- recipe " name " -->" { on = 1; next }
		on && /^    / { sub(/^    /, ""); sub(/^(src|dst)\$ /, ""); print; next }
		on && /^$/ { print; next }
		on { exit }
	' "$TOP/README.md" >"$T/recipe.$1"
	[ -s "$T/recipe.$1" ] || fail "README.md has no recipe $1"
	cat "$T/recipe.$1"
}

# recipe_file NAME: the file a recipe writes (its here-document's body).
recipe_file() {
	recipe "$1" | awk '/<<.EOF.$/ { on = 1; next } /^EOF$/ { on = 0 } on'
}

# host HOST: set up host HOST; $T/bin/on-HOST CMD... runs CMD there, and
# $T/bin/qemu-HOST is QEMU started there (QEMU=$T/bin/qemu-HOST
# start_guest ...).  /run/NAME.qmp on the host is QEMU NAME's QMP socket.
host() {
	mkdir -p "$T/hosts/$1/run" "$T/migdir" "$T/bin" /tmp/migdir
	cat >"$T/bin/on-$1" <<-ON
	#!/bin/sh
	cd "$T/hosts/$1"
	PATH="$T/bin:$BIN:\$PATH" exec unshare -m sh -c \
	    'mount --bind "\$0" /run && mount --bind "\$1" /tmp/migdir &&
	     shift && exec "\$@"' "$T/hosts/$1/run" "$T/migdir" "\$@"
	ON
	printf '#!/bin/sh\nexec "%s" "%s" "$@"\n' "$T/bin/on-$1" "$QEMU" \
		>"$T/bin/qemu-$1"
	# ssh HOST CMD: CMD on that host, as ssh would run it.
	printf '#!/bin/sh\nh=$1; shift; exec "%s/bin/on-$h" sh -c "$*"\n' "$T" \
		>"$T/bin/ssh"
	chmod +x "$T/bin/on-$1" "$T/bin/qemu-$1" "$T/bin/ssh"
}

# host_qmp HOST NAME: /run/NAME.qmp on HOST is QEMU NAME's QMP socket.
host_qmp() { ln -sf "$T/$2.qmp" "$T/hosts/$1/run/$2.qmp"; }

# on_host VAR HOST FILE [ARGS...]: sh -e FILE on HOST in the background,
# in a process group of its own (stopped as a whole at the end), output in
# $T/HOST.out and $T/HOST.err; its PID in VAR.
on_host() {
	_var=$1 _h=$2; shift 2
	setsid "$T/bin/on-$_h" sh -e "$@" >"$T/$_h.out" 2>"$T/$_h.err" </dev/null &
	eval "$_var=$!"
	GROUPS_RUN="${GROUPS_RUN:-} $!"
}

# stop_groups: every process group on_host started: TERM, up to 5 s for
# the group to empty, then KILL.
stop_groups() {
	for _g in ${GROUPS_RUN:-}; do kill -TERM "-$_g" 2>/dev/null; done
	for _g in ${GROUPS_RUN:-}; do
		until_ok 5 "group $_g to stop" _group_gone "$_g" ||
			kill -KILL "-$_g" 2>/dev/null
		wait "$_g" 2>/dev/null
	done
	GROUPS_RUN=""
}
_group_gone() { ! pgrep -g "$1" >/dev/null; }
trap '_rc=$?; stop_groups; (exit $_rc); cleanup' EXIT
