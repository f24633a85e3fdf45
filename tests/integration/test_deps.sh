#!/usr/bin/env bash
# scripts/deps as a newcomer's first run sees it: one line, whatever apt and
# dpkg print (hundreds of lines on a fresh machine), the details in the log
# file it names; on a failure the log's last lines and a non-zero exit.
# apt-get, dpkg-query and id are stand-ins on PATH: nothing is installed.
. "$(dirname "$0")/lib.sh"

stub=$lib_tmp/bin
mkdir -p "$stub"
# Every package is missing; apt-get is as verbose as the real one on a
# fresh Debian 12, or fails like it when STUB_FAIL=1.
cat >"$stub/dpkg-query" <<'SH'
#!/bin/sh
exit 1
SH
cat >"$stub/id" <<'SH'
#!/bin/sh
echo 0
SH
cat >"$stub/apt-get" <<'SH'
#!/bin/sh
echo "apt-get $*" >>"$STUB_CALLS"
case $1 in
update) i=0; while [ $i -lt 40 ]; do echo "Get:$i http://deb.debian.org/debian bookworm InRelease"; i=$((i+1)); done ;;
install)
  if [ "${STUB_FAIL:-0}" = 1 ]; then
    echo "Reading package lists..."
    echo "E: Unable to locate package frobnicate" >&2
    exit 100
  fi
  i=0; while [ $i -lt 550 ]; do echo "Selecting previously unselected package p$i."; i=$((i+1)); done ;;
esac
SH
chmod +x "$stub"/*
export STUB_CALLS=$lib_tmp/calls

run_deps() {
  out=$(cd "$EDGE443_SRC" && PATH=$stub:$PATH EDGE443_DEPS_LOG=$lib_tmp/log/deps.log \
    bash scripts/deps 2>"$lib_tmp/deps.err")
  rc=$?
  err=$(cat "$lib_tmp/deps.err")
}

run_deps
expect_rc 0 "deps: installs"
lib_checks=$((lib_checks + 1))
[ "$(printf '%s\n' "$out" "$err" | grep -c .)" -eq 1 ] ||
  lib_fail "deps: prints one line, not apt's and dpkg's output"
expect_re "^scripts/deps: installing [0-9]+ Debian packages \(details in $lib_tmp/log/deps.log\) \.\.\. done in [0-9]+ s$" \
  "deps: the line says how many, where the details are, and done"
lib_checks=$((lib_checks + 1))
[ "$(grep -c 'Selecting previously unselected' "$lib_tmp/log/deps.log")" -eq 550 ] ||
  lib_fail "deps: dpkg's 550 lines are in the log"
lib_checks=$((lib_checks + 1))
grep -q -- "apt-get install -y -q --no-install-recommends .*libssl-dev" "$STUB_CALLS" ||
  lib_fail "deps: apt-get install got the missing packages"

STUB_FAIL=1 run_deps
lib_checks=$((lib_checks + 1))
[ "$rc" -ne 0 ] || lib_fail "deps: a failed apt-get is a failure"
expect_out "failed" "deps: says it failed"
expect_out "E: Unable to locate package frobnicate" "deps: shows the end of the log"
expect_out "$lib_tmp/log/deps.log" "deps: names the log"
lib_done
