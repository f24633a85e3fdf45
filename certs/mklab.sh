#!/usr/bin/env bash
# certs/mklab.sh [DIR] — the internal side of the lab PKI (default DIR:
# certs/lab beside this script), made with the openssl CLI only: a throw-away
# internal CA (internal-ca.crt) and the certificate of the internal CWA
# server, cwa01.corp.example (cwa01.crt, cwa01.key), which edge443
# re-encrypts to and verifies against the internal CA.  The public
# certificates of the lab come from `edge443 plan --lab` (scripts/demo runs
# both).  The keys made here are never committed (.gitignore).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dir=${1:-$here/lab}
mkdir -p "$dir"
cd "$dir"
umask 077
openssl req -x509 -newkey rsa:2048 -sha256 -nodes -days 365 \
  -keyout internal-ca.key -out internal-ca.crt -subj "/CN=edge443 Lab Internal CA" \
  -addext basicConstraints=critical,CA:true -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
openssl req -new -newkey rsa:2048 -nodes -keyout cwa01.key -out cwa01.csr \
  -subj "/CN=cwa01.corp.example" 2>/dev/null
printf '%s\n' "basicConstraints=CA:false" "keyUsage=critical,digitalSignature,keyEncipherment" \
  "extendedKeyUsage=serverAuth" "subjectAltName=DNS:cwa01.corp.example" > cwa01.ext
openssl x509 -req -sha256 -days 90 -in cwa01.csr -CA internal-ca.crt -CAkey internal-ca.key \
  -CAcreateserial -extfile cwa01.ext -out cwa01.crt 2>/dev/null
rm -f cwa01.csr cwa01.ext internal-ca.key internal-ca.srl
chmod 644 internal-ca.crt cwa01.crt
echo "certs/mklab.sh: internal CA and cwa01.corp.example in $dir"
