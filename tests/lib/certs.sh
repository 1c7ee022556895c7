#!/bin/bash
# certs.sh BASE [CLIENT_CN ...]
# Make a throwaway CA, a server cert for localhost/127.0.0.1/::1 and client certs
# (default client CN: certuser) under BASE/certs, with the openssl CLI only.
# Idempotent: existing files are kept.  Used by pg-up.sh (the test cluster runs with ssl=on).
#   CERT_KEY_ALG=rsa (default) | ec      CERT_DAYS=825
# Clean up: rm -rf BASE/certs   (or: certs.sh BASE --clean)
set -euo pipefail
BASE=${1:?usage: certs.sh BASE [CLIENT_CN ...] | certs.sh BASE --clean}
shift
mkdir -p "$BASE"
BASE=$(cd "$BASE" && pwd)
D=$BASE/certs
if [ "${1:-}" = "--clean" ]; then rm -rf "$D"; echo "removed $D"; exit 0; fi
[ $# -gt 0 ] || set -- certuser
ALG=${CERT_KEY_ALG:-rsa}
DAYS=${CERT_DAYS:-825}
mkdir -p "$D"; chmod 755 "$D"
umask 077

newkey() {   # newkey FILE
  [ -s "$1" ] && return 0
  if [ "$ALG" = ec ]; then
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null
  else
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$1" 2>/dev/null
  fi
  chmod 600 "$1"
}

# --- CA ---
newkey "$D/ca.key"
if [ ! -s "$D/ca.crt" ]; then
  openssl req -x509 -new -key "$D/ca.key" -sha256 -days 3650 -subj "/CN=Throwaway Test CA" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -addext "subjectKeyIdentifier=hash" -out "$D/ca.crt"
fi

sign() {     # sign NAME CN EXTFILE
  local n=$1 cn=$2 ext=$3
  [ -s "$D/$n.crt" ] && return 0
  newkey "$D/$n.key"
  openssl req -new -key "$D/$n.key" -subj "/CN=$cn" -out "$D/$n.csr"
  openssl x509 -req -in "$D/$n.csr" -CA "$D/ca.crt" -CAkey "$D/ca.key" -CAcreateserial \
    -sha256 -days "$DAYS" -extfile "$ext" -out "$D/$n.crt" 2>/dev/null
  rm -f "$D/$n.csr"
}

# --- server: CN=localhost, SAN covers the names/addresses clients use for verify-full ---
cat > "$D/server.ext" <<EXT
basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1
authorityKeyIdentifier=keyid
EXT
sign server localhost "$D/server.ext"

# --- clients: CN must equal the PostgreSQL role name for 'cert' auth ---
cat > "$D/client.ext" <<EXT
basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth
authorityKeyIdentifier=keyid
EXT
for cn in "$@"; do sign "client-$cn" "$cn" "$D/client.ext"; done
chmod 644 "$D"/*.crt

openssl verify -CAfile "$D/ca.crt" "$D/server.crt" >/dev/null
for cn in "$@"; do openssl verify -CAfile "$D/ca.crt" "$D/client-$cn.crt" >/dev/null; done
cat <<INFO
certs in $D  (key alg: $ALG)
  CA:      $D/ca.crt  (key $D/ca.key)
  server:  $D/server.crt $D/server.key   CN=localhost SAN=DNS:localhost,IP:127.0.0.1,IP:::1
$(for cn in "$@"; do echo "  client:  $D/client-$cn.crt $D/client-$cn.key   CN=$cn"; done)
  psql example: psql "host=localhost port=\$PGPORT user=$1 dbname=postgres sslmode=verify-full sslrootcert=$D/ca.crt sslcert=$D/client-$1.crt sslkey=$D/client-$1.key"
INFO
