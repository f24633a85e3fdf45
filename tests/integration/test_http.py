#!/usr/bin/env python3
"""Integration tests of HTTP publishing (a service with an http block): the
real binary, curl and raw requests over TLS (Python ssl), a real backend.
Addresses 127.0.4.x; port 443 and 80 need root, as CI is."""
import hashlib
import os
import re
import socket
import ssl
import subprocess
import threading
import time

from harness import (PKI, Harness, client_ctx, curl, payload_sha, recv_all,
                     tls_connect)

H = Harness("http")

H.write("http.conf", """
trust_file = "pki/trust.pem"
handshake_timeout = 2
connect_timeout = 2
workers = 2
admin = "127.0.4.40:9443"

certificate ssl1 {
  cert  = "pki/ssl1.crt"
  chain = "pki/chain.pem"
  key   = "pki/ssl1.key"
}
backend b_cwa {
  servers = {"127.0.4.24:8443"}
  tls = true
  trust_file = "pki/internal-ca.crt"
  verify_name = "cwa01.corp.example"
}
backend b_app {
  servers = {"127.0.4.25:8080"}
  verify_name = "app01.corp.example"
}
backend b_down { servers = {"127.0.4.97:9"} }
certificate web {
  cert  = "pki/web.crt"
  chain = "pki/chain.pem"
  key   = "pki/web.key"
}
backend b_badname {
  servers = {"127.0.4.24:8443"}
  tls = true
  trust_file = "pki/internal-ca.crt"
  verify_name = "other01.corp.example"
}
backend b_full { servers = {"127.0.4.27:8080"} }
backend b_retry {
  servers = {"127.0.4.31:8443", "127.0.4.24:8443"}
  tls = true
  trust_file = "pki/internal-ca.crt"
  verify_name = "cwa01.corp.example"
}
backend b_retry3 {
  servers = {"127.0.4.32:8443", "127.0.4.24:8443"}
  tls = true
  trust_file = "pki/internal-ca.crt"
  verify_name = "cwa01.corp.example"
}
backend b_retry2 {
  servers = {"127.0.4.31:8443", "127.0.4.24:8443"}
  tls = true
  trust_file = "pki/internal-ca.crt"
  verify_name = "cwa01.corp.example"
}
backend b_deep {
  servers = {"127.0.4.30:8443"}
  tls = true
  trust_file = "pki/internal-ca.crt"
  verify_name = "cwa02.corp.example"
}
backend b_inject_pre {
  servers = {"127.0.4.28:8443"}
  tls = true
  trust_file = "pki/internal-ca.crt"
  verify_name = "cwa01.corp.example"
}
backend b_inject_post {
  servers = {"127.0.4.29:8443"}
  tls = true
  trust_file = "pki/internal-ca.crt"
  verify_name = "cwa01.corp.example"
}

service cwa {
  role = "cwa"
  fqdn = "cwa.example.com"
  listen = "127.0.4.14:443"
  certificate = "ssl1"
  mode = "reencrypt"
  backend = "b_cwa"
  http {
    paths = {"/"}
    host_header = "original"
    redirect_http = "127.0.4.14:80"
  }
}
service app {
  fqdn = "as.cwa.example.com"
  listen = "127.0.4.15:443"
  certificate = "ssl1"
  mode = "terminate"
  backend = "b_app"
  http {
    paths = {"/pub/", "/size/", "/chunked/", "/headers", "/conn", "/count", "/up", "/ws"}
    host_header = "backend"
  }
}
service down {
  fqdn = "download.cwa.example.com"
  listen = "127.0.4.16:443"
  certificate = "ssl1"
  mode = "terminate"
  backend = "b_down"
  http {
    paths = {"/"}
  }
}
service badname {
  role = "web"
  fqdn = "bad.example.com"
  listen = "127.0.4.17:443"
  certificate = "web"
  mode = "reencrypt"
  backend = "b_badname"
  http {
    paths = {"/"}
  }
}
service injectpre {
  role = "web"
  fqdn = "inject1.example.com"
  listen = "127.0.4.19:443"
  certificate = "web"
  mode = "reencrypt"
  backend = "b_inject_pre"
  http {
    paths = {"/"}
  }
}
service injectpost {
  role = "web"
  fqdn = "inject2.example.com"
  listen = "127.0.4.20:443"
  certificate = "web"
  mode = "reencrypt"
  backend = "b_inject_post"
  http {
    paths = {"/"}
  }
}
service deep {
  role = "web"
  fqdn = "deep.example.com"
  listen = "127.0.4.21:443"
  certificate = "web"
  mode = "reencrypt"
  backend = "b_deep"
  http {
    paths = {"/"}
  }
}
service retry {
  role = "web"
  fqdn = "retry.example.com"
  listen = "127.0.4.22:443"
  certificate = "web"
  mode = "reencrypt"
  backend = "b_retry"
  http {
    paths = {"/"}
  }
}
service retrytcp {
  role = "web"
  fqdn = "retrytcp.example.com"
  listen = "127.0.4.23:443"
  certificate = "web"
  mode = "reencrypt"
  backend = "b_retry2"
}
service retryslow {
  role = "web"
  fqdn = "retryslow.example.com"
  listen = "127.0.4.33:443"
  certificate = "web"
  mode = "reencrypt"
  backend = "b_retry3"
  http {
    paths = {"/"}
  }
}
service full {
  role = "web"
  fqdn = "full.example.com"
  listen = "127.0.4.18:443"
  certificate = "web"
  mode = "terminate"
  backend = "b_full"
  http {
    paths = {"/"}
  }
}
""")

H.backend("127.0.4.24:8443", "http", "cwa-backend", ("cwa-backend.crt", "cwa-backend.key"))
H.backend("127.0.4.25:8080", "http", "app")
H.backend("127.0.4.30:8443", "http", "deep-backend", ("cwa-deep-full.pem", "cwa-deep.key"))
# A server of b_retry with a certificate from the public CA: fails verification.
H.backend("127.0.4.31:8443", "http", "wrong-backend", ("ssl1.crt", "ssl1.key"))
edge = H.edge("http.conf", wait_for=["127.0.4.14:443", "127.0.4.15:443", "127.0.4.14:80"])

APP = ("127.0.4.15", "as.cwa.example.com")
CWA = ("127.0.4.14", "cwa.example.com")


def raw(target, data, timeout=5):
    """Send DATA over TLS to TARGET, return everything until close/timeout."""
    s = tls_connect(target[0], 443, target[1], timeout=timeout)
    s.sendall(data)
    out = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
    except (socket.timeout, ssl.SSLError, OSError):
        pass
    s.close()
    return out


def status(resp):
    try:
        return int(resp.split(b" ", 2)[1])
    except (IndexError, ValueError):
        return None


def count():
    """How many requests the backend answered before this one (this request
    counts too: two calls in a row differ by one)."""
    return int(raw(APP, b"GET /count HTTP/1.1\r\nHost: as.cwa.example.com\r\n"
                   b"Connection: close\r\n\r\n").split(b"\r\n\r\n", 1)[1])


# --------------------------------------------------------------- end to end
rc, body = curl("https://cwa.example.com/hello", "127.0.4.14")
H.check(rc == 0 and body == b"cwa-backend /hello\n", "reencrypt + http: a request reaches the internal server", (rc, body))
rc, body = curl("https://as.cwa.example.com/pub/x?y=1", "127.0.4.15")
H.check(rc == 0 and body == b"app /pub/x?y=1\n", "terminate + http: an allowed path", (rc, body))

# --------------------------------------------------- paths: 404, no backend
before = count()
resp = raw(APP, b"GET /private HTTP/1.1\r\nHost: as.cwa.example.com\r\nConnection: close\r\n\r\n")
H.check(status(resp) == 404, "a path that is not published gets 404", resp[:80])
H.check(count() == before + 1, "the 404 did not touch the backend", (before, count()))
resp = raw(APP, b"GET /pub/../private HTTP/1.1\r\nHost: as.cwa.example.com\r\nConnection: close\r\n\r\n")
H.check(status(resp) in (400, 404), "a dot-dot path cannot escape the prefix", resp[:80])

# ------------------------------------------------------------- wrong Host
resp = raw(APP, b"GET /pub/a HTTP/1.1\r\nHost: evil.example.net\r\n\r\n"
           b"GET /pub/b HTTP/1.1\r\nHost: as.cwa.example.com\r\nConnection: close\r\n\r\n")
H.check(status(resp) == 421, "a wrong Host gets 421", resp[:80])
H.check(b"app /pub/b\n" in resp, "after a 421 the connection keeps serving", resp[-80:])
resp = raw(APP, b"GET /pub/c HTTP/1.1\r\nHost: sip.example.com\r\nConnection: close\r\n\r\n")
H.check(status(resp) == 200, "a Host among the certificate's names is accepted", resp[:80])

# --------------------------------------------------------- forwarded headers
resp = raw(APP, b"GET /headers HTTP/1.1\r\nHost: as.cwa.example.com\r\n"
           b"X-Forwarded-For: 6.6.6.6\r\nX-Forwarded-Proto: http\r\n"
           b"X-Forwarded-Host: evil\r\nConnection: close\r\n\r\n")
head = resp.split(b"\r\n\r\n", 1)[1].lower()
H.check(b"x-forwarded-for: 127.0.0.1" in head and b"6.6.6.6" not in head,
        "X-Forwarded-For is set by edge443, the client's value overwritten", head)
H.check(b"x-forwarded-proto: https" in head and b"x-forwarded-host: as.cwa.example.com" in head
        and b"evil" not in head, "X-Forwarded-Proto and -Host overwritten", head)
H.check(b"\nhost: app01.corp.example" in head, "host_header = backend sends verify_name", head)
resp = raw(CWA, b"GET /headers HTTP/1.1\r\nHost: cwa.example.com\r\nConnection: close\r\n\r\n")
H.check(b"\nhost: cwa.example.com" in resp.split(b"\r\n\r\n", 1)[1].lower(),
        "host_header = original forwards the client's Host", resp[-200:])

# -------------------------------------------------------------- redirect
r = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code} %{redirect_url}",
                    "--max-time", "10", "http://127.0.4.14/a/b?c=d"], capture_output=True, text=True)
H.check(r.stdout == "301 https://cwa.example.com/a/b?c=d", "port 80 redirects to https://FQDN/same-path?query", r.stdout)

# ---------------------------------------------------------------- keep-alive
r = subprocess.run(["curl", "-sv", "--max-time", "10", "--resolve", "as.cwa.example.com:443:127.0.4.15",
                    "--cacert", os.path.join(H.tmp, "pki", "trust.pem"),
                    "https://as.cwa.example.com/conn", "https://as.cwa.example.com/conn"],
                   capture_output=True)
ids = r.stdout
H.check(b"Re-using existing connection" in r.stderr and len(ids) >= 2 and ids[:len(ids) // 2] == ids[len(ids) // 2:],
        "keep-alive: two requests, one client connection, one backend connection", ids)

# ------------------------------------------------------------------ pinning
a = tls_connect(APP[0], 443, APP[1])
b = tls_connect(APP[0], 443, APP[1])
get = b"GET /conn HTTP/1.1\r\nHost: as.cwa.example.com\r\n\r\n"


def one(s):
    s.sendall(get)
    data = b""
    while b"\r\n\r\n" not in data:
        data += s.recv(4096)
    head, body = data.split(b"\r\n\r\n", 1)
    n = int([l for l in head.split(b"\r\n") if l.lower().startswith(b"content-length")][0].split(b":")[1])
    while len(body) < n:
        body += s.recv(4096)
    return body


a1, b1, a2, b2 = one(a), one(b), one(a), one(b)
H.check(a1 == a2 and b1 == b2 and a1 != b1, "pinning: each client keeps its own backend connection", (a1, b1, a2, b2))
a.close()
b.close()

# --------------------------------------------------------- bodies, byte-exact
blob = H.path("post.bin")
with open(blob, "wb") as f:
    f.write(os.urandom(1 << 20))
want = hashlib.sha256(open(blob, "rb").read()).hexdigest().encode()
rc, body = curl("https://as.cwa.example.com/up", "127.0.4.15", extra=["--data-binary", "@" + blob])
H.check(rc == 0 and body == want, "1 MiB POST byte-exact", (rc, body[:70]))
rc, body = curl("https://as.cwa.example.com/up", "127.0.4.15",
                extra=["--data-binary", "@" + blob, "-H", "Transfer-Encoding: chunked"])
H.check(rc == 0 and body == want, "chunked POST re-framed byte-exact", (rc, body[:70]))
rc, body = curl("https://as.cwa.example.com/up", "127.0.4.15",
                extra=["--data-binary", "@" + blob, "-H", "Expect: 100-continue"])
H.check(rc == 0 and body == want, "Expect: 100-continue works", (rc, body[:70]))
N = 64 << 20
rc, body = curl("https://cwa.example.com/size/%d" % N, "127.0.4.14")
H.check(rc == 0 and hashlib.sha256(body).hexdigest() == payload_sha(N), "64 MiB GET byte-exact (reencrypt)", (rc, len(body)))
rc, body = curl("https://as.cwa.example.com/chunked/%d" % (3 << 20), "127.0.4.15")
H.check(rc == 0 and hashlib.sha256(body).hexdigest() == payload_sha(3 << 20), "chunked response byte-exact", (rc, len(body)))
resp = raw(APP, b"HEAD /size/100 HTTP/1.1\r\nHost: as.cwa.example.com\r\n\r\n"
           b"GET /pub/after-head HTTP/1.1\r\nHost: as.cwa.example.com\r\nConnection: close\r\n\r\n")
H.check(resp.count(b"HTTP/1.1 200") == 2 and resp.endswith(b"app /pub/after-head\n"),
        "a HEAD response has no body and the next response follows", resp[-120:])

# ------------------------------------------------------------------ upgrade
s = tls_connect(APP[0], 443, APP[1])
s.sendall(b"GET /ws HTTP/1.1\r\nHost: as.cwa.example.com\r\nConnection: Upgrade\r\n"
          b"Upgrade: websocket\r\n\r\n")
data = b""
while b"\r\n\r\n" not in data:
    data += s.recv(4096)
H.check(data.startswith(b"HTTP/1.1 101"), "Upgrade: 101 reaches the client", data[:60])
s.sendall(b"\x81\x05hello-tunnel")
got = b""
s.settimeout(5)
try:
    while len(got) < 14:
        got += s.recv(4096)
except OSError:
    pass
H.check(got == b"\x81\x05hello-tunnel", "after 101 the connection is a raw tunnel", got)
s.close()

# ------------------------------------------------------------ smuggling: 400
HOST = b"Host: as.cwa.example.com\r\n"
bad = {
    "Content-Length with Transfer-Encoding":
        b"POST /up HTTP/1.1\r\n" + HOST + b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "duplicate Content-Length":
        b"POST /up HTTP/1.1\r\n" + HOST + b"Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
    "malformed Content-Length":
        b"POST /up HTTP/1.1\r\n" + HOST + b"Content-Length: 5x\r\n\r\nhello",
    "whitespace before the colon":
        b"GET /pub/ HTTP/1.1\r\n" + HOST + b"X-A : b\r\n\r\n",
    "obs-fold":
        b"GET /pub/ HTTP/1.1\r\n" + HOST + b"X-A: b\r\n c\r\n\r\n",
    "bare LF":
        b"GET /pub/ HTTP/1.1\n" + HOST + b"\r\n",
    "bare CR":
        b"GET /pub/ HTTP/1.1\r\n" + HOST + b"X-A: b\rc\r\n\r\n",
    "NUL in a header":
        b"GET /pub/ HTTP/1.1\r\n" + HOST + b"X-A: b\x00c\r\n\r\n",
    "two Host headers":
        b"GET /pub/ HTTP/1.1\r\n" + HOST + HOST + b"\r\n",
    "malformed chunk size":
        b"POST /up HTTP/1.1\r\n" + HOST + b"Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
    "chunk size overflow":
        b"POST /up HTTP/1.1\r\n" + HOST + b"Transfer-Encoding: chunked\r\n\r\nffffffffffffffffff1\r\nx\r\n0\r\n\r\n",
    "Transfer-Encoding other than chunked":
        b"POST /up HTTP/1.1\r\n" + HOST + b"Transfer-Encoding: gzip\r\n\r\n",
}
for what, req in bad.items():
    before = count()
    resp = raw(APP, req + b"GET /pub/smuggled HTTP/1.1\r\n" + HOST + b"\r\n")
    H.check(status(resp) == 400 and b"smuggled" not in resp and count() == before + 1,
            "smuggling: %s -> 400, closed, backend untouched" % what, resp[:100])

resp = raw(APP, b"GET /pub/ HTTP/1.1\r\n" + HOST + b"X-Big: " + b"a" * 20000 + b"\r\n\r\n")
H.check(status(resp) in (431, 400), "a huge header is refused", resp[:80])
resp = raw(APP, b"GET /pub/ HTTP/1.1\r\n" + HOST + b"".join(b"X-%d: v\r\n" % i for i in range(200)) + b"\r\n")
H.check(status(resp) in (431, 400), "too many headers are refused", resp[:80])

# ------------------------------------------------------- header read timeout
s = tls_connect(APP[0], 443, APP[1])
s.sendall(b"GET /pub/ HTTP/1.1\r\n")
t0 = time.time()
resp = recv_all(s)
H.check(status(resp) == 408 and time.time() - t0 < 6, "an unfinished head gets 408 after the header timeout", resp[:60])
s.close()

# ---------------------------------------------------------------- backend down
rc, body = curl("https://download.cwa.example.com/x", "127.0.4.16", extra=["-o", "-", "-w", "%{http_code}"])
H.check(body.endswith(b"502") and b"502" in body, "backend down -> 502 with a body", body[-100:])

# ------------------ a backend chain with two intermediates verifies in full
rc, body = curl("https://deep.example.com/deep", "127.0.4.21")
H.check(rc == 0 and body == b"deep-backend /deep\n",
        "re-encrypt verifies a backend two intermediates below the internal root", (rc, body))

# ------------- a server failing TLS verification: the next server answers
for name, ip in (("retry.example.com", "127.0.4.22"), ("retrytcp.example.com", "127.0.4.23")):
    got = [curl("https://%s/r%d" % (name, i), ip) for i in range(3)]
    H.check(all(rc == 0 and body.startswith(b"cwa-backend /r") for rc, body in got),
            "%s: a server failing verification is skipped for the next one, every request answered" % name,
            got)
# A server that accepts but never answers the TLS handshake: after
# connect_timeout (2 s) the next server answers.
silent = socket.socket()
silent.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
silent.bind(("127.0.4.32", 8443))
silent.listen(8)
t0 = time.time()
rc, body = curl("https://retryslow.example.com/s", "127.0.4.33")
took = time.time() - t0
H.check(rc == 0 and body == b"cwa-backend /s\n" and 1.5 < took < 6,
        "a server silent in the TLS handshake is left for the next one after connect_timeout",
        (rc, body[:80], took))
silent.close()
H.check("trying another server of backend b_retry" in H.log(),
        "the retry on another server is logged", H.log()[-500:])

# --------------------------------------------- backend fails verification: 502
rc, body = curl("https://bad.example.com/x", "127.0.4.17", extra=["-o", "-", "-w", "%{http_code}"])
H.check(rc == 0 and body.endswith(b"502"), "backend certificate not for verify_name -> 502", body[-100:])

# ------------------------------------------- backend connect timeout: 504
# A listener whose accept queue is full drops further SYNs: connect hangs.
full = socket.socket()
full.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
full.bind(("127.0.4.27", 8080))
full.listen(0)
fillers = []
for _ in range(4):
    f = socket.socket()
    f.settimeout(0.3)
    try:
        f.connect(("127.0.4.27", 8080))
    except OSError:
        pass
    fillers.append(f)
t0 = time.time()
rc, body = curl("https://full.example.com/x", "127.0.4.18", extra=["-o", "-", "-w", "%{http_code}"])
took = time.time() - t0
H.check(rc == 0 and body.endswith(b"504") and 1.5 < took < 6,
        "backend connect timeout (connect_timeout = 2) -> 504", (body[-100:], took))
for f in fillers:
    f.close()
full.close()

# ---------------- only bytes out of the backend's TLS layer reach the client
# (nginx CVE-2026-1642): plaintext a man in the middle writes on the backend
# connection, before the handshake or between records, is never forwarded.
INJECT = b"HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\ninjected"


def injector(addr, after_handshake):
    """One-shot backend on ADDR: plaintext response before the TLS
    handshake, or (AFTER_HANDSHAKE) a real handshake, then the plaintext
    written on the raw socket beside the TLS records."""
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(addr)
    ls.listen(4)
    ls.settimeout(10)

    def run():
        try:
            c, _ = ls.accept()
        except OSError:
            ls.close()
            return
        c.settimeout(5)
        try:
            if after_handshake:
                sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                sctx.load_cert_chain(os.path.join(PKI, "cwa-backend.crt"),
                                     os.path.join(PKI, "cwa-backend.key"))
                c = sctx.wrap_socket(c, server_side=True)
                c.recv(4096)  # the request
                os.write(c.fileno(), INJECT)  # raw, outside TLS
            else:
                c.sendall(INJECT)
            time.sleep(1)
        except (OSError, ssl.SSLError):
            pass
        c.close()
        ls.close()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


for name, ip, port, post in (("inject1.example.com", "127.0.4.19", 28, False),
                             ("inject2.example.com", "127.0.4.20", 29, True)):
    t = injector(("127.0.4.%d" % port, 8443), post)
    resp = raw((ip, name), b"GET /x HTTP/1.1\r\nHost: " + name.encode() + b"\r\n\r\n", timeout=8)
    t.join(10)
    when = "between TLS records" if post else "before the TLS handshake"
    H.check(b"injected" not in resp and (status(resp) == 502 or resp == b""),
            "plaintext injected %s is not forwarded (502 or close)" % when, resp[:120])

time.sleep(0.3)
log = H.log()
H.check(re.search(r"status=502 .*reason=\"[^\"]*(verif|certificate)", log, re.I) is not None,
        "the 502 log line says the backend failed verification", log[-800:])
H.check(re.search(r"status=504 .*reason=\"[^\"]*time", log, re.I) is not None,
        "the 504 log line says the connect timed out", log[-800:])
H.check("access client=" in log and "status=404" in log, "access log lines are written", log[-500:])
H.check(re.search(r"conn client=\S+ service=app .* backend=- in=\d+ out=[1-9]\d* ", log) is not None,
        "the conn line counts the responses edge443 wrote itself (out > 0 without a backend)")
r = subprocess.run(["curl", "-sS", "--max-time", "5", "http://127.0.4.40:9443/metrics"],
                   capture_output=True, text=True)
classes = dict(re.findall(r'^edge443_http_responses_total\{code="(\w+)"\} (\d+)$', r.stdout, re.M))
H.check(int(classes.get("2xx", 0)) >= 20 and int(classes.get("4xx", 0)) >= 10
        and int(classes.get("5xx", 0)) >= 3 and int(classes.get("1xx", 0)) >= 1
        and int(classes.get("3xx", -1)) >= 0,
        "metrics: http responses by class (2xx, 4xx from the rules, 5xx 502/504, 1xx 101/100)", classes)
H.check(re.search(r'^edge443_backend_server_failures_total\{backend="b_badname",server="127.0.4.24:8443"\} [1-9]', r.stdout, re.M)
        and re.search(r'^edge443_backend_server_up\{backend="b_cwa",server="127.0.4.24:8443"\} 1$', r.stdout, re.M)
        and "backend b_badname: server 127.0.4.24:8443 marked down" in H.log(),
        "a backend failing TLS verification counts in its health; the verified one stays up",
        [l for l in r.stdout.splitlines() if "server_" in l])
H.check(H.stop(edge) == 0 and "Sanitizer" not in H.log(), "exits 0 on SIGTERM, no sanitizer report")
H.done()
