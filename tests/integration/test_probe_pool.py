#!/usr/bin/env python3
"""Integration tests of `edge443 probe --pool` on 127.0.21.x: the real binary
against passthrough services whose backends are Edge pools of two TLS
servers (Python backends) — one pool whose members present different
certificates, one whose members present the same, one whose members present
the same leaf with different chains, one with a member that does not answer —
and a web-services service that re-encrypts to a front-end pool of two
servers with different certificates."""
import json
import os
import subprocess
import time

from harness import Harness

H = Harness("probe-pool")
EDGE443 = os.environ["EDGE443"]

CONF = """
platform = "sfb2019"
trust_file = "pki/trust.pem"
handshake_timeout = 2
connect_timeout = 1
idle_timeout = 30
shutdown_timeout = 5
workers = 1

certificate ssl1 {
  cert  = "pki/ssl1.crt"
  chain = "pki/chain.pem"
}
certificate ssl2 {
  cert  = "pki/ssl2.crt"
  chain = "pki/chain.pem"
}
certificate web {
  cert  = "pki/web.crt"
  chain = "pki/chain.pem"
  key   = "pki/web.key"
}

backend b_diff  { servers = {"127.0.21.21:5061", "127.0.21.22:5061"} }
backend b_same  { servers = {"127.0.21.23:8057", "127.0.21.24:8057"} }
backend b_chain { servers = {"127.0.21.25:5061", "127.0.21.26:5061"} }
backend b_gone  { servers = {"127.0.21.27:8057", "127.0.21.28:8057"} }
backend b_fe {
  servers = {"127.0.21.29:4443", "127.0.21.30:4443"}
  tls = true
  trust_file = "pki/internal-ca.crt"
  verify_name = "cwa01.corp.example"
}

service diff {
  role = "access-edge"
  fqdn = "sip.example.com"
  listen = "127.0.21.11:443"
  certificate = "ssl1"
  mode = "passthrough"
  backend = "b_diff"
}
service same {
  role = "webconf-edge"
  fqdn = "webconf.example.com"
  listen = "127.0.21.12:443"
  certificate = "ssl2"
  mode = "passthrough"
  backend = "b_same"
}
service chain {
  role = "access-edge"
  fqdn = "sip.example.com"
  listen = "127.0.21.13:8441"
  certificate = "ssl1"
  mode = "passthrough"
  backend = "b_chain"
}
service gone {
  role = "webconf-edge"
  fqdn = "webconf.example.com"
  listen = "127.0.21.14:8442"
  certificate = "ssl2"
  mode = "passthrough"
  backend = "b_gone"
}
service ws {
  role = "web-services"
  fqdn = "www.example.com"
  listen = "127.0.21.15:443"
  certificate = "web"
  mode = "reencrypt"
  backend = "b_fe"
}
"""


def probe(*args, timeout=60):
    t0 = time.time()
    r = subprocess.run([EDGE443, "probe", "-c", "pool.conf", *args], cwd=H.tmp,
                       capture_output=True, text=True, timeout=timeout)
    r.seconds = time.time() - t0
    return r


def finding_lines(out, rule):
    return [l for l in out.splitlines() if l.split(" ")[1:2] == [rule]]


def fingerprint(name):
    r = subprocess.run(["openssl", "x509", "-in", os.path.join(H.tmp, "pki", name),
                        "-noout", "-fingerprint", "-sha256"],
                       capture_output=True, text=True, timeout=20)
    return r.stdout.strip().split("=", 1)[-1]


FP_SSL1, FP_ALL, FP_SSL2 = fingerprint("ssl1.crt"), fingerprint("all.crt"), fingerprint("ssl2.crt")
FP_CWA, FP_DEEP = fingerprint("cwa-backend.crt"), fingerprint("cwa-deep.crt")

# ------------------------------------------------------- the pool members
# b_diff: ssl1 on one member, the all-in-one SAN certificate on the other.
H.backend("127.0.21.21:5061", "http", "diff-1", ("ssl1.crt", "ssl1.key"), "chain.pem")
H.backend("127.0.21.22:5061", "http", "diff-2", ("all.crt", "all.key"), "chain.pem")
# b_same: ssl2 and its chain on both.
H.backend("127.0.21.23:8057", "http", "same-1", ("ssl2.crt", "ssl2.key"), "chain.pem")
H.backend("127.0.21.24:8057", "http", "same-2", ("ssl2.crt", "ssl2.key"), "chain.pem")
# b_chain: the same leaf, but one member forgot the intermediate.
H.backend("127.0.21.25:5061", "http", "chain-1", ("ssl1.crt", "ssl1.key"), "chain.pem")
H.backend("127.0.21.26:5061", "http", "chain-2", ("ssl1.crt", "ssl1.key"))
# b_gone: one member answers, nothing listens on 127.0.21.28:8057.
H.backend("127.0.21.27:8057", "http", "gone-1", ("ssl2.crt", "ssl2.key"), "chain.pem")
# b_fe: the front-end pool, two servers with different certificates.
H.backend("127.0.21.29:4443", "http", "fe-1", ("cwa-backend.crt", "cwa-backend.key"))
H.backend("127.0.21.30:4443", "http", "fe-2", ("cwa-deep.crt", "cwa-deep.key"))

H.write("pool.conf", CONF)
H.edge("pool.conf", wait_for=["127.0.21.11:443", "127.0.21.12:443", "127.0.21.13:8441",
                              "127.0.21.14:8442", "127.0.21.15:443"])

# --------------------------------------------- members with different leaves
r = probe("--pool", "--service", "diff")
lines = finding_lines(r.stdout, "pool-consistent")
H.check(r.returncode == 1, "different certificates: exit 1", r.stdout[-1500:] + r.stderr[-500:])
H.check(len(lines) == 1 and lines[0].startswith("error pool-consistent pool.conf:"),
        "different certificates: one pool-consistent error", lines)
if lines:
    l = lines[0]
    H.check("b_diff" in l and "127.0.21.21:5061" in l and "127.0.21.22:5061" in l,
            "pool-consistent names the backend and both servers", l)
    H.check(FP_SSL1 in l and FP_ALL in l, "pool-consistent names both fingerprints", l)
    H.check("every pool member needs the same certificate and private key" in l
            and "ssl1" in l, "pool-consistent says what to do", l)
rows = [x for x in r.stdout.splitlines() if x.startswith("diff->b_diff ")]
H.check(len(rows) == 2 and all("pool member" in x for x in rows),
        "a row per pool member", rows)
H.check(any("127.0.21.22:5061" in x and " no " in x for x in rows),
        "the member with another leaf does not match the plan", rows)

# --------------------------------------------------- members that agree
r = probe("--pool", "--service", "same")
H.check(r.returncode == 0 and not finding_lines(r.stdout, "pool-consistent"),
        "the same certificate: no pool-consistent, exit 0", r.stdout[-1500:] + r.stderr[-500:])
rows = [x for x in r.stdout.splitlines() if x.startswith("same->b_same ")]
H.check(len(rows) == 2 and all(" yes " in x and " ok " in x for x in rows),
        "the same certificate: both members match the plan, chain ok", rows)

# ------------------------------------------ the same leaf, another chain
r = probe("--pool", "--service", "chain")
lines = finding_lines(r.stdout, "pool-consistent")
H.check(r.returncode == 1 and len(lines) == 1 and "another chain" in lines[0]
        and "127.0.21.25:5061" in lines[0] and "127.0.21.26:5061" in lines[0],
        "the same leaf with another chain: pool-consistent", r.stdout[-1500:])

# ----------------------------------------- a member that does not answer
r = probe("--pool", "--service", "gone")
lines = finding_lines(r.stdout, "unreachable")
H.check(r.returncode == 1 and len(lines) == 1 and "127.0.21.28:8057" in lines[0]
        and "b_gone" in lines[0],
        "a member that does not answer: unreachable naming it", r.stdout[-1500:])
H.check(not finding_lines(r.stdout, "pool-consistent"),
        "a member that does not answer is not compared")
H.check(r.seconds < 10, "bounded in time (%.2f s)" % r.seconds)

# ------------------------------- the front-end pool of web-services
r = probe("--pool", "--service", "ws")
lines = finding_lines(r.stdout, "pool-consistent")
H.check(r.returncode == 1 and len(lines) == 1 and "b_fe" in lines[0]
        and FP_CWA in lines[0] and FP_DEEP in lines[0],
        "web-services: its TLS backend's servers are compared", r.stdout[-1500:])
H.check(any(x.startswith("ws->b_fe ") and "pool member" in x and "cwa01.corp.example" in x
            for x in r.stdout.splitlines()),
        "web-services: members probed with verify_name as SNI", r.stdout[-1500:])

# ----------------------------------- without --pool nothing of the sort
r = probe("--service", "diff")
H.check(not finding_lines(r.stdout, "pool-consistent")
        and "pool member" not in r.stdout,
        "without --pool the members are not probed directly", r.stdout[-800:])

# --------------------------------------------------------- JSON, usage
r = probe("--pool", "--format", "json", timeout=120)
try:
    doc = json.loads(r.stdout)
except ValueError:
    doc = None
H.check(r.returncode == 1 and doc is not None, "json: well-formed, exit 1", r.stdout[-500:])
if doc:
    bad = sorted(f["subject"] for f in doc["findings"] if f["rule"] == "pool-consistent")
    H.check(bad == ['backend "b_chain"', 'backend "b_diff"', 'backend "b_fe"'],
            "json: pool-consistent for exactly the pools that disagree", bad)
    members = [p for p in doc["probes"] if p["pool_member"]]
    H.check(len(members) == 10 and all(p["backend"] for p in members),
            "json: one pool_member row per server", len(members))

r = probe("--pool", "--target", "127.0.21.11:443", "--service", "diff")
H.check(r.returncode == 2 and "--pool" in r.stderr and "--target" in r.stderr,
        "--pool with --target: exit 2", r.stderr)

H.stop_all()
H.done()
