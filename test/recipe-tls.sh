#!/bin/sh
# The README's TLS recipe: certificates made with its openssl commands,
# then its commands on two hosts (mount namespaces) joined by one TCP port
# with mutual TLS; the guest moves with its disk.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/qemu.sh"
. "$(dirname "$0")/mig.sh"
. "$(dirname "$0")/recipe.sh"
require_qemu
require openssl
require_hosts

host src; host dst
recipe tls-certs >"$T/certs.sh"
(cd "$T/hosts/src" && sh -e "$T/certs.sh") >"$T/certs.log" 2>&1 ||
	fail "the certificate recipe failed: $(tail -n 3 "$T/certs.log")"
cp "$T/hosts/src/ca.pem" "$T/hosts/src/dst.pem" "$T/hosts/src/dst.key" \
	"$T/hosts/dst/"

pair_disks
QEMU=$T/bin/qemu-src; start_src src $(disk_args vd0 "$T/src0.qcow2")
QEMU=$T/bin/qemu-dst; start_dst dst $(disk_args vd0 "$T/dst0.qcow2")
host_qmp src src; host_qmp dst dst
wait_count src 2

# The one change: the port, and the destination's name to an address.
port=$(free_port)
at_port() {
	recipe "$1" | sed -e "s/:4444/:$port/" -e 's/0\.0\.0\.0/127.0.0.1/' \
		-e 's/tcp:dst\.example:/tcp:127.0.0.1:/'
}
at_port tls-dst >"$T/dst.sh"
on_host DST dst "$T/dst.sh"
wait_for 30 "the destination's mig-recv to be ready" grep -qx ready "$T/dst.out"
wait_for 10 "the destination's tunnel to listen" tcp_listening "$port"
at_port tls-src >"$T/src.sh"
on_host SRC src "$T/src.sh"

expect_status src $SRC 0
expect_status dst $DST 0
assert_switched "$T/src0.qcow2" "$T/dst0.qcow2"
