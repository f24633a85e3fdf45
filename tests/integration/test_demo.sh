#!/usr/bin/env bash
# scripts/demo --once, as a user runs it (README "Two commands"): its own
# release build, the lab PKI, check, the trap refused, the lab served on
# loopback (127.0.0.1x, port 443 and 80), and every client command it prints
# answered as the demo says.
. "$(dirname "$0")/lib.sh"

build="$(dirname "$EDGE443")/demo-build"
out=$(cd "$EDGE443_SRC" && EDGE443_BUILD_DIR="$build" bash scripts/demo --once 2>&1)
rc=$?
err=""
expect_rc 0 "scripts/demo --once"
expect_out "conf/lab.conf: 0 errors" "the lab plan passes check"
expect_out "exit status: 1 (1 = refused" "the trap layout is refused"
expect_out "error cn-shared" "the trap is explained (cn-shared)"
expect_out "subject=CN = sip.example.com" "Access Edge listener presents its CN"
expect_out "subject=CN = webconf.example.com" "Web Conferencing Edge presents its own CN without SNI"
expect_out "CWA server cwa01.corp.example (lab) /" "CWA is published, bridged to the internal server"
expect_out "hello A/V" "the A/V Edge passes a non-TLS stream"
expect_out "301 https://cwa.example.com/cwa/?a=1" "port 80 redirects to https"
expect_re "^  421$" "a foreign Host gets 421"
expect_out "INFO stopped" "edge443 stops on SIGTERM"
expect_no_out "Sanitizer" "no sanitizer report"
lib_done
