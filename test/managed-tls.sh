#!/bin/sh
# A managed migration over TCP with mutual TLS (certificates made by
# scripts/mkcerts.sh, as mig-tunnel's): a source with a certificate of
# another CA is refused (mig-send exits 2 with the reason, nothing
# changed) and mig-recv --listen --once goes on waiting; then the right
# one migrates the guest, which continues on the destination.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/qemu.sh"
. "$(dirname "$0")/mig.sh"
require_qemu
require openssl
sh "$TOP/scripts/mkcerts.sh" "$T/c" >"$T/mkcerts.log" 2>&1 ||
	{ cat "$T/mkcerts.log"; fail "mkcerts.sh failed"; }
C=$T/c

serial=$T/g.serial
guest_def "$T/g.def" g "$serial"
host_start src create "$T/g.def"
src_pid=$GUEST_PID
wait_for 30 "counts from the source guest" has_counts 2 "$serial"

port=$(free_port)
"$BIN/mig-recv" --listen "tcp:127.0.0.1:$port" --once $(host_dirs dst) \
	--tls-cert "$C/server.pem" --tls-key "$C/server.key" --tls-ca "$C/ca.pem" \
	--tls-peer-name mig-client --incoming "unix:$T/mig.sock" \
	--verbose >"$T/recv.out" 2>"$T/recv.err" </dev/null &
RECV_PID=$!
track $RECV_PID
wait_for 10 "mig-recv to listen" tcp_listening "$port"

# A certificate of another CA: refused on both sides, nothing changed.
expect_exit 2 "$BIN/mig-send" --domain g $(host_dirs src) \
	--desturi "tcp:127.0.0.1:$port" --tls-cert "$C/rogue.pem" \
	--tls-key "$C/rogue.key" --tls-ca "$C/ca.pem"
grep -q "TLS handshake failed" "$T/err" || fail "mig-send: $(cat "$T/err")"
wait_for 10 "mig-recv's refusal" grep -q "TLS handshake failed" "$T/recv.err"
pid_gone $RECV_PID && fail "mig-recv --once gave up after a refused source"

send_start_with --domain g $(host_dirs src) --desturi "tcp:127.0.0.1:$port" \
	--tls-cert "$C/client.pem" --tls-key "$C/client.key" \
	--tls-ca "$C/ca.pem" --tls-peer-name mig-server
expect_status send $SEND_PID 0
outcome_is send "destination running"
wait_for 10 "the source QEMU to quit" pid_gone "$src_pid"
check_continuity "$serial" /dev/null
grep -q "supervising" "$T/recv.err" || fail "mig-recv: $(tail -n 3 "$T/recv.err")"
host_config dst destroy g >/dev/null || fail "destroy on dst"
expect_status recv $RECV_PID 0
