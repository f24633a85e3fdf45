#!/usr/bin/env bash
# Golden test: the text and JSON output of `edge443 check` on the classic
# OCS layout, compared byte for byte with tests/golden/.  Certificates are
# made at test time, so dates and fingerprints are replaced by placeholders
# before comparing.  EDGE443_UPDATE_GOLDEN=1 rewrites the golden files.
. "$(dirname "$0")/lib.sh"

w=$(lib_workdir golden)
lib_conf classic.conf "$w" >/dev/null
golden=$EDGE443_SRC/tests/golden

normalize_json() {
  python3 -c '
import json, sys
d = json.load(sys.stdin)
for c in d["certificates"]:
    for k in ("not_before", "not_after", "fingerprint_sha256"):
        if k in c:
            c[k] = "<" + k + ">"
json.dump(d, sys.stdout, indent=2)
print()
'
}

compare() { # NAME ACTUAL-FILE
  lib_checks=$((lib_checks + 1))
  if [ "${EDGE443_UPDATE_GOLDEN:-0}" = 1 ]; then
    cp "$2" "$golden/$1"
  elif ! diff -u "$golden/$1" "$2"; then
    lib_fail "$1 differs from the golden file (EDGE443_UPDATE_GOLDEN=1 to accept)"
  fi
}

lib_run "$w" check -c classic.conf
expect_rc 0 "classic text"
printf '%s\n' "$out" > "$w/classic.txt"
compare classic.txt "$w/classic.txt"

lib_run "$w" check -c classic.conf --format json
expect_rc 0 "classic json"
printf '%s\n' "$out" | normalize_json > "$w/classic.json"
compare classic.json "$w/classic.json"

lib_done
