#!/usr/bin/env bash
# Make the certificates for TLS (README, Security): a CA for the cluster, and
# for each node of the config a key and a certificate signed by that CA, valid
# for the node's host (and localhost), for both server and client use (peers
# check each other). Needs openssl.
#   scripts/make-certs.sh [--config FILE] [--out DIR]     (DIR: certs beside the config)
# Then add to nodes.json, and copy DIR to every machine:
#   "tls": {"certFile": "certs/{id}.crt", "keyFile": "certs/{id}.key", "caFile": "certs/ca.crt"}
# An existing CA in DIR is kept (certificates of new nodes are signed by it).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
parse_config_opt "$@"
set -- "${REST[@]+"${REST[@]}"}"
out=""
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out="$2"; shift 2 ;;
    --out=*) out="${1#*=}"; shift ;;
    *) echo "make-certs.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
out="${out:-$(dirname "$CONFIG")/certs}"
command -v openssl >/dev/null || { echo "make-certs.sh: openssl is needed (apt-get install openssl)" >&2; exit 1; }
ensure_built
mkdir -p "$out"
chmod 700 "$out"
umask 077
if [ ! -f "$out/ca.key" ] || [ ! -f "$out/ca.crt" ]; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 \
    -keyout "$out/ca.key" -out "$out/ca.crt" -subj "/CN=ringstore cluster CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
  echo "made the CA: $out/ca.crt (its key $out/ca.key stays here: it signs every node's certificate)"
fi
ctl hosts --config "$CONFIG" | while read -r id host; do
  if [[ "$host" =~ ^[0-9.]+$ || "$host" == *:* ]]; then san="IP:$host"; else san="DNS:$host"; fi
  [ "$host" = "127.0.0.1" ] || san="$san,IP:127.0.0.1"
  [ "$host" = "localhost" ] || san="$san,DNS:localhost"
  ext="$(mktemp)"
  printf 'subjectAltName=%s\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyAgreement\nextendedKeyUsage=serverAuth,clientAuth\n' "$san" > "$ext"
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$out/$id.key" -out "$out/$id.csr" -subj "/CN=$id" 2>/dev/null
  openssl x509 -req -in "$out/$id.csr" -CA "$out/ca.crt" -CAkey "$out/ca.key" -CAcreateserial -days 825 -out "$out/$id.crt" -extfile "$ext" 2>/dev/null
  rm -f "$out/$id.csr" "$ext"
  echo "$id: $out/$id.crt ($san)"
done
chmod 644 "$out/ca.crt" "$out"/*.crt
echo "add to $(basename "$CONFIG"): \"tls\": {\"certFile\": \"$(realpath --relative-to="$(dirname "$CONFIG")" "$out")/{id}.crt\", \"keyFile\": \"$(realpath --relative-to="$(dirname "$CONFIG")" "$out")/{id}.key\", \"caFile\": \"$(realpath --relative-to="$(dirname "$CONFIG")" "$out")/ca.crt\"}"
