#!/bin/sh
# Half-close is carried exactly, each way: one side's EOF reaches the other
# as EOF (shutdown of the write side) while the other direction goes on,
# and only then does that side answer.
. "$(dirname "$0")/lib.sh"
. "$TOP/test/tunnel/common.sh"

randfile "$T/up" 8192
randfile "$T/down" 16384
printf 'small request\n' >"$T/small"

# sum: the target reads to EOF, then answers with the digest.
spawn_log t_sum socat -t 10 UNIX-LISTEN:"$T/t.sum",fork SYSTEM:sha256sum
# big: the target reads to EOF, then sends 16 MiB.
spawn_log t_big socat -t 10 UNIX-LISTEN:"$T/t.big",fork \
    SYSTEM:"cat >$T/big.in; cat $T/down"
# first: the target sends 16 MiB and half-closes first, reading on.
spawn_log t_first socat -t 10 UNIX-LISTEN:"$T/t.first" \
    OPEN:"$T/down"!!OPEN:"$T/first.in",creat,trunc
for t in sum big first; do wait_sock "$T/t.$t"; done

tun B -R sum="unix:$T/t.sum" -R big="unix:$T/t.big" \
    -R first="unix:$T/t.first" "listen:unix:$T/peer"
wait_sock "$T/peer"
tun A -L "unix:$T/l.sum=sum" -L "unix:$T/l.big=big" \
    -L "unix:$T/l.first=first" "unix:$T/peer"
for t in sum big first; do wait_sock "$T/l.$t"; done

# Client EOF first, then the answer comes back on the same channel.
socat -t 10 - UNIX-CONNECT:"$T/l.sum" <"$T/up" >"$T/sum.out" 2>"$T/c_sum.log" &
track $!; pid_c_sum=$!
socat -t 10 - UNIX-CONNECT:"$T/l.big" <"$T/small" >"$T/big.out" 2>"$T/c_big.log" &
track $!; pid_c_big=$!
# Target EOF first; then the client answers with what it got.
spawn_log c_first socat -t 10 UNIX-CONNECT:"$T/l.first" \
    SYSTEM:"cat >$T/first.got; sha256sum <$T/first.got"

expect_status "client of sum" "$pid_c_sum" 0 30
[ "$(cat "$T/sum.out")" = "$(sha256sum <"$T/up")" ] ||
	fail "client-first: the answer after the client's EOF is wrong: $(cat "$T/sum.out")"
note "EOF from the client, then 8 MiB digested and answered: ok"

expect_status "client of big" "$pid_c_big" 0 30
same "$T/small" "$T/big.in" "client-first: request"
same "$T/down" "$T/big.out" "client-first: 16 MiB answer after EOF"
note "EOF from the client, then 16 MiB back: ok"

expect_status "client of first" "$pid_c_first" 0 30
expect_status "target of first" "$pid_t_first" 0 10
same "$T/down" "$T/first.got" "target-first: data to the client"
[ "$(cat "$T/first.in")" = "$(sha256sum <"$T/down")" ] ||
	fail "target-first: the answer after the target's EOF is wrong: $(cat "$T/first.in")"
note "EOF from the target, 16 MiB, then an answer from the client: ok"

! grep -E 'error|warning' "$T/A.log" "$T/B.log" || fail "a tunnel logged trouble"
exit 0
