#!/bin/sh
# Hostile bytes at listening tunnels, one plaintext and one TLS, from
# 127.0.0.2: random bytes, huge lengths (a HELLO claiming 4 GiB, DATA
# claiming 4 GiB, TLS records claiming 64 KiB), garbage TLS ClientHellos.
# Each such session ends with a reason, none crashes; meanwhile a peer
# connected to each from 127.0.0.1 goes on moving data, a new peer is
# served afterwards, and the listeners' memory stays bounded.  Every
# hostile connection gets a session here (--max-per-source 128).
. "$(dirname "$0")/lib.sh"
. "$TOP/test/tunnel/common.sh"
require openssl
sh "$TOP/scripts/mkcerts.sh" "$T/c" >"$T/mkcerts.log" 2>&1 ||
	{ cat "$T/mkcerts.log"; fail "mkcerts.sh failed"; }
C=$T/c
TLS_B="--tls-cert $C/server.pem --tls-key $C/server.key --tls-ca $C/ca.pem"
TLS_A="--tls-cert $C/client.pem --tls-key $C/client.key --tls-ca $C/ca.pem"

spawn_log t_sum socat -t 30 UNIX-LISTEN:"$T/t.sum",fork SYSTEM:sha256sum
wait_sock "$T/t.sum"
pp=$(free_port)
tun P -v --insecure --max-per-source 128 -R sum="unix:$T/t.sum" "listen:tcp:127.0.0.1:$pp"
wait_tcp "$pp"
sp=$(free_port)
# shellcheck disable=SC2086
tun S -v $TLS_B --max-per-source 128 -R sum="unix:$T/t.sum" "listen:tcp:127.0.0.1:$sp"
wait_tcp "$sp"

# The well-behaved peers, connected before the flood.
tun AP --insecure -L "unix:$T/p.sum=sum" "tcp:127.0.0.1:$pp"
# shellcheck disable=SC2086
tun AS $TLS_A -L "unix:$T/s.sum=sum" "tcp:127.0.0.1:$sp"
wait_sock "$T/p.sum"
wait_sock "$T/s.sum"
# A stream through each that spans the flood: 8 MiB.
randfile "$T/big" 8192
feed() {
	# Half, then the rest once the flood is over: the two overlap.
	head -c 4194304 "$T/big"
	wait_for 60 "the flood to end" test -e "$T/flood.done" >&2
	tail -c +4194305 "$T/big"
}
for side in p s; do
	feed $side | socat -t 30 - UNIX-CONNECT:"$T/$side.sum" \
	    >"$T/$side.out" 2>"$T/$side.c.log" &
	track $!
	eval "cli_$side=\$!"
done

# The hostile inputs.
be32() { printf "\\$(printf %03o $(($1 >> 24 & 255)))\\$(printf %03o $(($1 >> 16 & 255)))\\$(printf %03o $(($1 >> 8 & 255)))\\$(printf %03o $(($1 & 255)))"; }
hello() { printf '\001\000\000\000\000\000\000\020MIGTUNNL\000\001\000\001'; be32 262144; }
{ printf '\001\000\000\000'; be32 4294967295; head -c 64 /dev/urandom; } >"$T/h.hello4g"
{ hello; printf '\005\000\000\001'; be32 4294967295; head -c 4096 /dev/urandom; } >"$T/h.data4g"
{ hello; printf '\002\000\000\001'; be32 4294967295; head -c 4096 /dev/urandom; } >"$T/h.open4g"
{ printf '\026\003\001\377\377'; head -c 4096 /dev/urandom; } >"$T/h.tls64k"
{ printf '\026\003\001\001\000\001\000\000\374\003\003'; head -c 252 /dev/urandom; } >"$T/h.tlshello"
{ printf '\026\003\003\000\005\001\377\377\377\377'; } >"$T/h.tlsshort"
i=0
while [ $i -lt 12 ]; do
	head -c 2048 /dev/urandom >"$T/h.random"
	for f in random hello4g data4g open4g tls64k tlshello tlsshort; do
		for port in "$pp" "$sp"; do
			socat -u OPEN:"$T/h.$f" \
			    TCP:127.0.0.1:"$port",bind=127.0.0.2 2>/dev/null
		done
	done
	i=$((i + 1))
done
touch "$T/flood.done"
note "$((i * 7 * 2)) hostile connections made"

rss() {
	ps -o rss= -p "$1" --ppid "$1" | awk '{ s += $1 } END { print s }'
}
memp=$(rss "$pid_P")
mems=$(rss "$pid_S")

expect_status "the plaintext peer's stream" "$cli_p" 0 60
expect_status "the TLS peer's stream" "$cli_s" 0 60
want=$(sha256sum <"$T/big")
[ "$(cat "$T/p.out")" = "$want" ] || fail "the plaintext peer's data was damaged"
[ "$(cat "$T/s.out")" = "$want" ] || fail "the TLS peer's data was damaged"
note "both peers' 8 MiB went through during the flood"

# New peers are served afterwards.
tun BP --insecure -L "unix:$T/p2.sum=sum" "tcp:127.0.0.1:$pp"
# shellcheck disable=SC2086
tun BS $TLS_A -L "unix:$T/s2.sum=sum" "tcp:127.0.0.1:$sp"
wait_sock "$T/p2.sum"
wait_sock "$T/s2.sum"
for side in p2 s2; do
	echo hello | socat -t 10 - UNIX-CONNECT:"$T/$side.sum" >"$T/$side.out" \
	    2>"$T/$side.c.log" &
	track $!
	expect_status "a new peer's client ($side)" $! 0 20
	[ "$(cat "$T/$side.out")" = "$(echo hello | sha256sum)" ] ||
		fail "a new peer's data did not get through ($side)"
done

# Every hostile session ended with a reason; none crashed.
grep -q 'protocol error' "$T/P.log" || fail "the plaintext listener gave no reason"
grep -q 'TLS' "$T/S.log" || fail "the TLS listener gave no reason"
all_ended() { [ "$(grep -c 'ended with status' "$T/$1.log")" -ge 84 ]; }
wait_for 20 "every hostile plaintext session to end" all_ended P
wait_for 20 "every hostile TLS session to end" all_ended S
! grep -h 'killed by signal' "$T/P.log" "$T/S.log" || fail "a session crashed"
! grep -hE 'ended with status ([^013]|[0-9][0-9])' "$T/P.log" "$T/S.log" ||
	fail "a session ended with a status mig-tunnel(1) does not give"
! grep -hE 'error: *$' "$T/P.log" "$T/S.log" || fail "a session ended saying nothing"
note "memory with the flood done: plaintext ${memp} KiB, TLS ${mems} KiB"
[ "$memp" -lt 65536 ] && [ "$mems" -lt 65536 ] ||
	fail "a listener and its sessions use more than 64 MiB"

kill -TERM "$pid_P" "$pid_S"
expect_status "the plaintext listener after SIGTERM" "$pid_P" 0 10
expect_status "the TLS listener after SIGTERM" "$pid_S" 0 10
exit 0
