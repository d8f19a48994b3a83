#!/usr/bin/env bash
# dev-certs.sh — development certificates for devices talking MQTT over mTLS to Mosquitto.
#
# Usage: scripts/dev-certs.sh DIR [THING...]
#
# Creates in DIR (made if missing):
#   ca.key, ca.crt          a development CA (EC P-256, 10 years). Broker `cafile`, devices' CA.
#   server.key, server.crt  the broker's certificate, signed by the CA, for 127.0.0.1 and
#                           localhost (subjectAltName IP and DNS). Broker `certfile`/`keyfile`.
#   THING.key, THING.crt    per thing: a device key and a client certificate signed by the CA with
#                           CN = THING. With Mosquitto's `use_identity_as_username true` the CN is
#                           the MQTT username, so an ACL `pattern readwrite $aws/things/%u/jobs/#`
#                           confines each device to its own jobs topics.
# and prints the path of every file, one per line (`ca.crt /abs/DIR/ca.crt`, ...).
#
# Idempotent: existing keys are kept, and a certificate is re-issued only when it is missing or
# does not verify against ca.crt (delete DIR to start over). A CA created by an earlier run is
# reused, so certificates issued at different times all verify.
# Development only: keys are unencrypted, and whoever holds ca.key can mint any device.
set -euo pipefail

if [ $# -lt 1 ] || [ "${1:-}" = "-h" ] || [ "${1:-}" = "--help" ]; then
  sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
  exit 2
fi
command -v openssl >/dev/null || { echo "dev-certs.sh: openssl not found (scripts/deps.sh)" >&2; exit 1; }

dir=$1
shift
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
umask 077  # keys readable by their owner only
DAYS=3650

newkey() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

# Signs the CSR on stdin with the CA: sign OUT.crt EXTENSIONS-FILE
sign() {
  openssl x509 -req -sha256 -days "$DAYS" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" \
    -CAserial "$dir/ca.srl" -CAcreateserial -extfile "$2" -out "$1" 2>/dev/null
  chmod 644 "$1"  # certificates are public
}
# True when NAME.key and NAME.crt exist and the certificate verifies against the current CA.
issued() {
  [ -s "$dir/$1.key" ] && [ -s "$dir/$1.crt" ] &&
    openssl verify -CAfile "$dir/ca.crt" "$dir/$1.crt" >/dev/null 2>&1
}

if [ ! -s "$dir/ca.key" ] || [ ! -s "$dir/ca.crt" ]; then
  newkey "$dir/ca.key"
  openssl req -new -x509 -sha256 -days "$DAYS" -key "$dir/ca.key" -subj "/CN=iotjobs development CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -out "$dir/ca.crt"
  chmod 644 "$dir/ca.crt"
fi

ext=$(mktemp)
trap 'rm -f "$ext"' EXIT

if ! issued server; then
  [ -s "$dir/server.key" ] || newkey "$dir/server.key"
  cat >"$ext" <<'EOF'
basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,DNS:localhost
EOF
  openssl req -new -sha256 -key "$dir/server.key" -subj "/CN=localhost" |
    sign "$dir/server.crt" "$ext"
fi
echo "ca.crt $dir/ca.crt"
echo "server.crt $dir/server.crt"
echo "server.key $dir/server.key"

cat >"$ext" <<'EOF'
basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth
EOF
for thing in "$@"; do
  # AWS IoT thing names: 1-128 of [a-zA-Z0-9:_-]; that also keeps them safe as file names.
  if ! [[ $thing =~ ^[a-zA-Z0-9:_-]{1,128}$ ]]; then
    echo "dev-certs.sh: '$thing' is not a valid thing name ([a-zA-Z0-9:_-]{1,128})" >&2
    exit 2
  fi
  if ! issued "$thing"; then
    [ -s "$dir/$thing.key" ] || newkey "$dir/$thing.key"
    openssl req -new -sha256 -key "$dir/$thing.key" -subj "/CN=$thing" |
      sign "$dir/$thing.crt" "$ext"
  fi
  echo "$thing.crt $dir/$thing.crt"
  echo "$thing.key $dir/$thing.key"
done
