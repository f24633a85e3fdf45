#!/usr/bin/env bash
# test_logrotate.sh — dist/edge443.logrotate rotates log_file and edge443
# reopens it (SIGUSR1).
#
# Runs `edge443 run` with log_file in a temporary folder, one passthrough
# service on a free loopback port and --pidfile; rotates with logrotate and a
# copy of dist/edge443.logrotate whose paths point at the temporary folder
# (and whose unit name is one that no machine runs, so that the pid-file
# branch is taken even where systemd runs an edge443.service).  After each
# rotation the old file must be moved away (then compressed), and edge443
# must write to a new file at the original path: only the postrotate
# signal makes it do so.
set -uo pipefail
: "${EDGE443:?EDGE443 must name the edge443 binary}"
: "${EDGE443_SRC:?EDGE443_SRC must name the source root}"

failures=0
checks=0
fail() { failures=$((failures + 1)); echo "FAIL: $*"; }
tmp=$(mktemp -d /tmp/edge443-logrotate.XXXXXX)
edge=
cleanup() {
  if [ -n "$edge" ]; then
    kill "$edge" 2>/dev/null
    wait "$edge" 2>/dev/null
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

if ! command -v logrotate >/dev/null; then
  echo "FAIL: logrotate is not installed (scripts/deps installs it)"
  exit 1
fi

# wait_for SECONDS COMMAND... — poll every 0.1 s
wait_for() {
  local n=$(($1 * 10)); shift
  for _ in $(seq 1 "$n"); do "$@" && return 0; sleep 0.1; done
  return 1
}

checks=$((checks + 1))
dbg=$(logrotate -d -s "$tmp/debug.state" "$EDGE443_SRC/dist/edge443.logrotate" 2>&1)
if grep -qi 'error' <<<"$dbg"; then
  fail "logrotate -d dist/edge443.logrotate:"$'\n'"$dbg"
fi

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir "$tmp/log"
cat > "$tmp/edge443.conf" <<CONF
log_file = "$tmp/log/edge443.log"
workers = 1
backend b { servers = {"127.0.0.1:9"} }
service s {
  role = "generic"
  fqdn = "s.example.com"
  listen = "127.0.0.1:$port"
  mode = "passthrough"
  backend = "b"
}
CONF
sed -e "s#/var/log/edge443/#$tmp/log/#g" -e "s#/run/edge443.pid#$tmp/edge443.pid#g" \
  -e "s#edge443\.service#edge443-logrotate-test-none.service#g" \
  "$EDGE443_SRC/dist/edge443.logrotate" > "$tmp/logrotate.conf"
chmod 0644 "$tmp/logrotate.conf"

"$EDGE443" run -c "$tmp/edge443.conf" --pidfile "$tmp/edge443.pid" 2>"$tmp/stderr" &
edge=$!
checks=$((checks + 1))
if ! wait_for 20 grep -q 'serving' "$tmp/log/edge443.log" 2>/dev/null; then
  fail "edge443 run did not start:"$'\n'"$(cat "$tmp/stderr" "$tmp/log/edge443.log" 2>/dev/null)"
  echo "$((checks - failures)) passed, $failures failed"
  exit 1
fi
wait_for 5 test -s "$tmp/edge443.pid"

# rotate N — one forced rotation; the new file must get the reopen line
rotate() {
  checks=$((checks + 1))
  local lr
  lr=$(logrotate -f -s "$tmp/state" "$tmp/logrotate.conf" 2>&1) ||
    fail "rotation $1: logrotate failed:"$'\n'"$lr"
  checks=$((checks + 1))
  wait_for 10 grep -q 'signal USR1: log file reopened' "$tmp/log/edge443.log" 2>/dev/null ||
    fail "rotation $1: edge443 did not reopen $tmp/log/edge443.log (files: $(ls "$tmp/log"))"
}

rotate 1
checks=$((checks + 1))
grep -q 'serving' "$tmp/log/edge443.log.1" 2>/dev/null ||
  fail "rotation 1: the old log is not edge443.log.1 (files: $(ls "$tmp/log"))"
rotate 2
checks=$((checks + 1))
[ -s "$tmp/log/edge443.log.2.gz" ] && gzip -dc "$tmp/log/edge443.log.2.gz" | grep -q serving ||
  fail "rotation 2: the first log is not compressed to edge443.log.2.gz (files: $(ls "$tmp/log"))"

checks=$((checks + 1))
kill -TERM "$edge"
wait "$edge"
rc=$?
edge=
[ "$rc" -eq 0 ] || fail "edge443 exited $rc after SIGTERM:"$'\n'"$(cat "$tmp/stderr")"
checks=$((checks + 1))
! grep -qs Sanitizer "$tmp/stderr" "$tmp/log/edge443.log" || fail "sanitizer report"

echo "$((checks - failures)) passed, $failures failed"
[ "$failures" -eq 0 ]
