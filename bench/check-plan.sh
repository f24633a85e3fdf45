#!/usr/bin/env bash
# bench/check-plan.sh [BINARY] — how long `edge443 check` takes on a plan of
# 200 services and 100 certificates (EC P-256 leaves from a throw-away CA made
# with the openssl CLI).  Prints the median of 10 runs.  Not a test: run by
# hand (target: well under one second).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=$(realpath "${1:-$here/../build/edge443}")
[ -x "$bin" ] || { echo "build edge443 first (scripts/demo builds build/edge443)" >&2; exit 2; }
work=$(mktemp -d /tmp/edge443-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work"

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key \
  -out ca.crt -days 90 -subj "/CN=bench root" -addext basicConstraints=critical,CA:true \
  -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
{
  echo 'trust_file = "ca.crt"'
  for c in $(seq 0 99); do
    a=$((2 * c)); b=$((2 * c + 1))
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout c$c.key \
      -subj "/CN=s$a.example.com" -out c$c.csr 2>/dev/null
    chmod 600 c$c.key
    printf 'subjectAltName=DNS:s%d.example.com,DNS:s%d.example.com\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature\n' "$a" "$b" > c$c.ext
    openssl x509 -req -in c$c.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 90 \
      -extfile c$c.ext -out c$c.crt 2>/dev/null
    printf 'certificate c%d {\n  cert = "c%d.crt"\n  key = "c%d.key"\n}\n' "$c" "$c" "$c"
  done
  printf 'backend b {\n  servers = {"127.0.0.1:8080"}\n}\n'
  for s in $(seq 0 199); do
    printf 'service s%d {\n  role = "web"\n  fqdn = "s%d.example.com"\n  listen = "127.0.%d.%d:443"\n  certificate = "c%d"\n  mode = "terminate"\n  backend = "b"\n}\n' \
      "$s" "$s" $((s / 250 + 2)) $((s % 250 + 1)) $((s / 2))
  done
} > plan.conf

"$bin" check -c plan.conf > check.out || { echo "check failed:"; tail -5 check.out; exit 1; }
times=()
for i in $(seq 1 10); do
  t0=$(date +%s%N); "$bin" check -c plan.conf > /dev/null; t1=$(date +%s%N)
  times+=($(( (t1 - t0) / 1000 )))
done
median=$(printf '%s\n' "${times[@]}" | sort -n | sed -n 5p)
echo "check: 200 services, 100 certificates: median ${median} us over 10 runs ($(tail -1 check.out))"
