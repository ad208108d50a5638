#!/bin/sh
# mig-tunnel over mutual TLS (certificates made by scripts/mkcerts.sh):
# a good pair carries data both ways, over TCP and behind socat on stdio;
# a wrong CA, no certificate, an expired one or the wrong peer name are
# refused with exit 3 and a reason, and the listening tunnel goes on
# serving; a plaintext peer is refused too.
. "$(dirname "$0")/lib.sh"
. "$TOP/test/tunnel/common.sh"
require openssl
[ -f "$TOP/scripts/mkcerts.sh" ] || skip "needs scripts/mkcerts.sh"
sh "$TOP/scripts/mkcerts.sh" "$T/c" >"$T/mkcerts.log" 2>&1 ||
	{ cat "$T/mkcerts.log"; fail "mkcerts.sh failed"; }
C=$T/c

randfile "$T/up" 16384
randfile "$T/down" 12288
spawn_log t_sum socat -t 30 UNIX-LISTEN:"$T/t.sum",fork SYSTEM:sha256sum
spawn_log t_both socat -t 30 UNIX-LISTEN:"$T/t.both",fork \
    OPEN:"$T/down"!!OPEN:"$T/both.in",creat,trunc
wait_sock "$T/t.sum"
wait_sock "$T/t.both"

port=$(free_port)
tun B --tls-cert "$C/server.pem" --tls-key "$C/server.key" \
    --tls-ca "$C/ca.pem" --tls-peer-name mig-client \
    -R sum="unix:$T/t.sum" -R both="unix:$T/t.both" -v \
    "listen:tcp:127.0.0.1:$port"
wait_tcp "$port"

# check J: both directions at once on one channel, and a digest.
check() {
	send_files cli "$T/$1.both" "$T/up" "$T/$1.down"
	expect_status "$1: client" "$pid_cli" 0 30
	same "$T/up" "$T/both.in" "$1: up"
	same "$T/down" "$T/$1.down" "$1: down"
	socat -t 10 - UNIX-CONNECT:"$T/$1.sum" <"$T/up" >"$T/$1.sum.out" 2>"$T/$1.c.log" &
	track $!
	expect_status "$1: digest client" $! 0 10
	[ "$(cat "$T/$1.sum.out")" = "$(sha256sum <"$T/up")" ] || fail "$1: wrong digest"
}

# --- a good pair, EC keys, peer names checked both ways
tun A --tls-cert "$C/client.pem" --tls-key "$C/client.key" \
    --tls-ca "$C/ca.pem" --tls-peer-name mig-server -v \
    -L "unix:$T/ec.both=both" -L "unix:$T/ec.sum=sum" "tcp:127.0.0.1:$port"
wait_sock "$T/ec.both"
check ec
logged A "TLS ECDHE-ECDSA-" || fail "A does not log the TLS suite"
kill -TERM "$pid_A"
expect_status "the TLS client after SIGTERM" "$pid_A" 0 10
note "TLS, EC certificates: 28 MiB both ways and a digest"

# --- RSA client certificate; B's chain from an intermediate (P-384)
tun B2 --tls-cert "$C/server384.pem" --tls-key "$C/server384.key" \
    --tls-ca "$C/ca.pem" -R sum="unix:$T/t.sum" -R both="unix:$T/t.both" \
    "listen:unix:$T/peer2"
wait_sock "$T/peer2"
tun A --tls-cert "$C/client-rsa.pem" --tls-key "$C/client-rsa.key" \
    --tls-ca "$C/ca.pem" -L "unix:$T/rsa.both=both" \
    -L "unix:$T/rsa.sum=sum" "unix:$T/peer2"
wait_sock "$T/rsa.both"
check rsa
kill -TERM "$pid_A"
expect_status "the RSA TLS client after SIGTERM" "$pid_A" 0 10
note "TLS, RSA client and a chained P-384 server: ok"

# --- TLS on stdio behind socat, both roles
port3=$(free_port)
spawn_log relay socat TCP-LISTEN:"$port3",bind=127.0.0.1,reuseaddr,fork \
    EXEC:"'$TUN --tls-cert $C/server.pem --tls-key $C/server.key --tls-ca $C/ca.pem -R sum=unix:$T/t.sum -R both=unix:$T/t.both'"
wait_tcp "$port3"
spawn_log relay2 socat EXEC:"'$TUN --tls-client --tls-cert $C/client.pem --tls-key $C/client.key --tls-ca $C/ca.pem -L unix:$T/io.both=both -L unix:$T/io.sum=sum -'" \
    TCP:127.0.0.1:"$port3"
wait_sock "$T/io.both"
check io
note "TLS over stdio (socat EXEC on both ends): ok"

# --- OpenSSL on the other end: socat terminates the client's TLS and hands
# the plaintext stream to a tunnel without TLS, so every record the client
# seals is opened by OpenSSL and every record it opens was sealed there.
for suite in ECDHE-ECDSA-AES128-GCM-SHA256 ECDHE-ECDSA-CHACHA20-POLY1305; do
	port4=$(free_port)
	rm -f "$T/plain.peer"
	tun O -R sum="unix:$T/t.sum" -R both="unix:$T/t.both" \
	    "listen:unix:$T/plain.peer"
	wait_sock "$T/plain.peer"
	spawn_log ossl socat -t 30 \
	    OPENSSL-LISTEN:"$port4",bind=127.0.0.1,reuseaddr,cert="$C/server.pem",key="$C/server.key",cafile="$C/ca.pem",verify=1,cipher="$suite" \
	    UNIX-CONNECT:"$T/plain.peer"
	wait_tcp "$port4"
	tun A --tls-cert "$C/client.pem" --tls-key "$C/client.key" \
	    --tls-ca "$C/ca.pem" --tls-peer-name mig-server -v \
	    -L "unix:$T/os.both=both" -L "unix:$T/os.sum=sum" \
	    "tcp:127.0.0.1:$port4"
	wait_sock "$T/os.both"
	check os
	logged A "TLS $suite" || fail "OpenSSL did not agree on $suite"
	kill -TERM "$pid_A"
	expect_status "the client of OpenSSL after SIGTERM" "$pid_A" 0 10
	stop_pid "$pid_ossl"
	stop_pid "$pid_O"
	rm -f "$T/os.both.out" "$T/os.down" "$T/both.in"
	note "TLS with OpenSSL ($suite) as the peer's end: ok"
done

# refused WHO WHY-A WHY-B ARGS...: a client that B refuses or that refuses
# B exits 3 at once, A saying WHY-A and B's session WHY-B.
refused() {
	who=$1 why_a=$2 why_b=$3; shift 3
	: >"$T/B.log.mark"
	lines=$(wc -l <"$T/B.log")
	tun R "$@" -L "unix:$T/r.sum=sum" "tcp:127.0.0.1:$port"
	expect_status "$who" "$pid_R" 3 10
	logged R "$why_a" || { cat "$T/R.log"; fail "$who: A does not say '$why_a'"; }
	b_said() { tail -n +"$((lines + 1))" "$T/B.log" | grep -qF -- "$why_b"; }
	wait_for 10 "B to log '$why_b' ($who)" b_said
	[ -e "$T/r.sum" ] && fail "$who: -L socket left behind"
	pid_gone "$pid_B" && fail "the listening tunnel died after $who"
	n=$((n + 1))
}
n=0
refused "a client of another CA" "peer refused our certificate" \
    "peer certificate not trusted by the CA" \
    --tls-cert "$C/rogue.pem" --tls-key "$C/rogue.key" --tls-ca "$C/ca.pem"
refused "a client trusting another CA" "peer certificate not trusted by the CA" \
    "peer refused our certificate" \
    --tls-cert "$C/client.pem" --tls-key "$C/client.key" --tls-ca "$C/other-ca.pem"
refused "an expired client" "peer refused our certificate" \
    "peer certificate expired" \
    --tls-cert "$C/expired.pem" --tls-key "$C/expired.key" --tls-ca "$C/ca.pem"
refused "a client wanting another peer name" "peer name mismatch" \
    "peer refused our certificate" \
    --tls-cert "$C/client.pem" --tls-key "$C/client.key" --tls-ca "$C/ca.pem" \
    --tls-peer-name mig-elsewhere
refused "a client B does not know by name" "peer refused our certificate" \
    "peer name mismatch" \
    --tls-cert "$C/server.pem" --tls-key "$C/server.key" --tls-ca "$C/ca.pem"
# No certificate at all (openssl s_client without one).
lines=$(wc -l <"$T/B.log")
openssl s_client -connect "127.0.0.1:$port" -CAfile "$C/ca.pem" </dev/null \
    >"$T/s_client.out" 2>&1
b_said() { tail -n +"$((lines + 1))" "$T/B.log" | grep -qF -- "$1"; }
wait_for 10 "B to refuse a client without certificate" b_said "peer presented no certificate"
# A plaintext mig-tunnel: B refuses the session, A gets no channel.
lines=$(wc -l <"$T/B.log")
tun P --insecure -L "unix:$T/p.sum=sum" "tcp:127.0.0.1:$port"
expect_status "a plaintext client of a TLS listener" "$pid_P" 1 10
wait_for 10 "B to refuse a plaintext peer" b_said "does not speak TLS 1.2"
note "$n bad certificates, no certificate and plaintext refused; B served on"

# B still serves a good client after all that.
tun A --tls-cert "$C/client.pem" --tls-key "$C/client.key" \
    --tls-ca "$C/ca.pem" -L "unix:$T/ok.both=both" -L "unix:$T/ok.sum=sum" \
    "tcp:127.0.0.1:$port"
wait_sock "$T/ok.both"
check ok
kill -TERM "$pid_B"
expect_status "the TLS listener after SIGTERM" "$pid_B" 0 10
expect_status "its client after the goodbye" "$pid_A" 0 10
exit 0
