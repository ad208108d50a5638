#!/bin/sh
# The test guest boots alone and counts: BOOT, then count lines 1, 2, 3...
# with no memory errors and nothing else on its serial port.
. "$(dirname "$0")/lib.sh"
. "$TOP/test/qemu.sh"
require "$QEMU"

start_src g
wait_count g 5
stop_qemu g

serial_lines "$T/g.serial" >"$T/lines"
[ "$(head -n 1 "$T/lines")" = BOOT ] || fail "first line is not BOOT"
bad=$(sed 1d "$T/lines" | grep -vxE 'count [0-9]+ pass [0-9]+ errors [0-9]+' | head -n 1)
[ -z "$bad" ] || fail "unexpected serial line: $bad"
guest_counts "$T/g.serial" | awk 'NR != $1 { exit 1 }' ||
	fail "counts not 1, 2, 3...: $(guest_counts "$T/g.serial" | tr '\n' ' ')"
bad=$(grep -v ' errors 0$' "$T/lines" | sed 1d | head -n 1)
[ -z "$bad" ] || fail "memory errors: $bad"
note "$(tail -n 1 "$T/lines")"
exit 0
