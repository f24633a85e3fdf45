#!/usr/bin/env python3
"""Integration tests of `edge443 run`: the real binary, real clients (curl,
openssl s_client, Python's ssl), real backends, every service on its own
127.0.1.x address as in production (port 443 needs root, as CI is)."""
import hashlib
import os
import signal
import socket
import ssl
import subprocess
import threading
import time

from harness import (Harness, client_ctx, client_hello, curl, payload_sha,
                     recv_all, served_subject, tls_connect, wait_port)

H = Harness("run")

CONF = """
trust_file = "pki/trust.pem"
handshake_timeout = 2
connect_timeout = 2
idle_timeout = 30
shutdown_timeout = 10
workers = 2
admin = "127.0.1.40:9443"

certificate ssl1 {
  cert  = "pki/%(ssl1)s.crt"
  chain = "pki/chain.pem"
  key   = "pki/%(ssl1)s.key"
}
certificate ssl2 {
  cert  = "pki/ssl2.crt"
  chain = "pki/chain.pem"
}
certificate ec1 {
  cert  = "ec1.crt"
  chain = "pki/chain.pem"
  key   = "ec1.key"
}

backend b_access  { servers = {"127.0.1.21:5061"} }
backend b_webconf { servers = {"127.0.1.22:8057"} }
backend b_echo    { servers = {"127.0.1.23:3478"} }
backend b_app     { servers = {"127.0.1.25:8080"} }
backend b_failover { servers = {"127.0.1.98:9", "127.0.1.25:8080"} }
backend b_down    { servers = {"127.0.1.97:9"} }
backend b_cwa {
  servers = {"127.0.1.24:8443"}
  tls = true
  trust_file = "pki/internal-ca.crt"
  verify_name = "cwa01.corp.example"
}
backend b_wrong {
  servers = {"127.0.1.24:8443"}
  tls = true
  trust_file = "pki/internal-ca.crt"
  verify_name = "other.corp.example"
}
backend b_dirty {
  servers = {"127.0.1.26:8443"}
  tls = true
  trust_file = "pki/internal-ca.crt"
  verify_name = "cwa01.corp.example"
}

service access {
  role = "access-edge"
  fqdn = "sip.example.com"
  listen = "127.0.1.11:443"
  certificate = "ssl1"
  mode = "passthrough"
  backend = "b_access"
  sip_domains = {"example.com"}
}
service webconf {
  role = "webconf-edge"
  fqdn = "webconf.example.com"
  listen = "127.0.1.12:443"
  certificate = "ssl2"
  mode = "passthrough"
  backend = "b_webconf"
}
service av {
  role = "av-edge"
  fqdn = "av.example.com"
  listen = "127.0.1.13:443"
  mode = "passthrough"
  backend = "b_echo"
}
service cwa {
  role = "cwa"
  fqdn = "cwa.example.com"
  listen = "127.0.1.14:443"
  certificate = "ssl1"
  mode = "reencrypt"
  backend = "b_cwa"
}
service app {
  fqdn = "as.cwa.example.com"
  listen = "127.0.1.15:443"
  certificate = "ssl1"
  mode = "terminate"
  backend = "b_app"
}
service wrong {
  fqdn = "as.cwa.example.com"
  listen = "127.0.1.16:8441"
  certificate = "ssl1"
  mode = "reencrypt"
  backend = "b_wrong"
}
service failover {
  fqdn = "as.cwa.example.com"
  listen = "127.0.1.17:8442"
  certificate = "ssl1"
  mode = "terminate"
  backend = "b_failover"
}
service down {
  fqdn = "as.cwa.example.com"
  listen = "127.0.1.18:8443"
  certificate = "ssl1"
  mode = "terminate"
  backend = "b_down"
}
service echo {
  fqdn = "as.cwa.example.com"
  listen = "127.0.1.19:8444"
  certificate = "ssl1"
  mode = "terminate"
  backend = "b_echo"
}
service dirty {
  fqdn = "as.cwa.example.com"
  listen = "127.0.1.20:8445"
  certificate = "ssl1"
  mode = "reencrypt"
  backend = "b_dirty"
}
service twin {
  fqdn = "as.cwa.example.com"
  listen = "127.0.1.31:8446"
  certificate = {"ssl1", "ec1"}
  mode = "terminate"
  backend = "b_app"
}
service strict {
  fqdn = "download.cwa.example.com"
  listen = "127.0.1.27:443"
  certificate = "ssl1"
  mode = "passthrough"
  backend = "b_access"
  sni_strict = true
}
"""

MiB = 1 << 20
BIG = 32 * MiB

# An ECDSA twin of ssl1, made here with the openssl CLI from the test PKI's
# intermediate, for the listener that serves both key types.
pki = os.path.join(H.tmp, "pki")
subprocess.run("openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
               "-keyout ec1.key -subj /CN=sip.example.com -out ec1.csr 2>/dev/null && "
               "printf 'subjectAltName=DNS:sip.example.com,DNS:as.cwa.example.com\n"
               "extendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature\n"
               "crlDistributionPoints=URI:http://crl.example.com/edge443-test.crl\n"
               "authorityInfoAccess=caIssuers;URI:http://pki.example.com/edge443-test-int.crt\n' > ec1.ext && "
               "openssl x509 -req -sha256 -days 30 -in ec1.csr -CA pki/int.crt -CAkey pki/int.key "
               "-CAcreateserial -CAserial ec1.srl -extfile ec1.ext -out ec1.crt 2>/dev/null && chmod 600 ec1.key",
               shell=True, cwd=H.tmp, check=True)

# ----------------------------------------------------------------- backends
H.backend("127.0.1.21:5061", "http", "access-backend", ("ssl1.crt", "ssl1.key"), "chain.pem")
H.backend("127.0.1.22:8057", "http", "webconf-backend", ("ssl2.crt", "ssl2.key"), "chain.pem")
H.backend("127.0.1.23:3478", "echo", "echo")
H.backend("127.0.1.24:8443", "http", "cwa-backend", ("cwa-backend.crt", "cwa-backend.key"))
H.backend("127.0.1.25:8080", "http", "app")
H.backend("127.0.1.26:8443", "dirty", "dirty", ("cwa-backend.crt", "cwa-backend.key"))

# --------------------------------------------- a misconfigured plan binds nothing
# ssl2 becomes the all-in-one certificate (CN sip.example.com) on other IPs
H.write("onesan.conf", (CONF % {"ssl1": "ssl1"}).replace('"pki/ssl2.crt"', '"pki/all.crt"')
        .replace("127.0.1.", "127.0.1.1"))
r = subprocess.run([os.environ["EDGE443"], "run", "-c", "onesan.conf"],
                   cwd=H.tmp, capture_output=True, text=True, timeout=30)
H.check(r.returncode == 1, "misconfigured plan: exit 1", r.stderr[-400:])
H.check("error cn-shared onesan.conf:" in r.stderr, "misconfigured plan: cn-shared printed",
        r.stderr[-400:])
H.check("nothing was bound" in r.stderr, "misconfigured plan: says nothing was bound")
H.check(not wait_port("127.0.1.111:443", 0.3), "misconfigured plan: nothing listening")

# ------------------------------------------------------------------- start
conf = H.write("run.conf", CONF % {"ssl1": "ssl1"})
edge = H.edge("run.conf", wait_for=["127.0.1.11:443", "127.0.1.15:443", "127.0.1.27:443"])

# --------------------- each listener presents its own certificate, SNI or not
for addr, sni, cn in [("127.0.1.11:443", "sip.example.com", "sip.example.com"),
                      ("127.0.1.12:443", "webconf.example.com", "webconf.example.com"),
                      ("127.0.1.14:443", "cwa.example.com", "sip.example.com"),
                      ("127.0.1.15:443", "as.cwa.example.com", "sip.example.com")]:
    H.check(served_subject(addr, sni) == cn, "%s presents CN %s with SNI" % (addr, cn))
    H.check(served_subject(addr) == cn, "%s presents CN %s without SNI" % (addr, cn))

# --------------------- one listener, RSA and ECDSA: chosen by the client's sigalgs
def server_key_bits(addr, sigalgs):
    r = subprocess.run(["openssl", "s_client", "-connect", addr, "-servername",
                        "as.cwa.example.com", "-sigalgs", sigalgs],
                       input=b"", capture_output=True, timeout=20)
    for line in r.stdout.decode(errors="replace").splitlines():
        if line.startswith("Server public key is"):
            return line
    return r.stdout.decode(errors="replace")[-300:]

H.check("256 bit" in server_key_bits("127.0.1.31:8446", "ECDSA+SHA256"),
        "twin listener: an ECDSA-only client gets the ECDSA certificate")
H.check("2048 bit" in server_key_bits("127.0.1.31:8446", "RSA-PSS+SHA256:RSA+SHA256"),
        "twin listener: an RSA-only client gets the RSA certificate")

# -------------------------------------------------- requests end to end (curl)
for url, ip, want in [("https://as.cwa.example.com/t", "127.0.1.15", b"app /t\n"),
                      ("https://cwa.example.com/r", "127.0.1.14", b"cwa-backend /r\n"),
                      ("https://sip.example.com/p", "127.0.1.11", b"access-backend /p\n"),
                      ("https://webconf.example.com/p", "127.0.1.12", b"webconf-backend /p\n")]:
    rc, body = curl(url, ip)
    H.check(rc == 0 and body == want, "curl %s via %s" % (url, ip), (rc, body[:80]))

# --------------------------------------------------------- 32 MiB, byte-exact
for url, ip in [("https://as.cwa.example.com/size/%d" % BIG, "127.0.1.15"),
                ("https://cwa.example.com/size/%d" % BIG, "127.0.1.14"),
                ("https://sip.example.com/size/%d" % BIG, "127.0.1.11")]:
    rc, body = curl(url, ip)
    H.check(rc == 0 and hashlib.sha256(body).hexdigest() == payload_sha(BIG),
            "32 MiB byte-exact via %s" % ip, (rc, len(body)))
upload = H.path("upload.bin")
with open(upload, "wb") as f:
    f.write(os.urandom(BIG))
want = hashlib.sha256(open(upload, "rb").read()).hexdigest().encode()
for url, ip in [("https://as.cwa.example.com/up", "127.0.1.15"),
                ("https://cwa.example.com/up", "127.0.1.14")]:
    rc, body = curl(url, ip, extra=["--data-binary", "@" + upload])
    H.check(rc == 0 and body == want, "32 MiB upload byte-exact via %s" % ip, (rc, body[:80]))

# ------------------------------------------------ backend verification refused
rc, body = curl("https://as.cwa.example.com:8441/x", "127.0.1.16", 8441)
H.check(rc != 0, "reencrypt: backend with the wrong name is refused", (rc, body[:80]))
time.sleep(0.3)
H.check("hostname mismatch" in H.log(), "reencrypt: the log says why (hostname mismatch)")

# ---------------------------------------------------- passthrough of non-TLS
s = socket.create_connection(("127.0.1.13", 443), 5)
s.sendall(b"hello av edge\n")
s.shutdown(socket.SHUT_WR)
H.check(recv_all(s) == b"hello av edge\n", "passthrough carries a non-TLS stream")
s.close()

# ------------------------------------------------------------------ failover
rc, body = curl("https://as.cwa.example.com:8442/f", "127.0.1.17", 8442)
H.check(rc == 0 and body == b"app /f\n", "failover to the second server", (rc, body))

# -------------------------------------------------------------- backend down
rc, body = curl("https://as.cwa.example.com:8443/d", "127.0.1.18", 8443)
H.check(rc != 0 and body == b"", "backend down: client is closed", (rc, body))
time.sleep(0.3)
H.check("unreachable" in H.log() and "127.0.1.97:9" in H.log(),
        "backend down: the log says why")

# ---------------------------------------------- handshake timeout, both kinds
for ip in ("127.0.1.15", "127.0.1.11"):
    s = socket.create_connection((ip, 443), 5)
    t0 = time.time()
    s.settimeout(8)
    try:
        data = s.recv(100)
    except OSError:
        data = None
    took = time.time() - t0
    H.check(data == b"" and 1.5 < took < 5, "silent client on %s closed after the handshake timeout" % ip,
            (data, took))
    s.close()

# ------------------------------- close without close_notify loses no data
s = tls_connect("127.0.1.19", 8444, "as.cwa.example.com")
blob = os.urandom(MiB)
s.sendall(blob)
raw = socket.socket(fileno=os.dup(s.fileno()))
raw.shutdown(socket.SHUT_WR)      # FIN under TLS: no close_notify
got = recv_all(s)
H.check(got == blob, "client closing without close_notify: all data both ways",
        (len(got), len(blob)))
raw.close()
s.close()

s = tls_connect("127.0.1.20", 8445, "as.cwa.example.com")
s.sendall(b"ping\n")
got = recv_all(s)
H.check(got == b"dirty:ping\n", "backend closing without close_notify: data arrives", got)
s.close()

# ---------------------------------------------------------------- sni_strict
ctx = client_ctx()
s = tls_connect("127.0.1.27", 443, "download.cwa.example.com")
s.sendall(b"GET /s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
H.check(recv_all(s).endswith(b"access-backend /s\n"), "sni_strict: the service name passes")
s.close()
try:
    tls_connect("127.0.1.27", 443, "other.example.net")
    ok = False
except (ssl.SSLError, OSError):
    ok = True
H.check(ok, "sni_strict: a ClientHello for a name the certificate does not cover is refused")
s = socket.create_connection(("127.0.1.27", 443), 5)
s.sendall(b"not tls at all\n")
H.check(recv_all(s) == b"", "sni_strict: a non-TLS stream is refused")
s.close()

# ----------------------------------------------------------------- bad input
for ip, port in (("127.0.1.15", 443), ("127.0.1.11", 443)):
    s = socket.create_connection((ip, port), 5)
    s.sendall(b"\x16\x03\x01\x00\x05garbage" + os.urandom(500))
    s.settimeout(5)
    try:
        r = s.recv(100)
        while r and r[:1] == b"\x15":   # an alert is fine, then EOF
            r = s.recv(100)
    except OSError:
        r = b""
    H.check(r == b"", "garbage ClientHello on %s:%d ends the connection" % (ip, port))
    s.close()

hello = client_hello("as.cwa.example.com")
for ip in ("127.0.1.15", "127.0.1.11"):
    s = socket.create_connection((ip, 443), 5)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    for i in range(len(hello)):
        s.send(hello[i:i + 1])
        time.sleep(0.0005)
    s.settimeout(5)
    try:
        r = s.recv(5)
    except OSError:
        r = b""
    H.check(r[:1] == b"\x16", "ClientHello in 1-byte segments on %s gets a ServerHello" % ip, r)
    s.close()

big_alpn = ["p%03d" % i + "x" * 240 for i in range(70)]
for ip, sni in (("127.0.1.15", "as.cwa.example.com"), ("127.0.1.11", "sip.example.com")):
    h = client_hello(sni, big_alpn)
    try:
        s = tls_connect(ip, 443, sni, ctx=client_ctx(big_alpn))
        s.sendall(b"GET /big HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        ok = recv_all(s).endswith(b" /big\n")
        s.close()
    except (ssl.SSLError, OSError) as e:
        ok = e
    H.check(ok is True and len(h) > 16384, "a %d-byte ClientHello is served on %s" % (len(h), ip), ok)

s = tls_connect("127.0.1.15", 443, "as.cwa.example.com")
s.sendall(b"GET /size/%d HTTP/1.1\r\nHost: x\r\n\r\n" % BIG)
s.recv(MiB)
raw = socket.socket(fileno=os.dup(s.fileno()))
raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
raw.close()
s.close()                           # RST mid-stream
time.sleep(0.3)

# Half-close without close_notify while the download is backed up, then a
# reset: libevent stops writing a TLS side whose read side ended, so without
# care the reset went unnoticed and the connection (and its paused backend)
# stayed until the idle timeout.
s = tls_connect("127.0.1.15", 443, "as.cwa.example.com")
s.sendall(b"GET /size/%d HTTP/1.1\r\nHost: x\r\n\r\n" % BIG)
s.recv(1024)
sport = s.getsockname()[1]
time.sleep(0.5)                             # socket buffers full, backend paused
raw = socket.socket(fileno=os.dup(s.fileno()))
raw.shutdown(socket.SHUT_WR)                # FIN, no close_notify
time.sleep(0.5)                             # edge443: dirty EOF, output backed up
raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
raw.close()
s.close()                                   # RST
ended = None
for _ in range(30):
    for line in H.log().splitlines():
        # A whole line only: the log may be read while it is written.
        if "conn client=127.0.0.1:%d " % sport in line and ' end="' in line:
            ended = line
    if ended:
        break
    time.sleep(0.1)
H.check(ended is not None and 'end="client failed"' in ended,
        "a reset after a half-close ends the connection at once (not at the idle timeout)",
        ended or H.log()[-600:])
# The same half-close with a client that goes on reading: everything arrives.
s = tls_connect("127.0.1.15", 443, "as.cwa.example.com")
HALF = 8 * MiB
s.sendall(b"GET /size/%d HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % HALF)
time.sleep(0.5)                             # output backed up, backend paused
raw = socket.socket(fileno=os.dup(s.fileno()))
raw.shutdown(socket.SHUT_WR)                # FIN, no close_notify
raw.close()
s.settimeout(10)
got = recv_all(s)
s.close()
body = got.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in got else b""
H.check(hashlib.sha256(body).hexdigest() == payload_sha(HALF),
        "after a half-close without close_notify a backed-up download still completes",
        (len(got), HALF))
rc, body = curl("https://as.cwa.example.com/after", "127.0.1.15")
H.check(rc == 0 and body == b"app /after\n", "still serving after a client reset mid-stream")
H.check(edge.poll() is None, "edge443 is still running after the bad input")

# ------------------------------------------------------------- admin endpoint
def admin_get(path):
    r = subprocess.run(["curl", "-sS", "--max-time", "5", "-w", "\n%{http_code}",
                        "http://127.0.1.40:9443" + path], capture_output=True, text=True)
    body, _, code = r.stdout.rpartition("\n")
    return code, body

code, body = admin_get("/health")
H.check(code == "200" and body.strip() == "ok", "admin /health", (code, body))
code, metrics = admin_get("/metrics")
values = {}
for line in metrics.splitlines():
    if line and not line.startswith("#"):
        name, _, value = line.rpartition(" ")
        values[name] = float(value)
H.check(code == "200" and values.get("edge443_connections_total", 0) > 20,
        "admin /metrics counts connections", metrics[:300])
H.check(values.get('edge443_handshake_failures_total{reason="timeout"}', 0) >= 2,
        "metrics: handshake failures by reason", [k for k in values if "handshake" in k])
H.check(values.get('edge443_certificate_expiry_seconds{certificate="ssl1"}', 0) > 86400,
        "metrics: certificate expiry in seconds", [k for k in values if "expiry" in k])
H.check(values.get("edge443_backend_failures_total", 0) >= 1, "metrics: backend failures")
H.check(values.get('edge443_backend_server_failures_total{backend="b_failover",server="127.0.1.98:9"}', 0) >= 1
        and values.get('edge443_backend_server_up{backend="b_failover",server="127.0.1.25:8080"}') == 1,
        "metrics: backend server health (failures, up)", [k for k in values if "server" in k])
# A failover a moment ago: the refused server is down now, tried last.
rc, body = curl("https://as.cwa.example.com:8442/f2", "127.0.1.17", 8442)
rc2, body2 = curl("https://as.cwa.example.com:8442/f3", "127.0.1.17", 8442)
m = admin_get("/metrics")[1]
H.check(rc == 0 and rc2 == 0 and
        'edge443_backend_server_up{backend="b_failover",server="127.0.1.98:9"} 0' in m,
        "metrics: a server refused within the last 10 s is down", m[-600:])
H.check("backend b_failover: server 127.0.1.98:9 marked down" in H.log(),
        "log: a server going down is logged", H.log()[-400:])
H.check(admin_get("/nope")[0] == "404", "admin: unknown path is 404")

# ------------------------------------------------------------------- reload
long = tls_connect("127.0.1.19", 8444, "as.cwa.example.com")
long.sendall(b"before\n")
H.check(long.recv(100) == b"before\n", "a connection open before the reloads")
old_fp = hashlib.sha256(long.getpeercert(binary_form=True)).hexdigest()

H.write("run.conf", "this is { not a config\n")
edge.send_signal(signal.SIGHUP)
time.sleep(1)
rc, body = curl("https://as.cwa.example.com/h", "127.0.1.15")
H.check(rc == 0 and body == b"app /h\n", "SIGHUP with a broken config: still serving")
H.check("keeps serving" in H.log(), "SIGHUP with a broken config: logged")
H.check('edge443_reloads_total{result="failed"} 1' in admin_get("/metrics")[1],
        "metrics: the failed reload is counted")

H.write("run.conf", CONF % {"ssl1": "all"})
edge.send_signal(signal.SIGHUP)
time.sleep(1)
s = tls_connect("127.0.1.15", 443, "as.cwa.example.com")
new_fp = hashlib.sha256(s.getpeercert(binary_form=True)).hexdigest()
s.close()
der = subprocess.run(["openssl", "x509", "-in", os.path.join(H.tmp, "pki", "all.crt"),
                      "-outform", "DER"], capture_output=True).stdout
H.check(new_fp == hashlib.sha256(der).hexdigest() and new_fp != old_fp,
        "SIGHUP with a new certificate: new connections get it")
long.sendall(b"after\n")
H.check(long.recv(100) == b"after\n", "the connection opened before the reload still works")

# --------------------------------------------------------- SIGTERM drains
edge.send_signal(signal.SIGTERM)
time.sleep(0.5)
H.check(edge.poll() is None, "SIGTERM: waits for the open connection")
H.check(not wait_port("127.0.1.15:443", 0.3), "SIGTERM: no longer accepting")
long.sendall(b"draining\n")
H.check(long.recv(100) == b"draining\n", "SIGTERM: the open connection still works")
long.close()
try:
    rc = edge.wait(8)
except subprocess.TimeoutExpired:
    rc = None
H.check(rc == 0, "SIGTERM: exits 0 once drained", rc)
H.check("Sanitizer" not in H.log(), "no sanitizer report", H.log()[-2000:])

# ------------------------------------------------------- max_connections
H.write("limit.conf", """
trust_file = "pki/trust.pem"
workers = 1
max_connections = 2
certificate ssl1 {
  cert = "pki/ssl1.crt"
  chain = "pki/chain.pem"
  key = "pki/ssl1.key"
}
backend b_echo { servers = {"127.0.1.23:3478"} }
service echo {
  fqdn = "as.cwa.example.com"
  listen = "127.0.1.30:443"
  certificate = "ssl1"
  mode = "terminate"
  backend = "b_echo"
}
""")
lim = H.edge("limit.conf", wait_for=["127.0.1.30:443"])
time.sleep(0.3)  # let the probe connection of wait_for close
a = tls_connect("127.0.1.30", 443, "as.cwa.example.com")
b = tls_connect("127.0.1.30", 443, "as.cwa.example.com")
third = socket.create_connection(("127.0.1.30", 443), 5)
third_tls = client_ctx().wrap_socket(third, server_hostname="as.cwa.example.com",
                                     do_handshake_on_connect=False)
third_tls.settimeout(1.5)
try:
    third_tls.do_handshake()
    blocked = False
except (socket.timeout, ssl.SSLError, OSError):
    blocked = True
H.check(blocked, "max_connections: a third connection waits")
a.close()
third_tls.settimeout(5)
try:
    third_tls.do_handshake()
    third_tls.sendall(b"third\n")
    resumed = third_tls.recv(100) == b"third\n"
except (ssl.SSLError, OSError) as e:
    resumed = e
H.check(resumed is True, "max_connections: accepting resumes below the limit", resumed)
b.close()
third_tls.close()
H.check(H.stop(lim) == 0, "limit instance exits 0")

H.done()
