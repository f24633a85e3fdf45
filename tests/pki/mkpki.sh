#!/usr/bin/env bash
# mkpki.sh DIR — make the edge443 test PKI in DIR with the openssl CLI only.
#
# Every certificate and key the unit and integration tests use is made here,
# at test time, so no private key is ever committed.  The file names are a
# contract shared by all tests (see the list below and tests/CMakeLists.txt,
# which runs this script as the "pki" ctest fixture).  Re-running overwrites
# everything: the script is idempotent.
#
# Layout:
#   root.crt/.key          "edge443 Test Public Root" (self-signed CA, 10 years)
#   int.crt/.key           "edge443 Test Public Intermediate" (CA, pathlen 0)
#   trust.pem = root.crt   chain.pem = int.crt
#   internal-ca.crt/.key   "edge443 Test Internal Root" (self-signed CA)
#   good leaves            ssl1 ssl2 all ecdsa web edge-int cwa-backend
#                          cwa-deep (two internal intermediates: cwa-deep-full.pem)
#   reverse proxy          rp: webext.example.com with meet, dialin and
#                          lyncdiscover.example.com/.org SANs (CDP and AIA)
#   revocation pointers    cdp-aia (CRL distribution point, AIA caIssuers and
#                          OCSP), cdp-only (CDP, no AIA), nocdp (public chain,
#                          neither); the good public leaves (ssl1 ssl2 all ecdsa
#                          web) carry CDP and AIA too, as a public CA's do
#   intermediates          int-short (valid 20 days: expires before its
#                          leaves) issued short-int, chain short-int-chain.pem;
#                          int-expired (2020-2021) issued expired-int, chain
#                          expired-int-chain.pem; both leaves carry CDP and AIA
#   broken leaves          expired notyet soon longlife nosan cn-not-san
#                          wildcard badorder rsa1024 sha1 clientonly serveronly
#                          nodigsig internal-name selfsigned
#   broken files           mismatch.key world.key bare.crt bare.key
#                          chain-extra.pem empty.pem garbage.pem truncated.crt
# Leaves are RSA-2048, sha256, issued by int, valid from yesterday for 90
# days, keyUsage=critical,digitalSignature,keyEncipherment,
# extendedKeyUsage=serverAuth,clientAuth unless the list says otherwise.
# Keys are mode 0600 (world.key 0644), certificates 0644.
set -euo pipefail

if [ $# -ne 1 ]; then
	echo "usage: $0 DIR" >&2
	exit 2
fi

dir=$1
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
ca="$dir/.ca"
rm -rf "$ca"
mkdir -p "$ca/new"
: >"$ca/index.txt"
echo "unique_subject = no" >"$ca/index.txt.attr"
umask 077

# Dates for `openssl ca` (GeneralizedTime form; ca normalises to UTCTime
# before 2050).  The CLI's x509 command of OpenSSL 3.0 cannot set a past
# notBefore, so every issued certificate goes through `openssl ca`.
now=$(date -u +%s)
stamp() { date -u -d "@$1" +%Y%m%d%H%M%SZ; }
day=86400
yesterday=$((now - day))

# Extension values reach the config through the environment so that one
# config file serves every certificate.
export E443_SAN="DNS:unused.example"
export E443_KU="critical,digitalSignature,keyEncipherment"
export E443_EKU="serverAuth,clientAuth"

cat >"$ca/openssl.cnf" <<EOF
[ ca ]
default_ca = ca_default

[ ca_default ]
database        = $ca/index.txt
new_certs_dir   = $ca/new
serial          = $ca/serial
default_md      = sha256
policy          = ca_policy
unique_subject  = no
copy_extensions = none
email_in_dn     = no
preserve        = yes

[ ca_policy ]
commonName = supplied

[ req ]
distinguished_name = req_dn
prompt             = no
utf8               = yes

[ req_dn ]
CN = placeholder

[ v3_root ]
basicConstraints       = critical,CA:TRUE
keyUsage               = critical,keyCertSign,cRLSign
subjectKeyIdentifier   = hash

[ v3_int ]
basicConstraints       = critical,CA:TRUE,pathlen:0
keyUsage               = critical,keyCertSign,cRLSign
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid:always

[ v3_int_top ]
basicConstraints       = critical,CA:TRUE,pathlen:1
keyUsage               = critical,keyCertSign,cRLSign
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid:always

[ v3_leaf ]
basicConstraints       = critical,CA:FALSE
keyUsage               = \$ENV::E443_KU
extendedKeyUsage       = \$ENV::E443_EKU
subjectAltName         = \$ENV::E443_SAN
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid:always

# A leaf as a public CA issues it: v3_leaf plus a CRL distribution point and
# Authority Information Access (caIssuers, OCSP).
[ v3_leaf_pub ]
basicConstraints       = critical,CA:FALSE
keyUsage               = \$ENV::E443_KU
extendedKeyUsage       = \$ENV::E443_EKU
subjectAltName         = \$ENV::E443_SAN
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid:always
crlDistributionPoints  = URI:http://crl.example.com/edge443-test.crl
authorityInfoAccess    = caIssuers;URI:http://pki.example.com/edge443-test-int.crt,OCSP;URI:http://ocsp.example.com/

[ v3_leaf_cdp ]
basicConstraints       = critical,CA:FALSE
keyUsage               = \$ENV::E443_KU
extendedKeyUsage       = \$ENV::E443_EKU
subjectAltName         = \$ENV::E443_SAN
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid:always
crlDistributionPoints  = URI:http://crl.example.com/edge443-test.crl

[ v3_leaf_nosan ]
basicConstraints       = critical,CA:FALSE
keyUsage               = \$ENV::E443_KU
extendedKeyUsage       = \$ENV::E443_EKU
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid:always

[ v3_self ]
basicConstraints       = critical,CA:FALSE
keyUsage               = \$ENV::E443_KU
extendedKeyUsage       = \$ENV::E443_EKU
subjectAltName         = \$ENV::E443_SAN
subjectKeyIdentifier   = hash
EOF
cnf="$ca/openssl.cnf"

# rsakey NAME [BITS]: a fresh RSA key in NAME.key (PKCS#8 PEM).
rsakey() {
	rm -f "$dir/$1.key"
	openssl genpkey -quiet -algorithm RSA -pkeyopt "rsa_keygen_bits:${2:-2048}" \
		-out "$dir/$1.key"
}

# eckey NAME: a fresh EC P-256 key in NAME.key.
eckey() {
	rm -f "$dir/$1.key"
	openssl genpkey -quiet -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
		-pkeyopt ec_param_enc:named_curve -out "$dir/$1.key"
}

# sign NAME CN ISSUER EXTSECTION START END [MD]: issue NAME.crt for NAME.key,
# signed by ISSUER.crt/ISSUER.key.
sign() {
	local name=$1 cn=$2 issuer=$3 ext=$4 start=$5 end=$6 md=${7:-sha256}
	openssl req -new -config "$cnf" -key "$dir/$name.key" -subj "/CN=$cn" \
		-out "$ca/$name.csr"
	openssl ca -batch -config "$cnf" -rand_serial -notext -md "$md" \
		-cert "$dir/$issuer.crt" -keyfile "$dir/$issuer.key" \
		-extfile "$cnf" -extensions "$ext" \
		-startdate "$(stamp "$start")" -enddate "$(stamp "$end")" \
		-in "$ca/$name.csr" -out "$dir/$name.crt" 2>"$ca/$name.log" ||
		{ cat "$ca/$name.log" >&2; return 1; }
}

# leaf NAME CN SANS [ISSUER] [EXTSECTION]: an ordinary RSA-2048 leaf valid
# from yesterday for 90 days, with the extensions of EXTSECTION (default
# v3_leaf: no CDP, no AIA).  SANS is a comma-separated list of DNS names.
sans() {
	local out="" n names
	IFS=, read -ra names <<<"$1"
	for n in "${names[@]}"; do out="${out:+$out,}DNS:$n"; done
	echo "$out"
}
leaf() {
	local name=$1 cn=$2 san=$3 issuer=${4:-int} ext=${5:-v3_leaf}
	rsakey "$name"
	E443_SAN=$(sans "$san") sign "$name" "$cn" "$issuer" "$ext" \
		"$yesterday" $((yesterday + 90 * day))
}

# --- CAs -----------------------------------------------------------------
rsakey root
openssl req -new -x509 -config "$cnf" -key "$dir/root.key" \
	-subj "/CN=edge443 Test Public Root" -extensions v3_root -days 3650 \
	-out "$dir/root.crt"
rsakey int
sign int "edge443 Test Public Intermediate" root v3_int \
	"$yesterday" $((yesterday + 5 * 365 * day))
rsakey internal-ca
openssl req -new -x509 -config "$cnf" -key "$dir/internal-ca.key" \
	-subj "/CN=edge443 Test Internal Root" -extensions v3_root -days 3650 \
	-out "$dir/internal-ca.crt"
cp "$dir/root.crt" "$dir/trust.pem"
cp "$dir/int.crt" "$dir/chain.pem"

# --- good leaves ---------------------------------------------------------
# The public good leaves carry a CRL distribution point and AIA, as every
# public CA's certificates do (crl-dp-present, aia-present).
leaf ssl1 sip.example.com \
	sip.example.com,cwa.example.com,as.cwa.example.com,download.cwa.example.com,sip.example.org \
	int v3_leaf_pub
leaf ssl2 webconf.example.com webconf.example.com,av.example.com int v3_leaf_pub
leaf all sip.example.com \
	sip.example.com,webconf.example.com,av.example.com,cwa.example.com,as.cwa.example.com,download.cwa.example.com \
	int v3_leaf_pub
eckey ecdsa
E443_SAN=DNS:www.example.com E443_KU=critical,digitalSignature \
	sign ecdsa www.example.com int v3_leaf_pub "$yesterday" $((yesterday + 90 * day))
leaf web www.example.com 'www.example.com,*.example.com' int v3_leaf_pub
leaf edge-int edge01.corp.example edge01.corp.example internal-ca
leaf cwa-backend cwa01.corp.example cwa01.corp.example internal-ca
# A backend two intermediates below the internal root (nginx's default verify
# depth of 1 rejected such chains): cwa-deep-full.pem = leaf + both.
rsakey internal-int1
sign internal-int1 "edge443 Test Internal Policy CA" internal-ca v3_int_top \
	"$yesterday" $((yesterday + 5 * 365 * day))
rsakey internal-int2
sign internal-int2 "edge443 Test Internal Issuing CA" internal-int1 v3_int \
	"$yesterday" $((yesterday + 5 * 365 * day))
leaf cwa-deep cwa02.corp.example cwa02.corp.example internal-int2
cat "$dir/cwa-deep.crt" "$dir/internal-int2.crt" "$dir/internal-int1.crt" \
	>"$dir/cwa-deep-full.pem"

# The reverse proxy's certificate of a Lync / SfB pool: external web
# services, simple URLs and lyncdiscover for two SIP domains.
leaf rp webext.example.com \
	webext.example.com,meet.example.com,dialin.example.com,lyncdiscover.example.com,lyncdiscover.example.org \
	int v3_leaf_pub

# --- revocation pointers and intermediates ------------------------------
leaf cdp-aia sip.example.com sip.example.com int v3_leaf_pub
leaf cdp-only sip.example.com sip.example.com int v3_leaf_cdp
leaf nocdp sip.example.com sip.example.com
# An intermediate that expires in 20 days, before the 90-day leaf it issued.
rsakey int-short
sign int-short "edge443 Test Short-lived Intermediate" root v3_int \
	"$yesterday" $((now + 20 * day))
leaf short-int sip.example.com sip.example.com int-short v3_leaf_pub
cp "$dir/int-short.crt" "$dir/short-int-chain.pem"
# An intermediate that expired in 2021, and a current leaf it issued.
rsakey int-expired
sign int-expired "edge443 Test Expired Intermediate" root v3_int \
	"$(date -u -d 2020-01-01 +%s)" "$(date -u -d 2021-01-01 +%s)"
leaf expired-int sip.example.com sip.example.com int-expired v3_leaf_pub
cp "$dir/int-expired.crt" "$dir/expired-int-chain.pem"

# --- broken variants -----------------------------------------------------
sip=DNS:sip.example.com
rsakey expired
E443_SAN=$sip sign expired sip.example.com int v3_leaf \
	"$(date -u -d 2020-01-01 +%s)" "$(date -u -d 2021-01-01 +%s)"
rsakey notyet
E443_SAN=$sip sign notyet sip.example.com int v3_leaf \
	"$(date -u -d 2099-01-01 +%s)" "$(date -u -d 2099-03-01 +%s)"
rsakey soon
E443_SAN=$sip sign soon sip.example.com int v3_leaf "$yesterday" $((now + 10 * day))
rsakey longlife
E443_SAN=$sip sign longlife sip.example.com int v3_leaf \
	"$yesterday" $((yesterday + 825 * day))
rsakey nosan
sign nosan sip.example.com int v3_leaf_nosan "$yesterday" $((yesterday + 90 * day))
leaf cn-not-san sip.example.com www.example.com
leaf wildcard '*.example.com' '*.example.com'
leaf badorder sip.example.com '*.example.com,www.example.com,sip.example.com'
rsakey rsa1024 1024
E443_SAN=$sip sign rsa1024 sip.example.com int v3_leaf "$yesterday" $((yesterday + 90 * day))
rsakey sha1
E443_SAN=$sip sign sha1 sip.example.com int v3_leaf \
	"$yesterday" $((yesterday + 90 * day)) sha1
rsakey clientonly
E443_SAN=$sip E443_EKU=clientAuth sign clientonly sip.example.com int v3_leaf \
	"$yesterday" $((yesterday + 90 * day))
rsakey serveronly
E443_SAN=$sip E443_EKU=serverAuth sign serveronly sip.example.com int v3_leaf \
	"$yesterday" $((yesterday + 90 * day))
rsakey nodigsig
E443_SAN=$sip E443_KU=critical,keyEncipherment sign nodigsig sip.example.com int \
	v3_leaf "$yesterday" $((yesterday + 90 * day))
leaf internal-name sip.example.com sip.example.com,server.local
rsakey selfsigned
E443_SAN=$sip openssl req -new -x509 -config "$cnf" -key "$dir/selfsigned.key" \
	-subj "/CN=sip.example.com" -extensions v3_self -days 90 \
	-out "$dir/selfsigned.crt"

# --- broken files --------------------------------------------------------
rsakey mismatch
rm -f "$dir/world.key"
cp "$dir/ssl1.key" "$dir/world.key"
chmod 0644 "$dir/world.key"
grep -v -- '-----' "$dir/ssl1.crt" >"$dir/bare.crt"
rm -f "$dir/bare.key"
grep -v -- '-----' "$dir/ssl1.key" >"$dir/bare.key"
cat "$dir/int.crt" "$dir/root.crt" "$dir/internal-ca.crt" >"$dir/chain-extra.pem"
: >"$dir/empty.pem"
openssl rand -out "$dir/garbage.pem" 4096
size=$(wc -c <"$dir/ssl1.crt")
head -c $((size / 2)) "$dir/ssl1.crt" >"$dir/truncated.crt"

# Permissions: keys private (umask 077 made them 0600), everything else
# world-readable like an ordinary certificate file.
chmod 0600 "$dir"/*.key
chmod 0644 "$dir"/*.crt "$dir"/*.pem "$dir/world.key"
rm -rf "$ca"
