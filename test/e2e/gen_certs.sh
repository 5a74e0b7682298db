#!/bin/sh
# gen_certs.sh DIR: a fresh test CA and a server certificate for tscf.test
# (EC P-256; SAN DNS:tscf.test, IP:127.0.0.1, IP:::1) in DIR:
#   ca.pem ca.key server.pem server.key
set -eu
d=$1
openssl ecparam -name prime256v1 -genkey -noout -out "$d/ca.key" 2>/dev/null
openssl req -x509 -new -key "$d/ca.key" -sha256 -days 2 -subj "/CN=libtse test CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -out "$d/ca.pem" 2>/dev/null
openssl ecparam -name prime256v1 -genkey -noout -out "$d/server.key" 2>/dev/null
openssl req -new -key "$d/server.key" -subj "/CN=tscf.test" -out "$d/server.csr" 2>/dev/null
printf '%s\n' "basicConstraints=CA:FALSE" "keyUsage=critical,digitalSignature" \
    "extendedKeyUsage=serverAuth" "subjectAltName=DNS:tscf.test,IP:127.0.0.1,IP:::1" > "$d/ext.cnf"
openssl x509 -req -in "$d/server.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial \
    -days 2 -sha256 -extfile "$d/ext.cnf" -out "$d/server.pem" 2>/dev/null
rm -f "$d/server.csr" "$d/ext.cnf" "$d/ca.srl"
