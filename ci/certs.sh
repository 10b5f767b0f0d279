#!/usr/bin/env bash
# Make a development CA, a server certificate (localhost, recommendations, 127.0.0.1) and a client
# certificate in certs/ (git-ignored). Keys never leave this folder: never commit or bake them in.
# Usage: ci/certs.sh [--force]   (existing certificates are kept unless --force)
source "$(dirname "$0")/lib.sh"
need_apt openssl openssl

out="$ROOT/certs"
if [ -f "$out/ca.pem" ] && [ "${1:-}" != "--force" ]; then
  log "certs/ already holds a CA; keeping it (ci/certs.sh --force to replace everything)"
  exit 0
fi
mkdir -p "$out"
chmod 700 "$out"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
umask 077

newkey() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

log "development CA"
newkey "$out/ca-key.pem"
openssl req -x509 -new -key "$out/ca-key.pem" -sha256 -days 825 -subj "/CN=bookshop development CA" \
  -addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
  -addext "keyUsage=critical,keyCertSign,cRLSign" -out "$out/ca.pem"

# issue NAME SUBJECT EXTENSIONS: a key and a certificate signed by the development CA.
issue() {
  newkey "$out/$1-key.pem"
  openssl req -new -key "$out/$1-key.pem" -subj "/CN=$2" -out "$tmp/$1.csr"
  printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" "$3" \
    > "$tmp/$1.ext"
  openssl x509 -req -in "$tmp/$1.csr" -CA "$out/ca.pem" -CAkey "$out/ca-key.pem" -CAcreateserial \
    -CAserial "$tmp/ca.srl" -days 397 -sha256 -extfile "$tmp/$1.ext" -out "$out/$1.pem" 2>/dev/null
}

log "server certificate (localhost, recommendations, 127.0.0.1)"
issue server recommendations \
  "subjectAltName=DNS:localhost,DNS:recommendations,DNS:recommendations.bookshop.svc.cluster.local,IP:127.0.0.1
extendedKeyUsage=serverAuth"
log "client certificate (marketplace)"
issue client marketplace "extendedKeyUsage=clientAuth"

chmod 644 "$out"/ca.pem "$out"/server.pem "$out"/client.pem
openssl verify -CAfile "$out/ca.pem" "$out/server.pem" "$out/client.pem" >/dev/null
log "wrote $(cd "$out" && echo *.pem) into certs/"
