#!/bin/sh
# Installs, with apt as root, the Debian packages a make target needs and the
# machine lacks.  Usage: deps.sh build|test|bench|fuzz (fuzz: clang and
# its libFuzzer runtime, for make fuzz; test has gcc's ASan and UBSan
# runtimes for the corpus replay)
# Without root (or apt) it only names what is missing and lets the caller go
# on: tests then skip for want of a peer.
set -u
case "${1:-}" in
build) pkgs="musl-tools libbearssl-dev gcc binutils make file" ;;
test)  pkgs="musl-tools libbearssl-dev gcc libasan8 libubsan1 qemu-system-x86 qemu-utils socat nbdkit libnbd-bin openssl procps iproute2 file bsdutils" ;;
bench) pkgs="musl-tools libbearssl-dev qemu-system-x86 qemu-utils socat nbdkit libnbd-bin openssl stunnel4 procps time python3 iproute2" ;;
fuzz)  pkgs="clang libclang-rt-14-dev gcc make" ;;
*) echo "usage: deps.sh build|test|bench|fuzz" >&2; exit 2 ;;
esac

missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
	echo "deps.sh: missing Debian packages:$missing (run as root to install them)" >&2
	exit 0
fi
echo "deps.sh: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
# Another install running at the same time (make demo and make check in two
# shells) holds dpkg's lock: wait for it rather than fail.
lock="-o DPkg::Lock::Timeout=600"
# A fresh machine has no package lists; a stale list 404s: update first.
apt-get $lock update -q >/dev/null || { echo "deps.sh: apt-get update failed" >&2; exit 1; }
apt-get $lock install -y -q --no-install-recommends $missing >/dev/null ||
	{ echo "deps.sh: apt-get install$missing failed" >&2; exit 1; }
