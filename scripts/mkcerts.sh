#!/bin/sh
# mkcerts.sh DIR: test certificates for mig-tunnel's TLS, made with the
# openssl command line (nothing of this is ever committed).
#   ca.pem ca.key               test CA (EC P-256)
#   other-ca.pem other-ca.key   an unrelated CA
#   server.pem server.key       EC P-256, PKCS#8 key, "mig-server"
#   client.pem client.key       EC P-256, traditional (SEC1) key, "mig-client"
#   client-rsa.pem client-rsa.key   RSA 2048, traditional key, "mig-client"
#   server-rsa.pem server-rsa.key   RSA 2048, PKCS#8 key, "mig-server"
#   server384.pem server384.key EC P-384 via an intermediate CA: the .pem
#                               holds the chain (leaf, then inter.pem)
#   expired.pem expired.key     signed by ca, valid only in January 2020,
#                               names mig-server and mig-client
#   rogue.pem rogue.key         signed by other-ca, both names
#   encrypted.key               client.key encrypted (password "x")
# Names are SAN DNS entries and the CN.
set -eu
usage="usage: mkcerts.sh DIR  (test certificates for mig-tunnel's TLS into DIR)"
# Options first: DIR is handed to mkdir, which would take "--help" as its own.
case ${1-} in
-h | --help) echo "$usage"; exit 0 ;;
-*) echo "mkcerts.sh: unknown option '$1'" >&2; echo "$usage" >&2; exit 2 ;;
esac
[ $# = 1 ] || { echo "$usage" >&2; exit 2; }
d=$1
mkdir -p "$d"
cd "$d"

cat >openssl.cnf <<'EOF'
[ req ]
distinguished_name = dn
[ dn ]
[ ca_ext ]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[ server_ext ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
subjectAltName = DNS:mig-server
[ client_ext ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
subjectAltName = DNS:mig-client
[ both_ext ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
subjectAltName = DNS:mig-server, DNS:mig-client
# 'openssl ca' is the only way OpenSSL 3.0 sets arbitrary dates, so the
# expired certificate is issued through this minimal database.
[ ca ]
default_ca = testca
[ testca ]
database = ca.db/index.txt
new_certs_dir = ca.db
serial = ca.db/serial
default_md = sha256
policy = anything
unique_subject = no
[ anything ]
commonName = supplied
EOF

export OPENSSL_CONF="$PWD/openssl.cnf"
q() {
	"$@" >/dev/null 2>mkcerts.err ||
	    { cat mkcerts.err >&2; echo "mkcerts: failed: $*" >&2; exit 1; }
}

# Keys come out as PKCS#8 ("PRIVATE KEY").
eckey() {
	q openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:"$2" \
	    -out "$1"
}
rsakey() {
	q openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 \
	    -out "$1"
}
# Rewrite a key in its traditional form ("EC/RSA PRIVATE KEY").
traditional() {
	q openssl pkey -in "$1" -traditional -out "$1.tmp"
	mv "$1.tmp" "$1"
}

# ca NAME CN: a self-signed CA.
ca() {
	eckey "$1.key" P-256
	q openssl req -new -x509 -key "$1.key" -subj "/CN=$2" -days 3650 \
	    -extensions ca_ext -out "$1.pem"
}

# cert NAME KEYFILE CN EXT ISSUER SERIAL
cert() {
	q openssl req -new -key "$2" -subj "/CN=$3" -out "$1.csr"
	q openssl x509 -req -in "$1.csr" -CA "$5.pem" -CAkey "$5.key" \
	    -set_serial "$6" -days 365 -sha256 -extfile openssl.cnf \
	    -extensions "$4" -out "$1.pem"
	rm -f "$1.csr"
}

ca ca "mig test CA"
ca other-ca "mig unrelated CA"

eckey server.key P-256
cert server server.key mig-server server_ext ca 11

eckey client.key P-256
traditional client.key
cert client client.key mig-client client_ext ca 12

rsakey client-rsa.key
traditional client-rsa.key
cert client-rsa client-rsa.key mig-client client_ext ca 13

rsakey server-rsa.key
cert server-rsa server-rsa.key mig-server server_ext ca 14

eckey inter.key P-256
q openssl req -new -key inter.key -subj "/CN=mig intermediate CA" -out inter.csr
q openssl x509 -req -in inter.csr -CA ca.pem -CAkey ca.key -set_serial 15 \
    -days 365 -sha256 -extfile openssl.cnf -extensions ca_ext -out inter.pem
rm -f inter.csr
eckey server384.key P-384
cert server384 server384.key mig-server server_ext inter 16
cat inter.pem >>server384.pem

q openssl pkey -in client.key -aes128 -passout pass:x -out encrypted.key

eckey rogue.key P-256
cert rogue rogue.key mig-server both_ext other-ca 17

eckey expired.key P-256
mkdir -p ca.db
: >ca.db/index.txt
echo 18 >ca.db/serial
q openssl req -new -key expired.key -subj "/CN=mig-server" -out expired.csr
q openssl ca -batch -config openssl.cnf -cert ca.pem -keyfile ca.key \
    -in expired.csr -startdate 20200101000000Z -enddate 20200131000000Z \
    -extfile openssl.cnf -extensions both_ext -notext -out expired.pem
rm -rf expired.csr ca.db mkcerts.err
