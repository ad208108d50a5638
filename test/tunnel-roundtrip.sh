#!/bin/sh
# Random data through two mig-tunnels, both directions of two channels at
# once, checked with sha256sum; the tunnels joined three ways: by socat
# over TCP on 127.0.0.1 (TCP-LISTEN,fork EXEC:mig-tunnel, as the man page
# shows), by a unix socket, and back to back on stdio (socat EXEC EXEC),
# over one socketpair and over two pipes (as ssh gives).
# A tunnel stopped with SIGTERM exits 0, its peer too (GOODBYE), and the
# local sockets are gone.
. "$(dirname "$0")/lib.sh"
. "$TOP/test/tunnel/common.sh"

randfile "$T/a.out" 24576
randfile "$T/a.back" 20480
randfile "$T/b.out" 6144
randfile "$T/b.back" 8192

# Targets on the B side, clients on the A side, all at once.
transfer() {
	j=$1
	wait_sock "$T/$j.la"
	wait_sock "$T/$j.lb"
	send_files cli_a "$T/$j.la" "$T/a.out" "$T/$j.a.back"
	send_files cli_b "$T/$j.lb" "$T/b.out" "$T/$j.b.back"
	expect_status "$j: client a" "$pid_cli_a" 0 60
	expect_status "$j: client b" "$pid_cli_b" 0 60
	expect_status "$j: target a" "$pid_srv_a" 0 10
	expect_status "$j: target b" "$pid_srv_b" 0 10
	same "$T/a.out" "$T/$j.a.recv" "$j: channel a, A to B"
	same "$T/a.back" "$T/$j.a.back" "$j: channel a, B to A"
	same "$T/b.out" "$T/$j.b.recv" "$j: channel b, A to B"
	same "$T/b.back" "$T/$j.b.back" "$j: channel b, B to A"
	note "$j: 4 streams of $(( (24 + 20 + 6 + 8) )) MiB in all arrived intact"
}

targets() {
	serve_files srv_a "$T/$1.ta" "$T/a.back" "$T/$1.a.recv"
	serve_files srv_b "$T/$1.tb" "$T/b.back" "$T/$1.b.recv"
	wait_sock "$T/$1.ta"
	wait_sock "$T/$1.tb"
}

no_errors() {
	! grep -E 'error|warning' "$T/$1.log" || fail "$1 logged trouble"
}

# --- socat TCP-LISTEN,fork EXEC:'mig-tunnel -R ...' <-> mig-tunnel tcp:
targets tcp
port=$(free_port)
spawn_log relay socat TCP-LISTEN:"$port",bind=127.0.0.1,reuseaddr,fork \
    EXEC:"'$TUN -R a=unix:$T/tcp.ta -R b=unix:$T/tcp.tb'"
wait_tcp "$port"
tun A -L "unix:$T/tcp.la=a" -L "unix:$T/tcp.lb=b" --insecure "tcp:127.0.0.1:$port"
transfer tcp
kill -TERM "$pid_A"
expect_status "tcp: tunnel A after SIGTERM" "$pid_A" 0 10
[ -e "$T/tcp.la" ] && fail "tcp: -L socket left behind"
# B got GOODBYE and exited 0: socat's child for it is gone, no error logged.
no_errors A
no_errors relay
stop_pid "$pid_relay"

# --- mig-tunnel listen:unix: <-> mig-tunnel unix:
targets unix
tun B -R a="unix:$T/unix.ta" -R b="unix:$T/unix.tb" "listen:unix:$T/unix.peer"
wait_sock "$T/unix.peer"
[ "$(stat -c %a "$T/unix.peer")" = 600 ] || fail "peer socket is not mode 0600"
tun A -L "unix:$T/unix.la=a" -L "unix:$T/unix.lb=b" "unix:$T/unix.peer"
transfer unix
[ "$(stat -c %a "$T/unix.la")" = 600 ] || fail "-L socket is not mode 0600"
kill -TERM "$pid_B"
expect_status "unix: listening tunnel B after SIGTERM" "$pid_B" 0 10
# A connected; its peer said goodbye: exit 0, sockets removed.
expect_status "unix: tunnel A after B's goodbye" "$pid_A" 0 10
[ -e "$T/unix.peer" ] && fail "unix: listening socket left behind"
[ -e "$T/unix.la" ] && fail "unix: -L socket left behind"
no_errors A
no_errors B

# --- socat EXEC:'mig-tunnel -L ...' EXEC:'mig-tunnel -R ...' (stdio)
targets stdio
# socat splits addresses at ':'; single quotes inside keep the command whole.
spawn_log relay2 socat EXEC:"'$TUN -L unix:$T/stdio.la=a -L unix:$T/stdio.lb=b'" \
    EXEC:"'$TUN -R a=unix:$T/stdio.ta -R b=unix:$T/stdio.tb'"
transfer stdio
no_errors relay2

# --- the same over two pipes each way, as behind ssh
targets pipes
spawn_log relay3 socat EXEC:"'$TUN -L unix:$T/pipes.la=a -L unix:$T/pipes.lb=b'",pipes \
    EXEC:"'$TUN -R a=unix:$T/pipes.ta -R b=unix:$T/pipes.tb'",pipes
transfer pipes
no_errors relay3
exit 0
