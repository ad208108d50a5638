#!/bin/sh
# Managed migration's bad input: each is refused with exit 2 (1 for a
# hostile peer) and one line naming what was wrong, before anything
# changes.  No QEMU is needed: every one is refused before QMP is asked.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/qemu.sh"
. "$(dirname "$0")/mig.sh"

q="--qmp unix:$T/none.qmp"
bad mig-send "only unix:PATH" $q --desturi http://host/
bad mig-send "qemu+unix://" $q --desturi qemu+ssh://host/system
bad mig-send "add ?socket=PATH" $q --desturi qemu+unix:///system
bad mig-send "only the socket= parameter" $q \
	--desturi 'qemu+unix:///system?socket=/a&mode=legacy'
bad mig-send "absolute path" $q --desturi 'qemu+unix:///system?socket=rel'
bad mig-send "longer than" $q \
	--desturi "qemu+unix:///system?socket=/$(printf '%0200d' 0)"
bad mig-send "(mutual TLS), or --insecure" $q --desturi tcp:127.0.0.1:9
bad mig-send "TLS needs --desturi and all of" $q --desturi tcp:127.0.0.1:9 \
	--tls-cert /x
bad mig-send "/nonexistent" $q --desturi tcp:127.0.0.1:9 \
	--tls-cert /nonexistent --tls-key /x --tls-ca /x
bad mig-send "--offline needs --persistent" --domain g --desturi unix:$T/c \
	--offline
bad mig-send "--persistent, --offline" $q --migrate-uri unix:$T/m --persistent
bad mig-send "--persistent, --offline" $q --migrate-uri unix:$T/m --offline
bad mig-send "need --desturi" $q --migrate-uri unix:$T/m --definition /x
bad mig-send "--tunnelled need --desturi" $q --migrate-uri unix:$T/m --tunnelled
bad mig-send "give no --migrate-uri or --disks-uri" $q --desturi unix:$T/c \
	--tunnelled --migrate-uri unix:$T/m
bad mig-send "give no --migrate-uri or --disks-uri" $q --desturi unix:$T/c \
	--tunnelled --copy-storage-all --disks-uri unix:$T/n
bad mig-send "not '-'" $q --desturi unix:$T/c --migrate-uri -
bad mig-send "--dname" $q --desturi unix:$T/c --dname ../x
bad mig-send "--keepalive" $q --desturi unix:$T/c --keepalive 5
bad mig-send "--migrate-uri or --desturi is required" $q
bad mig-send "is mig-recv --listen running?" $q --desturi "unix:$T/nobody"
printf 'name g\nqemu x\narg -qmp\n' >"$T/bad.def"
bad mig-send "argument '-qmp' is managed by mig" $q --desturi unix:$T/c --definition "$T/bad.def"
bad mig-send "--offline needs --domain NAME or --definition" $q \
	--desturi unix:$T/c --offline --persistent
bad mig-recv "(mutual TLS), or --insecure" --listen tcp:127.0.0.1:9
bad mig-recv "TLS needs --listen" --serve --tls-ca /x
bad mig-recv "not both" --listen unix:$T/c --serve
bad mig-recv "need --listen or --serve" --qmp unix:$T/q --once
bad mig-recv "the source's choice" --listen unix:$T/c --persistent
bad mig-recv "not possible with --listen" --listen unix:$T/c --incoming -
bad mig-recv "come from the source" --serve --postcopy
bad mig-recv "add ?socket=PATH" --listen qemu+unix:///system
# A hostile peer: one line, the connection refused, exit 1.
bad_exit 1 mig-recv "no request from the source" --serve
printf 'GET / HTTP/1.0\r\n\r\n' >"$T/http"
timeout 30 "$BIN/mig-recv" --serve <"$T/http" >"$T/out" 2>"$T/err"
rc=$?
[ $rc = 1 ] && grep -q "not a mig control connection (bad magic)" "$T/err" ||
	fail "mig-recv --serve fed HTTP: exit $rc, $(cat "$T/err")"
# "tunnel", then no tunnel protocol: the tunnel ends at once, exit 1.
printf 'MC\001\015\000\000\000\000garbage, not a HELLO' >"$T/tunnel"
timeout 30 "$BIN/mig-recv" --serve <"$T/tunnel" >"$T/out" 2>"$T/err"
rc=$?
[ $rc = 1 ] && grep -q "protocol error from the source" "$T/err" &&
	grep -q "no control channel from the source's tunnel" "$T/err" ||
	fail "mig-recv --serve fed a bad tunnel: exit $rc, $(cat "$T/err")"
[ $BAD_FAILED = 0 ] || fail "$BAD_FAILED bad-input cases failed"
