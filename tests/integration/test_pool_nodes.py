#!/usr/bin/env python3
"""probe --pool NODE...: do all nodes of a pool serve the same plan?

Each node's admin endpoint says what it serves (GET /served: its services
with the SHA-256 of each leaf and chain, and its check's findings, from the
validated model its SSL contexts were built from).  `edge443 probe --pool
NODE...` fetches it from every node and compares it with the configuration
it is given.  Here: node A serves the configuration itself (no finding);
node B is a real edge443 that serves another certificate on another
address (pool-consistent names both); node C answers with A's document
altered (another leaf, an extra finding); node D does not answer
(unreachable).  Addresses 127.0.13.x."""
import json
import subprocess
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, HTTPServer

from harness import EDGE443, Harness

H = Harness("pool_nodes")
H.backend("127.0.13.20:7000", "echo")

BASE = """
trust_file = "pki/trust.pem"
admin = "%s"
certificate ssl1 {
  cert  = "pki/%s.crt"
  chain = "pki/chain.pem"
  key   = "pki/%s.key"
}
backend b { servers = {"127.0.13.20:7000"} }
service cwa {
  fqdn = "cwa.example.com"
  listen = "%s:443"
  certificate = "ssl1"
  mode = "terminate"
  backend = "b"
}
"""
conf_a = H.write("a.conf", BASE % ("127.0.13.9:9443", "ssl1", "ssl1", "127.0.13.1"))
conf_b = H.write("b.conf", BASE % ("127.0.13.10:9443", "all", "all", "127.0.13.2"))
H.edge(conf_a, wait_for=["127.0.13.1:443", "127.0.13.9:9443"], logname="a.log")
H.edge(conf_b, wait_for=["127.0.13.2:443", "127.0.13.10:9443"], logname="b.log")


def probe(*nodes, fmt=None):
    args = [EDGE443, "probe", "-c", conf_a, "--pool", *nodes]
    if fmt:
        args += ["--format", fmt]
    r = subprocess.run(args, cwd=H.tmp, capture_output=True, text=True, timeout=60)
    return r.returncode, r.stdout + r.stderr


with urllib.request.urlopen("http://127.0.13.9:9443/served", timeout=10) as r:
    served = json.loads(r.read())
svc = served["services"][0]
H.check(served["platform"] == "ocs2007r2" and svc["name"] == "cwa" and
        svc["listen"] == ["127.0.13.1:443"] and
        len(svc["certificates"][0]["leaf_sha256"]) == 95 and
        len(svc["certificates"][0]["chain_sha256"]) >= 1,
        "GET /served: the services with the SHA-256 of each leaf and chain", json.dumps(served)[:400])

rc, out = probe("127.0.13.9:9443")
H.check(rc == 0 and "pool-consistent" not in out and "node 127.0.13.9:9443" in out,
        "probe --pool NODE: a node that serves the plan passes", out[-800:])

rc, out = probe("127.0.13.9:9443", "127.0.13.10:9443")
H.check(rc == 1 and "error pool-consistent" in out and "node 127.0.13.10:9443 serves service \"cwa\"" in out
        and "127.0.13.2:443" in out,
        "a node on another address with another certificate: pool-consistent names it", out[-1500:])
H.check("serves certificate \"ssl1\" as leaf" in out,
        "... and names the leaf it serves against the plan's", out[-1500:])
H.check("node 127.0.13.9:9443 " not in out.split("error pool-consistent", 1)[-1],
        "... and not the node that matches", out[-1500:])

# Node C: A's document with another leaf and one more finding.
doc = json.loads(json.dumps(served))
doc["services"][0]["certificates"][0]["leaf_sha256"] = "00:" * 31 + "00"
doc["findings"].append({"severity": "warn", "rule": "expires-soon",
                        "subject": "certificate \"ssl1\""})
body = (json.dumps(doc) + "\n").encode()


class Fake(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path == "/served" else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


fake = HTTPServer(("127.0.13.11", 9443), Fake)
t = threading.Thread(target=fake.serve_forever, daemon=True)
t.start()
rc, out = probe("127.0.13.11:9443")
H.check(rc == 1 and "serves certificate \"ssl1\" as leaf 00:00" in out,
        "a node that reports another leaf: pool-consistent", out[-1200:])
H.check("passes another check: its configuration gives warn expires-soon" in out,
        "a node whose check finds what this one does not: pool-consistent", out[-1200:])
fake.shutdown()

rc, out = probe("127.0.13.12:9443")
H.check(rc == 1 and "error unreachable" in out and "node 127.0.13.12:9443" in out,
        "a node whose admin endpoint does not answer: unreachable", out[-800:])

rc, out = probe("127.0.13.9:9443", fmt="json")
try:
    rows = [r for r in json.loads(out)["probes"] if r.get("node")]
except (ValueError, KeyError):
    rows = []
H.check(rows and rows[0]["target"] == "node 127.0.13.9:9443" and rows[0]["matches_plan"] == "yes",
        "--format json: node rows with node = true and the plan match", out[:600])

rc, out = probe("not-an-address")
H.check(rc == 2 and "admin endpoint as IP:PORT" in out, "a node that is no IP:PORT is a usage error", out)
H.done()
