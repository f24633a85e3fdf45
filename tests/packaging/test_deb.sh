#!/usr/bin/env bash
# test_deb.sh — the Debian package, built and installed as a user would get it.
#
# 1. Builds edge443_VERSION_ARCH.deb with `cpack -G DEB` from a Release build
#    configured for /usr (EDGE443_BUILD/packaging-deb/build).
# 2. Checks the package itself: its name, its fields (Depends computed from
#    the binary's shared libraries, plus adduser), its files, its conffiles
#    and its maintainer scripts.
# 3. Bootstraps Debian 12 (bookworm, variant minbase) with debootstrap from
#    the mirror that apt on this machine uses (or EDGE443_DEB_MIRROR), once a
#    day: the root is kept in EDGE443_DEB_CACHE (default
#    /var/cache/edge443-test), keyed by date, and copied for each run.
# 4. In a chroot of that copy: installs the .deb with apt-get (which fetches
#    its dependencies from the mirror), checks the edge443 system user, runs
#    `edge443 version`, `edge443 check` on the installed example (which must
#    parse, and name its missing certificates under /etc/edge443/certs), makes
#    a lab PKI with the installed binary (edge443 plan --lab, certs/mklab.sh)
#    and `check`s conf/lab.conf on it, runs it for a moment as the edge443
#    user in a network namespace of its own, reinstalls over an edited
#    configuration (kept), and purges.
#
# Needs root (debootstrap, chroot, mount) and the Debian mirror.  A mirror that
# cannot be reached is a failure, with the reason, never a skip.  Every mount
# is undone on exit; the copy is deleted only once nothing is mounted in it.
# The details go to EDGE443_BUILD/packaging-deb/test_deb.log.
set -uo pipefail
: "${EDGE443_SRC:?EDGE443_SRC must name the source root}"
: "${EDGE443_BUILD:?EDGE443_BUILD must name the build folder}"

suite=bookworm
work=$EDGE443_BUILD/packaging-deb
cache=${EDGE443_DEB_CACHE:-/var/cache/edge443-test}
log=$work/test_deb.log
failures=0
checks=0
root=
mounts=()
edge_pid=

mkdir -p "$work"
: > "$log"
say() { echo "$*"; echo "== $*" >> "$log"; }
fail() { failures=$((failures + 1)); echo "FAIL: $*"; echo "FAIL: $*" >> "$log"; }
die() {
  echo "FAIL: $*"
  echo "FAIL: $*" >> "$log"
  echo "(details: $log)"
  exit 1
}
check() { checks=$((checks + 1)); }
# run CMD... — run, output to the log; returns CMD's status
run() { echo "\$ $*" >> "$log"; "$@" >> "$log" 2>&1; }
# in_root CMD... — run in the chroot, output captured in $out, status in $rc
in_root() {
  echo "# chroot: $*" >> "$log"
  out=$(chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
    HOME=/root LC_ALL=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@" 2>&1)
  rc=$?
  printf '%s\n(exit %d)\n' "$out" "$rc" >> "$log"
}

cleanup() {
  local i
  if [ -n "$edge_pid" ]; then
    kill "$edge_pid" 2>/dev/null
    wait "$edge_pid" 2>/dev/null
  fi
  for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do
    umount "${mounts[$i]}" 2>/dev/null || umount -l "${mounts[$i]}" 2>/dev/null
  done
  if [ -n "$root" ] && [ -d "$root" ]; then
    if findmnt -rno TARGET | grep -q "^$root/"; then
      echo "test_deb.sh: something is still mounted under $root; not deleting it" >&2
    else
      rm -rf --one-file-system "$(dirname "$root")"
    fi
  fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

[ "$(id -u)" -eq 0 ] ||
  die "test_deb.sh needs root (debootstrap, chroot, mount): run it as root, as scripts/test and CI do"
for tool in debootstrap dpkg-deb dpkg-shlibdeps cpack chroot findmnt flock unshare ip objdump readelf openssl python3; do
  command -v "$tool" >/dev/null ||
    die "$tool is not installed (scripts/deps installs debootstrap, dpkg-dev, binutils, iproute2, openssl)"
done

# ------------------------------------------------------------ 1. the .deb
version=$(sed -n 's/^project(edge443 VERSION \([0-9.]*\).*/\1/p' "$EDGE443_SRC/CMakeLists.txt")
arch=$(dpkg --print-architecture)
say "building the .deb (Release, prefix /usr) in $work/build"
bld=$work/build
rm -f "$bld"/edge443_*.deb
run cmake -S "$EDGE443_SRC" -B "$bld" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_INSTALL_PREFIX=/usr -DEDGE443_TESTS=OFF ||
  die "cmake configure of the Release build failed"
run cmake --build "$bld" -j"$(nproc)" || die "the Release build failed"
(cd "$bld" && run cpack -G DEB) || die "cpack -G DEB failed"
deb=$bld/edge443_${version}_${arch}.deb
check
[ -f "$deb" ] || die "cpack made no $(basename "$deb"): $(ls "$bld"/*.deb 2>/dev/null)"
say "made $(basename "$deb") ($(stat -c %s "$deb") bytes)"

# --------------------------------------------------- 2. the package itself
field() { dpkg-deb -f "$deb" "$1"; }
check
[ "$(field Package)" = edge443 ] && [ "$(field Version)" = "$version" ] &&
  [ "$(field Architecture)" = "$arch" ] ||
  fail "fields: Package $(field Package), Version $(field Version), Architecture $(field Architecture)"
check
[ -n "$(field Maintainer)" ] && [ -n "$(field Description)" ] ||
  fail "no Maintainer or Description"
depends=$(field Depends)
echo "Depends: $depends" >> "$log"
check
grep -qE '(^|, )adduser($|,| )' <<<"$depends" || fail "Depends lacks adduser: $depends"
# Every shared library the binary needs must be there by its package.
for lib in $(objdump -p "$bld/edge443" | awk '$1 == "NEEDED" { print $2 }'); do
  path=$(ldconfig -p | awk -v l="$lib" '$1 == l && $NF ~ /^\// { print $NF; exit }')
  # dpkg knows each file by the path its package ships, /lib or /usr/lib
  # (merged /usr makes both reach it).
  real=$(readlink -f "$path")
  pkg=
  for p in "$path" "$real" "${path#/usr}" "/usr${path#/usr}" "${real#/usr}" "/usr${real#/usr}"; do
    pkg=$(dpkg -S "$p" 2>/dev/null | head -1 | cut -d: -f1)
    [ -n "$pkg" ] && break
  done
  check
  if [ -z "$pkg" ]; then
    fail "cannot tell which package holds $lib ($path)"
  elif ! grep -qE "(^|, )$pkg( |,|$)" <<<"$depends"; then
    fail "Depends lacks $pkg (for $lib): $depends"
  fi
done
contents=$(dpkg-deb -c "$deb" | awk '{ print $6 }')
echo "$contents" >> "$log"
expect_files=(./usr/sbin/edge443 ./etc/edge443/edge443.conf ./etc/logrotate.d/edge443
  ./usr/share/man/man8/edge443.8.gz ./usr/share/man/man5/edge443.conf.5.gz
  ./usr/share/doc/edge443/copyright ./usr/share/doc/edge443/examples/edge443.conf
  ./usr/lib/sysusers.d/edge443.conf)
if [ -e "$EDGE443_SRC/dist/edge443.service" ] || [ -e "$EDGE443_SRC/dist/edge443.service.in" ]; then
  expect_files+=(./usr/lib/systemd/system/edge443.service)
fi
for f in "${expect_files[@]}"; do
  check
  grep -qxF "$f" <<<"$contents" || fail "the package lacks $f"
done
check
! grep -q '^\./usr/local' <<<"$contents" || fail "the package has files under /usr/local"
ctl=$work/control
rm -rf "$ctl"
dpkg-deb -e "$deb" "$ctl"
check
[ "$(cat "$ctl/conffiles" 2>/dev/null)" = $'/etc/edge443/edge443.conf\n/etc/logrotate.d/edge443' ] ||
  fail "conffiles: $(cat "$ctl/conffiles" 2>/dev/null)"
for s in postinst prerm postrm; do
  check
  [ -x "$ctl/$s" ] && sh -n "$ctl/$s" || fail "maintainer script $s is missing, not executable or not sh"
done
check
grep -q 'adduser --system' "$ctl/postinst" || fail "postinst does not create the system user"
check
dpkg-deb --fsys-tarfile "$deb" | tar -xO ./usr/sbin/edge443 > "$work/edge443.packaged"
! readelf -S "$work/edge443.packaged" | grep -q '\.symtab' || fail "the packaged binary is not stripped"

# --------------------------------------- 3. Debian 12 minbase, once a day
# The mirror apt uses here, for bookworm and its -updates and -security.
sources=$(python3 - <<'PY'
import glob, re
entries = []
def add(uri, suites, comps):
    for s in suites:
        if re.fullmatch(r"bookworm(-updates|-security)?", s) and "main" in comps:
            entries.append("%s %s" % (uri.rstrip("/"), s))
files = ["/etc/apt/sources.list"] + sorted(glob.glob("/etc/apt/sources.list.d/*.list"))
for path in files:
    try:
        text = open(path).read()
    except OSError:
        continue
    for line in text.splitlines():
        m = re.match(r"\s*deb\s+(\[[^\]]*\]\s+)?(\S+)\s+(\S+)\s+(.*)", line)
        if m:
            add(m.group(2), [m.group(3)], m.group(4).split())
for path in sorted(glob.glob("/etc/apt/sources.list.d/*.sources")):
    for block in re.split(r"\n\s*\n", open(path).read()):
        f = {}
        for line in block.splitlines():
            m = re.match(r"(\w[\w-]*):\s*(.*)", line)
            if m:
                f[m.group(1).lower()] = m.group(2).split()
        if "deb" in f.get("types", []) and f.get("enabled", ["yes"]) != ["no"]:
            for uri in f.get("uris", []):
                add(uri, f.get("suites", []), f.get("components", []))
seen = []
for e in entries:
    if e not in seen:
        seen.append(e)
print("\n".join(seen))
PY
)
if [ -n "${EDGE443_DEB_MIRROR:-}" ]; then
  # Another mirror (a local one, say): bookworm from it alone.
  sources="$EDGE443_DEB_MIRROR bookworm"
fi
mirror=$(awk '$2 == "bookworm" { print $1; exit }' <<<"$sources")
[ -n "$mirror" ] || die "apt on this machine has no Debian bookworm source (/etc/apt/sources.list*): cannot bootstrap Debian 12"
echo "sources:"$'\n'"$sources" >> "$log"

mkdir -p "$cache"
stamp=$(date -u +%Y%m%d)
base=$cache/$suite-minbase-$stamp
exec 9>"$cache/lock"
flock -w 900 9 || die "cannot lock $cache/lock within 15 minutes"
if [ ! -f "$base/.complete" ]; then
  say "debootstrap --variant=minbase $suite from $mirror (cached in $base for today)"
  rm -rf --one-file-system "$base" "$base.tmp"
  start=$SECONDS
  if ! run debootstrap --variant=minbase "$suite" "$base.tmp" "$mirror"; then
    tail -n 15 "$log"
    rm -rf --one-file-system "$base.tmp"
    die "debootstrap could not bootstrap Debian 12 ($suite) from $mirror: is the mirror reachable? (see $log)"
  fi
  mv "$base.tmp" "$base"
  touch "$base/.complete"
  say "bootstrapped in $((SECONDS - start)) s"
  # Earlier days' roots are stale.
  for old in "$cache/$suite"-minbase-*; do
    [ "$old" = "$base" ] || rm -rf --one-file-system "$old"
  done
fi
flock -u 9

tmproot=$(mktemp -d /var/tmp/edge443-deb.XXXXXX)
root=$tmproot/root
say "copying the Debian 12 root to $root"
cp -a "$base" "$root" || die "cannot copy $base"
rm -f "$root/.complete"
mount -t proc proc "$root/proc" || die "cannot mount /proc in $root"
mounts+=("$root/proc")
if [ ! -c "$root/dev/null" ]; then
  mount --bind /dev "$root/dev" || die "cannot bind /dev into $root"
  mounts+=("$root/dev")
fi
# A pty for apt's log (a private devpts instance; apt only warns without).
mkdir -p "$root/dev/pts"
if mount -t devpts -o newinstance,ptmxmode=0666 devpts "$root/dev/pts" 2>/dev/null; then
  mounts+=("$root/dev/pts")
fi
cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null
: > "$root/etc/apt/sources.list"
while read -r uri s; do
  echo "deb $uri $s main" >> "$root/etc/apt/sources.list"
done <<<"$sources"
rm -f "$root"/etc/apt/sources.list.d/*

# ----------------------------------------------- 4. install and run there
in_root apt-get update -q
[ "$rc" -eq 0 ] || die "apt-get update in the Debian 12 root failed (mirror $mirror unreachable?):"$'\n'"$(tail -n 10 <<<"$out")"
cp "$deb" "$root/tmp/"
say "apt-get install ./$(basename "$deb") in the Debian 12 root"
in_root sh -c "cd /tmp && apt-get install -y -q --no-install-recommends ./$(basename "$deb")"
check
[ "$rc" -eq 0 ] || die "apt-get install of the .deb failed:"$'\n'"$(tail -n 20 <<<"$out")"

in_root dpkg-query -W -f '${Status} ${Version}' edge443
check
[ "$out" = "install ok installed $version" ] || fail "dpkg says: $out"

in_root getent passwd edge443
check
IFS=: read -r _ _ uid gid _ home shell <<<"$out"
if [ "$rc" -ne 0 ]; then
  fail "postinst made no edge443 user"
else
  [ "$uid" -lt 1000 ] && [ "$home" = /nonexistent ] && [ "$shell" = /usr/sbin/nologin ] ||
    fail "edge443 is not a system user without a home: $out"
  in_root getent group edge443
  check
  [ "$rc" -eq 0 ] && [ "$(cut -d: -f3 <<<"$out")" = "$gid" ] || fail "no group edge443 for the user: $out"
fi
in_root stat -c '%U:%G %a' /var/log/edge443 /etc/edge443/certs
check
[ "$out" = $'edge443:adm 750\nroot:edge443 750' ] || fail "postinst folders: $out"

in_root edge443 version
check
[ "$rc" -eq 0 ] && grep -qE "^edge443 $version \(OpenSSL 3\." <<<"$out" ||
  fail "edge443 version (exit $rc): $out"
say "installed: $out"

# The installed example parses; its certificates are not there yet, and its
# relative paths name them under /etc/edge443/certs.
for args in "check" "check -c /etc/edge443/edge443.conf"; do
  in_root edge443 $args
  check
  [ "$rc" -eq 1 ] || fail "edge443 $args on the example: exit $rc, expected 1:"$'\n'"$out"
  check
  grep -q '^error file-unreadable .*/etc/edge443/certs/ssl1\.crt' <<<"$out" &&
    ! grep -q '^error config' <<<"$out" ||
    fail "edge443 $args does not name /etc/edge443/certs/ssl1.crt as unreadable:"$'\n'"$out"
done

# A lab made with the installed binary passes check.
mkdir -p "$root/root/lab/conf" "$root/root/lab/certs/lab"
cp "$EDGE443_SRC/conf/lab.conf" "$root/root/lab/conf/lab.conf"
in_root edge443 plan -c /root/lab/conf/lab.conf --lab /root/lab/certs/lab --force
check
[ "$rc" -eq 0 ] || fail "edge443 plan --lab in the root (exit $rc):"$'\n'"$out"
run bash "$EDGE443_SRC/certs/mklab.sh" "$root/root/lab/certs/lab" ||
  fail "certs/mklab.sh into the root failed"
in_root edge443 check -c /root/lab/conf/lab.conf
check
[ "$rc" -eq 0 ] && grep -qE '^access +access-edge +127\.0\.0\.11:443' <<<"$out" ||
  fail "edge443 check on the lab (exit $rc):"$'\n'"$out"
say "edge443 check on the lab: exit $rc"

# edge443 run, as the edge443 user, in a network namespace of its own (so
# that the lab addresses cannot collide with anything on this machine).
sed -i '1i user = "edge443"' "$root/root/lab/conf/lab.conf"
unshare --net sh -c 'ip link set lo up && exec chroot "$0" /usr/bin/env -i PATH=/usr/sbin:/usr/bin \
  edge443 run -c /root/lab/conf/lab.conf' "$root" > "$work/run.out" 2>&1 &
edge_pid=$!
up=0
for _ in $(seq 1 100); do
  grep -q 'serving' "$work/run.out" && { up=1; break; }
  kill -0 "$edge_pid" 2>/dev/null || break
  sleep 0.1
done
cat "$work/run.out" >> "$log"
check
if [ "$up" -eq 1 ]; then
  # the chroot exec'd edge443: edge_pid is edge443 itself
  run_uid=$(awk '/^Uid:/ { print $3 }' "/proc/$edge_pid/status" 2>/dev/null)
  check
  [ "$run_uid" = "$uid" ] || fail "edge443 run does not run as the edge443 user (uid $run_uid, expected $uid)"
  kill -TERM "$edge_pid"
  wait "$edge_pid"
  rc=$?
  edge_pid=
  check
  [ "$rc" -eq 0 ] || fail "edge443 run exited $rc after SIGTERM"
else
  fail "edge443 run on the lab did not start:"$'\n'"$(cat "$work/run.out")"
fi

# A reinstall keeps an edited conffile.
echo '# edited by the administrator' >> "$root/etc/edge443/edge443.conf"
in_root sh -c "cd /tmp && apt-get install -y -q --reinstall ./$(basename "$deb")"
check
[ "$rc" -eq 0 ] && tail -n 1 "$root/etc/edge443/edge443.conf" | grep -q 'edited by the administrator' ||
  fail "a reinstall lost the edited /etc/edge443/edge443.conf (exit $rc)"
in_root dpkg-query -W -f '${Conffiles}' edge443
check
grep -q '/etc/edge443/edge443.conf' <<<"$out" && grep -q '/etc/logrotate.d/edge443' <<<"$out" ||
  fail "dpkg does not list the conffiles: $out"

# Purge: the program, its conffiles and its logs go; the user stays.
in_root apt-get purge -y -q edge443
check
[ "$rc" -eq 0 ] || fail "apt-get purge edge443 (exit $rc)"
check
[ ! -e "$root/usr/sbin/edge443" ] && [ ! -e "$root/etc/edge443/edge443.conf" ] &&
  [ ! -e "$root/var/log/edge443" ] && [ ! -e "$root/etc/edge443" ] ||
  fail "purge left files: $(ls -d "$root/usr/sbin/edge443" "$root/etc/edge443" "$root/var/log/edge443" 2>/dev/null)"

echo "$((checks - failures)) passed, $failures failed (details: $log)"
[ "$failures" -eq 0 ]
