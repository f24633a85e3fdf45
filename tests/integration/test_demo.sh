#!/usr/bin/env bash
# scripts/demo --once, as a user runs it (README "Two commands"): its own
# release build, the lab PKI, check, the trap refused, the lab served on
# loopback (127.0.0.1x, port 443 and 80), its own probe passing, and every
# client command it prints answered as the demo says.  It runs in a copy of
# the checkout (in the build folder, so its release build is incremental),
# so that two test runs at once never share certs/lab/; its temporary
# folder must be gone afterwards.
. "$(dirname "$0")/lib.sh"

here=$(cd "$(dirname "$EDGE443")" && pwd)
copy=$here/demo-checkout
# A fresh copy is rebuilt whole anyway; a build folder left by an older run
# (another source folder in its cache) would refuse to configure.
rm -rf "$copy" "$here/demo-build"
lib_copy_src "$copy"
mkdir -p "$lib_tmp/tmp"
out=$(cd "$copy" && TMPDIR=$lib_tmp/tmp EDGE443_BUILD_DIR="$here/demo-build" \
  bash scripts/demo --once 2>&1)
rc=$?
err=""
expect_rc 0 "scripts/demo --once"
expect_out "edge443 is built: $here/demo-build/edge443" "says where the binary is"
expect_out 'export PATH=' "says how to put it on PATH"
expect_out "What this demo shows" "says what it proves"
expect_out "conf/lab.conf: 0 errors" "the lab plan passes check"
expect_out "exit status: 1 (1 = refused" "the trap layout is refused"
expect_out "error cn-shared certs/lab/trap.conf:" "the trap is explained (cn-shared)"
expect_out "serving (pid " "says it is serving"
expect_re "^conf/lab.conf: [0-9]+ connections probed: 0 errors" "the lab passes its own probe"
expect_re "^av +127\.0\.0\.13:443 .*not TLS \(fine: av-edge without certificate\)" \
  "probe: the A/V Edge is plain TCP, as its stand-in"
expect_out "subject=CN = sip.example.com" "Access Edge listener presents its CN"
expect_out "subject=CN = webconf.example.com" "Web Conferencing Edge presents its own CN without SNI"
expect_out "CWA server cwa01.corp.example (lab) /" "CWA is published, bridged to the internal server"
expect_out "hello A/V" "the A/V Edge passes a non-TLS stream"
expect_no_out "nc -q1" "no netcat (nothing installs it)"
expect_out "301 https://cwa.example.com/cwa/?a=1" "port 80 redirects to https"
expect_re "^  421$" "a foreign Host gets 421"
expect_out "INFO stopped" "edge443 stops on SIGTERM"
expect_out "keeps the lab serving until Ctrl-C" "says that without --once it keeps serving"
expect_no_out "Sanitizer" "no sanitizer report"
lib_checks=$((lib_checks + 1))
left=$(ls -A "$lib_tmp/tmp")
[ -z "$left" ] || lib_fail "scripts/demo left $left in TMPDIR"
lib_checks=$((lib_checks + 1))
[ ! -e "$copy/certs/lab/backends.pid" ] && ! pgrep -f "$copy/tests/integration/backend.py" >/dev/null ||
  lib_fail "the lab backends are still running"
[ "$lib_failures" -ne 0 ] || rm -rf "$copy"
lib_done
