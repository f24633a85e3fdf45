#!/usr/bin/env python3
"""Integration tests of `edge443 probe`: the real binary against a running
lab layout (edge443 run plus Python TLS backends) on 127.0.2.x, and against
listeners that serve the wrong certificate, a chain without its intermediate,
nothing at all, TCP without TLS, and a different certificate without SNI."""
import json
import os
import socket
import ssl
import subprocess
import threading
import time

from harness import PKI, Harness, wait_port

H = Harness("probe")
EDGE443 = os.environ["EDGE443"]

HEAD = """
trust_file = "pki/trust.pem"
handshake_timeout = 2
connect_timeout = 1
idle_timeout = 30
shutdown_timeout = 5
workers = 1

certificate ssl1 {
  cert  = "pki/ssl1.crt"
  chain = "pki/chain.pem"
  key   = "pki/ssl1.key"
}
certificate ssl2 {
  cert  = "pki/ssl2.crt"
  chain = "pki/chain.pem"
}

backend b_access  { servers = {"127.0.2.21:5061"} }
backend b_webconf { servers = {"127.0.2.22:8057"} }
backend b_av      { servers = {"127.0.2.23:3478"} }
backend b_cwa {
  servers = {"127.0.2.24:8443"}
  tls = true
  trust_file = "pki/internal-ca.crt"
  verify_name = "cwa01.corp.example"
}
"""

# The good lab layout: every service on its own address at port 443.
GOOD = """
service access {
  role = "access-edge"
  fqdn = "sip.example.com"
  listen = "127.0.2.11:443"
  certificate = "ssl1"
  mode = "passthrough"
  backend = "b_access"
  sip_domains = {"example.com"}
}
service webconf {
  role = "webconf-edge"
  fqdn = "webconf.example.com"
  listen = "127.0.2.12:443"
  certificate = "ssl2"
  mode = "passthrough"
  backend = "b_webconf"
}
service av {
  role = "av-edge"
  fqdn = "av.example.com"
  listen = "127.0.2.13:443"
  mode = "passthrough"
  backend = "b_av"
}
service cwa {
  role = "cwa"
  fqdn = "cwa.example.com"
  listen = "127.0.2.14:443"
  certificate = "ssl1"
  mode = "reencrypt"
  backend = "b_cwa"
}
"""

# Broken listeners behind the same edge443 (other addresses and ports).
BAD_RUN = """
backend b_wrong   { servers = {"127.0.2.25:8057"} }
backend b_nochain { servers = {"127.0.2.26:5061"} }
backend b_misnamed {
  servers = {"127.0.2.24:8443"}
  tls = true
  trust_file = "pki/internal-ca.crt"
  verify_name = "other.corp.example"
}
service wrongcert {
  fqdn = "webconf.example.com"
  listen = "127.0.2.15:8441"
  certificate = "ssl2"
  mode = "passthrough"
  backend = "b_wrong"
}
service nochain {
  fqdn = "sip.example.com"
  listen = "127.0.2.16:8442"
  certificate = "ssl1"
  mode = "passthrough"
  backend = "b_nochain"
}
service misnamed {
  fqdn = "as.cwa.example.com"
  listen = "127.0.2.17:8443"
  certificate = "ssl1"
  mode = "reencrypt"
  backend = "b_misnamed"
}
"""

# Services that only the probe knows: where nothing listens, a TCP listener
# that never speaks TLS, and one that serves another certificate without SNI.
BAD_PROBE_ONLY = """
service gone {
  fqdn = "sip.example.com"
  listen = "127.0.2.18:443"
  certificate = "ssl1"
  mode = "terminate"
  backend = "b_access"
}
service silent {
  fqdn = "sip.example.com"
  listen = "127.0.2.19:443"
  certificate = "ssl1"
  mode = "terminate"
  backend = "b_access"
}
service nosni {
  fqdn = "webconf.example.com"
  listen = "127.0.2.20:443"
  certificate = "ssl2"
  mode = "passthrough"
  backend = "b_webconf"
}
"""


def probe(conf, *args, timeout=60):
    t0 = time.time()
    r = subprocess.run([EDGE443, "probe", "-c", conf, *args], cwd=H.tmp,
                       capture_output=True, text=True, timeout=timeout)
    r.seconds = time.time() - t0
    return r


def finding_lines(out, rule):
    return [l for l in out.splitlines() if l.split(" ")[1:2] == [rule]]


# ----------------------------------------------------------------- backends
H.backend("127.0.2.21:5061", "http", "access-backend", ("ssl1.crt", "ssl1.key"), "chain.pem")
H.backend("127.0.2.22:8057", "http", "webconf-backend", ("ssl2.crt", "ssl2.key"), "chain.pem")
H.backend("127.0.2.23:3478", "echo", "av-echo")
H.backend("127.0.2.24:8443", "http", "cwa-backend", ("cwa-backend.crt", "cwa-backend.key"))
# The wrong certificate: the all-in-one SAN certificate where ssl2 belongs.
H.backend("127.0.2.25:8057", "http", "wrong-backend", ("all.crt", "all.key"), "chain.pem")
# The forgotten intermediate: the leaf alone on the wire.
H.backend("127.0.2.26:5061", "http", "nochain-backend", ("ssl1.crt", "ssl1.key"))

# A TCP listener that accepts (the kernel does) and never says a word.
silent = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
silent.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
silent.bind(("127.0.2.19", 443))
silent.listen(16)


# ssl2.crt holds the leaf only: load_cert_chain sends what follows the leaf
# in the file, so write leaf + intermediate into one file.
with open(os.path.join(H.tmp, "ssl2-full.crt"), "w") as f:
    f.write(open(os.path.join(PKI, "ssl2.crt")).read())
    f.write(open(os.path.join(PKI, "chain.pem")).read())


# A TLS server that serves ssl2 for SNI webconf.example.com and all.crt to a
# ClientHello without SNI (a listener shared by several certificates).
def nosni_server():
    default = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    default.load_cert_chain(os.path.join(PKI, "all.crt"), os.path.join(PKI, "all.key"))
    named = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    named.load_cert_chain(os.path.join(H.tmp, "ssl2-full.crt"), os.path.join(PKI, "ssl2.key"))

    def pick(sslobj, name, ctx):
        if name == "webconf.example.com":
            sslobj.context = named
    default.sni_callback = pick
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.2.20", 443))
    srv.listen(16)
    ready.set()
    while True:
        conn, _ = srv.accept()
        conn.settimeout(5)
        try:
            with default.wrap_socket(conn, server_side=True) as s:
                s.recv(1)
        except (OSError, ssl.SSLError):
            pass


ready = threading.Event()
threading.Thread(target=nosni_server, daemon=True).start()
ready.wait(10)

# ------------------------------------------------------------------- start
H.write("run.conf", HEAD + GOOD + BAD_RUN)
H.write("good.conf", HEAD + GOOD)
H.write("probe.conf", HEAD + GOOD + BAD_RUN + BAD_PROBE_ONLY)
H.edge("run.conf", wait_for=["127.0.2.11:443", "127.0.2.12:443", "127.0.2.13:443",
                             "127.0.2.14:443", "127.0.2.15:8441", "127.0.2.16:8442",
                             "127.0.2.17:8443"])

# ------------------------------------------------------ the good lab passes
r = probe("good.conf")
H.check(r.returncode == 0, "good layout: exit 0", r.stdout[-1500:] + r.stderr[-500:])
out = r.stdout
head = out.splitlines()[0] if out else ""
H.check(all(c in head for c in ("SERVICE", "TARGET", "SNI", "SERVED CN", "FINGERPRINT",
                                "MATCHES PLAN", "CHAIN", "NOTE")),
        "good layout: table header", head)
rows = [l for l in out.splitlines() if l.startswith("access ")]
H.check(len(rows) == 2 and all("sip.example.com" in l and " yes " in l and " ok " in l
                               for l in rows),
        "good layout: access served ssl1 with and without SNI, chain ok", rows)
H.check(any(l.startswith("webconf ") and "webconf.example.com" in l for l in out.splitlines()),
        "good layout: webconf row")
H.check(any(l.startswith("av ") and "not TLS" in l for l in out.splitlines()),
        "good layout: av-edge without certificate is 'not TLS', not an error")
H.check(any(l.startswith("cwa->b_cwa ") and "cwa01.corp.example" in l and "verified" in l
            for l in out.splitlines()),
        "good layout: the re-encrypting backend is probed and verified")
H.check("error " not in out and "0 errors" in out, "good layout: no error findings")

# --format json is one well-formed document with the same content
r = probe("good.conf", "--format", "json")
try:
    doc = json.loads(r.stdout)
except ValueError as e:
    doc = None
H.check(r.returncode == 0 and doc is not None, "json: well-formed, exit 0", r.stdout[-500:])
if doc:
    H.check(doc["errors"] == 0 and doc["ok"] is True, "json: no errors")
    acc = [p for p in doc["probes"] if p["service"] == "access"]
    H.check(len(acc) == 2 and acc[0]["sni"] == "sip.example.com" and acc[1]["sni"] is None
            and all(p["matches_plan"] == "yes" and p["chain"] == "ok" and
                    p["served_cn"] == "sip.example.com" for p in acc),
            "json: access probed with and without SNI", acc)

# ------------------------------------------------- the wrong certificate
r = probe("probe.conf", "--service", "wrongcert")
lines = finding_lines(r.stdout, "served-differs")
H.check(r.returncode == 1, "wrong certificate: exit 1", r.stdout[-800:])
H.check(len(lines) == 1 and lines[0].startswith("error served-differs probe.conf:")
        and "ssl2" in lines[0] and "127.0.2.15:8441" in lines[0],
        "wrong certificate: served-differs names the address and ssl2", lines)
H.check(any(l.startswith("wrongcert ") and " no " in l for l in r.stdout.splitlines()),
        "wrong certificate: MATCHES PLAN is no")

# --------------------------------------------- the intermediate not on the wire
r = probe("probe.conf", "--service", "nochain")
lines = finding_lines(r.stdout, "served-chain-incomplete")
H.check(r.returncode == 1, "missing intermediate: exit 1", r.stdout[-800:])
H.check(len(lines) >= 1 and lines[0].startswith("error served-chain-incomplete probe.conf:")
        and "127.0.2.16:8442" in lines[0],
        "missing intermediate: served-chain-incomplete", lines)
H.check(not finding_lines(r.stdout, "served-differs"),
        "missing intermediate: the leaf itself matches the plan")
H.check(any(l.startswith("nochain ") and " incomplete " in l for l in r.stdout.splitlines()),
        "missing intermediate: CHAIN is incomplete")

# ---------------------------------------------- nothing listens: fast
r = probe("probe.conf", "--service", "gone")
lines = finding_lines(r.stdout, "unreachable")
H.check(r.returncode == 1 and len(lines) == 1 and "127.0.2.18:443" in lines[0]
        and "refused" in lines[0].lower(),
        "nothing listens: unreachable, connection refused", r.stdout[-800:])
H.check(r.seconds < 1.0, "nothing listens: answered at once (%.2f s)" % r.seconds)

# ------------------------- TCP accepted, never TLS: unreachable after the timeout
r = probe("probe.conf", "--service", "silent")
lines = finding_lines(r.stdout, "unreachable")
H.check(r.returncode == 1 and len(lines) == 1 and "127.0.2.19:443" in lines[0]
        and "within 1 s" in lines[0],
        "silent listener: unreachable after connect_timeout", r.stdout[-800:])
H.check(0.8 <= r.seconds < 4.0, "silent listener: bounded by connect_timeout = 1 (%.2f s)"
        % r.seconds)

# -------------------------------------------------- backend fails verification
r = probe("probe.conf", "--service", "misnamed")
lines = finding_lines(r.stdout, "backend-verify")
H.check(r.returncode == 1 and len(lines) == 1 and "127.0.2.24:8443" in lines[0]
        and "other.corp.example" in lines[0] and "mismatch" in lines[0].lower(),
        "backend with another name: backend-verify with the OpenSSL reason", r.stdout[-800:])

# ------------------------------------------ another certificate without SNI
r = probe("probe.conf", "--service", "nosni")
lines = finding_lines(r.stdout, "served-no-sni")
H.check(len(lines) == 1 and lines[0].startswith("warn served-no-sni")
        and "127.0.2.20:443" in lines[0],
        "no SNI: served-no-sni warning", r.stdout[-1200:])

# ------------------------------------------------------------- --target
r = probe("probe.conf", "--service", "nosni", "--target", "127.0.2.12:443")
H.check(r.returncode == 0 and "127.0.2.12:443" in r.stdout
        and "127.0.2.20:443" not in r.stdout,
        "--target: probes the given address instead", r.stdout[-800:])
r = probe("probe.conf", "--service", "access", "--target", "edge.example.com:443")
H.check(r.returncode == 2 and "names are not resolved" in r.stderr,
        "--target with a name: exit 2, says names are not resolved", r.stderr)

# ------------------------------------------------------------- usage
r = probe("probe.conf", "--service", "nosuch")
H.check(r.returncode == 2 and "nosuch" in r.stderr, "unknown --service: exit 2", r.stderr)
r = probe("no-such-file.conf")
H.check(r.returncode == 3, "unreadable config: exit 3", r.stderr)

# ------------------------------ the whole bad layout at once, as one JSON document
r = probe("probe.conf", "--format", "json", timeout=120)
try:
    doc = json.loads(r.stdout)
except ValueError:
    doc = None
H.check(r.returncode == 1 and doc is not None, "json with errors: well-formed, exit 1",
        r.stdout[-500:])
if doc:
    rules = {f["rule"] for f in doc["findings"]}
    H.check({"served-differs", "served-chain-incomplete", "unreachable", "backend-verify",
             "served-no-sni"} <= rules, "json: every probe rule present", sorted(rules))
    H.check(doc["errors"] == sum(f["severity"] == "error" for f in doc["findings"]),
            "json: error count matches the findings")

H.stop_all()
silent.close()
H.done()
