#!/bin/sh
# One listening tunnel (TCP on 127.0.0.1) serves two peers at once, each
# its own session: two migrations over one port.  Each target holds its
# connection until both have arrived, so the sessions overlap for sure.
# SIGTERM to the listener says goodbye to both: they exit 0.
. "$(dirname "$0")/lib.sh"
. "$TOP/test/tunnel/common.sh"

randfile "$T/d1" 16384
randfile "$T/d2" 12288
barrier_target "$T/t.sum"
port=$(free_port)
tun B --insecure -R sum="unix:$T/t.sum" "listen:tcp:127.0.0.1:$port"
wait_tcp "$port"
tun A1 --insecure -L "unix:$T/l1=sum" "tcp:127.0.0.1:$port"
tun A2 --insecure -L "unix:$T/l2=sum" "tcp:127.0.0.1:$port"
wait_sock "$T/l1"
wait_sock "$T/l2"
socat -t 30 - UNIX-CONNECT:"$T/l1" <"$T/d1" >"$T/o1" 2>"$T/c1.log" &
track $!; c1=$!
socat -t 30 - UNIX-CONNECT:"$T/l2" <"$T/d2" >"$T/o2" 2>"$T/c2.log" &
track $!; c2=$!
both_in() { [ "$(ls "$T/conn" | wc -l)" -ge 2 ]; }
wait_for 20 "both peers' channels at the target" both_in
sessions() { [ "$(ps -o pid= --ppid "$pid_B" | wc -l)" -ge 2 ]; }
sessions || fail "the listener does not run two sessions"
echo go >&4
echo go >&4
expect_status "client through peer 1" "$c1" 0 30
expect_status "client through peer 2" "$c2" 0 30
[ "$(cat "$T/o1")" = "$(sha256sum <"$T/d1")" ] || fail "peer 1: wrong digest"
[ "$(cat "$T/o2")" = "$(sha256sum <"$T/d2")" ] || fail "peer 2: wrong digest"
note "two peers served at once on one port"

kill -TERM "$pid_B"
expect_status "the listener after SIGTERM" "$pid_B" 0 10
expect_status "peer 1 after the listener's goodbye" "$pid_A1" 0 10
expect_status "peer 2 after the listener's goodbye" "$pid_A2" 0 10
[ -e "$T/l1" ] || [ -e "$T/l2" ] && fail "a peer left its -L socket behind"
! grep -E 'error|warning' "$T/A1.log" "$T/A2.log" "$T/B.log" ||
	fail "a tunnel logged trouble"
exit 0
