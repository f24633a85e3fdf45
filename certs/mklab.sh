#!/usr/bin/env bash
# certs/mklab.sh [DIR [HOST...]] — the internal side of the lab PKI (default
# DIR: certs/lab beside this script), made with the openssl CLI only: a
# throw-away internal CA (internal-ca.crt) and the certificate of each
# internal server HOST (default: cwa01.corp.example, the internal CWA server
# of conf/lab.conf; conf/sfb2019-lab.conf asks for pool01.corp.example, the
# front-end pool's external web site, and oos01.corp.example, the Office
# Online Server) as HOST-SHORT.crt and .key (cwa01.crt, cwa01.key, ...),
# which edge443 re-encrypts to and verifies against the internal CA.  Every
# leaf names a CRL distribution point and an Authority Information Access
# (caIssuers, OCSP) of the internal CA at http://pki.lab.invalid/ (never
# fetched; crl-dp-present and aia-present want them), as the leaves of
# `edge443 plan --lab` do.  The public certificates of the lab come from
# `edge443 plan --lab` (scripts/demo runs both).  The keys made here are
# never committed (.gitignore).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dir=${1:-$here/lab}
[ $# -gt 0 ] && shift
hosts=("$@")
[ ${#hosts[@]} -gt 0 ] || hosts=(cwa01.corp.example)
ca=lab-internal-ca
mkdir -p "$dir"
cd "$dir"
umask 077
openssl req -x509 -newkey rsa:2048 -sha256 -nodes -days 365 \
  -keyout internal-ca.key -out internal-ca.crt -subj "/CN=edge443 Lab Internal CA" \
  -addext basicConstraints=critical,CA:true -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
for host in "${hosts[@]}"; do
  short=${host%%.*}
  openssl req -new -newkey rsa:2048 -nodes -keyout "$short.key" -out "$short.csr" \
    -subj "/CN=$host" 2>/dev/null
  printf '%s\n' "basicConstraints=CA:false" "keyUsage=critical,digitalSignature,keyEncipherment" \
    "extendedKeyUsage=serverAuth" "subjectAltName=DNS:$host" \
    "crlDistributionPoints=URI:http://pki.lab.invalid/$ca.crl" \
    "authorityInfoAccess=caIssuers;URI:http://pki.lab.invalid/$ca.crt,OCSP;URI:http://ocsp.lab.invalid/$ca" \
    >"$short.ext"
  openssl x509 -req -sha256 -days 90 -in "$short.csr" -CA internal-ca.crt -CAkey internal-ca.key \
    -CAcreateserial -extfile "$short.ext" -out "$short.crt" 2>/dev/null
  rm -f "$short.csr" "$short.ext"
  chmod 644 "$short.crt"
done
rm -f internal-ca.key internal-ca.srl
chmod 644 internal-ca.crt
echo "certs/mklab.sh: internal CA and ${hosts[*]} in $dir"
