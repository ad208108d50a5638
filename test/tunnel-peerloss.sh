#!/bin/sh
# The peer stream lost in the middle of transfers: every local connection
# of the session is closed at once (QEMU sees the failure), the connecting
# tunnel exits 1 and removes its sockets; a listening tunnel ends only
# that session and goes on serving others.
. "$(dirname "$0")/lib.sh"
. "$TOP/test/tunnel/common.sh"

randfile "$T/data" 65536	# far more than gets through before the kill

# A target that reads nothing until its gate file exists: connections
# stay open and full.
cat >"$T/hold.sh" <<EOF
i=0
while [ ! -e "$T/never" ] && [ \$i -lt 600 ]; do sleep 0.05; i=\$((i + 1)); done
exec cat >/dev/null
EOF
spawn_log t_hold socat -t 30 UNIX-LISTEN:"$T/t.hold",fork SYSTEM:"sh $T/hold.sh"
spawn_log t_sink socat -t 30 -u UNIX-LISTEN:"$T/t.sink",fork OPEN:/dev/null
wait_sock "$T/t.hold"
wait_sock "$T/t.sink"

# --- the connecting side loses its peer (kill -9 of the peer's session)
tun B -R hold="unix:$T/t.hold" -R sink="unix:$T/t.sink" "listen:unix:$T/peer"
wait_sock "$T/peer"
tun A -L "unix:$T/l.hold=hold" -L "unix:$T/l.sink=sink" "unix:$T/peer"
wait_sock "$T/l.hold"
socat -t 30 - UNIX-CONNECT:"$T/l.hold" <"$T/data" >/dev/null 2>"$T/c1.log" &
track $!; c1=$!
socat -t 30 -u OPEN:/dev/zero UNIX-CONNECT:"$T/l.sink" 2>"$T/c2.log" &
track $!; c2=$!
# /dev/zero never ends: the sink channel is mid-transfer when B dies.
rchar() { awk '/^rchar/ { print $2 }' "/proc/$1/io" 2>/dev/null || echo 0; }
pushed() { [ "$(rchar "$1")" -ge "$2" ]; }
wait_for 20 "data on both channels" pushed "$c2" 33554432
session_up() { sess=$(ps -o pid= --ppid "$pid_B" | tr -d ' '); [ -n "$sess" ]; }
wait_for 10 "B's session process" session_up
kill -KILL "$sess"
expect_status "tunnel A after losing its peer" "$pid_A" 1 5
wait_exit "$c1" 5
wait_exit "$c2" 5
note "peer killed: A exited 1 and both local connections ended within 5 s"
grep -qE "closed the stream|lost: (read|write)" "$T/A.log" || fail "A did not say that the peer was lost"
[ -e "$T/l.hold" ] && fail "A left its -L socket behind"
# The listening tunnel lost only that session.
pid_gone "$pid_B" && fail "the listening tunnel died with its session"

# --- the listening side loses a peer; a second peer is not affected
tun A2 -L "unix:$T/l2.sink=sink" "unix:$T/peer"
tun A3 -L "unix:$T/l3.hold=hold" "unix:$T/peer"
wait_sock "$T/l2.sink"
wait_sock "$T/l3.hold"
socat -t 30 - UNIX-CONNECT:"$T/l3.hold" <"$T/data" >/dev/null 2>"$T/c3.log" &
track $!; c3=$!
wait_for 20 "data on A3's channel" pushed "$c3" 524288
kill -KILL "$pid_A3"
wait_exit "$pid_A3" 5
# B's session for A3 closes its target connection: the target's socat sees
# EOF and ends (hold.sh is still waiting, so socat ends by its -t).
b_lost() { grep -qE "closed the stream|lost: read" "$T/B.log"; }
wait_for 10 "B to log the lost session" b_lost
# The other session still carries data.
randfile "$T/small" 4096
socat -t 10 -u OPEN:"$T/small" UNIX-CONNECT:"$T/l2.sink" 2>"$T/c4.log" &
track $!
expect_status "a transfer through the surviving session" $! 0 10
pid_gone "$pid_A2" && fail "the other peer's tunnel died"
kill -TERM "$pid_A2"
expect_status "tunnel A2 after SIGTERM" "$pid_A2" 0 10
kill -TERM "$pid_B"
expect_status "tunnel B after SIGTERM" "$pid_B" 0 10
[ -e "$T/peer" ] && fail "B left its socket behind"
exit 0
