#!/usr/bin/env python3
"""Session tickets across a pool (issue: shared, rotated ticket keys).

Two edge443 "nodes" (two processes, 127.0.11.1 and 127.0.11.2) serve the
same service with the same ticket_key_file.  A TLS session from one node
resumes on the other.  `edge443 tickets rotate` then rewrites the file and
the nodes reload one after the other: tickets issued before the rotation
still resume, and during the roll-out each node resumes the other's
tickets, so the rotation causes no full handshake.  A reload with a broken
key file is refused and the old keys keep working.  /metrics counts full
and resumed handshakes.  Addresses 127.0.11.x."""
import os
import signal
import socket
import ssl
import subprocess
import time
import urllib.request

from harness import EDGE443, Harness, client_ctx

H = Harness("tickets")
KEYS = H.path("tickets.keys")


def rotate():
    r = subprocess.run([EDGE443, "tickets", "rotate", KEYS], cwd=H.tmp,
                       capture_output=True, text=True, timeout=30)
    return r.returncode, r.stdout + r.stderr


rc, out = rotate()
H.check(rc == 0 and "created, 3 keys" in out, "tickets rotate creates a key file of 3 keys", out)
H.check(os.stat(KEYS).st_mode & 0o777 == 0o600, "the key file is mode 0600")
with open(KEYS) as f:
    first = f.read().splitlines()

H.backend("127.0.11.20:7000", "echo")
confs = {}
for node, ip, admin in (("a", "127.0.11.1", 9441), ("b", "127.0.11.2", 9442)):
    confs[node] = H.write("%s.conf" % node, """
trust_file = "pki/trust.pem"
ticket_key_file = "tickets.keys"
admin = "127.0.11.%d:%d"
certificate ssl1 {
  cert  = "pki/ssl1.crt"
  chain = "pki/chain.pem"
  key   = "pki/ssl1.key"
}
backend b { servers = {"127.0.11.20:7000"} }
service cwa {
  fqdn = "cwa.example.com"
  listen = "%s:443"
  certificate = "ssl1"
  mode = "terminate"
  backend = "b"
}
""" % (10 + admin - 9440, admin, ip))
nodes = {
    "a": H.edge(confs["a"], wait_for=["127.0.11.1:443"], logname="a.log"),
    "b": H.edge(confs["b"], wait_for=["127.0.11.2:443"], logname="b.log"),
}
IP = {"a": "127.0.11.1", "b": "127.0.11.2"}
ADMIN = {"a": "127.0.11.11:9441", "b": "127.0.11.12:9442"}
CTX = client_ctx()  # one context: Python resumes only its own sessions


def session(node, resume=None):
    """One echo round trip on NODE, offering RESUME; returns (reused,
    the session to offer next time)."""
    s = socket.create_connection((IP[node], 443), 10)
    t = CTX.wrap_socket(s, server_hostname="cwa.example.com", session=resume)
    t.sendall(b"ping\n")
    got = b""
    end = time.time() + 10
    while b"ping" not in got and time.time() < end:
        got += t.recv(100)  # the TLS 1.3 ticket arrives with the data
    reused = t.session_reused
    sess = t.session
    t.close()
    return reused, sess


def metrics(node):
    with urllib.request.urlopen("http://%s/metrics" % ADMIN[node], timeout=10) as r:
        return r.read().decode()


def value(text, series):
    for line in text.splitlines():
        if line.startswith(series + " "):
            return int(float(line.split()[1]))
    return None


def reload(node, expect_ok=True):
    before = value(metrics(node), 'edge443_reloads_total{result="%s"}'
                   % ("ok" if expect_ok else "failed")) or 0
    nodes[node].send_signal(signal.SIGHUP)
    end = time.time() + 15
    while time.time() < end:
        now = value(metrics(node), 'edge443_reloads_total{result="%s"}'
                    % ("ok" if expect_ok else "failed")) or 0
        if now > before:
            return True
        time.sleep(0.1)
    return False


reused, s0 = session("a")
H.check(not reused, "the first handshake on node a is full")
reused, _ = session("b", s0)
H.check(reused, "node a's ticket resumes on node b (the same key file)")

# A resumed connection brings a fresh ticket, so a client that uses each
# ticket once (as browsers do, RFC 8446 C.4) resumes every time.
cur, fresh, resumed = s0, 0, 0
for i in range(6):
    reused, nxt = session("a" if i % 2 else "b", cur)
    resumed += reused
    fresh += nxt is not None and nxt != cur
    cur = nxt
H.check(resumed == 6 and fresh == 6,
        "each resumption brings a fresh ticket: a use-once client resumes every time",
        "resumed %d of 6, fresh tickets %d of 6" % (resumed, fresh))

rc, out = rotate()
with open(KEYS) as f:
    second = f.read().splitlines()
H.check(rc == 0 and "rotated, 3 keys" in out, "tickets rotate rotates", out)
H.check(second[:2] == first[1:] and second[2] not in first,
        "the rotation appends a fresh key and drops the oldest")

H.check(reload("a"), "node a reloads the rotated file", H.log("a.log")[-800:])
H.check("session-ticket keys read again" in H.log("a.log"),
        "node a logs that it read the ticket keys again")
reused, _ = session("a", s0)
H.check(reused, "a ticket issued before the rotation resumes after it")
reused, s1 = session("a", s0)
reused_b, _ = session("b", s1)
H.check(reused_b, "during the roll-out: node a's new ticket resumes on node b (not reloaded yet)")
_, s2 = session("b", s0)
reused, _ = session("a", s2)
H.check(reused, "during the roll-out: node b's ticket resumes on node a (reloaded)")
H.check(reload("b"), "node b reloads the rotated file")
reused, _ = session("b", s1)
reused2, _ = session("a", s2)
H.check(reused and reused2, "after the roll-out both nodes resume each other's tickets")

# A broken key file: the reload is refused, the old keys keep working.
os.replace(KEYS, KEYS + ".good")
with open(KEYS, "w") as f:
    f.write("not a key\n")
H.check(reload("a", expect_ok=False), "a reload with a broken ticket key file is refused")
H.check("ticket_key_file" in H.log("a.log") and "keep serving" in H.log("a.log"),
        "the refusal names ticket_key_file and says the old keys keep serving",
        H.log("a.log")[-800:])
reused, _ = session("a", s1)
H.check(reused, "after the refused reload node a still resumes with its keys")
os.replace(KEYS + ".good", KEYS)

m = metrics("a")
full = value(m, 'edge443_tls_handshakes_total{kind="full"}')
resumed = value(m, 'edge443_tls_handshakes_total{kind="resumed"}')
H.check(full is not None and full >= 1 and resumed is not None and resumed >= 3,
        "/metrics counts full and resumed handshakes (full=%s resumed=%s)" % (full, resumed))
H.done()
