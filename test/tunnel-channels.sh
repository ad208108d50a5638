#!/bin/sh
# 64 channels open at once over one session: every target holds its
# connection until all 64 have arrived, then digests what it got.  Both
# tunnels' RSS is sampled meanwhile and must stay within 4 MiB.
. "$(dirname "$0")/lib.sh"
. "$TOP/test/tunnel/common.sh"
N=64

randfile "$T/all" $(( N * 512 ))
split -b 524288 -d -a 2 "$T/all" "$T/in."
barrier_target "$T/t.sum" backlog=128
tun B -R sum="unix:$T/t.sum" "listen:unix:$T/peer"
wait_sock "$T/peer"
tun A -L "unix:$T/l.sum=sum" "unix:$T/peer"
wait_sock "$T/l.sum"
session_up() { sess=$(ps -o pid= --ppid "$pid_B" | tr -d ' '); [ -n "$sess" ]; }
wait_for 10 "B's session process" session_up

# Peak RSS (kB) of A and of B's session, until told to stop.
rss() {
	while read -r k v _; do
		[ "$k" = VmRSS: ] && { echo "$v"; return; }
	done <"/proc/$1/status"
	echo 0
}
sample() {
	ma=0 mb=0
	while [ ! -e "$T/stop-sampling" ]; do
		a=$(rss "$pid_A"); [ "$a" -gt "$ma" ] && ma=$a
		b=$(rss "$sess"); [ "$b" -gt "$mb" ] && mb=$b
		echo "$ma $mb" >"$T/rss"
		sleep 0.05
	done
}
sample &
track $!
pid_sampler=$!

i=0
pids=""
while [ $i -lt $N ]; do
	f=$(printf %02d $i)
	socat -t 30 - UNIX-CONNECT:"$T/l.sum" <"$T/in.$f" >"$T/out.$f" 2>"$T/c.$f.log" &
	track $!
	pids="$pids $!"
	i=$((i + 1))
done
all_in() { [ "$(ls "$T/conn" | wc -l)" -ge $N ]; }
wait_for 60 "all $N targets to be connected at once" all_in
note "$N channels open at once"
i=0
while [ $i -lt $N ]; do echo go >&4; i=$((i + 1)); done
for p in $pids; do
	expect_status "a client" "$p" 0 60
done
touch "$T/stop-sampling"
wait_for 5 "the sampler" pid_gone "$pid_sampler"
i=0
while [ $i -lt $N ]; do
	f=$(printf %02d $i)
	[ "$(cat "$T/out.$f")" = "$(sha256sum <"$T/in.$f")" ] ||
		fail "channel $i: wrong digest: '$(cat "$T/out.$f")'"
	i=$((i + 1))
done
note "$N channels at once, 512 KiB each, all digests right"
read -r ra rb <"$T/rss"
note "peak RSS: tunnel A $ra kB, tunnel B's session $rb kB"
[ "$ra" -le 4096 ] && [ "$rb" -le 4096 ] || fail "RSS above 4 MiB"
! grep -E 'error|warning' "$T/A.log" "$T/B.log" || fail "a tunnel logged trouble"
exit 0
