#!/usr/bin/env bash
# Tests clean up after themselves: a test that passes leaves no
# edge443-* folder in TMPDIR (harness.py for the Python tests, lib.sh for
# the shell tests); one that fails keeps its folder and prints where it is.
. "$(dirname "$0")/lib.sh"

t=$lib_tmp/tmp
mkdir -p "$t"
here=$EDGE443_SRC/tests/integration

# run_case NAME KIND PASS — a tiny test of KIND (py or sh) that passes or
# fails, run with TMPDIR=$t; sets out, rc and left (what it left in $t).
run_case() {
  local name=$1 kind=$2 pass=$3
  if [ "$kind" = py ]; then
    out=$(cd "$t" && TMPDIR=$t PYTHONPATH=$here python3 -c "
from harness import Harness
H = Harness('$name')
open(H.path('work.txt'), 'w').write('x')
H.check($pass, 'the case')
H.done()" 2>&1)
  else
    out=$(TMPDIR=$t bash -c ". '$here/lib.sh'; echo x > \"\$lib_tmp/work.txt\";
      lib_checks=1; [ $pass = True ] || lib_fail 'the case'; lib_done" 2>&1)
  fi
  rc=$?
  left=$(cd "$t" && ls -d edge443-* 2>/dev/null)
}

for kind in py sh; do
  run_case "clean$kind" $kind True
  expect_rc 0 "$kind: a passing test exits 0"
  lib_checks=$((lib_checks + 1))
  [ -z "$left" ] || lib_fail "$kind: a passing test left $left in TMPDIR"

  run_case "kept$kind" $kind False
  expect_rc 1 "$kind: a failing test exits 1"
  lib_checks=$((lib_checks + 1))
  [ -n "$left" ] && [ -e "$t/$left/work.txt" ] ||
    lib_fail "$kind: a failing test did not keep its folder"
  expect_out "kept $t/$left" "$kind: a failing test says where its folder is"
  rm -rf "${t:?}"/edge443-*
done
err=""
lib_done
