#!/usr/bin/env bash
# test_install.sh — what `cmake --install` puts where (cmake/Edge443Install.cmake).
#
# Installs the build folder EDGE443_BUILD into a temporary DESTDIR with the
# prefix /usr, as the Debian package does, and then with /opt/edge443, and
# checks the layout: the binary in sbin, the man pages, the documentation,
# the configuration and the logrotate file under /etc whatever the prefix
# (the program reads /etc/edge443/edge443.conf), and the systemd unit when
# dist/ has one.  Then it edits the installed configuration and logrotate
# file and installs again: both edits must survive, and cmake must say it
# kept them.
set -uo pipefail
: "${EDGE443_BUILD:?EDGE443_BUILD must name the build folder}"
: "${EDGE443_SRC:?EDGE443_SRC must name the source root}"

failures=0
checks=0
fail() { failures=$((failures + 1)); echo "FAIL: $*"; }
tmp=$(mktemp -d /tmp/edge443-install.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

# install DESTDIR PREFIX — sets out and rc
install_to() {
  out=$(DESTDIR=$1 cmake --install "$EDGE443_BUILD" --prefix "$2" 2>&1)
  rc=$?
  [ "$rc" -eq 0 ] || { echo "$out"; }
}

# expect_file PATH [MODE]
expect_file() {
  checks=$((checks + 1))
  if [ ! -f "$1" ]; then
    fail "not installed: ${1#"$tmp"}"
  elif [ $# -gt 1 ] && [ "$(stat -c %a "$1")" != "$2" ]; then
    fail "${1#"$tmp"}: mode $(stat -c %a "$1"), expected $2"
  fi
}

d=$tmp/usr
install_to "$d" /usr
checks=$((checks + 1))
[ "$rc" -eq 0 ] || fail "cmake --install --prefix /usr: exit $rc"
expect_file "$d/usr/sbin/edge443" 755
checks=$((checks + 1))
[ ! -e "$d/usr/bin/edge443" ] || fail "edge443 is in bin too"
expect_file "$d/etc/edge443/edge443.conf" 644
expect_file "$d/etc/logrotate.d/edge443" 644
expect_file "$d/usr/share/man/man8/edge443.8.gz" 644
expect_file "$d/usr/share/man/man5/edge443.conf.5.gz" 644
expect_file "$d/usr/share/doc/edge443/LICENSE"
expect_file "$d/usr/share/doc/edge443/copyright"
expect_file "$d/usr/share/doc/edge443/examples/edge443.conf"
expect_file "$d/usr/lib/sysusers.d/edge443.conf"
if [ -e "$EDGE443_SRC/dist/edge443.service" ] || [ -e "$EDGE443_SRC/dist/edge443.service.in" ]; then
  expect_file "$d/usr/lib/systemd/system/edge443.service" 644
fi
checks=$((checks + 1))
cmp -s "$d/etc/edge443/edge443.conf" "$EDGE443_SRC/conf/edge443.conf" ||
  fail "/etc/edge443/edge443.conf is not conf/edge443.conf"
checks=$((checks + 1))
grep -q '^License: BSD-2-Clause' "$d/usr/share/doc/edge443/copyright" &&
  grep -q '^ Redistribution and use' "$d/usr/share/doc/edge443/copyright" ||
  fail "copyright is not a DEP-5 file with the licence"
checks=$((checks + 1))
"$d/usr/sbin/edge443" version | grep -q '^edge443 ' || fail "the installed binary does not run"

# Never overwrite: an administrator's edits survive a second install.
echo '# edited by the administrator' >> "$d/etc/edge443/edge443.conf"
echo '# edited by the administrator' >> "$d/etc/logrotate.d/edge443"
cp "$d/etc/edge443/edge443.conf" "$tmp/conf.edited"
cp "$d/etc/logrotate.d/edge443" "$tmp/logrotate.edited"
install_to "$d" /usr
checks=$((checks + 1))
[ "$rc" -eq 0 ] || fail "second cmake --install: exit $rc"
checks=$((checks + 1))
cmp -s "$d/etc/edge443/edge443.conf" "$tmp/conf.edited" ||
  fail "a second install overwrote /etc/edge443/edge443.conf"
checks=$((checks + 1))
cmp -s "$d/etc/logrotate.d/edge443" "$tmp/logrotate.edited" ||
  fail "a second install overwrote /etc/logrotate.d/edge443"
checks=$((checks + 1))
grep -q "Kept: $d/etc/edge443/edge443.conf" <<<"$out" ||
  fail "the second install does not say it kept the configuration: $out"

# Another prefix: the program's files move, the configuration does not.
d=$tmp/opt
install_to "$d" /opt/edge443
checks=$((checks + 1))
[ "$rc" -eq 0 ] || fail "cmake --install --prefix /opt/edge443: exit $rc"
expect_file "$d/opt/edge443/sbin/edge443" 755
expect_file "$d/opt/edge443/share/man/man8/edge443.8.gz"
expect_file "$d/etc/edge443/edge443.conf" 644
expect_file "$d/etc/logrotate.d/edge443" 644

echo "$((checks - failures)) passed, $failures failed"
[ "$failures" -eq 0 ]
