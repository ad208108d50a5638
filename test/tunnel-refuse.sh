#!/bin/sh
# A name the peer does not deliver, or whose target is not there, is
# refused: the local connection is closed at once, both sides say why,
# and the session goes on carrying the channels that work.
. "$(dirname "$0")/lib.sh"
. "$TOP/test/tunnel/common.sh"

randfile "$T/data" 1024
spawn_log target socat -t 10 UNIX-LISTEN:"$T/t.good",fork SYSTEM:sha256sum
wait_sock "$T/t.good"
tun B -R good="unix:$T/t.good" -R gone="unix:$T/no-such-socket" \
    "listen:unix:$T/peer"
wait_sock "$T/peer"
tun A -L "unix:$T/l.none=nosuch" -L "unix:$T/l.gone=gone" \
    -L "unix:$T/l.good=good" "unix:$T/peer"
for l in none gone good; do wait_sock "$T/l.$l"; done

# try NAME: a client that sends data and keeps what comes back.  A
# refused one is cut off (EPIPE while writing, or EOF): any status, but
# at once.
try() {
	socat -t 10 - UNIX-CONNECT:"$T/l.$1" <"$T/data" >"$T/$1.out" 2>"$T/c_$1.log" &
	track $!
	wait_exit $! 5
}

for round in 1 2; do
	try none
	[ -s "$T/none.out" ] && fail "refused channel 'nosuch' gave data"
	try gone
	[ -s "$T/gone.out" ] && fail "refused channel 'gone' gave data"
	try good
	[ "$EXIT_STATUS" = 0 ] || fail "round $round: the good channel's client exited $EXIT_STATUS"
	[ "$(cat "$T/good.out")" = "$(sha256sum <"$T/data")" ] ||
		fail "round $round: the good channel after refusals is wrong"
done
logged A "channel nosuch #0 refused: the peer delivers no channel of that name" ||
	fail "A did not say why 'nosuch' was refused"
logged B "asked for channel 'nosuch', which no -R delivers; refused" ||
	fail "B did not log the unknown name"
logged A "refused: the peer cannot connect to its target" ||
	fail "A did not say why 'gone' was refused"
logged B "cannot connect to unix:$T/no-such-socket" ||
	fail "B did not log the missing target"
pid_gone "$pid_A" && fail "A exited"
pid_gone "$pid_B" && fail "B exited"
note "refusals: connection closed, reason logged on both sides, session intact"
exit 0
