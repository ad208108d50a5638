#!/bin/sh
# The wire protocol, byte by byte (doc/tunnel-protocol.md): a mig-tunnel on
# stdio is fed frames written here, and its answers are checked exactly.
# Malformed, truncated and oversized input ends the session with exit 1
# and a reason, never a crash; a conversation covers HELLO, OPEN refused
# and accepted, DATA, EOF both ways, CLOSE, PING/PONG and GOODBYE.
. "$(dirname "$0")/lib.sh"
. "$TOP/test/tunnel/common.sh"

# Bytes, written with printf octal escapes.
byte() { printf "\\$(printf %03o "$1")"; }
be16() { byte $(( ($1 >> 8) & 255 )); byte $(( $1 & 255 )); }
be32() { be16 $(( ($1 >> 16) & 65535 )); be16 $(( $1 & 65535 )); }
# hdr TYPE CHAN LEN
hdr() { byte "$1"; byte 0; be16 "$2"; be32 "$3"; }
hello() { hdr 1 0 16; printf MIGTUNNL; be16 "${1:-1}"; be16 "${2:-1}"; be32 262144; }
hex() { od -An -v -tx1 | tr -d ' \n'; }

OUR_HELLO=0100000000000010$(printf MIGTUNNL | hex)0001000100040000

# broken WHY INPUT-FUNCTION: exit 1 with WHY on stderr, our HELLO out first.
broken() {
	why=$1; shift
	"$@" >"$T/in"
	expect_exit 1 "$TUN" -R "x=unix:$T/nowhere" <"$T/in"
	grep -qF -- "$why" "$T/err" || { cat "$T/err"; fail "$*: stderr lacks '$why'"; }
	[ "$(head -c 24 "$T/out" | hex)" = "$OUR_HELLO" ] || fail "$*: no HELLO sent first"
	n=$((n + 1))
}
n=0
http() { printf 'HTTP/1.1 400 Bad Request\r\n\r\n'; }
short_hello() { hello | head -c 13; }
hello_only() { hello; }
old_peer() { hello 2 3; }
data_nowhere() { hello; hdr 5 5 3; printf abc; }
data_huge() { hello; hdr 5 5 262145; }
credit_nowhere() { hello; hdr 6 32770 4; be32 100; }
accept_unasked() { hello; hdr 3 32768 4; be32 100; }
open_twice() { hello; hdr 2 7 5; be32 0; printf y; hdr 2 7 5; be32 0; printf y; }
bad_name() { hello; hdr 2 7 6; be32 0; printf 'a b'; }
hello_twice() { hello; hello; }
cut_data() { hello; hdr 2 1 5; be32 1000; printf x; }
garbage() { head -c 4096 /dev/urandom; }

broken "unknown frame type 0x48" http
broken "closed the stream in the middle of a frame" short_hello
broken "closed the stream without saying goodbye" hello_only
broken "speaks tunnel protocol versions 2 to 3; this mig-tunnel speaks 1" old_peer
broken "DATA on channel 5: no such channel" data_nowhere
broken "DATA frame with 262145 payload bytes" data_huge
broken "CREDIT on channel 2: no such channel" credit_nowhere
broken "ACCEPT on channel 0: no such channel" accept_unasked
broken "OPEN of channel 7, which is open" open_twice
broken "not printable ASCII" bad_name
broken "a second HELLO" hello_twice
broken "closed the stream" cut_data
i=0
while [ $i -lt 20 ]; do
	garbage >"$T/in"
	"$TUN" <"$T/in" >/dev/null 2>"$T/err"
	st=$?
	[ $st = 1 ] || fail "random input: exit $st, expected 1"
	i=$((i + 1))
done
note "$n malformed or truncated streams and 20 random ones: exit 1 with a reason"

# A clean session: HELLO then GOODBYE.
{ hello; hdr 11 0 0; } >"$T/in"
expect_exit 0 "$TUN" <"$T/in"
[ -s "$T/err" ] && { cat "$T/err"; fail "a clean goodbye printed something"; }

# --- a conversation
spawn_log target socat -u UNIX-LISTEN:"$T/t.x" CREATE:"$T/x.got"
wait_sock "$T/t.x"
mkfifo "$T/fifo"
exec 3<>"$T/fifo"
"$TUN" -R "x=unix:$T/t.x" <"$T/fifo" >"$T/w.out" 2>"$T/W.log" &
track $!
pid_W=$!
said() { [ "$(hex <"$T/w.out")" = "$1" ]; }
want=$OUR_HELLO
wait_for 5 "HELLO" said "$want"
# OPEN #0 "nosuch" -> REFUSE #0 (receiver's bit), reason 1
{ hello; hdr 2 0 10; be32 65536; printf nosuch; } >&3
want=${want}040080000000000101
wait_for 5 "REFUSE of nosuch" said "$want"
# PING -> PONG with the same 8 bytes
{ hdr 9 0 8; printf 12345678; } >&3
want=${want}0a00000000000008$(printf 12345678 | hex)
wait_for 5 "PONG" said "$want"
# OPEN #1 "x" with a 4 KiB window -> ACCEPT #1 with the tunnel's window
{ hdr 2 1 5; be32 4096; printf x; } >&3
want=${want}0300800100000004
hexlen() { [ "$(hex <"$T/w.out" | wc -c)" -ge "$1" ]; }
wait_for 5 "ACCEPT of x" hexlen $(( ${#want} + 8 ))
got=$(hex <"$T/w.out")
[ "${got%????????}" = "$want" ] || fail "expected ACCEPT, got ${got#"${want%0300*}"}"
win=$(( 0x${got#"$want"} ))
[ "$win" -ge 4096 ] && [ "$win" -le 16777216 ] || fail "ACCEPT window $win"
want=$got
# DATA "hello" and EOF: the target gets it and ends, so the tunnel sends
# EOF #1, and with EOF both ways, CLOSE #1 (done).
{ hdr 5 1 5; printf hello; hdr 7 1 0; } >&3
want=${want}0700800100000000080080010000000100
wait_for 5 "EOF and CLOSE of x" said "$want"
[ "$(cat "$T/x.got")" = hello ] || fail "the target got '$(cat "$T/x.got")'"
# Our CLOSE frees #1; reopening it works (a refusal, as the target is gone).
{ hdr 8 1 1; byte 0; hdr 2 1 5; be32 4096; printf x; } >&3
want=${want}0400800100000001
wait_for 5 "an answer to the reopened #1" said "${want}02"
{ hdr 11 0 0; } >&3
expect_status "the tunnel after GOODBYE" "$pid_W" 0 5
grep -q "cannot connect to unix:$T/t.x" "$T/W.log" || fail "no reason for the refusal"
note "conversation: HELLO, REFUSE, PONG, ACCEPT, DATA, EOF, CLOSE, reuse, GOODBYE"
exit 0
