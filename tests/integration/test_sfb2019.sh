#!/usr/bin/env bash
# The Skype for Business Server 2019 layout (README "Two commands", scripts/demo
# --platform sfb2019): `edge443 plan` on conf/sfb2019.conf orders exactly two
# public certificates (the Edge external one, subject = the Access Edge FQDN,
# and the reverse proxy's) plus the internal one, with their CN and SANs;
# then the loopback lab twin conf/sfb2019-lab.conf from `plan --lab`
# (scripts/lab --platform sfb2019 pki: every leaf with a CRL distribution
# point and an AIA) through `check` (0 errors; its trap refused) to `run`
# in front of the lab backends (scripts/lab --platform sfb2019 start) and
# `probe` (0 errors), with clients through the Edge and the reverse proxy.
# In a copy of the checkout whose lab config and scripts/lab are moved from
# 127.0.0.31-45 to this file's own range, 127.0.12.31-45 (port 443 and 80).
. "$(dirname "$0")/lib.sh"

src=$lib_tmp/src
lib_copy_src "$src"
sed -i 's/127\.0\.0\.\([34][0-9]\)/127.0.12.\1/g' "$src/conf/sfb2019-lab.conf" "$src/scripts/lab"
lab() { out=$(cd "$src" && EDGE443=$EDGE443 bash scripts/lab "$@" --platform sfb2019 2>"$lib_tmp/lab.err"); rc=$?; err=$(cat "$lib_tmp/lab.err"); }
alive() { [ -r "/proc/$1/status" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status"; }
labdir=$src/certs/lab/sfb2019

# ---- plan on the production example: two public certificates + internal
lib_run "$src" plan -c conf/sfb2019.conf
expect_rc 0 "plan conf/sfb2019.conf"
expect_out "conf/sfb2019.conf: 3 certificates (2 public, 1 internal) for 6 services" "plan: 2 public + 1 internal"
expect_re "^edge +sip\.example\.com +sip\.example\.com,webconf\.example\.com +serverAuth +public +access, webconf, av$" \
  "plan: the Edge certificate (subject = Access Edge FQDN, Web Conferencing SAN, A/V rides)"
expect_re "^rp +webext\.example\.com +webext\.example\.com,meet\.example\.com,dialin\.example\.com,lyncdiscover\.example\.com,oos\.example\.com +serverAuth +public +webext, oos$" \
  "plan: the reverse-proxy certificate (web services, simple URLs, lyncdiscover, OOS)"
expect_re "^edgeint +edgepool\.corp\.example +edgepool\.corp\.example +serverAuth +internal +edgeint$" \
  "plan: the Edge internal interface on its own internal certificate"
lib_run "$src" plan -c conf/sfb2019.conf --format json
expect_rc 0 "plan --format json"
lib_checks=$((lib_checks + 1))
python3 - "$out" <<'EOF' || lib_fail "plan --format json: the two public certificates and the internal one"
import json, sys
d = json.loads(sys.argv[1])
got = [(c["name"], c["ca"], c["cn"], c["sans"], c["services"]) for c in d["certificates"]]
want = [
    ("edge", "public", "sip.example.com", ["sip.example.com", "webconf.example.com"],
     ["access", "webconf", "av"]),
    ("rp", "public", "webext.example.com",
     ["webext.example.com", "meet.example.com", "dialin.example.com",
      "lyncdiscover.example.com", "oos.example.com"], ["webext", "oos"]),
    ("edgeint", "internal", "edgepool.corp.example", ["edgepool.corp.example"], ["edgeint"]),
]
assert d["platform"] == "sfb2019", d["platform"]
assert got == want, got
EOF

# ---- the lab: plan --lab (scripts/lab pki) and check
lab start
expect_rc 3 "start without the SfB lab PKI"
expect_out "scripts/lab --platform sfb2019 pki" "start without a PKI says how to make it"
lab pki
expect_rc 0 "scripts/lab --platform sfb2019 pki"
expect_out "conf/sfb2019-lab.conf: 2 certificates (2 public, 0 internal) for 5 services" "plan --lab: two lab certificates"
for f in edge.crt edge.key rp.crt rp.key root.pem chain.pem pool01.crt oos01.crt internal-ca.crt trap.conf; do
  lib_checks=$((lib_checks + 1))
  [ -s "$labdir/$f" ] || lib_fail "pki: certs/lab/sfb2019/$f"
done
for f in edge.crt rp.crt pool01.crt oos01.crt chain.pem; do
  out=$(openssl x509 -in "$labdir/$f" -noout -ext crlDistributionPoints,authorityInfoAccess 2>&1)
  err=""
  expect_re "URI:http://pki\.lab\.invalid/[a-z-]+\.crl" "$f has a CRL distribution point"
  expect_re "CA Issuers - URI:http://pki\.lab\.invalid/" "$f has an AIA caIssuers"
  expect_re "OCSP - URI:http://ocsp\.lab\.invalid/" "$f has an AIA OCSP"
done
out=$(cat "$labdir/edge443.conf.snippet")
expect_out '#   service webconf: certificate = "edge"' "the snippet: Web Conferencing on the Edge certificate"
expect_out '#   service av: no certificate (it rides on "edge" without its FQDN)' \
  "the snippet: the A/V Edge names no certificate (its FQDN is not on it)"
expect_out '#   service oos: certificate = "rp"' "the snippet: Office Online Server on the reverse-proxy certificate"
out=$(openssl x509 -in "$labdir/edge.crt" -noout -subject -ext subjectAltName 2>&1)
expect_out "CN = sip.example.com" "the lab Edge certificate: subject = the Access Edge FQDN"
expect_out "DNS:sip.example.com, DNS:webconf.example.com" "the lab Edge certificate's SANs"

lib_run "$src" check -c conf/sfb2019-lab.conf
expect_rc 0 "check conf/sfb2019-lab.conf"
expect_re "^conf/sfb2019-lab.conf: 0 errors" "check: 0 errors"
expect_no_out "crl-dp-present" "check: the lab leaves have a CRL distribution point"
expect_no_out "aia-present" "check: the lab leaves have an AIA"
lib_run "$src" check -c certs/lab/sfb2019/trap.conf
expect_rc 1 "the trap (the Edge certificate on the reverse proxy) is refused"
expect_out "error fqdn-covered certs/lab/sfb2019/trap.conf:" "the trap is explained (fqdn-covered)"

# ---- run in front of the lab backends, and probe
lab start
expect_rc 0 "scripts/lab --platform sfb2019 start"
expect_out "scripts/lab stop --platform sfb2019" "start says how to stop"
mapfile -t pids <"$labdir/backends.pid"
lib_pids+=("${pids[@]}") # stopped at exit too, should the test fail before lab stop
lib_checks=$((lib_checks + 1))
[ ${#pids[@]} -eq 5 ] || lib_fail "start: five pids in certs/lab/sfb2019/backends.pid (${pids[*]})"

(cd "$src" && exec "$EDGE443" run -c conf/sfb2019-lab.conf) 2>"$lib_tmp/edge443.log" &
edge=$!
lib_pids+=("$edge")
for _ in $(seq 1 100); do
  grep -q "serving conf/sfb2019-lab.conf" "$lib_tmp/edge443.log" && break
  kill -0 "$edge" 2>/dev/null || break
  sleep 0.1
done
lib_run "$src" probe -c conf/sfb2019-lab.conf
expect_rc 0 "the SfB lab passes its own probe"
expect_re "^conf/sfb2019-lab.conf: [0-9]+ connections probed: 0 errors" "probe: 0 errors"
expect_re "^av +127\.0\.12\.33:443 .*not TLS \(fine: av-edge without certificate\)" "probe: av is plain TCP"
expect_re "^webext->pool_web +127\.0\.12\.44:4443 .*verified" "probe: the front-end pool's external site verifies"
lib_run "$src" probe -c conf/sfb2019-lab.conf --pool
expect_rc 0 "the SfB lab passes probe --pool (every Edge and front-end pool member presents the same certificate)"
expect_re "pool member of backend" "probe --pool connects to the pool members directly"

root=$labdir/root.pem
via() { # via NAME IP [PATH]: an HTTPS GET of https://NAME/PATH through edge443 at IP
  out=$(curl -sS --max-time 10 --cacert "$root" --resolve "$1:443:$2" "https://$1/${3:-}" 2>&1)
  rc=$?
  err=""
}
via webext.example.com 127.0.12.34
expect_out "front-end pool external web site pool01.corp.example (SfB lab) /" "external web services through the reverse proxy"
via meet.example.com 127.0.12.34 meet/
expect_out "(SfB lab) /meet/" "the simple URL meet on the reverse-proxy certificate"
via dialin.example.com 127.0.12.34
expect_out "pool01.corp.example (SfB lab) /" "the simple URL dialin"
via lyncdiscover.example.com 127.0.12.34 "?sipuri=user@example.com"
expect_out "pool01.corp.example (SfB lab) /" "lyncdiscover on the reverse-proxy certificate"
via oos.example.com 127.0.12.35 hosting/discovery
expect_out "Office Online Server oos01.corp.example (SfB lab) /hosting/discovery" "Office Online Server through the reverse proxy"
via sip.example.com 127.0.12.31
expect_out "Access Edge server (SfB lab) /" "Access Edge: passed through to its server"
via webconf.example.com 127.0.12.32
expect_out "Web Conferencing Edge server (SfB lab) /" "Web Conferencing Edge: passed through, the same certificate covers it"
out=$(openssl s_client -connect 127.0.12.32:443 -noservername </dev/null 2>/dev/null | grep subject=)
expect_out "CN = sip.example.com" "Web Conferencing Edge presents the one Edge certificate"
out=$(python3 -c 'import socket; s=socket.create_connection(("127.0.12.33",443), timeout=10); s.sendall(b"hello A/V\n"); s.shutdown(1); print(s.recv(100).decode().strip())' 2>&1)
expect_out "hello A/V" "A/V Edge: a stream that is not TLS passes through"
out=$(curl -sS --max-time 10 -o /dev/null -w '%{http_code} %{redirect_url}\n' http://127.0.12.34/meet/?a=1 2>&1)
expect_out "301 https://webext.example.com/meet/?a=1" "port 80 redirects to https"

lab stop
expect_rc 0 "scripts/lab --platform sfb2019 stop"
for p in "${pids[@]}"; do
  lib_checks=$((lib_checks + 1))
  ! alive "$p" || lib_fail "stop: backend pid $p still runs"
done
kill -TERM "$edge"
wait "$edge"
rc=$?
out=$(cat "$lib_tmp/edge443.log")
err=""
expect_rc 0 "edge443 stops on SIGTERM"
expect_no_out "Sanitizer" "no sanitizer report"
lib_done
