#!/usr/bin/env bash
# Golden test: the text and JSON output of `edge443 check` on the classic
# OCS layout, compared byte for byte with tests/golden/.  Certificates are
# made at test time, so dates and fingerprints are replaced by placeholders
# before comparing.  Then the README's golden examples (marked
# <!-- golden: NAME -->), run as the README shows them in a copy of the
# checkout with a fresh lab PKI (tests/golden/readme_examples.py), so that
# they cannot drift from what edge443 prints.  EDGE443_UPDATE_GOLDEN=1
# rewrites the golden files and the README's examples.
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
    for i in c.get("intermediates") or []:
        i["not_after"] = "<not_after>"
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

# --- the README's examples: every name below must be marked in README.md
readme_examples=(lab-check lab-trap probe-help)
src=$lib_tmp/src
lib_copy_src "$src"
mkdir -p "$lib_tmp/bin"
ln -s "$EDGE443" "$lib_tmp/bin/edge443"
lib_checks=$((lib_checks + 1))
(cd "$src" && EDGE443=$EDGE443 bash scripts/lab pki) >"$lib_tmp/pki.log" 2>&1 ||
  lib_fail "scripts/lab pki: $(tail -5 "$lib_tmp/pki.log")"
update=()
[ "${EDGE443_UPDATE_GOLDEN:-0}" = 1 ] && update=(--update)
lib_checks=$((lib_checks + 1))
PATH=$lib_tmp/bin:$PATH python3 "$golden/readme_examples.py" "$EDGE443_SRC/README.md" \
  "$src" "${readme_examples[@]}" "${update[@]}" ||
  { out="" err=""; lib_fail "the README's examples differ from edge443's output (EDGE443_UPDATE_GOLDEN=1 to accept)"; }

lib_done
