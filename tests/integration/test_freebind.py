#!/usr/bin/env python3
"""freebind: the backup node of a keepalived pair binds the service
addresses before it holds them.

In this test's own network namespace (tests/integration/netns.sh), the
service listens on 192.0.2.10:443 (TEST-NET-1), which the namespace does not
hold.  Without freebind `run` exits 3, names the address and says to set
freebind; with `freebind = true` it binds at once, and once the address
arrives (what keepalived does on a failover, here `ip addr add` on the
namespace's loopback) the service answers with its certificate, with no
restart or reload.  The address is added only inside the namespace; outside
one (not root) the test refuses to run and says why (exit 77, skipped)."""
import os
import subprocess
import sys
import time

from harness import EDGE443, Harness, served_subject, wait_port

if not os.environ.get("EDGE443_IN_NETNS"):
    print("SKIP: needs a network namespace of its own (root, unshare --net): "
          "it adds 192.0.2.10 to the namespace's loopback")
    sys.exit(77)

H = Harness("freebind")
ADDR = "192.0.2.10"
H.backend("127.0.12.20:7000", "echo")


def conf(name, freebind):
    return H.write(name, """
trust_file = "pki/trust.pem"
%s
certificate ssl1 {
  cert  = "pki/ssl1.crt"
  chain = "pki/chain.pem"
  key   = "pki/ssl1.key"
}
backend b { servers = {"127.0.12.20:7000"} }
service cwa {
  fqdn = "cwa.example.com"
  listen = "%s:443"
  certificate = "ssl1"
  mode = "terminate"
  backend = "b"
}
""" % ("freebind = true" if freebind else "", ADDR))


def ip(*args):
    return subprocess.run(["ip", *args], capture_output=True, text=True, timeout=10)


H.check(ADDR not in ip("-4", "addr").stdout, "the namespace does not hold %s yet" % ADDR)

r = subprocess.run([EDGE443, "run", "-c", conf("plain.conf", False)], cwd=H.tmp,
                   capture_output=True, text=True, timeout=30)
H.check(r.returncode == 3 and "%s:443" % ADDR in r.stderr and "freebind" in r.stderr,
        "without freebind: exit 3 naming the address and the freebind setting",
        "rc=%d %s" % (r.returncode, r.stderr[-600:]))

p = H.edge(conf("freebind.conf", True))
bound = False
end = time.time() + 10
while time.time() < end and not bound:
    bound = ("%s:443" % ADDR) in subprocess.run(
        ["ss", "-Hltn"], capture_output=True, text=True, timeout=10).stdout
    if not bound:
        time.sleep(0.1)
H.check(p.poll() is None and bound,
        "freebind = true: run binds %s:443 although the address is absent" % ADDR,
        H.log()[-600:])

H.check(ip("addr", "add", ADDR + "/32", "dev", "lo").returncode == 0,
        "the address arrives (as on a keepalived failover)")
H.check(wait_port(ADDR + ":443", 10) and
        served_subject(ADDR + ":443", "cwa.example.com") is not None,
        "the listener serves its certificate on the arrived address, with no reload",
        H.log()[-600:])
ip("addr", "del", ADDR + "/32", "dev", "lo")
H.done()
