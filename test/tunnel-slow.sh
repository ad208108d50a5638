#!/bin/sh
# A slow channel never stalls the others: while one channel's reader does
# not read at all (its buffers and window full), another channel in the
# same direction streams 32 MiB to the end.  Then the slow reader goes on
# and gets all of its data.  Both directions: the slow reader behind the
# listening tunnel (upstream), then behind the connecting one (downstream).
. "$(dirname "$0")/lib.sh"
. "$TOP/test/tunnel/common.sh"

randfile "$T/slow.data" 16384
randfile "$T/fast.data" 32768

# hold GATE: read nothing until GATE exists (30 s at most), then digest.
cat >"$T/hold.sh" <<EOF
i=0
while [ ! -e "\$1" ] && [ \$i -lt 600 ]; do sleep 0.05; i=\$((i + 1)); done
exec sha256sum
EOF

# Upstream targets (B side): one holds, one digests at once.
spawn_log t_slow socat -t 30 UNIX-LISTEN:"$T/t.slow" SYSTEM:"sh $T/hold.sh $T/go.up"
spawn_log t_fast socat -t 30 UNIX-LISTEN:"$T/t.fast" SYSTEM:sha256sum
# Downstream targets: each sends its file, then reads the digest back.
spawn_log t_dslow socat -t 30 UNIX-LISTEN:"$T/t.dslow" \
    OPEN:"$T/slow.data"!!OPEN:"$T/dslow.answer",creat,trunc
spawn_log t_dfast socat -t 30 UNIX-LISTEN:"$T/t.dfast" \
    OPEN:"$T/fast.data"!!OPEN:"$T/dfast.answer",creat,trunc
for t in slow fast dslow dfast; do wait_sock "$T/t.$t"; done

tun B -R slow="unix:$T/t.slow" -R fast="unix:$T/t.fast" \
    -R dslow="unix:$T/t.dslow" -R dfast="unix:$T/t.dfast" "listen:unix:$T/peer"
wait_sock "$T/peer"
tun A -L "unix:$T/l.slow=slow" -L "unix:$T/l.fast=fast" \
    -L "unix:$T/l.dslow=dslow" -L "unix:$T/l.dfast=dfast" "unix:$T/peer"
for t in slow fast dslow dfast; do wait_sock "$T/l.$t"; done

# Bytes a process has read so far.
rchar() { awk '/^rchar/ { print $2 }' "/proc/$1/io" 2>/dev/null || echo 0; }
pushed() { [ "$(rchar "$1")" -ge "$2" ]; }

# --- upstream: the slow reader is a target of B
socat -t 30 - UNIX-CONNECT:"$T/l.slow" <"$T/slow.data" >"$T/slow.answer" 2>"$T/c_slow.log" &
track $!; pid_c_slow=$!
# Past 512 KiB the slow channel is busy; it blocks about 700 KiB in.
wait_for 20 "the slow client to push 512 KiB" pushed "$pid_c_slow" 524288
socat -t 30 - UNIX-CONNECT:"$T/l.fast" <"$T/fast.data" >"$T/fast.answer" 2>"$T/c_fast.log" &
track $!; pid_c_fast=$!
expect_status "the fast client" "$pid_c_fast" 0 30
[ "$(cat "$T/fast.answer")" = "$(sha256sum <"$T/fast.data")" ] ||
	fail "upstream: fast channel digest wrong"
pid_gone "$pid_c_slow" && fail "upstream: the slow channel finished without its reader"
note "upstream: 32 MiB went through while another channel was stuck at $(rchar "$pid_c_slow") bytes"
touch "$T/go.up"
expect_status "the slow client" "$pid_c_slow" 0 30
[ "$(cat "$T/slow.answer")" = "$(sha256sum <"$T/slow.data")" ] ||
	fail "upstream: slow channel digest wrong"

# --- downstream: the slow reader is a client of A
spawn_log c_dslow socat -t 30 UNIX-CONNECT:"$T/l.dslow" SYSTEM:"sh $T/hold.sh $T/go.down"
wait_for 20 "the slow target to push 512 KiB" pushed "$pid_t_dslow" 524288
spawn_log c_dfast socat -t 30 UNIX-CONNECT:"$T/l.dfast" SYSTEM:sha256sum
expect_status "the fast downstream client" "$pid_c_dfast" 0 30
expect_status "the fast downstream target" "$pid_t_dfast" 0 10
[ "$(cat "$T/dfast.answer")" = "$(sha256sum <"$T/fast.data")" ] ||
	fail "downstream: fast channel digest wrong"
pid_gone "$pid_c_dslow" && fail "downstream: the slow channel finished without its reader"
note "downstream: 32 MiB went through while another channel was stuck at $(rchar "$pid_t_dslow") bytes"
touch "$T/go.down"
expect_status "the slow downstream client" "$pid_c_dslow" 0 30
expect_status "the slow downstream target" "$pid_t_dslow" 0 10
[ "$(cat "$T/dslow.answer")" = "$(sha256sum <"$T/slow.data")" ] ||
	fail "downstream: slow channel digest wrong"
! grep -E 'error|warning' "$T/A.log" "$T/B.log" || fail "a tunnel logged trouble"
exit 0
