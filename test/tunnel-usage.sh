#!/bin/sh
# Bad input: one clear line on stderr and exit 2, nothing left behind;
# --help; TCP without TLS needs --insecure; local sockets are never made
# over other files; binary frames are never written to a terminal;
# SIGTERM stops a tunnel cleanly (exit 0, sockets gone); scripts/mkcerts.sh
# explains itself.
. "$(dirname "$0")/lib.sh"
. "$TOP/test/tunnel/common.sh"
require script

# bad WHY ARGS...: exit 2, one line on stderr mentioning WHY.
bad() {
	why=$1; shift
	expect_exit 2 "$TUN" "$@"
	[ "$(wc -l <"$T/err")" = 1 ] || { cat "$T/err"; fail "$*: not one line on stderr"; }
	grep -qF -- "$why" "$T/err" || { cat "$T/err"; fail "$*: stderr lacks '$why'"; }
	n=$((n + 1))
}
n=0

expect_exit 0 "$TUN" --help
grep -q '^usage: mig-tunnel' "$T/out" || fail "--help prints no usage"
grep -q 'Exit:' "$T/out" || fail "--help does not give exit statuses"

bad "--insecure" -L "unix:$T/l=x" tcp:127.0.0.1:9
bad "--insecure" -R "x=unix:$T/t" listen:tcp:127.0.0.1:9
bad "expected unix:PATH=NAME" -L "unix:$T/l"
bad "NAME must be" -L "unix:$T/l=a b"
bad "NAME must be" -L "unix:$T/l="
bad "tcp: is not allowed here" -L "tcp:127.0.0.1:9=x"
bad "that path is given twice" -L "unix:$T/l=a" -L "unix:$T/l=b"
bad "expected NAME=unix:PATH" -R "x"
bad "NAME must be" -R "=unix:$T/t"
bad "expected unix:PATH" -R "x=$T/t"
bad "that NAME is given twice" -R "x=unix:$T/t" -R "x=unix:$T/u"
bad "expected unix:PATH" -R "x=unix:$T/t" nonsense
bad "'-' is not allowed here" listen:-
bad "one PEER at most" - -
bad "needs all of --tls-cert" --tls-cert "$T/c" -
bad "need --tls-cert" --tls-peer-name x -
bad "need --tls-cert" --tls-client -
bad "--keepalive" --keepalive -1 -
bad "--keepalive" --keepalive soon -
bad "--handshake-timeout" --handshake-timeout 0 -
bad "--max-sessions" --max-sessions 0 "listen:unix:$T/p"
bad "--max-per-source" --max-per-source 1025 "listen:unix:$T/p"
bad "are for a listening PEER" --max-per-source 2 "unix:$T/p"
bad "longer than 107" -L "unix:$T/$(printf '%0200d' 0)=x"
bad "unknown option '--no-such-option'" --no-such-option
bad "unknown option '-Z'" -Z -
bad "-L needs a value" -L
bad "--keepalive needs a value" --keepalive
bad "--insecure=yes takes no value" --insecure=yes -
note "$n kinds of bad input refused with exit 2"

# A stdio peer on a terminal (script(1) gives it one): refused before any
# socket is made, one line, exit 2, not a byte of the stream on it.
timeout 30 script -qec "$TUN -L unix:$T/tty=x" "$T/typescript" \
	</dev/null >"$T/tty.out" 2>&1
rc=$?
[ $rc = 2 ] || { cat "$T/typescript"; fail "a tunnel on a terminal exited $rc, expected 2"; }
sed -n '/^Script started/,/^Script done/p' "$T/typescript" | grep -v '^Script ' |
	tr -d '\r' | grep -v '^$' >"$T/tty.lines"
[ "$(cat "$T/tty.lines")" = "mig-tunnel: error: standard output is a terminal: the peer stream is binary (give a PEER, or a pipe or socket as stdout)" ] ||
	{ cat -A "$T/typescript"; fail "a tunnel on a terminal said something else"; }
[ -e "$T/tty" ] && fail "a tunnel refused on a terminal left its -L socket"
# Not a terminal: the same tunnel says hello down the pipe.
timeout 30 "$TUN" -L "unix:$T/tty=x" </dev/null 2>"$T/pipe.err" | cat >"$T/pipe.out"
grep -qa MIGTUNNL "$T/pipe.out" || fail "a tunnel on a pipe did not say hello"

# scripts/mkcerts.sh: --help is its own (not mkdir's), an unknown option
# is refused with the usage, nothing created.
expect_exit 0 sh "$TOP/scripts/mkcerts.sh" --help
grep -q '^usage: mkcerts.sh DIR' "$T/out" || fail "mkcerts.sh --help: $(cat "$T/out")"
(cd "$T" && expect_exit 2 sh "$TOP/scripts/mkcerts.sh" --bogus) || exit 1
grep -q "unknown option '--bogus'" "$T/err" && grep -q '^usage: mkcerts.sh' "$T/err" ||
	fail "mkcerts.sh --bogus: $(cat "$T/err")"
[ -e "$T/--bogus" ] && fail "mkcerts.sh made a directory of its option"
expect_exit 2 sh "$TOP/scripts/mkcerts.sh"
expect_exit 2 sh "$TOP/scripts/mkcerts.sh" "$T/a" "$T/b"

# Local sockets: never over another file, and the refusal is bad input.
echo precious >"$T/file"
bad "refusing to replace non-socket" -L "unix:$T/file=x" "unix:$T/nowhere"
[ "$(cat "$T/file")" = precious ] || fail "a -L replaced a regular file"
bad "refusing to replace non-socket" "listen:unix:$T/file"
[ "$(cat "$T/file")" = precious ] || fail "listen: replaced a regular file"
# A live socket is not stolen either.
spawn_log other socat UNIX-LISTEN:"$T/live",fork OPEN:/dev/null
wait_sock "$T/live"
bad "another process listens on" -L "unix:$T/live=x" "unix:$T/nowhere"
# -L sockets are made before the peer is reached; a peer that is not
# there is a runtime failure (1), and the -L socket is removed.
expect_exit 1 "$TUN" -L "unix:$T/l=x" "unix:$T/nowhere"
grep -q "cannot connect to unix:$T/nowhere" "$T/err" || fail "no reason for exit 1"
[ -e "$T/l" ] && fail "the -L socket stayed after exit 1"

# --insecure lets TCP through; SIGTERM ends it cleanly before any peer.
port=$(free_port)
tun L --insecure -R "x=unix:$T/t" "listen:tcp:127.0.0.1:$port"
wait_tcp "$port"
kill -TERM "$pid_L"
expect_status "a listening TCP tunnel after SIGTERM" "$pid_L" 0 10
# A stdio tunnel whose peer never says hello: SIGTERM, exit 0, socket gone.
mkfifo "$T/in"
exec 3<>"$T/in"
"$TUN" -L "unix:$T/l=x" <"$T/in" >/dev/null 2>"$T/S.log" &
track $!
pid_S=$!
wait_sock "$T/l"
kill -INT "$pid_S"
expect_status "a stdio tunnel after SIGINT" "$pid_S" 0 10
[ -e "$T/l" ] && fail "SIGINT left the -L socket behind"
# SIGINT while connecting: a peer whose listen backlog is full (socat
# stopped, one tunnel waiting in the backlog) keeps the next tunnel
# waiting to connect; SIGINT ends that wait at once (exit 0).
spawn_log full socat UNIX-LISTEN:"$T/full",backlog=0 OPEN:/dev/null
wait_sock "$T/full"
kill -STOP "$pid_full"
tun F1 --verbose -R "x=unix:$T/t" "unix:$T/full"
wait_for 10 "the first tunnel to fill the backlog" logged F1 "connected to"
tun F2 --verbose -R "x=unix:$T/t" "unix:$T/full"
wait_for 10 "the second tunnel to start connecting" logged F2 "connecting to"
kill -INT "$pid_F2"
expect_status "a connecting tunnel after SIGINT" "$pid_F2" 0 5
logged F2 "stopped while connecting" || { cat "$T/F2.log"; fail "no word on the interrupted connect"; }
kill -KILL "$pid_full" "$pid_F1"
exit 0
