#!/bin/sh
# nbd_probe_run against real NBD servers: qemu-nbd serving a 64 MiB qcow2
# as export "vd0" (found with its size; another name is missing), nbdkit
# (found; with the exportname filter, a wrong name is missing), and a
# socket path nobody serves (an error, at once).
. "$(dirname "$0")/lib.sh"
require qemu-nbd qemu-img nbdkit
PROBE=$TOP/build/test/nbd_probe_test
[ -x "$PROBE" ] || fail "$PROBE not built (make build/test/nbd_probe_test)"

# probe ENDPOINT EXPORT SIZE|missing|error
probe() {
	expect_exit 0 "$PROBE" "$@"
	note "$1 '$2': $(head -n 1 "$T/out")"
}

qemu-img create -q -f qcow2 "$T/d.qcow2" 64M || fail "qemu-img create"
qemu-nbd --persistent -k "$T/q.sock" -x vd0 -f qcow2 "$T/d.qcow2" \
	>"$T/qemu-nbd.log" 2>&1 &
track $!
wait_for 10 "qemu-nbd's socket" test -S "$T/q.sock"
probe "unix:$T/q.sock" vd0 67108864
probe "unix:$T/q.sock" vd1 missing
probe "unix:$T/q.sock" "" missing
grep -q "not present" "$T/out" || fail "qemu-nbd's message is not in: $(cat "$T/out")"
probe "unix:$T/q.sock" vd0 67108864	# still serving after the probes

nbdkit -U "$T/k.sock" -f memory 1M >"$T/nbdkit.log" 2>&1 &
track $!
wait_for 10 "nbdkit's socket" test -S "$T/k.sock"
probe "unix:$T/k.sock" "" 1048576
probe "unix:$T/k.sock" anything 1048576

# Only with the exportname filter does nbdkit refuse an export name.
if nbdkit --filter=exportname null --dump-plugin >/dev/null 2>&1; then
	nbdkit -U "$T/e.sock" -f --filter=exportname memory 2M \
		exportname=vd0 exportname-strict=true >"$T/nbdkit-e.log" 2>&1 &
	track $!
	wait_for 10 "nbdkit's socket" test -S "$T/e.sock"
	probe "unix:$T/e.sock" vd0 2097152
	probe "unix:$T/e.sock" vd9 missing
else
	note "nbdkit has no exportname filter: skipping its missing export"
fi

probe "unix:$T/nobody.sock" vd0 error
: >"$T/plain"
probe "unix:$T/plain" vd0 error
exit 0
