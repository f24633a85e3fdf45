#!/usr/bin/env bash
# Integration tests of `edge443 check`: the real binary on good and broken
# configurations; exit codes and messages as a user sees them.
. "$(dirname "$0")/lib.sh"

w=$(lib_workdir check)

# --- the classic two-certificate layout passes (warnings allowed)
conf=$(lib_conf classic.conf "$w")
lib_run "$w" check -c classic.conf
expect_rc 0 "classic layout"
expect_re '^SERVICE +ROLE +LISTEN +FQDN +CERT +CN +MODE +BACKEND' "service map header"
expect_re '^access +access-edge +127\.0\.0\.11:443 +sip\.example\.com +ssl1 +sip\.example\.com +passthrough +edge' "access row"
expect_re '^webconf +webconf-edge +127\.0\.0\.12:443 +webconf\.example\.com +ssl2 +webconf\.example\.com' "webconf row"
expect_out "0 errors" "classic summary"
expect_no_out "error " "classic has no error line"

# --- the trap: one SAN certificate for every service on 443
cp "$conf" "$w/onesan.conf"
sed -i -e 's#pki/ssl[12]\.crt#pki/all.crt#' -e 's#pki/ssl1\.key#pki/all.key#' "$w/onesan.conf"
lib_run "$w" check -c onesan.conf
expect_rc 1 "one SAN certificate for all"
expect_re '^error cn-shared onesan\.conf:[0-9]+: ' "cn-shared finding with file:line"
expect_out "edge443 plan" "cn-shared points to edge443 plan"
expect_re '^error cn-is-fqdn onesan\.conf:[0-9]+: service "webconf"' "cn-is-fqdn for webconf"

# --- per-certificate problems reach the user with file, line, rule and fix
check_variant() { # NAME SED-EXPR RC RULE-REGEX [TEXT]
  local name=$1 expr=$2 want=$3 re=$4 text=${5:-}
  sed -e "$expr" "$conf" > "$w/$name.conf"
  lib_run "$w" check -c "$name.conf"
  expect_rc "$want" "$name"
  expect_re "$re" "$name"
  [ -z "$text" ] || expect_out "$text" "$name"
}
check_variant mismatch 's#pki/ssl1\.key#pki/mismatch.key#' 1 '^error key-match mismatch\.conf:7: '
check_variant worldkey 's#pki/ssl1\.key#pki/world.key#' 1 '^error key-perms worldkey\.conf:7: '
check_variant nochain '6d' 1 '^error chain-incomplete nochain\.conf:5: '
check_variant bare 's#pki/ssl1\.crt#pki/bare.crt#' 1 '^error file-unreadable bare\.conf:5: ' '"-----BEGIN CERTIFICATE-----"'
check_variant missingcert 's#pki/ssl1\.crt#pki/nonexistent.crt#' 1 '^error file-unreadable missingcert\.conf:5: ' 'nonexistent.crt'
check_variant expiredleaf 's#pki/ssl2\.crt#pki/expired.crt#' 1 '^error expired expiredleaf\.conf:11: '
check_variant nokey '/pki\/ssl1\.key/d' 1 '^error key-missing nokey\.conf:[0-9]+: '
check_variant unknownref 's#certificate = "ssl2"#certificate = "ssl9"#' 1 '^error ref-unknown unknownref\.conf:[0-9]+: '

# --- --at: will this still pass on the go-live date?
lib_run "$w" check -c classic.conf --at 2099-12-31
expect_rc 1 "--at far future"
expect_re '^error expired classic\.conf:5: ' "--at reports expiry"
lib_run "$w" check -c classic.conf --at yesterday
expect_rc 2 "--at garbage"
expect_out "--at yesterday" "--at garbage message"

# --- JSON: one well-formed document with services, certificates, findings
lib_run "$w" check -c onesan.conf --format json
expect_rc 1 "json exit status follows findings"
printf '%s' "$out" > "$w/out.json"
lib_checks=$((lib_checks + 1))
python3 - "$w/out.json" <<'PY' || lib_fail "json document"
import json, sys
d = json.load(open(sys.argv[1]))
assert [s["name"] for s in d["services"]] == ["access", "cwa", "webconf", "av"], d["services"]
assert {c["name"] for c in d["certificates"]} == {"ssl1", "ssl2"}
rules = {f["rule"] for f in d["findings"]}
assert "cn-shared" in rules, rules
f = [f for f in d["findings"] if f["rule"] == "cn-shared"][0]
assert f["severity"] == "error" and f["file"] == "onesan.conf" and f["line"] > 0, f
assert d["errors"] >= 1 and d["valid"] is False
PY
lib_run "$w" check -c classic.conf --format yaml
expect_rc 2 "bad --format"

# --- configuration errors: exit 2 with file:line; unreadable: exit 3
printf 'service a {\n  role = "access-edge"\n  bogus = 1\n}\n' > "$w/syntax.conf"
lib_run "$w" check -c syntax.conf
expect_rc 2 "unknown option"
expect_re 'syntax\.conf:3' "unknown option names file:line"

lib_run "$w" check -c does-not-exist.conf
expect_rc 3 "missing config"
expect_out "does-not-exist.conf" "missing config named"

mkdir -p "$w/adir.conf"
lib_run "$w" check -c adir.conf
expect_rc 3 "directory as config"
expect_out "adir.conf" "directory named"

: > "$w/empty.conf"
lib_run "$w" check -c empty.conf
expect_rc 2 "empty config"
expect_out "empty.conf" "empty config named"

head -c 8192 /dev/urandom > "$w/binary.conf"
lib_run "$w" check -c binary.conf
expect_rc 2 "binary config"
expect_out "binary.conf" "binary config named"

head -c 700 "$conf" > "$w/truncated.conf"
lib_run "$w" check -c truncated.conf
expect_rc 2 "truncated config"
expect_out "truncated.conf" "truncated config named"

# --- a config with 10,000 sections: no crash, a normal answer
{
  cat "$conf"
  for i in $(seq 1 10000); do printf 'backend spare%d {\n  servers = {"127.0.1.%d:443"}\n}\n' "$i" $((i % 250 + 1)); done
} > "$w/big.conf"
lib_run "$w" check -c big.conf
expect_rc 0 "10,000 sections"
expect_re '^warn unused big\.conf:[0-9]+: .*spare10000' "unused backends reported"

# --- usage
lib_run "$w" frobnicate
expect_rc 2 "unknown command"
lib_run "$w" version
expect_rc 0 "version"
expect_out "edge443" "version text"

lib_done
