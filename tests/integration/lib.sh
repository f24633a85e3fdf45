# lib.sh — shared helpers for the integration tests (sourced, not run).
# Environment from ctest: EDGE443 (the binary), EDGE443_PKI (test PKI folder,
# made by tests/pki/mkpki.sh), EDGE443_SRC (source root).
set -uo pipefail

: "${EDGE443:?EDGE443 must name the edge443 binary}"
: "${EDGE443_PKI:?EDGE443_PKI must name the test PKI folder}"
: "${EDGE443_SRC:?EDGE443_SRC must name the source root}"

lib_failures=0
lib_checks=0
lib_tmp=$(mktemp -d "${TMPDIR:-/tmp}/edge443-test.XXXXXX")
lib_pids=()
lib_shell=$BASHPID
out="" err="" rc=0

# At exit: stop what was started; remove the work folder when the test
# passed (exit status 0), keep it and say where when it did not.
lib_cleanup() {
  local rc=$?
  # A subshell that exits (on a set -u error, say) is not the test's end.
  [ "$BASHPID" = "$lib_shell" ] || return "$rc"
  for pid in "${lib_pids[@]:-}"; do
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  done
  if [ "$rc" -eq 0 ]; then
    rm -rf "$lib_tmp"
  else
    echo "kept $lib_tmp (the test did not pass)"
  fi
  return "$rc"
}
trap lib_cleanup EXIT

# A work folder with the PKI linked in as ./pki, so configs can use relative
# paths and outputs carry no machine-specific path.
lib_workdir() {
  local d="$lib_tmp/$1"
  mkdir -p "$d"
  ln -sfn "$EDGE443_PKI" "$d/pki"
  echo "$d"
}

# lib_copy_src DIR — a copy of the checkout in DIR (its tracked files and
# new ones git does not ignore; no build folder, no lab PKI), for tests that
# run scripts/ as a user does without writing into the source tree (which a
# second test run at once may share).  Without git: everything but .git,
# build*/ and certs/lab/.
lib_copy_src() {
  local dir=$1
  mkdir -p "$dir"
  if git -C "$EDGE443_SRC" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    (cd "$EDGE443_SRC" && git ls-files -z -co --exclude-standard |
      tar --null --ignore-failed-read -T - -cf - 2>/dev/null) | tar -C "$dir" -xf -
  else
    tar -C "$EDGE443_SRC" --exclude=./.git --exclude='./build*' \
      --exclude=./certs/lab -cf - . | tar -C "$dir" -xf -
  fi
}

# Substitute a template from tests/integration/data into DIR/NAME.
# Usage: lib_conf TEMPLATE DIR [sed-expr...]
lib_conf() {
  local tpl=$1 dir=$2; shift 2
  local out="$dir/$(basename "${tpl%.in}")"
  if [ $# -gt 0 ]; then
    local args=()
    for e in "$@"; do args+=(-e "$e"); done
    sed "${args[@]}" "$EDGE443_SRC/tests/integration/data/$tpl" > "$out"
  else
    cp "$EDGE443_SRC/tests/integration/data/$tpl" "$out"
  fi
  echo "$out"
}

# Run edge443 in DIR; sets out, err, rc.
lib_run() {
  local dir=$1; shift
  out=$(cd "$dir" && "$EDGE443" "$@" 2>"$lib_tmp/stderr")
  rc=$?
  err=$(cat "$lib_tmp/stderr")
}

lib_fail() {
  lib_failures=$((lib_failures + 1))
  echo "FAIL: $*"
  echo "---- stdout"; printf '%s\n' "$out" | head -60
  echo "---- stderr"; printf '%s\n' "$err" | head -60
}

expect_rc() {
  lib_checks=$((lib_checks + 1))
  [ "$rc" -eq "$1" ] || lib_fail "$2: exit status $rc, expected $1"
}

# expect_out PATTERN WHAT — stdout+stderr contain the fixed string PATTERN.
expect_out() {
  lib_checks=$((lib_checks + 1))
  grep -qF -- "$1" <<<"$out"$'\n'"$err" || lib_fail "$2: output lacks: $1"
}

expect_no_out() {
  lib_checks=$((lib_checks + 1))
  if grep -qF -- "$1" <<<"$out"$'\n'"$err"; then lib_fail "$2: output has: $1"; fi
}

# expect_re REGEX WHAT — stdout+stderr match the extended regex.
expect_re() {
  lib_checks=$((lib_checks + 1))
  grep -qE -- "$1" <<<"$out"$'\n'"$err" || lib_fail "$2: output does not match: $1"
}

lib_done() {
  local passed=$((lib_checks - lib_failures))
  echo "$passed passed, $lib_failures failed"
  [ "$lib_failures" -eq 0 ]
}
