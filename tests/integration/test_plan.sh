#!/usr/bin/env bash
# Integration tests of `edge443 plan`: the smallest certificate set for the
# classic OCS layout and for one with an Edge internal interface, keys and
# CSRs with --out (checked with the openssl CLI), the never-overwrite-a-key
# rule, and a --lab layout whose certificates verify against the lab root and
# pass `edge443 check`.
. "$(dirname "$0")/lib.sh"

w=$(lib_workdir plan)

# The classic four services with no certificate lines at all.
cat >"$w/services.conf" <<'EOF'
backend edge {
  servers = {"127.0.0.21:5061", "127.0.0.22:5061"}
}

backend cwa {
  servers = {"127.0.0.24:8443"}
  tls = true
  trust_file = "pki/internal-ca.crt"
  verify_name = "cwa01.corp.example"
}

service access {
  role = "access-edge"
  fqdn = "sip.example.com"
  listen = "127.0.0.11:443"
  mode = "passthrough"
  backend = "edge"
  sip_domains = {"example.com", "example.org"}
}

service cwa {
  role = "cwa"
  fqdn = "cwa.example.com"
  listen = "127.0.0.14:443"
  mode = "reencrypt"
  backend = "cwa"
}

service webconf {
  role = "webconf-edge"
  fqdn = "webconf.example.com"
  listen = "127.0.0.12:443"
  mode = "passthrough"
  backend = "edge"
}

service av {
  role = "av-edge"
  fqdn = "av.example.com"
  listen = "127.0.0.13:443"
  mode = "passthrough"
  backend = "edge"
}
EOF

# The same plus the Edge internal interface, and federation on Access Edge.
sed -e 's/sip_domains = {"example.com", "example.org"}/&\n  federation = true/' \
	"$w/services.conf" >"$w/internal.conf"
cat >>"$w/internal.conf" <<'EOF'

service edgeint {
  role = "edge-internal"
  fqdn = "edge01.corp.example"
  listen = "127.0.0.15:443"
  mode = "passthrough"
  backend = "edge"
}
EOF

# mkconf SERVICES LABDIR OUT — a full config: trust_file from the snippet,
# the snippet itself, and the services with the certificate lines that the
# snippet's comment lists ("#   service NAME: certificate = "X"").
mkconf() {
	local services=$1 lab=$2 conf=$3
	{
		sed -n 's/^#   \(trust_file = .*\)$/\1/p' "$lab/edge443.conf.snippet"
		cat "$lab/edge443.conf.snippet"
		awk -v map="$(grep -E '^#   service ' "$lab/edge443.conf.snippet")" '
			BEGIN {
				n = split(map, l, "\n")
				for (i = 1; i <= n; i++) {
					split(l[i], a, " "); s = a[3]; sub(":", "", s)
					c = l[i]; sub(/.*certificate = /, "", c); m[s] = c
				}
			}
			/^service / { print; if ($2 in m) print "  certificate = " m[$2]; next }
			{ print }' "$services"
	} >"$conf"
}

# --- the classic layout: exactly two public certificates, CN first
lib_run "$w" plan -c services.conf
expect_rc 0 "plan classic"
expect_re '^CERTIFICATE +CN +SANS +EKU +CA +SERVICES' "plan table header"
expect_re '^cert1 +sip\.example\.com +sip\.example\.com,sip\.example\.org,cwa\.example\.com,as\.cwa\.example\.com,download\.cwa\.example\.com +serverAuth +public +access, cwa$' "Access Edge certificate carries CWA"
expect_re '^cert2 +webconf\.example\.com +webconf\.example\.com,av\.example\.com +serverAuth +public +webconf, av$' "Web Conferencing certificate carries A/V"
expect_out "2 certificates (2 public, 0 internal)" "two certificates"
expect_no_out "cert3" "no third certificate"

lib_run "$w" plan -c services.conf --format json
expect_rc 0 "plan classic json"
printf '%s' "$out" >"$w/plan.json"
lib_checks=$((lib_checks + 1))
python3 - "$w/plan.json" <<'PY' || lib_fail "plan json document"
import json, sys
d = json.load(open(sys.argv[1]))
c = d["certificates"]
assert d["count"] == 2 and len(c) == 2, d
assert c[0]["cn"] == "sip.example.com" and c[0]["sans"][0] == "sip.example.com", c[0]
assert c[0]["sans"] == ["sip.example.com", "sip.example.org", "cwa.example.com",
                        "as.cwa.example.com", "download.cwa.example.com"], c[0]
assert c[0]["services"] == ["access", "cwa"] and c[0]["ca"] == "public"
assert c[1]["cn"] == "webconf.example.com" and c[1]["sans"] == ["webconf.example.com", "av.example.com"], c[1]
assert c[0]["eku"] == ["serverAuth"]
PY

# Names follow the config's certificate sections when a service names one.
lib_conf classic.conf "$w" >/dev/null
lib_run "$w" plan -c classic.conf
expect_rc 0 "plan classic.conf"
expect_re '^ssl1 +sip\.example\.com ' "name from the certificate section (ssl1)"
expect_re '^ssl2 +webconf\.example\.com ' "name from the certificate section (ssl2)"

# --- the Edge internal interface adds an internal certificate
lib_run "$w" plan -c internal.conf
expect_rc 0 "plan internal"
expect_re '^cert3 +edge01\.corp\.example +edge01\.corp\.example +serverAuth +internal +edgeint$' "internal certificate"
expect_re '^cert1 +sip\.example\.com .* serverAuth,clientAuth +public' "federation asks for clientAuth"
expect_out "3 certificates (2 public, 1 internal)" "three certificates"

# --- --out: keys 0600, CSRs that verify and carry CN, SANs and EKU
lib_run "$w" plan -c services.conf --out out
expect_rc 0 "plan --out"
for n in cert1 cert2; do
	lib_checks=$((lib_checks + 1))
	[ "$(stat -c %a "$w/out/$n.key")" = 600 ] || lib_fail "$n.key mode is $(stat -c %a "$w/out/$n.key")"
	lib_checks=$((lib_checks + 1))
	head -1 "$w/out/$n.csr" | grep -qx -- '-----BEGIN CERTIFICATE REQUEST-----' || lib_fail "$n.csr armour"
	lib_checks=$((lib_checks + 1))
	openssl req -in "$w/out/$n.csr" -verify -noout 2>/dev/null || lib_fail "$n.csr does not verify"
	lib_checks=$((lib_checks + 1))
	[ "$(openssl pkey -in "$w/out/$n.key" -pubout 2>/dev/null)" = "$(openssl req -in "$w/out/$n.csr" -pubkey -noout 2>/dev/null)" ] ||
		lib_fail "$n.key does not belong to $n.csr"
done
text=$(openssl req -in "$w/out/cert1.csr" -noout -text 2>/dev/null)
lib_checks=$((lib_checks + 1))
printf '%s\n' "$text" | grep -q 'Subject: CN *= *sip.example.com' || lib_fail "cert1.csr subject"
lib_checks=$((lib_checks + 1))
printf '%s\n' "$text" | grep -q 'DNS:sip.example.com, DNS:sip.example.org, DNS:cwa.example.com, DNS:as.cwa.example.com, DNS:download.cwa.example.com' ||
	lib_fail "cert1.csr SANs: $(printf '%s\n' "$text" | grep DNS:)"
lib_checks=$((lib_checks + 1))
printf '%s\n' "$text" | grep -q 'TLS Web Server Authentication' || lib_fail "cert1.csr EKU"
lib_checks=$((lib_checks + 1))
openssl req -in "$w/out/cert2.csr" -noout -text 2>/dev/null | grep -q 'DNS:webconf.example.com, DNS:av.example.com' || lib_fail "cert2.csr SANs"

# --- an existing key is never overwritten without --force
sum=$(sha256sum "$w/out/cert1.key")
lib_run "$w" plan -c services.conf --out out
expect_rc 2 "existing key without --force"
expect_out "cert1.key" "refusal names the key file"
expect_out "--force" "refusal says --force"
lib_checks=$((lib_checks + 1))
[ "$sum" = "$(sha256sum "$w/out/cert1.key")" ] || lib_fail "cert1.key was overwritten"
lib_run "$w" plan -c services.conf --out out --force --key ec:p256
expect_rc 0 "--force replaces the keys"
lib_checks=$((lib_checks + 1))
[ "$sum" != "$(sha256sum "$w/out/cert1.key")" ] || lib_fail "--force did not replace cert1.key"
lib_checks=$((lib_checks + 1))
openssl pkey -in "$w/out/cert1.key" -noout -text 2>/dev/null | grep -q 'prime256v1\|P-256' || lib_fail "--key ec:p256"
lib_checks=$((lib_checks + 1))
[ "$(stat -c %a "$w/out/cert1.key")" = 600 ] || lib_fail "forced key mode"

lib_run "$w" plan -c services.conf --key dsa:1024
expect_rc 2 "bad --key"
expect_out "--key dsa:1024" "bad --key message"

# --- --lab: a throw-away CA; certificates verify and the layout passes check
lib_run "$w" plan -c services.conf --lab lab
expect_rc 0 "plan --lab"
for f in root.pem chain.pem internal-root.pem edge443.conf.snippet cert1.crt cert1.key cert2.crt cert2.key; do
	lib_checks=$((lib_checks + 1))
	[ -s "$w/lab/$f" ] || lib_fail "lab/$f missing"
done
for n in cert1 cert2; do
	lib_checks=$((lib_checks + 1))
	openssl verify -CAfile "$w/lab/root.pem" -untrusted "$w/lab/chain.pem" "$w/lab/$n.crt" >/dev/null 2>&1 ||
		lib_fail "lab $n.crt does not verify to the lab root"
	lib_checks=$((lib_checks + 1))
	[ "$(stat -c %a "$w/lab/$n.key")" = 600 ] || lib_fail "lab $n.key mode"
done
ctext=$(openssl x509 -in "$w/lab/cert1.crt" -noout -text 2>/dev/null)
lib_checks=$((lib_checks + 1))
printf '%s\n' "$ctext" | grep -q 'CA:FALSE' || lib_fail "lab leaf basicConstraints"
lib_checks=$((lib_checks + 1))
printf '%s\n' "$ctext" | grep -q 'Digital Signature, Key Encipherment' || lib_fail "lab leaf keyUsage"
lib_checks=$((lib_checks + 1))
printf '%s\n' "$ctext" | grep -q 'sha256WithRSAEncryption' || lib_fail "lab leaf signature"
lib_checks=$((lib_checks + 1))
openssl x509 -in "$w/lab/chain.pem" -noout -text 2>/dev/null | grep -q 'CA:TRUE, pathlen:0' || lib_fail "lab intermediate pathlen 0"
expect_out "root.pem" "lab output names root.pem"
lib_checks=$((lib_checks + 1))
grep -q 'trust_file = ".*/lab/root.pem"' "$w/lab/edge443.conf.snippet" || lib_fail "snippet names the trust_file"
lib_checks=$((lib_checks + 1))
grep -qi 'absolute' "$w/lab/edge443.conf.snippet" || lib_fail "snippet says the paths are absolute"

mkconf "$w/services.conf" "$w/lab" "$w/lab.conf"
lib_run "$w" check -c lab.conf
expect_rc 0 "check on the lab layout"
expect_out "0 errors" "lab layout has no error"
expect_re '^access +access-edge +127\.0\.0\.11:443 +sip\.example\.com +cert1 +sip\.example\.com' "lab access row"
expect_re '^webconf +webconf-edge +127\.0\.0\.12:443 +webconf\.example\.com +cert2 +webconf\.example\.com' "lab webconf row"

# Re-running into the same lab folder refuses to replace its keys.
lib_run "$w" plan -c services.conf --lab lab
expect_rc 2 "lab keys not overwritten"

# The internal layout: internal certificate from the lab internal root.
lib_run "$w" plan -c internal.conf --lab labint
expect_rc 0 "plan --lab internal"
expect_out "internal root" "lab output mentions the internal root"
lib_checks=$((lib_checks + 1))
openssl verify -CAfile "$w/labint/internal-root.pem" "$w/labint/cert3.crt" >/dev/null 2>&1 ||
	lib_fail "internal certificate does not verify to the lab internal root"
lib_checks=$((lib_checks + 1))
if openssl verify -CAfile "$w/labint/root.pem" -untrusted "$w/labint/chain.pem" "$w/labint/cert3.crt" >/dev/null 2>&1; then
	lib_fail "internal certificate chains to the public lab root"
fi
lib_checks=$((lib_checks + 1))
openssl x509 -in "$w/labint/cert1.crt" -noout -text 2>/dev/null | grep -q 'TLS Web Server Authentication, TLS Web Client Authentication' ||
	lib_fail "federation: lab certificate lacks clientAuth"
lib_checks=$((lib_checks + 1))
grep -q 'internal-root.pem' "$w/labint/edge443.conf.snippet" || lib_fail "snippet mentions internal-root.pem"
mkconf "$w/internal.conf" "$w/labint" "$w/labint.conf"
lib_run "$w" check -c labint.conf
expect_rc 0 "check on the internal lab layout"
expect_out "0 errors" "internal lab layout has no error"

# --- what cannot be planned, and usage
sed -e 's/fqdn = "cwa.example.com"/fqdn = "*.example.com"/' "$w/services.conf" >"$w/wild.conf"
lib_run "$w" plan -c wild.conf
lib_checks=$((lib_checks + 1))
[ "$rc" -ne 0 ] || lib_fail "a wildcard FQDN is planned"
expect_out "wild.conf" "wildcard refusal names the file"
lib_run "$w" plan -c does-not-exist.conf
expect_rc 3 "plan: missing config"
lib_run "$w" plan -c services.conf --format yaml
expect_rc 2 "plan: bad --format"
lib_run "$w" plan -c services.conf extra
expect_rc 2 "plan: extra argument"

lib_done
