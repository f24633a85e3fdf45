#!/usr/bin/env bash
# scripts/lab and the lab layout without the demo (README "The lab on its
# own"): scripts/lab pki makes the lab PKI, scripts/lab start runs the lab
# backends in the background by PID, `edge443 run -c conf/lab.conf` serves
# the lab and the lab passes its own `edge443 probe` with no error (the
# A/V Edge names no certificate: its stand-in, like the real A/V Edge's
# TCP 443, is not TLS); scripts/lab stop stops exactly those backends.
# Binds 127.0.0.11-14:443 and 127.0.0.21-24 (its own network namespace as
# root, see netns.sh), in a copy of the checkout.
. "$(dirname "$0")/lib.sh"

src=$lib_tmp/src
lib_copy_src "$src"
lab() { out=$(cd "$src" && EDGE443=$EDGE443 bash scripts/lab "$@" 2>"$lib_tmp/lab.err"); rc=$?; err=$(cat "$lib_tmp/lab.err"); }
# Running, and not a zombie that no parent has reaped yet.
alive() { [ -r "/proc/$1/status" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status"; }

lab start
expect_rc 3 "start without a lab PKI"
expect_out "scripts/lab pki" "start without a lab PKI says how to make it"

lab pki
expect_rc 0 "pki"
lib_checks=$((lib_checks + 1))
[ -s "$src/certs/lab/ssl1.crt" ] && [ -s "$src/certs/lab/cwa01.key" ] && [ -s "$src/certs/lab/trap.conf" ] ||
  lib_fail "pki: certs/lab has the lab PKI and trap.conf"

lab status
expect_rc 1 "status before start"
lab start
expect_rc 0 "start"
expect_out "scripts/lab stop" "start says how to stop"
mapfile -t pids <"$src/certs/lab/backends.pid"
lib_checks=$((lib_checks + 1))
[ ${#pids[@]} -eq 4 ] || lib_fail "start: four pids in certs/lab/backends.pid (${pids[*]})"
lab start
expect_rc 1 "a second start is refused"
expect_out "already run" "a second start says why"
lab status
expect_rc 0 "status while running"

# edge443 in front of them, then its own probe
(cd "$src" && exec "$EDGE443" run -c conf/lab.conf) 2>"$lib_tmp/edge443.log" &
edge=$!
lib_pids+=("$edge")
for _ in $(seq 1 100); do
  grep -q "serving conf/lab.conf" "$lib_tmp/edge443.log" && break
  kill -0 "$edge" 2>/dev/null || break
  sleep 0.1
done
lib_run "$src" probe -c conf/lab.conf
expect_rc 0 "the lab passes its own probe"
expect_re "^conf/lab.conf: 8 connections probed: 0 errors" "probe: 0 errors"
expect_re "^av +127\.0\.0\.13:443 .*not TLS \(fine: av-edge without certificate\)" "probe: av is plain TCP"
expect_re "^cwa->cwa +127\.0\.0\.24:8443 .*verified" "probe: the CWA backend verifies"
out=$(curl -sS --max-time 10 --cacert "$src/certs/lab/root.pem" --resolve cwa.example.com:443:127.0.0.14 \
  https://cwa.example.com/ 2>&1)
expect_out "CWA server cwa01.corp.example (lab) /" "CWA answers through edge443, no 502"

lab stop
expect_rc 0 "stop"
for p in "${pids[@]}"; do
  lib_checks=$((lib_checks + 1))
  ! alive "$p" || lib_fail "stop: backend pid $p still runs"
done
lib_checks=$((lib_checks + 1))
[ ! -e "$src/certs/lab/backends.pid" ] || lib_fail "stop removes the pid file"
lab status
expect_rc 1 "status after stop"

# Without the backends the same probe finds errors: what `run` alone gave.
lib_run "$src" probe -c conf/lab.conf
expect_rc 1 "probe without the lab backends"
kill -TERM "$edge"
wait "$edge"
rc=$?
out=$(cat "$lib_tmp/edge443.log")
expect_rc 0 "edge443 stops on SIGTERM"
expect_no_out "Sanitizer" "no sanitizer report"
lib_done
