#!/usr/bin/env bash
# Integration tests of `edge443 csr`: a request that lost its armour (bare
# base64, one line or many), Microsoft's "NEW CERTIFICATE REQUEST" label with
# CRLF line ends, and DER all come back byte-exact as the PEM that
# `openssl req` wrote; junk gets a clear error naming the file (exit 2), an
# unreadable file exit 3, a tampered signature exit 1.
. "$(dirname "$0")/lib.sh"

w=$(lib_workdir csr)

openssl req -new -newkey rsa:2048 -nodes -keyout "$w/req.key" \
	-subj "/CN=sip.example.com" \
	-addext "subjectAltName=DNS:sip.example.com,DNS:sip.example.org" \
	-addext "extendedKeyUsage=serverAuth,clientAuth" \
	-out "$w/req.pem" 2>/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout "$w/ec.key" -subj "/CN=www.example.com" \
	-addext "subjectAltName=DNS:www.example.com" -out "$w/ec.pem" 2>/dev/null

grep -v -- '-----' "$w/req.pem" >"$w/bare.txt"
tr -d '\n' <"$w/req.pem" | sed -e 's/-----BEGIN CERTIFICATE REQUEST-----//' \
	-e 's/-----END CERTIFICATE REQUEST-----//' >"$w/oneline.txt"
sed -e 's/CERTIFICATE REQUEST-----/NEW CERTIFICATE REQUEST-----/' -e 's/$/\r/' \
	"$w/req.pem" >"$w/ms.req"
openssl req -in "$w/req.pem" -outform DER -out "$w/req.der" 2>/dev/null

# --- every form round-trips byte-exact to stdout and to --out
for f in req.pem bare.txt oneline.txt ms.req req.der; do
	lib_run "$w" csr "$f"
	expect_rc 0 "csr $f"
	lib_checks=$((lib_checks + 1))
	[ "$out" = "$(cat "$w/req.pem")" ] || lib_fail "csr $f: stdout is not the original PEM"
	expect_out "sip.example.com, sip.example.org" "csr $f lists the SANs"
	rm -f "$w/out.csr"
	lib_run "$w" csr "$f" --out out.csr
	expect_rc 0 "csr $f --out"
	lib_checks=$((lib_checks + 1))
	cmp -s "$w/out.csr" "$w/req.pem" || lib_fail "csr $f --out: not byte-exact"
done
lib_run "$w" csr bare.txt --out out.csr
expect_out "CN=sip.example.com" "subject printed"
expect_out "RSA-2048" "key printed"
expect_out "serverAuth, clientAuth" "EKU printed"
expect_out "bare base64" "form named"
expect_out "verified" "signature verified"
lib_run "$w" csr ms.req --out out.csr
expect_out "NEW CERTIFICATE REQUEST" "Microsoft form named"
lib_checks=$((lib_checks + 1))
openssl req -in "$w/out.csr" -verify -noout 2>/dev/null || lib_fail "openssl cannot verify the re-armoured request"
lib_checks=$((lib_checks + 1))
awk '!/^-----/ && length($0) > 64 { bad = 1 } END { exit bad }' "$w/out.csr" || lib_fail "base64 lines longer than 64 columns"

lib_run "$w" csr ec.pem --out ec.out
expect_rc 0 "EC request"
expect_re 'key: +EC-(prime256v1|P-256)' "EC key described"
expect_out "(none requested)" "no EKU requested"

# --- junk: clear error, naming the file, exit 2
head -c 3000 /dev/urandom >"$w/random.bin"
printf 'Hello,\nplease find my request below.\n' >"$w/letter.txt"
: >"$w/empty.req"
head -c 300 "$w/bare.txt" >"$w/truncated.txt"
python3 - "$w/bare.txt" "$w/notreq.txt" <<'PY'
import sys, base64
# valid base64 that does not decode to a request
open(sys.argv[2], "w").write(base64.b64encode(b"this is not DER at all" * 20).decode())
PY
for f in random.bin letter.txt empty.req truncated.txt notreq.txt; do
	lib_run "$w" csr "$f"
	expect_rc 2 "junk $f"
	expect_out "$f" "junk $f: the message names the file"
	lib_checks=$((lib_checks + 1))
	[ -z "$out" ] || lib_fail "junk $f: something was written to stdout"
done
cp "$EDGE443_PKI/ssl1.crt" "$w/a-certificate.pem"
lib_run "$w" csr a-certificate.pem
expect_rc 2 "a certificate instead of a request"
expect_out '"CERTIFICATE"' "says what the file holds"

# --- unreadable: exit 3
lib_run "$w" csr no-such-file.csr
expect_rc 3 "missing file"
expect_out "no-such-file.csr" "missing file named"
mkdir -p "$w/adir"
lib_run "$w" csr adir
expect_rc 3 "a folder"

# --- a tampered signature: exit 1, nothing written
python3 - "$w/req.der" "$w/tampered.der" <<'PY'
import sys
d = bytearray(open(sys.argv[1], "rb").read())
d[-1] ^= 0xff
open(sys.argv[2], "wb").write(d)
PY
openssl req -inform DER -in "$w/tampered.der" -out "$w/tampered.pem" 2>/dev/null
grep -v -- '-----' "$w/tampered.pem" >"$w/tampered.txt"
for f in tampered.pem tampered.txt; do
	rm -f "$w/t.out"
	lib_run "$w" csr "$f" --out t.out
	expect_rc 1 "tampered $f"
	expect_out "does not verify" "tampered $f: says so"
	expect_out "$f" "tampered $f: names the file"
	lib_checks=$((lib_checks + 1))
	[ ! -e "$w/t.out" ] || lib_fail "tampered $f: output written"
done

# --- usage
lib_run "$w" csr
expect_rc 2 "csr without a file"
lib_run "$w" csr a b
expect_rc 2 "csr with two files"

lib_done
