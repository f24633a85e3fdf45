#!/usr/bin/env python3
"""edge443 order against a real ACME server: Debian's pebble.

In this test's own network namespace (tests/integration/netns.sh) pebble
serves its ACME API on 127.0.13.1:14000 with a TLS certificate made here
with the openssl CLI, and validates challenges on ports 443 (tls-alpn-01)
and 80 (http-01) of whatever its DNS says: pebble-challtestsrv on
127.0.13.2:8053, with an A record per name pointing at the service that
carries it (127.0.13.11-14).  PEBBLE_VA_NOSLEEP=1 and
PEBBLE_WFE_NONCEREJECT=0 keep it quick and deterministic; PEBBLE_AUTHZREUSE=0
makes every order validate its names again.  pebble 2.4 has External
Account Binding (its externalAccountMACKeys), no ARI (renewalInfo).

Checked: --dry-run lists the plan's names, the challenge and where it is
answered, and contacts nothing; on the classic OCS 2007 R2 layout (ssl1
with sip, cwa and its as./download. names; ssl2 with webconf and av) what
pebble issues breaks the plan — OCS 2007 R2 requires a CRL distribution
point (crl-dp-present) and pebble puts none in its certificates — so it is
refused and nothing is installed; the same services on Lync 2013 (one
certificate) are ordered with tls-alpn-01 and EAB, the key files 0600, the
state folder 0700, and `check` passes on the result; refusals (the OCS
plan, a chain that does not reach trust_file, a certificate that would
break a rule as of renew_before from now) keep the installed files; a wrong
EAB key is refused (and never printed); http-01 on the redirect_http
address, with `check` and `probe` (edge443 serving it) passing; a pebble
that rejects 30% of the nonces (badNonce) still issues; a CA that is down
is tried three times, then a clear error (exit 3).  Every process
started here is stopped by its PID."""
import hashlib
import json
import os
import shutil
import ssl
import stat
import subprocess
import sys
import time
import urllib.request

from harness import EDGE443, Harness, wait_port

if not shutil.which("pebble") or not shutil.which("pebble-challtestsrv"):
    print("SKIP: pebble is not installed (scripts/deps installs it)")
    sys.exit(77)
if not os.environ.get("EDGE443_IN_NETNS"):
    print("SKIP: needs a network namespace of its own (root, unshare --net): "
          "pebble validates on ports 80 and 443 of 127.0.13.11-14")
    sys.exit(77)

H = Harness("acme")
API = "127.0.13.1"
DNS = "127.0.13.2:8053"
DNSMGMT = "127.0.13.2:8055"
EAB_KID = "kid-1"
EAB_KEY = "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG"
WRONG_KEY = "b0rkb0rkb0rkb0rkb0rkb0rkb0rkb0rkb0rkb0rkb0r"


def run(*args, timeout=180):
    r = subprocess.run([EDGE443, *args], cwd=H.tmp, capture_output=True,
                       text=True, timeout=timeout)
    return r.returncode, r.stdout + r.stderr


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


# ---------------------------------------------------------- pebble and DNS
subprocess.run(["openssl", "req", "-x509", "-newkey", "ec",
                "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
                "-subj", "/CN=pebble", "-addext",
                "subjectAltName=IP:%s,DNS:localhost" % API,
                "-keyout", H.path("pebble.key"), "-out", H.path("pebble.crt")],
               check=True, capture_output=True, timeout=60)
H.write("pebble.json", json.dumps({"pebble": {
    "listenAddress": "%s:14000" % API,
    "managementListenAddress": "%s:15000" % API,
    "certificate": H.path("pebble.crt"),
    "privateKey": H.path("pebble.key"),
    "httpPort": 80,
    "tlsPort": 443,
    "ocspResponderURL": "",
    "externalAccountBindingRequired": False,
    "externalAccountMACKeys": {EAB_KID: EAB_KEY},
}}))


def start(args, env=None, log="pebble.log"):
    out = open(H.path(log), "ab")
    p = subprocess.Popen(args, cwd=H.tmp, stdout=out, stderr=out,
                         env=dict(os.environ, **(env or {})))
    H.procs.append(p)
    return p


dns = start(["pebble-challtestsrv", "-dns01", DNS, "-http01", "",
             "-https01", "", "-tlsalpn01", "", "-management", DNSMGMT,
             "-defaultIPv4", "127.0.13.11", "-defaultIPv6", ""],
            log="challtestsrv.log")
PEBBLE_ENV = {"PEBBLE_VA_NOSLEEP": "1", "PEBBLE_WFE_NONCEREJECT": "0",
              "PEBBLE_AUTHZREUSE": "0"}
pebble = start(["pebble", "-config", H.path("pebble.json"),
                "-dnsserver", DNS], env=PEBBLE_ENV)
H.check(wait_port(DNSMGMT, 30) and wait_port("%s:14000" % API, 30) and
        wait_port("%s:15000" % API, 30),
        "pebble and its DNS listen", H.log("pebble.log"))

for host, ip in (("sip.example.com", "127.0.13.11"),
                 ("webconf.example.com", "127.0.13.12"),
                 ("av.example.com", "127.0.13.13"),
                 ("cwa.example.com", "127.0.13.14"),
                 ("as.cwa.example.com", "127.0.13.14"),
                 ("download.cwa.example.com", "127.0.13.14"),
                 ("web.example.com", "127.0.13.15")):
    req = urllib.request.Request(
        "http://%s/add-a" % DNSMGMT, method="POST",
        data=json.dumps({"host": host + ".", "addresses": [ip]}).encode())
    urllib.request.urlopen(req, timeout=10).read()

# pebble's root (random at every start) is what the issued chains reach
ctx = ssl.create_default_context(cafile=H.path("pebble.crt"))
root = urllib.request.urlopen("https://%s:15000/roots/0" % API, context=ctx,
                              timeout=10).read()
H.write("pebble-root.pem", root.decode())

# ------------------------------------------------------------- the layout
ACME = """
acme {
  directory = "https://%s:14000/dir"
  contact = "mailto:pki@example.com"
  state_dir = "%%(state)s"
  trust_file = "pebble.crt"
  challenge = "%%(challenge)s"
  %%(eab)s
}
""" % API
CLASSIC = ACME + """
platform = "%(platform)s"
trust_file = "%(trust)s"
certificate ssl1 {
  cert = "out/ssl1.crt"
  chain = "out/ssl1-chain.pem"
  key = "out/ssl1.key"
  acme = true
}
certificate ssl2 {
  cert = "out/ssl2.crt"
  key = "out/ssl2.key"
  acme = true
}
backend edge { servers = {"127.0.13.21:5061"} }
backend cwa { servers = {"127.0.13.24:8080"} }
service access {
  role = "access-edge"
  fqdn = "sip.example.com"
  listen = "127.0.13.11:443"
  certificate = "ssl1"
  mode = "passthrough"
  backend = "edge"
  sip_domains = {"example.com"}
}
service webconf {
  role = "webconf-edge"
  fqdn = "webconf.example.com"
  listen = "127.0.13.12:443"
  certificate = "ssl2"
  mode = "passthrough"
  backend = "edge"
}
service av {
  role = "av-edge"
  fqdn = "av.example.com"
  listen = "127.0.13.13:443"
  mode = "passthrough"
  backend = "edge"
}
service cwa {
  role = "cwa"
  fqdn = "cwa.example.com"
  listen = "127.0.13.14:443"
  certificate = "ssl1"
  mode = "terminate"
  backend = "cwa"
  http { redirect_http = "127.0.13.14:80" }
}
"""
WEB = ACME + """
platform = "lync2013"
trust_file = "pebble-root.pem"
certificate web {
  cert = "web/web.crt"
  key = "web/web.key"
  acme = true
}
backend b { servers = {"127.0.13.25:8080"} }
service web {
  role = "web"
  fqdn = "web.example.com"
  listen = "127.0.13.15:443"
  certificate = "web"
  mode = "terminate"
  backend = "b"
  http { redirect_http = "127.0.13.15:80" }
}
"""
os.makedirs(H.path("out"))
os.makedirs(H.path("web"))
eab = 'eab_kid = "%s"\n  eab_hmac_key = "%s"' % (EAB_KID, EAB_KEY)
classic = H.write("classic.conf", CLASSIC % {
    "state": "state", "challenge": "tls-alpn-01", "eab": eab,
    "trust": "pebble-root.pem", "platform": "ocs2007r2"})


def lync(name, trust="pebble-root.pem", eab_text=eab, state="state",
         extra=""):
    """The same services on Lync 2013, where no service takes its FQDN from
    the CN: the plan puts them all on ssl1."""
    text = CLASSIC % {"state": state, "challenge": "tls-alpn-01",
                      "eab": eab_text + extra, "trust": trust,
                      "platform": "lync2013"}
    text = text.replace('certificate = "ssl2"', 'certificate = "ssl1"')
    text = text.replace("""certificate ssl2 {
  cert = "out/ssl2.crt"
  key = "out/ssl2.key"
  acme = true
}
""", "")
    return H.write(name, text)


# --dry-run: the plan's names, where each challenge is answered, nothing
# contacted (no account key, no state folder)
rc, out = run("order", "-c", classic, "--dry-run")
H.check(rc == 0, "order --dry-run exits 0", out)
H.check("certificate ssl1: sip.example.com, cwa.example.com, "
        "as.cwa.example.com, download.cwa.example.com" in out,
        "dry run: ssl1 has the plan's names, CN first", out)
H.check("certificate ssl2: webconf.example.com, av.example.com" in out,
        "dry run: ssl2 carries the A/V name", out)
H.check("answered on 127.0.13.11:443 (service access)" in out and
        "answered on 127.0.13.13:443 (service av)" in out,
        "dry run: tls-alpn-01 answered on the services' own addresses", out)
H.check("challenge tls-alpn-01" in out, "dry run: names the challenge", out)
H.check(not os.path.exists(H.path("state")),
        "dry run: contacts nothing (no state folder, no account key)")

# OCS 2007 R2 requires a CRL distribution point in every server
# certificate (crl-dp-present), and pebble puts none in its certificates:
# what it issues breaks the plan, and nothing is installed
rc, out = run("order", "-c", classic)
H.check(rc == 1, "a certificate that breaks a plan rule exits 1", out)
H.check("error crl-dp-present" in out and
        "not installed, the old files are kept" in out,
        "the refusal names the rule and says the old files stay", out)
H.check(not os.listdir(H.path("out")),
        "nothing is installed, no temporary file is left",
        str(os.listdir(H.path("out"))))
H.check(EAB_KEY not in out, "the EAB key is never printed")

# tls-alpn-01 with External Account Binding, on Lync 2013 (one certificate
# for the four services)
lync13 = lync("lync.conf")
rc, out = run("order", "-c", lync13, "--dry-run")
H.check(rc == 0 and "certificate ssl1: sip.example.com, webconf.example.com"
        in out and "answered on 127.0.13.12:443 (service webconf)" in out,
        "dry run on lync2013: one certificate, answered on every address", out)
rc, out = run("order", "-c", lync13)
H.check(rc == 0, "order with tls-alpn-01 (and EAB) exits 0", out)
H.check(EAB_KEY not in out, "the EAB key is never printed (lync)")
for f in ("out/ssl1.crt", "out/ssl1-chain.pem", "out/ssl1.key"):
    H.check(os.path.exists(H.path(f)), "%s written" % f)
H.check(mode(H.path("out/ssl1.key")) == 0o600, "the new key is 0600")
H.check(mode(H.path("state")) == 0o700, "state_dir is 0700")
H.check(mode(H.path("state/account.key")) == 0o600,
        "the account key is created 0600")
H.check(os.path.exists(H.path("state/account.url")),
        "the account URL is kept in state_dir")
H.check(not [n for n in os.listdir(H.path("out")) if ".new" in n or ".tmp" in n],
        "no temporary file left", str(os.listdir(H.path("out"))))
r = subprocess.run(["openssl", "x509", "-in", H.path("out/ssl1.crt"),
                    "-noout", "-ext", "subjectAltName"],
                   capture_output=True, text=True, timeout=30)
H.check("DNS:download.cwa.example.com" in r.stdout and
        "DNS:webconf.example.com" in r.stdout and
        "DNS:sip.example.com" in r.stdout,
        "ssl1 was issued for the plan's names", r.stdout)
rc, out = run("check", "-c", lync13)
H.check(rc == 0, "check passes on what was issued", out)

# a second order finds the account again by its key
first_key = sha(H.path("state/account.key"))
rc, out = run("order", "-c", lync13, "--certificate", "ssl1", "--key",
              "ec:p256")
H.check(rc == 0, "order --certificate ssl1 --key ec:p256 exits 0", out)
H.check(sha(H.path("state/account.key")) == first_key,
        "the account key is reused")
r = subprocess.run(["openssl", "pkey", "-in", H.path("out/ssl1.key"),
                    "-noout", "-text"], capture_output=True, text=True,
                   timeout=30)
H.check("prime256v1" in r.stdout or "P-256" in r.stdout,
        "--key ec:p256 gives an EC key", r.stdout[:200])

# refusals keep the installed files: the OCS plan (crl-dp-present), a chain
# that does not reach trust_file, and a certificate that would have expired
# by renew_before from now
before = sha(H.path("out/ssl1.crt")), sha(H.path("out/ssl1.key"))
rc, out = run("order", "-c", classic, "--certificate", "ssl1")
H.check(rc == 1 and "crl-dp-present" in out,
        "ocs2007r2: refused over an installed certificate", out)
H.check((sha(H.path("out/ssl1.crt")), sha(H.path("out/ssl1.key"))) == before,
        "the old certificate and key are kept")
rc, out = run("order", "-c", lync("broken.conf", trust="pebble.crt"))
H.check(rc == 1 and "not installed, the old files are kept" in out,
        "a chain that does not reach trust_file is refused", out)
H.check((sha(H.path("out/ssl1.crt")), sha(H.path("out/ssl1.key"))) == before,
        "the old certificate and key are kept (trust)")
H.check(not [n for n in os.listdir(H.path("out")) if ".new" in n],
        "the refused files are removed", str(os.listdir(H.path("out"))))
rc, out = run("order", "-c", lync("late.conf",
                                   extra="\n  renew_before = 3650"))
H.check(rc == 1 and "renew_before from now" in out and "expired" in out,
        "a certificate that fails a rule as of renew_before from now is "
        "refused", out)
H.check((sha(H.path("out/ssl1.crt")), sha(H.path("out/ssl1.key"))) == before,
        "the old certificate and key are kept (renew_before)")

# a wrong EAB key: refused by the CA, the key not printed
bad = lync("badeab.conf", state="state-bad",
           eab_text='eab_kid = "%s"\n  eab_hmac_key = "%s"'
           % (EAB_KID, WRONG_KEY))
rc, out = run("order", "-c", bad)
H.check(rc == 3 and "newAccount" in out,
        "a wrong EAB key is refused by the CA (exit 3)", out)
H.check(WRONG_KEY not in out, "the wrong EAB key is not printed")

# http-01 on the redirect_http address
web = H.write("web.conf", WEB % {"state": "state", "challenge": "http-01",
                                 "eab": ""})
rc, out = run("order", "-c", web, "--dry-run")
H.check(rc == 0 and "answered on 127.0.13.15:80 (service web)" in out,
        "dry run: http-01 is answered on redirect_http", out)
rc, out = run("order", "-c", web)
H.check(rc == 0, "order with http-01 exits 0", out)
H.check(mode(H.path("web/web.key")) == 0o600, "the http-01 key is 0600")
rc, out = run("check", "-c", web)
H.check(rc == 0, "check passes on the http-01 certificate", out)
# served: probe judges what a client gets with the plan's rules
edge = H.edge(web, wait_for=["127.0.13.15:443"], logname="web-run.log")
rc, out = run("probe", "-c", web)
H.check(rc == 0, "probe passes on the served http-01 certificate", out)
H.stop(edge)

# http-01 without redirect_http: a configuration error
nohttp = H.write("nohttp.conf", CLASSIC % {
    "state": "state", "challenge": "http-01", "eab": "",
    "trust": "pebble-root.pem", "platform": "ocs2007r2"})
rc, out = run("order", "-c", nohttp, "--certificate", "ssl2", "--dry-run")
H.check(rc == 2 and "has no redirect_http" in out,
        "http-01 without redirect_http is refused (exit 2)", out)

# badNonce: a pebble that rejects 30% of the nonces; every request is
# retried with the fresh nonce of the rejection
H.stop(pebble)
pebble = start(["pebble", "-config", H.path("pebble.json"),
                "-dnsserver", DNS],
               env=dict(PEBBLE_ENV, PEBBLE_WFE_NONCEREJECT="30"),
               log="pebble-nonce.log")
H.check(wait_port("%s:14000" % API, 30) and wait_port("%s:15000" % API, 30),
        "pebble with nonce rejection listens", H.log("pebble-nonce.log"))
root = urllib.request.urlopen("https://%s:15000/roots/0" % API, context=ctx,
                              timeout=10).read()
H.write("pebble-root.pem", root.decode())
shutil.rmtree(H.path("state"))
rc, out = run("order", "-c", web)
H.check(rc == 0, "order succeeds through badNonce rejections", out)
# pebble does not log each rejection; with ~15 requests at 30% the order
# meets one with a probability above 99%
H.check("Configured to reject 30% of good nonces" in H.log("pebble-nonce.log"),
        "pebble was rejecting nonces", H.log("pebble-nonce.log")[-2000:])
rc, out = run("check", "-c", web)
H.check(rc == 0, "check passes on the certificate ordered through "
        "badNonce", out)

# the CA down: a clear error, exit 3
H.stop(pebble)
rc, out = run("order", "-c", web)
H.check(rc == 3 and "14000" in out and "tried 3 times" in out,
        "a CA that is down: tried again, then exit 3, named", out)

H.done()
