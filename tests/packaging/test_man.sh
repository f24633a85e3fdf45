#!/usr/bin/env bash
# test_man.sh — the man pages are built and render without a warning.
#
# EDGE443_MAN_DIR holds what cmake/Edge443Man.cmake built from doc/*.scd:
# edge443.8 and edge443.conf.5, and the .gz copies that are installed.  Each
# page must pass `mandoc -Tlint -Wwarning` (no message at all) and
# `groff -man -ww -z` (nothing on stderr), and its .gz must hold the same page.
# Missing scdoc, mandoc or groff is a failure, not a skip: scripts/deps
# installs them.
set -uo pipefail
: "${EDGE443_MAN_DIR:?EDGE443_MAN_DIR must name the folder of the built man pages}"

failures=0
checks=0
fail() { failures=$((failures + 1)); echo "FAIL: $*"; }
check() { checks=$((checks + 1)); }

for tool in mandoc groff; do
  if ! command -v "$tool" >/dev/null; then
    echo "FAIL: $tool is not installed (scripts/deps installs mandoc and groff-base)"
    exit 1
  fi
done

for page in edge443.8 edge443.conf.5; do
  f=$EDGE443_MAN_DIR/$page
  check
  if [ ! -s "$f" ] || [ ! -s "$f.gz" ]; then
    fail "$page was not built in $EDGE443_MAN_DIR (is scdoc installed? scripts/deps installs it; then configure again)"
    continue
  fi
  check
  out=$(mandoc -Tlint -Wwarning "$f" 2>&1)
  rc=$?
  if [ "$rc" -ne 0 ] || [ -n "$out" ]; then
    fail "$page: mandoc -Tlint -Wwarning (exit $rc):"$'\n'"$out"
  fi
  check
  out=$(groff -man -ww -z "$f" 2>&1)
  rc=$?
  if [ "$rc" -ne 0 ] || [ -n "$out" ]; then
    fail "$page: groff -man -ww -z (exit $rc):"$'\n'"$out"
  fi
  check
  cmp -s "$f" <(gzip -dc "$f.gz") || fail "$page.gz does not hold $page"
  check
  head -n 20 "$f" | grep -q '^\.TH "edge443' || fail "$page has no .TH header"
done

echo "$((checks - failures)) passed, $failures failed"
[ "$failures" -eq 0 ]
