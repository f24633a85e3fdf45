#!/usr/bin/env python3
"""The ACME renewal inside `edge443 run`, against Debian's pebble.

The set-up is test_acme.py's: in this test's own network namespace pebble
serves its ACME API on 127.0.14.1:14000 and validates on ports 443 and 80
of what pebble-challtestsrv (127.0.14.2:8053) says each name is.  edge443
starts with a short-lived certificate from a lab CA made here (20 days,
with a CRL distribution point and AIA, so that it passes every plan rule)
and renew_before = 30 days, so its renewal is due at once.

Checked: with tls-alpn-01, answered by the running listener's client-hello
callback (nothing else listens on 127.0.14.15:443), the certificate is
renewed, judged, installed and reloaded without a restart: new connections
get the new fingerprint, a connection opened before the swap still relays,
edge443_acme_renewals_total{result="ok"} is 1 and the next renewal is
months away; with http-01, answered by the running redirect_http listener,
the same; on OCS 2007 R2, whose plan requires a CRL distribution point
(crl-dp-present), pebble's certificate (which has none) is refused: the
log names the rule, the old certificate keeps serving and its files stay,
no .new file is left, and the refused counter rises.  Every process
started here is stopped by its PID."""
import hashlib
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import time
import urllib.request

from harness import Harness, wait_port

if not shutil.which("pebble") or not shutil.which("pebble-challtestsrv"):
    print("SKIP: pebble is not installed (scripts/deps installs it)")
    sys.exit(77)
if not os.environ.get("EDGE443_IN_NETNS"):
    print("SKIP: needs a network namespace of its own (root, unshare --net): "
          "pebble validates on ports 80 and 443 of 127.0.14.15")
    sys.exit(77)

H = Harness("acme-renew")
API = "127.0.14.1"
DNS = "127.0.14.2:8053"
DNSMGMT = "127.0.14.2:8055"
WEB_IP = "127.0.14.15"
ADMIN = "127.0.14.9:9443"


def openssl(*args):
    subprocess.run(["openssl", *args], check=True, capture_output=True,
                   timeout=60)


def start(args, env=None, log="pebble.log"):
    out = open(H.path(log), "ab")
    p = subprocess.Popen(args, cwd=H.tmp, stdout=out, stderr=out,
                         env=dict(os.environ, **(env or {})))
    H.procs.append(p)
    return p


# ---------------------------------------------------------- pebble and DNS
openssl("req", "-x509", "-newkey", "ec", "-pkeyopt",
        "ec_paramgen_curve:P-256", "-nodes", "-days", "2", "-subj",
        "/CN=pebble", "-addext", "subjectAltName=IP:%s,DNS:localhost" % API,
        "-keyout", H.path("pebble.key"), "-out", H.path("pebble.crt"))
H.write("pebble.json", json.dumps({"pebble": {
    "listenAddress": "%s:14000" % API,
    "managementListenAddress": "%s:15000" % API,
    "certificate": H.path("pebble.crt"),
    "privateKey": H.path("pebble.key"),
    "httpPort": 80,
    "tlsPort": 443,
    "ocspResponderURL": "",
    "externalAccountBindingRequired": False,
}}))
start(["pebble-challtestsrv", "-dns01", DNS, "-http01", "", "-https01", "",
       "-tlsalpn01", "", "-management", DNSMGMT, "-defaultIPv4", WEB_IP,
       "-defaultIPv6", ""], log="challtestsrv.log")
start(["pebble", "-config", H.path("pebble.json"), "-dnsserver", DNS],
      env={"PEBBLE_VA_NOSLEEP": "1", "PEBBLE_WFE_NONCEREJECT": "0",
           "PEBBLE_AUTHZREUSE": "0"})
H.check(wait_port(DNSMGMT, 30) and wait_port("%s:14000" % API, 30) and
        wait_port("%s:15000" % API, 30),
        "pebble and its DNS listen", H.log("pebble.log"))
req = urllib.request.Request(
    "http://%s/add-a" % DNSMGMT, method="POST",
    data=json.dumps({"host": "web.example.com.",
                     "addresses": [WEB_IP]}).encode())
urllib.request.urlopen(req, timeout=10).read()
ctx = ssl.create_default_context(cafile=H.path("pebble.crt"))
root = urllib.request.urlopen("https://%s:15000/roots/0" % API, context=ctx,
                              timeout=10).read().decode()

# ------------------------------------- a lab CA and a short-lived leaf
openssl("req", "-x509", "-newkey", "ec", "-pkeyopt",
        "ec_paramgen_curve:P-256", "-nodes", "-days", "30", "-subj",
        "/CN=Renew Lab CA", "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        "-keyout", H.path("ca.key"), "-out", H.path("ca.crt"))
H.write("leaf.ext", "subjectAltName=DNS:web.example.com\n"
        "extendedKeyUsage=serverAuth\n"
        "keyUsage=critical,digitalSignature,keyEncipherment\n"
        "crlDistributionPoints=URI:http://pki.example.com/lab.crl\n"
        "authorityInfoAccess=caIssuers;URI:http://pki.example.com/lab.crt\n")
with open(H.path("bundle.pem"), "w") as f:
    f.write(root)
    f.write(open(H.path("ca.crt")).read())


def lab_leaf(folder, ext="leaf.ext"):
    """A 20-day certificate for web.example.com from the lab CA."""
    os.makedirs(H.path(folder), exist_ok=True)
    key, crt = H.path(folder + "/web.key"), H.path(folder + "/web.crt")
    openssl("req", "-new", "-newkey", "rsa:2048", "-nodes", "-subj",
            "/CN=web.example.com", "-keyout", key, "-out",
            H.path(folder + "/web.csr"))
    openssl("x509", "-req", "-in", H.path(folder + "/web.csr"), "-CA",
            H.path("ca.crt"), "-CAkey", H.path("ca.key"), "-set_serial",
            str(int(time.time() * 1000)), "-days", "20", "-extfile",
            H.path(ext), "-out", crt)
    os.chmod(key, 0o600)
    os.unlink(H.path(folder + "/web.csr"))
    return crt, key


CONF = """
admin = "%(admin)s"
acme {
  directory = "%(directory)s"
  contact = "mailto:pki@example.com"
  state_dir = "state"
  trust_file = "pebble.crt"
  challenge = "%(challenge)s"
  renew_before = %(renew_before)d
}
platform = "%(platform)s"
trust_file = "bundle.pem"
certificate web {
  cert = "%(folder)s/web.crt"
  key = "%(folder)s/web.key"
  acme = true
}
backend b { servers = {"127.0.14.25:8080"} }
service web {
  role = "%(role)s"
  fqdn = "web.example.com"
  listen = "%(ip)s:443"
  certificate = "web"
  mode = "%(mode)s"
  backend = "b"
  %(http)s
}
"""


def conf(name, folder, challenge="tls-alpn-01", platform="lync2013",
         role="web", http="", directory="https://%s:14000/dir" % API,
         renew_before=30, mode="terminate"):
    return H.write(name, CONF % {
        "admin": ADMIN, "api": API, "challenge": challenge,
        "platform": platform, "folder": folder, "role": role, "ip": WEB_IP,
        "http": http, "directory": directory, "renew_before": renew_before,
        "mode": mode})


def served_der(sni="web.example.com", timeout=10):
    c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    c.check_hostname = False
    c.verify_mode = ssl.CERT_NONE
    s = c.wrap_socket(socket.create_connection((WEB_IP, 443), timeout),
                      server_hostname=sni)
    der = s.getpeercert(binary_form=True)
    s.close()
    return hashlib.sha256(der).hexdigest()


def file_der(path):
    r = subprocess.run(["openssl", "x509", "-in", path, "-outform", "DER"],
                       capture_output=True, timeout=30)
    return hashlib.sha256(r.stdout).hexdigest()


def metrics():
    try:
        return urllib.request.urlopen("http://%s/metrics" % ADMIN,
                                      timeout=5).read().decode()
    except OSError:
        return ""


def wait_log(edge, logname, text, seconds=90):
    end = time.time() + seconds
    while time.time() < end and edge.poll() is None:
        if text in H.log(logname):
            return True
        time.sleep(0.2)
    return text in H.log(logname)


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


H.backend("127.0.14.25:8080", "echo", name="echo")

# ---------------------------------- tls-alpn-01 through the running listener
crt, key = lab_leaf("alpn")
old = file_der(crt)
cfg = conf("alpn.conf", "alpn")
rc = subprocess.run([os.environ["EDGE443"], "check", "-c", cfg], cwd=H.tmp,
                    capture_output=True, text=True, timeout=60)
H.check(rc.returncode == 0, "the lab certificate passes the plan",
        rc.stdout + rc.stderr)
edge = H.edge(cfg, wait_for=["%s:443" % WEB_IP, ADMIN], logname="alpn.log")
# opened at once: the renewal (account, order, validation, polls of at
# least a second) swaps the certificate only later
early = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
early.check_hostname = False
early.verify_mode = ssl.CERT_NONE
conn = early.wrap_socket(socket.create_connection((WEB_IP, 443), 10),
                         server_hostname="web.example.com")
H.check(hashlib.sha256(conn.getpeercert(binary_form=True)).hexdigest() == old,
        "the connection opened first got the old certificate")
H.check(wait_log(edge, "alpn.log", "is in service for new connections"),
        "the renewal installs and reloads", H.log("alpn.log")[-3000:])
H.check("acme renewal of web: installed" in H.log("alpn.log"),
        "the log says the renewal installed it", H.log("alpn.log")[-3000:])
new = file_der(crt)
H.check(new != old, "a new certificate is on disk")
H.check(served_der() == new, "new connections get the new certificate "
        "without a restart")
r = subprocess.run(["openssl", "x509", "-in", crt, "-noout", "-issuer"],
                   capture_output=True, text=True, timeout=30)
H.check("Renew Lab CA" not in r.stdout, "pebble issued it", r.stdout)
conn.sendall(b"ping before the swap\n")
got = b""
conn.settimeout(10)
while len(got) < 21:
    chunk = conn.recv(100)
    if not chunk:
        break
    got += chunk
H.check(got == b"ping before the swap\n",
        "the connection opened before the swap still relays", repr(got))
conn.close()
m = metrics()
H.check('edge443_acme_renewals_total{certificate="web",result="ok"} 1' in m,
        "the ok counter is 1", m[-1500:])
H.check('edge443_acme_renewals_total{certificate="web",result="refused"} 0'
        in m, "nothing refused", m[-1500:])
nxt = [line for line in m.splitlines()
       if line.startswith("edge443_acme_next_renewal_seconds{")]
H.check(len(nxt) == 1 and int(nxt[0].split()[-1]) > 86400 * 30,
        "the next renewal is months away", str(nxt))
H.check(oct(os.stat(key).st_mode & 0o777) == "0o600", "the new key is 0600")
H.check(not [n for n in os.listdir(H.path("alpn")) if ".new" in n],
        "no .new file is left", str(os.listdir(H.path("alpn"))))
H.check(H.stop(edge) == 0, "edge443 stops cleanly", H.log("alpn.log")[-2000:])

# ------------------------------- http-01 through the running redirect listener
crt, key = lab_leaf("http")
old = file_der(crt)
cfg = conf("http.conf", "http", challenge="http-01",
           http='http { redirect_http = "%s:80" }' % WEB_IP)
edge = H.edge(cfg, wait_for=["%s:443" % WEB_IP, "%s:80" % WEB_IP, ADMIN],
              logname="http.log")
H.check(wait_log(edge, "http.log", "is in service for new connections"),
        "http-01: the renewal installs and reloads",
        H.log("http.log")[-3000:])
new = file_der(crt)
H.check(new != old and served_der() == new,
        "http-01: the new certificate is served without a restart")
H.check(H.stop(edge) == 0, "edge443 stops cleanly (http-01)",
        H.log("http.log")[-2000:])

# ------------------------ a renewal that breaks the plan rules is refused
crt, key = lab_leaf("ocs")
old = file_der(crt)
before = sha(crt), sha(key)
cfg = conf("ocs.conf", "ocs", platform="ocs2007r2", role="cwa",
           http='http { redirect_http = "%s:80" }' % WEB_IP)
rc = subprocess.run([os.environ["EDGE443"], "check", "-c", cfg], cwd=H.tmp,
                    capture_output=True, text=True, timeout=60)
H.check(rc.returncode == 0, "ocs2007r2: the lab certificate passes",
        rc.stdout + rc.stderr)
edge = H.edge(cfg, wait_for=["%s:443" % WEB_IP, ADMIN], logname="ocs.log")
H.check(wait_log(edge, "ocs.log", "refused by the plan rules"),
        "the renewal is refused", H.log("ocs.log")[-3000:])
log = H.log("ocs.log")
H.check("crl-dp-present" in log, "the refusal names the rule", log[-3000:])
H.check("the old certificate keeps serving" in log,
        "the log says the old certificate keeps serving", log[-3000:])
H.check((sha(crt), sha(key)) == before, "the old files are kept")
H.check(not [n for n in os.listdir(H.path("ocs")) if ".new" in n],
        "the refused files are removed", str(os.listdir(H.path("ocs"))))
H.check(served_der() == old, "the old certificate keeps serving")
m = metrics()
H.check('edge443_acme_renewals_total{certificate="web",result="refused"} 1'
        in m, "the refused counter is 1", m[-1500:])
H.check('edge443_acme_renewals_total{certificate="web",result="ok"} 0' in m,
        "nothing installed", m[-1500:])
nxt = [line for line in m.splitlines()
       if line.startswith("edge443_acme_next_renewal_seconds{")]
H.check(len(nxt) == 1 and 0 < int(nxt[0].split()[-1]) <= 60,
        "the next try backs off a minute", str(nxt))
H.check("reload" not in log.split("refused by the plan rules")[-1],
        "no reload after a refusal")
H.check(H.stop(edge) == 0, "edge443 stops cleanly (refused)",
        H.log("ocs.log")[-2000:])

# ------------- tls-alpn-01 through a running passthrough listener
# (the Access Edge of the classic layout: edge443 forwards the client's TLS
# to the backend, yet answers the validator's acme-tls/1 handshake itself)
crt, key = lab_leaf("pass")
old = file_der(crt)
cfg = conf("pass.conf", "pass", mode="passthrough")
edge = H.edge(cfg, wait_for=["%s:443" % WEB_IP, ADMIN], logname="pass.log")
H.check(wait_log(edge, "pass.log", "is in service for new connections"),
        "passthrough: the renewal installs and reloads",
        H.log("pass.log")[-3000:])
H.check("tls-alpn-01 answered for web.example.com" in H.log("pass.log"),
        "passthrough: edge443 answered the validator's acme-tls/1 "
        "handshake instead of passing it through", H.log("pass.log")[-3000:])
H.check(file_der(crt) != old, "passthrough: a new certificate is on disk")
s = socket.create_connection((WEB_IP, 443), 10)
s.sendall(b"not tls\n")
s.settimeout(10)
H.check(s.recv(100) == b"not tls\n",
        "passthrough: other connections still reach the backend untouched")
s.close()
H.check(H.stop(edge) == 0, "edge443 stops cleanly (passthrough)",
        H.log("pass.log")[-2000:])

# ---------- ACME Renewal Information (RFC 9773): the CA's window decides
# pebble 2.4 has no renewalInfo: a small HTTPS shim (pebble's own TLS
# certificate, another port) serves pebble's directory with renewalInfo
# added, and answers renewalInfo with a window that has already begun; the
# rest of the protocol goes to pebble itself.  The certificate is not due by
# renew_before (1 day of 20), so only the CA's window renews it now.
import base64
import http.server
import threading

H.write("leaf-ari.ext", open(H.path("leaf.ext")).read() +
        "authorityKeyIdentifier=keyid\n")
ari_seen = []


class AriShim(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/dir":
            d = json.loads(urllib.request.urlopen(
                "https://%s:14000/dir" % API, context=ctx, timeout=10).read())
            d["renewalInfo"] = "https://%s:14001/renewal-info" % API
            body, extra = json.dumps(d).encode(), {}
        elif self.path.startswith("/renewal-info/"):
            ari_seen.append(self.path.rsplit("/", 1)[1])
            now = time.time()
            iso = lambda t: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))
            body = json.dumps({"suggestedWindow": {
                "start": iso(now - 7200), "end": iso(now - 3600)}}).encode()
            extra = {"Retry-After": "21600"}
        else:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


shim = http.server.HTTPServer((API, 14001), AriShim)
sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
sctx.load_cert_chain(H.path("pebble.crt"), H.path("pebble.key"))
shim.socket = sctx.wrap_socket(shim.socket, server_side=True)
threading.Thread(target=shim.serve_forever, daemon=True).start()


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


crt, key = lab_leaf("ari", ext="leaf-ari.ext")
old = file_der(crt)
r = subprocess.run(["openssl", "x509", "-in", crt, "-noout", "-serial", "-ext",
                    "authorityKeyIdentifier"], capture_output=True, text=True,
                   timeout=30)
serial = bytes.fromhex(r.stdout.split("serial=")[1].split()[0].rjust(2, "0"))
if serial[0] & 0x80:
    serial = b"\0" + serial
keyid = bytes.fromhex("".join(l.strip() for l in r.stdout.splitlines()
                              if ":" in l and "=" not in l and "Identifier" not in l)
                      .replace("keyid:", "").replace(":", ""))
want_id = "%s.%s" % (b64u(keyid), b64u(serial))
cfg = conf("ari.conf", "ari", renew_before=1,
           directory="https://%s:14001/dir" % API)
edge = H.edge(cfg, wait_for=["%s:443" % WEB_IP, ADMIN], logname="ari.log")
H.check(wait_log(edge, "ari.log", "is in service for new connections"),
        "ARI: a window that has begun renews a certificate renew_before "
        "would keep for 19 more days", H.log("ari.log")[-3000:])
H.check("the CA's renewal window (RFC 9773)" in H.log("ari.log"),
        "ARI: the log names the CA's renewal window", H.log("ari.log")[-3000:])
H.check(ari_seen and ari_seen[0] == want_id,
        "ARI: renewalInfo is asked with the certificate's ARI identifier "
        "(its AKI keyIdentifier and serial)", "%s vs %s" % (ari_seen, want_id))
H.check(file_der(crt) != old and served_der() == file_der(crt),
        "ARI: the renewed certificate is served without a restart")
H.check(H.stop(edge) == 0, "edge443 stops cleanly (ARI)",
        H.log("ari.log")[-2000:])
shim.shutdown()

H.done()
