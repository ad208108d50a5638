#!/bin/sh
# managed-faults.sh's cases with mig-send --tunnelled: the relay that is
# cut also carries the stream and the disks, and killing a tool ends its
# tunnel.  "loaded" is left out: managed-faults.sh holds it by stopping
# the relay, which here stops the stream that leads to it.
TUNNELLED=--tunnelled
CASES=${CASES:-"prepare:cut disk-copy:send disk-copy:recv disk-copy:cut
memory:send memory:recv memory:src memory:dst memory:cut
commit:send commit:recv commit:cut"}
. "$(dirname "$0")/managed-faults.sh"
