#!/usr/bin/env bash
# netns.sh COMMAND [ARG...] — run one integration test in a network
# namespace of its own, so that two test runs at once (two build folders,
# two engineers, CI and a developer) cannot collide on the fixed 127.0.x.y
# addresses and ports the tests listen on.
#
# As root (CI, the README's scripts/test) the command runs under
# `unshare --net` once loopback is up there: `ip link set lo up` gives the
# namespace all of 127.0.0.0/8 and ::1, nothing else (no route out).  The
# command keeps this process's PID (unshare execs it), so ctest's timeout
# still reaches it; processes it starts live and die in the namespace.
# Not root, or EDGE443_NETNS=0, or no namespace can be made (a container
# without CAP_SYS_ADMIN): the command runs directly on the host's loopback,
# as before, and says so when a namespace was wanted but refused.
set -euo pipefail

if [ $# -eq 0 ]; then
  echo "usage: $0 COMMAND [ARG...]" >&2
  exit 2
fi
if [ "${EDGE443_NETNS:-1}" != 0 ] && [ -z "${EDGE443_IN_NETNS:-}" ] &&
  [ "$(id -u)" -eq 0 ]; then
  if unshare --net true 2>/dev/null && command -v ip >/dev/null; then
    export EDGE443_IN_NETNS=1
    # shellcheck disable=SC2016 # expanded by the inner shell
    exec unshare --net -- bash -c 'ip link set lo up && exec "$@"' netns.sh "$@"
  fi
  echo "netns.sh: no network namespace (unshare --net or ip failed): running on the host's loopback" >&2
fi
exec "$@"
