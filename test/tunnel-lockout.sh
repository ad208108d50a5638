#!/bin/sh
# One source cannot lock a listening TLS tunnel out.  From 127.0.0.2, 8
# idle connections and 8 TLS ClientHellos that stop half way (neither
# needs a certificate): only --max-per-source (4) get a session, the rest
# are closed unheard, and a peer from 127.0.0.1 is served while those 4
# still hold their slots.  They are dropped at --handshake-timeout, and
# the listener's memory stays bounded throughout.
. "$(dirname "$0")/lib.sh"
. "$TOP/test/tunnel/common.sh"
require openssl
sh "$TOP/scripts/mkcerts.sh" "$T/c" >"$T/mkcerts.log" 2>&1 ||
	{ cat "$T/mkcerts.log"; fail "mkcerts.sh failed"; }
C=$T/c
HS=15	# the handshake timeout: the good peer is done long before

spawn_log t_sum socat -t 30 UNIX-LISTEN:"$T/t.sum",fork SYSTEM:sha256sum
wait_sock "$T/t.sum"
port=$(free_port)
tun B --tls-cert "$C/server.pem" --tls-key "$C/server.key" \
    --tls-ca "$C/ca.pem" -R sum="unix:$T/t.sum" -v \
    --max-sessions 8 --max-per-source 4 --handshake-timeout "$HS" \
    "listen:tcp:127.0.0.1:$port"
wait_tcp "$port"

# Connections from 127.0.0.2 the listener still holds (ours, established).
held() {
	ss -Htn state established "( src 127.0.0.2 and dport = :$port )" |
	    wc -l
}
# Memory of the listener and its sessions, in KiB.
rss() {
	ps -o rss= -p "$pid_B" --ppid "$pid_B" | awk '{ s += $1 } END { print s }'
}
turned_away() { [ "$(grep -c 'closed unheard' "$T/B.log")" -ge 1 ]; }

# A TLS record header for a 512-byte ClientHello, and only its start.
printf '\026\003\001\002\000\001\000\001\374\003\003' >"$T/half"
i=0
while [ $i -lt 8 ]; do
	spawn_log idle$i socat -u OPEN:/dev/null,ignoreeof \
	    TCP:127.0.0.1:"$port",bind=127.0.0.2
	spawn_log half$i socat -u OPEN:"$T/half",ignoreeof \
	    TCP:127.0.0.1:"$port",bind=127.0.0.2
	i=$((i + 1))
done
sessions_of_b() { [ "$(ps -o pid= --ppid "$pid_B" | wc -l)" -ge 4 ]; }
wait_for 20 "4 sessions for 127.0.0.2" sessions_of_b
wait_for 20 "the rest closed unheard" turned_away
settled() { [ "$(held)" -le 4 ]; }
wait_for 20 "127.0.0.2 to hold 4 connections at most" settled
[ "$(ps -o pid= --ppid "$pid_B" | wc -l)" -le 4 ] ||
	fail "127.0.0.2 got more than 4 sessions"
note "127.0.0.2: $(held) connections held, the rest closed unheard"
mem1=$(rss)

# The good peer, from 127.0.0.1, while 127.0.0.2 holds its 4.
randfile "$T/up" 4096
tun A --tls-cert "$C/client.pem" --tls-key "$C/client.key" \
    --tls-ca "$C/ca.pem" --tls-peer-name mig-server -v \
    -L "unix:$T/l.sum=sum" "tcp:127.0.0.1:$port"
wait_sock "$T/l.sum"
socat -t 10 - UNIX-CONNECT:"$T/l.sum" <"$T/up" >"$T/sum.out" 2>"$T/c.log" &
track $!
expect_status "the good peer's client" $! 0 10
[ "$(cat "$T/sum.out")" = "$(sha256sum <"$T/up")" ] ||
	fail "the good peer's data did not get through"
still=$(held)
[ "$still" -ge 1 ] ||
	fail "127.0.0.2's sessions ended before the good peer was served"
note "the good peer was served while 127.0.0.2 held $still sessions"

# The handshake deadline frees the slots: nothing of 127.0.0.2 is left.
none_held() { [ "$(held)" = 0 ]; }
wait_for $((HS + 15)) "the handshake timeout to drop 127.0.0.2" none_held
logged B "did not complete the TLS handshake within $HS s" ||
	fail "no word on the handshake timeout"
mem2=$(rss)
note "listener and sessions: ${mem1} KiB with 127.0.0.2's 4 sessions and the good peer's, ${mem2} KiB after"
[ "$mem1" -lt 32768 ] || fail "the listener and its sessions use $mem1 KiB"

kill -TERM "$pid_B"
expect_status "the listener after SIGTERM" "$pid_B" 0 10
expect_status "the good peer after the goodbye" "$pid_A" 0 10
exit 0
