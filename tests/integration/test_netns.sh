#!/usr/bin/env bash
# The integration tests' network namespace (tests/integration/netns.sh):
# run as root, a test lives in a network namespace of its own, not in the
# one of the ctest that started it, with loopback up (all of 127.0.0.0/8),
# so that two test runs at once cannot collide on 127.0.x.y addresses.
# Not root, or EDGE443_NETNS=0: the tests run on the host's loopback and
# this test has nothing to check.
. "$(dirname "$0")/lib.sh"

if [ "$(id -u)" -ne 0 ] || [ "${EDGE443_NETNS:-1}" = 0 ]; then
  echo "not root or EDGE443_NETNS=0: the tests share the host's loopback"
  lib_done
  exit
fi

out=$(readlink /proc/self/ns/net)
err=$(readlink "/proc/$PPID/ns/net")
rc=0
lib_checks=$((lib_checks + 1))
[ -n "$out" ] && [ "$out" != "$err" ] ||
  lib_fail "this test shares its network namespace with ctest (pid $PPID)"

out=$(ip -o -4 addr show dev lo 2>&1)
err=$(ip -o link show dev lo 2>&1)
expect_out "127.0.0.1/8" "loopback has 127.0.0.0/8"
expect_re "<[^>]*\bUP\b" "loopback is up"

# An address and port of the lab: free here, whatever the host serves on it.
out=$(python3 -c '
import socket
s = socket.socket()
s.bind(("127.0.0.11", 443))
s.listen(1)
c = socket.create_connection(("127.0.0.11", 443), 2)
print("bound and reached 127.0.0.11:443")
' 2>&1)
err=""
expect_out "bound and reached 127.0.0.11:443" "127.0.0.11:443 can be bound and reached"
lib_done
